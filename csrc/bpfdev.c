/* The cgroup v2 device controller: an eBPF BPF_PROG_TYPE_CGROUP_DEVICE program built from
 * a list of OCI device rules, loaded and attached to a cgroup directory.
 *
 * cgroup v2 has no devices.allow/devices.deny; the kernel asks every program attached to the
 * cgroup (and its ancestors) whether an access (mknod, read, write) to a device is allowed.
 * Rules follow the OCI order: a later rule overrides an earlier one, so the program tests
 * them from the last to the first and returns at the first that matches; when none matches,
 * access is denied.
 *
 * Errors are returned as -errno; nothing here allocates.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <string.h>
#include <unistd.h>
#include <sys/syscall.h>
#include <linux/bpf.h>

#include "pycontain.h"

#define REG_0 0
#define REG_1 1
#define REG_2 2
#define REG_3 3
#define REG_4 4
#define REG_5 5

/* The accesses one rule can name (BPF_DEVCG_ACC_*). */
#define ACC_ALL (BPF_DEVCG_ACC_MKNOD | BPF_DEVCG_ACC_READ | BPF_DEVCG_ACC_WRITE)

struct emitter {
    struct bpf_insn *out;
    int max;
    int n;
};

static void emit(struct emitter *e, unsigned char code, unsigned char dst, unsigned char src,
                 short off, int imm)
{
    if (e->out != NULL && e->n < e->max) {
        struct bpf_insn *insn = &e->out[e->n];
        memset(insn, 0, sizeof(*insn));
        insn->code = code;
        insn->dst_reg = dst;
        insn->src_reg = src;
        insn->off = off;
        insn->imm = imm;
    }
    e->n++;
}

static int rule_type(int type)
{
    switch (type) {
    case 'a':
        return 0;
    case 'b':
        return BPF_DEVCG_DEV_BLOCK;
    case 'c':
        return BPF_DEVCG_DEV_CHAR;
    default:
        return -1;
    }
}

/* How many instructions the test of *r* takes before "r0 = verdict; exit" (each one a jump
 * to the next rule on mismatch, except the register copy and mask of the access test). */
static int rule_tests(const struct pc_dev_rule *r)
{
    int n = 0;
    unsigned int acc = r->access & ACC_ALL;
    if (r->type != 'a')
        n += 1;
    if (acc != ACC_ALL)
        n += 3;
    if (r->major >= 0)
        n += 1;
    if (r->minor >= 0)
        n += 1;
    return n;
}

int pc_bpfdev_build(const struct pc_dev_rule *rules, int n_rules, struct pc_bpf_insn *out,
                    int max_insns)
{
    struct emitter e = {(struct bpf_insn *)out, max_insns, 0};
    int i;

    if (sizeof(struct pc_bpf_insn) != sizeof(struct bpf_insn))
        return -EINVAL;
    if (n_rules < 0 || (n_rules > 0 && rules == NULL))
        return -EINVAL;
    for (i = 0; i < n_rules; i++) {
        if (rule_type(rules[i].type) < 0 || (rules[i].access & ~ACC_ALL) != 0 ||
            rules[i].access == 0)
            return -EINVAL;
    }

    /* ctx->access_type = (access << 16) | device type; ctx->major; ctx->minor */
    emit(&e, BPF_LDX | BPF_MEM | BPF_W, REG_2, REG_1, 0, 0);
    emit(&e, BPF_ALU64 | BPF_MOV | BPF_X, REG_3, REG_2, 0, 0);
    emit(&e, BPF_ALU64 | BPF_AND | BPF_K, REG_2, 0, 0, 0xffff);   /* r2: type */
    emit(&e, BPF_ALU64 | BPF_RSH | BPF_K, REG_3, 0, 0, 16);       /* r3: access */
    emit(&e, BPF_LDX | BPF_MEM | BPF_W, REG_4, REG_1, 4, 0);      /* r4: major */
    emit(&e, BPF_LDX | BPF_MEM | BPF_W, REG_5, REG_1, 8, 0);      /* r5: minor */

    for (i = n_rules - 1; i >= 0; i--) {
        const struct pc_dev_rule *r = &rules[i];
        unsigned int acc = r->access & ACC_ALL;
        int tests = rule_tests(r);
        /* Each test jumps over the rest of the block: the remaining tests and the 2
         * instructions that return the verdict. */
        int left = tests;

        if (r->type != 'a') {
            left -= 1;
            emit(&e, BPF_JMP | BPF_JNE | BPF_K, REG_2, 0, (short)(left + 2), rule_type(r->type));
        }
        if (acc != ACC_ALL) {
            /* allow: the access asked for is within the rule's; deny: they overlap */
            emit(&e, BPF_ALU64 | BPF_MOV | BPF_X, REG_1, REG_3, 0, 0);
            emit(&e, BPF_ALU64 | BPF_AND | BPF_K, REG_1, 0, 0, (int)acc);
            left -= 3;
            if (r->allow)
                emit(&e, BPF_JMP | BPF_JNE | BPF_X, REG_1, REG_3, (short)(left + 2), 0);
            else
                emit(&e, BPF_JMP | BPF_JEQ | BPF_K, REG_1, 0, (short)(left + 2), 0);
        }
        if (r->major >= 0) {
            left -= 1;
            emit(&e, BPF_JMP | BPF_JNE | BPF_K, REG_4, 0, (short)(left + 2), r->major);
        }
        if (r->minor >= 0) {
            left -= 1;
            emit(&e, BPF_JMP | BPF_JNE | BPF_K, REG_5, 0, (short)(left + 2), r->minor);
        }
        emit(&e, BPF_ALU64 | BPF_MOV | BPF_K, REG_0, 0, 0, r->allow ? 1 : 0);
        emit(&e, BPF_JMP | BPF_EXIT, 0, 0, 0, 0);
        if (tests == 0)
            return e.n; /* matches everything: what follows could never run */
    }
    emit(&e, BPF_ALU64 | BPF_MOV | BPF_K, REG_0, 0, 0, 0);
    emit(&e, BPF_JMP | BPF_EXIT, 0, 0, 0, 0);
    return e.n;
}

