"""A container's ends and reruns, as its monitor journals them (``events.jsonl`` in the run
dir): each line one ``die`` (an end of the main process, with its exit code and whether the
cgroup's OOM-kill count grew) or one ``restart`` (a rerun by the restart policy).

``state.json`` holds only the last end; this journal holds every one, so that ``events``
shows a ``die`` for each.  The monitor bounds it by moving a full journal to
``events.jsonl.1`` (the one before is dropped): both are read, oldest first.
"""

from __future__ import annotations

import contextlib
import json
import os
from typing import Any

__all__ = ["JOURNAL", "end_events", "read_journal"]

JOURNAL = "events.jsonl"


def _read(fd: int) -> bytes:
    chunks = []
    while chunk := os.read(fd, 1 << 16):
        chunks.append(chunk)
    return b"".join(chunks)


def read_journal(run_dir: str) -> list[dict[str, Any]] | None:
    """The journal's records, oldest first; None when the monitor kept none (one from
    before the journal, or never started).  A line not whole yet, or not JSON, is left
    out."""
    path = os.path.join(run_dir, JOURNAL)
    for _ in range(10):
        try:
            fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
        except FileNotFoundError:
            return None
        try:
            older = b""
            with contextlib.suppress(FileNotFoundError), open(path + ".1", "rb") as f:
                older = f.read()
            data = _read(fd)
            st = os.fstat(fd)
        finally:
            os.close(fd)
        try:
            now = os.stat(path)
        except FileNotFoundError:
            continue
        if (now.st_dev, now.st_ino) == (st.st_dev, st.st_ino):
            break  # no move to .1 while reading: the two parts are consecutive
    else:
        return None
    out = []
    for line in (older + data).split(b"\n"):
        if not line:
            continue
        with contextlib.suppress(ValueError):
            rec = json.loads(line)
            if isinstance(rec, dict) and isinstance(rec.get("time_ns"), int):
                out.append(rec)
    return out


def end_events(cid: str, name: str, records: list[dict[str, Any]],
               image: str | None = None) -> list[dict[str, Any]]:
    """Docker's events for the journal's records: ``oom`` (before its ``die``, as Docker
    orders them) where the count grew, ``die`` with ``exitCode`` for each end, ``restart``
    for each rerun."""
    out = []
    for rec in records:
        ns = rec["time_ns"]
        base = {"name": name, **({"image": image} if image else {})}
        if rec.get("action") == "die":
            actions = [("oom", base)] if rec.get("oom") is True else []
            actions.append(("die", {**base, "exitCode": str(rec.get("exit_code", 0))}))
        elif rec.get("action") == "restart":
            actions = [("restart", base)]
        else:
            continue
        for action, attrs in actions:
            out.append({"Type": "container", "Action": action, "status": action, "id": cid,
                        "Actor": {"ID": cid, "Attributes": attrs},
                        "time": ns // 1_000_000_000, "timeNano": ns})
    return out
