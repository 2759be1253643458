"""2-D images through Pillow: PNG, JPEG, TIFF, BMP, WebP.

Arrays are ``(H, W)`` or ``(H, W, C)``: rows along y (down), columns along x (right).

Reading applies the EXIF orientation (so pixels are as a viewer shows them), converts palette
images to RGB or RGBA and 1-bit images to 8-bit gray, and keeps 16-bit gray (``uint16``), 32-bit
integer and float images as they are. Pillow decodes 16-bit *colour* files to 8 bits; rather than
lose precision silently, such files are refused with a clear error.

Writing keeps the source's ICC profile, DPI and EXIF (with the orientation reset), a JPEG's
quantization tables and chroma subsampling (the source's quality), and a TIFF's compression.
"""

from __future__ import annotations

import io
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from gswarp.errors import InputError
from gswarp.io.atomic import atomic_output
from gswarp.io.formats import FORMAT_SUFFIXES, IMAGE_SUFFIXES, image_format, is_dicom
from gswarp.io.remarks import reading
from gswarp.sampling import native_order

__all__ = [
    "FORMAT_SUFFIXES",
    "IMAGE_SUFFIXES",
    "Encoding",
    "ImageFile",
    "ImageMeta",
    "ImageProbe",
    "format_named",
    "probe_image",
    "read_image",
    "write_image",
]


_ORIENTATION = 0x0112
_MODE_LAYOUT = {  # Pillow mode (after our conversions) -> (channels, dtype)
    "L": (1, np.uint8),
    "LA": (2, np.uint8),
    "RGB": (3, np.uint8),
    "RGBA": (4, np.uint8),
    "CMYK": (4, np.uint8),
    "I;16": (1, np.uint16),
    "I": (1, np.int32),
    "F": (1, np.float32),
}
_CONVERSIONS = {
    "1": "L",
    "PA": "RGBA",
    "La": "LA",
    "RGBa": "RGBA",
    "RGBX": "RGB",
    "YCbCr": "RGB",
    "LAB": "RGB",
    "HSV": "RGB",
    "I;16B": "I;16",
    "I;16L": "I;16",
    "I;16N": "I;16",
}
_TIFF_COMPRESSIONS = ("raw", "tiff_lzw", "tiff_adobe_deflate", "tiff_deflate", "packbits")


@dataclass(frozen=True)
class ImageMeta:
    """What an image file says beyond its pixels, kept for writing the output."""

    format: str | None = None
    mode: str = "RGB"
    icc_profile: bytes | None = None
    dpi: tuple[float, float] | None = None
    exif: bytes | None = None
    jpeg: dict[str, Any] = field(default_factory=dict)
    tiff_compression: str | None = None


@dataclass(frozen=True)
class Encoding:
    """Encoder choices of the user. ``quality`` (1-100): JPEG and WebP; by default a JPEG keeps
    its source's quantization tables (else 95) and WebP gets 95. ``compress_level`` (0-9): the
    zlib level of PNG images and ``.nii.gz`` volumes, default 6 (Pillow's, libpng's and gzip's);
    1 encodes several times faster, files larger."""

    quality: int | None = None
    compress_level: int | None = None


@dataclass(frozen=True)
class ImageFile:
    """Pixels ``(H, W)`` / ``(H, W, C)`` and the metadata to write them back."""

    pixels: np.ndarray
    meta: ImageMeta


@dataclass(frozen=True)
class ImageProbe:
    """An image's geometry from its header, as :func:`read_image` would return it."""

    height: int
    width: int
    channels: int
    dtype: np.dtype
    mode: str
    format: str | None


def format_named(name: str) -> str:
    """Pillow's format name for a ``--format`` name (a key of :data:`FORMAT_SUFFIXES`)."""
    return IMAGE_SUFFIXES[FORMAT_SUFFIXES[name]]


def _open(source: Path | BinaryIO, name: str) -> Image.Image:
    try:
        return Image.open(source)
    except FileNotFoundError:
        raise InputError(f"{name}: no such file") from None
    except IsADirectoryError:
        raise InputError(f"{name}: is a directory, not an image") from None
    except UnidentifiedImageError:
        if not isinstance(source, (str, Path)) or not is_dicom(source):
            raise InputError(
                f"{name}: not an image Pillow can read (PNG, JPEG, TIFF, BMP, WebP)"
            ) from None
        raise InputError(
            f"{name}: a DICOM file; gswarp reads volumes as NIfTI: convert the series first "
            "(dcm2niix -z y -o OUT_FOLDER DICOM_FOLDER) and warp the .nii.gz"
        ) from None
    except (OSError, ValueError, Image.DecompressionBombError) as error:
        raise InputError(f"{name}: cannot read: {error}") from None


