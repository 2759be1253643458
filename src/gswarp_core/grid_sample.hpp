// grid_sample on the CPU: the explicit-grid kernels (a normalized grid as torch takes it, or a
// grid of pixel coordinates), over the per-point math of pointwise.hpp.
//
// grid_sample_2d_rows<MODE> fills output rows [start, stop) of the flattened (batch, row)
// index; the module spreads rows over the thread pool. A point whose coordinate is not finite
// gets the fill value; nearest copies input values without converting them (its fill is in
// the input's type). The arithmetic is the numba engine's as it was (its golden digests),
// operation for operation.
#pragma once

#include "kernels.hpp"
#include "pointwise.hpp"
#include "views.hpp"

namespace gswarp {
inline namespace GSWARP_LEVEL {

// One image of the input: its planes (channels) and the strides within them.
template <typename In>
struct Image2d {
  const In* base;  // inp[n, 0, 0, 0]
  index_t C, H, W, sc, sy, sx;
  GSWARP_HD const In& at(index_t c, index_t y, index_t x) const {
    return base[c * sc + y * sy + x * sx];
  }
};

// One output point's channels.
template <typename In>
struct Pixel {
  In* base;  // out[n, 0, ho, wo]
  index_t sc;
  GSWARP_HD In& operator[](index_t c) const { return base[c * sc]; }
};

// The two neighbours i0 and i0 + 1 of a linear sample on an axis of `size`: whether each is
// inside, and each clamped into the axis (so it can be read whatever its flag).
struct EdgePair {
  bool in0, in1;
  index_t i0, i1;
  GSWARP_HD EdgePair(index_t first, index_t size)
      : in0(first >= 0 && first < size),
        in1(first + 1 >= 0 && first + 1 < size),
        i0(py_min(py_max(first, index_t(0)), size - 1)),
        i1(py_min(py_max(first + 1, index_t(0)), size - 1)) {}
};

// Every channel of a bilinear sample whose four corners are all inside: no masks (the
// general path's arithmetic; the affine kernels' interior span calls it directly).
template <typename In, typename Ct>
GSWARP_HD void bilinear_inside(const Image2d<In>& im, const Bilinear<Ct>& b,
                               const Pixel<In>& out) {
  const In* p = im.base + b.iy0 * im.sy + b.ix0 * im.sx;
  for (index_t c = 0; c < im.C; ++c, p += im.sc) {
    const Ct v = b.combine(Ct(p[0]), Ct(p[im.sx]), Ct(p[im.sy]), Ct(p[im.sy + im.sx]));
    out[c] = Store<In, Ct>::convert(v);
  }
}

// Every channel of input pixel `p` (the first channel's element) copied unconverted.
template <typename In>
GSWARP_HD void copy_channels(const Image2d<In>& im, const In* p, const Pixel<In>& out) {
  for (index_t c = 0; c < im.C; ++c) out[c] = p[c * im.sc];
}

template <typename In, typename Ct>
GSWARP_HD void bilinear_point(const Image2d<In>& im, Ct px, Ct py, const Pixel<In>& out,
                           const Ct* fill) {
  const index_t H = im.H, W = im.W;
  if (!(inside(px, W) && inside(py, H))) {  // wholly outside: every corner reads the fill
    px = Ct(-2);
    py = Ct(-2);
  }
  const Bilinear<Ct> b(px, py);
  const index_t x0 = b.ix0, y0 = b.iy0;
  if (x0 >= 0 && x0 + 1 < W && y0 >= 0 && y0 + 1 < H) {  // the common case: no masks
    bilinear_inside(im, b, out);
    return;
  }
  const EdgePair x(x0, W), y(y0, H);
  for (index_t c = 0; c < im.C; ++c) {
    const Ct f = fill[c];
    const Ct v_nw = (x.in0 && y.in0) ? Ct(im.at(c, y.i0, x.i0)) : f;
    const Ct v_ne = (x.in1 && y.in0) ? Ct(im.at(c, y.i0, x.i1)) : f;
    const Ct v_sw = (x.in0 && y.in1) ? Ct(im.at(c, y.i1, x.i0)) : f;
    const Ct v_se = (x.in1 && y.in1) ? Ct(im.at(c, y.i1, x.i1)) : f;
    out[c] = Store<In, Ct>::convert(b.combine(v_nw, v_ne, v_sw, v_se));
  }
}

template <typename In, typename Ct>
GSWARP_HD void nearest_point(const Image2d<In>& im, Ct px, Ct py, const Pixel<In>& out,
                          const In* fill_native) {
  const Ct rx = std::nearbyint(px), ry = std::nearbyint(py);
  if (inside(rx, im.W) && inside(ry, im.H)) {
    copy_channels(im, im.base + index_in(ry, im.H) * im.sy + index_in(rx, im.W) * im.sx, out);
  } else {
    for (index_t c = 0; c < im.C; ++c) out[c] = fill_native[c];
  }
}

template <typename In, typename Ct>
GSWARP_HD_LARGE void bicubic_point(const Image2d<In>& im, Ct x, Ct y, const Pixel<In>& out, int padding,
                          bool align_corners, const Ct* fill) {
  const Ct x0 = std::floor(x), y0 = std::floor(y);
  Ct wx[4], wy[4];
  cubic_weights(x - x0, wx);
  cubic_weights(y - y0, wy);
  index_t ix[4], iy[4];
  bool mx[4], my[4];
  cubic_taps(x0, im.W, padding, align_corners, ix, mx);
  cubic_taps(y0, im.H, padding, align_corners, iy, my);
  for (index_t c = 0; c < im.C; ++c) {
    const Ct f = fill[c];
    Ct rows[4];
    for (int j = 0; j < 4; ++j) {
      Ct v[4];
      for (int i = 0; i < 4; ++i) v[i] = (my[j] && mx[i]) ? Ct(im.at(c, iy[j], ix[i])) : f;
      rows[j] = cubic_combine(wx, v);
    }
    out[c] = Store<In, Ct>::convert(cubic_combine_rows(wy, rows));
  }
}

// A point whose coordinate is not finite: the fill (nearest: the input-typed fill, copied).
template <int MODE, typename In, typename Ct>
GSWARP_HD void fill_point(const Pixel<In>& out, index_t channels, const Ct* fill,
                          const In* fill_native) {
  for (index_t c = 0; c < channels; ++c)
    out[c] = MODE == NEAREST ? fill_native[c] : Store<In, Ct>::convert(fill[c]);
}

// One output point of mode MODE at pixel coordinates (px, py), before padding: the fill when a
// coordinate is not finite, else the padded sample (numba: bilinear_2d, nearest_2d, bicubic_2d).
template <int MODE, typename In, typename Ct>
GSWARP_HD void sample_point_2d(const Image2d<In>& im, Ct px, Ct py, const Pixel<In>& out,
                               const SampleOptions& o, const Ct* fill, const In* fill_native) {
  if (!(finite(px) && finite(py))) {
    fill_point<MODE>(out, im.C, fill, fill_native);
    return;
  }
  if (MODE == BICUBIC) {
    bicubic_point(im, px, py, out, o.padding, o.align_corners, fill);
    return;
  }
  px = pad_vec(px, im.W, o.padding, o.align_corners);
  py = pad_vec(py, im.H, o.padding, o.align_corners);
  if (MODE == NEAREST)
    nearest_point(im, px, py, out, fill_native);
  else
    bilinear_point(im, px, py, out, fill);
}

#if GSWARP_HOST_ONLY  // the CPU's row loops
// Output rows [start, stop) of grid_sample 2-D in mode MODE: inp (N, C, H, W), grid
// (N, Ho, Wo, 2), out (N, C, Ho, Wo). fill: per channel, in Ct; fill_native: in In.
template <int MODE, typename In, typename G, typename Ct>
void grid_sample_2d_rows(const View<const In, 4>& inp, const View<const G, 4>& grid,
                         const View<In, 4>& out, const SampleOptions& o, const Ct* fill,
                         const In* fill_native, index_t start, index_t stop) {
  const index_t C = inp.shape[1], H = inp.shape[2], W = inp.shape[3];
  const index_t Ho = out.shape[2], Wo = out.shape[3];
  for (index_t job = start; job < stop; ++job) {
    const index_t n = job / Ho, ho = job - n * Ho;
    const Image2d<In> im{inp.data + n * inp.stride[0], C, H, W,
                         inp.stride[1], inp.stride[2], inp.stride[3]};
    const G* g = grid.data + n * grid.stride[0] + ho * grid.stride[1];
    In* row = out.data + n * out.stride[0] + ho * out.stride[2];
    for (index_t wo = 0; wo < Wo; ++wo, g += grid.stride[2]) {
      const Pixel<In> px_out{row + wo * out.stride[3], out.stride[1]};
      Ct px = Ct(g[0]), py = Ct(g[grid.stride[3]]);
      if (!o.pixels) {
        px = unnormalize_vec(px, W, o.align_corners);
        py = unnormalize_vec(py, H, o.align_corners);
      }
      sample_point_2d<MODE>(im, px, py, px_out, o, fill, fill_native);
    }
  }
}
#endif  // GSWARP_HOST_ONLY

// ------------------------------------------------------------------------------------------
// 3-D: torch's scalar kernel (unnormalize_scalar, pad_scalar) for nearest and trilinear;
// gswarp's tricubic takes the 2-D bicubic formulas on three axes

template <typename In>
struct Image3d {
  const In* base;  // inp[n, 0, 0, 0, 0]
  index_t C, D, H, W, sc, sz, sy, sx;
  GSWARP_HD const In& at(index_t c, index_t z, index_t y, index_t x) const {
    return base[c * sc + z * sz + y * sy + x * sx];
  }
};

// Batch item n of an input view as an image (its channels and strides).
template <typename T>
GSWARP_HD Image2d<T> image_2d(const View<const T, 4>& inp, index_t n) {
  return Image2d<T>{inp.data + n * inp.stride[0], inp.shape[1], inp.shape[2], inp.shape[3],
                    inp.stride[1],          inp.stride[2], inp.stride[3]};
}

template <typename T>
GSWARP_HD Image3d<T> image_3d(const View<const T, 5>& inp, index_t n) {
  return Image3d<T>{inp.data + n * inp.stride[0], inp.shape[1], inp.shape[2], inp.shape[3],
                    inp.shape[4], inp.stride[1], inp.stride[2], inp.stride[3], inp.stride[4]};
}

template <typename In, typename Ct>
GSWARP_HD void trilinear_point(const Image3d<In>& im, Ct px, Ct py, Ct pz, const Pixel<In>& out,
                               const Ct* fill) {
  const index_t D = im.D, H = im.H, W = im.W;
  Ct x0 = std::floor(px), y0 = std::floor(py), z0 = std::floor(pz);
  Ct dx0, dx1, dy0, dy1, dz0, dz1;
  if (x0 >= Ct(0) && x0 < Ct(W - 1) && y0 >= Ct(0) && y0 < Ct(H - 1) && z0 >= Ct(0) &&
      z0 < Ct(D - 1)) {  // all eight corners inside (tested in floating point first)
    linear_weights(px, x0, dx0, dx1);
    linear_weights(py, y0, dy0, dy1);
    linear_weights(pz, z0, dz0, dz1);
    const In* p = im.base + static_cast<index_t>(z0) * im.sz + static_cast<index_t>(y0) * im.sy +
                  static_cast<index_t>(x0) * im.sx;
    const index_t sx = im.sx, sy = im.sy, sz = im.sz;
    const auto corners = [&](const In* q) {
      Ct v = Ct(0);
      v += Ct(q[0]) * ((dx0 * dy0) * dz0);
      v += Ct(q[sx]) * ((dx1 * dy0) * dz0);
      v += Ct(q[sy]) * ((dx0 * dy1) * dz0);
      v += Ct(q[sy + sx]) * ((dx1 * dy1) * dz0);
      v += Ct(q[sz]) * ((dx0 * dy0) * dz1);
      v += Ct(q[sz + sx]) * ((dx1 * dy0) * dz1);
      v += Ct(q[sz + sy]) * ((dx0 * dy1) * dz1);
      v += Ct(q[sz + sy + sx]) * ((dx1 * dy1) * dz1);
      return Store<In, Ct>::convert(v);
    };
    if (im.C == 1) {  // one channel (most volumes): no channel loop around the loads
      out[0] = corners(p);
      return;
    }
    for (index_t c = 0; c < im.C; ++c, p += im.sc) out[c] = corners(p);
    return;
  }
  if (!(inside(px, W) && inside(py, H) && inside(pz, D))) {  // wholly outside: fill, weight 1
    px = Ct(-2);
    py = Ct(-2);
    pz = Ct(-2);
  }
  x0 = std::floor(px);
  y0 = std::floor(py);
  z0 = std::floor(pz);
  linear_weights(px, x0, dx0, dx1);
  linear_weights(py, y0, dy0, dy1);
  linear_weights(pz, z0, dz0, dz1);
  const index_t ix0 = static_cast<index_t>(x0), iy0 = static_cast<index_t>(y0),
                iz0 = static_cast<index_t>(z0);
  const Ct w_tnw = (dx0 * dy0) * dz0, w_tne = (dx1 * dy0) * dz0;
  const Ct w_tsw = (dx0 * dy1) * dz0, w_tse = (dx1 * dy1) * dz0;
  const Ct w_bnw = (dx0 * dy0) * dz1, w_bne = (dx1 * dy0) * dz1;
  const Ct w_bsw = (dx0 * dy1) * dz1, w_bse = (dx1 * dy1) * dz1;
  const EdgePair x(ix0, W), y(iy0, H), z(iz0, D);
  for (index_t c = 0; c < im.C; ++c) {
    const Ct f = fill[c];
    Ct v = Ct(0);
    v += ((z.in0 && y.in0 && x.in0) ? Ct(im.at(c, z.i0, y.i0, x.i0)) : f) * w_tnw;
    v += ((z.in0 && y.in0 && x.in1) ? Ct(im.at(c, z.i0, y.i0, x.i1)) : f) * w_tne;
    v += ((z.in0 && y.in1 && x.in0) ? Ct(im.at(c, z.i0, y.i1, x.i0)) : f) * w_tsw;
    v += ((z.in0 && y.in1 && x.in1) ? Ct(im.at(c, z.i0, y.i1, x.i1)) : f) * w_tse;
    v += ((z.in1 && y.in0 && x.in0) ? Ct(im.at(c, z.i1, y.i0, x.i0)) : f) * w_bnw;
    v += ((z.in1 && y.in0 && x.in1) ? Ct(im.at(c, z.i1, y.i0, x.i1)) : f) * w_bne;
    v += ((z.in1 && y.in1 && x.in0) ? Ct(im.at(c, z.i1, y.i1, x.i0)) : f) * w_bsw;
    v += ((z.in1 && y.in1 && x.in1) ? Ct(im.at(c, z.i1, y.i1, x.i1)) : f) * w_bse;
    out[c] = Store<In, Ct>::convert(v);
  }
}

template <typename In, typename Ct>
GSWARP_HD void nearest_point_3d(const Image3d<In>& im, Ct px, Ct py, Ct pz, const Pixel<In>& out,
                                const In* fill_native) {
  const Ct rx = std::nearbyint(px), ry = std::nearbyint(py), rz = std::nearbyint(pz);
  if (inside(rx, im.W) && inside(ry, im.H) && inside(rz, im.D)) {
    const In* p = im.base + index_in(rz, im.D) * im.sz + index_in(ry, im.H) * im.sy +
                  index_in(rx, im.W) * im.sx;
    for (index_t c = 0; c < im.C; ++c) out[c] = p[c * im.sc];
  } else {
    for (index_t c = 0; c < im.C; ++c) out[c] = fill_native[c];
  }
}

template <typename In, typename Ct>
GSWARP_HD_LARGE void tricubic_point(const Image3d<In>& im, Ct x, Ct y, Ct z, const Pixel<In>& out,
                           int padding, bool align_corners, const Ct* fill) {
  const Ct x0 = std::floor(x), y0 = std::floor(y), z0 = std::floor(z);
  Ct wx[4], wy[4], wz[4];
  cubic_weights(x - x0, wx);
  cubic_weights(y - y0, wy);
  cubic_weights(z - z0, wz);
  index_t ix[4], iy[4], iz[4];
  bool mx[4], my[4], mz[4];
  cubic_taps(x0, im.W, padding, align_corners, ix, mx);
  cubic_taps(y0, im.H, padding, align_corners, iy, my);
  cubic_taps(z0, im.D, padding, align_corners, iz, mz);
  for (index_t c = 0; c < im.C; ++c) {
    const Ct f = fill[c];
    Ct planes[4];
    for (int k = 0; k < 4; ++k) {
      Ct rows[4];
      for (int j = 0; j < 4; ++j) {
        const bool myz = mz[k] && my[j];
        Ct v[4];
        for (int i = 0; i < 4; ++i)
          v[i] = (myz && mx[i]) ? Ct(im.at(c, iz[k], iy[j], ix[i])) : f;
        rows[j] = cubic_combine(wx, v);
      }
      planes[k] = cubic_combine_rows(wy, rows);
    }
    out[c] = Store<In, Ct>::convert(cubic_combine_rows(wz, planes));
  }
}

// One output point of mode MODE at pixel coordinates (px, py, pz), before padding (numba:
// trilinear_3d, nearest_3d, tricubic_3d).
template <int MODE, typename In, typename Ct>
GSWARP_HD void sample_point_3d(const Image3d<In>& im, Ct px, Ct py, Ct pz, const Pixel<In>& out,
                               const SampleOptions& o, const Ct* fill, const In* fill_native) {
  if (!(finite(px) && finite(py) && finite(pz))) {
    fill_point<MODE>(out, im.C, fill, fill_native);
    return;
  }
  if (MODE == BICUBIC) {
    tricubic_point(im, px, py, pz, out, o.padding, o.align_corners, fill);
    return;
  }
  px = pad_scalar(px, im.W, o.padding, o.align_corners);
  py = pad_scalar(py, im.H, o.padding, o.align_corners);
  pz = pad_scalar(pz, im.D, o.padding, o.align_corners);
  if (MODE == NEAREST)
    nearest_point_3d(im, px, py, pz, out, fill_native);
  else
    trilinear_point(im, px, py, pz, out, fill);
}

#if GSWARP_HOST_ONLY  // the CPU's row loops
// Output rows [start, stop) of grid_sample 3-D in mode MODE (rows: the flattened
// (batch, depth, row) index): inp (N, C, D, H, W), grid (N, Do, Ho, Wo, 3), out
// (N, C, Do, Ho, Wo).
template <int MODE, typename In, typename G, typename Ct>
void grid_sample_3d_rows(const View<const In, 5>& inp, const View<const G, 5>& grid,
                         const View<In, 5>& out, const SampleOptions& o, const Ct* fill,
                         const In* fill_native, index_t start, index_t stop) {
  const index_t C = inp.shape[1], D = inp.shape[2], H = inp.shape[3], W = inp.shape[4];
  const index_t Do = out.shape[2], Ho = out.shape[3], Wo = out.shape[4];
  for (index_t job = start; job < stop; ++job) {
    const index_t n = job / (Do * Ho), rest = job - n * (Do * Ho);
    const index_t d = rest / Ho, ho = rest - d * Ho;
    const Image3d<In> im{inp.data + n * inp.stride[0], C, D, H, W,
                         inp.stride[1], inp.stride[2], inp.stride[3], inp.stride[4]};
    const G* g = grid.data + n * grid.stride[0] + d * grid.stride[1] + ho * grid.stride[2];
    In* row = out.data + n * out.stride[0] + d * out.stride[2] + ho * out.stride[3];
    for (index_t wo = 0; wo < Wo; ++wo, g += grid.stride[3]) {
      const Pixel<In> px_out{row + wo * out.stride[4], out.stride[1]};
      Ct px = Ct(g[0]), py = Ct(g[grid.stride[4]]), pz = Ct(g[2 * grid.stride[4]]);
      if (!o.pixels) {
        if (MODE == BICUBIC) {
          px = unnormalize_vec(px, W, o.align_corners);
          py = unnormalize_vec(py, H, o.align_corners);
          pz = unnormalize_vec(pz, D, o.align_corners);
        } else {
          px = unnormalize_scalar(px, W, o.align_corners);
          py = unnormalize_scalar(py, H, o.align_corners);
          pz = unnormalize_scalar(pz, D, o.align_corners);
        }
      }
      sample_point_3d<MODE>(im, px, py, pz, px_out, o, fill, fill_native);
    }
  }
}
#endif  // GSWARP_HOST_ONLY

}  // namespace GSWARP_LEVEL
}  // namespace gswarp
