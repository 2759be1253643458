"""Engine benchmarks: gswarp against the peers installed here, in one process, on the same data.

    python benchmarks/bench_engine.py [--threads 2] [--repeat 7]

Peers (each skipped with a note when missing): torch (CPU grid_sample / affine_grid), OpenCV
(cv2.warpAffine), SimpleITK (Resample). Every peer and gswarp get the same number of threads.
Prints the median time of each and the ratio gswarp / peer (lower is better) next to the target.
"""

from __future__ import annotations

import argparse
import importlib
import math
import statistics
import subprocess
import sys
import tempfile
import time
import tracemalloc

import numpy as np

import gswarp


def median_time(fn, repeat: int) -> float:
    fn()  # warm up (compilation, caches, page faults of the output)
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def optional(name: str):
    try:
        return importlib.import_module(name)
    except ImportError:
        return None


def rotation_theta_2d(degrees: float) -> np.ndarray:
    a = math.radians(degrees)
    return np.array([[[math.cos(a), -math.sin(a), 0.0], [math.sin(a), math.cos(a), 0.0]]])


def rotation_theta_3d(degrees: float) -> np.ndarray:
    a = math.radians(degrees)
    theta = np.zeros((1, 3, 4))
    theta[0, :, :3] = [[math.cos(a), -math.sin(a), 0], [math.sin(a), math.cos(a), 0], [0, 0, 1]]
    return theta


def report(label: str, ours: float, peer_name: str, peer: float | None, target: str) -> None:
    if peer is None:
        print(f"{label:<52} gswarp {ours * 1e3:8.1f} ms   {peer_name}: not installed")
        return
    print(
        f"{label:<52} gswarp {ours * 1e3:8.1f} ms   {peer_name} {peer * 1e3:8.1f} ms"
        f"   ratio {ours / peer:5.2f}  (target {target})"
    )


def bench_grid_sample_2d(threads: int, repeat: int) -> None:
    rng = np.random.default_rng(0)
    x = rng.random((1, 3, 2048, 2048), dtype=np.float32)
    theta = rotation_theta_2d(15).astype(np.float32)
    grid = gswarp.affine_grid(theta, x.shape)
    torch = optional("torch")
    if torch is not None:
        torch.set_num_threads(threads)
        xt, gt = torch.from_numpy(x), torch.from_numpy(grid)
        torch_grid_sample = torch.nn.functional.grid_sample
    out = np.empty_like(x)
    for mode in ("bilinear", "nearest", "bicubic"):
        ours = median_time(lambda m=mode: gswarp.grid_sample(x, grid, m), repeat)
        peer = None
        if torch is not None:
            peer = median_time(
                lambda m=mode: torch_grid_sample(xt, gt, mode=m, align_corners=False), repeat
            )
        target = "<= 0.70" if mode == "bilinear" else "none"
        report(f"grid_sample 2-D {mode} f32 1x3x2048x2048", ours, "torch", peer, target)
        reused = median_time(lambda m=mode: gswarp.grid_sample(x, grid, m, out=out), repeat)
        report("  same, gswarp writing into a reused out=", reused, "torch", peer, "info")


def bench_affine_2d(threads: int, repeat: int) -> None:
    rng = np.random.default_rng(1)
    hwc = rng.random((2048, 2048, 3), dtype=np.float32)
    view = hwc.transpose(2, 0, 1)[None]  # OpenCV's HWC image, as an NCHW view
    out = np.empty_like(hwc)
    theta = rotation_theta_2d(15).astype(np.float32)
    ours = median_time(
        lambda: gswarp.affine_sample(view, theta, out=out.transpose(2, 0, 1)[None]), repeat
    )
    cv2 = optional("cv2")
    peer = None
    if cv2 is not None:
        cv2.setNumThreads(threads)
        matrix = cv2.getRotationMatrix2D((1023.5, 1023.5), 15, 1.0)
        peer = median_time(
            lambda: cv2.warpAffine(hwc, matrix, (2048, 2048), flags=cv2.INTER_LINEAR), repeat
        )
    report(
        "affine_sample 2-D bilinear f32 2048x2048x3 (HWC)", ours, "cv2.warpAffine", peer, "<= 1.00"
    )
    torch = optional("torch")
    if torch is not None:
        xt = torch.from_numpy(np.ascontiguousarray(view))
        tt = torch.from_numpy(theta)
        fn = torch.nn.functional

        def two_step():
            grid = fn.affine_grid(tt, list(xt.shape), align_corners=False)
            return fn.grid_sample(xt, grid, align_corners=False)

        contiguous = np.ascontiguousarray(view)
        ours_c = median_time(lambda: gswarp.affine_sample(contiguous, theta), repeat)
        report(
            "affine_sample 2-D bilinear f32 1x3x2048x2048",
            ours_c,
            "torch 2-step",
            median_time(two_step, repeat),
            "none",
        )


