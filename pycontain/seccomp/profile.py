"""A seccomp profile given as a file, as ``docker run --security-opt seccomp=FILE`` reads one:
Docker's extended format (``archMap``, ``name``, ``includes``/``excludes``, ``comment``) or
a plain OCI ``linux.seccomp`` object, which is the same JSON without the extensions.

Docker hands such a profile to its daemon, which resolves it for the container's
capabilities and architecture; here :func:`check` refuses a bad field before anything is
made, with the JSON path of the field as it is *in the file* (a rule dropped by its
``includes`` would otherwise shift the index the compiler names), and :func:`resolve` turns it
into the OCI object that :func:`~pycontain.seccomp.compile_profile` takes, compiled once so
that a rule libseccomp refuses is also an error now.

Stricter than Docker, on purpose: a field Docker does not know is an error (Go's decoder
ignores it, so a typo such as ``"acton"`` silently becomes a rule with no action), and so is
a profile without ``defaultAction`` (Docker runs a profile with neither ``defaultAction`` nor
``syscalls`` unconfined, which ``seccomp=unconfined`` says plainly).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from typing import Any

from ..errors import ConfigError
from ..lowlevel.kernel import CAPABILITIES
from ._fields import check_keys, objects, quote

__all__ = ["check", "load", "resolve"]

_TOP = frozenset({"defaultAction", "defaultErrnoRet", "architectures", "archMap", "syscalls",
                  "flags", "listenerPath", "listenerMetadata"})
_SYSCALL = frozenset({"name", "names", "action", "errnoRet", "args", "comment", "includes",
                      "excludes"})
_FILTER = frozenset({"caps", "arches", "minKernel"})
_ARCH_ENTRY = frozenset({"architecture", "subArchitectures"})
#: where the compiler's own checks run on the profile: a prefix stripped from its paths
_ROOT = "profile"


def load(path: str) -> dict[str, Any]:
    """The profile in the file at *path*, checked (:func:`check`).  A file that cannot be
    read is an :class:`OSError`; one that is not JSON, or a bad field, a
    :class:`~pycontain.errors.ConfigError` whose field is the JSON path ("" for the file as
    a whole)."""
    with open(path, "rb") as f:
        data = f.read()
    try:
        profile = json.loads(data)
    except (ValueError, UnicodeDecodeError) as err:
        raise ConfigError("", f"not JSON: {err}") from None
    check(profile)
    return profile  # type: ignore[no-any-return]


def check(profile: Any) -> None:
    """Refuse a profile that Docker's format does not allow, naming the JSON path of the
    first bad field."""
    if not isinstance(profile, Mapping):
        raise ConfigError("", f"expected a JSON object, got {_q(profile)}")
    check_keys("", profile, _TOP)
    if "defaultAction" not in profile:
        raise ConfigError("defaultAction", "missing (seccomp=unconfined runs without a "
                          "profile)")
    if profile.get("architectures") and profile.get("archMap"):
        raise ConfigError("archMap", "give either architectures or archMap, not both")
    from .compile import ARCHITECTURES

    for p, entry in _objects("archMap", profile.get("archMap"), _ARCH_ENTRY):
        arch = entry.get("architecture")
        if arch not in ARCHITECTURES:
            raise ConfigError(f"{p}.architecture", f"unknown architecture {_q(arch)}")
        subs = entry.get("subArchitectures") or []
        if not isinstance(subs, list):
            raise ConfigError(f"{p}.subArchitectures", f"expected a list, got {_q(subs)}")
        for j, sub in enumerate(subs):
            if sub not in ARCHITECTURES:
                raise ConfigError(f"{p}.subArchitectures[{j}]",
                                  f"unknown architecture {_q(sub)}")
    plain: list[dict[str, Any]] = []   # each rule as the compiler takes it, at its own index
    for p, call in _objects("syscalls", profile.get("syscalls"), _SYSCALL):
        names = call.get("names")
        if call.get("name") is not None:
            if names:
                raise ConfigError(f"{p}.name", "give either name or names, not both")
            if not isinstance(call["name"], str):
                raise ConfigError(f"{p}.name", f"expected a string, got {_q(call['name'])}")
            names = [call["name"]]
        if call.get("comment") is not None and not isinstance(call["comment"], str):
            raise ConfigError(f"{p}.comment", f"expected a string, got {_q(call['comment'])}")
        for key in ("includes", "excludes"):
            if call.get(key) is not None:
                _filter(f"{p}.{key}", call[key])
        plain.append({**{k: v for k, v in call.items() if k in ("action", "errnoRet", "args")},
                      **({"names": names} if names is not None else {})})
    oci = {k: v for k, v in profile.items() if k not in ("archMap", "syscalls")}
    oci["syscalls"] = plain
    from .compile import parse

    try:
        parse(oci, _ROOT)
    except ConfigError as err:
        raise _relabel(err, lambda i: i) from None


def resolve(profile: Mapping[str, Any], capabilities: Iterable[str] | Any) -> dict[str, Any]:
    """A checked Docker-format *profile* -> the OCI ``linux.seccomp`` object for a container
    whose bounding set is *capabilities*, on this machine's architecture and kernel (as
    dockerd resolves it).  It is compiled once here (and so cached): an error names the rule
    by its index in the file."""
    from .cache import compile_profile
    from .default import resolve_docker_profile

    check(profile)
    out = resolve_docker_profile(profile, capabilities)
    try:
        compile_profile(out, path=_ROOT)
    except ConfigError as err:
        raise _relabel(err, _kept(profile, capabilities)) from None
    return out


def _kept(profile: Mapping[str, Any], capabilities: Any) -> Any:
    """Index in the resolved profile -> index in the file: the rules kept, found by resolving
    each on its own (only on an error, so the common path resolves once)."""
    from .default import resolve_docker_profile

    base = {k: v for k, v in profile.items() if k != "syscalls"}
    kept = [i for i, call in enumerate(profile.get("syscalls") or ())
            if resolve_docker_profile({**base, "syscalls": [call]}, capabilities)["syscalls"]]
    return lambda i: kept[i] if i < len(kept) else i


def _relabel(err: ConfigError, index_in_file: Any) -> ConfigError:
    """The compiler's error with its path as it is in the file (no prefix, file indices)."""
    field = err.field
    field = "" if field == _ROOT else field.removeprefix(_ROOT + ".")
    m = re.match(r"syscalls\[(\d+)\]", field)
    if m:
        field = f"syscalls[{index_in_file(int(m.group(1)))}]{field[m.end():]}"
    return ConfigError(field, str(err.args[0]).removeprefix(f"{err.field}: "), hint=err.hint)


