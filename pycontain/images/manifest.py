"""The OCI image JSON documents (index, manifest, config) and Docker's schema2 twins.

Parsing is strict about what pycontain relies on (digests, sizes, media types, the config's
``rootfs.diff_ids``) and lenient about the rest, which is kept as read (``raw``) for the
later steps that turn a config into a container's defaults.  Every error names the JSON
path at fault (``manifests[0].digest``) and the document it is in.
"""

from __future__ import annotations

import os
from typing import Any

from pycontain.errors import ConfigError, InvalidImage
from pycontain.images.reference import check_digest
from pycontain.lowlevel import jsontext
from pycontain.lowlevel.record import Record

__all__ = [
    "CONFIG_TYPES", "INDEX_TYPES", "LAYER_TYPES", "MANIFEST_TYPES", "Descriptor",
    "ImageConfig", "Index", "Manifest", "Platform", "host_platform", "parse_config",
    "parse_index", "parse_manifest", "select_platform",
]

OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER = "application/vnd.oci.image.layer.v1.tar"
OCI_LAYER_GZIP = OCI_LAYER + "+gzip"
OCI_LAYER_ZSTD = OCI_LAYER + "+zstd"
DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_CONFIG = "application/vnd.docker.container.image.v1+json"
DOCKER_LAYER = "application/vnd.docker.image.rootfs.diff.tar"
DOCKER_LAYER_GZIP = DOCKER_LAYER + ".gzip"
DOCKER_LAYER_ZSTD = DOCKER_LAYER + ".zstd"

INDEX_TYPES = frozenset({OCI_INDEX, DOCKER_LIST})
MANIFEST_TYPES = frozenset({OCI_MANIFEST, DOCKER_MANIFEST})
CONFIG_TYPES = frozenset({OCI_CONFIG, DOCKER_CONFIG})
#: layer media type -> the compression it names ("" for a plain tar)
LAYER_TYPES: dict[str, str] = {
    OCI_LAYER: "", OCI_LAYER_GZIP: "gzip", OCI_LAYER_ZSTD: "zstd",
    "application/vnd.oci.image.layer.nondistributable.v1.tar": "",
    "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip": "gzip",
    "application/vnd.oci.image.layer.nondistributable.v1.tar+zstd": "zstd",
    DOCKER_LAYER: "", DOCKER_LAYER_GZIP: "gzip", DOCKER_LAYER_ZSTD: "zstd",
    "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip": "gzip",
}

#: the most JSON a document may hold: a manifest of thousands of layers is far below it
MAX_DOCUMENT = 4 << 20


class Platform(Record):
    """What an image runs on, in Go's words (``amd64``, ``arm64``/``v8``, ``linux``)."""

    architecture: str
    os: str
    variant: str | None = None

    def __str__(self) -> str:
        return f"{self.os}/{self.architecture}" + (f"/{self.variant}" if self.variant else "")


class Descriptor(Record):
    """A typed, sized pointer to a blob by its digest."""

    media_type: str
    digest: str
    size: int
    platform: Platform | None = None
    annotations: dict[str, str] | None = None

    def to_json(self) -> dict[str, Any]:
        d: dict[str, Any] = {"mediaType": self.media_type, "digest": self.digest,
                             "size": self.size}
        if self.platform is not None:
            d["platform"] = {"architecture": self.platform.architecture, "os": self.platform.os}
            if self.platform.variant:
                d["platform"]["variant"] = self.platform.variant
        if self.annotations:
            d["annotations"] = dict(self.annotations)
        return d


class Index(Record):
    """An image index (OCI) or manifest list (Docker): manifests, one per platform."""

    media_type: str
    manifests: tuple[Descriptor, ...]
    annotations: dict[str, str] | None = None


class Manifest(Record):
    """One image: its config and its layers, bottom first."""

    media_type: str
    config: Descriptor
    layers: tuple[Descriptor, ...]
    annotations: dict[str, str] | None = None


class ImageConfig(Record):
    """The image's config: platform, the layers' uncompressed digests, and the rest kept
    as read (``raw["config"]`` holds Entrypoint, Cmd, Env ...)."""

    platform: Platform
    diff_ids: tuple[str, ...]
    raw: dict[str, Any]


