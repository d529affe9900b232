/* A container's init: a tiny static program (no libc) that runs as pid 1 of the container's
 * pid namespace, starts the user's program as its child, and stays pid 1 (what `docker run
 * --init` gives).  The program is then not pid 1, so the kernel delivers it the signals that
 * pid 1 would be spared (SIGXCPU of RLIMIT_CPU, SIGXFSZ of RLIMIT_FSIZE, a SIGTERM it has no
 * handler for), and orphans are reaped.
 *
 * The C child executes it from a sealed memfd (pc_init_fd) instead of the exec stub, with
 *     argv: MAGIC, CTL, path, argv[0], argv[1], ...
 * CTL is the number of a control socket inherited from the runtime, or "-1" for none.
 *
 * Without a control socket: fork, execve(path, argv) in the child, forward every signal this
 * process gets to the child, reap every child; when the program ends, SIGKILL whatever is
 * left in the namespace and exit with the program's code (128 + the signal's number when a
 * signal ended it, as docker-init does).
 *
 * With a control socket (a sandbox that reads files out of the container after its program
 * ended, pycontain/sandbox.py):
 *   - before starting the program it waits for a command (the runtime writes the input
 *     files meanwhile): "G" starts path/argv as given; "X", a 4-byte length (native order)
 *     and that many bytes starts another command: NUL-terminated strings, the arguments, an
 *     empty one, the environment, an empty one, the working directory ("" for none); the
 *     program is looked up in that environment's PATH here (a prepared sandbox learns its
 *     command only then).  End of file instead: exit 127 without starting anything;
 *   - a byte "K" at any time: SIGKILL every other process of the namespace (a limit was hit);
 *   - when the program has ended and every other process is gone, it writes the program's
 *     raw wait status (4 bytes, native order) and then waits for end of file before it exits,
 *     so the container's files stay readable at /proc/PID/root until the runtime is done.
 *   End of file early: everything else is killed and it exits.
 * The socket is close-on-exec for the program.
 *
 * Built by csrc/ffibuild.py with -nostdlib -static, like the exec stub, and embedded in the
 * extension; never linked into it. */

#include "nolibc.h"

#define MAGIC "pycontain-init"

#define SIGKILL 9
#define SIGCHLD 17
#define SIGSTOP 19
#define SIG_BLOCK 0
#define SIG_SETMASK 2
#define WNOHANG 1
#define WALL 0x40000000
#define ECHILD 10
#define EINTR 4
#define EACCES 13
#define ENOENT 2
#define F_SETFD 2
#define FD_CLOEXEC 1
#define SFD_CLOEXEC 02000000
#define SFD_NONBLOCK 04000
#define POLLIN 1
#define PR_SET_NAME 15

#if defined(__x86_64__)
static long sys6(long n, long a, long b, long c, long d, long e, long f)
{
    long ret;
    register long r10 __asm__("r10") = d;
    register long r8 __asm__("r8") = e;
    register long r9 __asm__("r9") = f;
    __asm__ volatile("syscall"
                     : "=a"(ret)
                     : "a"(n), "D"(a), "S"(b), "d"(c), "r"(r10), "r"(r8), "r"(r9)
                     : "rcx", "r11", "memory");
    return ret;
}
#define NR_READ 0
#define NR_WRITE 1
#define NR_RT_SIGPROCMASK 14
#define NR_CLONE 56
#define NR_EXECVE 59
#define NR_WAIT4 61
#define NR_KILL 62
#define NR_FCNTL 72
#define NR_EXIT_GROUP 231
#define NR_GETPID 39
#define NR_CLOSE 3
#define NR_PRCTL 157
#define NR_CHDIR 80
#define NR_PPOLL 271
#define NR_SIGNALFD4 289
/* clone(flags, stack, parent_tid, child_tid, tls) */
#define CLONE_FORK(flags) sys6(NR_CLONE, (flags), 0, 0, 0, 0, 0)
__asm__(".text\n.globl _start\n_start:\n"
        "  mov %rsp, %rdi\n"
        "  and $-16, %rsp\n"
        "  call init_main\n"
        "  hlt\n");
