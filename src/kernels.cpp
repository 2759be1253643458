// The kernels of one instruction-set level (CMake compiles this file once per level, with
// -DGSWARP_LEVEL=<level> and that level's -march): dtype and mode dispatch onto the templates.
#include <cstdint>
#include <type_traits>

#include "gswarp_core/affine_grid.hpp"
#include "gswarp_core/affine_sample.hpp"
#include "gswarp_core/flow_sample.hpp"
#include "gswarp_core/grid_sample.hpp"
#include "gswarp_core/kernels.hpp"

namespace gswarp {
namespace GSWARP_LEVEL {
namespace {

// Calls f(T{}) with T the C++ type of dtype code `kind`.
template <typename F>
void with_type(int kind, F&& f) {
  switch (kind) {
    case I8: return f(std::int8_t{});
    case U8: return f(std::uint8_t{});
    case I16: return f(std::int16_t{});
    case U16: return f(std::uint16_t{});
    case I32: return f(std::int32_t{});
    case U32: return f(std::uint32_t{});
    case I64: return f(std::int64_t{});
    case U64: return f(std::uint64_t{});
    case F32: return f(float{});
    case F64: return f(double{});
  }
}

template <typename F>
void with_float(int kind, F&& f) {
  if (kind == F32) return f(float{});
  return f(double{});
}

// Calls f(std::integral_constant<int, MODE>{}) for the runtime mode.
template <typename F>
void with_mode(int mode, F&& f) {
  switch (mode) {
    case NEAREST: return f(std::integral_constant<int, NEAREST>{});
    case BICUBIC: return f(std::integral_constant<int, BICUBIC>{});
    default: return f(std::integral_constant<int, BILINEAR>{});
  }
}

}  // namespace

template <int Spatial>
void grid_sample(const GridSample& a, index_t start, index_t stop) {
  with_type(a.inp.kind, [&](auto in_tag) {
    using In = decltype(in_tag);
    using Ct = Compute<In>;
    with_float(a.grid.kind, [&](auto grid_tag) {
      using G = decltype(grid_tag);
      const View<const In, Spatial + 2> inp(a.inp);
      const View<const G, Spatial + 2> grid(a.grid);
      const View<In, Spatial + 2> out(a.out);
      const Ct* fill = static_cast<const Ct*>(a.fill_compute.data);
      const In* native = static_cast<const In*>(a.fill_native.data);
      with_mode(a.options.mode, [&](auto mode_tag) {
        constexpr int MODE = decltype(mode_tag)::value;
        if constexpr (Spatial == 2)
          grid_sample_2d_rows<MODE>(inp, grid, out, a.options, fill, native, start, stop);
        else
          grid_sample_3d_rows<MODE>(inp, grid, out, a.options, fill, native, start, stop);
      });
    });
  });
}

template <int Spatial>
void affine_sample(const AffineSample& a, index_t start, index_t stop) {
  with_type(a.inp.kind, [&](auto in_tag) {
    using In = decltype(in_tag);
    using Ct = Compute<In>;
    const View<const In, Spatial + 2> inp(a.inp);
    const View<const double, 3> matrix(a.matrix);
    const View<In, Spatial + 2> out(a.out);
    const Ct* fill = static_cast<const Ct*>(a.fill_compute.data);
    const In* native = static_cast<const In*>(a.fill_native.data);
    with_mode(a.options.mode, [&](auto mode_tag) {
      constexpr int MODE = decltype(mode_tag)::value;
      if constexpr (Spatial == 2)
        affine_sample_2d_rows<MODE>(inp, matrix, out, a.options, a.window, fill, native, start,
                                    stop);
      else
        affine_sample_3d_rows<MODE>(inp, matrix, out, a.options, a.window, fill, native, start,
                                    stop);
    });
  });
}

void grid_sample_2d(const GridSample& a, index_t start, index_t stop) {
  grid_sample<2>(a, start, stop);
}
void grid_sample_3d(const GridSample& a, index_t start, index_t stop) {
  grid_sample<3>(a, start, stop);
}
void affine_sample_2d(const AffineSample& a, index_t start, index_t stop) {
  affine_sample<2>(a, start, stop);
}
void affine_sample_3d(const AffineSample& a, index_t start, index_t stop) {
  affine_sample<3>(a, start, stop);
}

void affine_grid(const AffineGrid& a, index_t start, index_t stop) {
  with_float(a.grid.kind, [&](auto tag) {
    using Ct = decltype(tag);
    const View<const Ct, 3> theta(a.theta);
    if (a.grid.ndim == 4)
      affine_grid_2d_rows(theta, View<Ct, 4>(a.grid), a.align_corners, start, stop);
    else
      affine_grid_3d_rows(theta, View<Ct, 5>(a.grid), a.align_corners, start, stop);
  });
}

void flow_sample(const FlowSample& a, index_t start, index_t stop) {
  with_type(a.inp.kind, [&](auto in_tag) {
    using In = decltype(in_tag);
    using Ct = Compute<In>;
    const int k = a.inp.ndim - 2;
    const Field field{static_cast<const double*>(a.field.data), k == 3 ? a.field.shape[0] : 1,
                      a.field.shape[k == 3 ? 1 : 0], a.field.shape[k == 3 ? 2 : 1]};
    const Maps maps{static_cast<const double*>(a.maps.data), k};
    const Ct* fill = static_cast<const Ct*>(a.fill_compute.data);
    const In* native = static_cast<const In*>(a.fill_native.data);
    with_mode(a.options.mode, [&](auto mode_tag) {
      constexpr int MODE = decltype(mode_tag)::value;
      if (k == 2)
        flow_sample_2d_rows<MODE>(View<const In, 4>(a.inp), field, maps, View<In, 4>(a.out),
                                  a.options, a.absolute, a.direct, a.separable, a.window, fill,
                                  native, start, stop);
      else
        flow_sample_3d_rows<MODE>(View<const In, 5>(a.inp), field, maps, View<In, 5>(a.out),
                                  a.options, a.absolute, a.direct, a.separable, a.window, fill,
                                  native, start, stop);
    });
  });
}

}  // namespace GSWARP_LEVEL
}  // namespace gswarp
