"""mounts, root, and the `linux` object: namespaces, id maps, devices, cgroups, resources,
sysctl, seccomp, masked and read-only paths, propagation; observed with the probe."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from helpers import own_cgroups, wait_for
from ocihelpers import (
    CGROUP_REL_PREFIX,
    CGROUP_ROOT,
    CLI,
    Bundle,
    assert_clean_error,
)


def _mountinfo(out: str) -> dict[str, list[str]]:
    """mount point -> fields of its (last) mountinfo line."""
    return {line.split()[4]: line.split() for line in out.splitlines()}


def _create_fails(cli: CLI, b: Bundle) -> None:
    cli.bundles.append(b)
    r = cli.run("create", "--bundle", str(b.path), cli.new_id(), check=False)
    assert_clean_error(r)
    assert os.listdir(cli.root) == []
    assert b.cgroup_dirs() == []


# --------------------------------------------------------------------------- root and mounts


def test_root_readonly(cli: CLI, bundle) -> None:
    b = bundle("write", "/newfile")
    b.config["root"]["readonly"] = True
    b.write()
    assert cli.output(b) == "ERR EROFS\n"
    b.process["args"] = ["/probe", "write", "/dev/shm/x"]  # mounts on top stay writable
    b.write()
    assert cli.output(b) == "ok\n"


def test_root_absolute_path(cli: CLI, bundle) -> None:
    b = bundle("hostname")
    b.config["root"]["path"] = str(b.rootfs)
    b.write()
    assert cli.output(b) == "oci\n"


def test_missing_rootfs_fails(cli: CLI, bundle) -> None:
    b = bundle()
    b.config["root"]["path"] = "no-such-rootfs"
    b.write()
    _create_fails(cli, b)


def test_bind_mount_readonly(cli: CLI, bundle, tmp_path: Path) -> None:
    src = tmp_path / "shared"
    src.mkdir()
    (src / "hello").write_text("from the host\n")
    b = bundle("cat", "/data/hello")
    b.config["mounts"].append(
        {
            "destination": "/data",
            "type": "bind",
            "source": str(src),
            "options": ["rbind", "ro", "nosuid", "nodev"],
        }
    )
    b.write()
    assert cli.output(b) == "from the host\n"
    b.process["args"] = ["/probe", "write", "/data/new"]
    b.write()
    assert cli.output(b) == "ERR EROFS\n"
    b.process["args"] = ["/probe", "mounts"]
    b.write()
    opts = _mountinfo(cli.output(b))["/data"][5].split(",")
    assert {"ro", "nosuid", "nodev"} <= set(opts)
    assert not (src / "new").exists()


def test_bind_mount_file_and_missing_destination_created(cli: CLI, bundle, tmp_path: Path) -> None:
    src = tmp_path / "file.txt"
    src.write_text("a file\n")
    b = bundle("cat", "/deep/dir/file.txt")
    b.config["mounts"].append(
        {
            "destination": "/deep/dir/file.txt",
            "type": "bind",
            "source": str(src),
            "options": ["bind"],
        }
    )
    b.write()
    assert cli.output(b) == "a file\n"


def test_tmpfs_size_and_mode(cli: CLI, bundle) -> None:
    b = bundle("mounts")
    b.config["mounts"].append(
        {
            "destination": "/scratch",
            "type": "tmpfs",
            "source": "tmpfs",
            "options": ["size=1m", "mode=700", "noexec"],
        }
    )
    b.write()
    line = _mountinfo(cli.output(b))["/scratch"]
    assert "noexec" in line[5].split(",")
    super_opts = line[-1].split(",")
    assert "size=1024k" in super_opts and "mode=700" in super_opts
    assert line[line.index("-") + 1] == "tmpfs"


def test_mount_propagation_options(cli: CLI, bundle, tmp_path: Path) -> None:
    for name in ("shared", "private"):
        (tmp_path / name).mkdir()
    b = bundle("mounts")
    b.config["mounts"] += [
        {
            "destination": "/shared",
            "type": "bind",
            "source": str(tmp_path / "shared"),
            "options": ["rbind", "rshared"],
        },
        {
            "destination": "/private",
            "type": "bind",
            "source": str(tmp_path / "private"),
            "options": ["rbind", "rprivate"],
        },
    ]
    b.write()
    mi = _mountinfo(cli.output(b))
    shared = mi["/shared"][6 : mi["/shared"].index("-")]
    private = mi["/private"][6 : mi["/private"].index("-")]
    assert any(f.startswith("shared:") for f in shared), mi["/shared"]
    assert not any(f.startswith(("shared:", "master:")) for f in private), mi["/private"]


def test_bad_mount_fails_cleanly(cli: CLI, bundle, tmp_path: Path) -> None:
    b = bundle()
    b.config["mounts"].append(
        {
            "destination": "/data",
            "type": "bind",
            "source": str(tmp_path / "nope"),
            "options": ["rbind"],
        }
    )
    b.write()
    _create_fails(cli, b)


@pytest.mark.parametrize(
    "propagation, field",
    [
        # runc 1.1.5 leaves the root mount private whatever rootfsPropagation says
        pytest.param("shared", "shared:", marks=pytest.mark.spec_strict),
        ("private", None),
    ],
)
def test_rootfs_propagation(cli: CLI, bundle, propagation: str, field: str | None) -> None:
    b = bundle("mounts")
    b.linux["rootfsPropagation"] = propagation
    b.write()
    root = _mountinfo(cli.output(b))["/"]
    optional = root[6 : root.index("-")]
    if field:
        assert any(f.startswith(field) for f in optional), root
    else:
        assert not any(f.startswith(("shared:", "master:")) for f in optional), root


def test_default_mounts(cli: CLI, bundle) -> None:
    mi = _mountinfo(cli.output(bundle("mounts")))
    for point, fstype in [
        ("/proc", "proc"),
        ("/dev", "tmpfs"),
        ("/dev/pts", "devpts"),
        ("/dev/shm", "tmpfs"),
        ("/dev/mqueue", "mqueue"),
        ("/sys", "sysfs"),
    ]:
        assert mi[point][mi[point].index("-") + 1] == fstype, mi[point]
    b = bundle("ls", "/dev")
    devs = set(cli.output(b).split())
    assert {
        "null",
        "zero",
        "full",
        "random",
        "urandom",
        "tty",
        "ptmx",
        "pts",
        "shm",
        "mqueue",
        "fd",
        "stdin",
        "stdout",
        "stderr",
    } <= devs


# --------------------------------------------------------------------------- masked / read-only


def test_masked_paths(cli: CLI, bundle) -> None:
    b = bundle("cat", "/secret")
    (b.rootfs / "secret").write_text("s3cret\n")
    (b.rootfs / "secretdir").mkdir()
    (b.rootfs / "secretdir" / "inside").write_text("x")
    b.linux["maskedPaths"] = ["/secret", "/secretdir", "/proc/kcore", "/does/not/exist"]
    b.write()
    assert cli.output(b) == ""
    b.process["args"] = ["/probe", "ls", "/secretdir"]
    b.write()
    assert cli.output(b) == ""
    b.process["args"] = ["/probe", "write", "/secretdir/x"]
    b.write()
    assert cli.output(b) == "ERR EROFS\n"


def test_readonly_paths(cli: CLI, bundle) -> None:
    b = bundle("write", "/rodir/x")
    (b.rootfs / "rodir").mkdir()
    b.linux["readonlyPaths"] = ["/rodir", "/proc/sys", "/does/not/exist"]
    b.write()
    assert cli.output(b) == "ERR EROFS\n"
    b.process["args"] = ["/probe", "write", "/proc/sys/kernel/hostname", "x"]
    b.write()
    assert cli.output(b) == "ERR EROFS\n"
    b.process["args"] = ["/probe", "write", "/tmp/x"]
    b.write()
    assert cli.output(b) == "ok\n"


# --------------------------------------------------------------------------- namespaces


def test_new_namespaces(cli: CLI, bundle) -> None:
    assert cli.output(bundle("pid")) == "1\n"
    assert cli.output(bundle("ls", "/sys/class/net")) == "lo\n"
    b = bundle("ls", "/sys/class/net")
    b.drop_namespace("network")
    b.write()
    assert set(cli.output(b).split()) == set(os.listdir("/sys/class/net"))


def test_join_namespace_by_path(cli: CLI, bundle) -> None:
    first = bundle("sleep", "30")
    cid, r = cli.create(first)
    cli.run("start", cid)
    wait_for(lambda: r.stdout == "sleeping\n", what="the first container")
    pid = cli.state(cid)["pid"]
    b = bundle()
    b.process["args"] = [
        "/bin/sh",
        "-c",
        "for n in net uts ipc; do readlink /proc/self/ns/$n; done",
    ]
    b.namespace("network", f"/proc/{pid}/ns/net")
    b.namespace("uts", f"/proc/{pid}/ns/uts")
    b.namespace("ipc", f"/proc/{pid}/ns/ipc")
    b.config.pop("hostname")  # joining a uts namespace: no hostname of our own
    b.write()
    assert cli.output(b).split() == [
        os.readlink(f"/proc/{pid}/ns/{n}") for n in ("net", "uts", "ipc")
    ]


def test_join_missing_namespace_path_fails(cli: CLI, bundle) -> None:
    b = bundle()
    b.namespace("network", "/proc/999999999/ns/net")
    b.write()
    _create_fails(cli, b)


@pytest.fixture
def open_bundle_dir(bundle) -> Iterator:
    """A bundle factory whose bundles live in a world-traversable dir (for user namespaces)."""
    d = Path(tempfile.mkdtemp(prefix="pycontain-ocitest-", dir="/tmp"))
    d.chmod(0o755)

    def make(*args, **kw) -> Bundle:
        b = bundle(*args, **kw)
        dest = d / b.path.name
        shutil.move(b.path, dest)
        return Bundle(dest, b.config).write()

    yield make
    shutil.rmtree(d, ignore_errors=True)


def test_user_namespace_mappings(cli: CLI, open_bundle_dir) -> None:
    b = open_bundle_dir("cat", "/proc/self/uid_map")
    b.namespace("user")
    b.linux["uidMappings"] = [{"containerID": 0, "hostID": 100000, "size": 65536}]
    b.linux["gidMappings"] = [{"containerID": 0, "hostID": 100000, "size": 65536}]
    b.write()
    assert cli.output(b).split() == ["0", "100000", "65536"]
    b.process["args"] = ["/probe", "id"]
    b.write()
    assert cli.output(b) == "uid=0 gid=0 groups=\n"
    # the host sees the mapped ids
    b.process["args"] = ["/probe", "sleep", "30"]
    b.write()
    cid, r = cli.create(b)
    pid = cli.state(cid)["pid"]
    cli.run("start", cid)
    wait_for(lambda: r.stdout == "sleeping\n", what="the probe")
    status = Path(f"/proc/{pid}/status").read_text()
    assert [ln.split()[1] for ln in status.splitlines() if ln.startswith(("Uid:", "Gid:"))] == [
        "100000",
        "100000",
    ]
    assert os.readlink(f"/proc/{pid}/ns/user") != os.readlink("/proc/self/ns/user")


def test_joined_user_namespace_owns_the_new_namespaces(cli: CLI, open_bundle_dir) -> None:
    """A container that joins another's user namespace (by path, as pods share one) and
    makes its own mount and pid namespaces: they must belong to the joined user namespace,
    or its root could not mount /proc in them."""
    a = open_bundle_dir("sleep", "30")
    a.namespace("user")
    a.linux["uidMappings"] = [{"containerID": 0, "hostID": 100000, "size": 65536}]
    a.linux["gidMappings"] = [{"containerID": 0, "hostID": 100000, "size": 65536}]
    a.write()
    cid, r = cli.create(a)
    pid_a = cli.state(cid)["pid"]
    cli.run("start", cid)
    wait_for(lambda: r.stdout == "sleeping\n", what="the probe")
    b = open_bundle_dir()
    b.process["args"] = ["sh", "-c", "cat /proc/self/uid_map; echo $$; ls /proc/1/ns/mnt >/dev/null && echo proc"]
    b.namespace("user", f"/proc/{pid_a}/ns/user")
    b.linux.pop("uidMappings", None)
    b.linux.pop("gidMappings", None)
    b.write()
    out = cli.output(b).split()
    assert out == ["0", "100000", "65536", "1", "proc"]


# --------------------------------------------------------------------------- devices


def test_devices_created(cli: CLI, bundle) -> None:
    b = bundle()
    b.process["args"] = ["/bin/stat", "-c", "%n %F %t %T %a %u %g", "/dev/fuse", "/dev/mynull"]
    b.linux["devices"] = [
        {
            "path": "/dev/fuse",
            "type": "c",
            "major": 10,
            "minor": 229,
            "fileMode": 0o640,
            "uid": 0,
            "gid": 0,
        },
        {
            "path": "/dev/mynull",
            "type": "c",
            "major": 1,
            "minor": 3,
            "fileMode": 0o666,
            "uid": 1000,
            "gid": 1000,
        },
    ]
    b.write()
    assert cli.output(b).splitlines() == [
        "/dev/fuse character special file a e5 640 0 0",
        "/dev/mynull character special file 1 3 666 1000 1000",
    ]
    b.process["args"] = ["/probe", "write", "/dev/mynull"]
    b.write()
    assert cli.output(b) == "ok\n"


@pytest.mark.parametrize("rules", ["template", "none"])
def test_device_cgroup_denies_by_default(cli: CLI, bundle, rules: str) -> None:
    """A node made by mknod inside is unusable: the default rule set denies it, also when
    the config has no device rules at all (runc's rules deny by default)."""
    b = bundle()
    if rules == "none":
        b.linux.pop("resources", None)
    b.process["args"] = ["/bin/sh", "-c", "mknod /tmp/mem c 1 1 2>/dev/null; /probe cat /tmp/mem"]
    b.process["capabilities"]["bounding"].append("CAP_MKNOD")
    b.process["capabilities"]["effective"].append("CAP_MKNOD")
    b.process["capabilities"]["permitted"].append("CAP_MKNOD")
    b.write()
    out = cli.output(b)
    assert out in ("ERR EPERM\n", "ERR ENOENT\n"), out


# --------------------------------------------------------------------------- cgroups and resources


def test_cgroups_path_absolute(cli: CLI, bundle) -> None:
    b = bundle("cgroup")
    cg = b.linux["cgroupsPath"]
    for line in cli.output(b).splitlines():
        _, controllers, path = line.split(":", 2)
        if controllers in ("memory", "pids", "cpu,cpuacct", "cpu", "freezer", "devices"):
            assert path == cg, line


def test_cgroups_path_relative(cli: CLI, bundle) -> None:
    """Relative to the caller's own cgroup, as runc's cgroupfs driver places it."""
    b = bundle("cgroup")
    rel = f"{CGROUP_REL_PREFIX}/{b.linux['cgroupsPath'].rsplit('/', 1)[1]}"
    b.linux["cgroupsPath"] = rel
    b.write()
    own = own_cgroups()
    seen = {}
    for line in cli.output(b).splitlines():
        _, controllers, path = line.split(":", 2)
        seen[controllers] = path
    for controller in ("memory", "pids", "freezer"):
        assert seen[controller] == os.path.join(own[controller], rel), (controller, seen)
    assert b.cgroup_dirs() == []


def test_memory_limit_and_oom(cli: CLI, bundle) -> None:
    b = bundle("memhog", "64")
    b.linux["resources"]["memory"] = {"limit": 32 << 20, "swap": 32 << 20}
    b.write()
    cid, r = cli.create(b)
    cg = b.linux["cgroupsPath"].lstrip("/")
    assert Path(CGROUP_ROOT, "memory", cg, "memory.limit_in_bytes").read_text().strip() == str(
        32 << 20
    )
    oom_control = Path(CGROUP_ROOT, "memory", cg, "memory.oom_control")
    cli.run("start", cid)
    cli.wait_status(cid, "stopped")
    assert r.stdout == ""  # killed before it allocated 64 MiB
    assert "oom_kill 1" in oom_control.read_text()
    cli.run("delete", cid)
    b.process["args"] = ["/probe", "memhog", "8"]
    b.write()
    assert cli.output(b) == "allocated 8\n"


def test_pids_limit(cli: CLI, bundle) -> None:
    b = bundle("forkbomb", "20")
    b.linux["resources"]["pids"] = {"limit": 10}
    b.write()
    made, err = cli.output(b).split()[1:]
    assert int(made) <= 9 and err == "EAGAIN"


def test_cpu_resources(cli: CLI, bundle) -> None:
    b = bundle()
    b.linux["resources"]["cpu"] = {"shares": 256, "quota": 25000, "period": 100000, "cpus": "0"}
    b.write()
    cli.create(b)
    cg = b.linux["cgroupsPath"].lstrip("/")
    read = lambda c, f: Path(CGROUP_ROOT, c, cg, f).read_text().strip()
    assert read("cpu", "cpu.shares") == "256"
    assert read("cpu", "cpu.cfs_quota_us") == "25000"
    assert read("cpuset", "cpuset.cpus") == "0"


def test_bad_resource_value_fails(cli: CLI, bundle) -> None:
    b = bundle()
    b.linux["resources"]["cpu"] = {"cpus": "9999"}
    b.write()
    _create_fails(cli, b)


# --------------------------------------------------------------------------- sysctl


def test_sysctl_in_network_namespace(cli: CLI, bundle) -> None:
    b = bundle("sysctl", "net.ipv4.ip_forward")
    b.linux["sysctl"] = {"net.ipv4.ip_forward": "1", "kernel.shmmax": "65536"}
    b.write()
    assert cli.output(b) == "1\n"
    b.process["args"] = ["/probe", "sysctl", "kernel.shmmax"]
    b.write()
    assert cli.output(b) == "65536\n"


def test_sysctl_not_namespaced_fails(cli: CLI, bundle) -> None:
    b = bundle()
    b.linux["sysctl"] = {"vm.swappiness": "10"}
    b.write()
    _create_fails(cli, b)


def test_sysctl_net_without_network_namespace_fails(cli: CLI, bundle) -> None:
    b = bundle()
    b.drop_namespace("network")
    b.linux["sysctl"] = {"net.ipv4.ip_forward": "1"}
    b.write()
    _create_fails(cli, b)


# --------------------------------------------------------------------------- seccomp


def _seccomp(rules: list[dict], default: str = "SCMP_ACT_ALLOW") -> dict:
    return {
        "defaultAction": default,
        "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"],
        "syscalls": rules,
    }


