"""Antialiased sampling (``antialias=True``, ``sampling.antialias``): its promises, each checked
against an oracle written here independently of gswarp's kernels.

* Where a warp does not shrink -- identity, rotations, magnification -- and always for 'nearest',
  the bytes equal point sampling's.
* The filter is the mode's kernel stretched along the footprint (docs/engine.md): an
  axis-aligned resize equals a separable NumPy resize; any affine map equals a brute-force sum
  whose frame comes from an eigendecomposition (the engine uses an SVD and a flipped Cholesky).
* Quality: on zone plates the aliased band keeps at least 10x less energy than point sampling
  and no more than ImageMagick's default EWA (committed references, and live when ImageMagick is
  installed), the passband at least 90 % of point sampling's contrast; on photographs the result
  is within 40 dB PSNR of a supersampled continuous reference.
"""

from __future__ import annotations

import math
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

import gswarp
from gswarp.engine.tiles import FieldStep, MatrixStep, sample_chain
from gswarp.sampling import ANTIALIAS_WIDEN as WIDEN
from tests.oracles import (
    LAYOUTS,
    about_centres,
    laid_out,
    rotation,
    zone_crop,
    zone_figures,
    zone_matrix,
    zone_plate,
)

DATA = Path(__file__).parent / "data"


# --------------------------------------------------------------------------------------------
# oracles


def kernel(t: np.ndarray, cubic: bool) -> np.ndarray:
    """The tent (linear) or Keys' cubic (a = -0.75)."""
    a = np.abs(t)
    if not cubic:
        return np.maximum(1 - a, 0)
    inner = (1.25 * a - 2.25) * a * a + 1
    outer = ((-0.75 * a + 3.75) * a - 6) * a + 3
    return np.where(a < 1, inner, np.where(a < 2, outer, 0.0))


def stretch(s: np.ndarray) -> np.ndarray:
    clamped = np.maximum(s, 1.0)
    return clamped + WIDEN * (clamped - 1)


def resize_weights(n_in: int, n_out: int, cubic: bool) -> np.ndarray:
    """(n_out, n_in) normalized weights of a 1-D resize (align_corners=False), border-clamped."""
    ratio = n_in / n_out
    width = float(stretch(np.array(ratio)))
    support = 2 if cubic else 1
    weights = np.zeros((n_out, n_in))
    for i in range(n_out):
        centre = (i + 0.5) * ratio - 0.5
        taps = np.arange(
            math.ceil(centre - support * width), math.floor(centre + support * width) + 1
        )
        w = kernel((taps - centre) / width, cubic)
        np.add.at(weights[i], np.clip(taps, 0, n_in - 1), w)
        weights[i] /= w.sum()
    return weights


def frame_inverse(jacobian: np.ndarray) -> np.ndarray:
    """``M`` (upper triangular, ``M^T M = Sigma^-1``) from an eigendecomposition of ``J J^T``."""
    lam, vectors = np.linalg.eigh(jacobian @ jacobian.T)
    sigma = vectors @ np.diag(stretch(np.sqrt(np.maximum(lam, 0))) ** 2) @ vectors.T
    return np.linalg.cholesky(np.linalg.inv(sigma)).T  # G G^T = Sigma^-1, M = G^T


def reflect(q: np.ndarray, size: int, align: bool) -> np.ndarray:
    if align:
        period = 2 * (size - 1)
        m = np.mod(q, period)
        return np.where(m < size, m, period - m)
    m = np.mod(q, 2 * size)
    return np.where(m < size, m, 2 * size - 1 - m)


