"""Folder jobs: warp files, folders and path lists by a spec, or write a draw log's outputs again
-- what ``gswarp apply`` runs, callable from Python.

>>> from gswarp.run import warp_files                                   # doctest: +SKIP
>>> summary = warp_files("configs/rotate.yaml", ["sample_images"], "out/rotated")
>>> summary.written[:1], summary.failed                                 # doctest: +SKIP
([PosixPath('out/rotated/checkerboard.png')], [])

A run has the command line's promises: an output is complete or absent (written to a temporary
file, then renamed); an input and its paired targets are written together or not at all; one
bad file is one line in :attr:`Summary.failed` and the others go on; a random spec's draw of a
file depends only on the seed, the file's path relative to its input root and its variant, so
the outputs are the same bytes for any ``threads``, order or subset.

:func:`warp_files` and :func:`replay_files` are the whole jobs; :func:`file_work`,
:func:`run_file_jobs` and :func:`replay_jobs` are their parts, for a caller (the command line)
that reports each outcome as it comes or lists its inputs itself.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from gswarp.errors import GswarpError, SpecError
from gswarp.io.images import Encoding, format_named
from gswarp.run.drawlog import DrawLog, LogEntry, read_log
from gswarp.run.files import Job, Outcome, Paired, expand_inputs, run_jobs
from gswarp.run.jobs import DrawOptions, WriteOptions, dry_run_job, replay_job, warp_job
from gswarp.spec import WarpSpec

__all__ = [
    "Summary",
    "file_work",
    "replay_files",
    "replay_jobs",
    "run_file_jobs",
    "warp_files",
    "write_options",
]


@dataclass
class Summary:
    """What a run did: the outputs written, the one-line errors of the jobs that failed (each
    names its file), and the outputs left as they were (``skip_existing``)."""

    written: list[Path] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    skipped: list[Path] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when no job failed."""
        return not self.failed


def write_options(
    *,
    format: str | None = None,
    overwrite: bool = False,
    skip_existing: bool = False,
    encoding: Encoding | None = None,
    device: str = "cpu",
    notify=None,
) -> WriteOptions:
    """How outputs are written: ``format`` a ``--format`` name (``'png'``, ``'jpg'``, ...; None
    keeps each input's), ``overwrite`` or ``skip_existing`` existing outputs (else they fail),
    the encoders' ``encoding``, the ``device`` that warps ('cpu' or 'cuda'), and ``notify``
    (``notify(key, message)``) for conversions that rescale or clip values."""
    if overwrite and skip_existing:
        raise SpecError("overwrite and skip_existing contradict each other")
    return WriteOptions(
        format_named(format) if format else None,
        overwrite,
        encoding or Encoding(),
        skip_existing,
        device,
        notify,
    )


def file_work(
    spec: WarpSpec,
    options: WriteOptions,
    output_root: Path,
    *,
    seed: int | None = None,
    log: bool = False,
    dry_run: bool = False,
):
    """The work of one job, ``work(job, cancelled)`` for :func:`run_file_jobs`: draw the spec
    (a random one with ``seed``), warp the input and its paired targets, and build their log
    lines (``log``); with ``dry_run``, only read the headers and check.

    Raises
    ------
    SpecError
        ``spec`` is random and no ``seed`` is given.
    """
    if spec.is_random and seed is None:
        raise SpecError(f"{spec.source}: the spec has random values: give a seed")
    draws = DrawOptions(seed, Path(os.path.abspath(output_root)), log)
    return (dry_run_job if dry_run else warp_job)(spec, options, draws)


def run_file_jobs(
    jobs: Iterable[Job],
    work,
    *,
    threads: int | None = None,
    log: DrawLog | None = None,
    on_outcome: Callable[[Outcome], None] | None = None,
    protect: Callable[[], contextlib.AbstractContextManager] = contextlib.nullcontext,
    cluster=None,
) -> Summary:
    """Run ``work`` on every job (``threads`` at a time, or on a Dask ``cluster``'s workers),
    append each written output's line to ``log``, and return the :class:`Summary`.

    ``on_outcome(outcome)`` is called in this thread as each job ends (a log line that cannot
    be written is one more failed outcome, after the job's own); ``protect`` as in
    :func:`gswarp.run.files.run_jobs`. A ``KeyboardInterrupt`` ends the run: jobs still running
    remove their temporary files, and it is raised again.
    """
    from gswarp.cores import available_cores

    threads = threads or available_cores()
    summary = Summary()
    writing = [log]

    def finished(outcome: Outcome) -> None:
        failure = None
        if outcome.error is None:
            for path, entry in outcome.result.written:
                summary.written.append(path)
                if writing[0] is not None and entry is not None:
                    failure = failure or _append(writing, entry)
            summary.skipped.extend(outcome.result.skipped)
        else:
            summary.failed.append(outcome.error)
        if on_outcome is not None:
            on_outcome(outcome)
        if failure is not None:
            summary.failed.append(failure)
            if on_outcome is not None:
                on_outcome(Outcome(outcome.job, failure))

    run_jobs(
        jobs,
        work,
        threads=threads,
        on_outcome=finished,
        thread_setup=_thread_setup(threads),
        cluster=cluster,
        protect=protect,
    )
    return summary


def _append(writing: list, entry: dict) -> str | None:
    """Append an output's log line; a log that cannot be written is one error, and the run
    goes on without it (its outputs are whole; the log holds the lines before)."""
    try:
        writing[0].write(entry)
    except GswarpError as error:
        writing[0] = None
        return str(error)
    return None


def _thread_setup(threads: int):
    def setup() -> None:
        from gswarp.engine.threads import set_num_threads

        set_num_threads(threads)

    return setup


