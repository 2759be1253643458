"""Volumes: .npy, NIfTI and TIFF stacks through the pipeline and `gswarp apply`."""

from __future__ import annotations

import sys

import numpy as np
import pytest
from click.testing import CliRunner

from gswarp.cli.main import cli
from gswarp.errors import BackendError, InputError, SpecError
from gswarp.io.volumes import read_volume, write_volume
from gswarp.plan import resolve
from gswarp.run.warp import warp_pixels, warp_volume_file
from gswarp.spec import parse_spec
from tests.conftest import voxel_sources

nibabel = pytest.importorskip("nibabel", reason="nibabel is not installed (pip install '.[nifti]')")


def spec(text: str):
    return parse_spec("version: 1\n" + text, "v.yaml")


@pytest.fixture
def labels(rng) -> np.ndarray:
    return rng.integers(0, 7, (10, 12, 14)).astype(np.int16)


def save_nifti(path, voxels_zyx: np.ndarray, affine: np.ndarray, **header_values):
    image = nibabel.Nifti1Image(np.swapaxes(voxels_zyx, 0, 2).copy(), affine)
    for key, value in header_values.items():
        image.header[key] = value
    image.header.set_xyzt_units("mm", "sec")
    nibabel.save(image, str(path))


class TestFiles:
    def test_npy_round_trip(self, tmp_path, labels):
        np.save(tmp_path / "v.npy", labels)
        volume = read_volume(tmp_path / "v.npy")
        np.testing.assert_array_equal(volume.voxels, labels)
        write_volume(tmp_path / "w.npy", volume.voxels, volume.meta)
        np.testing.assert_array_equal(np.load(tmp_path / "w.npy"), labels)

    def test_nifti_axes_are_z_y_x(self, tmp_path, labels):
        save_nifti(tmp_path / "v.nii.gz", labels, np.eye(4))
        volume = read_volume(tmp_path / "v.nii.gz")
        np.testing.assert_array_equal(volume.voxels, labels)

    def test_tiff_stack_round_trip(self, tmp_path, labels):
        tifffile = pytest.importorskip("tifffile", reason="tifffile is not installed")
        tifffile.imwrite(tmp_path / "s.tif", labels)
        volume = read_volume(tmp_path / "s.tif")
        np.testing.assert_array_equal(volume.voxels, labels)
        write_volume(tmp_path / "w.tiff", volume.voxels, volume.meta)
        np.testing.assert_array_equal(tifffile.imread(tmp_path / "w.tiff"), labels)

    def test_channels_use_niftis_vector_layout(self, tmp_path, rng):
        voxels = rng.random((3, 4, 5, 2)).astype(np.float32)
        write_volume(tmp_path / "c.nii", voxels, read_volume_meta())
        stored = np.asanyarray(nibabel.load(str(tmp_path / "c.nii")).dataobj)
        assert stored.shape == (5, 4, 3, 1, 2)
        np.testing.assert_array_equal(np.swapaxes(stored[:, :, :, 0, :], 0, 2), voxels)
        np.testing.assert_array_equal(read_volume(tmp_path / "c.nii").voxels, voxels)

    def test_a_volume_is_not_written_under_an_image_suffix(self, tmp_path, labels):
        from gswarp.io.volumes import VolumeMeta

        with pytest.raises(InputError, match=r"v\.png: a volume is written as \.npy"):
            write_volume(tmp_path / "v.png", labels, VolumeMeta("npy"))
        assert not list(tmp_path.iterdir())

    def test_not_a_volume(self, tmp_path):
        np.save(tmp_path / "flat.npy", np.zeros((2, 3, 4, 5, 6)))
        with pytest.raises(InputError) as error:
            read_volume(tmp_path / "flat.npy")
        assert str(error.value) == (
            f"{tmp_path / 'flat.npy'}: expected a volume (D, H, W) or (D, H, W, C) or a 2-D array "
            "(H, W), got shape (2, 3, 4, 5, 6)"
        )

    def test_missing_nibabel_names_the_extra(self, tmp_path, labels, monkeypatch):
        save_nifti(tmp_path / "v.nii", labels, np.eye(4))
        monkeypatch.setitem(sys.modules, "nibabel", None)
        with pytest.raises(BackendError, match=r"pip install 'gswarp\[nifti\]'"):
            read_volume(tmp_path / "v.nii")


