// The CUDA backward passes of grid_sample and the fused affine sample (backward.hpp's
// per-point functions, written once): the grid's gradient per output point, an affine
// matrix's per output row (each thread sums its row's columns in order, in float64, as the
// CPU does), grad_input per (output point, channel) with atomic adds. Part of kernels.cu.
//
// The coordinate gradients have the CPU's bits. grad_input's terms meet on an input pixel from
// any number of threads: atomicAdd adds them in the order the hardware takes them, so its
// last bits may differ from the CPU's (which adds in output-point order) and from run to run.
#pragma once

#include "common.cuh"
#include "gswarp_core/backward.hpp"
#include "gswarp_core/kernels.hpp"

namespace gswarp {
namespace cuda {

// The grid's gradient (target: (N, [Do,] Ho, Wo, k) of T) at every output point.
template <int SPATIAL, int MODE, int KIND>
__global__ void grid_backward(const Backward a, index_t total) {
  using T = typename KindType<KIND>::type;
  const T* fill = static_cast<const T*>(a.fill.data);
  const GridSource<T> src{grid_as_5d<T>(a.source)};
  if constexpr (SPATIAL == 2) {
    const View<const T, 4> gout(a.gout), inp(a.inp);
    const View<T, 4> ggrid(a.target);
    T scale[2];
    grid_scales(image_2d(inp, 0), a.options, scale);
    for (index_t i = first_point(); i < total; i += point_stride()) {
      index_t n, ho, wo;
      split_2d(i, gout.shape[2], gout.shape[3], n, ho, wo);
      grid_grad_point_2d<MODE>(gout, image_2d(inp, n), src, ggrid, a.options, fill, scale, n,
                               ho, wo, 0, inp.shape[1]);
    }
  } else {
    const View<const T, 5> gout(a.gout), inp(a.inp);
    const View<T, 5> ggrid(a.target);
    T scale[3];
    grid_scales(image_3d(inp, 0), a.options, scale);
    for (index_t i = first_point(); i < total; i += point_stride()) {
      index_t n, d, ho, wo;
      split_3d(i, gout.shape[2], gout.shape[3], gout.shape[4], n, d, ho, wo);
      grid_grad_point_3d<MODE>(gout, image_3d(inp, n), src, ggrid, a.options, fill, scale, n, d,
                               ho, wo);
    }
  }
}

// An affine matrix's gradient, one output row per thread: target (rows, k, k + 1) float64,
// each row's share (summed over the rows on the host, as the CPU's are).
template <int SPATIAL, int MODE, int KIND>
__global__ void matrix_backward(const Backward a, index_t total) {
  using T = typename KindType<KIND>::type;
  const T* fill = static_cast<const T*>(a.fill.data);
  const MatrixSource src{View<const double, 3>(a.source)};
  const View<double, 3> rows(a.target);
  const View<const T, SPATIAL + 2> gout(a.gout), inp(a.inp);
  for (index_t job = first_point(); job < total; job += point_stride()) {
    if constexpr (SPATIAL == 2)
      matrix_grad_row_2d<MODE>(gout, inp, src, rows, a.options, fill, job);
    else
      matrix_grad_row_3d<MODE>(gout, inp, src, rows, a.options, fill, job);
  }
}

// grad_input (target: (N, C, *in) of T, zeros on entry): one thread per output point and
// channel, the point's terms added atomically. AFFINE: the coordinates come from float64
// matrices, else from a normalized grid of T.
template <int SPATIAL, int MODE, int KIND, int AFFINE>
__global__ void input_backward(const Backward a, index_t total) {
  using T = typename KindType<KIND>::type;
  const View<const T, SPATIAL + 2> gout(a.gout);
  const View<T, SPATIAL + 2> ginp(a.target);
  const index_t C = ginp.shape[1];
  for (index_t i = first_point(); i < total; i += point_stride()) {
    index_t plane, d = 0, ho, wo;  // plane: n * C + c
    if constexpr (SPATIAL == 2)
      split_2d(i, gout.shape[2], gout.shape[3], plane, ho, wo);
    else
      split_3d(i, gout.shape[2], gout.shape[3], gout.shape[4], plane, d, ho, wo);
    const index_t n = plane / C, c = plane - n * C;
    const Band<T, SPATIAL + 2> band{ginp, n, c, c + 1, 0, ginp.shape[2]};
    if constexpr (AFFINE)
      scatter_point<SPATIAL, MODE>(gout, MatrixSource{View<const double, 3>(a.source)}, band,
                                   a.options, d, ho, wo);
    else
      scatter_point<SPATIAL, MODE>(gout, GridSource<T>{grid_as_5d<T>(a.source)}, band,
                                   a.options, d, ho, wo);
  }
}

}  // namespace cuda
}  // namespace gswarp
