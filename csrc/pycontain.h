/* pycontain C core: the only code that runs in a container's first process before execve.
 *
 * The parent (Python) builds a flat plan out of the structs below, all memory owned by the
 * parent; pc_spawn() clones a child that executes the plan with async-signal-safe calls only
 * (no malloc, no stdio, no locks) and then execve()s.  Failures reach the parent as a
 * struct pc_report {errno, step, path} on a close-on-exec pipe; EOF on that pipe means the
 * execve succeeded.
 *
 * The part between CDEF BEGIN and CDEF END is read by csrc/ffibuild.py as the cffi cdef, so
 * it must stay plain C that pycparser understands (no macros, no system types).
 */
#ifndef PYCONTAIN_H
#define PYCONTAIN_H

/* CDEF BEGIN */
enum {
    PC_CREATE_NONE = 0, PC_CREATE_DIR = 1, PC_CREATE_FILE = 2,
    PC_ROOT_NONE = 0, PC_ROOT_PIVOT = 1, PC_ROOT_CHROOT = 2,
    PC_REPORT_ERROR = 1, PC_REPORT_READY = 2, PC_REPORT_SYNC = 3, PC_REPORT_PID = 4
};

/* The steps of the child (numbers are stable: a new step takes the next free one); Python
 * names them in error notes (pycontain/lowlevel/steps.py).  Nothing reports SIGNALS, SYNC,
 * UMASK, CLOSE_FDS or START_WAIT any more (those calls cannot fail, or fail under a step of
 * their own now); their numbers stay taken. */
enum pc_step {
    PC_STEP_CLONE = 1, PC_STEP_SIGNALS = 2, PC_STEP_FDS = 3, PC_STEP_CGROUP = 4,
    PC_STEP_SYNC = 5, PC_STEP_SETNS = 6, PC_STEP_HOSTNAME = 7, PC_STEP_DOMAINNAME = 8,
    PC_STEP_LOOPBACK = 9, PC_STEP_OOM_SCORE_ADJ = 10, PC_STEP_PROPAGATION = 11,
    PC_STEP_STAGE_ROOT = 12, PC_STEP_BIND_ROOT = 13, PC_STEP_OPEN_ROOT = 14,
    PC_STEP_ROOT_READONLY = 15, PC_STEP_MOUNT_TARGET = 16, PC_STEP_MOUNT = 17,
    PC_STEP_MOUNT_REMOUNT = 18, PC_STEP_MOUNT_PROPAGATION = 19, PC_STEP_DEVICE = 20,
    PC_STEP_SYMLINK = 21, PC_STEP_PIVOT_ROOT = 22, PC_STEP_CHROOT = 23,
    PC_STEP_DETACH_OLD_ROOT = 24, PC_STEP_ROOTFS_PROPAGATION = 25, PC_STEP_MASK = 26,
    PC_STEP_READONLY_PATH = 27, PC_STEP_SYSCTL = 28, PC_STEP_RLIMIT = 29, PC_STEP_UMASK = 30,
    PC_STEP_PERSONALITY = 31, PC_STEP_BOUNDING = 32, PC_STEP_SETGROUPS = 33,
    PC_STEP_SETGID = 34, PC_STEP_SETUID = 35, PC_STEP_CAPS = 36, PC_STEP_AMBIENT = 37,
    PC_STEP_NO_NEW_PRIVS = 38, PC_STEP_SECCOMP = 39, PC_STEP_CLOSE_FDS = 40,
    PC_STEP_SETSID = 41, PC_STEP_CTTY = 42, PC_STEP_CWD = 43, PC_STEP_FIND_EXEC = 44,
    PC_STEP_START_WAIT = 45, PC_STEP_PARENT_DEATH = 46, PC_STEP_EXEC = 47,
    PC_STEP_CONSOLE = 48,
    PC_STEP_KEYRING = 49,
    PC_STEP_UNSHARE = 50,
    PC_STEP_NONDUMPABLE = 51, PC_STEP_UNSHARE_TIME = 52, PC_STEP_FORK_PIDNS = 53,
    PC_STEP_NET_VETH = 54, PC_STEP_NET_UP = 55, PC_STEP_NET_ADDR = 56, PC_STEP_NET_ROUTE = 57,
    PC_STEP_MOUNT_PROC = 58, PC_STEP_ROOT_CHANGED = 59, PC_STEP_OVERLAY = 60
};

/* Named stops between clone and execve where the child waits for the parent: only those in
 * the plan's `stops` mask (1 << PC_STOP_*), each reported as PC_REPORT_SYNC with the stop in
 * `index`; pycontain/lowlevel/plan.py's Stop says what holds at each. */
