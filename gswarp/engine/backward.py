"""Per-point functions of gswarp's backward passes (issue 17), in numba for the CUDA kernels of
:mod:`gswarp.engine.cuda`: the gradients for the input, for the grid, and for an affine warp's
matrix, with torch's semantics (``../shared/reference/grid_sample_semantics.md`` §3, §7). The
CPU runs the same math compiled (``src/gswarp_core/backward.hpp``, issue 28); this module goes
when the GPU moves onto the C++ core (issue 31).

Per output point the coordinate is turned into input pixels as in the forward pass -- a grid
value un-normalized, or an affine matrix stepped along the output row -- and the derivative of
the output for that pixel coordinate is computed, then multiplied by the chain's factors:

- padding (bilinear, trilinear, nearest): 0 where border or reflection padding clips (the
  boundaries ``p <= 0`` and ``p >= S - 1`` count as clipped), -1 where reflection mirrors;
  bicubic pads its integer taps, so its derivative has no padding factor (torch's rule);
- a grid's un-normalization scale, ``(S - 1) / 2`` with ``align_corners``, ``S / 2`` without;
- an affine matrix: ``d out / d M[k, j] = d out / d p_k * q_j`` with ``q = (x, y[, z], 1)`` the
  output pixel, summed per output row in float64.

Formulas: bilinear (2-D) uses torch's vectorized kernel's fused multiply-adds, trilinear its
scalar kernel's products -- the grid gradients are torch's bits; bicubic uses Keys' derivative
weights (torch's own float32 order is not reproducible, reference §7), tricubic (gswarp's own)
the same on three axes; nearest has a zero coordinate gradient. With zeros padding a corner or
tap outside the input reads ``fill`` (0 unless the caller gave one), as in the forward pass.

Order and threads: coordinate gradients are computed per output point (threads over output
rows, channels summed in order, rows summed in order afterwards; in 2-D, optionally one pass
per channel plane that carries each point's sums in the output array); ``grad_input`` by jobs
that each own a band of rows (2-D) or slices (3-D) of one (batch item, channel) plane, or of
all of a batch item's channels: a job zeroes its band, scans every output point in order and
adds only the corners that fall in its band (:func:`accumulate_2d`). Each input pixel's sum is
thus in output-point order whatever the bands and the channel grouping, so every result is the
same bytes for every thread count, and the scatter needs no memory beyond ``grad_input``
itself; the price is that each band's job recomputes the coordinates of every point (cheap next
to the scattered adds). The caller picks the layout (``channel_inner``: all channels of a point
at once, for grids whose neighbouring points read nearby input; one plane at a time otherwise,
keeping scattered reads and adds within one plane's cache footprint) and the fewest bands that
keep the threads evenly loaded (``gswarp.autodiff._is_local``, ``_scatter_bands``).

NaN or infinite coordinates: the point adds nothing to ``grad_input`` and has a zero coordinate
gradient (its output is the constant ``fill``; torch's CPU kernel crashes or scatters NaN there).
"""

from __future__ import annotations

import numpy as np
from numba.extending import register_jitable

from gswarp.engine.pointwise import (
    BORDER,
    CUBIC_A,
    REFLECTION,
    clip,
    cpu_inlined,
    cubic_taps,
    cubic_weights,
    floor,
    fma,
    index_in,
    inside,
    isfinite,
    point_functions,
    reflect_scalar,
    reflect_vec,
    reflection_bounds,
    rint,
    trunc,
    unnormalize_scalar,
    unnormalize_vec,
)
from gswarp.sampling import Mode

# --------------------------------------------------------------------------------------------
# padding's gradient multipliers
#
# The helpers are inlined at numba's IR level (``cpu_inlined``): as calls (``register_jitable``)
# the 2-D kernels ran 1.8x slower (measured: grid gradient 414 against 230 ms, 1x3x2048^2).
# (measured when the CPU kernels were numba's). Inlining these branchy helpers trips numba's
# pedantic SSA check (NumbaIRAssumptionWarning).


