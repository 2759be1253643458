"""ITK's linear transform classes -> one homogeneous matrix, by ITK's own definitions.

An ITK transform file names a class (``Euler3DTransform_double_3_3``) and holds its
``Parameters`` and ``FixedParameters``; every linear class maps a fixed (output) physical point
``p`` (LPS millimetres) to ``M (p - c) + c + t``, with ``M`` built from the parameters as the
class's ``ComputeMatrix`` builds it and ``c`` the centre (the fixed parameters, or for the
``Centered`` classes part of the parameters). :func:`itk_matrix` returns that map as a
``(k + 1, k + 1)`` matrix in ITK's LPS frame; :mod:`gswarp.io.transform_files` turns it into
RAS. Each class is checked against SimpleITK's ``TransformPoint`` on random transforms and
points (``tests/test_itk_transforms.py``).

Rotations: a *versor* is the vector part ``(x, y, z)`` of a unit quaternion, ``w`` its
non-negative scalar part; Euler angles are radians, and ``Euler3DTransform`` turns about Y, then
X, then Z (``R = Rz Rx Ry``), or about X, Y, Z with its ``ComputeZYX`` flag (the fourth fixed
parameter; ``R = Rz Ry Rx``).
"""

from __future__ import annotations

import math
import re

import numpy as np

__all__ = [
    "ITK_LINEAR_CLASSES",
    "UnsupportedTransformError",
    "itk_matrix",
    "matlab_transform",
    "split_class_name",
]

_CLASS = re.compile(r"^([A-Za-z0-9]+?)_(?:double|float)_(\d)(?:_(\d))?$")


class UnsupportedTransformError(ValueError):
    """A class gswarp does not read as a linear map (the message names it)."""


def split_class_name(name: str) -> tuple[str, int]:
    """``('Euler3DTransform', 3)`` from ``'Euler3DTransform_double_3_3'``.

    >>> split_class_name("AffineTransform_float_2_2")
    ('AffineTransform', 2)
    """
    match = _CLASS.match(name.strip())
    if match is None:
        raise UnsupportedTransformError(f"{name!r} is not an ITK transform class name")
    return match.group(1), int(match.group(2))


def _versor_matrix(v: np.ndarray) -> np.ndarray:
    """ITK's ``Versor::GetMatrix`` for the vector part ``v``; ``w = sqrt(1 - |v|^2)``, a versor
    of norm 1 or more taken as a half turn about its axis (as ``VersorRigid3DTransform``)."""
    x, y, z = (float(a) for a in v)
    norm2 = x * x + y * y + z * z
    if norm2 >= 1.0:
        scale = 1.0 / math.sqrt(norm2)
        x, y, z, w = x * scale, y * scale, z * scale, 0.0
    else:
        w = math.sqrt(1.0 - norm2)
    return _quaternion_matrix(x, y, z, w)


def _quaternion_matrix(x: float, y: float, z: float, w: float) -> np.ndarray:
    xx, yy, zz = x * x, y * y, z * z
    xy, xz, yz = x * y, x * z, y * z
    xw, yw, zw = x * w, y * w, z * w
    return np.array(
        [
            [1.0 - 2.0 * (yy + zz), 2.0 * (xy - zw), 2.0 * (xz + yw)],
            [2.0 * (xy + zw), 1.0 - 2.0 * (xx + zz), 2.0 * (yz - xw)],
            [2.0 * (xz - yw), 2.0 * (yz + xw), 1.0 - 2.0 * (xx + yy)],
        ]
    )


def _vnl_quaternion_matrix(x: float, y: float, z: float, w: float) -> np.ndarray:
    """ITK's ``QuaternionRigidTransform`` matrix: vnl's rotation matrix of the quaternion as
    stored, not normalized (diagonal ``w^2 + x^2 - y^2 - z^2``, ...: a quaternion of norm
    ``n`` scales by ``n^2``, as ITK applies it)."""
    rotation = _quaternion_matrix(x, y, z, w)
    xx, yy, zz, ww = x * x, y * y, z * z, w * w
    rotation[0, 0] = ww + xx - yy - zz
    rotation[1, 1] = ww - xx + yy - zz
    rotation[2, 2] = ww - xx - yy + zz
    return rotation


