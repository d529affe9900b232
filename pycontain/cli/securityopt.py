"""Docker's ``--security-opt`` for ``pycontain run`` (foreground and ``-d``), with
pycontain's own ``--seccomp`` as an alias.

The values Docker takes, split on the first ``=`` (or, the old spelling, ``:``):

* ``seccomp=unconfined``; ``seccomp=builtin`` (Docker's name for its default profile);
  ``seccomp=FILE``: a profile in Docker's format or a plain OCI ``linux.seccomp`` object,
  read now (as Docker's client reads it), resolved for the container's capabilities;
* ``no-new-privileges`` (``=true``/``=false``, Go's boolean spellings): pycontain sets
  ``no_new_privs`` by default, where Docker does not; ``=false`` turns it off;
* ``apparmor=unconfined``, ``label=disable``: pycontain confines with neither, so these
  hold already; any other AppArmor profile or SELinux label is refused.

As in Docker, ``inspect`` shows the values given, a file's replaced by its JSON.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pycontain.errors import ConfigError
from pycontain.lowlevel import jsontext
from pycontain.lowlevel.record import Record

from ._gobool import GO_BOOLS

FLAG = "--security-opt"
#: Docker's special seccomp values; any other is a file
BUILTIN, UNCONFINED = "builtin", "unconfined"


class SecurityOpts(Record):
    """What the options ask for.  *seccomp*: ``default``, ``unconfined`` or ``profile``
    (then *profile* is the file's profile as read, from *source*); *no_new_privileges*: None
    when not given; *strings*: the values as ``inspect`` shows them."""

    seccomp: str = "default"
    profile: Any = None
    source: str | None = None
    no_new_privileges: bool | None = None
    strings: tuple[str, ...] = ()

    def resolved(self, capabilities: Any) -> dict[str, Any] | None:
        """The file's profile as an OCI ``linux.seccomp`` object for a container with
        *capabilities* (checked by compiling it); None without a file."""
        if self.profile is None:
            return None
        from pycontain.seccomp.profile import resolve

        try:
            return resolve(self.profile, capabilities)
        except ConfigError as err:
            raise _file_error(self.source or "", err) from None

    def container_kw(self, capabilities: Any) -> dict[str, Any]:
        """The :class:`~pycontain.Container` keywords these options set."""
        kw: dict[str, Any] = {}
        if self.seccomp == "unconfined":
            kw["seccomp"] = None
        elif self.seccomp == "profile":
            from pycontain.seccomp import compile_profile

            compiled = compile_profile(self.resolved(capabilities))   # a cache hit
            kw.update(seccomp=compiled.bpf, seccomp_flags=compiled.flags)
        if self.no_new_privileges is not None:
            kw["no_new_privileges"] = self.no_new_privileges
        return kw


def parse(values: Sequence[str], seccomp_flag: str | None = None) -> SecurityOpts:
    """The ``--security-opt`` *values* and ``--seccomp`` (*seccomp_flag*, None when not
    given) -> :class:`SecurityOpts`.  Each bad value is one :class:`ConfigError` naming the
    flag and the value; a profile file is read and checked here."""
    seccomp: dict[str, str] = {}   # the value as given -> what it means
    nnp: set[bool] = set()
    strings: list[str] = []
    profile: Any = None
    source: str | None = None
    for opt in values:
        key, sep, value = opt.partition("=")
        if not sep:
            key, sep, value = opt.partition(":")   # Docker's old spelling
        if key == "no-new-privileges" and not sep:
            value, sep = "true", "="
        if not sep or not value:
            raise ConfigError(FLAG, f"{opt!r}: expected KEY=VALUE (or no-new-privileges)")
        shown = opt
        if key == "seccomp":
            if value in (BUILTIN, UNCONFINED):
                seccomp[value] = "default" if value == BUILTIN else "unconfined"
            else:
                profile, source = _read(value), value
                seccomp[value] = "profile"
                # Docker's client sends the file's content, and inspect shows that
                shown = "seccomp=" + jsontext.dumps(profile, separators=(",", ":"))
        elif key == "no-new-privileges":
            if value not in GO_BOOLS:
                raise ConfigError(FLAG, f"{opt!r}: no-new-privileges is true or false")
            nnp.add(GO_BOOLS[value])
        elif key == "apparmor":
            if value != "unconfined":
                raise ConfigError(FLAG, f"{opt!r}: pycontain does not confine with AppArmor "
                                  "(only apparmor=unconfined)")
        elif key == "label":
            if value != "disable":
                raise ConfigError(FLAG, f"{opt!r}: pycontain does not use SELinux labels "
                                  "(only label=disable)")
        else:
            raise ConfigError(FLAG, f"{opt!r}: unknown option (seccomp=, no-new-privileges, "
                              "apparmor=unconfined, label=disable)")
        if shown not in strings:
            strings.append(shown)
    if len(seccomp) > 1:
        given = ", ".join(f"seccomp={v}" for v in seccomp)
        raise ConfigError(FLAG, f"more than one seccomp profile: {given}")
    if len(nnp) > 1:
        raise ConfigError(FLAG, "no-new-privileges given both true and false")
    mode = next(iter(seccomp.values()), "default")
    if seccomp_flag is not None:
        if seccomp and seccomp_flag != mode:
            raise ConfigError("--seccomp", f"{seccomp_flag} conflicts with {FLAG} "
                              f"seccomp={next(iter(seccomp))}")
        mode = seccomp_flag
        if mode == "unconfined" and "seccomp=unconfined" not in strings:
            strings.append("seccomp=unconfined")   # the alias, as Docker would show it
    return SecurityOpts(seccomp=mode, profile=profile, source=source,
                        no_new_privileges=nnp.pop() if nnp else None, strings=tuple(strings))


def _read(path: str) -> Any:
    """The profile in *path*, checked; one error naming the file and the field at fault."""
    import os

    from pycontain.seccomp.profile import load

    try:
        return load(path)
    except OSError as err:
        hint = ""
        if path == "default" and not os.path.exists(path):
            hint = " (Docker's default profile is seccomp=builtin)"
        raise ConfigError(FLAG, f"seccomp={path}: cannot read the profile: "
                          f"{err.strerror or err}{hint}") from None
    except ConfigError as err:
        raise _file_error(path, err) from None


def _file_error(path: str, err: ConfigError) -> ConfigError:
    msg = str(err.args[0]).removeprefix(f"{err.field}: ")
    where = f"{err.field}: " if err.field else ""
    return ConfigError(FLAG, f"seccomp={path}: {where}{msg}", hint=err.hint)
