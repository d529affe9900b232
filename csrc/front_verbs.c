/* The light runc verbs in C (see front.h): `state`, `kill`, `start`, `list`, `delete`.
 *
 * Each one does exactly what the Python runtime does on its successful path (the same
 * stdout, byte for byte, the same exit status, the same changes and locks) or returns
 * FRONT_FALLBACK having changed nothing, and the Python runtime then does the verb from
 * the start.  Whatever is unusual, every error, every doubt goes to Python: a flag these
 * do not read, an entry being created or damaged, hooks in the config, a cgroup path that
 * needs this process's own cgroup to resolve, a process left in a cgroup to delete...
 *
 * What they read is the Python runtime's own record (pycontain/oci/state.py
 * ContainerState, compact JSON written by json.dumps), through the small JSON reader
 * below, which accepts a strict subset of what Python's json.loads accepts (anything else
 * falls back, so Python reports it).  Everything printed is built in a buffer and written
 * only once the verb has succeeded.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <langinfo.h>
#include <limits.h>
#include <locale.h>
#include <pwd.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "front.h"

#define FB FRONT_FALLBACK

#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434
#endif
#ifndef SYS_pidfd_send_signal
#define SYS_pidfd_send_signal 424
#endif

/* limits on what is read: beyond them, Python does the verb */
#define STATE_LIMIT (16u << 20)     /* a state.json (it holds the whole config.json) */
#define PROC_LIMIT (4u << 20)       /* /proc/self/mountinfo */
#define SMALL_LIMIT (64u << 10)     /* /proc/PID/stat, cgroupfs files */
#define OUT_LIMIT (64u << 20)       /* what one verb prints */
#define JSON_DEPTH 200              /* Python's json stops at about 1000 */
#define NUMBER_LIMIT 1000           /* Python's int() stops at 4300 digits */
#define MAX_HIERARCHIES 24
#define CG_PATH_MAX 256           /* a cgroup path; its directory under a mount */
#define CG_DIR_MAX 512

/* The runtime's constants (pycontain.defaults.CGROUP_PARENT, pycontain.store, .oci.store) */
static const char CGROUP_PARENT[] = "/pycontain";
static const char CGROUP_ROOT[] = "/sys/fs/cgroup";
static const char KEPT[] = ".#kept";

/* -- a growable buffer ------------------------------------------------------------------ */

struct buf {
    char *p;
    size_t n, cap;
    int bad;    /* out of memory or over OUT_LIMIT: the verb falls back */
};

static void put(struct buf *b, const void *s, size_t n)
{
    if (b->bad)
        return;
    if (n > OUT_LIMIT || b->n + n + 1 > OUT_LIMIT) {
        b->bad = 1;
        return;
    }
    if (b->n + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->n + n + 1)
            cap *= 2;
        char *q = realloc(b->p, cap);
        if (!q) {
            b->bad = 1;
            return;
        }
        b->p = q;
        b->cap = cap;
    }
    memcpy(b->p + b->n, s, n);
    b->n += n;
    b->p[b->n] = '\0';
}

static void puts_(struct buf *b, const char *s) { put(b, s, strlen(s)); }
static void putc_(struct buf *b, char c) { put(b, &c, 1); }

static void putf(struct buf *b, const char *fmt, ...)
{
    char tmp[128];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= sizeof(tmp)) {
        b->bad = 1;
        return;
    }
    put(b, tmp, (size_t)n);
}

static void buf_free(struct buf *b)
{
    free(b->p);
    memset(b, 0, sizeof(*b));
}

/* The whole file at *path* (relative to *dirfd*) into *out*; 0, or -errno (-EFBIG beyond
 * *limit*). */
static int read_file(int dirfd, const char *path, size_t limit, struct buf *out)
{
    int fd = openat(dirfd, path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    char chunk[65536];
    for (;;) {
        ssize_t n = read(fd, chunk, sizeof(chunk));
        if (n < 0) {
            if (errno == EINTR)
                continue;
            int e = errno;
            close(fd);
            return -e;
        }
        if (n == 0)
            break;
        if (out->n + (size_t)n > limit) {
            close(fd);
            return -EFBIG;
        }
        put(out, chunk, (size_t)n);
        if (out->bad) {
            close(fd);
            return -ENOMEM;
        }
    }
    close(fd);
    if (!out->p)
        put(out, "", 0);   /* an empty file: a valid, empty string */
    return out->bad ? -ENOMEM : 0;
}

static int path_join(char *dst, size_t size, const char *a, const char *b)
{
    int n = snprintf(dst, size, "%s/%s", a, b);
    return n < 0 || (size_t)n >= size ? -1 : 0;
}

/* -- UTF-8 ------------------------------------------------------------------------------- */

/* The length of the valid UTF-8 sequence at s (as Python's strict decoder takes it: no
 * overlong forms, no surrogates, nothing above U+10FFFF), 0 if it is not one; *cp gets the
 * code point. */
static size_t utf8_seq(const unsigned char *s, const unsigned char *end, uint32_t *cp)
{
    unsigned c = s[0];
    size_t len;
    uint32_t v, min;
    if (c < 0x80) {
        *cp = c;
        return 1;
    } else if (c >= 0xc2 && c <= 0xdf) {
        len = 2; v = c & 0x1f; min = 0x80;
    } else if (c >= 0xe0 && c <= 0xef) {
        len = 3; v = c & 0x0f; min = 0x800;
    } else if (c >= 0xf0 && c <= 0xf4) {
        len = 4; v = c & 0x07; min = 0x10000;
    } else {
        return 0;
    }
    if ((size_t)(end - s) < len)
        return 0;
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xc0) != 0x80)
            return 0;
        v = (v << 6) | (s[i] & 0x3f);
    }
    if (v < min || v > 0x10ffff || (v >= 0xd800 && v <= 0xdfff))
        return 0;
    *cp = v;
    return len;
}

