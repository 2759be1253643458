"""Backward passes of ``grid_sample`` on the CPU (issue 17): the gradients for the input and for
the grid, with torch's semantics (``../shared/reference/grid_sample_semantics.md`` §3, §7).

Per output point the coordinate is un-normalized and padded as in the forward pass, and each
axis gets torch's gradient multiplier ``m``: the un-normalization's scale (``(S - 1) / 2`` with
``align_corners``, ``S / 2`` without), times 0 where border or reflection padding clips (the
boundaries ``p <= 0`` and ``p >= S - 1`` count as clipped), times -1 where reflection mirrors.

- bilinear / trilinear: ``grad_input[corner] += w_corner * grad_out`` for in-bounds corners;
  ``grad_grid = m * sum_c grad_out_c * d(out_c)/dp`` with torch's formulas (2-D: its vectorized
  kernel's fused multiply-adds; 3-D: its scalar kernel's products);
- nearest: ``grad_input[round_half_even(p)] += grad_out``; ``grad_grid = 0``.

Order and threads: ``grad_grid`` is computed per output point (threads over points, channels
summed in order); ``grad_input`` per (batch item, channel) plane, each plane's scatter by one
thread in output-point order. So both are identical for every thread count, and the scatter
needs no memory beyond ``grad_input`` itself; the price is that a single-channel input scatters
on one thread.

NaN or infinite grid values: the point adds nothing to ``grad_input`` and gets a zero
``grad_grid`` (torch's CPU kernel crashes or scatters NaN there; see the reference).
"""

from __future__ import annotations

from functools import cache

import numpy as np
from numba import njit, prange

from gswarp.engine.pointwise import (
    BORDER,
    REFLECTION,
    clip,
    floor,
    fma,
    isfinite,
    reflect_scalar,
    reflect_vec,
    rint,
    trunc,
    unnormalize_scalar,
    unnormalize_vec,
)
from gswarp.options import Mode

_JIT = {"cache": True, "nogil": True, "error_model": "numpy"}


@njit(inline="always", cache=True)
def _clip_grad(p, size, ct):
    """torch's clip multiplier: 0 on or beyond the edges ``0`` and ``size - 1``, else 1."""
    if p <= ct(0) or p >= ct(size - 1):
        return ct(0)
    return ct(1)


@njit(inline="always", cache=True)
def _reflect_sign_vec(p, size, align_corners, ct):
    """torch's vectorized reflection multiplier (+1 or -1) at pixel coordinate ``p``."""
    if align_corners:
        if size <= 1:
            return ct(0)
        low = ct(0)
        twice_span = ct(size - 1) * ct(2)
    else:
        low = ct(-0.5)
        twice_span = ct(size) * ct(2)
    a = abs(p - low)
    flips = trunc(a / twice_span)
    extra = fma(-flips, twice_span, a)
    mirrored = extra > twice_span - extra
    negative = p - low < ct(0)
    return ct(-1) if mirrored != negative else ct(1)


@njit(inline="always", cache=True)
def _reflect_sign_scalar(p, size, align_corners, ct):
    """torch's scalar reflection multiplier (+1 or -1) at pixel coordinate ``p``."""
    if align_corners:
        if size <= 1:
            return ct(0)
        low = ct(0)
        span = ct(size - 1)
    else:
        low = ct(-0.5)
        span = ct(size)
    sign = ct(-1) if p - low < ct(0) else ct(1)
    flips = floor(abs(p - low) / span)
    return sign if flips % ct(2) == ct(0) else -sign


@njit(inline="always", cache=True)
def _source(g, size, padding, align_corners, ct, scalar):
    """(pixel coordinate, gradient multiplier) of normalized ``g``: torch's vectorized 2-D
    formulas, or its scalar (3-D) ones with ``scalar``."""
    if scalar:
        p = unnormalize_scalar(g, size, align_corners, ct)
    else:
        p = unnormalize_vec(g, size, align_corners, ct)
    m = ct(size - 1) / ct(2) if align_corners else ct(size) / ct(2)
    if padding == BORDER:
        m = m * _clip_grad(p, size, ct)
        p = clip(p, size, ct)
    elif padding == REFLECTION:
        if scalar:
            m = m * _reflect_sign_scalar(p, size, align_corners, ct)
            p = reflect_scalar(p, size, align_corners, ct)
        else:
            m = m * _reflect_sign_vec(p, size, align_corners, ct)
            p = reflect_vec(p, size, align_corners, ct)
        m = m * _clip_grad(p, size, ct)
        p = clip(p, size, ct)
    return p, m


