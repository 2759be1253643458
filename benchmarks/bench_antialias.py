"""Antialiased warps: gswarp against ImageMagick and against its own point sampling.

    python benchmarks/bench_antialias.py [--images 48] [--repeats 3] [--jobs 2] [--skip-3d]

1. A folder of ``--images`` RGB PNGs of 2048² (photo-like, see ``bench_apply.make_images``)
   shrunk to 512² and turned 10°, as users run it, each command a fresh process writing a fresh
   folder:

   - gswarp: ``gswarp apply shrink.yaml IN -o OUT --jobs N`` (bilinear; ``antialias: auto``,
     which is on for images);
   - gswarp point-sampled: the same with ``--no-antialias`` (torch's ``grid_sample``);
   - ImageMagick: ``mogrify -path OUT -define distort:viewport=512x512+0+0 -distort SRT
     '1023.5,1023.5 0.25 -10 255.5,255.5' IN/*.png`` (its default elliptical weighted average,
     Robidoux filter), ``MAGICK_THREAD_LIMIT=N``; skipped when ``mogrify`` is not installed.

   Targets: gswarp <= 0.5x ImageMagick, <= 3x gswarp point-sampled.
2. The engine alone on one of those images (``warp_affine`` of an HWC view, 2048² -> 512²),
   antialiased and point-sampled, medians of 9 calls.
3. A 256³ float32 volume shrunk to 128³ and turned 10° about z (trilinear), antialiased and
   point-sampled, medians of 3 calls.

The three parts run ``--repeats`` rounds, the commands interleaved within each; the script prints
every round and the medians over rounds. Kernels are compiled by a warm-up run first.
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

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_apply import make_images, timed

import gswarp

SPEC = "version: 1\ntransform: {affine: {rotate: 10}}\noutput: {size: [512, 512]}\n"
SRT = "1023.5,1023.5 0.25 -10 255.5,255.5"  # ImageMagick turns clockwise: -10 is gswarp's 10


def shrink_matrix(spatial: tuple[int, ...], factor: float, degrees: float) -> np.ndarray:
    """Sampling matrix (output pixel -> input pixel): shrink by ``factor``, turn by ``degrees``
    in the x-y plane, about both grids' centres."""
    k = len(spatial)
    c, s = np.cos(np.radians(degrees)), np.sin(np.radians(degrees))
    linear = np.eye(k) / factor
    linear[:2, :2] = np.array([[c, s], [-s, c]]) / factor
    centre_in = (np.array(spatial[::-1], dtype=float) - 1) / 2
    centre_out = (np.array(spatial[::-1], dtype=float) * factor - 1) / 2
    return np.concatenate([linear, (centre_in - linear @ centre_out)[:, None]], axis=1)


