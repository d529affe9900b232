/* The keeper: a small process, forked without exec and running only this C code, that
 * outlives a SIGKILLed parent long enough to clean up after it.
 *
 * Cgroup directories are registered in a table of struct pc_keeper_slot in memory shared
 * with the parent (MAP_SHARED, mapped before the fork): registering one is a few stores in
 * the parent, no system call and no wake-up of the keeper.  Processes that have no cgroup of
 * their own are registered over a SOCK_SEQPACKET socket with their pidfd in SCM_RIGHTS:
 *   "P+<id>" with a pidfd: kill it if the parent dies        "P-<id>"  forget it
 * When the socket reaches EOF (the parent exited or died) the keeper SIGKILLs every pidfd it
 * holds, then empties and removes every directory still in the table (newest first), exits. */
#include "internal.h"

#include <linux/magic.h>
#include <sys/socket.h>
#include <sys/statfs.h>
#include <sys/uio.h>
#include <time.h>

#define MAX_PIDFDS 1024

static struct pc_keeper_slot *g_table;
static int g_nslots;
static int pid_fds[MAX_PIDFDS];
static long pid_ids[MAX_PIDFDS];

static long parse_long(const char *s)
{
    long v = 0;
    while (*s >= '0' && *s <= '9')
        v = v * 10 + (*s++ - '0');
    return v;
}

static void sleep_ms(long ms)
{
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static void kill_cgroup(const char *dir)
{
    char path[PATH_MAX];
    if (pc_join(path, sizeof(path), dir, "cgroup.kill") == 0) {
        int fd = open(path, O_WRONLY | O_CLOEXEC);
        if (fd >= 0) {
            ssize_t w = write(fd, "1", 1);
            close(fd);
            if (w == 1)
                return;
        }
    }
    /* cgroup v1: signal every member until none is left */
    if (pc_join(path, sizeof(path), dir, "cgroup.procs") < 0)
        return;
    for (int round = 0; round < 50; round++) {
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
            return;
        char buf[8192];
        ssize_t n = read(fd, buf, sizeof(buf) - 1);
        close(fd);
        if (n <= 0)
            return;
        buf[n] = '\0';
        for (char *p = buf; *p;) {
            long pid = parse_long(p);
            if (pid > 0)
                kill((pid_t)pid, SIGKILL);
            while (*p && *p != '\n')
                p++;
            if (*p)
                p++;
        }
        sleep_ms(10);
    }
}

static void remove_cgroup(const char *dir, int kill_first)
{
    /* act only on real cgroup file systems, whatever was registered */
    struct statfs sfs;
    if (statfs(dir, &sfs) < 0)
        return;
    if (sfs.f_type != CGROUP_SUPER_MAGIC && sfs.f_type != CGROUP2_SUPER_MAGIC)
        return;
    if (!kill_first) {
        /* a shared parent: remove it if it is empty, never kill what others put there */
        rmdir(dir);
        return;
    }
    kill_cgroup(dir);
    long wait = 1;
    for (int i = 0; i < 40; i++) {
        if (rmdir(dir) == 0 || errno == ENOENT)
            return;
        if (errno != EBUSY)
            return;
        sleep_ms(wait);
        if (wait < 100)
            wait *= 2;
    }
}

static void handle(char *msg, ssize_t n, int fd)
{
    msg[n] = '\0';
    if (n < 2 || msg[0] != 'P') {
        if (fd >= 0)
            close(fd);
        return;
    }
    long id = parse_long(msg + 2);
    if (msg[1] == '+' && fd >= 0) {
        for (int i = 0; i < MAX_PIDFDS; i++)
            if (pid_fds[i] < 0) {
                pid_fds[i] = fd;
                pid_ids[i] = id;
                return;
            }
        close(fd);
    } else if (msg[1] == '-') {
        for (int i = 0; i < MAX_PIDFDS; i++)
            if (pid_fds[i] >= 0 && pid_ids[i] == id) {
                close(pid_fds[i]);
                pid_fds[i] = -1;
                return;
            }
    }
}

/* Remove what is still registered, newest first (children before their parents). */
static void clean_table(void)
{
    unsigned int last = ~0U;
    for (;;) {
        int best = -1;
        unsigned int best_seq = 0;
        for (int i = 0; i < g_nslots; i++) {
            struct pc_keeper_slot *sl = &g_table[i];
            if (!sl->used || sl->seq >= last)
                continue;
            if (best < 0 || sl->seq > best_seq) {
                best = i;
                best_seq = sl->seq;
            }
        }
        if (best < 0)
            return;
        char path[sizeof(g_table[0].path) + 1];
        memcpy(path, g_table[best].path, sizeof(g_table[best].path));
        path[sizeof(g_table[best].path)] = '\0';
        remove_cgroup(path, g_table[best].used == 1);
        last = best_seq;
    }
}

static void keeper_main(int sock) __attribute__((noreturn));
static void keeper_main(int sock)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = SIG_IGN;
    int ignored[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGPIPE, SIGUSR1, SIGUSR2, SIGTSTP};
    for (size_t i = 0; i < sizeof(ignored) / sizeof(ignored[0]); i++)
        sigaction(ignored[i], &sa, NULL);
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);

    /* keep nothing of the parent but the socket */
    if (sock != 3) {
        if (dup2(sock, 3) < 0)
            _exit(1);
        sock = 3;
    }
    syscall(SYS_close_range, 0U, 2U, 0U);
    syscall(SYS_close_range, 4U, ~0U, 0U);
    if (chdir("/") < 0)
        _exit(1);
    setsid();

    for (int i = 0; i < MAX_PIDFDS; i++)
        pid_fds[i] = -1;

    for (;;) {
        char buf[64];
        char cbuf[CMSG_SPACE(sizeof(int) * 4)];
        struct iovec iov = {.iov_base = buf, .iov_len = sizeof(buf) - 1};
        struct msghdr mh;
        pc_msghdr_init(&mh, &iov, cbuf, sizeof(cbuf));
        ssize_t n = recvmsg(sock, &mh, MSG_CMSG_CLOEXEC);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        int fd = -1;
        for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c)) {
            if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS) {
                int nfds = (int)((c->cmsg_len - CMSG_LEN(0)) / sizeof(int));
                int *fds = (int *)CMSG_DATA(c);
                for (int i = 0; i < nfds; i++) {
                    if (fd < 0)
                        fd = fds[i];
                    else
                        close(fds[i]);
                }
            }
        }
        handle(buf, n, fd);
    }

    for (int i = 0; i < MAX_PIDFDS; i++)
        if (pid_fds[i] >= 0)
            syscall(SYS_pidfd_send_signal, pid_fds[i], SIGKILL, NULL, 0);
    if (g_table)
        clean_table();
    _exit(0);
}

/* Fork the keeper (a raw clone: no atfork handlers of the parent run).  Returns its pid. */
int pc_keeper_start(int sock, struct pc_keeper_slot *table, int nslots)
{
    g_table = table;
    g_nslots = nslots;
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    pid_t pid = (pid_t)syscall(SYS_clone, (unsigned long)SIGCHLD, NULL, NULL, NULL, NULL);
    if (pid == 0)
        keeper_main(sock);
    int e = errno;
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    return pid < 0 ? -e : (int)pid;
}
