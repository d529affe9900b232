"""Gzipped rotated log files (``ctr.log.1.gz``) read as the plain files they were, and the
monitor's journal of ends read as events: plain files written here as the monitor and its
compressor write them; no privilege needed."""

from __future__ import annotations

import gzip
import json
import os
import time

import pytest

from pycontain.engine.compress import compress_fd, gzip_header, origin_of
from pycontain.engine.ends import end_events, read_journal
from pycontain.engine.logs import _rotated_index, read_logs
from pycontain.errors import ConfigError


def cri(i: int) -> bytes:
    secs, ns = divmod(1_700_000_000_000_000_000 + i * 1000, 10**9)
    stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(secs)) + f".{ns:09d}Z"
    return f"{stamp} stdout F line {i}\n".encode()


def append(path: str, first: int, last: int) -> None:
    with open(path, "ab") as f:
        f.write(b"".join(cri(i) for i in range(first, last)))


def compress(path: str, k: int) -> None:
    """What the monitor and its compressor do with PATH.K: the .gz first, then the plain
    file goes."""
    plain = f"{path}.{k}"
    src = os.open(plain, os.O_RDONLY)
    dst = os.open(f"{path}.gz.tmp", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o640)
    try:
        compress_fd(src, dst)
    finally:
        os.close(src)
        os.close(dst)
    os.rename(f"{path}.gz.tmp", f"{plain}.gz")
    os.unlink(plain)


def rotate(path: str, keep: int) -> None:
    """The monitor's rotation, both forms moving step by step."""
    for suffix in ("", ".gz"):
        if os.path.exists(f"{path}.{keep - 1}{suffix}"):
            os.unlink(f"{path}.{keep - 1}{suffix}")
    for i in range(keep - 2, 0, -1):
        for suffix in ("", ".gz"):
            if os.path.exists(f"{path}.{i}{suffix}"):
                os.rename(f"{path}.{i}{suffix}", f"{path}.{i + 1}{suffix}")
    os.rename(path, f"{path}.1")
    open(path, "wb").close()


def texts(reader) -> list[str]:  # type: ignore[no-untyped-def]
    return [e.text for e in reader]


def want(first: int, last: int) -> list[str]:
    return [f"line {i}\n" for i in range(first, last)]


def test_compressed_file_is_gzip_and_names_its_origin(tmp_path) -> None:  # type: ignore[no-untyped-def]
    src = tmp_path / "ctr.log.1"
    src.write_bytes(b"".join(cri(i) for i in range(5000)))
    st = os.stat(src)
    compress(str(tmp_path / "ctr.log"), 1)
    raw = (tmp_path / "ctr.log.1.gz").read_bytes()
    assert gzip.decompress(raw) == b"".join(cri(i) for i in range(5000))
    assert origin_of(raw[:512]) == (st.st_dev, st.st_ino)
    assert len(raw) < st.st_size // 5
    # another tool's gzip, or no gzip at all: no origin
    assert origin_of(gzip.compress(b"x")) is None
    assert origin_of(b"plain text, not gzip") is None
    assert origin_of(gzip_header(1, 2, 3)[:14]) is None  # cut inside the extra field
    assert origin_of(gzip_header(7, 2**40, 0)) == (7, 2**40)


def test_rotated_names() -> None:
    assert _rotated_index("ctr.log.3", "ctr.log") == (3, False)
    assert _rotated_index("ctr.log.12.gz", "ctr.log") == (12, True)
    for name in ("ctr.log", "ctr.log.gz.tmp", "ctr.log.gz", "ctr.log.1.gz.tmp", "ctr.log.²",
                 "ctr.logx.1", "other.1.gz"):
        assert _rotated_index(name, "ctr.log") is None, name


def test_reads_gzipped_and_plain_files_oldest_first(tmp_path) -> None:  # type: ignore[no-untyped-def]
    path = str(tmp_path / "ctr.log")
    for n in range(4):
        append(path, n * 100, n * 100 + 100)
        rotate(path, keep=5)
        compress(path, 1) if n != 3 else None  # the newest rotated file still plain
    append(path, 400, 450)
    assert sorted(os.listdir(tmp_path)) == [
        "ctr.log", "ctr.log.1", "ctr.log.2.gz", "ctr.log.3.gz", "ctr.log.4.gz"]
    assert texts(read_logs(path)) == want(0, 450)
    assert texts(read_logs(path, tail=120)) == want(330, 450)
    assert texts(read_logs(path, since=cri(250)[:30].decode())) == want(250, 450)


def test_both_forms_at_once_are_read_once(tmp_path) -> None:  # type: ignore[no-untyped-def]
    path = str(tmp_path / "ctr.log")
    append(path, 0, 100)
    rotate(path, keep=3)
    append(path, 100, 150)
    # between the rename of the .gz and the removal of the plain file
    src = os.open(f"{path}.1", os.O_RDONLY)
    dst = os.open(f"{path}.1.gz", os.O_WRONLY | os.O_CREAT, 0o640)
    compress_fd(src, dst)
    os.close(src)
    os.close(dst)
    assert texts(read_logs(path)) == want(0, 150)


def test_cursor_on_the_plain_file_resumes_in_its_gzip(tmp_path) -> None:  # type: ignore[no-untyped-def]
    path = str(tmp_path / "ctr.log")
    append(path, 0, 100)
    reader = read_logs(path)
    it = iter(reader)
    got = [next(it).text for _ in range(40)]
    it.close()  # type: ignore[attr-defined]
    cursor = reader.cursor
    assert cursor is not None
    rotate(path, keep=3)
    compress(path, 1)
    append(path, 100, 130)
    got += texts(read_logs(path, cursor=cursor))
    assert got == want(0, 130)


