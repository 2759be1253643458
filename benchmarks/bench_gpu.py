"""gswarp's CUDA backend against torch CUDA on the same GPU, in one process.

Cases (float32, CuPy arrays in and out; torch tensors on the same device):

- ``grid_sample`` with an explicit grid: 2-D 8x3x1024x1024, 3-D 1x1x256^3 (grid: a small rotation
  of the identity), bilinear and nearest;
- the affine warp: gswarp's fused ``affine_sample(input, theta)`` against torch's
  ``grid_sample(input, affine_grid(theta))`` (the grid built and read, as users write it).

Each timing is the median of ``--repeats`` runs, each synchronized (CUDA events), after a warm-up
that compiles the kernels. Also prints the largest difference to torch's result. Targets
(issue 6): explicit-grid throughput >= 1.0x torch's; affine_sample >= 2x torch's two steps.

    python benchmarks/bench_gpu.py [--repeats 20] [--out table.md]
"""

from __future__ import annotations

import argparse
import statistics
import sys

import numpy as np


def _timer(cupy, function, repeats: int) -> float:
    function()
    cupy.cuda.Device().synchronize()
    times = []
    for _ in range(repeats):
        start, stop = cupy.cuda.Event(), cupy.cuda.Event()
        start.record()
        function()
        stop.record()
        stop.synchronize()
        times.append(cupy.cuda.get_elapsed_time(start, stop))
    return statistics.median(times)


def _theta(spatial: int, batch: int) -> np.ndarray:
    angle = np.deg2rad(7.0)
    c, s = np.cos(angle), np.sin(angle)
    if spatial == 2:
        theta = np.array([[c, -s, 0.03], [s, c, -0.02]])
    else:
        theta = np.array([[c, -s, 0, 0.03], [s, c, 0, -0.02], [0, 0, 1, 0.01]])
    return np.broadcast_to(theta, (batch, *theta.shape)).astype(np.float32)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--out", help="also write the table (Markdown) here")
    args = parser.parse_args()
    try:
        import cupy
        import torch
    except ImportError as error:
        print(f"needs CuPy and torch: {error}")
        return 1
    if not torch.cuda.is_available():
        print("torch sees no CUDA device")
        return 1
    import gswarp

    F = torch.nn.functional
    device = torch.device("cuda")
    name = torch.cuda.get_device_name()
    rows = [
        f"device: {name}; torch {torch.__version__}, CuPy {cupy.__version__}",
        "",
        "| case | mode | gswarp ms | torch ms | torch / gswarp | max abs diff |",
        "|---|---|---|---|---|---|",
    ]
    rng = np.random.default_rng(0)
    for shape in ((8, 3, 1024, 1024), (1, 1, 256, 256, 256)):
        spatial = len(shape) - 2
        x_host = rng.random(shape, dtype=np.float32)
        theta = _theta(spatial, shape[0])
        x_cp = cupy.asarray(x_host)
        x_t = torch.as_tensor(x_cp, device=device)
        theta_t = torch.from_numpy(theta).to(device)
        grid_t = F.affine_grid(theta_t, list(shape), align_corners=False)
        grid_cp = cupy.asarray(grid_t)
        label = "x".join(str(n) for n in shape)
        for mode in ("bilinear", "nearest"):
            ours = _timer(cupy, lambda: gswarp.grid_sample(x_cp, grid_cp, mode), args.repeats)
            theirs = _timer(
                cupy,
                lambda: F.grid_sample(x_t, grid_t, mode, "zeros", align_corners=False),
                args.repeats,
            )
            diff = float(
                cupy.abs(
                    gswarp.grid_sample(x_cp, grid_cp, mode)
                    - cupy.asarray(F.grid_sample(x_t, grid_t, mode, "zeros", align_corners=False))
                ).max()
            )
            rows.append(
                f"| grid_sample {label} | {mode} | {ours:.3f} | {theirs:.3f} | "
                f"{theirs / ours:.2f} | {diff:.2e} |"
            )

            def fused():
                return gswarp.affine_sample(x_cp, theta, None, mode)

            def two_steps():
                grid = F.affine_grid(theta_t, list(shape), align_corners=False)
                return F.grid_sample(x_t, grid, mode, "zeros", align_corners=False)

            ours = _timer(cupy, fused, args.repeats)
            theirs = _timer(cupy, two_steps, args.repeats)
            diff = float(cupy.abs(fused() - cupy.asarray(two_steps())).max())
            rows.append(
                f"| affine {label} (ours fused; torch affine_grid + grid_sample) | {mode} | "
                f"{ours:.3f} | {theirs:.3f} | {theirs / ours:.2f} | {diff:.2e} |"
            )
    table = "\n".join(rows)
    print(table)
    if args.out:
        with open(args.out, "w", encoding="utf-8") as stream:
            stream.write(table + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
