"""``gswarp apply``, ``validate`` and ``explain`` through click's CliRunner (exit codes, messages,
written files), plus subprocess tests of the installed entry point (stdout pipes, Ctrl-C)."""

from __future__ import annotations

import io
import json
import os
import shutil
import signal
import subprocess
from pathlib import Path

import click
import numpy as np
import pytest
import yaml
from click.testing import CliRunner
from PIL import Image

import gswarp.cli.apply as apply_module
from gswarp.cli.main import cli

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = ROOT / "sample_images"
CONFIGS = sorted((ROOT / "configs").glob("*.yaml"))

IDENTITY = "version: 1\ntransform: []\n"
ROT90 = "version: 1\ntransform: {affine: {rotate: 90}}\n"


def run(*args: str, input: str | bytes | None = None):
    return CliRunner().invoke(cli, [str(a) for a in args], input=input)


def pixels(path: Path) -> np.ndarray:
    with Image.open(path) as image:
        return np.asarray(image)


@pytest.fixture
def spec_file(tmp_path):
    def write(text: str, name: str = "spec.yaml") -> Path:
        path = tmp_path / name
        path.write_text(text)
        return path

    return write


@pytest.fixture
def images(tmp_path) -> Path:
    folder = tmp_path / "in"
    shutil.copytree(SAMPLES, folder)
    return folder


