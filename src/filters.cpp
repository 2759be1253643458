// ITK's interpolators as sampling filters (see gswarp_core/filters.hpp for the rules): the
// per-axis taps of each kind, the separable weighted sum or the label vote over them, and the
// B-spline prefilter. Compiled once, scalar, into the module: a point's work is a few dozen to
// a few hundred taps of double arithmetic.
#include "gswarp_core/filters.hpp"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <type_traits>
#include <utility>
#include <vector>

#include "gswarp_core/type_switch.hpp"
#include "gswarp_core/views.hpp"

namespace gswarp {
namespace {

constexpr double kPi = 3.14159265358979323846;
constexpr double kSqrt2 = 1.41421356237309504880;
constexpr int kMaxPoles = 2;
constexpr double kTieTolerance = 1e-9;  // label votes this close are a tie (linear_vote)

// ---- taps of one axis

struct Axis {
  index_t size;
  index_t stride;
};

struct Taps {
  int count;
  index_t* offset;  // element offsets (index * stride)
  double* weight;
};

// ITK's mirror of index j into [0, n) (BSplineInterpolateImageFunction's boundary)
index_t mirror(index_t j, index_t n) {
  if (n == 1) return 0;
  const index_t period = 2 * n - 2;
  j = j < 0 ? -j - period * ((-j) / period) : j - period * (j / period);
  return j >= n ? period - j : j;
}

// the B-spline basis weights of order `order` at c (ITK's SetInterpolationWeights)
int bspline_taps(double c, int order, const Axis& axis, Taps& taps) {
  const double half = (order & 1) ? 0.0 : 0.5;
  const index_t first = static_cast<index_t>(std::floor(c + half)) - order / 2;
  double* w = taps.weight;
  switch (order) {
    case 0:
      w[0] = 1.0;
      break;
    case 1: {
      const double t = c - static_cast<double>(first);
      w[1] = t;
      w[0] = 1.0 - t;
      break;
    }
    case 2: {
      const double t = c - static_cast<double>(first + 1);
      w[1] = 0.75 - t * t;
      w[2] = 0.5 * (t - w[1] + 1.0);
      w[0] = 1.0 - w[1] - w[2];
      break;
    }
    case 3: {
      const double t = c - static_cast<double>(first + 1);
      w[3] = (1.0 / 6.0) * t * t * t;
      w[0] = (1.0 / 6.0) + 0.5 * t * (t - 1.0) - w[3];
      w[2] = t + w[0] - 2.0 * w[3];
      w[1] = 1.0 - w[0] - w[2] - w[3];
      break;
    }
    case 4: {
      const double t = c - static_cast<double>(first + 2);
      const double t2 = t * t;
      const double s = (1.0 / 6.0) * t2;
      w[0] = 0.5 - t;
      w[0] *= w[0];
      w[0] *= (1.0 / 24.0) * w[0];
      const double t0 = t * (s - 11.0 / 24.0);
      const double t1 = 19.0 / 96.0 + t2 * (0.25 - s);
      w[1] = t1 + t0;
      w[3] = t1 - t0;
      w[4] = w[0] + t0 + 0.5 * t;
      w[2] = 1.0 - w[0] - w[1] - w[3] - w[4];
      break;
    }
    default: {  // 5
      double t = c - static_cast<double>(first + 2);
      double t2 = t * t;
      w[5] = (1.0 / 120.0) * t * t2 * t2;
      t2 -= t;
      const double t4 = t2 * t2;
      t -= 0.5;
      const double s = t2 * (t2 - 3.0);
      w[0] = (1.0 / 24.0) * (1.0 / 5.0 + t2 + t4) - w[5];
      double t0 = (1.0 / 24.0) * (t2 * (t2 - 5.0) + 46.0 / 5.0);
      double t1 = (-1.0 / 12.0) * t * (s + 4.0);
      w[2] = t0 + t1;
      w[3] = t0 - t1;
      t0 = (1.0 / 16.0) * (9.0 / 5.0 - s);
      t1 = (1.0 / 24.0) * t * (t4 - t2 - 5.0);
      w[1] = t0 + t1;
      w[4] = t0 - t1;
      break;
    }
  }
  for (int k = 0; k <= order; ++k) taps.offset[k] = mirror(first + k, axis.size) * axis.stride;
  return order + 1;
}

double sinc(double x) {
  if (x == 0.0) return 1.0;
  const double px = kPi * x;
  return std::sin(px) / px;
}

// ITK's window functions (itkWindowedSincInterpolateImageFunction.h), m the radius
double window(double x, int kind, int m) {
  switch (kind) {
    case WINDOW_COSINE:
      return std::cos(x * (kPi / (2.0 * m)));
    case WINDOW_WELCH:
      return 1.0 - x * (1.0 / (m * m)) * x;
    case WINDOW_HAMMING:
      return 0.54 + 0.46 * std::cos(x * (kPi / m));
    case WINDOW_BLACKMAN:
      return 0.42 + 0.5 * std::cos(x * (kPi / m)) + 0.08 * std::cos(x * (2.0 * kPi / m));
    default: {  // Lanczos
      if (x == 0.0) return 1.0;
      const double z = x * (kPi / m);
      return std::sin(z) / z;
    }
  }
}

int sinc_taps(double c, const Filter& f, const Axis& axis, Taps& taps) {
  const index_t base = static_cast<index_t>(std::floor(c));
  const double distance = c - static_cast<double>(base);
  const int size = 2 * f.radius;
  double x = distance + f.radius;
  for (int i = 0; i < size; ++i) {
    x -= 1.0;
    taps.weight[i] = distance == 0.0 ? (i == f.radius - 1 ? 1.0 : 0.0)
                                     : window(x, f.window, f.radius) * sinc(x);
    const index_t j = std::clamp<index_t>(base - f.radius + 1 + i, 0, axis.size - 1);
    taps.offset[i] = j * axis.stride;
  }
  return size;
}

int gaussian_taps(double c, double sigma, double alpha, const Axis& axis, Taps& taps) {
  const double scale = 1.0 / (kSqrt2 * sigma);
  const double cutoff = sigma * alpha;
  const index_t begin =
      std::max<index_t>(0, static_cast<index_t>(std::floor(c + 0.5 - cutoff)));
  const index_t end =
      std::min<index_t>(axis.size, static_cast<index_t>(std::ceil(c + 0.5 + cutoff)));
  double t = (-0.5 - c + static_cast<double>(begin)) * scale;
  double last = std::erf(t);
  int count = 0;
  for (index_t i = begin; i < end; ++i, ++count) {
    t += scale;
    const double now = std::erf(t);
    taps.weight[count] = now - last;
    taps.offset[count] = i * axis.stride;
    last = now;
  }
  return count;
}

int linear_taps(double c, const Axis& axis, Taps& taps) {
  const index_t base = static_cast<index_t>(std::floor(c));
  const double distance = c - static_cast<double>(base);
  taps.weight[0] = 1.0 - distance;
  taps.weight[1] = distance;
  taps.offset[0] = std::clamp<index_t>(base, 0, axis.size - 1) * axis.stride;
  taps.offset[1] = std::clamp<index_t>(base + 1, 0, axis.size - 1) * axis.stride;
  return 2;
}

int axis_taps(double c, int d, const Filter& f, const Axis& axis, Taps& taps) {
  if (f.kind == FILTER_BSPLINE) return bspline_taps(c, f.order, axis, taps);
  if (f.kind == FILTER_LINEAR) return linear_taps(c, axis, taps);
  if (f.kind == FILTER_SINC) return sinc_taps(c, f, axis, taps);
  return gaussian_taps(c, f.sigma[d], f.alpha, axis, taps);
}

// ---- one point

// sum over the taps of w_x w_y w_z v, x innermost; N > 0: every axis but a 2-D input's z has
// N taps (a compile-time count the compiler unrolls), x's contiguous in the input when `run`
template <int N, typename In>
double weighted_sum(const In* base, const Taps t[3], bool run, index_t step) {
  const int nx = N > 0 ? N : t[0].count, ny = N > 0 ? N : t[1].count;
  double sum = 0.0;
  for (int z = 0; z < t[2].count; ++z) {
    const In* plane = base + t[2].offset[z];
    double plane_sum = 0.0;
    for (int y = 0; y < ny; ++y) {
      const In* row = plane + t[1].offset[y];
      double row_sum = 0.0;
      if (N > 0 && run) {
        row += t[0].offset[0];
        for (int x = 0; x < nx; ++x) row_sum += t[0].weight[x] * static_cast<double>(row[x * step]);
      } else {
        for (int x = 0; x < nx; ++x)
          row_sum += t[0].weight[x] * static_cast<double>(row[t[0].offset[x]]);
      }
      plane_sum += t[1].weight[y] * row_sum;
    }
    sum += t[2].weight[z] * plane_sum;
  }
  return sum;
}

// weighted_sum with the tap count as a compile-time constant where it is a common one
template <typename In>
double weighted_sum_any(const In* base, const Taps t[3], index_t step) {
  const int n = t[0].count;
  const bool same = t[1].count == n;
  const bool run = t[0].offset[n - 1] - t[0].offset[0] == (n - 1) * step;
  if (same) {
    switch (n) {
      case 2: return weighted_sum<2>(base, t, run, step);
      case 4: return weighted_sum<4>(base, t, run, step);
      case 6: return weighted_sum<6>(base, t, run, step);
      case 10: return weighted_sum<10>(base, t, run, step);
    }
  }
  return weighted_sum<0>(base, t, false, step);
}

double weight_total(const Taps t[3]) {
  double total = 1.0;
  for (int d = 0; d < 3; ++d) {
    double axis_sum = 0.0;
    for (int i = 0; i < t[d].count; ++i) axis_sum += t[d].weight[i];
    total *= axis_sum;
  }
  return total;
}

// The label with the largest summed weight; `votes` a scratch list of (label, weight). On a
// tie: the first label to reach the largest weight, or the smallest label (`smallest_tie`).
template <typename In>
In vote(const In* base, const Taps t[3], std::vector<std::pair<In, double>>& votes,
        bool smallest_tie) {
  votes.clear();
  double best = 0.0;
  In winner{};
  for (int z = 0; z < t[2].count; ++z)
    for (int y = 0; y < t[1].count; ++y)
      for (int x = 0; x < t[0].count; ++x) {
        double w = t[0].weight[x];
        w *= t[1].weight[y];
        w *= t[2].weight[z];
        const In label = base[t[2].offset[z] + t[1].offset[y] + t[0].offset[x]];
        auto it = std::find_if(votes.begin(), votes.end(),
                               [&](const std::pair<In, double>& v) { return v.first == label; });
        if (it == votes.end()) {
          votes.emplace_back(label, w);
          it = votes.end() - 1;
        } else {
          it->second += w;
        }
        if (it->second > best) {
          best = it->second;
          winner = label;
        }
      }
  if (smallest_tie)
    for (const auto& [label, weight] : votes)
      if (weight == best && label < winner) winner = label;
  return winner;
}

// The input pixel of output pixel `flat` (x fastest in an output of shape grid (z, y, x))
// under matrix m (k, k + 1).
void affine_point(const double* m, int k, const index_t grid[3], index_t flat, double point[3]) {
  const double o[3] = {static_cast<double>(flat % grid[2]),
                       static_cast<double>((flat / grid[2]) % grid[1]),
                       static_cast<double>(flat / (grid[2] * grid[1]))};
  for (int d = 0; d < k; ++d) {
    const double* row = m + d * (k + 1);
    double sum = row[k];
    for (int j = 0; j < k; ++j) sum += row[j] * o[j];
    point[d] = sum;
  }
}

// ITK's linear interpolation of the indicator of `label` over the corners (x first, then y,
// then z, each a + (b - a) * d, as LinearInterpolateImageFunction::EvaluateOptimized; its
// branches for d <= 0 and for upper corners past the edge give the same values, since the
// taps are clamped: equal corners lerp to themselves exactly).
template <typename In>
double indicator_lerp(const In* base, const Taps t[3], In label) {
  const double dx = t[0].weight[1], dy = t[1].weight[1];
  double planes[2] = {0.0, 0.0};
  for (int z = 0; z < t[2].count; ++z) {
    const In* plane = base + t[2].offset[z];
    double rows[2];
    for (int y = 0; y < 2; ++y) {
      const In* row = plane + t[1].offset[y];
      const double a = row[t[0].offset[0]] == label ? 1.0 : 0.0;
      const double b = row[t[0].offset[1]] == label ? 1.0 : 0.0;
      rows[y] = a + (b - a) * dx;
    }
    planes[z] = rows[0] + (rows[1] - rows[0]) * dy;
  }
  if (t[2].count == 1) return planes[0];
  return planes[0] + (planes[1] - planes[0]) * t[2].weight[1];
}

// ITK's LabelImageGenericInterpolateImageFunction with linear interpolation: each label at
// the corners, in ascending order, its indicator interpolated; the first value above the
// best so far (from 0) wins, so the smallest label wins a tie -- a tie within kTieTolerance:
// a point half-way between two labels is a tie whichever way its coordinate rounded (ITK's
// continuous index, computed through physical points, often lands on the half exactly).
template <typename In>
In linear_vote(const In* base, const Taps t[3], std::vector<std::pair<In, double>>& votes) {
  votes.clear();
  for (int z = 0; z < t[2].count; ++z)
    for (int y = 0; y < 2; ++y)
      for (int x = 0; x < 2; ++x) {
        const In label = base[t[2].offset[z] + t[1].offset[y] + t[0].offset[x]];
        auto it = std::lower_bound(
            votes.begin(), votes.end(), label,
            [](const std::pair<In, double>& v, In value) { return v.first < value; });
        if (it == votes.end() || it->first != label) votes.insert(it, {label, 0.0});
      }
  double best = 0.0;
  In winner{};
  for (const auto& vote_entry : votes) {
    const double value = indicator_lerp(base, t, vote_entry.first);
    if (value > best + kTieTolerance) {
      best = value;
      winner = vote_entry.first;
    }
  }
  return winner;
}

template <typename Out>
Out store(double value) {
  if constexpr (std::is_floating_point_v<Out>)
    return static_cast<Out>(value);
  else
    return Store<Out, double>::convert(value);
}

template <typename In, typename Out>
void points(const FilterSample& a, index_t start, index_t stop) {
  const int k = static_cast<int>(a.inp.ndim - 2);
  const index_t batch = a.inp.shape[0], channels = a.inp.shape[1];
  Axis axes[3];
  for (int d = 0; d < 3; ++d) {  // d: x, y, z; a 2-D input's z is one sample
    const int dim = 1 + k - d;   // the array axis of coordinate d
    axes[d] = d < k ? Axis{a.inp.shape[dim], a.inp.stride[dim]} : Axis{1, 0};
  }
  std::vector<index_t> offsets[3];
  std::vector<double> weights[3];
  Taps taps[3];
  for (int d = 0; d < 3; ++d) {
    // a Gaussian's window stops at the image's edge: never more taps than the axis has
    const index_t needed = d < k ? filter_taps(a.filter, d) : 1;
    const index_t size =
        a.filter.kind == FILTER_GAUSSIAN ? std::min(needed, axes[d].size + 1) : needed;
    offsets[d].assign(static_cast<std::size_t>(size), 0);
    weights[d].assign(static_cast<std::size_t>(size), 1.0);
    taps[d] = Taps{1, offsets[d].data(), weights[d].data()};
  }
  std::vector<std::pair<In, double>> votes;
  const In* inp = static_cast<const In*>(a.inp.data);
  Out* out = static_cast<Out*>(a.out.data);
  const double* fill = static_cast<const double*>(a.fill.data);
  const double* coords = static_cast<const double*>(a.points.data);
  const index_t out_n = a.out.stride[0], out_c = a.out.stride[1], out_p = a.out.stride[2];
  double point[3];
  for (index_t p = start; p < stop; ++p) {
    if (a.affine)
      affine_point(coords, k, a.grid, a.first + p, point);
    else
      for (int d = 0; d < k; ++d) point[d] = coords[p * k + d];
    bool inside = true;
    for (int d = 0; d < k; ++d) {
      double c = point[d];
      if (a.padding != ZEROS) c = pad_scalar(c, axes[d].size, a.padding, a.align_corners);
      const double low = a.spline_region ? 1.0 : -0.5;
      const double high = static_cast<double>(axes[d].size) - (a.spline_region ? 2.0 : 0.5);
      if (!(c >= low && c < high)) {
        inside = false;
        break;
      }
      taps[d].count = axis_taps(c, d, a.filter, axes[d], taps[d]);
    }
    Out* target = out + p * out_p;
    if (!inside) {
      for (index_t n = 0; n < batch; ++n)
        for (index_t c = 0; c < channels; ++c)
          target[n * out_n + c * out_c] = store<Out>(fill[c]);
      continue;
    }
    const double total = a.filter.kind == FILTER_GAUSSIAN ? weight_total(taps) : 1.0;
    for (index_t n = 0; n < batch; ++n)
      for (index_t c = 0; c < channels; ++c) {
        const In* base = inp + n * a.inp.stride[0] + c * a.inp.stride[1];
        Out& result = target[n * out_n + c * out_c];
        if constexpr (std::is_same_v<In, Out>) {
          if (a.labels) {
            result = a.filter.kind == FILTER_LINEAR ? linear_vote(base, taps, votes)
                                                    : vote(base, taps, votes, a.smallest_tie);
            continue;
          }
        }
        const double sum = weighted_sum_any(base, taps, axes[0].stride);
        result = store<Out>(a.filter.kind == FILTER_GAUSSIAN ? sum / total : sum);
      }
  }
}

// ---- the prefilter

int poles(int order, double z[kMaxPoles]) {
  switch (order) {
    case 2:
      z[0] = std::sqrt(8.0) - 3.0;
      return 1;
    case 3:
      z[0] = std::sqrt(3.0) - 2.0;
      return 1;
    case 4:
      z[0] = std::sqrt(664.0 - std::sqrt(438976.0)) + std::sqrt(304.0) - 19.0;
      z[1] = std::sqrt(664.0 + std::sqrt(438976.0)) - std::sqrt(304.0) - 19.0;
      return 2;
    case 5:
      z[0] = std::sqrt(135.0 / 2.0 - std::sqrt(17745.0 / 4.0)) + std::sqrt(105.0 / 4.0) - 13.0 / 2.0;
      z[1] = std::sqrt(135.0 / 2.0 + std::sqrt(17745.0 / 4.0)) - std::sqrt(105.0 / 4.0) - 13.0 / 2.0;
      return 2;
  }
  return 0;
}

constexpr index_t kBundle = 16;  // lines filtered together (adjacent in memory)
constexpr double kTolerance = 1e-10;  // ITK's default horizon tolerance

// the first causal coefficient of `width` lines s[n * width + j] (mirror boundaries)
void causal_start(double* s, index_t length, index_t width, double z) {
  const index_t horizon = static_cast<index_t>(std::ceil(std::log(kTolerance) / std::log(std::fabs(z))));
  for (index_t j = 0; j < width; ++j) {
    double zn = z;
    if (horizon < length) {
      double sum = s[j];
      for (index_t n = 1; n < horizon; ++n) {
        sum += zn * s[n * width + j];
        zn *= z;
      }
      s[j] = sum;
    } else {
      const double iz = 1.0 / z;
      double z2n = std::pow(z, static_cast<double>(length - 1));
      double sum = s[j] + z2n * s[(length - 1) * width + j];
      z2n *= z2n * iz;
      for (index_t n = 1; n <= length - 2; ++n) {
        sum += (zn + z2n) * s[n * width + j];
        zn *= z;
        z2n *= iz;
      }
      s[j] = sum / (1.0 - zn * zn);
    }
  }
}

void prefilter_lines(double* s, index_t length, index_t width, int order) {
  double z[kMaxPoles];
  const int count = poles(order, z);
  double gain = 1.0;
  for (int i = 0; i < count; ++i) gain = gain * (1.0 - z[i]) * (1.0 - 1.0 / z[i]);
  for (index_t i = 0; i < length * width; ++i) s[i] *= gain;
  for (int i = 0; i < count; ++i) {
    const double zi = z[i];
    causal_start(s, length, width, zi);
    for (index_t n = 1; n < length; ++n)
      for (index_t j = 0; j < width; ++j) s[n * width + j] += zi * s[(n - 1) * width + j];
    const double end = zi / (zi * zi - 1.0);
    for (index_t j = 0; j < width; ++j) {
      double& last = s[(length - 1) * width + j];
      last = end * (zi * s[(length - 2) * width + j] + last);
    }
    for (index_t n = length - 2; n >= 0; --n)
      for (index_t j = 0; j < width; ++j)
        s[n * width + j] = zi * (s[(n + 1) * width + j] - s[n * width + j]);
  }
}

}  // namespace

index_t filter_taps(const Filter& f, int axis) {
  if (f.kind == FILTER_BSPLINE) return f.order + 1;
  if (f.kind == FILTER_LINEAR) return 2;
  if (f.kind == FILTER_SINC) return 2 * f.radius;
  return static_cast<index_t>(std::ceil(2.0 * f.sigma[axis] * f.alpha)) + 2;
}

void filter_points(const FilterSample& a, index_t start, index_t stop) {
  with_type(a.inp.kind, [&](auto in_tag) {
    using In = decltype(in_tag);
    if constexpr (std::is_floating_point_v<In>) {
      with_type(a.out.kind, [&](auto out_tag) { points<In, decltype(out_tag)>(a, start, stop); });
    } else {
      points<In, In>(a, start, stop);
    }
  });
}

index_t filter_bundles(index_t outer, index_t inner) {
  if (inner == 1) return (outer + kBundle - 1) / kBundle;
  return outer * ((inner + kBundle - 1) / kBundle);
}

void bspline_prefilter(double* data, index_t outer, index_t length, index_t inner, int order,
                       index_t start, index_t stop) {
  if (length < 2 || order < 2) return;
  std::vector<double> scratch(static_cast<std::size_t>(length * kBundle));
  if (inner == 1) {  // lines along the last axis: kBundle consecutive lines together
    for (index_t b = start; b < stop; ++b) {
      const index_t first = b * kBundle, width = std::min(kBundle, outer - first);
      double* lines = data + first * length;
      for (index_t j = 0; j < width; ++j)
        for (index_t n = 0; n < length; ++n) scratch[n * width + j] = lines[j * length + n];
      prefilter_lines(scratch.data(), length, width, order);
      for (index_t j = 0; j < width; ++j)
        for (index_t n = 0; n < length; ++n) lines[j * length + n] = scratch[n * width + j];
    }
    return;
  }
  const index_t per_outer = (inner + kBundle - 1) / kBundle;
  for (index_t b = start; b < stop; ++b) {
    const index_t o = b / per_outer, first = (b % per_outer) * kBundle;
    const index_t width = std::min(kBundle, inner - first);
    double* line = data + o * length * inner + first;
    for (index_t n = 0; n < length; ++n)
      for (index_t j = 0; j < width; ++j) scratch[n * width + j] = line[n * inner + j];
    prefilter_lines(scratch.data(), length, width, order);
    for (index_t n = 0; n < length; ++n)
      for (index_t j = 0; j < width; ++j) line[n * inner + j] = scratch[n * width + j];
  }
}

}  // namespace gswarp
