"""CUDA kernels (numba-cuda) over the per-point math of :mod:`gswarp.engine.pointwise`.

The same scalar functions the CPU kernels inline (coordinate un-normalization, padding,
nearest/bilinear/bicubic/tricubic weights and gathers, the flow field lookups) are compiled by
numba-cuda as device functions; only the loop differs. Each CUDA thread computes output points
``i, i + G, i + 2G, ...`` of the flattened ``(batch, [depth,] row, column)`` index (a
grid-stride loop with 64-bit indices, so no size limit), and writes every channel of its point.
Kernels are launched on CuPy's current stream.

Kernels are made once per (source, dimensionality, mode, compute dtype): the compute dtype is a
compile-time constant of the kernel rather than an argument. numba-cuda compiles each on first
use for the argument types it meets (array dtypes, layouts).

Results: NVVM contracts multiplies and adds into fused multiply-adds (as nvcc does by default,
and as torch's CUDA kernels are compiled), so GPU results equal the CPU engine's to rounding
(float64 within 1e-10, float32 within 2e-5 for bilinear), not bit for bit; nearest picks the same
pixels except where a coordinate lies within rounding of a pixel boundary.

Under ``NUMBA_ENABLE_CUDASIM=1`` the kernels run in numba's simulator on the CPU (slowly, for
small inputs): the tests check their logic against the CPU engine on machines without a GPU.
"""

from __future__ import annotations

import math
from functools import cache
from types import FunctionType

import numpy as np
from numba import cuda
from numba.core import types
from numba.core.extending import overload

from gswarp.engine import backward, footprint, pointwise
from gswarp.engine.device import is_device_array
from gswarp.engine.footprint import (
    FRAME_2D,
    FRAME_3D,
    derivative,
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
    affine_coord_2d,
    affine_coord_3d,
    base_coord,
    flow_finish_2d,
    flow_finish_3d,
    flow_lookup_2d,
    flow_lookup_3d,
    fma,
    point_functions,
    split_index_2d,
    split_index_3d,
)

__all__ = [
    "antialias_kernel",
    "launch_affine_grid",
    "launch_antialias",
    "launch_sampling",
    "sampling_kernel",
]


def _libdevice_form(function, double_name: str, single_name: str) -> None:
    """The CUDA form of one of pointwise's scalar functions: libdevice's ``double_name`` for
    float64 arguments, ``single_name`` for float32 (so float32 stays float32, as on the CPU)."""

    from numba.cuda import libdevice

    def chosen(*args):
        single = all(a == types.float32 for a in args)
        return getattr(libdevice, single_name if single else double_name)

    if function is pointwise.fmod:

        @overload(function, target="cuda")
        def binary(a, b):
            call = chosen(a, b)
            return lambda a, b: call(a, b)

        return

    @overload(function, target="cuda")
    def unary(x):
        call = chosen(x)
        return lambda x: call(x)


_libdevice_form(pointwise.floor, "floor", "floorf")
_libdevice_form(pointwise.rint, "rint", "rintf")
_libdevice_form(pointwise.trunc, "trunc", "truncf")
_libdevice_form(pointwise.fmod, "fmod", "fmodf")


@overload(pointwise.isfinite, target="cuda")
def _isfinite_cuda(x):
    return lambda x: math.isfinite(x)


def _device_form(function) -> None:
    @overload(function, target="cuda", strict=False)
    def implementation(*args, **kwargs):
        return function


def _helpers_to_copy(modules) -> list:
    """The CPU-inlined helpers and every function of ``modules`` that calls one of them,
    directly or through others (a ``register_jitable`` caller must call the copies)."""
    chosen = set(pointwise.CPU_INLINED)
    functions = [
        value
        for module in modules
        for value in vars(module).values()
        if isinstance(value, FunctionType) and value.__module__ == module.__name__
    ]
    grown = True
    while grown:
        grown = False
        for function in functions:
            if function in chosen:
                continue
            callees = (function.__globals__.get(name) for name in function.__code__.co_names)
            if any(callee in chosen for callee in callees if isinstance(callee, FunctionType)):
                chosen.add(function)
                grown = True
    return sorted(chosen, key=lambda f: (f.__module__, f.__qualname__))


def _cuda_copies(functions) -> dict:
    """``{function: copy}``: a copy of each function with the same code, whose globals name the
    other copies, so the CUDA kernels call helpers of their own.

    Why copies: numba-cuda's IR inlining pass (``InlineOverloads``) picks any overload template
    of a called function that holds inlining information for the argument types, whatever its
    target. The CPU's ``inline="always"`` templates (:func:`gswarp.engine.pointwise.cpu_inlined`)
    hold it once a CPU kernel has been *compiled* (not loaded from the cache) in the process, and
    the CUDA compile then inlined CPU-typed IR and failed ("No implementation of function
    sub(omitted, omitted)"): a process that warped on the CPU and then on the GPU with a cold
    kernel cache could not compile its GPU kernels. The copies have no CPU template at all.
    """
    copies: dict = {}
    namespaces: dict = {}  # one copy of each module's globals
    for function in functions:
        module_globals = function.__globals__
        namespace = namespaces.setdefault(id(module_globals), dict(module_globals))
        copy = FunctionType(
            function.__code__,
            namespace,
            function.__name__,
            function.__defaults__,
            function.__closure__,
        )
        copy.__qualname__ = function.__qualname__
        copy.__doc__ = function.__doc__
        copy.__module__ = function.__module__
        copies[function] = copy
    for namespace in namespaces.values():
        for name, value in namespace.items():
            if isinstance(value, FunctionType) and value in copies:
                namespace[name] = copies[value]
    return copies


