"""Image files through Pillow: modes, bit depths, orientation, metadata, atomic writes."""

from __future__ import annotations

import io
import os
import struct
import threading
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageCms

from gswarp.errors import CancelledError, InputError
from gswarp.io.atomic import atomic_output
from gswarp.io.images import encode_image, probe_image, read_image, write_image


def save(path, image: Image.Image, **options) -> None:
    image.save(path, **options)


@pytest.fixture
def rgb(rng) -> np.ndarray:
    return rng.integers(0, 256, (12, 20, 3), dtype=np.uint8)


ROUND_TRIPS = [
    (suffix, mode)
    for suffix in (".png", ".tif", ".bmp", ".webp")
    for mode in ("L", "RGB", "RGBA")
    if (suffix, mode) not in {(".bmp", "RGBA"), (".webp", "L")}  # formats without them
]


@pytest.mark.parametrize(("suffix", "mode"), ROUND_TRIPS)
def test_lossless_round_trip(tmp_path, rng, suffix, mode):
    channels = {"L": 1, "RGB": 3, "RGBA": 4}[mode]
    pixels = rng.integers(0, 256, (12, 20, channels), dtype=np.uint8).squeeze()
    source = tmp_path / f"in{suffix}"
    options = {"lossless": True} if suffix == ".webp" else {}
    save(source, Image.fromarray(pixels), **options)
    image = read_image(source)
    np.testing.assert_array_equal(image.pixels, pixels)
    if suffix != ".webp":  # we write WebP lossy (quality 95)
        target = tmp_path / f"out{suffix}"
        write_image(target, image.pixels, image.meta)
        np.testing.assert_array_equal(np.asarray(Image.open(target)), pixels)


@pytest.mark.parametrize("suffix", [".png", ".tif"])
def test_16_bit_gray_stays_16_bit(tmp_path, rng, suffix):
    pixels = rng.integers(0, 65536, (9, 7), dtype=np.uint16)
    source = tmp_path / f"g{suffix}"
    Image.fromarray(pixels).save(source)
    image = read_image(source)
    assert image.pixels.dtype == np.uint16
    np.testing.assert_array_equal(image.pixels, pixels)
    write_image(tmp_path / f"o{suffix}", image.pixels, image.meta)
    np.testing.assert_array_equal(read_image(tmp_path / f"o{suffix}").pixels, pixels)


def test_float_tiff_round_trip(tmp_path, rng):
    pixels = rng.random((5, 6)).astype(np.float32)
    Image.fromarray(pixels).save(tmp_path / "f.tif")
    image = read_image(tmp_path / "f.tif")
    assert image.pixels.dtype == np.float32
    write_image(tmp_path / "o.tif", image.pixels, image.meta)
    np.testing.assert_array_equal(read_image(tmp_path / "o.tif").pixels, pixels)


