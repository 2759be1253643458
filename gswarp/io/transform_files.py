"""Transforms written by registration tools, read with nitransforms (extra ``transforms``).

Every format is brought to one form: a 4x4 matrix in RAS millimetres (NIfTI's world, the one
gswarp plans volumes in) that maps a point of the output (the *fixed* or reference image) to the
point of the input (the *moving* image) it is read from -- the direction in which
``antsApplyTransforms``, ``sitk.Resample`` and ``flirt -applyxfm`` use their files. ITK and ANTs
files hold that map in LPS millimetres (``x`` and ``y`` negated); nitransforms converts them,
and the other formats' conventions, to RAS.

Formats, told from the file unless ``format`` says: ITK text (``.tfm``, ``.txt``), ITK/ANTs binary
(``.mat`` in MATLAB's format: ``0GenericAffine.mat``), AFNI (``.aff12.1D``), FreeSurfer LTA
(``.lta``), nitransforms' X5 (``.x5``) and ITK's HDF5 composites (``.h5``: read with h5py,
:func:`load_composite`). A text ``.mat`` is FSL FLIRT's, which is defined on the
two images' voxel grids: read with both headers (:func:`load_fsl`; the reference is the output
grid, ``output: {like: REF}`` or ``-r REF``).
ITK/ANTs displacement fields (``1Warp.nii.gz``: a NIfTI vector image, ``(X, Y, Z, 1, 3)``, its
vectors in LPS millimetres on the field's own grid) are read with nibabel
(:func:`load_displacement_field`): at an output world point ``p`` the input point is
``p + u(p)``, ``u`` trilinear on the field's grid.
"""

from __future__ import annotations

import functools
import warnings
from pathlib import Path

import numpy as np

from gswarp.errors import BackendError, InputError, first_line
from gswarp.io.formats import is_composite_transform, is_nifti, transform_format
from gswarp.io.gzipped import GZIP_ERRORS
from gswarp.io.itk_transforms import (
    UnsupportedTransformError,
    itk_matrix,
    matlab_transform,
    split_class_name,
)
from gswarp.transforms import BSplineGrid, DisplacementField

__all__ = [
    "DisplacementField",
    "file_format",
    "load_affine",
    "load_composite",
    "load_displacement_field",
    "load_fsl",
]

_NITRANSFORMS_FORMAT = {"itk": "itk", "afni": "afni", "lta": "fs", "x5": "X5", "fsl": "fsl"}


def _nitransforms():
    try:
        import nitransforms
        import nitransforms.linear
    except ImportError as error:
        raise BackendError(
            f"transform files need the transforms extra ({error.name} is missing): "
            "pip install 'gswarp[transforms]'"
        ) from None
    return nitransforms


def file_format(path: Path) -> str:
    """'itk', 'fsl', 'afni', 'lta' or 'x5' from the file's name and, for ``.mat``, its content
    (MATLAB's binary format: ITK/ANTs; text: FSL).

    Raises
    ------
    InputError
        A name no format uses, or a displacement field / composite file (not read yet).
    """
    if is_nifti(path) or is_composite_transform(path):
        return "itk"
    kind = transform_format(path)
    if kind == "mat":
        head = path.read_bytes()[:256]
        try:
            text = head.decode("ascii")
        except UnicodeDecodeError:
            return "itk"
        return "itk" if not text.strip() or "\0" in text else "fsl"
    if kind is not None:
        return kind
    raise InputError(
        f"{path}: not a transform file gswarp knows by its name (.tfm, .txt, .mat, "
        ".aff12.1D, .lta, .x5); give its format: file: {path: ..., format: itk}"
    )


Grid = tuple[tuple[int, ...], np.ndarray]  # an image's spatial size (D, H, W) and voxel -> RAS


def load_fsl(path: Path, reference: Grid, moving: Grid, invert: bool = False) -> np.ndarray:
    """An FSL FLIRT matrix as :func:`load_affine`'s RAS matrix, given the reference (``-ref``,
    the output grid) and the moving (``-in``, the input) images' grids: FLIRT works in each
    image's scaled voxel coordinates (x flipped where the affine's determinant is positive),
    which nitransforms converts with the two headers.

    Raises
    ------
    InputError
        Not a 4x4 FSL matrix, or a singular one.
    BackendError
        The transforms extra is missing.
    """
    return load_on_grids(path, "fsl", reference, moving, invert)


