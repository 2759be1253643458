"""The compiled core's kernels against the numba engine's and torch's, in one process.

Each case times gswarp on the numba engine, on the compiled core (``GSWARP_ENGINE``), and torch
where installed, interleaved (numba, core, torch, numba, core, torch, ...) so that a noisy
neighbour slows all of them alike; it prints each one's median over ``--repeat`` calls per
round, for three rounds, and the ratios core/numba and core/torch of each round.

    python benchmarks/bench_core.py [--threads 2] [--repeat 7] [--size 1024]
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

import numpy as np


def _median_ms(call, repeat: int) -> float:
    call()  # warm (numba: load or compile; both: first-touch the output)
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        call()
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1e3


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--size", type=int, default=1024)
    options = parser.parse_args()

    import gswarp
    from gswarp.engine import core

    if not core.available():
        raise SystemExit("the compiled engine is not built: pip install .")
    gswarp.set_num_threads(options.threads)
    try:
        import torch

        torch.set_num_threads(options.threads)
    except ImportError:
        torch = None
    print(
        f"level {core.level()}, {options.threads} threads, torch "
        f"{torch.__version__ if torch else 'not installed'}"
    )
    rng = np.random.default_rng(0)
    n = options.size
    image = rng.random((1, 3, n, n), dtype=np.float32)
    grid = (rng.random((1, n, n, 2), dtype=np.float32) * 2 - 1) * 0.9
    cases = [
        (f"grid_sample 2-D {mode} {name} 1x3x{n}^2", data, mode)
        for name, data in (("f32", image), ("u8", (image * 255).astype(np.uint8)))
        for mode in ("bilinear", "nearest", "bicubic")
    ]
    for label, data, mode in cases:
        rounds = [_round(gswarp, torch, data, grid, mode, options.repeat) for _ in range(3)]
        print(f"{label}: " + " | ".join(_describe(r) for r in rounds))


def _round(gswarp, torch, data, grid, mode, repeat: int) -> dict:
    """One round: numba, core, then torch (float32 only), each a median of ``repeat``."""
    row = {}
    for engine in ("numba", "core"):
        os.environ["GSWARP_ENGINE"] = engine
        row[engine] = _median_ms(lambda: gswarp.grid_sample(data, grid, mode), repeat)
    if torch is not None and data.dtype == np.float32:
        t_in, t_grid = torch.from_numpy(data), torch.from_numpy(grid)
        sample = torch.nn.functional.grid_sample
        row["torch"] = _median_ms(
            lambda: sample(t_in, t_grid, mode=mode, align_corners=False), repeat
        )
    return row


def _describe(r: dict) -> str:
    ratio = r["core"] / r["numba"]
    text = f"numba {r['numba']:.1f} core {r['core']:.1f} ms, core/numba {ratio:.2f}"
    if "torch" in r:
        text += f", core/torch {r['core'] / r['torch']:.2f}"
    return text


if __name__ == "__main__":
    main()
