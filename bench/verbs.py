#!/usr/bin/env python3
"""Per-verb table: every ``pycontain-runc`` verb against runc's and crun's same verb.

Each round runs, for each runtime in turn (the order rotated per round), one container's
whole lifecycle on the same bundle (busybox rootfs, ``sleep 100``), timing every verb as one
whole process (wall clock around the command): ``create``, ``state`` (created), ``start``,
``state`` (running), ``exec ID /bin/true``, ``list``, ``kill ID KILL`` (then, untimed, until
``state`` says stopped), ``delete``; then ``run`` of ``/bin/true`` on a second bundle.  The
same rounds time ``pycontain run -- /bin/true`` (the other command line) and Python start-up
baselines.  Prints medians and p90 per verb, the ratios to runc and crun and the targets of
issue 14.  See bench/README.md.

Run as root:  python bench/verbs.py [-n 20] [--rows create,state,...] [--json FILE]
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import json
import math
import os
import shlex
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from typing import Any

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import startup  # bench/startup.py: rootfs, bundle and cleanup helpers

# --------------------------------------------------------------------------------------------
# rows and columns

#: the lifecycle's verbs, in the order one round runs them
LIFECYCLE = ["create", "state", "start", "state-running", "exec", "list", "kill", "delete", "run"]
#: rows measured outside the lifecycle: the pycontain CLI and Python start-up
EXTRA = ["cli-run", "cli-run-rootfs", "python-isolated", "import-pycontain-isolated", "python",
         "import-pycontain"]
ROW_LABELS = {
    "create": "create",
    "state": "state (created)",
    "start": "start",
    "state-running": "state (running)",
    "exec": "exec ID /bin/true",
    "list": "list",
    "kill": "kill ID KILL",
    "delete": "delete (stopped)",
    "run": "run (/bin/true)",
    "cli-run": "pycontain run -- /bin/true",
    "cli-run-rootfs": "pycontain run --rootfs R -- /bin/true",
    "python-isolated": "python -I -S -c pass",
    "python": "python -c pass",
    "import-pycontain": "python -c 'import pycontain'",
    "import-pycontain-isolated": "python -I -S, import pycontain",
}
ROWS = LIFECYCLE + EXTRA
RUNTIMES = ["pycontain-runc", "python-runc", "runc", "crun"]

#: row -> its limit as a ratio to runc's same verb (the cli rows: to `runc run`)
RATIO_TARGETS = {v: 1.0 for v in ("create", "state", "start", "state-running", "exec", "list",
                                   "kill", "delete")}
RATIO_TARGETS["run"] = 0.8
RATIO_TARGETS["cli-run"] = 0.8
IMPORT_LIMIT_MS = 5.0
#: import rows -> their bare interpreter: `python -c pass` carries this machine's site (.pth
#: files, tens of ms, noisy); -I -S (sys.path set to pycontain's parent) is the import alone
IMPORT_TARGETS = {"import-pycontain": "python", "import-pycontain-isolated": "python-isolated"}

CG_PARENT = f"pycontain-verbs-{os.getpid()}"   # every container's cgroupsPath parent
PR_SET_CHILD_SUBREAPER = 36
STOP_TIMEOUT = 10.0


class Failed(Exception):
    """One verb failed; the message has its exit status and stderr."""


# --------------------------------------------------------------------------------------------
# running one command, the same way for every runtime (here or in the crun helper)

def run_cmd(cmd: list[str], outdir: str, env: dict[str, str] | None = None) -> dict[str, Any]:
    """Run one command with stdout and stderr in files (a container that ``create`` leaves
    running inherits them: a pipe would keep ``subprocess`` waiting for its EOF); the time is
    the wall clock around start and wait only."""
    with open(os.path.join(outdir, "out"), "w+b") as out, open(os.path.join(outdir, "err"), "w+b") as err:
        t0 = time.perf_counter()
        try:
            rc = subprocess.run(cmd, check=False, stdin=subprocess.DEVNULL, stdout=out, stderr=err,
                                env=env).returncode
        except OSError as e:
            return {"t": 0.0, "rc": 127, "out": "", "err": f"cannot run {cmd[0]}: {e.strerror}"}
        t1 = time.perf_counter()
        out.seek(0)
        err.seek(0)
        return {"t": t1 - t0, "rc": rc, "out": out.read(1 << 20).decode(errors="replace"),
                "err": err.read(4000).decode(errors="replace")}


# crun 1.8.1 refuses hybrid cgroup hosts whose unified cgroup.controllers lists a controller:
# every crun command runs in one helper (`unshare -m` + this script in helper mode) that binds
# an empty file over that file in its private mount namespace and times crun itself.

def crun_helper_main(empty: str, outdir: str) -> int:
    if os.path.exists(startup.UNIFIED_CONTROLLERS):
        subprocess.run(["mount", "--bind", empty, startup.UNIFIED_CONTROLLERS], check=True)
    for line in sys.stdin:
        req = json.loads(line)
        if req["op"] == "exit":
            break
        sys.stdout.write(json.dumps(run_cmd(req["cmd"], outdir)) + "\n")
        sys.stdout.flush()
    return 0


class CrunHelper:
    def __init__(self, empty: str, outdir: str) -> None:
        # new session: a Ctrl-C in the terminal reaches us, not the helper mid-request
        self.proc = subprocess.Popen(
            ["unshare", "-m", "--propagation", "private", "--",
             sys.executable, os.path.abspath(__file__), "--crun-helper", empty, outdir],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, start_new_session=True)

    def run(self, cmd: list[str]) -> dict[str, Any]:
        assert self.proc.stdin and self.proc.stdout
        self.proc.stdin.write(json.dumps({"op": "cmd", "cmd": cmd}) + "\n")
        self.proc.stdin.flush()
        line = self.proc.stdout.readline()
        if not line:
            raise Failed("crun helper exited")
        return json.loads(line)

    def close(self) -> None:
        if self.proc.poll() is None:
            with contextlib.suppress(OSError, ValueError):
                assert self.proc.stdin
                self.proc.stdin.write(json.dumps({"op": "exit"}) + "\n")
                self.proc.stdin.close()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()   # our own child, by its pid
                self.proc.wait()


# --------------------------------------------------------------------------------------------
# runtimes

class Runtime:
    """One column: how to run a runtime's verbs, with its own ``--root``."""

    def __init__(self, name: str, argv: list[str], state: str, outdir: str,
                 env: dict[str, str] | None = None, helper: CrunHelper | None = None) -> None:
        self.name, self.argv, self.state, self.outdir = name, argv, state, outdir
        self.env, self.helper = env, helper
        os.makedirs(state, exist_ok=True)

    def call(self, *args: str) -> dict[str, Any]:
        cmd = [*self.argv, "--root", self.state, *args]
        if self.helper is not None:
            return self.helper.run(cmd)
        return run_cmd(cmd, self.outdir, self.env)

    def check(self, *args: str) -> dict[str, Any]:
        r = self.call(*args)
        if r["rc"] != 0:
            msg = (r["err"].strip().splitlines() or ["(no stderr)"])[-1]
            raise Failed(f"`{args[0]}` exit status {r['rc']}: {msg[:200]}")
        return r

    def state_of(self, cid: str) -> dict[str, Any]:
        r = self.check("state", cid)
        try:
            return json.loads(r["out"])
        except ValueError as e:
            raise Failed(f"`state` printed no JSON: {r['out'][:200]!r}") from e


