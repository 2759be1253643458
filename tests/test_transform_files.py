"""Registration tools' transform files (issue 16): ``transform: {file: ...}`` read by nitransforms.

Oracle: SimpleITK reading the same file (``sitk.ReadTransform``) and resampling a real volume
shipped by nibabel (``anatomical.nii``: 33x41x25, 2 mm voxels, x flipped, big-endian int16, as
float32 here) onto the same grid. The comparison is inside the field of view: output voxels
whose source point lies within the input's voxel centres on every axis (outside it, ITK's
interpolator returns the default value while gswarp's torch-style zeros padding blends the
border with zeros).
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

pytest.importorskip("nibabel", reason="nibabel is not installed")
pytest.importorskip("SimpleITK", reason="SimpleITK (the oracle) is not installed")
pytest.importorskip("nitransforms", reason="the transforms extra (nitransforms) is missing")

import nibabel
import SimpleITK as sitk  # noqa: N813  (its own documentation's name)
from nibabel.testing import data_path

from gswarp.cli.main import cli
from gswarp.io.transform_files import load_affine, load_composite
from tests.conftest import voxel_sources

TOLERANCE = 1e-4  # of the data range, inside the field of view (measured: 7e-7)


@pytest.fixture
def moving(tmp_path):
    image = nibabel.load(data_path / "anatomical.nii")
    voxels = np.asanyarray(image.dataobj).astype(np.float32)
    path = tmp_path / "moving.nii"
    nibabel.save(nibabel.Nifti1Image(voxels, image.affine), path)
    return path


def _affine(matrix, translation, center):
    transform = sitk.AffineTransform(3)
    transform.SetMatrix([float(v) for v in np.ravel(matrix)])
    transform.SetTranslation(translation)
    transform.SetCenter(center)
    return transform


ROTATION = _affine(
    [[0.98, -0.17, 0.02], [0.17, 0.97, 0.05], [-0.01, -0.05, 1.02]], (3, -2, 1.5), (10, 20, -5)
)
SHEAR = _affine([[1.05, 0.1, 0.0], [0.0, 0.95, -0.08], [0.04, 0.0, 1.1]], (-4, 1, 2), (0, 0, 0))


def _apply(tmp_path, spec_text, source, output, *extra):
    spec = tmp_path / "spec.yaml"
    spec.write_text("version: 1\n" + spec_text)
    return CliRunner().invoke(cli, ["apply", str(spec), str(source), "-o", str(output), *extra])


def _sitk_resample(moving, transform, interpolator=None):
    image = sitk.ReadImage(str(moving))
    result = sitk.Resample(
        image, image, transform, interpolator or sitk.sitkLinear, 0.0, sitk.sitkFloat32
    )
    return sitk.GetArrayFromImage(result).transpose(2, 1, 0)  # (i, j, k) as nibabel's


def _inside(moving, pull):
    """Output voxels whose source point (``pull``: output RAS -> input RAS) lies within the
    input's voxel centres."""
    image = nibabel.load(moving)
    shape = np.array(image.shape)
    source = voxel_sources(image.affine, image.shape, pull)
    inside = np.all((source >= 0) & (source <= shape[:, None] - 1), axis=0)
    return inside.reshape(image.shape)


def _data_range(moving):
    voxels = np.asanyarray(nibabel.load(moving).dataobj)
    return float(voxels.max() - voxels.min())


def _assert_as_simpleitk(output, moving, transform, pull):
    """gswarp's ``output`` equals SimpleITK's resampling of ``moving`` with ``transform`` inside
    the field of view (``pull``: the RAS map, output point -> input point)."""
    got = np.asanyarray(nibabel.load(output).dataobj)
    expected = _sitk_resample(moving, transform)
    inside = _inside(moving, pull)
    assert inside.sum() > 0.6 * inside.size
    error = np.abs(got - expected)[inside].max() / _data_range(moving)
    assert error <= TOLERANCE, error


@pytest.mark.parametrize("suffix", [".tfm", ".txt", ".mat"])
@pytest.mark.parametrize("transform", [ROTATION, SHEAR], ids=["rotation", "shear"])
def test_itk_affine_matches_simpleitk(tmp_path, moving, suffix, transform):
    sitk.WriteTransform(transform, str(tmp_path / f"a{suffix}"))
    result = _apply(
        tmp_path,
        f"transform: {{file: a{suffix}}}\noutput: {{like: moving.nii}}\n",
        moving,
        tmp_path / "out.nii",
    )
    assert result.exit_code == 0, result.output
    pull = load_affine(tmp_path / f"a{suffix}")
    _assert_as_simpleitk(tmp_path / "out.nii", moving, transform, pull)


def test_the_file_maps_output_points_to_input_points_in_lps(tmp_path):
    """The direction and space convention, pinned on points: the matrix gswarp reads maps an
    output (fixed) RAS point to the input (moving) RAS point that SimpleITK's TransformPoint
    gives for the same point in LPS."""
    sitk.WriteTransform(ROTATION, str(tmp_path / "a.tfm"))
    pull = load_affine(tmp_path / "a.tfm")
    flip = np.diag([-1.0, -1.0, 1.0])  # RAS <-> LPS
    for point in ([5.0, -7.0, 3.0], [-20.0, 11.0, 40.0]):
        lps = np.array(ROTATION.TransformPoint(tuple(flip @ point)))
        ras = pull[:3, :3] @ point + pull[:3, 3]
        np.testing.assert_allclose(ras, flip @ lps, atol=1e-9)


def test_invert_equals_the_inverse_file(tmp_path, moving):
    sitk.WriteTransform(ROTATION, str(tmp_path / "a.tfm"))
    sitk.WriteTransform(ROTATION.GetInverse(), str(tmp_path / "inverse.tfm"))
    result = _apply(
        tmp_path,
        "transform: {file: {path: a.tfm, invert: true}}\noutput: {like: moving.nii}\n",
        moving,
        tmp_path / "out.nii",
    )
    assert result.exit_code == 0, result.output
    pull = load_affine(tmp_path / "inverse.tfm")
    _assert_as_simpleitk(tmp_path / "out.nii", moving, ROTATION.GetInverse(), pull)


def test_a_list_of_files_composes_in_the_images_order(tmp_path, moving):
    """``[file: a, file: b]``: the image goes through a, then b, so b acts first on the output
    points: SimpleITK's CompositeTransform with a added, then b (the last added applies first),
    and ``antsApplyTransforms -t b -t a``."""
    sitk.WriteTransform(ROTATION, str(tmp_path / "a.tfm"))
    sitk.WriteTransform(SHEAR, str(tmp_path / "b.mat"))
    result = _apply(
        tmp_path,
        "transform: [{file: a.tfm}, {file: b.mat}]\noutput: {like: moving.nii}\n",
        moving,
        tmp_path / "out.nii",
    )
    assert result.exit_code == 0, result.output
    composite = sitk.CompositeTransform(3)
    composite.AddTransform(ROTATION)
    composite.AddTransform(SHEAR)
    pull = load_affine(tmp_path / "a.tfm") @ load_affine(tmp_path / "b.mat")
    _assert_as_simpleitk(tmp_path / "out.nii", moving, composite, pull)


