"""``register``: find the transform that aligns a moving image to a fixed one.

Coordinates: each image comes with its voxel -> physical matrix (``to_physical``, (k+1)x(k+1),
voxel coordinates (x, y[, z]) with x along the last array axis; the identity for plain images,
so that their physical unit is the pixel; a NIfTI header's affine for volumes, in RAS mm). The
result is the *pull* matrix ``T`` of fixed physical points to moving physical points, which is
what the sampler needs: the moving image on the fixed grid is
``warp_affine(moving, inv(moving.to_physical) @ T @ fixed.to_physical)``.

Each pyramid level resamples both images with gswarp's own warps (halvings that average
2x2(x2) blocks; other factors antialiased, ``docs/engine.md``) and runs
:func:`optimize.minimize` on the model's parameters; the gradient of the metric for the
parameters comes from :func:`gswarp.autodiff.warp_affine_backward` (no grid is stored) and the
chain rule through the two grids' matrices.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from gswarp.errors import SpecError
from gswarp.registration.metrics import METRICS, Histogram, cost
from gswarp.registration.models import Model
from gswarp.registration.optimize import minimize, polish

MIN_LEVEL_SIDE = 16  # a pyramid level keeps at least this many voxels along every axis


@dataclass(frozen=True)
class Image:
    """A registration operand: voxels (spatial axes only, z y x order) and their placement."""

    data: np.ndarray
    to_physical: np.ndarray  # (k+1, k+1)
    name: str = ""  # the file it came from, for messages

    def label(self, role: str) -> str:
        """How messages name it: 'moving image m.nii', or 'the moving image' without a file."""
        return f"{role} image {self.name}" if self.name else f"the {role} image"

    @property
    def spatial(self) -> int:
        return self.data.ndim

    @property
    def spacing(self) -> float:
        """The mean voxel size (physical units)."""
        k = self.spatial
        return float(np.mean(np.linalg.norm(self.to_physical[:k, :k], axis=0)))

    def center(self) -> np.ndarray:
        """The physical position of the grid's centre."""
        k = self.spatial
        middle = (np.array(self.data.shape[::-1], dtype=np.float64) - 1) / 2
        return self.to_physical[:k, :k] @ middle + self.to_physical[:k, k]

    def points(self) -> np.ndarray:
        """(k, *shape) float64: the physical position (x, y[, z]) of every voxel."""
        index = np.indices(self.data.shape, dtype=np.float64)[::-1]  # (x, y[, z]) planes
        return transform_points(self.to_physical, index)

    def radius(self) -> float:
        """The root-mean-square distance of the grid's points from its centre (physical)."""
        k = self.spatial
        extents = np.array(self.data.shape[::-1], dtype=np.float64)
        axes = np.linalg.norm(self.to_physical[:k, :k], axis=0) * extents
        return float(np.sqrt(np.sum(axes**2) / 12))


def transform_points(matrix: np.ndarray, points: np.ndarray) -> np.ndarray:
    """``matrix`` ((k, k+1), or (k+1, k+1) homogeneous) applied to points stacked along the
    first axis, (k, *shape) -> (k, *shape)."""
    k = points.shape[0]
    moved = np.einsum("ij,j...->i...", matrix[:k, :k], points)
    moved += matrix[:k, k].reshape((k,) + (1,) * k)
    return moved


@dataclass
class Level:
    """One pyramid level's outcome."""

    shrink: int
    size: tuple[int, ...]
    iterations: int
    evaluations: int
    cost: float
    stopped: str


@dataclass
class Result:
    """What :func:`register` found."""

    model: Model
    metric: str
    matrix: np.ndarray  # (k+1, k+1): fixed physical point -> moving physical point
    parameters: np.ndarray
    cost: float
    levels: list[Level] = field(default_factory=list)
    flow: np.ndarray | None = None  # (k, *lattice): the flow model's displacements, physical

    def logged(self) -> dict:
        """The result as JSON-ready values (the --log's last line)."""
        return {
            "matrix": self.matrix.tolist(),
            "parameters": self.parameters.tolist(),
            "cost": float(self.cost),
            "lattice": None if self.flow is None else list(self.flow.shape[1:][::-1]),
        }

    def sampling_matrix(self, fixed: Image, moving: Image) -> np.ndarray:
        """(k, k+1): fixed voxel -> moving voxel (``warp_affine``'s matrix)."""
        k = fixed.spatial
        pull = np.linalg.inv(moving.to_physical) @ self.matrix @ fixed.to_physical
        return pull[:k]


