"""CPU kernels (numba) for antialiased sampling (:mod:`gswarp.engine.footprint`).

Three sources of sample centres, as for point sampling (:mod:`gswarp.engine.cpu`):

* ``affine``: float64 pixel-space matrices (N, k, k + 1) and one frame per batch item, computed
  on the host (:func:`gswarp.engine.antialias.footprint_frames`);
* ``pixels``: float64 pixel coordinates (N, *spatial, k); each point's Jacobian is taken from its
  neighbours in the array by central differences (one-sided at the edges, as
  ``numpy.gradient``), and its frame computed in the kernel. The array may carry one row (2-D)
  or slice (3-D) beyond each side of the output's (``top``: the output's first in it), so a
  tile's points see the neighbours the whole output would give them;
* ``flow``: the fused chain of :func:`gswarp.engine.api.sample_field`, each point's Jacobian by
  the same central differences over the chain's values at the neighbouring output pixels (2-D:
  each task slides a three-row window down a block of rows; 3-D: the row and its four
  neighbour rows).

Points whose map does not shrink go through the mode's point-sampling function with exactly the
coordinates the point-sampled kernels compute, so they get the same bytes as without
antialiasing: per point in the 'pixels' and 'flow' kernels; for 'affine', whose maps shrink or not
per batch item, the caller point-samples the items that do not (the affine kernels skip them,
and have no mode: one compiled kernel serves bilinear and bicubic). Kernels are made per
(source, dimensionality, mode) and cached on disk; like :mod:`gswarp.engine.cpu`, they live in
their own file so that numba's cache (keyed on the file) of one family survives edits to the
other.
"""

from __future__ import annotations

from functools import cache

import numpy as np
from numba import njit, prange
from numba.core.extending import register_jitable

from gswarp.engine.footprint import (
    FRAME_2D,
    FRAME_3D,
    filtered_2d,
    filtered_3d,
    flow_point_2d,
    flow_point_3d,
    footprint_2d,
    footprint_3d,
    jacobian_2d,
    jacobian_3d,
)
from gswarp.engine.pointwise import (
    field_columns,
    field_row_2d,
    flow_finish_2d,
    point_functions,
)

__all__ = ["antialias_kernel"]

_JIT = {"cache": True, "nogil": True, "parallel": True}
_CHUNK = 64  # taps per row whose weights are computed before the per-channel dot products


@njit(**_JIT)
def _affine_antialias_2d(
    inp, matrix, out, padding, align_corners, fill, ct, start, stop, frames, shrinks
):
    Ho = out.shape[2]
    Wo = out.shape[3]
    for job in prange(start, stop):
        n = job // Ho
        if not shrinks[n]:
            continue  # point-sampled by the caller
        ho = job - n * Ho
        m = matrix[n]
        ox = m[0, 1] * ho + m[0, 2]
        oy = m[1, 1] * ho + m[1, 2]
        acc = np.empty(inp.shape[1], dtype=np.float64)
        wbuf = np.empty(_CHUNK, dtype=np.float64)
        fr = frames[n]
        for wo in range(Wo):
            cx = m[0, 0] * wo + ox
            cy = m[1, 0] * wo + oy
            footprint_2d(
                inp, n, cx, cy, fr, out, ho, wo, padding, align_corners, fill, acc, wbuf, ct
            )


@njit(**_JIT)
def _affine_antialias_3d(
    inp, matrix, out, padding, align_corners, fill, ct, start, stop, frames, shrinks
):
    Do = out.shape[2]
    Ho = out.shape[3]
    Wo = out.shape[4]
    for job in prange(start, stop):
        n = job // (Do * Ho)
        if not shrinks[n]:
            continue  # point-sampled by the caller
        rest = job - n * (Do * Ho)
        do = rest // Ho
        ho = rest - do * Ho
        m = matrix[n]
        ox = m[0, 1] * ho + m[0, 2] * do + m[0, 3]
        oy = m[1, 1] * ho + m[1, 2] * do + m[1, 3]
        oz = m[2, 1] * ho + m[2, 2] * do + m[2, 3]
        acc = np.empty(inp.shape[1], dtype=np.float64)
        wbuf = np.empty(_CHUNK, dtype=np.float64)
        fr = frames[n]
        for wo in range(Wo):
            cx = m[0, 0] * wo + ox
            cy = m[1, 0] * wo + oy
            cz = m[2, 0] * wo + oz
            footprint_3d(
                inp,
                n,
                cx,
                cy,
                cz,
                fr,
                out,
                do,
                ho,
                wo,
                padding,
                align_corners,
                fill,
                acc,
                wbuf,
                ct,
            )