class TestNiftiGeometry:
    def test_header_is_kept_and_the_affine_follows_the_output_grid(self, tmp_path, rng):
        values = rng.random((8, 10, 12)) * 300 - 50
        affine = np.array([[1.5, 0, 0, -20], [0, 1.5, 0, 10], [0, 0, 3.0, 5], [0, 0, 0, 1]])
        image = nibabel.Nifti1Image(np.swapaxes(values, 0, 2).copy(), affine)
        image.header.set_data_dtype(np.int16)  # stored as int16 with scl_slope / scl_inter
        image.header["intent_code"] = 1001
        image.header.set_xyzt_units("mm", "sec")
        nibabel.save(image, str(tmp_path / "in.nii.gz"))
        source = nibabel.load(str(tmp_path / "in.nii.gz"))
        half = spec("transform: []\noutput: {size: {scale: 0.5}}\nsampling: {mode: nearest}")
        warp_volume_file(half, tmp_path / "in.nii.gz", tmp_path / "out.nii.gz")
        out = nibabel.load(str(tmp_path / "out.nii.gz"))
        assert out.shape == (6, 5, 4)
        assert out.get_data_dtype() == np.int16
        assert (out.dataobj.slope, out.dataobj.inter) == (
            source.dataobj.slope,
            source.dataobj.inter,
        )
        assert out.header["intent_code"] == 1001
        assert out.header.get_xyzt_units() == ("mm", "sec")
        # voxel (0, 0, 0) of the half-size grid covers input voxels 0..1: centre at 0.5
        expected = affine @ np.array(
            [[2.0, 0, 0, 0.5], [0, 2, 0, 0.5], [0, 0, 2, 0.5], [0, 0, 0, 1]]
        )
        np.testing.assert_allclose(out.affine, expected)
        np.testing.assert_allclose(out.get_qform(), expected, atol=1e-5)
        assert out.header["sform_code"] > 0 and out.header["qform_code"] > 0

    def test_a_dtype_change_of_scaled_values_writes_real_values(self, tmp_path, rng):
        image = nibabel.Nifti1Image(rng.random((4, 5, 6)) * 100 - 30, np.eye(4))
        image.header.set_data_dtype(np.int16)  # stored int16 with scl_slope / scl_inter
        nibabel.save(image, str(tmp_path / "s.nii"))
        source = nibabel.load(str(tmp_path / "s.nii"))
        assert source.dataobj.slope != 1
        warp_volume_file(
            spec("transform: []\noutput: {dtype: float32}"), tmp_path / "s.nii", tmp_path / "o.nii"
        )
        out = nibabel.load(str(tmp_path / "o.nii"))
        assert out.get_data_dtype() == np.float32
        assert (out.dataobj.slope, out.dataobj.inter) == (1.0, 0.0)
        np.testing.assert_allclose(np.asanyarray(out.dataobj), source.get_fdata(), rtol=1e-6)


class TestSampling:
    def test_labels_keep_their_exact_values_with_nearest(self, labels):
        # labels far apart: any blend of two of them (bilinear, a rounding slip) is a new value
        sparse = np.array([0, 10, 200], np.int16)[labels % 3]
        rotated = warp_pixels(
            sparse,
            resolve(
                spec("transform: {affine: {rotate: [10, 20, 30]}}\nsampling: {mode: nearest}"),
                sparse.shape,
            ),
        )
        assert rotated.dtype == np.int16
        assert set(np.unique(rotated)) == {0, 10, 200}

    def test_trilinear_rotation_agrees_with_scipy_map_coordinates(self, rng):
        ndimage = pytest.importorskip("scipy.ndimage", reason="scipy is not installed")
        volume = rng.random((20, 22, 24))
        plan = resolve(
            spec("transform: {affine: {rotate: [12, -7, 25], scale: 1.1}}"), volume.shape
        )
        out = warp_pixels(volume, plan)
        z, y, x = np.mgrid[0:20, 0:22, 0:24].astype(np.float64)
        points = np.stack([x, y, z, np.ones_like(x)])  # (x, y, z, 1)
        where = np.tensordot(plan.sampling_matrix, points, axes=1)  # input (x, y, z)
        expected = ndimage.map_coordinates(volume, where[::-1], order=1, mode="constant")
        inside = np.all(
            (where >= 0) & (where <= np.array([23, 21, 19])[:, None, None, None]), axis=0
        )
        assert inside.sum() > 3000
        np.testing.assert_allclose(out[inside], expected[inside], atol=1e-12)


