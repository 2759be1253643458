// Strided views of the arrays the kernels read and write (host code).
//
// A View holds a typed pointer, the shape and the strides in elements (any sign, zero for a
// broadcast axis). Python hands over native-order, aligned arrays (gswarp.engine.api stages
// others); the kernels trust the shapes they are given.
#pragma once

#include "kernels.hpp"
#include "pointwise.hpp"

namespace gswarp {
inline namespace GSWARP_LEVEL {

template <typename T, int N>
struct View {
  T* data;
  index_t shape[N];
  index_t stride[N];

  GSWARP_HD explicit View(const ArrayArg& a) : data(static_cast<T*>(a.data)) {
    for (int i = 0; i < N; ++i) {
      shape[i] = a.shape[i];
      stride[i] = a.stride[i];
    }
  }
};

}  // namespace GSWARP_LEVEL
}  // namespace gswarp
