"""Measure how far ``affine_sample`` (the fused path) is from torch's two-step result, in units
of the bound the README states (``tests/oracles.py``: FUSED_BOUND * eps * (1 + |theta|) * n *
max|x|).

    pip install torch==2.13.0
    python tools/measure_fused_bound.py [--cases 600]

Prints, per dtype and mode, the largest measured difference divided by ``eps * (1 + |theta|) * n
* max|x|``: the constant the bound must exceed. The README quotes these figures.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import gswarp
from tests import oracles


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--cases", type=int, default=600)
    cases = parser.parse_args().cases
    rng = np.random.default_rng(11)
    worst: dict[tuple[str, str], float] = {}
    for trial in range(cases):
        dtype = ("float32", "float64")[trial % 2]
        spatial = 2 + (trial // 2) % 2
        mode = "bicubic" if trial % 3 == 1 and spatial == 2 else "bilinear"
        side = int(rng.choice([3, 8, 33, 100, 300] if spatial == 2 else [3, 8, 20, 40]))
        in_size = tuple(int(v) for v in rng.integers(max(1, side // 2), side + 1, size=spatial))
        out_size = tuple(int(v) for v in rng.integers(1, side + 1, size=spatial))
        align = bool(rng.integers(2))
        padding = oracles.PADDINGS[int(rng.integers(3))]
        x = rng.uniform(-2, 3, (1, 1, *in_size)).astype(dtype)
        scale = float(rng.choice([0.3, 1.0, 2.0]))
        theta = rng.normal(scale=scale, size=(1, spatial, spatial + 1)).astype(dtype)
        size = (1, 1, *out_size)
        expected = oracles.torch_two_step(x, theta, size, mode, padding, align)
        got = gswarp.affine_sample(x, theta, size, mode, padding, align)
        difference = float(np.max(np.abs(got.astype(np.float64) - expected)))
        unit = oracles.fused_tolerance(x, theta) / oracles.FUSED_BOUND
        worst[dtype, mode] = max(worst.get((dtype, mode), 0.0), difference / unit)
    print(f"{cases} random cases; bound constant FUSED_BOUND = {oracles.FUSED_BOUND}")
    for (dtype, mode), constant in sorted(worst.items()):
        print(f"  {dtype:8} {mode:9} largest measured constant {constant:.2f}")


if __name__ == "__main__":
    main()
