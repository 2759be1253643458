"""What a path is, from its name: gswarp's one table of file formats and who reads them.

The readers, the writers and the runners ask this module what a name is, from the name alone
(nothing is opened, except that a Zarr location may be a folder holding Zarr metadata; a
``.tif`` is an image or a volume by its page count, which
:func:`gswarp.io.volumes.is_volume_path` reads; a ``.mat`` transform is ITK's or FSL's by its
content, which :func:`gswarp.io.transform_files.file_format` reads). The plan, which imports no
``gswarp.io`` module, tells a ``like:`` NIfTI by its suffix itself.

=============  =================================================  ===============================
role           names                                              read and written by
=============  =================================================  ===============================
image          ``.png .jpg .jpeg .tif .tiff .bmp .webp``          :mod:`gswarp.io.images`
volume         ``.npy .nii .nii.gz`` (and TIFF stacks)            :mod:`gswarp.io.volumes`
volume, lazy   ``.nii .npy .tif .tiff`` (read in windows)         :mod:`gswarp.io.lazy_volumes`
Zarr           ``*.zarr``, a URL, a folder with Zarr metadata     :mod:`gswarp.io.zarrs`
flow field     ``.npy .npz .nii .nii.gz .tif .tiff``              :mod:`gswarp.io.fields`
transform      ``.tfm .txt .mat .1D .lta .x5 .h5``; ``.nii(.gz)``  :mod:`gswarp.io.transform_files`
=============  =================================================  ===============================

Suffixes are compared lower-cased, and ``.nii.gz`` is one suffix.
"""

from __future__ import annotations

import re
from pathlib import Path

__all__ = [
    "AFFINE_FILE_SUFFIXES",
    "FIELD_SUFFIXES",
    "FORMAT_SUFFIXES",
    "IMAGE_SUFFIXES",
    "READ_ONLY_VOLUMES",
    "TRANSFORM_SUFFIXES",
    "VOLUME_SUFFIXES",
    "full_suffix",
    "image_format",
    "is_composite_transform",
    "is_dicom",
    "is_nifti",
    "is_supported_name",
    "is_url",
    "is_zarr_location",
    "lazy_volume_kind",
    "transform_format",
    "volume_format",
]

IMAGE_SUFFIXES = {
    ".png": "PNG",
    ".jpg": "JPEG",
    ".jpeg": "JPEG",
    ".tif": "TIFF",
    ".tiff": "TIFF",
    ".bmp": "BMP",
    ".webp": "WEBP",
}
"""File suffixes gswarp reads and writes as images, and their Pillow format names."""

FORMAT_SUFFIXES = {
    "png": ".png",
    "jpeg": ".jpg",
    "jpg": ".jpg",
    "tiff": ".tif",
    "tif": ".tif",
    "bmp": ".bmp",
    "webp": ".webp",
}
"""``--format`` names and the suffix each gives an output."""

VOLUME_SUFFIXES = (".npy", ".nii", ".nii.gz", ".mgz", ".mgh", ".mnc", ".hdr")
"""Names ending so are volumes (and an Analyze ``.img`` named on its own: its ``.hdr`` names
the pair in a folder); ``.tif``/``.tiff`` files with several pages are volumes too."""

READ_ONLY_VOLUMES = {".mnc": "MINC", ".hdr": "Analyze", ".img": "Analyze"}
"""Volume formats read through nibabel but not written (nibabel writes no MINC; Analyze holds
no full orientation): their outputs are NIfTI (``x.mnc`` -> ``x.nii.gz``)."""

FIELD_SUFFIXES = (".npy", ".npz", ".nii", ".nii.gz", ".tif", ".tiff")
"""Names a spec's ``flow: {path: ...}`` may have."""

AFFINE_FILE_SUFFIXES = (".tfm", ".txt", ".mat")
"""Names an ITK affine transform is written under (text, or MATLAB's binary ``.mat``); a
displacement field is written as NIfTI (:func:`is_nifti`)."""

TRANSFORM_SUFFIXES = {".tfm": "itk", ".txt": "itk", ".lta": "lta", ".x5": "x5", ".1d": "afni"}
"""Transform files known by their name alone (``.mat`` is ITK's or FSL's by its content)."""

_URL = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*://")


def _name(path: str | Path) -> str:
    return Path(str(path)).name.lower()


