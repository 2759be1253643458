// ITK's interpolators as sampling filters: B-splines of order 0-5 (on coefficients from
// bspline_prefilter), windowed sincs, the Gaussian, and the label-wise vote of any of them.
//
// Each output point is a pixel coordinate (x, y[, z]) of the input (centres at integers). As in
// ITK's ResampleImageFilter, a point is sampled when every coordinate c lies in
// [-0.5, size - 0.5) (the image's extent: its interpolators' IsInsideBuffer) and gets the fill
// otherwise (NaN included); the padding modes 'border' and 'reflection' first clip or reflect
// the coordinate as torch does (pad_scalar). Taps past the edge follow each interpolator's
// own rule, as ITK's:
//
// - B-spline (itk::BSplineInterpolateImageFunction): order+1 taps per axis starting at
//   floor(c + (order odd ? 0 : 0.5)) - order / 2, the basis weights of Unser's and Thevenaz's
//   formulas, indices mirrored about the first and last samples (the prefilter's boundary);
// - windowed sinc (itk::WindowedSincInterpolateImageFunction, ZeroFluxNeumann boundary):
//   2 * radius taps per axis from floor(c) - radius + 1, weights window(x) * sinc(x) (not
//   normalized, as ITK's), indices clamped into the image;
// - Gaussian (itk::GaussianInterpolateImageFunction): each voxel weighted by the integral of
//   a Gaussian (sigma in voxels per axis) over the voxel, erf(b) - erf(a), within alpha sigmas
//   of c, cut at the image's edge; the weighted mean;
// - linear (itk::LinearInterpolateImageFunction): 2 taps per axis from floor(c), indices
//   clamped into the image (for the label vote of antsApplyTransforms' GenericLabel[Linear]);
// - labels: each distinct input value's summed weight, the largest kept: on a tie the first
//   to reach it in x-fastest order, as itk::LabelImageGaussianInterpolateImageFunction, or
//   (`smallest_tie`) the smallest label, as itk::LabelImageGenericInterpolateImageFunction.
//
// With spline_region the points inside are those with 1 <= c < size - 2 on every axis instead
// (itk::BSplineTransform's valid region: its displacement, the cubic B-spline of the control
// points without a prefilter, is the fill -- zero -- elsewhere).
//
// Sums are in double. The tests hold each to SimpleITK's interpolator of the same name
// (tests/test_filters.py).
#pragma once

#include <cstdint>

#include "kernels.hpp"
#include "pointwise.hpp"

namespace gswarp {

enum FilterKind : int { FILTER_BSPLINE = 0, FILTER_SINC = 1, FILTER_GAUSSIAN = 2, FILTER_LINEAR = 3 };
enum SincWindow : int {
  WINDOW_LANCZOS = 0,
  WINDOW_COSINE = 1,
  WINDOW_WELCH = 2,
  WINDOW_HAMMING = 3,
  WINDOW_BLACKMAN = 4
};

struct Filter {
  int kind;
  int order;        // B-spline order, 0-5
  int window;       // SincWindow
  int radius;       // the sinc's radius in voxels (ITK's template argument; ANTs and SimpleITK: 3)
  double sigma[3];  // the Gaussian's sigma per axis (x, y, z), in voxels
  double alpha;     // the Gaussian's cut-off, in sigmas
};

// inp (N, C, *spatial) of any dtype (B-spline: its coefficients, float64), out (N, C, P) of
// inp's dtype (or any dtype for a float input), fill (C,) float64. The P points, shared by the
// batch, are either `points` (P, k) float64 C-ordered (x, y[, z]) pixel coordinates, or (when
// `affine`) `points` is a (k, k + 1) float64 C-ordered matrix mapping output pixel
// (x, y[, z], 1) to input pixel, point p being the output pixel of flat index first + p in
// an output of spatial shape `grid` (z, y, x order; 2-D: grid[0] = 1).
struct FilterSample {
  ArrayArg inp, points, out, fill;
  Filter filter;
  int padding;
  bool align_corners;
  bool labels;
  bool smallest_tie;
  bool spline_region;  // inside: 1 <= c < size - 2 (a B-spline transform's valid region)
  bool affine;
  index_t grid[3];
  index_t first;
};

// The taps per axis an output point can need (the size of the per-point buffers).
index_t filter_taps(const Filter& filter, int axis);

// Output points [start, stop) of a FilterSample.
void filter_points(const FilterSample& args, index_t start, index_t stop);

// B-spline coefficients of order `order` (2-5; 0 and 1 are the samples themselves) in place,
// along the middle axis of data viewed as C-ordered (outer, length, inner) float64, for the
// line bundles [start, stop) of filter_bundles(outer, inner): ITK's
// BSplineDecompositionImageFilter (mirror boundaries, its 1e-10 causal horizon).
index_t filter_bundles(index_t outer, index_t inner);
void bspline_prefilter(double* data, index_t outer, index_t length, index_t inner, int order,
                       index_t start, index_t stop);

}  // namespace gswarp
