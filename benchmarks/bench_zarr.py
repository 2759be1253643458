"""Chunked Zarr warps and folder jobs on Dask (issue 15), against dask-image and in-memory runs.

    pip install '.[zarr]' dask-image psutil       # dask-image and psutil: benchmark-only
    python benchmarks/bench_zarr.py [--size 1024] [--mid 512] [--pngs 2000] [--runs 3]
                                    [--work /tmp/gswarp-bench-zarr] [--only 1,2,3,4]
                                    [--worker-memory 512MiB]

1. Bigger than memory: a uint16 SIZE^3 volume (1024^3: 2 GiB) in Zarr (128^3 chunks, zstd),
   warped by ``rotate: [10, 0, 20]`` trilinear on a LocalCluster of 2 worker processes with a
   512 MiB memory limit each (1 thread each). Peak resident memory of this process and all its
   children together (psutil, sampled every 50 ms) must stay <= 1.5 GiB.
2. dask-image's ``affine_transform`` (order 1, the same output chunks, the same cluster,
   written to Zarr with the same codec) on the same volume: gswarp's time <= 0.3x its time.
   Both maps are the same (output voxel -> input voxel); the interior voxels are compared.
3. Chunked vs in memory on a MID^3 uint16 volume that fits: ``warp_zarr`` (dask's threaded
   scheduler, 2 threads) <= 1.25x reading the whole array, ``warp_affine`` on it, and writing it
   back (the same store format and codec), in this process.
4. A folder of PNGS 512x512 RGB PNGs: ``gswarp apply --cluster local:2`` vs ``gswarp apply
   --jobs 2``, each a fresh process: <= 1.15x.

Runs of the compared commands are interleaved; each line prints the median of ``--runs`` and
the ratio. Inputs are made once under ``--work`` and reused.
"""

from __future__ import annotations

import argparse
import contextlib
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

SPEC = "version: 1\ntransform: {affine: {rotate: [10, 0, 20]}}\nsampling: {mode: bilinear}\n"
CHUNK = 128


def make_volume(path: Path, n: int) -> str:
    """A smooth uint16 volume with noise (compresses like a real scan), written chunk by chunk."""
    import zarr
    from zarr.codecs import ZstdCodec

    if path.exists():
        array = zarr.open_array(str(path), mode="r")
        if array.shape == (n, n, n):
            return str(path)
        shutil.rmtree(path)
    array = zarr.create_array(
        store=str(path),
        shape=(n, n, n),
        chunks=(CHUNK,) * 3,
        dtype="uint16",
        compressors=ZstdCodec(level=3),
        fill_value=0,
    )
    rng = np.random.default_rng(0)
    for z0 in range(0, n, CHUNK):
        for y0 in range(0, n, CHUNK):
            for x0 in range(0, n, CHUNK):
                z, y, x = np.ogrid[z0 : z0 + CHUNK, y0 : y0 + CHUNK, x0 : x0 + CHUNK]
                values = (
                    20000
                    + 9000 * np.sin(x / 37.0) * np.cos(y / 23.0)
                    + 6000 * np.sin(z / 51.0 + x / 97.0)
                    + rng.normal(0, 150, (CHUNK, CHUNK, CHUNK))
                )
                array[z0 : z0 + CHUNK, y0 : y0 + CHUNK, x0 : x0 + CHUNK] = values.astype(np.uint16)
    return str(path)


class PeakMemory:
    """Peak of the resident memory of this process and all its descendants, summed."""

    def __init__(self, interval: float = 0.05) -> None:
        import psutil

        self.psutil, self.interval = psutil, interval
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        me = self.psutil.Process()
        while not self._stop.is_set():
            total = 0
            for process in [me, *me.children(recursive=True)]:
                with contextlib.suppress(self.psutil.Error):
                    total += process.memory_info().rss
            self.peak = max(self.peak, total)
            time.sleep(self.interval)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()


def sampling_matrix(n: int) -> np.ndarray:
    from gswarp.plan import resolve
    from gswarp.spec import parse_spec

    return resolve(parse_spec(SPEC), (n, n, n)).sampling_matrix


def run_gswarp(source: str, target: str, scheduler) -> float:
    from gswarp.run.zarr_job import plan_zarr, run_zarr
    from gswarp.spec import parse_spec

    start = time.perf_counter()
    run = plan_zarr(parse_spec(SPEC), source, target, overwrite=True)
    run_zarr(run, scheduler)
    return time.perf_counter() - start


