"""Many files: which outputs the inputs map to, and running the warps on a pool of threads.

Output paths (``OUT`` is the ``-o`` folder):

- a file argument ``a/b/x.png`` -> ``OUT/x.png``;
- a folder argument ``a/`` -> every image below it, its relative path mirrored: ``OUT/b/x.png``
  (hidden files and folders, and ``OUT`` itself when it lies inside, are skipped);
- a path read from stdin -> ``OUT/<path>`` when the path is relative without ``..``, else
  ``OUT/x.png`` (so ``find data -name '*.png' | gswarp apply ... -`` keeps the tree);
- ``format`` replaces the suffix;
- with ``variants`` K, ``x.png`` becomes ``x_000.png`` ... (K outputs per input);
- a paired target ``NAME=DIR`` (a mask) of input ``b/x.png`` is the file at ``DIR/b/x.png`` (or
  ``DIR/b/x.*`` when exactly one supported file has that stem) and goes to ``OUT/NAME/b/x.png``
  (its own suffix; ``format`` is for the images).

Each job carries a ``key``: the input's path relative to its input root (``b/x.png``; the name
for a file argument), which seeds its random draws together with the variant index.

Two inputs that map to one output, an output that is its own input, and missing inputs are
errors of those files only.

Pillow's decoders and encoders and gswarp's kernels release the GIL, so threads give real
parallelism; kernel launches take turns (each already uses every kernel thread).
"""

from __future__ import annotations

import contextlib
import os
import threading
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, replace
from pathlib import Path

from gswarp.errors import GswarpError
from gswarp.io.formats import (
    FORMAT_SUFFIXES,
    READ_ONLY_VOLUMES,
    is_supported_name,
    volume_format,
)

__all__ = ["Job", "Outcome", "Paired", "expand_inputs", "run_jobs", "variant_name"]


@dataclass(frozen=True)
class Paired:
    """A target warped with its job's input (same draw): ``source`` -> ``target``."""

    name: str
    source: Path
    target: Path


@dataclass(frozen=True)
class Job:
    """One input file and the output it becomes; ``error`` is set when it cannot be planned.

    ``key`` (the input's path relative to its input root, POSIX form) and ``variant`` seed the
    job's random draws; ``paired`` are the targets warped with it.
    """

    source: Path
    target: Path | None
    error: str | None = None
    key: str = ""
    variant: int = 0
    paired: tuple[Paired, ...] = ()
    given: Job | None = None
    """On a cluster worker: the job as the client planned it (paths as the user gave them)."""
    seen: tuple | None = None
    """On a cluster worker: (size, modification time) of each input as the client saw it."""

    @property
    def targets(self) -> tuple[Path, ...]:
        """Every output of the job: the input's, then the paired ones."""
        own = () if self.target is None else (self.target,)
        return own + tuple(p.target for p in self.paired)

    @property
    def paired_sources(self) -> tuple[Path, ...]:
        return tuple(p.source for p in self.paired)


@dataclass(frozen=True)
class Outcome:
    """What became of a job: ``error`` is None when ``job.target`` was written."""

    job: Job
    error: str | None
    result: object = None


def walk_images(folder: Path, exclude: Path | None = None) -> Iterator[Path]:
    """Image files below ``folder`` in sorted order, skipping hidden entries, ``exclude`` and
    ``.zarr`` stores (a Zarr input is named on its own: it is warped chunk by chunk)."""
    for root, dirs, files in os.walk(folder):
        here = Path(root)
        dirs[:] = sorted(
            d
            for d in dirs
            if not d.startswith(".")
            and not d.lower().endswith(".zarr")
            and not (exclude and _same(here / d, exclude))
        )
        for name in sorted(files):
            if not name.startswith(".") and is_supported_name(name):
                yield here / name


def _same(a: Path, b: Path) -> bool:
    try:
        return a.resolve() == b.resolve()
    except OSError:
        return False


