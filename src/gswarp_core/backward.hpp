// Backward passes of grid_sample and the fused affine sample on the CPU: the gradients for the
// input, for the grid, and for an affine warp's pixel-space matrix (torch's semantics,
// ../shared/reference/grid_sample_semantics.md §3, §7; the numba engine's
// backward passes, operation for operation -- tests/test_core.py holds its digests; the
// formulas and order: docs/engine.md, "Backward passes").
//
// Per output point the coordinate is turned into input pixels as in the forward pass (a grid
// value un-normalized, or an affine matrix stepped along the row), the derivative of the output
// for that pixel coordinate computed, then multiplied by the chain's factors: padding's (0 where
// border or reflection clips, -1 where reflection mirrors; bicubic pads its taps and has none),
// the un-normalization's scale ((S - 1) / 2 with align_corners, S / 2 without), or for a matrix
// d out / d M[k, j] = d out / d p_k * q_j (q the output pixel), summed per output row in
// float64. Bilinear uses torch's vectorized kernel's fused multiply-adds, trilinear its scalar
// kernel's products, bicubic Keys' derivative weights. A point whose coordinate is not finite
// adds nothing and has a zero coordinate gradient.
//
// Order, hence bits, independent of the threads: coordinate gradients are computed per output
// row; grad_input by jobs that each own a band of rows (2-D) or slices (3-D) of one (batch,
// channel) plane or of all of a batch item's channels, zero their band, scan every output
// point in order and add only the corners inside their band -- so every input pixel receives
// its terms in output-point order, whatever the bands and the thread count.
#pragma once

#include "grid_sample.hpp"
#include "kernels.hpp"
#include "pointwise.hpp"
#include "views.hpp"

