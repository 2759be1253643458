"""The sampling engine: torch-compatible ``grid_sample``, ``affine_grid`` and the fused
``affine_sample``. numba is imported only when a kernel first runs."""

from gswarp.engine.api import affine_grid, affine_sample, grid_sample, sample_pixels, warp_affine

__all__ = ["affine_grid", "affine_sample", "grid_sample", "sample_pixels", "warp_affine"]
