"""Chunked warps of Zarr volumes on Dask: each output chunk is computed from only the input
window it reads (:mod:`gswarp.engine.chunks`), on dask's threaded scheduler in this process or on
a ``dask.distributed`` cluster. A task sweeps a few rows of output chunks, and each process keeps
the input chunks it decoded (:class:`_ChunkCache`), since neighbouring windows overlap.

The result equals the in-memory warp of the same volume bit for bit (the windowed kernels
compute every coordinate from whole-output indices; padding refers to the whole input), so the
scheduler, the chunk shape and the order in which chunks finish never change a byte. Memory per
task: one output chunk and its input window, plus the process's cache of decoded chunks.

A run writes level 0 chunk by chunk, then each pyramid level from the one before (OME-Zarr
outputs), then the metadata; the output carries a ``gswarp`` attribute with the run's
fingerprint and ``complete: false`` until the end, so ``resume`` (``--skip-existing``) keeps the
chunks an interrupted run stored, after checking that the fingerprint matches, and never mixes
two different runs.
"""

from __future__ import annotations

import functools
import itertools
import os
import threading
import uuid
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

import numpy as np

from gswarp.engine.chunks import chain_window, warp_chain_window
from gswarp.engine.tiles import FieldStep, fused_form
from gswarp.errors import SpecError
from gswarp.io import zarrs
from gswarp.io.sources import open_source
from gswarp.plan import Plan, resolve
from gswarp.run import allocator
from gswarp.run.sources import FILES

__all__ = ["ChunkJob", "ZarrRun", "plan_zarr", "read_window", "run_zarr", "warp_zarr"]


@dataclass(frozen=True)
class ChunkJob:
    """What every chunk task of one run shares (picklable: sent to cluster workers)."""

    source_url: str
    source_path: str
    target_url: str
    target_path: str
    source_axes: tuple[str, ...]
    source_spatial: tuple[int, ...]
    chain: tuple  # output voxel -> input voxel: MatrixStep/FieldStep, at most one field
    out_spatial: tuple[int, ...]  # the whole output's spatial shape
    mode: str
    padding: str
    align_corners: bool
    fill: tuple[float, ...]
    dtype: str  # output dtype
    work_dtype: str  # dtype the kernels run in (the input's, or a wider one for conversions)
    factor: float  # value factor of a dtype conversion (1: none)
    resume: bool
    threads: int | None  # kernel threads per task (None: leave as is)
    token: str = ""  # this run's name for its decoded input chunks (see _ChunkCache)
    source_kind: str = "zarr"  # or a volume file read in pieces (gswarp.io.lazy_volumes)


@dataclass(frozen=True)
class ZarrRun:
    """A planned run: the source, the target, the plan and the tasks' shared settings."""

    source: zarrs.ZarrSource
    target: zarrs.ZarrTarget
    plan: Plan
    job: ChunkJob
    scale: tuple[float, ...]  # the output's voxel size, [z,] y, x
    translation: tuple[float, ...]  # the output's voxel 0 in world, [z,] y, x
    method: str  # pyramid: 'mean' or 'nearest'
    resumed: bool


def output_chunks(
    source: zarrs.ZarrSource, requested: Sequence[int] | None, out_spatial: tuple[int, ...]
) -> tuple[int, ...]:
    """Chunk shape of the output over all its axes: ``requested`` (spatial, ``(x, y[, z])``
    order as every vector of a spec, or one edge for all), else the input's spatial chunks;
    leading axes 1 (time) and the input's (channels)."""
    k = source.spatial
    if requested is not None:
        spatial = tuple(int(c) for c in requested)[::-1]
        if len(spatial) == 1:
            spatial = spatial * k
        if len(spatial) != k or any(c <= 0 for c in spatial):
            raise SpecError(
                f"chunks: expected 1 or {k} positive sizes (x, y[, z]), got {list(requested)}"
            )
    else:
        spatial = source.chunks[-k:]
    spatial = tuple(min(c, n) for c, n in zip(spatial, out_spatial, strict=True))
    lead = tuple(1 if a == "t" else source.chunks[i] for i, a in enumerate(source.leading))
    return (*lead, *spatial)


