"""The OCI tests' helpers: the runtime, bundles, and a CLI driver with a leak check (what
other directories use too is in tests/helpers.py)."""

from __future__ import annotations

import itertools
import json
import os
import shutil
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from helpers import (
    CGROUP_ROOT,
    children_of,
    own_cgroups,
    ppid_and_state,
    remove_cgroup_trees,
    set_subreaper,
)

# absolute cgroupsPath prefix of every bundle unless a test sets its own
CGROUP_PREFIX = "pycontain-ocitest"
# relative cgroupsPath prefix (under the test process's own cgroups)
CGROUP_REL_PREFIX = "pycontain-ocitest-rel"
TIMEOUT = 10.0


class RuntimeInfo:
    """The runtime executable and what it is (pycontain-runc or a reference runtime)."""

    def __init__(self, exe: str) -> None:
        self.exe = exe
        self.name = os.path.basename(exe)
        self.is_pycontain = "pycontain" in self.name

    def __repr__(self) -> str:
        return f"RuntimeInfo({self.exe!r})"


def find_runtime() -> tuple[str | None, str]:
    wanted = os.environ.get("PYCONTAIN_RUNC")
    if wanted:
        exe = wanted if os.sep in wanted else shutil.which(wanted)
        return (exe if exe and os.access(exe, os.X_OK) else None), wanted
    beside = Path(sys.executable).parent / "pycontain-runc"
    if os.access(beside, os.X_OK):
        return str(beside), "pycontain-runc"
    return shutil.which("pycontain-runc"), "pycontain-runc"


def runtime_or_fail() -> RuntimeInfo:
    """The runtime under test. A missing pycontain-runc is a failure, never a skip."""
    exe, wanted = find_runtime()
    if exe is None:
        pytest.fail(
            f"OCI runtime {wanted!r} not found (not beside {sys.executable}, not on PATH): "
            "install pycontain (console script pycontain-runc) or set PYCONTAIN_RUNC",
            pytrace=False,
        )
    return RuntimeInfo(exe)


def spec_config(runtime: RuntimeInfo, directory: Path) -> dict:
    """The config.json `<runtime> spec` writes (in *directory*)."""
    r = subprocess.run(
        check=False,
        args=[runtime.exe, "spec"],
        cwd=directory,
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
    )
    assert r.returncode == 0, f"{runtime.name} spec failed: {r.stderr}"
    return json.loads((directory / "config.json").read_text())


class Bundle:
    """A bundle directory: `rootfs/` and `config.json` (written by `write()`)."""

    def __init__(self, path: Path, config: dict) -> None:
        self.path = path
        self.config = config
        self.rootfs = path / "rootfs"

    @property
    def process(self) -> dict:
        return self.config["process"]

    @property
    def linux(self) -> dict:
        return self.config.setdefault("linux", {})

    def write(self) -> Bundle:
        (self.path / "config.json").write_text(json.dumps(self.config, indent=2))
        return self

    def cgroup_dirs(self) -> list[str]:
        """Existing cgroupfs directories for the bundle's cgroupsPath, one per hierarchy
        (a relative path is under the test process's own cgroups, as runc places it)."""
        cg = self.linux.get("cgroupsPath", "")
        if not cg:
            return []
        found = []
        own = own_cgroups()
        for h in os.listdir(CGROUP_ROOT):
            base = "/" if cg.startswith("/") else own.get(h, "/")
            p = os.path.join(CGROUP_ROOT, h, base.lstrip("/"), cg.lstrip("/"))
            if os.path.isdir(p):
                found.append(p)
        return found

    def namespace(self, kind: str, path: str | None = None) -> None:
        """Add (or replace) a namespace entry."""
        nss = [n for n in self.linux.setdefault("namespaces", []) if n["type"] != kind]
        entry = {"type": kind}
        if path:
            entry["path"] = path
        nss.append(entry)
        self.linux["namespaces"] = nss

    def drop_namespace(self, kind: str) -> None:
        self.linux["namespaces"] = [
            n for n in self.linux.get("namespaces", []) if n["type"] != kind
        ]


class Result:
    """A finished runtime call. stdout/stderr are files, read when asked: for `create`
    and `run -d` the container keeps writing the stdout it inherited."""

    def __init__(self, argv: list[str], returncode: int, out: Path, err: Path) -> None:
        self.argv = argv
        self.returncode = returncode
        self.out_path = out
        self.err_path = err

    @property
    def stdout(self) -> str:
        return self.out_path.read_text(errors="replace")

    @property
    def stderr(self) -> str:
        return self.err_path.read_text(errors="replace")

    def __repr__(self) -> str:
        return f"Result({self.argv!r}, rc={self.returncode}, stdout={self.stdout!r}, stderr={self.stderr!r})"


