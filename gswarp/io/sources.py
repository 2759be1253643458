"""Opening what a chunked run reads: a Zarr array or OME-Zarr image, or a volume file read in
windows (``.nii``, ``.npy``, TIFF), as one :class:`~gswarp.io.zarrs.ZarrSource`."""

from __future__ import annotations

from gswarp.io.formats import is_zarr_location
from gswarp.io.lazy_volumes import file_kind, open_file_source
from gswarp.io.zarrs import ZarrSource, zarr_modules
from gswarp.io.zarrs import open_source as open_zarr_source

__all__ = ["open_source"]


def open_source(location: str, level: int = 0) -> ZarrSource:
    """Open the Zarr array or OME-Zarr image at ``location`` (read-only), or a volume file that
    can be read in pieces (:mod:`gswarp.io.lazy_volumes`).

    Raises
    ------
    InputError
        Not a Zarr store or a volume file, a level the input does not have, axes gswarp cannot
        warp, a ``.nii.gz`` (no random access).
    BackendError
        The zarr extra is missing.
    """
    zarr_modules()  # the zarr extra is needed either way: say so first
    if not is_zarr_location(location) and file_kind(location) is not None:
        return open_file_source(location, level)
    return open_zarr_source(location, level)
