"""Shared fixtures. torch is an optional oracle: tests that need it skip with a reason."""

from __future__ import annotations

import numpy as np
import pytest


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(12345)


def torch_or_skip():
    """Import torch, or skip the calling test with the reason."""
    return pytest.importorskip("torch", reason="torch is not installed: live parity tests skipped")


def gswarp_command(*arguments) -> list[str]:
    """A command line that runs this checkout's gswarp with this Python (as CI installs it)."""
    import sys

    return [sys.executable, "-m", "gswarp", *(str(a) for a in arguments)]


def voxel_sources(affine, shape, pull):
    """Where each voxel of a grid (``affine``: voxel -> RAS, spatial ``shape``) reads the input
    on the same grid, as continuous input voxel indices ``(3, N)`` in C order over ``shape``
    (``pull``: output RAS -> input RAS): the field-of-view masks of the transform-file tests."""
    sampling = np.linalg.inv(affine) @ pull @ affine
    ijk = np.indices(tuple(shape)).reshape(3, -1).astype(np.float64)
    return sampling[:3, :3] @ ijk + sampling[:3, 3:]