def test_nearest_keeps_values_and_matches_except_at_ties(tmp_path, moving):
    labels = (np.asanyarray(nibabel.load(moving).dataobj) // 4000).astype(np.int16)
    path = tmp_path / "labels.nii"
    nibabel.save(nibabel.Nifti1Image(labels, nibabel.load(moving).affine), path)
    sitk.WriteTransform(ROTATION, str(tmp_path / "a.tfm"))
    result = _apply(
        tmp_path,
        "transform: {file: a.tfm}\nsampling: {mode: nearest}\noutput: {like: labels.nii}\n",
        path,
        tmp_path / "out.nii",
    )
    assert result.exit_code == 0, result.output
    got = np.asanyarray(nibabel.load(tmp_path / "out.nii").dataobj)
    expected = _sitk_resample(path, ROTATION, sitk.sitkNearestNeighbor)
    inside = _inside(path, load_affine(tmp_path / "a.tfm"))
    assert set(np.unique(got)) <= set(np.unique(labels))
    assert (got != expected)[inside].mean() < 0.005  # rounding ties only


def _one_error_line(output: str) -> str:
    errors = [line for line in output.splitlines() if line.startswith("gswarp: error:")]
    assert len(errors) == 1 and "Traceback" not in output, output
    return errors[0]


def test_bad_transform_files(tmp_path, moving):
    (tmp_path / "garbage.tfm").write_text("#Insight Transform File V1.0\nnot a transform\n")
    (tmp_path / "flirt.mat").write_text("1 0 0 0\n0 1 0 0\n0 0 1 0\n0 0 0 1\n")
    (tmp_path / "a.xyz").write_text("1 0 0 0\n")
    sitk.WriteTransform(sitk.AffineTransform(2), str(tmp_path / "flat.tfm"))
    (tmp_path / "b.h5").write_bytes(b"\x89HDF\r\n")
    nibabel.save(
        nibabel.Nifti1Image(np.zeros((4, 4, 4), np.float32), np.eye(4)), tmp_path / "s.nii"
    )
    nibabel.save(
        nibabel.Nifti1Image(np.zeros((4, 4, 4, 1, 3), np.float32), np.eye(4)), tmp_path / "w.nii"
    )
    for name, words in (
        ("garbage.tfm", "no 'Transform:' line"),
        ("flirt.mat", "FSL FLIRT matrix is defined on the input and reference images"),
        ("a.xyz", "not a transform file gswarp knows"),
        ("s.nii", "expected a displacement field of 3-vectors, shape (X, Y, Z, 1, 3)"),
        ("{path: w.nii, invert: true}", "cannot be inverted"),
        ("b.h5", "not an ITK HDF5 transform file"),
        ("missing.tfm", "expected an existing file"),
    ):
        result = _apply(tmp_path, f"transform: {{file: {name}}}\n", moving, tmp_path / "out.nii")
        assert result.exit_code == 2, (name, result.output)
        line = _one_error_line(result.output)
        assert "transform[0]" in line or "transform.file" in line, line
        assert words in line, line
    assert not (tmp_path / "out.nii").exists()
    # a 2-D file is good for 2-D images: on this volume it fails the file, in one line
    result = _apply(tmp_path, "transform: {file: flat.tfm}\n", moving, tmp_path / "out.nii")
    assert result.exit_code == 1, result.output
    assert "flat.tfm: a 2-D transform file for a 3-D input" in _one_error_line(result.output)
    assert not (tmp_path / "out.nii").exists()


def test_transform_files_need_world_space_and_a_world_grid(tmp_path, moving):
    sitk.WriteTransform(ROTATION, str(tmp_path / "a.tfm"))
    result = _apply(
        tmp_path, "space: voxel\ntransform: {file: a.tfm}\n", moving, tmp_path / "o.nii"
    )
    assert result.exit_code == 2
    assert "use space: world" in _one_error_line(result.output)
    np.save(tmp_path / "plain.npy", np.zeros((5, 6, 7), np.float32))
    result = _apply(
        tmp_path, "transform: {file: a.tfm}\n", tmp_path / "plain.npy", tmp_path / "o.npy"
    )
    assert result.exit_code != 0
    assert "Traceback" not in result.output


def test_missing_extra_names_it(tmp_path, moving, monkeypatch):
    import builtins

    from gswarp.io import transform_files

    transform_files._load.cache_clear()
    real_import = builtins.__import__

    def no_nitransforms(name, *args, **kwargs):
        if name.startswith("nitransforms"):
            raise ImportError("no nitransforms", name="nitransforms")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_nitransforms)
    # ITK's text and .mat files are read by gswarp itself: no extra needed
    sitk.WriteTransform(ROTATION, str(tmp_path / "fresh.mat"))
    result = _apply(tmp_path, "transform: {file: fresh.mat}\n", moving, tmp_path / "o.nii")
    assert result.exit_code == 0, result.output
    # FreeSurfer's LTA is read through nitransforms
    (tmp_path / "fresh.lta").write_text("type      = 1 # LINEAR_RAS_TO_RAS\nnxforms   = 1\n")
    result = _apply(tmp_path, "transform: {file: fresh.lta}\n", moving, tmp_path / "p.nii")
    assert result.exit_code == 2
    assert "pip install 'gswarp[transforms]'" in _one_error_line(result.output)


def test_command_line_form_equals_the_yaml_spec(tmp_path, moving, monkeypatch):
    """``-r -t -t [FILE,1] -n``: the same bytes as the YAML spec, and ``gswarp explain`` prints
    a spec that gives them too."""
    monkeypatch.chdir(tmp_path)
    sitk.WriteTransform(ROTATION, "a.tfm")
    sitk.WriteTransform(SHEAR, "b.mat")
    runner = CliRunner()
    arguments = ["-r", "moving.nii", "-t", "[b.mat,1]", "-t", "a.tfm", "-n", "NearestNeighbor"]
    result = runner.invoke(cli, ["apply", *arguments, "moving.nii", "-o", "cli.nii"])
    assert result.exit_code == 0, result.output
    Path("spec.yaml").write_text(
        "version: 1\ntransform: [{file: a.tfm}, {file: {path: b.mat, invert: true}}]\n"
        "sampling: {mode: nearest}\noutput: {like: moving.nii}\n"
    )
    result = runner.invoke(cli, ["apply", "spec.yaml", "moving.nii", "-o", "yaml.nii"])
    assert result.exit_code == 0, result.output
    assert Path("cli.nii").read_bytes() == Path("yaml.nii").read_bytes()
    result = runner.invoke(cli, ["explain", *arguments, "moving.nii"])
    assert result.exit_code == 0, result.output
    printed = result.output.split("(save it as a .yaml file):\n", 1)[1].split("\n\n", 1)[0]
    Path("explained.yaml").write_text(printed + "\n")
    result = runner.invoke(cli, ["apply", "explained.yaml", "moving.nii", "-o", "explained.nii"])
    assert result.exit_code == 0, result.output
    assert Path("explained.nii").read_bytes() == Path("cli.nii").read_bytes()