enum pc_stop {
    PC_STOP_IDMAP = 1,             /* in its new user namespace, nothing joined: id maps, time offsets */
    PC_STOP_NAMESPACES = 2,        /* in every namespace of the container, nothing mounted */
    PC_STOP_MOUNTS = 3             /* mounts made, the root not entered yet */
};

struct pc_mount {
    const char *source;        /* host path for binds, fs source otherwise; may be NULL */
    const char *target;        /* absolute path inside the new root */
    const char *fstype;        /* NULL for a bind mount */
    const char *data;          /* fs options ("size=64m,mode=755"); may be NULL */
    unsigned long flags;       /* MS_* flags (MS_RDONLY, MS_NOSUID, MS_BIND, MS_REC ...) */
    unsigned long propagation; /* MS_PRIVATE / MS_SLAVE / MS_SHARED / MS_UNBINDABLE (| MS_REC); 0: none */
    int create;                /* PC_CREATE_NONE, PC_CREATE_DIR or PC_CREATE_FILE for a missing target */
    int nofollow;              /* refuse any symlink on the way to the target (proc, sysfs) */
    int source_fd;             /* a detached mount (open_tree in the parent) to move onto the
                                  target instead of binding `source`; -1: none */
};

struct pc_device {
    const char *path;          /* absolute path inside the new root */
    const char *host_path;     /* bind this host node when mknod is not permitted; may be NULL */
    unsigned int mode;         /* S_IFCHR / S_IFBLK / S_IFIFO | permission bits */
    unsigned long long dev;    /* makedev(major, minor) */
    unsigned int uid;
    unsigned int gid;
    int source_fd;             /* a detached mount of a node the parent made (pc_fsmount_tmpfs
                                  + mknod + pc_open_tree), moved onto the path; -1: none */
};

struct pc_symlink {
    const char *target;        /* what the link points to */
    const char *path;          /* absolute path of the link inside the new root */
};

struct pc_kv {
    const char *key;           /* for sysctls: the path under /proc/sys, like "net/ipv4/ip_forward" */
    const char *value;
};

struct pc_rlimit {
    int resource;
    unsigned long long soft;
    unsigned long long hard;
};

struct pc_nsjoin {
    int fd;                    /* open fd of /proc/PID/ns/X (or a pidfd) */
    int nstype;                /* CLONE_NEW* */
};

struct pc_fdmap {
    int src;                   /* fd in the parent */
    int dst;                   /* fd number in the container process */
};

/* The container's end of a veth pair, made by the child in its new network namespace. */
struct pc_net {
    int host_nl;                   /* NETLINK_ROUTE socket opened in the host's namespace */
    const char *host_ifname;       /* the host end, up and enslaved to `master` */
    const char *alias;             /* IFLA_IFALIAS of the host end (its owner); NULL: none */
    int master;                    /* ifindex of the bridge on the host; 0: none */
    int hairpin;                   /* hairpin mode on the bridge port (br_netfilter loaded) */
    int by_parent;                 /* the pair is made by the parent (pc_net_make_link) at the
                                      NAMESPACES stop: the child has a user namespace of its
                                      own, without capabilities on the host's */
    const char *ifname;            /* the container's end ("eth0") */
    unsigned int mtu;              /* 0: the kernel's default */
    int has4;
    unsigned char addr4[4];
    int prefix4;
    int has_gw4;
    unsigned char gw4[4];
    int has6;
    unsigned char addr6[16];
    int prefix6;
    int has_gw6;
    unsigned char gw6[16];
};

struct pc_plan {
    /* what to run */
    const char *path;              /* executable; without '/', looked up in search_path */
    const char *search_path;       /* PATH inside the container */
    char *const *argv;
    char *const *envp;

    /* clone and namespaces */
    unsigned long long clone_flags;   /* CLONE_NEW* to create */
    int cgroup_fd;                 /* cgroup v2 directory for CLONE_INTO_CGROUP, -1: none */
    const int *cgroup_procs_fds;   /* files the child writes "0" to: v1 `tasks`, v2 cgroup.procs */
    int n_cgroup_procs_fds;
    int cgroup_procs_into;         /* the last this many of them are cgroup_fd's own cgroup.procs:
                                      not written where the clone put the child there */
    int pidns_fd;                  /* join this pid namespace, -1: none */
    int pidns_late;                /* join it in the child after the other namespaces, then
                                      fork (CLONE_PARENT): the way without privilege */
    unsigned long long late_unshare; /* CLONE_NEW* to unshare after joining (a joined user
                                      namespace owns them); NEWPID then forks as above */
    const struct pc_nsjoin *joins; /* other namespaces to join, user first */
    int n_joins;
    int unshare_time;              /* unshare(CLONE_NEWTIME) before the sync so offsets can be set */
    int become_root;               /* in a new or joined user namespace: setresuid/gid(0) after the sync */
    int nondumpable;               /* PR_SET_DUMPABLE 0 until execve (joining a running container) */
    int new_keyring;               /* join a new session keyring (named keyring_name, or anonymous) */
    const char *keyring_name;
    int pause;                     /* a pod's infra: execute exec_stub_fd (csrc/pause.c) instead of argv: hold the
                                    * namespaces, reap children, wait for SIGTERM/SIGINT */

