"""Paths the runtime resolves inside an attacker's rootfs: /proc through a symlink
(CVE-2019-19921, CVE-2023-27561), a volume over /proc, symlinked mount targets and the
symlink-exchange race (CVE-2021-30465), masking with a swapped /dev/null (CVE-2025-31133), a
swapped /dev/console (CVE-2025-52565) and redirected sysctl writes (CVE-2025-52881)."""

from __future__ import annotations

import ctypes
import os
import threading
import uuid
from collections.abc import Callable
from pathlib import Path

import pytest
from ocihelpers import CLI, TIMEOUT, Bundle, ConsoleSocket
from sechelpers import mountinfo_targets, run_bundle

from pycontain import Container, Mount, RootFS
from pycontain.errors import ConfigError

PROC = Mount("/proc", "proc", "proc", ("nosuid", "noexec", "nodev"))


def _host_secret(tmp_path: Path) -> tuple[Path, bytes]:
    p = tmp_path / "host-secret"
    data = f"host secret {uuid.uuid4()}\n".encode()
    p.write_bytes(data)
    return p, data


# -- /proc through a symlink ----------------------------------------------------------------


def _listing(root: Path) -> dict[str, list[str]]:
    """What /proc could point at (the shared test rootfs may already hold entries)."""
    return {d: sorted(os.listdir(root / d)) for d in ("mnt", "tmp")}


@pytest.mark.parametrize("link", ["/tmp", "mnt", "../../../../tmp"])
def test_runc_proc_symlink_refused(runc: CLI, bundle: Callable[..., Bundle], link: str) -> None:
    b = bundle("true")
    (b.rootfs / "proc").rmdir()
    (b.rootfs / "proc").symlink_to(link)
    before = _listing(b.rootfs)
    r = run_bundle(runc, b)
    assert r.returncode != 0, r
    assert "/proc" in r.stderr and "Traceback" not in r.stderr, r.stderr
    assert _listing(b.rootfs) == before  # nothing was mounted or made where /proc points


def test_runc_sys_symlink_refused(runc: CLI, bundle: Callable[..., Bundle]) -> None:
    b = bundle("true")
    (b.rootfs / "sys").rmdir()
    (b.rootfs / "sys").symlink_to("/tmp")
    r = run_bundle(runc, b)
    assert r.returncode != 0 and "/sys" in r.stderr, r


@pytest.mark.parametrize("link", ["/tmp", "mnt"])
def test_library_proc_symlink_refused(make_rootfs: Callable[[], Path], link: str) -> None:
    root = make_rootfs()
    (root / "proc").rmdir()
    (root / "proc").symlink_to(link)
    before = _listing(root)
    with pytest.raises(OSError) as err:
        Container(rootfs=RootFS(root)).run(["true"], timeout=TIMEOUT)
    assert "/proc" in str(err.value)
    assert _listing(root) == before


def test_runc_volume_over_proc_refused(runc: CLI, bundle: Callable[..., Bundle], tmp_path: Path) -> None:
    fake = tmp_path / "fakeproc"
    fake.mkdir()
    b = bundle("true")
    b.config["mounts"].append({"destination": "/proc", "type": "bind", "source": str(fake),
                               "options": ["rbind"]})
    r = run_bundle(runc, b)
    assert r.returncode != 0, r


def test_library_volume_over_proc_refused(make_rootfs: Callable[[], Path], tmp_path: Path) -> None:
    fake = tmp_path / "fakeproc"
    fake.mkdir()
    with pytest.raises((ConfigError, OSError)):
        Container(rootfs=RootFS(make_rootfs()).with_mounts(Mount.bind(str(fake), "/proc"))).run(
            ["true"], timeout=TIMEOUT)


# -- mount targets through symlinks (CVE-2021-30465) -------------------------------------------


