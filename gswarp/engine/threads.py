"""How many threads one kernel launch uses (the compiled engine's pool).

The default is every core this process may use (:func:`gswarp.cores.available_cores`), or
``GSWARP_NUM_THREADS`` when set; ``gswarp apply --jobs N`` and :func:`set_num_threads` change
it. Results never depend on it: each output row is computed by one thread, whole.
"""

from __future__ import annotations

from gswarp.cores import default_threads

__all__ = ["default_threads", "set_num_threads"]


def set_num_threads(count: int) -> None:
    """Threads of each kernel launch from now on (at least 1). Without a usable compiled engine
    there is nothing to set: its first kernel call says why, in one line."""
    from gswarp.engine import core

    if core.available():
        core.set_num_threads(max(1, int(count)))
