"""Antialiased sampling: each output point averages the input over its footprint.

Scalar functions that numba-cuda compiles into the CUDA kernels (:mod:`gswarp.engine.cuda`),
like :mod:`gswarp.engine.pointwise`; the CPU runs the same math in C++
(``src/gswarp_core/antialias.hpp``, issue 28). The notes below describe the filter both follow.

The filter
----------
An output pixel is the image, through the warp, of a unit square (cube): near an output point the
warp is its Jacobian ``J`` (``J[a, b]`` = d input coordinate ``a`` / d output coordinate ``b``;
constant for an affine map, per point for flows). With ``J = U S V^T`` the footprint is stretched
by the singular values ``S`` along the axes ``U``. The filter is the mode's own interpolation
kernel ``k`` -- the tent of (bi/tri)linear, Keys' cubic (a = -0.75) of bicubic -- stretched along
those axes by ``sigma(S) = S' + WIDEN (S' - 1)`` with ``S' = max(S, 1)``, so that its covariance is
``Sigma = U sigma^2 U^T``. Each input pixel ``q`` near the sample centre ``c`` gets the weight

    w(q) = prod_i k(u_i),    u = M (q - c),    M = L^-1,  L upper triangular, L L^T = Sigma

and the output is ``sum w(q) x[q] / sum w(q)``: a product filter in the frame ``L``, a (sheared)
box with exactly the stretched footprint's second moments.

* Where nothing shrinks the kernels are not run at all (point sampling, the same bytes), and as
  the shrink tends to 1, ``Sigma`` tends to the identity and the weights to the interpolation's
  own: antialiasing fades in continuously, with no jump in sharpness between a scale of 1 and
  0.99 (which matters for elastic fields, whose Jacobians hover around 1).
* For an axis-aligned resize ``L`` is diagonal: the separable scheme of Pillow's and torch's
  antialiased resizes (``WIDEN`` aside). For a rotation with a uniform scale ``L = sigma I``
  whatever the angle.
* The triangular frame makes it cheap: ``u_last`` is constant along a tap row (and in 3-D
  ``u_1`` along a row, ``u_2`` on a plane), so each tap costs one evaluation of ``k``.

``WIDEN`` and the kernels were chosen on a zone plate against ImageMagick's default EWA
(``benchmarks/RESULTS.md``, "Issue 14").

Padding
-------
Taps outside the input follow the padding mode: ``border`` repeats the edge pixel, ``reflection``
mirrors the index (about the edge pixels' centres with ``align_corners``, about their outer edges
without). ``zeros`` (a ``fill``): the taps repeat the edge pixel as with ``border``, and the result
is blended with ``fill`` by the *coverage*: the fraction of the output pixel's footprint (the
parallelogram / parallelepiped ``c + J [-1/2, 1/2]^k``) that lies inside the input's extent ``[-1/2,
size - 1/2]`` (exact in 2-D and for axis-aligned footprints in 3-D; oblique ones in 3-D integrate
one axis exactly and the two others over 16 x 16 strips). So a resize, whose footprints tile the
input exactly, never darkens its edges, and the edge of a rotated image is antialiased against the
fill by its exact area.

Frames
------
The per-point (or per-affine) quantities are computed on the host in float64
(:func:`gswarp.engine.antialias.footprint_frames`) and passed as a flat *frame*: ``M`` (k x k,
row-major, upper triangular), ``J`` (k x k, row-major), then the kernel's support (1: tent, 2:
cubic): 9 values in 2-D, 19 in 3-D.

Sums are kept in float64 whatever the compute dtype; the result is rounded to the compute dtype,
then stored as the point-sampled path stores (integers rounded half to even and clipped).
"""

from __future__ import annotations

import math

from numba.core.extending import register_jitable

from gswarp.engine.pointwise import (
    REFLECTION,
    ZEROS,
    cpu_inlined,
    flow_finish_2d,
    flow_finish_3d,
    flow_lookup_2d,
    flow_lookup_3d,
    isfinite,
    to_output,
)
from gswarp.sampling import ANTIALIAS_WIDEN, SHRINK_TOLERANCE

