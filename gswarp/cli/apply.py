"""``gswarp apply SPEC INPUT... -o OUT``: warp files, folders or a path list; or one image stream;
or ``gswarp apply --replay draws.jsonl``: write logged outputs again.

stdout carries data only: one written path per line (NUL-terminated with ``--null``; or, with
``--stdin-image -o -``, the image bytes); logs, errors and the progress bar go to stderr. Exit
status: 0 all written (or skipped with ``--skip-existing``), 1 some files failed (each named on
stderr; all others written), 2 bad spec, bad option or no inputs, 130 interrupted (no partial
files are left).

Random specs are drawn per output from (``--seed``, the input's path relative to its input root,
the variant index): see :mod:`gswarp.spec.augment`. ``--jobs`` threads share one process (the codecs
and kernels release the GIL; kernel launches take turns, each on ``--jobs`` kernel threads), so
threads never exceed ``--jobs``.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from types import SimpleNamespace

import click

from gswarp.cli.ants import (
    options_spec,
    parse_output_argument,
    split_arguments,
    transform_options,
    verbose_value,
)
from gswarp.cli.options import (
    EXIT_FILES_FAILED,
    EXIT_USAGE,
    OnceWarnings,
    echo_error,
    fail,
    sampling_options,
)
from gswarp.cli.progress import Progress
from gswarp.cli.remarks import show_library_warnings
from gswarp.cores import available_cores
from gswarp.engine.device import resolve_device
from gswarp.errors import BackendError, GswarpError, SpecError
from gswarp.io.formats import (
    FORMAT_SUFFIXES,
    IMAGE_SUFFIXES,
    VOLUME_SUFFIXES,
    image_format,
    is_supported_name,
    volume_format,
)
from gswarp.io.images import Encoding, format_named
from gswarp.plan import check_fields, size_text
from gswarp.run.drawlog import DrawLog
from gswarp.run.files import Job, Outcome, expand_inputs
from gswarp.run.folder import file_work, replay_jobs, run_file_jobs, write_options
from gswarp.run.jobs import JobResult, WriteOptions, replay_job
from gswarp.run.sources import FILES
from gswarp.spec import FlowSpec, TransformFile, WarpSpec


@dataclass(frozen=True)
class Destination:
    """Where outputs go: a folder, one file, or stdout (image bytes)."""

    folder: Path | None = None
    file: Path | None = None
    stdout: bool = False


def plan_destination(
    inputs: tuple[str, ...], output: str, format: str | None, stdin_image: bool
) -> Destination:
    """Reconcile INPUTs, ``-o``, ``--format`` and ``--stdin-image`` (raises ``UsageError``).

    ``-o`` names a file when there is one input (a file, or the stdin image) and ``-o`` has an
    image suffix, is not an existing folder and does not end with ``/``; ``-o -`` (stdin image
    only) means stdout.
    """
    if stdin_image:
        if inputs:
            raise click.UsageError("--stdin-image reads the image from stdin: give no INPUT")
        if output == "-":
            return Destination(stdout=True)
        return Destination(file=_output_file(Path(output), format))
    if not inputs:
        raise click.UsageError("no INPUT given (files, folders, or - to read paths from stdin)")
    if output == "-":
        raise click.UsageError("-o - (image bytes on stdout) needs --stdin-image")
    if inputs.count("-") > 1:
        raise click.UsageError("- (read paths from stdin) may be given once")
    out = Path(output)
    single = len(inputs) == 1 and inputs[0] != "-" and not Path(inputs[0]).is_dir()
    single = single and not output.endswith(("/", os.sep))  # ``-o x.png/``: a folder
    if single and is_supported_name(out.name) and not out.is_dir():
        return Destination(file=_output_file(out, format))
    if single and out.suffix and not out.exists() and out.suffix.lower() in _IMAGE_LIKE:
        raise click.UsageError(  # ``-o x.gif``: a file name, not a folder to create
            f"-o {output}: {out.suffix} is not a format gswarp writes; use one of "
            f"{', '.join(sorted(IMAGE_SUFFIXES))} (or --format), or a folder"
        )
    if out.exists() and not out.is_dir():
        raise click.UsageError(f"-o {output}: exists and is not a folder")
    return Destination(folder=out)


def _unsupported_text(inputs: tuple[str, ...]) -> str:
    """'2 file(s) of other suffixes not read: a.gif, b.gif' for the input folders, or ''."""
    names = []
    for text in inputs:
        folder = Path(text)
        if text == "-" or not folder.is_dir():
            continue
        for path in sorted(folder.rglob("*")):
            if (
                path.is_file()
                and not path.name.startswith(".")
                and not is_supported_name(path.name)
            ):
                names.append(str(path.relative_to(folder)))
    if not names:
        return ""
    shown = ", ".join(names[:3]) + (", ..." if len(names) > 3 else "")
    return f"{len(names)} file(s) of other suffixes not read: {shown}"


# image suffixes gswarp does not read or write: ``-o x.gif`` means a file, not a folder
_IMAGE_LIKE = (".gif", ".ico", ".psd", ".heic", ".avif", ".jp2", ".pbm", ".pgm", ".ppm", ".tga")


def _output_file(path: Path, format: str | None) -> Path:
    if volume_format(path) is not None:
        return path
    if image_format(path) is None:
        if format is None:
            raise click.UsageError(
                f"-o {path}: unknown image suffix; use one of "
                f"{', '.join(sorted(IMAGE_SUFFIXES))} or --format"
            )
        return path
    if format and image_format(path) != format_named(format):
        raise click.UsageError(f"-o {path} and --format {format} disagree; give one of them")
    return path


def _arguments(inputs: tuple[str, ...], null: bool = False) -> Iterator[tuple[str, bool]]:
    for text in inputs:
        if text != "-":
            yield text, False
            continue
        for path in _stdin_paths(null):
            if path.strip():
                yield path, True


def _stdin_paths(null: bool) -> Iterator[str]:
    """Paths on stdin: one per line, or NUL-separated (``--null``, as ``find -print0``)."""
    if not null:
        for line in sys.stdin:
            yield line.rstrip("\r\n")
        return
    pending = b""
    read = getattr(sys.stdin.buffer, "read1", sys.stdin.buffer.read)  # what has arrived
    while chunk := read(1 << 16):
        pending += chunk
        *complete, pending = pending.split(b"\0")
        yield from (os.fsdecode(item) for item in complete)
    if pending:
        yield os.fsdecode(pending)


class _Report:
    """Prints outcomes: paths on stdout, errors and -v lines on stderr, the progress bar."""

    def __init__(
        self, verbose: int, quiet: bool, progress: Progress | None, null: bool = False
    ) -> None:
        self.verbose, self.quiet, self.progress = verbose, quiet, progress
        self.written = self.failed = self.skipped = 0
        self.stdout_open = True
        self.end = "\0" if null else "\n"

    def __call__(self, outcome: Outcome) -> None:
        if self.progress:
            self.progress.clear()
        if outcome.error is None:
            result: JobResult = outcome.result  # type: ignore[assignment]
            for path, _ in result.written:
                self.written += 1
                self._path(str(path))
            self.skipped += len(result.skipped)
            if self.verbose:
                self._describe(outcome.job, result)
        else:
            self.failed += 1
            echo_error(outcome.error)
        if self.progress:
            self.progress.update(self.written, self.failed)

    def _describe(self, job: Job, result: JobResult) -> None:
        for path in result.skipped:
            click.echo(f"{job.source} -> {path} (exists, skipped)", err=True)
        if result.written:
            click.echo(
                f"{job.source} -> {', '.join(str(p) for p, _ in result.written)} "
                f"({size_text(result.before)} -> {size_text(result.after)}, "
                f"{result.seconds * 1000:.1f} ms)",
                err=True,
            )

    def _path(self, text: str) -> None:
        if not self.stdout_open:
            return
        try:
            click.echo(text, nl=False)
            click.echo(self.end, nl=False)
            sys.stdout.flush()
        except BrokenPipeError:  # the reader left (| head): keep warping, stop printing
            self.stdout_open = False
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())


def _stream_image(
    spec: WarpSpec, destination: Destination, options: WriteOptions, seed: int | None
) -> int:
    """``--stdin-image``: one image's bytes from stdin to ``-o`` (a file, or stdout)."""
    from gswarp.run.warp import warp_image_stream

    target = sys.stdout.buffer if destination.stdout else destination.file
    try:
        warp_image_stream(
            spec,
            sys.stdin.buffer,
            target,
            seed=seed,
            format=options.format,
            encoding=options.encoding,
            overwrite=options.overwrite,
            device=options.device,
            notify=options.notify,
        )
    except GswarpError as error:
        echo_error(str(error))
        return EXIT_FILES_FAILED
    if not destination.stdout:
        click.echo(str(destination.file))
    return 0