@pytest.mark.parametrize("link", ["/etc", "../../../../../../etc"])
def test_library_bind_target_symlink_stays_inside(make_rootfs: Callable[[], Path], tmp_path: Path,
                                                  link: str) -> None:
    root = make_rootfs()
    (root / "mnt" / "x").symlink_to(link)
    vol = tmp_path / "vol"
    vol.mkdir()
    name = f"pycontain-sec-{uuid.uuid4().hex[:8]}"
    (vol / name).write_text("volume\n")
    c = Container(rootfs=RootFS(root).with_mounts(Mount.bind(str(vol), "/mnt/x")))
    with c.spawn(["sh", "-c", f"cat /etc/{name}; echo; sleep 30"], stdout=-1) as p:
        assert p.stdout is not None
        assert p.stdout.readline() == b"volume\n"
        # meanwhile, on the host: /etc is no mount point and has no such file
        assert "/etc" not in mountinfo_targets()
        assert not os.path.exists(f"/etc/{name}")
        p.kill()
        p.wait(TIMEOUT)
    assert not os.path.exists(f"/etc/{name}")


def test_runc_bind_target_symlink_stays_inside(runc: CLI, bundle: Callable[..., Bundle],
                                               tmp_path: Path) -> None:
    vol = tmp_path / "vol"
    vol.mkdir()
    name = f"pycontain-sec-{uuid.uuid4().hex[:8]}"
    (vol / name).write_text("volume\n")
    b = bundle("sh", "-c", f"cat /etc/{name}; grep -c ' /etc ' /proc/self/mountinfo")
    (b.rootfs / "mnt" / "x").symlink_to("/etc")
    b.config["mounts"].append({"destination": "/mnt/x", "type": "bind", "source": str(vol),
                               "options": ["rbind"]})
    r = run_bundle(runc, b)
    assert r.returncode == 0 and r.stdout == "volume\n1\n", r
    assert not os.path.exists(f"/etc/{name}")


# a missing target beneath a symlink that leads out of the rootfs, to nothing yet: what is made
# for it is made inside the root (issue 16, item 12)
DANGLING = ["../../../../../../{name}", "/{name}", "../../{name}/../../../../{name}"]


@pytest.mark.parametrize("link", DANGLING)
def test_runc_bind_target_dangling_symlink_stays_inside(runc: CLI, bundle: Callable[..., Bundle],
                                                        tmp_path: Path, link: str) -> None:
    vol = tmp_path / "vol"
    vol.mkdir()
    (vol / "f").write_text("volume\n")
    name = f"pycontain-sec-{uuid.uuid4().hex[:8]}"
    b = bundle("cat", f"/{name}/sub/f")
    (b.rootfs / "etc" / "evil").symlink_to(link.format(name=name))
    b.config["mounts"].append({"destination": "/etc/evil/sub", "type": "bind",
                               "source": str(vol), "options": ["rbind"]})
    r = run_bundle(runc, b)
    assert r.returncode == 0 and r.stdout == "volume\n", r
    assert (b.rootfs / name / "sub").is_dir()
    assert not os.path.lexists(f"/{name}")


@pytest.mark.parametrize("link", DANGLING)
def test_library_bind_target_dangling_symlink_stays_inside(make_rootfs: Callable[[], Path],
                                                           tmp_path: Path, link: str) -> None:
    root = make_rootfs()
    vol = tmp_path / "vol"
    vol.mkdir()
    (vol / "f").write_text("volume\n")
    name = f"pycontain-sec-{uuid.uuid4().hex[:8]}"
    (root / "etc" / "evil").symlink_to(link.format(name=name))
    c = Container(rootfs=RootFS(root).with_mounts(Mount.bind(str(vol), "/etc/evil/sub")))
    assert c.run(["cat", f"/{name}/sub/f"], capture_output=True, timeout=TIMEOUT).stdout \
        == b"volume\n"
    assert (root / name / "sub").is_dir()
    assert not os.path.lexists(f"/{name}")


_libc = ctypes.CDLL(None, use_errno=True)
AT_FDCWD = -100
RENAME_EXCHANGE = 2


