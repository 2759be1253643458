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
    "OUTPUT_TYPES",
    "command_spec",
    "options_spec",
    "parse_output_argument",
    "parse_transform_argument",
    "spec_text",
    "split_arguments",
    "transform_options",
    "verbose_value",
]

# antsApplyTransforms' -u names -> gswarp's output dtype (default: the input's, where ANTs
# writes double; -u double or --float asks for ANTs' floating output)
OUTPUT_TYPES = {
    "char": "int8",
    "uchar": "uint8",
    "short": "int16",
    "ushort": "uint16",
    "int": "int32",
    "uint": "uint32",
    "float": "float32",
    "double": "float64",
    "default": None,
}

# antsApplyTransforms' -n names (and gswarp's own) -> gswarp's mode
INTERPOLATIONS = {
    "linear": {"mode": "bilinear"},
    "nearestneighbor": {"mode": "nearest"},
    "genericlabel": {"mode": "bilinear", "labels": True},  # each label linearly, largest kept
    "multilabel": {"mode": "gaussian", "labels": True, "alpha": 4.0},  # ANTs' defaults
    "gaussian": {"mode": "gaussian", "alpha": 1.0},
    "bspline": {"mode": "bspline", "order": 3},
    "lanczoswindowedsinc": {"mode": "sinc", "window": "lanczos"},
    "cosinewindowedsinc": {"mode": "sinc", "window": "cosine"},
    "welchwindowedsinc": {"mode": "sinc", "window": "welch"},
    "hammingwindowedsinc": {"mode": "sinc", "window": "hamming"},
    "blackmanwindowedsinc": {"mode": "sinc", "window": "blackman"},
    "nearest": {"mode": "nearest"},
    "bilinear": {"mode": "bilinear"},
    "trilinear": {"mode": "bilinear"},
    "bicubic": {"mode": "bicubic"},
}
"""``-n`` names (antsApplyTransforms' and gswarp's modes, any case) -> the spec's sampling
values; ``NAME[...]`` parameters are read by :func:`interpolation_sampling`."""


def parse_transform_argument(value: str) -> tuple[str, bool]:
    """``file`` or ``[file,0|1]`` (antsApplyTransforms' inverse flag) -> (file, invert)."""
    text = value.strip()
    if text.startswith("[") and text.endswith("]"):
        name, _, flag = text[1:-1].rpartition(",")
        if not name or flag.strip() not in ("0", "1"):
            raise click.BadParameter(f"expected FILE or [FILE,0|1], got {value!r}")
        return name.strip(), flag.strip() == "1"
    return text, False


def parse_output_argument(value: str) -> tuple[str, bool]:
    """``-o OUT``, ``-o [OUT,0]`` (the same) or ``-o [OUT,1]`` (antsApplyTransforms: write the
    transforms' composition as a displacement field instead of the warped image) ->
    (OUT, as_field). A bracket that is neither is a usage error, never a folder's name."""
    text = value.strip()
    if not text.startswith("["):
        return value, False
    name, _, flag = text[1:].removesuffix("]").rpartition(",")
    if not text.endswith("]") or not name.strip() or flag.strip() not in ("0", "1"):
        raise click.UsageError(f"-o {value}: expected OUT, [OUT,0] or [OUT,1] (a field)")
    return name.strip(), flag.strip() == "1"


