"""The CUDA kernels of the C++ core (``src/cuda/*.cu`` over ``src/gswarp_core/*.hpp``), launched
on CuPy arrays: the GPU runs the per-point functions the CPU kernels run.

The kernels are templates; each specialization is named by a name expression such as
``gswarp::cuda::grid_sample<2, 0, 8, 8>`` (spatial dims, mode, input dtype code, grid dtype
code: ``kernels.hpp``'s ``Kind``). CuPy compiles one with NVRTC the first time it is asked for
(:class:`CupyRunner`; CuPy keeps the result in its on-disk kernel cache, so later processes load
it) with ``-fmad=false``: as the CPU kernels are built with ``-ffp-contract=off``, no multiply
and add are fused unless the source calls ``fma``, so every point has the CPU engine's bits.

Arguments are ``kernels.hpp``'s structs, passed by value: bytes packed by ``struct.Struct``
(:data:`PACKERS`) in the layout of the NumPy dtypes :data:`GRID_SAMPLE` ... (which
``tests/test_cuda_core.py`` checks against the compiler's ``sizeof``/``offsetof``), launched by
``cuLaunchKernel``. Each thread walks output points ``i, i + G, ...`` (64-bit indices).

Without a GPU the same launches run on the CPU: ``tests/cuda_host.py`` builds the ``.cu`` files
for the host (``src/cuda/host_emulation.hpp``) and a runner with :class:`CupyRunner`'s interface,
and the tests compare every kernel with the CPU engine through the functions below.
"""

from __future__ import annotations

import ctypes
import hashlib
import math
import struct
from functools import cache
from pathlib import Path

import numpy as np

from gswarp.engine import core

