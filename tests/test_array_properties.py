"""Every public sampling function and every reader gives the result of a native, C-contiguous
copy of its arrays, whatever their byte order, alignment, strides or writeability (issue 26,
item 4: a big-endian volume came out as garbage that changed from run to run).

The oracle is the same call on ``np.ascontiguousarray`` copies in native byte order: the
results must be equal bit for bit, and native themselves. ``out`` may have any of these
properties too; an ``out`` that shares memory with an input is refused with one line.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from gswarp import autodiff
from gswarp.engine.api import affine_grid, affine_sample, grid_sample, sample_pixels, warp_affine
from gswarp.engine.tiles import warp_flow
from gswarp.errors import SpecError


def big_endian(a: np.ndarray) -> np.ndarray:
    return a.astype(a.dtype.newbyteorder(">" if a.dtype.isnative else "<"))


def unaligned(a: np.ndarray) -> np.ndarray:
    buffer = np.zeros(a.nbytes + 1, np.uint8)
    view = np.frombuffer(buffer.data, dtype=a.dtype, count=a.size, offset=1).reshape(a.shape)
    view[...] = a
    return view


def read_only(a: np.ndarray) -> np.ndarray:
    copy = a.copy()
    copy.flags.writeable = False
    return copy


def reversed_strides(a: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(a[..., ::-1])[..., ::-1]


def zero_strides(a: np.ndarray) -> np.ndarray:
    """Stride 0 on the first axis, as ``np.broadcast_to`` gives it (its first row repeated)."""
    return np.broadcast_to(a[:1], a.shape)


def native_copy(a: np.ndarray) -> np.ndarray:
    """The oracle's form of an array: native byte order, C order, aligned, its own memory."""
    return np.array(a, dtype=a.dtype.newbyteorder("="), order="C", copy=True)


PROPERTIES = {
    "big-endian": big_endian,
    "unaligned": unaligned,
    "read-only": read_only,
    "fortran": np.asfortranarray,
    "negative strides": reversed_strides,
    "zero strides": zero_strides,
}


def make_case(rng, dtype: str, k: int) -> dict[str, np.ndarray]:
    spatial = (7, 8) if k == 2 else (5, 6, 7)
    float_dtype = "f8" if dtype == "f8" else "f4"
    theta = np.concatenate([np.eye(k) + rng.random((k, k)) * 0.2, rng.random((k, 1)) * 0.1], 1)
    matrix = np.concatenate([np.eye(k) + rng.random((k, k)) * 0.2, rng.random((k, 1))], 1)
    return {
        "input": (rng.random((1, 2, *spatial)) * 100).astype(dtype),
        "grid": (rng.random((1, *spatial, k)) * 2.4 - 1.2).astype(float_dtype),
        "theta": theta[None],
        "matrix": matrix[None],
        "flow": rng.random((*spatial, k)) * 2 - 1,
        "coords": rng.random((1, *spatial, k)) * 6,
        "grad": rng.random((1, 2, *spatial)).astype(float_dtype),
    }


FORWARD = {
    "grid_sample": (("input", "grid"), lambda c, m: grid_sample(*c, m, "reflection")),
    "affine_sample": (("input", "theta"), lambda c, m: affine_sample(*c, c[0].shape, m)),
    "warp_affine": (("input", "matrix"), lambda c, m: warp_affine(*c, c[0].shape, m, "border")),
    "warp_flow": (("input", "flow"), lambda c, m: warp_flow(*c, None, m)),
    "sample_pixels": (("input", "coords"), lambda c, m: sample_pixels(*c, m)),
}

BACKWARD = {
    "grid_sample_backward": ("grid", autodiff.grid_sample_backward),
    "affine_sample_backward": ("theta", autodiff.affine_sample_backward),
    "warp_affine_backward": ("matrix", autodiff.warp_affine_backward),
    "warp_flow_backward": ("flow", autodiff.warp_flow_backward),
}


def assert_same(expected, got) -> None:
    expected = expected if isinstance(expected, tuple) else (expected,)
    got = got if isinstance(got, tuple) else (got,)
    for e, g in zip(expected, got, strict=True):
        if e is None:
            assert g is None
            continue
        assert g.dtype.isnative
        assert g.dtype == e.dtype
        np.testing.assert_array_equal(g, e)


@pytest.mark.parametrize("prop", list(PROPERTIES))
@pytest.mark.parametrize("k", [2, 3])
@pytest.mark.parametrize(
    ("function", "dtype", "mode"),
    [
        ("grid_sample", "f4", "bilinear"),
        ("grid_sample", "u1", "nearest"),
        ("affine_sample", "i2", "bilinear"),
        ("affine_sample", "f8", "bicubic"),
        ("warp_affine", "f4", "bilinear"),
        ("warp_flow", "f4", "bilinear"),
        ("sample_pixels", "f4", "bilinear"),
    ],
)
def test_forward_functions_read_any_array_as_its_native_copy(rng, function, dtype, mode, k, prop):
    arguments, call = FORWARD[function]
    case = make_case(rng, dtype, k)
    native = [native_copy(case[name]) for name in arguments]
    for position in range(len(arguments)):
        changed = list(native)
        changed[position] = PROPERTIES[prop](native[position])
        expected = call([native_copy(a) for a in changed], mode)
        assert_same(expected, call(changed, mode))


