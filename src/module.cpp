// _gswarp_core: the compiled CPU engine's Python bindings (nanobind).
//
// Python (gswarp.engine.core) checks every argument and hands over native-order, aligned
// arrays; these entry points describe them to the kernels of the instruction-set level in
// use (dispatch.hpp), release the GIL and spread the output rows over the thread pool.
// Nothing here throws across the boundary except nanobind's argument errors and the
// TypeError of a dtype no kernel takes (a bug in the caller).
#include <nanobind/nanobind.h>
#include <nanobind/ndarray.h>
#include <nanobind/stl/string.h>
#include <nanobind/stl/vector.h>

#include <algorithm>
#include <cstdint>
#include <string>
#include <vector>

#include "gswarp_core/antialias.hpp"
#include "gswarp_core/dispatch.hpp"
#include "gswarp_core/filters.hpp"
#include "gswarp_core/kernels.hpp"
#include "gswarp_core/metrics.hpp"
#include "gswarp_core/threads.hpp"

namespace nb = nanobind;
using gswarp::index_t;

namespace {

using ReadArray = nb::ndarray<nb::ro, nb::device::cpu>;
using WriteArray = nb::ndarray<nb::device::cpu>;
using Vector = nb::ndarray<nb::ro, nb::device::cpu, std::int64_t, nb::ndim<1>>;
// the kernels index these as C-ordered float64 (flow_sample.hpp's Field and Maps)
using Float64Array = nb::ndarray<nb::ro, nb::device::cpu, double, nb::c_contig>;
// a flow field: C-ordered float64 or float32 (flow_sample.hpp's Field reads either)
using FieldArray = nb::ndarray<nb::ro, nb::device::cpu, nb::c_contig>;

int kind_of(const nb::dlpack::dtype& t) {
  using nb::dlpack::dtype_code;
  if (t.lanes == 1) {
    if (t.code == static_cast<std::uint8_t>(dtype_code::Float)) {
      if (t.bits == 32) return gswarp::F32;
      if (t.bits == 64) return gswarp::F64;
    } else if (t.code == static_cast<std::uint8_t>(dtype_code::Int)) {
      switch (t.bits) {
        case 8: return gswarp::I8;
        case 16: return gswarp::I16;
        case 32: return gswarp::I32;
        case 64: return gswarp::I64;
      }
    } else if (t.code == static_cast<std::uint8_t>(dtype_code::UInt)) {
      switch (t.bits) {
        case 8: return gswarp::U8;
        case 16: return gswarp::U16;
        case 32: return gswarp::U32;
        case 64: return gswarp::U64;
      }
    }
  }
  throw nb::type_error("_gswarp_core: no kernel for this dtype");
}

template <typename Array>
gswarp::ArrayArg describe(const Array& a) {
  gswarp::ArrayArg arg{};
  arg.data = const_cast<void*>(static_cast<const void*>(a.data()));
  arg.kind = kind_of(a.dtype());
  arg.ndim = static_cast<int>(a.ndim());
  if (arg.ndim > 6) throw nb::value_error("_gswarp_core: at most 6 dimensions");
  for (int i = 0; i < arg.ndim; ++i) {
    arg.shape[i] = static_cast<index_t>(a.shape(i));
    arg.stride[i] = static_cast<index_t>(a.stride(i));
  }
  return arg;
}

void require_float(const gswarp::ArrayArg& a, const char* name) {
  if (a.kind != gswarp::F32 && a.kind != gswarp::F64)
    throw nb::type_error(
        (std::string("_gswarp_core: ") + name + " must be float32 or float64").c_str());
}

// inp, out and fill_native share a dtype, and fill_compute is in that dtype's compute type.
void require_kinds(const gswarp::ArrayArg& inp, const gswarp::ArrayArg& out,
                   const gswarp::ArrayArg& fill_compute, const gswarp::ArrayArg& fill_native) {
  if (inp.kind != out.kind || inp.kind != fill_native.kind)
    throw nb::type_error("_gswarp_core: inp, out and fill_native must share a dtype");
  const bool wide = inp.kind == gswarp::F64 || inp.kind == gswarp::I32 ||
                    inp.kind == gswarp::U32 || inp.kind == gswarp::I64 || inp.kind == gswarp::U64;
  if (fill_compute.kind != (wide ? gswarp::F64 : gswarp::F32))
    throw nb::type_error("_gswarp_core: fill_compute is not in the input's compute type");
}

// rows(args, a, b) over output rows [start, stop), spread over the pool, without the GIL.
template <typename Args, typename Rows>
void run_rows(const Args& args, Rows rows, index_t start, index_t stop) {
  nb::gil_scoped_release release;
  gswarp::ThreadPool::instance().parallel_for(
      start, stop, [&](index_t a, index_t b) { rows(args, a, b); });
}

// The window (origin, shift: int64 (x, y[, z])) of a kernel with `spatial` dimensions.
gswarp::Window window_of(const Vector& origin, const Vector& shift, int spatial) {
  if (origin.shape(0) != static_cast<size_t>(spatial) ||
      shift.shape(0) != static_cast<size_t>(spatial))
    throw nb::value_error("_gswarp_core: origin and shift need one value per spatial axis");
  gswarp::Window window{};
  for (int i = 0; i < spatial; ++i) {
    window.origin[i] = origin(i);
    window.shift[i] = shift(i);
  }
  return window;
}

// grid_sample 2-D or 3-D (by inp's ndim: 4 or 5) over output rows [start, stop) of the
// flattened (batch, [depth,] row) index: see grid_sample.hpp.
void grid_sample(ReadArray inp, ReadArray grid, WriteArray out, int mode, int padding,
                 bool align_corners, bool pixels, ReadArray fill_compute, ReadArray fill_native,
                 index_t start, index_t stop) {
  gswarp::GridSample args{describe(inp),          describe(grid),        describe(out),
                            describe(fill_compute), describe(fill_native),
                            {mode, padding, align_corners, pixels}};
  require_float(args.grid, "grid");
  require_kinds(args.inp, args.out, args.fill_compute, args.fill_native);
  const int spatial = args.inp.ndim - 2;
  if ((spatial != 2 && spatial != 3) || args.grid.ndim != spatial + 2 ||
      args.out.ndim != spatial + 2)
    throw nb::value_error("_gswarp_core: grid_sample takes 4-D or 5-D arrays");
  const gswarp::Level* level = gswarp::current_level();
  run_rows(args, spatial == 2 ? level->grid_sample_2d : level->grid_sample_3d, start, stop);
}

// The fused affine sample 2-D or 3-D over output rows [start, stop): see affine_sample.hpp.
// origin, shift: int64 (x, y[, z]) of the output part and input window (zeros: whole arrays).
void affine_sample(ReadArray inp, ReadArray matrix, WriteArray out, int mode, int padding,
                   bool align_corners, ReadArray fill_compute, ReadArray fill_native,
                   index_t start, index_t stop, Vector origin, Vector shift) {
  gswarp::AffineSample args{describe(inp),          describe(matrix),      describe(out),
                            describe(fill_compute), describe(fill_native),
                            {mode, padding, align_corners, false},
                            {}};
  const int spatial = args.inp.ndim - 2;
  if ((spatial != 2 && spatial != 3) || args.out.ndim != spatial + 2 || args.matrix.ndim != 3 ||
      args.matrix.kind != gswarp::F64)
    throw nb::value_error("_gswarp_core: affine_sample takes 4-D or 5-D arrays and float64 matrices");
  require_kinds(args.inp, args.out, args.fill_compute, args.fill_native);
  args.window = window_of(origin, shift, spatial);
  const gswarp::Level* level = gswarp::current_level();
  run_rows(args, spatial == 2 ? level->affine_sample_2d : level->affine_sample_3d, start, stop);
}

// torch's affine_grid over rows [start, stop) of the flattened (batch, [depth,] row) index:
// theta (N, k, k + 1) and grid (N, [D,] H, W, k) of one float dtype (affine_grid.hpp).
void affine_grid(ReadArray theta, WriteArray grid, bool align_corners, index_t start,
                 index_t stop) {
  gswarp::AffineGrid args{describe(theta), describe(grid), align_corners};
  const int spatial = args.grid.ndim - 2;
  require_float(args.grid, "grid");
  if ((spatial != 2 && spatial != 3) || args.theta.ndim != 3 || args.theta.kind != args.grid.kind ||
      args.theta.shape[1] != spatial || args.theta.shape[2] != spatial + 1 ||
      args.grid.shape[args.grid.ndim - 1] != spatial)
    throw nb::value_error("_gswarp_core: affine_grid takes theta (N, k, k + 1), grid (N, ..., k)");
  run_rows(args, gswarp::current_level()->affine_grid, start, stop);
}

// One flow field between matrices over output rows [start, stop) (flow_sample.hpp).
void flow_sample(ReadArray inp, FieldArray field, Float64Array maps, WriteArray out, int mode,
                 int padding, bool align_corners, ReadArray fill_compute, ReadArray fill_native,
                 index_t start, index_t stop, bool absolute, bool direct, bool separable,
                 Vector origin, Vector shift) {
  gswarp::FlowSample args{describe(inp),          describe(field),       describe(maps),
                          describe(out),          describe(fill_compute), describe(fill_native),
                          {mode, padding, align_corners, false},
                          absolute, direct, separable, {}};
  const int spatial = args.inp.ndim - 2;
  if ((spatial != 2 && spatial != 3) || args.out.ndim != spatial + 2 ||
      args.field.ndim != spatial + 1 || args.field.shape[spatial] != spatial ||
      args.maps.ndim != 3 || args.maps.shape[0] != 3 || args.maps.shape[1] != spatial ||
      args.maps.shape[2] != spatial + 1 ||
      (args.field.kind != gswarp::F64 && args.field.kind != gswarp::F32))
    throw nb::value_error(
        "_gswarp_core: flow_sample takes a float field (..., k) and maps (3, k, k + 1)");
  require_kinds(args.inp, args.out, args.fill_compute, args.fill_native);
  args.window = window_of(origin, shift, spatial);
  run_rows(args, gswarp::current_level()->flow_sample, start, stop);
}

// ---- the backward passes (backward.hpp): gout, inp, fill and a grid or its gradient of one
// float dtype; matrices and their per-row sums float64

gswarp::Backward backward_args(ReadArray gout, ReadArray inp, ReadArray source,
                               const WriteArray& target, int mode, int padding,
                               bool align_corners, ReadArray fill, bool affine,
                               bool channel_inner, index_t bands) {
  gswarp::Backward args{describe(gout), describe(inp),  describe(source), describe(target),
                        describe(fill), {mode, padding, align_corners, false},
                        affine,         channel_inner, bands};
  require_float(args.inp, "inp");
  const int spatial = args.inp.ndim - 2;
  const int kind = args.inp.kind;
  if ((spatial != 2 && spatial != 3) || args.gout.ndim != args.inp.ndim ||
      args.gout.kind != kind || args.fill.kind != kind || args.fill.ndim != 1 ||
      args.fill.shape[0] < args.inp.shape[1] || args.gout.shape[0] != args.inp.shape[0] ||
      args.gout.shape[1] != args.inp.shape[1] || args.source.shape[0] != args.inp.shape[0])
    throw nb::value_error("_gswarp_core: backward takes gout and inp (N, C, ...) of one dtype");
  if (affine) {
    if (args.source.kind != gswarp::F64 || args.source.ndim != 3 ||
        args.source.shape[1] != spatial || args.source.shape[2] != spatial + 1)
      throw nb::value_error("_gswarp_core: backward takes float64 matrices (N, k, k + 1)");
  } else {
    bool same = args.source.kind == kind && args.source.ndim == spatial + 2 &&
                args.source.shape[spatial + 1] == spatial;
    for (int i = 1; same && i <= spatial; ++i) same = args.source.shape[i] == args.gout.shape[i + 1];
    if (!same) throw nb::value_error("_gswarp_core: backward takes a grid (N, *out, k) of inp's dtype");
  }
  return args;
}

// The coordinate gradient over output rows [0, N * prod(out[:-1])): the grid's gradient
// (target shaped like the grid) or per-row float64 sums of the matrix's (rows, k, k + 1).
void backward_coordinates(ReadArray gout, ReadArray inp, ReadArray source, WriteArray target,
                          int mode, int padding, bool align_corners, ReadArray fill, bool affine,
                          bool channel_inner) {
  const gswarp::Backward args = backward_args(gout, inp, source, target, mode, padding,
                                              align_corners, fill, affine, channel_inner, 1);
  const int spatial = args.inp.ndim - 2;
  index_t rows = args.gout.shape[0];
  for (int i = 2; i < spatial + 1; ++i) rows *= args.gout.shape[i];
  const bool ok = affine ? (args.target.kind == gswarp::F64 && args.target.ndim == 3 &&
                            args.target.shape[0] == rows && args.target.shape[1] == spatial &&
                            args.target.shape[2] == spatial + 1)
                         : (args.target.kind == args.source.kind &&
                            args.target.ndim == args.source.ndim &&
                            std::equal(args.target.shape, args.target.shape + args.target.ndim,
                                       args.source.shape));
  if (!ok) throw nb::value_error("_gswarp_core: the coordinate gradient has the wrong shape");
  run_rows(args, gswarp::current_level()->backward_coordinates, 0, rows);
}

// grad_input (target, inp's shape and dtype), zeroed and filled by band-owning jobs.
void backward_input(ReadArray gout, ReadArray inp, ReadArray source, WriteArray target, int mode,
                    int padding, bool align_corners, ReadArray fill, bool affine, index_t bands,
                    bool channel_inner) {
  const gswarp::Backward args = backward_args(gout, inp, source, target, mode, padding,
                                              align_corners, fill, affine, channel_inner, bands);
  if (args.target.kind != args.inp.kind || args.target.ndim != args.inp.ndim ||
      !std::equal(args.inp.shape, args.inp.shape + args.inp.ndim, args.target.shape))
    throw nb::value_error("_gswarp_core: grad_input must have the input's shape and dtype");
  const gswarp::ScatterJobs jobs(args.inp.shape[0], args.inp.shape[1], args.inp.shape[2], bands,
                                 channel_inner);
  run_rows(args, gswarp::current_level()->backward_input, 0, jobs.count());
}

// ---- antialiased sampling (antialias.hpp)

// Rows [start, stop) of an antialiased sample: kind 0 affine (source: float64 matrices; frames
// (N, 9 | 19) float64, shrinks (N,) uint8), 1 pixels (source: float64 coordinates, `top` the
// output's first row / slice in them), 2 flow (source: a float64 field; maps (3, k, k + 1)).
void antialias(ReadArray inp, ReadArray source, WriteArray out, int mode, int padding,
               bool align_corners, ReadArray fill_compute, ReadArray fill_native, index_t start,
               index_t stop, int kind, ReadArray frames, ReadArray shrinks, ReadArray maps,
               index_t top, double support, double cap, bool absolute, bool separable) {
  gswarp::Antialias args{describe(inp),          describe(source),      describe(out),
                         describe(fill_compute), describe(fill_native), describe(frames),
                         describe(shrinks),      describe(maps),
                         {mode, padding, align_corners, false},
                         kind,                   top,                   support,
                         cap,                    absolute,              separable};
  const int spatial = args.inp.ndim - 2;
  const index_t batch = args.inp.shape[0];
  if ((spatial != 2 && spatial != 3) || args.out.ndim != spatial + 2 ||
      args.out.shape[0] != batch || args.out.shape[1] != args.inp.shape[1] ||
      kind < 0 || kind > 2 || !(support > 0.0) ||
      !(args.source.kind == gswarp::F64 ||
        (kind == gswarp::AA_FLOW && args.source.kind == gswarp::F32)))
    throw nb::value_error(
        "_gswarp_core: antialias takes 4-D or 5-D arrays, float64 sources (float32 fields)");
  require_kinds(args.inp, args.out, args.fill_compute, args.fill_native);
  const index_t frame = spatial == 2 ? 9 : 19;
  bool ok = true;
  if (kind == gswarp::AA_AFFINE) {
    ok = args.source.ndim == 3 && args.source.shape[0] == batch &&
         args.source.shape[1] == spatial && args.source.shape[2] == spatial + 1 &&
         args.frames.kind == gswarp::F64 && args.frames.ndim == 2 &&
         args.frames.shape[0] == batch && args.frames.shape[1] == frame &&
         args.frames.stride[1] == 1 && args.frames.stride[0] == frame &&
         args.shrinks.ndim == 1 && args.shrinks.shape[0] == batch &&
         args.shrinks.kind == gswarp::U8 && args.shrinks.stride[0] == 1;
  } else if (kind == gswarp::AA_PIXELS) {
    ok = args.source.ndim == spatial + 2 && args.source.shape[0] == batch &&
         args.source.shape[spatial + 1] == spatial && top >= 0 &&
         top + args.out.shape[2] <= args.source.shape[1];
    for (int i = 2; ok && i <= spatial; ++i)  // the axes after the first: the output's
      ok = args.source.shape[i] == args.out.shape[i + 1];
  } else {
    index_t expected = 1;
    for (int i = 0; i < args.source.ndim; ++i) {
      ok = ok && args.source.stride[args.source.ndim - 1 - i] == expected;
      expected *= args.source.shape[args.source.ndim - 1 - i];
    }
    ok = ok && args.source.ndim == spatial + 1 && args.source.shape[spatial] == spatial &&
         args.maps.kind == gswarp::F64 && args.maps.ndim == 3 && args.maps.shape[0] == 3 &&
         args.maps.shape[1] == spatial && args.maps.shape[2] == spatial + 1 &&
         args.maps.stride[2] == 1 && args.maps.stride[1] == spatial + 1 &&
         args.maps.stride[0] == spatial * (spatial + 1);
  }
  if (!ok) throw nb::value_error("_gswarp_core: antialias: a source of the wrong shape");
  run_rows(args, gswarp::current_level()->antialias, start, stop);
}

using Jacobians = nb::ndarray<nb::ro, nb::device::cpu, double, nb::ndim<3>, nb::c_contig>;
using Frames = nb::ndarray<nb::device::cpu, double, nb::ndim<2>, nb::c_contig>;
using Flags = nb::ndarray<nb::device::cpu, std::uint8_t, nb::ndim<1>, nb::c_contig>;

// Frames (M, 9 | 19) and shrink flags (M,) of Jacobians (M, k, k) (antialias.hpp).
void antialias_frames(Jacobians jacobians, double support, double cap, Frames frames,
                      Flags shrinks) {
  const index_t count = static_cast<index_t>(jacobians.shape(0));
  const index_t k = static_cast<index_t>(jacobians.shape(1));
  if ((k != 2 && k != 3) || static_cast<index_t>(jacobians.shape(2)) != k ||
      static_cast<index_t>(frames.shape(0)) != count ||
      static_cast<index_t>(frames.shape(1)) != (k == 2 ? 9 : 19) ||
      static_cast<index_t>(shrinks.shape(0)) != count)
    throw nb::value_error("_gswarp_core: antialias_frames takes (M, k, k), (M, 9 | 19), (M,)");
  const double* j = jacobians.data();
  double* fr = frames.data();
  std::uint8_t* flags = shrinks.data();
  nb::gil_scoped_release release;
  for (index_t i = 0; i < count; ++i) {
    if (k == 2)
      flags[i] = gswarp::frame_2d(j[4 * i], j[4 * i + 1], j[4 * i + 2], j[4 * i + 3], support,
                                  cap, fr + 9 * i);
    else
      flags[i] = gswarp::frame_3d(j + 9 * i, support, cap, fr + 19 * i);
  }
}

// ---- ITK's interpolators as filters (filters.hpp)

// Output points [0, P) of a filter sample: inp (N, C, *spatial), points (P, k) float64
// C-ordered, out (N, C, P), fill (C,) float64; sigma (k,) float64 in voxels (x first).
// Or (affine) points is a (k, k + 1) matrix, the points output pixels first.. of shape grid.
void filter_sample(ReadArray inp, Float64Array points, WriteArray out, ReadArray fill, int kind,
                   int order, int window, int radius, Float64Array sigma, double alpha,
                   int padding, bool align_corners, bool labels, bool smallest_tie,
                   bool spline_region, bool affine, Vector grid, index_t first) {
  gswarp::FilterSample args{describe(inp),
                            describe(points),
                            describe(out),
                            describe(fill),
                            {kind, order, window, radius, {1.0, 1.0, 1.0}, alpha},
                            padding,
                            align_corners,
                            labels,
                            smallest_tie,
                            spline_region,
                            affine,
                            {1, 1, 1},
                            first};
  const int spatial = args.inp.ndim - 2;
  const bool float_input = args.inp.kind == gswarp::F32 || args.inp.kind == gswarp::F64;
  const index_t count = args.out.shape[2];
  bool shaped = affine ? args.points.ndim == 2 && args.points.shape[0] == spatial &&
                             args.points.shape[1] == spatial + 1 &&
                             grid.shape(0) == static_cast<size_t>(spatial) && first >= 0
                       : args.points.ndim == 2 && args.points.shape[1] == spatial &&
                             args.points.shape[0] == count;
  if (affine && shaped) {
    index_t total = 1;
    for (int d = 0; d < spatial; ++d) {
      args.grid[3 - spatial + d] = grid(d);
      shaped = shaped && grid(d) > 0;
      total *= grid(d);
    }
    shaped = shaped && first + count <= total;
  }
  if ((spatial != 2 && spatial != 3) || !shaped || args.out.ndim != 3 ||
      args.out.shape[0] != args.inp.shape[0] || args.out.shape[1] != args.inp.shape[1] ||
      args.fill.kind != gswarp::F64 ||
      args.fill.ndim != 1 || args.fill.shape[0] < args.inp.shape[1] ||
      static_cast<int>(sigma.shape(0)) != spatial)
    throw nb::value_error("_gswarp_core: filter_sample takes inp (N, C, ...), points (P, k), "
                          "out (N, C, P), fill (C,) and sigma (k,)");
  if (!float_input && args.out.kind != args.inp.kind)
    throw nb::type_error("_gswarp_core: filter_sample writes an integer input's own dtype");
  if (labels && args.out.kind != args.inp.kind)
    throw nb::type_error("_gswarp_core: a label vote writes the input's dtype");
  const bool known = (kind == gswarp::FILTER_BSPLINE && order >= 0 && order <= 5) ||
                     (kind == gswarp::FILTER_SINC && radius >= 1 && radius <= 16 &&
                      window >= 0 && window <= gswarp::WINDOW_BLACKMAN) ||
                     kind == gswarp::FILTER_GAUSSIAN || kind == gswarp::FILTER_LINEAR;
  bool positive = alpha > 0.0 && alpha < 1e6;
  for (int d = 0; d < spatial; ++d) {
    const double value = sigma.data()[d];
    args.filter.sigma[d] = value;
    positive = positive && value > 0.0 && value < 1e6;
  }
  if (!known || (kind == gswarp::FILTER_GAUSSIAN && !positive))
    throw nb::value_error("_gswarp_core: filter_sample: no such filter");
  run_rows(args, gswarp::filter_points, 0, count);
}

using Coefficients = nb::ndarray<nb::device::cpu, double, nb::ndim<3>, nb::c_contig>;

// B-spline coefficients of `order` in place along the middle axis of data (outer, n, inner).
void bspline_prefilter(Coefficients data, int order) {
  const index_t outer = static_cast<index_t>(data.shape(0));
  const index_t length = static_cast<index_t>(data.shape(1));
  const index_t inner = static_cast<index_t>(data.shape(2));
  if (order < 0 || order > 5) throw nb::value_error("_gswarp_core: B-spline orders are 0-5");
  double* values = data.data();
  nb::gil_scoped_release release;
  gswarp::ThreadPool::instance().parallel_for(
      0, gswarp::filter_bundles(outer, inner), [&](index_t a, index_t b) {
        gswarp::bspline_prefilter(values, outer, length, inner, order, a, b);
      });
}

// ---- the registration metrics (metrics.hpp): sequential, float32 or float64 images

using Flat = nb::ndarray<nb::ro, nb::device::cpu, nb::ndim<1>, nb::c_contig>;
using FlatOut = nb::ndarray<nb::device::cpu, nb::ndim<1>, nb::c_contig>;

// Calls f(MetricInput<T>) for the images' dtype (w and f of one float dtype, m bool bytes).
template <typename F>
void with_metric_input(const Flat& w, const Flat& f, const Flat& m, bool masked, F&& body) {
  const int kind = kind_of(w.dtype());
  if (kind_of(f.dtype()) != kind || (kind != gswarp::F32 && kind != gswarp::F64) ||
      f.shape(0) != w.shape(0) || (masked && m.shape(0) != w.shape(0)) || m.itemsize() != 1)
    throw nb::type_error("_gswarp_core: metrics take float32/float64 images and a bool mask");
  const auto* mask = static_cast<const std::uint8_t*>(m.data());
  const index_t size = static_cast<index_t>(w.shape(0));
  if (kind == gswarp::F32)
    body(gswarp::MetricInput<float>{static_cast<const float*>(w.data()),
                                    static_cast<const float*>(f.data()), mask, masked, size});
  else
    body(gswarp::MetricInput<double>{static_cast<const double*>(w.data()),
                                     static_cast<const double*>(f.data()), mask, masked, size});
}

template <typename T>
T* gradient_of(const FlatOut& grad, const gswarp::MetricInput<T>& in) {
  if (grad.dtype() != nb::dtype<T>() || static_cast<index_t>(grad.shape(0)) != in.size)
    throw nb::type_error("_gswarp_core: the gradient must match the warped image");
  return static_cast<T*>(grad.data());
}

nb::tuple metric_sums(Flat w, Flat f, Flat m, bool masked) {
  double sums[7];
  with_metric_input(w, f, m, masked, [&](const auto& in) {
    nb::gil_scoped_release release;
    gswarp::metric_sums(in, sums);
  });
  return nb::make_tuple(sums[0], sums[1], sums[2], sums[3], sums[4], sums[5], sums[6]);
}

void mse_grad(Flat w, Flat f, Flat m, bool masked, double factor, FlatOut grad) {
  with_metric_input(w, f, m, masked, [&](const auto& in) {
    auto* g = gradient_of(grad, in);
    nb::gil_scoped_release release;
    gswarp::mse_grad(in, factor, g);
  });
}

void ncc_grad(Flat w, Flat f, Flat m, bool masked, double mean_w, double mean_f,
              double minus_inverse_root, double ncc_over_saa, FlatOut grad) {
  with_metric_input(w, f, m, masked, [&](const auto& in) {
    auto* g = gradient_of(grad, in);
    nb::gil_scoped_release release;
    gswarp::ncc_grad(in, mean_w, mean_f, minus_inverse_root, ncc_over_saa, g);
  });
}

using Table = nb::ndarray<nb::device::cpu, double, nb::ndim<2>, nb::c_contig>;
using ReadTable = nb::ndarray<nb::ro, nb::device::cpu, double, nb::ndim<2>, nb::c_contig>;

gswarp::Bins bins_of(index_t rows, index_t columns, double f_low, double f_width, double m_low,
                     double m_width) {
  if (columns != rows + 4) throw nb::value_error("_gswarp_core: the joint table is (bins, bins + 4)");
  return gswarp::Bins{rows, f_low, f_width, m_low, m_width};
}

index_t mattes_joint(Flat w, Flat f, Flat m, bool masked, double f_low, double f_width,
                     double m_low, double m_width, Table joint) {
  const gswarp::Bins b = bins_of(static_cast<index_t>(joint.shape(0)),
                                 static_cast<index_t>(joint.shape(1)), f_low, f_width, m_low,
                                 m_width);
  index_t count = 0;
  with_metric_input(w, f, m, masked, [&](const auto& in) {
    nb::gil_scoped_release release;
    count = gswarp::mattes_joint(in, b, joint.data());
  });
  return count;
}

void mattes_grad(Flat w, Flat f, Flat m, bool masked, double f_low, double f_width, double m_low,
                 double m_width, ReadTable log_ratio, double scale, FlatOut grad) {
  const gswarp::Bins b = bins_of(static_cast<index_t>(log_ratio.shape(0)),
                                 static_cast<index_t>(log_ratio.shape(1)), f_low, f_width, m_low,
                                 m_width);
  with_metric_input(w, f, m, masked, [&](const auto& in) {
    auto* g = gradient_of(grad, in);
    nb::gil_scoped_release release;
    gswarp::mattes_grad(in, b, log_ratio.data(), scale, g);
  });
}

std::vector<std::string> supported_levels() {
  std::vector<std::string> names;
  for (const gswarp::Level& level : gswarp::levels())
    if (level.supported()) names.emplace_back(level.name);
  return names;
}

}  // namespace

