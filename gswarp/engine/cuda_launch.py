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


_overloads: dict = {}  # (kernel id, signature) -> numba overload, or None: use the dispatcher
_streams: dict = {}  # CuPy stream pointer -> (numba stream, cuda.core stream)
_constants: OrderedDict = OrderedDict()  # (bytes, dtype, shape, device) -> CuPy array


def launch(kernel, blocks: int, threads: int, args: tuple) -> None:
    """``kernel[blocks, threads, stream](*args)`` on CuPy's current stream, where ``args`` hold
    CuPy arrays, small NumPy arrays (copied to the device, cached), and scalars."""
    import cupy

    device_args = tuple(_on_device(a, cupy) if isinstance(a, np.ndarray) else a for a in args)
    stream, core_stream = _stream(cupy.cuda.get_current_stream().ptr)
    key = (id(kernel), cupy.cuda.runtime.getDevice(), _signature(device_args))
    fast = FAST and core_stream is not None
    overload = _overloads.get(key, False) if fast else None
    if overload:
        _launch_overload(overload, blocks, threads, core_stream, device_args)
        return
    kernel[blocks, threads, stream](*device_args)
    if overload is False:  # first launch with these types: remember numba's overload
        _overloads[key] = _compiled_overload(kernel, device_args)


def _on_device(array: np.ndarray, cupy):
    """A device copy of a small NumPy argument, reused while its bytes are the same (the
    kernels only read these arguments)."""
    if array.nbytes > _CONSTANT_BYTES:
        return cupy.asarray(array)
    key = (array.tobytes(), array.dtype.str, array.shape, cupy.cuda.runtime.getDevice())
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


def _compiled_overload(kernel, args: tuple):
    """The overload numba compiled for ``args``' types, if the fast path can launch it."""
    try:
        from cuda.core import LaunchConfig  # noqa: F401  (numba-cuda >= 0.2x launches with it)

        types = tuple(kernel.typeof_pyval(a) for a in args)
        overload = kernel.overloads.get(types)
        if overload is None or overload.debug or overload.cooperative:
            return None
        for t, a in zip(overload.argument_types, args, strict=True):
            _arguments(t, a, [])  # raises _UnsupportedError for a type not laid out here
        overload._codelibrary.get_cufunc().kernel  # noqa: B018  (the attribute must exist)
    except (ImportError, AttributeError, _UnsupportedError):
        return None
    return overload


def _launch_overload(overload, blocks, threads, stream, args) -> None:
    from cuda.core import LaunchConfig
    from cuda.core import launch as core_launch

    values: list = []
    for t, a in zip(overload.argument_types, args, strict=True):
        _arguments(t, a, values)
    config = LaunchConfig(grid=blocks, block=threads, shmem_size=0)
    core_launch(stream, config, overload._codelibrary.get_cufunc().kernel, *values)


def _arguments(numba_type, value, values: list) -> None:
    """Append ``value`` as numba-cuda's ``_Kernel._prepare_args`` passes an argument of
    ``numba_type``."""
    from numba.core import types

    if isinstance(numba_type, types.Array):
        values += (0, 0, value.size, value.dtype.itemsize, value.data.ptr)
        values += value.shape
        values += value.strides
    elif numba_type == types.boolean:
        values.append(value)
    elif isinstance(numba_type, types.Integer):
        values.append(getattr(ctypes, f"c_{numba_type}")(value))
    elif numba_type == types.float64:
        values.append(ctypes.c_double(value))
    elif numba_type == types.float32:
        values.append(ctypes.c_float(value))
    else:
        raise _UnsupportedError(numba_type)