static void put_utf8(struct buf *b, uint32_t cp)
{
    char s[4];
    if (cp < 0x80) {
        s[0] = (char)cp;
        put(b, s, 1);
    } else if (cp < 0x800) {
        s[0] = (char)(0xc0 | (cp >> 6));
        s[1] = (char)(0x80 | (cp & 0x3f));
        put(b, s, 2);
    } else if (cp < 0x10000) {
        s[0] = (char)(0xe0 | (cp >> 12));
        s[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
        s[2] = (char)(0x80 | (cp & 0x3f));
        put(b, s, 3);
    } else {
        s[0] = (char)(0xf0 | (cp >> 18));
        s[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
        s[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
        s[3] = (char)(0x80 | (cp & 0x3f));
        put(b, s, 4);
    }
}

/* code points in the (valid) UTF-8 string s: Python's len() */
static size_t utf8_len(const char *s)
{
    size_t n = 0;
    for (; *s; s++)
        n += ((unsigned char)*s & 0xc0) != 0x80;
    return n;
}

/* Python's str.strip() whitespace, of ASCII */
static int is_space(char c)
{
    return c == ' ' || (c >= '\t' && c <= '\r') || (c >= '\x1c' && c <= '\x1f');
}

static int has_non_ascii(const char *s)
{
    for (; *s; s++)
        if ((unsigned char)*s >= 0x80)
            return 1;
    return 0;
}

/* Whether Python (started by front.c, `-I -S`) writes UTF-8 to stdout: in the C or POSIX
 * locale (its UTF-8 mode) or a UTF-8 locale.  Asked only for output that is not ASCII. */
static int stdout_is_utf8(void)
{
    static int known = -1;
    if (known < 0) {
        const char *l = setlocale(LC_CTYPE, "");
        if (!l)
            l = setlocale(LC_CTYPE, NULL);
        if (l && (strcmp(l, "C") == 0 || strcmp(l, "POSIX") == 0))
            known = 1;
        else {
            const char *cs = nl_langinfo(CODESET);
            known = cs && (strcmp(cs, "UTF-8") == 0 || strcmp(cs, "utf-8") == 0);
        }
    }
    return known;
}

/* -- JSON: reading ---------------------------------------------------------------------- */

struct jr {
    const unsigned char *p, *end;
    int depth;
};

static void jws(struct jr *r)
{
    while (r->p < r->end && (*r->p == ' ' || *r->p == '\t' || *r->p == '\n' || *r->p == '\r'))
        r->p++;
}

static int hex4(const unsigned char *s, uint32_t *v)
{
    *v = 0;
    for (int i = 0; i < 4; i++) {
        unsigned c = s[i];
        *v <<= 4;
        if (c >= '0' && c <= '9') *v |= c - '0';
        else if (c >= 'a' && c <= 'f') *v |= c - 'a' + 10;
        else if (c >= 'A' && c <= 'F') *v |= c - 'A' + 10;
        else return -1;
    }
    return 0;
}

/* The string at r->p (its '"'), decoded into *out* (NULL: only checked) as UTF-8; *clean*
 * is cleared when it holds a NUL or a lone surrogate (Python takes those; the verbs here
 * do not).  -1 when Python's json.loads would refuse it. */
static int jstring(struct jr *r, struct buf *out, int *clean)
{
    if (r->p >= r->end || *r->p != '"')
        return -1;
    r->p++;
    for (;;) {
        if (r->p >= r->end)
            return -1;
        unsigned c = *r->p;
        if (c == '"') {
            r->p++;
            if (out)
                put(out, "", 0);   /* the terminating NUL, also for an empty string */
            return out && out->bad ? -1 : 0;
        }
        if (c < 0x20)
            return -1;
        if (c == '\\') {
            if (r->end - r->p < 2)
                return -1;
            unsigned e = r->p[1];
            const char *s = NULL;
            switch (e) {
            case '"': s = "\""; break;
            case '\\': s = "\\"; break;
            case '/': s = "/"; break;
            case 'b': s = "\b"; break;
            case 'f': s = "\f"; break;
            case 'n': s = "\n"; break;
            case 'r': s = "\r"; break;
            case 't': s = "\t"; break;
            case 'u': break;
            default: return -1;
            }
            if (s) {
                if (out)
                    put(out, s, 1);
                r->p += 2;
                continue;
            }
            uint32_t cp, lo;
            if (r->end - r->p < 6 || hex4(r->p + 2, &cp) != 0)
                return -1;
            r->p += 6;
            if (cp >= 0xd800 && cp <= 0xdbff && r->end - r->p >= 6 && r->p[0] == '\\'
                    && r->p[1] == 'u' && hex4(r->p + 2, &lo) == 0 && lo >= 0xdc00
                    && lo <= 0xdfff) {
                cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
                r->p += 6;
            } else if (cp >= 0xd800 && cp <= 0xdfff) {
                *clean = 0;
                continue;
            }
            if (cp == 0)
                *clean = 0;
            if (out)
                put_utf8(out, cp);
            continue;
        }
        uint32_t cp;
        size_t len = utf8_seq(r->p, r->end, &cp);
        if (len == 0)
            return -1;
        if (out)
            put(out, r->p, len);
        r->p += len;
    }
}

/* A number: *is_int* when it has neither fraction nor exponent, then *v* its value
 * (*fits* cleared when it does not fit in a long long). */
static int jnumber(struct jr *r, int *is_int, long long *v, int *fits)
{
    const unsigned char *start = r->p;
    int neg = 0;
    unsigned long long acc = 0;
    *is_int = 1;
    *fits = 1;
    if (r->p < r->end && *r->p == '-') {
        neg = 1;
        r->p++;
    }
    if (r->p >= r->end || *r->p < '0' || *r->p > '9')
        return -1;   /* also -Infinity, which Python takes: it falls back */
    if (*r->p == '0') {
        r->p++;
    } else {
        while (r->p < r->end && *r->p >= '0' && *r->p <= '9') {
            unsigned d = *r->p - '0';
            if (acc > (ULLONG_MAX - d) / 10)
                *fits = 0;
            else
                acc = acc * 10 + d;
            r->p++;
        }
    }
    if (r->p < r->end && *r->p == '.') {
        *is_int = 0;
        r->p++;
        if (r->p >= r->end || *r->p < '0' || *r->p > '9')
            return -1;
        while (r->p < r->end && *r->p >= '0' && *r->p <= '9')
            r->p++;
    }
    if (r->p < r->end && (*r->p == 'e' || *r->p == 'E')) {
        *is_int = 0;
        r->p++;
        if (r->p < r->end && (*r->p == '+' || *r->p == '-'))
            r->p++;
        if (r->p >= r->end || *r->p < '0' || *r->p > '9')
            return -1;
        while (r->p < r->end && *r->p >= '0' && *r->p <= '9')
            r->p++;
    }
    if (r->p - start > NUMBER_LIMIT)
        return -1;
    if (*fits && acc > (unsigned long long)LLONG_MAX + (unsigned long long)neg)
        *fits = 0;
    if (*fits)
        *v = neg ? (long long)(0 - acc) : (long long)acc;
    return 0;
}

static int jliteral(struct jr *r, const char *word)
{
    size_t n = strlen(word);
    if ((size_t)(r->end - r->p) < n || memcmp(r->p, word, n) != 0)
        return -1;
    r->p += n;
    return 0;
}

static int jskip(struct jr *r);

/* The next member or element of an object or array whose closing character is *close*:
 * call with *first* set after the opening one; 1: r->p at the next (after its ','); 0: the
 * container ended; -1: invalid. */
static int jnext(struct jr *r, int *first, char close)
{
    jws(r);
    if (r->p >= r->end)
        return -1;
    if (*r->p == (unsigned char)close) {
        r->p++;
        return 0;
    }
    if (*first) {
        *first = 0;
    } else if (*r->p == ',') {
        r->p++;
        jws(r);
    } else {
        return -1;
    }
    return 1;
}

/* Members of an object, as jnext; 1: a member, its key in *key* (*clean* as jstring's) and
 * r->p at its value. */
static int jmember(struct jr *r, int *first, struct buf *key, int *clean)
{
    int rc = jnext(r, first, '}');
    if (rc != 1)
        return rc;
    key->n = 0;
    *clean = 1;
    if (jstring(r, key, clean) != 0)
        return -1;
    jws(r);
    if (r->p >= r->end || *r->p != ':')
        return -1;
    r->p++;
    jws(r);
    return 1;
}

/* Elements of an array, as jnext (r->p at the element). */
static int jelement(struct jr *r, int *first)
{
    return jnext(r, first, ']');
}

static int jopen(struct jr *r, char c)
{
    if (r->p >= r->end || *r->p != (unsigned char)c || ++r->depth > JSON_DEPTH)
        return -1;
    r->p++;
    return 0;
}

/* Check one value and step over it. */
static int jskip(struct jr *r)
{
    jws(r);
    if (r->p >= r->end)
        return -1;
    int first = 1, rc, clean;
    switch (*r->p) {
    case '{': {
        struct buf key = {0};
        if (jopen(r, '{') != 0)
            return -1;
        while ((rc = jmember(r, &first, &key, &clean)) == 1)
            if (jskip(r) != 0) {
                rc = -1;
                break;
            }
        buf_free(&key);
        r->depth--;
        return rc;
    }
    case '[':
        if (jopen(r, '[') != 0)
            return -1;
        while ((rc = jelement(r, &first)) == 1)
            if (jskip(r) != 0)
                return -1;
        r->depth--;
        return rc;
    case '"':
        clean = 1;
        return jstring(r, NULL, &clean);
    case 't':
        return jliteral(r, "true");
    case 'f':
        return jliteral(r, "false");
    case 'n':
        return jliteral(r, "null");
    default: {
        int is_int, fits;
        long long v;
        return jnumber(r, &is_int, &v, &fits);
    }
    }
}

/* A string value for a field the verbs use: decoded into a new C string. */
static int jstr_field(struct jr *r, char **dst)
{
    struct buf b = {0};
    int clean = 1;
    if (jstring(r, &b, &clean) != 0 || !clean) {
        buf_free(&b);
        return -1;
    }
    free(*dst);
    *dst = b.p;
    return 0;
}

static int jbool_field(struct jr *r, int *dst)
{
    if (jliteral(r, "true") == 0) {
        *dst = 1;
        return 0;
    }
    if (jliteral(r, "false") == 0) {
        *dst = 0;
        return 0;
    }
    return -1;
}

static int jint_field(struct jr *r, long long *dst)
{
    int is_int, fits;
    if (jnumber(r, &is_int, dst, &fits) != 0 || !is_int || !fits)
        return -1;
    return 0;
}

/* -- the container's record -------------------------------------------------------------- */

struct kv {
    char *k, *v;
};

/* ContainerState (pycontain/oci/state.py), what the verbs here need of it */
struct cstate {
    char *id, *oci_version, *bundle, *rootfs, *cgroup_path;
    char created[48];          /* as format_rfc3339(parse_rfc3339(...)) writes it */
    long long pid, start_time;
    int has_start_time, started, cgroup_created;
    struct kv *ann;            /* annotations, in the file's order */
    size_t n_ann;
    char **parents;            /* cgroup_parents */
    size_t n_parents;
    int hooks;                 /* config.hooks is there (anything but null or {}) */
};

static void cstate_free(struct cstate *st)
{
    free(st->id);
    free(st->oci_version);
    free(st->bundle);
    free(st->rootfs);
    free(st->cgroup_path);
    for (size_t i = 0; i < st->n_ann; i++) {
        free(st->ann[i].k);
        free(st->ann[i].v);
    }
    free(st->ann);
    for (size_t i = 0; i < st->n_parents; i++)
        free(st->parents[i]);
    free(st->parents);
    memset(st, 0, sizeof(*st));
}

static int digits(const char *s, int n, int *v)
{
    *v = 0;
    for (int i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        *v = *v * 10 + (s[i] - '0');
    }
    return 0;
}

/* `created`: parse_rfc3339 then format_rfc3339 (pycontain/oci/rfc3339.py): microseconds at
 * most, no trailing zeros, "Z" for a zero offset.  -1 where Python would refuse it, or
 * where its strftime would write the year otherwise (before 1000). */
static int rfc3339(const char *s, char *out, size_t size)
{
    int y, mo, d, h, mi, sec, micro = 0, oh = 0, om = 0, sign = 0;
    size_t n = strlen(s);
    if (n < 20 || s[4] != '-' || s[7] != '-' || (s[10] != 'T' && s[10] != 't')
            || s[13] != ':' || s[16] != ':')
        return -1;
    if (digits(s, 4, &y) || digits(s + 5, 2, &mo) || digits(s + 8, 2, &d)
            || digits(s + 11, 2, &h) || digits(s + 14, 2, &mi) || digits(s + 17, 2, &sec))
        return -1;
    const char *p = s + 19;
    if (*p == '.') {
        int k = 0;
        p++;
        while (p[k] >= '0' && p[k] <= '9')
            k++;
        if (k < 1 || k > 9)
            return -1;
        for (int i = 0; i < 6; i++)
            micro = micro * 10 + (i < k ? p[i] - '0' : 0);
        p += k;
    }
    if ((p[0] == 'Z' || p[0] == 'z') && p[1] == '\0') {
        sign = 0;
    } else if ((p[0] == '+' || p[0] == '-') && strlen(p) == 6 && p[3] == ':'
               && !digits(p + 1, 2, &oh) && !digits(p + 4, 2, &om)) {
        sign = p[0] == '-' ? -1 : 1;
    } else {
        return -1;
    }
    static const int mdays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    if (y < 1000 || mo < 1 || mo > 12 || d < 1 || d > mdays[mo - 1] + (mo == 2 && leap)
            || h > 23 || mi > 59 || sec > 59 || oh * 60 + om >= 24 * 60)
        return -1;
    int k = snprintf(out, size, "%04d-%02d-%02dT%02d:%02d:%02d", y, mo, d, h, mi, sec);
    if (k < 0 || (size_t)k >= size)
        return -1;
    if (micro) {
        char frac[8];
        snprintf(frac, sizeof(frac), "%06d", micro);
        for (int i = 5; i > 0 && frac[i] == '0'; i--)
            frac[i] = '\0';
        k += snprintf(out + k, size - (size_t)k, ".%s", frac);
    }
    if (oh * 60 + om == 0)
        k += snprintf(out + k, size - (size_t)k, "Z");
    else
        k += snprintf(out + k, size - (size_t)k, "%c%02d:%02d", sign < 0 ? '-' : '+', oh, om);
    return (size_t)k < size ? 0 : -1;
}

enum {
    K_ID = 1 << 0, K_OCI = 1 << 1, K_PID = 1 << 2, K_START = 1 << 3, K_BUNDLE = 1 << 4,
    K_ROOTFS = 1 << 5, K_CREATED = 1 << 6, K_STARTED = 1 << 7, K_ANN = 1 << 8,
    K_CGPATH = 1 << 9, K_CGCREATED = 1 << 10, K_PARENTS = 1 << 11, K_KEYRING = 1 << 12,
    K_CONFIG = 1 << 13,
};

static int parse_annotations(struct jr *r, struct cstate *st)
{
    struct buf key = {0};
    int first = 1, clean, rc;
    if (jopen(r, '{') != 0)
        return -1;
    while ((rc = jmember(r, &first, &key, &clean)) == 1) {
        if (!clean)
            break;
        for (size_t i = 0; i < st->n_ann; i++)
            if (strcmp(st->ann[i].k, key.p) == 0)
                goto bad;   /* a repeated key: Python keeps the last value, first place */
        struct kv *more = realloc(st->ann, (st->n_ann + 1) * sizeof(*more));
        if (!more)
            goto bad;
        st->ann = more;
        st->ann[st->n_ann].k = strdup(key.p);
        st->ann[st->n_ann].v = NULL;
        st->n_ann++;
        if (!st->ann[st->n_ann - 1].k || jstr_field(r, &st->ann[st->n_ann - 1].v) != 0)
            goto bad;
    }
    buf_free(&key);
    r->depth--;
    return rc == 0 ? 0 : -1;
bad:
    buf_free(&key);
    return -1;
}

static int parse_parents(struct jr *r, struct cstate *st)
{
    int first = 1, rc;
    if (jopen(r, '[') != 0)
        return -1;
    while ((rc = jelement(r, &first)) == 1) {
        char **more = realloc(st->parents, (st->n_parents + 1) * sizeof(*more));
        if (!more)
            return -1;
        st->parents = more;
        st->parents[st->n_parents] = NULL;
        st->n_parents++;
        if (jstr_field(r, &st->parents[st->n_parents - 1]) != 0)
            return -1;
    }
    r->depth--;
    return rc;
}

/* config: only whether it has hooks (Runtime._hooks: `if not cfg.get("hooks")`) */
static int parse_config(struct jr *r, struct cstate *st)
{
    struct buf key = {0};
    int first = 1, clean, rc, seen = 0;
    if (jopen(r, '{') != 0)
        return -1;
    while ((rc = jmember(r, &first, &key, &clean)) == 1) {
        if (clean && strcmp(key.p, "hooks") == 0) {
            if (seen++)
                break;
            struct jr probe = *r;
            if (jliteral(&probe, "null") == 0) {
                st->hooks = 0;
            } else if (r->p < r->end && *r->p == '{') {
                probe.p++;
                jws(&probe);
                st->hooks = probe.p >= probe.end || *probe.p != '}';
            } else {
                st->hooks = 1;   /* false, 0, "" or [] are falsy too: Python decides */
            }
        }
        if (jskip(r) != 0)
            break;
    }
    buf_free(&key);
    r->depth--;
    return rc == 0 ? 0 : -1;
}

/* ContainerState.from_json over the text of a state.json; -1 for anything Python would
 * refuse or that the verbs here do not handle. */
static int parse_state(const char *text, size_t n, struct cstate *st)
{
    struct jr r = {(const unsigned char *)text, (const unsigned char *)text + n, 0};
    struct buf key = {0};
    unsigned seen = 0;
    char *created = NULL;
    int first = 1, clean, rc;
    memset(st, 0, sizeof(*st));
    jws(&r);
    if (jopen(&r, '{') != 0)
        return -1;
    while ((rc = jmember(&r, &first, &key, &clean)) == 1) {
        static const struct { const char *name; unsigned bit; } keys[] = {
            {"id", K_ID}, {"oci_version", K_OCI}, {"pid", K_PID}, {"start_time", K_START},
            {"bundle", K_BUNDLE}, {"rootfs", K_ROOTFS}, {"created", K_CREATED},
            {"started", K_STARTED}, {"annotations", K_ANN}, {"cgroup_path", K_CGPATH},
            {"cgroup_created", K_CGCREATED}, {"cgroup_parents", K_PARENTS},
            {"keyring", K_KEYRING}, {"config", K_CONFIG},
        };
        unsigned bit = 0;
        for (size_t i = 0; clean && i < sizeof(keys) / sizeof(keys[0]); i++)
            if (strcmp(key.p, keys[i].name) == 0)
                bit = keys[i].bit;
        if (bit & seen)
            goto bad;   /* a repeated field: Python's last one wins; let it */
        seen |= bit;
        int ok;
        int keyring;
        switch (bit) {
        case K_ID: ok = jstr_field(&r, &st->id); break;
        case K_OCI: ok = jstr_field(&r, &st->oci_version); break;
        case K_PID: ok = jint_field(&r, &st->pid); break;
        case K_START:
            st->has_start_time = jliteral(&r, "null") != 0;
            ok = st->has_start_time ? jint_field(&r, &st->start_time) : 0;
            break;
        case K_BUNDLE: ok = jstr_field(&r, &st->bundle); break;
        case K_ROOTFS: ok = jstr_field(&r, &st->rootfs); break;
        case K_CREATED: ok = jstr_field(&r, &created); break;
        case K_STARTED: ok = jbool_field(&r, &st->started); break;
        case K_ANN: ok = parse_annotations(&r, st); break;
        case K_CGPATH: ok = jstr_field(&r, &st->cgroup_path); break;
        case K_CGCREATED: ok = jbool_field(&r, &st->cgroup_created); break;
        case K_PARENTS: ok = parse_parents(&r, st); break;
        case K_KEYRING: ok = jbool_field(&r, &keyring); break;
        case K_CONFIG: ok = parse_config(&r, st); break;
        default: ok = jskip(&r); break;
        }
        if (ok != 0)
            goto bad;
    }
    if (rc != 0)
        goto bad;
    jws(&r);
    if (r.p != r.end)
        goto bad;
    /* required: id, oci_version, pid, bundle, rootfs, created (start_time may be left out:
     * None, which the verbs here do not handle) */
    if ((seen & (K_ID | K_OCI | K_PID | K_BUNDLE | K_ROOTFS | K_CREATED))
            != (K_ID | K_OCI | K_PID | K_BUNDLE | K_ROOTFS | K_CREATED) || !(seen & K_START))
        goto bad;
    if (rfc3339(created, st->created, sizeof(st->created)) != 0)
        goto bad;
    if (!st->cgroup_path && !(st->cgroup_path = strdup("")))
        goto bad;
    free(created);
    buf_free(&key);
    return 0;
bad:
    free(created);
    buf_free(&key);
    cstate_free(st);
    return -1;
}

/* -- JSON: writing ------------------------------------------------------------------------ */

/* *s* (valid UTF-8) as json.dumps writes a string: ensure_ascii (*ascii*) or not; *go*:
 * then <, >, &, U+2028 and U+2029 as Go's encoder escapes them (runc_json_text). */
static void json_str(struct buf *b, const char *s, int ascii, int go)
{
    const unsigned char *p = (const unsigned char *)s, *end = p + strlen(s);
    putc_(b, '"');
    while (p < end) {
        unsigned c = *p;
        const char *esc = NULL;
        switch (c) {
        case '"': esc = "\\\""; break;
        case '\\': esc = "\\\\"; break;
        case '\b': esc = "\\b"; break;
        case '\f': esc = "\\f"; break;
        case '\n': esc = "\\n"; break;
        case '\r': esc = "\\r"; break;
        case '\t': esc = "\\t"; break;
        case '<': esc = go ? "\\u003c" : NULL; break;
        case '>': esc = go ? "\\u003e" : NULL; break;
        case '&': esc = go ? "\\u0026" : NULL; break;
        default: break;
        }
        if (esc) {
            puts_(b, esc);
            p++;
            continue;
        }
        uint32_t cp;
        size_t len = utf8_seq(p, end, &cp);
        if (len == 0) {
            b->bad = 1;   /* cannot happen: the reader let only valid UTF-8 in */
            return;
        }
        if (cp < 0x20 || (ascii && cp > 0x7e) || (go && (cp == 0x2028 || cp == 0x2029))) {
            if (cp >= 0x10000) {
                uint32_t v = cp - 0x10000;
                putf(b, "\\u%04x\\u%04x", 0xd800 + (v >> 10), 0xdc00 + (v & 0x3ff));
            } else {
                putf(b, "\\u%04x", cp);
            }
        } else {
            put(b, p, len);
        }
        p += len;
    }
    putc_(b, '"');
}

/* -- process and cgroup facts ------------------------------------------------------------- */

/* _start_time(pid): 0 and *t* set; 1: none (gone or a zombie: what Python's None means);
 * -1: something Python might see otherwise. */
static int start_time(long long pid, long long *t)
{
    char path[64];
    struct buf b = {0};
    snprintf(path, sizeof(path), "/proc/%lld/stat", pid);
    int rc = read_file(AT_FDCWD, path, SMALL_LIMIT, &b);
    if (rc == -ENOENT || rc == -ESRCH) {
        buf_free(&b);
        return 1;
    }
    if (rc != 0) {
        buf_free(&b);
        return -1;
    }
    char *paren = strrchr(b.p, ')');
    if (!paren || strlen(b.p) != b.n) {
        buf_free(&b);
        return -1;
    }
    /* the fields after the name: [0] the state ... [19] the start time (field 22) */
    char *save = NULL, *tok = strtok_r(paren + 1, " \t\n\r\v\f", &save);
    int result = -1;
    for (int i = 0; tok && i <= 19; i++) {
        if (i == 0 && (strcmp(tok, "Z") == 0 || strcmp(tok, "X") == 0)) {
            result = 1;
            break;
        }
        if (i == 19) {
            char *endp;
            errno = 0;
            unsigned long long v = strtoull(tok, &endp, 10);
            if (tok[0] >= '0' && tok[0] <= '9' && *endp == '\0' && errno == 0
                    && v <= LLONG_MAX) {
                *t = (long long)v;
                result = 0;
            }
            break;
        }
        tok = strtok_r(NULL, " \t\n\r\v\f", &save);
    }
    buf_free(&b);
    return result;
}

/* _alive(st): 1 alive, 0 not, -1 fall back */
static int alive(const struct cstate *st)
{
    if (!st->has_start_time)
        return -1;
    if (st->pid <= 0)
        return 0;
    long long t;
    int rc = start_time(st->pid, &t);
    if (rc < 0)
        return -1;
    return rc == 0 && t == st->start_time;
}

/* The cgroup hierarchies under /sys/fs/cgroup (pycontain.cgroups._layout.detect), as far
 * as the verbs here need them: mount points, and which one carries the v1 freezer. */
struct layout {
    int state;              /* 0 not read yet, 1 read, -1 not one these verbs handle */
    int n;                  /* v1 hierarchies, in mount order, then the cgroup2 one */
    int unified;            /* index of the cgroup2 hierarchy, or -1 */
    struct {
        char mount[256];
        int freezer;
    } h[MAX_HIERARCHIES];
};

static int is_v1_controller(const char *s, size_t n)
{
    static const char *names[] = {"blkio", "cpu", "cpuacct", "cpuset", "devices", "freezer",
                                  "hugetlb", "memory", "net_cls", "net_prio", "perf_event",
                                  "pids", "rdma", "misc", "debug"};
    if (n > 5 && strncmp(s, "name=", 5) == 0)
        return 1;
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        if (strlen(names[i]) == n && strncmp(s, names[i], n) == 0)
            return 1;
    return 0;
}

static int layout_read(struct layout *L)
{
    struct buf b = {0};
    char v1[MAX_HIERARCHIES][256];
    int freezer[MAX_HIERARCHIES];
    int nv1 = 0;
    char unified[256] = "";
    size_t rootlen = strlen(CGROUP_ROOT);
    L->state = -1;
    if (read_file(AT_FDCWD, "/proc/self/mountinfo", PROC_LIMIT, &b) != 0) {
        buf_free(&b);
        return -1;
    }
    char *save = NULL;
    for (char *line = strtok_r(b.p, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        char *sep = strstr(line, " - ");
        if (!sep)
            continue;
        *sep = '\0';
        char *right = sep + 3, *f[6], *s2 = NULL, *s3 = NULL;
        int nr = 0, nl = 0;
        for (char *t = strtok_r(right, " ", &s2); t && nr < 3; t = strtok_r(NULL, " ", &s2))
            f[nr++] = t;
        if (nr < 3 || (strcmp(f[0], "cgroup") != 0 && strcmp(f[0], "cgroup2") != 0))
            continue;
        int v2 = strcmp(f[0], "cgroup2") == 0;
        char *opts = f[2], *l[5];
        for (char *t = strtok_r(line, " ", &s3); t && nl < 5; t = strtok_r(NULL, " ", &s3))
            l[nl++] = t;
        if (nl < 5)
            continue;
        const char *point = l[4];
        size_t plen = strlen(point);
        if (strchr(point, '\\') || plen >= sizeof(v1[0]))
            goto out;   /* an escaped name: Python unescapes it */
        int at_root = strcmp(point, CGROUP_ROOT) == 0;
        int child = plen > rootlen + 1 && strncmp(point, CGROUP_ROOT, rootlen) == 0
                    && point[rootlen] == '/' && !strchr(point + rootlen + 1, '/');
        if (v2) {
            if (at_root || child)
                strcpy(unified, point);
            continue;
        }
        if (!child)
            continue;
        int any = 0, frz = 0;
        for (char *o = opts; *o;) {
            size_t len = strcspn(o, ",");
            if (is_v1_controller(o, len)) {
                any = 1;
                frz |= len == 7 && strncmp(o, "freezer", 7) == 0;
            }
            o += len + (o[len] == ',');
        }
        if (!any)
            continue;
        for (int i = 0; i < nv1; i++)
            if (strcmp(v1[i], point) == 0)
                goto out;   /* mounted twice: Python keeps the first place, last mount */
        if (nv1 == MAX_HIERARCHIES - 1)
            goto out;
        strcpy(v1[nv1], point);
        freezer[nv1++] = frz;
    }
    L->n = 0;
    L->unified = -1;
    if (unified[0] && strcmp(unified, CGROUP_ROOT) == 0) {
        nv1 = 0;   /* v2: the v1 mounts are not used */
    } else if (nv1 == 0) {
        goto out;  /* Python probes the directory instead */
    }
    for (int i = 0; i < nv1; i++) {
        strcpy(L->h[L->n].mount, v1[i]);
        L->h[L->n++].freezer = freezer[i];
    }
    if (unified[0]) {
        strcpy(L->h[L->n].mount, unified);
        L->h[L->n].freezer = 0;
        L->unified = L->n++;
    }
    L->state = 1;
out:
    buf_free(&b);
    return L->state == 1 ? 0 : -1;
}

static struct layout *layout(void)
{
    static struct layout L;
    if (L.state == 0)
        layout_read(&L);
    return L.state == 1 ? &L : NULL;
}

/* A cgroup path these verbs can place: absolute and already clean (clean_path leaves it as
 * it is), not the root.  A relative one is resolved from this process's own cgroup. */
static int clean_cgroup_path(const char *p)
{
    if (p[0] != '/' || p[1] == '\0' || strlen(p) >= CG_PATH_MAX)
        return 0;
    for (const char *c = p; *c;) {
        const char *next = strchr(c + 1, '/');
        size_t len = next ? (size_t)(next - c - 1) : strlen(c + 1);
        if (len == 0 || (len == 1 && c[1] == '.') || (len == 2 && c[1] == '.' && c[2] == '.'))
            return 0;
        if (!next)
            break;
        c = next;
    }
    return 1;
}

/* The directories of the container's cgroup (Cgroup.open(path, ALL_CONTROLLERS)): v1 ones
 * in mount order, then the cgroup2 one; *n* of them, *freezer* / *unified* their indexes
 * (or -1).  0, or -1 to fall back. */
struct cgdirs {
    int n, freezer, unified;
    char dir[MAX_HIERARCHIES][CG_DIR_MAX];
};

static int cgroup_dirs(const char *path, struct cgdirs *out)
{
    struct layout *L = layout();
    out->n = 0;
    out->freezer = out->unified = -1;
    if (!L || !clean_cgroup_path(path))
        return -1;
    for (int i = 0; i < L->n; i++) {
        char d[CG_DIR_MAX];
        struct stat sb;
        if (snprintf(d, sizeof(d), "%s%s", L->h[i].mount, path) >= (int)sizeof(d))
            return -1;
        if (stat(d, &sb) != 0) {
            if (errno == ENOENT || errno == ENOTDIR)
                continue;
            return -1;
        }
        strcpy(out->dir[out->n], d);
        if (i == L->unified)
            out->unified = out->n;
        else if (L->h[i].freezer)
            out->freezer = out->n;
        out->n++;
    }
    return 0;
}

/* The value of the line "KEY N" in a flat-keyed cgroupfs file (the last one, as read_keyed
 * keeps it): 0 and *v*; 1 no such line or no file; -1 otherwise. */
static int keyed_value(const char *file, const char *key, long long *v)
{
    struct buf b = {0};
    int rc = read_file(AT_FDCWD, file, SMALL_LIMIT, &b), found = 1;
    if (rc != 0) {
        buf_free(&b);
        return rc == -ENOENT ? 1 : -1;
    }
    size_t klen = strlen(key);
    char *save = NULL;
    for (char *line = strtok_r(b.p, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        if (strncmp(line, key, klen) != 0 || line[klen] != ' ')
            continue;
        const char *s = line + klen + 1;
        char *endp;
        errno = 0;
        long long x = strtoll(s, &endp, 10);
        if (s[0] < '0' || s[0] > '9' || *endp != '\0' || errno != 0) {
            found = -1;
            break;
        }
        *v = x;
        found = 0;
    }
    buf_free(&b);
    return found;
}

/* Cgroup.frozen as status() reads it (any error reading: not frozen) */
static int frozen(const struct cgdirs *cg)
{
    char f[CG_DIR_MAX + 32];
    if (cg->freezer < 0 && cg->unified >= 0) {
        long long v;
        snprintf(f, sizeof(f), "%s/cgroup.events", cg->dir[cg->unified]);
        int rc = keyed_value(f, "frozen", &v);
        return rc < 0 ? -1 : rc == 0 && v == 1;
    }
    if (cg->freezer < 0)
        return 0;
    struct buf b = {0};
    snprintf(f, sizeof(f), "%s/freezer.state", cg->dir[cg->freezer]);
    if (read_file(AT_FDCWD, f, SMALL_LIMIT, &b) != 0) {
        buf_free(&b);
        return 0;
    }
    size_t i = 0, n = b.n;
    while (n > i && is_space(b.p[n - 1]))
        n--;
    while (i < n && is_space(b.p[i]))
        i++;
    int is = n - i == 6 && memcmp(b.p + i, "FROZEN", 6) == 0;
    buf_free(&b);
    return is;
}

/* status(st) with the entry's directory *dir*: "stopped", "created", "running", "paused";
 * NULL to fall back.  `start` removes exec.fifo (as runc does): an entry without it has
 * been started, whatever its record says (the C start does not rewrite state.json). */
static const char *status(const char *dir, const struct cstate *st)
{
    int a = alive(st);
    if (a < 0)
        return NULL;
    if (!a)
        return "stopped";
    if (!st->started) {
        char fifo[PATH_MAX];
        struct stat sb;
        if (path_join(fifo, sizeof(fifo), dir, "exec.fifo") != 0)
            return NULL;
        if (lstat(fifo, &sb) == 0)
            return "created";
        if (errno != ENOENT)
            return NULL;
    }
    if (!st->cgroup_path[0])
        return "running";
    struct cgdirs *cg = malloc(sizeof(*cg));
    if (!cg || cgroup_dirs(st->cgroup_path, cg) != 0) {
        free(cg);
        return NULL;
    }
    int f = cg->n ? frozen(cg) : 0;
    free(cg);
    return f < 0 ? NULL : f ? "paused" : "running";
}

/* -- the store ------------------------------------------------------------------------------ */

/* Store.check_id: ASCII letters, digits, '_', '+', '-', '.'; not "." or ".." */
static int valid_id(const char *id)
{
    if (!id[0] || strcmp(id, ".") == 0 || strcmp(id, "..") == 0 || strlen(id) > 255)
        return 0;
    for (const char *c = id; *c; c++) {
        char x = *c;
        if (!((x >= 'a' && x <= 'z') || (x >= 'A' && x <= 'Z') || (x >= '0' && x <= '9')
              || x == '_' || x == '+' || x == '-' || x == '.'))
            return 0;
    }
    return 1;
}

/* The root as these verbs use it: not empty (Python takes the default then), and without
 * ".." (Python's abspath drops it by name, the kernel by following links). */
static int usable_root(const char *root)
{
    if (!root[0] || strlen(root) > PATH_MAX - 300)
        return 0;
    for (const char *c = root; *c;) {
        size_t len = strcspn(c, "/");
        if (len == 2 && c[0] == '.' && c[1] == '.')
            return 0;
        c += len;
        while (*c == '/')
            c++;
    }
    return 1;
}

/* Store.locked(id, shared): the entry's directory flocked; the fd, or -1 to fall back (no
 * such entry, or it was replaced while we waited). */
static int lock_entry(const char *dir, int op)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    struct stat a, b;
    while (flock(fd, op) != 0) {
        if (errno != EINTR) {
            close(fd);
            return -1;
        }
    }
    if (stat(dir, &a) != 0 || fstat(fd, &b) != 0 || a.st_ino != b.st_ino || a.st_dev != b.st_dev) {
        close(fd);
        return -1;
    }
    return fd;
}

/* The entry *cid* under *root*: its directory in *dir*, its record in *st*.  0 loaded;
 * 1 no record (Store.load's NotFound); -1 fall back (damaged, being created, ...). */
static int load_entry(const char *root, const char *cid, char *dir, struct cstate *st)
{
    char path[PATH_MAX];
    struct stat sb;
    if (!valid_id(cid) || !usable_root(root))
        return -1;
    if (path_join(dir, PATH_MAX, root, cid) != 0 || path_join(path, sizeof(path), dir, "state.json") != 0)
        return -1;
    struct buf b = {0};
    int rc = read_file(AT_FDCWD, path, STATE_LIMIT, &b);
    if (rc == -ENOENT || rc == -ENOTDIR) {
        buf_free(&b);
        return 1;
    }
    if (rc != 0 || strlen(b.p) != b.n) {
        buf_free(&b);
        return -1;
    }
    rc = parse_state(b.p, b.n, st);
    buf_free(&b);
    if (rc != 0)
        return -1;
    /* one whose creator is not done yet (pycontain.store's ".creating" mark) */
    if (path_join(path, sizeof(path), dir, ".creating") != 0 || lstat(path, &sb) == 0
            || errno != ENOENT || strcmp(st->id, cid) != 0) {
        cstate_free(st);
        return -1;
    }
    return 0;
}

static int kept_path(const char *root, const char *cid, char *out, size_t size)
{
    int n = snprintf(out, size, "%s/%s/%s.json", root, KEPT, cid);
    return n < 0 || (size_t)n >= size ? -1 : 0;
}

/* a verb's only argument: the id (anything else, such as a flag, goes to Python) */
static const char *only_id(int argc, char **argv)
{
    if (argc != 1 || argv[0][0] == '-')
        return NULL;
    return argv[0];
}

/* Print *out* (the verb's whole stdout); 0, or FB when Python would not print it alike. */
static int emit(struct buf *out)
{
    if (out->bad)
        return FB;
    if (!out->p)
        return 0;   /* nothing to print (list -q of no containers) */
    if (has_non_ascii(out->p) && !stdout_is_utf8())
        return FB;
    if (fwrite(out->p, 1, out->n, stdout) != out->n)
        return 1;
    return 0;
}

/* -- state ------------------------------------------------------------------------------- */

/* runc_document + runc_json_text: two-space indents, runc's key order */
static void state_text(struct buf *b, const struct cstate *st, const char *status)
{
    puts_(b, "{\n  \"ociVersion\": ");
    json_str(b, st->oci_version, 0, 1);
    puts_(b, ",\n  \"id\": ");
    json_str(b, st->id, 0, 1);
    putf(b, ",\n  \"pid\": %lld,\n  \"status\": \"%s\",\n  \"bundle\": ",
         strcmp(status, "stopped") == 0 ? 0LL : st->pid, status);
    json_str(b, st->bundle, 0, 1);
    puts_(b, ",\n  \"rootfs\": ");
    json_str(b, st->rootfs, 0, 1);
    puts_(b, ",\n  \"created\": ");
    json_str(b, st->created, 0, 1);
    if (st->n_ann) {
        puts_(b, ",\n  \"annotations\": {");
        for (size_t i = 0; i < st->n_ann; i++) {
            puts_(b, i ? ",\n    " : "\n    ");
            json_str(b, st->ann[i].k, 0, 1);
            puts_(b, ": ");
            json_str(b, st->ann[i].v, 0, 1);
        }
        puts_(b, "\n  }");
    }
    puts_(b, ",\n  \"owner\": \"\"\n}\n");
}

int front_state(const struct front_opts *o, int argc, char **argv)
{
    const char *cid = only_id(argc, argv);
    char dir[PATH_MAX];
    struct cstate st;
    if (!cid || load_entry(o->root, cid, dir, &st) != 0)
        return FB;
    const char *s = status(dir, &st);
    struct buf out = {0};
    int rc = FB;
    if (s) {
        state_text(&out, &st, s);
        rc = emit(&out);
    }
    buf_free(&out);
    cstate_free(&st);
    return rc;
}

/* -- kill -------------------------------------------------------------------------------- */

/* parse_signal (pycontain/cli/runc/kill.py) for the plain forms: a number 1..64, a name
 * with or without SIG in any case; 0 for anything else (RTMIN+N, RTMAX-N: Python). */
static int parse_signal(const char *text)
{
    static const struct { const char *name; int sig; } sigs[] = {
        {"ABRT", SIGABRT}, {"ALRM", SIGALRM}, {"BUS", SIGBUS}, {"CHLD", SIGCHLD},
        {"CLD", SIGCHLD}, {"CONT", SIGCONT}, {"FPE", SIGFPE}, {"HUP", SIGHUP},
        {"ILL", SIGILL}, {"INT", SIGINT}, {"IO", SIGIO}, {"IOT", SIGIOT}, {"KILL", SIGKILL},
        {"PIPE", SIGPIPE}, {"POLL", SIGPOLL}, {"PROF", SIGPROF}, {"PWR", SIGPWR},
        {"QUIT", SIGQUIT}, {"SEGV", SIGSEGV}, {"STKFLT", SIGSTKFLT}, {"STOP", SIGSTOP},
        {"SYS", SIGSYS}, {"TERM", SIGTERM}, {"TRAP", SIGTRAP}, {"TSTP", SIGTSTP},
        {"TTIN", SIGTTIN}, {"TTOU", SIGTTOU}, {"URG", SIGURG}, {"USR1", SIGUSR1},
        {"USR2", SIGUSR2}, {"VTALRM", SIGVTALRM}, {"WINCH", SIGWINCH}, {"XCPU", SIGXCPU},
        {"XFSZ", SIGXFSZ},
    };
    char up[16];
    size_t n = strlen(text);
    if (n == 0 || n >= sizeof(up))
        return 0;
    int digits_only = 1;
    for (size_t i = 0; i <= n; i++) {
        char c = text[i];
        if (c >= 'a' && c <= 'z')
            c = (char)(c - 'a' + 'A');
        else if (c && !((c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')))
            return 0;   /* spaces, signs, anything else: Python's strip/upper/int decide */
        if (c && (c < '0' || c > '9'))
            digits_only = 0;
        up[i] = c;
    }
    if (digits_only) {
        long v = strtol(up, NULL, 10);
        return v > 0 && v < 65 ? (int)v : 0;
    }
    const char *name = strncmp(up, "SIG", 3) == 0 ? up + 3 : up;
    for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
        if (strcmp(name, sigs[i].name) == 0)
            return sigs[i].sig;
    if (strcmp(name, "RTMIN") == 0)
        return SIGRTMIN;
    if (strcmp(name, "RTMAX") == 0)
        return SIGRTMAX;
    return 0;
}

int front_kill(const struct front_opts *o, int argc, char **argv)
{
    if (argc < 1 || argc > 2 || argv[0][0] == '-' || (argc == 2 && argv[1][0] == '-'))
        return FB;   /* --all/-a, and anything odd */
    int sig = argc == 2 ? parse_signal(argv[1]) : SIGTERM;
    const char *cid = argv[0];
    char dir[PATH_MAX];
    struct cstate st;
    if (sig <= 0 || !valid_id(cid) || !usable_root(o->root)
            || path_join(dir, sizeof(dir), o->root, cid) != 0)
        return FB;
    int lock = lock_entry(dir, LOCK_SH);
    if (lock < 0)
        return FB;
    int rc = FB;
    if (load_entry(o->root, cid, dir, &st) != 0) {
        close(lock);
        return FB;
    }
    if (alive(&st) == 1) {
        int pidfd = (int)syscall(SYS_pidfd_open, (pid_t)st.pid, 0);
        if (pidfd >= 0) {
            long long t;
            /* the pidfd pins the process: checked once more, then signalled */
            if (start_time(st.pid, &t) == 0 && t == st.start_time
                    && syscall(SYS_pidfd_send_signal, pidfd, sig, NULL, 0) == 0)
                rc = 0;
            close(pidfd);
        }
    }
    cstate_free(&st);
    close(lock);
    return rc;
}

/* -- start ------------------------------------------------------------------------------- */

int front_start(const struct front_opts *o, int argc, char **argv)
{
    const char *cid = only_id(argc, argv);
    char dir[PATH_MAX], fifo[PATH_MAX];
    struct cstate st;
    if (!cid || !valid_id(cid) || !usable_root(o->root)
            || path_join(dir, sizeof(dir), o->root, cid) != 0
            || path_join(fifo, sizeof(fifo), dir, "exec.fifo") != 0)
        return FB;
    int lock = lock_entry(dir, LOCK_EX);
    if (lock < 0)
        return FB;
    if (load_entry(o->root, cid, dir, &st) != 0) {
        close(lock);
        return FB;
    }
    int rc = FB;
    const char *s = status(dir, &st);
    if (s && strcmp(s, "created") == 0 && !st.hooks) {
        int fd = open(fifo, O_WRONLY | O_NONBLOCK | O_CLOEXEC | O_NOFOLLOW);
        if (fd >= 0) {
            /* a reader gone meanwhile: EPIPE, not a signal (Python ignores SIGPIPE too) */
            signal(SIGPIPE, SIG_IGN);
            ssize_t n;
            do
                n = write(fd, "", 1);
            while (n < 0 && errno == EINTR);
            close(fd);
            /* written: the init runs its program.  "Started" is exec.fifo gone (status()
             * above, Runtime.load in Python), as runc removes it in its start.  That this
             * unlink fails is all but impossible (root, in a directory we hold locked); if
             * it does, Python's start decides, finding the fifo with the init gone past
             * it (or still reading: then it writes again and records the start itself). */
            if (n == 1 && unlink(fifo) == 0)
                rc = 0;
        }
    }
    cstate_free(&st);
    close(lock);
    return rc;
}

/* -- list -------------------------------------------------------------------------------- */

struct row {
    struct cstate st;
    const char *status;
    char pid[24];
    char owner[64];
    const char *cell[6];   /* the table's columns */
};

static int cmp_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* _owner(dir): the user owning the entry's directory ("#UID" without a name) */
static int owner_of(const char *dir, char *out, size_t size)
{
    struct stat sb;
    if (stat(dir, &sb) != 0)
        return -1;   /* Python: "" (the entry went meanwhile); rare enough to let it say */
    struct passwd *pw = getpwuid(sb.st_uid);
    int n = pw ? snprintf(out, size, "%s", pw->pw_name)
               : snprintf(out, size, "#%u", (unsigned)sb.st_uid);
    if (n < 0 || (size_t)n >= size || has_non_ascii(out))
        return -1;
    return 0;
}

/* str.rstrip's whitespace at the end of *line* (one whose last character is not ASCII
 * and is whitespace to Python: fall back) */
static int rstrip_line(struct buf *line)
{
    while (line->n > 0 && is_space(line->p[line->n - 1]))
        line->n--;
    line->p[line->n] = '\0';
    if (line->n == 0 || (unsigned char)line->p[line->n - 1] < 0x80)
        return 0;
    size_t i = line->n - 1;
    while (i > 0 && ((unsigned char)line->p[i] & 0xc0) == 0x80)
        i--;
    uint32_t cp;
    if (utf8_seq((const unsigned char *)line->p + i, (const unsigned char *)line->p + line->n, &cp) == 0)
        return -1;
    if (cp == 0x85 || cp == 0xa0 || cp == 0x1680 || (cp >= 0x2000 && cp <= 0x200a)
            || cp == 0x2028 || cp == 0x2029 || cp == 0x202f || cp == 0x205f || cp == 0x3000)
        return -1;
    return 0;
}

int front_list(const struct front_opts *o, int argc, char **argv)
{
    int quiet = 0, json = 0;
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i], *val = NULL;
        if (strcmp(a, "-q") == 0 || strcmp(a, "--quiet") == 0 || strcmp(a, "-quiet") == 0) {
            quiet = 1;
            continue;
        }
        if (strcmp(a, "-f") == 0 || strcmp(a, "--format") == 0 || strcmp(a, "-format") == 0) {
            if (i + 1 >= argc)
                return FB;
            val = argv[++i];
        } else if (strncmp(a, "--format=", 9) == 0) {
            val = a + 9;
        } else if (strncmp(a, "-format=", 8) == 0) {
            val = a + 8;
        } else {
            return FB;
        }
        if (strcmp(val, "json") == 0)
            json = 1;
        else if (strcmp(val, "table") == 0)
            json = 0;
        else
            return FB;
    }
    if (!usable_root(o->root))
        return FB;

    /* Store.ids(): valid ids that are directories, sorted */
    char **names = NULL;
    size_t n = 0;
    struct row *rows = NULL;
    size_t nrows = 0;
    int rc = FB;
    struct buf out = {0};
    DIR *d = opendir(o->root);
    if (!d && errno != ENOENT)
        return FB;
    for (struct dirent *e; d && (errno = 0, e = readdir(d));) {
        char path[PATH_MAX];
        struct stat sb;
        if (!valid_id(e->d_name) || path_join(path, sizeof(path), o->root, e->d_name) != 0
                || stat(path, &sb) != 0 || !S_ISDIR(sb.st_mode))
            continue;
        char **more = realloc(names, (n + 1) * sizeof(*more));
        if (!more || !(more[n] = strdup(e->d_name))) {
            names = more ? more : names;
            goto done;
        }
        names = more;
        n++;
    }
    if (d && errno != 0)
        goto done;
    qsort(names, n, sizeof(*names), cmp_names);
    rows = calloc(n ? n : 1, sizeof(*rows));
    if (!rows)
        goto done;
    for (size_t i = 0; i < n; i++) {
        char dir[PATH_MAX], kept[PATH_MAX];
        struct stat sb;
        struct row *r = &rows[nrows];
        int got = load_entry(o->root, names[i], dir, &r->st);
        if (got == 1) {
            /* no record: being created (skipped), unless its cleanup record says it is
             * damaged (Python warns) */
            if (kept_path(o->root, names[i], kept, sizeof(kept)) != 0 || lstat(kept, &sb) == 0
                    || errno != ENOENT)
                goto done;
            continue;
        }
        if (got != 0)
            goto done;
        nrows++;   /* loaded: freed at the end */
        if (!(r->status = status(dir, &r->st)) || owner_of(dir, r->owner, sizeof(r->owner)) != 0)
            goto done;
        snprintf(r->pid, sizeof(r->pid), "%lld",
                 strcmp(r->status, "stopped") == 0 ? 0LL : r->st.pid);
        r->cell[0] = r->st.id;
        r->cell[1] = r->pid;
        r->cell[2] = r->status;
        r->cell[3] = r->st.bundle;
        r->cell[4] = r->st.created;
        r->cell[5] = r->owner;
    }

    if (quiet) {
        for (size_t i = 0; i < nrows; i++) {
            puts_(&out, rows[i].st.id);
            putc_(&out, '\n');
        }
    } else if (json) {
        /* json.dumps(docs, separators=(",", ":")): ensure_ascii, no Go escapes */
        putc_(&out, '[');
        for (size_t i = 0; i < nrows; i++) {
            const struct cstate *st = &rows[i].st;
            puts_(&out, i ? ",{\"ociVersion\":" : "{\"ociVersion\":");
            json_str(&out, st->oci_version, 1, 0);
            puts_(&out, ",\"id\":");
            json_str(&out, st->id, 1, 0);
            putf(&out, ",\"pid\":%s,\"status\":\"%s\",\"bundle\":", rows[i].pid, rows[i].status);
            json_str(&out, st->bundle, 1, 0);
            puts_(&out, ",\"rootfs\":");
            json_str(&out, st->rootfs, 1, 0);
            puts_(&out, ",\"created\":");
            json_str(&out, st->created, 1, 0);
            if (st->n_ann) {
                puts_(&out, ",\"annotations\":{");
                for (size_t k = 0; k < st->n_ann; k++) {
                    if (k)
                        putc_(&out, ',');
                    json_str(&out, st->ann[k].k, 1, 0);
                    putc_(&out, ':');
                    json_str(&out, st->ann[k].v, 1, 0);
                }
                putc_(&out, '}');
            }
            puts_(&out, ",\"owner\":");
            json_str(&out, rows[i].owner, 1, 0);
            putc_(&out, '}');
        }
        puts_(&out, "]\n");
    } else {
        /* the table: columns as wide as their widest cell (in characters), three spaces
         * apart, each line right-stripped */
        static const char *head[6] = {"ID", "PID", "STATUS", "BUNDLE", "CREATED", "OWNER"};
        size_t w[6];
        for (int c = 0; c < 6; c++) {
            w[c] = strlen(head[c]);
            for (size_t i = 0; i < nrows; i++)
                if (utf8_len(rows[i].cell[c]) > w[c])
                    w[c] = utf8_len(rows[i].cell[c]);
        }
        for (size_t i = 0; i <= nrows; i++) {
            struct buf line = {0};
            for (int c = 0; c < 6; c++) {
                const char *cell = i == 0 ? head[c] : rows[i - 1].cell[c];
                if (c)
                    puts_(&line, "   ");
                puts_(&line, cell);
                for (size_t k = utf8_len(cell); k < w[c]; k++)
                    putc_(&line, ' ');
            }
            if (line.bad || rstrip_line(&line) != 0) {
                buf_free(&line);
                goto done;
            }
            put(&out, line.p, line.n);
            putc_(&out, '\n');
            buf_free(&line);
        }
    }
    rc = emit(&out);
done:
    if (d)
        closedir(d);
    for (size_t i = 0; i < n; i++)
        free(names[i]);
    free(names);
    for (size_t i = 0; i < nrows; i++)
        cstate_free(&rows[i].st);
    free(rows);
    buf_free(&out);
    return rc;
}

/* -- delete ------------------------------------------------------------------------------- */

struct victim {
    const char *cid;
    char dir[PATH_MAX];
    int lock;
    struct cstate st;
    int loaded;
    struct cgdirs cg;
};

/* Whether a cgroup directory is empty: no process, no sub-cgroup, and for cgroup2 nothing
 * populated (Python's kill would wait for that) */
static int cgroup_dir_empty(const char *d, int v2)
{
    char f[CG_DIR_MAX + 32];
    struct buf b = {0};
    snprintf(f, sizeof(f), "%s/cgroup.procs", d);
    if (read_file(AT_FDCWD, f, SMALL_LIMIT, &b) != 0 || strspn(b.p, " \n") != b.n) {
        buf_free(&b);
        return 0;
    }
    buf_free(&b);
    if (v2) {
        long long pop;
        snprintf(f, sizeof(f), "%s/cgroup.events", d);
        if (keyed_value(f, "populated", &pop) != 0 || pop != 0)
            return 0;
    }
    DIR *dd = opendir(d);
    if (!dd)
        return 0;
    int empty = 1;
    struct dirent *e;
    while (empty && (errno = 0, e = readdir(dd))) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        struct stat sb;
        if (fstatat(dirfd(dd), e->d_name, &sb, AT_SYMLINK_NOFOLLOW) != 0 || S_ISDIR(sb.st_mode))
            empty = 0;
    }
    if (errno != 0)
        empty = 0;
    closedir(dd);
    return empty;
}

/* What the entry's directory holds may all be unlinked: no sub-directory */
static int entry_flat(int dirfd_)
{
    int fd = openat(dirfd_, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return 0;
    DIR *dd = fdopendir(fd);
    if (!dd) {
        close(fd);
        return 0;
    }
    int flat = 1;
    struct dirent *e;
    while (flat && (errno = 0, e = readdir(dd))) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        struct stat sb;
        if (fstatat(dirfd(dd), e->d_name, &sb, AT_SYMLINK_NOFOLLOW) != 0 || S_ISDIR(sb.st_mode))
            flat = 0;
    }
    if (errno != 0)
        flat = 0;
    closedir(dd);
    return flat;
}

/* Store.remove: every file of the entry, state.json last (one that cannot be removed
 * leaves an entry Python's delete reads as before), then its directory */
static int remove_entry(const char *dir, int dirfd_)
{
    int fd = openat(dirfd_, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    DIR *dd = fdopendir(fd);
    if (!dd) {
        close(fd);
        return -1;
    }
    int rc = 0;
    struct dirent *e;
    while ((errno = 0, e = readdir(dd))) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0
                || strcmp(e->d_name, "state.json") == 0)
            continue;
        if (unlinkat(dirfd(dd), e->d_name, 0) != 0 && errno != ENOENT)
            rc = -1;
    }
    if (errno != 0)
        rc = -1;
    closedir(dd);
    if (rc == 0 && unlinkat(dirfd_, "state.json", 0) != 0 && errno != ENOENT)
        rc = -1;
    if (rc == 0 && rmdir(dir) != 0 && errno != ENOENT)
        rc = -1;
    return rc;
}

static int cmp_longer_first(const void *a, const void *b)
{
    size_t la = strlen(*(char *const *)a), lb = strlen(*(char *const *)b);
    return la < lb ? 1 : la > lb ? -1 : 0;
}

/* Runtime._destroy of a stopped container whose cgroup is empty and which has no hooks, in
 * two parts.  First the cgroup: its directories (last hierarchy first) where create made
 * it, then the parents it made, where empty.  0, or -1 where a directory stays (the entry
 * is untouched then: Python's delete removes what is left, as after any cgroup removed
 * by hand). */
static int destroy_cgroup(struct victim *v)
{
    if (v->st.cgroup_path[0] && v->st.cgroup_created) {
        for (int i = v->cg.n - 1; i >= 0; i--)
            if (rmdir(v->cg.dir[i]) != 0 && errno != ENOENT)
                return -1;
    }
    if (v->st.n_parents) {
        /* remove_empty_parents: deepest first, any that fails stays */
        qsort(v->st.parents, v->st.n_parents, sizeof(char *), cmp_longer_first);
        for (size_t i = 0; i < v->st.n_parents; i++)
            (void)rmdir(v->st.parents[i]);
    }
    return 0;
}

/* Then the entry (Store.remove) and its cleanup record, last (remove_kept).  -1 where a
 * step failed: Python's delete finds what is left by the record. */
static int destroy_entry(const char *root, struct victim *v)
{
    char kept[PATH_MAX];
    if (kept_path(root, v->cid, kept, sizeof(kept)) != 0 || remove_entry(v->dir, v->lock) != 0)
        return -1;
    if (unlink(kept) != 0 && errno != ENOENT)
        return -1;
    *strrchr(kept, '/') = '\0';
    (void)rmdir(kept);   /* ENOTEMPTY: other containers' records */
    return 0;
}

int front_delete(const struct front_opts *o, int argc, char **argv)
{
    /* --force before the ids (podman always passes it) changes nothing for a stopped
     * container, the only kind deleted here: a live one, a missing or damaged entry goes
     * to Python, where --force matters */
    int skip = 0;
    while (skip < argc && (strcmp(argv[skip], "--force") == 0 || strcmp(argv[skip], "-f") == 0
                           || strcmp(argv[skip], "-force") == 0))
        skip++;
    argc -= skip;
    argv += skip;
    if (argc < 1 || argc > 64 || !usable_root(o->root))
        return FB;
    for (int i = 0; i < argc; i++) {
        if (argv[i][0] == '-' || !valid_id(argv[i]))
            return FB;
        for (int k = 0; k < i; k++)
            if (strcmp(argv[k], argv[i]) == 0)
                return FB;
    }
    struct victim *vs = calloc((size_t)argc, sizeof(*vs));
    if (!vs)
        return FB;
    for (int i = 0; i < argc; i++) {
        vs[i].cid = argv[i];
        vs[i].lock = -1;
    }
    int rc = FB, ok = 1;
    /* every id checked, all locked, before anything changes: the first lock is waited for,
     * the others taken only if free (holding several, waiting could deadlock) */
    for (int i = 0; i < argc && ok; i++) {
        struct victim *v = &vs[i];
        ok = 0;
        if (path_join(v->dir, sizeof(v->dir), o->root, v->cid) != 0)
            break;
        v->lock = lock_entry(v->dir, i == 0 ? LOCK_EX : LOCK_EX | LOCK_NB);
        if (v->lock < 0 || load_entry(o->root, v->cid, v->dir, &v->st) != 0)
            break;
        v->loaded = 1;
        const char *s = status(v->dir, &v->st);
        if (!s || strcmp(s, "stopped") != 0 || v->st.hooks || !entry_flat(v->lock))
            break;
        if (v->st.cgroup_path[0]) {
            if (cgroup_dirs(v->st.cgroup_path, &v->cg) != 0)
                break;
            /* Cgroup.open(owned=True) under pycontain's own parent takes a share in
             * removing that parent at exit: Python's business */
            size_t plen = strlen(CGROUP_PARENT);
            if (v->st.cgroup_created && strrchr(v->st.cgroup_path, '/') == v->st.cgroup_path + plen
                    && strncmp(v->st.cgroup_path, CGROUP_PARENT, plen) == 0)
                break;
            int empty = 1;
            for (int k = 0; k < v->cg.n && empty; k++)
                empty = cgroup_dir_empty(v->cg.dir[k], k == v->cg.unified);
            if (!empty)
                break;   /* what is left is killed first: Python */
        }
        ok = 1;
    }
    if (ok) {
        rc = 0;
        for (int i = 0; i < argc && rc == 0; i++)
            if (destroy_cgroup(&vs[i]) != 0)
                rc = FB;   /* every entry is still there: Python deletes them all */
        for (int i = 0; i < argc && rc == 0; i++) {
            if (destroy_entry(o->root, &vs[i]) == 0)
                continue;
            /* Python does the rest: not the ids deleted here already, which it would call
             * unknown; each of their places gets --force, which changes nothing for the
             * others (stopped for good, and found by the cleanup record if half removed) */
            for (int k = 0; k < i; k++)
                argv[k] = (char *)"--force";
            rc = FB;
        }
    }
    for (int i = 0; i < argc; i++) {
        if (vs[i].loaded)
            cstate_free(&vs[i].st);
        if (vs[i].lock >= 0)
            close(vs[i].lock);
    }
    free(vs);
    return rc;
}
