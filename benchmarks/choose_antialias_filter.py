"""How the antialiasing filter was chosen: candidate filters on zone plates, against ImageMagick.

    pip install numba && python benchmarks/choose_antialias_filter.py

(numba is not a gswarp dependency since issue 28; this design study keeps its candidates in
numba, as they were when the filter was chosen.)

A 1024² zone plate (``tests/oracles.zone_plate``) turned 10° and shrunk by 0.5, 0.25 and 0.125,
filtered by each candidate written here in plain numba (a brute-force sum over the footprint's
bounding box, axis-aligned frame: the footprints of a rotation with a uniform scale are circles),
border padding. For each: the standard deviation in the aliased band (ideally 0) and the contrast
kept below 40 % of the output's Nyquist limit relative to point sampling
(``tests/oracles.zone_figures``). ImageMagick's ``-distort SRT`` (default EWA, Robidoux filter)
is measured live when ``convert`` is installed.

Candidates: the tent (bilinear's kernel) and Keys' cubic (a = -0.75, bicubic's), stretched by
``S + w (S - 1)`` for widenings ``w`` in 0, 1/4, 1/3, 1/2; the Mitchell-Netravali "Robidoux"
cubic (ImageMagick's EWA filter) stretched by ``S``, as a product and as a radial filter; a
Gaussian of sigma 0.5 output pixel.
"""

from __future__ import annotations

import math
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
from numba import njit, prange
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from tests.oracles import zone_figures, zone_matrix, zone_plate

TENT, KEYS, ROBIDOUX, GAUSSIAN = 0, 1, 2, 3
B, C = 0.37821575509399867, 0.31089212245300067


@njit
def kernel(t, kind):
    a = abs(t)
    if kind == TENT:
        return max(0.0, 1.0 - a)
    if kind == KEYS:
        if a < 1:
            return (1.25 * a - 2.25) * a * a + 1
        if a < 2:
            return ((-0.75 * a + 3.75) * a - 6) * a + 3
        return 0.0
    if kind == ROBIDOUX:
        if a < 1:
            return ((12 - 9 * B - 6 * C) * a**3 + (-18 + 12 * B + 6 * C) * a * a + (6 - 2 * B)) / 6
        if a < 2:
            return (
                (-B - 6 * C) * a**3
                + (6 * B + 30 * C) * a * a
                + (-12 * B - 48 * C) * a
                + (8 * B + 24 * C)
            ) / 6
        return 0.0
    return math.exp(-2.0 * a * a) if a < 2 else 0.0  # sigma 0.5 in filter units


@njit(parallel=True)
def filtered(image, matrix, kind, support, stretch, radial):
    n = image.shape[0]
    out = np.empty_like(image)
    for i in prange(n):
        for j in range(n):
            cx = matrix[0, 0] * j + matrix[0, 1] * i + matrix[0, 2]
            cy = matrix[1, 0] * j + matrix[1, 1] * i + matrix[1, 2]
            reach = support * stretch
            total = 0.0
            weights = 0.0
            for qy in range(math.ceil(cy - reach), math.floor(cy + reach) + 1):
                dy = (qy - cy) / stretch
                for qx in range(math.ceil(cx - reach), math.floor(cx + reach) + 1):
                    dx = (qx - cx) / stretch
                    if radial:
                        w = kernel(math.sqrt(dx * dx + dy * dy), kind)
                    else:
                        w = kernel(dx, kind) * kernel(dy, kind)
                    total += w * image[min(max(qy, 0), n - 1), min(max(qx, 0), n - 1)]
                    weights += w
            out[i, j] = total / weights
    return out


def imagemagick(plate: np.ndarray, scale: float) -> np.ndarray | None:
    convert = shutil.which("convert")
    if convert is None:
        return None
    with tempfile.TemporaryDirectory() as folder:
        source, target = Path(folder) / "in.png", Path(folder) / "out.png"
        Image.fromarray(plate).save(source)
        command = [convert, str(source), "-distort", "SRT", f"{scale} -10", str(target)]
        if subprocess.run(command, capture_output=True).returncode != 0:
            return None
        return np.asarray(Image.open(target).convert("L")).astype(np.float64)


def main() -> None:
    n = 1024
    plate8 = np.rint(zone_plate(n)).astype(np.uint8)
    plate = plate8.astype(np.float64)
    for scale in (0.5, 0.25, 0.125):
        matrix = zone_matrix(n, scale, 10)
        s = 1 / scale
        point = filtered(plate, matrix, TENT, 1.0, 1.0, False)  # a tent of width 1: bilinear
        aliased_point, pass_point = zone_figures(np.rint(point), n, scale)
        print(f"scale {scale}: point-sampled aliased {aliased_point:.2f}")
        reference = imagemagick(plate8, scale)
        if reference is not None:
            aliased, passband = zone_figures(reference, n, scale)
            ratio = passband / pass_point
            print(f"  {'ImageMagick':26s}  aliased {aliased:5.2f}  passband {ratio:.3f}")
        candidates = []
        for name, kind, support in (("tent", TENT, 1.0), ("Keys cubic", KEYS, 2.0)):
            for widen in (0.0, 0.25, 1 / 3, 0.5):
                candidates.append(
                    (f"{name}, widen {widen:.2f}", kind, support, s + widen * (s - 1), False)
                )
        candidates += [
            ("Robidoux product", ROBIDOUX, 2.0, s, False),
            ("Robidoux radial", ROBIDOUX, 2.0, s, True),
            ("Gaussian 0.5", GAUSSIAN, 2.0, s, True),
        ]
        for label, kind, support, stretch, radial in candidates:
            out = np.rint(filtered(plate, matrix, kind, support, stretch, radial))
            aliased, passband = zone_figures(np.clip(out, 0, 255), n, scale)
            print(f"  {label:26s}  aliased {aliased:5.2f}  passband {passband / pass_point:.3f}")


if __name__ == "__main__":
    main()
