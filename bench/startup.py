#!/usr/bin/env python3
"""Container start-up latency: pycontain against unshare, bwrap, crun and runc, side by side.

Every row starts ``/bin/true`` in a busybox-static rootfs built in a temp dir (the ``*python*``
rows: ``python -c pass`` with this interpreter, in the default sandbox or bare), N times
(``--n``, default 100) after a few warm-up starts, and reports the median and p90 wall-clock
time of one start in ms plus its ratio to crun's and runc's medians.  Rows are interleaved:
each round runs every row once, in a shuffled order, so drift (CPU frequency, page cache,
other load) hits all rows alike.  See bench/README.md for what each row does and how to read
the ratios.

Run as root:  python bench/startup.py [--n 100] [--only ROW[,ROW]] [--json FILE]
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import json
import math
import os
import platform
import random
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from typing import Any

# --------------------------------------------------------------------------------------------
# rows

ROWS: list[tuple[str, str]] = [
    ("pyc-loop", "pycontain Container.run, in-process loop (minimal RootFS)"),
    ("pyc-loop-defaultfs", "pycontain Container.run, in-process loop (default RootFS)"),
    ("pyc-chroot", "pycontain Container.run, in-process loop (Chroot)"),
    ("pyc-sandbox", "pycontain Container().run, every default (host / as nobody)"),
    ("pyc-sandbox-loop", "the same, timed right after an untimed one (what a loop shows)"),
    ("pyc-python", "pycontain Container().run of `python -c pass`, every default"),
    ("pyc-python-memlimit", "the same with a memory limit (Resources(memory_max=256 MiB))"),
    ("pyc-cli", "pycontain run (one-shot CLI)"),
    ("pycontain-runc", "pycontain-runc run (OCI bundle)"),
    ("unshare", "unshare(1) --fork --pid ... --mount-proc + chroot"),
    ("bwrap", "bwrap --unshare-all --bind ROOT / --proc --dev"),
    ("crun", "crun run (OCI bundle)"),
    ("runc", "runc run (OCI bundle)"),
    ("host-true", "baseline: subprocess.run(/bin/true), no isolation"),
    ("python-startup", "baseline: python -c pass (same env as pyc-cli)"),
    ("python-bare", "baseline: python -c pass (same env as pyc-python), no isolation"),
]
ROW_NAMES = [r[0] for r in ROWS]

# (label, row, reference row or None for an absolute limit, limit)
TARGETS: list[tuple[str, str, str | None, float]] = [
    ("in-process median <= 2.5 ms", "pyc-loop", None, 2.5),
    ("in-process / crun <= 0.35x", "pyc-loop", "crun", 0.35),
    ("one-shot pycontain run / runc run <= 0.80x", "pyc-cli", "runc", 0.80),
]

# A real program pays no more in the sandbox than a loop of /bin/true starts shows (issue 14):
# (row, its bare twin, the /bin/true row, its bare twin, slack ms):
#   row - bare <= true_row - true_bare + slack.
COST_TARGETS: list[tuple[str, str, str, str, float]] = [
    ("pyc-python", "python-bare", "pyc-sandbox-loop", "host-true", 1.0),
    ("pyc-python-memlimit", "python-bare", "pyc-sandbox-loop", "host-true", 1.0),
]

NAMESPACES = {"pid", "mnt", "uts", "ipc", "net"}
MEMORY_MAX = 64 << 20
PIDS_MAX = 100
CG_PARENT = f"pycontain-bench-{os.getpid()}"   # runc/crun cgroupsPath parent, removed at exit
CGROUP_ROOT = "/sys/fs/cgroup"
UNIFIED_CONTROLLERS = "/sys/fs/cgroup/unified/cgroup.controllers"


class Skip(Exception):
    """A row that cannot run here; the message says why."""


def timed(cmd: list[str], env: dict[str, str] | None = None) -> tuple[float, int, bytes]:
    """Wall clock of one external command, the same way for every peer."""
    t0 = time.perf_counter()
    p = subprocess.run(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                       stderr=subprocess.PIPE, env=env)
    t1 = time.perf_counter()
    return t1 - t0, p.returncode, p.stderr


# --------------------------------------------------------------------------------------------
# crun helper: crun 1.8.1 refuses hybrid hosts whose unified cgroup.controllers is not empty,
# so crun runs in a private mount namespace with an empty file bound over that one file.  The
# namespace is set up once (`unshare -m` + this script in helper mode) and the helper times
# crun itself, so unshare's cost is not in crun's numbers.

def crun_helper_main(empty: str) -> int:
    if os.path.exists(UNIFIED_CONTROLLERS):
        subprocess.run(["mount", "--bind", empty, UNIFIED_CONTROLLERS], check=True)
    out = sys.stdout
    for line in sys.stdin:
        req = json.loads(line)
        if req.get("op") == "exit":
            # delete whatever an interrupted run left, from inside this mount namespace
            exe, state = req["exe"], req["state"]
            for cid in _state_ids(state):
                subprocess.run([exe, "--root", state, "delete", "-f", cid],
                               stdin=subprocess.DEVNULL, capture_output=True)
            break
        if req["op"] == "run":
            dt, rc, err = timed(req["cmd"])
            resp: dict[str, Any] = {"t": dt, "rc": rc, "err": err.decode(errors="replace")[-2000:]}
        else:  # "cmd": an untimed command (delete, list)
            p = subprocess.run(req["cmd"], stdin=subprocess.DEVNULL, capture_output=True)
            resp = {"rc": p.returncode, "out": p.stdout.decode(errors="replace"),
                    "err": p.stderr.decode(errors="replace")[-2000:]}
        out.write(json.dumps(resp) + "\n")
        out.flush()
    return 0


class CrunHelper:
    def __init__(self, empty: str) -> None:
        # new session: a Ctrl-C in the terminal reaches us, not the helper mid-request; we stop it
        self.proc = subprocess.Popen(
            ["unshare", "-m", "--propagation", "private", "--",
             sys.executable, os.path.abspath(__file__), "--crun-helper", empty],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, start_new_session=True)

    def request(self, **req: Any) -> dict[str, Any]:
        assert self.proc.stdin and self.proc.stdout
        self.proc.stdin.write(json.dumps(req) + "\n")
        self.proc.stdin.flush()
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError("crun helper exited")
        return json.loads(line)

    def close(self, exe: str, state: str) -> None:
        """Ask the helper to delete leftovers and exit (after any request in flight)."""
        if self.proc.poll() is None:
            try:
                assert self.proc.stdin
                self.proc.stdin.write(json.dumps({"op": "exit", "exe": exe, "state": state}) + "\n")
                self.proc.stdin.close()
            except (OSError, ValueError):
                pass
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()   # our own child, by its pid
                self.proc.wait()


# --------------------------------------------------------------------------------------------
# setup

def build_rootfs(root: str) -> None:
    busybox = shutil.which("busybox") or "/bin/busybox"
    for d in ("bin", "proc", "dev", "sys", "tmp", "etc"):
        os.makedirs(os.path.join(root, d), exist_ok=True)
    shutil.copy2(busybox, os.path.join(root, "bin", "busybox"))
    applets = subprocess.run([busybox, "--list"], capture_output=True, text=True, check=True).stdout.split()
    for a in applets:
        p = os.path.join(root, "bin", a)
        if not os.path.lexists(p):
            os.symlink("busybox", p)
    with open(os.path.join(root, "etc", "passwd"), "w") as f:
        f.write("root:x:0:0:root:/root:/bin/sh\n")


def write_bundle(bundle: str, root: str) -> None:
    os.makedirs(bundle)
    subprocess.run(["runc", "spec", "--bundle", bundle], check=True)
    with open(os.path.join(bundle, "config.json")) as f:
        cfg = json.load(f)
    cfg["root"] = {"path": root, "readonly": True}
    cfg["process"]["terminal"] = False
    cfg["process"]["args"] = ["/bin/true"]
    res = cfg["linux"].setdefault("resources", {})
    res["memory"] = {"limit": MEMORY_MAX}
    res["pids"] = {"limit": PIDS_MAX}
    # every container's cgroup under one parent of ours, removed at the end
    cfg["linux"]["cgroupsPath"] = f"/{CG_PARENT}/bench"
    with open(os.path.join(bundle, "config.json"), "w") as f:
        json.dump(cfg, f, indent=2)


def set_cgroups_path(bundle: str, cid: str) -> None:
    """Unique cgroup per container, like unique ids (runc refuses a cgroup in use)."""
    # rewriting config.json per run is outside the timed region; cheap (~50 us)
    path = os.path.join(bundle, "config.json")
    with open(path) as f:
        cfg = json.load(f)
    cfg["linux"]["cgroupsPath"] = f"/{CG_PARENT}/{cid}"
    with open(path, "w") as f:
        json.dump(cfg, f)


def tool_version(cmd: list[str]) -> str:
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=10).stdout
        return out.splitlines()[0].strip() if out else "?"
    except (OSError, subprocess.TimeoutExpired):
        return "not installed"


def pycontain_env(pycache: str) -> dict[str, str]:
    """Environment for child Pythons: they import the same pycontain as we do, and keep
    bytecode (in our temp dir, never in the source tree) even where PYTHONDONTWRITEBYTECODE
    is set, so the one-shot rows measure an installed CLI, not a compile of every module."""
    import pycontain

    pkg_parent = os.path.dirname(os.path.dirname(os.path.abspath(pycontain.__file__)))
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (pkg_parent, env.get("PYTHONPATH")) if p)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env["PYTHONPYCACHEPREFIX"] = pycache
    return env


# --------------------------------------------------------------------------------------------
# the bench

class Bench:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.tmp = tempfile.mkdtemp(prefix="pycontain-bench-")
        self.root = os.path.join(self.tmp, "rootfs")
        self.bundle = os.path.join(self.tmp, "bundle")
        self.runc_state = os.path.join(self.tmp, "runc-state")
        self.crun_state = os.path.join(self.tmp, "crun-state")
        self.pycr_state = os.path.join(self.tmp, "pycontain-runc-state")
        self.empty = os.path.join(self.tmp, "empty")
        self.pycache = os.path.join(self.tmp, "pycache")
        self.containers: list[Any] = []
        self.crun: CrunHelper | None = None
        self.seq = 0
        self.notes: dict[str, str] = {}

    # -- per-row start functions: each returns the seconds of one start --------------------

    def setup(self) -> dict[str, Callable[[], float]]:
        build_rootfs(self.root)
        open(self.empty, "w").close()
        runners: dict[str, Callable[[], float]] = {}
        for name in self.args.only:
            try:
                runners[name] = getattr(self, "make_" + name.replace("-", "_"))()
            except Skip as e:
                self.notes[name] = f"skipped: {e}"
        return runners

    def _container(self, rootfs: Any) -> Callable[[], float]:
        from pycontain import Container, Namespaces
        from pycontain.cgroups import Resources

        # no seccomp filter: the peers' bundles and command lines have none
        c = Container(rootfs=rootfs, namespaces=Namespaces(create=NAMESPACES),
                      cgroup=Resources(memory_max=MEMORY_MAX, pids_max=PIDS_MAX), seccomp=None)
        return self._timed(c)

    def _timed(self, c: Any, argv: list[str] | None = None) -> Callable[[], float]:
        self.containers.append(c)
        argv = argv or ["/bin/true"]

        def start() -> float:
            t0 = time.perf_counter()
            r = c.run(argv)
            t1 = time.perf_counter()
            if r.returncode != 0:
                raise RuntimeError(f"exit status {r.returncode}")
            return t1 - t0
        return start

    def _proc_mount(self) -> Any:
        from pycontain import Mount
        return Mount("/proc", "proc", "proc", ("nosuid", "noexec", "nodev"))

    def make_pyc_loop(self) -> Callable[[], float]:
        from pycontain import RootFS
        return self._container(RootFS(self.root, mounts=[self._proc_mount()], masked_paths=(),
                                      readonly_paths=(), devices=(), symlinks=()))

    def make_pyc_loop_defaultfs(self) -> Callable[[], float]:
        from pycontain import RootFS
        return self._container(RootFS(self.root))

    def make_pyc_sandbox(self) -> Callable[[], float]:
        # the default sandbox: the host's / hidden and seen as nobody (a user namespace),
        # Docker's seccomp profile, a fresh cgroup with the default pids limit, cgroup ns
        from pycontain import Container
        return self._timed(Container())

    def make_pyc_sandbox_loop(self) -> Callable[[], float]:
        # a start that follows another at once, as in a loop: what a start costs when the
        # kernel has just done the same work (a cgroup migration within the last RCU grace
        # period does not wait for one); the reference of the python rows' target
        from pycontain import Container
        c = Container()
        timed_start = self._timed(c)

        def start() -> float:
            c.run(["/bin/true"])
            return timed_start()
        return start

    def _python_argv(self) -> list[str]:
        return [sys.executable, "-c", "pass"]

    def make_pyc_python(self) -> Callable[[], float]:
        # a real program in the default sandbox: what /bin/true hides (e.g. a cgroup join
        # that waits for an RCU grace period unless another one ran just before)
        from pycontain import Container
        return self._timed(Container(), self._python_argv())

    def make_pyc_python_memlimit(self) -> Callable[[], float]:
        from pycontain import Container
        from pycontain.cgroups import Resources
        return self._timed(Container(cgroup=Resources(memory_max=256 << 20)), self._python_argv())

    def make_python_bare(self) -> Callable[[], float]:
        from pycontain.defaults import DEFAULT_ENV
        env = dict(e.split("=", 1) for e in DEFAULT_ENV)  # what the container's process gets
        return self._external(self._python_argv(), env)

    def make_pyc_chroot(self) -> Callable[[], float]:
        from pycontain import Chroot
        return self._container(Chroot(self.root, mounts=[self._proc_mount()]))

    def _external(self, cmd: list[str], env: dict[str, str] | None = None) -> Callable[[], float]:
        def start() -> float:
            dt, rc, err = timed(cmd, env)
            if rc != 0:
                raise RuntimeError(f"exit status {rc}: {err.decode(errors='replace').strip()[-500:]}")
            return dt
        return start

    def make_pyc_cli(self) -> Callable[[], float]:
        env = pycontain_env(self.pycache)
        cmd = [sys.executable, "-m", "pycontain", "run", "--rootfs", self.root, "--", "/bin/true"]
        probe = subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True, env=env, timeout=60)
        if probe.returncode != 0:
            msg = (probe.stderr.decode(errors="replace").strip().splitlines() or ["?"])[-1]
            raise Skip(f"not available (`python -m pycontain run` exit {probe.returncode}: {msg[:120]})")
        return self._external(cmd, env)

    def make_host_true(self) -> Callable[[], float]:
        return self._external(["/bin/true"])

    def make_python_startup(self) -> Callable[[], float]:
        return self._external([sys.executable, "-c", "pass"], pycontain_env(self.pycache))

    def make_unshare(self) -> Callable[[], float]:
        if not shutil.which("unshare"):
            raise Skip("not available (util-linux unshare not installed)")
        return self._external(["unshare", "--fork", "--pid", "--mount", "--uts", "--ipc", "--net",
                               f"--mount-proc={self.root}/proc", "chroot", self.root, "/bin/true"])

    def make_bwrap(self) -> Callable[[], float]:
        if not shutil.which("bwrap"):
            raise Skip("not available (bubblewrap not installed)")
        return self._external(["bwrap", "--unshare-all", "--bind", self.root, "/", "--proc", "/proc",
                               "--dev", "/dev", "/bin/true"])

    def _bundle(self) -> None:
        if not os.path.exists(self.bundle):
            if not shutil.which("runc"):
                raise Skip("not available (the OCI bundle is made with `runc spec`; runc not installed)")
            write_bundle(self.bundle, self.root)

    def _next_id(self, prefix: str) -> str:
        self.seq += 1
        return f"{prefix}-{os.getpid()}-{self.seq}"

    def _oci_direct(self, exe: str, state: str) -> Callable[[], float]:
        self._bundle()
        os.makedirs(state, exist_ok=True)

        def start() -> float:
            cid = self._next_id(os.path.basename(exe))
            set_cgroups_path(self.bundle, cid)
            dt, rc, err = timed([exe, "--root", state, "run", "--bundle", self.bundle, cid])
            # `run` deletes the container when it exits; delete whatever a failure left
            if os.path.exists(os.path.join(state, cid)):
                subprocess.run([exe, "--root", state, "delete", "-f", cid],
                               stdin=subprocess.DEVNULL, capture_output=True)
            if rc != 0:
                raise RuntimeError(f"exit status {rc}: {err.decode(errors='replace').strip()[-500:]}")
            return dt
        return start

    def make_runc(self) -> Callable[[], float]:
        if not shutil.which("runc"):
            raise Skip("not available (runc not installed)")
        return self._oci_direct(shutil.which("runc") or "runc", self.runc_state)

    def make_pycontain_runc(self) -> Callable[[], float]:
        exe = _pycontain_runc()
        if exe is None:
            raise Skip("not available (no `pycontain-runc` next to this Python or on PATH)")
        return self._oci_direct(exe, self.pycr_state)

    def make_crun(self) -> Callable[[], float]:
        exe = shutil.which("crun")
        if exe is None:
            raise Skip("not available (crun not installed)")
        if not shutil.which("unshare"):
            raise Skip("not available (needs util-linux unshare for its private mount namespace)")
        self._bundle()
        os.makedirs(self.crun_state, exist_ok=True)
        self.crun = CrunHelper(self.empty)
        helper = self.crun

        def start() -> float:
            cid = self._next_id("crun")
            set_cgroups_path(self.bundle, cid)
            r = helper.request(op="run", cmd=[exe, "--root", self.crun_state, "run", "--bundle",
                                              self.bundle, cid])
            if os.path.exists(os.path.join(self.crun_state, cid)):
                helper.request(op="cmd", cmd=[exe, "--root", self.crun_state, "delete", "-f", cid])
            if r["rc"] != 0:
                raise RuntimeError(f"exit status {r['rc']}: {r['err'].strip()[-500:]}")
            return float(r["t"])
        return start

    # -- running -------------------------------------------------------------------------

    def run(self) -> dict[str, Any]:
        runners = self.setup()
        samples: dict[str, list[float]] = {n: [] for n in runners}
        failed: dict[str, str] = {}

        def once(name: str, keep: bool) -> None:
            try:
                dt = runners[name]()
            except Exception as e:  # one broken row must not sink the others
                failed[name] = f"failed: {e}"
                print(f"  {name}: {failed[name]}", file=sys.stderr)
                return
            if keep:
                samples[name].append(dt)

        names = list(runners)
        for _ in range(self.args.warmup):
            for name in names:
                if name not in failed:
                    once(name, False)
        rng = random.Random(self.args.seed)
        t_start = time.monotonic()
        for i in range(self.args.n):
            rng.shuffle(names)
            for name in names:
                if name not in failed:
                    once(name, True)
            if sys.stderr.isatty():
                print(f"\r  round {i + 1}/{self.args.n} ({time.monotonic() - t_start:.0f} s)",
                      end="", file=sys.stderr, flush=True)
        if sys.stderr.isatty():
            print(file=sys.stderr)
        self.notes.update(failed)
        return self.results(samples)

    def results(self, samples: dict[str, list[float]]) -> dict[str, Any]:
        rows: dict[str, Any] = {}
        for name in ROW_NAMES:
            if name not in self.args.only:
                continue
            s = sorted(x * 1000 for x in samples.get(name, []))
            if name in self.notes or not s:
                rows[name] = {"note": self.notes.get(name, "no samples")}
                continue
            rows[name] = {
                "n": len(s),
                "median_ms": statistics.median(s),
                "p90_ms": s[max(0, math.ceil(0.9 * len(s)) - 1)],
                "min_ms": s[0],
                "samples_ms": [x * 1000 for x in samples[name]],
            }
        for name, row in rows.items():
            for ref in ("crun", "runc"):
                refrow = rows.get(ref, {})
                if "median_ms" in row and "median_ms" in refrow:
                    row[f"x_{ref}"] = row["median_ms"] / refrow["median_ms"]
        return rows

    # -- cleanup -------------------------------------------------------------------------

    def cleanup(self) -> None:
        for c in self.containers:
            with contextlib.suppress(Exception):
                c.close()
        if self.crun is not None:
            self.crun.close(shutil.which("crun") or "crun", self.crun_state)
        for exe, state in (("runc", self.runc_state), ("pycontain-runc", self.pycr_state)):
            path = _pycontain_runc() if exe == "pycontain-runc" else shutil.which(exe)
            for cid in _state_ids(state):
                if path:
                    subprocess.run([path, "--root", state, "delete", "-f", cid],
                                   stdin=subprocess.DEVNULL, capture_output=True)
        _remove_cgroups(CG_PARENT)
        _remove_tree(self.tmp)


def _pycontain_runc() -> str | None:
    """The console script installed with the pycontain this script runs, else PATH's."""
    beside = os.path.join(os.path.dirname(sys.executable), "pycontain-runc")
    if os.access(beside, os.X_OK):
        return beside
    return shutil.which("pycontain-runc")


