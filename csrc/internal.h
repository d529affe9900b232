/* Shared between the C files of the core; not part of the cffi interface. */
#ifndef PYCONTAIN_INTERNAL_H
#define PYCONTAIN_INTERNAL_H

#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sched.h>
#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <unistd.h>

#include "pycontain.h"

#ifndef CLONE_PIDFD
#define CLONE_PIDFD 0x00001000
#endif
#ifndef CLONE_NEWCGROUP
#define CLONE_NEWCGROUP 0x02000000
#endif
#ifndef CLONE_NEWTIME
#define CLONE_NEWTIME 0x00000080
#endif
#ifndef CLONE_INTO_CGROUP
#define CLONE_INTO_CGROUP 0x200000000ULL
#endif
#ifndef SYS_clone3
#define SYS_clone3 435
#endif
#ifndef SYS_openat2
#define SYS_openat2 437
#endif
#ifndef SYS_close_range
#define SYS_close_range 436
#endif
#ifndef SYS_mount_setattr
#define SYS_mount_setattr 442
#endif
#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434
#endif

/* Set by pc_spawn before each clone (thread-local: the child of a CLONE_VM clone reads the
 * cloning thread's copy): 1 when that clone puts the child into plan->cgroup_fd itself. */
extern __thread int pc_cloned_into_cgroup;

/* Fail the child: report {errno, step, index, path} to the parent and exit. */
void pc_child_fail(int err, int step, int index, const char *path) __attribute__((noreturn));
void pc_child_net(const struct pc_net *n);   /* net.c: FAILs itself */

/* Small async-signal-safe string helpers (no libc locale or allocation). */
size_t pc_strlen(const char *s);
size_t pc_strlcpy(char *dst, const char *src, size_t size);
int pc_join(char *dst, size_t size, const char *a, const char *b);

/* Resolve `path` (absolute, inside the root open at rootfd) to an O_PATH fd, never leaving the
 * root.  create: PC_CREATE_* for a missing last component (parents are created as dirs).
 * nofollow: refuse any symlink.  Returns fd or -errno. */
int pc_open_in_root(int rootfd, const char *path, int create, int nofollow, mode_t mode);
/* Open an existing path in the root for O_PATH without following symlinks at all. */
int pc_open_nofollow(int rootfd, const char *path, int oflags);

/* Open `path` strictly below dirfd: no "..", no symlinks at all.  fd or -errno. */
int pc_open_beneath(int dirfd, const char *path, int oflags);

/* "/proc/self/fd/N" into buf */
void pc_fdpath(char *buf, size_t size, int fd);

int pc_write_all(int fd, const void *buf, size_t len);

struct msghdr;
struct iovec;
/* A message of one iovec with room for ancillary data in cbuf (zeroed), for sendmsg/recvmsg
 * of fds (SCM_RIGHTS). */
void pc_msghdr_init(struct msghdr *mh, struct iovec *iov, void *cbuf, size_t cbuf_len);

#endif
