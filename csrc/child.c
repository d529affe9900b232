/* The child: executes a struct pc_plan, then execve().  Runs after clone() in a copy of the
 * parent's memory with only the calling thread; so: system calls, stack buffers and the plan
 * (read-only) only.  No malloc, no stdio, no locks, never a return into Python. */
#include "internal.h"

#include <grp.h>
#include <linux/capability.h>
#include <linux/filter.h>
#include <linux/magic.h>
#include <linux/seccomp.h>
#include <net/if.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <sys/uio.h>
#include <termios.h>
#include <sys/personality.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/statfs.h>
#include <sys/statvfs.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>

#ifndef MOUNT_ATTR_RDONLY
#define MOUNT_ATTR_RDONLY 0x00000001
struct mount_attr {
    uint64_t attr_set;
    uint64_t attr_clr;
    uint64_t propagation;
    uint64_t userns_fd;
};
#endif
#ifndef OPEN_TREE_CLONE
#define OPEN_TREE_CLONE 1
#endif
#ifndef OPEN_TREE_CLOEXEC
#define OPEN_TREE_CLOEXEC O_CLOEXEC
#endif
#ifndef MOVE_MOUNT_F_EMPTY_PATH
#define MOVE_MOUNT_F_EMPTY_PATH 0x00000004
#endif
#ifndef MOVE_MOUNT_T_EMPTY_PATH
#define MOVE_MOUNT_T_EMPTY_PATH 0x00000040
#endif
#ifndef SYS_open_tree
#define SYS_open_tree 428
#endif
#ifndef SYS_move_mount
#define SYS_move_mount 429
#endif
#ifndef SYS_execveat
#define SYS_execveat 322
#endif
#ifndef AT_RECURSIVE
#define AT_RECURSIVE 0x8000
#endif
#ifndef PR_CAP_AMBIENT
#define PR_CAP_AMBIENT 47
#define PR_CAP_AMBIENT_RAISE 2
#define PR_CAP_AMBIENT_CLEAR_ALL 4
#endif
#ifndef SECCOMP_SET_MODE_FILTER
#define SECCOMP_SET_MODE_FILTER 1
#endif
#ifndef CLOSE_RANGE_CLOEXEC
#define CLOSE_RANGE_CLOEXEC (1U << 2)
#endif

/* Thread-local: a child made with CLONE_VM runs on its parent thread's TLS, so two threads'
 * children never share these; a fork-like child has its own copy anyway. */
static __thread int g_err_fd = -1;

void pc_child_fail(int err, int step, int index, const char *path)
{
    struct pc_report rep;
    memset(&rep, 0, sizeof(rep));
    rep.kind = PC_REPORT_ERROR;
    rep.err = err;
    rep.step = step;
    rep.index = index;
    if (path)
        pc_strlcpy(rep.path, path, sizeof(rep.path));
    if (g_err_fd >= 0)
        pc_write_all(g_err_fd, &rep, sizeof(rep));
    _exit(127);
}

#define FAIL(step, idx, path) pc_child_fail(errno, (step), (idx), (path))
#define FAILE(e, step, idx, path) pc_child_fail((e), (step), (idx), (path))

/* ---- fds ---------------------------------------------------------------------------------- */

/* Move every fds[i].src to fds[i].dst without one clobbering another (like subprocess). */
static void place_fds(const struct pc_plan *p, int *err_fd, int *sync_fd, int *start_fd,
                      int *keep_fd, int *parent_pidfd, int *console_sock, int *stub_fd,
                      int *pidns_fd)
{
    int floor = 3;
    for (int i = 0; i < p->n_fds; i++)
        if (p->fds[i].dst >= floor)
            floor = p->fds[i].dst + 1;
    if (floor < 16)
        floor = 16;
    /* first move our own control fds and all sources above every destination */
    int *ctl[] = {err_fd, sync_fd, start_fd, keep_fd, parent_pidfd, console_sock, stub_fd, pidns_fd};
    for (size_t i = 0; i < sizeof(ctl) / sizeof(ctl[0]); i++) {
        if (*ctl[i] >= 0 && *ctl[i] < floor) {
            int n = fcntl(*ctl[i], F_DUPFD_CLOEXEC, floor);
            if (n < 0)
                FAIL(PC_STEP_FDS, -1, NULL);
            *ctl[i] = n;
        }
    }
    g_err_fd = *err_fd;
    int tmp[64];
    int n = p->n_fds < 64 ? p->n_fds : 64;
    if (p->n_fds > 64)
        FAILE(E2BIG, PC_STEP_FDS, -1, NULL);
    for (int i = 0; i < n; i++) {
        tmp[i] = fcntl(p->fds[i].src, F_DUPFD_CLOEXEC, floor);
        if (tmp[i] < 0)
            FAIL(PC_STEP_FDS, i, NULL);
    }
    for (int i = 0; i < n; i++) {
        if (dup2(tmp[i], p->fds[i].dst) < 0)
            FAIL(PC_STEP_FDS, i, NULL);
        close(tmp[i]);
    }
}

static int close_range_cloexec(unsigned int from, unsigned int to)
{
    if (from > to)
        return 0;
    return (int)syscall(SYS_close_range, from, to, 0);
}

/* Close every fd >= from except the few the child still needs. */
static void close_other_fds(int from, const int *keep, int nkeep)
{
    int sorted[8];
    int n = 0;
    for (int i = 0; i < nkeep; i++)
        if (keep[i] >= from)
            sorted[n++] = keep[i];
    for (int i = 1; i < n; i++)
        for (int j = i; j > 0 && sorted[j] < sorted[j - 1]; j--) {
            int t = sorted[j];
            sorted[j] = sorted[j - 1];
            sorted[j - 1] = t;
        }
    unsigned int lo = (unsigned int)from;
    for (int i = 0; i <= n; i++) {
        unsigned int hi = i < n ? (unsigned int)sorted[i] - 1 : ~0U;
        if (i < n && (unsigned int)sorted[i] < lo) {
            continue;
        }
        if (lo <= hi && close_range_cloexec(lo, hi) < 0) {
            /* old kernel (or a filter that refuses close_range): one by one, to a sane bound */
            unsigned int stop = hi > 65536 ? 65536 : hi;
            for (unsigned int fd = lo; fd <= stop; fd++)
                close((int)fd);
        }
        if (i < n)
            lo = (unsigned int)sorted[i] + 1;
    }
}

/* ---- identity ----------------------------------------------------------------------------- */

static void loopback_up(void)
{
    int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (s < 0)
        FAIL(PC_STEP_LOOPBACK, -1, "lo");
    struct ifreq ifr;
    memset(&ifr, 0, sizeof(ifr));
    memcpy(ifr.ifr_name, "lo", 3);
    if (ioctl(s, SIOCGIFFLAGS, &ifr) < 0)
        FAIL(PC_STEP_LOOPBACK, -1, "lo");
    ifr.ifr_flags |= IFF_UP | IFF_RUNNING;
    if (ioctl(s, SIOCSIFFLAGS, &ifr) < 0)
        FAIL(PC_STEP_LOOPBACK, -1, "lo");
    close(s);
}

static void write_small_file(const char *path, const char *data, int step, int index)
{
    int fd = open(path, O_WRONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0)
        FAIL(step, index, path);
    int r = pc_write_all(fd, data, pc_strlen(data));
    close(fd);
    if (r < 0)
        FAILE(-r, step, index, path);
}

static void itoa_signed(char *buf, long v)
{
    char tmp[24];
    int n = 0, neg = v < 0;
    unsigned long u = neg ? (unsigned long)(-v) : (unsigned long)v;
    do {
        tmp[n++] = (char)('0' + u % 10);
        u /= 10;
    } while (u);
    int pos = 0;
    if (neg)
        buf[pos++] = '-';
    while (n)
        buf[pos++] = tmp[--n];
    buf[pos] = '\0';
}

/* ---- mounts ------------------------------------------------------------------------------- */

