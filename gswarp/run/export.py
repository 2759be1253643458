"""A spec's map on a volume's grid as an ITK transform file (``gswarp export``): for
SimpleITK's ``Resample`` and ``antsApplyTransforms``, which then reproduce ``gswarp apply``."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from gswarp.engine.tiles import apply_chain, base_points
from gswarp.errors import InputError
from gswarp.io.formats import AFFINE_FILE_SUFFIXES
from gswarp.io.transform_export import write_displacement_field, write_itk_affine
from gswarp.io.volumes import probe_volume
from gswarp.plan import resolve
from gswarp.run.sources import FILES
from gswarp.spec import WarpSpec

__all__ = ["AFFINE_SUFFIXES", "FIELD_SUFFIXES", "export_transform"]

AFFINE_SUFFIXES = AFFINE_FILE_SUFFIXES
FIELD_SUFFIXES = (".nii", ".nii.gz")


def export_transform(spec: WarpSpec, image: Path, target: Path, overwrite: bool = False) -> None:
    """Write ``spec``'s map on ``image``'s grid to ``target``: an ITK affine (``.tfm``, ``.txt``,
    ``.mat``; affine maps only) or an ITK displacement field (``.nii``, ``.nii.gz``) on the
    output grid, mapping output (fixed) world points to input (moving) points in LPS mm.

    Raises
    ------
    InputError
        ``image`` is no NIfTI volume, or an affine file is asked for a map that is not affine.
    """
    probe = probe_volume(image)
    if probe.affine is None or len(probe.size) != 3:
        raise InputError(
            f"{image}: export needs a NIfTI volume (its header places the grids in the world)"
        )
    plan = resolve(spec, probe.size, probe.affine, FILES)
    affine = probe.affine
    output_grid = affine @ np.vstack([plan.frame, [0.0, 0.0, 0.0, 1.0]])  # output voxel -> RAS
    if target.name.lower().endswith(AFFINE_SUFFIXES):
        if plan.sampling_matrix is None:
            raise InputError(
                f"{target}: the spec's map is not affine (a flow or field): write it as a "
                "displacement field (-o warp.nii.gz)"
            )
        sampling = np.vstack([plan.sampling_matrix, [0.0, 0.0, 0.0, 1.0]])
        pull = affine @ sampling @ np.linalg.inv(output_grid)
        write_itk_affine(target, pull, overwrite)
        return
    # (D, H, W, 3): each output voxel (x, y, z), and the input voxel the plan reads for it
    depth = plan.output_size[0]
    out_voxels = base_points(plan.output_size, 0, depth)
    steps = plan.chain
    source = apply_chain(steps, out_voxels, plan.output_size, slice(0, depth))
    source_world = source @ affine[:3, :3].T + affine[:3, 3]
    output_world = out_voxels @ output_grid[:3, :3].T + output_grid[:3, 3]
    write_displacement_field(target, source_world - output_world, output_grid, overwrite)
