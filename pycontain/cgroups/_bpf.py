"""The cgroup v2 device controller: device rules compiled into an eBPF program (csrc/bpfdev.c)
and attached to the cgroup directory, replacing the programs attached before.
"""

from __future__ import annotations

import errno
import os
from collections.abc import Sequence
from typing import Any

from pycontain.cgroups._limits import DeviceRule
from pycontain.errors import CgroupUnsupported

__all__ = ["attached_programs", "compile_rules", "devices_supported", "set_device_rules"]

_LOG_SIZE = 1 << 16


def _lib() -> tuple[Any, Any]:
    from pycontain._ffi import ffi, lib

    return ffi, lib


def _oserror(ret: int, what: str, path: str | None = None) -> OSError:
    err = OSError(-ret, os.strerror(-ret), path)
    err.add_note(what)
    return err


def compile_rules(rules: Sequence[DeviceRule]) -> Any:
    """The program for *rules* as a cffi ``struct pc_bpf_insn[]`` (``len()`` instructions)."""
    ffi, lib = _lib()
    c_rules = ffi.new("struct pc_dev_rule[]", max(len(rules), 1))
    for i, rule in enumerate(rules):
        c = c_rules[i]
        c.type = ord(rule.type)
        c.major = -1 if rule.major is None else rule.major
        c.minor = -1 if rule.minor is None else rule.minor
        c.access = rule.access_mask
        c.allow = 1 if rule.allow else 0
    n = lib.pc_bpfdev_build(c_rules, len(rules), ffi.NULL, 0)
    if n < 0:
        raise _oserror(n, "while compiling the device rules into an eBPF program")
    insns = ffi.new("struct pc_bpf_insn[]", n)
    lib.pc_bpfdev_build(c_rules, len(rules), insns, n)
    return insns


def _load(insns: Any, field: str) -> int:
    ffi, lib = _lib()
    log = ffi.new("char[]", _LOG_SIZE)
    fd = lib.pc_bpfdev_load(insns, len(insns), log, _LOG_SIZE)
    if fd < 0:
        if fd in (-errno.EPERM, -errno.ENOSYS, -errno.EINVAL) and not ffi.string(log):
            raise CgroupUnsupported(
                f"{field}: this kernel refused to load a cgroup device eBPF program "
                f"({os.strerror(-fd)})",
                hint="cgroup v2 device rules need CONFIG_CGROUP_BPF and CAP_SYS_ADMIN (or CAP_BPF)",
            )
        err = _oserror(fd, f"while loading the device eBPF program for {field}")
        text = ffi.string(log).decode("ascii", "replace").strip()
        if text:
            err.add_note("verifier log:\n" + text[-2000:])
        raise err
    return int(fd)


def attached_programs(cgroup_fd: int) -> list[int]:
    """The ids of the device programs attached to the cgroup open as *cgroup_fd*."""
    ffi, lib = _lib()
    size = 8
    while True:
        ids = ffi.new("unsigned int[]", size)
        n = lib.pc_bpfdev_query(cgroup_fd, ids, size)
        if n == -errno.ENOSPC:
            size *= 4
            continue
        if n < 0:
            raise _oserror(n, "while listing the device programs of a cgroup")
        return [ids[i] for i in range(n)]


def set_device_rules(d: str, rules: Sequence[DeviceRule], field: str = "devices") -> None:
    """Attach a program enforcing *rules* to the cgroup directory *d*, then detach the device
    programs that were there before (so no moment is left without rules, as runc does).
    """
    _, lib = _lib()
    insns = compile_rules(rules)
    dfd = os.open(d, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        old_ids = attached_programs(dfd)
        old_fds = []
        try:
            for pid in old_ids:
                fd = lib.pc_bpfdev_prog_fd(pid)
                if fd >= 0:  # else it went away meanwhile
                    old_fds.append(fd)
            prog = _load(insns, field)
            try:
                ret = lib.pc_bpfdev_attach(dfd, prog)
                if ret < 0:
                    raise _oserror(ret, f"while attaching the device eBPF program to {d}", d)
            finally:
                os.close(prog)  # the cgroup holds the program from now on
            for fd in old_fds:
                ret = lib.pc_bpfdev_detach(dfd, fd)
                if ret < 0 and ret != -errno.ENOENT:
                    raise _oserror(ret, f"while detaching the old device eBPF program of {d}", d)
        finally:
            for fd in old_fds:
                os.close(fd)
    finally:
        os.close(dfd)


def devices_supported(cgroup_dir: str) -> bool:
    """Whether a device program can be loaded (and attached to, then detached from,
    *cgroup_dir*); for :func:`pycontain.cgroups.describe_host`.
    """
    _, lib = _lib()
    try:
        insns = compile_rules([DeviceRule(True)])
        fd = _load(insns, "devices")
    except (OSError, CgroupUnsupported):
        return False
    try:
        dfd = os.open(cgroup_dir, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    except OSError:
        os.close(fd)
        return False
    try:
        if lib.pc_bpfdev_attach(dfd, fd) < 0:
            return False
        lib.pc_bpfdev_detach(dfd, fd)
        return True
    finally:
        os.close(dfd)
        os.close(fd)