def _pair_option(ctx: click.Context, param: click.Parameter, values) -> tuple:
    pairs = []
    for value in values:
        name, _, folder = value.rpartition("=") if "=" in value else ("", "", value)
        folder_path = Path(folder)
        name = name or folder_path.resolve().name
        if not folder_path.is_dir():
            raise click.BadParameter(f"{folder!r}: not a folder")
        if not name or name.startswith(".") or "/" in name or name in (n for n, _ in pairs):
            raise click.BadParameter(
                f"{value!r}: the target name {name!r} must be a plain, unique folder name "
                "(write NAME=DIR)"
            )
        pairs.append((name, folder_path))
    return tuple(pairs)


@click.command()
@click.argument("spec_path", metavar="SPEC", required=False)
@click.argument("inputs", nargs=-1, metavar="INPUT...")
@click.option(
    "-o",
    "--output",
    metavar="OUT",
    help="Output folder (created if missing); a file name for a single input file; "
    "- for stdout with --stdin-image.",
)
@sampling_options
@click.option(
    "--format",
    "format_",
    type=click.Choice(sorted(FORMAT_SUFFIXES)),
    help="Output format and suffix of images (default: the input's).",
)
@click.option(
    "--quality",
    type=click.IntRange(1, 100),
    help="JPEG/WebP quality (default: a JPEG keeps its source's quantization, else 95).",
)
@click.option(
    "--compress-level",
    type=click.IntRange(0, 9),
    help="zlib level of PNG images and .nii.gz/.mgz volumes (PNG default 6, as Pillow and "
    "libpng; a volume's default: ISA-L's fast level where the isal package is installed, else 6).",
)
@click.option("--overwrite", is_flag=True, help="Replace existing outputs (otherwise an error).")
@click.option(
    "--skip-existing",
    is_flag=True,
    help="Leave existing outputs as they are and write the others (resume a run).",
)
@click.option(
    "--seed",
    type=click.IntRange(0, 2**63 - 1),
    help="Seed of a random spec's draws (default: a fresh one, printed on stderr). Each "
    "output's draw depends only on the seed, its input's relative path and its variant.",
)
@click.option(
    "--variants",
    type=click.IntRange(min=1),
    help="Outputs per input, drawn independently: x.png -> x_000.png, x_001.png, ...",
)
@click.option(
    "--pair",
    "pairs",
    multiple=True,
    metavar="[NAME=]DIR",
    callback=_pair_option,
    help="Warp each input's counterpart at the same relative path under DIR (a mask) with the "
    "same draw, into OUT/NAME (NAME: DIR's name); nearest sampling unless the spec's targets "
    "section says otherwise. Repeatable.",
)
@click.option(
    "--log",
    "log_path",
    type=click.Path(dir_okay=False, writable=True),
    help="Write one JSON line per output: input, output, seed, draws, matrix, drawn spec "
    "(appended to with --skip-existing).",
)
@click.option(
    "--replay",
    "replay_path",
    type=click.Path(dir_okay=False, exists=True),
    help="Write the outputs of a --log file again, byte for byte (no SPEC or INPUT; -o writes "
    "them under another folder).",
)
@click.option(
    "-j",
    "--jobs",
    type=click.IntRange(min=1),
    default=None,
    help="Threads to use (default: all cores). Results are identical for any N.",
)
@click.option(
    "--device",
    type=click.Choice(["cpu", "cuda", "auto"]),
    default="cpu",
    show_default=True,
    help="Where to warp: the CPU, an NVIDIA GPU (needs the cuda extra), or the GPU when one is "
    "usable. Files are read and written on the CPU; with --jobs >= 2 the next file is decoded "
    "while the GPU warps.",
)
@click.option(
    "--null",
    "-0",
    "null",
    is_flag=True,
    help="Paths on stdin and stdout are NUL-separated (find -print0, xargs -0).",
)
@click.option(
    "--dry-run", is_flag=True, help="Read the headers and print the outputs that would be written."
)
@click.option(
    "--stdin-image",
    is_flag=True,
    help="Read one image's bytes from stdin instead of INPUTs; with -o - the result's "
    "bytes go to stdout.",
)
@click.option(
    "--level",
    type=click.IntRange(min=0),
    default=0,
    show_default=True,
    help="OME-Zarr inputs: the resolution level to warp (0: the finest).",
)
@click.option(
    "--chunks",
    callback=lambda ctx, param, value: _parse_chunks(value),
    metavar="N|X,Y[,Z]",
    help="Zarr outputs: chunk shape in voxels (overrides output.chunks; default: the input's).",
)
@click.option(
    "--cluster",
    metavar="local[:N[,MEM]]|tcp://HOST:PORT",
    help="Run Zarr chunks, or input files 8 per task, on a Dask LocalCluster of N worker "
    "processes (N at most the cores; MEM, e.g. 4GiB, bounds each worker's memory) or on a "
    "running scheduler (default: DASK_SCHEDULER_ADDRESS if set, else threads in this process).",
)
@transform_options
@click.option("-q", "--quiet", is_flag=True, help="Print only errors on stderr.")
@click.option("-v", "--verbose", count=True, help="Print one line per file on stderr.")
@click.option(
    "--progress/--no-progress",
    default=None,
    help="Progress bar on stderr (default: when stderr is a terminal).",
)
def apply(spec_path, inputs, **given) -> None:
    """Warp INPUT files with SPEC (YAML) and write them under OUT.

    INPUT: image files (PNG, JPEG, TIFF, BMP, WebP) and volumes (.npy, NIfTI, TIFF stacks);
    folders, walked recursively with their tree mirrored under OUT; or - to read paths from
    stdin, one per line. Written paths are printed on stdout, one per line.

    Zarr arrays and OME-Zarr images (.zarr folders, or URLs) are warped chunk by chunk on Dask
    into a new .zarr (-o OUT.zarr for one input, else under the folder OUT).
    """
    args = SimpleNamespace(spec_path=spec_path, inputs=inputs, **given)
    args.spec_path, args.inputs = verbose_value(args.spec_path, args.inputs, args)  # -v 0|1
    try:
        _apply(args)
    finally:
        volumes = sys.modules.get("gswarp.io.volumes")  # not imported: nothing was read early
        if volumes is not None:
            volumes.drop_read_ahead()  # a first input read early that no job took