def test_library_symlink_exchange_race(make_rootfs: Callable[[], Path], tmp_path: Path) -> None:
    """The attacker (a thread standing in for another container sharing the rootfs) swaps the
    mount target between a directory and a symlink to /etc with RENAME_EXCHANGE while
    containers start. Whatever wins, the mount lands inside the rootfs."""
    root = make_rootfs()
    target, decoy = root / "mnt" / "x", root / "mnt" / "y"
    target.mkdir()
    decoy.symlink_to("/etc")
    vol = tmp_path / "vol"
    vol.mkdir()
    name = f"pycontain-sec-{uuid.uuid4().hex[:8]}"
    (vol / name).write_text("volume\n")
    stop = threading.Event()
    swaps = [0]

    def flip() -> None:
        a, b = bytes(target), bytes(decoy)
        while not stop.is_set():
            if _libc.renameat2(AT_FDCWD, a, AT_FDCWD, b, RENAME_EXCHANGE) == 0:
                swaps[0] += 1

    th = threading.Thread(target=flip, daemon=True)
    th.start()
    etc_before = sorted(os.listdir("/etc"))
    outcomes = set()
    try:
        c = Container(rootfs=RootFS(root).with_mounts(Mount.bind(str(vol), "/mnt/x")))
        for _ in range(25):
            try:
                r = c.run(["sh", "-c", f"cat /mnt/x/{name} /etc/{name} 2>/dev/null; true"],
                          capture_output=True, text=True, timeout=TIMEOUT)
                outcomes.add(r.stdout.count("volume"))
            except OSError as err:
                outcomes.add(f"refused {err.errno}")
            assert "/etc" not in mountinfo_targets()
    finally:
        stop.set()
        th.join(5)
    assert swaps[0] > 0
    assert sorted(os.listdir("/etc")) == etc_before
    assert not os.path.exists(f"/etc/{name}")


# -- masking with a swapped /dev/null (CVE-2025-31133) -------------------------------------------


@pytest.mark.parametrize("swap", ["symlink-host", "symlink-inside", "regular-file"])
def test_library_mask_with_swapped_dev_null(make_rootfs: Callable[[], Path], tmp_path: Path,
                                            swap: str) -> None:
    root = make_rootfs()
    secret, data = _host_secret(tmp_path)
    inside = root / "etc" / "inside-file"
    inside.write_text("inside\n")
    null = root / "dev" / "null"
    if swap == "symlink-host":
        null.symlink_to(secret)
    elif swap == "symlink-inside":
        null.symlink_to("/etc/inside-file")
    else:
        null.write_text("fake null\n")
    # no /dev tmpfs: the rootfs's own /dev is what the container sees
    rootfs = RootFS(root, mounts=[PROC], masked_paths=("/proc/version", "/proc/kcore"))
    r = Container(rootfs=rootfs).run(
        ["sh", "-c", "cat /proc/version; stat -c '%F %t:%T' /proc/version; echo x > /proc/version"],
        capture_output=True, text=True, timeout=TIMEOUT)
    assert r.returncode == 0, r
    assert r.stdout == "character special file 1:3\n", r.stdout
    assert secret.read_bytes() == data
    assert inside.read_text() == "inside\n"


def test_runc_mask_with_swapped_dev_null(runc: CLI, bundle: Callable[..., Bundle],
                                         tmp_path: Path) -> None:
    secret, data = _host_secret(tmp_path)
    b = bundle("sh", "-c", "cat /proc/version; stat -c '%F %t:%T' /proc/version")
    b.config["mounts"] = [m for m in b.config["mounts"] if not m["destination"].startswith("/dev")]
    (b.rootfs / "dev" / "null").symlink_to(secret)
    b.linux["maskedPaths"] = [*b.linux.get("maskedPaths", []), "/proc/version"]
    r = run_bundle(runc, b)
    assert r.returncode == 0 and r.stdout == "character special file 1:3\n", r
    assert secret.read_bytes() == data


# -- /dev/console (CVE-2025-52565) -------------------------------------------------------------


def _run_with_console(runc: CLI, b: Bundle, tmp_path: Path) -> tuple[int, bytes, str]:
    b.config["process"]["terminal"] = True
    b.config["mounts"] = [m for m in b.config["mounts"] if not m["destination"].startswith("/dev")]
    b.write()
    sock = ConsoleSocket(tmp_path / f"console-{uuid.uuid4().hex[:6]}.sock")
    try:
        cid, r = runc.create(b, None, "--console-socket", str(sock.path), check=False)
        if r.returncode != 0:
            return r.returncode, b"", r.stderr
        sock.wait_master()
        runc.run("start", cid)
        out = sock.read_all(TIMEOUT)
        runc.wait_status(cid, "stopped")
        return 0, out, ""
    finally:
        sock.close()