# --------------------------------------------------------------------------------------------
# the bench

def set_bundle(bundle: str, cid: str, args: list[str] | None = None) -> None:
    """Unique cgroup per container (runc refuses a cgroup in use), under our own parent."""
    path = os.path.join(bundle, "config.json")
    with open(path) as f:
        cfg = json.load(f)
    cfg["linux"]["cgroupsPath"] = f"/{CG_PARENT}/{cid}"
    if args is not None:
        cfg["process"]["args"] = args
    with open(path, "w") as f:
        json.dump(cfg, f)


def reap(pid: int) -> None:
    """Reap a container init that was orphaned to us (we are a child subreaper, as conmon and
    containerd's shim are), so that it is gone rather than a zombie when `state` looks."""
    with contextlib.suppress(ChildProcessError, OSError):
        os.waitpid(pid, os.WNOHANG)


def reap_orphans(keep: set[int]) -> None:
    """Reap every zombie child of ours except ``keep`` (the crun helper, a Popen)."""
    me = os.getpid()
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) in keep:
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                stat = f.read()
        except OSError:
            continue
        fields = stat[stat.rfind(")") + 2:].split()
        if fields[0] == "Z" and int(fields[1]) == me:
            reap(int(entry))


def kill_cgroup_procs(name: str) -> None:
    """SIGKILL what a verb interrupted half-way left in our own cgroups (only our containers'
    processes can be in them), so that they can be removed."""
    for h in [os.path.join(startup.CGROUP_ROOT, h) for h in os.listdir(startup.CGROUP_ROOT)] + [
            startup.CGROUP_ROOT]:
        for dirpath, _dirs, files in os.walk(os.path.join(h, name)):
            if "cgroup.procs" not in files:
                continue
            with contextlib.suppress(OSError), open(os.path.join(dirpath, "cgroup.procs")) as f:
                for pid in map(int, f.read().split()):
                    with contextlib.suppress(ProcessLookupError):
                        os.kill(pid, signal.SIGKILL)
                    reap(pid)