@cpu_inlined
def _clip_grad(p, size, ct):
    """torch's clip multiplier: 0 on or beyond the edges ``0`` and ``size - 1``, else 1."""
    if p <= ct(0) or p >= ct(size - 1):
        return ct(0)
    return ct(1)


@cpu_inlined
def _reflect_sign_vec(p, size, align_corners, ct):
    """torch's vectorized reflection multiplier (+1 or -1) at pixel coordinate ``p``."""
    low, span = reflection_bounds(size, align_corners, ct)
    if span == ct(0):
        return ct(0)
    twice_span = span * ct(2)
    a = abs(p - low)
    flips = trunc(a / twice_span)
    extra = fma(-flips, twice_span, a)
    mirrored = extra > twice_span - extra
    negative = p - low < ct(0)
    return ct(-1) if mirrored != negative else ct(1)


@cpu_inlined
def _reflect_sign_scalar(p, size, align_corners, ct):
    """torch's scalar reflection multiplier (+1 or -1) at pixel coordinate ``p``."""
    low, span = reflection_bounds(size, align_corners, ct)
    if span == ct(0):
        return ct(0)
    sign = ct(-1) if p - low < ct(0) else ct(1)
    flips = floor(abs(p - low) / span)
    return sign if flips % ct(2) == ct(0) else -sign


@cpu_inlined
def _pad_grad(p, size, padding, align_corners, ct, scalar):
    """(padded pixel coordinate, padding's multiplier 0 / +1 / -1): torch's vectorized 2-D
    formulas, or its scalar (3-D) ones with ``scalar``."""
    m = ct(1)
    if padding == BORDER:
        m = _clip_grad(p, size, ct)
        p = clip(p, size, ct)
    elif padding == REFLECTION:
        if scalar:
            m = _reflect_sign_scalar(p, size, align_corners, ct)
            p = reflect_scalar(p, size, align_corners, ct)
        else:
            m = _reflect_sign_vec(p, size, align_corners, ct)
            p = reflect_vec(p, size, align_corners, ct)
        m = m * _clip_grad(p, size, ct)
        p = clip(p, size, ct)
    return p, m


@cpu_inlined
def _cell(p, ct):
    """``(i0, d0, d1)``: the linear cell of pixel coordinate ``p`` -- its near corner and the
    weights of the near and far corners, ``1 - (p - i0)`` and ``p - i0`` (torch's backward
    weights; the vectorized 2-D kernel's ``e``/``w`` and ``s``/``n``)."""
    near = floor(p)
    d1 = p - near
    return np.int64(near), ct(1) - d1, d1


@cpu_inlined
def _in(i, size):
    return 0 <= i < size


@cpu_inlined
def accumulate_2d(array, n, c, y, x, value, lo, hi):
    """``array[n, c, y, x] += value`` where ``lo <= y < hi``: on the CPU a plain add, by the
    one thread that owns the band of rows ``[lo, hi)`` of that (n, c) plane; on the GPU an atomic
    add, bands ignored (:mod:`gswarp.engine.cuda` registers that form)."""
    if hi - lo == array.shape[2]:  # the whole plane: a plain add
        array[n, c, y, x] += value
        return
    # a band: a select, not a branch (a random grid's points fall in or out of a band at
    # random, and a mispredicted branch per corner cost more than the add); the clamp keeps
    # the unchanged store inside the band, off other threads' rows
    row = min(max(y, lo), hi - 1)
    kept = array[n, c, row, x]
    array[n, c, row, x] = kept + value if lo <= y < hi else kept


@cpu_inlined
def accumulate_3d(array, n, c, z, y, x, value, lo, hi):
    """``array[n, c, z, y, x] += value`` where ``lo <= z < hi`` (see :func:`accumulate_2d`)."""
    if hi - lo == array.shape[2]:
        array[n, c, z, y, x] += value
        return
    depth = min(max(z, lo), hi - 1)
    kept = array[n, c, depth, y, x]
    array[n, c, depth, y, x] = kept + value if lo <= z < hi else kept


