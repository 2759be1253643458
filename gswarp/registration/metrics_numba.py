"""The numba forms of the registration metrics' loops (:mod:`gswarp.registration.metrics`):
the oracle of the compiled engine's (``src/gswarp_core/metrics.hpp``), and what runs with
``GSWARP_ENGINE=numba`` or without the compiled engine."""

from __future__ import annotations

import numpy as np
from numba import njit

__all__ = ["mattes_grad", "mattes_joint", "mse_grad", "ncc_grad", "sums"]

_JIT = {"cache": True, "nogil": True, "error_model": "numpy"}


@njit(**_JIT)
def _valid(w, m, masked, i):
    return np.isfinite(w[i]) and (not masked or m[i])


@njit(**_JIT)
def sums(w, f, m, masked):
    """(count, sum w, sum f, sum w^2, sum f^2, sum w f, sum (w - f)^2) over the valid points."""
    out = np.zeros(7)
    for i in range(w.size):
        if _valid(w, m, masked, i):
            a = np.float64(w[i])
            b = np.float64(f[i])
            out[0] += 1.0
            out[1] += a
            out[2] += b
            out[3] += a * a
            out[4] += b * b
            out[5] += a * b
            out[6] += (a - b) * (a - b)
    return out


@njit(**_JIT)
def mse_grad(w, f, m, masked, factor, grad):
    for i in range(w.size):
        grad[i] = factor * (np.float64(w[i]) - f[i]) if _valid(w, m, masked, i) else 0.0


@njit(**_JIT)
def ncc_grad(w, f, m, masked, mean_w, mean_f, minus_inverse_root, ncc_over_saa, grad):
    for i in range(w.size):
        if _valid(w, m, masked, i):
            a = np.float64(w[i]) - mean_w
            b = np.float64(f[i]) - mean_f
            grad[i] = minus_inverse_root * b + ncc_over_saa * a
        else:
            grad[i] = 0.0


@njit(**_JIT)
def _bspline3(u):
    a = abs(u)
    if a < 1.0:
        return (4.0 - 6.0 * a * a + 3.0 * a * a * a) / 6.0
    if a < 2.0:
        return (2.0 - a) ** 3 / 6.0
    return 0.0


@njit(**_JIT)
def _bspline3_slope(u):
    a = abs(u)
    if a < 1.0:
        return -2.0 * u + 1.5 * u * a
    if a < 2.0:
        return -np.sign(u) * (2.0 - a) ** 2 / 2.0
    return 0.0


@njit(**_JIT)
def _bins(wi, fi, bins, f_low, f_width, m_low, m_width):
    """(fixed bin, moving position in bins (clipped), whether it was clipped)."""
    fixed_bin = min(max(int((np.float64(fi) - f_low) / f_width), 0), bins - 1)
    position = (np.float64(wi) - m_low) / m_width
    clipped = position <= 0.0 or position >= bins - 1.0
    return fixed_bin, min(max(position, 0.0), bins - 1.0), clipped


@njit(**_JIT)
def mattes_joint(w, f, m, masked, f_low, f_width, m_low, m_width, joint):
    """Add each valid point's B-spline window to ``joint`` (bins, bins + 4); return the count."""
    bins = joint.shape[0]
    count = 0
    for i in range(w.size):
        if not _valid(w, m, masked, i):
            continue
        count += 1
        fixed_bin, position, _ = _bins(w[i], f[i], bins, f_low, f_width, m_low, m_width)
        base = int(np.floor(position)) - 1
        for offset in range(4):
            column = base + offset
            joint[fixed_bin, column + 2] += _bspline3(position - column)
    return count


@njit(**_JIT)
def mattes_grad(w, f, m, masked, f_low, f_width, m_low, m_width, log_ratio, scale, grad):
    bins = log_ratio.shape[0]
    for i in range(w.size):
        grad[i] = 0.0
        if not _valid(w, m, masked, i):
            continue
        fixed_bin, position, clipped = _bins(w[i], f[i], bins, f_low, f_width, m_low, m_width)
        if clipped:  # clipped values do not move the histogram
            continue
        base = int(np.floor(position)) - 1
        total = 0.0
        for offset in range(4):
            column = base + offset
            total += log_ratio[fixed_bin, column + 2] * _bspline3_slope(position - column)
        grad[i] = scale * total