def _with_format(relative: Path, format: str | None) -> Path:
    """``--format`` changes the suffix of images; volumes keep their format, but MINC and
    Analyze, which gswarp reads and does not write, become NIfTI (``x.mnc`` -> ``x.nii.gz``)."""
    if relative.suffix.lower() in READ_ONLY_VOLUMES:
        return relative.with_suffix(".nii.gz")
    if not format or volume_format(relative) is not None:
        return relative
    return relative.with_suffix(FORMAT_SUFFIXES[format])


def _stdin_relative(path: Path) -> Path:
    if path.is_absolute() or ".." in path.parts:
        return Path(path.name)
    return Path(os.path.normpath(path))


def variant_name(path: Path, index: int, digits: int) -> Path:
    """``x.png`` -> ``x_007.png`` (the suffix kept whole: ``x.nii.gz`` -> ``x_007.nii.gz``).

    >>> variant_name(Path("a/x.nii.gz"), 7, 3).as_posix()
    'a/x_007.nii.gz'
    """
    name = path.name
    suffix = ".nii.gz" if name.lower().endswith(".nii.gz") else path.suffix
    stem = name[: len(name) - len(suffix)] if suffix else name
    return path.with_name(f"{stem}_{index:0{digits}d}{suffix}")


def _paired_source(
    folder: Path, relative: Path, listings: dict[Path, dict[str, list[Path]]]
) -> Path | str:
    """The file under ``folder`` paired with ``relative``, or the reason there is none.
    ``listings`` caches each folder's supported files by stem (one listing per folder)."""
    exact = folder / relative
    if exact.is_file():
        return exact
    stem = relative.name.split(".")[0]
    parent = folder / relative.parent
    if parent not in listings:
        by_stem: dict[str, list[Path]] = {}
        if parent.is_dir():
            for entry in sorted(parent.iterdir()):
                if entry.is_file() and is_supported_name(entry.name):
                    by_stem.setdefault(entry.name.split(".")[0], []).append(entry)
        listings[parent] = by_stem
    candidates = listings[parent].get(stem, [])
    if len(candidates) == 1:
        return candidates[0]
    if not candidates:
        return f"no paired file under {folder} (looked for {exact} and {parent / stem}.*)"
    names = ", ".join(p.name for p in candidates)
    return f"several paired files under {folder} match {parent / stem}.*: {names}"


def expand_inputs(
    arguments: Iterable[tuple[str, bool]],
    output: Path,
    *,
    format: str | None = None,
    single_target: Path | None = None,
    variants: int | None = None,
    pairs: Sequence[tuple[str, Path]] = (),
) -> Iterator[Job]:
    """Jobs for the inputs, lazily (so a path list on stdin streams).

    Parameters
    ----------
    arguments : iterable of (path, from_stdin)
    output : Path
        The output folder.
    format : str, optional
        A key of :data:`FORMAT_SUFFIXES`: the outputs' suffix.
    single_target : Path, optional
        The output file, when ``-o`` names one for a single input file.
    variants : int, optional
        Outputs per input, named ``x_000.png`` ...; None: one output named as the input.
    pairs : sequence of (name, folder)
        Paired targets: each input's counterpart under ``folder`` goes to ``output/name``.
    """
    seen: dict[Path, Path] = {}
    listings: dict[Path, dict[str, list[Path]]] = {}
    digits = max(3, len(str((variants or 1) - 1)))
    for text, from_stdin in arguments:
        source = Path(text)
        if source.is_dir():
            sources = [(p, p.relative_to(source)) for p in walk_images(source, output)]
        elif from_stdin:
            sources = [(source, _stdin_relative(source))]
        else:
            sources = [(source, Path(source.name))]
        for path, relative in sources:
            found = [(name, _paired_source(folder, relative, listings)) for name, folder in pairs]
            problem = next((f for _, f in found if isinstance(f, str)), None)
            for variant in range(variants or 1):

                def named(p: Path, variant: int = variant) -> Path:
                    return p if variants is None else variant_name(p, variant, digits)

                target = named(single_target or output / _with_format(relative, format))
                paired = tuple(
                    Paired(name, file, output / name / named(relative.with_name(file.name)))
                    for name, file in found
                    if isinstance(file, Path)
                )
                job = Job(path, target, None, relative.as_posix(), variant, paired)
                if problem is not None:
                    job = Job(path, None, f"{path}: {problem}", job.key, variant)
                yield _checked(job, seen)


