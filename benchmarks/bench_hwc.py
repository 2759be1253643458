"""2-D affine warps of the images people have (issue 13, target 4): gswarp against OpenCV's
``cv2.warpAffine`` on HWC arrays, uint8 and float32, 2048x2048x3, rotate 10 degrees, scale 1.1,
bilinear, the same number of threads, runs interleaved.

    pip install opencv-python-headless
    python benchmarks/bench_hwc.py [--threads 2] [--repeat 15] [--runs 3]

Prints the medians of each run and their ratio (gswarp / OpenCV; targets: uint8 <= 1.0,
float32 <= 0.7). OpenCV quantizes positions to 1/32 pixel; gswarp rounds the exact result.
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np

import gswarp
from gswarp.transforms import affine_2d, sampling_matrix

SIDE = 2048
CENTER = (SIDE - 1) / 2


def timed(function) -> float:
    start = time.perf_counter()
    function()
    return time.perf_counter() - start


def run(cv2, dtype: type, repeat: int, rng: np.random.Generator) -> tuple[float, float]:
    hwc = (rng.random((SIDE, SIDE, 3)) * 255).astype(dtype)
    nchw = hwc.transpose(2, 0, 1)[None]  # a view: gswarp reads the HWC array as it is
    matrix = sampling_matrix(affine_2d(rotate=10, scale=1.1, center=(CENTER, CENTER)))
    out = np.empty_like(hwc)
    peer_matrix = cv2.getRotationMatrix2D((CENTER, CENTER), 10, 1.1)

    def ours():
        gswarp.warp_affine(nchw, matrix, out=out.transpose(2, 0, 1)[None])

    def peer():
        cv2.warpAffine(hwc, peer_matrix, (SIDE, SIDE), flags=cv2.INTER_LINEAR)

    ours(), peer()  # warm: kernel load, OpenCV's buffers
    times: dict[str, list[float]] = {"ours": [], "peer": []}
    for _ in range(repeat):
        times["ours"].append(timed(ours))
        times["peer"].append(timed(peer))
    return statistics.median(times["ours"]), statistics.median(times["peer"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeat", type=int, default=15)
    parser.add_argument("--runs", type=int, default=3)
    options = parser.parse_args()
    import cv2

    import gswarp as _gswarp_threads

    _gswarp_threads.set_num_threads(options.threads)
    cv2.setNumThreads(options.threads)
    rng = np.random.default_rng(0)
    for dtype, target in ((np.uint8, 1.0), (np.float32, 0.7)):
        for number in range(options.runs):
            ours, peer = run(cv2, dtype, options.repeat, rng)
            print(
                f"{np.dtype(dtype).name:8} run {number + 1}: gswarp {1000 * ours:5.1f} ms, "
                f"cv2.warpAffine {1000 * peer:5.1f} ms, ratio {ours / peer:.2f} "
                f"(target <= {target})"
            )


if __name__ == "__main__":
    main()
