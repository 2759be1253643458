"""Warping by a dense displacement field: gswarp's tiled chain sampler against torch.

    python benchmarks/bench_flow.py [--size 2048] [--threads 2] [--repeat 7]

Case (issue 4): a 1x3xSxS float32 image warped by a full-resolution displacement field
(S, S, 2) in pixels. gswarp: ``gswarp.engine.tiles.sample_chain`` with the field (coordinates
built tile by tile, never a full grid); torch: ``grid_sample`` on the equivalent normalized grid,
built beforehand and not timed. Also: the same field at 1/8 resolution (interpolated on the fly).
Prints medians and the ratio gswarp / torch (target <= 0.8).
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np

from gswarp.engine.tiles import FieldStep, sample_chain
from gswarp.transforms import theta_to_pixel_matrix


def median_ms(function, repeat: int) -> float:
    function()
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1000


def field(size: int, rng) -> np.ndarray:
    y, x = np.mgrid[0:size, 0:size] / size
    return np.stack([6 * np.sin(7 * x) * np.cos(5 * y), 6 * np.cos(3 * x + 4 * y)], -1)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=2048)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()
    import gswarp as _gswarp_threads

    _gswarp_threads.set_num_threads(args.threads)
    rng = np.random.default_rng(0)
    size = args.size
    image = rng.random((1, 3, size, size)).astype(np.float32)
    flow = field(size, rng)
    out = np.empty_like(image)
    full = [FieldStep(flow)]
    coarse_field = np.ascontiguousarray(flow[::8, ::8])
    to_field = theta_to_pixel_matrix(
        np.eye(2, 3)[None], coarse_field.shape[:2], (size, size), False
    )[0]
    coarse = [FieldStep(coarse_field, to_field)]
    gswarp_full = median_ms(lambda: sample_chain(image, full, image.shape, out=out), args.repeat)
    gswarp_coarse = median_ms(
        lambda: sample_chain(image, coarse, image.shape, out=out), args.repeat
    )
    print(f"flow warp 1x3x{size}x{size} f32, {args.threads} threads, median of {args.repeat}")
    print(f"  gswarp, full-resolution field        {gswarp_full:8.1f} ms")
    print(f"  gswarp, field at 1/8 resolution      {gswarp_coarse:8.1f} ms")
    try:
        import torch
    except ImportError:
        print("torch not installed: no ratio")
        return 0
    torch.set_num_threads(args.threads)
    y, x = np.mgrid[0:size, 0:size].astype(np.float64)
    pixels = np.stack([x, y], -1) + flow
    grid = torch.from_numpy(((2 * pixels + 1) / size - 1)[None].astype(np.float32))
    tensor = torch.from_numpy(image)
    peer = median_ms(
        lambda: torch.nn.functional.grid_sample(tensor, grid, align_corners=False), args.repeat
    )
    print(f"  torch grid_sample, equivalent grid   {peer:8.1f} ms (grid prepared, not timed)")
    print(f"ratio gswarp / torch (full field): {gswarp_full / peer:.2f} (target <= 0.8)")
    print(f"ratio gswarp / torch (1/8 field):  {gswarp_coarse / peer:.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
