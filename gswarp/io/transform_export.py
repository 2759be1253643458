"""A spec's map written as an ITK transform, so that SimpleITK and ANTs reproduce gswarp's warp.

What is written is the map every registration tool's applier uses: output (fixed) world point
-> input (moving) world point, in ITK's LPS millimetres (:mod:`gswarp.io.transform_files` reads
it back):

- an affine map as ``AffineTransform_double_3_3``: ITK text (``.tfm``, ``.txt``; 17 significant
  digits) or ITK/ANTs binary (``.mat``, MATLAB level-4 format, as ANTs writes
  ``0GenericAffine.mat``);
- any map (flows, elastic fields, chains) as a displacement field on the output grid
  (``.nii``/``.nii.gz``: a NIfTI vector image ``(X, Y, Z, 1, 3)``, intent ``vector``, LPS
  millimetres), which ITK's ``DisplacementFieldTransform`` reads exactly at the voxels it was
  computed for.

Written atomically (a temporary file renamed into place).
"""

from __future__ import annotations

import gzip
import struct
from pathlib import Path

import numpy as np

from gswarp.errors import InputError
from gswarp.io.atomic import atomic_output
from gswarp.io.formats import is_nifti
from gswarp.io.transform_files import _LPS  # RAS <-> LPS

__all__ = ["write_displacement_field", "write_itk_affine"]


def write_itk_affine(path: Path, pull_ras: np.ndarray, overwrite: bool = False) -> None:
    """Write the 4x4 RAS map ``pull_ras`` (output point -> input point) as an ITK affine
    transform, text or ``.mat`` by the name's suffix."""
    path = Path(path)
    lps = _LPS @ pull_ras @ _LPS
    parameters = np.concatenate([lps[:3, :3].ravel(), lps[:3, 3]])
    suffix = path.name.lower()
    if suffix.endswith((".tfm", ".txt")):
        text = (
            "#Insight Transform File V1.0\n#Transform 0\n"
            "Transform: AffineTransform_double_3_3\n"
            f"Parameters: {' '.join(repr(float(v)) for v in parameters)}\n"
            "FixedParameters: 0.0 0.0 0.0\n"
        )
        _write(path, text.encode("ascii"), overwrite)
    elif suffix.endswith(".mat"):
        data = _matlab4("AffineTransform_double_3_3", parameters)
        data += _matlab4("fixed", np.zeros(3))
        _write(path, data, overwrite)
    else:
        raise InputError(f"{path}: an affine is written as .tfm, .txt or .mat")


def _matlab4(name: str, column: np.ndarray) -> bytes:
    """One MATLAB level-4 matrix (a column of float64, little-endian), as ITK's MatlabTransformIO
    writes it: header (type 0 = little-endian double, rows, columns, imaginary, name length)."""
    encoded = name.encode("ascii") + b"\0"
    header = struct.pack("<5i", 0, column.size, 1, 0, len(encoded))
    return header + encoded + np.asarray(column, dtype="<f8").tobytes()


def write_displacement_field(
    path: Path, displacement_ras: np.ndarray, affine: np.ndarray, overwrite: bool = False
) -> None:
    """Write displacements (Z, Y, X, 3) in RAS millimetres on the grid of ``affine`` (voxel
    ``(x, y, z)`` -> RAS) as an ITK displacement field (LPS vectors)."""
    import nibabel

    path = Path(path)
    if not is_nifti(path):
        raise InputError(f"{path}: a displacement field is written as .nii or .nii.gz")
    lps = displacement_ras * np.array([-1.0, -1.0, 1.0])
    vectors = np.ascontiguousarray(lps.transpose(2, 1, 0, 3)[:, :, :, None, :])  # (X,Y,Z,1,3)
    image = nibabel.Nifti1Image(vectors.astype(np.float64), affine)
    image.header.set_intent("vector")
    image.header.set_xyzt_units("mm")
    data = image.to_bytes()
    if path.name.lower().endswith(".gz"):
        data = gzip.compress(data, compresslevel=6, mtime=0)
    _write(path, data, overwrite)


def _write(path: Path, data: bytes, overwrite: bool) -> None:
    with atomic_output(path, overwrite=overwrite) as stream:
        stream.write(data)
