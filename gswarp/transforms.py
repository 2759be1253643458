"""Pure NumPy matrix math between coordinate systems.

Conventions: pixel coordinates put pixel centres at integer indices, x along W, y along H, z along
D; normalized coordinates are torch's ``grid_sample`` ones (-1 .. 1, see ``align_corners``).
Matrices act on column vectors ``(x, y[, z], 1)``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

__all__ = [
    "BSplineGrid",
    "DisplacementField",
    "affine_2d",
    "affine_3d",
    "compose",
    "pixel_matrix_to_theta",
    "resize_matrix",
    "sampling_matrix",
    "theta_to_pixel_matrix",
]


@dataclass(frozen=True)
class DisplacementField:
    """A displacement field in gswarp's layout.

    Attributes
    ----------
    values : ndarray, shape (Z, Y, X, 3), float32 or float64
        Displacements in RAS millimetres, components (x, y, z), at the field's voxels.
    affine : ndarray (4, 4)
        The field's voxel ``(x, y, z)`` -> RAS world matrix.
    planar : bool
        A 2-D field (an ITK/ANTs ``-d 2`` warp of 2-vectors on one slice), held as a field of
        one slice whose z displacement is 0: it applies to single-slice volumes.
    """

    values: np.ndarray
    affine: np.ndarray
    planar: bool = False


@dataclass(frozen=True)
class BSplineGrid:
    """An ITK ``BSplineTransform`` (cubic) in ITK's own frame: at a physical point ``p`` (LPS
    millimetres; a plain 2-D image's pixels) the moved point is ``p + sum_k w_k(p) c_k`` over
    the 4 x 4 (x 4) control points around ``p``, with cubic B-spline weights; where that
    support leaves the control grid the displacement is zero (ITK's valid region). Evaluated
    by the compiled core: :func:`gswarp.engine.filters.spline_displacements`.

    Attributes
    ----------
    coefficients : ndarray, shape (k, [Z,] Y, X), float64
        Displacements (x, y[, z] components) at the control points.
    origin, spacing : ndarray (k,)
        The control grid's first point and its steps along x, y[, z].
    direction : ndarray (k, k)
        The control grid's axes (columns).
    """

    coefficients: np.ndarray
    origin: np.ndarray
    spacing: np.ndarray
    direction: np.ndarray

    def to_index(self) -> np.ndarray:
        """The (k, k) map from an offset in ITK's frame to the control-grid index offset."""
        return np.linalg.inv(self.direction @ np.diag(self.spacing))


def theta_to_pixel_matrix(
    theta: np.ndarray,
    input_spatial: Sequence[int],
    output_spatial: Sequence[int],
    align_corners: bool,
) -> np.ndarray:
    """The pixel-space form of torch ``affine_grid`` matrices.

    Parameters
    ----------
    theta : ndarray, shape (N, k, k + 1), k = 2 or 3
        Normalized output coordinates -> normalized input coordinates (torch's ``theta``).
    input_spatial, output_spatial : sequence of int
        Spatial sizes ``(H, W)`` / ``(D, H, W)`` of the input and of the output.
    align_corners : bool

    Returns
    -------
    ndarray, shape (N, k, k + 1), float64
        ``M`` with ``p_in = M[:, :k] @ p_out + M[:, k]`` in pixel coordinates. Each entry is
        computed so that whole-pixel maps stay exact: identity, integer shifts and quarter turns
        give integer matrices and offsets, with no rounding residue.
    """
    theta = np.asarray(theta, dtype=np.float64)
    k = theta.shape[1]
    s_in = np.asarray(input_spatial, dtype=np.float64)[::-1]  # (W, H[, D]) for (x, y[, z])
    s_out = np.asarray(output_spatial, dtype=np.float64)[::-1]
    linear = theta[:, :, :k]
    shift = theta[:, :, k]
    if align_corners:
        # p = (g + 1) (S - 1) / 2;  g_out = 2 p / (S_out - 1) - 1, or 0 on a unit axis
        has_extent = s_out > 1
        denominator = np.where(has_extent, s_out - 1, 1.0)
        a = linear * (s_in - 1)[None, :, None] / denominator[None, None, :]
        a = np.where(has_extent[None, None, :], a, 0.0)
        offset_out = np.where(has_extent, (s_out - 1) / 2, 0.0)
        b = (shift + 1) * (s_in - 1) / 2 - a @ offset_out
    else:
        # p = ((g + 1) S - 1) / 2;  g_out = (2 p + 1) / S_out - 1
        a = linear * s_in[None, :, None] / s_out[None, None, :]
        b = ((shift + 1) * s_in - 1) / 2 + a @ ((1 - s_out) / 2)
    return np.concatenate([a, b[:, :, None]], axis=2)


def resize_matrix(
    input_spatial: Sequence[int], output_spatial: Sequence[int], align_corners: bool
) -> np.ndarray:
    """(k, k + 1): output pixel -> input pixel between two grids over the same extent.

    This is :func:`theta_to_pixel_matrix` of the identity theta: what torch's ``affine_grid``
    does when only the size changes (``align_corners`` lines up corner centres or outer edges).

    >>> resize_matrix((4,), (2,), False).tolist()  # 2 output pixels cover 4 input pixels
    [[2.0, 0.5]]
    """
    k = len(input_spatial)
    return theta_to_pixel_matrix(
        np.eye(k, k + 1)[None], input_spatial, output_spatial, align_corners
    )[0]


def pixel_matrix_to_theta(
    matrix: np.ndarray,
    input_spatial: Sequence[int],
    output_spatial: Sequence[int],
    align_corners: bool,
) -> np.ndarray:
    """The inverse of :func:`theta_to_pixel_matrix`: torch ``theta`` of pixel-space matrices.

    Parameters
    ----------
    matrix : ndarray, shape (N, k, k + 1)
        Output pixel -> input pixel.
    input_spatial, output_spatial : sequence of int
        ``(H, W)`` / ``(D, H, W)``.
    align_corners : bool
        With ``align_corners=True`` a unit output axis has no extent: its column of theta is
        returned as zero (it never influences the grid).

    Returns
    -------
    ndarray, shape (N, k, k + 1), float64
    """
    matrix = np.asarray(matrix, dtype=np.float64)
    k = matrix.shape[1]
    s_in = np.asarray(input_spatial, dtype=np.float64)[::-1]
    s_out = np.asarray(output_spatial, dtype=np.float64)[::-1]
    # normalized g = (p - c) / h per axis, so theta = H_in^-1 (A (H_out g + c_out) + b - c_in)
    if align_corners:
        half_in = np.where(s_in > 1, (s_in - 1) / 2, np.inf)  # unit input axis: g is free -> 0
        half_out = np.where(s_out > 1, (s_out - 1) / 2, 0.0)
        centre_in, centre_out = (s_in - 1) / 2, (s_out - 1) / 2
    else:
        half_in, half_out = s_in / 2, s_out / 2
        centre_in, centre_out = (s_in - 1) / 2, (s_out - 1) / 2
    a = matrix[:, :, :k]
    b = matrix[:, :, k]
    linear = a * half_out[None, None, :] / half_in[None, :, None]
    shift = (a @ centre_out + b - centre_in) / half_in
    return np.concatenate([linear, shift[:, :, None]], axis=2)


def affine_2d(
    rotate: float = 0.0,
    scale: float | Sequence[float] = 1.0,
    shear: Sequence[float] = (0.0, 0.0),
    translate: Sequence[float] = (0.0, 0.0),
    center: Sequence[float] = (0.0, 0.0),
) -> np.ndarray:
    """The forward 3x3 pixel-space matrix of 2-D affine parameters (it moves image content).

    Parameters
    ----------
    rotate : float
        Degrees, counter-clockwise as seen on screen (x right, y down), about ``center``.
    scale : float or (sx, sy)
    shear : (x, y) degrees
        ``x' = x + tan(shear_x) y``, ``y' = y + tan(shear_y) x`` about ``center``.
    translate : (tx, ty)
        Pixels, applied last: ``translate=(5, 0)`` moves the content 5 columns right.
    center : (cx, cy)
        Pixel coordinates of the fixed point of rotate/scale/shear (pixel centres are integers;
        an image's centre is ``((W - 1) / 2, (H - 1) / 2)``).

    Returns
    -------
    ndarray (3, 3), float64: ``p_out = M @ (x, y, 1)`` for content at input pixel ``(x, y)``.
    Quarter turns use exact cosines and sines, so ``rotate=90`` is an exact permutation.
    """
    sx, sy = (scale, scale) if np.ndim(scale) == 0 else tuple(scale)
    cos, sin = _exact_cos_sin(rotate)
    rotation = np.array([[cos, sin], [-sin, cos]])  # counter-clockwise on screen, y down
    shearing = np.array([[1.0, _exact_tan(shear[0])], [_exact_tan(shear[1]), 1.0]])
    linear = rotation @ shearing @ np.diag([float(sx), float(sy)])
    c = np.asarray(center, dtype=np.float64)
    m = np.eye(3)
    m[:2, :2] = linear
    m[:2, 2] = c - linear @ c + np.asarray(translate, dtype=np.float64)
    return m


def _turn(degrees: float, first: int, second: int) -> np.ndarray:
    """3x3: turn by ``degrees`` in the (first, second) axis plane, counter-clockwise as seen
    looking along the third axis's positive direction: first -> -second for +90."""
    cos, sin = _exact_cos_sin(degrees)
    turn = np.eye(3)
    turn[first, first], turn[first, second] = cos, sin
    turn[second, first], turn[second, second] = -sin, cos
    return turn


def affine_3d(
    rotate: Sequence[float] = (0.0, 0.0, 0.0),
    scale: float | Sequence[float] = 1.0,
    translate: Sequence[float] = (0.0, 0.0, 0.0),
    center: Sequence[float] = (0.0, 0.0, 0.0),
) -> np.ndarray:
    """The forward 4x4 voxel-space matrix of 3-D affine parameters (it moves the content).

    Parameters
    ----------
    rotate : (rx, ry, rz) degrees
        Turns about x, then y, then z, each counter-clockwise as seen looking along the axis's
        positive direction (x right, y down, z into the stack): ``rz`` alone turns every slice
        as :func:`affine_2d` turns an image. Quarter turns are exact permutations.
    scale : float or (sx, sy, sz)
    translate : (tx, ty, tz)
        Voxels, applied last.
    center : (cx, cy, cz)
        The fixed point of rotate and scale, in voxel coordinates.

    Returns
    -------
    ndarray (4, 4), float64: ``p_out = M @ (x, y, z, 1)``.
    """
    rx, ry, rz = (float(a) for a in rotate)
    scales = [float(scale)] * 3 if np.ndim(scale) == 0 else [float(s) for s in scale]
    # axes 0, 1, 2 = x, y, z; about z the (x, y) plane turns as affine_2d's
    rotation = _turn(rz, 0, 1) @ _turn(ry, 2, 0) @ _turn(rx, 1, 2)
    linear = rotation @ np.diag(scales)
    c = np.asarray(center, dtype=np.float64)
    m = np.eye(4)
    m[:3, :3] = linear
    m[:3, 3] = c - linear @ c + np.asarray(translate, dtype=np.float64)
    return m


def compose(*forward: np.ndarray) -> np.ndarray:
    """One matrix for several forward transforms; the first listed acts first on the image."""
    result = np.eye(forward[0].shape[0])
    for m in forward:
        result = np.asarray(m, dtype=np.float64) @ result
    return result


def sampling_matrix(forward: np.ndarray) -> np.ndarray:
    """The (k, k + 1) output pixel -> input pixel matrix that realizes forward matrix ``forward``.

    ``forward`` is (k + 1, k + 1) homogeneous; the kernels sample where this matrix points.
    """
    inverse = np.linalg.inv(np.asarray(forward, dtype=np.float64))
    return inverse[:-1]


def _exact_cos_sin(degrees: float) -> tuple[float, float]:
    """cos and sin of an angle in degrees, exact (0, +-1) at multiples of 90."""
    quarter, rest = divmod(float(degrees), 90.0)
    if rest == 0.0:
        return [(1.0, 0.0), (0.0, 1.0), (-1.0, 0.0), (0.0, -1.0)][int(quarter) % 4]
    radians = np.deg2rad(degrees)
    return float(np.cos(radians)), float(np.sin(radians))


def _exact_tan(degrees: float) -> float:
    return 0.0 if float(degrees) == 0.0 else float(np.tan(np.deg2rad(degrees)))