def load_afni(path: Path, reference: Grid, moving: Grid, invert: bool = False) -> np.ndarray:
    """An AFNI ``.aff12.1D`` matrix as :func:`load_affine`'s RAS matrix, given the reference
    (the output grid) and the moving (the input) images' grids: AFNI stores matrices between
    the images' *cardinal* (de-obliqued) grids, so an oblique image's matrix differs from its
    plain reading by that image's rotation (nitransforms' ``to_ras(reference, moving)``; read
    without the headers, an image tilted 0.09 rad about x moved points by 8.9 mm).

    Raises
    ------
    InputError, BackendError
        As :func:`load_affine`.
    """
    return load_on_grids(path, "afni", reference, moving, invert)


def load_on_grids(
    path: Path, kind: str, reference: Grid, moving: Grid, invert: bool = False
) -> np.ndarray:
    """A linear transform file whose meaning depends on the two images' grids (``kind`` 'fsl'
    or 'afni'), as :func:`load_affine`'s RAS matrix (cached by file and grids)."""
    path = Path(path)
    stat = path.stat()
    key = tuple(
        (tuple(int(n) for n in shape), np.asarray(affine, dtype=np.float64).tobytes())
        for shape, affine in (reference, moving)
    )
    matrix = _load_on_grids(str(path), stat.st_mtime_ns, stat.st_size, kind, key)
    return np.linalg.inv(matrix) if invert else matrix.copy()


_GRID_LABELS = {"fsl": "an FSL FLIRT matrix", "afni": "an AFNI transform"}


@functools.lru_cache(maxsize=16)
def _load_on_grids(path: str, mtime: int, size: int, kind: str, grids: tuple) -> np.ndarray:
    import nibabel

    images = []
    for shape, affine_bytes in grids:
        affine = np.frombuffer(affine_bytes, dtype=np.float64).reshape(4, 4)
        voxels = np.broadcast_to(np.uint8(0), tuple(shape[::-1]))  # (i, j, k), no memory
        images.append(nibabel.Nifti1Image(voxels, affine))
    return _read_linear(path, _GRID_LABELS[kind], fmt=kind, reference=images[0], moving=images[1])


def _read_linear(path: str, label: str, **options) -> np.ndarray:
    """nitransforms' RAS matrix of the linear transform file ``path`` (``options``: its
    ``linear.load`` arguments), checked; what it raises becomes one :class:`InputError` line."""
    nitransforms = _nitransforms()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            loaded = nitransforms.linear.load(path, **options)
    except Exception as error:  # nitransforms raises many kinds for a file it cannot parse
        raise InputError(f"{path}: cannot read it as {label} ({first_line(error)})") from None
    return checked_matrix(path, np.asarray(loaded.matrix, dtype=np.float64))


_LPS = np.diag([-1.0, -1.0, 1.0, 1.0])  # LPS <-> RAS (its own inverse)


def _itk_matrix_file(path: Path) -> np.ndarray | None:
    """The RAS matrix of an ITK transform file of linear transforms -- text (``.tfm``,
    ``.txt``) or MATLAB's binary ``.mat`` -- read in float64 by ITK's definitions of each class
    (:mod:`gswarp.io.itk_transforms`), a composite's transforms multiplied; None for a text
    ``.mat`` (FSL's, read with the images' headers).

    nitransforms 25.1 parsed ITK text parameters as float32, which moved points by ~1e-6 mm
    (measured 5.9e-7 on a rotation with a centre 20 mm away), and read no class but the affine
    and translation classes; ITK writes 17 digits, and every class is read here."""
    entries = _itk_entries(path)
    if entries is None:
        return None  # a text .mat: FSL's
    pull = np.eye(4)
    with np.errstate(all="ignore"):  # non-finite parameters: checked_matrix names them
        for name, parameters, fixed in entries:  # a composite maps p to T1(T2(...Tn(p)))
            pull = pull @ _itk_linear(str(path), name, parameters, fixed)
    return checked_matrix(str(path), pull)


