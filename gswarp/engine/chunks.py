"""Warping one part of the output from a window of the input: the step of chunked execution.

A chunked warp computes each output chunk (a box of output pixels) from only the input region it
reads, so memory is one chunk plus its input region (the Zarr/Dask issue builds on this). The
promise is that **chunk boundaries are invisible: the chunks put together equal the whole warp bit
for bit**, every mode, padding and ``align_corners``. Two things make it hold:

* The affine kernels compute every coordinate from *whole-output* indices (the chunk's
  ``origin`` is added to its own indices before the matrix is applied), so the float64 row
  origins and fused multiply-adds are those of the whole warp; the coordinate, rounded to the
  compute dtype, is then shifted by the window's integer origin (``shift``). That subtraction is
  exact: both are multiples of the coordinate's last place when it is below 2**24 (float32) or
  2**53, and the window starts at or below every coordinate it serves, so the result lies in
  ``[0, p]``. Interpolation weights (``p - floor(p)``) are therefore the whole warp's.
* :func:`input_window` makes padding behave as on the whole input: the window holds every pixel a
  chunk reads (the mapped corners, the mode's support, one pixel of margin for the rounding to
  float32), clipped at the input's edges -- so border clamps to the same edge pixels and zeros
  padding sees the same edges -- and, under reflection padding, the whole axis wherever a
  coordinate leaves the input (a reflected coordinate may land anywhere along it). Reflection
  without ``align_corners`` takes the whole input: torch's formula computes ``|p + 1/2| - 1/2``
  even inside, whose rounding depends on the coordinate's magnitude, so no window reproduces it.

Maps are pixel-space matrices as :func:`gswarp.warp_affine` takes them; vectors are ``(x, y[,
z])``, array axes ``(N, C, [D,] H, W)``.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence

import numpy as np

from gswarp.engine.api import (
    _check_align,
    _check_input,
    _check_output_size,
    _sample_affine,
    _sample_field,
    pixel_matrices,
)
from gswarp.engine.tiles import Step, apply_chain, fused_form
from gswarp.errors import ShapeError, SpecError
from gswarp.sampling import Mode, Padding, parse_mode, parse_padding

__all__ = [
    "chain_window",
    "input_window",
    "warp_affine_chunked",
    "warp_affine_window",
    "warp_chain_chunked",
    "warp_chain_window",
    "window_of_points",
]

# pixels read below floor(p) and above it, per mode: nearest reads rint(p) (floor or floor + 1),
# (bi/tri)linear floor and floor + 1, bicubic floor - 1 .. floor + 2
_SUPPORT = {Mode.NEAREST: (0, 1), Mode.BILINEAR: (0, 1), Mode.BICUBIC: (1, 2)}
_MARGIN = 1  # the coordinates are rounded to float32 for 8/16-bit inputs: floor may move by one


def input_window(
    matrix: np.ndarray,
    out_start: Sequence[int],
    out_stop: Sequence[int],
    in_spatial: Sequence[int],
    mode: str | Mode = "bilinear",
    padding: str | Padding = "zeros",
    align_corners: bool = False,
) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """The input window an output chunk of an affine warp reads.

    Parameters
    ----------
    matrix : ndarray, shape (k, k + 1)
        Output pixel -> input pixel (pixel centres at integers, ``(x, y[, z])``).
    out_start, out_stop : sequence of int
        The chunk: output pixels ``[start, stop)`` per axis, ``(x, y[, z])`` order.
    in_spatial : sequence of int
        The input's spatial size ``(H, W)`` or ``(D, H, W)``.
    mode, padding, align_corners
        As in :func:`gswarp.warp_affine`.

    Returns
    -------
    (start, stop) : tuples of int, ``(x, y[, z])`` order
        The window ``[start, stop)`` per axis, never empty; ``start`` is the ``shift`` of
        :func:`warp_affine_window`.
    """
    matrix = np.asarray(matrix, dtype=np.float64)
    k = matrix.shape[0]
    if not np.all(np.isfinite(matrix)):
        whole = tuple(int(n) for n in tuple(in_spatial)[::-1])
        return (0,) * k, whole
    corners = np.array(
        list(itertools.product(*[(a, b - 1) for a, b in zip(out_start, out_stop, strict=True)])),
        dtype=np.float64,
    )
    points = corners @ matrix[:, :k].T + matrix[:, k]  # an affine map's extremes are at corners
    return window_of_points(points, in_spatial, mode, padding, align_corners)


def window_of_points(
    points: np.ndarray,
    in_spatial: Sequence[int],
    mode: str | Mode = "bilinear",
    padding: str | Padding = "zeros",
    align_corners: bool = False,
) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """The input window that sampling at ``points`` (..., k) in input pixels ``(x, y[, z])``
    reads (non-finite points read only the fill), as :func:`input_window` says."""
    mode = parse_mode(mode, "mode")
    padding = parse_padding(padding, "padding")
    sizes = [int(n) for n in tuple(in_spatial)[::-1]]
    k = len(sizes)
    if padding == Padding.REFLECTION and not align_corners:
        return (0,) * k, tuple(sizes)  # |p + 1/2| - 1/2 rounds by p's magnitude: no window
    points = np.asarray(points, dtype=np.float64).reshape(-1, k)
    points = points[np.all(np.isfinite(points), axis=1)]
    if len(points) == 0:
        return (0,) * k, (1,) * k  # every point reads the fill: any pixel will do
    below, above = _SUPPORT[mode]
    start, stop = [], []
    for axis, size in enumerate(sizes):
        low = float(points[:, axis].min())
        high = float(points[:, axis].max())
        if padding == Padding.REFLECTION and (low < 0 or high > size - 1):
            start.append(0)
            stop.append(size)
            continue
        first = int(np.floor(low)) - below - _MARGIN
        last = int(np.floor(high)) + above + _MARGIN  # inclusive
        first = min(max(first, 0), size - 1)  # clipped; at least the nearest edge pixel
        last = min(max(last, first), size - 1)
        start.append(first)
        stop.append(last + 1)
    return tuple(start), tuple(stop)


def warp_affine_window(
    window: np.ndarray,
    shift: Sequence[int],
    matrix: np.ndarray,
    size: Sequence[int],
    origin: Sequence[int],
    mode: str = "bilinear",
    padding_mode: str = "zeros",
    align_corners: bool = False,
    *,
    fill: float | Sequence[float] = 0.0,
    out: np.ndarray | None = None,
) -> np.ndarray:
    """The part of ``warp_affine(input, matrix, ...)`` that starts at output pixel ``origin``,
    computed from the window of ``input`` that starts at ``shift``.

    Parameters
    ----------
    window : ndarray, shape (N, C, h, w) or (N, C, d, h, w)
        ``input[..., z0:z1, y0:y1, x0:x1]``, the window :func:`input_window` gives (a smaller one
        gives wrong results).
    shift : sequence of int
        ``(x0, y0[, z0])``, the window's first pixel in the input.
    matrix : ndarray, shape (k, k + 1) or (N, k, k + 1)
        The *whole* warp's matrix: output pixel -> input pixel, both whole.
    size : sequence of int
        The part's size ``(N, C, *spatial)``.
    origin : sequence of int
        ``(x, y[, z])``: the part's first pixel in the whole output.
    mode, padding_mode, align_corners, fill, out
        As in :func:`gswarp.warp_affine` (``align_corners`` refers to the whole input: it only
        matters for reflection, whose windows :func:`input_window` makes whole along the axes
        where it applies).

    Returns
    -------
    ndarray of the window's dtype and shape ``size``: bit for bit the whole warp's pixels there.
    """
    window = _check_input(window, "window")
    size = _check_output_size(size, window)
    matrix = pixel_matrices(matrix, window)
    origin, shift = _placement(origin, shift, window.ndim - 2)
    return _sample_affine(
        window,
        matrix,
        size,
        mode,
        padding_mode,
        _check_align(align_corners),
        fill,
        out,
        window=(origin, shift),
    )


def warp_affine_chunked(
    input: np.ndarray,
    matrix: np.ndarray,
    size: Sequence[int],
    chunks: Sequence[int],
    mode: str = "bilinear",
    padding_mode: str = "zeros",
    align_corners: bool = False,
    *,
    fill: float | Sequence[float] = 0.0,
) -> np.ndarray:
    """:func:`gswarp.warp_affine` computed chunk by chunk, each from its input window: the
    in-memory form of chunked execution (equal to the whole warp bit for bit).

    Parameters
    ----------
    chunks : sequence of int
        The output chunks' spatial shape ``(h, w)`` or ``(d, h, w)`` (the last ones may be
        smaller).
    input, matrix, size, mode, padding_mode, align_corners, fill
        As in :func:`gswarp.warp_affine` (``matrix`` (k, k + 1) or one per batch item).
    """
    input = _check_input(input)
    size = _check_output_size(size, input)
    k = input.ndim - 2
    matrix = pixel_matrices(matrix, input)
    out = np.empty(size, dtype=input.dtype)
    spatial = size[2:]
    chunks = tuple(int(c) for c in chunks)
    if len(chunks) != k or any(c <= 0 for c in chunks):
        raise ShapeError(f"chunks: expected {k} positive sizes, got {chunks}")
    for n in range(size[0]):
        for begin in _starts(spatial, chunks):
            end = tuple(min(b + c, s) for b, c, s in zip(begin, chunks, spatial, strict=True))
            origin = begin[::-1]  # (x, y[, z])
            low, high = input_window(
                matrix[n], origin, end[::-1], input.shape[2:], mode, padding_mode, align_corners
            )
            window = input[(slice(n, n + 1), slice(None), *_box(low, high))]
            part = out[(slice(n, n + 1), slice(None), *_box(begin[::-1], end[::-1]))]
            warp_affine_window(
                window,
                low,
                matrix[n],
                part.shape,
                origin,
                mode,
                padding_mode,
                align_corners,
                fill=fill,
                out=part,
            )
    return out


def _fused_chain(steps: Sequence[Step], k: int):
    """(before, field step, after) of a chain with at most one field (else an error)."""
    fused = fused_form(steps, k)
    if fused is None:
        raise SpecError(
            "a chunked warp takes at most one flow field between its matrices (a chain of "
            "several fields is not supported in chunks yet)"
        )
    return fused


def chain_window(
    steps: Sequence[Step],
    whole_spatial: Sequence[int],
    out_start: Sequence[int],
    out_stop: Sequence[int],
    in_spatial: Sequence[int],
    mode: str | Mode = "bilinear",
    padding: str | Padding = "zeros",
    align_corners: bool = False,
) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """The input window an output chunk of a chain (matrices and flow fields,
    :func:`gswarp.engine.tiles.sample_chain`) reads: the chain's coordinates over the chunk,
    then :func:`window_of_points`. ``whole_spatial``: the whole output's spatial size
    ``(H, W)`` or ``(D, H, W)``; ``out_start``, ``out_stop``: the chunk, ``(x, y[, z])``.

    The coordinates are computed here with NumPy, the kernels' own may differ in the last
    bits: the window's one-pixel margin covers the floor that moves.
    """
    k = len(whole_spatial)
    before, field, _ = _fused_chain(steps, k)
    if field is None:  # matrices only: the corners say it all
        return input_window(before, out_start, out_stop, in_spatial, mode, padding, align_corners)
    axes = [np.arange(a, b, dtype=np.float64) for a, b in zip(out_start, out_stop, strict=True)]
    grids = np.meshgrid(*axes[::-1], indexing="ij")  # ([z,] y, x)
    points = np.stack(grids[::-1], axis=-1)  # last axis (x, y[, z])
    points = apply_chain(steps, points, whole_spatial, _box(out_start, out_stop))
    assert points.shape[-1] == k
    return window_of_points(points, in_spatial, mode, padding, align_corners)


def warp_chain_window(
    window: np.ndarray,
    shift: Sequence[int],
    steps: Sequence[Step],
    size: Sequence[int],
    origin: Sequence[int],
    whole_spatial: Sequence[int],
    mode: str = "bilinear",
    padding_mode: str = "zeros",
    align_corners: bool = False,
    *,
    fill: float | Sequence[float] = 0.0,
    out: np.ndarray | None = None,
) -> np.ndarray:
    """The part of ``sample_chain(input, steps, whole, ...)`` that starts at output pixel
    ``origin``, from the window of ``input`` that starts at ``shift`` (the window
    :func:`chain_window` gives): bit for bit the whole warp's pixels there. ``steps``: at most
    one flow field; ``whole_spatial``: the whole output's spatial size."""
    window = _check_input(window, "window")
    size = _check_output_size(size, window)
    k = window.ndim - 2
    origin, shift = _placement(origin, shift, k)
    before, field, after = _fused_chain(steps, k)
    if field is None:
        return warp_affine_window(
            window,
            shift,
            before,
            size,
            origin,
            mode,
            padding_mode,
            align_corners,
            fill=fill,
            out=out,
        )
    return _sample_field(
        window,
        field.field,
        size,
        mode,
        padding_mode,
        align_corners,
        before,
        field.to_field,
        after,
        field.absolute,
        fill,
        out,
        False,
        window=(origin, shift),
        whole=whole_spatial,
    )