static unsigned long locked_flags(int fd)
{
    struct statvfs sv;
    unsigned long f = 0;
    if (fstatvfs(fd, &sv) < 0)
        return 0;
    static const unsigned long map[][2] = {
        {ST_NOSUID, MS_NOSUID}, {ST_NODEV, MS_NODEV}, {ST_NOEXEC, MS_NOEXEC},
        {ST_NOATIME, MS_NOATIME}, {ST_NODIRATIME, MS_NODIRATIME}, {ST_RELATIME, MS_RELATIME},
    };
    for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++)
        if (sv.f_flag & map[i][0])
            f |= map[i][1];
    return f;
}

/* The files under /proc a mount may cover (lxcfs's; runc's list, pycontain/mountpaths.py). */
static const char *const proc_overmounts[] = {
    "/proc/cpuinfo", "/proc/diskstats", "/proc/meminfo", "/proc/stat", "/proc/swaps",
    "/proc/uptime", "/proc/loadavg", "/proc/slabinfo", "/proc/net/dev",
    "/proc/sys/kernel/ns_last_pid",
};

/* Whether mount m may not go on fd, its resolved target: runc's rule (CVE-2019-16884) on
 * what the target really is, since a symlink or an earlier mount may lead a harmless path
 * into a procfs.  There only a proc mount on a procfs's root, or a mount over one of
 * proc_overmounts, is allowed. */
static int proc_target_refused(int rootfd, int fd, const struct pc_mount *m)
{
    struct statfs sfs;
    struct stat st;
    if (fstatfs(fd, &sfs) < 0)
        return 1;
    if (sfs.f_type != PROC_SUPER_MAGIC)
        return 0;
    if (fstat(fd, &st) < 0)
        return 1;
    const char *t = m->fstype;
    if (st.st_ino == 1 /* PROC_ROOT_INO */ && !(m->flags & MS_BIND) && t &&
        t[0] == 'p' && t[1] == 'r' && t[2] == 'o' && t[3] == 'c' && t[4] == '\0')
        return 0;
    for (size_t i = 0; i < sizeof(proc_overmounts) / sizeof(proc_overmounts[0]); i++) {
        int afd = pc_open_in_root(rootfd, proc_overmounts[i], PC_CREATE_NONE, 0, 0);
        if (afd < 0)
            continue;
        struct stat ast;
        int same = fstat(afd, &ast) == 0 && ast.st_dev == st.st_dev && ast.st_ino == st.st_ino;
        close(afd);
        if (same)
            return 0;
    }
    return 1;
}

#define BIND_REMOUNT_FLAGS (MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC | MS_NOATIME | \
                            MS_NODIRATIME | MS_RELATIME | MS_STRICTATIME)

/* What a detached mount from the parent (source_fd) is given before its own propagation:
 * set by pc_child_main from the plan. */
static __thread int g_own_userns;               /* we are in a user namespace the parent is not */
static __thread unsigned long g_root_propagation; /* what "/" of our copy of the tree got */

/* A detached tree of the parent's namespace is a peer of its source where that is shared.
 * Give it what a bind from our own copy of the tree would have: a slave in a user namespace
 * of our own (the kernel makes shared mounts slaves when it copies a mount namespace for a
 * less privileged one: nothing made inside may reach the host), then the root's propagation
 * unless the mount asks for its own (an `rshared` bind stays a peer: Kubernetes'
 * Bidirectional propagation, as runc gives it). */
static void fd_mount_propagation(int rootfd, const struct pc_mount *m, int idx)
{
    unsigned long steps[2] = {g_own_userns ? (unsigned long)(MS_SLAVE | MS_REC) : 0,
                              m->propagation ? 0 : g_root_propagation};
    for (int i = 0; i < 2; i++) {
        if (!steps[i])
            continue;
        int nfd = pc_open_in_root(rootfd, m->target, PC_CREATE_NONE, m->nofollow, 0);
        if (nfd < 0)
            FAILE(-nfd, PC_STEP_MOUNT_PROPAGATION, idx, m->target);
        char ntarget[64];
        pc_fdpath(ntarget, sizeof(ntarget), nfd);
        if (mount(NULL, ntarget, NULL, steps[i], NULL) < 0)
            FAIL(PC_STEP_MOUNT_PROPAGATION, idx, m->target);
        close(nfd);
    }
}

static void do_mount(int rootfd, const struct pc_mount *m, int idx)
{
    int is_bind = (m->flags & MS_BIND) != 0;
    int create = m->create;
    if (is_bind && create == PC_CREATE_NONE) {
        /* a bind of a file needs a file to land on (a source opened by the parent may be
         * out of our reach by path) */
        struct stat st;
        if ((m->source_fd >= 0 ? fstat(m->source_fd, &st) : stat(m->source, &st)) < 0)
            FAIL(PC_STEP_MOUNT, idx, m->source);
        create = S_ISDIR(st.st_mode) ? PC_CREATE_DIR : PC_CREATE_FILE;
    }
    int fd = pc_open_in_root(rootfd, m->target, create, m->nofollow, 0644);
    if (fd < 0)
        FAILE(-fd, PC_STEP_MOUNT_TARGET, idx, m->target);
    if (m->nofollow && m->fstype && m->fstype[0]) {
        struct stat st;
        if (fstat(fd, &st) < 0)
            FAIL(PC_STEP_MOUNT_TARGET, idx, m->target);
        if (!S_ISDIR(st.st_mode))
            FAILE(ENOTDIR, PC_STEP_MOUNT_TARGET, idx, m->target);
    }
    if (proc_target_refused(rootfd, fd, m))
        FAILE(EPERM, PC_STEP_MOUNT_PROC, idx, m->target);
    char target[64];
    pc_fdpath(target, sizeof(target), fd);
    if (is_bind) {
        if (m->source_fd >= 0) {
            /* made in the parent's mount namespace: a detached tree moves into ours */
            if (syscall(SYS_move_mount, m->source_fd, "", fd, "",
                        MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH) < 0)
                FAIL(PC_STEP_MOUNT, idx, m->target);
            close(m->source_fd); /* ours is a copy of the parent's fd table */
            fd_mount_propagation(rootfd, m, idx);
        } else if (mount(m->source, target, NULL, MS_BIND | (m->flags & MS_REC), NULL) < 0)
            FAIL(PC_STEP_MOUNT, idx, m->target);
        unsigned long extra = m->flags & BIND_REMOUNT_FLAGS;
        if (extra) {
            /* the remount must keep the flags the kernel locked on the source */
            int nfd = pc_open_in_root(rootfd, m->target, PC_CREATE_NONE, m->nofollow, 0);
            if (nfd < 0)
                FAILE(-nfd, PC_STEP_MOUNT_REMOUNT, idx, m->target);
            char ntarget[64];
            pc_fdpath(ntarget, sizeof(ntarget), nfd);
            unsigned long fl = MS_BIND | MS_REMOUNT | extra | locked_flags(nfd);
            if (!(extra & MS_RDONLY))
                fl &= ~(unsigned long)MS_RDONLY;
            if (mount(NULL, ntarget, NULL, fl, NULL) < 0)
                FAIL(PC_STEP_MOUNT_REMOUNT, idx, m->target);
            if ((extra & MS_RDONLY) && (m->flags & MS_REC)) {
                struct mount_attr attr;
                memset(&attr, 0, sizeof(attr));
                attr.attr_set = MOUNT_ATTR_RDONLY;
                if (syscall(SYS_mount_setattr, nfd, "", AT_EMPTY_PATH | AT_RECURSIVE, &attr,
                            sizeof(attr)) < 0 && errno != ENOSYS)
                    FAIL(PC_STEP_MOUNT_REMOUNT, idx, m->target);
            }
            close(nfd);
        }
    } else {
        if (mount(m->source ? m->source : m->fstype, target, m->fstype,
                  m->flags & ~(unsigned long)(MS_BIND | MS_REC), m->data) < 0) {
            const char *t = m->fstype;
            if (errno == EPERM && t && t[0] == 's' && t[1] == 'y' && t[2] == 's' && t[3] == 'f' &&
                t[4] == 's' && t[5] == '\0') {
                /* A user namespace without a network namespace of its own may not mount
                 * sysfs: bind the host's /sys read-only instead, as runc does. */
                struct pc_mount b = *m;
                b.source = "/sys";
                b.fstype = NULL;
                b.data = NULL;
                b.flags = m->flags | MS_BIND | MS_REC | MS_RDONLY;
                b.create = PC_CREATE_DIR;
                close(fd);
                do_mount(rootfd, &b, idx);
                return;
            }
            FAIL(PC_STEP_MOUNT, idx, m->target);
        }
    }
    if (m->propagation) {
        int nfd = pc_open_in_root(rootfd, m->target, PC_CREATE_NONE, m->nofollow, 0);
        if (nfd < 0)
            FAILE(-nfd, PC_STEP_MOUNT_PROPAGATION, idx, m->target);
        char ntarget[64];
        pc_fdpath(ntarget, sizeof(ntarget), nfd);
        if (mount(NULL, ntarget, NULL, m->propagation, NULL) < 0)
            FAIL(PC_STEP_MOUNT_PROPAGATION, idx, m->target);
        close(nfd);
    }
    close(fd);
}

