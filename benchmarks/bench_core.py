"""The compiled core's kernels, timed in one process, against torch where it has the kernel.

Until issue 28 removed the numba CPU engine, each case also ran on numba (``GSWARP_ENGINE``),
interleaved; those core/numba ratios are in ``benchmarks/RESULTS.md``. Now each case prints the
core's median over ``--repeat`` calls per round, for three rounds, and core/torch where torch
runs the same call (interleaved: core, torch, core, torch, ...).

    python benchmarks/bench_core.py [--threads 2] [--repeat 7] [--size 1024]

Cases: grid_sample 2-D (f32, u8) against torch; warp_affine 2-D (f32 NCHW, u8 HWC view) and
3-D (a (size/4)^3 volume, 15 degrees about z); sample_field 2-D (a coarse field, a field on the
output's grid, a coarse field after a rotation); antialiased shrinks (affine 2-D and 3-D,
per-point coordinates, a flow chain).
"""

from __future__ import annotations

import argparse
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
    rotation = _rotation(15.0, n)
    for name, data in (("f32", image), ("u8 HWC", _hwc(image))):
        for mode in ("bilinear", "nearest", "bicubic"):
            call = lambda: gswarp.warp_affine(data, rotation, None, mode)  # noqa: B023, E731
            rounds = [_engines(call, options.repeat) for _ in range(3)]
            label = f"warp_affine 2-D 15 deg {mode} {name} {n}^2"
            print(f"{label}: " + " | ".join(_describe(r) for r in rounds))
    volume = rng.random((1, 1, n // 4, n // 4, n // 4), dtype=np.float32)
    turn = _rotation_3d(15.0, n // 4)
    for mode in ("bilinear", "nearest"):
        call = lambda: gswarp.warp_affine(volume, turn, None, mode)  # noqa: B023, E731
        rounds = [_engines(call, options.repeat) for _ in range(3)]
        label = f"warp_affine 3-D 15 deg about z {mode} f32 {n // 4}^3"
        print(f"{label}: " + " | ".join(_describe(r) for r in rounds))

    from gswarp.engine.api import sample_field

    coarse = rng.normal(0, 3, (n // 16, n // 16, 2))
    to_field = np.array([[1 / 16, 0, 0], [0, 1 / 16, 0]])  # separable: an elastic field's grid
    fine = rng.normal(0, 3, (n, n, 2))
    for label, field, maps in (
        ("coarse field (separable)", coarse, {"to_field": to_field}),
        ("field on the output grid (direct)", fine, {}),
        (
            "coarse field after a rotation (general)",
            coarse,
            {"before": rotation, "to_field": to_field},
        ),
    ):
        call = lambda: sample_field(image, field, image.shape, "bilinear", **maps)  # noqa: B023, E731
        rounds = [_engines(call, options.repeat) for _ in range(3)]
        print(
            f"sample_field 2-D bilinear f32 {n}^2, {label}: "
            + " | ".join(_describe(r) for r in rounds)
        )
    _antialias_cases(gswarp, image, rng, n, options.repeat)


def _antialias_cases(gswarp, image, rng, n: int, repeat: int) -> None:
    """Antialiased sampling: an affine shrink by 4 with a 10 degree turn (2-D u8 HWC, 3-D
    f32), per-point coordinates of the same map (2-D), and a shrinking flow chain (2-D)."""
    from gswarp.engine.api import sample_field

    shrink = np.array([[4.0, 0.0, 0.0], [0.0, 4.0, 0.0]]) @ np.vstack(
        [_rotation(10.0, n // 4), [0, 0, 1]]
    )
    hwc = _hwc(image)
    small = (1, 3, n // 4, n // 4)
    axes = np.meshgrid(np.arange(n // 4.0), np.arange(n // 4.0), indexing="xy")
    pixels = np.stack(axes, -1) @ shrink[:, :2].T + shrink[:, 2]
    coarse = rng.normal(0, 3, (n // 16, n // 16, 2))
    cases = [
        ("warp_affine 2-D shrink 4x, 10 deg, bilinear u8 HWC",
         lambda: gswarp.warp_affine(hwc, shrink, small, antialias=True)),
        ("warp_affine 2-D shrink 4x, 10 deg, bicubic f32",
         lambda: gswarp.warp_affine(image, shrink, small, "bicubic", antialias=True)),
        ("sample_pixels 2-D shrink 4x, 10 deg, bilinear f32",
         lambda: gswarp.sample_pixels(image, pixels[None], antialias=True)),
        ("sample_field 2-D coarse field, shrink 4x after it, bilinear f32",
         lambda: sample_field(image, coarse, small, after=shrink, antialias=True,
                              to_field=np.array([[1 / 16, 0, 0], [0, 1 / 16, 0]]))),
    ]  # fmt: skip
    volume = rng.random((1, 1, n // 4, n // 4, n // 4), dtype=np.float32)
    turn = _rotation_3d(10.0, n // 8) @ np.diag([2.0, 2.0, 2.0, 1.0])
    cases.append(
        (f"warp_affine 3-D shrink 2x, 10 deg, trilinear f32 {n // 4}^3 -> {n // 8}^3",
         lambda: gswarp.warp_affine(volume, turn[:3], (1, 1, n // 8, n // 8, n // 8),
                                    antialias=True))
    )  # fmt: skip
    for label, call in cases:
        rounds = [_engines(call, repeat) for _ in range(3)]
        print(f"{label} {n}^2: " + " | ".join(_describe(r) for r in rounds))


def _engines(call, repeat: int) -> dict:
    """One round of ``call`` on the core (the numba engine it was compared with is gone:
    its figures are in RESULTS.md)."""
    return {"core": _median_ms(call, repeat)}


def _hwc(image: np.ndarray) -> np.ndarray:
    """A uint8 HWC image seen as NCHW (a view, as the command line warps images)."""
    hwc = np.ascontiguousarray((image[0] * 255).astype(np.uint8).transpose(1, 2, 0))
    return hwc.transpose(2, 0, 1)[None]


def _rotation(degrees: float, n: int) -> np.ndarray:
    """Pixel-space rotation about the centre of an n x n image (output -> input)."""
    a = np.deg2rad(degrees)
    c, s, m = np.cos(a), np.sin(a), (n - 1) / 2
    return np.array([[c, -s, m - c * m + s * m], [s, c, m - s * m - c * m]])


def _rotation_3d(degrees: float, n: int) -> np.ndarray:
    """Pixel-space rotation about z through the centre of an n^3 volume."""
    plane = _rotation(degrees, n)
    matrix = np.zeros((3, 4))
    matrix[:2, :2], matrix[:2, 3], matrix[2, 2] = plane[:, :2], plane[:, 2], 1.0
    return matrix


def _round(gswarp, torch, data, grid, mode, repeat: int) -> dict:
    """One round: the core, then torch (float32 only), each a median of ``repeat``."""
    row = {"core": _median_ms(lambda: gswarp.grid_sample(data, grid, mode), repeat)}
    if torch is not None and data.dtype == np.float32:
        t_in, t_grid = torch.from_numpy(data), torch.from_numpy(grid)
        sample = torch.nn.functional.grid_sample
        row["torch"] = _median_ms(
            lambda: sample(t_in, t_grid, mode=mode, align_corners=False), repeat
        )
    return row


def _describe(r: dict) -> str:
    text = f"core {r['core']:.1f} ms"
    if "torch" in r:
        text += f", core/torch {r['core'] / r['torch']:.2f}"
    return text


if __name__ == "__main__":
    main()
