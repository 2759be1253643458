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
"""

from __future__ import annotations

import difflib
import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from gswarp.errors import SpecError, first_line
from gswarp.sampling import Mode, Padding
from gswarp.spec.distributions import DISTRIBUTIONS, Choice, Distribution, Normal, Uniform

__all__ = [
    "DTYPES",
    "AffineMatrix",
    "AffineParams",
    "AffineTheta",
    "ElasticSpec",
    "FlowSpec",
    "OutputSpec",
    "SamplingSpec",
    "Sometimes",
    "TargetSpec",
    "WarpSpec",
    "load_spec",
    "parse_spec",
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
    footprint (:mod:`gswarp.engine.footprint`) instead of point-sampling it; nearest is never
    averaged. True, False, or None ("auto", the default): on for images, off for volumes, as the
    tools of each field do (see the README's "Antialiasing"). The engine's functions default to
    torch's point sampling."""

    mode: Mode = Mode.BILINEAR
    padding: Padding = Padding.ZEROS
    align_corners: bool = False
    fill: tuple[float, ...] = (0.0,)
    antialias: bool | None = None

    def antialias_for(self, spatial: int, through_field: bool = False) -> bool:
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
        return {
            "mode": self.mode.label,
            "padding": self.padding.label,
            "align_corners": self.align_corners,
            "fill": fill,
            "antialias": "auto" if self.antialias is None else self.antialias,
        }


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
        """A copy with some sampling fields replaced (``None`` values are ignored)."""
        changes = {k: v for k, v in changes.items() if v is not None}
        return replace(self, sampling=replace(self.sampling, **changes))

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


# --------------------------------------------------------------------------------------------
# Loading