def median_ms(function, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1000


def folder_part(args, root: Path) -> dict[str, list[float]]:
    gswarp_cli = shutil.which("gswarp")
    mogrify = shutil.which("mogrify")
    source = root / "in"
    source.mkdir()
    make_images(source, args.images, 2048)
    spec = root / "shrink.yaml"
    spec.write_text(SPEC)
    out = root / "out"
    jobs = str(args.jobs)
    commands = {
        "gswarp": [gswarp_cli, "apply", str(spec), str(source), "-o", str(out), "--jobs", jobs],
    }
    commands["gswarp point-sampled"] = [*commands["gswarp"], "--no-antialias"]
    if mogrify:
        images = sorted(str(p) for p in source.glob("*.png"))
        viewport = "distort:viewport=512x512+0+0"
        commands["imagemagick"] = [
            mogrify,
            "-path",
            str(out),
            "-define",
            viewport,
            "-distort",
            "SRT",
            SRT,
            *images,
        ]
    else:
        print("ImageMagick: mogrify not installed (apt-get install imagemagick); skipped")
    env = dict(os.environ, MAGICK_THREAD_LIMIT=jobs)
    for name in ("gswarp", "gswarp point-sampled"):  # warm-up: kernels compiled and cached
        out.mkdir()
        subprocess.run(commands[name], check=True, stdout=subprocess.DEVNULL)
        shutil.rmtree(out)
    runs: dict[str, list[float]] = {}
    for round_ in range(args.repeats):
        for name, command in commands.items():
            out.mkdir()
            runs.setdefault(name, []).append(timed(command, env) / args.images * 1000)
            shutil.rmtree(out)
        print(f"round {round_ + 1}: " + ", ".join(f"{k} {v[-1]:.0f}" for k, v in runs.items()))
    return runs


def engine_part(args, root: Path) -> dict[str, list[float]]:
    with Image.open(next((root / "in").glob("*.png"))) as image:
        pixels = np.asarray(image)
    source = pixels.transpose(2, 0, 1)[None]  # an HWC view, as the command line warps it
    matrix = shrink_matrix((2048, 2048), 0.25, 10)
    size = (1, 3, 512, 512)
    calls = {
        "engine antialiased": lambda: gswarp.warp_affine(source, matrix, size, antialias=True),
        "engine point-sampled": lambda: gswarp.warp_affine(source, matrix, size),
    }
    return _rounds(calls, args.repeats, 9)


def volume_part(args) -> dict[str, list[float]]:
    rng = np.random.default_rng(0)
    volume = rng.random((1, 1, 256, 256, 256), dtype=np.float32)
    matrix = shrink_matrix((256, 256, 256), 0.5, 10)
    size = (1, 1, 128, 128, 128)
    calls = {
        "3-D antialiased": lambda: gswarp.warp_affine(volume, matrix, size, antialias=True),
        "3-D point-sampled": lambda: gswarp.warp_affine(volume, matrix, size),
    }
    return _rounds(calls, args.repeats, 3)


def _rounds(calls, rounds: int, repeats: int) -> dict[str, list[float]]:
    for call in calls.values():
        call()  # warm-up
    runs: dict[str, list[float]] = {}
    for round_ in range(rounds):
        for name, call in calls.items():
            runs.setdefault(name, []).append(median_ms(call, repeats))
        print(f"round {round_ + 1}: " + ", ".join(f"{k} {v[-1]:.1f}" for k, v in runs.items()))
    return runs


def report(runs: dict[str, list[float]], unit: str, pairs) -> None:
    median = {k: statistics.median(v) for k, v in runs.items()}
    for name, values in runs.items():
        print(f"  {name:24s} {median[name]:8.1f} {unit}  ({', '.join(f'{v:.1f}' for v in values)})")
    for a, b, target in pairs:
        if a in runs and b in runs:
            per_round = [x / y for x, y in zip(runs[a], runs[b], strict=True)]
            print(
                f"  {a} / {b}: {median[a] / median[b]:.2f} "
                f"(rounds {' / '.join(f'{r:.2f}' for r in per_round)}; {target})"
            )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=48)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--skip-3d", action="store_true")
    args = parser.parse_args()
    if shutil.which("gswarp") is None:
        print("gswarp is not installed (pip install .)", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory(prefix="gswarp-bench-") as scratch:
        root = Path(scratch)
        print(f"1. {args.images} PNGs, 2048² RGB -> 512², 10°, {args.jobs} jobs (ms per image)")
        folder = folder_part(args, root)
        print("2. engine, one 2048² RGB uint8 image -> 512², 10° (ms)")
        engine = engine_part(args, root)
    print("\nmedians over rounds:")
    report(
        folder,
        "ms/image",
        [
            ("gswarp", "imagemagick", "target <= 0.5"),
            ("gswarp", "gswarp point-sampled", "target <= 3"),
        ],
    )
    report(engine, "ms", [("engine antialiased", "engine point-sampled", "no target")])
    if not args.skip_3d:
        print("3. 256³ float32 -> 128³, 10° about z, trilinear (ms)")
        volume = volume_part(args)
        report(volume, "ms", [("3-D antialiased", "3-D point-sampled", "no target")])
    return 0


if __name__ == "__main__":
    sys.exit(main())
