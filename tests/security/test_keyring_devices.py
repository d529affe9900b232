"""Session keyrings and the device cgroup.

Keys are not namespaced: a container that shares the caller's session keyring can read
(or plant) keys for the host's programs.  Each container gets a new session keyring, as
runc gives it.  And a container's root may make any device node, so the device cgroup
must deny every device but the standard ones, in the library's default path as in OCI.
"""

from __future__ import annotations

import re
import subprocess
from collections.abc import Callable
from pathlib import Path

from ocihelpers import CLI, Bundle
from sechelpers import run_bundle

from pycontain import Capabilities, Container, RootFS
from pycontain.cgroups import DeviceRule, Resources

KEYRING = re.compile(r"^(\d+) keyring;(\d+);(\d+);([0-9a-f]+);(.*)$")


def _host_keyring(payload: Path) -> int:
    out = subprocess.run([str(payload), "keyring"], capture_output=True, text=True, check=True,
                         timeout=30).stdout
    m = KEYRING.match(out.strip())
    assert m, out
    return int(m.group(1))


def _keyring(out: str) -> tuple[int, str, str]:
    m = KEYRING.match(out.strip())
    assert m, out
    return int(m.group(1)), m.group(4), m.group(5)


def test_each_container_gets_its_own_session_keyring(make_rootfs: Callable[[], Path],
                                                     payload: Path) -> None:
    host = _host_keyring(payload)
    # keyctl() is refused by the default seccomp profile (EPERM): the keyrings are the
    # kernel's answer without it
    with Container(rootfs=make_rootfs(), cgroup=True, seccomp=None) as c:
        first = _keyring(c.run(["/payload", "keyring"], capture_output=True, text=True).stdout)
        second = _keyring(c.run(["/payload", "keyring"], capture_output=True, text=True).stdout)
    assert len({host, first[0], second[0]}) == 3
    # anonymous, and searchable by its user as runc makes it
    assert first[2] == "_ses" and int(first[1], 16) & 0x080000
    # opting out keeps the caller's, which then is reachable from inside
    with Container(rootfs=make_rootfs(), cgroup=True, new_keyring=False, seccomp=None) as c:
        shared = _keyring(c.run(["/payload", "keyring"], capture_output=True, text=True).stdout)
    assert shared[0] == host


def test_oci_keyring_is_named_after_the_container(runc: CLI, bundle: Callable[..., Bundle],
                                                  payload: Path) -> None:
    host = _host_keyring(payload)
    r = run_bundle(runc, bundle("/payload", "keyring"))
    assert r.returncode == 0, r
    cid = runc.ids[-1]
    serial, _perm, name = _keyring(r.stdout)
    assert serial != host and name == f"_ses.{cid}"
    # --no-new-keyring: the runtime's own session keyring, as with runc
    r = run_bundle(runc, bundle("/payload", "keyring"), extra=("--no-new-keyring",))
    assert r.returncode == 0, r
    assert _keyring(r.stdout)[0] == host


def test_default_device_cgroup_denies_devices_outside_the_allowlist(
        make_rootfs: Callable[[], Path]) -> None:
    # CAP_MKNOD on purpose: making the node must not give access to the device
    caps = Capabilities.of(["CAP_MKNOD", "CAP_DAC_OVERRIDE"])
    # /dev/fuse: outside runc's list (Docker denies it by name)
    with Container(rootfs=make_rootfs(), cgroup=True, capabilities=caps) as c:
        fuse = c.run(["/payload", "devopen", "/tmp/fuse", "10", "229"], capture_output=True, text=True)
        null = c.run(["/payload", "devopen", "/tmp/null", "1", "3"], capture_output=True, text=True)
    assert fuse.stdout.strip() == "open: Operation not permitted"
    assert null.stdout.strip() == "open ok"
    # the same with pycontain.run's default (a fresh cgroup) over the host's /
    with Container(rootfs=RootFS.host(), cgroup=Resources(pids_max=64), capabilities=caps) as c:
        # /dev: its tmpfs allows device nodes (/tmp's is nodev)
        r = c.run(["sh", "-c", "mknod /dev/fuse2 c 10 229 && head -c 0 /dev/fuse2"],
                  capture_output=True, text=True)
    assert r.returncode != 0 and "Operation not permitted" in r.stderr, r
    # explicit rules replace the default: allow everything
    allow_all = Resources(devices=(DeviceRule(True, "a"),))
    with Container(rootfs=make_rootfs(), cgroup=allow_all, capabilities=caps) as c:
        fuse = c.run(["/payload", "devopen", "/tmp/fuse", "10", "229"], capture_output=True, text=True)
    assert fuse.stdout.strip() == "open ok"
