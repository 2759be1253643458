"""gswarp: warp images and volumes with the exact semantics of PyTorch's ``grid_sample``.

The public API works on NumPy arrays in torch's layouts, ``(N, C, H, W)`` and ``(N, C, D, H, W)``;
see :mod:`gswarp.engine.api` for the coordinate convention.
"""

from importlib.metadata import PackageNotFoundError, version

from gswarp.engine import affine_grid, affine_sample, grid_sample, sample_pixels, warp_affine
from gswarp.engine.tiles import warp_flow
from gswarp.errors import (
    BackendError,
    DTypeError,
    GswarpError,
    InputError,
    ShapeError,
    SpecError,
)
from gswarp.options import Mode, Padding

try:
    __version__ = version("gswarp")
except PackageNotFoundError:  # running from a source tree that was not installed
    __version__ = "0.0.0+unknown"

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
    "warp_affine",
    "warp_flow",
]
