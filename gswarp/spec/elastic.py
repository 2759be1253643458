"""Random elastic deformations: smooth displacement fields built on a coarse lattice.

The model is albumentations' ``ElasticTransform`` with uniform noise (after Simard et al.,
2003): every pixel draws a displacement in ``U(-1, 1)`` per axis, the field is smoothed by a
Gaussian of standard deviation ``sigma`` pixels and multiplied by ``alpha``. Built that way the
field costs a full-resolution noise image and blur per axis; gswarp builds it on a lattice with
one point every ``grid`` pixels instead, with the noise amplitude chosen so that each
displacement has the same variance as in the full-resolution model (the lattice noise is
smoothed by ``sigma / grid`` lattice units, so ``sum(w**2)`` of the two discrete kernels
gives the ratio exactly). The warp interpolates the lattice (bilinear / trilinear) at each
output point, inside the fused flow kernel: no full-resolution field is ever stored.

Convention: the field is a displacement in input pixels, last axis ``(dx, dy[, dz])``, defined
on the frame of the transform's place in the spec (for a lone elastic transform, the input).
Lattice point ``i`` of an axis sits at pixel ``i * grid``; the lattice covers pixel ``n - 1``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

__all__ = ["default_grid", "elastic_field", "gaussian_kernel"]


def default_grid(sigma: float) -> int:
    """The lattice spacing used when a spec gives none: about half of ``sigma`` (>= 1), where
    linear interpolation of the smoothed field is within about 1 % of it."""
    return max(1, int(sigma / 2))


def gaussian_kernel(sigma: float) -> np.ndarray:
    """Normalized 1-D Gaussian weights, radius ``ceil(4 * sigma)`` (at least 1 tap).

    >>> round(float(gaussian_kernel(1.0).sum()), 12), len(gaussian_kernel(1.0))
    (1.0, 9)
    """
    radius = max(0, math.ceil(4 * sigma))
    if sigma <= 0 or radius == 0:
        return np.ones(1)
    taps = np.arange(-radius, radius + 1, dtype=np.float64)
    weights = np.exp(-0.5 * (taps / sigma) ** 2)
    return weights / weights.sum()


def _smooth(values: np.ndarray, kernel: np.ndarray) -> np.ndarray:
    """Separable convolution over every axis of ``values``, edges replicated."""
    radius = len(kernel) // 2
    if radius == 0:
        return values
    for axis in range(values.ndim):
        padded = np.moveaxis(values, axis, -1)
        padded = np.pad(padded, [(0, 0)] * (padded.ndim - 1) + [(radius, radius)], mode="edge")
        length = padded.shape[-1] - 2 * radius
        result = np.zeros((*padded.shape[:-1], length))
        for offset, weight in enumerate(kernel):
            result += weight * padded[..., offset : offset + length]
        values = np.moveaxis(result, -1, axis)
    return values


def lattice_shape(spatial: Sequence[int], grid: int) -> tuple[int, ...]:
    """Points per axis so that the last one sits at or beyond pixel ``n - 1``.

    >>> lattice_shape((100, 64), 8)
    (14, 9)
    """
    return tuple(math.ceil((n - 1) / grid) + 1 for n in spatial)


def elastic_field(
    spatial: Sequence[int], alpha: float, sigma: float, grid: int, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """The lattice field of an elastic deformation and its map from pixels.

    Parameters
    ----------
    spatial : (H, W) or (D, H, W)
        The frame the field deforms.
    alpha, sigma : float
        Strength and smoothness, in pixels (see the module docstring).
    grid : int
        Lattice spacing in pixels (>= 1; 1 is the full-resolution model itself).
    seed : int
        The noise: the same seed gives the same field, on any machine.

    Returns
    -------
    field : ndarray, shape (*lattice, k), float64
        Displacements in pixels at the lattice points, last axis ``(dx, dy[, dz])``.
    to_field : ndarray, shape (k, k + 1)
        Pixel ``(x, y[, z])`` -> lattice coordinates (divide by ``grid``).
    """
    k = len(spatial)
    shape = lattice_shape(spatial, grid)
    rng = np.random.Generator(np.random.PCG64(seed))
    lattice_kernel = gaussian_kernel(sigma / grid)
    amplitude = math.sqrt(
        (np.sum(gaussian_kernel(sigma) ** 2) / np.sum(lattice_kernel**2)) ** k
    )  # same displacement variance as uniform noise blurred at full resolution
    components = [
        _smooth(rng.uniform(-1.0, 1.0, size=shape), lattice_kernel) for _ in range(k)
    ]  # x, y[, z] in that order
    field = np.stack(components, axis=-1) * (alpha * amplitude)
    to_field = np.zeros((k, k + 1))
    to_field[:, :k] = np.eye(k) / grid
    return field, to_field
