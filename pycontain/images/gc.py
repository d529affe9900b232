"""Garbage of the image store: what removing a tag or an image frees, ``prune``, and the
numbers of ``system df``.

The store keeps nothing about an image besides its blobs and its tags, so what is in use is
found by walking: from each image that stays (its manifest, or an index and the manifests
of it the store holds) to its config, its layer blobs and its layers' chain IDs.  Every
blob and unpacked layer not reached is freed.  This runs under the store's exclusive
``gc.lock``, which every pull, import and commit holds shared until its tag is written.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, Any

from attrs import define

from pycontain.errors import ConfigError, ImageError, ImageNotFound
from pycontain.images.holds import check_holder, hold, holds, process_holder, release
from pycontain.images.manifest import parse_config, parse_index, parse_manifest
from pycontain.images.reference import check_digest, parse_reference
from pycontain.storage.layers import chain_ids

if TYPE_CHECKING:
    from pycontain.images.store import ImageStore

# the holds live in their own module (a start holds its image without loading this one)
__all__ = ["DiskUsage", "Removed", "check_holder", "disk_usage", "hold", "holds",
           "process_holder", "prune", "release", "remove"]

_SMALL = 4 << 20


@define(frozen=True)
class Removed:
    """What a removal did: the names untagged, the images (manifest digests) deleted, and
    the blobs and unpacked layers freed, with the bytes they held."""

    untagged: tuple[str, ...] = ()
    deleted: tuple[str, ...] = ()
    blobs: int = 0
    layers: int = 0
    bytes_freed: int = 0


@define(frozen=True)
class DiskUsage:
    """``system df``: tagged images, stored blobs, unpacked layers, and what a prune would
    free."""

    images: int
    blobs: int
    blobs_size: int
    layers: int
    layers_size: int
    reclaimable: int


def _kind(store: ImageStore, digest: str) -> dict[str, Any] | None:
    """The blob as JSON when it is a manifest or an index, else None (a config, a layer)."""
    path = store.content.path(digest)
    try:
        with open(path, "rb") as f:
            if os.fstat(f.fileno()).st_size > _SMALL or f.read(1) != b"{":
                return None
            data = b"{" + f.read()
        doc = json.loads(data)
    except (OSError, ValueError):
        return None
    if not isinstance(doc, dict):
        return None
    if isinstance(doc.get("manifests"), list):
        return doc
    if isinstance(doc.get("layers"), list) and isinstance(doc.get("config"), dict):
        return doc
    return None


def _untagged_manifests(store: ImageStore, digests: Iterable[str]) -> Iterator[str]:
    for d in digests:
        doc = _kind(store, d)
        if doc is not None and "layers" in doc:
            yield d


def _reach(store: ImageStore, roots: Iterable[str]) -> tuple[set[str], set[str]]:
    """The blobs and chain IDs reached from the manifests and indexes *roots*."""
    blobs: set[str] = set()
    layers: set[str] = set()
    todo = list(roots)
    while todo:
        d = todo.pop()
        if d in blobs or not store.content.has(d):
            continue
        blobs.add(d)
        doc = _kind(store, d)
        if doc is None:
            continue
        try:
            if "manifests" in doc:
                todo.extend(m.digest for m in parse_index(doc, d).manifests)
                continue
            m = parse_manifest(doc, d)
            blobs.add(m.config.digest)
            blobs.update(layer.digest for layer in m.layers)
            if store.content.has(m.config.digest):
                cfg = parse_config(store.content.read(m.config.digest), m.config.digest)
                layers.update(chain_ids(cfg.diff_ids))
        except ImageError:
            continue   # a broken image keeps what it names; it frees nothing it shares
    return blobs, layers


def _sweep(store: ImageStore, keep_blobs: set[str], keep_layers: set[str],
           ) -> tuple[int, int, int]:
    nblobs = nlayers = freed = 0
    for d in list(store.content.digests()):
        if d in keep_blobs:
            continue
        try:
            freed += store.content.size(d)
        except ImageNotFound:
            continue
        store.content.delete(d)
        nblobs += 1
    for c in list(store.layers.chain_ids()):
        if c in keep_layers:
            continue
        try:
            freed += store.layers.get(c).size
        except ImageNotFound:
            continue
        store.layers.remove(c)
        nlayers += 1
    store.content.clean_ingest()
    return nblobs, nlayers, freed


def remove(store: ImageStore, ref: str, *, force: bool = False) -> Removed:
    """Remove the tag *ref*, or with a digest the image and every tag of it (more than
    one tag only with *force*, as ``docker rmi``).  An image that no tag names any more is
    deleted with the blobs and layers that no other image of the store uses."""
    if not isinstance(ref, str) or not ref:
        raise ConfigError("ref", "expected an image name or digest")
    with store.gc_lock(shared=False):
        tags = store.tags()
        if ref.startswith(("sha256:", "sha512:")) or "@" in ref:
            digest = check_digest(ref, "ref") if ref.startswith(("sha256:", "sha512:")) \
                else parse_reference(ref, field="ref").digest or ""
            if not store.content.has(digest):
                raise ImageNotFound(f"no image {ref} in {store.root}")
            names = [n for n, d in tags.items() if d == digest]
            if len(names) > 1 and not force:
                raise ImageError(f"image {digest} has {len(names)} tags ({', '.join(names)}): "
                                 "remove them by name, or force")
        else:
            r = parse_reference(ref, field="ref")
            digest = tags.get(str(r), "")
            if not digest:
                raise ImageNotFound(f"no image {r} in {store.root}")
            names = [str(r)]
        users = sorted(h for h, d in holds(store).items() if d == digest)
        last = not any(d == digest and n not in names for n, d in tags.items())
        if users and last and not force:
            raise ImageError(f"image {digest} is in use by {', '.join(users)}",
                             hint="remove those containers first; force only untags it")
        for n in names:
            store.untag(n)
        if not last or users:
            return Removed(untagged=tuple(names))
        stays = set(store.tags().values()) | set(holds(store).values())
        stays.update(d for d in _untagged_manifests(store, store.content.digests())
                     if d != digest)
        keep_blobs, keep_layers = _reach(store, stays)
        nblobs, nlayers, freed = _sweep(store, keep_blobs, keep_layers)
        return Removed(tuple(names), (digest,), nblobs, nlayers, freed)


def prune(store: ImageStore) -> Removed:
    """Delete every image no tag names and no container holds (a dangling one), and every
    blob and layer that no tagged or held image uses."""
    with store.gc_lock(shared=False):
        tagged = set(store.tags().values()) | set(holds(store).values())
        dangling = tuple(sorted(d for d in _untagged_manifests(store, store.content.digests())
                                if d not in tagged))
        keep_blobs, keep_layers = _reach(store, tagged)
        nblobs, nlayers, freed = _sweep(store, keep_blobs, keep_layers)
        return Removed((), dangling, nblobs, nlayers, freed)


def disk_usage(store: ImageStore) -> DiskUsage:
    """The store's numbers, read under a shared lock (a prune waits for it)."""
    with store.gc_lock(shared=True):
        tagged = set(store.tags().values())
        keep_blobs, keep_layers = _reach(store, tagged | set(holds(store).values()))
        blobs = blobs_size = reclaim = 0
        for d in store.content.digests():
            try:
                size = store.content.size(d)
            except ImageNotFound:
                continue
            blobs += 1
            blobs_size += size
            if d not in keep_blobs:
                reclaim += size
        layers = layers_size = 0
        for c in store.layers.chain_ids():
            try:
                size = store.layers.get(c).size
            except ImageNotFound:
                continue
            layers += 1
            layers_size += size
            if c not in keep_layers:
                reclaim += size
        return DiskUsage(len(tagged), blobs, blobs_size, layers, layers_size, reclaim)
