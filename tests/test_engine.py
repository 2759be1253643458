"""Exact oracles and behaviour of gswarp.grid_sample / affine_grid / affine_sample (no torch)."""

from __future__ import annotations

import itertools
import subprocess
import sys
import tracemalloc
from typing import ClassVar

import numpy as np
import pytest

import gswarp
from gswarp.engine import core

MODES = ("bilinear", "nearest", "bicubic")
PADDINGS = ("zeros", "border", "reflection")
IDENTITY_2D = np.array([[[1.0, 0, 0], [0, 1, 0]]])
IDENTITY_3D = np.array([[[1.0, 0, 0, 0], [0, 1, 0, 0], [0, 0, 1, 0]]])


def pixel_centre_grid(shape, align):
    """A grid that lands exactly on every pixel centre of an input of ``shape``.

    Exact in floating point for sizes 2**k (align_corners=False) or 2**k + 1 (True).
    """
    axes = []
    for size in shape[2:][::-1]:
        i = np.arange(size, dtype=np.float64)
        axes.append(i / (size - 1) * 2 - 1 if align else (2 * i + 1) / size - 1)
    mesh = np.meshgrid(*axes[::-1], indexing="ij")[::-1]
    grid = np.stack(mesh, axis=-1)
    return np.broadcast_to(grid, (shape[0], *grid.shape)).copy()


def random_image(rng, shape, dtype):
    dtype = np.dtype(dtype)
    if dtype.kind == "f":
        return rng.random(shape).astype(dtype)
    if dtype == np.bool_:
        return rng.random(shape) > 0.5
    info = np.iinfo(dtype)
    return rng.integers(info.min, info.max, size=shape, endpoint=True, dtype=dtype)


