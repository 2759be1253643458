"""grid_sample's backward pass (issue 17): gswarp.autodiff.grid_sample_backward against torch's
autograd -- committed fixtures (``tools/make_backward_fixtures.py``, run without torch) and live
where torch is installed -- and against finite differences, which need no oracle at all.

Tolerances (issue 17): relative to the largest gradient of the case, float64 <= 1e-10,
float32 <= 1e-5 (measured: the grid gradients are bit-identical; grad_input differs by float32
rounding where torch's vectorized kernel adds the contributions in another order, 7e-8).
"""

from __future__ import annotations

import itertools
import zlib
from pathlib import Path

import numba
import numpy as np
import pytest

import gswarp
from gswarp.autodiff import grid_sample_backward
from gswarp.errors import DTypeError, ShapeError, SpecError

FIXTURES = np.load(Path(__file__).parent / "data" / "backward_torch.npz")
TOLERANCE = {"float64": 1e-10, "float32": 1e-5}
MODES = ("bilinear", "nearest")
PADDINGS = ("zeros", "border", "reflection")
CASES = list(itertools.product(("float32", "float64"), (2, 3), MODES, PADDINGS, (False, True)))


def _relative(got: np.ndarray, expected: np.ndarray) -> float:
    scale = max(float(np.abs(expected).max()), 1e-30)
    return float(np.abs(got - expected).max()) / scale


@pytest.mark.parametrize(("dtype", "spatial", "mode", "padding", "align"), CASES)
def test_matches_torch_fixtures(dtype, spatial, mode, padding, align):
    key = f"{dtype}/{spatial}d"
    inputs = [FIXTURES[f"{key}/{name}"] for name in ("grad_output", "input", "grid")]
    grad_input, grad_grid = grid_sample_backward(*inputs, mode, padding, align)
    name = f"{key}/{mode}/{padding}/{int(align)}"
    assert grad_input.dtype == np.dtype(dtype) and grad_grid.dtype == np.dtype(dtype)
    assert _relative(grad_input, FIXTURES[f"{name}/grad_input"]) <= TOLERANCE[dtype]
    assert _relative(grad_grid, FIXTURES[f"{name}/grad_grid"]) <= TOLERANCE[dtype]
    if mode == "nearest":
        assert not grad_grid.any()


@pytest.mark.parametrize(("dtype", "spatial", "mode", "padding", "align"), CASES)
def test_matches_torch_live(dtype, spatial, mode, padding, align):
    torch = pytest.importorskip("torch", reason="torch is not installed (fixtures cover it)")
    rng = np.random.default_rng(zlib.crc32(repr((dtype, spatial, mode, padding, align)).encode()))
    shape = (2, 3, 6, 9) if spatial == 2 else (1, 2, 5, 4, 7)
    out = (5, 8) if spatial == 2 else (4, 3, 6)
    inp = rng.standard_normal(shape).astype(dtype)
    grid = rng.uniform(-1.2, 1.2, (shape[0], *out, spatial)).astype(dtype)
    grad_out = rng.standard_normal((shape[0], shape[1], *out)).astype(dtype)
    i = torch.tensor(inp, requires_grad=True)
    g = torch.tensor(grid, requires_grad=True)
    torch.nn.functional.grid_sample(
        i, g, mode=mode, padding_mode=padding, align_corners=align
    ).backward(torch.tensor(grad_out))
    grad_input, grad_grid = grid_sample_backward(grad_out, inp, grid, mode, padding, align)
    assert _relative(grad_input, i.grad.numpy()) <= TOLERANCE[dtype]
    assert _relative(grad_grid, g.grad.numpy()) <= TOLERANCE[dtype]


