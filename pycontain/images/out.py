"""Images and containers out again: ``save`` (an OCI archive), ``export`` (a container's
filesystem as a tar), ``commit`` (a container's changes as a new image) and ``bundle`` (an
OCI runtime bundle that runc or ``pycontain-runc`` runs).

A container's changes are an overlay upper directory (``image_rootfs(..., upper=,
work=)`` keeps them there), or with the ``vfs`` storage driver its whole root, a plain
copy (``rootfs=``) whose changes are found by comparing it with the image's layers;
everything here reads such directories from the host, never through a mount, so nothing
is mounted on the host to leak.
"""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import io
import json
import os
import shutil
import tarfile
import time
from collections.abc import Iterator, Mapping, Sequence
from typing import IO, Any

from pycontain.errors import ConfigError
from pycontain.images.archive import CONTAINERD_NAME, REF_NAME
from pycontain.images.manifest import (
    DOCKER_CONFIG,
    DOCKER_LAYER_GZIP,
    DOCKER_MANIFEST,
    OCI_CONFIG,
    OCI_INDEX,
    OCI_LAYER_GZIP,
    OCI_MANIFEST,
    Descriptor,
    parse_config,
)
from pycontain.images.reference import parse_reference
from pycontain.images.store import Image, ImageStore
from pycontain.images.treetar import write_diff, write_layer, write_merged

__all__ = ["bundle", "commit", "export", "save"]

_BUF = 1 << 16   # tar's stream buffer: its default makes a write call per file, and a larger
# one costs more than it saves (the stream appends to it by copying bytes)


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


# -- save -----------------------------------------------------------------------------------

def save(store: ImageStore, refs: Sequence[str], dest: str | IO[bytes]) -> list[Image]:
    """Write the images *refs* (tags or digests) as one OCI archive (an OCI image layout in
    a tar) to *dest*, a path or a binary file; ``skopeo copy oci-archive:FILE ...``,
    ``podman load`` and :meth:`ImageStore.import_archive` read it.  Each tag given is kept
    as the entry's ``io.containerd.image.name`` (and its tag as
    ``org.opencontainers.image.ref.name``)."""
    if isinstance(refs, str) or not refs:
        raise ConfigError("refs", "expected one or more image names")
    with store.gc_lock(shared=True):   # no blob is collected while it is read
        return _save(store, refs, dest)


def _save(store: ImageStore, refs: Sequence[str], dest: str | IO[bytes]) -> list[Image]:
    entries: list[dict[str, Any]] = []
    images: list[Image] = []
    for ref in refs:
        image = store.resolve(ref)
        images.append(image)
        desc = Descriptor(image.manifest.media_type, image.digest,
                          store.content.size(image.digest)).to_json()
        if not ref.startswith(("sha256:", "sha512:")):
            r = parse_reference(ref)
            if r.digest is None:
                desc["annotations"] = {CONTAINERD_NAME: str(r), REF_NAME: r.tag or "latest"}
        entries.append(desc)
    blobs: dict[str, None] = {}
    for image in images:
        for d in (image.digest, image.manifest.config.digest,
                  *(layer.digest for layer in image.manifest.layers)):
            blobs[d] = None
    index = {"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": entries}
    with _output(dest) as tf:
        _add_bytes(tf, "oci-layout", b'{"imageLayoutVersion":"1.0.0"}')
        _add_bytes(tf, "index.json", json.dumps(index, indent=1).encode())
        dirs = {"blobs/"} | {f"blobs/{d.partition(':')[0]}/" for d in blobs}
        for name in sorted(dirs):
            ti = tarfile.TarInfo(name)
            ti.type, ti.mode = tarfile.DIRTYPE, 0o755
            tf.addfile(ti)
        for d in blobs:
            with store.content.open(d) as blob:
                ti = tarfile.TarInfo("blobs/" + d.replace(":", "/", 1))
                ti.size, ti.mode = os.fstat(blob.fileno()).st_size, 0o644
                tf.addfile(ti, blob)
    return images


@contextlib.contextmanager
def _output(dest: str | IO[bytes]) -> Iterator[tarfile.TarFile]:
    """A tar stream to *dest*: a binary file, or a path written under a temporary name and
    renamed into place once whole (a failure leaves nothing), all under the store's
    shared gc lock by the caller."""
    with contextlib.ExitStack() as stack:
        if isinstance(dest, str):
            path = f"{dest}.{os.getpid()}.tmp"
            f: IO[bytes] = stack.enter_context(open(path, "wb"))
            tmp: str | None = path
        else:
            tmp, f = None, dest
        try:
            with tarfile.open(fileobj=f, mode="w|", format=tarfile.PAX_FORMAT,
                              bufsize=_BUF) as tf:
                yield tf
            if tmp is not None:
                f.flush()
                os.rename(tmp, dest)  # type: ignore[arg-type]
                tmp = None
        finally:
            if tmp is not None:
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(tmp)