class TestGridSample:
    @pytest.mark.parametrize(
        "dtype",
        ["float32", "float64", "uint8"]
        # each of these compiles kernels no other default test needs (~4-8 s apiece, cold)
        + [pytest.param(d, marks=pytest.mark.slow) for d in ("uint16", "int16", "int32")],
    )
    @pytest.mark.parametrize("mode", MODES)
    @pytest.mark.parametrize("align", [False, True])
    def test_pixel_centre_grid_returns_input_bit_for_bit(self, rng, dtype, mode, align):
        x = random_image(rng, (2, 3, 5, 9) if align else (2, 3, 4, 8), dtype)
        got = gswarp.grid_sample(x, pixel_centre_grid(x.shape, align), mode, "zeros", align)
        assert got.dtype == x.dtype
        np.testing.assert_array_equal(got, x)

    def test_bool_nearest_copies_labels(self, rng):
        x = random_image(rng, (1, 1, 4, 4), np.bool_)
        got = gswarp.grid_sample(x, pixel_centre_grid(x.shape, False), "nearest")
        assert got.dtype == np.bool_
        np.testing.assert_array_equal(got, x)

    def test_bool_requires_nearest(self):
        with pytest.raises(gswarp.DTypeError, match="mode: bool input requires mode='nearest'"):
            gswarp.grid_sample(np.zeros((1, 1, 2, 2), bool), np.zeros((1, 1, 1, 2)), "bilinear")

    def test_int32_keeps_values_beyond_float32_precision(self):
        x = np.array([[[[2**31 - 1, -(2**31)], [16_777_217, 3]]]], dtype=np.int32)
        got = gswarp.grid_sample(x, pixel_centre_grid(x.shape, False), "bilinear")
        np.testing.assert_array_equal(got, x)

    def test_integer_output_rounds_half_to_even_and_clips(self):
        # a 1x2 uint8 image sampled half way between 1 and 2, 3 and 4, and far outside with fill
        x = np.array([[[[1, 2, 3, 4, 250, 255]]]], dtype=np.uint8)
        width = x.shape[-1]
        px = np.array([0.5, 2.5, 4.5, -5.0])  # pixel coordinates
        grid = np.zeros((1, 1, px.size, 2))
        grid[..., 0] = (2 * px + 1) / width - 1
        got = gswarp.grid_sample(x, grid, "bilinear", fill=300.0)
        # 1.5 -> 2 (even), 3.5 -> 4 (even), 252.5 -> 252 (even), fill 300 -> clipped to 255
        np.testing.assert_array_equal(got[0, 0, 0], [2, 4, 252, 255])

    @pytest.mark.parametrize("mode", MODES)
    def test_integer_translation_equals_slice(self, rng, mode):
        x = random_image(rng, (1, 2, 9, 17), "float64")
        theta = np.array([[[1.0, 0, 6 / 16], [0, 1, 0]]])  # sample 3 pixels to the right
        got = gswarp.grid_sample(x, gswarp.affine_grid(theta, x.shape, True), mode, "zeros", True)
        np.testing.assert_array_equal(got[..., :14], x[..., 3:])
        assert np.all(got[..., 15:] == 0)

    @pytest.mark.parametrize("mode", MODES)
    def test_rot90_equals_numpy_rot90(self, rng, mode):
        x = random_image(rng, (1, 3, 9, 9), "float32")
        theta = np.array([[[0.0, -1, 0], [1, 0, 0]]], dtype=np.float32)  # x_in = -y, y_in = x
        grid = gswarp.affine_grid(theta, x.shape, align_corners=True)
        got = gswarp.grid_sample(x, grid, mode, align_corners=True)
        np.testing.assert_array_equal(got, np.rot90(x, axes=(2, 3)))

    def test_rot90_on_a_cube_volume_equals_numpy_rot90_about_z(self, rng):
        x = random_image(rng, (1, 1, 5, 9, 9), "float64")
        theta = np.array([[[0.0, -1, 0, 0], [1, 0, 0, 0], [0, 0, 1, 0]]])
        got = gswarp.affine_sample(x, theta, mode="bilinear", align_corners=True)
        np.testing.assert_array_equal(got, np.rot90(x, axes=(3, 4)))

    @pytest.mark.parametrize("mode", MODES)
    @pytest.mark.parametrize("padding", PADDINGS)
    @pytest.mark.parametrize("spatial", [2, 3])
    def test_non_finite_coordinates_give_the_fill_value(self, rng, mode, padding, spatial):
        x = random_image(rng, (1, 2, *([5] * spatial)), "float32")
        grid = np.zeros((1, 1, *([4] * spatial)[1:], spatial), dtype=np.float32)
        specials = [np.nan, np.inf, -np.inf, np.nan]
        for k, value in enumerate(specials):
            grid.reshape(-1, spatial)[k, k % spatial] = value
        got = gswarp.grid_sample(x, grid, mode, padding, fill=[7.0, -2.0])
        flat = got.reshape(2, -1)
        nearest_fill = [7.0, -2.0]
        for k in range(len(specials)):
            np.testing.assert_array_equal(flat[:, k], nearest_fill)
        assert np.all(np.isfinite(got))

    @pytest.mark.parametrize("mode", MODES)
    def test_fill_per_channel_outside_with_zeros_padding(self, rng, mode):
        x = random_image(rng, (1, 3, 4, 4), "float64")
        grid = np.full((1, 2, 2, 2), 5.0)  # far outside
        got = gswarp.grid_sample(x, grid, mode, fill=[1.5, -3.0, 0.25])
        np.testing.assert_array_equal(got[0, :, 0, 0], [1.5, -3.0, 0.25])

    @pytest.mark.parametrize("mode", ["bilinear", "bicubic"])
    def test_fill_blends_at_the_edge_like_a_constant_border(self, mode):
        # sampling exactly on the outer edge of a constant image of value v with fill v gives v
        x = np.full((1, 1, 4, 4), 0.75)
        grid = np.array([[[[-1.0, 0.3], [1.0, -0.2], [0.1, -1.0]]]])
        got = gswarp.grid_sample(x, grid, mode, fill=0.75)
        np.testing.assert_allclose(got, 0.75, rtol=0, atol=1e-15)

    @pytest.mark.parametrize("mode", MODES)
    def test_strided_hwc_view_needs_no_copy_and_matches(self, rng, mode):
        hwc = random_image(rng, (512, 512, 3), "float32")  # 3 MiB
        view = hwc.transpose(2, 0, 1)[None]  # (1, 3, 512, 512) with channel stride 1
        assert not view.flags.c_contiguous
        grid = rng.uniform(-1.2, 1.2, size=(1, 5, 4, 2)).astype(np.float32)
        gswarp.grid_sample(view[..., :8, :8], grid, mode)  # compile (or load) the kernel first
        tracemalloc.start()
        try:
            got = gswarp.grid_sample(view, grid, mode)
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
        assert peak < 64 * 1024, f"{peak} bytes allocated: the input was copied"
        np.testing.assert_array_equal(
            got, gswarp.grid_sample(np.ascontiguousarray(view), grid, mode)
        )

    def test_negative_strides_and_strided_grid(self, rng):
        x = random_image(rng, (1, 2, 6, 7), "float64")
        flipped = x[:, ::-1, ::-1, ::-1]
        grid = rng.uniform(-1, 1, size=(1, 2, 8, 10))[:, :, ::2, ::2].transpose(0, 2, 3, 1)
        got = gswarp.grid_sample(flipped, grid)
        want = gswarp.grid_sample(flipped.copy(), np.ascontiguousarray(grid))
        np.testing.assert_array_equal(got, want)

    def test_grid_dtype_is_read_in_the_input_precision(self, rng):
        x = random_image(rng, (1, 1, 5, 5), "float32")
        grid64 = rng.uniform(-1, 1, size=(1, 3, 3, 2))
        got = gswarp.grid_sample(x, grid64)
        np.testing.assert_array_equal(got, gswarp.grid_sample(x, grid64.astype(np.float32)))

    def test_float16_computes_in_float32(self, rng):
        x = random_image(rng, (1, 1, 5, 5), "float16")
        grid = rng.uniform(-1, 1, size=(1, 3, 3, 2)).astype(np.float16)
        got = gswarp.grid_sample(x, grid)
        assert got.dtype == np.float16
        want = gswarp.grid_sample(x.astype(np.float32), grid.astype(np.float32))
        np.testing.assert_array_equal(got, want.astype(np.float16))

    @pytest.mark.parametrize(
        ("x_shape", "grid_shape", "out_shape"),
        [
            ((0, 2, 4, 4), (0, 3, 3, 2), (0, 2, 3, 3)),
            ((1, 0, 4, 4), (1, 3, 3, 2), (1, 0, 3, 3)),
            ((1, 2, 4, 4), (1, 0, 3, 2), (1, 2, 0, 3)),
            ((1, 2, 3, 4, 4), (1, 2, 0, 3, 3), (1, 2, 2, 0, 3)),
        ],
    )
    def test_empty_batch_channels_or_output_give_empty_results(
        self, x_shape, grid_shape, out_shape
    ):
        got = gswarp.grid_sample(np.zeros(x_shape), np.zeros(grid_shape))
        assert got.shape == out_shape

    @pytest.mark.parametrize("mode", MODES)
    def test_indices_beyond_2_31_use_64_bit_arithmetic(self, mode):
        # a zero-stride view: W > 2**31 pixels wide without the memory; values vary along H only
        width = 2**31 + 10
        rows = np.array([10.0, 20.0, 30.0])
        x = np.lib.stride_tricks.as_strided(rows, shape=(1, 1, 3, width), strides=(0, 0, 8, 0))
        px = np.array([2.0**31 + 3, 2.0**31 + 7.25, 5.0])
        grid = np.stack([(2 * px + 1) / width - 1, np.zeros(3)], axis=-1).reshape(1, 1, 3, 2)
        got = gswarp.grid_sample(x, grid, mode)
        np.testing.assert_allclose(got[0, 0, 0], 20.0, rtol=0, atol=1e-9)

    def test_out_argument_receives_the_result(self, rng):
        x = random_image(rng, (1, 3, 5, 5), "float32")
        grid = rng.uniform(-1, 1, size=(1, 4, 4, 2)).astype(np.float32)
        hwc = np.empty((4, 4, 3), np.float32)
        result = gswarp.grid_sample(x, grid, out=hwc.transpose(2, 0, 1)[None])
        assert np.shares_memory(result, hwc)
        np.testing.assert_array_equal(hwc.transpose(2, 0, 1)[None], gswarp.grid_sample(x, grid))

    def test_input_is_never_modified(self, rng):
        x = random_image(rng, (1, 2, 5, 5), "float32")
        before = x.copy()
        x.flags.writeable = False  # read-only inputs are accepted, too
        gswarp.grid_sample(x, rng.uniform(-1, 1, size=(1, 3, 3, 2)).astype(np.float32), "bicubic")
        np.testing.assert_array_equal(x, before)


