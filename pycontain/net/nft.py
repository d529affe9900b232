"""NAT and published ports of pycontain's bridge networks, programmed through libnftables.

libnftables (Debian's ``libnftables1``) is loaded with cffi in ABI mode on first use, so
neither importing this module nor building pycontain needs it.  Everything lives in one
table of our own, ``table inet pycontain``; nothing outside it is listed, flushed or
reordered (the iptables-nft tables of Docker may sit beside it).

Rule set (checked with nftables 1.0.6 on Linux 6.18)::

    map pub4_any  inet_proto . inet_service             : ipv4_addr . inet_service
    map pub4_ip   ipv4_addr . inet_proto . inet_service : ipv4_addr . inet_service
    map pub6_any  inet_proto . inet_service             : ipv6_addr . inet_service
    map pub6_ip   ipv6_addr . inet_proto . inet_service : ipv6_addr . inet_service
    map own_any   inet_proto . inet_service             : mark . mark . mark . mark
    map own4_ip   ipv4_addr . inet_proto . inet_service : mark . mark . mark . mark
    map own6_ip   ipv6_addr . inet_proto . inet_service : mark . mark . mark . mark
    set ip_ports  inet_proto . inet_service

    chain prerouting (nat, prerouting, dstnat)  and  chain output (nat, output, -100):
        dnat ip to ip daddr . meta l4proto . th dport map @pub4_ip
        fib daddr type local dnat ip to meta l4proto . th dport map @pub4_any
        (the same for ip6 with pub6_ip / pub6_any)
    chain postrouting (nat, postrouting, srcnat), rules with comment "net:NAME":
        ip saddr SUBNET oifname != BRIDGE masquerade              (not for an internal network)
        oifname BRIDGE ct status dnat ip saddr SUBNET masquerade  (hairpin)
        oifname BRIDGE ip saddr 127.0.0.0/8 masquerade            (ports on 127.0.0.1)
    chain forward (filter, forward, filter), rules with comment "net:NAME", internal only:
        iifname BRIDGE oifname != BRIDGE drop
        oifname BRIDGE iifname != BRIDGE drop

A published port is a map element, never a rule: publishing and unpublishing cost the same
whatever the number of ports already there, and a packet costs a hash lookup per rule.

What the caller does: ``route_localnet=1`` on the bridge (ports on 127.0.0.1),
``ip_forward``, and hairpin mode on each container's bridge port — with br_netfilter
active (as on hosts with Docker) the kernel bridges a DNATed packet straight back to the
port it came from, which a bridge does only in hairpin mode, so without it a container
cannot reach its *own* published port (its neighbours' work either way).

What differs from the first sketch, and why:

* **Maps with concatenated data cannot be declared in JSON by nftables 1.0.6**: it prints
  their data type as the string ``"ipv4_addr . inet_service"`` but refuses that string on
  input ("Invalid map type"), and a list there silently makes a *set*, after which adding
  the ``dnat ... map`` rule crashes libnftables.  So :func:`ensure_table` sends the table's
  skeleton (its maps and the static rules of the dnat chains) as one constant nft script;
  every other command — the rules of networks, every element, every listing — is JSON.
  Elements and rules given in JSON work with maps declared this way.
* **Ownership is also recorded where the kernel can check it.**  Each element carries its
  owner token (``PID-STARTTIME`` from :mod:`.owner`, or the caller's lease id) as its nft
  comment — JSON element comments work in 1.0.6, and :func:`owners` / :func:`remove_owner`
  read them — but the kernel cannot compare a comment.  So each published port also has a
  claim in ``own_any`` / ``own4_ip`` / ``own6_ip`` whose *data* is the owner (96 bits of a
  hash of the token, three ``mark`` words) and which address families a port on every
  address was published on (the fourth word: 1 IPv4, 2 IPv6, 3 both).  nftables 1.0.6 has
  no ``destroy element`` (delete-if-present), and deleting a missing element fails the
  whole transaction; but
  ``add`` of an element that exists with the same data is a no-op, while other data is a
  clash.  So ``add claim {KEY : OURS}; delete claim {KEY}`` deletes the claim if it is ours,
  does nothing if it is gone, and fails if another owner holds the key: that makes
  :func:`unpublish` idempotent and safe against deleting a port that another container has
  published since, in O(len(ports)) without listing anything.  The dnat elements are
  deleted the same way when their data (the container's address and port) is known — the
  process that published them remembers the addresses, another one may pass them —, else
  plainly, trying the address families in turn.  (``get element`` is no way out: on any
  change since its last call libnftables 1.0.6 fetches the whole map for it, ~35 ms at
  8000 elements.)
* **Conflicts are found by the kernel, in the same transaction.**  ``create element`` fails
  on an existing key, so a second publisher of the same key fails atomically.  A port on
  one address conflicts with the same port on every address: publishing on one address
  probes ``own_any`` (``create`` then ``delete`` the key, a no-op unless the key exists);
  publishing on every address probes ``ip_ports``, the set of ports that have been published
  on some single address.  ``ip_ports`` is only a hint (it is not cleaned when such a port
  is unpublished: several addresses may share a port and a set cannot count), so when that
  probe fails the claims on single addresses are listed — the only listing on that path,
  and only for a port once published on one address — and stale hints are dropped.
  Publishing holds a lock of the network namespace (an abstract unix socket, which is per
  network namespace and vanishes with its holder) so that this check cannot race.
  libnftables' JSON errors do not say which command failed, so after a failed transaction
  each port is probed on its own to name the port that conflicts.
* The outbound masquerade matches ``oifname != BRIDGE`` rather than ``ip daddr !=
  SUBNET``: the same for a network of one subnet, and traffic between two subnets of one
  bridge stays unmasqueraded.
* The output chain's priority is written -100: nft 1.0.6 accepts the name ``dstnat`` only
  for the prerouting hook.
* IPv6 works like IPv4 (maps ``pub6_*``), except that a port published on ``::1`` cannot
  reach a container: Linux has no ``route_localnet`` for IPv6.

libnftables' context holds a netlink socket of the network namespace it was created in, so
contexts are kept per (process, network namespace) and used under one lock.  Measured on
nftables 1.0.6: a transaction of two elements on a kept context costs 0.2-0.5 ms, while a
context per call adds about 15 ms (``nft_ctx_free`` alone takes 6-19 ms), so contexts are
kept and shared under the lock.
"""