def _filter(path: str, value: Any) -> None:
    """An ``includes`` or ``excludes`` object: capabilities, Docker's architecture names,
    a kernel version."""
    if not isinstance(value, Mapping):
        raise ConfigError(path, f"expected an object, got {_q(value)}")
    check_keys(path, value, _FILTER)
    for key in ("caps", "arches"):
        items = value.get(key)
        if items is None:
            continue
        if not isinstance(items, list):
            raise ConfigError(f"{path}.{key}", f"expected a list of strings, got {_q(items)}")
        for i, item in enumerate(items):
            if not isinstance(item, str) or not item:
                raise ConfigError(f"{path}.{key}[{i}]",
                                  f"expected a non-empty string, got {_q(item)}")
            if key == "caps" and item not in CAPABILITIES:
                # a misspelt name would never match, and its rule would silently never apply
                raise ConfigError(f"{path}.{key}[{i}]", f"unknown capability {_q(item)} "
                                  "(names as CAP_SYS_ADMIN)")
    kernel = value.get("minKernel")
    if kernel is not None and not (isinstance(kernel, str)
                                   and re.fullmatch(r"\d+\.\d+", kernel)):
        raise ConfigError(f"{path}.minKernel",
                          f"expected a kernel version like \"4.8\", got {_q(kernel)}")


#: a value quoted in an error is cut to this many characters (a file's value can be long)
_QUOTE_LIMIT = 60


def _objects(path: str, value: Any, allowed: frozenset[str]
             ) -> list[tuple[str, Mapping[str, Any]]]:
    return objects(path, value, allowed, limit=_QUOTE_LIMIT)


def _q(value: object) -> str:
    return quote(value, _QUOTE_LIMIT)