class TestApply:
    def test_identity_spec_returns_every_sample_bit_for_bit(self, spec_file, images, tmp_path):
        out = tmp_path / "out"
        result = run("apply", spec_file(IDENTITY), images, "-o", out)
        assert result.exit_code == 0, result.stderr
        samples = sorted(p.name for p in images.iterdir())
        assert sorted(result.stdout.split()) == sorted(str(out / n) for n in samples)
        assert result.stderr == ""
        for name in samples:
            np.testing.assert_array_equal(pixels(out / name), pixels(images / name))

    def test_rotate_90_equals_rot90_and_keeps_dtype_and_alpha(self, spec_file, images, tmp_path):
        out = tmp_path / "out"
        assert run("apply", spec_file(ROT90), images, "-o", out).exit_code == 0
        for name in ("ramp16.png", "rgba_circle.png", "checkerboard.png", "gradient.png"):
            before, after = pixels(images / name), pixels(out / name)
            assert after.dtype == before.dtype and after.shape == np.rot90(before).shape
            np.testing.assert_array_equal(after, np.rot90(before))

    def test_folders_are_mirrored_recursively(self, spec_file, images, tmp_path):
        (images / "sub" / "deeper").mkdir(parents=True)
        shutil.copy(images / "gradient.png", images / "sub" / "deeper" / "g.png")
        out = tmp_path / "out"
        result = run("apply", spec_file(IDENTITY), images, "-o", out)
        assert result.exit_code == 0
        assert (out / "sub" / "deeper" / "g.png").is_file()

    def test_single_file_output_name(self, spec_file, tmp_path):
        target = tmp_path / "result.tif"
        result = run("apply", spec_file(ROT90), SAMPLES / "gradient.png", "-o", target)
        assert result.exit_code == 0, result.stderr
        assert result.stdout == f"{target}\n"
        assert Image.open(target).format == "TIFF"
        np.testing.assert_array_equal(pixels(target), np.rot90(pixels(SAMPLES / "gradient.png")))

    def test_format_changes_suffix_and_encoder(self, spec_file, tmp_path):
        out = tmp_path / "out"
        result = run(
            "apply", spec_file(IDENTITY), SAMPLES / "text.png", "-o", out, "--format", "jpeg"
        )
        assert result.exit_code == 0
        assert Image.open(out / "text.jpg").format == "JPEG"

    def test_paths_from_stdin(self, spec_file, images, tmp_path, monkeypatch):
        monkeypatch.chdir(images.parent)
        out = tmp_path / "out"
        listing = "in/gradient.png\n\nin/text.png\n"
        result = run("apply", spec_file(IDENTITY), "-", "-o", out, input=listing)
        assert result.exit_code == 0, result.stderr
        assert sorted(result.stdout.split()) == [
            str(out / "in/gradient.png"),
            str(out / "in/text.png"),
        ]

    def test_one_bad_file_fails_alone(self, spec_file, images, tmp_path):
        (images / "broken.png").write_bytes(b"not a png")
        out = tmp_path / "out"
        result = run("apply", spec_file(ROT90), images, "-o", out)
        assert result.exit_code == 1
        errors = [line for line in result.stderr.splitlines() if "error" in line]
        assert errors == [
            f"gswarp: error: {images / 'broken.png'}: not an image Pillow can read "
            "(PNG, JPEG, TIFF, BMP, WebP)"
        ]
        assert "1 failed, 5 written" in result.stderr
        assert len(result.stdout.split()) == 5
        assert not (out / "broken.png").exists()
        assert "Traceback" not in result.output

    def test_existing_outputs_need_overwrite(self, spec_file, tmp_path):
        out = tmp_path / "out"
        args = ("apply", spec_file(ROT90), SAMPLES / "gradient.png", "-o", out)
        assert run(*args).exit_code == 0
        again = run(*args)
        assert again.exit_code == 1
        assert "gradient.png: already exists (use --overwrite to replace it)" in again.stderr
        assert run(*args, "--overwrite").exit_code == 0

    def test_inputs_are_never_replaced(self, spec_file, images):
        before = (images / "text.png").read_bytes()
        result = run("apply", spec_file(ROT90), images / "text.png", "-o", images, "--overwrite")
        assert result.exit_code == 1
        assert "would replace the input" in result.stderr
        assert (images / "text.png").read_bytes() == before

    def test_jobs_do_not_change_the_bytes(self, spec_file, images, tmp_path):
        spec = spec_file(
            "version: 1\ntransform: {affine: {rotate: 17, scale: 0.9}}\nsampling: {mode: bicubic}\n"
        )
        for jobs in ("1", "2", "3"):
            assert run("apply", spec, images, "-o", tmp_path / jobs, "--jobs", jobs).exit_code == 0
        for name in os.listdir(images):
            contents = {(tmp_path / j / name).read_bytes() for j in ("1", "2", "3")}
            assert len(contents) == 1, name

    @pytest.mark.parametrize(
        ("options", "sampling"),
        [
            (("--mode", "nearest"), "{mode: nearest}"),
            (("--mode", "bicubic"), "{mode: bicubic}"),
            (("--padding", "border"), "{padding: border}"),
            (("--padding", "reflection"), "{padding: reflection}"),
            (
                ("--padding", "reflection", "--align-corners"),
                "{padding: reflection, align_corners: true}",
            ),
            (("--fill", "1,2,3"), "{fill: [1, 2, 3]}"),
        ],
    )
    def test_sampling_overrides(self, spec_file, tmp_path, options, sampling):
        """An option gives what the same key in the spec gives, and replaces the spec's own value,
        on a warp (a turn and a half-pixel shift) where every mode and padding differ."""
        warp = "version: 1\ntransform: {affine: {rotate: 7, translate: [2.5, 0.5]}}\n"
        source = SAMPLES / "checkerboard.png"

        def warped(name: str, *args: str, spec_sampling: str = "") -> np.ndarray:
            text = warp + (f"sampling: {spec_sampling}\n" if spec_sampling else "")
            out = tmp_path / f"{name}.png"
            result = run("apply", spec_file(text, f"{name}.yaml"), source, "-o", out, *args)
            assert result.exit_code == 0, result.stderr
            return pixels(out)

        by_option = warped("option", *options)
        np.testing.assert_array_equal(by_option, warped("spec", spec_sampling=sampling))
        assert not np.array_equal(by_option, warped("default"))
        other = "{mode: bilinear, padding: zeros, align_corners: false, fill: 9}"
        if "--mode" in options:  # the option wins over the spec's sampling
            other = "{mode: bilinear, padding: zeros}"
        np.testing.assert_array_equal(by_option, warped("over", *options, spec_sampling=other))
        if options == ("--mode", "nearest"):  # nearest copies pixels: no blended colours
            colours = {tuple(c) for c in by_option.reshape(-1, 3)}
            assert colours <= {tuple(c) for c in pixels(source).reshape(-1, 3)} | {(0, 0, 0)}

    def test_one_colour_fill_fits_a_folder_of_mixed_images(self, spec_file, images, tmp_path):
        """RGB fill: RGBA gets it with opaque alpha, gray (8 and 16 bit) its luminance."""
        spec = spec_file("version: 1\ntransform: {affine: {translate: [3, 0]}}\n")
        out = tmp_path / "out"
        result = run("apply", spec, images, "-o", out, "--fill", "10,20,30")
        assert result.exit_code == 0, result.stderr
        gray = 0.299 * 10 + 0.587 * 20 + 0.114 * 30  # 18.15
        expected = {
            "text.png": [10, 20, 30],
            "checkerboard.png": [10, 20, 30],
            "rgba_circle.png": [10, 20, 30, 255],
            "gradient.png": round(gray),
            "ramp16.png": round(gray),
        }
        for name, value in expected.items():
            corner = pixels(out / name)[:, :3]
            np.testing.assert_array_equal(corner, np.broadcast_to(value, corner.shape), name)

    def test_fill_that_fits_no_image_fails_each_file(self, spec_file, tmp_path):
        result = run(
            "apply",
            spec_file(IDENTITY),
            SAMPLES / "gradient.png",
            SAMPLES / "text.png",
            "-o",
            tmp_path,
            "--fill",
            "1,2,3,4,5",
        )
        assert result.exit_code == 1
        errors = [line for line in result.stderr.splitlines() if "error" in line]
        assert sorted(errors) == [
            f"gswarp: error: {SAMPLES / name}: sampling.fill: expected 1 value or {n} (one per "
            f"channel of this {n}-channel input), got 5"
            for name, n in (("gradient.png", 1), ("text.png", 3))
        ]

    def test_encoder_settings_a_format_ignores_are_named_once(self, spec_file, images, tmp_path):
        out = tmp_path / "out"
        result = run("apply", spec_file(IDENTITY), images, "-o", out, "--quality", "80")
        assert result.exit_code == 0, result.stderr
        warnings = [line for line in result.stderr.splitlines() if "warning" in line]
        assert len(warnings) == 1  # five PNGs, one warning
        assert warnings[0].startswith(f"gswarp: warning: {out}")
        assert warnings[0].endswith(".png: PNG ignores quality (JPEG and WEBP only)")
        jpeg = run(
            "apply",
            spec_file(IDENTITY),
            SAMPLES / "text.png",
            "-o",
            tmp_path / "t.jpg",
            "--quality",
            "80",
        )
        assert jpeg.exit_code == 0 and jpeg.stderr == ""

    def test_dtype_output_to_tiff(self, spec_file, tmp_path):
        spec = spec_file(IDENTITY + "output: {dtype: float32}\n")
        result = run("apply", spec, SAMPLES / "gradient.png", "-o", tmp_path / "g.tif")
        assert result.exit_code == 0, result.stderr
        np.testing.assert_allclose(
            pixels(tmp_path / "g.tif"), pixels(SAMPLES / "gradient.png") / 255, rtol=1e-6
        )

    def test_encoder_options(self, spec_file, tmp_path):
        spec = spec_file(ROT90)
        source = SAMPLES / "text.png"
        for name, extra in [
            ("fast.png", ["--compress-level", "1"]),
            ("small.png", []),
            ("q50.jpg", ["--quality", "50"]),
            ("q95.jpg", []),
        ]:
            result = run("apply", spec, source, "-o", tmp_path / name, *extra)
            assert result.exit_code == 0, result.stderr
        np.testing.assert_array_equal(pixels(tmp_path / "fast.png"), pixels(tmp_path / "small.png"))
        assert (tmp_path / "fast.png").stat().st_size > (tmp_path / "small.png").stat().st_size
        assert (tmp_path / "q50.jpg").stat().st_size < (tmp_path / "q95.jpg").stat().st_size

    def test_dry_run_writes_nothing(self, spec_file, images, tmp_path):
        out = tmp_path / "out"
        result = run("apply", spec_file(ROT90), images, "-o", out, "--dry-run", "-v")
        assert result.exit_code == 0, result.stderr
        assert len(result.stdout.split()) == 5
        assert "256x256 -> 256x256" in result.stderr
        assert not out.exists()

    def test_verbose_quiet_and_progress(self, spec_file, tmp_path):
        spec = spec_file(ROT90)
        source = SAMPLES / "text.png"
        verbose = run("apply", spec, source, "-o", tmp_path / "v", "-v")
        assert f"{source} -> {tmp_path / 'v' / 'text.png'} (256x256 -> 256x256," in verbose.stderr
        quiet = run("apply", spec, source, "-o", tmp_path / "v", "-q")
        assert quiet.exit_code == 1
        assert quiet.stderr == (  # the error only, no summary
            f"gswarp: error: {tmp_path / 'v' / 'text.png'}: already exists "
            "(use --overwrite to replace it)\n"
        )
        bar = run("apply", spec, source, "-o", tmp_path / "p", "--progress")
        assert "1/1 files" in bar.stderr and bar.stdout.strip() == str(tmp_path / "p/text.png")
        assert "files" not in run("apply", spec, source, "-o", tmp_path / "n").stderr

    def test_stdin_image_streams_bytes(self, spec_file):
        data = (SAMPLES / "text.png").read_bytes()
        result = CliRunner().invoke(
            cli,
            ["apply", str(spec_file(ROT90)), "--stdin-image", "-o", "-", "--format", "png"],
            input=data,
        )
        assert result.exit_code == 0, result.stderr
        out = np.asarray(Image.open(io.BytesIO(result.stdout_bytes)))
        np.testing.assert_array_equal(out, np.rot90(pixels(SAMPLES / "text.png")))

    def test_stdin_image_to_a_file(self, spec_file, tmp_path):
        data = (SAMPLES / "gradient.png").read_bytes()
        target = tmp_path / "g.webp"
        result = CliRunner().invoke(
            cli,
            ["apply", str(spec_file(IDENTITY)), "--stdin-image", "-o", str(target)],
            input=data,
        )
        assert result.exit_code == 0, result.stderr
        assert Image.open(target).format == "WEBP"

    def test_stdin_image_that_is_not_an_image(self, spec_file):
        result = run("apply", spec_file(IDENTITY), "--stdin-image", "-o", "-", input=b"junk")
        assert result.exit_code == 1
        assert result.stderr.strip() == (
            "gswarp: error: <stdin>: not an image Pillow can read (PNG, JPEG, TIFF, BMP, WebP)"
        )

    @pytest.mark.parametrize(
        ("args", "message"),
        [
            (["IN", "-o", "-"], "-o - (image bytes on stdout) needs --stdin-image"),
            (["-o", "OUT"], "no INPUT given"),
            (["IN", "--stdin-image", "-o", "-"], "--stdin-image reads the image from stdin"),
            (["-", "-", "-o", "OUT"], "- (read paths from stdin) may be given once"),
            (["IN", "-o", "x.png", "--format", "jpeg"], "-o x.png and --format jpeg disagree"),
            (["IN", "-o", "OUT", "--fill", "a,b"], "expected a number or comma-separated"),
            (["IN", "-o", "OUT", "--mode", "cubic"], "'cubic' is not one of"),
            (["IN", "-o", "OUT", "--jobs", "0"], "0 is not in the range x>=1"),
            (["IN"], "Missing option '-o'"),
        ],
    )
    def test_usage_errors_exit_2(self, spec_file, tmp_path, args, message):
        args = [str(SAMPLES / "gradient.png") if a == "IN" else a for a in args]
        args = [str(tmp_path / "out") if a == "OUT" else a for a in args]
        result = run("apply", spec_file(IDENTITY), *args)
        assert result.exit_code == 2
        assert message in result.stderr
        assert "Traceback" not in result.output

    def test_bad_spec_exits_2_with_its_location(self, spec_file, tmp_path):
        spec = spec_file("version: 1\ntransform:\n  affine: {rotate: 15, scale: big}\n", "r.yaml")
        result = run("apply", spec, SAMPLES, "-o", tmp_path / "out")
        assert result.exit_code == 2
        assert result.stderr == (
            f"gswarp: error: {spec}:3:31: transform.affine.scale: expected a number or a list of "
            "2 numbers [sx, sy] (3 for volumes), got 'big'\n"
        )
        assert not (tmp_path / "out").exists()

    def test_a_spec_that_fits_no_input_exits_2_with_its_location(self, spec_file, tmp_path):
        spec = spec_file(
            "version: 1\ntransform:\n  - affine: {rotate: [0, 0, 10]}\n  - affine: {shear: 5}\n"
        )
        for command in (("apply", spec, SAMPLES, "-o", tmp_path / "out"), ("validate", spec)):
            result = run(*command)
            assert result.exit_code == 2
            assert result.stderr == (
                f"gswarp: error: {spec}:4:21: transform[1].affine.shear: takes only images, but "
                "transform[0].affine.rotate takes only volumes: this spec fits no input\n"
            )
        assert not (tmp_path / "out").exists()

    def test_a_spec_for_volumes_fails_each_image_with_its_location(self, spec_file, tmp_path):
        """A folder may mix images and volumes: a spec that fits one kind fails the others, file by
        file (exit 1), each message pointing at the key in the spec."""
        spec = spec_file("version: 1\ntransform:\n  affine:\n    translate: [1, 2, 3]\n")
        result = run("apply", spec, SAMPLES / "text.png", "-o", tmp_path / "o.png")
        assert result.exit_code == 1
        assert result.stderr.splitlines()[0] == (
            f"gswarp: error: {SAMPLES / 'text.png'}: {spec}:4:16: transform.affine.translate: an "
            "image needs 2 values, got [1.0, 2.0, 3.0]"
        )

    def test_no_images_found_exits_2(self, spec_file, tmp_path):
        (tmp_path / "empty").mkdir()
        result = run("apply", spec_file(IDENTITY), tmp_path / "empty", "-o", tmp_path / "out")
        assert result.exit_code == 2
        assert "no images found in" in result.stderr

    def test_interrupt_exits_130_and_leaves_no_partial_files(
        self, spec_file, images, tmp_path, monkeypatch
    ):
        def interrupted(self, text):
            raise KeyboardInterrupt

        monkeypatch.setattr(apply_module._Report, "_path", interrupted)
        out = tmp_path / "out"
        result = run("apply", spec_file(ROT90), images, "-o", out, "--jobs", "2")
        assert result.exit_code == 130
        assert "interrupted" in result.stderr
        left = [p for p in out.rglob("*")]
        assert not [p for p in left if p.name.startswith(".")], "temporary files left behind"
        for path in left:  # whatever was renamed into place is complete
            assert pixels(path).shape[:2] == (256, 256)


