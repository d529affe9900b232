"""Mount targets and sources as runc resolves them: missing targets made inside the root
(through symlinks of the rootfs), sources opened before the user namespace, device nodes in
a user namespace, and bidirectional (rshared) propagation as Kubernetes asks for it."""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import tempfile
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from ocihelpers import CLI, TIMEOUT, Bundle

MAPPED = 100000  # host id of the container's root in the user namespace tests


def _mountpoints(out: str) -> set[str]:
    return {line.split()[4] for line in out.splitlines()}


@pytest.fixture
def userns_bundle(bundle: Callable[..., Bundle]) -> Iterator[Callable[..., Bundle]]:
    """`userns_bundle(*probe_args)`: a bundle in a world-traversable directory (the mapped
    root must reach its rootfs) with a user namespace, root mapped to host id 100000."""
    d = Path(tempfile.mkdtemp(prefix="pycontain-ocitest-", dir="/tmp"))
    d.chmod(0o755)

    def make(*args: str) -> Bundle:
        b = bundle(*args)
        dest = d / b.path.name
        shutil.move(b.path, dest)
        b = Bundle(dest, b.config)
        b.namespace("user")
        b.linux["uidMappings"] = [{"containerID": 0, "hostID": MAPPED, "size": 65536}]
        b.linux["gidMappings"] = [{"containerID": 0, "hostID": MAPPED, "size": 65536}]
        return b.write()

    yield make
    shutil.rmtree(d, ignore_errors=True)


# --------------------------------------------------------------------------- item 12


@pytest.mark.parametrize(("link", "target_exists"), [
    ("/run", False), ("../run", False), ("../../../../run", False), ("/run", True),
])
def test_bind_target_beneath_symlinked_dir_made_inside_root(
        cli: CLI, bundle, tmp_path: Path, link: str, target_exists: bool) -> None:
    """/var/run -> /run in the image, a bind on /var/run/NAME that does not exist: NAME is
    made in the rootfs's /run (the symlink resolved inside the root, never the host's),
    also when the image has no /run yet (runc's MkdirAll over SecureJoin makes it)."""
    name = f"pycontain-{uuid.uuid4().hex[:8]}"
    src = tmp_path / "vol"
    src.mkdir()
    (src / "hello").write_text("volume\n")
    b = bundle("cat", f"/run/{name}/hello")
    if target_exists:
        (b.rootfs / "run").mkdir()
    (b.rootfs / "var").mkdir()
    (b.rootfs / "var" / "run").symlink_to(link)
    b.config["mounts"].append({"destination": f"/var/run/{name}", "type": "bind",
                               "source": str(src), "options": ["rbind"]})
    b.write()
    assert cli.output(b) == "volume\n"
    assert (b.rootfs / "run" / name).is_dir()
    assert (b.rootfs / "var" / "run").is_symlink()
    assert not os.path.lexists(f"/run/{name}")


def test_bind_file_target_beneath_dangling_symlink(cli: CLI, bundle, tmp_path: Path) -> None:
    """A file bind: the directories the symlink names are made, then an empty file."""
    src = tmp_path / "file"
    src.write_text("a file\n")
    b = bundle("cat", "/data/sub/file")
    (b.rootfs / "data").symlink_to("/real/deeper")
    b.config["mounts"].append({"destination": "/data/sub/file", "type": "bind",
                               "source": str(src), "options": ["bind"]})
    b.write()
    assert cli.output(b) == "a file\n"
    assert (b.rootfs / "real" / "deeper" / "sub" / "file").is_file()
    assert not os.path.lexists("/real/deeper")


# --------------------------------------------------------------------------- item 13


def test_userns_bind_source_unreachable_by_mapped_root(cli: CLI, userns_bundle,
                                                       tmp_path: Path) -> None:
    """Sources are opened by the runtime before the user namespace: a directory the mapped
    root may not walk to (here under the test's 0700 tmp dir) is still mounted."""
    assert stat.S_IMODE(os.stat(tmp_path).st_mode) & 0o005 == 0 or \
        stat.S_IMODE(os.stat(tmp_path.parent).st_mode) & 0o005 == 0
    shared = tmp_path / "shared"          # 0711: others may reach the files inside
    shared.mkdir()
    shared.chmod(0o711)
    (shared / "hello").write_text("readable\n")
    (shared / "hello").chmod(0o644)
    closed = tmp_path / "closed"          # 0700 root: the mapped root can't even list it
    closed.mkdir()
    closed.chmod(0o700)
    b = userns_bundle("cat", "/data/hello")
    for d in ("data", "closed"):  # the mapped root may not write to the rootfs
        (b.rootfs / d).mkdir()
    b.config["mounts"] += [
        {"destination": "/data", "type": "bind", "source": str(shared),
         "options": ["rbind", "ro"]},
        {"destination": "/closed", "type": "bind", "source": str(closed),
         "options": ["bind", "nosuid"]},
    ]
    b.write()
    assert cli.output(b) == "readable\n"
    b.process["args"] = ["/probe", "mounts"]
    b.write()
    mi = {line.split()[4]: line.split() for line in cli.output(b).splitlines()}
    assert "/closed" in mi and "/data" in mi
    assert "ro" in mi["/data"][5].split(",")
    assert "nosuid" in mi["/closed"][5].split(",")
    b.process["args"] = ["/probe", "ls", "/closed"]
    b.write()
    assert cli.output(b) == "ERR EACCES\n"


# --------------------------------------------------------------------------- item 14


