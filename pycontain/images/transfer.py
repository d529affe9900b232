"""Pull images from a registry into the content store, and push them back.

A pull fetches the manifest (choosing the platform's from an index), then the config and
layers from a bounded pool of threads, each streamed into the content store's ingest: hashed
and counted as it arrives, named only when digest and size match.  A connection that drops
mid-blob is resumed with a ``Range`` request from the bytes already written (or the blob is
started over, if the registry ignores the range); blobs the store has are not fetched.  The
manifest is stored last: a manifest in the store means its blobs are too.

A push sends each blob the registry lacks (``HEAD`` first; a cross-repository mount when
the caller names a repository of the same registry; else a monolithic upload, or a chunked
one above ``chunk_size``), then the manifest under the tag; an index's manifests go first,
by digest.
"""

from __future__ import annotations

import concurrent.futures
import functools
import hashlib
import http.client
import threading
import time
from collections.abc import Callable
from typing import BinaryIO
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from pycontain.errors import DigestMismatch, ImageNotFound, InvalidImage, RegistryError
from pycontain.images.content import ContentStore, Ingest
from pycontain.images.manifest import (
    INDEX_TYPES,
    MANIFEST_TYPES,
    MAX_DOCUMENT,
    OCI_INDEX,
    OCI_MANIFEST,
    Descriptor,
    Platform,
    load_json,
    parse_config,
    parse_index,
    parse_manifest,
    select_platform,
)
from pycontain.images.progress import Progress
from pycontain.images.reference import Reference
from pycontain.images.registry import MANIFEST_ACCEPT, Body, RegistryClient

__all__ = ["pull", "push"]

RETRIES = 5
_BLOCK = 1 << 20


class _Cancelled(Exception):
    """Another blob of the same transfer failed: stop this one."""


def _pull_scope(name: str) -> str:
    return f"repository:{name}:pull"


def _push_scope(name: str, mount_from: str | None = None) -> str:
    scope = f"repository:{name}:pull,push"
    return scope + (f" repository:{mount_from}:pull" if mount_from else "")


_GENERIC_TYPES = frozenset({"", "application/json", "text/plain", "application/octet-stream"})
_SCHEMA1 = "application/vnd.docker.distribution.manifest.v1+json"


def _media_type(resp: http.client.HTTPResponse, doc: dict[str, object]) -> str:
    """The manifest's media type: the document's own field, else the Content-Type, else
    (a registry that answers ``application/json``) what its keys say."""
    mt = doc.get("mediaType")
    if isinstance(mt, str) and mt:
        return mt
    ct = (resp.getheader("Content-Type") or "").split(";")[0].strip()
    if ct not in _GENERIC_TYPES:
        return ct
    if doc.get("schemaVersion") == 1:
        return _SCHEMA1
    return OCI_INDEX if "manifests" in doc else OCI_MANIFEST


def _get_manifest(client: RegistryClient, name: str, ref: str,
                  want: Descriptor | None = None) -> tuple[bytes, str, str]:
    """The manifest or index *ref* (a tag or digest) of *name*: (bytes, media type,
    digest), checked against the digest asked for, the registry's ``Docker-Content-Digest``
    and *want*'s size."""
    what = f"manifest {client.domain}/{name}{'@' if ':' in ref else ':'}{ref}"
    resp = client.get(f"/v2/{name}/manifests/{ref}", scope=_pull_scope(name),
                      headers={"Accept": MANIFEST_ACCEPT})
    if resp.status != 200:
        raise client.fail(resp, what)
    data = resp.read(MAX_DOCUMENT + 1)
    if len(data) > MAX_DOCUMENT:
        resp.close()
        client.drop_connections()
        raise InvalidImage(what, f"larger than {MAX_DOCUMENT} bytes")
    digest = "sha256:" + hashlib.sha256(data).hexdigest()
    if ":" in ref:
        algo = ref.partition(":")[0]
        got = f"{algo}:{hashlib.new(algo, data).hexdigest()}"
        if got != ref:
            raise DigestMismatch(f"{what}: the registry sent content with digest {got}")
        digest = ref
    header = resp.getheader("Docker-Content-Digest")
    if header and header.startswith("sha256:") and header != digest and ":" not in ref:
        raise DigestMismatch(f"{what}: content has digest {digest}, the registry says {header}")
    if want is not None and want.size != len(data):
        raise DigestMismatch(f"{what}: {len(data)} bytes, the index says {want.size}")
    doc = load_json(data, what)
    mt = _media_type(resp, doc)
    if mt not in INDEX_TYPES and mt not in MANIFEST_TYPES:
        raise InvalidImage("mediaType", f"unsupported media type {mt!r} for {what} (pycontain "
                                        "pulls OCI and Docker schema2 images)")
    return data, mt, digest


