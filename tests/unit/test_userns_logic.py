"""Pure logic of rootless mode: /etc/subuid parsing and the diagnosis of hosts that forbid
user namespaces, over files the test writes (the real cases run in
tests/security/test_rootless.py)."""

from __future__ import annotations

import errno
import os
import pwd
from pathlib import Path

import pytest

from pycontain import userns
from pycontain.userns import userns_status


def test_subid_ranges_by_name_and_by_number(tmp_path: Path) -> None:
    me = os.geteuid()
    name = pwd.getpwuid(me).pw_name
    f = tmp_path / "subuid"
    f.write_text(
        "someone:100000:65536\n"
        f"{name}:200000:65536\n"
        "garbage line\n"
        f"{name}:bad:1\n"
        f"{me}:300000:1000\n"
        f"{name}:400000:0\n"
    )
    assert userns.subid_ranges(str(f), me) == [(200000, 65536), (300000, 1000)]
    assert userns.subid_ranges(str(tmp_path / "missing"), me) == []


def _proc_sys(tmp_path: Path, **values: str) -> str:
    for key, value in values.items():
        section, name = key.split("__")
        d = tmp_path / section
        d.mkdir(parents=True, exist_ok=True)
        (d / name).write_text(value + "\n")
    return str(tmp_path)


@pytest.mark.parametrize(("values", "status", "fix"), [
    ({"user__max_user_namespaces": "15000"}, "allowed", None),
    ({"user__max_user_namespaces": "0"}, "disabled (user.max_user_namespaces = 0)",
     "sysctl -w user.max_user_namespaces"),
    ({"user__max_user_namespaces": "15000", "kernel__unprivileged_userns_clone": "0"},
     "kernel.unprivileged_userns_clone = 0", "kernel.unprivileged_userns_clone=1"),
    ({"user__max_user_namespaces": "15000", "kernel__apparmor_restrict_unprivileged_userns": "1"},
     "AppArmor", "'userns,'"),
    ({"user__max_user_namespaces": "15000", "kernel__apparmor_restrict_unprivileged_userns": "0",
      "kernel__unprivileged_userns_clone": "1"}, "allowed", None),
])
def test_userns_status(tmp_path: Path, values: dict[str, str], status: str, fix: str | None) -> None:
    got_status, got_fix = userns_status(_proc_sys(tmp_path, **values))
    assert status in got_status
    if fix is None:
        assert got_fix is None
    else:
        assert got_fix is not None and fix in got_fix


def test_userns_hint_only_for_refusals() -> None:
    assert userns.userns_hint(errno.ENOMEM) is None
    # where the host allows user namespaces, ENOSPC points at the limits; else at the fix
    _status, fix = userns_status()
    hint = userns.userns_hint(errno.ENOSPC)
    assert hint is not None
    assert (fix in hint) if fix else ("max_user_namespaces" in hint)


def test_restricted_userns_hint_names_apparmor(tmp_path: Path) -> None:
    restricted = _proc_sys(tmp_path / "a", user__max_user_namespaces="15000",
                           kernel__apparmor_restrict_unprivileged_userns="1")
    hint = userns.restricted_userns_hint(restricted)
    assert hint is not None and "apparmor_restrict_unprivileged_userns" in hint
    allowed = _proc_sys(tmp_path / "b", user__max_user_namespaces="15000",
                        kernel__apparmor_restrict_unprivileged_userns="0")
    assert userns.restricted_userns_hint(allowed) is None
