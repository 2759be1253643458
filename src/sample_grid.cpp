// grid_sample's kernels of one instruction-set level (compiled once per level with
// -DGSWARP_LEVEL=<level> and that level's -march): dtype and mode dispatch onto the templates.
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

// A dtype without kernels at this level runs the baseline's (has_level_kernels).
void grid_sample_2d(const GridSample& a, index_t start, index_t stop) {
  if (!has_level_kernels(a.inp.kind)) return baseline::grid_sample_2d(a, start, stop);
  grid_sample<2>(a, start, stop);
}
void grid_sample_3d(const GridSample& a, index_t start, index_t stop) {
  if (!has_level_kernels(a.inp.kind)) return baseline::grid_sample_3d(a, start, stop);
  grid_sample<3>(a, start, stop);
}

}  // namespace GSWARP_LEVEL
}  // namespace gswarp
