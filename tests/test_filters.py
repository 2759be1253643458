"""ITK's interpolators as sampling filters (issue 30): B-splines of order 0-5, the five
windowed sincs, the Gaussian and the label-wise Gaussian vote, each against SimpleITK's
interpolator of the same name on every output point (ITK's edge rules and field of view
included), the spec's and antsApplyTransforms' ``-n`` names, and the kernel's own properties
(the prefilter interpolates, strides and threads do not change the bits)."""

from __future__ import annotations

import numpy as np
import pytest
from click.testing import CliRunner

from gswarp.engine import core
from gswarp.engine.filters import coefficients
from gswarp.engine.tiles import (
    FieldStep,
    MatrixStep,
    chain_coordinates,
    filter_chain,
    sample_chain,
)
from gswarp.errors import SpecError
from gswarp.sampling import Filter
from gswarp.spec import parse_spec

sitk = pytest.importorskip("SimpleITK", reason="SimpleITK (the oracle) is not installed")

ANGLE = 0.3


def _rotation(k: int, center: np.ndarray) -> tuple[np.ndarray, object]:
    """A rotation with a shift about ``center`` (x first): our pixel matrix and SimpleITK's
    transform of the same map (output point -> input point, spacing 1, origin 0)."""
    c, s = np.cos(ANGLE), np.sin(ANGLE)
    linear = np.eye(k)
    linear[:2, :2] = [[c, -s], [s, c]]
    if k == 3:
        linear[2, 0] = 0.05
    shift = np.array([1.3, -0.7, 0.4][:k])
    matrix = np.zeros((k, k + 1))
    matrix[:, :k] = linear
    matrix[:, k] = shift + center - linear @ center
    transform = sitk.AffineTransform(k)
    transform.SetMatrix(linear.ravel().tolist())
    transform.SetTranslation(shift.tolist())
    transform.SetCenter(center.tolist())
    return matrix, transform


def _both(volume, filter, interpolator, labels=False, fill=-5.0):
    """gswarp's and SimpleITK's resampling of ``volume`` onto its own grid by the rotation,
    and the points not within rounding of the field of view's edge (where ITK's continuous
    index, computed through physical points, may round to the other side)."""
    k = volume.ndim
    matrix, transform = _rotation(k, np.array(volume.shape[::-1], float) / 2 - 0.5)
    image = sitk.GetImageFromArray(volume)
    expected = sitk.GetArrayFromImage(sitk.Resample(image, image, transform, interpolator, fill))
    got = filter_chain(
        volume[None, None],
        [MatrixStep(matrix)],
        (1, 1, *volume.shape),
        filter,
        fill=fill,
        labels=labels,
    )[0, 0]
    points = chain_coordinates([MatrixStep(matrix)], volume.shape, 0, volume.shape[0])
    sizes = np.array(volume.shape[::-1], dtype=float)
    edges = np.concatenate([points + 0.5, sizes - 0.5 - points], axis=-1)
    clear = np.all(np.abs(edges) > 1e-9, axis=-1)
    return got, expected, clear


def _assert_close(got, expected, clear, volume):
    scale = float(volume.max() - volume.min())
    assert got.shape == expected.shape
    assert np.array_equal((got == -5.0)[clear], (expected == -5.0)[clear])  # one field of view
    both = (got != -5.0) & (expected != -5.0)
    assert both.mean() > 0.5 and clear.mean() > 0.95
    assert np.abs(got.astype(float) - expected)[both].max() <= 1e-5 * scale


CASES = [(f"sitkBSpline{order}", Filter("bspline", order=order)) for order in range(1, 6)] + [
    ("sitkBSpline", Filter("bspline", order=3)),
    ("sitkLanczosWindowedSinc", Filter("sinc", window="lanczos", radius=5)),
    ("sitkCosineWindowedSinc", Filter("sinc", window="cosine", radius=5)),
    ("sitkWelchWindowedSinc", Filter("sinc", window="welch", radius=5)),
    ("sitkHammingWindowedSinc", Filter("sinc", window="hamming", radius=5)),
    ("sitkBlackmanWindowedSinc", Filter("sinc", window="blackman", radius=5)),
    ("sitkGaussian", Filter("gaussian", sigma=(0.8,), alpha=4.0)),  # SimpleITK's settings
]