# configs written for volumes; the others for images
VOLUME_CONFIGS = {"volume", "labels", "world", "registration"}


@pytest.mark.parametrize("config", CONFIGS, ids=[c.stem for c in CONFIGS])
def test_every_config_runs_on_every_sample(config, tmp_path):
    if config.stem in VOLUME_CONFIGS:
        pytest.importorskip("nibabel", reason="the sample volumes are NIfTI: needs nibabel")
    samples = ROOT / ("sample_volumes" if config.stem in VOLUME_CONFIGS else "sample_images")
    result = run("apply", config, samples, "-o", tmp_path)
    assert result.exit_code == 0, result.stderr
    files = [p for p in samples.iterdir() if not p.name.endswith(".zarr")]  # walks skip stores
    assert len(result.stdout.split()) == len(files)
    assert run("validate", config).exit_code == 0
    stores = [p for p in samples.iterdir() if p.name.endswith(".zarr")]
    if stores:
        pytest.importorskip("zarr", reason="the OME-Zarr sample needs the zarr extra")
    for store in stores:  # the OME-Zarr sample, chunk by chunk
        result = run("apply", config, store, "-o", tmp_path / "zarr" / store.name)
        assert result.exit_code == 0, result.stderr


def test_config_matrix_mirrors_and_theta_zooms(tmp_path):
    run("apply", ROOT / "configs/matrix.yaml", SAMPLES / "text.png", "-o", tmp_path / "m.png")
    np.testing.assert_array_equal(pixels(tmp_path / "m.png"), pixels(SAMPLES / "text.png")[:, ::-1])
    run("apply", ROOT / "configs/theta.yaml", SAMPLES / "gradient.png", "-o", tmp_path / "t.png")
    source = pixels(SAMPLES / "gradient.png").astype(float)
    zoomed = pixels(tmp_path / "t.png").astype(float)
    # a 2x zoom about the centre: output pixel 2k+1/2 samples input pixel 64 + k
    np.testing.assert_allclose(
        zoomed[1::2, 1::2][:-1, :-1],
        (source[64:191, 64:191] * 3 + source[65:192, 65:192]) / 4,
        atol=1,
    )


