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

/* Make what is missing of `path` inside the root.  Symlinks on the way are followed the way
 * RESOLVE_IN_ROOT follows them (an absolute target or ".." never leaves the root), one
 * component at a time, so that a symlink whose target does not exist yet gets its target
 * made inside the root: the image's /var/run -> /run without a /run (runc's MkdirAll over
 * SecureJoin).  Every directory we step into is opened with RESOLVE_IN_ROOT and no symlink at
 * all, so a swap on the way fails the walk rather than leading out.  nofollow: any symlink
 * is an error (ELOOP).  0 or -errno. */
static int create_in_root(int rootfd, const char *path, int create, int nofollow, mode_t mode)
{
    const unsigned long long strict = RESOLVE_IN_ROOT | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS;
    char todo[PATH_MAX];   /* what is left to walk */
    char done[PATH_MAX];   /* resolved so far, no symlink in it: "" (the root) or "/a/b" */
    char link[PATH_MAX];
    size_t dlen = 0;
    int links = 0;
    if (pc_strlcpy(todo, path, sizeof(todo)) >= sizeof(todo))
        return -ENAMETOOLONG;
    done[0] = '\0';
    const char *p = todo;
    for (;;) {
        while (*p == '/')
            p++;
        if (!*p)
            return 0;
        const char *end = p;
        while (*end && *end != '/')
            end++;
        size_t len = (size_t)(end - p);
        const char *rest = end;
        while (*rest == '/')
            rest++;
        int last = (*rest == '\0');
        if (len == 1 && p[0] == '.') {
            p = end;
            continue;
        }
        if (len == 2 && p[0] == '.' && p[1] == '.') {
            while (dlen > 0 && done[dlen - 1] != '/')
                dlen--;
            if (dlen > 0)
                dlen--;
            done[dlen] = '\0';
            p = end;
            continue;
        }
        if (len > NAME_MAX || dlen + 1 + len + 1 > sizeof(done))
            return -ENAMETOOLONG;
        char name[NAME_MAX + 1];
        memcpy(name, p, len);
        name[len] = '\0';
        int parent = dlen == 0 ? fcntl(rootfd, F_DUPFD_CLOEXEC, 3)
                               : sys_openat2(rootfd, done, O_PATH | O_DIRECTORY | O_CLOEXEC,
                                             strict, 0);
        if (parent < 0)
            return dlen == 0 ? -errno : parent;
        ssize_t n = readlinkat(parent, name, link, sizeof(link) - 1);
        int r = 0;
        if (n >= 0) {
            /* a symlink: walk its target (from the root when absolute, else from here),
             * then what followed it */
            close(parent);
            if (nofollow || ++links > 40)
                return -ELOOP;
            size_t rl = pc_strlen(rest);
            if ((size_t)n + 1 + rl + 1 > sizeof(link))
                return -ENAMETOOLONG;
            link[n] = '/';
            memcpy(link + n + 1, rest, rl + 1);
            memcpy(todo, link, (size_t)n + 1 + rl + 1);
            if (link[0] == '/') {
                dlen = 0;
                done[0] = '\0';
            }
            p = todo;
            continue;
        }
        if (errno == ENOENT) {
            if (create == PC_CREATE_NONE) {
                r = -ENOENT;
            } else if (!last || create == PC_CREATE_DIR) {
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
        } else if (errno != EINVAL) {
            r = -errno;   /* EINVAL: it exists and is no symlink */
        }
        close(parent);
        if (r < 0)
            return r;
        done[dlen++] = '/';
        memcpy(done + dlen, name, len + 1);
        dlen += len;
        p = end;
    }
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

    int r = create_in_root(rootfd, path, create, nofollow, mode);
    if (r < 0)
        return r;
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
