"""The log formats the monitor writes, parsed; and Docker's time arguments (``--since``).

Pure logic, no files: :mod:`.logs` reads and follows the files.  Two formats, told apart
line by line (a JSON object starts with ``{``, a CRI line with a digit):

* Docker's json-file: ``{"log":"hi\\n","stream":"stdout","time":"2024-01-02T03:04:05.1Z"}``;
  an entry whose ``log`` lacks the newline is a piece of a longer line;
* the CRI format kubelet reads: ``2024-01-02T03:04:05.000000001Z stdout F hi``, ``P`` for a
  piece.
"""

from __future__ import annotations

import calendar
import datetime
import json
import re
import time
from collections.abc import Iterable, Iterator

from attrs import define

from ..errors import ConfigError

__all__ = [
    "LogEntry",
    "Reassembler",
    "format_time",
    "parse_line",
    "parse_tail",
    "parse_time",
    "parse_timestamp",
]


@define(frozen=True)
class LogEntry:
    """One line of a container's output: *data* ends with ``\\n`` unless the line ended
    without one.  *time_ns*: when the monitor read it (ns since the epoch, UTC)."""

    time_ns: int
    stream: str
    data: bytes
    partial: bool = False
    timestamps: bool = False

    @property
    def text(self) -> str:
        return self.data.decode("utf-8", "replace")

    def __bytes__(self) -> bytes:
        """What ``docker logs`` prints for it (``-t``: the time first)."""
        if self.timestamps:
            return format_time(self.time_ns).encode() + b" " + self.data
        return self.data


_SECOND_CACHE: dict[bytes, int] = {}
_RFC3339 = re.compile(
    rb"(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?"
    rb"(?:([Zz])|([+-])(\d{2}):(\d{2}))$")


def parse_timestamp(raw: bytes) -> int:
    """An RFC 3339 time with a zone (what the monitor writes) as ns since the epoch;
    ValueError when it is not one."""
    # the monitor's own form first: the second's prefix seldom changes from line to line
    if len(raw) >= 20 and raw[-1:] == b"Z" and raw[10:11] == b"T":
        head = raw[:19]
        base = _SECOND_CACHE.get(head)
        if base is None:
            if not _RFC3339.match(head + b"Z"):
                raise ValueError(f"not an RFC 3339 time: {raw!r}")
            base = calendar.timegm((int(head[0:4]), int(head[5:7]), int(head[8:10]),
                                    int(head[11:13]), int(head[14:16]), int(head[17:19])))
            base *= 1_000_000_000
            if len(_SECOND_CACHE) > 4096:
                _SECOND_CACHE.clear()
            _SECOND_CACHE[head] = base
        frac = raw[20:-1] if raw[19:20] == b"." else b""
        if (raw[19:20] not in (b".", b"Z")) or (frac and not frac.isdigit()) or len(frac) > 9:
            raise ValueError(f"not an RFC 3339 time: {raw!r}")
        return base + (int(frac.ljust(9, b"0")) if frac else 0)
    m = _RFC3339.match(raw)
    if not m:
        raise ValueError(f"not an RFC 3339 time: {raw!r}")
    y, mo, d, h, mi, s = (int(g) for g in m.groups()[:6])
    secs = calendar.timegm((y, mo, d, h, mi, s))
    if m.group(9):
        off = (int(m.group(10)) * 60 + int(m.group(11))) * 60
        secs -= off if m.group(9) == b"+" else -off
    frac = m.group(7) or b""
    return secs * 1_000_000_000 + (int(frac.ljust(9, b"0")) if frac else 0)


def format_time(ns: int) -> str:
    """RFC 3339 in UTC with nine digits, as ``docker logs -t`` prints it."""
    secs, frac = divmod(ns, 1_000_000_000)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(secs)) + f".{frac:09d}Z"


def parse_line(raw: bytes) -> LogEntry | None:
    """One line of a log file (without its newline) in either format; None when it is
    neither (a torn or foreign line: the reader counts and skips it)."""
    if raw[:8] == b'{"log":"' and raw[-2:] == b'"}':
        # the monitor's own shape, and Docker's: a text without escapes needs no JSON parser
        i = raw.rfind(b'","stream":"')
        j = raw.find(b'","time":"', i + 12)
        body = raw[8:i]
        if i > 0 and j > 0 and b"\\" not in body[:-2]:
            try:
                ns = parse_timestamp(raw[j + 10:-2])
            except ValueError:
                return None
            stream = raw[i + 12:j].decode("ascii", "replace")
            if body[-2:] == b"\\n":
                return LogEntry(ns, stream, body[:-2] + b"\n")
            if b"\\" not in body:
                return LogEntry(ns, stream, body, partial=True)
    if raw[:1] == b"{":
        try:
            obj = json.loads(raw)
            log = obj["log"]
            stream = obj["stream"]
            ns = parse_timestamp(obj["time"].encode())
        except (ValueError, KeyError, TypeError, AttributeError):
            return None
        if not isinstance(log, str) or not isinstance(stream, str):
            return None
        # U+FFFD stands for bytes that weren't UTF-8 (as Docker writes them)
        data = log.encode("utf-8", "surrogatepass")
        return LogEntry(ns, stream, data, partial=not data.endswith(b"\n"))
    parts = raw.split(b" ", 3)
    if len(parts) < 3 or parts[2] not in (b"F", b"P"):
        return None
    try:
        ns = parse_timestamp(parts[0])
    except ValueError:
        return None
    msg = parts[3] if len(parts) == 4 else b""
    partial = parts[2] == b"P"
    return LogEntry(ns, parts[1].decode("ascii", "replace"), msg if partial else msg + b"\n",
                    partial=partial)


