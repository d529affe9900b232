"""``events ID``: stats every ``--interval`` and OOM events, as JSON lines, until the container
stops (``--stats``: one stats line)."""

from __future__ import annotations

import json
from typing import Any

from ._args import ArgumentParser, parse
from ._common import Log, Options, UsageError, runtime


def duration(text: str) -> float:
    """Seconds from a Go-style duration (``500ms``, ``5s``, ``1m``, ``2h``) or a number."""
    t = text.strip()
    for suffix, mul in (("ms", 0.001), ("s", 1.0), ("m", 60.0), ("h", 3600.0)):
        if t.endswith(suffix):
            try:
                return float(t[: -len(suffix)]) * mul
            except ValueError:
                break
    try:
        return float(t)
    except ValueError:
        raise UsageError(f"invalid duration {text!r}") from None


def main(opts: Options, args: list[str], log: Log) -> int:
    def build(p: ArgumentParser) -> None:
        p.add_argument("--stats", action="store_true")
        p.add_argument("--interval", default="5s")
        p.add_argument("id")

    a = parse("events", args, build)
    import threading
    import time

    from pycontain.oci.runtime import _cgroup, status_text

    rt = runtime(opts, log)
    interval = duration(a.interval)
    if interval <= 0:
        raise UsageError(f"--interval: must be more than 0, got {a.interval!r}")
    if a.stats:
        print(json.dumps({"type": "stats", "id": a.id, "data": rt.stats(a.id)}), flush=True)
        return 0
    # a stream: stats every interval, and an "oom" event whenever the OOM killer acts
    cg = _cgroup(rt.load(a.id))
    stop = threading.Event()
    lock = threading.Lock()

    def emit(doc: dict[str, Any]) -> None:
        with lock:
            print(json.dumps(doc), flush=True)

    def watch_oom() -> None:
        from pycontain.errors import CgroupUnsupported

        assert cg is not None

        try:
            with cg.oom_events(stop) as events:
                for _count in events:
                    emit({"type": "oom", "id": a.id})
        except CgroupUnsupported:
            return  # no memory controller: stats only
        except Exception as err:  # noqa: BLE001 - the stats go on; say why OOM events stop
            log.warning(f"container {a.id}: no more oom events: {err}")

    t = None
    if cg is not None:
        t = threading.Thread(target=watch_oom, daemon=True)
        t.start()
    try:
        while True:
            emit({"type": "stats", "id": a.id, "data": rt.stats(a.id)})
            deadline = time.monotonic() + interval
            while time.monotonic() < deadline:
                time.sleep(min(0.2, interval))
                if status_text(rt.load(a.id)) == "stopped":
                    return 0
    finally:
        stop.set()
