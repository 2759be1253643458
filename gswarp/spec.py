"""YAML warp specs -> frozen, validated :class:`WarpSpec` objects.

A spec says *what* to do to every image, independent of any image's size::

    version: 1
    transform:               # one transform, or a list (the first listed acts first on the image)
      - affine: {rotate: 15, scale: 1.2, shear: [5, 0], translate: [20, -10], center: image}
      - affine: {matrix: [[1, 0, 3], [0, 1, 0]]}   # forward, pixel coordinates
      - affine: {theta: [[1, 0, 0], [0, 1, 0]]}    # torch affine_grid's matrix
    sampling: {mode: bilinear, padding: zeros, align_corners: false, fill: 0}
    output: {size: same, dtype: same, values: scale}

Conventions: transforms are *forward* (they move the content) in *pixel* coordinates, pixel
centres at integers, x right, y down; ``rotate`` is in degrees, counter-clockwise on screen. Every
error names ``file:line:column``, the key path, what was expected and what was found; unknown keys
are errors, with a "did you mean" where a known key is close. :mod:`gswarp.plan` resolves a spec
against one image's size.
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from gswarp.errors import SpecError
from gswarp.options import Mode, Padding

__all__ = [
    "DTYPES",
    "AffineMatrix",
    "AffineParams",
    "AffineTheta",
    "FlowSpec",
    "OutputSpec",
    "SamplingSpec",
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
    ``scale``: a number (every axis) or one per axis; ``shear`` (x, y) degrees (images only);
    all about ``center`` ("image": the centre ``((W - 1) / 2, (H - 1) / 2[, (D - 1) / 2])``,
    "origin": pixel 0, or a position in pixels); then ``translate`` in pixels (x right, y down,
    z into the stack). ``translate=()`` is no translation.
    """

    rotate: float | tuple[float, float, float] = 0.0
    scale: float | tuple[float, ...] = 1.0
    shear: tuple[float, float] = (0.0, 0.0)
    translate: tuple[float, ...] = ()
    center: str | tuple[float, ...] = "image"

    def normalized(self) -> dict[str, Any]:
        def plain(value: Any) -> Any:
            return list(value) if isinstance(value, tuple) else value

        values = {"rotate": plain(self.rotate), "scale": plain(self.scale)}
        if any(self.shear):
            values["shear"] = list(self.shear)
        if self.translate:
            values["translate"] = list(self.translate)
        values["center"] = plain(self.center)
        return values


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
        values.update(kind=self.kind, units=self.units, scale=self.scale)
        return values


Transform = AffineParams | AffineMatrix | AffineTheta | FlowSpec


def _kind_of(transform: Transform) -> str:
    return "flow" if isinstance(transform, FlowSpec) else "affine"


@dataclass(frozen=True)
class SamplingSpec:
    """How the input is read: interpolation, padding, ``align_corners``, ``fill`` (per channel)."""

    mode: Mode = Mode.BILINEAR
    padding: Padding = Padding.ZEROS
    align_corners: bool = False
    fill: tuple[float, ...] = (0.0,)

    def normalized(self) -> dict[str, Any]:
        fill: Any = self.fill[0] if len(self.fill) == 1 else list(self.fill)
        return {
            "mode": self.mode.label,
            "padding": self.padding.label,
            "align_corners": self.align_corners,
            "fill": fill,
        }


@dataclass(frozen=True)
class OutputSpec:
    """Output geometry and dtype.

    ``size``: "same", "expand" (large enough for the whole transformed input),
    ``("size", (w, h[, d]))``, ``("scale", s)`` with ``s`` a number or ``(sx, sy[, sz])``,
    ``("like", path)`` (a reference NIfTI's grid) or ``("spacing", (sx, sy, sz))`` (mm, the same
    extent).
    ``dtype``: "same" or a name in :data:`DTYPES`; ``values``: "scale" (integer ranges map onto
    each other, integers <-> floats in [0, 1]) or "keep" (values are rounded and clipped only).
    """

    size: str | tuple[str, Any] = "same"
    dtype: str = "same"
    values: str = "scale"

    def normalized(self) -> dict[str, Any]:
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
        return {**grid, "dtype": self.dtype, "values": self.values}


@dataclass(frozen=True)
class WarpSpec:
    """A validated warp spec. ``transforms`` act in order on the input (first listed first)."""

    transforms: tuple[Transform, ...]
    sampling: SamplingSpec = field(default_factory=SamplingSpec)
    output: OutputSpec = field(default_factory=OutputSpec)
    source: str = "<spec>"
    version: int = SPEC_VERSION
    space: str = "voxel"

    def with_sampling(self, **changes: Any) -> WarpSpec:
        """A copy with some sampling fields replaced (``None`` values are ignored)."""
        changes = {k: v for k, v in changes.items() if v is not None}
        return replace(self, sampling=replace(self.sampling, **changes))

    def normalized(self) -> dict[str, Any]:
        """The spec as plain data with every default filled in (what ``gswarp validate`` prints)."""
        return {
            "version": self.version,
            "space": self.space,
            "transform": [{_kind_of(t): t.normalized()} for t in self.transforms],
            "sampling": self.sampling.normalized(),
            "output": self.output.normalized(),
        }


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
    loader = yaml.SafeLoader(text)
    try:
        root = loader.get_single_node()
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        where = f"{source}:{mark.line + 1}:{mark.column + 1}" if mark else source
        raise SpecError(f"{where}: not valid YAML: {error.problem or error.context}") from None
    except yaml.YAMLError as error:
        raise SpecError(f"{source}: not valid YAML: {error}") from None
    finally:
        loader.dispose()
    reader = _Reader(source, loader, base if base is not None else Path.cwd())
    if root is None:
        raise SpecError(
            f"{source}:1:1: (top level): expected a mapping with keys version, "
            "transform, sampling, output, got an empty document"
        )
    return reader.spec(root)


