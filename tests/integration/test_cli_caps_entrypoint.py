"""Docker's --cap-drop and --entrypoint on `pycontain run`, foreground and detached (-d):
drops before adds (ALL empties the set), the entrypoint replaces the command's program, and
a bad name is one line naming its flag with nothing left behind."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from test_engine import Cli, cli  # noqa: F401 - the engine-root fixture

from pycontain.images.container import ImageDefaults
from pycontain.lowlevel.kernel import CAPABILITIES

REPO = str(Path(__file__).resolve().parents[2])
ENV = {**os.environ, "PYTHONPATH": REPO}


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "pycontain", "run", *args], env=ENV,
                          capture_output=True, text=True, timeout=60)


def _cap_eff(out: str) -> int:
    return int(next(line for line in out.splitlines() if line.startswith("CapEff:")).split()[1], 16)


def _bit(name: str) -> int:
    return 1 << CAPABILITIES[name]


def test_cap_drop_then_add(busybox_rootfs: Path) -> None:
    show = ["--", "grep", "CapEff", "/proc/self/status"]
    default = _cap_eff(_run("--rootfs", str(busybox_rootfs), *show).stdout)
    assert default & _bit("CAP_KILL")
    r = _run("--rootfs", str(busybox_rootfs), "--cap-drop", "kill", *show)
    assert _cap_eff(r.stdout) == default & ~_bit("CAP_KILL"), r.stderr
    r = _run("--rootfs", str(busybox_rootfs), "--cap-drop", "ALL", "--cap-add",
             "net_bind_service", *show)
    assert _cap_eff(r.stdout) == _bit("CAP_NET_BIND_SERVICE"), r.stderr
    r = _run("--rootfs", str(busybox_rootfs), "--cap-drop", "ALL", *show)
    assert _cap_eff(r.stdout) == 0


def test_entrypoint_on_a_command(busybox_rootfs: Path) -> None:
    r = _run("--rootfs", str(busybox_rootfs), "--entrypoint", "/bin/echo", "--", "hi", "there")
    assert (r.returncode, r.stdout) == (0, "hi there\n"), r.stderr


def test_entrypoint_replaces_the_images_entrypoint_and_cmd() -> None:
    d = ImageDefaults(entrypoint=("/entry",), cmd=("serve",), env=(), workdir=None, user=None,
                      stop_signal=None, exposed_ports=(), labels={})
    assert d.argv() == ["/entry", "serve"]
    assert d.argv(["x"]) == ["/entry", "x"]
    assert d.argv(entrypoint="/bin/sh") == ["/bin/sh"]           # the image's Cmd goes too
    assert d.argv(["-c", "id"], entrypoint="/bin/sh") == ["/bin/sh", "-c", "id"]
    assert d.argv(["id"], entrypoint="") == ["id"]


def test_bad_capability_names_are_one_line(busybox_rootfs: Path, cli: Cli) -> None:  # noqa: F811
    for flag in ("--cap-drop", "--cap-add"):
        r = _run("--rootfs", str(busybox_rootfs), flag, "bogus", "--", "true")
        assert r.returncode == 125
        assert r.stderr == f"pycontain run: {flag}: unknown capability 'bogus'\n"
        r = cli("run", "-d", "--rootfs", str(busybox_rootfs), flag, "bogus", "--", "true",
                check=False)
        assert r.returncode == 125 and r.stderr.count("\n") == 1 and flag in r.stderr
    assert cli("ps", "-a", "-q").stdout == ""


def test_detached_keeps_its_drops_across_a_restart(busybox_rootfs: Path, cli: Cli) -> None:  # noqa: F811
    cid = cli("run", "-d", "--rootfs", str(busybox_rootfs), "--cap-drop", "ALL",
              "--cap-add", "chown", "--entrypoint", "/bin/sh", "--", "-c",
              "grep CapEff /proc/self/status").stdout.strip()
    assert cli("wait", cid).stdout.strip() == "0"
    cli("start", cid)
    assert cli("wait", cid).stdout.strip() == "0"
    lines = [x for x in cli("logs", cid).stdout.splitlines() if x.startswith("CapEff")]
    assert len(lines) == 2 and {_cap_eff(x) for x in lines} == {_bit("CAP_CHOWN")}


def test_a_bad_flag_after_anonymous_volumes_leaves_none(busybox_rootfs: Path, tmp_path: Path,
                                                       cli: Cli) -> None:  # noqa: F811
    """run -d makes anonymous volumes before it checks the network flags and the spec: a bad
    --publish, or a start that fails, removes them again."""
    vols = tmp_path / "vols"
    env = {**cli.env, "PYCONTAIN_VOLUME_ROOT": str(vols)}
    for bad in (["-p", "notaport"], ["--", "/no/such/program"]):
        extra = bad if bad[0] != "--" else []
        cmd = ["--", "true"] if bad[0] != "--" else bad
        r = subprocess.run([sys.executable, "-m", "pycontain", "run", "-d", "--rootfs",
                            str(busybox_rootfs), "-v", "/data", "--mount",
                            "type=volume,target=/more", *extra, *cmd],
                           env=env, capture_output=True, text=True, timeout=60)
        assert r.returncode in (125, 127) and r.stderr.count("\n") == 1, r.stderr
        assert not vols.exists() or not [p for p in vols.iterdir()
                                         if not p.name.startswith(".")], list(vols.iterdir())
    assert cli("ps", "-a", "-q").stdout == ""
