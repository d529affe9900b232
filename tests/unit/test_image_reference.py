"""Image references parse and normalise as the Docker CLI does; bad ones name the part."""

from __future__ import annotations

import pytest

from pycontain.errors import ConfigError
from pycontain.images.reference import check_digest, parse_reference

D = "sha256:" + "ab" * 32


@pytest.mark.parametrize(("ref", "name", "tag", "digest", "familiar"), [
    ("busybox", "docker.io/library/busybox", "latest", None, "busybox"),
    ("busybox:1.36", "docker.io/library/busybox", "1.36", None, "busybox"),
    ("library/busybox:1.36", "docker.io/library/busybox", "1.36", None, "busybox"),
    ("docker.io/busybox", "docker.io/library/busybox", "latest", None, "busybox"),
    ("index.docker.io/library/busybox", "docker.io/library/busybox", "latest", None,
     "busybox"),
    ("user/app", "docker.io/user/app", "latest", None, "user/app"),
    ("localhost/app", "localhost/app", "latest", None, "localhost/app"),
    ("localhost:5000/a/b@" + D, "localhost:5000/a/b", None, D, "localhost:5000/a/b"),
    ("quay.io/org/img:v1@" + D, "quay.io/org/img", "v1", D, "quay.io/org/img"),
    ("127.0.0.1:5000/x_y.z-w:T_a.g-1", "127.0.0.1:5000/x_y.z-w", "T_a.g-1", None,
     "127.0.0.1:5000/x_y.z-w"),
    ("[::1]:5000/app", "[::1]:5000/app", "latest", None, "[::1]:5000/app"),
])
def test_parse(ref: str, name: str, tag: str | None, digest: str | None,
               familiar: str) -> None:
    r = parse_reference(ref)
    assert (r.name, r.tag, r.digest, r.familiar_name) == (name, tag, digest, familiar)
    # the canonical string parses back to itself
    assert parse_reference(str(r)) == r


def test_bare_repository_keeps_no_tag() -> None:
    assert parse_reference("busybox", default_tag=None).tag is None


@pytest.mark.parametrize(("ref", "message"), [
    ("", "expected an image reference"),
    ("Busybox", "must be lowercase"),
    ("busybox:", "invalid tag"),
    ("busybox:.hidden", "invalid tag"),
    ("busybox:" + "t" * 129, "invalid tag"),
    ("busy--box_", "is not valid"),
    ("a//b", "is not valid"),
    ("busybox@sha256:abc", "sha256 digest needs 64"),
    ("busybox@md5:" + "a" * 32, "not a digest"),
    ("busybox@sha256:" + "AB" * 32, "lowercase hex"),
    ("bad_host:5000/app", "invalid registry"),
    ("-bad.host/app", "invalid registry"),
    ("a/" + "b" * 260, "longer than 255"),
])
def test_bad_references_name_the_field(ref: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message) as err:
        parse_reference(ref, field="image")
    assert err.value.field.startswith("image")


def test_check_digest() -> None:
    assert check_digest(D) == D
    assert check_digest("sha512:" + "0" * 128)
    with pytest.raises(ConfigError, match="layers"):
        check_digest(42, "layers")