class TestGridSampleErrors:
    @pytest.mark.parametrize(
        ("kwargs", "error", "message"),
        [
            (
                {"mode": "linear"},
                gswarp.SpecError,
                "mode: expected one of 'bilinear', 'nearest', 'bicubic', got 'linear'",
            ),
            (
                {"padding_mode": "constant"},
                gswarp.SpecError,
                "padding_mode: expected one of 'zeros', 'border', 'reflection', got 'constant'",
            ),
            ({"align_corners": "yes"}, gswarp.SpecError, "align_corners: expected True or False"),
            ({"fill": [1, 2]}, gswarp.SpecError, "fill: expected a number or a sequence of 3"),
            ({"fill": "red"}, gswarp.SpecError, "fill: expected a number or a sequence of 3"),
        ],
    )
    def test_bad_options_name_the_argument(self, kwargs, error, message):
        x = np.zeros((1, 3, 4, 4), np.float32)
        with pytest.raises(error, match=message.replace("(", r"\(").replace(")", r"\)")):
            gswarp.grid_sample(x, np.zeros((1, 2, 2, 2), np.float32), **kwargs)

    @pytest.mark.parametrize(
        ("x", "grid", "error", "message"),
        [
            (
                np.zeros((3, 4, 4)),
                np.zeros((1, 2, 2, 2)),
                gswarp.ShapeError,
                r"input: expected a 4-D \(N, C, H, W\) or 5-D \(N, C, D, H, W\) array, "
                r"got shape \(3, 4, 4\)",
            ),
            (
                np.zeros((1, 1, 0, 4)),
                np.zeros((1, 2, 2, 2)),
                gswarp.ShapeError,
                "input: expected non-empty spatial dimensions",
            ),
            (
                np.zeros((2, 1, 4, 4)),
                np.zeros((1, 2, 2, 2)),
                gswarp.ShapeError,
                r"grid: expected shape \(N, H_out, W_out, 2\) with N = 2",
            ),
            (
                np.zeros((1, 1, 4, 4, 4)),
                np.zeros((1, 2, 2, 2)),
                gswarp.ShapeError,
                r"grid: expected shape \(N, D_out, H_out, W_out, 3\)",
            ),
            (
                np.zeros((1, 1, 4, 4)),
                np.zeros((1, 2, 2, 2), np.int64),
                gswarp.DTypeError,
                "grid: expected a floating-point array, got dtype int64",
            ),
            (
                np.zeros((1, 1, 4, 4), np.complex64),
                np.zeros((1, 2, 2, 2)),
                gswarp.DTypeError,
                "input: dtype complex64 is not supported",
            ),
            (
                [[[[0.0]]]],
                np.zeros((1, 2, 2, 2)),
                gswarp.DTypeError,
                "input: expected a numpy.ndarray or cupy.ndarray, got list",
            ),
        ],
    )
    def test_bad_arrays_name_the_argument_and_shape(self, x, grid, error, message):
        with pytest.raises(error, match=message):
            gswarp.grid_sample(x, grid)

    def test_errors_are_also_builtin_errors(self):
        with pytest.raises(ValueError):
            gswarp.grid_sample(np.zeros((1, 1, 2, 2)), np.zeros((1, 1, 1, 2)), mode="cubic")
        with pytest.raises(TypeError):
            gswarp.grid_sample(np.zeros((1, 1, 2, 2)), np.zeros((1, 1, 1, 2), np.int32))

    def test_out_must_match_and_not_overlap(self):
        x = np.zeros((1, 1, 4, 4))
        grid = np.zeros((1, 2, 2, 2))
        with pytest.raises(gswarp.ShapeError, match=r"out: expected shape \(1, 1, 2, 2\)"):
            gswarp.grid_sample(x, grid, out=np.zeros((1, 1, 3, 3)))
        with pytest.raises(gswarp.SpecError, match="out: must not share memory with input"):
            gswarp.grid_sample(x, grid, out=x[:, :, :2, :2])

    def test_integer_fill_must_be_finite(self):
        with pytest.raises(gswarp.SpecError, match="fill: uint8 input needs a finite fill"):
            gswarp.grid_sample(
                np.zeros((1, 1, 2, 2), np.uint8), np.zeros((1, 1, 1, 2)), fill=np.nan
            )


