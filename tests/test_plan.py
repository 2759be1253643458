"""Resolving specs against an image size, and warping arrays with the result (conventions)."""

from __future__ import annotations

import numpy as np
import pytest

import gswarp
from gswarp.errors import SpecError
from gswarp.plan import resolve
from gswarp.run.sources import FILES
from gswarp.run.warp import convert_values, warp_pixels
from gswarp.spec import parse_spec
from gswarp.transforms import affine_2d, sampling_matrix


def spec(transform: str = "[]", **sections: str):
    text = f"version: 1\ntransform: {transform}\n"
    text += "".join(f"{key}: {value}\n" for key, value in sections.items())
    return parse_spec(text, "t.yaml")


def warp(image: np.ndarray, transform: str = "[]", k: int = 2, **sections: str) -> np.ndarray:
    """Warp an (H, W[, C]) image, or with k=3 a (D, H, W[, C]) volume."""
    parsed = spec(transform, **sections)
    return warp_pixels(image, resolve(parsed, image.shape[:k], sources=FILES))


MODES = ("nearest", "bilinear", "bicubic")


@pytest.fixture
def photo(rng) -> np.ndarray:
    return rng.integers(0, 256, (32, 32, 3), dtype=np.uint8)


class TestConventions:
    """The conventions the issue pins, bit for bit."""

    @pytest.mark.parametrize(
        ("dtype", "mode"),
        [(dtype, mode) for dtype in (np.uint8, np.float32) for mode in MODES]
        + [
            pytest.param(dtype, "bilinear", marks=pytest.mark.slow)
            for dtype in (np.uint16, np.int16, np.int32, np.float64)
        ],
    )
    def test_identity_spec_returns_the_input(self, rng, dtype, mode):
        image = (rng.random((17, 23, 3)) * 1000).astype(dtype)
        np.testing.assert_array_equal(warp(image, sampling=f"{{mode: {mode}}}"), image)

    def test_a_number_translates_every_axis(self, photo):
        np.testing.assert_array_equal(
            warp(photo, "{affine: {translate: 3}}", sampling="{mode: nearest}"),
            warp(photo, "{affine: {translate: [3, 3]}}", sampling="{mode: nearest}"),
        )
        cube = np.arange(4 * 5 * 6).reshape(4, 5, 6)
        moved = warp(cube, "{affine: {translate: 1}}", 3, sampling="{mode: nearest}")
        np.testing.assert_array_equal(moved[1:, 1:, 1:], cube[:-1, :-1, :-1])

    @pytest.mark.parametrize("mode", ["nearest", "bilinear", "bicubic"])
    def test_rotate_90_equals_numpy_rot90(self, photo, mode):
        turned = warp(photo, "{affine: {rotate: 90}}", sampling=f"{{mode: {mode}}}")
        np.testing.assert_array_equal(turned, np.rot90(photo))
        np.testing.assert_array_equal(warp(photo, "{affine: {rotate: -90}}"), np.rot90(photo, -1))
        np.testing.assert_array_equal(warp(photo, "{affine: {rotate: 180}}"), np.rot90(photo, 2))

    def test_translate_moves_content_right_and_down(self, photo):
        moved = warp(photo, "{affine: {translate: [5, 0]}}")
        np.testing.assert_array_equal(moved[:, 5:], photo[:, :-5])
        assert not moved[:, :5].any()  # uncovered columns get fill 0
        down = warp(photo, "{affine: {translate: [0, 3]}}")
        np.testing.assert_array_equal(down[3:], photo[:-3])

    def test_rotate_90_with_expand_equals_rot90_on_any_shape(self, rng):
        for height, width in [(20, 31), (20, 30), (7, 12)]:
            image = rng.integers(0, 256, (height, width), dtype=np.uint8)
            out = warp(image, "{affine: {rotate: 90}}", output="{size: expand}")
            np.testing.assert_array_equal(out, np.rot90(image))

    def test_negative_scale_flips(self, photo):
        np.testing.assert_array_equal(warp(photo, "{affine: {scale: [-1, 1]}}"), photo[:, ::-1])

    def test_matrix_is_forward_in_pixels(self, photo):
        mirrored = warp(photo, "{affine: {matrix: [[-1, 0, 31], [0, 1, 0]]}}")
        np.testing.assert_array_equal(mirrored, photo[:, ::-1])


