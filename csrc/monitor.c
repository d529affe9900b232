/* pycontain-monitor: the parent of one detached container.
 *
 * Python never stays behind a detached container: it starts this program (embedded in the
 * extension, exec'd from a sealed memfd like the exec stub; see pc_monitor_fd) and may exit
 * at once.  The monitor holds the container's stdio pipes, writes its log, records how it
 * ended and applies its restart policy.
 *
 * Command line (every path absolute):
 *   pycontain-monitor --state DIR [--log-driver json-file|k8s-file|none] [--log-path FILE]
 *       [--log-size BYTES] [--log-files N] [--restart no|on-failure[:N]|always|unless-stopped]
 *       [--stop-signal N] [--stop-timeout SECONDS] [--oom-file FILE] [--stdin] [--tty]
 *       [--health-interval MS [--health-timeout MS] --health-command PROGRAM
 *        [--health-command-arg ARG]...]  (the first two only with the third)
 *       [--exit-command PROGRAM [--exit-command-arg ARG]...]
 *       [--compress-command PROGRAM [--compress-command-arg ARG]...] -- CREATOR ARGV...
 *
 * Start: the program forks; the first process waits on a pipe and exits 0 once the monitor
 * runs (state.json written, the creator started), or 1 with one line on stderr.
 * --adopt-creator PID (before --): the first creator is already our child, forked by a caller
 * that detached us itself; it made the pipes: fd 3 reads the creator's stdout, 4 its stderr,
 * 5 its report (with --tty one end of a unix socket pair, as below), and fd 2 is the ready
 * pipe, which gets the byte 0 or the one line.  Not with --stdin but with --tty: no pipe for
 * the creator's stdin is passed.  The monitor itself calls setsid(), becomes a child
 * subreaper and points its own stdio at /dev/null, so nothing ties it to the caller.
 *
 * The creator runs as the monitor's child with the stdout and stderr pipes as fds 1 and 2,
 * /dev/null (or, with --stdin, a pipe the monitor keeps open) as fd 0, and fd 3 the write end
 * of a report pipe, named in the environment as PYCONTAIN_MONITOR_SYNC=3.  A creator that
 * starts the real main process writes its pid there in decimal, then may exit; one that
 * reports nothing is the main process itself.  Orphans reparent to the monitor (subreaper),
 * which reaps every child.
 *
 * Terminal (--tty): the container's process has a pty for its stdio, made in the container
 * by the creator, which sends the master here with its report: fd 3 is then one end of a
 * unix stream socket pair, and the report's pid comes with the master as SCM_RIGHTS.  The
 * monitor reads the master as it reads the stdout pipe (logged as stdout), writes attach
 * input to it (with --stdin; without, input is dropped) and sets its window size when a
 * client asks (the last size given is set on the next run's pty too).  Each run has a pty
 * of its own: the master is closed when the run ends.  The creator's own stdout and stderr
 * (its error messages) are still the pipes, and its stdin is /dev/null.
 *
 * state.json (in DIR, replaced by rename, never half written) is one JSON object:
 *   monitor_pid, pid (the main process: the creator's until it reports another),
 *   creator_pid, status ("running", "restarting", "exited"), exit_code (the code, or
 *   128+signal), signal, started_at, finished_at (RFC 3339, UTC), oom_kill (the oom_kill
 *   count of --oom-file when the main process ended, -1 without one), restart_count,
 *   stopped_by_user, log_dropped_bytes, error.
 *
 * A main process that ends while its creator still runs is the creator's child, not ours:
 * its pidfd tells us, the creator is killed, and the zombie comes here to be reaped.
 *
 * Signals: SIGTERM or SIGINT sends --stop-signal to the main process, and SIGKILL after
 * --stop-timeout seconds (0: never); SIGUSR1 sends SIGKILL now.  Either way the container is
 * stopped by the user, as is one whose state directory holds a file named "stopped" when it
 * ends: no restart policy applies after a user's stop.
 *
 * Restart: on-failure[:N] reruns the creator after a non-zero exit, at most N times (no N:
 * without limit); always and unless-stopped rerun it after any exit.  The delay doubles from
 * 100 ms up to 60 s and starts over once a run lasted 10 s.
 *
 * Exit command: after each end of the main process, --exit-command runs (as conmon's does)
 * with its --exit-command-arg arguments, the creator's environment and /dev/null as stdio,
 * to release what the container held outside itself (its network lease, published ports).
 * The monitor reaps it; a restart waits for it, and the monitor exits only once it has
 * ended (at most 30 s), so that whoever waits for the monitor finds it done.
 *
 * Health checks: while the main process runs, --health-command runs every --health-interval
 * ms, one at a time: the first an interval after the main process started, each next one an
 * interval after the one before ended.  It gets the creator's environment, /dev/null as stdio,
 * a process group of its own and SIGKILL as its parent-death signal; after --health-timeout
 * ms (0: never) its whole group is killed.  The program itself runs the check in the
 * container and records the result (pycontain/engine/prober.py): the monitor only keeps
 * time, and no check is started once the container is being stopped.  When the main
 * process ends, a running check's group is killed; a restart starts the interval over.
 *
 * Attach: clients of the SOCK_SEQPACKET socket "attach" in DIR get the output as it is read
 * and send input for the container's stdin or a window size for its terminal (see
 * attach_open); they are let go when the main process ends, so an attach lasts one run.
 *
 * Ends: one line per end of the main process and per restart in DIR/events.jsonl (see
 * journal_end).
 *
 * Logs: see docs/logs.md.  Lines are cut at 16 KiB (marked partial), rotated by rename when
 * the file would pass --log-size (0: never) keeping --log-files files in all; with
 * --compress-command, rotated files are gzipped by that program (see compress_next).
 * Readers take no lock the monitor would wait for: they know files by identity and list them
 * until two listings agree (pycontain/engine/logs.py), so a reader, even a stopped one, never
 * holds the writer up nor lets a file grow past its bound.
 *
 * The steady state never allocates: every buffer is static, and events come from epoll over
 * the pipes, the attach socket, the main process's pidfd and a signalfd.  Linked dynamically
 * against libc on purpose: a static glibc program is ~670 KB, and each monitor's memfd would
 * hold its own unswappable copy; linked dynamically the program is ~30 KB and libc's pages
 * are shared with the rest of the host (VmRSS 0.6 to 1.2 MB, conmon's about 2 MB). */

#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h> /* rename(2) and renameat(2) only */
#include <stdlib.h>
#include <string.h>
#include <poll.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434 /* the same number on every architecture */
#endif
#ifndef SYS_close_range
#define SYS_close_range 436
#endif

#define LINE_MAX_BYTES (16 * 1024)
#define READ_CHUNK (64 * 1024)
#define OUT_CAP (512 * 1024)
#define ENTRY_MAX (LINE_MAX_BYTES * 6 + 256) /* worst case: every byte escaped as \u00XX */
#define MAX_ENV 4096

enum driver { DRV_JSON, DRV_CRI, DRV_NONE };
enum policy { RP_NO, RP_ON_FAILURE, RP_ALWAYS, RP_UNLESS_STOPPED };

/* configuration */
static const char *state_path;
static const char *log_path;
static enum driver log_driver = DRV_JSON;
static long long log_size = 10LL * 1024 * 1024;
static int log_files = 5;
static enum policy restart_policy = RP_NO;
static long restart_max = -1; /* -1: no limit */
static int stop_signal = SIGTERM;
static long stop_timeout = 10;
static const char *oom_file;
static int want_stdin, want_tty;
static pid_t adopt_pid; /* --adopt-creator: the first creator is already our child */
static unsigned short win_rows, win_cols; /* the size attach clients asked for last */
static char **creator_argv;
#define CMD_ARGS 32 /* a command's program and its arguments (exit, health, compress) */
static char *exit_argv[CMD_ARGS + 2];
static int exit_argc;
static pid_t exit_pid; /* the exit command while it runs */
static char *creator_env[MAX_ENV + 2];
static char sync_env[] = "PYCONTAIN_MONITOR_SYNC=3";
static char *health_argv[CMD_ARGS + 2];
static int health_argc;
static long health_interval_ms, health_timeout_ms;
static int health_opts; /* --health-interval or --health-timeout was given */
static pid_t health_pid; /* the health command while it runs (its process group too) */
static long long health_next_ns, health_kill_ns;