def resolve(name: str) -> list[str] | None:
    """The command installed with the pycontain this script runs (beside sys.executable),
    else PATH's.  PATH may hold a shim (pyenv: bash + `pyenv exec`, tens of ms) in front of
    the same file; the bench times the file."""
    beside = os.path.join(os.path.dirname(sys.executable), name)
    if os.access(beside, os.X_OK):
        return [beside]
    found = shutil.which(name)
    return [found] if found else None


def describe(argv: list[str]) -> str:
    """What a command is: a C program or a Python script."""
    exe = shutil.which(argv[0]) or argv[0]
    kind = ""
    if exe == sys.executable:
        return shlex.join(argv)
    with contextlib.suppress(OSError), open(exe, "rb") as f:
        head = f.read(4)
        kind = " (ELF)" if head == b"\x7fELF" else " (script)" if head[:2] == b"#!" else ""
    return shlex.join(argv) + kind


class Bench:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.tmp = tempfile.mkdtemp(prefix="pycontain-verbs-")
        self.root = os.path.join(self.tmp, "rootfs")
        self.bundle_sleep = os.path.join(self.tmp, "bundle-sleep")
        self.bundle_true = os.path.join(self.tmp, "bundle-true")
        self.outdir = os.path.join(self.tmp, "io")
        self.crun_out = os.path.join(self.tmp, "crun-io")
        self.empty = os.path.join(self.tmp, "empty")
        self.pycache = os.path.join(self.tmp, "pycache")
        self.env = startup.pycontain_env(self.pycache)
        self.runtimes: list[Runtime] = []
        self.crun: CrunHelper | None = None
        self.live: dict[str, Runtime] = {}                  # container id -> its runtime
        self.seq = 0
        self.notes: dict[tuple[str, str], str] = {}         # (row, column) -> why no samples
        self.samples: dict[tuple[str, str], list[float]] = {}
        self.extra_cmds: dict[str, list[str]] = {}
        self.commands: dict[str, str] = {}
        self.oddities: dict[str, int] = {}                  # what looked wrong -> how often

    # -- setup ---------------------------------------------------------------------------

    def setup(self) -> None:
        a = self.args
        for d in (self.outdir, self.crun_out):
            os.makedirs(d)
        startup.build_rootfs(self.root)
        open(self.empty, "w").close()
        if not shutil.which("runc"):
            raise SystemExit("the bundle is made with `runc spec`: runc is not installed")
        for bundle, process in ((self.bundle_sleep, ["sleep", "100"]), (self.bundle_true, ["/bin/true"])):
            startup.write_bundle(bundle, self.root)
            set_bundle(bundle, "bench", process)
        want = set(a.runtimes)
        if "pycontain-runc" in want:
            argv = shlex.split(a.pycontain_runc) if a.pycontain_runc else resolve("pycontain-runc")
            if argv is None:
                self.notes[("*", "pycontain-runc")] = "no `pycontain-runc` beside this Python or on PATH"
            else:
                self._add("pycontain-runc", argv, self.env)
        if "python-runc" in want:
            self._add("python-runc", [sys.executable, "-m", "pycontain.cli.runc"], self.env)
        if "runc" in want:
            self._add("runc", [shutil.which("runc") or "runc"], None)
        if "crun" in want:
            exe = shutil.which("crun")
            if exe is None or not shutil.which("unshare"):
                self.notes[("*", "crun")] = "crun (or util-linux unshare, for its helper) not installed"
            else:
                self.crun = CrunHelper(self.empty, self.crun_out)
                self._add("crun", [exe], None, self.crun)
        # the other command line and Python start-up: measured in the pycontain-runc column
        cli = shlex.split(a.pycontain) if a.pycontain else resolve("pycontain")
        py = sys.executable
        import pycontain
        pkg_parent = os.path.dirname(os.path.dirname(os.path.abspath(pycontain.__file__)))
        extra = {
            "cli-run": None if cli is None else [*cli, "run", "--", "/bin/true"],
            "cli-run-rootfs": None if cli is None else [*cli, "run", "--rootfs", self.root, "--", "/bin/true"],
            "python-isolated": [py, "-I", "-S", "-c", "pass"],
            "python": [py, "-c", "pass"],
            "import-pycontain": [py, "-c", "import pycontain"],
            "import-pycontain-isolated": [py, "-I", "-S", "-c",
                                          f"import sys; sys.path.insert(0, {pkg_parent!r}); import pycontain"],
        }
        for row, cmd in extra.items():
            if row not in a.rows:
                continue
            if cmd is None:
                self.notes[(row, "pycontain-runc")] = "no `pycontain` beside this Python or on PATH"
            else:
                self.extra_cmds[row] = cmd
                self.commands[row] = describe(cmd)

    def _add(self, name: str, argv: list[str], env: dict[str, str] | None,
             helper: CrunHelper | None = None) -> None:
        rt = Runtime(name, argv, os.path.join(self.tmp, f"state-{name}"), self.outdir, env, helper)
        self.runtimes.append(rt)
        self.commands[name] = describe(argv)

    # -- one round -----------------------------------------------------------------------

    def _id(self, rt: Runtime) -> str:
        self.seq += 1
        return f"v{os.getpid()}-{rt.name}-{self.seq}"

    def _keep(self, row: str, col: str, t: float, keep: bool) -> None:
        if keep:
            self.samples.setdefault((row, col), []).append(t)

    def _fail(self, row: str, col: str, e: Exception) -> None:
        if (row, col) not in self.notes:
            self.notes[(row, col)] = f"failed: {e}"
            print(f"  {col} {row}: failed: {e}", file=sys.stderr)

    def lifecycle(self, rt: Runtime, keep: bool) -> None:
        rows = set(self.args.rows)
        if any(r.startswith("cli-run") for r in rows):
            rows.add("run")   # the cli rows' reference
        if any(v in rows for v in LIFECYCLE if v != "run"):
            cid = self._id(rt)
            set_bundle(self.bundle_sleep, cid)
            step = "create"
            self.live[cid] = rt
            try:
                r = rt.check("create", "--bundle", self.bundle_sleep, cid)
                self._keep("create", rt.name, r["t"], keep)
                st: dict[str, Any] = {}
                for step, args in (("state", ("state", cid)), ("start", ("start", cid)),
                                   ("state-running", ("state", cid)),
                                   ("exec", ("exec", cid, "/bin/true")), ("list", ("list",))):
                    if step in rows or step == "start":
                        r = rt.check(*args)
                        self._keep(step, rt.name, r["t"], keep)
                        if step == "state" and (got := json.loads(r["out"])["status"]) != "created":
                            raise Failed(f"`state` after create says {got!r}")
                        if step == "state-running":
                            st = json.loads(r["out"])
                step = "state-running"
                st = st or rt.state_of(cid)
                if st.get("status") != "running":
                    raise Failed(f"`state` after start says {st.get('status')!r}")
                pid = int(st["pid"])
                step = "kill"
                r = rt.check("kill", cid, "KILL")
                self._keep("kill", rt.name, r["t"], keep)
                deadline = time.monotonic() + STOP_TIMEOUT
                while True:
                    reap(pid)
                    if rt.state_of(cid).get("status") == "stopped":
                        break
                    if time.monotonic() > deadline:
                        raise Failed(f"still not stopped {STOP_TIMEOUT:.0f} s after `kill {cid} KILL`")
                    time.sleep(0.002)
                step = "delete"
                r = rt.check("delete", cid)
                self.live.pop(cid)
                self._keep("delete", rt.name, r["t"], keep)
                self.check_gone(rt, cid)
            except (Failed, ValueError, KeyError) as e:
                self._fail(step, rt.name, e)
                self.force_delete(cid)
        if "run" in rows:
            cid = self._id(rt)
            set_bundle(self.bundle_true, cid)
            self.live[cid] = rt
            try:
                r = rt.check("run", "--bundle", self.bundle_true, cid)
                self._keep("run", rt.name, r["t"], keep)
            except Failed as e:
                self._fail("run", rt.name, e)
            self.force_delete(cid)   # `run` deletes it; only a failure leaves state behind

    def check_gone(self, rt: Runtime, cid: str) -> None:
        """What `delete` should have removed: the state and the container's cgroups (noted,
        not fatal: a runtime that leaves them is odd, and the cleanup removes them)."""
        left = ["its state dir"] if os.path.exists(os.path.join(rt.state, cid)) else []
        with contextlib.suppress(OSError):
            hier = [h for h in [*os.listdir(startup.CGROUP_ROOT), ""]
                    if os.path.isdir(os.path.join(startup.CGROUP_ROOT, h, CG_PARENT, cid))]
            if hier:
                left.append("its cgroup in " + ", ".join(h or "/sys/fs/cgroup" for h in hier))
        if left:
            key = f"{rt.name}: `delete` left {' and '.join(left)}"
            self.oddities[key] = self.oddities.get(key, 0) + 1

    def force_delete(self, cid: str) -> None:
        rt = self.live.pop(cid, None)
        if rt is not None and os.path.exists(os.path.join(rt.state, cid)):
            rt.call("delete", "--force", cid)

    def extra(self, row: str, keep: bool) -> None:
        r = run_cmd(self.extra_cmds[row], self.outdir, self.env)
        if r["rc"] != 0:
            msg = (r["err"].strip().splitlines() or ["(no stderr)"])[-1]
            self._fail(row, "pycontain-runc", Failed(f"exit status {r['rc']}: {msg[:200]}"))
            return
        self._keep(row, "pycontain-runc", r["t"], keep)

    def run(self) -> None:
        units: list[tuple[str, Any]] = [("rt", rt) for rt in self.runtimes]
        units += [("extra", row) for row in self.extra_cmds]
        keep_pids = {self.crun.proc.pid} if self.crun else set()
        total = self.args.warmup + self.args.n
        t_start = time.monotonic()
        for i in range(total):
            k = i % len(units) if units else 0
            for kind, what in units[k:] + units[:k]:
                if kind == "rt":
                    self.lifecycle(what, i >= self.args.warmup)
                else:
                    self.extra(what, i >= self.args.warmup)
            reap_orphans(keep_pids)
            if sys.stderr.isatty():
                print(f"\r  round {i + 1}/{total} ({time.monotonic() - t_start:.0f} s)",
                      end="", file=sys.stderr, flush=True)
        if sys.stderr.isatty():
            print(file=sys.stderr)

    # -- results -------------------------------------------------------------------------

    def results(self) -> dict[str, Any]:
        rows: dict[str, Any] = {}
        for row in self.args.rows:
            # the lifecycle rows: each runtime's own verb; the others: their command in the
            # first column, and beside the cli rows the runtimes' `run` of the same round
            if row in LIFECYCLE:
                where = {c: (row, c) for c in RUNTIMES if c in self.args.runtimes}
            else:
                where = {"pycontain-runc": (row, "pycontain-runc")}
                if row.startswith("cli-run"):
                    where.update({c: ("run", c) for c in ("runc", "crun") if c in self.args.runtimes})
            cells: dict[str, Any] = {}
            for col, (srow, scol) in where.items():
                note = self.notes.get((srow, scol))
                if note is None and row in LIFECYCLE:
                    note = self.notes.get(("*", scol))
                s = self.samples.get((srow, scol), [])
                if not note and not s:
                    # a lifecycle that failed earlier on (its `create`, say) never got here
                    why = [v for v in LIFECYCLE if (v, scol) in self.notes]
                    note = f"no samples (`{why[0]}` failed)" if why else "no samples"
                if note or not s:
                    cells[col] = {"note": note}
                    continue
                ms = sorted(x * 1000 for x in s)
                cells[col] = {"n": len(ms), "median_ms": statistics.median(ms),
                              "p90_ms": ms[max(0, math.ceil(0.9 * len(ms)) - 1)], "min_ms": ms[0],
                              "samples_ms": [x * 1000 for x in s]}
            r: dict[str, Any] = {"label": ROW_LABELS[row], "cells": cells}
            for ref in ("runc", "crun"):
                other = cells.get(ref, {}).get("median_ms")
                for col, key in (("pycontain-runc", f"x_{ref}"), ("python-runc", f"python_runc_x_{ref}")):
                    mine = cells.get(col, {}).get("median_ms")
                    if mine is not None and other:
                        r[key] = mine / other
            rows[row] = r
        # targets
        for row, r in rows.items():
            if row in RATIO_TARGETS:
                val = r.get("x_runc")
                r["target"] = f"<= {RATIO_TARGETS[row]:.1f}x runc"
                r["met"] = None if val is None else val <= RATIO_TARGETS[row]
        for row, base in IMPORT_TARGETS.items():
            if row not in rows:
                continue
            imp = rows[row]["cells"].get("pycontain-runc", {}).get("median_ms")
            bare = rows.get(base, {}).get("cells", {}).get("pycontain-runc", {}).get("median_ms")
            r = rows[row]
            r["target"] = f"<= +{IMPORT_LIMIT_MS:.0f} ms over `{ROW_LABELS[base]}`"
            r["over_bare_ms"] = None if imp is None or bare is None else imp - bare
            r["met"] = None if r["over_bare_ms"] is None else r["over_bare_ms"] <= IMPORT_LIMIT_MS
        return rows

    # -- cleanup -------------------------------------------------------------------------

    def cleanup(self) -> None:
        for cid in list(self.live):
            with contextlib.suppress(Exception):
                self.force_delete(cid)
        # anything an interrupted verb left in our own state dirs
        for rt in self.runtimes:
            for cid in startup._state_ids(rt.state):
                with contextlib.suppress(Exception):
                    rt.call("delete", "--force", cid)
        if self.crun is not None:
            self.crun.close()
        kill_cgroup_procs(CG_PARENT)
        with contextlib.suppress(Exception):
            reap_orphans(set())
        startup._remove_cgroups(CG_PARENT)
        startup._remove_tree(self.tmp)


