"""Per-point sampling math, written once for every backend.

Every function here is plain scalar Python decorated with :func:`numba.extending.register_jitable`:
it runs as ordinary Python (``NUMBA_DISABLE_JIT=1``, debugging, and numba's CUDA simulator),
and numba-cuda compiles it into the CUDA kernels of :mod:`gswarp.engine.cuda`. The CPU runs the
same math in C++ (``src/gswarp_core/pointwise.hpp``, issue 28); this module goes when the GPU
moves onto those headers (issue 31). The functions take the compute dtype as an argument ``ct``
(``numpy.float32`` or ``numpy.float64``) and write every constant as ``ct(...)``: a bare Python
literal would promote float32 arithmetic to float64 and break torch's float32 rounding.

Conventions
-----------
* Input arrays are ``(N, C, H, W)`` or ``(N, C, D, H, W)``, any strides.
* Normalized coordinates ``g`` follow torch's ``grid_sample``: -1 is the left/top/front edge, +1 the
  right/bottom/back edge; ``x`` indexes W, ``y`` indexes H, ``z`` indexes D.
* ``align_corners=True``: -1 and +1 are the centres of the corner pixels;
  ``align_corners=False``: they are the outer edges of the corner pixels.
* Pixel coordinates ``p`` put pixel centres at integer indices.

Parity with torch
-----------------
torch's CPU kernels take two code paths and they round differently:

* 2-D inputs go through the vectorized kernel (``cpu/GridSamplerKernel.cpp``). Its float32 build
  fuses several multiply-adds; the ``*_vec`` functions and the bilinear/bicubic combinations below
  reproduce those fused operations with :func:`fma`, so float32 results match to the last bit.
* 3-D inputs go through scalar loops (``GridSampler.cpp``) with plain operations and an
  ``fmod``-based reflection: the ``*_scalar`` functions reproduce those.
* Tricubic (3-D bicubic) has no torch counterpart; it uses the 2-D formulas on all three axes, so
  that on a slice whose z coordinate falls on a voxel centre it equals 2-D bicubic exactly.

Non-finite coordinates (NaN, +-inf) are gswarp's own rule, the same in every padding mode: that
output point gets the fill value. (torch gives NaN, an edge pixel or pixel 0 depending on the code
path, and can crash in backward.)
"""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
from numba.core import types
from numba.core.extending import intrinsic, overload, register_jitable

__all__ = [
    "BICUBIC",
    "BILINEAR",
    "BORDER",
    "CPU_INLINED",
    "INTERIOR_2D",
    "INTERIOR_3D",
    "NEAREST",
    "POINT_2D",
    "POINT_3D",
    "REFLECTION",
    "ZEROS",
    "bicubic_2d",
    "bilinear_2d",
    "cpu_inlined",
    "fma",
    "nearest_2d",
    "nearest_3d",
    "point_functions",
    "tricubic_3d",
    "trilinear_3d",
]

# Kernel codes; they equal gswarp.sampling.Mode / Padding (torch's enum order).
BILINEAR, NEAREST, BICUBIC = 0, 1, 2
ZEROS, BORDER, REFLECTION = 0, 1, 2

CUBIC_A = -0.75  # Keys' cubic convolution parameter, as in torch


# --------------------------------------------------------------------------------------------
# functions inlined into the CPU kernels at numba IR level (the hot loop then has no call and no
# mode test). numba-cuda cannot inline numba-core IR, so gswarp.engine.cuda registers each of
# them again for the CUDA target, as ordinary device functions (which NVVM inlines itself).
#
# IR-level inlining has a price: numba types the inlined body again at every call site, and the
# compile time of a kernel grows with every nested site. Measured on a uint8 2-D affine kernel
# (empty cache, this machine): 26 s with every helper inlined this way, 9.9 s with the innermost
# ones (the per-channel corner sums) left to LLVM, whose inliner takes them into the loop anyway
# (the same run time). Only the functions whose inlining changes the run time use it.

CPU_INLINED: list = []
"""The functions decorated with :func:`cpu_inlined`, for the CUDA target to register."""


def cpu_inlined(function):
    """``register_jitable(inline="always")`` for the CPU target only."""

    @overload(function, target="cpu", inline="always", strict=False)
    def implementation(*args, **kwargs):
        return function

    CPU_INLINED.append(function)
    return function


# --------------------------------------------------------------------------------------------
# scalar math that both targets compile: NumPy's ufuncs on the CPU (float32 stays float32), and
# their CUDA forms, registered by gswarp.engine.cuda (numba-cuda has no NumPy ufuncs on scalars).
# The Python bodies run with NUMBA_DISABLE_JIT=1 and in the CUDA simulator.


def floor(x):
    """``numpy.floor`` of a scalar, in its own float type."""
    return np.floor(x)


def rint(x):
    """``numpy.rint`` (round half to even) of a scalar, in its own float type."""
    return np.rint(x)


def trunc(x):
    """``numpy.trunc`` of a scalar, in its own float type."""
    return np.trunc(x)


def fmod(a, b):
    """``numpy.fmod`` of scalars (the remainder has the sign of ``a``)."""
    return np.fmod(a, b)


def isfinite(x):
    """``numpy.isfinite`` of a scalar."""
    return np.isfinite(x)


def _cpu_form(function, ufunc):
    """Register ``ufunc`` as ``function``'s CPU implementation (a tiny function LLVM inlines;
    inlining it at numba IR level instead re-types it at every call site: slower compiles, the
    same machine code)."""
    options = {"target": "cpu", "jit_options": {"cache": True}}
    if function is fmod:

        @overload(function, **options)
        def binary(a, b):
            return lambda a, b: ufunc(a, b)

        return

    @overload(function, **options)
    def unary(x):
        return lambda x: ufunc(x)


for _function, _ufunc in (
    (floor, np.floor),
    (rint, np.rint),
    (trunc, np.trunc),
    (fmod, np.fmod),
    (isfinite, np.isfinite),
):
    _cpu_form(_function, _ufunc)


# --------------------------------------------------------------------------------------------
# fused multiply-add


def _round_fraction(exact: Fraction, kind: type) -> np.floating:
    """Round an exact rational to the nearest ``kind`` value, ties to even (for the fallback)."""
    guess = kind(float(exact))  # may be off by one ulp through double rounding (float32 only)
    candidates = (np.nextafter(guess, kind(-np.inf)), guess, np.nextafter(guess, kind(np.inf)))
    finite = [c for c in candidates if isfinite(c)]
    best = min(
        finite, key=lambda c: (abs(Fraction(float(c)) - exact), int(np.frexp(c)[0] * 2**24) & 1)
    )
    return kind(best)


def fma(a, b, c):
    """Return ``a * b + c`` with a single rounding, in the type of ``a``.

    In compiled code this is LLVM's ``llvm.fma`` intrinsic (one instruction on CPUs with FMA). This
    Python body only runs with ``NUMBA_DISABLE_JIT=1``; it is exact but slow.
    """
    kind = type(a) if isinstance(a, np.floating) else np.float64
    if not (math.isfinite(a) and math.isfinite(b) and math.isfinite(c)):
        return kind(float(a) * float(b) + float(c))
    exact = Fraction(float(a)) * Fraction(float(b)) + Fraction(float(c))
    if exact == 0:
        return kind(float(a) * float(b) + float(c))  # keeps IEEE's sign of zero
    return _round_fraction(exact, kind)


