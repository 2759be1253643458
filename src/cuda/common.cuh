// What every CUDA kernel of src/cuda/ uses: the dtype codes' C++ types, the grid-stride loop's
// 64-bit indices, and the split of a flattened output index.
#pragma once

#include "gswarp_core/kernels.hpp"

namespace gswarp {
namespace cuda {

// The C++ type of dtype code K.
template <int K>
struct KindType;
#define GSWARP_KIND_TYPE(K, T) \
  template <>                  \
  struct KindType<K> {         \
    using type = T;            \
  };
GSWARP_KIND_TYPE(I8, std::int8_t)
GSWARP_KIND_TYPE(U8, std::uint8_t)
GSWARP_KIND_TYPE(I16, std::int16_t)
GSWARP_KIND_TYPE(U16, std::uint16_t)
GSWARP_KIND_TYPE(I32, std::int32_t)
GSWARP_KIND_TYPE(U32, std::uint32_t)
GSWARP_KIND_TYPE(I64, std::int64_t)
GSWARP_KIND_TYPE(U64, std::uint64_t)
GSWARP_KIND_TYPE(F32, float)
GSWARP_KIND_TYPE(F64, double)
#undef GSWARP_KIND_TYPE

// This thread's first point and the launch's stride, in 64 bits.
GSWARP_HD index_t first_point() {
  return static_cast<index_t>(blockIdx.x) * static_cast<index_t>(blockDim.x) +
         static_cast<index_t>(threadIdx.x);
}
GSWARP_HD index_t point_stride() {
  return static_cast<index_t>(blockDim.x) * static_cast<index_t>(gridDim.x);
}

// (n, y, x) of flattened point i of (N, H, W); (n, z, y, x) of (N, D, H, W).
GSWARP_HD void split_2d(index_t i, index_t H, index_t W, index_t& n, index_t& y, index_t& x) {
  x = i % W;
  const index_t rows = i / W;
  y = rows % H;
  n = rows / H;
}
GSWARP_HD void split_3d(index_t i, index_t D, index_t H, index_t W, index_t& n, index_t& z,
                        index_t& y, index_t& x) {
  x = i % W;
  index_t rest = i / W;
  y = rest % H;
  rest /= H;
  z = rest % D;
  n = rest / D;
}

}  // namespace cuda
}  // namespace gswarp