def interpolation_sampling(value: str) -> dict:
    """The spec's sampling values for an ``-n`` name: ``BSpline[ORDER]``,
    ``Gaussian[SIGMA,ALPHA]`` and ``MultiLabel[SIGMA,ALPHA]`` (SIGMA in the world's units, one
    number or ``AxBxC``; default one voxel), ``GenericLabel[NAME]`` (NAME's mode, voted label
    by label), the windowed sincs (radius 3, as antsApplyTransforms)."""
    text = value.strip()
    name, bracket, rest = text.partition("[")
    key = name.strip().lower()
    if key not in INTERPOLATIONS:
        names = (
            "Linear, NearestNeighbor, GenericLabel, MultiLabel, Gaussian, BSpline, "
            "{Lanczos,Cosine,Welch,Hamming,Blackman}WindowedSinc, nearest, bilinear, bicubic"
        )
        raise click.BadParameter(f"expected one of {names}; got {value!r}")
    values = dict(INTERPOLATIONS[key])
    if not bracket:
        return values
    if not rest.endswith("]"):
        raise click.BadParameter(f"{value!r}: expected NAME[PARAMETERS]")
    parameters = [p.strip() for p in rest[:-1].split(",")]
    if key == "genericlabel":
        inner = interpolation_sampling(rest[:-1])
        if inner.get("labels") or inner["mode"] in ("gaussian",):
            raise click.BadParameter(f"{value!r}: GenericLabel takes an image interpolator")
        return inner | {"labels": True}
    try:
        if key == "bspline" and len(parameters) == 1:
            order = int(parameters[0])
            if 0 <= order <= 5:
                return values | {"order": order}
        elif key in ("gaussian", "multilabel") and len(parameters) in (1, 2):
            sigma = [float(v) for v in parameters[0].lower().split("x")]
            if len(sigma) in (1, 2, 3) and all(v > 0 for v in sigma):
                values["sigma"] = sigma if len(sigma) > 1 else sigma[0]
                if len(parameters) == 2:
                    values["alpha"] = float(parameters[1])
                if values["alpha"] > 0:
                    return values
    except ValueError:
        pass
    expected = {
        "bspline": "BSpline[ORDER] with ORDER 0 to 5",
        "gaussian": "Gaussian[SIGMA] or Gaussian[SIGMA,ALPHA], positive numbers",
        "multilabel": "MultiLabel[SIGMA] or MultiLabel[SIGMA,ALPHA], positive numbers",
    }.get(key, f"{name.strip()} without parameters")
    raise click.BadParameter(f"{value!r}: expected {expected}")


def spec_text(transforms: Sequence[str], reference: str | None, interpolation: str | None) -> str:
    """The YAML spec of ``-t`` arguments (in antsApplyTransforms' order: reversed into the
    spec's image order), ``-r`` and ``-n``; paths absolute, so the spec works from any
    folder."""
    lines = ["version: 1", "space: world"]
    transforms = [t for t in transforms if not _is_identity(t)]
    if transforms:
        lines.append("transform:  # the image's order: the reverse of -t's")
        for argument in reversed(transforms):
            name, invert = parse_transform_argument(argument)
            entry = {"path": str(Path(name).resolve())}
            if invert:
                entry["invert"] = True
            lines.append(f"  - file: {_flow(entry)}")
    # antsApplyTransforms samples points (no antialiasing, which gswarp's auto turns on for
    # 2-D images mapped by matrices)
    sampling = {"antialias": False}
    if interpolation:
        sampling = interpolation_sampling(interpolation) | sampling
    lines.append(f"sampling: {json.dumps(sampling)}")
    if reference:
        lines.append(f"output: {_reference_output(reference)}")
    return "\n".join(lines) + "\n"


def _reference_output(reference: str) -> str:
    """The spec's output grid for ``-r``: a volume's (``like``), or a 2-D image's size (ITK's
    physical space of a plain image is its pixels: the grid is the size)."""
    from gswarp.io.formats import image_format, volume_format

    path = Path(reference)
    plain = image_format(path) is not None or volume_format(path) == "npy"
    if plain and path.is_file():
        size = _image_size(path)
        if size is not None:
            return f"{{size: [{size[0]}, {size[1]}]}}"
    return f"{{like: {json.dumps(str(path.resolve()))}}}"


def _image_size(path: Path) -> tuple[int, int] | None:
    """(width, height) of a 2-D image file from its header, as gswarp reads it (an image's EXIF
    orientation applied: :func:`gswarp.io.images.probe_image`); None when it is not readable as
    one (the run then names the problem)."""
    from gswarp.errors import InputError

    try:
        if path.suffix.lower() == ".npy":
            from gswarp.io.volumes import load_npy

            shape = load_npy(path, mmap_mode="r").shape
            return (shape[1], shape[0]) if len(shape) in (2, 3) else None
        from gswarp.io.images import probe_image

        probe = probe_image(path)
        return probe.width, probe.height
    except (InputError, OSError, ValueError):
        return None


def _is_identity(argument: str) -> bool:
    """``-t identity`` (antsApplyTransforms' name for no transform), unless a file is named so."""
    return argument.strip().lower() == "identity" and not Path(argument).exists()


def _flow(entry: dict) -> str:
    """A one-line YAML mapping (JSON strings are valid YAML scalars)."""
    parts = [f"{key}: {json.dumps(value)}" for key, value in entry.items()]
    return "{" + ", ".join(parts) + "}"