class CLI:
    """Drives the runtime with a private `--root`. Like conmon and containerd's shim, the
    test process is a child subreaper, so container processes stay its descendants."""

    def __init__(self, runtime: RuntimeInfo, tmp: Path) -> None:
        self.runtime = runtime
        self.tmp = tmp
        self.root = tmp / "state"
        self.root.mkdir()
        self.ids: list[str] = []
        self.bundles: list[Bundle] = []
        self._calls = itertools.count()
        self.before = children_of(os.getpid())  # children that are not ours to reap
        self.exit_status: dict[int, int] = {}  # adopted processes reaped: pid -> wait status

    def reap(self, exclude: int = 0) -> None:
        """Reap adopted zombies, as a subreaper must: an unreaped process of a container's
        pid namespace keeps its dying init (and so `delete --force`) waiting."""
        for pid in children_of(os.getpid()) - self.before - {exclude}:
            st = ppid_and_state(pid)
            if st and st[1] in ("Z", "X"):
                try:
                    _, status = os.waitpid(pid, os.WNOHANG)
                    self.exit_status[pid] = status
                except ChildProcessError:
                    pass

    def new_id(self) -> str:
        cid = f"t{uuid.uuid4().hex[:10]}"
        self.ids.append(cid)
        return cid

    def run(
        self,
        *args: str,
        check: bool = True,
        input: str | bytes | None = None,
        timeout: float = TIMEOUT,
        global_args: tuple[str, ...] = (),
        root: bool = True,
        cwd: Path | None = None,
        env: dict[str, str] | None = None,
        fd3: Path | None = None,
    ) -> Result:
        """`<runtime> --root ROOT [global_args] args...`; stdout/stderr to files."""
        n = next(self._calls)
        out, err = self.tmp / f"call{n}.out", self.tmp / f"call{n}.err"
        argv = [self.runtime.exe]
        if root:
            argv += ["--root", str(self.root)]
        argv += [*global_args, *args]
        if fd3 is not None:  # the runtime gets FILE open on fd 3 (for --preserve-fds)
            argv = ["/bin/sh", "-c", 'exec 3>>"$0"; exec "$@"', str(fd3), *argv]
        stdin: Any = subprocess.DEVNULL if input is None else subprocess.PIPE
        with open(out, "wb") as fo, open(err, "wb") as fe:
            p = subprocess.Popen(argv, stdin=stdin, stdout=fo, stderr=fe, cwd=cwd, env=env)
            try:
                if input is not None:
                    p.stdin.write(input.encode() if isinstance(input, str) else input)
                    p.stdin.close()
                deadline = time.monotonic() + timeout
                while p.poll() is None:
                    self.reap(exclude=p.pid)
                    if time.monotonic() > deadline:
                        raise subprocess.TimeoutExpired(argv, timeout)
                    time.sleep(0.005)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
                raise AssertionError(f"{argv} did not finish in {timeout}s") from None
        r = Result(argv, p.returncode, out, err)
        if check:
            assert r.returncode == 0, f"{args[0] if args else ''} failed: {r!r}"
        return r

    # verbs the tests use all the time

    def create(
        self, b: Bundle, cid: str | None = None, *extra: str, check: bool = True
    ) -> tuple[str, Result]:
        cid = cid or self.new_id()
        self.bundles.append(b)
        pidfile = b.path / f"{cid}.pid"
        r = self.run(
            "create",
            "--bundle",
            str(b.path),
            "--pid-file",
            str(pidfile),
            *extra,
            cid,
            check=check,
            cwd=b.path,
        )
        return cid, r

    def run_fg(
        self, b: Bundle, *extra: str, check: bool = False, timeout: float = TIMEOUT
    ) -> Result:
        """`run` in the foreground: returns when the container's process ended."""
        cid = self.new_id()
        self.bundles.append(b)
        return self.run(
            "run", "--bundle", str(b.path), *extra, cid, check=check, cwd=b.path, timeout=timeout
        )

    def state(self, cid: str) -> dict:
        return json.loads(self.run("state", cid).stdout)

    def status(self, cid: str) -> str:
        return self.state(cid)["status"]

    def wait_status(self, cid: str, status: str, timeout: float = TIMEOUT) -> dict:
        deadline = time.monotonic() + timeout
        while True:
            st = self.state(cid)
            if st["status"] == status:
                return st
            if time.monotonic() > deadline:
                raise AssertionError(f"{cid} is {st['status']!r}, not {status!r} after {timeout}s")
            time.sleep(0.02)

    def start_and_wait(self, b: Bundle, timeout: float = TIMEOUT) -> tuple[str, Result]:
        """create + start, wait until stopped: (id, create's Result with the output)."""
        cid, r = self.create(b)
        self.run("start", cid)
        self.wait_status(cid, "stopped", timeout)
        return cid, r

    def output(self, b: Bundle, timeout: float = TIMEOUT) -> str:
        """Run the bundle's process to its end (create/start), return its stdout."""
        cid, r = self.start_and_wait(b, timeout)
        self.run("delete", cid)
        return r.stdout

    # teardown

    def cleanup(self) -> list[str]:
        problems = []
        for cid in self.ids:
            self.run("delete", "--force", cid, check=False)
        left = sorted(os.listdir(self.root))
        if left:
            problems.append(f"state left under --root: {left}")
        for b in self.bundles:
            for d in b.cgroup_dirs():
                problems.append(f"cgroup left: {d}")
        return problems