class TestComposition:
    def test_a_list_resamples_once(self, rng):
        image = rng.random((40, 40))
        there_and_back = "[{affine: {rotate: 33}}, {affine: {rotate: -33}}]"
        once = warp(image, there_and_back, sampling="{padding: border}")
        np.testing.assert_allclose(once, image, atol=1e-9)  # two resamples would blur: ~0.1
        twice = warp(
            warp(image, "{affine: {rotate: 33}}", sampling="{padding: border}"),
            "{affine: {rotate: -33}}",
            sampling="{padding: border}",
        )
        assert np.abs(twice - image)[10:30, 10:30].max() > 0.05

    def test_first_listed_acts_first(self):
        parsed = spec("[{affine: {scale: 2, center: origin}}, {affine: {translate: [3, 0]}}]")
        plan = resolve(parsed, (10, 10))
        expected = affine_2d(translate=(3, 0)) @ affine_2d(scale=2)
        np.testing.assert_allclose(plan.forward, expected)
        np.testing.assert_allclose(plan.sampling_matrix, sampling_matrix(expected))

    def test_equals_warp_affine_with_the_composed_matrix(self, photo):
        transform = (
            "[{affine: {rotate: 15, scale: 1.2, shear: [5, 0], translate: [2, -1]}},"
            " {affine: {matrix: [[1, 0, 3], [0, 1, 0]]}}]"
        )
        center = (15.5, 15.5)
        forward = affine_2d(0, 1, (0, 0), (3, 0)) @ affine_2d(15, 1.2, (5, 0), (2, -1), center)
        expected = gswarp.warp_affine(photo.transpose(2, 0, 1)[None], sampling_matrix(forward))
        np.testing.assert_array_equal(warp(photo, transform), expected[0].transpose(1, 2, 0))


class TestTheta:
    @pytest.mark.parametrize("antialias", ["false", "true"])
    def test_theta_equals_affine_sample(self, rng, antialias):
        image = rng.random((1, 3, 24, 30)).astype(np.float32)
        theta = [[0.9, -0.2, 0.1], [0.3, 1.1, -0.05]]  # shrinks a little: antialias matters
        for align in ("false", "true"):
            out = warp(
                image[0].transpose(1, 2, 0),
                f"{{affine: {{theta: {theta}}}}}",
                sampling=f"{{align_corners: {align}, antialias: {antialias}}}",
            )
            expected = gswarp.affine_sample(
                image,
                np.array([theta]),
                align_corners=align == "true",
                antialias=antialias == "true",
            )
            np.testing.assert_array_equal(out, expected[0].transpose(1, 2, 0))

    def test_theta_with_another_output_size_matches_torch_semantics(self, rng):
        image = rng.random((1, 1, 24, 30))
        theta = np.array([[[0.5, 0.1, 0.2], [-0.1, 0.7, 0.0]]])
        out = warp(
            image[0, 0],
            f"{{affine: {{theta: {theta[0].tolist()}}}}}",
            output="{size: [17, 9]}",
            sampling="{antialias: false}",  # torch's point sampling
        )
        expected = gswarp.grid_sample(image, gswarp.affine_grid(theta, (1, 1, 9, 17)))
        np.testing.assert_allclose(out, expected[0, 0], atol=1e-12)

    def test_plan_theta_reproduces_the_sampling_map(self):
        parsed = spec("{affine: {rotate: 20, translate: [3, 1]}}", output="{size: [50, 30]}")
        plan = resolve(parsed, (40, 60))
        image = np.random.default_rng(1).random((1, 1, 40, 60))
        by_theta = gswarp.affine_sample(image, plan.theta[None], (1, 1, 30, 50))
        by_matrix = gswarp.warp_affine(image, plan.sampling_matrix, (1, 1, 30, 50))
        np.testing.assert_allclose(by_theta, by_matrix, atol=1e-9)