def write_png_16_bit(path: Path, pixels: np.ndarray) -> None:
    """A 16-bit RGB or RGBA PNG written by hand (Pillow cannot write one): signature, IHDR,
    one IDAT of unfiltered big-endian rows, IEND."""
    height, width, channels = pixels.shape
    colour_type = {3: 2, 4: 6}[channels]

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    rows = b"".join(b"\0" + row.astype(">u2").tobytes() for row in pixels)
    header = struct.pack(">IIBBBBB", width, height, 16, colour_type, 0, 0, 0)
    path.write_bytes(
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


@pytest.mark.parametrize(("channels", "mode"), [(3, "RGB"), (4, "RGBA")])
@pytest.mark.parametrize("suffix", [".png", ".tif"])
def test_16_bit_colour_is_refused_rather_than_truncated(tmp_path, channels, mode, suffix):
    pixels = np.full((4, 5, channels), 1000, np.uint16)
    path = tmp_path / f"c16{suffix}"
    if suffix == ".png":
        write_png_16_bit(path, pixels)
    else:
        import tifffile

        extra = {"extrasamples": ["unassalpha"]} if channels == 4 else {}
        tifffile.imwrite(path, pixels, photometric="rgb", **extra)
    with Image.open(path) as image:  # the file is what it claims, and Pillow decodes it to 8 bits
        assert image.mode == mode and np.asarray(image).dtype == np.uint8
    with pytest.raises(InputError) as error:
        read_image(path)
    assert str(error.value) == (
        f"{path}: 16-bit {mode} image; Pillow would decode it to 8 bits, so gswarp refuses it "
        "(16-bit gray images are supported)"
    )


def test_palette_becomes_rgb_or_rgba(tmp_path, rgb):
    paletted = Image.fromarray(rgb).quantize(16)
    paletted.save(tmp_path / "p.png")
    image = read_image(tmp_path / "p.png")
    assert image.pixels.shape == (12, 20, 3)
    np.testing.assert_array_equal(image.pixels, np.asarray(paletted.convert("RGB")))
    paletted.info["transparency"] = 0
    paletted.save(tmp_path / "pt.png", transparency=0)
    assert read_image(tmp_path / "pt.png").pixels.shape == (12, 20, 4)


def test_bilevel_becomes_8_bit_gray(tmp_path):
    Image.fromarray(np.eye(8, dtype=bool)).save(tmp_path / "b.png")
    pixels = read_image(tmp_path / "b.png").pixels
    assert pixels.dtype == np.uint8
    np.testing.assert_array_equal(pixels, np.eye(8) * 255)


def test_exif_orientation_is_applied_and_reset(tmp_path, rgb):
    exif = Image.Exif()
    exif[0x0112] = 6  # stored rotated: viewers turn it 90 degrees clockwise
    Image.fromarray(rgb).save(tmp_path / "o.png", exif=exif)
    image = read_image(tmp_path / "o.png")
    np.testing.assert_array_equal(image.pixels, np.rot90(rgb, -1))
    probe = probe_image(tmp_path / "o.png")
    assert (probe.height, probe.width) == (20, 12)
    write_image(tmp_path / "w.png", image.pixels, image.meta)
    assert Image.open(tmp_path / "w.png").getexif().get(0x0112, 1) == 1


def test_icc_profile_and_dpi_are_kept(tmp_path, rgb):
    icc = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    for suffix in (".png", ".jpg", ".tif"):
        source = tmp_path / f"m{suffix}"
        Image.fromarray(rgb).save(source, icc_profile=icc, dpi=(300, 300))
        image = read_image(source)
        target = tmp_path / f"w{suffix}"
        write_image(target, image.pixels, image.meta)
        written = Image.open(target)
        assert written.info.get("icc_profile") == icc, suffix
        assert tuple(round(v) for v in written.info["dpi"]) == (300, 300), suffix


def test_jpeg_keeps_the_source_quantization(tmp_path, rng):
    smooth = np.clip(np.add.outer(np.arange(64), np.arange(64)) * 2, 0, 255).astype(np.uint8)
    Image.fromarray(np.stack([smooth] * 3, -1)).save(tmp_path / "q.jpg", quality=60)
    image = read_image(tmp_path / "q.jpg")
    write_image(tmp_path / "w.jpg", image.pixels, image.meta)
    assert (
        Image.open(tmp_path / "w.jpg").quantization == Image.open(tmp_path / "q.jpg").quantization
    )


def test_probe_reads_the_header_geometry(tmp_path, rgb):
    Image.fromarray(rgb).save(tmp_path / "x.png")
    probe = probe_image(tmp_path / "x.png")
    assert (probe.height, probe.width, probe.channels, probe.dtype) == (12, 20, 3, np.uint8)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"not an image", "not an image Pillow can read"),
        (None, "no such file"),
    ],
)
def test_unreadable_inputs_name_the_file(tmp_path, content, message):
    path = tmp_path / "bad.png"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(InputError, match=rf"bad\.png: {message}"):
        read_image(path)