# --------------------------------------------------------------------------------------------
# cubic convolution's derivative weights


@cpu_inlined
def _cubic_inner_slope(u, ct):
    """d/du of ``((a+2)u - (a+3))u^2 + 1``: ``3(a+2)u^2 - 2(a+3)u``."""
    a = ct(CUBIC_A)
    return (ct(3) * (a + ct(2)) * u - ct(2) * (a + ct(3))) * u


@cpu_inlined
def _cubic_outer_slope(u, ct):
    """d/du of ``((a u - 5a) u + 8a) u - 4a``: ``3a u^2 - 10a u + 8a``."""
    a = ct(CUBIC_A)
    return (ct(3) * a * u - ct(10) * a) * u + ct(8) * a


@cpu_inlined
def cubic_slopes(t, ct):
    """d/dt of :func:`gswarp.engine.pointwise.cubic_weights` (taps at -1, 0, 1, 2)."""
    return (
        _cubic_outer_slope(t + ct(1), ct),
        _cubic_inner_slope(t, ct),
        -_cubic_inner_slope(ct(1) - t, ct),
        -_cubic_outer_slope(ct(2) - t, ct),
    )


@cpu_inlined
def _cubic_axis(p, size, padding, align_corners, ct):
    """Along one axis, for pixel coordinate ``p`` (before padding): the four taps' weights,
    their derivatives for ``p``, the padded tap indices and their in-bounds flags."""
    p0 = floor(p)
    taps, valid = cubic_taps(p0, size, padding, align_corners, ct)
    return cubic_weights(p - p0, ct), cubic_slopes(p - p0, ct), taps, valid


# --------------------------------------------------------------------------------------------
# where an output point reads: ``(source, inp, n, [do,] ho, wo, align_corners, ct)`` ->
# ``(px, py[, pz], finite)``, the input pixel coordinates and whether the source gave finite
# values there (a grid's values, or the coordinates a matrix computes)


@cpu_inlined
def grid_point_2d(grid, inp, n, ho, wo, align_corners, ct):
    """A grid point's input pixel: torch's vectorized un-normalization of ``grid[n, ho, wo]``."""
    gx = ct(grid[n, ho, wo, 0])
    gy = ct(grid[n, ho, wo, 1])
    px = unnormalize_vec(gx, inp.shape[3], align_corners, ct)
    py = unnormalize_vec(gy, inp.shape[2], align_corners, ct)
    return px, py, isfinite(gx) and isfinite(gy)


@cpu_inlined
def _grid_point_3d(grid, inp, n, do, ho, wo, align_corners, vectorized, ct):
    gx = ct(grid[n, do, ho, wo, 0])
    gy = ct(grid[n, do, ho, wo, 1])
    gz = ct(grid[n, do, ho, wo, 2])
    if vectorized:
        px = unnormalize_vec(gx, inp.shape[4], align_corners, ct)
        py = unnormalize_vec(gy, inp.shape[3], align_corners, ct)
        pz = unnormalize_vec(gz, inp.shape[2], align_corners, ct)
    else:
        px = unnormalize_scalar(gx, inp.shape[4], align_corners, ct)
        py = unnormalize_scalar(gy, inp.shape[3], align_corners, ct)
        pz = unnormalize_scalar(gz, inp.shape[2], align_corners, ct)
    return px, py, pz, isfinite(gx) and isfinite(gy) and isfinite(gz)


@cpu_inlined
def grid_point_3d(grid, inp, n, do, ho, wo, align_corners, ct):
    """A grid point's input voxel: torch's scalar un-normalization (trilinear, nearest)."""
    return _grid_point_3d(grid, inp, n, do, ho, wo, align_corners, False, ct)


@cpu_inlined
def grid_point_3d_vec(grid, inp, n, do, ho, wo, align_corners, ct):
    """A grid point's input voxel: the vectorized un-normalization (gswarp's tricubic)."""
    return _grid_point_3d(grid, inp, n, do, ho, wo, align_corners, True, ct)


