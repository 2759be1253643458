"""Start-up of the gswarp commands in fresh processes (issue 13, target 3), against a second
source tree (e.g. the commit before a change), runs interleaved.

    python benchmarks/bench_startup.py [--before /path/to/other/checkout] [--runs 9]

Each command runs as ``python -m gswarp ...`` from a neutral folder with PYTHONPATH set to the
tree, so the tree's code is imported. Prints medians, ``python -c pass`` for the interpreter's
own share, and the peer of issue 28's target (one 256² PNG in a fresh process: <= 0.15 s and
<= 1.6x): a fresh ``python -c`` that imports NumPy and Pillow and reads and writes the same
PNG, interleaved with the apply runs.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CONFIG = str(ROOT / "configs" / "rotate.yaml")
IMAGE = str(ROOT / "sample_images" / "text.png")
PEER = (
    "import sys, numpy, PIL.Image; "
    "a = numpy.asarray(PIL.Image.open(sys.argv[1])); "
    "PIL.Image.fromarray(a).save(sys.argv[2])"
)


def commands(out: str) -> dict[str, list[str]]:
    return {
        "--help": ["--help"],
        "validate": ["validate", CONFIG],
        "explain": ["explain", CONFIG, IMAGE],
        "apply 1 png": ["apply", CONFIG, IMAGE, "-o", out, "--overwrite", "-q"],
    }


def timed(args: list[str], tree: Path, cwd: str) -> float:
    env = {**os.environ, "PYTHONPATH": str(tree)}
    start = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "gswarp", *args],
        env=env,
        cwd=cwd,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"{tree}: gswarp {' '.join(args)} failed: {done.stderr}")
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--before", type=Path, help="another checkout to compare with")
    parser.add_argument("--runs", type=int, default=9)
    options = parser.parse_args()
    trees = {"this tree": ROOT, **({"before": options.before} if options.before else {})}
    with tempfile.TemporaryDirectory() as folder:
        table = commands(str(Path(folder) / "t.png"))
        times: dict[tuple[str, str], list[float]] = {}
        peer = [sys.executable, "-c", PEER, IMAGE, str(Path(folder) / "peer.png")]
        for _ in range(options.runs):
            for name, args in table.items():
                for label, tree in trees.items():
                    times.setdefault((name, label), []).append(timed(args, tree, folder))
            start = time.perf_counter()
            subprocess.run(peer, check=True, cwd=folder)
            times.setdefault(("peer", ""), []).append(time.perf_counter() - start)
        start = time.perf_counter()
        subprocess.run([sys.executable, "-c", "pass"], check=True)
        print(f"python -c pass: {1000 * (time.perf_counter() - start):.0f} ms")
        for name in table:
            row = "  ".join(
                f"{label} {1000 * statistics.median(times[name, label]):5.0f} ms" for label in trees
            )
            print(f"gswarp {name:12} {row}")
        peer_s = statistics.median(times["peer", ""])
        apply_s = statistics.median(times["apply 1 png", "this tree"])
        print(
            f"NumPy + Pillow read/write of the PNG: {1000 * peer_s:.0f} ms; "
            f"apply / peer: {apply_s / peer_s:.2f} (targets: apply <= 150 ms, ratio <= 1.6)"
        )


if __name__ == "__main__":
    main()
