"""Host side of antialiased sampling: footprint frames from Jacobians (see
:mod:`gswarp.engine.footprint` for the filter and the frame layout).

Coordinates follow the engine's convention: pixel centres at integers, vectors ordered
``(x, y[, z])``; a Jacobian ``J[..., a, b]`` is d input coordinate ``a`` / d output coordinate
``b`` in that order.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from gswarp.engine.footprint import WIDEN

__all__ = ["SHRINK_TOLERANCE", "coordinate_jacobians", "footprint_frames"]

SHRINK_TOLERANCE = 1e-9
"""A map shrinks when its largest singular value exceeds ``1 + SHRINK_TOLERANCE``: rotations,
whose singular values are 1 within rounding, and magnifications keep point sampling."""


def footprint_frames(
    jacobians: np.ndarray, input_spatial: Sequence[int], cubic: bool = False
) -> tuple[np.ndarray, np.ndarray]:
    """Frames and shrink flags for a stack of Jacobians.

    Parameters
    ----------
    jacobians : ndarray, shape (..., k, k)
        Output pixel -> input pixel derivatives, ``(x, y[, z])`` order on both axes.
    input_spatial : sequence of int
        The input's spatial size ``(H, W)`` or ``(D, H, W)``: no footprint is stretched by more
        than the input's largest side (it then covers the whole input anyway).
    cubic : bool
        Keys' cubic kernel (bicubic) instead of the tent (bilinear).

    Returns
    -------
    frames : ndarray, shape (..., 9) for k = 2, (..., 19) for k = 3, float64
        ``M`` (k x k, row-major, upper triangular; filter coordinates ``u = M (q - c)``), ``J``
        (k x k, row-major), the kernel's support.
    shrinks : ndarray of bool, shape (...)
        Where the map shrinks (see :data:`SHRINK_TOLERANCE`) and ``J`` is finite: the points that
        are filtered; the others are point-sampled.
    """
    jacobians = np.asarray(jacobians, dtype=np.float64)
    k = jacobians.shape[-1]
    finite = np.isfinite(jacobians).all(axis=(-2, -1))
    safe = np.where(finite[..., None, None], jacobians, np.eye(k))
    u, s, _ = np.linalg.svd(safe)
    shrinks = finite & (s.max(axis=-1) > 1.0 + SHRINK_TOLERANCE)
    stretch = np.clip(s, 1.0, float(max(input_spatial)))
    stretch = stretch + WIDEN * (stretch - 1.0)
    covariance = (u * stretch[..., None, :] ** 2) @ np.swapaxes(u, -1, -2)
    # upper-triangular L with L L^T = covariance: Cholesky of the axes reversed, reversed back
    flip = np.arange(k)[::-1]
    lower = np.linalg.cholesky(covariance[..., flip[:, None], flip])
    upper = lower[..., flip[:, None], flip]
    m = np.linalg.inv(upper)
    m[..., np.tril_indices(k, -1)[0], np.tril_indices(k, -1)[1]] = 0.0  # exactly triangular
    support = np.full((*m.shape[:-2], 1), 2.0 if cubic else 1.0)
    frames = np.concatenate(
        [m.reshape(*m.shape[:-2], k * k), safe.reshape(*safe.shape[:-2], k * k), support],
        axis=-1,
    )
    return np.ascontiguousarray(frames), shrinks


def coordinate_jacobians(coords: np.ndarray, first: slice | None = None) -> np.ndarray:
    """Jacobians of a coordinate map by central differences (one-sided at the edges).

    Parameters
    ----------
    coords : ndarray, shape (*spatial, k)
        Input pixel coordinates of consecutive output pixels (last axis ``(x, y[, z])``; the
        spatial axes in ``(D,) H, W`` order).
    first : slice, optional
        When ``coords`` carries extra rows (slices) around a tile along its first spatial axis,
        the tile's part of that axis; the result then covers only the tile.

    Returns
    -------
    ndarray, shape (*tile_spatial, k, k), float64
        ``J[..., a, b]``: d coordinate ``a`` / d output axis ``b``, ``b`` in ``(x, y[, z])``
        order. An axis of length 1 has derivative 0 (no shrink along it).
    """
    coords = np.asarray(coords, dtype=np.float64)
    k = coords.shape[-1]
    spatial_axes = coords.ndim - 1
    columns = []
    for b in range(k):  # output axis b: x is the last spatial axis
        axis = spatial_axes - 1 - b
        if coords.shape[axis] < 2:
            columns.append(np.zeros_like(coords))
        else:
            columns.append(np.gradient(coords, axis=axis))
    jac = np.stack(columns, axis=-1)
    if first is not None:
        jac = jac[first]
    return jac