def _euler_3d(angles: np.ndarray, zyx: bool) -> np.ndarray:
    cx, sx = math.cos(angles[0]), math.sin(angles[0])
    cy, sy = math.cos(angles[1]), math.sin(angles[1])
    cz, sz = math.cos(angles[2]), math.sin(angles[2])
    rx = np.array([[1.0, 0.0, 0.0], [0.0, cx, -sx], [0.0, sx, cx]])
    ry = np.array([[cy, 0.0, sy], [0.0, 1.0, 0.0], [-sy, 0.0, cy]])
    rz = np.array([[cz, -sz, 0.0], [sz, cz, 0.0], [0.0, 0.0, 1.0]])
    return rz @ ry @ rx if zyx else rz @ rx @ ry


def _rotation_2d(angle: float) -> np.ndarray:
    c, s = math.cos(angle), math.sin(angle)
    return np.array([[c, -s], [s, c]])


def _scale_versor(p: np.ndarray) -> np.ndarray:
    """``ScaleVersor3DTransform``: ITK adds the scales to the rotation's diagonal less one
    (``M = R + diag(s) - I``), not ``R diag(s)``."""
    return _versor_matrix(p[:3]) + np.diag(p[6:9]) - np.eye(3)


def _scale_skew_versor(p: np.ndarray) -> np.ndarray:
    """``ScaleSkewVersor3DTransform``: ``R + diag(s) - I`` as ScaleVersor's, plus the six skews
    off the diagonal (``K``: [[., k0, k1], [k2, ., k3], [k4, k5, .]]), as ITK's ComputeMatrix."""
    matrix = _scale_versor(p)
    k = p[9:15]
    matrix[0, 1] += k[0]
    matrix[0, 2] += k[1]
    matrix[1, 0] += k[2]
    matrix[1, 2] += k[3]
    matrix[2, 0] += k[4]
    matrix[2, 1] += k[5]
    return matrix


def _compose_scale_skew_versor(p: np.ndarray) -> np.ndarray:
    """``ComposeScaleSkewVersor3DTransform``: ``R S K``, ``K`` unit upper triangular with the
    three skews (k0 at (0, 1), k1 at (0, 2), k2 at (1, 2))."""
    skew = np.eye(3)
    skew[0, 1], skew[0, 2], skew[1, 2] = p[9], p[10], p[11]
    return _versor_matrix(p[:3]) @ np.diag(p[6:9]) @ skew


# class -> (dimension, parameter count, fixed parameter counts allowed, parse(p, f) -> (M, c, t))
def _affine(k):
    def parse(p, f):
        return p[: k * k].reshape(k, k), _centre(f, k), p[k * k : k * k + k]

    return (k, k * k + k, (0, k), parse)


def _centre(fixed: np.ndarray, k: int) -> np.ndarray:
    return fixed[:k].astype(np.float64) if fixed.size >= k else np.zeros(k)


