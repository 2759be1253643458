"""Rotate every image in a folder with gswarp's fused affine sampler and write the results.

    python examples/warp_samples.py sample_images out --degrees 15

A small stand-in for ``gswarp apply`` (which comes with the YAML specs): it shows the library API
on real files -- an HWC image becomes an NCHW *view* (no copy), ``affine_sample`` warps it in one
pass without building a grid, and each output is written to a temporary file and renamed.
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import tempfile
from pathlib import Path

import numpy as np
from PIL import Image

import gswarp


def rotation_theta(height: int, width: int, degrees: float) -> np.ndarray:
    """torch's ``affine_grid`` matrix (1, 2, 3) that rotates the content counter-clockwise on
    screen by ``degrees`` about the image centre (align_corners=False)."""
    a = math.radians(degrees)
    # output pixel -> input pixel, about the centre: p_in - c = R(-a) (p_out - c), y down
    rot = np.array([[math.cos(a), -math.sin(a)], [math.sin(a), math.cos(a)]])
    half = np.diag([width / 2, height / 2])  # normalized -> pixel scale (centre offset cancels)
    theta = np.zeros((1, 2, 3))
    theta[0, :, :2] = np.linalg.inv(half) @ rot @ half
    return theta


def warp_file(source: Path, target: Path, degrees: float) -> None:
    with Image.open(source) as image:
        image.load()
        if image.mode == "P":
            image = image.convert("RGBA" if "transparency" in image.info else "RGB")
        pixels = np.asarray(image)
    hwc = pixels if pixels.ndim == 3 else pixels[..., None]
    nchw = hwc.transpose(2, 0, 1)[None]  # a view: no copy
    out = np.empty_like(hwc)
    theta = rotation_theta(hwc.shape[0], hwc.shape[1], degrees)
    gswarp.affine_sample(nchw, theta, mode="bilinear", out=out.transpose(2, 0, 1)[None])
    result = Image.fromarray(out if pixels.ndim == 3 else out[..., 0])  # mode from dtype/shape
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    os.close(fd)
    try:
        result.save(tmp, format="PNG")
        os.replace(tmp, target)
    except BaseException:
        os.unlink(tmp)
        raise


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("input", type=Path, help="folder of PNG images")
    parser.add_argument("output", type=Path, help="folder for the results")
    parser.add_argument("--degrees", type=float, default=15.0, help="counter-clockwise angle")
    args = parser.parse_args(argv)
    sources = sorted(args.input.glob("*.png"))
    if not sources:
        print(f"{args.input}: no PNG images found", file=sys.stderr)
        return 2
    failed = 0
    for source in sources:
        target = args.output / source.name
        try:
            warp_file(source, target, args.degrees)
        except (OSError, ValueError, gswarp.GswarpError) as error:
            print(f"{source}: {error}", file=sys.stderr)
            failed += 1
            continue
        print(target)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