@cpu_inlined
def matrix_point_2d(matrix, inp, n, ho, wo, align_corners, ct):
    """Input pixel ``(x, y)`` of output pixel ``(wo, ho)`` under the pixel-space ``matrix[n]``,
    as the forward affine kernels compute it: a float64 row origin, one fused multiply-add."""
    column = np.float64(wo)
    px = ct(fma(matrix[n, 0, 0], column, matrix[n, 0, 1] * ho + matrix[n, 0, 2]))
    py = ct(fma(matrix[n, 1, 0], column, matrix[n, 1, 1] * ho + matrix[n, 1, 2]))
    return px, py, isfinite(px) and isfinite(py)


@cpu_inlined
def matrix_point_3d(matrix, inp, n, do, ho, wo, align_corners, ct):
    """Input voxel ``(x, y, z)`` of output voxel ``(wo, ho, do)`` (see
    :func:`matrix_point_2d`)."""
    column = np.float64(wo)
    ox = matrix[n, 0, 1] * ho + matrix[n, 0, 2] * do + matrix[n, 0, 3]
    oy = matrix[n, 1, 1] * ho + matrix[n, 1, 2] * do + matrix[n, 1, 3]
    oz = matrix[n, 2, 1] * ho + matrix[n, 2, 2] * do + matrix[n, 2, 3]
    px = ct(fma(matrix[n, 0, 0], column, ox))
    py = ct(fma(matrix[n, 1, 0], column, oy))
    pz = ct(fma(matrix[n, 2, 0], column, oz))
    return px, py, pz, isfinite(px) and isfinite(py) and isfinite(pz)


def source_point_function(source: str, spatial: int, mode: int):
    """The point function of ``source`` ('grid' or 'affine') for ``spatial`` dims and ``mode``:
    a grid's un-normalization is the forward pass's for that mode."""
    if source == "affine":
        return matrix_point_2d if spatial == 2 else matrix_point_3d
    if spatial == 2:
        return grid_point_2d
    _, unnormalize = point_functions("grid", spatial, mode)
    return grid_point_3d_vec if unnormalize is unnormalize_vec else grid_point_3d


# --------------------------------------------------------------------------------------------
# one output point: d(sum_c grad_out_c * out_c) / d(pixel coordinate, before padding)
#
# The kernel factories capture these in closures; they are plain Python functions registered
# with numba (``cpu_inlined``, ``register_jitable``), not dispatchers, because numba keys its
# on-disk cache on a closure's contents and a captured dispatcher gives a new key in every
# process (every run compiled again: measured, 347 cache files after a few runs).
#
# Common parameters: gout (N, C, *out) and inp (N, C, *in) arrays; n, (do,) ho, wo the output
# point; px, py[, pz] its pixel coordinates in ct, finite; padding, align_corners; fill (C,) ct.
#
# The 2-D functions sum channels ``c_first`` to ``c_stop - 1`` onto the sums ``acc_x, acc_y``
# carried from the channels before (torch's order, so the bits do not depend on the split) and
# return ``(acc_x, acc_y, mx, my)``: the gradient is ``(acc_x * mx, acc_y * my)`` once every
# channel is in (mx, my padding's multipliers). A kernel can thus take the channels one plane at
# a time (a random grid's reads then stay within one plane's cache footprint) or all at once.


@cpu_inlined
def _bilinear_channel_grad(gout, inp, n, c, ho, wo, v_nw, v_ne, v_sw, v_se, e, w, s, nn, acc):
    """``acc`` (x, y) plus channel ``c``'s term of a bilinear point's coordinate gradient, from
    its four corner values, in torch's vectorized kernel's fused multiply-adds."""
    inner_x = fma(v_se - v_sw, nn, (v_ne - v_nw) * s)
    inner_y = fma(v_se - v_ne, w, (v_sw - v_nw) * e)
    g = gout[n, c, ho, wo]
    return fma(inner_x, g, acc[0]), fma(inner_y, g, acc[1])


