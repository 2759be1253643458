"""``gswarp register`` (issue 17) against SimpleITK's ``ImageRegistrationMethod``, same pairs,
same setup, same threads, in one process.

    pip install SimpleITK scikit-image nibabel      # peers and data: benchmark/test only
    python benchmarks/bench_register.py [--runs 3] [--threads 2] [--only NAME,...]

Pairs with a known transform (the error is measured against it: the largest and the mean
distance, in pixels or mm, between where the found and the true map send the fixed grid's
points):

- ``camera-similarity-{mse,ncc,mi}``: scikit-image's camera (512 x 512 crop of a 640-pixel
  canvas made by reflection) turned 7 degrees, scaled 1.06 and shifted (5.3, -3.7) pixels;
  model similarity; and ``camera-affine-ncc``, the same pair with the affine model;
- ``anatomical-rigid-{ncc,mi}``: nibabel's ``anatomical.nii`` upsampled 3x (99 x 123 x 75 voxels of
  0.67 mm), turned (4, -3, 6) degrees and shifted (2.3, -1.7, 1.1) mm on a grid placed
  elsewhere in the world; model rigid (world millimetres).

The same setup on both sides: the model about the fixed image's centre started from the
centres lined up (``CenteredTransformInitializer(..., GEOMETRY)`` / ``--init geometry``), linear
interpolation, every fixed pixel sampled (``SetMetricSamplingStrategy(NONE)``; gswarp always
uses every pixel), the pyramid's shrink factors (gswarp's defaults: 8,4,2,1 in 2-D, 4,2,1 here
in 3-D) with SimpleITK smoothing each level by a Gaussian of sigma = factor / 2 voxels (gswarp
averages each coarse voxel's footprint), at most 100 iterations per level; SimpleITK's
optimizer is ``RegularStepGradientDescent`` (learning rate 1, minimum step 1e-4, relaxation
0.5, scales from physical shift), the one its examples use for these metrics. Metric names:
``MeanSquares`` / ``Correlation`` / ``MattesMutualInformation(32 bins)``; by default with
SimpleITK's image gradient filter (its metrics' gradients from a Gaussian-smoothed copy of the
images), ``--no-sitk-gradient-filter`` without it (gswarp differentiates its interpolation).

Timing: the registration call only (arrays in memory, no file I/O), medians of ``--runs``
interleaved runs after one warm-up run each. Target (issue 17): equal
or better final error at <= 0.5x SimpleITK's time.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

import numpy as np


def camera_pair():
    """(fixed, moving, true pull matrix 3x3, spacing): 2-D, pixel units."""
    from skimage import data

    from gswarp import warp_affine
    from gswarp.registration.models import rotation

    camera = np.pad(data.camera().astype(np.float32), 64, mode="reflect")  # 640 x 640
    size, margin = 512, 64
    c = (size - 1) / 2
    linear = 1.06 * rotation(np.deg2rad([7.0]))
    to_camera = np.eye(3)
    to_camera[:2, :2] = linear
    to_camera[:2, 2] = c - linear @ [c, c] + np.array([5.3, -3.7]) + margin
    moving = warp_affine(camera[None, None], to_camera[:2], (1, 1, size, size))[0, 0]
    fixed = camera[margin : margin + size, margin : margin + size].copy()
    fixed_to_camera = np.eye(3)
    fixed_to_camera[:2, 2] = margin
    return fixed, np.eye(3), moving, np.eye(3), np.linalg.inv(to_camera) @ fixed_to_camera


def anatomical_pair():
    """(fixed, fixed affine, moving, moving affine, true pull 4x4): 3-D, RAS mm."""
    import nibabel
    from nibabel.testing import data_path

    from gswarp import warp_affine
    from gswarp.registration.models import rotation
    from gswarp.transforms import resize_matrix

    image = nibabel.load(os.path.join(data_path, "anatomical.nii"))
    small = np.swapaxes(np.asarray(image.dataobj, dtype=np.float32), 0, 2)  # (z, y, x)
    shape = tuple(3 * n for n in small.shape)
    up = resize_matrix(small.shape, shape, False)
    fixed = warp_affine(small[None, None], up, (1, 1, *shape), "bicubic", "border")[0, 0]
    fixed_affine = image.affine @ np.vstack([up, [0, 0, 0, 1]])
    truth = np.eye(4)
    truth[:3, :3] = rotation(np.deg2rad([4.0, -3.0, 6.0]))
    centre = fixed_affine[:3, :3] @ ((np.array(shape[::-1]) - 1) / 2) + fixed_affine[:3, 3]
    truth[:3, 3] = centre - truth[:3, :3] @ centre + [2.3, -1.7, 1.1]
    moving_affine = fixed_affine.copy()
    moving_affine[:3, 3] += [3.0, -2.0, 1.5]
    sampling = np.linalg.inv(fixed_affine) @ np.linalg.inv(truth) @ moving_affine
    moving = warp_affine(fixed[None, None], sampling[:3], padding_mode="border")[0, 0]
    return fixed, fixed_affine, moving, moving_affine, truth


def map_error(found: np.ndarray, truth: np.ndarray, shape, to_physical) -> tuple[float, float]:
    """(max, mean) distance between where two pull matrices send the fixed grid's points."""
    k = len(shape)
    index = np.indices(shape, dtype=np.float64)[::-1].reshape(k, -1)
    points = to_physical @ np.vstack([index, np.ones(index.shape[1])])
    distance = np.linalg.norm((found - truth)[:k] @ points, axis=0)
    return float(distance.max()), float(distance.mean())