NB_MODULE(_gswarp_core, m) {
  m.doc() = "gswarp's compiled CPU engine (see gswarp.engine.core and docs/engine.md)";
  gswarp::choose_level();
  m.def("grid_sample", &grid_sample, nb::arg("inp"), nb::arg("grid"), nb::arg("out"),
        nb::arg("mode"), nb::arg("padding"), nb::arg("align_corners"), nb::arg("pixels"),
        nb::arg("fill_compute"), nb::arg("fill_native"), nb::arg("start"), nb::arg("stop"));
  m.def("affine_sample", &affine_sample, nb::arg("inp"), nb::arg("matrix"), nb::arg("out"),
        nb::arg("mode"), nb::arg("padding"), nb::arg("align_corners"), nb::arg("fill_compute"),
        nb::arg("fill_native"), nb::arg("start"), nb::arg("stop"), nb::arg("origin"),
        nb::arg("shift"));
  m.def("affine_grid", &affine_grid, nb::arg("theta"), nb::arg("grid"), nb::arg("align_corners"),
        nb::arg("start"), nb::arg("stop"));
  m.def("flow_sample", &flow_sample, nb::arg("inp"), nb::arg("field"), nb::arg("maps"),
        nb::arg("out"), nb::arg("mode"), nb::arg("padding"), nb::arg("align_corners"),
        nb::arg("fill_compute"), nb::arg("fill_native"), nb::arg("start"), nb::arg("stop"),
        nb::arg("absolute"), nb::arg("direct"), nb::arg("separable"), nb::arg("origin"),
        nb::arg("shift"));
  m.def("backward_coordinates", &backward_coordinates, nb::arg("gout"), nb::arg("inp"),
        nb::arg("source"), nb::arg("target"), nb::arg("mode"), nb::arg("padding"),
        nb::arg("align_corners"), nb::arg("fill"), nb::arg("affine"), nb::arg("channel_inner"));
  m.def("backward_input", &backward_input, nb::arg("gout"), nb::arg("inp"), nb::arg("source"),
        nb::arg("target"), nb::arg("mode"), nb::arg("padding"), nb::arg("align_corners"),
        nb::arg("fill"), nb::arg("affine"), nb::arg("bands"), nb::arg("channel_inner"));
  m.def("antialias", &antialias, nb::arg("inp"), nb::arg("source"), nb::arg("out"),
        nb::arg("mode"), nb::arg("padding"), nb::arg("align_corners"), nb::arg("fill_compute"),
        nb::arg("fill_native"), nb::arg("start"), nb::arg("stop"), nb::arg("kind"),
        nb::arg("frames"), nb::arg("shrinks"), nb::arg("maps"), nb::arg("top"),
        nb::arg("support"), nb::arg("cap"), nb::arg("absolute"), nb::arg("separable"));
  m.def("antialias_frames", &antialias_frames, nb::arg("jacobians"), nb::arg("support"),
        nb::arg("cap"), nb::arg("frames"), nb::arg("shrinks"));
  m.def("filter_sample", &filter_sample, nb::arg("inp"), nb::arg("points"), nb::arg("out"),
        nb::arg("fill"), nb::arg("kind"), nb::arg("order"), nb::arg("window"),
        nb::arg("radius"), nb::arg("sigma"), nb::arg("alpha"), nb::arg("padding"),
        nb::arg("align_corners"), nb::arg("labels"), nb::arg("smallest_tie"),
        nb::arg("spline_region"), nb::arg("affine"), nb::arg("grid"),
        nb::arg("first"));
  m.def("bspline_prefilter", &bspline_prefilter, nb::arg("data"), nb::arg("order"));
  m.attr("WIDEN") = gswarp::WIDEN;
  m.attr("SHRINK_TOLERANCE") = gswarp::SHRINK_TOLERANCE;
  m.def("metric_sums", &metric_sums);
  m.def("mse_grad", &mse_grad);
  m.def("ncc_grad", &ncc_grad);
  m.def("mattes_joint", &mattes_joint);
  m.def("mattes_grad", &mattes_grad);
  m.def(
      "set_num_threads", [](int n) { gswarp::ThreadPool::instance().set_threads(n); },
      nb::arg("n"), "Threads of the CPU kernels' pool (the calling thread included).");
  m.def(
      "get_num_threads", []() { return gswarp::ThreadPool::instance().threads(); },
      "Threads of the CPU kernels' pool.");
  m.def("supported_levels", &supported_levels,
        "The instruction-set levels of this build that this CPU runs, lowest first.");
  m.def(
      "get_level", []() { return std::string(gswarp::current_level()->name); },
      "The instruction-set level the kernels run at.");
  m.def(
      "set_level",
      [](const std::string& name) {
        if (!gswarp::set_level(name)) throw nb::value_error("_gswarp_core: unknown level");
      },
      nb::arg("name"),
      "Run the kernels at the widest supported level at or below `name` (tests compare them).");
}
