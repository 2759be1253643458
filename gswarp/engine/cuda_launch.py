"""Launching numba-cuda kernels on CuPy arrays with little host time per call.

numba-cuda's dispatcher types every argument of every launch (CuPy arrays through DLPack), builds
a launch configuration and checks occupancy; on an H100 with numba-cuda 0.30.4 that cost about
110 us per launch, and copying the small per-call constants (the fill values, the matrices) to
the device and wrapping CuPy's stream another 20 us, while torch launches its ``grid_sample`` in
about 10 us (``benchmarks/RESULTS.md``, "GPU backend"). For an 8x3x1024^2 warp whose kernel runs
for 0.2 ms that overhead was more than the work.

This module keeps numba's compilation and its kernels, and skips the per-call typing:

- the first launch of a kernel for an argument signature (dtypes, dimensions, layouts, scalar
  types: :func:`_signature`) goes through numba's dispatcher, which compiles the kernel; the
  overload numba compiled for those types is then remembered;
- later launches with the same signature hand the remembered overload's CUDA function to
  ``cuda.core.launch`` (the call numba's own ``_Kernel.launch`` ends in) with the arguments laid
  out as numba's ``_Kernel._prepare_args`` lays them out (an array: meminfo, parent, size,
  itemsize, data pointer, shape, strides in bytes);
- small NumPy constants go to the device once and are reused while their bytes are unchanged
  (a bounded cache), and CuPy's stream is wrapped once per stream.

Where the installed numba-cuda lacks the pieces this relies on (``cuda.core``, the overload's
``_codelibrary``), or an argument is of a type not laid out here, the launch goes through numba's
dispatcher as before: slower, never different. The kernels' results do not depend on the path
(the same compiled function runs); ``tests/test_cuda.py`` checks them on a GPU either way.
"""

from __future__ import annotations

import ctypes
import os
from collections import OrderedDict

import numpy as np

_CONSTANTS_KEPT = 64  # small NumPy arguments kept on the device, most recently used first
_CONSTANT_BYTES = 4096  # larger NumPy arguments are copied at every launch, never kept

FAST = os.environ.get("GSWARP_CUDA_FAST_LAUNCH", "1") != "0"
"""False (``GSWARP_CUDA_FAST_LAUNCH=0``): every launch goes through numba's dispatcher."""


class _UnsupportedError(Exception):
    """An argument or a numba-cuda version the fast path does not handle."""


_overloads: dict = {}  # (kernel id, device, signature) -> _PreparedLaunch, or None: numba's
_streams: dict = {}  # CuPy stream pointer -> (numba stream, cuda.core stream)
_constants: OrderedDict = OrderedDict()  # (bytes, dtype, shape, device) -> CuPy array


def launch(kernel, blocks: int, threads: int, args: tuple) -> None:
    """``kernel[blocks, threads, stream](*args)`` on CuPy's current stream, where ``args`` hold
    CuPy arrays, small NumPy arrays (copied to the device, cached), and scalars."""
    import cupy

    device = cupy.cuda.runtime.getDevice()
    device_args = tuple(
        _on_device(a, cupy, device) if isinstance(a, np.ndarray) else a for a in args
    )
    stream, core_stream = _stream(cupy.cuda.get_current_stream().ptr)
    key = (id(kernel), device, _signature(device_args))
    fast = FAST and core_stream is not None
    prepared = _overloads.get(key, False) if fast else None
    if prepared:
        prepared.launch(blocks, threads, core_stream, device_args)
        return
    kernel[blocks, threads, stream](*device_args)
    if prepared is False:  # first launch with these types: remember numba's overload
        _overloads[key] = _prepared_launch(kernel, device_args)


def _on_device(array: np.ndarray, cupy, device: int):
    """A device copy of a small NumPy argument, reused while its bytes are the same (the
    kernels only read these arguments)."""
    if array.nbytes > _CONSTANT_BYTES:
        return cupy.asarray(array)
    key = (array.tobytes(), array.dtype.str, array.shape, device)
    copy = _constants.get(key)
    if copy is None:
        copy = cupy.asarray(array)
        _constants[key] = copy
        if len(_constants) > _CONSTANTS_KEPT:
            _constants.popitem(last=False)
    else:
        _constants.move_to_end(key)
    return copy


