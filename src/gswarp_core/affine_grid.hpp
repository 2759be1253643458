// torch's affine_grid on the CPU: the normalized grid of theta over an output size.
//
// Rows [start, stop) of the flattened (batch, [depth,] row) index; theta (N, k, k + 1) and the
// grid (N, [D,] H, W, k) in the compute type Ct (float or double, as torch computes it).
#pragma once

#include "kernels.hpp"
#include "pointwise.hpp"
#include "views.hpp"

namespace gswarp {
inline namespace GSWARP_LEVEL {

#if GSWARP_HOST_ONLY  // the CPU's row loops
template <typename Ct>
void affine_grid_2d_rows(const View<const Ct, 3>& theta, const View<Ct, 4>& grid,
                         bool align_corners, index_t start, index_t stop) {
  const index_t Ho = grid.shape[1], Wo = grid.shape[2];
  for (index_t job = start; job < stop; ++job) {
    const index_t n = job / Ho, ho = job - n * Ho;
    const Ct* t = theta.data + n * theta.stride[0];
    const index_t r = theta.stride[1], k = theta.stride[2];
    const Ct y = base_coord<Ct>(ho, Ho, align_corners);
    Ct* g = grid.data + n * grid.stride[0] + ho * grid.stride[1];
    for (index_t wo = 0; wo < Wo; ++wo, g += grid.stride[2]) {
      const Ct x = base_coord<Ct>(wo, Wo, align_corners);
      g[0] = affine_coord_2d(x, y, t[0], t[k], t[2 * k]);
      g[grid.stride[3]] = affine_coord_2d(x, y, t[r], t[r + k], t[r + 2 * k]);
    }
  }
}

template <typename Ct>
void affine_grid_3d_rows(const View<const Ct, 3>& theta, const View<Ct, 5>& grid,
                         bool align_corners, index_t start, index_t stop) {
  const index_t Do = grid.shape[1], Ho = grid.shape[2], Wo = grid.shape[3];
  for (index_t job = start; job < stop; ++job) {
    const index_t n = job / (Do * Ho), rest = job - n * (Do * Ho);
    const index_t d = rest / Ho, ho = rest - d * Ho;
    const Ct* t = theta.data + n * theta.stride[0];
    const index_t r = theta.stride[1], k = theta.stride[2];
    const Ct y = base_coord<Ct>(ho, Ho, align_corners), z = base_coord<Ct>(d, Do, align_corners);
    Ct* g = grid.data + n * grid.stride[0] + d * grid.stride[1] + ho * grid.stride[2];
    for (index_t wo = 0; wo < Wo; ++wo, g += grid.stride[3]) {
      const Ct x = base_coord<Ct>(wo, Wo, align_corners);
      for (index_t a = 0; a < 3; ++a)
        g[a * grid.stride[4]] = affine_coord_3d(x, y, z, t[a * r], t[a * r + k],
                                                t[a * r + 2 * k], t[a * r + 3 * k]);
    }
  }
}
#endif  // GSWARP_HOST_ONLY

}  // namespace GSWARP_LEVEL
}  // namespace gswarp
