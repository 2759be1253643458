"""Regenerate the golden test fixtures ``tests/data/golden_torch.npz`` from torch.

Run with torch installed (``pip install torch==2.13.0``)::

    python tools/make_golden.py

The fixtures let ``tests/test_golden.py`` hold gswarp to torch's bits without torch. They cover
every mode x padding x align_corners x dtype, 2-D and 3-D, on inputs with odd, non-square and
size-1 axes, with grids that mix random points with adversarial ones (pixel centres, half-pixel
ties, the +-1 edges, points up to 1e4 outside, NaN and +-inf); ``affine_grid`` on sizes with
size-1 axes; and the fused ``affine_sample`` against torch's two-step result. The expected values
follow the rules written in ``tests/oracles.py`` (non-finite points are 0, 3-D bicubic through
the middle slice).

Keys (``S`` = 2d or 3d, ``A`` = align_corners as 0/1):

* ``grid_sample/DTYPE/S/SHAPE/A/{input,grid,slab}`` and ``.../out/MODE/PADDING``
  (``slab``: the grid of 3-D bicubic);
* ``affine_grid/DTYPE/SIZE/A/{theta,grid}``;
* ``affine_sample/DTYPE/S/A/{input,theta,grid}``, ``.../size`` and ``.../out/MODE/PADDING``.
"""

from __future__ import annotations

import itertools
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests import oracles  # noqa: E402

OUT = ROOT / "tests" / "data" / "golden_torch.npz"
SEED = 20261127

# input (N, C, *spatial) and output spatial size: odd, non-square and size-1 axes; each grid
# has room for every special value of its axis (adversarial_axis)
GRID_SHAPES = {
    "2d": {
        "odd": ((2, 3, 5, 7), (6, 9)),
        "row": ((1, 2, 1, 6), (6, 7)),
        "column": ((1, 1, 8, 1), (6, 7)),
        "pixel": ((1, 1, 1, 1), (5, 8)),
    },
    "3d": {
        "odd": ((2, 2, 5, 4, 6), (3, 4, 5)),
        "thin": ((1, 2, 1, 3, 1), (3, 4, 4)),
        "voxel": ((1, 1, 1, 1, 1), (3, 3, 4)),
    },
}
AFFINE_GRID_SIZES = (
    (2, 1, 7, 9),
    (2, 1, 1, 5),
    (1, 1, 6, 1),
    (2, 3, 4, 3, 6),
    (2, 1, 1, 3, 1),
    (1, 1, 3, 1, 4),
)
# fused affine: input (N, C, *spatial), output spatial size; 3-D bicubic uses the slab form
AFFINE_SAMPLE_SHAPES = {"2d": ((2, 2, 9, 13), (7, 11)), "3d": ((2, 2, 5, 6, 7), (4, 5, 6))}


def align_tag(align: bool) -> str:
    return str(int(align))


def grid_sample_cases(rng, dtype: str) -> dict[str, np.ndarray]:
    cases = {}
    for spatial, shapes in GRID_SHAPES.items():
        for (tag, (in_shape, out_spatial)), align in itertools.product(
            shapes.items(), (False, True)
        ):
            key = f"grid_sample/{dtype}/{spatial}/{tag}/{align_tag(align)}"
            x = rng.uniform(-1.0, 2.0, size=in_shape).astype(dtype)
            grid_shape = (in_shape[0], *out_spatial, len(out_spatial))
            grid = oracles.adversarial_grid(grid_shape, in_shape[2:], rng, align, True)
            grid = grid.astype(dtype)
            cases[f"{key}/input"] = x
            cases[f"{key}/grid"] = grid
            if spatial == "3d":
                cases[f"{key}/slab"] = oracles.middle_slab(grid)
            for mode, padding in itertools.product(oracles.MODES, oracles.PADDINGS):
                points = cases[f"{key}/slab"] if spatial == "3d" and mode == "bicubic" else grid
                cases[f"{key}/out/{mode}/{padding}"] = oracles.torch_grid_sample(
                    x, points, mode, padding, align
                )
    return cases


def affine_grid_cases(rng, dtype: str) -> dict[str, np.ndarray]:
    cases = {}
    for size, align in itertools.product(AFFINE_GRID_SIZES, (False, True)):
        key = f"affine_grid/{dtype}/{'x'.join(map(str, size))}/{align_tag(align)}"
        spatial = len(size) - 2
        theta = rng.normal(scale=2.0, size=(size[0], spatial, spatial + 1)).astype(dtype)
        cases[f"{key}/theta"] = theta
        cases[f"{key}/grid"] = oracles.torch_affine_grid(theta, size, align)
    return cases


def affine_sample_cases(rng, dtype: str) -> dict[str, np.ndarray]:
    cases = {}
    for (spatial, (in_shape, out_spatial)), align in itertools.product(
        AFFINE_SAMPLE_SHAPES.items(), (False, True)
    ):
        n, c = in_shape[:2]
        dims = len(out_spatial)
        x = rng.uniform(-1.0, 2.0, size=in_shape).astype(dtype)
        theta = rng.normal(scale=0.8, size=(n, dims, dims + 1)).astype(dtype)
        forms = {"": (theta, (n, c, *out_spatial))}
        if spatial == "3d":  # bicubic: z = 0 on the middle voxel (odd depth), one output slice
            slab = theta.copy()
            slab[:, 2] = 0
            slab[:, :, 2] = 0
            forms["slab_"] = (slab, (n, c, 1, *out_spatial[1:]))
        key = f"affine_sample/{dtype}/{spatial}/{align_tag(align)}"
        cases[f"{key}/input"] = x
        for prefix, (matrix, size) in forms.items():
            cases[f"{key}/{prefix}theta"] = matrix
            cases[f"{key}/{prefix}size"] = np.array(size)
            cases[f"{key}/{prefix}grid"] = oracles.torch_affine_grid(matrix, size, align)
        for mode, padding in itertools.product(oracles.MODES, oracles.PADDINGS):
            prefix = "slab_" if spatial == "3d" and mode == "bicubic" else ""
            matrix, size = forms[prefix]
            cases[f"{key}/out/{mode}/{padding}"] = oracles.torch_two_step(
                x, matrix, size, mode, padding, align
            )
    return cases


def main() -> None:
    import torch

    rng = np.random.default_rng(SEED)
    cases: dict[str, np.ndarray] = {}
    for dtype in ("float32", "float64"):
        cases |= grid_sample_cases(rng, dtype)
        cases |= affine_grid_cases(rng, dtype)
        cases |= affine_sample_cases(rng, dtype)
    OUT.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(OUT, **cases, torch_version=np.array(torch.__version__))
    size = OUT.stat().st_size
    print(f"wrote {OUT} ({size} bytes, {len(cases)} arrays, torch {torch.__version__})")


if __name__ == "__main__":
    main()
