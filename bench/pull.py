"""Time pulling a ~100 MB, 5-layer gzip image from a local registry: pycontain's
``ImageStore.pull`` against ``skopeo copy docker://... oci:DIR``.

Run as root from a checkout: ``PYTHONPATH=$PWD python3 bench/pull.py [--n 5]``.

The image is ``bench/unpack.py``'s (seeded: every run moves the same bytes), pushed once to
Debian's ``docker-registry`` started on 127.0.0.1 and a free port (plain HTTP, storage in a
temp dir), which is stopped and removed at the end.  Every timed run pulls into a fresh,
empty store or layout, so every blob crosses the loopback; rows are interleaved and the page
cache is synced (not timed) before each run.

Rows:

* ``pycontain``: ``ImageStore(root).pull(ref, tls_verify=False, unpack=False)``: manifest,
  config and layers into the content store, each blob hashed and size-checked while it
  streams in, synced and renamed into place (the store's default, ``durable=True``).
* ``pycontain-nosync``: the same into a store made with ``durable=False`` (no fsync).
* ``pycontain-unpack``: the same, and the layers unpacked into the layer store.
* ``skopeo``: ``skopeo copy --src-tls-verify=false docker://REF oci:DIR:bench``.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "tests"))
from registryhelpers import Registry
from startup import base_env_info, clean_up_on_signals, preflight, tool_version
from unpack import make_layout, report_target

ROWS = ("pycontain", "pycontain-nosync", "pycontain-unpack", "skopeo")
TARGET = ("pycontain", "skopeo", 1.0)  # the target: <= 1.0x skopeo copy


class Bench:
    def __init__(self, tmp: str, ref: str, jobs: int) -> None:
        self.tmp, self.ref, self.jobs = tmp, ref, jobs
        self.n = 0

    def fresh(self, row: str) -> str:
        self.n += 1
        os.makedirs(f"{self.tmp}/out", exist_ok=True)
        return f"{self.tmp}/out/{row}-{self.n}"

    def _pull(self, row: str, *, durable: bool, unpack: bool) -> float:
        from pycontain.images import ImageStore

        store = ImageStore(self.fresh(row), durable=durable)
        t0 = time.perf_counter()
        store.pull(self.ref, tls_verify=False, unpack=unpack, jobs=self.jobs)
        return time.perf_counter() - t0

    def pycontain(self) -> float:
        return self._pull("pycontain", durable=True, unpack=False)

    def pycontain_nosync(self) -> float:
        return self._pull("nosync", durable=False, unpack=False)

    def pycontain_unpack(self) -> float:
        return self._pull("unpack", durable=True, unpack=True)

    def skopeo(self) -> float:
        dest = self.fresh("skopeo")
        t0 = time.perf_counter()
        subprocess.run(["skopeo", "copy", "--quiet", "--src-tls-verify=false",
                        f"docker://{self.ref}", f"oci:{dest}:bench"], check=True,
                       stdout=subprocess.DEVNULL)
        return time.perf_counter() - t0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=5, help="timed runs per row (default 5)")
    ap.add_argument("--warmup", type=int, default=1, help="untimed runs per row first")
    ap.add_argument("--jobs", type=int, default=4, help="pycontain's concurrent blobs")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--dir", help="where to work (default: a temp dir)")
    ap.add_argument("--json", metavar="FILE", help="also write the results here")
    args = ap.parse_args()
    if preflight("pull.py"):
        return 2
    for tool in ("skopeo", "docker-registry"):
        if not shutil.which(tool):
            print(f"pull.py needs {tool} (apt-get install {tool})", file=sys.stderr)
            return 2
    clean_up_on_signals()
    tmp = tempfile.mkdtemp(prefix="pycontain-bench-pull-", dir=args.dir)
    registry = None
    try:
        from pathlib import Path

        from pycontain.images import ImageStore

        info = make_layout(f"{tmp}/layout", args.seed)
        registry = Registry(Path(tmp) / "registry")
        ref = f"{registry.address}/bench/image:v1"
        seed_store = ImageStore(f"{tmp}/seed", durable=False)
        [image] = seed_store.import_archive(f"{tmp}/layout", unpack=False)
        seed_store.push(image, ref, tls_verify=False)
        env = {**base_env_info(args), "skopeo": tool_version(["skopeo", "--version"]),
               "registry": tool_version(["docker-registry", "--version"])}
        print(f"# pycontain pull bench, {env['date']}, kernel {env['kernel']}, "
              f"{env['cpus']} CPUs, Python {env['python']}; {env['skopeo']}; "
              f"{env['registry']}")
        print(f"# pycontain {env['pycontain']}")
        print(f"# image: {info['layers']} gzip layers, {info['compressed'] / 1e6:.1f} MB "
              f"compressed, from 127.0.0.1 over HTTP; jobs={args.jobs}; N={args.n} runs per "
              f"row after {args.warmup} warm-up, interleaved", flush=True)
        bench = Bench(tmp, ref, args.jobs)
        fns: dict[str, Callable[[], float]] = {
            "pycontain": bench.pycontain, "pycontain-nosync": bench.pycontain_nosync,
            "pycontain-unpack": bench.pycontain_unpack, "skopeo": bench.skopeo}
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
        mb = info["compressed"] / 1e6
        print(f"{'row':<18}{'median s':>10}{'min s':>8}{'MB/s':>8}{'vs skopeo':>11}")
        for r in ROWS:
            print(f"{r:<18}{med[r]:>10.3f}{min(samples[r]):>8.3f}{mb / med[r]:>8.0f}"
                  f"{med[r] / med['skopeo']:>10.2f}x")
        report_target(samples, med, TARGET, args.json, env, info)
    except KeyboardInterrupt:
        print("\ninterrupted; cleaning up", file=sys.stderr)
        return 130
    finally:
        with contextlib.suppress(KeyboardInterrupt):
            if registry is not None:
                registry.stop()
            shutil.rmtree(tmp)
    return 0


if __name__ == "__main__":
    sys.exit(main())
