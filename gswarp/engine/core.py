"""The compiled CPU engine (``_gswarp_core``, C++ in ``src/``; ``docs/engine.md``).

Every CPU kernel is here: the per-point math of ``src/gswarp_core/pointwise.hpp`` (C++17 that
also compiles as CUDA), the sampling kernels (explicit grid, pixel coordinates, fused affine,
flow chains, windows), antialiased footprints, the backward passes, ``affine_grid`` and the
registration metrics' loops. The callers in :mod:`gswarp.engine.api` and
:mod:`gswarp.autodiff` check and prepare the arguments; these wrappers hand them over.
``tests/test_core.py`` holds the results to the bytes of the numba engine this replaced
(issue 28).
"""

from __future__ import annotations

import os

import numpy as np

__all__ = [
    "ANTIALIAS_SOURCES",
    "affine_grid",
    "affine_sample",
    "antialias",
    "antialias_frames",
    "antialias_parts",
    "available",
    "backward_coordinates",
    "backward_input",
    "bspline_prefilter",
    "field_array",
    "filter_points",
    "flow_sample",
    "get_num_threads",
    "grid_sample",
    "level",
    "levels",
    "metric_loops",
    "set_level",
    "set_num_threads",
]


class _Missing:
    """Stands for an extension that is not there: any use says so in one line."""

    def __init__(self, reason: str) -> None:
        self.reason = reason

    def __getattr__(self, name: str):
        from gswarp.errors import BackendError

        raise BackendError(
            f"gswarp's compiled engine (_gswarp_core) is not usable: {self.reason}; "
            "reinstall with: pip install ."
        )


def _load():
    """The extension: the installed one, or the file ``GSWARP_CORE_LIBRARY`` names (a debug
    or sanitizer build, ``docs/engine.md``); a :class:`_Missing` when neither loads."""
    path = os.environ.get("GSWARP_CORE_LIBRARY")
    if path:
        import importlib.util

        spec = importlib.util.spec_from_file_location("_gswarp_core", path)
        if spec is None or spec.loader is None:
            return _Missing(f"GSWARP_CORE_LIBRARY={path} is not a loadable module")
        try:
            module = importlib.util.module_from_spec(spec)
            spec.loader.exec_module(module)
        except (ImportError, OSError) as error:  # not there, or not a module for this Python
            return _Missing(f"GSWARP_CORE_LIBRARY={path}: {error}")
        return module
    try:
        import _gswarp_core
    except ImportError as error:  # a source tree without its build, or a broken install
        return _Missing(str(error))
    return _gswarp_core


_core = _load()
if not isinstance(_core, _Missing):
    from gswarp.cores import default_threads

    _core.set_num_threads(default_threads())


def available() -> bool:
    """Whether the compiled engine is installed and loads (``pip install .`` builds it)."""
    return not isinstance(_core, _Missing)


def set_num_threads(count: int) -> None:
    """Threads of the compiled kernels' pool (the calling thread included)."""
    _core.set_num_threads(int(count))


def get_num_threads() -> int:
    """Threads of the compiled kernels' pool."""
    return int(_core.get_num_threads())


def levels() -> list[str]:
    """The instruction-set levels of this build that this CPU runs, lowest first
    (``baseline``, ``x86-64-v3``, ``x86-64-v4`` on x86-64; ``docs/engine.md``)."""
    return list(_core.supported_levels())


def level() -> str:
    """The instruction-set level the kernels run at (the widest, unless capped by
    ``GSWARP_CPU_LEVEL`` or :func:`set_level`)."""
    return str(_core.get_level())


def set_level(name: str) -> None:
    """Run the kernels at the widest supported level at or below ``name`` (every level gives
    the same bits; the tests compare them). ValueError for a name no level has."""
    _core.set_level(name)


