"""``gswarp register`` and gswarp.registration (issue 17): known transforms recovered on real
photographs (scikit-image) and volumes (nibabel's test data), the written spec applied with
``gswarp apply``, the metrics' gradients, and bad input."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from gswarp import grid_sample, warp_affine
from gswarp.cli.main import cli
from gswarp.registration import Image as Operand
from gswarp.registration import register
from gswarp.registration.metrics import Histogram, cost
from gswarp.registration.models import Model, rotation

skimage_data = pytest.importorskip("skimage.data", reason="scikit-image gives the photographs")


def _run(*arguments: str):
    result = CliRunner().invoke(cli, [str(a) for a in arguments])
    return result


def _camera() -> np.ndarray:
    return skimage_data.camera().astype(np.float32)


def _similar_pair(folder: Path, size: int = 256, degrees=7.0, scale=1.06, shift=(5.3, -3.7)):
    """fixed.png: the camera's centre crop; moving.png: the camera turned by ``degrees``, scaled
    and shifted about the crop's centre. Returns the true pull matrix (fixed pixel -> moving
    pixel)."""
    cam = _camera()
    margin = (cam.shape[0] - size) // 2
    c = (size - 1) / 2
    angle = np.deg2rad(degrees)
    linear = scale * rotation(np.array([angle]))
    to_camera = np.eye(3)  # moving pixel -> camera pixel
    to_camera[:2, :2] = linear
    to_camera[:2, 2] = c - linear @ [c, c] + np.asarray(shift) + margin
    moving = warp_affine(cam[None, None], to_camera[:2], (1, 1, size, size))[0, 0]
    crop = slice(margin, margin + size)
    Image.fromarray(cam[crop, crop].astype(np.uint8)).save(folder / "fixed.png")
    Image.fromarray(np.clip(np.rint(moving), 0, 255).astype(np.uint8)).save(folder / "moving.png")
    fixed_to_camera = np.eye(3)
    fixed_to_camera[:2, 2] = margin
    return np.linalg.inv(to_camera) @ fixed_to_camera


def _pixel_error(found: np.ndarray, truth: np.ndarray, shape) -> float:
    """The largest distance (pixels) between where two pull matrices send the fixed pixels."""
    k = len(shape)
    index = np.indices(shape, dtype=np.float64)[::-1].reshape(k, -1)
    points = np.vstack([index, np.ones(index.shape[1])])
    return float(np.linalg.norm((found - truth)[:k] @ points, axis=0).max())


def _angle(matrix: np.ndarray) -> float:
    return float(np.degrees(np.arctan2(matrix[1, 0], matrix[0, 0])))


def _result_matrix(log: Path) -> np.ndarray:
    last = json.loads(log.read_text().splitlines()[-1])
    assert last["event"] == "result"
    return np.array(last["matrix"])


@pytest.mark.parametrize("metric", ["mse", "ncc", "mi"])
def test_similarity_recovers_rotation_scale_and_shift(tmp_path, metric):
    """The issue's case: <= 0.1 degree and <= 0.1 pixel anywhere on the image; then the spec,
    applied with gswarp apply, gives the library's warp with the found matrix."""
    truth = _similar_pair(tmp_path)
    spec, log = tmp_path / "reg.yaml", tmp_path / "trace.jsonl"
    result = _run(
        "register", tmp_path / "fixed.png", tmp_path / "moving.png", "-o", spec,
        "--model", "similarity", "--metric", metric, "--log", log,
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == str(spec)
    found = _result_matrix(log)
    assert abs(_angle(found) - _angle(truth)) <= 0.1
    assert _pixel_error(found, truth, (256, 256)) <= 0.1
    aligned = tmp_path / "aligned.png"
    assert _run("apply", spec, tmp_path / "moving.png", "-o", aligned).exit_code == 0
    moving = np.asarray(Image.open(tmp_path / "moving.png")).astype(np.float32)
    expected = warp_affine(moving[None, None], found[:2])[0, 0]
    got = np.asarray(Image.open(aligned)).astype(np.float32)
    assert np.abs(got - np.clip(np.rint(expected), 0, 255)).max() <= 1
    fixed = np.asarray(Image.open(tmp_path / "fixed.png")).astype(np.float32)
    inner = (slice(24, -24), slice(24, -24))  # the moving image covers it
    assert np.abs(got - fixed)[inner].mean() < 6  # resampling blur of an 8-bit photo


def test_mutual_information_aligns_a_non_monotonic_intensity_map(tmp_path):
    """MI, not NCC, aligns a moving image whose grey levels went through a non-monotonic map
    (dark and bright both become bright): the 'other modality' case."""
    truth = _similar_pair(tmp_path, degrees=-5.0, scale=1.0, shift=(4.2, 2.9))
    moving = np.asarray(Image.open(tmp_path / "moving.png")).astype(np.float64)
    remapped = 255 * np.abs(np.sin(moving / 255 * 1.4 * np.pi))
    Image.fromarray(np.rint(remapped).astype(np.uint8)).save(tmp_path / "moving.png")
    errors = {}
    for metric in ("mi", "ncc"):
        log = tmp_path / f"{metric}.jsonl"
        result = _run(
            "register", tmp_path / "fixed.png", tmp_path / "moving.png", "-o",
            tmp_path / f"{metric}.yaml", "--metric", metric, "--log", log,
        )  # fmt: skip
        assert result.exit_code == 0, result.output
        errors[metric] = _pixel_error(_result_matrix(log), truth, (256, 256))
    assert errors["mi"] <= 0.1
    assert errors["ncc"] > 1.0  # the case needs MI


def _anatomical_pair(folder: Path):
    """nibabel's anatomical.nii as the fixed volume; the moving one turned rigidly (4, -3, 6
    degrees about the volume's centre, 2.3/-1.7/1.1 mm) on a grid placed elsewhere in the
    world. Returns the true pull matrix (fixed RAS -> moving RAS)."""
    nibabel = pytest.importorskip("nibabel")
    from nibabel.testing import data_path

    image = nibabel.load(os.path.join(data_path, "anatomical.nii"))
    voxels = np.swapaxes(np.asarray(image.dataobj, dtype=np.float32), 0, 2)  # (z, y, x)
    fixed_affine = image.affine
    truth = np.eye(4)
    truth[:3, :3] = rotation(np.deg2rad([4.0, -3.0, 6.0]))
    centre = fixed_affine[:3, :3] @ ((np.array(voxels.shape[::-1]) - 1) / 2) + fixed_affine[:3, 3]
    truth[:3, 3] = centre - truth[:3, :3] @ centre + [2.3, -1.7, 1.1]
    moving_affine = fixed_affine.copy()
    moving_affine[:3, 3] += [3.0, -2.0, 1.5]
    sampling = np.linalg.inv(fixed_affine) @ np.linalg.inv(truth) @ moving_affine
    moving = warp_affine(voxels[None, None], sampling[:3], padding_mode="border")[0, 0]
    nibabel.save(nibabel.Nifti1Image(np.swapaxes(voxels, 0, 2), fixed_affine), folder / "f.nii")
    nibabel.save(nibabel.Nifti1Image(np.swapaxes(moving, 0, 2), moving_affine), folder / "m.nii")
    return truth, voxels, moving, fixed_affine, moving_affine


def test_rigid_volume_in_world_space(tmp_path):
    """A 3-D rigid case in world millimetres: recovered within 0.05 mm over the volume; the spec
    applies in world space onto the fixed grid and equals the library's warp; --transform-out
    writes the same map for ITK (SimpleITK resamples alike)."""
    nibabel = pytest.importorskip("nibabel")
    truth, voxels, moving, fixed_affine, moving_affine = _anatomical_pair(tmp_path)
    spec, log, tfm = tmp_path / "reg.yaml", tmp_path / "t.jsonl", tmp_path / "reg.tfm"
    result = _run(
        "register", tmp_path / "f.nii", tmp_path / "m.nii", "-o", spec, "--log", log,
        "--transform-out", tfm,
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    text = spec.read_text()
    assert "space: world" in text and "like: f.nii" in text
    found = _result_matrix(log)
    fixed_mm = fixed_affine @ np.vstack(
        [np.indices(voxels.shape)[::-1].reshape(3, -1), np.ones(voxels.size)]
    )
    assert float(np.linalg.norm((found - truth)[:3] @ fixed_mm, axis=0).max()) <= 0.05
    out = tmp_path / "aligned.nii"
    assert _run("apply", spec, tmp_path / "m.nii", "-o", out).exit_code == 0
    aligned = nibabel.load(out)
    np.testing.assert_allclose(aligned.affine, fixed_affine)
    got = np.swapaxes(np.asarray(aligned.dataobj), 0, 2)
    sampling = np.linalg.inv(moving_affine) @ found @ fixed_affine
    expected = warp_affine(moving[None, None], sampling[:3])[0, 0]
    np.testing.assert_allclose(got, expected, atol=1e-3 * float(np.abs(expected).max()))
    sitk = pytest.importorskip("SimpleITK")
    resampled = sitk.Resample(
        sitk.ReadImage(str(tmp_path / "m.nii"), sitk.sitkFloat32),
        sitk.ReadImage(str(tmp_path / "f.nii"), sitk.sitkFloat32),
        sitk.ReadTransform(str(tfm)),
        sitk.sitkLinear,
    )
    itk = sitk.GetArrayFromImage(resampled)  # (z, y, x)
    # where every trilinear corner is inside the moving volume (at its edge ITK reads nothing
    # while zeros padding blends in zeros)
    inside = np.isfinite(warp_affine(np.ones_like(moving)[None, None], sampling[:3], fill=np.nan))
    inside = inside[0, 0]
    assert np.abs(itk - got)[inside].max() <= 1e-3 * float(np.abs(expected).max())


def _deformed_pair(folder: Path, size: int = 192):
    """fixed_flow.png: a camera crop; moving_flow.png: the camera through a smooth deformation
    (up to 4 pixels) plus a shift. Returns the deformation as a function of moving pixels."""
    cam = _camera()
    margin = (cam.shape[0] - size) // 2
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float64)

    def displacement(x, y):
        return 4.0 * np.sin(2 * np.pi * y / size) * np.sin(np.pi * x / size) + 2.0, (
            3.0 * np.sin(2 * np.pi * x / size) - 1.5
        )

    dx, dy = displacement(xx, yy)
    px, py = xx + margin + dx, yy + margin + dy
    grid = np.stack([(2 * px + 1) / cam.shape[1] - 1, (2 * py + 1) / cam.shape[0] - 1], -1)
    moving = grid_sample(cam[None, None], grid[None].astype(np.float32))[0, 0]
    crop = slice(margin, margin + size)
    Image.fromarray(cam[crop, crop].astype(np.uint8)).save(folder / "fixed_flow.png")
    Image.fromarray(np.clip(np.rint(moving), 0, 255).astype(np.uint8)).save(
        folder / "moving_flow.png"
    )
    return displacement


def test_flow_model_lowers_the_error_of_a_smooth_deformation(tmp_path):
    """--model flow on a known smooth deformation: the mapping's error falls well below the
    affine result's, and the written spec (a coordinates field) applies with gswarp apply."""
    size = 192
    displacement = _deformed_pair(tmp_path, size)
    fixed, moving = tmp_path / "fixed_flow.png", tmp_path / "moving_flow.png"

    def mapping_error(coordinates: np.ndarray) -> float:
        """Mean distance between fixed pixels and where the found moving pixels truly come
        from (the inner part: the deformation moves the border out of view)."""
        mx, my = coordinates[..., 0], coordinates[..., 1]
        dx, dy = displacement(mx, my)
        yy, xx = np.mgrid[0:size, 0:size]
        error = np.hypot(mx + dx - xx, my + dy - yy)
        return float(error[16:-16, 16:-16].mean())

    log = tmp_path / "affine.jsonl"
    assert _run("register", fixed, moving, "-o", tmp_path / "a.yaml", "--model", "affine",
                "--log", log).exit_code == 0  # fmt: skip
    affine = _result_matrix(log)
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float64)
    affine_coordinates = np.stack(
        [affine[0, 0] * xx + affine[0, 1] * yy + affine[0, 2],
         affine[1, 0] * xx + affine[1, 1] * yy + affine[1, 2]], -1
    )  # fmt: skip
    spec = tmp_path / "flow.yaml"
    result = _run("register", fixed, moving, "-o", spec, "--model", "flow")
    assert result.exit_code == 0, result.output
    field = tmp_path / "flow_flow.npy"
    assert result.stdout.split() == [str(field), str(spec)]
    coordinates = np.load(field)
    assert coordinates.shape == (size, size, 2)
    affine_error, flow_error = mapping_error(affine_coordinates), mapping_error(coordinates)
    assert flow_error < 0.3 * affine_error, (flow_error, affine_error)
    out = tmp_path / "aligned.png"
    assert _run("apply", spec, moving, "-o", out).exit_code == 0
    pixels = np.asarray(Image.open(moving)).astype(np.float32)
    normalized = (2 * coordinates + 1) / size - 1
    expected = grid_sample(pixels[None, None], normalized[None])[0, 0]
    got = np.asarray(Image.open(out)).astype(np.float32)
    assert np.abs(got - np.clip(np.rint(expected), 0, 255)).max() <= 1