    /* parent <-> child */
    unsigned int stops;            /* 1 << PC_STOP_*: where to wait for the parent; 0: nowhere,
                                      no handshake at all */
    int sync_fd;                   /* read one byte from it at each stop (set when stops is) */
    int stay_dumpable;             /* the parent lacks root: with a user namespace of its own
                                      and nothing joined, a nondumpable child turns so only
                                      after the last stop (until then the parent may open its
                                      /proc/PID files) */
    int err_fd;                    /* report pipe, write end */
    int parent_pidfd;              /* die with the parent: pidfd of the parent process, -1: no */

    /* identity of the sandbox */
    const char *hostname;
    const char *domainname;
    int loopback_up;
    const struct pc_net *net;      /* a veth to make (after loopback_up); NULL: none */
    int oom_score_adj;
    int set_oom_score_adj;

    /* filesystem */
    unsigned long root_propagation;   /* applied to "/" first, e.g. MS_REC|MS_SLAVE; 0: skip */
    int root_mode;                 /* PC_ROOT_NONE, PC_ROOT_PIVOT, PC_ROOT_CHROOT */
    const char *rootfs;            /* absolute host path of the new root */
    unsigned long long rootfs_dev; /* what the caller resolved `rootfs` to (st_dev, st_ino): */
    unsigned long long rootfs_ino; /* the child opens the same directory or fails; ino 0: no check */
    const char *staging;           /* non-NULL: stage rootfs (e.g. the host "/") under a tmpfs here */
    /* An image's root: an overlay of these layer directories (top first) mounted on rootfs
     * (an empty directory) in the container's own mount namespace, after the propagation of
     * "/" is set: nothing is mounted on the host.  overlay_upper/overlay_work: the writable
     * layer; NULL: a tmpfs of the container's own (its writes vanish with it).
     * overlay_userxattr: the "userxattr" option (overlay in a user namespace). */
    const char *const *overlay_lower;
    int n_overlay_lower;
    const char *overlay_upper;
    const char *overlay_work;
    int overlay_userxattr;
    int rootfs_readonly;
    unsigned long rootfs_propagation; /* propagation of the new root's mounts after setup; 0: leave */
    const struct pc_mount *mounts;
    int n_mounts;
    const struct pc_device *devices;
    int n_devices;
    const struct pc_symlink *symlinks;
    int n_symlinks;
    const char *const *masked;
    int n_masked;
    const char *const *readonly;
    int n_readonly;
    const struct pc_kv *sysctls;
    int n_sysctls;

    /* process */
    const struct pc_rlimit *rlimits;
    int n_rlimits;
    int umask;                     /* -1: leave */
    long personality;              /* -1: leave */
    int set_user;
    unsigned int uid;
    unsigned int gid;
    int set_groups;
    const unsigned int *groups;
    int n_groups;
    int set_caps;
    int cap_last;                  /* /proc/sys/kernel/cap_last_cap */
    unsigned long long cap_bounding;
    unsigned long long cap_effective;
    unsigned long long cap_permitted;
    unsigned long long cap_inheritable;
    unsigned long long cap_ambient;
    int no_new_privs;
    const void *seccomp_filter;    /* struct sock_filter[], NULL: none */
    unsigned int seccomp_len;      /* number of instructions */
    unsigned int seccomp_flags;    /* SECCOMP_FILTER_FLAG_* */

    /* fds and terminal */
    const struct pc_fdmap *fds;
    int n_fds;
    int close_from;                /* every fd >= this that is not in fds is closed before execve */
    int setsid;
    int ctty;                      /* make this (container) fd the controlling terminal, -1: none */
    const char *cwd;               /* inside the new root; NULL: "/" when the root changes */
    int create_cwd;                /* a missing cwd is made (0755, as root, after the mounts,
                                      resolved inside the root): runc's rule for the init */

    /* create/start split: report ready, then block reading one byte from start_fd */
    int start_fd;
    int start_keep_fd;             /* write end the child keeps so the read blocks, -1: none */

    /* terminal made inside the container (its own devpts): the master goes to console_sock
     * (a connected unix socket) by SCM_RIGHTS, the slave becomes fds 0-2 */
    int console_sock;              /* -1: no terminal */
    int console_bind;              /* also bind the slave on /dev/console (a container's init) */
    unsigned int console_rows;
    unsigned int console_cols;

