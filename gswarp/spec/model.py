"""The validated spec: frozen dataclasses, one per part of a YAML spec (the model that
:mod:`gswarp.spec.reader` builds and :mod:`gswarp.plan` resolves); no YAML and no I/O here."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from gswarp.errors import SpecError
from gswarp.sampling import Filter, Mode, Padding
from gswarp.spec.distributions import Choice, Distribution, Normal, Uniform

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
]

SPEC_VERSION = 1
DTYPES = ("uint8", "int8", "uint16", "int16", "uint32", "int32", "float32", "float64")
"""Output dtypes a spec may name (besides ``same``); the file format decides what it can store."""


# --------------------------------------------------------------------------------------------
# The validated spec


@dataclass(frozen=True)
class AffineParams:
    """An affine transform from parameters (forward, pixel units), 2-D or 3-D.

    ``rotate``: degrees, counter-clockwise as seen on screen; on a volume one number turns about
    z (each slice as an image), and ``[rx, ry, rz]`` turn about x, then y, then z, each
    counter-clockwise as seen looking along the axis (for z: into the stack, as on screen).
    Any number may be a :mod:`~gswarp.spec.distributions` value until the spec is drawn
    (:func:`gswarp.spec.augment.draw`).
    ``scale``: a number (every axis) or one per axis; ``shear`` (x, y) degrees (images only);
    all about ``center`` ("image": the centre ``((W - 1) / 2, (H - 1) / 2[, (D - 1) / 2])``,
    "origin": pixel 0, or a position in pixels); then ``translate`` in pixels (x right, y down,
    z into the stack): a number (every axis, like ``scale``) or one per axis.
    """

    rotate: float | tuple[float, float, float] = 0.0
    scale: float | tuple[float, ...] = 1.0
    shear: tuple[float, float] = (0.0, 0.0)
    translate: float | tuple[float, ...] = 0.0
    center: str | tuple[float, ...] = "image"

    def normalized(self) -> dict[str, Any]:
        """Every key, defaults included (``shear: [0, 0]`` and ``translate: 0`` fit images and
        volumes alike)."""
        return {
            "rotate": _plain(self.rotate),
            "scale": _plain(self.scale),
            "shear": _plain(self.shear),
            "translate": _plain(self.translate),
            "center": _plain(self.center),
        }


def _plain(value: Any) -> Any:
    """Tuples as lists and distributions as their mappings (for YAML/JSON)."""
    if isinstance(value, tuple):
        return [_plain(v) for v in value]
    if isinstance(value, Uniform | Normal | Choice):
        return value.normalized()
    return value


def is_random_value(value: Any) -> bool:
    """True for a distribution, or a tuple holding one."""
    if isinstance(value, tuple):
        return any(is_random_value(v) for v in value)
    return isinstance(value, Uniform | Normal | Choice)


@dataclass(frozen=True)
class AffineMatrix:
    """A forward 3x3 pixel-space matrix (input pixel -> output pixel, column vectors)."""

    matrix: tuple[tuple[float, float, float], ...]

    def normalized(self) -> dict[str, Any]:
        return {"matrix": [list(row) for row in self.matrix]}


@dataclass(frozen=True)
class AffineTheta:
    """torch's ``affine_grid`` matrix (2x3): normalized output -> normalized input coordinates."""

    theta: tuple[tuple[float, float, float], ...]

    def normalized(self) -> dict[str, Any]:
        return {"theta": [list(row) for row in self.theta]}


@dataclass(frozen=True)
class FlowSpec:
    """A dense flow field from a file (``.npy``; ``.npz`` with ``key``).

    ``kind``: "displacement" (``x_src = x_out + d``) or "coordinates" (``x_src = c``);
    ``units``: "pixels" (of the input), "normalized" (grid_sample's [-1, 1]) or "world" (mm
    along the axes of a NIfTI volume's world space, through its affine); ``scale``
    multiplies the field. ``path`` as written in the spec; ``resolved`` relative to the spec
    file's folder.
    """

    path: str
    resolved: Path
    key: str | None = None
    kind: str = "displacement"
    units: str = "pixels"
    scale: float = 1.0

    def normalized(self) -> dict[str, Any]:
        values: dict[str, Any] = {"path": self.path}
        if self.key is not None:
            values["key"] = self.key
        values.update(kind=self.kind, units=self.units, scale=_plain(self.scale))
        return values