#elif defined(__aarch64__)
static long sys6(long n, long a, long b, long c, long d, long e, long f)
{
    register long x8 __asm__("x8") = n;
    register long x0 __asm__("x0") = a;
    register long x1 __asm__("x1") = b;
    register long x2 __asm__("x2") = c;
    register long x3 __asm__("x3") = d;
    register long x4 __asm__("x4") = e;
    register long x5 __asm__("x5") = f;
    __asm__ volatile("svc 0"
                     : "+r"(x0)
                     : "r"(x8), "r"(x1), "r"(x2), "r"(x3), "r"(x4), "r"(x5)
                     : "memory");
    return x0;
}
#define NR_READ 63
#define NR_WRITE 64
#define NR_RT_SIGPROCMASK 135
#define NR_CLONE 220
#define NR_EXECVE 221
#define NR_WAIT4 260
#define NR_KILL 129
#define NR_FCNTL 25
#define NR_EXIT_GROUP 94
#define NR_GETPID 172
#define NR_CLOSE 57
#define NR_PRCTL 167
#define NR_CHDIR 49
#define NR_PPOLL 73
#define NR_SIGNALFD4 74
#define CLONE_FORK(flags) sys6(NR_CLONE, (flags), 0, 0, 0, 0, 0)
__asm__(".text\n.globl _start\n_start:\n"
        "  mov x0, sp\n"
        "  bl init_main\n");
#else
#error "the init supports x86_64 and aarch64"
#endif

#define sys1(n, a) sys6(n, (long)(a), 0, 0, 0, 0, 0)
#define sys2(n, a, b) sys6(n, (long)(a), (long)(b), 0, 0, 0, 0)
#define sys3(n, a, b, c) sys6(n, (long)(a), (long)(b), (long)(c), 0, 0, 0)
#define sys4(n, a, b, c, d) sys6(n, (long)(a), (long)(b), (long)(c), (long)(d), 0, 0)

struct pollfd {
    int fd;
    short events;
    short revents;
};

static __attribute__((noreturn)) void die(int code)
{
    for (;;)
        sys1(NR_EXIT_GROUP, code);
}



/* one byte from the control socket: the byte, 0 at end of file (or an error) */
static int ctl_byte(int ctl)
{
    unsigned char b;
    for (;;) {
        long r = sys3(NR_READ, ctl, &b, 1);
        if (r == -EINTR)
            continue;
        return r == 1 ? b : 0;
    }
}

/* the "X" command: its payload and the vectors pointing into it (static: this program runs
 * alone in its process, never in a copy of another) */
static char payload[1 << 17];
static char *xargv[4097];
static char *xenvp[4097];
static const char *xcwd;

static long read_full(int fd, void *buf, unsigned long n)
{
    unsigned long got = 0;
    while (got < n) {
        long r = sys3(NR_READ, fd, (char *)buf + got, n - got);
        if (r == -EINTR)
            continue;
        if (r <= 0)
            return (long)got;
        got += (unsigned long)r;
    }
    return (long)got;
}

/* Read and split an "X" payload; 0 on success. */
static int read_command(int ctl)
{
    unsigned int len = 0;
    if (read_full(ctl, &len, sizeof(len)) != (long)sizeof(len) || !len ||
        len >= sizeof(payload))
        return -1;
    if (read_full(ctl, payload, len) != (long)len)
        return -1;
    payload[len] = 0;
    char *p = payload, *end = payload + len;
    int n = 0;
    while (p < end && *p) { /* arguments, up to an empty string */
        if (n >= 4096)
            return -1;
        xargv[n++] = p;
        while (p < end && *p)
            p++;
        p++;
    }
    xargv[n] = 0;
    if (!n || p >= end)
        return -1;
    p++;
    int m = 0;
    while (p < end && *p) {
        if (m >= 4096)
            return -1;
        xenvp[m++] = p;
        while (p < end && *p)
            p++;
        p++;
    }
    xenvp[m] = 0;
    p++;
    xcwd = p < end ? p : "";
    return 0;
}

static int starts(const char *s, const char *prefix)
{
    while (*prefix && *s == *prefix) {
        s++;
        prefix++;
    }
    return !*prefix;
}

/* execve the "X" command, looked up in its PATH as execvp does; returns the exit code */
static int exec_command(void)
{
    const char *file = xargv[0];
    for (const char *c = file; *c; c++)
        if (*c == '/') {
            long e = sys3(NR_EXECVE, file, xargv, xenvp);
            return e == -ENOENT ? 127 : 126;
        }
    const char *path = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
    for (int i = 0; xenvp[i]; i++)
        if (starts(xenvp[i], "PATH="))
            path = xenvp[i] + 5;
    int denied = 0;
    char buf[4096];
    while (*path) {
        int n = 0;
        while (path[n] && path[n] != ':')
            n++;
        int k = 0, fits = n + 2 < (int)sizeof(buf);
        for (int i = 0; fits && i < n; i++)
            buf[k++] = path[i];
        if (fits && k)
            buf[k++] = '/';
        /* the name, as long as it fits (copied and measured at once: no strlen here) */
        for (int i = 0; fits; i++) {
            if (k >= (int)sizeof(buf)) {
                fits = 0;
                break;
            }
            buf[k++] = file[i];
            if (!file[i])
                break;
        }
        if (fits) {
            long e = sys3(NR_EXECVE, buf, xargv, xenvp);
            if (e == -EACCES)
                denied = 1;
        }
        path += n;
        if (*path == ':')
            path++;
    }
    return denied ? 126 : 127;
}

