"""3-D volumes: ``.npy``, NIfTI ``.nii``/``.nii.gz`` (nibabel, extra ``nifti``) and multi-page
TIFF stacks (tifffile, extra ``tiff``).

Arrays are ``(D, H, W)`` or ``(D, H, W, C)``: z (slices) first, then y (rows), then x (columns),
the layout of ``.npy`` volumes and TIFF stacks. A NIfTI image indexes voxels ``(i, j, k)``; gswarp
reads it as x = i, y = j, z = k (a view, no copy) and keeps its header: the stored values and
their scaling (``scl_slope``/``scl_inter``), the dtype, units and intent. On writing, the sform
and qform describe the output grid: ``affine_out = affine_in @ S`` with ``S`` the output voxel ->
input voxel matrix of the warp.
"""

from __future__ import annotations

import contextlib
import io
import threading
from collections.abc import Iterator
from concurrent.futures import Future
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from gswarp.errors import BackendError, InputError, first_line
from gswarp.io.atomic import atomic_output
from gswarp.io.formats import VOLUME_SUFFIXES, volume_format
from gswarp.io.gzipped import GZIP_ERRORS, open_gzip, write_gzip
from gswarp.io.remarks import reading
from gswarp.sampling import native_order

__all__ = [
    "VOLUME_SUFFIXES",
    "VolumeFile",
    "VolumeMeta",
    "VolumeProbe",
    "is_volume_path",
    "probe_volume",
    "read_volume",
    "volume_format",
    "write_volume",
]


def is_volume_path(path: Path) -> bool:
    """True for ``.npy``/``.nii``/``.nii.gz`` names and for TIFF files with several pages."""
    path = Path(path)
    if volume_format(path) is not None:
        return True
    if path.suffix.lower() not in (".tif", ".tiff"):
        return False
    try:
        from PIL import Image

        with reading(path), Image.open(path) as image:
            return getattr(image, "n_frames", 1) > 1
    except (OSError, ValueError, TypeError, _decompression_bomb()):
        return False  # the image reader reports the problem (Pillow: TypeError on a cut TIFF)


def _decompression_bomb() -> type[Exception]:
    from PIL import Image

    return Image.DecompressionBombError


@dataclass(frozen=True)
class VolumeMeta:
    """What a volume file says beyond its voxels: its format and, for NIfTI, the header and the
    voxel -> world affine (4x4, voxel coordinates (x, y, z) = (i, j, k))."""

    format: str
    header: Any = None
    affine: np.ndarray | None = None
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class VolumeFile:
    """Voxels ``(D, H, W[, C])``, in native byte order whatever the file's, and the metadata to
    write them back."""

    voxels: np.ndarray
    meta: VolumeMeta


def _nibabel():
    try:
        import nibabel
    except ImportError:
        raise BackendError("reading NIfTI needs nibabel: pip install 'gswarp[nifti]'") from None
    return nibabel


def _tifffile():
    try:
        import tifffile
    except ImportError:
        raise BackendError(
            "reading TIFF stacks needs tifffile: pip install 'gswarp[tiff]'"
        ) from None
    return tifffile


_READ_AHEAD: dict[tuple, Future] = {}  # (path, mtime, size) -> the read started early
_READ_AHEAD_LOCK = threading.Lock()


def _file_key(path: Path) -> tuple | None:
    try:
        stat = path.stat()
    except OSError:
        return None
    return str(path.resolve()), stat.st_mtime_ns, stat.st_size


def read_ahead(path: Path) -> None:
    """Start reading the volume ``path`` on a background thread, for the next
    :func:`read_volume` of the same unchanged file to take (once): ``gswarp apply`` reads its
    first input while it loads the transform files (both mostly decompression and copies,
    which release the GIL: the two overlap on two cores)."""
    path = Path(path)
    key = _file_key(path)
    if key is None:
        return
    future: Future = Future()

    def run() -> None:
        try:
            future.set_result(_read_volume(path))
        except BaseException as error:  # handed to the reader, raised there
            future.set_exception(error)

    with _READ_AHEAD_LOCK:
        _READ_AHEAD[key] = future
    threading.Thread(target=run, name="gswarp-read-ahead", daemon=True).start()


def drop_read_ahead() -> None:
    """Forget the reads :func:`read_ahead` started that no reader took (their results are
    freed when their threads end)."""
    with _READ_AHEAD_LOCK:
        _READ_AHEAD.clear()


