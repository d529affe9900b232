"""Index, manifest and config parsing: OCI and Docker schema2, errors naming the JSON path,
platform selection, chain IDs."""

from __future__ import annotations

import hashlib
import json
from typing import Any

import pytest

from pycontain.errors import ConfigError, InvalidImage
from pycontain.images.manifest import (
    DOCKER_LIST,
    DOCKER_MANIFEST,
    OCI_INDEX,
    OCI_MANIFEST,
    Platform,
    host_platform,
    parse_config,
    parse_index,
    parse_manifest,
    select_platform,
)
from pycontain.storage.layers import chain_ids

D1, D2, D3 = ("sha256:" + c * 64 for c in "123")


def _desc(mt: str, digest: str = D1, size: int = 10, **kw: Any) -> dict[str, Any]:
    return {"mediaType": mt, "digest": digest, "size": size, **kw}


def _manifest(**over: Any) -> dict[str, Any]:
    m = {"schemaVersion": 2, "mediaType": OCI_MANIFEST,
         "config": _desc("application/vnd.oci.image.config.v1+json"),
         "layers": [_desc("application/vnd.oci.image.layer.v1.tar+gzip", D2),
                    _desc("application/vnd.oci.image.layer.v1.tar+zstd", D3),
                    _desc("application/vnd.oci.image.layer.v1.tar", D3)]}
    m.update(over)
    return m


def test_oci_and_docker_manifests() -> None:
    m = parse_manifest(json.dumps(_manifest()).encode())
    assert [x.digest for x in m.layers] == [D2, D3, D3] and m.config.digest == D1
    docker = _manifest(mediaType=DOCKER_MANIFEST,
                       config=_desc("application/vnd.docker.container.image.v1+json"),
                       layers=[_desc("application/vnd.docker.image.rootfs.diff.tar.gzip")])
    assert parse_manifest(docker).media_type == DOCKER_MANIFEST
    no_type = _manifest()
    del no_type["mediaType"]
    assert parse_manifest(no_type).media_type == OCI_MANIFEST


@pytest.mark.parametrize(("change", "path", "message"), [
    ({"schemaVersion": 1}, "schemaVersion", "expected 2"),
    ({"mediaType": "text/plain"}, "mediaType", "expected one of"),
    ({"layers": [{"mediaType": "x"}]}, r"layers\[0\]\.digest", "missing"),
    ({"layers": [_desc("application/vnd.oci.image.layer.v1.tar", "sha256:xyz")]},
     r"layers\[0\]\.digest", "64 lowercase hex"),
    ({"layers": [_desc("application/vnd.oci.image.layer.v1.tar", size=-1)]},
     r"layers\[0\]\.size", "negative"),
    ({"layers": [_desc("application/vnd.oci.image.layer.v1.tar", size="1")]},
     r"layers\[0\]\.size", "expected int"),
    ({"layers": [_desc("application/x-bzip2")]}, r"layers\[0\]\.mediaType", "unsupported"),
    ({"config": _desc("application/json")}, r"config\.mediaType", "not an image config"),
    ({"layers": "none"}, "layers", "expected list"),
])
def test_manifest_errors_name_the_path(change: dict[str, Any], path: str,
                                       message: str) -> None:
    with pytest.raises(InvalidImage, match=f"^{path}: .*{message}.*in manifest") as err:
        parse_manifest(_manifest(**change))
    assert isinstance(err.value, ConfigError)


def test_index_and_its_errors() -> None:
    idx = {"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": [
        _desc(OCI_MANIFEST, D1, platform={"architecture": "amd64", "os": "linux"}),
        _desc(OCI_MANIFEST, D2, platform={"architecture": "arm64", "os": "linux",
                                          "variant": "v8"})]}
    i = parse_index(json.dumps(idx).encode(), "index.json")
    assert [m.platform for m in i.manifests] == [Platform("amd64", "linux"),
                                                 Platform("arm64", "linux", "v8")]
    assert parse_index({**idx, "mediaType": DOCKER_LIST}).media_type == DOCKER_LIST
    bad = {**idx, "manifests": [idx["manifests"][0], {"mediaType": OCI_MANIFEST,
                                                      "digest": "sha256:1", "size": 1}]}
    with pytest.raises(InvalidImage, match=r"^manifests\[1\]\.digest: .*in index.json"):
        parse_index(bad, "index.json")
    with pytest.raises(InvalidImage, match=r"manifests\[0\]\.platform\.os: missing"):
        parse_index({**idx, "manifests": [_desc(OCI_MANIFEST, platform={"architecture": "x"})]})
    with pytest.raises(InvalidImage, match="not valid JSON"):
        parse_index(b"{nope")


def test_select_platform() -> None:
    idx = parse_index({"schemaVersion": 2, "manifests": [
        _desc("application/vnd.in-toto+json", D3,
              platform={"architecture": "unknown", "os": "unknown"}),
        _desc(OCI_MANIFEST, D1, platform={"architecture": "amd64", "os": "linux"}),
        _desc(OCI_MANIFEST, D2, platform={"architecture": "arm64", "os": "linux",
                                          "variant": "v8"}),
        _desc(OCI_MANIFEST, D3, platform={"architecture": "arm", "os": "linux",
                                          "variant": "v7"})]})
    assert select_platform(idx, Platform("amd64", "linux")).digest == D1
    assert select_platform(idx, Platform("arm64", "linux")).digest == D2
    assert select_platform(idx, Platform("arm64", "linux", "v8")).digest == D2
    assert select_platform(idx, Platform("arm", "linux", "v7")).digest == D3
    with pytest.raises(InvalidImage, match="no image for platform linux/arm/v6 .*linux/amd64"):
        select_platform(idx, Platform("arm", "linux", "v6"))
    assert host_platform().os == "linux"


def test_config() -> None:
    cfg = {"architecture": "amd64", "os": "linux", "config": {"Cmd": ["sh"]},
           "rootfs": {"type": "layers", "diff_ids": [D1, D2]}}
    c = parse_config(json.dumps(cfg).encode())
    assert c.diff_ids == (D1, D2) and c.platform == Platform("amd64", "linux")
    assert c.raw["config"]["Cmd"] == ["sh"]
    with pytest.raises(InvalidImage, match=r"^rootfs\.diff_ids\[1\]: "):
        parse_config({**cfg, "rootfs": {"type": "layers", "diff_ids": [D1, "x"]}})
    with pytest.raises(InvalidImage, match=r"^rootfs\.type: "):
        parse_config({**cfg, "rootfs": {"type": "other", "diff_ids": []}})
    with pytest.raises(InvalidImage, match=r"^config\.Env: expected a list of strings"):
        parse_config({**cfg, "config": {"Env": [1]}})
    with pytest.raises(InvalidImage, match=r"^architecture: missing"):
        parse_config({"os": "linux", "rootfs": cfg["rootfs"]})


def test_chain_ids() -> None:
    """The image spec's definition, by hand."""
    c2 = "sha256:" + hashlib.sha256(f"{D1} {D2}".encode()).hexdigest()
    c3 = "sha256:" + hashlib.sha256(f"{c2} {D3}".encode()).hexdigest()
    assert chain_ids([D1, D2, D3]) == [D1, c2, c3]
    assert chain_ids([]) == []