class _Doc:
    """Typed access to one JSON document, with errors that name the path."""

    def __init__(self, source: str) -> None:
        self.source = source

    def fail(self, path: str, message: str) -> InvalidImage:
        return InvalidImage(path, f"{message} (in {self.source})")

    def get(self, obj: dict[str, Any], key: str, path: str, kind: type | tuple[type, ...],
            required: bool = True) -> Any:
        here = f"{path}.{key}" if path else key
        if key not in obj or obj[key] is None:
            if required:
                raise self.fail(here, "missing")
            return None
        v = obj[key]
        kinds = kind if isinstance(kind, tuple) else (kind,)
        if not isinstance(v, kinds) or (isinstance(v, bool) and bool not in kinds):
            names = " or ".join(k.__name__ for k in kinds)
            raise self.fail(here, f"expected {names}, got {type(v).__name__}")
        return v

    def strings(self, obj: dict[str, Any], key: str, path: str) -> dict[str, str] | None:
        d = self.get(obj, key, path, dict, required=False)
        if d is None:
            return None
        for k, v in d.items():
            if not isinstance(v, str):
                raise self.fail(f"{path}.{key}.{k}" if path else f"{key}.{k}", "expected str")
        return dict(d)

    def digest(self, obj: dict[str, Any], key: str, path: str) -> str:
        v = self.get(obj, key, path, str)
        try:
            return check_digest(v)
        except ConfigError as err:
            raise self.fail(f"{path}.{key}" if path else key,
                            str(err).removeprefix("digest: ")) from None

    def platform(self, obj: dict[str, Any], path: str) -> Platform:
        arch = self.get(obj, "architecture", path, str)
        os_ = self.get(obj, "os", path, str)
        variant = self.get(obj, "variant", path, str, required=False)
        return Platform(arch, os_, variant or None)

    def descriptor(self, obj: Any, path: str) -> Descriptor:
        if not isinstance(obj, dict):
            raise self.fail(path, "expected an object")
        media_type = self.get(obj, "mediaType", path, str)
        digest = self.digest(obj, "digest", path)
        size = self.get(obj, "size", path, int)
        if size < 0:
            raise self.fail(f"{path}.size", f"negative size {size}")
        p = self.get(obj, "platform", path, dict, required=False)
        platform = self.platform(p, f"{path}.platform") if p is not None else None
        return Descriptor(media_type, digest, size, platform, self.strings(obj, "annotations", path))


def load_json(data: bytes, source: str) -> dict[str, Any]:
    """The JSON object in *data*; InvalidImage naming *source* otherwise."""
    if len(data) > MAX_DOCUMENT:
        raise InvalidImage(source, f"document larger than {MAX_DOCUMENT} bytes")
    try:
        obj = jsontext.loads(data)
    except ValueError as err:
        raise InvalidImage(source, f"not valid JSON: {err}") from None
    if not isinstance(obj, dict):
        raise InvalidImage(source, "expected a JSON object")
    return obj


def _media_type(doc: _Doc, obj: dict[str, Any], allowed: frozenset[str], default: str) -> str:
    mt = doc.get(obj, "mediaType", "", str, required=False)
    if mt is None:
        return default  # OCI makes it optional (it is the descriptor's that counts)
    if mt not in allowed:
        raise doc.fail("mediaType", f"expected one of {sorted(allowed)}, got {mt!r}")
    return str(mt)


def parse_index(data: bytes | dict[str, Any], source: str = "index") -> Index:
    """An image index or manifest list from its JSON."""
    obj = data if isinstance(data, dict) else load_json(data, source)
    doc = _Doc(source)
    if obj.get("schemaVersion") != 2:
        raise doc.fail("schemaVersion", f"expected 2, got {obj.get('schemaVersion')!r}")
    mt = _media_type(doc, obj, INDEX_TYPES, OCI_INDEX)
    items = doc.get(obj, "manifests", "", list)
    manifests = tuple(doc.descriptor(m, f"manifests[{i}]") for i, m in enumerate(items))
    return Index(mt, manifests, doc.strings(obj, "annotations", ""))