__all__ = [
    "FRAME_2D",
    "FRAME_3D",
    "SHRINK_TOLERANCE",
    "WIDEN",
    "coverage_2d",
    "coverage_3d",
    "derivative",
    "filter_weight",
    "filtered_2d",
    "filtered_3d",
    "flow_point_2d",
    "flow_point_3d",
    "footprint_2d",
    "footprint_3d",
    "frame_2d",
    "frame_3d",
    "jacobian_2d",
    "jacobian_3d",
    "tap_index",
]

WIDEN = ANTIALIAS_WIDEN  # gswarp.sampling.ANTIALIAS_WIDEN

_A = -0.75  # Keys' cubic convolution, as gswarp's (and torch's) bicubic
FRAME_2D = 9
FRAME_3D = 19

_SLACK = 1e-9  # pixels: a footprint overhanging the input by less counts as inside (rounding)
_STRIPS = 16  # coverage: strips (2-D) or strips per axis (3-D) integrated exactly along the first


@register_jitable
def filter_weight(t, support):
    """The filter ``k(t)`` (float64): the tent of (bi/tri)linear interpolation (``support`` 1)
    or Keys' cubic of bicubic (``support`` 2, a = -0.75)."""
    a = abs(t)
    if support == 1.0:
        return max(1.0 - a, 0.0)
    inner = ((_A + 2.0) * a - (_A + 3.0)) * a * a + 1.0
    outer = ((_A * a - 5.0 * _A) * a + 8.0 * _A) * a - 4.0 * _A
    outer = outer if a < 2.0 else 0.0  # both pieces, then selects: no branch, vectorizable
    return inner if a < 1.0 else outer


_JACOBI_SWEEPS = 16


@register_jitable
def _spread(singular_squared, cap):
    """``sigma(S)^2`` for ``S = sqrt(singular_squared)``: clamped to [1, cap], then widened."""
    s = min(max(math.sqrt(max(singular_squared, 0.0)), 1.0), cap)
    sigma = s + WIDEN * (s - 1.0)
    return sigma * sigma


@register_jitable
def frame_2d(j00, j01, j10, j11, support, cap, fr):
    """Fill frame ``fr`` (9 values, see the module notes) for Jacobian ``J`` of an image; return
    whether the map shrinks there (False also for a non-finite ``J``: point-sample).

    ``Sigma = sigma(S)^2`` as a function of ``A = J J^T`` (eigenvalues ``S^2``), from the top
    eigenvector in closed form; then ``L`` (upper triangular, ``L L^T = Sigma``) and ``M = L^-1``.
    ``cap`` bounds the stretch (the input's largest side)."""
    fr[4] = j00
    fr[5] = j01
    fr[6] = j10
    fr[7] = j11
    fr[8] = support
    if not (isfinite(j00) and isfinite(j01) and isfinite(j10) and isfinite(j11)):
        return False
    a = j00 * j00 + j01 * j01
    b = j00 * j10 + j01 * j11
    d = j10 * j10 + j11 * j11
    half = 0.5 * (a - d)
    r = math.sqrt(half * half + b * b)
    top = 0.5 * (a + d) + r
    if not top > (1.0 + SHRINK_TOLERANCE) ** 2:
        return False
    g1 = _spread(top, cap)
    g2 = _spread(0.5 * (a + d) - r, cap)
    # top eigenvector: (b, top - a) or (top - d, b), whichever is longer
    vx, vy = b, top - a
    wx, wy = top - d, b
    if wx * wx + wy * wy > vx * vx + vy * vy:
        vx, vy = wx, wy
    norm = vx * vx + vy * vy
    if norm > 0.0:
        k = (g1 - g2) / norm  # Sigma = g2 I + (g1 - g2) v v^T / |v|^2
        s00 = g2 + k * vx * vx
        s01 = k * vx * vy
        s11 = g2 + k * vy * vy
    else:  # isotropic: A is a multiple of the identity
        s00, s01, s11 = g1, 0.0, g1
    l11 = math.sqrt(s11)
    l01 = s01 / l11
    l00 = math.sqrt(max(s00 - l01 * l01, 0.0))
    fr[0] = 1.0 / l00
    fr[1] = -l01 / (l00 * l11)
    fr[2] = 0.0
    fr[3] = 1.0 / l11
    return True


