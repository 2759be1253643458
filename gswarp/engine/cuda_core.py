"""The CUDA kernels of the C++ core (``src/cuda/*.cu`` over ``src/gswarp_core/*.hpp``), launched
on CuPy arrays: the GPU runs the per-point functions the CPU kernels run.

The kernels are templates; each specialization is named by a name expression such as
``gswarp::cuda::grid_sample<2, 0, 8, 8>`` (spatial dims, mode, input dtype code, grid dtype
code: ``kernels.hpp``'s ``Kind``). CuPy compiles one with NVRTC the first time it is asked for
(:class:`CupyRunner`; CuPy keeps the result in its on-disk kernel cache, so later processes load
it) with ``-fmad=false``: as the CPU kernels are built with ``-ffp-contract=off``, no multiply
and add are fused unless the source calls ``fma``, so every point has the CPU engine's bits.

Arguments are ``kernels.hpp``'s structs, passed by value: NumPy structured scalars of the same
layout (:data:`GRID_SAMPLE` ...; ``tests/test_cuda_core.py`` checks the layouts against the
compiler's ``sizeof``/``offsetof``). Each thread walks output points ``i, i + G, ...`` (64-bit
indices).

Without a GPU the same launches run on the CPU: ``tests/cuda_host.py`` builds the ``.cu`` files
for the host (``src/cuda/host_emulation.hpp``) and a runner with :class:`CupyRunner`'s interface,
and the tests compare every kernel with the CPU engine through the functions below.
"""

from __future__ import annotations

import math
from functools import cache
from pathlib import Path

import numpy as np

__all__ = [
    "AFFINE_GRID",
    "AFFINE_SAMPLE",
    "FLOW_SAMPLE",
    "GRID_SAMPLE",
    "CupyRunner",
    "affine_grid",
    "affine_sample",
    "flow_sample",
    "grid_sample",
    "kernel_name",
    "sources",
]

THREADS = 256  # threads per block
MAX_BLOCKS = 1 << 16  # beyond this, each thread takes several points (grid-stride loop)

KINDS = {
    np.dtype(t): code
    for code, t in enumerate(
        (np.int8, np.uint8, np.int16, np.uint16, np.int32, np.uint32, np.int64, np.uint64,
         np.float32, np.float64)
    )
}  # fmt: skip
"""NumPy dtype -> ``kernels.hpp``'s ``Kind`` code."""

ARRAY_ARG = np.dtype(
    [("data", np.uint64), ("kind", np.int32), ("ndim", np.int32),
     ("shape", np.int64, 6), ("stride", np.int64, 6)],
    align=True,
)  # fmt: skip
OPTIONS = np.dtype(
    [("mode", np.int32), ("padding", np.int32), ("align_corners", np.bool_), ("pixels", np.bool_)],
    align=True,
)
WINDOW = np.dtype([("origin", np.int64, 3), ("shift", np.int64, 3)], align=True)
_ARRAYS = ("inp", "source", "out", "fill_compute", "fill_native")
GRID_SAMPLE = np.dtype(
    [("inp", ARRAY_ARG), ("grid", ARRAY_ARG), ("out", ARRAY_ARG), ("fill_compute", ARRAY_ARG),
     ("fill_native", ARRAY_ARG), ("options", OPTIONS)],
    align=True,
)  # fmt: skip
AFFINE_SAMPLE = np.dtype(
    [("inp", ARRAY_ARG), ("matrix", ARRAY_ARG), ("out", ARRAY_ARG), ("fill_compute", ARRAY_ARG),
     ("fill_native", ARRAY_ARG), ("options", OPTIONS), ("window", WINDOW)],
    align=True,
)  # fmt: skip
FLOW_SAMPLE = np.dtype(
    [("inp", ARRAY_ARG), ("field", ARRAY_ARG), ("maps", ARRAY_ARG), ("out", ARRAY_ARG),
     ("fill_compute", ARRAY_ARG), ("fill_native", ARRAY_ARG), ("options", OPTIONS),
     ("absolute", np.bool_), ("direct", np.bool_), ("separable", np.bool_), ("window", WINDOW)],
    align=True,
)  # fmt: skip
AFFINE_GRID = np.dtype(
    [("theta", ARRAY_ARG), ("grid", ARRAY_ARG), ("align_corners", np.bool_)], align=True
)
"""The kernels' argument structs (``src/gswarp_core/kernels.hpp``), as NumPy sees them."""


