// The fused affine kernels and affine_grid of one instruction-set level (compiled once per level with
// -DGSWARP_LEVEL=<level> and that level's -march): dtype and mode dispatch onto the templates.
#include "gswarp_core/affine_grid.hpp"
#include "gswarp_core/affine_sample.hpp"
#include "gswarp_core/kernels.hpp"
#include "gswarp_core/type_switch.hpp"

namespace gswarp {
namespace GSWARP_LEVEL {

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

}  // namespace GSWARP_LEVEL
}  // namespace gswarp
