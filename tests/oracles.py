"""What the parity tests compare gswarp with: torch's CPU results, adversarial grids, and the
bound within which the fused affine path must agree with torch's two-step result.

Used by the live parity tests (``tests/test_parity_torch.py``, torch installed) and by
``tools/make_golden.py``, which freezes the same comparisons into ``tests/data/golden_torch.npz``
for runs without torch (``tests/test_golden.py``). torch is imported only by the functions that
need it.

Two places where gswarp's promise is not torch's bits, written down once here:

* **Non-finite grid values** (NaN, +-inf): gswarp writes ``fill`` (0 by default) at that output
  point in every padding mode; torch returns NaN, an edge pixel or pixel 0 depending on its code
  path. The expected result is torch's at every finite point and 0 at non-finite ones.
* **3-D bicubic**: torch has none. gswarp's tricubic reduces to torch's 2-D bicubic when z falls
  on a voxel centre, so the expected result for a grid whose z is 0 (the middle voxel of an odd
  depth, for both ``align_corners``) is torch's 2-D bicubic of the middle slice, exactly.
"""

from __future__ import annotations

import math

import numpy as np

MODES = ("bilinear", "nearest", "bicubic")
PADDINGS = ("zeros", "border", "reflection")
FAR = (-3.5, 3.5, -10.0, 10.0, -1e4, 1e4)
NONFINITE = (np.nan, np.inf, -np.inf)

# |fused - two-step| <= FUSED_BOUND * eps * (1 + max row sum |theta|) * max input side * max |x|:
# torch's grid carries the rounding of a linspace and a matrix product in its dtype (relative
# error ~eps * |theta| in normalized units, times side / 2 in pixels); interpolation turns a
# coordinate error into a value error at most a few times the data range per pixel. Over 600
# random cases (sides 3..300, |theta| up to ~6, both dtypes) the measured constant was at most
# 2.48 (float32 bicubic), 1.58 (float64 bicubic), 1.07 (bilinear): tools/measure_fused_bound.py.
FUSED_BOUND = 4.0