def test_mask_progress_and_log(tmp_path):
    truth = _similar_pair(tmp_path, size=192)
    mask = np.zeros((192, 192), np.uint8)
    mask[40:150, 30:160] = 255
    Image.fromarray(mask).save(tmp_path / "mask.png")
    log = tmp_path / "t.jsonl"
    result = _run(
        "register", tmp_path / "fixed.png", tmp_path / "moving.png", "-o", tmp_path / "r.yaml",
        "--model", "similarity", "--mask", tmp_path / "mask.png", "--shrink", "4,2,1",
        "--log", log,
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    lines = result.stderr.splitlines()
    assert [line.split(":")[1].strip() for line in lines[:3]] == [
        "level 1 (1/4, 48x48)", "level 2 (1/2, 96x96)", "level 3 (1/1, 192x192)",
    ]  # fmt: skip
    assert "final ncc 0.9" in lines[-1]
    records = [json.loads(line) for line in log.read_text().splitlines()]
    assert {r["event"] for r in records} == {"iteration", "level", "result"}
    assert [r["shrink"] for r in records if r["event"] == "level"] == [4, 2, 1]
    assert _pixel_error(_result_matrix(log), truth, (192, 192)) <= 0.1


def test_library_register_and_models():
    """The Python API on arrays, and the models' parameters round trip."""
    camera = _camera()
    fixed = camera[128:384, 128:384]
    # half-pixel shifts: a bilinear shift by a quarter pixel would blur the moving image
    # asymmetrically and bias any metric's optimum (by 0.13 pixel here)
    to_camera = np.array([[1.0, 0, 128 + 3.5], [0, 1, 128 - 2.5]])  # moving pixel -> camera
    moving = warp_affine(camera[None, None], to_camera, (1, 1, 256, 256))[0, 0]
    result = register(Operand(fixed, np.eye(3)), Operand(moving, np.eye(3)), "translation", "mse")
    assert result.model.name == "translation" and len(result.levels) == 4
    np.testing.assert_allclose(result.matrix[:2, 2], [-3.5, 2.5], atol=0.01)
    rng = np.random.default_rng(1)
    for name, k in [
        ("rigid", 2),
        ("similarity", 2),
        ("rigid", 3),
        ("similarity", 3),
        ("affine", 3),
    ]:
        model = Model(name, k)
        p = rng.uniform(-0.3, 0.3, model.count)
        centre = rng.uniform(-5, 5, k)
        np.testing.assert_allclose(
            model.fit_parameters(model.matrix(p, centre), centre), p, atol=1e-12
        )


@pytest.mark.parametrize("metric", ["mse", "ncc", "mi"])
def test_metric_gradients_are_derivatives(metric):
    """Central differences of each metric for the warped values (float64), NaN points left out
    and a mask applied."""
    rng = np.random.default_rng(4)
    fixed = rng.uniform(0, 10, (12, 13))
    warped = 0.7 * fixed + rng.normal(0, 1.5, fixed.shape)
    warped[0, :3] = np.nan
    mask = np.ones(fixed.shape, bool)
    mask[5, 5:9] = False
    histogram = Histogram.of(fixed[mask], np.nan_to_num(warped, nan=5.0), 8)
    _, grad, count = cost(metric, warped, fixed, mask, histogram)
    assert count == mask.sum() - 3
    assert not grad[0, :3].any() and not grad[5, 5:9].any()
    step = 1e-6
    for index in [(1, 1), (7, 2), (11, 12), (3, 8)]:
        plus, minus = warped.copy(), warped.copy()
        plus[index] += step
        minus[index] -= step
        numeric = (
            cost(metric, plus, fixed, mask, histogram)[0]
            - cost(metric, minus, fixed, mask, histogram)[0]
        ) / (2 * step)
        assert numeric == pytest.approx(grad[index], rel=1e-4, abs=1e-9)


def _save_png(path: Path, array: np.ndarray) -> Path:
    Image.fromarray(array.astype(np.uint8)).save(path)
    return path


def test_bad_input_is_one_line_exit_2(tmp_path):
    rng = np.random.default_rng(0)
    photo = _save_png(tmp_path / "a.png", rng.integers(0, 255, (32, 32)))
    volume = tmp_path / "v.npy"
    np.save(volume, rng.uniform(size=(16, 16, 16)).astype(np.float32))
    tiny = _save_png(tmp_path / "tiny.png", rng.integers(0, 255, (4, 4)))
    empty = _save_png(tmp_path / "empty.png", np.zeros((32, 32)))
    nan = tmp_path / "nan.npy"
    np.save(nan, np.full((16, 16, 16), np.nan, np.float32))
    wrong_mask = _save_png(tmp_path / "m.png", np.ones((20, 32)))
    out = tmp_path / "r.yaml"
    cases = [
        ((photo, volume), "a 2-D image and"),
        ((photo, photo, "--mask", empty), f"--mask {empty}: every voxel is zero"),
        ((tiny, tiny, "--model", "affine"), f"fixed image {tiny} is 4x4: too small"),
        ((volume, nan), f"moving image {nan} has NaN or infinite values"),
        ((photo, photo, "--mask", wrong_mask), "is not the fixed image's 32x32"),
        ((photo, photo, "--transform-out", tmp_path / "x.tfm"), "register two NIfTI volumes"),
        ((photo, photo, "--shrink", "4,0"), "expected factors like 8,4,2,1"),
    ]
    for arguments, message in cases:
        result = _run("register", *arguments, "-o", out)
        assert result.exit_code == 2, (arguments, result.output)
        assert message in result.stderr, (message, result.stderr)
        assert "Traceback" not in result.output
        errors = [line for line in result.stderr.splitlines() if "rror" in line]
        assert len(errors) == 1  # one line (click adds its usage lines to option errors)
        assert not out.exists()
    result = _run("register", photo, tmp_path / "missing.png", "-o", out)
    assert result.exit_code == 1 and "missing.png" in result.stderr and not out.exists()
    out.write_text("keep")
    result = _run("register", photo, photo, "-o", out)
    assert result.exit_code == 2 and "already exists" in result.stderr
    assert out.read_text() == "keep"


@pytest.mark.slow  # compiles the 3-D tricubic lattice kernels (float64) only for itself
def test_flow_model_on_volumes_writes_an_itk_field_the_spec_applies(tmp_path):
    """--model flow on two NIfTI volumes: the whole map (affine and lattice) is written as an
    ITK displacement field on the fixed grid, the spec applies it in world space, and the
    result equals sampling the moving volume where the field points."""
    nibabel = pytest.importorskip("nibabel")
    _, voxels, moving, fixed_affine, moving_affine = _anatomical_pair(tmp_path)
    spec = tmp_path / "reg.yaml"
    result = _run(
        "register", tmp_path / "f.nii", tmp_path / "m.nii", "-o", spec, "--model", "flow",
        "--flow-spacing", "8", "--iterations", "20",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    field_path = tmp_path / "reg_warp.nii.gz"
    assert result.stdout.split() == [str(field_path), str(spec)]
    assert "file: reg_warp.nii.gz" in spec.read_text()
    field = nibabel.load(field_path)
    np.testing.assert_allclose(field.affine, fixed_affine)
    lps = np.asarray(field.dataobj)[:, :, :, 0, :]  # (X, Y, Z, 3) ITK: LPS millimetres
    ras = np.swapaxes(lps * [-1.0, -1.0, 1.0], 0, 2)  # (z, y, x, 3)
    index = np.moveaxis(np.indices(voxels.shape, dtype=np.float64)[::-1], 0, -1)
    fixed_mm = index @ fixed_affine[:3, :3].T + fixed_affine[:3, 3]
    to_moving = np.linalg.inv(moving_affine)
    source = (fixed_mm + ras) @ to_moving[:3, :3].T + to_moving[:3, 3]  # moving voxels
    grid = (2 * source + 1) / np.array(moving.shape[::-1]) - 1
    expected = grid_sample(moving[None, None], grid[None].astype(np.float32))[0, 0]
    out = tmp_path / "aligned.nii"
    assert _run("apply", spec, tmp_path / "m.nii", "-o", out).exit_code == 0
    got = np.swapaxes(np.asarray(nibabel.load(out).dataobj), 0, 2)
    np.testing.assert_allclose(got, expected, atol=1e-3 * float(np.abs(moving).max()))


def test_images_of_different_sizes_apply_onto_the_fixed_grid(tmp_path):
    """FIXED 256x256, MOVING 300x280: the spec's output is FIXED's size (gswarp apply stretches
    an output of another size over the input's extent; the written matrix undoes that), and
    equals the library's warp with the found matrix."""
    camera = _camera()
    centre = np.array([149.5, 139.5])
    linear = rotation(np.deg2rad([5.0]))
    to_camera = np.hstack([linear, (centre - linear @ centre + [100, 110])[:, None]])
    moving = warp_affine(camera[None, None], to_camera, (1, 1, 280, 300))[0, 0]
    _save_png(tmp_path / "m.png", np.clip(np.rint(moving), 0, 255))
    _save_png(tmp_path / "f.png", camera[128:384, 128:384])
    spec, log = tmp_path / "r.yaml", tmp_path / "r.jsonl"
    result = _run("register", tmp_path / "f.png", tmp_path / "m.png", "-o", spec, "--log", log)
    assert result.exit_code == 0, result.output
    assert "size: [256, 256]" in spec.read_text()
    truth = np.linalg.inv(np.vstack([to_camera, [0, 0, 1]]))
    truth[:2, 2] += truth[:2, :2] @ [128, 128]  # fixed pixel -> camera pixel -> moving pixel
    found = _result_matrix(log)
    assert _pixel_error(found, truth, (256, 256)) <= 0.1
    out = tmp_path / "a.png"
    assert _run("apply", spec, tmp_path / "m.png", "-o", out).exit_code == 0
    got = np.asarray(Image.open(out)).astype(np.float32)
    pixels = np.asarray(Image.open(tmp_path / "m.png")).astype(np.float32)
    expected = warp_affine(pixels[None, None], found[:2], (1, 1, 256, 256))[0, 0]
    assert got.shape == (256, 256)
    assert np.abs(got - np.clip(np.rint(expected), 0, 255)).max() <= 1


def test_npy_volumes_register_in_voxels(tmp_path):
    """Volumes without a header (.npy) register in voxel units; the spec (a 4x4 voxel matrix,
    the fixed size) applies as the library warp does."""
    pytest.importorskip("nibabel")
    _, voxels, _, _, _ = _anatomical_pair(tmp_path)
    shift = np.array([[1.0, 0, 0, 1.5], [0, 1, 0, -2.5], [0, 0, 1, 0.5]])  # moving -> fixed voxel
    moving = warp_affine(voxels[None, None], shift, padding_mode="border")[0, 0]
    np.save(tmp_path / "f.npy", voxels)
    np.save(tmp_path / "m.npy", moving)
    spec, log = tmp_path / "r.yaml", tmp_path / "r.jsonl"
    arguments = ("--model", "translation", "--metric", "mse", "--log", log)
    result = _run("register", tmp_path / "f.npy", tmp_path / "m.npy", "-o", spec, *arguments)
    assert result.exit_code == 0, result.output
    assert "space: world" not in spec.read_text()
    found = _result_matrix(log)
    np.testing.assert_allclose(found[:3, 3], -shift[:, 3], atol=0.05)
    out = tmp_path / "a.npy"
    assert _run("apply", spec, tmp_path / "m.npy", "-o", out).exit_code == 0
    expected = warp_affine(moving[None, None], found[:3])[0, 0]
    np.testing.assert_allclose(np.load(out), expected, atol=1e-3 * float(np.abs(moving).max()))


def test_polish_reaches_the_optimum_of_a_cost_with_small_jumps():
    """The final gradient-only descent MI gets: a cost whose values jump by 1e-6 (as MI's do
    when points cross the moving image's edge) but whose gradient is exact. L-BFGS's line
    search may stop short; the regular-step descent ends within its minimum step."""
    from gswarp.registration.optimize import Trace, minimize, polish

    target = np.array([0.8, -0.35, 0.6])

    def function(x, gradient=True):
        cost = 0.5 * float((x - target) @ (x - target)) + 1e-6 * np.floor(x[0] * 1e4)
        return cost, (x - target) if gradient else None

    x, _, trace = minimize(function, np.zeros(3))
    x, cost = polish(function, x, trace)
    assert np.abs(x - target).max() <= 2e-4
    assert trace.costs[-1] == cost and len(trace.steps) == len(trace.costs)
    still = Trace()
    at_minimum, _ = polish(function, target.copy(), still)
    assert np.array_equal(at_minimum, target) and not still.steps  # zero gradient: no step