@contextmanager
def driven_cli(runtime: RuntimeInfo, tmp: Path) -> Iterator[CLI]:
    """The CLI driver (private --root) while the test process is a child subreaper, as
    conmon and containerd's shim are. At the end: `delete --force` of every id the test
    made, then nothing may be left: state entries, cgroups, processes."""
    before = children_of(os.getpid())
    set_subreaper(True)
    c = CLI(runtime, tmp)
    try:
        yield c
    finally:
        problems = c.cleanup()
        for pid in reap_new_children(before):
            try:
                cmd = Path(f"/proc/{pid}/cmdline").read_bytes()
                os.kill(pid, signal.SIGKILL)  # our own child (we are its subreaper)
            except OSError:
                continue
            problems.append(f"process left: {pid} {cmd!r}")
        reap_new_children(before)
        set_subreaper(False)
        rmdir_test_cgroups()
        assert not problems, "leaked: " + "; ".join(problems)


def reap_new_children(before: set[int], timeout: float = 5.0) -> list[int]:
    """Reap the zombies we inherited as subreaper; return children still alive."""
    me = os.getpid()
    deadline = time.monotonic() + timeout
    while True:
        alive = []
        for pid in children_of(me) - before:
            st = ppid_and_state(pid)
            if st is None:
                continue
            if st[1] in ("Z", "X"):
                try:
                    os.waitpid(pid, os.WNOHANG)
                except ChildProcessError:
                    pass
            else:
                alive.append(pid)
        if not alive or time.monotonic() > deadline:
            return alive
        time.sleep(0.05)


def rmdir_test_cgroups() -> None:
    """Remove the empty parent cgroups the tests named (runc leaves parents behind)."""
    own = own_cgroups()
    bases = []
    for h in os.listdir(CGROUP_ROOT):
        bases += [os.path.join(CGROUP_ROOT, h, CGROUP_PREFIX),
                  os.path.join(CGROUP_ROOT, h, own.get(h, "/").lstrip("/"), CGROUP_REL_PREFIX)]
    remove_cgroup_trees(bases, timeout=0)


def assert_clean_error(r: Result) -> None:
    """Non-zero exit, one line on stderr, no Python traceback."""
    assert r.returncode != 0, f"expected a failure: {r!r}"
    err = r.stderr
    assert "Traceback" not in err, err
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) >= 1, f"no error message: {r!r}"


class ConsoleSocket:
    """The test side of `--console-socket`: a unix socket server that receives the pty
    master by SCM_RIGHTS (in a thread, since the runtime blocks on it), then reads it."""

    def __init__(self, path: Path) -> None:
        import socket
        import threading

        self.path = path
        self.master: int | None = None
        self._srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self._srv.bind(str(path))
        self._srv.listen(1)
        self._srv.settimeout(TIMEOUT)
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    def _accept(self) -> None:
        import socket

        try:
            conn, _ = self._srv.accept()
        except OSError:
            return
        with conn:
            conn.settimeout(TIMEOUT)
            _, fds, _, _ = socket.recv_fds(conn, 1024, 4)
            if fds:
                self.master = fds[0]
                for extra in fds[1:]:
                    os.close(extra)

    def wait_master(self, timeout: float = TIMEOUT) -> int:
        self._thread.join(timeout)
        assert self.master is not None, "no pty master came through the console socket"
        return self.master

    def read_all(self, timeout: float = TIMEOUT) -> bytes:
        """Everything the process writes to the terminal, until it closes (EIO)."""
        import select

        master = self.wait_master(timeout)
        data = b""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            ready, _, _ = select.select([master], [], [], 0.1)
            if ready:
                try:
                    chunk = os.read(master, 4096)
                except OSError:  # EIO: the last slave fd closed
                    break
                if not chunk:
                    break
                data += chunk
        return data

    def close(self) -> None:
        self._srv.close()
        if self.master is not None:
            os.close(self.master)
            self.master = None
