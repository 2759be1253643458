"""grid_sample's backward pass (issue 17): gswarp.autodiff.grid_sample_backward against torch's
autograd -- committed fixtures (``tools/make_backward_fixtures.py``, run without torch) and live
where torch is installed -- and against finite differences, which need no oracle at all.

Tolerances (issue 17): relative to the largest gradient of the case, float64 <= 1e-10,
float32 <= 1e-5 (measured: bilinear/trilinear/nearest grid gradients are bit-identical; grad_input
differs by float32 rounding where torch's vectorized kernel adds the contributions in another
order, 7e-8; bicubic, whose float32 order torch does not pin down, 1.3e-7; theta through
``affine_grid`` 5.9e-7, through the fused ``affine_sample_backward`` 2.4e-6 -- its coordinates
are computed in float64 where torch rounds a grid to float32).
"""

from __future__ import annotations

import itertools
import zlib
from pathlib import Path

import numpy as np
import pytest

import gswarp
from gswarp.autodiff import (
    affine_grid_backward,
    affine_sample_backward,
    grid_sample_backward,
    warp_affine_backward,
    warp_flow_backward,
)
from gswarp.engine.threads import default_threads
from gswarp.errors import DTypeError, ShapeError, SpecError

FIXTURES = np.load(Path(__file__).parent / "data" / "backward_torch.npz")
TOLERANCE = {"float64": 1e-10, "float32": 1e-5}
MODES = {2: ("bilinear", "nearest", "bicubic"), 3: ("bilinear", "nearest")}  # torch's
PADDINGS = ("zeros", "border", "reflection")
CASES = [
    (dtype, spatial, mode, padding, align)
    for dtype, spatial in itertools.product(("float32", "float64"), (2, 3))
    for mode, padding, align in itertools.product(MODES[spatial], PADDINGS, (False, True))
]
AFFINE_CASES = [
    (dtype, spatial, mode, align)
    for dtype, spatial in itertools.product(("float32", "float64"), (2, 3))
    for mode, align in itertools.product(MODES[spatial], (False, True))
]


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


def _numeric_gradient(loss, x: np.ndarray, step: float = 1e-6) -> np.ndarray:
    """Central differences of the scalar ``loss(x)`` for every element of ``x`` (float64)."""
    numeric = np.zeros_like(x)
    for index in np.ndindex(x.shape):
        plus, minus = x.copy(), x.copy()
        plus[index] += step
        minus[index] -= step
        numeric[index] = (loss(plus) - loss(minus)) / (2 * step)
    return numeric


@pytest.mark.parametrize("spatial", [2, 3])
@pytest.mark.parametrize("padding", PADDINGS)
@pytest.mark.parametrize("mode", ["bilinear", "bicubic"])
def test_grid_gradient_is_the_derivative(spatial, padding, mode):
    """Central differences of sum(grad_output * grid_sample(...)) in float64, at points away
    from pixel edges (where the bilinear map has kinks and bicubic's taps change), some of them
    outside the input (zeros padding then reads a fill of 0.5: gswarp's own path, as tricubic)."""
    rng = np.random.default_rng(3)
    shape = (1, 2, 6, 7) if spatial == 2 else (1, 2, 4, 5, 6)
    out = (3, 4) if spatial == 2 else (2, 3, 2)
    inp = rng.standard_normal(shape)
    sizes = np.array(shape[2:][::-1], dtype=np.float64)  # (W, H[, D])
    pixels = rng.integers(-1, sizes, (1, *out, spatial)) + rng.uniform(0.2, 0.8, (1, *out, spatial))
    grid = (2 * pixels + 1) / sizes - 1  # align_corners=False pixel -> normalized
    grad_out = rng.standard_normal((1, 2, *out))
    fill = 0.5 if padding == "zeros" else 0.0
    _, grad_grid = grid_sample_backward(grad_out, inp, grid, mode, padding, False, fill=fill)

    def loss(g):
        return (grad_out * gswarp.grid_sample(inp, g, mode, padding, fill=fill)).sum()

    np.testing.assert_allclose(grad_grid, _numeric_gradient(loss, grid), rtol=1e-6, atol=1e-8)