@dataclass(frozen=True)
class ElasticSpec:
    """A random smooth displacement field (:mod:`gswarp.spec.elastic`), 2-D or 3-D.

    ``alpha``: strength (pixels), ``sigma``: smoothness (the Gaussian's standard deviation, in
    pixels), as albumentations' ``ElasticTransform`` with uniform noise; ``grid``: the spacing
    in pixels of the coarse lattice the field is built on (None: about ``sigma / 2``);
    ``seed``: the field's noise (None until the spec is drawn).
    """

    alpha: float | Distribution
    sigma: float | Distribution
    grid: int | None = None
    seed: int | None = None

    def normalized(self) -> dict[str, Any]:
        values: dict[str, Any] = {"alpha": _plain(self.alpha), "sigma": _plain(self.sigma)}
        if self.grid is not None:
            values["grid"] = self.grid
        if self.seed is not None:
            values["seed"] = self.seed
        return values


@dataclass(frozen=True)
class TransformFile:
    """A transform a registration tool wrote (ITK/ANTs, FSL, AFNI, FreeSurfer, X5; read by
    :mod:`gswarp.io.transform_files`). As its tool applies it, it maps output (fixed) world
    points to input (moving) points; ``invert`` takes its inverse. Always in world space.

    ``written``: the path as the spec gives it; ``path``: resolved; ``format``: None (told
    from the file) or one of :data:`TRANSFORM_FORMATS`.
    """

    written: str
    path: Path
    invert: bool = False
    format: str | None = None

    def normalized(self) -> dict[str, Any]:
        values: dict[str, Any] = {"path": str(self.path), "invert": self.invert}
        if self.format:
            values["format"] = self.format
        return values


TRANSFORM_FORMATS = ("itk", "fsl", "afni", "lta", "x5")

Transform = AffineParams | AffineMatrix | AffineTheta | FlowSpec | ElasticSpec | TransformFile


@dataclass(frozen=True)
class Sometimes:
    """``transform`` applied with probability ``p`` (decided when the spec is drawn)."""

    transform: Transform
    p: float


def _kind_of(transform: Transform) -> str:
    """The spec key of ``transform``: 'affine', 'flow', 'elastic' or 'file'."""
    if isinstance(transform, FlowSpec):
        return "flow"
    if isinstance(transform, TransformFile):
        return "file"
    return "elastic" if isinstance(transform, ElasticSpec) else "affine"


def _transform_normalized(item: Transform | Sometimes) -> dict[str, Any]:
    if isinstance(item, Sometimes):
        return {**_transform_normalized(item.transform), "p": item.p}
    return {_kind_of(item): item.normalized()}


