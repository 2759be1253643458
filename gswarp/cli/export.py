"""``gswarp export``: a spec's map on an input's grid, written as an ITK transform file."""

from __future__ import annotations

from pathlib import Path

import click
import numpy as np

from gswarp.cli.ants import command_spec, split_arguments, transform_options
from gswarp.cli.options import EXIT_FILES_FAILED, fail
from gswarp.errors import GswarpError

_AFFINE_SUFFIXES = (".tfm", ".txt", ".mat")
_FIELD_SUFFIXES = (".nii", ".nii.gz")


@click.command()
@click.argument("spec_path", metavar="SPEC", required=False)
@click.argument("image", metavar="INPUT", required=False)
@transform_options
@click.option(
    "-o",
    "--output",
    required=True,
    metavar="FILE",
    help=".tfm/.txt/.mat: an ITK affine (affine maps only); .nii/.nii.gz: an ITK displacement "
    "field on the output grid (any map).",
)
@click.option("--overwrite", is_flag=True, help="Replace an existing FILE.")
def export(spec_path, image, transform_files, reference, interpolation, output, overwrite) -> None:
    """Write SPEC's map on INPUT's grid as an ITK transform (.tfm, .txt, .mat) or displacement
    field (.nii, .nii.gz), for SimpleITK and ANTs.

    INPUT: the NIfTI volume SPEC is applied to (only its header is read). The file maps output
    (fixed) world points to input (moving) points, in LPS millimetres, as ITK's appliers use
    it: ``sitk.Resample(moving, reference, sitk.ReadTransform(FILE))``, or
    ``antsApplyTransforms -i INPUT -r REFERENCE -t FILE``, where REFERENCE has the grid of
    ``gswarp apply SPEC INPUT``'s output. With -t/-r instead of SPEC, the files' composition
    is written as one (``-o warp.nii.gz``: ANTs' ``DisplacementField[...]`` output).
    """
    usage = "expected SPEC INPUT, or -t/-r and INPUT"
    spec_path, rest = split_arguments(
        spec_path, (image,) if image else (), transform_files, reference, interpolation, usage
    )
    if len(rest) != 1:
        raise click.UsageError(usage)
    spec = command_spec(spec_path, transform_files, reference, interpolation)
    target = Path(output)
    name = target.name.lower()
    if not name.endswith(_AFFINE_SUFFIXES + _FIELD_SUFFIXES):
        raise click.UsageError(
            f"-o {output}: expected .tfm, .txt or .mat (an affine) or .nii/.nii.gz (a field)"
        )
    if spec.is_random:
        fail("the spec has random values: draw it first (gswarp explain --seed shows a draw)")
    try:
        _export(spec, Path(rest[0]), target, overwrite)
    except GswarpError as error:
        fail(str(error), EXIT_FILES_FAILED)
    click.echo(str(target))


def _export(spec, image: Path, target: Path, overwrite: bool) -> None:
    from gswarp.errors import InputError
    from gswarp.io.transform_export import write_displacement_field, write_itk_affine
    from gswarp.io.volumes import probe_volume
    from gswarp.plan import resolve
    from gswarp.run.sources import FILES

    probe = probe_volume(image)
    if probe.affine is None or len(probe.size) != 3:
        raise InputError(
            f"{image}: export needs a NIfTI volume (its header places the grids in the world)"
        )
    plan = resolve(spec, probe.size, probe.affine, FILES)
    affine = probe.affine
    output_grid = affine @ np.vstack([plan.frame, [0.0, 0.0, 0.0, 1.0]])  # output voxel -> RAS
    if target.name.lower().endswith(_AFFINE_SUFFIXES):
        if plan.sampling_matrix is None:
            raise InputError(
                f"{target}: the spec's map is not affine (a flow or field): write it as a "
                "displacement field (-o warp.nii.gz)"
            )
        sampling = np.vstack([plan.sampling_matrix, [0.0, 0.0, 0.0, 1.0]])
        pull = affine @ sampling @ np.linalg.inv(output_grid)
        write_itk_affine(target, pull, overwrite)
        return
    from gswarp.engine.tiles import MatrixStep, _base_points, apply_chain

    # (D, H, W, 3): each output voxel (x, y, z), and the input voxel the plan reads for it
    depth = plan.output_size[0]
    out_voxels = _base_points(plan.output_size, 0, depth)
    steps = plan.steps if plan.steps is not None else (MatrixStep(plan.sampling_matrix),)
    source = apply_chain(steps, out_voxels, plan.output_size, slice(0, depth))
    source_world = source @ affine[:3, :3].T + affine[:3, 3]
    output_world = out_voxels @ output_grid[:3, :3].T + output_grid[:3, 3]
    write_displacement_field(target, source_world - output_world, output_grid, overwrite)