def _atomic_form(function) -> None:
    """The GPU form of backward's ``accumulate_2d``/``_3d``: an atomic add (threads of many
    output points may scatter into the same input pixel, as torch's CUDA kernel does)."""
    spatial = function.__code__.co_argcount - 6

    @overload(function, target="cuda", strict=False)
    def implementation(*args):
        if spatial == 2:
            return lambda a, n, c, y, x, v, lo, hi: cuda.atomic.add(a, (n, c, y, x), v)
        return lambda a, n, c, z, y, x, v, lo, hi: cuda.atomic.add(a, (n, c, z, y, x), v)


_ATOMIC = (backward.accumulate_2d, backward.accumulate_3d)
_CUDA_COPIES = _cuda_copies(_helpers_to_copy((pointwise, footprint, backward)))
for _original, _copy in _CUDA_COPIES.items():
    (_atomic_form if _original in _ATOMIC else _device_form)(_copy)
# the helpers this module's kernels call by name are the copies too
globals().update(
    {
        name: _CUDA_COPIES[value]
        for name, value in list(globals().items())
        if isinstance(value, FunctionType) and value in _CUDA_COPIES
    }
)


def _cuda_copy(function):
    """The CUDA copy of one of the copied helpers (the function itself if it has none)."""
    return _CUDA_COPIES.get(function, function)


def _cuda_point_functions(source: str, spatial: int, mode: int):
    """:func:`gswarp.engine.pointwise.point_functions`, as the CUDA copies."""
    return tuple(_CUDA_COPIES.get(f, f) for f in point_functions(source, spatial, mode))


THREADS = 256
"""Threads per block (the simulator runs one Python thread per CUDA thread: it uses 32)."""

_MAX_BLOCKS = 1 << 16  # grid-stride beyond this: enough blocks to fill any current GPU


def _simulated() -> bool:
    from numba import config

    return bool(config.ENABLE_CUDASIM)


def _jit(function):
    return cuda.jit(function) if _simulated() else cuda.jit(cache=True)(function)


def _grid_2d(point, unnormalize, ct):
    def grid_sample_2d(inp, grid, out, padding, align_corners, fill, total):
        H = inp.shape[2]
        W = inp.shape[3]
        i = np.int64(cuda.grid(1))
        step = np.int64(cuda.gridsize(1))
        while i < total:
            n, ho, wo = split_index_2d(i, out.shape[2], out.shape[3])
            px = unnormalize(ct(grid[n, ho, wo, 0]), W, align_corners, ct)
            py = unnormalize(ct(grid[n, ho, wo, 1]), H, align_corners, ct)
            point(inp, n, px, py, out, ho, wo, padding, align_corners, fill, ct)
            i += step

    return _jit(grid_sample_2d)


def _grid_3d(point, unnormalize, ct):
    def grid_sample_3d(inp, grid, out, padding, align_corners, fill, total):
        D = inp.shape[2]
        H = inp.shape[3]
        W = inp.shape[4]
        i = np.int64(cuda.grid(1))
        step = np.int64(cuda.gridsize(1))
        while i < total:
            n, do, ho, wo = split_index_3d(i, out.shape[2], out.shape[3], out.shape[4])
            px = unnormalize(ct(grid[n, do, ho, wo, 0]), W, align_corners, ct)
            py = unnormalize(ct(grid[n, do, ho, wo, 1]), H, align_corners, ct)
            pz = unnormalize(ct(grid[n, do, ho, wo, 2]), D, align_corners, ct)
            point(inp, n, px, py, pz, out, do, ho, wo, padding, align_corners, fill, ct)
            i += step

    return _jit(grid_sample_3d)


def _affine_2d(point, unnormalize, ct):
    def affine_sample_2d(inp, matrix, out, padding, align_corners, fill, origin, shift, total):
        i = np.int64(cuda.grid(1))
        step = np.int64(cuda.gridsize(1))
        x0 = ct(shift[0])  # a window of a larger input and a part of a larger output: the
        y0 = ct(shift[1])  # coordinates come from whole-output indices, then shift exactly
        while i < total:
            n, ho, wo = split_index_2d(i, out.shape[2], out.shape[3])
            row = ho + origin[1]
            column = np.float64(wo + origin[0])
            # the CPU kernel's arithmetic: a float64 row origin, one fused multiply-add per axis
            ox = matrix[n, 0, 1] * row + matrix[n, 0, 2]
            oy = matrix[n, 1, 1] * row + matrix[n, 1, 2]
            px = ct(fma(matrix[n, 0, 0], column, ox)) - x0
            py = ct(fma(matrix[n, 1, 0], column, oy)) - y0
            point(inp, n, px, py, out, ho, wo, padding, align_corners, fill, ct)
            i += step

    return _jit(affine_sample_2d)