def full_suffix(path: str | Path) -> str:
    """The suffix as gswarp reads it: ``x.nii.gz`` -> ``.nii.gz``, ``X.PNG`` -> ``.PNG``
    (case kept; compare lower-cased)."""
    name = Path(str(path)).name
    return name[-7:] if name.lower().endswith(".nii.gz") else Path(name).suffix


def image_format(path: str | Path) -> str | None:
    """Pillow's format name for ``path``'s suffix, or None if it is not an image suffix.

    >>> image_format("a/B.JPG"), image_format("v.nii")
    ('JPEG', None)
    """
    return IMAGE_SUFFIXES.get(Path(str(path)).suffix.lower())


def volume_format(path: str | Path) -> str | None:
    """'npy', 'nifti', 'mgh' (FreeSurfer ``.mgz``/``.mgh``), 'minc', 'analyze' (``.hdr``/``.img``),
    or None for ``path``'s name (TIFF stacks are told by their page count).

    >>> volume_format("T1.mgz"), volume_format("brain.MNC"), volume_format("a.png")
    ('mgh', 'minc', None)
    """
    name = _name(path)
    if name.endswith(".npy"):
        return "npy"
    if is_nifti(name):
        return "nifti"
    if name.endswith((".mgz", ".mgh")):
        return "mgh"
    if name.endswith(".mnc"):
        return "minc"
    if name.endswith((".hdr", ".img")):
        return "analyze"
    return None


def is_dicom(path: str | Path) -> bool:
    """Whether ``path`` is a DICOM file: ``.dcm``, or ``DICM`` at byte 128 (Part 10 files
    often have no suffix)."""
    if _name(path).endswith((".dcm", ".dicom")):
        return True
    try:
        with open(path, "rb") as stream:
            stream.seek(128)
            return stream.read(4) == b"DICM"
    except OSError:
        return False


def is_nifti(path: str | Path) -> bool:
    """Whether ``path`` names a NIfTI file (``.nii`` or ``.nii.gz``)."""
    return _name(path).endswith((".nii", ".nii.gz"))


def lazy_volume_kind(path: str | Path) -> str | None:
    """'nifti', 'npy' or 'tiff' for a volume file that can be read in windows; 'nifti.gz' for
    a compressed NIfTI (which cannot: the caller says so); None for any other name."""
    name = _name(path)
    if name.endswith(".nii.gz"):
        return "nifti.gz"
    if name.endswith(".nii"):
        return "nifti"
    if name.endswith(".npy"):
        return "npy"
    if name.endswith((".tif", ".tiff")):
        return "tiff"
    return None


def is_supported_name(name: str) -> bool:
    """True for the image and volume file names gswarp reads (by suffix; ``.nii.gz`` too)."""
    lowered = name.lower()
    return Path(lowered).suffix in IMAGE_SUFFIXES or lowered.endswith(VOLUME_SUFFIXES)


def is_url(text: str | Path) -> bool:
    """Whether ``text`` is a URL (``scheme://...``)."""
    return _URL.match(str(text)) is not None


def is_zarr_location(text: str | Path) -> bool:
    """True for a URL (``scheme://...``) and for a local path that ends in ``.zarr`` or is a
    folder holding Zarr metadata (``zarr.json``, ``.zarray``, ``.zgroup``)."""
    if is_url(text):
        return True
    path = Path(str(text))
    if path.name.lower().endswith(".zarr"):
        return True
    return path.is_dir() and any((path / n).exists() for n in ("zarr.json", ".zarray", ".zgroup"))


def is_composite_transform(path: str | Path) -> bool:
    """Whether ``path`` names an ITK HDF5 transform file (``.h5``: a composite, as
    ``antsRegistration --write-composite-transform 1`` and ``sitk.WriteTransform`` write)."""
    return _name(path).endswith((".h5", ".hdf5"))


def transform_format(path: str | Path) -> str | None:
    """'itk', 'lta', 'x5' or 'afni' for a transform file known by its name; 'mat' for ``.mat``
    (ITK's binary or FSL's text: its content decides); None for a name no format uses."""
    name = _name(path)
    if name.endswith(".mat"):
        return "mat"
    for suffix, kind in TRANSFORM_SUFFIXES.items():
        if name.endswith(suffix):
            return kind
    return None
