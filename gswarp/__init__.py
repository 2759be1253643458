"""gswarp: warp images and volumes with the exact semantics of PyTorch's ``grid_sample``.

The public API works on NumPy arrays in torch's layouts, ``(N, C, H, W)`` and ``(N, C, D, H, W)``;
see :mod:`gswarp.engine.api` for the coordinate convention.

The sampling functions are imported on first use (PEP 562), so that ``import gswarp`` -- and every
``gswarp`` command that warps nothing -- does not pay for NumPy and the engine.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from gswarp.errors import (
    BackendError,
    DTypeError,
    GswarpError,
    InputError,
    ShapeError,
    SpecError,
)
from gswarp.sampling import Mode, Padding

if TYPE_CHECKING:
    from gswarp.engine import affine_grid, affine_sample, grid_sample, sample_pixels, warp_affine
    from gswarp.engine.threads import set_num_threads
    from gswarp.engine.tiles import warp_flow

_LAZY = {
    "set_num_threads": "gswarp.engine.threads",
    "affine_grid": "gswarp.engine",
    "affine_sample": "gswarp.engine",
    "grid_sample": "gswarp.engine",
    "sample_pixels": "gswarp.engine",
    "warp_affine": "gswarp.engine",
    "warp_flow": "gswarp.engine.tiles",
}


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("gswarp")
    except PackageNotFoundError:  # running from a source tree that was not installed
        return "0.0.0+unknown"


def __getattr__(name: str) -> Any:
    if name == "__version__":  # reading the installed metadata costs ~10 ms: only when asked
        globals()[name] = _version()
        return globals()[name]
    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value  # once loaded, a plain attribute
        return value
    raise AttributeError(f"module 'gswarp' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(__all__)


__all__ = [
    "BackendError",
    "DTypeError",
    "GswarpError",
    "InputError",
    "Mode",
    "Padding",
    "ShapeError",
    "SpecError",
    "__version__",
    "affine_grid",
    "affine_sample",
    "grid_sample",
    "sample_pixels",
    "set_num_threads",
    "warp_affine",
    "warp_flow",
]