@pytest.mark.parametrize("shape", [(14, 17, 19), (23, 29)], ids=["3d", "2d"])
@pytest.mark.parametrize(("name", "filter"), CASES, ids=[name for name, _ in CASES])
def test_filters_match_simpleitks_interpolators(name, filter, shape):
    """Every output point within 1e-5 of the range of sitk.Resample with the interpolator of
    that name (SimpleITK's windowed sincs have radius 5, its Gaussian sigma 0.8 voxel and
    alpha 4), fills included: the same field of view and the same edge rules."""
    if not hasattr(sitk, name):
        pytest.skip(f"this SimpleITK has no {name}")
    volume = np.random.default_rng(1).random(shape).astype(np.float32)
    got, expected, clear = _both(volume, filter, getattr(sitk, name))
    _assert_close(got, expected, clear, volume)


@pytest.mark.parametrize("shape", [(14, 17, 19), (23, 29)], ids=["3d", "2d"])
def test_label_gaussian_vote_matches_simpleitk(shape):
    """``mode: gaussian, labels: true`` (antsApplyTransforms' MultiLabel) is SimpleITK's
    sitkLabelGaussian (sigma one voxel, alpha 1) at every output point; a plain Gaussian's
    labels would not be (most points are between labels)."""
    labels = np.array([0, 3, 7, 12, 40], dtype=np.int16)
    volume = labels[np.random.default_rng(2).integers(0, 5, shape)]
    filter = Filter("gaussian", sigma=(1.0,), alpha=1.0)
    got, expected, clear = _both(volume, filter, sitk.sitkLabelGaussian, labels=True, fill=0)
    assert got.dtype == np.int16 and set(np.unique(got)) <= set(labels.tolist())
    # ITK's window takes whole voxels within alpha sigmas: its edge moves by a voxel where
    # c + 0.5 - 1 is whole, so such points are compared only off that edge's rounding
    matrix, _ = _rotation(len(shape), np.array(shape[::-1], float) / 2 - 0.5)
    points = chain_coordinates([MatrixStep(matrix)], shape, 0, shape[0])
    off_edge = np.all(np.abs(points - 0.5 - np.round(points - 0.5)) > 1e-9, axis=-1)
    steady = clear & off_edge
    assert steady.mean() > 0.9
    assert np.array_equal(got[steady], expected[steady])
    smooth = sample_chain(
        volume[None, None].astype(np.float32),
        [MatrixStep(np.eye(len(shape), len(shape) + 1))],
        (1, 1, *shape),
        "gaussian",
        filter=filter,
    )[0, 0]
    assert not np.isin(smooth, labels).all()


@pytest.mark.parametrize("shape", [(14, 17, 19), (23, 29)], ids=["3d", "2d"])
def test_label_linear_vote_matches_simpleitk(shape):
    """ITK's linear weights voted label by label (``{mode: bilinear, labels: true}``,
    antsApplyTransforms' GenericLabel[Linear]) is SimpleITK's sitkLabelLinear at every output
    point, edges and field of view included (off rounding-edge points)."""
    labels = np.array([0, 3, 7, 12, 40], dtype=np.int16)
    volume = labels[np.random.default_rng(8).integers(0, 5, shape)]
    got, expected, clear = _both(volume, Filter("linear"), sitk.sitkLabelLinear, True, fill=0)
    assert got.dtype == np.int16
    # a point half-way between voxels may tie two labels: ITK's rounding of the coordinate
    # (through physical points) picks the side there
    matrix, _ = _rotation(len(shape), np.array(shape[::-1], float) / 2 - 0.5)
    points = chain_coordinates([MatrixStep(matrix)], shape, 0, shape[0])
    off_half = np.all(np.abs(points - 0.5 - np.round(points - 0.5)) > 1e-9, axis=-1)
    assert (clear & off_half).mean() > 0.9
    assert np.array_equal(got[clear & off_half], expected[clear & off_half])
    assert len(np.unique(got)) == 5