def plan_zarr(
    spec,
    source_location: str,
    target_location: str,
    *,
    level: int = 0,
    chunks: Sequence[int] | None = None,
    compress_level: int | None = None,
    resume: bool = False,
    overwrite: bool = False,
    threads: int | None = None,
) -> ZarrRun:
    """Open the source, resolve the spec for it, and create (or reopen) the target.

    ``chunks`` (``(x, y[, z])`` or one edge) overrides ``output.chunks``; the pyramid's levels
    and the compression come from ``output.levels`` and ``output.compression``;
    ``compress_level`` is the codec's level (default: zstd 3, gzip 6).

    Raises
    ------
    SpecError
        The spec asks for something chunked warps do not do yet (antialiasing, a chain of
        several flow fields).
    InputError, ShapeError, BackendError
        As :func:`gswarp.io.sources.open_source` and :func:`gswarp.io.zarrs.create_target`.
    """
    source = open_source(source_location, level)
    if source.kind != "zarr" and str(target_location).rstrip("/").lower().endswith(".ome.zarr"):
        source = replace(source, ome=True)  # a volume file into an OME-Zarr image
    k = source.spatial
    plan = resolve(spec, source.spatial_shape, source.affine, FILES)
    sampling = spec.sampling
    chain = plan.chain
    _check_chunkable(source_location, chain, k, sampling.antialias, sampling.mode)
    out_dtype = source.dtype if spec.output.dtype == "same" else np.dtype(spec.output.dtype)
    work_dtype, factor = _conversion(source.dtype, out_dtype, spec.output.values)
    lead_shape = source.shape[: len(source.leading)]
    out_shape = (*lead_shape, *plan.output_size)
    requested = chunks if chunks is not None else spec.output.chunks
    out_chunks = output_chunks(source, requested, plan.output_size)
    scale, translation = _output_geometry(source, plan.frame, target_location)
    steps, method = _pyramid(source, spec, plan.output_size, scale, out_chunks[-k:])
    fill = tuple(float(v) * factor for v in sampling.fill)
    fingerprint = {
        "input": {
            "shape": list(source.shape),
            "dtype": source.dtype.str,
            "level": level,
            **zarrs.input_identity(source),
        },
        "output": {"shape": list(out_shape), "dtype": out_dtype.str, "chunks": list(out_chunks)},
        **_sampling_fingerprint(chain, sampling, fill, work_dtype, factor),
        "pyramid_steps": [list(step) for step in steps],
        "pyramid": method,
    }
    target, resumed = zarrs.create_target(
        target_location,
        source,
        out_shape,
        out_dtype,
        out_chunks,
        steps=steps,
        compression=spec.output.compression,
        compress_level=compress_level,
        fingerprint=fingerprint,
        resume=resume,
        overwrite=overwrite,
    )
    values = (out_dtype, work_dtype, factor)
    job = _chunk_job(source, target, chain, plan.output_size, sampling, fill, values)
    job = replace(job, resume=resumed, threads=threads)
    return ZarrRun(source, target, plan, job, scale, translation, method, resumed)


def _chunk_job(source, target, chain, out_spatial, sampling, fill, values) -> ChunkJob:
    """The task every chunk runs: where to read and write, the chain, the sampling and the
    value conversion (``values``: output dtype, work dtype, factor); a fresh run's."""
    out_dtype, work_dtype, factor = values
    return ChunkJob(
        source_url=source.url,
        source_path=source.path,
        target_url=target.url,
        target_path=target.path,
        source_axes=source.axes,
        source_spatial=source.spatial_shape,
        chain=tuple(chain),
        out_spatial=tuple(out_spatial),
        mode=sampling.mode.label,
        padding=sampling.padding.label,
        align_corners=bool(sampling.align_corners),
        fill=fill,
        dtype=out_dtype.str,
        work_dtype=work_dtype.str,
        factor=factor,
        resume=False,
        threads=None,
        token=uuid.uuid4().hex,
        source_kind=source.kind,
    )


def _pyramid(source, spec, out_spatial, scale, spatial_chunks) -> tuple[list, str]:
    """An OME-Zarr output's pyramid: the steps between levels (none for a plain array) and
    how a level is reduced ('nearest' for labels and nearest sampling, else 'mean')."""
    method = "nearest" if source.label or spec.sampling.mode.label == "nearest" else "mean"
    if not source.ome:
        return [], method
    return zarrs.pyramid_steps(out_spatial, scale, spatial_chunks, spec.output.levels), method