def warp_files(
    spec: WarpSpec | str | Path,
    inputs: Iterable[str | Path],
    output: str | Path,
    *,
    seed: int | None = None,
    variants: int | None = None,
    pairs: Iterable[tuple[str, str | Path]] = (),
    log: str | Path | None = None,
    threads: int | None = None,
    dry_run: bool = False,
    **write: object,
) -> Summary:
    """Warp image and volume files by ``spec`` into the folder ``output``, as ``gswarp apply``.

    Parameters
    ----------
    spec : WarpSpec, or the path of a YAML spec
    inputs : iterable of paths
        Files, and folders walked recursively (their trees mirrored under ``output``).
    output : path
        The output folder (created as needed).
    seed : int, optional
        The seed of a random spec's draws (needed when the spec is random).
    variants : int, optional
        Outputs per input, drawn independently: ``x.png`` -> ``x_000.png``, ``x_001.png``, ...
    pairs : iterable of (name, folder)
        Each input's counterpart at the same relative path under ``folder`` (a mask), warped
        with the same draw into ``output/name``.
    log : path, optional
        A JSON Lines draw log: one line per output (:func:`replay_files` writes them again).
    threads : int, optional
        Files warped at once and the kernels' threads (default: the available cores).
    dry_run : bool
        Read the headers and check, writing nothing.
    **write
        :func:`write_options`' arguments: ``format``, ``overwrite``, ``skip_existing``,
        ``encoding``, ``device``, ``notify``.

    Returns
    -------
    Summary
        The outputs written, the failed files' one-line errors, the outputs skipped.

    Raises
    ------
    SpecError
        A bad spec, a random spec without ``seed``, or a flow field or transform file that
        does not load (before any input is read).
    """
    from gswarp.plan import check_fields
    from gswarp.run.sources import FILES
    from gswarp.spec import load_spec

    spec = spec if isinstance(spec, WarpSpec) else load_spec(spec)
    pairs = tuple((name, Path(folder)) for name, folder in pairs)
    check_fields(spec, FILES)
    spec.check_pair_names([name for name, _ in pairs])
    options = write_options(**write)  # type: ignore[arg-type]
    folder = Path(output)
    jobs = expand_inputs(
        ((str(p), False) for p in inputs),
        folder,
        format=write.get("format"),  # type: ignore[arg-type]
        variants=variants,
        pairs=pairs,
    )
    work = file_work(spec, options, folder, seed=seed, log=log is not None, dry_run=dry_run)
    if log is None or dry_run:
        return run_file_jobs(jobs, work, threads=threads)
    with DrawLog(Path(log), bool(options.skip_existing)) as draw_log:
        return run_file_jobs(jobs, work, threads=threads, log=draw_log)


def replay_files(
    log: str | Path,
    output: str | Path | None = None,
    *,
    threads: int | None = None,
    dry_run: bool = False,
    **write: object,
) -> Summary:
    """Write the outputs of a draw log again, byte for byte (``gswarp apply --replay``): each
    from its logged input, drawn spec and write settings, at its logged path or, with
    ``output``, at its name under that folder. An input that changed since is refused.

    ``**write``: :func:`write_options`' ``overwrite``, ``skip_existing``, ``device``,
    ``notify``.

    Raises
    ------
    InputError
        The log cannot be read or holds no output lines.
    """
    jobs, entries = replay_jobs(Path(log), None if output is None else str(output))
    work = replay_job(entries, write_options(**write), dry_run)  # type: ignore[arg-type]
    return run_file_jobs(jobs, work, threads=threads)


def replay_jobs(log: Path, output: str | None) -> tuple[list[Job], dict]:
    """Jobs for the units of a draw log -- an input and its paired targets, as ``apply`` wrote
    them together -- and each job's ``(entry, target)`` lines by job key. A later line for the
    same output replaces an earlier one (a resumed run appends the outputs it wrote again).

    Raises
    ------
    InputError
        The log cannot be read, or holds no output lines.
    """
    from gswarp.errors import InputError

    by_output: dict[Path, tuple[LogEntry, Path, str | None]] = {}
    for entry in read_log(log):
        target = Path(output) / entry.name if output else entry.output
        resolved = Path(os.path.abspath(target))
        by_output.pop(resolved, None)  # keep the order of the lines that stay
        by_output[resolved] = (entry, target, _replay_error(log, entry, output))
    if not by_output:
        raise InputError(
            f"{log}: holds no output lines: nothing to replay (is it the --log of a run?)"
        )
    units: dict[object, list[tuple[LogEntry, Path, str | None]]] = {}
    for line in by_output.values():
        units.setdefault(line[0].unit, []).append(line)
    jobs, entries = [], {}
    for lines in units.values():
        lines.sort(key=lambda line: line[0].target is not None)  # the input's line first
        main, target, _ = lines[0]
        key = f"{log}:{main.line}"
        error = next((e for _, _, e in lines if e), None)
        paired = tuple(
            Paired(entry.target or str(entry.name), entry.source, path)
            for entry, path, _ in lines[1:]
        )
        jobs.append(Job(main.source, None if error else target, error, key, paired=paired))
        entries[key] = [(entry, path) for entry, path, _ in lines]
    return jobs, entries


def _replay_error(log: Path, entry: LogEntry, output: str | None) -> str | None:
    """Why a logged output cannot be written again (a name outside ``output``, a missing
    input), or None."""
    if output and (entry.name.is_absolute() or ".." in entry.name.parts):
        return (
            f"{log}:{entry.line}: name {entry.name} is not a path inside -o; refusing to write it"
        )
    if not entry.source.exists():
        looked = " or ".join(str(p) for p in entry.looked)
        return f"{looked}: no such file (line {entry.line} of {log})"
    return None
