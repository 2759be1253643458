"""Resolve a :class:`~gswarp.spec.WarpSpec` against one image's size: the matrices and geometry.

Frames: every transform in a spec acts in the *input's* pixel frame (pixel centres at integers,
x right, y down), and ``center: image`` is the input's centre. The output grid then maps onto that
frame:

- ``size: same``: one to one.
- ``size: [w, h]`` or ``{scale: s}``: stretched over the same extent, as torch's ``affine_grid``
  does with an identity ``theta`` (so an identity spec with ``scale: 0.5`` resizes to half).
  ``align_corners`` decides whether the corner pixels' centres or their outer edges line up.
- ``size: expand``: the smallest canvas, one to one, that holds the whole transformed input,
  centred (``rotate: 90, size: expand`` equals ``numpy.rot90`` on any image).

The composed forward matrix is inverted once: a list of transforms resamples the input once.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from gswarp.engine.tiles import FieldStep, MatrixStep, Step
from gswarp.errors import InputError, SpecError
from gswarp.io.fields import load_field
from gswarp.spec import (
    AffineMatrix,
    AffineParams,
    AffineTheta,
    FlowSpec,
    OutputSpec,
    Transform,
    WarpSpec,
)
from gswarp.transforms import affine_2d, pixel_matrix_to_theta, theta_to_pixel_matrix

__all__ = ["Plan", "check_fields", "resolve"]


@dataclass(frozen=True)
class Plan:
    """Everything needed to warp one image.

    Attributes
    ----------
    input_size, output_size : (height, width)
    forward : ndarray (3, 3)
        Input pixel -> output pixel (the content's motion, including the output stretch).
    sampling_matrix : ndarray (2, 3)
        Output pixel -> input pixel: what :func:`gswarp.warp_affine` takes.
    theta : ndarray (2, 3)
        The same map as torch's ``affine_grid`` matrix (normalized output -> normalized input)
        for this input size, output size and ``align_corners``.
    spec : WarpSpec
        Sampling and output settings come from here.
    steps : tuple of MatrixStep / FieldStep, or None
        With flow fields in the spec: the chain from output pixels to input pixels
        (:func:`gswarp.engine.tiles.sample_chain`); ``forward``, ``sampling_matrix`` and
        ``theta`` are then None (a flow has no matrix).
    """

    input_size: tuple[int, int]
    output_size: tuple[int, int]
    forward: np.ndarray | None
    sampling_matrix: np.ndarray | None
    theta: np.ndarray | None
    spec: WarpSpec
    steps: tuple[Step, ...] | None = None


def resolve(spec: WarpSpec, input_size: tuple[int, int]) -> Plan:
    """The :class:`Plan` of ``spec`` for an input of ``input_size = (height, width)``.

    >>> from gswarp.spec import parse_spec
    >>> plan = resolve(parse_spec("version: 1\\ntransform: {affine: {translate: [5, 0]}}"), (4, 6))
    >>> plan.sampling_matrix.tolist()
    [[1.0, 0.0, -5.0], [0.0, 1.0, 0.0]]
    """
    height, width = (int(n) for n in input_size)
    align = spec.sampling.align_corners
    if any(isinstance(t, FlowSpec) for t in spec.transforms):
        return _resolve_chain(spec, (height, width))
    forward, inverse = np.eye(3), np.eye(3)
    for step in spec.transforms:
        step_forward, step_inverse = _step_matrices(step, (height, width), align)
        forward = step_forward @ forward
        inverse = inverse @ step_inverse
    output_size, stretch = _output_frame(spec.output, (height, width), forward, align)
    sampling = inverse @ stretch  # output pixel -> frame -> input pixel
    theta = pixel_matrix_to_theta(sampling[None, :2], (height, width), output_size, align)[0]
    return Plan(
        input_size=(height, width),
        output_size=output_size,
        forward=np.linalg.inv(sampling),
        sampling_matrix=sampling[:2].copy(),
        theta=theta,
        spec=spec,
    )


def check_fields(spec: WarpSpec, spatial: int = 2) -> None:
    """Load every flow field of ``spec`` now (they are cached), so that a bad field is one error
    before any image is read.

    Raises
    ------
    SpecError
        A field cannot be read or is not a ``spatial``-D field; names the transform and file.
    """
    for index, transform in enumerate(spec.transforms):
        if isinstance(transform, FlowSpec):
            try:
                load_field(transform.resolved, spatial, transform.key)
            except InputError as error:
                raise SpecError(f"{spec.source}: transform[{index}].flow: {error}") from None


def _resolve_chain(spec: WarpSpec, size: tuple[int, int]) -> Plan:
    """A plan whose map goes through flow fields: consecutive affines are multiplied, and the
    steps run from the output side (the last transform listed acts last on the image, so its
    inverse is applied first to output coordinates)."""
    align = spec.sampling.align_corners
    if spec.output.size == "expand":
        raise SpecError(
            f"{spec.source}: output.size: expand needs affine transforms only (a flow field has "
            "no extent to measure); give [width, height] or same"
        )
    output_size, pending = _output_frame(spec.output, size, np.eye(3), align)
    steps: list[Step] = []
    for transform in reversed(spec.transforms):
        if isinstance(transform, FlowSpec):
            if not np.array_equal(pending, np.eye(3)):
                steps.append(MatrixStep(pending[:2].copy()))
                pending = np.eye(3)
            steps.append(_field_step(transform, size, align))
        else:
            pending = _step_matrices(transform, size, align)[1] @ pending
    if not np.array_equal(pending, np.eye(3)):
        steps.append(MatrixStep(pending[:2].copy()))
    return Plan(size, output_size, None, None, None, spec, tuple(steps))


def _field_step(flow: FlowSpec, size: tuple[int, int], align: bool) -> FieldStep:
    """The field in input pixels, mapped from the input frame onto its own grid."""
    field = load_field(flow.resolved, 2, flow.key)
    height, width = size
    if flow.units == "normalized":  # grid_sample units: half the extent per unit
        half = np.array([width - 1, height - 1]) / 2 if align else np.array([width, height]) / 2
        if flow.kind == "coordinates":  # absolute normalized positions -> pixels
            field = (field * flow.scale + 1) * half - (0.0 if align else 0.5)
        else:
            field = field * (flow.scale * half)
    elif flow.scale != 1:
        field = field * flow.scale
    field_size = field.shape[:2]
    to_field = None
    if field_size != size:  # a coarser (or finer) field spans the same extent
        identity = np.eye(2, 3)[None]
        to_field = theta_to_pixel_matrix(identity, field_size, size, align)[0]
    return FieldStep(field, to_field, absolute=flow.kind == "coordinates")


def _step_matrices(
    step: Transform, size: tuple[int, int], align: bool
) -> tuple[np.ndarray, np.ndarray]:
    """(forward, inverse) 3x3 pixel matrices of one transform in the input frame."""
    if isinstance(step, AffineParams):
        forward = affine_2d(
            step.rotate, step.scale, step.shear, step.translate, _center(step.center, size)
        )
        return forward, np.linalg.inv(forward)
    if isinstance(step, AffineMatrix):
        forward = np.array(step.matrix, dtype=np.float64)
        return forward, np.linalg.inv(forward)
    if isinstance(step, AffineTheta):
        inverse = np.eye(3)
        inverse[:2] = theta_to_pixel_matrix(np.array([step.theta]), size, size, align)[0]
        return np.linalg.inv(inverse), inverse
    raise TypeError(f"not a transform: {step!r}")  # pragma: no cover - the spec forbids it


def _center(center: str | tuple[float, float], size: tuple[int, int]) -> tuple[float, float]:
    if center == "image":
        return ((size[1] - 1) / 2, (size[0] - 1) / 2)
    if center == "origin":
        return (0.0, 0.0)
    return center  # type: ignore[return-value]


def _output_frame(
    output: OutputSpec, size: tuple[int, int], forward: np.ndarray, align: bool
) -> tuple[tuple[int, int], np.ndarray]:
    """(output (height, width), 3x3 output pixel -> input-frame pixel)."""
    height, width = size
    kind = output.size if isinstance(output.size, str) else output.size[0]
    if kind == "same":
        return (height, width), np.eye(3)
    if kind == "expand":
        return _expand(size, forward)
    a, b = output.size[1]  # type: ignore[index]
    if kind == "size":
        out_w, out_h = int(a), int(b)
    else:
        out_w, out_h = max(1, math.floor(width * a + 0.5)), max(1, math.floor(height * b + 0.5))
    stretch = np.eye(3)
    stretch[:2] = theta_to_pixel_matrix(np.eye(2, 3)[None], (height, width), (out_h, out_w), align)[
        0
    ]
    return (out_h, out_w), stretch


def _expand(size: tuple[int, int], forward: np.ndarray) -> tuple[tuple[int, int], np.ndarray]:
    """The canvas holding the transformed input's outer edges, and its offset in the frame."""
    height, width = size
    corners = np.array(
        [
            [-0.5, -0.5, 1],
            [width - 0.5, -0.5, 1],
            [-0.5, height - 0.5, 1],
            [width - 0.5, height - 0.5, 1],
        ]
    ).T
    moved = (forward @ corners)[:2]
    low, high = moved.min(axis=1), moved.max(axis=1)
    extent = high - low
    pixels = np.where(np.abs(extent - np.round(extent)) < 1e-6, np.round(extent), np.ceil(extent))
    pixels = np.maximum(pixels, 1)
    shift = np.eye(3)
    # output pixel 0's outer edge (-0.5) sits at the low edge, the slack split on both sides
    shift[:2, 2] = low + 0.5 - (pixels - extent) / 2
    return (int(pixels[1]), int(pixels[0])), shift
