"""Images made by hand for the image tests: layer tars entry by entry, OCI layouts and
``docker save`` archives around them, and a file-by-file snapshot of a tree to compare."""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import stat
import tarfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import zstandard

from pycontain.images.manifest import host_platform

# a file capability (VFS_CAP_REVISION_2, cap_net_raw permitted+effective)
CAP_NET_RAW = bytes.fromhex("0100000200200000000000000000000000000000")


def entry(name: str, kind: bytes = tarfile.REGTYPE, data: bytes = b"", *, mode: int = 0o644,
          uid: int = 0, gid: int = 0, linkname: str = "", dev: tuple[int, int] = (0, 0),
          xattrs: dict[str, bytes] | None = None, mtime: int = 1_600_000_000) -> dict[str, Any]:
    """One tar member, as :func:`make_tar` takes it."""
    return {"name": name, "type": kind, "data": data, "mode": mode, "uid": uid, "gid": gid,
            "linkname": linkname, "dev": dev, "xattrs": xattrs or {}, "mtime": mtime}


def make_tar(entries: Sequence[dict[str, Any]]) -> bytes:
    """A PAX tar of *entries*, in their order (hostile ones included: nothing is checked)."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as t:
        for e in entries:
            ti = tarfile.TarInfo(e["name"])
            ti.type = e["type"]
            ti.mode, ti.uid, ti.gid, ti.mtime = e["mode"], e["uid"], e["gid"], e["mtime"]
            ti.linkname = e["linkname"]
            ti.devmajor, ti.devminor = e["dev"]
            if e["xattrs"]:
                ti.pax_headers = {f"SCHILY.xattr.{k}": v.decode("utf-8", "surrogateescape")
                                  for k, v in e["xattrs"].items()}
            data = e["data"]
            ti.size = len(data) if ti.type in (tarfile.REGTYPE, tarfile.AREGTYPE) else 0
            t.addfile(ti, io.BytesIO(data) if ti.size else None)
    return buf.getvalue()


def tar_dir(root: Path, prefix: str = "") -> bytes:
    """A tar of the directory *root* as it is (owners, modes, links)."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as t:
        for dirpath, dirnames, filenames in os.walk(root):
            dirnames.sort()
            for name in sorted(dirnames + filenames):
                full = os.path.join(dirpath, name)
                t.add(full, arcname=prefix + os.path.relpath(full, root), recursive=False)
    return buf.getvalue()


def compress(raw: bytes, how: str) -> bytes:
    if how == "gzip":
        return gzip.compress(raw, compresslevel=6, mtime=0)
    if how == "zstd":
        return zstandard.ZstdCompressor().compress(raw)
    return raw


_LAYER_TYPE = {"gzip": "application/vnd.oci.image.layer.v1.tar+gzip",
               "zstd": "application/vnd.oci.image.layer.v1.tar+zstd",
               "": "application/vnd.oci.image.layer.v1.tar"}