class TestAffineGrid:
    @pytest.mark.parametrize("align", [False, True])
    def test_identity_gives_pixel_centres(self, align):
        grid = gswarp.affine_grid(IDENTITY_2D, (1, 1, 3, 4), align)
        x = np.arange(4)
        centres = x / 3 * 2 - 1 if align else (2 * x + 1) / 4 - 1
        np.testing.assert_allclose(grid[0, 0, :, 0], centres, rtol=0, atol=1e-15)
        assert grid.shape == (1, 3, 4, 2)

    def test_unit_axes_sit_at_zero(self):
        theta = np.array([[[1.0, 0, 0.5], [0, 1, 0]]])
        grid = gswarp.affine_grid(theta, (1, 1, 1, 3), align_corners=True)
        np.testing.assert_array_equal(grid[0, 0, :, 1], 0.0)
        np.testing.assert_array_equal(grid[0, 0, :, 0], [-0.5, 0.5, 1.5])

    def test_dtype_follows_theta(self):
        assert gswarp.affine_grid(IDENTITY_2D.astype(np.float32), (1, 1, 2, 2)).dtype == np.float32
        assert gswarp.affine_grid(IDENTITY_2D.astype(np.float16), (1, 1, 2, 2)).dtype == np.float16

    @pytest.mark.parametrize(
        ("theta", "size", "message"),
        [
            (
                IDENTITY_2D,
                (1, 1, 2, 2, 2),
                r"theta: expected a batch of 3-D affine matrices of shape \(N, 3, 4\)",
            ),
            (
                IDENTITY_3D,
                (1, 1, 2, 2),
                r"theta: expected a batch of 2-D affine matrices of shape \(N, 2, 3\)",
            ),
            (IDENTITY_2D, (1, 1, 0, 2), "size: expected positive sizes"),
            (IDENTITY_2D, (1, 2, 2), r"size: expected \(N, C, H, W\) or \(N, C, D, H, W\)"),
            (IDENTITY_2D, (2, 1, 2, 2), r"theta: expected 2 matrices \(size\[0\]\), got 1"),
            (IDENTITY_2D.astype(int), (1, 1, 2, 2), "theta: expected a floating-point array"),
        ],
    )
    def test_bad_arguments(self, theta, size, message):
        with pytest.raises(gswarp.GswarpError, match=message):
            gswarp.affine_grid(theta, size)


