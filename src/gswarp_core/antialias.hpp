// Antialiased sampling: each output point averages the input over its footprint (the filter,
// frames, padding and coverage are described in docs/engine.md, "The antialiasing footprint";
// this is its C++ form, operation for operation -- tests/test_core.py compares the bytes).
//
// A footprint's frame: M (k x k, row-major, upper triangular; filter coordinates
// u = M (q - c)), J (k x k, row-major), the kernel's support (1 tent, 2 Keys' cubic): 9 values
// in 2-D, 19 in 3-D. Sums are float64 whatever the compute type; the result is rounded to the
// compute type, then stored as the point-sampled path stores.
//
// Three sources of sample centres, as for point sampling: `affine` (float64 pixel-space
// matrices and one frame per batch item, computed on the host by antialias_frames), `pixels`
// (float64 pixel coordinates whose Jacobian comes from their neighbours by numpy.gradient's
// differences; the array may carry a row / slice beyond each side of the output's) and `flow`
// (a flow chain, differenced the same way). Points whose map does not shrink are point-sampled
// with the point-sampled kernels' own functions, so they get the same bytes.
#pragma once

#include "flow_sample.hpp"
#include "grid_sample.hpp"
#include "kernels.hpp"
#include "pointwise.hpp"
#include "std.hpp"
#include "views.hpp"

#if GSWARP_HOST_ONLY
#include <vector>
#endif

