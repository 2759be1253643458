"""2-D transform files (issue 30): every 2-D linear class SimpleITK writes and reads, in
``.tfm`` and ``.mat``, alone, inverted and in a composite, applied to a 2-D image the way
``sitk.Resample`` applies them (ITK's physical space of a plain image is its pixels: spacing
1, origin 0), within 1e-5 of the range inside the field of view; and the classes SimpleITK
reads but does not write (QuaternionRigid, ScaleLogarithmic, Rigid2D, CenteredRigid2D)
against its TransformPoint."""

from __future__ import annotations

import numpy as np
import pytest
from click.testing import CliRunner

from gswarp.cli.main import cli
from gswarp.io.itk_transforms import itk_matrix

sitk = pytest.importorskip("SimpleITK", reason="SimpleITK (the oracle) is not installed")

SHAPE = (30, 40)  # (H, W)


def _transforms(rng):
    """One transform of each 2-D linear class SimpleITK writes, about the image's middle."""
    centre = (19.5 + rng.uniform(-3, 3), 14.5 + rng.uniform(-3, 3))
    shift = tuple(rng.uniform(-3, 3, 2))
    affine = sitk.AffineTransform(2)
    affine.SetMatrix(tuple((np.eye(2) + rng.normal(0, 0.1, (2, 2))).ravel()))
    affine.SetTranslation(shift)
    affine.SetCenter(centre)
    scale = sitk.ScaleTransform(2, tuple(rng.uniform(0.8, 1.2, 2)))
    scale.SetCenter(centre)
    return {
        "affine": affine,
        "translation": sitk.TranslationTransform(2, shift),
        "scale": scale,
        "euler": sitk.Euler2DTransform(centre, float(rng.uniform(-0.4, 0.4)), shift),
        "similarity": sitk.Similarity2DTransform(
            float(rng.uniform(0.8, 1.2)), float(rng.uniform(-0.4, 0.4)), shift, centre
        ),
    }


def _inside(transform) -> np.ndarray:
    """Output pixels whose source point lies within the input's pixel centres."""
    rows, columns = np.mgrid[0 : SHAPE[0], 0 : SHAPE[1]]
    points = np.stack([columns.ravel(), rows.ravel()], axis=1).astype(float)
    source = np.array([transform.TransformPoint(tuple(p)) for p in points])
    inside = np.all((source >= 0) & (source <= np.array(SHAPE[::-1]) - 1), axis=1)
    return inside.reshape(SHAPE)


def _check(tmp_path, arguments, transform, image):
    result = CliRunner().invoke(
        cli,
        [
            "apply",
            "-d",
            "2",
            "-r",
            "in.npy",
            *arguments,
            "-i",
            "in.npy",
            "-o",
            "out.npy",
            "--overwrite",
        ],
    )
    assert result.exit_code == 0, result.output
    got = np.load(tmp_path / "out.npy")
    source = sitk.GetImageFromArray(image)
    expected = sitk.GetArrayFromImage(
        sitk.Resample(source, source, transform, sitk.sitkLinear, 0.0)
    )
    inside = _inside(transform)
    assert inside.mean() > 0.5
    scale = float(image.max() - image.min())
    assert np.abs(got - expected)[inside].max() <= 1e-5 * scale, arguments


@pytest.mark.parametrize("seed", range(2))
def test_2d_transform_files_apply_as_simpleitk(tmp_path, monkeypatch, seed):
    monkeypatch.chdir(tmp_path)
    rng = np.random.default_rng(seed)
    image = rng.random(SHAPE).astype(np.float32) * 100
    np.save("in.npy", image)
    transforms = _transforms(rng)
    for name, transform in transforms.items():
        for suffix in (".tfm", ".mat"):
            sitk.WriteTransform(transform, f"{name}{suffix}")
            _check(tmp_path, ["-t", f"{name}{suffix}"], transform, image)
        _check(tmp_path, ["-t", f"[{name}.tfm,1]"], transform.GetInverse(), image)
    # -t A -t B: A acts first on the output points, then B (the README's order); SimpleITK's
    # CompositeTransform([B, A]) maps p to B(A(p))
    composite = sitk.CompositeTransform([transforms["euler"], transforms["affine"]])
    _check(tmp_path, ["-t", "affine.tfm", "-t", "euler.tfm"], composite, image)
    sitk.WriteTransform(composite, "composite.tfm")
    _check(tmp_path, ["-t", "composite.tfm"], composite, image)