class TestApply:
    def test_a_folder_of_volumes_and_images(self, tmp_path, labels):
        from tests.test_cli_apply import SAMPLES

        folder = tmp_path / "in"
        folder.mkdir()
        np.save(folder / "a.npy", labels)
        save_nifti(folder / "b.nii.gz", labels, np.eye(4))
        (folder / "c.png").write_bytes((SAMPLES / "gradient.png").read_bytes())
        (tmp_path / "s.yaml").write_text(
            "version: 1\ntransform: {affine: {rotate: 90}}\nsampling: {mode: nearest}\n"
            "output: {size: expand}\n"
        )
        result = CliRunner().invoke(
            cli, ["apply", str(tmp_path / "s.yaml"), str(folder), "-o", str(tmp_path / "out"), "-v"]
        )
        assert result.exit_code == 0, result.stderr
        assert "14x12x10 -> 12x14x10" in result.stderr
        np.testing.assert_array_equal(
            np.load(tmp_path / "out/a.npy"), np.rot90(labels, axes=(1, 2))
        )
        out = nibabel.load(str(tmp_path / "out/b.nii.gz"))
        np.testing.assert_array_equal(
            np.swapaxes(np.asanyarray(out.dataobj), 0, 2), np.rot90(labels, axes=(1, 2))
        )
        assert (tmp_path / "out/c.png").exists()

    def test_a_dtype_change_keeps_the_numbers_of_volumes_and_warns_once(self, tmp_path):
        """CT values (Hounsfield units) stay what they are when the dtype changes; a conversion
        that clips says so on stderr, once for the run."""
        folder = tmp_path / "in"
        folder.mkdir()
        hounsfield = np.tile(np.array([-1000, 0, 40, 1045], np.int16), (3, 4, 1))
        for name in ("a", "b"):
            save_nifti(folder / f"{name}.nii", hounsfield, np.eye(4))
        np.save(folder / "c.npy", hounsfield)
        spec_path = tmp_path / "s.yaml"
        spec_path.write_text("version: 1\ntransform: []\noutput: {dtype: float32}\n")
        result = CliRunner().invoke(
            cli, ["apply", str(spec_path), str(folder), "-o", str(tmp_path / "f")]
        )
        assert result.exit_code == 0, result.stderr
        assert result.stderr == ""  # int16 -> float32 keeps every value: nothing to say
        out = nibabel.load(str(tmp_path / "f/a.nii"))
        np.testing.assert_array_equal(np.swapaxes(np.asanyarray(out.dataobj), 0, 2), hounsfield)
        np.testing.assert_array_equal(np.load(tmp_path / "f/c.npy"), hounsfield)
        spec_path.write_text("version: 1\ntransform: []\noutput: {dtype: uint8}\n")
        result = CliRunner().invoke(
            cli, ["apply", str(spec_path), str(folder), "-o", str(tmp_path / "u"), "--jobs", "1"]
        )
        assert result.exit_code == 0, result.stderr
        warnings = [line for line in result.stderr.splitlines() if "warning" in line]
        assert warnings == [
            f"gswarp: warning: {folder / 'a.nii'}: int16 -> uint8 clipped 24 values to uint8's "
            "range 0..255"
        ]

    def test_a_2d_npy_array_is_warped_as_a_one_channel_image(self, tmp_path):
        array = np.arange(30, dtype=np.float32).reshape(5, 6)  # (H, W)
        np.save(tmp_path / "a.npy", array)
        (tmp_path / "s.yaml").write_text(
            "version: 1\ntransform: {affine: {rotate: 90}}\noutput: {size: expand}\n"
        )
        result = CliRunner().invoke(
            cli,
            ["apply", str(tmp_path / "s.yaml"), str(tmp_path / "a.npy"), "-o", str(tmp_path / "b")],
        )
        assert result.exit_code == 0, result.stderr
        np.testing.assert_array_equal(np.load(tmp_path / "b/a.npy"), np.rot90(array))
        np.save(tmp_path / "line.npy", np.zeros(5))
        line = tmp_path / "line.npy"
        result = CliRunner().invoke(
            cli, ["apply", str(tmp_path / "s.yaml"), str(line), "-o", str(tmp_path / "c")]
        )
        assert result.exit_code == 1
        assert (
            f"{tmp_path / 'line.npy'}: expected a volume (D, H, W) or (D, H, W, C) or a 2-D array "
            "(H, W), got shape (5,)"
        ) in result.stderr

    def test_3d_flow_through_apply(self, tmp_path, rng):
        volume = rng.random((6, 7, 8)).astype(np.float32)
        np.save(tmp_path / "v.npy", volume)
        np.save(tmp_path / "f.npy", np.broadcast_to([0.0, 0.0, 2.0], (6, 7, 8, 3)))
        (tmp_path / "s.yaml").write_text("version: 1\ntransform: {flow: {path: f.npy}}\n")
        result = CliRunner().invoke(
            cli,
            [
                "apply",
                str(tmp_path / "s.yaml"),
                str(tmp_path / "v.npy"),
                "-o",
                str(tmp_path / "o.npy"),
            ],
        )
        assert result.exit_code == 0, result.stderr
        out = np.load(tmp_path / "o.npy")
        np.testing.assert_array_equal(out[:-2], volume[2:])


def read_volume_meta():
    from gswarp.io.volumes import VolumeMeta

    return VolumeMeta("npy")


