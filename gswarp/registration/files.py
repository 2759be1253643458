"""Files of ``gswarp register``: the two operands (and a mask) read as :class:`Image`, and the
result written as a gswarp spec.

Operands: 2-D images (any format ``gswarp apply`` reads; colour becomes luminance, 0.299 R +
0.587 G + 0.114 B, alpha ignored) and volumes (``.npy``, NIfTI, TIFF stacks; several channels
are averaged). A NIfTI's real values (stored x slope + inter) and its voxel -> RAS affine are
used: when both operands are NIfTI the registration runs in world millimetres and the spec is
written in world space (``space: world``, ``output: {like: FIXED}``), so that it applies on the
scanner grid; otherwise in voxels (pixel centres at integers), with the fixed image's size.
"""

from __future__ import annotations

import os
import shlex
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from gswarp.errors import SpecError
from gswarp.registration.core import Image, Result

_LUMINANCE = np.array([0.299, 0.587, 0.114])


@dataclass(frozen=True)
class Operand:
    """A file read for registration: its :class:`Image` and whether it has world geometry."""

    path: Path
    image: Image
    world: bool


@dataclass(frozen=True)
class Pair:
    """What ``gswarp register`` aligns: the fixed and moving operands and the fixed mask."""

    fixed: Operand
    moving: Operand
    mask: np.ndarray | None = None

    @property
    def world(self) -> bool:
        """Both have world geometry (NIfTI): register in millimetres."""
        return self.fixed.world and self.moving.world


def read_operand(path: Path) -> Operand:
    """Read an image or volume file as a single-channel float :class:`Image`."""
    from gswarp.io.volumes import is_volume_path

    path = Path(path)
    if is_volume_path(path):
        from gswarp.io.volumes import read_volume

        volume = read_volume(path)
        data = volume.voxels
        if data.ndim == 4:
            data = data.mean(axis=3)
        data = np.asarray(data, dtype=np.float64)
        affine = volume.meta.affine
        header = volume.meta.header
        if header is not None:
            slope, inter = header.get_slope_inter()
            if slope is not None and np.isfinite(slope) and (slope, inter) != (1.0, 0.0):
                data = data * slope + (inter or 0.0)
        if affine is not None:
            return Operand(path, Image(data.astype(np.float32), affine, str(path)), True)
        return Operand(path, Image(data.astype(np.float32), np.eye(4), str(path)), False)
    from gswarp.io.images import read_image

    pixels = read_image(path).pixels.astype(np.float64)
    if pixels.ndim == 3:
        pixels = pixels[..., :3] @ _LUMINANCE if pixels.shape[2] >= 3 else pixels[..., 0]
    return Operand(path, Image(pixels.astype(np.float32), np.eye(3), str(path)), False)


def read_mask(path: Path, fixed: Operand) -> np.ndarray:
    """The mask file's nonzero voxels, on the fixed image's grid."""
    mask = read_operand(path).image.data != 0
    if mask.shape != fixed.image.data.shape:
        raise SpecError(
            f"--mask {path}: its grid {'x'.join(map(str, mask.shape[::-1]))} is not the fixed "
            f"image's {'x'.join(map(str, fixed.image.data.shape[::-1]))}"
        )
    if not mask.any():
        raise SpecError(f"--mask {path}: every voxel is zero, so it selects no fixed voxel")
    return mask


def in_voxels(operand: Operand) -> Operand:
    """The operand placed in voxel space (its physical unit the voxel)."""
    k = operand.image.spatial
    image = operand.image
    return Operand(operand.path, Image(image.data, np.eye(k + 1), image.name), False)


def spec_text(
    result: Result,
    fixed: Operand,
    moving: Operand,
    spec_path: Path,
    command: str,
    summary: str,
) -> str:
    """The YAML of a spec with which ``gswarp apply SPEC MOVING`` puts MOVING on FIXED's grid.

    World (both NIfTI): the forward world matrix ``inv(T)`` (moving RAS -> fixed RAS) and
    ``output: {like: FIXED}``. Voxels: the forward pixel matrix ``S @ inv(M)``, with ``M`` the
    sampling matrix (fixed voxel -> moving voxel) and ``S`` the output's stretch when the sizes
    differ (``gswarp apply`` maps an output of another size over the input's extent).
    """
    k = fixed.image.spatial
    world = fixed.world and moving.world
    lines = [
        f"# Written by: {command}",
        f"# {summary}",
        f"# Apply it with: gswarp apply {shlex.quote(str(spec_path))} "
        f"{shlex.quote(str(moving.path))} "
        "-o OUT",
        "version: 1",
    ]
    if world:
        lines += ["space: world", "transform:"]
        if result.flow is not None:
            field = _relative(flow_field_path(spec_path, True), spec_path)
            lines += [f"  - file: {_quoted(field)}    # fixed RAS point -> moving point (ITK)"]
        else:
            lines += ["  affine:", "    matrix:"]
            lines += [f"      - {_row(row)}" for row in np.linalg.inv(result.matrix)]
        output = [f"  like: {_quoted(_relative(fixed.path, spec_path))}"]
    else:
        from gswarp.transforms import resize_matrix

        sampling = np.vstack([result.sampling_matrix(fixed.image, moving.image), np.eye(k + 1)[k:]])
        fixed_size = fixed.image.data.shape
        stretch = np.eye(k + 1)
        output = ["  size: same"]
        if fixed_size != moving.image.data.shape:
            stretch[:k] = resize_matrix(moving.image.data.shape, fixed_size, False)
            output = [f"  size: [{', '.join(str(n) for n in fixed_size[::-1])}]"]
        lines += ["transform:"]
        if result.flow is not None:
            field = _relative(flow_field_path(spec_path, False), spec_path)
            lines += [
                "  - flow:    # the moving pixel each fixed pixel samples",
                f"      path: {_quoted(field)}",
                "      kind: coordinates",
                "      units: pixels",
            ]
        else:
            lines += ["  affine:", "    matrix:"]
            forward = stretch @ np.linalg.inv(sampling)
            lines += [f"      - {_row(row)}" for row in forward]
    # point sampling, as the registration measured it (images default to antialiasing)
    lines += ["sampling:", "  mode: bilinear", "  antialias: false", "output:", *output]
    return "\n".join(lines) + "\n"