@intrinsic
def _llvm_fma(typingctx, a, b, c):
    if not (isinstance(a, types.Float) and a == b and a == c):
        return None

    def codegen(context, builder, signature, args):
        return builder.fma(*args)

    return a(a, b, c), codegen


@overload(fma, jit_options={"cache": True})
def _fma_cpu(a, b, c):
    if isinstance(a, types.Float) and a == b and a == c:
        return lambda a, b, c: _llvm_fma(a, b, c)
    return None


# --------------------------------------------------------------------------------------------
# coordinates: normalized -> pixel, then padding


@register_jitable
def unnormalize_vec(g, size, align_corners, ct):
    """Pixel coordinate of normalized ``g`` as torch's vectorized 2-D kernel computes it.

    ``align_corners``: ``(g + 1) * ((S - 1) / 2)``; otherwise ``fma(g + 1, S / 2, -0.5)``.
    """
    if align_corners:
        return (g + ct(1)) * (ct(size - 1) / ct(2))
    return fma(g + ct(1), ct(size) / ct(2), ct(-0.5))


@register_jitable
def pixel_coordinate(p, size, align_corners, ct):
    """A grid that already holds pixel coordinates (:func:`gswarp.sample_pixels`): unchanged."""
    return p


@register_jitable
def unnormalize_scalar(g, size, align_corners, ct):
    """Pixel coordinate of normalized ``g`` as torch's scalar (3-D) kernel computes it."""
    if align_corners:
        return ((g + ct(1)) / ct(2)) * ct(size - 1)
    return ((g + ct(1)) * ct(size) - ct(1)) / ct(2)


@register_jitable
def clip(p, size, ct):
    """Clamp pixel coordinate ``p`` into ``[0, size - 1]``."""
    return min(ct(size - 1), max(p, ct(0)))


@cpu_inlined
def reflection_bounds(size, align_corners, ct):
    """``(low, span)`` of torch's reflection: it mirrors about the pixel centres ``0`` and
    ``S - 1`` with ``align_corners`` (span 0 on a unit axis, which reflects everything to 0),
    about the outer edges ``-0.5`` and ``S - 0.5`` without. Shared by the forward reflection
    and the backward pass's sign (:mod:`gswarp.engine.backward`)."""
    if align_corners:
        return ct(0), ct(max(size - 1, 0))
    return ct(-0.5), ct(size)


@register_jitable
def reflect_vec(p, size, align_corners, ct):
    """Reflect ``p`` into the input, as torch's vectorized kernel does (``trunc``-based)."""
    low, span = reflection_bounds(size, align_corners, ct)
    if span == ct(0):
        return ct(0)
    twice_span = span * ct(2)
    a = abs(p - low)
    flips = trunc(a / twice_span)
    extra = fma(-flips, twice_span, a)
    return min(extra, twice_span - extra) + low


@register_jitable
def reflect_scalar(p, size, align_corners, ct):
    """Reflect ``p`` into the input, as torch's scalar kernel does (``fmod``-based)."""
    low, span = reflection_bounds(size, align_corners, ct)
    if span == ct(0):
        return ct(0)
    a = abs(p - low)
    extra = fmod(a, span)
    flips = floor(a / span)
    if fmod(flips, ct(2)) == ct(0):
        return extra + low
    return span - extra + low


@register_jitable
def pad_vec(p, size, padding, align_corners, ct):
    """Apply the padding rule to pixel coordinate ``p`` (vectorized-kernel formulas)."""
    if padding == BORDER:
        return clip(p, size, ct)
    if padding == REFLECTION:
        return clip(reflect_vec(p, size, align_corners, ct), size, ct)
    return p


@register_jitable
def pad_scalar(p, size, padding, align_corners, ct):
    """Apply the padding rule to pixel coordinate ``p`` (scalar-kernel formulas)."""
    if padding == BORDER:
        return clip(p, size, ct)
    if padding == REFLECTION:
        return clip(reflect_scalar(p, size, align_corners, ct), size, ct)
    return p


@register_jitable
def inside(p, size, ct):
    """True when ``p`` lies strictly between -1 and ``size``.

    For a sample coordinate: some neighbour may be in bounds. For a whole-valued coordinate (a
    rounded nearest index, a cubic tap): it is a valid index in ``[0, size)``.
    """
    return p > ct(-1) and p < ct(size)


# --------------------------------------------------------------------------------------------
# value read / write


def int_bounds(dtype: np.dtype, ct: type) -> tuple:
    """The widest ``[lo, hi]`` in compute type ``ct`` whose values all fit integer ``dtype``."""
    info = np.iinfo(dtype)
    lo = ct(info.min)
    hi = ct(info.max)
    if int(hi) > info.max:  # e.g. float32(2**31 - 1) rounds up to 2**31: step below it
        hi = np.nextafter(hi, ct(0))
    return lo, hi


def to_output(value, out):
    """``value`` ready to store into ``out``: integer outputs are rounded half to even and clipped.

    The choice is made at compile time from ``out``'s dtype (see the overload below); this body is
    the plain-Python version.
    """
    if out.dtype.kind in "iu":
        lo, hi = int_bounds(out.dtype, type(value))
        return min(max(rint(value), lo), hi)
    return value


@overload(to_output, jit_options={"cache": True}, inline="always")
def _to_output_jit(value, out):
    if isinstance(out.dtype, types.Integer):
        lo, hi = int_bounds(np.dtype(str(out.dtype)), np.dtype(str(value)).type)

        def round_clip(value, out):
            return min(max(rint(value), lo), hi)

        return round_clip
    return lambda value, out: value


# --------------------------------------------------------------------------------------------
# cubic convolution weights (Keys, a = -0.75), with torch's float32 evaluation order


@register_jitable
def cubic_inner(u, ct):
    """Weight for a tap at distance ``u`` <= 1: ``((a+2)u - (a+3))u^2 + 1``."""
    a = ct(CUBIC_A)
    q = fma(a + ct(2), u, -(a + ct(3))) * u
    return fma(q, u, ct(1))


@register_jitable
def cubic_outer(u, ct):
    """Weight for a tap at distance 1 < ``u`` < 2: ``((a u - 5a) u + 8a) u - 4a``."""
    a = ct(CUBIC_A)
    return ((a * u - ct(5) * a) * u + ct(8) * a) * u - ct(4) * a


@register_jitable
def cubic_weights(t, ct):
    """The four tap weights for fractional offset ``t`` in [0, 1) (taps at -1, 0, 1, 2)."""
    return (
        cubic_outer(t + ct(1), ct),
        cubic_inner(t, ct),
        cubic_inner(ct(1) - t, ct),
        cubic_outer(ct(2) - t, ct),
    )


