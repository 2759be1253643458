// The kernels of one instruction-set level (CMake compiles this file once per level, with
// -DGSWARP_LEVEL=<level> and that level's -march): dtype dispatch onto the templates.
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

}  // namespace

void grid_sample_2d(const GridSample& a, index_t start, index_t stop) {
  with_type(a.inp.kind, [&](auto in_tag) {
    using In = decltype(in_tag);
    with_float(a.grid.kind, [&](auto grid_tag) {
      using G = decltype(grid_tag);
      with_float(a.fill_compute.kind, [&](auto compute_tag) {
        using Ct = decltype(compute_tag);
        const View<const In, 4> inp(a.inp);
        const View<const G, 4> grid(a.grid);
        const View<In, 4> out(a.out);
        const Ct* fill = static_cast<const Ct*>(a.fill_compute.data);
        const In* native = static_cast<const In*>(a.fill_native.data);
        switch (a.options.mode) {
          case NEAREST:
            return grid_sample_2d_rows<NEAREST>(inp, grid, out, a.options, fill, native, start,
                                                stop);
          case BICUBIC:
            return grid_sample_2d_rows<BICUBIC>(inp, grid, out, a.options, fill, native, start,
                                                stop);
          default:
            return grid_sample_2d_rows<BILINEAR>(inp, grid, out, a.options, fill, native, start,
                                                 stop);
        }
      });
    });
  });
}

void grid_sample_3d(const GridSample& a, index_t start, index_t stop) {
  with_type(a.inp.kind, [&](auto in_tag) {
    using In = decltype(in_tag);
    with_float(a.grid.kind, [&](auto grid_tag) {
      using G = decltype(grid_tag);
      with_float(a.fill_compute.kind, [&](auto compute_tag) {
        using Ct = decltype(compute_tag);
        const View<const In, 5> inp(a.inp);
        const View<const G, 5> grid(a.grid);
        const View<In, 5> out(a.out);
        const Ct* fill = static_cast<const Ct*>(a.fill_compute.data);
        const In* native = static_cast<const In*>(a.fill_native.data);
        switch (a.options.mode) {
          case NEAREST:
            return grid_sample_3d_rows<NEAREST>(inp, grid, out, a.options, fill, native, start,
                                                stop);
          case BICUBIC:
            return grid_sample_3d_rows<BICUBIC>(inp, grid, out, a.options, fill, native, start,
                                                stop);
          default:
            return grid_sample_3d_rows<BILINEAR>(inp, grid, out, a.options, fill, native, start,
                                                 stop);
        }
      });
    });
  });
}

}  // namespace GSWARP_LEVEL
}  // namespace gswarp
