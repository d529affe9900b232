"""Names of the child's steps, for error notes ("while mounting tmpfs on /dev")."""

from __future__ import annotations

STEPS: dict[int, str] = {
    1: "cloning the container process",
    2: "resetting signal handlers",
    3: "placing the standard fds",
    4: "joining the cgroup",
    5: "waiting for the parent (uid/gid maps, cgroup)",
    6: "joining a namespace",
    7: "setting the hostname",
    8: "setting the domainname",
    9: "bringing up the loopback interface",
    10: "setting oom_score_adj",
    11: "setting mount propagation of /",
    12: "staging the root filesystem",
    13: "bind-mounting the root filesystem onto itself",
    14: "opening the root filesystem",
    15: "making the root filesystem read-only",
    16: "resolving a mount target inside the root",
    17: "mounting",
    18: "remounting a bind mount with its flags",
    19: "setting a mount's propagation",
    20: "creating a device node",
    21: "creating a symlink",
    22: "pivot_root into the new root",
    23: "chroot into the new root",
    24: "detaching the old root",
    25: "setting the propagation of the new root",
    26: "masking a path",
    27: "making a path read-only",
    28: "writing a sysctl",
    29: "setting an rlimit",
    30: "setting the umask",
    31: "setting the personality",
    32: "dropping capabilities from the bounding set",
    33: "setting supplementary groups",
    34: "setting the gid",
    35: "setting the uid",
    36: "setting capabilities",
    37: "raising ambient capabilities",
    38: "setting no_new_privs",
    39: "loading the seccomp filter",
    40: "closing inherited fds",
    41: "starting a new session",
    42: "setting the controlling terminal",
    43: "changing to the working directory",
    44: "looking up the executable",
    45: "waiting for start",
    46: "arming the parent-death signal",
    47: "executing the command",
    48: "setting up the console (a pty in the container's /dev/pts)",
    49: "joining a new session keyring",
    50: "creating namespaces inside the joined user namespace",
}

STEP_MOUNT_TARGET = 16
STEP_MOUNT = 17
STEP_MOUNT_REMOUNT = 18
STEP_MOUNT_PROPAGATION = 19
STEP_DEVICE = 20
STEP_RLIMIT = 29
STEP_SETNS = 6
STEP_CGROUP = 4
STEP_FIND_EXEC = 44
STEP_EXEC = 47