@register_jitable
def frame_3d(jac, support, cap, fr, work):
    """:func:`frame_2d` for volumes: ``jac`` holds ``J`` row-major (9 values); the eigenvectors
    of ``J J^T`` come from cyclic Jacobi rotations in ``work`` (18 float64 scratch values)."""
    finite = True
    for i in range(9):
        fr[9 + i] = jac[i]
        finite = finite and isfinite(jac[i])
    fr[18] = support
    if not finite:
        return False
    a = work[0:9]  # A = J J^T, row-major; becomes diagonal
    v = work[9:18]  # eigenvectors in its columns
    scale = 0.0
    for i in range(3):
        for j in range(3):
            a[3 * i + j] = (
                jac[3 * i] * jac[3 * j]
                + jac[3 * i + 1] * jac[3 * j + 1]
                + jac[3 * i + 2] * jac[3 * j + 2]
            )
            v[3 * i + j] = 1.0 if i == j else 0.0
        scale += a[4 * i] * a[4 * i]
    for _ in range(_JACOBI_SWEEPS):
        off = a[1] * a[1] + a[2] * a[2] + a[5] * a[5]
        if off <= 1e-32 * scale:
            break
        for pair in range(3):
            p = 0 if pair < 2 else 1
            q = 1 if pair == 0 else 2
            apq = a[3 * p + q]
            if apq == 0.0:
                continue
            theta = (a[3 * q + q] - a[3 * p + p]) / (2.0 * apq)
            t = 1.0 / (abs(theta) + math.sqrt(theta * theta + 1.0))
            if theta < 0.0:
                t = -t
            c = 1.0 / math.sqrt(t * t + 1.0)
            s = t * c
            for k in range(3):  # A <- A R (columns p, q)
                akp = a[3 * k + p]
                akq = a[3 * k + q]
                a[3 * k + p] = c * akp - s * akq
                a[3 * k + q] = s * akp + c * akq
            for k in range(3):  # A <- R^T A (rows p, q)
                apk = a[3 * p + k]
                aqk = a[3 * q + k]
                a[3 * p + k] = c * apk - s * aqk
                a[3 * q + k] = s * apk + c * aqk
            for k in range(3):  # V <- V R
                vkp = v[3 * k + p]
                vkq = v[3 * k + q]
                v[3 * k + p] = c * vkp - s * vkq
                v[3 * k + q] = s * vkp + c * vkq
    top = max(a[0], a[4], a[8])
    if not top > (1.0 + SHRINK_TOLERANCE) ** 2:
        return False
    g0 = _spread(a[0], cap)
    g1 = _spread(a[4], cap)
    g2 = _spread(a[8], cap)
    # Sigma = sum_i g_i v_i v_i^T, into a[] (row-major)
    for i in range(3):
        for j in range(3):
            a[3 * i + j] = (
                g0 * v[3 * i] * v[3 * j]
                + g1 * v[3 * i + 1] * v[3 * j + 1]
                + g2 * v[3 * i + 2] * v[3 * j + 2]
            )
    l22 = math.sqrt(a[8])
    l12 = a[5] / l22
    l02 = a[2] / l22
    l11 = math.sqrt(max(a[4] - l12 * l12, 0.0))
    l01 = (a[1] - l02 * l12) / l11
    l00 = math.sqrt(max(a[0] - l01 * l01 - l02 * l02, 0.0))
    fr[0] = 1.0 / l00
    fr[1] = -l01 / (l00 * l11)
    fr[2] = (l01 * l12 - l02 * l11) / (l00 * l11 * l22)
    fr[3] = 0.0
    fr[4] = 1.0 / l11
    fr[5] = -l12 / (l11 * l22)
    fr[6] = 0.0
    fr[7] = 0.0
    fr[8] = 1.0 / l22
    return True