@register_jitable
def cubic_combine(w, v):
    """``sum(w[i] v[i])`` over the four x taps, in torch's float32 order."""
    return (fma(w[0], v[0], w[1] * v[1]) + w[2] * v[2]) + w[3] * v[3]


@register_jitable
def cubic_combine_rows(w, r):
    """``sum(w[j] r[j])`` over the four rows (y) or planes (z), in torch's float32 order."""
    return fma(w[3], r[3], fma(w[2], r[2], fma(w[1], r[1], w[0] * r[0])))


@register_jitable
def cubic_taps(p0, size, padding, align_corners, ct):
    """Indices and in-bounds flags (two 4-tuples) of the taps ``p0 - 1 .. p0 + 2``, each padded.

    ``p0`` is the floor of the sample coordinate; padding applies to every tap on its own, as in
    torch (border repeats the edge pixel, reflection mirrors the taps).
    """
    t0 = pad_vec(p0 - ct(1), size, padding, align_corners, ct)
    t1 = pad_vec(p0, size, padding, align_corners, ct)
    t2 = pad_vec(p0 + ct(1), size, padding, align_corners, ct)
    t3 = pad_vec(p0 + ct(2), size, padding, align_corners, ct)
    indices = (
        index_in(t0, size, ct),
        index_in(t1, size, ct),
        index_in(t2, size, ct),
        index_in(t3, size, ct),
    )
    valid = (
        inside(t0, size, ct),
        inside(t1, size, ct),
        inside(t2, size, ct),
        inside(t3, size, ct),
    )
    return indices, valid


@register_jitable
def index_in(t, size, ct):
    """``t`` clamped into ``[0, size - 1]`` and converted to an integer (safe for any ``t``)."""
    q = min(max(t, ct(0)), ct(size - 1))
    if q != q:  # NaN
        return np.int64(0)
    return np.int64(q)


# --------------------------------------------------------------------------------------------
# 2-D samplers on pixel coordinates (after padding; bicubic: before)


@register_jitable
def _bilinear_corners(inp, n, c, iy0, ix0, out, ho, wo, w_nw, w_ne, w_sw, w_se, ct):
    """Channel ``c`` of a bilinear sample whose four corners are all inside, in torch's order."""
    v_nw = ct(inp[n, c, iy0, ix0])
    v_ne = ct(inp[n, c, iy0, ix0 + 1])
    v_sw = ct(inp[n, c, iy0 + 1, ix0])
    v_se = ct(inp[n, c, iy0 + 1, ix0 + 1])
    v = fma(v_se, w_se, fma(v_sw, w_sw, fma(v_ne, w_ne, v_nw * w_nw)))
    out[n, c, ho, wo] = to_output(v, out)


@cpu_inlined
def bilinear_weights(px, py, ct):
    """``(ix0, iy0, w_nw, w_ne, w_sw, w_se)``: the top-left corner of a bilinear sample at
    ``(px, py)`` and its four weights, as torch computes them."""
    x0 = floor(px)
    y0 = floor(py)
    w = px - x0
    e = ct(1) - w
    nn = py - y0
    s = ct(1) - nn
    return np.int64(x0), np.int64(y0), s * e, s * w, nn * e, nn * w


@cpu_inlined
def bilinear_interior_2d(inp, n, px, py, out, ho, wo, ct):
    """Bilinear sample at pixel coordinates whose four corners are all inside the input
    (``0 <= px < W - 1``, ``0 <= py < H - 1``): no padding, no masks, the general path's
    arithmetic (:func:`_bilinear_px_2d` calls this for such points)."""
    ix0, iy0, w_nw, w_ne, w_sw, w_se = bilinear_weights(px, py, ct)
    if inp.shape[1] == 3:  # RGB: unrolled, the three channels' loads are independent
        _bilinear_corners(inp, n, 0, iy0, ix0, out, ho, wo, w_nw, w_ne, w_sw, w_se, ct)
        _bilinear_corners(inp, n, 1, iy0, ix0, out, ho, wo, w_nw, w_ne, w_sw, w_se, ct)
        _bilinear_corners(inp, n, 2, iy0, ix0, out, ho, wo, w_nw, w_ne, w_sw, w_se, ct)
        return
    for c in range(inp.shape[1]):
        _bilinear_corners(inp, n, c, iy0, ix0, out, ho, wo, w_nw, w_ne, w_sw, w_se, ct)


@cpu_inlined
def nearest_interior_2d(inp, n, px, py, out, ho, wo, ct):
    """Nearest sample at pixel coordinates inside ``[0, W - 1] x [0, H - 1]``: a plain copy."""
    ix = np.int64(rint(px))
    iy = np.int64(rint(py))
    for c in range(inp.shape[1]):
        out[n, c, ho, wo] = inp[n, c, iy, ix]


@cpu_inlined
def _bilinear_px_2d(inp, n, px, py, out, ho, wo, fill, ct):
    H = inp.shape[2]
    W = inp.shape[3]
    if not (inside(px, W, ct) and inside(py, H, ct)):
        # entirely outside (or invalid): every corner reads the fill value with weight 1
        px = ct(-2)
        py = ct(-2)
    ix0, iy0, w_nw, w_ne, w_sw, w_se = bilinear_weights(px, py, ct)
    if ix0 >= 0 and ix0 + 1 < W and iy0 >= 0 and iy0 + 1 < H:
        # all four corners inside (the common case): no masks, same arithmetic
        bilinear_interior_2d(inp, n, px, py, out, ho, wo, ct)
        return
    mx0 = ix0 >= 0 and ix0 < W
    mx1 = ix0 + 1 >= 0 and ix0 + 1 < W
    my0 = iy0 >= 0 and iy0 < H
    my1 = iy0 + 1 >= 0 and iy0 + 1 < H
    cx0 = min(max(ix0, 0), W - 1)
    cx1 = min(max(ix0 + 1, 0), W - 1)
    cy0 = min(max(iy0, 0), H - 1)
    cy1 = min(max(iy0 + 1, 0), H - 1)
    m_nw = mx0 and my0
    m_ne = mx1 and my0
    m_sw = mx0 and my1
    m_se = mx1 and my1
    for c in range(inp.shape[1]):
        f = fill[c]
        v_nw = ct(inp[n, c, cy0, cx0]) if m_nw else f
        v_ne = ct(inp[n, c, cy0, cx1]) if m_ne else f
        v_sw = ct(inp[n, c, cy1, cx0]) if m_sw else f
        v_se = ct(inp[n, c, cy1, cx1]) if m_se else f
        v = fma(v_se, w_se, fma(v_sw, w_sw, fma(v_ne, w_ne, v_nw * w_nw)))
        out[n, c, ho, wo] = to_output(v, out)


@cpu_inlined
def _nearest_px_2d(inp, n, px, py, out, ho, wo, fill_native, ct):
    H = inp.shape[2]
    W = inp.shape[3]
    rx = rint(px)
    ry = rint(py)
    ok = inside(rx, W, ct) and inside(ry, H, ct)
    ix = index_in(rx, W, ct)
    iy = index_in(ry, H, ct)
    for c in range(inp.shape[1]):
        out[n, c, ho, wo] = inp[n, c, iy, ix] if ok else fill_native[c]


