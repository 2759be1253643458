"""Flow fields: the tiled chain sampler, field files, flow specs, and flows through apply."""

from __future__ import annotations

import tracemalloc

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

import gswarp
from gswarp.cli.main import cli
from gswarp.engine.tiles import FieldStep, MatrixStep, chain_coordinates, sample_chain
from gswarp.errors import InputError, SpecError
from gswarp.io.fields import load_field
from gswarp.plan import resolve
from gswarp.run.sources import FILES
from gswarp.run.warp import warp_pixels
from gswarp.spec import FlowSpec, load_spec, parse_spec


def base_grid(height: int, width: int) -> np.ndarray:
    y, x = np.mgrid[0:height, 0:width].astype(np.float64)
    return np.stack([x, y], axis=-1)


def smooth_field(rng, height: int, width: int, amplitude: float = 4.0) -> np.ndarray:
    y, x = np.mgrid[0:height, 0:width] / max(height, width)
    phase = rng.random(4) * 6
    return amplitude * np.stack(
        [
            np.sin(3 * x + phase[0]) * np.cos(2 * y + phase[1]),
            np.cos(4 * y + phase[2]) * np.sin(x + phase[3]),
        ],
        axis=-1,
    )


class TestChainSampler:
    @pytest.mark.parametrize(
        ("mode", "dtype"),
        [("bilinear", np.float32), ("nearest", np.uint8)]
        + [
            pytest.param(m, d, marks=pytest.mark.slow)
            for m, d in [
                ("bicubic", np.float32),
                ("nearest", np.float32),
                ("bilinear", np.uint8),
                ("bicubic", np.uint8),
            ]
        ],
    )
    def test_zero_field_is_identity(self, rng, mode, dtype):
        image = (rng.random((2, 3, 20, 30)) * 200).astype(dtype)
        step = FieldStep(np.zeros((20, 30, 2)))
        out = sample_chain(image, [step], image.shape, mode)
        np.testing.assert_array_equal(out, image)

    def test_constant_field_is_a_shift(self, rng):
        image = rng.random((1, 1, 16, 24))
        three = FieldStep(np.broadcast_to([3.0, 0.0], (16, 24, 2)))
        out = sample_chain(image, [three], image.shape)
        np.testing.assert_array_equal(out[..., :-3], image[..., 3:])  # x_src = x_out + 3
        assert not out[..., -3:].any()  # beyond the input: fill 0
        down = FieldStep(np.broadcast_to([0.0, -2.0], (16, 24, 2)))
        np.testing.assert_array_equal(
            sample_chain(image, [down], image.shape)[..., 2:, :], image[..., :-2, :]
        )

    def test_equals_grid_sample_on_the_equivalent_grid(self, rng):
        image = rng.random((1, 3, 40, 50))
        field = smooth_field(rng, 40, 50)
        out = sample_chain(image, [FieldStep(field)], image.shape, "bicubic", "reflection")
        pixels = base_grid(40, 50) + field
        grid = (2 * pixels + 1) / np.array([50, 40]) - 1  # pixels -> normalized, align False
        expected = gswarp.grid_sample(image, grid[None], "bicubic", "reflection")
        np.testing.assert_allclose(out, expected, atol=1e-12)

    def test_matches_torch_grid_sample(self, rng):
        from tests.conftest import torch_or_skip

        torch = torch_or_skip()
        image = rng.random((1, 2, 33, 47)).astype(np.float32)
        field = smooth_field(rng, 33, 47, 6.0)
        out = sample_chain(image, [FieldStep(field)], image.shape)
        grid = (2 * (base_grid(33, 47) + field) + 1) / np.array([47, 33]) - 1
        expected = torch.nn.functional.grid_sample(
            torch.from_numpy(image),
            torch.from_numpy(grid[None].astype(np.float32)),
            align_corners=False,
        ).numpy()
        np.testing.assert_allclose(out, expected, atol=2e-5)

    def test_coarse_field_is_interpolated_on_the_fly(self, rng):
        image = rng.random((1, 1, 64, 80))
        coarse = smooth_field(rng, 8, 10, 5.0)
        to_field = gswarp.transforms.theta_to_pixel_matrix(
            np.eye(2, 3)[None], (8, 10), (64, 80), False
        )[0]
        out = sample_chain(image, [FieldStep(coarse, to_field)], image.shape)
        # the same field brought to full resolution first, by the same bilinear rule
        where = base_grid(64, 80) @ to_field[:, :2].T + to_field[:, 2]
        full = gswarp.sample_pixels(
            np.moveaxis(coarse, -1, 0)[None], where[None], "bilinear", "border", True
        )
        coords = base_grid(64, 80) + np.moveaxis(full[0], 0, -1)
        np.testing.assert_allclose(out, gswarp.sample_pixels(image, coords[None]), atol=1e-12)

    def test_tiles_do_not_change_the_result_and_bound_memory(self, rng):
        image = rng.random((1, 1, 512, 512))
        field = smooth_field(rng, 64, 64)
        to_field = gswarp.transforms.theta_to_pixel_matrix(
            np.eye(2, 3)[None], (64, 64), (512, 512), False
        )[0]
        steps = [MatrixStep(np.array([[1.0, 0.1, -3], [0.0, 1.0, 2]])), FieldStep(field, to_field)]
        whole = sample_chain(image, steps, image.shape, tile_points=1 << 20, fuse=False)
        fused = sample_chain(image, steps, image.shape)
        np.testing.assert_allclose(fused, whole, atol=1e-12)  # the same chain, two code paths
        out = np.empty_like(image)
        full_grid = 512 * 512 * 2 * 8
        for options in ({"tile_points": 8192, "fuse": False}, {}):
            sample_chain(image, steps, image.shape, out=out, **options)  # warm up the kernels
            tracemalloc.start()
            sample_chain(image, steps, image.shape, out=out, **options)
            peak = tracemalloc.get_traced_memory()[1]
            tracemalloc.stop()
            np.testing.assert_allclose(out, whole, atol=1e-12)
            assert peak < full_grid / 4, f"peak {peak} bytes with {options}: not tiled"

    def test_nan_in_a_field_gives_fill(self, rng):
        image = rng.random((1, 2, 8, 9)).astype(np.float32)
        field = np.zeros((8, 9, 2))
        field[3, 4] = np.nan
        for padding in ("zeros", "border", "reflection"):
            out = sample_chain(
                image, [FieldStep(field)], image.shape, "bilinear", padding, fill=[7.0, 8.0]
            )
            assert out[0, :, 3, 4].tolist() == [7.0, 8.0]
            mask = np.ones((8, 9), bool)
            mask[3, 4] = False
            np.testing.assert_array_equal(out[0][:, mask], image[0][:, mask])

    def test_absolute_coordinates(self, rng):
        image = rng.random((1, 1, 6, 7))
        out = sample_chain(image, [FieldStep(base_grid(6, 7)[:, ::-1], absolute=True)], image.shape)
        np.testing.assert_array_equal(out, image[..., ::-1])

    def test_volumes(self, rng):
        volume = rng.random((1, 1, 6, 7, 8)).astype(np.float32)
        zero = FieldStep(np.zeros((6, 7, 8, 3)))
        np.testing.assert_array_equal(sample_chain(volume, [zero], volume.shape), volume)
        shift = FieldStep(np.broadcast_to([0.0, 0.0, 2.0], (6, 7, 8, 3)))
        out = sample_chain(volume, [shift], volume.shape, "nearest", tile_points=50)
        np.testing.assert_array_equal(out[:, :, :-2], volume[:, :, 2:])

    @pytest.mark.parametrize("spatial", [2, pytest.param(3, marks=pytest.mark.slow)])
    def test_two_fields_take_the_buffered_path(self, rng, spatial):
        shape = (1, 1, *([9] * spatial))
        image = rng.random(shape)
        one = FieldStep(rng.normal(0, 0.5, (*shape[2:], spatial)))
        two = FieldStep(
            rng.normal(0, 0.5, (5,) * spatial + (spatial,)),
            to_field=np.eye(spatial, spatial + 1) * 0.5,
        )
        out = sample_chain(image, [one, two], shape, tile_points=20)
        coords = chain_coordinates([one, two], shape[2:], 0, shape[2])
        np.testing.assert_allclose(out, gswarp.sample_pixels(image, coords[None]), atol=1e-12)

    @pytest.mark.parametrize(
        "mode",
        [
            "bilinear",
            pytest.param("nearest", marks=pytest.mark.slow),
            pytest.param("bicubic", marks=pytest.mark.slow),
        ],
    )
    def test_fused_equals_buffered_in_3d(self, rng, mode):
        volume = rng.random((2, 2, 7, 8, 9)).astype(np.float32)
        field = FieldStep(
            rng.normal(0, 1.5, (4, 4, 5, 3)),
            to_field=np.array([[0.5, 0, 0, 0], [0, 0.5, 0, 0], [0, 0, 0.5, 0.1]]),
        )
        steps = [
            MatrixStep(np.array([[1.0, 0.1, 0, 0.5], [0, 1, 0, 0], [0, 0, 1, -0.5]])),
            field,
            MatrixStep(np.array([[1.0, 0, 0, 1], [0, 1, 0, 0], [0, 0, 1, 0]])),
        ]
        fused = sample_chain(volume, steps, volume.shape, mode, "reflection")
        buffered = sample_chain(
            volume, steps, volume.shape, mode, "reflection", fuse=False, tile_points=100
        )
        np.testing.assert_allclose(fused, buffered, atol=1e-6)

    def test_chain_coordinates_apply_steps_in_order(self):
        steps = [
            MatrixStep(np.array([[2.0, 0, 0], [0, 2.0, 0]])),
            FieldStep(np.ones((3, 3, 2)), to_field=np.eye(2, 3)),
        ]
        coords = chain_coordinates(steps, (3, 3), 0, 3)
        np.testing.assert_array_equal(coords, 2 * base_grid(3, 3) + 1)


