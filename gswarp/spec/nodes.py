"""The spec reader's primitives: a YAML node read as a scalar, a mapping with known keys, a
number or a random distribution, a choice, a vector or a matrix, an existing file -- each
checked, and each error naming ``file:line:column`` and the key path.

:class:`NodeReader` holds them; :class:`gswarp.spec.reader._Reader` builds the spec's sections
on top. The key names of every section are here, so that an unknown key can be told where it
belongs (``rotate:`` written beside ``affine:``).
"""

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
from gswarp.spec.distributions import DISTRIBUTIONS, Choice, Distribution, Normal, Uniform

__all__ = ["NodeReader"]

_TOP_KEYS = ("version", "space", "transform", "sampling", "output", "targets")
_AFFINE_KEYS = ("rotate", "scale", "shear", "translate", "center", "matrix", "theta")
_SAMPLING_KEYS = (
    "mode",
    "padding",
    "align_corners",
    "fill",
    "antialias",
    "labels",
    "order",
    "window",
    "radius",
    "sigma",
    "alpha",
)
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


class NodeReader:
    """Walks the YAML node tree; every check knows its node (for line:column) and key path."""

    def __init__(self, source: str, loader: yaml.SafeLoader, base: Path) -> None:
        self.source = source
        self.loader = loader
        self.base = base
        self.marks: dict[str, tuple[int, int]] = {}

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

    def whole(self, node: yaml.Node, path: str, least: int, what: str) -> int:
        value = self.scalar(node)
        if isinstance(value, bool) or not isinstance(value, int) or value < least:
            raise self.error(
                node, path, f"expected {what}, a whole number >= {least}, got {_described(value)}"
            )
        return int(value)

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