def _stream(pointer: int) -> tuple:
    """numba's and cuda.core's wrappers of the CUDA stream at ``pointer`` (None for cuda.core
    where it is missing)."""
    streams = _streams.get(pointer)
    if streams is None:
        from numba import cuda

        try:
            from cuda.core import Stream

            core = Stream.from_handle(pointer)
        except (ImportError, AttributeError):
            core = None
        streams = _streams[pointer] = (cuda.external_stream(pointer), core)
    return streams


def _signature(args: tuple) -> tuple:
    """What decides numba's argument types: an array's dtype, dimensions and layout, a scalar's
    Python or NumPy type."""
    signature = []
    for a in args:
        if hasattr(a, "__cuda_array_interface__"):
            flags = a.flags
            signature.append((a.dtype.str, a.ndim, flags.c_contiguous, flags.f_contiguous))
        else:
            signature.append(type(a))
    return tuple(signature)


class _PreparedLaunch:
    """One compiled overload ready to launch: its CUDA function and, per argument, how numba
    lays it out (:func:`_packer`), both looked up once instead of at every call."""

    __slots__ = ("configs", "core", "function", "packers")

    def __init__(self, core, function, packers: tuple) -> None:
        self.core = core  # the cuda.core module
        self.function = function
        self.packers = packers
        self.configs: dict = {}  # (blocks, threads) -> cuda.core LaunchConfig

    def launch(self, blocks: int, threads: int, stream, args: tuple) -> None:
        config = self.configs.get((blocks, threads))
        if config is None:
            config = self.configs[blocks, threads] = self.core.LaunchConfig(
                grid=blocks, block=threads, shmem_size=0
            )
        values: list = []
        for pack, a in zip(self.packers, args, strict=True):
            pack(a, values)
        self.core.launch(stream, config, self.function, *values)


def _prepared_launch(kernel, args: tuple) -> _PreparedLaunch | None:
    """The overload numba compiled for ``args``' types, ready for the fast path; None where the
    fast path cannot launch it."""
    try:
        import cuda.core as core  # numba-cuda >= 0.2x launches with it

        core.LaunchConfig, core.launch  # noqa: B018  (both must exist)

        types = tuple(kernel.typeof_pyval(a) for a in args)
        overload = kernel.overloads.get(types)
        if overload is None or overload.debug or overload.cooperative:
            return None
        packers = tuple(_packer(t) for t in overload.argument_types)
        for pack, a in zip(packers, args, strict=True):
            pack(a, [])
        function = overload._codelibrary.get_cufunc().kernel
    except (ImportError, AttributeError, _UnsupportedError):
        return None
    return _PreparedLaunch(core, function, packers)


def _pack_array(value, values: list) -> None:
    values += (0, 0, value.size, value.dtype.itemsize, value.data.ptr)
    values += value.shape
    values += value.strides


def _pack_plain(value, values: list) -> None:
    values.append(value)


def _pack_as(ctype):
    def pack(value, values: list) -> None:
        values.append(ctype(value))

    return pack


def _packer(numba_type):
    """How numba-cuda's ``_Kernel._prepare_args`` passes an argument of ``numba_type``: a
    function ``pack(value, values)`` appending it to the launch's values."""
    from numba.core import types

    if isinstance(numba_type, types.Array):
        return _pack_array
    if numba_type == types.boolean:
        return _pack_plain
    if isinstance(numba_type, types.Integer):
        return _pack_as(getattr(ctypes, f"c_{numba_type}"))
    if numba_type == types.float64:
        return _pack_as(ctypes.c_double)
    if numba_type == types.float32:
        return _pack_as(ctypes.c_float)
    raise _UnsupportedError(numba_type)
