"""``gswarp apply SPEC INPUT... -o OUT``: warp files, folders or a path list; or one image stream.

stdout carries data only: one written path per line (or, with ``--stdin-image -o -``, the image
bytes); logs, errors and the progress bar go to stderr. Exit status: 0 all written, 1 some files
failed (each named on stderr; all others written), 2 bad spec, bad option or no inputs,
130 interrupted (no partial files are left).
"""

from __future__ import annotations

import os
import sys
import threading
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import click

from gswarp.batch import Job, Outcome, expand_inputs, is_supported_name, run_jobs
from gswarp.cli.options import (
    EXIT_FILES_FAILED,
    EXIT_INTERRUPTED,
    EXIT_USAGE,
    echo_error,
    fail,
    load_spec_or_exit,
    sampling_options,
)
from gswarp.cli.progress import Progress
from gswarp.errors import GswarpError, SpecError
from gswarp.io.images import (
    FORMAT_SUFFIXES,
    IMAGE_SUFFIXES,
    Encoding,
    format_named,
    format_of,
    probe_image,
)
from gswarp.io.volumes import VOLUME_SUFFIXES, volume_format
from gswarp.plan import check_fields, resolve
from gswarp.spec import WarpSpec


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
    image suffix and is not an existing folder; ``-o -`` (stdin image only) means stdout.
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
    if single and is_supported_name(out.name) and not out.is_dir():
        return Destination(file=_output_file(out, format))
    if out.exists() and not out.is_dir():
        raise click.UsageError(f"-o {output}: exists and is not a folder")
    return Destination(folder=out)


def _output_file(path: Path, format: str | None) -> Path:
    if volume_format(path) is not None:
        return path
    if format_of(path) is None:
        if format is None:
            raise click.UsageError(
                f"-o {path}: unknown image suffix; use one of "
                f"{', '.join(sorted(IMAGE_SUFFIXES))} or --format"
            )
        return path
    if format and format_of(path) != format_named(format):
        raise click.UsageError(f"-o {path} and --format {format} disagree; give one of them")
    return path


def _arguments(inputs: tuple[str, ...]) -> Iterator[tuple[str, bool]]:
    for text in inputs:
        if text != "-":
            yield text, False
            continue
        for line in sys.stdin:
            path = line.rstrip("\r\n")
            if path.strip():
                yield path, True


def _default_threads() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def _thread_setup(threads: int):
    def setup() -> None:
        import numba

        numba.set_num_threads(min(threads, numba.config.NUMBA_NUM_THREADS))

    return setup


def _size_text(size: tuple[int, ...]) -> str:
    """``WxH`` or ``WxHxD`` of a spatial size given as (H, W) or (D, H, W)."""
    return "x".join(str(n) for n in size[::-1])


class _Report:
    """Prints outcomes: paths on stdout, errors and -v lines on stderr, the progress bar."""

    def __init__(self, verbose: int, quiet: bool, progress: Progress | None) -> None:
        self.verbose, self.quiet, self.progress = verbose, quiet, progress
        self.written = self.failed = 0
        self.stdout_open = True

    def __call__(self, outcome: Outcome) -> None:
        if self.progress:
            self.progress.clear()
        if outcome.error is None:
            self.written += 1
            self._path(str(outcome.job.target))
            if self.verbose:
                seconds, before, after = outcome.result  # type: ignore[misc]
                click.echo(
                    f"{outcome.job.source} -> {outcome.job.target} ({_size_text(before)} -> "
                    f"{_size_text(after)}, {seconds * 1000:.1f} ms)",
                    err=True,
                )
        else:
            self.failed += 1
            echo_error(outcome.error)
        if self.progress:
            self.progress.update(self.written, self.failed)

    def _path(self, text: str) -> None:
        if not self.stdout_open:
            return
        try:
            click.echo(text)
            sys.stdout.flush()
        except BrokenPipeError:  # the reader left (| head): keep warping, stop printing
            self.stdout_open = False
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())


@dataclass(frozen=True)
class WriteOptions:
    """How outputs are written: ``format`` is a Pillow format name (None: from the suffix)."""

    format: str | None
    overwrite: bool
    encoding: Encoding


def _warp_job(spec: WarpSpec, options: WriteOptions):
    from gswarp.pipeline import is_volume_path, warp_file, warp_volume_file

    def work(job: Job, cancelled: threading.Event) -> object:
        start = time.perf_counter()
        if is_volume_path(job.source):
            plan = warp_volume_file(
                spec, job.source, job.target, overwrite=options.overwrite, cancelled=cancelled
            )
            return time.perf_counter() - start, plan.input_size, plan.output_size
        plan = warp_file(
            spec,
            job.source,
            job.target,
            format=options.format,
            overwrite=options.overwrite,
            cancelled=cancelled,
            encoding=options.encoding,
        )
        return time.perf_counter() - start, plan.input_size, plan.output_size

    return work


def _dry_run_job(spec: WarpSpec, options: WriteOptions):
    from gswarp.io.volumes import read_volume
    from gswarp.pipeline import is_volume_path

    def work(job: Job, cancelled: threading.Event) -> object:
        if not options.overwrite and job.target.exists():
            raise GswarpError(f"{job.target}: already exists (use --overwrite to replace it)")
        if is_volume_path(job.source):
            volume = read_volume(job.source)
            plan = resolve(spec, volume.voxels.shape[:3], volume.meta.affine)
        else:
            probe = probe_image(job.source)
            if options.format is None and format_of(job.target) is None:
                raise GswarpError(f"{job.target}: unknown image suffix; use --format")
            plan = resolve(spec, (probe.height, probe.width))
        return 0.0, plan.input_size, plan.output_size

    return work


