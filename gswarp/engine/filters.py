"""ITK's interpolators as sampling filters: B-splines of order 0-5, windowed sincs, the
Gaussian, and the label-wise vote of any of them (``src/gswarp_core/filters.hpp`` states the
rules; ``tests/test_filters.py`` holds each to SimpleITK's interpolator of the same name).

These read the input as ITK's ``ResampleImageFilter`` does, not as torch's ``grid_sample``: a
point is sampled when each of its pixel coordinates lies in ``[-0.5, size - 0.5)`` and gets the
fill otherwise; the taps past the edge follow each interpolator's rule (the B-spline's mirror,
the sinc's clamp, the Gaussian's window cut at the edge). ``padding_mode`` 'border' or
'reflection' first clips or reflects each coordinate as torch does, so that nothing is filled.

Coordinates are the chains' (:mod:`gswarp.engine.tiles`, whose ``sample_chain`` calls
:func:`filter_sample` for these modes): output pixel -> input pixel, centres at integers, last
axis ``(x, y[, z])``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from gswarp.engine import core
from gswarp.sampling import FILTER_KINDS, WINDOWS, Filter

__all__ = [
    "coefficients",
    "filter_sample",
    "sample_points",
    "spline_displacements",
    "transform_displacements",
]


def coefficients(input: np.ndarray, order: int) -> np.ndarray:
    """The B-spline coefficients of ``input`` (N, C, *spatial) for ``order``: a new float64
    array, prefiltered along each spatial axis (ITK's ``BSplineDecompositionImageFilter``);
    orders 0 and 1 interpolate the samples themselves (a float64 copy)."""
    data = np.array(input, dtype=np.float64, order="C")
    if order < 2:
        return data
    shape = data.shape
    for axis in range(2, data.ndim):
        outer = int(np.prod(shape[:axis]))
        inner = int(np.prod(shape[axis + 1 :]))
        core.bspline_prefilter(data.reshape(outer, shape[axis], inner), order)
    return data


def prepared(input: np.ndarray, filter: Filter, labels: bool) -> np.ndarray:
    """What the kernel reads for ``filter``: B-spline coefficients (unless the input is a
    label map, whose labels are voted on as they are), else the input."""
    if filter.kind == "bspline" and not labels:
        return coefficients(input, filter.order)
    return input


def sample_points(
    source: np.ndarray,
    points: np.ndarray,
    out: np.ndarray,
    filter: Filter,
    padding: int,
    align_corners: bool,
    fill: np.ndarray,
    labels: bool,
    grid: Sequence[int] | None = None,
    first: int = 0,
    spline_region: bool = False,
) -> None:
    """``source`` (N, C, *spatial; :func:`prepared`) at ``points`` (P, k) into ``out``
    (N, C, P); ``fill`` (C,) float64. With ``grid`` (an output's spatial shape), ``points`` is
    a (k, k + 1) matrix instead, and the points are the output pixels of flat indices
    ``first``.. ``first + P`` mapped by it (computed in the kernel). ``spline_region``: a
    point is inside where ``1 <= c < size - 2`` (:func:`spline_displacements`)."""
    k = source.ndim - 2
    core.filter_points(
        source,
        np.ascontiguousarray(points, dtype=np.float64),
        out,
        np.ascontiguousarray(fill, dtype=np.float64),
        FILTER_KINDS[filter.kind],
        int(filter.order),
        WINDOWS.index(filter.window),
        int(filter.radius),
        np.asarray(filter.sigmas(k), dtype=np.float64),
        float(filter.alpha),
        int(padding),
        bool(align_corners),
        bool(labels),
        filter.kind == "linear",  # ITK's generic label vote: the smallest label on a tie
        grid is not None,
        np.asarray(grid if grid is not None else [1] * k, dtype=np.int64),
        int(first),
        bool(spline_region),
    )


_KERNEL_DTYPES = frozenset(
    np.dtype(t)
    for t in (np.int8, np.uint8, np.int16, np.uint16, np.int32, np.uint32, np.int64, np.uint64)
) | {np.dtype(np.float32), np.dtype(np.float64)}


def _kernel_input(input) -> np.ndarray:
    """``input`` checked as the engine checks it: an (N, C, ...) array of a supported dtype,
    in native byte order (a big-endian array converted); a bool array is refused in one line
    (these filters interpolate; a mask votes as uint8 with ``labels``)."""
    from gswarp.engine.api import _check_input
    from gswarp.errors import DTypeError

    input = _check_input(input)
    if input.dtype == np.bool_:
        raise DTypeError(
            "input: a bool array is not interpolated by ITK's filters; give it as uint8 "
            "(with labels=True to vote)"
        )
    return input


def _kernel_output(out: np.ndarray, size: tuple[int, ...], input: np.ndarray) -> np.ndarray:
    """``out`` when the kernel can write it (native byte order, a dtype it writes: any for a
    float input, the input's own for an integer input), else a native staged array of the
    nearest such dtype; a ShapeError/DTypeError in one line for an ``out`` that cannot be."""
    from gswarp.errors import DTypeError, ShapeError

    if not isinstance(out, np.ndarray) or out.shape != size:
        shown = getattr(out, "shape", type(out).__name__)
        raise ShapeError(f"out: expected a numpy.ndarray of shape {size}, got {shown}")
    native = out.dtype.newbyteorder("=")
    if input.dtype.kind != "f" and native != input.dtype:
        raise DTypeError(f"out: an integer input's filter writes its own dtype {input.dtype}")
    if out.dtype.isnative and native in _KERNEL_DTYPES:
        return out
    return np.empty(size, dtype=native if native in _KERNEL_DTYPES else np.float32)


def filter_sample(
    input: np.ndarray,
    size: Sequence[int],
    filter: Filter,
    padding: int = 0,
    align_corners: bool = False,
    *,
    fill: float | Sequence[float] = 0.0,
    out: np.ndarray | None = None,
    labels: bool = False,
    matrix: np.ndarray | None = None,
    coordinates: Callable[[int, int], np.ndarray] | None = None,
    slabs: Sequence[tuple[int, int]] = (),
) -> np.ndarray:
    """Sample ``input`` (N, C, *spatial) with ``filter`` at the input pixels that ``matrix``
    maps the output pixels to, or that ``coordinates`` gives for them one slab of output rows
    (slices) at a time (:func:`gswarp.engine.tiles.sample_chain` hands over a chain's).

    Parameters
    ----------
    input : ndarray, shape (N, C, H, W) or (N, C, D, H, W)
        Any dtype; a float input may be written into an ``out`` of any dtype (rounded and
        clipped), an integer input into its own dtype.
    size : sequence of int
        Output size ``(N, C, *spatial)``.
    filter : Filter
    padding : int
        :class:`gswarp.sampling.Padding`'s code: 0 fills beyond the input's extent.
    align_corners : bool
        Only the reflection's bounds depend on it (as torch's).
    fill : float or sequence of float
        The value (per channel) of points beyond the input's extent.
    labels : bool
        Vote label by label (each value's summed weight, the largest kept) instead of
        interpolating: ITK's ``LabelImageGaussianInterpolateImageFunction`` for the Gaussian.
    matrix : ndarray (k, k + 1), optional
        Output pixel ``(x, y[, z], 1)`` -> input pixel; the kernel computes the points.
    coordinates : callable, optional
        ``coordinates(start, stop)``: the input pixels ``(rows, ..., k)`` of output rows
        (slices) ``start:stop``; used when ``matrix`` is None, for each of ``slabs``
        (:func:`gswarp.engine.tiles.row_slabs`).

    Returns
    -------
    ndarray of ``size``, ``out``'s dtype (default the input's).
    """
    size = tuple(int(n) for n in size)
    k = len(size) - 2
    filter.check(k)
    input = _kernel_input(input)
    if out is None:
        out = np.empty(size, dtype=input.dtype)
    if input.dtype not in _KERNEL_DTYPES:  # float16: read as float32
        input = input.astype(np.float32)
    written = _kernel_output(out, size, input)
    if written is not out:  # another byte order or float16: the kernel writes a staged copy
        filter_sample(
            input, size, filter, padding, align_corners, fill=fill, out=written, labels=labels,
            matrix=matrix, coordinates=coordinates, slabs=slabs,
        )  # fmt: skip
        out[...] = written
        return out
    channels = input.shape[1]
    fills = np.broadcast_to(np.asarray(fill, dtype=np.float64).ravel(), (channels,))
    source = prepared(input, filter, labels)
    spatial = size[2:]
    common = (filter, padding, align_corners, fills, labels)
    if matrix is not None:
        flat = out.reshape(size[0], size[1], -1)
        sample_points(source, np.asarray(matrix, dtype=np.float64), flat, *common, grid=spatial)
        if not np.shares_memory(flat, out):  # a view could not be made: copy it back
            out[...] = flat.reshape(out.shape)
        return out
    if coordinates is None:
        raise ValueError("filter_sample: give a matrix or coordinates")
    for start, stop in slabs:
        points = coordinates(start, stop).reshape(-1, k)
        window = out[:, :, start:stop]
        flat = window.reshape(size[0], size[1], -1)
        sample_points(source, points, flat, *common)
        if not np.shares_memory(flat, window):
            window[...] = flat.reshape(window.shape)
    return out


def spline_displacements(
    control: np.ndarray,
    points: np.ndarray | None = None,
    *,
    matrix: np.ndarray | None = None,
    grid: Sequence[int] | None = None,
) -> np.ndarray:
    """ITK's ``BSplineTransform`` (cubic) displacements: the cubic B-spline of the control
    points' values (no prefilter: they are the coefficients), zero outside the transform's
    valid region (continuous control-grid index ``1 <= c < size - 2`` on every axis).

    Parameters
    ----------
    control : ndarray, shape (k, [Z,] Y, X)
        The displacement components at the control points.
    points : ndarray (P, k), optional
        Continuous control-grid indices ``(x, y[, z])``.
    matrix, grid : optional
        Instead of ``points``: a (k, k + 1) map from the pixels of a grid of spatial shape
        ``grid`` (z, y, x order) to control-grid indices; the points are all its pixels, in C
        order (evaluated in the kernel, no coordinate array).

    Returns
    -------
    ndarray, shape (P, k), float64
    """
    k = control.shape[0]
    source = np.ascontiguousarray(control, dtype=np.float64)[None]  # (1, k, *lattice)
    count = len(points) if points is not None else int(np.prod(grid, dtype=np.int64))
    values = np.empty((count, k), dtype=np.float64)
    where = points if points is not None else matrix
    common = (Filter("bspline", order=3), 0, False, np.zeros(k), False)
    sample_points(source, where, values.T[None], *common, grid=grid, spline_region=True)
    return values


def transform_displacements(grid, points: np.ndarray) -> np.ndarray:
    """``(N, k)`` displacements of a :class:`~gswarp.transforms.BSplineGrid` at ``(N, k)``
    points of its frame (LPS mm; a plain 2-D image's pixels), as ITK's ``TransformPoint``
    (``BSplineTransform``, order 3)."""
    k = grid.coefficients.shape[0]
    points = np.asarray(points, dtype=np.float64).reshape(-1, k)
    return spline_displacements(grid.coefficients, (points - grid.origin) @ grid.to_index().T)