class TestAffineSample:
    # affine_sample steps float64 pixel coordinates; the two-step path rounds affine_grid's
    # linspace and matrix product in the grid dtype. They agree to these tolerances (the issue's
    # targets), nearest exactly where coordinates cannot straddle a rounding tie (float64).
    TOLERANCE: ClassVar[dict[tuple[str, str], float]] = {
        ("float64", "bilinear"): 1e-9,
        ("float64", "bicubic"): 1e-9,
        ("float64", "nearest"): 0.0,
        ("float32", "bilinear"): 2e-5,
        ("float32", "bicubic"): 1e-4,
    }

    @pytest.mark.parametrize(("dtype", "mode"), list(TOLERANCE))
    @pytest.mark.parametrize("padding", PADDINGS)
    @pytest.mark.parametrize("spatial", [2, 3])
    def test_agrees_with_grid_sample_of_affine_grid(self, rng, dtype, mode, padding, spatial):
        x = random_image(rng, (2, 2, *([6] * spatial)), dtype)
        theta = rng.normal(scale=0.8, size=(2, spatial, spatial + 1)).astype(dtype)
        size = (2, 2, *([5] * spatial))
        for align in (False, True):
            want = gswarp.grid_sample(
                x, gswarp.affine_grid(theta, size, align), mode, padding, align
            )
            got = gswarp.affine_sample(x, theta, size, mode, padding, align)
            np.testing.assert_allclose(got, want, rtol=0, atol=self.TOLERANCE[dtype, mode])

    @pytest.mark.parametrize("mode", MODES)
    @pytest.mark.parametrize("align", [False, True])
    @pytest.mark.parametrize("shape", [(1, 2, 6, 7), (2, 1, 3, 5, 4)])
    def test_identity_theta_returns_input_bit_for_bit(self, rng, mode, align, shape):
        x = random_image(rng, shape, "float32")
        spatial = len(shape) - 2
        theta = np.repeat(np.eye(spatial, spatial + 1)[None], shape[0], axis=0)
        np.testing.assert_array_equal(
            gswarp.affine_sample(x, theta, None, mode, align_corners=align), x
        )

    @pytest.mark.parametrize("mode", MODES)
    @pytest.mark.parametrize("align", [False, True])
    def test_quarter_turn_equals_numpy_rot90(self, rng, mode, align):
        x = random_image(rng, (1, 3, 10, 10), "uint8")
        theta = np.array([[[0.0, -1, 0], [1, 0, 0]]])
        got = gswarp.affine_sample(x, theta, None, mode, align_corners=align)
        np.testing.assert_array_equal(got, np.rot90(x, axes=(2, 3)))

    def test_whole_pixel_shift_equals_a_slice(self, rng):
        x = random_image(rng, (1, 1, 6, 10), "float64")
        theta = np.array([[[1.0, 0, 2 * 3 / 10], [0, 1, 0]]])  # sample 3 pixels to the right
        got = gswarp.affine_sample(x, theta, mode="bicubic", padding_mode="border")
        np.testing.assert_array_equal(got[..., :6], x[..., 3:9])

    def test_size_defaults_to_the_input_shape(self, rng):
        x = random_image(rng, (1, 1, 4, 6), "float32")
        assert gswarp.affine_sample(x, IDENTITY_2D).shape == x.shape

    def test_size_must_keep_batch_and_channels(self):
        with pytest.raises(gswarp.ShapeError, match="size: expected 4 sizes starting with N = 1"):
            gswarp.affine_sample(np.zeros((1, 3, 4, 4)), IDENTITY_2D, (1, 1, 4, 4))

    def test_integer_image_round_trip(self, rng):
        x = random_image(rng, (1, 3, 8, 8), "uint8")
        got = gswarp.affine_sample(x, IDENTITY_2D, mode="bicubic")
        np.testing.assert_array_equal(got, x)


