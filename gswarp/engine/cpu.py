"""CPU kernels (numba) over the per-point math of :mod:`gswarp.engine.pointwise`.

Every kernel fills the output rows ``start:stop`` (a *tile*) of the flattened
``(batch, depth, row)`` index, spreading the rows over numba's threads with ``prange``
(``numba.set_num_threads`` or ``NUMBA_NUM_THREADS`` choose how many), so a batch of small images
keeps every thread busy. The sampling kernels allocate nothing (``affine_grid`` builds two or
three base axes of the output's size), so a warp's temporary memory is O(1) beyond its output, and
the result depends neither on the tiling nor on the thread count.

Two sources of sampling coordinates:

* ``grid``: torch's normalized grid, un-normalized per point exactly as torch does;
* ``affine``: a float64 pixel-space matrix (:func:`gswarp.transforms.theta_to_pixel_matrix`); each
  output row starts from its float64 origin and every point is one fused multiply-add away.
  Each row finds, once, the span of columns whose neighbours all lie inside the input
  (:func:`gswarp.engine.pointwise.interior_columns`) and runs it through the mode's interior
  function -- the general path's arithmetic without padding, masks or tests -- and, with zeros
  padding, copies the first wholly-outside column's fill to the others: the same bits as the
  general path (``tests/test_interior.py``), 0.49-0.67x SimpleITK's time in 3-D.

(Measured here: the same loops compiled without ``parallel`` and run from a Python thread pool
over tiles compile ~30 % faster but ran ``grid_sample`` 3.5x slower, so the kernels use
``prange``.)

Kernels are compiled lazily, once per (source, dimensionality, mode) and per combination of array
dtypes, and cached on disk (``cache=True``); padding and ``align_corners`` are runtime arguments.
:func:`launch` types every array as strided (``'A'``) and read-only (except the output),
whatever the caller passes: numba would otherwise compile (~8 s each) a new specialization for
every mix of contiguous/strided and writable/read-only arguments. Contiguous arrays used to get
their own specialization; measured again with the row-interior kernels it was not faster
(2048² float32, 2 threads: ``grid_sample`` bilinear 20.3-20.8 ms strided against 23.0-24.9 ms
contiguous, ``affine_sample`` bilinear 14.6-15.1 against 12.9-14.0 ms, bicubic 2-4 % slower;
3-D affine 256³ trilinear 52.5 against 71.0 ms on an oblique map, 71.3 against 77.4 ms on a
rotation about z), and it doubled the kernels an installation compiles.

The callers in :mod:`gswarp.engine.api` validate every argument: these functions trust them.
numba keys the cache on this file's timestamp only: after editing ``pointwise.py`` during
development, delete ``gswarp/engine/__pycache__/*.nb*`` (``tools/clear_numba_cache.sh``).
"""

from __future__ import annotations

import threading
import warnings
from functools import cache

import numba
import numpy as np
from numba import njit, prange, types
from numba.core.errors import NumbaIRAssumptionWarning

from gswarp.engine import notices, threads
from gswarp.engine.pointwise import (
    INTERIOR_2D,
    INTERIOR_3D,
    affine_coord_2d,
    affine_coord_3d,
    base_coord,
    copy_point_2d,
    copy_point_3d,
    field_columns,
    field_row_2d,
    field_row_3d,
    finite_row_2d,
    finite_row_3d,
    flow_finish_2d,
    flow_finish_3d,
    flow_lookup_2d,
    flow_lookup_3d,
    has_fill_runs,
    has_interior,
    inside_columns,
    interior_columns,
    point_functions,
    row_coordinate,
)

__all__ = ["affine_grid_2d", "affine_grid_3d", "sampling_kernel"]

threads.apply_to_numba()  # a --jobs / set_num_threads count given before numba was loaded


@njit(cache=True, nogil=True)
def _base_axis(size, align_corners, ct):
    axis = np.empty(size, dtype=ct)
    for i in range(size):
        axis[i] = base_coord(i, size, align_corners, ct)
    return axis