class TestAntialiasOption:
    """``sampling.antialias`` (on by default) and ``--antialias/--no-antialias``."""

    HALF = "version: 1\ntransform: {affine: {rotate: 10}}\noutput: {size: {scale: 0.25}}\n"

    def _expected(self, antialias: bool) -> np.ndarray:
        import gswarp
        from gswarp.plan import resolve
        from gswarp.spec import parse_spec

        image = pixels(SAMPLES / "checkerboard.png")
        plan = resolve(parse_spec(self.HALF, "s.yaml"), image.shape[:2])
        source = np.moveaxis(image, -1, 0)[None]
        size = (1, 3, *plan.output_size)
        out = gswarp.warp_affine(source, plan.sampling_matrix, size, antialias=antialias)
        return np.moveaxis(out[0], 0, -1)

    @pytest.mark.parametrize(
        ("options", "antialias"),
        [((), True), (("--no-antialias",), False), (("--antialias",), True)],
    )
    def test_default_and_switches(self, spec_file, tmp_path, options, antialias):
        out = tmp_path / "out"
        spec = spec_file(self.HALF)
        result = run("apply", spec, SAMPLES / "checkerboard.png", "-o", out, *options)
        assert result.exit_code == 0, result.stderr
        np.testing.assert_array_equal(pixels(out / "checkerboard.png"), self._expected(antialias))

    def test_the_spec_key_and_the_switch_that_overrides_it(self, spec_file, tmp_path):
        spec = spec_file(self.HALF + "sampling: {antialias: false}\n")
        run("apply", spec, SAMPLES / "checkerboard.png", "-o", tmp_path / "a")
        run("apply", spec, SAMPLES / "checkerboard.png", "-o", tmp_path / "b", "--antialias")
        np.testing.assert_array_equal(
            pixels(tmp_path / "a/checkerboard.png"), self._expected(False)
        )
        np.testing.assert_array_equal(pixels(tmp_path / "b/checkerboard.png"), self._expected(True))

    def test_explain_and_validate_say_it(self, spec_file):
        spec = spec_file(self.HALF)
        assert "antialias: auto" in run("validate", spec).stdout
        text = run("explain", spec, SAMPLES / "text.png", "--no-antialias").stdout
        assert "antialias false" in text


