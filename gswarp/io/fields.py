"""Flow fields from files: ``.npy``, ``.npz`` (with a key), NIfTI ``.nii``/``.nii.gz`` and TIFF.

A field is ``(H, W, 2)`` or ``(D, H, W, 3)`` with the last axis ``(dx, dy[, dz])``; channel-first
``(2, H, W)`` / ``(3, D, H, W)`` is accepted when the shape says so unambiguously. A NIfTI field
is NIfTI's vector layout ``(I, J, K, 1, 3)`` or ``(I, J, K, 3)``, read as ``(K, J, I, 3)`` =
``(D, H, W, 3)`` with components (x, y, z) = (i, j, k); a TIFF holds the array as stored. Loaded
fields are cached (keyed by path, size and modification time), so a folder of inputs reads its
field once.
"""

from __future__ import annotations

import functools
import zipfile
from pathlib import Path

import numpy as np

from gswarp.errors import InputError, first_line
from gswarp.io.formats import is_nifti
from gswarp.io.gzipped import GZIP_ERRORS
from gswarp.io.remarks import reading

__all__ = ["field_layout", "load_field"]


def field_layout(shape: tuple[int, ...], spatial: int, name: str) -> str:
    """'last' or 'first': where the ``spatial`` components sit in an array of ``shape``.

    >>> field_layout((4, 5, 2), 2, "f.npy"), field_layout((2, 4, 5), 2, "f.npy")
    ('last', 'first')
    """
    expected = "(H, W, 2)" if spatial == 2 else "(D, H, W, 3)"
    if len(shape) != spatial + 1:
        raise InputError(
            f"{name}: expected a {spatial}-D field {expected}, got an array of shape {shape}"
        )
    last, first = shape[-1] == spatial, shape[0] == spatial
    if last and first:
        raise InputError(
            f"{name}: cannot tell whether the field of shape {shape} is channel-first or "
            f"channel-last; store it as {expected}"
        )
    if not (last or first):
        raise InputError(f"{name}: expected a field {expected}, got an array of shape {shape}")
    return "last" if last else "first"


def load_field(path: Path, spatial: int | None, key: str | None = None) -> np.ndarray:
    """The field in ``path`` as a read-only float64 array ``(*spatial_shape, spatial)``.

    ``spatial`` None: 2 or 3, from the array's number of dimensions.

    Raises
    ------
    InputError
        Missing or unreadable file, missing ``key``, non-numeric data or a shape that is not a
        ``spatial``-D field; the message names the file.
    """
    path = Path(path)
    try:
        stat = path.stat()
    except FileNotFoundError:
        raise InputError(f"{path}: no such flow field file") from None
    return _load_cached(path, stat.st_mtime_ns, stat.st_size, spatial, key)


@functools.lru_cache(maxsize=4)
def _load_cached(path: Path, mtime: int, size: int, spatial: int, key: str | None) -> np.ndarray:
    array = _read_array(path, key)
    name = str(path) if key is None else f"{path}[{key}]"
    if array.dtype.kind not in "fiu":
        raise InputError(f"{name}: expected a numeric field, got dtype {array.dtype}")
    if spatial is None:
        spatial = 3 if array.ndim == 4 else 2
    if field_layout(array.shape, spatial, name) == "first":
        array = np.moveaxis(array, 0, -1)
    field = np.ascontiguousarray(array, dtype=np.float64)
    field.flags.writeable = False
    return field


def _read_array(path: Path, key: str | None) -> np.ndarray:
    name = path.name.lower()
    if is_nifti(name):
        return _read_nifti_field(path)
    if name.endswith((".tif", ".tiff")):
        from gswarp.io.volumes import _tifffile

        try:
            with reading(path):
                return _tifffile().imread(path)
        except (OSError, ValueError) as error:
            raise InputError(f"{path}: cannot read the flow field: {error}") from None
    if name.endswith(".npy"):
        from gswarp.io.volumes import load_npy

        return load_npy(path)
    try:
        loaded = np.load(path, allow_pickle=False)
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as error:
        raise InputError(f"{path}: cannot read the flow field: {first_line(error)}") from None
    if isinstance(loaded, np.ndarray):
        return loaded
    with loaded:
        names = list(loaded.keys())
        if key is None:
            if len(names) != 1:
                raise InputError(
                    f"{path}: holds {len(names)} arrays ({', '.join(names)}); name one with key:"
                )
            key = names[0]
        if key not in names:
            raise InputError(f"{path}: no array {key!r}; it holds {', '.join(names)}")
        return loaded[key]


def _read_nifti_field(path: Path) -> np.ndarray:
    from gswarp.io.volumes import _load_nifti, _nibabel

    image = _load_nifti(_nibabel(), path, None)
    try:
        data = np.asanyarray(image.dataobj, dtype=np.float64)
    except (OSError, ValueError, EOFError, *GZIP_ERRORS) as error:
        raise InputError(f"{path}: cannot read the flow field: {first_line(error)}") from None
    if data.ndim == 5 and data.shape[3] == 1:
        data = data[:, :, :, 0, :]
    if data.ndim != 4:
        raise InputError(
            f"{path}: expected a NIfTI vector field (I, J, K, 1, 3), got shape {data.shape}"
        )
    return np.swapaxes(data, 0, 2)  # (K, J, I, 3): z, y, x