def test_input_gradient_is_the_adjoint_of_the_forward_pass():
    """grid_sample is linear in its input: <grad_input, x> = <grad_output, grid_sample(x)>."""
    rng = np.random.default_rng(5)
    inp = rng.standard_normal((2, 3, 8, 9))
    grid = rng.uniform(-1.1, 1.1, (2, 6, 5, 2))
    grad_out = rng.standard_normal((2, 3, 6, 5))
    for mode, padding in itertools.product(MODES[2], PADDINGS):
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
    try:
        for threads in (1, 2, 3):
            gswarp.set_num_threads(threads)
            results.append(grid_sample_backward(grad_out, inp, grid))
    finally:
        gswarp.set_num_threads(default_threads())
    for grads in results[1:]:
        for got, first in zip(grads, results[0], strict=True):
            assert got.tobytes() == first.tobytes()


@pytest.mark.parametrize("spatial", [2, 3])
def test_grad_input_is_the_same_bytes_for_every_scatter_layout(spatial, monkeypatch):
    """The scatter's jobs own bands of input rows (slices), one channel or all of a batch
    item's: points whose corners straddle two bands, reflections and clipped borders must add
    the same terms in the same order whatever the bands and the channel grouping; the 2-D grid
    gradient, one pass per channel or all at once, must carry the same sums."""
    import gswarp.autodiff as autodiff

    rng = np.random.default_rng(17)
    size = (7, 9, 11)[-spatial:]
    inp = rng.standard_normal((2, 3, *size)).astype(np.float32)
    grid = rng.uniform(-1.3, 1.3, (2, *(6,) * spatial, spatial)).astype(np.float32)
    grad_out = rng.standard_normal((2, 3, *(6,) * spatial)).astype(np.float32)
    matrix = np.tile(np.eye(spatial, spatial + 1) * 1.2 + 0.4, (2, 1, 1))
    for mode, padding in itertools.product(("bilinear", "nearest", "bicubic"), PADDINGS):
        results = []
        for bands, local in itertools.product((1, 2, 3, 5, 13), (False, True)):
            monkeypatch.setattr(autodiff, "_scatter_bands", lambda _groups, _extent, b=bands: b)
            monkeypatch.setattr(autodiff, "_is_local", lambda *_args, v=local: v)
            by_grid, grid_grad = grid_sample_backward(grad_out, inp, grid, mode, padding)
            by_matrix, _ = warp_affine_backward(grad_out, inp, matrix, mode, padding, needs="input")
            results.append((by_grid.tobytes(), grid_grad.tobytes(), by_matrix.tobytes()))
        assert all(r == results[0] for r in results[1:]), (mode, padding)


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
    with pytest.raises(DTypeError, match="grid: expected the input's dtype float64"):
        grid_sample_backward(grad_out, inp, grid.astype(np.float32))
    with pytest.raises(DTypeError, match="expected float32 or float64"):
        grid_sample_backward(grad_out, inp.astype(np.int16), grid)
    with pytest.raises(ShapeError, match=r"grad_output: expected shape \(1, 1, 2, 2\)"):
        grid_sample_backward(np.zeros((1, 1, 3, 2)), inp, grid)
    with pytest.raises(SpecError, match="needs"):
        grid_sample_backward(grad_out, inp, grid, needs=("theta",))


@pytest.mark.parametrize(("dtype", "spatial", "mode", "align"), AFFINE_CASES)
def test_theta_gradient_matches_torch_fixtures(dtype, spatial, mode, align):
    """torch's theta.grad through affine_grid + grid_sample: gswarp's two steps (the same grid)
    and the fused affine_sample_backward (no grid; float64 coordinates)."""
    key = f"{dtype}/{spatial}d/affine"
    grad_out, inp, theta = (FIXTURES[f"{key}/{name}"] for name in ("grad_output", "input", "theta"))
    expected_theta = FIXTURES[f"{key}/{mode}/{int(align)}/grad_theta"]
    expected_input = FIXTURES[f"{key}/{mode}/{int(align)}/grad_input"]
    grid = gswarp.affine_grid(theta, grad_out.shape, align)
    grad_input, grad_grid = grid_sample_backward(grad_out, inp, grid, mode, "zeros", align)
    grad_theta = affine_grid_backward(grad_grid, grad_out.shape, align)
    assert grad_theta.dtype == np.dtype(dtype)
    assert _relative(grad_theta, expected_theta) <= TOLERANCE[dtype]
    assert _relative(grad_input, expected_input) <= TOLERANCE[dtype]
    grad_input, grad_theta = affine_sample_backward(grad_out, inp, theta, mode, "zeros", align)
    assert grad_theta.dtype == np.dtype(dtype) and grad_theta.shape == theta.shape
    assert _relative(grad_theta, expected_theta) <= TOLERANCE[dtype]
    assert _relative(grad_input, expected_input) <= TOLERANCE[dtype]


