"""``pycontain import``: a one-layer image of a rootfs tarball (``podman import``)."""

from __future__ import annotations

import argparse
import contextlib
import json
import shlex
from typing import Any

from pycontain.cli.images import add_root, cli_words, open_store, spooled_stdin

#: ``--change`` instructions and the config keys they set
_CHANGES = {"CMD": "Cmd", "ENTRYPOINT": "Entrypoint", "ENV": "Env", "WORKDIR": "WorkingDir",
            "USER": "User", "LABEL": "Labels", "EXPOSE": "ExposedPorts",
            "STOPSIGNAL": "StopSignal"}


def add_arguments(p: argparse.ArgumentParser) -> None:
    add_root(p)
    p.add_argument("-c", "--change", metavar="INSTRUCTION", action="append", default=[],
                   help="a Dockerfile instruction for the config: CMD, ENTRYPOINT, ENV, "
                   "WORKDIR, USER, LABEL, EXPOSE, STOPSIGNAL (repeatable)")
    p.add_argument("-q", "--quiet", action="store_true", help="print only the digest")
    p.add_argument("file", metavar="FILE|-", help="the rootfs tarball (plain, gzip or zstd); "
                   "- for standard input")
    p.add_argument("ref", metavar="REF", nargs="?", help="a name for the image")


def parse_changes(changes: list[str]) -> dict[str, Any]:
    """``--change`` instructions as an image config's ``config`` section."""
    from pycontain.errors import ConfigError

    cfg: dict[str, Any] = {}
    for change in changes:
        word, _, rest = change.strip().partition(" ")
        key = _CHANGES.get(word.upper())
        rest = rest.strip()
        if key is None or not rest:
            raise ConfigError("--change", f"expected one of {', '.join(_CHANGES)} with a "
                              f"value, got {change!r}")
        if key in ("Cmd", "Entrypoint"):
            if rest.startswith("["):
                try:
                    v = json.loads(rest)
                except ValueError:
                    v = None
                if not isinstance(v, list) or not all(isinstance(x, str) for x in v):
                    raise ConfigError("--change", f"{word}: not a JSON list of strings: {rest}")
                cfg[key] = v
            else:
                cfg[key] = ["/bin/sh", "-c", rest]
        elif key == "Env":
            for item in shlex.split(rest):
                if "=" not in item:
                    raise ConfigError("--change", f"ENV: expected NAME=VALUE, got {item!r}")
                cfg.setdefault("Env", []).append(item)
        elif key == "Labels":
            for item in shlex.split(rest):
                k, _, v = item.partition("=")
                cfg.setdefault("Labels", {})[k] = v
        elif key == "ExposedPorts":
            for port in rest.split():
                cfg.setdefault("ExposedPorts", {})[port if "/" in port else f"{port}/tcp"] = {}
        else:
            cfg[key] = rest
    return cfg


def main(args: argparse.Namespace) -> int:
    store = open_store(args)
    config = parse_changes(args.change)
    with contextlib.ExitStack() as stack:
        path = args.file
        if path == "-":
            path = stack.enter_context(spooled_stdin(store.root))
        with cli_words({"path": "FILE", "tag": "REF"}):
            image = store.import_rootfs(path, tag=args.ref, config=config)
    print(image.digest)
    return 0