class TestValidateAndExplain:
    def test_validate_prints_the_normalized_spec(self, spec_file):
        result = run("validate", spec_file("version: 1\ntransform: {affine: {scale: 2}}\n"))
        assert result.exit_code == 0
        document = yaml.safe_load(result.stdout)
        assert document["transform"][0]["affine"] == {  # every default, as the README says
            "rotate": 0.0,
            "scale": 2.0,
            "shear": [0.0, 0.0],
            "translate": 0.0,
            "center": "image",
        }
        assert document["sampling"]["mode"] == "bilinear"
        assert document["output"] == {"size": "same", "dtype": "same", "values": "auto"}

    def test_validate_reports_each_bad_spec(self, spec_file):
        good = spec_file(IDENTITY, "good.yaml")
        bad = spec_file("version: 1\ntransform: []\nsampling: {mode: fast}\n", "bad.yaml")
        result = run("validate", good, bad)
        assert result.exit_code == 2
        assert f"gswarp: error: {bad}:3:18: sampling.mode: expected one of" in result.stderr
        assert f"# {good}" in result.stdout

    def test_explain_prints_geometry_and_matrices(self, spec_file):
        spec = spec_file(
            "version: 1\ntransform: {affine: {translate: [5, 0]}}\noutput: {size: [128, 64]}\n"
        )
        result = run("explain", spec, SAMPLES / "text.png")
        assert result.exit_code == 0, result.stderr
        assert "input:   " in result.stdout and "256 x 256 (width x height), 3 channel(s)" in (
            result.stdout
        )
        assert "output:  128 x 64 (width x height)" in result.stdout
        for title in ("forward matrix", "sampling matrix", "theta (torch affine_grid"):
            assert title in result.stdout

    def test_explain_json_matches_the_plan(self, spec_file):
        spec = spec_file("version: 1\ntransform: {affine: {translate: [5, 0]}}\n")
        result = run("explain", spec, SAMPLES / "gradient.png", "--json")
        data = json.loads(result.stdout)
        assert data["sampling_matrix"] == [[1.0, 0.0, -5.0], [0.0, 1.0, 0.0]]
        assert data["output"] == {"height": 256, "width": 256, "channels": 1, "dtype": "uint8"}

    @pytest.mark.parametrize(("suffix", "channels"), [(".npy", 2), (".nii.gz", 2), (".tif", 1)])
    def test_explain_takes_every_volume_apply_takes(self, spec_file, tmp_path, suffix, channels):
        """explain reads the header apply reads (no voxels), and resolves the same plan."""
        from gswarp.io.volumes import is_volume_path, read_volume

        shape = (4, 5, 6, channels) if channels > 1 else (4, 5, 6)  # (D, H, W[, C])
        volume = np.zeros(shape, np.int16)
        path = tmp_path / f"v{suffix}"
        if suffix == ".npy":
            np.save(path, volume)
        elif suffix == ".tif":
            import tifffile

            tifffile.imwrite(path, volume, photometric="minisblack")
        else:
            import nibabel

            image = nibabel.Nifti1Image(np.swapaxes(volume, 0, 2)[:, :, :, None, :], np.eye(4))
            nibabel.save(image, str(path))
        assert is_volume_path(path) and read_volume(path).voxels.shape == volume.shape
        spec = spec_file("version: 1\ntransform: {affine: {rotate: [0, 0, 90]}}\n")
        result = run("explain", spec, path)
        assert result.exit_code == 0, result.stderr
        assert result.stdout.startswith(
            f"input:   {path}: 6 x 5 x 4 (width x height x depth), {channels} channel(s), int16 "
            f"(volume)\noutput:  6 x 5 x 4 (width x height x depth), {channels} channel(s), int16\n"
        )
        data = json.loads(run("explain", spec, path, "--json").stdout)
        assert data["input"] == {
            "path": str(path),
            "depth": 4,
            "height": 5,
            "width": 6,
            "channels": channels,
            "dtype": "int16",
        }
        assert len(data["forward"]) == 4

    def test_explain_shows_the_seed_it_draws_with(self, spec_file):
        spec = spec_file("version: 1\ntransform: {affine: {rotate: {uniform: [-9, 9]}}}\n")
        result = run("explain", spec, SAMPLES / "text.png", "--json", "--seed", "5")
        data = json.loads(result.stdout)
        assert (data["seed"], data["variant"]) == (5, 0)
        assert list(data["draws"]) == ["transform[0].affine.rotate"]
        text = run("explain", spec, SAMPLES / "text.png").stdout
        assert text.startswith("drawn with --seed 0, variant 0:\n")

    def test_explain_unreadable_image_exits_1(self, spec_file, tmp_path):
        result = run("explain", spec_file(IDENTITY), tmp_path / "none.png")
        assert result.exit_code == 1
        assert "none.png: no such file" in result.stderr