def _itk_entries(path: Path) -> tuple[tuple[str, np.ndarray, np.ndarray], ...] | None:
    """(class, parameters, fixed parameters) of each transform of an ITK text or MATLAB
    ``.mat`` file, in the file's order; None for a text ``.mat`` (FSL's). Read once per name,
    modification time and size: a folder run asks for each input (whether the file holds a
    B-spline, then its maps)."""
    stat = path.stat()
    return _read_itk_entries(str(path), stat.st_mtime_ns, stat.st_size)


@functools.lru_cache(maxsize=64)
def _read_itk_entries(name: str, mtime: int, size: int):
    path = Path(name)
    data = path.read_bytes()
    try:
        text = data.decode("ascii")
    except UnicodeDecodeError:
        text = None
    if text is None or "\0" in text:
        if path.name.lower().endswith((".tfm", ".txt")):
            raise InputError(f"{path}: not an ITK text transform file (binary content)")
        try:
            entries = [matlab_transform(data)]
        except ValueError as error:
            raise InputError(f"{path}: not an ITK .mat transform file ({error})") from None
    elif text.startswith("#Insight Transform File"):
        entries = _itk_text_entries(path, text)
    elif path.name.lower().endswith((".tfm", ".txt")):
        raise InputError(
            f"{path}: not an ITK text transform file "
            + ("(it is empty)" if not text.strip() else "(no '#Insight Transform File' line)")
        )
    else:
        return None  # a text .mat: FSL's
    for _, parameters, fixed in entries:  # shared by every caller: read-only
        parameters.setflags(write=False)
        fixed.setflags(write=False)
    return tuple(entries)


def _itk_text_entries(path: Path, text: str) -> list[tuple[str, np.ndarray, np.ndarray]]:
    """(class, parameters, fixed parameters) of each transform of an ITK text file, in the file's
    order (a ``CompositeTransform`` line, which holds none, left out)."""
    entries: list[list] = []
    for line in text.splitlines():
        key, _, value = line.partition(":")
        value = value.strip()
        if key == "Transform":
            if not value.startswith("CompositeTransform_"):
                entries.append([value, None, None])
        elif key in ("Parameters", "FixedParameters") and entries:
            slot = 1 if key == "Parameters" else 2
            try:
                entries[-1][slot] = np.array(value.split(), dtype=np.float64)
            except ValueError:
                shown = value if len(value) < 40 else value[:37] + "..."
                raise InputError(f"{path}: its {key} are not numbers: {shown!r}") from None
    if not entries:
        raise InputError(f"{path}: no 'Transform:' line (an ITK transform file cut short?)")
    for name, parameters, _ in entries:
        if parameters is None:
            raise InputError(
                f"{path}: its {name} has no 'Parameters:' line (an ITK transform file cut short?)"
            )
    return [(n, p, f if f is not None else np.zeros(0)) for n, p, f in entries]


def _itk_linear(path: str, name: str, parameters: np.ndarray, fixed: np.ndarray) -> np.ndarray:
    """The RAS 4x4 of one 3-D linear ITK transform (LPS in the file). Non-finite or huge
    parameters give a non-finite matrix, without NumPy's warnings: :func:`checked_matrix`
    refuses it by name."""
    try:
        _, k = split_class_name(name)
    except UnsupportedTransformError as error:
        raise InputError(f"{path}: {error}") from None
    if k != 3:
        raise InputError(
            f"{path}: a {k}-D transform ({name}); transform files apply to 3-D volumes here"
        )
    try:
        lps = itk_matrix(name, parameters, fixed)
    except UnsupportedTransformError as error:
        raise InputError(
            f"{path}: {error} (linear classes, displacement fields in .nii/.h5)"
        ) from None
    return _LPS @ lps @ _LPS


def load_composite(path: Path, invert: bool = False) -> tuple:
    """An ITK HDF5 transform file's transforms, each as :func:`load_affine`'s RAS matrix or a
    :class:`DisplacementField`, in the order they act on an output point (ITK applies a
    composite's last added transform first).

    Raises
    ------
    InputError
        Unreadable, a transform class gswarp does not read, or ``invert`` with a field in it.
    BackendError
        h5py (part of the transforms extra) is missing.
    """
    path = Path(path)
    stat = path.stat()
    components = _load_composite(str(path), stat.st_mtime_ns, stat.st_size)
    if not invert:
        return components
    if any(isinstance(c, DisplacementField | BSplineGrid) for c in components):
        raise InputError(
            f"{path}: a composite with a displacement field or B-spline cannot be inverted "
            "here; give the inverse composite the registration wrote (ANTs: "
            "...InverseComposite.h5)"
        )
    return tuple(np.linalg.inv(c) for c in reversed(components))


