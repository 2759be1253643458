"""grid_sample's backward pass (issue 17) against torch's CPU autograd, same threads.

    python benchmarks/bench_backward.py [--runs 5] [--threads 2]

Cases (float32, bilinear, zeros padding): 2-D 1x3x2048x2048 and 3-D 1x1x128^3 (output the
input's size), each with two grids: ``random`` (uniform in [-1, 1]: every point reads and
scatters somewhere else, the worst case for caches) and ``smooth`` (a 10 degree rotation and a
0.9 scale from ``affine_grid``: what a spatial transformer or a registration step samples).
gswarp: ``grid_sample_backward`` for input and grid; torch: ``grid_sample(...).backward(
grad_output)`` with both tensors requiring grad (its forward is timed too: autograd needs it;
its forward-only time is printed and subtracted for the second ratio, torch's backward alone).
Runs interleaved; medians. Target (issue 17): gswarp <= 0.7x torch's backward.
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np


def smooth_grid(shape: tuple[int, ...]) -> np.ndarray:
    """A rotation by 10 degrees and a 0.9 scale about the centre, as ``affine_grid`` makes it:
    the access pattern of a spatial transformer or a registration step."""
    import gswarp

    spatial = len(shape) - 2
    angle = np.deg2rad(10.0)
    theta = np.eye(spatial, spatial + 1) * 0.9
    theta[:2, :2] = 0.9 * np.array(
        [[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]]
    )
    return gswarp.affine_grid(theta[None].astype(np.float32), shape).astype(np.float32)


def bench_case(name: str, shape: tuple[int, ...], rng, runs: int, grid_kind: str) -> str:
    """One table line: gswarp's backward against torch's forward + backward on ``shape``."""
    import torch

    from gswarp.autodiff import grid_sample_backward

    spatial = len(shape) - 2
    inp = rng.standard_normal(shape).astype(np.float32)
    if grid_kind == "random":
        grid = rng.uniform(-1, 1, (shape[0], *shape[2:], spatial)).astype(np.float32)
    else:
        grid = smooth_grid(shape)
    grad_out = rng.standard_normal(shape).astype(np.float32)
    t_inp, t_grid, t_gout = (torch.from_numpy(a) for a in (inp, grid, grad_out))

    def ours():
        return grid_sample_backward(grad_out, inp, grid)

    def theirs():
        i = t_inp.clone().requires_grad_(True)
        g = t_grid.clone().requires_grad_(True)
        torch.nn.functional.grid_sample(i, g, align_corners=False).backward(t_gout)
        return i.grad, g.grad

    def forward_only():
        with torch.no_grad():
            return torch.nn.functional.grid_sample(t_inp, t_grid, align_corners=False)

    ours()
    theirs()
    times: dict = {ours: [], theirs: [], forward_only: []}
    for _ in range(runs):
        for function, record in times.items():
            start = time.perf_counter()
            function()
            record.append(time.perf_counter() - start)
    o, t, f = (statistics.median(times[k]) for k in (ours, theirs, forward_only))
    error = max(
        float(np.abs(a - b.numpy()).max() / np.abs(b.numpy()).max())
        for a, b in zip(ours(), theirs(), strict=True)
    )
    return (
        f"{name}: gswarp backward {o * 1e3:.1f} ms; torch forward+backward {t * 1e3:.1f} ms "
        f"(forward alone {f * 1e3:.1f} ms): {o / t:.2f}x, {o / (t - f):.2f}x of its backward "
        f"(target <= 0.7); max relative difference {error:.1e}"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    import torch

    import gswarp

    gswarp.set_num_threads(args.threads)
    torch.set_num_threads(args.threads)
    rng = np.random.default_rng(0)
    for name, shape in (
        ("2-D 1x3x2048^2", (1, 3, 2048, 2048)),
        ("3-D 1x1x128^3", (1, 1, 128, 128, 128)),
    ):
        for grid_kind in ("random", "smooth"):
            line = bench_case(f"{name}, {grid_kind} grid", shape, rng, args.runs, grid_kind)
            print(line, flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