@register_jitable
def _bicubic_px_2d(inp, n, x, y, out, ho, wo, padding, align_corners, fill, ct):
    x0 = floor(x)
    y0 = floor(y)
    wx = cubic_weights(x - x0, ct)
    wy = cubic_weights(y - y0, ct)
    ix, mx = cubic_taps(x0, inp.shape[3], padding, align_corners, ct)
    iy, my = cubic_taps(y0, inp.shape[2], padding, align_corners, ct)
    for c in range(inp.shape[1]):
        f = fill[c]
        rows = (
            _cubic_row(inp, n, c, iy[0], my[0], ix, mx, wx, f, ct),
            _cubic_row(inp, n, c, iy[1], my[1], ix, mx, wx, f, ct),
            _cubic_row(inp, n, c, iy[2], my[2], ix, mx, wx, f, ct),
            _cubic_row(inp, n, c, iy[3], my[3], ix, mx, wx, f, ct),
        )
        out[n, c, ho, wo] = to_output(cubic_combine_rows(wy, rows), out)


@register_jitable
def _cubic_row(inp, n, c, iy, my, ix, mx, wx, f, ct):
    """The x-interpolated value of row ``iy`` (``my``: row in bounds); taps outside read ``f``."""
    values = (
        ct(inp[n, c, iy, ix[0]]) if (my and mx[0]) else f,
        ct(inp[n, c, iy, ix[1]]) if (my and mx[1]) else f,
        ct(inp[n, c, iy, ix[2]]) if (my and mx[2]) else f,
        ct(inp[n, c, iy, ix[3]]) if (my and mx[3]) else f,
    )
    return cubic_combine(wx, values)


@register_jitable
def linear_weights(p, p0, ct):
    """Weights of the near (``p0``) and far (``p0 + 1``) neighbour of ``p``, as torch's 3-D kernel
    computes them: ``(p0 + 1) - p`` and ``p - p0``."""
    return (p0 + ct(1)) - p, p - p0


@register_jitable
def _trilinear_corners(inp, n, c, iz0, iy0, ix0, out, do, ho, wo, dx0, dx1, dy0, dy1, dz0, dz1, ct):
    """Channel ``c`` of a trilinear sample whose eight corners are all inside, in torch's order."""
    v = ct(0)
    v += ct(inp[n, c, iz0, iy0, ix0]) * ((dx0 * dy0) * dz0)
    v += ct(inp[n, c, iz0, iy0, ix0 + 1]) * ((dx1 * dy0) * dz0)
    v += ct(inp[n, c, iz0, iy0 + 1, ix0]) * ((dx0 * dy1) * dz0)
    v += ct(inp[n, c, iz0, iy0 + 1, ix0 + 1]) * ((dx1 * dy1) * dz0)
    v += ct(inp[n, c, iz0 + 1, iy0, ix0]) * ((dx0 * dy0) * dz1)
    v += ct(inp[n, c, iz0 + 1, iy0, ix0 + 1]) * ((dx1 * dy0) * dz1)
    v += ct(inp[n, c, iz0 + 1, iy0 + 1, ix0]) * ((dx0 * dy1) * dz1)
    v += ct(inp[n, c, iz0 + 1, iy0 + 1, ix0 + 1]) * ((dx1 * dy1) * dz1)
    out[n, c, do, ho, wo] = to_output(v, out)


@cpu_inlined
def trilinear_interior_3d(inp, n, px, py, pz, out, do, ho, wo, ct):
    """Trilinear sample at pixel coordinates whose eight corners are all inside the input
    (``0 <= p < size - 1`` on every axis): the general path's arithmetic without masks."""
    x0 = floor(px)
    y0 = floor(py)
    z0 = floor(pz)
    ix0 = np.int64(x0)
    iy0 = np.int64(y0)
    iz0 = np.int64(z0)
    dx0, dx1 = linear_weights(px, x0, ct)
    dy0, dy1 = linear_weights(py, y0, ct)
    dz0, dz1 = linear_weights(pz, z0, ct)
    if inp.shape[1] == 1:  # one channel (most volumes): no channel loop around the loads
        _trilinear_corners(
            inp, n, 0, iz0, iy0, ix0, out, do, ho, wo, dx0, dx1, dy0, dy1, dz0, dz1, ct
        )
        return
    for c in range(inp.shape[1]):
        _trilinear_corners(
            inp, n, c, iz0, iy0, ix0, out, do, ho, wo, dx0, dx1, dy0, dy1, dz0, dz1, ct
        )


@cpu_inlined
def nearest_interior_3d(inp, n, px, py, pz, out, do, ho, wo, ct):
    """Nearest sample at pixel coordinates inside the input (``0 <= p <= size - 1``)."""
    ix = np.int64(rint(px))
    iy = np.int64(rint(py))
    iz = np.int64(rint(pz))
    for c in range(inp.shape[1]):
        out[n, c, do, ho, wo] = inp[n, c, iz, iy, ix]


@cpu_inlined
def _trilinear_px_3d(inp, n, px, py, pz, out, do, ho, wo, fill, ct):
    D = inp.shape[2]
    H = inp.shape[3]
    W = inp.shape[4]
    x0 = floor(px)
    y0 = floor(py)
    z0 = floor(pz)
    if (
        x0 >= ct(0)
        and x0 < ct(W - 1)
        and y0 >= ct(0)
        and y0 < ct(H - 1)
        and z0 >= ct(0)
        and z0 < ct(D - 1)
    ):
        # all eight corners inside (the common case): no masks, the arithmetic of the general
        # case below (checked in floating point first: huge values never reach an int conversion)
        trilinear_interior_3d(inp, n, px, py, pz, out, do, ho, wo, ct)
        return
    if not (inside(px, W, ct) and inside(py, H, ct) and inside(pz, D, ct)):
        # entirely outside: every corner reads the fill value, the near one with weight 1
        px = ct(-2)
        py = ct(-2)
        pz = ct(-2)
    x0 = floor(px)
    y0 = floor(py)
    z0 = floor(pz)
    dx0, dx1 = linear_weights(px, x0, ct)
    dy0, dy1 = linear_weights(py, y0, ct)
    dz0, dz1 = linear_weights(pz, z0, ct)
    ix0 = np.int64(x0)
    iy0 = np.int64(y0)
    iz0 = np.int64(z0)
    w_tnw = (dx0 * dy0) * dz0
    w_tne = (dx1 * dy0) * dz0
    w_tsw = (dx0 * dy1) * dz0
    w_tse = (dx1 * dy1) * dz0
    w_bnw = (dx0 * dy0) * dz1
    w_bne = (dx1 * dy0) * dz1
    w_bsw = (dx0 * dy1) * dz1
    w_bse = (dx1 * dy1) * dz1
    mx0 = ix0 >= 0 and ix0 < W
    mx1 = ix0 + 1 >= 0 and ix0 + 1 < W
    my0 = iy0 >= 0 and iy0 < H
    my1 = iy0 + 1 >= 0 and iy0 + 1 < H
    mz0 = iz0 >= 0 and iz0 < D
    mz1 = iz0 + 1 >= 0 and iz0 + 1 < D
    cx0 = min(max(ix0, 0), W - 1)
    cx1 = min(max(ix0 + 1, 0), W - 1)
    cy0 = min(max(iy0, 0), H - 1)
    cy1 = min(max(iy0 + 1, 0), H - 1)
    cz0 = min(max(iz0, 0), D - 1)
    cz1 = min(max(iz0 + 1, 0), D - 1)
    for c in range(inp.shape[1]):
        f = fill[c]
        v = ct(0)
        v += (ct(inp[n, c, cz0, cy0, cx0]) if (mz0 and my0 and mx0) else f) * w_tnw
        v += (ct(inp[n, c, cz0, cy0, cx1]) if (mz0 and my0 and mx1) else f) * w_tne
        v += (ct(inp[n, c, cz0, cy1, cx0]) if (mz0 and my1 and mx0) else f) * w_tsw
        v += (ct(inp[n, c, cz0, cy1, cx1]) if (mz0 and my1 and mx1) else f) * w_tse
        v += (ct(inp[n, c, cz1, cy0, cx0]) if (mz1 and my0 and mx0) else f) * w_bnw
        v += (ct(inp[n, c, cz1, cy0, cx1]) if (mz1 and my0 and mx1) else f) * w_bne
        v += (ct(inp[n, c, cz1, cy1, cx0]) if (mz1 and my1 and mx0) else f) * w_bsw
        v += (ct(inp[n, c, cz1, cy1, cx1]) if (mz1 and my1 and mx1) else f) * w_bse
        out[n, c, do, ho, wo] = to_output(v, out)