class TestFieldFiles:
    def test_npy_and_channel_first(self, tmp_path, rng):
        field = rng.random((5, 6, 2))
        np.save(tmp_path / "last.npy", field)
        np.save(tmp_path / "first.npy", np.moveaxis(field, -1, 0))
        np.testing.assert_array_equal(load_field(tmp_path / "last.npy", 2), field)
        np.testing.assert_array_equal(load_field(tmp_path / "first.npy", 2), field)

    def test_npz_keys(self, tmp_path, rng):
        np.savez(tmp_path / "two.npz", a=rng.random((4, 4, 2)), b=rng.random((3, 3, 2)))
        assert load_field(tmp_path / "two.npz", 2, "b").shape == (3, 3, 2)
        with pytest.raises(InputError, match=r"holds 2 arrays \(a, b\); name one with key"):
            load_field(tmp_path / "two.npz", 2)
        with pytest.raises(InputError, match="no array 'c'"):
            load_field(tmp_path / "two.npz", 2, "c")

    @pytest.mark.parametrize(
        ("shape", "message"),
        [
            ((2, 5, 2), "cannot tell whether"),
            ((5, 6, 3), "expected a field (H, W, 2)"),
            ((5, 6), "expected a 2-D field"),
        ],
    )
    def test_bad_shapes(self, tmp_path, shape, message):
        np.save(tmp_path / "f.npy", np.zeros(shape))
        with pytest.raises(InputError, match=message.replace("(", r"\(").replace(")", r"\)")):
            load_field(tmp_path / "f.npy", 2)

    def test_not_an_array(self, tmp_path):
        (tmp_path / "f.npy").write_bytes(b"junk")
        with pytest.raises(InputError, match=r"f\.npy: not a \.npy file"):
            load_field(tmp_path / "f.npy", 2)


