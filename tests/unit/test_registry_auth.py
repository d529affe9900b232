"""Registry credentials and challenges: WWW-Authenticate parsing, the auths files podman and
docker write, and the progress display (on a real pseudo-terminal)."""

from __future__ import annotations

import base64
import json
import os
from pathlib import Path

import pytest

from pycontain.errors import ConfigError
from pycontain.images.auth import Credentials, find_credentials, parse_challenges
from pycontain.images.progress import TerminalProgress, for_terminal
from pycontain.images.registry import _registry_errors, api_host
from pycontain.images.transfer import _with_query


def test_bearer_challenge() -> None:
    [c] = parse_challenges('Bearer realm="https://auth.docker.io/token",'
                           'service="registry.docker.io",scope="repository:library/busybox:pull"')
    assert c.scheme == "bearer"
    assert c.params == {"realm": "https://auth.docker.io/token", "service": "registry.docker.io",
                        "scope": "repository:library/busybox:pull"}


def test_basic_and_several_challenges() -> None:
    cs = parse_challenges('Basic realm="x y", Bearer realm=https://t/token, service=s')
    assert [(c.scheme, c.params) for c in cs] == [
        ("basic", {"realm": "x y"}), ("bearer", {"realm": "https://t/token", "service": "s"})]
    [c] = parse_challenges(r'Bearer realm="a\"b",scope="repository:a:pull,push"')
    assert c.params == {"realm": 'a"b', "scope": "repository:a:pull,push"}
    assert parse_challenges("") == []


def test_credentials_basic_header_and_repr() -> None:
    c = Credentials("alice", "pa:ss")
    assert c.basic() == "Basic " + base64.b64encode(b"alice:pa:ss").decode()
    assert "pa:ss" not in repr(c)


def _auths(path: Path, auths: dict[str, object]) -> str:
    path.write_text(json.dumps({"auths": auths}))
    return str(path)


def test_find_credentials_in_auth_files(tmp_path: Path) -> None:
    enc = base64.b64encode(b"bob:pw:with:colons").decode()
    podman = _auths(tmp_path / "auth.json", {"reg.example:5000": {"auth": enc}})
    docker = _auths(tmp_path / "config.json", {
        "https://index.docker.io/v1/": {"auth": base64.b64encode(b"hub:x").decode()},
        "https://reg.example:5000": {"auth": base64.b64encode(b"other:y").decode()}})
    files = [str(tmp_path / "missing.json"), podman, docker]
    assert find_credentials("reg.example:5000", files) == Credentials("bob", "pw:with:colons")
    assert find_credentials("docker.io", files) == Credentials("hub", "x")
    assert find_credentials("quay.io", files) is None
    helper = _auths(tmp_path / "helper.json", {"quay.io": {}})  # filled by a credential helper
    assert find_credentials("quay.io", [helper]) is None


def test_find_credentials_default_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "run" / "containers").mkdir(parents=True)
    _auths(tmp_path / "run" / "containers" / "auth.json",
           {"localhost:5000": {"auth": base64.b64encode(b"a:b").decode()}})
    monkeypatch.delenv("REGISTRY_AUTH_FILE", raising=False)
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(tmp_path / "run"))
    monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path / "docker"))
    assert find_credentials("localhost:5000") == Credentials("a", "b")


@pytest.mark.parametrize(("entry", "field"), [
    ({"auth": "not base64!"}, "auths.r.io.auth"),
    ({"auth": base64.b64encode(b"no-colon").decode()}, "auths.r.io.auth"),
    ({"auth": 5}, "auths.r.io.auth"),
    ("a string", "auths.r.io"),
])
def test_bad_auth_entry_names_file_and_key(tmp_path: Path, entry: object, field: str) -> None:
    path = _auths(tmp_path / "auth.json", {"r.io": entry})
    with pytest.raises(ConfigError) as err:
        find_credentials("r.io", [path])
    assert err.value.field == f"{path}: {field}"


def test_bad_json_names_file(tmp_path: Path) -> None:
    (tmp_path / "auth.json").write_text("{")
    with pytest.raises(ConfigError, match="auth.json: not valid JSON"):
        find_credentials("r.io", [str(tmp_path / "auth.json")])


def test_registry_error_bodies_and_hosts() -> None:
    body = json.dumps({"errors": [{"code": "DENIED", "message": "requested access to the "
                                   "resource is denied"}]}).encode()
    assert _registry_errors(body) == "DENIED: requested access to the resource is denied"
    assert _registry_errors(b"<html>oops</html>") == "<html>oops</html>"
    assert api_host("docker.io") == "registry-1.docker.io"
    assert api_host("127.0.0.1:5000") == "127.0.0.1:5000"
    assert _with_query("/v2/a/blobs/uploads/u?_state=x%3D", digest="sha256:1") == \
        "/v2/a/blobs/uploads/u?_state=x%3D&digest=sha256%3A1"


def test_progress_draws_on_a_terminal_only() -> None:
    r, w = os.pipe()
    with os.fdopen(w, "w") as pipe:
        assert for_terminal(pipe) is None  # a pipe: silent
    os.close(r)
    master, slave = os.openpty()
    try:
        with os.fdopen(slave, "w", closefd=True) as tty:
            p = for_terminal(tty)
            assert isinstance(p, TerminalProgress)
            a, b = "sha256:" + "a" * 64, "sha256:" + "b" * 64
            p.start(a, 2_000_000, "layer")
            p.start(b, 10, "config")
            p.advance(a, 1_000_000)
            p.done(b, "exists")
            p.advance(a, 1_000_000)
            p.done(a, "done")
        # a pty hands its output over in pieces: read until it has no more
        import select

        chunks = []
        while select.select([master], [], [], 0.5)[0]:
            try:
                data = os.read(master, 1 << 16)
            except OSError:   # EIO: the slave side is closed and drained
                break
            if not data:
                break
            chunks.append(data)
        out = b"".join(chunks).decode()
    finally:
        os.close(master)
    assert "aaaaaaaaaaaa layer" in out and "already there" in out
    assert "2.0 MB / 2.0 MB  done" in out
    assert "\x1b[2F" in out  # redrawn in place: back up over the two lines