def _target_mode(image: Image.Image, name: str) -> str:
    """The mode we convert ``image`` to, or an error for files we cannot read faithfully."""
    if getattr(image, "n_frames", 1) > 1:
        raise InputError(f"{name}: has {image.n_frames} frames/pages; gswarp reads single images")
    rawmode = _rawmode(image)
    if rawmode and ";16" in rawmode and image.mode not in ("I;16", "I;16B", "I;16L", "I"):
        raise InputError(
            f"{name}: 16-bit {image.mode} image; Pillow would decode it to 8 bits, so gswarp "
            "refuses it (16-bit gray images are supported)"
        )
    if image.mode == "P":
        return "RGBA" if "transparency" in image.info else "RGB"
    mode = _CONVERSIONS.get(image.mode, image.mode)
    if mode not in _MODE_LAYOUT:
        raise InputError(f"{name}: unsupported image mode {image.mode!r}")
    return mode


def _rawmode(image: Image.Image) -> str | None:
    tile = getattr(image, "tile", None)
    if not tile:
        return None
    args = tile[0].args if hasattr(tile[0], "args") else tile[0][3]
    if isinstance(args, str):
        return args
    if isinstance(args, tuple) and args and isinstance(args[0], str):
        return args[0]
    return None


def _orientation(image: Image.Image) -> int:
    try:
        return int(image.getexif().get(_ORIENTATION, 1))
    except (ValueError, TypeError, SyntaxError, OSError):  # a damaged EXIF block: ignore it
        return 1


def probe_image(path: Path) -> ImageProbe:
    """Read only the header of ``path``: its geometry after the EXIF orientation is applied."""
    name = str(path)
    with reading(name), _open(path, name) as image:
        mode = _target_mode(image, name)
        width, height = image.size
        if _orientation(image) in (5, 6, 7, 8):  # transposed: width and height swap
            width, height = height, width
        channels, dtype = _MODE_LAYOUT[mode]
        return ImageProbe(height, width, channels, np.dtype(dtype), mode, image.format)


def read_image(source: Path | BinaryIO, name: str | None = None) -> ImageFile:
    """Decode an image file (a path or a binary stream) into pixels and metadata.

    Raises
    ------
    InputError
        The file is missing, not an image, damaged, or 16-bit colour; the message starts with
        its name.
    """
    name = name or str(source)
    with reading(name), _open(source, name) as opened:
        try:
            mode = _target_mode(opened, name)
            image = opened
            if _orientation(opened) != 1:
                image = ImageOps.exif_transpose(opened)  # also resets the EXIF orientation
            image.load()
            meta = _meta(opened, image, mode)
            if image.mode != mode and not image.mode.startswith("I;16"):
                image = image.convert(mode)
            pixels = np.asarray(image)
        except InputError:  # already one line naming the file (an InputError is an OSError)
            raise
        except (OSError, ValueError, SyntaxError, TypeError, Image.DecompressionBombError) as error:
            raise InputError(f"{name}: cannot read: {error}") from None  # TypeError: a cut TIFF
    return ImageFile(native_order(pixels), meta)


def _meta(source: Image.Image, image: Image.Image, mode: str) -> ImageMeta:
    info = image.info
    dpi = info.get("dpi")
    exif = info.get("exif")
    if isinstance(exif, Image.Exif):
        exif = exif.tobytes()
    jpeg: dict[str, Any] = {}
    if source.format == "JPEG":
        from PIL import JpegImagePlugin

        quantization = getattr(source, "quantization", None)
        if quantization:
            jpeg["qtables"] = quantization
        sampling = JpegImagePlugin.get_sampling(source)
        if sampling != -1:
            jpeg["subsampling"] = sampling
    compression = info.get("compression") if source.format == "TIFF" else None
    return ImageMeta(
        format=source.format,
        mode=mode,
        icc_profile=info.get("icc_profile") or None,
        dpi=tuple(float(v) for v in dpi) if dpi else None,  # type: ignore[arg-type]
        exif=exif or None,
        jpeg=jpeg,
        tiff_compression=compression if compression in _TIFF_COMPRESSIONS else None,
    )