def _once(ctx: click.Context, param: click.Parameter, values: tuple[str, ...]) -> str | None:
    """A single-valued option given twice is an error, not its last value silently."""
    if len(values) > 1:
        raise click.BadParameter(f"given {len(values)} times ({', '.join(values)}); give it once")
    return values[0] if values else None


_ANTS_OPTIONS = [
    click.option(
        "-t",
        "--transform",
        "transform_files",
        multiple=True,
        metavar="FILE|[FILE,1]",
        help="A registration tool's transform file (ITK/ANTs .mat/.tfm/.txt/.h5, a .nii.gz "
        "displacement field, AFNI, LTA, X5), repeatable in antsApplyTransforms' order (the "
        "first acts first on the output points); [FILE,1]: its inverse; identity: none. "
        "Without SPEC, -t/-r/-n make the spec.",
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
        help="antsApplyTransforms' names: Linear, NearestNeighbor, GenericLabel[Linear] (each "
        "label interpolated, the largest kept), MultiLabel[SIGMA,ALPHA] (a label-wise Gaussian "
        "vote), Gaussian[SIGMA,ALPHA], BSpline[ORDER] (ITK's B-spline, orders 0-5), "
        "{Lanczos,Cosine,Welch,Hamming,Blackman}WindowedSinc (radius 3); or gswarp's modes.",
    ),
    click.option(
        "-i",
        "--input",
        "input_image",
        metavar="INPUT",
        multiple=True,
        callback=_once,
        help="The input image (antsApplyTransforms' -i; the same as INPUT).",
    ),
    click.option(
        "-d",
        "--dimensionality",
        type=click.Choice(["2", "3"]),
        help="antsApplyTransforms' -d: 3 (transform files apply to volumes).",
    ),
    click.option(
        "-e",
        "--input-image-type",
        "image_type",
        type=click.Choice(["0", "1", "2", "3"]),
        help="antsApplyTransforms' -e: 0 scalar, 3 time series (each volume warped alike; "
        "what gswarp does with a 4-D input either way); 1 and 2 are not warped yet.",
    ),
    click.option(
        "-f",
        "--default-value",
        "default_value",
        type=float,
        help="The value outside the input (antsApplyTransforms' -f; as --fill).",
    ),
    click.option(
        "-u",
        "--output-data-type",
        "output_type",
        type=click.Choice(sorted(OUTPUT_TYPES)),
        help="The output's type (char uchar short ushort int uint float double; default: "
        "the input's, where antsApplyTransforms writes double).",
    ),
    click.option(
        "--float",
        "float_output",
        is_flag=True,
        help="A float32 output (antsApplyTransforms computes in float then; gswarp computes "
        "as it always does and writes float32).",
    ),
]
"""antsApplyTransforms' options, in the order ``--help`` lists them."""


def transform_options(command: Callable) -> Callable:
    """antsApplyTransforms' options: ``-t/--transform`` (repeatable), ``-r/--reference``,
    ``-n/--interpolation``, ``-i/--input``, ``-d``, ``-e``, ``-f/--default-value``,
    ``-u/--output-data-type`` and ``--float``."""
    return functools.reduce(lambda f, d: d(f), reversed(_ANTS_OPTIONS), command)


def command_spec(spec_path, transform_files, reference, interpolation, **overrides):
    """The SPEC file's spec, the one ``-t/-r/-n`` make (:func:`spec_text`), or both composed
    (:func:`_with_command_files`), with the sampling options' overrides (``--mode`` ...); a bad
    one exits with code 2."""
    from gswarp.cli.options import fail, load_spec_or_exit
    from gswarp.errors import SpecError
    from gswarp.spec import parse_spec

    given = transform_files or reference or interpolation
    if spec_path is not None and not given:
        return load_spec_or_exit(spec_path, **overrides)
    try:
        spec = parse_spec(spec_text(transform_files, reference, interpolation), "<-t/-r/-n>")
        if spec_path is not None:
            spec = _with_command_files(load_spec_or_exit(spec_path), spec, reference, interpolation)
    except SpecError as error:
        fail(str(error))
    return load_spec_or_exit(None, spec=spec, **overrides)