def brute_force(x: np.ndarray, matrix: np.ndarray, out_spatial, cubic: bool, padding: str, align):
    """Antialiased warp of ``x`` (C, *spatial) by summing every input pixel's weight (float64).

    ``padding`` border or reflection (zeros is tested through its coverage separately).
    """
    k = matrix.shape[0]
    jac = matrix[:, :k]
    m = frame_inverse(jac)
    spatial = x.shape[1:]
    sizes = spatial[::-1]  # x, y[, z]
    axes = np.meshgrid(*[np.arange(-16, s + 16) for s in spatial], indexing="ij")
    q = np.stack(axes[::-1], axis=-1).reshape(-1, k).astype(np.float64)  # (x, y[, z]) taps
    index = []
    for a in range(k):
        if padding == "border":
            index.append(np.clip(q[:, a], 0, sizes[a] - 1).astype(int))
        else:
            index.append(reflect(q[:, a].astype(int), sizes[a], align))
    values = x[(slice(None), *index[::-1])]  # (C, taps)
    out = np.empty((x.shape[0], int(np.prod(out_spatial))))
    points = np.stack(np.meshgrid(*[np.arange(s) for s in out_spatial], indexing="ij")[::-1], -1)
    for i, p in enumerate(points.reshape(-1, k).astype(np.float64)):
        centre = jac @ p + matrix[:, k]
        u = (q - centre) @ m.T
        w = np.prod(kernel(u, cubic), axis=1)
        out[:, i] = values @ w / w.sum()
    return out.reshape(x.shape[0], *out_spatial)


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    return 10 * math.log10(255.0**2 / float(np.mean((a - b) ** 2)))


# --------------------------------------------------------------------------------------------
# the filter


class TestFilter:
    @pytest.mark.parametrize("mode", ["bilinear", "bicubic"])
    def test_axis_aligned_resize_is_the_separable_resize(self, rng, mode):
        image = rng.random((2, 30, 45))
        out_size = (1, 2, 11, 13)
        matrix = about_centres(np.diag([45 / 13, 30 / 11]), (30, 45), (11, 13))
        result = gswarp.warp_affine(image[None], matrix, out_size, mode, "border", antialias=True)
        wy = resize_weights(30, 11, mode == "bicubic")
        wx = resize_weights(45, 13, mode == "bicubic")
        expected = np.einsum("ij,cjk,lk->cil", wy, image, wx)
        np.testing.assert_allclose(result[0], expected, atol=1e-12)
        # the output pixels' footprints tile the input: zeros padding never blends in the fill
        zeros = gswarp.warp_affine(
            image[None], matrix, out_size, mode, "zeros", fill=7.0, antialias=True
        )
        np.testing.assert_array_equal(zeros, result)

    @pytest.mark.parametrize(
        ("mode", "padding", "align"),
        [
            ("bilinear", "border", False),
            ("bicubic", "border", False),
            ("bilinear", "reflection", False),
            ("bilinear", "reflection", True),
            ("bicubic", "reflection", True),
        ],
    )
    def test_any_affine_is_the_brute_force_sum(self, rng, mode, padding, align):
        image = rng.random((2, 19, 23))
        shear = np.array([[1.0, 0.4], [0.0, 1.0]])
        linear = rotation(27) @ shear @ np.diag([2.7, 1.6])  # output -> input: shrinks
        matrix = about_centres(linear, (19, 23), (9, 10))
        matrix[:, 2] += [0.37, -0.81]  # footprints off the pixel grid, some beyond the edges
        result = gswarp.warp_affine(
            image[None], matrix, (1, 2, 9, 10), mode, padding, align, antialias=True
        )
        expected = brute_force(image, matrix, (9, 10), mode == "bicubic", padding, align)
        np.testing.assert_allclose(result[0], expected, atol=1e-12)

    def test_a_volume_is_the_brute_force_sum(self, rng):
        volume = rng.random((1, 9, 10, 11))
        linear = np.diag([2.2, 1.3, 1.8])
        linear[:2, :2] = rotation(35) @ linear[:2, :2]
        linear[2, 0] = 0.4
        matrix = np.concatenate([linear, [[0.3], [-0.2], [0.45]]], axis=1)
        result = gswarp.warp_affine(
            volume[None], matrix, (1, 1, 4, 5, 5), "bilinear", "border", antialias=True
        )
        expected = brute_force(volume, matrix, (4, 5, 5), False, "border", False)
        np.testing.assert_allclose(result[0], expected, atol=1e-12)

    def test_fades_in_continuously_from_point_sampling(self, rng):
        image = rng.random((1, 1, 40, 40))
        slightly = about_centres(np.eye(2) * 1.001, (40, 40), (40, 40))
        point = gswarp.warp_affine(image, slightly, None, "bilinear", "border")
        nearly = gswarp.warp_affine(image, slightly, None, "bilinear", "border", antialias=True)
        twice = about_centres(np.eye(2) * 2, (40, 40), (40, 40))
        half = gswarp.warp_affine(image, twice, None, "bilinear", "border", antialias=True)
        half_point = gswarp.warp_affine(image, twice, None, "bilinear", "border")
        # a 0.1 % shrink changes values by under 1 % of the range; a 2x shrink by far more
        assert np.abs(nearly - point).max() < 0.01
        assert np.abs(half - half_point).max() > 0.1