def test_seccomp_errno(cli: CLI, bundle) -> None:
    b = bundle("seccomp-try", "mkdir", "personality", "getcwd")
    b.linux["seccomp"] = _seccomp(
        [
            {"names": ["mkdir"], "action": "SCMP_ACT_ERRNO", "errnoRet": 1},
            {"names": ["personality"], "action": "SCMP_ACT_ERRNO", "errnoRet": 13},
        ]
    )
    b.write()
    assert cli.output(b) == "mkdir=EPERM personality=EACCES getcwd=0\n"


def test_seccomp_errno_default_is_eperm(cli: CLI, bundle) -> None:
    b = bundle("seccomp-try", "mkdir")
    b.linux["seccomp"] = _seccomp([{"names": ["mkdir"], "action": "SCMP_ACT_ERRNO"}])
    b.write()
    assert cli.output(b) == "mkdir=EPERM\n"


def test_seccomp_argument_comparison(cli: CLI, bundle) -> None:
    b = bundle("seccomp-try", "personality", "umask")
    b.linux["seccomp"] = _seccomp(
        [
            {
                "names": ["personality"],
                "action": "SCMP_ACT_ERRNO",
                "errnoRet": 22,
                "args": [{"index": 0, "value": 0xFFFFFFFF, "op": "SCMP_CMP_EQ"}],
            },
            {
                "names": ["umask"],
                "action": "SCMP_ACT_ERRNO",
                "errnoRet": 22,
                "args": [{"index": 0, "value": 0o777, "op": "SCMP_CMP_EQ"}],
            },
        ]
    )
    b.write()
    assert cli.output(b) == "personality=EINVAL umask=0\n"


