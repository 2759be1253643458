"""The affine kernels' row-interior fast path gives the general per-point path's bits.

The affine kernels (``affine_sample``, ``warp_affine``) run the columns of an output row whose
every neighbour lies inside the input through the mode's ``*_interior_*`` function, without
padding or masks, skip the columns wholly outside (copying the first one's fill), and run the
rest through the general point function. Here the same coordinates
are handed to :func:`gswarp.sample_pixels`, whose kernel calls the general point function on
every point: the two outputs must be equal bit for bit, for every mode, padding,
``align_corners``, dtype and layout, on matrices chosen to stress the span's ends (edges hit
exactly, columns that never change, huge and tiny steps, non-finite entries).
"""

from __future__ import annotations

import itertools
import math
import zlib
from fractions import Fraction

import numpy as np
import pytest

import gswarp
from tests import oracles


def _fma(a: float, b: float, c: float) -> float:
    """``a * b + c`` rounded once (the kernels' ``fma``): exactly, through fractions (Python
    3.13's ``math.fma`` where there is one)."""
    if hasattr(math, "fma"):
        return math.fma(a, b, c)
    if not (math.isfinite(a) and math.isfinite(b) and math.isfinite(c)):
        return a * b + c  # infinities and NaN: no rounding to get wrong
    return float(Fraction(a) * Fraction(b) + Fraction(c))


_FMA = np.frompyfunc(_fma, 3, 1)


def _row_coordinate(m0: float, columns: np.ndarray, origin: float, ct) -> np.ndarray:
    """The input coordinates of output columns ``columns`` on one row, as the affine kernels
    compute them: ``ct(fma(m0, column, origin))``, the origin in float64."""
    with np.errstate(invalid="ignore", over="ignore"):  # NaN and infinite matrices are cases
        return _FMA(m0, columns.astype(np.float64), origin).astype(np.float64).astype(ct)


def _row_coordinates_2d(matrix, height, width, ct):
    """The pixel coordinates the affine kernel computes: (N, H, W, 2) in ``ct``."""
    coords = np.empty((matrix.shape[0], height, width, 2), dtype=ct)
    columns = np.arange(width)
    for n in range(matrix.shape[0]):
        for ho in range(height):
            for k in range(2):
                origin = matrix[n, k, 1] * ho + matrix[n, k, 2]
                coords[n, ho, :, k] = _row_coordinate(matrix[n, k, 0], columns, origin, ct)
    return coords


def _row_coordinates_3d(matrix, depth, height, width, ct):
    """The pixel coordinates the 3-D affine kernel computes: (N, D, H, W, 3) in ``ct``."""
    coords = np.empty((matrix.shape[0], depth, height, width, 3), dtype=ct)
    columns = np.arange(width)
    for n in range(matrix.shape[0]):
        for do in range(depth):
            for ho in range(height):
                for k in range(3):
                    origin = matrix[n, k, 1] * ho + matrix[n, k, 2] * do + matrix[n, k, 3]
                    coords[n, do, ho, :, k] = _row_coordinate(matrix[n, k, 0], columns, origin, ct)
    return coords


def _compute_type(dtype: np.dtype) -> type:
    return np.float64 if dtype == np.float64 else np.float32


def _matrices_2d(rng: np.random.Generator, shape: tuple[int, int]) -> list[np.ndarray]:
    h, w = shape
    cases = [
        np.array([[1.0, 0, 0], [0, 1, 0]]),  # identity: every column on a pixel centre
        np.array([[0.0, -1, w - 1], [1, 0, 0]]),  # quarter turn
        np.array([[1.0, 0, -0.5], [0, 1, 0.5]]),  # half-pixel shifts: ties for nearest
        np.array([[0.0, 0.3, 1.25], [0.0, 0.7, 0.5]]),  # rows constant along columns
        np.array([[1.0, 0, w - 1.0], [0, 1, 0]]),  # lands on the last column exactly
        np.array([[1e-9, 0.2, 0.5], [1e-12, 0.9, 0.25]]),  # tiny steps
        np.array([[3e6, 0.0, -1e6], [0.2, 1.0, 0.0]]),  # huge steps
        np.array([[1.0, 0.0, np.nan], [0.0, 1.0, 0.0]]),  # non-finite entries
        np.array([[np.inf, 0.0, 0.0], [0.0, 1.0, 0.0]]),
    ]
    for _ in range(8):  # rotation, anisotropic scale, shear, translation around the input
        angle = rng.uniform(-np.pi, np.pi)
        scale = rng.uniform(0.3, 2.5, size=2)
        rotation = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
        linear = rotation @ np.diag(scale) @ np.array([[1.0, rng.uniform(-0.5, 0.5)], [0, 1]])
        offset = rng.uniform(-0.5, 1.5, size=2) * np.array([w, h])
        cases.append(np.hstack([linear, offset[:, None]]))
    return cases


