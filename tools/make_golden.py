"""Regenerate the golden test fixtures in ``tests/data/`` from torch.

Run with torch installed (``pip install torch==2.13.0``)::

    python tools/make_golden.py

The fixtures let the parity tests run without torch. Grids mix random points with adversarial
ones: exact pixel centres, half-pixel ties, the +-1 edges, and points far outside the input.
Non-finite grid values are left out on purpose: gswarp defines its own rule there (the fill value),
where torch's result depends on the code path.
"""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

OUT = Path(__file__).resolve().parent.parent / "tests" / "data"
MODES_2D = ("bilinear", "nearest", "bicubic")
MODES_3D = ("bilinear", "nearest")  # torch has no 3-D bicubic
PADDINGS = ("zeros", "border", "reflection")


def adversarial_axis(size: int, count: int, rng: np.random.Generator, align: bool) -> np.ndarray:
    """Normalized coordinates along one axis: random, pixel centres, half-pixel ties, edges, far."""
    pixels = np.arange(-2, size + 2, 0.5)  # centres and ties, inside and just outside
    if align:
        centres = pixels / max(size - 1, 1) * 2 - 1
    else:
        centres = (2 * pixels + 1) / size - 1
    special = np.concatenate([centres, [-1.0, 1.0, -3.5, 3.5, -10.0, 10.0, -1e4, 1e4]])
    # every special value once, then random repeats of them; the rest uniformly random
    picks = np.concatenate([special, rng.choice(special, size=max(count // 2 - special.size, 0))])
    randoms = rng.uniform(-1.6, 1.6, size=count - picks.size)
    values = np.concatenate([picks, randoms])
    rng.shuffle(values)
    return values


def make_grid(shape: tuple[int, ...], in_spatial: tuple[int, ...], rng, align: bool) -> np.ndarray:
    """A grid of ``shape`` (N, *out, k) whose axis k mixes adversarial values for input axis k."""
    count = int(np.prod(shape[:-1]))
    axes = []
    for k in range(shape[-1]):
        size = in_spatial[::-1][k]  # x indexes the last input axis
        axes.append(adversarial_axis(size, count, rng, align).reshape(shape[:-1]))
    return np.stack(axes, axis=-1)


def main() -> None:
    rng = np.random.default_rng(20261126)
    OUT.mkdir(parents=True, exist_ok=True)
    cases: dict[str, np.ndarray] = {}
    for dtype in (np.float32, np.float64):
        name = np.dtype(dtype).name
        x2 = rng.random((2, 3, 5, 7)).astype(dtype)
        x3 = rng.random((2, 2, 4, 5, 6)).astype(dtype)
        cases[f"{name}/input2d"] = x2
        cases[f"{name}/input3d"] = x3
        for align in (False, True):
            g2 = make_grid((2, 6, 9, 2), x2.shape[2:], rng, align).astype(dtype)
            g3 = make_grid((2, 3, 4, 5, 3), x3.shape[2:], rng, align).astype(dtype)
            cases[f"{name}/grid2d/{align}"] = g2
            cases[f"{name}/grid3d/{align}"] = g3
            for mode, pad in itertools.product(MODES_2D, PADDINGS):
                ref = F.grid_sample(
                    torch.from_numpy(x2),
                    torch.from_numpy(g2),
                    mode=mode,
                    padding_mode=pad,
                    align_corners=align,
                )
                cases[f"{name}/out2d/{mode}/{pad}/{align}"] = ref.numpy()
            for mode, pad in itertools.product(MODES_3D, PADDINGS):
                ref = F.grid_sample(
                    torch.from_numpy(x3),
                    torch.from_numpy(g3),
                    mode=mode,
                    padding_mode=pad,
                    align_corners=align,
                )
                cases[f"{name}/out3d/{mode}/{pad}/{align}"] = ref.numpy()
            for size in ((2, 1, 7, 9), (2, 1, 1, 5), (2, 3, 4, 3, 6), (2, 1, 1, 3, 1)):
                rows, cols = (2, 3) if len(size) == 4 else (3, 4)
                theta = rng.normal(size=(size[0], rows, cols)).astype(dtype)
                key = "x".join(str(s) for s in size)
                cases[f"{name}/theta/{key}/{align}"] = theta
                grid = F.affine_grid(torch.from_numpy(theta), size, align_corners=align)
                cases[f"{name}/affine_grid/{key}/{align}"] = grid.numpy()
    path = OUT / "golden_torch.npz"
    np.savez_compressed(path, **cases, torch_version=np.array(torch.__version__))
    print(
        f"wrote {path} ({path.stat().st_size} bytes, {len(cases)} arrays, "
        f"torch {torch.__version__})"
    )


if __name__ == "__main__":
    main()