def warp_chain_chunked(
    input: np.ndarray,
    steps: Sequence[Step],
    size: Sequence[int],
    chunks: Sequence[int],
    mode: str = "bilinear",
    padding_mode: str = "zeros",
    align_corners: bool = False,
    *,
    fill: float | Sequence[float] = 0.0,
) -> np.ndarray:
    """:func:`gswarp.engine.tiles.sample_chain` computed chunk by chunk, each from its input
    window (equal to it bit for bit); ``chunks``: the output chunks' spatial shape."""
    input = _check_input(input)
    size = _check_output_size(size, input)
    k = input.ndim - 2
    out = np.empty(size, dtype=input.dtype)
    spatial = size[2:]
    chunks = tuple(int(c) for c in chunks)
    if len(chunks) != k or any(c <= 0 for c in chunks):
        raise ShapeError(f"chunks: expected {k} positive sizes, got {chunks}")
    for begin in _starts(spatial, chunks):
        end = tuple(min(b + c, s) for b, c, s in zip(begin, chunks, spatial, strict=True))
        origin, stop = begin[::-1], end[::-1]
        low, high = chain_window(
            steps, spatial, origin, stop, input.shape[2:], mode, padding_mode, align_corners
        )
        window = input[(slice(None), slice(None), *_box(low, high))]
        part = out[(slice(None), slice(None), *_box(origin, stop))]
        warp_chain_window(
            window,
            low,
            steps,
            part.shape,
            origin,
            spatial,
            mode,
            padding_mode,
            align_corners,
            fill=fill,
            out=part,
        )
    return out


def _placement(origin, shift, k: int) -> tuple[np.ndarray, np.ndarray]:
    """``origin`` and ``shift`` as contiguous int64 ``(x, y[, z])`` arrays (checked)."""
    origin = np.ascontiguousarray(origin, dtype=np.int64)
    shift = np.ascontiguousarray(shift, dtype=np.int64)
    if origin.shape != (k,) or shift.shape != (k,):
        raise ShapeError(f"origin, shift: expected {k} integers each, got {origin} and {shift}")
    return origin, shift


def _starts(spatial: Sequence[int], chunks: Sequence[int]):
    """The first pixel of every chunk, ``([z,] y, x)`` order."""
    return itertools.product(*[range(0, n, c) for n, c in zip(spatial, chunks, strict=True)])


def _box(start: Sequence[int], stop: Sequence[int]) -> tuple[slice, ...]:
    """Array slices, ``([z,] y, x)`` order, of the box ``[start, stop)`` given ``(x, y[, z])``."""
    return tuple(slice(a, b) for a, b in zip(start[::-1], stop[::-1], strict=True))