def _matrices_3d(rng: np.random.Generator, shape: tuple[int, int, int]) -> list[np.ndarray]:
    d, h, w = shape
    eye = np.hstack([np.eye(3), np.zeros((3, 1))])
    cases = [eye, eye + np.array([[0, 0, 0, -0.5], [0, 0, 0, 0.5], [0, 0, 0, 1.0]])]
    flat = eye.copy()
    flat[:, 0] = 0.0  # every column the same point
    flat[:, 3] = [1.5, 0.25, 0.75]
    cases.append(flat)
    edge = eye.copy()
    edge[2, 3] = d - 1.0  # the last slice exactly
    cases.append(edge)
    broken = eye.copy()
    broken[1, 0] = np.nan
    cases.append(broken)
    for _ in range(6):
        q = rng.normal(size=4)
        q /= np.linalg.norm(q)
        a, b, c, e = q
        rotation = np.array(
            [
                [a * a + b * b - c * c - e * e, 2 * (b * c - a * e), 2 * (b * e + a * c)],
                [2 * (b * c + a * e), a * a - b * b + c * c - e * e, 2 * (c * e - a * b)],
                [2 * (b * e - a * c), 2 * (c * e + a * b), a * a - b * b - c * c + e * e],
            ]
        )
        linear = rotation * rng.uniform(0.5, 1.6, size=3)
        offset = rng.uniform(-0.3, 1.3, size=3) * np.array([w, h, d])
        cases.append(np.hstack([linear, offset[:, None]]))
    return cases


def _input(rng: np.random.Generator, shape: tuple[int, ...], dtype: np.dtype, layout: str):
    if np.dtype(dtype).kind in "iu":
        info = np.iinfo(dtype)
        data = rng.integers(info.min, info.max, size=shape, endpoint=True).astype(dtype)
    else:
        data = rng.normal(size=shape).astype(dtype)
    return oracles.laid_out(data, layout)


# Every dtype on every layout of oracles.LAYOUTS (the kernels type every array as strided:
# layouts add no compile); each dtype is one kernel specialization to compile on an empty cache.
# Bicubic has no interior path.
PADDINGS = list(itertools.product(["zeros", "border", "reflection"], [False, True]))


@pytest.mark.parametrize(("padding", "align"), PADDINGS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.uint8])
@pytest.mark.parametrize("mode", ["nearest", "bilinear"])
def test_affine_2d_interior_equals_general_path(mode, dtype, padding, align):
    seed = zlib.crc32(f"2d-{mode}-{padding}-{align}-{np.dtype(dtype).name}".encode())
    rng = np.random.default_rng(seed)
    shapes = [((13, 17), 3), ((1, 9), 1), ((16, 5), 2)]
    for (shape, channels), layout in itertools.product(shapes, oracles.LAYOUTS):
        image = _input(rng, (2, channels, *shape), dtype, layout)
        out_shape = (2, channels, shape[0] + 3, shape[1] + 4)
        fill = [0.25 * (c + 1) for c in range(channels)]
        if np.dtype(dtype).kind in "iu":
            fill = [float(c + 7) for c in range(channels)]
        for number, matrix in enumerate(_matrices_2d(rng, shape)):
            matrices = np.stack([matrix, matrix[::-1] if number % 2 else matrix])
            ct = _compute_type(np.dtype(dtype))
            coords = _row_coordinates_2d(matrices, out_shape[2], out_shape[3], ct)
            got = gswarp.warp_affine(image, matrices, out_shape, mode, padding, align, fill=fill)
            want = gswarp.sample_pixels(image, coords, mode, padding, align, fill=fill)
            assert np.array_equal(got, want, equal_nan=True), (
                f"seed {seed}, input {shape} x {channels} ({layout}), matrix {number}: "
                f"{matrices[0].tolist()}"
            )


@pytest.mark.parametrize(("padding", "align"), PADDINGS)
@pytest.mark.parametrize("dtype", [np.float32, np.uint16])
@pytest.mark.parametrize("mode", ["nearest", "bilinear"])
def test_affine_3d_interior_equals_general_path(mode, dtype, padding, align):
    seed = zlib.crc32(f"3d-{mode}-{padding}-{align}-{np.dtype(dtype).name}".encode())
    rng = np.random.default_rng(seed)
    shapes = [((7, 9, 11), 1), ((5, 1, 6), 2)]
    for (shape, channels), layout in itertools.product(shapes, oracles.LAYOUTS):
        volume = _input(rng, (1, channels, *shape), dtype, layout)
        out_shape = (1, channels, shape[0] + 1, shape[1] + 2, shape[2] + 3)
        for number, matrix in enumerate(_matrices_3d(rng, shape)):
            ct = _compute_type(np.dtype(dtype))
            coords = _row_coordinates_3d(matrix[None], *out_shape[2:], ct)
            got = gswarp.warp_affine(volume, matrix, out_shape, mode, padding, align, fill=2.0)
            want = gswarp.sample_pixels(volume, coords, mode, padding, align, fill=2.0)
            assert np.array_equal(got, want, equal_nan=True), (
                f"seed {seed}, input {shape} x {channels} ({layout}), matrix {number}: "
                f"{matrix.tolist()}"
            )