def run_dask_image(source: str, target: str, client, matrix: np.ndarray) -> float:
    import dask.array as da
    import zarr
    from dask_image.ndinterp import affine_transform
    from zarr.codecs import ZstdCodec

    start = time.perf_counter()
    image = da.from_zarr(source)
    zyx = matrix[::-1, :3][:, ::-1]  # (x, y, z) -> scipy's (z, y, x)
    offset = matrix[::-1, 3]
    warped = affine_transform(
        image, zyx, offset, order=1, mode="constant", cval=0, output_chunks=(CHUNK,) * 3
    )
    store = zarr.create_array(
        store=target,
        shape=warped.shape,
        chunks=(CHUNK,) * 3,
        dtype=warped.dtype,
        compressors=ZstdCodec(level=3),
        fill_value=0,
        overwrite=True,
    )
    client.compute(da.store(warped, store, lock=False, compute=False), sync=True)
    return time.perf_counter() - start


def cluster_benchmarks(
    work: Path, n: int, runs: int, only: set[int], worker_memory: str = "512MiB"
) -> list[str]:
    import distributed

    from gswarp.run.cluster import Scheduler

    source = make_volume(work / f"volume{n}.zarr", n)
    matrix = sampling_matrix(n)
    cluster = distributed.LocalCluster(
        n_workers=2,
        threads_per_worker=1,
        memory_limit=worker_memory,
        processes=True,
        dashboard_address=":0",
    )
    client = distributed.Client(cluster)
    scheduler = Scheduler(None, client, cluster, f"LocalCluster 2 x {worker_memory}")
    ours, theirs, ours_peak, theirs_peak = [], [], [], []
    try:
        run_gswarp(source, str(work / "warm.zarr"), scheduler) if n <= 256 else None
        for _ in range(runs):
            with PeakMemory() as peak:
                ours.append(run_gswarp(source, str(work / "gswarp.zarr"), scheduler))
            ours_peak.append(peak.peak)
            if 2 in only:
                with PeakMemory() as peak:
                    theirs.append(
                        run_dask_image(source, str(work / "daskimage.zarr"), client, matrix)
                    )
                theirs_peak.append(peak.peak)
    finally:
        client.close()
        cluster.close()
    gib = 2**30
    lines = [
        f"1. {n}^3 uint16, LocalCluster 2 workers x {worker_memory}: gswarp "
        + " / ".join(f"{t:.1f}" for t in ours)
        + f" s (median {statistics.median(ours):.1f}); peak RSS of all processes "
        + " / ".join(f"{p / gib:.2f}" for p in ours_peak)
        + " GiB (target <= 1.5)"
    ]
    if theirs:
        ratio = statistics.median(ours) / statistics.median(theirs)
        lines.append(
            "2. dask-image affine_transform (order 1), same cluster: "
            + " / ".join(f"{t:.1f}" for t in theirs)
            + f" s (median {statistics.median(theirs):.1f}); peak RSS "
            + " / ".join(f"{p / gib:.2f}" for p in theirs_peak)
            + f" GiB; gswarp / dask-image = {ratio:.2f} (target <= 0.3)"
        )
        lines.append("   " + compare_interior(work / "gswarp.zarr", work / "daskimage.zarr", n))
    return lines


