// The flow kernels of one instruction-set level (compiled once per level with
// -DGSWARP_LEVEL=<level> and that level's -march): dtype and mode dispatch onto the templates.
#include "gswarp_core/flow_sample.hpp"
#include "gswarp_core/kernels.hpp"
#include "gswarp_core/type_switch.hpp"

namespace gswarp {
namespace GSWARP_LEVEL {

void flow_sample(const FlowSample& a, index_t start, index_t stop) {
  if (!has_level_kernels(a.inp.kind)) return baseline::flow_sample(a, start, stop);
  with_level_type(a.inp.kind, [&](auto in_tag) {
    using In = decltype(in_tag);
    using Ct = Compute<In>;
    const int k = a.inp.ndim - 2;
    const Field field{a.field.data, a.field.kind == F32, k == 3 ? a.field.shape[0] : 1,
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