def _check_chunkable(location: str, chain, k: int, antialias, mode=None) -> None:
    """Refuse what chunked warps do not do yet: ITK's interpolators, ITK's field rule past a
    field's grid, more than one field in the chain, antialiasing."""
    if mode is not None and mode.is_filter:  # a B-spline's prefilter spans the whole input
        raise SpecError(
            f"{location}: sampling.mode {mode.label} (one of ITK's interpolators) is not "
            "offered for chunked Zarr warps yet: write a NIfTI or TIFF output, or use "
            "bilinear, nearest or bicubic"
        )
    if any(isinstance(step, FieldStep) and step.beyond != "edge" for step in chain):
        raise SpecError(
            f"{location}: a displacement field whose grid does not cover the output "
            "grid is applied by ITK's rule on the in-memory path only for now: write a NIfTI "
            "output, or resample the field onto the output grid"
        )
    if fused_form(chain, k) is None:
        raise SpecError(
            f"{location}: a chunked warp takes at most one flow or elastic field "
            "between its matrices; compose the fields into one first"
        )
    if antialias:  # auto (None) means off here: Zarr data are measurements
        raise SpecError(
            f"{location}: antialiasing of chunked Zarr warps is not supported yet "
            "(sampling.antialias: false, or --no-antialias)"
        )


def _output_geometry(source, frame: np.ndarray, target_location: str):
    """(scale, translation) of the output's OME-Zarr geometry: the source's grid (a NIfTI's
    affine in any orientation) through the plan's output ``frame``; a plain array's own."""
    k = source.spatial
    base = source.affine if source.kind == "nifti" else None
    if base is None:
        base = zarrs.grid_affine(source.scale, source.translation)
    grid = base @ np.vstack([frame, [0.0] * k + [1.0]])
    if source.ome:
        return zarrs.scale_translation(grid, target_location)
    return source.scale, source.translation


def _sampling_fingerprint(chain, sampling, fill, work_dtype, factor) -> dict:
    """What a resumed run's sampling must equal: the chain's digest, mode, padding, corners,
    fill, and the value conversion."""
    return {
        "chain": _chain_digest(chain),
        "sampling": [sampling.mode.label, sampling.padding.label, sampling.align_corners, fill],
        "values": [work_dtype.str, factor],
    }


def _chain_digest(steps) -> list:
    """What identifies a chain in a fingerprint: its matrices, and each field's SHA-256."""
    import hashlib

    digest = []
    for step in steps:
        if isinstance(step, FieldStep):
            field = np.ascontiguousarray(step.field, dtype=np.float64)
            to_field = None if step.to_field is None else np.round(step.to_field, 12).tolist()
            digest.append(
                {
                    "field": hashlib.sha256(field.tobytes()).hexdigest(),
                    "shape": list(field.shape),
                    "to_field": to_field,
                    "absolute": bool(step.absolute),
                }
            )
        else:
            digest.append({"matrix": np.round(np.asarray(step.matrix), 12).tolist()})
    return digest


def _conversion(source: np.dtype, target: np.dtype, values: str) -> tuple[np.dtype, float]:
    """(work dtype, value factor) of an output dtype change, as :func:`gswarp.run.warp.warp_pixels`
    does for volumes (``values: auto`` keeps the numbers of volumes)."""
    from gswarp.run.warp import _value_factor, _work_dtype, values_rule

    if source == target:
        return source, 1.0
    rule = values_rule(values, source, False)
    return np.dtype(_work_dtype(source, target)), float(_value_factor(source, target, rule))


# --------------------------------------------------------------------------------------------
# the tasks


def level0_regions(run: ZarrRun) -> list[tuple[tuple[int, ...], tuple[int, ...]]]:
    """(start, stop) over the output's axes of every level-0 chunk: one time point, every
    channel, one spatial chunk; in array order (x varies fastest)."""
    return _regions(run.target.shape, run.target.chunks, len(run.source.leading), run.source)


ROWS_PER_TASK = 3  # chunk rows along y that one level-0 task sweeps together (measured: 2.8
# decodes per output chunk for a 1024^3 oblique rotation with 128^3 chunks, 6.8 for one row)


def level0_rows(run: ZarrRun) -> list[tuple[tuple, ...]]:
    """The level-0 tasks: each :data:`ROWS_PER_TASK` neighbouring rows of chunks along x (one
    time point and z range), swept column by column. Consecutive chunks of a task read
    overlapping input windows, whose decoded chunks the process keeps (:class:`_ChunkCache`):
    an oblique rotation's input chunk is decoded a few times instead of once per output chunk
    that reads it (8 to 27 times)."""
    chunk_y = run.target.chunks[-2]
    groups: dict = {}
    for start, stop in level0_regions(run):
        band = start[-2] // (chunk_y * ROWS_PER_TASK)
        groups.setdefault((*start[:-2], band), []).append((start, stop))
    tasks = []
    for regions in groups.values():
        regions.sort(key=lambda region: (region[0][-1], region[0][-2]))  # x, then y
        tasks.append((tuple(regions),))
    return tasks