namespace gswarp {
inline namespace GSWARP_LEVEL {

// ------------------------------------------------------------------------------------------
// padding's multipliers

// torch's clip multiplier: 0 on or beyond the edges 0 and size - 1, else 1.
template <typename Ct>
GSWARP_HD Ct clip_grad(Ct p, index_t size) {
  return (p <= Ct(0) || p >= Ct(size - 1)) ? Ct(0) : Ct(1);
}

// torch's vectorized reflection multiplier (+1 or -1) at pixel coordinate p.
template <typename Ct>
GSWARP_HD_LARGE Ct reflect_sign_vec(Ct p, index_t size, bool align_corners) {
  Ct low, span;
  reflection_bounds(size, align_corners, low, span);
  if (span == Ct(0)) return Ct(0);
  const Ct twice_span = span * Ct(2);
  const Ct a = std::fabs(p - low);
  const Ct flips = std::trunc(a / twice_span);
  const Ct extra = fma_(-flips, twice_span, a);
  const bool mirrored = extra > twice_span - extra;
  const bool negative = p - low < Ct(0);
  return mirrored != negative ? Ct(-1) : Ct(1);
}

// torch's scalar reflection multiplier (+1 or -1) at pixel coordinate p.
template <typename Ct>
GSWARP_HD_LARGE Ct reflect_sign_scalar(Ct p, index_t size, bool align_corners) {
  Ct low, span;
  reflection_bounds(size, align_corners, low, span);
  if (span == Ct(0)) return Ct(0);
  const Ct sign = p - low < Ct(0) ? Ct(-1) : Ct(1);
  const Ct flips = std::floor(std::fabs(p - low) / span);
  return std::fmod(flips, Ct(2)) == Ct(0) ? sign : -sign;
}

// Pads p in place (torch's vectorized formulas, or its scalar ones with Scalar) and returns
// padding's multiplier 0 / +1 / -1.
template <bool Scalar, typename Ct>
GSWARP_HD Ct pad_grad(Ct& p, index_t size, int padding, bool align_corners) {
  Ct m = Ct(1);
  if (padding == BORDER) {
    m = clip_grad(p, size);
    p = clip(p, size);
  } else if (padding == REFLECTION) {
    if (Scalar) {
      m = reflect_sign_scalar(p, size, align_corners);
      p = reflect_scalar(p, size, align_corners);
    } else {
      m = reflect_sign_vec(p, size, align_corners);
      p = reflect_vec(p, size, align_corners);
    }
    m = m * clip_grad(p, size);
    p = clip(p, size);
  }
  return m;
}

// The linear cell of pixel coordinate p: its near corner i0 and the weights of the near and
// far corners, 1 - (p - i0) and p - i0 (torch's backward weights).
template <typename Ct>
struct Cell {
  index_t i0;
  Ct d0, d1;
  GSWARP_HD explicit Cell(Ct p) {
    const Ct near = std::floor(p);
    d1 = p - near;
    d0 = Ct(1) - d1;
    i0 = static_cast<index_t>(near);
  }
};

GSWARP_HD bool in_axis(index_t i, index_t size) { return i >= 0 && i < size; }

// ------------------------------------------------------------------------------------------
// cubic convolution's derivative weights

// d/du of ((a+2)u - (a+3))u^2 + 1: 3(a+2)u^2 - 2(a+3)u.
template <typename Ct>
GSWARP_HD Ct cubic_inner_slope(Ct u) {
  const Ct a = Ct(CUBIC_A);
  return (Ct(3) * (a + Ct(2)) * u - Ct(2) * (a + Ct(3))) * u;
}

// d/du of ((a u - 5a) u + 8a) u - 4a: 3a u^2 - 10a u + 8a.
template <typename Ct>
GSWARP_HD Ct cubic_outer_slope(Ct u) {
  const Ct a = Ct(CUBIC_A);
  return (Ct(3) * a * u - Ct(10) * a) * u + Ct(8) * a;
}

// One axis of a cubic sample at pixel coordinate p (before padding): the four taps' weights,
// their derivatives for p, the padded tap indices and their in-bounds flags.
template <typename Ct>
struct CubicAxis {
  Ct w[4], d[4];
  index_t i[4];
  bool ok[4];
  GSWARP_HD CubicAxis(Ct p, index_t size, int padding, bool align_corners) {
    const Ct p0 = std::floor(p);
    cubic_taps(p0, size, padding, align_corners, i, ok);
    const Ct t = p - p0;
    cubic_weights(t, w);
    d[0] = cubic_outer_slope(t + Ct(1));
    d[1] = cubic_inner_slope(t);
    d[2] = -cubic_inner_slope(Ct(1) - t);
    d[3] = -cubic_outer_slope(Ct(2) - t);
  }
};

// ------------------------------------------------------------------------------------------
// where an output point reads: a grid's value un-normalized (finite: the grid's values are),
// or a pixel-space matrix's coordinates as the forward affine kernels compute them

template <typename T>
struct GridSource {
  View<const T, 5> grid;  // (N, [Do,] Ho, Wo, k), a 2-D grid seen with Do = 1
  // the point's pixel coordinates p[0..k) (x, y[, z]); false where a grid value is not finite
  template <int Spatial, bool Vectorized>
  GSWARP_HD bool point(index_t n, index_t d, index_t h, index_t w, const index_t* sizes,
                       bool align_corners, T* p) const {
    const T* g = grid.data + n * grid.stride[0] + d * grid.stride[1] + h * grid.stride[2] +
                 w * grid.stride[3];
    bool ok = true;
    for (int k = 0; k < Spatial; ++k) {
      const T v = g[k * grid.stride[4]];
      ok = ok && finite(v);
      p[k] = Vectorized ? unnormalize_vec(v, sizes[k], align_corners)
                        : unnormalize_scalar(v, sizes[k], align_corners);
    }
    return ok;
  }
};

struct MatrixSource {
  View<const double, 3> matrix;  // (N, k, k + 1) float64: output pixel -> input pixel
  // the row origin of axis k: the matrix's terms of (h[, d], 1), in the forward pass's order
  template <int Spatial>
  GSWARP_HD double origin(index_t n, int k, index_t d, index_t h) const {
    const double* m = matrix.data + n * matrix.stride[0] + k * matrix.stride[1];
    const index_t s = matrix.stride[2];
    if (Spatial == 2) return m[s] * static_cast<double>(h) + m[2 * s];
    return m[s] * static_cast<double>(h) + m[2 * s] * static_cast<double>(d) + m[3 * s];
  }
  template <int Spatial, bool Vectorized, typename T>
  GSWARP_HD bool point(index_t n, index_t d, index_t h, index_t w, const index_t*, bool,
                       T* p) const {
    bool ok = true;
    for (int k = 0; k < Spatial; ++k) {
      const double m0 = matrix.data[n * matrix.stride[0] + k * matrix.stride[1]];
      p[k] = row_coordinate<T>(m0, w, origin<Spatial>(n, k, d, h));
      ok = ok && finite(p[k]);
    }
    return ok;
  }
};

// ------------------------------------------------------------------------------------------
// one output point: d(sum_c gout_c * out_c) / d(pixel coordinate, before padding)
//
// The 2-D functions add channels c0 .. c1 - 1 onto the sums acc carried from the channels
// before (torch's order) and set padding's multipliers m: the gradient is acc * m once every
// channel is in. `g` is the output gradient's point (its channels), `fill` per channel.

template <typename T>
GSWARP_HD void bilinear_channel_grad(T v_nw, T v_ne, T v_sw, T v_se, T e, T w, T s, T nn, T g,
                                     T acc[2]) {
  const T inner_x = fma_(v_se - v_sw, nn, (v_ne - v_nw) * s);
  const T inner_y = fma_(v_se - v_ne, w, (v_sw - v_nw) * e);
  acc[0] = fma_(inner_x, g, acc[0]);
  acc[1] = fma_(inner_y, g, acc[1]);
}

template <typename T>
GSWARP_HD void bilinear_grad_2d(const Image2d<T>& im, const Pixel<const T>& g, T px, T py,
                                const SampleOptions& o, const T* fill, index_t c0, index_t c1,
                                T acc[2], T m[2]) {
  const index_t H = im.H, W = im.W;
  m[0] = pad_grad<false>(px, W, o.padding, o.align_corners);
  m[1] = pad_grad<false>(py, H, o.padding, o.align_corners);
  if (!(inside(px, W) && inside(py, H))) {  // every corner reads the fill: a constant
    acc[0] = acc[1] = m[0] = m[1] = T(0);
    return;
  }
  const Cell<T> x(px), y(py);
  const T e = x.d0, w = x.d1, s = y.d0, nn = y.d1;
  const index_t x0 = x.i0, y0 = y.i0, x1 = x0 + 1, y1 = y0 + 1;
  if (x0 >= 0 && x1 < W && y0 >= 0 && y1 < H) {  // all four corners inside: no masks
    const T* q = im.base + c0 * im.sc + y0 * im.sy + x0 * im.sx;
    const auto channel = [&](const T* p, index_t c) {
      bilinear_channel_grad(p[0], p[im.sx], p[im.sy], p[im.sy + im.sx], e, w, s, nn, g[c], acc);
    };
    if (c1 - c0 == 3) {  // RGB unrolled (as the forward pass): the loads issue together
      channel(q, c0);
      channel(q + im.sc, c0 + 1);
      channel(q + 2 * im.sc, c0 + 2);
      return;
    }
    for (index_t c = c0; c < c1; ++c, q += im.sc) channel(q, c);
    return;
  }
  const EdgePair ex(x0, W), ey(y0, H);
  for (index_t c = c0; c < c1; ++c) {
    const T f = fill[c];
    const T v_nw = (ex.in0 && ey.in0) ? im.at(c, ey.i0, ex.i0) : f;
    const T v_ne = (ex.in1 && ey.in0) ? im.at(c, ey.i0, ex.i1) : f;
    const T v_sw = (ex.in0 && ey.in1) ? im.at(c, ey.i1, ex.i0) : f;
    const T v_se = (ex.in1 && ey.in1) ? im.at(c, ey.i1, ex.i1) : f;
    bilinear_channel_grad(v_nw, v_ne, v_sw, v_se, e, w, s, nn, g[c], acc);
  }
}

template <typename T>
GSWARP_HD_LARGE void bicubic_grad_2d(const Image2d<T>& im, const Pixel<const T>& g, T px, T py,
                                     const SampleOptions& o, const T* fill, index_t c0,
                                     index_t c1, T acc[2], T m[2]) {
  const CubicAxis<T> ax(px, im.W, o.padding, o.align_corners);
  const CubicAxis<T> ay(py, im.H, o.padding, o.align_corners);
  for (index_t c = c0; c < c1; ++c) {
    const T gc = g[c], f = fill[c];
    for (int i = 0; i < 4; ++i)
      for (int j = 0; j < 4; ++j) {
        const T v = (ay.ok[j] && ax.ok[i]) ? im.at(c, ay.i[j], ax.i[i]) : f;
        acc[0] += ((v * ax.d[i]) * ay.w[j]) * gc;
        acc[1] += ((v * ax.w[i]) * ay.d[j]) * gc;
      }
  }
  m[0] = m[1] = T(1);
}

template <int MODE, typename T>
GSWARP_HD void point_grad_2d(const Image2d<T>& im, const Pixel<const T>& g, T px, T py,
                             const SampleOptions& o, const T* fill, index_t c0, index_t c1,
                             T acc[2], T m[2]) {
  if (MODE == BILINEAR) {
    bilinear_grad_2d(im, g, px, py, o, fill, c0, c1, acc, m);
  } else if (MODE == BICUBIC) {
    bicubic_grad_2d(im, g, px, py, o, fill, c0, c1, acc, m);
  } else {  // nearest: a piecewise-constant output, zero gradient
    acc[0] = acc[1] = m[0] = m[1] = T(0);
  }
}

// 3-D: every channel at once; d[0..3) is the gradient, padding's multipliers applied.
template <typename T>
GSWARP_HD void trilinear_grad_3d(const Image3d<T>& im, const Pixel<const T>& g, T px, T py,
                                 T pz, const SampleOptions& o, const T* fill, T d[3]) {
  const index_t D = im.D, H = im.H, W = im.W;
  const T mx = pad_grad<true>(px, W, o.padding, o.align_corners);
  const T my = pad_grad<true>(py, H, o.padding, o.align_corners);
  const T mz = pad_grad<true>(pz, D, o.padding, o.align_corners);
  d[0] = d[1] = d[2] = T(0);
  if (!(inside(px, W) && inside(py, H) && inside(pz, D))) return;
  const Cell<T> x(px), y(py), z(pz);
  const T wxs[2] = {x.d0, x.d1}, wys[2] = {y.d0, y.d1}, wzs[2] = {z.d0, z.d1};
  T gix = T(0), giy = T(0), giz = T(0);
  // the eight corners' terms in torch's order (z, y, x; near corner first), sign -1 near
  const auto corners = [&](const T v[8], T gc) {
    for (int cz = 0; cz < 2; ++cz)
      for (int cy = 0; cy < 2; ++cy)
        for (int cx = 0; cx < 2; ++cx) {
          const T value = v[cz * 4 + cy * 2 + cx];
          const T sx = cx ? T(1) : T(-1), sy = cy ? T(1) : T(-1), sz = cz ? T(1) : T(-1);
          gix += sx * ((value * wys[cy]) * wzs[cz]) * gc;
          giy += sy * ((value * wxs[cx]) * wzs[cz]) * gc;
          giz += sz * ((value * wxs[cx]) * wys[cy]) * gc;
        }
  };
  T v[8];
  if (x.i0 >= 0 && x.i0 + 1 < W && y.i0 >= 0 && y.i0 + 1 < H && z.i0 >= 0 && z.i0 + 1 < D) {
    // all eight corners inside (the common case): every load first, no masks
    const T* q = im.base + z.i0 * im.sz + y.i0 * im.sy + x.i0 * im.sx;
    const index_t sx = im.sx, sy = im.sy, sz = im.sz;
    for (index_t c = 0; c < im.C; ++c, q += im.sc) {
      v[0] = q[0];
      v[1] = q[sx];
      v[2] = q[sy];
      v[3] = q[sy + sx];
      v[4] = q[sz];
      v[5] = q[sz + sx];
      v[6] = q[sz + sy];
      v[7] = q[sz + sy + sx];
      corners(v, g[c]);
    }
  } else {
    const EdgePair ex(x.i0, W), ey(y.i0, H), ez(z.i0, D);
    const bool inx[2] = {ex.in0, ex.in1}, iny[2] = {ey.in0, ey.in1}, inz[2] = {ez.in0, ez.in1};
    const index_t ix[2] = {ex.i0, ex.i1}, iy[2] = {ey.i0, ey.i1}, iz[2] = {ez.i0, ez.i1};
    for (index_t c = 0; c < im.C; ++c) {
      const T f = fill[c];
      for (int k = 0; k < 8; ++k) {
        const int cz = k >> 2, cy = (k >> 1) & 1, cx = k & 1;
        v[k] = (inz[cz] && iny[cy] && inx[cx]) ? im.at(c, iz[cz], iy[cy], ix[cx]) : f;
      }
      corners(v, g[c]);
    }
  }
  d[0] = mx * gix;
  d[1] = my * giy;
  d[2] = mz * giz;
}

template <typename T>
GSWARP_HD_LARGE void tricubic_grad_3d(const Image3d<T>& im, const Pixel<const T>& g, T px, T py,
                                      T pz, const SampleOptions& o, const T* fill, T d[3]) {
  const CubicAxis<T> ax(px, im.W, o.padding, o.align_corners);
  const CubicAxis<T> ay(py, im.H, o.padding, o.align_corners);
  const CubicAxis<T> az(pz, im.D, o.padding, o.align_corners);
  T acc_x = T(0), acc_y = T(0), acc_z = T(0);
  for (index_t c = 0; c < im.C; ++c) {
    const T gc = g[c], f = fill[c];
    for (int k = 0; k < 4; ++k)
      for (int j = 0; j < 4; ++j)
        for (int i = 0; i < 4; ++i) {
          const bool ok = az.ok[k] && ay.ok[j] && ax.ok[i];
          const T v = ok ? im.at(c, az.i[k], ay.i[j], ax.i[i]) : f;
          acc_x += (((v * ax.d[i]) * ay.w[j]) * az.w[k]) * gc;
          acc_y += (((v * ax.w[i]) * ay.d[j]) * az.w[k]) * gc;
          acc_z += (((v * ax.w[i]) * ay.w[j]) * az.d[k]) * gc;
        }
  }
  d[0] = acc_x;
  d[1] = acc_y;
  d[2] = acc_z;
}

template <int MODE, typename T>
GSWARP_HD void point_grad_3d(const Image3d<T>& im, const Pixel<const T>& g, T px, T py, T pz,
                             const SampleOptions& o, const T* fill, T d[3]) {
  if (MODE == BILINEAR)
    trilinear_grad_3d(im, g, px, py, pz, o, fill, d);
  else if (MODE == BICUBIC)
    tricubic_grad_3d(im, g, px, py, pz, o, fill, d);
  else
    d[0] = d[1] = d[2] = T(0);
}

// ------------------------------------------------------------------------------------------
// one output point's share of grad_input, for channels c0 .. c1 - 1, added only to the rows
// (2-D) or slices (3-D) [lo, hi) of its band

// grad_input's one addition: plain on the CPU (each input pixel owned by one job), an atomic
// add in a CUDA kernel (threads of any output point meet on a pixel: the order, hence the
// last bits, is the hardware's).
template <typename T>
GSWARP_HD void scatter_add(T* target, T value) {
#if defined(__CUDA_ARCH__)
  atomicAdd(target, value);
#else
  *target += value;
#endif
}

// A band of one batch item's grad_input: rows (2-D) or slices (3-D) [lo, hi) of planes c0..c1.
template <typename T, int N>
struct Band {
  const View<T, N>& ginp;
  index_t n, c0, c1, lo, hi;
  GSWARP_HD T* plane(index_t c) const { return ginp.data + n * ginp.stride[0] + c * ginp.stride[1]; }
  GSWARP_HD bool owns(index_t first_axis_index) const {
    return first_axis_index >= lo && first_axis_index < hi;
  }
};

template <int MODE, typename T>
GSWARP_HD void scatter_2d(const Band<T, 4>& b, const Pixel<const T>& g, T px, T py,
                          const SampleOptions& o) {
  const View<T, 4>& gi = b.ginp;
  const index_t H = gi.shape[2], W = gi.shape[3], sy = gi.stride[2], sx = gi.stride[3];
  if (MODE == BICUBIC) {
    const CubicAxis<T> ax(px, W, o.padding, o.align_corners);
    const CubicAxis<T> ay(py, H, o.padding, o.align_corners);
    for (index_t c = b.c0; c < b.c1; ++c) {
      T* plane = b.plane(c);
      const T gc = g[c];
      for (int i = 0; i < 4; ++i)
        for (int j = 0; j < 4; ++j)
          if (ay.ok[j] && ax.ok[i] && b.owns(ay.i[j]))
            scatter_add(&plane[ay.i[j] * sy + ax.i[i] * sx], (gc * ax.w[i]) * ay.w[j]);
    }
    return;
  }
  pad_grad<false>(px, W, o.padding, o.align_corners);
  pad_grad<false>(py, H, o.padding, o.align_corners);
  if (MODE == NEAREST) {
    const T rx = std::nearbyint(px), ry = std::nearbyint(py);
    if (!(inside(rx, W) && inside(ry, H))) return;
    const index_t y = index_in(ry, H), x = index_in(rx, W);
    if (!b.owns(y)) return;
    for (index_t c = b.c0; c < b.c1; ++c) scatter_add(&b.plane(c)[y * sy + x * sx], g[c]);
    return;
  }
  if (!(inside(px, W) && inside(py, H))) return;
  const Cell<T> x(px), y(py);
  const T e = x.d0, w = x.d1, s = y.d0, nn = y.d1;
  const index_t x0 = x.i0, y0 = y.i0, x1 = x0 + 1, y1 = y0 + 1;
  if (y1 < b.lo || y0 >= b.hi) return;  // both rows in another job's band
  const T w_nw = s * e, w_ne = s * w, w_sw = nn * e, w_se = nn * w;
  const bool nw = in_axis(x0, W) && in_axis(y0, H) && b.owns(y0);
  const bool ne = in_axis(x1, W) && in_axis(y0, H) && b.owns(y0);
  const bool sw = in_axis(x0, W) && in_axis(y1, H) && b.owns(y1);
  const bool se = in_axis(x1, W) && in_axis(y1, H) && b.owns(y1);
  for (index_t c = b.c0; c < b.c1; ++c) {
    T* plane = b.plane(c);
    const T gc = g[c];
    if (nw) scatter_add(&plane[y0 * sy + x0 * sx], w_nw * gc);
    if (ne) scatter_add(&plane[y0 * sy + x1 * sx], w_ne * gc);
    if (sw) scatter_add(&plane[y1 * sy + x0 * sx], w_sw * gc);
    if (se) scatter_add(&plane[y1 * sy + x1 * sx], w_se * gc);
  }
}

template <int MODE, typename T>
GSWARP_HD void scatter_3d(const Band<T, 5>& b, const Pixel<const T>& g, T px, T py, T pz,
                          const SampleOptions& o) {
  const View<T, 5>& gi = b.ginp;
  const index_t D = gi.shape[2], H = gi.shape[3], W = gi.shape[4];
  const index_t sz = gi.stride[2], sy = gi.stride[3], sx = gi.stride[4];
  if (MODE == BICUBIC) {
    const CubicAxis<T> ax(px, W, o.padding, o.align_corners);
    const CubicAxis<T> ay(py, H, o.padding, o.align_corners);
    const CubicAxis<T> az(pz, D, o.padding, o.align_corners);
    for (index_t c = b.c0; c < b.c1; ++c) {
      T* plane = b.plane(c);
      const T gc = g[c];
      for (int k = 0; k < 4; ++k) {
        if (!(az.ok[k] && b.owns(az.i[k]))) continue;
        for (int j = 0; j < 4; ++j)
          for (int i = 0; i < 4; ++i)
            if (ay.ok[j] && ax.ok[i])
              scatter_add(&plane[az.i[k] * sz + ay.i[j] * sy + ax.i[i] * sx],
                          ((gc * ax.w[i]) * ay.w[j]) * az.w[k]);
      }
    }
    return;
  }
  pad_grad<true>(px, W, o.padding, o.align_corners);
  pad_grad<true>(py, H, o.padding, o.align_corners);
  pad_grad<true>(pz, D, o.padding, o.align_corners);
  if (MODE == NEAREST) {
    const T rx = std::nearbyint(px), ry = std::nearbyint(py), rz = std::nearbyint(pz);
    if (!(inside(rx, W) && inside(ry, H) && inside(rz, D))) return;
    const index_t z = index_in(rz, D);
    if (!b.owns(z)) return;
    const index_t offset = z * sz + index_in(ry, H) * sy + index_in(rx, W) * sx;
    for (index_t c = b.c0; c < b.c1; ++c) scatter_add(&b.plane(c)[offset], g[c]);
    return;
  }
  if (!(inside(px, W) && inside(py, H) && inside(pz, D))) return;
  const Cell<T> x(px), y(py), z(pz);
  if (z.i0 + 1 < b.lo || z.i0 >= b.hi) return;  // both slices in another job's band
  const T wxs[2] = {x.d0, x.d1}, wys[2] = {y.d0, y.d1}, wzs[2] = {z.d0, z.d1};
  T weight[8];
  for (int k = 0; k < 8; ++k) weight[k] = (wxs[k & 1] * wys[(k >> 1) & 1]) * wzs[k >> 2];
  const index_t base = z.i0 * sz + y.i0 * sy + x.i0 * sx;
  const index_t offset[8] = {0, sx, sy, sy + sx, sz, sz + sx, sz + sy, sz + sy + sx};
  if (x.i0 >= 0 && x.i0 + 1 < W && y.i0 >= 0 && y.i0 + 1 < H && z.i0 >= b.lo &&
      z.i0 + 1 < b.hi) {  // all eight corners inside the band (the common case): no masks
    for (index_t c = b.c0; c < b.c1; ++c) {
      T* q = b.plane(c) + base;
      const T gc = g[c];
      for (int k = 0; k < 8; ++k) scatter_add(&q[offset[k]], weight[k] * gc);
    }
    return;
  }
  bool keep[8];
  for (int k = 0; k < 8; ++k) {
    const index_t xi = x.i0 + (k & 1), yi = y.i0 + ((k >> 1) & 1), zi = z.i0 + (k >> 2);
    keep[k] = in_axis(xi, W) && in_axis(yi, H) && in_axis(zi, D) && b.owns(zi);
  }
  for (index_t c = b.c0; c < b.c1; ++c) {
    T* plane = b.plane(c);
    const T gc = g[c];
    for (int k = 0; k < 8; ++k)
      if (keep[k]) scatter_add(&plane[base + offset[k]], weight[k] * gc);
  }
}

// ------------------------------------------------------------------------------------------
// kernels

// un-normalization's derivative: (S - 1) / 2 with align_corners, S / 2 without
template <typename T>
GSWARP_HD T unnormalize_scale(index_t size, bool align_corners) {
  return T(size - (align_corners ? 1 : 0)) / T(2);
}

// A 2-D grid (N, Ho, Wo, 2) seen as a 3-D one with Do = 1.
template <typename T>
GSWARP_HD View<const T, 5> grid_as_5d(const ArrayArg& a) {
  ArrayArg b = a;
  if (a.ndim == 4) {
    b.ndim = 5;
    b.shape[0] = a.shape[0];
    b.stride[0] = a.stride[0];
    b.shape[1] = 1;
    b.stride[1] = 0;
    for (int i = 1; i < 4; ++i) {
      b.shape[i + 1] = a.shape[i];
      b.stride[i + 1] = a.stride[i];
    }
  }
  return View<const T, 5>(b);
}

// The un-normalization's scales of an input's axes (x, y[, z]): grid_scales<T>(im, o, s).
template <typename T>
GSWARP_HD void grid_scales(const Image2d<T>& im, const SampleOptions& o, T s[2]) {
  s[0] = unnormalize_scale<T>(im.W, o.align_corners);
  s[1] = unnormalize_scale<T>(im.H, o.align_corners);
}
template <typename T>
GSWARP_HD void grid_scales(const Image3d<T>& im, const SampleOptions& o, T s[3]) {
  s[0] = unnormalize_scale<T>(im.W, o.align_corners);
  s[1] = unnormalize_scale<T>(im.H, o.align_corners);
  s[2] = unnormalize_scale<T>(im.D, o.align_corners);
}

// The grid gradient of output point (n, ho, wo) 2-D for channels c0 .. c1 - 1 of C: the sums
// of the channels before carried in ggrid's point, the gradient written once the last channel
// is in (the CPU takes the channels in one pass or one per pass: the same bits). `scale`:
// grid_scales of the input (computed once per call, not per point).
template <int MODE, typename T>
GSWARP_HD void grid_grad_point_2d(const View<const T, 4>& gout, const Image2d<T>& im,
                                  const GridSource<T>& src, const View<T, 4>& ggrid,
                                  const SampleOptions& o, const T* fill, const T scale[2],
                                  index_t n, index_t ho, index_t wo, index_t c0, index_t c1) {
  const index_t sizes[2] = {im.W, im.H};
  T p[2];
  T acc[2] = {T(0), T(0)}, m[2] = {T(0), T(0)};
  T* out = ggrid.data + n * ggrid.stride[0] + ho * ggrid.stride[1] + wo * ggrid.stride[2];
  if (src.template point<2, true>(n, 0, ho, wo, sizes, o.align_corners, p)) {
    if (c0 > 0) {
      acc[0] = out[0];
      acc[1] = out[ggrid.stride[3]];
    }
    const Pixel<const T> g{gout.data + n * gout.stride[0] + ho * gout.stride[2] +
                               wo * gout.stride[3],
                           gout.stride[1]};
    point_grad_2d<MODE>(im, g, p[0], p[1], o, fill, c0, c1, acc, m);
  }
  if (c1 == im.C) {
    out[0] = (acc[0] * m[0]) * scale[0];
    out[ggrid.stride[3]] = (acc[1] * m[1]) * scale[1];
  } else {
    out[0] = acc[0];
    out[ggrid.stride[3]] = acc[1];
  }
}

// The grid gradient of output point (n, d, ho, wo) 3-D, every channel; `scale` as 2-D's.
template <int MODE, typename T>
GSWARP_HD void grid_grad_point_3d(const View<const T, 5>& gout, const Image3d<T>& im,
                                  const GridSource<T>& src, const View<T, 5>& ggrid,
                                  const SampleOptions& o, const T* fill, const T scale[3],
                                  index_t n, index_t d, index_t ho, index_t wo) {
  const index_t sizes[3] = {im.W, im.H, im.D};
  T p[3];
  T grad[3] = {T(0), T(0), T(0)};
  if (src.template point<3, MODE == BICUBIC>(n, d, ho, wo, sizes, o.align_corners, p)) {
    const Pixel<const T> g{gout.data + n * gout.stride[0] + d * gout.stride[2] +
                               ho * gout.stride[3] + wo * gout.stride[4],
                           gout.stride[1]};
    point_grad_3d<MODE>(im, g, p[0], p[1], p[2], o, fill, grad);
  }
  T* out = ggrid.data + n * ggrid.stride[0] + d * ggrid.stride[1] + ho * ggrid.stride[2] +
           wo * ggrid.stride[3];
  for (int k = 0; k < 3; ++k) out[k * ggrid.stride[4]] = scale[k] * grad[k];
}

// One output point's share of grad_input, channels [b.c0, b.c1) of band b: the point's
// coordinate from `src` (a grid or a matrix), its corners' or taps' terms added.
template <int Spatial, int MODE, typename T, typename Source>
GSWARP_HD void scatter_point(const View<const T, Spatial + 2>& gout, const Source& src,
                             const Band<T, Spatial + 2>& band, const SampleOptions& o,
                             index_t d, index_t ho, index_t wo) {
  constexpr bool Vectorized = Spatial == 2 || MODE == BICUBIC;
  index_t sizes[3];
  for (int k = 0; k < Spatial; ++k) sizes[k] = band.ginp.shape[Spatial + 1 - k];
  T p[3];
  if (!src.template point<Spatial, Vectorized>(band.n, d, ho, wo, sizes, o.align_corners, p))
    return;
  const T* g = gout.data + band.n * gout.stride[0] + ho * gout.stride[Spatial] +
               wo * gout.stride[Spatial + 1];
  if (Spatial == 3) g += d * gout.stride[2];
  const Pixel<const T> gp{g, gout.stride[1]};
  if constexpr (Spatial == 2)
    scatter_2d<MODE>(band, gp, p[0], p[1], o);
  else
    scatter_3d<MODE>(band, gp, p[0], p[1], p[2], o);
}

// Matrix gradient 2-D of output row `job` of the flattened (batch, row) index: rows[job] =
// (2, 3) float64, that row's share of d L / d M (its columns summed in order, in float64).
template <int MODE, typename T>
GSWARP_HD void matrix_grad_row_2d(const View<const T, 4>& gout, const View<const T, 4>& inp,
                                  const MatrixSource& src, const View<double, 3>& rows,
                                  const SampleOptions& o, const T* fill, index_t job) {
  const index_t C = inp.shape[1], Ho = gout.shape[2], Wo = gout.shape[3];
  const index_t n = job / Ho, ho = job - n * Ho;
  const Image2d<T> im = image_2d(inp, n);
  const double* m = src.matrix.data + n * src.matrix.stride[0];
  const index_t s1 = src.matrix.stride[1];
  const double ox = src.origin<2>(n, 0, 0, ho), oy = src.origin<2>(n, 1, 0, ho);
  double sums[2] = {0.0, 0.0}, moments[2] = {0.0, 0.0};
  for (index_t wo = 0; wo < Wo; ++wo) {
    const T px = row_coordinate<T>(m[0], wo, ox), py = row_coordinate<T>(m[s1], wo, oy);
    if (!(finite(px) && finite(py))) continue;
    const Pixel<const T> g{gout.data + n * gout.stride[0] + ho * gout.stride[2] +
                               wo * gout.stride[3],
                           gout.stride[1]};
    T acc[2] = {T(0), T(0)}, mult[2];
    point_grad_2d<MODE>(im, g, px, py, o, fill, 0, C, acc, mult);
    for (int k = 0; k < 2; ++k) {
      const T dk = acc[k] * mult[k];
      sums[k] += dk;
      moments[k] += static_cast<double>(dk) * static_cast<double>(wo);
    }
  }
  double* r = rows.data + job * rows.stride[0];
  for (int k = 0; k < 2; ++k) {
    double* rk = r + k * rows.stride[1];
    rk[0] = moments[k];
    rk[rows.stride[2]] = sums[k] * static_cast<double>(ho);
    rk[2 * rows.stride[2]] = sums[k];
  }
}

// Matrix gradient 3-D of output row `job` = (n * Do + d) * Ho + ho: rows[job] = (3, 4) float64.
template <int MODE, typename T>
GSWARP_HD void matrix_grad_row_3d(const View<const T, 5>& gout, const View<const T, 5>& inp,
                                  const MatrixSource& src, const View<double, 3>& rows,
                                  const SampleOptions& o, const T* fill, index_t job) {
  const index_t Do = gout.shape[2], Ho = gout.shape[3], Wo = gout.shape[4];
  const index_t n = job / (Do * Ho), rest = job - n * (Do * Ho);
  const index_t d = rest / Ho, ho = rest - d * Ho;
  const Image3d<T> im = image_3d(inp, n);
  double m0[3], origin[3];
  for (int k = 0; k < 3; ++k) {
    m0[k] = src.matrix.data[n * src.matrix.stride[0] + k * src.matrix.stride[1]];
    origin[k] = src.origin<3>(n, k, d, ho);
  }
  double sums[3] = {0.0, 0.0, 0.0}, moments[3] = {0.0, 0.0, 0.0};
  for (index_t wo = 0; wo < Wo; ++wo) {
    T p[3];
    bool ok = true;
    for (int k = 0; k < 3; ++k) {
      p[k] = row_coordinate<T>(m0[k], wo, origin[k]);
      ok = ok && finite(p[k]);
    }
    if (!ok) continue;
    const Pixel<const T> g{gout.data + n * gout.stride[0] + d * gout.stride[2] +
                               ho * gout.stride[3] + wo * gout.stride[4],
                           gout.stride[1]};
    T grad[3];
    point_grad_3d<MODE>(im, g, p[0], p[1], p[2], o, fill, grad);
    for (int k = 0; k < 3; ++k) {
      sums[k] += grad[k];
      moments[k] += static_cast<double>(grad[k]) * static_cast<double>(wo);
    }
  }
  double* r = rows.data + job * rows.stride[0];
  for (int k = 0; k < 3; ++k) {
    double* rk = r + k * rows.stride[1];
    rk[0] = moments[k];
    rk[rows.stride[2]] = sums[k] * static_cast<double>(ho);
    rk[2 * rows.stride[2]] = sums[k] * static_cast<double>(d);
    rk[3 * rows.stride[2]] = sums[k];
  }
}

#if GSWARP_HOST_ONLY  // the CPU's row loops and band jobs
// Matrix gradient rows [start, stop) of the flattened (batch, [depth,] row) index.
template <int Spatial, int MODE, typename T>
void matrix_grad_rows(const View<const T, Spatial + 2>& gout,
                      const View<const T, Spatial + 2>& inp, const MatrixSource& src,
                      const View<double, 3>& rows, const SampleOptions& o, const T* fill,
                      index_t start, index_t stop) {
  for (index_t job = start; job < stop; ++job) {
    if constexpr (Spatial == 2)
      matrix_grad_row_2d<MODE>(gout, inp, src, rows, o, fill, job);
    else
      matrix_grad_row_3d<MODE>(gout, inp, src, rows, o, fill, job);
  }
}

// Grid gradient 2-D over output rows [start, stop) of the flattened (batch, row) index: ggrid
// (N, Ho, Wo, 2). Not channel_inner: one pass per channel plane over the rows, the point's
// sums carried in ggrid (the same bits; the reads stay in one plane's cache footprint).
template <int MODE, typename T>
void grid_grad_2d_rows(const View<const T, 4>& gout, const View<const T, 4>& inp,
                       const GridSource<T>& src, const View<T, 4>& ggrid, const SampleOptions& o,
                       const T* fill, bool channel_inner, index_t start, index_t stop) {
  const index_t C = inp.shape[1];
  const index_t Ho = gout.shape[2], Wo = gout.shape[3];
  const index_t passes = (channel_inner || C < 2) ? 1 : C;
  T scale[2];
  grid_scales(image_2d(inp, 0), o, scale);
  for (index_t step = 0; step < passes; ++step) {
    const index_t c0 = passes > 1 ? step : 0, c1 = passes > 1 ? step + 1 : C;
    for (index_t job = start; job < stop; ++job) {
      const index_t n = job / Ho, ho = job - n * Ho;
      const Image2d<T> im = image_2d(inp, n);
      for (index_t wo = 0; wo < Wo; ++wo)
        grid_grad_point_2d<MODE>(gout, im, src, ggrid, o, fill, scale, n, ho, wo, c0, c1);
    }
  }
}

// Grid gradient 3-D over output rows [start, stop) of the flattened (batch, depth, row) index.
template <int MODE, typename T>
void grid_grad_3d_rows(const View<const T, 5>& gout, const View<const T, 5>& inp,
                       const GridSource<T>& src, const View<T, 5>& ggrid, const SampleOptions& o,
                       const T* fill, index_t start, index_t stop) {
  const index_t Do = gout.shape[2], Ho = gout.shape[3], Wo = gout.shape[4];
  T scale[3];
  grid_scales(image_3d(inp, 0), o, scale);
  for (index_t job = start; job < stop; ++job) {
    const index_t n = job / (Do * Ho), rest = job - n * (Do * Ho);
    const index_t d = rest / Ho, ho = rest - d * Ho;
    const Image3d<T> im = image_3d(inp, n);
    for (index_t wo = 0; wo < Wo; ++wo)
      grid_grad_point_3d<MODE>(gout, im, src, ggrid, o, fill, scale, n, d, ho, wo);
  }
}

// grad_input over jobs [start, stop) (ScatterJobs): each job zeroes its band and scans every
// output point in order. Source: GridSource<T> or MatrixSource.
template <int Spatial, int MODE, typename T, typename Source>
void input_grad_jobs(const View<const T, Spatial + 2>& gout, const Source& src,
                     const View<T, Spatial + 2>& ginp, const SampleOptions& o,
                     const ScatterJobs& jobs, index_t start, index_t stop) {
  const index_t Do = Spatial == 3 ? gout.shape[2] : 1;
  const index_t Ho = gout.shape[Spatial], Wo = gout.shape[Spatial + 1];
  for (index_t job = start; job < stop; ++job) {
    index_t n, c0, c1, lo, hi;
    jobs.job(job, n, c0, c1, lo, hi);
    const Band<T, Spatial + 2> band{ginp, n, c0, c1, lo, hi};
    for (index_t c = c0; c < c1; ++c) {  // first touch by the band's owner
      T* plane = band.plane(c);
      for (index_t i = lo; i < hi; ++i) {
        if (Spatial == 2) {
          for (index_t x = 0; x < ginp.shape[3]; ++x) plane[i * ginp.stride[2] + x * ginp.stride[3]] = T(0);
        } else {
          for (index_t y = 0; y < ginp.shape[Spatial]; ++y)
            for (index_t x = 0; x < ginp.shape[Spatial + 1]; ++x)
              plane[i * ginp.stride[2] + y * ginp.stride[3] + x * ginp.stride[Spatial + 1]] = T(0);
        }
      }
    }
    for (index_t d = 0; d < Do; ++d)
      for (index_t ho = 0; ho < Ho; ++ho)
        for (index_t wo = 0; wo < Wo; ++wo)
          scatter_point<Spatial, MODE>(gout, src, band, o, d, ho, wo);
  }
}
#endif  // GSWARP_HOST_ONLY

}  // namespace GSWARP_LEVEL
}  // namespace gswarp