/* run state */
static int state_dir = -1, cwd_fd = -1, epfd = -1, sigfd = -1;
static int log_fd = -1;
static long long log_cur; /* bytes in the current log file, as far as we know */
static long long dropped;
static pid_t creator_pid, main_pid;
static int main_known, main_done, creator_done;
static int exit_code, exit_signal, stopped_by_user, stopping;
static long restart_count, oom_kill = -1;
static long long started_ns, finished_ns, stop_deadline_ns, restart_at_ns;
static long long backoff_ms = 100, run_started;
static int sync_fd = -1, stdin_w = -1, main_pidfd = -1, main_gone;
static const char *last_error = "";

struct stream {
    int fd;
    const char *name;
    size_t len;
    char *line; /* LINE_MAX_BYTES */
};
/* the line buffers apart from the initialized structs, so that they stay in .bss */
static char out_line[LINE_MAX_BYTES], err_line[LINE_MAX_BYTES];
static struct stream s_out = {-1, "stdout", 0, out_line}, s_err = {-1, "stderr", 0, err_line};
/* --tty: the pty master of the current run, logged as stdout */
static char tty_line[LINE_MAX_BYTES];
static struct stream s_tty = {-1, "stdout", 0, tty_line};

/* reaped pids whose report may still be on its way (a main process can end and be reaped
 * before the creator's report of its pid is read) */
#define RECENT 64
static struct { pid_t pid; int status; } recent[RECENT];
static unsigned recent_next;

static char inbuf[READ_CHUNK];
static char outbuf[OUT_CAP];
static size_t outlen;
static char pathbuf[PATH_MAX + 32], pathbuf2[PATH_MAX + 32];
static char jsonbuf[4096];
static char filebuf[4096];

/* ---- small formatting helpers (no stdio: nothing here may allocate) ---- */

static size_t put_str(char *dst, size_t at, const char *s)
{
    size_t n = strlen(s);
    memcpy(dst + at, s, n);
    return at + n;
}

static size_t put_ll(char *dst, size_t at, long long v)
{
    char tmp[24];
    int i = 0;
    unsigned long long u = v < 0 ? (unsigned long long)(-(v + 1)) + 1 : (unsigned long long)v;
    if (v < 0)
        dst[at++] = '-';
    do {
        tmp[i++] = (char)('0' + u % 10);
        u /= 10;
    } while (u);
    while (i)
        dst[at++] = tmp[--i];
    return at;
}

static size_t put_digits(char *dst, size_t at, long v, int width)
{
    for (int i = width - 1; i >= 0; i--) {
        dst[at + i] = (char)('0' + v % 10);
        v /= 10;
    }
    return at + width;
}

static long long now_ns(int clock)
{
    struct timespec ts;
    clock_gettime(clock, &ts);
    return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/* RFC 3339 in UTC with nanoseconds; trim: drop trailing zeros as Go's RFC3339Nano does
 * (Docker's json-file), else always nine digits (the CRI format). */
static size_t put_time(char *dst, size_t at, long long ns, int trim)
{
    long long secs = ns / 1000000000LL;
    long frac = (long)(ns % 1000000000LL);
    long long days = secs / 86400;
    long rem = (long)(secs % 86400);
    /* civil date from days since 1970-01-01 (proleptic Gregorian, 400-year eras) */
    long long z = days + 719468;
    long long era = z / 146097;
    long doe = (long)(z - era * 146097);
    long yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    long long y = yoe + era * 400;
    long doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    long mp = (5 * doy + 2) / 153;
    long d = doy - (153 * mp + 2) / 5 + 1;
    long m = mp < 10 ? mp + 3 : mp - 9;
    if (m <= 2)
        y++;
    at = put_digits(dst, at, (long)y, 4);
    dst[at++] = '-';
    at = put_digits(dst, at, m, 2);
    dst[at++] = '-';
    at = put_digits(dst, at, d, 2);
    dst[at++] = 'T';
    at = put_digits(dst, at, rem / 3600, 2);
    dst[at++] = ':';
    at = put_digits(dst, at, rem / 60 % 60, 2);
    dst[at++] = ':';
    at = put_digits(dst, at, rem % 60, 2);
    int width = 9;
    if (trim) {
        while (width > 0 && frac % 10 == 0) {
            frac /= 10;
            width--;
        }
    }
    if (width > 0) {
        dst[at++] = '.';
        at = put_digits(dst, at, frac, width);
    }
    dst[at++] = 'Z';
    return at;
}

static const char *path_join(char *dst, const char *base, const char *suffix, long n)
{
    size_t at = put_str(dst, 0, base);
    if (suffix)
        at = put_str(dst, at, suffix);
    if (n >= 0)
        at = put_ll(dst, at, n);
    dst[at] = 0;
    return dst;
}

/* ---- state.json ---- */

static void write_state(void)
{
    static const char *names[] = {"running", "restarting", "exited"};
    int which = !main_done ? 0 : (restart_at_ns ? 1 : 2);
    size_t at = 0;
    at = put_str(jsonbuf, at, "{\"monitor_pid\":");
    at = put_ll(jsonbuf, at, getpid());
    at = put_str(jsonbuf, at, ",\"pid\":");
    at = put_ll(jsonbuf, at, main_known ? main_pid : creator_pid);
    at = put_str(jsonbuf, at, ",\"creator_pid\":");
    at = put_ll(jsonbuf, at, creator_pid);
    at = put_str(jsonbuf, at, ",\"status\":\"");
    at = put_str(jsonbuf, at, names[which]);
    at = put_str(jsonbuf, at, "\",\"exit_code\":");
    at = put_ll(jsonbuf, at, exit_code);
    at = put_str(jsonbuf, at, ",\"signal\":");
    at = put_ll(jsonbuf, at, exit_signal);
    at = put_str(jsonbuf, at, ",\"started_at\":\"");
    at = put_time(jsonbuf, at, started_ns, 1);
    at = put_str(jsonbuf, at, "\",\"finished_at\":");
    if (finished_ns) {
        jsonbuf[at++] = '"';
        at = put_time(jsonbuf, at, finished_ns, 1);
        jsonbuf[at++] = '"';
    } else {
        at = put_str(jsonbuf, at, "null");
    }
    at = put_str(jsonbuf, at, ",\"oom_kill\":");
    at = put_ll(jsonbuf, at, oom_kill);
    at = put_str(jsonbuf, at, ",\"restart_count\":");
    at = put_ll(jsonbuf, at, restart_count);
    at = put_str(jsonbuf, at, ",\"stopped_by_user\":");
    at = put_str(jsonbuf, at, stopped_by_user ? "true" : "false");
    at = put_str(jsonbuf, at, ",\"log_dropped_bytes\":");
    at = put_ll(jsonbuf, at, dropped);
    at = put_str(jsonbuf, at, ",\"error\":\"");
    at = put_str(jsonbuf, at, last_error); /* fixed ASCII messages only */
    at = put_str(jsonbuf, at, "\"}\n");

    int fd = openat(state_dir, "state.json.tmp", O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0)
        return;
    ssize_t w = write(fd, jsonbuf, at);
    close(fd);
    if (w == (ssize_t)at)
        renameat(state_dir, "state.json.tmp", state_dir, "state.json");
}

/* ---- the journal of ends: events.jsonl in DIR ----
 * One line per end of the main process ("die") and per rerun by the restart policy
 * ("restart"), each one write() of a whole line to an O_APPEND file, so that a reader never
 * sees half a line; `pycontain events` reads it (state.json only holds the last end).
 * Bounded: a journal that has reached JOURNAL_CAP bytes becomes events.jsonl.1 (replacing the
 * one before) and a new one starts, so at most 2 x 128 KiB (more than 1000 ends) are kept. */
#define JOURNAL_CAP (128 * 1024)
static long oom_prev; /* the oom_kill count at the end before (or at the start) */
static char journalbuf[512];

static void read_oom(void);

static void journal_append(size_t len)
{
    int flags = O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC;
    int fd = openat(state_dir, "events.jsonl", flags, 0644);
    struct stat st;
    if (fd >= 0 && fstat(fd, &st) == 0 && st.st_size >= JOURNAL_CAP) {
        close(fd);
        renameat(state_dir, "events.jsonl", state_dir, "events.jsonl.1");
        fd = openat(state_dir, "events.jsonl", flags, 0644);
    }
    if (fd < 0)
        return;
    ssize_t w = write(fd, journalbuf, len);
    (void)w; /* a journal that can't be written loses the line, never the container */
    close(fd);
}

/* The oom_kill count before the first run: an oom is an end after which the count grew. */
static void journal_init(void)
{
    read_oom();
    oom_prev = oom_kill < 0 ? 0 : oom_kill;
    oom_kill = -1; /* state.json's count stays the one at an end */
}

static void journal_end(void)
{
    size_t at = put_str(journalbuf, 0, "{\"action\":\"die\",\"time_ns\":");
    at = put_ll(journalbuf, at, finished_ns);
    at = put_str(journalbuf, at, ",\"exit_code\":");
    at = put_ll(journalbuf, at, exit_code);
    at = put_str(journalbuf, at, ",\"signal\":");
    at = put_ll(journalbuf, at, exit_signal);
    at = put_str(journalbuf, at, ",\"oom_kill\":");
    at = put_ll(journalbuf, at, oom_kill);
    at = put_str(journalbuf, at, ",\"oom\":");
    at = put_str(journalbuf, at, oom_kill > oom_prev ? "true" : "false");
    at = put_str(journalbuf, at, ",\"restart_count\":");
    at = put_ll(journalbuf, at, restart_count);
    at = put_str(journalbuf, at, ",\"stopped_by_user\":");
    at = put_str(journalbuf, at, stopped_by_user ? "true" : "false");
    at = put_str(journalbuf, at, ",\"restarting\":");
    at = put_str(journalbuf, at, restart_at_ns ? "true" : "false");
    at = put_str(journalbuf, at, "}\n");
    if (oom_kill > oom_prev)
        oom_prev = oom_kill;
    journal_append(at);
}

static void journal_restart(void)
{
    size_t at = put_str(journalbuf, 0, "{\"action\":\"restart\",\"time_ns\":");
    at = put_ll(journalbuf, at, started_ns);
    at = put_str(journalbuf, at, ",\"restart_count\":");
    at = put_ll(journalbuf, at, restart_count);
    at = put_str(journalbuf, at, "}\n");
    journal_append(at);
}

/* ---- logs ---- */

static void open_log(void)
{
    if (log_driver == DRV_NONE)
        return;
    log_fd = open(log_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
    struct stat st;
    log_cur = (log_fd >= 0 && fstat(log_fd, &st) == 0) ? st.st_size : 0;
}

/* ---- the monitor's children: creator, health check, exit command, compressor ---- */

enum {
    CHILD_KEEP_SIGHUP = 1, /* SIGHUP stays ignored as the monitor has it (else the default) */
    CHILD_PDEATHSIG = 2,   /* SIGKILLed when the monitor dies (never before it runs) */
    CHILD_OWN_GROUP = 4,   /* a process group of its own, so that it is killed as one */
    CHILD_IN_CWD = 8,      /* in the directory the monitor was started in, not in / */
};

/* Fork a child that runs argv with the creator's environment: no signal blocked, SIGPIPE
 * at its default, fds[i] as its fd i (-1: /dev/null) and the monitor's own fds 0-2 where
 * nfds leaves them, nothing else open.  The pid, or -1 (fork failed).  One function for
 * every child, so that none of them differs from the others by accident; the differences
 * are the flags. */
static pid_t spawn_child(char **argv, const int *fds, int nfds, int flags)
{
    pid_t self = getpid();
    pid_t pid = fork();
    if (pid != 0) {
        if (pid > 0 && (flags & CHILD_OWN_GROUP))
            setpgid(pid, pid); /* both sides: the group exists before either goes on */
        return pid;
    }
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    signal(SIGPIPE, SIG_DFL);
    if (!(flags & CHILD_KEEP_SIGHUP))
        signal(SIGHUP, SIG_DFL);
    if (flags & CHILD_OWN_GROUP)
        setpgid(0, 0);
    if (flags & CHILD_PDEATHSIG) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() != self)
            _exit(127); /* the monitor died before the line above */
    }
    int src[4], nul = -1;
    for (int i = 0; i < nfds; i++) {
        if (fds[i] < 0 && nul < 0)
            nul = open("/dev/null", O_RDWR | O_CLOEXEC);
        /* each source moved above them all first, so that no dup2 clobbers another */
        src[i] = fcntl(fds[i] >= 0 ? fds[i] : nul, F_DUPFD_CLOEXEC, 10);
    }
    for (int i = 0; i < nfds; i++)
        if (src[i] < 0 || dup2(src[i], i) < 0)
            _exit(127);
    if ((flags & CHILD_IN_CWD) && cwd_fd >= 0 && fchdir(cwd_fd) < 0)
        _exit(127);
    syscall(SYS_close_range, nfds > 3 ? nfds : 3, ~0U, 0);
    execvpe(argv[0], argv, creator_env);
    _exit(127);
}