def _affine_3d(point, unnormalize, ct):
    def affine_sample_3d(inp, matrix, out, padding, align_corners, fill, origin, shift, total):
        i = np.int64(cuda.grid(1))
        step = np.int64(cuda.gridsize(1))
        x0 = ct(shift[0])
        y0 = ct(shift[1])
        z0 = ct(shift[2])
        while i < total:
            n, do, ho, wo = split_index_3d(i, out.shape[2], out.shape[3], out.shape[4])
            row = ho + origin[1]
            plane = do + origin[2]
            column = np.float64(wo + origin[0])
            ox = matrix[n, 0, 1] * row + matrix[n, 0, 2] * plane + matrix[n, 0, 3]
            oy = matrix[n, 1, 1] * row + matrix[n, 1, 2] * plane + matrix[n, 1, 3]
            oz = matrix[n, 2, 1] * row + matrix[n, 2, 2] * plane + matrix[n, 2, 3]
            px = ct(fma(matrix[n, 0, 0], column, ox)) - x0
            py = ct(fma(matrix[n, 1, 0], column, oy)) - y0
            pz = ct(fma(matrix[n, 2, 0], column, oz)) - z0
            point(inp, n, px, py, pz, out, do, ho, wo, padding, align_corners, fill, ct)
            i += step

    return _jit(affine_sample_3d)


def _flow_2d(point, unnormalize, ct):
    def flow_sample_2d(
        inp, field, out, padding, align_corners, fill, maps, absolute, direct, total
    ):
        i = np.int64(cuda.grid(1))
        step = np.int64(cuda.gridsize(1))
        while i < total:
            n, ho, wo = split_index_2d(i, out.shape[2], out.shape[3])
            x = float(wo)
            y = float(ho)
            if direct:
                qx, qy = x, y
                u, v = field[ho, wo, 0], field[ho, wo, 1]
            else:
                qx, qy, u, v = flow_lookup_2d(field, maps, x, y)
            px, py = flow_finish_2d(maps, qx, qy, u, v, absolute)
            point(inp, n, ct(px), ct(py), out, ho, wo, padding, align_corners, fill, ct)
            i += step

    return _jit(flow_sample_2d)


def _flow_3d(point, unnormalize, ct):
    def flow_sample_3d(
        inp, field, out, padding, align_corners, fill, maps, absolute, direct, total
    ):
        i = np.int64(cuda.grid(1))
        step = np.int64(cuda.gridsize(1))
        while i < total:
            n, do, ho, wo = split_index_3d(i, out.shape[2], out.shape[3], out.shape[4])
            x = float(wo)
            y = float(ho)
            z = float(do)
            if direct:
                qx, qy, qz = x, y, z
                u, v, w = field[do, ho, wo, 0], field[do, ho, wo, 1], field[do, ho, wo, 2]
            else:
                qx, qy, qz, u, v, w = flow_lookup_3d(field, maps, x, y, z)
            px, py, pz = flow_finish_3d(maps, qx, qy, qz, u, v, w, absolute)
            point(inp, n, ct(px), ct(py), ct(pz), out, do, ho, wo, padding, align_corners, fill, ct)
            i += step

    return _jit(flow_sample_3d)


_FACTORIES = {
    ("grid", 2): _grid_2d,
    ("grid", 3): _grid_3d,
    ("pixels", 2): _grid_2d,
    ("pixels", 3): _grid_3d,
    ("affine", 2): _affine_2d,
    ("affine", 3): _affine_3d,
    ("flow", 2): _flow_2d,
    ("flow", 3): _flow_3d,
}


@cache
def sampling_kernel(source: str, spatial: int, mode: int, compute: str):
    """The CUDA kernel for ``source`` ('grid', 'pixels', 'affine', 'flow'), 2 or 3 spatial
    dims, ``mode`` and compute dtype name ('float32' / 'float64').

    Signature ``(inp, source_array, out, padding, align_corners, fill, [maps, absolute,
    direct,] total)``; ``total`` is the number of output points (int64).
    """
    point, unnormalize = _cuda_point_functions(source, spatial, mode)
    ct = np.float32 if compute == "float32" else np.float64
    return _FACTORIES[source, spatial](point, unnormalize, ct)


