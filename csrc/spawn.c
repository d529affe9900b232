/* The parent side of a spawn: clone3 (CLONE_PIDFD, CLONE_INTO_CGROUP) with a fallback to
 * clone, signals blocked around it, and an optional switch of this thread's
 * pid_for_children namespace so the child lands in a pid namespace it joins. */
#include "internal.h"

#include <linux/sched.h>
#include <pthread.h>
#include <sys/prctl.h>
#include <sys/mman.h>
#include <sys/stat.h>

#include "execstub_bin.h"
#include "pause_bin.h"
#include "monitor_bin.h"
#include "init_bin.h"

void pc_child_main(const struct pc_plan *p) __attribute__((noreturn));

#ifndef CLONE_ARGS_SIZE_VER2
struct pc_clone_args {
    uint64_t flags, pidfd, child_tid, parent_tid, exit_signal, stack, stack_size, tls,
        set_tid, set_tid_size, cgroup;
};
#define CLONE_ARGS_T struct pc_clone_args
#else
#define CLONE_ARGS_T struct clone_args
#endif

static int clone3_state = 0; /* 0 unknown, 1 works, -1 missing */

__thread int pc_cloned_into_cgroup;

int pc_clone3_supported(void)
{
    return clone3_state >= 0;
}

static pid_t do_clone(const struct pc_plan *p, int *pidfd)
{
    uint64_t flags = (uint64_t)p->clone_flags | CLONE_PIDFD;
    if (clone3_state >= 0) {
        CLONE_ARGS_T args;
        memset(&args, 0, sizeof(args));
        args.flags = flags;
        args.pidfd = (uint64_t)(uintptr_t)pidfd;
        /* clone3 takes no exit signal with CLONE_PARENT: the child gets the caller's */
        args.exit_signal = (p->clone_flags & CLONE_PARENT) ? 0 : SIGCHLD;
        size_t size = offsetof(CLONE_ARGS_T, set_tid);
        if (p->cgroup_fd >= 0) {
            args.flags |= CLONE_INTO_CGROUP;
            args.cgroup = (uint64_t)p->cgroup_fd;
            size = sizeof(args);
        }
        pc_cloned_into_cgroup = p->cgroup_fd >= 0;
        long r = syscall(SYS_clone3, &args, size);
        if (r >= 0 || errno != ENOSYS) {
            clone3_state = 1;
            return (pid_t)r;
        }
        clone3_state = -1;
    }
    pc_cloned_into_cgroup = 0;
    /* clone(2) with no new stack behaves like fork; CLONE_PIDFD stores the fd at parent_tid */
    return (pid_t)syscall(SYS_clone, (unsigned long)(flags | SIGCHLD), NULL, pidfd, NULL, NULL);
}

static int vfork_child(void *arg)
{
    pc_child_main((const struct pc_plan *)arg);
    return 127;
}

/* clone3 whose child starts on a stack of its own in fn(arg), as glibc's clone() does for
 * clone(2), which cannot put the child into a cgroup.  The vfork path uses it for
 * CLONE_INTO_CGROUP: a child that writes cgroup.procs instead waits, whenever no other
 * migration happened within the last grace period, for an RCU grace period (the kernel's
 * global cgroup_threadgroup_rwsem; 10-20 ms on a small VM, the tail of a start loop).
 * Returns the pid or -errno.  x86_64 only; elsewhere the child writes cgroup.procs. */
#if defined(__x86_64__)
#define HAVE_CLONE3_FN 1
long pc_clone3_fn(CLONE_ARGS_T *args, size_t size, int (*fn)(void *), void *arg);
__asm__(".text\n"
        ".globl pc_clone3_fn\n"
        ".hidden pc_clone3_fn\n"
        ".type pc_clone3_fn,@function\n"
        ".p2align 4\n"
        "pc_clone3_fn:\n"
        "    movq %rdx, %r8\n"  /* fn, arg: r8 and r9 survive the syscall, in both */
        "    movq %rcx, %r9\n"
        "    movl $435, %eax\n" /* SYS_clone3 */
        "    syscall\n"
        "    testq %rax, %rax\n"
        "    jnz 1f\n"
        "    xorl %ebp, %ebp\n" /* the child, on its own stack: the outermost frame */
        "    movq %r9, %rdi\n"
        "    callq *%r8\n"
        "    movl %eax, %edi\n"
        "    movl $60, %eax\n" /* SYS_exit (fn never returns: it execs or exits) */
        "    syscall\n"
        "    hlt\n"
        "1:  ret\n"
        ".size pc_clone3_fn, .-pc_clone3_fn\n");
