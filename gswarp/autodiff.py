"""Gradients of gswarp's sampling (issue 17, first part): ``grid_sample``'s backward pass.

>>> import numpy as np
>>> from gswarp import grid_sample
>>> from gswarp.autodiff import grid_sample_backward
>>> image = np.arange(12.0).reshape(1, 1, 3, 4)
>>> grid = np.zeros((1, 1, 1, 2))                      # one point: the image's centre
>>> grid_sample(image, grid, align_corners=True).item()
5.5
>>> grad_input, grad_grid = grid_sample_backward(np.ones((1, 1, 1, 1)), image, grid,
...                                              align_corners=True)
>>> grad_input[0, 0].tolist()                          # x = 1.5, y = 1: two pixels share it
[[0.0, 0.0, 0.0, 0.0], [0.0, 0.5, 0.5, 0.0], [0.0, 0.0, 0.0, 0.0]]
>>> grad_grid[0, 0, 0].tolist()                        # d out / d grid
[1.5, 4.0]

(the image grows by 1 per pixel in x and 4 in y, times the un-normalization's scale:
(W - 1) / 2 = 1.5 and (H - 1) / 2 = 1).

Semantics are torch's (its autograd of ``grid_sample`` is the oracle, committed fixtures and live
tests); see :mod:`gswarp.engine.backward` for the order of the sums, threads and NaN points.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from gswarp.errors import DTypeError, ShapeError, SpecError
from gswarp.options import Mode, parse_mode, parse_padding

__all__ = ["grid_sample_backward"]


def grid_sample_backward(
    grad_output: np.ndarray,
    input: np.ndarray,
    grid: np.ndarray,
    mode: str = "bilinear",
    padding_mode: str = "zeros",
    align_corners: bool | None = False,
    needs: Sequence[str] = ("input", "grid"),
) -> tuple[np.ndarray | None, np.ndarray | None]:
    """The gradients of ``grid_sample(input, grid, mode, padding_mode, align_corners)`` for
    ``input`` and for ``grid``, given the gradient of the loss for its output.

    Parameters
    ----------
    grad_output : ndarray, shape (N, C, H_out, W_out) or (N, C, D_out, H_out, W_out)
    input : ndarray, shape (N, C, H, W) or (N, C, D, H, W), float32 or float64
    grid : ndarray, shape (N, H_out, W_out, 2) or (N, D_out, H_out, W_out, 3), the input's dtype
        Normalized coordinates, (x, y[, z]) in the last axis, as for :func:`gswarp.grid_sample`.
    mode : 'bilinear' or 'nearest' ('bicubic' is not built yet)
    padding_mode, align_corners
        As for :func:`gswarp.grid_sample`.
    needs : which gradients to compute: 'input', 'grid' or both.

    Returns
    -------
    (grad_input, grad_grid)
        Arrays of ``input``'s and ``grid``'s shapes and dtype; None for one not in ``needs``.
        ``grad_grid`` of 'nearest' is zero, as torch's.

    Raises
    ------
    SpecError, DTypeError, ShapeError
        A mode not built, integer or mixed dtypes, shapes that do not fit together.
    """
    parsed = parse_mode(mode, "mode")
    padding = parse_padding(padding_mode, "padding_mode")
    if parsed == Mode.BICUBIC:
        raise SpecError("mode: the bicubic backward pass is not built yet (bilinear, nearest)")
    unknown = set(needs) - {"input", "grid"}
    if unknown:
        raise SpecError(f"needs: expected 'input' and/or 'grid', got {sorted(unknown)}")
    grad_output, input, grid = (np.asarray(a) for a in (grad_output, input, grid))
    _check(grad_output, input, grid)
    ct = np.float32 if input.dtype == np.float32 else np.float64
    align = bool(align_corners)
    from gswarp.engine.backward import backward_kernels

    grad_grid_kernel, grad_input_kernel = backward_kernels(input.ndim - 2, int(parsed))
    arrays = [np.ascontiguousarray(a) for a in (grad_output, input, grid)]
    grad_input = grad_grid = None
    if "input" in needs:
        grad_input = np.zeros(input.shape, dtype=input.dtype)
        grad_input_kernel(*arrays, grad_input, int(padding), align, ct)
    if "grid" in needs:
        grad_grid = np.empty(grid.shape, dtype=grid.dtype)
        grad_grid_kernel(*arrays, grad_grid, int(padding), align, ct)
    return grad_input, grad_grid


def _check(grad_output: np.ndarray, input: np.ndarray, grid: np.ndarray) -> None:
    if input.dtype not in (np.float32, np.float64):
        raise DTypeError(f"input: expected float32 or float64 for gradients, got {input.dtype}")
    for name, array in (("grid", grid), ("grad_output", grad_output)):
        if array.dtype != input.dtype:
            raise DTypeError(f"{name}: expected the input's dtype {input.dtype}, got {array.dtype}")
    if input.ndim not in (4, 5):
        raise ShapeError(f"input: expected (N, C, H, W) or (N, C, D, H, W), got {input.shape}")
    k = input.ndim - 2
    if grid.ndim != input.ndim or grid.shape[-1] != k or grid.shape[0] != input.shape[0]:
        raise ShapeError(
            f"grid: expected (N, *spatial_out, {k}) with N = {input.shape[0]}, got {grid.shape}"
        )
    expected = (input.shape[0], input.shape[1], *grid.shape[1:-1])
    if grad_output.shape != expected:
        raise ShapeError(f"grad_output: expected shape {expected}, got {grad_output.shape}")