# --------------------------------------------------------------------------------------------
# where it does not apply: the same bytes as point sampling


def _same_bytes(image, matrix, size, mode, padding="zeros"):
    point = gswarp.warp_affine(image, matrix, size, mode, padding)
    smooth = gswarp.warp_affine(image, matrix, size, mode, padding, antialias=True)
    assert smooth.dtype == point.dtype
    np.testing.assert_array_equal(smooth, point)


class TestSameBytes:
    @pytest.mark.parametrize("mode", ["bilinear", "bicubic", "nearest"])
    def test_maps_that_do_not_shrink(self, rng, mode):
        image = rng.integers(0, 256, (1, 3, 21, 17), dtype=np.uint8)
        for linear in (np.eye(2), rotation(30), rotation(90), np.eye(2) / 1.5, rotation(-13) / 3):
            matrix = about_centres(linear, (21, 17), (25, 19))
            _same_bytes(image, matrix, (1, 3, 25, 19), mode)

    def test_volumes_that_do_not_shrink(self, rng):
        volume = rng.random((1, 2, 7, 8, 9)).astype(np.float32)
        linear = np.eye(3) * 0.8
        linear[:2, :2] = rotation(20) * 0.8
        _same_bytes(volume, np.concatenate([linear, [[1.0], [0.5], [-0.3]]], 1), None, "bilinear")

    @pytest.mark.parametrize("padding", ["zeros", "border", "reflection"])
    def test_nearest_is_never_averaged(self, rng, padding):
        labels = rng.integers(0, 5, (1, 1, 40, 40), dtype=np.uint8)
        matrix = about_centres(rotation(10) * 3.7, (40, 40), (12, 12))
        _same_bytes(labels, matrix, (1, 1, 12, 12), "nearest", padding)

    def test_batch_items_choose_their_own_path(self, rng):
        image = rng.random((2, 1, 30, 30))
        matrices = np.stack(
            [
                about_centres(np.eye(2) * 3, (30, 30), (10, 10)),
                about_centres(np.eye(2) * 0.5, (30, 30), (10, 10)),
            ]
        )
        result = gswarp.warp_affine(image, matrices, (2, 1, 10, 10), antialias=True)
        first = gswarp.warp_affine(image[:1], matrices[:1], (1, 1, 10, 10), antialias=True)
        second = gswarp.warp_affine(image[1:], matrices[1:], (1, 1, 10, 10))
        np.testing.assert_array_equal(result, np.concatenate([first, second]))


# --------------------------------------------------------------------------------------------
# padding, fill, dtypes, layouts


def _coverage(matrix, out_spatial, in_spatial, strips=4096) -> np.ndarray:
    """Fraction of each output pixel's square, mapped by ``matrix``, inside the input's extent:
    the inside length along the square's first side, exactly, summed over ``strips`` strips
    along its second (error ~1e-7)."""
    height, width = in_spatial
    v = (np.arange(strips) + 0.5) / strips - 0.5
    result = np.empty(out_spatial)
    jac, shift = matrix[:, :2], matrix[:, 2]
    for ho in range(out_spatial[0]):
        for wo in range(out_spatial[1]):
            centre = jac @ [wo, ho] + shift
            lo = np.full(strips, -0.5)
            hi = np.full(strips, 0.5)
            for axis, (low, high) in enumerate([(-0.5, width - 0.5), (-0.5, height - 0.5)]):
                offset = centre[axis] + jac[axis, 1] * v  # x or y at u = 0, along the strips
                slope = jac[axis, 0]
                with np.errstate(divide="ignore", invalid="ignore"):
                    a, b = (low - offset) / slope, (high - offset) / slope
                if slope == 0:
                    inside = (offset >= low) & (offset <= high)
                    a = np.where(inside, -np.inf, np.inf)
                    b = np.where(inside, np.inf, -np.inf)
                lo = np.maximum(lo, np.minimum(a, b))
                hi = np.minimum(hi, np.maximum(a, b))
            result[ho, wo] = np.clip(hi - lo, 0, None).mean()
    return result


