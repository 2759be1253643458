"""The jobs a library user can start, as ``gswarp apply`` and ``gswarp register`` run them:

- :func:`warp_files` -- image and volume files, folders (trees mirrored), random specs drawn
  per file and variant, paired targets written with their input or not at all, draw logs;
  :func:`replay_files` -- a draw log's outputs written again, byte for byte
  (:mod:`gswarp.run.folder`);
- :func:`warp_zarr` -- a Zarr array or OME-Zarr image warped chunk by chunk on Dask
  (:mod:`gswarp.run.zarr_job`);
- :func:`register` -- the transform that aligns a moving image to a fixed one
  (:mod:`gswarp.registration`).

Their parts: :mod:`~gswarp.run.warp` (one array or file), :mod:`~gswarp.run.jobs` (one job:
draw, warp, pair, log), :mod:`~gswarp.run.files` (inputs -> jobs, the thread pool),
:mod:`~gswarp.run.drawlog`, :mod:`~gswarp.run.sources` (the spec's files for the plan),
:mod:`~gswarp.run.cluster` (Dask), :mod:`~gswarp.run.allocator` (glibc's thresholds for chunk
tasks), :mod:`~gswarp.run.export` (a spec as an ITK transform file).

The names are imported on first use: importing a part (as a Dask worker does) loads no other.
"""

from __future__ import annotations

import importlib
from typing import Any

_LAZY = {
    "Summary": "gswarp.run.folder",
    "warp_files": "gswarp.run.folder",
    "replay_files": "gswarp.run.folder",
    "warp_zarr": "gswarp.run.zarr_job",
    "register": "gswarp.registration",
}

__all__ = sorted(_LAZY)


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'gswarp.run' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(__all__)
