"""Parity with torch through committed fixtures (``tools/make_golden.py``): runs without torch.

The fixtures hold torch's CPU results (under the rules written in ``tests/oracles.py``) for every
mode x padding x align_corners x dtype, 2-D and 3-D, on odd, non-square and size-1 inputs, with
grids holding pixel centres, half-pixel ties, edges, far points and NaN/inf. ``grid_sample`` and
``affine_grid`` must equal them bit for bit, for contiguous and strided inputs alike;
``affine_sample`` must agree with torch's two-step result within ``oracles.FUSED_BOUND``.
"""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pytest

import gswarp
from tests import oracles

GOLDEN = np.load(Path(__file__).parent / "data" / "golden_torch.npz")


def _cases(prefix: str, depth: int) -> list[str]:
    """The distinct case keys under ``prefix``: the first ``depth`` parts of each key."""
    keys = {"/".join(k.split("/")[:depth]) for k in GOLDEN.files if k.startswith(prefix + "/")}
    return sorted(keys)


GRID_CASES = _cases("grid_sample", 5)  # grid_sample/DTYPE/S/SHAPE/A
AFFINE_GRID_CASES = _cases("affine_grid", 4)  # affine_grid/DTYPE/SIZE/A
AFFINE_SAMPLE_CASES = _cases("affine_sample", 4)  # affine_sample/DTYPE/S/A
MODES_PADDINGS = list(itertools.product(oracles.MODES, oracles.PADDINGS))


def test_fixtures_cover_every_promise():
    """Every dtype, dimension, align_corners, mode and padding, and the awkward shapes."""
    assert len(GRID_CASES) == 2 * (4 + 3) * 2
    for case, (mode, padding) in itertools.product(GRID_CASES, MODES_PADDINGS):
        assert f"{case}/out/{mode}/{padding}" in GOLDEN.files
    shapes = [GOLDEN[f"{case}/input"].shape for case in GRID_CASES]
    assert any(1 in s[2:] and len(s) == 4 for s in shapes)
    assert any(1 in s[2:] and len(s) == 5 for s in shapes)
    assert any(len(set(s[2:])) == len(s) - 2 for s in shapes), "non-square inputs missing"
    assert len(AFFINE_GRID_CASES) == 2 * 6 * 2
    assert len(AFFINE_SAMPLE_CASES) == 2 * 2 * 2


@pytest.mark.parametrize("case", GRID_CASES)
def test_fixtures_hold_adversarial_points(case):
    """Ties, centres, edges, far-away and non-finite points in every grid, or they prove little."""
    grid = GOLDEN[f"{case}/grid"].astype(np.float64)
    align = case.endswith("/1")
    x = grid[..., 0]
    assert np.any(np.isnan(x)) and np.any(np.isposinf(x)) and np.any(np.isneginf(x))
    assert np.any(np.abs(x) == 1e4)
    assert np.any(x == 1.0) and np.any(x == -1.0)
    width = GOLDEN[f"{case}/input"].shape[-1]
    finite = x[np.isfinite(x)]
    pixel = (finite + 1) / 2 * (width - 1) if align else ((finite + 1) * width - 1) / 2
    if width > 1 or not align:
        assert np.any(np.isclose(pixel % 1, 0.5, rtol=0, atol=1e-6)), "half-pixel ties missing"
    assert np.any(np.isclose(pixel % 1, 0.0, rtol=0, atol=1e-6)), "pixel centres missing"


@pytest.mark.parametrize("layout", oracles.LAYOUTS)
@pytest.mark.parametrize(("mode", "padding"), MODES_PADDINGS)
@pytest.mark.parametrize("case", GRID_CASES)
def test_grid_sample_matches_torch_bit_for_bit(case, mode, padding, layout):
    x = GOLDEN[f"{case}/input"]
    three_d_bicubic = x.ndim == 5 and mode == "bicubic"
    grid = GOLDEN[f"{case}/slab" if three_d_bicubic else f"{case}/grid"]
    expected = GOLDEN[f"{case}/out/{mode}/{padding}"]
    got = gswarp.grid_sample(oracles.laid_out(x, layout), grid, mode, padding, case.endswith("/1"))
    assert got.dtype == expected.dtype
    np.testing.assert_array_equal(got, expected)


@pytest.mark.parametrize("case", AFFINE_GRID_CASES)
def test_affine_grid_matches_torch_bit_for_bit(case):
    theta = GOLDEN[f"{case}/theta"]
    expected = GOLDEN[f"{case}/grid"]
    size = tuple(int(s) for s in case.split("/")[2].split("x"))
    got = gswarp.affine_grid(theta, size, case.endswith("/1"))
    assert got.dtype == expected.dtype
    np.testing.assert_array_equal(got, expected)


@pytest.mark.parametrize(("mode", "padding"), MODES_PADDINGS)
@pytest.mark.parametrize("case", AFFINE_SAMPLE_CASES)
def test_affine_sample_agrees_with_torch_two_step(case, mode, padding):
    align = case.endswith("/1")
    x = GOLDEN[f"{case}/input"]
    prefix = "slab_" if x.ndim == 5 and mode == "bicubic" else ""
    theta = GOLDEN[f"{case}/{prefix}theta"]
    size = tuple(int(s) for s in GOLDEN[f"{case}/{prefix}size"])
    expected = GOLDEN[f"{case}/out/{mode}/{padding}"]
    got = gswarp.affine_sample(x, theta, size, mode, padding, align)
    if mode == "nearest":
        ties = oracles.near_a_tie(GOLDEN[f"{case}/{prefix}grid"], x.shape[2:], theta, align)
        ties = np.broadcast_to(ties[:, None], expected.shape)
        assert ties.mean() < 0.05
        np.testing.assert_array_equal(got[~ties], expected[~ties])
    else:
        worst = float(np.max(np.abs(got.astype(np.float64) - expected)))
        assert worst <= oracles.fused_tolerance(x, theta)