/* ---- compression of rotated log files (--compress-command) ----
 * Rotated files still plain (NAME.1 ...) are compressed one at a time by a program of their
 * own, never here: the writer must not wait, and the steady state must not allocate.  It
 * gets the plain file on its stdin and NAME.gz.tmp on its stdout.  Once it has exited 0 the
 * monitor, the only one that renames log files, moves the result to NAME.K.gz, K being
 * where rotations since have moved the file, then removes NAME.K: a reader always finds one
 * of the two, and a follower holding the plain file reads on from its fd.  A file rotated out
 * meanwhile goes with its temporary file.  A failure waits for the next rotation. */
static char *compress_argv[CMD_ARGS + 2];
static int compress_argc;
static pid_t compress_pid;
static long compress_idx; /* the file being compressed is NAME.<compress_idx> now */
static dev_t compress_dev;
static ino_t compress_ino;
static int compress_failed;
static char gzbuf[PATH_MAX + 32];

static void on_signal(void);

static const char *gz_name(char *dst, const char *suffix, long n)
{
    size_t at = put_str(dst, 0, log_path);
    if (n >= 0) {
        dst[at++] = '.';
        at = put_ll(dst, at, n);
    }
    at = put_str(dst, at, suffix);
    dst[at] = 0;
    return dst;
}

/* Start the compressor on the newest rotated file that is still plain, if none runs. */
static void compress_next(void)
{
    if (!compress_argc || compress_pid > 0 || compress_failed || log_driver == DRV_NONE)
        return;
    for (long i = 1; i < log_files; i++) {
        int src = open(path_join(pathbuf, log_path, ".", i), O_RDONLY | O_CLOEXEC);
        if (src < 0)
            continue;
        struct stat st;
        int out = open(gz_name(gzbuf, ".gz.tmp", -1), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
                       0640);
        pid_t pid = -1;
        int fds[2] = {src, out}; /* its stderr is the monitor's /dev/null */
        if (out >= 0 && fstat(src, &st) == 0)
            pid = spawn_child(compress_argv, fds, 2, CHILD_PDEATHSIG);
        close(src);
        if (out >= 0)
            close(out);
        if (pid < 0) {
            unlink(gzbuf);
            compress_failed = 1;
            return;
        }
        compress_pid = pid;
        compress_idx = i;
        compress_dev = st.st_dev;
        compress_ino = st.st_ino;
        return;
    }
}

static void compress_reaped(int status)
{
    compress_pid = 0;
    struct stat st;
    path_join(pathbuf, log_path, ".", compress_idx);
    gz_name(pathbuf2, ".gz.tmp", -1);
    int moved = compress_idx < log_files && stat(pathbuf, &st) == 0 &&
                st.st_dev == compress_dev && st.st_ino == compress_ino;
    if (moved && WIFEXITED(status) && WEXITSTATUS(status) == 0) {
        /* the .gz first: a reader lists one of the two at any time */
        if (rename(pathbuf2, gz_name(gzbuf, ".gz", compress_idx)) == 0)
            unlink(pathbuf);
        else
            compress_failed = 1;
    } else if (moved) {
        compress_failed = 1;
    }
    unlink(pathbuf2);
    compress_next();
}

/* After a rotation: the file being compressed moved up one; the new NAME.1 is next. */
static void compress_rotated(void)
{
    if (!compress_argc)
        return;
    if (compress_pid > 0)
        compress_idx++;
    compress_failed = 0;
    compress_next();
}

/* At the start: a temporary file left by a killed monitor goes, plain rotated files left
 * uncompressed are compressed. */
static void compress_init(void)
{
    if (!compress_argc || log_driver == DRV_NONE)
        return;
    unlink(gz_name(gzbuf, ".gz.tmp", -1));
    compress_next();
}

/* Rotation of the compressed files, step by step with the plain ones: NAME.<i>.gz moves up
 * one, the one at the last place goes. */
static void compress_shift(long i)
{
    if (!compress_argc)
        return;
    if (i >= log_files - 1)
        unlink(gz_name(pathbuf, ".gz", i));
    else
        rename(gz_name(pathbuf, ".gz", i), gz_name(pathbuf2, ".gz", i + 1));
}

