"""gswarp's CUDA backend against torch CUDA on the same GPU, in one process.

Cases (float32, CuPy arrays in and out; torch tensors on the same device):

- ``grid_sample`` with an explicit grid: 2-D 8x3x1024x1024, 3-D 1x1x256^3 (grid: a small rotation
  of the identity), bilinear and nearest;
- the affine warp: gswarp's fused ``affine_sample(input, theta)`` against torch's
  ``grid_sample(input, affine_grid(theta))`` (the grid built and read, as users write it);
- an antialiased 4x shrink, 8x3x2048x2048 -> 512x512: ``affine_sample(..., antialias=True)``
  against torch's ``interpolate(..., antialias=True)`` (bilinear, bicubic). The filters differ
  (gswarp widens the kernel by a quarter of the shrink's excess, README "Antialiasing"), so the
  difference column is not an error; the timing compares the same job;
- the explicit-grid cases again as 50 calls back to back between one pair of events (ms per
  call): a loop over a batch of images, where the host prepares the next call while the GPU runs
  the last one, so what counts is the throughput rather than one call's latency;
- the host time of one launch: a 1x1x8x8 ``grid_sample`` called 500 times back to back (wall
  clock, synchronized at the end), against torch;
- ``grid_sample_backward`` (issue 17) on the explicit-grid cases, bilinear, both gradients,
  against torch's backward alone (``autograd.grad`` on a kept graph).

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

    rows = [_row(cupy, f"grid_sample {label}", mode, ours, theirs, args.repeats)]
    calls = 50

    def ours_back_to_back():
        for _ in range(calls):
            result = ours()
        return result

    def theirs_back_to_back():
        for _ in range(calls):
            result = theirs()
        return result

    name = f"grid_sample {label}, {calls} calls back to back (ms per call)"
    rows.append(_row(cupy, name, mode, ours_back_to_back, theirs_back_to_back, args.repeats, calls))
    return "\n".join(rows)


def _affine_row(cupy, F, gswarp, label, mode, x_cp, theta, x_t, theta_t, args) -> str:
    """One table row: the fused affine_sample against affine_grid + grid_sample."""

    def ours():
        return gswarp.affine_sample(x_cp, theta, None, mode)

    def theirs():
        grid = F.affine_grid(theta_t, list(x_t.shape), align_corners=False)
        return F.grid_sample(x_t, grid, mode, "zeros", align_corners=False)

    name = f"affine {label} (ours fused; torch affine_grid + grid_sample)"
    return _row(cupy, name, mode, ours, theirs, args.repeats)


def _backward_row(cupy, torch, F, label, x_cp, grid_cp, args) -> str:
    """One table row (issue 17): grid_sample_backward (bilinear, zeros; grad_input by atomic
    adds, grad_grid per point) against torch's backward alone -- ``autograd.grad`` on a graph
    kept between calls, so its forward is not timed. The difference column is the largest
    over both gradients, relative to each gradient's largest value (atomics sum in any order)."""
    from gswarp.autodiff import grid_sample_backward

    grad_out_cp = cupy.asarray(
        np.random.default_rng(1).standard_normal(x_cp.shape[:2] + grid_cp.shape[1:-1]),
        dtype=cupy.float32,
    )
    x_t = torch.as_tensor(x_cp).clone().requires_grad_(True)
    grid_t = torch.as_tensor(grid_cp).clone().requires_grad_(True)
    out_t = F.grid_sample(x_t, grid_t, "bilinear", "zeros", align_corners=False)
    grad_out_t = torch.as_tensor(grad_out_cp)

    def ours():
        return grid_sample_backward(grad_out_cp, x_cp, grid_cp)

    def theirs():
        return torch.autograd.grad(out_t, (x_t, grid_t), grad_out_t, retain_graph=True)

    ours_ms = _timer(cupy, ours, args.repeats)
    theirs_ms = _timer(cupy, theirs, args.repeats)
    diff = 0.0
    for got, expected in zip(ours(), theirs(), strict=True):
        expected = cupy.asarray(expected)
        scale = max(float(cupy.abs(expected).max()), 1e-30)
        diff = max(diff, float(cupy.abs(got - expected).max()) / scale)
    name = f"grid_sample_backward {label} (input and grid; torch: backward alone)"
    ratio = theirs_ms / ours_ms
    return f"| {name} | bilinear | {ours_ms:.3f} | {theirs_ms:.3f} | {ratio:.2f} | {diff:.2e} rel |"