def test_bspline_coefficients_interpolate_the_samples():
    """The prefilter's coefficients give back every sample at the voxel centres (orders 2-5,
    lines of length 1 and 2 included), and order 0/1 are nearest and linear."""
    rng = np.random.default_rng(3)
    for shape in [(9, 1, 12), (2, 7, 5), (13, 11, 10)]:
        volume = rng.random(shape)
        identity = [MatrixStep(np.eye(3, 4))]
        for order in range(6):
            got = sample_chain(
                volume[None, None],
                identity,
                (1, 1, *shape),
                "bspline",
                filter=Filter("bspline", order=order),
            )[0, 0]
            np.testing.assert_allclose(got, volume, atol=1e-9, err_msg=f"{shape} {order}")
    line = np.array([[0.0, 1.0, 4.0, 9.0]])
    half = [MatrixStep(np.array([[1.0, 0.0, 0.5], [0.0, 1.0, 0.0]]))]
    linear = sample_chain(
        line[None, None], half, (1, 1, 1, 4), "bspline", filter=Filter("bspline", order=1)
    )[0, 0, 0]
    assert linear[:3].tolist() == [0.5, 2.5, 6.5]  # the last point is past the extent
    assert linear[3] == 0.0


def test_prefilter_is_the_same_for_every_thread_count_and_matches_a_direct_solve():
    """The B-spline coefficients solve the interpolation system with mirror boundaries: a
    1-D line's coefficients c satisfy (c[i-1] + 4 c[i] + c[i+1]) / 6 = f[i] (cubic)."""
    rng = np.random.default_rng(4)
    line = rng.random((1, 1, 40))
    c = coefficients(line, 3)[0, 0]
    mirrored = np.concatenate([[c[1]], c, [c[-2]]])
    np.testing.assert_allclose(
        (mirrored[:-2] + 4 * mirrored[1:-1] + mirrored[2:]) / 6, line[0, 0], atol=1e-9
    )
    volume = rng.random((1, 2, 21, 18, 33))
    before = core.get_num_threads()
    try:
        core.set_num_threads(1)
        one = coefficients(volume, 5)
        core.set_num_threads(3)
        three = coefficients(volume, 5)
    finally:
        core.set_num_threads(before)
    assert np.array_equal(one, three)


def test_filters_read_strided_inputs_and_write_any_dtype():
    """A channels-last view (strides), several channels and a batch give the bytes of
    contiguous copies; a float input may fill a uint8 output (rounded, clipped); an integer
    input keeps its dtype; NaN points get the fill."""
    rng = np.random.default_rng(5)
    last = rng.random((2, 15, 16, 3)) * 300  # (N, H, W, C)
    view = np.moveaxis(last, -1, 1)
    steps = [MatrixStep(np.array([[0.9, 0.1, 0.5], [-0.1, 0.95, 1.0]]))]
    for kind in ("bspline", "sinc", "gaussian"):
        strided = sample_chain(view, steps, (2, 3, 15, 16), kind)
        contiguous = sample_chain(np.ascontiguousarray(view), steps, (2, 3, 15, 16), kind)
        assert np.array_equal(strided, contiguous), kind
        narrow = np.empty((2, 3, 15, 16), np.uint8)
        sample_chain(view, steps, (2, 3, 15, 16), kind, out=narrow)
        assert np.array_equal(narrow, np.clip(np.rint(strided), 0, 255).astype(np.uint8)), kind
    integers = np.ascontiguousarray(view).astype(np.int16)
    assert sample_chain(integers, steps, (2, 3, 15, 16), "gaussian").dtype == np.int16
    field = np.zeros((15, 16, 2))
    field[3, 4] = np.nan
    holes = sample_chain(view, [FieldStep(field)], (2, 3, 15, 16), "sinc", fill=(-1, -2, -3))
    assert holes[:, :, 3, 4].tolist() == [[-1, -2, -3]] * 2
    assert np.isfinite(holes).all()


