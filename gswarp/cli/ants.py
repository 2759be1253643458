"""The ``antsApplyTransforms``-style command line of ``gswarp apply``: ``-t`` (repeatable),
``-r/--reference`` and ``-n/--interpolation`` make the spec when no SPEC is given.

    gswarp apply -r fixed.nii.gz -t 1Warp.nii.gz -t 0GenericAffine.mat moving.nii.gz -o out.nii.gz

``-t`` files are listed as antsApplyTransforms lists them: the *first* one acts first on the
output (fixed) points -- ``-t 1Warp.nii.gz -t 0GenericAffine.mat`` moves a fixed point by the
warp, defined on the fixed grid, then by the affine -- so the image goes through them from the
last to the first (ANTs' "applied in reverse order"). A spec lists transforms in the image's
order, so the spec :func:`spec_text` makes lists the files reversed. ``-t [file,1]`` takes a
file's inverse. ``gswarp explain`` prints that spec, so a command line can become a file.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable, Sequence
from pathlib import Path

import click

__all__ = [
    "INTERPOLATIONS",
    "command_spec",
    "parse_transform_argument",
    "spec_text",
    "split_arguments",
    "transform_options",
]

# antsApplyTransforms' -n names (and gswarp's own) -> gswarp's mode
INTERPOLATIONS = {
    "linear": "bilinear",
    "nearestneighbor": "nearest",
    "genericlabel": "nearest",  # ANTs' label interpolator; nearest keeps the label set exactly
    "bspline": "bicubic",  # ANTs: a cubic B-spline of the data; gswarp: Keys' cubic, as torch
    "nearest": "nearest",
    "bilinear": "bilinear",
    "trilinear": "bilinear",
    "bicubic": "bicubic",
}


def parse_transform_argument(value: str) -> tuple[str, bool]:
    """``file`` or ``[file,0|1]`` (antsApplyTransforms' inverse flag) -> (file, invert)."""
    text = value.strip()
    if text.startswith("[") and text.endswith("]"):
        name, _, flag = text[1:-1].rpartition(",")
        if not name or flag.strip() not in ("0", "1"):
            raise click.BadParameter(f"expected FILE or [FILE,0|1], got {value!r}")
        return name.strip(), flag.strip() == "1"
    return text, False


def interpolation_mode(value: str) -> str:
    """gswarp's mode for an ``-n`` name (ANTs' or gswarp's, any case)."""
    key = value.strip().lower()
    if key not in INTERPOLATIONS:
        names = "Linear, NearestNeighbor, GenericLabel, BSpline, nearest, bilinear, bicubic"
        raise click.BadParameter(f"expected one of {names}; got {value!r}")
    return INTERPOLATIONS[key]


def spec_text(transforms: Sequence[str], reference: str | None, interpolation: str | None) -> str:
    """The YAML spec of ``-t`` arguments (in antsApplyTransforms' order: reversed into the
    spec's image order), ``-r`` and ``-n``; paths absolute, so the spec works from any
    folder."""
    lines = ["version: 1", "space: world"]
    if transforms:
        lines.append("transform:  # the image's order: the reverse of -t's")
        for argument in reversed(transforms):
            name, invert = parse_transform_argument(argument)
            entry = {"path": str(Path(name).resolve())}
            if invert:
                entry["invert"] = True
            lines.append(f"  - file: {_flow(entry)}")
    if interpolation:
        lines.append(f"sampling: {{mode: {interpolation_mode(interpolation)}}}")
    if reference:
        lines.append(f"output: {{like: {json.dumps(str(Path(reference).resolve()))}}}")
    return "\n".join(lines) + "\n"


def _flow(entry: dict) -> str:
    """A one-line YAML mapping (JSON strings are valid YAML scalars)."""
    parts = [f"{key}: {json.dumps(value)}" for key, value in entry.items()]
    return "{" + ", ".join(parts) + "}"


def _once(ctx: click.Context, param: click.Parameter, values: tuple[str, ...]) -> str | None:
    """A single-valued option given twice is an error, not its last value silently."""
    if len(values) > 1:
        raise click.BadParameter(f"given {len(values)} times ({', '.join(values)}); give it once")
    return values[0] if values else None


def transform_options(command: Callable) -> Callable:
    """``-t/--transform`` (repeatable), ``-r/--reference``, ``-n/--interpolation``."""
    decorators = [
        click.option(
            "-t",
            "--transform",
            "transform_files",
            multiple=True,
            metavar="FILE|[FILE,1]",
            help="A registration tool's transform file (ITK/ANTs .mat/.tfm/.txt/.nii.gz "
            "displacement field, AFNI, LTA, X5), repeatable in antsApplyTransforms' order (the "
            "first acts first on the output points); [FILE,1]: its inverse. Without SPEC, "
            "-t/-r/-n make the spec.",
        ),
        click.option(
            "-r",
            "--reference",
            metavar="IMAGE",
            multiple=True,
            callback=_once,
            help="The output grid: a reference volume's (as output: {like: IMAGE}).",
        ),
        click.option(
            "-n",
            "--interpolation",
            metavar="NAME",
            multiple=True,
            callback=_once,
            help="antsApplyTransforms' names: Linear, NearestNeighbor, GenericLabel (= nearest), "
            "BSpline (= bicubic: Keys' cubic, not a B-spline); or gswarp's mode names.",
        ),
    ]
    return functools.reduce(lambda f, d: d(f), reversed(decorators), command)


def command_spec(spec_path, transform_files, reference, interpolation, **overrides):
    """The SPEC file's spec, or the one ``-t/-r/-n`` make (:func:`spec_text`), with the sampling
    options' overrides (``--mode`` ...); a bad one exits with code 2."""
    from gswarp.cli.options import fail, load_spec_or_exit
    from gswarp.errors import SpecError
    from gswarp.spec import parse_spec

    if spec_path is not None:
        return load_spec_or_exit(spec_path, **overrides)
    try:
        spec = parse_spec(spec_text(transform_files, reference, interpolation), "<-t/-r/-n>")
    except SpecError as error:
        fail(str(error))
    return load_spec_or_exit(None, spec=spec, **overrides)


def options_spec(spec_path, args):
    """:func:`command_spec` with a command's options (``args``: its parsed options, holding
    ``transform_files``, ``reference``, ``interpolation`` and the sampling overrides)."""
    return command_spec(
        spec_path,
        args.transform_files,
        args.reference,
        args.interpolation,
        mode=args.mode,
        padding=args.padding,
        align_corners=args.align_corners,
        fill=args.fill,
        antialias=args.antialias,
    )


def split_arguments(spec_path, arguments, transform_files, reference, interpolation, missing):
    """(spec_path, arguments) with antsApplyTransforms' form: when ``-t/-r/-n`` make the spec,
    the first positional argument is an input, not a SPEC. Without either, the usage error
    ``missing``."""
    if not (transform_files or reference or interpolation):
        if spec_path is None:
            raise click.UsageError(missing)
        return spec_path, arguments
    if spec_path is not None and spec_path.lower().endswith((".yaml", ".yml")):
        raise click.UsageError(
            "-t/-r/-n make the spec: give either a SPEC file or -t/-r/-n, not both"
        )
    return None, ((spec_path, *arguments) if spec_path is not None else arguments)