/* Rotate by rename: the oldest goes, each moves up one, a new file takes the name. */
static void rotate(void)
{
    if (log_files <= 1) {
        if (log_fd >= 0 && ftruncate(log_fd, 0) == 0)
            log_cur = 0;
    } else {
        unlink(path_join(pathbuf, log_path, ".", log_files - 1));
        compress_shift(log_files - 1);
        for (long i = log_files - 2; i >= 1; i--) {
            rename(path_join(pathbuf, log_path, ".", i), path_join(pathbuf2, log_path, ".", i + 1));
            compress_shift(i);
        }
        rename(log_path, path_join(pathbuf, log_path, ".", 1));
        if (log_fd >= 0)
            close(log_fd);
        open_log();
        compress_rotated();
    }
}

static void write_out(const char *buf, size_t len)
{
    if (len == 0)
        return;
    if (log_fd < 0 && log_driver != DRV_NONE)
        open_log(); /* a file that could not be made at rotation: try again */
    if (log_fd < 0) {
        dropped += (long long)len;
        return;
    }
    while (len) {
        ssize_t w = write(log_fd, buf, len);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) { /* disk full or broken: what doesn't fit is counted, never retried */
            dropped += (long long)len;
            return;
        }
        buf += w;
        len -= (size_t)w;
        log_cur += w;
    }
}

static void flush_out(void)
{
    write_out(outbuf, outlen);
    outlen = 0;
}

/* Would `more` bytes pass the size limit?  The file size is checked again first: someone
 * may have truncated it (copytruncate). */
static int over_limit(size_t before, size_t entry)
{
    long long total = log_cur + (long long)(before + entry);
    if (log_size <= 0 || total <= log_size)
        return 0;
    struct stat st;
    if (log_fd >= 0 && fstat(log_fd, &st) == 0)
        log_cur = st.st_size;
    /* an entry larger than the limit goes alone into a file of its own */
    return log_cur + (long long)before > 0 && log_cur + (long long)(before + entry) > log_size;
}

static const char hexd[] = "0123456789abcdef";

/* JSON string body as Docker writes it: <, > and & escaped, invalid UTF-8 as U+FFFD (one per
 * bad byte), U+2028 and U+2029 escaped. */
static unsigned char plain[256]; /* 1: a byte copied as it is */

static void init_plain(void)
{
    for (int c = 0x20; c < 0x80; c++)
        plain[c] = c != '"' && c != '\\' && c != '<' && c != '>' && c != '&';
}

static size_t json_escape(char *dst, size_t at, const unsigned char *s, size_t n)
{
    size_t i = 0;
    while (i < n) {
        size_t run = i;
        while (run < n && plain[s[run]])
            run++;
        if (run > i) { /* the common case: a run of plain ASCII, copied at once */
            memcpy(dst + at, s + i, run - i);
            at += run - i;
            i = run;
            continue;
        }
        unsigned char c = s[i];
        if (c < 0x80) {
            dst[at++] = '\\';
            switch (c) {
            case '"': dst[at++] = '"'; break;
            case '\\': dst[at++] = '\\'; break;
            case '\n': dst[at++] = 'n'; break;
            case '\r': dst[at++] = 'r'; break;
            case '\t': dst[at++] = 't'; break;
            default:
                dst[at++] = 'u';
                dst[at++] = '0';
                dst[at++] = '0';
                dst[at++] = hexd[c >> 4];
                dst[at++] = hexd[c & 15];
            }
            i++;
            continue;
        }
        /* a multi-byte sequence: validate it (no overlongs, no surrogates, <= U+10FFFF) */
        size_t len = 0;
        uint32_t cp = 0;
        if (c >= 0xc2 && c <= 0xdf) {
            len = 2;
            cp = c & 0x1f;
        } else if (c >= 0xe0 && c <= 0xef) {
            len = 3;
            cp = c & 0x0f;
        } else if (c >= 0xf0 && c <= 0xf4) {
            len = 4;
            cp = c & 0x07;
        }
        int ok = len && i + len <= n;
        for (size_t k = 1; ok && k < len; k++) {
            if ((s[i + k] & 0xc0) != 0x80)
                ok = 0;
            else
                cp = (cp << 6) | (s[i + k] & 0x3f);
        }
        if (ok && ((len == 3 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) ||
                   (len == 4 && (cp < 0x10000 || cp > 0x10ffff))))
            ok = 0;
        if (!ok) {
            at = put_str(dst, at, "\\ufffd");
            i++;
        } else if (cp == 0x2028 || cp == 0x2029) {
            at = put_str(dst, at, cp == 0x2028 ? "\\u2028" : "\\u2029");
            i += len;
        } else {
            memcpy(dst + at, s + i, len);
            at += len;
            i += len;
        }
    }
    return at;
}

/* Every entry of one read has the same time: what follows the text is made once per read
 * and stream (json-file: `","stream":"stdout","time":"..."}`; CRI: the time). */
static long long ts_cached = -1;
static char json_tail[2][80], ts_full[40];
static size_t json_tail_len[2], ts_full_len;

static void format_ts(long long ts)
{
    if (ts == ts_cached)
        return;
    ts_cached = ts;
    for (int i = 0; i < 2; i++) {
        size_t at = put_str(json_tail[i], 0, i ? "\",\"stream\":\"stderr\",\"time\":\""
                                                : "\",\"stream\":\"stdout\",\"time\":\"");
        at = put_time(json_tail[i], at, ts, 1);
        json_tail_len[i] = put_str(json_tail[i], at, "\"}\n");
    }
    ts_full_len = put_time(ts_full, 0, ts, 0);
}

#define PUT_LIT(dst, at, lit) (memcpy((dst) + (at), (lit), sizeof(lit) - 1), (at) + sizeof(lit) - 1)

/* One log entry: `data` without its newline; partial: the line goes on in the next entry. */
static void emit(struct stream *st, const char *data, size_t n, int partial, long long ts)
{
    if (log_driver == DRV_NONE)
        return;
    if (outlen + ENTRY_MAX > OUT_CAP)
        flush_out();
    size_t start = outlen, at = outlen;
    if (log_driver == DRV_JSON) {
        int which = st == &s_err;
        format_ts(ts);
        at = PUT_LIT(outbuf, at, "{\"log\":\"");
        at = json_escape(outbuf, at, (const unsigned char *)data, n);
        if (!partial)
            at = PUT_LIT(outbuf, at, "\\n");
        memcpy(outbuf + at, json_tail[which], json_tail_len[which]);
        at += json_tail_len[which];
    } else {
        format_ts(ts);
        memcpy(outbuf + at, ts_full, ts_full_len);
        at += ts_full_len;
        at = st == &s_err ? PUT_LIT(outbuf, at, " stderr") : PUT_LIT(outbuf, at, " stdout");
        at = partial ? PUT_LIT(outbuf, at, " P ") : PUT_LIT(outbuf, at, " F ");
        memcpy(outbuf + at, data, n);
        at += n;
        outbuf[at++] = '\n';
    }
    size_t elen = at - start;
    if (over_limit(start, elen)) {
        /* entries never straddle two files: what came before goes to the old one */
        write_out(outbuf, start);
        rotate();
        memmove(outbuf, outbuf + start, elen);
        outlen = elen;
    } else {
        outlen = at;
    }
}

/* Cut a full line buffer, keeping an incomplete UTF-8 sequence at its end for the next
 * piece so that no character is split between two partial entries. */
static size_t utf8_cut(const char *buf, size_t n)
{
    size_t back = 0;
    while (back < 3 && back < n && ((unsigned char)buf[n - 1 - back] & 0xc0) == 0x80)
        back++;
    if (back < n) {
        unsigned char lead = (unsigned char)buf[n - 1 - back];
        size_t need = lead >= 0xf0 ? 4 : lead >= 0xe0 ? 3 : lead >= 0xc0 ? 2 : 1;
        if (need > back + 1 && need <= 4)
            return n - back - 1;
    }
    return n;
}

