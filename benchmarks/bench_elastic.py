"""Elastic deformation of a 2048x2048 RGB uint8 image: gswarp against albumentations.

Both draw a new random field per call and warp the image with it (bilinear, HWC in, HWC out):

- albumentations: ``ElasticTransform(alpha, sigma, noise_distribution="uniform", p=1)`` (uniform
  noise at full resolution, Gaussian blur, ``cv2.remap``);
- gswarp: the spec ``elastic: {alpha, sigma, grid}`` drawn for a new seed each call, resolved
  (the field built on its lattice) and warped (:func:`gswarp.run.warp.warp_pixels`, the fused
  flow kernel), point-sampled (``sampling: {antialias: false}``) as albumentations samples;
- gswarp antialiased: the same spec with the default ``antialias: auto`` (on for images): where
  the field shrinks the image locally, each output pixel averages its footprint (reported, no
  target: albumentations does not antialias).

The two fields have the same per-pixel statistics (see :mod:`gswarp.spec.elastic`); the script
prints their measured displacement standard deviations too. albumentations is not a gswarp
dependency; install it for the benchmark only, e.g. in a throw-away environment::

    python -m venv --system-site-packages /tmp/albu && /tmp/albu/bin/pip install albumentations
    /tmp/albu/bin/python benchmarks/bench_elastic.py

Prints medians (ms) and the ratio gswarp (point-sampled) / albumentations (target: <= 0.5).
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np

from gswarp.plan import resolve
from gswarp.run.warp import warp_pixels
from gswarp.spec import parse_spec
from gswarp.spec.augment import draw


def _median_ms(function, repeats: int) -> float:
    function()  # warm-up: compile or load kernels
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--size", type=int, default=2048)
    parser.add_argument("--alpha", type=float, default=30.0)
    parser.add_argument("--sigma", type=float, default=4.0)
    parser.add_argument("--grid", type=int, default=8)
    parser.add_argument("--repeats", type=int, default=9)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()

    image = np.random.default_rng(0).integers(0, 256, (args.size, args.size, 3), dtype=np.uint8)
    text = (
        f"version: 1\ntransform: {{elastic: {{alpha: {args.alpha}, sigma: {args.sigma}, "
        f"grid: {args.grid}}}}}\n"
    )
    spec = parse_spec(text + "sampling: {antialias: false}\n")
    smooth_spec = parse_spec(text)  # antialias: auto, on for images
    calls = iter(range(1 << 30))

    def gswarp_elastic() -> np.ndarray:
        drawn = draw(spec, seed=next(calls), key="bench.png").spec
        return warp_pixels(image, resolve(drawn, image.shape[:2]))

    def gswarp_antialiased() -> np.ndarray:
        drawn = draw(smooth_spec, seed=next(calls), key="bench.png").spec
        return warp_pixels(image, resolve(drawn, image.shape[:2]))

    plan = resolve(draw(spec, seed=0, key="bench.png").spec, image.shape[:2])
    lattice = plan.steps[0].field
    print(
        f"{args.size}x{args.size} RGB uint8, alpha {args.alpha:g}, sigma {args.sigma:g}; "
        f"gswarp lattice {args.grid} px {lattice.shape[:2]}, displacement std "
        f"{lattice.std():.3f} px"
    )
    peer = None
    try:
        import albumentations

        transform = albumentations.ElasticTransform(
            alpha=args.alpha, sigma=args.sigma, noise_distribution="uniform", p=1.0
        )

        def peer() -> np.ndarray:
            return transform(image=image)["image"]

        fields = albumentations.augmentations.geometric.functional.generate_displacement_fields(
            image.shape[:2],
            args.alpha,
            args.sigma,
            same_dxdy=False,
            kernel_size=(0, 0),
            random_generator=np.random.default_rng(0),
            noise_distribution="uniform",
        )
        print(
            f"albumentations {albumentations.__version__}: displacement std "
            f"{np.std(fields[0]):.3f} px"
        )
    except ImportError:
        print("albumentations is not installed: gswarp timings only (see the docstring)")
    for round_ in range(args.rounds):
        ours = _median_ms(gswarp_elastic, args.repeats)
        line = f"round {round_ + 1}: gswarp {ours:.1f} ms"
        if peer is not None:
            theirs = _median_ms(peer, args.repeats)
            line += f", albumentations {theirs:.1f} ms, ratio {ours / theirs:.2f}"
        smooth = _median_ms(gswarp_antialiased, args.repeats)
        line += f"; gswarp antialiased {smooth:.1f} ms ({smooth / ours:.1f}x point-sampled)"
        print(line)


if __name__ == "__main__":
    main()
