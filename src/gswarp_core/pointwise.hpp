// gswarp's per-point math: torch's grid_sample semantics, one definition for every target.
//
// Header-only C++17. Every function is GSWARP_HD: a plain inline function on the host and,
// compiled by nvcc or NVRTC, a __host__ __device__ one, so the CPU kernels (module.cpp) and
// the CUDA kernels use the same text. Nothing here allocates, throws or reads global state.
//
// Conventions (docs/engine.md): pixel coordinates with pixel centres at integer indices, x the
// last axis; `Ct` is the compute type (float for float32 and integer inputs, double for
// float64); the order of every operation follows torch's CPU kernels, and a fused multiply-add
// is written as fma() wherever torch's vectorized code uses one. Build with
// -ffp-contract=off: the compiler must never fuse or reorder on its own, or bits change.
//
// Python's min()/max() semantics (which the numba engine used) are kept in py_min/py_max:
// max(a, b) is b only when b > a, so a NaN first argument survives.
#pragma once

#include "std.hpp"

// Always inlined: GCC left Bilinear::combine (four instructions) as a call inside the
// channel loop of the bilinear kernel, which then ran 1.4x numba's time; the numba engine
// inlined its point functions at IR level for the same reason.
#if defined(__CUDACC__) || defined(__CUDACC_RTC__)
#define GSWARP_HD __host__ __device__ __forceinline__
#elif defined(__GNUC__) || defined(__clang__)
#define GSWARP_HD inline __attribute__((always_inline))
#elif defined(_MSC_VER)
#define GSWARP_HD __forceinline
#else
#define GSWARP_HD inline
#endif

// Large and rarely taken (reflection padding): left to the compiler, which keeps them out of
// the hot loops (forced inline, the bicubic kernel ran 1.6x slower).
#if defined(__CUDACC__) || defined(__CUDACC_RTC__)
#define GSWARP_HD_LARGE __host__ __device__ inline
#else
#define GSWARP_HD_LARGE inline
#endif

// Large, and called once per point or per row (the antialiasing footprint's frame, coverage
// and tap rows): kept out of line in CUDA code. Inlined, they made NVRTC take 3-5 s per
// antialiasing kernel (0.2-0.4 s out of line, measured here): the user's first call waits
// for it. The host inlines them as before.
#if defined(__CUDACC__) || defined(__CUDACC_RTC__)
#define GSWARP_HD_OUTLINE __host__ __device__ __noinline__
#else
#define GSWARP_HD_OUTLINE inline
#endif

// Each instruction-set level's build of the kernels (kernels.hpp) compiles these inline
// functions with its own flags: they live in an inline namespace named after the level, so
// two levels' copies never merge at link time (the linker keeps one copy of an inline
// function, which could be the wrong level's).
#ifndef GSWARP_LEVEL
#define GSWARP_LEVEL generic
#endif