def test_seccomp_default_errno_with_allow_list(cli: CLI, bundle) -> None:
    """defaultAction ERRNO with an allow list (mkdir not on it)."""
    b = bundle("seccomp-try", "mkdir", "getpid")
    allowed = [
        "execve",
        "brk",
        "arch_prctl",
        "set_tid_address",
        "set_robust_list",
        "rseq",
        "prlimit64",
        "readlink",
        "readlinkat",
        "mprotect",
        "uname",
        "getrandom",
        "write",
        "exit_group",
        "exit",
        "getpid",
        "newfstatat",
        "fstat",
        "futex",
        "close",
        "fcntl",
        "rt_sigaction",
        "rt_sigprocmask",
        "rt_sigreturn",
        "getppid",
        "capget",
        "capset",
        "prctl",
        "setgroups",
        "setuid",
        "setgid",
        "setresuid",
        "setresgid",
        "getuid",
        "getgid",
        "geteuid",
        "getegid",
        "openat",
        "read",
        "mmap",
        "munmap",
        "epoll_pwait",
        "nanosleep",
        "sched_yield",
        "select",
        "pselect6",
        "poll",
        "chdir",
        "fchdir",
        "getcwd",
        "dup",
        "dup2",
        "dup3",
        "ioctl",
        "lseek",
        "sigaltstack",
        "tgkill",
        "gettid",
        "clock_gettime",
        "statx",
        "faccessat2",
        "access",
        # what a runtime may still call between loading the filter and execve
        "sched_getaffinity",
        "clone",
        "clone3",
        "epoll_ctl",
        "epoll_create1",
        "pipe2",
        "getdents64",
        "fstatfs",
        "wait4",
        "waitid",
        "kill",
        "madvise",
        "setsid",
        "eventfd2",
        "socket",
        "connect",
        "sendmsg",
        "recvmsg",
        "close_range",
        "setrlimit",
        "getrlimit",
        "umask",
        "clock_nanosleep",
        "gettimeofday",
        "fchown",
        "fchmod",
        "keyctl",
        "getpgid",
        "setpgid",
        "getsid",
    ]
    b.linux["seccomp"] = _seccomp(
        [{"names": allowed, "action": "SCMP_ACT_ALLOW"}], default="SCMP_ACT_ERRNO"
    )
    b.write()
    assert cli.output(b) == "mkdir=EPERM getpid=0\n"


def test_seccomp_kill_process(cli: CLI, bundle) -> None:
    b = bundle("seccomp-try", "unshare")
    b.linux["seccomp"] = _seccomp([{"names": ["unshare"], "action": "SCMP_ACT_KILL_PROCESS"}])
    b.write()
    r = cli.run_fg(b)
    assert r.returncode == 128 + 31, r  # SIGSYS
    assert r.stdout == ""


def test_seccomp_unknown_syscall_name_is_ignored_or_rejected(cli: CLI, bundle) -> None:
    b = bundle("seccomp-try", "mkdir")
    b.linux["seccomp"] = _seccomp(
        [{"names": ["no_such_syscall", "mkdir"], "action": "SCMP_ACT_ERRNO"}]
    )
    b.write()
    assert cli.output(b) == "mkdir=EPERM\n"  # runc: unknown names are skipped


def test_seccomp_bad_action_fails(cli: CLI, bundle) -> None:
    b = bundle()
    b.linux["seccomp"] = _seccomp([{"names": ["mkdir"], "action": "SCMP_ACT_BOGUS"}])
    b.write()
    _create_fails(cli, b)