def test_border_and_reflection_paddings_clip_or_reflect_the_coordinate():
    """'border' reads a coordinate past the extent at the edge, 'reflection' mirrors it (as
    torch does), so no point is filled; 'zeros' fills beyond half a voxel past the centres."""
    volume = np.random.default_rng(6).random((1, 1, 6, 7))
    shifted = [MatrixStep(np.array([[1.0, 0.0, 3.0], [0.0, 1.0, 0.0]]))]  # x + 3
    at_edge = [MatrixStep(np.array([[0.0, 0.0, 6.0], [0.0, 1.0, 0.0]]))]  # x = 6 (the edge)
    mirrored = [MatrixStep(np.array([[-1.0, 0.0, 9.0], [0.0, 1.0, 0.0]]))]  # 12 - (x + 3)
    for kind in ("bspline", "sinc", "gaussian"):
        zeros = sample_chain(volume, shifted, (1, 1, 6, 7), kind)
        assert (zeros[..., 4:] == 0).all() and (zeros[..., :3] != 0).all()
        border = sample_chain(volume, shifted, (1, 1, 6, 7), kind, "border")
        edge = sample_chain(volume, at_edge, (1, 1, 6, 7), kind)
        np.testing.assert_allclose(border[..., 3:], edge[..., 3:], atol=1e-12)
        reflected = sample_chain(volume, shifted, (1, 1, 6, 7), kind, "reflection", True)
        direct = sample_chain(volume, mirrored, (1, 1, 6, 7), kind, "zeros", True)
        np.testing.assert_allclose(reflected[..., 3:], direct[..., 3:], atol=1e-12)


def test_torch_functions_refuse_itks_interpolators_in_one_line():
    from gswarp import grid_sample

    with pytest.raises(SpecError, match="'bspline' is one of ITK's interpolators"):
        grid_sample(np.zeros((1, 1, 4, 4)), np.zeros((1, 2, 2, 2)), mode="bspline")
    with pytest.raises(SpecError, match="a 'sinc' filter given for mode 'gaussian'"):
        sample_chain(np.zeros((1, 1, 4, 4)), [], (1, 1, 4, 4), "gaussian", filter=Filter("sinc"))


@pytest.mark.parametrize(
    ("sampling", "message"),
    [
        ("{mode: bilinear, order: 3}", "sampling.order: belongs to mode: bspline, not bilinear"),
        ("{mode: bspline, order: 6}", "sampling.order: expected a B-spline order 0 to 5, got 6"),
        ("{mode: sinc, window: kaiser}", "sampling.window: expected one of lanczos, cosine"),
        ("{mode: sinc, radius: 0}", "sampling.radius: expected the sinc's radius in voxels"),
        ("{mode: gaussian, sigma: -1}", "sampling.sigma: expected a positive number"),
        ("{mode: gaussian, alpha: 0}", "sampling.alpha: expected a positive number"),
        ("{mode: bspline, sigma: 1}", "sampling.sigma: belongs to mode: gaussian, not bspline"),
        ("{mode: sinc, antialias: true}", "sampling.antialias: mode sinc is one of ITK's"),
    ],
)
def test_spec_filter_keys_are_checked(sampling, message):
    with pytest.raises(SpecError, match=message.replace("(", r"\(").replace("'", "'")):
        parse_spec(f"version: 1\nsampling: {sampling}\n")


