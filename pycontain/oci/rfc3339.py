"""RFC 3339 timestamps as Go reads and writes them (``time.RFC3339Nano``): the ``created``
of the OCI state, and any other time a runc-compatible document carries."""

from __future__ import annotations

import datetime

TYPE_CHECKING = False
if TYPE_CHECKING:
    import re

__all__ = ["format_rfc3339", "parse_rfc3339"]

_RFC3339 = (
    r"(\d{4})-(\d\d)-(\d\d)[Tt](\d\d):(\d\d):(\d\d)(?:\.(\d{1,9}))?(?:([Zz])|([+-])(\d\d):(\d\d))"
)
_compiled: re.Pattern[str] | None = None


def _pattern() -> re.Pattern[str]:
    """Compiled at the first parse: ``create`` only formats (about 1 ms saved)."""
    global _compiled
    if _compiled is None:
        import re

        _compiled = re.compile(_RFC3339)
    return _compiled


def parse_rfc3339(text: str) -> datetime.datetime:
    """An aware :class:`~datetime.datetime` from RFC 3339 text as Go writes it (nanoseconds
    are cut to microseconds).  Raises :class:`ValueError`."""
    m = _pattern().fullmatch(text)
    if m is None:
        raise ValueError(f"not an RFC 3339 timestamp: {text!r}")
    year, month, day, hour, minute, second = (int(g) for g in m.groups()[:6])
    micro = int((m.group(7) or "0").ljust(6, "0")[:6])
    if m.group(8):
        tz = datetime.UTC
    else:
        offset = datetime.timedelta(hours=int(m.group(10)), minutes=int(m.group(11)))
        tz = datetime.timezone(-offset if m.group(9) == "-" else offset)
    return datetime.datetime(year, month, day, hour, minute, second, micro, tzinfo=tz)


def format_rfc3339(when: datetime.datetime) -> str:
    """*when* as Go's ``time.RFC3339Nano`` writes it: no trailing zeros in the fraction,
    ``Z`` for UTC.  A naive *when* is local time, as everywhere in :mod:`datetime`."""
    if when.tzinfo is None:
        when = when.astimezone()
    text = when.strftime("%Y-%m-%dT%H:%M:%S")
    if when.microsecond:
        text += "." + f"{when.microsecond:06d}".rstrip("0")
    offset = when.utcoffset() or datetime.timedelta(0)
    if not offset:
        return text + "Z"
    sign = "-" if offset < datetime.timedelta(0) else "+"
    minutes = abs(int(offset.total_seconds())) // 60
    return f"{text}{sign}{minutes // 60:02d}:{minutes % 60:02d}"