from __future__ import annotations

import collections
import contextlib
import errno
import hashlib
import ipaddress
import json
import os
import re
import socket
import threading
import time
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any

from ..errors import ConfigError, NetworkError
from .ports import PortMapping

if TYPE_CHECKING:
    import cffi

__all__ = [
    "add_network",
    "available",
    "ensure_table",
    "owners",
    "publish",
    "remove_network",
    "remove_owner",
    "remove_table",
    "unpublish",
]

SONAME = "libnftables.so.1"

CDEF = """
struct nft_ctx;
struct nft_ctx *nft_ctx_new(uint32_t flags);
void nft_ctx_free(struct nft_ctx *ctx);
void nft_ctx_output_set_flags(struct nft_ctx *ctx, unsigned int flags);
int nft_ctx_buffer_output(struct nft_ctx *ctx);
int nft_ctx_buffer_error(struct nft_ctx *ctx);
const char *nft_ctx_get_output_buffer(struct nft_ctx *ctx);
const char *nft_ctx_get_error_buffer(struct nft_ctx *ctx);
int nft_run_cmd_from_buffer(struct nft_ctx *nft, const char *buf);
"""

NFT_CTX_DEFAULT = 0
NFT_CTX_OUTPUT_JSON = 1 << 4

FAMILY = "inet"
TABLE = "pycontain"

STEP_ADD = "adding nftables rule"
STEP_REMOVE = "removing nftables rule"
STEP_TABLE = "creating nftables table"

HINT_INSTALL = ("install libnftables (Debian/Ubuntu: apt-get install libnftables1; "
                "Fedora: dnf install nftables)")

_PUB_ANY = {4: "pub4_any", 6: "pub6_any"}
_PUB_IP = {4: "pub4_ip", 6: "pub6_ip"}
_OWN_IP = {4: "own4_ip", 6: "own6_ip"}
_OWN_ANY = "own_any"
_IP_PORTS = "ip_ports"
_MAPS = ("own_any", "own4_ip", "own6_ip", "pub4_any", "pub4_ip", "pub6_any", "pub6_ip")
_FAMILY_BITS = {4: 1, 6: 2}
_LOCK_NAME = b"\0pycontain-nft-lock"  # abstract: one per network namespace
_LOCK_TIMEOUT = 30.0
_MAX_CONTEXTS = 8


_SKELETON_SETS = (
    ("map", "pub4_any", "inet_proto . inet_service : ipv4_addr . inet_service"),
    ("map", "pub4_ip", "ipv4_addr . inet_proto . inet_service : ipv4_addr . inet_service"),
    ("map", "pub6_any", "inet_proto . inet_service : ipv6_addr . inet_service"),
    ("map", "pub6_ip", "ipv6_addr . inet_proto . inet_service : ipv6_addr . inet_service"),
    ("map", "own_any", "inet_proto . inet_service : mark . mark . mark . mark"),
    ("map", "own4_ip", "ipv4_addr . inet_proto . inet_service : mark . mark . mark . mark"),
    ("map", "own6_ip", "ipv6_addr . inet_proto . inet_service : mark . mark . mark . mark"),
    ("set", "ip_ports", "inet_proto . inet_service"),
)
_SKELETON_CHAINS = (
    ("prerouting", "nat", "prerouting", "dstnat"),
    ("output", "nat", "output", "-100"),  # the name dstnat is for prerouting only
    ("postrouting", "nat", "postrouting", "srcnat"),
    ("forward", "filter", "forward", "filter"),
)
_DNAT_RULES = (
    "dnat ip to ip daddr . meta l4proto . th dport map @pub4_ip",
    "fib daddr type local dnat ip to meta l4proto . th dport map @pub4_any",
    "dnat ip6 to ip6 daddr . meta l4proto . th dport map @pub6_ip",
    "fib daddr type local dnat ip6 to meta l4proto . th dport map @pub6_any",
)


