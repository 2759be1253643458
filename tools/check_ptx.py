"""Compile every gswarp CUDA kernel to PTX with NVVM, without a GPU.

    pip install 'numba-cuda[cu13]'     # NVVM and libdevice: ~200 MB of NVIDIA wheels
    python tools/check_ptx.py [--cc 9.0] [--part K/N]

numba's CUDA simulator runs the kernels as Python, so it cannot see what numba-cuda refuses to
compile (NumPy ufuncs on scalars, IR inlining): this does. Prints one line per kernel and
specialization and exits 1 if any fails; 77 only when NVVM itself cannot be loaded (the test
extra installs it, so the test runs in CI). ``--part K/N`` compiles every N-th kernel from the
K-th (the tests run the parts in parallel).
"""

from __future__ import annotations

import argparse
import functools
import itertools
import os
import sys

import numpy as np

SKIP = 77


class _Device:
    """Stands in for the current device: numba-cuda asks it for the compute capability."""

    def __init__(self, cc: tuple[int, int]) -> None:
        self.compute_capability = cc


def _array(dtype, ndim, layout="A"):
    import numba
    from numba.core import types

    return types.Array(numba.from_dtype(np.dtype(dtype)), ndim, layout)


def _sampling_signature(source: str, spatial: int, mode: int, compute: str) -> tuple:
    from numba.core import types

    pixels = np.uint8 if compute == "float32" else np.float64
    nd = spatial + 2
    array = {
        "affine": _array(np.float64, 3, "C"),
        "flow": _array(np.float64, spatial + 1, "C"),
    }.get(source, _array(compute, nd))
    fill = _array(pixels if mode == 1 else compute, 1, "C")
    signature = [_array(pixels, nd), array, _array(pixels, nd), types.int64, types.boolean, fill]
    if source == "flow":
        signature += [_array(np.float64, 3, "C"), types.boolean, types.boolean]
    if source == "affine":  # origin and shift: a window of the input, a part of the output
        signature += [_array(np.int64, 1, "C"), _array(np.int64, 1, "C")]
    return (*signature, types.int64)


def _antialias_signature(source: str, spatial: int, compute: str) -> tuple:
    from numba.core import types

    pixels = np.uint8 if compute == "float32" else np.float64
    nd = spatial + 2
    head = [_array(pixels, nd)]
    fill = _array(compute, 1, "C")
    common = [_array(pixels, nd), types.int64, types.boolean, fill]
    if source == "affine":
        rest = [_array(np.float64, 2, "C"), _array(np.bool_, 1, "C")]
        head.append(_array(np.float64, 3, "C"))
    elif source == "pixels":
        rest = [types.int64, types.float64, types.float64]
        head.append(_array(np.float64, nd))
    else:
        rest = [_array(np.float64, 3, "C"), types.boolean, types.boolean]
        rest += [types.float64, types.float64]
        head.append(_array(np.float64, spatial + 1, "C"))
    return (*head, *common, *rest, types.int64)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--cc", default="9.0", help="compute capability (default 9.0, H100)")
    parser.add_argument("--part", default="0/1", help="K/N: every N-th kernel from the K-th")
    options = parser.parse_args()
    cc = tuple(int(n) for n in options.cc.split("."))
    part, parts = (int(n) for n in options.part.split("/"))
    if os.environ.get("NUMBA_ENABLE_CUDASIM") == "1":
        print("NUMBA_ENABLE_CUDASIM=1: the simulator cannot compile PTX")
        return SKIP
    missing = _nvvm_missing()
    if missing:
        print(f"NVVM is not installed ({missing}): pip install 'numba-cuda[cu13]'")
        return SKIP
    import numba.cuda.dispatcher as dispatcher
    from numba import cuda

    dispatcher.get_current_device = lambda: _Device(cc)  # no driver needed to compile
    jobs = _jobs()
    failures = 0
    for name, kernel, signature in jobs[part::parts]:
        failures += _compile(cuda, kernel(), signature, cc, name)
    print(f"{failures} failed")
    return 1 if failures else 0


def _jobs() -> list:
    """Every kernel and specialization: (name, a function returning the kernel, signature)."""
    from numba.core import types

    from gswarp.engine import cuda as kernels

    jobs = []
    cases = itertools.product(
        ("grid", "pixels", "affine", "flow"), (2, 3), (0, 1, 2), ("float32", "float64")
    )
    for source, spatial, mode, compute in cases:
        jobs.append((
            f"{source} {spatial}-D mode {mode} {compute}",
            functools.partial(kernels.sampling_kernel, source, spatial, mode, compute),
            _sampling_signature(source, spatial, mode, compute),
        ))  # fmt: skip
    cases = itertools.product(("affine", "pixels", "flow"), (2, 3), (0, 2), ("float32", "float64"))
    for source, spatial, mode, compute in cases:  # antialiasing: bilinear and bicubic
        jobs.append((
            f"antialias {source} {spatial}-D mode {mode} {compute}",
            functools.partial(kernels.antialias_kernel, source, spatial, mode, compute),
            _antialias_signature(source, spatial, compute),
        ))  # fmt: skip
    for spatial, compute in itertools.product((2, 3), ("float32", "float64")):
        signature = (
            _array(compute, 3, "C"),
            _array(compute, spatial + 2, "C"),
            types.boolean,
            types.int64,
        )
        jobs.append((
            f"affine_grid {spatial}-D {compute}",
            functools.partial(kernels.affine_grid_kernel, spatial, compute),
            signature,
        ))  # fmt: skip
    cases = itertools.product(("grid", "affine"), (2, 3), (0, 1, 2), ("float32", "float64"))
    for source, spatial, mode, compute in cases:  # the backward passes
        pair = functools.partial(kernels.backward_kernels, source, spatial, mode, compute)
        nd = spatial + 2
        head = [_array(compute, nd, "C"), _array(compute, nd, "C")]
        if source == "grid":
            head.append(_array(compute, nd, "C"))
            written = _array(compute, nd, "C")
        else:
            head.append(_array(np.float64, 3, "C"))
            written = _array(np.float64, 3, "C")
        flags = [types.int64, types.boolean]
        name = f"backward {source} {spatial}-D mode {mode} {compute}"
        signature = (*head, written, *flags, _array(compute, 1, "C"), types.int64)
        jobs.append((f"{name} coordinates", lambda pair=pair: pair()[0], signature))
        signature = (*head, _array(compute, nd, "C"), *flags, types.int64)
        jobs.append((f"{name} input", lambda pair=pair: pair()[1], signature))
    return jobs


def _nvvm_missing() -> str | None:
    """Why NVVM cannot be loaded (its library or libdevice missing), or None when it can.

    Only this turns into a skip: once NVVM loads, any kernel that fails to compile fails the
    check."""
    try:
        from numba.cuda.cudadrv import libs, nvvm

        nvvm.NVVM()
        libs.get_libdevice()
    except Exception as error:  # each CUDA packaging raises its own kind of "not found"
        first = (str(error).strip().splitlines() or [""])[0]
        return f"{type(error).__name__}: {first[:160]}"
    return None


def _compile(cuda, kernel, signature, cc, name: str) -> int:
    try:
        ptx, _ = cuda.compile_ptx(kernel.py_func, signature, cc=cc)
    except Exception as error:
        first = (str(error).strip().splitlines() or [repr(error)])[0]
        print(f"FAIL {name}: {type(error).__name__}: {first[:200]}")
        return 1
    print(f"ok   {name}: {len(ptx)} bytes of PTX")
    return 0


if __name__ == "__main__":
    sys.exit(main())