def parse_manifest(data: bytes | dict[str, Any], source: str = "manifest") -> Manifest:
    """An image manifest (OCI or Docker schema2) from its JSON; layers of a media type that
    pycontain cannot unpack are refused here, before anything is fetched or written."""
    obj = data if isinstance(data, dict) else load_json(data, source)
    doc = _Doc(source)
    if obj.get("schemaVersion") != 2:
        raise doc.fail("schemaVersion", f"expected 2, got {obj.get('schemaVersion')!r}")
    mt = _media_type(doc, obj, MANIFEST_TYPES, OCI_MANIFEST)
    if "manifests" in obj and "layers" not in obj:
        raise doc.fail("manifests", "this is an index, not a manifest")
    config = doc.descriptor(doc.get(obj, "config", "", dict), "config")
    if config.media_type not in CONFIG_TYPES:
        raise doc.fail("config.mediaType", f"not an image config: {config.media_type!r}")
    items = doc.get(obj, "layers", "", list)
    layers = tuple(doc.descriptor(m, f"layers[{i}]") for i, m in enumerate(items))
    for i, layer in enumerate(layers):
        if layer.media_type not in LAYER_TYPES:
            raise doc.fail(f"layers[{i}].mediaType",
                           f"unsupported layer media type {layer.media_type!r}")
    return Manifest(mt, config, layers, doc.strings(obj, "annotations", ""))


def parse_config(data: bytes | dict[str, Any], source: str = "config") -> ImageConfig:
    """An image config from its JSON: platform and ``rootfs.diff_ids`` checked."""
    obj = data if isinstance(data, dict) else load_json(data, source)
    doc = _Doc(source)
    platform = doc.platform(obj, "")
    rootfs = doc.get(obj, "rootfs", "", dict)
    kind = doc.get(rootfs, "type", "rootfs", str)
    if kind != "layers":
        raise doc.fail("rootfs.type", f"expected 'layers', got {kind!r}")
    ids = doc.get(rootfs, "diff_ids", "rootfs", list)
    diff_ids = []
    for i, d in enumerate(ids):
        try:
            diff_ids.append(check_digest(d))
        except ConfigError as err:
            raise doc.fail(f"rootfs.diff_ids[{i}]", str(err).removeprefix("digest: ")) from None
    c = doc.get(obj, "config", "", dict, required=False)
    if c is not None:
        for key in ("Entrypoint", "Cmd", "Env"):
            v = doc.get(c, key, "config", list, required=False)
            if v is not None and not all(isinstance(s, str) for s in v):
                raise doc.fail(f"config.{key}", "expected a list of strings")
    return ImageConfig(platform, tuple(diff_ids), obj)


_MACHINES = {
    "x86_64": ("amd64", None), "aarch64": ("arm64", "v8"), "armv7l": ("arm", "v7"),
    "armv6l": ("arm", "v6"), "i686": ("386", None), "i386": ("386", None),
    "ppc64le": ("ppc64le", None), "s390x": ("s390x", None), "riscv64": ("riscv64", None),
}


def host_platform() -> Platform:
    """This machine's platform in the image spec's words."""
    machine = os.uname().machine
    arch, variant = _MACHINES.get(machine, (machine, None))
    return Platform(arch, "linux", variant)


def _variant_matches(want: Platform, have: Platform) -> bool:
    if want.variant is None or have.variant is None:
        # arm64 images say "v8" or nothing; other arches name no variant
        return not (want.variant and have.variant)
    return want.variant == have.variant


def select_platform(index: Index, want: Platform | None = None,
                    source: str = "index") -> Descriptor:
    """The manifest of *index* for *want* (default: :func:`host_platform`).  A descriptor
    without a platform is taken only where it is the index's one image manifest."""
    want = want or host_platform()
    images = [d for d in index.manifests if d.media_type in MANIFEST_TYPES]
    for d in images:
        p = d.platform
        if p is not None and p.os == want.os and p.architecture == want.architecture \
                and _variant_matches(want, p):
            return d
    if len(images) == 1 and images[0].platform is None:
        return images[0]
    have = ", ".join(str(d.platform) for d in images if d.platform) or "none"
    raise InvalidImage("manifests", f"no image for platform {want} in {source} "
                                    f"(it has: {have})")
