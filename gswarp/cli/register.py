"""``gswarp register FIXED MOVING -o reg.yaml``: align MOVING to FIXED and write the spec with which
``gswarp apply reg.yaml MOVING -o OUT`` puts MOVING on FIXED's grid.

stdout: the written spec's path. stderr: one progress line per pyramid level and the final
metric (nothing with ``--quiet``), errors. Exit status: 0 written; 1 the registration or a file
failed (unreadable input, the images stopped overlapping); 2 bad options or inputs that cannot be
registered (different dimensionality, an empty mask, NaN values, a model too rich for the image).
"""

from __future__ import annotations

import json
import shlex
import sys
import time
from pathlib import Path

import click

from gswarp.cli.options import EXIT_FILES_FAILED, fail
from gswarp.errors import GswarpError, SpecError

_MODELS = ("translation", "rigid", "similarity", "affine", "flow")
_METRICS = ("mse", "ncc", "mi")
_SHOWN = {"mse": ("mse", 1.0), "ncc": ("ncc", -1.0), "mi": ("mi", -1.0)}  # cost -> metric


def _shrinks(ctx: click.Context, param: click.Parameter, value: str | None):
    if value is None:
        return None
    try:
        factors = tuple(int(part) for part in value.replace(" ", "").split(","))
    except ValueError:
        factors = ()
    if not factors or any(f < 1 for f in factors):
        raise click.BadParameter(f"expected factors like 8,4,2,1 (coarse to fine), got {value!r}")
    return factors


@click.command()
@click.argument("fixed", metavar="FIXED", type=click.Path(dir_okay=False))
@click.argument("moving", metavar="MOVING", type=click.Path(dir_okay=False))
@click.option("-o", "--output", required=True, metavar="SPEC", help="The spec to write (YAML).")
@click.option(
    "--model",
    type=click.Choice(_MODELS),
    default="rigid",
    show_default=True,
    help="translation, rigid (rotation + shift), similarity (+ one scale), affine, or flow (a "
    "smooth displacement on a lattice, started from the affine result).",
)
@click.option(
    "--metric",
    type=click.Choice(_METRICS),
    default="ncc",
    show_default=True,
    help="mse (same intensities), ncc (same modality, any linear intensity change), mi (Mattes "
    "mutual information: other modalities or contrasts).",
)
@click.option(
    "--shrink",
    "shrinks",
    callback=_shrinks,
    metavar="F,F,...",
    help="Pyramid: the factor of each level, coarse to fine (default: halvings down to 16 "
    "voxels per side, at most 4 levels, e.g. 8,4,2,1).",
)
@click.option(
    "--iterations",
    type=click.IntRange(1),
    default=100,
    show_default=True,
    help="The most optimizer iterations per level.",
)
@click.option(
    "--mask",
    type=click.Path(dir_okay=False),
    help="An image on FIXED's grid: only its nonzero voxels count.",
)
@click.option(
    "--init",
    type=click.Choice(["geometry", "moments", "none"]),
    default="geometry",
    show_default=True,
    help="Start from the images' centres lined up (geometry), their intensity centroids "
    "(moments), or the identity (none).",
)
@click.option(
    "--bins",
    type=click.IntRange(4),
    default=32,
    show_default=True,
    help="Histogram bins of --metric mi.",
)
@click.option(
    "--flow-spacing",
    type=click.FloatRange(1, min_open=False),
    default=16.0,
    show_default=True,
    help="--model flow: lattice spacing, in FIXED's voxels.",
)
@click.option(
    "--flow-smoothness",
    type=click.FloatRange(0),
    default=1.0,
    show_default=True,
    help="--model flow: weight of the regularizer (the lattice's squared differences).",
)
@click.option(
    "--log",
    "log_path",
    metavar="FILE",
    help="Write the optimization trace as JSON lines (one per iteration and level).",
)
@click.option(
    "--transform-out",
    metavar="FILE",
    help="Also write the result for ITK/ANTs (.tfm/.txt/.mat affine, .nii.gz field); "
    "NIfTI volumes only.",
)
@click.option("--overwrite", is_flag=True, help="Replace existing output files.")
@click.option("-q", "--quiet", is_flag=True, help="No progress lines on stderr.")
def register(
    fixed, moving, output, model, metric, shrinks, iterations, mask, init, bins,
    flow_spacing, flow_smoothness, log_path, transform_out, overwrite, quiet,
) -> None:  # fmt: skip
    """Align MOVING to FIXED and write a spec that puts MOVING on FIXED's grid.

    FIXED and MOVING: two 2-D images or two volumes. Two NIfTI volumes register in world
    millimetres (their headers), and the spec applies in world space onto FIXED's grid
    (output: like: FIXED); anything else registers in pixels. Then:

        gswarp apply SPEC MOVING -o aligned.png
    """
    from gswarp.io.atomic import atomic_output
    from gswarp.registration import files

    command = "gswarp register " + " ".join(shlex.quote(a) for a in sys.argv[2:])
    spec_path = Path(output)
    if not overwrite and spec_path.exists():
        fail(f"{spec_path}: already exists (use --overwrite to replace it)")
    trace: list[dict] = []
    started = time.perf_counter()
    try:
        pair = _read_pair(Path(fixed), Path(moving), mask)
        if transform_out:
            files.check_transform_path(pair, Path(transform_out))
        result = _run(pair, model, metric, shrinks, iterations, init, bins, flow_spacing,
                      flow_smoothness, trace, quiet, started)  # fmt: skip
        name, sign = _SHOWN[metric]
        summary = (
            f"{model} model, {metric} metric: final {name} {sign * result.cost:.6g} "
            f"({len(result.levels)} levels, {time.perf_counter() - started:.2f} s)"
        )
        text = files.spec_text(result, pair.fixed, pair.moving, spec_path, command, summary)
        extra = files.write_flow_field(result, pair, spec_path, overwrite)
        with atomic_output(spec_path, overwrite=overwrite) as stream:
            stream.write(text.encode())
        if transform_out:
            files.write_transform(result, pair, Path(transform_out), overwrite)
    except SpecError as error:
        _write_log(log_path, trace, overwrite)
        fail(str(error))
    except GswarpError as error:
        _write_log(log_path, trace, overwrite)
        fail(str(error), EXIT_FILES_FAILED)
    _write_log(log_path, trace, overwrite)
    if not quiet:
        click.echo(f"gswarp: {summary}", err=True)
    for path in (*extra, spec_path):
        click.echo(str(path))