static void stream_data(struct stream *st, const char *p, size_t n, long long ts)
{
    while (n) {
        const char *nl = memchr(p, '\n', n);
        size_t seg = nl ? (size_t)(nl - p) : n;
        if (st->len == 0 && nl && seg <= LINE_MAX_BYTES) {
            emit(st, p, seg, 0, ts); /* the common case: no copy */
            p += seg + 1;
            n -= seg + 1;
            continue;
        }
        size_t room = LINE_MAX_BYTES - st->len;
        size_t take = seg < room ? seg : room;
        memcpy(st->line + st->len, p, take);
        st->len += take;
        p += take;
        n -= take;
        if (take == seg && nl) {
            emit(st, st->line, st->len, 0, ts);
            st->len = 0;
            p++;
            n--;
        } else if (st->len == LINE_MAX_BYTES) {
            size_t cut = log_driver == DRV_JSON ? utf8_cut(st->line, st->len) : st->len;
            emit(st, st->line, cut, 1, ts);
            memmove(st->line, st->line + cut, st->len - cut);
            st->len -= cut;
        }
    }
}

/* The end of a stream: a last line without its newline is written as it is, a partial
 * entry (no newline is made up; readers show it when the log ends). */
static void stream_end(struct stream *st, long long ts)
{
    if (st->len) {
        emit(st, st->line, st->len, 1, ts);
        st->len = 0;
    }
}

static void close_stream(struct stream *st)
{
    if (st->fd >= 0) {
        epoll_ctl(epfd, EPOLL_CTL_DEL, st->fd, NULL);
        close(st->fd);
        st->fd = -1;
    }
    stream_end(st, now_ns(CLOCK_REALTIME));
}

/* ---- attach: a SOCK_SEQPACKET socket "attach" in the state directory ----
 * Each message to a client is one read of the container's output: a byte 1 (stdout, the
 * terminal's output too) or 2 (stderr), then the bytes.  Each message from a client starts
 * with a byte of its kind: 0, then input for the container's stdin (--stdin: the pipe, or
 * with --tty the pty master); 1, then the window size as two 16-bit numbers in the host's
 * order, rows and columns (--tty: TIOCSWINSZ on the master, which signals the terminal's
 * foreground process group).  Nothing here may block the monitor: output a client has no
 * room for is not sent to it (the log has it), input the pipe or pty has no room for is
 * dropped. */

#define MAX_CLIENTS 16

/* The size attach clients asked for, on the current run's pty (none before one asked). */
static void tty_size(void)
{
    struct winsize ws = {.ws_row = win_rows, .ws_col = win_cols};
    if (s_tty.fd >= 0 && win_rows && win_cols)
        ioctl(s_tty.fd, TIOCSWINSZ, &ws);
}

static int attach_fd = -1;
static int clients[MAX_CLIENTS];
static int nclients;
static char attach_in[65536];

static void attach_open(void)
{
    attach_fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (attach_fd < 0)
        return;
    /* a name relative to the state directory: its path may be longer than sun_path */
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    memcpy(sa.sun_path, "attach", 7);
    int ok = fchdir(state_dir) == 0;
    if (ok) {
        unlink("attach");
        ok = bind(attach_fd, (struct sockaddr *)&sa, sizeof(sa)) == 0 && listen(attach_fd, 8) == 0;
    }
    if (chdir("/") < 0 || !ok) {
        close(attach_fd);
        attach_fd = -1;
        return;
    }
    struct epoll_event ev = {.events = EPOLLIN, .data.fd = attach_fd};
    epoll_ctl(epfd, EPOLL_CTL_ADD, attach_fd, &ev);
}

static void client_drop(int i)
{
    epoll_ctl(epfd, EPOLL_CTL_DEL, clients[i], NULL);
    close(clients[i]);
    clients[i] = clients[--nclients];
}

static void attach_accept(void)
{
    int fd;
    while ((fd = accept4(attach_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC)) >= 0) {
        if (nclients == MAX_CLIENTS) {
            close(fd);
            continue;
        }
        clients[nclients++] = fd;
        struct epoll_event ev = {.events = EPOLLIN, .data.fd = fd};
        epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev);
    }
}

static int attach_input(int fd)
{
    int i = 0;
    while (i < nclients && clients[i] != fd)
        i++;
    if (i == nclients)
        return 0;
    ssize_t n = recv(fd, attach_in, sizeof(attach_in), MSG_DONTWAIT);
    if (n < 0 && (errno == EAGAIN || errno == EINTR))
        return 1;
    if (n <= 0) {
        client_drop(i);
        return 1;
    }
    if (attach_in[0] == 1 && n == 5) {
        memcpy(&win_rows, attach_in + 1, 2);
        memcpy(&win_cols, attach_in + 3, 2);
        tty_size();
        return 1;
    }
    int to = want_tty ? (want_stdin ? s_tty.fd : -1) : stdin_w;
    if (attach_in[0] == 0 && n > 1 && to >= 0) {
        /* no room in the pipe or pty (dropped) or the container closed it: never wait */
        ssize_t w = write(to, attach_in + 1, (size_t)n - 1);
        (void)w;
    }
    return 1;
}

static void attach_drop_all(void)
{
    while (nclients)
        client_drop(nclients - 1);
}

static void attach_output(struct stream *st, const char *data, size_t n)
{
    unsigned char tag = st == &s_err ? 2 : 1;
    for (int i = nclients - 1; i >= 0; i--) {
        struct iovec iov[2] = {{&tag, 1}, {(void *)data, n}};
        struct msghdr mh = {.msg_iov = iov, .msg_iovlen = 2};
        if (sendmsg(clients[i], &mh, MSG_DONTWAIT | MSG_NOSIGNAL) < 0 && errno != EAGAIN &&
            errno != ENOBUFS)
            client_drop(i);
    }
}

static void attach_close(void)
{
    attach_drop_all();
    if (attach_fd >= 0) {
        close(attach_fd);
        unlinkat(state_dir, "attach", 0);
        attach_fd = -1;
    }
}

/* Read what the pipe holds (at most a few chunks, so that one stream can't starve the
 * other or the signals). */
static void drain(struct stream *st, int rounds)
{
    while (st->fd >= 0 && rounds-- > 0) {
        ssize_t r = read(st->fd, inbuf, sizeof(inbuf));
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0 && errno == EAGAIN)
            break;
        if (r <= 0) {
            close_stream(st);
            break;
        }
        stream_data(st, inbuf, (size_t)r, now_ns(CLOCK_REALTIME));
        if (nclients)
            attach_output(st, inbuf, (size_t)r);
        if ((size_t)r < sizeof(inbuf))
            break;
    }
}

/* ---- the main process ---- */