class TestOutputGeometry:
    def test_size_and_scale(self, photo):
        assert warp(photo, output="{size: [20, 10]}").shape == (10, 20, 3)
        assert warp(photo, output="{size: {scale: 0.5}}").shape == (16, 16, 3)
        assert warp(photo, output="{size: {scale: [2, 0.25]}}").shape == (8, 64, 3)

    def test_half_size_point_sampled_is_the_mean_of_2x2_blocks(self, rng):
        image = rng.random((8, 12))
        half = warp(image, output="{size: {scale: 0.5}}", sampling="{antialias: false}")
        expected = image.reshape(4, 2, 6, 2).mean(axis=(1, 3))
        np.testing.assert_allclose(half, expected, atol=1e-12)

    def test_expand_holds_the_whole_rotated_image(self):
        plan = resolve(spec("{affine: {rotate: 45}}", output="{size: expand}"), (100, 100))
        assert plan.output_size == (142, 142)  # ceil(100 * sqrt 2)
        corners = plan.forward @ np.array([[-0.5, -0.5, 1], [99.5, 99.5, 1]]).T
        assert np.all(corners[:2] >= -0.5 - 1e-9) and np.all(corners[:2] <= 141.5 + 1e-9)


class TestValues:
    def test_fill_per_channel(self, photo):
        out = warp(photo, "{affine: {translate: [4, 0]}}", sampling="{fill: [1, 2, 3]}")
        np.testing.assert_array_equal(out[:, :4], np.broadcast_to([1, 2, 3], (32, 4, 3)))

    def test_fill_count_must_match_the_channels(self, photo):
        with pytest.raises(SpecError, match=r"sampling.fill: expected 1 value or 3 .* got 2"):
            warp(photo, sampling="{fill: [1, 2]}")

    def test_dtype_scale_maps_ranges(self, photo):
        wide = warp(photo, output="{dtype: uint16, values: scale}")
        np.testing.assert_array_equal(wide, photo.astype(np.uint16) * 257)
        unit = warp(photo, output="{dtype: float32, values: scale}")
        np.testing.assert_allclose(unit, photo / 255, rtol=1e-6)
        back = warp(unit, output="{dtype: uint8, values: scale}")
        np.testing.assert_array_equal(back, photo)

    def test_auto_scales_8_and_16_bit_photos_and_keeps_everything_else(self, photo):
        plan = resolve(spec(output="{dtype: uint16}"), photo.shape[:2])
        as_photo = warp_pixels(photo, plan, photo=True)
        np.testing.assert_array_equal(as_photo, photo.astype(np.uint16) * 257)
        np.testing.assert_array_equal(warp_pixels(photo, plan), photo)  # an array: measurements
        hounsfield = np.array([[-1000, 0, 40, 1045]], np.int16)
        plan = resolve(spec(output="{dtype: float32}"), hounsfield.shape)
        for as_photo in (False, True):  # int16 is not a photo dtype either way
            kept = warp_pixels(hounsfield, plan, photo=as_photo)
            np.testing.assert_array_equal(kept, hounsfield.astype(np.float32))
        unit = np.array([[0.0, 0.25, 1.0]], np.float32)  # a float photo keeps its numbers too
        plan = resolve(spec(output="{dtype: uint8}"), unit.shape)
        np.testing.assert_array_equal(warp_pixels(unit, plan, photo=True), [[0, 0, 1]])

    def test_conversions_that_rescale_or_clip_are_reported(self, photo):
        notes = []
        plan = resolve(spec(output="{dtype: uint16}"), photo.shape[:2])
        warp_pixels(photo, plan, photo=True, name="p.png", notify=lambda *n: notes.append(n))
        assert notes == [
            (
                "scale uint8 uint16",
                "p.png: uint8 -> uint16 multiplies values by 257 (output.values: scale maps full "
                "ranges; 'values: keep' keeps the numbers)",
            )
        ]
        notes.clear()
        signed = np.array([[-5, 0, 300]], np.int16)
        plan = resolve(spec(output="{dtype: uint8}"), signed.shape)
        out = warp_pixels(signed, plan, name="v.npy", notify=lambda *n: notes.append(n))
        np.testing.assert_array_equal(out, [[0, 0, 255]])
        clipped = "v.npy: int16 -> uint8 clipped 2 values to uint8's range 0..255"
        assert notes == [("clip int16 uint8", clipped)]
        notes.clear()
        signed = np.array([[-128, -1, 0, 127]], np.int8)  # scale matches maxima, clips negatives
        plan = resolve(spec(output="{dtype: uint8, values: scale}"), signed.shape)
        out = warp_pixels(signed, plan, name="s.npy", notify=lambda *n: notes.append(n))
        np.testing.assert_array_equal(out, [[0, 0, 0, 255]])
        assert [key for key, _ in notes] == ["scale int8 uint8", "clip int8 uint8"]
        notes.clear()
        warp_pixels(photo, resolve(spec(), photo.shape[:2]), notify=lambda *n: notes.append(n))
        assert notes == []  # no conversion, nothing to say

    def test_dtype_keep_rounds_and_clips_only(self, photo):
        signed = warp(photo, output="{dtype: int8, values: keep}")
        np.testing.assert_array_equal(signed, np.minimum(photo, 127).astype(np.int8))

    def test_convert_values_rounds_half_to_even(self):
        values = np.array([0.5, 1.5, 2.5, -3.0, 300.0])
        assert convert_values(values, np.uint8, "keep").tolist() == [0, 2, 2, 0, 255]


