// The CUDA kernels' bodies on the CPU (tests only): compiled by a host C++ compiler with
// -DGSWARP_CUDA_HOST, a .cu file of src/cuda/ becomes plain C++ in which a kernel is a function
// and `launch` runs every (block, thread) of a launch geometry one after another, each with
// its own blockIdx/threadIdx -- so a kernel's indexing (the grid-stride loop, 64-bit indices)
// and arithmetic are what the tests check, against the CPU engine, on machines with no GPU.
// Built by tests/cuda_host.py; nothing of it is in the package's compiled module.
#pragma once

#include <cstdint>

#define __global__
#define __device__
#define __host__
#define __forceinline__ inline

namespace gswarp {
namespace cuda_host {

struct Dim3 {
  unsigned x = 1, y = 1, z = 1;
};

inline thread_local Dim3 blockIdx, threadIdx, blockDim, gridDim;

// Runs body() once for every thread of a (blocks, threads) launch, in order.
template <typename Body>
void launch(unsigned blocks, unsigned threads, Body&& body) {
  gridDim.x = blocks;
  blockDim.x = threads;
  for (unsigned b = 0; b < blocks; ++b) {
    blockIdx.x = b;
    for (unsigned t = 0; t < threads; ++t) {
      threadIdx.x = t;
      body();
    }
  }
}

}  // namespace cuda_host
}  // namespace gswarp

using gswarp::cuda_host::blockDim;
using gswarp::cuda_host::blockIdx;
using gswarp::cuda_host::gridDim;
using gswarp::cuda_host::threadIdx;