class TestFlowSpecs:
    def test_keys_and_relative_path(self, tmp_path):
        np.save(tmp_path / "f.npy", np.zeros((4, 4, 2)))
        (tmp_path / "s.yaml").write_text(
            "version: 1\ntransform:\n  - flow: {path: f.npy, kind: coordinates, units: "
            "normalized, scale: 0.5}\n"
        )
        flow = load_spec(tmp_path / "s.yaml").transforms[0]
        assert flow == FlowSpec("f.npy", tmp_path / "f.npy", None, "coordinates", "normalized", 0.5)

    @pytest.mark.parametrize(
        ("flow", "message"),
        [
            (
                "{kind: warp, path: f.npy}",
                "transform.flow.kind: expected one of displacement, coordinates, got 'warp'",
            ),
            ("{path: nope.npy}", "transform.flow.path: expected an existing file, got 'nope.npy'"),
            (
                "{path: f.txt}",
                "transform.flow.path: expected a .npy, .npz, .nii, .nii.gz, .tif, .tiff file",
            ),
            ("{scale: 2}", "transform.flow.path: missing key"),
            ("{path: f.npy, unit: pixels}", "unknown key (did you mean 'units'?)"),
        ],
    )
    def test_errors(self, tmp_path, flow, message):
        np.save(tmp_path / "f.npy", np.zeros((4, 4, 2)))
        with pytest.raises(
            SpecError,
            match=message.replace("(", r"\(")
            .replace(")", r"\)")
            .replace("?", r"\?")
            .replace(".", r"\."),
        ):
            parse_spec(f"version: 1\ntransform: {{flow: {flow}}}", "s.yaml", tmp_path)

    def test_units_normalized_and_composition_with_affines(self, tmp_path, rng):
        image = rng.random((24, 32))
        field = smooth_field(rng, 24, 32, 0.1)  # normalized units: 0.1 = 1.6 px in x
        np.save(tmp_path / "f.npy", field)
        spec = parse_spec(
            "version: 1\ntransform:\n  - flow: {path: f.npy, units: normalized, scale: 2}\n"
            "  - affine: {translate: [5, -1]}\nsampling: {antialias: false}\n",
            "s.yaml",
            tmp_path,
        )
        out = warp_pixels(image, resolve(spec, (24, 32), sources=FILES))
        # the last transform acts last on the image: its inverse comes first on output points
        p = base_grid(24, 32) - [5, -1]
        at = gswarp.sample_pixels(
            np.moveaxis(field, -1, 0)[None], p[None], "bilinear", "border", True
        )
        coords = p + 2 * np.moveaxis(at[0], 0, -1) * [16, 12]
        expected = gswarp.sample_pixels(image[None, None], coords[None])[0, 0]
        np.testing.assert_allclose(out, expected, atol=1e-12)

    def test_expand_with_a_flow_is_refused(self, tmp_path):
        np.save(tmp_path / "f.npy", np.zeros((4, 4, 2)))
        spec = parse_spec(
            "version: 1\ntransform: {flow: {path: f.npy}}\noutput: {size: expand}",
            "s.yaml",
            tmp_path,
        )
        with pytest.raises(SpecError, match="expand needs affine transforms only"):
            resolve(spec, (4, 4), sources=FILES)