class TestPaddingAndValues:
    def test_zeros_padding_blends_the_fill_by_the_area_outside(self):
        ones = np.ones((1, 1, 30, 40))
        matrix = about_centres(rotation(30) * 2.5, (30, 40), (22, 22))
        result = gswarp.warp_affine(
            ones, matrix, (1, 1, 22, 22), "bilinear", "zeros", antialias=True
        )
        coverage = _coverage(matrix, (22, 22), (30, 40))
        np.testing.assert_allclose(result[0, 0], coverage, atol=1e-6)  # the engine's is exact
        assert (result[0, 0][coverage == 1] == 1).mean() > 0.9
        assert np.all(result[0, 0][coverage == 0] == 0)
        assert ((coverage > 0) & (coverage < 1)).sum() > 20  # the test saw edges

    @pytest.mark.parametrize("k", [2, 3])
    def test_an_overhanging_resize_blends_its_last_pixels_exactly(self, k):
        spatial = (9, 10, 11)[:k]
        out_spatial = (4, 4, 5)[:k]  # not a whole shrink: the last pixels reach past the edge
        ratios = [2.5] * k  # output pixel i covers input [2.5 i - 0.5, 2.5 (i + 1) - 0.5]
        matrix = np.concatenate([np.diag(ratios), np.full((k, 1), 0.75)], axis=1)
        ones = np.ones((1, 1, *spatial))
        result = gswarp.warp_affine(ones, matrix, (1, 1, *out_spatial), antialias=True)
        expected = np.ones(out_spatial)
        for axis, (size, count) in enumerate(zip(spatial[::-1], out_spatial[::-1], strict=True)):
            centres = 2.5 * np.arange(count) + 0.75
            lows, highs = centres - 1.25, centres + 1.25
            fraction = (np.minimum(highs, size - 0.5) - np.maximum(lows, -0.5)) / 2.5
            shape = [1] * k
            shape[k - 1 - axis] = count
            expected = expected * np.clip(fraction, 0, 1).reshape(shape)
        assert expected.min() < 1  # the case overhangs
        np.testing.assert_allclose(result[0, 0], expected, atol=1e-12)

    def test_fill_per_channel_and_non_finite_maps(self, rng):
        image = rng.random((1, 3, 20, 20))
        matrix = about_centres(np.eye(2) * 2, (20, 20), (20, 20))
        result = gswarp.warp_affine(image, matrix, None, fill=[1, 2, 3], antialias=True)
        for c, value in enumerate((1, 2, 3)):
            assert result[0, c, 0, 0] == value  # a corner wholly outside
        broken = matrix.copy()
        broken[0, 2] = np.nan
        result = gswarp.warp_affine(image, broken, None, fill=[1, 2, 3], antialias=True)
        np.testing.assert_array_equal(result[0, :, 5, 5], [1, 2, 3])

    def test_integers_round_half_to_even_and_clip(self, rng):
        board = ((np.indices((48, 48)) // 6).sum(axis=0) % 2 * 255).astype(np.uint8)[None, None]
        matrix = about_centres(rotation(8) * 1.3, (48, 48), (20, 20))
        as_uint8 = gswarp.warp_affine(
            board, matrix, (1, 1, 20, 20), "bicubic", "border", antialias=True
        )
        exact = gswarp.warp_affine(
            board.astype(np.float64), matrix, (1, 1, 20, 20), "bicubic", "border", antialias=True
        )
        assert exact.min() < 0 or exact.max() > 255  # Keys' cubic overshoots: clipping is tested
        expected = np.clip(np.rint(exact.astype(np.float32)), 0, 255)
        np.testing.assert_array_equal(as_uint8, expected)

    @pytest.mark.slow
    @pytest.mark.parametrize("dtype", [np.float16, np.int16])
    def test_other_dtypes_compute_as_point_sampling_does(self, rng, dtype):
        image = (rng.random((1, 2, 30, 30)) * 1000 - 300).astype(dtype)
        matrix = about_centres(rotation(12) * 2.6, (30, 30), (11, 11))
        result = gswarp.warp_affine(image, matrix, (1, 2, 11, 11), antialias=True)
        exact = gswarp.warp_affine(
            image.astype(np.float32), matrix, (1, 2, 11, 11), antialias=True
        )  # both compute in float32
        if dtype == np.float16:
            expected = exact.astype(np.float16)
        else:
            info = np.iinfo(dtype)
            expected = np.clip(np.rint(exact), info.min, info.max).astype(dtype)
        assert result.dtype == dtype
        np.testing.assert_array_equal(result, expected)

    @pytest.mark.parametrize("layout", LAYOUTS)
    def test_layouts_give_the_same_bytes(self, rng, layout):
        image = rng.integers(0, 256, (1, 3, 33, 29), dtype=np.uint8)
        matrix = about_centres(rotation(15) * 2.2, (33, 29), (14, 12))
        expected = gswarp.warp_affine(image, matrix, (1, 3, 14, 12), antialias=True)
        result = gswarp.warp_affine(laid_out(image, layout), matrix, (1, 3, 14, 12), antialias=True)
        np.testing.assert_array_equal(result, expected)


# --------------------------------------------------------------------------------------------
# per-point footprints: coordinates, flows and chains


class TestPerPoint:
    def test_coordinates_of_an_affine_map_agree_with_the_affine_path(self, rng):
        image = rng.random((1, 2, 40, 50))
        matrix = about_centres(rotation(-20) @ np.diag([2.5, 1.5]), (40, 50), (15, 18))
        ys, xs = np.mgrid[0:15, 0:18].astype(np.float64)
        coords = np.stack([xs, ys, np.ones_like(xs)], -1) @ matrix.T
        by_coords = gswarp.sample_pixels(image, coords[None], antialias=True)
        by_matrix = gswarp.warp_affine(image, matrix, (1, 2, 15, 18), antialias=True)
        np.testing.assert_allclose(by_coords, by_matrix, atol=1e-9)

    def test_a_chain_with_a_field_fused_or_tile_by_tile(self, rng):
        image = rng.random((1, 1, 60, 60))
        matrix = about_centres(np.eye(2) * 2.4, (60, 60), (24, 24))
        still = FieldStep(np.zeros((24, 24, 2)))  # a field that moves nothing
        steps = [still, MatrixStep(matrix)]
        size = (1, 1, 24, 24)
        whole = sample_chain(image, steps, size, antialias=True, fuse=False)
        tiles = sample_chain(image, steps, size, antialias=True, fuse=False, tile_points=24 * 5)
        np.testing.assert_array_equal(tiles, whole)  # the tiles' edges are invisible
        fused = sample_chain(image, steps, size, antialias=True)
        affine = gswarp.warp_affine(image, matrix, size, antialias=True)
        np.testing.assert_allclose(whole, affine, atol=1e-9)
        np.testing.assert_allclose(fused, affine, atol=1e-9)

    @pytest.mark.parametrize("spatial", [(30, 34), (10, 12, 14)])
    def test_a_smooth_flow_fused_equals_tile_by_tile(self, rng, spatial):
        k = len(spatial)
        image = rng.random((1, 2, *spatial))
        field = rng.standard_normal((*[4] * k, k)) * 1.5  # a coarse field: smooth when upsampled
        to_field = np.concatenate(
            [np.diag([3 / (n - 1) for n in spatial[::-1]]), np.zeros((k, 1))], axis=1
        )
        shrink = np.concatenate([np.eye(k) * 1.7, np.zeros((k, 1))], axis=1)
        steps = [MatrixStep(shrink), FieldStep(field, to_field)]
        size = (1, 2, *[n // 2 for n in spatial])
        fused = sample_chain(image, steps, size, antialias=True)
        buffered = sample_chain(image, steps, size, antialias=True, fuse=False, tile_points=50)
        np.testing.assert_allclose(fused, buffered, atol=1e-9)
        point = sample_chain(image, steps, size)
        assert np.abs(fused - point).max() > 0.05  # the footprints did filter

    def test_a_volume_by_coordinates(self, rng):
        volume = rng.random((1, 1, 12, 12, 12))
        matrix = np.concatenate([np.eye(3) * 2.0, np.full((3, 1), 0.5)], axis=1)
        zs, ys, xs = np.mgrid[0:6, 0:6, 0:6].astype(np.float64)
        coords = np.stack([xs, ys, zs, np.ones_like(xs)], -1) @ matrix.T
        by_coords = gswarp.sample_pixels(volume, coords[None], antialias=True)
        by_matrix = gswarp.warp_affine(volume, matrix, (1, 1, 6, 6, 6), antialias=True)
        np.testing.assert_allclose(by_coords, by_matrix, atol=1e-9)


# --------------------------------------------------------------------------------------------
# quality: zone plates and photographs


def _imagemagick_reference(n: int, scale: float) -> np.ndarray:
    from PIL import Image

    return np.asarray(Image.open(DATA / f"zone_plate_imagemagick_{n}_{scale}.png"))


def _real_imagemagick() -> str | None:
    convert = shutil.which("convert")
    if convert is None:
        return None
    version = subprocess.run([convert, "-version"], capture_output=True, text=True)
    return convert if "ImageMagick" in version.stdout else None


ZONE_CASES = [(1024, 0.25), (512, 0.5)]


class TestZonePlates:
    @pytest.mark.parametrize("mode", ["bilinear", "bicubic"])
    @pytest.mark.parametrize(("n", "scale"), ZONE_CASES)
    def test_aliasing_is_suppressed_and_the_passband_kept(self, n, scale, mode):
        plate = np.rint(zone_plate(n)).astype(np.uint8)[None, None]
        matrix = zone_matrix(n, scale, 10)
        common = (matrix, None, mode, "zeros")
        point = gswarp.warp_affine(plate, *common, fill=128)[0, 0]
        smooth = gswarp.warp_affine(plate, *common, fill=128, antialias=True)[0, 0]
        aliased_point, pass_point = zone_figures(point, n, scale)
        aliased, passband = zone_figures(smooth, n, scale)
        aliased_im, _ = zone_figures(_imagemagick_reference(n, scale), n, scale)
        assert aliased**2 <= aliased_point**2 / 10  # energy at least 10x lower
        assert aliased <= aliased_im  # no higher than ImageMagick's
        assert passband >= 0.9 * pass_point

    @pytest.mark.skipif(_real_imagemagick() is None, reason="ImageMagick is not installed")
    @pytest.mark.parametrize(("n", "scale"), ZONE_CASES)
    def test_the_committed_imagemagick_references_are_current(self, tmp_path, n, scale):
        from PIL import Image

        plate = np.rint(zone_plate(n)).astype(np.uint8)
        Image.fromarray(plate).save(tmp_path / "in.png")
        subprocess.run(
            [
                _real_imagemagick(),
                str(tmp_path / "in.png"),
                "-distort",
                "SRT",
                f"{scale} -10",
                str(tmp_path / "out.png"),
            ],
            check=True,
        )
        live = zone_crop(np.asarray(Image.open(tmp_path / "out.png").convert("L")), 256)
        live_figures = zone_figures(live, n, scale)
        committed = zone_figures(_imagemagick_reference(n, scale), n, scale)
        np.testing.assert_allclose(live_figures, committed, rtol=0.02)

    def test_a_zone_sphere(self):
        n, scale = 64, 0.5
        sphere = zone_plate(n, dims=3)[None, None]
        matrix = zone_matrix(n, scale, 10, dims=3)
        point = gswarp.warp_affine(sphere, matrix, None, "bilinear", "zeros", fill=127.5)[0, 0]
        smooth = gswarp.warp_affine(
            sphere, matrix, None, "bilinear", "zeros", fill=127.5, antialias=True
        )[0, 0]
        aliased_point, pass_point = zone_figures(point, n, scale)
        aliased, passband = zone_figures(smooth, n, scale)
        assert aliased**2 <= aliased_point**2 / 10
        assert passband >= 0.9 * pass_point


def _continuous_reference(image: np.ndarray, matrix: np.ndarray, out_shape, samples=16):
    """The same filter applied to the continuous (bilinearly interpolated) image: the tent's
    weights over ``samples``^2 sub-samples of its support per output pixel (scipy's
    map_coordinates reads the image, edges continued)."""
    from scipy.ndimage import map_coordinates

    lower = np.linalg.inv(frame_inverse(matrix[:, :2]))  # L, L L^T = Sigma
    t = (np.arange(samples) + 0.5) / samples * 2 - 1
    u0, u1 = np.meshgrid(t, t, indexing="ij")
    weights = ((1 - abs(u0)) * (1 - abs(u1))).ravel()
    weights /= weights.sum()
    offsets = lower @ np.stack([u0.ravel(), u1.ravel()])
    ho, wo = np.mgrid[0 : out_shape[0], 0 : out_shape[1]]
    cx = matrix[0, 0] * wo + matrix[0, 1] * ho + matrix[0, 2]
    cy = matrix[1, 0] * wo + matrix[1, 1] * ho + matrix[1, 2]
    total = np.zeros(out_shape)
    for w, (dx, dy) in zip(weights, offsets.T, strict=True):
        total += w * map_coordinates(image, [cy + dy, cx + dx], order=1, mode="nearest")
    return total


class TestPhotographs:
    @pytest.mark.parametrize("scale", [0.5, 0.3, 0.2])
    def test_within_40_db_of_a_supersampled_reference(self, scale):
        data = pytest.importorskip("skimage.data", reason="scikit-image is not installed")
        photo = data.camera().astype(np.float64)
        height, width = photo.shape
        out_shape = (int(height * scale), int(width * scale))
        geometries = [(17, 0.0, 1.0), (-25, 0.3, 0.7)]  # rotation, shear, anisotropy
        for degrees, shear, aspect in geometries:
            forward = (
                rotation(degrees)
                @ np.array([[1, shear], [0, 1]])
                @ np.diag([scale, scale * aspect])
            )
            matrix = about_centres(np.linalg.inv(forward), (height, width), out_shape)
            size = (1, 1, *out_shape)
            smooth = gswarp.warp_affine(
                photo[None, None], matrix, size, "bilinear", "border", antialias=True
            )
            point = gswarp.warp_affine(photo[None, None], matrix, size, "bilinear", "border")
            reference = _continuous_reference(photo, matrix, out_shape)
            inner = (slice(6, -6), slice(6, -6))  # the edges are continued differently
            assert psnr(smooth[0, 0][inner], reference[inner]) >= 40
            assert psnr(point[0, 0][inner], reference[inner]) < 35  # the reference discriminates


# --------------------------------------------------------------------------------------------
# the spec's default: auto, on for images, off for volumes


class TestSpecDefault:
    @pytest.mark.parametrize(("spatial", "filtered"), [((40, 44), True), ((12, 14, 16), False)])
    def test_auto_filters_images_and_point_samples_volumes(self, rng, spatial, filtered):
        from gswarp.plan import resolve
        from gswarp.run.warp import warp_pixels
        from gswarp.spec import parse_spec

        pixels = rng.random(spatial)
        spec = parse_spec("version: 1\ntransform: []\noutput: {size: {scale: 0.4}}\n", "s.yaml")
        plan = resolve(spec, spatial)
        result = warp_pixels(pixels, plan)
        size = (1, 1, *plan.output_size)
        matrix = plan.sampling_matrix
        smooth = gswarp.warp_affine(pixels[None, None], matrix, size, antialias=True)[0, 0]
        point = gswarp.warp_affine(pixels[None, None], matrix, size)[0, 0]
        np.testing.assert_array_equal(result, smooth if filtered else point)
        assert not np.array_equal(smooth, point)
        switched = warp_pixels(pixels, resolve(spec.with_sampling(antialias=not filtered), spatial))
        np.testing.assert_array_equal(switched, point if filtered else smooth)


def _scene(height: int = 240, width: int = 320) -> np.ndarray:
    """Detail at several scales (a product of sines and noise), float32 in [80, 200]."""
    rows, columns = np.mgrid[0:height, 0:width]
    noise = np.random.default_rng(0).random((height, width))
    return (np.sin(columns * 0.3) * np.cos(rows * 0.21) * 60 + noise * 20 + 100).astype(np.float32)


@pytest.mark.parametrize("size", [(160, 120), (80, 60), (128, 96), (100, 75)])
def test_lanczos_antialias_is_pillows_lanczos_resize_inside(size):
    """Issue 30: ``antialias='lanczos'`` (a resize's footprint filtered with Lanczos-3,
    stretched by the shrink) equals Pillow's ``resize(LANCZOS)`` of a float image away from
    the edges (Pillow renormalizes the taps the edge cuts; gswarp's paddings read past it)."""
    from PIL import Image

    image = _scene()
    width, height = size
    expected = np.asarray(Image.fromarray(image, mode="F").resize(size, Image.LANCZOS))
    sx, sy = 320 / width, 240 / height
    matrix = np.array([[sx, 0, (sx - 1) / 2], [0, sy, (sy - 1) / 2]])
    got = gswarp.warp_affine(
        image[None, None].astype(np.float64), matrix, (1, 1, height, width),
        padding_mode="border", antialias="lanczos",
    )[0, 0]  # fmt: skip
    margin = 4
    inner = (slice(margin, -margin), slice(margin, -margin))
    assert np.abs(got - expected)[inner].max() <= 1e-5 * float(np.ptp(image))


def test_lanczos_antialias_is_as_sharp_as_pillows_and_sharper_than_the_tent():
    """A 4x thumbnail's Laplacian variance (sharpness) with ``antialias: lanczos`` is
    Pillow's LANCZOS's within 1 %, and above the default (the widened tent of bilinear)."""
    from PIL import Image

    image = _scene()
    matrix = np.array([[4.0, 0, 1.5], [0, 4.0, 1.5]])

    def sharpness(values: np.ndarray) -> float:
        inner = values[2:-2, 2:-2]
        laplacian = (
            inner[:-2, 1:-1] + inner[2:, 1:-1] + inner[1:-1, :-2] + inner[1:-1, 2:]
            - 4 * inner[1:-1, 1:-1]
        )  # fmt: skip
        return float(laplacian.var())

    def thumbnail(antialias) -> np.ndarray:
        return gswarp.warp_affine(
            image[None, None], matrix, (1, 1, 60, 80), padding_mode="border", antialias=antialias
        )[0, 0]

    pillow = sharpness(np.asarray(Image.fromarray(image, mode="F").resize((80, 60), Image.LANCZOS)))
    lanczos, tent = sharpness(thumbnail("lanczos")), sharpness(thumbnail(True))
    assert abs(lanczos - pillow) <= 0.01 * pillow
    assert lanczos > 1.2 * tent


def test_lanczos_antialias_in_a_spec_and_refused_values():
    from gswarp.errors import SpecError
    from gswarp.spec import parse_spec

    spec = parse_spec("version: 1\nsampling: {antialias: lanczos}\n")
    assert spec.sampling.antialias_for(2) == "lanczos"
    assert spec.sampling.normalized()["antialias"] == "lanczos"
    with pytest.raises(SpecError, match="expected true, false, auto or lanczos, got 'sinc'"):
        parse_spec("version: 1\nsampling: {antialias: sinc}\n")
    with pytest.raises(SpecError, match="antialias: expected True, False or 'lanczos'"):
        gswarp.warp_affine(np.zeros((1, 1, 4, 4)), np.eye(2, 3), (1, 1, 2, 2), antialias="box")