class TestWorldSpace:
    """space: world, output: {like} and {spacing} (volumes with a NIfTI header)."""

    def test_like_agrees_with_scipy_map_coordinates(self, tmp_path, rng):
        ndimage = pytest.importorskip("scipy.ndimage", reason="scipy is not installed")
        volume = rng.random((12, 14, 16)).astype(np.float32)
        affine = np.array([[1.2, 0.1, 0, -8], [0, 1.1, 0, -7], [0.05, 0, 1.5, -9], [0, 0, 0, 1]])
        save_nifti(tmp_path / "in.nii", volume, affine)
        reference = np.array([[0.9, 0, 0, -6], [0, 0.8, 0.1, -5], [0, 0, 1.3, -8], [0, 0, 0, 1]])
        save_nifti(tmp_path / "ref.nii", np.zeros((10, 11, 13), np.int16), reference)
        (tmp_path / "s.yaml").write_text("version: 1\ntransform: []\noutput: {like: ref.nii}\n")
        from gswarp.spec import load_spec

        warp_volume_file(load_spec(tmp_path / "s.yaml"), tmp_path / "in.nii", tmp_path / "out.nii")
        out = nibabel.load(str(tmp_path / "out.nii"))
        assert out.shape == (13, 11, 10)
        np.testing.assert_allclose(out.affine, reference, atol=1e-6)
        result = np.swapaxes(np.asanyarray(out.dataobj), 0, 2)
        z, y, x = np.mgrid[0:10, 0:11, 0:13].astype(np.float64)
        points = np.stack([x, y, z, np.ones_like(x)])
        where = np.tensordot(np.linalg.inv(affine) @ reference, points, axes=1)[:3]
        expected = ndimage.map_coordinates(volume.astype(np.float64), where[::-1], order=1)
        inside = np.all(
            (where >= 0) & (where <= np.array([15, 13, 11])[:, None, None, None]), axis=0
        )
        assert inside.sum() > 300
        np.testing.assert_allclose(result[inside], expected[inside], atol=2e-6)

    def test_spacing_keeps_the_extent_and_centre(self, tmp_path, rng):
        affine = np.array([[2.0, 0, 0, 10], [0, 2.0, 0, 20], [0, 0, 3.0, 30], [0, 0, 0, 1]])
        save_nifti(tmp_path / "in.nii.gz", rng.random((10, 8, 6)).astype(np.float32), affine)
        warp_volume_file(
            spec("transform: []\noutput: {spacing: [1, 1, 1]}"),
            tmp_path / "in.nii.gz",
            tmp_path / "out.nii.gz",
        )
        out = nibabel.load(str(tmp_path / "out.nii.gz"))
        assert out.shape == (12, 16, 30)
        np.testing.assert_allclose(np.linalg.norm(out.affine[:3, :3], axis=0), [1, 1, 1])
        centre_in = affine @ [2.5, 3.5, 4.5, 1]
        centre_out = out.affine @ [5.5, 7.5, 14.5, 1]
        np.testing.assert_allclose(centre_out, centre_in)

    @pytest.mark.parametrize("flip", [1.0, -1.0])
    def test_world_translation_is_in_millimetres_along_world_axes(self, tmp_path, rng, flip):
        volume = rng.random((4, 5, 12)).astype(np.float32)
        affine = np.diag([2.0 * flip, 1.0, 1.0, 1.0])  # x voxels 2 mm, maybe mirrored (LPS-like)
        save_nifti(tmp_path / "in.nii", volume, affine)
        moved = spec(
            "space: world\ntransform: {affine: {translate: [6, 0, 0]}}\nsampling: {mode: nearest}"
        )
        warp_volume_file(moved, tmp_path / "in.nii", tmp_path / "out.nii")
        out = np.swapaxes(np.asanyarray(nibabel.load(str(tmp_path / "out.nii")).dataobj), 0, 2)
        if flip > 0:  # +6 mm = +3 voxels along x
            np.testing.assert_array_equal(out[..., 3:], volume[..., :-3])
        else:  # the x axis points the other way: -3 voxels
            np.testing.assert_array_equal(out[..., :-3], volume[..., 3:])

    def test_world_rotation_about_the_centre_with_isotropic_voxels(self, tmp_path, rng):
        volume = rng.random((7, 7, 7)).astype(np.float32)
        save_nifti(tmp_path / "in.nii", volume, np.diag([1.5, 1.5, 1.5, 1.0]))
        warp_volume_file(
            spec("space: world\ntransform: {affine: {rotate: [0, 0, 90]}}"),
            tmp_path / "in.nii",
            tmp_path / "out.nii",
        )
        out = np.swapaxes(np.asanyarray(nibabel.load(str(tmp_path / "out.nii")).dataobj), 0, 2)
        # R -> A: with x = R and y = A (voxel rows y run along A here), the content turns the
        # other way from the voxel rule's on-screen counter-clockwise
        np.testing.assert_array_equal(out, np.rot90(volume, -1, axes=(1, 2)))

    @pytest.mark.parametrize(
        ("rotate", "point", "moved"),
        [
            ([0, 0, 90], (6.5, -3.5, 2.0), (3.5, 6.5, 2.0)),  # about S: R -> A (the README's)
            ([90, 0, 0], (1.0, 2.0, 3.0), (1.0, -3.0, 2.0)),  # about R: A -> S
            ([0, 90, 0], (1.0, 2.0, 3.0), (3.0, 2.0, -1.0)),  # about A: S -> R
        ],
    )
    def test_world_rotations_follow_the_right_hand_rule_about_ras_axes(self, rotate, point, moved):
        """+90 about each RAS axis turns the next axis into the one after (R -> A -> S -> R),
        whatever the voxel grid: here voxels are 2 mm, x mirrored, with an oblique shear."""
        affine = np.array([[-2.0, 0.1, 0, 30], [0, 2.0, 0, -20], [0, 0.2, 2.0, -10], [0, 0, 0, 1]])
        text = f"space: world\ntransform: {{affine: {{rotate: {rotate}, center: [0, 0, 0]}}}}"
        plan = resolve(spec(text), (8, 9, 10), affine)
        world_forward = affine @ plan.forward @ np.linalg.inv(affine)
        np.testing.assert_allclose(world_forward @ [*point, 1.0], [*moved, 1.0], atol=1e-12)

    def test_world_geometry_needs_a_header(self, tmp_path, labels):
        np.save(tmp_path / "v.npy", labels)
        with pytest.raises(SpecError, match="space: world needs a volume with a world header"):
            warp_volume_file(
                spec("space: world\ntransform: []"), tmp_path / "v.npy", tmp_path / "o.npy"
            )

    def test_theta_and_flows_have_no_world_form(self):
        with pytest.raises(SpecError, match=r"space: transform\[0\] is a theta"):
            spec(
                "space: world\ntransform: {affine: {theta: [[1, 0, 0, 0], [0, 1, 0, 0], "
                "[0, 0, 1, 0]]}}"
            )