def _row(values: np.ndarray) -> str:
    return "[" + ", ".join(repr(float(v)) for v in values) + "]"


def _relative(path: Path, spec_path: Path) -> str:
    """``path`` as the spec reads it: relative to the spec's folder where possible."""
    try:
        return os.path.relpath(Path(path).resolve(), Path(spec_path).resolve().parent)
    except ValueError:  # another drive (Windows)
        return str(Path(path).resolve())


def _quoted(text: str) -> str:
    import json

    return (
        text
        if text.replace("/", "").replace(".", "").replace("_", "").replace("-", "").isalnum()
        else json.dumps(text)
    )


def flow_field_path(spec_path: Path, world: bool) -> Path:
    """Where the flow model's field goes: beside the spec, named after it."""
    stem = spec_path.name
    for suffix in (".yaml", ".yml"):
        if stem.lower().endswith(suffix):
            stem = stem[: -len(suffix)]
    return spec_path.with_name(f"{stem}_warp.nii.gz" if world else f"{stem}_flow.npy")


def write_flow_field(result: Result, pair: Pair, spec_path: Path, overwrite: bool) -> list[Path]:
    """Write the flow model's field beside the spec (nothing for the other models): world pairs
    an ITK displacement field on the fixed grid (``_warp.nii.gz``, the whole map, affine
    included), others the moving pixel coordinates of every fixed pixel (``_flow.npy``,
    ``(H, W, 2)`` / ``(D, H, W, 3)``). Returns the paths written."""
    if result.flow is None:
        return []
    path = flow_field_path(spec_path, pair.world)
    if pair.world:
        _write_world_field(result, pair, path, overwrite)
        return [path]
    from gswarp.io.atomic import atomic_output
    from gswarp.registration.core import transform_points
    from gswarp.registration.flow import dense_pull

    pulled = dense_pull(result, pair.fixed.image)  # (k, *shape) moving physical points
    voxels = transform_points(np.linalg.inv(pair.moving.image.to_physical), pulled)
    with atomic_output(path, overwrite=overwrite) as stream:
        np.save(stream, np.ascontiguousarray(np.moveaxis(voxels, 0, -1), dtype=np.float32))
    return [path]


def _write_world_field(result: Result, pair: Pair, path: Path, overwrite: bool) -> None:
    """The whole map (affine and flow) as an ITK displacement field on the fixed grid."""
    from gswarp.io.transform_export import write_displacement_field
    from gswarp.registration.flow import dense_pull

    fixed = pair.fixed.image
    points = fixed.points()
    displacement = np.moveaxis(dense_pull(result, fixed, points) - points, 0, -1)
    write_displacement_field(path, displacement, fixed.to_physical, overwrite)


def check_transform_path(pair: Pair, path: Path) -> None:
    """Refuse a ``--transform-out`` that cannot be written, before any work."""
    if not pair.world:
        raise SpecError(
            f"--transform-out {path}: ITK transforms are in world millimetres; register two "
            "NIfTI volumes for one"
        )
    from gswarp.io.formats import AFFINE_FILE_SUFFIXES, is_nifti

    if not (is_nifti(path) or path.name.lower().endswith(AFFINE_FILE_SUFFIXES)):
        raise SpecError(
            f"--transform-out {path}: expected .tfm, .txt or .mat (an affine) or .nii/.nii.gz "
            "(a displacement field)"
        )


def write_transform(result: Result, pair: Pair, path: Path, overwrite: bool) -> None:
    """``--transform-out``: the result for ITK/ANTs (fixed RAS point -> moving point): an affine
    (.tfm/.txt/.mat) or a displacement field on the fixed grid (.nii/.nii.gz)."""
    from gswarp.errors import InputError
    from gswarp.io.formats import is_nifti
    from gswarp.io.transform_export import write_itk_affine

    check_transform_path(pair, path)
    if is_nifti(path):
        _write_world_field(result, pair, path, overwrite)
    elif result.flow is not None:
        raise InputError(
            f"--transform-out {path}: the flow model's map is not affine: write it as a "
            "displacement field (.nii.gz)"
        )
    else:
        write_itk_affine(path, result.matrix, overwrite)
