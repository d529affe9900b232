/* Helpers of the small static programs that run without libc (csrc/execstub.c,
 * csrc/init.c): what they would otherwise each write again. */
#ifndef PC_NOLIBC_H
#define PC_NOLIBC_H

static int nl_same(const char *a, const char *b)
{
    while (*a && *a == *b) {
        a++;
        b++;
    }
    return *a == *b;
}

/* A decimal fd number (at most 100000), or -1 for anything else ("-1" included). */
static int nl_parse_fd(const char *s)
{
    int v = 0;
    if (!*s)
        return -1;
    for (; *s; s++) {
        if (*s < '0' || *s > '9' || v > 100000)
            return -1;
        v = v * 10 + (*s - '0');
    }
    return v;
}

#endif
