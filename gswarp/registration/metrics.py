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
    fixed : ndarray (spatial)
    mask : bool ndarray (spatial) or None: the fixed points that count
    histogram : the ``mi`` bin settings (:meth:`Histogram.of`)

    Returns
    -------
    The gradient has ``warped``'s shape and dtype, zero at the points left out.
    """
    valid = np.isfinite(warped)
    if mask is not None:
        valid &= mask
    count = int(np.count_nonzero(valid))
    if count < MIN_OVERLAP:
        raise InputError(
            f"the images overlap in {count} points (under {MIN_OVERLAP}): the transform moved "
            "the moving image off the fixed one; try --init moments or fewer levels"
        )
    w = warped[valid].astype(np.float64)
    f = fixed[valid].astype(np.float64)
    if metric == "mse":
        value, grad = _mse(w, f)
    elif metric == "ncc":
        value, grad = _ncc(w, f)
    else:
        value, grad = _mattes(w, f, histogram)
    out = np.zeros(warped.shape, dtype=warped.dtype)
    out[valid] = grad
    return value, out, count


def _mse(w: np.ndarray, f: np.ndarray) -> tuple[float, np.ndarray]:
    difference = w - f
    return float(np.mean(difference**2)), 2.0 * difference / len(w)


def _ncc(w: np.ndarray, f: np.ndarray) -> tuple[float, np.ndarray]:
    a = w - w.mean()
    b = f - f.mean()
    saa, sbb = float(a @ a), float(b @ b)
    if saa <= 0.0 or sbb <= 0.0:  # a constant image correlates with nothing
        return 0.0, np.zeros_like(w)
    root = np.sqrt(saa * sbb)
    ncc = float(a @ b) / root
    # d ncc / d w_i = b_i / root - ncc a_i / saa (the means' terms cancel: sum a = sum b = 0)
    return -ncc, -(b / root - ncc * a / saa)


def _bspline3(u: np.ndarray) -> np.ndarray:
    a = np.abs(u)
    return np.where(a < 1, (4 - 6 * a**2 + 3 * a**3) / 6, np.where(a < 2, (2 - a) ** 3 / 6, 0.0))


def _bspline3_slope(u: np.ndarray) -> np.ndarray:
    a = np.abs(u)
    inner = -2 * u + 1.5 * u * a
    outer = -np.sign(u) * (2 - a) ** 2 / 2
    return np.where(a < 1, inner, np.where(a < 2, outer, 0.0))


def _mattes(w: np.ndarray, f: np.ndarray, h: Histogram) -> tuple[float, np.ndarray]:
    bins = h.bins
    columns = bins + 4  # the moving axis: 2 bins of margin each side for the B-spline's support
    fixed_bin = np.clip(((f - h.fixed_low) / h.fixed_width).astype(np.int64), 0, bins - 1)
    position = np.clip((w - h.moving_low) / h.moving_width, 0.0, bins - 1.0)
    base = np.floor(position).astype(np.int64) - 1
    n = len(w)
    joint = np.zeros(bins * columns)
    taps = []
    for offset in range(4):
        column = base + offset
        u = position - column
        taps.append((column, u))
        np.add.at(joint, fixed_bin * columns + column + 2, _bspline3(u) / n)
    joint = joint.reshape(bins, columns)
    p_fixed = joint.sum(axis=1)
    p_moving = joint.sum(axis=0)
    nonzero = joint > 0
    outer = p_fixed[:, None] * p_moving[None, :]
    mi = float(np.sum(joint[nonzero] * np.log(joint[nonzero] / outer[nonzero])))
    # d MI / d joint[f, m] (up to terms that sum to zero): log(joint / p_moving)
    with np.errstate(divide="ignore", invalid="ignore"):
        log_ratio = np.where(nonzero, np.log(joint / p_moving[None, :]), 0.0).ravel()
    grad = np.zeros(n)
    for column, u in taps:
        grad += log_ratio[fixed_bin * columns + column + 2] * _bspline3_slope(u)
    grad *= (position > 0) & (position < bins - 1)  # clipped values do not move the histogram
    return -mi, -grad / (n * h.moving_width)
