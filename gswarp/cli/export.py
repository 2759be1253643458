"""``gswarp export``: a spec's map on an input's grid, written as an ITK transform file."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import click

from gswarp.cli.ants import options_spec, split_arguments, transform_options
from gswarp.cli.options import EXIT_FILES_FAILED, fail
from gswarp.errors import GswarpError


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
def export(spec_path, image, output, overwrite, **given) -> None:
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
    args = SimpleNamespace(**given)
    spec_path, rest = split_arguments(spec_path, (image,) if image else (), args, usage)
    if len(rest) != 1:
        raise click.UsageError(usage)
    from gswarp.run.export import AFFINE_SUFFIXES, FIELD_SUFFIXES, export_transform

    spec = options_spec(spec_path, args)
    target = Path(output)
    name = target.name.lower()
    if not name.endswith(AFFINE_SUFFIXES + FIELD_SUFFIXES):
        raise click.UsageError(
            f"-o {output}: expected .tfm, .txt or .mat (an affine) or .nii/.nii.gz (a field)"
        )
    if spec.is_random:
        fail("the spec has random values: draw it first (gswarp explain --seed shows a draw)")
    try:
        export_transform(spec, Path(rest[0]), target, overwrite)
    except GswarpError as error:
        fail(str(error), EXIT_FILES_FAILED)
    click.echo(str(target))
