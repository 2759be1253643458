// The fused affine kernels: every source coordinate comes from a float64 pixel-space matrix
// inside the kernel (no grid in memory): output pixel (x, y[, z], 1) -> input pixel.
//
// Each output row starts from its float64 origin, and each point is one fused multiply-add
// away from it (row_coordinate). The columns whose neighbours all lie inside the input (the
// interior span, found exactly by band_columns) run the mode's interior arithmetic without
// padding or tests; with bilinear and zeros padding, the points wholly outside all get the
// same value, so the first is computed and copied. Both are the general path's bits (numba:
// gswarp/engine/cpu.py _affine_kernel_2d/_3d; tests/test_interior.py).
//
// Windows (gswarp.engine.chunks): `origin` is where the output part starts in the whole output
// and `shift` where the input window starts in the whole input; coordinates are computed for
// the whole output and shifted exactly.
#pragma once

#include "grid_sample.hpp"
#include "kernels.hpp"
#include "pointwise.hpp"
#include "views.hpp"

namespace gswarp {
inline namespace GSWARP_LEVEL {

template <typename In, typename Ct>
GSWARP_HD void nearest_interior(const Image2d<In>& im, Ct px, Ct py, const Pixel<In>& out) {
  copy_channels(im,
                im.base + static_cast<index_t>(std::nearbyint(py)) * im.sy +
                    static_cast<index_t>(std::nearbyint(px)) * im.sx,
                out);
}

template <typename In, typename Ct>
GSWARP_HD void nearest_interior_3d(const Image3d<In>& im, Ct px, Ct py, Ct pz,
                                   const Pixel<In>& out) {
  const In* p = im.base + static_cast<index_t>(std::nearbyint(pz)) * im.sz +
                static_cast<index_t>(std::nearbyint(py)) * im.sy +
                static_cast<index_t>(std::nearbyint(px)) * im.sx;
  for (index_t c = 0; c < im.C; ++c) out[c] = p[c * im.sc];
}

#if GSWARP_HOST_ONLY  // the CPU's row loops
// The interior span of a 3-D trilinear row: every corner inside, so no tests; a loop of its
// own (the general path's live values left the eight corner offsets spilled to the stack,
// measured 1.15x numba's time), the arithmetic of trilinear_point's interior branch.
template <typename In, typename Ct>
void trilinear_interior_row(const Image3d<In>& im, const double step[3], const double origin[3],
                            const Ct shift[3], index_t lo, index_t hi, index_t first, In* out,
                            index_t out_step, index_t out_channel) {
  const index_t sx = im.sx, sy = im.sy, sz = im.sz;
  const index_t offsets[8] = {0, sx, sy, sy + sx, sz, sz + sx, sz + sy, sz + sy + sx};
  for (index_t wa = lo; wa < hi; ++wa) {
    const Ct px = row_coordinate<Ct>(step[0], wa, origin[0]) - shift[0];
    const Ct py = row_coordinate<Ct>(step[1], wa, origin[1]) - shift[1];
    const Ct pz = row_coordinate<Ct>(step[2], wa, origin[2]) - shift[2];
    const Ct x0 = std::floor(px), y0 = std::floor(py), z0 = std::floor(pz);
    Ct dx0, dx1, dy0, dy1, dz0, dz1;
    linear_weights(px, x0, dx0, dx1);
    linear_weights(py, y0, dy0, dy1);
    linear_weights(pz, z0, dz0, dz1);
    const Ct w[8] = {(dx0 * dy0) * dz0, (dx1 * dy0) * dz0, (dx0 * dy1) * dz0,
                     (dx1 * dy1) * dz0, (dx0 * dy0) * dz1, (dx1 * dy0) * dz1,
                     (dx0 * dy1) * dz1, (dx1 * dy1) * dz1};
    const In* p = im.base + static_cast<index_t>(z0) * sz + static_cast<index_t>(y0) * sy +
                  static_cast<index_t>(x0) * sx;
    In* o = out + (wa - first) * out_step;  // out: the point of column `first`
    for (index_t c = 0; c < im.C; ++c, p += im.sc, o += out_channel) {
      Ct v = Ct(0);
      for (int k = 0; k < 8; ++k) v += Ct(p[offsets[k]]) * w[k];
      *o = Store<In, Ct>::convert(v);
    }
  }
}
#endif  // GSWARP_HOST_ONLY

template <typename In>
GSWARP_HD void copy_point(const Pixel<In>& to, const Pixel<In>& from, index_t channels) {
  for (index_t c = 0; c < channels; ++c) to[c] = from[c];
}

#if GSWARP_HOST_ONLY  // the CPU's row loops
// The columns of a row outside its interior span [lo, hi) (those before it, then those after
// it), each sampled by `sample(column)` through the general path -- except that once one
// column wholly outside [a, b) (it reads only the fill) is computed, the others outside copy
// it: the same bits, computed once.
template <typename In, typename At, typename Sample>
void edge_columns(index_t c0, index_t c1, index_t lo, index_t hi, index_t a, index_t b,
                  index_t channels, const At& at, const Sample& sample) {
  index_t first = -1;
  for (int part = 0; part < 2; ++part) {
    const index_t from = part == 0 ? c0 : hi, to = part == 0 ? lo : c1;
    for (index_t column = from; column < to; ++column) {
      const bool outside = column < a || column >= b;
      if (outside && first >= 0) {
        copy_point<In>(at(column), at(first), channels);
        continue;
      }
      sample(column);
      if (outside) first = column;
    }
  }
}

// Output rows [start, stop) of the fused affine sample 2-D: matrix (N, 2, 3) float64.
template <int MODE, typename In, typename Ct>
void affine_sample_2d_rows(const View<const In, 4>& inp, const View<const double, 3>& matrix,
                           const View<In, 4>& out, const SampleOptions& o, const Window& w,
                           const Ct* fill, const In* fill_native, index_t start, index_t stop) {
  const index_t C = inp.shape[1], H = inp.shape[2], W = inp.shape[3];
  const index_t Ho = out.shape[2], Wo = out.shape[3];
  const index_t c0 = w.origin[0], c1 = c0 + Wo, r0 = w.origin[1];
  const double fx = static_cast<double>(w.shift[0]), fy = static_cast<double>(w.shift[1]);
  const Ct x0 = Ct(fx), y0 = Ct(fy);
  const bool inner = has_interior(MODE, o.padding, o.align_corners);
  const bool runs = has_fill_runs(MODE, o.padding);
  for (index_t job = start; job < stop; ++job) {
    const index_t n = job / Ho, ho = job - n * Ho;
    const Image2d<In> im{inp.data + n * inp.stride[0], C, H, W,
                         inp.stride[1], inp.stride[2], inp.stride[3]};
    const double* m = matrix.data + n * matrix.stride[0];
    const index_t r = matrix.stride[1], k = matrix.stride[2];
    const double row = static_cast<double>(ho + r0);
    const double ox = m[1 * k] * row + m[2 * k];  // float64 row origins
    const double oy = m[r + 1 * k] * row + m[r + 2 * k];
    const double sx = m[0], sy = m[r];  // per-column steps
    In* base = out.data + n * out.stride[0] + ho * out.stride[2];
    auto at = [&](index_t wa) { return Pixel<In>{base + (wa - c0) * out.stride[3], out.stride[1]}; };
    index_t lo = c0, hi = c0;
    if (inner) {
      hi = c1;
      interior_columns<Ct>(sx, ox, W, MODE, c1, fx, lo, hi);
      interior_columns<Ct>(sy, oy, H, MODE, c1, fy, lo, hi);
    }
    for (index_t wa = lo; wa < hi; ++wa) {
      const Ct px = row_coordinate<Ct>(sx, wa, ox) - x0;
      const Ct py = row_coordinate<Ct>(sy, wa, oy) - y0;
      if (MODE == NEAREST)
        nearest_interior(im, px, py, at(wa));
      else
        bilinear_inside(im, Bilinear<Ct>(px, py), at(wa));
    }
    index_t a = c0, b = c1;  // columns outside [a, b) read only the fill
    if (runs && std::isfinite(sx) && std::isfinite(sy) && std::isfinite(ox) && std::isfinite(oy)) {
      inside_columns<Ct>(sx, ox, W, c1, fx, a, b);
      inside_columns<Ct>(sy, oy, H, c1, fy, a, b);
    }
    edge_columns<In>(c0, c1, lo, hi, a, b, C, at, [&](index_t wa) {
      const Ct px = row_coordinate<Ct>(sx, wa, ox) - x0;
      const Ct py = row_coordinate<Ct>(sy, wa, oy) - y0;
      sample_point_2d<MODE>(im, px, py, at(wa), o, fill, fill_native);
    });
  }
}

// Output rows [start, stop) of the fused affine sample 3-D: matrix (N, 3, 4) float64.
template <int MODE, typename In, typename Ct>
void affine_sample_3d_rows(const View<const In, 5>& inp, const View<const double, 3>& matrix,
                           const View<In, 5>& out, const SampleOptions& o, const Window& w,
                           const Ct* fill, const In* fill_native, index_t start, index_t stop) {
  const index_t C = inp.shape[1], D = inp.shape[2], H = inp.shape[3], W = inp.shape[4];
  const index_t Do = out.shape[2], Ho = out.shape[3], Wo = out.shape[4];
  const index_t c0 = w.origin[0], c1 = c0 + Wo, r0 = w.origin[1], s0 = w.origin[2];
  const double fx = static_cast<double>(w.shift[0]), fy = static_cast<double>(w.shift[1]),
               fz = static_cast<double>(w.shift[2]);
  const Ct x0 = Ct(fx), y0 = Ct(fy), z0 = Ct(fz);
  const bool inner = has_interior(MODE, o.padding, o.align_corners);
  const bool runs = has_fill_runs(MODE, o.padding);
  for (index_t job = start; job < stop; ++job) {
    const index_t n = job / (Do * Ho), rest = job - n * (Do * Ho);
    const index_t d = rest / Ho, ho = rest - d * Ho;
    const Image3d<In> im{inp.data + n * inp.stride[0], C, D, H, W,
                         inp.stride[1], inp.stride[2], inp.stride[3], inp.stride[4]};
    const double* m = matrix.data + n * matrix.stride[0];
    const index_t r = matrix.stride[1], k = matrix.stride[2];
    const double row = static_cast<double>(ho + r0), plane = static_cast<double>(d + s0);
    const double ox = m[1 * k] * row + m[2 * k] * plane + m[3 * k];
    const double oy = m[r + 1 * k] * row + m[r + 2 * k] * plane + m[r + 3 * k];
    const double oz = m[2 * r + 1 * k] * row + m[2 * r + 2 * k] * plane + m[2 * r + 3 * k];
    const double sx = m[0], sy = m[r], sz = m[2 * r];
    In* base = out.data + n * out.stride[0] + d * out.stride[2] + ho * out.stride[3];
    auto at = [&](index_t wa) { return Pixel<In>{base + (wa - c0) * out.stride[4], out.stride[1]}; };
    index_t lo = c0, hi = c0;
    if (inner) {
      hi = c1;
      interior_columns<Ct>(sx, ox, W, MODE, c1, fx, lo, hi);
      interior_columns<Ct>(sy, oy, H, MODE, c1, fy, lo, hi);
      interior_columns<Ct>(sz, oz, D, MODE, c1, fz, lo, hi);
    }
    if (MODE == BILINEAR) {
      const double steps[3] = {sx, sy, sz}, origins[3] = {ox, oy, oz};
      const Ct shifts[3] = {x0, y0, z0};
      trilinear_interior_row(im, steps, origins, shifts, lo, hi, c0, base, out.stride[4],
                             out.stride[1]);
    } else {
      for (index_t wa = lo; wa < hi; ++wa) {
        const Ct px = row_coordinate<Ct>(sx, wa, ox) - x0;
        const Ct py = row_coordinate<Ct>(sy, wa, oy) - y0;
        const Ct pz = row_coordinate<Ct>(sz, wa, oz) - z0;
        nearest_interior_3d(im, px, py, pz, at(wa));
      }
    }
    index_t a = c0, b = c1;
    if (runs && std::isfinite(sx) && std::isfinite(sy) && std::isfinite(ox) &&
        std::isfinite(oy) && std::isfinite(sz) && std::isfinite(oz)) {
      inside_columns<Ct>(sx, ox, W, c1, fx, a, b);
      inside_columns<Ct>(sy, oy, H, c1, fy, a, b);
      inside_columns<Ct>(sz, oz, D, c1, fz, a, b);
    }
    edge_columns<In>(c0, c1, lo, hi, a, b, C, at, [&](index_t wa) {
      const Ct px = row_coordinate<Ct>(sx, wa, ox) - x0;
      const Ct py = row_coordinate<Ct>(sy, wa, oy) - y0;
      const Ct pz = row_coordinate<Ct>(sz, wa, oz) - z0;
      sample_point_3d<MODE>(im, px, py, pz, at(wa), o, fill, fill_native);
    });
  }
}
#endif  // GSWARP_HOST_ONLY

}  // namespace GSWARP_LEVEL
}  // namespace gswarp
