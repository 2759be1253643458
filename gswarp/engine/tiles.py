"""Sampling through a chain of coordinate maps (affine matrices and flow fields), tile by tile.

A *chain* maps output pixel coordinates to input pixel coordinates through steps applied in
order (pixel centres at integers; the last axis of every coordinate array is ``(x, y[, z])``):

- :class:`MatrixStep`: ``p <- A p + b`` (a (k, k+1) matrix);
- :class:`FieldStep`: a dense field sampled at ``p`` (bilinear/trilinear, the field's edge values
  continued outside it): a displacement gives ``p <- p + d(p)``, absolute coordinates give
  ``p <- c(p)``. The field lives on its own grid, mapped from the step's frame by a matrix, so a
  coarse field is interpolated where it is needed and never becomes a full-resolution array.

:func:`sample_chain` runs a chain with at most one field as one fused kernel
(:func:`gswarp.engine.api.sample_field`: each output point goes through the whole chain, no
coordinate array at all); a longer chain is evaluated for one slab of output rows (2-D) or
slices (3-D) at a time into a small buffer, and the input sampled there: a warp's temporary
memory is O(tile) either way. NaN anywhere (a NaN in a field) makes that output point ``fill``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from gswarp.engine.api import sample_field, sample_pixels, sample_pixels_window, warp_affine
from gswarp.errors import SpecError
from gswarp.sampling import Filter, parse_mode, parse_padding

__all__ = [
    "FieldStep",
    "MatrixStep",
    "chain_coordinates",
    "filter_chain",
    "row_slabs",
    "sample_chain",
    "warp_flow",
]

TILE_POINTS = 1 << 18
"""Output points per tile (262,144: 4 MiB of float64 2-D coordinates)."""


@dataclass(frozen=True)
class MatrixStep:
    """``p <- matrix[:, :k] @ p + matrix[:, k]`` with ``matrix`` of shape (k, k + 1)."""

    matrix: np.ndarray


@dataclass(frozen=True)
class FieldStep:
    """A dense field of shape ``(*field_spatial, k)`` (last axis ``(x, y[, z])``), in pixels.

    ``to_field`` (k, k + 1) maps a point of the step's frame to the field's pixel coordinates;
    None means the field's grid *is* the frame's grid. ``absolute``: the field holds source
    coordinates instead of displacements.

    ``beyond``: what a displacement field gives past its grid. ``'edge'`` (gswarp's flows):
    its edge values continue. ``'identity'`` (ITK's ``DisplacementFieldTransform``, which
    ``sitk.Resample`` and antsApplyTransforms apply): within half a pixel of its outer pixel
    centres the edge values continue; further out the displacement is zero. Such a chain runs
    tile by tile (the fused kernels know only ``'edge'``).
    """

    field: np.ndarray
    to_field: np.ndarray | None = None
    absolute: bool = False
    beyond: str = "edge"


Step = MatrixStep | FieldStep


def _apply_matrix(matrix: np.ndarray, points: np.ndarray) -> np.ndarray:
    k = matrix.shape[0]
    return points @ matrix[:, :k].T + matrix[:, k]


def _field_at(
    step: FieldStep, points: np.ndarray, on_grid: slice | None, stats: dict | None = None
) -> np.ndarray:
    """The field's values at ``points`` (..., k); ``on_grid``: the points are the field's own
    pixel centres for these leading-axis indices (read directly, no interpolation).
    ``stats['outside']`` counts the points past a ``beyond='identity'`` field."""
    field = step.field
    if on_grid is not None:
        return field[on_grid]
    k = field.shape[-1]
    where = points if step.to_field is None else _apply_matrix(step.to_field, points)
    channels_first = np.moveaxis(field, -1, 0)[None]  # (1, k, *spatial) view
    values = sample_pixels(
        channels_first, where.reshape(1, *where.shape), "bilinear", "border", True
    )
    values = np.moveaxis(values[0], 0, -1).reshape(*points.shape[:-1], k)
    if step.beyond == "identity":
        extent = np.array(field.shape[:-1][::-1], dtype=np.float64)  # (x, y[, z]) sizes
        outside = np.any((where < -0.5) | (where >= extent - 0.5), axis=-1)
        values[outside] = 0.0
        if stats is not None:
            stats["outside"] = stats.get("outside", 0) + int(np.count_nonzero(outside))
    return values


def base_points(spatial: Sequence[int], start: int, stop: int) -> np.ndarray:
    """Pixel coordinates (x, y[, z]) of output rows/slices ``start:stop`` of the first axis."""
    axes = [np.arange(start, stop, dtype=np.float64)]
    axes += [np.arange(n, dtype=np.float64) for n in spatial[1:]]
    grids = np.meshgrid(*axes, indexing="ij")  # (first, ...) order: z/y first
    return np.stack(grids[::-1], axis=-1)  # last axis x, y[, z]


def chain_coordinates(
    steps: Sequence[Step],
    spatial: Sequence[int],
    start: int,
    stop: int,
    stats: dict | None = None,
) -> np.ndarray:
    """Input pixel coordinates of output rows (2-D) or slices (3-D) ``start:stop``.

    Returns
    -------
    ndarray, shape (stop - start, *spatial[1:], k), float64.
    """
    points = base_points(spatial, start, stop)
    return apply_chain(steps, points, spatial, slice(start, stop), stats)


def apply_chain(
    steps: Sequence[Step],
    points: np.ndarray,
    spatial: Sequence[int],
    grid_index,
    stats: dict | None = None,
) -> np.ndarray:
    """``steps`` applied to output pixel coordinates ``points`` (..., k), float64.

    ``spatial``: the whole output's spatial size; ``grid_index``: the index (a slice of rows, a
    box of slices) of ``points`` in the whole output's grid, by which a first field on that grid
    is read directly instead of interpolated.
    """
    on_grid = True  # still at the output's pixel centres (no step applied yet)
    for step in steps:
        if isinstance(step, MatrixStep):
            points = _apply_matrix(step.matrix, points)
            on_grid = False
            continue
        direct = on_grid and step.to_field is None and step.field.shape[:-1] == tuple(spatial)
        values = _field_at(step, points, grid_index if direct else None, stats)
        points = values.astype(np.float64) if step.absolute else points + values
        on_grid = False
    return points


def _compose(matrices: Sequence[np.ndarray], k: int) -> np.ndarray:
    """One (k, k+1) matrix for ``matrices`` applied in order."""
    result = np.eye(k + 1)
    for matrix in matrices:
        full = np.eye(k + 1)
        full[:k] = matrix
        result = full @ result
    return result[:k]


def fused_form(steps: Sequence[Step], k: int):
    """(before, field step, after) when the chain holds at most one field, else None."""
    fields = [i for i, step in enumerate(steps) if isinstance(step, FieldStep)]
    if len(fields) > 1:
        return None
    if not fields:
        return _compose([s.matrix for s in steps], k), None, None
    i = fields[0]
    if steps[i].beyond != "edge":
        return None  # the fused kernels continue a field's edge everywhere
    before = _compose([s.matrix for s in steps[:i]], k)
    after = _compose([s.matrix for s in steps[i + 1 :]], k)
    return before, steps[i], after


def sample_chain(
    input: np.ndarray,
    steps: Sequence[Step],
    size: Sequence[int],
    mode: str = "bilinear",
    padding_mode: str = "zeros",
    align_corners: bool = False,
    *,
    fill: float | Sequence[float] = 0.0,
    out: np.ndarray | None = None,
    tile_points: int = TILE_POINTS,
    fuse: bool = True,
    antialias: bool | str = False,
    stats: dict | None = None,
    filter: Filter | None = None,
    labels: bool = False,
) -> np.ndarray:
    """Sample ``input`` (N, C, *spatial) where ``steps`` send each output pixel, tile by tile.

    Parameters
    ----------
    input : ndarray, shape (N, C, H, W) or (N, C, D, H, W)
    steps : sequence of MatrixStep / FieldStep
        Applied in order to output pixel coordinates; the result are input pixel coordinates.
        The same chain serves every batch item.
    size : sequence of int
        Output size ``(N, C, *spatial)``.
    mode, padding_mode, align_corners, fill, out
        As in :func:`gswarp.sample_pixels`.
    tile_points : int
        Output points per tile of the buffered path; the result does not depend on it.
    fuse : bool
        Run chains with at most one field as one fused kernel (default). False forces the
        buffered path (for tests: both give the same result).
    antialias : bool or 'lanczos'
        Average each output pixel's footprint where the chain shrinks
        (:func:`gswarp.warp_affine`'s ``antialias``). A chain of matrices has one Jacobian; with
        fields, each point's comes from central differences of the chain's values at the
        neighbouring output pixels (fused, or one row/slice beyond each side of a tile).
    stats : dict, optional
        Receives ``'outside'``: the output points that fell past a ``beyond='identity'``
        field (counted once each, antialiasing's extra rows aside).
    filter : Filter, optional
        With ``mode`` 'bspline', 'sinc' or 'gaussian' (ITK's interpolators,
        :mod:`gswarp.engine.filters`): its order, window, radius, sigma (pixels) and alpha;
        default ``Filter(mode)``. ``labels`` then votes label by label.

    Returns
    -------
    ndarray of ``size``, the input's dtype.
    """
    parsed = parse_mode(mode, "mode")
    if parsed.is_filter:
        chosen = filter if filter is not None else Filter(parsed.label)
        if chosen.kind != parsed.label:
            raise SpecError(f"filter: a {chosen.kind!r} filter given for mode {parsed.label!r}")
        return filter_chain(
            input,
            steps,
            size,
            chosen,
            padding_mode,
            align_corners,
            fill=fill,
            out=out,
            labels=labels,
            stats=stats,
            tile_points=tile_points,
        )
    size = tuple(int(n) for n in size)
    k = len(size) - 2
    fused = fused_form(steps, k) if fuse else None
    if fused is not None:
        before, field, after = fused
        common = (mode, padding_mode, align_corners)
        if field is None:  # matrices only
            return warp_affine(
                input, before, size, *common, fill=fill, out=out, antialias=antialias
            )
        return sample_field(
            input,
            field.field,
            size,
            *common,
            before=before,
            to_field=field.to_field,
            after=after,
            absolute=field.absolute,
            fill=fill,
            out=out,
            antialias=antialias,
        )
    common = (mode, padding_mode, align_corners)
    return _sample_buffered(input, steps, size, common, fill, out, tile_points, antialias, stats)


def row_slabs(spatial: Sequence[int], tile_points: int) -> list[tuple[int, int]]:
    """``(start, stop)`` of the slabs of output rows (2-D) or slices (3-D) that hold at most
    ``tile_points`` points each (one row or slice at least): a buffered warp's tiles."""
    per_slab = int(np.prod(spatial[1:], dtype=np.int64)) if len(spatial) > 1 else 1
    slabs = max(1, tile_points // max(per_slab, 1))
    return [(start, min(start + slabs, spatial[0])) for start in range(0, spatial[0], slabs)]


def _sample_buffered(input, steps, size, common, fill, out, tile_points, antialias, stats):
    """:func:`sample_chain`'s buffered path: the chain's coordinates one slab of output rows
    (slices) at a time, the input sampled there."""
    if out is None:
        out = np.empty(size, dtype=input.dtype)
    spatial = size[2:]
    for start, stop in row_slabs(spatial, tile_points):
        # antialiasing: one row (slice) beyond each side too, for the Jacobians' differences
        low, high = (max(start - 1, 0), min(stop + 1, spatial[0])) if antialias else (start, stop)
        coords = _tile_coordinates(steps, spatial, (low, start, stop, high), stats)
        batch = np.broadcast_to(coords, (size[0], *coords.shape))
        window = out[:, :, start:stop]
        if antialias:
            sample_pixels_window(
                input, batch, start - low, *common, fill, window, window.shape, antialias
            )
        else:
            sample_pixels(input, batch, *common, fill=fill, out=window)
    return out


def filter_chain(
    input: np.ndarray,
    steps: Sequence[Step],
    size: Sequence[int],
    filter: Filter,
    padding_mode: str = "zeros",
    align_corners: bool = False,
    *,
    fill: float | Sequence[float] = 0.0,
    out: np.ndarray | None = None,
    labels: bool = False,
    stats: dict | None = None,
    tile_points: int = TILE_POINTS,
) -> np.ndarray:
    """:func:`sample_chain` with one of ITK's interpolators (:mod:`gswarp.engine.filters`;
    ``filter.kind`` 'linear' too: ITK's clamped linear weights, for the label vote of
    antsApplyTransforms' ``GenericLabel``): a chain of matrices as one matrix the kernel
    applies, others tile by tile."""
    from gswarp.engine.filters import filter_sample

    size = tuple(int(n) for n in size)
    spatial = size[2:]
    fused = fused_form(steps, len(spatial))
    matrix = fused[0] if fused is not None and fused[1] is None else None

    def coordinates(start: int, stop: int) -> np.ndarray:
        return chain_coordinates(steps, spatial, start, stop, stats)

    padding = int(parse_padding(padding_mode, "padding_mode"))
    return filter_sample(
        input,
        size,
        filter,
        padding,
        bool(align_corners),
        fill=fill,
        out=out,
        labels=labels,
        matrix=matrix,
        coordinates=coordinates,
        slabs=row_slabs(spatial, tile_points),
    )


def _tile_coordinates(steps, spatial, rows, stats):
    """Chain coordinates of rows (slices) ``low:high``, in one call (the margins antialiasing
    reads come with the tile, as without ``stats``); ``stats`` counts only the tile's own rows
    ``start:stop``: the margins' points (a row or slice each side) are taken off again."""
    low, start, stop, high = rows
    coords = chain_coordinates(steps, spatial, low, high, stats)
    if stats is not None and (low, high) != (start, stop):
        margins: dict = {}
        chain_coordinates(steps, spatial, low, start, margins)
        chain_coordinates(steps, spatial, stop, high, margins)
        stats["outside"] = stats.get("outside", 0) - margins.get("outside", 0)
    return coords


def warp_flow(
    input: np.ndarray,
    flow: np.ndarray,
    size: Sequence[int] | None = None,
    mode: str = "bilinear",
    padding_mode: str = "zeros",
    align_corners: bool = False,
    *,
    kind: str = "displacement",
    fill: float | Sequence[float] = 0.0,
    out: np.ndarray | None = None,
) -> np.ndarray:
    """Warp ``input`` by a dense flow field in pixels, in one fused pass.

    Parameters
    ----------
    input : ndarray, shape (N, C, H, W) or (N, C, D, H, W)
    flow : ndarray, shape (H_f, W_f, 2) or (D_f, H_f, W_f, 3)
        Last axis ``(x, y[, z])`` in input pixels: ``kind='displacement'`` samples the input at
        ``p + flow(p)``, ``kind='coordinates'`` at ``flow(p)``. The field spans the input's
        extent; a coarser one is interpolated (bilinear/trilinear, edges continued) at each
        point, never expanded in memory. NaN gives ``fill``.
    size : sequence of int, optional
        Output size ``(N, C, *spatial)``; default the input's. Another spatial size stretches the
        output grid over the input's extent (as ``affine_grid`` with an identity theta).
    mode, padding_mode, align_corners, fill, out
        As in :func:`gswarp.grid_sample`.

    Examples
    --------
    >>> image = np.arange(12.0).reshape(1, 1, 3, 4)
    >>> shift = np.broadcast_to([1.0, 0.0], (3, 4, 2))  # sample one pixel to the right
    >>> warp_flow(image, shift)[0, 0, 0].tolist()
    [1.0, 2.0, 3.0, 0.0]
    """
    from gswarp.transforms import resize_matrix

    input_spatial = tuple(input.shape[2:])
    size = tuple(input.shape) if size is None else tuple(int(n) for n in size)
    if kind not in ("displacement", "coordinates"):
        raise SpecError(f"kind: expected 'displacement' or 'coordinates', got {kind!r}")
    flow = np.asarray(flow, dtype=np.float64)
    steps: list[Step] = []
    if tuple(size[2:]) != input_spatial:
        steps.append(MatrixStep(resize_matrix(input_spatial, size[2:], align_corners)))
    to_field = None
    if flow.shape[:-1] != input_spatial:
        to_field = resize_matrix(flow.shape[:-1], input_spatial, align_corners)
    steps.append(FieldStep(flow, to_field, absolute=kind == "coordinates"))
    return sample_chain(input, steps, size, mode, padding_mode, align_corners, fill=fill, out=out)
