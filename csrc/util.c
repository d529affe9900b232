/* Async-signal-safe helpers: strings, fd paths, writes, and path resolution inside a root. */
#include "internal.h"
#include <sys/socket.h>
#include <sys/uio.h>

#include <linux/openat2.h>

size_t pc_strlen(const char *s)
{
    size_t n = 0;
    while (s[n])
        n++;
    return n;
}

size_t pc_strlcpy(char *dst, const char *src, size_t size)
{
    size_t n = pc_strlen(src);
    if (size) {
        size_t c = n < size - 1 ? n : size - 1;
        memcpy(dst, src, c);
        dst[c] = '\0';
    }
    return n;
}

/* dst = a + "/" + b (b's leading slashes dropped); -ENAMETOOLONG when it does not fit. */
int pc_join(char *dst, size_t size, const char *a, const char *b)
{
    size_t la = pc_strlen(a);
    while (*b == '/')
        b++;
    size_t lb = pc_strlen(b);
    while (la > 1 && a[la - 1] == '/')
        la--;
    if (la + 1 + lb + 1 > size)
        return -ENAMETOOLONG;
    memcpy(dst, a, la);
    size_t pos = la;
    if (!(la == 1 && a[0] == '/'))
        dst[pos++] = '/';
    memcpy(dst + pos, b, lb);
    dst[pos + lb] = '\0';
    return 0;
}

void pc_fdpath(char *buf, size_t size, int fd)
{
    char digits[16];
    int n = 0;
    unsigned int v = (unsigned int)fd;
    do {
        digits[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v && n < (int)sizeof(digits));
    const char *prefix = "/proc/self/fd/";
    size_t lp = pc_strlen(prefix);
    if (size < lp + (size_t)n + 1) {
        if (size)
            buf[0] = '\0';
        return;
    }
    memcpy(buf, prefix, lp);
    for (int i = 0; i < n; i++)
        buf[lp + i] = digits[n - 1 - i];
    buf[lp + n] = '\0';
}

int pc_write_all(int fd, const void *buf, size_t len)
{
    const char *p = buf;
    while (len) {
        ssize_t w = write(fd, p, len);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return -errno;
        }
        p += w;
        len -= (size_t)w;
    }
    return 0;
}

static int openat2_works = 1;

static int sys_openat2(int dirfd, const char *path, int flags, unsigned long long resolve, mode_t mode)
{
    struct open_how how;
    memset(&how, 0, sizeof(how));
    how.flags = (unsigned long long)flags;
    how.mode = (flags & O_CREAT) ? mode : 0;
    how.resolve = resolve;
    long r = syscall(SYS_openat2, dirfd, path, &how, sizeof(how));
    return r < 0 ? -errno : (int)r;
}

/* Walk `path` one component at a time from dirfd, refusing every symlink (the fallback when
 * openat2 is missing, and the nofollow mode).  Returns an O_PATH fd or -errno. */
static int walk_nofollow(int rootfd, const char *path, int create, mode_t mode, int final_flags)
{
    char comp[NAME_MAX + 1];
    int cur = rootfd == AT_FDCWD ? open("/", O_PATH | O_DIRECTORY | O_CLOEXEC)
                                 : fcntl(rootfd, F_DUPFD_CLOEXEC, 3);
    if (cur < 0)
        return -errno;
    const char *p = path;
    for (;;) {
        while (*p == '/')
            p++;
        if (!*p)
            return cur;
        const char *end = p;
        while (*end && *end != '/')
            end++;
        size_t len = (size_t)(end - p);
        if (len > NAME_MAX) {
            close(cur);
            return -ENAMETOOLONG;
        }
        memcpy(comp, p, len);
        comp[len] = '\0';
        const char *rest = end;
        while (*rest == '/')
            rest++;
        int last = (*rest == '\0');
        if (len == 2 && comp[0] == '.' && comp[1] == '.') {
            /* never climb: ".." inside a container path is refused */
            close(cur);
            return -EXDEV;
        }
        if (len == 1 && comp[0] == '.') {
            p = end;
            continue;
        }
        int flags = O_PATH | O_NOFOLLOW | O_CLOEXEC;
        if (last)
            flags = final_flags | O_NOFOLLOW | O_CLOEXEC;
        int next = openat(cur, comp, flags);
        if (next < 0 && errno == ENOENT && create != PC_CREATE_NONE) {
            if (!last || create == PC_CREATE_DIR) {
                if (mkdirat(cur, comp, 0755) < 0 && errno != EEXIST) {
                    int e = errno;
                    close(cur);
                    return -e;
                }
            } else {
                int f = openat(cur, comp, O_CREAT | O_EXCL | O_WRONLY | O_NOFOLLOW | O_CLOEXEC,
                               mode ? mode : 0644);
                if (f < 0 && errno != EEXIST) {
                    int e = errno;
                    close(cur);
                    return -e;
                }
                if (f >= 0)
                    close(f);
            }
            next = openat(cur, comp, flags);
        }
        if (next < 0) {
            int e = errno;
            close(cur);
            return -e;
        }
        struct stat st;
        if (fstat(next, &st) == 0 && S_ISLNK(st.st_mode)) {
            close(next);
            close(cur);
            return -ELOOP;
        }
        close(cur);
        cur = next;
        p = end;
    }
}