static int code_of(int status)
{
    int sig = status & 0x7f;
    if (sig == 0)
        return (status >> 8) & 0xff;
    return 128 + sig;
}

/* Whether this is pid 1 of its pid namespace.  Only then does kill(-1) mean "every other
 * process of the container": anywhere else it would mean every process the caller may
 * signal, so without it nothing but the program itself is ever signalled. */
static int is_init;

/* SIGKILL every other process of the namespace (pid 1 only), else the program alone */
static void kill_rest(long child)
{
    sys2(NR_KILL, is_init ? -1 : child, SIGKILL);
}

/* the program ended: nothing else of the namespace outlives it, as when pid 1 exits */
static void kill_rest_and_reap(long child)
{
    int st;
    if (!is_init) {
        while (sys4(NR_WAIT4, -1, &st, WNOHANG | WALL, 0) > 0)
            ;
        return;
    }
    kill_rest(child);
    while (sys4(NR_WAIT4, -1, &st, WALL, 0) != -ECHILD)
        ;
}

__attribute__((noreturn, used)) void init_main(long *sp)
{
    long argc = sp[0];
    char **argv = (char **)(sp + 1);
    char **envp = argv + argc + 1;
    if (argc < 4 || !nl_same(argv[0], MAGIC))
        die(127);
    is_init = sys1(NR_GETPID, 0) == 1;
    int ctl = nl_parse_fd(argv[1]);
    const char *path = argv[2];

    unsigned long all = ~0UL, old = 0;
    sys4(NR_RT_SIGPROCMASK, SIG_BLOCK, &all, &old, sizeof(all));
    int sfd = (int)sys4(NR_SIGNALFD4, -1, &all, sizeof(all), SFD_CLOEXEC | SFD_NONBLOCK);
    if (sfd < 0)
        die(127);
    int command = 0;
    if (ctl >= 0) {
        sys3(NR_FCNTL, ctl, F_SETFD, FD_CLOEXEC);
        int b = ctl_byte(ctl);
        if (b == 'X') {
            if (read_command(ctl) < 0)
                die(127);
            command = 1;
        } else if (b != 'G') {
            die(127);
        }
    }

    long child = CLONE_FORK(SIGCHLD);
    if (child < 0)
        die(127);
    if (child == 0) {
        sys4(NR_RT_SIGPROCMASK, SIG_SETMASK, &old, 0, sizeof(old));
        if (command) {
            if (xcwd[0] && sys1(NR_CHDIR, xcwd) < 0)
                die(127);
            die(exec_command());
        }
        long e = sys3(NR_EXECVE, path, argv + 3, envp);
        die(e == -ENOENT ? 127 : 126);
    }

    /* the program's stdio is its own: a pipe the runtime reads ends when the program's
     * processes are gone, not when this one is */
    for (int fd = 0; fd < 3; fd++)
        sys1(NR_CLOSE, fd);
    sys2(NR_PRCTL, PR_SET_NAME, MAGIC);

    struct pollfd fds[2] = {{sfd, POLLIN, 0}, {ctl, POLLIN, 0}};
    int nfds = ctl >= 0 ? 2 : 1;
    int status = 0, done = 0;
    unsigned char info[128]; /* struct signalfd_siginfo */
    while (!done) {
        long r = sys6(NR_PPOLL, (long)fds, nfds, 0, 0, 0, 0);
        if (r < 0)
            continue;
        if (fds[0].revents) {
            while (sys3(NR_READ, sfd, info, sizeof(info)) == (long)sizeof(info)) {
                unsigned int sig = *(unsigned int *)info;
                if (sig != SIGCHLD) {
                    sys2(NR_KILL, child, sig);
                    continue;
                }
                for (;;) {
                    int st;
                    long pid = sys4(NR_WAIT4, -1, &st, WNOHANG | WALL, 0);
                    if (pid <= 0)
                        break;
                    if (pid == child) {
                        status = st;
                        done = 1;
                    }
                }
            }
        }
        if (nfds == 2 && fds[1].revents) {
            int b = ctl_byte(ctl);
            if (b == 'K') {
                kill_rest(child);
            } else if (b == 0) {
                kill_rest(child);
                kill_rest_and_reap(child);
                die(137);
            }
        }
    }
    kill_rest_and_reap(child);
    if (ctl >= 0) {
        sys3(NR_WRITE, ctl, &status, sizeof(status));
        while (ctl_byte(ctl) != 0)
            ;
    }
    die(code_of(status));
}