@functools.lru_cache(maxsize=8)
def _load_composite(path: str, mtime: int, size: int) -> tuple:
    try:
        import h5py
    except ImportError:
        raise BackendError(
            "ITK .h5 transform files need the transforms extra (h5py is missing): "
            "pip install 'gswarp[transforms]'"
        ) from None
    try:
        with h5py.File(path, "r") as stream:
            group = stream["TransformGroup"]
            entries = []
            for key in sorted(group, key=int):
                node = group[key]
                name = bytes(np.ravel(node["TransformType"][()])[0]).decode("ascii")
                if name.startswith("CompositeTransform"):
                    continue
                parameters = np.asarray(node["TransformParameters"][()], dtype=np.float64)
                fixed = np.asarray(node["TransformFixedParameters"][()], dtype=np.float64)
                entries.append((name, parameters, fixed))
    except (OSError, KeyError, ValueError, TypeError) as error:
        raise InputError(f"{path}: not an ITK HDF5 transform file ({error})") from None
    components = [_component(path, *entry) for entry in entries]
    if not components:
        raise InputError(f"{path}: holds no transform")
    return tuple(reversed(components))  # ITK's queue order -> the order on the points


def load_itk(path: Path, invert: bool = False) -> tuple:
    """An ITK text or ``.mat`` file's maps in the order they act on an output point: RAS
    matrices (a file of linear transforms gives one, as :func:`load_affine`) and
    :class:`~gswarp.transforms.BSplineGrid` s (ITK's LPS frame).

    Raises
    ------
    InputError
        As :func:`load_affine`; ``invert`` with a B-spline in it (it has no exact inverse).
    """
    path = Path(path)
    entries = _itk_entries(path)
    splines = entries is not None and any(n.startswith("BSplineTransform_") for n, _, _ in entries)
    if entries is not None and not splines and all(_dimension(n) == 2 for n, _, _ in entries):
        return (load_itk_2d(path, invert),)
    if entries is None or not any(n.startswith("BSplineTransform_") for n, _, _ in entries):
        return (load_affine(path, "itk", invert),)
    if invert:
        raise InputError(
            f"{path}: a B-spline transform has no exact inverse; give the inverse the "
            "registration wrote"
        )
    return tuple(_component(str(path), *entry) for entry in reversed(entries))


def _dimension(name: str) -> int | None:
    """The dimension of an ITK class name (``..._double_2_2`` -> 2); None if it has none."""
    try:
        return split_class_name(name)[1]
    except UnsupportedTransformError:
        return None


def load_itk_2d(path: Path, invert: bool = False) -> np.ndarray:
    """The 3x3 matrix of a file of 2-D linear ITK transforms (text or ``.mat``; a composite's
    transforms multiplied) mapping output points to input points in ITK's physical space of a
    plain image -- pixel (x, y), spacing 1, origin 0, as SimpleITK reads a PNG or TIFF, so
    the same numbers as pixels; its inverse with ``invert``.

    Raises
    ------
    InputError
        A class that is not a 2-D linear one, or a singular or non-finite matrix.
    """
    path = Path(path)
    pull = np.eye(3)
    with np.errstate(all="ignore"):
        for entry in _itk_entries(path) or ():
            pull = pull @ _itk_linear_2d(str(path), *entry)
    pull = checked_matrix(str(path), pull, 2)
    return np.linalg.inv(pull) if invert else pull


def _itk_linear_2d(path: str, name: str, parameters: np.ndarray, fixed: np.ndarray) -> np.ndarray:
    """The 3x3 of one 2-D linear ITK transform in its own frame (a plain image's pixels, or a
    2-D NIfTI's LPS x and y): no flips."""
    try:
        return itk_matrix(name, parameters, fixed)
    except UnsupportedTransformError as error:
        raise InputError(f"{path}: {error} (2-D linear classes)") from None