def _to_pillow(pixels: np.ndarray, meta: ImageMeta, name: str) -> Image.Image:
    hwc = pixels[..., None] if pixels.ndim == 2 else pixels
    channels, dtype = hwc.shape[2], hwc.dtype
    if dtype == np.uint8 and channels == 4 and meta.mode == "CMYK":
        height, width = hwc.shape[:2]
        return Image.frombytes("CMYK", (width, height), np.ascontiguousarray(hwc).tobytes())
    storable = dtype == np.uint8 and channels in (1, 2, 3, 4)
    storable |= channels == 1 and dtype in (np.uint16, np.int32, np.float32)
    if not storable:
        raise InputError(
            f"{name}: image files cannot hold {channels}-channel {dtype} pixels (Pillow writes "
            "uint8 with 1-4 channels, and 1-channel uint16, int32 or float32); "
            "choose another output dtype"
        )
    # Pillow infers L / LA / RGB / RGBA / I;16 / I / F from the shape and dtype
    return Image.fromarray(np.ascontiguousarray(hwc if channels > 1 else hwc[..., 0]))


_ENCODER_FORMATS = {"quality": ("JPEG", "WEBP"), "compress_level": ("PNG", ".nii.gz")}


def ignored_settings(encoding: Encoding, format: str) -> list[str]:
    """The settings of ``encoding`` that ``format`` (a Pillow format name, or a volume's suffix:
    ``.npy``, ``.nii``, ``.nii.gz``, ``TIFF``) does not use, each as ``"quality (JPEG and WEBP
    only)"``.

    >>> ignored_settings(Encoding(quality=80), "PNG")
    ['quality (JPEG and WEBP only)']
    """
    return [
        f"{name} ({' and '.join(formats)} only)"
        for name, formats in _ENCODER_FORMATS.items()
        if getattr(encoding, name) is not None and format not in formats
    ]


def _save_options(meta: ImageMeta, format: str, encoding: Encoding) -> dict[str, Any]:
    options: dict[str, Any] = {}
    if meta.icc_profile and format in ("PNG", "JPEG", "TIFF", "WEBP"):
        options["icc_profile"] = meta.icc_profile
    if meta.dpi and format in ("PNG", "JPEG", "TIFF", "BMP"):
        options["dpi"] = meta.dpi
    if meta.exif and format in ("PNG", "JPEG", "WEBP"):
        options["exif"] = meta.exif
    if format == "JPEG":
        options.update(
            {"quality": encoding.quality} if encoding.quality else meta.jpeg or {"quality": 95}
        )
    elif format == "WEBP":
        options["quality"] = encoding.quality or 95
    elif format == "PNG" and encoding.compress_level is not None:
        options["compress_level"] = encoding.compress_level
    elif format == "TIFF" and meta.tiff_compression:
        options["compression"] = meta.tiff_compression
    return options


def encode_image(
    pixels: np.ndarray, meta: ImageMeta, format: str, name: str, encoding: Encoding = Encoding()
) -> bytes:
    """The encoded bytes of ``pixels`` in ``format`` (a Pillow format name)."""
    buffer = io.BytesIO()
    _save(pixels, meta, format, name, buffer, encoding)
    return buffer.getvalue()


def _save(
    pixels: np.ndarray,
    meta: ImageMeta,
    format: str,
    name: str,
    stream: BinaryIO,
    encoding: Encoding,
) -> None:
    image = _to_pillow(pixels, meta, name)
    try:
        image.save(stream, format=format, **_save_options(meta, format, encoding))
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise InputError(
            f"{name}: cannot write {format}: {error}{_mode_hint(image, format)}"
        ) from None


_KEEPS = {  # what each format can hold, for the hint of a mode it refuses
    "JPEG": "8-bit gray, RGB or CMYK without transparency",
    "BMP": "8-bit gray, RGB or RGBA",
    "WEBP": "8-bit RGB or RGBA",
    "GIF": "8-bit palette or gray",
}


def _mode_hint(image: Image.Image, format: str) -> str:
    """What to do when a format cannot hold the image's mode (RGBA or 16-bit into JPEG)."""
    if format not in _KEEPS:
        return ""
    return (
        f" ({format} holds {_KEEPS[format]}; this image is {image.mode}: write PNG or TIFF "
        "with --format png, or convert it first)"
    )


def write_image(
    target: Path,
    pixels: np.ndarray,
    meta: ImageMeta,
    *,
    format: str | None = None,
    overwrite: bool = False,
    cancelled: threading.Event | None = None,
    encoding: Encoding = Encoding(),
) -> None:
    """Encode ``pixels`` and write them to ``target`` atomically.

    ``format`` is a Pillow format name; by default the one of ``target``'s suffix.
    """
    target = Path(target)
    format = format or image_format(target)
    if format is None:
        raise InputError(
            f"{target}: unknown image suffix; expected one of {', '.join(sorted(IMAGE_SUFFIXES))}"
        )
    with atomic_output(target, overwrite=overwrite, cancelled=cancelled) as stream:
        _save(pixels, meta, format, str(target), stream, encoding)