def _checked(job: Job, seen: dict[Path, Path]) -> Job:
    source = job.source
    if job.error:
        return job
    if not source.exists():
        return replace(job, target=None, paired=(), error=f"{source}: no such file")
    for target in job.targets:
        replaced = target.exists() and next(
            (s for s in (source, *job.paired_sources) if _same(s, target)), None
        )
        if replaced:
            which = "the input" if replaced == source else f"the paired input {replaced}"
            return replace(
                job,
                target=None,
                paired=(),
                error=f"{source}: the output would replace {which}; choose another -o",
            )
        key = Path(os.path.abspath(target))
        if key in seen:
            return replace(
                job,
                target=None,
                paired=(),
                error=f"{source}: its output {target} is also the output of {seen[key]}; "
                "rename one of them",
            )
    for target in job.targets:
        seen[Path(os.path.abspath(target))] = source
    return job


def run_jobs(
    jobs: Iterable[Job],
    work: Callable[[Job, threading.Event], object],
    *,
    threads: int,
    on_outcome: Callable[[Outcome], None],
    thread_setup: Callable[[], None] | None = None,
    cluster=None,
    protect: Callable[[], contextlib.AbstractContextManager] = contextlib.nullcontext,
) -> None:
    """Run ``work(job, cancelled)`` for every job on ``threads`` threads, calling ``on_outcome``
    (in this thread) as each finishes. ``protect()``: a context in which an interruption is
    held back (the command line's :func:`gswarp.cli.signals.deferring`): a finished job is
    taken from the pending ones and reported whole, or not at all.

    ``GswarpError``/``OSError`` from ``work`` become failed outcomes and the other jobs go on. A
    ``KeyboardInterrupt`` (in ``on_outcome`` or while waiting) sets ``cancelled``, lets the
    running jobs discard their temporary files, and is re-raised.

    ``cluster``: a :class:`gswarp.run.cluster.Scheduler` with a Dask client; each job is then one
    task on its workers (``work`` must pickle; ``threads`` jobs are kept in flight per worker).
    A job's output is written atomically, so a cancelled or lost task leaves it whole or absent.
    """
    cancelled = threading.Event()
    pending: dict[Future, tuple[Job, ...]] = {}  # each task's jobs

    def guarded(job: Job) -> Outcome:
        if cancelled.is_set():
            return Outcome(job, "cancelled")
        return _attempt(work, job, cancelled)

    batch: list[Job] = []
    executor, submit, limit, per_task = _executor(cluster, threads, thread_setup, guarded, work)

    def report(result) -> None:
        for outcome in result if isinstance(result, list) else [result]:
            on_outcome(outcome if cluster is None else _as_given(outcome))

    try:
        for job in jobs:
            if job.error:
                on_outcome(Outcome(job, job.error))
                continue
            batch.append(job)
            if len(batch) < per_task:
                continue
            while len(pending) >= limit:
                _drain(pending, report, protect, cluster is not None)
            with protect():  # a submitted job is always in pending (reported if it finishes)
                pending[submit(batch)] = tuple(batch)
            batch = []
        if batch:
            with protect():
                pending[submit(batch)] = tuple(batch)
        while pending:
            _drain(pending, report, protect, cluster is not None)
    except BaseException:
        cancelled.set()
        if cluster is None:
            executor.shutdown(wait=True, cancel_futures=True)
        else:
            executor.shutdown(wait=False)  # cancels the cluster's tasks not yet finished
        _report_finished(pending, report)
        raise
    executor.shutdown(wait=True)
    if cluster is not None:
        from gswarp.run import allocator

        cluster.everywhere(allocator.restore)  # the workers' allocator as it was (run_remote)