def _read_into(resp: http.client.HTTPResponse, ing: Ingest, digest: str,
               progress: Progress | None, cancel: threading.Event) -> None:
    buf = bytearray(_BLOCK)
    view = memoryview(buf)
    while True:
        if cancel.is_set():
            raise _Cancelled
        n = resp.readinto(buf)
        if not n:
            return
        ing.write(view[:n])
        if progress is not None:
            progress.advance(digest, n)


def _fetch_blob(client: RegistryClient, name: str, desc: Descriptor, content: ContentStore,
                progress: Progress | None, cancel: threading.Event, *, what: str) -> None:
    if progress is not None:
        progress.start(desc.digest, desc.size, what)
    if content.has(desc.digest):
        if progress is not None:
            progress.done(desc.digest, "exists")
        return
    label = f"blob {desc.digest} of {client.domain}/{name}"
    with content.ingest(desc.digest, desc.size) as ing:
        failures = 0
        while True:
            try:
                resp = client.get(f"/v2/{name}/blobs/{desc.digest}", scope=_pull_scope(name),
                                  offset=ing.size)
                if resp.status == 200 and ing.size:
                    if progress is not None:
                        progress.advance(desc.digest, -ing.size)
                    ing.reset()  # the registry ignored the range: start over
                elif resp.status == 206:
                    start = (resp.getheader("Content-Range") or "").removeprefix("bytes ")
                    if not start.startswith(f"{ing.size}-"):
                        raise RegistryError(f"{label}: asked for bytes from {ing.size}, got "
                                            f"{start or 'no Content-Range'}", status=206)
                elif resp.status != 200:
                    raise client.fail(resp, label)
                _read_into(resp, ing, desc.digest, progress, cancel)
                if ing.size >= desc.size:
                    break
                # a response without a length that ended early: resume like a dropped one
                raise http.client.IncompleteRead(b"", desc.size - ing.size)
            except (OSError, http.client.HTTPException, RegistryError) as err:
                if isinstance(err, RegistryError) and err.status is not None \
                        and err.status < 500:
                    raise  # an answer, not a failed connection (a 5xx is tried again)
                client.drop_connections()
                failures += 1
                if failures > RETRIES:
                    raise RegistryError(f"{label}: gave up after {failures} tries, the "
                                        f"last at byte {ing.size} of {desc.size}: "
                                        f"{err!r}") from None
                time.sleep(min(2.0, 0.05 * 2 ** failures))
        # the block's end commits: DigestMismatch when the bytes are not what desc names
    if progress is not None:
        progress.done(desc.digest, "done")


def _run_all(jobs: int, tasks: list[Callable[[threading.Event], None]],
             progress: Progress | None) -> None:
    """Run *tasks* on at most *jobs* threads; the first error cancels the others and is
    raised once they have stopped (so nothing keeps writing after the call returns)."""
    cancel = threading.Event()
    if len(tasks) <= 1 or jobs <= 1:
        for t in tasks:
            t(cancel)
        return
    with concurrent.futures.ThreadPoolExecutor(max_workers=min(jobs, len(tasks)),
                                               thread_name_prefix="pycontain-transfer") as ex:
        futures = [ex.submit(t, cancel) for t in tasks]
        first: BaseException | None = None
        for f in concurrent.futures.as_completed(futures):
            if f.cancelled():
                continue
            err = f.exception()
            if err is not None and first is None and not isinstance(err, _Cancelled):
                first = err
                cancel.set()
                for other in futures:
                    other.cancel()
    if first is not None:
        raise first