def _with_command_files(spec, files, reference, interpolation):
    """A SPEC with ``-t/-r/-n``: the files act on the image first (they bring the moving image
    onto the fixed grid, in antsApplyTransforms' order), then the spec's own transforms, in
    world millimetres; ``-r`` gives the output grid, ``-n`` the mode."""
    import re
    from dataclasses import replace

    from gswarp.errors import SpecError

    if files.transforms and spec.transforms and spec.space != "world":
        raise SpecError(
            f"{spec.source}: with -t the spec's transforms act in world millimetres after the "
            "files: write space: world in the spec"
        )
    count = len(files.transforms)
    single = bool(spec.transforms) and "transform[0]" not in spec.marks  # written without a list

    def shifted(key: str) -> str:  # the spec's transform i is the composition's count + i
        if single:
            return re.sub(r"^transform(?=[.]|$)", f"transform[{count}]", key)
        return re.sub(r"^transform\[(\d+)\]", lambda m: f"transform[{int(m[1]) + count}]", key)

    marks = {shifted(key): where for key, where in spec.marks.items()}
    changed = replace(
        spec,
        transforms=(*files.transforms, *spec.transforms),
        space="world" if files.transforms else spec.space,
        marks=marks,
    )
    if reference:
        changed = replace(changed, output=replace(spec.output, size=files.output.size))
    if interpolation:
        changed = replace(changed, sampling=changed.sampling.with_interpolation(files.sampling))
    return changed


def options_spec(spec_path, args):
    """:func:`command_spec` with a command's options (``args``: its parsed options: the
    transform options, and the sampling overrides where the command has them); ``-f`` is the
    fill, ``-u``/``--float`` the output's dtype."""
    fill = getattr(args, "fill", None)
    if args.default_value is not None:
        if fill:
            raise click.UsageError("-f and --fill both give the fill: give one")
        fill = (args.default_value,)
    spec = command_spec(
        spec_path,
        args.transform_files,
        args.reference,
        args.interpolation,
        mode=getattr(args, "mode", None),
        padding=getattr(args, "padding", None),
        align_corners=getattr(args, "align_corners", None),
        fill=fill,
        antialias=getattr(args, "antialias", None),
    )
    dtype = OUTPUT_TYPES[args.output_type] if args.output_type else None
    if args.float_output:
        if dtype not in (None, "float32"):
            raise click.UsageError(f"--float and -u {args.output_type} disagree: give one")
        dtype = "float32"
    if dtype is None:
        return spec
    from dataclasses import replace

    return replace(spec, output=replace(spec.output, dtype=dtype))


def verbose_value(spec_path, arguments, args):
    """antsApplyTransforms' ``-v 0|1`` / ``--verbose 1``: gswarp's ``-v`` takes no value, so
    click leaves the ``0`` or ``1`` among the positional arguments; where no file has that
    name it is the value (``0``: not verbose), not an input."""
    if not getattr(args, "verbose", 0):
        return spec_path, arguments
    given = [a for a in (spec_path, *arguments) if a is not None]
    values = [a for a in given if a in ("0", "1") and not Path(a).exists()]
    if not values:
        return spec_path, arguments
    if values[-1] == "0":
        args.verbose = 0
    rest = [a for a in given if a not in values]
    if spec_path is None:
        return None, tuple(rest)
    return (rest[0] if rest else None), tuple(rest[1:])


def split_arguments(spec_path, arguments, args, missing):
    """(spec_path, arguments) with antsApplyTransforms' form: when ``-t/-r/-n`` make the spec,
    the first positional argument is an input, not a SPEC; ``-i INPUT`` is one more input.
    Without SPEC or ``-t/-r/-n``, the usage error ``missing``. ``-e`` 1 and 2 are refused
    here (vector and tensor images); ``-d`` is accepted (2-D transform files apply to 2-D
    images, 3-D ones to volumes: each file says which it is)."""
    if args.image_type in ("1", "2"):  # their values would turn with the transform
        kind = {"1": "vector", "2": "tensor"}[args.image_type]
        raise click.UsageError(
            f"-e {args.image_type}: {kind} images (reoriented with the transform) are not "
            "warped yet; -e 0 (scalar) and -e 3 (time series) are"
        )
    if args.input_image:
        arguments = (*arguments, args.input_image)
    if not (args.transform_files or args.reference or args.interpolation):
        if spec_path is None:
            raise click.UsageError(missing)
        return spec_path, arguments
    if spec_path is not None and spec_path.lower().endswith((".yaml", ".yml")):
        return spec_path, arguments  # a SPEC with -t/-r/-n: command_spec composes them
    return None, ((spec_path, *arguments) if spec_path is not None else arguments)
