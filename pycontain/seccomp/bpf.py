"""Classic BPF as the kernel's seccomp sees it: packing, runc's ``-ENOSYS`` stub, and a
small interpreter that runs a filter over one ``struct seccomp_data`` (for tests and for
``pycontain`` users who want to know what a profile does to a system call without root)."""

from __future__ import annotations

import struct

# not `from typing import TYPE_CHECKING`: typing stays off the command lines' path
TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterable, Iterator, Mapping, Sequence

# struct sock_filter { __u16 code; __u8 jt; __u8 jf; __u32 k; } in host byte order
_INSN = struct.Struct("=HBBI")

# opcodes (linux/filter.h, linux/bpf_common.h)
LD, LDX, ST, STX, ALU, JMP, RET, MISC = range(8)
W, H, B = 0x00, 0x08, 0x10
IMM, ABS, IND, MEM, LEN, MSH = 0x00, 0x20, 0x40, 0x60, 0x80, 0xA0
ADD, SUB, MUL, DIV, OR, AND, LSH, RSH, NEG, MOD, XOR = (
    0x00, 0x10, 0x20, 0x30, 0x40, 0x50, 0x60, 0x70, 0x80, 0x90, 0xA0)
JA, JEQ, JGT, JGE, JSET = 0x00, 0x10, 0x20, 0x30, 0x40
K, X = 0x00, 0x08
TAX, TXA = 0x00, 0x80

# seccomp return values (linux/seccomp.h)
RET_KILL_PROCESS = 0x80000000
RET_KILL_THREAD = 0x00000000
RET_TRAP = 0x00030000
RET_ERRNO = 0x00050000
RET_USER_NOTIF = 0x7FC00000
RET_TRACE = 0x7FF00000
RET_LOG = 0x7FFC0000
RET_ALLOW = 0x7FFF0000
RET_ACTION_FULL = 0xFFFF0000
RET_DATA = 0x0000FFFF

# AUDIT_ARCH_* (linux/audit.h)
AUDIT_ARCH_I386 = 0x40000003
AUDIT_ARCH_X86_64 = 0xC000003E
X32_SYSCALL_BIT = 0x40000000
MAX_INSNS = 4096  # BPF_MAXINSNS

Insn = tuple[int, int, int, int]


def pack(program: Iterable[Insn]) -> bytes:
    """``struct sock_filter[]`` bytes for ``(code, jt, jf, k)`` tuples."""
    return b"".join(_INSN.pack(*i) for i in program)


def unpack(data: bytes) -> list[Insn]:
    if len(data) % _INSN.size:
        raise ValueError(f"a BPF program is a multiple of 8 bytes, got {len(data)}")
    return [_INSN.unpack_from(data, off) for off in range(0, len(data), _INSN.size)]


def stmt(code: int, k: int) -> Insn:
    return (code, 0, 0, k & 0xFFFFFFFF)


def jump(code: int, k: int, jt: int, jf: int) -> Insn:
    return (code, jt, jf, k & 0xFFFFFFFF)


def enosys_stub(last_syscalls: Mapping[int, Mapping[str, int]]) -> list[Insn]:
    """runc's ``patchbpf`` stub, to run before libseccomp's filter.

    ``last_syscalls`` maps an AUDIT_ARCH value to ``{"x32" or "native": largest syscall
    number the profile names}``.  A syscall above that number is newer than the profile, so
    it gets ``-ENOSYS`` (what glibc and friends expect from an old kernel, and they fall back)
    instead of the profile's default action (often ``-EPERM``, which they treat as fatal).
    Everything else falls through to the filter.  The stub is a few instructions per
    architecture, so every jump inside it is short.
    """
    enosys = RET_ERRNO | 38  # ENOSYS
    sections: list[tuple[int, list[tuple[str, Insn]]]] = []
    # symbolic program: ("", insn) plain, ("E"|"F"|"S<n>", insn) conditional jumps whose
    # true target is resolved below ("E" = the ENOSYS return, "F" = the filter)
    for arch, maxima in sorted(last_syscalls.items()):
        if not maxima:
            continue
        body: list[tuple[str, Insn]] = [("", stmt(LD | W | ABS, 0))]
        if arch == AUDIT_ARCH_X86_64:
            native, x32 = maxima.get("native"), maxima.get("x32")
            # the x32 ABI is x86_64 with bit 30 set in the syscall number
            body.append(("X", jump(JMP | JSET | K, X32_SYSCALL_BIT, 0, 0)))
            body.append(("EF" if native is not None else "FF",
                         jump(JMP | JGT | K, native if native is not None else 0, 0, 0)))
            body.append(("EF" if x32 is not None else "FF",
                         jump(JMP | JGT | K, x32 if x32 is not None else 0, 0, 0)))
        else:
            if arch in (0x16, 0x80000016):  # s390, s390x: setup(0) multiplexes new syscalls
                body.append(("EN", jump(JMP | JEQ | K, 0, 0, 0)))
            body.append(("EF", jump(JMP | JGT | K, maxima["native"], 0, 0)))
        sections.append((arch, body))

    head: list[tuple[str, Insn]] = [("", stmt(LD | W | ABS, 4))]
    for i, (arch, _) in enumerate(sections):
        head.append((f"S{i}", jump(JMP | JEQ | K, arch, 0, 0)))
    head.append(("F", stmt(JMP | JA, 0)))
    flat = list(head)
    starts = []
    for _, body in sections:
        starts.append(len(flat))
        flat.extend(body)
    e_pos = len(flat)
    flat.append(("", stmt(RET | K, enosys)))
    f_pos = len(flat)  # the filter starts right after the stub

    out: list[Insn] = []
    for pos, (tag, (code, _, _, k)) in enumerate(flat):
        def rel(target: int, pos: int = pos) -> int:
            d = target - pos - 1
            if not 0 <= d <= 255:
                raise AssertionError("seccomp stub jump out of range")
            return d

        if tag == "":
            out.append((code, 0, 0, k))
        elif tag == "F":
            out.append((code, 0, 0, f_pos - pos - 1))
        elif tag.startswith("S"):
            out.append((code, rel(starts[int(tag[1:])]), 0, k))
        elif tag == "X":  # bit set: skip over the native check to the x32 check
            out.append((code, 1, 0, k))
        elif tag == "EF":
            out.append((code, rel(e_pos), rel(f_pos), k))
        elif tag == "FF":
            out.append((code, rel(f_pos), rel(f_pos), k))
        elif tag == "EN":
            out.append((code, rel(e_pos), 0, k))
        else:  # pragma: no cover
            raise AssertionError(tag)
    return out