@dataclass(frozen=True)
class SamplingSpec:
    """How the input is read: interpolation, padding, ``align_corners``, ``fill`` (per channel),
    and ``antialias``: where the warp shrinks, average the input over each output pixel's
    footprint (``docs/engine.md``, "The antialiasing footprint") instead of point-sampling it;
    nearest is never averaged. True, False, or None ("auto", the default): on for images, off
    for volumes, as the tools of each field do (see the README's "Antialiasing"). The engine's
    functions default to torch's point sampling.

    ``antialias: lanczos`` is on, with a Lanczos-3 footprint filter: Pillow's ``LANCZOS``
    kernel stretched by the map's shrink and not widened (what thumbnails are compared with;
    equal to Pillow's ``resize(LANCZOS)`` away from the edges), instead of the mode's kernel.

    ``labels``: the input is a label map; each label's indicator is interpolated with ``mode``
    and every output point takes the label with the largest value (the smallest label on a
    tie; ``fill`` where none reaches it) -- ITK's ``LabelImageGenericInterpolateImageFunction``,
    antsApplyTransforms' ``GenericLabel``. With ``bilinear`` it runs as ITK's does, in one
    kernel pass: ITK's linear weights (edges clamped) and field of view (half a voxel past the
    outer centres; ``padding`` border/reflection clip or reflect the point first). With
    ``mode: gaussian`` that is ITK's ``LabelImageGaussianInterpolateImageFunction``,
    antsApplyTransforms' ``MultiLabel``.

    ITK's interpolators (:mod:`gswarp.engine.filters`) take: ``order`` (``bspline``, 0-5,
    default 3), ``window`` and ``radius`` (``sinc``: lanczos, cosine, welch, hamming or
    blackman, default lanczos; radius default 3, as antsApplyTransforms), ``sigma`` (the
    ``gaussian``'s standard deviation per axis x, y[, z] or one for all, in the spec's space:
    voxels, or the world's units with ``space: world``; default one voxel, as ANTs) and
    ``alpha`` (its cut-off in sigmas; default 1, or 4 with ``labels``, as ANTs' ``Gaussian``
    and ``MultiLabel``)."""

    mode: Mode = Mode.BILINEAR
    padding: Padding = Padding.ZEROS
    align_corners: bool = False
    fill: tuple[float, ...] = (0.0,)
    antialias: bool | str | None = None
    labels: bool = False
    order: int = 3
    window: str = "lanczos"
    radius: int = 3
    sigma: tuple[float, ...] | None = None
    alpha: float | None = None

    def filter(self, spacing: Sequence[float] | None = None) -> Filter | None:
        """The engine's :class:`~gswarp.engine.filters.Filter` for an ITK interpolator mode
        (None for torch's modes); ``spacing``: the input's voxel size per axis (x first) when
        ``sigma`` is in world units."""
        if not self.mode.is_filter:
            return None
        sigma: tuple[float, ...] = (1.0,)
        if self.sigma is not None:
            sigma = self.sigma
            if spacing is not None:
                values = sigma if len(sigma) == len(spacing) else sigma[:1] * len(spacing)
                sigma = tuple(float(v) / float(d) for v, d in zip(values, spacing, strict=True))
        alpha = self.alpha if self.alpha is not None else (4.0 if self.labels else 1.0)
        return Filter(self.mode.label, self.order, self.window, self.radius, sigma, alpha)

    def with_interpolation(self, other: SamplingSpec) -> SamplingSpec:
        """A copy with ``other``'s interpolation: its mode, label vote and filter settings
        (``-n`` given with a SPEC), this one's padding, fill and the rest."""
        return replace(
            self,
            mode=other.mode,
            labels=other.labels,
            order=other.order,
            window=other.window,
            radius=other.radius,
            sigma=other.sigma,
            alpha=other.alpha,
        )

    def _filter_normalized(self) -> dict[str, Any]:
        if self.mode == Mode.BSPLINE:
            return {"order": self.order}
        if self.mode == Mode.SINC:
            return {"window": self.window, "radius": self.radius}
        if self.mode == Mode.GAUSSIAN:
            sigma: Any = "voxel" if self.sigma is None else list(self.sigma)
            alpha = self.alpha if self.alpha is not None else (4.0 if self.labels else 1.0)
            return {"sigma": sigma, "alpha": alpha}
        return {}

    def antialias_for(self, spatial: int, through_field: bool = False) -> bool | str:
        """Whether a warp of ``spatial`` (2 or 3) dimensions is antialiased; ``through_field``:
        its map goes through a flow or elastic field.

        ``auto`` (None) is on for images mapped by matrices alone (a resize, a rotation) and
        off for volumes (measurements) and for maps through a field: optical-flow and stereo
        users compare a flow warp with ``grid_sample``'s result at every valid point, and a
        field's footprints would follow its discontinuities and NaN holes.
        """
        if self.antialias is not None:
            return self.antialias
        return spatial == 2 and not through_field

    def normalized(self) -> dict[str, Any]:
        fill: Any = self.fill[0] if len(self.fill) == 1 else list(self.fill)
        return (
            {
                "mode": self.mode.label,
                "padding": self.padding.label,
                "align_corners": self.align_corners,
                "fill": fill,
                "antialias": "auto" if self.antialias is None else self.antialias,
            }
            | ({"labels": True} if self.labels else {})
            | self._filter_normalized()
        )