/* The directory that will hold `path` (created if missing, resolved inside the root), as a
 * real fd (O_PATH fds can't be used with mknodat/symlinkat); *name points at the last
 * component of `path`. */
static int open_parent_dir(int rootfd, const char *path, const char **name, int step, int idx)
{
    char parent[PATH_MAX];
    size_t len = pc_strlcpy(parent, path, sizeof(parent));
    if (len >= sizeof(parent))
        FAILE(ENAMETOOLONG, step, idx, path);
    char *slash = parent + len;
    while (slash > parent && *slash != '/')
        slash--;
    *name = path + (slash - parent) + 1;
    *slash = '\0';
    int dfd = pc_open_in_root(rootfd, parent[0] ? parent : "/", PC_CREATE_DIR, 0, 0);
    if (dfd < 0)
        FAILE(-dfd, step, idx, path);
    char dpath[64];
    pc_fdpath(dpath, sizeof(dpath), dfd);
    int dir = open(dpath, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    close(dfd);
    if (dir < 0)
        FAIL(step, idx, path);
    return dir;
}

static void make_device(int rootfd, const struct pc_device *d, int idx)
{
    const char *name;
    int dir = open_parent_dir(rootfd, d->path, &name, PC_STEP_DEVICE, idx);
    unlinkat(dir, name, 0);
    if (d->source_fd >= 0) {
        /* made by the parent, which may mknod, on a detached tmpfs of its own (a user
         * namespace may not): moved onto an empty file */
        int f = openat(dir, name, O_CREAT | O_EXCL | O_WRONLY | O_NOFOLLOW | O_CLOEXEC, 0600);
        if (f < 0)
            FAIL(PC_STEP_DEVICE, idx, d->path);
        close(f);
        int pf = openat(dir, name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
        if (pf < 0)
            FAIL(PC_STEP_DEVICE, idx, d->path);
        if (syscall(SYS_move_mount, d->source_fd, "", pf, "",
                    MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH) < 0)
            FAIL(PC_STEP_DEVICE, idx, d->path);
        close(d->source_fd);
        close(pf);
    } else if (mknodat(dir, name, d->mode, (dev_t)d->dev) == 0) {
        if (fchownat(dir, name, d->uid, d->gid, AT_SYMLINK_NOFOLLOW) < 0)
            FAIL(PC_STEP_DEVICE, idx, d->path);
        /* mknod is subject to umask */
        if (fchmodat(dir, name, d->mode & 07777, 0) < 0)
            FAIL(PC_STEP_DEVICE, idx, d->path);
    } else if ((errno == EPERM || errno == EACCES) && d->host_path) {
        /* in a user namespace: bind the host's node instead */
        int f = openat(dir, name, O_CREAT | O_EXCL | O_WRONLY | O_NOFOLLOW | O_CLOEXEC, 0600);
        if (f < 0)
            FAIL(PC_STEP_DEVICE, idx, d->path);
        char fpath[64];
        pc_fdpath(fpath, sizeof(fpath), f);
        int pf = open(fpath, O_PATH | O_CLOEXEC);
        close(f);
        if (pf < 0)
            FAIL(PC_STEP_DEVICE, idx, d->path);
        pc_fdpath(fpath, sizeof(fpath), pf);
        if (mount(d->host_path, fpath, NULL, MS_BIND, NULL) < 0)
            FAIL(PC_STEP_DEVICE, idx, d->path);
        close(pf);
    } else {
        FAIL(PC_STEP_DEVICE, idx, d->path);
    }
    close(dir);
}

static void make_symlink(int rootfd, const struct pc_symlink *s, int idx)
{
    const char *name;
    int dir = open_parent_dir(rootfd, s->path, &name, PC_STEP_SYMLINK, idx);
    if (symlinkat(s->target, dir, name) < 0 && errno != EEXIST)
        FAIL(PC_STEP_SYMLINK, idx, s->path);
    close(dir);
}

static void mask_path(int rootfd, int devnull, const char *path, int idx)
{
    int fd = pc_open_nofollow(rootfd, path, O_PATH);
    if (fd == -ENOENT)
        return;
    if (fd < 0)
        FAILE(-fd, PC_STEP_MASK, idx, path);
    struct stat st;
    if (fstat(fd, &st) < 0)
        FAIL(PC_STEP_MASK, idx, path);
    char target[64];
    pc_fdpath(target, sizeof(target), fd);
    if (S_ISDIR(st.st_mode)) {
        if (mount("tmpfs", target, "tmpfs", MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC,
                  "size=0,mode=0755") < 0 &&
            mount("tmpfs", target, "tmpfs", MS_RDONLY, NULL) < 0)
            FAIL(PC_STEP_MASK, idx, path);
    } else {
        if (devnull < 0)
            FAILE(ENODEV, PC_STEP_MASK, idx, "/dev/null");
        char src[64];
        pc_fdpath(src, sizeof(src), devnull);
        if (mount(src, target, NULL, MS_BIND, NULL) < 0)
            FAIL(PC_STEP_MASK, idx, path);
    }
    close(fd);
}

static void readonly_path(int rootfd, const char *path, int idx)
{
    int fd = pc_open_nofollow(rootfd, path, O_PATH);
    if (fd == -ENOENT)
        return;
    if (fd < 0)
        FAILE(-fd, PC_STEP_READONLY_PATH, idx, path);
    char target[64];
    pc_fdpath(target, sizeof(target), fd);
    if (mount(target, target, NULL, MS_BIND | MS_REC, NULL) < 0)
        FAIL(PC_STEP_READONLY_PATH, idx, path);
    close(fd);
    fd = pc_open_nofollow(rootfd, path, O_PATH);
    if (fd < 0)
        FAILE(-fd, PC_STEP_READONLY_PATH, idx, path);
    pc_fdpath(target, sizeof(target), fd);
    if (mount(NULL, target, NULL, MS_BIND | MS_REMOUNT | MS_RDONLY | locked_flags(fd), NULL) < 0)
        FAIL(PC_STEP_READONLY_PATH, idx, path);
    close(fd);
}

static void write_sysctl(int rootfd, const struct pc_kv *kv, int idx)
{
    /* /proc/sys of the container's own, fresh procfs; the key strictly below it (a key
     * with ".." could otherwise reach /proc/<pid>/... or /proc/sysrq-trigger) */
    int sysfd = pc_open_nofollow(rootfd, "/proc/sys", O_PATH | O_DIRECTORY);
    if (sysfd < 0)
        FAILE(-sysfd, PC_STEP_SYSCTL, idx, "/proc/sys");
    struct statfs sfs;
    if (fstatfs(sysfd, &sfs) < 0)
        FAIL(PC_STEP_SYSCTL, idx, "/proc/sys");
    if (sfs.f_type != PROC_SUPER_MAGIC)
        FAILE(EXDEV, PC_STEP_SYSCTL, idx, "/proc/sys");
    int fd = pc_open_beneath(sysfd, kv->key, O_WRONLY);
    close(sysfd);
    if (fd < 0)
        FAILE(-fd, PC_STEP_SYSCTL, idx, kv->key);
    if (fstatfs(fd, &sfs) < 0)
        FAIL(PC_STEP_SYSCTL, idx, kv->key);
    if (sfs.f_type != PROC_SUPER_MAGIC)
        FAILE(EXDEV, PC_STEP_SYSCTL, idx, kv->key);
    int r = pc_write_all(fd, kv->value, pc_strlen(kv->value));
    close(fd);
    if (r < 0)
        FAILE(-r, PC_STEP_SYSCTL, idx, kv->key);
}

/* ---- stops for the parent ----------------------------------------------------------------- */

static __thread unsigned int g_stops;          /* 1 << PC_STOP_* still ahead */
static __thread int g_sync_fd = -1;
static __thread int g_nondumpable_after_stops; /* PR_SET_DUMPABLE 0 after the last stop */

/* A report without an error (SYNC, READY, PID) on the error pipe; 0 or -errno. */
static int send_report(int fd, int kind, int index)
{
    struct pc_report rep;
    memset(&rep, 0, sizeof(rep));
    rep.kind = kind;
    rep.index = index;
    return pc_write_all(fd, &rep, sizeof(rep));
}

/* Block until one byte arrives on fd: 1, or 0 on EOF or error. */
static int wait_byte(int fd)
{
    char c;
    ssize_t r;
    do {
        r = read(fd, &c, 1);
    } while (r < 0 && errno == EINTR);
    return r == 1;
}

static void become_nondumpable(void)
{
    if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) < 0)
        FAIL(PC_STEP_NONDUMPABLE, -1, NULL);
}