def sources() -> Path:
    """The folder holding ``gswarp_core/`` (the headers) and ``cuda/`` (the ``.cu`` files): the
    installed package's ``gswarp/_cuda_sources``, or ``src/`` of a source checkout."""
    package = Path(__file__).resolve().parents[1]
    for folder in (package / "_cuda_sources", package.parent / "src"):
        if (folder / "cuda" / "sampling.cu").is_file():
            return folder
    raise FileNotFoundError(f"gswarp's CUDA sources are missing (looked in {package})")


def kernel_name(kernel: str, *parameters: int) -> str:
    """The name expression of one specialization: ``gswarp::cuda::KERNEL<P, ...>``."""
    return f"gswarp::cuda::{kernel}<{', '.join(str(int(p)) for p in parameters)}>"


def _pointer(array) -> int:
    return array.data.ptr if hasattr(array, "__cuda_array_interface__") else array.ctypes.data


def _array_arg(target, array) -> None:
    """Fill ARRAY_ARG ``target`` with ``array``'s pointer, dtype code, shape and strides (in
    elements)."""
    target["data"] = _pointer(array)
    target["kind"] = KINDS[array.dtype]
    target["ndim"] = array.ndim
    target["shape"][: array.ndim] = array.shape
    target["stride"][: array.ndim] = [s // array.itemsize for s in array.strides]


def _options(target, mode, padding, align_corners, pixels=False) -> None:
    target["mode"] = int(mode)
    target["padding"] = int(padding)
    target["align_corners"] = bool(align_corners)
    target["pixels"] = bool(pixels)


def _geometry(total: int) -> tuple[int, int]:
    return max(1, min(-(-total // THREADS), MAX_BLOCKS)), THREADS


def _launch(runner, name: str, args: np.ndarray, total: int) -> None:
    """Kernel ``name`` over ``total`` points (none: no launch)."""
    if total > 0:
        runner.launch(name, args, total)


def _points(out_shape) -> int:
    return int(out_shape[0]) * math.prod(int(s) for s in out_shape[2:])


def grid_sample(inp, grid, out, mode, padding, align_corners, pixels, fill_compute, fill_native,
                runner=None) -> None:  # fmt: skip
    """``gswarp.engine.core.grid_sample`` on every output point, on the GPU (``runner``: where
    the kernel runs, default :func:`cupy_runner`). Arrays as the core's, on the runner's
    device; the fills are small host or device arrays."""
    runner = runner or cupy_runner()
    args = np.zeros((), GRID_SAMPLE)
    fill_compute, fill_native = runner.constant(fill_compute), runner.constant(fill_native)
    for field, array in zip(("inp", "grid", "out", "fill_compute", "fill_native"),
                            (inp, grid, out, fill_compute, fill_native), strict=True):  # fmt: skip
        _array_arg(args[field], array)
    _options(args["options"], mode, padding, align_corners, pixels)
    name = kernel_name("grid_sample", inp.ndim - 2, mode, KINDS[inp.dtype], KINDS[grid.dtype])
    _launch(runner, name, args, _points(out.shape))


def _window(target, origin, shift, spatial: int) -> None:
    target["origin"][:spatial] = np.asarray(origin, dtype=np.int64)[:spatial]
    target["shift"][:spatial] = np.asarray(shift, dtype=np.int64)[:spatial]


def affine_sample(inp, matrix, out, mode, padding, align_corners, fill_compute, fill_native,
                  origin, shift, runner=None) -> None:  # fmt: skip
    """``gswarp.engine.core.affine_sample`` on every output point, on the GPU (``matrix`` a
    float64 device array, or small host array)."""
    runner = runner or cupy_runner()
    args = np.zeros((), AFFINE_SAMPLE)
    arrays = (inp, runner.constant(matrix), out, runner.constant(fill_compute),
              runner.constant(fill_native))  # fmt: skip
    for field, array in zip(("inp", "matrix", "out", "fill_compute", "fill_native"), arrays,
                            strict=True):  # fmt: skip
        _array_arg(args[field], array)
    _options(args["options"], mode, padding, align_corners)
    _window(args["window"], origin, shift, inp.ndim - 2)
    name = kernel_name("affine_sample", inp.ndim - 2, mode, KINDS[inp.dtype])
    _launch(runner, name, args, _points(out.shape))


def flow_sample(inp, field, out, mode, padding, align_corners, fill_compute, fill_native, maps,
                absolute, direct, separable, origin, shift, runner=None) -> None:  # fmt: skip
    """``gswarp.engine.core.flow_sample`` on every output point, on the GPU (``field``
    C-contiguous float32 or float64 on the device, ``maps`` (3, k, k + 1) float64)."""
    runner = runner or cupy_runner()
    args = np.zeros((), FLOW_SAMPLE)
    arrays = (inp, field, runner.constant(np.ascontiguousarray(maps, dtype=np.float64)), out,
              runner.constant(fill_compute), runner.constant(fill_native))  # fmt: skip
    names = ("inp", "field", "maps", "out", "fill_compute", "fill_native")
    for name, array in zip(names, arrays, strict=True):
        _array_arg(args[name], array)
    _options(args["options"], mode, padding, align_corners)
    args["absolute"], args["direct"], args["separable"] = (
        bool(absolute),
        bool(direct),
        bool(separable),
    )
    _window(args["window"], origin, shift, inp.ndim - 2)
    name = kernel_name("flow_sample", inp.ndim - 2, mode, KINDS[inp.dtype])
    _launch(runner, name, args, _points(out.shape))


def affine_grid(theta, grid, align_corners, runner=None) -> None:
    """``gswarp.engine.core.affine_grid`` on the GPU: ``theta`` (N, k, k + 1) and ``grid``
    (N, [D,] H, W, k) of one float dtype."""
    runner = runner or cupy_runner()
    args = np.zeros((), AFFINE_GRID)
    theta = runner.constant(theta)  # held until the launch is queued
    _array_arg(args["theta"], theta)
    _array_arg(args["grid"], grid)
    args["align_corners"] = bool(align_corners)
    points = int(np.prod(grid.shape[:-1]))
    _launch(runner, kernel_name("affine_grid", grid.ndim - 2, KINDS[grid.dtype]), args, points)


class CupyRunner:
    """Compiles kernels from the C++ sources with NVRTC through CuPy (``RawModule``, one module
    per name expression, kept per device) and launches them on CuPy's current stream."""

    OPTIONS = ("-std=c++17", "--fmad=false")

    def __init__(self) -> None:
        import cupy

        self.cupy = cupy
        self.folder = sources()
        self.code = (self.folder / "cuda" / "sampling.cu").read_text()
        self.include = (f"-I{self.folder}", f"-I{self.folder / 'cuda'}")
        self.functions: dict = {}  # (device, name) -> cupy RawKernel
        self.constants: dict = {}  # (bytes, dtype, shape, device) -> device copy

    def function(self, name: str):
        device = self.cupy.cuda.runtime.getDevice()
        found = self.functions.get((device, name))
        if found is None:
            module = self.cupy.RawModule(
                code=self.code, options=self.OPTIONS + self.include, name_expressions=(name,)
            )
            found = self.functions[device, name] = module.get_function(name)
        return found

    def constant(self, array):
        """A device copy of a small NumPy argument (kept while its bytes are the same); a
        device array as it is."""
        if not isinstance(array, np.ndarray):
            return array
        key = (array.tobytes(), array.dtype.str, array.shape, self.cupy.cuda.runtime.getDevice())
        copy = self.constants.get(key)
        if copy is None:
            if len(self.constants) >= 64:
                self.constants.clear()
            copy = self.constants[key] = self.cupy.asarray(array)
        return copy

    def device(self, array):
        """``array`` on the device (a NumPy array copied over)."""
        return self.cupy.asarray(array)

    def field(self, array):
        """A flow field as the kernels read it: C-contiguous float32 or float64."""
        dtype = np.float32 if array.dtype == np.float32 else np.float64
        return self.cupy.ascontiguousarray(array, dtype=dtype)

    def launch(self, name: str, args: np.ndarray, total: int) -> None:
        blocks, threads = _geometry(total)
        self.function(name)((blocks,), (threads,), (args[()], np.int64(total)))


@cache
def cupy_runner() -> CupyRunner:
    """The process's :class:`CupyRunner`."""
    return CupyRunner()