def _skeleton() -> str:
    """The nft script that makes the table, idempotently and in one transaction: ``add``
    keeps what exists; the two dnat chains hold only these static rules, so flushing and
    refilling them in the same transaction changes nothing when they are already right."""
    t = f"{FAMILY} {TABLE}"
    lines = [f"add table {t}"]
    lines += [f"add {kind} {t} {name} {{ type {typ}; }}" for kind, name, typ in _SKELETON_SETS]
    lines += [f"add chain {t} {name} {{ type {typ} hook {hook} priority {prio}; policy accept; }}"
              for name, typ, hook, prio in _SKELETON_CHAINS]
    for chain in ("prerouting", "output"):
        lines.append(f"flush chain {t} {chain}")
        lines += [f"add rule {t} {chain} {rule}" for rule in _DNAT_RULES]
    return "\n".join(lines) + "\n"


# -- libnftables -------------------------------------------------------------------------------

_load_lock = threading.Lock()
_lib: Any = None
_ffi: cffi.FFI | None = None


def _load(step: str) -> tuple[cffi.FFI, Any]:
    """``(ffi, lib)`` for libnftables, loaded once per process."""
    global _lib, _ffi
    if _lib is not None and _ffi is not None:
        return _ffi, _lib
    with _load_lock:
        if _lib is None:
            import cffi

            ffi = cffi.FFI()
            ffi.cdef(CDEF)
            try:
                lib = ffi.dlopen(SONAME)
            except OSError as err:
                raise NetworkError(step, f"cannot load {SONAME}: {err}", hint=HINT_INSTALL) from err
            _ffi, _lib = ffi, lib
    assert _ffi is not None
    return _ffi, _lib


class _Context:
    """One libnftables context (bound to the network namespace it was made in) and whether
    this process has made sure that our table exists there."""

    __slots__ = ("ptr", "table_ok")

    def __init__(self, ptr: Any) -> None:
        self.ptr = ptr
        self.table_ok = False


# One lock guards the contexts (and _addresses) and every use of a context.  Measured with
# nftables 1.0.6: a transaction of two elements costs 0.2-0.5 ms on a kept context, while a
# context per call adds ~15 ms (nft_ctx_free alone takes 6-19 ms), so the lock wins easily.
_lock = threading.Lock()
_contexts: collections.OrderedDict[tuple[int, int, int], _Context] = collections.OrderedDict()
# The container addresses (ip4, ip6) of the owners whose ports this process published:
# unpublish then knows the data of their elements (another process guesses, or is told).
_addresses: collections.OrderedDict[str, tuple[str | None, str | None]] = \
    collections.OrderedDict()


def _after_fork() -> None:
    global _lock
    _lock = threading.Lock()
    _contexts.clear()  # the parent's sockets: never shared, never freed here


os.register_at_fork(after_in_child=_after_fork)


def _netns_key() -> tuple[int, int, int]:
    st = os.stat("/proc/thread-self/ns/net")
    return (os.getpid(), st.st_dev, st.st_ino)


def _context(step: str) -> _Context:
    """The context of the calling thread's network namespace; call with ``_lock`` held."""
    key = _netns_key()
    ctx = _contexts.get(key)
    if ctx is not None:
        _contexts.move_to_end(key)
        return ctx
    ffi, lib = _load(step)
    ptr = lib.nft_ctx_new(NFT_CTX_DEFAULT)
    if ptr == ffi.NULL:
        raise NetworkError(step, "nft_ctx_new failed")
    lib.nft_ctx_output_set_flags(ptr, NFT_CTX_OUTPUT_JSON)
    if lib.nft_ctx_buffer_output(ptr) or lib.nft_ctx_buffer_error(ptr):
        lib.nft_ctx_free(ptr)
        raise NetworkError(step, "cannot buffer libnftables' output")
    ctx = _contexts[key] = _Context(ptr)
    while len(_contexts) > _MAX_CONTEXTS:  # a namespace left long ago: its socket pins it
        _, old = _contexts.popitem(last=False)
        lib.nft_ctx_free(old.ptr)
    return ctx


def _clean(text: str) -> str:
    lines = [ln.removeprefix("internal:0:0-0: ").rstrip() for ln in text.splitlines()]
    return "\n".join(ln for ln in lines if ln)