@dataclass(frozen=True)
class OutputSpec:
    """Output geometry and dtype.

    ``size``: "same", "expand" (large enough for the whole transformed input),
    ``("size", (w, h[, d]))``, ``("scale", s)`` with ``s`` a number or ``(sx, sy[, sz])``,
    ``("like", path)`` (a reference NIfTI's grid) or ``("spacing", (sx, sy, sz))`` (mm, the same
    extent).
    ``dtype``: "same" or a name in :data:`DTYPES`; ``values``: "scale" (integer ranges map onto
    each other, integers <-> floats in [0, 1]), "keep" (values are rounded and clipped only) or
    "auto": scale for 8/16-bit image files (photos), keep for everything else (volumes, arrays,
    float images: measurements); see :func:`gswarp.run.warp.values_rule`.
    """

    size: str | tuple[str, Any] = "same"
    dtype: str = "same"
    values: str = "auto"
    chunks: tuple[int, ...] | None = None
    levels: int | None = None
    compression: str = "zstd"

    def normalized(self) -> dict[str, Any]:
        chunked: dict[str, Any] = {}
        if self.chunks is not None:
            chunked["chunks"] = list(self.chunks)
        if self.levels is not None:
            chunked["levels"] = self.levels
        if self.compression != "zstd":
            chunked["compression"] = self.compression
        return {**self._grid(), "dtype": self.dtype, "values": self.values, **chunked}

    def _grid(self) -> dict[str, Any]:
        grid: dict[str, Any] = {"size": self.size}
        if not isinstance(self.size, str):
            kind, value = self.size
            plain = list(value) if isinstance(value, tuple) else value
            if kind == "like":
                grid = {"like": str(value)}
            elif kind == "spacing":
                grid = {"spacing": plain}
            else:
                grid = {"size": plain if kind == "size" else {"scale": plain}}
        return grid


@dataclass(frozen=True)
class TargetSpec:
    """Sampling of a paired target (``gswarp apply --pair NAME=DIR``), such as a mask.

    Unset values: ``mode`` nearest (targets are labels unless said otherwise, and nearest keeps
    label values exact), ``padding`` the spec's, ``fill`` 0. ``align_corners`` is always the
    spec's: it is part of the geometry, which image and target share.
    """

    name: str
    mode: Mode | None = None
    padding: Padding | None = None
    fill: tuple[float, ...] | None = None

    def sampling_for(self, base: SamplingSpec) -> SamplingSpec:
        return SamplingSpec(
            mode=Mode.NEAREST if self.mode is None else self.mode,
            padding=base.padding if self.padding is None else self.padding,
            align_corners=base.align_corners,
            fill=self.fill if self.fill is not None else (0.0,),
            antialias=base.antialias,
        )

    def normalized(self) -> dict[str, Any]:
        values: dict[str, Any] = {}
        if self.mode is not None:
            values["mode"] = self.mode.label
        if self.padding is not None:
            values["padding"] = self.padding.label
        if self.fill is not None:
            values["fill"] = self.fill[0] if len(self.fill) == 1 else list(self.fill)
        return values


