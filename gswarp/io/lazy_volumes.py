"""Volume files read in pieces, for chunked warps into Zarr (:mod:`gswarp.run.zarr_job`).

A volume bigger than memory can still be warped when its file can be read piece by piece:

- uncompressed NIfTI ``.nii`` and C-order ``.npy``: a window is read from the file with one
  ``pread`` per z plane (:class:`_RawVolume`; the stored values: a header's
  ``scl_slope``/``scl_inter`` cannot be carried into Zarr, so a scaled file is refused);
- TIFF stacks (``.tif``/``.tiff``): tifffile's Zarr store over the file's pages or tiles, whose
  chunks the chunk cache decodes as it does a Zarr array's.

A gzip-compressed ``.nii.gz`` has no random access (every window would decompress the file from
its start), so it is refused with the fix. Arrays are seen as gswarp's volumes are everywhere:
``(z, y, x)``; a NIfTI file's ``(i, j, k)`` axes are x, y, z (stored x fastest, as a C-order
``(z, y, x)`` array), and its affine is the voxel ``(x, y, z)`` -> world matrix of the in-memory
path (:mod:`gswarp.io.volumes`), so ``space: world``, ``like:`` and ``spacing:`` plan the same grid.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from gswarp.errors import InputError
from gswarp.io.formats import lazy_volume_kind
from gswarp.io.remarks import reading
from gswarp.sampling import native_order

__all__ = ["file_kind", "open_file_array", "open_file_source"]

_DEFAULT_CHUNK = 128  # the output's default chunk edge where the file has no chunks of its own
_NIFTI_UNITS = {"mm": "millimeter", "micron": "micrometer", "meter": "meter"}


def file_kind(location: str | Path) -> str | None:
    """'nifti', 'npy' or 'tiff' for a volume file's name; None for anything else. A ``.nii.gz``
    is an :class:`InputError` (no random access)."""
    kind = lazy_volume_kind(location)
    if kind == "nifti.gz":
        raise InputError(
            f"{location}: a gzip-compressed NIfTI cannot be read in pieces (every window would "
            "decompress the file from its start): gunzip it to .nii, or write a NIfTI output "
            "(the in-memory path)"
        )
    return kind


class _RawVolume:
    """A volume stored raw in a file, x fastest (an uncompressed NIfTI's ``(i, j, k)``, a C-order
    ``.npy``'s ``(z, y, x)``), seen as ``(z, y, x)``: ``shape``, ``dtype``, and
    ``[z0:z1, y0:y1, x0:x1]`` returning the window.

    A window is read with one ``pread`` per z plane (its rows y0..y1, whole, then cut to
    x0..x1), so nothing of the file is mapped into the process: a memory map's pages count in
    the process's resident memory once read (warping a 1 GiB NIfTI through nibabel's map
    reached a 1266 MiB peak; with ``madvise(MADV_DONTNEED)`` after each window still 528 to
    745 MiB with two threads), and a Dask worker judges its memory by that figure.
    """

    direct = True  # windows are read as they are: nothing to decode or cache (read_window)

    def __init__(self, file: str, offset: int, shape: tuple[int, ...], dtype: np.dtype) -> None:
        self.file = file
        self.offset = int(offset)
        self.shape = tuple(int(n) for n in shape)
        self.dtype = np.dtype(dtype)
        self._descriptor: int | None = None
        needed = self.offset + int(np.prod(self.shape)) * self.dtype.itemsize
        found = os.stat(file).st_size
        if found < needed:  # said now, not by the window that reaches the end
            raise InputError(f"{file}: {found} bytes, but its header says {needed} (cut short?)")

    def _fd(self) -> int:
        if self._descriptor is None:
            self._descriptor = os.open(self.file, os.O_RDONLY | getattr(os, "O_BINARY", 0))
        return self._descriptor

    def __getitem__(self, selection) -> np.ndarray:
        (z0, z1), (y0, y1), (x0, x1) = (
            part.indices(n)[:2] for part, n in zip(selection, self.shape, strict=True)
        )
        _, ny, nx = self.shape
        item = self.dtype.itemsize
        window = np.empty((max(z1 - z0, 0), max(y1 - y0, 0), max(x1 - x0, 0)), self.dtype)
        if window.size == 0:
            return window
        length = (y1 - y0) * nx * item
        for z in range(z0, z1):
            start = self.offset + ((z * ny + y0) * nx) * item
            data = os.pread(self._fd(), length, start)
            if len(data) != length:
                raise InputError(f"{self.file}: shorter than its header says (truncated?)")
            rows = np.frombuffer(data, self.dtype).reshape(y1 - y0, nx)
            window[z - z0] = rows[:, x0:x1]
        return native_order(window)

    def __getstate__(self) -> dict:  # sent to workers without the open descriptor
        return {**self.__dict__, "_descriptor": None}

    def __del__(self, _close=os.close) -> None:
        # os.close bound at definition: at interpreter exit the module's globals (os,
        # contextlib) may already be None when this runs
        if getattr(self, "_descriptor", None) is not None:
            try:  # noqa: SIM105
                _close(self._descriptor)
            except OSError:
                pass


def _npy(path: str) -> _RawVolume:
    with open(path, "rb") as stream:
        try:
            version = np.lib.format.read_magic(stream)
            read_header = (
                np.lib.format.read_array_header_1_0
                if version == (1, 0)
                else np.lib.format.read_array_header_2_0
            )
            shape, fortran, dtype = read_header(stream)
        except ValueError as error:
            raise InputError(f"{path}: not a .npy file: {error}") from None
        offset = stream.tell()
    if dtype.hasobject or len(shape) != 3:
        raise InputError(
            f"{path}: a chunked warp takes a 3-D (z, y, x) numeric array, got shape "
            f"{tuple(shape)}, dtype {dtype}"
        )
    if fortran:
        raise InputError(
            f"{path}: a Fortran-order .npy cannot be read in windows here: save it in C order "
            "(numpy.ascontiguousarray)"
        )
    return _RawVolume(path, offset, shape, dtype)


def _nibabel():
    from gswarp.io.volumes import _nibabel

    return _nibabel()


def _nifti(path: str):
    """nibabel's image of an uncompressed NIfTI file, checked for what a chunked warp can carry:
    3-D, unscaled."""
    from gswarp.io.volumes import _load_nifti

    image = _load_nifti(_nibabel(), Path(path), None)  # the header; the voxels stay on disk
    if len(image.shape) != 3:
        raise InputError(
            f"{path}: a chunked warp takes a 3-D NIfTI volume, got shape {tuple(image.shape)} "
            "(write a NIfTI output for vector and 4-D images: the in-memory path)"
        )
    slope, inter = float(image.dataobj.slope), float(image.dataobj.inter)
    if (slope, inter) != (1.0, 0.0):
        raise InputError(
            f"{path}: its values are scaled (scl_slope {slope:g}, scl_inter {inter:g}), which "
            "Zarr cannot carry: write a NIfTI output (the in-memory path keeps the scaling)"
        )
    return image


def open_file_array(kind: str, path: str) -> Any:
    """The volume file at ``path`` as an array-like ``(z, y, x)`` (see :func:`open_file_source`),
    opened without reading its voxels."""
    if kind == "nifti":
        image = _nifti(path)
        i, j, k = image.shape
        offset = int(image.dataobj.offset)
        return _RawVolume(path, offset, (k, j, i), image.header.get_data_dtype())
    if kind == "npy":
        return _npy(path)
    if kind == "tiff":
        from gswarp.io.volumes import _tifffile
        from gswarp.io.zarrs import zarr_modules

        zarr = zarr_modules()
        try:
            with reading(path):
                _check_tiff_extent(_tifffile(), path)
                store = _tifffile().imread(path, aszarr=True, series=0, level=0)
            return zarr.open_array(store, mode="r")
        except (OSError, ValueError, KeyError, IndexError) as error:
            raise InputError(f"{path}: not a TIFF stack tifffile can read: {error}") from None
    raise ValueError(f"unknown volume file kind {kind!r}")


def _check_tiff_extent(tifffile, path: str) -> None:
    """Every page's data lies inside the file: a stack cut short is refused when it is opened,
    not by the window that reaches its end after the other windows were written."""
    size = os.stat(path).st_size
    with tifffile.TiffFile(path) as tiff:
        series = tiff.series[0]
        ends = []
        if series.dataoffset is not None:  # stored in one piece: the shape says how long
            ends.append(("its data", series.dataoffset + series.nbytes))
        for index, page in enumerate(tiff.pages):
            pieces = zip(page.dataoffsets, page.databytecounts, strict=False)
            ends.append((f"page {index}'s data", max((o + c for o, c in pieces), default=0)))
        for what, end in ends:
            if end > size:
                raise InputError(
                    f"{path}: {what} ends at byte {end}, past the end of the file ({size} "
                    "bytes): cut short?"
                )


def open_file_source(location: str, level: int = 0):
    """A :class:`gswarp.io.zarrs.ZarrSource` for a volume file (``kind`` 'nifti', 'npy' or
    'tiff'): a 3-D ``(z, y, x)`` volume, its NIfTI affine and units where it has them.

    Raises
    ------
    InputError
        Not readable in pieces (``.nii.gz``, a scaled NIfTI), not 3-D, a ``--level`` other
        than 0.
    """
    from gswarp.io.zarrs import ZarrSource

    kind = file_kind(location)
    path = str(location)
    if kind is None:
        raise InputError(f"{location}: not a volume file (.nii, .npy, .tif/.tiff)")
    if not Path(path).is_file():
        raise InputError(f"{location}: no such file")
    if level != 0:
        raise InputError(f"{location}: a volume file has one level; --level {level}")
    array = open_file_array(kind, path)
    if len(array.shape) != 3:
        raise InputError(
            f"{location}: a chunked warp takes a 3-D (z, y, x) volume, got shape "
            f"{tuple(array.shape)}"
        )
    affine, units, scale, translation = None, (None, None, None), (1.0,) * 3, (0.0,) * 3
    if kind == "nifti":
        from gswarp.io.volumes import world_affine

        image = _nifti(path)
        affine = world_affine(location, image)
        unit = _NIFTI_UNITS.get(image.header.get_xyzt_units()[0])
        units = (unit, unit, unit)
        linear = affine[:3, :3]
        if np.allclose(linear, np.diag(np.diag(linear))):  # axis-aligned: OME-Zarr can say it
            scale = tuple(float(v) for v in np.diag(linear)[::-1])
            translation = tuple(float(v) for v in affine[:3, 3][::-1])
    return ZarrSource(
        url=path,
        path="",
        shape=tuple(int(n) for n in array.shape),
        dtype=np.dtype(array.dtype),
        chunks=(_DEFAULT_CHUNK,) * 3,  # the output's default (clipped to its size)
        axes=("z", "y", "x"),
        units=units,
        affine=affine,
        ome=False,
        label=False,
        zarr_format=3,
        name=Path(path).name,
        scale=scale,
        translation=translation,
        kind=kind,
    )
