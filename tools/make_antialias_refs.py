"""Regenerate the antialiasing tests' ImageMagick references and the README's pictures.

    python tools/make_antialias_refs.py    # needs ImageMagick (apt install imagemagick)

* ``tests/data/zone_plate_imagemagick_{n}_{scale}.png``: ImageMagick's ``-distort SRT`` (its
  default elliptical weighted average, Robidoux filter) of the zone plates
  ``tests/test_antialias.py`` measures, cropped to the measured bands (``REFERENCE_SIDE``), so the
  test compares with ImageMagick where it is not installed (CI).
* ``docs/antialias/*.png``: a 1024² zone plate shrunk to a quarter and turned 10°, point-sampled
  (torch's ``grid_sample``), antialiased by gswarp, and by ImageMagick, cropped to the shrunk plate.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import gswarp  # noqa: E402
from tests.oracles import zone_crop, zone_matrix, zone_plate  # noqa: E402

CASES = ((1024, 0.25), (512, 0.5))  # (side, scale) of the tests' 2-D cases
REFERENCE_SIDE = 256  # the central crop that holds both bands of both cases
DEGREES = 10


def imagemagick(plate: np.ndarray, scale: float, *options: str) -> np.ndarray:
    with tempfile.TemporaryDirectory() as folder:
        source, target = Path(folder) / "in.png", Path(folder) / "out.png"
        Image.fromarray(plate).save(source)
        srt = f"{scale} {-DEGREES}"  # ImageMagick turns clockwise on screen, gswarp the other way
        command = ["convert", str(source), *options, "-distort", "SRT", srt, str(target)]
        subprocess.run(command, check=True)
        return np.asarray(Image.open(target).convert("L"))


def gswarp_warp(plate: np.ndarray, scale: float, antialias: bool) -> np.ndarray:
    n = plate.shape[0]
    matrix = zone_matrix(n, scale, DEGREES)
    out = gswarp.warp_affine(
        plate[None, None], matrix, None, "bilinear", "zeros", fill=128, antialias=antialias
    )
    return out[0, 0]


def main() -> None:
    data = ROOT / "tests" / "data"
    for n, scale in CASES:
        plate = np.rint(zone_plate(n)).astype(np.uint8)
        reference = zone_crop(imagemagick(plate, scale), REFERENCE_SIDE)
        Image.fromarray(reference).save(data / f"zone_plate_imagemagick_{n}_{scale}.png")
    n, scale = CASES[0]
    plate = np.rint(zone_plate(n)).astype(np.uint8)
    half = int(n * scale / 2) + 8  # the shrunk plate and a margin
    crop = slice(n // 2 - half, n // 2 + half)
    pictures = {
        "zone_plate_input.png": zone_crop(plate, 2 * half),  # the centre, at full resolution
        "zone_plate_point.png": gswarp_warp(plate, scale, False)[crop, crop],
        "zone_plate_antialias.png": gswarp_warp(plate, scale, True)[crop, crop],
        "zone_plate_imagemagick.png": imagemagick(plate, scale, "-virtual-pixel", "gray")[
            crop, crop
        ],
    }
    folder = ROOT / "docs" / "antialias"
    folder.mkdir(parents=True, exist_ok=True)
    for name, picture in pictures.items():
        Image.fromarray(picture).save(folder / name, optimize=True)


if __name__ == "__main__":
    main()