def sha(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def _blob(layout: Path, data: bytes) -> dict[str, Any]:
    d = sha(data)
    p = layout / "blobs" / "sha256" / d[7:]
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_bytes(data)
    return {"digest": d, "size": len(data)}


def make_config(diff_ids: Sequence[str], extra: dict[str, Any] | None = None) -> bytes:
    plat = host_platform()
    cfg = {"architecture": plat.architecture, "os": "linux",
           "config": {"Cmd": ["/bin/sh"], "Env": ["PATH=/bin"]},
           "rootfs": {"type": "layers", "diff_ids": list(diff_ids)}}
    cfg.update(extra or {})
    return json.dumps(cfg).encode()


def write_layout(layout: Path, layers: Sequence[bytes], *, compression: str = "gzip",
                 tag: str = "latest", diff_ids: Sequence[str] | None = None,
                 config: dict[str, Any] | None = None) -> dict[str, Any]:
    """An OCI image layout at *layout* with one image of the raw tars *layers*, tagged
    *tag* (``org.opencontainers.image.ref.name``).  *diff_ids* replaces the true ones (to
    forge a mismatch).  Returns the manifest's descriptor."""
    layout.mkdir(parents=True, exist_ok=True)
    (layout / "oci-layout").write_text('{"imageLayoutVersion":"1.0.0"}')
    descs = []
    for raw in layers:
        descs.append({"mediaType": _LAYER_TYPE[compression],
                      **_blob(layout, compress(raw, compression))})
    ids = list(diff_ids) if diff_ids is not None else [sha(raw) for raw in layers]
    raw_config = make_config(ids)
    if config is not None:   # the image config's "config" object (Entrypoint, Cmd, ...)
        doc = json.loads(raw_config)
        doc["config"] = config
        raw_config = json.dumps(doc).encode()
    config_desc = {"mediaType": "application/vnd.oci.image.config.v1+json",
                   **_blob(layout, raw_config)}
    manifest = {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
                "config": config_desc, "layers": descs}
    mdesc = {"mediaType": "application/vnd.oci.image.manifest.v1+json",
             **_blob(layout, json.dumps(manifest).encode()),
             "annotations": {"org.opencontainers.image.ref.name": tag}}
    (layout / "index.json").write_text(json.dumps(
        {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json",
         "manifests": [mdesc]}))
    return mdesc


def write_docker_save(dest: Path, layers: Sequence[bytes], repo_tags: Sequence[str]) -> None:
    """A ``docker save`` archive (the legacy layout: manifest.json, repositories,
    <id>/layer.tar, <config>.json) of the raw tars *layers*, as a tar file *dest*."""
    diff_ids = [sha(raw) for raw in layers]
    config = make_config(diff_ids)
    files: dict[str, bytes] = {}
    cname = sha(config)[7:] + ".json"
    files[cname] = config
    paths = []
    for raw in layers:
        lid = sha(raw)[7:]
        files[f"{lid}/VERSION"] = b"1.0"
        files[f"{lid}/json"] = json.dumps({"id": lid}).encode()
        files[f"{lid}/layer.tar"] = raw
        paths.append(f"{lid}/layer.tar")
    files["manifest.json"] = json.dumps(
        [{"Config": cname, "RepoTags": list(repo_tags), "Layers": paths}]).encode()
    repos: dict[str, dict[str, str]] = {}
    for t in repo_tags:
        name, _, tag = t.rpartition(":")
        repos.setdefault(name, {})[tag] = paths[-1].split("/")[0]
    files["repositories"] = json.dumps(repos).encode()
    with tarfile.open(dest, "w") as t:
        for name, data in files.items():
            ti = tarfile.TarInfo(name)
            ti.size = len(data)
            t.addfile(ti, io.BytesIO(data))


def snapshot(root: str | Path, *, mtimes: bool = True) -> dict[str, tuple[Any, ...]]:
    """Every entry under *root* (not the root itself): type, mode, owner, size, content
    hash, link target, device, xattrs, mtime of non-directories, and hard-link identity
    (the first path of each multiply-linked inode, sorted)."""
    out: dict[str, tuple[Any, ...]] = {}
    first: dict[tuple[int, int], str] = {}
    paths = []
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            paths.append(os.path.join(dirpath, name))
    for full in sorted(paths):
        rel = os.path.relpath(full, root)
        st = os.lstat(full)
        kind = stat.S_IFMT(st.st_mode)
        digest = target = None
        if stat.S_ISREG(st.st_mode):
            with open(full, "rb") as f:
                digest = hashlib.sha256(f.read()).hexdigest()
        if stat.S_ISLNK(st.st_mode):
            target = os.readlink(full)
            xattrs: tuple[Any, ...] = ()
        else:
            xattrs = tuple(sorted((k, os.getxattr(full, k, follow_symlinks=False))
                                  for k in os.listxattr(full, follow_symlinks=False)))
        link = None
        if st.st_nlink > 1 and not stat.S_ISDIR(st.st_mode):
            link = first.setdefault((st.st_dev, st.st_ino), rel)
        dev = (os.major(st.st_rdev), os.minor(st.st_rdev)) if kind in (
            stat.S_IFCHR, stat.S_IFBLK) else None
        mtime = st.st_mtime_ns if mtimes and not stat.S_ISDIR(st.st_mode) \
            and not stat.S_ISLNK(st.st_mode) else None
        out[rel] = (kind, stat.S_IMODE(st.st_mode), st.st_uid, st.st_gid,
                    st.st_size if kind == stat.S_IFREG else None, digest, target, dev,
                    xattrs, link, mtime)
    return out


def diff_snapshots(a: dict[str, Any], b: dict[str, Any]) -> list[str]:
    """What differs between two snapshots, one line per path."""
    out = []
    for k in sorted(set(a) | set(b)):
        if a.get(k) != b.get(k):
            out.append(f"{k}: {a.get(k)} != {b.get(k)}")
    return out
