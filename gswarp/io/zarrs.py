"""Zarr arrays and OME-Zarr images (NGFF 0.4 and 0.5) as chunked volumes (extra ``zarr``).

A *location* is a local path or a URL that zarr/fsspec opens (``file://``, ``memory://``; cloud
stores where their fsspec package is installed). It holds either

* a plain Zarr array (format 2 or 3): its axes are ``(y, x)``, ``(z, y, x)`` or ``(c, z, y, x)``
  by dimension count, with no world geometry; or
* an OME-Zarr image (a group with ``multiscales`` metadata, read with ome-zarr-py): one
  resolution level is read (``level``, default 0, the finest); its axes and its ``scale`` and
  ``translation`` transformations (the dataset's, then the multiscale's) give the volume's
  voxel -> world matrix, so ``space: world``, ``output: like:`` and ``output: spacing:`` work as
  for NIfTI. NGFF world axes have no anatomical orientation: world ``(x, y, z)`` are the image's
  ``x``, ``y``, ``z`` axes in their stated units.

Leading axes: ``t`` (time points warp one after another, the same transform) and ``c``
(channels, warped together); the spatial axes come last, ``[z,] y, x``.

Writing: :func:`create_target` makes the output of the same kind (a plain array, or an OME-Zarr
image whose levels the warp and :func:`block_reduce` fill), and :func:`finish_target` writes its
metadata with zarr and ome-zarr-py, never as hand-made JSON.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from gswarp.errors import BackendError, InputError, ShapeError, first_line
from gswarp.io.formats import is_url, is_zarr_location

__all__ = [
    "ZarrSource",
    "ZarrTarget",
    "block_reduce",
    "create_target",
    "is_zarr_location",
    "open_source",
]

MARKER = "gswarp"  # the attribute that holds a run's fingerprint and whether it completed


def zarr_modules():
    """(zarr, ome_zarr) or a one-line error naming the extra."""
    try:
        import ome_zarr  # noqa: F401
        import zarr
    except ImportError as error:
        raise BackendError(
            f"Zarr volumes need the zarr extra ({error.name} is missing): "
            "pip install 'gswarp[zarr]'"
        ) from None
    return zarr


def location_name(text: str) -> str:
    """The last part of a location, for output names (``a/b/img.zarr`` -> ``img.zarr``)."""
    return str(text).rstrip("/").rsplit("/", 1)[-1]


@dataclass(frozen=True)
class ZarrSource:
    """One array to warp and what it means.

    Attributes
    ----------
    url, path : where the array is: the store's location and the array's path inside it
    shape, dtype, chunks : the array's
    axes : axis names, e.g. ``('c', 'z', 'y', 'x')``; spatial ones last
    units : the spatial axes' units (``[z,] y, x`` order), None where unknown
    affine : ndarray (4, 4) or None
        Voxel ``(x, y, z)`` -> world, from OME-Zarr; None for plain arrays and 2-D images.
    ome : bool
        An OME-Zarr image (the output is one too).
    label : bool
        An OME-Zarr label image (``image-label`` metadata): its pyramid keeps values (nearest).
    zarr_format : 2 or 3
    name : the image's name in its metadata, if any
    """

    url: str
    path: str
    shape: tuple[int, ...]
    dtype: np.dtype
    chunks: tuple[int, ...]
    axes: tuple[str, ...]
    units: tuple[str | None, ...]
    affine: np.ndarray | None
    ome: bool
    label: bool
    zarr_format: int
    name: str | None = None
    scale: tuple[float, ...] = ()  # spatial voxel sizes, [z,] y, x (plain arrays: 1)
    translation: tuple[float, ...] = ()  # world position of voxel 0, [z,] y, x
    kind: str = "zarr"  # or a volume file read in pieces: 'nifti', 'npy', 'tiff' (lazy_volumes)

    @property
    def spatial(self) -> int:
        return sum(a in "zyx" for a in self.axes)

    @property
    def spatial_shape(self) -> tuple[int, ...]:
        return self.shape[-self.spatial :]

    @property
    def leading(self) -> tuple[str, ...]:
        return self.axes[: -self.spatial]


def open_source(location: str, level: int = 0) -> ZarrSource:
    """Open the Zarr array or OME-Zarr image at ``location`` (read-only); a volume file read in
    pieces too: :func:`gswarp.io.sources.open_source`.

    Raises
    ------
    InputError
        Not a Zarr store, a level the image does not have, axes gswarp cannot warp.
    BackendError
        The zarr extra is missing.
    """
    zarr = zarr_modules()
    try:
        node = zarr.open(location, mode="r")
    except Exception as error:  # zarr raises several kinds for "nothing here"
        raise InputError(
            f"{location}: not a Zarr array or group ({first_line(error, 160)})"
        ) from None
    if isinstance(node, zarr.Array):
        if level != 0:
            raise InputError(f"{location}: a plain Zarr array has one level; --level {level}")
        return _plain_source(location, node)
    return _ome_source(location, node, level)


def _plain_source(location: str, array) -> ZarrSource:
    axes = {2: ("y", "x"), 3: ("z", "y", "x"), 4: ("c", "z", "y", "x")}.get(array.ndim)
    if axes is None:
        raise InputError(
            f"{location}: a plain Zarr array of {array.ndim} dimensions; expected 2 (y, x), "
            "3 (z, y, x) or 4 (c, z, y, x)"
        )
    return ZarrSource(
        url=str(location),
        path="",
        shape=tuple(int(n) for n in array.shape),
        dtype=np.dtype(array.dtype),
        chunks=tuple(int(n) for n in array.chunks),
        axes=axes,
        units=(None,) * (len(axes) - (len(axes) == 4)),
        affine=None,
        ome=False,
        label=False,
        zarr_format=int(array.metadata.zarr_format),
        scale=(1.0,) * (len(axes) - (len(axes) == 4)),
        translation=(0.0,) * (len(axes) - (len(axes) == 4)),
    )


def _ome_source(location: str, group, level: int) -> ZarrSource:
    from ome_zarr.io import parse_url
    from ome_zarr.reader import Multiscales, Reader

    logger = logging.getLogger("ome_zarr")
    previous = logger.level
    logger.setLevel(logging.ERROR)  # it logs version guesses as warnings
    try:
        zarr_location = parse_url(location)
        nodes = list(Reader(zarr_location)()) if zarr_location is not None else []
    except Exception as error:
        raise InputError(f"{location}: not an OME-Zarr image ({first_line(error, 160)})") from None
    finally:
        logger.setLevel(previous)
    node = nodes[0] if nodes else None
    multiscales = [s for s in node.specs if isinstance(s, Multiscales)] if node else []
    if not multiscales:
        raise InputError(
            f"{location}: a Zarr group without OME-Zarr multiscales metadata; give the path of "
            "an array inside it, or an OME-Zarr image"
        )
    paths = list(multiscales[0].datasets)
    if not 0 <= level < len(paths):
        raise InputError(f"{location}: --level {level}: the image has levels 0..{len(paths) - 1}")
    metadata = node.metadata
    axes = _axes(location, metadata.get("axes"))
    array = group[paths[level]]
    if array.ndim != len(axes):
        raise InputError(f"{location}: level {level} has {array.ndim} axes, metadata {len(axes)}")
    transforms = metadata.get("coordinateTransformations") or [[]] * len(paths)
    scale, translation = _scale_translation(transforms[level], len(axes))
    scale, translation = _then_global(group, scale, translation, len(axes))
    names = tuple(a["name"] for a in axes)
    spatial = sum(n in "zyx" for n in names)
    units = tuple(a.get("unit") for a in axes[-spatial:])
    affine = grid_affine(scale[-3:], translation[-3:]) if spatial == 3 else None  # z, y, x last
    attrs = dict(group.attrs)
    ome = attrs.get("ome", attrs)
    return ZarrSource(
        url=str(location),
        path=str(paths[level]),
        shape=tuple(int(n) for n in array.shape),
        dtype=np.dtype(array.dtype),
        chunks=tuple(int(n) for n in array.chunks),
        axes=names,
        units=units,
        affine=affine,
        ome=True,
        label="image-label" in ome,
        zarr_format=int(array.metadata.zarr_format),
        name=metadata.get("name"),
        scale=tuple(float(v) for v in scale[-spatial:]),
        translation=tuple(float(v) for v in translation[-spatial:]),
    )


def _axes(location: str, axes: Any) -> list[dict]:
    if not axes:  # NGFF 0.3 and older: names only
        raise InputError(f"{location}: OME-Zarr metadata without axes (NGFF 0.4 or later needed)")
    axes = [a if isinstance(a, dict) else {"name": str(a)} for a in axes]
    names = [a["name"] for a in axes]
    spatial = [n for n in names if n in ("z", "y", "x")]
    if spatial not in (["y", "x"], ["z", "y", "x"]) or names[-len(spatial) :] != spatial:
        raise InputError(
            f"{location}: axes {names}: gswarp warps images whose last axes are [z,] y, x"
        )
    if any(n not in ("t", "c") for n in names[: -len(spatial)]):
        raise InputError(f"{location}: axes {names}: only t and c may precede the spatial axes")
    return axes


def _scale_translation(transforms: list[dict], n: int) -> tuple[np.ndarray, np.ndarray]:
    scale, translation = np.ones(n), np.zeros(n)
    for transform in transforms or []:
        if transform.get("type") == "scale" and "scale" in transform:
            scale = scale * np.asarray(transform["scale"], dtype=np.float64)
            translation = translation * np.asarray(transform["scale"], dtype=np.float64)
        elif transform.get("type") == "translation" and "translation" in transform:
            translation = translation + np.asarray(transform["translation"], dtype=np.float64)
    return scale, translation


def _then_global(group, scale, translation, n: int):
    """The multiscale's own transformations, applied after the dataset's."""
    attrs = dict(group.attrs)
    multiscales = attrs.get("ome", attrs).get("multiscales") or [{}]
    outer = multiscales[0].get("coordinateTransformations")
    if not outer:
        return scale, translation
    outer_scale, outer_translation = _scale_translation(outer, n)
    return scale * outer_scale, translation * outer_scale + outer_translation


# --------------------------------------------------------------------------------------------
# writing


@dataclass(frozen=True)
class ZarrTarget:
    """An output being written: the array that level 0 fills, and the pyramid's arrays.

    ``steps``: each pyramid level's factor per spatial axis over the level before
    (:func:`pyramid_steps`); ``levels``: ``(path, shape)`` of every level, 0 first.
    """

    url: str
    path: str
    shape: tuple[int, ...]
    dtype: np.dtype
    chunks: tuple[int, ...]
    axes: tuple[str, ...]
    ome: bool
    steps: tuple[tuple[int, ...], ...]
    levels: tuple[tuple[str, tuple[int, ...]], ...]


def grid_affine(scale: Sequence[float], translation: Sequence[float]) -> np.ndarray:
    """The (k+1, k+1) voxel ``(x, y[, z])`` -> world matrix of per-axis ``scale`` and
    ``translation`` given in ``[z,] y, x`` order."""
    k = len(scale)
    affine = np.eye(k + 1)
    affine[:k, :k] = np.diag(np.asarray(scale, dtype=np.float64)[::-1])
    affine[:k, k] = np.asarray(translation, dtype=np.float64)[::-1]
    return affine


def scale_translation(affine: np.ndarray, where: str) -> tuple[tuple[float, ...], ...]:
    """``(scale, translation)`` in ``[z,] y, x`` order of an axis-aligned voxel -> world matrix.

    Raises
    ------
    ShapeError
        The grid is rotated, sheared or flipped: OME-Zarr cannot describe it.
    """
    k = affine.shape[0] - 1
    linear = affine[:k, :k]
    diagonal = np.diag(linear)
    off = linear - np.diag(diagonal)
    if np.abs(off).max() > 1e-9 * np.abs(diagonal).max() or np.any(diagonal <= 0):
        raise ShapeError(
            f"{where}: the output grid is rotated, sheared or flipped; OME-Zarr (NGFF 0.4/0.5) "
            "describes only a scale and a translation per axis: write NIfTI, or keep the "
            "output grid axis-aligned (output: spacing / size, not like: an oblique image)"
        )
    return tuple(float(v) for v in diagonal[::-1]), tuple(float(v) for v in affine[:k, k][::-1])


def pyramid_steps(
    spatial_shape: Sequence[int],
    scale: Sequence[float],
    chunks: Sequence[int],
    levels: int | None,
) -> list[tuple[int, ...]]:
    """Each level's factor (1 or 2) per spatial axis over the level before, ``[z,] y, x``.

    An axis is halved while its voxels are less than twice as large as the smallest ones, so
    anisotropic volumes (microscopy's coarse z) become more isotropic level by level, and
    isotropic ones halve everywhere. ``levels`` None: until the coarsest level fits in one chunk
    along every axis (at most 8 levels).
    """
    shape = [int(n) for n in spatial_shape]
    size = [float(v) for v in scale]
    steps: list[tuple[int, ...]] = []
    limit = 8 if levels is None else levels
    while len(steps) + 1 < limit:
        if levels is None and all(n <= c for n, c in zip(shape, chunks, strict=True)):
            break
        smallest = min(size)
        step = tuple(
            2 if n > 1 and v < 2 * smallest * (1 - 1e-9) else 1
            for n, v in zip(shape, size, strict=True)
        )
        if all(f == 1 for f in step):
            break
        steps.append(step)
        shape = [-(-n // f) for n, f in zip(shape, step, strict=True)]
        size = [v * f for v, f in zip(size, step, strict=True)]
    return steps


def pyramid_shapes(
    shape: tuple[int, ...], steps: Sequence[tuple[int, ...]]
) -> list[tuple[int, ...]]:
    """Level shapes over all axes: level 0 ``shape``, each next one divided (rounding up) by its
    step along the spatial (last) axes."""
    shapes = [tuple(shape)]
    for step in steps:
        last = shapes[-1]
        k = len(step)
        head, tail = last[:-k], last[-k:]
        shapes.append((*head, *(-(-n // f) for n, f in zip(tail, step, strict=True))))
    return shapes


def create_target(
    location: str,
    source: ZarrSource,
    shape: tuple[int, ...],
    dtype: np.dtype,
    chunks: tuple[int, ...],
    *,
    steps: Sequence[tuple[int, ...]],
    compression: str,
    compress_level: int | None,
    fingerprint: dict,
    resume: bool,
    overwrite: bool,
) -> tuple[ZarrTarget, bool]:
    """Create the output (or, with ``resume``, reopen an unfinished one with the same
    fingerprint). Returns the target and whether it was reopened.

    Raises
    ------
    InputError
        The output exists (without ``overwrite``/``resume``), or it exists with another
        fingerprint (two runs' chunks are never mixed).
    """
    zarr = zarr_modules()
    fingerprint = json.loads(json.dumps(fingerprint))  # as stored: lists, not tuples
    steps = tuple(tuple(step) for step in steps) if source.ome else ()
    shapes = pyramid_shapes(shape, steps)
    paths = [str(i) for i in range(len(shapes))] if source.ome else [""]
    target = ZarrTarget(
        str(location),
        paths[0],
        tuple(shape),
        np.dtype(dtype),
        tuple(chunks),
        source.axes,
        source.ome,
        steps,
        tuple(zip(paths, shapes, strict=True)),
    )
    if _reopened(zarr, location, source, fingerprint, resume, overwrite):
        return target, True
    compressors = _compressors(compression, compress_level, source.zarr_format)
    marker = {MARKER: {"complete": False, "fingerprint": fingerprint}}
    if not source.ome:
        zarr.create_array(
            store=location,
            shape=shape,
            chunks=chunks,
            dtype=dtype,
            compressors=compressors,
            zarr_format=source.zarr_format,
            fill_value=0,
            overwrite=True,
            attributes=marker,
        )
        return target, False
    group = zarr.open_group(
        location, mode="w", zarr_format=source.zarr_format, attributes=marker
    )  # the marker in the group's first metadata: a gswarp output from its first byte
    for path, level_shape in target.levels:
        group.create_array(
            path,
            shape=level_shape,
            chunks=tuple(min(c, n) for c, n in zip(chunks, level_shape, strict=True)),
            dtype=dtype,
            compressors=compressors,
            fill_value=0,
        )
    return target, False


def _reopened(zarr, location: str, source, fingerprint: dict, resume: bool, overwrite: bool):
    """Whether an existing output is reopened (``resume`` and the same fingerprint); raises
    where the location may not be written (an input, not gswarp's, no ``overwrite``)."""
    check_not_an_input(location, source.url)
    state = target_state(location)
    if state == "other":
        raise InputError(
            f"{location}: exists and is not a gswarp output (it has no gswarp marker); gswarp "
            "never writes into or removes it, with or without --overwrite: choose another -o"
        )
    if state == "gswarp":
        if resume:
            _check_fingerprint(zarr, location, fingerprint)
            return True
        if not overwrite:
            raise InputError(
                f"{location}: exists (--overwrite replaces it; --skip-existing resumes an "
                "interrupted run)"
            )
    return False


def local_path(location: str | Path) -> Path | None:
    """The local path of a location (a path or a ``file://`` URL), resolved through symbolic
    links; None for other URLs (object stores, ``memory://``)."""
    text = str(location)
    if text.lower().startswith("file://"):
        from urllib.parse import unquote, urlparse

        text = unquote(urlparse(text).path)
    elif is_url(text):
        return None
    return Path(os.path.realpath(text))


def check_not_an_input(target: str, *sources: str) -> None:
    """Refuse an output location that is one of the inputs, lies inside one, or holds one:
    writing it would replace the input (the same path, through a symbolic link or a
    ``file://`` URL alike).

    Raises
    ------
    InputError
    """
    output = _comparable(target)
    for source in sources:
        source_key = _comparable(source)
        if type(output) is not type(source_key):
            continue  # a local path and a remote URL never overlap
        if output == source_key:
            relation = "is"
        elif _inside(output, source_key) or _inside(source_key, output):
            relation = "overlaps"
        else:
            continue
        raise InputError(
            f"{target}: {relation} the input {source}; an input is never replaced, even with "
            "--overwrite: choose another -o"
        )


def _comparable(location: str) -> Path | str:
    """A resolved local path, or a remote URL without its trailing slash."""
    path = local_path(location)
    return path if path is not None else str(location).rstrip("/")


def _inside(inner: Path | str, outer: Path | str) -> bool:
    if isinstance(inner, Path):
        return outer in inner.parents
    return inner.startswith(f"{outer}/")


def target_state(location: str) -> str:
    """What is at an output location: ``'absent'`` (nothing, or an empty folder), ``'gswarp'``
    (a Zarr node carrying gswarp's marker: an output of an earlier run) or ``'other'``
    (anything else: files, folders or a Zarr store gswarp did not write, never touched)."""
    path = local_path(location)
    if path is not None:
        if not os.path.lexists(path):
            return "absent"
        if path.is_dir() and not any(path.iterdir()):
            return "absent"
        if not path.is_dir():
            return "other"
    zarr = zarr_modules()
    try:
        node = zarr.open(str(location), mode="r")
    except Exception:  # not a Zarr node (zarr raises several types for that)
        return "other" if path is not None or not _store_is_empty(location) else "absent"
    return "gswarp" if isinstance(dict(node.attrs).get(MARKER), dict) else "other"


def _store_is_empty(location: str) -> bool:
    """Whether a remote location holds no key at all (zarr's store listing)."""
    from zarr.core.sync import sync
    from zarr.storage._common import make_store_path

    try:
        store_path = sync(make_store_path(str(location), mode="r"))
        return bool(sync(store_path.store.is_empty(store_path.path)))
    except Exception:  # an unreachable store: say it is not empty, so nothing is replaced
        return False


def _check_fingerprint(zarr, location: str, fingerprint: dict) -> None:
    recorded = (dict(zarr.open(location, mode="r").attrs).get(MARKER) or {}).get("fingerprint")
    if recorded == fingerprint:
        return
    if not isinstance(recorded, dict):
        why = "it records no fingerprint"
    elif recorded.get("input") != fingerprint.get("input"):
        before = recorded.get("input") or {}
        now = fingerprint["input"]
        if before.get("location") != now.get("location"):
            why = f"it was written from another input, {before.get('location', 'not recorded')}"
        else:
            why = "its input has changed since (its content digest differs)"
    else:
        differ = sorted(k for k in fingerprint if recorded.get(k) != fingerprint[k])
        why = f"it was written with another {', '.join(differ)} (another spec or options)"
    raise InputError(
        f"{location}: exists and {why}; --skip-existing never mixes two runs' chunks: remove it "
        "or use --overwrite"
    )


_SAMPLED_CHUNKS = 8
_SAMPLED_BYTES = 1 << 16


def input_identity(source: ZarrSource) -> dict[str, str]:
    """What a resumed output checks its input against: the input's location and a digest of
    its content that is cheap to compute.

    The digest covers the array's metadata and, for local inputs, every stored file's name,
    size and modification time (an edit or a replacement changes it, reading does not); for
    remote stores, the stored bytes of up to 8 chunks spread over the array. A volume file
    (``.nii``, ``.npy``, TIFF) gives its size, modification time and 64 KiB at 8 places.
    """
    digest = hashlib.sha256()
    path = local_path(source.url)
    if source.kind != "zarr":
        _digest_file(digest, Path(source.url))
    else:
        zarr = zarr_modules()
        array = zarr.open_array(source.url, path=source.path or None, mode="r")
        digest.update(json.dumps(array.metadata.to_dict(), sort_keys=True, default=str).encode())
        if path is not None:
            _digest_tree(digest, path / source.path if source.path else path)
        else:
            _digest_chunks(digest, array)
    location = str(path) if path is not None else source.url
    return {"location": location, "array": source.path, "content": digest.hexdigest()}


def _digest_file(digest, path: Path) -> None:
    status = path.stat()
    digest.update(f"{status.st_size} {status.st_mtime_ns}".encode())
    with path.open("rb") as stream:
        for index in range(_SAMPLED_CHUNKS):
            stream.seek(status.st_size * index // _SAMPLED_CHUNKS)
            digest.update(stream.read(_SAMPLED_BYTES))


def _digest_tree(digest, folder: Path) -> None:
    for root, folders, files in os.walk(folder):
        folders.sort()
        for name in sorted(files):
            status = os.stat(os.path.join(root, name))
            relative = os.path.relpath(os.path.join(root, name), folder)
            digest.update(f"{relative} {status.st_size} {status.st_mtime_ns}\n".encode())


def _digest_chunks(digest, array) -> None:
    from zarr.core.sync import sync

    grid = [max(1, -(-int(n) // int(c))) for n, c in zip(array.shape, array.chunks, strict=True)]
    total = int(np.prod(grid))
    for flat in sorted({total * i // _SAMPLED_CHUNKS for i in range(_SAMPLED_CHUNKS)}):
        coords = np.unravel_index(min(flat, total - 1), grid)
        key = array.metadata.encode_chunk_key(tuple(int(c) for c in coords))
        stored = sync((array.store_path / key).get())
        digest.update(key.encode() + b"=" + (b"" if stored is None else stored.to_bytes()))


def is_complete(location: str) -> bool:
    """Whether ``location`` holds an output whose gswarp run finished."""
    zarr = zarr_modules()
    try:
        node = zarr.open(location, mode="r")
    except Exception:
        return False
    return bool((dict(node.attrs).get(MARKER) or {}).get("complete"))


def _compressors(name: str, level: int | None, zarr_format: int):
    if name == "none":
        return None
    if zarr_format == 3:
        from zarr.codecs import GzipCodec, ZstdCodec

        if name == "gzip":
            return GzipCodec(level=6 if level is None else level)
        return ZstdCodec(level=3 if level is None else level)
    import numcodecs

    if name == "gzip":
        return numcodecs.GZip(level=6 if level is None else level)
    return numcodecs.Zstd(level=3 if level is None else level)


def chunk_written(array, coords: tuple[int, ...]) -> bool:
    """Whether the chunk at grid position ``coords`` is stored (an interrupted run wrote it)."""
    from zarr.core.sync import sync

    key = array.metadata.encode_chunk_key(tuple(int(c) for c in coords))
    return bool(sync((array.store_path / key).exists()))


def block_reduce(block: np.ndarray, step: Sequence[int], method: str) -> np.ndarray:
    """One pyramid step over the last ``len(step)`` axes, each divided by its factor (1 or 2):
    the mean of each block (``'mean'``; integers rounded half to even; a last odd row averages
    what it has), or the block's first voxel (``'nearest'``, for labels)."""
    k = len(step)
    if method == "nearest":
        return block[(Ellipsis, *[slice(None, None, f) for f in step])].copy()
    coarse = tuple(-(-n // f) for n, f in zip(block.shape[-k:], step, strict=True))
    total = np.zeros((*block.shape[:-k], *coarse), np.float64)
    count = np.zeros(coarse, np.float64)
    for offsets in itertools.product(*[range(f) for f in step]):
        part = block[(Ellipsis, *[slice(o, None, f) for o, f in zip(offsets, step, strict=True)])]
        region = tuple(slice(0, n) for n in part.shape[-k:])
        total[(Ellipsis, *region)] += part
        count[region] += 1
    mean = total / count
    if np.dtype(block.dtype).kind in "iu":
        info = np.iinfo(block.dtype)
        mean = np.clip(np.rint(mean), info.min, info.max)
    return mean.astype(block.dtype)


def level_transforms(
    scale: Sequence[float],
    translation: Sequence[float],
    n_axes: int,
    steps: Sequence[tuple[int, ...]],
    method: str,
) -> list[list[dict]]:
    """Each level's NGFF ``coordinateTransformations`` (scale, translation over every axis;
    leading axes 1 and 0): a mean block's centre is the mean of its voxels' centres, a nearest
    pick keeps the first voxel's."""
    scale0 = np.asarray(scale, dtype=np.float64)
    shift0 = np.asarray(translation, dtype=np.float64)
    lead = n_axes - len(scale0)
    factor = np.ones(len(scale0))
    result = []
    for step in [None, *steps]:
        if step is not None:
            factor = factor * np.asarray(step)
        shift = shift0 + (0.0 if method == "nearest" else (factor - 1) / 2) * scale0
        result.append(
            [
                {"type": "scale", "scale": [1.0] * lead + [float(v) for v in scale0 * factor]},
                {"type": "translation", "translation": [0.0] * lead + [float(v) for v in shift]},
            ]
        )
    return result


def finish_target(
    target: ZarrTarget,
    source: ZarrSource,
    scale: Sequence[float],
    translation: Sequence[float],
    method: str,
) -> None:
    """Write the OME-Zarr multiscales metadata (ome-zarr-py) and mark the output complete."""
    zarr = zarr_modules()
    node = zarr.open(target.url, mode="r+")
    marker = dict(dict(node.attrs).get(MARKER) or {})
    marker["complete"] = True
    if target.ome:
        from ome_zarr.format import FormatV04, FormatV05
        from ome_zarr.writer import write_multiscales_metadata

        transforms = level_transforms(scale, translation, len(target.axes), target.steps, method)
        datasets = [
            {"path": path, "coordinateTransformations": t}
            for (path, _), t in zip(target.levels, transforms, strict=True)
        ]
        units = dict(zip(target.axes[-source.spatial :], source.units, strict=True))
        axes = []
        for axis in target.axes:
            entry = {"name": axis, "type": {"t": "time", "c": "channel"}.get(axis, "space")}
            if units.get(axis):
                entry["unit"] = units[axis]
            axes.append(entry)
        fmt = FormatV05() if source.zarr_format == 3 else FormatV04()
        write_multiscales_metadata(node, datasets, fmt=fmt, axes=axes, name=source.name or "image")
        if source.label:
            _copy_label_metadata(zarr, source, node)
    node.attrs[MARKER] = marker


def _copy_label_metadata(zarr, source: ZarrSource, node) -> None:
    """A label image stays one: its ``image-label`` metadata (colours, properties) is kept."""
    attrs = dict(zarr.open(source.url, mode="r").attrs)
    if "ome" in attrs:
        ome = dict(node.attrs.get("ome", {}))
        ome["image-label"] = attrs["ome"]["image-label"]
        node.attrs["ome"] = ome
    else:
        node.attrs["image-label"] = attrs["image-label"]
