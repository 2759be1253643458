// The similarity metrics of `gswarp register` (gswarp/registration/metrics.py): sums over the
// valid points (finite warped value, inside the fixed mask) in float64, in order, one pass,
// and the gradients for the warped image. The arithmetic is the numba functions', operation
// for operation; sequential on purpose (the same bytes for every thread count).
#pragma once

#include <cmath>
#include <cstdint>

#include "pointwise.hpp"

namespace gswarp {
inline namespace GSWARP_LEVEL {

template <typename T>
struct MetricInput {
  const T* w;  // warped moving image, flattened; NaN where undefined
  const T* f;  // fixed image, flattened, same dtype
  const std::uint8_t* m;  // mask (bool bytes), read only when masked
  bool masked;
  index_t size;
  bool valid(index_t i) const { return std::isfinite(w[i]) && (!masked || m[i]); }
};

// (count, sum w, sum f, sum w^2, sum f^2, sum w f, sum (w - f)^2) over the valid points.
template <typename T>
void metric_sums(const MetricInput<T>& in, double out[7]) {
  for (int k = 0; k < 7; ++k) out[k] = 0.0;
  for (index_t i = 0; i < in.size; ++i) {
    if (!in.valid(i)) continue;
    const double a = static_cast<double>(in.w[i]), b = static_cast<double>(in.f[i]);
    out[0] += 1.0;
    out[1] += a;
    out[2] += b;
    out[3] += a * a;
    out[4] += b * b;
    out[5] += a * b;
    out[6] += (a - b) * (a - b);
  }
}

template <typename T>
void mse_grad(const MetricInput<T>& in, double factor, T* grad) {
  for (index_t i = 0; i < in.size; ++i)
    grad[i] = in.valid(i) ? static_cast<T>(factor * (static_cast<double>(in.w[i]) -
                                                      static_cast<double>(in.f[i])))
                          : T(0);
}

template <typename T>
void ncc_grad(const MetricInput<T>& in, double mean_w, double mean_f, double minus_inverse_root,
              double ncc_over_saa, T* grad) {
  for (index_t i = 0; i < in.size; ++i) {
    if (!in.valid(i)) {
      grad[i] = T(0);
      continue;
    }
    const double a = static_cast<double>(in.w[i]) - mean_w;
    const double b = static_cast<double>(in.f[i]) - mean_f;
    grad[i] = static_cast<T>(minus_inverse_root * b + ncc_over_saa * a);
  }
}

// The cubic B-spline Parzen window and its slope.
inline double bspline3(double u) {
  const double a = std::fabs(u);
  if (a < 1.0) return (4.0 - 6.0 * a * a + 3.0 * a * a * a) / 6.0;
  if (a < 2.0) {
    const double t = 2.0 - a;
    return (t * t * t) / 6.0;
  }
  return 0.0;
}

inline double bspline3_slope(double u) {
  const double a = std::fabs(u);
  if (a < 1.0) return -2.0 * u + 1.5 * u * a;
  if (a < 2.0) {
    const double t = 2.0 - a;
    const double sign = u > 0.0 ? 1.0 : (u < 0.0 ? -1.0 : 0.0);
    return -sign * (t * t) / 2.0;
  }
  return 0.0;
}

struct Bins {
  index_t bins;
  double f_low, f_width, m_low, m_width;
  // (fixed bin, moving position in bins (clipped), whether it was clipped)
  void at(double wi, double fi, index_t& fixed_bin, double& position, bool& clipped) const {
    fixed_bin = py_min(py_max(static_cast<index_t>((fi - f_low) / f_width), index_t(0)),
                       bins - 1);
    position = (wi - m_low) / m_width;
    clipped = position <= 0.0 || position >= static_cast<double>(bins) - 1.0;
    position = py_min(py_max(position, 0.0), static_cast<double>(bins) - 1.0);
  }
};

// Adds each valid point's B-spline window to joint (bins, bins + 4, C order); returns the count.
template <typename T>
index_t mattes_joint(const MetricInput<T>& in, const Bins& b, double* joint) {
  const index_t columns = b.bins + 4;
  index_t count = 0;
  for (index_t i = 0; i < in.size; ++i) {
    if (!in.valid(i)) continue;
    ++count;
    index_t fixed_bin;
    double position;
    bool clipped;
    b.at(static_cast<double>(in.w[i]), static_cast<double>(in.f[i]), fixed_bin, position,
         clipped);
    const index_t base = static_cast<index_t>(std::floor(position)) - 1;
    for (index_t offset = 0; offset < 4; ++offset) {
      const index_t column = base + offset;
      joint[fixed_bin * columns + column + 2] += bspline3(position - static_cast<double>(column));
    }
  }
  return count;
}

template <typename T>
void mattes_grad(const MetricInput<T>& in, const Bins& b, const double* log_ratio, double scale,
                 T* grad) {
  const index_t columns = b.bins + 4;
  for (index_t i = 0; i < in.size; ++i) {
    grad[i] = T(0);
    if (!in.valid(i)) continue;
    index_t fixed_bin;
    double position;
    bool clipped;
    b.at(static_cast<double>(in.w[i]), static_cast<double>(in.f[i]), fixed_bin, position,
         clipped);
    if (clipped) continue;  // clipped values do not move the histogram
    const index_t base = static_cast<index_t>(std::floor(position)) - 1;
    double total = 0.0;
    for (index_t offset = 0; offset < 4; ++offset) {
      const index_t column = base + offset;
      total += log_ratio[fixed_bin * columns + column + 2] *
               bspline3_slope(position - static_cast<double>(column));
    }
    grad[i] = static_cast<T>(scale * total);
  }
}

}  // namespace GSWARP_LEVEL
}  // namespace gswarp