def _regions(shape, chunks, n_lead, source) -> list:
    lead_axes = source.leading
    ranges = []
    for i, (n, c) in enumerate(zip(shape, chunks, strict=True)):
        if i < n_lead and lead_axes[i] == "c":
            ranges.append([(0, n)])  # all channels in one task
        else:
            ranges.append([(b, min(b + c, n)) for b in range(0, n, c)])
    regions = []
    for parts in itertools.product(*ranges):
        regions.append((tuple(p[0] for p in parts), tuple(p[1] for p in parts)))
    return regions


@functools.lru_cache(maxsize=16)
def _array(url: str, path: str, mode: str, token: str, kind: str = "zarr"):
    """The zarr array (or volume file, ``kind``), opened once per run and process (``token``:
    the run's; a store rewritten by a later run in the same process is opened afresh, with its
    new shape and chunks)."""
    if kind != "zarr":
        from gswarp.io.lazy_volumes import open_file_array

        return open_file_array(kind, url)
    zarr = zarrs.zarr_modules()
    return zarr.open_array(url, path=path or None, mode=mode)


_ENGINE_LOCK = threading.Lock()  # one warp at a time per process: each uses every core


def _default_cache_bytes() -> int:
    """``GSWARP_CHUNK_CACHE_MB``, else 1/16 of the machine's memory, at most 1 GiB (a Dask
    worker with a memory limit keeps it to 15 % of that: :func:`_prepare_worker`)."""
    if os.environ.get("GSWARP_CHUNK_CACHE_MB"):
        return int(os.environ["GSWARP_CHUNK_CACHE_MB"]) * 2**20
    try:
        memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        memory = 2**31
    return int(min(2**30, max(64 * 2**20, memory // 16)))


CACHE_BYTES = _default_cache_bytes()
_MIN_CACHE = 16 * 2**20  # a worker's cache is never smaller (four 128^3 uint16 chunks)


class _ChunkCache:
    """Decoded input chunks, most recently used kept, up to ``budget`` bytes per process
    (:data:`CACHE_BYTES`), shared by the process's threads. Keys carry the
    run's token, so a store rewritten between runs is never read from here."""

    def __init__(self, budget: int) -> None:
        self.budget = budget
        self.items: OrderedDict = OrderedDict()
        self.bytes = 0
        self.lock = threading.Lock()

    def get(self, key, load: Callable[[], np.ndarray]) -> np.ndarray:
        with self.lock:
            if key in self.items:
                self.items.move_to_end(key)
                return self.items[key]
        value = load()  # decoded outside the lock: threads decode in parallel
        with self.lock:
            if key not in self.items and value.nbytes <= self.budget:
                self.items[key] = value
                self.bytes += value.nbytes
                while self.bytes > self.budget:
                    _, old = self.items.popitem(last=False)
                    self.bytes -= old.nbytes
        return value


_CHUNKS = _ChunkCache(CACHE_BYTES)


def read_window(array, token: str, selection: Sequence[int | slice]) -> np.ndarray:
    """``array[selection]`` (ints and slices with explicit bounds) assembled from the array's
    decoded chunks through the process's :class:`_ChunkCache`; read as it is from a volume
    file that reads windows directly (``array.direct``: :mod:`gswarp.io.lazy_volumes`)."""
    if getattr(array, "direct", False):  # read from the file: nothing to decode or cache
        return array[tuple(selection)]
    bounds = []
    for item, n in zip(selection, array.shape, strict=True):
        if isinstance(item, slice):
            bounds.append((item.start or 0, n if item.stop is None else item.stop))
        else:
            bounds.append((int(item), int(item) + 1))
    chunks = array.chunks
    window = np.empty(tuple(b - a for a, b in bounds), dtype=array.dtype)
    grid = [range(a // c, -(-b // c)) for (a, b), c in zip(bounds, chunks, strict=True)]
    for coords in itertools.product(*grid):
        extent = tuple(
            slice(i * c, min((i + 1) * c, n))
            for i, c, n in zip(coords, chunks, array.shape, strict=True)
        )
        chunk = _CHUNKS.get(
            (token, array.path, coords), lambda extent=extent: np.asarray(array[extent])
        )
        source, target = [], []
        for (a, b), part in zip(bounds, extent, strict=True):
            lo, hi = max(a, part.start), min(b, part.stop)
            source.append(slice(lo - part.start, hi - part.start))
            target.append(slice(lo - a, hi - a))
        window[tuple(target)] = chunk[tuple(source)]
    squeeze = tuple(i for i, item in enumerate(selection) if not isinstance(item, slice))
    return window.squeeze(axis=squeeze) if squeeze else window


def clear_chunk_cache() -> None:
    """Forget this process's decoded input chunks (at the end of a run), put the allocator's
    settings back and hand the freed memory back to the system (glibc keeps freed blocks
    otherwise, and a Dask worker whose resident memory stays above 80 % of its limit is paused
    for good)."""
    with _CHUNKS.lock:
        _CHUNKS.items.clear()
        _CHUNKS.bytes = 0
    allocator.restore()


def _prepare_worker() -> None:
    """On a Dask worker: keep the decoded-chunk cache to 15 % of the worker's memory limit (a
    512 MiB worker: 77 MiB), so that the worker stays below the 80 % at which Dask pauses it;
    and where the limit leaves room, let glibc reuse the chunk tasks' large buffers
    (:func:`gswarp.run.allocator.keep_large_buffers_if_room`; Dask's nanny sets a 64 KiB trim
    threshold), with the cache smaller by the allocator's slack."""
    from gswarp.run.cluster import worker_memory_limit

    limit = worker_memory_limit()
    if limit is False:
        return  # not in a worker
    slack = allocator.keep_large_buffers_if_room(limit)
    if limit:
        _CHUNKS.budget = min(CACHE_BYTES, max(_MIN_CACHE, int(0.15 * limit) - slack))


def warp_row(job: ChunkJob, regions: Sequence[tuple]) -> dict:
    """One level-0 task: the chunks ``regions`` (a row along x), in order. Returns the counts
    ``{'written': n, 'kept': m}``."""
    _prepare_worker()
    counts = {"written": 0, "kept": 0}
    for start, stop in regions:
        counts[warp_region(job, start, stop)] += 1
    return counts


def warp_region(job: ChunkJob, start: tuple[int, ...], stop: tuple[int, ...]) -> str:
    """Warp one output region (a level-0 task) and store it. Returns 'written' or 'kept' (an
    interrupted run stored it already)."""
    out = _array(job.target_url, job.target_path, "r+", job.token)
    n_lead = len(job.source_axes) - len(job.source_spatial)
    if job.resume and _stored(out, start, stop):
        return "kept"
    origin = tuple(start[n_lead:])[::-1]  # (x, y[, z])
    low, high = chain_window(
        job.chain,
        job.out_spatial,
        origin,
        tuple(stop[n_lead:])[::-1],
        job.source_spatial,
        job.mode,
        job.padding,
        job.align_corners,
    )
    window = _input_window(job, start, low, high)
    size = (
        1,
        window.shape[1],
        *(b - a for a, b in zip(start[n_lead:], stop[n_lead:], strict=True)),
    )
    fill = list(job.fill) if len(job.fill) > 1 else job.fill[0]
    with _ENGINE_LOCK:
        if job.threads:
            from gswarp.engine.threads import set_num_threads

            set_num_threads(job.threads)
        result = warp_chain_window(
            window,
            low,
            job.chain,
            size,
            origin,
            job.out_spatial,
            job.mode,
            job.padding,
            job.align_corners,
            fill=fill,
        )
    target = np.dtype(job.dtype)
    if result.dtype != target:
        from gswarp.run.warp import convert_values

        result = convert_values(result, target, "keep")
    _store_region(out, job, result, start, stop)
    return "written"


def _input_window(job: ChunkJob, start, low, high) -> np.ndarray:
    """The input window ``low:high`` (x, y[, z]) that output region ``start`` reads, as
    ``(1, C, *spatial)`` in the work dtype, multiplied by the conversion's factor."""
    n_lead = len(job.source_axes) - len(job.source_spatial)
    k = len(job.source_spatial)
    source = _array(job.source_url, job.source_path, "r", job.token, job.source_kind)
    lead_index = []
    for i, axis in enumerate(job.source_axes[:n_lead]):
        lead_index.append(slice(0, source.shape[i]) if axis == "c" else int(start[i]))
    box = tuple(slice(a, b) for a, b in zip(low[::-1], high[::-1], strict=True))
    window = read_window(source, job.token, (*lead_index, *box))
    window = window.reshape(1, -1, *window.shape[-k:])  # (1, C, *spatial)
    work = np.dtype(job.work_dtype)
    if window.dtype != work:
        window = window.astype(work)
        if job.factor != 1:
            window *= work.type(job.factor)
    return window


def _store_region(out, job: ChunkJob, result: np.ndarray, start, stop) -> None:
    """Write a warped region ``(1, C, *spatial)`` into the output at ``start:stop``, its
    leading axes (channels whole, time and others at their index) as the input's."""
    n_lead = len(job.source_axes) - len(job.source_spatial)
    out_box = tuple(slice(a, b) for a, b in zip(start[n_lead:], stop[n_lead:], strict=True))
    out_lead = []
    shape_lead = []
    for i, axis in enumerate(job.source_axes[:n_lead]):
        if axis == "c":
            out_lead.append(slice(None))
            shape_lead.append(result.shape[1])
        else:
            out_lead.append(int(start[i]))
    out[(*out_lead, *out_box)] = result.reshape(*shape_lead, *result.shape[2:])


def _stored(array, start, stop) -> bool:
    """Whether every chunk of the region is stored."""
    chunks = array.chunks
    ranges = [range(a // c, -(-b // c)) for a, b, c in zip(start, stop, chunks, strict=True)]
    return all(zarrs.chunk_written(array, coords) for coords in itertools.product(*ranges))


@dataclass(frozen=True)
class PyramidLevel:
    """One pyramid level's tasks' settings: where the finer level and this one are, the factor
    (1 or 2) per spatial axis between them, and 'mean' or 'nearest'."""

    url: str
    source_path: str
    target_path: str
    step: tuple[int, ...]
    method: str
    token: str  # the run's (see _array)


def reduce_region(level: PyramidLevel, start, stop) -> str:
    """One pyramid task: the region ``[start, stop)`` of a level from the level before."""
    coarse = _array(level.url, level.target_path, "r+", level.token)
    fine = _array(level.url, level.source_path, "r", level.token)
    step, method = level.step, level.method
    n_lead = len(start) - len(step)
    box = [slice(a, b) for a, b in zip(start[:n_lead], stop[:n_lead], strict=True)]
    box += [
        slice(f * a, f * b) for a, b, f in zip(start[n_lead:], stop[n_lead:], step, strict=True)
    ]
    block = np.asarray(fine[tuple(box)])
    reduced = zarrs.block_reduce(block, step, method)
    coarse[tuple(slice(a, b) for a, b in zip(start, stop, strict=True))] = reduced
    return "written"


# --------------------------------------------------------------------------------------------
# running on a scheduler


def run_zarr(run: ZarrRun, scheduler, on_done: Callable[[int], None] | None = None) -> dict:
    """Run every task of ``run`` on ``scheduler`` (see :func:`gswarp.run.cluster.Scheduler`), then
    the pyramid and the metadata. ``on_done(n)``: a task finished n level-0 chunks. Returns
    counts: ``{'written': n, 'kept': m}``."""
    counts = {"written": 0, "kept": 0}

    def done(result: dict) -> None:
        for key, value in result.items():
            counts[key] = counts.get(key, 0) + value
        if on_done is not None:
            on_done(sum(result.values()))

    job = run.job
    if job.threads is None and scheduler.threads_per_task() is not None:
        job = replace(job, threads=scheduler.threads_per_task())  # cores shared by processes
    try:
        scheduler.run(warp_row, job, level0_rows(run), done)
    finally:
        scheduler.everywhere(clear_chunk_cache)  # give the decoded input chunks' memory back
    target = run.target
    for index in range(1, len(target.levels)):
        path, shape = target.levels[index]
        chunks = tuple(min(c, n) for c, n in zip(target.chunks, shape, strict=True))
        level = PyramidLevel(
            target.url,
            target.levels[index - 1][0],
            path,
            target.steps[index - 1],
            run.method,
            run.job.token,
        )
        regions = _regions(shape, chunks, len(run.source.leading), run.source)
        scheduler.run(reduce_region, level, regions)
    zarrs.finish_target(target, run.source, run.scale, run.translation, run.method)
    return counts


def warp_zarr(spec, source_location: str, target_location: str, **options) -> dict:
    """Warp a Zarr array or OME-Zarr image into a new one, chunk by chunk, on dask's threaded
    scheduler in this process (see :func:`plan_zarr` for the options; ``jobs``: threads)."""
    from gswarp.run.cluster import Scheduler

    jobs = options.pop("jobs", None)
    run = plan_zarr(spec, source_location, target_location, **options)
    return run_zarr(run, Scheduler.threads(jobs))
