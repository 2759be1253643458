// What every CUDA kernel of src/cuda/ uses: the dtype codes' C++ types, the grid-stride loop's
// 64-bit indices, and the split of a flattened output index.
#pragma once

#include "gswarp_core/kernels.hpp"

namespace gswarp {
namespace cuda {

// The C++ type of dtype code K.
template <int K>
struct KindType;
template <>
struct KindType<I8> {
  using type = std::int8_t;
};
template <>
struct KindType<U8> {
  using type = std::uint8_t;
};
template <>
struct KindType<I16> {
  using type = std::int16_t;
};
template <>
struct KindType<U16> {
  using type = std::uint16_t;
};
template <>
struct KindType<I32> {
  using type = std::int32_t;
};
template <>
struct KindType<U32> {
  using type = std::uint32_t;
};
template <>
struct KindType<I64> {
  using type = std::int64_t;
};
template <>
struct KindType<U64> {
  using type = std::uint64_t;
};
template <>
struct KindType<F32> {
  using type = float;
};
template <>
struct KindType<F64> {
  using type = double;
};

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