@cpu_inlined
def _bilinear_interior_channel(gout, inp, n, c, ho, wo, x0, y0, e, w, s, nn, acc):
    """:func:`_bilinear_channel_grad` for a point whose four corners are inside: no masks."""
    v_nw = inp[n, c, y0, x0]
    v_ne = inp[n, c, y0, x0 + 1]
    v_sw = inp[n, c, y0 + 1, x0]
    v_se = inp[n, c, y0 + 1, x0 + 1]
    return _bilinear_channel_grad(gout, inp, n, c, ho, wo, v_nw, v_ne, v_sw, v_se, e, w, s, nn, acc)


@cpu_inlined
def _bilinear_grad_2d(
    gout, inp, n, ho, wo, px, py, padding, align_corners, fill, ct, c_first, c_stop, acc_x, acc_y
):
    H = inp.shape[2]
    W = inp.shape[3]
    px, mx = _pad_grad(px, W, padding, align_corners, ct, False)
    py, my = _pad_grad(py, H, padding, align_corners, ct, False)
    if not (inside(px, W, ct) and inside(py, H, ct)):
        return ct(0), ct(0), ct(0), ct(0)  # every corner reads the fill: a constant
    x0, e, w = _cell(px, ct)
    y0, s, nn = _cell(py, ct)
    x1 = x0 + 1
    y1 = y0 + 1
    acc = (acc_x, acc_y)
    if x0 >= 0 and x1 < W and y0 >= 0 and y1 < H:
        # all four corners inside (the common case): no masks; RGB unrolled, as the forward
        if c_stop - c_first == 3:
            for c in (c_first, c_first + 1, c_first + 2):
                acc = _bilinear_interior_channel(gout, inp, n, c, ho, wo, x0, y0, e, w, s, nn, acc)
        else:
            for c in range(c_first, c_stop):
                acc = _bilinear_interior_channel(gout, inp, n, c, ho, wo, x0, y0, e, w, s, nn, acc)
        return acc[0], acc[1], mx, my
    for c in range(c_first, c_stop):
        f = fill[c]
        v_nw = inp[n, c, y0, x0] if _in(x0, W) and _in(y0, H) else f
        v_ne = inp[n, c, y0, x1] if _in(x1, W) and _in(y0, H) else f
        v_sw = inp[n, c, y1, x0] if _in(x0, W) and _in(y1, H) else f
        v_se = inp[n, c, y1, x1] if _in(x1, W) and _in(y1, H) else f
        acc = _bilinear_channel_grad(
            gout, inp, n, c, ho, wo, v_nw, v_ne, v_sw, v_se, e, w, s, nn, acc
        )
    return acc[0], acc[1], mx, my


@register_jitable
def _bicubic_grad_2d(
    gout, inp, n, ho, wo, px, py, padding, align_corners, fill, ct, c_first, c_stop, acc_x, acc_y
):
    wx, dx, ix, mx = _cubic_axis(px, inp.shape[3], padding, align_corners, ct)
    wy, dy, iy, my = _cubic_axis(py, inp.shape[2], padding, align_corners, ct)
    for c in range(c_first, c_stop):
        g = gout[n, c, ho, wo]
        f = fill[c]
        for i in range(4):
            for j in range(4):
                v = inp[n, c, iy[j], ix[i]] if (my[j] and mx[i]) else f
                acc_x += ((v * dx[i]) * wy[j]) * g
                acc_y += ((v * wx[i]) * dy[j]) * g
    return acc_x, acc_y, ct(1), ct(1)


@cpu_inlined
def _zero_grad_2d(
    gout, inp, n, ho, wo, px, py, padding, align_corners, fill, ct, c_first, c_stop, acc_x, acc_y
):
    return ct(0), ct(0), ct(0), ct(0)