_JIT = {"cache": True, "nogil": True, "parallel": True}

# One kernel per (source, dimensionality, mode), made by the factories below around the mode's
# point function. The point functions of nearest and (tri)linear are inlined into the loop at numba
# IR level, so the hot loop has no call and no mode test; the cubic ones are large and stay calls.
# numba keys its on-disk cache on the closure's contents too, so every kernel is cached apart.


def _grid_kernel_2d(point, unnormalize, interior, mode, windowed=False):
    @njit(**_JIT)
    def grid_sample_2d(inp, grid, out, padding, align_corners, fill, ct, start, stop):
        H = inp.shape[2]
        W = inp.shape[3]
        Ho = out.shape[2]
        Wo = out.shape[3]
        for job in prange(start, stop):
            n = job // Ho
            ho = job - n * Ho
            for wo in range(Wo):
                px = unnormalize(ct(grid[n, ho, wo, 0]), W, align_corners, ct)
                py = unnormalize(ct(grid[n, ho, wo, 1]), H, align_corners, ct)
                point(inp, n, px, py, out, ho, wo, padding, align_corners, fill, ct)

    return grid_sample_2d


def _grid_kernel_3d(point, unnormalize, interior, mode, windowed=False):
    @njit(**_JIT)
    def grid_sample_3d(inp, grid, out, padding, align_corners, fill, ct, start, stop):
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
            for wo in range(Wo):
                px = unnormalize(ct(grid[n, do, ho, wo, 0]), W, align_corners, ct)
                py = unnormalize(ct(grid[n, do, ho, wo, 1]), H, align_corners, ct)
                pz = unnormalize(ct(grid[n, do, ho, wo, 2]), D, align_corners, ct)
                point(inp, n, px, py, pz, out, do, ho, wo, padding, align_corners, fill, ct)

    return grid_sample_3d


def _affine_kernel_2d(point, unnormalize, interior, mode, windowed):
    @njit(**_JIT)
    def affine_sample_2d(
        inp, matrix, out, padding, align_corners, fill, ct, start, stop, origin, shift
    ):
        H = inp.shape[2]
        W = inp.shape[3]
        Ho = out.shape[2]
        Wo = out.shape[3]
        # windowed (a compile-time constant): the output is a part of a larger one, starting at
        # origin, and inp a window of a larger input, starting at shift (gswarp.engine.chunks)
        c0 = origin[0] if windowed else 0
        c1 = c0 + Wo
        r0 = origin[1] if windowed else 0
        fx = float(shift[0]) if windowed else 0.0
        fy = float(shift[1]) if windowed else 0.0
        x0 = ct(fx)
        y0 = ct(fy)
        inner = has_interior(mode, padding, align_corners)
        runs = has_fill_runs(mode, padding)
        for job in prange(start, stop):
            n = job // Ho
            ho = job - n * Ho
            m = matrix[n]
            row = ho + r0
            # float64 row origin; every point is one fused multiply-add away from it
            ox = m[0, 1] * row + m[0, 2]
            oy = m[1, 1] * row + m[1, 2]
            sx = m[0, 0]  # per-column steps, held in locals: the output's stores cannot alias them
            sy = m[1, 0]
            lo, hi = c0, c0
            if inner:
                lo, hi = interior_columns(sx, ox, W, mode, c1, c0, c1, ct, fx)
                lo, hi = interior_columns(sy, oy, H, mode, c1, lo, hi, ct, fy)
            for wa in range(lo, hi):  # whole-output columns; the coordinates shifted exactly
                px = row_coordinate(sx, wa, ox, ct)
                py = row_coordinate(sy, wa, oy, ct)
                if windowed:
                    px -= x0
                    py -= y0
                interior(inp, n, px, py, out, ho, wa - c0, ct)
            a, b = c0, c1  # columns outside [a, b) read only the fill (see has_fill_runs)
            if runs and finite_row_2d(sx, sy, ox, oy):
                a, b = inside_columns(sx, ox, W, c1, c0, c1, ct, fx)
                a, b = inside_columns(sy, oy, H, c1, a, b, ct, fy)
            first = -1  # the first such column computed; the others copy it
            for part in range(2):  # the columns before the interior, then those after it
                for wa in range(c0 if part == 0 else hi, lo if part == 0 else c1):
                    outside = wa < a or wa >= b
                    if outside and first >= 0:
                        copy_point_2d(out, n, ho, first - c0, wa - c0)
                        continue
                    px = row_coordinate(sx, wa, ox, ct)
                    py = row_coordinate(sy, wa, oy, ct)
                    if windowed:
                        px -= x0
                        py -= y0
                    point(inp, n, px, py, out, ho, wa - c0, padding, align_corners, fill, ct)
                    if outside:
                        first = wa

    return affine_sample_2d