class TestApplyWithFlows:
    def test_zero_flow_returns_the_samples_bit_for_bit(self, tmp_path):
        from tests.test_cli_apply import SAMPLES

        np.save(tmp_path / "zero.npy", np.zeros((256, 256, 2), np.float32))
        (tmp_path / "s.yaml").write_text("version: 1\ntransform: {flow: {path: zero.npy}}\n")
        result = CliRunner().invoke(
            cli, ["apply", str(tmp_path / "s.yaml"), str(SAMPLES), "-o", str(tmp_path / "out")]
        )
        assert result.exit_code == 0, result.stderr
        for sample in SAMPLES.iterdir():
            np.testing.assert_array_equal(
                np.asarray(Image.open(tmp_path / "out" / sample.name)),
                np.asarray(Image.open(sample)),
            )

    def test_a_bad_field_is_one_usage_error(self, tmp_path):
        from tests.test_cli_apply import SAMPLES

        np.save(tmp_path / "bad.npy", np.zeros((5, 6, 3)))
        (tmp_path / "s.yaml").write_text("version: 1\ntransform: [{flow: {path: bad.npy}}]\n")
        result = CliRunner().invoke(
            cli, ["apply", str(tmp_path / "s.yaml"), str(SAMPLES), "-o", str(tmp_path / "out")]
        )
        assert result.exit_code == 2
        assert "transform[0].flow:" in result.stderr and "bad.npy" in result.stderr
        assert result.stderr.count("\n") == 1


class TestWarpFlow:
    def test_full_and_coarse_fields_and_output_size(self, rng):
        image = rng.random((1, 2, 24, 32))
        field = smooth_field(rng, 24, 32)
        np.testing.assert_array_equal(
            gswarp.warp_flow(image, field), sample_chain(image, [FieldStep(field)], image.shape)
        )
        coarse = smooth_field(rng, 6, 8)
        out = gswarp.warp_flow(image, coarse, (1, 2, 12, 16), "bicubic")
        to_field = gswarp.transforms.theta_to_pixel_matrix(
            np.eye(2, 3)[None], (6, 8), (24, 32), False
        )[0]
        half = gswarp.transforms.theta_to_pixel_matrix(
            np.eye(2, 3)[None], (24, 32), (12, 16), False
        )[0]
        steps = [MatrixStep(half), FieldStep(coarse, to_field)]
        expected = sample_chain(image, steps, (1, 2, 12, 16), "bicubic", fuse=False)
        np.testing.assert_allclose(out, expected, atol=1e-12)

    def test_coordinates_and_bad_kind(self, rng):
        image = rng.random((1, 1, 5, 6))
        np.testing.assert_array_equal(
            gswarp.warp_flow(image, base_grid(5, 6)[::-1], kind="coordinates"), image[..., ::-1, :]
        )
        with pytest.raises(SpecError, match="kind: expected 'displacement' or 'coordinates'"):
            gswarp.warp_flow(image, np.zeros((5, 6, 2)), kind="absolute")