def _exec(ctx: _Context, cmds: str | list[dict[str, Any]]) -> tuple[bool, str, str]:
    """Run one buffer (an nft script, or JSON commands: one transaction); call with
    ``_lock`` held.  Returns (ok, output, error text)."""
    ffi, lib = _load(STEP_ADD)
    text = cmds if isinstance(cmds, str) else json.dumps({"nftables": cmds})
    rc = lib.nft_run_cmd_from_buffer(ctx.ptr, text.encode())
    out = ffi.string(lib.nft_ctx_get_output_buffer(ctx.ptr)).decode("utf-8", "replace")
    err = ffi.string(lib.nft_ctx_get_error_buffer(ctx.ptr)).decode("utf-8", "replace")
    return rc == 0, out, _clean(err)


def _ensure(ctx: _Context, *, force: bool = False) -> None:
    if ctx.table_ok and not force:
        return
    _, lib = _load(STEP_TABLE)
    lib.nft_ctx_output_set_flags(ctx.ptr, NFT_CTX_DEFAULT)  # input: the nft language
    try:
        ok, _, err = _exec(ctx, _skeleton())
    finally:
        lib.nft_ctx_output_set_flags(ctx.ptr, NFT_CTX_OUTPUT_JSON)
    if not ok:
        raise NetworkError(STEP_TABLE, err or "libnftables failed",
                           hint=_hint(err))
    ctx.table_ok = True


def _hint(err: str) -> str | None:
    if "Operation not permitted" in err:
        return "nftables needs CAP_NET_ADMIN in the network namespace (run as root)"
    if "No such file or directory" in err or "Protocol not supported" in err:
        return "the kernel may lack nf_tables, nft_nat, nft_fib or nft_masq"
    return None


def _try(cmds: str | list[dict[str, Any]], step: str, *, ensure: bool = True,
         recreate: bool = True) -> tuple[bool, str, str]:
    """Run *cmds* in this namespace, after making sure the table exists when *ensure*; with
    *recreate*, a failure because the table (or a part of it) has vanished recreates it and
    retries once (without: a missing element is an expected failure, not a sign of a
    missing table)."""
    with _lock:
        ctx = _context(step)
        if ensure:
            _ensure(ctx)
        ok, out, err = _exec(ctx, cmds)
        if not ok and ensure and recreate and "No such file or directory" in err:
            _ensure(ctx, force=True)
            ok, out, err = _exec(ctx, cmds)
        return ok, out, err


def _run(cmds: list[dict[str, Any]], step: str) -> str:
    ok, out, err = _try(cmds, step)
    if not ok:
        raise NetworkError(step, err or "libnftables failed", hint=_hint(err))
    return out


@contextlib.contextmanager
def _netns_lock(step: str) -> Iterator[None]:
    """Exclusive among the callers of this module in the calling thread's network
    namespace (threads and processes alike): bind an abstract unix socket, whose name is
    per network namespace and is released when the holder closes it or dies."""
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC)
    try:
        deadline = time.monotonic() + _LOCK_TIMEOUT
        delay = 0.0005
        while True:
            try:
                sock.bind(_LOCK_NAME)
                break
            except OSError as err:
                if err.errno != errno.EADDRINUSE:
                    raise
                if time.monotonic() > deadline:
                    msg = (f"another process has held the nftables lock of this network "
                           f"namespace for over {_LOCK_TIMEOUT:.0f} s")
                    raise NetworkError(step, msg) from None
                time.sleep(delay)
                delay = min(delay * 2, 0.02)
        yield
    finally:
        sock.close()


# -- JSON pieces -------------------------------------------------------------------------------

def _elem(name: str, key: Any, data: Any = None, comment: str | None = None) -> dict[str, Any]:
    val = key if comment is None else {"elem": {"val": key, "comment": comment}}
    return {"family": FAMILY, "table": TABLE, "name": name,
            "elem": [[val, data] if data is not None else val]}


def _add(obj: dict[str, Any], verb: str = "add") -> dict[str, Any]:
    return {verb: {"element": obj}}


def _probe(name: str, key: Any, data: Any = None) -> list[dict[str, Any]]:
    """Fails the transaction if *key* is in *name*; changes nothing otherwise."""
    return [_add(_elem(name, key, data), "create"), _add(_elem(name, key), "delete")]


def _owner_data(owner: str, fams: int) -> dict[str, Any]:
    """A claim's data: 96 bits of a hash of the owner (the kernel compares data, not
    comments) and the address families of a port on every address."""
    digest = hashlib.blake2b(owner.encode(), digest_size=12, person=b"pycontain-nft").digest()
    words = [int.from_bytes(digest[i:i + 4], "big") for i in (0, 4, 8)]
    return {"concat": [*words, fams]}


_NO_OWNER: dict[str, Any] = {"concat": [0, 0, 0, 0]}


def _family(addr: str) -> int:
    return ipaddress.ip_address(addr).version