def test_spec_filter_keys_and_defaults():
    """The spec's keys reach the filter; defaults are ANTs': order 3, radius 3, one voxel,
    alpha 1 (4 for a label vote); a world-space sigma is divided by the voxel size."""
    spec = parse_spec("version: 1\nsampling: {mode: gaussian, sigma: [2, 4, 6], alpha: 2}\n")
    assert spec.sampling.filter((2.0, 2.0, 3.0)) == Filter(
        "gaussian", sigma=(1.0, 2.0, 2.0), alpha=2.0
    )
    assert parse_spec("version: 1\nsampling: {mode: gaussian}\n").sampling.filter() == Filter(
        "gaussian", sigma=(1.0,), alpha=1.0
    )
    votes = parse_spec("version: 1\nsampling: {mode: gaussian, labels: true}\n").sampling
    assert votes.filter().alpha == 4.0
    sinc = parse_spec("version: 1\nsampling: {mode: sinc, window: welch}\n").sampling
    assert sinc.filter() == Filter("sinc", window="welch", radius=3)
    assert sinc.normalized()["window"] == "welch" and sinc.normalized()["radius"] == 3
    assert "order" not in parse_spec("version: 1\n").sampling.normalized()


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("BSpline", {"mode": "bspline", "order": 3}),
        ("BSpline[5]", {"mode": "bspline", "order": 5}),
        ("Gaussian", {"mode": "gaussian", "alpha": 1.0}),
        ("Gaussian[1.5x2x3,2]", {"mode": "gaussian", "alpha": 2.0, "sigma": [1.5, 2.0, 3.0]}),
        ("MultiLabel", {"mode": "gaussian", "labels": True, "alpha": 4.0}),
        ("MultiLabel[2]", {"mode": "gaussian", "labels": True, "alpha": 4.0, "sigma": 2.0}),
        ("LanczosWindowedSinc", {"mode": "sinc", "window": "lanczos"}),
        ("hammingwindowedsinc", {"mode": "sinc", "window": "hamming"}),
        ("GenericLabel[Linear]", {"mode": "bilinear", "labels": True}),
    ],
)
def test_ants_interpolation_names(name, expected):
    from gswarp.cli.ants import interpolation_sampling

    assert interpolation_sampling(name) == expected


@pytest.mark.parametrize(
    "name",
    [
        "BSpline[6]",
        "Gaussian[-1]",
        "Gaussian[1,2,3]",
        "Foo",
        "LanczosWindowedSinc[3]",
        "GenericLabel[MultiLabel]",
    ],
)
def test_ants_interpolation_names_refused_in_one_line(tmp_path, name):
    from gswarp.cli.main import cli

    result = CliRunner().invoke(
        cli, ["apply", "-n", name, str(tmp_path / "a.nii"), "-o", str(tmp_path / "b.nii")]
    )
    assert result.exit_code == 2
    assert name in result.output and "Traceback" not in result.output