@pytest.mark.parametrize("spatial", [2, 3])
@pytest.mark.parametrize("padding", PADDINGS)
def test_theta_gradient_matches_torch_live(spatial, padding):
    torch = pytest.importorskip("torch", reason="torch is not installed (fixtures cover it)")
    rng = np.random.default_rng(spatial * 10 + len(padding))
    inp = rng.standard_normal((1, 2, 8, 9) if spatial == 2 else (1, 1, 5, 6, 7))
    size = (1, inp.shape[1], 6, 7) if spatial == 2 else (1, 1, 4, 5, 6)
    theta = np.eye(spatial, spatial + 1) + rng.uniform(-0.3, 0.3, (1, spatial, spatial + 1))
    grad_out = rng.standard_normal(size)
    for mode in MODES[spatial]:
        t = torch.tensor(theta, requires_grad=True)
        grid = torch.nn.functional.affine_grid(t, size, align_corners=False)
        torch.nn.functional.grid_sample(
            torch.tensor(inp), grid, mode=mode, padding_mode=padding, align_corners=False
        ).backward(torch.tensor(grad_out))
        _, grad_theta = affine_sample_backward(grad_out, inp, theta, mode, padding)
        assert _relative(grad_theta, t.grad.numpy()) <= 1e-10


@pytest.mark.parametrize("spatial", [2, 3])
@pytest.mark.parametrize("mode", ["bilinear", "bicubic"])
@pytest.mark.parametrize("align", [False, True])
def test_fused_theta_gradient_is_the_derivative(spatial, mode, align):
    """Central differences of sum(grad_output * affine_sample(input, theta)) for theta, with an
    output size other than the input's (the un-normalization of both grids enters theta's
    gradient) -- tricubic on volumes is gswarp's own."""
    rng = np.random.default_rng(11)
    inp = rng.standard_normal((2, 2, 7, 8) if spatial == 2 else (1, 2, 5, 6, 7))
    size = (inp.shape[0], 2, 5, 9) if spatial == 2 else (1, 2, 4, 3, 5)
    theta = np.eye(spatial, spatial + 1) * 0.8 + rng.uniform(
        -0.15, 0.15, (inp.shape[0], spatial, spatial + 1)
    )
    grad_out = rng.standard_normal(size)
    _, grad_theta = affine_sample_backward(grad_out, inp, theta, mode, "zeros", align)

    def loss(t):
        return (grad_out * gswarp.affine_sample(inp, t, size, mode, "zeros", align)).sum()

    numeric = _numeric_gradient(loss, theta, step=1e-7)
    np.testing.assert_allclose(grad_theta, numeric, rtol=1e-5, atol=1e-6)


def test_warp_affine_gradient_is_the_derivative_and_thread_independent():
    rng = np.random.default_rng(13)
    inp = rng.standard_normal((1, 1, 30, 40)).astype(np.float32)
    matrix = np.array([[0.91373, 0.20717, 3.31191], [-0.15233, 1.09413, 2.68771]])  # no kink hit
    grad_out = rng.standard_normal((1, 1, 25, 33)).astype(np.float32)
    results = []
    try:
        for threads in (1, 2, 3):
            gswarp.set_num_threads(threads)
            results.append(warp_affine_backward(grad_out, inp, matrix))
    finally:
        gswarp.set_num_threads(default_threads())
    for got, first in zip(results[-1], results[0], strict=True):
        assert got.tobytes() == first.tobytes()
    grad_input, grad_matrix = results[0]
    assert grad_matrix.shape == (1, 2, 3) and grad_matrix.dtype == np.float64
    assert grad_input.dtype == np.float32
    inp64, out64 = inp.astype(np.float64), grad_out.astype(np.float64)

    def loss(m):
        return (out64 * gswarp.warp_affine(inp64, m, out64.shape)).sum()

    numeric = _numeric_gradient(loss, matrix, step=1e-6)
    np.testing.assert_allclose(grad_matrix[0], numeric, rtol=1e-4, atol=1e-3)


def test_affine_backward_bad_input():
    inp = np.zeros((1, 1, 4, 4))
    grad_out = np.zeros((1, 1, 3, 3))
    with pytest.raises(ShapeError, match=r"theta: expected a batch of 2-D affine matrices"):
        affine_sample_backward(grad_out, inp, np.eye(2, 3))
    with pytest.raises(SpecError, match="needs: expected 'input' and/or 'theta'"):
        affine_sample_backward(grad_out, inp, np.eye(2, 3)[None], needs=("grid",))
    with pytest.raises(DTypeError, match="grad_output: expected the input's dtype"):
        warp_affine_backward(grad_out.astype(np.float32), inp, np.eye(2, 3))
    with pytest.raises(ShapeError, match=r"grad_grid: expected shape \(1, 3, 3, 2\)"):
        affine_grid_backward(np.zeros((1, 3, 3, 3)), (1, 1, 3, 3))