def test_flow_in_world_millimetres(tmp_path, rng):
    volume = rng.random((4, 5, 12)).astype(np.float32)
    save_nifti(tmp_path / "in.nii", volume, np.diag([-2.0, 1.0, 1.0, 1.0]))  # x mirrored, 2 mm
    np.save(tmp_path / "f.npy", np.broadcast_to([4.0, 0.0, 0.0], (4, 5, 12, 3)))
    (tmp_path / "s.yaml").write_text(
        "version: 1\ntransform: {flow: {path: f.npy, units: world}}\nsampling: {mode: nearest}\n"
    )
    from gswarp.spec import load_spec

    warp_volume_file(load_spec(tmp_path / "s.yaml"), tmp_path / "in.nii", tmp_path / "out.nii")
    out = np.swapaxes(np.asanyarray(nibabel.load(str(tmp_path / "out.nii")).dataobj), 0, 2)
    # x_src = x_out + 4 mm = x_out - 2 voxels (the x axis is mirrored)
    np.testing.assert_array_equal(out[..., 2:], volume[..., :-2])


class TestCompressedNifti:
    """``.nii.gz`` outputs: one gzip member per 4 MiB, compressed on several threads."""

    def test_members_decompress_to_the_pieces_for_any_thread_count(self, rng):
        import gzip
        import io

        from gswarp.io.gzipped import write_gzip

        pieces = [rng.integers(0, 4, 3000, dtype=np.uint8).tobytes() for _ in range(7)]
        files = {}
        for threads in (1, 3):
            stream = io.BytesIO()
            write_gzip(stream, iter(pieces), level=6, threads=threads)
            files[threads] = stream.getvalue()
        assert files[1] == files[3]  # the same bytes whatever the thread count
        assert gzip.decompress(files[1]) == b"".join(pieces)
        assert files[1].count(b"\x1f\x8b\x08") >= len(pieces)  # one member per piece

    def test_a_volume_of_several_members_reads_back_exactly(self, tmp_path, rng):
        voxels = rng.random((40, 160, 200)).astype(np.float32)  # 5 MiB: two data members
        save_nifti(tmp_path / "in.nii", voxels, np.diag([0.5, 0.75, 1.25, 1.0]))
        volume = read_volume(tmp_path / "in.nii")
        write_volume(tmp_path / "out.nii.gz", volume.voxels, volume.meta)
        image = nibabel.load(str(tmp_path / "out.nii.gz"))
        np.testing.assert_array_equal(np.swapaxes(np.asarray(image.dataobj), 0, 2), voxels)
        np.testing.assert_array_equal(image.affine, np.diag([0.5, 0.75, 1.25, 1.0]))

    def test_simpleitk_reads_the_members_as_one_stream(self, tmp_path, rng):
        sitk = pytest.importorskip("SimpleITK", reason="SimpleITK is not installed")
        voxels = rng.random((40, 160, 200)).astype(np.float32)
        save_nifti(tmp_path / "in.nii", voxels, np.eye(4))
        volume = read_volume(tmp_path / "in.nii")
        write_volume(tmp_path / "out.nii.gz", volume.voxels, volume.meta)
        read = sitk.GetArrayFromImage(sitk.ReadImage(str(tmp_path / "out.nii.gz")))
        np.testing.assert_array_equal(read, voxels)

    def test_compress_level_sets_the_zlib_level_and_other_formats_say_they_ignore_it(
        self, tmp_path, rng
    ):
        z = np.linspace(0, 1, 24 * 40 * 40, dtype=np.float32).reshape(24, 40, 40)
        save_nifti(tmp_path / "in.nii", np.round(z * 50) / 50, np.eye(4))
        (tmp_path / "s.yaml").write_text("version: 1\ntransform: {affine: {rotate: [0, 0, 5]}}\n")

        def apply(name: str, level: int) -> str:
            arguments = [str(tmp_path / "s.yaml"), str(tmp_path / "in.nii"), "-o"]
            arguments += [str(tmp_path / name), "--compress-level", str(level)]
            result = CliRunner().invoke(cli, ["apply", *arguments])
            assert result.exit_code == 0, result.output
            return result.output

        sizes = {}
        for level in (0, 9):
            assert "ignores" not in apply(f"l{level}.nii.gz", level)
            sizes[level] = (tmp_path / f"l{level}.nii.gz").stat().st_size
        assert sizes[9] < sizes[0] / 2  # level 0 stores, level 9 compresses
        assert ".nii ignores compress_level (PNG and .nii.gz only)" in apply("plain.nii", 1)

    def test_without_isal_and_zlib_ng_python_zlib_reads_and_writes_the_same_volumes(
        self, tmp_path, rng, monkeypatch
    ):
        import gzip
        import zlib

        from gswarp.io import gzipped

        voxels = rng.random((20, 30, 40)).astype(np.float32)
        save_nifti(tmp_path / "in.nii.gz", voxels, np.eye(4))
        fast = read_volume(tmp_path / "in.nii.gz")
        write_volume(tmp_path / "fast.nii.gz", fast.voxels, fast.meta)
        monkeypatch.setattr(gzipped, "_zlib", zlib)
        monkeypatch.setattr(gzipped, "_gzip", gzip)
        monkeypatch.setattr(gzipped, "_isal", None)
        monkeypatch.setattr(gzipped, "_igzip", None)
        plain = read_volume(tmp_path / "fast.nii.gz")
        np.testing.assert_array_equal(plain.voxels, voxels)
        write_volume(tmp_path / "plain.nii.gz", plain.voxels, plain.meta)
        assert gzip.decompress((tmp_path / "plain.nii.gz").read_bytes()) == gzip.decompress(
            (tmp_path / "fast.nii.gz").read_bytes()
        )

    def test_the_default_is_isal_s_fast_level_or_zlib_s_6_if_smaller_a_level_asked_is_zlib_s(
        self, rng
    ):
        isal_zlib = pytest.importorskip("isal.isal_zlib", reason="isal is not installed")
        import gzip
        import io

        from gswarp.io import gzipped

        def zlib_member(piece: bytes) -> bytes:
            packer = gzipped._zlib.compressobj(6, gzipped._zlib.DEFLATED, 31)
            return packer.compress(piece) + packer.flush()

        noisy = rng.random(100_000).astype(np.float32).tobytes()  # ISA-L keeps > half
        labels = np.repeat(np.arange(40, dtype=np.int16) % 7, 5000).tobytes()  # < half
        for piece in (noisy, labels):
            default, asked = io.BytesIO(), io.BytesIO()
            gzipped.write_gzip(default, [piece], threads=1)
            gzipped.write_gzip(asked, [piece], level=6, threads=1)
            assert asked.getvalue() == zlib_member(piece)
            fast = isal_zlib.compress(piece, gzipped.FAST_LEVEL, wbits=31)
            if piece is noisy:
                assert len(fast) > len(piece) * gzipped.REDEFLATE_BELOW
                assert default.getvalue() == fast
            else:
                assert len(fast) < len(piece) * gzipped.REDEFLATE_BELOW
                assert default.getvalue() == min(fast, zlib_member(piece), key=len)
            assert gzip.decompress(default.getvalue()) == piece

    def test_isal_s_reader_reads_members_of_every_writer_as_one_stream(self, tmp_path, rng):
        pytest.importorskip("isal", reason="isal is not installed")
        import gzip
        import zlib

        from gswarp.io.gzipped import open_gzip

        parts = [rng.integers(0, 9, 5000, dtype=np.uint8).tobytes() for _ in range(3)]
        members = [gzip.compress(parts[0]), zlib.compress(parts[1], 9, wbits=31)]
        members.append(gzip.compress(parts[2], 1))
        (tmp_path / "m.gz").write_bytes(b"".join(members))
        with open_gzip(tmp_path / "m.gz") as stream:
            assert type(stream).__module__.startswith("isal")
            assert stream.read() == b"".join(parts)

    @pytest.mark.parametrize("damage", ["not gzip", "truncated"])
    def test_a_damaged_nii_gz_is_one_clear_error(self, tmp_path, rng, damage):
        voxels = rng.random((20, 30, 40)).astype(np.float32)
        save_nifti(tmp_path / "in.nii.gz", voxels, np.eye(4))
        data = (tmp_path / "in.nii.gz").read_bytes()
        bad = b"plain text, not gzip" if damage == "not gzip" else data[: len(data) // 2]
        (tmp_path / "bad.nii.gz").write_bytes(bad)
        expected = r"bad\.nii\.gz: (not a NIfTI file nibabel can read|cannot read: Compressed file)"
        with pytest.raises(InputError, match=expected):
            read_volume(tmp_path / "bad.nii.gz")


class TestFormatsThroughNibabel:
    """Issue 30: FreeSurfer .mgz/.mgh (read and written), MINC and Analyze (read; written as
    NIfTI), each equal to the same volume given as NIfTI; DICOM is one line saying what to do."""

    SPEC = "version: 1\nspace: world\ntransform: {affine: {rotate: [0, 0, 12]}}\n"

    @pytest.fixture
    def volume(self, tmp_path, rng):
        nibabel = pytest.importorskip("nibabel", reason="nibabel is not installed")
        voxels = rng.integers(0, 1000, (12, 10, 8)).astype(np.int16)  # (I, J, K)
        affine = np.array([[1.5, 0.1, 0, -9], [0, 1.2, 0.2, 4], [0.1, 0, 2.0, 7], [0, 0, 0, 1]])
        nibabel.save(nibabel.Nifti1Image(voxels, affine), tmp_path / "v.nii")
        return nibabel, voxels, affine

    def _apply(self, tmp_path, source, output):
        (tmp_path / "s.yaml").write_text(self.SPEC)
        return CliRunner().invoke(
            cli, ["apply", str(tmp_path / "s.yaml"), str(source), "-o", str(output)]
        )

    @pytest.mark.parametrize("suffix", [".mgz", ".mgh", ".hdr", ".img"])
    def test_read_as_the_same_volume_in_nifti(self, tmp_path, volume, suffix):
        nibabel, voxels, affine = volume
        maker = nibabel.MGHImage if suffix in (".mgz", ".mgh") else nibabel.Nifti1Pair
        if suffix in (".hdr", ".img"):
            maker = nibabel.AnalyzeImage if suffix == ".hdr" else nibabel.Nifti1Pair
        image = maker(voxels, affine)
        nibabel.save(image, tmp_path / f"v{suffix}")
        read = read_volume(tmp_path / f"v{suffix}")
        np.testing.assert_array_equal(read.voxels, np.swapaxes(voxels, 0, 2))
        expected_affine = nibabel.load(tmp_path / f"v{suffix}").affine
        np.testing.assert_allclose(read.meta.affine, expected_affine)
        out = tmp_path / ("o.mgz" if suffix == ".mgz" else "o.nii.gz")
        result = self._apply(tmp_path, tmp_path / f"v{suffix}", out)
        assert result.exit_code == 0, result.output
        if suffix in (".mgz", ".mgh"):  # the same geometry as NIfTI: the same voxels
            reference = self._apply(tmp_path, tmp_path / "v.nii", tmp_path / "ref.nii.gz")
            assert reference.exit_code == 0, reference.output
            np.testing.assert_array_equal(
                np.asanyarray(nibabel.load(out).dataobj).astype(np.int16)
                if suffix == ".mgh"
                else np.asanyarray(nibabel.load(out).dataobj),
                np.asanyarray(nibabel.load(tmp_path / "ref.nii.gz").dataobj),
            )
            np.testing.assert_allclose(
                nibabel.load(out).affine, nibabel.load(tmp_path / "ref.nii.gz").affine, atol=1e-5
            )

    def test_a_folder_of_minc_or_analyze_is_written_as_nifti(self, tmp_path, volume):
        nibabel, voxels, affine = volume
        folder = tmp_path / "in"
        folder.mkdir()
        nibabel.save(nibabel.AnalyzeImage(voxels, affine), folder / "a.hdr")
        nibabel.save(nibabel.MGHImage(voxels, affine), folder / "b.mgz")
        result = self._apply(tmp_path, folder, tmp_path / "out")
        assert result.exit_code == 0, result.output
        assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["a.nii.gz", "b.mgz"]

    def test_unwritable_targets_and_dicom_are_one_line(self, tmp_path, volume):
        nibabel, voxels, affine = volume
        result = self._apply(tmp_path, tmp_path / "v.nii", tmp_path / "o.mnc")
        assert result.exit_code == 1 and "a volume is written as .npy, .nii" in result.output
        assert not (tmp_path / "o.mnc").exists()
        nibabel.save(nibabel.Nifti1Image(voxels.astype(np.float64), affine), tmp_path / "d.nii")
        result = self._apply(tmp_path, tmp_path / "d.nii", tmp_path / "d.mgz")
        assert result.exit_code == 1 and "MGH stores uint8, int16, int32, float32" in result.output
        dicom = tmp_path / "slice0001"
        dicom.write_bytes(bytes(128) + b"DICM" + bytes(64))
        result = self._apply(tmp_path, dicom, tmp_path / "o.png")
        assert result.exit_code == 1, result.output
        errors = [line for line in result.output.splitlines() if "error:" in line]
        assert len(errors) == 1 and "a DICOM file" in errors[0] and "dcm2niix" in errors[0]


@pytest.mark.parametrize("name", ["minc1_1_scale.mnc", "minc2_1_scale.mnc", "small.mnc"])
def test_minc_files_read_as_nibabel_reads_them_and_write_as_nifti(tmp_path, name):
    """Issue 30: MINC 1 and 2 (nibabel's own test files; MINC 2 needs h5py) read with their
    scaling and world affine; the output, named .nii.gz, keeps that grid."""
    nibabel = pytest.importorskip("nibabel", reason="nibabel is not installed")
    from nibabel.testing import data_path

    source = data_path / name
    expected = nibabel.load(source)
    if len(expected.shape) != 3:
        pytest.skip(f"{name} is {len(expected.shape)}-D")
    read = read_volume(source)
    np.testing.assert_array_equal(read.voxels, np.swapaxes(np.asanyarray(expected.dataobj), 0, 2))
    np.testing.assert_allclose(read.meta.affine, expected.affine)
    (tmp_path / "s.yaml").write_text("version: 1\ntransform: []\n")
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / name).write_bytes(source.read_bytes())
    result = CliRunner().invoke(
        cli, ["apply", str(tmp_path / "s.yaml"), str(folder), "-o", str(tmp_path / "out")]
    )
    assert result.exit_code == 0, result.output
    written = nibabel.load(tmp_path / "out" / name.replace(".mnc", ".nii.gz"))
    np.testing.assert_allclose(written.affine, expected.affine, atol=1e-5)
    np.testing.assert_array_equal(np.asanyarray(written.dataobj), np.asanyarray(expected.dataobj))


