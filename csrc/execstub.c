/* The exec stub: a tiny static program (no libc) that the container's first process executes
 * from a sealed memfd, and that executes the user's program in turn.
 *
 * Until that first execve the child is a copy of the Python interpreter, so a program whose
 * interpreter line is "#!/proc/self/exe" would make the kernel run the *host's* interpreter
 * inside the container, where it could be reached for writing (CVE-2019-5736).  Through the
 * stub, /proc/self/exe at that moment is the sealed memfd: nobody can write it, and run as an
 * interpreter (argv[0] is not the magic word) it just exits 127.
 *
 * Built by csrc/ffibuild.py with -nostdlib -static and embedded in the extension; never linked
 * into it.  argv: MAGIC, ERRFD, path, argv[0], argv[1], ...
 *
 * ERRFD is the child's error pipe, kept open across the execve of the stub: the stub makes
 * it close-on-exec, so a successful execve of the program closes it (the parent reads end
 * of file, as for any start), and a failed one is reported on it as the C child reports any
 * failed step ({PC_REPORT_ERROR, errno, PC_STEP_EXEC, -1, path}), then the stub exits 127.
 * So a program that cannot be executed (ENOMEM under a tiny memory limit, E2BIG under a
 * tiny stack limit, ENOEXEC) is an error that says why, not an exit code 127. */

#include "nolibc.h"

#define MAGIC "pycontain-execstub"

#if defined(__x86_64__)
static long sys3(long n, long a, long b, long c)
{
    long ret;
    __asm__ volatile("syscall" : "=a"(ret) : "a"(n), "D"(a), "S"(b), "d"(c) : "rcx", "r11", "memory");
    return ret;
}
#define NR_WRITE 1
#define NR_FCNTL 72
#define NR_EXECVE 59
#define NR_EXIT 60
__asm__(".text\n.globl _start\n_start:\n"
        "  mov %rsp, %rdi\n"
        "  and $-16, %rsp\n"
        "  call stub_main\n"
        "  hlt\n");
#elif defined(__aarch64__)
static long sys3(long n, long a, long b, long c)
{
    register long x8 __asm__("x8") = n;
    register long x0 __asm__("x0") = a;
    register long x1 __asm__("x1") = b;
    register long x2 __asm__("x2") = c;
    __asm__ volatile("svc 0" : "+r"(x0) : "r"(x8), "r"(x1), "r"(x2) : "memory");
    return x0;
}
#define NR_WRITE 64
#define NR_FCNTL 25
#define NR_EXECVE 221
#define NR_EXIT 93
__asm__(".text\n.globl _start\n_start:\n"
        "  mov x0, sp\n"
        "  bl stub_main\n");
#else
#error "the exec stub supports x86_64 and aarch64"
#endif

/* must match struct pc_report and the constants of pycontain.h (checked in child.c) */
#define REPORT_ERROR 1
#define STEP_EXEC 47
struct report {
    int kind, err, step, index;
    char path[512];
};


__attribute__((noreturn, used)) void stub_main(long *sp)
{
    long argc = sp[0];
    char **argv = (char **)(sp + 1);
    char **envp = argv + argc + 1;
    if (argc >= 4 && nl_same(argv[0], MAGIC)) {
        int errfd = nl_parse_fd(argv[1]);
        if (errfd >= 0)
            sys3(NR_FCNTL, errfd, 2 /* F_SETFD */, 1 /* FD_CLOEXEC */);
        long r = sys3(NR_EXECVE, (long)argv[2], (long)(argv + 3), (long)envp);
        if (errfd >= 0) {
            struct report rep;
            char *d = (char *)&rep;
            for (unsigned long i = 0; i < sizeof(rep); i++)
                d[i] = 0;
            rep.kind = REPORT_ERROR;
            rep.err = (int)-r;
            rep.step = STEP_EXEC;
            rep.index = -1;
            for (int i = 0; argv[2][i] && i < (int)sizeof(rep.path) - 1; i++)
                rep.path[i] = argv[2][i];
            sys3(NR_WRITE, errfd, (long)&rep, sizeof(rep));
        }
    }
    for (;;)
        sys3(NR_EXIT, 127, 0, 0);
}
