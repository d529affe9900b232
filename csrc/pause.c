/* A pod's infra process: a tiny static program (no libc) that holds the pod's namespaces.
 *
 * The C child executes it from a sealed memfd (pc_pause_fd) at the end of a plan with
 * pause=1, so what keeps a pod alive is not a copy of the caller's Python interpreter: a few
 * kilobytes, shown as itself in ps (comm and argv[0] "pycontain-pause").
 *
 * It blocks SIGTERM, SIGINT and SIGCHLD and waits for them.  A blocked signal is queued even
 * for pid 1 of a pid namespace, which the kernel spares every signal it neither handles nor
 * blocks.  SIGCHLD: reap every child that ended (as pid 1 of a pod-wide pid namespace,
 * orphans come to it).  SIGTERM or SIGINT: exit 0.
 *
 * Ready: the child keeps its error pipe open across the execve; once the signals are blocked
 * and the name set, this closes every fd above stdio, and the parent reads EOF.  A SIGTERM
 * sent as soon as the pod exists is never lost.
 *
 * Built by csrc/ffibuild.py with -nostdlib -static, like the exec stub, and embedded in the
 * extension; never linked into it. */

#define NAME "pycontain-pause"

#define SIGINT 2
#define SIGTERM 15
#define SIGCHLD 17
#define SIG_BLOCK 0
#define PR_SET_NAME 15
#define WNOHANG 1
#define WALL 0x40000000 /* __WALL: children whatever their exit signal */

#if defined(__x86_64__)
static long sys4(long n, long a, long b, long c, long d)
{
    long ret;
    register long r10 __asm__("r10") = d;
    __asm__ volatile("syscall"
                     : "=a"(ret)
                     : "a"(n), "D"(a), "S"(b), "d"(c), "r"(r10)
                     : "rcx", "r11", "memory");
    return ret;
}
#define NR_CLOSE 3
#define NR_RT_SIGPROCMASK 14
#define NR_WAIT4 61
#define NR_RT_SIGTIMEDWAIT 128
#define NR_PRCTL 157
#define NR_EXIT_GROUP 231
#define NR_CLOSE_RANGE 436
__asm__(".text\n.globl _start\n_start:\n"
        "  and $-16, %rsp\n"
        "  call pause_main\n"
        "  hlt\n");
#elif defined(__aarch64__)
static long sys4(long n, long a, long b, long c, long d)
{
    register long x8 __asm__("x8") = n;
    register long x0 __asm__("x0") = a;
    register long x1 __asm__("x1") = b;
    register long x2 __asm__("x2") = c;
    register long x3 __asm__("x3") = d;
    __asm__ volatile("svc 0" : "+r"(x0) : "r"(x8), "r"(x1), "r"(x2), "r"(x3) : "memory");
    return x0;
}
#define NR_CLOSE 57
#define NR_RT_SIGPROCMASK 135
#define NR_WAIT4 260
#define NR_RT_SIGTIMEDWAIT 137
#define NR_PRCTL 167
#define NR_EXIT_GROUP 94
#define NR_CLOSE_RANGE 436
__asm__(".text\n.globl _start\n_start:\n"
        "  bl pause_main\n");
#else
#error "the pod infra program supports x86_64 and aarch64"
#endif

#define BIT(sig) (1UL << ((sig) - 1))

__attribute__((noreturn, used)) void pause_main(void)
{
    unsigned long set = BIT(SIGTERM) | BIT(SIGINT) | BIT(SIGCHLD);
    unsigned long info[16]; /* a siginfo_t (128 bytes), never read */

    sys4(NR_RT_SIGPROCMASK, SIG_BLOCK, (long)&set, 0, sizeof(set));
    /* execveat of an fd names us after the fd's number: say what we are */
    sys4(NR_PRCTL, PR_SET_NAME, (long)NAME, 0, 0);
    /* ready: nothing of the host stays open here (the parent's error pipe among it) */
    if (sys4(NR_CLOSE_RANGE, 3, ~0UL >> 32, 0, 0) < 0)
        for (long fd = 3; fd < 1024; fd++)
            sys4(NR_CLOSE, fd, 0, 0, 0);
    for (;;) {
        long sig = sys4(NR_RT_SIGTIMEDWAIT, (long)&set, (long)info, 0, sizeof(set));
        if (sig == SIGTERM || sig == SIGINT)
            break;
        /* SIGCHLD (or an interrupted wait): reap every child that has ended */
        while (sys4(NR_WAIT4, -1, 0, WNOHANG | WALL, 0) > 0)
            ;
    }
    for (;;)
        sys4(NR_EXIT_GROUP, 0, 0, 0, 0);
}