def test_2d_and_3d_files_refuse_the_other_dimension_in_one_line(tmp_path, monkeypatch):
    nibabel = pytest.importorskip("nibabel", reason="nibabel is not installed")
    monkeypatch.chdir(tmp_path)
    np.save("in.npy", np.zeros(SHAPE, np.float32))
    nibabel.save(nibabel.Nifti1Image(np.zeros((5, 6, 7), np.float32), np.eye(4)), "v.nii")
    sitk.WriteTransform(sitk.Euler2DTransform((1.0, 2.0), 0.1), "e2.tfm")
    sitk.WriteTransform(sitk.Euler3DTransform(), "e3.tfm")
    runner = CliRunner()
    flat = runner.invoke(cli, ["apply", "-t", "e2.tfm", "v.nii", "-o", "a.nii"])
    assert flat.exit_code != 0 and "a 2-D transform file for a 3-D input" in flat.output
    deep = runner.invoke(cli, ["apply", "-t", "e3.tfm", "in.npy", "-o", "a.npy"])
    assert deep.exit_code != 0 and "Traceback" not in deep.output
    assert "e3.tfm" in deep.output
    for result in (flat, deep):
        assert len([line for line in result.output.splitlines() if "error" in line]) == 1
    assert not (tmp_path / "a.nii").exists() and not (tmp_path / "a.npy").exists()


def _text(tmp_path, name, parameters, fixed):
    path = tmp_path / f"{name}.tfm"
    path.write_text(
        "#Insight Transform File V1.0\n#Transform 0\n"
        f"Transform: {name}\nParameters: {' '.join(repr(float(v)) for v in parameters)}\n"
        f"FixedParameters: {' '.join(repr(float(v)) for v in fixed)}\n"
    )
    return path


@pytest.mark.parametrize("seed", range(3))
def test_classes_simpleitk_reads_but_does_not_write(tmp_path, seed):
    """QuaternionRigid (its quaternion as stored, not normalized: ITK's vnl matrix),
    ScaleLogarithmic, Rigid2D and CenteredRigid2D map points as SimpleITK's reading of the
    same file."""
    rng = np.random.default_rng(seed)
    cases = {
        "QuaternionRigidTransform_double_3_3": (
            [*(rng.normal(size=4) * 0.7), *rng.uniform(-20, 20, 3)],
            list(rng.uniform(-30, 30, 3)),
        ),
        "ScaleLogarithmicTransform_double_3_3": (
            list(rng.uniform(-0.3, 0.3, 3)),
            list(rng.uniform(-30, 30, 3)),
        ),
        "Rigid2DTransform_double_2_2": (
            [float(rng.uniform(-1, 1)), *rng.uniform(-20, 20, 2)],
            list(rng.uniform(-30, 30, 2)),
        ),
        "CenteredRigid2DTransform_double_2_2": (
            [float(rng.uniform(-1, 1)), *rng.uniform(-30, 30, 2), *rng.uniform(-20, 20, 2)],
            [],
        ),
    }
    for name, (parameters, fixed) in cases.items():
        path = _text(tmp_path, name, parameters, fixed)
        read = sitk.ReadTransform(str(path))
        matrix = itk_matrix(name, np.array(parameters), np.array(fixed))
        k = matrix.shape[0] - 1
        points = rng.uniform(-100, 100, (20, k))
        expected = np.array([read.TransformPoint(tuple(p)) for p in points])
        got = points @ matrix[:k, :k].T + matrix[:k, k]
        np.testing.assert_allclose(got, expected, rtol=0, atol=1e-9, err_msg=name)


