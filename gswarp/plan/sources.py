"""What a plan reads from the spec's files, as an interface: the runner loads, the plan resolves.

A spec may name files: flow fields (``flow: {path}``), registration tools' transform files
(``file: {path}``) and reference grids (``output: {like}``). :func:`gswarp.plan.resolve` asks a
:class:`Sources` for their contents and opens nothing itself, so a plan can be resolved from
arrays in memory (a test, a chunk planner on a worker). :data:`gswarp.run.sources.FILES` is the
implementation that reads the files (once per file and modification time).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Protocol

import numpy as np

from gswarp.errors import InputError

if TYPE_CHECKING:
    from gswarp.spec import TransformFile

__all__ = ["NO_FILES", "Grid", "Sources"]

Grid = tuple[tuple[int, ...], np.ndarray]
"""A volume's grid: spatial size ``(D, H, W)`` and voxel ``(x, y, z)`` -> RAS world matrix."""


class Sources(Protocol):
    """The contents of a spec's files, as :func:`gswarp.plan.resolve` needs them."""

    def flow_field(self, path: Path, spatial: int | None, key: str | None) -> np.ndarray:
        """A flow field's array, ``(H, W, 2)`` or ``(D, H, W, 3)`` (``spatial`` axes when
        given), as its file holds it (``key``: the array's name in an ``.npz``)."""
        ...

    def holds_field(self, transform: TransformFile) -> bool:
        """Whether a transform file holds a displacement field (alone or in a composite)."""
        ...

    def transform_maps(
        self,
        transform: TransformFile,
        like: Path | None,
        moving: Grid | None,
    ) -> tuple:
        """A transform file's maps in the order they act on an output point: 4x4 RAS matrices
        and :class:`~gswarp.transforms.DisplacementField` s. ``like``: the output grid's
        reference NIfTI, on whose grid FSL and AFNI matrices are defined with the input's grid
        ``moving``; without ``moving`` the file is only checked."""
        ...

    def reference_grid(self, location: str | Path) -> Grid:
        """An ``output: {like}`` reference's grid (a NIfTI file, an OME-Zarr image)."""
        ...


class _NoFiles:
    """The default: a spec that names a file cannot be resolved without sources."""

    def _refuse(self, path) -> InputError:
        return InputError(
            f"{path}: the plan reads no file: resolve this spec with sources "
            "(gswarp.run.sources.FILES reads them from disk)"
        )

    def flow_field(self, path, spatial, key):
        raise self._refuse(path)

    def holds_field(self, transform) -> bool:
        return False

    def transform_maps(self, transform, like, moving):
        raise self._refuse(transform.path)

    def reference_grid(self, location):
        raise self._refuse(location)


NO_FILES: Sources = _NoFiles()
"""Sources that hold no file: enough for specs that name none."""
