"""Parity with torch through committed fixtures (tools/make_golden.py): runs without torch.

The fixtures were produced by torch's CPU kernels; gswarp reproduces their float32 and float64
rounding, so every comparison here is exact.
"""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pytest

import gswarp

GOLDEN = np.load(Path(__file__).parent / "data" / "golden_torch.npz")
DTYPES = ("float32", "float64")
PADDINGS = ("zeros", "border", "reflection")


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("align", [False, True])
@pytest.mark.parametrize(
    ("mode", "padding"), list(itertools.product(("bilinear", "nearest", "bicubic"), PADDINGS))
)
def test_grid_sample_2d_matches_torch_bit_for_bit(dtype, align, mode, padding):
    x = GOLDEN[f"{dtype}/input2d"]
    grid = GOLDEN[f"{dtype}/grid2d/{align}"]
    expected = GOLDEN[f"{dtype}/out2d/{mode}/{padding}/{align}"]
    got = gswarp.grid_sample(x, grid, mode, padding, align)
    np.testing.assert_array_equal(got, expected)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("align", [False, True])
@pytest.mark.parametrize(
    ("mode", "padding"), list(itertools.product(("bilinear", "nearest"), PADDINGS))
)
def test_grid_sample_3d_matches_torch_bit_for_bit(dtype, align, mode, padding):
    x = GOLDEN[f"{dtype}/input3d"]
    grid = GOLDEN[f"{dtype}/grid3d/{align}"]
    expected = GOLDEN[f"{dtype}/out3d/{mode}/{padding}/{align}"]
    got = gswarp.grid_sample(x, grid, mode, padding, align)
    np.testing.assert_array_equal(got, expected)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("align", [False, True])
@pytest.mark.parametrize("size", [(2, 1, 7, 9), (2, 1, 1, 5), (2, 3, 4, 3, 6), (2, 1, 1, 3, 1)])
def test_affine_grid_matches_torch_bit_for_bit(dtype, align, size):
    key = "x".join(str(s) for s in size)
    theta = GOLDEN[f"{dtype}/theta/{key}/{align}"]
    expected = GOLDEN[f"{dtype}/affine_grid/{key}/{align}"]
    got = gswarp.affine_grid(theta, size, align)
    assert got.dtype == expected.dtype
    np.testing.assert_array_equal(got, expected)


def test_fixtures_hold_adversarial_points():
    """The fixtures must exercise ties, edges and far-away points, or they prove little."""
    grid = GOLDEN["float64/grid2d/False"]
    x = grid[..., 0]
    assert np.any(np.abs(x) >= 1e4)
    assert np.any(x == 1.0) and np.any(x == -1.0)
    width = GOLDEN["float64/input2d"].shape[-1]
    pixel = ((x + 1) * width - 1) / 2
    assert np.any(pixel % 1 == 0.5), "half-pixel ties missing"
    assert np.any(pixel % 1 == 0.0), "pixel centres missing"