def warp3(volume: np.ndarray, transform: str = "[]", **sections: str) -> np.ndarray:
    return warp(volume, transform, 3, **sections)


class TestVolumes:
    """3-D specs: quarter turns equal numpy.rot90 on the matching axes (volume axes z, y, x)."""

    @pytest.fixture
    def cube(self, rng) -> np.ndarray:
        return rng.random((9, 9, 9)).astype(np.float32)

    @pytest.mark.parametrize(
        ("rotate", "axes"),
        [("90", (1, 2)), ("[0, 0, 90]", (1, 2)), ("[90, 0, 0]", (0, 1)), ("[0, 90, 0]", (2, 0))],
    )
    def test_quarter_turns_equal_rot90(self, cube, rotate, axes):
        out = warp3(cube, f"{{affine: {{rotate: {rotate}}}}}")
        np.testing.assert_array_equal(out, np.rot90(cube, axes=axes))

    def test_about_z_turns_each_slice_as_an_image(self, rng):
        volume = rng.random((3, 12, 16))
        out = warp3(volume, "{affine: {rotate: 17, translate: [1, 2, 0]}}")
        for z in range(3):
            np.testing.assert_allclose(
                out[z], warp(volume[z], "{affine: {rotate: 17, translate: [1, 2]}}"), atol=1e-12
            )

    def test_translate_moves_along_z(self, cube):
        out = warp3(cube, "{affine: {translate: [0, 0, 2]}}")
        np.testing.assert_array_equal(out[2:], cube[:-2])

    def test_expand_and_sizes(self, rng):
        volume = rng.random((4, 6, 10))
        turned = warp3(volume, "{affine: {rotate: [90, 0, 0]}}", output="{size: expand}")
        np.testing.assert_array_equal(turned, np.rot90(volume, axes=(0, 1)))
        assert warp3(volume, output="{size: [5, 3, 2]}").shape == (2, 3, 5)
        assert warp3(volume, output="{size: {scale: 0.5}}").shape == (2, 3, 5)

    def test_matrices_and_theta_in_3d(self, cube):
        flipped = warp3(cube, "{affine: {matrix: [[-1, 0, 0, 8], [0, 1, 0, 0], [0, 0, 1, 0]]}}")
        np.testing.assert_array_equal(flipped, cube[:, :, ::-1])
        identity = warp3(cube, "{affine: {theta: [[1, 0, 0, 0], [0, 1, 0, 0], [0, 0, 1, 0]]}}")
        np.testing.assert_array_equal(identity, cube)

    @pytest.mark.parametrize(
        ("transform", "message"),
        [
            (
                "{affine: {rotate: [0, 0, 90]}}",
                "rotate: an image needs one angle, got [0.0, 0.0, 90.0]",
            ),
            ("{affine: {translate: [1, 2, 3]}}", "translate: an image needs 2 values"),
            (
                "{affine: {matrix: [[1, 0, 0, 0], [0, 1, 0, 0], [0, 0, 1, 0]]}}",
                "matrix: an image needs a 2x3 or 3x3 matrix, got 3x4",
            ),
        ],
    )
    def test_3d_forms_on_an_image_are_errors(self, photo, transform, message):
        with pytest.raises(
            SpecError,
            match=r"t\.yaml:2:\d+: transform\.affine\."
            + message.replace("[", r"\[").replace("]", r"\]").replace(".", r"\."),
        ):
            warp(photo, transform)

    def test_2d_forms_on_a_volume_are_errors(self, cube):
        with pytest.raises(SpecError, match="shear: a volume needs no shear"):
            warp3(cube, "{affine: {shear: 5}}")
        with pytest.raises(SpecError, match="matrix: a volume needs a 3x4 or 4x4 matrix, got 2x3"):
            warp3(cube, "{affine: {matrix: [[1, 0, 0], [0, 1, 0]]}}")