def compare_interior(ours: Path, theirs: Path, n: int) -> str:
    import zarr

    centre = slice(n // 2 - 64, n // 2 + 64)
    a = zarr.open_array(str(ours), mode="r")[centre, centre, centre].astype(np.int64)
    b = zarr.open_array(str(theirs), mode="r")[centre, centre, centre].astype(np.int64)
    return f"central 128^3: max |gswarp - dask-image| = {np.abs(a - b).max()} (uint16 levels)"


def memory_benchmark(work: Path, n: int, runs: int) -> list[str]:
    import zarr
    from zarr.codecs import ZstdCodec

    from gswarp.engine import warp_affine
    from gswarp.run.zarr_job import warp_zarr
    from gswarp.spec import parse_spec

    source = make_volume(work / f"volume{n}.zarr", n)
    matrix = sampling_matrix(n)
    spec = parse_spec(SPEC)

    def in_memory() -> float:
        start = time.perf_counter()
        voxels = zarr.open_array(source, mode="r")[...]
        warped = warp_affine(voxels[None, None], matrix, (1, 1, n, n, n))[0, 0]
        out = zarr.create_array(
            store=str(work / "inmemory.zarr"),
            shape=warped.shape,
            chunks=(CHUNK,) * 3,
            dtype=warped.dtype,
            compressors=ZstdCodec(level=3),
            fill_value=0,
            overwrite=True,
        )
        out[...] = warped
        return time.perf_counter() - start

    def chunked() -> float:
        start = time.perf_counter()
        warp_zarr(spec, source, str(work / "chunked.zarr"), overwrite=True, jobs=2)
        return time.perf_counter() - start

    in_memory(), chunked()  # warm: kernels compiled, files cached
    memory, chunks = [], []
    for _ in range(runs):
        memory.append(in_memory())
        chunks.append(chunked())
    a = zarr.open_array(str(work / "inmemory.zarr"), mode="r")[...]
    b = zarr.open_array(str(work / "chunked.zarr"), mode="r")[...]
    ratio = statistics.median(chunks) / statistics.median(memory)
    return [
        f"3. {n}^3 uint16: in memory "
        + " / ".join(f"{t:.2f}" for t in memory)
        + " s, chunked (threads, 2) "
        + " / ".join(f"{t:.2f}" for t in chunks)
        + f" s; chunked / in memory = {ratio:.2f} (target <= 1.25); "
        f"identical: {np.array_equal(a, b)}"
    ]


def png_benchmark(work: Path, count: int, runs: int) -> list[str]:
    from PIL import Image

    folder = work / f"pngs{count}"
    if not folder.exists() or len(list(folder.iterdir())) != count:
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True)
        rng = np.random.default_rng(1)
        base = (np.indices((512, 512)).sum(axis=0) % 256).astype(np.uint8)
        for i in range(count):
            noise = rng.integers(0, 40, (512, 512, 3), dtype=np.uint8)
            Image.fromarray(np.stack([base, base.T, base[::-1]], -1) + noise).save(
                folder / f"img{i:05d}.png"
            )
    spec = work / "rotate.yaml"
    spec.write_text("version: 1\ntransform: {affine: {rotate: 10}}\n")
    command = [sys.executable, "-m", "gswarp", "apply", str(spec), str(folder), "-q"]

    def timed(extra: list[str]) -> float:
        out = Path(tempfile.mkdtemp(dir=work))
        start = time.perf_counter()
        subprocess.run([*command, "-o", str(out), *extra], check=True, stdout=subprocess.DEVNULL)
        seconds = time.perf_counter() - start
        shutil.rmtree(out)
        return seconds

    local, cluster = [], []
    for _ in range(runs):
        local.append(timed(["--jobs", "2"]))
        cluster.append(timed(["--cluster", "local:2"]))
    ratio = statistics.median(cluster) / statistics.median(local)
    return [
        f"4. {count} PNGs 512x512 RGB: apply --jobs 2 "
        + " / ".join(f"{t:.1f}" for t in local)
        + " s, --cluster local:2 "
        + " / ".join(f"{t:.1f}" for t in cluster)
        + f" s; cluster / threads = {ratio:.2f} (target <= 1.15)"
    ]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--size", type=int, default=1024)
    parser.add_argument("--mid", type=int, default=512)
    parser.add_argument("--pngs", type=int, default=2000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--work", default=str(Path(tempfile.gettempdir()) / "gswarp-bench-zarr"))
    parser.add_argument("--only", default="1,2,3,4", help="which benchmarks (comma-separated)")
    parser.add_argument(
        "--worker-memory", default="512MiB", help="1 and 2: each worker's memory limit"
    )
    args = parser.parse_args()
    only = {int(part) for part in args.only.split(",")}
    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    lines = []
    if only & {1, 2}:
        lines += cluster_benchmarks(work, args.size, args.runs, only, args.worker_memory)
        print("\n".join(lines), flush=True)
    if 3 in only:
        lines += memory_benchmark(work, args.mid, args.runs)
        print(lines[-1], flush=True)
    if 4 in only:
        lines += png_benchmark(work, args.pngs, args.runs)
        print(lines[-1], flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