def _address(value: str | None, version: int, field: str) -> str | None:
    """*value* as a canonical IPv4 or IPv6 (*version*) address; None stays None."""
    if value is None:
        return None
    try:
        addr = ipaddress.ip_address(value)
    except ValueError:
        addr = None
    if addr is None or addr.version != version:
        raise ConfigError(field, f"not an IPv{version} address: {value!r}")
    return str(addr)


def _key_any(m: PortMapping) -> dict[str, Any]:
    return {"concat": [m.protocol, m.host_port]}


def _key_ip(m: PortMapping) -> dict[str, Any]:
    assert m.host_ip is not None
    return {"concat": [str(ipaddress.ip_address(m.host_ip)), m.protocol, m.host_port]}


def _describe(m: PortMapping) -> str:
    if m.host_ip is None:
        return f"{m.host_port}/{m.protocol}"
    ip = str(ipaddress.ip_address(m.host_ip))
    return f"{'[' + ip + ']' if ':' in ip else ip}:{m.host_port}/{m.protocol}"


_OWNER_RE = re.compile(r"[A-Za-z0-9._:@/+-]{1,100}\Z")


def _check_owner(owner: str) -> None:
    if not isinstance(owner, str) or not _OWNER_RE.match(owner):
        raise ConfigError("owner", "an owner token (PID-STARTTIME, a lease id: 1..100 of "
                          f"A-Z a-z 0-9 . _ : @ / + -), got {owner!r}")


def _unique(ports: Sequence[PortMapping]) -> list[PortMapping]:
    out: dict[tuple[str | None, str, int], PortMapping] = {}
    for m in ports:
        if not isinstance(m, PortMapping):
            raise ConfigError("ports", f"expected PortMapping objects, got {m!r}")
        ip = None if m.host_ip is None else str(ipaddress.ip_address(m.host_ip))
        out.setdefault((ip, m.protocol, m.host_port), m)
    return list(out.values())


# -- the table ---------------------------------------------------------------------------------

def ensure_table() -> None:
    """Create ``table inet pycontain`` with its maps and chains where missing (one
    transaction, idempotent).  Done once per process and network namespace; the operations
    below call it themselves and recreate the table if someone deleted it since."""
    with _lock:
        _ensure(_context(STEP_TABLE))


def remove_table() -> None:
    """Delete ``table inet pycontain`` (every published port and network rule with it) if
    it exists."""
    with _netns_lock(STEP_REMOVE), _lock:
        ctx = _context(STEP_REMOVE)
        ctx.table_ok = False
        ok, out, err = _exec(ctx, [{"list": {"tables": None}}])
        if not ok:
            raise NetworkError(STEP_REMOVE, err or "libnftables failed", hint=_hint(err))
        present = any(o.get("table", {}).get("family") == FAMILY
                      and o["table"].get("name") == TABLE
                      for o in json.loads(out).get("nftables", []))
        if present:
            ok, _, err = _exec(ctx, [{"delete": {"table": {"family": FAMILY, "name": TABLE}}}])
            if not ok:
                raise NetworkError(STEP_REMOVE, err or "libnftables failed", hint=_hint(err))


def available() -> str | None:
    """None when this module can program nftables in the calling thread's network
    namespace, else why not (for ``pycontain check``)."""
    try:
        with _lock:
            ctx = _context(STEP_TABLE)
            ok, _, err = _exec(ctx, [{"list": {"tables": None}}])
    except NetworkError as exc:
        return str(exc)
    except OSError as exc:
        return f"cannot use nftables: {exc}"
    if not ok:
        hint = _hint(err)
        return f"cannot use nftables: {err}" + (f" ({hint})" if hint else "")
    return None


def _list(what: str, **names: str) -> list[dict[str, Any]] | None:
    """The JSON listing of our table or one of its chains; None when it does not exist
    (listing never creates the table)."""
    if what == "table":
        obj = {"family": FAMILY, "name": TABLE}
    else:
        obj = {"family": FAMILY, "table": TABLE, **names}
    ok, out, err = _try([{"list": {what: obj}}], STEP_REMOVE, ensure=False)
    if not ok:
        if "No such file or directory" in err:
            return None
        raise NetworkError(STEP_REMOVE, err or "libnftables failed", hint=_hint(err))
    result: list[dict[str, Any]] = json.loads(out).get("nftables", [])
    return result


def _list_table() -> list[dict[str, Any]]:
    return _list("table") or []


def _elements(obj: dict[str, Any]) -> Iterator[tuple[Any, str | None]]:
    """(key, comment) of each element of a listed set or map."""
    for item in obj.get("elem", []):
        val = item[0] if obj.get("map") is not None and isinstance(item, list) else item
        if isinstance(val, dict) and "elem" in val:
            yield val["elem"].get("val"), val["elem"].get("comment")
        else:
            yield val, None