def _add_bytes(tf: tarfile.TarFile, name: str, data: bytes) -> None:
    ti = tarfile.TarInfo(name)
    ti.size, ti.mode = len(data), 0o644
    tf.addfile(ti, io.BytesIO(data))


# -- export ---------------------------------------------------------------------------------

def _layers_of(store: ImageStore, image: Image, upper: str | None) -> list[str]:
    store.unpack(image)
    lowers = store.layers.lowers(image.layers[-1]) if image.layers else []
    if upper is not None:
        if not os.path.isdir(upper):
            raise ConfigError("upper", f"{upper}: not a directory")
        lowers.insert(0, upper)
    return lowers


def export(store: ImageStore, image: Image | str, dest: str | IO[bytes], *,
           upper: str | None = None, rootfs: str | None = None) -> None:
    """Write the filesystem of a container of *image* whose changes are in the overlay
    directory *upper* (none: the image's own tree), or whose root is the copy *rootfs*
    (the ``vfs`` driver), as a plain tar to *dest* (a path or a binary file), as ``docker
    export`` does."""
    if rootfs is not None:
        if upper is not None:
            raise ConfigError("rootfs", "a container has an upper directory or a copy")
        if not os.path.isdir(rootfs):
            raise ConfigError("rootfs", f"{rootfs}: not a directory")
        with _output(dest) as tf:
            write_merged(tf, [rootfs])
        return
    with store.gc_lock(shared=True):   # no layer is collected while it is read
        img = store.resolve(image) if isinstance(image, str) else image
        layers = _layers_of(store, img, upper)
        with _output(dest) as tf:
            write_merged(tf, layers)


# -- commit ---------------------------------------------------------------------------------

class _Layer:
    """The tar stream of a new layer: hashed uncompressed (its diff_id) and gzipped into
    an ingest of the content store (its blob digest)."""

    def __init__(self, ingest: Any) -> None:
        self.hash = hashlib.sha256()
        self.gz = gzip.GzipFile(fileobj=ingest, mode="wb", mtime=0, compresslevel=6)

    def write(self, data: bytes) -> int:
        self.hash.update(data)
        self.gz.write(data)
        return len(data)


def commit(store: ImageStore, image: Image | str, upper: str | None = None, *,
           rootfs: str | None = None, tag: str | None = None,
           changes: Mapping[str, Any] | None = None, author: str | None = None,
           message: str | None = None, unpack: bool = True) -> Image:
    """A new image: *image* plus the overlay directory *upper* (a container's changes) as
    one more layer, deletions as whiteouts and opaque directories as ``.wh..wh..opq``; or,
    for a ``vfs`` container, what its copy *rootfs* changed against *image*'s layers
    (:func:`~pycontain.images.treetar.write_diff`).
    *changes* replace keys of the config's ``config`` section (``Cmd``, ``Env``,
    ``WorkingDir`` ...); *author* and *message* go into the config and its history.  The
    image is tagged *tag* when given; its new layer is unpacked with *unpack* (else on its
    first use)."""
    base = store.resolve(image) if isinstance(image, str) else image
    tag_ref = None
    if tag is not None:
        tag_ref = parse_reference(tag, field="tag")
        if tag_ref.digest is not None:
            raise ConfigError("tag", f"a tag cannot hold a digest: {tag}")
    if (upper is None) == (rootfs is None):
        raise ConfigError("upper", "give the container's upper directory or its copy (rootfs)")
    changed = upper if upper is not None else rootfs
    if not os.path.isdir(changed):  # type: ignore[arg-type]
        raise ConfigError("upper" if upper is not None else "rootfs",
                          f"{changed}: not a directory")
    if changes is not None and not isinstance(changes, Mapping):
        raise ConfigError("changes", "expected a mapping of config keys to values")
    docker = base.manifest.media_type == DOCKER_MANIFEST
    with store.gc_lock(shared=True):
        with store.content.ingest() as ing:
            layer = _Layer(ing)
            with tarfile.open(fileobj=layer, mode="w|",  # type: ignore[call-overload]
                              format=tarfile.PAX_FORMAT, bufsize=_BUF) as tf:
                if upper is not None:
                    write_layer(tf, upper)
                else:
                    write_diff(tf, rootfs, _layers_of(store, base, None))  # type: ignore[arg-type]
            layer.gz.close()
            size = ing.size
            ldigest = ing.commit()
        diff_id = "sha256:" + layer.hash.hexdigest()
        now = _now()
        cfg = json.loads(json.dumps(base.config.raw))   # a deep copy
        cfg["created"] = now
        if author is not None:
            cfg["author"] = author
        section = dict(cfg.get("config") or {})
        section.update(changes or {})
        cfg["config"] = section
        cfg.setdefault("rootfs", {"type": "layers"})["diff_ids"] = [*base.config.diff_ids,
                                                                     diff_id]
        entry = {"created": now, "created_by": "pycontain commit"}
        if author is not None:
            entry["author"] = author
        if message is not None:
            entry["comment"] = message
        cfg["history"] = [*(cfg.get("history") or []), entry]
        cbytes = json.dumps(cfg, separators=(",", ":")).encode()
        parse_config(cbytes, "config")
        cdigest = store.content.write_blob(cbytes)
        manifest = {
            "schemaVersion": 2, "mediaType": DOCKER_MANIFEST if docker else OCI_MANIFEST,
            "config": Descriptor(DOCKER_CONFIG if docker else OCI_CONFIG, cdigest,
                                 len(cbytes)).to_json(),
            "layers": [*(d.to_json() for d in base.manifest.layers),
                       Descriptor(DOCKER_LAYER_GZIP if docker else OCI_LAYER_GZIP, ldigest,
                                  size).to_json()],
        }
        mdigest = store.content.write_blob(json.dumps(manifest, separators=(",", ":")).encode())
        new = store.image(mdigest)
        if unpack:
            store.unpack(new)
        if tag_ref is not None:
            store.tag(tag_ref, mdigest)
    return new