def _apply(args) -> None:
    """:func:`apply`'s run with its arguments gathered."""
    from gswarp.cli.zarr_apply import has_zarr_inputs, writes_zarr_from_files

    options, threads, show = _settings(args)
    if args.replay_path:
        _replay(args, options, threads, show)
        return
    spec, inputs = _spec_and_inputs(args)
    args.output, as_field = parse_output_argument(args.output)
    if as_field:  # -o [OUT,1]: the transforms' composition, as antsApplyTransforms writes it
        sys.exit(_write_composite_field(spec, inputs, args))
    into_zarr = writes_zarr_from_files(inputs, args.output)
    destination = None
    if not into_zarr:
        destination = plan_destination(inputs, args.output, args.format_, args.stdin_image)
    seed = _seed(args.seed, spec, args.quiet)
    if has_zarr_inputs(inputs) or into_zarr:
        sys.exit(_apply_zarr(spec, inputs, args, options.device, seed, show, into_zarr))
    if args.level or args.chunks:
        raise click.UsageError("--level and --chunks apply to Zarr inputs only")
    if args.stdin_image:
        if args.pairs or args.log_path or args.variants:
            raise click.UsageError(
                "--pair, --log and --variants need INPUT files, not --stdin-image"
            )
        sys.exit(_stream_image(spec, destination, options, seed))
    _apply_files(spec, inputs, destination, args, options, threads, show, seed)