FLOW_CASES = [
    # spatial, input size, field size, output size, kind
    (2, (7, 8), (7, 8), (7, 8), "displacement"),
    (2, (7, 8), (3, 4), (7, 8), "displacement"),  # a lattice: the transpose of its interpolation
    (2, (7, 8), (4, 3), (5, 9), "coordinates"),  # and an output of another size
    (3, (4, 5, 6), (4, 5, 6), (4, 5, 6), "displacement"),
    (3, (4, 5, 6), (2, 3, 3), (4, 5, 6), "displacement"),
]


@pytest.mark.parametrize(("spatial", "size", "field", "out", "kind"), FLOW_CASES)
@pytest.mark.parametrize("align", [False, True])
def test_flow_gradient_is_the_derivative(spatial, size, field, out, kind, align):
    """Central differences of sum(grad_output * warp_flow(input, flow)) for the flow (float64):
    dense fields, coarse lattices, both kinds; and grad_input is warp_flow's adjoint."""
    from gswarp.engine.tiles import warp_flow

    rng = np.random.default_rng(len(size) + len(field) + int(align))
    inp = rng.standard_normal((2, 2, *size))
    extent = np.array(size[::-1], dtype=np.float64)
    if kind == "coordinates":
        flow = rng.uniform(0.3, 0.7, (*field, spatial)) * (extent - 1)
    else:
        flow = rng.uniform(-1.3, 1.3, (*field, spatial))
    flow += rng.uniform(0.21, 0.29)  # away from whole pixels (the bilinear kinks)
    grad_out = rng.standard_normal((2, 2, *out))
    size_out = (2, 2, *out)
    grad_input, grad_flow = warp_flow_backward(grad_out, inp, flow, align_corners=align, kind=kind)
    assert grad_flow.shape == flow.shape

    def loss(f):
        return (grad_out * warp_flow(inp, f, size_out, align_corners=align, kind=kind)).sum()

    np.testing.assert_allclose(grad_flow, _numeric_gradient(loss, flow), rtol=1e-5, atol=1e-7)
    probe = rng.standard_normal(inp.shape)
    forward = warp_flow(probe, flow, size_out, align_corners=align, kind=kind)
    assert np.isclose((grad_input * probe).sum(), (grad_out * forward).sum(), rtol=1e-12)


def test_flow_backward_bad_input():
    inp = np.zeros((1, 1, 4, 4))
    with pytest.raises(ShapeError, match=r"flow: expected \(H_f, W_f, 2\)"):
        warp_flow_backward(np.zeros((1, 1, 4, 4)), inp, np.zeros((4, 4, 3)))
    with pytest.raises(SpecError, match="kind: expected 'displacement' or 'coordinates'"):
        warp_flow_backward(np.zeros((1, 1, 4, 4)), inp, np.zeros((4, 4, 2)), kind="absolute")


def test_scatter_layout_follows_the_grids_locality():
    """A smooth map takes all channels per job, a random grid one plane at a time; the bands
    split the jobs evenly over the threads and never exceed the rows."""
    from gswarp.autodiff import _is_local, _scatter_bands

    rng = np.random.default_rng(3)
    inp = np.zeros((1, 3, 256, 256), np.float32)
    smooth = gswarp.affine_grid(np.array([[[0.9, -0.2, 0.1], [0.2, 0.9, 0.0]]]), inp.shape)
    assert _is_local("grid", inp, smooth)
    assert not _is_local("grid", inp, rng.uniform(-1, 1, (1, 256, 256, 2)))
    assert _is_local("grid", inp, np.full((1, 4, 4, 2), np.nan))  # nothing to scatter
    assert _is_local("affine", inp, np.array([[[1.1, 0.3, 2.0], [-0.3, 1.1, 5.0]]]))
    assert not _is_local("affine", inp, np.array([[[40.0, 0.0, 0.0], [0.0, 1.0, 0.0]]]))
    for threads in (1, 2, 3, 4, 8):
        for groups in (1, 2, 3, 7):
            bands = _scatter_bands(groups, 1000, threads)
            assert (bands * groups) % threads == 0 and bands <= threads
        assert _scatter_bands(1, 1, threads) == 1
        assert _scatter_bands(3, 2, threads) <= 2  # never more bands than rows