def _state_ids(state: str) -> list[str]:
    try:
        return [e for e in os.listdir(state) if os.path.isdir(os.path.join(state, e))]
    except OSError:
        return []


def _remove_cgroups(name: str) -> None:
    """rmdir our runc/crun cgroup parent in every hierarchy, deepest first.  Only empty
    cgroups go: the containers in them were ours and have exited (or been deleted)."""
    try:
        hierarchies = [os.path.join(CGROUP_ROOT, h) for h in os.listdir(CGROUP_ROOT)]
    except OSError:
        return
    hierarchies.append(CGROUP_ROOT)  # pure v2 host
    for h in hierarchies:
        top = os.path.join(h, name)
        if not os.path.isdir(top):
            continue
        for dirpath, _dirs, _files in sorted(os.walk(top), key=lambda w: -w[0].count("/")):
            for _ in range(50):
                try:
                    os.rmdir(dirpath)
                    break
                except FileNotFoundError:
                    break
                except OSError:
                    time.sleep(0.02)
            else:
                print(f"warning: could not remove cgroup {dirpath}", file=sys.stderr)


def _remove_tree(path: str) -> None:
    """rm -rf the temp dir, but never through a mount point (a bind mount of a host dir there
    would have rm -rf go into the host)."""
    prefix = path.rstrip("/") + "/"
    mounted = []
    with contextlib.suppress(OSError), open("/proc/self/mountinfo") as f:
        for line in f:
            mp = line.split()[4].replace("\\040", " ")
            if mp == path or mp.startswith(prefix):
                mounted.append(mp)
    for mp in sorted(mounted, key=len, reverse=True):
        subprocess.run(["umount", "-l", mp], capture_output=True)
    with contextlib.suppress(OSError), open("/proc/self/mountinfo") as f:
        if any((mp := line.split()[4]) == path or mp.startswith(prefix) for line in f):
            print(f"warning: {path} still has mounts under it; not removed", file=sys.stderr)
            return
    shutil.rmtree(path, ignore_errors=True)


