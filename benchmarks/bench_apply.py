"""``gswarp apply`` on a folder of PNGs against the Pillow I/O floor and ImageMagick.

    python benchmarks/bench_apply.py [--images 200] [--size 512] [--repeats 5] [--jobs 2]

Makes ``--images`` RGB PNGs (``--size`` squared, photo-like: smooth shading, edges and sensor
noise), then times, each as a fresh process writing a fresh folder:

- floor: a Python script that only decodes and re-encodes every image with Pillow on ``--jobs``
  threads (Pillow releases the GIL), with the same PNG zlib level as the gswarp run it is
  compared with;
- floor on the output: the same script run on gswarp's *output* folder. zlib's time depends on
  the content: a bilinear warp smooths the noise, and at level 6 zlib then takes ~1.8x longer
  per image (same pixel count). This floor encodes the pixels gswarp must encode;
- gswarp: ``gswarp apply rotate15.yaml IN -o OUT --jobs N`` (bilinear, 15 degrees), at the
  default PNG level (6, Pillow's) and at ``--compress-level 1``;
- ImageMagick: ``mogrify -path OUT -distort SRT 15 IN/*.png`` when ``mogrify`` is installed
  (``apt-get install imagemagick``), with ``MAGICK_THREAD_LIMIT=N``.

Prints the median wall time of each and the ratios (targets: gswarp / floor <= 1.3,
gswarp / ImageMagick < 1). Kernels are compiled by a warm-up run first (the cold compile is a
one-off per installation, see RESULTS.md).
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

FLOOR_SCRIPT = """
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from PIL import Image
import numpy as np

source, target = Path(sys.argv[1]), Path(sys.argv[2])
jobs, level = int(sys.argv[3]), int(sys.argv[4])
target.mkdir(parents=True, exist_ok=True)

def copy(path):
    with Image.open(path) as image:
        pixels = np.asarray(image)
    Image.fromarray(pixels).save(target / path.name, format="PNG", compress_level=level)

with ThreadPoolExecutor(jobs) as pool:
    list(pool.map(copy, sorted(source.glob("*.png"))))
"""


def make_images(folder: Path, count: int, size: int) -> None:
    rng = np.random.default_rng(0)
    y, x = np.mgrid[0:size, 0:size] / size
    for index in range(count):
        phase = rng.random(3) * 6
        shade = np.stack(
            [
                128 + 90 * np.sin(3 * x + phase[0]) * np.cos(2 * y),
                128 + 90 * np.cos(4 * y + phase[1]),
                128 + 60 * np.sin(5 * (x + y) + phase[2]),
            ],
            axis=-1,
        )
        shade[(x - 0.5) ** 2 + (y - 0.5) ** 2 < 0.05] *= 0.5  # an object with hard edges
        noisy = shade + rng.normal(0, 4, shade.shape)
        Image.fromarray(np.clip(noisy, 0, 255).astype(np.uint8)).save(folder / f"{index:04d}.png")


def timed(command: list[str], env: dict[str, str] | None = None) -> float:
    start = time.perf_counter()
    subprocess.run(command, check=True, env=env, stdout=subprocess.DEVNULL)
    return time.perf_counter() - start


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=200)
    parser.add_argument("--size", type=int, default=512)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--jobs", type=int, default=2)
    args = parser.parse_args()
    gswarp = shutil.which("gswarp")
    if gswarp is None:
        print("gswarp is not installed (pip install .)", file=sys.stderr)
        return 2
    mogrify = shutil.which("mogrify")
    jobs = str(args.jobs)
    runs: dict[str, list[float]] = {}
    with tempfile.TemporaryDirectory(prefix="gswarp-bench-") as scratch:
        root = Path(scratch)
        source = root / "in"
        source.mkdir()
        make_images(source, args.images, args.size)
        spec = root / "rotate15.yaml"
        spec.write_text("version: 1\ntransform: {affine: {rotate: 15}}\n")
        floor = root / "floor.py"
        floor.write_text(FLOOR_SCRIPT)
        images = sorted(str(p) for p in source.glob("*.png"))
        warped = root / "warped"  # gswarp's output at level 6: the "floor on the output" input
        subprocess.run(
            [gswarp, "apply", str(spec), str(source), "-o", str(warped)],
            check=True,
            stdout=subprocess.DEVNULL,
        )
        out = root / "out"

        def floor_run(folder: Path, level: int) -> list[str]:
            return [sys.executable, str(floor), str(folder), str(out), jobs, str(level)]

        def gswarp_run(*extra: str) -> list[str]:
            return [gswarp, "apply", str(spec), str(source), "-o", str(out), "--jobs", jobs, *extra]

        commands = {
            "floor (level 6)": floor_run(source, 6),
            "floor on output (level 6)": floor_run(warped, 6),
            "gswarp (level 6)": gswarp_run(),
            "floor (level 1)": floor_run(source, 1),
            "gswarp (level 1)": gswarp_run("--compress-level", "1"),
        }
        if mogrify:
            commands["imagemagick"] = [mogrify, "-path", str(out), "-distort", "SRT", "15", *images]
        env = dict(os.environ, MAGICK_THREAD_LIMIT=jobs)
        for _ in range(args.repeats):
            for name, command in commands.items():
                out.mkdir()
                runs.setdefault(name, []).append(timed(command, env))
                shutil.rmtree(out)
    median = {k: statistics.median(v) for k, v in runs.items()}
    print(
        f"{args.images} PNGs of {args.size}x{args.size} RGB, {args.jobs} jobs, "
        f"median of {args.repeats} runs (s):"
    )
    for name, values in runs.items():
        print(f"  {name:26s} {median[name]:6.2f}   ({', '.join(f'{v:.2f}' for v in values)})")
    for a, b, target in [
        ("gswarp (level 6)", "floor (level 6)", "target <= 1.3"),
        ("gswarp (level 6)", "floor on output (level 6)", "same pixels encoded"),
        ("gswarp (level 1)", "floor (level 1)", "target <= 1.3"),
        ("gswarp (level 6)", "imagemagick", "target < 1"),
        ("gswarp (level 1)", "imagemagick", "target < 1"),
    ]:
        if a in median and b in median:
            print(f"{a} / {b}: {median[a] / median[b]:.2f} ({target})")
    if not mogrify:
        print("ImageMagick: mogrify not installed (apt-get install imagemagick); skipped")
    return 0


if __name__ == "__main__":
    sys.exit(main())