@cpu_inlined
def _nearest_px_3d(inp, n, px, py, pz, out, do, ho, wo, fill_native, ct):
    D = inp.shape[2]
    H = inp.shape[3]
    W = inp.shape[4]
    rx = rint(px)
    ry = rint(py)
    rz = rint(pz)
    ok = inside(rx, W, ct) and inside(ry, H, ct) and inside(rz, D, ct)
    ix = index_in(rx, W, ct)
    iy = index_in(ry, H, ct)
    iz = index_in(rz, D, ct)
    for c in range(inp.shape[1]):
        out[n, c, do, ho, wo] = inp[n, c, iz, iy, ix] if ok else fill_native[c]


@register_jitable
def _tricubic_plane(inp, n, c, iz, mz, iy, my, ix, mx, wx, wy, f, ct):
    """The xy-interpolated value of plane ``iz`` (``mz``: plane in bounds)."""
    rows = (
        _cubic_row_3d(inp, n, c, iz, iy[0], mz and my[0], ix, mx, wx, f, ct),
        _cubic_row_3d(inp, n, c, iz, iy[1], mz and my[1], ix, mx, wx, f, ct),
        _cubic_row_3d(inp, n, c, iz, iy[2], mz and my[2], ix, mx, wx, f, ct),
        _cubic_row_3d(inp, n, c, iz, iy[3], mz and my[3], ix, mx, wx, f, ct),
    )
    return cubic_combine_rows(wy, rows)


@register_jitable
def _cubic_row_3d(inp, n, c, iz, iy, myz, ix, mx, wx, f, ct):
    values = (
        ct(inp[n, c, iz, iy, ix[0]]) if (myz and mx[0]) else f,
        ct(inp[n, c, iz, iy, ix[1]]) if (myz and mx[1]) else f,
        ct(inp[n, c, iz, iy, ix[2]]) if (myz and mx[2]) else f,
        ct(inp[n, c, iz, iy, ix[3]]) if (myz and mx[3]) else f,
    )
    return cubic_combine(wx, values)


@register_jitable
def _tricubic_px_3d(inp, n, x, y, z, out, do, ho, wo, padding, align_corners, fill, ct):
    x0 = floor(x)
    y0 = floor(y)
    z0 = floor(z)
    wx = cubic_weights(x - x0, ct)
    wy = cubic_weights(y - y0, ct)
    wz = cubic_weights(z - z0, ct)
    ix, mx = cubic_taps(x0, inp.shape[4], padding, align_corners, ct)
    iy, my = cubic_taps(y0, inp.shape[3], padding, align_corners, ct)
    iz, mz = cubic_taps(z0, inp.shape[2], padding, align_corners, ct)
    for c in range(inp.shape[1]):
        f = fill[c]
        planes = (
            _tricubic_plane(inp, n, c, iz[0], mz[0], iy, my, ix, mx, wx, wy, f, ct),
            _tricubic_plane(inp, n, c, iz[1], mz[1], iy, my, ix, mx, wx, wy, f, ct),
            _tricubic_plane(inp, n, c, iz[2], mz[2], iy, my, ix, mx, wx, wy, f, ct),
            _tricubic_plane(inp, n, c, iz[3], mz[3], iy, my, ix, mx, wx, wy, f, ct),
        )
        out[n, c, do, ho, wo] = to_output(cubic_combine_rows(wz, planes), out)


# --------------------------------------------------------------------------------------------
# per-point entry points: pixel coordinates in, every channel of one output point written
#
# The callers turn grid values into pixel coordinates (``unnormalize_vec`` for 2-D and bicubic,
# ``unnormalize_scalar`` for 3-D nearest/trilinear, as torch) or step them along an output row
# from a pixel-space affine matrix; these functions apply the padding rule and sample.
#
# Common parameters
# -----------------
# inp : (N, C, H, W) or (N, C, D, H, W) array;  n : batch index
# px, py[, pz] : pixel coordinates (x: W, y: H, z: D) in the compute dtype ``ct``, before padding;
#     a non-finite coordinate makes the point ``fill``
# out : (N, C, H_out, W_out) or (N, C, D_out, H_out, W_out) array; (do,) ho, wo : output position
# padding : ZEROS / BORDER / REFLECTION;  align_corners : bool (it sets the reflection bounds)
# fill : (C,) array of ct, read outside the input with zeros padding (bilinear, bicubic); for
#     nearest, the same fill in inp.dtype (nearest copies values unconverted)


@cpu_inlined
def bilinear_2d(inp, n, px, py, out, ho, wo, padding, align_corners, fill, ct):
    """Bilinear sample of ``inp[n]`` at ``(px, py)`` into ``out[n, :, ho, wo]`` (torch 2-D path)."""
    if not (isfinite(px) and isfinite(py)):
        for c in range(inp.shape[1]):
            out[n, c, ho, wo] = to_output(fill[c], out)
        return
    px = pad_vec(px, inp.shape[3], padding, align_corners, ct)
    py = pad_vec(py, inp.shape[2], padding, align_corners, ct)
    _bilinear_px_2d(inp, n, px, py, out, ho, wo, fill, ct)