def test_2d_bspline_transforms_and_hdf5_files_apply_as_simpleitk(tmp_path, monkeypatch):
    """A 2-D cubic BSplineTransform alone and after an Euler transform in a composite
    (``.tfm``, and ``.h5`` where h5py is installed), and a linear ``.h5``, as sitk.Resample:
    the displacement is evaluated at every output pixel by the compiled core, then read as a
    field."""
    monkeypatch.chdir(tmp_path)
    rng = np.random.default_rng(4)
    image = rng.random(SHAPE).astype(np.float32) * 100
    np.save("in.npy", image)
    spline = sitk.BSplineTransformInitializer(sitk.GetImageFromArray(image), (4, 5), 3)
    spline.SetParameters(rng.normal(0, 1.5, len(spline.GetParameters())).tolist())
    euler = sitk.Euler2DTransform((19.0, 14.0), 0.2, (1.0, -2.0))
    composite = sitk.CompositeTransform([euler, spline])  # the spline acts first on points
    suffixes = [".tfm"]
    try:
        import h5py  # noqa: F401

        suffixes.append(".h5")
    except ImportError:
        pass
    for suffix in suffixes:
        for name, transform in (("spline", spline), ("composite", composite), ("euler", euler)):
            sitk.WriteTransform(transform, f"{name}{suffix}")
            _check(tmp_path, ["-t", f"{name}{suffix}"], transform, image)


def test_ants_2d_workflow_on_a_2d_nifti_with_a_2d_warp(tmp_path, monkeypatch):
    """antsApplyTransforms ``-d 2``'s usual case: a 2-D NIfTI image (spacing, origin and an
    in-plane rotation), a 2-D ITK warp of 2-vectors written by SimpleITK (as ANTs writes them,
    (X, Y, 1, 1, 2)) and a 2-D Euler file, in either order: the image read as one slice, the
    2-D maps lifted onto it, the output written back 2-D, equal to SimpleITK's 2-D resample
    within 1e-5 of the range inside the field of view."""
    nibabel = pytest.importorskip("nibabel", reason="nibabel is not installed")
    monkeypatch.chdir(tmp_path)
    rng = np.random.default_rng(6)
    image = sitk.GetImageFromArray(rng.random(SHAPE).astype(np.float32) * 100)
    image.SetSpacing((1.5, 2.0))
    image.SetOrigin((-10.0, 5.0))
    image.SetDirection((np.cos(0.2), -np.sin(0.2), np.sin(0.2), np.cos(0.2)))
    sitk.WriteImage(image, "img.nii.gz")
    vectors = sitk.GetImageFromArray(rng.normal(0, 1.0, (*SHAPE, 2)), isVector=True)
    vectors.CopyInformation(image)
    sitk.WriteImage(sitk.Cast(vectors, sitk.sitkVectorFloat32), "warp.nii.gz")
    warp = sitk.DisplacementFieldTransform(
        sitk.Cast(sitk.ReadImage("warp.nii.gz"), sitk.sitkVectorFloat64)
    )
    euler = sitk.Euler2DTransform((0.0, 20.0), 0.1, (1.0, -2.0))
    sitk.WriteTransform(euler, "e.tfm")
    scale = float(np.ptp(sitk.GetArrayFromImage(image)))
    for order, transform in (
        (["warp.nii.gz", "e.tfm"], sitk.CompositeTransform([euler, warp])),
        (["e.tfm", "warp.nii.gz"], sitk.CompositeTransform([warp, euler])),
    ):
        files = [argument for name in order for argument in ("-t", name)]
        result = CliRunner().invoke(
            cli,
            ["apply", "-d", "2", "-r", "img.nii.gz", *files, "-i", "img.nii.gz", "-o",
             "out.nii.gz", "--overwrite"],
        )  # fmt: skip
        assert result.exit_code == 0, result.output
        written = nibabel.load("out.nii.gz")
        assert written.shape == (SHAPE[1], SHAPE[0])  # 2-D, as the input
        got = np.asanyarray(written.dataobj).T
        expected = sitk.GetArrayFromImage(
            sitk.Resample(image, image, transform, sitk.sitkLinear, 0.0)
        )
        inside = np.zeros(SHAPE, dtype=bool)
        for row, column in np.ndindex(*SHAPE):
            point = transform.TransformPoint(image.TransformIndexToPhysicalPoint((column, row)))
            index = np.array(image.TransformPhysicalPointToContinuousIndex(point))
            inside[row, column] = np.all(index >= 0) and np.all(index <= np.array(SHAPE[::-1]) - 1)
        assert inside.mean() > 0.8
        assert np.abs(got - expected)[inside].max() <= 1e-5 * scale, order
