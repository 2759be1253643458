"""gzip files: written on several threads, read and written with ISA-L or zlib-ng where installed.

A gzip file may hold several members one after another (RFC 1952, section 2.2), and readers
treat them as one stream: gzip(1), Python's ``gzip`` module (so nibabel), zlib's ``gzread`` (so
ITK/SimpleITK, FSL and AFNI). Compressing every piece of the data into a member of its own lets
the pieces compress at the same time on several threads (zlib releases the GIL), as ``pigz`` and
``bgzip`` do. Each member restarts the compressor's dictionary and adds 18 bytes of framing: on
4 MiB pieces the file grows by well under 0.1 %.

zlib-ng (the ``zlib-ng`` package, in the ``nifti`` extra; ITK and SimpleITK ship the same
library) deflates the same format about twice as fast as zlib at the same level and inflates
~1.8x as fast (a 64 MiB float32 volume at level 6, one thread, this project's machine: 0.97 s
instead of 1.87 s, and 0.17 s instead of 0.30 s). Without it, Python's zlib does the work.

ISA-L (Intel's Intelligent Storage Acceleration Library; the ``isal`` package, in the ``nifti``
extra on x86-64 and ARM64) has deflate levels 0-3 of its own, made for speed: its level 2
deflates a 64 MiB float32 volume ~9x as fast as zlib-ng's level 6 (0.15 s instead of 1.09 s,
one thread) into a file 0.5 % larger, and inflates ~1.5x as fast as zlib-ng. On very
compressible data (label maps, empty backgrounds) its files are up to 2.4x zlib's, but there
zlib is quick: a piece ISA-L shrinks below half is deflated again by zlib's level 6 and the
smaller kept (:data:`REDEFLATE_BELOW`), so files stay within 0.5 % of zlib 6's on the volumes
of ``benchmarks/bench_gzip.py``. This is a ``.nii.gz``'s deflate when no level is asked for; a
level asked for (``--compress-level N``) is zlib's level N, deflated by zlib-ng or zlib.
"""

from __future__ import annotations

import gzip
import zlib
from collections import deque
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import BinaryIO

from gswarp.cores import available_cores

try:  # optional: the same formats, faster
    from zlib_ng import gzip_ng as _gzip
    from zlib_ng import zlib_ng as _zlib
except ImportError:
    _gzip, _zlib = gzip, zlib
try:  # optional: the same formats, faster still (its own levels 0-3)
    from isal import igzip as _igzip
    from isal import isal_zlib as _isal
except ImportError:
    _igzip = _isal = None

__all__ = ["GZIP_ERRORS", "gzip_member", "open_gzip", "write_gzip"]

GZIP_ERRORS = tuple({zlib.error, _zlib.error} | ({_isal.error} if _isal else set()))
"""What a corrupt stream raises while it is read (besides ``OSError`` and ``EOFError``)."""

DEFAULT_LEVEL = 6
"""zlib's own default level, as gzip(1) and Python's ``gzip`` module: a file's level when no
level is asked for and ISA-L is not installed."""

FAST_LEVEL = 2
"""ISA-L's level for a file when no level is asked for (its levels are 0-3, 3 the smallest
files; 2 deflates as small as 3 on volumes, sooner)."""

REDEFLATE_BELOW = 0.5
"""A piece ISA-L deflates below this fraction of its size is deflated again by zlib's level 6,
and the smaller member kept: on such data (a label map, an MRI's empty background) zlib's
matches win by up to 2.4x, and zlib is quick there (a 13.5 MiB label map: 8 ms)."""


def gzip_member(data: bytes | memoryview, level: int | None = None) -> bytes:
    """``data`` as one complete gzip member (header with no name and modification time 0, the
    deflate stream, CRC-32 and size): the same bytes on every run with the same libraries.

    ``level``: zlib's level 0-9 (deflated by zlib-ng or zlib); None: ISA-L's
    :data:`FAST_LEVEL` where installed (with zlib's 6 where it deflates much smaller, see
    :data:`REDEFLATE_BELOW`), else zlib's :data:`DEFAULT_LEVEL`.
    """
    if level is None and _isal is not None:
        fast = _isal.compress(data, FAST_LEVEL, wbits=16 + _isal.MAX_WBITS)
        if len(fast) > len(data) * REDEFLATE_BELOW:
            return fast
        smaller = _zlib_member(data, DEFAULT_LEVEL)  # quick on data this compressible
        return smaller if len(smaller) < len(fast) else fast
    return _zlib_member(data, DEFAULT_LEVEL if level is None else level)


def _zlib_member(data: bytes | memoryview, level: int) -> bytes:
    packer = _zlib.compressobj(level, _zlib.DEFLATED, 16 + _zlib.MAX_WBITS)
    return packer.compress(data) + packer.flush()


def open_gzip(path: Path) -> BinaryIO:
    """``path`` opened for reading its decompressed bytes (all members, one stream)."""
    return (_igzip or _gzip).open(path, "rb")


def write_gzip(
    stream: BinaryIO,
    pieces: Iterable[bytes | memoryview],
    level: int | None = None,
    threads: int | None = None,
) -> None:
    """Write ``pieces`` to ``stream`` as a gzip file of one member per piece, in order.

    ``level``: as :func:`gzip_member`'s. Up to ``threads`` pieces (default: the cores this
    process may use) are compressed at once, and at most twice that many are held, so memory
    stays bounded by the pieces' size.
    """
    threads = threads or available_cores()
    if threads <= 1:
        for piece in pieces:
            stream.write(gzip_member(piece, level))
        return
    with ThreadPoolExecutor(max_workers=threads, thread_name_prefix="gswarp-gzip") as pool:
        pending: deque = deque()
        for piece in pieces:
            pending.append(pool.submit(gzip_member, piece, level))
            if len(pending) >= 2 * threads:
                stream.write(pending.popleft().result())
        while pending:
            stream.write(pending.popleft().result())