@pytest.mark.parametrize("prop", list(PROPERTIES))
@pytest.mark.parametrize("function", list(BACKWARD))
def test_backward_functions_read_any_array_as_its_native_copy(rng, function, prop):
    source, call = BACKWARD[function]
    case = make_case(rng, "f4", 2)
    native = [native_copy(case[name]) for name in ("grad", "input", source)]
    for position in range(3):
        changed = list(native)
        changed[position] = PROPERTIES[prop](native[position])
        expected = call(*[native_copy(a) for a in changed])
        assert_same(expected, call(*changed))


@pytest.mark.parametrize("prop", ["big-endian", "fortran"])
def test_affine_grid_and_its_backward_read_any_array(rng, prop):
    case = make_case(rng, "f4", 3)
    size = case["input"].shape
    assert_same(
        affine_grid(case["theta"], size), affine_grid(PROPERTIES[prop](case["theta"]), size)
    )
    grad = np.ascontiguousarray(case["grid"])
    expected = autodiff.affine_grid_backward(grad, size)
    assert_same(expected, autodiff.affine_grid_backward(PROPERTIES[prop](grad), size))


@pytest.mark.parametrize("prop", ["big-endian", "unaligned", "fortran", "negative strides"])
@pytest.mark.parametrize(
    ("dtype", "mode"), [("i2", "bilinear"), ("f4", "nearest"), ("f8", "bicubic")]
)
def test_out_of_any_layout_receives_the_result(rng, dtype, mode, prop):
    """The reported failure: an ``out`` in the input file's byte order was handed to the kernel,
    which wrote a native copy of it instead; ``out`` kept whatever memory held."""
    case = make_case(rng, dtype, 3)
    x, theta = case["input"], case["theta"]
    expected = affine_sample(x, theta, x.shape, mode)
    out = PROPERTIES[prop](np.full_like(x, 7))
    returned = affine_sample(PROPERTIES[prop](x), theta, x.shape, mode, out=out)
    assert returned is out
    np.testing.assert_array_equal(out, expected)


def test_out_sharing_memory_with_an_input_is_refused(rng):
    case = make_case(rng, "f4", 2)
    x = case["input"]
    with pytest.raises(SpecError, match="out: must not share memory with input"):
        affine_sample(x, case["theta"], x.shape, out=x)
    grid = np.zeros((1, 4, 4, 2), np.float32)
    image = np.zeros((1, 2, 4, 4), np.float32)
    overlapping = grid.reshape(1, 2, 4, 4)  # the same bytes as the grid
    with pytest.raises(SpecError, match="out: must not share memory with the source"):
        grid_sample(image, grid, out=overlapping)
    with pytest.raises(SpecError, match="out: expected a writeable array"):
        affine_sample(x, case["theta"], x.shape, out=read_only(np.zeros_like(x)))


# --------------------------------------------------------------------------------------------
# readers and the command line


ROTATE = "version: 1\ntransform:\n  - affine: {rotate: [20, 0, 0]}\n"
IDENTITY = "version: 1\ntransform: []\n"


def apply(tmp_path: Path, spec_text: str, *inputs: str, output: str, nearest: bool = False):
    from gswarp.cli.main import cli

    spec = tmp_path / "spec.yaml"
    spec.write_text(spec_text + ("sampling: {mode: nearest}\n" if nearest else ""))
    result = CliRunner().invoke(cli, ["apply", str(spec), *inputs, "-o", output])
    assert result.exit_code == 0, result.output
    return result


@pytest.mark.parametrize(("dtype", "nearest"), [(">i2", False), (">i4", True), (">f8", False)])
def test_big_endian_npy_volumes_warp_as_their_native_copies(tmp_path, rng, dtype, nearest):
    values = (rng.random((9, 10, 11)) * 3000).astype(dtype)
    if nearest:  # a label map: nearest must write only labels that exist
        values = (rng.integers(0, 5, values.shape) * 7).astype(dtype)
    np.save(tmp_path / "big.npy", values)
    np.save(tmp_path / "native.npy", values.astype(values.dtype.newbyteorder("=")))
    for name in ("big", "native"):
        apply(
            tmp_path,
            ROTATE,
            str(tmp_path / f"{name}.npy"),
            output=str(tmp_path / name),
            nearest=nearest,
        )
    big = np.load(tmp_path / "big" / "big.npy")
    native = np.load(tmp_path / "native" / "native.npy")
    np.testing.assert_array_equal(big, native)
    if nearest:
        assert set(np.unique(big)) <= set(np.unique(values)) | {0}


