"""The spec's files read from disk for the plan (:class:`~gswarp.plan.sources.Sources`): flow
fields, registration tools' transform files and reference grids. Each reader caches by path,
size and modification time, so a folder run reads each file once."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from gswarp.errors import InputError, SpecError, first_line
from gswarp.io.fields import load_field
from gswarp.io.formats import is_composite_transform, is_nifti
from gswarp.io.volumes import nifti_grid
from gswarp.plan.sources import Grid, Sources
from gswarp.spec import TransformFile
from gswarp.transforms import BSplineGrid, DisplacementField

__all__ = ["FILES", "FileSources"]


class FileSources:
    """:class:`~gswarp.plan.sources.Sources` that read the files named in the spec."""

    def flow_field(self, path: Path, spatial: int | None, key: str | None) -> np.ndarray:
        return load_field(path, spatial, key)

    def holds_field(self, transform: TransformFile) -> bool:
        from gswarp.io.transform_files import file_format, load_composite, load_itk

        if is_composite_transform(transform.path):
            components = load_composite(transform.path)
        elif is_nifti(transform.path):
            return True
        elif (transform.format or file_format(transform.path)) == "itk":
            components = load_itk(transform.path)
        else:
            return False
        return any(isinstance(c, DisplacementField | BSplineGrid) for c in components)

    def transform_maps(
        self,
        transform: TransformFile,
        like: Path | None,
        moving: Grid | None,
    ) -> tuple:
        from gswarp.io import transform_files as files

        path, invert = transform.path, transform.invert
        if is_composite_transform(path):
            return files.load_composite(path, invert)
        if is_nifti(path):
            return (files.load_displacement_field(path, invert),)
        kind = transform.format or files.file_format(path)
        if kind == "afni" and moving is not None:  # its meaning depends on obliquity
            reference = nifti_grid(like) if like is not None else moving
            return (files.load_afni(path, reference, moving, invert),)
        if kind == "itk":
            return files.load_itk(path, invert)
        if kind != "fsl":
            return (files.load_affine(path, transform.format, invert),)
        if like is None:
            raise InputError(
                f"{path}: an FSL FLIRT matrix is defined on the input and reference images' "
                "voxel grids: give the reference NIfTI as the output grid (output: {like: REF}, "
                "or -r REF)"
            )
        if moving is None:
            _check_fsl_text(path)  # no FLIRT matrix is a usage error, not one per input
            return ()
        return (files.load_fsl(path, nifti_grid(like), moving, invert),)

    def reference_grid(self, location: str | Path) -> Grid:
        if str(location).lower().rstrip("/").endswith(".zarr"):
            from gswarp.io.sources import open_source

            source = open_source(str(location))
            if source.affine is None:
                raise SpecError(
                    f"output.like: {location}: a 3-D OME-Zarr image is needed for its grid"
                )
            return source.spatial_shape, source.affine
        return nifti_grid(location)


def _check_fsl_text(path: Path) -> None:
    """An FSL FLIRT ``.mat`` is 4 rows of 4 numbers, finite, invertible, last row 0 0 0 1
    (its meaning is checked with the grids)."""
    from gswarp.io.transform_files import checked_matrix

    try:
        values = np.loadtxt(path, dtype=np.float64, ndmin=2)
    except (OSError, ValueError) as error:
        raise InputError(
            f"{path}: not an FSL FLIRT matrix (4 rows of 4 numbers): {first_line(error)}"
        ) from None
    if values.shape != (4, 4):
        raise InputError(
            f"{path}: not an FSL FLIRT matrix: expected 4 rows of 4 numbers, got {values.shape}"
        )
    checked_matrix(str(path), values)


FILES: Sources = FileSources()
"""The spec's files, read from disk (what every ``gswarp`` command hands the plan)."""
