/* probe: the payload of the OCI tests. Built static by tests/oci/conftest.py:
 *
 *     gcc -static -O2 -o probe probe.c
 *
 * `probe COMMAND [ARGS]` prints one answer on stdout and exits 0. A failing call prints
 * `ERR <ERRNO NAME>` (e.g. `ERR EROFS`) and exits 1; a usage error exits 2.
 * Output goes through write(2) or a flushed stdio, so nothing is lost when a signal ends us.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/personality.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

static int fail(void)
{
    printf("ERR %s\n", strerrorname_np(errno) ? strerrorname_np(errno) : "?");
    return 1;
}

static int cat(const char *path)
{
    char buf[8192];
    ssize_t n;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return fail();
    while ((n = read(fd, buf, sizeof buf)) > 0)
        fwrite(buf, 1, n, stdout);
    if (n < 0)
        return fail();
    close(fd);
    return 0;
}

static int by_name(const struct dirent **a, const struct dirent **b)
{
    return strcmp((*a)->d_name, (*b)->d_name);
}

static int ls(const char *dir)
{
    struct dirent **list;
    int n = scandir(dir, &list, NULL, by_name);
    if (n < 0)
        return fail();
    for (int i = 0; i < n; i++) {
        if (strcmp(list[i]->d_name, ".") && strcmp(list[i]->d_name, ".."))
            printf("%s\n", list[i]->d_name);
        free(list[i]);
    }
    free(list);
    return 0;
}

/* Open fd numbers, ascending, leaving out the directory fd used to list them. */
static int fds(void)
{
    char seen[1024] = {0};
    struct dirent *e;
    DIR *d = opendir("/proc/self/fd");
    if (!d)
        return fail();
    while ((e = readdir(d)))
        if (e->d_name[0] != '.' && atoi(e->d_name) < 1024 && atoi(e->d_name) != dirfd(d))
            seen[atoi(e->d_name)] = 1;
    closedir(d);
    for (int fd = 0, first = 1; fd < 1024; fd++)
        if (seen[fd]) {
            printf(first ? "%d" : " %d", fd);
            first = 0;
        }
    printf("\n");
    return 0;
}

static const struct { const char *name; int resource; } rlimits[] = {
    {"RLIMIT_CPU", RLIMIT_CPU}, {"RLIMIT_FSIZE", RLIMIT_FSIZE}, {"RLIMIT_DATA", RLIMIT_DATA},
    {"RLIMIT_STACK", RLIMIT_STACK}, {"RLIMIT_CORE", RLIMIT_CORE}, {"RLIMIT_RSS", RLIMIT_RSS},
    {"RLIMIT_NPROC", RLIMIT_NPROC}, {"RLIMIT_NOFILE", RLIMIT_NOFILE},
    {"RLIMIT_MEMLOCK", RLIMIT_MEMLOCK}, {"RLIMIT_AS", RLIMIT_AS},
    {"RLIMIT_LOCKS", RLIMIT_LOCKS}, {"RLIMIT_SIGPENDING", RLIMIT_SIGPENDING},
    {"RLIMIT_MSGQUEUE", RLIMIT_MSGQUEUE}, {"RLIMIT_NICE", RLIMIT_NICE},
    {"RLIMIT_RTPRIO", RLIMIT_RTPRIO}, {"RLIMIT_RTTIME", RLIMIT_RTTIME},
};

static void print_limit(rlim_t v)
{
    if (v == RLIM_INFINITY)
        printf("unlimited");
    else
        printf("%llu", (unsigned long long)v);
}

static int rlimit(const char *name)
{
    struct rlimit rl;
    for (size_t i = 0; i < sizeof rlimits / sizeof rlimits[0]; i++) {
        if (strcmp(rlimits[i].name, name) == 0) {
            if (getrlimit(rlimits[i].resource, &rl) < 0)
                return fail();
            print_limit(rl.rlim_cur);
            printf(" ");
            print_limit(rl.rlim_max);
            printf("\n");
            return 0;
        }
    }
    return 2;
}

/* Raw syscalls, so that libc never substitutes another one (mkdir -> mkdirat). */
static long try_syscall(const char *name)
{
    if (!strcmp(name, "mkdir"))
        return syscall(SYS_mkdir, "/tmp/.probe-seccomp", 0700);
    if (!strcmp(name, "unshare"))
        return syscall(SYS_unshare, 0);
    if (!strcmp(name, "personality"))
        return syscall(SYS_personality, 0xffffffffUL);
    if (!strcmp(name, "getcwd")) {
        char buf[4096];
        return syscall(SYS_getcwd, buf, sizeof buf);
    }
    if (!strcmp(name, "getpid"))
        return syscall(SYS_getpid);
    if (!strcmp(name, "chdir"))
        return syscall(SYS_chdir, "/");
    if (!strcmp(name, "umask"))
        return syscall(SYS_umask, 022);
    errno = ENOSYS;
    return -2;
}

static int seccomp_try(int argc, char **argv)
{
    for (int i = 0; i < argc; i++) {
        errno = 0;
        long r = try_syscall(argv[i]);
        if (r == -2 && errno == ENOSYS)
            return 2;
        printf("%s=%s%s", argv[i], r < 0 ? strerrorname_np(errno) : "0", i + 1 < argc ? " " : "\n");
        fflush(stdout);
    }
    return 0;
}

static void on_signal(int sig)
{
    char msg[32];
    int n = snprintf(msg, sizeof msg, "signal %d\n", sig);
    write(1, msg, n);
    _exit(128 + sig);
}

/* Catch the usual termination signals: as pid 1 of a pid namespace, an uncaught SIGTERM
 * would be ignored, and the tests want to see which signal came. */