@register_jitable
def flow_point_2d(field, maps, absolute, x, y):
    """The input pixel ``(px, py)`` of output pixel ``(x, y)`` through a flow chain (float64)."""
    qx, qy, u, v = flow_lookup_2d(field, maps, x, y)
    return flow_finish_2d(maps, qx, qy, u, v, absolute)


@register_jitable
def flow_point_3d(field, maps, absolute, x, y, z):
    """:func:`flow_point_2d` for volumes."""
    qx, qy, qz, u, v, w = flow_lookup_3d(field, maps, x, y, z)
    return flow_finish_3d(maps, qx, qy, qz, u, v, w, absolute)


@register_jitable
def derivative(minus, centre, plus, has_minus, has_plus):
    """A coordinate's derivative along an output axis, as ``numpy.gradient``: central where both
    neighbours exist, one-sided at an edge, 0 on an axis of one point.

    Fields are not smooth everywhere (a stereo disparity's object edges, NaN holes): a neighbour
    that is not finite counts as absent, and where the two one-sided differences disagree by
    more than one pixel plus half their sizes (a jump, not a smooth stretch) the smaller one is
    taken, so that a footprint never spans a discontinuity. Smooth maps keep the central
    difference, bit for bit."""
    has_minus = has_minus and isfinite(minus)
    has_plus = has_plus and isfinite(plus)
    if has_minus and has_plus:
        back = centre - minus
        ahead = plus - centre
        if abs(ahead - back) > 1.0 + 0.5 * (abs(ahead) + abs(back)):
            return back if abs(back) < abs(ahead) else ahead
        return 0.5 * (plus - minus)
    if has_plus:
        return plus - centre
    if has_minus:
        return centre - minus
    return 0.0


@register_jitable
def tap_index(q, size, padding, align_corners):
    """The input index that integer tap ``q`` reads: border (and zeros, see the module notes)
    clamps it, reflection mirrors it as the point-sampled path mirrors whole-pixel coordinates."""
    if q >= 0 and q < size:
        return q
    if padding == REFLECTION:
        if align_corners:
            if size == 1:
                return 0
            period = 2 * (size - 1)
            m = q % period  # Python's modulo: non-negative
            return m if m < size else period - m
        period = 2 * size
        m = q % period
        return m if m < size else period - 1 - m
    return 0 if q < 0 else size - 1


@register_jitable
def _support(inverse, e, support):
    """The offsets ``d`` with ``|m d + e| < support`` as ``(lo, hi)`` (``hi < lo``: none), given
    ``inverse = 1 / m`` (``m`` a diagonal element of ``M``, never 0)."""
    a = (-support - e) * inverse
    b = (support - e) * inverse
    if a > b:
        return b, a
    return a, b


@register_jitable
def _interval(lo, hi, offset, slope, low, high):
    """``[lo, hi]`` narrowed to the ``t`` with ``low <= offset + slope t <= high``."""
    if slope == 0.0:
        if offset < low or offset > high:
            return 1.0, 0.0
        return lo, hi
    t0 = (low - offset) / slope
    t1 = (high - offset) / slope
    if t0 > t1:
        t0, t1 = t1, t0
    return max(lo, t0), min(hi, t1)


@register_jitable
def _clip(poly, count, source, target, axis, bound, keep_above):
    """Sutherland-Hodgman: the polygon ``poly[source]`` (``count`` vertices, x and y interleaved)
    cut by the half-plane ``coordinate[axis] >= bound`` (``keep_above``) or ``<= bound``, into
    ``poly[target]``; returns the new vertex count."""
    kept = 0
    if count == 0:
        return 0
    for i in range(count):
        j = (i + 1) % count
        ax = poly[source + 2 * i]
        ay = poly[source + 2 * i + 1]
        bx = poly[source + 2 * j]
        by = poly[source + 2 * j + 1]
        a = (ax if axis == 0 else ay) - bound
        b = (bx if axis == 0 else by) - bound
        if not keep_above:
            a = -a
            b = -b
        if a >= 0.0:
            poly[target + 2 * kept] = ax
            poly[target + 2 * kept + 1] = ay
            kept += 1
        if (a >= 0.0) != (b >= 0.0):  # the edge crosses the bound: add the crossing
            t = a / (a - b)
            poly[target + 2 * kept] = ax + t * (bx - ax)
            poly[target + 2 * kept + 1] = ay + t * (by - ay)
            kept += 1
    return kept