def _write_composite_field(spec: WarpSpec, inputs: tuple[str, ...], args) -> int:
    """``-o [OUT,1]``: the map the spec gives INPUT's grid, written to OUT as an ITK
    displacement field (what ``gswarp export`` writes)."""
    from gswarp.run.export import export_transform

    if len(inputs) != 1 or inputs[0] == "-":
        raise click.UsageError("-o [OUT,1] writes one field: give one INPUT volume")
    try:
        export_transform(spec, Path(inputs[0]), Path(args.output), args.overwrite)
    except GswarpError as error:
        echo_error(str(error))
        return EXIT_FILES_FAILED
    click.echo(args.output)
    return 0


def _settings(args) -> tuple[WriteOptions, int, bool]:
    """(write options, threads, whether to show a progress bar) from the command's options."""
    if args.overwrite and args.skip_existing:
        raise click.UsageError("--overwrite and --skip-existing contradict each other")
    try:
        backend = resolve_device(args.device)
    except GswarpError as error:
        fail(str(error))
    if args.verbose and not args.dry_run:
        click.echo(f"gswarp: warping on the {backend.upper()} (--device {args.device})", err=True)
    options = write_options(
        format=args.format_,
        overwrite=args.overwrite,
        skip_existing=args.skip_existing,
        encoding=Encoding(quality=args.quality, compress_level=args.compress_level),
        device=backend,
        notify=OnceWarnings(args.quiet),
    )
    show_library_warnings(args.quiet)
    show = args.progress if args.progress is not None else (sys.stderr.isatty() and not args.quiet)
    return options, args.jobs or available_cores(), show


