"""CPU kernels (numba) for antialiased sampling (:mod:`gswarp.engine.footprint`).

Two sources of sample centres, as for point sampling (:mod:`gswarp.engine.cpu`):

* ``affine``: float64 pixel-space matrices (N, k, k + 1) and one frame per batch item;
* ``pixels``: float64 pixel coordinates (N, *out_spatial, k) and one frame per point.

Points whose map does not shrink (``shrinks`` False) go through the mode's point-sampling
function with exactly the coordinates the point-sampled kernels compute, so they get the same
bytes as without antialiasing. Kernels are made per (source, dimensionality, mode) and cached on
disk; like :mod:`gswarp.engine.cpu`, they live in their own file so that numba's cache (keyed on
the file) of one family survives edits to the other.
"""

from __future__ import annotations

from functools import cache

import numpy as np
from numba import njit, prange

from gswarp.engine.footprint import footprint_2d, footprint_3d
from gswarp.engine.pointwise import point_functions, row_coordinate

__all__ = ["antialias_kernel"]

_JIT = {"cache": True, "nogil": True, "parallel": True}
_CHUNK = 64  # taps per row whose weights are computed before the per-channel dot products


def _affine_kernel_2d(point, unnormalize):
    @njit(**_JIT)
    def affine_antialias_2d(
        inp, matrix, out, padding, align_corners, fill, ct, start, stop, frames, shrinks
    ):
        Ho = out.shape[2]
        Wo = out.shape[3]
        for job in prange(start, stop):
            n = job // Ho
            ho = job - n * Ho
            m = matrix[n]
            ox = m[0, 1] * ho + m[0, 2]
            oy = m[1, 1] * ho + m[1, 2]
            sx = m[0, 0]
            sy = m[1, 0]
            if shrinks[n]:
                acc = np.empty(inp.shape[1], dtype=np.float64)
                wbuf = np.empty(_CHUNK, dtype=np.float64)
                fr = frames[n]
                for wo in range(Wo):
                    cx = sx * wo + ox
                    cy = sy * wo + oy
                    footprint_2d(
                        inp,
                        n,
                        cx,
                        cy,
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
                    )
            else:
                for wo in range(Wo):
                    px = row_coordinate(sx, wo, ox, ct)
                    py = row_coordinate(sy, wo, oy, ct)
                    point(inp, n, px, py, out, ho, wo, padding, align_corners, fill, ct)

    return affine_antialias_2d


def _affine_kernel_3d(point, unnormalize):
    @njit(**_JIT)
    def affine_antialias_3d(
        inp, matrix, out, padding, align_corners, fill, ct, start, stop, frames, shrinks
    ):
        Do = out.shape[2]
        Ho = out.shape[3]
        Wo = out.shape[4]
        for job in prange(start, stop):
            n = job // (Do * Ho)
            rest = job - n * (Do * Ho)
            do = rest // Ho
            ho = rest - do * Ho
            m = matrix[n]
            ox = m[0, 1] * ho + m[0, 2] * do + m[0, 3]
            oy = m[1, 1] * ho + m[1, 2] * do + m[1, 3]
            oz = m[2, 1] * ho + m[2, 2] * do + m[2, 3]
            sx = m[0, 0]
            sy = m[1, 0]
            sz = m[2, 0]
            if shrinks[n]:
                acc = np.empty(inp.shape[1], dtype=np.float64)
                wbuf = np.empty(_CHUNK, dtype=np.float64)
                fr = frames[n]
                for wo in range(Wo):
                    footprint_3d(
                        inp,
                        n,
                        sx * wo + ox,
                        sy * wo + oy,
                        sz * wo + oz,
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
            else:
                for wo in range(Wo):
                    px = row_coordinate(sx, wo, ox, ct)
                    py = row_coordinate(sy, wo, oy, ct)
                    pz = row_coordinate(sz, wo, oz, ct)
                    point(inp, n, px, py, pz, out, do, ho, wo, padding, align_corners, fill, ct)

    return affine_antialias_3d


def _pixels_kernel_2d(point, unnormalize):
    @njit(**_JIT)
    def pixels_antialias_2d(
        inp, coords, out, padding, align_corners, fill, ct, start, stop, frames, shrinks
    ):
        H = inp.shape[2]
        W = inp.shape[3]
        Ho = out.shape[2]
        Wo = out.shape[3]
        for job in prange(start, stop):
            n = job // Ho
            ho = job - n * Ho
            acc = np.empty(inp.shape[1], dtype=np.float64)
            wbuf = np.empty(_CHUNK, dtype=np.float64)
            for wo in range(Wo):
                if shrinks[n, ho, wo]:
                    cx = float(coords[n, ho, wo, 0])
                    cy = float(coords[n, ho, wo, 1])
                    fr = frames[n, ho, wo]
                    footprint_2d(
                        inp,
                        n,
                        cx,
                        cy,
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
                    )
                    continue
                px = unnormalize(ct(coords[n, ho, wo, 0]), W, align_corners, ct)
                py = unnormalize(ct(coords[n, ho, wo, 1]), H, align_corners, ct)
                point(inp, n, px, py, out, ho, wo, padding, align_corners, fill, ct)

    return pixels_antialias_2d


def _pixels_kernel_3d(point, unnormalize):
    @njit(**_JIT)
    def pixels_antialias_3d(
        inp, coords, out, padding, align_corners, fill, ct, start, stop, frames, shrinks
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
            acc = np.empty(inp.shape[1], dtype=np.float64)
            wbuf = np.empty(_CHUNK, dtype=np.float64)
            for wo in range(Wo):
                if shrinks[n, do, ho, wo]:
                    footprint_3d(
                        inp,
                        n,
                        float(coords[n, do, ho, wo, 0]),
                        float(coords[n, do, ho, wo, 1]),
                        float(coords[n, do, ho, wo, 2]),
                        frames[n, do, ho, wo],
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
                    continue
                px = unnormalize(ct(coords[n, do, ho, wo, 0]), W, align_corners, ct)
                py = unnormalize(ct(coords[n, do, ho, wo, 1]), H, align_corners, ct)
                pz = unnormalize(ct(coords[n, do, ho, wo, 2]), D, align_corners, ct)
                point(inp, n, px, py, pz, out, do, ho, wo, padding, align_corners, fill, ct)

    return pixels_antialias_3d


@cache
def antialias_kernel(source: str, spatial: int, mode: int):
    """The parallel antialiasing kernel for ``source`` ('affine' or 'pixels'), 2 or 3 spatial
    dims and the point-sampling ``mode`` of the points that do not shrink.

    Signature: ``(inp, source_array, out, padding, align_corners, fill, ct, start, stop, frames,
    shrinks)``; ``frames`` and ``shrinks`` are per batch item ('affine') or per output point
    ('pixels'), from :func:`gswarp.engine.antialias.footprint_frames`.
    """
    point, unnormalize = point_functions(source, spatial, mode)
    factories = {
        ("affine", 2): _affine_kernel_2d,
        ("affine", 3): _affine_kernel_3d,
        ("pixels", 2): _pixels_kernel_2d,
        ("pixels", 3): _pixels_kernel_3d,
    }
    return factories[source, spatial](point, unnormalize)