@register_jitable
def coverage_2d(cx, cy, fr, width, height, poly):
    """Fraction of the parallelogram ``c + J [-1/2, 1/2]^2`` inside the input's extent
    ``[-1/2, width - 1/2] x [-1/2, height - 1/2]``, exact: the parallelogram clipped by the
    extent's four sides (Sutherland-Hodgman; ``poly`` is float64 scratch of at least 32 values),
    its area by the shoelace formula. A degenerate ``J`` counts as inside where its centre is."""
    j00, j01, j10, j11 = fr[4], fr[5], fr[6], fr[7]
    ex = 0.5 * (abs(j00) + abs(j01))
    ey = 0.5 * (abs(j10) + abs(j11))
    x_lo, x_hi = -0.5, width - 0.5
    y_lo, y_hi = -0.5, height - 0.5
    if (
        cx - ex >= x_lo - _SLACK
        and cx + ex <= x_hi + _SLACK
        and cy - ey >= y_lo - _SLACK
        and cy + ey <= y_hi + _SLACK
    ):
        return 1.0
    if cx + ex <= x_lo or cx - ex >= x_hi or cy + ey <= y_lo or cy - ey >= y_hi:
        return 0.0
    area = abs(j00 * j11 - j01 * j10)
    if not area > 0.0:
        inside = cx >= x_lo and cx <= x_hi and cy >= y_lo and cy <= y_hi
        return 1.0 if inside else 0.0
    for k in range(4):  # corners c + J (+-1/2, +-1/2), in order around the parallelogram
        su = -0.5 if k == 0 or k == 3 else 0.5
        sv = -0.5 if k < 2 else 0.5
        poly[2 * k] = cx + j00 * su + j01 * sv
        poly[2 * k + 1] = cy + j10 * su + j11 * sv
    count = _clip(poly, 4, 0, 16, 0, x_lo, True)
    count = _clip(poly, count, 16, 0, 0, x_hi, False)
    count = _clip(poly, count, 0, 16, 1, y_lo, True)
    count = _clip(poly, count, 16, 0, 1, y_hi, False)
    twice = 0.0
    for i in range(count):
        j = (i + 1) % count
        twice += poly[2 * i] * poly[2 * j + 1] - poly[2 * j] * poly[2 * i + 1]
    return min(abs(0.5 * twice) / area, 1.0)


@register_jitable
def _overlap(centre, half, low, high):
    """Fraction of ``[centre - half, centre + half]`` inside ``[low, high]`` (a point: 0 or 1)."""
    if not half > 0.0:
        return 1.0 if low <= centre <= high else 0.0
    inside = min(centre + half, high) - max(centre - half, low)
    return max(inside, 0.0) / (2.0 * half)


