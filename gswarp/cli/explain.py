"""``gswarp explain SPEC IMAGE``: the matrices and output geometry a spec gives one image."""

from __future__ import annotations

import json
from pathlib import Path

import click
import numpy as np

from gswarp.augment import draw
from gswarp.cli.options import EXIT_FILES_FAILED, fail, load_spec_or_exit, sampling_options
from gswarp.engine.tiles import FieldStep, MatrixStep
from gswarp.errors import GswarpError
from gswarp.io.images import probe_image
from gswarp.plan import Plan, resolve


def _rows(matrix: np.ndarray) -> list[str]:
    return ["  [" + ", ".join(f"{v:>14.10g}" for v in row) + "]" for row in matrix]


def _text(image: str, plan: Plan, channels: int, dtype: str, mode: str) -> str:
    (in_h, in_w), (out_h, out_w) = plan.input_size, plan.output_size
    spec = plan.spec
    out_dtype = dtype if spec.output.dtype == "same" else spec.output.dtype
    sampling = spec.sampling.normalized()
    lines = [
        f"input:   {image}: {in_w} x {in_h} (width x height), {channels} channel(s), {dtype} "
        f"({mode})",
        f"output:  {out_w} x {out_h} (width x height), {channels} channel(s), {out_dtype}",
        "sampling: " + ", ".join(f"{k} {json.dumps(v)}" for k, v in sampling.items()),
    ]
    if plan.steps is not None:
        return "\n".join(lines + _chain_text(plan.steps))
    lines += [
        "forward matrix (input pixel -> output pixel, pixel centres at integers, x right, y down):",
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
        height, width = step.field.shape[:2]
        kind = "source coordinates" if step.absolute else "displacement, added"
        where = (
            "read at each output pixel"
            if step.to_field is None
            else ("resampled bilinearly onto the frame")
        )
        lines.append(f" {number}. flow field {width} x {height} ({kind}; in input pixels; {where})")
    return lines


def _matrices_json(plan: Plan) -> dict:
    if plan.steps is not None:
        return {"steps": [_describe_step(step) for step in plan.steps]}
    return {
        "forward": plan.forward.tolist(),
        "sampling_matrix": plan.sampling_matrix.tolist(),
        "theta": plan.theta.tolist(),
    }


def _json(image: str, plan: Plan, channels: int, dtype: str, draws: dict[str, float]) -> str:
    spec = plan.spec
    return json.dumps(
        {
            "input": {
                "path": image,
                "height": plan.input_size[0],
                "width": plan.input_size[1],
                "channels": channels,
                "dtype": dtype,
            },
            "output": {
                "height": plan.output_size[0],
                "width": plan.output_size[1],
                "channels": channels,
                "dtype": dtype if spec.output.dtype == "same" else spec.output.dtype,
            },
            "sampling": spec.sampling.normalized(),
            "draws": draws,
            **_matrices_json(plan),
        },
        indent=2,
    )


@click.command()
@click.argument("spec_path", metavar="SPEC")
@click.argument("image", type=click.Path(dir_okay=False))
@sampling_options
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of text.")
@click.option(
    "--seed",
    type=click.IntRange(0, 2**63 - 1),
    default=0,
    show_default=True,
    help="A random spec's seed (as gswarp apply --seed).",
)
@click.option("--variant", type=click.IntRange(min=0), default=0, help="The variant index to draw.")
def explain(
    spec_path: str, image: str, mode, padding, align_corners, fill, as_json, seed, variant
) -> None:
    """Print what SPEC does to IMAGE: the output size, and the forward, sampling and torch
    theta matrices. Reads only IMAGE's header. A random spec is drawn as ``gswarp apply``
    draws it for IMAGE given as a file argument (key: its name)."""
    spec = load_spec_or_exit(
        spec_path, mode=mode, padding=padding, align_corners=align_corners, fill=fill
    )
    draws: dict[str, float] = {}
    if spec.is_random:
        try:
            drawn = draw(spec, seed, Path(image).name, variant)
        except GswarpError as error:
            fail(str(error), EXIT_FILES_FAILED)
        spec, draws = drawn.spec, drawn.values
        if not as_json:
            click.echo(f"drawn with --seed {seed}, variant {variant}:")
            for where, value in draws.items():
                click.echo(f"  {where} = {value:.6g}")
    try:
        probe = probe_image(Path(image))
    except GswarpError as error:
        fail(str(error), EXIT_FILES_FAILED)
    try:
        plan = resolve(spec, (probe.height, probe.width))
    except GswarpError as error:  # a missing or malformed flow field, or a spec that cannot fit
        fail(str(error), EXIT_FILES_FAILED)
    dtype = str(probe.dtype)
    if as_json:
        click.echo(_json(image, plan, probe.channels, dtype, draws))
    else:
        click.echo(_text(image, plan, probe.channels, dtype, probe.mode))
