"""The image store: content, tags, and the layer store the images unpack into.

Layout under the root (``/var/lib/pycontain/images`` for root; for other users
``$XDG_DATA_HOME/pycontain/images``, by default ``~/.local/share/pycontain/images``)::

    blobs/sha256/<hex>   manifests, configs, layers (the content store)
    ingest/              blobs being written
    tags.json            {"docker.io/library/busybox:latest": "sha256:<manifest>"}
    tags.lock            flocked while tags.json is read-modified-written
    layers/<chain hex>/  unpacked layers (the layer store)

An image is named by its manifest's digest; a tag is a name that points at one.  Nothing is
kept about an image besides its blobs and its tags, so removing one (and collecting what
no tag or container references any more) has only these to walk.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

from pycontain.errors import ConfigError, ImageNotFound, InvalidImage
from pycontain.images.content import ContentStore
from pycontain.images.manifest import (
    LAYER_TYPES,
    ImageConfig,
    Manifest,
    Platform,
    parse_config,
    parse_manifest,
)
from pycontain.images.reference import Reference, check_digest, parse_reference
from pycontain.lowlevel import jsontext
from pycontain.lowlevel.record import Record
from pycontain.storage.driver import check_driver, choose_driver
from pycontain.storage.layers import LayerSource, LayerStore, chain_ids
from pycontain.storage.options import UnpackOptions
from pycontain.store import atomic_write

# a start on an image reads; what writes (archives, the unpacker, vfs copies) loads on first
# use, and the registry client (ssl, http.client, threads) on the first pull
if TYPE_CHECKING:
    from pycontain.images import archive
    from pycontain.images.auth import Credentials
    from pycontain.images.gc import DiskUsage, Removed
    from pycontain.images.progress import Progress
    from pycontain.images.registry import RegistryClient
    from pycontain.storage.vfs import CopyStats

__all__ = ["Image", "ImageStore", "default_root"]


def default_root() -> str:
    """Where the images of the caller live (see the module's docstring)."""
    if os.geteuid() == 0:
        return "/var/lib/pycontain/images"
    data = os.environ.get("XDG_DATA_HOME") or os.path.expanduser("~/.local/share")
    return os.path.join(data, "pycontain", "images")


class Image(Record):
    """One image of the store: its manifest's digest, manifest, config, and its layers'
    chain IDs (bottom first: :meth:`LayerStore.path` gives each one's directory)."""

    digest: str
    manifest: Manifest
    config: ImageConfig
    layers: tuple[str, ...]

    @property
    def platform(self) -> Platform:
        return self.config.platform


class ImageStore:
    """Images under *root* (default :func:`default_root`).

    *layers*: the layer store to unpack into (default ``ROOT/layers``); *options*: how
    layers are written (rootless, the size cap); *durable*: blobs and tags are synced;
    *storage_driver*: how containers of its images get their root, ``overlay`` or ``vfs``
    (default ``$PYCONTAIN_STORAGE_DRIVER``, else overlay; see :meth:`driver`)."""

    def __init__(self, root: str | None = None, *, layers: LayerStore | None = None,
                 options: UnpackOptions | None = None, durable: bool = True,
                 storage_driver: str | None = None) -> None:
        self.storage_driver = check_driver(storage_driver)
        self.root = os.path.abspath(root or default_root())
        self.options = options or UnpackOptions()
        self.content = ContentStore(self.root, durable=durable)
        self.layers = layers or LayerStore(os.path.join(self.root, "layers"),
                                           options=self.options)
        self.durable = durable
        self._tags = os.path.join(self.root, "tags.json")

    # -- tags -------------------------------------------------------------------------------

    @contextlib.contextmanager
    def _file_lock(self, name: str, shared: bool) -> Iterator[None]:
        """flock on ROOT/*name* for the block (shared or exclusive)."""
        os.makedirs(self.root, mode=0o700, exist_ok=True)
        fd = os.open(os.path.join(self.root, name), os.O_RDWR | os.O_CREAT | os.O_CLOEXEC,
                     0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_SH if shared else fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)

    def _tags_locked(self, shared: bool) -> contextlib.AbstractContextManager[None]:
        return self._file_lock("tags.lock", shared)

    def _read_tags(self) -> dict[str, str]:
        try:
            with open(self._tags, "rb") as f:
                data = jsontext.loads(f.read())
        except FileNotFoundError:
            return {}
        except ValueError as err:
            raise ConfigError(self._tags, f"not valid JSON: {err}") from None
        if not isinstance(data, dict) or not all(isinstance(v, str) for v in data.values()):
            raise ConfigError(self._tags, "expected an object of names to digests")
        return data

    def tags(self) -> dict[str, str]:
        """Every tag (``docker.io/library/busybox:latest``) and the manifest it names."""
        with self._tags_locked(shared=True):
            return self._read_tags()

    def tag(self, ref: str | Reference, digest: str) -> Reference:
        """Point the name *ref* (a tag; ``latest`` when it has none) at the image *digest*,
        which must be in the store."""
        r = ref if isinstance(ref, Reference) else parse_reference(ref, field="tag")
        if r.digest is not None:
            raise ConfigError("tag", f"a tag cannot hold a digest: {ref}")
        check_digest(digest)
        if not self.content.has(digest):
            raise ImageNotFound(f"no image {digest} in {self.root}")
        with self._tags_locked(shared=False):
            tags = self._read_tags()
            tags[str(r)] = digest
            self._write_tags(tags)
        return r

    def untag(self, ref: str | Reference) -> None:
        """Remove the name *ref*; ImageNotFound when there is no such tag."""
        r = ref if isinstance(ref, Reference) else parse_reference(ref, field="tag")
        with self._tags_locked(shared=False):
            tags = self._read_tags()
            if tags.pop(str(r), None) is None:
                raise ImageNotFound(f"no image tagged {r}")
            self._write_tags(tags)

    def _write_tags(self, tags: dict[str, str]) -> None:
        data = jsontext.dumps(dict(sorted(tags.items())), indent=1).encode()
        atomic_write(self._tags, data, durable=self.durable)

    def gc_lock(self, shared: bool) -> contextlib.AbstractContextManager[None]:
        """Held shared while content comes in (until its tag names it) and exclusive while
        garbage is collected, so that a collection never takes what a pull, an import or
        a commit has written but not yet tagged."""
        return self._file_lock("gc.lock", shared)

    # -- images -----------------------------------------------------------------------------

    def resolve(self, ref: str | Reference) -> Image:
        """The image named by *ref*: a tag (``busybox``, ``busybox:1.36``), a reference with
        a digest (``...@sha256:...``), or a manifest digest alone."""
        if isinstance(ref, str) and ref.startswith(("sha256:", "sha512:")):
            return self.image(check_digest(ref, "reference"))
        r = ref if isinstance(ref, Reference) else parse_reference(ref)
        if r.digest is not None:
            return self.image(r.digest)
        digest = self.tags().get(str(r))
        if digest is None:
            raise ImageNotFound(f"no image {r} in {self.root}")
        return self.image(digest)

    def image(self, digest: str) -> Image:
        """The image whose manifest is *digest*."""
        if not self.content.has(digest):
            raise ImageNotFound(f"no image {digest} in {self.root}")
        manifest = parse_manifest(self.content.read(digest), f"manifest {digest}")
        config = parse_config(self.content.read(manifest.config.digest),
                              f"config {manifest.config.digest}")
        if len(config.diff_ids) != len(manifest.layers):
            raise InvalidImage("rootfs.diff_ids", f"{len(config.diff_ids)} diff_ids for "
                               f"{len(manifest.layers)} layers (in image {digest})")
        return Image(digest, manifest, config, tuple(chain_ids(config.diff_ids)))

    def images(self) -> dict[str, list[str]]:
        """Each tagged image's digest and its names."""
        out: dict[str, list[str]] = {}
        for name, digest in self.tags().items():
            out.setdefault(digest, []).append(name)
        return out

    # -- getting images in ------------------------------------------------------------------

    def import_archive(self, path: str, *, tag: str | None = None,
                       platform: Platform | None = None, unpack: bool = True) -> list[Image]:
        """Import the OCI image layout (a directory or a tar) or ``docker save`` archive at
        *path*; its images, tagged with the names the archive gives them, and with *tag*
        (only for an archive of one image).  *platform* picks from a multi-platform index
        (default: this machine's).  *unpack*: unpack the layers too."""
        if tag is not None:
            tag_ref = _tag_ref(tag)
        from pycontain.images import archive

        with self.gc_lock(shared=True):
            found = archive.read_archive(os.fspath(path), self.content, platform)
            if tag is not None and len(found) != 1:
                raise ConfigError("tag", f"{path} holds {len(found)} images: a tag names one")
            return [self._added(f, tag_ref if tag is not None else None, unpack)
                    for f in found]

    def import_rootfs(self, path: str, *, tag: str | None = None,
                      config: dict[str, Any] | None = None, unpack: bool = True) -> Image:
        """A one-layer image of the rootfs tarball at *path* (``podman import``); *config*
        becomes its config's ``config`` section (Cmd, Env, WorkingDir ...)."""
        tag_ref = _tag_ref(tag) if tag is not None else None
        from pycontain.images import archive

        with self.gc_lock(shared=True):
            found = archive.read_rootfs(os.fspath(path), self.content,
                                        max_size=self.options.max_size, config=config)
            return self._added(found, tag_ref, unpack)

    def pull(self, reference: str | Reference, *, platform: Platform | None = None,
             auth: Credentials | tuple[str, str] | None = None, tls_verify: bool = True,
             ca_file: str | None = None, progress: Progress | None = None,
             unpack: bool = True, jobs: int = 4) -> Image:
        """Fetch *reference* (``registry/repo:tag`` or ``...@sha256:...``) from its registry;
        the image, tagged with *reference* (when it names a tag) once its blobs are all
        stored and verified (and its layers unpacked, with *unpack*).

        *platform* picks from a multi-platform index (default: this machine's); *auth*:
        credentials (default: those ``podman login``/``docker login`` stored for the
        registry); *tls_verify*: False allows plain HTTP and unverified certificates;
        *ca_file*: CAs to trust instead of the system's; *progress*: told of each blob
        (:func:`pycontain.images.progress.for_terminal` draws it on a terminal); *jobs*:
        blobs fetched at once."""
        from pycontain.images import transfer

        r = reference if isinstance(reference, Reference) else parse_reference(reference)
        with self.gc_lock(shared=True):  # nothing collected before the tag names it
            with self._client(r, auth, tls_verify, ca_file) as client:
                digest = transfer.pull(self.content, r, client, platform=platform,
                                       progress=progress, jobs=jobs)
            image = self.image(digest)
            if unpack:
                self.unpack(image)
            if r.tag is not None:
                self.tag(Reference(r.domain, r.path, r.tag), digest)
            return image

    def push(self, image: Image | str | Reference, dest: str | Reference, *,
             auth: Credentials | tuple[str, str] | None = None, tls_verify: bool = True,
             ca_file: str | None = None, progress: Progress | None = None, jobs: int = 4,
             mount_from: str | None = None, chunk_size: int | None = None) -> str:
        """Send *image* (an :class:`Image`, a tag, or the digest of a manifest or of an
        index whose manifests the store holds) to *dest* (``registry/repo:tag``); the
        digest it is kept under there.

        *mount_from*: a repository of the same registry that may hold the blobs already
        (mounted instead of uploaded); *chunk_size*: upload blobs larger than this in
        chunks (``PATCH``) rather than in one ``PUT``.  The other arguments are
        :meth:`pull`'s."""
        from pycontain.images import transfer

        digest = self._push_source(image)
        d = dest if isinstance(dest, Reference) else parse_reference(dest, field="dest")
        with self._client(d, auth, tls_verify, ca_file) as client:
            return transfer.push(self.content, digest, d, client, progress=progress,
                                 jobs=jobs, mount_from=mount_from, chunk_size=chunk_size)

    def _push_source(self, image: Image | str | Reference) -> str:
        if isinstance(image, Image):
            return image.digest
        if isinstance(image, str) and image.startswith(("sha256:", "sha512:")):
            digest = check_digest(image, "image")
        else:
            r = image if isinstance(image, Reference) else parse_reference(image, field="image")
            digest = r.digest or self.tags().get(str(r)) or ""
            if not digest:
                raise ImageNotFound(f"no image {r} in {self.root}")
        if not self.content.has(digest):
            raise ImageNotFound(f"no image {digest} in {self.root}")
        return digest

    @staticmethod
    def _client(r: Reference, auth: Credentials | tuple[str, str] | None, tls_verify: bool,
                ca_file: str | None) -> RegistryClient:
        from pycontain.images.auth import Credentials, find_credentials
        from pycontain.images.registry import RegistryClient

        if isinstance(auth, tuple):
            if len(auth) != 2 or not all(isinstance(a, str) for a in auth) or not auth[0]:
                raise ConfigError("auth", "expected (username, password)")
            auth = Credentials(*auth)
        elif auth is not None and not isinstance(auth, Credentials):
            raise ConfigError("auth", f"expected Credentials or (username, password), got "
                                      f"{type(auth).__name__}")
        if ca_file is not None and not os.path.isfile(ca_file):
            raise ConfigError("ca_file", f"{ca_file}: no such file")
        creds = auth if auth is not None else find_credentials(r.domain)
        return RegistryClient(r.domain, credentials=creds, tls_verify=tls_verify,
                              ca_file=ca_file)

    def _added(self, found: archive.Imported, tag: Reference | None, unpack: bool) -> Image:
        image = self.image(found.digest)
        if unpack:  # first: an image whose layers are refused gets no name
            self.unpack(image)
        for name in found.names:
            with contextlib.suppress(ConfigError):  # a name we cannot parse is not kept
                self.tag(name, image.digest)
        if tag is not None:
            self.tag(tag, image.digest)
        return image

    # -- garbage ----------------------------------------------------------------------------

    def remove(self, ref: str, *, force: bool = False) -> Removed:
        """``rmi``: untag *ref* (a digest: the image and all its tags, several only with
        *force*); an image no tag names any more is deleted with what no other image
        uses (see :mod:`pycontain.images.gc`)."""
        from pycontain.images import gc

        return gc.remove(self, ref, force=force)

    def hold(self, holder: str, image: Image | str) -> None:
        """Keep *image* (and what it uses) from removal while *holder*, a container that
        runs on it, exists; :meth:`release` ends it."""
        from pycontain.images import holds

        holds.check_holder(holder)
        if isinstance(image, Image):
            digest = image.digest
        elif isinstance(image, str) and image.startswith(("sha256:", "sha512:")):
            digest = image   # a manifest digest: hold() checks the store has it
        else:
            digest = self.resolve(image).digest
        holds.hold(self, holder, digest)

    def release(self, holder: str) -> None:
        from pycontain.images import holds

        holds.release(self, holder)

    def prune(self) -> Removed:
        """Delete the images no tag names and whatever no tagged image uses."""
        from pycontain.images import gc

        return gc.prune(self)

    def disk_usage(self) -> DiskUsage:
        """Images, blobs and layers, their sizes, and what :meth:`prune` would free."""
        from pycontain.images import gc

        return gc.disk_usage(self)

    # -- layers -----------------------------------------------------------------------------

    def unpack(self, image: Image) -> list[str]:
        """Unpack the image's layers into the layer store (those not there yet); their
        chain IDs, bottom first."""
        self.layers.unpack_all([
            LayerSource(diff_id, lambda d=desc.digest: self.content.open(d),  # type: ignore[misc]
                        LAYER_TYPES.get(desc.media_type))
            for desc, diff_id in zip(image.manifest.layers, image.config.diff_ids, strict=True)])
        return list(image.layers)

    def driver(self, where: str | None = None, *,
               on_fallback: Callable[[str], None] | None = None) -> str:
        """The storage driver a container of this store's images gets when its writable
        layer goes under *where* (default: the store's root): :attr:`storage_driver`,
        except that ``overlay`` falls back to ``vfs`` where overlay cannot work there
        (probed once, the answer cached in that directory; a RuntimeWarning, or
        *on_fallback*, says why)."""
        return choose_driver(self.storage_driver, where or self.root, on_fallback=on_fallback)

    def copy(self, image: Image, dest: str) -> CopyStats:
        """Write the image's whole filesystem into the empty directory *dest* from its
        unpacked layers (unpacked first where needed): a ``vfs`` container's private root.
        No file is a hard link to a layer's; data is cloned where the file system can."""
        self.unpack(image)
        if not image.layers:
            raise InvalidImage("rootfs.diff_ids", f"image {image.digest} has no layers")
        from pycontain.storage.vfs import copy_layers

        with self.gc_lock(shared=True):   # no layer is collected while it is read
            return copy_layers(self.layers.lowers(image.layers[-1]), dest)

    def merge(self, image: Image, dest: str) -> None:
        """Write the image's whole filesystem into the empty directory *dest* (whiteouts
        applied by deletion), from the layers' blobs (the layer store is not used)."""
        try:
            fd = os.open(dest, os.O_PATH | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC)
        except OSError as err:
            raise ConfigError("dest", f"{dest}: {err.strerror}") from None
        try:
            if os.listdir(f"/proc/self/fd/{fd}"):
                raise ConfigError("dest", f"{dest} is not empty")
        except BaseException:
            os.close(fd)
            raise
        from pycontain.storage.unpack import apply_layer

        try:
            for desc, diff_id in zip(image.manifest.layers, image.config.diff_ids,
                                     strict=True):
                with self.content.open(desc.digest) as blob:
                    apply_layer(blob, fd, merge=True, diff_id=diff_id, options=self.options,
                                media_compression=LAYER_TYPES.get(desc.media_type),
                                name=f"layer {diff_id}")
        except BaseException:
            _empty(fd)  # a refused or broken layer leaves nothing of the image behind
            raise
        finally:
            os.close(fd)


def _tag_ref(tag: str) -> Reference:
    """*tag* parsed up front, so a bad one fails before anything is imported."""
    r = parse_reference(tag, field="tag")
    if r.digest is not None:
        raise ConfigError("tag", f"a tag cannot hold a digest: {tag}")
    return r


def _empty(fd: int) -> None:
    from pycontain.storage.unpack import remove_entry

    rfd = os.open(".", os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC, dir_fd=fd)
    try:
        names = os.listdir(rfd)
    finally:
        os.close(rfd)
    for name in names:
        remove_entry(fd, name)