/* A named stop: when the parent asked for it, tell it where we are (SYNC with the stop) and
 * wait for its byte.  After the last one the sync pipe is closed. */
static void stop_at(int stop)
{
    unsigned int bit = 1u << stop;
    if (!(g_stops & bit))
        return;
    g_stops &= ~bit;
    if (send_report(g_err_fd, PC_REPORT_SYNC, stop) < 0)
        _exit(127);
    if (!wait_byte(g_sync_fd))
        _exit(127); /* the parent gave up; it reports the error itself */
    if (!g_stops) {
        close(g_sync_fd);
        g_sync_fd = -1;
        if (g_nondumpable_after_stops) {
            g_nondumpable_after_stops = 0;
            become_nondumpable();
        }
    }
}

/* ---- the terminal ------------------------------------------------------------------------- */

static __thread int g_console_sock = -1;

#ifndef TIOCGPTPEER
#define TIOCGPTPEER _IO('T', 0x41)
#endif

/* Open a pty in the container's own devpts (reached inside `rootfd`), hand the master to the
 * console socket, bind the slave on /dev/console when asked, and make it fds 0, 1 and 2. */
static void setup_console(const struct pc_plan *p, int rootfd)
{
    int sock = g_console_sock;
    if (sock < 0)
        return;
    int master = pc_open_nofollow(rootfd, "/dev/pts/ptmx", O_RDWR | O_NOCTTY);
    if (master == -ENOENT)
        master = pc_open_nofollow(rootfd, "/dev/ptmx", O_RDWR | O_NOCTTY);
    if (master < 0)
        FAILE(-master, PC_STEP_CONSOLE, -1, "/dev/pts/ptmx");
    int unlock = 0;
    if (ioctl(master, TIOCSPTLCK, &unlock) < 0)
        FAIL(PC_STEP_CONSOLE, -1, "/dev/pts/ptmx");
    int slave = ioctl(master, TIOCGPTPEER, O_RDWR | O_NOCTTY | O_CLOEXEC);
    if (slave < 0)
        FAIL(PC_STEP_CONSOLE, -1, "/dev/pts");
    if (p->console_rows && p->console_cols) {
        struct winsize ws;
        memset(&ws, 0, sizeof(ws));
        ws.ws_row = (unsigned short)p->console_rows;
        ws.ws_col = (unsigned short)p->console_cols;
        ioctl(master, TIOCSWINSZ, &ws);
    }
    if (p->console_bind) {
        /* never follow what the image put at /dev/console (CVE-2025-52565) */
        int fd = pc_open_in_root(rootfd, "/dev/console", PC_CREATE_FILE, 1, 0666);
        if (fd < 0)
            FAILE(-fd, PC_STEP_CONSOLE, -1, "/dev/console");
        char src[64], dst[64];
        pc_fdpath(src, sizeof(src), slave);
        pc_fdpath(dst, sizeof(dst), fd);
        if (mount(src, dst, NULL, MS_BIND, NULL) < 0)
            FAIL(PC_STEP_CONSOLE, -1, "/dev/console");
        close(fd);
    }
    /* runc sends the master with the name of the multiplexer as the message */
    char name[] = "/dev/ptmx";
    struct iovec iov = {.iov_base = name, .iov_len = sizeof(name) - 1};
    char cbuf[CMSG_SPACE(sizeof(int))];
    struct msghdr mh;
    pc_msghdr_init(&mh, &iov, cbuf, sizeof(cbuf));
    struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int));
    memcpy(CMSG_DATA(c), &master, sizeof(int));
    ssize_t r;
    do {
        r = sendmsg(sock, &mh, MSG_NOSIGNAL);
    } while (r < 0 && errno == EINTR);
    if (r < 0)
        FAIL(PC_STEP_CONSOLE, -1, "console socket");
    close(master);
    close(sock);
    g_console_sock = -1;
    for (int i = 0; i < 3; i++)
        if (dup2(slave, i) < 0)
            FAIL(PC_STEP_CONSOLE, i, NULL);
    if (slave > 2)
        close(slave);
}

/* ---- the root ----------------------------------------------------------------------------- */


/* sysctls, masked paths and read-only paths, relative to rootfd; dn: the verified host
 * /dev/null that masked files get bound over (-1: none). */
static void protect_paths(const struct pc_plan *p, int rootfd, int dn)
{
    for (int i = 0; i < p->n_sysctls; i++)
        write_sysctl(rootfd, &p->sysctls[i], i);
    for (int i = 0; i < p->n_masked; i++)
        mask_path(rootfd, dn, p->masked[i], i);
    for (int i = 0; i < p->n_readonly; i++)
        readonly_path(rootfd, p->readonly[i], i);
}

#ifndef SYS_fsopen
#define SYS_fsopen 430
#define SYS_fsconfig 431
#define SYS_fsmount 432
#endif
#define PC_FSCONFIG_SET_FLAG 0
#define PC_FSCONFIG_SET_STRING 1
#define PC_FSCONFIG_CMD_CREATE 6

static int fs_set(int fs, const char *key, const char *value)
{
    return (int)syscall(SYS_fsconfig, fs, value ? PC_FSCONFIG_SET_STRING : PC_FSCONFIG_SET_FLAG,
                        key, value, 0);
}

/* A filesystem made with the new mount API, detached (no path anywhere yet): its fd */
static int fs_mount(int fs, const char *what)
{
    if (syscall(SYS_fsconfig, fs, PC_FSCONFIG_CMD_CREATE, NULL, NULL, 0) < 0)
        FAIL(PC_STEP_OVERLAY, -1, what);
    int m = (int)syscall(SYS_fsmount, fs, 1 /* FSMOUNT_CLOEXEC */, 0);
    if (m < 0)
        FAIL(PC_STEP_OVERLAY, -1, what);
    close(fs);
    return m;
}

/* An image's root: the overlay of p->overlay_lower (top first) with a writable layer, put
 * where rootfs_fd is (an empty directory) in our own mount namespace; returns an fd of the
 * overlay's root.  One fsconfig per lower layer ("lowerdir+", Linux 6.8), so no length
 * limit; older kernels take the classic colon list.  Without overlay_upper the writable
 * layer is a tmpfs of the container's own, charged to its memory cgroup, gone with it. */