def _component(path: str, name: str, parameters: np.ndarray, fixed: np.ndarray):
    if name.startswith("BSplineTransform_"):
        return _bspline(path, name, parameters, fixed)
    if name.startswith("DisplacementFieldTransform_") and fixed.size == 18:
        shape = tuple(int(np.rint(v)) for v in fixed[:3])  # (X, Y, Z)
        if parameters.size != 3 * int(np.prod(shape)):
            raise InputError(f"{path}: its displacement field's size does not match its grid")
        origin, spacing, direction = fixed[3:6], fixed[6:9], fixed[9:18].reshape(3, 3)
        grid = np.eye(4)
        grid[:3, :3] = direction @ np.diag(spacing)
        grid[:3, 3] = origin
        values = parameters.reshape(shape[2], shape[1], shape[0], 3) * np.array([-1.0, -1.0, 1.0])
        values.setflags(write=False)
        return DisplacementField(values, _LPS @ grid)  # ITK's grid is LPS: voxel -> RAS
    if _dimension(name) == 2:  # with a 2-D B-spline: its own frame, no flips
        return checked_matrix(path, _itk_linear_2d(path, name, parameters, fixed), 2)
    return checked_matrix(path, _itk_linear(path, name, parameters, fixed))


def _bspline(path: str, name: str, parameters: np.ndarray, fixed: np.ndarray) -> BSplineGrid:
    """ITK's ``BSplineTransform_double_k_k`` (cubic, k = 2 or 3): fixed parameters the control
    grid's size, origin, spacing and direction (ITK's frame: LPS for volumes, a plain 2-D
    image's pixels), parameters the x, then y[, then z] displacements."""
    k = _dimension(name)
    if k not in (2, 3) or not name.endswith(f"_{k}_{k}") or fixed.size != 3 * k + k * k:
        raise InputError(
            f"{path}: {name} with {fixed.size} fixed parameters (gswarp reads 2-D and 3-D "
            "cubic B-spline transforms: 10 or 18)"
        )
    size = tuple(int(np.rint(v)) for v in fixed[:k])  # (X, Y[, Z])
    if min(size) < 4 or parameters.size != k * int(np.prod(size)):
        raise InputError(f"{path}: its B-spline coefficients do not match its grid {size}")
    coefficients = parameters.reshape(k, *size[::-1]).copy()
    coefficients.setflags(write=False)
    return BSplineGrid(
        coefficients,
        fixed[k : 2 * k].copy(),
        fixed[2 * k : 3 * k].copy(),
        fixed[3 * k :].reshape(k, k),
    )


def load_displacement_field(path: Path, invert: bool = False) -> DisplacementField:
    """An ITK/ANTs displacement field (NIfTI vector image, LPS vectors) as RAS displacements.

    Raises
    ------
    InputError
        Unreadable, not a 3-D field of 3-vectors, not finite, or ``invert`` (a dense field has
        no exact inverse; ANTs writes one: ``1InverseWarp.nii.gz``).
    """
    path = Path(path)
    if invert:
        raise InputError(
            f"{path}: a displacement field cannot be inverted here (it has no closed-form "
            "inverse); give the inverse field the registration wrote (ANTs: 1InverseWarp.nii.gz)"
        )
    stat = path.stat()
    return _load_field(str(path), stat.st_mtime_ns, stat.st_size)