@njit(inline="always", cache=True)
def _cell(p, ct):
    """``(i0, d0, d1)``: the linear cell of pixel coordinate ``p`` -- its near corner and the
    weights of the near and far corners, ``1 - (p - i0)`` and ``p - i0`` (torch's backward
    weights; the vectorized 2-D kernel's ``e``/``w`` and ``s``/``n``)."""
    near = floor(p)
    d1 = p - near
    return np.int64(near), ct(1) - d1, d1


@njit(inline="always", cache=True)
def _in(i, size):
    return 0 <= i < size


def _kernels_2d(mode: int):
    bilinear = mode == int(Mode.BILINEAR)

    @njit(parallel=True, **_JIT)
    def grad_grid_2d(gout, inp, grid, ggrid, padding, align_corners, ct):
        n_batch, channels, height, width = inp.shape
        ho_n, wo_n = grid.shape[1], grid.shape[2]
        total = n_batch * ho_n * wo_n
        for job in prange(total):
            n = job // (ho_n * wo_n)
            rest = job - n * (ho_n * wo_n)
            ho = rest // wo_n
            wo = rest - ho * wo_n
            gx = grid[n, ho, wo, 0]
            gy = grid[n, ho, wo, 1]
            ggrid[n, ho, wo, 0] = ct(0)
            ggrid[n, ho, wo, 1] = ct(0)
            if not bilinear or not (isfinite(gx) and isfinite(gy)):
                continue
            px, mx = _source(gx, width, padding, align_corners, ct, False)
            py, my = _source(gy, height, padding, align_corners, ct, False)
            x0, e, w = _cell(px, ct)
            y0, s, nn = _cell(py, ct)
            x1 = x0 + 1
            y1 = y0 + 1
            acc_x = ct(0)
            acc_y = ct(0)
            for c in range(channels):
                v_nw = inp[n, c, y0, x0] if _in(x0, width) and _in(y0, height) else ct(0)
                v_ne = inp[n, c, y0, x1] if _in(x1, width) and _in(y0, height) else ct(0)
                v_sw = inp[n, c, y1, x0] if _in(x0, width) and _in(y1, height) else ct(0)
                v_se = inp[n, c, y1, x1] if _in(x1, width) and _in(y1, height) else ct(0)
                inner_x = fma(v_se - v_sw, nn, (v_ne - v_nw) * s)
                inner_y = fma(v_se - v_ne, w, (v_sw - v_nw) * e)
                g = gout[n, c, ho, wo]
                acc_x = fma(inner_x, g, acc_x)
                acc_y = fma(inner_y, g, acc_y)
            ggrid[n, ho, wo, 0] = acc_x * mx
            ggrid[n, ho, wo, 1] = acc_y * my

    @njit(parallel=True, **_JIT)
    def grad_input_2d(gout, inp, grid, ginp, padding, align_corners, ct):
        n_batch, channels, height, width = inp.shape
        ho_n, wo_n = grid.shape[1], grid.shape[2]
        for plane in prange(n_batch * channels):
            n = plane // channels
            c = plane - n * channels
            for ho in range(ho_n):
                for wo in range(wo_n):
                    gx = grid[n, ho, wo, 0]
                    gy = grid[n, ho, wo, 1]
                    if not (isfinite(gx) and isfinite(gy)):
                        continue
                    px, _ = _source(gx, width, padding, align_corners, ct, False)
                    py, _ = _source(gy, height, padding, align_corners, ct, False)
                    g = gout[n, c, ho, wo]
                    if not bilinear:
                        ix = np.int64(rint(px))
                        iy = np.int64(rint(py))
                        if _in(ix, width) and _in(iy, height):
                            ginp[n, c, iy, ix] += g
                        continue
                    x0, e, w = _cell(px, ct)
                    y0, s, nn = _cell(py, ct)
                    x1 = x0 + 1
                    y1 = y0 + 1
                    if _in(x0, width) and _in(y0, height):
                        ginp[n, c, y0, x0] += (s * e) * g
                    if _in(x1, width) and _in(y0, height):
                        ginp[n, c, y0, x1] += (s * w) * g
                    if _in(x0, width) and _in(y1, height):
                        ginp[n, c, y1, x0] += (nn * e) * g
                    if _in(x1, width) and _in(y1, height):
                        ginp[n, c, y1, x1] += (nn * w) * g

    return grad_grid_2d, grad_input_2d


