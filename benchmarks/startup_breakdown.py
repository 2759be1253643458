"""Where a one-image ``gswarp apply`` spends its start-up: the same steps as the command, timed
in one fresh process (run from the repository root).

    python benchmarks/startup_breakdown.py

The interpreter's own start-up (``python -c pass``) comes on top.
"""

from __future__ import annotations

import importlib
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def main() -> None:
    steps: list[tuple[str, float]] = []
    last = time.perf_counter()

    def lap(name: str) -> None:
        nonlocal last
        now = time.perf_counter()
        steps.append((name, now - last))
        last = now

    importlib.import_module("gswarp.cli.main")
    importlib.import_module("numpy")
    lap("numpy, click, gswarp.cli.main")
    for name in ("gswarp.cli.apply", "gswarp.spec", "gswarp.run.warp", "gswarp.plan"):
        importlib.import_module(name)
    lap("gswarp's CLI, spec, plan, pipeline (Pillow)")
    importlib.import_module("gswarp.engine.core")
    lap("gswarp.engine.core (the compiled engine)")
    from gswarp.io.images import read_image, write_image
    from gswarp.plan import resolve
    from gswarp.run.warp import warp_pixels
    from gswarp.spec import load_spec

    spec = load_spec(ROOT / "configs" / "rotate.yaml")
    image = read_image(ROOT / "sample_images" / "text.png")
    plan = resolve(spec, image.pixels.shape[:2])
    lap("spec, PNG read, plan")
    warped = warp_pixels(image.pixels, plan)
    lap("first warp")
    warped = warp_pixels(image.pixels, plan)
    lap("second warp: the kernel alone")
    write_image(Path("/tmp/gswarp_startup_breakdown.png"), warped, image.meta, overwrite=True)
    lap("PNG write")
    for name, seconds in steps:
        print(f"{name:56} {1000 * seconds:6.1f} ms")
    print(f"{'total in the process':56} {1000 * sum(s for _, s in steps):6.1f} ms")


if __name__ == "__main__":
    main()