@cpu_inlined
def _trilinear_grad_3d(gout, inp, n, do, ho, wo, px, py, pz, padding, align_corners, fill, ct):
    D = inp.shape[2]
    H = inp.shape[3]
    W = inp.shape[4]
    px, mx = _pad_grad(px, W, padding, align_corners, ct, True)
    py, my = _pad_grad(py, H, padding, align_corners, ct, True)
    pz, mz = _pad_grad(pz, D, padding, align_corners, ct, True)
    if not (inside(px, W, ct) and inside(py, H, ct) and inside(pz, D, ct)):
        return ct(0), ct(0), ct(0)
    x0, dx0, dx1 = _cell(px, ct)
    y0, dy0, dy1 = _cell(py, ct)
    z0, dz0, dz1 = _cell(pz, ct)
    gix = ct(0)
    giy = ct(0)
    giz = ct(0)
    if x0 >= 0 and x0 + 1 < W and y0 >= 0 and y0 + 1 < H and z0 >= 0 and z0 + 1 < D:
        # all eight corners inside (the common case): the same sums, no masks
        for c in range(inp.shape[1]):
            g = gout[n, c, do, ho, wo]
            for cz in range(2):
                wz = dz1 if cz else dz0
                sz = ct(1) if cz else ct(-1)
                for cy in range(2):
                    wy = dy1 if cy else dy0
                    sy = ct(1) if cy else ct(-1)
                    for cx in range(2):
                        wx = dx1 if cx else dx0
                        sx = ct(1) if cx else ct(-1)
                        v = inp[n, c, z0 + cz, y0 + cy, x0 + cx]
                        gix += sx * ((v * wy) * wz) * g
                        giy += sy * ((v * wx) * wz) * g
                        giz += sz * ((v * wx) * wy) * g
        return mx * gix, my * giy, mz * giz
    for c in range(inp.shape[1]):
        g = gout[n, c, do, ho, wo]
        f = fill[c]
        for cz in range(2):
            z = z0 + cz
            wz = dz1 if cz else dz0
            sz = ct(1) if cz else ct(-1)
            for cy in range(2):
                y = y0 + cy
                wy = dy1 if cy else dy0
                sy = ct(1) if cy else ct(-1)
                for cx in range(2):
                    x = x0 + cx
                    wx = dx1 if cx else dx0
                    sx = ct(1) if cx else ct(-1)
                    inb = _in(x, W) and _in(y, H) and _in(z, D)
                    v = inp[n, c, z, y, x] if inb else f
                    gix += sx * ((v * wy) * wz) * g
                    giy += sy * ((v * wx) * wz) * g
                    giz += sz * ((v * wx) * wy) * g
    return mx * gix, my * giy, mz * giz


@register_jitable
def _tricubic_grad_3d(gout, inp, n, do, ho, wo, px, py, pz, padding, align_corners, fill, ct):
    wx, dx, ix, mx = _cubic_axis(px, inp.shape[4], padding, align_corners, ct)
    wy, dy, iy, my = _cubic_axis(py, inp.shape[3], padding, align_corners, ct)
    wz, dz, iz, mz = _cubic_axis(pz, inp.shape[2], padding, align_corners, ct)
    acc_x = ct(0)
    acc_y = ct(0)
    acc_z = ct(0)
    for c in range(inp.shape[1]):
        g = gout[n, c, do, ho, wo]
        f = fill[c]
        for k in range(4):
            for j in range(4):
                for i in range(4):
                    ok = mz[k] and my[j] and mx[i]
                    v = inp[n, c, iz[k], iy[j], ix[i]] if ok else f
                    acc_x += (((v * dx[i]) * wy[j]) * wz[k]) * g
                    acc_y += (((v * wx[i]) * dy[j]) * wz[k]) * g
                    acc_z += (((v * wx[i]) * wy[j]) * dz[k]) * g
    return acc_x, acc_y, acc_z


@cpu_inlined
def _zero_grad_3d(gout, inp, n, do, ho, wo, px, py, pz, padding, align_corners, fill, ct):
    return ct(0), ct(0), ct(0)


# --------------------------------------------------------------------------------------------
# one output point of one channel: grad_input[n, c] += d out / d input * g
#
# ginp (N, C, *in); px, py[, pz] finite pixel coordinates before padding; g the output's gradient