def _within_centres(image, pull):
    """Output voxels (the image's grid) whose source point (``pull``: output RAS -> input RAS)
    lies within the image's voxel centres."""
    shape = np.array(image.shape[:3])
    source = voxel_sources(image.affine, tuple(shape), pull)
    return np.all((source >= 0) & (source <= shape[:, None] - 1), axis=0).reshape(tuple(shape))


def test_a_time_series_stays_4d_and_each_volume_matches_simpleitk(tmp_path):
    """Issue 30: nibabel's example4d.nii.gz (128x96x24x2) with a rigid transform, as
    antsApplyTransforms -e 3: a 4-D output (was 5-D, NIfTI's vector layout) with the input's
    time step, each volume equal to SimpleITK resampling that volume (1e-5 of the range inside
    the field of view)."""
    nibabel = pytest.importorskip("nibabel", reason="nibabel is not installed")
    sitk = pytest.importorskip("SimpleITK", reason="SimpleITK is not installed (the oracle)")
    from nibabel.testing import data_path

    from gswarp.io.transform_files import load_affine

    source = data_path / "example4d.nii.gz"
    (tmp_path / "in.nii.gz").write_bytes(source.read_bytes())
    rigid = sitk.Euler3DTransform((10.0, -20.0, 5.0), 0.05, -0.03, 0.08, (2.0, -1.0, 1.5))
    sitk.WriteTransform(rigid, str(tmp_path / "r.tfm"))
    out = tmp_path / "out.nii.gz"
    arguments = ["-e", "3", "-u", "double", "-t", str(tmp_path / "r.tfm")]
    arguments += ["-r", str(tmp_path / "in.nii.gz"), "-i", str(tmp_path / "in.nii.gz")]
    result = CliRunner().invoke(cli, ["apply", *arguments, "-o", str(out)])
    assert result.exit_code == 0, result.output
    written, original = nibabel.load(out), nibabel.load(source)
    assert written.shape == original.shape == (128, 96, 24, 2)
    assert written.header["pixdim"][4] == original.header["pixdim"][4]
    assert written.header.get_xyzt_units() == original.header.get_xyzt_units()
    got = np.asanyarray(written.dataobj).astype(np.float64)
    series = sitk.ReadImage(str(tmp_path / "in.nii.gz"))
    data_range = float(np.ptp(np.asanyarray(original.dataobj)))
    for t in range(2):
        volume = sitk.Extract(series, [*series.GetSize()[:3], 0], [0, 0, 0, t])
        volume = sitk.Cast(volume, sitk.sitkFloat64)
        expected = sitk.GetArrayFromImage(
            sitk.Resample(volume, volume, rigid, sitk.sitkLinear, 0.0, sitk.sitkFloat64)
        ).transpose(2, 1, 0)
        # within the input's voxel centres (past them ITK continues the edge for half a voxel,
        # gswarp's zeros padding blends in the fill: the comparison stops there)
        inside = _within_centres(original, load_affine(tmp_path / "r.tfm"))
        assert inside.mean() > 0.5
        error = np.abs(got[..., t] - expected)[inside].max() / data_range
        assert error <= 1e-5, (t, error)


