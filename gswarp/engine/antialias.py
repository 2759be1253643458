"""Host side of antialiased sampling: the frames of affine maps (see
``docs/engine.md``, "The antialiasing footprint", for the filter and the frame layout).

The frames are computed by the same scalar functions the kernels call for per-point footprints
(``frame_2d`` / ``frame_3d`` of ``src/gswarp_core/antialias.hpp``), so an affine map and a flow
that happens to be affine get the same filter.

Coordinates follow the engine's convention: pixel centres at integers, vectors ordered
``(x, y[, z])``; a Jacobian ``J[..., a, b]`` is d input coordinate ``a`` / d output coordinate
``b`` in that order.
"""

from __future__ import annotations

import numpy as np

__all__ = ["footprint_frames"]


def footprint_frames(
    jacobians: np.ndarray, support: float, cap: float
) -> tuple[np.ndarray, np.ndarray]:
    """Frames and shrink flags for a stack of Jacobians.

    Parameters
    ----------
    jacobians : ndarray, shape (..., k, k)
        Output pixel -> input pixel derivatives, ``(x, y[, z])`` order on both axes.
    support, cap : float
        The kernel's support (1: the tent of bilinear, 2: Keys' cubic of bicubic) and the
        largest stretch (the input's largest side: a footprint then covers the whole input),
        as :func:`gswarp.engine.api._antialias_arguments` gives them.

    Returns
    -------
    frames : ndarray, shape (..., 9) for k = 2, (..., 19) for k = 3, float64
        ``M`` (k x k, row-major, upper triangular; filter coordinates ``u = M (q - c)``), ``J``
        (k x k, row-major), the kernel's support.
    shrinks : ndarray of bool, shape (...)
        Where the map shrinks and ``J`` is finite: the points that are filtered; the others are
        point-sampled.
    """
    jacobians = np.asarray(jacobians, dtype=np.float64)
    k = jacobians.shape[-1]
    leading = jacobians.shape[:-2]
    flat = np.ascontiguousarray(jacobians.reshape(-1, k, k))
    from gswarp.engine import core

    frames, shrinks = core.antialias_frames(flat, support, cap)
    return frames.reshape(*leading, -1), shrinks.reshape(leading)