def run_gswarp(fixed, fixed_affine, moving, moving_affine, model, metric, shrinks):
    from gswarp.registration import Image, register

    result = register(
        Image(fixed, fixed_affine), Image(moving, moving_affine), model, metric, shrinks=shrinks
    )
    return result.matrix


def _sitk_image(sitk, array: np.ndarray, affine: np.ndarray):
    """A SimpleITK image of (z, y, x) / (y, x) voxels placed by a RAS affine (LPS for ITK)."""
    image = sitk.GetImageFromArray(array.astype(np.float32))
    k = array.ndim
    if k == 2:
        return image  # pixel units: origin 0, spacing 1, identity direction
    flip = np.diag([-1.0, -1.0, 1.0])
    linear = flip @ affine[:3, :3]
    spacing = np.linalg.norm(linear, axis=0)
    image.SetSpacing(spacing.tolist())
    image.SetDirection((linear / spacing).ravel().tolist())
    image.SetOrigin((flip @ affine[:3, 3]).tolist())
    return image


# SimpleITK's metrics take the moving (and fixed) image's gradient from a Gaussian-smoothed copy
# (GradientRecursiveGaussianImageFilter, sigma = the largest spacing) unless told not to;
# --no-sitk-gradient-filter sets it off, as gswarp differentiates its interpolation exactly.
SITK_GRADIENT_FILTER = [True]


def run_sitk(fixed, fixed_affine, moving, moving_affine, model, metric, shrinks):
    import SimpleITK as sitk  # noqa: N813

    k = fixed.ndim
    f = _sitk_image(sitk, fixed, fixed_affine)
    m = _sitk_image(sitk, moving, moving_affine)
    kind = {
        (2, "similarity"): sitk.Similarity2DTransform(),
        (2, "affine"): sitk.AffineTransform(2),
        (3, "rigid"): sitk.Euler3DTransform(),
    }[k, model]
    initial = sitk.CenteredTransformInitializer(
        f, m, kind, sitk.CenteredTransformInitializerFilter.GEOMETRY
    )
    method = sitk.ImageRegistrationMethod()
    {
        "mse": method.SetMetricAsMeanSquares,
        "ncc": method.SetMetricAsCorrelation,
        "mi": lambda: method.SetMetricAsMattesMutualInformation(32),
    }[metric]()
    method.SetMetricSamplingStrategy(method.NONE)
    method.SetMetricUseFixedImageGradientFilter(SITK_GRADIENT_FILTER[0])
    method.SetMetricUseMovingImageGradientFilter(SITK_GRADIENT_FILTER[0])
    method.SetInterpolator(sitk.sitkLinear)
    method.SetOptimizerAsRegularStepGradientDescent(
        learningRate=1.0, minStep=1e-4, numberOfIterations=100, relaxationFactor=0.5
    )
    method.SetOptimizerScalesFromPhysicalShift()
    method.SetShrinkFactorsPerLevel(list(shrinks))
    method.SetSmoothingSigmasPerLevel([s / 2 if s > 1 else 0 for s in shrinks])
    method.SmoothingSigmasAreSpecifiedInPhysicalUnitsOff()
    method.SetInitialTransform(initial, inPlace=False)
    transform = method.Execute(f, m)
    return _pull_matrix(sitk, transform, k)