# --------------------------------------------------------------------------------------------
# output

def fmt_table(rows: dict[str, Any], args: argparse.Namespace) -> str:
    labels = dict(ROWS)
    w = max(len(labels[n]) for n in rows) if rows else 10
    out = [f"{'row':<20} {'what':<{w}} {'median ms':>9} {'p90 ms':>8} {'vs crun':>8} {'vs runc':>8}"]
    out.append("-" * len(out[0]))
    for name, r in rows.items():
        if "median_ms" not in r:
            out.append(f"{name:<20} {labels[name]:<{w}} {r['note']}")
            continue

        def ratio(ref: str) -> str:
            return f"{r[f'x_{ref}']:.2f}x" if f"x_{ref}" in r else "-"
        out.append(f"{name:<20} {labels[name]:<{w}} {r['median_ms']:>9.2f} {r['p90_ms']:>8.2f} "
                   f"{ratio('crun'):>8} {ratio('runc'):>8}")
    out.append("")
    out.append("targets:")
    for label, row, ref, limit in TARGETS:
        r = rows.get(row, {})
        if ref is None:
            val = r.get("median_ms")
            shown = f"{val:.2f} ms" if val is not None else None
        else:
            val = r.get(f"x_{ref}")
            shown = f"{val:.2f}x" if val is not None else None
        verdict = "n/a" if val is None else ("met" if val <= limit else "MISSED")
        out.append(f"  {label:<45} {shown or '-':>9}  {verdict}")
    for row, bare, trow, tbare, slack in COST_TARGETS:
        if row not in rows:
            continue
        label = f"{row} - {bare} <= {trow} - {tbare} + {slack:g} ms"
        meds = [rows.get(n, {}).get("median_ms") for n in (row, bare, trow, tbare)]
        if any(m is None for m in meds):
            out.append(f"  {label}: n/a")
            continue
        cost, limit = meds[0] - meds[1], meds[2] - meds[3] + slack
        met = cost <= limit
        out.append(f"  {label}: {cost:.2f} {'<=' if met else '>'} {limit:.2f} ms  "
                   f"{'met' if met else 'MISSED'}")
    return "\n".join(out)