@cpu_inlined
def _bilinear_scatter_2d(ginp, n, c, px, py, g, padding, align_corners, ct, lo, hi):
    H = ginp.shape[2]
    W = ginp.shape[3]
    px, _ = _pad_grad(px, W, padding, align_corners, ct, False)
    py, _ = _pad_grad(py, H, padding, align_corners, ct, False)
    if not (inside(px, W, ct) and inside(py, H, ct)):
        return
    x0, e, w = _cell(px, ct)
    y0, s, nn = _cell(py, ct)
    x1 = x0 + 1
    y1 = y0 + 1
    if y1 < lo or y0 >= hi:
        return  # both rows in another job's band
    if x0 >= 0 and x1 < W and y0 >= 0 and y1 < H:  # all four corners inside: no masks
        accumulate_2d(ginp, n, c, y0, x0, (s * e) * g, lo, hi)
        accumulate_2d(ginp, n, c, y0, x1, (s * w) * g, lo, hi)
        accumulate_2d(ginp, n, c, y1, x0, (nn * e) * g, lo, hi)
        accumulate_2d(ginp, n, c, y1, x1, (nn * w) * g, lo, hi)
        return
    if _in(x0, W) and _in(y0, H):
        accumulate_2d(ginp, n, c, y0, x0, (s * e) * g, lo, hi)
    if _in(x1, W) and _in(y0, H):
        accumulate_2d(ginp, n, c, y0, x1, (s * w) * g, lo, hi)
    if _in(x0, W) and _in(y1, H):
        accumulate_2d(ginp, n, c, y1, x0, (nn * e) * g, lo, hi)
    if _in(x1, W) and _in(y1, H):
        accumulate_2d(ginp, n, c, y1, x1, (nn * w) * g, lo, hi)


@cpu_inlined
def _nearest_scatter_2d(ginp, n, c, px, py, g, padding, align_corners, ct, lo, hi):
    H = ginp.shape[2]
    W = ginp.shape[3]
    px, _ = _pad_grad(px, W, padding, align_corners, ct, False)
    py, _ = _pad_grad(py, H, padding, align_corners, ct, False)
    rx = rint(px)
    ry = rint(py)
    if inside(rx, W, ct) and inside(ry, H, ct):
        accumulate_2d(ginp, n, c, index_in(ry, H, ct), index_in(rx, W, ct), g, lo, hi)


@register_jitable
def _bicubic_scatter_2d(ginp, n, c, px, py, g, padding, align_corners, ct, lo, hi):
    wx, _, ix, mx = _cubic_axis(px, ginp.shape[3], padding, align_corners, ct)
    wy, _, iy, my = _cubic_axis(py, ginp.shape[2], padding, align_corners, ct)
    for i in range(4):
        for j in range(4):
            if my[j] and mx[i]:
                accumulate_2d(ginp, n, c, iy[j], ix[i], (g * wx[i]) * wy[j], lo, hi)


@cpu_inlined
def _trilinear_scatter_3d(ginp, n, c, px, py, pz, g, padding, align_corners, ct, lo, hi):
    D = ginp.shape[2]
    H = ginp.shape[3]
    W = ginp.shape[4]
    px, _ = _pad_grad(px, W, padding, align_corners, ct, True)
    py, _ = _pad_grad(py, H, padding, align_corners, ct, True)
    pz, _ = _pad_grad(pz, D, padding, align_corners, ct, True)
    if not (inside(px, W, ct) and inside(py, H, ct) and inside(pz, D, ct)):
        return
    x0, dx0, dx1 = _cell(px, ct)
    y0, dy0, dy1 = _cell(py, ct)
    z0, dz0, dz1 = _cell(pz, ct)
    if z0 + 1 < lo or z0 >= hi:
        return  # both slices in another job's band
    for cz in range(2):
        z = z0 + cz
        wz = dz1 if cz else dz0
        for cy in range(2):
            y = y0 + cy
            wy = dy1 if cy else dy0
            for cx in range(2):
                x = x0 + cx
                if _in(x, W) and _in(y, H) and _in(z, D):
                    wx = dx1 if cx else dx0
                    accumulate_3d(ginp, n, c, z, y, x, ((wx * wy) * wz) * g, lo, hi)