def _affine_kernel_3d(point, unnormalize, interior, mode, windowed):
    @njit(**_JIT)
    def affine_sample_3d(
        inp, matrix, out, padding, align_corners, fill, ct, start, stop, origin, shift
    ):
        D = inp.shape[2]
        H = inp.shape[3]
        W = inp.shape[4]
        Do = out.shape[2]
        Ho = out.shape[3]
        Wo = out.shape[4]
        c0 = origin[0] if windowed else 0  # as in the 2-D kernel
        c1 = c0 + Wo
        r0 = origin[1] if windowed else 0
        s0 = origin[2] if windowed else 0
        fx = float(shift[0]) if windowed else 0.0
        fy = float(shift[1]) if windowed else 0.0
        fz = float(shift[2]) if windowed else 0.0
        x0 = ct(fx)
        y0 = ct(fy)
        z0 = ct(fz)
        inner = has_interior(mode, padding, align_corners)
        runs = has_fill_runs(mode, padding)
        for job in prange(start, stop):
            n = job // (Do * Ho)
            rest = job - n * (Do * Ho)
            do = rest // Ho
            ho = rest - do * Ho
            m = matrix[n]
            row = ho + r0
            plane = do + s0
            ox = m[0, 1] * row + m[0, 2] * plane + m[0, 3]
            oy = m[1, 1] * row + m[1, 2] * plane + m[1, 3]
            oz = m[2, 1] * row + m[2, 2] * plane + m[2, 3]
            sx = m[0, 0]  # per-column steps, held in locals: the output's stores cannot alias them
            sy = m[1, 0]
            sz = m[2, 0]
            lo, hi = c0, c0
            if inner:
                lo, hi = interior_columns(sx, ox, W, mode, c1, c0, c1, ct, fx)
                lo, hi = interior_columns(sy, oy, H, mode, c1, lo, hi, ct, fy)
                lo, hi = interior_columns(sz, oz, D, mode, c1, lo, hi, ct, fz)
            for wa in range(lo, hi):
                px = row_coordinate(sx, wa, ox, ct)
                py = row_coordinate(sy, wa, oy, ct)
                pz = row_coordinate(sz, wa, oz, ct)
                if windowed:
                    px -= x0
                    py -= y0
                    pz -= z0
                interior(inp, n, px, py, pz, out, do, ho, wa - c0, ct)
            a, b = c0, c1  # columns outside [a, b) read only the fill (see has_fill_runs)
            if runs and finite_row_3d(sx, sy, sz, ox, oy, oz):
                a, b = inside_columns(sx, ox, W, c1, c0, c1, ct, fx)
                a, b = inside_columns(sy, oy, H, c1, a, b, ct, fy)
                a, b = inside_columns(sz, oz, D, c1, a, b, ct, fz)
            first = -1  # the first such column computed; the others copy it
            for part in range(2):  # the columns before the interior, then those after it
                for wa in range(c0 if part == 0 else hi, lo if part == 0 else c1):
                    outside = wa < a or wa >= b
                    if outside and first >= 0:
                        copy_point_3d(out, n, do, ho, first - c0, wa - c0)
                        continue
                    px = row_coordinate(sx, wa, ox, ct)
                    py = row_coordinate(sy, wa, oy, ct)
                    pz = row_coordinate(sz, wa, oz, ct)
                    if windowed:
                        px -= x0
                        py -= y0
                        pz -= z0
                    point(
                        inp, n, px, py, pz, out, do, ho, wa - c0, padding, align_corners, fill, ct
                    )
                    if outside:
                        first = wa

    return affine_sample_3d