CLUSTER_FILES_PER_TASK = 8  # files per cluster task: Dask's own cost per task is milliseconds


def _executor(cluster, threads: int, thread_setup, guarded, work):
    """(executor, submit(jobs) -> Future, jobs in flight at most, jobs per task): a pool of
    ``threads`` threads running ``guarded`` on one job, or the cluster's executor running
    :func:`run_remote` on ``CLUSTER_FILES_PER_TASK`` jobs."""
    if cluster is None:
        executor = ThreadPoolExecutor(max_workers=threads, initializer=thread_setup)
        limit = max(2 * threads, 4)  # bounded look-ahead: a stdin list is consumed as it comes

        def submit(group: list[Job]) -> Future:
            return executor.submit(guarded, group[0])

        return executor, submit, limit, 1
    executor = cluster.client.get_executor(pure=False)
    kernel_threads = cluster.threads_per_task()
    # ``work`` goes with each task (a spec and options: small). Scattered once instead, it
    # was lost with the first worker that died ("lose scattered data, which can't be
    # recovered") and every task still to run was cancelled: the run ended in a traceback
    run = uuid.uuid4().hex  # marks this run's outputs (a rescheduled task knows its own)

    def submit_remote(group: list[Job]) -> Future:
        # a worker resolves a relative path in its own working directory: send absolute
        # ones (the report maps them back to the paths as the user gave them)
        return executor.submit(
            run_remote, work, kernel_threads, tuple(_absolute(job) for job in group), run
        )

    return executor, submit_remote, max(4 * cluster.worker_threads(), 8), CLUSTER_FILES_PER_TASK


def _absolute(job: Job) -> Job:
    """The job with every path absolute (in this process's working directory)."""
    absolute = Path(os.path.abspath(job.source))
    return replace(
        job,
        source=absolute,
        target=None if job.target is None else Path(os.path.abspath(job.target)),
        paired=tuple(
            replace(
                p, source=Path(os.path.abspath(p.source)), target=Path(os.path.abspath(p.target))
            )
            for p in job.paired
        ),
        given=job,
        seen=tuple(_file_state(path) for path in (job.source, *job.paired_sources)),
    )


def _file_state(path: Path) -> tuple[int, int] | None:
    """(size, modification time) of an input as this process sees it; None if it has none."""
    try:
        status = os.stat(path)
    except OSError:
        return None
    return (status.st_size, status.st_mtime_ns)


def _check_same_files(job: Job) -> str | None:
    """On a cluster worker: an error when the job's inputs are not the files the client saw
    (another machine's disk at the same path, or a missing shared file system)."""
    if job.seen is None:
        return None
    for path, seen in zip((job.source, *job.paired_sources), job.seen, strict=True):
        if seen is not None and _file_state(path) != seen:
            import socket

            return (
                f"{path}: on worker {socket.gethostname()} this is not the client's file (missing, "
                "or another size or time): the workers must see the client's files (a shared "
                "file system)"
            )
    return None


def _as_given(outcome: Outcome) -> Outcome:
    """A cluster task's outcome with the job and the written paths as the user gave them."""
    given = outcome.job.given
    if given is None:
        return outcome
    names = {Path(os.path.abspath(t)): t for t in given.targets}
    result = outcome.result
    if result is not None and hasattr(result, "written"):
        result.written = [(names.get(Path(p), p), entry) for p, entry in result.written]
        result.skipped = [names.get(Path(p), p) for p in result.skipped]
    return replace(outcome, job=given)