@pytest.mark.parametrize(
    ("arguments", "words"),
    [
        (["-t", "a.tfm", "-n", "Cubic"], "expected one of Linear"),
        (["-t", "[a.tfm,2]"], "expected FILE or [FILE,0|1]"),
    ],
)
def test_command_line_form_usage_errors(tmp_path, moving, monkeypatch, arguments, words):
    monkeypatch.chdir(tmp_path)
    sitk.WriteTransform(ROTATION, "a.tfm")
    (tmp_path / "spec.yaml").write_text("version: 1\n")
    result = CliRunner().invoke(cli, ["apply", *arguments, "moving.nii", "-o", "o.nii"])
    assert result.exit_code == 2
    assert words in result.output
    assert "Traceback" not in result.output


def _displacement_field(moving, path, scale=1.0):
    """A smooth field at half the moving image's resolution over its extent, LPS millimetres,
    written by SimpleITK as ITK and ANTs write theirs (NIfTI vector image)."""
    image = sitk.ReadImage(str(moving))
    size = [n // 2 + 1 for n in image.GetSize()]
    z, y, x = np.meshgrid(*[np.linspace(0, np.pi, n) for n in size[::-1]], indexing="ij")
    vectors = (
        np.stack([2 * np.sin(x) * np.cos(y), -1.5 * np.sin(y + z), np.cos(x * z)], axis=-1) * scale
    )
    field = sitk.GetImageFromArray(vectors, isVector=True)
    field.SetOrigin(image.GetOrigin())
    field.SetSpacing([2 * s for s in image.GetSpacing()])
    field.SetDirection(image.GetDirection())
    sitk.WriteImage(field, str(path))
    return sitk.DisplacementFieldTransform(sitk.ReadImage(str(path), sitk.sitkVectorFloat64))


def _inside_by_points(moving, transform):
    """Output voxels (the moving grid) whose source point, by SimpleITK's transform, lies
    within the input's voxel centres."""
    image = sitk.ReadImage(str(moving))
    size = np.array(image.GetSize())
    inside = np.zeros(image.GetSize(), dtype=bool)  # (i, j, k)
    for index in np.ndindex(*image.GetSize()):
        point = image.TransformIndexToPhysicalPoint(tuple(int(v) for v in index))
        source = image.TransformPhysicalPointToContinuousIndex(transform.TransformPoint(point))
        inside[index] = all(0 <= s <= n - 1 for s, n in zip(source, size, strict=True))
    return inside


def test_displacement_field_and_affine_match_simpleitk(tmp_path, moving, monkeypatch):
    """``-t 1Warp.nii.gz -t 0GenericAffine.mat`` (ANTs' order: the warp acts first on the fixed
    points) against SimpleITK's composite of the same files, and the field alone."""
    monkeypatch.chdir(tmp_path)
    warp = _displacement_field(moving, tmp_path / "1Warp.nii.gz")
    sitk.WriteTransform(_affine(np.eye(3) * 1.02, (1.5, -1, 0.5), (0, 0, 0)), "0GenericAffine.mat")
    affine = sitk.ReadTransform("0GenericAffine.mat")
    composite = sitk.CompositeTransform(3)
    composite.AddTransform(affine)  # the last added acts first on the points: the warp
    composite.AddTransform(warp)
    runner = CliRunner()
    for arguments, transform in (
        (["-t", "1Warp.nii.gz"], warp),
        (["-t", "1Warp.nii.gz", "-t", "0GenericAffine.mat"], composite),
    ):
        result = runner.invoke(
            cli,
            ["apply", "-r", "moving.nii", *arguments, "moving.nii", "-o", "out.nii", "--overwrite"],
        )
        assert result.exit_code == 0, result.output
        got = np.asanyarray(nibabel.load("out.nii").dataobj)
        expected = _sitk_resample(moving, transform)
        inside = _inside_by_points(moving, transform)
        assert inside.mean() > 0.5
        error = np.abs(got - expected)[inside].max() / _data_range(moving)
        assert error <= TOLERANCE, (arguments, error)


def _partial_field(moving, path, shift_voxels=(0, 0, 0)):
    """:func:`_displacement_field`'s field cut to the first half of the moving grid along x
    (and moved by ``shift_voxels`` of its own voxels): a SimpleITK field on a half-resolution
    grid that stops short of the output grid's edge."""
    image = sitk.ReadImage(str(moving))
    full = _displacement_field(moving, path)
    field = sitk.ReadImage(str(path), sitk.sitkVectorFloat64)
    half = field[: field.GetSize()[0] // 2, :, :]
    origin = np.array(half.GetOrigin()) + np.array(half.GetDirection()).reshape(3, 3) @ (
        np.array(shift_voxels) * np.array(half.GetSpacing())
    )
    half.SetOrigin(tuple(origin))
    sitk.WriteImage(half, str(path))
    del full, image
    return sitk.DisplacementFieldTransform(sitk.ReadImage(str(path), sitk.sitkVectorFloat64))


@pytest.mark.parametrize("then_affine", [False, True])
def test_a_field_that_stops_short_of_the_output_follows_itks_rule(
    tmp_path, moving, monkeypatch, then_affine
):
    """Issue 26, item 12: such a field was refused (exit 1) where sitk.Resample and
    antsApplyTransforms apply it: within half a voxel of the field's outer voxel centres its
    edge values continue, further out the displacement is zero. One stderr line counts the
    output points past the field."""
    monkeypatch.chdir(tmp_path)
    warp = _partial_field(moving, tmp_path / "warp.nii.gz", shift_voxels=(0.25, 0, 0))
    arguments, transform = ["-t", "warp.nii.gz"], warp
    if then_affine:  # an affine acts first on the output points, then the field
        sitk.WriteTransform(_affine(np.eye(3) * 1.03, (2.5, -1, 0.5), (0, 0, 0)), "shift.tfm")
        arguments = ["-t", "shift.tfm", "-t", "warp.nii.gz"]  # as antsApplyTransforms reads it
        transform = sitk.CompositeTransform(3)
        transform.AddTransform(warp)
        transform.AddTransform(sitk.ReadTransform("shift.tfm"))  # the last added acts first
    result = CliRunner().invoke(
        cli, ["apply", "-r", "moving.nii", *arguments, "moving.nii", "-o", "o.nii"]
    )
    assert result.exit_code == 0, result.output
    warnings = [line for line in result.output.splitlines() if "past the displacement" in line]
    assert len(warnings) == 1, result.output
    shape = nibabel.load("moving.nii").shape
    counted = int(re.search(r"(\d+) of \d+ output points", warnings[0]).group(1))
    assert 0 < counted < np.prod(shape)
    got = np.asanyarray(nibabel.load("o.nii").dataobj)
    expected = _sitk_resample(moving, transform)
    inside = _inside_by_points(moving, transform)
    error = np.abs(got - expected)[inside].max() / _data_range(moving)
    assert error <= TOLERANCE, error


def test_minus_t_order_is_antsapplytransforms_order(tmp_path, moving, monkeypatch):
    """The same ``-t`` list given to ANTs itself (antspyx, where it is installed: not a test
    extra) resamples the same image: ANTs applies the first listed first to the points."""
    ants = pytest.importorskip("ants", reason="antspyx is not installed (optional oracle)")
    monkeypatch.chdir(tmp_path)
    warp = _displacement_field(moving, tmp_path / "1Warp.nii.gz")
    sitk.WriteTransform(
        _affine([[0.99, -0.1, 0], [0.1, 0.99, 0], [0, 0, 1.02]], (1.5, -1, 0.5), (0, 0, 0)),
        "0GenericAffine.mat",
    )
    transforms = ["-t", "1Warp.nii.gz", "-t", "0GenericAffine.mat"]
    result = CliRunner().invoke(
        cli, ["apply", "-r", "moving.nii", *transforms, "moving.nii", "-o", "out.nii"]
    )
    assert result.exit_code == 0, result.output
    image = ants.image_read("moving.nii")
    expected = ants.apply_transforms(
        image, image, ["1Warp.nii.gz", "0GenericAffine.mat"], "linear"
    ).numpy()
    composite = sitk.CompositeTransform(3)
    composite.AddTransform(sitk.ReadTransform("0GenericAffine.mat"))
    composite.AddTransform(warp)
    inside = _inside_by_points(moving, composite)
    got = np.asanyarray(nibabel.load("out.nii").dataobj)
    assert np.abs(got - expected)[inside].max() / _data_range(moving) <= TOLERANCE


@pytest.mark.parametrize(
    ("fmt", "name"), [("afni", "t.aff12.1D"), ("fs", "t.lta"), ("X5", "t.x5"), ("itk", "t.tfm")]
)
def test_formats_simpleitk_cannot_read_match_nitransforms_mapping(tmp_path, moving, fmt, name):
    """AFNI, FreeSurfer LTA and X5 files (written by nitransforms from one RAS matrix): gswarp
    reads the matrix nitransforms maps points with (LTA stores float32: 6e-8 off)."""
    import nitransforms

    matrix = np.array(
        [[0.98, -0.17, 0.02, 3], [0.17, 0.97, 0.05, -2], [-0.01, -0.05, 1.02, 1.5], [0, 0, 0, 1]]
    )
    reference = nibabel.load(moving)
    transform = nitransforms.linear.Affine(matrix, reference=reference)
    transform.to_filename(str(tmp_path / name), fmt=fmt, moving=reference)
    points = np.array([[5.0, -7.0, 3.0], [-20.0, 11.0, 40.0]])
    read = load_affine(tmp_path / name)
    np.testing.assert_allclose(
        points @ read[:3, :3].T + read[:3, 3], transform.map(points), atol=1e-5
    )
    np.testing.assert_allclose(read, matrix, atol=1e-6)


def test_fsl_flirt_matrix_with_the_reference_grid(tmp_path, monkeypatch):
    """A FLIRT matrix (written by nitransforms for a moving image on another, flipped and
    anisotropic grid) resamples as the ITK file of the same RAS matrix does: FLIRT's scaled
    voxel coordinates come from the -r image and the input's header."""
    import nitransforms

    monkeypatch.chdir(tmp_path)
    rng = np.random.default_rng(0)
    moving_affine = np.array([[-1.5, 0, 0, 20], [0, 1.2, 0, -30], [0, 0, 2, -10], [0, 0, 0, 1]])
    nibabel.save(
        nibabel.Nifti1Image(rng.random((40, 50, 20)).astype(np.float32), moving_affine),
        "moving.nii",
    )
    reference = nibabel.load(data_path / "anatomical.nii")
    nibabel.save(
        nibabel.Nifti1Image(np.zeros(reference.shape, np.float32), reference.affine), "ref.nii"
    )
    matrix = np.array(
        [[0.98, -0.17, 0.02, 3], [0.17, 0.97, 0.05, -2], [-0.01, -0.05, 1.02, 1.5], [0, 0, 0, 1]]
    )
    transform = nitransforms.linear.Affine(matrix, reference=nibabel.load("ref.nii"))
    transform.to_filename("flirt.mat", fmt="fsl", moving=nibabel.load("moving.nii"))
    transform.to_filename("same.tfm", fmt="itk")
    runner = CliRunner()
    for name in ("flirt.mat", "same.tfm"):
        result = runner.invoke(
            cli, ["apply", "-r", "ref.nii", "-t", name, "moving.nii", "-o", f"{name}.nii"]
        )
        assert result.exit_code == 0, result.output
    fsl = np.asanyarray(nibabel.load("flirt.mat.nii").dataobj)
    itk = np.asanyarray(nibabel.load("same.tfm.nii").dataobj)
    assert np.abs(fsl - itk).max() <= TOLERANCE  # data in [0, 1]; FLIRT's text has 8 decimals
    result = runner.invoke(cli, ["apply", "-t", "flirt.mat", "moving.nii", "-o", "o.nii"])
    assert result.exit_code == 2
    assert "give the reference NIfTI as the output grid" in _one_error_line(result.output)


def _inside_reference(reference, moving, transform):
    """Voxels of ``reference`` whose source point lies within ``moving``'s voxel centres."""
    size = np.array(moving.GetSize())
    inside = np.zeros(reference.GetSize(), dtype=bool)
    for index in np.ndindex(*reference.GetSize()):
        point = reference.TransformIndexToPhysicalPoint(tuple(int(v) for v in index))
        source = moving.TransformPhysicalPointToContinuousIndex(transform.TransformPoint(point))
        inside[index] = all(0 <= s <= n - 1 for s, n in zip(source, size, strict=True))
    return inside


@pytest.mark.parametrize(
    ("spec_text", "name"),
    [
        (
            "space: world\ntransform: {affine: {rotate: [5, 10, 20], translate: [3, -2, 1]}}\n"
            "output: {spacing: [1.5, 1.5, 1.5]}\n",
            name,
        )
        for name in ("out.tfm", "out.mat", "out.nii.gz")
    ]
    + [
        (
            "transform: [{affine: {rotate: [0, 0, 10]}},\n"
            "            {elastic: {alpha: 4, sigma: 3, seed: 7}}]\n",
            "out.nii.gz",
        )
    ],
)
def test_export_round_trip_through_simpleitk(tmp_path, moving, monkeypatch, spec_text, name):
    """``gswarp export``: SimpleITK resampling with the exported file onto gswarp's output grid
    gives gswarp's warp (an affine as ITK text and .mat, any map as a displacement field)."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "spec.yaml").write_text("version: 1\n" + spec_text)
    runner = CliRunner()
    result = runner.invoke(cli, ["apply", "spec.yaml", "moving.nii", "-o", "gswarp.nii"])
    assert result.exit_code == 0, result.output
    result = runner.invoke(cli, ["export", "spec.yaml", "moving.nii", "-o", name])
    assert result.exit_code == 0, result.output
    if name.endswith(".nii.gz"):
        field = sitk.ReadImage(name, sitk.sitkVectorFloat64)
        transform = sitk.DisplacementFieldTransform(field)
    else:
        transform = sitk.ReadTransform(name)
    reference, image = sitk.ReadImage("gswarp.nii"), sitk.ReadImage("moving.nii")
    resampled = sitk.Resample(image, reference, transform, sitk.sitkLinear, 0.0, sitk.sitkFloat32)
    expected = sitk.GetArrayFromImage(resampled).transpose(2, 1, 0)
    got = np.asanyarray(nibabel.load("gswarp.nii").dataobj)
    inside = _inside_reference(reference, image, transform)
    assert inside.mean() > 0.5
    assert np.abs(got - expected)[inside].max() / _data_range(moving) <= TOLERANCE


def test_export_errors(tmp_path, moving, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "e.yaml").write_text(
        "version: 1\ntransform: {elastic: {alpha: 4, sigma: 3, seed: 7}}\n"
    )
    runner = CliRunner()
    result = runner.invoke(cli, ["export", "e.yaml", "moving.nii", "-o", "e.tfm"])
    assert result.exit_code == 1
    assert "write it as a displacement field" in _one_error_line(result.output)
    result = runner.invoke(cli, ["export", "e.yaml", "moving.nii", "-o", "e.png"])
    assert result.exit_code == 2 and "expected .tfm, .txt or .mat" in result.output
    np.save("plain.npy", np.zeros((4, 5, 6), np.float32))
    result = runner.invoke(cli, ["export", "e.yaml", "plain.npy", "-o", "e.nii.gz"])
    assert result.exit_code == 1 and "export needs a NIfTI volume" in _one_error_line(result.output)
    (tmp_path / "corrupt.nii").write_text("not a NIfTI file\n")
    for command in (
        ["export", "e.yaml", "corrupt.nii", "-o", "c.nii.gz"],
        ["explain", "e.yaml", "corrupt.nii"],
    ):
        result = runner.invoke(cli, command)
        assert result.exit_code == 1
        assert "not a NIfTI file nibabel can read" in _one_error_line(result.output)
    assert not (tmp_path / "c.nii.gz").exists()
    assert runner.invoke(cli, ["export", "e.yaml", "moving.nii", "-o", "e.nii.gz"]).exit_code == 0
    result = runner.invoke(cli, ["export", "e.yaml", "moving.nii", "-o", "e.nii.gz"])
    assert result.exit_code == 1 and "already exists" in _one_error_line(result.output)


@pytest.mark.parametrize("with_field", [True, False], ids=["affine+field", "two affines"])
def test_itk_hdf5_composite_matches_simpleitk(tmp_path, moving, monkeypatch, with_field):
    """An ITK HDF5 composite (as ``sitk.WriteTransform`` and ``antsRegistration
    --write-composite-transform 1`` write): its transforms act on a point last added first."""
    pytest.importorskip("h5py", reason="h5py (the transforms extra) is missing")
    monkeypatch.chdir(tmp_path)
    composite = sitk.CompositeTransform(3)
    composite.AddTransform(ROTATION)
    if with_field:
        composite.AddTransform(_displacement_field(moving, tmp_path / "w.nii.gz"))
    else:
        composite.AddTransform(SHEAR)
    sitk.WriteTransform(composite, "composite.h5")
    result = CliRunner().invoke(
        cli, ["apply", "-r", "moving.nii", "-t", "composite.h5", "moving.nii", "-o", "out.nii"]
    )
    assert result.exit_code == 0, result.output
    got = np.asanyarray(nibabel.load("out.nii").dataobj)
    expected = _sitk_resample(moving, composite)
    inside = _inside_by_points(moving, composite)
    assert inside.mean() > 0.5
    assert np.abs(got - expected)[inside].max() / _data_range(moving) <= TOLERANCE


def _itk_text(name: str, parameters: str, fixed: str = "0 0 0") -> str:
    return (
        "#Insight Transform File V1.0\n#Transform 0\n"
        f"Transform: {name}\nParameters: {parameters}\nFixedParameters: {fixed}\n"
    )


@pytest.mark.parametrize(
    ("text", "words"),
    [
        (_itk_text("AffineTransform_double_3_3", "1 0 0 0 nan 0 0 0 1 5 0 0"), "not finite"),
        (_itk_text("AffineTransform_double_3_3", "1 0 0 0 1 0 0 0 1 inf 0 0"), "not finite"),
        (
            _itk_text("AffineTransform_double_3_3", "1e308 0 0 0 1e308 0 0 0 1e308 5 0 0", "1 2 3"),
            "not finite",
        ),
        (_itk_text("AffineTransform_double_3_3", "1 0 0 2 0 0 0 0 1 0 0 0"), "singular"),
        (_itk_text("AffineTransform_double_3_3", "1 0 0 0 1e-14 0 0 0 1 0 0 0"), "singular"),
        (
            _itk_text("BSplineTransform_double_3_3", "1 0 0 0 1 0 0 0 1 5 0 0"),
            "BSplineTransform_double_3_3 with 3 fixed parameters (gswarp reads 2-D and 3-D cubic",
        ),
        (_itk_text("TranslationTransform_double_3_3", "nan 0 0"), "not finite"),
    ],
)
def test_transform_files_that_are_not_what_they_say_are_refused(tmp_path, moving, text, words):
    """Issue 26, item 9: NaN parameters gave an all-zero output, a B-spline file with 12
    parameters was applied as an affine (SimpleITK refuses both), and 1e308 printed NumPy's
    RuntimeWarnings; all exit 0."""
    (tmp_path / "t.tfm").write_text(text)
    result = _apply(tmp_path, "transform: {file: t.tfm}\n", moving, tmp_path / "out.nii")
    assert result.exit_code == 2, result.output
    line = _one_error_line(result.output)
    assert words in line, line
    assert "Warning" not in result.output
    assert not (tmp_path / "out.nii").exists()


def _oblique_grid(angle: float) -> tuple[tuple[int, int, int], np.ndarray]:
    """A (D, H, W) = (12, 14, 16) grid of 2 mm voxels tilted ``angle`` radians about x."""
    c, s = np.cos(angle), np.sin(angle)
    affine = np.eye(4)
    affine[:3, :3] = np.array([[1, 0, 0], [0, c, -s], [0, s, c]]) @ np.diag([2.0, 2.0, 2.0])
    affine[:3, 3] = (-15.0, -12.0, -10.0)
    return (12, 14, 16), affine


def test_oblique_afni_matrices_are_read_with_both_images_headers(tmp_path, monkeypatch):
    """Issue 26, item 10: nitransforms' own affine-oblique.afni was read as if the images were
    not oblique (translation (4, 2, -1) where nitransforms, given the images, says
    (3.987, 4.725, 7.944)). AFNI matrices are between the images' cardinal grids."""
    import nitransforms

    from gswarp.io.transform_files import load_afni

    shipped = Path(nitransforms.__file__).parent / "tests" / "data" / "affine-oblique.afni"
    if not shipped.exists():
        pytest.skip("nitransforms' test data are not installed")
    path = tmp_path / "oblique.aff12.1D"  # AFNI's own suffix
    path.write_bytes(shipped.read_bytes())
    size, affine = _oblique_grid(0.09)
    image = nibabel.Nifti1Image(np.zeros(size[::-1], np.float32), affine)
    expected = nitransforms.linear.load(path, fmt="afni", reference=image, moving=image).matrix
    read = load_afni(path, (size, affine), (size, affine))
    np.testing.assert_allclose(read, expected, atol=1e-9)
    plain = load_affine(path)
    assert np.abs(read[:3, 3] - plain[:3, 3]).max() > 1.0  # the obliquity matters here
    # the command line: a warp through the AFNI file equals one through nitransforms' matrix
    rng = np.random.default_rng(3)
    voxels = rng.random(size[::-1]).astype(np.float32)
    nibabel.save(nibabel.Nifti1Image(voxels, affine), tmp_path / "oblique.nii")
    nitransforms.linear.Affine(expected).to_filename(str(tmp_path / "same.tfm"), fmt="itk")
    monkeypatch.chdir(tmp_path)
    outputs = []
    for name in (str(path), "same.tfm"):
        target = tmp_path / f"out_{len(outputs)}.nii"
        result = _apply(tmp_path, f"transform: {{file: {name}}}\n", "oblique.nii", target)
        assert result.exit_code == 0, result.output
        outputs.append(np.asanyarray(nibabel.load(target).dataobj))
    np.testing.assert_allclose(outputs[0], outputs[1], atol=1e-4)


def _near_identity_transforms(rng, center):
    """One transform of each 3-D linear class SimpleITK writes, small enough that most of the
    output reads inside the input."""
    axis = rng.normal(size=3)
    versor = (tuple(axis / np.linalg.norm(axis)), float(rng.uniform(-0.15, 0.15)))
    shift = tuple(rng.uniform(-3, 3, 3))
    scales = tuple(rng.uniform(0.92, 1.08, 3))
    out = {}
    for zyx in (False, True):
        euler = sitk.Euler3DTransform(center, *rng.uniform(-0.12, 0.12, 3), shift)
        euler.SetComputeZYX(zyx)
        out["Euler3DZYX" if zyx else "Euler3D"] = euler
    made = {
        "VersorRigid3D": sitk.VersorRigid3DTransform(),
        "Similarity3D": sitk.Similarity3DTransform(),
        "ScaleVersor3D": sitk.ScaleVersor3DTransform(),
        "ScaleSkewVersor3D": sitk.ScaleSkewVersor3DTransform(),
    }
    for name, transform in made.items():
        transform.SetCenter(center)
        transform.SetRotation(*versor)
        transform.SetTranslation(shift)
        out[name] = transform
    out["Similarity3D"].SetScale(float(rng.uniform(0.92, 1.08)))
    out["ScaleVersor3D"].SetScale(scales)
    out["ScaleSkewVersor3D"].SetScale(scales)
    out["ScaleSkewVersor3D"].SetSkew(tuple(rng.uniform(-0.05, 0.05, 6)))
    versor_only = sitk.VersorTransform(*versor)
    versor_only.SetCenter(center)
    out["Versor"] = versor_only
    scale = sitk.ScaleTransform(3, scales)
    scale.SetCenter(center)
    out["Scale"] = scale
    out["Translation"] = sitk.TranslationTransform(3, shift)
    return out


@pytest.mark.parametrize("suffix", [".tfm", ".mat", ".h5"])
def test_every_linear_itk_class_applies_as_simpleitk_resamples(tmp_path, moving, suffix):
    """Issue 30: each class SimpleITK writes (rigid, similarity, scale, versor, skew kinds; not
    only affine and translation) in each file format, against ``sitk.Resample`` with the file
    as ITK reads it, within 1e-5 of the data range inside the field of view."""
    image = sitk.ReadImage(str(moving))
    center = image.TransformContinuousIndexToPhysicalPoint([(n - 1) / 2 for n in image.GetSize()])
    transforms = _near_identity_transforms(np.random.default_rng(7), center)
    for name, transform in transforms.items():
        path = tmp_path / f"{name}{suffix}"
        sitk.WriteTransform(transform, str(path))
        read = sitk.ReadTransform(str(path))
        out = tmp_path / f"{name}.nii"
        result = _apply(
            tmp_path,
            f"transform: {{file: {path.name}}}\noutput: {{like: moving.nii}}\n",
            moving,
            out,
        )
        assert result.exit_code == 0, (name, result.output)
        got = np.asanyarray(nibabel.load(out).dataobj)
        expected = _sitk_resample(moving, read)
        pull = load_composite(path)[0] if suffix == ".h5" else load_affine(path)
        inside = _inside(moving, pull)  # the field of view (the values compared are SimpleITK's)
        assert inside.sum() > 0.5 * inside.size, name
        error = np.abs(got - expected)[inside].max() / _data_range(moving)
        assert error <= 1e-5, (name, error)


def _far_outside(moving, pull):
    """Output voxels whose source point lies over a voxel outside the input (no neighbour
    inside: the fill alone)."""
    image = nibabel.load(moving)
    shape = np.array(image.shape)
    source = voxel_sources(image.affine, image.shape, pull)
    far = np.any((source < -1) | (source > shape[:, None]), axis=0)
    return far.reshape(image.shape)


def test_antsapplytransforms_flags(tmp_path, moving, monkeypatch):
    """Issue 30: -i, -f, -u, --float, -t identity, -o [OUT,0|1], -d and -e as
    antsApplyTransforms takes them (each an exit-2 line where gswarp does not do it)."""
    monkeypatch.chdir(tmp_path)
    sitk.WriteTransform(ROTATION, "a.tfm")
    runner = CliRunner()

    def run(*arguments):
        return runner.invoke(cli, ["apply", *arguments])

    base = ["-r", "moving.nii", "-t", "a.tfm"]
    assert run(*base, "moving.nii", "-o", "plain.nii").exit_code == 0
    assert run(*base, "-i", "moving.nii", "-o", "[by_i.nii,0]").exit_code == 0
    assert Path("by_i.nii").read_bytes() == Path("plain.nii").read_bytes()
    # -o [OUT,1]: the composition as a displacement field, as gswarp export writes it
    assert run(*base, "-i", "moving.nii", "-o", "[field.nii.gz,1]").exit_code == 0
    exported = runner.invoke(cli, ["export", *base, "moving.nii", "-o", "exported.nii.gz"])
    assert exported.exit_code == 0, exported.output
    field, same = (nibabel.load(p) for p in ("field.nii.gz", "exported.nii.gz"))
    np.testing.assert_array_equal(np.asanyarray(field.dataobj), np.asanyarray(same.dataobj))
    bad = run(*base, "moving.nii", "-o", "[x.nii,2]")
    assert bad.exit_code == 2 and "expected OUT, [OUT,0] or [OUT,1]" in bad.output
    assert not Path("[x.nii,2]").exists() and not Path("x.nii").exists()
    # -u, --float: the output's type; -f: the fill
    int16 = run(*base, "moving.nii", "-o", "short.nii", "-u", "short")
    assert int16.exit_code == 0, int16.output
    assert nibabel.load("short.nii").get_data_dtype() == np.int16
    assert run(*base, "moving.nii", "-o", "f.nii", "--float").exit_code == 0
    assert nibabel.load("f.nii").get_data_dtype() == np.float32
    assert run(*base, "moving.nii", "-o", "d.nii", "-u", "double").exit_code == 0
    assert nibabel.load("d.nii").get_data_dtype() == np.float64
    assert run(*base, "moving.nii", "-o", "filled.nii", "-f", "-7").exit_code == 0
    outside = _far_outside(moving, load_affine("a.tfm"))
    filled = np.asanyarray(nibabel.load("filled.nii").dataobj)
    assert outside.any() and np.all(filled[outside] == -7)
    # -t identity: no transform
    identity = run("-r", "moving.nii", "-t", "identity", "moving.nii", "-o", "same.nii")
    assert identity.exit_code == 0, identity.output
    np.testing.assert_array_equal(
        np.asanyarray(nibabel.load("same.nii").dataobj), np.asanyarray(nibabel.load(moving).dataobj)
    )
    for arguments, words in (
        (["-d", "2"], "a.tfm: a 3-D transform file where 2-D inputs are given (-d 2)"),
        (["-e", "2"], "-e 2: tensor images (reoriented with the transform) are not warped yet"),
        (["--float", "-u", "short"], "--float and -u short disagree"),
        (["-f", "1", "--fill", "2"], "-f and --fill both give the fill"),
    ):
        result = run(*base, "moving.nii", "-o", "never.nii", *arguments)
        assert result.exit_code == 2, (arguments, result.output)
        assert words in result.output and "Traceback" not in result.output
        assert not Path("never.nii").exists()


def test_the_output_takes_the_reference_grids_header_codes(tmp_path, moving, monkeypatch):
    """Issue 30: with -r REF the output's qform/sform codes are REF's (antsApplyTransforms;
    they were the moving image's); without a reference they stay the input's."""
    monkeypatch.chdir(tmp_path)
    image = nibabel.load(moving)
    reference = nibabel.Nifti1Image(np.zeros((20, 22, 18), np.float32), image.affine)
    reference.set_qform(image.affine, code=4)
    reference.set_sform(image.affine, code=4)
    nibabel.save(reference, "mni.nii")
    sitk.WriteTransform(ROTATION, "a.tfm")
    result = CliRunner().invoke(
        cli, ["apply", "-r", "mni.nii", "-t", "a.tfm", "moving.nii", "-o", "out.nii"]
    )
    assert result.exit_code == 0, result.output
    header = nibabel.load("out.nii").header
    assert (int(header["qform_code"]), int(header["sform_code"])) == (4, 4)
    assert nibabel.load("out.nii").shape == (20, 22, 18)
    moving_header = nibabel.load(moving).header
    plain = CliRunner().invoke(cli, ["apply", "-t", "a.tfm", "moving.nii", "-o", "plain.nii"])
    assert plain.exit_code == 0, plain.output
    header = nibabel.load("plain.nii").header
    assert int(header["sform_code"]) == (int(moving_header["sform_code"]) or 1)


def test_a_spec_with_minus_t_composes_files_first(tmp_path, moving, monkeypatch):
    """Issue 30: SPEC together with -t/-r/-n: the files act on the image first (they bring it
    onto the fixed grid), then the spec's transforms; the same bytes as the one spec listing
    them so. A spec in voxel space is one line asking for world space."""
    monkeypatch.chdir(tmp_path)
    sitk.WriteTransform(ROTATION, "a.tfm")
    sitk.WriteTransform(SHEAR, "b.tfm")
    Path("extra.yaml").write_text(
        "version: 1\nspace: world\ntransform: {affine: {rotate: [0, 0, 4], translate: [1, 0, 0]}}\n"
        "output: {dtype: float32}\n"
    )
    Path("whole.yaml").write_text(
        "version: 1\nspace: world\ntransform:\n  - file: b.tfm\n  - file: a.tfm\n"
        "  - affine: {rotate: [0, 0, 4], translate: [1, 0, 0]}\n"
        "sampling: {mode: nearest}\noutput: {like: moving.nii, dtype: float32}\n"
    )
    runner = CliRunner()
    arguments = ["-t", "a.tfm", "-t", "b.tfm", "-r", "moving.nii", "-n", "NearestNeighbor"]
    composed = runner.invoke(cli, ["apply", "extra.yaml", *arguments, "moving.nii", "-o", "c.nii"])
    assert composed.exit_code == 0, composed.output
    whole = runner.invoke(cli, ["apply", "whole.yaml", "moving.nii", "-o", "w.nii"])
    assert whole.exit_code == 0, whole.output
    assert Path("c.nii").read_bytes() == Path("w.nii").read_bytes()
    assert nibabel.load("c.nii").get_data_dtype() == np.float32
    Path("voxel.yaml").write_text("version: 1\ntransform: {affine: {rotate: [0, 0, 4]}}\n")
    refused = runner.invoke(
        cli, ["apply", "voxel.yaml", "-t", "a.tfm", "moving.nii", "-o", "v.nii"]
    )
    assert refused.exit_code == 2 and "write space: world in the spec" in refused.output
    assert not Path("v.nii").exists()


def _bspline(moving, rng, spread=2.0):
    image = sitk.ReadImage(str(moving))
    transform = sitk.BSplineTransformInitializer(image, [4, 5, 3], 3)
    transform.SetParameters(tuple(rng.normal(0, spread, len(transform.GetParameters()))))
    return transform


@pytest.mark.parametrize("suffix", [".tfm", ".h5"])
def test_bspline_transforms_match_simpleitk(tmp_path, moving, monkeypatch, suffix):
    """Issue 30: ITK's cubic B-spline transform (SimpleITK's BSplineTransformInitializer), alone
    and after an affine in a composite, against sitk.Resample within 1e-5 of the range inside
    the field of view; its points are gswarp's own map checked against TransformPoint."""
    from gswarp.engine.filters import transform_displacements
    from gswarp.io.transform_files import load_itk
    from gswarp.transforms import BSplineGrid

    monkeypatch.chdir(tmp_path)
    rng = np.random.default_rng(3)
    spline = _bspline(moving, rng)
    sitk.WriteTransform(spline, f"b{suffix}")
    if suffix == ".tfm":
        (grid,) = load_itk(Path("b.tfm"))
        assert isinstance(grid, BSplineGrid)
        image = sitk.ReadImage(str(moving))
        corners = np.array(image.GetSize()) - 1
        points = np.array(
            [
                image.TransformContinuousIndexToPhysicalPoint(tuple(c))
                for c in rng.uniform(0, 1, (200, 3)) * corners
            ]
        )
        expected = np.array([spline.TransformPoint(tuple(p)) for p in points]) - points
        displaced = transform_displacements(grid, points)
        np.testing.assert_allclose(displaced, expected, atol=1e-9)
    composite = sitk.CompositeTransform([ROTATION, spline])  # the spline acts first on points
    sitk.WriteTransform(composite, f"c{suffix}")
    for name, transform in ((f"b{suffix}", spline), (f"c{suffix}", composite)):
        out = tmp_path / f"{name}.nii"
        spec = f"transform: {{file: {name}}}\noutput: {{like: moving.nii}}\n"
        result = _apply(tmp_path, spec, moving, out)
        assert result.exit_code == 0, (name, result.output)
        got = np.asanyarray(nibabel.load(out).dataobj)
        expected = _sitk_resample(moving, sitk.ReadTransform(name))
        inside = _inside_by_points(moving, transform)
        assert inside.mean() > 0.5, name
        error = np.abs(got - expected)[inside].max() / _data_range(moving)
        assert error <= 1e-5, (name, error)


def test_generic_label_votes_as_simpleitks_label_linear(tmp_path, moving, monkeypatch):
    """Issue 30: ``-n GenericLabel`` (antsApplyTransforms: each label's indicator interpolated
    linearly, the largest kept) against SimpleITK's ``sitkLabelLinear`` on a label map, inside
    the field of view: the same label everywhere but where two labels' values tie within
    rounding; the label set kept (was nearest: 11 % of voxels differed from ITK's votes)."""
    monkeypatch.chdir(tmp_path)
    image = nibabel.load(moving)
    rng = np.random.default_rng(5)
    coarse = rng.integers(0, 4, (5, 6, 4))
    labels = np.array([0, 3, 7, 12], dtype=np.int16)[coarse]
    shape = image.shape
    index = [
        np.minimum((np.arange(n) * c) // n, c - 1) for n, c in zip(shape, coarse.shape, strict=True)
    ]
    volume = labels[np.ix_(*index)]
    nibabel.save(nibabel.Nifti1Image(volume, image.affine), "labels.nii")
    sitk.WriteTransform(ROTATION, "a.tfm")
    arguments = ["-r", "labels.nii", "-t", "a.tfm", "-n", "GenericLabel", "labels.nii"]
    result = CliRunner().invoke(cli, ["apply", *arguments, "-o", "voted.nii"])
    assert result.exit_code == 0, result.output
    got = np.asanyarray(nibabel.load("voted.nii").dataobj)
    assert got.dtype == np.int16 and set(np.unique(got)) <= {0, 3, 7, 12}
    source = sitk.ReadImage("labels.nii")
    expected = sitk.GetArrayFromImage(
        sitk.Resample(source, source, ROTATION, sitk.sitkLabelLinear, 0)
    ).transpose(2, 1, 0)
    inside = _inside(Path("labels.nii"), load_affine("a.tfm"))
    differ = (got != expected) & inside
    assert inside.mean() > 0.6
    assert differ.mean() < 1e-3, differ.mean()  # ties only
    nearest = CliRunner().invoke(
        cli, ["apply", *arguments[:4], "-n", "NearestNeighbor", "labels.nii", "-o", "near.nii"]
    )
    assert nearest.exit_code == 0, nearest.output
    by_nearest = np.asanyarray(nibabel.load("near.nii").dataobj)
    assert ((by_nearest != expected) & inside).mean() > 10 * max(differ.mean(), 1e-5)


def test_ants_verbose_value_is_not_an_input(tmp_path, moving, monkeypatch):
    """antsApplyTransforms' ``-v 1`` / ``-v 0``: the value is not read as an input file."""
    monkeypatch.chdir(tmp_path)
    sitk.WriteTransform(ROTATION, "a.tfm")
    runner = CliRunner()
    loud = runner.invoke(
        cli,
        ["apply", "-v", "1", "-r", "moving.nii", "-t", "a.tfm", "-i", "moving.nii", "-o", "v.nii"],
    )
    assert loud.exit_code == 0, loud.output
    assert "moving.nii -> v.nii" in loud.output  # -v's line per file
    quiet = runner.invoke(
        cli,
        ["apply", "-v", "0", "-r", "moving.nii", "-t", "a.tfm", "-i", "moving.nii", "-o", "q.nii"],
    )
    assert quiet.exit_code == 0, quiet.output
    assert "->" not in quiet.output and "warping on the" not in quiet.output
    assert Path("v.nii").read_bytes() == Path("q.nii").read_bytes()