def adversarial_axis(
    size: int, count: int, rng: np.random.Generator, align: bool, nonfinite: bool = False
) -> np.ndarray:
    """``count`` normalized coordinates along an input axis of ``size`` pixels.

    Every special value appears at least once when ``count`` allows: exact pixel centres and
    half-pixel ties (inside and two pixels beyond each edge), the +-1 edges, points far outside
    (up to 1e4), and with ``nonfinite`` NaN and +-inf; the rest are uniform on [-1.6, 1.6].
    """
    pixels = np.arange(-2, size + 2, 0.5)  # centres and ties, inside and just outside
    if align:
        centres = pixels / max(size - 1, 1) * 2 - 1
    else:
        centres = (2 * pixels + 1) / size - 1
    special = np.concatenate([centres, [-1.0, 1.0, *FAR]])
    if nonfinite:
        special = np.concatenate([special, NONFINITE])
    picks = np.concatenate([special, rng.choice(special, size=max(count // 2 - special.size, 0))])
    picks = picks[:count]
    randoms = rng.uniform(-1.6, 1.6, size=count - picks.size)
    values = np.concatenate([picks, randoms])
    rng.shuffle(values)
    return values


def adversarial_grid(
    shape: tuple[int, ...],
    in_spatial: tuple[int, ...],
    rng: np.random.Generator,
    align: bool,
    nonfinite: bool = False,
) -> np.ndarray:
    """A float64 grid of ``shape`` ``(N, *out, k)``; axis k mixes the special values of input
    axis k (x indexes the last input axis)."""
    count = int(np.prod(shape[:-1]))
    axes = [
        adversarial_axis(in_spatial[::-1][k], count, rng, align, nonfinite).reshape(shape[:-1])
        for k in range(shape[-1])
    ]
    return np.stack(axes, axis=-1)


LAYOUTS = ("contiguous", "channels-last", "reversed-x")


def laid_out(x: np.ndarray, layout: str) -> np.ndarray:
    """``x``'s values in another memory layout (one of :data:`LAYOUTS`)."""
    if layout == "channels-last":  # an NCHW view of a channels-last array, as image I/O gives
        return np.moveaxis(np.ascontiguousarray(np.moveaxis(x, 1, -1)), -1, 1)
    if layout == "reversed-x":  # negative strides
        return np.ascontiguousarray(x[..., ::-1])[..., ::-1]
    return x


def middle_slab(grid: np.ndarray) -> np.ndarray:
    """A 3-D grid's first output slice with z = 0: the middle voxel of an odd input depth."""
    slab = grid[:, :1].copy()
    slab[..., 2] = 0.0
    return slab


def torch_grid_sample(x, grid, mode: str, padding: str, align: bool) -> np.ndarray:
    """torch's ``grid_sample`` under gswarp's stated rules (see the module docstring): finite
    points as torch computes them, 0 where the grid is not finite, and 3-D bicubic through torch's
    2-D bicubic on the middle slice (``grid`` must then come from :func:`middle_slab` and the
    input's depth be odd)."""
    import torch
    import torch.nn.functional as F

    if x.ndim == 5 and mode == "bicubic":
        depth = x.shape[2]
        if depth % 2 != 1 or grid.shape[1] != 1 or np.any(grid[..., 2] != 0):
            raise ValueError("3-D bicubic needs an odd depth and a middle_slab grid")
        slice_2d = torch_grid_sample(x[:, :, depth // 2], grid[:, 0, ..., :2], mode, padding, align)
        return slice_2d[:, :, None]
    bad = ~np.all(np.isfinite(grid), axis=-1)
    finite = np.where(np.isfinite(grid), grid, 0).astype(grid.dtype)
    result = F.grid_sample(
        torch.from_numpy(np.ascontiguousarray(x)),
        torch.from_numpy(np.ascontiguousarray(finite)),
        mode=mode,
        padding_mode=padding,
        align_corners=align,
    ).numpy()
    result[np.broadcast_to(bad[:, None], result.shape)] = 0
    return result


def torch_affine_grid(theta, size: tuple[int, ...], align: bool) -> np.ndarray:
    """torch's ``affine_grid``, without its warning about size-1 axes with ``align_corners``."""
    import warnings

    import torch
    import torch.nn.functional as F

    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore", UserWarning)
        return F.affine_grid(torch.from_numpy(theta), list(size), align_corners=align).numpy()


def torch_two_step(x, theta, size, mode: str, padding: str, align: bool) -> np.ndarray:
    """torch's ``grid_sample(x, affine_grid(theta, size))``; 3-D bicubic (theta's z row zero, odd
    depths) through its 2-D bicubic on the middle slices, as in :func:`torch_grid_sample`."""
    if len(size) == 5 and mode == "bicubic":
        x2 = x[:, :, x.shape[2] // 2]
        theta2 = theta[:, :2][:, :, [0, 1, 3]]
        size2 = (size[0], size[1], *size[3:])
        return torch_two_step(x2, theta2, size2, mode, padding, align)[:, :, None]
    return torch_grid_sample(x, torch_affine_grid(theta, size, align), mode, padding, align)


def fused_tolerance(x: np.ndarray, theta: np.ndarray) -> float:
    """The absolute difference allowed between ``affine_sample`` and torch's two-step result."""
    eps = float(np.finfo(x.dtype).eps)
    norm = 1.0 + float(np.abs(theta).sum(axis=-1).max())
    return FUSED_BOUND * eps * norm * max(x.shape[2:]) * max(float(np.abs(x).max()), 1e-300)


def near_a_tie(grid: np.ndarray, in_spatial: tuple[int, ...], theta, align: bool) -> np.ndarray:
    """Output points (N, *out) where torch's ``affine_grid`` result ``grid`` puts a coordinate
    within rounding of a half-pixel tie of an input of spatial size ``in_spatial``: there nearest
    may pick either pixel in the fused path."""
    sides = np.array(in_spatial[::-1], dtype=np.float64)  # (W, H[, D]) for (x, y[, z])
    grid = grid.astype(np.float64)
    if align:
        pixel = (grid + 1) / 2 * (sides - 1)
    else:
        pixel = ((grid + 1) * sides - 1) / 2
    fraction = np.abs(pixel - np.floor(pixel) - 0.5)
    slack = 16 * np.finfo(theta.dtype).eps * (1 + np.abs(theta).sum()) * sides.max()
    return np.any(fraction < slack, axis=-1)


# --------------------------------------------------------------------------------------------
# sampling matrices about the images' centres (antialiasing and chunk tests)


def rotation(degrees: float) -> np.ndarray:
    """The 2x2 matrix of a turn by ``degrees``."""
    c, s = math.cos(math.radians(degrees)), math.sin(math.radians(degrees))
    return np.array([[c, -s], [s, c]])


def about_centres(linear: np.ndarray, in_spatial, out_spatial) -> np.ndarray:
    """The sampling matrix with ``linear`` (output -> input) about both grids' centres."""
    centre_in = (np.array(in_spatial[::-1], dtype=float) - 1) / 2
    centre_out = (np.array(out_spatial[::-1], dtype=float) - 1) / 2
    return np.concatenate([linear, (centre_in - linear @ centre_out)[:, None]], axis=1)


# --------------------------------------------------------------------------------------------
# zone plates: the antialiasing tests' (tests/test_antialias.py) and pictures' test charts


def zone_plate(n: int, dims: int = 2) -> np.ndarray:
    """A zone plate (``dims`` 3: a zone sphere) of side ``n``, float64 values in [0, 255].

    ``127.5 + 127.5 cos(pi r^2 / n)``, ``r`` the distance of a pixel centre from the image's
    centre: the local frequency is ``r / n`` cycles per pixel, the input's Nyquist limit (0.5) is
    reached at ``r = n / 2``.
    """
    axis = np.arange(n) + 0.5 - n / 2
    squares = np.meshgrid(*([axis**2] * dims), indexing="ij")
    r2 = sum(squares)
    return 127.5 + 127.5 * np.cos(np.pi * r2 / n)


def zone_matrix(n: int, scale: float, degrees: float, dims: int = 2) -> np.ndarray:
    """The sampling matrix (output pixel -> input pixel) that shrinks a side-``n`` image by
    ``scale`` and turns it by ``degrees`` in the x-y plane, about the centre, same output size."""
    c, s = np.cos(np.radians(degrees)), np.sin(np.radians(degrees))
    linear = np.eye(dims) / scale
    linear[:2, :2] = np.array([[c, s], [-s, c]]) / scale
    centre = np.full(dims, (n - 1) / 2)
    return np.concatenate([linear, (centre - linear @ centre)[:, None]], axis=1)


def zone_bands(side: int, n: int, scale: float, dims: int = 2) -> tuple[np.ndarray, np.ndarray]:
    """Masks of the central ``side``-wide crop of a side-``n`` output of :func:`zone_matrix`:
    (aliased band, passband).

    Aliased band: output points whose input frequency lies above the output's Nyquist limit
    (``0.5 scale`` cycles per input pixel, 6 % margin) and below the input's (2 % margin): the
    ideal result there is a flat 127.5, so what varies is aliasing. Passband: output frequencies
    below 0.2 cycles per output pixel (40 % of the output's Nyquist limit).
    """
    axis = np.arange(side) + 0.5 - side / 2  # a centred crop keeps the centre (even sides)
    squares = np.meshgrid(*([axis**2] * dims), indexing="ij")
    r_in = np.sqrt(sum(squares)) / scale
    aliased = (r_in > 1.06 * 0.5 * scale * n) & (r_in < 0.49 * n)
    passband = r_in < 0.2 * scale * n
    return aliased, passband


def zone_crop(out: np.ndarray, side: int) -> np.ndarray:
    """The central ``side``-wide crop of every axis of ``out``."""
    start = (out.shape[0] - side) // 2
    return out[(slice(start, start + side),) * out.ndim]


def zone_figures(out: np.ndarray, n: int, scale: float) -> tuple[float, float]:
    """(standard deviation in the aliased band, in the passband) of a zone-plate output made by
    :func:`zone_matrix` from a side-``n`` plate, or of a central crop of it."""
    out = np.asarray(out, dtype=np.float64)
    aliased, passband = zone_bands(out.shape[0], n, scale, out.ndim)
    return float(out[aliased].std()), float(out[passband].std())