def run_remote(
    work: Callable, threads: int | None, group: Sequence[Job], run: str | None = None
) -> list[Outcome]:
    """A few jobs on a cluster worker (:func:`run_jobs` with a cluster): ``work(job,
    cancelled)`` for each, with the worker's share of the cores, failures turned into outcomes
    as locally. ``run``: the run's token (:data:`gswarp.io.atomic.RUN`), with which a task
    that Dask reschedules after its worker died replaces the outputs it already wrote instead
    of failing on them."""
    from gswarp.io.atomic import RUN

    token = RUN.set(run)
    try:
        return _run_group(work, threads, group)
    finally:
        RUN.reset(token)


def _run_group(work: Callable, threads: int | None, group: Sequence[Job]) -> list[Outcome]:
    from gswarp.run import allocator
    from gswarp.run.cluster import worker_memory_limit

    limit = worker_memory_limit()  # Dask's nanny set a 64 KiB trim threshold (see allocator)
    if limit is not False:
        allocator.keep_large_buffers_if_room(limit)
    if threads:
        from gswarp.engine.threads import set_num_threads

        set_num_threads(threads)
    outcomes = []
    for job in group:
        mismatch = _check_same_files(job)
        outcomes.append(
            Outcome(job, mismatch) if mismatch else _attempt(work, job, threading.Event())
        )
    return outcomes


def _attempt(work: Callable, job: Job, cancelled: threading.Event) -> Outcome:
    """``work(job, cancelled)`` as an outcome: ``GswarpError``/``OSError`` (and running out of
    memory) become a failed one, and the other jobs go on."""
    try:
        return Outcome(job, None, work(job, cancelled))
    except (GswarpError, OSError, MemoryError) as error:
        return Outcome(job, _message(error, job))


def _report_finished(pending: dict[Future, tuple[Job, ...]], report: Callable) -> None:
    """After an interruption: report the jobs that finished their outputs meanwhile (the files
    exist, so stdout and the count must name them); the others left nothing behind."""
    for future in list(pending):
        if not future.done() or future.cancelled():
            continue
        try:
            result = future.result()
        except BaseException:  # a task that did not finish left no output
            continue
        outcomes = result if isinstance(result, list) else [result]
        with contextlib.suppress(BaseException):
            report([o for o in outcomes if o.error is None])


def _drain(
    pending: dict[Future, tuple[Job, ...]],
    on_outcome: Callable[[Outcome], None],
    protect: Callable[[], contextlib.AbstractContextManager] = contextlib.nullcontext,
    remote: bool = False,
) -> None:
    """Report the jobs that finished, waiting at most 0.5 s so that Ctrl-C is seen promptly. A
    cluster task that failed as a whole (its workers died: Dask's ``KilledWorker``; cancelled)
    fails its jobs, each with one line; the other tasks go on."""
    done, _ = wait(list(pending), timeout=0.5, return_when=FIRST_COMPLETED)
    for future in done:
        with protect():
            jobs = pending.pop(future)
            try:
                result = future.result()
            except Exception as error:
                if not remote:
                    raise  # a defect in this process: a traceback, not a failed file
                result = [Outcome(job, _lost(job, error)) for job in jobs]
            on_outcome(result)


def _lost(job: Job, error: BaseException) -> str:
    from gswarp.errors import first_line

    return (
        f"{job.source}: its cluster task was lost ({first_line(error, 160)}); the "
        "workers may have died or run out of memory: run again with --skip-existing"
    )


def _message(error: BaseException, job: Job) -> str:
    text = str(error) if isinstance(error, GswarpError) else _os_message(error)
    return (
        text
        if text.startswith(str(job.source))
        or (job.target is not None and text.startswith(str(job.target)))
        else f"{job.source}: {text}"
    )


def _os_message(error: BaseException) -> str:
    if isinstance(error, OSError) and error.strerror:
        where = error.filename or ""
        return f"{where}: {error.strerror}" if where else error.strerror
    if isinstance(error, MemoryError):
        return "out of memory"
    return str(error)