def test_truncated_png_is_an_input_error(tmp_path, rgb):
    buffer = io.BytesIO()
    Image.fromarray(rgb).save(buffer, format="PNG")
    (tmp_path / "cut.png").write_bytes(buffer.getvalue()[:200])
    with pytest.raises(InputError, match=r"cut\.png: cannot read"):
        read_image(tmp_path / "cut.png")


def test_multi_page_tiff_is_refused(tmp_path, rgb):
    pages = [Image.fromarray(rgb), Image.fromarray(rgb)]
    pages[0].save(tmp_path / "s.tif", save_all=True, append_images=pages[1:])
    with pytest.raises(InputError, match="has 2 frames/pages"):
        read_image(tmp_path / "s.tif")


def test_unwritable_combinations_are_input_errors(tmp_path, rgb):
    image = read_image_from_array(tmp_path, np.dstack([rgb, rgb[..., :1]]))  # RGBA
    with pytest.raises(InputError, match=r"w\.jpg: cannot write JPEG"):
        write_image(tmp_path / "w.jpg", image.pixels, image.meta)
    with pytest.raises(InputError, match="cannot hold 3-channel float32"):
        write_image(tmp_path / "f.tif", rgb.astype(np.float32), image.meta)
    assert not list(tmp_path.glob(".*")), "a temporary file was left behind"


def read_image_from_array(tmp_path, pixels):
    Image.fromarray(pixels).save(tmp_path / "src.png")
    return read_image(tmp_path / "src.png")


def test_encode_image_gives_the_bytes(rgb):
    image_bytes = encode_image(rgb, read_image_meta(), "PNG", "<stdout>")
    np.testing.assert_array_equal(np.asarray(Image.open(io.BytesIO(image_bytes))), rgb)


def read_image_meta():
    from gswarp.io.images import ImageMeta

    return ImageMeta()


class TestAtomicOutput:
    def test_complete_file_appears_only_at_the_end(self, tmp_path):
        target = tmp_path / "sub" / "t.bin"
        with atomic_output(target) as stream:
            stream.write(b"abc")
            assert not target.exists()
            assert len(list(target.parent.iterdir())) == 1  # the temporary file
        assert target.read_bytes() == b"abc"
        assert list(target.parent.iterdir()) == [target]

    def test_permissions_follow_the_umask(self, tmp_path):
        with atomic_output(tmp_path / "t.bin") as stream:
            stream.write(b"x")
        mask = os.umask(0)
        os.umask(mask)
        assert (tmp_path / "t.bin").stat().st_mode & 0o777 == 0o666 & ~mask

    def test_an_error_leaves_nothing(self, tmp_path):
        with pytest.raises(RuntimeError), atomic_output(tmp_path / "t.bin") as stream:
            stream.write(b"partial")
            raise RuntimeError("encoder failed")
        assert list(tmp_path.iterdir()) == []

    def test_existing_files_are_kept_without_overwrite(self, tmp_path):
        target = tmp_path / "t.bin"
        target.write_bytes(b"old")
        with pytest.raises(InputError, match="already exists"), atomic_output(target):
            pass
        with atomic_output(target, overwrite=True) as stream:
            stream.write(b"new")
        assert target.read_bytes() == b"new"

    def test_a_file_appearing_meanwhile_is_not_clobbered(self, tmp_path):
        target = tmp_path / "t.bin"
        with pytest.raises(InputError, match="already exists"), atomic_output(target) as stream:
            stream.write(b"ours")
            target.write_bytes(b"theirs")
        assert target.read_bytes() == b"theirs"
        assert list(tmp_path.iterdir()) == [target]

    def test_cancelled_before_rename_leaves_nothing(self, tmp_path):
        cancelled = threading.Event()
        with (
            pytest.raises(CancelledError),
            atomic_output(tmp_path / "t.bin", cancelled=cancelled) as stream,
        ):
            stream.write(b"data")
            cancelled.set()
        assert list(tmp_path.iterdir()) == []