namespace gswarp {
inline namespace GSWARP_LEVEL {

// Kernel codes; equal to gswarp.sampling.Mode / Padding (torch's enum order).
enum Mode : int { BILINEAR = 0, NEAREST = 1, BICUBIC = 2 };
enum Padding : int { ZEROS = 0, BORDER = 1, REFLECTION = 2 };

using index_t = std::int64_t;

// ------------------------------------------------------------------------------------------
// scalar math, in the compute type

GSWARP_HD float fma_(float a, float b, float c) { return std::fma(a, b, c); }
GSWARP_HD double fma_(double a, double b, double c) { return std::fma(a, b, c); }

template <typename T>
GSWARP_HD T py_max(T a, T b) {
  return b > a ? b : a;
}
template <typename T>
GSWARP_HD T py_min(T a, T b) {
  return b < a ? b : a;
}

template <typename Ct>
GSWARP_HD bool finite(Ct x) {
  return std::isfinite(x);
}

// ------------------------------------------------------------------------------------------
// coordinates: normalized -> pixel, then padding

// Pixel coordinate of normalized g as torch's vectorized 2-D kernel computes it.
template <typename Ct>
GSWARP_HD Ct unnormalize_vec(Ct g, index_t size, bool align_corners) {
  if (align_corners) return (g + Ct(1)) * (Ct(size - 1) / Ct(2));
  return fma_(g + Ct(1), Ct(size) / Ct(2), Ct(-0.5));
}

// Pixel coordinate of normalized g as torch's scalar (3-D) kernel computes it.
template <typename Ct>
GSWARP_HD Ct unnormalize_scalar(Ct g, index_t size, bool align_corners) {
  if (align_corners) return ((g + Ct(1)) / Ct(2)) * Ct(size - 1);
  return ((g + Ct(1)) * Ct(size) - Ct(1)) / Ct(2);
}

// Clamp pixel coordinate p into [0, size - 1].
template <typename Ct>
GSWARP_HD Ct clip(Ct p, index_t size) {
  return py_min(Ct(size - 1), py_max(p, Ct(0)));
}

// (low, span) of torch's reflection: about the pixel centres 0 and S - 1 with align_corners
// (span 0 on a unit axis), about the outer edges -0.5 and S - 0.5 without.
template <typename Ct>
GSWARP_HD void reflection_bounds(index_t size, bool align_corners, Ct& low, Ct& span) {
  if (align_corners) {
    low = Ct(0);
    span = Ct(size - 1 > 0 ? size - 1 : 0);
  } else {
    low = Ct(-0.5);
    span = Ct(size);
  }
}

// Reflect p into the input as torch's vectorized kernel does (trunc-based).
template <typename Ct>
GSWARP_HD_LARGE Ct reflect_vec(Ct p, index_t size, bool align_corners) {
  Ct low, span;
  reflection_bounds(size, align_corners, low, span);
  if (span == Ct(0)) return Ct(0);
  const Ct twice_span = span * Ct(2);
  const Ct a = std::fabs(p - low);
  const Ct flips = std::trunc(a / twice_span);
  const Ct extra = fma_(-flips, twice_span, a);
  return py_min(extra, twice_span - extra) + low;
}

// Reflect p into the input as torch's scalar kernel does (fmod-based).
template <typename Ct>
GSWARP_HD_LARGE Ct reflect_scalar(Ct p, index_t size, bool align_corners) {
  Ct low, span;
  reflection_bounds(size, align_corners, low, span);
  if (span == Ct(0)) return Ct(0);
  const Ct a = std::fabs(p - low);
  const Ct extra = std::fmod(a, span);
  const Ct flips = std::floor(a / span);
  if (std::fmod(flips, Ct(2)) == Ct(0)) return extra + low;
  return span - extra + low;
}

// The padding rule applied to pixel coordinate p (vectorized-kernel formulas).
template <typename Ct>
GSWARP_HD Ct pad_vec(Ct p, index_t size, int padding, bool align_corners) {
  if (padding == BORDER) return clip(p, size);
  if (padding == REFLECTION) return clip(reflect_vec(p, size, align_corners), size);
  return p;
}

// The padding rule applied to pixel coordinate p (scalar-kernel formulas).
template <typename Ct>
GSWARP_HD Ct pad_scalar(Ct p, index_t size, int padding, bool align_corners) {
  if (padding == BORDER) return clip(p, size);
  if (padding == REFLECTION) return clip(reflect_scalar(p, size, align_corners), size);
  return p;
}

// True when p lies strictly between -1 and size: for a whole-valued p, a valid index.
template <typename Ct>
GSWARP_HD bool inside(Ct p, index_t size) {
  return p > Ct(-1) && p < Ct(size);
}

// t clamped into [0, size - 1] as an index (0 for NaN): safe for any t.
template <typename Ct>
GSWARP_HD index_t index_in(Ct t, index_t size) {
  const Ct q = py_min(py_max(t, Ct(0)), Ct(size - 1));
  if (q != q) return 0;
  return static_cast<index_t>(q);
}

// ------------------------------------------------------------------------------------------
// values: an integer output is rounded half to even and clipped to the widest range of Ct
// values that fit its type (float(2**31 - 1) rounds up to 2**31: one step below it)

template <typename Out, typename Ct, bool Integer = std::numeric_limits<Out>::is_integer>
struct Store;

template <typename Out, typename Ct>
struct Store<Out, Ct, false> {
  GSWARP_HD static Out convert(Ct value) { return static_cast<Out>(value); }
};

template <typename Out, typename Ct>
struct Store<Out, Ct, true> {
  GSWARP_HD static Ct low() { return static_cast<Ct>(std::numeric_limits<Out>::lowest()); }
  GSWARP_HD static Ct high() {
    const Ct hi = static_cast<Ct>(std::numeric_limits<Out>::max());
    // the maximum is 2**digits - 1: a Ct that rounded it up to 2**digits steps back below it
    if (hi >= std::ldexp(Ct(1), std::numeric_limits<Out>::digits)) return std::nextafter(hi, Ct(0));
    return hi;
  }
  GSWARP_HD static Out convert(Ct value) {
    return static_cast<Out>(py_min(py_max(std::nearbyint(value), low()), high()));
  }
};

// ------------------------------------------------------------------------------------------
// weights

// Top-left corner of a bilinear sample at (px, py) and its four weights, as torch computes them.
template <typename Ct>
struct Bilinear {
  index_t ix0, iy0;
  Ct nw, ne, sw, se;
  GSWARP_HD Bilinear(Ct px, Ct py) {
    const Ct x0 = std::floor(px), y0 = std::floor(py);
    const Ct w = px - x0, e = Ct(1) - w, n = py - y0, s = Ct(1) - n;
    ix0 = static_cast<index_t>(x0);
    iy0 = static_cast<index_t>(y0);
    nw = s * e;
    ne = s * w;
    sw = n * e;
    se = n * w;
  }
  // the four corner values combined in torch's order
  GSWARP_HD Ct combine(Ct v_nw, Ct v_ne, Ct v_sw, Ct v_se) const {
    return fma_(v_se, se, fma_(v_sw, sw, fma_(v_ne, ne, v_nw * nw)));
  }
};

// Weights of the near (p0) and far (p0 + 1) neighbour of p, as torch's 3-D kernel computes
// them: (p0 + 1) - p and p - p0.
template <typename Ct>
GSWARP_HD void linear_weights(Ct p, Ct p0, Ct& near, Ct& far) {
  near = (p0 + Ct(1)) - p;
  far = p - p0;
}

constexpr double CUBIC_A = -0.75;  // Keys' cubic convolution parameter, as in torch

// Weight of a tap at distance u <= 1: ((a+2)u - (a+3))u^2 + 1.
template <typename Ct>
GSWARP_HD Ct cubic_inner(Ct u) {
  const Ct a = Ct(CUBIC_A);
  const Ct q = fma_(a + Ct(2), u, -(a + Ct(3))) * u;
  return fma_(q, u, Ct(1));
}

// Weight of a tap at distance 1 < u < 2: ((a u - 5a) u + 8a) u - 4a.
template <typename Ct>
GSWARP_HD Ct cubic_outer(Ct u) {
  const Ct a = Ct(CUBIC_A);
  return ((a * u - Ct(5) * a) * u + Ct(8) * a) * u - Ct(4) * a;
}

// The four tap weights for fractional offset t in [0, 1) (taps at -1, 0, 1, 2).
template <typename Ct>
GSWARP_HD void cubic_weights(Ct t, Ct w[4]) {
  w[0] = cubic_outer(t + Ct(1));
  w[1] = cubic_inner(t);
  w[2] = cubic_inner(Ct(1) - t);
  w[3] = cubic_outer(Ct(2) - t);
}

// sum(w[i] v[i]) over the four x taps, in torch's float32 order.
template <typename Ct>
GSWARP_HD Ct cubic_combine(const Ct w[4], const Ct v[4]) {
  return (fma_(w[0], v[0], w[1] * v[1]) + w[2] * v[2]) + w[3] * v[3];
}

// sum(w[j] r[j]) over the four rows (y) or planes (z), in torch's float32 order.
template <typename Ct>
GSWARP_HD Ct cubic_combine_rows(const Ct w[4], const Ct r[4]) {
  return fma_(w[3], r[3], fma_(w[2], r[2], fma_(w[1], r[1], w[0] * r[0])));
}

// Indices and in-bounds flags of the taps p0 - 1 .. p0 + 2, each padded on its own (torch).
template <typename Ct>
GSWARP_HD void cubic_taps(Ct p0, index_t size, int padding, bool align_corners, index_t index[4],
                          bool valid[4]) {
  const Ct taps[4] = {p0 - Ct(1), p0, p0 + Ct(1), p0 + Ct(2)};
  for (int k = 0; k < 4; ++k) {
    const Ct t = pad_vec(taps[k], size, padding, align_corners);
    index[k] = index_in(t, size);
    valid[k] = inside(t, size);
  }
}

// ------------------------------------------------------------------------------------------
// affine_grid: torch's base coordinates and its GEMM's rounding

// Normalized coordinate of output index i on an axis of `size`: linspace(-1, 1, size) in two
// halves, each with one fused rounding, scaled by (size - 1) / size without align_corners; a
// unit axis sits at 0.
template <typename Ct>
GSWARP_HD Ct base_coord(index_t i, index_t size, bool align_corners) {
  if (size <= 1) return Ct(0);
  const Ct step = Ct(2) / Ct(size - 1);
  const Ct r = i < size / 2 ? fma_(Ct(i), step, Ct(-1)) : fma_(-Ct(size - 1 - i), step, Ct(1));
  if (align_corners) return r;
  return (r * Ct(size - 1)) / Ct(size);
}

// t0 x + t1 y + t2 rounded as torch's affine_grid (a K=3 GEMM) rounds it.
template <typename Ct>
GSWARP_HD Ct affine_coord_2d(Ct x, Ct y, Ct t0, Ct t1, Ct t2) {
  return (x * t0 + y * t1) + t2;
}

// t0 x + t1 y + t2 z + t3 rounded as torch's affine_grid (a K=4 GEMM) rounds it.
template <typename Ct>
GSWARP_HD Ct affine_coord_3d(Ct x, Ct y, Ct z, Ct t0, Ct t1, Ct t2, Ct t3) {
  return ((x * t0 + y * t1) + z * t2) + t3;
}

// ------------------------------------------------------------------------------------------
// fused affine rows: the input coordinate of output column c on a row is
// Ct(fma(m0, c, origin)) in float64, and the columns whose coordinates lie in a band are found
// exactly (numba: row_coordinate, band_columns, interior_columns, inside_columns)

template <typename Ct>
GSWARP_HD Ct row_coordinate(double m0, index_t column, double origin) {
  return static_cast<Ct>(std::fma(m0, static_cast<double>(column), origin));
}

template <typename Ct>
GSWARP_HD bool below(Ct p, double bound, bool inclusive) {
  return inclusive ? p <= static_cast<Ct>(bound) : p < static_cast<Ct>(bound);
}

// Whether column 0's coordinate is below `bound`, and the first column where that answer
// changes (`width` if it never does). The coordinate is monotonic in the column, so it changes
// at most once; the float64 estimate of the crossing is checked exactly at its neighbours, and
// bisection finds it when the estimate is off. Needs finite m0 and origin.
template <typename Ct>
GSWARP_HD bool switch_column(double m0, double origin, double bound, bool inclusive,
                             index_t width, index_t& switch_at) {
  const bool first = below(row_coordinate<Ct>(m0, 0, origin), bound, inclusive);
  switch_at = width;
  if (m0 == 0.0 || width <= 1) return first;
  const double guess = (bound - origin) / m0;
  if (std::isfinite(guess)) {
    const index_t centre = static_cast<index_t>(
        py_min(py_max(std::floor(guess) + 1.0, 1.0), static_cast<double>(width)));
    const index_t candidates[3] = {centre, centre + 1, centre - 1};
    for (index_t s : candidates) {
      if (s < 1 || s > width) continue;
      if (below(row_coordinate<Ct>(m0, s - 1, origin), bound, inclusive) != first) continue;
      if (s == width) {
        switch_at = s;
        return first;
      }
      if (below(row_coordinate<Ct>(m0, s, origin), bound, inclusive) != first) {
        switch_at = s;
        return first;
      }
    }
  }
  index_t low = 0, high = width;  // the answer at low is first; the switch is in (low, high]
  while (high - low > 1) {
    const index_t middle = (low + high) / 2;
    if (below(row_coordinate<Ct>(m0, middle, origin), bound, inclusive) == first)
      low = middle;
    else
      high = middle;
  }
  switch_at = high;
  return first;
}

// [lo, hi) narrowed to the columns whose coordinate lies between low and high (each bound
// inclusive or not); an empty range when m0 or origin is not finite.
template <typename Ct>
GSWARP_HD void band_columns(double m0, double origin, double low, bool low_inclusive, double high,
                            bool high_inclusive, index_t width, index_t& lo, index_t& hi) {
  if (!(std::isfinite(m0) && std::isfinite(origin))) {
    hi = lo;
    return;
  }
  index_t s;
  if (switch_column<Ct>(m0, origin, low, !low_inclusive, width, s))
    lo = py_max(lo, s);  // columns [0, s) are below low: keep the rest
  else
    hi = py_min(hi, s);
  if (switch_column<Ct>(m0, origin, high, high_inclusive, width, s))
    hi = py_min(hi, s);  // columns [0, s) are within high
  else
    lo = py_max(lo, s);
  hi = py_max(lo, hi);
}

// Whether the mode has an interior path and the padding leaves interior coordinates unchanged:
// zeros and border always, reflection with align_corners; bicubic has none.
GSWARP_HD bool has_interior(int mode, int padding, bool align_corners) {
  if (mode == BICUBIC) return false;
  return padding != REFLECTION || align_corners;
}

// Whether the points of a row wholly outside the input all get one value (the fill through
// the general path): bilinear with zeros padding; a kernel computes the first and copies it.
GSWARP_HD bool has_fill_runs(int mode, int padding) {
  return mode == BILINEAR && padding == ZEROS;
}

// Columns whose coordinate on an axis of `size` starting at `offset` is interior:
// 0 <= p - offset < size - 1 for (tri/bi)linear, <= size - 1 for nearest.
template <typename Ct>
GSWARP_HD void interior_columns(double m0, double origin, index_t size, int mode, index_t width,
                                double offset, index_t& lo, index_t& hi) {
  const double high = offset + static_cast<double>(size) - 1.0;
  band_columns<Ct>(m0, origin, offset, true, high, mode == NEAREST, width, lo, hi);
}

// Columns whose coordinate is strictly between offset - 1 and offset + size (a linear sample
// there reads at least one pixel).
template <typename Ct>
GSWARP_HD void inside_columns(double m0, double origin, index_t size, index_t width,
                              double offset, index_t& lo, index_t& hi) {
  band_columns<Ct>(m0, origin, offset - 1.0, false, offset + static_cast<double>(size), false,
                   width, lo, hi);
}

}  // namespace GSWARP_LEVEL
}  // namespace gswarp
