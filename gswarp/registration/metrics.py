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
    fixed : ndarray (spatial), float
    mask : bool ndarray (spatial) or None: the fixed points that count
    histogram : the ``mi`` bin settings (:meth:`Histogram.of`)

    Returns
    -------
    The gradient has ``warped``'s shape and dtype, zero at the points left out. Sums are in
    float64, in one compiled pass over the points (and one more for the gradient), in order:
    the same bytes for every thread count.
    """
    loops = _loops()
    w = np.ascontiguousarray(warped).ravel()
    f = np.ascontiguousarray(fixed, dtype=w.dtype).ravel()
    m = np.ones(1, np.bool_) if mask is None else np.ascontiguousarray(mask).ravel()
    grad = np.empty_like(w)
    if metric == "mi":
        h = histogram
        columns = h.bins + 4  # 2 bins of margin each side for the B-spline's support
        joint = np.zeros((h.bins, columns))
        count = loops.mattes_joint(w, f, m, mask is not None, h.fixed_low, h.fixed_width,
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
        loops.mattes_grad(w, f, m, mask is not None, h.fixed_low, h.fixed_width, h.moving_low,
                     h.moving_width, log_ratio, scale, grad)  # fmt: skip
        return -mi, grad.reshape(warped.shape), count
    sums = np.asarray(loops.sums(w, f, m, mask is not None))
    count = int(sums[0])
    _check_overlap(count)
    if metric == "mse":
        loops.mse_grad(w, f, m, mask is not None, 2.0 / count, grad)
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
    loops.ncc_grad(w, f, m, mask is not None, mean_w, mean_f, -1.0 / root, ncc / saa, grad)
    return -ncc, grad.reshape(warped.shape), count


def _loops():
    """The metric loops, compiled (``src/gswarp_core/metrics.hpp``)."""
    from gswarp.engine import core

    return core.metric_loops()


def _check_overlap(count: int) -> None:
    if count < MIN_OVERLAP:
        raise InputError(
            f"the images overlap in {count} points (under {MIN_OVERLAP}): the transform moved "
            "the moving image off the fixed one; try --init moments or fewer levels"
        )
