"""``gswarp explain SPEC INPUT``: the matrices and output geometry a spec gives one image or
volume (any input ``gswarp apply`` reads), from its header only."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import click
import numpy as np

from gswarp.cli.ants import options_spec, spec_text, split_arguments, transform_options
from gswarp.cli.options import EXIT_FILES_FAILED, fail, sampling_options
from gswarp.engine.tiles import FieldStep, MatrixStep
from gswarp.errors import GswarpError
from gswarp.io.images import probe_image
from gswarp.plan import Plan, resolve
from gswarp.run.sources import FILES
from gswarp.spec.augment import draw


def _rows(matrix: np.ndarray) -> list[str]:
    return ["  [" + ", ".join(f"{v:>14.10g}" for v in row) + "]" for row in matrix]


def _dims_text(size: tuple[int, ...]) -> str:
    """``W x H`` or ``W x H x D`` of a (H, W) or (D, H, W) size."""
    return " x ".join(str(n) for n in size[::-1])


def _size_text(size: tuple[int, ...]) -> str:
    """``W x H (width x height)`` or ``W x H x D (width x height x depth)``."""
    names = ("width", "height", "depth")[: len(size)]
    return f"{_dims_text(size)} ({' x '.join(names)})"


def _text(image: str, plan: Plan, channels: int, dtype: str, mode: str) -> str:
    spec = plan.spec
    out_dtype = dtype if spec.output.dtype == "same" else spec.output.dtype
    sampling = spec.sampling.normalized()
    lines = [
        f"input:   {image}: {_size_text(plan.input_size)}, {channels} channel(s), {dtype} ({mode})",
        f"output:  {_size_text(plan.output_size)}, {channels} channel(s), {out_dtype}",
        "sampling: " + ", ".join(f"{k} {json.dumps(v)}" for k, v in sampling.items()),
    ]
    if plan.steps is not None:
        return "\n".join(lines + _chain_text(plan.steps))
    axes = "x right, y down" + (", z into the stack" if len(plan.input_size) == 3 else "")
    lines += [
        f"forward matrix (input pixel -> output pixel, pixel centres at integers, {axes}):",
        *_rows(plan.forward),
        "sampling matrix (output pixel -> input pixel; gswarp.warp_affine's matrix):",
        *_rows(plan.sampling_matrix),
        f"theta (torch affine_grid: normalized output -> normalized input, "
        f"align_corners={spec.sampling.align_corners}):",
        *_rows(plan.theta),
    ]
    return "\n".join(lines)


def _describe_step(step: MatrixStep | FieldStep) -> dict:
    if isinstance(step, MatrixStep):
        return {"matrix": step.matrix.tolist()}
    shape = list(step.field.shape[:-1])
    kind = "coordinates" if step.absolute else "displacement"
    resampled = step.to_field.tolist() if step.to_field is not None else None
    return {"field": {"shape": shape, "kind": kind, "to_field": resampled}}


def _chain_text(steps) -> list[str]:
    lines = ["map (output pixel -> input pixel), steps applied in order:"]
    for number, step in enumerate(steps, 1):
        if isinstance(step, MatrixStep):
            lines += [f" {number}. matrix:", *_rows(step.matrix)]
            continue
        kind = "source coordinates" if step.absolute else "displacement, added"
        where = (
            "read at each output pixel"
            if step.to_field is None
            else ("resampled bilinearly onto the frame")
        )
        size = _dims_text(step.field.shape[:-1])
        lines.append(f" {number}. flow field {size} ({kind}; in input pixels; {where})")
    return lines


def _matrices_json(plan: Plan) -> dict:
    if plan.steps is not None:
        return {"steps": [_describe_step(step) for step in plan.steps]}
    return {
        "forward": plan.forward.tolist(),
        "sampling_matrix": plan.sampling_matrix.tolist(),
        "theta": plan.theta.tolist(),
    }


def _geometry(size: tuple[int, ...]) -> dict[str, int]:
    return dict(zip(("depth", "height", "width")[-len(size) :], size, strict=True))


def _json(image: str, plan: Plan, channels: int, dtype: str, drawn: dict | None) -> str:
    spec = plan.spec
    return json.dumps(
        {
            "input": {
                "path": image,
                **_geometry(plan.input_size),
                "channels": channels,
                "dtype": dtype,
            },
            "output": {
                **_geometry(plan.output_size),
                "channels": channels,
                "dtype": dtype if spec.output.dtype == "same" else spec.output.dtype,
            },
            "sampling": spec.sampling.normalized(),
            **(drawn or {"draws": {}}),
            **_matrices_json(plan),
        },
        indent=2,
    )


def _probe(path: Path, level: int = 0) -> tuple[tuple[int, ...], int, str, str, np.ndarray | None]:
    """(spatial size, channels, dtype, kind, world affine or None) from the input's header
    (a Zarr store's metadata)."""
    from gswarp.io.formats import is_zarr_location
    from gswarp.io.sources import open_source
    from gswarp.io.volumes import is_volume_path, probe_volume

    if is_zarr_location(path):
        source = open_source(str(path), level)
        channels = source.shape[source.axes.index("c")] if "c" in source.axes else 1
        kind = f"OME-Zarr image, level {level}" if source.ome else "Zarr array"
        chunks = "x".join(str(n) for n in source.chunks[::-1])
        return (
            source.spatial_shape,
            channels,
            str(source.dtype),
            f"{kind}, chunks {chunks}",
            (source.affine),
        )
    if is_volume_path(path):
        volume = probe_volume(path)
        kind = "volume" if len(volume.size) == 3 else "2-D array"
        return volume.size, volume.channels, str(volume.dtype), kind, volume.affine
    probe = probe_image(path)
    return (probe.height, probe.width), probe.channels, str(probe.dtype), probe.mode, None


@click.command()
@click.argument("spec_path", metavar="SPEC", required=False)
@click.argument("image", metavar="INPUT", required=False)
@sampling_options
@transform_options
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of text.")
@click.option(
    "--seed",
    type=click.IntRange(0, 2**63 - 1),
    default=0,
    show_default=True,
    help="A random spec's seed (gswarp apply without --seed picks one and prints it).",
)
@click.option("--variant", type=click.IntRange(min=0), default=0, help="The variant index to draw.")
@click.option(
    "--level",
    type=click.IntRange(min=0),
    default=0,
    show_default=True,
    help="OME-Zarr inputs: the resolution level (as gswarp apply --level).",
)
def explain(spec_path: str, image: str, **given) -> None:
    """Print what SPEC does to INPUT (an image, a volume or a Zarr store): the output size, and
    the forward, sampling and torch theta matrices. Reads only INPUT's header. A random spec is
    drawn as ``gswarp apply --seed SEED`` draws it for INPUT given as a file argument (key: its
    name).

    With ``-t/-r/-n`` instead of SPEC (as ``gswarp apply`` takes them), it first prints the
    spec they make, as YAML to save as a file."""
    args = SimpleNamespace(**given)
    spec, image = _spec_and_input(spec_path, image, args)
    drawn_json = None
    if spec.is_random:
        spec, drawn_json = _drawn(spec, image, args.seed, args.variant, args.as_json)
    try:
        size, channels, dtype, kind, affine = _probe(Path(image), args.level)
        plan = resolve(spec, size, affine, FILES)
    except GswarpError as error:  # unreadable input, a bad flow field, a spec that cannot fit
        fail(str(error), EXIT_FILES_FAILED)
    if args.as_json:
        click.echo(_json(image, plan, channels, dtype, drawn_json))
    else:
        click.echo(_text(image, plan, channels, dtype, kind))


def _spec_and_input(spec_path, image, args):
    """The spec (SPEC, or the one -t/-r/-n make: printed as YAML first) and the one INPUT."""
    usage = "expected SPEC INPUT, or -t/-r/-n and INPUT"
    spec_path, rest = split_arguments(spec_path, (image,) if image else (), args, usage)
    if len(rest) != 1:
        raise click.UsageError(usage)
    spec = options_spec(spec_path, args)
    if spec_path is None and not args.as_json:
        click.echo("the spec of -t/-r/-n (save it as a .yaml file):")
        click.echo(spec_text(args.transform_files, args.reference, args.interpolation))
    return spec, rest[0]


def _drawn(spec, image: str, seed: int, variant: int, as_json: bool):
    """A random spec drawn as ``gswarp apply --seed`` draws it for INPUT (key: its name), and
    the draw for the JSON output; the draws printed unless ``as_json``."""
    try:
        drawn = draw(spec, seed, Path(image).name, variant)
    except GswarpError as error:
        fail(str(error), EXIT_FILES_FAILED)
    if not as_json:
        click.echo(f"drawn with --seed {seed}, variant {variant}:")
        for where, value in drawn.values.items():
            click.echo(f"  {where} = {value:.6g}")
    return drawn.spec, {"seed": seed, "variant": variant, "draws": drawn.values}
