// The kernels of one instruction-set level (CMake compiles this file once per level, with
// -DGSWARP_LEVEL=<level> and that level's -march): dtype and mode dispatch onto the templates.
#include <cstdint>
#include <type_traits>

#include "gswarp_core/affine_grid.hpp"
#include "gswarp_core/affine_sample.hpp"
#include "gswarp_core/flow_sample.hpp"
#include "gswarp_core/grid_sample.hpp"
#include "gswarp_core/kernels.hpp"
#include "gswarp_core/type_switch.hpp"

namespace gswarp {
namespace GSWARP_LEVEL {

template <int Spatial>
void grid_sample(const GridSample& a, index_t start, index_t stop) {
  with_level_type(a.inp.kind, [&](auto in_tag) {
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
  with_level_type(a.inp.kind, [&](auto in_tag) {
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

// A dtype without kernels at this level runs the baseline's (has_level_kernels).
void grid_sample_2d(const GridSample& a, index_t start, index_t stop) {
  if (!has_level_kernels(a.inp.kind)) return baseline::grid_sample_2d(a, start, stop);
  grid_sample<2>(a, start, stop);
}
void grid_sample_3d(const GridSample& a, index_t start, index_t stop) {
  if (!has_level_kernels(a.inp.kind)) return baseline::grid_sample_3d(a, start, stop);
  grid_sample<3>(a, start, stop);
}
void affine_sample_2d(const AffineSample& a, index_t start, index_t stop) {
  if (!has_level_kernels(a.inp.kind)) return baseline::affine_sample_2d(a, start, stop);
  affine_sample<2>(a, start, stop);
}
void affine_sample_3d(const AffineSample& a, index_t start, index_t stop) {
  if (!has_level_kernels(a.inp.kind)) return baseline::affine_sample_3d(a, start, stop);
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
  if (!has_level_kernels(a.inp.kind)) return baseline::flow_sample(a, start, stop);
  with_level_type(a.inp.kind, [&](auto in_tag) {
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