def test_ants_command_line_interpolators_match_simpleitk(tmp_path, monkeypatch):
    """``gswarp apply -r -t -n NAME`` on an oblique, anisotropic volume against sitk.Resample
    with the same interpolator inside the field of view: BSpline, Gaussian and MultiLabel
    with SimpleITK's settings given in millimetres (sigma per axis, so the voxel sizes
    convert it), and a radius-5 Lanczos sinc from a spec with the transform file."""
    nibabel = pytest.importorskip("nibabel", reason="nibabel is not installed")
    from gswarp.cli.main import cli

    monkeypatch.chdir(tmp_path)
    rng = np.random.default_rng(7)
    voxels = rng.random((18, 15, 12)).astype(np.float32)
    spacing = np.array([1.5, 2.0, 3.0])
    affine = np.eye(4)
    c, s = np.cos(0.2), np.sin(0.2)
    affine[:3, :3] = np.array([[c, -s, 0], [s, c, 0], [0, 0, 1]]) @ np.diag(spacing)
    affine[:3, 3] = [-10, 5, 3]
    nibabel.save(nibabel.Nifti1Image(voxels, affine), "moving.nii")
    labels = np.array([1, 4, 9], dtype=np.int16)[rng.integers(0, 3, voxels.shape)]
    nibabel.save(nibabel.Nifti1Image(labels, affine), "labels.nii")
    transform = sitk.Euler3DTransform((1.0, -2.0, 0.5), 0.05, -0.03, 0.08, (2.0, 1.0, -1.5))
    sitk.WriteTransform(transform, "t.tfm")
    sigma = "x".join(f"{v:g}" for v in 0.8 * spacing)
    ones = "x".join(f"{v:g}" for v in spacing)
    cases = [
        ("moving.nii", ["-n", "BSpline"], sitk.sitkBSpline),
        ("moving.nii", ["-n", f"Gaussian[{sigma},4]"], sitk.sitkGaussian),
        ("labels.nii", ["-n", f"MultiLabel[{ones},1]"], sitk.sitkLabelGaussian),
        ("moving.nii", ["spec.yaml"], sitk.sitkLanczosWindowedSinc),
    ]
    (tmp_path / "spec.yaml").write_text(
        "version: 1\nspace: world\ntransform: {file: t.tfm}\noutput: {like: moving.nii}\n"
        "sampling: {mode: sinc, radius: 5}\n"
    )
    for i, (source, arguments, interpolator) in enumerate(cases):
        command = ["apply", *arguments, source, "-o", f"out{i}.nii"]
        if arguments[0] != "spec.yaml":
            command[1:1] = ["-r", source, "-t", "t.tfm"]
        result = CliRunner().invoke(cli, command)
        assert result.exit_code == 0, result.output
        got = np.asanyarray(nibabel.load(f"out{i}.nii").dataobj)
        image = sitk.ReadImage(source)
        expected = sitk.GetArrayFromImage(
            sitk.Resample(image, image, transform, interpolator, 0)
        ).transpose(2, 1, 0)
        inside = (got != 0) & (expected != 0)
        assert inside.mean() > 0.5, arguments
        if source == "labels.nii":
            assert got.dtype == np.int16
            assert (got != expected)[inside].mean() < 1e-3, arguments
        else:
            scale = float(voxels.max() - voxels.min())
            assert np.abs(got - expected)[inside].max() <= 1e-5 * scale, arguments


def test_chunked_zarr_warps_refuse_itks_interpolators_in_one_line(tmp_path):
    """A B-spline's prefilter spans the whole input: a Zarr output (chunked warps) says so in
    one line for the file (a per-file fault, exit 1, as the run's other refusals) and writes
    nothing."""
    pytest.importorskip("zarr", reason="zarr is not installed")
    from gswarp.cli.main import cli

    np.save(tmp_path / "v.npy", np.zeros((6, 7, 8), np.float32))
    (tmp_path / "spec.yaml").write_text("version: 1\nsampling: {mode: bspline}\n")
    result = CliRunner().invoke(
        cli,
        [
            "apply",
            str(tmp_path / "spec.yaml"),
            str(tmp_path / "v.npy"),
            "-o",
            str(tmp_path / "out.zarr"),
        ],
    )
    assert result.exit_code == 1, result.output
    first, summary = result.output.strip().splitlines()
    assert "v.npy: sampling.mode bspline (one of ITK's interpolators) is not offered" in first
    assert summary == "gswarp: 1 failed, 0 written"
    assert not (tmp_path / "out.zarr").exists()


def test_a_spec_with_n_takes_the_interpolator_and_keeps_its_other_settings(tmp_path):
    """``SPEC -t ... -n MultiLabel[2,3]``: the spec's fill and padding stay, the mode, label
    vote and filter settings come from ``-n``."""
    from gswarp.cli.ants import command_spec
    from gswarp.sampling import Mode, Padding

    spec_path = tmp_path / "s.yaml"
    spec_path.write_text("version: 1\nsampling: {fill: 7, padding: border, mode: bicubic}\n")
    sitk.WriteTransform(sitk.Euler3DTransform(), str(tmp_path / "t.tfm"))
    spec = command_spec(str(spec_path), (str(tmp_path / "t.tfm"),), None, "MultiLabel[2,3]")
    sampling = spec.sampling
    assert (sampling.mode, sampling.labels, sampling.sigma, sampling.alpha) == (
        Mode.GAUSSIAN,
        True,
        (2.0,),
        3.0,
    )
    assert sampling.fill == (7.0,) and sampling.padding == Padding.BORDER


