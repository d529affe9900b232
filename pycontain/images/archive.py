"""Images from files: OCI image layouts (a directory or a tar of one), ``docker save``
archives, and plain rootfs tarballs (``podman import``'s one-layer images).

Every blob is copied into the content store and checked there against the digest and size
that the archive's own index or manifest gives it; nothing an archive says is trusted
before that.  Files of a layout directory are opened beneath it without following a
symlink out of it; a tar's members are only read (``extractfile``), never extracted.
"""

from __future__ import annotations

import contextlib
import json
import os
import stat
import tarfile
import time
from collections.abc import Iterator
from typing import Any, BinaryIO

from attrs import define

from pycontain.errors import ConfigError, ImageError, InvalidImage
from pycontain.images.content import ContentStore, digest_bytes
from pycontain.images.manifest import (
    DOCKER_CONFIG,
    DOCKER_LAYER,
    DOCKER_LAYER_GZIP,
    DOCKER_LAYER_ZSTD,
    DOCKER_MANIFEST,
    INDEX_TYPES,
    MANIFEST_TYPES,
    OCI_CONFIG,
    OCI_LAYER,
    OCI_LAYER_GZIP,
    OCI_LAYER_ZSTD,
    OCI_MANIFEST,
    Descriptor,
    Platform,
    host_platform,
    parse_config,
    parse_index,
    parse_manifest,
    select_platform,
)
from pycontain.lowlevel.inroot import open_in_root
from pycontain.storage.decompress import LayerStream, detect_compression

__all__ = ["Imported", "read_archive", "read_rootfs"]

REF_NAME = "org.opencontainers.image.ref.name"
CONTAINERD_NAME = "io.containerd.image.name"
_MAX_JSON = 4 << 20


@define(frozen=True)
class Imported:
    """One image an archive held: its manifest's digest and the names it came with."""

    digest: str
    names: tuple[str, ...] = ()


class _Source:
    """The files of an archive, by path inside it."""

    label: str

    def open(self, path: str) -> BinaryIO:
        raise NotImplementedError

    def exists(self, path: str) -> bool:
        raise NotImplementedError

    def read_json(self, path: str) -> Any:
        with self.open(path) as f:
            data = f.read(_MAX_JSON + 1)
        if len(data) > _MAX_JSON:
            raise InvalidImage(path, f"larger than {_MAX_JSON} bytes (in {self.label})")
        try:
            return json.loads(data)
        except ValueError as err:
            raise InvalidImage(path, f"not valid JSON: {err} (in {self.label})") from None

    def close(self) -> None:
        pass


class _DirSource(_Source):
    """A directory; each file opened beneath it, symlinks resolved inside it."""

    def __init__(self, path: str) -> None:
        self.label = path
        self.fd = os.open(path, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)

    def _open_path(self, path: str) -> int:
        try:
            return open_in_root(self.fd, path)
        except FileNotFoundError:
            raise InvalidImage(path, f"missing from {self.label}") from None

    def open(self, path: str) -> BinaryIO:
        fd = self._open_path(path)
        try:
            if not stat.S_ISREG(os.fstat(fd).st_mode):
                raise InvalidImage(path, f"not a regular file in {self.label}")
            return open(f"/proc/self/fd/{fd}", "rb")
        finally:
            os.close(fd)

    def exists(self, path: str) -> bool:
        try:
            os.close(open_in_root(self.fd, path))
            return True
        except OSError:
            return False

    def close(self) -> None:
        os.close(self.fd)


class _TarSource(_Source):
    """A tar file (plain or compressed as tarfile reads it), its members by name."""

    def __init__(self, path: str) -> None:
        self.label = path
        try:
            self.tf = tarfile.open(  # noqa: SIM115 - closed by close()
                path, "r:*", encoding="utf-8", errors="surrogateescape")
        except tarfile.TarError as err:
            raise ConfigError("path", f"{path}: not a tar archive or layout directory: "
                                      f"{err}") from None
        self.members: dict[str, tarfile.TarInfo] = {}
        for m in self.tf:
            self.members[os.path.normpath(m.name.lstrip("/"))] = m
        self.tf.members = []  # type: ignore[attr-defined]  # no index kept twice

    def exists(self, path: str) -> bool:
        return os.path.normpath(path) in self.members

    def _member(self, path: str) -> tarfile.TarInfo:
        """The regular member at *path*, links followed inside the archive (``docker
        save`` and skopeo's docker-archive link ``<id>/layer.tar`` to a file beside it)."""
        name = os.path.normpath(path)
        for _ in range(16):
            m = self.members.get(name)
            if m is None:
                raise InvalidImage(path, f"missing from {self.label}")
            if m.issym():
                name = os.path.normpath(os.path.join(os.path.dirname(name), m.linkname))
            elif m.islnk():
                name = os.path.normpath(m.linkname.lstrip("/"))
            else:
                return m
        raise InvalidImage(path, f"too many links in {self.label}")

    def open(self, path: str) -> BinaryIO:
        m = self._member(path)
        try:
            f = self.tf.extractfile(m)
        except (tarfile.TarError, KeyError) as err:
            raise InvalidImage(path, f"cannot read from {self.label}: {err}") from None
        if f is None:
            raise InvalidImage(path, f"not a regular file in {self.label}")
        return f  # type: ignore[return-value]

    def close(self) -> None:
        self.tf.close()