def test_userns_device_with_owner(cli: CLI, userns_bundle) -> None:
    """Devices of linux.devices in a user namespace: made (by the runtime, which may mknod)
    with their type, numbers, mode and owner (container ids), and usable: uid 1000 writes
    to the 0600 node it owns."""
    b = userns_bundle()
    b.linux["devices"] = [
        {"path": "/dev/pcnull", "type": "c", "major": 1, "minor": 3, "fileMode": 0o600,
         "uid": 1000, "gid": 5},
        {"path": "/dev/sub/pczero", "type": "c", "major": 1, "minor": 5, "fileMode": 0o444,
         "uid": 0, "gid": 0},
    ]
    b.process["user"] = {"uid": 1000, "gid": 1000}
    b.process["args"] = [
        "/bin/sh", "-c",
        ("stat -c '%n %F %t %T %a %u %g' /dev/pcnull /dev/sub/pczero"
         " && echo hi > /dev/pcnull && echo written"
         " && head -c 4 /dev/sub/pczero | od -An -tx1"),
    ]
    b.write()
    assert cli.output(b).splitlines() == [
        "/dev/pcnull character special file 1 3 600 1000 5",
        "/dev/sub/pczero character special file 1 5 444 0 0",
        "written",
        " 00 00 00 00",
    ]


def test_userns_device_owner_not_mapped(cli: CLI, userns_bundle) -> None:
    b = userns_bundle("true")
    b.linux["devices"] = [{"path": "/dev/pcnull", "type": "c", "major": 1, "minor": 3,
                           "uid": 70000, "gid": 0}]
    b.write()
    cli.bundles.append(b)
    r = cli.run("create", "--bundle", str(b.path), cli.new_id(), check=False)
    assert r.returncode != 0 and "Traceback" not in r.stderr
    assert "linux.devices[0].uid" in r.stderr, r.stderr
    assert os.listdir(cli.root) == []


# --------------------------------------------------------------------------- item 17


@pytest.mark.parametrize("root_propagation", ["rshared", None])
def test_rshared_bind_propagates_both_ways(cli: CLI, bundle, tmp_path: Path,
                                           root_propagation: str | None) -> None:
    """Kubernetes' Bidirectional propagation (containerd: an `rshared` bind and
    `rootfsPropagation: rshared`): a mount made on the host under the source shows in the
    container, and one made in the container under the bind shows on the host.  A bind
    without a propagation option stays one-way (host to container), and so does an
    `rshared` one without a shared rootfsPropagation (runc's rule).  The "host" is a mount
    namespace of the test's own, so nothing is left behind in the real one."""
    src, plain = tmp_path / "src", tmp_path / "plain"
    src.mkdir()
    plain.mkdir()
    b = bundle()
    caps = b.process["capabilities"]
    for s in ("bounding", "effective", "permitted"):
        caps[s].append("CAP_SYS_ADMIN")
    if root_propagation:
        b.linux["rootfsPropagation"] = root_propagation
    b.config["mounts"] += [
        {"destination": "/vol", "type": "bind", "source": str(src),
         "options": ["rbind", "rshared"]},
        {"destination": "/plain", "type": "bind", "source": str(plain), "options": ["rbind"]},
    ]
    wait = "i=0; while [ ! -e {0} ] && [ $i -lt 200 ]; do sleep 0.05; i=$((i+1)); done"
    b.process["args"] = ["/bin/sh", "-c", "; ".join([
        "mount -t tmpfs ctr /vol/fromctr && echo ctr > /vol/fromctr/m",
        "mount -t tmpfs ctr /plain/fromctr && echo ctr > /plain/fromctr/m",
        "touch /plain/mounted",  # the same filesystem as the host's: seen there at once
        wait.format("/vol/fromhost/m"),
        'echo "container sees: $(cat /vol/fromhost/m)"',
    ])]
    b.write()
    cid = cli.new_id()
    cli.bundles.append(b)
    script = "\n".join([
        "set -e",
        ('for d in "$SRC" "$PLAIN"; do mount -t tmpfs host "$d"; mount --make-shared "$d";'
         ' mkdir "$d/fromctr" "$d/fromhost"; done'),
        "(",
        "  " + wait.format('"$PLAIN/mounted"'),
        '  echo "host sees: $(cat "$SRC/fromctr/m" 2>/dev/null || echo nothing)"',
        '  echo "host sees plain: $(cat "$PLAIN/fromctr/m" 2>/dev/null || echo nothing)"',
        '  mount -t tmpfs host "$SRC/fromhost"; echo host > "$SRC/fromhost/m"',
        ") &",
        '"$RUNC" --root "$ROOT" run --bundle "$B" "$ID"',
        "wait",
    ])
    env = dict(os.environ, SRC=str(src), PLAIN=str(plain), RUNC=cli.runtime.exe,
               ROOT=str(cli.root), B=str(b.path), ID=cid)
    r = subprocess.run(["unshare", "--mount", "--propagation", "private", "sh", "-c", script],
                       env=env, capture_output=True, text=True, timeout=TIMEOUT * 2,
                       check=False, cwd=b.path)
    assert r.returncode == 0, r
    both = root_propagation == "rshared"
    assert sorted(r.stdout.splitlines()) == [
        "container sees: host", "host sees plain: nothing",
        f"host sees: {'ctr' if both else 'nothing'}"], r
    # the test's namespace (the real host) saw none of it
    assert not any(os.scandir(src)) and not any(os.scandir(plain))