static int do_sleep(const char *seconds)
{
    int sigs[] = {SIGHUP, SIGINT, SIGQUIT, SIGUSR1, SIGUSR2, SIGTERM};
    for (size_t i = 0; i < sizeof sigs / sizeof sigs[0]; i++)
        signal(sigs[i], on_signal);
    printf("sleeping\n");
    fflush(stdout);
    unsigned left = atoi(seconds);
    while (left > 0)
        left = sleep(left);
    return 0;
}

static int forkbomb(int n)
{
    pid_t kids[4096];
    int made = 0, err = 0;
    if (n > 4096)
        n = 4096;
    while (made < n) {
        pid_t pid = fork();
        if (pid < 0) {
            err = errno;
            break;
        }
        if (pid == 0) {
            pause();
            _exit(0);
        }
        kids[made++] = pid;
    }
    for (int i = 0; i < made; i++)
        kill(kids[i], SIGKILL);
    for (int i = 0; i < made; i++)
        waitpid(kids[i], NULL, 0);
    printf("forked %d %s\n", made, err ? strerrorname_np(err) : "0");
    return 0;
}

static int memhog(long mb)
{
    for (long i = 0; i < mb; i++) {
        char *p = malloc(1 << 20);
        if (!p)
            return fail();
        memset(p, 1, 1 << 20);
    }
    printf("allocated %ld\n", mb);
    return 0;
}

static int write_file(const char *path, const char *text)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0 || write(fd, text, strlen(text)) < 0)
        return fail();
    close(fd);
    printf("ok\n");
    return 0;
}

static int id(void)
{
    gid_t groups[256];
    int n = getgroups(256, groups);
    if (n < 0)
        return fail();
    printf("uid=%u gid=%u groups=", getuid(), getgid());
    for (int i = 0; i < n; i++)
        printf("%s%u", i ? "," : "", groups[i]);
    printf("\n");
    return 0;
}

static int caps(void)
{
    char line[256];
    FILE *f = fopen("/proc/self/status", "re");
    if (!f)
        return fail();
    while (fgets(line, sizeof line, f))
        if (!strncmp(line, "Cap", 3))
            fputs(line, stdout);
    fclose(f);
    return 0;
}

int main(int argc, char **argv)
{
    struct utsname u;
    char buf[4096];
    const char *cmd = argc > 1 ? argv[1] : "";
    const char *arg = argc > 2 ? argv[2] : NULL;
    int rc = 2;

    if (!strcmp(cmd, "hostname") || !strcmp(cmd, "domainname")) {
        if (uname(&u) < 0)
            return fail();
        printf("%s\n", cmd[0] == 'h' ? u.nodename : u.domainname);
        rc = 0;
    } else if (!strcmp(cmd, "id")) {
        rc = id();
    } else if (!strcmp(cmd, "caps")) {
        rc = caps();
    } else if (!strcmp(cmd, "mounts")) {
        rc = cat("/proc/self/mountinfo");
    } else if (!strcmp(cmd, "fds")) {
        rc = fds();
    } else if (!strcmp(cmd, "cwd")) {
        rc = getcwd(buf, sizeof buf) ? (printf("%s\n", buf), 0) : fail();
    } else if (!strcmp(cmd, "rlimit") && arg) {
        rc = rlimit(arg);
    } else if (!strcmp(cmd, "seccomp-try") && arg) {
        rc = seccomp_try(argc - 2, argv + 2);
    } else if (!strcmp(cmd, "nnp")) {
        printf("%d\n", prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0));
        rc = 0;
    } else if (!strcmp(cmd, "umask")) {
        mode_t m = umask(0);
        printf("%04o\n", m);
        rc = 0;
    } else if (!strcmp(cmd, "env")) {
        for (char **e = environ; *e; e++)
            printf("%s\n", *e);
        rc = 0;
    } else if (!strcmp(cmd, "pid")) {
        printf("%d\n", getpid());
        rc = 0;
    } else if (!strcmp(cmd, "ppid")) {
        printf("%d\n", getppid());
        rc = 0;
    } else if (!strcmp(cmd, "cgroup")) {
        rc = cat("/proc/self/cgroup");
    } else if (!strcmp(cmd, "write") && arg) {
        rc = write_file(arg, argc > 3 ? argv[3] : "probe\n");
    } else if (!strcmp(cmd, "cat") && arg) {
        rc = cat(arg);
    } else if (!strcmp(cmd, "sleep") && arg) {
        rc = do_sleep(arg);
    } else if (!strcmp(cmd, "forkbomb") && arg) {
        rc = forkbomb(atoi(arg));
    } else if (!strcmp(cmd, "memhog") && arg) {
        rc = memhog(atol(arg));
    } else if (!strcmp(cmd, "exit") && arg) {
        fflush(stdout);
        _exit(atoi(arg));
    } else if (!strcmp(cmd, "ls") && arg) {
        rc = ls(arg);
    } else if (!strcmp(cmd, "sysctl") && arg) {
        snprintf(buf, sizeof buf, "/proc/sys/%s", arg);
        for (char *p = buf + 10; *p; p++)
            if (*p == '.')
                *p = '/';
        rc = cat(buf);
    } else if (!strcmp(cmd, "oom_score_adj")) {
        rc = cat("/proc/self/oom_score_adj");
    } else if (!strcmp(cmd, "personality")) {
        if (uname(&u) < 0)
            return fail();
        printf("0x%x %s\n", personality(0xffffffff), u.machine);
        rc = 0;
    } else if (!strcmp(cmd, "isatty")) {
        printf("%d %d %d\n", isatty(0), isatty(1), isatty(2));
        rc = 0;
    }
    if (rc == 2)
        fprintf(stderr, "probe: usage: probe COMMAND [ARGS] (bad command '%s')\n", cmd);
    fflush(stdout);
    return rc;
}