def _launch_shape(total: int) -> tuple[int, int]:
    threads = 32 if _simulated() else THREADS
    blocks = max(1, min(-(-total // threads), _MAX_BLOCKS))
    return blocks, threads


def _launch(kernel, blocks: int, threads: int, args: tuple, device: bool) -> None:
    """``kernel`` over ``args``: CuPy arrays on CuPy's current stream (with the small NumPy
    arguments copied over, :mod:`gswarp.engine.cuda_launch`), NumPy arrays through numba's
    transfers on its default stream."""
    if device:
        from gswarp.engine.cuda_launch import launch

        launch(kernel, blocks, threads, args)
    else:
        kernel[blocks, threads, 0](*args)


def launch_sampling(source, mode, ct, inp, array, out, padding, align_corners, fill, extra=()):
    """Run the sampling kernel over every point of ``out`` (N, C, *spatial)."""
    kernel = sampling_kernel(source, inp.ndim - 2, int(mode), np.dtype(ct).name)
    _launch_points(kernel, inp, array, out, (int(padding), bool(align_corners), fill, *extra))


def _plain(array: np.ndarray) -> np.ndarray:
    """``array`` as numba's transfers take it: C-contiguous and writable (the simulator copies
    every argument back, read-only views such as broadcasts included)."""
    return np.require(array, requirements=("C", "W"))


def _launch_points(kernel, inp, array, out, rest: tuple) -> None:
    """``kernel(inp, array, out, *rest, total)`` over every point of ``out`` (N, C, *spatial)."""
    total = int(out.shape[0]) * math.prod(int(s) for s in out.shape[2:])
    device = is_device_array(inp)
    target = out
    if not device:  # NumPy arrays: numba copies them over (and back), only contiguous ones
        inp, array = _plain(inp), _plain(array)
        rest = tuple(_plain(a) if isinstance(a, np.ndarray) else a for a in rest)
        if not out.flags.c_contiguous:
            target = np.empty(out.shape, out.dtype)
    args = (inp, array, target, *rest, np.int64(total))
    blocks, threads = _launch_shape(total)
    _launch(kernel, blocks, threads, args, device)
    if target is not out:
        out[...] = target


# --------------------------------------------------------------------------------------------
# antialiased sampling (gswarp.engine.footprint): per-thread scratch is a local array of fixed
# size, so channels go through in groups of ANTIALIAS_CHANNELS (one launch per group)

ANTIALIAS_CHANNELS = 8
_TAP_CHUNK = 32  # taps per row weighed before the sums (and the 2-D coverage's polygon scratch)


def _affine_antialias_2d(point, unnormalize, ct):
    def affine_antialias_2d(inp, matrix, out, padding, align_corners, fill, frames, shrinks, total):
        acc = cuda.local.array(ANTIALIAS_CHANNELS, np.float64)
        wbuf = cuda.local.array(_TAP_CHUNK, np.float64)
        i = np.int64(cuda.grid(1))
        step = np.int64(cuda.gridsize(1))
        while i < total:
            n, ho, wo = split_index_2d(i, out.shape[2], out.shape[3])
            ox = matrix[n, 0, 1] * ho + matrix[n, 0, 2]
            oy = matrix[n, 1, 1] * ho + matrix[n, 1, 2]
            if shrinks[n]:
                cx = matrix[n, 0, 0] * wo + ox
                cy = matrix[n, 1, 0] * wo + oy
                footprint_2d(
                    inp,
                    n,
                    cx,
                    cy,
                    frames[n],
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
                px = ct(fma(matrix[n, 0, 0], np.float64(wo), ox))
                py = ct(fma(matrix[n, 1, 0], np.float64(wo), oy))
                point(inp, n, px, py, out, ho, wo, padding, align_corners, fill, ct)
            i += step

    return _jit(affine_antialias_2d)


def _affine_antialias_3d(point, unnormalize, ct):
    def affine_antialias_3d(inp, matrix, out, padding, align_corners, fill, frames, shrinks, total):
        acc = cuda.local.array(ANTIALIAS_CHANNELS, np.float64)
        wbuf = cuda.local.array(_TAP_CHUNK, np.float64)
        i = np.int64(cuda.grid(1))
        step = np.int64(cuda.gridsize(1))
        while i < total:
            n, do, ho, wo = split_index_3d(i, out.shape[2], out.shape[3], out.shape[4])
            ox = matrix[n, 0, 1] * ho + matrix[n, 0, 2] * do + matrix[n, 0, 3]
            oy = matrix[n, 1, 1] * ho + matrix[n, 1, 2] * do + matrix[n, 1, 3]
            oz = matrix[n, 2, 1] * ho + matrix[n, 2, 2] * do + matrix[n, 2, 3]
            if shrinks[n]:
                cx = matrix[n, 0, 0] * wo + ox
                cy = matrix[n, 1, 0] * wo + oy
                cz = matrix[n, 2, 0] * wo + oz
                footprint_3d(
                    inp,
                    n,
                    cx,
                    cy,
                    cz,
                    frames[n],
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
                px = ct(fma(matrix[n, 0, 0], np.float64(wo), ox))
                py = ct(fma(matrix[n, 1, 0], np.float64(wo), oy))
                pz = ct(fma(matrix[n, 2, 0], np.float64(wo), oz))
                point(inp, n, px, py, pz, out, do, ho, wo, padding, align_corners, fill, ct)
            i += step

    return _jit(affine_antialias_3d)


def _pixels_antialias_2d(point, unnormalize, ct):
    def pixels_antialias_2d(
        inp, coords, out, padding, align_corners, fill, top, support, cap, total
    ):
        acc = cuda.local.array(ANTIALIAS_CHANNELS, np.float64)
        wbuf = cuda.local.array(_TAP_CHUNK, np.float64)
        fr = cuda.local.array(FRAME_2D, np.float64)
        i = np.int64(cuda.grid(1))
        step = np.int64(cuda.gridsize(1))
        while i < total:
            n, ho, wo = split_index_2d(i, out.shape[2], out.shape[3])
            r = ho + top
            cx = coords[n, r, wo, 0]
            cy = coords[n, r, wo, 1]
            jac = jacobian_2d(coords[n], r, wo, cx, cy)
            if not filtered_2d(
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
                px = unnormalize(ct(cx), inp.shape[3], align_corners, ct)
                py = unnormalize(ct(cy), inp.shape[2], align_corners, ct)
                point(inp, n, px, py, out, ho, wo, padding, align_corners, fill, ct)
            i += step

    return _jit(pixels_antialias_2d)


def _pixels_antialias_3d(point, unnormalize, ct):
    def pixels_antialias_3d(
        inp, coords, out, padding, align_corners, fill, top, support, cap, total
    ):
        acc = cuda.local.array(ANTIALIAS_CHANNELS, np.float64)
        wbuf = cuda.local.array(_TAP_CHUNK, np.float64)
        fr = cuda.local.array(FRAME_3D, np.float64)
        jac = cuda.local.array(9, np.float64)
        work = cuda.local.array(18, np.float64)
        centre = cuda.local.array(3, np.float64)
        i = np.int64(cuda.grid(1))
        step = np.int64(cuda.gridsize(1))
        while i < total:
            n, do, ho, wo = split_index_3d(i, out.shape[2], out.shape[3], out.shape[4])
            s = do + top
            for a in range(3):
                centre[a] = coords[n, s, ho, wo, a]
            jacobian_3d(coords[n], s, ho, wo, centre, jac)
            if not filtered_3d(
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
                px = unnormalize(ct(centre[0]), inp.shape[4], align_corners, ct)
                py = unnormalize(ct(centre[1]), inp.shape[3], align_corners, ct)
                pz = unnormalize(ct(centre[2]), inp.shape[2], align_corners, ct)
                point(inp, n, px, py, pz, out, do, ho, wo, padding, align_corners, fill, ct)
            i += step

    return _jit(pixels_antialias_3d)


def _flow_antialias_2d(point, unnormalize, ct):
    def flow_antialias_2d(
        inp,
        field,
        out,
        padding,
        align_corners,
        fill,
        maps,
        absolute,
        separable,
        support,
        cap,
        total,
    ):
        acc = cuda.local.array(ANTIALIAS_CHANNELS, np.float64)
        wbuf = cuda.local.array(_TAP_CHUNK, np.float64)
        fr = cuda.local.array(FRAME_2D, np.float64)
        i = np.int64(cuda.grid(1))
        step = np.int64(cuda.gridsize(1))
        height = out.shape[2]
        width = out.shape[3]
        while i < total:
            n, ho, wo = split_index_2d(i, height, width)
            x = float(wo)
            y = float(ho)
            cx, cy = flow_point_2d(field, maps, absolute, x, y)
            left = wo > 0
            right = wo + 1 < width
            up = ho > 0
            down = ho + 1 < height
            lx, ly = flow_point_2d(field, maps, absolute, x - 1.0, y) if left else (cx, cy)
            rx, ry = flow_point_2d(field, maps, absolute, x + 1.0, y) if right else (cx, cy)
            ux, uy = flow_point_2d(field, maps, absolute, x, y - 1.0) if up else (cx, cy)
            dx, dy = flow_point_2d(field, maps, absolute, x, y + 1.0) if down else (cx, cy)
            jac = (
                derivative(lx, cx, rx, left, right),
                derivative(ux, cx, dx, up, down),
                derivative(ly, cy, ry, left, right),
                derivative(uy, cy, dy, up, down),
            )
            if not filtered_2d(
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
                point(inp, n, ct(cx), ct(cy), out, ho, wo, padding, align_corners, fill, ct)
            i += step

    return _jit(flow_antialias_2d)


def _flow_antialias_3d(point, unnormalize, ct):
    def flow_antialias_3d(
        inp,
        field,
        out,
        padding,
        align_corners,
        fill,
        maps,
        absolute,
        separable,
        support,
        cap,
        total,
    ):
        acc = cuda.local.array(ANTIALIAS_CHANNELS, np.float64)
        wbuf = cuda.local.array(_TAP_CHUNK, np.float64)
        fr = cuda.local.array(FRAME_3D, np.float64)
        jac = cuda.local.array(9, np.float64)
        work = cuda.local.array(18, np.float64)
        centre = cuda.local.array(3, np.float64)
        i = np.int64(cuda.grid(1))
        step = np.int64(cuda.gridsize(1))
        while i < total:
            n, do, ho, wo = split_index_3d(i, out.shape[2], out.shape[3], out.shape[4])
            p = (float(wo), float(ho), float(do))
            sizes = (out.shape[4], out.shape[3], out.shape[2])
            index = (wo, ho, do)
            cx, cy, cz = flow_point_3d(field, maps, absolute, p[0], p[1], p[2])
            centre[0] = cx
            centre[1] = cy
            centre[2] = cz
            for b in range(3):  # output axis b: the chain one pixel before and after
                lo = index[b] > 0
                hi = index[b] + 1 < sizes[b]
                ex = 1.0 if b == 0 else 0.0
                ey = 1.0 if b == 1 else 0.0
                ez = 1.0 if b == 2 else 0.0
                mx, my, mz = cx, cy, cz
                qx, qy, qz = cx, cy, cz
                if lo:
                    mx, my, mz = flow_point_3d(
                        field, maps, absolute, p[0] - ex, p[1] - ey, p[2] - ez
                    )
                if hi:
                    qx, qy, qz = flow_point_3d(
                        field, maps, absolute, p[0] + ex, p[1] + ey, p[2] + ez
                    )
                jac[b] = derivative(mx, cx, qx, lo, hi)
                jac[3 + b] = derivative(my, cy, qy, lo, hi)
                jac[6 + b] = derivative(mz, cz, qz, lo, hi)
            if not filtered_3d(
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
                point(
                    inp,
                    n,
                    ct(cx),
                    ct(cy),
                    ct(cz),
                    out,
                    do,
                    ho,
                    wo,
                    padding,
                    align_corners,
                    fill,
                    ct,
                )
            i += step

    return _jit(flow_antialias_3d)


_ANTIALIAS_FACTORIES = {
    ("affine", 2): _affine_antialias_2d,
    ("affine", 3): _affine_antialias_3d,
    ("pixels", 2): _pixels_antialias_2d,
    ("pixels", 3): _pixels_antialias_3d,
    ("flow", 2): _flow_antialias_2d,
    ("flow", 3): _flow_antialias_3d,
}


@cache
def antialias_kernel(source: str, spatial: int, mode: int, compute: str):
    """The CUDA antialiasing kernel for ``source`` ('affine', 'pixels' or 'flow'), 2 or 3
    spatial dims, the point-sampling ``mode`` of the points that do not shrink, and compute dtype
    name.

    Signature ``(inp, source_array, out, padding, align_corners, fill, *rest, total)``, ``rest``
    as in :func:`gswarp.engine.core.antialias`. Each thread takes its point's
    neighbours itself (from the coordinate array, or by running the flow chain four or six more
    times) where the CPU's tasks share them along rows.
    """
    point, unnormalize = _cuda_point_functions(source, spatial, mode)
    ct = np.float32 if compute == "float32" else np.float64
    return _ANTIALIAS_FACTORIES[source, spatial](point, unnormalize, ct)


def launch_antialias(source, mode, ct, inp, array, out, padding, align_corners, fill, rest) -> None:
    """Run the antialiasing kernel over every point of ``out``, one launch per group of
    :data:`ANTIALIAS_CHANNELS` channels."""
    kernel = antialias_kernel(source, inp.ndim - 2, int(mode), np.dtype(ct).name)
    channels = inp.shape[1]
    for c0 in range(0, channels, ANTIALIAS_CHANNELS):
        group = slice(c0, min(c0 + ANTIALIAS_CHANNELS, channels))
        arguments = (int(padding), bool(align_corners), fill[group], *rest)
        _launch_points(kernel, inp[:, group], array, out[:, group], arguments)


def _affine_grid_2d(ct):
    def affine_grid_2d(theta, grid, align_corners, total):
        Ho = grid.shape[1]
        Wo = grid.shape[2]
        i = np.int64(cuda.grid(1))
        step = np.int64(cuda.gridsize(1))
        while i < total:
            n, ho, wo = split_index_2d(i, Ho, Wo)
            x = base_coord(wo, Wo, align_corners, ct)
            y = base_coord(ho, Ho, align_corners, ct)
            grid[n, ho, wo, 0] = affine_coord_2d(
                x, y, theta[n, 0, 0], theta[n, 0, 1], theta[n, 0, 2]
            )
            grid[n, ho, wo, 1] = affine_coord_2d(
                x, y, theta[n, 1, 0], theta[n, 1, 1], theta[n, 1, 2]
            )
            i += step

    return _jit(affine_grid_2d)


def _affine_grid_3d(ct):
    def affine_grid_3d(theta, grid, align_corners, total):
        Do = grid.shape[1]
        Ho = grid.shape[2]
        Wo = grid.shape[3]
        i = np.int64(cuda.grid(1))
        step = np.int64(cuda.gridsize(1))
        while i < total:
            n, do, ho, wo = split_index_3d(i, Do, Ho, Wo)
            x = base_coord(wo, Wo, align_corners, ct)
            y = base_coord(ho, Ho, align_corners, ct)
            z = base_coord(do, Do, align_corners, ct)
            for k in range(3):
                grid[n, do, ho, wo, k] = affine_coord_3d(
                    x, y, z, theta[n, k, 0], theta[n, k, 1], theta[n, k, 2], theta[n, k, 3]
                )
            i += step

    return _jit(affine_grid_3d)


@cache
def affine_grid_kernel(spatial: int, compute: str):
    ct = np.float32 if compute == "float32" else np.float64
    return (_affine_grid_2d if spatial == 2 else _affine_grid_3d)(ct)


def launch_affine_grid(theta, grid, align_corners, ct) -> None:
    """Fill ``grid`` (N, *spatial, k) with ``affine_grid(theta)`` on the GPU."""
    spatial = grid.ndim - 2
    kernel = affine_grid_kernel(spatial, np.dtype(ct).name)
    total = int(np.prod(grid.shape[:-1], dtype=np.int64))
    device = is_device_array(grid)
    blocks, threads = _launch_shape(total)
    args = (theta, grid, bool(align_corners), np.int64(total))
    _launch(kernel, blocks, threads, args, device)


# --------------------------------------------------------------------------------------------
# backward passes of grid_sample (gswarp.engine.backward's point functions): the grid gradient
# per output point; the input gradient per (output point, channel), scattered by atomic adds,
# so its sums' order (and their float rounding) varies from run to run, as torch's CUDA kernel


def _backward_grid_2d(grad_point, scatter_point, grid_point, ct):
    scale = _cuda_copy(backward._scale)

    def grad_grid_2d(gout, inp, grid, ggrid, padding, align_corners, fill, total):
        H = inp.shape[2]
        W = inp.shape[3]
        sx = scale(W, align_corners, ct)
        sy = scale(H, align_corners, ct)
        i = np.int64(cuda.grid(1))
        step = np.int64(cuda.gridsize(1))
        while i < total:
            n, ho, wo = split_index_2d(i, grid.shape[1], grid.shape[2])
            px, py, finite = grid_point(grid, inp, n, ho, wo, align_corners, ct)
            dx = ct(0)
            dy = ct(0)
            if finite:
                ax, ay, mx, my = grad_point(
                    gout, inp, n, ho, wo, px, py, padding, align_corners, fill, ct,
                    0, inp.shape[1], ct(0), ct(0),
                )  # fmt: skip
                dx = ax * mx
                dy = ay * my
            ggrid[n, ho, wo, 0] = dx * sx
            ggrid[n, ho, wo, 1] = dy * sy
            i += step

    return _jit(grad_grid_2d), _backward_input_2d(scatter_point, grid_point, ct)


def _backward_grid_3d(grad_point, scatter_point, grid_point, ct):
    scale = _cuda_copy(backward._scale)

    def grad_grid_3d(gout, inp, grid, ggrid, padding, align_corners, fill, total):
        D = inp.shape[2]
        H = inp.shape[3]
        W = inp.shape[4]
        sx = scale(W, align_corners, ct)
        sy = scale(H, align_corners, ct)
        sz = scale(D, align_corners, ct)
        i = np.int64(cuda.grid(1))
        step = np.int64(cuda.gridsize(1))
        while i < total:
            n, do, ho, wo = split_index_3d(i, grid.shape[1], grid.shape[2], grid.shape[3])
            px, py, pz, finite = grid_point(grid, inp, n, do, ho, wo, align_corners, ct)
            dx = ct(0)
            dy = ct(0)
            dz = ct(0)
            if finite:
                dx, dy, dz = grad_point(
                    gout, inp, n, do, ho, wo, px, py, pz, padding, align_corners, fill, ct
                )
            ggrid[n, do, ho, wo, 0] = sx * dx
            ggrid[n, do, ho, wo, 1] = sy * dy
            ggrid[n, do, ho, wo, 2] = sz * dz
            i += step

    return _jit(grad_grid_3d), _backward_input_3d(scatter_point, grid_point, ct)


def _backward_affine_2d(grad_point, scatter_point, ct):
    isfinite = _cuda_copy(pointwise.isfinite)

    def grad_matrix_2d(gout, inp, matrix, rows, padding, align_corners, fill, total):
        """Per output row (``total`` rows): its share of d L / d M, in float64, as the CPU."""
        ho_n = gout.shape[2]
        i = np.int64(cuda.grid(1))
        step = np.int64(cuda.gridsize(1))
        while i < total:
            n = i // ho_n
            ho = i - n * ho_n
            ox = matrix[n, 0, 1] * ho + matrix[n, 0, 2]
            oy = matrix[n, 1, 1] * ho + matrix[n, 1, 2]
            sum_x = 0.0
            sum_y = 0.0
            moment_x = 0.0
            moment_y = 0.0
            for wo in range(gout.shape[3]):
                column = np.float64(wo)
                px = ct(fma(matrix[n, 0, 0], column, ox))
                py = ct(fma(matrix[n, 1, 0], column, oy))
                if isfinite(px) and isfinite(py):
                    ax, ay, mx, my = grad_point(
                        gout, inp, n, ho, wo, px, py, padding, align_corners, fill, ct,
                        0, inp.shape[1], ct(0), ct(0),
                    )  # fmt: skip
                    dx = ax * mx
                    dy = ay * my
                    sum_x += dx
                    sum_y += dy
                    moment_x += np.float64(dx) * column
                    moment_y += np.float64(dy) * column
            rows[i, 0, 0] = moment_x
            rows[i, 0, 1] = sum_x * ho
            rows[i, 0, 2] = sum_x
            rows[i, 1, 0] = moment_y
            rows[i, 1, 1] = sum_y * ho
            rows[i, 1, 2] = sum_y
            i += step

    point = _cuda_copy(backward.matrix_point_2d)
    return _jit(grad_matrix_2d), _backward_input_2d(scatter_point, point, ct)


def _backward_affine_3d(grad_point, scatter_point, ct):
    isfinite = _cuda_copy(pointwise.isfinite)

    def grad_matrix_3d(gout, inp, matrix, rows, padding, align_corners, fill, total):
        do_n = gout.shape[2]
        ho_n = gout.shape[3]
        i = np.int64(cuda.grid(1))
        step = np.int64(cuda.gridsize(1))
        while i < total:
            n = i // (do_n * ho_n)
            rest = i - n * (do_n * ho_n)
            do = rest // ho_n
            ho = rest - do * ho_n
            ox = matrix[n, 0, 1] * ho + matrix[n, 0, 2] * do + matrix[n, 0, 3]
            oy = matrix[n, 1, 1] * ho + matrix[n, 1, 2] * do + matrix[n, 1, 3]
            oz = matrix[n, 2, 1] * ho + matrix[n, 2, 2] * do + matrix[n, 2, 3]
            sx = 0.0
            sy = 0.0
            sz = 0.0
            mx = 0.0
            my = 0.0
            mz = 0.0
            for wo in range(gout.shape[4]):
                column = np.float64(wo)
                px = ct(fma(matrix[n, 0, 0], column, ox))
                py = ct(fma(matrix[n, 1, 0], column, oy))
                pz = ct(fma(matrix[n, 2, 0], column, oz))
                if isfinite(px) and isfinite(py) and isfinite(pz):
                    dx, dy, dz = grad_point(
                        gout, inp, n, do, ho, wo, px, py, pz, padding, align_corners, fill, ct
                    )
                    sx += dx
                    sy += dy
                    sz += dz
                    mx += np.float64(dx) * column
                    my += np.float64(dy) * column
                    mz += np.float64(dz) * column
            rows[i, 0, 0] = mx
            rows[i, 1, 0] = my
            rows[i, 2, 0] = mz
            rows[i, 0, 1] = sx * ho
            rows[i, 1, 1] = sy * ho
            rows[i, 2, 1] = sz * ho
            rows[i, 0, 2] = sx * do
            rows[i, 1, 2] = sy * do
            rows[i, 2, 2] = sz * do
            rows[i, 0, 3] = sx
            rows[i, 1, 3] = sy
            rows[i, 2, 3] = sz
            i += step

    point = _cuda_copy(backward.matrix_point_3d)
    return _jit(grad_matrix_3d), _backward_input_3d(scatter_point, point, ct)


def _backward_input_2d(scatter_point, source_point, ct):
    """The grad_input kernel, grid or matrix (``source_point``: backward's point functions):
    one thread per (output point, channel), scattering by atomic adds."""

    def grad_input_2d(gout, inp, source, ginp, padding, align_corners, total):
        channels = inp.shape[1]
        i = np.int64(cuda.grid(1))
        step = np.int64(cuda.gridsize(1))
        while i < total:
            point = i // channels
            c = i - point * channels
            n, ho, wo = split_index_2d(point, gout.shape[2], gout.shape[3])
            px, py, finite = source_point(source, inp, n, ho, wo, align_corners, ct)
            if finite:
                g = ct(gout[n, c, ho, wo])
                scatter_point(ginp, n, c, px, py, g, padding, align_corners, ct, 0, ginp.shape[2])
            i += step

    return _jit(grad_input_2d)


def _backward_input_3d(scatter_point, source_point, ct):
    """:func:`_backward_input_2d` for volumes."""

    def grad_input_3d(gout, inp, source, ginp, padding, align_corners, total):
        channels = inp.shape[1]
        i = np.int64(cuda.grid(1))
        step = np.int64(cuda.gridsize(1))
        while i < total:
            point = i // channels
            c = i - point * channels
            n, do, ho, wo = split_index_3d(point, gout.shape[2], gout.shape[3], gout.shape[4])
            px, py, pz, finite = source_point(source, inp, n, do, ho, wo, align_corners, ct)
            if finite:
                g = ct(gout[n, c, do, ho, wo])
                scatter_point(
                    ginp, n, c, px, py, pz, g, padding, align_corners, ct, 0, ginp.shape[2]
                )
            i += step

    return _jit(grad_input_3d)


@cache
def backward_kernels(source: str, spatial: int, mode: int, compute: str):
    """(coordinate-gradient kernel, grad_input kernel) on the GPU for ``source`` ('grid' or
    'affine'), 2 or 3 spatial dims, ``mode`` and compute dtype name. Signatures: ``(gout, inp,
    grid, ggrid, padding, align_corners, fill, total)`` with ``total`` the output points -- for
    'affine' ``(gout, inp, matrix, rows, ..., total)`` with ``total`` the output rows, each
    writing its float64 (k, k + 1) share of the matrix gradient -- and ``(gout, inp, grid or
    matrix, ginp, padding, align_corners, total)`` with ``total`` the output points times the
    channels."""
    grad_point, scatter_point = (_cuda_copy(f) for f in backward.POINT_GRAD[spatial][mode])
    ct = np.float32 if compute == "float32" else np.float64
    if source == "affine":
        factory = _backward_affine_2d if spatial == 2 else _backward_affine_3d
        return factory(grad_point, scatter_point, ct)
    grid_point = _cuda_copy(backward.source_point_function("grid", spatial, mode))
    factory = _backward_grid_2d if spatial == 2 else _backward_grid_3d
    return factory(grad_point, scatter_point, grid_point, ct)


def launch_backward(source, mode, ct, gout, inp, coordinates, grad_input, grad_coordinates,
                    padding, align, fill) -> None:  # fmt: skip
    """Fill ``grad_input`` (zeros on entry) and ``grad_coordinates`` (a grid's gradient, or the
    (rows, k, k + 1) float64 per-row shares of a matrix's) where not None, on the GPU."""
    spatial = inp.ndim - 2
    coordinate_kernel, input_kernel = backward_kernels(
        source, spatial, int(mode), np.dtype(ct).name
    )
    device = is_device_array(inp)
    if not device:
        gout, inp, coordinates, fill = (_plain(a) for a in (gout, inp, coordinates, fill))
    points = int(gout.shape[0]) * math.prod(int(s) for s in gout.shape[2:])
    if grad_input is not None:
        total = points * int(inp.shape[1])
        blocks, threads = _launch_shape(total)
        args = (gout, inp, coordinates, grad_input, int(padding), bool(align), np.int64(total))
        _launch(input_kernel, blocks, threads, args, device)
    if grad_coordinates is not None:
        total = points if source == "grid" else points // int(gout.shape[-1])
        blocks, threads = _launch_shape(total)
        args = (gout, inp, coordinates, grad_coordinates, int(padding), bool(align), fill)
        _launch(coordinate_kernel, blocks, threads, (*args, np.int64(total)), device)
