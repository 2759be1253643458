"""YAML text -> :class:`~gswarp.spec.model.WarpSpec`, validated node by node so that every
error names ``file:line:column`` and the key path (:func:`load_spec`, :func:`parse_spec`)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import yaml

from gswarp.errors import SpecError, first_line
from gswarp.io.formats import FIELD_SUFFIXES
from gswarp.sampling import WINDOWS, Mode, Padding
from gswarp.spec.dimensions import check_dimensions
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
from gswarp.spec.nodes import (
    _AFFINE_KEYS,
    _ELASTIC_KEYS,
    _FILE_KEYS,
    _FLOW_KEYS,
    _OUTPUT_KEYS,
    _SAMPLING_KEYS,
    _TARGET_KEYS,
    _TARGET_NAME,
    _TOP_KEYS,
    _TRANSFORM_KINDS,
    NodeReader,
    _described,
    _position,
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


class _Reader(NodeReader):
    """The spec's sections (version, space, transforms, sampling, output, targets) read from
    the YAML node tree with :class:`~gswarp.spec.nodes.NodeReader`'s checks."""

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
            _above_zero,
            "the smoothness in pixels, > 0",
            random=True,
        )
        values: dict[str, Any] = {}
        if "grid" in items:
            values["grid"] = self.whole(items["grid"][1], f"{path}.grid", 1, "the lattice spacing")
        if "seed" in items:
            values["seed"] = self.whole(items["seed"][1], f"{path}.seed", 0, "the field's seed")
        return ElasticSpec(alpha, sigma, **values)

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
        for key in ("align_corners", "antialias", "labels"):
            if key in items:
                node_ = items[key][1]
                value = self.scalar(node_)
                if key == "antialias" and value in ("auto", "lanczos"):
                    values[key] = None if value == "auto" else value
                    continue
                if not isinstance(value, bool):
                    expected = (
                        "true, false, auto or lanczos" if key == "antialias" else "true or false"
                    )
                    raise self.error(
                        node_, f"{path}.{key}", f"expected {expected}, got {_described(value)}"
                    )
                values[key] = value
        if "fill" in items:
            values["fill"] = self.fill(items["fill"][1], f"{path}.fill")
        values |= self.filter_values(items, path, values.get("mode", Mode.BILINEAR))
        if values.get("mode", Mode.BILINEAR).is_filter and values.get("antialias"):
            raise self.error(
                items["antialias"][1],
                f"{path}.antialias",
                f"mode {values['mode'].label} is one of ITK's interpolators, which point-sample "
                "(as ITK's resampler); for an antialiased shrink use bilinear or bicubic with "
                "antialias (or antialias: lanczos)",
            )
        return values

    def filter_values(self, items: dict, path: str, mode: Mode) -> dict[str, Any]:
        """``order``, ``window``, ``radius``, ``sigma``, ``alpha``: each only with the mode
        it belongs to (ITK's interpolators, :class:`SamplingSpec`)."""
        owners = {"order": Mode.BSPLINE, "window": Mode.SINC, "radius": Mode.SINC}
        owners |= {"sigma": Mode.GAUSSIAN, "alpha": Mode.GAUSSIAN}
        values: dict[str, Any] = {}
        for key, owner in owners.items():
            if key not in items:
                continue
            node = items[key][1]
            where = f"{path}.{key}"
            if mode != owner:
                raise self.error(node, where, f"belongs to mode: {owner.label}, not {mode.label}")
            if key == "order":
                order = self.whole(node, where, 0, "a B-spline order 0 to 5")
                if order > 5:
                    raise self.error(node, where, f"expected a B-spline order 0 to 5, got {order}")
                values[key] = order
            elif key == "radius":
                radius = self.whole(node, where, 1, "the sinc's radius in voxels")
                if radius > 16:
                    raise self.error(node, where, f"expected a radius 1 to 16, got {radius}")
                values[key] = radius
            elif key == "window":
                values[key] = self.choice(node, where, WINDOWS)
            elif key == "sigma":
                what = "a positive number or one per axis (x, y[, z])"
                sigma = self.number_or_vector(node, where, (2, 3), what, _above_zero, random=False)
                values[key] = sigma if isinstance(sigma, tuple) else (sigma,)
            else:
                values[key] = self.number(node, where, _above_zero, "a positive number")
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
                    check=_above_zero,
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
                check=_above_zero,
                random=False,
            )
            return ("scale", scale)
        value = self.scalar(node)
        if not isinstance(value, str):
            raise self.error(node, path, f"expected {what}, got {_described(value)}")
        return self.choice(node, path, ("same", "expand"))


def _above_zero(value: float) -> str | None:
    """A number's check (:meth:`NodeReader.number`): the problem with a value not above 0."""
    return "must be > 0" if value <= 0 else None