@register_jitable
def coverage_3d(cx, cy, cz, fr, width, height, depth):
    """The 3-D :func:`coverage_2d`: ``c + J [-1/2, 1/2]^3`` against the input's extent. Exact
    for an axis-aligned ``J`` (a product of three overlaps); otherwise exact along J's first
    column and a midpoint sum over ``_STRIPS``^2 strips along the other two."""
    j = fr[9:18]
    ex = 0.5 * (abs(j[0]) + abs(j[1]) + abs(j[2]))
    ey = 0.5 * (abs(j[3]) + abs(j[4]) + abs(j[5]))
    ez = 0.5 * (abs(j[6]) + abs(j[7]) + abs(j[8]))
    x_lo, x_hi = -0.5, width - 0.5
    y_lo, y_hi = -0.5, height - 0.5
    z_lo, z_hi = -0.5, depth - 0.5
    if (
        cx - ex >= x_lo - _SLACK
        and cx + ex <= x_hi + _SLACK
        and cy - ey >= y_lo - _SLACK
        and cy + ey <= y_hi + _SLACK
        and cz - ez >= z_lo - _SLACK
        and cz + ez <= z_hi + _SLACK
    ):
        return 1.0
    if (
        cx + ex <= x_lo
        or cx - ex >= x_hi
        or cy + ey <= y_lo
        or cy - ey >= y_hi
        or cz + ez <= z_lo
        or cz - ez >= z_hi
    ):
        return 0.0
    if j[1] == 0.0 and j[2] == 0.0 and j[3] == 0.0 and j[5] == 0.0 and j[6] == 0.0 and j[7] == 0.0:
        return (
            _overlap(cx, ex, x_lo, x_hi)
            * _overlap(cy, ey, y_lo, y_hi)
            * _overlap(cz, ez, z_lo, z_hi)
        )
    inside = 0.0
    for a in range(_STRIPS):
        v = -0.5 + (a + 0.5) / _STRIPS
        for b in range(_STRIPS):
            w = -0.5 + (b + 0.5) / _STRIPS
            lo, hi = _interval(-0.5, 0.5, cx + j[1] * v + j[2] * w, j[0], x_lo, x_hi)
            lo, hi = _interval(lo, hi, cy + j[4] * v + j[5] * w, j[3], y_lo, y_hi)
            lo, hi = _interval(lo, hi, cz + j[7] * v + j[8] * w, j[6], z_lo, z_hi)
            if hi > lo:
                inside += hi - lo
    return inside / (_STRIPS * _STRIPS)


# The 2-D and 3-D forms below are written apart: a function inlined at numba IR level is typed
# whole, so a branch on ``inp.ndim`` would not compile (an image cannot take five indices).


@cpu_inlined
def _row_weights(wbuf, count, d0, m0, e0, support):
    """``wbuf[i] = k(m0 (d0 + i) + e0)`` for ``i < count``; returns their sum."""
    for i in range(count):  # a map, no reduction: vectorized
        wbuf[i] = filter_weight(m0 * (d0 + i) + e0, support)
    total = 0.0
    for i in range(count):
        total += wbuf[i]
    return total


@cpu_inlined
def _tap_row_2d(inp, n, iy, cx, e0, m0, inv0, support, factor, padding, align_corners, acc, wbuf):
    """Add the taps of input row ``iy``, each weighted ``factor * k(m0 dx + e0)``, to ``acc``;
    return the sum of their weights. Weights first (``wbuf``, in chunks of its length), then one
    dot product per channel over the row's run of pixels."""
    width = inp.shape[3]
    lo, hi = _support(inv0, e0, support)
    last = math.floor(cx + hi)
    chunk = wbuf.shape[0]
    total = 0.0
    for x0 in range(math.ceil(cx + lo), last + 1, chunk):
        count = min(chunk, last + 1 - x0)
        total += factor * _row_weights(wbuf, count, x0 - cx, m0, e0, support)
        if x0 >= 0 and x0 + count <= width:
            for c in range(inp.shape[1]):
                s = 0.0
                for i in range(count):
                    s += wbuf[i] * float(inp[n, c, iy, x0 + i])
                acc[c] += factor * s
        else:
            for i in range(count):
                ix = tap_index(x0 + i, width, padding, align_corners)
                for c in range(inp.shape[1]):
                    acc[c] += factor * wbuf[i] * float(inp[n, c, iy, ix])
    return total


@cpu_inlined
def _tap_row_3d(
    inp, n, iz, iy, cx, e0, m0, inv0, support, factor, padding, align_corners, acc, wbuf
):
    """:func:`_tap_row_2d` for row ``(iz, iy)`` of a volume."""
    width = inp.shape[4]
    lo, hi = _support(inv0, e0, support)
    last = math.floor(cx + hi)
    chunk = wbuf.shape[0]
    total = 0.0
    for x0 in range(math.ceil(cx + lo), last + 1, chunk):
        count = min(chunk, last + 1 - x0)
        total += factor * _row_weights(wbuf, count, x0 - cx, m0, e0, support)
        if x0 >= 0 and x0 + count <= width:
            for c in range(inp.shape[1]):
                s = 0.0
                for i in range(count):
                    s += wbuf[i] * float(inp[n, c, iz, iy, x0 + i])
                acc[c] += factor * s
        else:
            for i in range(count):
                ix = tap_index(x0 + i, width, padding, align_corners)
                for c in range(inp.shape[1]):
                    acc[c] += factor * wbuf[i] * float(inp[n, c, iz, iy, ix])
    return total


