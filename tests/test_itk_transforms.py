"""ITK's linear transform classes read by their own definitions (``gswarp.io.itk_transforms``):
each class, random parameters and centres, checked against SimpleITK's ``TransformPoint`` on
random points, and read back from the ``.tfm``, ``.mat`` and ``.h5`` files SimpleITK writes."""

from __future__ import annotations

import numpy as np
import pytest

from gswarp.io.itk_transforms import UnsupportedTransformError, itk_matrix, split_class_name

sitk = pytest.importorskip("SimpleITK", reason="SimpleITK is not installed (the oracle)")


def _versor(rng) -> tuple[tuple[float, float, float], float]:
    axis = rng.normal(size=3)
    return tuple(axis / np.linalg.norm(axis)), float(rng.uniform(-np.pi, np.pi))


def _random_transforms(rng):
    """One SimpleITK transform of every linear class it writes, 3-D and 2-D."""
    c3 = tuple(rng.uniform(-40, 40, 3))
    c2 = tuple(rng.uniform(-40, 40, 2))
    t3 = tuple(rng.uniform(-20, 20, 3))
    t2 = tuple(rng.uniform(-20, 20, 2))
    s3 = tuple(rng.uniform(0.6, 1.5, 3))
    a3 = tuple(rng.uniform(-np.pi, np.pi, 3))
    out = {}
    affine = sitk.AffineTransform(3)
    affine.SetMatrix(tuple((np.eye(3) + rng.normal(0, 0.2, (3, 3))).ravel()))
    affine.SetTranslation(t3)
    affine.SetCenter(c3)
    out["AffineTransform3"] = affine
    affine2 = sitk.AffineTransform(2)
    affine2.SetMatrix(tuple((np.eye(2) + rng.normal(0, 0.2, (2, 2))).ravel()))
    affine2.SetTranslation(t2)
    affine2.SetCenter(c2)
    out["AffineTransform2"] = affine2
    out["TranslationTransform3"] = sitk.TranslationTransform(3, t3)
    out["TranslationTransform2"] = sitk.TranslationTransform(2, t2)
    for zyx in (False, True):
        euler = sitk.Euler3DTransform(c3, *a3, t3)
        euler.SetComputeZYX(zyx)
        out[f"Euler3DTransform{'ZYX' if zyx else ''}"] = euler
    versor = sitk.VersorTransform(*_versor(rng))
    versor.SetCenter(c3)
    out["VersorTransform"] = versor

    def versor_kind(transform, scale=None, skew=None):
        transform.SetCenter(c3)
        transform.SetRotation(*_versor(rng))
        transform.SetTranslation(t3)
        if scale is not None:
            transform.SetScale(scale)
        if skew is not None:
            transform.SetSkew(tuple(rng.uniform(-0.2, 0.2, skew)))
        return transform

    out["VersorRigid3DTransform"] = versor_kind(sitk.VersorRigid3DTransform())
    out["Similarity3DTransform"] = versor_kind(
        sitk.Similarity3DTransform(), float(rng.uniform(0.6, 1.5))
    )
    out["ScaleVersor3DTransform"] = versor_kind(sitk.ScaleVersor3DTransform(), s3)
    out["ScaleSkewVersor3DTransform"] = versor_kind(sitk.ScaleSkewVersor3DTransform(), s3, 6)
    out["ComposeScaleSkewVersor3DTransform"] = versor_kind(
        sitk.ComposeScaleSkewVersor3DTransform(), s3, 3
    )
    scale = sitk.ScaleTransform(3, s3)
    scale.SetCenter(c3)
    out["ScaleTransform3"] = scale
    scale2 = sitk.ScaleTransform(2, s3[:2])
    scale2.SetCenter(c2)
    out["ScaleTransform2"] = scale2
    out["Euler2DTransform"] = sitk.Euler2DTransform(c2, float(a3[0]), t2)
    out["Similarity2DTransform"] = sitk.Similarity2DTransform(
        float(rng.uniform(0.6, 1.5)), float(a3[1]), t2, c2
    )
    return out


@pytest.mark.parametrize("seed", range(6))
def test_every_linear_class_maps_points_as_simpleitk(seed, tmp_path):
    rng = np.random.default_rng(seed)
    for label, transform in _random_transforms(rng).items():
        path = tmp_path / f"{label}.tfm"
        sitk.WriteTransform(transform, str(path))
        text = path.read_text().splitlines()
        name = next(line.split(":", 1)[1].strip() for line in text if line.startswith("Transform:"))
        parameters = np.array(
            next(line for line in text if line.startswith("Parameters:")).split()[1:], float
        )
        fixed_line = next(line for line in text if line.startswith("FixedParameters:"))
        fixed = np.array(fixed_line.split()[1:], float)
        matrix = itk_matrix(name, parameters, fixed)
        k = matrix.shape[0] - 1
        points = rng.uniform(-100, 100, (20, k))
        # the file as ITK reads it: ScaleVersor3D and ScaleSkewVersor3D built in memory by
        # SetRotation/SetScale map points otherwise than the same parameters read back
        try:
            read = sitk.ReadTransform(str(path))
        except KeyError:  # SimpleITK 2.5 cannot downcast a ComposeScaleSkewVersor3D it read
            read = transform
        expected = np.array([read.TransformPoint(tuple(p)) for p in points])
        got = points @ matrix[:k, :k].T + matrix[:k, k]
        np.testing.assert_allclose(got, expected, rtol=0, atol=1e-9, err_msg=label)


def test_class_names_and_refusals():
    assert split_class_name("ScaleSkewVersor3DTransform_double_3_3") == (
        "ScaleSkewVersor3DTransform",
        3,
    )
    not_linear = "BSplineTransform_double_3_3 is not a linear"
    with pytest.raises(UnsupportedTransformError, match=not_linear):
        itk_matrix("BSplineTransform_double_3_3", np.zeros(3), np.zeros(3))
    with pytest.raises(UnsupportedTransformError, match="has 6 parameters, the file gives 5"):
        itk_matrix("Euler3DTransform_double_3_3", np.zeros(5), np.zeros(3))
    with pytest.raises(UnsupportedTransformError, match="not an ITK transform class name"):
        itk_matrix("Euler3D", np.zeros(6), np.zeros(3))