def _pixels_kernel_2d(point, unnormalize):
    @njit(**_JIT)
    def pixels_antialias_2d(
        inp, coords, out, padding, align_corners, fill, ct, start, stop, top, support, cap
    ):
        H = inp.shape[2]
        W = inp.shape[3]
        Ho = out.shape[2]
        Wo = out.shape[3]
        for job in prange(start, stop):
            n = job // Ho
            ho = job - n * Ho
            r = ho + top  # the row of coords: a tile's coordinates carry a row beyond each side
            acc = np.empty(inp.shape[1], dtype=np.float64)
            wbuf = np.empty(_CHUNK, dtype=np.float64)
            fr = np.empty(FRAME_2D, dtype=np.float64)
            rows = coords[n]
            for wo in range(Wo):
                cx = float(rows[r, wo, 0])
                cy = float(rows[r, wo, 1])
                jac = jacobian_2d(rows, r, wo, cx, cy)
                if filtered_2d(
                    inp,
                    n,
                    cx,
                    cy,
                    jac,
                    support,
                    cap,
                    fr,
                    out,
                    ho,
                    wo,
                    padding,
                    align_corners,
                    fill,
                    acc,
                    wbuf,
                    ct,
                ):
                    continue
                px = unnormalize(ct(rows[r, wo, 0]), W, align_corners, ct)
                py = unnormalize(ct(rows[r, wo, 1]), H, align_corners, ct)
                point(inp, n, px, py, out, ho, wo, padding, align_corners, fill, ct)

    return pixels_antialias_2d


def _pixels_kernel_3d(point, unnormalize):
    @njit(**_JIT)
    def pixels_antialias_3d(
        inp, coords, out, padding, align_corners, fill, ct, start, stop, top, support, cap
    ):
        D = inp.shape[2]
        H = inp.shape[3]
        W = inp.shape[4]
        Do = out.shape[2]
        Ho = out.shape[3]
        Wo = out.shape[4]
        for job in prange(start, stop):
            n = job // (Do * Ho)
            rest = job - n * (Do * Ho)
            do = rest // Ho
            ho = rest - do * Ho
            s = do + top  # the slice of coords: a tile's carry one beyond each side
            acc = np.empty(inp.shape[1], dtype=np.float64)
            wbuf = np.empty(_CHUNK, dtype=np.float64)
            fr = np.empty(FRAME_3D, dtype=np.float64)
            jac = np.empty(9, dtype=np.float64)
            work = np.empty(18, dtype=np.float64)
            centre = np.empty(3, dtype=np.float64)
            grid = coords[n]
            for wo in range(Wo):
                for a in range(3):
                    centre[a] = float(grid[s, ho, wo, a])
                jacobian_3d(grid, s, ho, wo, centre, jac)
                if filtered_3d(
                    inp,
                    n,
                    centre,
                    jac,
                    support,
                    cap,
                    fr,
                    work,
                    out,
                    do,
                    ho,
                    wo,
                    padding,
                    align_corners,
                    fill,
                    acc,
                    wbuf,
                    ct,
                ):
                    continue
                px = unnormalize(ct(grid[s, ho, wo, 0]), W, align_corners, ct)
                py = unnormalize(ct(grid[s, ho, wo, 1]), H, align_corners, ct)
                pz = unnormalize(ct(grid[s, ho, wo, 2]), D, align_corners, ct)
                point(inp, n, px, py, pz, out, do, ho, wo, padding, align_corners, fill, ct)

    return pixels_antialias_3d