def _antialias_row(cupy, F, gswarp, mode, x_cp, x_t, args) -> str:
    """One table row: an antialiased 4x shrink against torch's interpolate(antialias=True)."""
    batch, channels, height, width = x_cp.shape
    size = (batch, channels, height // 4, width // 4)
    identity = np.broadcast_to(np.eye(2, 3), (batch, 2, 3)).astype(np.float32)

    def ours():
        return gswarp.affine_sample(x_cp, identity, size, mode, antialias=True)

    def theirs():
        return F.interpolate(x_t, size=size[2:], mode=mode, antialias=True)

    label = "x".join(str(n) for n in x_cp.shape)
    name = f"antialiased shrink {label} -> {size[2]}^2 (torch interpolate antialias)"
    return _row(cupy, name, mode, ours, theirs, args.repeats)


def _per_call_ms(cupy, torch, function, calls: int = 500) -> float:
    import time

    function()
    function()
    cupy.cuda.Device().synchronize()
    start = time.perf_counter()
    for _ in range(calls):
        function()
    cupy.cuda.Device().synchronize()
    torch.cuda.synchronize()
    return (time.perf_counter() - start) / calls * 1e3


def _launch_rows(cupy, torch, gswarp) -> list[str]:
    """Host time per call of a tiny grid_sample: the launch's fixed cost."""
    rng = np.random.default_rng(1)
    x_cp = cupy.asarray(rng.random((1, 1, 8, 8), dtype=np.float32))
    grid_cp = cupy.asarray(rng.uniform(-1, 1, (1, 8, 8, 2)).astype(np.float32))
    x_t, grid_t = torch.as_tensor(x_cp, device="cuda"), torch.as_tensor(grid_cp, device="cuda")

    def ours():
        return gswarp.grid_sample(x_cp, grid_cp)

    def theirs():
        return torch.nn.functional.grid_sample(x_t, grid_t, align_corners=False)

    ours_ms = _per_call_ms(cupy, torch, ours)
    theirs_ms = _per_call_ms(cupy, torch, theirs)
    return [
        f"| one call, 1x1x8x8 grid_sample (host time) | bilinear | {ours_ms:.3f} | "
        f"{theirs_ms:.3f} | {theirs_ms / ours_ms:.2f} | |"
    ]


def _row(cupy, name, mode, ours, theirs, repeats: int, calls: int = 1) -> str:
    ours_ms = _timer(cupy, ours, repeats) / calls
    theirs_ms = _timer(cupy, theirs, repeats) / calls
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
        try:
            rows.append(_backward_row(cupy, torch, F, label, x_cp, grid_cp, args))
        except Exception as error:  # the table's other rows still count
            rows.append(f"| grid_sample_backward {label} | bilinear | failed: {error!r} | | | |")
    x_cp = cupy.asarray(rng.random((8, 3, 2048, 2048), dtype=np.float32))
    x_t = torch.as_tensor(x_cp, device=device)
    for mode in ("bilinear", "bicubic"):
        try:
            rows.append(_antialias_row(cupy, F, gswarp, mode, x_cp, x_t, args))
        except Exception as error:  # the table's other rows still count
            rows.append(f"| antialiased shrink | {mode} | failed: {error!r} | | | |")
    try:
        rows += _launch_rows(cupy, torch, gswarp)
    except Exception as error:  # the table's other rows still count
        rows.append(f"| one call (host time) | | failed: {error!r} | | | |")
    table = "\n".join(rows)
    print(table)
    if args.out:
        with open(args.out, "w", encoding="utf-8") as stream:
            stream.write(table + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