_LINEAR = {
    ("AffineTransform", 3): _affine(3),
    ("AffineTransform", 2): _affine(2),
    ("MatrixOffsetTransformBase", 3): _affine(3),
    ("MatrixOffsetTransformBase", 2): _affine(2),
    ("Rigid3DTransform", 3): _affine(3),
    ("FixedCenterOfRotationAffineTransform", 3): _affine(3),
    # no centre: SimpleITK writes no fixed parameters, other writers k zeros
    ("TranslationTransform", 3): (3, 3, (0, 3), lambda p, f: (np.eye(3), np.zeros(3), p)),
    ("TranslationTransform", 2): (2, 2, (0, 2), lambda p, f: (np.eye(2), np.zeros(2), p)),
    ("IdentityTransform", 3): (3, 0, (0, 3), lambda p, f: (np.eye(3), np.zeros(3), np.zeros(3))),
    ("IdentityTransform", 2): (2, 0, (0, 2), lambda p, f: (np.eye(2), np.zeros(2), np.zeros(2))),
    ("Euler3DTransform", 3): (
        3,
        6,
        (0, 3, 4),
        lambda p, f: (_euler_3d(p[:3], f.size > 3 and f[3] != 0), _centre(f, 3), p[3:6]),
    ),
    ("CenteredEuler3DTransform", 3): (
        3,
        9,
        (0, 3, 4),
        lambda p, f: (_euler_3d(p[:3], f.size > 3 and f[3] != 0), p[3:6], p[6:9]),
    ),
    ("VersorTransform", 3): (
        3,
        3,
        (0, 3),
        lambda p, f: (_versor_matrix(p[:3]), _centre(f, 3), np.zeros(3)),
    ),
    ("VersorRigid3DTransform", 3): (
        3,
        6,
        (0, 3),
        lambda p, f: (_versor_matrix(p[:3]), _centre(f, 3), p[3:6]),
    ),
    ("QuaternionRigidTransform", 3): (
        3,
        7,
        (0, 3),
        lambda p, f: (_vnl_quaternion_matrix(*(float(v) for v in p[:4])), _centre(f, 3), p[4:7]),
    ),
    ("Similarity3DTransform", 3): (
        3,
        7,
        (0, 3),
        lambda p, f: (p[6] * _versor_matrix(p[:3]), _centre(f, 3), p[3:6]),
    ),
    ("ScaleVersor3DTransform", 3): (
        3,
        9,
        (0, 3),
        lambda p, f: (_scale_versor(p), _centre(f, 3), p[3:6]),
    ),
    ("ScaleSkewVersor3DTransform", 3): (
        3,
        15,
        (0, 3),
        lambda p, f: (_scale_skew_versor(p), _centre(f, 3), p[3:6]),
    ),
    ("ComposeScaleSkewVersor3DTransform", 3): (
        3,
        12,
        (0, 3),
        lambda p, f: (_compose_scale_skew_versor(p), _centre(f, 3), p[3:6]),
    ),
    ("ScaleTransform", 3): (3, 3, (0, 3), lambda p, f: (np.diag(p), _centre(f, 3), np.zeros(3))),
    ("ScaleTransform", 2): (2, 2, (0, 2), lambda p, f: (np.diag(p), _centre(f, 2), np.zeros(2))),
    ("ScaleLogarithmicTransform", 3): (
        3,
        3,
        (0, 3),
        lambda p, f: (np.diag(np.exp(p)), _centre(f, 3), np.zeros(3)),
    ),
    ("Euler2DTransform", 2): (
        2,
        3,
        (0, 2),
        lambda p, f: (_rotation_2d(p[0]), _centre(f, 2), p[1:3]),
    ),
    ("Rigid2DTransform", 2): (
        2,
        3,
        (0, 2),
        lambda p, f: (_rotation_2d(p[0]), _centre(f, 2), p[1:3]),
    ),
    ("CenteredRigid2DTransform", 2): (
        2,
        5,
        (0, 2),
        lambda p, f: (_rotation_2d(p[0]), p[1:3], p[3:5]),
    ),
    ("Similarity2DTransform", 2): (
        2,
        4,
        (0, 2),
        lambda p, f: (p[0] * _rotation_2d(p[1]), _centre(f, 2), p[2:4]),
    ),
    ("CenteredSimilarity2DTransform", 2): (
        2,
        6,
        (0, 2),
        lambda p, f: (p[0] * _rotation_2d(p[1]), p[2:4], p[4:6]),
    ),
    ("CenteredAffineTransform", 3): (
        3,
        15,
        (0, 3),
        lambda p, f: (p[:9].reshape(3, 3), p[9:12], p[12:15]),
    ),
    ("CenteredAffineTransform", 2): (
        2,
        8,
        (0, 2),
        lambda p, f: (p[:4].reshape(2, 2), p[4:6], p[6:8]),
    ),
}

ITK_LINEAR_CLASSES = tuple(sorted({f"{name}_{k}" for name, k in _LINEAR}))
"""The linear classes read, as ``Name_k`` (``Euler3DTransform_3``)."""


