"""What ``gswarp apply`` does with one job: draw the spec, warp the input and its paired targets,
build the draw-log lines; or check it (``--dry-run``); or replay a logged output.

Each function returns a *work* callable ``work(job, cancelled) -> JobResult`` for
:func:`gswarp.run.files.run_jobs`.
"""

from __future__ import annotations

import os
import threading
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from gswarp.errors import GswarpError
from gswarp.io.atomic import written_by_this_run
from gswarp.io.formats import image_format
from gswarp.io.images import Encoding, probe_image
from gswarp.plan import Plan, resolve
from gswarp.run.drawlog import LogEntry, file_digest, file_state, record
from gswarp.run.files import Job
from gswarp.run.sources import FILES
from gswarp.spec import WarpSpec
from gswarp.spec.augment import Draw, draw

if TYPE_CHECKING:
    from gswarp.run.warp import Notify

__all__ = ["DrawOptions", "JobResult", "WriteOptions", "dry_run_job", "replay_job", "warp_job"]


@dataclass(frozen=True)
class WriteOptions:
    """How outputs are written: ``format`` is a Pillow format name (None: from the suffix)."""

    format: str | None
    overwrite: bool
    encoding: Encoding
    skip_existing: bool = False
    device: str = "cpu"
    notify: Notify | None = field(default=None, compare=False)

    def logged(self) -> dict[str, Any]:
        return {
            "format": self.format,
            "quality": self.encoding.quality,
            "compress_level": self.encoding.compress_level,
        }


@dataclass(frozen=True)
class DrawOptions:
    """The run's seed (None: the spec is not random) and whether log lines are wanted."""

    seed: int | None
    output_root: Path
    log: bool = False


@dataclass
class JobResult:
    """What one job did: outputs written (with their log lines), outputs skipped (existing)."""

    seconds: float = 0.0
    before: tuple[int, ...] = ()
    after: tuple[int, ...] = ()
    written: list[tuple[Path, dict[str, Any] | None]] = field(default_factory=list)
    skipped: list[Path] = field(default_factory=list)


def _warp_one(
    spec: WarpSpec,
    source: Path,
    target: Path,
    options: WriteOptions,
    cancelled: threading.Event,
    expect_size: tuple[int, ...] | None = None,
) -> Plan:
    from gswarp.io.volumes import is_volume_path
    from gswarp.run.warp import warp_file, warp_volume_file

    if is_volume_path(source):
        return warp_volume_file(
            spec,
            source,
            target,
            overwrite=options.overwrite,
            cancelled=cancelled,
            expect_size=expect_size,
            device=options.device,
            notify=options.notify,
            encoding=options.encoding,
        )
    return warp_file(
        spec,
        source,
        target,
        format=options.format,
        overwrite=options.overwrite,
        cancelled=cancelled,
        encoding=options.encoding,
        expect_size=expect_size,
        device=options.device,
        notify=options.notify,
    )


def _drawn(spec: WarpSpec, job: Job, draws: DrawOptions) -> Draw:
    if draws.seed is None or not spec.is_random:
        return Draw(spec, {}, (True,) * len(spec.transforms))
    return draw(spec, draws.seed, job.key, job.variant)


def _outputs(job: Job, drawn: Draw) -> list[tuple[str | None, Path, Path, WarpSpec]]:
    """(target name or None, source, output, spec) for the input and each paired target."""
    assert job.target is not None
    outputs: list[tuple[str | None, Path, Path, WarpSpec]] = [
        (None, job.source, job.target, drawn.spec)
    ]
    outputs += [(p.name, p.source, p.target, drawn.spec.for_target(p.name)) for p in job.paired]
    return outputs


def _size_of(path: Path) -> tuple[int, ...]:
    """Spatial size of an input without warping it (for a skipped image with paired targets)."""
    from gswarp.io.volumes import is_volume_path, read_volume

    if is_volume_path(path):
        return read_volume(path).voxels.shape[:3]
    probe = probe_image(path)
    return (probe.height, probe.width)