class Reassembler:
    """Joins the pieces of a long line (partial entries of one stream) into one entry, with
    the time of its first piece.  Pieces of the two streams may interleave."""

    def __init__(self) -> None:
        self._pending: dict[str, list[LogEntry]] = {}

    def feed(self, entry: LogEntry) -> LogEntry | None:
        """The whole line when *entry* ends one, else None (kept until it does)."""
        pieces = self._pending.get(entry.stream)
        if entry.partial:
            self._pending.setdefault(entry.stream, []).append(entry)
            return None
        if not pieces:
            return entry
        del self._pending[entry.stream]
        return LogEntry(pieces[0].time_ns, entry.stream,
                        b"".join(p.data for p in pieces) + entry.data)

    def flush(self) -> Iterator[LogEntry]:
        """The lines still in pieces when the log ends (written without a final newline)."""
        pending = sorted(self._pending.values(), key=lambda ps: ps[0].time_ns)
        self._pending.clear()
        for pieces in pending:
            yield LogEntry(pieces[0].time_ns, pieces[0].stream,
                           b"".join(p.data for p in pieces), partial=True)

    def feed_all(self, entries: Iterable[LogEntry]) -> Iterator[LogEntry]:
        for e in entries:
            whole = self.feed(e)
            if whole is not None:
                yield whole


_DURATION = re.compile(r"([0-9]*(?:\.[0-9]*)?)(ns|us|µs|ms|s|m|h)")
_UNITS = {"ns": 1, "us": 1_000, "µs": 1_000, "ms": 1_000_000, "s": 1_000_000_000,
          "m": 60_000_000_000, "h": 3_600_000_000_000}
_LOCAL_FORMATS = ("%Y-%m-%dT%H:%M:%S", "%Y-%m-%dT%H:%M", "%Y-%m-%dT%H", "%Y-%m-%d")


def _duration_ns(value: str) -> int | None:
    """A Go duration (``10m``, ``1h30m``, ``1.5s``, ``-2h``) in ns, None if it is not one."""
    sign = 1
    body = value
    if body[:1] in "+-":
        sign = -1 if body[0] == "-" else 1
        body = body[1:]
    if not body:
        return None
    pos, total = 0, 0.0
    while pos < len(body):
        m = _DURATION.match(body, pos)
        if not m or m.group(1) in ("", "."):
            return None
        total += float(m.group(1)) * _UNITS[m.group(2)]
        pos = m.end()
    return sign * int(total)


def parse_time(value: str | float | datetime.datetime, *, field: str = "since",
               now_ns: int | None = None) -> int:
    """Docker's ``--since``/``--until``: an RFC 3339 time (a date, or a time without a zone,
    is local time), a Unix time (``1700000000.5``), or a duration before now (``10m``); a
    datetime or number is taken as it is.  Returns ns since the epoch; ConfigError naming
    *field* otherwise."""
    if isinstance(value, datetime.datetime):
        if value.tzinfo is None:
            value = value.astimezone()
        return int(value.timestamp()) * 1_000_000_000 + value.microsecond * 1000
    if isinstance(value, bool):
        raise ConfigError(field, f"not a time: {value!r}")
    if isinstance(value, (int, float)):
        return int(value * 1_000_000_000)
    if not isinstance(value, str) or not value.strip():
        raise ConfigError(field, f"not a time: {value!r}")
    v = value.strip()
    now = time.time_ns() if now_ns is None else now_ns
    if v != "0":
        d = _duration_ns(v)
        if d is not None:
            return now - d
    if re.fullmatch(r"[0-9]+(\.[0-9]{1,9})?", v):
        secs, _, frac = v.partition(".")
        return int(secs) * 1_000_000_000 + (int(frac.ljust(9, "0")) if frac else 0)
    try:
        return parse_timestamp(v.encode())
    except ValueError:
        pass
    base, _, frac = v.partition(".")
    for fmt in _LOCAL_FORMATS:
        try:
            t = datetime.datetime.strptime(base, fmt)
        except ValueError:
            continue
        if frac and (fmt != _LOCAL_FORMATS[0] or not frac.isdigit() or len(frac) > 9):
            break
        local_secs = int(time.mktime(t.timetuple()))
        return local_secs * 1_000_000_000 + (int(frac.ljust(9, "0")) if frac else 0)
    raise ConfigError(field, f"not a time, Unix time or duration: {value!r}",
                      hint="e.g. 2024-01-02T15:04:05Z, 1704207845, 10m")


def parse_tail(value: str | int | None) -> int | None:
    """``--tail``: a count of lines, or ``all`` (None: every line; negative counts too, as in
    Docker)."""
    if value is None or value == "all":
        return None
    if isinstance(value, bool):
        raise ConfigError("tail", f"not a count of lines: {value!r}")
    if isinstance(value, str):
        if not re.fullmatch(r"-?[0-9]+", value.strip()):
            raise ConfigError("tail", f"not a count of lines or 'all': {value!r}")
        value = int(value)
    if not isinstance(value, int):
        raise ConfigError("tail", f"not a count of lines: {value!r}")
    return None if value < 0 else value
