"""Which inputs a spec can fit: images (2-D), volumes (3-D), or both.

Most specs fit both (``rotate: 15`` turns an image, or every slice of a volume), and a folder may
mix images and volumes, so a spec is checked against each input when it is resolved
(:mod:`gswarp.plan`). Only a spec whose keys contradict each other fits no input at all; it is
refused here, before any file is read, from the spec alone (no NumPy work, no I/O):
:func:`gswarp.spec.parse_spec` runs the check on every spec it reads.
"""

from __future__ import annotations

from collections.abc import Iterator

from gswarp.errors import SpecError
from gswarp.spec.model import (
    AffineMatrix,
    AffineParams,
    AffineTheta,
    Sometimes,
    Transform,
    TransformFile,
    WarpSpec,
)

__all__ = ["check_dimensions"]


def check_dimensions(spec: WarpSpec) -> None:
    """Refuse a spec that fits no input: one key takes only images (2-D) and another only
    volumes (3-D), e.g. ``rotate: [rx, ry, rz]`` with ``shear``. A spec that fits one kind is
    checked against each input when it is resolved (a folder may mix images and volumes).

    Raises
    ------
    SpecError
        Naming both keys, the second with its ``file:line:column``.
    """
    kinds = {2: "images", 3: "volumes"}
    forced: dict[int, str] = {}  # dimension -> the first key path that takes only it
    if spec.space == "world":
        forced[3] = "space"
    for index, item in enumerate(spec.transforms):
        step = item.transform if isinstance(item, Sometimes) else item
        path = spec.transform_path(index)
        for key, k in _forced_dimensions(step):
            forced.setdefault(k, f"{path}.affine.{key}")
            if 5 - k in forced:
                raise SpecError(
                    f"{spec.where(forced[k])}: takes only {kinds[k]}, but {forced[5 - k]} takes "
                    f"only {kinds[5 - k]}: this spec fits no input"
                )


def _forced_dimensions(step: Transform) -> Iterator[tuple[str, int]]:
    """(key, 2 or 3) for each key of an affine step whose form fits only images or volumes."""
    if isinstance(step, AffineParams):
        if isinstance(step.rotate, tuple):
            yield "rotate", 3
        if any(step.shear):
            yield "shear", 2
        for key in ("scale", "translate", "center"):
            value = getattr(step, key)
            if isinstance(value, tuple) and len(value) in (2, 3):
                yield key, len(value)
    elif isinstance(step, AffineMatrix):
        yield "matrix", len(step.matrix) - 1
    elif isinstance(step, AffineTheta):
        yield "theta", len(step.theta)
    elif isinstance(step, TransformFile):
        yield "file", 3  # registration tools' files here map 3-D world points