def default_shrinks(shape: tuple[int, ...]) -> tuple[int, ...]:
    """Halving factors down to :data:`MIN_LEVEL_SIDE` voxels on the shortest side, at most 4
    levels: a 512 x 512 image gets (8, 4, 2, 1), a 64 x 64 one (4, 2, 1)."""
    shrinks = [1]
    while len(shrinks) < 4 and min(shape) // (shrinks[-1] * 2) >= MIN_LEVEL_SIDE * 2:
        shrinks.append(shrinks[-1] * 2)
    return tuple(reversed(shrinks))


def register(
    fixed: Image,
    moving: Image,
    model: str = "rigid",
    metric: str = "mse",
    *,
    mask: np.ndarray | None = None,
    shrinks: tuple[int, ...] | None = None,
    iterations: int = 100,
    bins: int = 32,
    init: str | np.ndarray = "geometry",
    on_level: Callable[[Level], None] | None = None,
    on_iteration: Callable[[dict], None] | None = None,
) -> Result:
    """Align ``moving`` to ``fixed``.

    Parameters
    ----------
    fixed, moving : Image
        Single-channel voxels (any real dtype; computed in float32) of the same dimensionality.
    model : 'translation', 'rigid', 'similarity' or 'affine' (:mod:`.models`)
    metric : 'mse', 'ncc' or 'mi' (:mod:`.metrics`)
    mask : bool ndarray of ``fixed.data``'s shape, optional
        The fixed voxels the metric counts.
    shrinks : per level, the factor by which both images are shrunk (coarse to fine); default
        :func:`default_shrinks` of the fixed image.
    iterations : the most optimizer iterations per level.
    bins : histogram bins of ``mi``.
    init : 'geometry' (the images' centres coincide), 'moments' (their intensity centroids
        coincide), 'none' (the identity of physical space), or a (k+1, k+1) pull matrix.
    on_level, on_iteration : progress callbacks (a :class:`Level`; a dict with level, iteration,
        cost, step).

    Returns
    -------
    Result
    """
    parsed = _check(fixed, moving, model, metric, mask, bins)
    k = fixed.spatial
    center = fixed.center()
    start = _initial(init, fixed, moving, mask, k)
    parameters = parsed.fit_parameters(start, center)
    shrinks = shrinks or default_shrinks(fixed.data.shape)
    moving_data = moving.data.astype(np.float32)
    histogram = (
        Histogram.of(_masked(fixed.data, mask), moving_data, bins) if metric == "mi" else None
    )
    result = Result(parsed, metric, parsed.matrix(parameters, center), parameters, np.inf)
    for index, shrink in enumerate(shrinks):
        level_fixed, level_mask = _shrunk(fixed, shrink, mask)
        level_moving = _shrunk(Image(moving_data, moving.to_physical), shrink, None)[0]
        scales = parsed.scales(fixed.radius(), level_fixed.spacing)
        objective = _Objective(
            parsed, metric, level_fixed, level_moving, level_mask, center, scales, histogram
        )

        def report(iteration, value, step, index=index):
            if on_iteration is not None:
                on_iteration({"level": index, "iteration": iteration, "cost": value, "step": step})

        u, value, trace = minimize(
            objective,
            parameters * scales,
            iterations=iterations,
            on_iteration=report,
        )
        if metric == "mi" and index == len(shrinks) - 1:
            # MI's cost jumps a little as points cross MOVING's edge, which stalls the line
            # search short of the optimum; gradient-only steps finish (measured on
            # bench_register's anatomical pair: max error 0.0153 -> 0.0110 mm, +0.36 s)
            u, value = polish(objective, u, trace, on_iteration=report)
        parameters = u / scales
        level = Level(
            shrink,
            level_fixed.data.shape,
            len(trace.costs),
            trace.evaluations,
            float(value),
            trace.stopped,
        )
        result.levels.append(level)
        if on_level is not None:
            on_level(level)
    result.parameters = parameters
    result.matrix = parsed.matrix(parameters, center)
    result.cost = result.levels[-1].cost
    return result


