"""Which array module and which backend: NumPy arrays run on the CPU kernels, CuPy arrays on the
CUDA kernels (:mod:`gswarp.engine.cuda_core`), as SciPy hands CuPy arrays to ``cupyx``.

CuPy is recognised by the array's type, without importing it: ``import gswarp`` never imports
CuPy. :func:`use_backend` forces the CUDA kernels for NumPy arrays too (copied to the device
and back); the tests use it with the kernels' host build on machines without a GPU.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from typing import Any

import numpy as np

from gswarp.errors import BackendError, first_line

__all__ = [
    "backend_for",
    "cuda_status",
    "cupy_module",
    "host",
    "is_device_array",
    "resolve_device",
    "use_backend",
]

_FORCED = threading.local()


_DEVICE_TYPES: dict[type, bool] = {np.ndarray: False}  # type -> is it CuPy's array type


def is_device_array(value: Any) -> bool:
    """True for a CuPy array (checked by type: CuPy is not imported; the answer per type is
    remembered, as every call of the API asks it several times)."""
    kind = type(value)
    answer = _DEVICE_TYPES.get(kind)
    if answer is None:
        answer = kind.__module__.split(".")[0] == "cupy" and hasattr(
            kind, "__cuda_array_interface__"
        )
        if len(_DEVICE_TYPES) < 256:
            _DEVICE_TYPES[kind] = answer
    return answer


@contextlib.contextmanager
def use_backend(name: str) -> Iterator[None]:
    """Within the block, sample with backend ``name`` ('cpu' or 'cuda') whatever the arrays are
    (CuPy arrays always run on 'cuda')."""
    if name not in ("cpu", "cuda"):
        raise ValueError(f"backend: expected 'cpu' or 'cuda', got {name!r}")
    previous = getattr(_FORCED, "name", None)
    _FORCED.name = name
    try:
        yield
    finally:
        _FORCED.name = previous


def backend_for(input: Any) -> str:
    """'cuda' for CuPy arrays or inside ``use_backend('cuda')``, else 'cpu'."""
    if is_device_array(input):
        return "cuda"
    return getattr(_FORCED, "name", None) or "cpu"


def cupy_module():
    """CuPy, imported on first need; a clear error naming the extra when it is missing."""
    try:
        import cupy
    except ImportError as error:
        raise BackendError(
            f"the CUDA backend needs CuPy ({error}); install the extra: "
            "pip install 'gswarp[cuda]' (see the README for the CUDA version)"
        ) from None
    return cupy


def host(value: Any) -> Any:
    """A NumPy copy of a CuPy array; anything else as it is."""
    return value.get() if is_device_array(value) else value


def module_of(value: Any):
    """The array module of ``value``: numpy, or cupy for a CuPy array."""
    return cupy_module() if is_device_array(value) else np


def cuda_status() -> tuple[bool, str]:
    """(usable, description) of the CUDA backend: CuPy, its run-time compiler (NVRTC, which
    builds the kernels on first use) and a device, each checked without failing (for
    ``gswarp info`` and ``--device auto``)."""
    try:
        import cupy
    except ImportError:
        return False, "not available (CuPy is not installed: pip install 'gswarp[cuda]')"
    try:
        count = cupy.cuda.runtime.getDeviceCount()
    except cupy.cuda.runtime.CUDARuntimeError as error:
        return False, f"no usable device ({error})"
    if count == 0:
        return False, "no CUDA device"
    try:
        major, minor = cupy.cuda.nvrtc.getVersion()
    except Exception as error:  # the library missing or not loadable: CuPy's own errors
        return False, (
            f"not usable: CuPy {cupy.__version__} cannot load NVRTC, the CUDA run-time compiler "
            f"gswarp's kernels are built with ({first_line(error)}): install the CUDA "
            "toolkit's NVRTC (pip install 'gswarp[cuda]' brings it)"
        )
    device = cupy.cuda.Device()
    name = cupy.cuda.runtime.getDeviceProperties(device.id)["name"].decode()
    _, total = device.mem_info
    version = cupy.cuda.runtime.runtimeGetVersion()
    return True, (
        f"{name} (device {device.id} of {count}, {total / 2**30:.0f} GiB, "
        f"compute capability {device.compute_capability}), CUDA runtime "
        f"{version // 1000}.{version % 1000 // 10}, NVRTC {major}.{minor}, CuPy {cupy.__version__}"
    )


def _version(distribution: str) -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(distribution)
    except PackageNotFoundError:
        return "unknown"


def resolve_device(name: str) -> str:
    """'cpu' or 'cuda' for a ``--device`` value ('cpu', 'cuda' or 'auto').

    Raises
    ------
    BackendError
        'cuda' was asked for and the backend is not usable; the message says why.
    """
    if name == "cpu":
        return "cpu"
    usable, description = cuda_status()
    if name == "auto":
        return "cuda" if usable else "cpu"
    if not usable:
        raise BackendError(f"--device cuda: the CUDA backend is {description}")
    return "cuda"