def base_env_info(args: argparse.Namespace) -> dict[str, Any]:
    """The machine, the pycontain under test (commit, +dirty when its code differs from it)
    and the OCI peers' versions: every bench script's header."""
    import pycontain

    commit = "?"
    with contextlib.suppress(Exception):
        src = os.path.dirname(os.path.dirname(os.path.abspath(pycontain.__file__)))
        commit = subprocess.run(["git", "-C", src, "rev-parse", "--short", "HEAD"], capture_output=True,
                                text=True, timeout=10).stdout.strip() or "?"
        if subprocess.run(["git", "-C", src, "diff", "--quiet", "HEAD", "--", "pycontain", "csrc"],
                          check=False, capture_output=True, timeout=10).returncode == 1:
            commit += "+dirty"
    return {
        "date": datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
        "kernel": platform.release(),
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "python_executable": sys.executable,
        "pycontain": f"{pycontain.__version__} ({commit}) from {os.path.dirname(pycontain.__file__)}",
        "runc": tool_version(["runc", "--version"]),
        "crun": tool_version(["crun", "--version"]),
        "n": args.n,
        "warmup": args.warmup,
    }


def env_info(args: argparse.Namespace) -> dict[str, Any]:
    return {**base_env_info(args),
            "bwrap": tool_version(["bwrap", "--version"]),
            "unshare": tool_version(["unshare", "--version"]),
            "seed": args.seed}