@pytest.mark.parametrize("spatial", [2, 3])
@pytest.mark.parametrize("padding", PADDINGS)
def test_grid_gradient_is_the_derivative(spatial, padding):
    """Central differences of sum(grad_output * grid_sample(...)) in float64, at points away
    from pixel edges (where the bilinear map has kinks)."""
    rng = np.random.default_rng(3)
    shape = (1, 2, 6, 7) if spatial == 2 else (1, 2, 4, 5, 6)
    out = (3, 4) if spatial == 2 else (2, 3, 2)
    inp = rng.standard_normal(shape)
    sizes = np.array(shape[2:][::-1], dtype=np.float64)  # (W, H[, D])
    pixels = rng.integers(0, sizes - 1, (1, *out, spatial)) + rng.uniform(
        0.2, 0.8, (1, *out, spatial)
    )
    grid = (2 * pixels + 1) / sizes - 1  # align_corners=False pixel -> normalized
    grad_out = rng.standard_normal((1, 2, *out))
    _, grad_grid = grid_sample_backward(grad_out, inp, grid, "bilinear", padding, False)
    step = 1e-6
    numeric = np.zeros_like(grid)
    for index in np.ndindex(grid.shape):
        plus, minus = grid.copy(), grid.copy()
        plus[index] += step
        minus[index] -= step
        high = (grad_out * gswarp.grid_sample(inp, plus, "bilinear", padding)).sum()
        low = (grad_out * gswarp.grid_sample(inp, minus, "bilinear", padding)).sum()
        numeric[index] = (high - low) / (2 * step)
    np.testing.assert_allclose(grad_grid, numeric, rtol=1e-6, atol=1e-8)


def test_input_gradient_is_the_adjoint_of_the_forward_pass():
    """grid_sample is linear in its input: <grad_input, x> = <grad_output, grid_sample(x)>."""
    rng = np.random.default_rng(5)
    inp = rng.standard_normal((2, 3, 8, 9))
    grid = rng.uniform(-1.1, 1.1, (2, 6, 5, 2))
    grad_out = rng.standard_normal((2, 3, 6, 5))
    for mode, padding in itertools.product(MODES, PADDINGS):
        grad_input, _ = grid_sample_backward(grad_out, inp, grid, mode, padding, needs=("input",))
        probe = rng.standard_normal(inp.shape)
        forward = gswarp.grid_sample(probe, grid, mode, padding)
        assert np.isclose((grad_input * probe).sum(), (grad_out * forward).sum(), rtol=1e-12)


def test_the_same_bytes_for_every_thread_count():
    rng = np.random.default_rng(7)
    inp = rng.standard_normal((1, 1, 40, 50)).astype(np.float32)
    grid = rng.uniform(-1, 1, (1, 64, 64, 2)).astype(np.float32)
    grad_out = rng.standard_normal((1, 1, 64, 64)).astype(np.float32)
    results = []
    before = numba.get_num_threads()
    try:
        for threads in sorted({1, numba.config.NUMBA_NUM_THREADS}):
            numba.set_num_threads(threads)
            results.append(grid_sample_backward(grad_out, inp, grid))
    finally:
        numba.set_num_threads(before)
    for grads in results[1:]:
        for got, first in zip(grads, results[0], strict=True):
            assert got.tobytes() == first.tobytes()


def test_non_finite_grid_points_have_zero_gradients():
    """gswarp's rule (torch's CPU kernel crashes or scatters NaN here): a NaN or infinite point
    adds nothing to grad_input and gets a zero grad_grid."""
    inp = np.ones((1, 1, 4, 4))
    grid = np.zeros((1, 1, 3, 2))
    grid[0, 0, 0, 0] = np.nan
    grid[0, 0, 1, 1] = np.inf
    grad_input, grad_grid = grid_sample_backward(
        np.ones((1, 1, 1, 3)), inp, grid, "bilinear", "border"
    )
    assert np.isfinite(grad_input).all() and grad_input.sum() == pytest.approx(1.0)
    assert not grad_grid[0, 0, :2].any()


def test_needs_and_bad_input():
    inp = np.zeros((1, 1, 4, 4))
    grid = np.zeros((1, 2, 2, 2))
    grad_out = np.zeros((1, 1, 2, 2))
    grad_input, grad_grid = grid_sample_backward(grad_out, inp, grid, needs=("grid",))
    assert grad_input is None and grad_grid.shape == grid.shape
    with pytest.raises(SpecError, match="bicubic backward pass is not built yet"):
        grid_sample_backward(grad_out, inp, grid, "bicubic")
    with pytest.raises(DTypeError, match="grid: expected the input's dtype float64"):
        grid_sample_backward(grad_out, inp, grid.astype(np.float32))
    with pytest.raises(DTypeError, match="expected float32 or float64"):
        grid_sample_backward(grad_out, inp.astype(np.int16), grid)
    with pytest.raises(ShapeError, match=r"grad_output: expected shape \(1, 1, 2, 2\)"):
        grid_sample_backward(np.zeros((1, 1, 3, 2)), inp, grid)
    with pytest.raises(SpecError, match="needs"):
        grid_sample_backward(grad_out, inp, grid, needs=("theta",))
