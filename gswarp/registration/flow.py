"""The ``flow`` model of ``gswarp register``: a smooth displacement on a coarse lattice, on top of
an affine result.

A fixed physical point ``X`` samples the moving image at ``T(X + D(X))``: ``T`` the affine
result's pull matrix, ``D`` a displacement (physical units) interpolated from a lattice of
control points spaced ``spacing`` fixed voxels apart, by gswarp's bicubic (tricubic) resampling
with corners aligned (``affine_sample`` of the identity, ``align_corners=True``, border
padding). The cost is the metric plus ``smoothness * |cost at the level's start| * R``, with
``R`` the mean squared difference of neighbouring lattice displacements divided by their
distance (a dimensionless strain, scaled so the weight does not depend on the metric's units).

Gradients: the metric's gradient for the sampling grid is
:func:`gswarp.autodiff.grid_sample_backward`'s, carried to ``D`` through the moving grid's
un-normalization and ``T``'s linear part, and to the lattice by
:func:`gswarp.autodiff.affine_sample_backward` for its input -- the transpose of the lattice's
interpolation. This path stores the sampling grid (k values per fixed voxel of the level).
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

from gswarp.registration.core import (
    Image,
    Level,
    Result,
    _shrunk,
    default_shrinks,
    transform_points,
)
from gswarp.registration.metrics import Histogram, cost
from gswarp.registration.optimize import minimize


def lattice_shape(shape: tuple[int, ...], spacing: float) -> tuple[int, ...]:
    """Control points per axis (array order) for a grid of ``shape`` and a spacing in voxels."""
    return tuple(max(2, math.ceil((n - 1) / spacing) + 1) for n in shape)


def upsample(lattice: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """(k, *shape): the lattice's (k, *L) displacements interpolated onto a grid of ``shape``
    spanning the same extent, corner voxel centres on corner control points."""
    from gswarp.engine.api import affine_sample

    k = lattice.shape[0]
    theta = np.eye(len(shape), len(shape) + 1)[None]
    size = (1, k, *shape)
    return affine_sample(lattice[None], theta, size, "bicubic", "border", True)[0]


def _upsample_transpose(grad: np.ndarray, lattice: np.ndarray) -> np.ndarray:
    from gswarp.autodiff import affine_sample_backward

    theta = np.eye(grad.ndim - 1, grad.ndim)[None]
    grad_lattice, _ = affine_sample_backward(
        grad[None], lattice[None], theta, "bicubic", "border", True, needs=("input",)
    )
    return grad_lattice[0]


def register_flow(
    fixed: Image,
    moving: Image,
    start: Result,
    *,
    metric: str | None = None,
    mask: np.ndarray | None = None,
    shrinks: tuple[int, ...] | None = None,
    iterations: int = 100,
    bins: int = 32,
    spacing: float = 16.0,
    smoothness: float = 1.0,
    on_level: Callable[[Level], None] | None = None,
    on_iteration: Callable[[dict], None] | None = None,
) -> Result:
    """Refine ``start`` (an affine :func:`gswarp.registration.register` result) with a lattice
    displacement; returns a :class:`Result` whose ``flow`` holds the lattice (k, *L) in physical
    units (x, y[, z] components) and ``matrix`` the affine part."""
    metric = metric or start.metric
    k = fixed.spatial
    lattice = np.zeros((k, *lattice_shape(fixed.data.shape, spacing)))
    moving_data = moving.data.astype(np.float32)
    histogram = None
    if metric == "mi":
        histogram = Histogram.of(
            fixed.data if mask is None else fixed.data[mask], moving_data, bins
        )
    node_distance = _node_distance(fixed, lattice.shape[1:])
    result = Result(start.model, metric, start.matrix, start.parameters, start.cost, [])
    for index, shrink in enumerate(shrinks or default_shrinks(fixed.data.shape)):
        level_fixed, level_mask = _shrunk(fixed, shrink, mask)
        level_moving = _shrunk(Image(moving_data, moving.to_physical), shrink, None)[0]
        objective = _FlowObjective(
            metric, level_fixed, level_moving, level_mask, start.matrix, histogram, lattice.shape
        )
        first, _ = objective.metric_cost(lattice)
        objective.regularize(node_distance, smoothness * max(abs(first), 1e-12))
        lattice, value, trace = _minimize_level(
            objective, lattice, level_fixed.spacing, iterations, index, on_iteration
        )
        level = Level(
            shrink,
            level_fixed.data.shape,
            len(trace.costs),
            trace.evaluations,
            value,
            trace.stopped,
        )
        result.levels.append(level)
        if on_level is not None:
            on_level(level)
    result.flow = lattice
    result.cost = result.levels[-1].cost
    return result


def _minimize_level(
    objective, lattice: np.ndarray, scale, iterations: int, index: int, on_iteration
):
    """One pyramid level's optimization of the lattice (in units of the level's spacing
    ``scale``, so that one step size fits every axis); returns (lattice, cost, trace)."""

    def report(iteration, value, step):
        if on_iteration is not None:
            on_iteration({"level": index, "iteration": iteration, "cost": value, "step": step})

    u, value, trace = minimize(
        lambda u, gradient: objective(u * scale, scale, gradient),
        lattice.ravel() / scale,
        iterations=iterations,
        on_iteration=report,
    )
    return u.reshape(lattice.shape) * scale, value, trace


def _node_distance(fixed: Image, lattice: tuple[int, ...]) -> np.ndarray:
    """Physical distance between neighbouring control points, per array axis."""
    k = fixed.spatial
    voxel = np.linalg.norm(fixed.to_physical[:k, :k], axis=0)[::-1]  # per array axis
    shape = np.array(fixed.data.shape, dtype=np.float64)
    return voxel * (shape - 1) / (np.array(lattice, dtype=np.float64) - 1)


class _FlowObjective:
    """The flow model's cost on one level: the metric of the lattice's warp plus the weighted
    strain (:meth:`regularize` sets the weight once the level's starting cost is known)."""

    node_distance: np.ndarray
    weight: float = 0.0

    def regularize(self, node_distance: np.ndarray, weight: float) -> None:
        self.node_distance, self.weight = node_distance, weight

    def __init__(self, metric, fixed, moving, mask, pull, histogram, lattice_shape):
        k = fixed.spatial
        self.metric, self.fixed, self.mask, self.histogram = metric, fixed, mask, histogram
        self.moving_batch = np.ascontiguousarray(moving.data[None, None])
        to_moving = np.linalg.inv(moving.to_physical) @ pull
        self.sampling = (to_moving @ fixed.to_physical)[:k]  # fixed voxel -> moving voxel
        self.linear = to_moving[:k, :k]  # physical displacement -> moving voxels
        self.moving_size = np.array(moving.data.shape[::-1], dtype=np.float64)  # (x, y[, z])
        self.lattice_shape = lattice_shape
        self._last = None
        index = np.indices(fixed.data.shape, dtype=np.float64)[::-1]  # (x, y[, z]) planes
        self.base = transform_points(self.sampling, index)

    def _grid(self, dense: np.ndarray) -> np.ndarray:
        """(1, *shape, k) float32 normalized moving coordinates of fixed voxels displaced by
        ``dense`` (k, *shape) physical displacements."""
        k = dense.shape[0]
        pixels = self.base + np.einsum("ij,j...->i...", self.linear, dense)
        size = self.moving_size.reshape((k,) + (1,) * k)
        grid = (2 * pixels + 1) / size - 1
        return np.ascontiguousarray(np.moveaxis(grid, 0, -1)[None], dtype=np.float32)

    def metric_cost(self, lattice: np.ndarray):
        from gswarp.engine.api import grid_sample

        grid = self._grid(upsample(lattice, self.fixed.data.shape))
        warped = grid_sample(self.moving_batch, grid, fill=np.nan)[0, 0]
        value, grad_warped, _ = cost(
            self.metric, warped, self.fixed.data, self.mask, self.histogram
        )
        return value, (grid, grad_warped)

    def __call__(
        self, flat: np.ndarray, scale: float, gradient: bool = True
    ) -> tuple[float, np.ndarray | None]:
        """The cost of the lattice ``flat`` and, with ``gradient``, its gradient for the lattice
        in units of ``scale`` (the last call's forward pass is kept for that)."""
        from gswarp.autodiff import grid_sample_backward

        k = self.fixed.spatial
        lattice = flat.reshape(self.lattice_shape)
        if self._last is None or not np.array_equal(self._last[0], flat):
            value, state = self.metric_cost(lattice)
            strain, grad_strain = self._strain(lattice)
            self._last = (flat.copy(), value, state, strain, grad_strain)
        _, value, (grid, grad_warped), strain, grad_strain = self._last
        total = value + self.weight * strain
        if not gradient:
            return total, None
        _, grad_grid = grid_sample_backward(
            grad_warped[None, None], self.moving_batch, grid, needs=("grid",)
        )
        grad_pixels = np.moveaxis(grad_grid[0], -1, 0).astype(np.float64)
        grad_pixels *= (2 / self.moving_size).reshape((k,) + (1,) * k)
        grad_dense = np.einsum("ji,j...->i...", self.linear, grad_pixels)
        grad_lattice = _upsample_transpose(grad_dense, lattice)
        grad = grad_lattice + self.weight * grad_strain
        return total, grad.ravel() * scale

    def _strain(self, lattice: np.ndarray) -> tuple[float, np.ndarray]:
        """Mean squared difference of neighbouring control points over their distance, summed
        over the axes, and its gradient."""
        value = 0.0
        grad = np.zeros_like(lattice)
        for axis in range(1, lattice.ndim):
            difference = np.diff(lattice, axis=axis) / self.node_distance[axis - 1]
            count = difference.size
            value += float(np.sum(difference**2)) / count
            g = 2 * difference / (count * self.node_distance[axis - 1])
            pad_low = [(0, 0)] * lattice.ndim
            pad_high = [(0, 0)] * lattice.ndim
            pad_low[axis] = (1, 0)
            pad_high[axis] = (0, 1)
            grad += np.pad(g, pad_low) - np.pad(g, pad_high)
        return value, grad


def dense_pull(result: Result, fixed: Image, points: np.ndarray | None = None) -> np.ndarray:
    """(k, *fixed shape): the moving *physical* point each fixed voxel samples, ``T(X + D(X))``
    (affine and flow together); ``points``: ``fixed.points()`` if the caller has them."""
    points = fixed.points() if points is None else points
    if result.flow is not None:
        points = points + upsample(result.flow, fixed.data.shape)
    return transform_points(result.matrix, points)
