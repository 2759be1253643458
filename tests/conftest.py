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