def _replay(args, options: WriteOptions, threads: int, show: bool) -> None:
    """``--replay LOG``: write a draw log's outputs again."""
    if (
        args.spec_path
        or args.inputs
        or args.pairs
        or args.stdin_image
        or args.log_path
        or args.variants
        or args.seed is not None
    ):
        raise click.UsageError(
            "--replay takes no SPEC, INPUT, --pair, --seed, --variants, --log or "
            "--stdin-image: the log says what to write"
        )
    try:
        replayed, entries = replay_jobs(Path(args.replay_path), args.output)
    except GswarpError as error:
        fail(str(error))
    progress = Progress(len(replayed)) if show else None
    report = _Report(args.verbose, args.quiet, progress, args.null)
    work = replay_job(entries, options, args.dry_run)
    _run(replayed, work, threads, report, args.dry_run, (args.replay_path,))


def _spec_and_inputs(args) -> tuple[WarpSpec, tuple[str, ...]]:
    """The spec (SPEC with the sampling options, or the -t/-r transforms) and the INPUTs, its
    files checked (a bad flow field or transform file is one usage error)."""
    spec_path, inputs = split_arguments(
        args.spec_path, args.inputs, args, "missing SPEC (or give --replay LOG, or -t/-r)"
    )
    if args.output is None:
        raise click.UsageError("Missing option '-o' / '--output'.")
    spec = options_spec(spec_path, args)
    _read_first_input_ahead(spec, inputs, args)
    try:
        dimension = getattr(args, "dimensionality", None)
        check_fields(spec, FILES, int(dimension) if dimension else None)
        spec.check_pair_names([name for name, _ in args.pairs])
    except (SpecError, BackendError) as error:  # BackendError: a transform file's extra
        fail(str(error))
    return spec, inputs


