"""Images for the clients, built offline: an OCI image layout tar (with a docker
``manifest.json`` beside it, so ``docker load``, ``ctr image import`` and ``podman load`` all
take the same file) from a plain rootfs directory."""

from __future__ import annotations

import hashlib
import io
import json
import os
import subprocess
import tarfile
from pathlib import Path

PAUSE_C = r"""
/* A static pause for the CRI sandbox: sleeps, reaps children, exits on TERM/INT. */
#include <signal.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>
static void quit(int sig) { (void)sig; _exit(0); }
static void reap(int sig) { (void)sig; while (waitpid(-1, NULL, WNOHANG) > 0) {} }
int main(void) {
    signal(SIGTERM, quit);
    signal(SIGINT, quit);
    signal(SIGCHLD, reap);
    for (;;) pause();
}
"""


def build_pause(dest: Path) -> Path:
    """A rootfs holding only /pause, a static binary compiled here."""
    src = dest.parent / "pause.c"
    src.write_text(PAUSE_C)
    dest.mkdir(parents=True, exist_ok=True)
    for d in ("proc", "dev", "sys", "etc"):
        (dest / d).mkdir(exist_ok=True)
    subprocess.run(["gcc", "-static", "-Os", "-o", str(dest / "pause"), str(src)], check=True)
    return dest


def _tar_dir(root: Path) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tf:
        for dirpath, dirnames, filenames in os.walk(root):
            dirnames.sort()
            for name in sorted(dirnames) + sorted(filenames):
                full = os.path.join(dirpath, name)
                arc = os.path.relpath(full, root)
                info = tf.gettarinfo(full, arcname=arc)
                info.uid = info.gid = 0
                info.uname = info.gname = "root"
                info.mtime = 0
                if info.isfile():
                    with open(full, "rb") as f:
                        tf.addfile(info, f)
                else:
                    tf.addfile(info)
    return buf.getvalue()


def _sha(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def write_image_archive(
    rootfs: Path,
    out: Path,
    name: str,
    *,
    cmd: list[str] | None = None,
    entrypoint: list[str] | None = None,
) -> Path:
    """``name`` like ``localhost/pctest/busybox:latest``."""
    layer = _tar_dir(rootfs)
    config = {
        "architecture": "amd64",
        "os": "linux",
        "created": "1970-01-01T00:00:00Z",
        "config": {
            "Env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"],
            "Cmd": cmd,
            "Entrypoint": entrypoint,
            "WorkingDir": "/",
        },
        "rootfs": {"type": "layers", "diff_ids": [_sha(layer)]},
        "history": [{"created": "1970-01-01T00:00:00Z", "created_by": "pycontain tests"}],
    }
    config_b = json.dumps(config).encode()
    manifest = {
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {
            "mediaType": "application/vnd.oci.image.config.v1+json",
            "digest": _sha(config_b),
            "size": len(config_b),
        },
        "layers": [
            {
                "mediaType": "application/vnd.oci.image.layer.v1.tar",
                "digest": _sha(layer),
                "size": len(layer),
            }
        ],
    }
    manifest_b = json.dumps(manifest).encode()
    tag = name.rpartition(":")[2]
    index = {
        "schemaVersion": 2,
        "manifests": [
            {
                "mediaType": "application/vnd.oci.image.manifest.v1+json",
                "digest": _sha(manifest_b),
                "size": len(manifest_b),
                "annotations": {
                    "io.containerd.image.name": name,
                    "org.opencontainers.image.ref.name": tag,
                },
            }
        ],
    }
    blobs = {_sha(b).split(":")[1]: b for b in (layer, config_b, manifest_b)}
    docker_manifest = [
        {
            "Config": f"blobs/sha256/{_sha(config_b).split(':')[1]}",
            "RepoTags": [name],
            "Layers": [f"blobs/sha256/{_sha(layer).split(':')[1]}"],
        }
    ]
    files = {
        "oci-layout": json.dumps({"imageLayoutVersion": "1.0.0"}).encode(),
        "index.json": json.dumps(index).encode(),
        "manifest.json": json.dumps(docker_manifest).encode(),
    }
    with tarfile.open(out, "w") as tf:

        def add(arc: str, data: bytes, mode: int = 0o644) -> None:
            info = tarfile.TarInfo(arc)
            info.size = len(data)
            info.mode = mode
            tf.addfile(info, io.BytesIO(data))

        for d in ("blobs", "blobs/sha256"):
            info = tarfile.TarInfo(d)
            info.type = tarfile.DIRTYPE
            info.mode = 0o755
            tf.addfile(info)
        for digest, data in blobs.items():
            add(f"blobs/sha256/{digest}", data)
        for arc, data in files.items():
            add(arc, data)
    return out
