"""Reading and writing files, one module per kind: :mod:`~gswarp.io.formats` (what a path is,
from its name: the one table of formats), :mod:`~gswarp.io.images` (Pillow),
:mod:`~gswarp.io.volumes` (NumPy, NIfTI, TIFF stacks), :mod:`~gswarp.io.lazy_volumes` (volume
files read in windows), :mod:`~gswarp.io.zarrs` (Zarr and OME-Zarr), :mod:`~gswarp.io.sources`
(a chunked run's input), :mod:`~gswarp.io.fields` (flow fields),
:mod:`~gswarp.io.transform_files` and :mod:`~gswarp.io.transform_export` (registration tools'
files), :mod:`~gswarp.io.atomic` (complete-or-absent outputs).

The package imports none of them: ``gswarp.io.formats`` costs no Pillow, NumPy or zarr.
"""