@functools.lru_cache(maxsize=8)
def _load_field(path: str, mtime: int, size: int) -> DisplacementField:
    import contextlib

    from gswarp.io.gzipped import open_gzip
    from gswarp.io.volumes import _load_nifti, _nibabel, world_affine

    packed = path.lower().endswith(".gz")  # decompressed straight into the array, as volumes
    try:
        with open_gzip(Path(path)) if packed else contextlib.nullcontext() as stream:
            image = _load_nifti(_nibabel(), Path(path), stream)
            if packed and _streamable(image.dataobj):
                values = _streamed_values(stream, image.dataobj, path)
                if values is None:
                    raise InputError(f"{path}: the displacement field holds NaN or infinite values")
                values.setflags(write=False)
                return DisplacementField(values, world_affine(path, image))
            data = np.asanyarray(image.dataobj)
    except (OSError, ValueError, EOFError, *GZIP_ERRORS) as error:
        if isinstance(error, InputError):
            raise
        raise InputError(
            f"{path}: cannot read the displacement field's values: {first_line(error)}"
        ) from None
    shape = data.shape
    if len(shape) == 5 and shape[3] == 1:
        data = data[:, :, :, 0, :]
    planar = data.ndim == 4 and data.shape[2:] == (1, 2)  # a 2-D warp: one slice, 2-vectors
    if planar:  # its z displacement is 0
        data = np.concatenate([data, np.zeros_like(data[..., :1])], axis=3)
    if data.ndim != 4 or data.shape[3] != 3:
        raise InputError(
            f"{path}: expected a displacement field of 3-vectors, shape (X, Y, Z, 1, 3), or a "
            f"2-D one of 2-vectors, (X, Y, 1, 1, 2), as ITK and ANTs write them, got shape "
            f"{tuple(shape)}"
        )
    values = _ras_values(data)
    if values is None:
        raise InputError(f"{path}: the displacement field holds NaN or infinite values")
    values.setflags(write=False)
    return DisplacementField(values, world_affine(path, image), planar)


_LPS_TO_RAS = np.array([-1.0, -1.0, 1.0])
_STREAM_BYTES = 4 << 20  # a field is read this much at a time


def _values_dtype(stored: np.dtype) -> type:
    """float32 fields stay float32 (the flow kernels read them exactly as their float64
    copies, with half the memory); others become float64."""
    return np.float32 if np.dtype(stored).newbyteorder("=") == np.float32 else np.float64


def _streamable(proxy) -> bool:
    """Whether a ``.nii.gz`` field's data can be read from the stream straight into the
    kernel's array: ITK's layout (X, Y, Z, 1, 3) of floats, Fortran order, no scaling."""
    shape = tuple(getattr(proxy, "shape", ()))
    return (
        len(shape) == 5
        and shape[3:] == (1, 3)
        and getattr(proxy, "order", "F") == "F"
        and np.dtype(proxy.dtype).kind == "f"
        and float(proxy.slope) == 1.0
        and float(proxy.inter) == 0.0
    )