@register_jitable
def _value(c, total, acc, beta, fill):
    """``acc[c] / total`` blended with ``fill[c]`` by ``beta`` (float64)."""
    value = acc[c] / total if total != 0.0 else 0.0
    if beta < 1.0:
        value = beta * value + (1.0 - beta) * float(fill[c])
    return value


@cpu_inlined
def footprint_2d(inp, n, cx, cy, fr, out, ho, wo, padding, align_corners, fill, acc, wbuf, ct):
    """Antialiased sample of ``inp[n]`` at float64 pixel coordinates ``(cx, cy)`` with frame
    ``fr`` (see the module notes) into ``out[n, :, ho, wo]``; ``acc`` (one element per channel)
    and ``wbuf`` (at least 32 values: the coverage's polygons use it first) are float64
    scratch."""
    channels = inp.shape[1]
    height = inp.shape[2]
    width = inp.shape[3]
    beta = 0.0  # outside: the fill
    if isfinite(cx) and isfinite(cy):
        beta = coverage_2d(cx, cy, fr, width, height, wbuf) if padding == ZEROS else 1.0
    if beta <= 0.0:
        for c in range(channels):
            out[n, c, ho, wo] = to_output(ct(fill[c]), out)
        return
    for c in range(channels):
        acc[c] = 0.0
    total = 0.0
    support = fr[8]
    inv0 = 1.0 / fr[0]
    lo, hi = _support(1.0 / fr[3], 0.0, support)  # rows: u_1 = M[1, 1] dy
    for qy in range(math.ceil(cy + lo), math.floor(cy + hi) + 1):
        dy = qy - cy
        factor = filter_weight(fr[3] * dy, support)
        if factor == 0.0:
            continue
        iy = tap_index(qy, height, padding, align_corners)
        total += _tap_row_2d(
            inp,
            n,
            iy,
            cx,
            fr[1] * dy,
            fr[0],
            inv0,
            support,
            factor,
            padding,
            align_corners,
            acc,
            wbuf,
        )
    for c in range(channels):
        out[n, c, ho, wo] = to_output(ct(_value(c, total, acc, beta, fill)), out)


@register_jitable
def footprint_3d(
    inp, n, cx, cy, cz, fr, out, do, ho, wo, padding, align_corners, fill, acc, wbuf, ct
):
    """The 3-D :func:`footprint_2d`, into ``out[n, :, do, ho, wo]``."""
    channels = inp.shape[1]
    depth = inp.shape[2]
    height = inp.shape[3]
    width = inp.shape[4]
    beta = 0.0  # outside: the fill
    if isfinite(cx) and isfinite(cy) and isfinite(cz):
        beta = coverage_3d(cx, cy, cz, fr, width, height, depth) if padding == ZEROS else 1.0
    if beta <= 0.0:
        for c in range(channels):
            out[n, c, do, ho, wo] = to_output(ct(fill[c]), out)
        return
    for c in range(channels):
        acc[c] = 0.0
    total = 0.0
    support = fr[18]
    inv0 = 1.0 / fr[0]
    inv1 = 1.0 / fr[4]
    z_lo, z_hi = _support(1.0 / fr[8], 0.0, support)  # planes: u_2 = M[2, 2] dz
    for qz in range(math.ceil(cz + z_lo), math.floor(cz + z_hi) + 1):
        dz = qz - cz
        plane = filter_weight(fr[8] * dz, support)
        if plane == 0.0:
            continue
        iz = tap_index(qz, depth, padding, align_corners)
        y_lo, y_hi = _support(inv1, fr[5] * dz, support)  # rows: u_1 = M[1, 1] dy + M[1, 2] dz
        for qy in range(math.ceil(cy + y_lo), math.floor(cy + y_hi) + 1):
            dy = qy - cy
            factor = plane * filter_weight(fr[4] * dy + fr[5] * dz, support)
            if factor == 0.0:
                continue
            iy = tap_index(qy, height, padding, align_corners)
            e0 = fr[1] * dy + fr[2] * dz
            total += _tap_row_3d(
                inp,
                n,
                iz,
                iy,
                cx,
                e0,
                fr[0],
                inv0,
                support,
                factor,
                padding,
                align_corners,
                acc,
                wbuf,
            )
    for c in range(channels):
        out[n, c, do, ho, wo] = to_output(ct(_value(c, total, acc, beta, fill)), out)