static int mount_overlay_root(const struct pc_plan *p, int rootfs_fd)
{
    char upper[64], work[64];
    const char *up = p->overlay_upper, *wk = p->overlay_work;
    int scratch = -1;
    if (!up) {
        int fs = (int)syscall(SYS_fsopen, "tmpfs", 1 /* FSOPEN_CLOEXEC */);
        if (fs < 0 || fs_set(fs, "mode", "0755") < 0)
            FAIL(PC_STEP_OVERLAY, -1, "tmpfs");
        scratch = fs_mount(fs, "tmpfs");
        if (syscall(SYS_move_mount, scratch, "", rootfs_fd, "",
                    MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH) < 0)
            FAIL(PC_STEP_OVERLAY, -1, p->rootfs);
        if (mkdirat(scratch, "upper", 0755) < 0 || mkdirat(scratch, "work", 0700) < 0 ||
            mkdirat(scratch, "root", 0755) < 0)
            FAIL(PC_STEP_OVERLAY, -1, "tmpfs");
        char fdp[48];
        pc_fdpath(fdp, sizeof(fdp), scratch);
        if (pc_join(upper, sizeof(upper), fdp, "upper") < 0 ||
            pc_join(work, sizeof(work), fdp, "work") < 0)
            FAILE(ENAMETOOLONG, PC_STEP_OVERLAY, -1, fdp);
        up = upper;
        wk = work;
    }
    int fs = (int)syscall(SYS_fsopen, "overlay", 1 /* FSOPEN_CLOEXEC */);
    if (fs < 0)
        FAIL(PC_STEP_OVERLAY, -1, "overlay");
    int per_layer = 1;
    for (int i = 0; i < p->n_overlay_lower; i++) {
        if (fs_set(fs, "lowerdir+", p->overlay_lower[i]) == 0)
            continue;
        if (i == 0 && errno == EINVAL) {
            per_layer = 0; /* before 6.8: one "lowerdir" option */
            break;
        }
        FAIL(PC_STEP_OVERLAY, i, p->overlay_lower[i]);
    }
    if (!per_layer) {
        char list[8192];
        size_t n = 0;
        for (int i = 0; i < p->n_overlay_lower; i++) {
            size_t len = (size_t)pc_strlen(p->overlay_lower[i]);
            if (n + len + 2 > sizeof(list))
                FAILE(E2BIG, PC_STEP_OVERLAY, i, p->overlay_lower[i]);
            if (n)
                list[n++] = ':';
            memcpy(list + n, p->overlay_lower[i], len);
            n += len;
        }
        list[n] = 0;
        if (fs_set(fs, "lowerdir", list) < 0)
            FAIL(PC_STEP_OVERLAY, -1, "lowerdir");
    }
    if (fs_set(fs, "upperdir", up) < 0)
        FAIL(PC_STEP_OVERLAY, -1, up);
    if (fs_set(fs, "workdir", wk) < 0)
        FAIL(PC_STEP_OVERLAY, -1, wk);
    /* no inode index: layers are shared between containers and never renamed */
    if (fs_set(fs, "index", "off") < 0 && errno != EINVAL)
        FAIL(PC_STEP_OVERLAY, -1, "index=off");
    if (p->overlay_userxattr && fs_set(fs, "userxattr", NULL) < 0)
        FAIL(PC_STEP_OVERLAY, -1, "userxattr");
    int ov = fs_mount(fs, "overlay");
    int r = scratch >= 0
                ? (int)syscall(SYS_move_mount, ov, "", scratch, "root", MOVE_MOUNT_F_EMPTY_PATH)
                : (int)syscall(SYS_move_mount, ov, "", rootfs_fd, "",
                               MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH);
    if (r < 0)
        FAIL(PC_STEP_OVERLAY, -1, p->rootfs);
    if (scratch >= 0)
        close(scratch);
    return ov;
}

static void setup_root(const struct pc_plan *p, int rootfs_fd)
{
    const char *rootfs = p->rootfs;
    char staged[PATH_MAX];
    int recursive_ro_done = 0;

    /* /dev/null of the host, verified, for masking files later (a container could swap its
     * own /dev/null for a symlink) */
    int dn = open("/dev/null", O_PATH | O_CLOEXEC | O_NOFOLLOW);
    if (dn >= 0) {
        struct stat st;
        if (fstat(dn, &st) < 0 || !S_ISCHR(st.st_mode) || st.st_rdev != makedev(1, 3)) {
            close(dn);
            dn = -1;
        }
    }

    if (p->staging) {
        /* e.g. the host's "/" as a root: copy the tree under a private tmpfs to pivot into */
        if (mount("pycontain", p->staging, "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755,size=64k") < 0)
            FAIL(PC_STEP_STAGE_ROOT, -1, p->staging);
        if (pc_join(staged, sizeof(staged), p->staging, "root") < 0)
            FAILE(ENAMETOOLONG, PC_STEP_STAGE_ROOT, -1, p->staging);
        if (mkdir(staged, 0755) < 0)
            FAIL(PC_STEP_STAGE_ROOT, -1, staged);
        if (mount(rootfs, staged, NULL, MS_BIND | MS_REC, NULL) < 0)
            FAIL(PC_STEP_STAGE_ROOT, -1, rootfs);
        rootfs = staged;
        if (p->rootfs_readonly) {
            struct mount_attr attr;
            memset(&attr, 0, sizeof(attr));
            attr.attr_set = MOUNT_ATTR_RDONLY;
            if (syscall(SYS_mount_setattr, AT_FDCWD, rootfs, AT_RECURSIVE, &attr, sizeof(attr)) == 0)
                recursive_ro_done = 1;
            else if (errno != ENOSYS)
                FAIL(PC_STEP_ROOT_READONLY, -1, rootfs);
        }
    }
    int rootfd = -1;
    if (!p->staging && (p->root_mode == PC_ROOT_PIVOT || p->rootfs_readonly)) {
        /* pivot_root needs the new root to be a mount point: clone the tree and attach it on
         * top of itself, all through fds (opened before we became root of a user namespace,
         * whose uid might not be allowed to walk the host path) */
        int tree = (int)syscall(SYS_open_tree, rootfs_fd, "",
                                OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_RECURSIVE | AT_EMPTY_PATH);
        if (tree >= 0) {
            if (syscall(SYS_move_mount, tree, "", rootfs_fd, "",
                        MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH) < 0)
                FAIL(PC_STEP_BIND_ROOT, -1, rootfs);
            rootfd = tree;
        } else if (errno == ENOSYS) {
            char fdp[64];
            pc_fdpath(fdp, sizeof(fdp), rootfs_fd);
            if (mount(fdp, fdp, NULL, MS_BIND | MS_REC, NULL) < 0)
                FAIL(PC_STEP_BIND_ROOT, -1, rootfs);
            rootfd = open(rootfs, O_PATH | O_DIRECTORY | O_CLOEXEC);
        } else {
            FAIL(PC_STEP_BIND_ROOT, -1, rootfs);
        }
    } else if (p->staging) {
        rootfd = open(rootfs, O_PATH | O_DIRECTORY | O_CLOEXEC);
    } else {
        rootfd = fcntl(rootfs_fd, F_DUPFD_CLOEXEC, 3);
    }
    if (rootfd < 0)
        FAIL(PC_STEP_OPEN_ROOT, -1, rootfs);

    for (int i = 0; i < p->n_mounts; i++)
        do_mount(rootfd, &p->mounts[i], i);
    for (int i = 0; i < p->n_devices; i++)
        make_device(rootfd, &p->devices[i], i);
    for (int i = 0; i < p->n_symlinks; i++)
        make_symlink(rootfd, &p->symlinks[i], i);
    if (p->create_cwd && p->cwd) {
        /* before the user changes and the root goes read-only; the chdir comes later */
        int cfd = pc_open_in_root(rootfd, p->cwd, PC_CREATE_DIR, 0, 0755);
        if (cfd < 0)
            FAILE(-cfd, PC_STEP_CWD, -1, p->cwd);
        close(cfd);
    }
    setup_console(p, rootfd);
    /* Done before pivot_root, relative to the new root: the host's /dev/null (verified
     * above) is still reachable for masking files, and nothing of the container has run yet
     * that could have swapped a path. */
    protect_paths(p, rootfd, dn);
    if (dn >= 0)
        close(dn);

    stop_at(PC_STOP_MOUNTS);

    if (p->root_mode == PC_ROOT_PIVOT) {
        int oldroot = open("/", O_DIRECTORY | O_RDONLY | O_CLOEXEC);
        if (oldroot < 0)
            FAIL(PC_STEP_PIVOT_ROOT, -1, "/");
        int newroot = fcntl(rootfd, F_DUPFD_CLOEXEC, 3);
        if (newroot < 0)
            FAIL(PC_STEP_PIVOT_ROOT, -1, rootfs);
        if (fchdir(newroot) < 0)
            FAIL(PC_STEP_PIVOT_ROOT, -1, rootfs);
        if (syscall(SYS_pivot_root, ".", ".") < 0)
            FAIL(PC_STEP_PIVOT_ROOT, -1, rootfs);
        /* the old root now sits on top of "."; detach it without telling the host */
        if (fchdir(oldroot) < 0)
            FAIL(PC_STEP_DETACH_OLD_ROOT, -1, "/");
        if (mount(NULL, ".", NULL, MS_SLAVE | MS_REC, NULL) < 0)
            FAIL(PC_STEP_DETACH_OLD_ROOT, -1, "/");
        if (umount2(".", MNT_DETACH) < 0)
            FAIL(PC_STEP_DETACH_OLD_ROOT, -1, "/");
        if (chdir("/") < 0)
            FAIL(PC_STEP_DETACH_OLD_ROOT, -1, "/");
        close(oldroot);
        close(newroot);
    } else if (p->root_mode == PC_ROOT_CHROOT) {
        if (fchdir(rootfd) < 0)
            FAIL(PC_STEP_CHROOT, -1, rootfs);
        if (chroot(".") < 0)
            FAIL(PC_STEP_CHROOT, -1, rootfs);
        if (chdir("/") < 0)
            FAIL(PC_STEP_CHROOT, -1, rootfs);
    }
    close(rootfd);

    if (p->rootfs_readonly && !recursive_ro_done) {
        int fd = open("/", O_PATH | O_CLOEXEC);
        unsigned long lf = fd >= 0 ? locked_flags(fd) : 0;
        if (fd >= 0)
            close(fd);
        if (mount(NULL, "/", NULL, MS_BIND | MS_REMOUNT | MS_RDONLY | lf, NULL) < 0)
            FAIL(PC_STEP_ROOT_READONLY, -1, "/");
    }
    if (p->rootfs_propagation && p->root_mode == PC_ROOT_PIVOT) {
        if (mount(NULL, "/", NULL, p->rootfs_propagation, NULL) < 0)
            FAIL(PC_STEP_ROOTFS_PROPAGATION, -1, "/");
    }
}