int pc_open_beneath(int dirfd, const char *path, int oflags)
{
    if (openat2_works) {
        int fd = sys_openat2(dirfd, path, oflags | O_CLOEXEC,
                             RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS, 0);
        if (fd != -ENOSYS && fd != -EPERM)
            return fd;
        openat2_works = 0;
    }
    /* no openat2: refuse ".." outright, and symlinks on the way */
    for (const char *c = path; *c; c++)
        if (c[0] == '.' && c[1] == '.' && (c == path || c[-1] == '/') && (c[2] == '/' || !c[2]))
            return -EXDEV;
    return walk_nofollow(dirfd, path, PC_CREATE_NONE, 0, oflags);
}

int pc_open_nofollow(int rootfd, const char *path, int oflags)
{
    if (openat2_works) {
        int fd = sys_openat2(rootfd, path, oflags | O_CLOEXEC,
                             RESOLVE_IN_ROOT | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS, 0);
        if (fd != -ENOSYS && fd != -EPERM)
            return fd;
        /* missing, or refused by a seccomp filter that predates it */
        openat2_works = 0;
    }
    return walk_nofollow(rootfd, path, PC_CREATE_NONE, 0, oflags);
}

int pc_open_in_root(int rootfd, const char *path, int create, int nofollow, mode_t mode)
{
    unsigned long long resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS;
    if (nofollow)
        resolve |= RESOLVE_NO_SYMLINKS;
    if (!openat2_works)
        return walk_nofollow(rootfd, path, create, mode, O_PATH);

    int fd = sys_openat2(rootfd, path, O_PATH | O_CLOEXEC, resolve, 0);
    if (fd == -ENOSYS || fd == -EPERM) {
        openat2_works = 0;
        return walk_nofollow(rootfd, path, create, mode, O_PATH);
    }
    if (fd != -ENOENT || create == PC_CREATE_NONE)
        return fd;

    /* Create the missing components one by one; each parent is resolved inside the root, so a
     * symlink planted on the way is followed only within the root (never out of it). */
    char buf[PATH_MAX];
    size_t len = pc_strlen(path);
    if (len >= sizeof(buf))
        return -ENAMETOOLONG;
    memcpy(buf, path, len + 1);
    size_t pos = 0;
    for (;;) {
        while (buf[pos] == '/')
            pos++;
        if (!buf[pos])
            break;
        size_t end = pos;
        while (buf[end] && buf[end] != '/')
            end++;
        char saved = buf[end];
        buf[end] = '\0';
        int last = (saved == '\0');
        /* fd of the parent */
        int parent;
        size_t slash = pos;
        while (slash > 0 && buf[slash - 1] == '/')
            slash--;
        if (slash == 0) {
            parent = fcntl(rootfd, F_DUPFD_CLOEXEC, 3);
            if (parent < 0)
                return -errno;
        } else {
            char c = buf[slash];
            buf[slash] = '\0';
            parent = sys_openat2(rootfd, buf, O_PATH | O_DIRECTORY | O_CLOEXEC, resolve, 0);
            buf[slash] = c;
            if (parent < 0)
                return parent;
        }
        const char *name = buf + pos;
        if (!(name[0] == '.' && (name[1] == '\0' || (name[1] == '.' && name[2] == '\0')))) {
            int r = 0;
            if (!last || create == PC_CREATE_DIR) {
                if (mkdirat(parent, name, 0755) < 0 && errno != EEXIST)
                    r = -errno;
            } else {
                int f = openat(parent, name, O_CREAT | O_EXCL | O_WRONLY | O_NOFOLLOW | O_CLOEXEC,
                               mode ? mode : 0644);
                if (f < 0 && errno != EEXIST)
                    r = -errno;
                if (f >= 0)
                    close(f);
            }
            if (r < 0) {
                close(parent);
                return r;
            }
        }
        close(parent);
        buf[end] = saved;
        if (last)
            break;
        pos = end;
    }
    return sys_openat2(rootfd, path, O_PATH | O_CLOEXEC, resolve, 0);
}

void pc_msghdr_init(struct msghdr *mh, struct iovec *iov, void *cbuf, size_t cbuf_len)
{
    memset(cbuf, 0, cbuf_len);
    memset(mh, 0, sizeof(*mh));
    mh->msg_iov = iov;
    mh->msg_iovlen = 1;
    mh->msg_control = cbuf;
    mh->msg_controllen = cbuf_len;
}