class TestSources:
    """The plan opens no file: a spec's files come from the caller's sources."""

    SPEC = "version: 1\ntransform: [{flow: {path: f.npy}}, {affine: {translate: [1, 0]}}]\n"

    def test_a_flow_from_memory_equals_the_same_flow_read_from_its_file(self, tmp_path, rng):
        field = rng.normal(0, 2, (12, 16, 2))
        np.save(tmp_path / "f.npy", field)
        parsed = parse_spec(self.SPEC, "s.yaml", tmp_path)
        read = []

        class InMemory:  # a chunk planner's or a test's sources: no disk
            def flow_field(self, path, spatial, key):
                read.append(path)
                return field

        (tmp_path / "f.npy").unlink()  # gone: only the in-memory copy is left
        image = rng.random((12, 16))
        from_memory = warp_pixels(image, resolve(parsed, (12, 16), sources=InMemory()))
        assert read == [tmp_path / "f.npy"]
        np.save(tmp_path / "f.npy", field)
        from_file = warp_pixels(image, resolve(parsed, (12, 16), sources=FILES))
        assert from_memory.tobytes() == from_file.tobytes()

    def test_without_sources_a_spec_naming_a_file_is_one_error(self, tmp_path):
        np.save(tmp_path / "f.npy", np.zeros((4, 4, 2)))
        parsed = parse_spec(self.SPEC, "s.yaml", tmp_path)
        with pytest.raises(
            SpecError, match=r"transform\[0\]\.flow: .*f\.npy: the plan reads no file"
        ):
            resolve(parsed, (4, 4))


def test_labels_vote_is_the_bilinear_indicator_past_one_half_for_two_labels(rng):
    """``sampling: {labels: true}`` on a two-label map {0, 5}: label 5 wins exactly where its
    bilinearly warped indicator exceeds the other's, 1 - it, i.e. passes 0.5 (ties go to the
    smaller label); only the map's labels come out (and the fill past the input)."""
    mask = (rng.random((40, 50)) < 0.4).astype(np.uint8) * 5
    text = "{affine: {rotate: 17, scale: 1.3}}"
    voted = warp(mask, text, sampling="{labels: true, antialias: false, fill: 9}")
    indicator = warp((mask == 5).astype(np.float64), text, sampling="{antialias: false}")
    other = warp((mask == 0).astype(np.float64), text, sampling="{antialias: false}")
    covered = (indicator + other) > 0
    assert set(np.unique(voted)) <= {0, 5, 9}
    np.testing.assert_array_equal(voted[covered] == 5, (indicator > other)[covered])
    assert np.all(voted[~covered] == 9)
    assert spec(sampling="{labels: true}").normalized()["sampling"]["labels"] is True
    assert "labels" not in spec().normalized()["sampling"]  # specs without it print as before
