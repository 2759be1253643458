"""Reading and writing files: images through Pillow, atomic writes."""

from gswarp.io.atomic import atomic_output
from gswarp.io.images import (
    FORMAT_SUFFIXES,
    IMAGE_SUFFIXES,
    Encoding,
    ImageFile,
    ImageMeta,
    ImageProbe,
    format_of,
    probe_image,
    read_image,
    write_image,
)

__all__ = [
    "FORMAT_SUFFIXES",
    "IMAGE_SUFFIXES",
    "Encoding",
    "ImageFile",
    "ImageMeta",
    "ImageProbe",
    "atomic_output",
    "format_of",
    "probe_image",
    "read_image",
    "write_image",
]