def warp_job(spec: WarpSpec, options: WriteOptions, draws: DrawOptions):
    """Draw ``spec`` for the job, warp its input and paired targets, and log each output.

    An input and its paired targets are one unit: when one of them fails, the outputs of the
    unit already written are removed again, so a training set never holds an image without its
    mask. Each ``--variants`` draw is its own unit (a variant can fail alone, e.g. when its draw
    is out of range; an unreadable input fails every variant).
    """

    def work(job: Job, cancelled: threading.Event) -> JobResult:
        start = time.perf_counter()
        result = JobResult()
        try:
            _warp_outputs(job, result, cancelled)
        except BaseException:  # an input and its paired targets are one unit: all or none
            for target, _ in result.written:
                target.unlink(missing_ok=True)
            raise
        result.seconds = time.perf_counter() - start
        return result

    def _warp_outputs(job: Job, result: JobResult, cancelled: threading.Event) -> None:
        drawn = _drawn(spec, job, draws)
        size = None
        for name, source, target, used in _outputs(job, drawn):
            if options.skip_existing and target.exists():
                result.skipped.append(target)
                continue
            if size is None and name is not None:
                size = _size_of(job.source)
            if draws.log:  # the log's hash must describe the bytes this warp decodes
                state, digest = file_state(source), file_digest(source)
            ours = written_by_this_run(target)  # a rescheduled cluster task's own output
            chosen = replace(options, overwrite=True) if ours else options
            plan = _warp_one(used, source, target, chosen, cancelled, size)
            if draws.log and file_state(source) != state:
                target.unlink(missing_ok=True)
                raise GswarpError(
                    f"{source}: changed while it was read; not written (its log line could "
                    "not say which content was warped): run again"
                )
            if name is None:
                size = result.before = plan.input_size
                result.after = plan.output_size
            entry = None
            if draws.log:
                entry = record(
                    source=source,
                    sha256=digest,
                    output=target,
                    name=_relative(target, draws.output_root),
                    target=name,
                    key=job.key,
                    variant=job.variant,
                    seed=draws.seed,
                    draws=drawn.values,
                    applied=drawn.applied,
                    spec=used,
                    matrix=plan.forward,
                    write=options.logged(),
                )
            result.written.append((target, entry))

    return work


def _relative(path: Path, root: Path) -> Path:
    try:  # both absolute: a cluster worker gets absolute paths, the root stays as given
        return Path(os.path.abspath(path)).relative_to(os.path.abspath(root))
    except ValueError:
        return Path(path.name)


def dry_run_job(spec: WarpSpec, options: WriteOptions, draws: DrawOptions):
    """Check what ``warp_job`` would do (draw, read headers, resolve) without writing."""
    from gswarp.io.volumes import is_volume_path, read_volume

    def work(job: Job, cancelled: threading.Event) -> JobResult:
        result = JobResult()
        drawn = _drawn(spec, job, draws)
        size = None
        for name, source, target, used in _outputs(job, drawn):
            if target.exists() and options.skip_existing:
                result.skipped.append(target)
                continue
            if target.exists() and not options.overwrite:
                raise GswarpError(f"{target}: already exists (use --overwrite to replace it)")
            if is_volume_path(source):
                volume = read_volume(source)
                plan = resolve(used, volume.voxels.shape[:3], volume.meta.affine, FILES)
            else:
                probe = probe_image(source)
                if name is None and options.format is None and image_format(target) is None:
                    raise GswarpError(f"{target}: unknown image suffix; use --format")
                plan = resolve(used, (probe.height, probe.width), sources=FILES)
            if name is None:
                size = result.before = plan.input_size
                result.after = plan.output_size
            elif size is not None and plan.input_size != size:
                raise GswarpError(
                    f"{source}: is not the size of {job.source}; paired files must have the same "
                    "size"
                )
            result.written.append((target, None))
        return result

    return work


def replay_job(
    entries: dict[str, list[tuple[LogEntry, Path]]], options: WriteOptions, dry_run: bool = False
):
    """Write a logged unit again -- an input's output and its paired targets' -- each from its
    entry's drawn spec, input and write settings (with ``dry_run``, only check that it could be
    written). A unit is all or nothing, as in :func:`warp_job`: when an input of it changed
    since it was logged, or one output fails, none of the unit is written."""

    def work(job: Job, cancelled: threading.Event) -> JobResult:
        start = time.perf_counter()
        lines = entries[job.key]
        result = JobResult()
        try:
            _replay_unit(lines, result, cancelled)
        except BaseException:
            for target, _ in result.written:
                target.unlink(missing_ok=True)
            raise
        result.seconds = time.perf_counter() - start
        return result

    def _replay_unit(lines, result: JobResult, cancelled: threading.Event) -> None:
        todo = []
        for entry, target in lines:
            if options.skip_existing and target.exists():
                result.skipped.append(target)
            elif dry_run:
                if target.exists() and not options.overwrite:
                    raise GswarpError(f"{target}: already exists (use --overwrite to replace it)")
                result.written.append((target, None))
            else:
                todo.append((entry, target))
        states = {}
        for entry, _ in todo:  # every input of the unit checked before any output is written
            states[entry.line] = file_state(entry.source)
            if entry.sha256 is not None and file_digest(entry.source) != entry.sha256:
                raise GswarpError(
                    f"{entry.source}: changed since it was logged (its SHA-256 differs from line "
                    f"{entry.line}'s); not replayed"
                    + (" (nor the rest of its unit)" if len(lines) > 1 else "")
                )
        for entry, target in todo:
            write = entry.write
            replayed = WriteOptions(
                write.get("format"),  # a Pillow format name, as logged
                options.overwrite,
                Encoding(quality=write.get("quality"), compress_level=write.get("compress_level")),
                device=options.device,
                notify=options.notify,
            )
            plan = _warp_one(entry.spec, entry.source, target, replayed, cancelled)
            result.written.append((target, None))
            if file_state(entry.source) != states[entry.line]:
                raise GswarpError(
                    f"{entry.source}: changed while it was replayed; not written: run again"
                )
            if entry.target is None:
                result.before, result.after = plan.input_size, plan.output_size

    return work
