"""The fd juggling of a forked creator's start (pycontain/engine/adopt.py) and the engine's
ids and names without ``secrets``: pure logic, in a forked child where fds move."""

from __future__ import annotations

import os
import re

from pycontain.engine import adopt
from pycontain.engine.names import new_id, random_name


def _in_child(fn) -> int:  # type: ignore[no-untyped-def]
    pid = os.fork()
    if pid == 0:
        try:
            fn()
        except BaseException:  # noqa: BLE001 - the child's failure is its exit status
            os._exit(1)
        os._exit(0)
    return os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1])


def test_place_moves_each_source_to_its_slot_even_when_they_overlap() -> None:
    pipes = [os.pipe() for _ in range(4)]

    def child() -> None:
        # the sources in the reverse order of their slots, one of them already at 0
        srcs = [w for _, w in pipes][::-1]
        os.dup2(srcs[3], 0)
        os.close(srcs[3])
        srcs[3] = 0
        adopt._place(srcs)
        for i in range(4):
            os.write(i, str(i).encode())
            assert os.get_inheritable(i)

    assert _in_child(child) == 0
    got = []
    for r, w in pipes:
        os.close(w)
        got.append(os.read(r, 8))
        os.close(r)
    # pipes[k]'s write end went to slot 3 - k
    assert got == [b"3", b"2", b"1", b"0"]


def test_read_all_takes_the_ready_byte_or_the_whole_line() -> None:
    r, w = os.pipe()
    os.write(w, b"\0")
    assert adopt._read_all(r) == b"\0"   # no wait for the end of the pipe
    os.write(w, b"pycontain-monitor: --state: No such file")
    os.close(w)
    assert adopt._read_all(r) == b"pycontain-monitor: --state: No such file"
    os.close(r)


def test_ids_and_names() -> None:
    ids = {new_id() for _ in range(100)}
    assert len(ids) == 100 and all(re.fullmatch(r"[0-9a-f]{64}", i) for i in ids)
    names = {random_name() for _ in range(200)}
    assert len(names) > 100 and all(re.fullmatch(r"[a-z]+_[a-z]+", n) for n in names)