def _pull_matrix(sitk, transform, k: int) -> np.ndarray:
    """The fitted (linear) transform as a (k+1)x(k+1) matrix, read off by mapping the origin
    and the unit vectors; RAS in 3-D (ITK works in LPS)."""
    offset = np.array(transform.TransformPoint((0.0,) * k))
    pull = np.eye(k + 1)
    pull[:k, k] = offset
    for axis in range(k):
        unit = [0.0] * k
        unit[axis] = 1.0
        pull[:k, axis] = np.array(transform.TransformPoint(tuple(unit))) - offset
    if k == 3:
        flip = np.diag([-1.0, -1.0, 1.0, 1.0])
        pull = flip @ pull @ flip
    return pull


CASES = {
    "camera-similarity-mse": (camera_pair, "similarity", "mse", (8, 4, 2, 1)),
    "camera-similarity-ncc": (camera_pair, "similarity", "ncc", (8, 4, 2, 1)),
    "camera-similarity-mi": (camera_pair, "similarity", "mi", (8, 4, 2, 1)),
    "camera-affine-ncc": (camera_pair, "affine", "ncc", (8, 4, 2, 1)),
    "anatomical-rigid-ncc": (anatomical_pair, "rigid", "ncc", (4, 2, 1)),
    "anatomical-rigid-mi": (anatomical_pair, "rigid", "mi", (4, 2, 1)),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--only", default=",".join(CASES))
    parser.add_argument(
        "--no-sitk-gradient-filter",
        action="store_true",
        help="SimpleITK's metrics differentiate the interpolated image, not a smoothed copy",
    )
    args = parser.parse_args()
    SITK_GRADIENT_FILTER[0] = not args.no_sitk_gradient_filter
    import SimpleITK as sitk  # noqa: N813

    import gswarp as _gswarp_threads

    _gswarp_threads.set_num_threads(args.threads)
    sitk.ProcessObject.SetGlobalDefaultNumberOfThreads(args.threads)
    print(
        f"threads {args.threads}; SimpleITK {sitk.Version.VersionString()}; runs {args.runs}; "
        f"SimpleITK gradient filter {'on' if SITK_GRADIENT_FILTER[0] else 'off'}"
    )
    for name in args.only.split(","):
        make, model, metric, shrinks = CASES[name]
        fixed, fixed_affine, moving, moving_affine, truth = make()
        arguments = (fixed, fixed_affine, moving, moving_affine, model, metric, shrinks)
        times: dict[str, list[float]] = {"gswarp": [], "sitk": []}
        found = {}
        for run in range(args.runs + 1):  # the first run warms up, untimed
            for label, function in (("gswarp", run_gswarp), ("sitk", run_sitk)):
                start = time.perf_counter()
                found[label] = function(*arguments)
                if run:
                    times[label].append(time.perf_counter() - start)
        errors = {
            label: map_error(matrix, truth, fixed.shape, fixed_affine)
            for label, matrix in found.items()
        }
        g, s = (statistics.median(times[label]) for label in ("gswarp", "sitk"))
        print(
            f"{name}: gswarp {g:.3f} s (error max {errors['gswarp'][0]:.4f}, mean "
            f"{errors['gswarp'][1]:.4f}); SimpleITK {s:.3f} s (error max {errors['sitk'][0]:.4f}, "
            f"mean {errors['sitk'][1]:.4f}); time ratio {g / s:.2f} (target <= 0.5); runs "
            f"gswarp {', '.join(f'{t:.3f}' for t in times['gswarp'])} / SimpleITK "
            f"{', '.join(f'{t:.3f}' for t in times['sitk'])}"
        )


if __name__ == "__main__":
    main()