def _flow_kernel_2d(point, unnormalize, interior, mode, windowed=False):
    """Output pixel p -> q = A p -> field value f at B q -> r = q + f (or f) -> C r: the whole
    chain of one flow field between matrices, per point, with no coordinate buffer. ``maps`` is
    (3, 2, 3): A, B, C. ``direct``: A and B are identities and the field has the output's grid,
    so it is read at each pixel without interpolation. ``separable``: A and B are diagonal (see
    :func:`field_columns`)."""

    @njit(**_JIT)
    def flow_sample_2d(
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
        direct,
        separable,
        origin,
        shift,
    ):
        Ho = out.shape[2]
        Wo = out.shape[3]
        # windowed (compile-time): a part of a larger output from a window of the input, as in
        # the affine kernels: whole-output indices, the whole field, coordinates shifted last
        c0 = origin[0] if windowed else 0
        r0 = origin[1] if windowed else 0
        x0 = ct(float(shift[0]) if windowed else 0.0)
        y0 = ct(float(shift[1]) if windowed else 0.0)
        low, high, weight, frame = field_columns(maps, Wo if separable else 0, field.shape[1], c0)
        for job in prange(start, stop):
            n = job // Ho
            ho = job - n * Ho
            y = float(ho + r0)
            qy = maps[0, 1, 1] * y + maps[0, 1, 2]  # used when separable
            row = field_row_2d(field, maps[1, 1, 1] * qy + maps[1, 1, 2], separable)
            for wo in range(Wo):
                x = float(wo + c0)
                if separable:
                    qx = frame[wo]
                    i, j, wx = low[wo], high[wo], weight[wo]
                    u = (1.0 - wx) * row[i, 0] + wx * row[j, 0]
                    v = (1.0 - wx) * row[i, 1] + wx * row[j, 1]
                elif direct:
                    qx, qy = x, y
                    u, v = field[ho + r0, wo + c0, 0], field[ho + r0, wo + c0, 1]
                else:
                    qx, qy, u, v = flow_lookup_2d(field, maps, x, y)
                px, py = flow_finish_2d(maps, qx, qy, u, v, absolute)
                sx = ct(px)
                sy = ct(py)
                if windowed:
                    sx -= x0
                    sy -= y0
                point(inp, n, sx, sy, out, ho, wo, padding, align_corners, fill, ct)

    return flow_sample_2d