@cpu_inlined
def nearest_2d(inp, n, px, py, out, ho, wo, padding, align_corners, fill, ct):
    """Nearest sample (half to even) of ``inp[n]`` at ``(px, py)`` into ``out[n, :, ho, wo]``."""
    if not (isfinite(px) and isfinite(py)):
        for c in range(inp.shape[1]):
            out[n, c, ho, wo] = fill[c]
        return
    px = pad_vec(px, inp.shape[3], padding, align_corners, ct)
    py = pad_vec(py, inp.shape[2], padding, align_corners, ct)
    _nearest_px_2d(inp, n, px, py, out, ho, wo, fill, ct)


@register_jitable
def bicubic_2d(inp, n, px, py, out, ho, wo, padding, align_corners, fill, ct):
    """Bicubic sample (per-tap padding, as torch) of ``inp[n]`` into ``out[n, :, ho, wo]``."""
    if not (isfinite(px) and isfinite(py)):
        for c in range(inp.shape[1]):
            out[n, c, ho, wo] = to_output(fill[c], out)
        return
    _bicubic_px_2d(inp, n, px, py, out, ho, wo, padding, align_corners, fill, ct)


@cpu_inlined
def trilinear_3d(inp, n, px, py, pz, out, do, ho, wo, padding, align_corners, fill, ct):
    """Trilinear sample of ``inp[n]`` into ``out[n, :, do, ho, wo]`` (torch's scalar 3-D path)."""
    if not (isfinite(px) and isfinite(py) and isfinite(pz)):
        for c in range(inp.shape[1]):
            out[n, c, do, ho, wo] = to_output(fill[c], out)
        return
    px = pad_scalar(px, inp.shape[4], padding, align_corners, ct)
    py = pad_scalar(py, inp.shape[3], padding, align_corners, ct)
    pz = pad_scalar(pz, inp.shape[2], padding, align_corners, ct)
    _trilinear_px_3d(inp, n, px, py, pz, out, do, ho, wo, fill, ct)


@cpu_inlined
def nearest_3d(inp, n, px, py, pz, out, do, ho, wo, padding, align_corners, fill, ct):
    """Nearest sample of ``inp[n]`` into ``out[n, :, do, ho, wo]`` (torch's scalar 3-D path)."""
    if not (isfinite(px) and isfinite(py) and isfinite(pz)):
        for c in range(inp.shape[1]):
            out[n, c, do, ho, wo] = fill[c]
        return
    px = pad_scalar(px, inp.shape[4], padding, align_corners, ct)
    py = pad_scalar(py, inp.shape[3], padding, align_corners, ct)
    pz = pad_scalar(pz, inp.shape[2], padding, align_corners, ct)
    _nearest_px_3d(inp, n, px, py, pz, out, do, ho, wo, fill, ct)


@register_jitable
def tricubic_3d(inp, n, px, py, pz, out, do, ho, wo, padding, align_corners, fill, ct):
    """gswarp's tricubic: the 2-D bicubic formulas on three axes (torch has no 3-D bicubic)."""
    if not (isfinite(px) and isfinite(py) and isfinite(pz)):
        for c in range(inp.shape[1]):
            out[n, c, do, ho, wo] = to_output(fill[c], out)
        return
    _tricubic_px_3d(inp, n, px, py, pz, out, do, ho, wo, padding, align_corners, fill, ct)


# --------------------------------------------------------------------------------------------
# affine coordinates


@register_jitable
def affine_coord_2d(x, y, t0, t1, t2):
    """``t0 x + t1 y + t2`` rounded as torch's ``affine_grid`` (a K=3 GEMM) rounds it."""
    return (x * t0 + y * t1) + t2


@register_jitable
def affine_coord_3d(x, y, z, t0, t1, t2, t3):
    """``t0 x + t1 y + t2 z + t3`` rounded as torch's ``affine_grid`` (a K=4 GEMM) rounds it."""
    return ((x * t0 + y * t1) + z * t2) + t3


@register_jitable
def base_coord(i, size, align_corners, ct):
    """Normalized coordinate of output index ``i`` on an axis of ``size``, as ``affine_grid``.

    torch builds it with ``linspace(-1, 1, size)`` (two halves, each with one fused rounding),
    scaled by ``(size - 1) / size`` when ``align_corners`` is False; a unit axis sits at 0.
    """
    if size <= 1:
        return ct(0)
    step = ct(2) / ct(size - 1)
    if i < size // 2:
        r = fma(ct(i), step, ct(-1))
    else:
        r = fma(-ct(size - 1 - i), step, ct(1))
    if align_corners:
        return r
    return (r * ct(size - 1)) / ct(size)


# --------------------------------------------------------------------------------------------
# affine rows: one fused multiply-add per point, and the span of a row that needs no padding
#
# Along an output row of an affine map, every input coordinate is ``m0 * column + origin``
# (float64, one rounding) rounded to the compute type: monotonic in the column. So the columns
# whose sample reads only pixels inside the input -- no padding rule, no mask, no fill -- form one
# interval per row. The CPU kernels compute it once per row and run those columns through the
# mode's ``*_interior_*`` function, the general path's arithmetic without its tests: the same
# bits, with the per-point branches gone from the bulk of the row.


@register_jitable
def row_coordinate(m0, column, origin, ct):
    """Input coordinate of output ``column`` on a row: ``fma(m0, column, origin)`` in float64,
    rounded to ``ct``."""
    return ct(fma(m0, np.float64(column), origin))


@register_jitable
def _below(p, bound, inclusive, ct):
    """``p <= bound`` when ``inclusive``, else ``p < bound``."""
    if inclusive:
        return p <= ct(bound)
    return p < ct(bound)


@register_jitable
def _switch_column(m0, origin, bound, inclusive, width, ct):
    """``(first, switch)``: whether column 0's :func:`row_coordinate` is :func:`_below` ``bound``,
    and the first column where that answer changes (``width`` if it never does).

    The coordinate is monotonic in the column (a fused multiply-add, then roundings, all
    monotonic), so the answer changes at most once. The float64 estimate of the crossing is
    checked exactly at its neighbours; bisection finds it when the estimate is off (tiny or
    huge steps). Needs finite ``m0`` and ``origin`` (then no coordinate is NaN).
    """
    first = _below(row_coordinate(m0, 0, origin, ct), bound, inclusive, ct)
    if m0 == 0.0 or width <= 1:
        return first, width
    guess = (bound - origin) / m0
    if isfinite(guess):
        centre = np.int64(min(max(floor(guess) + 1.0, 1.0), float(width)))
        for switch in (centre, centre + 1, centre - 1):
            if switch < 1 or switch > width:
                continue
            before = _below(row_coordinate(m0, switch - 1, origin, ct), bound, inclusive, ct)
            if before != first:
                continue
            if switch == width:
                return first, switch
            if _below(row_coordinate(m0, switch, origin, ct), bound, inclusive, ct) != first:
                return first, switch
    low = 0  # the answer at low is first; the switch is in (low, high]
    high = width
    while high - low > 1:
        middle = (low + high) // 2
        if _below(row_coordinate(m0, middle, origin, ct), bound, inclusive, ct) == first:
            low = middle
        else:
            high = middle
    return first, high


