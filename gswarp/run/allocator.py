"""glibc's allocator settings for processes that warp chunk after chunk (Dask workers, the CLI).

A chunk task allocates tens of MiB of short-lived buffers: decoded input chunks, the input
window, its float copy, the warped output, the encoder's buffers (about 50 MiB for a 128^3
uint16 chunk). Dask's nanny starts every worker with ``MALLOC_TRIM_THRESHOLD_=65536``
(``distributed.nanny.pre-spawn-environ``), which also fixes glibc's mmap threshold at its 128 KiB
default: each of those buffers is then fresh pages from the kernel, faulted in and zeroed, and
handed back when freed. Measured on the 1024^3 benchmark volume (``benchmarks/RESULTS.md``,
issue 15; 48 chunks near the volume's edge, one thread): 77 ms per output chunk with that
setting, 58 ms with glibc's adaptive defaults, 50 ms with :func:`keep_large_buffers`; on two
Dask workers with 4 GiB limits 88 and 99 ms against 52 and 55 ms.

:func:`keep_large_buffers` raises both thresholds to :data:`THRESHOLD` (32 MiB, glibc's own
largest adaptive mmap threshold on 64-bit), so the buffers are reused from the heap. The price
is resident memory: freed blocks stay with the process, and the heap fragments around
long-lived blocks (the decoded-chunk cache). On 512 MiB Dask workers that took both workers
past Dask's 80 % pause line and the run never ended, so :func:`gswarp.run.zarr_job._prepare_worker`
tunes only workers with room. :func:`restore` puts the process's own settings back and hands
the free memory back at the end of a run. All three do nothing where the C library is not
glibc.
"""

from __future__ import annotations

import contextlib
import ctypes
import os

THRESHOLD = 32 * 2**20  # bytes: mmap and trim threshold while warping chunks

_M_TRIM_THRESHOLD = -1  # mallopt parameters (glibc's malloc.h)
_M_MMAP_THRESHOLD = -3
_GLIBC_DEFAULT = 128 * 1024  # both thresholds' initial value

_kept = False


def _glibc():
    try:
        library = ctypes.CDLL("libc.so.6")
        library.mallopt  # noqa: B018  (glibc has it; musl's libc.so.6 does not exist)
    except (OSError, AttributeError):
        return None
    return library


def keep_large_buffers(threshold: int = THRESHOLD) -> None:
    """Set glibc's mmap and trim thresholds to ``threshold`` bytes in this process (the first
    call decides; later calls do nothing)."""
    global _kept
    if _kept:
        return
    _kept = True
    library = _glibc()
    if library is not None:
        library.mallopt(_M_MMAP_THRESHOLD, int(threshold))
        library.mallopt(_M_TRIM_THRESHOLD, int(threshold))


ROOMY_LIMIT = 2 * 2**30  # a process memory limit from which buffers are kept


def keep_large_buffers_if_room(memory_limit: int | None) -> int:
    """:func:`keep_large_buffers` in a process whose memory limit (a Dask worker's; None or 0:
    none) is at least :data:`ROOMY_LIMIT`. Returns the free memory the allocator may then keep
    (two arenas' thresholds), 0 when nothing changed."""
    if memory_limit and memory_limit < ROOMY_LIMIT:
        return 0
    keep_large_buffers()
    return 2 * THRESHOLD


def restore() -> None:
    """Put back the thresholds this process started with (the ``MALLOC_TRIM_THRESHOLD_`` and
    ``MALLOC_MMAP_THRESHOLD_`` environment settings, else glibc's 128 KiB defaults, now fixed
    rather than adaptive) and hand the free memory back: at the end of a run, so that other
    work in the process (a Dask worker's next job) runs as it would have without gswarp."""
    global _kept
    library = _glibc()
    if _kept and library is not None:
        for parameter, name in ((_M_MMAP_THRESHOLD, "MMAP"), (_M_TRIM_THRESHOLD, "TRIM")):
            value = os.environ.get(f"MALLOC_{name}_THRESHOLD_", "")
            library.mallopt(parameter, int(value) if value.isdigit() else _GLIBC_DEFAULT)
    _kept = False
    release_free_memory()


def release_free_memory() -> None:
    """Hand the allocator's free memory back to the system (``malloc_trim(0)``): a Dask worker
    whose resident memory stays above 80 % of its limit is paused for good."""
    library = _glibc()
    if library is not None:
        with contextlib.suppress(AttributeError):
            library.malloc_trim(0)
