"""YAML warp specs -> frozen, validated :class:`WarpSpec` objects.

A spec says *what* to do to every image, independent of any image's size::

    version: 1
    transform:               # one transform, or a list (the first listed acts first on the image)
      - affine: {rotate: 15, scale: 1.2, shear: [5, 0], translate: [20, -10], center: image}
      - affine: {matrix: [[1, 0, 3], [0, 1, 0]]}   # forward, pixel coordinates
      - affine: {theta: [[1, 0, 0], [0, 1, 0]]}    # torch affine_grid's matrix
    sampling: {mode: bilinear, padding: zeros, align_corners: false, fill: 0}
    output: {size: same, dtype: same, values: auto}

Conventions: transforms are *forward* (they move the content) in *pixel* coordinates, pixel
centres at integers, x right, y down; ``rotate`` is in degrees, counter-clockwise on screen. Every
error names ``file:line:column``, the key path, what was expected and what was found; unknown keys
are errors, with a "did you mean" where a known key is close. :mod:`gswarp.plan` resolves a spec
against one image's size.

The package: :mod:`~gswarp.spec.model` (the frozen dataclasses), :mod:`~gswarp.spec.reader`
(YAML -> model, with positions), :mod:`~gswarp.spec.dimensions` (which inputs a spec fits),
:mod:`~gswarp.spec.distributions`, :mod:`~gswarp.spec.augment` and :mod:`~gswarp.spec.elastic`
(random values, the draws of a random spec, elastic fields).
"""

from __future__ import annotations

from gswarp.spec.model import (
    DTYPES,
    SPEC_VERSION,
    TRANSFORM_FORMATS,
    AffineMatrix,
    AffineParams,
    AffineTheta,
    ElasticSpec,
    FlowSpec,
    OutputSpec,
    SamplingSpec,
    Sometimes,
    TargetSpec,
    Transform,
    TransformFile,
    WarpSpec,
    is_random_value,
)
from gswarp.spec.reader import load_spec, parse_spec

__all__ = [
    "DTYPES",
    "SPEC_VERSION",
    "TRANSFORM_FORMATS",
    "AffineMatrix",
    "AffineParams",
    "AffineTheta",
    "ElasticSpec",
    "FlowSpec",
    "OutputSpec",
    "SamplingSpec",
    "Sometimes",
    "TargetSpec",
    "Transform",
    "TransformFile",
    "WarpSpec",
    "is_random_value",
    "load_spec",
    "parse_spec",
]
