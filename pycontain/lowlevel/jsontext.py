"""JSON text for the one-shot command lines, without importing :mod:`json`.

``import json`` loads :mod:`re` (its scanner's number and whitespace patterns), and with it
:mod:`enum`, :mod:`functools` and :mod:`collections`: about 6 ms of a ``pycontain-runc
create`` on a host where runc's whole ``create`` takes 24 ms (docs/bench.md).  The parser and
the encoder that :mod:`json` itself uses are in the C module ``_json``; this module drives
them directly, with the same settings as :func:`json.loads` and :func:`json.dumps`, so the
text and the values are the same as theirs.

Anything the C module does not cover, and every error, goes to :mod:`json` itself (imported
then): an ``indent``, a value it cannot encode, text it cannot parse.  The exception raised is
therefore :mod:`json`'s own, with its message and position.  ``tests/unit`` compares both on
a corpus.
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import IO, Any

_c: Any
try:
    import _json as _c
except ImportError:  # an interpreter without the accelerator: json does all of it
    _c = None

__all__ = ["dump", "dumps", "load", "loads"]

_WS = " \t\n\r"  # the whitespace JSON allows between tokens (json.decoder's WHITESPACE)
#: first bytes of text that json does not read as UTF-8: NUL (UTF-16/32) and BOMs' starts
_NOT_UTF8 = frozenset((0x00, 0xEF, 0xFE, 0xFF))


class _Context:
    """The settings ``_json``'s scanner reads, as ``json.JSONDecoder()`` has them."""

    strict = True
    object_hook = None
    object_pairs_hook = None
    parse_float = float
    parse_int = int
    parse_constant = {"-Infinity": float("-inf"), "Infinity": float("inf"),
                      "NaN": float("nan")}.__getitem__


_scan = _c.make_scanner(_Context()) if _c is not None else None


def loads(text: str | bytes | bytearray) -> Any:
    """:func:`json.loads` of *text* with the default settings."""
    if isinstance(text, (bytes, bytearray)) and text and text[0] not in _NOT_UTF8 \
            and (len(text) < 2 or text[1]):
        # what json.detect_encoding calls UTF-8: no BOM, no NUL among the first bytes
        text = text.decode("utf-8", "surrogatepass")
    if _scan is not None and isinstance(text, str):
        start = len(text) - len(text.lstrip(_WS))
        try:
            value, end = _scan(text, start)
        except Exception:  # noqa: BLE001 - json raises its own error below
            # (StopIteration where no value starts; until json.decoder is loaded, the C
            # scanner cannot make a JSONDecodeError and raises SystemError instead)
            end = -1
        if end >= 0 and not text[end:].lstrip(_WS):  # nothing but whitespace after it
            return value
    import json

    return json.loads(text)


def load(fp: IO[str]) -> Any:
    """:func:`json.load`: the whole of *fp*, parsed."""
    return loads(fp.read())


def _unencodable(o: object) -> Any:
    raise TypeError(f"Object of type {o.__class__.__name__} is not JSON serializable")


def dumps(obj: Any, *, indent: int | str | None = None,
          separators: tuple[str, str] | None = None, sort_keys: bool = False,
          ensure_ascii: bool = True) -> str:
    """:func:`json.dumps` of *obj* with these keywords (and the others at their defaults)."""
    if _c is not None and indent is None:
        item_sep, key_sep = separators if separators is not None else (", ", ": ")
        enc = _c.make_encoder(
            {}, _unencodable,
            _c.encode_basestring_ascii if ensure_ascii else _c.encode_basestring,
            None, key_sep, item_sep, sort_keys, False, True)
        try:
            return "".join(enc(obj, 0))
        except (TypeError, ValueError, RecursionError):
            pass  # json raises the same error, in its own words
    import json

    return json.dumps(obj, indent=indent, separators=separators, sort_keys=sort_keys,
                      ensure_ascii=ensure_ascii)


def dump(obj: Any, fp: IO[str], **kw: Any) -> None:
    """:func:`json.dump`: :func:`dumps` of *obj*, written to *fp*."""
    fp.write(dumps(obj, **kw))