def read_volume(path: Path) -> VolumeFile:
    """Read a volume file (by its name: ``.npy``, ``.nii``, ``.nii.gz``, ``.tif``/``.tiff``),
    or take the result of a :func:`read_ahead` of the same unchanged file.

    Raises
    ------
    InputError
        Missing, unreadable, or not 3-D (``(D, H, W)`` or ``(D, H, W, C)``).
    BackendError
        The optional package for the format is not installed (the message names the extra).
    """
    path = Path(path)
    if _READ_AHEAD:
        with _READ_AHEAD_LOCK:
            future = _READ_AHEAD.pop(_file_key(path), None)
        if future is not None:
            return future.result()
    return _read_volume(path)


def _read_volume(path: Path) -> VolumeFile:
    if not path.exists():
        raise InputError(f"{path}: no such file")
    kind = volume_format(path) or "tiff"
    try:
        if kind == "npy":
            voxels = load_npy(path)
            meta = VolumeMeta("npy")
        elif kind == "nifti":
            voxels, meta = _read_nifti(path)
        elif kind in ("mgh", "minc", "analyze"):
            voxels, meta = _read_nibabel(path)
        else:
            with reading(path):
                voxels = _tifffile().imread(path)
            meta = VolumeMeta("tiff")
    except (OSError, ValueError, EOFError) as error:
        if isinstance(error, InputError):
            raise
        raise InputError(f"{path}: cannot read: {error}") from None
    _check_shape(path, kind, voxels.shape)
    return VolumeFile(native_order(voxels), meta)  # a big-endian file: the same values


def load_npy(path: Path, mmap_mode: str | None = None) -> np.ndarray:
    """A ``.npy`` file's array (memory-mapped with ``mmap_mode``); never unpickles.

    Raises
    ------
    InputError
        Not a ``.npy`` file (no NumPy header), a file holding Python objects, or a file cut
        short; the message names ``path``.
    """
    try:
        with open(path, "rb") as stream:
            magic = stream.read(6)
    except OSError as error:
        raise InputError(f"{path}: cannot read: {first_line(error, named=False)}") from None
    if magic != b"\x93NUMPY":
        raise InputError(
            f"{path}: not a .npy file ("
            + ("it is empty)" if not magic else "it does not start with NumPy's header)")
        )
    try:
        return np.load(path, mmap_mode=mmap_mode, allow_pickle=False)
    except (ValueError, OSError, EOFError) as error:
        if isinstance(error, ValueError) and "allow_pickle" in str(error):
            raise InputError(
                f"{path}: holds Python objects (a pickled array); gswarp reads numeric arrays "
                "only, and never unpickles a file (it could run code)"
            ) from None
        raise InputError(
            f"{path}: cannot read (cut short?): {first_line(error, named=False)}"
        ) from None


def _check_shape(path: Path, kind: str, shape: tuple[int, ...]) -> None:
    """A volume is (D, H, W) or (D, H, W, C); a ``.npy`` may also be a 2-D array (H, W)."""
    if len(shape) in (3, 4) or (kind == "npy" and len(shape) == 2):
        return
    raise InputError(
        f"{path}: expected a volume (D, H, W) or (D, H, W, C)"
        + (" or a 2-D array (H, W)" if kind == "npy" else "")
        + f", got shape {tuple(shape)}"
    )


@dataclass(frozen=True)
class VolumeProbe:
    """A volume's geometry from its header, as :func:`read_volume` would return it: spatial size
    ``(D, H, W)`` (``(H, W)`` for a 2-D ``.npy``), channels (1 for a 3-D array), the stored dtype
    and the NIfTI affine (or None).
    """

    size: tuple[int, ...]
    channels: int
    dtype: np.dtype
    affine: np.ndarray | None


def probe_volume(path: Path) -> VolumeProbe:
    """Read only what :func:`read_volume` needs to plan a warp: no voxels are loaded (``.npy`` is
    memory-mapped, NIfTI and TIFF give their headers). Raises as :func:`read_volume`."""
    path = Path(path)
    if not path.exists():
        raise InputError(f"{path}: no such file")
    kind = volume_format(path) or "tiff"
    affine = None
    try:
        if kind == "npy":
            array = load_npy(path, mmap_mode="r")
            shape, dtype = array.shape, array.dtype
        elif kind == "nifti":
            image = _load_nifti(_nibabel(), path, None)  # the header only: voxels stay on disk
            shape = image.shape
            if len(shape) == 5 and shape[3] == 1:  # NIfTI's vector layout (I, J, K, 1, C)
                shape = (*shape[:3], shape[4])
            shape = (shape[2], shape[1], shape[0], *shape[3:])  # (K, J, I[, C])
            dtype = image.header.get_data_dtype()
            affine = world_affine(path, image)
        elif kind in ("mgh", "minc", "analyze"):
            image = _load_header_only(path)
            shape = tuple(int(n) for n in image.shape)
            shape = (shape[2], shape[1], shape[0], *shape[3:])
            dtype = image.get_data_dtype()
            affine = np.asarray(image.affine, dtype=np.float64)
        else:
            with reading(path), _tifffile().TiffFile(path) as tiff:
                shape, dtype = tiff.series[0].shape, tiff.series[0].dtype
    except (OSError, ValueError, EOFError) as error:
        if isinstance(error, InputError):
            raise
        raise InputError(f"{path}: cannot read: {error}") from None
    _check_shape(path, kind, shape)
    size = tuple(int(n) for n in shape[:3])
    channels = int(shape[3]) if len(shape) == 4 else 1
    return VolumeProbe(size, channels, np.dtype(dtype).newbyteorder("="), affine)