#endif

/* The child can share our memory (CLONE_VM | CLONE_VFORK: no page tables copied, which a big
 * Python process pays for at every fork) when nobody has to talk to it before its execve:
 * no stop for the parent, no create/start split, no pause mode, no time namespace.  A late
 * cgroup namespace is fine: unshare(CLONE_NEWCGROUP) does not care who shares our memory. */
static int can_vfork(const struct pc_plan *p)
{
    return !p->stops && p->start_fd < 0 && !p->pause && !p->unshare_time &&
           !p->pidns_late && !(p->late_unshare & ~(uint64_t)CLONE_NEWCGROUP) &&
           !(p->clone_flags & CLONE_NEWTIME) && (p->clone_flags >> 31) == 0;
}

#define VFORK_STACK (256 * 1024)

int pc_spawn(const struct pc_plan *plan, int *pidfd)
{
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);

    int saved_pidns = -1;
    if (plan->pidns_fd >= 0 && !plan->pidns_late) {
        saved_pidns = open("/proc/thread-self/ns/pid_for_children", O_RDONLY | O_CLOEXEC);
        if (saved_pidns < 0) {
            int e = errno;
            pthread_sigmask(SIG_SETMASK, &old, NULL);
            return -e;
        }
        if (setns(plan->pidns_fd, CLONE_NEWPID) < 0) {
            int e = errno;
            close(saved_pidns);
            pthread_sigmask(SIG_SETMASK, &old, NULL);
            return -e;
        }
    }

    *pidfd = -1;
    pid_t pid;
    int e = 0;
    void *stack = MAP_FAILED;
    if (can_vfork(plan))
        stack = mmap(NULL, VFORK_STACK, PROT_READ | PROT_WRITE,
                     MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
    if (stack != MAP_FAILED) {
        pid = -1;
        e = ENOSYS;
#ifdef HAVE_CLONE3_FN
        if (plan->cgroup_fd >= 0 && clone3_state >= 0) {
            CLONE_ARGS_T args;
            memset(&args, 0, sizeof(args));
            args.flags = (uint64_t)plan->clone_flags | CLONE_VM | CLONE_VFORK | CLONE_PIDFD |
                         CLONE_INTO_CGROUP;
            args.pidfd = (uint64_t)(uintptr_t)pidfd;
            args.exit_signal = (plan->clone_flags & CLONE_PARENT) ? 0 : SIGCHLD;
            args.stack = (uint64_t)(uintptr_t)stack;
            args.stack_size = VFORK_STACK;
            args.cgroup = (uint64_t)plan->cgroup_fd;
            pc_cloned_into_cgroup = 1;
            long r = pc_clone3_fn(&args, sizeof(args), vfork_child, (void *)plan);
            if (r >= 0)
                clone3_state = 1;
            pid = r < 0 ? -1 : (pid_t)r;
            e = r < 0 ? (int)-r : 0;
        }
#endif
        if (pid < 0 && (e == ENOSYS || e == E2BIG)) {
            /* no clone3 (Linux < 5.3) or no CLONE_INTO_CGROUP (< 5.7): clone(2), and the
             * child writes the v2 cgroup.procs too */
            if (e == ENOSYS && plan->cgroup_fd >= 0)
                clone3_state = -1;
            pc_cloned_into_cgroup = 0;
            int flags = (int)plan->clone_flags | CLONE_VM | CLONE_VFORK | CLONE_PIDFD | SIGCHLD;
            pid = clone(vfork_child, (char *)stack + VFORK_STACK, flags, (void *)plan, pidfd);
            e = errno;
        }
        munmap(stack, VFORK_STACK);
    } else {
        pid = do_clone(plan, pidfd);
        if (pid == 0)
            pc_child_main(plan);
        e = errno;
    }

    if (saved_pidns >= 0) {
        /* back to our own pid namespace for this thread's later children */
        setns(saved_pidns, CLONE_NEWPID);
        close(saved_pidns);
    }
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (pid < 0)
        return -e;
    return (int)pid;
}

/* ---- thin syscall wrappers for pycontain.lowlevel: return 0 or -errno ------------------- */

int pc_setns(int fd, int nstype)
{
    return setns(fd, nstype) < 0 ? -errno : 0;
}

int pc_unshare(int flags)
{
    return unshare(flags) < 0 ? -errno : 0;
}

int pc_mount(const char *source, const char *target, const char *fstype, unsigned long flags,
             const char *data)
{
    return mount(source, target, fstype, flags, data) < 0 ? -errno : 0;
}

