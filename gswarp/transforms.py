"""Pure NumPy matrix math between coordinate systems.

Conventions: pixel coordinates put pixel centres at integer indices, x along W, y along H, z along
D; normalized coordinates are torch's ``grid_sample`` ones (-1 .. 1, see ``align_corners``).
Matrices act on column vectors ``(x, y[, z], 1)``.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

__all__ = ["theta_to_pixel_matrix"]


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