static void read_oom(void)
{
    if (!oom_file)
        return;
    int fd = open(oom_file, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return;
    ssize_t n = read(fd, filebuf, sizeof(filebuf) - 1);
    close(fd);
    if (n <= 0)
        return;
    filebuf[n] = 0;
    for (char *line = filebuf; line && *line;) {
        if (strncmp(line, "oom_kill ", 9) == 0) {
            oom_kill = strtol(line + 9, NULL, 10);
            return;
        }
        line = strchr(line, '\n');
        if (line)
            line++;
    }
}

static void set_exit(int status)
{
    if (WIFEXITED(status)) {
        exit_code = WEXITSTATUS(status);
        exit_signal = 0;
    } else {
        exit_signal = WTERMSIG(status);
        exit_code = 128 + exit_signal;
    }
}

/* ---- health checks (see the header) ---- */

static void health_schedule(void)
{
    health_next_ns = health_argc ? now_ns(CLOCK_MONOTONIC) + health_interval_ms * 1000000LL : 0;
}

static void health_start(void)
{
    health_next_ns = 0;
    if (health_pid > 0 || main_done || stopping)
        return; /* one at a time; none for a container that ends or is being stopped */
    if (!main_known) {
        health_schedule(); /* the creator still makes it: try again an interval later */
        return;
    }
    /* its stdio: the monitor's /dev/null */
    pid_t pid = spawn_child(health_argv, NULL, 0,
                            CHILD_PDEATHSIG | CHILD_OWN_GROUP | CHILD_IN_CWD);
    if (pid < 0) {
        health_schedule();
        return;
    }
    health_pid = pid;
    health_kill_ns = health_timeout_ms > 0 ?
        now_ns(CLOCK_MONOTONIC) + health_timeout_ms * 1000000LL : 0;
}

/* The container ended: no more checks, and a running one is of no more use. */
static void health_stop(void)
{
    health_next_ns = health_kill_ns = 0;
    if (health_pid > 0)
        kill(-health_pid, SIGKILL);
}

static void health_reaped(void)
{
    health_pid = 0;
    health_kill_ns = 0;
    if (main_known && !main_done && !stopping)
        health_schedule();
}

static int stop_marked(void)
{
    return faccessat(state_dir, "stopped", F_OK, 0) == 0;
}

static int should_restart(void)
{
    if (stopped_by_user)
        return 0;
    switch (restart_policy) {
    case RP_NO:
        return 0;
    case RP_ON_FAILURE:
        return exit_code != 0 && (restart_max < 0 || restart_count < restart_max);
    default:
        return 1;
    }
}

static void on_signal(void);

static void run_exit_command(void)
{
    if (!exit_argc || exit_pid > 0)
        return;
    /* it releases what the container held even if the monitor is killed meanwhile (no
     * death signal), and SIGHUP stays ignored for it as for the monitor: a hangup of the
     * caller's session must not cut the release short */
    static const int nul3[3] = {-1, -1, -1};
    pid_t pid = spawn_child(exit_argv, nul3, 3, CHILD_KEEP_SIGHUP);
    exit_pid = pid > 0 ? pid : 0;
}

/* At the end, reaping what comes meanwhile: first the exit command (at most 30 s, then it
 * is left to run), then the compressor, given 10 s from there to finish before it is
 * stopped (what it leaves plain the next monitor compresses). */
static void wait_helpers(void)
{
    long long exit_deadline = now_ns(CLOCK_MONOTONIC) + 30000000000LL, compress_deadline = 0;
    for (;;) {
        long long now = now_ns(CLOCK_MONOTONIC), until;
        if (exit_pid > 0 && now < exit_deadline) {
            until = exit_deadline;
        } else if (compress_pid > 0) {
            if (!compress_deadline)
                compress_deadline = now + 10000000000LL;
            if (now >= compress_deadline) {
                kill(compress_pid, SIGKILL);
                waitpid(compress_pid, NULL, 0);
                compress_pid = 0;
                unlink(gz_name(gzbuf, ".gz.tmp", -1));
                return;
            }
            until = compress_deadline;
        } else {
            return;
        }
        struct pollfd p = {.fd = sigfd, .events = POLLIN};
        poll(&p, 1, (int)((until - now) / 1000000) + 1);
        on_signal();
    }
}

static void main_ended(int status)
{
    main_done = 1;
    health_stop();
    set_exit(status);
    finished_ns = now_ns(CLOCK_REALTIME);
    /* what the container wrote before it ended belongs to this run's log */
    drain(&s_out, 64);
    drain(&s_err, 64);
    drain(&s_tty, 64);
    stream_end(&s_out, finished_ns);
    stream_end(&s_err, finished_ns);
    stream_end(&s_tty, finished_ns);
    flush_out();
    read_oom();
    if (stopping || stop_marked())
        stopped_by_user = 1;
    if (should_restart()) {
        long long now = now_ns(CLOCK_MONOTONIC);
        if (now - run_started >= 10000000000LL) /* a run that lasted starts the backoff over */
            backoff_ms = 100;
        restart_at_ns = now + backoff_ms * 1000000LL;
        backoff_ms = backoff_ms * 2 > 60000 ? 60000 : backoff_ms * 2;
    } else {
        restart_at_ns = 0;
    }
    stop_deadline_ns = 0;
    write_state();
    journal_end();
    attach_drop_all(); /* an attach ends with the run, as Docker's: its state is written */
    run_exit_command();
}

/* The pty master the creator sent (--tty): read like the stdout pipe until the run ends. */
static void tty_take(int fd)
{
    if (s_tty.fd >= 0) {
        close(fd);
        return;
    }
    fcntl(fd, F_SETFL, O_NONBLOCK);
    s_tty.fd = fd;
    s_tty.len = 0;
    tty_size();
    struct epoll_event ev = {.events = EPOLLIN, .data.fd = fd};
    epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev);
}

/* A read of the report; with --tty a receive that takes the fds that come with it. */
static ssize_t report_read(char *buf, size_t n)
{
    if (!want_tty)
        return read(sync_fd, buf, n);
    static union {
        struct cmsghdr h;
        char b[CMSG_SPACE(4 * sizeof(int))];
    } cm;
    struct iovec iov = {buf, n};
    struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = cm.b,
                        .msg_controllen = sizeof(cm.b)};
    ssize_t r = recvmsg(sync_fd, &mh, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
    if (r < 0)
        return r;
    for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c)) {
        if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
            continue;
        size_t nfd = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
        for (size_t k = 0; k < nfd; k++) {
            int fd;
            memcpy(&fd, CMSG_DATA(c) + k * sizeof(int), sizeof(int));
            if (k == 0)
                tty_take(fd);
            else
                close(fd);
        }
    }
    return r;
}

static void read_report(int final)
{
    static char rep[32];
    static size_t replen;
    while (sync_fd >= 0) {
        ssize_t r = report_read(rep + replen, sizeof(rep) - 1 - replen);
        if (r < 0 && errno == EINTR)
            continue;
        if (r > 0) {
            replen += (size_t)r;
            if (replen < sizeof(rep) - 1 && !memchr(rep, '\n', replen))
                continue;
        }
        if (r < 0 && errno == EAGAIN && !final)
            return;
        /* a whole line, EOF, a full buffer, or the creator is gone: that is the report */
        epoll_ctl(epfd, EPOLL_CTL_DEL, sync_fd, NULL);
        close(sync_fd);
        sync_fd = -1;
    }
    if (main_known)
        return;
    rep[replen] = 0;
    char *end;
    long pid = strtol(rep, &end, 10);
    replen = 0;
    if (end != rep && pid > 0 && pid != creator_pid) {
        main_pid = (pid_t)pid;
        main_known = 1;
        write_state();
        /* the main process is the creator's child while the creator lives: its end shows
         * on a pidfd, and only its parent could reap it (see main_pidfd_ready) */
        main_pidfd = (int)syscall(SYS_pidfd_open, main_pid, 0);
        if (main_pidfd >= 0) {
            struct epoll_event ev = {.events = EPOLLIN, .data.fd = main_pidfd};
            epoll_ctl(epfd, EPOLL_CTL_ADD, main_pidfd, &ev);
        }
        for (unsigned i = 0; i < RECENT; i++) {
            if (recent[i].pid == main_pid) {
                recent[i].pid = 0;
                main_ended(recent[i].status);
                return;
            }
        }
    }
}

static void close_main_pidfd(void)
{
    if (main_pidfd >= 0) {
        epoll_ctl(epfd, EPOLL_CTL_DEL, main_pidfd, NULL);
        close(main_pidfd);
        main_pidfd = -1;
    }
}

/* The main process ended while the creator that made it still runs: the creator has done
 * its work, and once it is gone its zombie child comes to the monitor (the subreaper),
 * which reaps it with its exit status. */
static void main_pidfd_ready(void)
{
    close_main_pidfd();
    main_gone = 1;
    if (!main_done && !creator_done && creator_pid > 0)
        kill(creator_pid, SIGKILL);
}

static int start_creator(void)
{
    int out[2], err[2], rep[2], in[2] = {-1, -1};
    int pipe_in = want_stdin && !want_tty; /* with a terminal, input goes to its master */
    if (pipe2(out, O_CLOEXEC) < 0)
        return -1;
    if (pipe2(err, O_CLOEXEC) < 0)
        return -1;
    if (want_tty ? socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, rep) < 0
                 : pipe2(rep, O_CLOEXEC) < 0)
        return -1;
    if (pipe_in && pipe2(in, O_CLOEXEC) < 0)
        return -1;
    /* killed with the monitor (a SIGKILLed monitor takes its container along); SIGHUP
     * stays ignored for it as for the monitor */
    int stdio[4] = {pipe_in ? in[0] : -1, out[1], err[1], rep[1]};
    pid_t pid = spawn_child(creator_argv, stdio, 4,
                            CHILD_KEEP_SIGHUP | CHILD_PDEATHSIG | CHILD_IN_CWD);
    if (pid < 0)
        return -1;
    close(out[1]);
    close(err[1]);
    close(rep[1]);
    if (pipe_in) {
        close(in[0]);
        if (stdin_w >= 0)
            close(stdin_w);
        stdin_w = in[1];
        fcntl(stdin_w, F_SETFL, O_NONBLOCK);
    }
    s_out.fd = out[0];
    s_err.fd = err[0];
    sync_fd = rep[0];
    int fds[3] = {out[0], err[0], rep[0]};
    for (int i = 0; i < 3; i++) {
        fcntl(fds[i], F_SETFL, O_NONBLOCK);
        struct epoll_event ev = {.events = EPOLLIN, .data.fd = fds[i]};
        epoll_ctl(epfd, EPOLL_CTL_ADD, fds[i], &ev);
    }
    close_main_pidfd();
    creator_pid = pid;
    creator_done = 0;
    main_gone = 0;
    main_pid = 0;
    main_known = 0;
    main_done = 0;
    exit_code = exit_signal = 0;
    finished_ns = 0;
    restart_at_ns = 0;
    started_ns = now_ns(CLOCK_REALTIME);
    health_schedule();
    write_state();
    return 0;
}