def _sets(listing: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    out = {}
    for o in listing:
        s = o.get("map") or o.get("set")
        if isinstance(s, dict) and s.get("table") == TABLE:
            out[s["name"]] = s
    return out


# -- networks ----------------------------------------------------------------------------------

def _match(left: dict[str, Any], right: Any, op: str = "==") -> dict[str, Any]:
    return {"match": {"op": op, "left": left, "right": right}}


def _meta(key: str) -> dict[str, Any]:
    return {"meta": {"key": key}}


def _saddr(net: ipaddress.IPv4Network | ipaddress.IPv6Network) -> dict[str, Any]:
    proto = "ip" if net.version == 4 else "ip6"
    return _match({"payload": {"protocol": proto, "field": "saddr"}},
                  {"prefix": {"addr": str(net.network_address), "len": net.prefixlen}})


def _rule(chain: str, comment: str, *expr: dict[str, Any]) -> dict[str, Any]:
    return {"add": {"rule": {"family": FAMILY, "table": TABLE, "chain": chain,
                             "comment": comment, "expr": list(expr)}}}


def _network_rules(name: str, bridge: str,
                   subnets: Sequence[ipaddress.IPv4Network | ipaddress.IPv6Network],
                   internal: bool) -> list[dict[str, Any]]:
    c = f"net:{name}"
    masq = {"masquerade": None}
    rules = []
    for net in subnets:
        if not internal:  # outbound
            rules.append(_rule("postrouting", c, _saddr(net),
                               _match(_meta("oifname"), bridge, "!="), masq))
        # hairpin: a container reaching a published port through a host address
        rules.append(_rule("postrouting", c, _match(_meta("oifname"), bridge),
                           _match({"ct": {"key": "status"}}, "dnat", "in"), _saddr(net), masq))
    # ports published on 127.0.0.1 (the caller sets route_localnet on the bridge)
    rules.append(_rule("postrouting", c, _match(_meta("oifname"), bridge),
                       _saddr(ipaddress.IPv4Network("127.0.0.0/8")), masq))
    if internal:
        drop = {"drop": None}
        rules.append(_rule("forward", c, _match(_meta("iifname"), bridge),
                           _match(_meta("oifname"), bridge, "!="), drop))
        rules.append(_rule("forward", c, _match(_meta("oifname"), bridge),
                           _match(_meta("iifname"), bridge, "!="), drop))
    return rules


def _delete_network_rules(name: str) -> list[dict[str, Any]]:
    """Commands deleting the rules of network *name* (lists our two network chains)."""
    comment = f"net:{name}"
    cmds = []
    for chain in ("postrouting", "forward"):
        for o in _list("chain", name=chain) or []:
            r = o.get("rule")
            if isinstance(r, dict) and r.get("chain") == chain and r.get("comment") == comment:
                cmds.append({"delete": {"rule": {"family": FAMILY, "table": TABLE,
                                                 "chain": chain, "handle": r["handle"]}}})
    return cmds


def _check_network(name: str, bridge: str | None = None) -> None:
    if not isinstance(name, str) or not name or len(name) > 100:
        raise ConfigError("name", f"a network name of 1..100 characters, got {name!r}")
    if bridge is not None and (not isinstance(bridge, str) or not 0 < len(bridge) < 16
                               or "/" in bridge or any(ch.isspace() for ch in bridge)):
        raise ConfigError("bridge", f"not an interface name: {bridge!r}")


def add_network(name: str, bridge: str,
                subnets: Sequence[ipaddress.IPv4Network | ipaddress.IPv6Network],
                internal: bool) -> None:
    """Add the NAT (and, for an internal network, isolation) rules of network *name* on
    *bridge*, replacing its earlier ones, in one transaction."""
    _check_network(name, bridge)
    nets = [ipaddress.ip_network(s) for s in subnets]
    with _netns_lock(STEP_ADD):
        _run(_delete_network_rules(name) + _network_rules(name, bridge, nets, internal), STEP_ADD)


def remove_network(name: str) -> None:
    """Remove every rule of network *name* (nothing to do when there is none)."""
    _check_network(name)
    with _netns_lock(STEP_REMOVE):
        cmds = _delete_network_rules(name)
        if cmds:
            _run(cmds, STEP_REMOVE)


# -- published ports ---------------------------------------------------------------------------

def _conflict(m: PortMapping) -> NetworkError:
    return NetworkError(STEP_ADD, f"host port {_describe(m)} is already published by another "
                        "container")


def _publish_cmds(owner: str, ports: Sequence[PortMapping], ip4: str | None, ip6: str | None,
                  any_fams: int) -> list[dict[str, Any]]:
    cmds: list[dict[str, Any]] = []
    target = {4: ip4, 6: ip6}
    for m in ports:
        if m.host_ip is None:
            k = _key_any(m)
            cmds.append(_add(_elem(_OWN_ANY, k, _owner_data(owner, any_fams), owner), "create"))
            cmds += _probe(_IP_PORTS, k)
            for fam in (4, 6):
                addr = target[fam]
                if addr is not None:
                    cmds.append(_add(_elem(_PUB_ANY[fam], k,
                                           {"concat": [addr, m.container_port]}, owner), "create"))
        else:
            fam = _family(m.host_ip)
            k = _key_ip(m)
            cmds.append(_add(_elem(_OWN_IP[fam], k,
                                   _owner_data(owner, _FAMILY_BITS[fam]), owner), "create"))
            cmds.append(_add(_elem(_IP_PORTS, _key_any(m))))
            cmds += _probe(_OWN_ANY, _key_any(m), _NO_OWNER)
            cmds.append(_add(_elem(_PUB_IP[fam], k,
                                   {"concat": [target[fam], m.container_port]}, owner), "create"))
    return cmds


def _ok(cmds: list[dict[str, Any]], step: str = STEP_ADD, *, recreate: bool = True) -> bool:
    return _try(cmds, step, recreate=recreate)[0]


def _diagnose(ports: Sequence[PortMapping]) -> bool:
    """After a failed publish: raise the conflict of the first port that has one; return
    whether stale ``ip_ports`` hints were dropped (then publishing again may succeed)."""
    stale: dict[tuple[str, int], PortMapping] = {}
    for m in ports:
        if m.host_ip is None:
            if not _ok(_probe(_OWN_ANY, _key_any(m), _NO_OWNER)):
                raise _conflict(m)
            if not _ok(_probe(_IP_PORTS, _key_any(m))):
                stale[(m.protocol, m.host_port)] = m
        else:
            fam = _family(m.host_ip)
            if not _ok(_probe(_OWN_IP[fam], _key_ip(m), _NO_OWNER)):
                raise _conflict(m)
            if not _ok(_probe(_OWN_ANY, _key_any(m), _NO_OWNER)):
                raise _conflict(m)
    if not stale:
        return False
    sets = _sets(_list_table())
    live = set()
    for name in _OWN_IP.values():
        for key, _ in _elements(sets.get(name, {})):
            if isinstance(key, dict) and len(key.get("concat", ())) == 3:
                _, proto, port = key["concat"]
                live.add((str(proto), int(port)))
    for k, m in stale.items():
        if k in live:
            raise _conflict(m)
    _run([_add(_elem(_IP_PORTS, {"concat": list(k)}), "delete") for k in stale], STEP_ADD)
    return True


def publish(owner: str, ports: Sequence[PortMapping], ip4: str | None,
            ip6: str | None = None) -> None:
    """Publish *ports* of the container whose network namespace *owner* holds and whose
    addresses are *ip4* / *ip6*, in one transaction: either every port is published or none
    (NetworkError naming the host port that another container already publishes)."""
    _check_owner(owner)
    ports = _unique(ports)
    if not ports:
        return
    ip4, ip6 = _address(ip4, 4, "ip4"), _address(ip6, 6, "ip6")
    target = {4: ip4, 6: ip6}
    any_fams = (_FAMILY_BITS[4] if ip4 else 0) | (_FAMILY_BITS[6] if ip6 else 0)
    any_ports = {(m.protocol, m.host_port) for m in ports if m.host_ip is None}
    for m in ports:
        if m.host_ip is None:
            if not any_fams:
                raise NetworkError(STEP_ADD, f"cannot publish {m}: the container has no address")
        else:
            if (m.protocol, m.host_port) in any_ports:
                raise NetworkError(STEP_ADD, f"host port {m.host_port}/{m.protocol} is given "
                                   "twice (on every address and on one)")
            if target[_family(m.host_ip)] is None:
                raise NetworkError(STEP_ADD, f"cannot publish {m}: the container has no "
                                   f"IPv{_family(m.host_ip)} address")
    cmds = _publish_cmds(owner, ports, ip4, ip6, any_fams)
    with _netns_lock(STEP_ADD):
        for _ in range(2):
            ok, _, err = _try(cmds, STEP_ADD)
            if ok:
                with _lock:
                    _addresses[owner] = (ip4, ip6)
                    _addresses.move_to_end(owner)
                    while len(_addresses) > 4096:
                        _addresses.popitem(last=False)
                return
            if not _diagnose(ports):
                break
        raise NetworkError(STEP_ADD, err or "libnftables failed", hint=_hint(err))


def _claim(m: PortMapping) -> tuple[str, dict[str, Any]]:
    """The claim map and key of *m*."""
    if m.host_ip is None:
        return _OWN_ANY, _key_any(m)
    return _OWN_IP[_family(m.host_ip)], _key_ip(m)


def _unpublish_cmds(owner: str, m: PortMapping, any_fams: int,
                    target: dict[int, str | None]) -> list[dict[str, Any]]:
    """Delete the elements of *m* if *owner* holds them; fails if another owner does.  A
    map element whose data is known (the container's address of its family is in
    *target*) is deleted as ``add`` + ``delete`` too, a no-op when it is gone; one whose
    data is not is deleted plainly, which fails when it is gone."""
    own, key = _claim(m)
    if m.host_ip is None:
        fams = any_fams
        pubs = [(_PUB_ANY[f], f) for f in (4, 6) if any_fams & _FAMILY_BITS[f]]
    else:
        fam = _family(m.host_ip)
        fams, pubs = _FAMILY_BITS[fam], [(_PUB_IP[fam], fam)]
    cmds = [_add(_elem(own, key, _owner_data(owner, fams))), _add(_elem(own, key), "delete")]
    for name, fam in pubs:
        addr = target.get(fam)
        if addr is not None:
            cmds.append(_add(_elem(name, key, {"concat": [addr, m.container_port]})))
        cmds.append(_add(_elem(name, key), "delete"))
    return cmds


def unpublish(owner: str, ports: Sequence[PortMapping], ip4: str | None = None,
              ip6: str | None = None) -> None:
    """Unpublish *ports* of *owner*: O(len(ports)), without listing; ports already gone,
    or published by another owner since, are left alone.

    One transaction when the ports are there and their address families are known: this
    process published them, or the container's *ip4* / *ip6* (as given to :func:`publish`)
    are given — with them, ports already gone cost nothing more either.  Otherwise IPv4 is
    tried first, then both families, then IPv6 (a failing transaction costs the kernel
    ~10 ms, a succeeding one ~0.3 ms), and ports already gone are found by probing their
    claims one by one."""
    _check_owner(owner)
    ports = _unique(ports)
    if not ports:
        return
    with _lock:
        remembered = _addresses.get(owner)
    if ip4 is None and ip6 is None and remembered is not None:
        ip4, ip6 = remembered
    target = {4: _address(ip4, 4, "ip4"), 6: _address(ip6, 6, "ip6")}
    known = (_FAMILY_BITS[4] if ip4 else 0) | (_FAMILY_BITS[6] if ip6 else 0)
    guesses = [known] if known else [1, 3, 2]  # IPv4, both, IPv6
    if not any(m.host_ip is None for m in ports):
        guesses = guesses[:1]  # a port on one address: its family is its address's
    for fams in guesses:  # the common case: one transaction
        if _ok([c for m in ports for c in _unpublish_cmds(owner, m, fams, target)],
               STEP_REMOVE, recreate=False):
            return
    found: int | None = None  # the families that one of the ports turned out to have
    for m in ports:  # some are gone, or not ours
        if _ok(_probe(*_claim(m), _NO_OWNER), STEP_REMOVE, recreate=False):
            continue  # gone
        tries = [found] if found else []
        tries += [f for f in (guesses if m.host_ip is None else guesses[:1]) if f != found]
        for fams in tries:
            if _ok(_unpublish_cmds(owner, m, fams, target), STEP_REMOVE, recreate=False):
                if m.host_ip is None:
                    found = fams
                break
        # else another owner's (or ours without map elements: remove_owner collects it)


def owners() -> set[str]:
    """The owner tokens found on the elements of our maps."""
    found: set[str] = set()
    for name, s in _sets(_list_table()).items():
        if name in _MAPS:
            found.update(c for _, c in _elements(s) if c)
    return found


def remove_owner(owner: str) -> int:
    """Delete every element that *owner* holds (garbage collection after a crash) and the
    ``ip_ports`` hints nothing needs any more; returns how many published ports went."""
    _check_owner(owner)
    with _netns_lock(STEP_REMOVE):
        sets = _sets(_list_table())
        cmds: list[dict[str, Any]] = []
        gone: set[str] = set()
        live_ip: set[tuple[str, int]] = set()
        for name in _MAPS:
            for key, comment in _elements(sets.get(name, {})):
                parts = key.get("concat", []) if isinstance(key, dict) else []
                if comment == owner:
                    cmds.append(_add(_elem(name, key), "delete"))
                    gone.add(json.dumps(parts[-3:] if "_ip" in name else [None, *parts]))
                elif name in _OWN_IP.values() and len(parts) == 3:
                    live_ip.add((str(parts[1]), int(parts[2])))
        for key, _ in _elements(sets.get(_IP_PORTS, {})):
            parts = key.get("concat", []) if isinstance(key, dict) else []
            if len(parts) == 2 and (str(parts[0]), int(parts[1])) not in live_ip:
                cmds.append(_add(_elem(_IP_PORTS, key), "delete"))
        if cmds:
            _run(cmds, STEP_REMOVE)
        with _lock:
            _addresses.pop(owner, None)
        return len(gone)


def claimed_ports() -> set[tuple[str, int]]:
    """(protocol, host port) of every port that a container publishes in this network
    namespace, on any address: what a port chosen for ``-P`` must not be."""
    out: set[tuple[str, int]] = set()
    sets = _sets(_list("table") or [])
    for name in (_OWN_ANY, *_OWN_IP.values()):
        for key, _ in _elements(sets.get(name, {})):
            parts = key.get("concat", []) if isinstance(key, dict) else []
            if len(parts) >= 2:
                out.add((str(parts[-2]), int(parts[-1])))
    return out