# --------------------------------------------------------------------------------------------
# output

def _cell(c: dict[str, Any] | None) -> str:
    if c is None:
        return "-"
    if "median_ms" not in c:
        note = c["note"]
        return "(failed)" if note.startswith("failed") else "(none)" if note.startswith("no ") else "(n/a)"
    return f"{c['median_ms']:.1f} / {c['p90_ms']:.1f}"


def fmt_table(rows: dict[str, Any], cols: list[str]) -> str:
    lw = max(len(r["label"]) for r in rows.values()) if rows else 10
    head = f"{'verb':<{lw}}" + "".join(f" {c + ' ms':>18}" for c in cols)
    head += f" {'vs runc':>8} {'vs crun':>8}"
    if "python-runc" in cols:
        head += f" {'py/runc':>8}"
    head += "  target"
    out = [head, "-" * (len(head) + 30)]
    out.append(f"{'':<{lw}}" + "".join(f" {'median / p90':>18}" for _ in cols))
    for row, r in rows.items():
        line = f"{r['label']:<{lw}}" + "".join(f" {_cell(r['cells'].get(c)):>18}" for c in cols)
        for key in ("x_runc", "x_crun"):
            line += f" {(f'{r[key]:.2f}x' if key in r else '-'):>8}"
        if "python-runc" in cols:
            x = r.get("python_runc_x_runc")
            line += f" {(f'{x:.2f}x' if x is not None else '-'):>8}"
        if "target" in r:
            verdict = "n/a" if r["met"] is None else "met" if r["met"] else "MISSED"
            extra = f" ({r['over_bare_ms']:+.1f} ms)" if r.get("over_bare_ms") is not None else ""
            line += f"  {r['target']}{extra}: {verdict}"
        out.append(line)
    notes = [(row, c, cell["note"]) for row, r in rows.items() for c, cell in r["cells"].items()
             if "note" in cell]
    if notes:
        out.append("")
    seen: set[tuple[str, str]] = set()
    for row, c, note in notes:
        if (c, note) not in seen:
            seen.add((c, note))
            out.append(f"  {c} {rows[row]['label']}: {note}")
    return "\n".join(out)