class _Objective:
    """The cost of scaled parameters ``u = p * scales`` on one level, and its gradient."""

    def __init__(self, model, metric, fixed, moving, mask, center, scales, histogram):
        self.model, self.metric, self.center = model, metric, center
        self.fixed, self.moving, self.mask = fixed, moving, mask
        self.scales, self.histogram = scales, histogram
        self.moving_batch = np.ascontiguousarray(moving.data[None, None])
        self._last = None
        self.to_moving_voxels = np.linalg.inv(moving.to_physical)
        self.size = (1, 1, *fixed.data.shape)

    def __call__(self, u: np.ndarray, gradient: bool = True) -> tuple[float, np.ndarray | None]:
        """The cost at ``u`` and, with ``gradient``, its gradient for ``u`` (the forward pass of
        the last call is kept, so asking for the gradient right after the cost samples once)."""
        from gswarp.autodiff import warp_affine_backward
        from gswarp.engine.api import warp_affine

        k = self.model.spatial
        p = u / self.scales
        if self._last is None or not np.array_equal(self._last[0], u):
            pull = self.model.matrix(p, self.center)
            sampling = (self.to_moving_voxels @ pull @ self.fixed.to_physical)[:k]
            warped = warp_affine(self.moving_batch, sampling, self.size, fill=np.nan)[0, 0]
            fixed = self.fixed.data
            value, grad_warped, _ = cost(self.metric, warped, fixed, self.mask, self.histogram)
            self._last = (u.copy(), value, grad_warped, sampling)
        _, value, grad_warped, sampling = self._last
        if not gradient:
            return value, None
        _, grad_sampling = warp_affine_backward(
            grad_warped[None, None], self.moving_batch, sampling, needs=("matrix",)
        )
        grad_full = np.zeros((k + 1, k + 1))
        grad_full[:k] = grad_sampling[0]
        # sampling = P @ pull @ Q: d cost / d pull = P^T G Q^T
        grad_pull = self.to_moving_voxels.T @ grad_full @ self.fixed.to_physical.T
        jacobian = self.model.jacobian(p, self.center)
        grad_p = np.einsum("pij,ij->p", jacobian, grad_pull)
        return value, grad_p / self.scales


def _check(fixed: Image, moving: Image, model: str, metric: str, mask, bins: int) -> Model:
    if fixed.spatial != moving.spatial or fixed.spatial not in (2, 3):
        raise SpecError(
            f"{fixed.label('fixed')} is {fixed.spatial}-D and {moving.label('moving')} "
            f"{moving.spatial}-D: register needs two 2-D images or two 3-D volumes"
        )
    if metric not in METRICS:
        raise SpecError(f"metric: expected one of {', '.join(METRICS)}, got {metric!r}")
    if bins < 4:
        raise SpecError(f"bins: expected at least 4, got {bins}")
    parsed = Model(model, fixed.spatial)
    for role, image in (("fixed", fixed), ("moving", moving)):
        label = image.label(role)
        if not np.isfinite(image.data).all():
            raise SpecError(f"{label} has NaN or infinite values: register needs finite ones")
        # each parameter needs points to pin it: at least 4 voxels along every axis for the
        # linear models, and some contrast
        if parsed.linear_count and min(image.data.shape) < 8:
            raise SpecError(
                f"{label} is {'x'.join(map(str, image.data.shape[::-1]))}: too small "
                f"for the {model} model (at least 8 voxels along every axis)"
            )
        if float(image.data.max()) == float(image.data.min()):
            raise SpecError(f"{label} is constant: there is nothing to align")
    if mask is not None:
        if mask.shape != fixed.data.shape:
            raise SpecError(
                f"the mask is {mask.shape[::-1]} voxels, the fixed image {fixed.data.shape[::-1]}: "
                "they must have the same grid"
            )
        if not mask.any():
            raise SpecError("the mask is empty: it selects no fixed voxel")
    return parsed


