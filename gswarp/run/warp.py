"""Spec + image -> warped image: resolve the plan, convert dtypes, run the engine, keep metadata.

The functions here know nothing of the command line; ``gswarp apply`` calls :func:`warp_file`
once per file.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import BinaryIO

import numpy as np

from gswarp.engine import warp_affine
from gswarp.engine.device import cupy_module
from gswarp.engine.tiles import FieldStep, filter_chain, sample_chain
from gswarp.errors import GswarpError, InputError, SpecError
from gswarp.io.formats import VOLUME_SUFFIXES, image_format, is_nifti
from gswarp.io.images import (
    Encoding,
    ImageFile,
    ignored_settings,
    read_image,
    write_image,
)
from gswarp.io.volumes import read_volume, write_volume
from gswarp.plan import Plan, resolve, size_text
from gswarp.run.sources import FILES
from gswarp.sampling import Filter, Mode
from gswarp.spec import WarpSpec

__all__ = [
    "Notify",
    "convert_values",
    "values_rule",
    "warp_file",
    "warp_pixels",
    "warp_volume_file",
]

_ENGINE_LOCK = threading.Lock()
"""Kernels already use every kernel thread (the compiled engine's pool runs one launch at a
time); one at a time is as fast, and the GPU's launches go one after another on CuPy's stream
anyway."""


Notify = Callable[[str, str], None]
"""``notify(key, message)``: a remark about one file that a caller may show once per ``key``
(value conversions that rescale or clip)."""

PHOTO_DTYPES = (np.dtype(np.uint8), np.dtype(np.uint16))


def values_rule(values: str, dtype: np.dtype, photo: bool) -> str:
    """The conversion rule ``output.values`` means for an input of ``dtype``.

    "auto" (the default) is "scale" for 8- and 16-bit photos (image files read by Pillow) and
    "keep" for everything else: volumes, ``.npy`` arrays, TIFF stacks and float or 32-bit images
    hold measurements, whose numbers must not change with their dtype.

    >>> values_rule("auto", np.dtype(np.uint16), photo=True)
    'scale'
    >>> values_rule("auto", np.dtype(np.int16), photo=False)
    'keep'
    """
    if values != "auto":
        return values
    return "scale" if photo and np.dtype(dtype) in PHOTO_DTYPES else "keep"


def photo_fill(fill: tuple[float, ...], channels: int, dtype: np.dtype) -> tuple[float, ...]:
    """A gray (1), gray+alpha (2), RGB (3) or RGBA (4) ``fill`` for a photo of another channel
    count, so that one spec fills a folder of mixed images: colour becomes gray by its luminance
    (0.299 R + 0.587 G + 0.114 B, as Pillow's ``convert("L")``), gray becomes colour by repeating
    it, a missing alpha is opaque (the dtype's maximum) and an alpha the image lacks is dropped.
    Other counts are returned as they are (and refused by the caller).

    >>> photo_fill((10.0, 20.0, 30.0), 4, np.dtype(np.uint8))
    (10.0, 20.0, 30.0, 255.0)
    >>> photo_fill((100.0, 0.0, 0.0, 128.0), 1, np.dtype(np.uint8))
    (29.9,)
    """
    if len(fill) not in (2, 3, 4) or channels not in (1, 2, 3, 4):
        return fill
    opaque = float(np.iinfo(dtype).max) if np.dtype(dtype).kind in "iu" else 1.0
    colour = fill[:3] if len(fill) >= 3 else (fill[0],) * 3
    alpha = fill[-1] if len(fill) in (2, 4) else opaque
    if channels >= 3:
        return tuple(float(v) for v in colour) + ((float(alpha),) if channels == 4 else ())
    gray = 0.299 * colour[0] + 0.587 * colour[1] + 0.114 * colour[2]
    return (round(gray, 6),) + ((float(alpha),) if channels == 2 else ())


def warp_pixels(
    pixels: np.ndarray,
    plan: Plan,
    device: str = "cpu",
    *,
    photo: bool = False,
    name: str = "<array>",
    notify: Notify | None = None,
) -> np.ndarray:
    """Warp an image or volume array as ``plan`` says.

    Parameters
    ----------
    pixels : ndarray, shape (H, W[, C]) or (D, H, W[, C])
        Spatial axes as in ``plan.input_size`` (z, y, x order), then optionally channels; any
        dtype the engine takes.
    plan : Plan
        From :func:`gswarp.plan.resolve` for ``pixels``' spatial size.
    device : {'cpu', 'cuda'}
        Where the kernels run: 'cuda' copies the pixels to the GPU (CuPy), warps them there
        and copies the result back.
    photo : bool
        The pixels come from an image file (Pillow): ``output.values: auto`` then scales 8/16-bit
        ranges (see :func:`values_rule`).
    name, notify
        The input's name, and where to report a dtype conversion that rescales or clips values.

    Returns
    -------
    ndarray, shape (*plan.output_size[, C]), of the spec's output dtype.
    """
    k = len(plan.input_size)
    has_channels = pixels.ndim == k + 1
    last = pixels if has_channels else pixels[..., None]  # channels last
    channels = last.shape[-1]
    sampling = plan.spec.sampling
    output = plan.spec.output
    fill_values = sampling.fill
    if photo and len(fill_values) not in (1, channels):
        fill_values = photo_fill(fill_values, channels, last.dtype)
    if len(fill_values) not in (1, channels):
        raise SpecError(
            f"sampling.fill: expected 1 value or {channels} (one per channel of this "
            f"{channels}-channel input), got {len(fill_values)}"
        )
    target = last.dtype if output.dtype == "same" else np.dtype(output.dtype)
    fill = np.asarray(fill_values, dtype=np.float64)
    if sampling.labels:
        voted = _vote_labels(last, plan, fill, device)
        voted = voted if voted.dtype == target else convert_values(voted, target, "keep")
        return voted if has_channels else voted[..., 0]
    source_dtype = last.dtype
    if target != last.dtype:
        last, factor = _to_work_values(last, target, values_rule(output.values, last.dtype, photo))
        fill = fill * factor
        if factor != 1 and notify is not None:
            notify(
                f"scale {source_dtype} {target}",
                f"{name}: {source_dtype} -> {target} multiplies values by {factor:.6g} "
                "(output.values: scale maps full ranges; 'values: keep' keeps the numbers)",
            )
    result = np.empty((*plan.output_size, channels), dtype=last.dtype)
    stats = _run_engine(last, result, plan, fill, device)
    if stats.get("outside") and notify is not None:
        notify(
            f"outside field {name}",
            f"{name}: {stats['outside']} of {int(np.prod(plan.output_size))} output points lie "
            "past the displacement field's grid: no displacement there (ITK's rule, as "
            "sitk.Resample and antsApplyTransforms)",
        )
    if result.dtype != target:
        if notify is not None:
            _report_clipping(result, source_dtype, target, name, notify)
        result = convert_values(result, target, "keep")
    return result if has_channels else result[..., 0]


def _vote_labels(last: np.ndarray, plan: Plan, fill: np.ndarray, device: str) -> np.ndarray:
    """A label map (spatial..., C) warped label by label: each label's indicator interpolated
    with the spec's mode, the largest value's label kept (the smallest label on a tie, the
    fill where every indicator is 0 -- ITK's ``LabelImageGenericInterpolateImageFunction``)."""
    channels = last.shape[-1]
    shape = (*plan.output_size, channels)
    result = np.empty(shape, dtype=last.dtype)
    if plan.spec.sampling.mode.is_filter:  # ITK's interpolators vote in the kernel
        _run_engine(last, result, plan, fill, device)
        return result
    if plan.spec.sampling.mode == Mode.BILINEAR:  # ITK's linear weights, one pass
        _linear_votes(last, result, plan, fill)
        return result
    result[...] = fill.astype(last.dtype) if fill.size == channels else fill[0]
    best = np.zeros(shape, dtype=np.float32)
    votes = np.empty(shape, dtype=np.float32)
    zero = np.zeros(1)
    for label in np.unique(last):
        indicator = (last == label).astype(np.float32)
        _run_engine(indicator, votes, plan, zero, device)
        better = votes > best
        result[better] = label
        np.maximum(best, votes, out=best)
    return result


def _linear_votes(last: np.ndarray, result: np.ndarray, plan: Plan, fill: np.ndarray) -> None:
    """A label map (spatial..., C) voted with ITK's linear weights in one kernel pass: each
    label's summed weight over the 2^k neighbours, the largest kept, the smallest label on a
    tie -- ``LabelImageGenericInterpolateImageFunction`` with ``LinearInterpolateImageFunction``
    (antsApplyTransforms' ``GenericLabel[Linear]``), its field of view and clamped edges."""
    _run_filter(last, result, plan, fill, Filter("linear"), labels=True)


def _run_filter(last, result, plan: Plan, fill, filter: Filter, labels: bool) -> dict:
    """``last`` (spatial..., C) into ``result`` with one of ITK's interpolators, on the CPU
    (:mod:`gswarp.engine.filters`); the chain's statistics."""
    sampling = plan.spec.sampling
    stats: dict = {}
    with _ENGINE_LOCK:
        filter_chain(
            np.moveaxis(last, -1, 0)[None],  # (1, C, *spatial) views: no copies
            plan.chain,
            (1, last.shape[-1], *plan.output_size),
            filter,
            sampling.padding,
            sampling.align_corners,
            fill=fill,
            out=np.moveaxis(result, -1, 0)[None],
            labels=labels,
            stats=stats,
        )
    return stats


def _to_work_values(last: np.ndarray, target: np.dtype, rule: str) -> tuple[np.ndarray, float]:
    """``last`` in the dtype the warp computes in for output dtype ``target``, multiplied by
    the conversion's factor (``rule``: :func:`values_rule`'s), and the factor."""
    work = _work_dtype(last.dtype, target)
    factor = _value_factor(last.dtype, target, rule)
    return (last.astype(work) * work.type(factor) if factor != 1 else last.astype(work)), factor


def _run_engine(last: np.ndarray, result: np.ndarray, plan: Plan, fill, device: str) -> dict:
    """Warp ``last`` (spatial..., C) into ``result`` (output spatial..., C) by the plan's
    matrix or chain, on the CPU or the GPU; returns the chain's statistics (points past a
    displacement field's grid)."""
    k = len(plan.input_size)
    sampling = plan.spec.sampling
    filter = sampling.filter(plan.spacing)
    if filter is not None:  # ITK's interpolators: on the CPU
        return _run_filter(last, result, plan, fill, filter, sampling.labels)
    channels = last.shape[-1]
    source = np.moveaxis(last, -1, 0)[None]  # (1, C, *spatial) views: no copies
    destination = np.moveaxis(result, -1, 0)[None]
    stats: dict = {}
    extra = {} if plan.steps is None else {"stats": stats}
    with _ENGINE_LOCK:
        if device == "cuda":
            xp = cupy_module()
            source = xp.asarray(source)
            destination = xp.empty(destination.shape, dtype=destination.dtype)
        (warp_affine if plan.steps is None else sample_chain)(
            source,
            plan.sampling_matrix if plan.steps is None else plan.steps,
            (1, channels, *plan.output_size),
            sampling.mode,
            sampling.padding,
            sampling.align_corners,
            fill=fill.tolist() if fill.size > 1 else float(fill[0]),
            out=destination,
            antialias=sampling.antialias_for(k, _through_field(plan)),
            **extra,
        )
        if device == "cuda":
            np.moveaxis(result, -1, 0)[None][...] = destination.get()
    return stats


def _through_field(plan: Plan) -> bool:
    """Whether the plan's map goes through a flow or elastic field."""
    return plan.steps is not None and any(isinstance(s, FieldStep) for s in plan.steps)


def _report_clipping(
    values: np.ndarray, source: np.dtype, target: np.dtype, name: str, notify: Notify
) -> None:
    if target.kind not in "iu":
        return
    info = np.iinfo(target)
    clipped = int(np.count_nonzero((values < info.min - 0.5) | (values > info.max + 0.5)))
    if clipped:
        notify(
            f"clip {source} {target}",
            f"{name}: {source} -> {target} clipped {clipped} values to {target}'s range "
            f"{info.min}..{info.max}",
        )


def convert_values(values: np.ndarray, dtype: np.dtype, rule: str = "scale") -> np.ndarray:
    """Cast ``values`` to ``dtype``: ``rule`` "scale" maps integer ranges onto each other and
    integers onto floats in [0, 1] (uint8 255 -> uint16 65535 -> float 1.0); "keep" keeps the
    values. Integers are rounded half to even and clipped to the target's range.

    >>> convert_values(np.array([0, 128, 255], np.uint8), np.dtype(np.uint16)).tolist()
    [0, 32896, 65535]
    """
    dtype = np.dtype(dtype)
    factor = _value_factor(values.dtype, dtype, rule)
    if factor != 1:
        values = values * factor
    if dtype.kind in "iub":
        info = np.iinfo(dtype)
        values = np.clip(np.rint(values), info.min, info.max)
    return values.astype(dtype)


def _value_factor(source: np.dtype, target: np.dtype, rule: str) -> float:
    if rule == "keep":
        return 1.0
    return _full_scale(target) / _full_scale(source)


def _full_scale(dtype: np.dtype) -> float:
    return float(np.iinfo(dtype).max) if dtype.kind in "iu" else 1.0


def _work_dtype(source: np.dtype, target: np.dtype) -> np.dtype:
    """float64 where float32 would round values (32-bit integers, float64), else float32."""
    wide = any((d.itemsize >= 4 and d.kind in "iu") or d == np.float64 for d in (source, target))
    return np.dtype(np.float64 if wide else np.float32)


def warp_file(
    spec: WarpSpec,
    source: Path,
    target: Path,
    *,
    format: str | None = None,
    overwrite: bool = False,
    cancelled: threading.Event | None = None,
    encoding: Encoding | None = None,
    expect_size: tuple[int, ...] | None = None,
    device: str = "cpu",
    notify: Notify | None = None,
) -> Plan:
    """Read ``source``, warp it, write ``target`` atomically (temporary file, then rename).

    ``expect_size``: the (H, W) the image must have (a paired target must line up with its
    image). Returns the plan used. Raises :class:`~gswarp.errors.InputError` for unreadable
    inputs, a wrong size and unwritable outputs, :class:`~gswarp.errors.SpecError` when the
    spec does not fit the image.
    """
    image: ImageFile = read_image(source)
    _check_size(source, image.pixels.shape[:2], expect_size)
    plan = resolve(spec, image.pixels.shape[:2], sources=FILES)
    warped = warp_pixels(image.pixels, plan, device, photo=True, name=str(source), notify=notify)
    encoding = encoding or Encoding()
    write_image(
        target,
        warped,
        image.meta,
        format=format,
        overwrite=overwrite,
        cancelled=cancelled,
        encoding=encoding,
    )
    written_format = format or image_format(target)
    if written_format is not None:
        _notify_ignored(notify, target, encoding, written_format)
    return plan


def _check_size(source: Path, size: tuple[int, ...], expected: tuple[int, ...] | None) -> None:
    if expected is not None and tuple(size) != tuple(expected):
        found, wanted = size_text(size), size_text(expected)
        raise InputError(
            f"{source}: is {found}, but the file it is paired with is {wanted}; paired files "
            "must have the same size"
        )


def warp_volume_file(
    spec: WarpSpec,
    source: Path,
    target: Path,
    *,
    overwrite: bool = False,
    cancelled: threading.Event | None = None,
    expect_size: tuple[int, ...] | None = None,
    device: str = "cpu",
    notify: Notify | None = None,
    encoding: Encoding | None = None,
) -> Plan:
    """Read a volume (``.npy``, NIfTI, TIFF stack), warp it, write ``target`` atomically.

    ``expect_size``: the (D, H, W) the volume must have (see :func:`warp_file`).
    ``encoding.compress_level`` sets a ``.nii.gz``'s zlib level (other settings and formats:
    ignored, said once through ``notify``).

    A NIfTI output keeps the input's header (dtype, scaling, units, intent) with sform and
    qform describing the output grid. When the spec changes the dtype of a NIfTI that stores
    scaled values (``scl_slope``/``scl_inter``), the real values ``stored * slope + inter`` are
    warped and written in the new dtype (rounded and clipped for integers), without scaling.
    """
    volume = read_volume(source)
    _check_size(source, volume.voxels.shape[:3], expect_size)
    plan = resolve(spec, volume.voxels.shape[:3], volume.meta.affine, FILES)
    voxels, meta = _unscaled_for_new_dtype(volume.voxels, volume.meta, spec)
    if voxels is not volume.voxels:  # real values already: convert them as they are
        plan = replace(plan, spec=replace(spec, output=replace(spec.output, values="keep")))
    warped = warp_pixels(voxels, plan, device, name=str(source), notify=notify)
    encoding = encoding or Encoding()
    write_volume(
        target,
        warped,
        meta,
        sampling_matrix=plan.frame,
        overwrite=overwrite,
        cancelled=cancelled,
        compress_level=encoding.compress_level,
        xform_codes=_reference_codes(plan.spec),
    )
    _notify_ignored(notify, target, encoding, _volume_label(target))
    return plan


def _volume_label(target: Path) -> str:
    """How messages name a volume file's format: its suffix (the longest that fits), or TIFF."""
    name = Path(target).name.lower()
    fitting = [suffix for suffix in VOLUME_SUFFIXES if name.endswith(suffix)]
    return max(fitting, key=len) if fitting else "TIFF"


def _notify_ignored(notify: Notify | None, target: Path, encoding: Encoding, label: str) -> None:
    """Say (once per run, through ``notify``) which encoder settings the written format
    ignores."""
    if notify is None:
        return
    for setting in ignored_settings(encoding, label):
        notify(f"ignored {setting} {label}", f"{target}: {label} ignores {setting}")


def _reference_codes(spec: WarpSpec) -> tuple[int, int] | None:
    """The qform/sform codes of the output grid's reference NIfTI (``output: {like: REF}``,
    ``-r REF``), which the output takes as antsApplyTransforms writes it; None without one."""
    size = spec.output.size
    if isinstance(size, tuple) and size[0] == "like" and is_nifti(size[1]):
        from gswarp.io.volumes import nifti_codes

        return nifti_codes(Path(size[1]))
    return None


def _unscaled_for_new_dtype(voxels: np.ndarray, meta, spec: WarpSpec):
    """(voxels, meta): a scaled NIfTI whose dtype the spec changes gives its real values (float64)
    and a header without scaling; anything else is returned as it is."""
    header = meta.header
    if spec.output.dtype == "same" or header is None:
        return voxels, meta
    slope, inter = header.get_slope_inter()
    if slope is None or (slope, inter or 0.0) == (1.0, 0.0):
        return voxels, meta
    header = header.copy()
    header.set_slope_inter(1.0, 0.0)
    return voxels * np.float64(slope) + np.float64(inter or 0.0), replace(meta, header=header)


def warp_image_stream(
    spec: WarpSpec,
    source: BinaryIO,
    target: Path | BinaryIO,
    *,
    seed: int | None = None,
    format: str | None = None,
    encoding: Encoding | None = None,
    overwrite: bool = False,
    device: str = "cpu",
    notify: Notify | None = None,
) -> None:
    """Warp one image read from the stream ``source`` (``gswarp apply --stdin-image``) into the
    file ``target`` (atomically), or encode it onto the stream ``target``. A random spec is drawn
    with ``seed`` (default 0) and the key ``-``. ``format``: a Pillow format name (default:
    the target's suffix, or on a stream the input's format).

    Raises
    ------
    GswarpError
        Not an image Pillow reads, the spec does not fit it, no output format is known (a
        stream target needs ``options.format`` or the input's format).
    """
    from gswarp.io.images import encode_image
    from gswarp.spec.augment import draw

    if spec.is_random:
        spec = draw(spec, seed or 0, "-").spec
    image = read_image(source, name="<stdin>")
    plan = resolve(spec, image.pixels.shape[:2], sources=FILES)
    warped = warp_pixels(image.pixels, plan, device, photo=True, name="<stdin>", notify=notify)
    if not isinstance(target, Path):
        pillow_format = format or image.meta.format
        if pillow_format is None:
            raise GswarpError("<stdin>: cannot tell the output format; give --format")
        target.write(encode_image(warped, image.meta, pillow_format, "<stdout>", encoding))
        target.flush()
        return
    write_image(target, warped, image.meta, format=format, overwrite=overwrite, encoding=encoding)
