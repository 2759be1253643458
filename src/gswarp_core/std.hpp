// The C++ standard library names the per-point headers use, for every compiler they meet.
//
// A host compiler and nvcc: the standard headers. NVRTC (CuPy's run-time compiler, which
// builds the CUDA kernels from these headers on the user's machine, gswarp/engine/cuda_core.py)
// has no standard library: there the few names the kernels need are defined here, in
// namespace std so the headers read the same -- CUDA's math functions (NVRTC declares their
// float and double overloads in the global namespace), the fixed-width integers, and the
// pieces of <type_traits> and <limits> the kernels ask for. Nothing else may be used by code
// that the CUDA kernels include (pointwise.hpp, kernels.hpp, views.hpp and the per-point
// parts of grid_sample.hpp, affine_sample.hpp, flow_sample.hpp, affine_grid.hpp); host-only
// parts of those headers are fenced with GSWARP_HOST_ONLY.
#pragma once

#if defined(__CUDACC_RTC__)
#define GSWARP_HOST_ONLY 0

namespace std {

using int8_t = signed char;
using uint8_t = unsigned char;
using int16_t = short;
using uint16_t = unsigned short;
using int32_t = int;
using uint32_t = unsigned int;
using int64_t = long long;
using uint64_t = unsigned long long;
using size_t = decltype(sizeof(0));

using ::ceil;
using ::fabs;
using ::floor;
using ::fma;
using ::fmod;
using ::isfinite;
using ::ldexp;
using ::nearbyint;
using ::nextafter;
using ::sin;
using ::sqrt;
using ::trunc;

template <bool B, typename T, typename F>
struct conditional {
  using type = T;
};
template <typename T, typename F>
struct conditional<false, T, F> {
  using type = F;
};
template <bool B, typename T, typename F>
using conditional_t = typename conditional<B, T, F>::type;

template <typename T, T V>
struct integral_constant {
  static constexpr T value = V;
};
using true_type = integral_constant<bool, true>;
using false_type = integral_constant<bool, false>;

template <typename A, typename B>
struct is_same : false_type {};
template <typename A>
struct is_same<A, A> : true_type {};
template <typename A, typename B>
inline constexpr bool is_same_v = is_same<A, B>::value;

// numeric_limits: is_integer, digits, lowest() and max() of the ten dtypes' types; the
// quiet NaN of float and double
template <typename T>
struct numeric_limits;

#define GSWARP_INTEGER_LIMITS(T, LOW, HIGH, DIGITS)                          \
  template <>                                                                \
  struct numeric_limits<T> {                                                 \
    static constexpr bool is_integer = true;                                 \
    static constexpr int digits = DIGITS;                                    \
    __host__ __device__ static constexpr T lowest() { return LOW; }          \
    __host__ __device__ static constexpr T max() { return HIGH; }            \
  };
GSWARP_INTEGER_LIMITS(signed char, -128, 127, 7)
GSWARP_INTEGER_LIMITS(unsigned char, 0, 255, 8)
GSWARP_INTEGER_LIMITS(short, -32768, 32767, 15)
GSWARP_INTEGER_LIMITS(unsigned short, 0, 65535, 16)
GSWARP_INTEGER_LIMITS(int, -2147483647 - 1, 2147483647, 31)
GSWARP_INTEGER_LIMITS(unsigned int, 0u, 4294967295u, 32)
GSWARP_INTEGER_LIMITS(long long, -9223372036854775807LL - 1, 9223372036854775807LL, 63)
GSWARP_INTEGER_LIMITS(unsigned long long, 0ull, 18446744073709551615ull, 64)
#undef GSWARP_INTEGER_LIMITS

template <>
struct numeric_limits<float> {
  static constexpr bool is_integer = false;
  __host__ __device__ static float quiet_NaN() { return __int_as_float(0x7fc00000); }
};
template <>
struct numeric_limits<double> {
  static constexpr bool is_integer = false;
  __host__ __device__ static double quiet_NaN() {
    return __longlong_as_double(0x7ff8000000000000LL);
  }
};

template <typename T>
struct is_integral : integral_constant<bool, numeric_limits<T>::is_integer> {};
template <typename T>
inline constexpr bool is_integral_v = is_integral<T>::value;

}  // namespace std

#else
#define GSWARP_HOST_ONLY 1

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <type_traits>
#endif
