"""Time unpacking a ~100 MB, 5-layer gzip OCI image: pycontain's layer store against
``umoci raw unpack`` and a bare ``tarfile.extractall``.

Run as root from a checkout: ``PYTHONPATH=$PWD python3 bench/unpack.py [--n 5]``.

The image is generated (seeded, so every run times the same bytes): five layers of a few
hundred files each (sizes from 200 B to 1 MiB, three quarters random bytes so that gzip
leaves ~80 % of them, like binaries and libraries), directories, symlinks, hard links, and
whiteouts in the upper layers.  Every timed run unpacks into a fresh directory; the trees
are removed only at the end, as mass deletes slow later file creation on ext4.  Rows are
interleaved and the page cache is synced (not timed) before each run.

Rows:

* ``pycontain``: ``ImageStore.unpack`` into an empty layer store: every layer verified
  (diff_id), written through directory fds with all the safety rules, as overlay-ready
  diff directories.
* ``pycontain-merged``: ``ImageStore.merge``: one merged tree (whiteouts applied), the copy
  fallback.
* ``umoci``: ``umoci raw unpack --image LAYOUT:bench DIR`` (one merged tree).
* ``umoci-spread``: the same into a directory whose parent has ext4's "top of directory
  hierarchies" attribute, as pycontain's layer store root has (its tree lands in a block
  group of its own, away from the temp dir's; on a file system without the attribute it
  is the ``umoci`` row again): what placement alone is worth.
* ``tarfile``: ``tarfile.open(blob, "r:gz").extractall(DIR)`` per layer into one tree, no
  whiteouts, no checks (the floor of pure-Python extraction).
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import io
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
import zlib
from collections.abc import Callable
from typing import Any

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from startup import base_env_info, clean_up_on_signals, preflight, tool_version

ROWS = ("pycontain", "pycontain-merged", "umoci", "umoci-spread", "tarfile")
TARGET = ("pycontain", "umoci", 0.5)  # the target: <= 0.5x umoci


def _gzip(raw: bytes) -> bytes:
    c = zlib.compressobj(6, zlib.DEFLATED, 31)
    return c.compress(raw) + c.flush()


def _layer(rng: random.Random, n: int, size: int) -> bytes:
    """One layer's tar: *n* files (about *size* bytes in all) in a few dozen directories."""
    text = b"the quick brown fox jumps over the lazy dog; " * 64
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as t:
        dirs = [f"usr/lib/pkg{n}-{i}" for i in range(24)] + [f"usr/share/doc/d{n}-{i}"
                                                             for i in range(12)]
        made = set()
        for d in dirs:
            parts = d.split("/")
            for k in range(1, len(parts) + 1):
                p = "/".join(parts[:k])
                if p not in made:
                    made.add(p)
                    ti = tarfile.TarInfo(p)
                    ti.type, ti.mode, ti.mtime = tarfile.DIRTYPE, 0o755, 1_600_000_000
                    t.addfile(ti)
        mean = size // n
        files = []
        for i in range(n):
            fsize = min(1 << 20, max(200, int(rng.expovariate(1 / mean))))
            rand = rng.randbytes(fsize * 3 // 4)
            data = (rand + text * (fsize // len(text) + 1))[:fsize]
            ti = tarfile.TarInfo(f"{rng.choice(dirs)}/f{i}.so")
            ti.size, ti.mode, ti.mtime = len(data), 0o644, 1_600_000_000
            t.addfile(ti, io.BytesIO(data))
            files.append(ti.name)
        for i in range(n // 10):
            ti = tarfile.TarInfo(f"{rng.choice(dirs)}/link{i}")
            ti.type, ti.linkname = tarfile.SYMTYPE, os.path.basename(rng.choice(files))
            t.addfile(ti)
            ti = tarfile.TarInfo(f"{rng.choice(dirs)}/hard{i}")
            ti.type, ti.linkname = tarfile.LNKTYPE, rng.choice(files)
            t.addfile(ti)
    return buf.getvalue()


def _whiteouts(rng: random.Random, raw: bytes) -> bytes:
    """A few whiteouts of the layer below's files, appended as a tiny tar of their own."""
    with tarfile.open(fileobj=io.BytesIO(raw)) as t:
        names = [m.name for m in t if m.isreg()]
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as t:
        for name in rng.sample(names, 20):
            d, _, b = name.rpartition("/")
            t.addfile(tarfile.TarInfo(f"{d}/.wh.{b}"))
    return buf.getvalue()


def make_layout(path: str, seed: int) -> dict[str, Any]:
    """The bench image as an OCI layout at *path*, tagged ``bench``."""
    rng = random.Random(seed)
    os.makedirs(f"{path}/blobs/sha256")

    def blob(data: bytes) -> dict[str, Any]:
        d = hashlib.sha256(data).hexdigest()
        with open(f"{path}/blobs/sha256/{d}", "wb") as f:
            f.write(data)
        return {"digest": f"sha256:{d}", "size": len(data)}

    layers, diff_ids, raw_total = [], [], 0
    prev = b""
    for n in range(5):
        raw = _layer(rng, 600, 21 << 20)
        if n:
            extra = _whiteouts(rng, prev)
            # one tar: the whiteouts' members first (they hide the layer below only)
            with tarfile.open(fileobj=io.BytesIO(extra)) as w, \
                    tarfile.open(fileobj=io.BytesIO(raw)) as r:
                out = io.BytesIO()
                with tarfile.open(fileobj=out, mode="w", format=tarfile.PAX_FORMAT) as t:
                    for src in (w, r):
                        for m in src:
                            t.addfile(m, src.extractfile(m) if m.isreg() else None)
                raw = out.getvalue()
        prev = raw
        raw_total += len(raw)
        diff_ids.append("sha256:" + hashlib.sha256(raw).hexdigest())
        layers.append({"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
                       **blob(_gzip(raw))})
    arch = {"x86_64": "amd64", "aarch64": "arm64"}.get(os.uname().machine, os.uname().machine)
    config = blob(json.dumps({"architecture": arch, "os": "linux", "config": {},
                              "rootfs": {"type": "layers", "diff_ids": diff_ids}}).encode())
    manifest = blob(json.dumps({
        "schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", **config},
        "layers": layers}).encode())
    with open(f"{path}/oci-layout", "w") as f:
        f.write('{"imageLayoutVersion":"1.0.0"}')
    with open(f"{path}/index.json", "w") as f:
        json.dump({"schemaVersion": 2, "manifests": [{
            "mediaType": "application/vnd.oci.image.manifest.v1+json", **manifest,
            "annotations": {"org.opencontainers.image.ref.name": "bench"}}]}, f)
    return {"layers": len(layers), "compressed": sum(x["size"] for x in layers),
            "uncompressed_tar": raw_total,
            "blobs": [f"{path}/blobs/sha256/{x['digest'][7:]}" for x in layers]}


class Bench:
    def __init__(self, tmp: str, layout: str, info: dict[str, Any]) -> None:
        from pycontain.images import ImageStore

        self.tmp = tmp
        self.layout = layout
        self.info = info
        self.store = ImageStore(f"{tmp}/store", durable=False)
        [self.image] = self.store.import_archive(layout, unpack=False)
        self.n = 0

    def fresh(self, row: str) -> str:
        self.n += 1
        return f"{self.tmp}/out/{row}-{self.n}"

    def pycontain(self) -> float:
        from pycontain.images import ImageStore
        from pycontain.storage import LayerStore

        layers = LayerStore(self.fresh("pycontain"))
        store = ImageStore(self.store.root, layers=layers, durable=False)
        t0 = time.perf_counter()
        store.unpack(self.image)
        return time.perf_counter() - t0

    def pycontain_merged(self) -> float:
        dest = self.fresh("merged")
        os.makedirs(dest)
        t0 = time.perf_counter()
        self.store.merge(self.image, dest)
        return time.perf_counter() - t0

    def umoci(self, spread: bool = False) -> float:
        dest = self.fresh("umoci")
        if spread:
            from pycontain.storage.layers import _mark_top_dir

            dest = f"{self.tmp}/out-spread/{os.path.basename(dest)}"
        os.makedirs(os.path.dirname(dest), exist_ok=True)  # umoci makes only the last part
        if spread:
            _mark_top_dir(os.path.dirname(dest))
        t0 = time.perf_counter()
        subprocess.run(["umoci", "raw", "unpack", "--image", f"{self.layout}:bench", dest],
                       check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        return time.perf_counter() - t0

    def tarfile(self) -> float:
        dest = self.fresh("tarfile")
        os.makedirs(dest)
        t0 = time.perf_counter()
        for b in self.info["blobs"]:
            with tarfile.open(b, "r:gz") as t:
                t.extractall(dest, filter="fully_trusted")
        return time.perf_counter() - t0


def report_target(samples: dict[str, list[float]], med: dict[str, float],
                  target: tuple[str, str, float], json_path: str | None,
                  env: dict[str, Any], info: dict[str, Any]) -> None:
    """The target line (medians' ratio, and the median of per-round ratios: rows of one
    round ran back to back, so their ratio drifts less with the machine's load) and, with
    *json_path*, every sample written there.  Shared with bench/pull.py."""
    row, ref, limit = target
    ratio = med[row] / med[ref]
    paired = statistics.median(a / b for a, b in zip(samples[row], samples[ref], strict=True))
    print(f"target {row} <= {limit}x {ref}: {ratio:.2f}x (median of per-round ratios "
          f"{paired:.2f}x) {'met' if max(ratio, paired) <= limit else 'NOT met'}")
    if json_path:
        with open(json_path, "w") as f:
            json.dump({"env": env, "image": {k: v for k, v in info.items() if k != "blobs"},
                       "samples": samples, "median": med, "paired_ratio": paired}, f, indent=2)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=5, help="timed runs per row (default 5)")
    ap.add_argument("--warmup", type=int, default=1, help="untimed runs per row first")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--dir", help="where to work (default: a temp dir; must be empty)")
    ap.add_argument("--json", metavar="FILE", help="also write the results here")
    args = ap.parse_args()
    if preflight("unpack.py"):
        return 2
    if not shutil.which("umoci"):
        print("unpack.py needs umoci (apt-get install umoci)", file=sys.stderr)
        return 2
    clean_up_on_signals()
    tmp = tempfile.mkdtemp(prefix="pycontain-bench-unpack-", dir=args.dir)
    try:
        info = make_layout(f"{tmp}/layout", args.seed)
        env = {**base_env_info(args), "umoci": tool_version(["umoci", "--version"])}
        print(f"# pycontain unpack bench, {env['date']}, kernel {env['kernel']}, "
              f"{env['cpus']} CPUs, Python {env['python']}; {env['umoci']}")
        print(f"# pycontain {env['pycontain']}")
        print(f"# image: {info['layers']} gzip layers, {info['compressed'] / 1e6:.1f} MB "
              f"compressed, {info['uncompressed_tar'] / 1e6:.1f} MB of tar; "
              f"N={args.n} runs per row after {args.warmup} warm-up, interleaved", flush=True)
        bench = Bench(tmp, f"{tmp}/layout", info)
        fns: dict[str, Callable[[], float]] = {
            "pycontain": bench.pycontain, "pycontain-merged": bench.pycontain_merged,
            "umoci": bench.umoci, "umoci-spread": lambda: bench.umoci(spread=True),
            "tarfile": bench.tarfile}
        samples: dict[str, list[float]] = {r: [] for r in ROWS}
        rng = random.Random(args.seed)
        for rnd in range(args.warmup + args.n):
            order = list(ROWS)
            rng.shuffle(order)
            for row in order:
                os.sync()
                t = fns[row]()
                if rnd >= args.warmup:
                    samples[row].append(t)
        med = {r: statistics.median(s) for r, s in samples.items()}
        print(f"{'row':<18}{'median s':>10}{'min s':>8}{'MB/s':>8}{'vs umoci':>10}")
        for r in ROWS:
            print(f"{r:<18}{med[r]:>10.3f}{min(samples[r]):>8.3f}"
                  f"{info['uncompressed_tar'] / 1e6 / med[r]:>8.0f}{med[r] / med['umoci']:>9.2f}x")
        report_target(samples, med, TARGET, args.json, env, info)
    except KeyboardInterrupt:
        print("\ninterrupted; cleaning up", file=sys.stderr)
        return 130
    finally:
        with contextlib.suppress(KeyboardInterrupt):
            shutil.rmtree(tmp)
    return 0


if __name__ == "__main__":
    sys.exit(main())
