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


def _grid_row(cupy, F, gswarp, label, mode, x_cp, grid_cp, x_t, grid_t, args) -> str:
    """One table row: gswarp.grid_sample on an explicit grid against torch's."""

    def ours():
        return gswarp.grid_sample(x_cp, grid_cp, mode)

    def theirs():
        return F.grid_sample(x_t, grid_t, mode, "zeros", align_corners=False)

    return _row(cupy, f"grid_sample {label}", mode, ours, theirs, args.repeats)


def _affine_row(cupy, F, gswarp, label, mode, x_cp, theta, x_t, theta_t, args) -> str:
    """One table row: the fused affine_sample against affine_grid + grid_sample."""

    def ours():
        return gswarp.affine_sample(x_cp, theta, None, mode)

    def theirs():
        grid = F.affine_grid(theta_t, list(x_t.shape), align_corners=False)
        return F.grid_sample(x_t, grid, mode, "zeros", align_corners=False)

    name = f"affine {label} (ours fused; torch affine_grid + grid_sample)"
    return _row(cupy, name, mode, ours, theirs, args.repeats)


def _row(cupy, name, mode, ours, theirs, repeats: int) -> str:
    ours_ms = _timer(cupy, ours, repeats)
    theirs_ms = _timer(cupy, theirs, repeats)
    diff = float(cupy.abs(ours() - cupy.asarray(theirs())).max())
    ratio = theirs_ms / ours_ms
    return f"| {name} | {mode} | {ours_ms:.3f} | {theirs_ms:.3f} | {ratio:.2f} | {diff:.2e} |"


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
            rows.append(_grid_row(cupy, F, gswarp, label, mode, x_cp, grid_cp, x_t, grid_t, args))
            rows.append(_affine_row(cupy, F, gswarp, label, mode, x_cp, theta, x_t, theta_t, args))
    table = "\n".join(rows)
    print(table)
    if args.out:
        with open(args.out, "w", encoding="utf-8") as stream:
            stream.write(table + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
