"""The Python host time of one GPU launch, measured without a GPU: a 1x1x8x8 ``grid_sample``
under ``use_backend('cuda')`` on NumPy arrays, with a runner that prepares everything a launch
needs (the checks, the struct, the kernel's name) but launches nothing. On a GPU, CuPy's own
``RawKernel`` call comes on top, and CuPy arrays' pointers are cheaper than NumPy's
(``benchmarks/gpu_check.sh`` measures the whole launch there, against torch).

    python benchmarks/bench_launch_host.py [--calls 20000] [--rounds 3]
"""

from __future__ import annotations

import argparse
import statistics
import timeit

import numpy as np

from gswarp.engine import api, cuda_core
from gswarp.engine.device import use_backend


class NullRunner:
    """A runner (``cuda_core.CupyRunner``'s interface) whose arrays are NumPy's and whose
    launches do nothing."""

    def constant(self, array):
        return array

    device = field = constant

    def on_device(self, array) -> bool:
        return True

    def output(self, out):
        return out

    def copy_back(self, written, out) -> None:
        pass

    def empty(self, shape, dtype):
        return np.empty(shape, dtype)

    def launch(self, name, packed, layout, total) -> None:
        pass


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--calls", type=int, default=20000)
    parser.add_argument("--rounds", type=int, default=3)
    options = parser.parse_args()
    runner = NullRunner()
    cuda_core.cupy_runner = lambda: runner
    x = np.zeros((1, 1, 8, 8), np.float32)
    grid = np.zeros((1, 8, 8, 2), np.float32)

    def call():
        with use_backend("cuda"):
            api.grid_sample(x, grid)

    call()
    times = []
    for round_ in range(options.rounds):
        seconds = timeit.timeit(call, number=options.calls)
        times.append(seconds / options.calls * 1e6)
        print(f"round {round_ + 1}: {times[-1]:.1f} us per call")
    print(f"median: {statistics.median(times):.1f} us per call (target on a GPU: <= 15 us)")


if __name__ == "__main__":
    main()
