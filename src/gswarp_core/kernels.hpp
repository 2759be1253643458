// The CPU kernels' entry points, type-erased, one set per instruction-set level.
//
// src/kernels.cpp is compiled once per level (CMake: baseline, x86-64-v3 = AVX2+FMA,
// x86-64-v4 = AVX-512 on x86-64; one level elsewhere) into namespace gswarp::<level>; the
// module picks a level at run time (dispatch.hpp). Every level computes the same bits: the
// sources call fma() explicitly and are built with -ffp-contract=off, so a wider instruction
// set changes how fast, never what.
#pragma once

#include <cstdint>

#include "pointwise.hpp"

namespace gswarp {

// dtype codes of ArrayArg::kind (the module maps NumPy/DLPack dtypes onto them)
enum Kind : int { I8, U8, I16, U16, I32, U32, I64, U64, F32, F64 };

// An array as the module hands it over: native order, aligned, strides in elements.
struct ArrayArg {
  void* data;
  int kind;
  int ndim;
  index_t shape[6];
  index_t stride[6];
};

struct SampleOptions {
  int mode;
  int padding;
  bool align_corners;
  bool pixels;  // the grid holds pixel coordinates: no un-normalization
};

// grid_sample: inp (N, C, H, W), grid (N, Ho, Wo, 2), out (N, C, Ho, Wo) of inp's kind -- or
// (N, C, D, H, W), (N, Do, Ho, Wo, 3), (N, C, Do, Ho, Wo) in 3-D; fill_compute (C,) in the
// compute type (F32 or F64: it names the compute type), fill_native (C,) of inp's kind.
struct GridSample {
  ArrayArg inp, grid, out, fill_compute, fill_native;
  SampleOptions options;
};

using SampleRows = void (*)(const GridSample&, index_t start, index_t stop);

#define GSWARP_DECLARE_LEVEL(level) \
  namespace level {                 \
  void grid_sample_2d(const GridSample& args, index_t start, index_t stop); \
  void grid_sample_3d(const GridSample& args, index_t start, index_t stop); \
  }

GSWARP_DECLARE_LEVEL(baseline)
#if GSWARP_X86_LEVELS  // set by CMake where it builds them (x86-64 with GCC or Clang)
GSWARP_DECLARE_LEVEL(x86_64_v3)
GSWARP_DECLARE_LEVEL(x86_64_v4)
#endif

#undef GSWARP_DECLARE_LEVEL

}  // namespace gswarp