def _read_pair(fixed: Path, moving: Path, mask: str | None):
    from gswarp.registration import files

    fixed_operand = files.read_operand(fixed)
    moving_operand = files.read_operand(moving)
    if fixed_operand.image.spatial != moving_operand.image.spatial:
        raise SpecError(
            f"{fixed} is {_kind(fixed_operand)} and {moving} {_kind(moving_operand)}: register "
            "needs two 2-D images or two volumes"
        )
    mask_array = files.read_mask(Path(mask), fixed_operand) if mask else None
    return files.Pair(fixed_operand, moving_operand, mask_array)


def _kind(operand) -> str:
    return "a 2-D image" if operand.image.spatial == 2 else "a volume"


def _run(pair, model, metric, shrinks, iterations, init, bins, spacing, smoothness, trace,
         quiet, started):  # fmt: skip
    from gswarp.registration import register
    from gswarp.registration.flow import register_flow

    name, sign = _SHOWN[metric]
    counts: dict[str, int] = {}

    def on_level(level, stage=""):
        counts[stage] = counts.get(stage, 0) + 1
        size = "x".join(str(n) for n in level.size[::-1])
        line = (
            f"{stage}level {counts[stage]} (1/{level.shrink}, {size}): "
            f"{name} {sign * level.cost:.6g} after {level.iterations} iterations "
            f"({level.evaluations} evaluations, {level.stopped}), "
            f"{time.perf_counter() - started:.2f} s"
        )
        trace.append({"event": "level", "stage": stage.strip(": ") or model, **_level(level)})
        if not quiet:
            click.echo(f"gswarp: {line}", err=True)

    def on_iteration(record):
        trace.append({"event": "iteration", "metric": metric, **record})

    affine_model = "affine" if model == "flow" else model
    fixed, moving = pair.fixed.image, pair.moving.image
    result = register(
        fixed, moving, affine_model, metric, mask=pair.mask, shrinks=shrinks,
        iterations=iterations, bins=bins, init=init,
        on_level=lambda level: on_level(level, "affine: " if model == "flow" else ""),
        on_iteration=on_iteration,
    )  # fmt: skip
    if model == "flow":
        result = register_flow(
            fixed, moving, result, mask=pair.mask, shrinks=shrinks, iterations=iterations,
            bins=bins, spacing=spacing, smoothness=smoothness,
            on_level=lambda level: on_level(level, "flow: "), on_iteration=on_iteration,
        )  # fmt: skip
    trace.append({"event": "result", "model": model, "metric": metric, **result.logged()})
    return result


def _level(level) -> dict:
    return {
        "shrink": level.shrink,
        "size": list(level.size[::-1]),
        "iterations": level.iterations,
        "evaluations": level.evaluations,
        "cost": level.cost,
        "stopped": level.stopped,
    }


def _write_log(path: str | None, trace: list[dict], overwrite: bool) -> None:
    if not path:
        return
    from gswarp.io.atomic import atomic_output

    try:
        with atomic_output(Path(path), overwrite=overwrite) as stream:
            for record in trace:
                stream.write((json.dumps(record) + "\n").encode())
    except GswarpError as error:
        fail(str(error), EXIT_FILES_FAILED)