def _flow_kernel_3d(point, unnormalize, interior, mode, windowed=False):
    """The 3-D :func:`_flow_kernel_2d`: ``maps`` is (3, 3, 4)."""

    @njit(**_JIT)
    def flow_sample_3d(
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
        direct,
        separable,
        origin,
        shift,
    ):
        Do = out.shape[2]
        Ho = out.shape[3]
        Wo = out.shape[4]
        c0 = origin[0] if windowed else 0  # as in the 2-D kernel
        r0 = origin[1] if windowed else 0
        s0 = origin[2] if windowed else 0
        x0 = ct(float(shift[0]) if windowed else 0.0)
        y0 = ct(float(shift[1]) if windowed else 0.0)
        z0 = ct(float(shift[2]) if windowed else 0.0)
        low, high, weight, frame = field_columns(maps, Wo if separable else 0, field.shape[2], c0)
        for job in prange(start, stop):
            n = job // (Do * Ho)
            rest = job - n * (Do * Ho)
            do = rest // Ho
            ho = rest - do * Ho
            z = float(do + s0)
            y = float(ho + r0)
            qy = maps[0, 1, 1] * y + maps[0, 1, 3]  # used when separable
            qz = maps[0, 2, 2] * z + maps[0, 2, 3]
            fy = maps[1, 1, 1] * qy + maps[1, 1, 3]
            row = field_row_3d(field, fy, maps[1, 2, 2] * qz + maps[1, 2, 3], separable)
            for wo in range(Wo):
                x = float(wo + c0)
                if separable:
                    qx = frame[wo]
                    i, j, wx = low[wo], high[wo], weight[wo]
                    u = (1.0 - wx) * row[i, 0] + wx * row[j, 0]
                    v = (1.0 - wx) * row[i, 1] + wx * row[j, 1]
                    w = (1.0 - wx) * row[i, 2] + wx * row[j, 2]
                elif direct:
                    qx, qy, qz = x, y, z
                    u = field[do + s0, ho + r0, wo + c0, 0]
                    v = field[do + s0, ho + r0, wo + c0, 1]
                    w = field[do + s0, ho + r0, wo + c0, 2]
                else:
                    qx, qy, qz, u, v, w = flow_lookup_3d(field, maps, x, y, z)
                px, py, pz = flow_finish_3d(maps, qx, qy, qz, u, v, w, absolute)
                sx = ct(px)
                sy = ct(py)
                sz = ct(pz)
                if windowed:
                    sx -= x0
                    sy -= y0
                    sz -= z0
                point(
                    inp,
                    n,
                    sx,
                    sy,
                    sz,
                    out,
                    do,
                    ho,
                    wo,
                    padding,
                    align_corners,
                    fill,
                    ct,
                )

    return flow_sample_3d


_COMPILE_LOCK = threading.Lock()


def _general_type(value: object, writable: bool) -> types.Type:
    kind = numba.typeof(value)
    if isinstance(kind, types.Array):
        return types.Array(kind.dtype, kind.ndim, "A", readonly=not writable)
    return kind


def launch(kernel, *args, writable: int = 2) -> None:
    """Call ``kernel(*args)`` through its one specialization per dtype combination.

    ``args[writable]`` is the array the kernel writes; the others are typed read-only; all are
    typed strided, contiguous or not. The specialization is compiled (or loaded from the disk
    cache) on first use.
    """
    if not hasattr(kernel, "overloads"):  # NUMBA_DISABLE_JIT=1: a plain Python function
        kernel(*args)
        return
    signature = tuple(_general_type(a, i == writable) for i, a in enumerate(args))
    compiled = kernel.overloads.get(signature)
    if compiled is None:
        with _COMPILE_LOCK:
            _compile_with_notice(kernel, signature)
        compiled = kernel.overloads[signature]
    compiled.entry_point(*args)


def _compile_with_notice(kernel, signature: tuple) -> None:
    """``kernel.compile(signature)`` (a disk-cache load, or a compilation of seconds), calling
    :data:`gswarp.engine.notices.compile_notice` if it takes longer than the notice's delay."""
    notice = notices.compile_notice
    timer = None
    if notice is not None:
        timer = threading.Timer(notices.COMPILE_NOTICE_SECONDS, notice, args=(kernel.__name__,))
        timer.daemon = True
        timer.start()
    try:
        with warnings.catch_warnings():
            # numba's pedantic SSA check on IR-inlined helpers (harmless; the kernels' results
            # are tested): not for users to read on their first run
            warnings.simplefilter("ignore", NumbaIRAssumptionWarning)
            kernel.compile(signature)
    finally:
        if timer is not None:
            timer.cancel()


