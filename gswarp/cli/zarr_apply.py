"""``gswarp apply`` on Zarr arrays and OME-Zarr images: each input is warped chunk by chunk on
Dask (:mod:`gswarp.run.zarr_job`), one input after another; the tasks of one input run in parallel
on the chosen scheduler (:mod:`gswarp.run.cluster`)."""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

import click

from gswarp.cli.options import EXIT_FILES_FAILED, echo_error, fail
from gswarp.cli.progress import Progress
from gswarp.errors import GswarpError, first_line
from gswarp.io.formats import is_zarr_location
from gswarp.io.zarrs import location_name


@dataclass(frozen=True)
class ZarrOptions:
    """The command line's settings for a Zarr run."""

    level: int
    chunks: tuple[int, ...] | None
    cluster: str | None
    jobs: int | None
    overwrite: bool
    resume: bool
    compress_level: int | None
    seed: int | None
    quiet: bool
    verbose: int
    progress: bool


def parse_chunks(value: str | None) -> tuple[int, ...] | None:
    """``--chunks 64`` or ``--chunks 128,128,32`` (x, y[, z]), as click's callback."""
    if value is None:
        return None
    parts = [p for p in value.replace(",", " ").split() if p]
    if not parts or not all(p.isdigit() and int(p) > 0 for p in parts) or len(parts) > 3:
        raise click.BadParameter(f"expected N or X,Y[,Z] positive voxel counts, got {value!r}")
    return tuple(int(p) for p in parts)


def zarr_targets(inputs: tuple[str, ...], output: str) -> list[tuple[str, str]]:
    """(source, target) locations: ``-o`` names the target of a single input when it is a
    ``.zarr`` path or a URL, else a folder (or URL prefix) that receives each input's name."""
    single = len(inputs) == 1 and (
        str(output).rstrip("/").lower().endswith(".zarr") or "://" in str(output)
    )
    if single:
        return [(inputs[0], output)]
    if not all(is_zarr_location(i) for i in inputs):
        raise click.UsageError(
            f"-o {output}: one volume file per run is written into a .zarr output"
        )
    if Path(output).exists() and not Path(output).is_dir():
        raise click.UsageError(f"-o {output}: exists and is not a folder")
    names = [location_name(i) for i in inputs]
    if len(set(names)) != len(names):
        raise click.UsageError("two Zarr inputs have the same name: give them one run each")
    base = str(output).rstrip("/")
    return [(i, f"{base}/{name}") for i, name in zip(inputs, names, strict=True)]


def run_zarr_apply(spec, inputs: tuple[str, ...], output: str, options: ZarrOptions) -> int:
    """Warp every Zarr input; returns the exit status (0, 1 when some failed, 130 on Ctrl-C)."""
    from gswarp.run import allocator
    from gswarp.run.cluster import Scheduler, cluster_from_environment

    allocator.keep_large_buffers()  # this process is the command's: chunk tasks run in it
    pairs = zarr_targets(inputs, output)
    is_folder = len(pairs) > 1 or not pairs[0][1].lower().rstrip("/").endswith(".zarr")
    if is_folder and "://" not in str(output):
        Path(output).mkdir(parents=True, exist_ok=True)
    cluster = options.cluster or cluster_from_environment()
    origin = "--cluster" if options.cluster else "DASK_SCHEDULER_ADDRESS"
    if cluster:
        scheduler = connect_scheduler(cluster, options.jobs, origin)
    else:
        scheduler = Scheduler.threads(options.jobs)
    if options.verbose:
        announce_scheduler(scheduler)
    failed = written = 0
    try:
        for source, target in pairs:
            if _warp_one(spec, source, target, options, scheduler):
                written += 1
            else:
                failed += 1
    except KeyboardInterrupt as interrupt:  # Ctrl-C, or SIGTERM/SIGHUP (cli/signals.py)
        from gswarp.cli.signals import exit_status, interruption

        echo_error(
            f"{interruption(interrupt)}: {written} written; the output being written is "
            "incomplete (its stored chunks are whole): run again with --skip-existing to resume it"
        )
        return exit_status(interrupt)
    finally:
        from gswarp.cli.signals import closing

        with closing():
            scheduler.close()
    if failed:
        if not options.quiet:
            click.echo(f"gswarp: {failed} failed, {written} written", err=True)
        return EXIT_FILES_FAILED
    return 0