def _load_header_only(path: Path):
    """nibabel's image of a FreeSurfer, MINC or Analyze file, voxels left on disk."""
    try:
        with reading(path):
            return _nibabel().load(str(path))
    except Exception as error:  # nibabel raises several kinds (ImageFileError, h5py's, ...)
        if isinstance(error, InputError | BackendError):
            raise
        raise InputError(f"{path}: cannot read: {first_line(error, named=False)}") from None


def _read_nibabel(path: Path) -> tuple[np.ndarray, VolumeMeta]:
    """A FreeSurfer (``.mgz``/``.mgh``), MINC or Analyze volume through nibabel: its values
    (scaled as the format says) and its voxel -> world affine, as a NIfTI volume's."""
    image = _load_header_only(path)
    try:
        with reading(path):
            stored = np.asanyarray(image.dataobj)
    except Exception as error:  # a file cut short, a codec nibabel cannot decode
        raise InputError(f"{path}: cannot read: {first_line(error, named=False)}") from None
    if stored.ndim not in (3, 4):
        raise InputError(f"{path}: expected a 3-D volume, got shape {stored.shape}")
    affine = np.asarray(image.affine, dtype=np.float64)
    return np.swapaxes(stored, 0, 2), VolumeMeta("nifti", None, affine)


def _read_nifti(path: Path) -> tuple[np.ndarray, VolumeMeta]:
    nibabel = _nibabel()
    # .nii: memory-mapped by nibabel; .nii.gz: decompressed straight into the array (zlib-ng
    # where installed)
    packed = path.name.lower().endswith(".gz")
    with open_gzip(path) if packed else contextlib.nullcontext() as stream:
        image = _load_nifti(nibabel, path, stream)
        stored = np.asanyarray(image.dataobj.get_unscaled())  # stored values, scaling in header
    if stored.ndim == 5 and stored.shape[3] == 1:  # (I, J, K, 1, C): NIfTI's vector layout
        stored = stored[:, :, :, 0, :]
    if stored.ndim == 2:  # a 2-D image (ANTs' -d 2): one slice, written back 2-D
        stored = stored[:, :, None]
    if stored.ndim not in (3, 4):
        raise InputError(f"{path}: expected a 3-D NIfTI volume, got shape {stored.shape}")
    voxels = np.swapaxes(stored, 0, 2)  # (I, J, K[, C]) -> (K, J, I[, C]): z, y, x
    header = image.header.copy()
    slope, inter = float(image.dataobj.slope), float(image.dataobj.inter)
    if (slope, inter) != (1.0, 0.0):  # nibabel moves the scaling to the proxy on load
        header.set_slope_inter(slope, inter)
    return voxels, VolumeMeta("nifti", header, world_affine(path, image))


def world_affine(path: Path, image) -> np.ndarray:
    """``image``'s voxel (x, y, z) -> world affine (4x4, nibabel's choice: the sform when its
    code is set, else the qform, else the voxel sizes), checked to be a map of space.

    Raises
    ------
    InputError
        The affine is not finite or its 3x3 part is singular (a zero column or row, a volume
        flattened to a plane): the header gives no voxel -> world map to warp in or to write.
    """
    affine = np.asarray(image.affine, dtype=np.float64)
    header = image.header
    if int(header["sform_code"]) > 0:
        which = f"sform (sform_code {int(header['sform_code'])})"
    elif int(header["qform_code"]) > 0:
        which = f"qform (qform_code {int(header['qform_code'])})"
    else:
        which = "voxel sizes (pixdim)"
    fix = "fix its header (e.g. copy a valid qform to the sform) or save it again with its tool"
    if not np.isfinite(affine).all():
        raise InputError(f"{path}: its header's {which} has non-finite values: {fix}")
    singular = np.linalg.svd(affine[:3, :3], compute_uv=False)
    if not singular[0] > 0 or singular[-1] <= singular[0] * 1e-12:
        raise InputError(
            f"{path}: its header's {which} is singular (rows "
            f"{np.array2string(affine[:3, :3], separator=', ').replace(chr(10), '')}), "
            f"so voxels have no place in the world: {fix}"
        )
    return affine