# -- bundle ---------------------------------------------------------------------------------

def bundle(store: ImageStore, image: Image | str, dest: str, *,
           command: Sequence[str] | None = None, cgroups_path: str | None = None,
           terminal: bool = False) -> dict[str, Any]:
    """Write an OCI runtime bundle of *image* into the directory *dest* (made if missing,
    else empty): ``rootfs/``, the image's merged tree, and ``config.json``, runc's
    default spec with the image config's command (``Entrypoint`` + ``Cmd``, or
    *command* in place of ``Cmd``), environment, working directory and user (names
    resolved in the image's own ``/etc/passwd`` and ``/etc/group``).  The spec written."""
    from pycontain.images.container import image_defaults, resolve_user
    from pycontain.oci.defaults import default_spec
    from pycontain.oci.spec import dump_spec

    img = store.resolve(image) if isinstance(image, str) else image
    d = image_defaults(img)
    argv = d.argv(command)
    made = False
    try:
        os.mkdir(dest, 0o755)
        made = True
    except FileExistsError:
        if not os.path.isdir(dest) or os.path.islink(dest):
            raise ConfigError("dest", f"{dest}: not a directory") from None
        if os.listdir(dest):
            raise ConfigError("dest", f"{dest} is not empty") from None
    except OSError as err:
        raise ConfigError("dest", f"{dest}: {err.strerror}") from None
    rootfs = os.path.join(dest, "rootfs")
    try:
        with store.gc_lock(shared=True):
            lowers = _layers_of(store, img, None)
            uid, gid = resolve_user(lowers, d.user) if d.user else (0, 0)
            os.mkdir(rootfs, 0o755)
            store.merge(img, rootfs)
        spec = dump_spec(default_spec())
        env = dict(e.partition("=")[::2] for e in spec["process"]["env"])
        env.update(e.partition("=")[::2] for e in d.env)
        proc = spec["process"]
        proc.update(args=argv, env=[f"{k}={v}" for k, v in env.items()],
                    cwd=d.workdir or "/", terminal=terminal)
        proc["user"] = {"uid": uid, "gid": gid}
        spec["root"] = {"path": "rootfs", "readonly": False}
        if cgroups_path is not None:
            spec.setdefault("linux", {})["cgroupsPath"] = cgroups_path
        data = json.dumps(spec, indent="\t").encode()
        with open(os.path.join(dest, "config.json"), "xb") as f:
            f.write(data)
    except BaseException:
        if made:
            shutil.rmtree(dest, ignore_errors=True)
        else:
            for name in os.listdir(dest):
                p = os.path.join(dest, name)
                if os.path.isdir(p) and not os.path.islink(p):
                    shutil.rmtree(p, ignore_errors=True)
                else:
                    os.unlink(p)
        raise
    return spec