__all__ = [
    "AFFINE_GRID",
    "AFFINE_SAMPLE",
    "ANTIALIAS",
    "BACKWARD",
    "COMPILE_OPTIONS",
    "FLOW_SAMPLE",
    "GRID_SAMPLE",
    "CupyRunner",
    "affine_grid",
    "affine_sample",
    "antialias",
    "backward",
    "compile_options",
    "flow_sample",
    "grid_sample",
    "kernel_name",
    "source_text",
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
BACKWARD = np.dtype(
    [("gout", ARRAY_ARG), ("inp", ARRAY_ARG), ("source", ARRAY_ARG), ("target", ARRAY_ARG),
     ("fill", ARRAY_ARG), ("options", OPTIONS), ("affine", np.bool_),
     ("channel_inner", np.bool_), ("bands", np.int64)],
    align=True,
)  # fmt: skip
ANTIALIAS = np.dtype(
    [("inp", ARRAY_ARG), ("source", ARRAY_ARG), ("out", ARRAY_ARG), ("fill_compute", ARRAY_ARG),
     ("fill_native", ARRAY_ARG), ("frames", ARRAY_ARG), ("shrinks", ARRAY_ARG),
     ("maps", ARRAY_ARG), ("options", OPTIONS), ("kind", np.int32), ("top", np.int64),
     ("support", np.float64), ("cap", np.float64), ("absolute", np.bool_),
     ("separable", np.bool_)],
    align=True,
)  # fmt: skip
"""The kernels' argument structs (``src/gswarp_core/kernels.hpp``), as NumPy sees them."""


def sources() -> Path:
    """The folder holding ``gswarp_core/`` (the headers) and ``cuda/`` (the ``.cu`` files): the
    installed package's ``gswarp/_cuda_sources``, or ``src/`` of a source checkout."""
    package = Path(__file__).resolve().parents[1]
    for folder in (package / "_cuda_sources", package.parent / "src"):
        if (folder / "cuda" / "kernels.cu").is_file():
            return folder
    raise FileNotFoundError(f"gswarp's CUDA sources are missing (looked in {package})")


_NAMES: dict[tuple, str] = {}


def source_text(folder: Path | None = None) -> str:
    """``kernels.cu`` as CuPy compiles it: its text after a comment holding a digest of every
    source it includes. CuPy's on-disk cache is keyed on the text it is given, not on the
    headers NVRTC reads, so without the digest a gswarp whose headers changed would load the
    kernels an older one compiled."""
    folder = folder or sources()
    digest = hashlib.sha256()
    for path in sorted([*(folder / "gswarp_core").glob("*.hpp"), *(folder / "cuda").iterdir()]):
        digest.update(path.name.encode() + b"\0" + path.read_bytes())
    text = (folder / "cuda" / "kernels.cu").read_text()
    return f"// gswarp CUDA sources {digest.hexdigest()}\n{text}"


COMPILE_OPTIONS = ("-std=c++17", "--fmad=false")
"""NVRTC's options for the kernels (``--fmad=false``: the CPU's bits, see the module notes)."""


def compile_options(folder: Path | None = None) -> tuple[str, ...]:
    """:data:`COMPILE_OPTIONS` and the include folders of the sources in ``folder`` (default
    :func:`sources`): what CuPy is given, less the architecture it adds."""
    folder = folder or sources()
    return (*COMPILE_OPTIONS, f"-I{folder}", f"-I{folder / 'cuda'}")


def kernel_name(kernel: str, *parameters: int) -> str:
    """The name expression of one specialization: ``gswarp::cuda::KERNEL<P, ...>`` (kept per
    signature: a launch looks it up)."""
    key = (kernel, *parameters)
    name = _NAMES.get(key)
    if name is None:
        name = f"gswarp::cuda::{kernel}<{', '.join(str(int(p)) for p in parameters)}>"
        _NAMES[key] = name
    return name


def _pointer(array) -> int:
    if isinstance(array, np.ndarray):
        return array.__array_interface__["data"][0]
    return array.data.ptr  # CuPy


_ZEROS = tuple((0,) * (6 - n) for n in range(7))
_LAYOUTS: dict[tuple, tuple] = {}  # (dtype, shape, strides) -> ARRAY_ARG's values after data


def _array_values(array) -> tuple:
    """ARRAY_ARG's values for ``array``: pointer, dtype code, ndim, shape and strides (in
    elements), each padded to 6 (all but the pointer kept per layout)."""
    key = (array.dtype, array.shape, array.strides)
    layout = _LAYOUTS.get(key)
    if layout is None:
        ndim, item, pad = array.ndim, array.itemsize, _ZEROS[array.ndim]
        strides = tuple(s // item for s in array.strides)
        layout = (KINDS[array.dtype], ndim, *array.shape, *pad, *strides, *pad)
        if len(_LAYOUTS) < 4096:
            _LAYOUTS[key] = layout
    return (_pointer(array), *layout)


def _packer(*formats: str) -> struct.Struct:
    """The C layout of a struct of these ``struct`` formats, native alignment, its size a
    multiple of 8 (the structs hold 64-bit fields)."""
    return struct.Struct("@" + "".join(formats) + "0q")


_ARRAY, _OPTIONS, _WINDOW = "Qii6q6q", "ii??2x", "3q3q"  # SampleOptions: 12 bytes
PACKERS = {
    GRID_SAMPLE: _packer(_ARRAY * 5, _OPTIONS),
    AFFINE_SAMPLE: _packer(_ARRAY * 5, _OPTIONS, _WINDOW),
    FLOW_SAMPLE: _packer(_ARRAY * 6, _OPTIONS, "???", _WINDOW),
    AFFINE_GRID: _packer(_ARRAY * 2, "?"),
    ANTIALIAS: _packer(_ARRAY * 8, _OPTIONS, "iqdd??"),
    BACKWARD: _packer(_ARRAY * 5, _OPTIONS, "??q"),
}
"""Each argument struct's ``struct.Struct``: one ``pack`` call per launch (a few
microseconds, where filling the NumPy record field by field took ~19 us here)."""


def _triple(values) -> tuple:
    values = tuple(int(v) for v in values)
    return values + (0,) * (3 - len(values))


def _geometry(total: int) -> tuple[int, int]:
    return max(1, min(-(-total // THREADS), MAX_BLOCKS)), THREADS


def _points(out_shape) -> int:
    return int(out_shape[0]) * math.prod(int(s) for s in out_shape[2:])


def _launch(runner, name: str, layout: np.dtype, values: tuple, total: int) -> None:
    """Kernel ``name`` over ``total`` points (none: no launch), its struct argument of
    ``layout`` packed from ``values``."""
    if total > 0:
        runner.launch(name, PACKERS[layout].pack(*values), layout, total)


def grid_sample(inp, grid, out, mode, padding, align_corners, pixels, fill_compute, fill_native,
                runner=None) -> None:  # fmt: skip
    """``gswarp.engine.core.grid_sample`` on every output point, on the GPU (``runner``: where
    the kernel runs, default :func:`cupy_runner`). Arrays as the core's, on the runner's
    device; the fills are small host or device arrays."""
    runner = runner or cupy_runner()
    fill_compute, fill_native = runner.constant(fill_compute), runner.constant(fill_native)
    values = (*_array_values(inp), *_array_values(grid), *_array_values(out),
              *_array_values(fill_compute), *_array_values(fill_native),
              int(mode), int(padding), bool(align_corners), bool(pixels))  # fmt: skip
    name = kernel_name("grid_sample", inp.ndim - 2, mode, KINDS[inp.dtype], KINDS[grid.dtype])
    _launch(runner, name, GRID_SAMPLE, values, _points(out.shape))


def affine_sample(inp, matrix, out, mode, padding, align_corners, fill_compute, fill_native,
                  origin, shift, runner=None) -> None:  # fmt: skip
    """``gswarp.engine.core.affine_sample`` on every output point, on the GPU (``matrix`` a
    float64 device array, or small host array)."""
    runner = runner or cupy_runner()
    matrix = runner.constant(matrix)
    fill_compute, fill_native = runner.constant(fill_compute), runner.constant(fill_native)
    values = (*_array_values(inp), *_array_values(matrix), *_array_values(out),
              *_array_values(fill_compute), *_array_values(fill_native),
              int(mode), int(padding), bool(align_corners), False,
              *_triple(origin), *_triple(shift))  # fmt: skip
    name = kernel_name("affine_sample", inp.ndim - 2, mode, KINDS[inp.dtype])
    _launch(runner, name, AFFINE_SAMPLE, values, _points(out.shape))


def flow_sample(inp, field, out, mode, padding, align_corners, fill_compute, fill_native, maps,
                absolute, direct, separable, origin, shift, runner=None) -> None:  # fmt: skip
    """``gswarp.engine.core.flow_sample`` on every output point, on the GPU (``field``
    C-contiguous float32 or float64 on the device, ``maps`` (3, k, k + 1) float64)."""
    runner = runner or cupy_runner()
    maps = runner.constant(np.ascontiguousarray(maps, dtype=np.float64))
    fill_compute, fill_native = runner.constant(fill_compute), runner.constant(fill_native)
    values = (*_array_values(inp), *_array_values(field), *_array_values(maps),
              *_array_values(out), *_array_values(fill_compute), *_array_values(fill_native),
              int(mode), int(padding), bool(align_corners), False,
              bool(absolute), bool(direct), bool(separable),
              *_triple(origin), *_triple(shift))  # fmt: skip
    name = kernel_name("flow_sample", inp.ndim - 2, mode, KINDS[inp.dtype])
    _launch(runner, name, FLOW_SAMPLE, values, _points(out.shape))


def affine_grid(theta, grid, align_corners, runner=None) -> None:
    """``gswarp.engine.core.affine_grid`` on the GPU: ``theta`` (N, k, k + 1) and ``grid``
    (N, [D,] H, W, k) of one float dtype."""
    runner = runner or cupy_runner()
    theta = runner.constant(theta)  # held until the launch is queued
    values = (*_array_values(theta), *_array_values(grid), bool(align_corners))
    name = kernel_name("affine_grid", grid.ndim - 2, KINDS[grid.dtype])
    _launch(runner, name, AFFINE_GRID, values, int(np.prod(grid.shape[:-1])))


ANTIALIAS_CHANNELS = 8
"""Channels an antialiasing kernel takes per launch (its per-thread sums; ``kernels.cu``):
a wider input is launched in groups of channels, each channel's sums its own."""


def antialias(source_kind, inp, source, out, mode, padding, align_corners, fill_compute,
              fill_native, rest, runner=None) -> None:  # fmt: skip
    """``gswarp.engine.core.antialias`` on every output point, on the GPU: ``source_kind``
    'affine' (``rest`` ``(frames, shrinks)``; items that do not shrink are left to the
    caller), 'pixels' (``rest`` ``(top, support, cap)``) or 'flow' (``rest`` ``(maps,
    absolute, separable, support, cap)``; the field C-contiguous float32/float64)."""
    runner = runner or cupy_runner()
    frames, shrinks, maps, *scalars = core.antialias_parts(source_kind, rest)
    source = runner.constant(source) if source_kind == "affine" else source
    frames, shrinks, maps = runner.constant(frames), runner.constant(shrinks), runner.constant(maps)
    code = core.ANTIALIAS_SOURCES[source_kind]
    tail = (int(mode), int(padding), bool(align_corners), False, code, *scalars)
    name = kernel_name("antialias", inp.ndim - 2, mode, KINDS[inp.dtype], code)
    for c0 in range(0, inp.shape[1], ANTIALIAS_CHANNELS):
        group = slice(c0, c0 + ANTIALIAS_CHANNELS)
        fill_c = runner.constant(np.ascontiguousarray(fill_compute[group]))
        fill_n = runner.constant(np.ascontiguousarray(fill_native[group]))
        part_in, part_out = inp[:, group], out[:, group]
        values = (*_array_values(part_in), *_array_values(source), *_array_values(part_out),
                  *_array_values(fill_c), *_array_values(fill_n), *_array_values(frames),
                  *_array_values(shrinks), *_array_values(maps), *tail)  # fmt: skip
        _launch(runner, name, ANTIALIAS, values, _points(out.shape))


def backward(source_kind, gout, inp, coordinates, grad_input, grad_coordinates, mode, padding,
             align_corners, fill, runner=None) -> None:  # fmt: skip
    """The backward passes on the GPU (``src/cuda/backward.cuh``): ``grad_input`` (N, C, *in),
    zeros on entry, gets the input's gradient and ``grad_coordinates`` the grid's (N, *out, k)
    or, for ``source_kind`` 'affine' (``coordinates`` float64 pixel-space matrices), each
    output row's float64 (k, k + 1) share of the matrix's -- where not None. ``gout``, ``inp``
    C-contiguous of one float dtype; ``fill`` (C,) of it."""
    runner = runner or cupy_runner()
    spatial, affine = inp.ndim - 2, source_kind == "affine"
    kind = KINDS[inp.dtype]
    coordinates = runner.constant(coordinates) if affine else coordinates
    fill = runner.constant(fill)
    head = (*_array_values(gout), *_array_values(inp), *_array_values(coordinates))
    tail = (*_array_values(fill), int(mode), int(padding), bool(align_corners), False, affine,
            False, 0)  # fmt: skip
    points = _points(gout.shape)
    if grad_input is not None:
        values = (*head, *_array_values(grad_input), *tail)
        name = kernel_name("input_backward", spatial, mode, kind, int(affine))
        _launch(runner, name, BACKWARD, values, points * int(inp.shape[1]))
    if grad_coordinates is not None:
        values = (*head, *_array_values(grad_coordinates), *tail)
        family = "matrix_backward" if affine else "grid_backward"
        total = points // int(gout.shape[-1]) if affine else points
        _launch(runner, kernel_name(family, spatial, mode, kind), BACKWARD, values, total)


class CupyRunner:
    """Compiles kernels from the C++ sources with NVRTC through CuPy (``RawModule``, one module
    per name expression, kept per device) and launches them on CuPy's current stream; moves
    arrays to and from the device (NumPy arrays under ``use_backend('cuda')``).

    A runner's interface (``constant``, ``device``, ``field``, ``output``, ``copy_back``,
    ``zeros``, ``empty``, ``host``, ``launch``) is all the engine asks of the GPU:
    ``tests/cuda_host.py``'s runner gives it the kernels' host build, so the engine's GPU paths
    run in the tests on machines with no GPU."""

    def __init__(self) -> None:
        import cupy

        self.cupy = cupy
        folder = sources()
        self.code = source_text(folder)
        self.options = compile_options(folder)
        self.functions: dict = {}  # (device, name) -> CUfunction handle
        self.modules: list = []
        self.constants: dict = {}  # (bytes, dtype, shape, device) -> device copy

    def function(self, name: str) -> int:
        """The CUfunction handle of kernel ``name`` on the current device (compiled on first
        use, kept)."""
        device = self.cupy.cuda.runtime.getDevice()
        found = self.functions.get((device, name))
        if found is None:
            module = self.cupy.RawModule(
                code=self.code, options=self.options, name_expressions=(name,)
            )
            kernel = module.get_function(name)  # a RawKernel; .kernel: its CUDA function
            function = getattr(kernel, "kernel", kernel)
            self.modules.append((module, kernel, function))  # they own the handle: kept
            found = self.functions[device, name] = function.ptr
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

    def on_device(self, array) -> bool:
        """Whether the kernels can read ``array`` as it is (a CuPy array)."""
        return not isinstance(array, np.ndarray)

    def output(self, out):
        """Where a kernel writes ``out``: ``out`` itself on the device, else a device array of
        its shape and dtype (:meth:`copy_back` brings it to ``out``)."""
        if isinstance(out, np.ndarray):
            return self.cupy.empty(out.shape, out.dtype)
        return out

    def copy_back(self, written, out) -> None:
        """``written`` (from :meth:`output`) into ``out`` where they differ."""
        if written is not out:
            out[...] = written.get()

    def zeros(self, shape, dtype):
        return self.cupy.zeros(shape, dtype)

    def empty(self, shape, dtype):
        return self.cupy.empty(shape, dtype)

    def host(self, array) -> np.ndarray:
        """A NumPy copy of a device array."""
        return array.get()

    def field(self, array):
        """A flow field as the kernels read it: C-contiguous float32 or float64."""
        dtype = np.float32 if array.dtype == np.float32 else np.float64
        return self.cupy.ascontiguousarray(array, dtype=dtype)

    def launch(self, name: str, packed: bytes, layout: np.dtype, total: int) -> None:
        """Kernel ``name`` on CuPy's current stream, through ``cuLaunchKernel`` (CuPy's driver
        binding): its two parameters, the struct ``packed`` (bytes of ``layout``) and the int64
        ``total``, each handed over as a pointer to its bytes, which the driver copies at the
        launch (CuPy's own argument conversion does not take structs of this size in every
        version)."""
        blocks, threads = _geometry(total)
        argument = ctypes.create_string_buffer(packed, len(packed))
        count = ctypes.c_int64(total)
        params = (ctypes.c_void_p * 2)(ctypes.addressof(argument), ctypes.addressof(count))
        stream = self.cupy.cuda.get_current_stream().ptr
        self.cupy.cuda.driver.launchKernel(
            self.function(name), blocks, 1, 1, threads, 1, 1, 0, stream,
            ctypes.addressof(params), 0,
        )  # fmt: skip


@cache
def cupy_runner() -> CupyRunner:
    """The process's :class:`CupyRunner`."""
    return CupyRunner()