def _load_nifti(nibabel, path: Path, stream):
    """nibabel's image of ``path``, or of the decompressed ``stream`` of it."""
    try:
        with reading(path):
            if stream is None:
                return nibabel.load(str(path))
            size = stream.read(4)  # sizeof_hdr, either byte order: 348 NIfTI-1, 540 NIfTI-2
            stream.seek(0)
            two = 540 in (int.from_bytes(size, "little"), int.from_bytes(size, "big"))
            kind = nibabel.Nifti2Image if two else nibabel.Nifti1Image
            holder = nibabel.FileHolder(filename=str(path), fileobj=stream)
            return kind.from_file_map({"header": holder, "image": holder})
    except (
        nibabel.filebasedimages.ImageFileError,
        nibabel.spatialimages.HeaderDataError,
        nibabel.wrapstruct.WrapStructError,  # a header of the wrong size (an empty .nii.gz)
        OSError,
        EOFError,
        *GZIP_ERRORS,
    ) as error:
        raise InputError(f"{path}: not a NIfTI file nibabel can read: {error}") from None


def write_volume(
    target: Path,
    voxels: np.ndarray,
    meta: VolumeMeta,
    *,
    sampling_matrix: np.ndarray | None = None,
    overwrite: bool = False,
    cancelled: threading.Event | None = None,
    compress_level: int | None = None,
    xform_codes: tuple[int, int] | None = None,
) -> None:
    """Write ``voxels`` (D, H, W[, C]) to ``target`` atomically, in the format of its name.

    ``sampling_matrix`` (3, 4): output voxel -> input voxel, for the NIfTI header's new affine
    (identity when None). ``xform_codes``: the NIfTI (qform_code, sform_code) to write (a
    reference grid's, as antsApplyTransforms writes them); default: the input's, 1 where unset.
    ``compress_level``: the zlib level (0-9) of a ``.nii.gz`` or ``.mgz``; default ISA-L's fast
    level where installed, else zlib's 6 (:func:`gswarp.io.gzipped.gzip_member`). The file is
    compressed on every core the process may use, one gzip member per 4 MiB. Other formats
    ignore it.
    """
    target = Path(target)
    kind = volume_format(target) or "tiff"
    if kind in ("minc", "analyze") or (
        kind == "tiff" and not target.name.lower().endswith((".tif", ".tiff"))
    ):
        raise InputError(
            f"{target}: a volume is written as .npy, .nii, .nii.gz, .mgz, .mgh or .tif (a TIFF "
            "stack)"
        )
    voxels = np.ascontiguousarray(voxels)
    if kind == "nifti":
        header = _nifti_header(voxels, meta, sampling_matrix, xform_codes)  # fails before any file
    elif kind == "mgh":
        mgh = _mgh_bytes(target, voxels, meta, sampling_matrix)
    with atomic_output(target, overwrite=overwrite, cancelled=cancelled) as stream:
        if kind == "mgh":
            if target.name.lower().endswith(".mgz"):
                write_gzip(stream, [mgh], compress_level)
            else:
                stream.write(mgh)
        elif kind == "npy":
            np.save(stream, voxels, allow_pickle=False)
        elif kind == "tiff":  # tifffile takes a file object's .name (our fd) for a path
            buffer = io.BytesIO()
            _tifffile().imwrite(buffer, voxels)
            stream.write(buffer.getbuffer())
        elif target.name.lower().endswith(".gz"):
            write_gzip(stream, _nifti_pieces(header, voxels), compress_level)
        else:
            for piece in _nifti_pieces(header, voxels):
                stream.write(piece)


_MGH_DTYPES = ("uint8", "int16", "int32", "float32")


def _mgh_bytes(target: Path, voxels: np.ndarray, meta: VolumeMeta, sampling_matrix) -> bytes:
    """A FreeSurfer MGH file's bytes (uncompressed) for ``voxels`` (D, H, W[, C]) with the
    affine ``affine_in @ sampling_matrix``; MGH stores uint8, int16, int32 and float32 only."""
    nibabel = _nibabel()
    if voxels.dtype.name not in _MGH_DTYPES:
        raise InputError(
            f"{target}: FreeSurfer's MGH stores {', '.join(_MGH_DTYPES)}, not {voxels.dtype}: "
            "give the output's type (output.dtype, -u float) or write .nii.gz"
        )
    affine = _output_affine(meta.affine, sampling_matrix)
    image = nibabel.MGHImage(np.swapaxes(voxels, 0, 2), affine)
    return image.to_bytes()