def _read_first_input_ahead(spec: WarpSpec, inputs: tuple[str, ...], args) -> None:
    """With transform files or flow fields to load, start reading the first input volume now
    (:func:`gswarp.io.volumes.read_ahead`): the two overlap. Not for dry runs or
    ``--skip-existing`` (the input may never be read)."""
    from gswarp.io.formats import volume_format

    output = str(args.output or "").strip()
    writes_other = output.startswith("[") or output.rstrip("/").lower().endswith(".zarr")
    elsewhere = writes_other or getattr(args, "cluster", None)  # not read in this process
    if args.dry_run or args.skip_existing or elsewhere or not inputs or not spec.transforms:
        return
    first = Path(inputs[0])
    loads = any(isinstance(t, TransformFile | FlowSpec) for t in spec.transforms)
    if loads and volume_format(first) in ("nifti", "mgh") and first.is_file():
        from gswarp.io.volumes import read_ahead

        read_ahead(first)


def _seed(seed: int | None, spec: WarpSpec, quiet: bool) -> int | None:
    """``--seed``, or for a random spec without one a fresh seed, printed on stderr."""
    if seed is None and spec.is_random:
        import secrets  # only when a seed is drawn: 6-12 ms of start-up (hmac, hashlib)

        seed = secrets.randbits(32)
        if not quiet:
            click.echo(f"gswarp: no --seed given: drawing with --seed {seed}", err=True)
    return seed


def _apply_zarr(spec, inputs, args, backend: str, seed, show: bool, into_zarr: bool) -> int:
    """Zarr inputs (or volume files into a .zarr): chunk by chunk on Dask."""
    from gswarp.cli.zarr_apply import ZarrOptions, run_zarr_apply

    _check_zarr_run(
        inputs,
        args.pairs,
        args.log_path,
        args.variants,
        args.stdin_image,
        args.dry_run,
        backend,
        into_zarr,
    )
    zarr_options = ZarrOptions(
        args.level,
        args.chunks,
        args.cluster,
        args.jobs,
        args.overwrite,
        args.skip_existing,
        args.compress_level,
        seed,
        args.quiet,
        args.verbose,
        show,
    )
    return run_zarr_apply(spec, inputs, args.output, zarr_options)


def _apply_files(spec, inputs, destination, args, options, threads, show, seed) -> None:
    """Image and volume files, folders, or a path list on stdin: one job per input (and
    variant), on threads in this process or on a Dask cluster."""
    scheduler = None if args.dry_run else _file_cluster(args.cluster, options.device, args.verbose)
    if scheduler is not None:
        options = replace(options, notify=None)  # workers' warnings stay in their logs
    jobs: Iterable[Job] = expand_inputs(
        _arguments(inputs, args.null),
        destination.folder or Path("."),
        format=args.format_,
        single_target=destination.file,
        variants=args.variants,
        pairs=args.pairs,
    )
    total = None
    if "-" not in inputs:  # listing folders is cheap, and lets the bar show a total
        jobs = list(jobs)
        total = len(jobs)
    root = destination.folder or (destination.file or Path(".")).parent
    log_wanted = args.log_path is not None
    work = file_work(spec, options, root, seed=seed, log=log_wanted, dry_run=args.dry_run)
    with _log_file(args.log_path, append=args.skip_existing, dry_run=args.dry_run) as log:
        report = _Report(args.verbose, args.quiet, Progress(total) if show else None, args.null)
        try:
            _run(jobs, work, threads, report, args.dry_run, inputs, scheduler, log)
        finally:
            if scheduler is not None:
                from gswarp.cli.signals import closing

                with closing():
                    scheduler.close()


