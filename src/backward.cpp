// The backward passes of one instruction-set level (compiled once per level, as sample_*.cpp):
// dtype, dimensionality, source and mode dispatch onto backward.hpp's templates.
#include "gswarp_core/backward.hpp"
#include "gswarp_core/kernels.hpp"
#include "gswarp_core/type_switch.hpp"

namespace gswarp {
namespace GSWARP_LEVEL {

template <int Spatial, typename T, int MODE>
void coordinates(const Backward& a, index_t start, index_t stop) {
  const View<const T, Spatial + 2> gout(a.gout), inp(a.inp);
  const T* fill = static_cast<const T*>(a.fill.data);
  if (a.affine) {
    const MatrixSource src{View<const double, 3>(a.source)};
    const View<double, 3> rows(a.target);
    matrix_grad_rows<Spatial, MODE>(gout, inp, src, rows, a.options, fill, start, stop);
    return;
  }
  const GridSource<T> src{grid_as_5d<T>(a.source)};
  const View<T, Spatial + 2> ggrid(a.target);
  if constexpr (Spatial == 2)
    grid_grad_2d_rows<MODE>(gout, inp, src, ggrid, a.options, fill, a.channel_inner, start, stop);
  else
    grid_grad_3d_rows<MODE>(gout, inp, src, ggrid, a.options, fill, start, stop);
}

template <int Spatial, typename T, int MODE>
void input(const Backward& a, index_t start, index_t stop) {
  const View<const T, Spatial + 2> gout(a.gout);
  const View<T, Spatial + 2> ginp(a.target);
  const ScatterJobs jobs(a.inp.shape[0], a.inp.shape[1], a.inp.shape[2], a.bands,
                         a.channel_inner);
  if (a.affine)
    input_grad_jobs<Spatial, MODE, T>(gout, MatrixSource{View<const double, 3>(a.source)}, ginp,
                                      a.options, jobs, start, stop);
  else
    input_grad_jobs<Spatial, MODE, T>(gout, GridSource<T>{grid_as_5d<T>(a.source)}, ginp,
                                      a.options, jobs, start, stop);
}

// Calls f(spatial, T{}, mode) (integral constants) for the arguments' dimensionality, dtype
// (float32 or float64) and mode.
template <typename F>
void with_backward(const Backward& a, F&& f) {
  with_float(a.inp.kind, [&](auto tag) {
    with_mode(a.options.mode, [&](auto mode_tag) {
      if (a.inp.ndim == 4)
        f(std::integral_constant<int, 2>{}, tag, mode_tag);
      else
        f(std::integral_constant<int, 3>{}, tag, mode_tag);
    });
  });
}

void backward_coordinates(const Backward& a, index_t start, index_t stop) {
  with_backward(a, [&](auto spatial, auto tag, auto mode) {
    coordinates<decltype(spatial)::value, decltype(tag), decltype(mode)::value>(a, start, stop);
  });
}

void backward_input(const Backward& a, index_t start, index_t stop) {
  with_backward(a, [&](auto spatial, auto tag, auto mode) {
    input<decltype(spatial)::value, decltype(tag), decltype(mode)::value>(a, start, stop);
  });
}

}  // namespace GSWARP_LEVEL
}  // namespace gswarp
