"""Gradients of gswarp's sampling (issue 17): vector-Jacobian products, one function per forward
function, each taking the loss's gradient for the output and returning the gradients for the
forward's arguments -- the pieces an optimizer, a spatial transformer or a registration needs.

=============================  ======================================================
forward                        backward
=============================  ======================================================
``grid_sample``                :func:`grid_sample_backward` -> (grad_input, grad_grid)
``affine_grid``                :func:`affine_grid_backward` -> grad_theta
``affine_sample`` (fused)      :func:`affine_sample_backward` -> (grad_input, grad_theta)
``warp_affine`` (pixel space)  :func:`warp_affine_backward` -> (grad_input, grad_matrix)
``warp_flow`` (a flow field)   :func:`warp_flow_backward` -> (grad_input, grad_flow)
=============================  ======================================================

>>> import numpy as np
>>> from gswarp import grid_sample
>>> from gswarp.autodiff import grid_sample_backward
>>> image = np.arange(12.0).reshape(1, 1, 3, 4)
>>> grid = np.zeros((1, 1, 1, 2))                      # one point: the image's centre
>>> grid_sample(image, grid, align_corners=True).item()
5.5
>>> grad_input, grad_grid = grid_sample_backward(np.ones((1, 1, 1, 1)), image, grid,
...                                              align_corners=True)
>>> grad_input[0, 0].tolist()                          # x = 1.5, y = 1: two pixels share it
[[0.0, 0.0, 0.0, 0.0], [0.0, 0.5, 0.5, 0.0], [0.0, 0.0, 0.0, 0.0]]
>>> grad_grid[0, 0, 0].tolist()                        # d out / d grid
[1.5, 4.0]

(the image grows by 1 per pixel in x and 4 in y, times the un-normalization's scale:
(W - 1) / 2 = 1.5 and (H - 1) / 2 = 1).

Fitting a rotation by gradient descent, with nothing but NumPy and these two functions (the
README's "Gradients" section has the same example with its output):

>>> from gswarp import affine_sample
>>> from gswarp.autodiff import affine_sample_backward
>>> yy, xx = np.mgrid[-1:1:64j, -1:1:64j]
>>> fixed = np.exp(-((xx - 0.3) ** 2 + 3 * yy**2) * 6)[None, None]    # an elongated blob
>>> def theta_of(angle):
...     c, s = np.cos(angle), np.sin(angle)
...     return np.array([[[c, -s, 0.0], [s, c, 0.0]]])
>>> moving = affine_sample(fixed, theta_of(0.2))                       # rotated by 0.2 rad
>>> angle = 0.0
>>> for step in range(50):
...     warped = affine_sample(moving, theta_of(angle))
...     grad_out = 2 * (warped - fixed) / fixed.size                  # d mean((w - f)^2) / d w
...     _, grad_theta = affine_sample_backward(grad_out, moving, theta_of(angle),
...                                            needs=("theta",))
...     c, s = np.cos(angle), np.sin(angle)
...     d_theta = np.array([[-s, -c, 0.0], [c, -s, 0.0]])             # d theta / d angle
...     angle -= 2.0 * (grad_theta[0] * d_theta).sum()
>>> print(f"{angle:.4f}")                                                # the inverse rotation
-0.2000

Semantics are torch's: its autograd of ``grid_sample`` and ``affine_grid`` is the oracle
(committed fixtures and live tests, ``tests/test_backward.py``); see ``docs/engine.md``
("Backward passes") for the formulas, the order of the sums, threads and NaN points.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from gswarp.engine.device import backend_for, is_device_array, module_of
from gswarp.errors import DTypeError, ShapeError, SpecError
from gswarp.sampling import parse_mode, parse_padding

__all__ = [
    "affine_grid_backward",
    "affine_sample_backward",
    "grid_sample_backward",
    "warp_affine_backward",
    "warp_flow_backward",
]


def grid_sample_backward(
    grad_output: np.ndarray,
    input: np.ndarray,
    grid: np.ndarray,
    mode: str = "bilinear",
    padding_mode: str = "zeros",
    align_corners: bool | None = False,
    needs: Sequence[str] = ("input", "grid"),
    *,
    fill: float | Sequence[float] = 0.0,
) -> tuple[np.ndarray | None, np.ndarray | None]:
    """The gradients of ``grid_sample(input, grid, mode, padding_mode, align_corners, fill=fill)``
    for ``input`` and for ``grid``, given the gradient of the loss for its output.

    Parameters
    ----------
    grad_output : ndarray, shape (N, C, H_out, W_out) or (N, C, D_out, H_out, W_out)
    input : ndarray, shape (N, C, H, W) or (N, C, D, H, W), float32 or float64
    grid : ndarray, shape (N, H_out, W_out, 2) or (N, D_out, H_out, W_out, 3), the input's dtype
        Normalized coordinates, (x, y[, z]) in the last axis, as for :func:`gswarp.grid_sample`.
    mode : 'bilinear', 'nearest' or 'bicubic' (tricubic on volumes)
    padding_mode, align_corners, fill
        As for :func:`gswarp.grid_sample`.
    needs : which gradients to compute: 'input', 'grid' or both (one may be a string).

    Returns
    -------
    (grad_input, grad_grid)
        Arrays of ``input``'s and ``grid``'s shapes and dtype; None for one not in ``needs``.
        ``grad_grid`` of 'nearest' is zero, as torch's.
    """
    parsed, padding, align, needs = _options(mode, padding_mode, align_corners, needs, "grid")
    grad_output, input, grid = (_array(a) for a in (grad_output, input, grid))
    _check_input(grad_output, input)
    _check_like_input(grid, "grid", input)
    k = input.ndim - 2
    if grid.ndim != input.ndim or grid.shape[-1] != k or grid.shape[0] != input.shape[0]:
        raise ShapeError(
            f"grid: expected (N, *spatial_out, {k}) with N = {input.shape[0]}, got {grid.shape}"
        )
    _check_grad_output(grad_output, (*input.shape[:2], *grid.shape[1:-1]))
    return _run("grid", grad_output, input, grid, parsed, padding, align, fill, needs)


def affine_grid_backward(
    grad_grid: np.ndarray, size: Sequence[int], align_corners: bool | None = False
) -> np.ndarray:
    """The gradient of ``affine_grid(theta, size, align_corners)`` for ``theta``:
    ``grad_theta[n] = grad_grid[n]ᵀ @ base`` with ``base`` the grid's normalized output
    coordinates ``(x, y[, z], 1)`` (torch's ``affine_grid`` backward).

    Parameters
    ----------
    grad_grid : ndarray, shape (N, H, W, 2) or (N, D, H, W, 3), float32 or float64
    size : sequence of int, the ``size`` given to ``affine_grid``
    align_corners : bool

    Returns
    -------
    ndarray, shape (N, 2, 3) or (N, 3, 4), ``grad_grid``'s dtype (summed in float64).
    """
    from gswarp.engine.api import affine_grid, check_size

    size = check_size(size)
    grad_grid = _array(np.asarray(grad_grid))
    k = len(size) - 2
    expected = (size[0], *size[2:], k)
    if grad_grid.shape != expected:
        raise ShapeError(f"grad_grid: expected shape {expected}, got {grad_grid.shape}")
    if grad_grid.dtype not in (np.float32, np.float64):
        raise DTypeError(f"grad_grid: expected float32 or float64, got {grad_grid.dtype}")
    identity = np.eye(k, k + 1, dtype=grad_grid.dtype)[None]
    base = affine_grid(identity, (1, 1, *size[2:]), align_corners).reshape(-1, k)
    base = np.concatenate([base, np.ones((base.shape[0], 1), base.dtype)], axis=1)
    flat = grad_grid.reshape(size[0], -1, k).astype(np.float64)
    grad_theta = np.einsum("npk,pj->nkj", flat, base.astype(np.float64))
    return grad_theta.astype(grad_grid.dtype)


def warp_affine_backward(
    grad_output: np.ndarray,
    input: np.ndarray,
    matrix: np.ndarray,
    mode: str = "bilinear",
    padding_mode: str = "zeros",
    align_corners: bool | None = False,
    needs: Sequence[str] = ("input", "matrix"),
    *,
    fill: float | Sequence[float] = 0.0,
) -> tuple[np.ndarray | None, np.ndarray | None]:
    """The gradients of ``warp_affine(input, matrix, grad_output.shape, ...)`` for ``input`` and
    for the pixel-space ``matrix`` (output pixel ``(x, y[, z], 1)`` -> input pixel), computed
    point by point like the forward pass: no grid is stored.

    Parameters
    ----------
    grad_output : ndarray, shape (N, C, *spatial_out)
    input : ndarray, shape (N, C, H, W) or (N, C, D, H, W), float32 or float64
    matrix : ndarray, shape (k, k + 1) or (N, k, k + 1)
    mode, padding_mode, align_corners, fill
        As for :func:`gswarp.warp_affine` (bicubic: tricubic on volumes).
    needs : 'input', 'matrix' or both.

    Returns
    -------
    (grad_input, grad_matrix)
        ``grad_input`` of ``input``'s shape and dtype; ``grad_matrix`` float64 (N, k, k + 1)
        (summed per output row in float64, then over the rows in order). None for one not in
        ``needs``.
    """
    from gswarp.engine.api import pixel_matrices

    parsed, padding, align, needs = _options(mode, padding_mode, align_corners, needs, "matrix")
    grad_output, input = _array(grad_output), _array(input)
    _check_input(grad_output, input)
    matrix = pixel_matrices(matrix, input)
    _check_grad_output(grad_output, (*input.shape[:2], *grad_output.shape[2:]))
    needs = ["grid" if name == "matrix" else name for name in needs]
    return _run("affine", grad_output, input, matrix, parsed, padding, align, fill, needs)


def affine_sample_backward(
    grad_output: np.ndarray,
    input: np.ndarray,
    theta: np.ndarray,
    mode: str = "bilinear",
    padding_mode: str = "zeros",
    align_corners: bool | None = False,
    needs: Sequence[str] = ("input", "theta"),
    *,
    fill: float | Sequence[float] = 0.0,
) -> tuple[np.ndarray | None, np.ndarray | None]:
    """The gradients of ``affine_sample(input, theta, grad_output.shape, ...)`` for ``input`` and
    for torch's ``theta``, without materializing the grid: the memory is that of the forward
    pass (``grad_input``, and per output row one (k, k + 1) partial sum).

    ``theta``'s gradient is the pixel-space matrix's (:func:`warp_affine_backward`) carried back
    through :func:`gswarp.transforms.theta_to_pixel_matrix`, which is affine in ``theta``.
    It equals ``affine_grid_backward`` of ``grid_sample_backward``'s grid gradient within the
    rounding by which ``affine_sample`` differs from the two-step forward pass.

    Parameters
    ----------
    grad_output : ndarray, shape (N, C, *spatial_out)
    input : ndarray, shape (N, C, H, W) or (N, C, D, H, W), float32 or float64
    theta : ndarray, shape (N, 2, 3) or (N, 3, 4)
    mode, padding_mode, align_corners, fill
        As for :func:`gswarp.affine_sample`.
    needs : 'input', 'theta' or both.

    Returns
    -------
    (grad_input, grad_theta)
        ``grad_theta`` of ``theta``'s shape and dtype; None for one not in ``needs``.
    """
    from gswarp.engine.api import check_matrices
    from gswarp.transforms import theta_to_pixel_matrix

    needs = _options(mode, padding_mode, align_corners, needs, "theta")[3]
    input = _array(input)
    theta = check_matrices(theta, "theta", input)
    grad_output = _array(grad_output)
    spatial_in, spatial_out = input.shape[2:], grad_output.shape[2:]
    matrix = theta_to_pixel_matrix(theta, spatial_in, spatial_out, bool(align_corners))
    needs = ["matrix" if name == "theta" else name for name in needs]
    grad_input, grad_matrix = warp_affine_backward(
        grad_output, input, matrix, mode, padding_mode, align_corners, needs, fill=fill
    )
    if grad_matrix is None:
        return grad_input, None
    jacobian = _theta_jacobian(theta.shape[1], spatial_in, spatial_out, bool(align_corners))
    grad_theta = grad_matrix.reshape(len(theta), -1) @ jacobian
    return grad_input, grad_theta.reshape(theta.shape).astype(theta.dtype)


def warp_flow_backward(
    grad_output: np.ndarray,
    input: np.ndarray,
    flow: np.ndarray,
    mode: str = "bilinear",
    padding_mode: str = "zeros",
    align_corners: bool | None = False,
    needs: Sequence[str] = ("input", "flow"),
    *,
    kind: str = "displacement",
    fill: float | Sequence[float] = 0.0,
) -> tuple[np.ndarray | None, np.ndarray | None]:
    """The gradients of ``warp_flow(input, flow, grad_output.shape, mode, padding_mode,
    align_corners, kind=kind, fill=fill)`` for ``input`` and for the flow field.

    A field coarser than the input (a lattice: ``warp_flow`` interpolates it bilinearly over the
    input's extent, edges continued) gets the transpose of that interpolation -- the gradient
    at the lattice's resolution, so a field can be optimized there. This composes
    :func:`grid_sample_backward` twice and stores the sampling coordinates (k values per output
    point) and, for a lattice, the gradient at every output point before it is gathered. On the
    GPU (CuPy arrays, or ``use_backend("cuda")``) every step runs there.

    Parameters
    ----------
    grad_output : ndarray, shape (N, C, *spatial_out)
    input : ndarray, shape (N, C, H, W) or (N, C, D, H, W), float32 or float64
    flow : ndarray, shape (H_f, W_f, 2) or (D_f, H_f, W_f, 3), input pixels (x, y[, z])
    mode, padding_mode, align_corners, kind, fill
        As for :func:`gswarp.warp_flow`.
    needs : 'input', 'flow' or both.

    Returns
    -------
    (grad_input, grad_flow)
        ``grad_flow`` float64 of ``flow``'s shape (summed over the batch: one field warps every
        item). None for one not in ``needs``.
    """
    from gswarp.engine.api import grid_sample
    from gswarp.transforms import resize_matrix

    _, _, align, needs = _options(mode, padding_mode, align_corners, needs, "flow")
    if kind not in ("displacement", "coordinates"):
        raise SpecError(f"kind: expected 'displacement' or 'coordinates', got {kind!r}")
    grad_output, input = _array(grad_output), _array(input)
    xp = module_of(input)
    grad_output = xp.asarray(grad_output)
    _check_input(grad_output, input)
    k = input.ndim - 2
    flow = xp.asarray(flow, dtype=np.float64)
    if flow.ndim != k + 1 or flow.shape[-1] != k:
        expected = "(H_f, W_f, 2)" if k == 2 else "(D_f, H_f, W_f, 3)"
        raise ShapeError(f"flow: expected {expected} for this input, got {flow.shape}")
    input_spatial, output_spatial = input.shape[2:], grad_output.shape[2:]
    field_spatial = flow.shape[:-1]
    points = _pixel_points(output_spatial, xp)  # (*out, k) output pixels (x, y[, z])
    if output_spatial != input_spatial:  # the output grid stretched over the input's extent
        points = _moved(points, resize_matrix(input_spatial, output_spatial, align), xp)
    field_grid = None
    field_image = xp.ascontiguousarray(xp.moveaxis(flow, -1, 0)[None])  # (1, k, *field)
    values = flow
    if field_spatial != input_spatial or output_spatial != input_spatial:
        field_points = _moved(points, resize_matrix(field_spatial, input_spatial, align), xp)
        field_grid = _normalized(field_points, field_spatial, align, xp)[None]
        values = xp.moveaxis(
            grid_sample(field_image, field_grid, "bilinear", "border", align)[0], 0, -1
        )
    source = values if kind == "coordinates" else points + values
    grid = _normalized(source, input_spatial, align, xp).astype(input.dtype)
    grid = xp.ascontiguousarray(xp.broadcast_to(grid[None], (input.shape[0], *grid.shape)))
    coordinate_needs = [("grid" if name == "flow" else name) for name in needs]
    grad_input, grad_grid = grid_sample_backward(
        grad_output, input, grid, mode, padding_mode, align, coordinate_needs, fill=fill
    )
    if grad_grid is None:
        return grad_input, None
    # d grid / d source pixel, per axis: 2 / (S - 1) with align_corners, 2 / S without
    sizes = np.array(input_spatial[::-1], dtype=np.float64)
    grad_source = grad_grid.astype(np.float64).sum(axis=0)
    grad_source *= xp.asarray(2 / (np.maximum(sizes - 1, 1) if align else sizes))
    if field_grid is None:
        return grad_input, grad_source
    grad_field, _ = grid_sample_backward(
        xp.ascontiguousarray(xp.moveaxis(grad_source, -1, 0)[None]), field_image, field_grid,
        "bilinear", "border", align, needs=("input",),
    )  # fmt: skip
    return grad_input, xp.moveaxis(grad_field[0], 0, -1)


def _pixel_points(spatial, xp=np):
    """(*spatial, k) float64: the pixel coordinates (x, y[, z]) of every point of a grid."""
    return xp.moveaxis(xp.indices(spatial, dtype=np.float64)[::-1], 0, -1)


def _moved(points, matrix: np.ndarray, xp=np):
    """``points`` (*, k) through a (k, k+1) NumPy ``matrix``, on ``points``' device."""
    k = points.shape[-1]
    return points @ xp.asarray(matrix[:, :k].T) + xp.asarray(matrix[:, k])


def _normalized(points, spatial, align: bool, xp=np):
    """Pixel coordinates (x, y[, z] last) -> grid_sample's normalized coordinates."""
    sizes = np.array(spatial[::-1], dtype=np.float64)
    if align:
        return 2 * points / xp.asarray(np.maximum(sizes - 1, 1)) - 1
    return (2 * points + 1) / xp.asarray(sizes) - 1


def _array(value):
    """A CuPy array as it is; anything else as a NumPy array in native byte order."""
    from gswarp.sampling import native_order

    return value if is_device_array(value) else native_order(np.asarray(value))


def _theta_jacobian(k: int, spatial_in, spatial_out, align_corners: bool) -> np.ndarray:
    """d vec(M) / d vec(theta) of :func:`gswarp.transforms.theta_to_pixel_matrix` (an affine
    map, so its columns are the images of the unit matrices less the image of zero)."""
    from gswarp.transforms import theta_to_pixel_matrix

    count = k * (k + 1)
    basis = np.concatenate([np.zeros((1, count)), np.eye(count)]).reshape(-1, k, k + 1)
    images = theta_to_pixel_matrix(basis, spatial_in, spatial_out, align_corners)
    images = images.reshape(count + 1, count)
    return (images[1:] - images[0]).T


def _options(mode, padding_mode, align_corners, needs, coordinate: str):
    """(mode, padding, align_corners, needs as a tuple; one name may be given as a string)."""
    parsed = parse_mode(mode, "mode", filters=False)
    padding = parse_padding(padding_mode, "padding_mode")
    needs = (needs,) if isinstance(needs, str) else tuple(needs)
    unknown = set(needs) - {"input", coordinate}
    if unknown:
        raise SpecError(f"needs: expected 'input' and/or {coordinate!r}, got {sorted(unknown)}")
    return parsed, padding, bool(align_corners), needs


def _run(source, grad_output, input, coordinates, mode, padding, align, fill, needs):
    """Run the backward kernels of ``source`` ('grid': a normalized grid; 'affine': float64
    pixel-space matrices): (grad_input or None, grad_grid / grad_matrix or None)."""
    from gswarp.engine.api import fill_arrays

    ct = np.float32 if input.dtype == np.float32 else np.float64
    fill_c, _ = fill_arrays(fill, input, ct)
    if backend_for(input) == "cuda":
        return _run_cuda_core(
            source, grad_output, input, coordinates, mode, padding, align, fill_c, needs
        )
    grad_output, input = np.ascontiguousarray(grad_output), np.ascontiguousarray(input)
    coordinates = np.ascontiguousarray(coordinates)
    return _run_core(source, grad_output, input, coordinates, mode, padding, align, fill_c, needs)


def _run_core(source, grad_output, input, coordinates, mode, padding, align, fill, needs):
    """:func:`_run` on the compiled core (``src/gswarp_core/backward.hpp``): contiguous NumPy
    arrays in."""
    from gswarp.engine import core

    affine = source == "affine"
    local = _is_local(source, input, coordinates)
    grad_input = grad_coordinates = None
    if "input" in needs:
        grad_input = np.empty(input.shape, dtype=input.dtype)
        groups = input.shape[0] * (1 if local else input.shape[1])
        bands = _scatter_bands(groups, input.shape[2], core.get_num_threads())
        core.backward_input(
            grad_output, input, coordinates, grad_input, mode, padding, align, fill, affine,
            bands, local,
        )  # fmt: skip
    if "grid" in needs:
        if affine:
            rows = int(np.prod(grad_output.shape[2:-1])) * len(input)
            partial = np.empty((rows, *coordinates.shape[1:]))
            core.backward_coordinates(
                grad_output, input, coordinates, partial, mode, padding, align, fill, True, local
            )
            grad_coordinates = partial.reshape(len(input), -1, *coordinates.shape[1:]).sum(1)
        else:
            grad_coordinates = np.empty(coordinates.shape, dtype=coordinates.dtype)
            core.backward_coordinates(
                grad_output, input, coordinates, grad_coordinates, mode, padding, align, fill,
                False, local,
            )  # fmt: skip
    return grad_input, grad_coordinates


def _run_cuda_core(source, grad_output, input, coordinates, mode, padding, align, fill, needs):
    """:func:`_run` by the C++ core's CUDA kernels (``src/cuda/backward.cuh``): the coordinate
    gradients have the CPU's bits, grad_input is summed by atomics. CuPy arrays in, CuPy arrays
    out; NumPy arrays (``use_backend('cuda')``) are copied over and the results back. A matrix
    gradient comes back as a NumPy array (its rows' shares summed on the host, as on the
    CPU)."""
    from gswarp.engine import cuda_core

    runner = cuda_core.cupy_runner()
    on_host = not is_device_array(input)
    grad_output, input = (_contiguous(runner.device(a)) for a in (grad_output, input))
    affine = source == "affine"  # matrices stay on the host; a grid goes to the device
    coordinates = (
        np.ascontiguousarray(coordinates) if affine else _contiguous(runner.device(coordinates))
    )
    grad_input = runner.zeros(input.shape, input.dtype) if "input" in needs else None
    grad_coordinates = None
    if "grid" in needs and affine:
        rows = int(np.prod(grad_output.shape[2:-1])) * len(input)
        grad_coordinates = runner.empty((rows, *coordinates.shape[1:]), np.float64)
    elif "grid" in needs:
        grad_coordinates = runner.empty(coordinates.shape, coordinates.dtype)
    cuda_core.backward(source, grad_output, input, coordinates, grad_input, grad_coordinates,
                       mode, padding, align, fill, runner=runner)  # fmt: skip
    if affine and grad_coordinates is not None:
        partial = runner.host(grad_coordinates)
        grad_coordinates = partial.reshape(len(input), -1, *partial.shape[1:]).sum(1)
    elif on_host and grad_coordinates is not None:
        grad_coordinates = runner.host(grad_coordinates)
    if on_host and grad_input is not None:
        grad_input = runner.host(grad_input)
    return grad_input, grad_coordinates


def _contiguous(array):
    """``array`` C-contiguous, in its own array module."""
    return module_of(array).ascontiguousarray(array)


def _check_input(grad_output: np.ndarray, input: np.ndarray) -> None:
    if input.dtype not in (np.float32, np.float64):
        raise DTypeError(f"input: expected float32 or float64 for gradients, got {input.dtype}")
    if input.ndim not in (4, 5):
        raise ShapeError(f"input: expected (N, C, H, W) or (N, C, D, H, W), got {input.shape}")
    _check_like_input(grad_output, "grad_output", input)
    if grad_output.ndim != input.ndim:
        raise ShapeError(
            f"grad_output: expected {input.ndim} dimensions like the input, got {grad_output.shape}"
        )


def _check_like_input(array: np.ndarray, name: str, input: np.ndarray) -> None:
    if array.dtype != input.dtype:
        raise DTypeError(f"{name}: expected the input's dtype {input.dtype}, got {array.dtype}")


def _check_grad_output(grad_output: np.ndarray, expected: tuple) -> None:
    if grad_output.shape != tuple(expected):
        raise ShapeError(f"grad_output: expected shape {tuple(expected)}, got {grad_output.shape}")


# The median step, in input pixels, between neighbouring output points up to which the CPU
# kernels take all of a point's channels at once (see _is_local).
_LOCAL_STEP = 16.0


def _is_local(source: str, input: np.ndarray, coordinates: np.ndarray) -> bool:
    """Whether neighbouring output points along a row read input pixels at most
    ``_LOCAL_STEP`` apart (median of up to 32 rows of a grid; an affine matrix's column step).

    It picks how the CPU kernels order their work, which changes the speed only, never the
    bytes (each input pixel receives its terms in output-point order, each point's channels
    are summed in channel order). Local (a smooth grid, an affine map): each job takes every
    channel of a point, so the point's coordinates are computed once (measured 1x3x2048^2
    rotated, 2 threads: scatter 60-64 against 118 ms one plane at a time). Not local (a random
    grid): the scatter and the 2-D grid gradient take one channel plane at a time, which keeps
    their scattered reads and adds within one plane's cache footprint (scatter 218 against 428
    ms; grid gradient, scratch kernel, 92 against 178 ms).
    """
    if source == "affine":
        return bool(np.abs(coordinates[..., 0]).max(initial=0.0) <= _LOCAL_STEP)
    spatial = input.ndim - 2
    half_size = np.array(input.shape[:1:-1], dtype=np.float64) / 2  # (W, H[, D]): grid's order
    rows = coordinates.reshape(-1, coordinates.shape[-2], spatial)
    rows = rows[:: max(1, len(rows) // 32)].astype(np.float64)
    steps = (np.abs(np.diff(rows, axis=1)) * half_size).max(axis=-1, initial=0.0)
    steps = steps[np.isfinite(steps)]
    return steps.size == 0 or float(np.median(steps)) <= _LOCAL_STEP


def _scatter_bands(groups: int, extent: int, threads: int) -> int:
    """Bands of rows (2-D) or slices (3-D) of ``extent`` per channel group (the kernels' jobs
    without bands) for the CPU scatter into ``grad_input``.

    Each band is owned by one job, which scans every output point in order and adds only into
    its band: the sum at each input pixel is in output-point order whatever the number of
    bands, so the bytes do not depend on it (nor on the thread count). The fewest bands that
    make the job count a multiple of the kernel's ``threads``: a 3-channel image on 2 threads,
    one plane at a time, scans each plane twice (half the rows each) rather than leaving one
    thread two planes (measured with the numba kernels of the time on 1x3x2048^2, 2 threads: 210-239
    against 262-278 ms); with groups that divide evenly, 1 band each was as fast or faster.
    """
    import math

    return max(1, min(threads // math.gcd(threads, groups), extent))