def env_info(args: argparse.Namespace) -> dict[str, Any]:
    return startup.base_env_info(args)


def main(argv: list[str] | None = None) -> int:
    if argv is None:
        argv = sys.argv[1:]
    if len(argv) == 3 and argv[0] == "--crun-helper":
        return crun_helper_main(argv[1], argv[2])
    ap = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        epilog="rows: " + ", ".join(ROWS) + "; runtimes: " + ", ".join(RUNTIMES))
    ap.add_argument("-n", "--n", type=int, default=20, help="timed rounds (default 20)")
    ap.add_argument("--warmup", type=int, default=1, help="untimed rounds first (default 1)")
    ap.add_argument("--rows", "--verbs", action="append", metavar="ROW",
                    help="only these rows (repeat or comma-separate; default all)")
    ap.add_argument("--runtimes", action="append", metavar="RT",
                    help="only these columns (default pycontain-runc,runc,crun; add python-runc "
                         "with --python-runc)")
    ap.add_argument("--pycontain-runc", metavar="CMD",
                    help="the pycontain-runc to time (a path or a command line; default: the one "
                         "beside this Python, else PATH's)")
    ap.add_argument("--python-runc", action="store_true",
                    help="also a column `python -m pycontain.cli.runc` (the pure-Python path)")
    ap.add_argument("--pycontain", metavar="CMD",
                    help="the pycontain CLI for the cli-run rows (default: beside this Python, else PATH's)")
    ap.add_argument("--json", metavar="FILE", help="also write the results (with all samples) here")
    args = ap.parse_args(argv)

    def listed(values: list[str] | None, allowed: list[str], what: str) -> list[str]:
        got = [x for v in (values or []) for x in v.split(",") if x]
        bad = [x for x in got if x not in allowed]
        if bad:
            ap.error(f"unknown {what} {', '.join(bad)}; {what}s: {', '.join(allowed)}")
        return [x for x in allowed if x in got]

    args.rows = listed(args.rows, ROWS, "row") or list(ROWS)
    args.runtimes = listed(args.runtimes, RUNTIMES, "runtime") or [
        r for r in RUNTIMES if r != "python-runc" or args.python_runc]
    if args.python_runc and "python-runc" not in args.runtimes:
        args.runtimes.append("python-runc")
    args.runtimes = [r for r in RUNTIMES if r in args.runtimes]
    if args.n < 1 or args.warmup < 0:
        ap.error("-n must be at least 1 and --warmup at least 0")
    if startup.preflight("verbs.py"):
        return 2
    startup.clean_up_on_signals()
    # container inits outlive the verb that made them: as conmon and containerd's shim, we
    # are the subreaper that inherits and reaps them
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0:
        print(f"prctl(PR_SET_CHILD_SUBREAPER): {os.strerror(ctypes.get_errno())}", file=sys.stderr)
        return 2

    info = env_info(args)
    print(f"# pycontain per-verb bench, {info['date']}, kernel {info['kernel']}, {info['cpus']} CPUs, "
          f"Python {info['python']}")
    print(f"# pycontain {info['pycontain']}")
    print(f"# {info['runc']}; {info['crun']}")
    bench = Bench(args)
    interrupted = False
    try:
        bench.setup()
        for name, what in bench.commands.items():
            print(f"# {name}: {what}")
        print(f"# N={args.n} rounds after {args.warmup} warm-up; each round: every runtime's lifecycle "
              "(order rotated) and the extra rows; wall clock per command in ms", flush=True)
        bench.run()
    except KeyboardInterrupt:
        interrupted = True
    finally:
        with contextlib.suppress(KeyboardInterrupt):
            bench.cleanup()
    if interrupted:
        print("\ninterrupted; cleaned up", file=sys.stderr)
        return 130
    rows = bench.results()
    cols = [c for c in RUNTIMES if c in args.runtimes or (c == "pycontain-runc" and set(EXTRA) & set(args.rows))]
    print(fmt_table(rows, cols))
    for what, times in bench.oddities.items():
        print(f"  odd: {what} ({times}x)")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"env": info, "commands": bench.commands, "rows": rows,
                       "oddities": bench.oddities}, f, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