def _kernels_3d(mode: int):
    trilinear = mode == int(Mode.BILINEAR)

    @njit(parallel=True, **_JIT)
    def grad_grid_3d(gout, inp, grid, ggrid, padding, align_corners, ct):
        n_batch, channels, depth, height, width = inp.shape
        do_n, ho_n, wo_n = grid.shape[1], grid.shape[2], grid.shape[3]
        plane = ho_n * wo_n
        total = n_batch * do_n * plane
        for job in prange(total):
            n = job // (do_n * plane)
            rest = job - n * (do_n * plane)
            do = rest // plane
            rest = rest - do * plane
            ho = rest // wo_n
            wo = rest - ho * wo_n
            gx = grid[n, do, ho, wo, 0]
            gy = grid[n, do, ho, wo, 1]
            gz = grid[n, do, ho, wo, 2]
            for k in range(3):
                ggrid[n, do, ho, wo, k] = ct(0)
            if not trilinear or not (isfinite(gx) and isfinite(gy) and isfinite(gz)):
                continue
            px, mx = _source(gx, width, padding, align_corners, ct, True)
            py, my = _source(gy, height, padding, align_corners, ct, True)
            pz, mz = _source(gz, depth, padding, align_corners, ct, True)
            x0, dx0, dx1 = _cell(px, ct)
            y0, dy0, dy1 = _cell(py, ct)
            z0, dz0, dz1 = _cell(pz, ct)
            gix = ct(0)
            giy = ct(0)
            giz = ct(0)
            for c in range(channels):
                g = gout[n, c, do, ho, wo]
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
                            if not (_in(x, width) and _in(y, height) and _in(z, depth)):
                                continue
                            wx = dx1 if cx else dx0
                            sx = ct(1) if cx else ct(-1)
                            v = inp[n, c, z, y, x]
                            gix += sx * ((v * wy) * wz) * g
                            giy += sy * ((v * wx) * wz) * g
                            giz += sz * ((v * wx) * wy) * g
            ggrid[n, do, ho, wo, 0] = mx * gix
            ggrid[n, do, ho, wo, 1] = my * giy
            ggrid[n, do, ho, wo, 2] = mz * giz

    @njit(parallel=True, **_JIT)
    def grad_input_3d(gout, inp, grid, ginp, padding, align_corners, ct):
        n_batch, channels, depth, height, width = inp.shape
        do_n, ho_n, wo_n = grid.shape[1], grid.shape[2], grid.shape[3]
        for plane in prange(n_batch * channels):
            n = plane // channels
            c = plane - n * channels
            for do in range(do_n):
                for ho in range(ho_n):
                    for wo in range(wo_n):
                        gx = grid[n, do, ho, wo, 0]
                        gy = grid[n, do, ho, wo, 1]
                        gz = grid[n, do, ho, wo, 2]
                        if not (isfinite(gx) and isfinite(gy) and isfinite(gz)):
                            continue
                        px, _ = _source(gx, width, padding, align_corners, ct, True)
                        py, _ = _source(gy, height, padding, align_corners, ct, True)
                        pz, _ = _source(gz, depth, padding, align_corners, ct, True)
                        g = gout[n, c, do, ho, wo]
                        if not trilinear:
                            ix = np.int64(rint(px))
                            iy = np.int64(rint(py))
                            iz = np.int64(rint(pz))
                            if _in(ix, width) and _in(iy, height) and _in(iz, depth):
                                ginp[n, c, iz, iy, ix] += g
                            continue
                        x0, dx0, dx1 = _cell(px, ct)
                        y0, dy0, dy1 = _cell(py, ct)
                        z0, dz0, dz1 = _cell(pz, ct)
                        for cz in range(2):
                            z = z0 + cz
                            wz = dz1 if cz else dz0
                            for cy in range(2):
                                y = y0 + cy
                                wy = dy1 if cy else dy0
                                for cx in range(2):
                                    x = x0 + cx
                                    if _in(x, width) and _in(y, height) and _in(z, depth):
                                        wx = dx1 if cx else dx0
                                        ginp[n, c, z, y, x] += ((wx * wy) * wz) * g

    return grad_grid_3d, grad_input_3d


@cache
def backward_kernels(spatial: int, mode: int):
    """(grad_grid kernel, grad_input kernel) for 2 or 3 spatial dimensions and ``mode``
    (nearest or bilinear; bicubic is not built yet)."""
    if mode == int(Mode.BICUBIC):
        raise NotImplementedError("bicubic backward")
    return _kernels_2d(mode) if spatial == 2 else _kernels_3d(mode)