def test_runc_console_symlink_to_host_path(runc: CLI, bundle: Callable[..., Bundle],
                                           tmp_path: Path) -> None:
    secret, data = _host_secret(tmp_path)
    b = bundle("sh", "-c", "tty; grep -c console /proc/self/mountinfo")
    (b.rootfs / "dev" / "console").symlink_to(secret)
    before = mountinfo_targets()
    rc, _, err = _run_with_console(runc, b, tmp_path)
    assert "Traceback" not in err
    assert secret.read_bytes() == data
    assert mountinfo_targets() == before
    assert not (b.rootfs / str(secret).lstrip("/")).exists() or rc == 0


def test_runc_console_symlink_inside_stays_inside(runc: CLI, bundle: Callable[..., Bundle],
                                                  tmp_path: Path) -> None:
    b = bundle("sh", "-c", "tty")
    (b.rootfs / "etc" / "target").write_text("inside\n")
    (b.rootfs / "dev" / "console").symlink_to("/etc/target")
    rc, _, err = _run_with_console(runc, b, tmp_path)
    assert rc == 0 or "console" in err, err
    assert (b.rootfs / "etc" / "target").read_text() == "inside\n"


def test_runc_console_symlink_into_procfs_refused(runc: CLI, bundle: Callable[..., Bundle],
                                                  tmp_path: Path) -> None:
    b = bundle("sh", "-c", "grep -c core_pattern /proc/self/mountinfo; true")
    (b.rootfs / "dev" / "console").symlink_to("/proc/sys/kernel/core_pattern")
    rc, out, _ = _run_with_console(runc, b, tmp_path)
    if rc == 0:
        assert out.split()[:1] == [b"0"], f"the pty was mounted over core_pattern: {out!r}"


# -- sysctl writes (CVE-2025-52881) ------------------------------------------------------------


def test_library_sysctl_dotdot_refused(make_rootfs: Callable[[], Path]) -> None:
    c = None
    try:
        c = Container(rootfs=RootFS(make_rootfs()), sysctl={"kernel/../../1/oom_score_adj": "500"})
        r = c.run(["cat", "/proc/self/oom_score_adj"], capture_output=True, text=True,
                  timeout=TIMEOUT)
    except (ConfigError, OSError):
        return
    assert r.stdout != "500\n", "the sysctl write landed outside /proc/sys"


def test_library_host_sysctl_refused(make_rootfs: Callable[[], Path]) -> None:
    current = Path("/proc/sys/vm/overcommit_ratio").read_text().strip()  # rewriting it is harmless
    with pytest.raises(ConfigError):
        Container(rootfs=RootFS(make_rootfs()), sysctl={"vm.overcommit_ratio": current}).run(
            ["true"], timeout=TIMEOUT)


@pytest.mark.parametrize("key", ["kernel/../../1/oom_score_adj", "net/../../1/oom_score_adj",
                                 "vm.overcommit_ratio", "kernel.../../1/oom_score_adj"])
def test_runc_sysctl_outside_proc_sys_refused(runc: CLI, bundle: Callable[..., Bundle],
                                              key: str) -> None:
    b = bundle("cat", "/proc/self/oom_score_adj")
    b.linux["sysctl"] = {key: "500" if "oom" in key else
                         Path("/proc/sys/vm/overcommit_ratio").read_text().strip()}
    r = run_bundle(runc, b)
    assert r.returncode != 0 and "Traceback" not in r.stderr, r


def test_library_sysctl_into_planted_file_refused(make_rootfs: Callable[[], Path]) -> None:
    """No proc mount: /proc/sys/... is a regular file of the rootfs. The write must check it
    lands in a real procfs."""
    root = make_rootfs()
    planted = root / "proc" / "sys" / "net" / "ipv4" / "ip_forward"
    planted.parent.mkdir(parents=True)
    planted.write_text("planted\n")
    with pytest.raises(OSError):
        Container(rootfs=RootFS(root, mounts=()), sysctl={"net.ipv4.ip_forward": "1"}).run(
            ["true"], timeout=TIMEOUT)
    assert planted.read_text() == "planted\n"
