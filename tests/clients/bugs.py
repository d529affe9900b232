"""pycontain-runc bugs the clients show (each test marked with one passes with runc)."""

PTY_OUTSIDE_CONTAINER = (
    "the terminal is allocated with os.openpty() in the runtime's own mount namespace "
    "(pycontain/oci/runtime.py Runtime._create and Runtime.exec), so the slave lives in the "
    "host's devpts, not in the container's /dev/pts (newinstance): tty(1) says /dev/console "
    "for init and 'not a tty' for exec; runc opens /dev/ptmx inside the container"
)

LOOPBACK_DOWN = (
    "lo stays down in a new network namespace: pycontain/oci/convert.py build_plan passes "
    "loopback_up=False; runc (and crun) bring lo up when the spec asks for a new netns "
    "without a path"
)

CGROUP_V1_VIEW = (
    "a 'cgroup' mount on cgroup v1 binds the whole host /sys/fs/cgroup (pycontain/oci/"
    "convert.py mounts()): the container sees the host's root cgroups (memory.limit_in_bytes "
    "unlimited) instead of its own; runc binds each hierarchy's container cgroup directory"
)

KILL_ALL_STOPPED = (
    "`kill --all ID 9` on a container whose init has exited does nothing (pycontain/oci/"
    "runtime.py Runtime.kill returns early when not _alive(st)); containerd's shim sends it "
    "exactly then, for a container in a shared pid namespace, to kill what is left in the "
    "cgroup: runc signals every process of the cgroup while the cgroup exists. The leftovers "
    "live on until delete, and the shim waits 2 s for their stdio on every delete"
)