static void reap(void)
{
    int status;
    pid_t pid;
    while ((pid = waitpid(-1, &status, WNOHANG | __WALL)) > 0) {
        if (exit_pid > 0 && pid == exit_pid) {
            exit_pid = 0;
        } else if (compress_pid > 0 && pid == compress_pid) {
            compress_reaped(status);
        } else if (pid == creator_pid && !creator_done) {
            creator_done = 1;
            if (!main_known)
                read_report(1);
            if (!main_known) { /* no report: the creator was the main process */
                main_pid = pid;
                main_known = 1;
            }
            if (main_pid == pid && !main_done)
                main_ended(status);
        } else if (main_known && pid == main_pid && !main_done) {
            main_ended(status);
        } else if (health_pid > 0 && pid == health_pid) {
            health_reaped();
        } else {
            recent[recent_next % RECENT].pid = pid;
            recent[recent_next % RECENT].status = status;
            recent_next++;
        }
    }
    /* the creator reaped the main process itself (a shell's wait does): it ended, but how
     * is lost; its zombie would have come here with the creator's end otherwise */
    if (main_known && main_gone && creator_done && !main_done) {
        last_error = "the main process was reaped by its creator: exit status unknown";
        main_ended(255 << 8);
    }
}

/* --adopt-creator: the caller forked the first creator (a copy of itself, with pycontain
 * imported: no interpreter to start) before it exec'd us, and made its pipes: our fd 3 reads
 * its stdout, 4 its stderr, 5 its report (a socket with --tty); fd 2 is the ready pipe (see
 * main).  From here on it is watched as one start_creator made; a restart runs CREATOR ARGV
 * as ever. */
#define ADOPT_FDS 6
static int adopt_creator(void)
{
    siginfo_t si;
    if (waitid(P_PID, (id_t)adopt_pid, &si, WEXITED | WNOHANG | WNOWAIT) < 0)
        return -1; /* ECHILD: not ours to watch */
    int fds[3] = {3, 4, 5};
    for (int i = 0; i < 3; i++) {
        if (fcntl(fds[i], F_SETFD, FD_CLOEXEC) < 0 || fcntl(fds[i], F_SETFL, O_NONBLOCK) < 0)
            return -1;
        struct epoll_event ev = {.events = EPOLLIN, .data.fd = fds[i]};
        epoll_ctl(epfd, EPOLL_CTL_ADD, fds[i], &ev);
    }
    s_out.fd = 3;
    s_err.fd = 4;
    sync_fd = 5;
    creator_pid = adopt_pid;
    started_ns = now_ns(CLOCK_REALTIME);
    health_schedule();
    write_state();
    /* whatever ended before the signalfd was there sent a SIGCHLD that nobody saw */
    reap();
    return 0;
}

static void signal_main(int sig)
{
    pid_t target = main_known ? main_pid : creator_pid;
    if (target > 0 && !main_done)
        kill(target, sig);
}

static void on_signal(void)
{
    struct signalfd_siginfo si[8];
    ssize_t r = read(sigfd, si, sizeof(si));
    for (ssize_t i = 0; r > 0 && i < r / (ssize_t)sizeof(si[0]); i++) {
        switch (si[i].ssi_signo) {
        case SIGCHLD:
            reap();
            break;
        case SIGTERM:
        case SIGINT:
            stopping = 1;
            stopped_by_user = 1;
            if (restart_at_ns) { /* between two runs: stay stopped */
                restart_at_ns = 0;
                write_state();
                break;
            }
            signal_main(stop_signal);
            if (stop_timeout > 0 && !stop_deadline_ns)
                stop_deadline_ns = now_ns(CLOCK_MONOTONIC) + stop_timeout * 1000000000LL;
            break;
        case SIGUSR1:
            stopping = 1;
            stopped_by_user = 1;
            restart_at_ns = 0;
            signal_main(SIGKILL);
            break;
        }
    }
}

/* ---- start ---- */

static void fail(int ready, const char *what)
{
    const char *e = strerror(errno);
    size_t at = put_str(filebuf, 0, "pycontain-monitor: ");
    at = put_str(filebuf, at, what);
    if (errno) {
        at = put_str(filebuf, at, ": ");
        at = put_str(filebuf, at, e);
    }
    filebuf[at++] = '\n';
    if (write(ready >= 0 ? ready : 2, filebuf, at) < 0)
        _exit(1);
    _exit(1);
}

static long parse_num(const char *s, const char *opt)
{
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno || end == s || *end || v < 0 || v > LONG_MAX) {
        errno = 0;
        fail(-1, opt);
    }
    return (long)v;
}

/* NAME PROGRAM, then NAME-arg ARG for each argument (conmon's --exit-command shape):
 * whether option a is one of these, its value v then taken into argv. */
static int command_opt(const char *a, const char *v, const char *name, char **argv, int *argc)
{
    size_t n = strlen(name);
    if (strncmp(a, name, n) != 0 || (a[n] && strcmp(a + n, "-arg") != 0))
        return 0;
    if ((a[n] == 0) != (*argc == 0) || *argc >= CMD_ARGS) {
        size_t at = put_str(pathbuf, 0, name);
        at = put_str(pathbuf, at, ": one program, then at most 31 ");
        at = put_str(pathbuf, at, name);
        at = put_str(pathbuf, at, "-arg");
        pathbuf[at] = 0;
        errno = 0;
        fail(-1, pathbuf);
    }
    argv[(*argc)++] = (char *)v;
    return 1;
}

static void parse_args(int argc, char **argv)
{
    int i = 1;
    for (; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--") == 0) {
            i++;
            break;
        }
        if (strcmp(a, "--stdin") == 0) {
            want_stdin = 1;
            continue;
        }
        if (strcmp(a, "--tty") == 0) {
            want_tty = 1;
            continue;
        }
        if (i + 1 >= argc) {
            errno = 0;
            fail(-1, "an option needs a value");
        }
        const char *v = argv[++i];
        if (strcmp(a, "--state") == 0) {
            state_path = v;
        } else if (strcmp(a, "--log-path") == 0) {
            log_path = v;
        } else if (strcmp(a, "--log-driver") == 0) {
            if (strcmp(v, "json-file") == 0)
                log_driver = DRV_JSON;
            else if (strcmp(v, "k8s-file") == 0 || strcmp(v, "cri") == 0)
                log_driver = DRV_CRI;
            else if (strcmp(v, "none") == 0)
                log_driver = DRV_NONE;
            else
                fail(-1, "--log-driver: json-file, k8s-file or none");
        } else if (strcmp(a, "--log-size") == 0) {
            log_size = parse_num(v, "--log-size");
        } else if (strcmp(a, "--log-files") == 0) {
            log_files = (int)parse_num(v, "--log-files");
            if (log_files < 1 || log_files > 1000)
                fail(-1, "--log-files: 1 to 1000");
        } else if (strcmp(a, "--restart") == 0) {
            if (strcmp(v, "no") == 0) {
                restart_policy = RP_NO;
            } else if (strcmp(v, "always") == 0) {
                restart_policy = RP_ALWAYS;
            } else if (strcmp(v, "unless-stopped") == 0) {
                restart_policy = RP_UNLESS_STOPPED;
            } else if (strncmp(v, "on-failure", 10) == 0 && (v[10] == 0 || v[10] == ':')) {
                restart_policy = RP_ON_FAILURE;
                restart_max = v[10] ? parse_num(v + 11, "--restart") : -1;
            } else {
                errno = 0;
                fail(-1, "--restart: no, on-failure[:N], always or unless-stopped");
            }
        } else if (strcmp(a, "--stop-signal") == 0) {
            stop_signal = (int)parse_num(v, "--stop-signal");
            if (stop_signal < 1 || stop_signal > 64)
                fail(-1, "--stop-signal: 1 to 64");
        } else if (strcmp(a, "--stop-timeout") == 0) {
            stop_timeout = parse_num(v, "--stop-timeout");
        } else if (strcmp(a, "--oom-file") == 0) {
            oom_file = v;
        } else if (strcmp(a, "--adopt-creator") == 0) {
            long pid = parse_num(v, "--adopt-creator");
            if (pid <= 1 || pid > INT_MAX) /* 0 would mean "start a creator": a second one */
                fail(-1, "--adopt-creator: a pid above 1");
            adopt_pid = (pid_t)pid;
        } else if (command_opt(a, v, "--exit-command", exit_argv, &exit_argc) ||
                   command_opt(a, v, "--compress-command", compress_argv, &compress_argc) ||
                   command_opt(a, v, "--health-command", health_argv, &health_argc)) {
            continue;
        } else if (strcmp(a, "--health-interval") == 0) {
            health_interval_ms = parse_num(v, "--health-interval");
            health_opts = 1;
        } else if (strcmp(a, "--health-timeout") == 0) {
            health_timeout_ms = parse_num(v, "--health-timeout");
            health_opts = 1;
        } else {
            errno = 0;
            fail(-1, "unknown option");
        }
    }
    errno = 0;
    if (!state_path || state_path[0] != '/')
        fail(-1, "--state: an absolute directory is needed");
    if (log_driver != DRV_NONE && (!log_path || log_path[0] != '/'))
        fail(-1, "--log-path: an absolute file is needed");
    if (log_path && strlen(log_path) > PATH_MAX - 16)
        fail(-1, "--log-path: too long");
    if (health_opts && !health_argc) /* a check asked for would never run */
        fail(-1, "--health-interval, --health-timeout: only with --health-command");
    if (health_argc && (health_interval_ms <= 0 || health_interval_ms > 365L * 86400000))
        fail(-1, "--health-interval: 1 ms to a year, with --health-command");
    if (health_timeout_ms > 365L * 86400000)
        fail(-1, "--health-timeout: at most a year");
    if (i >= argc)
        fail(-1, "no creator command after --");
    /* the caller made the creator's pipes: none for stdin (with --tty input goes to the
     * terminal, whose master comes with the report, a unix socket then) */
    if (adopt_pid && want_stdin && !want_tty)
        fail(-1, "--adopt-creator: not with --stdin without --tty");
    creator_argv = argv + i;
}

