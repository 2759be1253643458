"""Live comparison with torch.nn.functional on random adversarial cases (skipped without torch).

What the README promises, asserted as it is worded:

* ``grid_sample`` and ``affine_grid`` in float32 and float64 equal torch's CPU results bit for bit
  (every mode, padding, ``align_corners``, 2-D and 3-D; 3-D bicubic through the middle-slice
  reduction, non-finite grid points as gswarp's fill rule: see ``tests/oracles.py``).
* ``affine_sample`` (the fused path) agrees with torch's ``grid_sample(affine_grid(...))`` within
  the rounding of torch's grid (``oracles.FUSED_BOUND``); nearest picks the same pixel except
  where a coordinate lies within rounding of a half-pixel tie.

Every case draws from its own fixed seed (a CRC of the case's name, the same in every process);
a failure prints it, and ``python -m pytest tests/test_parity_torch.py -k NAME`` reproduces it.
"""

from __future__ import annotations

import itertools
import zlib

import numpy as np
import pytest

import gswarp
from tests import oracles
from tests.conftest import torch_or_skip

DTYPES = ("float32", "float64")
CASES = list(itertools.product(DTYPES, oracles.MODES, oracles.PADDINGS, (False, True), (2, 3)))
DRAWS = 6


def case_id(case) -> str:
    dtype, mode, padding, align, spatial = case
    return f"{dtype}-{mode}-{padding}-align{int(align)}-{spatial}d"


def seed_of(name: str) -> int:
    """A seed that depends only on the case's name (``hash`` of a str changes per process)."""
    return zlib.crc32(name.encode())


def random_grid_case(rng: np.random.Generator, dtype: str, mode: str, spatial: int, align: bool):
    """An input (with size-1 axes now and then) and an adversarial grid with NaN/inf points."""
    n, c = int(rng.integers(1, 3)), int(rng.integers(1, 4))
    in_size = [int(s) for s in rng.integers(1, 10, size=spatial)]
    out_size = [int(s) for s in rng.integers(1, 8, size=spatial)]
    if spatial == 3 and mode == "bicubic":
        in_size[0] = 2 * int(rng.integers(0, 4)) + 1  # odd depth: z = 0 is a voxel centre
    x = rng.uniform(-1.0, 2.0, size=(n, c, *in_size)).astype(dtype)
    grid = oracles.adversarial_grid((n, *out_size, spatial), x.shape[2:], rng, align, True)
    if spatial == 3 and mode == "bicubic":
        grid = oracles.middle_slab(grid)
    return x, grid.astype(dtype)


@pytest.mark.parametrize("case", CASES, ids=case_id)
def test_grid_sample_equals_torch_bit_for_bit(case):
    torch_or_skip()
    dtype, mode, padding, align, spatial = case
    seed = seed_of(f"grid_sample/{case_id(case)}")
    rng = np.random.default_rng(seed)
    for draw in range(DRAWS):
        x, grid = random_grid_case(rng, dtype, mode, spatial, align)
        expected = oracles.torch_grid_sample(x, grid, mode, padding, align)
        layout = oracles.LAYOUTS[draw % len(oracles.LAYOUTS)]  # each draw in another layout
        got = gswarp.grid_sample(oracles.laid_out(x, layout), grid, mode, padding, align)
        np.testing.assert_array_equal(
            got,
            expected,
            err_msg=f"seed {seed}, draw {draw} ({layout}): input {x.shape}, grid {grid.shape}",
        )


def _torch_gemm_fuses() -> bool:
    """Whether torch's ``affine_grid`` GEMM rounds with fused multiply-adds on this machine.

    torch computes ``affine_grid`` as a batched GEMM through its BLAS, whose kernel depends on
    the processor: measured on a Zen 5 it rounds each product (``(x t0 + y t1) + t2``, what
    gswarp does); on an Intel Xeon with MKL's AVX-512 kernel it gives ``fma(y, t1, x t0) + t2``
    (for 380 points; for 64 it still rounds each product). A probe tells which: a 20 x 19 grid,
    where the two roundings differ at 56 points."""
    rng = np.random.default_rng(5)
    theta = rng.normal(scale=2.0, size=(1, 2, 3)).astype(np.float32)
    size = (1, 1, 20, 19)
    base = gswarp.affine_grid(np.eye(2, 3, dtype=np.float32)[None], size, False)
    x, y = base[..., 0].astype(np.float64), base[..., 1].astype(np.float64)
    t0, t1, t2 = (np.float64(v) for v in theta[0, 0])
    product = (x * t0).astype(np.float32).astype(np.float64)
    fused = ((y * t1 + product).astype(np.float32) + np.float32(t2)).astype(np.float32)
    torch_x = oracles.torch_affine_grid(theta, size, False)[..., 0]
    return bool(np.array_equal(torch_x, fused))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("align", [False, True])