def _warp_one(spec, source: str, target: str, options: ZarrOptions, scheduler) -> bool:
    from gswarp.io.zarrs import is_complete
    from gswarp.run.zarr_job import level0_regions, plan_zarr, run_zarr
    from gswarp.spec.augment import draw

    try:
        drawn = spec
        if spec.is_random and options.seed is not None:
            drawn = draw(spec, options.seed, location_name(source)).spec
        run = plan_zarr(
            drawn,
            source,
            target,
            level=options.level,
            chunks=options.chunks,
            compress_level=options.compress_level,
            resume=options.resume,
            overwrite=options.overwrite,
        )
        if run.resumed and is_complete(target):  # its fingerprint matched: the same run
            if not options.quiet:
                click.echo(f"gswarp: {target}: complete already, kept", err=True)
            return True
        bar = None
        if options.progress:
            bar = Progress(len(level0_regions(run)), unit="chunks", eta=True)
        from gswarp.cli.signals import check

        def chunks_done(count: int) -> None:
            check()  # an interrupt Python swallowed (in a GC callback) stops the run here
            if bar:
                bar.update(bar.done + count, 0)

        counts = run_zarr(run, scheduler, chunks_done)
        if bar:
            bar.finish()
    except GswarpError as error:
        text = str(error)
        named = text.startswith((location_name(source), str(source), str(target)))
        echo_error(text if named else f"{source} -> {target}: {text}")
        return False
    except (OSError, ValueError, TypeError, KeyError) as error:  # stores, codecs, workers
        echo_error(f"{source} -> {target}: a chunk failed: {first_line(error)}")
        return False
    click.echo(target)
    if options.verbose:
        kept = f", {counts['kept']} kept from the interrupted run" if counts.get("kept") else ""
        click.echo(
            f"gswarp: {source} -> {target}: {counts['written']} chunks written{kept}, "
            f"{len(run.target.levels)} level(s)",
            err=True,
        )
    return True


def connect_scheduler(cluster: str, jobs: int | None, origin: str):
    """``Scheduler.connect`` for the command line: a bad value is one line and exit 2; Ctrl-C
    (or SIGTERM/SIGHUP) while the cluster starts stops what started, says so in one line and
    exits 128 + N."""
    from gswarp.cli.signals import exit_status, interruption
    from gswarp.run.cluster import Scheduler

    try:
        return Scheduler.connect(cluster, jobs, origin)
    except GswarpError as error:
        fail(str(error))
    except KeyboardInterrupt as interrupt:
        echo_error(f"{interruption(interrupt)} while the Dask cluster started: nothing written")
        sys.exit(exit_status(interrupt))


def announce_scheduler(scheduler) -> None:
    """``-v``: where the tasks run, and the Dask dashboard's link when there is one."""
    click.echo(f"gswarp: scheduler: {scheduler.description}", err=True)
    if scheduler.dashboard:
        click.echo(f"gswarp: dashboard: {scheduler.dashboard}", err=True)


def has_zarr_inputs(inputs: tuple[str, ...]) -> bool:
    return any(i != "-" and is_zarr_location(i) for i in inputs)


def writes_zarr_from_files(inputs: tuple[str, ...], output: str | None) -> bool:
    """Volume files (``.nii``, ``.npy``, TIFF stacks; :mod:`gswarp.io.lazy_volumes`) warped into
    a ``.zarr`` output: read in pieces, chunk by chunk, whatever their size."""
    from gswarp.io.lazy_volumes import file_kind

    if not output or not str(output).rstrip("/").lower().endswith(".zarr") or not inputs:
        return False
    try:
        return all(i != "-" and not is_zarr_location(i) and file_kind(i) for i in inputs)
    except GswarpError:  # a .nii.gz: the run says why it cannot be read in pieces
        return True