def seccomp_data(nr: int, arch: int, args: Sequence[int] = (), ip: int = 0) -> bytes:
    """``struct seccomp_data`` for :func:`run`."""
    a = [*(x & 0xFFFFFFFFFFFFFFFF for x in args), *([0] * (6 - len(args)))]
    return struct.pack("=iIQ6Q", nr if nr < 2**31 else nr - 2**32, arch, ip, *a)


def run(program: bytes | Sequence[Insn], data: bytes) -> int:
    """Run a classic BPF program over ``data`` like the kernel does; returns the filter's
    32-bit return value (``RET_ERRNO | 1`` ...)."""
    insns = unpack(program) if isinstance(program, bytes) else list(program)
    a = x = 0
    mem = [0] * 16
    pc = 0
    mask = 0xFFFFFFFF
    while True:
        if not 0 <= pc < len(insns):
            raise ValueError(f"BPF program runs off its end at {pc}")
        code, jt, jf, k = insns[pc]
        pc += 1
        cls = code & 0x07
        if cls == LD or cls == LDX:
            mode, size = code & 0xE0, code & 0x18
            if mode == IMM:
                v = k
            elif mode == MEM:
                v = mem[k]
            elif mode == LEN:
                v = len(data)
            elif mode == ABS and size == W:
                if k % 4 or k + 4 > len(data):
                    raise ValueError(f"bad load at offset {k}")
                v = struct.unpack_from("=I", data, k)[0]
            else:
                raise ValueError(f"unsupported load 0x{code:x}")
            if cls == LD:
                a = v
            else:
                x = v
        elif cls == ST:
            mem[k] = a
        elif cls == STX:
            mem[k] = x
        elif cls == ALU:
            op = code & 0xF0
            src = x if code & X else k
            if op == NEG:
                a = -a & mask
            elif op in (DIV, MOD) and src == 0:
                return RET_KILL_THREAD
            else:
                a = _alu(op, a, src) & mask
        elif cls == JMP:
            op = code & 0xF0
            if op == JA:
                pc += k
                continue
            src = x if code & X else k
            cond = {JEQ: a == src, JGT: a > src, JGE: a >= src, JSET: bool(a & src)}[op]
            pc += jt if cond else jf
        elif cls == RET:
            return a if code & 0x18 == 0x10 else k
        elif cls == MISC:
            if code & 0xF8 == TXA:
                a = x
            else:
                x = a
        else:  # pragma: no cover
            raise ValueError(f"unknown BPF class in 0x{code:x}")


def _alu(op: int, a: int, src: int) -> int:
    if op == ADD:
        return a + src
    if op == SUB:
        return a - src
    if op == MUL:
        return a * src
    if op == DIV:
        return a // src
    if op == MOD:
        return a % src
    if op == OR:
        return a | src
    if op == AND:
        return a & src
    if op == XOR:
        return a ^ src
    if op == LSH:
        return a << (src & 31)
    if op == RSH:
        return a >> (src & 31)
    raise ValueError(f"unknown BPF ALU operation 0x{op:x}")


def iter_returns(program: bytes) -> Iterator[int]:
    """Every constant a program can return (to check what actions a filter uses)."""
    for code, _, _, k in unpack(program):
        if code == RET | K:
            yield k