def preflight(script: str) -> int:
    """0 where a bench can run here; else 2, with the reason on stderr."""
    if os.geteuid() != 0:
        print(f"{script} needs root (namespaces, mounts, cgroups)", file=sys.stderr)
        return 2
    try:
        import pycontain  # noqa: F401
    except ImportError:
        print("cannot import pycontain: `pip install .` or set PYTHONPATH to the checkout", file=sys.stderr)
        return 2
    return 0


def reexec_in_private_mounts() -> None:
    """Re-execute this script in a mount namespace of its own with a tmpfs over /run: what
    peers make there as root and never take back (firejail's mounts and /run/firejail,
    dockerd's and containerd's state directories) goes with the namespace instead of
    staying on the machine.  Returns in the re-executed process."""
    if os.environ.get("PYCONTAIN_BENCH_PRIVATE_MOUNTS") == "1":
        return
    env = {**os.environ, "PYCONTAIN_BENCH_PRIVATE_MOUNTS": "1"}
    unshare = shutil.which("unshare") or "/usr/bin/unshare"
    os.execve(unshare, [unshare, "--mount", "--propagation", "private", "sh", "-c",
                        'mount -t tmpfs -o mode=0755 pycontain-bench /run && exec "$@"',
                        "sh", sys.executable, *sys.argv], env)


