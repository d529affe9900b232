"""`HOME`: a process env without it gets the user's home from the container's /etc/passwd,
or `/` (runc's rule), for the init and for `exec`; one given is kept."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from helpers import wait_for
from ocihelpers import CLI, Bundle

PASSWD = ("root:x:0:0:root:/root:/bin/sh\n"
          "u:x:1000:1000:a user:/home/u:/bin/sh\n"
          "nobody:x:65534:65534:nobody:/nonexistent:/bin/false\n")


def _passwd(b: Bundle, text: str) -> None:
    # the rootfs is hard-linked from a shared one: a new file, never a write into that one
    p = b.rootfs / "etc" / "passwd"
    p.unlink()
    p.write_text(text)


def _homes(env_out: str) -> list[str]:
    return [e for e in env_out.splitlines() if e.startswith("HOME=")]


@pytest.mark.parametrize("uid, home", [(1000, "/home/u"), (0, "/root"), (4242, "/")])
def test_home_from_passwd(cli: CLI, bundle, uid: int, home: str) -> None:
    b = bundle("env", env=["PATH=/bin"], user={"uid": uid, "gid": uid})
    _passwd(b, PASSWD)
    assert _homes(cli.output(b)) == [f"HOME={home}"]


def test_home_given_is_kept(cli: CLI, bundle) -> None:
    b = bundle("env", env=["PATH=/bin", "HOME=/mine"], user={"uid": 1000, "gid": 1000})
    _passwd(b, PASSWD)
    assert _homes(cli.output(b)) == ["HOME=/mine"]


def test_home_without_passwd_is_root_dir(cli: CLI, bundle) -> None:
    b = bundle("env", env=["PATH=/bin"], user={"uid": 1000, "gid": 1000})
    (b.rootfs / "etc" / "passwd").unlink()
    assert _homes(cli.output(b)) == ["HOME=/"]


def test_home_passwd_symlink_is_resolved_inside_the_rootfs(
        cli: CLI, bundle, tmp_path: Path) -> None:
    """/etc/passwd a symlink: followed inside the rootfs as the container would, never to
    the host's file that the same link names from the host."""
    outside = tmp_path / "host-passwd"
    outside.write_text("u:x:1000:1000::/from/the/host:/bin/sh\n")
    b = bundle("env", env=["PATH=/bin"], user={"uid": 1000, "gid": 1000})
    _passwd(b, PASSWD)
    (b.rootfs / "etc" / "real-passwd").write_text("u:x:1000:1000::/from/the/rootfs:/bin/sh\n")
    p = b.rootfs / "etc" / "passwd"
    p.unlink()
    p.symlink_to("/../../../etc/./real-passwd")  # .. stops at the container's root
    assert _homes(cli.output(b)) == ["HOME=/from/the/rootfs"]
    for target in (str(outside), "../" * 40 + str(outside).lstrip("/")):
        p.unlink()
        p.symlink_to(target)  # from the host, both name the file outside
        assert os.path.exists(p)
        assert _homes(cli.output(b)) == ["HOME=/"]


def test_home_from_a_bind_mounted_passwd(cli: CLI, bundle, tmp_path: Path) -> None:
    """A bind of the spec over /etc/passwd is what the container sees: its entry counts."""
    mounted = tmp_path / "passwd"
    mounted.write_text("u:x:1000:1000::/home/bound:/bin/sh\n")
    b = bundle("env", env=["PATH=/bin"], user={"uid": 1000, "gid": 1000})
    _passwd(b, PASSWD)
    b.config["mounts"].append({"destination": "/etc/passwd", "type": "bind",
                               "source": str(mounted), "options": ["bind", "ro"]})
    b.write()
    assert _homes(cli.output(b)) == ["HOME=/home/bound"]


def test_exec_home(cli: CLI, bundle) -> None:
    b = bundle("sleep", "30", env=["PATH=/bin"])
    _passwd(b, PASSWD)
    cid, r = cli.create(b)
    cli.run("start", cid)
    wait_for(lambda: r.stdout == "sleeping\n", what="the probe to start")

    def home(*flags: str) -> list[str]:
        return _homes(cli.run("exec", *flags, cid, "/probe", "env").stdout)

    assert home() == ["HOME=/root"]
    assert home("--user", "1000:1000") == ["HOME=/home/u"]
    assert home("--user", "4242") == ["HOME=/"]
    assert home("--user", "1000", "--env", "HOME=/given") == ["HOME=/given"]
    # read through the container's own root: a change there is what exec sees
    os.unlink(b.rootfs / "etc" / "passwd")
    (b.rootfs / "etc" / "passwd").write_text("u:x:1000:1000::/home/changed:/bin/sh\n")
    assert home("--user", "1000") == ["HOME=/home/changed"]
