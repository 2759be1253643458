// The flow kernels: the whole chain of one flow field between matrices, per output point, with
// no coordinate buffer: output pixel p -> frame q = A p -> field value f at B q (bilinear or
// trilinear on a float64 field, edge values continued outside) -> input pixel C (q + f), or
// C f for absolute coordinates. `maps` is (3, k, k + 1): A, B, C.
//
// `direct`: A and B are identities and the field has the output's grid, so it is read at each
// pixel without interpolation. `separable`: A and B are diagonal, so a field position's x
// depends on the output column only and y (z) on the row (slice): the field is interpolated
// along y (z) once per row into a row buffer and along x from per-column tables. The
// arithmetic is the numba engine's as it was (_field_axis, field_at_2d/3d,
// flow_lookup, flow_finish, field_columns, field_row); windows as in the affine kernels.
#pragma once

#include "grid_sample.hpp"
#include "kernels.hpp"
#include "pointwise.hpp"
#include "views.hpp"

#if GSWARP_HOST_ONLY
#include <vector>
#endif

namespace gswarp {
inline namespace GSWARP_LEVEL {

// Lower index, upper index and upper weight of position p on a field axis of `size`, clamped
// to it. On a field point (weight 0 or 1) both indices name that point, so a NaN neighbour with
// weight 0 never makes a valid point NaN.
GSWARP_HD void field_axis(double p, index_t size, index_t& low, index_t& high, double& weight) {
  const index_t top = size - 1;
  p = py_min(py_max(p, 0.0), static_cast<double>(top));
  low = py_max(py_min(static_cast<index_t>(p), top - 1), index_t(0));
  weight = p - static_cast<double>(low);
  high = py_min(low + 1, top);
  if (weight == 0.0) high = low;
  if (weight == 1.0) low = high;
}

// A float64 or float32 field (H, W, 2) or (D, H, W, 3), C-contiguous. A float32 field (as
// registration tools write them) is read as it is, each value converted to double exactly:
// the same results as its float64 copy, with half the memory.
struct Field {
  const void* data;
  bool single;      // float32 values
  index_t D, H, W;  // D = 1 in 2-D
  GSWARP_HD double value(index_t z, index_t y, index_t x, index_t components, index_t c) const {
    const index_t i = ((z * H + y) * W + x) * components + c;
    return single ? static_cast<double>(static_cast<const float*>(data)[i])
                  : static_cast<const double*>(data)[i];
  }
};

GSWARP_HD void field_at_2d(const Field& f, double fx, double fy, double& u, double& v) {
  if (!(std::isfinite(fx) && std::isfinite(fy))) {
    u = v = std::numeric_limits<double>::quiet_NaN();
    return;
  }
  index_t x0, x1, y0, y1;
  double wx, wy;
  field_axis(fx, f.W, x0, x1, wx);
  field_axis(fy, f.H, y0, y1, wy);
  const double a = (1.0 - wx) * (1.0 - wy), b = wx * (1.0 - wy), c = (1.0 - wx) * wy,
               d = wx * wy;
  u = a * f.value(0, y0, x0, 2, 0) + b * f.value(0, y0, x1, 2, 0) +
      c * f.value(0, y1, x0, 2, 0) + d * f.value(0, y1, x1, 2, 0);
  v = a * f.value(0, y0, x0, 2, 1) + b * f.value(0, y0, x1, 2, 1) +
      c * f.value(0, y1, x0, 2, 1) + d * f.value(0, y1, x1, 2, 1);
}

GSWARP_HD void field_at_3d(const Field& f, double fx, double fy, double fz, double& u,
                           double& v, double& w) {
  if (!(std::isfinite(fx) && std::isfinite(fy) && std::isfinite(fz))) {
    u = v = w = std::numeric_limits<double>::quiet_NaN();
    return;
  }
  index_t x0, x1, y0, y1, z0, z1;
  double wx, wy, wz;
  field_axis(fx, f.W, x0, x1, wx);
  field_axis(fy, f.H, y0, y1, wy);
  field_axis(fz, f.D, z0, z1, wz);
  u = v = w = 0.0;
  for (int corner = 0; corner < 8; ++corner) {
    const index_t zi = (corner & 4) ? z1 : z0, yi = (corner & 2) ? y1 : y0,
                  xi = (corner & 1) ? x1 : x0;
    double weight = ((corner & 4) ? wz : 1.0 - wz) * ((corner & 2) ? wy : 1.0 - wy);
    weight *= (corner & 1) ? wx : 1.0 - wx;
    u += weight * f.value(zi, yi, xi, 3, 0);
    v += weight * f.value(zi, yi, xi, 3, 1);
    w += weight * f.value(zi, yi, xi, 3, 2);
  }
}

// maps (3, k, k + 1), C-contiguous: m(i, r, c).
struct Maps {
  const double* data;
  index_t k;
  GSWARP_HD double operator()(index_t i, index_t r, index_t c) const {
    return data[(i * k + r) * (k + 1) + c];
  }
};

// The frame point q = A p of output pixel p = (x, y) and the field's value there, through the
// whole chain (the general path): q, then the field bilinear at B q.
GSWARP_HD void flow_general_2d(const Field& f, const Maps& m, double x, double y, double& qx,
                               double& qy, double& u, double& v) {
  qx = m(0, 0, 0) * x + m(0, 0, 1) * y + m(0, 0, 2);
  qy = m(0, 1, 0) * x + m(0, 1, 1) * y + m(0, 1, 2);
  const double fx = m(1, 0, 0) * qx + m(1, 0, 1) * qy + m(1, 0, 2);
  const double fy = m(1, 1, 0) * qx + m(1, 1, 1) * qy + m(1, 1, 2);
  field_at_2d(f, fx, fy, u, v);
}

GSWARP_HD void flow_general_3d(const Field& f, const Maps& m, double x, double y, double z,
                               double& qx, double& qy, double& qz, double& u, double& v,
                               double& w) {
  qx = m(0, 0, 0) * x + m(0, 0, 1) * y + m(0, 0, 2) * z + m(0, 0, 3);
  qy = m(0, 1, 0) * x + m(0, 1, 1) * y + m(0, 1, 2) * z + m(0, 1, 3);
  qz = m(0, 2, 0) * x + m(0, 2, 1) * y + m(0, 2, 2) * z + m(0, 2, 3);
  const double fx = m(1, 0, 0) * qx + m(1, 0, 1) * qy + m(1, 0, 2) * qz + m(1, 0, 3);
  const double fy = m(1, 1, 0) * qx + m(1, 1, 1) * qy + m(1, 1, 2) * qz + m(1, 1, 3);
  const double fz = m(1, 2, 0) * qx + m(1, 2, 1) * qy + m(1, 2, 2) * qz + m(1, 2, 3);
  field_at_3d(f, fx, fy, fz, u, v, w);
}

// The separable path's value at one point, as the CPU rows compute it from their buffers (the
// field along y (z) first, then along x): the GPU kernels' form, with no buffers.
GSWARP_HD void flow_separable_2d(const Field& f, const Maps& m, double x, double y, double& qx,
                                 double& qy, double& u, double& v) {
  qx = m(0, 0, 0) * x + m(0, 0, 2);
  qy = m(0, 1, 1) * y + m(0, 1, 2);
  index_t i, j, a, b;
  double wx, wy;
  field_axis(m(1, 0, 0) * qx + m(1, 0, 2), f.W, i, j, wx);
  field_axis(m(1, 1, 1) * qy + m(1, 1, 2), f.H, a, b, wy);
  double at[2][2];  // [column i or j][component]
  for (int side = 0; side < 2; ++side)
    for (index_t c = 0; c < 2; ++c) {
      const index_t column = side ? j : i;
      at[side][c] = (1.0 - wy) * f.value(0, a, column, 2, c) + wy * f.value(0, b, column, 2, c);
    }
  u = (1.0 - wx) * at[0][0] + wx * at[1][0];
  v = (1.0 - wx) * at[0][1] + wx * at[1][1];
}

GSWARP_HD void flow_separable_3d(const Field& f, const Maps& m, double x, double y, double z,
                                 double& qx, double& qy, double& qz, double& u, double& v,
                                 double& w) {
  qx = m(0, 0, 0) * x + m(0, 0, 3);
  qy = m(0, 1, 1) * y + m(0, 1, 3);
  qz = m(0, 2, 2) * z + m(0, 2, 3);
  index_t i, j, ya, yb, za, zb;
  double wx, wy, wz;
  field_axis(m(1, 0, 0) * qx + m(1, 0, 3), f.W, i, j, wx);
  field_axis(m(1, 1, 1) * qy + m(1, 1, 3), f.H, ya, yb, wy);
  field_axis(m(1, 2, 2) * qz + m(1, 2, 3), f.D, za, zb, wz);
  double at[2][3];
  for (int side = 0; side < 2; ++side)
    for (index_t c = 0; c < 3; ++c) {
      const index_t column = side ? j : i;
      const double near =
          (1.0 - wy) * f.value(za, ya, column, 3, c) + wy * f.value(za, yb, column, 3, c);
      const double far =
          (1.0 - wy) * f.value(zb, ya, column, 3, c) + wy * f.value(zb, yb, column, 3, c);
      at[side][c] = (1.0 - wz) * near + wz * far;
    }
  u = (1.0 - wx) * at[0][0] + wx * at[1][0];
  v = (1.0 - wx) * at[0][1] + wx * at[1][1];
  w = (1.0 - wx) * at[0][2] + wx * at[1][2];
}

// The input pixel C (q + f) of a field value f at frame point q (C f for absolute values).
GSWARP_HD void flow_finish_2d(const Maps& m, double qx, double qy, double u, double v,
                              bool absolute, double& px, double& py) {
  if (!absolute) {
    u += qx;
    v += qy;
  }
  px = m(2, 0, 0) * u + m(2, 0, 1) * v + m(2, 0, 2);
  py = m(2, 1, 0) * u + m(2, 1, 1) * v + m(2, 1, 2);
}

GSWARP_HD void flow_finish_3d(const Maps& m, double qx, double qy, double qz, double u,
                              double v, double w, bool absolute, double& px, double& py,
                              double& pz) {
  if (!absolute) {
    u += qx;
    v += qy;
    w += qz;
  }
  px = m(2, 0, 0) * u + m(2, 0, 1) * v + m(2, 0, 2) * w + m(2, 0, 3);
  py = m(2, 1, 0) * u + m(2, 1, 1) * v + m(2, 1, 2) * w + m(2, 1, 3);
  pz = m(2, 2, 0) * u + m(2, 2, 1) * v + m(2, 2, 2) * w + m(2, 2, 3);
}

#if GSWARP_HOST_ONLY
// Per output column first .. first + width - 1: the field's x-axis indices and weight, and the
// frame coordinate qx, for diagonal A and B (their last column: offsets).
struct Columns {
  std::vector<index_t> low, high;
  std::vector<double> weight, frame;
  Columns(const Maps& m, index_t width, index_t field_width, index_t first)
      : low(width), high(width), weight(width), frame(width) {
    const index_t last = m.k;
    for (index_t wo = 0; wo < width; ++wo) {
      const double qx = m(0, 0, 0) * static_cast<double>(wo + first) + m(0, 0, last);
      field_axis(m(1, 0, 0) * qx + m(1, 0, last), field_width, low[wo], high[wo], weight[wo]);
      frame[wo] = qx;
    }
  }
};

// The 2-D field (H, W, 2) interpolated along y at frame row qy into row (W, 2): the separable
// path's row buffer (numba: field_row_2d).
inline void field_row_2d(const Field& field, const Maps& m, double qy, double* row) {
  index_t a, b;
  double wy;
  field_axis(m(1, 1, 1) * qy + m(1, 1, 2), field.H, a, b, wy);
  for (index_t i = 0; i < field.W; ++i)
    for (index_t c = 0; c < 2; ++c)
      row[i * 2 + c] = (1.0 - wy) * field.value(0, a, i, 2, c) + wy * field.value(0, b, i, 2, c);
}

template <int MODE, typename In, typename Ct>
void flow_sample_2d_rows(const View<const In, 4>& inp, const Field& field, const Maps& m,
                         const View<In, 4>& out, const SampleOptions& o, bool absolute,
                         bool direct, bool separable, const Window& win, const Ct* fill,
                         const In* fill_native, index_t start, index_t stop) {
  const index_t C = inp.shape[1], H = inp.shape[2], W = inp.shape[3];
  const index_t Ho = out.shape[2], Wo = out.shape[3];
  const index_t c0 = win.origin[0], r0 = win.origin[1];
  const Ct x0 = Ct(static_cast<double>(win.shift[0])), y0 = Ct(static_cast<double>(win.shift[1]));
  const Columns columns(m, separable ? Wo : 0, field.W, c0);
  std::vector<double> row(separable ? field.W * 2 : 0);
  for (index_t job = start; job < stop; ++job) {
    const index_t n = job / Ho, ho = job - n * Ho;
    const Image2d<In> im{inp.data + n * inp.stride[0], C, H, W,
                         inp.stride[1], inp.stride[2], inp.stride[3]};
    In* base = out.data + n * out.stride[0] + ho * out.stride[2];
    const double y = static_cast<double>(ho + r0);
    double qy = m(0, 1, 1) * y + m(0, 1, 2);  // used when separable
    if (separable) field_row_2d(field, m, qy, row.data());
    for (index_t wo = 0; wo < Wo; ++wo) {
      const double x = static_cast<double>(wo + c0);
      double qx, u, v;
      if (separable) {
        qx = columns.frame[wo];
        const index_t i = columns.low[wo], j = columns.high[wo];
        const double wx = columns.weight[wo];
        u = (1.0 - wx) * row[i * 2] + wx * row[j * 2];
        v = (1.0 - wx) * row[i * 2 + 1] + wx * row[j * 2 + 1];
      } else if (direct) {
        qx = x;
        qy = y;
        u = field.value(0, ho + r0, wo + c0, 2, 0);
        v = field.value(0, ho + r0, wo + c0, 2, 1);
      } else {
        flow_general_2d(field, m, x, y, qx, qy, u, v);
      }
      double px, py;
      flow_finish_2d(m, qx, qy, u, v, absolute, px, py);
      const Pixel<In> at{base + wo * out.stride[3], out.stride[1]};
      sample_point_2d<MODE>(im, Ct(px) - x0, Ct(py) - y0, at, o, fill, fill_native);
    }
  }
}

template <int MODE, typename In, typename Ct>
void flow_sample_3d_rows(const View<const In, 5>& inp, const Field& field, const Maps& m,
                         const View<In, 5>& out, const SampleOptions& o, bool absolute,
                         bool direct, bool separable, const Window& win, const Ct* fill,
                         const In* fill_native, index_t start, index_t stop) {
  const index_t C = inp.shape[1], D = inp.shape[2], H = inp.shape[3], W = inp.shape[4];
  const index_t Do = out.shape[2], Ho = out.shape[3], Wo = out.shape[4];
  const index_t c0 = win.origin[0], r0 = win.origin[1], s0 = win.origin[2];
  const Ct x0 = Ct(static_cast<double>(win.shift[0])), y0 = Ct(static_cast<double>(win.shift[1])),
           z0 = Ct(static_cast<double>(win.shift[2]));
  const Columns columns(m, separable ? Wo : 0, field.W, c0);
  std::vector<double> row(separable ? field.W * 3 : 0);
  for (index_t job = start; job < stop; ++job) {
    const index_t n = job / (Do * Ho), rest = job - n * (Do * Ho);
    const index_t d = rest / Ho, ho = rest - d * Ho;
    const Image3d<In> im{inp.data + n * inp.stride[0], C, D, H, W,
                         inp.stride[1], inp.stride[2], inp.stride[3], inp.stride[4]};
    In* base = out.data + n * out.stride[0] + d * out.stride[2] + ho * out.stride[3];
    const double z = static_cast<double>(d + s0), y = static_cast<double>(ho + r0);
    double qy = m(0, 1, 1) * y + m(0, 1, 3);  // used when separable
    double qz = m(0, 2, 2) * z + m(0, 2, 3);
    if (separable) {
      index_t ya, yb, za, zb;
      double wy, wz;
      field_axis(m(1, 1, 1) * qy + m(1, 1, 3), field.H, ya, yb, wy);
      field_axis(m(1, 2, 2) * qz + m(1, 2, 3), field.D, za, zb, wz);
      for (index_t i = 0; i < field.W; ++i)
        for (index_t c = 0; c < 3; ++c) {
          const double near =
              (1.0 - wy) * field.value(za, ya, i, 3, c) + wy * field.value(za, yb, i, 3, c);
          const double far =
              (1.0 - wy) * field.value(zb, ya, i, 3, c) + wy * field.value(zb, yb, i, 3, c);
          row[i * 3 + c] = (1.0 - wz) * near + wz * far;
        }
    }
    for (index_t wo = 0; wo < Wo; ++wo) {
      const double x = static_cast<double>(wo + c0);
      double qx, u, v, w;
      if (separable) {
        qx = columns.frame[wo];
        const index_t i = columns.low[wo], j = columns.high[wo];
        const double wx = columns.weight[wo];
        u = (1.0 - wx) * row[i * 3] + wx * row[j * 3];
        v = (1.0 - wx) * row[i * 3 + 1] + wx * row[j * 3 + 1];
        w = (1.0 - wx) * row[i * 3 + 2] + wx * row[j * 3 + 2];
      } else if (direct) {
        qx = x;
        qy = y;
        qz = z;
        u = field.value(d + s0, ho + r0, wo + c0, 3, 0);
        v = field.value(d + s0, ho + r0, wo + c0, 3, 1);
        w = field.value(d + s0, ho + r0, wo + c0, 3, 2);
      } else {
        flow_general_3d(field, m, x, y, z, qx, qy, qz, u, v, w);
      }
      double px, py, pz;
      flow_finish_3d(m, qx, qy, qz, u, v, w, absolute, px, py, pz);
      const Pixel<In> at{base + wo * out.stride[4], out.stride[1]};
      sample_point_3d<MODE>(im, Ct(px) - x0, Ct(py) - y0, Ct(pz) - z0, at, o, fill, fill_native);
    }
  }
}

#endif  // GSWARP_HOST_ONLY

}  // namespace GSWARP_LEVEL
}  // namespace gswarp