def _streamed_values(stream, proxy, path: str) -> np.ndarray | None:
    """The field's RAS vectors as a C-ordered (Z, Y, X, 3) array (float32 for a float32 file,
    as the kernels read it; else float64), read from the decompressed ``stream`` a few MB at a
    time (component by component, as the file holds them) straight into the array: no other
    copy of the whole field. None when a value is not finite."""
    width, height, depth = (int(n) for n in proxy.shape[:3])
    dtype = np.dtype(proxy.dtype)
    values = np.empty((depth, height, width, 3), dtype=_values_dtype(dtype))
    plane = width * height
    per = max(1, _STREAM_BYTES // max(plane * dtype.itemsize, 1))
    buffer = np.empty(per * plane, dtype=dtype)
    stream.seek(int(proxy.offset))
    for component in range(3):
        for start in range(0, depth, per):
            count = min(per, depth - start)
            chunk = buffer[: count * plane]
            _read_exactly(stream, memoryview(chunk).cast("B"), path)
            target = values[start : start + count, :, :, component]
            np.multiply(chunk.reshape(count, height, width), _LPS_TO_RAS[component], out=target)
    return values if _all_finite(values) else None


def _read_exactly(stream, target: memoryview, path: str) -> None:
    filled = 0
    while filled < len(target):
        got = stream.readinto(target[filled:])
        if not got:
            raise InputError(f"{path}: the displacement field's data is cut short")
        filled += got


def _all_finite(values: np.ndarray) -> bool:
    """Every value finite, a plane at a time, a z-slab per thread (:func:`_by_slabs`)."""

    def finite(start: int, stop: int) -> bool:
        return all(np.isfinite(plane).all() for plane in values[start:stop])

    return all(_by_slabs(values.shape[0], finite))


def _ras_values(data: np.ndarray) -> np.ndarray | None:
    """An ITK field's (X, Y, Z, 3) LPS vectors as a C-ordered (Z, Y, X, 3) array of RAS
    vectors (float32 for float32 values, else float64), or None where a value is not finite:
    reordered, converted and negated in one pass per slab of z, the slabs on the process's
    cores (a 256^3 field took 0.4-1.1 s on one thread, most of it the new array's first
    touch)."""
    depth = data.shape[2]
    values = np.empty((depth, *data.shape[1::-1], 3), dtype=_values_dtype(data.dtype))

    def convert(start: int, stop: int) -> bool:
        slab = values[start:stop]
        np.multiply(data[:, :, start:stop].transpose(2, 1, 0, 3), _LPS_TO_RAS, out=slab)
        return all(np.isfinite(plane).all() for plane in slab)  # a plane at a time

    return values if all(_by_slabs(depth, convert)) else None


def _by_slabs(depth: int, work) -> list:
    """``work(start, stop)`` over ``depth`` planes split into one slab per core the process
    may use, on threads (NumPy releases the GIL in its loops); the results in order."""
    from concurrent.futures import ThreadPoolExecutor

    from gswarp.cores import available_cores

    threads = max(1, min(available_cores(), depth))
    bounds = [depth * i // threads for i in range(threads + 1)]
    if threads == 1:
        return [work(0, depth)]
    with ThreadPoolExecutor(threads, thread_name_prefix="gswarp-field") as pool:
        return list(pool.map(work, bounds[:-1], bounds[1:]))


def load_affine(path: Path, format: str | None = None, invert: bool = False) -> np.ndarray:
    """The 4x4 RAS matrix that maps output (fixed) world points to input (moving) world points,
    as the file's tool applies it; its inverse with ``invert``.

    Raises
    ------
    InputError
        Unreadable, of an unknown or unsupported format, not a 3-D linear transform, or FSL
        (needs the images' headers).
    BackendError
        The transforms extra (nitransforms) is missing.
    """
    path = Path(path)
    stat = path.stat()
    matrix = _load(str(path), stat.st_mtime_ns, stat.st_size, format or file_format(path))
    return np.linalg.inv(matrix) if invert else matrix.copy()


@functools.lru_cache(maxsize=64)
def _load(path: str, mtime: int, size: int, kind: str) -> np.ndarray:
    """The file's matrix (cached by name, modification time and size: one read per run)."""
    if kind == "fsl":
        raise InputError(
            f"{path}: an FSL FLIRT matrix is defined on the input and reference images' voxel "
            "grids: give the reference image (output: {like: REF}, or -r REF)"
        )
    if kind == "itk":
        exact = _itk_matrix_file(Path(path))
        if exact is not None:
            return exact
    label = {"itk": "an ITK", "afni": "an AFNI", "lta": "a FreeSurfer LTA", "x5": "an X5"}
    return _read_linear(path, f"{label[kind]} transform", fmt=_NITRANSFORMS_FORMAT[kind])


def checked_matrix(path: str, matrix: np.ndarray, k: int = 3) -> np.ndarray:
    """``matrix`` as one finite, invertible (k + 1) x (k + 1) whose last row is 0 ... 0 1 (or
    an :class:`InputError` naming ``path`` and what is wrong)."""
    if matrix.ndim == 3:  # a list of transforms (one per volume of a series)
        if matrix.shape[0] != 1:
            raise InputError(
                f"{path}: holds {matrix.shape[0]} transforms (one per time point); gswarp "
                "applies one"
            )
        matrix = matrix[0]
    if matrix.shape != (k + 1, k + 1):
        raise InputError(f"{path}: expected a {k}-D affine transform, got a {matrix.shape} matrix")
    if not np.all(np.isfinite(matrix)):
        raise InputError(f"{path}: its matrix is not finite (NaN, infinite or overflowing values)")
    last = np.eye(k + 1)[k]
    if not np.array_equal(matrix[k], last):
        raise InputError(
            f"{path}: its last row is {matrix[k].tolist()}, not {last.astype(int).tolist()}"
        )
    with np.errstate(all="ignore"):
        singular = np.linalg.svd(matrix[:k, :k], compute_uv=False)
    usable = np.all(np.isfinite(singular)) and singular[-1] > 0 and singular[0] < 1e150
    if not usable or singular[0] > _LARGEST_CONDITION * singular[-1]:
        raise InputError(
            f"{path}: its matrix is singular or nearly so (singular values "
            f"{', '.join(f'{v:.3g}' for v in singular)}); it cannot map points"
        )
    return matrix


_LARGEST_CONDITION = 1e12  # largest / smallest singular value: past it, inverting loses all digits
