// The CUDA sampling kernels: grid_sample (a normalized grid or pixel coordinates), the fused
// affine sample, the flow-field chain, antialiased sampling (affine, pixels, flow) and
// affine_grid -- 2-D and 3-D, every mode and dtype -- over the per-point functions the CPU
// kernels use (src/gswarp_core/*.hpp, written once). Part of kernels.cu.
//
// Each thread computes output points i, i + G, i + 2G, ... of the flattened
// (batch, [depth,] row, column) index and writes every channel of its point.
#pragma once

#include "common.cuh"
#include "gswarp_core/affine_grid.hpp"
#include "gswarp_core/affine_sample.hpp"
#include "gswarp_core/antialias.hpp"
#include "gswarp_core/flow_sample.hpp"
#include "gswarp_core/grid_sample.hpp"
#include "gswarp_core/kernels.hpp"
#include "gswarp_core/views.hpp"

namespace gswarp {
namespace cuda {

// ------------------------------------------------------------------------------------------
// grid_sample: grid (N, Ho, Wo, 2) / (N, Do, Ho, Wo, 3) of dtype GRID (normalized, or pixel
// coordinates when options.pixels), as grid_sample_2d_rows / grid_sample_3d_rows read it

template <int SPATIAL, int MODE, int IN, int GRID>
__global__ void grid_sample(const GridSample a, index_t total) {
  using In = typename KindType<IN>::type;
  using G = typename KindType<GRID>::type;
  using Ct = Compute<In>;
  const SampleOptions& o = a.options;
  const Ct* fill = static_cast<const Ct*>(a.fill_compute.data);
  const In* native = static_cast<const In*>(a.fill_native.data);
  if constexpr (SPATIAL == 2) {
    const View<const In, 4> inp(a.inp);
    const View<const G, 4> grid(a.grid);
    const View<In, 4> out(a.out);
    for (index_t i = first_point(); i < total; i += point_stride()) {
      index_t n, ho, wo;
      split_2d(i, out.shape[2], out.shape[3], n, ho, wo);
      const Image2d<In> im = image_2d(inp, n);
      const G* g = grid.data + n * grid.stride[0] + ho * grid.stride[1] + wo * grid.stride[2];
      Ct px = Ct(g[0]), py = Ct(g[grid.stride[3]]);
      if (!o.pixels) {
        px = unnormalize_vec(px, im.W, o.align_corners);
        py = unnormalize_vec(py, im.H, o.align_corners);
      }
      const Pixel<In> at{out.data + n * out.stride[0] + ho * out.stride[2] + wo * out.stride[3],
                         out.stride[1]};
      sample_point_2d<MODE>(im, px, py, at, o, fill, native);
    }
  } else {
    const View<const In, 5> inp(a.inp);
    const View<const G, 5> grid(a.grid);
    const View<In, 5> out(a.out);
    for (index_t i = first_point(); i < total; i += point_stride()) {
      index_t n, d, ho, wo;
      split_3d(i, out.shape[2], out.shape[3], out.shape[4], n, d, ho, wo);
      const Image3d<In> im = image_3d(inp, n);
      const G* g = grid.data + n * grid.stride[0] + d * grid.stride[1] + ho * grid.stride[2] +
                   wo * grid.stride[3];
      Ct px = Ct(g[0]), py = Ct(g[grid.stride[4]]), pz = Ct(g[2 * grid.stride[4]]);
      if (!o.pixels) {
        if (MODE == BICUBIC) {
          px = unnormalize_vec(px, im.W, o.align_corners);
          py = unnormalize_vec(py, im.H, o.align_corners);
          pz = unnormalize_vec(pz, im.D, o.align_corners);
        } else {
          px = unnormalize_scalar(px, im.W, o.align_corners);
          py = unnormalize_scalar(py, im.H, o.align_corners);
          pz = unnormalize_scalar(pz, im.D, o.align_corners);
        }
      }
      const Pixel<In> at{out.data + n * out.stride[0] + d * out.stride[2] + ho * out.stride[3] +
                             wo * out.stride[4],
                         out.stride[1]};
      sample_point_3d<MODE>(im, px, py, pz, at, o, fill, native);
    }
  }
}

// ------------------------------------------------------------------------------------------
// the fused affine sample: matrix (N, k, k + 1) float64, output pixel -> input pixel; a
// point's coordinate as affine_sample_*_rows computes it (a float64 row origin, one fused
// multiply-add per axis, then the window's shift)

template <int SPATIAL, int MODE, int IN>
__global__ void affine_sample(const AffineSample a, index_t total) {
  using In = typename KindType<IN>::type;
  using Ct = Compute<In>;
  const SampleOptions& o = a.options;
  const Window& w = a.window;
  const Ct* fill = static_cast<const Ct*>(a.fill_compute.data);
  const In* native = static_cast<const In*>(a.fill_native.data);
  const View<const double, 3> matrix(a.matrix);
  const index_t r = matrix.stride[1], k = matrix.stride[2];
  const Ct x0 = Ct(static_cast<double>(w.shift[0])), y0 = Ct(static_cast<double>(w.shift[1]));
  if constexpr (SPATIAL == 2) {
    const View<const In, 4> inp(a.inp);
    const View<In, 4> out(a.out);
    for (index_t i = first_point(); i < total; i += point_stride()) {
      index_t n, ho, wo;
      split_2d(i, out.shape[2], out.shape[3], n, ho, wo);
      const double* m = matrix.data + n * matrix.stride[0];
      const double row = static_cast<double>(ho + w.origin[1]);
      const double ox = m[1 * k] * row + m[2 * k];
      const double oy = m[r + 1 * k] * row + m[r + 2 * k];
      const index_t column = wo + w.origin[0];
      const Ct px = row_coordinate<Ct>(m[0], column, ox) - x0;
      const Ct py = row_coordinate<Ct>(m[r], column, oy) - y0;
      const Pixel<In> at{out.data + n * out.stride[0] + ho * out.stride[2] + wo * out.stride[3],
                         out.stride[1]};
      sample_point_2d<MODE>(image_2d(inp, n), px, py, at, o, fill, native);
    }
  } else {
    const Ct z0 = Ct(static_cast<double>(w.shift[2]));
    const View<const In, 5> inp(a.inp);
    const View<In, 5> out(a.out);
    for (index_t i = first_point(); i < total; i += point_stride()) {
      index_t n, d, ho, wo;
      split_3d(i, out.shape[2], out.shape[3], out.shape[4], n, d, ho, wo);
      const double* m = matrix.data + n * matrix.stride[0];
      const double row = static_cast<double>(ho + w.origin[1]);
      const double plane = static_cast<double>(d + w.origin[2]);
      const double ox = m[1 * k] * row + m[2 * k] * plane + m[3 * k];
      const double oy = m[r + 1 * k] * row + m[r + 2 * k] * plane + m[r + 3 * k];
      const double oz = m[2 * r + 1 * k] * row + m[2 * r + 2 * k] * plane + m[2 * r + 3 * k];
      const index_t column = wo + w.origin[0];
      const Ct px = row_coordinate<Ct>(m[0], column, ox) - x0;
      const Ct py = row_coordinate<Ct>(m[r], column, oy) - y0;
      const Ct pz = row_coordinate<Ct>(m[2 * r], column, oz) - z0;
      const Pixel<In> at{out.data + n * out.stride[0] + d * out.stride[2] + ho * out.stride[3] +
                             wo * out.stride[4],
                         out.stride[1]};
      sample_point_3d<MODE>(image_3d(inp, n), px, py, pz, at, o, fill, native);
    }
  }
}

// ------------------------------------------------------------------------------------------
// one flow field between matrices (flow_sample.hpp): field (H_f, W_f, 2) / (D_f, H_f, W_f, 3)
// float32 or float64 C-contiguous, maps (3, k, k + 1) float64

template <int SPATIAL, int MODE, int IN>
__global__ void flow_sample(const FlowSample a, index_t total) {
  using In = typename KindType<IN>::type;
  using Ct = Compute<In>;
  const SampleOptions& o = a.options;
  const Window& win = a.window;
  const Ct* fill = static_cast<const Ct*>(a.fill_compute.data);
  const In* native = static_cast<const In*>(a.fill_native.data);
  const Maps m{static_cast<const double*>(a.maps.data), SPATIAL};
  const Ct x0 = Ct(static_cast<double>(win.shift[0])), y0 = Ct(static_cast<double>(win.shift[1]));
  if constexpr (SPATIAL == 2) {
    const Field field{a.field.data, a.field.kind == F32, 1, a.field.shape[0], a.field.shape[1]};
    const View<const In, 4> inp(a.inp);
    const View<In, 4> out(a.out);
    for (index_t i = first_point(); i < total; i += point_stride()) {
      index_t n, ho, wo;
      split_2d(i, out.shape[2], out.shape[3], n, ho, wo);
      const index_t yi = ho + win.origin[1], xi = wo + win.origin[0];
      const double x = static_cast<double>(xi), y = static_cast<double>(yi);
      double qx, qy, u, v;
      if (a.separable) {
        flow_separable_2d(field, m, x, y, qx, qy, u, v);
      } else if (a.direct) {
        qx = x;
        qy = y;
        u = field.value(0, yi, xi, 2, 0);
        v = field.value(0, yi, xi, 2, 1);
      } else {
        flow_general_2d(field, m, x, y, qx, qy, u, v);
      }
      double px, py;
      flow_finish_2d(m, qx, qy, u, v, a.absolute, px, py);
      const Pixel<In> at{out.data + n * out.stride[0] + ho * out.stride[2] + wo * out.stride[3],
                         out.stride[1]};
      sample_point_2d<MODE>(image_2d(inp, n), Ct(px) - x0, Ct(py) - y0, at, o, fill, native);
    }
  } else {
    const Ct z0 = Ct(static_cast<double>(win.shift[2]));
    const Field field{a.field.data, a.field.kind == F32, a.field.shape[0], a.field.shape[1],
                      a.field.shape[2]};
    const View<const In, 5> inp(a.inp);
    const View<In, 5> out(a.out);
    for (index_t i = first_point(); i < total; i += point_stride()) {
      index_t n, d, ho, wo;
      split_3d(i, out.shape[2], out.shape[3], out.shape[4], n, d, ho, wo);
      const index_t zi = d + win.origin[2], yi = ho + win.origin[1], xi = wo + win.origin[0];
      const double x = static_cast<double>(xi), y = static_cast<double>(yi),
                   z = static_cast<double>(zi);
      double qx, qy, qz, u, v, w;
      if (a.separable) {
        flow_separable_3d(field, m, x, y, z, qx, qy, qz, u, v, w);
      } else if (a.direct) {
        qx = x;
        qy = y;
        qz = z;
        u = field.value(zi, yi, xi, 3, 0);
        v = field.value(zi, yi, xi, 3, 1);
        w = field.value(zi, yi, xi, 3, 2);
      } else {
        flow_general_3d(field, m, x, y, z, qx, qy, qz, u, v, w);
      }
      double px, py, pz;
      flow_finish_3d(m, qx, qy, qz, u, v, w, a.absolute, px, py, pz);
      const Pixel<In> at{out.data + n * out.stride[0] + d * out.stride[2] + ho * out.stride[3] +
                             wo * out.stride[4],
                         out.stride[1]};
      sample_point_3d<MODE>(image_3d(inp, n), Ct(px) - x0, Ct(py) - y0, Ct(pz) - z0, at, o, fill,
                            native);
    }
  }
}

// ------------------------------------------------------------------------------------------
// antialiased sampling (antialias.hpp's footprints): at most AA_CHANNELS channels per launch
// (gswarp/engine/cuda_core.py launches a wider input's channels in groups: each channel's sums
// are its own, so the groups give the same bits). SOURCE: AA_AFFINE (items whose map does not
// shrink are left to the point-sampling kernel, as on the CPU), AA_PIXELS (each point's
// Jacobian from its neighbours in the coordinates, the first output row / slice at `top`),
// AA_FLOW (the chain evaluated at the point and its neighbours, as the CPU's row buffers hold
// them: the same edge rules for the differences).

// The 2-D flow chain's input pixel at output pixel (x, y) (antialias.hpp's flow_row_2d).
GSWARP_HD void flow_pixel_2d(const Field& f, const Maps& m, bool absolute, bool separable,
                             index_t x, index_t y, double* p) {
  double qx, qy, u, v;
  if (separable)
    flow_separable_2d(f, m, static_cast<double>(x), static_cast<double>(y), qx, qy, u, v);
  else
    flow_general_2d(f, m, static_cast<double>(x), static_cast<double>(y), qx, qy, u, v);
  flow_finish_2d(m, qx, qy, u, v, absolute, p[0], p[1]);
}

GSWARP_HD void flow_pixel_3d(const Field& f, const Maps& m, bool absolute, index_t x, index_t y,
                             index_t z, double* p) {
  double qx, qy, qz, u, v, w;
  flow_general_3d(f, m, static_cast<double>(x), static_cast<double>(y), static_cast<double>(z),
                  qx, qy, qz, u, v, w);
  flow_finish_3d(m, qx, qy, qz, u, v, w, absolute, p[0], p[1], p[2]);
}

template <int SPATIAL, int MODE, int IN, int SOURCE>
__global__ void antialias(const Antialias a, index_t total) {
  using In = typename KindType<IN>::type;
  using Ct = Compute<In>;
  const SampleOptions& o = a.options;
  const Ct* fill = static_cast<const Ct*>(a.fill_compute.data);
  const In* native = static_cast<const In*>(a.fill_native.data);
  constexpr int AA_CHANNELS = 8;  // gswarp/engine/cuda_core.py: ANTIALIAS_CHANNELS
  double acc[AA_CHANNELS], wbuf[TAP_CHUNK];
  const Scratch scratch{acc, wbuf};
  const Maps m{static_cast<const double*>(a.maps.data), SPATIAL};
  if constexpr (SPATIAL == 2) {
    const View<const In, 4> inp(a.inp);
    const View<In, 4> out(a.out);
    const index_t Ho = out.shape[2], Wo = out.shape[3];
    for (index_t i = first_point(); i < total; i += point_stride()) {
      index_t n, ho, wo;
      split_2d(i, Ho, Wo, n, ho, wo);
      const Image2d<In> im = image_2d(inp, n);
      const Pixel<In> at{out.data + n * out.stride[0] + ho * out.stride[2] + wo * out.stride[3],
                         out.stride[1]};
      if constexpr (SOURCE == AA_AFFINE) {
        if (!static_cast<const std::uint8_t*>(a.shrinks.data)[n]) continue;
        const View<const double, 3> matrix(a.source);
        const double* mt = matrix.data + n * matrix.stride[0];
        const index_t r = matrix.stride[1], c = matrix.stride[2];
        const double h = static_cast<double>(ho), w = static_cast<double>(wo);
        const double ox = mt[c] * h + mt[2 * c], oy = mt[r + c] * h + mt[r + 2 * c];
        const double* fr = static_cast<const double*>(a.frames.data) + n * FRAME_2D;
        footprint_2d(im, mt[0] * w + ox, mt[r] * w + oy, fr, at, o.padding, o.align_corners,
                     fill, scratch);
        continue;
      } else {
        double centre[2], jac[4];
        if constexpr (SOURCE == AA_PIXELS) {
          const View<const double, 4> coords(a.source);
          const CoordGrid g{coords.data + n * coords.stride[0], 1, coords.shape[1],
                            coords.shape[2], 0, coords.stride[1], coords.stride[2],
                            coords.stride[3]};
          const index_t r = ho + a.top;
          centre[0] = g.at(0, r, wo, 0);
          centre[1] = g.at(0, r, wo, 1);
          grid_jacobian<2>(g, 0, r, wo, centre, jac);
        } else {  // the point and its four neighbours in a 3 x 3 patch, the CPU's edges
          const Field field{a.source.data, a.source.kind == F32, 1, a.source.shape[0],
                            a.source.shape[1]};
          const index_t r0 = py_max(ho - 1, index_t(0)), r1 = py_min(ho + 2, Ho);
          const index_t c0 = py_max(wo - 1, index_t(0)), c1 = py_min(wo + 2, Wo);
          double patch[3 * 3 * 2];
          const CoordGrid g{patch, 1, r1 - r0, c1 - c0, 0, (c1 - c0) * 2, 2, 1};
          for (index_t y = r0; y < r1; ++y)
            for (index_t x = c0; x < c1; ++x)
              if (y == ho || x == wo)
                flow_pixel_2d(field, m, a.absolute, a.separable, x, y,
                              patch + (y - r0) * g.sr + (x - c0) * g.sw);
          centre[0] = g.at(0, ho - r0, wo - c0, 0);
          centre[1] = g.at(0, ho - r0, wo - c0, 1);
          grid_jacobian<2>(g, 0, ho - r0, wo - c0, centre, jac);
        }
        if (!filtered_2d(im, centre[0], centre[1], jac, a.support, a.cap, at, o.padding,
                         o.align_corners, fill, scratch))
          sample_point_2d<MODE>(im, Ct(centre[0]), Ct(centre[1]), at, o, fill, native);
      }
    }
  } else {
    const View<const In, 5> inp(a.inp);
    const View<In, 5> out(a.out);
    const index_t Do = out.shape[2], Ho = out.shape[3], Wo = out.shape[4];
    for (index_t i = first_point(); i < total; i += point_stride()) {
      index_t n, d, ho, wo;
      split_3d(i, Do, Ho, Wo, n, d, ho, wo);
      const Image3d<In> im = image_3d(inp, n);
      const Pixel<In> at{out.data + n * out.stride[0] + d * out.stride[2] + ho * out.stride[3] +
                             wo * out.stride[4],
                         out.stride[1]};
      if constexpr (SOURCE == AA_AFFINE) {
        if (!static_cast<const std::uint8_t*>(a.shrinks.data)[n]) continue;
        const View<const double, 3> matrix(a.source);
        const double* mt = matrix.data + n * matrix.stride[0];
        const index_t r = matrix.stride[1], c = matrix.stride[2];
        const double h = static_cast<double>(ho), z = static_cast<double>(d),
                     w = static_cast<double>(wo);
        double origin[3];
        for (int k = 0; k < 3; ++k)
          origin[k] = (mt[k * r + c] * h + mt[k * r + 2 * c] * z) + mt[k * r + 3 * c];
        const double* fr = static_cast<const double*>(a.frames.data) + n * FRAME_3D;
        footprint_3d(im, mt[0] * w + origin[0], mt[r] * w + origin[1], mt[2 * r] * w + origin[2],
                     fr, at, o.padding, o.align_corners, fill, scratch);
        continue;
      } else {
        double centre[3], jac[9];
        if constexpr (SOURCE == AA_PIXELS) {
          const View<const double, 5> coords(a.source);
          const CoordGrid g{coords.data + n * coords.stride[0], coords.shape[1], coords.shape[2],
                            coords.shape[3], coords.stride[1], coords.stride[2],
                            coords.stride[3], coords.stride[4]};
          const index_t s = d + a.top;
          for (int k = 0; k < 3; ++k) centre[k] = g.at(s, ho, wo, k);
          grid_jacobian<3>(g, s, ho, wo, centre, jac);
        } else {  // the point and its six neighbours in a 3 x 3 x 3 patch
          const Field field{a.source.data, a.source.kind == F32, a.source.shape[0],
                            a.source.shape[1], a.source.shape[2]};
          const index_t s0 = py_max(d - 1, index_t(0)), s1 = py_min(d + 2, Do);
          const index_t r0 = py_max(ho - 1, index_t(0)), r1 = py_min(ho + 2, Ho);
          const index_t c0 = py_max(wo - 1, index_t(0)), c1 = py_min(wo + 2, Wo);
          double patch[3 * 3 * 3 * 3];
          const index_t cols = c1 - c0, rows = r1 - r0;
          const CoordGrid g{patch, s1 - s0, rows, cols, rows * cols * 3, cols * 3, 3, 1};
          for (index_t z = s0; z < s1; ++z)
            for (index_t y = r0; y < r1; ++y)
              for (index_t x = c0; x < c1; ++x)
                if ((z == d) + (y == ho) + (x == wo) >= 2)
                  flow_pixel_3d(field, m, a.absolute, x, y, z,
                                patch + (z - s0) * g.ss + (y - r0) * g.sr + (x - c0) * g.sw);
          for (int k = 0; k < 3; ++k) centre[k] = g.at(d - s0, ho - r0, wo - c0, k);
          grid_jacobian<3>(g, d - s0, ho - r0, wo - c0, centre, jac);
        }
        if (!filtered_3d(im, centre, jac, a.support, a.cap, at, o.padding, o.align_corners,
                         fill, scratch))
          sample_point_3d<MODE>(im, Ct(centre[0]), Ct(centre[1]), Ct(centre[2]), at, o, fill,
                                native);
      }
    }
  }
}

// ------------------------------------------------------------------------------------------
// torch's affine_grid: theta (N, k, k + 1) and grid (N, [D,] H, W, k), both of dtype CT

template <int SPATIAL, int CT>
__global__ void affine_grid(const AffineGrid a, index_t total) {
  using Ct = typename KindType<CT>::type;
  const View<const Ct, 3> theta(a.theta);
  const index_t r = theta.stride[1], k = theta.stride[2];
  if constexpr (SPATIAL == 2) {
    const View<Ct, 4> grid(a.grid);
    for (index_t i = first_point(); i < total; i += point_stride()) {
      index_t n, ho, wo;
      split_2d(i, grid.shape[1], grid.shape[2], n, ho, wo);
      const Ct* t = theta.data + n * theta.stride[0];
      const Ct x = base_coord<Ct>(wo, grid.shape[2], a.align_corners);
      const Ct y = base_coord<Ct>(ho, grid.shape[1], a.align_corners);
      Ct* g = grid.data + n * grid.stride[0] + ho * grid.stride[1] + wo * grid.stride[2];
      g[0] = affine_coord_2d(x, y, t[0], t[k], t[2 * k]);
      g[grid.stride[3]] = affine_coord_2d(x, y, t[r], t[r + k], t[r + 2 * k]);
    }
  } else {
    const View<Ct, 5> grid(a.grid);
    for (index_t i = first_point(); i < total; i += point_stride()) {
      index_t n, d, ho, wo;
      split_3d(i, grid.shape[1], grid.shape[2], grid.shape[3], n, d, ho, wo);
      const Ct* t = theta.data + n * theta.stride[0];
      const Ct x = base_coord<Ct>(wo, grid.shape[3], a.align_corners);
      const Ct y = base_coord<Ct>(ho, grid.shape[2], a.align_corners);
      const Ct z = base_coord<Ct>(d, grid.shape[1], a.align_corners);
      Ct* g = grid.data + n * grid.stride[0] + d * grid.stride[1] + ho * grid.stride[2] +
              wo * grid.stride[3];
      for (index_t c = 0; c < 3; ++c)
        g[c * grid.stride[4]] = affine_coord_3d(x, y, z, t[c * r], t[c * r + k],
                                                t[c * r + 2 * k], t[c * r + 3 * k]);
    }
  }
}

}  // namespace cuda
}  // namespace gswarp
