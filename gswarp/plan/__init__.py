"""Resolving a spec against one input: :func:`resolve` gives the :class:`Plan` (matrices, the
output grid, the chain of steps through flow fields) from the spec, the input's size and world
matrix, and the contents of the spec's files (:class:`~gswarp.plan.sources.Sources`).

The plan is pure: its modules import no reader and open no file (``tools/layout_report.py``
checks it); :mod:`gswarp.run.sources` loads the files for the runners.
"""

from gswarp.plan.resolve import Plan, check_fields, reference_grid, resolve, size_text
from gswarp.plan.sources import NO_FILES, Grid, Sources

__all__ = [
    "NO_FILES",
    "Grid",
    "Plan",
    "Sources",
    "check_fields",
    "reference_grid",
    "resolve",
    "size_text",
]