/* The first process waits on a pipe and exits 0 once the monitor, its child, runs, or 1
 * with the monitor's one line; the monitor gets the pipe's write end. */
static int detach(void)
{
    int ready[2];
    if (pipe2(ready, O_CLOEXEC) < 0)
        fail(-1, "pipe");
    pid_t pid = fork();
    if (pid < 0)
        fail(-1, "fork");
    if (pid > 0) { /* the caller's child: tell it how the start went, then go */
        close(ready[1]);
        ssize_t n = read(ready[0], filebuf, sizeof(filebuf));
        if (n > 0 && filebuf[0] == 0)
            _exit(0);
        if (n > 0 && write(2, filebuf, (size_t)n) < 0)
            _exit(1);
        _exit(1);
    }
    close(ready[0]);
    return ready[1];
}

int main(int argc, char **argv)
{
    extern char **environ;
    parse_args(argc, argv);
    /* nothing of the caller's stays open here (but an adopted creator's pipes) */
    syscall(SYS_close_range, adopt_pid ? ADOPT_FDS : 3, ~0U, 0);
    init_plain();

    size_t ne = 0;
    for (char **e = environ; *e && ne < MAX_ENV; e++)
        if (strncmp(*e, "PYCONTAIN_MONITOR_SYNC=", 23) != 0)
            creator_env[ne++] = *e;
    creator_env[ne++] = sync_env;
    creator_env[ne] = NULL;

    /* adopting, the caller detached us (a session of our own) and reads fd 2 */
    int rfd = adopt_pid ? fcntl(2, F_DUPFD_CLOEXEC, ADOPT_FDS) : detach();
    if (rfd < 0)
        fail(-1, "the ready pipe");
    if (!adopt_pid && setsid() < 0)
        fail(rfd, "setsid");
    if (prctl(PR_SET_CHILD_SUBREAPER, 1) < 0)
        fail(rfd, "PR_SET_CHILD_SUBREAPER");
    prctl(PR_SET_NAME, "pycontain-mon");
    signal(SIGPIPE, SIG_IGN);
    signal(SIGHUP, SIG_IGN);
    state_dir = open(state_path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (state_dir < 0)
        fail(rfd, "--state");
    cwd_fd = open(".", O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (chdir("/") < 0)
        fail(rfd, "chdir /");
    if (log_driver != DRV_NONE) {
        open_log();
        if (log_fd < 0)
            fail(rfd, "--log-path");
    }
    sigset_t mask;
    sigemptyset(&mask);
    sigaddset(&mask, SIGCHLD);
    sigaddset(&mask, SIGTERM);
    sigaddset(&mask, SIGINT);
    sigaddset(&mask, SIGUSR1);
    sigprocmask(SIG_BLOCK, &mask, NULL);
    sigfd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
    epfd = epoll_create1(EPOLL_CLOEXEC);
    if (sigfd < 0 || epfd < 0)
        fail(rfd, "signalfd/epoll");
    struct epoll_event sev = {.events = EPOLLIN, .data.fd = sigfd};
    epoll_ctl(epfd, EPOLL_CTL_ADD, sigfd, &sev);
    attach_open();
    journal_init();
    if ((adopt_pid ? adopt_creator() : start_creator()) < 0)
        fail(rfd, "starting the creator");
    run_started = now_ns(CLOCK_MONOTONIC);

    int nul = open("/dev/null", O_RDWR | O_CLOEXEC);
    if (nul >= 0) {
        dup2(nul, 0);
        dup2(nul, 1);
        dup2(nul, 2);
        close(nul);
    }
    char ok = 0;
    if (write(rfd, &ok, 1) < 0)
        _exit(1);
    close(rfd);
    compress_init(); /* only now: its program gets the monitor's /dev/null as stderr */

    struct epoll_event evs[8];
    for (;;) {
        if (main_done && !restart_at_ns)
            break;
        int timeout = -1;
        long long now = now_ns(CLOCK_MONOTONIC);
        /* a restart waits for the exit command of the run before it */
        long long next = restart_at_ns && !exit_pid ? restart_at_ns : stop_deadline_ns;
        for (int k = 0; k < 2; k++) { /* the health check's next start or its kill */
            long long h = k ? health_kill_ns : health_next_ns;
            if (h && (!next || h < next))
                next = h;
        }
        if (next)
            timeout = next > now ? (int)((next - now) / 1000000 + 1) : 0;
        int n = epoll_wait(epfd, evs, 8, timeout);
        if (n < 0 && errno != EINTR)
            break;
        for (int i = 0; i < n; i++) {
            int fd = evs[i].data.fd;
            if (fd == sigfd)
                on_signal();
            else if (fd == s_out.fd)
                drain(&s_out, 4);
            else if (fd == s_err.fd)
                drain(&s_err, 4);
            else if (fd == s_tty.fd)
                drain(&s_tty, 4);
            else if (fd == sync_fd)
                read_report(0);
            else if (fd == main_pidfd)
                main_pidfd_ready();
            else if (fd == attach_fd)
                attach_accept();
            else
                attach_input(fd);
        }
        flush_out();
        now = now_ns(CLOCK_MONOTONIC);
        if (stop_deadline_ns && now >= stop_deadline_ns) {
            stop_deadline_ns = 0;
            signal_main(SIGKILL);
        }
        if (health_kill_ns && now >= health_kill_ns) {
            health_kill_ns = 0;
            kill(-health_pid, SIGKILL); /* reaped as any child, then the next is scheduled */
        }
        if (health_next_ns && now >= health_next_ns)
            health_start();
        if (main_done && restart_at_ns && now >= restart_at_ns && !exit_pid) {
            close_stream(&s_out);
            close_stream(&s_err);
            close_stream(&s_tty); /* the next run gets a pty of its own */
            if (sync_fd >= 0) {
                epoll_ctl(epfd, EPOLL_CTL_DEL, sync_fd, NULL);
                close(sync_fd);
                sync_fd = -1;
            }
            restart_count++;
            run_started = now;
            if (start_creator() < 0) {
                last_error = "could not start the creator again";
                restart_at_ns = 0;
                write_state();
                break;
            }
            journal_restart();
        }
    }
    health_stop();
    /* a creator that outlived the container it made is of no more use */
    if (!creator_done && creator_pid > 0 && creator_pid != main_pid)
        kill(creator_pid, SIGKILL);
    close_stream(&s_out);
    close_stream(&s_err);
    close_stream(&s_tty);
    flush_out();
    attach_close();
    write_state();
    wait_helpers();
    return 0;
}
