"""``gswarp apply`` on a folder of PNGs against the Pillow I/O floor and ImageMagick.

    python benchmarks/bench_apply.py [--images 200] [--size 512] [--repeats 5] [--jobs 2]

Makes ``--images`` RGB PNGs (``--size`` squared, photo-like: smooth shading, edges and sensor
noise), then times, each as a fresh process writing a fresh folder:

- floor: a Python script that only decodes and re-encodes every image with Pillow on ``--jobs``
  threads (Pillow releases the GIL; the same encoder settings gswarp uses for PNG);
- gswarp: ``gswarp apply rotate15.yaml IN -o OUT --jobs N`` (bilinear, 15 degrees);
- ImageMagick: ``mogrify -path OUT -distort SRT 15 IN/*.png`` when ``mogrify`` is installed
  (``apt-get install imagemagick``), with ``MAGICK_THREAD_LIMIT=N``.

Prints the median wall time of each and the ratios gswarp / floor (target <= 1.3) and
gswarp / ImageMagick (target < 1). Kernels are compiled by a warm-up run first (the cold compile
is a one-off per installation, see RESULTS.md).
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

source, target, jobs = Path(sys.argv[1]), Path(sys.argv[2]), int(sys.argv[3])
target.mkdir(parents=True, exist_ok=True)

def copy(path):
    with Image.open(path) as image:
        pixels = np.asarray(image)
    Image.fromarray(pixels).save(target / path.name, format="PNG")

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
    with tempfile.TemporaryDirectory(prefix="gswarp-bench-") as scratch:
        root = Path(scratch)
        source = root / "in"
        source.mkdir()
        make_images(source, args.images, args.size)
        spec = root / "rotate15.yaml"
        spec.write_text("version: 1\ntransform: {affine: {rotate: 15}}\n")
        floor_script = root / "floor.py"
        floor_script.write_text(FLOOR_SCRIPT)
        env = dict(os.environ, MAGICK_THREAD_LIMIT=str(args.jobs))
        images = sorted(str(p) for p in source.glob("*.png"))

        def out(name: str, repeat: int) -> Path:
            return root / f"{name}-{repeat}"

        runs: dict[str, list[float]] = {"floor": [], "gswarp": [], "imagemagick": []}
        subprocess.run([gswarp, "apply", str(spec), images[0], "-o", str(root / "warm")],
                       check=True, stdout=subprocess.DEVNULL)
        for repeat in range(args.repeats):
            runs["floor"].append(timed(
                [sys.executable, str(floor_script), str(source), str(out("floor", repeat)),
                 str(args.jobs)]
            ))
            runs["gswarp"].append(timed(
                [gswarp, "apply", str(spec), str(source), "-o", str(out("gswarp", repeat)),
                 "--jobs", str(args.jobs)]
            ))
            if mogrify:
                target = out("magick", repeat)
                target.mkdir()
                runs["imagemagick"].append(timed(
                    [mogrify, "-path", str(target), "-distort", "SRT", "15", *images], env=env
                ))
            for name in ("floor", "gswarp", "magick"):
                shutil.rmtree(out(name, repeat), ignore_errors=True)
    median = {k: statistics.median(v) for k, v in runs.items() if v}
    print(f"{args.images} PNGs of {args.size}x{args.size} RGB, {args.jobs} jobs, "
          f"median of {args.repeats} (all runs, s):")
    for name, values in runs.items():
        if values:
            print(f"  {name:12s} {median[name]:7.2f}   ({', '.join(f'{v:.2f}' for v in values)})")
    print(f"gswarp / Pillow decode+encode floor: {median['gswarp'] / median['floor']:.2f} "
          "(target <= 1.3)")
    if "imagemagick" in median:
        print(f"gswarp / ImageMagick mogrify -distort SRT 15: "
              f"{median['gswarp'] / median['imagemagick']:.2f} (target < 1)")
    else:
        print("ImageMagick: mogrify not installed (apt-get install imagemagick); skipped")
    return 0


if __name__ == "__main__":
    sys.exit(main())
