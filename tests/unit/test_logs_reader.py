"""The log reader's files and cursors: rotation, truncation, resumption (plain files written
here as the monitor writes them; no privilege needed)."""

from __future__ import annotations

import os
import threading
import time

from pycontain.engine.logs import Cursor, read_logs


def cri(i: int, stream: str = "stdout", kind: str = "F", text: str | None = None) -> bytes:
    secs, ns = divmod(1_700_000_000_000_000_000 + i * 1000, 10**9)
    stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(secs)) + f".{ns:09d}Z"
    return f"{stamp} {stream} {kind} {text if text is not None else f'line {i}'}\n".encode()


def append(path: str, data: bytes) -> None:
    with open(path, "ab") as f:
        f.write(data)


def rotate(path: str, keep: int) -> None:
    """What the monitor does."""
    if os.path.exists(f"{path}.{keep - 1}"):
        os.unlink(f"{path}.{keep - 1}")
    for i in range(keep - 2, 0, -1):
        if os.path.exists(f"{path}.{i}"):
            os.rename(f"{path}.{i}", f"{path}.{i + 1}")
    os.rename(path, f"{path}.1")
    open(path, "wb").close()


def texts(reader) -> list[str]:  # type: ignore[no-untyped-def]
    return [e.text for e in reader]


def test_reads_rotated_files_oldest_first(tmp_path) -> None:  # type: ignore[no-untyped-def]
    path = str(tmp_path / "ctr.log")
    for i in range(9):
        append(path, cri(i))
        if i % 3 == 2:
            rotate(path, keep=10)
    assert sorted(os.listdir(tmp_path)) == ["ctr.log", "ctr.log.1", "ctr.log.2", "ctr.log.3"]
    assert texts(read_logs(path)) == [f"line {i}\n" for i in range(9)]
    assert texts(read_logs(path, tail=4)) == [f"line {i}\n" for i in range(5, 9)]
    assert texts(read_logs(path, tail=0)) == []


def test_pieces_across_a_rotation_are_joined(tmp_path) -> None:  # type: ignore[no-untyped-def]
    path = str(tmp_path / "ctr.log")
    append(path, cri(0, kind="P", text="ab"))
    rotate(path, keep=3)
    append(path, cri(1, kind="F", text="cd"))
    assert texts(read_logs(path)) == ["abcd\n"]


def test_cursor_resumes_without_repeat_or_gap(tmp_path) -> None:  # type: ignore[no-untyped-def]
    path = str(tmp_path / "ctr.log")
    for i in range(5):
        append(path, cri(i))
    r = read_logs(path)
    it = iter(r)
    assert [next(it).text for _ in range(3)] == ["line 0\n", "line 1\n", "line 2\n"]
    cursor = r.cursor
    assert isinstance(cursor, Cursor)
    del it
    # the file rotates twice before the reader comes back
    rotate(path, keep=5)
    append(path, cri(5))
    rotate(path, keep=5)
    append(path, cri(6))
    assert texts(read_logs(path, cursor=cursor)) == [f"line {i}\n" for i in range(3, 7)]


def test_cursor_whose_file_was_rotated_out(tmp_path) -> None:  # type: ignore[no-untyped-def]
    path = str(tmp_path / "ctr.log")
    append(path, cri(0) + cri(1))
    r = read_logs(path)
    assert next(iter(r)).text == "line 0\n"
    cursor = r.cursor
    for i in range(2, 5):  # three rotations keeping two files: the cursor's file is gone
        rotate(path, keep=2)
        append(path, cri(i))
    # the oldest file still there comes next (a new file may even have the old inode)
    assert texts(read_logs(path, cursor=cursor)) == ["line 3\n", "line 4\n"]


def test_follower_through_rotations_and_truncation(tmp_path) -> None:  # type: ignore[no-untyped-def]
    path = str(tmp_path / "ctr.log")
    done = threading.Event()
    got: list[str] = []

    def follow() -> None:
        got.extend(e.text for e in read_logs(path, follow=True, alive=lambda: not done.is_set()))

    t = threading.Thread(target=follow)
    t.start()  # before the file exists
    try:
        n = 0
        for round_ in range(6):
            for _ in range(50):
                append(path, cri(n))
                n += 1
            if round_ in (1, 2):
                rotate(path, keep=4)  # two rotations in a row, maybe while it sleeps
        deadline = time.monotonic() + 10
        while len(got) < n and time.monotonic() < deadline:
            time.sleep(0.01)
        os.truncate(path, 0)  # copytruncate: the follower starts that file over
        time.sleep(0.3)
        for _ in range(10):
            append(path, cri(n))
            n += 1
        deadline = time.monotonic() + 10
        while len(got) < n and time.monotonic() < deadline:
            time.sleep(0.01)
    finally:
        done.set()
        t.join(10)
    assert got == [f"line {i}\n" for i in range(n)]


def test_torn_lines_are_counted_not_shown(tmp_path) -> None:  # type: ignore[no-untyped-def]
    path = str(tmp_path / "ctr.log")
    append(path, cri(0) + b"garbage\n" + cri(1))
    r = read_logs(path)
    assert texts(r) == ["line 0\n", "line 1\n"] and r.skipped == 1