/* ---- capabilities ------------------------------------------------------------------------- */

static void set_caps(const struct pc_plan *p)
{
    for (int c = 0; c <= p->cap_last; c++) {
        if (!(p->cap_bounding & (1ULL << c))) {
            if (prctl(PR_CAPBSET_DROP, c, 0, 0, 0) < 0 && errno != EINVAL)
                FAIL(PC_STEP_BOUNDING, c, NULL);
        }
    }
}

static void apply_caps(const struct pc_plan *p)
{
    struct __user_cap_header_struct hdr;
    struct __user_cap_data_struct data[2];
    memset(&hdr, 0, sizeof(hdr));
    memset(data, 0, sizeof(data));
    hdr.version = _LINUX_CAPABILITY_VERSION_3;
    hdr.pid = 0;
    data[0].effective = (uint32_t)p->cap_effective;
    data[1].effective = (uint32_t)(p->cap_effective >> 32);
    data[0].permitted = (uint32_t)p->cap_permitted;
    data[1].permitted = (uint32_t)(p->cap_permitted >> 32);
    data[0].inheritable = (uint32_t)p->cap_inheritable;
    data[1].inheritable = (uint32_t)(p->cap_inheritable >> 32);
    if (syscall(SYS_capset, &hdr, data) < 0)
        FAIL(PC_STEP_CAPS, -1, NULL);
    if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0 && errno != EINVAL)
        FAIL(PC_STEP_AMBIENT, -1, NULL);
    for (int c = 0; c <= p->cap_last; c++) {
        if (p->cap_ambient & (1ULL << c)) {
            /* an ambient cap must also be permitted and inheritable; runc ignores the ones
             * that are not (its own default spec asks for such), so do we */
            if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, c, 0, 0) < 0 && errno != EPERM)
                FAIL(PC_STEP_AMBIENT, c, NULL);
        }
    }
}

/* ---- exec --------------------------------------------------------------------------------- */

static __thread char g_exec_path[PATH_MAX];

/* Find the executable like execvp, inside the container, before we say "ready". */
static const char *find_exec(const struct pc_plan *p)
{
    const char *file = p->path;
    for (const char *c = file; *c; c++)
        if (*c == '/') {
            /* a path: it must exist and be executable now, not fail after start */
            struct stat st;
            if (stat(file, &st) < 0)
                FAIL(PC_STEP_FIND_EXEC, -1, file);
            if (!S_ISREG(st.st_mode))
                FAILE(EACCES, PC_STEP_FIND_EXEC, -1, file);
            if (access(file, X_OK) < 0)
                FAIL(PC_STEP_FIND_EXEC, -1, file);
            return file;
        }
    if (!*file)
        FAILE(ENOENT, PC_STEP_FIND_EXEC, -1, file);
    const char *sp = p->search_path ? p->search_path : "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
    int last_err = ENOENT;
    while (1) {
        const char *end = sp;
        while (*end && *end != ':')
            end++;
        char dir[PATH_MAX];
        size_t dl = (size_t)(end - sp);
        if (dl == 0) {
            dir[0] = '.';
            dl = 1;
        } else if (dl < sizeof(dir)) {
            memcpy(dir, sp, dl);
        } else {
            dl = 0;
        }
        if (dl) {
            dir[dl] = '\0';
            if (pc_join(g_exec_path, sizeof(g_exec_path), dir, file) == 0) {
                struct stat st;
                if (stat(g_exec_path, &st) == 0 && S_ISREG(st.st_mode)) {
                    if (access(g_exec_path, X_OK) == 0)
                        return g_exec_path;
                    last_err = EACCES;
                }
            }
        }
        if (!*end)
            break;
        sp = end + 1;
    }
    FAILE(last_err, PC_STEP_FIND_EXEC, -1, file);
}

static void reset_signals(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = SIG_DFL;
    for (int s = 1; s < 65; s++) {
        if (s == SIGKILL || s == SIGSTOP)
            continue;
        sigaction(s, &sa, NULL); /* EINVAL for the glibc-reserved ones: fine */
    }
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
}

static void check_parent(int parent_pidfd)
{
    if (parent_pidfd < 0)
        return;
    if (prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) < 0)
        FAIL(PC_STEP_PARENT_DEATH, -1, NULL);
    struct pollfd pfd = {.fd = parent_pidfd, .events = POLLIN};
    if (poll(&pfd, 1, 0) > 0)
        _exit(137); /* the parent is already gone */
}

/* A pod's infra process: keeps the shared namespaces alive, reaps orphans (it is pid 1 of a
 * pod-wide pid namespace when there is one), exits on SIGTERM/SIGINT.  Closing err_fd tells the
 * parent we are ready, like a successful execve would. */
static void pause_noop(int sig)
{
    (void)sig;
}

static void pause_forever(int err_fd) __attribute__((noreturn));
static void pause_forever(int err_fd)
{
    /* it is a copy of the caller's memory that never execs: say what it is in ps */
    prctl(PR_SET_NAME, "pycontain-pause", 0, 0, 0);
    /* pid 1 of a namespace only receives signals it has a handler for */
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = pause_noop;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGCHLD, &sa, NULL);
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGCHLD);
    sigprocmask(SIG_BLOCK, &set, NULL);
    close(err_fd);
    for (;;) {
        int sig = 0;
        if (sigwait(&set, &sig) != 0)
            continue;
        if (sig == SIGCHLD) {
            while (waitpid(-1, NULL, WNOHANG) > 0)
                ;
            continue;
        }
        _exit(0);
    }
}

/* A user namespace whose gid map was written without privilege denies setgroups(): the
 * groups we hold then can't be dropped (the kernel's rule), and asking for none is no error. */