@dataclass(frozen=True)
class WarpSpec:
    """A validated warp spec. ``transforms`` act in order on the input (first listed first).

    A *random* spec (:attr:`is_random`: distributions, ``p``, unseeded elastic transforms) is a
    template: :func:`gswarp.spec.augment.draw` turns it into a concrete spec per file.
    """

    transforms: tuple[Transform | Sometimes, ...]
    sampling: SamplingSpec = field(default_factory=SamplingSpec)
    output: OutputSpec = field(default_factory=OutputSpec)
    source: str = "<spec>"
    version: int = SPEC_VERSION
    space: str = "voxel"
    targets: tuple[TargetSpec, ...] = ()
    marks: dict[str, tuple[int, int]] = field(default_factory=dict, compare=False, repr=False)
    """Key path (``transform[0].affine.scale``) -> (line, column) where its value is written."""

    def where(self, path: str) -> str:
        """``file:line:column: path`` where the spec wrote ``path`` (``file: path`` if unknown)."""
        if path in self.marks:
            line, column = self.marks[path]
            return f"{self.source}:{line}:{column}: {path}"
        return f"{self.source}: {path}"

    def transform_path(self, index: int) -> str:
        """The key path of transform ``index``: ``transform[i]``, or ``transform`` when the spec
        wrote a single transform without a list."""
        if index == 0 and self.marks and "transform[0]" not in self.marks:
            return "transform"
        return f"transform[{index}]"

    @property
    def is_random(self) -> bool:
        """True when the spec must be drawn before it can be resolved."""
        for item in self.transforms:
            if isinstance(item, Sometimes):
                return True
            if isinstance(item, ElasticSpec) and item.seed is None:
                return True
            if isinstance(item, AffineParams | FlowSpec | ElasticSpec) and any(
                is_random_value(getattr(item, name)) for name in _RANDOM_FIELDS[type(item)]
            ):
                return True
        return False

    def target(self, name: str) -> TargetSpec:
        """The ``targets`` entry called ``name`` (defaults when the spec has none)."""
        for target in self.targets:
            if target.name == name:
                return target
        return TargetSpec(name)

    def check_pair_names(self, names: Sequence[str]) -> None:
        """Refuse ``--pair`` names that do not match the ``targets`` section one to one.

        A spec without ``targets`` takes any names (each target gets the defaults); a spec with
        ``targets`` used with ``--pair`` must name every pair there, and every entry there must be
        a pair, or the configured sampling would silently not apply.
        """
        if not self.targets or not names:
            return
        configured = [t.name for t in self.targets]
        unknown = [t for t in configured if t not in names]
        unconfigured = [n for n in names if n not in configured]
        if unknown or unconfigured:
            problem = (
                f"targets.{unknown[0]} matches no --pair name"
                if unknown
                else f"--pair {unconfigured[0]} has no entry under targets"
            )
            raise SpecError(
                f"{self.source}: {problem} (targets: {', '.join(configured)}; --pair names: "
                f"{', '.join(names)})"
            )

    def for_target(self, name: str) -> WarpSpec:
        """This spec with the sampling of target ``name``."""
        return replace(self, sampling=self.target(name).sampling_for(self.sampling))

    def with_sampling(self, **changes: Any) -> WarpSpec:
        """A copy with some sampling fields replaced (``None`` values are ignored).

        Raises
        ------
        SpecError
            The result asks one of ITK's interpolators (which point-sample) to antialias.
        """
        changes = {k: v for k, v in changes.items() if v is not None}
        sampling = replace(self.sampling, **changes)
        if sampling.mode.is_filter and sampling.antialias:
            raise SpecError(
                f"mode {sampling.mode.label} is one of ITK's interpolators, which point-sample: "
                "it takes no antialiasing (--no-antialias, or bilinear/bicubic with it)"
            )
        return replace(self, sampling=sampling)

    def normalized(self) -> dict[str, Any]:
        """The spec as plain data with every default filled in (what ``gswarp validate`` prints)."""
        values = {
            "version": self.version,
            "space": self.space,
            "transform": [_transform_normalized(t) for t in self.transforms],
            "sampling": self.sampling.normalized(),
            "output": self.output.normalized(),
        }
        if self.targets:
            values["targets"] = {t.name: t.normalized() for t in self.targets}
        return values


_RANDOM_FIELDS: dict[type, tuple[str, ...]] = {
    AffineParams: ("rotate", "scale", "shear", "translate", "center"),
    FlowSpec: ("scale",),
    ElasticSpec: ("alpha", "sigma"),
}
"""The fields of each transform that may hold distributions."""