needs_entry_point = pytest.mark.skipif(
    shutil.which("gswarp") is None, reason="gswarp is not installed (pip install .)"
)


@needs_entry_point
def test_entry_point_pipes_paths_to_the_next_command(tmp_path):
    """`gswarp apply ... | xargs ...`: stdout holds the written paths only."""
    out = tmp_path / "out"
    command = (
        f"gswarp apply {ROOT / 'configs/rotate.yaml'} {SAMPLES} -o {out} "
        "| xargs -n1 basename | sort"
    )
    proc = subprocess.run(["bash", "-c", command], capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == sorted(os.listdir(SAMPLES))
    # nothing on stderr but, on a cold kernel cache (a fresh CI install), the compile notice
    lines = [line for line in proc.stderr.splitlines() if "compiling the warp kernels" not in line]
    assert lines == []


@needs_entry_point
def test_entry_point_ctrl_c_exits_130_without_partial_files(tmp_path):
    source = tmp_path / "in"
    source.mkdir()
    big = np.random.default_rng(0).integers(0, 256, (1024, 1024, 3), dtype=np.uint8)
    Image.fromarray(big).save(source / "000.png", compress_level=1)
    for i in range(1, 300):  # enough work that the run is still going when SIGINT lands
        os.link(source / "000.png", source / f"{i:03d}.png")
    spec = tmp_path / "s.yaml"
    spec.write_text("version: 1\ntransform: {affine: {rotate: 10}}\n")
    out = tmp_path / "out"
    proc = subprocess.Popen(
        ["gswarp", "apply", str(spec), str(source), "-o", str(out)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        # as a terminal's Ctrl-C finds it: a job started in the background by a shell (CI
        # runners, `cmd &`) inherits SIGINT ignored, and Python then installs no handler
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    first = proc.stdout.readline()  # one output is complete: the run is in full swing
    assert first.strip().endswith(".png")
    proc.send_signal(signal.SIGINT)
    try:
        _, stderr = proc.communicate(timeout=60)
    finally:
        proc.kill()
    assert proc.returncode == 130, stderr
    assert "interrupted" in stderr and "Traceback" not in stderr
    written = list(out.iterdir())
    assert len(written) < 300
    assert not [p for p in written if p.name.startswith(".")], "temporary files left behind"
    for path in written:
        assert pixels(path).shape == (1024, 1024, 3)


class TestPlanDestination:
    """The pure function that reconciles INPUTs, -o, --format and --stdin-image."""

    def test_single_file_with_an_image_suffix_names_the_output(self, tmp_path):
        source = str(SAMPLES / "text.png")
        assert apply_module.plan_destination((source,), str(tmp_path / "a.jpg"), None, False) == (
            apply_module.Destination(file=tmp_path / "a.jpg")
        )

    def test_otherwise_a_folder(self, tmp_path):
        source = str(SAMPLES / "text.png")
        for inputs, output in [
            ((source,), tmp_path / "out"),
            ((source, source), tmp_path / "x.png"),
            (("-",), tmp_path / "y.png"),
            ((str(SAMPLES),), tmp_path / "z.png"),
        ]:
            destination = apply_module.plan_destination(inputs, str(output), None, False)
            assert destination == apply_module.Destination(folder=output)

    def test_an_existing_folder_with_a_suffix_stays_a_folder(self, tmp_path):
        (tmp_path / "v1.png").mkdir()
        source = str(SAMPLES / "text.png")
        destination = apply_module.plan_destination(
            (source,), str(tmp_path / "v1.png"), None, False
        )
        assert destination.folder == tmp_path / "v1.png"

    def test_stdin_image_to_stdout_or_a_file(self, tmp_path):
        plan = apply_module.plan_destination
        assert plan((), "-", None, True) == apply_module.Destination(stdout=True)
        assert plan((), str(tmp_path / "r"), "png", True).file == tmp_path / "r"
        with pytest.raises(click.UsageError, match="unknown image suffix"):
            plan((), str(tmp_path / "r"), None, True)

    def test_a_file_is_not_a_folder(self, tmp_path):
        (tmp_path / "f").write_text("x")
        with pytest.raises(click.UsageError, match="exists and is not a folder"):
            apply_module.plan_destination((str(SAMPLES),), str(tmp_path / "f"), None, False)
