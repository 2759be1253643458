"""Image similarity metrics of ``gswarp register``, each with its gradient for the warped image.

Every metric is a *cost* (lower is better) over the valid points: inside the fixed mask, and
where the warped moving image is defined (the sampler marks points whose interpolation reads
outside the moving image as NaN; they are left out, as ITK's metrics leave them out).

- ``mse``: mean squared difference (same modality, same intensity scale);
- ``ncc``: minus the normalized cross-correlation (same modality, any linear intensity change);
- ``mi``: minus Mattes' mutual information (any modality or intensity map, even a
  non-monotonic one): a joint histogram of ``bins`` bins, a box window on the fixed intensities
  and a cubic B-spline Parzen window on the moving ones, so that it is differentiable in the
  moving values (Mattes et al., IEEE TMI 2003; ITK's ``MattesMutualInformation``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numba import njit

from gswarp.errors import InputError

METRICS = ("mse", "ncc", "mi")
MIN_OVERLAP = 16  # points


@dataclass(frozen=True)
class Histogram:
    """Mattes MI's bin settings for one pair: the fixed and moving intensity ranges."""

    bins: int
    fixed_low: float
    fixed_width: float
    moving_low: float
    moving_width: float

    @classmethod
    def of(cls, fixed: np.ndarray, moving: np.ndarray, bins: int) -> Histogram:
        f_low, f_high = float(fixed.min()), float(fixed.max())
        m_low, m_high = float(moving.min()), float(moving.max())
        return cls(
            bins,
            f_low,
            max(f_high - f_low, 1e-12) / bins,
            m_low,
            max(m_high - m_low, 1e-12) / (bins - 1),
        )


def cost(
    metric: str,
    warped: np.ndarray,
    fixed: np.ndarray,
    mask: np.ndarray | None,
    histogram: Histogram | None = None,
) -> tuple[float, np.ndarray, int]:
    """(cost, d cost / d warped, number of valid points).

    Parameters
    ----------
    warped : ndarray (spatial), the moving image sampled on the fixed grid; NaN where undefined
    fixed : ndarray (spatial), float
    mask : bool ndarray (spatial) or None: the fixed points that count
    histogram : the ``mi`` bin settings (:meth:`Histogram.of`)

    Returns
    -------
    The gradient has ``warped``'s shape and dtype, zero at the points left out. Sums are in
    float64, in one compiled pass over the points (and one more for the gradient), in order:
    the same bytes for every thread count.
    """
    w = np.ascontiguousarray(warped).ravel()
    f = np.ascontiguousarray(fixed, dtype=w.dtype).ravel()
    m = np.ones(1, np.bool_) if mask is None else np.ascontiguousarray(mask).ravel()
    grad = np.empty_like(w)
    if metric == "mi":
        h = histogram
        columns = h.bins + 4  # 2 bins of margin each side for the B-spline's support
        joint = np.zeros((h.bins, columns))
        count = _mattes_joint(w, f, m, mask is not None, h.fixed_low, h.fixed_width,
                              h.moving_low, h.moving_width, joint)  # fmt: skip
        _check_overlap(count)
        joint /= count
        p_fixed = joint.sum(axis=1)
        p_moving = joint.sum(axis=0)
        nonzero = joint > 0
        outer = p_fixed[:, None] * p_moving[None, :]
        mi = float(np.sum(joint[nonzero] * np.log(joint[nonzero] / outer[nonzero])))
        # d MI / d joint[f, m] (up to terms that sum to zero): log(joint / p_moving)
        with np.errstate(divide="ignore", invalid="ignore"):
            log_ratio = np.where(nonzero, np.log(joint / p_moving[None, :]), 0.0)
        scale = -1.0 / (count * h.moving_width)
        _mattes_grad(w, f, m, mask is not None, h.fixed_low, h.fixed_width, h.moving_low,
                     h.moving_width, log_ratio, scale, grad)  # fmt: skip
        return -mi, grad.reshape(warped.shape), count
    sums = _sums(w, f, m, mask is not None)
    count = int(sums[0])
    _check_overlap(count)
    if metric == "mse":
        _mse_grad(w, f, m, mask is not None, 2.0 / count, grad)
        return sums[6] / count, grad.reshape(warped.shape), count
    mean_w, mean_f = sums[1] / count, sums[2] / count
    saa = sums[3] - count * mean_w * mean_w
    sbb = sums[4] - count * mean_f * mean_f
    sab = sums[5] - count * mean_w * mean_f
    if saa <= 0.0 or sbb <= 0.0:  # a constant image correlates with nothing
        grad[:] = 0
        return 0.0, grad.reshape(warped.shape), count
    root = np.sqrt(saa * sbb)
    ncc = sab / root
    # d ncc / d w_i = b_i / root - ncc a_i / saa, a and b centred (their means' terms cancel)
    _ncc_grad(w, f, m, mask is not None, mean_w, mean_f, -1.0 / root, ncc / saa, grad)
    return -ncc, grad.reshape(warped.shape), count


def _check_overlap(count: int) -> None:
    if count < MIN_OVERLAP:
        raise InputError(
            f"the images overlap in {count} points (under {MIN_OVERLAP}): the transform moved "
            "the moving image off the fixed one; try --init moments or fewer levels"
        )


_JIT = {"cache": True, "nogil": True, "error_model": "numpy"}


@njit(**_JIT)
def _valid(w, m, masked, i):
    return np.isfinite(w[i]) and (not masked or m[i])


@njit(**_JIT)
def _sums(w, f, m, masked):
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
def _mse_grad(w, f, m, masked, factor, grad):
    for i in range(w.size):
        grad[i] = factor * (np.float64(w[i]) - f[i]) if _valid(w, m, masked, i) else 0.0


@njit(**_JIT)
def _ncc_grad(w, f, m, masked, mean_w, mean_f, minus_inverse_root, ncc_over_saa, grad):
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
def _mattes_joint(w, f, m, masked, f_low, f_width, m_low, m_width, joint):
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
def _mattes_grad(w, f, m, masked, f_low, f_width, m_low, m_width, log_ratio, scale, grad):
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