static int setgroups_denied(void)
{
    char buf[8] = {0};
    int fd = open("/proc/self/setgroups", O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return 0;
    ssize_t n = read(fd, buf, sizeof(buf) - 1);
    close(fd);
    return n >= 4 && buf[0] == 'd' && buf[1] == 'e' && buf[2] == 'n' && buf[3] == 'y';
}

void pc_child_main(const struct pc_plan *p) __attribute__((noreturn));
void pc_child_main(const struct pc_plan *p)
{
    int err_fd = p->err_fd, sync_fd = p->sync_fd, start_fd = p->start_fd;
    int keep_fd = p->start_keep_fd, parent_pidfd = p->parent_pidfd;
    g_err_fd = err_fd;

    /* The parent blocked every signal around clone(); Python's handlers must never run here. */
    reset_signals();

    /* Joining a running container: nobody (inside) may ptrace or read our memory until the
     * execve (CVE-2016-9962); execve makes the process dumpable again.  In a user namespace
     * of our own whose maps the parent writes, stay dumpable until then: a parent without
     * privilege may only open /proc/PID/uid_map of a dumpable child, and nobody but our own
     * user can reach us before we join or enter anything. */
    int late_nondumpable = p->nondumpable && p->stops &&
                           (p->clone_flags & CLONE_NEWUSER);
    if (p->nondumpable && !late_nondumpable)
        become_nondumpable();

    if (parent_pidfd >= 0)
        check_parent(parent_pidfd);

    int console_sock = p->console_sock;
    int stub_fd = p->exec_stub_fd;
    int late_pidns = p->pidns_late ? p->pidns_fd : -1;
    place_fds(p, &err_fd, &sync_fd, &start_fd, &keep_fd, &parent_pidfd, &console_sock, &stub_fd,
              &late_pidns);
    g_console_sock = console_sock;

    /* v1: "0" to `tasks` moves this thread only, without the global lock whose grace period
     * a cgroup.procs write waits for (we have no other thread); v2: CLONE_INTO_CGROUP did it,
     * unless the clone could not */
    int n_procs = p->n_cgroup_procs_fds - (pc_cloned_into_cgroup ? p->cgroup_procs_into : 0);
    for (int i = 0; i < n_procs; i++) {
        if (write(p->cgroup_procs_fds[i], "0", 1) < 0)
            FAIL(PC_STEP_CGROUP, i, NULL);
    }

    if (p->unshare_time && unshare(CLONE_NEWTIME) < 0)
        FAIL(PC_STEP_UNSHARE_TIME, -1, NULL);

    g_sync_fd = sync_fd;
    g_stops = p->stops;
    /* time namespace unshared: the parent writes id maps and time offsets */
    stop_at(PC_STOP_IDMAP);
    if (late_nondumpable) {
        /* A parent without root reaches /proc/PID/ns and /proc/PID/root at its later stops
         * only while we are dumpable: stay so while everything we are in is our own; never
         * into what we join. */
        if (p->stay_dumpable && g_stops && !p->n_joins && late_pidns < 0)
            g_nondumpable_after_stops = 1;
        else
            become_nondumpable();
    }

    for (int i = 0; i < p->n_joins; i++) {
        if (setns(p->joins[i].fd, p->joins[i].nstype) < 0)
            FAIL(PC_STEP_SETNS, i, NULL);
    }

    /* Without privilege a pid namespace can only be joined from inside its user namespace,
     * and namespaces made after joining a user namespace belong to it (a mount namespace
     * made before could not be mounted in): join or unshare now, and for a pid namespace
     * fork the process that goes on into it, as a sibling (CLONE_PARENT: the caller reaps
     * it).  We report its pid and leave. */
    if (p->late_unshare && unshare((int)p->late_unshare) < 0)
        FAIL(PC_STEP_UNSHARE, -1, NULL);
    if (late_pidns >= 0 || (p->late_unshare & (CLONE_NEWPID | CLONE_NEWTIME))) {
        if (late_pidns >= 0) {
            if (setns(late_pidns, CLONE_NEWPID) < 0)
                FAIL(PC_STEP_SETNS, -1, "pid");
            close(late_pidns);
        }
        /* the gate: the process that goes on reports nothing (a stop, an error, ready)
         * before the parent has its pid; it reads EOF once we are gone */
        int gate[2];
        if (pipe2(gate, O_CLOEXEC) < 0)
            FAIL(PC_STEP_FORK_PIDNS, -1, NULL);
        long c = syscall(SYS_clone, CLONE_PARENT | SIGCHLD, 0, 0, 0, 0);
        if (c < 0)
            FAIL(PC_STEP_FORK_PIDNS, -1, NULL);
        if (c > 0) {
            send_report(err_fd, PC_REPORT_PID, (int)c);
            _exit(0);
        }
        close(gate[1]);
        wait_byte(gate[0]); /* EOF: the first child is gone, the parent has our pid */
        close(gate[0]);
    }
    /* every namespace of the container exists and we are in all of them; nothing mounted */
    stop_at(PC_STOP_NAMESPACES);

    int rootfs_fd = -1;
    if (p->root_mode != PC_ROOT_NONE && !p->staging) {
        rootfs_fd = open(p->rootfs, O_PATH | O_DIRECTORY | O_CLOEXEC);
        if (rootfs_fd < 0)
            FAIL(PC_STEP_OPEN_ROOT, -1, p->rootfs);
        if (p->rootfs_ino) {
            /* the directory the caller checked (not the host's "/"): a path swapped for a
             * symlink since then leads elsewhere */
            struct stat st;
            if (fstat(rootfs_fd, &st) < 0)
                FAIL(PC_STEP_OPEN_ROOT, -1, p->rootfs);
            if ((unsigned long long)st.st_dev != p->rootfs_dev ||
                (unsigned long long)st.st_ino != p->rootfs_ino)
                FAILE(EXDEV, PC_STEP_ROOT_CHANGED, -1, p->rootfs);
        }
    }

    /* In a user namespace our host uid may be unmapped: become its root (when it has one)
     * so that files we create have an owner there. */
    if (p->become_root) {
        if (setresgid(0, 0, 0) < 0 && errno != EINVAL)
            FAIL(PC_STEP_SETGID, -1, NULL);
        if (setresuid(0, 0, 0) < 0 && errno != EINVAL)
            FAIL(PC_STEP_SETUID, -1, NULL);
    }

    /* A session keyring of the container's own: the caller's keys (and other containers')
     * stay out of reach.  Searchable by its user, as runc makes it. */
    if (p->new_keyring) {
        long id = syscall(SYS_keyctl, 1 /* KEYCTL_JOIN_SESSION_KEYRING */, p->keyring_name);
        if (id < 0 && errno != ENOSYS)
            FAIL(PC_STEP_KEYRING, -1, p->keyring_name);
        if (id >= 0 && syscall(SYS_keyctl, 5 /* KEYCTL_SETPERM */, id, 0x3f1b0000UL) < 0)
            FAIL(PC_STEP_KEYRING, -1, p->keyring_name);
    }

    if (p->hostname && sethostname(p->hostname, pc_strlen(p->hostname)) < 0)
        FAIL(PC_STEP_HOSTNAME, -1, p->hostname);
    if (p->domainname && setdomainname(p->domainname, pc_strlen(p->domainname)) < 0)
        FAIL(PC_STEP_DOMAINNAME, -1, p->domainname);
    if (p->loopback_up)
        loopback_up();
    if (p->net)
        pc_child_net(p->net);
    if (p->set_oom_score_adj) {
        char buf[24];
        itoa_signed(buf, p->oom_score_adj);
        write_small_file("/proc/self/oom_score_adj", buf, PC_STEP_OOM_SCORE_ADJ, -1);
    }

    if (p->root_propagation && mount(NULL, "/", NULL, p->root_propagation, NULL) < 0)
        FAIL(PC_STEP_PROPAGATION, -1, "/");
    g_root_propagation = p->root_propagation;
    g_own_userns = ((p->clone_flags | p->late_unshare) & CLONE_NEWUSER) != 0;
    for (int i = 0; i < p->n_joins; i++)
        if (p->joins[i].nstype == CLONE_NEWUSER)
            g_own_userns = 1;

    if (p->n_overlay_lower && rootfs_fd >= 0) {
        int ov = mount_overlay_root(p, rootfs_fd);
        close(rootfs_fd);
        rootfs_fd = ov;
    }
    if (p->root_mode != PC_ROOT_NONE) {
        setup_root(p, rootfs_fd);
    } else if (g_console_sock >= 0) {
        int rootfd = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
        if (rootfd < 0)
            FAIL(PC_STEP_OPEN_ROOT, -1, "/");
        setup_console(p, rootfd);
        close(rootfd);
    }
    if (p->root_mode == PC_ROOT_NONE && (p->n_sysctls || p->n_masked || p->n_readonly)) {
        int rootfd = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
        int dn = open("/dev/null", O_PATH | O_CLOEXEC | O_NOFOLLOW);
        if (rootfd < 0)
            FAIL(PC_STEP_OPEN_ROOT, -1, "/");
        protect_paths(p, rootfd, dn);
        close(rootfd);
        if (dn >= 0)
            close(dn);
    }
    stop_at(PC_STOP_MOUNTS); /* no root to enter: mounts, masks and read-only paths made */

    for (int i = 0; i < p->n_rlimits; i++) {
        struct rlimit rl = {.rlim_cur = p->rlimits[i].soft, .rlim_max = p->rlimits[i].hard};
        if (setrlimit(p->rlimits[i].resource, &rl) < 0)
            FAIL(PC_STEP_RLIMIT, i, NULL);
    }
    if (p->umask >= 0)
        umask((mode_t)p->umask);
    if (p->personality >= 0 && personality((unsigned long)p->personality) < 0)
        FAIL(PC_STEP_PERSONALITY, -1, NULL);

    if (p->setsid && setsid() < 0)
        FAIL(PC_STEP_SETSID, -1, NULL);
    if (p->ctty >= 0 && ioctl(p->ctty, TIOCSCTTY, 0) < 0)
        FAIL(PC_STEP_CTTY, -1, NULL);

    /* No fd of the host may stay reachable (a cwd of /proc/self/fd/N, CVE-2024-21626). */
    int keep[5] = {err_fd, start_fd, keep_fd, parent_pidfd, stub_fd};
    close_other_fds(p->close_from, keep, 5);
    /* Below close_from only what was placed there stays: a preserved fd the caller did not
     * have open (skipped) must not leave one of ours at its number (a lock or a pipe the
     * parent waits on, held until execve or beyond). */
    for (int fd = 3; fd < p->close_from && fd < 4096; fd++) {
        int placed = 0;
        for (int i = 0; i < p->n_fds && !placed; i++)
            placed = p->fds[i].dst == fd;
        for (int i = 0; i < 5 && !placed; i++)
            placed = keep[i] == fd;
        if (!placed)
            close(fd);
    }

    /* Seccomp without no_new_privs needs CAP_SYS_ADMIN: load it while we still have it. */
    int seccomp_late = p->no_new_privs;
    struct sock_fprog prog = {.len = (unsigned short)p->seccomp_len,
                              .filter = (struct sock_filter *)p->seccomp_filter};
    if (p->seccomp_filter && !seccomp_late) {
        if (syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, p->seccomp_flags, &prog) < 0)
            FAIL(PC_STEP_SECCOMP, -1, NULL);
    }

    if (p->set_caps) {
        set_caps(p);
        if (prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) < 0)
            FAIL(PC_STEP_CAPS, -1, NULL);
    }
    if (p->set_user) {
        if (p->set_groups && setgroups((size_t)p->n_groups, (const gid_t *)p->groups) < 0 &&
            !(errno == EPERM && p->n_groups == 0 && setgroups_denied()))
            FAIL(PC_STEP_SETGROUPS, -1, NULL);
        if (setresgid(p->gid, p->gid, p->gid) < 0)
            FAIL(PC_STEP_SETGID, -1, NULL);
        if (setresuid(p->uid, p->uid, p->uid) < 0)
            FAIL(PC_STEP_SETUID, -1, NULL);
    }
    if (p->set_caps)
        apply_caps(p);
    if (p->no_new_privs && prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
        FAIL(PC_STEP_NO_NEW_PRIVS, -1, NULL);


    if (p->cwd) {
        int fd = pc_open_in_root(AT_FDCWD, p->cwd, PC_CREATE_NONE, 0, 0);
        if (fd < 0)
            FAILE(-fd, PC_STEP_CWD, -1, p->cwd);
        if (fchdir(fd) < 0)
            FAIL(PC_STEP_CWD, -1, p->cwd);
        close(fd);
    } else if (p->root_mode != PC_ROOT_NONE && chdir("/") < 0) {
        FAIL(PC_STEP_CWD, -1, "/");
    }

    /* an init with a control socket may be told the command later (csrc/init.c, "X"): it
     * looks the program up itself then */
    const char *exe = p->pause ? NULL
                      : (p->init && p->init_ctl >= 0 && stub_fd >= 0) ? p->argv[0]
                                                                        : find_exec(p);

    if (start_fd >= 0) {
        /* the index: the fd it waits on (reachable as /proc/PID/fd/N by root) */
        send_report(err_fd, PC_REPORT_READY, start_fd);
        if (!wait_byte(start_fd))
            _exit(0); /* never started: deleted before start */
        close(start_fd);
        if (keep_fd >= 0)
            close(keep_fd);
    }

    if (p->seccomp_filter && seccomp_late) {
        if (syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, p->seccomp_flags, &prog) < 0)
            FAIL(PC_STEP_SECCOMP, -1, NULL);
    }
    /* credential changes cleared the death signal: arm it again, then make sure the parent
     * did not die in between */
    if (parent_pidfd >= 0) {
        check_parent(parent_pidfd);
        close(parent_pidfd);
    }

    if (p->pause) {
        /* a pod's infra: execute the static program of csrc/pause.c, so that no copy of the
         * caller's memory holds the pod.  The error pipe stays open across the execve; the
         * program closes it once it waits for its signals (the parent's "ready"). */
        if (stub_fd >= 0 && fcntl(err_fd, F_SETFD, 0) == 0) {
            syscall(SYS_execveat, stub_fd, "", p->argv, p->envp, AT_EMPTY_PATH);
            fcntl(err_fd, F_SETFD, FD_CLOEXEC);
        }
        /* no such program (another architecture) or its execve refused: be the infra */
        pause_forever(err_fd);
    }
    if (p->init && stub_fd >= 0) {
        /* through the init (csrc/init.c), which stays pid 1 and runs the program as its
         * child; its control socket number as a decimal string */
        int n = 0;
        while (p->argv[n])
            n++;
        char ctl[24];
        itoa_signed(ctl, p->init_ctl < 0 ? -1 : p->init_ctl);
        const char *iargv[n + 4];
        iargv[0] = "pycontain-init";
        iargv[1] = ctl;
        iargv[2] = exe;
        for (int i = 0; i <= n; i++)
            iargv[3 + i] = p->argv[i];
        syscall(SYS_execveat, stub_fd, "", iargv, p->envp, AT_EMPTY_PATH);
        FAIL(PC_STEP_EXEC, -1, "pycontain-init");
    }
    if (stub_fd >= 0) {
        /* through the sealed stub, so /proc/self/exe is never this interpreter when the
         * kernel looks up a "#!" interpreter of the user's program */
        int n = 0;
        while (p->argv[n])
            n++;
        /* the error pipe stays open across the stub's execve: the stub reports a failed
         * execve of the program on it (csrc/execstub.c) */
        _Static_assert(PC_REPORT_ERROR == 1 && PC_STEP_EXEC == 47 &&
                           sizeof(struct pc_report) == 4 * sizeof(int) + 512,
                       "csrc/execstub.c's report must match struct pc_report");
        char efd[24];
        itoa_signed(efd, err_fd);
        const char *sargv[n + 4];
        sargv[0] = "pycontain-execstub";
        sargv[1] = efd;
        sargv[2] = exe;
        for (int i = 0; i <= n; i++)
            sargv[3 + i] = p->argv[i];
        int cleared = fcntl(err_fd, F_SETFD, 0) == 0;
        syscall(SYS_execveat, stub_fd, "", sargv, p->envp, AT_EMPTY_PATH);
        /* refused by a seccomp filter or an old kernel: execve directly */
        if (cleared)
            fcntl(err_fd, F_SETFD, FD_CLOEXEC);
    }
    execve(exe, p->argv, p->envp);
    FAIL(PC_STEP_EXEC, -1, exe);
}