_BLOCK = 16  # output rows per task of the 2-D flow kernel: each reuses its neighbours' coordinates


@register_jitable
def _flow_row_2d(field, maps, absolute, y, row, separable, low, high, weight, frame):
    """The input coordinates of output row ``y`` through the flow chain, into ``row`` (W, 2).
    ``separable`` (no rotation or shear before the field): the field is interpolated along y
    once for the row, then along x through the per-column tables of
    :func:`gswarp.engine.pointwise.field_columns`, as the point-sampling flow kernel does."""
    if not separable:
        for wo in range(row.shape[0]):
            px, py = flow_point_2d(field, maps, absolute, float(wo), y)
            row[wo, 0] = px
            row[wo, 1] = py
        return
    qy = maps[0, 1, 1] * y + maps[0, 1, 2]
    line = field_row_2d(field, maps[1, 1, 1] * qy + maps[1, 1, 2], True)
    for wo in range(row.shape[0]):
        i, j, wx = low[wo], high[wo], weight[wo]
        u = (1.0 - wx) * line[i, 0] + wx * line[j, 0]
        v = (1.0 - wx) * line[i, 1] + wx * line[j, 1]
        px, py = flow_finish_2d(maps, frame[wo], qy, u, v, absolute)
        row[wo, 0] = px
        row[wo, 1] = py


def _flow_kernel_2d(point, unnormalize):
    @njit(**_JIT)
    def flow_antialias_2d(
        inp,
        field,
        out,
        padding,
        align_corners,
        fill,
        ct,
        start,
        stop,
        maps,
        absolute,
        separable,
        support,
        cap,
    ):
        Ho = out.shape[2]
        Wo = out.shape[3]
        low, high, weight, frame = field_columns(maps, Wo if separable else 0, field.shape[1], 0)
        tables = (separable, low, high, weight, frame)
        blocks = (stop - start + _BLOCK - 1) // _BLOCK
        for block in prange(blocks):
            acc = np.empty(inp.shape[1], dtype=np.float64)
            wbuf = np.empty(_CHUNK, dtype=np.float64)
            fr = np.empty(FRAME_2D, dtype=np.float64)
            rows = np.empty((3, Wo, 2), dtype=np.float64)  # output rows ho - 1, ho, ho + 1
            held = -2  # the output row rows[1] holds
            first = start + block * _BLOCK
            for job in range(first, min(first + _BLOCK, stop)):
                n = job // Ho
                ho = job - n * Ho
                if ho == held + 1:  # slide the window down one row
                    rows[0] = rows[1]
                    rows[1] = rows[2]
                    if ho + 1 < Ho:
                        _flow_row_2d(field, maps, absolute, float(ho + 1), rows[2], *tables)
                else:
                    for k in range(3):
                        if 0 <= ho - 1 + k < Ho:
                            _flow_row_2d(field, maps, absolute, float(ho - 1 + k), rows[k], *tables)
                held = ho
                # the window as a coordinate grid: rows[0] exists when ho > 0, rows[2] when
                # ho + 1 < Ho (_jacobian_2d reads rows 0..2 with r = 1 and their bounds)
                window = rows[(0 if ho > 0 else 1) : (3 if ho + 1 < Ho else 2)]
                r = 1 if ho > 0 else 0
                for wo in range(Wo):
                    cx = window[r, wo, 0]
                    cy = window[r, wo, 1]
                    jac = jacobian_2d(window, r, wo, cx, cy)
                    if filtered_2d(
                        inp,
                        n,
                        cx,
                        cy,
                        jac,
                        support,
                        cap,
                        fr,
                        out,
                        ho,
                        wo,
                        padding,
                        align_corners,
                        fill,
                        acc,
                        wbuf,
                        ct,
                    ):
                        continue
                    point(inp, n, ct(cx), ct(cy), out, ho, wo, padding, align_corners, fill, ct)

    return flow_antialias_2d