class TestTricubic:
    @pytest.mark.parametrize("padding", PADDINGS)
    @pytest.mark.parametrize("align", [False, True])
    def test_reduces_to_bicubic_on_a_voxel_centre_slice(self, rng, padding, align):
        x = random_image(rng, (1, 2, 5, 6, 7), "float32")  # odd depth: z = 0 is slice 2
        grid2 = rng.uniform(-1.3, 1.3, size=(1, 4, 5, 2)).astype(np.float32)
        grid3 = np.concatenate([grid2, np.zeros((1, 4, 5, 1), np.float32)], axis=-1)[:, None]
        got = gswarp.grid_sample(x, grid3, "bicubic", padding, align)[:, :, 0]
        want = gswarp.grid_sample(
            np.ascontiguousarray(x[:, :, 2]), grid2, "bicubic", padding, align
        )
        np.testing.assert_array_equal(got, want)

    def test_matches_an_independent_keys_cubic_in_float64(self, rng):
        vol = rng.random((1, 1, 7, 8, 9))
        points = rng.uniform(1.2, 4.8, size=(6, 3))  # (x, y, z) pixel coordinates, interior
        sizes = np.array([9, 8, 7])
        grid = ((2 * points + 1) / sizes - 1).reshape(1, 1, 1, 6, 3)
        got = gswarp.grid_sample(vol, grid, "bicubic")[0, 0, 0, 0]

        def keys(t, a=-0.75):
            t = abs(t)
            if t <= 1:
                return (a + 2) * t**3 - (a + 3) * t**2 + 1
            return a * t**3 - 5 * a * t**2 + 8 * a * t - 4 * a if t < 2 else 0.0

        want = []
        for x, y, z in points:
            total = 0.0
            for k in range(int(np.floor(z)) - 1, int(np.floor(z)) + 3):
                for j in range(int(np.floor(y)) - 1, int(np.floor(y)) + 3):
                    for i in range(int(np.floor(x)) - 1, int(np.floor(x)) + 3):
                        total += keys(x - i) * keys(y - j) * keys(z - k) * vol[0, 0, k, j, i]
            want.append(total)
        np.testing.assert_allclose(got, want, rtol=0, atol=1e-12)