def grid_sample(
    inp: np.ndarray,
    grid: np.ndarray,
    out: np.ndarray,
    mode: int,
    padding: int,
    align_corners: bool,
    pixels: bool,
    fill_compute: np.ndarray,
    fill_native: np.ndarray,
    start: int,
    stop: int,
) -> None:
    """Rows ``start:stop`` of the flattened (batch, [depth,] row) output of ``grid_sample``.

    ``inp`` (N, C, H, W) and ``out`` (N, C, Ho, Wo) of one dtype (int8..uint64, float32/64),
    ``grid`` (N, Ho, Wo, 2) float32/64 -- or (N, C, D, H, W), (N, C, Do, Ho, Wo) and
    (N, Do, Ho, Wo, 3) -- normalized (``pixels`` False) or pixel coordinates;
    ``fill_compute`` the per-channel fill in the compute dtype (float32 or float64, which it
    names), ``fill_native`` in the input's dtype. Arrays native-order and aligned, any strides.
    """
    _core.grid_sample(
        inp,
        grid,
        out,
        int(mode),
        int(padding),
        bool(align_corners),
        bool(pixels),
        fill_compute,
        fill_native,
        int(start),
        int(stop),
    )


def affine_sample(
    inp: np.ndarray,
    matrix: np.ndarray,
    out: np.ndarray,
    mode: int,
    padding: int,
    align_corners: bool,
    fill_compute: np.ndarray,
    fill_native: np.ndarray,
    start: int,
    stop: int,
    origin: np.ndarray,
    shift: np.ndarray,
) -> None:
    """Rows ``start:stop`` of the fused affine sample (``gswarp.engine.api.affine_sample``'s
    kernel): ``matrix`` (N, 2, 3) / (N, 3, 4) float64 maps output pixel ``(x, y[, z], 1)`` to
    input pixel coordinates; ``origin`` and ``shift`` (int64 ``(x, y[, z])``) place the output
    part and the input window in the whole output and input (zeros: whole arrays). Other
    arguments as :func:`grid_sample`."""
    _core.affine_sample(
        inp,
        matrix,
        out,
        int(mode),
        int(padding),
        bool(align_corners),
        fill_compute,
        fill_native,
        int(start),
        int(stop),
        np.ascontiguousarray(origin, dtype=np.int64),
        np.ascontiguousarray(shift, dtype=np.int64),
    )


def affine_grid(theta: np.ndarray, grid: np.ndarray, align_corners: bool) -> None:
    """Fill ``grid`` (N, H, W, 2) / (N, D, H, W, 3) with torch's ``affine_grid(theta)``
    (``theta`` (N, k, k + 1), both of one float dtype, the compute type)."""
    rows = grid.shape[0] * int(np.prod(grid.shape[1:-2]))
    _core.affine_grid(theta, grid, bool(align_corners), 0, rows)


def flow_sample(
    inp: np.ndarray,
    field: np.ndarray,
    out: np.ndarray,
    mode: int,
    padding: int,
    align_corners: bool,
    fill_compute: np.ndarray,
    fill_native: np.ndarray,
    start: int,
    stop: int,
    maps: np.ndarray,
    absolute: bool,
    direct: bool,
    separable: bool,
    origin: np.ndarray,
    shift: np.ndarray,
) -> None:
    """Rows ``start:stop`` of one flow field between matrices (``sample_field``'s kernel):
    ``field`` (H_f, W_f, 2) / (D_f, H_f, W_f, 3) float64, ``maps`` (3, k, k + 1) float64 (A:
    output -> frame, B: frame -> field, C: frame -> input), ``absolute`` fields hold
    coordinates, ``direct``: read the field at each output pixel, ``separable``: A and B are
    diagonal; ``origin``/``shift`` place a window. Other arguments as :func:`grid_sample`."""
    _core.flow_sample(
        inp,
        field_array(field),
        np.ascontiguousarray(maps, dtype=np.float64),
        out,
        int(mode),
        int(padding),
        bool(align_corners),
        fill_compute,
        fill_native,
        int(start),
        int(stop),
        bool(absolute),
        bool(direct),
        bool(separable),
        np.ascontiguousarray(origin, dtype=np.int64),
        np.ascontiguousarray(shift, dtype=np.int64),
    )


ANTIALIAS_SOURCES = {"affine": 0, "pixels": 1, "flow": 2}
"""An antialiasing source's code (``kernels.hpp``'s ``AntialiasSource``)."""

_NOTHING = np.zeros(1)