def test_follower_goes_on_after_its_file_was_rotated_and_gzipped(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """The follower holds the plain file; it is renamed, gzipped and removed (and a newer
    file gzipped after it) before the follower looks again: it finishes its file from its
    fd, finds it among the names by the identity in the .gz header, and goes on with the
    next file: no line lost or repeated.  Driven from here, so that the follower looks
    only once all of that is done."""
    path = str(tmp_path / "ctr.log")
    append(path, 0, 100)
    done = False
    it = iter(read_logs(path, follow=True, alive=lambda: not done))
    got = [next(it).text for _ in range(100)]
    append(path, 100, 150)
    rotate(path, keep=4)
    append(path, 150, 200)
    rotate(path, keep=4)
    compress(path, 2)           # the follower's file
    compress(path, 1)
    append(path, 200, 260)
    assert sorted(os.listdir(tmp_path)) == ["ctr.log", "ctr.log.1.gz", "ctr.log.2.gz"]
    got += [next(it).text for _ in range(160)]
    done = True
    assert [e.text for e in it] == []  # the container ended: nothing more, nothing again
    assert got == want(0, 260)


def test_a_damaged_gzip_ends_where_it_can_be_read(tmp_path) -> None:  # type: ignore[no-untyped-def]
    path = str(tmp_path / "ctr.log")
    append(path, 0, 3000)
    rotate(path, keep=3)
    compress(path, 1)
    raw = (tmp_path / "ctr.log.1.gz").read_bytes()
    (tmp_path / "ctr.log.1.gz").write_bytes(raw[: len(raw) // 2])
    append(path, 3000, 3010)
    got = texts(read_logs(path))
    assert got[-10:] == want(3000, 3010)
    assert got[:-10] == want(0, len(got) - 10)  # a prefix of the damaged file, in order


def _journal(run_dir: str, lines: list[dict[str, object]], name: str = "events.jsonl") -> None:
    with open(os.path.join(run_dir, name), "a") as f:
        f.writelines(json.dumps(rec) + "\n" for rec in lines)


def test_journal_of_ends_as_events(tmp_path) -> None:  # type: ignore[no-untyped-def]
    d = str(tmp_path)
    assert read_journal(d) is None  # a monitor that kept none
    _journal(d, [{"action": "die", "time_ns": 10, "exit_code": 137, "oom": True},
                 {"action": "restart", "time_ns": 20, "restart_count": 1}],
             "events.jsonl.1")
    _journal(d, [{"action": "die", "time_ns": 30, "exit_code": 3, "oom": False},
                 {"action": "restart", "time_ns": 40, "restart_count": 2},
                 {"action": "die", "time_ns": 50, "exit_code": 0, "oom": False}])
    with open(os.path.join(d, "events.jsonl"), "a") as f:
        f.write('{"action":"die","time_ns":6')  # a line not whole yet
    recs = read_journal(d)
    assert recs is not None
    evs = end_events("c1", "web", recs, image="busybox")
    assert [(e["Action"], e["timeNano"]) for e in evs] == [
        ("oom", 10), ("die", 10), ("restart", 20), ("die", 30), ("restart", 40), ("die", 50)]
    assert [e["Actor"]["Attributes"].get("exitCode") for e in evs if e["Action"] == "die"] \
        == ["137", "3", "0"]
    assert all(e["Actor"]["Attributes"]["name"] == "web" and e["id"] == "c1" for e in evs)
    assert all(e["Actor"]["Attributes"]["image"] == "busybox" for e in evs)


def test_log_opt_compress() -> None:
    from pycontain.cli.detach import _log_config

    assert _log_config(["compress=true", "max-file=3"], "json-file").compress is True
    assert _log_config(["compress=0"], "json-file").compress is False
    assert _log_config([], "json-file").compress is False
    with pytest.raises(ConfigError) as info:
        _log_config(["compress=yes"], "json-file")
    assert info.value.field == "--log-opt" and "compress" in str(info.value)
    from pycontain.engine.monitor import LogConfig

    with pytest.raises(ConfigError) as info:
        LogConfig(compress="true")  # type: ignore[arg-type]
    assert info.value.field == "log.compress"


def test_gzip_naming_an_inode_given_to_the_current_file(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """The plain file a .gz was made from is gone, and its inode now belongs to the current
    ctr.log: the .gz is still older, and a follower that read it goes on with ctr.log
    rather than taking the .gz for the current file."""
    import struct
    import zlib

    path = str(tmp_path / "ctr.log")
    append(path, 100, 150)
    st = os.stat(path)
    os.rename(path, f"{path}.held")  # between a rotation's rename and the new file
    body = b"".join(cri(i) for i in range(100))
    comp = zlib.compressobj(6, zlib.DEFLATED, -zlib.MAX_WBITS)
    with open(f"{path}.1.gz", "wb") as f:
        f.write(gzip_header(st.st_dev, st.st_ino, 0) + comp.compress(body) + comp.flush()
                + struct.pack("<II", zlib.crc32(body), len(body)))
    deadline = time.monotonic() + 5
    it = iter(read_logs(path, follow=True, alive=lambda: time.monotonic() < deadline))
    got = [next(it).text for _ in range(100)]
    os.rename(f"{path}.held", path)
    got += [next(it).text for _ in range(50)]
    assert got == want(0, 150)
    it.close()  # type: ignore[attr-defined]