def _output_affine(affine: np.ndarray | None, sampling_matrix) -> np.ndarray:
    """The output grid's voxel -> world affine: ``affine_in @ S``, ``S`` the output voxel ->
    input voxel ``sampling_matrix`` (3, 4) (identity when None; ``affine_in`` too)."""
    move = np.eye(4)
    if sampling_matrix is not None:
        move[:3] = sampling_matrix
    return (affine if affine is not None else np.eye(4)) @ move


def _nifti_header(voxels: np.ndarray, meta: VolumeMeta, sampling_matrix, codes=None):
    """The source's header (units, intent, scaling, extensions kept) with the new shape, dtype
    and sform/qform: ``affine_out = affine_in @ sampling_matrix``."""
    nibabel = _nibabel()
    if meta.format == "nifti" and meta.header is not None:
        header = meta.header.copy()
        affine = meta.affine
    else:  # a fresh header; the source's grid where it had one (FreeSurfer, MINC, Analyze)
        header = nibabel.Nifti1Header()
        affine = meta.affine if meta.affine is not None else np.eye(4)
    new_affine = _output_affine(affine, sampling_matrix)
    series = voxels.ndim == 4 and int(header["dim"][0]) == 4  # the source was (I, J, K, T)
    shape = voxels.shape[2::-1]
    if voxels.ndim == 3 and voxels.shape[0] == 1 and int(header["dim"][0]) == 2:
        shape = shape[:2]  # a 2-D source image stays 2-D
    if voxels.ndim == 4:
        shape += (voxels.shape[3],) if series else (1, voxels.shape[3])
    # (I, J, K), a time series (I, J, K, T), or NIfTI's vector layout (I, J, K, 1, C): the
    # same bytes (x fastest, the fourth or fifth axis slowest)
    header.set_data_shape(shape)
    header.set_data_dtype(voxels.dtype)
    qform_code, sform_code = codes or (int(header["qform_code"]), int(header["sform_code"]))
    if not (qform_code or sform_code):
        qform_code = sform_code = 1  # the grid is known: say so (scanner-anatomical)
    header.set_sform(new_affine, code=sform_code or (1 if codes is None else 0))
    header.set_qform(new_affine, code=qform_code or (1 if codes is None else 0))
    return header


def _nifti_pieces(header, voxels: np.ndarray) -> Iterator[bytes | memoryview]:
    """A NIfTI file's bytes in pieces: the header padded to the data offset, then the voxels
    4 MiB at a time (a compressing writer never holds a whole copy). A C-ordered (D, H, W[, C])
    array is NIfTI's Fortran-ordered (I, J, K[, 1, C]) byte for byte (for one channel; channels
    are moved first otherwise)."""
    buffer = io.BytesIO()
    header.write_to(buffer)
    offset = int(header.get_data_offset())
    yield buffer.getvalue() + b"\0" * (offset - buffer.tell())
    data = voxels if voxels.ndim == 3 else np.ascontiguousarray(np.moveaxis(voxels, -1, 0))
    data = data.astype(header.get_data_dtype(), copy=False)  # the header's byte order
    raw = memoryview(np.ascontiguousarray(data)).cast("B")
    chunk = 1 << 22
    for start in range(0, len(raw), chunk):
        yield raw[start : start + chunk]


def nifti_codes(path: Path) -> tuple[int, int]:
    """A NIfTI file's (qform_code, sform_code): what its world coordinates are (1 scanner,
    2 aligned, 3 Talairach, 4 MNI, 5 template)."""
    header = _load_nifti(_nibabel(), Path(path), None).header
    return int(header["qform_code"]), int(header["sform_code"])


def nifti_grid(path: Path) -> tuple[tuple[int, int, int], np.ndarray]:
    """A NIfTI file's grid: its spatial size (D, H, W) and voxel (x, y, z) -> world affine."""
    image = _load_nifti(_nibabel(), Path(path), None)
    if len(image.shape) < 2:
        raise InputError(f"{path}: expected a 2-D or 3-D NIfTI image, got shape {image.shape}")
    i, j, k = (int(n) for n in (*image.shape[:3], 1)[:3])  # a 2-D image: one slice
    return (k, j, i), world_affine(path, image)