def pull(content: ContentStore, ref: Reference, client: RegistryClient, *,
         platform: Platform | None = None, progress: Progress | None = None,
         jobs: int = 4) -> str:
    """Fetch the image *ref* into *content*; its manifest's digest."""
    name = ref.path
    data, mt, digest = _get_manifest(client, name, ref.digest or ref.tag or "latest")
    if mt in INDEX_TYPES:
        source = f"index {ref}"
        desc = select_platform(parse_index(data, source), platform, source)
        data, mt, digest = _get_manifest(client, name, desc.digest, desc)
        if mt not in MANIFEST_TYPES:
            raise InvalidImage("mediaType", f"{source}: {desc.digest} is not an image "
                                            f"manifest ({mt})")
    manifest = parse_manifest(data, f"manifest {ref} ({digest})")
    seen: set[str] = set()
    tasks: list[Callable[[threading.Event], None]] = []
    for desc, what in [(manifest.config, "config"), *((d, "layer") for d in manifest.layers)]:
        if desc.digest not in seen:
            seen.add(desc.digest)
            tasks.append(functools.partial(_fetch_blob, client, name, desc, content, progress,
                                           what=what))
    _run_all(jobs, tasks, progress)
    parse_config(content.read(manifest.config.digest), f"config {manifest.config.digest}")
    content.write_blob(data, digest)
    return digest


class _Reader:
    """A blob file that reports what is read from it (the upload's progress)."""

    def __init__(self, f: BinaryIO, digest: str, progress: Progress | None,
                 cancel: threading.Event, limit: int | None = None) -> None:
        self.f, self.digest, self.progress, self.cancel = f, digest, progress, cancel
        self.left = limit

    def read(self, n: int = -1, /) -> bytes:
        if self.cancel.is_set():
            raise _Cancelled
        if self.left is not None:
            n = self.left if n < 0 else min(n, self.left)
        data = self.f.read(n)
        if self.left is not None:
            self.left -= len(data)
        if self.progress is not None and data:
            self.progress.advance(self.digest, len(data))
        return data

    def close(self) -> None:
        self.f.close()


def _open_at(content: ContentStore, digest: str, progress: Progress | None,
             cancel: threading.Event, offset: int, limit: int | None) -> _Reader:
    """The blob *digest* from *offset* (at most *limit* bytes), for an upload request."""
    f = content.open(digest)
    f.seek(offset)
    return _Reader(f, digest, progress, cancel, limit)


def _with_query(url: str, **params: str) -> str:
    u = urlsplit(url)
    query = parse_qsl(u.query, keep_blank_values=True) + list(params.items())
    return urlunsplit((u.scheme, u.netloc, u.path, urlencode(query), u.fragment))


def _push_blob(client: RegistryClient, name: str, desc: Descriptor, content: ContentStore,
               progress: Progress | None, cancel: threading.Event, *, what: str,
               mount_from: str | None, chunk_size: int | None) -> None:
    if not content.has(desc.digest):
        raise ImageNotFound(f"no blob {desc.digest} ({what}) in {content.root} to push")
    scope = _push_scope(name, mount_from)
    label = f"blob {desc.digest} to {client.domain}/{name}"
    if progress is not None:
        progress.start(desc.digest, desc.size, what)
    resp = client.request("HEAD", f"/v2/{name}/blobs/{desc.digest}", scope=scope)
    resp.read()
    if resp.status == 200:
        if progress is not None:
            progress.done(desc.digest, "exists")
        return
    path = f"/v2/{name}/blobs/uploads/"
    if mount_from:
        path += "?" + urlencode({"mount": desc.digest, "from": mount_from})
    resp = client.request("POST", path, scope=scope, headers={"Content-Length": "0"}, body=b"")
    if resp.status == 201 and mount_from:
        resp.read()
        if progress is not None:
            progress.done(desc.digest, "mounted")
        return
    if resp.status != 202:
        raise client.fail(resp, f"start of the upload of {label}")
    resp.read()
    location = resp.getheader("Location")
    if not location:
        raise RegistryError(f"registry {client.domain}: no Location for the upload of {label}")
    offset = 0
    if chunk_size and desc.size > chunk_size:
        while offset < desc.size:
            n = min(chunk_size, desc.size - offset)

            chunk = functools.partial(_open_at, content, desc.digest, progress, cancel,
                                      offset, n)
            resp = client.request("PATCH", location, scope=scope, body=chunk, headers={
                "Content-Type": "application/octet-stream", "Content-Length": str(n),
                "Content-Range": f"{offset}-{offset + n - 1}"})
            if resp.status != 202:
                raise client.fail(resp, f"chunk at {offset} of {label}")
            resp.read()
            location = resp.getheader("Location") or location
            offset += n
    remaining = desc.size - offset

    body: Body = functools.partial(_open_at, content, desc.digest, progress, cancel, offset,
                                   None) if remaining else b""
    resp = client.request("PUT", _with_query(location, digest=desc.digest), scope=scope,
                          body=body, headers={"Content-Type": "application/octet-stream",
                                              "Content-Length": str(remaining)})
    if resp.status != 201:
        raise client.fail(resp, f"upload of {label}")
    resp.read()
    if progress is not None:
        progress.done(desc.digest, "done")