def bench_affine_3d(threads: int, repeat: int) -> None:
    rng = np.random.default_rng(2)
    vol = rng.random((256, 256, 256), dtype=np.float32)
    theta = rotation_theta_3d(15).astype(np.float32)
    x = vol[None, None]
    ours = median_time(lambda: gswarp.affine_sample(x, theta), repeat)
    sitk = optional("SimpleITK")
    peer = None
    if sitk is not None:
        sitk.ProcessObject.SetGlobalDefaultNumberOfThreads(threads)
        image = sitk.GetImageFromArray(vol)
        transform = sitk.AffineTransform(3)
        transform.SetMatrix(theta[0, :, :3].astype(float).ravel().tolist())
        transform.SetCenter((127.5, 127.5, 127.5))
        peer = median_time(
            lambda: sitk.Resample(image, image, transform, sitk.sitkLinear, 0.0, sitk.sitkFloat32),
            repeat,
        )
    report("affine_sample 3-D trilinear f32 256^3", ours, "SimpleITK", peer, "<= 0.50")


def bench_memory_3d() -> None:
    x = np.zeros((1, 1, 256, 256, 256), dtype=np.float32)
    theta = rotation_theta_3d(15).astype(np.float32)
    gswarp.affine_sample(x, theta)  # compile outside the measurement
    tracemalloc.start()
    out = gswarp.affine_sample(x, theta)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    ratio = peak / out.nbytes
    print(
        f"{'affine_sample 3-D 256^3 f32: peak allocation / output':<52} "
        f"{peak / 2**20:8.1f} MiB   output {out.nbytes / 2**20:.1f} MiB   "
        f"ratio {ratio:5.3f}  (target <= 1.10)"
    )


COLD_START = """
import time
t0 = time.perf_counter()
import numpy as np
t1 = time.perf_counter()
import gswarp
x = np.zeros((1, 3, 512, 512), np.float32)
theta = np.array([[[0.96, -0.26, 0.0], [0.26, 0.96, 0.0]]], np.float32)
gswarp.affine_sample(x, theta)
t2 = time.perf_counter()
print(f"{t2 - t1:.3f}")
"""


def bench_cold_start() -> None:
    with tempfile.TemporaryDirectory() as cache:
        env = {"NUMBA_CACHE_DIR": cache, "PATH": ""}
        times = []
        for _ in range(4):
            proc = subprocess.run(
                [sys.executable, "-c", COLD_START],
                env=env,
                capture_output=True,
                text=True,
                check=True,
            )
            times.append(float(proc.stdout.strip()))
    warm = statistics.median(times[1:])
    print(
        f"{'start-up to first 512x512 result, beyond numpy':<52} "
        f"cold (compile) {times[0]:6.2f} s   warm (cached) {warm:6.3f} s  (target < 0.5 s)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()
    import gswarp as _gswarp_threads

    _gswarp_threads.set_num_threads(args.threads)
    print(
        f"gswarp {gswarp.__version__}, numpy {np.__version__}, "
        f"{args.threads} threads, median of {args.repeat}"
    )
    for name in ("torch", "cv2", "SimpleITK"):
        module = optional(name)
        print(f"  peer {name}: {getattr(module, '__version__', 'not installed')}")
    bench_grid_sample_2d(args.threads, args.repeat)
    bench_affine_2d(args.threads, args.repeat)
    bench_affine_3d(args.threads, args.repeat)
    bench_memory_3d()
    bench_cold_start()


if __name__ == "__main__":
    main()