def antialias_parts(source_kind: str, rest: tuple) -> tuple:
    """``(frames, shrinks, maps, top, support, cap, absolute, separable)`` of an antialiasing
    source's arguments ``rest`` (as :func:`antialias` takes them; the CPU and the CUDA
    kernels take the same struct): the arrays contiguous float64 (``shrinks`` uint8), a
    one-value placeholder where the source has none."""
    frames = shrinks = maps = _NOTHING
    top, support, cap, absolute, separable = 0, 1.0, 1.0, False, False
    if source_kind == "affine":
        frames = np.ascontiguousarray(rest[0], dtype=np.float64)
        shrinks = np.ascontiguousarray(rest[1], dtype=np.bool_).view(np.uint8)
    elif source_kind == "pixels":
        top, support, cap = rest
    else:
        maps, absolute, separable, support, cap = rest
        maps = np.ascontiguousarray(maps, dtype=np.float64)
    scalars = (int(top), float(support), float(cap), bool(absolute), bool(separable))
    return (frames, shrinks, maps, *scalars)


def antialias(
    source_kind: str,
    inp: np.ndarray,
    source: np.ndarray,
    out: np.ndarray,
    mode: int,
    padding: int,
    align_corners: bool,
    fill_compute: np.ndarray,
    fill_native: np.ndarray,
    start: int,
    stop: int,
    rest: tuple,
) -> None:
    """Rows ``start:stop`` of an antialiased sample (``src/gswarp_core/antialias.hpp``).

    ``source_kind`` 'affine': ``source`` float64 matrices (N, k, k + 1), ``rest`` ``(frames,
    shrinks)`` per batch item (:func:`antialias_frames`; items that do not shrink are left for
    the caller to point-sample); 'pixels': float64 coordinates (N, *spatial_c, k), ``rest``
    ``(top, support, cap)``; 'flow': a float64 field, ``rest`` ``(maps, absolute, separable,
    support, cap)``. Other arguments as :func:`grid_sample`; ``mode`` point-samples the points
    whose map does not shrink.
    """
    frames, shrinks, maps, *scalars = antialias_parts(source_kind, rest)
    if source_kind == "flow":
        source = field_array(source)
    _core.antialias(
        inp, source, out, int(mode), int(padding), bool(align_corners), fill_compute,
        fill_native, int(start), int(stop), ANTIALIAS_SOURCES[source_kind], frames, shrinks,
        maps, *scalars,
    )  # fmt: skip


def antialias_frames(
    jacobians: np.ndarray, support: float, cap: float
) -> tuple[np.ndarray, np.ndarray]:
    """(frames (M, 9 | 19) float64, shrinks (M,) bool) of Jacobians (M, k, k) float64: see
    :func:`gswarp.engine.antialias.footprint_frames`."""
    k = jacobians.shape[-1]
    frames = np.zeros((jacobians.shape[0], 9 if k == 2 else 19))
    shrinks = np.zeros(jacobians.shape[0], dtype=np.uint8)
    _core.antialias_frames(
        np.ascontiguousarray(jacobians, dtype=np.float64), float(support), float(cap), frames,
        shrinks,
    )  # fmt: skip
    return frames, shrinks.view(np.bool_)


def backward_coordinates(
    grad_output: np.ndarray,
    inp: np.ndarray,
    source: np.ndarray,
    target: np.ndarray,
    mode: int,
    padding: int,
    align_corners: bool,
    fill: np.ndarray,
    affine: bool,
    channel_inner: bool,
) -> None:
    """The coordinate gradient of a backward pass (``src/gswarp_core/backward.hpp``):
    ``grad_output`` (N, C, *out) and ``inp`` (N, C, *in) of one float dtype, ``fill`` (C,) of
    it. ``source`` a normalized grid (N, *out, k) of that dtype, ``target`` its gradient of the
    same shape; or (``affine``) float64 pixel-space matrices (N, k, k + 1) and ``target``
    float64 (N * prod(out[:-1]), k, k + 1), each output row's share of the matrix gradient.
    ``channel_inner``: a 2-D grid's gradient takes all of a point's channels at once, else one
    channel plane at a time (the same bits)."""
    _core.backward_coordinates(
        grad_output, inp, source, target, int(mode), int(padding), bool(align_corners), fill,
        bool(affine), bool(channel_inner),
    )  # fmt: skip


