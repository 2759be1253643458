"""YAML text -> :class:`~gswarp.spec.model.WarpSpec`, validated node by node so that every
error names ``file:line:column`` and the key path (:func:`load_spec`, :func:`parse_spec`)."""

from __future__ import annotations

import difflib
import math
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from gswarp.errors import SpecError, first_line
from gswarp.io.formats import FIELD_SUFFIXES
from gswarp.sampling import Mode, Padding
from gswarp.spec.dimensions import check_dimensions
from gswarp.spec.distributions import DISTRIBUTIONS, Choice, Distribution, Normal, Uniform
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
    _kind_of,
)

__all__ = ["load_spec", "parse_spec"]

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
        written, resolved = self.existing_file(items["path"][1], f"{path}.path", FIELD_SUFFIXES)
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