class TestFieldFormats:
    def test_nifti_vector_field(self, tmp_path, rng):
        nibabel = pytest.importorskip("nibabel", reason="nibabel is not installed")
        field = rng.random((4, 5, 6, 3))  # (D, H, W, 3)
        stored = np.swapaxes(field, 0, 2)[:, :, :, None, :]  # (I, J, K, 1, 3)
        nibabel.save(nibabel.Nifti1Image(stored, np.eye(4)), str(tmp_path / "f.nii.gz"))
        np.testing.assert_allclose(load_field(tmp_path / "f.nii.gz", 3), field)

    def test_tiff_field(self, tmp_path, rng):
        tifffile = pytest.importorskip("tifffile", reason="tifffile is not installed")
        field = rng.random((7, 8, 2)).astype(np.float32)
        tifffile.imwrite(tmp_path / "f.tif", field)
        np.testing.assert_array_equal(load_field(tmp_path / "f.tif", 2), field)


class TestAntialiasOfFlows:
    """Issue 26, item 11: under ``antialias: auto`` a flow warp of an image differed from
    ``grid_sample`` at 35,055 valid pixels of the Middlebury motorcycle (footprints spanning
    the disparity's jumps and its NaN holes). ``auto`` is off for maps through a field, and an
    antialiased field warp never filters across a jump or a hole."""

    @pytest.fixture
    def stereo(self, tmp_path):
        data = pytest.importorskip("skimage.data", reason="scikit-image is not installed")
        _, right, disparity = data.stereo_motorcycle()
        disparity = disparity.astype(np.float64)
        disparity[~np.isfinite(disparity)] = np.nan  # Middlebury marks unknown as inf
        flow = np.zeros((*disparity.shape, 2))
        flow[..., 0] = -disparity
        np.save(tmp_path / "disparity.npy", flow)
        Image.fromarray(right).save(tmp_path / "right.png")
        (tmp_path / "flow.yaml").write_text(
            "version: 1\ntransform:\n  - flow: {path: disparity.npy, units: pixels}\n"
        )
        return tmp_path, np.isfinite(disparity)

    def _warp(self, folder, *options):
        result = CliRunner().invoke(
            cli,
            [
                "apply",
                str(folder / "flow.yaml"),
                str(folder / "right.png"),
                "-o",
                str(folder / f"out{''.join(options)}.png"),
                *options,
            ],
        )
        assert result.exit_code == 0, result.output
        return np.asarray(Image.open(folder / f"out{''.join(options)}.png")).astype(int)

    def test_auto_gives_grid_samples_result(self, stereo, monkeypatch):
        folder, _ = stereo
        monkeypatch.chdir(folder)
        np.testing.assert_array_equal(self._warp(folder), self._warp(folder, "--no-antialias"))

    def test_antialias_never_filters_across_a_jump_or_a_hole(self, tmp_path, rng):
        """A piecewise-constant disparity (two planes 20 pixels apart, a NaN hole) does not
        shrink anywhere: antialiased, every valid point is its point sample. Before, the points
        at the jump averaged across it and the hole's neighbours became ``fill``."""
        image = (rng.random((40, 90, 3)) * 255).astype(np.uint8)
        Image.fromarray(image).save(tmp_path / "right.png")
        flow = np.zeros((40, 90, 2))
        flow[:, :45, 0] = 10.0
        flow[:, 45:, 0] = -10.0
        flow[15:20, 60:64] = np.nan
        np.save(tmp_path / "disparity.npy", flow)
        (tmp_path / "flow.yaml").write_text(
            f"version: 1\ntransform:\n  - flow: {{path: {tmp_path / 'disparity.npy'}}}\n"
        )
        point = self._warp(tmp_path, "--no-antialias")
        filtered = self._warp(tmp_path, "--antialias")
        valid = np.isfinite(flow[..., 0])
        np.testing.assert_array_equal(filtered[valid], point[valid])
        assert (filtered[~valid] == 0).all()

    def test_a_smoothly_shrinking_field_is_still_antialiased(self, tmp_path):
        """A field that zooms out by 4 (no jump anywhere) is filtered as the same zoom given as
        an affine; point sampling aliases."""
        size = 64
        y, x = np.mgrid[0:size, 0:size].astype(np.float64)
        stripes = ((np.sin(x * 2.6) > 0) * 255).astype(np.uint8)
        Image.fromarray(stripes).save(tmp_path / "in.png")
        centre = (size - 1) / 2
        flow = np.stack([(x - centre) * 3, (y - centre) * 3], axis=-1)  # p -> centre + 4 (p - c)
        np.save(tmp_path / "zoom.npy", flow)
        (tmp_path / "flow.yaml").write_text(
            "version: 1\ntransform:\n  - flow: {path: zoom.npy, units: pixels}\n"
        )
        outputs = {}
        for option in ("--antialias", "--no-antialias"):
            result = CliRunner().invoke(
                cli,
                [
                    "apply",
                    str(tmp_path / "flow.yaml"),
                    str(tmp_path / "in.png"),
                    "-o",
                    str(tmp_path / f"o{option}.png"),
                    option,
                ],
            )
            assert result.exit_code == 0, result.output
            outputs[option] = np.asarray(Image.open(tmp_path / f"o{option}.png")).astype(float)
        middle = (slice(26, 38), slice(26, 38))  # reads the input's middle 48 x 48
        assert outputs["--antialias"][middle].std() < 0.5 * outputs["--no-antialias"][middle].std()