int pc_umount2(const char *target, int flags)
{
    return umount2(target, flags) < 0 ? -errno : 0;
}

int pc_open_tree_clone(const char *path)
{
#ifndef SYS_open_tree
#define SYS_open_tree 428
#endif
    long fd = syscall(SYS_open_tree, AT_FDCWD, path, 1 /* OPEN_TREE_CLONE */ | O_CLOEXEC);
    return fd < 0 ? -errno : (int)fd;
}

int pc_open_tree(int dirfd, const char *path, int recursive)
{
    unsigned int flags = 1 /* OPEN_TREE_CLONE */ | O_CLOEXEC;
    if (recursive)
        flags |= 0x8000; /* AT_RECURSIVE */
    if (!path[0])
        flags |= AT_EMPTY_PATH;
    long fd = syscall(SYS_open_tree, dirfd, path, flags);
    return fd < 0 ? -errno : (int)fd;
}

#ifndef SYS_fsopen
#define SYS_fsopen 430
#define SYS_fsconfig 431
#define SYS_fsmount 432
#endif

int pc_fsmount_tmpfs(void)
{
    int fs = (int)syscall(SYS_fsopen, "tmpfs", 1 /* FSOPEN_CLOEXEC */);
    if (fs < 0)
        return -errno;
    long r = syscall(SYS_fsconfig, fs, 1 /* FSCONFIG_SET_STRING */, "mode", "0755", 0);
    if (r == 0)
        r = syscall(SYS_fsconfig, fs, 1, "size", "64k", 0);
    if (r == 0)
        r = syscall(SYS_fsconfig, fs, 6 /* FSCONFIG_CMD_CREATE */, NULL, NULL, 0);
    int mnt = r == 0 ? (int)syscall(SYS_fsmount, fs, 1 /* FSMOUNT_CLOEXEC */,
                                    0x2 | 0x8 /* MOUNT_ATTR_NOSUID | MOUNT_ATTR_NOEXEC */)
                     : -1;
    int e = errno;
    close(fs);
    return mnt < 0 ? -e : mnt;
}

int pc_pivot_root(const char *new_root, const char *put_old)
{
    return syscall(SYS_pivot_root, new_root, put_old) < 0 ? -errno : 0;
}

int pc_sethostname(const char *name, int len)
{
    return sethostname(name, (size_t)len) < 0 ? -errno : 0;
}

int pc_prctl(int option, unsigned long arg)
{
    return prctl(option, arg, 0UL, 0UL, 0UL) < 0 ? -errno : 0;
}

#ifndef MFD_CLOEXEC
#define MFD_CLOEXEC 0x0001U
#define MFD_ALLOW_SEALING 0x0002U
#endif
#ifndef F_ADD_SEALS
#define F_ADD_SEALS 1033
#define F_SEAL_SEAL 0x0001
#define F_SEAL_SHRINK 0x0002
#define F_SEAL_GROW 0x0004
#define F_SEAL_WRITE 0x0008
#endif
#ifndef SYS_memfd_create
#define SYS_memfd_create 319
#endif

/* A program in a sealed memfd, reopened read-only (an fd open for writing would make
 * execveat fail with ETXTBSY).  Parent side: called once per process from Python. */
static int sealed_program(const char *name, const unsigned char *data, unsigned int len)
{
    if (len < 64)
        return -ENOSYS;
    int fd = (int)syscall(SYS_memfd_create, name, MFD_CLOEXEC | MFD_ALLOW_SEALING);
    if (fd < 0)
        return -errno;
    int r = pc_write_all(fd, data, len);
    if (r == 0 && fchmod(fd, 0555) < 0)
        r = -errno;
    if (r == 0 && fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE | F_SEAL_SEAL) < 0)
        r = -errno;
    if (r < 0) {
        close(fd);
        return r;
    }
    char path[64];
    pc_fdpath(path, sizeof(path), fd);
    int ro = open(path, O_RDONLY | O_CLOEXEC);
    int e = errno;
    close(fd);
    return ro < 0 ? -e : ro;
}

int pc_execstub_fd(void)
{
    return sealed_program("pycontain-execstub", pc_execstub, pc_execstub_len);
}

int pc_pause_fd(void)
{
    return sealed_program("pycontain-pause", pc_pause, pc_pause_len);
}

int pc_monitor_fd(void)
{
    return sealed_program("pycontain-monitor", pc_monitor, pc_monitor_len);
}

int pc_init_fd(void)
{
    return sealed_program("pycontain-init", pc_init, pc_init_len);
}
