"""``gswarp apply`` for augmentation: --seed, --variants, --pair, --log, --replay, --null,
--skip-existing. Outputs must be byte-identical whatever --jobs, input order or subset."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from gswarp.cli.main import cli

AUGMENT = """version: 1
transform:
  - affine:
      rotate: {uniform: [-20, 20]}
      scale: {uniform: [0.9, 1.1]}
      translate: [{normal: [0, 2]}, {choice: [-1, 0, 1]}]
  - affine: {scale: [-1, 1]}
    p: 0.5
  - elastic: {alpha: 40, sigma: 3, grid: 2}
    p: 0.7
sampling: {mode: bilinear, padding: zeros}
targets:
  masks: {fill: 0}
"""


def run(*args, input=None):
    return CliRunner().invoke(cli, [str(a) for a in args], input=input)


def pixels(path: Path) -> np.ndarray:
    with Image.open(path) as image:
        return np.asarray(image)


def tree(folder: Path) -> dict[str, bytes]:
    """Relative path -> bytes of every file below ``folder``."""
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in folder.rglob("*.*")}


# mask labels far apart, so that a blend of two (bilinear sampling) is never a label; label k
# goes with image value 40 * k + 20
LABELS = np.array([0, 10, 200, 70, 140])


@pytest.fixture
def data(tmp_path) -> tuple[Path, Path, Path]:
    """(spec, images, masks): 4 small images in two folders, each with a label mask whose labels
    follow the image (image 40 * k + 20 where the mask is LABELS[k], so a nearest warp keeps the
    relation)."""
    rng = np.random.default_rng(0)
    images, masks = tmp_path / "images", tmp_path / "masks"
    for name in ("a.png", "b.png", "sub/c.png", "sub/d.png"):
        labels = np.repeat(np.repeat(rng.integers(0, 5, (6, 8)), 6, axis=0), 5, axis=1)
        for folder, values in ((images, labels * 40 + 20), (masks, LABELS[labels])):
            (folder / name).parent.mkdir(parents=True, exist_ok=True)
            Image.fromarray(values.astype(np.uint8), "L").save(folder / name)
    spec = tmp_path / "aug.yaml"
    spec.write_text(AUGMENT)
    return spec, images, masks


def augment(spec, inputs, out, *extra, input=None):
    result = run("apply", spec, *inputs, "-o", out, "--seed", 7, *extra, input=input)
    assert result.exit_code == 0, result.stderr
    return result


class TestReproducible:
    def test_same_bytes_for_jobs_1_and_2_and_for_reversed_inputs(self, data, tmp_path, monkeypatch):
        spec, images, masks = data
        monkeypatch.chdir(images)
        files = sorted(p.relative_to(images).as_posix() for p in images.rglob("*.png"))
        listed, backwards = "\n".join(files), "\n".join(files[::-1])
        common = ("--variants", 3, "--pair", f"masks={masks}")
        augment(spec, ["-"], tmp_path / "one", "-j", 1, *common, input=listed)
        augment(spec, ["-"], tmp_path / "two", "-j", 2, *common, input=listed)
        augment(spec, ["-"], tmp_path / "reversed", "-j", 2, *common, input=backwards)
        one = tree(tmp_path / "one")
        assert len(one) == 4 * 3 * 2  # images and masks, 3 variants
        assert tree(tmp_path / "two") == one
        assert tree(tmp_path / "reversed") == one
        assert len({one[f"a_{v:03d}.png"] for v in range(3)}) == 3  # variants differ

    def test_a_subset_gets_the_same_bytes_as_in_the_full_run(self, data, tmp_path, monkeypatch):
        spec, images, masks = data
        augment(spec, [images], tmp_path / "full", "--pair", f"masks={masks}")
        monkeypatch.chdir(images)  # stdin paths relative to the same root keep their keys
        augment(spec, ["-"], tmp_path / "part", "--pair", f"masks={masks}", input="sub/d.png\n")
        part = tree(tmp_path / "part")
        assert sorted(part) == ["masks/sub/d.png", "sub/d.png"]
        full = tree(tmp_path / "full")
        assert all(part[name] == full[name] for name in part)

    def test_another_seed_gives_other_outputs(self, data, tmp_path):
        spec, images, _ = data
        augment(spec, [images], tmp_path / "seven")
        result = run("apply", spec, images, "-o", tmp_path / "eight", "--seed", 8)
        assert result.exit_code == 0
        assert tree(tmp_path / "seven") != tree(tmp_path / "eight")

    def test_without_seed_a_fresh_seed_is_printed_and_reproduces_the_run(self, data, tmp_path):
        spec, images, _ = data
        result = run("apply", spec, images, "-o", tmp_path / "first")
        assert result.exit_code == 0
        seed = int(result.stderr.split("drawing with --seed ")[1].split()[0])
        augment_seeded = run("apply", spec, images, "-o", tmp_path / "again", "--seed", seed)
        assert augment_seeded.exit_code == 0
        assert tree(tmp_path / "again") == tree(tmp_path / "first")


class TestPairs:
    def test_masks_keep_their_labels_and_line_up_with_the_image(self, data, tmp_path):
        spec, images, masks = data
        out = tmp_path / "out"
        augment(
            spec, [images], out, "--variants", 4, "--pair", f"masks={masks}", "--mode", "nearest"
        )
        for image_path in out.glob("**/*.png"):
            if image_path.parts[-2] == "masks" or "masks" in image_path.relative_to(out).parts:
                continue
            relative = image_path.relative_to(out)
            warped_image = pixels(image_path).astype(int)
            warped_mask = pixels(out / "masks" / relative).astype(int)
            assert set(np.unique(warped_mask)) <= set(LABELS)
            inside = warped_image != 0  # outside the input both are fill (0)
            k = np.zeros(256, int)
            k[LABELS] = np.arange(LABELS.size)  # mask value -> label index
            np.testing.assert_array_equal(warped_image[inside], k[warped_mask[inside]] * 40 + 20)
            assert np.all(warped_mask[~inside] == 0)

    def test_bilinear_images_with_nearest_masks_keep_exact_labels(self, data, tmp_path):
        spec, images, masks = data
        out = tmp_path / "out"
        augment(spec, [images], out, "--variants", 3, "--pair", str(masks))  # NAME = "masks"
        for mask in (out / "masks").rglob("*.png"):
            assert set(np.unique(pixels(mask))) <= set(LABELS)
        values = np.concatenate([pixels(p).ravel() for p in out.glob("*.png")])
        assert not set(np.unique(values)) <= {20, 60, 100, 140, 180, 0}  # images interpolated

    def test_a_missing_or_misfit_mask_fails_that_file_only(self, data, tmp_path):
        spec, images, masks = data
        (masks / "b.png").unlink()
        Image.fromarray(np.zeros((5, 5), np.uint8)).save(masks / "sub" / "c.png")
        out = tmp_path / "out"
        result = run("apply", spec, images, "-o", out, "--seed", 1, "--pair", f"masks={masks}")
        assert result.exit_code == 1
        assert f"{images / 'b.png'}: no paired file under {masks}" in result.stderr
        assert "c.png: is 5x5, but the file it is paired with is 40x36" in result.stderr
        assert (out / "a.png").exists() and (out / "masks" / "sub" / "d.png").exists()
        # a pair is one unit: the image whose mask failed is not left behind without it
        assert not (out / "masks" / "sub" / "c.png").exists()
        assert not (out / "sub" / "c.png").exists() and not (out / "b.png").exists()
        assert "2 failed, 4 written" in result.stderr
        assert sorted(Path(p).relative_to(out).as_posix() for p in result.stdout.split()) == [
            "a.png",
            "masks/a.png",
            "masks/sub/d.png",
            "sub/d.png",
        ]

    def test_target_names_must_match_the_pair_names(self, data, tmp_path):
        spec, images, masks = data  # the spec configures targets.masks
        out = tmp_path / "out"
        result = run("apply", spec, images, "-o", out, "--seed", 1, "--pair", f"labels={masks}")
        assert result.exit_code == 2
        assert result.stderr == (
            f"gswarp: error: {spec}: targets.masks matches no --pair name (targets: masks; "
            "--pair names: labels)\n"
        )
        both = run(
            "apply", spec, images, "-o", out, "--pair", f"masks={masks}", "--pair", f"x={masks}"
        )
        assert both.exit_code == 2
        assert both.stderr == (
            f"gswarp: error: {spec}: --pair x has no entry under targets (targets: masks; "
            "--pair names: masks, x)\n"
        )
        assert not out.exists()

    def test_a_mask_with_another_suffix_is_found_by_its_stem(self, data, tmp_path):
        spec, images, masks = data
        Image.open(masks / "a.png").save(masks / "a.tif")
        (masks / "a.png").unlink()
        out = tmp_path / "out"
        augment(spec, [images / "a.png"], out, "--pair", f"masks={masks}")
        assert (out / "masks" / "a.tif").exists()

    def test_pair_option_errors(self, data, tmp_path):
        spec, images, masks = data
        result = run("apply", spec, images, "-o", tmp_path / "o", "--pair", tmp_path / "nope")
        assert result.exit_code == 2 and "not a folder" in result.stderr
        twice = run("apply", spec, images, "-o", tmp_path / "o", "--pair", masks, "--pair", masks)
        assert twice.exit_code == 2 and "unique folder name" in twice.stderr


class TestLogAndReplay:
    def test_replay_reproduces_every_output_byte_for_byte(self, data, tmp_path, monkeypatch):
        spec, images, masks = data
        out, log = tmp_path / "out", tmp_path / "draws.jsonl"
        augment(spec, [images], out, "--variants", 2, "--pair", f"masks={masks}", "--log", log)
        lines = [json.loads(line) for line in log.read_text().splitlines()]
        assert len(lines) == 16
        (first,) = [line for line in lines if line["name"] == "a_000.png"]
        assert first["seed"] == 7 and first["key"] == "a.png" and first["variant"] == 0
        assert first["output"] == "out/a_000.png" and first["target"] is None  # log-relative
        assert first["output_absolute"] == str(out / "a_000.png")
        assert first["input"] == "images/a.png"
        assert first["input_absolute"] == str(images / "a.png")
        assert first["sha256"] == hashlib.sha256((images / "a.png").read_bytes()).hexdigest()
        assert -20 <= first["draws"]["transform[0].affine.rotate"] <= 20
        assert len(first["applied"]) == 3 and first["spec"]["version"] == 1
        assert {line["target"] for line in lines} == {None, "masks"}
        monkeypatch.chdir(tmp_path / "images")  # the log's paths do not depend on the cwd
        result = run("apply", "--replay", log, "-o", tmp_path / "replayed")
        assert result.exit_code == 0, result.stderr
        assert tree(tmp_path / "replayed") == tree(out)

    def test_replay_without_o_writes_the_logged_paths(self, data, tmp_path):
        spec, images, _ = data
        out, log = tmp_path / "out", tmp_path / "draws.jsonl"
        augment(spec, [images], out, "--log", log, "--compress-level", 1)
        before = tree(out)
        shutil.rmtree(out / "sub")
        result = run("apply", "--replay", log, "--skip-existing")
        assert result.exit_code == 0, result.stderr
        assert sorted(result.stdout.split()) == [str(out / "sub/c.png"), str(out / "sub/d.png")]
        assert tree(out) == before

    def test_a_tree_moved_with_its_log_replays(self, data, tmp_path):
        spec, images, _ = data
        project = tmp_path / "project"
        project.mkdir()
        shutil.move(images, project / "images")
        augment(spec, [project / "images"], project / "out", "--log", project / "draws.jsonl")
        before = tree(project / "out")
        moved = tmp_path / "elsewhere"
        shutil.move(project, moved)  # the absolute paths in the log now point nowhere
        shutil.rmtree(moved / "out")
        result = run("apply", "--replay", moved / "draws.jsonl")
        assert result.exit_code == 0, result.stderr
        assert tree(moved / "out") == before

    def test_replay_refuses_an_input_that_changed(self, data, tmp_path):
        spec, images, _ = data
        log = tmp_path / "draws.jsonl"
        augment(spec, [images], tmp_path / "out", "--log", log)
        Image.fromarray(np.zeros((36, 40), np.uint8)).save(images / "b.png")
        result = run("apply", "--replay", log, "-o", tmp_path / "again")
        assert result.exit_code == 1
        line = next(
            number
            for number, text in enumerate(log.read_text().splitlines(), 1)
            if json.loads(text)["name"] == "b.png"
        )
        assert (
            f"gswarp: error: {images / 'b.png'}: changed since it was logged (its SHA-256 differs "
            f"from line {line}'s); not replayed"
        ) in result.stderr.splitlines()
        assert "1 failed, 3 written" in result.stderr
        assert not (tmp_path / "again" / "b.png").exists()

    def test_a_resumed_run_with_its_log_still_replays(self, data, tmp_path):
        spec, images, masks = data
        out, log = tmp_path / "out", tmp_path / "draws.jsonl"
        common = ("--pair", f"masks={masks}", "--log", log)
        augment(spec, [images], out, *common)
        (out / "b.png").unlink()
        (out / "masks" / "b.png").unlink()
        augment(spec, [images], out, *common, "--skip-existing")  # appends b's two lines
        assert len(log.read_text().splitlines()) == 10
        result = run("apply", "--replay", log, "-o", tmp_path / "replayed")
        assert result.exit_code == 0, result.stderr
        assert len(result.stdout.split()) == 8
        assert tree(tmp_path / "replayed") == tree(out)

    def test_replay_dry_run_lists_without_writing(self, data, tmp_path):
        spec, images, _ = data
        log = tmp_path / "draws.jsonl"
        augment(spec, [images], tmp_path / "out", "--log", log)
        result = run("apply", "--replay", log, "-o", tmp_path / "again", "--dry-run")
        assert result.exit_code == 0, result.stderr
        assert len(result.stdout.split()) == 4 and not (tmp_path / "again").exists()

    def test_replay_usage_and_log_errors(self, data, tmp_path):
        spec, images, _ = data
        log = tmp_path / "draws.jsonl"
        log.write_text('{"input": "x"}\n')
        broken = run("apply", "--replay", log)
        assert broken.exit_code == 2
        assert broken.stderr == (
            f"gswarp: error: {log}:1: missing key 'output' (not a gswarp draw log?)\n"
        )
        mixed = run("apply", spec, images, "--replay", log)
        assert mixed.exit_code == 2 and "--replay takes no SPEC" in mixed.stderr


class TestShellBehaviour:
    def test_null_separated_paths_in_and_out(self, data, tmp_path):
        spec, images, _ = data
        names = [str(images / "a.png"), str(images / "sub" / "c.png")]
        result = augment(spec, ["-"], tmp_path / "out", "--null", input="\0".join(names) + "\0")
        written = result.stdout.split("\0")
        assert written[-1] == "" and len(written) == 3
        assert all(Path(p).is_file() for p in written[:-1])

    def test_skip_existing_resumes_without_redoing_outputs(self, data, tmp_path):
        spec, images, masks = data
        out = tmp_path / "out"
        augment(spec, [images], out, "--pair", f"masks={masks}")
        before = tree(out)
        (out / "b.png").unlink()
        (out / "masks" / "sub" / "c.png").unlink()
        stamp = (out / "a.png").stat().st_mtime_ns
        result = augment(spec, [images], out, "--pair", f"masks={masks}", "--skip-existing")
        assert sorted(result.stdout.split()) == [str(out / "b.png"), str(out / "masks/sub/c.png")]
        assert "6 existing outputs skipped, 2 written" in result.stderr
        assert tree(out) == before
        assert (out / "a.png").stat().st_mtime_ns == stamp
        clash = run("apply", spec, images, "-o", out, "--overwrite", "--skip-existing")
        assert clash.exit_code == 2

    def test_variants_of_a_volume_keep_the_nifti_suffix(self, tmp_path):
        pytest.importorskip("nibabel")
        import nibabel

        volume = np.arange(6 * 7 * 8, dtype=np.float32).reshape(8, 7, 6)
        nibabel.save(nibabel.Nifti1Image(volume, np.eye(4)), tmp_path / "v.nii.gz")
        spec = tmp_path / "s.yaml"
        spec.write_text(
            "version: 1\ntransform: [{affine: {rotate: [0, 0, {uniform: [-10, 10]}]}}, "
            "{elastic: {alpha: 20, sigma: 2, grid: 2}}]\n"
        )
        out = tmp_path / "out"
        augment(spec, [tmp_path / "v.nii.gz"], out, "--variants", 2)
        first = np.asarray(nibabel.load(out / "v_000.nii.gz").dataobj)
        second = np.asarray(nibabel.load(out / "v_001.nii.gz").dataobj)
        assert first.shape == second.shape == volume.shape
        assert not np.array_equal(first, second)

    def test_dry_run_draws_and_lists_without_writing(self, data, tmp_path):
        spec, images, masks = data
        out = tmp_path / "out"
        result = augment(spec, [images], out, "--dry-run", "--pair", f"masks={masks}")
        assert len(result.stdout.split()) == 8 and not out.exists()


def test_explain_draws_a_random_spec_as_apply_does(data, tmp_path):
    spec, images, _ = data
    result = run("explain", spec, images / "a.png", "--seed", 7, "--variant", 1, "--json")
    assert result.exit_code == 0, result.stderr
    explained = json.loads(result.stdout)
    log = tmp_path / "draws.jsonl"
    augment(spec, [images / "a.png"], tmp_path / "out", "--variants", 2, "--log", log)
    logged = [json.loads(line) for line in log.read_text().splitlines()]
    (second,) = [line for line in logged if line["variant"] == 1]
    assert explained["draws"] == second["draws"]
    text = run("explain", spec, images / "a.png", "--seed", 7).stdout
    assert text.startswith("drawn with --seed 7, variant 0:")
