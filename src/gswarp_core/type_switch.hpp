// Runtime codes to compile-time types and modes: the dispatch of every kernel file
// (src/sample_*.cpp, src/backward.cpp, src/antialias.cpp) onto its templates.
#pragma once

#include <cstdint>
#include <type_traits>

#include "kernels.hpp"
#include "pointwise.hpp"

namespace gswarp {
inline namespace GSWARP_LEVEL {

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

// Whether dtype `kind` has its own kernels at this level. The baseline level has every dtype;
// the wider levels (x86-64-v3, -v4) the common image and volume dtypes -- uint8, int16,
// uint16, float32, float64 -- and run the baseline's kernels for the others (the same bits,
// slower): each dtype is one more copy of every kernel to compile, and the build of all ten
// at three levels made `pip install .` exceed its 90 s here (docs/engine.md).
inline bool has_level_kernels(int kind) {
#if GSWARP_BASELINE_LEVEL
  (void)kind;
  return true;
#else
  return kind == U8 || kind == I16 || kind == U16 || kind == F32 || kind == F64;
#endif
}

// with_type over the dtypes that have kernels at this level (has_level_kernels).
template <typename F>
void with_level_type(int kind, F&& f) {
#if GSWARP_BASELINE_LEVEL
  with_type(kind, f);
#else
  switch (kind) {
    case U8: return f(std::uint8_t{});
    case I16: return f(std::int16_t{});
    case U16: return f(std::uint16_t{});
    case F32: return f(float{});
    case F64: return f(double{});
  }
#endif
}

template <typename F>
void with_float(int kind, F&& f) {
  if (kind == F32) return f(float{});
  return f(double{});
}

// Calls f(std::integral_constant<int, MODE>{}) for the runtime mode.
template <typename F>
void with_mode(int mode, F&& f) {
  switch (mode) {
    case NEAREST: return f(std::integral_constant<int, NEAREST>{});
    case BICUBIC: return f(std::integral_constant<int, BICUBIC>{});
    default: return f(std::integral_constant<int, BILINEAR>{});
  }
}


}  // namespace GSWARP_LEVEL
}  // namespace gswarp
