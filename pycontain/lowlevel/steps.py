"""Names of the child's steps, for error notes ("while mounting tmpfs on /dev").

The numbers are the C core's ``enum pc_step`` (csrc/pycontain.h), read through ``lib``.
"""

from __future__ import annotations

from .._ffi import lib  # type: ignore[import-not-found]

STEPS: dict[int, str] = {
    lib.PC_STEP_CLONE: "cloning the container process",
    lib.PC_STEP_SIGNALS: "resetting signal handlers",
    lib.PC_STEP_FDS: "placing the standard fds",
    lib.PC_STEP_CGROUP: "joining the cgroup",
    lib.PC_STEP_SYNC: "waiting for the parent (uid/gid maps, cgroup)",
    lib.PC_STEP_SETNS: "joining a namespace",
    lib.PC_STEP_HOSTNAME: "setting the hostname",
    lib.PC_STEP_DOMAINNAME: "setting the domainname",
    lib.PC_STEP_LOOPBACK: "bringing up the loopback interface",
    lib.PC_STEP_OOM_SCORE_ADJ: "setting oom_score_adj",
    lib.PC_STEP_PROPAGATION: "setting mount propagation of /",
    lib.PC_STEP_STAGE_ROOT: "staging the root filesystem",
    lib.PC_STEP_BIND_ROOT: "bind-mounting the root filesystem onto itself",
    lib.PC_STEP_OPEN_ROOT: "opening the root filesystem",
    lib.PC_STEP_ROOT_READONLY: "making the root filesystem read-only",
    lib.PC_STEP_MOUNT_TARGET: "resolving a mount target inside the root",
    lib.PC_STEP_MOUNT: "mounting",
    lib.PC_STEP_MOUNT_REMOUNT: "remounting a bind mount with its flags",
    lib.PC_STEP_MOUNT_PROPAGATION: "setting a mount's propagation",
    lib.PC_STEP_DEVICE: "creating a device node",
    lib.PC_STEP_SYMLINK: "creating a symlink",
    lib.PC_STEP_PIVOT_ROOT: "pivot_root into the new root",
    lib.PC_STEP_CHROOT: "chroot into the new root",
    lib.PC_STEP_DETACH_OLD_ROOT: "detaching the old root",
    lib.PC_STEP_ROOTFS_PROPAGATION: "setting the propagation of the new root",
    lib.PC_STEP_MASK: "masking a path",
    lib.PC_STEP_READONLY_PATH: "making a path read-only",
    lib.PC_STEP_SYSCTL: "writing a sysctl",
    lib.PC_STEP_RLIMIT: "setting an rlimit",
    lib.PC_STEP_UMASK: "setting the umask",
    lib.PC_STEP_PERSONALITY: "setting the personality",
    lib.PC_STEP_BOUNDING: "dropping capabilities from the bounding set",
    lib.PC_STEP_SETGROUPS: "setting supplementary groups",
    lib.PC_STEP_SETGID: "setting the gid",
    lib.PC_STEP_SETUID: "setting the uid",
    lib.PC_STEP_CAPS: "setting capabilities",
    lib.PC_STEP_AMBIENT: "raising ambient capabilities",
    lib.PC_STEP_NO_NEW_PRIVS: "setting no_new_privs",
    lib.PC_STEP_SECCOMP: "loading the seccomp filter",
    lib.PC_STEP_CLOSE_FDS: "closing inherited fds",
    lib.PC_STEP_SETSID: "starting a new session",
    lib.PC_STEP_CTTY: "setting the controlling terminal",
    lib.PC_STEP_CWD: "changing to the working directory",
    lib.PC_STEP_FIND_EXEC: "looking up the executable",
    lib.PC_STEP_START_WAIT: "waiting for start",
    lib.PC_STEP_PARENT_DEATH: "arming the parent-death signal",
    lib.PC_STEP_EXEC: "executing the command",
    lib.PC_STEP_CONSOLE: "setting up the console (a pty in the container's /dev/pts)",
    lib.PC_STEP_KEYRING: "joining a new session keyring",
    lib.PC_STEP_UNSHARE: "creating namespaces inside the joined user namespace",
    lib.PC_STEP_NONDUMPABLE: "making the process non-dumpable",
    lib.PC_STEP_UNSHARE_TIME: "creating the time namespace",
    lib.PC_STEP_FORK_PIDNS: "forking into the pid namespace",
}

STEP_MOUNT_TARGET = lib.PC_STEP_MOUNT_TARGET
STEP_MOUNT = lib.PC_STEP_MOUNT
STEP_MOUNT_REMOUNT = lib.PC_STEP_MOUNT_REMOUNT
STEP_MOUNT_PROPAGATION = lib.PC_STEP_MOUNT_PROPAGATION
STEP_DEVICE = lib.PC_STEP_DEVICE
STEP_RLIMIT = lib.PC_STEP_RLIMIT
STEP_SETNS = lib.PC_STEP_SETNS
STEP_CGROUP = lib.PC_STEP_CGROUP
STEP_FIND_EXEC = lib.PC_STEP_FIND_EXEC
STEP_EXEC = lib.PC_STEP_EXEC
