"""Issue 30's interpolator target: each of ITK's interpolators in gswarp (the compiled
filters, :mod:`gswarp.engine.filters`) against ``sitk.Resample`` with the interpolator of the
same name, on a float32 volume (default 256^3) under a rotation, both with the same threads,
interleaved, in one process.

    python benchmarks/bench_filters.py [--size 256] [--rounds 3] [--threads 2] [--only NAME ...]

Prints each round's times, the medians, the ratio gswarp / SimpleITK (target <= 0.5) and the
largest difference inside the field of view as a fraction of the range. gswarp's time is the
whole sample (B-spline: the prefilter included). SimpleITK's windowed sincs have radius 5 (its
fixed choice), so gswarp runs radius 5 against them; antsApplyTransforms' radius 3 is timed
too, without a peer. SimpleITK is a benchmark peer, not a gswarp dependency.
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np


def cases(sitk):
    from gswarp.sampling import Filter

    return {
        "BSpline (order 3)": (sitk.sitkBSpline, Filter("bspline", order=3), False),
        "BSpline5": (sitk.sitkBSpline5, Filter("bspline", order=5), False),
        "Gaussian": (sitk.sitkGaussian, Filter("gaussian", sigma=(0.8,), alpha=4.0), False),
        "LabelGaussian": (sitk.sitkLabelGaussian, Filter("gaussian", sigma=(1.0,)), True),
        "LabelLinear (GenericLabel)": (sitk.sitkLabelLinear, Filter("linear"), True),
        "LanczosWindowedSinc": (
            sitk.sitkLanczosWindowedSinc,
            Filter("sinc", window="lanczos", radius=5),
            False,
        ),
        "Lanczos radius 3 (ANTs)": (None, Filter("sinc", window="lanczos", radius=3), False),
    }


def main() -> None:
    import SimpleITK as sitk  # noqa: N813 -- SimpleITK's own name for it

    from gswarp.engine import core
    from gswarp.engine.tiles import MatrixStep, filter_chain

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--only", nargs="*", default=None)
    args = parser.parse_args()
    n = args.size
    core.set_num_threads(args.threads)
    sitk.ProcessObject.SetGlobalDefaultNumberOfThreads(args.threads)
    rng = np.random.default_rng(0)
    z, y, x = np.meshgrid(*(np.linspace(0, 6, n),) * 3, indexing="ij")
    volume = (np.sin(x) * np.cos(y) + np.sin(z) + 0.1 * rng.random((n,) * 3)).astype(np.float32)
    labels = (np.floor(volume * 3) + 10).astype(np.int16)
    angle = 0.3
    linear = np.array(
        [[np.cos(angle), -np.sin(angle), 0], [np.sin(angle), np.cos(angle), 0], [0, 0, 1.0]]
    )
    center = np.full(3, n / 2 - 0.5)
    shift = np.array([1.3, -0.7, 0.4])
    matrix = np.zeros((3, 4))
    matrix[:, :3] = linear
    matrix[:, 3] = shift + center - linear @ center
    transform = sitk.AffineTransform(3)
    transform.SetMatrix(linear.ravel().tolist())
    transform.SetTranslation(shift.tolist())
    transform.SetCenter(center.tolist())
    images = {False: sitk.GetImageFromArray(volume), True: sitk.GetImageFromArray(labels)}
    print(f"{n}^3, {args.threads} threads, SimpleITK {sitk.Version.VersionString()}")
    for name, (interpolator, filter, vote) in cases(sitk).items():
        if args.only and not any(o.lower() in name.lower() for o in args.only):
            continue
        source = labels if vote else volume
        mine, theirs = [], []
        for _ in range(args.rounds):
            if interpolator is not None:
                start = time.perf_counter()
                expected = sitk.Resample(images[vote], images[vote], transform, interpolator, 0.0)
                theirs.append(time.perf_counter() - start)
            start = time.perf_counter()
            got = filter_chain(
                source[None, None], [MatrixStep(matrix)], (1, 1, n, n, n), filter, labels=vote
            )[0, 0]
            mine.append(time.perf_counter() - start)
        line = f"{name}: gswarp {' '.join(f'{t:.2f}' for t in mine)} s"
        if theirs:
            reference = sitk.GetArrayFromImage(expected)
            inside = (got != 0) & (reference != 0)
            if vote:
                error = f"{np.count_nonzero((got != reference) & inside)} labels differ"
            else:
                scale = float(volume.max() - volume.min())
                error = f"max error {np.abs(got - reference)[inside].max() / scale:.1e} of range"
            ratio = statistics.median(mine) / statistics.median(theirs)
            line += (
                f"; SimpleITK {' '.join(f'{t:.2f}' for t in theirs)} s; medians "
                f"{statistics.median(mine):.2f} / {statistics.median(theirs):.2f} s = "
                f"{ratio:.2f}; {error}"
            )
        print(line, flush=True)


if __name__ == "__main__":
    main()