namespace gswarp {
inline namespace GSWARP_LEVEL {

constexpr double WIDEN = 0.25;             // docs/engine.md: sigma(S) = S' + WIDEN (S' - 1)
constexpr double SHRINK_TOLERANCE = 1e-9;  // gswarp.sampling.SHRINK_TOLERANCE
constexpr int FRAME_2D = 9;
constexpr int FRAME_3D = 19;
constexpr double FOOTPRINT_SLACK = 1e-9;  // pixels: an overhang this small counts as inside
constexpr int COVERAGE_STRIPS = 16;       // 3-D coverage: strips per axis
constexpr int JACOBI_SWEEPS = 16;
constexpr index_t TAP_CHUNK = 64;  // taps per row whose weights precede the dot products

// Lanczos-3 (support 3): sinc(t) sinc(t / 3) for |t| < 3, Pillow's LANCZOS kernel.
GSWARP_HD double lanczos3(double a) {
  if (a == 0.0) return 1.0;
  if (!(a < 3.0)) return 0.0;
  const double x = 3.14159265358979323846 * a;
  return (std::sin(x) / x) * (std::sin(x / 3.0) / (x / 3.0));
}

// The filter k(t): the tent (support 1), Keys' cubic, a = -0.75 (support 2), or Lanczos-3
// (support 3: antialias='lanczos').
GSWARP_HD double filter_weight(double t, double support) {
  const double a = std::fabs(t);
  if (support == 1.0) return py_max(1.0 - a, 0.0);
  if (support == 3.0) return lanczos3(a);
  const double A = CUBIC_A;
  const double inner = (((A + 2.0) * a - (A + 3.0)) * a) * a + 1.0;
  double outer = ((A * a - 5.0 * A) * a + 8.0 * A) * a - 4.0 * A;
  outer = a < 2.0 ? outer : 0.0;
  return a < 1.0 ? inner : outer;
}

// sigma(S)^2 for S = sqrt(singular_squared): clamped to [1, cap], then widened (not the
// Lanczos-3 filter, support 3: stretched by S exactly, as Pillow's resize).
GSWARP_HD double spread(double singular_squared, double cap, double support) {
  const double s = py_min(py_max(std::sqrt(py_max(singular_squared, 0.0)), 1.0), cap);
  const double sigma = support == 3.0 ? s : s + WIDEN * (s - 1.0);
  return sigma * sigma;
}

GSWARP_HD double shrink_bound() {
  const double b = 1.0 + SHRINK_TOLERANCE;
  return b * b;
}

// Fills frame fr (FRAME_2D values) for Jacobian J of an image; whether the map shrinks there
// (false also for a non-finite J: point-sample).
GSWARP_HD_OUTLINE bool frame_2d(double j00, double j01, double j10, double j11, double support,
                                double cap, double* fr) {
  fr[4] = j00;
  fr[5] = j01;
  fr[6] = j10;
  fr[7] = j11;
  fr[8] = support;
  if (!(std::isfinite(j00) && std::isfinite(j01) && std::isfinite(j10) && std::isfinite(j11)))
    return false;
  const double a = j00 * j00 + j01 * j01;
  const double b = j00 * j10 + j01 * j11;
  const double d = j10 * j10 + j11 * j11;
  const double half = 0.5 * (a - d);
  const double r = std::sqrt(half * half + b * b);
  const double top = 0.5 * (a + d) + r;
  if (!(top > shrink_bound())) return false;
  const double g1 = spread(top, cap, support);
  const double g2 = spread(0.5 * (a + d) - r, cap, support);
  double vx = b, vy = top - a;  // top eigenvector: (b, top - a) or (top - d, b), the longer
  const double wx = top - d, wy = b;
  if (wx * wx + wy * wy > vx * vx + vy * vy) {
    vx = wx;
    vy = wy;
  }
  const double norm = vx * vx + vy * vy;
  double s00, s01, s11;
  if (norm > 0.0) {
    const double k = (g1 - g2) / norm;  // Sigma = g2 I + (g1 - g2) v v^T / |v|^2
    s00 = g2 + (k * vx) * vx;
    s01 = (k * vx) * vy;
    s11 = g2 + (k * vy) * vy;
  } else {  // isotropic
    s00 = g1;
    s01 = 0.0;
    s11 = g1;
  }
  const double l11 = std::sqrt(s11);
  const double l01 = s01 / l11;
  const double l00 = std::sqrt(py_max(s00 - l01 * l01, 0.0));
  fr[0] = 1.0 / l00;
  fr[1] = -l01 / (l00 * l11);
  fr[2] = 0.0;
  fr[3] = 1.0 / l11;
  return true;
}

// frame_2d for volumes: jac holds J row-major (9 values); the eigenvectors of J J^T come from
// cyclic Jacobi rotations.
GSWARP_HD_OUTLINE bool frame_3d(const double* jac, double support, double cap, double* fr) {
  bool all_finite = true;
  for (int i = 0; i < 9; ++i) {
    fr[9 + i] = jac[i];
    all_finite = all_finite && std::isfinite(jac[i]);
  }
  fr[18] = support;
  if (!all_finite) return false;
  double a[9], v[9];  // A = J J^T (becomes diagonal), eigenvectors in V's columns
  double scale = 0.0;
  for (int i = 0; i < 3; ++i) {
    for (int j = 0; j < 3; ++j) {
      a[3 * i + j] = (jac[3 * i] * jac[3 * j] + jac[3 * i + 1] * jac[3 * j + 1]) +
                     jac[3 * i + 2] * jac[3 * j + 2];
      v[3 * i + j] = i == j ? 1.0 : 0.0;
    }
    scale += a[4 * i] * a[4 * i];
  }
  for (int sweep = 0; sweep < JACOBI_SWEEPS; ++sweep) {
    const double off = (a[1] * a[1] + a[2] * a[2]) + a[5] * a[5];
    if (off <= 1e-32 * scale) break;
    for (int pair = 0; pair < 3; ++pair) {
      const int p = pair < 2 ? 0 : 1, q = pair == 0 ? 1 : 2;
      const double apq = a[3 * p + q];
      if (apq == 0.0) continue;
      const double theta = (a[3 * q + q] - a[3 * p + p]) / (2.0 * apq);
      double t = 1.0 / (std::fabs(theta) + std::sqrt(theta * theta + 1.0));
      if (theta < 0.0) t = -t;
      const double c = 1.0 / std::sqrt(t * t + 1.0);
      const double s = t * c;
      for (int k = 0; k < 3; ++k) {  // A <- A R (columns p, q)
        const double akp = a[3 * k + p], akq = a[3 * k + q];
        a[3 * k + p] = c * akp - s * akq;
        a[3 * k + q] = s * akp + c * akq;
      }
      for (int k = 0; k < 3; ++k) {  // A <- R^T A (rows p, q)
        const double apk = a[3 * p + k], aqk = a[3 * q + k];
        a[3 * p + k] = c * apk - s * aqk;
        a[3 * q + k] = s * apk + c * aqk;
      }
      for (int k = 0; k < 3; ++k) {  // V <- V R
        const double vkp = v[3 * k + p], vkq = v[3 * k + q];
        v[3 * k + p] = c * vkp - s * vkq;
        v[3 * k + q] = s * vkp + c * vkq;
      }
    }
  }
  const double top = py_max(py_max(a[0], a[4]), a[8]);
  if (!(top > shrink_bound())) return false;
  const double g0 = spread(a[0], cap, support), g1 = spread(a[4], cap, support),
               g2 = spread(a[8], cap, support);
  for (int i = 0; i < 3; ++i)  // Sigma = sum_i g_i v_i v_i^T, into a (row-major)
    for (int j = 0; j < 3; ++j)
      a[3 * i + j] = ((g0 * v[3 * i]) * v[3 * j] + (g1 * v[3 * i + 1]) * v[3 * j + 1]) +
                     (g2 * v[3 * i + 2]) * v[3 * j + 2];
  const double l22 = std::sqrt(a[8]);
  const double l12 = a[5] / l22;
  const double l02 = a[2] / l22;
  const double l11 = std::sqrt(py_max(a[4] - l12 * l12, 0.0));
  const double l01 = (a[1] - l02 * l12) / l11;
  const double l00 = std::sqrt(py_max((a[0] - l01 * l01) - l02 * l02, 0.0));
  fr[0] = 1.0 / l00;
  fr[1] = -l01 / (l00 * l11);
  fr[2] = (l01 * l12 - l02 * l11) / ((l00 * l11) * l22);
  fr[3] = 0.0;
  fr[4] = 1.0 / l11;
  fr[5] = -l12 / (l11 * l22);
  fr[6] = 0.0;
  fr[7] = 0.0;
  fr[8] = 1.0 / l22;
  return true;
}

// A coordinate's derivative along an output axis as numpy.gradient takes it (central, one-sided
// at an edge, 0 on an axis of one point); a neighbour that is not finite counts as absent, and
// across a jump the smaller one-sided difference is taken.
GSWARP_HD double derivative(double minus, double centre, double plus, bool has_minus,
                            bool has_plus) {
  has_minus = has_minus && std::isfinite(minus);
  has_plus = has_plus && std::isfinite(plus);
  if (has_minus && has_plus) {
    const double back = centre - minus, ahead = plus - centre;
    if (std::fabs(ahead - back) > 1.0 + 0.5 * (std::fabs(ahead) + std::fabs(back)))
      return std::fabs(back) < std::fabs(ahead) ? back : ahead;
    return 0.5 * (plus - minus);
  }
  if (has_plus) return plus - centre;
  if (has_minus) return centre - minus;
  return 0.0;
}

// The input index integer tap q reads: border (and zeros) clamp it, reflection mirrors it.
GSWARP_HD index_t tap_index(index_t q, index_t size, int padding, bool align_corners) {
  if (q >= 0 && q < size) return q;
  if (padding == REFLECTION) {
    if (align_corners) {
      if (size == 1) return 0;
      const index_t period = 2 * (size - 1);
      const index_t m = ((q % period) + period) % period;
      return m < size ? m : period - m;
    }
    const index_t period = 2 * size;
    const index_t m = ((q % period) + period) % period;
    return m < size ? m : period - 1 - m;
  }
  return q < 0 ? 0 : size - 1;
}

// The offsets d with |m d + e| < support as [lo, hi], given inverse = 1 / m.
GSWARP_HD void support_range(double inverse, double e, double support, double& lo, double& hi) {
  const double a = (-support - e) * inverse, b = (support - e) * inverse;
  lo = a > b ? b : a;
  hi = a > b ? a : b;
}

// [lo, hi] narrowed to the t with low <= offset + slope t <= high.
GSWARP_HD void narrow_interval(double& lo, double& hi, double offset, double slope, double low,
                               double high) {
  if (slope == 0.0) {
    if (offset < low || offset > high) {
      lo = 1.0;
      hi = 0.0;
    }
    return;
  }
  double t0 = (low - offset) / slope, t1 = (high - offset) / slope;
  if (t0 > t1) {
    const double t = t0;
    t0 = t1;
    t1 = t;
  }
  lo = py_max(lo, t0);
  hi = py_min(hi, t1);
}

// Sutherland-Hodgman: polygon poly[source..] (count vertices, x and y interleaved) cut by
// coordinate[axis] >= bound (keep_above) or <= bound, into poly[target..]; the new count.
GSWARP_HD_OUTLINE int clip_polygon(double* poly, int count, int source, int target, int axis,
                                   double bound, bool keep_above) {
  int kept = 0;
  for (int i = 0; i < count; ++i) {
    const int j = (i + 1) % count;
    const double ax = poly[source + 2 * i], ay = poly[source + 2 * i + 1];
    const double bx = poly[source + 2 * j], by = poly[source + 2 * j + 1];
    double a = (axis == 0 ? ax : ay) - bound, b = (axis == 0 ? bx : by) - bound;
    if (!keep_above) {
      a = -a;
      b = -b;
    }
    if (a >= 0.0) {
      poly[target + 2 * kept] = ax;
      poly[target + 2 * kept + 1] = ay;
      ++kept;
    }
    if ((a >= 0.0) != (b >= 0.0)) {  // the edge crosses the bound
      const double t = a / (a - b);
      poly[target + 2 * kept] = ax + t * (bx - ax);
      poly[target + 2 * kept + 1] = ay + t * (by - ay);
      ++kept;
    }
  }
  return kept;
}

// Fraction of the parallelogram c + J [-1/2, 1/2]^2 inside [-1/2, width - 1/2] x
// [-1/2, height - 1/2], exact (clipped polygon, shoelace area).
GSWARP_HD_OUTLINE double coverage_2d(double cx, double cy, const double* fr, index_t width,
                                     index_t height) {
  const double j00 = fr[4], j01 = fr[5], j10 = fr[6], j11 = fr[7];
  const double ex = 0.5 * (std::fabs(j00) + std::fabs(j01));
  const double ey = 0.5 * (std::fabs(j10) + std::fabs(j11));
  const double x_lo = -0.5, x_hi = static_cast<double>(width) - 0.5;
  const double y_lo = -0.5, y_hi = static_cast<double>(height) - 0.5;
  if (cx - ex >= x_lo - FOOTPRINT_SLACK && cx + ex <= x_hi + FOOTPRINT_SLACK &&
      cy - ey >= y_lo - FOOTPRINT_SLACK && cy + ey <= y_hi + FOOTPRINT_SLACK)
    return 1.0;
  if (cx + ex <= x_lo || cx - ex >= x_hi || cy + ey <= y_lo || cy - ey >= y_hi) return 0.0;
  const double area = std::fabs(j00 * j11 - j01 * j10);
  if (!(area > 0.0)) {
    const bool inside_extent = cx >= x_lo && cx <= x_hi && cy >= y_lo && cy <= y_hi;
    return inside_extent ? 1.0 : 0.0;
  }
  double poly[32];
  for (int k = 0; k < 4; ++k) {  // corners c + J (+-1/2, +-1/2), in order around
    const double su = (k == 0 || k == 3) ? -0.5 : 0.5, sv = k < 2 ? -0.5 : 0.5;
    poly[2 * k] = (cx + j00 * su) + j01 * sv;
    poly[2 * k + 1] = (cy + j10 * su) + j11 * sv;
  }
  int count = clip_polygon(poly, 4, 0, 16, 0, x_lo, true);
  count = clip_polygon(poly, count, 16, 0, 0, x_hi, false);
  count = clip_polygon(poly, count, 0, 16, 1, y_lo, true);
  count = clip_polygon(poly, count, 16, 0, 1, y_hi, false);
  double twice = 0.0;
  for (int i = 0; i < count; ++i) {
    const int j = (i + 1) % count;
    twice += poly[2 * i] * poly[2 * j + 1] - poly[2 * j] * poly[2 * i + 1];
  }
  return py_min(std::fabs(0.5 * twice) / area, 1.0);
}

// Fraction of [centre - half, centre + half] inside [low, high] (a point: 0 or 1).
GSWARP_HD double overlap(double centre, double half, double low, double high) {
  if (!(half > 0.0)) return (low <= centre && centre <= high) ? 1.0 : 0.0;
  const double in = py_min(centre + half, high) - py_max(centre - half, low);
  return py_max(in, 0.0) / (2.0 * half);
}

// The 3-D coverage: exact for an axis-aligned J; otherwise exact along J's first column and a
// midpoint sum over COVERAGE_STRIPS^2 strips along the other two.
GSWARP_HD_OUTLINE double coverage_3d(double cx, double cy, double cz, const double* fr,
                                     index_t width, index_t height, index_t depth) {
  const double* j = fr + 9;
  const double ex = 0.5 * ((std::fabs(j[0]) + std::fabs(j[1])) + std::fabs(j[2]));
  const double ey = 0.5 * ((std::fabs(j[3]) + std::fabs(j[4])) + std::fabs(j[5]));
  const double ez = 0.5 * ((std::fabs(j[6]) + std::fabs(j[7])) + std::fabs(j[8]));
  const double x_lo = -0.5, x_hi = static_cast<double>(width) - 0.5;
  const double y_lo = -0.5, y_hi = static_cast<double>(height) - 0.5;
  const double z_lo = -0.5, z_hi = static_cast<double>(depth) - 0.5;
  if (cx - ex >= x_lo - FOOTPRINT_SLACK && cx + ex <= x_hi + FOOTPRINT_SLACK &&
      cy - ey >= y_lo - FOOTPRINT_SLACK && cy + ey <= y_hi + FOOTPRINT_SLACK &&
      cz - ez >= z_lo - FOOTPRINT_SLACK && cz + ez <= z_hi + FOOTPRINT_SLACK)
    return 1.0;
  if (cx + ex <= x_lo || cx - ex >= x_hi || cy + ey <= y_lo || cy - ey >= y_hi ||
      cz + ez <= z_lo || cz - ez >= z_hi)
    return 0.0;
  if (j[1] == 0.0 && j[2] == 0.0 && j[3] == 0.0 && j[5] == 0.0 && j[6] == 0.0 && j[7] == 0.0)
    return (overlap(cx, ex, x_lo, x_hi) * overlap(cy, ey, y_lo, y_hi)) *
           overlap(cz, ez, z_lo, z_hi);
  double in = 0.0;
  for (int a = 0; a < COVERAGE_STRIPS; ++a) {
    const double v = -0.5 + (a + 0.5) / COVERAGE_STRIPS;
    for (int b = 0; b < COVERAGE_STRIPS; ++b) {
      const double w = -0.5 + (b + 0.5) / COVERAGE_STRIPS;
      double lo = -0.5, hi = 0.5;
      narrow_interval(lo, hi, (cx + j[1] * v) + j[2] * w, j[0], x_lo, x_hi);
      narrow_interval(lo, hi, (cy + j[4] * v) + j[5] * w, j[3], y_lo, y_hi);
      narrow_interval(lo, hi, (cz + j[7] * v) + j[8] * w, j[6], z_lo, z_hi);
      if (hi > lo) in += hi - lo;
    }
  }
  return in / (COVERAGE_STRIPS * COVERAGE_STRIPS);
}

// Taps of one input row: `row` points at its first pixel of channel 0 (strides sc, sx).
template <typename In>
struct TapRow {
  const In* row;
  index_t channels, width, sc, sx;
};

// s[j] += w[i] x[i, j] for G channels of a run of taps (each sum in tap order), and with
// SumWeights the weights' own sum: independent chains advancing together, so the adds'
// latency overlaps and the bits stay those of one sum at a time.
template <int G, bool SumWeights, typename In>
GSWARP_HD_LARGE void dot_taps(const double* wbuf, index_t count, const In* p, index_t sx,
                              index_t sc, double* s, double& weights) {
  for (index_t i = 0; i < count; ++i, p += sx) {
    const double w = wbuf[i];
    if (SumWeights) weights += w;
    for (int j = 0; j < G; ++j) s[j] += w * static_cast<double>(p[j * sc]);
  }
}

template <bool SumWeights, typename In>
GSWARP_HD_LARGE void dot_group(index_t group, const double* wbuf, index_t count, const In* p,
                               index_t sx, index_t sc, double* s, double& weights) {
  switch (group) {
    case 1: return dot_taps<1, SumWeights>(wbuf, count, p, sx, sc, s, weights);
    case 2: return dot_taps<2, SumWeights>(wbuf, count, p, sx, sc, s, weights);
    case 3: return dot_taps<3, SumWeights>(wbuf, count, p, sx, sc, s, weights);
    default: return dot_taps<4, SumWeights>(wbuf, count, p, sx, sc, s, weights);
  }
}

// Adds the taps of one input row, each weighted factor * k(m0 dx + e0), to acc; returns the
// sum of their weights. Weights first (wbuf, in chunks), then one dot product per channel over
// the row's run of pixels (in groups of up to four channels).
template <typename In>
GSWARP_HD_OUTLINE double tap_row(const TapRow<In>& t, double cx, double e0, double m0, double inv0,
                                 double support, double factor, int padding, bool align_corners,
                                 double* acc, double* wbuf) {
  double lo, hi;
  support_range(inv0, e0, support, lo, hi);
  const index_t first = static_cast<index_t>(std::ceil(cx + lo));
  const index_t last = static_cast<index_t>(std::floor(cx + hi));
  double total = 0.0;
  for (index_t x0 = first; x0 <= last; x0 += TAP_CHUNK) {
    const index_t count = py_min(TAP_CHUNK, last + 1 - x0);
    const double d0 = static_cast<double>(x0) - cx;
    if (support == 1.0) {  // the tent, apart: a loop of a few operations per tap
      for (index_t i = 0; i < count; ++i)
        wbuf[i] = py_max(1.0 - std::fabs(m0 * (d0 + static_cast<double>(i)) + e0), 0.0);
    } else if (support == 3.0) {  // Lanczos-3
      for (index_t i = 0; i < count; ++i)
        wbuf[i] = lanczos3(std::fabs(m0 * (d0 + static_cast<double>(i)) + e0));
    } else {  // Keys' cubic: only the piece each tap needs (scalar code: no selects)
      const double A = CUBIC_A;
      for (index_t i = 0; i < count; ++i) {
        const double a = std::fabs(m0 * (d0 + static_cast<double>(i)) + e0);
        double w = 0.0;
        if (a < 1.0)
          w = (((A + 2.0) * a - (A + 3.0)) * a) * a + 1.0;
        else if (a < 2.0)
          w = ((A * a - 5.0 * A) * a + 8.0 * A) * a - 4.0 * A;
        wbuf[i] = w;
      }
    }
    double weights = 0.0;
    if (x0 >= 0 && x0 + count <= t.width) {
      for (index_t c0 = 0; c0 < t.channels; c0 += 4) {
        const index_t group = py_min(index_t(4), t.channels - c0);
        const In* p = t.row + c0 * t.sc + x0 * t.sx;
        double s[4] = {0.0, 0.0, 0.0, 0.0};
        if (c0 == 0)
          dot_group<true>(group, wbuf, count, p, t.sx, t.sc, s, weights);
        else
          dot_group<false>(group, wbuf, count, p, t.sx, t.sc, s, weights);
        for (index_t j = 0; j < group; ++j) acc[c0 + j] += factor * s[j];
      }
      if (t.channels == 0)
        for (index_t i = 0; i < count; ++i) weights += wbuf[i];
      total += factor * weights;
    } else {
      for (index_t i = 0; i < count; ++i) weights += wbuf[i];
      total += factor * weights;
      for (index_t i = 0; i < count; ++i) {
        const index_t ix = tap_index(x0 + i, t.width, padding, align_corners);
        for (index_t c = 0; c < t.channels; ++c)
          acc[c] += (factor * wbuf[i]) * static_cast<double>(t.row[c * t.sc + ix * t.sx]);
      }
    }
  }
  return total;
}

// Scratch of one thread: per-channel sums (one per channel) and a row of tap weights
// (TAP_CHUNK): the CPU's rows hold them in a FootprintScratch, a CUDA thread in local arrays.
struct Scratch {
  double* acc;
  double* wbuf;
};

#if GSWARP_HOST_ONLY
struct FootprintScratch {
  std::vector<double> acc, wbuf;
  explicit FootprintScratch(index_t channels) : acc(channels), wbuf(TAP_CHUNK) {}
  Scratch view() { return Scratch{acc.data(), wbuf.data()}; }
};
#endif

// acc / total blended with the fill by the coverage beta, rounded as the point path stores.
template <typename In, typename Ct>
GSWARP_HD void store_footprint(const Pixel<In>& out, index_t channels, double total,
                               const double* acc, double beta, const Ct* fill) {
  for (index_t c = 0; c < channels; ++c) {
    double value = total != 0.0 ? acc[c] / total : 0.0;
    if (beta < 1.0) value = beta * value + (1.0 - beta) * static_cast<double>(fill[c]);
    out[c] = Store<In, Ct>::convert(static_cast<Ct>(value));
  }
}

// Antialiased sample of image `im` at float64 pixel coordinates (cx, cy) with frame fr.
template <typename In, typename Ct>
GSWARP_HD_OUTLINE void footprint_2d(const Image2d<In>& im, double cx, double cy, const double* fr,
                                    const Pixel<In>& out, int padding, bool align_corners,
                                    const Ct* fill, Scratch scratch) {
  double beta = 0.0;  // outside: the fill
  if (std::isfinite(cx) && std::isfinite(cy))
    beta = padding == ZEROS ? coverage_2d(cx, cy, fr, im.W, im.H) : 1.0;
  if (beta <= 0.0) {
    for (index_t c = 0; c < im.C; ++c) out[c] = Store<In, Ct>::convert(fill[c]);
    return;
  }
  double* acc = scratch.acc;
  for (index_t c = 0; c < im.C; ++c) acc[c] = 0.0;
  double total = 0.0;
  const double support = fr[8], inv0 = 1.0 / fr[0];
  double lo, hi;
  support_range(1.0 / fr[3], 0.0, support, lo, hi);  // rows: u_1 = M[1, 1] dy
  const index_t first = static_cast<index_t>(std::ceil(cy + lo));
  const index_t last = static_cast<index_t>(std::floor(cy + hi));
  for (index_t qy = first; qy <= last; ++qy) {
    const double dy = static_cast<double>(qy) - cy;
    const double factor = filter_weight(fr[3] * dy, support);
    if (factor == 0.0) continue;
    const index_t iy = tap_index(qy, im.H, padding, align_corners);
    const TapRow<In> row{im.base + iy * im.sy, im.C, im.W, im.sc, im.sx};
    total += tap_row(row, cx, fr[1] * dy, fr[0], inv0, support, factor, padding, align_corners,
                     acc, scratch.wbuf);
  }
  store_footprint(out, im.C, total, acc, beta, fill);
}

template <typename In, typename Ct>
GSWARP_HD_OUTLINE void footprint_3d(const Image3d<In>& im, double cx, double cy, double cz,
                                    const double* fr, const Pixel<In>& out, int padding,
                                    bool align_corners, const Ct* fill, Scratch scratch) {
  double beta = 0.0;
  if (std::isfinite(cx) && std::isfinite(cy) && std::isfinite(cz))
    beta = padding == ZEROS ? coverage_3d(cx, cy, cz, fr, im.W, im.H, im.D) : 1.0;
  if (beta <= 0.0) {
    for (index_t c = 0; c < im.C; ++c) out[c] = Store<In, Ct>::convert(fill[c]);
    return;
  }
  double* acc = scratch.acc;
  for (index_t c = 0; c < im.C; ++c) acc[c] = 0.0;
  double total = 0.0;
  const double support = fr[18], inv0 = 1.0 / fr[0], inv1 = 1.0 / fr[4];
  double z_lo, z_hi;
  support_range(1.0 / fr[8], 0.0, support, z_lo, z_hi);  // planes: u_2 = M[2, 2] dz
  const index_t z_first = static_cast<index_t>(std::ceil(cz + z_lo));
  const index_t z_last = static_cast<index_t>(std::floor(cz + z_hi));
  for (index_t qz = z_first; qz <= z_last; ++qz) {
    const double dz = static_cast<double>(qz) - cz;
    const double plane = filter_weight(fr[8] * dz, support);
    if (plane == 0.0) continue;
    const index_t iz = tap_index(qz, im.D, padding, align_corners);
    double y_lo, y_hi;  // rows: u_1 = M[1, 1] dy + M[1, 2] dz
    support_range(inv1, fr[5] * dz, support, y_lo, y_hi);
    const index_t y_first = static_cast<index_t>(std::ceil(cy + y_lo));
    const index_t y_last = static_cast<index_t>(std::floor(cy + y_hi));
    for (index_t qy = y_first; qy <= y_last; ++qy) {
      const double dy = static_cast<double>(qy) - cy;
      const double factor = plane * filter_weight(fr[4] * dy + fr[5] * dz, support);
      if (factor == 0.0) continue;
      const index_t iy = tap_index(qy, im.H, padding, align_corners);
      const double e0 = fr[1] * dy + fr[2] * dz;
      const TapRow<In> row{im.base + iz * im.sz + iy * im.sy, im.C, im.W, im.sc, im.sx};
      total += tap_row(row, cx, e0, fr[0], inv0, support, factor, padding, align_corners, acc,
                       scratch.wbuf);
    }
  }
  store_footprint(out, im.C, total, acc, beta, fill);
}

// A grid of float64 coordinates (S, R, W, k) with strides in elements (a 2-D one: S = 1).
struct CoordGrid {
  const double* data;
  index_t S, R, W;
  index_t ss, sr, sw, sa;
  GSWARP_HD double at(index_t s, index_t r, index_t w, int a) const {
    return data[s * ss + r * sr + w * sw + a * sa];
  }
};

// J (row-major, k x k) at grid point (s, r, w) whose coordinates are `centre`, by
// numpy.gradient's differences along w, r (and s in 3-D).
template <int Spatial>
GSWARP_HD void grid_jacobian(const CoordGrid& g, index_t s, index_t r, index_t w,
                             const double* centre, double* jac) {
  const bool left = w > 0, right = w + 1 < g.W, up = r > 0, down = r + 1 < g.R;
  const bool front = s > 0, back = s + 1 < g.S;
  const index_t wl = left ? w - 1 : w, wr = right ? w + 1 : w;
  const index_t ru = up ? r - 1 : r, rd = down ? r + 1 : r;
  const index_t sf = front ? s - 1 : s, sb = back ? s + 1 : s;
  for (int a = 0; a < Spatial; ++a) {
    jac[Spatial * a] = derivative(g.at(s, r, wl, a), centre[a], g.at(s, r, wr, a), left, right);
    jac[Spatial * a + 1] = derivative(g.at(s, ru, w, a), centre[a], g.at(s, rd, w, a), up, down);
    if (Spatial == 3)
      jac[Spatial * a + 2] =
          derivative(g.at(sf, r, w, a), centre[a], g.at(sb, r, w, a), front, back);
  }
}

// The antialiased sample of a point with Jacobian jac if its map shrinks; false if not (the
// caller point-samples).
template <typename In, typename Ct>
GSWARP_HD_LARGE bool filtered_2d(const Image2d<In>& im, double cx, double cy, const double* jac,
                                 double support, double cap, const Pixel<In>& out, int padding,
                                 bool align_corners, const Ct* fill, Scratch scratch) {
  double fr[FRAME_2D];
  if (!frame_2d(jac[0], jac[1], jac[2], jac[3], support, cap, fr)) return false;
  footprint_2d(im, cx, cy, fr, out, padding, align_corners, fill, scratch);
  return true;
}

template <typename In, typename Ct>
GSWARP_HD_LARGE bool filtered_3d(const Image3d<In>& im, const double* centre, const double* jac,
                                 double support, double cap, const Pixel<In>& out, int padding,
                                 bool align_corners, const Ct* fill, Scratch scratch) {
  double fr[FRAME_3D];
  if (!frame_3d(jac, support, cap, fr)) return false;
  footprint_3d(im, centre[0], centre[1], centre[2], fr, out, padding, align_corners, fill,
               scratch);
  return true;
}

#if GSWARP_HOST_ONLY  // the CPU's row loops
// One output row of per-point footprints: each point's coordinates at column wo of row r (and
// slice s in 3-D) of the coordinate grid g, its Jacobian by differences, then the footprint if
// its map shrinks, else the mode's point sample at those coordinates.
template <int MODE, typename In, typename Ct>
inline void footprint_row_2d(const Image2d<In>& im, const CoordGrid& g, index_t r, In* row,
                             index_t Wo, const index_t* out_stride, const SampleOptions& o,
                             const Ct* fill, const In* fill_native, double support, double cap,
                             Scratch scratch) {
  for (index_t wo = 0; wo < Wo; ++wo) {
    const double centre[2] = {g.at(0, r, wo, 0), g.at(0, r, wo, 1)};
    double jac[4];
    grid_jacobian<2>(g, 0, r, wo, centre, jac);
    const Pixel<In> at{row + wo * out_stride[3], out_stride[1]};
    if (filtered_2d(im, centre[0], centre[1], jac, support, cap, at, o.padding, o.align_corners,
                    fill, scratch))
      continue;
    sample_point_2d<MODE>(im, Ct(centre[0]), Ct(centre[1]), at, o, fill, fill_native);
  }
}

template <int MODE, typename In, typename Ct>
inline void footprint_row_3d(const Image3d<In>& im, const CoordGrid& g, index_t s, index_t r,
                             In* row, index_t Wo, const index_t* out_stride,
                             const SampleOptions& o, const Ct* fill, const In* fill_native,
                             double support, double cap, Scratch scratch) {
  for (index_t wo = 0; wo < Wo; ++wo) {
    const double centre[3] = {g.at(s, r, wo, 0), g.at(s, r, wo, 1), g.at(s, r, wo, 2)};
    double jac[9];
    grid_jacobian<3>(g, s, r, wo, centre, jac);
    const Pixel<In> at{row + wo * out_stride[4], out_stride[1]};
    if (filtered_3d(im, centre, jac, support, cap, at, o.padding, o.align_corners, fill,
                    scratch))
      continue;
    sample_point_3d<MODE>(im, Ct(centre[0]), Ct(centre[1]), Ct(centre[2]), at, o, fill,
                          fill_native);
  }
}

// ------------------------------------------------------------------------------------------
// kernels: output rows [start, stop) of the flattened (batch, [depth,] row) index

// Affine: frames (N, FRAME_k) float64 per batch item, shrinks (N,) bytes; items that do not
// shrink are left to the caller (point-sampled there).
template <typename In, typename Ct>
void affine_antialias_2d_rows(const View<const In, 4>& inp, const View<const double, 3>& matrix,
                              const View<In, 4>& out, const SampleOptions& o, const Ct* fill,
                              const double* frames, const std::uint8_t* shrinks, index_t start,
                              index_t stop) {
  const index_t Ho = out.shape[2], Wo = out.shape[3];
  FootprintScratch buffers(inp.shape[1]);
  const Scratch scratch = buffers.view();
  for (index_t job = start; job < stop; ++job) {
    const index_t n = job / Ho, ho = job - n * Ho;
    if (!shrinks[n]) continue;
    const Image2d<In> im = image_2d(inp, n);
    const double* m = matrix.data + n * matrix.stride[0];
    const index_t r = matrix.stride[1], c = matrix.stride[2];
    const double h = static_cast<double>(ho);
    const double ox = m[c] * h + m[2 * c], oy = m[r + c] * h + m[r + 2 * c];
    const double* fr = frames + n * FRAME_2D;
    In* row = out.data + n * out.stride[0] + ho * out.stride[2];
    for (index_t wo = 0; wo < Wo; ++wo) {
      const double w = static_cast<double>(wo);
      const Pixel<In> at{row + wo * out.stride[3], out.stride[1]};
      footprint_2d(im, m[0] * w + ox, m[r] * w + oy, fr, at, o.padding, o.align_corners, fill,
                   scratch);
    }
  }
}

template <typename In, typename Ct>
void affine_antialias_3d_rows(const View<const In, 5>& inp, const View<const double, 3>& matrix,
                              const View<In, 5>& out, const SampleOptions& o, const Ct* fill,
                              const double* frames, const std::uint8_t* shrinks, index_t start,
                              index_t stop) {
  const index_t Do = out.shape[2], Ho = out.shape[3], Wo = out.shape[4];
  FootprintScratch buffers(inp.shape[1]);
  const Scratch scratch = buffers.view();
  for (index_t job = start; job < stop; ++job) {
    const index_t n = job / (Do * Ho), rest = job - n * (Do * Ho);
    const index_t d = rest / Ho, ho = rest - d * Ho;
    if (!shrinks[n]) continue;
    const Image3d<In> im = image_3d(inp, n);
    const double* m = matrix.data + n * matrix.stride[0];
    const index_t r = matrix.stride[1], c = matrix.stride[2];
    const double h = static_cast<double>(ho), z = static_cast<double>(d);
    double origin[3];
    for (int k = 0; k < 3; ++k)
      origin[k] = (m[k * r + c] * h + m[k * r + 2 * c] * z) + m[k * r + 3 * c];
    const double* fr = frames + n * FRAME_3D;
    In* row = out.data + n * out.stride[0] + d * out.stride[2] + ho * out.stride[3];
    for (index_t wo = 0; wo < Wo; ++wo) {
      const double w = static_cast<double>(wo);
      const Pixel<In> at{row + wo * out.stride[4], out.stride[1]};
      footprint_3d(im, m[0] * w + origin[0], m[r] * w + origin[1], m[2 * r] * w + origin[2], fr,
                   at, o.padding, o.align_corners, fill, scratch);
    }
  }
}

// Pixels: coords (N, Hc, Wc, 2) / (N, Dc, Hc, Wc, 3) float64, the output's first row / slice
// at `top`; each point's Jacobian from its neighbours in coords.
template <int MODE, typename In, typename Ct>
void pixels_antialias_2d_rows(const View<const In, 4>& inp, const View<const double, 4>& coords,
                              const View<In, 4>& out, const SampleOptions& o, const Ct* fill,
                              const In* fill_native, index_t top, double support, double cap,
                              index_t start, index_t stop) {
  const index_t Ho = out.shape[2], Wo = out.shape[3];
  FootprintScratch buffers(inp.shape[1]);
  const Scratch scratch = buffers.view();
  for (index_t job = start; job < stop; ++job) {
    const index_t n = job / Ho, ho = job - n * Ho, r = ho + top;
    const Image2d<In> im = image_2d(inp, n);
    const CoordGrid g{coords.data + n * coords.stride[0], 1, coords.shape[1], coords.shape[2],
                      0, coords.stride[1], coords.stride[2], coords.stride[3]};
    In* row = out.data + n * out.stride[0] + ho * out.stride[2];
    footprint_row_2d<MODE>(im, g, r, row, Wo, out.stride, o, fill, fill_native, support, cap,
                           scratch);
  }
}

template <int MODE, typename In, typename Ct>
void pixels_antialias_3d_rows(const View<const In, 5>& inp, const View<const double, 5>& coords,
                              const View<In, 5>& out, const SampleOptions& o, const Ct* fill,
                              const In* fill_native, index_t top, double support, double cap,
                              index_t start, index_t stop) {
  const index_t Do = out.shape[2], Ho = out.shape[3], Wo = out.shape[4];
  FootprintScratch buffers(inp.shape[1]);
  const Scratch scratch = buffers.view();
  for (index_t job = start; job < stop; ++job) {
    const index_t n = job / (Do * Ho), rest = job - n * (Do * Ho);
    const index_t d = rest / Ho, ho = rest - d * Ho, s = d + top;
    const Image3d<In> im = image_3d(inp, n);
    const CoordGrid g{coords.data + n * coords.stride[0], coords.shape[1], coords.shape[2],
                      coords.shape[3], coords.stride[1], coords.stride[2], coords.stride[3],
                      coords.stride[4]};
    In* row = out.data + n * out.stride[0] + d * out.stride[2] + ho * out.stride[3];
    footprint_row_3d<MODE>(im, g, s, ho, row, Wo, out.stride, o, fill, fill_native, support,
                           cap, scratch);
  }
}

// Flow: the input coordinates of output row y through the chain, into row (Wo, 2). separable:
// the field interpolated along y once for the row, then along x through columns' tables (the
// point-sampling flow kernel's path).
inline void flow_row_2d(const Field& field, const Maps& m, bool absolute, double y,
                        bool separable, const Columns& columns, std::vector<double>& line,
                        index_t Wo, double* row) {
  if (!separable) {
    for (index_t wo = 0; wo < Wo; ++wo) {
      double qx, qy, u, v;
      flow_general_2d(field, m, static_cast<double>(wo), y, qx, qy, u, v);
      flow_finish_2d(m, qx, qy, u, v, absolute, row[2 * wo], row[2 * wo + 1]);
    }
    return;
  }
  const double qy = m(0, 1, 1) * y + m(0, 1, 2);
  field_row_2d(field, m, qy, line.data());
  for (index_t wo = 0; wo < Wo; ++wo) {
    const index_t i = columns.low[wo], j = columns.high[wo];
    const double wx = columns.weight[wo];
    const double u = (1.0 - wx) * line[i * 2] + wx * line[j * 2];
    const double v = (1.0 - wx) * line[i * 2 + 1] + wx * line[j * 2 + 1];
    flow_finish_2d(m, columns.frame[wo], qy, u, v, absolute, row[2 * wo], row[2 * wo + 1]);
  }
}

template <int MODE, typename In, typename Ct>
void flow_antialias_2d_rows(const View<const In, 4>& inp, const Field& field, const Maps& m,
                            const View<In, 4>& out, const SampleOptions& o, const Ct* fill,
                            const In* fill_native, bool absolute, bool separable, double support,
                            double cap, index_t start, index_t stop) {
  const index_t Ho = out.shape[2], Wo = out.shape[3];
  const Columns columns(m, separable ? Wo : 0, field.W, 0);
  std::vector<double> line(separable ? field.W * 2 : 0);
  std::vector<double> rows(3 * Wo * 2);  // output rows ho - 1, ho, ho + 1 (x, y per column)
  FootprintScratch buffers(inp.shape[1]);
  const Scratch scratch = buffers.view();
  index_t held = -2, held_n = -1;  // the output row (and item) rows[1] holds
  const auto compute = [&](index_t y, int slot) {
    flow_row_2d(field, m, absolute, static_cast<double>(y), separable, columns, line, Wo,
                rows.data() + slot * Wo * 2);
  };
  for (index_t job = start; job < stop; ++job) {
    const index_t n = job / Ho, ho = job - n * Ho;
    if (ho == held + 1 && n == held_n) {  // slide the window down one row
      std::copy(rows.begin() + Wo * 2, rows.end(), rows.begin());
      if (ho + 1 < Ho) compute(ho + 1, 2);
    } else {
      for (int k = 0; k < 3; ++k)
        if (ho - 1 + k >= 0 && ho - 1 + k < Ho) compute(ho - 1 + k, k);
    }
    held = ho;
    held_n = n;
    const index_t first = ho > 0 ? 0 : 1, count = (ho + 1 < Ho ? 3 : 2) - first;
    const CoordGrid g{rows.data() + first * Wo * 2, 1, count, Wo, 0, Wo * 2, 2, 1};
    const index_t r = ho > 0 ? 1 : 0;
    const Image2d<In> im = image_2d(inp, n);
    In* row = out.data + n * out.stride[0] + ho * out.stride[2];
    footprint_row_2d<MODE>(im, g, r, row, Wo, out.stride, o, fill, fill_native, support, cap,
                           scratch);
  }
}

template <int MODE, typename In, typename Ct>
void flow_antialias_3d_rows(const View<const In, 5>& inp, const Field& field, const Maps& m,
                            const View<In, 5>& out, const SampleOptions& o, const Ct* fill,
                            const In* fill_native, bool absolute, double support, double cap,
                            index_t start, index_t stop) {
  const index_t Do = out.shape[2], Ho = out.shape[3], Wo = out.shape[4];
  std::vector<double> grid(3 * 3 * Wo * 3);
  FootprintScratch buffers(inp.shape[1]);
  const Scratch scratch = buffers.view();
  for (index_t job = start; job < stop; ++job) {
    const index_t n = job / (Do * Ho), rest = job - n * (Do * Ho);
    const index_t d = rest / Ho, ho = rest - d * Ho;
    // the cross of the row's neighbourhood: the row and its four neighbour rows
    const index_t s0 = py_max(d - 1, index_t(0)), s1 = py_min(d + 2, Do);
    const index_t r0 = py_max(ho - 1, index_t(0)), r1 = py_min(ho + 2, Ho);
    const CoordGrid g{grid.data(), s1 - s0, r1 - r0, Wo, (r1 - r0) * Wo * 3, Wo * 3, 3, 1};
    for (index_t s = s0; s < s1; ++s)
      for (index_t r = r0; r < r1; ++r) {
        if (s != d && r != ho) continue;
        double* dst = grid.data() + (s - s0) * g.ss + (r - r0) * g.sr;
        const double z = static_cast<double>(s), y = static_cast<double>(r);
        for (index_t wo = 0; wo < Wo; ++wo) {
          double qx, qy, qz, u, v, w;
          flow_general_3d(field, m, static_cast<double>(wo), y, z, qx, qy, qz, u, v, w);
          flow_finish_3d(m, qx, qy, qz, u, v, w, absolute, dst[wo * 3], dst[wo * 3 + 1],
                         dst[wo * 3 + 2]);
        }
      }
    const Image3d<In> im = image_3d(inp, n);
    In* row = out.data + n * out.stride[0] + d * out.stride[2] + ho * out.stride[3];
    footprint_row_3d<MODE>(im, g, d - s0, ho - r0, row, Wo, out.stride, o, fill, fill_native,
                           support, cap, scratch);
  }
}
#endif  // GSWARP_HOST_ONLY

}  // namespace GSWARP_LEVEL
}  // namespace gswarp