def load_spec(path: str | Path) -> WarpSpec:
    """Read and validate a spec file.

    Raises
    ------
    SpecError
        The file cannot be read, is not YAML, or is not a valid spec; the message starts with
        ``file:line:column:`` and names the key path.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        reason = error.strerror if isinstance(error, OSError) and error.strerror else str(error)
        raise SpecError(f"{path}: cannot read the spec: {reason}") from None
    return parse_spec(text, str(path), path.parent)


def parse_spec(text: str, source: str = "<spec>", base: Path | None = None) -> WarpSpec:
    """Validate spec text (YAML). ``source`` names it in error messages; files named in the spec
    (flow fields) are relative to ``base`` (default: the current folder).

    >>> spec = parse_spec("version: 1\\ntransform: {affine: {rotate: 90}}")
    >>> spec.transforms[0].rotate, spec.sampling.mode.label
    (90.0, 'bilinear')
    """
    try:
        loader = yaml.SafeLoader(text)  # it reads ahead: a NUL byte fails here already
    except yaml.YAMLError as error:
        raise SpecError(f"{source}: not valid YAML: {first_line(error, named=False)}") from None
    try:
        root = loader.get_single_node()
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        where = f"{source}:{mark.line + 1}:{mark.column + 1}" if mark else source
        raise SpecError(f"{where}: not valid YAML: {error.problem or error.context}") from None
    except yaml.YAMLError as error:
        raise SpecError(f"{source}: not valid YAML: {first_line(error, named=False)}") from None
    finally:
        loader.dispose()
    reader = _Reader(source, loader, base if base is not None else Path.cwd())
    if root is None:
        raise SpecError(
            f"{source}:1:1: (top level): expected a mapping with keys version, "
            "transform, sampling, output, got an empty document"
        )
    spec = reader.spec(root)
    from gswarp.spec.dimensions import (
        check_dimensions,  # it reads WarpSpec: imported here, not above
    )

    check_dimensions(spec)  # a spec whose keys fit neither images nor volumes fits no input
    return spec


# --------------------------------------------------------------------------------------------
# The node reader: validation with positions


_TOP_KEYS = ("version", "space", "transform", "sampling", "output", "targets")
_AFFINE_KEYS = ("rotate", "scale", "shear", "translate", "center", "matrix", "theta")
_SAMPLING_KEYS = ("mode", "padding", "align_corners", "fill", "antialias")
_OUTPUT_KEYS = ("size", "like", "spacing", "dtype", "values", "chunks", "levels", "compression")
_TRANSFORM_KINDS = ("affine", "flow", "elastic", "file")
_FILE_KEYS = ("path", "invert", "format")
_ELASTIC_KEYS = ("alpha", "sigma", "grid", "seed")
_TARGET_KEYS = ("mode", "padding", "fill")
_FLOW_KEYS = ("path", "key", "kind", "units", "scale")
_TARGET_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]*")
_FLOW_SUFFIXES = (".npy", ".npz", ".nii", ".nii.gz", ".tif", ".tiff")


def _did_you_mean(word: str, choices: tuple[str, ...]) -> str:
    close = difflib.get_close_matches(str(word), choices, n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _one_level_down(key: Any, keys: tuple[str, ...]) -> str:
    """A hint for a key written one level too high (``rotate:`` beside ``affine:``)."""
    for parent, children in (
        ("affine", _AFFINE_KEYS),
        ("sampling", _SAMPLING_KEYS),
        ("output", _OUTPUT_KEYS),
    ):
        if parent in keys and key in children:
            return f" ({key} belongs under {parent}:, one level down)"
    return ""


def _described(value: Any) -> str:
    if isinstance(value, yaml.MappingNode):
        return "a mapping"
    if isinstance(value, yaml.SequenceNode):
        return f"a list of {len(value.value)}"
    return repr(value)


def _position(node: yaml.Node) -> tuple[int, int]:
    """(line, column) of a node, both counted from 1."""
    return node.start_mark.line + 1, node.start_mark.column + 1


class _Reader:
    """Walks the YAML node tree; every check knows its node (for line:column) and key path."""

    def __init__(self, source: str, loader: yaml.SafeLoader, base: Path) -> None:
        self.source = source
        self.loader = loader
        self.base = base
        self.marks: dict[str, tuple[int, int]] = {}

    # -- errors and plain values

    def error(self, node: yaml.Node, path: str, message: str) -> SpecError:
        line, column = _position(node)
        return SpecError(f"{self.source}:{line}:{column}: {path}: {message}")

    def scalar(self, node: yaml.Node) -> Any:
        """A scalar node's value (YAML's safe constructors), or a collection node as it is.

        Raises
        ------
        SpecError
            An explicit tag whose constructor refuses the text (``!!int abc``, ``!!binary``
            that is not base64, an unknown ``!tag``), at the node's line and column."""
        if not isinstance(node, yaml.ScalarNode):
            return node
        try:
            return self.loader.construct_object(node)
        except (yaml.YAMLError, ValueError, TypeError, AttributeError, OverflowError) as error:
            message = getattr(error, "problem", None) or first_line(error, named=False)
            raise self.error(
                node, "(value)", f"YAML cannot read {node.value!r} as {node.tag}: {message}"
            ) from None

    def mapping(
        self, node: yaml.Node, path: str, keys: tuple[str, ...]
    ) -> dict[str, tuple[yaml.Node, yaml.Node]]:
        """Key -> (key node, value node); unknown or repeated keys are errors."""
        if not isinstance(node, yaml.MappingNode):
            raise self.error(
                node,
                path or "(top level)",
                f"expected a mapping with keys {', '.join(keys)}, "
                f"got {_described(self.scalar(node))}",
            )
        items: dict[str, tuple[yaml.Node, yaml.Node]] = {}
        for key_node, value_node in node.value:
            key = self.scalar(key_node)
            if not isinstance(key, (str, int, float, bool)) and key is not None:
                key = f"<{_described(key)}>"  # ``? [a]``: a collection as a key
            where = f"{path}.{key}" if path else str(key)
            if not isinstance(key, str) or key not in keys:
                raise self.error(
                    key_node,
                    where,
                    f"unknown key{_did_you_mean(key, keys)}{_one_level_down(key, keys)}; "
                    f"expected one of {', '.join(keys)}",
                )
            if key in items:
                raise self.error(key_node, where, "key given twice")
            items[key] = (key_node, value_node)
            self.marks[where] = _position(value_node)
        return items

    def number(
        self,
        node: yaml.Node,
        path: str,
        check: Callable[[float], str | None] | None = None,
        what: str = "a number",
        random: bool = False,
    ) -> Any:
        """A finite number; with ``random``, also a distribution (``{uniform: [a, b]}``, ...)
        whose possible values pass ``check``."""
        if isinstance(node, yaml.MappingNode):
            if random:
                return self.distribution(node, path, check)
            raise self.error(
                node, path, f"expected {what} (a distribution is not allowed here), got a mapping"
            )
        value = self.scalar(node)
        is_number = isinstance(value, int | float) and not isinstance(value, bool)
        if not is_number or not math.isfinite(value):
            raise self.error(node, path, f"expected {what}, got {_described(value)}")
        problem = check(float(value)) if check else None
        if problem:
            raise self.error(node, path, f"expected {what}, got {value!r} ({problem})")
        return float(value)

    def distribution(
        self, node: yaml.Node, path: str, check: Callable[[float], str | None] | None
    ) -> Distribution:
        items = self.mapping(node, path, DISTRIBUTIONS)
        if len(items) != 1:
            raise self.error(
                node,
                path,
                f"expected one distribution ({', '.join(DISTRIBUTIONS)}), got {len(items)}",
            )
        ((kind, (_, value)),) = items.items()
        where = f"{path}.{kind}"
        if kind == "choice":
            if not isinstance(value, yaml.SequenceNode) or not value.value:
                raise self.error(
                    value,
                    where,
                    f"expected a list of numbers, got {_described(self.scalar(value))}",
                )
            options = tuple(
                self.number(v, f"{where}[{i}]", check) for i, v in enumerate(value.value)
            )
            return Choice(options, check)
        names = "[low, high]" if kind == "uniform" else "[mean, std]"
        first, second = self.vector(value, where, (2,), f"{names}, a list of 2 numbers")
        if kind == "uniform":
            if first > second:
                raise self.error(
                    value, where, f"expected {names} with low <= high, got [{first:g}, {second:g}]"
                )
            for bound, item in zip((first, second), value.value, strict=True):
                problem = check(bound) if check else None
                if problem:
                    raise self.error(item, where, f"bound {bound:g} out of range ({problem})")
            return Uniform(first, second, check)
        if second < 0:
            raise self.error(value.value[1], where, f"expected std >= 0, got {second:g}")
        problem = check(first) if check else None
        if problem:
            raise self.error(value.value[0], where, f"mean {first:g} out of range ({problem})")
        return Normal(first, second, check)

    def choice(self, node: yaml.Node, path: str, choices: tuple[str, ...]) -> str:
        value = self.scalar(node)
        if not isinstance(value, str) or value.lower() not in choices:
            raise self.error(
                node,
                path,
                f"expected one of {', '.join(choices)}, got "
                f"{_described(value)}{_did_you_mean(value, choices)}",
            )
        return value.lower()

    def matrix(self, node: yaml.Node, path: str, shapes: tuple[tuple[int, int], ...]) -> np.ndarray:
        shape_text = " or ".join(f"{r}x{c}" for r, c in shapes)
        what = f"a {shape_text} matrix (a list of rows of numbers)"
        rows = node.value if isinstance(node, yaml.SequenceNode) else None
        if not rows or not all(isinstance(r, yaml.SequenceNode) for r in rows):
            raise self.error(node, path, f"expected {what}, got {_described(self.scalar(node))}")
        shape = (len(rows), len(rows[0].value))
        if shape not in shapes or any(len(r.value) != shape[1] for r in rows):
            found = "x".join(str(n) for n in (len(rows), *{len(r.value) for r in rows}))
            raise self.error(node, path, f"expected {what}, got a {found} matrix")
        return np.array(
            [
                [self.number(v, f"{path}[{i}][{j}]") for j, v in enumerate(r.value)]
                for i, r in enumerate(rows)
            ]
        )

    # -- the spec's sections

    def spec(self, root: yaml.Node) -> WarpSpec:
        items = self.mapping(root, "", _TOP_KEYS)
        if "version" not in items:
            raise self.error(root, "version", f"missing key: expected 'version: {SPEC_VERSION}'")
        version_node = items["version"][1]
        if self.scalar(version_node) != SPEC_VERSION or isinstance(self.scalar(version_node), bool):
            raise self.error(
                version_node,
                "version",
                f"expected {SPEC_VERSION} (the only spec "
                f"version), got {_described(self.scalar(version_node))}",
            )
        # no transform: the identity (a pure resize or dtype change needs none)
        transforms = self.transforms(items["transform"][1]) if "transform" in items else ()
        sampling = self.sampling(items["sampling"][1]) if "sampling" in items else SamplingSpec()
        output = self.output(items["output"][1]) if "output" in items else OutputSpec()
        files = [
            i
            for i, item in enumerate(transforms)
            if isinstance(item.transform if isinstance(item, Sometimes) else item, TransformFile)
        ]
        space = (
            self.choice(items["space"][1], "space", ("voxel", "world"))
            if "space" in items
            else ("world" if files else "voxel")
        )
        if files and space != "world":
            raise self.error(
                items["space"][1],
                "space",
                f"transform[{files[0]}] is a transform file, which maps world (mm) points: "
                "use space: world (the default with transform files)",
            )
        targets = self.targets(items["targets"][1]) if "targets" in items else ()
        if space == "world":
            for index, item in enumerate(transforms):
                transform = item.transform if isinstance(item, Sometimes) else item
                if isinstance(transform, AffineTheta | FlowSpec | ElasticSpec):
                    kind = "theta" if isinstance(transform, AffineTheta) else _kind_of(transform)
                    raise self.error(
                        items["space"][1],
                        "space",
                        f"transform[{index}] is {'an' if kind[0] in 'aeiou' else 'a'} {kind}"
                        ", which has no world-space form; use space: voxel",
                    )
                if isinstance(transform, AffineParams) and any(transform.shear):
                    raise self.error(
                        items["space"][1],
                        "space",
                        f"transform[{index}] shears; world space is for volumes (no shear)",
                    )
        return WarpSpec(
            transforms,
            sampling,
            output,
            source=self.source,
            space=space,
            targets=targets,
            marks=self.marks,
        )

    def targets(self, node: yaml.Node) -> tuple[TargetSpec, ...]:
        if not isinstance(node, yaml.MappingNode):
            raise self.error(
                node,
                "targets",
                "expected a mapping of target names (as in --pair NAME=DIR) to "
                f"{{mode, padding, fill}}, got {_described(self.scalar(node))}",
            )
        targets: list[TargetSpec] = []
        for key_node, value_node in node.value:
            name = self.scalar(key_node)
            if not isinstance(name, str) or not _TARGET_NAME.fullmatch(name):
                raise self.error(
                    key_node,
                    f"targets.{name}",
                    "expected a target name of letters, digits, '_', '-' or '.' "
                    "(it names the output folder)",
                )
            if any(t.name == name for t in targets):
                raise self.error(key_node, f"targets.{name}", "key given twice")
            values = self.sampling_values(value_node, f"targets.{name}", _TARGET_KEYS)
            targets.append(TargetSpec(name, **values))
        return tuple(targets)

    def transforms(self, node: yaml.Node) -> tuple[Transform | Sometimes, ...]:
        if isinstance(node, yaml.SequenceNode):
            for i, item in enumerate(node.value):
                self.marks[f"transform[{i}]"] = _position(item)
            return tuple(
                self.transform(item, f"transform[{i}]") for i, item in enumerate(node.value)
            )
        return (self.transform(node, "transform"),)

    def transform(self, node: yaml.Node, path: str) -> Transform | Sometimes:
        items = self.mapping(node, path, (*_TRANSFORM_KINDS, "p"))
        kinds = {key: value for key, value in items.items() if key != "p"}
        if len(kinds) != 1:
            raise self.error(
                node,
                path,
                "expected exactly one transform kind "
                f"({', '.join(_TRANSFORM_KINDS)}) per list item, got {len(kinds)}",
            )
        ((kind, (_, value)),) = kinds.items()
        transform: Transform
        if kind == "flow":
            transform = self.flow(value, f"{path}.flow")
        elif kind == "file":
            transform = self.transform_file(value, f"{path}.file")
        elif kind == "elastic":
            transform = self.elastic(value, f"{path}.elastic")
        else:
            transform = self.affine(value, f"{path}.affine")
        if "p" not in items:
            return transform
        p = self.number(
            items["p"][1],
            f"{path}.p",
            lambda v: "must be between 0 and 1" if not 0 <= v <= 1 else None,
            "a probability between 0 and 1",
        )
        return transform if p == 1 else Sometimes(transform, p)

    def flow(self, node: yaml.Node, path: str) -> FlowSpec:
        items = self.mapping(node, path, _FLOW_KEYS)
        if "path" not in items:
            raise self.error(
                node,
                f"{path}.path",
                "missing key: expected the field's file "
                "(.npy, or .npz with key), relative to the spec",
            )
        written, resolved = self.existing_file(items["path"][1], f"{path}.path", _FLOW_SUFFIXES)
        values: dict[str, Any] = {}
        if "key" in items:
            key = self.scalar(items["key"][1])
            if not isinstance(key, str):
                raise self.error(
                    items["key"][1],
                    f"{path}.key",
                    f"expected the array's name in the .npz, got {_described(key)}",
                )
            values["key"] = key
        if "kind" in items:
            values["kind"] = self.choice(
                items["kind"][1], f"{path}.kind", ("displacement", "coordinates")
            )
        if "units" in items:
            values["units"] = self.choice(
                items["units"][1], f"{path}.units", ("pixels", "normalized", "world")
            )
        if "scale" in items:
            values["scale"] = self.number(items["scale"][1], f"{path}.scale", random=True)
        return FlowSpec(written, resolved, **values)

    def existing_file(
        self, node: yaml.Node, path: str, suffixes: tuple[str, ...] | None = None
    ) -> tuple[str, Path]:
        """(the name as written, the resolved path) of an existing file the spec names,
        relative to the spec; ``suffixes``: the names allowed."""
        written = self.scalar(node)
        if not isinstance(written, str) or not written:
            raise self.error(node, path, f"expected a file name, got {_described(written)}")
        if suffixes and not written.lower().endswith(suffixes):
            raise self.error(node, path, f"expected a {', '.join(suffixes)} file, got {written!r}")
        resolved = (self.base / written).resolve()
        if not resolved.is_file():
            raise self.error(
                node, path, f"expected an existing file, got {written!r} (looked for {resolved})"
            )
        return written, resolved

    def transform_file(self, node: yaml.Node, path: str) -> TransformFile:
        if isinstance(node, yaml.ScalarNode):  # file: name  (short for file: {path: name})
            node = yaml.MappingNode(
                "tag:yaml.org,2002:map",
                [
                    (
                        yaml.ScalarNode(
                            "tag:yaml.org,2002:str", "path", node.start_mark, node.end_mark
                        ),
                        node,
                    )
                ],
                start_mark=node.start_mark,
                end_mark=node.end_mark,
            )
        items = self.mapping(node, path, _FILE_KEYS)
        if "path" not in items:
            raise self.error(
                node,
                f"{path}.path",
                "missing key: expected the transform file, relative to the spec",
            )
        written, resolved = self.existing_file(items["path"][1], f"{path}.path")
        invert = False
        if "invert" in items:
            invert = self.scalar(items["invert"][1])
            if not isinstance(invert, bool):
                raise self.error(
                    items["invert"][1],
                    f"{path}.invert",
                    f"expected true or false, got {_described(invert)}",
                )
        fmt = None
        if "format" in items:
            fmt = self.choice(items["format"][1], f"{path}.format", TRANSFORM_FORMATS)
        return TransformFile(written, resolved, invert, fmt)

    def elastic(self, node: yaml.Node, path: str) -> ElasticSpec:
        items = self.mapping(node, path, _ELASTIC_KEYS)
        for key in ("alpha", "sigma"):
            if key not in items:
                raise self.error(
                    node, f"{path}.{key}", "missing key: expected alpha and sigma (pixels)"
                )
        alpha = self.number(
            items["alpha"][1],
            f"{path}.alpha",
            lambda v: "must be >= 0" if v < 0 else None,
            "the strength in pixels, >= 0",
            random=True,
        )
        sigma = self.number(
            items["sigma"][1],
            f"{path}.sigma",
            lambda v: "must be > 0" if v <= 0 else None,
            "the smoothness in pixels, > 0",
            random=True,
        )
        values: dict[str, Any] = {}
        if "grid" in items:
            values["grid"] = self.whole(items["grid"][1], f"{path}.grid", 1, "the lattice spacing")
        if "seed" in items:
            values["seed"] = self.whole(items["seed"][1], f"{path}.seed", 0, "the field's seed")
        return ElasticSpec(alpha, sigma, **values)

    def whole(self, node: yaml.Node, path: str, least: int, what: str) -> int:
        value = self.scalar(node)
        if isinstance(value, bool) or not isinstance(value, int) or value < least:
            raise self.error(
                node, path, f"expected {what}, a whole number >= {least}, got {_described(value)}"
            )
        return int(value)

    def affine(self, node: yaml.Node, path: str) -> Transform:
        items = self.mapping(node, path, _AFFINE_KEYS)
        given = [k for k in ("matrix", "theta") if k in items]
        params = [k for k in _AFFINE_KEYS[:5] if k in items]
        if len(given) > 1 or (given and params):
            other = (given + params)[1]
            raise self.error(
                items[other][0],
                f"{path}.{other}",
                f"cannot be combined with "
                f"{given[0]}; use one affine per list item and list them in order",
            )
        if "matrix" in items:
            return self.pixel_matrix(items["matrix"][1], f"{path}.matrix")
        if "theta" in items:
            return self.theta(items["theta"][1], f"{path}.theta")
        return self.params(items, path)

    def params(self, items: dict[str, tuple[yaml.Node, yaml.Node]], path: str) -> AffineParams:
        values: dict[str, Any] = {}
        if "rotate" in items:
            values["rotate"] = self.number_or_vector(
                items["rotate"][1],
                f"{path}.rotate",
                (3,),
                "degrees, a number or [rx, ry, rz] (volumes)",
            )
        if "scale" in items:
            values["scale"] = self.number_or_vector(
                items["scale"][1],
                f"{path}.scale",
                (2, 3),
                "a number or a list of 2 numbers [sx, sy] (3 for volumes)",
                check=lambda v: "must not be 0" if v == 0 else None,
            )
        if "shear" in items:
            shear = self.number_or_vector(
                items["shear"][1],
                f"{path}.shear",
                (2,),
                "degrees, a number (x) or [x, y]",
                check=lambda v: "must be between -90 and 90" if not -90 < v < 90 else None,
            )
            values["shear"] = shear if isinstance(shear, tuple) else (shear, 0.0)
        if "translate" in items:
            values["translate"] = self.number_or_vector(
                items["translate"][1],
                f"{path}.translate",
                (2, 3),
                "a number (every axis) or a list of 2 numbers [tx, ty] in pixels (3 for volumes)",
            )
        if "center" in items:
            values["center"] = self.center(items["center"][1], f"{path}.center")
        return AffineParams(**values)

    def vector(
        self,
        node: yaml.Node,
        path: str,
        counts: tuple[int, ...],
        what: str,
        check: Callable[[float], str | None] | None = None,
        random: bool = False,
        item: str = "a number",
    ) -> tuple[Any, ...]:
        if not isinstance(node, yaml.SequenceNode) or len(node.value) not in counts:
            raise self.error(node, path, f"expected {what}, got {_described(self.scalar(node))}")
        return tuple(
            self.number(value, f"{path}[{i}]", check, what=item, random=random)
            for i, value in enumerate(node.value)
        )

    def number_or_vector(
        self,
        node: yaml.Node,
        path: str,
        counts: tuple[int, ...],
        what: str,
        check: Callable[[float], str | None] | None = None,
        random: bool = True,
    ) -> Any:
        if isinstance(node, yaml.SequenceNode):
            return self.vector(node, path, counts, what, check, random)
        return self.number(node, path, check, what=what, random=random)

    def center(self, node: yaml.Node, path: str) -> str | tuple[float, ...]:
        if isinstance(node, yaml.SequenceNode):
            return self.vector(
                node, path, (2, 3), "image, origin or [x, y] ([x, y, z]) in pixels", random=True
            )
        return self.choice(node, path, ("image", "origin"))

    def pixel_matrix(self, node: yaml.Node, path: str) -> AffineMatrix:
        m = self.matrix(node, path, ((2, 3), (3, 3), (3, 4), (4, 4)))
        k = m.shape[1] - 1
        if m.shape[0] == k + 1:
            last = np.eye(k + 1)[k]
            if not np.array_equal(m[k], last):
                raise self.error(
                    node,
                    path,
                    f"expected the last row of a {k + 1}x{k + 1} matrix to be "
                    f"{last.astype(int).tolist()} (affine; projective maps are not supported), "
                    f"got {m[k].tolist()}",
                )
        self.invertible(m[:k, :k], node, path)
        full = np.vstack([m[:k], np.eye(k + 1)[k]])
        return AffineMatrix(tuple(tuple(float(v) for v in row) for row in full))

    def theta(self, node: yaml.Node, path: str) -> AffineTheta:
        m = self.matrix(node, path, ((2, 3), (3, 4)))
        self.invertible(m[:, :-1], node, path)
        return AffineTheta(tuple(tuple(float(v) for v in row) for row in m))

    def invertible(self, linear: np.ndarray, node: yaml.Node, path: str) -> None:
        with np.errstate(all="ignore"):  # 1e308 entries overflow the determinant
            singular = np.linalg.svd(linear, compute_uv=False)
        if not np.all(np.isfinite(singular)) or singular[0] > 1e100:
            raise self.error(
                node,
                path,
                "expected an invertible matrix of moderate values, got "
                f"entries up to {float(np.abs(linear).max()):.3g}",
            )
        largest = max(1.0, float(np.abs(linear).max()))
        if abs(np.linalg.det(linear)) <= 1e-12 * largest ** len(linear):
            raise self.error(
                node,
                path,
                f"expected an invertible matrix, got one whose {len(linear)}x{len(linear)} part "
                "is singular (it collapses the image onto a line or plane)",
            )

    def sampling(self, node: yaml.Node) -> SamplingSpec:
        return SamplingSpec(**self.sampling_values(node, "sampling", _SAMPLING_KEYS))

    def sampling_values(self, node: yaml.Node, path: str, keys: tuple[str, ...]) -> dict[str, Any]:
        items = self.mapping(node, path, keys)
        values: dict[str, Any] = {}
        if "mode" in items:
            name = self.choice(items["mode"][1], f"{path}.mode", tuple(m.label for m in Mode))
            values["mode"] = Mode[name.upper()]
        if "padding" in items:
            name = self.choice(
                items["padding"][1], f"{path}.padding", tuple(p.label for p in Padding)
            )
            values["padding"] = Padding[name.upper()]
        for key in ("align_corners", "antialias"):
            if key in items:
                node_ = items[key][1]
                value = self.scalar(node_)
                if key == "antialias" and value == "auto":
                    values[key] = None
                    continue
                if not isinstance(value, bool):
                    expected = "true, false or auto" if key == "antialias" else "true or false"
                    raise self.error(
                        node_, f"{path}.{key}", f"expected {expected}, got {_described(value)}"
                    )
                values[key] = value
        if "fill" in items:
            values["fill"] = self.fill(items["fill"][1], f"{path}.fill")
        return values

    def fill(self, node: yaml.Node, path: str) -> tuple[float, ...]:
        what = "a number or a list of numbers (one per channel)"
        if isinstance(node, yaml.SequenceNode):
            if not node.value:
                raise self.error(node, path, f"expected {what}, got an empty list")
            return tuple(self.number(v, f"{path}[{i}]") for i, v in enumerate(node.value))
        return (self.number(node, path, what=what),)

    def output(self, node: yaml.Node) -> OutputSpec:
        items = self.mapping(node, "output", _OUTPUT_KEYS)
        values: dict[str, Any] = {}
        grids = [key for key in ("size", "like", "spacing") if key in items]
        if len(grids) > 1:
            raise self.error(
                items[grids[1]][0],
                f"output.{grids[1]}",
                f"cannot be combined with output.{grids[0]}; give one of them",
            )
        if "size" in items:
            values["size"] = self.size(items["size"][1], "output.size")
        if "like" in items:
            values["size"] = ("like", self.reference(items["like"][1], "output.like"))
        if "spacing" in items:
            values["size"] = (
                "spacing",
                self.vector(
                    items["spacing"][1],
                    "output.spacing",
                    (3,),
                    "[sx, sy, sz] in mm, > 0",
                    check=lambda v: "must be > 0" if v <= 0 else None,
                ),
            )
        if "dtype" in items:
            values["dtype"] = self.choice(items["dtype"][1], "output.dtype", ("same", *DTYPES))
        if "values" in items:
            values["values"] = self.choice(
                items["values"][1], "output.values", ("auto", "scale", "keep")
            )
        if "chunks" in items:
            values["chunks"] = self.chunks(items["chunks"][1], "output.chunks")
        if "levels" in items:
            values["levels"] = self.levels(items["levels"][1], "output.levels")
        if "compression" in items:
            values["compression"] = self.choice(
                items["compression"][1], "output.compression", ("zstd", "gzip", "none")
            )
        return OutputSpec(**values)

    def chunks(self, node: yaml.Node, path: str) -> tuple[int, ...]:
        what = "a chunk edge or [cx, cy] ([cx, cy, cz] for volumes) in voxels, 1 or more"

        def positive_int(v: float) -> str | None:
            return "voxels, 1 or more" if v < 1 or v != int(v) else None

        if isinstance(node, yaml.SequenceNode):
            sizes = self.vector(node, path, (2, 3), what, positive_int, item="a positive integer")
            return tuple(int(n) for n in sizes)
        return (int(self.number(node, path, positive_int, what=what)),)

    def levels(self, node: yaml.Node, path: str) -> int | None:
        if self.scalar(node) == "auto":
            return None

        def positive_int(v: float) -> str | None:
            return "1 or more" if v < 1 or v != int(v) else None

        what = "auto or a number of pyramid levels, 1 or more"
        return int(self.number(node, path, positive_int, what=what))

    def reference(self, node: yaml.Node, path: str) -> Path:
        written = self.scalar(node)
        suffixes = (".nii", ".nii.gz", ".zarr", ".zarr/")
        if not isinstance(written, str) or not written.lower().endswith(suffixes):
            raise self.error(
                node,
                path,
                f"expected a NIfTI file (.nii, .nii.gz) or an OME-Zarr image (.zarr) whose grid "
                f"the output takes, got {_described(written)}",
            )
        resolved = (self.base / written).resolve()
        if written.lower().rstrip("/").endswith(".zarr"):
            if not resolved.is_dir():
                raise self.error(
                    node,
                    path,
                    f"expected an existing .zarr folder, got {written!r} (looked for {resolved})",
                )
            return resolved
        if not resolved.is_file():
            raise self.error(
                node, path, f"expected an existing file, got {written!r} (looked for {resolved})"
            )
        return resolved

    def size(self, node: yaml.Node, path: str) -> str | tuple[str, Any]:
        what = "same, expand, [width, height] ([w, h, d] for volumes) or {scale: s}"
        if isinstance(node, yaml.SequenceNode):

            def positive_int(v: float) -> str | None:
                return "pixels, 1 or more" if v < 1 or v != int(v) else None

            sizes = self.vector(node, path, (2, 3), what, positive_int, item="a positive integer")
            return ("size", tuple(int(n) for n in sizes))
        if isinstance(node, yaml.MappingNode):
            items = self.mapping(node, path, ("scale",))
            if "scale" not in items:
                raise self.error(node, path, f"expected {what}, got an empty mapping")
            scale = self.number_or_vector(
                items["scale"][1],
                f"{path}.scale",
                (2, 3),
                "a number or [sx, sy] ([sx, sy, sz]) greater than 0",
                check=lambda v: "must be > 0" if v <= 0 else None,
                random=False,
            )
            return ("scale", scale)
        value = self.scalar(node)
        if not isinstance(value, str):
            raise self.error(node, path, f"expected {what}, got {_described(value)}")
        return self.choice(node, path, ("same", "expand"))
