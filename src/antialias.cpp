// Antialiased sampling (compiled once, at the baseline level: CMakeLists.txt): dtype,
// dimensionality, source and mode dispatch onto antialias.hpp's templates.
#include "gswarp_core/antialias.hpp"
#include "gswarp_core/kernels.hpp"
#include "gswarp_core/type_switch.hpp"

namespace gswarp {
namespace GSWARP_LEVEL {

template <int Spatial, int MODE, typename In>
void antialias_rows(const Antialias& a, index_t start, index_t stop) {
  using Ct = Compute<In>;
  const View<const In, Spatial + 2> inp(a.inp);
  const View<In, Spatial + 2> out(a.out);
  const Ct* fill = static_cast<const Ct*>(a.fill_compute.data);
  const In* native = static_cast<const In*>(a.fill_native.data);
  const SampleOptions& o = a.options;
  if (a.kind == AA_AFFINE) {
    if constexpr (MODE == BILINEAR) {  // one instantiation: the frames carry the filter
      const View<const double, 3> matrix(a.source);
      const double* frames = static_cast<const double*>(a.frames.data);
      const auto* shrinks = static_cast<const std::uint8_t*>(a.shrinks.data);
      if constexpr (Spatial == 2)
        affine_antialias_2d_rows(inp, matrix, out, o, fill, frames, shrinks, start, stop);
      else
        affine_antialias_3d_rows(inp, matrix, out, o, fill, frames, shrinks, start, stop);
    }
  } else if (a.kind == AA_PIXELS) {
    const View<const double, Spatial + 2> coords(a.source);
    if constexpr (Spatial == 2)
      pixels_antialias_2d_rows<MODE>(inp, coords, out, o, fill, native, a.top, a.support, a.cap,
                                     start, stop);
    else
      pixels_antialias_3d_rows<MODE>(inp, coords, out, o, fill, native, a.top, a.support, a.cap,
                                     start, stop);
  } else {
    const Field field{a.source.data, a.source.kind == F32, Spatial == 3 ? a.source.shape[0] : 1,
                      a.source.shape[Spatial == 3 ? 1 : 0], a.source.shape[Spatial == 3 ? 2 : 1]};
    const Maps maps{static_cast<const double*>(a.maps.data), Spatial};
    if constexpr (Spatial == 2)
      flow_antialias_2d_rows<MODE>(inp, field, maps, out, o, fill, native, a.absolute,
                                   a.separable, a.support, a.cap, start, stop);
    else
      flow_antialias_3d_rows<MODE>(inp, field, maps, out, o, fill, native, a.absolute, a.support,
                                   a.cap, start, stop);
  }
}

// Nearest never averages (labels): the point-sampled fallback of the pixels and flow sources
// is bilinear or bicubic, and the affine source has none (the caller point-samples the items
// that do not shrink), so it is instantiated once.
void antialias(const Antialias& a, index_t start, index_t stop) {
  with_type(a.inp.kind, [&](auto in_tag) {
    using In = decltype(in_tag);
    const bool plane = a.inp.ndim == 4;
    if (a.kind == AA_AFFINE) {
      if (plane)
        antialias_rows<2, BILINEAR, In>(a, start, stop);
      else
        antialias_rows<3, BILINEAR, In>(a, start, stop);
    } else if (a.options.mode == BICUBIC) {
      if (plane)
        antialias_rows<2, BICUBIC, In>(a, start, stop);
      else
        antialias_rows<3, BICUBIC, In>(a, start, stop);
    } else {
      if (plane)
        antialias_rows<2, BILINEAR, In>(a, start, stop);
      else
        antialias_rows<3, BILINEAR, In>(a, start, stop);
    }
  });
}

}  // namespace GSWARP_LEVEL
}  // namespace gswarp