@pytest.mark.parametrize("spatial", [2, 3])
def test_affine_grid_equals_torch_bit_for_bit(dtype, align, spatial):
    """Bit for bit where torch's GEMM rounds each product (the golden fixtures pin those bits
    on every machine); where its BLAS fuses the multiply-adds (:func:`_torch_gemm_fuses`),
    within the rounding bound of a (k + 1)-term dot product."""
    torch_or_skip()
    fuses = _torch_gemm_fuses()
    seed = seed_of(f"affine_grid/{dtype}/{align}/{spatial}")
    rng = np.random.default_rng(seed)
    for draw in range(8):
        n = int(rng.integers(1, 4))
        size = (n, 1, *(int(s) for s in rng.integers(1, 40, size=spatial)))
        theta = rng.normal(scale=2.0, size=(n, spatial, spatial + 1)).astype(dtype)
        got = gswarp.affine_grid(theta, size, align)
        assert got.dtype == np.dtype(dtype)
        expected = oracles.torch_affine_grid(theta, size, align)
        where = f"seed {seed}, draw {draw}: size {size}"
        if not fuses or np.array_equal(got, expected):
            np.testing.assert_array_equal(got, expected, err_msg=where)
            continue
        # |base| <= 1: each coordinate's terms sum to at most sum |theta row|
        bound = (spatial + 1) * np.finfo(dtype).eps * np.abs(theta).sum(axis=-1)  # (n, k)
        shape = (n,) + (1,) * spatial + (spatial,)
        assert np.all(np.abs(got - expected) <= bound.reshape(shape)), where


def random_affine_case(rng: np.random.Generator, dtype: str, mode: str, spatial: int):
    """An input, a theta and an output size; for 3-D bicubic, odd depths and a z row of zeros
    (see ``oracles.torch_two_step``)."""
    n = int(rng.integers(1, 3))
    in_size = [int(s) for s in rng.integers(1, 14, size=spatial)]
    out_size = [int(s) for s in rng.integers(1, 10, size=spatial)]
    theta = rng.normal(scale=float(rng.choice([0.5, 1.0, 2.0])), size=(n, spatial, spatial + 1))
    if spatial == 3 and mode == "bicubic":
        in_size[0] = 2 * int(rng.integers(0, 4)) + 1
        out_size[0] = 1
        theta[:, 2] = 0.0
        theta[:, :, 2] = 0.0
    x = rng.uniform(-1.0, 2.0, size=(n, 2, *in_size)).astype(dtype)
    return x, theta.astype(dtype), (n, 2, *out_size)


@pytest.mark.parametrize("case", CASES, ids=case_id)
def test_affine_sample_agrees_with_torch_two_step(case):
    torch_or_skip()
    dtype, mode, padding, align, spatial = case
    seed = seed_of(f"affine_sample/{case_id(case)}")
    rng = np.random.default_rng(seed)
    for draw in range(DRAWS):
        x, theta, size = random_affine_case(rng, dtype, mode, spatial)
        expected = oracles.torch_two_step(x, theta, size, mode, padding, align)
        layout = oracles.LAYOUTS[draw % len(oracles.LAYOUTS)]
        got = gswarp.affine_sample(oracles.laid_out(x, layout), theta, size, mode, padding, align)
        where = f"seed {seed}, draw {draw} ({layout}): input {x.shape}, size {size}"
        if mode == "nearest":
            grid = oracles.torch_affine_grid(theta, size, align)
            ties = oracles.near_a_tie(grid, x.shape[2:], theta, align)
            ties = np.broadcast_to(ties[:, None], expected.shape)
            np.testing.assert_array_equal(got[~ties], expected[~ties], err_msg=where)
        else:
            tolerance = oracles.fused_tolerance(x, theta)
            worst = float(np.max(np.abs(got.astype(np.float64) - expected)))
            message = f"{where}: |fused - two-step| = {worst:.3g} > {tolerance:.3g}"
            assert worst <= tolerance, message


def test_fused_path_is_closer_than_the_bound_needs():
    """The bound is not vacuous: on a large float32 warp the two paths do differ, by less than
    the bound but by more than a tenth of it."""
    torch_or_skip()
    rng = np.random.default_rng(seed_of("fused-bound"))
    x = rng.random((1, 1, 300, 300)).astype(np.float32)
    theta = np.array([[[0.9, -0.3, 0.05], [0.35, 0.85, -0.1]]], np.float32)
    expected = oracles.torch_two_step(x, theta, x.shape, "bicubic", "zeros", False)
    worst = float(np.max(np.abs(gswarp.affine_sample(x, theta, mode="bicubic") - expected)))
    tolerance = oracles.fused_tolerance(x, theta)
    assert 0.1 * tolerance < worst <= tolerance
