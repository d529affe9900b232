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
 * into it.  argv: MAGIC, path, argv[0], argv[1], ... */

#define MAGIC "pycontain-execstub"

#if defined(__x86_64__)
static long sys3(long n, long a, long b, long c)
{
    long ret;
    __asm__ volatile("syscall" : "=a"(ret) : "a"(n), "D"(a), "S"(b), "d"(c) : "rcx", "r11", "memory");
    return ret;
}
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
#define NR_EXECVE 221
#define NR_EXIT 93
__asm__(".text\n.globl _start\n_start:\n"
        "  mov x0, sp\n"
        "  bl stub_main\n");
#else
#error "the exec stub supports x86_64 and aarch64"
#endif

static int same(const char *a, const char *b)
{
    while (*a && *a == *b) {
        a++;
        b++;
    }
    return *a == *b;
}

__attribute__((noreturn, used)) void stub_main(long *sp)
{
    long argc = sp[0];
    char **argv = (char **)(sp + 1);
    char **envp = argv + argc + 1;
    if (argc >= 3 && same(argv[0], MAGIC))
        sys3(NR_EXECVE, (long)argv[1], (long)(argv + 2), (long)envp);
    for (;;)
        sys3(NR_EXIT, 127, 0, 0);
}