class TestTiling:
    @pytest.mark.parametrize("mode", MODES)
    def test_any_row_split_gives_the_untiled_result(self, rng, mode):
        x = random_image(rng, (2, 3, 9, 8), "float32")
        grid = rng.uniform(-1.2, 1.2, size=(2, 7, 6, 2)).astype(np.float32)
        whole = gswarp.grid_sample(x, grid, mode)
        fill = np.zeros(3, np.float32)
        tiled = np.full_like(whole, np.nan)
        bounds = [0, 1, 5, 6, 13, 14]  # uneven tiles, crossing the batch boundary at row 7
        for start, stop in itertools.pairwise(bounds):
            core.grid_sample(
                x, grid, tiled, gswarp.Mode[mode.upper()], 0, False, False, fill, fill, start, stop
            )
        np.testing.assert_array_equal(tiled, whole)


def test_results_do_not_depend_on_the_thread_count():
    """README: "Results never depend on the thread count" -- 1 thread against 4 (forced, whatever
    the machine's cores), every source kind and mode, 2-D and 3-D, on outputs with many rows."""
    script = """
import numpy as np, gswarp
rng = np.random.default_rng(9)
x2 = rng.random((2, 3, 37, 41)).astype(np.float32)
x3 = rng.random((1, 2, 9, 11, 13))
grid2 = rng.uniform(-1.2, 1.2, size=(2, 29, 31, 2)).astype(np.float32)
grid3 = rng.uniform(-1.2, 1.2, size=(1, 7, 8, 9, 3))
theta2 = np.array([[[0.9, -0.3, 0.1], [0.35, 0.8, -0.05]]] * 2)
theta3 = np.array([[[0.9, -0.3, 0.1, 0.02], [0.3, 0.8, 0.1, -0.05], [0.1, 0.0, 1.1, 0.03]]])
def run():
    out = []
    for mode in ("bilinear", "nearest", "bicubic"):
        out.append(gswarp.grid_sample(x2, grid2, mode, "reflection"))
        out.append(gswarp.grid_sample(x3, grid3, mode, "border", True))
        out.append(gswarp.affine_sample(x2, theta2, (2, 3, 33, 35), mode))
        out.append(gswarp.affine_sample(x3, theta3, (1, 2, 8, 10, 12), mode))
    return out
gswarp.set_num_threads(1)
one = run()
gswarp.set_num_threads(4)
four = run()
assert all(a.tobytes() == b.tobytes() for a, b in zip(one, four, strict=True))
print(len(one))
"""
    proc = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=False
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "12"