def _flow_kernel_3d(point, unnormalize):
    @njit(**_JIT)
    def flow_antialias_3d(
        inp,
        field,
        out,
        padding,
        align_corners,
        fill,
        ct,
        start,
        stop,
        maps,
        absolute,
        separable,
        support,
        cap,
    ):
        Do = out.shape[2]
        Ho = out.shape[3]
        Wo = out.shape[4]
        for job in prange(start, stop):
            n = job // (Do * Ho)
            rest = job - n * (Do * Ho)
            do = rest // Ho
            ho = rest - do * Ho
            acc = np.empty(inp.shape[1], dtype=np.float64)
            wbuf = np.empty(_CHUNK, dtype=np.float64)
            fr = np.empty(FRAME_3D, dtype=np.float64)
            jac = np.empty(9, dtype=np.float64)
            work = np.empty(18, dtype=np.float64)
            centre = np.empty(3, dtype=np.float64)
            # the 3 x 3 x Wo neighbourhood of the row (slices do - 1..do + 1, rows ho - 1..ho + 1);
            # only the cross (the row and its four neighbours) is computed and read
            s0 = max(do - 1, 0)
            s1 = min(do + 2, Do)
            r0 = max(ho - 1, 0)
            r1 = min(ho + 2, Ho)
            grid = np.empty((s1 - s0, r1 - r0, Wo, 3), dtype=np.float64)
            for s in range(s0, s1):
                for r in range(r0, r1):
                    if s != do and r != ho:
                        continue
                    for wo in range(Wo):
                        px, py, pz = flow_point_3d(
                            field, maps, absolute, float(wo), float(r), float(s)
                        )
                        grid[s - s0, r - r0, wo, 0] = px
                        grid[s - s0, r - r0, wo, 1] = py
                        grid[s - s0, r - r0, wo, 2] = pz
            for wo in range(Wo):
                for a in range(3):
                    centre[a] = grid[do - s0, ho - r0, wo, a]
                jacobian_3d(grid, do - s0, ho - r0, wo, centre, jac)
                if filtered_3d(
                    inp,
                    n,
                    centre,
                    jac,
                    support,
                    cap,
                    fr,
                    work,
                    out,
                    do,
                    ho,
                    wo,
                    padding,
                    align_corners,
                    fill,
                    acc,
                    wbuf,
                    ct,
                ):
                    continue
                point(
                    inp,
                    n,
                    ct(centre[0]),
                    ct(centre[1]),
                    ct(centre[2]),
                    out,
                    do,
                    ho,
                    wo,
                    padding,
                    align_corners,
                    fill,
                    ct,
                )

    return flow_antialias_3d


@cache
def antialias_kernel(source: str, spatial: int, mode: int):
    """The parallel antialiasing kernel for ``source`` ('affine', 'pixels' or 'flow'), 2 or 3
    spatial dims and the point-sampling ``mode`` of the points that do not shrink.

    Signatures: ``(inp, source_array, out, padding, align_corners, fill, ct, start, stop,
    *rest)`` with ``rest``: 'affine' ``(frames, shrinks)`` per batch item; 'pixels' ``(top,
    support, cap)``; 'flow' ``(maps, absolute, separable, support, cap)``. ``support``: the
    kernel's (1 tent, 2 cubic); ``cap``: the largest stretch (the input's largest side); 'flow'
    2-D uses ``separable`` as the point-sampling flow kernel does, 3-D ignores it.
    """
    if source == "affine":  # the filter's kernel is in the frames: one kernel for every mode
        return _affine_antialias_2d if spatial == 2 else _affine_antialias_3d
    point, unnormalize = point_functions(source, spatial, mode)
    factories = {
        ("pixels", 2): _pixels_kernel_2d,
        ("pixels", 3): _pixels_kernel_3d,
        ("flow", 2): _flow_kernel_2d,
        ("flow", 3): _flow_kernel_3d,
    }
    return factories[source, spatial](point, unnormalize)
