"""Resolve a :class:`~gswarp.spec.WarpSpec` against one input's size: matrices and geometry.

Works for images ``(H, W)`` and volumes ``(D, H, W)`` alike (k = 2 or 3 spatial axes).

Frames: every transform in a spec acts in the *input's* pixel frame (pixel centres at integers,
x right, y down, z into the stack), and ``center: image`` is the input's centre. The output grid
then maps onto that frame:

- ``size: same``: one to one.
- ``size: [w, h(, d)]`` or ``{scale: s}``: stretched over the same extent, as torch's
  ``affine_grid`` does with an identity ``theta`` (so an identity spec with ``scale: 0.5``
  resizes to half). ``align_corners`` decides whether the corner pixels' centres or their outer
  edges line up.
- ``size: expand``: the smallest canvas, one to one, that holds the whole transformed input,
  centred (``rotate: 90, size: expand`` equals ``numpy.rot90`` on any image).

The composed forward matrix is inverted once: a list of transforms resamples the input once.
With flow fields the map becomes a chain of steps (:mod:`gswarp.engine.tiles`), consecutive
affines still multiplied into one matrix.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from gswarp.engine.tiles import FieldStep, MatrixStep, Step
from gswarp.errors import GswarpError, InputError, SpecError
from gswarp.plan.sources import NO_FILES, Sources
from gswarp.spec import (
    AffineMatrix,
    AffineParams,
    AffineTheta,
    ElasticSpec,
    FlowSpec,
    OutputSpec,
    Transform,
    TransformFile,
    WarpSpec,
)
from gswarp.spec.elastic import default_grid, elastic_field
from gswarp.transforms import (
    BSplineGrid,
    DisplacementField,
    affine_2d,
    affine_3d,
    pixel_matrix_to_theta,
    resize_matrix,
    theta_to_pixel_matrix,
)

__all__ = ["Plan", "check_fields", "reference_grid", "resolve", "size_text"]


def size_text(size: tuple[int, ...]) -> str:
    """``WxH`` or ``WxHxD`` of a spatial size given as (H, W) or (D, H, W)."""
    return "x".join(str(n) for n in tuple(size)[::-1])


@dataclass(frozen=True)
class Plan:
    """Everything needed to warp one input.

    Attributes
    ----------
    input_size, output_size : (height, width) or (depth, height, width)
    forward : ndarray (k + 1, k + 1)
        Input pixel -> output pixel (the content's motion, including the output stretch).
    sampling_matrix : ndarray (k, k + 1)
        Output pixel -> input pixel: what :func:`gswarp.warp_affine` takes.
    theta : ndarray (k, k + 1)
        The same map as torch's ``affine_grid`` matrix (normalized output -> normalized input)
        for this input size, output size and ``align_corners``.
    spec : WarpSpec
        Sampling and output settings come from here.
    steps : tuple of MatrixStep / FieldStep, or None
        With flow fields in the spec: the chain from output pixels to input pixels
        (:func:`gswarp.engine.tiles.sample_chain`); ``forward``, ``sampling_matrix`` and
        ``theta`` are then None (a flow has no matrix).
    frame : ndarray (k, k + 1)
        Output pixel -> input pixel of the output *grid* alone (its size stretch or expand
        shift, without the transforms): a volume header's new affine is ``affine @ frame``,
        since the transforms move the content, not the grid.
    spacing : tuple of float, or None
        With ``space: world``: the input's voxel size per axis (x first), from its affine; a
        Gaussian's ``sigma`` is given in these units (:meth:`SamplingSpec.filter`).
    """

    input_size: tuple[int, ...]
    output_size: tuple[int, ...]
    forward: np.ndarray | None
    sampling_matrix: np.ndarray | None
    theta: np.ndarray | None
    spec: WarpSpec
    steps: tuple[Step, ...] | None = None
    frame: np.ndarray | None = None
    spacing: tuple[float, ...] | None = None

    @property
    def chain(self) -> tuple[Step, ...]:
        """The plan's map as a chain (:mod:`gswarp.engine.tiles`): its steps, or its sampling
        matrix as the one step."""
        return self.steps if self.steps is not None else (MatrixStep(self.sampling_matrix),)


def resolve(
    spec: WarpSpec,
    input_size: tuple[int, ...],
    affine: np.ndarray | None = None,
    sources: Sources = NO_FILES,
) -> Plan:
    """The :class:`Plan` of ``spec`` for an input of spatial size ``(H, W)`` or ``(D, H, W)``.

    ``affine``: a volume's voxel (x, y, z) -> world (mm) 4x4 matrix, needed by ``space: world``
    and by ``output: {like}`` / ``{spacing}``. ``sources``: what the spec's files hold (flow
    fields, transform files, ``like`` grids), loaded by the caller
    (:data:`gswarp.run.sources.FILES` reads them from disk); the plan itself opens no file.

    Raises
    ------
    SpecError
        The spec does not fit the input's dimensionality (a 3-angle rotation on an image, a 2x3
        matrix on a volume, ...), or a flow field does not load.

    >>> from gswarp.spec import parse_spec
    >>> plan = resolve(parse_spec("version: 1\\ntransform: {affine: {translate: [5, 0]}}"), (4, 6))
    >>> plan.sampling_matrix.tolist()
    [[1.0, 0.0, -5.0], [0.0, 1.0, 0.0]]
    """
    try:
        with np.errstate(all="ignore"):  # extreme numbers: checked below, not warned about
            plan = _resolve(spec, input_size, affine, sources)
    except (OverflowError, ValueError, np.linalg.LinAlgError) as error:
        if isinstance(error, GswarpError):  # SpecError and InputError are ValueErrors too
            raise
        raise SpecError(
            f"{spec.source}: the transforms' numbers are too large or too small to map this "
            f"input of size {size_text(tuple(input_size))} (they overflow)"
        ) from None
    _check_plan_numbers(plan)
    if affine is not None and spec.space == "world":
        k = len(input_size)
        columns = np.linalg.norm(np.asarray(affine, dtype=np.float64)[:k, :k], axis=0)
        plan = replace(plan, spacing=tuple(float(v) for v in columns))
    return plan


_MAX_OUTPUT_POINTS = 1 << 40  # beyond any memory: a size past it is a spec's numbers gone wrong


def _check_plan_numbers(plan: Plan) -> None:
    """A plan whose matrices are finite and whose output size is one memory could hold."""
    source = plan.spec.source
    for name in ("sampling_matrix", "forward", "theta"):
        value = getattr(plan, name)
        if value is not None and not np.all(np.isfinite(value)):
            raise SpecError(
                f"{source}: the transforms compose to a map with non-finite values (numbers "
                "too large or too small for this input)"
            )
    points = math.prod(int(n) for n in plan.output_size)
    if points > _MAX_OUTPUT_POINTS:
        raise SpecError(
            f"{source}: the output would be "
            f"{'x'.join(f'{n:.3g}' if n > 1e9 else str(n) for n in plan.output_size[::-1])} "
            "(over 2^40 points): "
            "check output.size, output.spacing and the transforms' scale"
        )


def _resolve(
    spec: WarpSpec, input_size: tuple[int, ...], affine: np.ndarray | None, sources: Sources
) -> Plan:
    size = tuple(int(n) for n in input_size)
    k = len(size)
    align = spec.sampling.align_corners
    if spec.is_random:
        raise SpecError(
            f"{spec.source}: the spec has random values; draw it first "
            "(gswarp.spec.augment.draw, or gswarp apply --seed)"
        )
    _check_geometry(spec, k, affine)
    if any(isinstance(t, FlowSpec | ElasticSpec) for t in spec.transforms):
        return _resolve_chain(spec, size, affine, sources)
    if any(isinstance(t, TransformFile) and sources.holds_field(t) for t in spec.transforms):
        return _resolve_world_chain(spec, size, affine, sources)
    forward, inverse = _transform_matrices(spec, size, affine, sources)
    output_size, stretch = _output_frame(spec, size, forward, align, affine, sources)
    sampling = inverse @ stretch  # output pixel -> frame -> input pixel
    theta = pixel_matrix_to_theta(sampling[None, :k], size, output_size, align)[0]
    return Plan(
        input_size=size,
        output_size=output_size,
        forward=np.linalg.inv(sampling),
        sampling_matrix=sampling[:k].copy(),
        theta=theta,
        spec=spec,
        frame=stretch[:k].copy(),
    )


def _check_geometry(spec: WarpSpec, k: int, affine: np.ndarray | None) -> None:
    """``space: world`` and an output grid ``like``/``spacing`` need a volume's world header;
    a 2-D image has ITK's physical space of a plain image (its pixels: spacing 1, origin 0, as
    SimpleITK reads a PNG), where 2-D transform files and 3x3 matrices apply."""
    grid = spec.output.size if isinstance(spec.output.size, str) else spec.output.size[0]
    plain_image = k == 2 and affine is None and grid not in ("like", "spacing")
    needs = (
        "space: world"
        if spec.space == "world" and not plain_image
        else (f"output.{grid}" if grid in ("like", "spacing") else None)
    )
    if needs and (affine is None or k != 3):
        raise SpecError(
            f"{spec.source}: {needs} needs a volume with a world header (NIfTI); this input "
            f"has {'no header' if k == 3 else 'two dimensions'}"
        )


def _transform_matrices(
    spec: WarpSpec, size: tuple[int, ...], affine: np.ndarray | None, sources: Sources
) -> tuple[np.ndarray, np.ndarray]:
    """(forward, inverse) of all the transforms, in the input's voxel frame. In world space
    the transforms compose in millimetres and are brought to voxels: ``A^-1 W A``."""
    k = len(size)
    align = spec.sampling.align_corners
    forward, inverse = np.eye(k + 1), np.eye(k + 1)
    for index, step in enumerate(spec.transforms):
        where = _where(spec, index)
        if spec.space == "world":
            step_forward = _world_matrix(step, size, affine, where, sources)
            step_inverse = np.linalg.inv(step_forward)
        else:
            step_forward, step_inverse = _step_matrices(step, size, align, where)
        forward = step_forward @ forward
        inverse = inverse @ step_inverse
    if spec.space == "world" and affine is not None:
        to_voxels = np.linalg.inv(affine)
        return to_voxels @ forward @ affine, to_voxels @ inverse @ affine
    return forward, inverse  # a plain image's world is its pixels


def _world_matrix(
    step: Transform, size, affine: np.ndarray, where: _Where, sources: Sources
) -> np.ndarray:
    """The forward 4x4 of one transform in world millimetres (RAS, as the NIfTI affine); on a
    2-D image without a header, the forward 3x3 in its pixels (ITK's physical space of it)."""
    k = len(size)
    if isinstance(step, TransformFile):  # the file maps output points to input points
        pull = np.eye(k + 1)
        for component in _file_components(step, where.spec, sources, (size, affine), where):
            pull = component @ pull  # linear only: files with fields take _resolve_world_chain
        return np.linalg.inv(pull)
    if isinstance(step, AffineMatrix):
        if len(step.matrix) != k + 1:
            raise _dims_error(
                where,
                "matrix",
                k,
                "a 3x4 or 4x4 matrix (world mm)" if k == 3 else "a 2x3 or 3x3 matrix (pixels)",
                f"{len(step.matrix) - 1}x{len(step.matrix)}",
            )
        return np.array(step.matrix, dtype=np.float64)
    if k == 2:
        raise SpecError(
            f"{where}: a 2-D image's world space (its pixels) takes transform files and "
            "matrices; give affine parameters with space: pixels"
        )
    assert isinstance(step, AffineParams)  # the spec refuses theta and flows in world space
    if step.center == "image":
        middle = np.array([*((n - 1) / 2 for n in size[::-1]), 1.0])
        center = tuple((affine @ middle)[:3])
    else:
        center = _center(step.center, size, where)
    rotate = step.rotate if isinstance(step.rotate, tuple) else (0.0, 0.0, step.rotate)
    # world space turns by the right-hand rule about each RAS axis (+90 about S takes R to A);
    # affine_3d's voxel rule (counter-clockwise on screen, y down) is the opposite sense
    return affine_3d(
        tuple(-float(angle) for angle in rotate),
        _vector(step.scale, 3, where, "scale", 1.0),
        _vector(step.translate, 3, where, "translate", 0.0),
        center,
    )


@dataclass(frozen=True)
class _Where:
    """Where transform ``index`` of ``spec`` is written: ``str()`` gives
    ``file:line:column: transform[i]``, :meth:`key` the same for one of its keys."""

    spec: WarpSpec
    path: str

    def __str__(self) -> str:
        return self.spec.where(self.path)

    def key(self, *parts: str) -> str:
        return self.spec.where(".".join((self.path, *parts)))


def _where(spec: WarpSpec, index: int) -> _Where:
    return _Where(spec, spec.transform_path(index))


def check_fields(spec: WarpSpec, sources: Sources, spatial: int | None = None) -> None:
    """Load every flow field and transform file of ``spec`` now (``sources`` caches them), so
    that a bad one is one error before any input is read.

    Raises
    ------
    SpecError
        A field cannot be read or is not a field (of ``spatial`` dimensions, when given), or a
        transform file cannot be read; names the transform and file.
    BackendError
        A transform file needs the transforms extra.
    """
    for index, transform in enumerate(spec.transforms):
        if isinstance(transform, FlowSpec):
            try:
                sources.flow_field(transform.resolved, spatial, transform.key)
            except InputError as error:
                raise SpecError(f"{_where(spec, index)}.flow: {error}") from None
        elif isinstance(transform, TransformFile):
            try:
                components = _file_components(transform, spec, sources)
            except InputError as error:
                raise SpecError(f"{_where(spec, index)}.file: {error}") from None
            dimensions = {_dimension_of(c) for c in components}
            if spatial is not None and dimensions - {spatial}:
                raise SpecError(
                    f"{_where(spec, index)}.file: {transform.path}: a "
                    f"{max(dimensions - {spatial})}-D transform file where {spatial}-D inputs "
                    f"are given (-d {spatial})"
                )
    output = spec.output.size
    if isinstance(output, tuple) and output[0] == "like":
        try:
            # read once: a bad reference fails the run, not each input
            reference_grid(output[1], sources)
        except InputError as error:
            raise SpecError(f"{spec.source}: output.like: {error}") from None


def _resolve_chain(
    spec: WarpSpec, size: tuple[int, ...], affine: np.ndarray | None, sources: Sources
) -> Plan:
    """A plan whose map goes through flow fields: consecutive affines are multiplied, and the
    steps run from the output side (the last transform listed acts last on the image, so its
    inverse is applied first to output coordinates)."""
    k = len(size)
    align = spec.sampling.align_corners
    if spec.output.size == "expand":
        raise SpecError(
            f"{spec.source}: output.size: expand needs affine transforms only (a flow or elastic "
            "field has no extent to measure); give a size or same"
        )
    output_size, pending = _output_frame(spec, size, np.eye(k + 1), align, affine, sources)
    frame = pending[:k].copy()
    identity = np.eye(k + 1)
    steps: list[Step] = []
    for index in reversed(range(len(spec.transforms))):
        transform = spec.transforms[index]
        if isinstance(transform, FlowSpec):
            if not np.array_equal(pending, identity):
                steps.append(MatrixStep(pending[:k].copy()))
                pending = identity
            field = _flow_values(transform, k, _where(spec, index), sources)
            steps.append(_field_step(transform, field, size, align, _where(spec, index), affine))
        elif isinstance(transform, ElasticSpec):
            if not np.array_equal(pending, identity):
                steps.append(MatrixStep(pending[:k].copy()))
                pending = identity
            steps.append(_elastic_step(transform, size))
        else:
            inverse = _step_matrices(transform, size, align, _where(spec, index))[1]
            pending = inverse @ pending
    if not np.array_equal(pending, identity):
        steps.append(MatrixStep(pending[:k].copy()))
    return Plan(size, output_size, None, None, None, spec, tuple(steps), frame)


def _like_nifti(spec: WarpSpec) -> Path | None:
    """The output grid's ``like`` NIfTI, if the spec names one."""
    like = spec.output.size
    if (
        isinstance(like, tuple)
        and like[0] == "like"
        and str(like[1]).lower().endswith((".nii", ".nii.gz"))
    ):
        return Path(like[1])
    return None


def _file_components(
    transform: TransformFile,
    spec: WarpSpec,
    sources: Sources,
    input_grid=None,
    where: _Where | None = None,
) -> tuple:
    """A transform file's maps in the order they act on an output point: RAS matrices and
    :class:`~gswarp.transforms.DisplacementField` s (``sources`` reads each file once).

    ``input_grid``: the input's ``(size, affine)``, which an FSL or AFNI matrix needs besides
    its reference (the output's ``like`` NIfTI); without it (:func:`check_fields`) an FSL matrix
    is only checked for its reference and gives no maps. ``where``: errors name the transform.
    """
    try:
        components = sources.transform_maps(transform, _like_nifti(spec), input_grid)
    except GswarpError as error:
        if where is None:
            raise
        raise type(error)(f"{where.key('file')}: {error}") from None
    if input_grid is None:
        return components
    size = input_grid[0]
    if len(size) == 3 and size[0] == 1:
        components = tuple(_lifted(c) for c in components)  # a 2-D file on one slice
    for component in components:
        found = (
            component.values.shape[-1]
            if isinstance(component, DisplacementField)
            else _dimension_of(component)
        )
        if found != len(size):
            named = where.key("file") + ": " if where is not None else ""
            raise SpecError(
                f"{named}{transform.path}: a {found}-D transform file for a {len(size)}-D "
                f"input; give a {len(size)}-D one"
            )
    return components


_LPS = np.array([-1.0, -1.0, 1.0])  # RAS <-> LPS on points and vectors
_FLIP = np.diag([*_LPS, 1.0])  # LPS <-> RAS on 4x4 matrices


def _lifted(component):
    """A 2-D ITK file's 3x3 matrix (its LPS x and y) as the RAS 4x4 it is on a single-slice
    volume (z kept), as ITK applies it to that slice as a 2-D image (``-d 2``); other maps as
    they are."""
    if not isinstance(component, np.ndarray) or component.shape != (3, 3):
        return component
    lps = np.eye(4)
    lps[:2, :2] = component[:2, :2]
    lps[:2, 3] = component[:2, 2]
    return _FLIP @ lps @ _FLIP


def _resolve_world_chain(
    spec: WarpSpec, size: tuple[int, ...], affine: np.ndarray | None, sources: Sources
) -> Plan:
    """A world-space plan through registration tools' displacement fields: the chain runs from
    the output side in RAS millimetres (output voxel -> world; each file's map, the last
    listed first; a field's ``p + u(p)``; world -> input voxel). A 2-D image without a
    header (``affine`` None) has its pixels for world (ITK's physical space of a plain
    image)."""
    if spec.output.size == "expand":
        raise SpecError(
            f"{spec.source}: output.size: expand needs affine transforms only (a displacement "
            "field has no extent to measure); give a size, same or like"
        )
    k = len(size)
    identity = np.eye(k + 1)
    affine = identity if affine is None else affine
    align = spec.sampling.align_corners
    output_size, pending = _output_frame(spec, size, identity, align, affine, sources)
    frame = pending[:k].copy()
    world = affine @ pending  # output voxel -> RAS
    steps: list[Step] = []
    for index in reversed(range(len(spec.transforms))):
        transform = spec.transforms[index]
        where = _where(spec, index)
        if not isinstance(transform, TransformFile):
            world = np.linalg.inv(_world_matrix(transform, size, affine, where, sources)) @ world
            continue
        for component in _file_components(transform, spec, sources, (size, affine), where):
            if isinstance(component, BSplineGrid):
                component = _bspline_on_output_grid(component, world, output_size, steps, where)
            if not isinstance(component, DisplacementField):
                world = component @ world
                continue
            # ITK's rule past the field's grid (zero displacement there); where the points
            # reaching it are the output grid under an affine map that stays inside its grid,
            # the fused kernels' edge rule gives the same values
            covered = not steps and _field_covers(component, world, output_size)
            if not np.array_equal(world, identity):
                steps.append(MatrixStep(world[:k].copy()))
            # the tile path past the grid interpolates the field in its own precision: float64
            values = component.values if covered else component.values.astype(np.float64)
            steps.append(
                FieldStep(
                    values,
                    np.linalg.inv(component.affine)[:k].copy(),
                    beyond="edge" if covered else "identity",
                )
            )
            world = identity
    steps.append(MatrixStep((np.linalg.inv(affine) @ world)[:k].copy()))
    return Plan(size, output_size, None, None, None, spec, tuple(steps), frame)


def _bspline_on_output_grid(
    spline: BSplineGrid, world: np.ndarray, output_size, steps: list, where: _Where
) -> DisplacementField:
    """A B-spline transform reached by the output grid through the affine map ``world`` (output
    voxel -> RAS): its displacement at each output voxel, exactly (ITK's cubic B-spline in LPS),
    as a field on the output grid, which the chain then reads at its own voxels."""
    if steps:
        raise SpecError(
            f"{where.key('file')}: a B-spline transform after a displacement field on the "
            "output side is not applied yet (put the B-spline first, or compose them)"
        )
    from gswarp.engine.filters import spline_displacements

    k = len(output_size)
    flip = _LPS if k == 3 else np.ones(2)  # a plain 2-D image's world is its pixels
    to_lps = (_FLIP if k == 3 else np.eye(3)) @ world  # output voxel -> ITK's frame
    to_index = spline.to_index()
    matrix = np.hstack(
        [to_index @ to_lps[:k, :k], (to_index @ (to_lps[:k, k] - spline.origin))[:, None]]
    )
    moved = spline_displacements(spline.coefficients, matrix=matrix, grid=output_size)
    values = (moved * flip).reshape(*output_size, k)  # ITK's displacement, back in RAS
    values.setflags(write=False)
    return DisplacementField(values, world.copy())


def _dimension_of(component) -> int:
    """The dimension of a transform file's map: a matrix's, a B-spline's, a field's."""
    if isinstance(component, BSplineGrid):
        return component.coefficients.shape[0]
    if isinstance(component, DisplacementField):
        return 2 if component.planar else component.values.shape[-1]
    return component.shape[0] - 1


def _field_covers(field, world: np.ndarray, output_size) -> bool:
    """Whether every output point (under the affine map ``world``: output voxel -> RAS) reaches
    the displacement field within half a voxel of its outer voxel centres, where ITK's
    interpolator reads it (and continues its edge values, as gswarp's fused kernels do)."""
    k = len(output_size)
    to_field = np.linalg.inv(field.affine) @ world  # output voxel -> field voxel
    corners = np.array(list(itertools.product(*[(0, n - 1) for n in output_size[::-1]])))
    points = corners @ to_field[:k, :k].T + to_field[:k, k]
    extent = np.array(field.values.shape[:k][::-1], dtype=np.float64)  # (X, Y[, Z])
    return bool(np.all(points >= -0.5) and np.all(points < extent - 0.5))


def _flow_values(flow: FlowSpec, k: int, where: _Where, sources: Sources) -> np.ndarray:
    """The flow field's array as its file holds it (``sources`` reads it)."""
    try:
        return sources.flow_field(flow.resolved, k, flow.key)
    except InputError as error:
        raise SpecError(f"{where}.flow: {error}") from None


def _field_step(
    flow: FlowSpec,
    field: np.ndarray,
    size: tuple[int, ...],
    align: bool,
    where: _Where,
    affine: np.ndarray | None,
) -> FieldStep:
    """The field in input pixels, mapped from the input frame onto its own grid."""
    k = len(size)
    extent = np.array(size[::-1], dtype=np.float64)  # (W, H[, D]) for (x, y[, z])
    if flow.units == "normalized":  # grid_sample units: half the extent per unit
        half = (extent - 1) / 2 if align else extent / 2
        if flow.kind == "coordinates":  # absolute normalized positions -> pixels
            field = (field * flow.scale + 1) * half - (0.0 if align else 0.5)
        else:
            field = field * (flow.scale * half)
    elif flow.units == "world":  # mm -> voxels through the inverse affine
        if affine is None or k != 3:
            raise SpecError(f"{where}.flow.units: world needs a volume with a world header (NIfTI)")
        to_voxels = np.linalg.inv(affine)
        field = (field * flow.scale) @ to_voxels[:3, :3].T
        if flow.kind == "coordinates":
            field = field + to_voxels[:3, 3]
    elif flow.scale != 1:
        field = field * flow.scale
    field_size = field.shape[:k]
    to_field = None
    if field_size != size:  # a coarser (or finer) field spans the same extent
        to_field = resize_matrix(field_size, size, align)
    return FieldStep(field, to_field, absolute=flow.kind == "coordinates")


def _elastic_step(elastic: ElasticSpec, size: tuple[int, ...]) -> FieldStep:
    """The elastic field on its lattice over the input frame (:mod:`gswarp.spec.elastic`)."""
    grid = elastic.grid or default_grid(float(elastic.sigma))
    field, to_field = elastic_field(
        size, float(elastic.alpha), float(elastic.sigma), grid, int(elastic.seed)
    )
    return FieldStep(field, to_field if grid != 1 else None)


def _input_kind(k: int) -> str:
    return "an image" if k == 2 else "a volume"


def _dims_error(where: _Where, key: str, k: int, expected: str, found: object) -> SpecError:
    return SpecError(f"{where.key('affine', key)}: {_input_kind(k)} needs {expected}, got {found}")


def _vector(value, k: int, where: _Where, key: str, default: float) -> tuple[float, ...]:
    if value is None or value == ():
        return (default,) * k
    if isinstance(value, tuple):
        if len(value) != k:
            raise _dims_error(where, key, k, f"{k} values", list(value))
        return value
    return (float(value),) * k


def _step_matrices(
    step: Transform, size: tuple[int, ...], align: bool, where: _Where
) -> tuple[np.ndarray, np.ndarray]:
    """(forward, inverse) (k+1)x(k+1) pixel matrices of one transform in the input frame."""
    k = len(size)
    if isinstance(step, AffineParams):
        center = _center(step.center, size, where)
        scale = _vector(step.scale, k, where, "scale", 1.0)
        translate = _vector(step.translate, k, where, "translate", 0.0)
        if k == 2:
            if isinstance(step.rotate, tuple):
                raise _dims_error(where, "rotate", k, "one angle", list(step.rotate))
            forward = affine_2d(step.rotate, scale, step.shear, translate, center)
        else:
            if any(step.shear):
                raise _dims_error(
                    where, "shear", k, "no shear (shear is for images)", list(step.shear)
                )
            rotate = step.rotate if isinstance(step.rotate, tuple) else (0.0, 0.0, step.rotate)
            forward = affine_3d(rotate, scale, translate, center)
        return forward, np.linalg.inv(forward)
    if isinstance(step, AffineMatrix):
        forward = np.array(step.matrix, dtype=np.float64)
        if len(forward) != k + 1:
            shapes = "a 2x3 or 3x3" if k == 2 else "a 3x4 or 4x4"
            raise _dims_error(
                where, "matrix", k, f"{shapes} matrix", f"{len(forward) - 1}x{len(forward)}"
            )
        return forward, np.linalg.inv(forward)
    if isinstance(step, AffineTheta):
        theta = np.array([step.theta])
        if theta.shape[1] != k:
            raise _dims_error(
                where, "theta", k, f"a {k}x{k + 1} theta", f"{theta.shape[1]}x{theta.shape[2]}"
            )
        inverse = np.eye(k + 1)
        inverse[:k] = theta_to_pixel_matrix(theta, size, size, align)[0]
        return np.linalg.inv(inverse), inverse
    raise TypeError(f"not a transform: {step!r}")  # pragma: no cover - the spec forbids it


def _center(center: str | tuple[float, ...], size: tuple[int, ...], where: _Where):
    k = len(size)
    if center == "image":
        return tuple((n - 1) / 2 for n in size[::-1])
    if center == "origin":
        return (0.0,) * k
    if len(center) != k:
        raise _dims_error(where, "center", k, f"{k} coordinates", list(center))
    return center


def _output_frame(
    spec: WarpSpec,
    size: tuple[int, ...],
    forward: np.ndarray,
    align: bool,
    affine: np.ndarray | None = None,
    sources: Sources = NO_FILES,
) -> tuple[tuple[int, ...], np.ndarray]:
    """(output spatial size, (k+1)x(k+1) output pixel -> input-frame pixel)."""
    output: OutputSpec = spec.output
    k = len(size)
    kind = output.size if isinstance(output.size, str) else output.size[0]
    if kind == "same":
        return size, np.eye(k + 1)
    if kind == "expand":
        return _expand(size, forward)
    values = output.size[1]  # type: ignore[index]
    if kind == "like":  # the reference's grid, placed in the world by its affine
        reference_size, reference_affine = reference_grid(values, sources)
        return reference_size, np.linalg.inv(affine) @ reference_affine
    if kind == "spacing":
        return _respaced(size, affine, np.asarray(values, dtype=np.float64))
    if kind == "size":
        if len(values) != k:
            raise SpecError(
                f"{spec.source}: output.size: {_input_kind(k)} needs {k} sizes, got {list(values)}"
            )
        out = tuple(int(n) for n in values[::-1])
    else:
        if isinstance(values, tuple) and len(values) != k:
            raise SpecError(
                f"{spec.source}: output.size.scale: {_input_kind(k)} needs one number or {k}, "
                f"got {list(values)}"
            )
        scales = (values,) * k if not isinstance(values, tuple) else values[::-1]
        out = tuple(max(1, math.floor(n * s + 0.5)) for n, s in zip(size, scales, strict=True))
    stretch = np.eye(k + 1)
    stretch[:k] = resize_matrix(size, out, align)
    return out, stretch


def reference_grid(path, sources: Sources) -> tuple[tuple[int, ...], np.ndarray]:
    """An ``output: like:`` reference's spatial size (D, H, W) and voxel (x, y, z) -> world
    matrix (``sources`` reads it: a NIfTI file's, or an OME-Zarr image's level 0)."""
    return sources.reference_grid(path)


def _respaced(
    size: tuple[int, ...], affine: np.ndarray, spacing: np.ndarray
) -> tuple[tuple[int, ...], np.ndarray]:
    """A grid of ``spacing`` (mm, x y z) over the same extent and centre as the input's."""
    current = np.linalg.norm(affine[:3, :3], axis=0)  # mm per voxel along x, y, z
    counts = np.array(size[::-1], dtype=np.float64)
    new_counts = np.maximum(1, np.floor(counts * current / spacing + 0.5))
    ratio = spacing / current
    frame = np.eye(4)
    frame[:3, :3] = np.diag(ratio)
    frame[:3, 3] = (counts - 1) / 2 - ratio * (new_counts - 1) / 2  # centres coincide
    return tuple(int(n) for n in new_counts[::-1]), frame


def _expand(size: tuple[int, ...], forward: np.ndarray) -> tuple[tuple[int, ...], np.ndarray]:
    """The canvas holding the transformed input's outer edges, and its offset in the frame."""
    k = len(size)
    edges = [(-0.5, n - 0.5) for n in size[::-1]]  # per x, y[, z]
    corners = np.array([[*corner, 1.0] for corner in itertools.product(*edges)]).T
    moved = (forward @ corners)[:k]
    low, high = moved.min(axis=1), moved.max(axis=1)
    extent = high - low
    pixels = np.where(np.abs(extent - np.round(extent)) < 1e-6, np.round(extent), np.ceil(extent))
    pixels = np.maximum(pixels, 1)
    shift = np.eye(k + 1)
    # output pixel 0's outer edge (-0.5) sits at the low edge, the slack split on both sides
    shift[:k, k] = low + 0.5 - (pixels - extent) / 2
    return tuple(int(n) for n in pixels[::-1]), shift
