"""Regenerate ``tests/data/backward_torch.npz``: torch's gradients of ``grid_sample`` (issue 17).

    pip install torch==2.13.0 && python tools/make_backward_fixtures.py

For float32 and float64, 2-D and 3-D, every mode torch has (bilinear, nearest; bicubic in 2-D)
x padding x align_corners: a small random input, a grid mixing random points, pixel centres
(where border/reflection's gradient multiplier switches), points outside, and the gradient of
the output; torch's ``input.grad`` and ``grid.grad``. And per dtype, dimension, mode and
align_corners (zeros padding) an affine case: ``theta.grad`` through ``affine_grid`` then
``grid_sample``. ``tests/test_backward.py`` compares
gswarp against them without torch, and against torch live where it is installed.
"""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np

OUT = Path(__file__).resolve().parent.parent / "tests" / "data" / "backward_torch.npz"
MODES = {2: ("bilinear", "nearest", "bicubic"), 3: ("bilinear", "nearest")}
PADDINGS = ("zeros", "border", "reflection")


def case_arrays(rng, spatial: int, dtype):
    """(input, grid, grad_output) of one case: odd, non-square sizes; the grid's first points
    are pixel centres of the align_corners=True convention (normalized -1, 0, +1, ...)."""
    shape = (2, 3, 5, 7) if spatial == 2 else (2, 2, 4, 5, 6)
    out = (4, 6) if spatial == 2 else (3, 4, 5)
    inp = rng.standard_normal(shape).astype(dtype)
    grid = rng.uniform(-1.4, 1.4, (shape[0], *out, spatial))
    flat = grid.reshape(-1, spatial)
    flat[: 3 * 4] = np.repeat([-1.0, 0.0, 1.0, 0.5], 3)[:, None] * np.ones(spatial)
    grad_out = rng.standard_normal((shape[0], shape[1], *out)).astype(dtype)
    return inp, grid.astype(dtype), grad_out


def affine_cases(torch, rng, key: str, spatial: int, dtype) -> dict:
    """theta (a rotation, a scale and a shift, plus noise), the output size and its gradient;
    torch's theta.grad through affine_grid + grid_sample per mode and align_corners."""
    inp = rng.standard_normal((2, 2, 9, 11) if spatial == 2 else (2, 2, 6, 7, 8)).astype(dtype)
    size = (2, 2, 7, 10) if spatial == 2 else (2, 2, 5, 6, 7)
    theta = np.eye(spatial, spatial + 1) * 0.9 + rng.uniform(-0.2, 0.2, (2, spatial, spatial + 1))
    theta = theta.astype(dtype)
    grad_out = rng.standard_normal(size).astype(dtype)
    arrays = {f"{key}/affine/input": inp, f"{key}/affine/theta": theta}
    arrays[f"{key}/affine/grad_output"] = grad_out
    for mode, align in itertools.product(MODES[spatial], (False, True)):
        t = torch.tensor(theta, requires_grad=True)
        i = torch.tensor(inp, requires_grad=True)
        grid = torch.nn.functional.affine_grid(t, size, align_corners=align)
        out = torch.nn.functional.grid_sample(i, grid, mode=mode, align_corners=align)
        out.backward(torch.tensor(grad_out))
        arrays[f"{key}/affine/{mode}/{int(align)}/grad_theta"] = t.grad.numpy()
        arrays[f"{key}/affine/{mode}/{int(align)}/grad_input"] = i.grad.numpy()
    return arrays


def main() -> None:
    import torch

    rng = np.random.default_rng(17)
    arrays = {}
    for dtype, spatial in itertools.product((np.float32, np.float64), (2, 3)):
        inp, grid, grad_out = case_arrays(rng, spatial, dtype)
        key = f"{np.dtype(dtype).name}/{spatial}d"
        arrays[f"{key}/input"], arrays[f"{key}/grid"], arrays[f"{key}/grad_output"] = (
            inp,
            grid,
            grad_out,
        )
        for mode, padding, align in itertools.product(MODES[spatial], PADDINGS, (False, True)):
            i = torch.tensor(inp, requires_grad=True)
            g = torch.tensor(grid, requires_grad=True)
            out = torch.nn.functional.grid_sample(
                i, g, mode=mode, padding_mode=padding, align_corners=align
            )
            out.backward(torch.tensor(grad_out))
            name = f"{key}/{mode}/{padding}/{int(align)}"
            arrays[f"{name}/grad_input"] = i.grad.numpy()
            arrays[f"{name}/grad_grid"] = g.grad.numpy()
        arrays.update(affine_cases(torch, rng, key, spatial, dtype))
    np.savez_compressed(OUT, **arrays, torch_version=np.array(torch.__version__))
    print(OUT, OUT.stat().st_size, "bytes")


if __name__ == "__main__":
    main()