def backward_input(
    grad_output: np.ndarray,
    inp: np.ndarray,
    source: np.ndarray,
    target: np.ndarray,
    mode: int,
    padding: int,
    align_corners: bool,
    fill: np.ndarray,
    affine: bool,
    bands: int,
    channel_inner: bool,
) -> None:
    """``grad_input`` of a backward pass into ``target`` (``inp``'s shape and dtype): jobs that
    each own ``bands`` bands of rows (2-D) or slices (3-D) of one batch item's channels (all of
    them with ``channel_inner``, else one each) zero their band and add every output point's
    terms in order, so the bytes do not depend on the bands or threads. Other arguments as
    :func:`backward_coordinates`."""
    _core.backward_input(
        grad_output, inp, source, target, int(mode), int(padding), bool(align_corners), fill,
        bool(affine), int(bands), bool(channel_inner),
    )  # fmt: skip


class _MetricLoops:
    """The registration metrics' loops (``src/gswarp_core/metrics.hpp``): sequential float64
    sums, in order."""

    @staticmethod
    def sums(w, f, m, masked):
        return _core.metric_sums(w, f, _mask(m), bool(masked))

    @staticmethod
    def mse_grad(w, f, m, masked, factor, grad):
        _core.mse_grad(w, f, _mask(m), bool(masked), float(factor), grad)

    @staticmethod
    def ncc_grad(w, f, m, masked, mean_w, mean_f, minus_inverse_root, ncc_over_saa, grad):
        _core.ncc_grad(
            w, f, _mask(m), bool(masked), float(mean_w), float(mean_f),
            float(minus_inverse_root), float(ncc_over_saa), grad,
        )  # fmt: skip

    @staticmethod
    def mattes_joint(w, f, m, masked, f_low, f_width, m_low, m_width, joint):
        bins = (float(f_low), float(f_width), float(m_low), float(m_width))
        return int(_core.mattes_joint(w, f, _mask(m), bool(masked), *bins, joint))

    @staticmethod
    def mattes_grad(w, f, m, masked, f_low, f_width, m_low, m_width, log_ratio, scale, grad):
        _core.mattes_grad(
            w, f, _mask(m), bool(masked), float(f_low), float(f_width), float(m_low),
            float(m_width), np.ascontiguousarray(log_ratio, dtype=np.float64), float(scale), grad,
        )  # fmt: skip


def _mask(m: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(m, dtype=np.bool_).view(np.uint8)


def metric_loops() -> _MetricLoops:
    """The compiled registration-metric loops (see :class:`_MetricLoops`)."""
    return _MetricLoops()


def filter_points(
    inp: np.ndarray,
    points: np.ndarray,
    out: np.ndarray,
    fill: np.ndarray,
    kind: int,
    order: int,
    window: int,
    radius: int,
    sigma: np.ndarray,
    alpha: float,
    padding: int,
    align_corners: bool,
    labels: bool,
    smallest_tie: bool,
    affine: bool,
    grid: np.ndarray,
    first: int,
    spline_region: bool = False,
) -> None:
    """ITK's interpolators (``src/gswarp_core/filters.hpp``): ``inp`` (N, C, *spatial) at
    ``points`` (P, k) float64 C-ordered pixel coordinates into ``out`` (N, C, P); ``fill``
    (C,) and ``sigma`` (k,) float64; ``kind`` 0 B-spline (``inp`` its coefficients), 1 windowed
    sinc, 2 Gaussian, 3 ITK's linear; ``labels`` votes label by label (``smallest_tie``: the
    smallest label wins a tie, else the first to reach the largest weight). ``affine``:
    ``points`` is a (k, k + 1) matrix and the points are output pixels ``first``.. of spatial
    shape ``grid`` (int64). ``spline_region``: points are inside where ``1 <= c < size - 2``
    (a B-spline transform's valid region) instead of ITK's image extent."""
    _core.filter_sample(
        inp,
        points,
        out,
        fill,
        kind,
        order,
        window,
        radius,
        sigma,
        alpha,
        padding,
        align_corners,
        labels,
        smallest_tie,
        spline_region,
        affine,
        grid,
        first,
    )


def bspline_prefilter(data: np.ndarray, order: int) -> None:
    """B-spline coefficients of ``order`` in place along the middle axis of ``data``
    (outer, n, inner) float64, C-ordered."""
    _core.bspline_prefilter(data, int(order))


def field_array(field: np.ndarray) -> np.ndarray:
    """A flow field as the kernels read it: C-ordered float32 (as registration tools write
    fields: read as it is) or float64 (anything else converted). Pure NumPy: the API's
    argument checks use it too, for any backend."""
    if field.dtype == np.float32:
        return np.ascontiguousarray(field)
    return np.ascontiguousarray(field, dtype=np.float64)