def test_points_past_an_itk_field_are_counted_once_with_or_without_antialiasing(rng):
    """``sample_chain(stats=...)`` counts the output points past a ``beyond='identity'`` field;
    antialiasing reads a row beyond each tile, which must not be counted twice."""
    image = rng.random((1, 1, 40, 30))
    field = rng.random((20, 15, 2)) - 0.5  # covers the left half of the output only
    step = FieldStep(field, np.array([[1.0, 0, 0], [0, 1.0, 0]]), beyond="identity")
    counts = []
    for antialias in (False, True):
        stats: dict = {}
        sample_chain(image, [step], image.shape, antialias=antialias, tile_points=90, stats=stats)
        counts.append(stats["outside"])
    # points with x >= 14.5 or y >= 19.5 lie past the field's grid
    ys, xs = np.mgrid[0:40, 0:30]
    assert counts == [int(np.count_nonzero((xs >= 14.5) | (ys >= 19.5)))] * 2


@pytest.mark.parametrize("k", [2, 3])
def test_a_float32_field_gives_the_bytes_of_its_float64_copy_without_the_copy(k):
    """Registration tools write float32 fields: the compiled kernels read them as they are
    (each value converted to double exactly), on every path -- the field read at each output
    pixel, separably, through a rotation, as coordinates, antialiased -- with the bytes of
    the same field in float64, and no float64 copy is made."""
    from gswarp.engine.api import sample_field

    rng = np.random.default_rng(k)
    shape = (9, 10, 11)[3 - k :]
    image = rng.random((1, 2, *shape)).astype(np.float32)
    field32 = rng.normal(0, 1.5, (*shape, k)).astype(np.float32)
    coarse32 = rng.normal(0, 1.5, (*(n // 2 for n in shape), k)).astype(np.float32)
    turn = np.eye(k, k + 1)
    turn[:2, :2] = [[0.96, -0.28], [0.28, 0.96]]
    shrink = np.eye(k, k + 1) * 1.8
    shrink[:, k] = 0.4
    cases = [
        {"field": field32},
        {"field": coarse32, "to_field": np.eye(k, k + 1) * 0.45},
        {"field": field32, "before": turn},
        {"field": field32 + 4, "absolute": True},
        {"field": field32, "before": shrink, "antialias": k == 2},
    ]
    for case in cases:
        single = dict(case)
        double = dict(case, field=case["field"].astype(np.float64))
        got = sample_field(image, size=image.shape, **single)
        expected = sample_field(image, size=image.shape, **double)
        assert np.array_equal(got, expected), sorted(case)
    big = rng.normal(0, 1.5, (256,) * 2 + (2,)).astype(np.float32)  # 512 KiB
    plane = rng.random((1, 1, 256, 256)).astype(np.float32)  # its output: 256 KiB
    tracemalloc.start()
    sample_field(plane, big, plane.shape)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert peak < 2 * big.nbytes, peak  # no float64 copy of the field (twice its bytes)