def test_a_big_endian_scaled_nifti_keeps_its_values(tmp_path):
    """nibabel's own ``anatomical.nii`` is big-endian with scaled values (-610..30393)."""
    nibabel = pytest.importorskip("nibabel")
    source = Path(nibabel.__file__).parent / "tests" / "data" / "anatomical.nii"
    if not source.exists():
        pytest.skip("nibabel's test data are not installed")
    apply(tmp_path, IDENTITY, str(source), output=str(tmp_path / "out"))
    written = nibabel.load(tmp_path / "out" / "anatomical.nii").get_fdata()
    np.testing.assert_array_equal(written, nibabel.load(source).get_fdata())


def test_a_big_endian_nifti_rotates_as_its_native_copy(tmp_path, rng):
    nibabel = pytest.importorskip("nibabel")
    values = (rng.random((8, 9, 10)) * 1000).astype(np.int16)
    for name, dtype in (("big", ">i2"), ("native", "<i2")):
        image = nibabel.Nifti1Image(values.astype(dtype), np.eye(4))
        image.header.set_data_dtype(dtype)
        if dtype == ">i2":
            image = nibabel.Nifti1Image(
                values.astype(dtype), np.eye(4), header=image.header.as_byteswapped(">")
            )
        nibabel.save(image, tmp_path / f"{name}.nii")
    assert nibabel.load(tmp_path / "big.nii").header.endianness == ">"
    for name in ("big", "native"):
        apply(tmp_path, ROTATE, str(tmp_path / f"{name}.nii"), output=str(tmp_path / name))
    big = np.asanyarray(nibabel.load(tmp_path / "big" / "big.nii").dataobj)
    native = np.asanyarray(nibabel.load(tmp_path / "native" / "native.nii").dataobj)
    np.testing.assert_array_equal(big, native)


def test_a_big_endian_tiff_stack_reads_as_native(tmp_path, rng):
    tifffile = pytest.importorskip("tifffile")
    from gswarp.io.volumes import read_volume

    values = (rng.random((4, 5, 6)) * 1000).astype(np.uint16)
    tifffile.imwrite(tmp_path / "big.tif", values, byteorder=">", photometric="minisblack")
    read = read_volume(tmp_path / "big.tif").voxels
    assert read.dtype.isnative
    np.testing.assert_array_equal(read, values)


def test_a_big_endian_flow_field_is_read_by_value(tmp_path, rng):
    image = (rng.random((12, 13)) * 255).astype(np.uint8)
    from PIL import Image

    Image.fromarray(image).save(tmp_path / "in.png")
    flow = rng.random((12, 13, 2)) * 4 - 2
    outputs = []
    for name, dtype in (("big", ">f4"), ("native", "<f4")):
        np.save(tmp_path / f"{name}_flow.npy", flow.astype(dtype))
        spec = f"version: 1\ntransform:\n  - flow: {{path: {tmp_path / f'{name}_flow.npy'}}}\n"
        apply(tmp_path, spec, str(tmp_path / "in.png"), output=str(tmp_path / name))
        outputs.append(np.asarray(Image.open(tmp_path / name / "in.png")))
    np.testing.assert_array_equal(*outputs)


@pytest.mark.parametrize("kind", ["zarr v2", "npy"])
def test_chunked_warps_of_big_endian_sources(tmp_path, rng, kind):
    zarr = pytest.importorskip("zarr", reason="the zarr extra is not installed")
    pytest.importorskip("dask", reason="the zarr extra is not installed")
    values = (rng.random((10, 12, 14)) * 3000).astype(np.int16)
    sources = {}
    for name, dtype in (("big", ">i2"), ("native", "<i2")):
        if kind == "npy":
            path = tmp_path / f"{name}.npy"
            np.save(path, values.astype(dtype))
        else:
            path = tmp_path / f"{name}.zarr"
            array = zarr.create_array(
                store=str(path), shape=values.shape, chunks=(4, 5, 6), dtype=dtype, zarr_format=2
            )
            array[...] = values
        sources[name] = path
    results = []
    for name, path in sources.items():
        target = tmp_path / f"{name}_out.zarr"
        apply(tmp_path, ROTATE, str(path), output=str(target))
        results.append(zarr.open_array(str(target), mode="r")[...])
    np.testing.assert_array_equal(*results)
    assert results[0].any()


def test_a_16_bit_png_stored_big_endian_reads_as_native(tmp_path, rng):
    """PNG stores 16-bit samples big-endian; the reader gives native uint16 values."""
    from PIL import Image

    from gswarp.io.images import read_image

    values = rng.integers(0, 65535, (6, 7), dtype=np.uint16)
    Image.fromarray(values).save(tmp_path / "deep.png")
    pixels = read_image(tmp_path / "deep.png").pixels
    assert pixels.dtype.isnative
    np.testing.assert_array_equal(pixels, values)