@contextlib.contextmanager
def _source(path: str) -> Iterator[_Source]:
    try:
        st = os.stat(path)
    except OSError as err:
        raise ConfigError("path", f"{path}: {err.strerror}") from None
    src: _Source = _DirSource(path) if stat.S_ISDIR(st.st_mode) else _TarSource(path)
    try:
        yield src
    finally:
        src.close()


def _copy(content: ContentStore, src: _Source, d: Descriptor) -> None:
    with src.open(f"blobs/{d.digest.replace(':', '/', 1)}") as f:
        content.copy_blob(f, d.digest, d.size)


def read_archive(path: str, content: ContentStore, platform: Platform | None = None,
                 ) -> list[Imported]:
    """Copy the images of the OCI layout or ``docker save`` archive at *path* (a directory
    or a tar) into *content*; the images found, with their names."""
    with _source(path) as src:
        if src.exists("oci-layout") and src.exists("index.json"):
            return _read_layout(src, content, platform)
        if src.exists("manifest.json"):
            return _read_docker(src, content)
    raise ConfigError("path", f"{path}: neither an OCI image layout (oci-layout, index.json) "
                              "nor a docker save archive (manifest.json)",
                      hint="a plain rootfs tarball is imported with import_rootfs")


def _names(d: Descriptor) -> tuple[str, ...]:
    ann = d.annotations or {}
    for key in (CONTAINERD_NAME, REF_NAME):
        name = ann.get(key)
        if name and ("/" in name or ":" in name or "@" in name):
            return (name,)  # a full reference; a bare tag names nothing without a repo
    return ()


def _read_layout(src: _Source, content: ContentStore, platform: Platform | None,
                 ) -> list[Imported]:
    layout = src.read_json("oci-layout")
    if not isinstance(layout, dict) or layout.get("imageLayoutVersion") != "1.0.0":
        raise InvalidImage("imageLayoutVersion", f"expected '1.0.0' (in {src.label}/oci-layout)")
    index = parse_index(src.read_json("index.json"), f"{src.label}/index.json")
    tops = list(index.manifests)
    if len(tops) > 1 and all(d.media_type in MANIFEST_TYPES and d.platform for d in tops):
        tops = [select_platform(index, platform, f"{src.label}/index.json")]
    out = []
    for i, d in enumerate(tops):
        where = f"{src.label}/index.json manifests[{i}]"
        names = _names(d)
        while d.media_type in INDEX_TYPES:
            _copy(content, src, d)
            d = select_platform(parse_index(content.read(d.digest), where), platform, where)
        if d.media_type not in MANIFEST_TYPES:
            continue  # not an image (an artifact, a signature): nothing to run
        _copy(content, src, d)
        manifest = parse_manifest(content.read(d.digest), f"{where} ({d.digest})")
        _copy(content, src, manifest.config)
        parse_config(content.read(manifest.config.digest), manifest.config.digest)
        for layer in manifest.layers:
            _copy(content, src, layer)
        out.append(Imported(d.digest, names))
    if not out:
        raise InvalidImage("manifests", f"no image manifest in {src.label}/index.json")
    return out


_DOCKER_LAYER_TYPES = {"": DOCKER_LAYER, "gzip": DOCKER_LAYER_GZIP, "zstd": DOCKER_LAYER_ZSTD}
_OCI_LAYER_TYPES = {"": OCI_LAYER, "gzip": OCI_LAYER_GZIP, "zstd": OCI_LAYER_ZSTD}


def _store_file(content: ContentStore, src: _Source, path: str) -> tuple[str, int, str]:
    """Store an archive's file whose digest nothing states beforehand: (digest, size,
    compression)."""
    with src.open(path) as f:
        head = f.read(6)
        with content.ingest() as ing:
            ing.write(head)
            ing.copy_from(f)
            size = ing.size
            digest = ing.commit()
    return digest, size, detect_compression(head)