def _put_manifest(client: RegistryClient, name: str, ref: str, data: bytes, mt: str,
                  digest: str) -> None:
    resp = client.request("PUT", f"/v2/{name}/manifests/{ref}", scope=_push_scope(name),
                          body=data, headers={"Content-Type": mt,
                                              "Content-Length": str(len(data))})
    if resp.status != 201:
        raise client.fail(resp, f"manifest {client.domain}/{name}:{ref}")
    resp.read()
    got = resp.getheader("Docker-Content-Digest")
    if got and got.startswith("sha256:") and got != digest:
        raise DigestMismatch(f"registry {client.domain} stored manifest {digest} of {name} "
                             f"as {got}")


def push(content: ContentStore, digest: str, dest: Reference, client: RegistryClient, *,
         progress: Progress | None = None, jobs: int = 4, mount_from: str | None = None,
         chunk_size: int | None = None) -> str:
    """Send the image (manifest) or index *digest* of *content* to *dest*; the digest the
    registry keeps it under."""
    name = dest.path
    data = content.read(digest)
    doc = load_json(data, f"blob {digest}")
    mt = doc.get("mediaType")
    is_index = mt in INDEX_TYPES or (mt is None and "manifests" in doc)
    manifests: list[tuple[str, bytes, str]] = []
    if is_index:
        index = parse_index(doc, f"index {digest}")
        for d in index.manifests:
            if d.media_type not in MANIFEST_TYPES:
                raise InvalidImage("manifests", f"index {digest}: cannot push a nested "
                                                f"{d.media_type}")
            manifests.append((d.digest, content.read(d.digest), d.media_type))
    else:
        manifests.append((digest, data, mt if isinstance(mt, str) else ""))
    blobs: dict[str, tuple[Descriptor, str]] = {}
    parsed = []
    for mdigest, mdata, mmt in manifests:
        m = parse_manifest(mdata, f"manifest {mdigest}")
        parsed.append((mdigest, mdata, mmt or m.media_type))
        blobs.setdefault(m.config.digest, (m.config, "config"))
        for layer in m.layers:
            blobs.setdefault(layer.digest, (layer, "layer"))
    tasks: list[Callable[[threading.Event], None]] = [
        functools.partial(_push_blob, client, name, d, content, progress, what=w,
                          mount_from=mount_from, chunk_size=chunk_size)
        for d, w in blobs.values()]
    _run_all(jobs, tasks, progress)
    tag = dest.tag if dest.digest is None else dest.digest
    if is_index:
        for mdigest, mdata, mmt in parsed:
            _put_manifest(client, name, mdigest, mdata, mmt, mdigest)
        _put_manifest(client, name, tag or "latest", data, mt or OCI_INDEX,
                      digest)
    else:
        mdigest, mdata, mmt = parsed[0]
        _put_manifest(client, name, tag or "latest", mdata, mmt, mdigest)
    return digest