def _file_cluster(cluster: str | None, backend: str, verbose: int):
    """The Dask cluster that file jobs go to (--cluster, else DASK_SCHEDULER_ADDRESS), or
    None: threads in this process."""
    origin = "--cluster"
    if cluster is None:
        if not os.environ.get("DASK_SCHEDULER_ADDRESS"):
            return None  # (dask's config file is read for Zarr runs only: importing dask costs)
        from gswarp.run.cluster import cluster_from_environment

        cluster, origin = cluster_from_environment(), "DASK_SCHEDULER_ADDRESS"
    if backend != "cpu":
        raise click.UsageError("--cluster runs on the workers' CPUs: --device cpu")
    from gswarp.cli.zarr_apply import announce_scheduler, connect_scheduler

    scheduler = connect_scheduler(cluster, None, origin)
    if verbose:
        announce_scheduler(scheduler)
    return scheduler


def _parse_chunks(value: str | None):
    from gswarp.cli.zarr_apply import parse_chunks

    return parse_chunks(value)


def _check_zarr_run(
    inputs, pairs, log_path, variants, stdin_image, dry_run, backend, from_files=False
) -> None:
    """What a Zarr run does not take (usage errors)."""
    from gswarp.io.formats import is_zarr_location

    if not from_files and not all(i != "-" and is_zarr_location(i) for i in inputs):
        raise click.UsageError(
            "Zarr stores and image/volume files cannot be mixed in one run: run gswarp apply "
            "once for the Zarr inputs and once for the files"
        )
    for given, name in (
        (pairs, "--pair"),
        (log_path, "--log"),
        (variants, "--variants"),
        (stdin_image, "--stdin-image"),
        (dry_run, "--dry-run"),
    ):
        if given:
            raise click.UsageError(f"{name} is not supported with Zarr inputs yet")
    if backend != "cpu":
        raise click.UsageError("Zarr inputs are warped on the CPU (--device cpu) for now")


def _run(
    jobs: Iterable[Job],
    work,
    threads: int,
    report: _Report,
    dry_run: bool,
    inputs: tuple[str, ...],
    scheduler=None,
    log=None,
) -> None:
    """Run the jobs, report them, and exit non-zero when something failed."""
    from gswarp.cli.signals import deferring

    try:
        run_file_jobs(
            jobs,
            work,
            threads=threads,
            log=log,
            on_outcome=report,
            cluster=scheduler,
            protect=deferring,
        )
    except KeyboardInterrupt as interrupt:  # Ctrl-C, or SIGTERM/SIGHUP (cli/signals.py)
        from gswarp.cli.signals import exit_status, interruption

        if report.progress:
            report.progress.clear()
        echo_error(
            f"{interruption(interrupt)}: {report.written} written; unfinished outputs were removed"
        )
        sys.exit(exit_status(interrupt))
    if report.progress:
        report.progress.finish()
    if report.written == 0 and report.failed == 0 and report.skipped == 0:
        unsupported = _unsupported_text(inputs)
        fail(
            f"no images found in {', '.join(inputs)} "
            f"(suffixes {', '.join([*sorted(IMAGE_SUFFIXES), *VOLUME_SUFFIXES])})"
            + (f"; {unsupported}" if unsupported else ""),
            EXIT_USAGE,
        )
    if report.verbose and not dry_run:
        unsupported = _unsupported_text(inputs)
        if unsupported:
            click.echo(f"gswarp: {unsupported}", err=True)
    if report.skipped and not report.quiet:
        click.echo(
            f"gswarp: {report.skipped} existing outputs skipped, {report.written} written",
            err=True,
        )
    if report.failed:
        if not report.quiet:
            verb = "checked" if dry_run else "written"
            click.echo(f"gswarp: {report.failed} failed, {report.written} {verb}", err=True)
        sys.exit(EXIT_FILES_FAILED)


@contextlib.contextmanager
def _log_file(path: str | None, append: bool, dry_run: bool):
    if path is None or dry_run:
        yield None
        return
    try:
        log = DrawLog(Path(path), append)
    except GswarpError as error:
        fail(str(error))
    if log.repaired:
        click.echo(
            f"gswarp: warning: --log {path}: removed an incomplete last line ({log.repaired} "
            "bytes) that an interrupted run left",
            err=True,
        )
    with log:
        yield log