def _stream_image(spec: WarpSpec, destination: Destination, options: WriteOptions) -> int:
    """``--stdin-image``: one image's bytes from stdin to ``-o`` (a file, or stdout)."""
    from gswarp.io.images import encode_image, read_image, write_image
    from gswarp.pipeline import warp_pixels

    try:
        image = read_image(sys.stdin.buffer, name="<stdin>")
        warped = warp_pixels(image.pixels, resolve(spec, image.pixels.shape[:2]))
        if destination.stdout:
            pillow_format = options.format or image.meta.format
            if pillow_format is None:
                raise GswarpError("<stdin>: cannot tell the output format; give --format")
            data = encode_image(warped, image.meta, pillow_format, "<stdout>", options.encoding)
            sys.stdout.buffer.write(data)
            sys.stdout.buffer.flush()
            return 0
        assert destination.file is not None
        write_image(
            destination.file,
            warped,
            image.meta,
            format=options.format,
            overwrite=options.overwrite,
            encoding=options.encoding,
        )
    except GswarpError as error:
        echo_error(str(error))
        return EXIT_FILES_FAILED
    click.echo(str(destination.file))
    return 0


@click.command()
@click.argument("spec_path", metavar="SPEC")
@click.argument("inputs", nargs=-1, metavar="INPUT...")
@click.option(
    "-o",
    "--output",
    required=True,
    metavar="OUT",
    help="Output folder (created if missing); a file name for a single input file; "
    "- for stdout with --stdin-image.",
)
@sampling_options
@click.option(
    "--format",
    "format_",
    type=click.Choice(sorted(FORMAT_SUFFIXES)),
    help="Output format and suffix (default: the input's).",
)
@click.option(
    "--quality",
    type=click.IntRange(1, 100),
    help="JPEG/WebP quality (default: a JPEG keeps its source's quantization, else 95).",
)
@click.option(
    "--compress-level",
    type=click.IntRange(0, 9),
    help="PNG zlib level (default 6, as Pillow and libpng; 1 is several times faster).",
)
@click.option("--overwrite", is_flag=True, help="Replace existing outputs (otherwise an error).")
@click.option(
    "-j",
    "--jobs",
    type=click.IntRange(min=1),
    default=None,
    help="Threads to use (default: all cores). Results are identical for any N.",
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
@click.option("-q", "--quiet", is_flag=True, help="Print only errors on stderr.")
@click.option("-v", "--verbose", count=True, help="Print one line per file on stderr.")
@click.option(
    "--progress/--no-progress",
    default=None,
    help="Progress bar on stderr (default: when stderr is a terminal).",
)
def apply(
    spec_path,
    inputs,
    output,
    mode,
    padding,
    align_corners,
    fill,
    format_,
    quality,
    compress_level,
    overwrite,
    jobs,
    dry_run,
    stdin_image,
    quiet,
    verbose,
    progress,
) -> None:
    """Warp INPUT files with SPEC (YAML) and write them under OUT.

    INPUT: image files (PNG, JPEG, TIFF, BMP, WebP); folders, walked recursively with their
    tree mirrored under OUT; or - to read paths from stdin, one per line. Written paths are
    printed on stdout, one per line.
    """
    spec = load_spec_or_exit(
        spec_path, mode=mode, padding=padding, align_corners=align_corners, fill=fill
    )
    try:
        check_fields(spec)
    except SpecError as error:
        fail(str(error))
    destination = plan_destination(inputs, output, format_, stdin_image)
    options = WriteOptions(
        format_named(format_) if format_ else None,
        overwrite,
        Encoding(quality=quality, compress_level=compress_level),
    )
    if stdin_image:
        sys.exit(_stream_image(spec, destination, options))
    threads = jobs or _default_threads()
    jobs_iter: Iterable[Job] = expand_inputs(
        _arguments(inputs),
        destination.folder or Path("."),
        format=format_,
        single_target=destination.file,
    )
    total = None
    if "-" not in inputs:  # listing folders is cheap, and lets the bar show a total
        jobs_iter = list(jobs_iter)
        total = len(jobs_iter)
    show = progress if progress is not None else (sys.stderr.isatty() and not quiet)
    report = _Report(verbose, quiet, Progress(total) if show else None)
    work = (_dry_run_job if dry_run else _warp_job)(spec, options)
    try:
        run_jobs(
            jobs_iter, work, threads=threads, on_outcome=report, thread_setup=_thread_setup(threads)
        )
    except KeyboardInterrupt:
        if report.progress:
            report.progress.clear()
        echo_error(f"interrupted: {report.written} written; unfinished outputs were removed")
        sys.exit(EXIT_INTERRUPTED)
    if report.progress:
        report.progress.finish()
    if report.written == 0 and report.failed == 0:
        fail(
            f"no images found in {', '.join(inputs)} "
            f"(suffixes {', '.join([*sorted(IMAGE_SUFFIXES), *VOLUME_SUFFIXES])})",
            EXIT_USAGE,
        )
    if report.failed:
        if not quiet:
            verb = "checked" if dry_run else "written"
            click.echo(f"gswarp: {report.failed} failed, {report.written} {verb}", err=True)
        sys.exit(EXIT_FILES_FAILED)
