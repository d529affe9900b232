"""The OCI runtime's HOME from a container's /etc/passwd (read inside its root) and its
capability names that this kernel cannot grant (warned about and left out)."""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import pytest

from pycontain.lowlevel.inroot import open_in_root, read_in_root
from pycontain.oci import SpecWarning, convert

# -- passwd -------------------------------------------------------------------------------------

PASSWD = (b"root:x:0:0:root:/root:/bin/sh\n"
          b"# a comment:x:1000:1000::/not/this:/bin/sh\n"
          b"\n"
          b"broken:x:notanumber:1::/nope:/bin/sh\n"
          b"u:x:1000:1000:a user:/home/u:/bin/sh\n"
          b"again:x:1000:1000::/second:/bin/sh\n"
          b"nohome:x:7:7:::/bin/sh\n"
          b"short:x:8\n")


@pytest.mark.parametrize("uid, home", [
    (0, "/root"), (1000, "/home/u"), (7, "/"), (8, "/"), (4242, "/"),
])
def test_passwd_home(uid: int, home: str) -> None:
    assert convert.passwd_home(PASSWD, uid) == home


def test_passwd_home_without_file() -> None:
    assert convert.passwd_home(None, 0) == "/"
    assert convert.passwd_home(b"", 0) == "/"


# -- reading inside a root ------------------------------------------------------------------


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    root = tmp_path / "root"
    (root / "etc" / "sub").mkdir(parents=True)
    (root / "etc" / "passwd").write_text("inside\n")
    (tmp_path / "secret").write_text("outside\n")
    return root


def test_read_in_root_plain_and_through_inner_symlinks(tree: Path) -> None:
    assert read_in_root(str(tree), "/etc/passwd", 100) == b"inside\n"
    (tree / "etc" / "abs").symlink_to("/etc/passwd")
    (tree / "etc" / "sub" / "rel").symlink_to("../passwd")
    (tree / "lnkdir").symlink_to("etc")
    assert read_in_root(str(tree), "/etc/abs", 100) == b"inside\n"
    assert read_in_root(str(tree), "/etc/sub/rel", 100) == b"inside\n"
    assert read_in_root(str(tree), "/lnkdir/./sub/../passwd", 100) == b"inside\n"


@pytest.mark.parametrize("target", [
    "../secret",                       # relative, climbing out of the root
    "../../secret",
    "/../secret",                      # absolute with ..
])
def test_read_in_root_never_leaves_the_root(tree: Path, target: str) -> None:
    link = tree / "etc" / "link"
    link.symlink_to(target)
    # where the host would resolve it (the link is in etc/): nothing there inside the root
    assert read_in_root(str(tree), "/etc/link", 100) is None
    assert read_in_root(str(tree), "/../../secret", 100) is None
    assert read_in_root(str(tree), "/etc/../../secret", 100) is None


def test_read_in_root_an_absolute_link_to_a_host_path(tree: Path, tmp_path: Path) -> None:
    (tree / "etc" / "link").symlink_to(str(tmp_path / "secret"))
    assert os.path.exists(tree / "etc" / "link")  # from the host it is there
    assert read_in_root(str(tree), "/etc/link", 100) is None


def test_read_in_root_limit_loop_and_non_files(tree: Path) -> None:
    (tree / "big").write_bytes(b"x" * 10000)
    assert read_in_root(str(tree), "/big", 100) == b"x" * 100
    (tree / "a").symlink_to("b")
    (tree / "b").symlink_to("a")
    assert read_in_root(str(tree), "/a", 100) is None        # ELOOP
    os.mkfifo(tree / "fifo")
    assert read_in_root(str(tree), "/fifo", 100) is None     # never opened (it would block)
    assert read_in_root(str(tree), "/etc", 100) is None      # a directory
    assert read_in_root(str(tree), "/etc/passwd/x", 100) is None
    assert read_in_root(str(tree / "nope"), "/etc/passwd", 100) is None


def test_open_in_root_of_an_fd(tree: Path) -> None:
    root = os.open(tree, os.O_PATH | os.O_DIRECTORY)
    try:
        fd = open_in_root(root, "/etc/sub/..")
        try:
            assert os.path.samestat(os.fstat(fd), os.stat(tree / "etc"))
        finally:
            os.close(fd)
        assert read_in_root(root, "etc/passwd", 100) == b"inside\n"
        os.fstat(root)  # still open: the caller's
    finally:
        os.close(root)


# -- capabilities ---------------------------------------------------------------------------


def test_known_capabilities_warns_and_drops_unknown_names() -> None:
    with pytest.warns(SpecWarning) as got:
        kept = convert.known_capabilities(["CAP_KILL", "CAP_FOO", "kill", "CAP_CHOWN"], "f")
    assert kept == ["CAP_KILL", "CAP_CHOWN"]
    assert [str(w.message).split(":")[0] for w in got] == ["f[1]", "f[2]"]


def test_known_capabilities_drops_names_beyond_this_kernel(monkeypatch) -> None:
    """A name pycontain knows but the running kernel does not (cap_last_cap is lower):
    an older kernel, simulated by its number."""
    monkeypatch.setattr(convert, "CAP_LAST_CAP", 37)   # before Linux 5.8: no CAP_PERFMON, CAP_BPF
    with pytest.warns(SpecWarning, match=r"f\[1\]: capability CAP_BPF is not available"):
        assert convert.known_capabilities(["CAP_KILL", "CAP_BPF"], "f") == ["CAP_KILL"]


def test_known_capabilities_non_string_is_an_error_naming_it() -> None:
    from pycontain.errors import ConfigError

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SpecWarning)
        with pytest.raises(ConfigError) as err:
            convert.known_capabilities(["CAP_FOO", 5], "f")  # type: ignore[list-item]
    assert err.value.field == "f[1]"


def test_process_fields_leaves_unknown_capabilities_out() -> None:
    from pycontain.oci.spec import load_process

    proc = load_process({"args": ["x"], "cwd": "/", "capabilities": {
        "bounding": ["CAP_KILL", "CAP_NOPE"], "effective": ["CAP_NOPE"]}})
    with pytest.warns(SpecWarning) as got:
        caps = convert.process_fields(proc)["caps"]
    assert caps == (1 << 5, 0, 0, 0, 0)
    assert [str(w.message).split(":")[0] for w in got] == [
        "process.capabilities.bounding[1]", "process.capabilities.effective[0]"]