@cpu_inlined
def jacobian_2d(rows, r, wo, ox, oy):
    """``J`` at column ``wo`` of row ``r`` of ``rows`` (R, W, 2) (numpy.gradient's rules)."""
    width = rows.shape[1]
    left = wo > 0
    right = wo + 1 < width
    up = r > 0
    down = r + 1 < rows.shape[0]
    wl = wo - 1 if left else wo
    wr = wo + 1 if right else wo
    ru = r - 1 if up else r
    rd = r + 1 if down else r
    return (
        derivative(rows[r, wl, 0], ox, rows[r, wr, 0], left, right),
        derivative(rows[ru, wo, 0], ox, rows[rd, wo, 0], up, down),
        derivative(rows[r, wl, 1], oy, rows[r, wr, 1], left, right),
        derivative(rows[ru, wo, 1], oy, rows[rd, wo, 1], up, down),
    )


@register_jitable
def jacobian_3d(grid, s, r, wo, centre, jac):
    """``J`` (row-major into ``jac``) at ``grid[s, r, wo]`` of a coordinate volume grid
    (S, R, W, 3) (numpy.gradient's rules)."""
    width = grid.shape[2]
    left = wo > 0
    right = wo + 1 < width
    up = r > 0
    down = r + 1 < grid.shape[1]
    front = s > 0
    back = s + 1 < grid.shape[0]
    wl = wo - 1 if left else wo
    wr = wo + 1 if right else wo
    ru = r - 1 if up else r
    rd = r + 1 if down else r
    sf = s - 1 if front else s
    sb = s + 1 if back else s
    for a in range(3):
        jac[3 * a] = derivative(grid[s, r, wl, a], centre[a], grid[s, r, wr, a], left, right)
        jac[3 * a + 1] = derivative(grid[s, ru, wo, a], centre[a], grid[s, rd, wo, a], up, down)
        jac[3 * a + 2] = derivative(grid[sf, r, wo, a], centre[a], grid[sb, r, wo, a], front, back)


@cpu_inlined
def filtered_2d(
    inp, n, cx, cy, jac, support, cap, fr, out, ho, wo, padding, align_corners, fill, acc, wbuf, ct
):
    """The antialiased sample at ``(cx, cy)`` whose Jacobian is ``jac`` (4 values, row-major),
    into ``out[n, :, ho, wo]``, if the map shrinks there; returns whether it was written (if not,
    the caller point-samples). ``fr``: frame scratch (:data:`FRAME_2D` values)."""
    if not frame_2d(jac[0], jac[1], jac[2], jac[3], support, cap, fr):
        return False
    footprint_2d(inp, n, cx, cy, fr, out, ho, wo, padding, align_corners, fill, acc, wbuf, ct)
    return True


@register_jitable
def filtered_3d(
    inp,
    n,
    centre,
    jac,
    support,
    cap,
    fr,
    work,
    out,
    do,
    ho,
    wo,
    padding,
    align_corners,
    fill,
    acc,
    wbuf,
    ct,
):
    """:func:`filtered_2d` for volumes: ``centre`` (3), ``jac`` (9, row-major), ``work`` the
    scratch of :func:`frame_3d`."""
    if not frame_3d(jac, support, cap, fr, work):
        return False
    cx, cy, cz = centre[0], centre[1], centre[2]
    footprint_3d(
        inp, n, cx, cy, cz, fr, out, do, ho, wo, padding, align_corners, fill, acc, wbuf, ct
    )
    return True