    /* execve the user's program through the sealed exec stub (pc_execstub_fd), -1: directly;
     * with pause: the infra program to execute (pc_pause_fd), -1: stay a copy of the caller */
    int exec_stub_fd;
    /* 1: exec_stub_fd is the init (pc_init_fd, csrc/init.c), not the stub: it stays pid 1
     * and runs the program as its child.  init_ctl: the number of its control socket in the
     * container (a placed fd), -1: none */
    int init;
    int init_ctl;
};

struct pc_report {
    int kind;                      /* PC_REPORT_* */
    int err;                       /* errno */
    int step;                      /* PC_STEP_* */
    int index;                     /* ERROR: which mount / device / path of the step, -1: n/a;
                                      SYNC: the PC_STOP_*; PID: the pid; READY: the start fd */
    char path[512];
};

/* One registered cgroup directory, in memory shared between the parent and the keeper. */
struct pc_keeper_slot {
    unsigned int seq;              /* registration order; the keeper removes newest first */
    unsigned int used;             /* set last by the parent, cleared first: 1 kill and remove,
                                      2 remove only if empty (a parent others may share) */
    char path[248];
};

int pc_spawn(const struct pc_plan *plan, int *pidfd);
int pc_keeper_start(int sock, struct pc_keeper_slot *table, int nslots);

int pc_setns(int fd, int nstype);
int pc_unshare(int flags);
int pc_mount(const char *source, const char *target, const char *fstype, unsigned long flags,
             const char *data);
int pc_umount2(const char *target, int flags);
int pc_pivot_root(const char *new_root, const char *put_old);
int pc_open_tree_clone(const char *path);  /* a detached bind of path (O_CLOEXEC), or -errno */
/* A detached bind (OPEN_TREE_CLONE, O_CLOEXEC; AT_RECURSIVE when recursive) of path relative
 * to dirfd ("" with AT_EMPTY_PATH: dirfd itself), or -errno. */
int pc_open_tree(int dirfd, const char *path, int recursive);
/* A detached tmpfs (fsopen + fsmount, no path anywhere; device nodes allowed), or -errno. */
int pc_fsmount_tmpfs(void);
int pc_net_make_link(const struct pc_net *n, int netns_fd);  /* the child's veth, by the parent */
int pc_sethostname(const char *name, int len);
int pc_prctl(int option, unsigned long arg);   /* prctl(option, arg, 0, 0, 0): 0 or -errno */
int pc_clone3_supported(void);
int pc_execstub_fd(void);          /* a read-only fd of the sealed exec stub, or -errno */
int pc_pause_fd(void);             /* the same for a pod's infra program (csrc/pause.c) */
int pc_monitor_fd(void);           /* the same for a detached container's monitor (csrc/monitor.c) */
int pc_init_fd(void);              /* the same for a container's init (csrc/init.c) */
/* --- device cgroup (bpfdev.c) --- */
/* One OCI device rule; type 'a' (all), 'b' or 'c'; major/minor -1: any; access: a mask of
 * PC_DEV_MKNOD 1, PC_DEV_READ 2, PC_DEV_WRITE 4 (the kernel's BPF_DEVCG_ACC_*). */
struct pc_dev_rule {
    int type;
    int major;
    int minor;
    unsigned int access;
    int allow;
};
/* One eBPF instruction (struct bpf_insn), opaque to Python. */
struct pc_bpf_insn {
    unsigned int lo;
    unsigned int hi;
};
/* Writes at most max_insns instructions to out (NULL: count only); returns how many the
 * program has, or -errno. */
int pc_bpfdev_build(const struct pc_dev_rule *rules, int n_rules, struct pc_bpf_insn *out,
                    int max_insns);
/* BPF_PROG_LOAD of a BPF_PROG_TYPE_CGROUP_DEVICE program: a prog fd, or -errno (the
 * verifier's log in log, if given). */
int pc_bpfdev_load(const struct pc_bpf_insn *insns, int n_insns, char *log, unsigned int log_size);
/* BPF_PROG_ATTACH with BPF_F_ALLOW_MULTI / BPF_PROG_DETACH on a cgroup directory fd. */
int pc_bpfdev_attach(int cgroup_fd, int prog_fd);
int pc_bpfdev_detach(int cgroup_fd, int prog_fd);
/* The ids of the device programs attached to the cgroup: how many there are, or -errno. */
int pc_bpfdev_query(int cgroup_fd, unsigned int *prog_ids, unsigned int max_ids);
/* A prog fd for an attached program's id, or -errno. */
int pc_bpfdev_prog_fd(unsigned int prog_id);
/* --- end device cgroup --- */
/* CDEF END */

#endif