def clean_up_on_signals() -> None:
    """SIGTERM and SIGHUP clean up as Ctrl-C does (a KeyboardInterrupt)."""
    def stop(signum: int, _frame: Any) -> None:
        raise KeyboardInterrupt(f"signal {signum}")
    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGHUP, stop)


def main(argv: list[str] | None = None) -> int:
    if argv is None:
        argv = sys.argv[1:]
    if len(argv) == 2 and argv[0] == "--crun-helper":
        return crun_helper_main(argv[1])
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=100, help="timed starts per row (default 100)")
    ap.add_argument("--warmup", type=int, default=5, help="untimed starts per row first (default 5)")
    ap.add_argument("--only", action="append", metavar="ROW",
                    help=f"run only these rows (repeat or comma-separate): {', '.join(ROW_NAMES)}")
    ap.add_argument("--json", metavar="FILE", help="also write the results (with all samples) here")
    ap.add_argument("--seed", type=int, default=1, help="seed of the per-round row shuffle")
    args = ap.parse_args(argv)
    only = [x for o in (args.only or []) for x in o.split(",") if x]
    bad = [x for x in only if x not in ROW_NAMES]
    if bad:
        ap.error(f"unknown row(s) {', '.join(bad)}; rows: {', '.join(ROW_NAMES)}")
    args.only = [n for n in ROW_NAMES if n in only] if only else list(ROW_NAMES)
    if args.n < 1:
        ap.error("--n must be at least 1")
    if preflight("startup.py"):
        return 2
    clean_up_on_signals()

    info = env_info(args)
    print(f"# pycontain start-up bench, {info['date']}, kernel {info['kernel']}, {info['cpus']} CPUs, "
          f"Python {info['python']}")
    print(f"# pycontain {info['pycontain']}")
    print(f"# {info['runc']}; {info['crun']}; {info['bwrap']}; {info['unshare']}")
    print(f"# N={args.n} timed starts per row after {args.warmup} warm-up, rows interleaved; "
          "times are wall clock per start of /bin/true (of python -c pass in the python rows)",
          flush=True)
    bench = Bench(args)
    try:
        rows = bench.run()
    except KeyboardInterrupt:
        print("\ninterrupted; cleaning up", file=sys.stderr)
        return 130
    finally:
        with contextlib.suppress(KeyboardInterrupt):
            bench.cleanup()
    print(fmt_table(rows, args))
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"env": info, "rows": rows,
                       "targets": [{"label": lab, "row": r, "ref": ref, "limit": lim}
                                   for lab, r, ref, lim in TARGETS],
                       "cost_targets": [{"row": r, "bare": b, "true_row": t, "true_bare": tb,
                                         "slack_ms": sl} for r, b, t, tb, sl in COST_TARGETS]},
                      f, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
