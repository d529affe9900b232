#!/usr/bin/env python3
"""The light runc verbs answered by the C front end (csrc/front_verbs.c) against the same
``pycontain-runc`` sent to Python (``PYCONTAIN_NO_FAST_VERBS=1``), runc and crun.

Each round runs, for each column in turn (the order rotated per round), one container's
lifecycle on the same busybox bundle (``sleep 1000``), timing as one whole process each:
``start``, ``state`` (running), ``list`` (one container), ``kill ID CONT`` (a signal that
leaves it running), then, untimed, ``kill ID KILL`` until ``state`` says stopped, and
``delete`` (stopped).  ``create`` is untimed.  Medians and p90 per verb, in milliseconds.

Everything runs in a private mount namespace (``unshare -m``) whose
``/sys/fs/cgroup/unified/cgroup.controllers`` is an empty file: crun 1.8 refuses hybrid
hosts whose unified hierarchy lists a controller, and so every column pays the same.

Run as root:  python bench/front_verbs.py [-n 30] [--json FILE]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import startup  # bench/startup.py: rootfs and cgroup helpers

VERBS = ["start", "state", "list", "kill", "delete"]
UNIFIED_CONTROLLERS = "/sys/fs/cgroup/unified/cgroup.controllers"
CG_PARENT = f"pycontain-frontbench-{os.getpid()}"


#: where the commands' stdout and stderr go: files, not pipes (the container that `create`
#: leaves running inherits them, and would keep a pipe open)
OUT_DIR = ""


def timed(cmd: list[str], env: dict[str, str] | None) -> tuple[float, subprocess.CompletedProcess]:
    """Run *cmd*; the wall clock around its start and wait only."""
    with open(os.path.join(OUT_DIR, "out"), "w+b") as out, \
            open(os.path.join(OUT_DIR, "err"), "w+b") as err:
        t0 = time.perf_counter()
        rc = subprocess.run(cmd, stdin=subprocess.DEVNULL, stdout=out, stderr=err, env=env,
                            check=False).returncode
        t = time.perf_counter() - t0
        out.seek(0)
        err.seek(0)
        return t, subprocess.CompletedProcess(cmd, rc, out.read(), err.read())


def check(p: subprocess.CompletedProcess, what: str) -> None:
    if p.returncode != 0:
        raise SystemExit(f"{what} failed ({p.returncode}): {p.stderr.decode(errors='replace')}")


def bundle(path: str, rootfs: str) -> str:
    os.makedirs(path)
    subprocess.run(["runc", "spec", "--bundle", path], check=True)
    with open(os.path.join(path, "config.json")) as f:
        cfg = json.load(f)
    cfg["root"] = {"path": rootfs, "readonly": True}
    cfg["process"]["terminal"] = False
    cfg["process"]["args"] = ["/bin/sleep", "1000"]
    with open(os.path.join(path, "config.json"), "w") as f:
        json.dump(cfg, f)
    return path


def set_cgroup(path: str, cid: str) -> None:
    cfg_path = os.path.join(path, "config.json")
    with open(cfg_path) as f:
        cfg = json.load(f)
    cfg["linux"]["cgroupsPath"] = f"/{CG_PARENT}/{cid}"
    with open(cfg_path, "w") as f:
        json.dump(cfg, f)


def lifecycle(name: str, exe: list[str], env: dict[str, str] | None, root: str, bdir: str,
              cid: str) -> dict[str, float]:
    base = [*exe, "--root", root]
    set_cgroup(bdir, cid)
    _, p = timed([*base, "create", "--bundle", bdir, cid], env)
    check(p, f"{name} create")
    out = {}
    for verb, args in (("start", ["start", cid]), ("state", ["state", cid]), ("list", ["list"]),
                       ("kill", ["kill", cid, "CONT"])):
        out[verb], p = timed([*base, *args], env)
        check(p, f"{name} {verb}")
        if verb == "state":
            assert json.loads(p.stdout)["status"] == "running", p.stdout
    check(timed([*base, "kill", cid, "KILL"], env)[1], f"{name} kill KILL")
    deadline = time.monotonic() + 10
    while json.loads(timed([*base, "state", cid], env)[1].stdout)["status"] != "stopped":
        if time.monotonic() > deadline:
            raise SystemExit(f"{name}: {cid} did not stop")
        time.sleep(0.005)
    out["delete"], p = timed([*base, "delete", cid], env)
    check(p, f"{name} delete")
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("-n", type=int, default=30, help="rounds (default 30)")
    ap.add_argument("--json", metavar="FILE", help="also write every sample here")
    ap.add_argument("--in-namespace", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if not args.in_namespace:
        # the whole run in a private mount namespace (see the module's docstring)
        return subprocess.run(["unshare", "-m", "--propagation", "private", "--",
                               sys.executable, os.path.abspath(__file__), "--in-namespace",
                               *sys.argv[1:]], check=False).returncode
    global OUT_DIR
    tmp = OUT_DIR = tempfile.mkdtemp(prefix="frontbench-")
    try:
        if os.path.exists(UNIFIED_CONTROLLERS):
            empty = os.path.join(tmp, "empty")
            open(empty, "w").close()
            subprocess.run(["mount", "--bind", empty, UNIFIED_CONTROLLERS], check=True)
        rootfs = os.path.join(tmp, "rootfs")
        startup.build_rootfs(rootfs)
        pyc = os.path.join(os.path.dirname(sys.executable), "pycontain-runc")
        slow_env = dict(os.environ, PYCONTAIN_NO_FAST_VERBS="1")
        columns = {
            "C": ([pyc], None),
            "Python": ([pyc], slow_env),
            "runc": ([shutil.which("runc") or "runc"], None),
            "crun": ([shutil.which("crun") or "crun"], None),
        }
        samples: dict[str, dict[str, list[float]]] = {c: {v: [] for v in VERBS} for c in columns}
        roots = {}
        for c in columns:
            roots[c] = os.path.join(tmp, f"state-{c}")
            bundle(os.path.join(tmp, f"bundle-{c}"), rootfs)
        order = list(columns)
        for rnd in range(args.n + 1):  # round 0: warm-up, not counted
            for c in order:
                exe, env = columns[c]
                got = lifecycle(c, exe, env, roots[c], os.path.join(tmp, f"bundle-{c}"),
                                f"fb{rnd}-{c.lower()}")
                if rnd:
                    for v, t in got.items():
                        samples[c][v].append(t * 1000)
            order = order[1:] + order[:1]
        print(f"{args.n} rounds, interleaved; ms, median (p90)")
        print(f"{'verb':8}" + "".join(f"{c:>16}" for c in columns) + f"{'C/runc':>9}{'C/crun':>9}")
        for v in VERBS:
            cells, med = [], {}
            for c in columns:
                xs = sorted(samples[c][v])
                med[c] = statistics.median(xs)
                p90 = xs[min(len(xs) - 1, round(0.9 * (len(xs) - 1)))]
                cells.append(f"{med[c]:7.2f} ({p90:6.2f})")
            print(f"{v:8}" + "".join(f"{x:>16}" for x in cells)
                  + f"{med['C'] / med['runc']:9.2f}{med['C'] / med['crun']:9.2f}")
        if args.json:
            with open(args.json, "w") as f:
                json.dump(samples, f)
        return 0
    finally:
        for c in ("C", "Python", "runc", "crun"):
            state = os.path.join(tmp, f"state-{c}")
            exe = {"runc": "runc", "crun": "crun"}.get(c, os.path.join(
                os.path.dirname(sys.executable), "pycontain-runc"))
            for cid in startup._state_ids(state):
                subprocess.run([exe, "--root", state, "delete", "-f", cid],
                               stdin=subprocess.DEVNULL, capture_output=True, check=False)
        startup._remove_cgroups(CG_PARENT)
        startup._remove_tree(tmp)


if __name__ == "__main__":
    sys.exit(main())