def test_read_ahead_is_taken_once_and_only_for_the_same_file(tmp_path):
    """``gswarp apply`` reads its first input while it loads the transform files: the read
    started early gives what a plain read gives, once; a file changed since is read afresh;
    an unreadable file's error is raised by the reader that takes it, in one line."""
    import os

    from gswarp.io import volumes

    path = tmp_path / "v.nii.gz"
    voxels = np.arange(60, dtype=np.float32).reshape(3, 4, 5)
    nibabel.save(nibabel.Nifti1Image(voxels, np.eye(4)), path)
    volumes.read_ahead(path)
    key = volumes._file_key(path)
    early = read_volume(path)
    assert key not in volumes._READ_AHEAD  # taken
    np.testing.assert_array_equal(early.voxels, read_volume(path).voxels)
    volumes.read_ahead(path)
    nibabel.save(nibabel.Nifti1Image(voxels + 1, np.eye(4)), path)
    os.utime(path, ns=(1, 1))  # a new modification time: another file
    assert read_volume(path).voxels[0, 0, 0] == 1.0
    volumes.drop_read_ahead()
    assert not volumes._READ_AHEAD
    broken = tmp_path / "b.nii.gz"
    broken.write_bytes(b"not gzip")
    volumes.read_ahead(broken)
    with pytest.raises(InputError, match=r"b\.nii\.gz"):
        read_volume(broken)
    assert volumes._file_key(broken) not in volumes._READ_AHEAD