# --------------------------------------------------------------------------------------------
# The node reader: validation with positions


_TOP_KEYS = ("version", "space", "transform", "sampling", "output")
_AFFINE_KEYS = ("rotate", "scale", "shear", "translate", "center", "matrix", "theta")
_SAMPLING_KEYS = ("mode", "padding", "align_corners", "fill")
_OUTPUT_KEYS = ("size", "like", "spacing", "dtype", "values")
_TRANSFORM_KINDS = ("affine", "flow")
_FLOW_KEYS = ("path", "key", "kind", "units", "scale")
_FLOW_SUFFIXES = (".npy", ".npz", ".nii", ".nii.gz", ".tif", ".tiff")


def _did_you_mean(word: str, choices: tuple[str, ...]) -> str:
    close = difflib.get_close_matches(str(word), choices, n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _described(value: Any) -> str:
    if isinstance(value, yaml.MappingNode):
        return "a mapping"
    if isinstance(value, yaml.SequenceNode):
        return f"a list of {len(value.value)}"
    return repr(value)


class _Reader:
    """Walks the YAML node tree; every check knows its node (for line:column) and key path."""

    def __init__(self, source: str, loader: yaml.SafeLoader, base: Path) -> None:
        self.source = source
        self.loader = loader
        self.base = base

    # -- errors and plain values

    def error(self, node: yaml.Node, path: str, message: str) -> SpecError:
        mark = node.start_mark
        return SpecError(f"{self.source}:{mark.line + 1}:{mark.column + 1}: {path}: {message}")

    def scalar(self, node: yaml.Node) -> Any:
        if isinstance(node, yaml.ScalarNode):
            return self.loader.construct_object(node)
        return node

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
            where = f"{path}.{key}" if path else str(key)
            if not isinstance(key, str) or key not in keys:
                raise self.error(
                    key_node,
                    where,
                    f"unknown key{_did_you_mean(key, keys)}; expected one of {', '.join(keys)}",
                )
            if key in items:
                raise self.error(key_node, where, "key given twice")
            items[key] = (key_node, value_node)
        return items

    def number(
        self,
        node: yaml.Node,
        path: str,
        check: Callable[[float], str | None] | None = None,
        what: str = "a number",
    ) -> float:
        value = self.scalar(node)
        is_number = isinstance(value, int | float) and not isinstance(value, bool)
        if not is_number or not math.isfinite(value):
            raise self.error(node, path, f"expected {what}, got {_described(value)}")
        problem = check(float(value)) if check else None
        if problem:
            raise self.error(node, path, f"expected {what}, got {value!r} ({problem})")
        return float(value)

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
        if "transform" not in items:
            raise self.error(
                root,
                "transform",
                "missing key: expected a transform or a list of transforms (use [] for none)",
            )
        transforms = self.transforms(items["transform"][1])
        sampling = self.sampling(items["sampling"][1]) if "sampling" in items else SamplingSpec()
        output = self.output(items["output"][1]) if "output" in items else OutputSpec()
        space = (
            self.choice(items["space"][1], "space", ("voxel", "world"))
            if "space" in items
            else "voxel"
        )
        if space == "world":
            for index, transform in enumerate(transforms):
                if isinstance(transform, AffineTheta | FlowSpec):
                    kind = "theta" if isinstance(transform, AffineTheta) else "flow"
                    raise self.error(
                        items["space"][1],
                        "space",
                        f"transform[{index}] is a {kind}"
                        ", which has no world-space form; use space: voxel",
                    )
                if isinstance(transform, AffineParams) and any(transform.shear):
                    raise self.error(
                        items["space"][1],
                        "space",
                        f"transform[{index}] shears; world space is for volumes (no shear)",
                    )
        return WarpSpec(transforms, sampling, output, source=self.source, space=space)

    def transforms(self, node: yaml.Node) -> tuple[Transform, ...]:
        if isinstance(node, yaml.SequenceNode):
            return tuple(
                self.transform(item, f"transform[{i}]") for i, item in enumerate(node.value)
            )
        return (self.transform(node, "transform"),)

    def transform(self, node: yaml.Node, path: str) -> Transform:
        items = self.mapping(node, path, _TRANSFORM_KINDS)
        if len(items) != 1:
            raise self.error(
                node,
                path,
                "expected exactly one transform kind "
                f"({', '.join(_TRANSFORM_KINDS)}) per list item, got {len(items)}",
            )
        ((kind, (_, value)),) = items.items()
        if kind == "flow":
            return self.flow(value, f"{path}.flow")
        return self.affine(value, f"{path}.affine")

    def flow(self, node: yaml.Node, path: str) -> FlowSpec:
        items = self.mapping(node, path, _FLOW_KEYS)
        if "path" not in items:
            raise self.error(
                node,
                f"{path}.path",
                "missing key: expected the field's file "
                "(.npy, or .npz with key), relative to the spec",
            )
        file_node = items["path"][1]
        written = self.scalar(file_node)
        if not isinstance(written, str) or not written:
            raise self.error(
                file_node, f"{path}.path", f"expected a file name, got {_described(written)}"
            )
        if not written.lower().endswith(_FLOW_SUFFIXES):
            raise self.error(
                file_node,
                f"{path}.path",
                f"expected a {', '.join(_FLOW_SUFFIXES)} file, got {written!r}",
            )
        resolved = (self.base / written).resolve()
        if not resolved.is_file():
            raise self.error(
                file_node,
                f"{path}.path",
                f"expected an existing file, got {written!r} (looked for {resolved})",
            )
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
            values["scale"] = self.number(items["scale"][1], f"{path}.scale")
        return FlowSpec(written, resolved, **values)

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
            values["translate"] = self.vector(
                items["translate"][1],
                f"{path}.translate",
                (2, 3),
                "a list of 2 numbers [tx, ty] in pixels ([tx, ty, tz] for volumes)",
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
    ) -> tuple[float, ...]:
        if not isinstance(node, yaml.SequenceNode) or len(node.value) not in counts:
            raise self.error(node, path, f"expected {what}, got {_described(self.scalar(node))}")
        return tuple(self.number(item, f"{path}[{i}]", check) for i, item in enumerate(node.value))

    def number_or_vector(
        self,
        node: yaml.Node,
        path: str,
        counts: tuple[int, ...],
        what: str,
        check: Callable[[float], str | None] | None = None,
    ) -> float | tuple[float, ...]:
        if isinstance(node, yaml.SequenceNode):
            return self.vector(node, path, counts, what, check)
        return self.number(node, path, check, what=what)

    def center(self, node: yaml.Node, path: str) -> str | tuple[float, ...]:
        if isinstance(node, yaml.SequenceNode):
            return self.vector(node, path, (2, 3), "image, origin or [x, y] ([x, y, z]) in pixels")
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
        largest = max(1.0, float(np.abs(linear).max()))
        if abs(np.linalg.det(linear)) <= 1e-12 * largest ** len(linear):
            raise self.error(
                node,
                path,
                f"expected an invertible matrix, got one whose {len(linear)}x{len(linear)} part "
                "is singular (it collapses the image onto a line or plane)",
            )

    def sampling(self, node: yaml.Node) -> SamplingSpec:
        items = self.mapping(node, "sampling", _SAMPLING_KEYS)
        values: dict[str, Any] = {}
        if "mode" in items:
            name = self.choice(items["mode"][1], "sampling.mode", tuple(m.label for m in Mode))
            values["mode"] = Mode[name.upper()]
        if "padding" in items:
            name = self.choice(
                items["padding"][1], "sampling.padding", tuple(p.label for p in Padding)
            )
            values["padding"] = Padding[name.upper()]
        if "align_corners" in items:
            node_ = items["align_corners"][1]
            value = self.scalar(node_)
            if not isinstance(value, bool):
                raise self.error(
                    node_,
                    "sampling.align_corners",
                    f"expected true or false, got {_described(value)}",
                )
            values["align_corners"] = value
        if "fill" in items:
            values["fill"] = self.fill(items["fill"][1], "sampling.fill")
        return SamplingSpec(**values)

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
            values["values"] = self.choice(items["values"][1], "output.values", ("scale", "keep"))
        return OutputSpec(**values)

    def reference(self, node: yaml.Node, path: str) -> Path:
        written = self.scalar(node)
        if not isinstance(written, str) or not written.lower().endswith((".nii", ".nii.gz")):
            raise self.error(
                node,
                path,
                f"expected a NIfTI file (.nii, .nii.gz) whose grid the "
                f"output takes, got {_described(written)}",
            )
        resolved = (self.base / written).resolve()
        if not resolved.is_file():
            raise self.error(
                node, path, f"expected an existing file, got {written!r} (looked for {resolved})"
            )
        return resolved

    def size(self, node: yaml.Node, path: str) -> str | tuple[str, Any]:
        what = "same, expand, [width, height] ([w, h, d] for volumes) or {scale: s}"
        if isinstance(node, yaml.SequenceNode):

            def positive_int(v: float) -> str | None:
                return "must be a whole number >= 1" if v < 1 or v != int(v) else None

            sizes = self.vector(node, path, (2, 3), what, positive_int)
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
            )
            return ("scale", scale)
        value = self.scalar(node)
        if not isinstance(value, str):
            raise self.error(node, path, f"expected {what}, got {_described(value)}")
        return self.choice(node, path, ("same", "expand"))
