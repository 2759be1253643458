// Runtime codes to compile-time types and modes: the dispatch of every kernel file
// (src/kernels.cpp, src/backward.cpp) onto its templates.
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
