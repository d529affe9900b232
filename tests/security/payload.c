/* The attacker's program for tests/security, built static so that no loader or library of the
 * rootfs runs: resource abuse and a few raw syscalls busybox can't do. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* open /dev/null until the kernel says no */
static int openmax(void)
{
    int n = 0;
    while (open("/dev/null", O_RDONLY) >= 0)
        n++;
    printf("opened %d %s\n", n, strerrorname_np(errno));
    return 0;
}

/* write 64 KiB blocks to PATH until an error, at most 512 MiB */
static int fill(const char *path)
{
    static char buf[65536];
    memset(buf, 'x', sizeof buf);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0) {
        printf("open %s\n", strerrorname_np(errno));
        return 1;
    }
    long long total = 0;
    int err = 0;
    while (total < (512LL << 20)) {
        ssize_t w = write(fd, buf, sizeof buf);
        if (w < 0) {
            err = errno;
            break;
        }
        total += w;
    }
    printf("wrote %lld %s\n", total, err ? strerrorname_np(err) : "0");
    return 0;
}

static int memhog(long mb)
{
    for (long i = 0; i < mb; i++) {
        char *p = malloc(1 << 20);
        if (!p) {
            printf("malloc failed after %ld\n", i);
            return 1;
        }
        memset(p, 1, 1 << 20);
    }
    printf("allocated %ld\n", mb);
    return 0;
}

/* A real fork bomb: every process forks as fast as it can for SECONDS; pid 1 then reports
 * whether fork ever failed with EAGAIN and exits (which ends the whole pid namespace). */
static int forkbomb(double seconds)
{
    pid_t me = getpid();
    double end = now() + seconds;
    int eagain = 0;
    setvbuf(stdout, NULL, _IONBF, 0);
    while (now() < end) {
        pid_t p = fork();
        if (p < 0) {
            if (errno == EAGAIN)
                eagain++;
            usleep(1000);
        }
    }
    if (getpid() != me) {
        pause();
        _exit(0);
    }
    printf("eagain %d\n", eagain > 0);
    return 0;
}

/* stat of what an fd of PATH opened with O_PATH points to: "dev:ino" */
static int devino(const char *path)
{
    int fd = open(path, O_PATH | O_CLOEXEC);
    if (fd < 0) {
        printf("%s\n", strerrorname_np(errno));
        return 1;
    }
    struct stat st;
    fstat(fd, &st);
    printf("%llu:%llu\n", (unsigned long long)st.st_dev, (unsigned long long)st.st_ino);
    return 0;
}

/* The session keyring: its serial and description ("keyring;uid;gid;perm;name"). */
static int keyring(void)
{
    long id = syscall(SYS_keyctl, 0 /* KEYCTL_GET_KEYRING_ID */, -3 /* SESSION */, 0);
    char desc[256] = "";
    if (id >= 0)
        syscall(SYS_keyctl, 6 /* KEYCTL_DESCRIBE */, id, desc, sizeof(desc) - 1);
    printf("%ld %s\n", id, desc);
    return id < 0;
}

/* mknod a character device and open it: "open ok" or "open: <error>". */
static int devopen(const char *path, int major, int minor)
{
    if (mknod(path, S_IFCHR | 0600, makedev(major, minor)) < 0 && errno != EEXIST) {
        printf("mknod: %s\n", strerror(errno));
        return 1;
    }
    int fd = open(path, O_RDONLY | O_NONBLOCK);
    if (fd < 0) {
        printf("open: %s\n", strerror(errno));
        return 1;
    }
    printf("open ok\n");
    return 0;
}

int main(int argc, char **argv)
{
    const char *cmd = argc > 1 ? argv[1] : "";
    const char *arg = argc > 2 ? argv[2] : NULL;
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (!strcmp(cmd, "openmax"))
        return openmax();
    if (!strcmp(cmd, "fill") && arg)
        return fill(arg);
    if (!strcmp(cmd, "memhog") && arg)
        return memhog(atol(arg));
    if (!strcmp(cmd, "forkbomb") && arg)
        return forkbomb(atof(arg));
    if (!strcmp(cmd, "devino") && arg)
        return devino(arg);
    if (!strcmp(cmd, "keyring"))
        return keyring();
    if (!strcmp(cmd, "devopen") && argc > 4)
        return devopen(arg, atoi(argv[3]), atoi(argv[4]));
    fprintf(stderr, "payload: bad command '%s'\n", cmd);
    return 2;
}
