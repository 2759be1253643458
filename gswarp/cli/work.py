"""What ``gswarp apply`` does with one job: draw the spec, warp the input and its paired targets,
build the draw-log lines; or check it (``--dry-run``); or replay a logged output.

Each function returns a *work* callable ``work(job, cancelled) -> JobResult`` for
:func:`gswarp.batch.run_jobs`.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from gswarp.augment import Draw, draw
from gswarp.batch import Job
from gswarp.drawlog import LogEntry, file_digest, record
from gswarp.errors import GswarpError
from gswarp.io.images import Encoding, format_of, probe_image
from gswarp.plan import Plan, resolve
from gswarp.spec import WarpSpec

if TYPE_CHECKING:
    from gswarp.pipeline import Notify

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
    from gswarp.pipeline import is_volume_path, warp_file, warp_volume_file

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
    from gswarp.io.volumes import read_volume
    from gswarp.pipeline import is_volume_path

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
            plan = _warp_one(used, source, target, options, cancelled, size)
            if name is None:
                size = result.before = plan.input_size
                result.after = plan.output_size
            entry = None
            if draws.log:
                entry = record(
                    source=source,
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
    try:
        return path.relative_to(root)
    except ValueError:
        return Path(path.name)


def dry_run_job(spec: WarpSpec, options: WriteOptions, draws: DrawOptions):
    """Check what ``warp_job`` would do (draw, read headers, resolve) without writing."""
    from gswarp.io.volumes import read_volume
    from gswarp.pipeline import is_volume_path

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
                plan = resolve(used, volume.voxels.shape[:3], volume.meta.affine)
            else:
                probe = probe_image(source)
                if name is None and options.format is None and format_of(target) is None:
                    raise GswarpError(f"{target}: unknown image suffix; use --format")
                plan = resolve(used, (probe.height, probe.width))
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


def replay_job(entries: dict[str, LogEntry], options: WriteOptions, dry_run: bool = False):
    """Write a logged output again: the entry's drawn spec, input and write settings (with
    ``dry_run``, only check that it could be written)."""

    def work(job: Job, cancelled: threading.Event) -> JobResult:
        start = time.perf_counter()
        entry = entries[job.key]
        result = JobResult()
        assert job.target is not None
        if options.skip_existing and job.target.exists():
            result.skipped.append(job.target)
            return result
        if dry_run:
            if job.target.exists() and not options.overwrite:
                raise GswarpError(f"{job.target}: already exists (use --overwrite to replace it)")
            result.written.append((job.target, None))
            return result
        if entry.sha256 is not None and file_digest(job.source) != entry.sha256:
            raise GswarpError(
                f"{job.source}: changed since it was logged (its SHA-256 differs from line "
                f"{entry.line}'s); not replayed"
            )
        write = entry.write
        replayed = WriteOptions(
            write.get("format"),  # a Pillow format name, as logged
            options.overwrite,
            Encoding(quality=write.get("quality"), compress_level=write.get("compress_level")),
            device=options.device,
            notify=options.notify,
        )
        plan = _warp_one(entry.spec, job.source, job.target, replayed, cancelled)
        result.before, result.after = plan.input_size, plan.output_size
        result.written.append((job.target, None))
        result.seconds = time.perf_counter() - start
        return result

    return work
