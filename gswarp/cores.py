"""How many cores this process may use: the default thread count of ``gswarp apply`` and of the
``.nii.gz`` compressor."""

from __future__ import annotations

import os

__all__ = ["available_cores", "default_threads"]


def available_cores() -> int:
    """The CPUs this process may run on (its affinity mask on Linux, else the machine's count)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def default_threads() -> int:
    """Threads of a kernel launch unless set (:func:`gswarp.set_num_threads`, ``--jobs``):
    ``GSWARP_NUM_THREADS`` when it holds a positive number, else :func:`available_cores`."""
    text = os.environ.get("GSWARP_NUM_THREADS", "")
    if text.strip().isdigit() and int(text) > 0:
        return int(text)
    return available_cores()