def _read_docker(src: _Source, content: ContentStore) -> list[Imported]:
    entries = src.read_json("manifest.json")
    where = f"{src.label}/manifest.json"
    if not isinstance(entries, list) or not entries:
        raise InvalidImage("manifest.json", f"expected a non-empty list (in {src.label})")
    out = []
    for i, e in enumerate(entries):
        if not isinstance(e, dict):
            raise InvalidImage(f"[{i}]", f"expected an object (in {where})")
        cfg = e.get("Config")
        layers = e.get("Layers")
        tags = e.get("RepoTags") or []
        if not isinstance(cfg, str):
            raise InvalidImage(f"[{i}].Config", f"expected a file name (in {where})")
        if not isinstance(layers, list) or not all(isinstance(x, str) for x in layers):
            raise InvalidImage(f"[{i}].Layers", f"expected a list of file names (in {where})")
        if not isinstance(tags, list) or not all(isinstance(x, str) for x in tags):
            raise InvalidImage(f"[{i}].RepoTags", f"expected a list of names (in {where})")
        cdigest, csize, _ = _store_file(content, src, cfg)
        config = parse_config(content.read(cdigest), f"{src.label}/{cfg}")
        if len(config.diff_ids) != len(layers):
            raise InvalidImage(f"[{i}].Layers", f"{len(layers)} layers, but the config has "
                                                f"{len(config.diff_ids)} diff_ids (in {where})")
        descs = []
        for path in layers:
            digest, size, comp = _store_file(content, src, path)
            descs.append(Descriptor(_DOCKER_LAYER_TYPES[comp], digest, size))
        manifest = {
            "schemaVersion": 2, "mediaType": DOCKER_MANIFEST,
            "config": Descriptor(DOCKER_CONFIG, cdigest, csize).to_json(),
            "layers": [d.to_json() for d in descs],
        }
        mdigest = content.write_blob(json.dumps(manifest, separators=(",", ":")).encode())
        out.append(Imported(mdigest, tuple(tags)))
    return out


def read_rootfs(path: str, content: ContentStore, *, max_size: int,
                config: dict[str, Any] | None = None) -> Imported:
    """A one-layer image of the rootfs tarball at *path* (plain, gzip or zstd), with a
    minimal config for this machine's platform (*config* adds the ``config`` section:
    Cmd, Env ...)."""
    try:
        f = open(path, "rb")  # noqa: SIM115 - the with below
    except OSError as err:
        raise ConfigError("path", f"{path}: {err.strerror}") from None
    with f:
        if not stat.S_ISREG(os.fstat(f.fileno()).st_mode):
            raise ConfigError("path", f"{path}: not a regular file")
        head = f.read(6)
        comp = detect_compression(head)
        f.seek(0)
        with content.ingest() as ing:
            ing.copy_from(f)
            size = ing.size
            digest = ing.commit()
        new_blob = not ing.existed
    # the diff_id is the uncompressed tar's digest: read it through once (and check that it
    # is a tar at all, so a wrong file fails here and not at the first run)
    with content.open(digest) as blob:
        stream = LayerStream(blob, max_size=max_size, name=path)
        try:
            try:
                with tarfile.open(fileobj=stream, mode="r:") as tf:  # type: ignore[call-overload]
                    for _ in iter(tf.next, None):
                        tf.members.clear()
            except tarfile.TarError as err:
                stream.raise_pending()
                raise ImageError(f"{path}: not a tar archive: {err}") from None
            diff_id = stream.finish()
        except BaseException:
            stream.close()
            if new_blob:  # nothing of a refused tarball stays in the store
                content.delete(digest)
            raise
    plat = host_platform()
    now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    cfg: dict[str, Any] = {
        "created": now, "architecture": plat.architecture, "os": plat.os,
        "config": dict(config or {}), "rootfs": {"type": "layers", "diff_ids": [diff_id]},
        "history": [{"created": now, "created_by": "pycontain import"}],
    }
    if plat.variant:
        cfg["variant"] = plat.variant
    cbytes = json.dumps(cfg, separators=(",", ":")).encode()
    parse_config(cbytes, "config")
    cdigest = content.write_blob(cbytes)
    manifest = {
        "schemaVersion": 2, "mediaType": OCI_MANIFEST,
        "config": Descriptor(OCI_CONFIG, cdigest, len(cbytes)).to_json(),
        "layers": [Descriptor(_OCI_LAYER_TYPES[comp], digest, size).to_json()],
    }
    mbytes = json.dumps(manifest, separators=(",", ":")).encode()
    return Imported(content.write_blob(mbytes, digest_bytes(mbytes)))