def _masked(data: np.ndarray, mask: np.ndarray | None) -> np.ndarray:
    return data if mask is None else data[mask]


def _initial(init, fixed: Image, moving: Image, mask, k: int) -> np.ndarray:
    """The starting pull matrix: a translation that lines up centres (or centroids)."""
    if isinstance(init, np.ndarray):
        return init
    start = np.eye(k + 1)
    if init == "geometry":
        start[:k, k] = moving.center() - fixed.center()
    elif init == "moments":
        start[:k, k] = _centroid(moving, None) - _centroid(fixed, mask)
    elif init != "none":
        raise SpecError(f"init: expected geometry, moments or none, got {init!r}")
    return start


def _centroid(image: Image, mask) -> np.ndarray:
    """The intensity-weighted centre (physical) of the image above its minimum."""
    k = image.spatial
    weights = image.data.astype(np.float64) - float(image.data.min())
    if mask is not None:
        weights = weights * mask
    total = weights.sum()
    voxel = np.array(
        [
            (weights.sum(axis=tuple(a for a in range(k) if a != axis)) * np.arange(n)).sum() / total
            for axis, n in enumerate(image.data.shape)
        ]
    )[::-1]  # (x, y[, z])
    return image.to_physical[:k, :k] @ voxel + image.to_physical[:k, k]


def _shrunk(image: Image, shrink: int, mask) -> tuple[Image, np.ndarray | None]:
    """``image`` (and ``mask``) on a grid ``shrink`` times coarser, with its voxel -> physical
    matrix: for powers of two, halvings, each sampling the previous level with gswarp's
    (tri)linear warp half-way between voxel centres, which averages each 2x2(x2) block exactly
    (a box filter, and a fast one); other factors, gswarp's antialiased resampling over the
    same extent."""
    data = image.data.astype(np.float32)
    weights = None if mask is None else mask.astype(np.float32)
    to_physical = image.to_physical
    if shrink & (shrink - 1) == 0:  # a power of two
        while shrink > 1 and min(data.shape) >= 2:
            data, frame = _halved(data)
            weights = None if weights is None else _halved(weights)[0]
            to_physical = to_physical @ frame
            shrink //= 2
    if shrink > 1:
        data, frame = _resampled(data, shrink)
        weights = None if weights is None else _resampled(weights, shrink)[0]
        to_physical = to_physical @ frame
    shrunk_mask = None
    if weights is not None:
        shrunk_mask = weights > 0.5
        if not shrunk_mask.any():
            shrunk_mask = weights > 0
    return Image(data, to_physical), shrunk_mask


def _halved(data: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(the 2x2(x2) block means of ``data``, coarse voxel -> fine voxel matrix)."""
    from gswarp.engine.api import warp_affine

    k = data.ndim
    size = tuple(n // 2 for n in data.shape)
    frame = np.eye(k + 1)
    frame[:k, :k] *= 2
    frame[:k, k] = 0.5
    coarse = warp_affine(data[None, None], frame[:k], (1, 1, *size))
    return coarse[0, 0], frame


def _resampled(data: np.ndarray, shrink: int) -> tuple[np.ndarray, np.ndarray]:
    """(``data`` averaged onto a grid ``shrink`` times coarser over the same extent by gswarp's
    antialiased warp, coarse voxel -> fine voxel matrix)."""
    from gswarp.engine.api import warp_affine
    from gswarp.transforms import resize_matrix

    k = data.ndim
    size = tuple(max(1, round(n / shrink)) for n in data.shape)
    matrix = resize_matrix(data.shape, size, False)
    batch = data[None, None]
    coarse = warp_affine(batch, matrix, (1, 1, *size), padding_mode="border", antialias=True)
    return coarse[0, 0], np.vstack([matrix, np.eye(k + 1)[k:]])