@register_jitable
def band_columns(m0, origin, low, low_inclusive, high, high_inclusive, width, lo, hi, ct):
    """``[lo, hi)`` narrowed to the columns whose :func:`row_coordinate` lies between ``low``
    and ``high`` (each bound inclusive or not): exactly those columns, an empty range when
    ``m0`` or ``origin`` is not finite."""
    if not (isfinite(m0) and isfinite(origin)):
        return lo, lo
    first, switch = _switch_column(m0, origin, low, not low_inclusive, width, ct)
    if first:  # columns [0, switch) are below low: keep the rest
        lo = max(lo, switch)
    else:
        hi = min(hi, switch)
    first, switch = _switch_column(m0, origin, high, high_inclusive, width, ct)
    if first:  # columns [0, switch) are within high
        hi = min(hi, switch)
    else:
        lo = max(lo, switch)
    return lo, max(lo, hi)


@register_jitable
def has_interior(mode, padding, align_corners):
    """Whether ``mode`` has an interior function and ``padding`` leaves interior coordinates
    unchanged: zeros and border always; reflection with ``align_corners`` (without it,
    ``|p + 0.5| - 0.5`` can round away from ``p``). Bicubic has none (its taps reach two
    pixels out; it keeps the general path)."""
    if mode == BICUBIC:
        return False
    return padding != REFLECTION or align_corners


@register_jitable
def interior_columns(m0, origin, size, mode, width, lo, hi, ct, offset):
    """``[lo, hi)`` narrowed to the columns whose coordinate on an axis of ``size`` starting at
    ``offset`` (a window of a larger input: its coordinates are ``p - offset``) is interior for
    ``mode``: ``0 <= p - offset < size - 1`` for (tri/bi)linear (both neighbours inside),
    ``<= size - 1`` for nearest."""
    high = offset + size - 1.0
    return band_columns(m0, origin, offset, True, high, mode == NEAREST, width, lo, hi, ct)


@register_jitable
def inside_columns(m0, origin, size, width, lo, hi, ct, offset):
    """``[lo, hi)`` narrowed to the columns whose coordinate on an axis of ``size`` starting at
    ``offset`` is strictly between -1 and ``size`` (a (tri/bi)linear sample there reads at least
    one pixel); the others read only the fill."""
    return band_columns(m0, origin, offset - 1.0, False, offset + size, False, width, lo, hi, ct)


@register_jitable
def has_fill_runs(mode, padding):
    """Whether the points of a row that lie wholly outside the input (see
    :func:`inside_columns`) all get one value -- the fill, through the general path's
    arithmetic -- so a kernel may compute the first and copy it: (tri/bi)linear with zeros
    padding."""
    return (mode == BILINEAR) and padding == ZEROS


@register_jitable
def finite_row_2d(sx, sy, ox, oy):
    """Whether a 2-D row's steps and origins are finite (then so is every coordinate or it
    overflows to an infinity: none is NaN)."""
    return isfinite(sx) and isfinite(sy) and isfinite(ox) and isfinite(oy)


@register_jitable
def finite_row_3d(sx, sy, sz, ox, oy, oz):
    """:func:`finite_row_2d` for a 3-D row."""
    return finite_row_2d(sx, sy, ox, oy) and isfinite(sz) and isfinite(oz)


@register_jitable
def copy_point_2d(out, n, ho, source, wo):
    """Every channel of output point ``(ho, source)`` copied to ``(ho, wo)``."""
    for c in range(out.shape[1]):
        out[n, c, ho, wo] = out[n, c, ho, source]


@register_jitable
def copy_point_3d(out, n, do, ho, source, wo):
    """Every channel of output point ``(do, ho, source)`` copied to ``(do, ho, wo)``."""
    for c in range(out.shape[1]):
        out[n, c, do, ho, wo] = out[n, c, do, ho, source]


@register_jitable
def no_interior_2d(inp, n, px, py, out, ho, wo, ct):
    """Placeholder interior function of a mode without one (never called)."""
    return


@register_jitable
def no_interior_3d(inp, n, px, py, pz, out, do, ho, wo, ct):
    """Placeholder interior function of a mode without one (never called)."""
    return


# --------------------------------------------------------------------------------------------
# flow fields: (bi/tri)linear reads of a float64 field, edge values continued outside


@register_jitable
def _field_axis(p, size):
    """Lower index, upper index and upper weight of position ``p`` on an axis, clamped to it
    (branch-free: beyond the last point the weight is 1 on it, before the first 0 on it).

    On a field point (weight 0 or 1) both indices name that point, so that a NaN neighbour with
    weight 0 never makes a valid point NaN (``0 * nan`` is NaN); finite fields give the same
    values as a two-point blend."""
    top = size - 1
    p = min(max(p, 0.0), float(top))
    low = max(min(int(p), top - 1), 0)
    weight = p - low
    high = min(low + 1, top)
    high = low if weight == 0.0 else high
    low = high if weight == 1.0 else low
    return low, high, weight


@register_jitable
def field_at_2d(field, fx, fy):
    """The 2-vector of ``field`` (H, W, 2) at field pixel ``(fx, fy)``; NaN positions give NaN."""
    if not (isfinite(fx) and isfinite(fy)):
        return np.nan, np.nan
    x0, x1, wx = _field_axis(fx, field.shape[1])
    y0, y1, wy = _field_axis(fy, field.shape[0])
    a = (1.0 - wx) * (1.0 - wy)
    b = wx * (1.0 - wy)
    c = (1.0 - wx) * wy
    d = wx * wy
    u = a * field[y0, x0, 0] + b * field[y0, x1, 0] + c * field[y1, x0, 0] + d * field[y1, x1, 0]
    v = a * field[y0, x0, 1] + b * field[y0, x1, 1] + c * field[y1, x0, 1] + d * field[y1, x1, 1]
    return u, v


@register_jitable
def field_at_3d(field, fx, fy, fz):
    """The 3-vector of ``field`` (D, H, W, 3) at field voxel ``(fx, fy, fz)``."""
    if not (isfinite(fx) and isfinite(fy) and isfinite(fz)):
        return np.nan, np.nan, np.nan
    x0, x1, wx = _field_axis(fx, field.shape[2])
    y0, y1, wy = _field_axis(fy, field.shape[1])
    z0, z1, wz = _field_axis(fz, field.shape[0])
    u = 0.0
    v = 0.0
    w = 0.0
    for corner in range(8):
        zi = z1 if corner & 4 else z0
        yi = y1 if corner & 2 else y0
        xi = x1 if corner & 1 else x0
        weight = (wz if corner & 4 else 1.0 - wz) * (wy if corner & 2 else 1.0 - wy)
        weight *= wx if corner & 1 else 1.0 - wx
        u += weight * field[zi, yi, xi, 0]
        v += weight * field[zi, yi, xi, 1]
        w += weight * field[zi, yi, xi, 2]
    return u, v, w


# One flow-field chain per point (output pixel -> frame q = A p -> field f at B q -> C (q + f)),
# shared by the CPU and CUDA kernels. ``maps`` is (3, k, k + 1): A, B, C.


