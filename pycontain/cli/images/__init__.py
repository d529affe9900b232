"""The image verbs (``pull``, ``images``, ``rmi`` ...) in Docker's shape: one module each,
each with ``add_arguments(parser)`` and ``main(args)``; what they share is here."""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import sys
import tempfile
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pycontain.images import ImageStore, Platform


def add_root(p: argparse.ArgumentParser) -> None:
    """``--root DIR``: the image store (default: the library's, per user)."""
    p.add_argument("--root", metavar="DIR",
                   help="the image store (default /var/lib/pycontain/images for root)")


def add_tls_verify(p: argparse.ArgumentParser) -> None:
    p.add_argument("--tls-verify", metavar="BOOL", type=_bool, default=True,
                   help="require HTTPS and verify certificates (default true; false allows "
                   "plain HTTP)")


def _bool(value: str) -> bool:
    v = value.lower()
    if v in ("true", "1", "yes"):
        return True
    if v in ("false", "0", "no"):
        return False
    raise argparse.ArgumentTypeError(f"expected true or false, got {value!r}")


def open_store(args: argparse.Namespace) -> ImageStore:
    from pycontain.errors import ConfigError
    from pycontain.images import ImageStore

    root = getattr(args, "root", None)
    if root is not None and os.path.exists(root) and not os.path.isdir(root):
        raise ConfigError("--root", f"{root}: not a directory")
    return ImageStore(root)


def parse_platform(value: str | None) -> Platform | None:
    """``os/arch[/variant]`` (``linux/arm64/v8``)."""
    from pycontain.errors import ConfigError
    from pycontain.images import Platform

    if value is None:
        return None
    parts = value.split("/")
    if len(parts) not in (2, 3) or not all(parts):
        raise ConfigError("--platform", f"expected OS/ARCH[/VARIANT], got {value!r}")
    return Platform(architecture=parts[1], os=parts[0],
                    variant=parts[2] if len(parts) == 3 else None)


def human_size(n: int) -> str:
    """Sizes as Docker prints them (decimal units)."""
    for unit in ("B", "kB", "MB", "GB", "TB"):
        if n < 1000 or unit == "TB":
            return f"{n:.3g}{unit}" if unit != "B" else f"{n}B"
        n /= 1000  # type: ignore[assignment]
    return f"{n}B"


def short_id(digest: str) -> str:
    return digest.partition(":")[2][:12]


def print_table(rows: Sequence[Sequence[str]]) -> None:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    for r in rows:
        print("   ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip())


@contextlib.contextmanager
def spooled_stdin(root: str) -> Iterator[str]:
    """Standard input copied to a file in the store's directory (an archive is read
    more than once; the store's filesystem has room for what it will hold anyway)."""
    os.makedirs(root, mode=0o700, exist_ok=True)
    fd, path = tempfile.mkstemp(prefix="stdin-", suffix=".tar", dir=root)
    try:
        with os.fdopen(fd, "wb") as f:
            shutil.copyfileobj(sys.stdin.buffer, f, 1 << 20)
        yield path
    finally:
        os.unlink(path)


@contextlib.contextmanager
def cli_words(fields: dict[str, str] | None = None) -> Iterator[None]:
    """Errors that name a library argument name the option (or operand) instead:
    *fields* maps the library's field names to the command line's."""
    from pycontain.errors import ConfigError, ImageError

    try:
        yield
    except ConfigError as err:
        opt = (fields or {}).get(err.field)
        if opt is None or type(err) is not ConfigError:
            raise
        message = Exception.__str__(err).split(": ", 1)[-1]
        raise ConfigError(opt, message, hint=err.hint) from None
    except ImageError as err:
        text = str(err)
        if "tls_verify=False" not in text:
            raise
        raise ImageError(text.replace("tls_verify=False", "--tls-verify=false")) from None