@cpu_inlined
def _nearest_scatter_3d(ginp, n, c, px, py, pz, g, padding, align_corners, ct, lo, hi):
    D = ginp.shape[2]
    H = ginp.shape[3]
    W = ginp.shape[4]
    px, _ = _pad_grad(px, W, padding, align_corners, ct, True)
    py, _ = _pad_grad(py, H, padding, align_corners, ct, True)
    pz, _ = _pad_grad(pz, D, padding, align_corners, ct, True)
    rx = rint(px)
    ry = rint(py)
    rz = rint(pz)
    if inside(rx, W, ct) and inside(ry, H, ct) and inside(rz, D, ct):
        accumulate_3d(
            ginp, n, c, index_in(rz, D, ct), index_in(ry, H, ct), index_in(rx, W, ct), g, lo, hi
        )


@register_jitable
def _tricubic_scatter_3d(ginp, n, c, px, py, pz, g, padding, align_corners, ct, lo, hi):
    wx, _, ix, mx = _cubic_axis(px, ginp.shape[4], padding, align_corners, ct)
    wy, _, iy, my = _cubic_axis(py, ginp.shape[3], padding, align_corners, ct)
    wz, _, iz, mz = _cubic_axis(pz, ginp.shape[2], padding, align_corners, ct)
    for k in range(4):
        for j in range(4):
            for i in range(4):
                if mz[k] and my[j] and mx[i]:
                    accumulate_3d(
                        ginp, n, c, iz[k], iy[j], ix[i], ((g * wx[i]) * wy[j]) * wz[k], lo, hi
                    )


POINT_GRAD = {
    2: {
        int(Mode.BILINEAR): (_bilinear_grad_2d, _bilinear_scatter_2d),
        int(Mode.NEAREST): (_zero_grad_2d, _nearest_scatter_2d),
        int(Mode.BICUBIC): (_bicubic_grad_2d, _bicubic_scatter_2d),
    },
    3: {
        int(Mode.BILINEAR): (_trilinear_grad_3d, _trilinear_scatter_3d),
        int(Mode.NEAREST): (_zero_grad_3d, _nearest_scatter_3d),
        int(Mode.BICUBIC): (_tricubic_grad_3d, _tricubic_scatter_3d),
    },
}


@cpu_inlined
def _scale(size, align_corners, ct):
    """The un-normalization's derivative: ``(S - 1) / 2`` with ``align_corners``, else ``S / 2``."""
    return ct(size - int(align_corners)) / ct(2)


@cpu_inlined
def _scatter_jobs(n_batch, channels, extent, bands, channel_inner):
    """``(jobs, groups, per_group)`` of a ``grad_input`` kernel: ``bands`` equal bands of the
    input's rows (2-D) or slices (3-D), at most one per row, times the channel groups -- every
    channel of a batch item together (``channel_inner``) or one channel each."""
    bands = max(1, min(bands, extent))
    per_group = 1 if channel_inner else channels
    return bands * n_batch * per_group, n_batch * per_group, per_group


@cpu_inlined
def _scatter_job(job, groups, per_group, channels, extent, bands, channel_inner):
    """``(lo, hi, n, c_first, c_stop)``: job ``band * groups + group`` owns the rows or slices
    ``[lo, hi)`` of batch item ``n``'s channels ``c_first`` to ``c_stop - 1``. Band-major, so
    the threads work on the same channels at once."""
    bands = max(1, min(bands, extent))
    band = job // groups
    group = job - band * groups
    n = group // per_group
    c_first = 0 if channel_inner else group - n * per_group
    c_stop = channels if channel_inner else c_first + 1
    return band * extent // bands, (band + 1) * extent // bands, n, c_first, c_stop