@register_jitable
def flow_lookup_2d(field, maps, x, y):
    """(qx, qy, u, v): the frame point of output pixel (x, y) and the field's value there."""
    qx = maps[0, 0, 0] * x + maps[0, 0, 1] * y + maps[0, 0, 2]
    qy = maps[0, 1, 0] * x + maps[0, 1, 1] * y + maps[0, 1, 2]
    fx = maps[1, 0, 0] * qx + maps[1, 0, 1] * qy + maps[1, 0, 2]
    fy = maps[1, 1, 0] * qx + maps[1, 1, 1] * qy + maps[1, 1, 2]
    u, v = field_at_2d(field, fx, fy)
    return qx, qy, u, v


@register_jitable
def flow_finish_2d(maps, qx, qy, u, v, absolute):
    """The input pixel: C applied to q + f (displacements) or to f (absolute coordinates)."""
    if not absolute:
        u += qx
        v += qy
    px = maps[2, 0, 0] * u + maps[2, 0, 1] * v + maps[2, 0, 2]
    py = maps[2, 1, 0] * u + maps[2, 1, 1] * v + maps[2, 1, 2]
    return px, py


@register_jitable
def flow_lookup_3d(field, maps, x, y, z):
    """(qx, qy, qz, u, v, w): :func:`flow_lookup_2d` for volumes."""
    m = maps[0]
    qx = m[0, 0] * x + m[0, 1] * y + m[0, 2] * z + m[0, 3]
    qy = m[1, 0] * x + m[1, 1] * y + m[1, 2] * z + m[1, 3]
    qz = m[2, 0] * x + m[2, 1] * y + m[2, 2] * z + m[2, 3]
    m = maps[1]
    fx = m[0, 0] * qx + m[0, 1] * qy + m[0, 2] * qz + m[0, 3]
    fy = m[1, 0] * qx + m[1, 1] * qy + m[1, 2] * qz + m[1, 3]
    fz = m[2, 0] * qx + m[2, 1] * qy + m[2, 2] * qz + m[2, 3]
    u, v, w = field_at_3d(field, fx, fy, fz)
    return qx, qy, qz, u, v, w


@register_jitable
def flow_finish_3d(maps, qx, qy, qz, u, v, w, absolute):
    """:func:`flow_finish_2d` for volumes."""
    if not absolute:
        u += qx
        v += qy
        w += qz
    m = maps[2]
    px = m[0, 0] * u + m[0, 1] * v + m[0, 2] * w + m[0, 3]
    py = m[1, 0] * u + m[1, 1] * v + m[1, 2] * w + m[1, 3]
    pz = m[2, 0] * u + m[2, 1] * v + m[2, 2] * w + m[2, 3]
    return px, py, pz


@register_jitable
def split_index_2d(i, height, width):
    """(n, row, column) of flat output point ``i`` of an (N, C, H, W) output."""
    plane = height * width
    n = i // plane
    rest = i - n * plane
    row = rest // width
    return n, row, rest - row * width


@register_jitable
def split_index_3d(i, depth, height, width):
    """(n, slice, row, column) of flat output point ``i`` of an (N, C, D, H, W) output."""
    column = i % width
    rest = i // width
    row = rest % height
    rest = rest // height
    return rest // depth, rest % depth, row, column


# Separable maps: when the maps before the field (output -> frame -> field) have no rotation or
# shear, a field position's x depends on the output column alone and y (z) on the row (slice)
# alone. Kernels then interpolate the field along y (and z) once per output row into a row
# buffer, and along x with per-column tables: 2 loads per component and point instead of 4 (8).


@register_jitable
def field_columns(maps, width, field_width, first):
    """Per output column ``first .. first + width - 1`` (whole-output indices: a window's
    columns start at ``first``): (low index, high index, upper weight) on the field's x axis and
    the frame coordinate ``qx``, for diagonal ``maps[0]`` and ``maps[1]`` (last column:
    offsets)."""
    last = maps.shape[2] - 1
    low = np.empty(width, np.int64)
    high = np.empty(width, np.int64)
    weight = np.empty(width)
    frame = np.empty(width)
    for wo in range(width):
        qx = maps[0, 0, 0] * float(wo + first) + maps[0, 0, last]
        low[wo], high[wo], weight[wo] = _field_axis(
            maps[1, 0, 0] * qx + maps[1, 0, last], field_width
        )
        frame[wo] = qx
    return low, high, weight, frame


@register_jitable
def field_row_2d(field, fy, wanted):
    """The field (H, W, 2) interpolated along y at field row ``fy``: shape (W, 2) (empty when
    not ``wanted``)."""
    y0, y1, wy = _field_axis(fy, field.shape[0])
    width = field.shape[1] if wanted else 0
    row = np.empty((width, 2))
    for i in range(width):
        for c in range(2):
            row[i, c] = (1.0 - wy) * field[y0, i, c] + wy * field[y1, i, c]
    return row


@register_jitable
def field_row_3d(field, fy, fz, wanted):
    """The field (D, H, W, 3) interpolated along y and z: shape (W, 3) (empty when not
    ``wanted``)."""
    y0, y1, wy = _field_axis(fy, field.shape[1])
    z0, z1, wz = _field_axis(fz, field.shape[0])
    width = field.shape[2] if wanted else 0
    row = np.empty((width, 3))
    for i in range(width):
        for c in range(3):
            near = (1.0 - wy) * field[z0, y0, i, c] + wy * field[z0, y1, i, c]
            far = (1.0 - wy) * field[z1, y0, i, c] + wy * field[z1, y1, i, c]
            row[i, c] = (1.0 - wz) * near + wz * far
    return row


# mode -> (point function, how a grid value becomes a pixel coordinate: torch's 2-D kernel and
# gswarp's tricubic use the fused form, torch's 3-D nearest/trilinear the scalar one). Both the
# CPU and the CUDA kernels are built around these.
POINT_2D = {
    BILINEAR: (bilinear_2d, unnormalize_vec),
    NEAREST: (nearest_2d, unnormalize_vec),
    BICUBIC: (bicubic_2d, unnormalize_vec),
}
POINT_3D = {
    BILINEAR: (trilinear_3d, unnormalize_scalar),
    NEAREST: (nearest_3d, unnormalize_scalar),
    BICUBIC: (tricubic_3d, unnormalize_vec),
}


# mode -> the function for points whose every neighbour is inside (see row_coordinate)
INTERIOR_2D = {
    BILINEAR: bilinear_interior_2d,
    NEAREST: nearest_interior_2d,
    BICUBIC: no_interior_2d,
}
INTERIOR_3D = {
    BILINEAR: trilinear_interior_3d,
    NEAREST: nearest_interior_3d,
    BICUBIC: no_interior_3d,
}


def point_functions(source: str, spatial: int, mode: int):
    """(point function, coordinate function) of a kernel: the mode's pair from
    :data:`POINT_2D`/:data:`POINT_3D`; a 'pixels' source reads pixel coordinates as they are."""
    point, unnormalize = (POINT_2D if spatial == 2 else POINT_3D)[mode]
    return point, (pixel_coordinate if source == "pixels" else unnormalize)
