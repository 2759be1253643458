"""The sampling engine: torch-compatible ``grid_sample``, ``affine_grid`` and the fused
``affine_sample``, on the compiled core (:mod:`gswarp.engine.core`) or, for CuPy arrays, CUDA."""

from gswarp.engine.api import affine_grid, affine_sample, grid_sample, sample_pixels, warp_affine

__all__ = ["affine_grid", "affine_sample", "grid_sample", "sample_pixels", "warp_affine"]