def test_the_antialias_flag_with_an_itk_interpolator_is_one_line(tmp_path):
    from gswarp.cli.main import cli

    np.save(tmp_path / "a.npy", np.zeros((6, 7), np.float32))
    (tmp_path / "s.yaml").write_text("version: 1\nsampling: {mode: sinc}\n")
    arguments = [str(tmp_path / "s.yaml"), str(tmp_path / "a.npy"), "-o", str(tmp_path / "b.npy")]
    result = CliRunner().invoke(cli, ["apply", *arguments, "--antialias"])
    assert result.exit_code == 2 and "Traceback" not in result.output
    assert "mode sinc is one of ITK's interpolators, which point-sample" in result.output
    assert not (tmp_path / "b.npy").exists()
    assert CliRunner().invoke(cli, ["apply", *arguments]).exit_code == 0


def test_a_huge_gaussian_window_is_the_whole_image():
    """sigma x alpha far beyond the image: every voxel in the window, no tap buffer past the
    image's size (the weighted mean of the whole image, with nearly uniform weights)."""
    volume = np.random.default_rng(9).random((1, 1, 8, 9))
    huge = Filter("gaussian", sigma=(9e5,), alpha=9e5)
    got = sample_chain(volume, [MatrixStep(np.eye(2, 3))], (1, 1, 8, 9), "gaussian", filter=huge)
    np.testing.assert_allclose(got, volume.mean(), rtol=1e-6)


def test_an_out_array_that_cannot_be_flattened_is_written_back():
    """``out`` whose points cannot be one flat view (Fortran order) gets the same values, on
    the matrix path and on the tile path."""
    volume = np.random.default_rng(10).random((1, 1, 7, 9))
    for steps in ([MatrixStep(np.array([[0.9, 0.1, 0.3], [0.0, 1.1, -0.2]]))],
                  [FieldStep(np.full((7, 9, 2), 0.25))]):  # fmt: skip
        expected = sample_chain(volume, steps, (1, 1, 7, 9), "sinc")
        out = np.empty((9, 7)).T[None, None]  # (1, 1, 7, 9), Fortran-ordered points
        sample_chain(volume, steps, (1, 1, 7, 9), "sinc", out=out)
        assert np.array_equal(out, expected)


def test_other_byte_orders_float16_and_refused_dtypes():
    """A big-endian input or ``out`` gives the native arrays' values; float16 is read as
    float32 and written back float16; a bool input, or an integer input into another dtype,
    is one error line (DTypeError) before any work."""
    from gswarp.errors import DTypeError

    rng = np.random.default_rng(11)
    native = rng.random((1, 2, 6, 7)).astype(np.float32)
    steps = [MatrixStep(np.array([[0.9, 0.1, 0.3], [0.0, 1.1, -0.2]]))]
    size = (1, 2, 6, 7)
    for kind in ("bspline", "sinc", "gaussian"):
        expected = sample_chain(native, steps, size, kind)
        swapped = sample_chain(native.astype(">f4"), steps, size, kind)
        assert np.array_equal(swapped, expected), kind
        big_out = np.empty(size, dtype=">f4")
        sample_chain(native, steps, size, kind, out=big_out)
        assert np.array_equal(big_out, expected), kind
        half = sample_chain(native.astype(np.float16), steps, size, kind)
        from_half = sample_chain(native.astype(np.float16).astype(np.float32), steps, size, kind)
        assert half.dtype == np.float16 and np.array_equal(half, from_half.astype(np.float16))
    with pytest.raises(DTypeError, match="a bool array is not interpolated"):
        sample_chain(native > 0.5, steps, size, "sinc")
    with pytest.raises(DTypeError, match="an integer input's filter writes its own dtype"):
        sample_chain((native * 9).astype(np.int16), steps, size, "sinc", out=np.empty(size))