@cache
def sampling_kernel(source: str, spatial: int, mode: int, windowed: bool = False):
    """The parallel kernel for ``source`` ('grid', 'pixels', 'affine' or 'flow'), 2 or 3
    spatial dims, and ``mode``. 'pixels' is a grid of pixel coordinates (no un-normalization).

    Every kernel has the signature
    ``(inp, source_array, out, padding, align_corners, fill, ct, start, stop, *extra)``: it fills
    output rows ``start:stop``. ``source_array`` is the grid (any float dtype), or for 'affine'
    the float64 pixel-space matrices (N, 2, 3) / (N, 3, 4) mapping output pixel ``(x, y[, z],
    1)`` to input pixel coordinates. ``fill`` is the per-channel fill in ``ct`` -- or in the
    input dtype for nearest, which copies values without converting them. 'affine' kernels take
    ``extra = (origin, shift)`` (int64 ``(x, y[, z])``), which only the ``windowed`` variant
    reads: ``out`` is then the part of the whole output that starts at ``origin`` and ``inp`` the
    window of the whole input that starts at ``shift`` (:mod:`gswarp.engine.chunks`); the
    variant is a compile-time constant, so whole warps pay nothing for it (measured: 4-10 %
    when the shift was always applied). 'flow' kernels take the chain's arguments, then
    ``(origin, shift)`` likewise.
    """
    point, unnormalize = point_functions(source, spatial, mode)
    interior = (INTERIOR_2D if spatial == 2 else INTERIOR_3D)[mode]
    factories = {
        ("grid", 2): _grid_kernel_2d,
        ("grid", 3): _grid_kernel_3d,
        ("pixels", 2): _grid_kernel_2d,
        ("pixels", 3): _grid_kernel_3d,
        ("affine", 2): _affine_kernel_2d,
        ("affine", 3): _affine_kernel_3d,
        ("flow", 2): _flow_kernel_2d,
        ("flow", 3): _flow_kernel_3d,
    }
    return factories[source, spatial](point, unnormalize, interior, mode, windowed)


@njit(**_JIT)
def affine_grid_2d(theta, grid, align_corners, ct, start, stop):
    """Fill rows ``start:stop`` of ``grid`` (N, H, W, 2) with ``affine_grid(theta)``."""
    Ho = grid.shape[1]
    Wo = grid.shape[2]
    bx = _base_axis(Wo, align_corners, ct)
    by = _base_axis(Ho, align_corners, ct)
    for job in prange(start, stop):
        n = job // Ho
        ho = job - n * Ho
        y = by[ho]
        for wo in range(Wo):
            x = bx[wo]
            grid[n, ho, wo, 0] = affine_coord_2d(
                x, y, theta[n, 0, 0], theta[n, 0, 1], theta[n, 0, 2]
            )
            grid[n, ho, wo, 1] = affine_coord_2d(
                x, y, theta[n, 1, 0], theta[n, 1, 1], theta[n, 1, 2]
            )


@njit(**_JIT)
def affine_grid_3d(theta, grid, align_corners, ct, start, stop):
    """Fill rows ``start:stop`` of ``grid`` (N, D, H, W, 3) with ``affine_grid(theta)``."""
    Do = grid.shape[1]
    Ho = grid.shape[2]
    Wo = grid.shape[3]
    bx = _base_axis(Wo, align_corners, ct)
    by = _base_axis(Ho, align_corners, ct)
    bz = _base_axis(Do, align_corners, ct)
    for job in prange(start, stop):
        n = job // (Do * Ho)
        rest = job - n * (Do * Ho)
        do = rest // Ho
        ho = rest - do * Ho
        y = by[ho]
        z = bz[do]
        t = theta[n]
        for wo in range(Wo):
            x = bx[wo]
            for k in range(3):
                grid[n, do, ho, wo, k] = affine_coord_3d(
                    x, y, z, t[k, 0], t[k, 1], t[k, 2], t[k, 3]
                )
