// The CPU kernels' entry points, type-erased, one set per instruction-set level.
//
// src/sample_*.cpp and src/backward.cpp are compiled once per level (CMake: baseline,
// x86-64-v3 = AVX2+FMA, x86-64-v4 = AVX-512 on x86-64; one level elsewhere) into namespace
// gswarp::<level>; the module picks a level at run time (dispatch.hpp). Every level computes the same bits: the
// sources call fma() explicitly and are built with -ffp-contract=off, so a wider instruction
// set changes how fast, never what.
#pragma once

#include "pointwise.hpp"
#include "std.hpp"

namespace gswarp {

// dtype codes of ArrayArg::kind (the module maps NumPy/DLPack dtypes onto them)
enum Kind : int { I8, U8, I16, U16, I32, U32, I64, U64, F32, F64 };

// The compute type of an input type, as gswarp.engine.api chooses it: float for float32 and
// the 8/16-bit integers, double for float64 and the 32/64-bit integers (the module checks the
// fill it is given against it).
template <typename In>
using Compute = std::conditional_t<std::is_same_v<In, double> ||
                                       (std::is_integral_v<In> && sizeof(In) >= 4),
                                   double, float>;

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

// Where an output part and an input window sit in the whole output and input (windowed warps,
// gswarp.engine.chunks); zeros for whole arrays.
struct Window {
  index_t origin[3];  // output (x, y[, z]) of out[..., 0, 0(, 0)]
  index_t shift[3];   // input (x, y[, z]) of inp[..., 0, 0(, 0)]
};

// The fused affine sample: inp (N, C, H, W), matrix (N, 2, 3) float64 (output pixel (x, y, 1)
// -> input pixel), out (N, C, Ho, Wo) -- or (N, C, D, H, W), (N, 3, 4), (N, C, Do, Ho, Wo).
struct AffineSample {
  ArrayArg inp, matrix, out, fill_compute, fill_native;
  SampleOptions options;
  Window window;
};

using AffineRows = void (*)(const AffineSample&, index_t start, index_t stop);

// torch's affine_grid: theta (N, k, k + 1) and grid (N, [D,] H, W, k), both F32 or both F64.
struct AffineGrid {
  ArrayArg theta, grid;
  bool align_corners;
};

using GridRows = void (*)(const AffineGrid&, index_t start, index_t stop);

// One flow field between matrices (flow_sample.hpp): inp and out as the affine sample's, field
// (H_f, W_f, 2) / (D_f, H_f, W_f, 3) float64 C-contiguous, maps (3, k, k + 1) float64
// C-contiguous (A: output -> frame, B: frame -> field, C: frame -> input).
struct FlowSample {
  ArrayArg inp, field, maps, out, fill_compute, fill_native;
  SampleOptions options;
  bool absolute, direct, separable;
  Window window;
};

using FlowRows = void (*)(const FlowSample&, index_t start, index_t stop);

// The backward passes (backward.hpp): gout (N, C, *out) and inp (N, C, *in) of one float dtype
// T; source a normalized grid (N, *out, k) of T, or (affine) float64 pixel-space matrices
// (N, k, k + 1); fill (C,) of T. target: the grid's gradient (N, *out, k) of T, or (affine)
// per-output-row float64 partial sums of the matrix's (rows, k, k + 1) -- for the coordinate
// pass; grad_input (N, C, *in) of T for the input pass, whose rows are ScatterJobs' jobs.
struct Backward {
  ArrayArg gout, inp, source, target, fill;
  SampleOptions options;
  bool affine, channel_inner;
  index_t bands;
};

using BackwardRows = void (*)(const Backward&, index_t start, index_t stop);

#if GSWARP_HOST_ONLY
// The jobs of a grad_input kernel: `bands` equal bands of the input's rows (2-D) or slices
// (3-D), at most one per row, times the channel groups -- every channel of a batch item
// together (channel_inner) or one channel each. Job band * groups + group, band-major (the
// threads work on the same channels at once).
struct ScatterJobs {
  index_t bands, groups, per_group, channels, extent;
  bool channel_inner;
  ScatterJobs(index_t n_batch, index_t channels_, index_t extent_, index_t bands_, bool inner)
      : bands(std::max<index_t>(1, std::min(bands_, extent_))),
        groups(n_batch * (inner ? 1 : channels_)),
        per_group(inner ? 1 : channels_),
        channels(channels_),
        extent(extent_),
        channel_inner(inner) {}
  index_t count() const { return bands * groups; }
  // (n, c0, c1, lo, hi) of job `job`
  void job(index_t job, index_t& n, index_t& c0, index_t& c1, index_t& lo, index_t& hi) const {
    const index_t band = job / groups, group = job - band * groups;
    n = group / per_group;
    c0 = channel_inner ? 0 : group - n * per_group;
    c1 = channel_inner ? channels : c0 + 1;
    lo = band * extent / bands;
    hi = (band + 1) * extent / bands;
  }
};
#endif  // GSWARP_HOST_ONLY

// Antialiased sampling (antialias.hpp): inp, out (N, C, *) of one dtype; fill_compute and
// fill_native as GridSample's. source: 'affine' float64 matrices (N, k, k + 1) with frames
// (N, 9 | 19) float64 and shrinks (N,) uint8 per batch item; 'pixels' float64 coordinates
// (N, *spatial_c, k) whose first output row / slice is at `top`; 'flow' a float64 field as
// FlowSample's with maps (3, k, k + 1).
enum AntialiasSource : int { AA_AFFINE = 0, AA_PIXELS = 1, AA_FLOW = 2 };

struct Antialias {
  ArrayArg inp, source, out, fill_compute, fill_native, frames, shrinks, maps;
  SampleOptions options;
  int kind;
  index_t top;
  double support, cap;
  bool absolute, separable;
};

using AntialiasRows = void (*)(const Antialias&, index_t start, index_t stop);

#if GSWARP_HOST_ONLY
#define GSWARP_DECLARE_LEVEL(level) \
  namespace level {                 \
  void grid_sample_2d(const GridSample& args, index_t start, index_t stop); \
  void grid_sample_3d(const GridSample& args, index_t start, index_t stop); \
  void affine_sample_2d(const AffineSample& args, index_t start, index_t stop); \
  void affine_sample_3d(const AffineSample& args, index_t start, index_t stop); \
  void affine_grid(const AffineGrid& args, index_t start, index_t stop); \
  void flow_sample(const FlowSample& args, index_t start, index_t stop); \
  void backward_coordinates(const Backward& args, index_t start, index_t stop); \
  void backward_input(const Backward& args, index_t start, index_t stop); \
  }

GSWARP_DECLARE_LEVEL(baseline)
namespace baseline {  // antialiased sampling: the baseline level's on every CPU (CMakeLists.txt)
void antialias(const Antialias& args, index_t start, index_t stop);
}
#if GSWARP_X86_LEVELS  // set by CMake where it builds them (x86-64 with GCC or Clang)
GSWARP_DECLARE_LEVEL(x86_64_v3)
GSWARP_DECLARE_LEVEL(x86_64_v4)
#endif

#undef GSWARP_DECLARE_LEVEL
#endif  // GSWARP_HOST_ONLY

}  // namespace gswarp
