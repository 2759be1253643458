"""How many threads one kernel launch uses, in both engines (numba's and the compiled core's).

The default is every core this process may use (:func:`gswarp.cores.available_cores`), or
``GSWARP_NUM_THREADS`` when set; ``gswarp apply --jobs N`` and :func:`set_num_threads` change
it. Results never depend on it: each output row is computed by one thread, whole.
"""

from __future__ import annotations

import os
import sys

__all__ = ["apply_to_numba", "default_threads", "set_num_threads"]


def default_threads() -> int:
    """``GSWARP_NUM_THREADS`` when it holds a positive number, else the available cores."""
    from gswarp.cores import available_cores

    text = os.environ.get("GSWARP_NUM_THREADS", "")
    if text.strip().isdigit() and int(text) > 0:
        return int(text)
    return available_cores()


_requested: int | None = None


def set_num_threads(count: int) -> None:
    """Threads of each kernel launch from now on (at least 1), in the compiled engine's pool
    and in numba's (capped by ``NUMBA_NUM_THREADS``, which numba fixes at start-up). numba is
    not imported for it: a run whose kernels are all compiled never loads numba (~150 ms of
    start-up); :mod:`gswarp.engine.cpu` applies the count when it loads numba."""
    global _requested
    _requested = max(1, int(count))
    from gswarp.engine import core

    if core.available():
        core.set_num_threads(_requested)
    if "numba" in sys.modules:
        apply_to_numba()


def apply_to_numba() -> None:
    """Give numba the count :func:`set_num_threads` asked for, if one was asked for."""
    if _requested is not None:
        import numba

        numba.set_num_threads(min(_requested, numba.config.NUMBA_NUM_THREADS))