static long sys_bpf(int cmd, union bpf_attr *attr)
{
    return syscall(SYS_bpf, cmd, attr, sizeof(*attr));
}

int pc_bpfdev_load(const struct pc_bpf_insn *insns, int n_insns, char *log, unsigned int log_size)
{
    union bpf_attr attr;
    static const char license[] = "Apache-2.0";
    long fd;

    memset(&attr, 0, sizeof(attr));
    attr.prog_type = BPF_PROG_TYPE_CGROUP_DEVICE;
    attr.insns = (unsigned long)insns;
    attr.insn_cnt = (unsigned int)n_insns;
    attr.license = (unsigned long)license;
    if (log != NULL && log_size > 0) {
        log[0] = '\0';
        attr.log_buf = (unsigned long)log;
        attr.log_size = log_size;
        attr.log_level = 1;
    }
    fd = sys_bpf(BPF_PROG_LOAD, &attr);
    if (fd < 0 && errno == ENOSPC && log != NULL) {
        /* the verifier's log did not fit: load again without it */
        attr.log_buf = 0;
        attr.log_size = 0;
        attr.log_level = 0;
        fd = sys_bpf(BPF_PROG_LOAD, &attr);
    }
    if (fd < 0)
        return -errno;
    return (int)fd; /* the kernel makes bpf fds close-on-exec */
}

/* BPF_PROG_ATTACH or BPF_PROG_DETACH of a device program on a cgroup. */
static int attach_op(int cmd, int cgroup_fd, int prog_fd, unsigned int flags)
{
    union bpf_attr attr;

    memset(&attr, 0, sizeof(attr));
    attr.target_fd = (unsigned int)cgroup_fd;
    attr.attach_bpf_fd = (unsigned int)prog_fd;
    attr.attach_type = BPF_CGROUP_DEVICE;
    attr.attach_flags = flags;
    if (sys_bpf(cmd, &attr) < 0)
        return -errno;
    return 0;
}

int pc_bpfdev_attach(int cgroup_fd, int prog_fd)
{
    return attach_op(BPF_PROG_ATTACH, cgroup_fd, prog_fd, BPF_F_ALLOW_MULTI);
}

int pc_bpfdev_detach(int cgroup_fd, int prog_fd)
{
    return attach_op(BPF_PROG_DETACH, cgroup_fd, prog_fd, 0);
}

int pc_bpfdev_query(int cgroup_fd, unsigned int *prog_ids, unsigned int max_ids)
{
    union bpf_attr attr;

    memset(&attr, 0, sizeof(attr));
    attr.query.target_fd = (unsigned int)cgroup_fd;
    attr.query.attach_type = BPF_CGROUP_DEVICE;
    attr.query.prog_ids = (unsigned long)prog_ids;
    attr.query.prog_cnt = max_ids;
    if (sys_bpf(BPF_PROG_QUERY, &attr) < 0)
        return -errno;
    return (int)attr.query.prog_cnt;
}

int pc_bpfdev_prog_fd(unsigned int prog_id)
{
    union bpf_attr attr;
    long fd;

    memset(&attr, 0, sizeof(attr));
    attr.prog_id = prog_id;
    attr.open_flags = 0;
    fd = sys_bpf(BPF_PROG_GET_FD_BY_ID, &attr);
    if (fd < 0)
        return -errno;
    return (int)fd;
}