def itk_matrix(name: str, parameters: np.ndarray, fixed: np.ndarray) -> np.ndarray:
    """The ``(k + 1, k + 1)`` homogeneous matrix of the ITK linear transform ``name`` with these
    parameters, mapping fixed LPS points to moving ones (``M (p - c) + c + t``).

    Raises
    ------
    UnsupportedTransformError
        A class that is not linear or not known, or a parameter count the class does not have
        (the message names the class and what was expected).

    >>> m = itk_matrix("Euler2DTransform_double_2_2", np.array([np.pi / 2, 1, 0]), np.zeros(2))
    >>> np.round(m, 12).tolist()
    [[0.0, -1.0, 1.0], [1.0, 0.0, 0.0], [0.0, 0.0, 1.0]]
    """
    base, k = split_class_name(name)
    entry = _LINEAR.get((base, k))
    if entry is None:
        raise UnsupportedTransformError(f"{name} is not a linear transform class gswarp reads")
    _, count, fixed_counts, parse = entry
    parameters = np.asarray(parameters, dtype=np.float64).ravel()
    fixed = np.asarray(fixed, dtype=np.float64).ravel()
    if parameters.size != count:
        raise UnsupportedTransformError(
            f"{name} has {count} parameters, the file gives {parameters.size}"
        )
    if fixed.size not in fixed_counts:
        expected = " or ".join(str(n) for n in fixed_counts)
        raise UnsupportedTransformError(
            f"{name} has {expected} fixed parameters, the file gives {fixed.size}"
        )
    with np.errstate(all="ignore"):
        linear, centre, translation = parse(parameters, fixed)
        matrix = np.eye(k + 1)
        matrix[:k, :k] = linear
        matrix[:k, k] = np.asarray(translation) + centre - linear @ centre
    return matrix


_MATLAB_PRECISION = {0: "f8", 1: "f4", 2: "i4", 3: "i2", 4: "u2", 5: "u1"}


def matlab_transform(data: bytes) -> tuple[str, np.ndarray, np.ndarray]:
    """(class name, parameters, fixed parameters) of an ITK transform in MATLAB's level-4 format
    (ITK's ``MatlabTransformIO``: ``0GenericAffine.mat``): a column named by the class, then one
    named ``fixed``; either byte order, any numeric precision.

    Raises
    ------
    ValueError
        Not such a file (cut short, another MATLAB version, no transform column).

    >>> import struct
    >>> def column(name, values):
    ...     text = name.encode() + b"\\0"
    ...     head = struct.pack("<5i", 0, len(values), 1, 0, len(text))
    ...     return head + text + np.asarray(values, "<f8").tobytes()
    >>> data = column("TranslationTransform_double_3_3", [1, 2, 3]) + column("fixed", [])
    >>> name, parameters, fixed = matlab_transform(data)
    >>> name, parameters.tolist(), fixed.size
    ('TranslationTransform_double_3_3', [1.0, 2.0, 3.0], 0)
    """
    variables: list[tuple[str, np.ndarray]] = []
    offset = 0
    while offset < len(data):
        if len(data) - offset < 20:
            raise ValueError("cut short inside a matrix header")
        kind = int.from_bytes(data[offset : offset + 4], "little")
        if kind > 9999:  # a big-endian file's header (its type's thousands digit is 1)
            kind = int.from_bytes(data[offset : offset + 4], "big")
        precision = (kind // 10) % 10
        if kind // 1000 not in (0, 1) or kind % 10 or precision not in _MATLAB_PRECISION:
            raise ValueError(f"not a MATLAB level-4 numeric matrix (type {kind})")
        order = "<" if kind // 1000 == 0 else ">"
        rows, columns, imaginary, name_length = np.frombuffer(
            data, dtype=f"{order}i4", count=4, offset=offset + 4
        )
        if imaginary or rows < 0 or columns < 0 or name_length < 1:
            raise ValueError("a complex or malformed MATLAB matrix")
        offset += 20
        name = data[offset : offset + name_length].split(b"\0", 1)[0].decode("ascii", "replace")
        offset += int(name_length)
        dtype = np.dtype(order + _MATLAB_PRECISION[precision])
        count = int(rows) * int(columns)
        if len(data) - offset < count * dtype.itemsize:
            raise ValueError(f"cut short inside {name!r}")
        values = np.frombuffer(data, dtype=dtype, count=count, offset=offset)
        offset += count * dtype.itemsize
        variables.append((name, values.astype(np.float64)))
    transforms = [(n, v) for n, v in variables if n != "fixed"]
    fixed = next((v for n, v in variables if n == "fixed"), np.zeros(0))
    if len(transforms) != 1:
        raise ValueError(f"expected one transform column besides 'fixed', found {len(transforms)}")
    return transforms[0][0], transforms[0][1], fixed
