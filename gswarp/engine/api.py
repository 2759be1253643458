"""Sampling functions on NumPy arrays: torch's ``grid_sample`` and ``affine_grid``, and the fused
affine warps ``affine_sample`` (torch's ``theta``) and ``warp_affine`` (a pixel-space matrix).

Convention (every function here)
--------------------------------
* Layout: images ``(N, C, H, W)``, volumes ``(N, C, D, H, W)``; any strides (an NCHW view of an
  HWC image is used as it is, without a copy).
* Grids: ``(N, H_out, W_out, 2)`` / ``(N, D_out, H_out, W_out, 3)``; the last axis is
  ``(x, y[, z])``: x indexes W, y indexes H, z indexes D. Values are normalized: ``(-1, -1)`` is
  the top-left corner.
* ``align_corners=False`` (the default, as in torch): -1 and +1 are the outer edges of the corner
  pixels. ``align_corners=True``: they are the centres of the corner pixels.
* Nearest rounds half to even; bicubic is Keys' cubic convolution with a = -0.75, and on volumes
  gswarp's tricubic (the same kernel on the three axes).
* Non-finite grid values (NaN, +-inf) make that output point equal to ``fill`` in every padding
  mode (torch's behaviour there differs between its code paths; see the reference notes).

Dtypes
------
float32 and float64 inputs compute in their own precision, like torch; float16 computes in float32.
8- and 16-bit integer inputs compute in float32, 32- and 64-bit integers in float64 (so that an
identity warp returns every int32 value exactly), and come back in their own dtype, rounded half to
even and clipped to the dtype's range. Nearest copies values and never converts them. bool inputs
require ``mode='nearest'``. Grids may have any floating dtype; they are read in the input's
compute precision (torch requires the grid and input dtypes to match). Affine matrices (``theta``
or pixel-space) are used in float64, whatever their dtype.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from gswarp.engine.device import backend_for, host, is_device_array, module_of
from gswarp.errors import DTypeError, ShapeError, SpecError
from gswarp.sampling import Mode, native_order, parse_mode, parse_padding
from gswarp.transforms import theta_to_pixel_matrix

__all__ = [
    "affine_grid",
    "affine_sample",
    "grid_sample",
    "sample_field",
    "sample_pixels",
    "warp_affine",
]

_FLOAT32_COMPUTE = {
    np.dtype(t) for t in (np.float16, np.float32, np.int8, np.uint8, np.int16, np.uint16, np.bool_)
}
_FLOAT64_COMPUTE = {np.dtype(t) for t in (np.float64, np.int32, np.uint32, np.int64, np.uint64)}


# --------------------------------------------------------------------------------------------
# argument checking (check_size, check_matrices, pixel_matrices, fill_arrays: shared with
# gswarp.autodiff and the chunked kernels, not part of gswarp's public API)


def _shape_text(shape: Sequence[int]) -> str:
    return "(" + ", ".join(str(int(s)) for s in shape) + ")"


def _check_array(value: Any, argument: str) -> np.ndarray:
    if is_device_array(value):
        return value
    if not isinstance(value, np.ndarray):
        raise DTypeError(
            f"{argument}: expected a numpy.ndarray or cupy.ndarray, got {type(value).__name__}"
        )
    return native_order(value)


def _compute_type(dtype: np.dtype, argument: str) -> type:
    if dtype in _FLOAT32_COMPUTE:
        return np.float32
    if dtype in _FLOAT64_COMPUTE:
        return np.float64
    raise DTypeError(
        f"{argument}: dtype {dtype} is not supported; expected a float (float16/32/64), "
        "an integer (int8/16/32/64, uint8/16/32/64) or bool array"
    )


def _check_float(value: np.ndarray, argument: str) -> None:
    if value.dtype.kind != "f":
        raise DTypeError(f"{argument}: expected a floating-point array, got dtype {value.dtype}")


def _check_input(input: Any, argument: str = "input") -> np.ndarray:
    input = _check_array(input, argument)
    if input.ndim not in (4, 5):
        raise ShapeError(
            f"{argument}: expected a 4-D (N, C, H, W) or 5-D (N, C, D, H, W) array, "
            f"got shape {_shape_text(input.shape)}"
        )
    _compute_type(input.dtype, argument)
    if any(s == 0 for s in input.shape[2:]):
        raise ShapeError(
            f"{argument}: expected non-empty spatial dimensions, got shape "
            f"{_shape_text(input.shape)}"
        )
    return input


def _check_mode(mode: Any, input: np.ndarray) -> Mode:
    parsed = parse_mode(mode, "mode", filters=False)
    if input.dtype == np.bool_ and parsed != Mode.NEAREST:
        raise DTypeError(f"mode: bool input requires mode='nearest', got {parsed.label!r}")
    return parsed


def _check_align(align_corners: Any) -> bool:
    if align_corners is None:
        return False
    if not isinstance(align_corners, (bool, np.bool_)):
        raise SpecError(f"align_corners: expected True or False, got {align_corners!r}")
    return bool(align_corners)


def fill_arrays(fill: Any, input: np.ndarray, ct: type) -> tuple[np.ndarray, np.ndarray]:
    """The fill value per channel, once in the compute dtype and once in the input's dtype."""
    channels = input.shape[1]
    try:
        values = np.asarray(fill, dtype=np.float64)
    except (TypeError, ValueError):
        raise SpecError(
            f"fill: expected a number or a sequence of {channels} numbers, got {fill!r}"
        ) from None
    if values.ndim == 0:
        values = np.full(channels, float(values))
    if values.ndim != 1 or values.shape[0] != channels:
        raise SpecError(
            f"fill: expected a number or a sequence of {channels} numbers (one per channel), "
            f"got {fill!r}"
        )
    dtype = input.dtype
    if dtype.kind in "iub":
        if not np.all(np.isfinite(values)):
            raise SpecError(f"fill: {dtype} input needs a finite fill value, got {fill!r}")
        if dtype == np.bool_:
            if not np.all((values == 0) | (values == 1)):
                raise SpecError(f"fill: bool input needs a fill of 0 or 1, got {fill!r}")
            native = values.astype(np.uint8)
        else:
            info = np.iinfo(dtype)
            native = np.clip(np.rint(values), info.min, info.max).astype(dtype)
    else:
        native = values.astype(dtype)
    return values.astype(ct), native


_PAGE = 4096


def _new_output(shape: tuple[int, ...], dtype: np.dtype) -> np.ndarray:
    """A fresh output array whose pages are already mapped.

    Measured here: when the kernel's threads take the first-touch page faults of a fresh 48 MiB
    output concurrently, a 2048x2048x3 warp sometimes took 80 ms instead of 40 ms; touching one
    byte per page first, on one thread, costs about 3 ms and removed the slow cases.
    """
    out = np.empty(shape, dtype=dtype)
    if out.nbytes >= 64 * _PAGE:
        out.reshape(-1).view(np.uint8)[::_PAGE] = 0
    return out


def _check_out(
    out: Any, shape: tuple[int, ...], dtype: np.dtype, input: np.ndarray, *sources: Any
) -> np.ndarray:
    """The array the result goes into: ``out`` itself (any byte order, alignment and strides;
    :func:`_kernel_arrays` stages what a kernel cannot write directly), or a fresh one.

    Raises
    ------
    ShapeError, DTypeError, SpecError
        ``out`` has another shape or dtype (byte order aside), lives on the other device, is
        read-only, or shares memory with ``input`` or a source array (grid, coordinates, field):
        a kernel would read values it has already overwritten.
    """
    device = is_device_array(input)
    if out is None:
        return module_of(input).empty(shape, dtype=dtype) if device else _new_output(shape, dtype)
    if not (isinstance(out, np.ndarray) or is_device_array(out)):
        raise DTypeError(f"out: expected a numpy.ndarray or cupy.ndarray, got {type(out).__name__}")
    if is_device_array(out) != device:
        where = "GPU (CuPy)" if device else "CPU (NumPy)"
        raise DTypeError(f"out: expected an array on the input's device, the {where}")
    if out.shape != shape or out.dtype.newbyteorder("=") != dtype:
        raise ShapeError(
            f"out: expected shape {_shape_text(shape)} and dtype {dtype}, "
            f"got shape {_shape_text(out.shape)} and dtype {out.dtype}"
        )
    if not device and not out.flags.writeable:
        raise SpecError("out: expected a writeable array")
    xp = module_of(input)
    for name, other in (("input", input), *(("the source", s) for s in sources)):
        if (
            other is not None
            and is_device_array(other) == device
            and xp.may_share_memory(out, other)
        ):
            raise SpecError(f"out: must not share memory with {name}")
    return out


def _same_device(value: Any, input: Any, argument: str) -> Any:
    """``value`` on the input's device: a CuPy input takes NumPy grids (copied over); a NumPy
    input refuses CuPy ones (the result would live on the CPU)."""
    if is_device_array(input) and not is_device_array(value):
        return module_of(input).asarray(value)
    if is_device_array(value) and not is_device_array(input):
        raise DTypeError(f"{argument}: a CuPy array needs a CuPy input, got a NumPy input")
    return value


def _kernel_arrays(input, out, mode, fill_n):
    """Arrays as the kernels take them: same bytes where possible (no kernel takes bool or
    float16).
    Returns ``(input, output, fill_native, result)``: ``result`` is a buffer that must be
    copied into ``out`` afterwards, or None. A kernel writes native-order, aligned memory only:
    an ``out`` of another byte order (a big-endian file's dtype) or a misaligned one is staged
    in a fresh native array.
    """
    result = None
    if not is_device_array(out) and not (out.dtype.isnative and out.flags.aligned):
        result = out = np.empty(out.shape, dtype=out.dtype.newbyteorder("="))
    if input.dtype == np.bool_:
        return input.view(np.uint8), out.view(np.uint8), fill_n.view(np.uint8), result
    if input.dtype == np.float16:
        if mode == Mode.NEAREST:  # nearest copies values: move the float16 bits untouched
            return input.view(np.uint16), out.view(np.uint16), fill_n.view(np.uint16), result
        result = module_of(input).empty(out.shape, dtype=np.float32)
        return input.astype(np.float32), result, fill_n, result
    return input, out, fill_n, result


def _kernel_inputs(input, source, out, mode, fill, ct):
    """What every sampling run hands its kernel: ``(input, source, output, fill_c, fill_n,
    result)`` -- :func:`_kernel_arrays`' arrays, the source (grid, matrices, field) with float16
    read as float32, and the fill in the compute and in the input dtype."""
    fill_c, fill_n = fill_arrays(fill, input, ct)
    k_input, k_out, fill_n, result = _kernel_arrays(input, out, mode, fill_n)
    if source.dtype == np.float16:
        source = source.astype(np.float32)
    return k_input, source, k_out, fill_c, fill_n, result


def _run(source_kind, input, source, out, mode, padding, align_corners, fill, ct, extra=()) -> None:
    k_input, source, k_out, fill_c, fill_n, result = _kernel_inputs(
        input, source, out, mode, fill, ct
    )
    if backend_for(input) == "cuda":
        _run_cuda_core(source_kind, k_input, source, k_out, mode, padding, align_corners,
                       fill_c, _native_fill(fill_n, fill_c, k_input), extra)  # fmt: skip
        if result is not None:
            out[...] = result
        return
    from gswarp.engine import core

    native = _native_fill(fill_n, fill_c, k_input)
    if source_kind == "flow":
        core.flow_sample(
            k_input, source, k_out, mode, padding, align_corners, fill_c, native, 0,
            _rows(out.shape), *extra,
        )  # fmt: skip
    elif source_kind == "affine":
        core.affine_sample(
            k_input, source, k_out, mode, padding, align_corners, fill_c, native, 0,
            _rows(out.shape), *extra,
        )  # fmt: skip
    else:
        core.grid_sample(
            k_input, source, k_out, mode, padding, align_corners, source_kind == "pixels",
            fill_c, native, 0, _rows(out.shape),
        )  # fmt: skip
    if result is not None:  # float16: computed in float32, rounded to nearest even by NumPy
        out[...] = result


def _run_cuda_core(kind, inp, source, out, mode, padding, align, fill_c, native, extra) -> None:
    """Sampling by the C++ core's CUDA kernels (:mod:`gswarp.engine.cuda_core`): the CPU
    kernels' per-point functions, the CPU engine's bits. NumPy arrays (``use_backend('cuda')``)
    are copied to the device and the result back."""
    from gswarp.engine import cuda_core

    runner = cuda_core.cupy_runner()
    inp, written = runner.device(inp), runner.output(out)
    if kind == "flow":
        maps, absolute, direct, separable, origin, shift = extra
        cuda_core.flow_sample(
            inp, runner.field(source), written, mode, padding, align, fill_c, native, maps,
            absolute, direct, separable, origin, shift, runner=runner,
        )  # fmt: skip
    elif kind == "affine":
        origin, shift = extra
        cuda_core.affine_sample(
            inp, source, written, mode, padding, align, fill_c, native, origin, shift,
            runner=runner,
        )  # fmt: skip
    else:
        cuda_core.grid_sample(
            inp, runner.device(source), written, mode, padding, align, kind == "pixels", fill_c,
            native, runner=runner,
        )  # fmt: skip
    runner.copy_back(written, out)


def _native_fill(fill_n: np.ndarray, fill_c: np.ndarray, k_input: np.ndarray) -> np.ndarray:
    """The fill in the kernel input's dtype (a bool or float16 input's reinterpreted one)."""
    return fill_n if fill_n.dtype == k_input.dtype else fill_c.astype(k_input.dtype)


def _run_antialias(source_kind, input, source, out, mode, padding, align, fill, ct, rest) -> None:
    """Antialiased sampling (``src/gswarp_core/antialias.hpp``; the filter:
    ``docs/engine.md``); ``rest``: the source's own arguments
    (:func:`gswarp.engine.core.antialias`)."""
    k_input, source, k_out, fill_c, fill_n, result = _kernel_inputs(
        input, source, out, mode, fill, ct
    )
    if backend_for(input) == "cuda":
        native = _native_fill(fill_n, fill_c, k_input)
        _antialias_cuda_core(source_kind, k_input, source, k_out, mode, padding, align, fill_c,
                             native, rest)  # fmt: skip
    else:
        from gswarp.engine import core

        core.antialias(
            source_kind, k_input, source, k_out, mode, padding, align, fill_c,
            _native_fill(fill_n, fill_c, k_input), 0, _rows(out.shape), rest,
        )  # fmt: skip
    if result is not None:
        out[...] = result


def _antialias_cuda_core(kind, inp, source, out, mode, padding, align, fill_c, native, rest):
    """Antialiased sampling by the C++ core's CUDA kernels (the CPU's bits); NumPy arrays
    copied over and back, as :func:`_run_cuda_core`."""
    from gswarp.engine import cuda_core

    runner = cuda_core.cupy_runner()
    if kind == "flow":
        source = runner.field(source)
    elif kind == "pixels":
        source = runner.device(source)
    inp, written = runner.device(inp), runner.output(out)
    cuda_core.antialias(
        kind, inp, source, written, mode, padding, align, fill_c, native, rest, runner=runner
    )
    runner.copy_back(written, out)


def _antialias_arguments(
    input: np.ndarray, mode: Mode, antialias: bool | str = True
) -> tuple[float, float]:
    """(support, cap) of the antialiasing kernels: the kernel's support (1: the tent of
    bilinear, 2: Keys' cubic of bicubic, 3: Lanczos-3 with ``antialias='lanczos'``) and the
    largest stretch (the input's largest side)."""
    if antialias == "lanczos":
        return 3.0, float(max(input.shape[2:]))
    return (2.0 if mode == Mode.BICUBIC else 1.0), float(max(input.shape[2:]))


def check_antialias(antialias: Any) -> bool | str:
    """``antialias`` as the engine takes it: True, False, or 'lanczos' (a Lanczos-3 footprint
    filter, Pillow's ``LANCZOS`` stretched by the map, not widened); a SpecError otherwise."""
    if isinstance(antialias, (bool, np.bool_)):
        return bool(antialias)
    if antialias == "lanczos":
        return "lanczos"
    raise SpecError(f"antialias: expected True, False or 'lanczos', got {antialias!r}")


def _rows(shape: tuple[int, ...]) -> int:
    """Rows of the flattened (batch, depth, row) index of an (N, C, [D,] H, W) output."""
    rows = shape[0]
    for size in shape[2:-1]:
        rows *= size
    return rows


# --------------------------------------------------------------------------------------------
# public functions


def grid_sample(
    input: np.ndarray,
    grid: np.ndarray,
    mode: str = "bilinear",
    padding_mode: str = "zeros",
    align_corners: bool | None = False,
    *,
    fill: float | Sequence[float] = 0.0,
    out: np.ndarray | None = None,
) -> np.ndarray:
    """Sample ``input`` at the normalized positions in ``grid`` (torch's ``grid_sample``).

    Parameters
    ----------
    input : ndarray, shape (N, C, H, W) or (N, C, D, H, W)
        Any strides; dtype float16/32/64, (u)int8/16/32/64 or bool (nearest only).
    grid : ndarray, shape (N, H_out, W_out, 2) or (N, D_out, H_out, W_out, 3)
        Floating point, any dtype and strides. Last axis ``(x, y[, z])`` normalized to [-1, 1].
    mode : {'bilinear', 'nearest', 'bicubic'}
        'bicubic' on a 5-D input is tricubic (torch rejects it).
    padding_mode : {'zeros', 'border', 'reflection'}
    align_corners : bool
        See the module's Convention section. ``None`` means False.
    fill : float or sequence of C floats, keyword-only
        Value read outside the input with ``padding_mode='zeros'`` (default 0, torch's result),
        and the value of output points whose grid coordinate is NaN or infinite.
    out : ndarray, optional, keyword-only
        Destination with the output shape and the input dtype; may be strided.

    Returns
    -------
    ndarray, shape (N, C, H_out, W_out) or (N, C, D_out, H_out, W_out), dtype of ``input``.

    Examples
    --------
    >>> import numpy as np
    >>> image = np.arange(4.0).reshape(1, 1, 2, 2)
    >>> corners = np.array([[[[-0.5, -0.5], [0.5, 0.5]]]])        # pixel centres (0,0), (1,1)
    >>> grid_sample(image, corners)
    array([[[[0., 3.]]]])
    """
    if out is None and backend_for(input) == "cuda":
        repeated = _repeat_on_gpu(input, grid, mode, padding_mode, align_corners, fill)
        if repeated is not None:
            return repeated
    return _sample_grid("grid", input, grid, mode, padding_mode, align_corners, fill, out)


_GPU_CALLS: dict[tuple, tuple] = {}
"""Signatures of GPU ``grid_sample`` calls the full checks accepted -> what those checks
worked out (mode, padding, align_corners, the fills, the output's shape): the checks depend on
the arguments' types, dtypes, shapes, strides and options only, so a call with the same
signature skips them (issue 31: a launch's host time)."""


def _gpu_signature(input, grid, mode, padding_mode, align_corners, fill) -> tuple | None:
    """The key of :data:`_GPU_CALLS` for these arguments, or None where a call cannot repeat
    (a fill that is not one number)."""
    if type(fill) not in (int, float):
        return None
    try:
        options = (mode, padding_mode, align_corners, fill)
        return (
            type(input),
            input.dtype,
            input.shape,
            input.strides,
            _device_of(input),
            type(grid),
            grid.dtype,
            grid.shape,
            grid.strides,
            _device_of(grid),
            options,
            tuple(map(type, options)),
        )  # fmt: skip  (True and 1 hash alike)
    except (AttributeError, TypeError):  # not arrays, or an unhashable option
        return None


def _device_of(array) -> int:
    return array.data.device_id if is_device_array(array) else -1


def _repeat_on_gpu(input, grid, mode, padding_mode, align_corners, fill):
    """``grid_sample`` on the GPU through a known signature (None: not known, or not one that
    can repeat; the full checks then run and, for a plain call, record it)."""
    from gswarp.engine import cuda_core

    key = _gpu_signature(input, grid, mode, padding_mode, align_corners, fill)
    if key is None:
        return None
    runner = cuda_core.cupy_runner()
    known = _GPU_CALLS.get(key)
    if known is None:
        out = _sample_grid("grid", input, grid, mode, padding_mode, align_corners, fill, None)
        plain = input.dtype in cuda_core.KINDS and grid.dtype in (np.float32, np.float64)
        if plain and runner.on_device(input) and runner.on_device(grid) and len(_GPU_CALLS) < 256:
            ct = _compute_type(input.dtype, "input")
            fill_c, fill_n = fill_arrays(fill, input, ct)
            parsed = (_check_mode(mode, input), parse_padding(padding_mode, "padding_mode"),
                      _check_align(align_corners))  # fmt: skip
            fills = (runner.constant(fill_c), runner.constant(_native_fill(fill_n, fill_c, input)))
            _GPU_CALLS[key] = (*parsed, *fills, out.shape)  # the fills kept on the device
        return out
    mode_code, padding, align, fill_c, native, shape = known
    out = runner.empty(shape, input.dtype)
    if out.size:
        cuda_core.grid_sample(input, grid, out, mode_code, padding, align, False, fill_c, native,
                              runner=runner)  # fmt: skip
    return out


def sample_pixels(
    input: np.ndarray,
    coords: np.ndarray,
    mode: str = "bilinear",
    padding_mode: str = "zeros",
    align_corners: bool | None = False,
    *,
    fill: float | Sequence[float] = 0.0,
    out: np.ndarray | None = None,
    antialias: bool | str = False,
) -> np.ndarray:
    """:func:`grid_sample` with a grid of *pixel* coordinates instead of normalized ones.

    Parameters
    ----------
    input : ndarray, shape (N, C, H, W) or (N, C, D, H, W)
    coords : ndarray, shape (N, H_out, W_out, 2) or (N, D_out, H_out, W_out, 3)
        Last axis ``(x, y[, z])`` in input pixels: pixel centres at integers, x along W, y along
        H, z along D. Read in the input's compute precision (float32 for float32 and 8/16-bit
        inputs), so integer positions are exact.
    mode, padding_mode, fill, out
        As in :func:`grid_sample`.
    align_corners : bool
        Only sets where reflection padding mirrors (pixel centres 0 and S - 1 when True, the
        outer edges -0.5 and S - 0.5 when False).
    antialias : bool or 'lanczos', keyword-only
        Average the input over each output pixel's footprint where the map shrinks
        (``docs/engine.md``, "The antialiasing footprint"); the footprint comes from the
        coordinates of the neighbouring output pixels (central differences, one-sided at the
        edges). Elsewhere, and always for 'nearest', point-sample as without it (the same
        bytes). 'lanczos': the footprint's filter is Lanczos-3 (Pillow's ``LANCZOS``),
        stretched by the map and not widened, instead of the mode's kernel. Default False.

    Examples
    --------
    >>> import numpy as np
    >>> image = np.arange(4.0).reshape(1, 1, 2, 2)
    >>> sample_pixels(image, np.array([[[[0.0, 0.0], [1.0, 0.5]]]]))
    array([[[[0., 2.]]]])
    """
    antialias = check_antialias(antialias)
    if antialias:
        return sample_pixels_window(
            input, coords, 0, mode, padding_mode, align_corners, fill, out, antialias=antialias
        )
    return _sample_grid("pixels", input, coords, mode, padding_mode, align_corners, fill, out)


def sample_pixels_window(
    input, coords, top, mode, padding_mode, align_corners, fill, out, size=None, antialias=True
) -> np.ndarray:
    """:func:`sample_pixels` with ``antialias=True`` for a window of output rows (2-D) or
    slices (3-D) whose coordinates carry neighbours beyond it: the output's first row/slice is
    ``coords[:, top]``, and it has ``size[2]`` of them (default: all of coords' from ``top``).
    For :func:`gswarp.engine.tiles.sample_chain`'s tiles."""
    checked = _check_input(input)
    parsed = _check_mode(mode, checked)
    coords = _same_device(_check_array(coords, "coords"), checked, "coords")
    if size is None:
        size = (checked.shape[0], checked.shape[1], coords.shape[1] - top, *coords.shape[2:-1])
    window = coords[:, top : top + size[2]]
    if parsed == Mode.NEAREST:  # labels are never averaged
        return _sample_grid("pixels", input, window, mode, padding_mode, align_corners, fill, out)
    support, cap = _antialias_arguments(checked, parsed, antialias)
    if coords.dtype != np.float64:  # the Jacobian's differences need the coordinates' precision
        coords = coords.astype(np.float64)
    rest = (int(top), support, cap)
    return _sample_grid(
        "pixels", input, window, mode, padding_mode, align_corners, fill, out, (coords, rest)
    )


def _sample_grid(
    kind, input, grid, mode, padding_mode, align_corners, fill, out, antialias=None
) -> np.ndarray:
    argument = "grid" if kind == "grid" else "coords"
    input = _check_input(input)
    grid = _same_device(_check_array(grid, argument), input, argument)
    mode = _check_mode(mode, input)
    padding = parse_padding(padding_mode, "padding_mode")
    align_corners = _check_align(align_corners)
    _check_float(grid, argument)
    spatial = input.ndim - 2
    if grid.ndim != input.ndim or grid.shape[-1] != spatial or grid.shape[0] != input.shape[0]:
        expected = "(N, H_out, W_out, 2)" if spatial == 2 else "(N, D_out, H_out, W_out, 3)"
        raise ShapeError(
            f"{argument}: expected shape {expected} with N = {input.shape[0]} for input of shape "
            f"{_shape_text(input.shape)}, got {_shape_text(grid.shape)}"
        )
    ct = _compute_type(input.dtype, "input")
    shape = (input.shape[0], input.shape[1], *grid.shape[1:-1])
    out = _check_out(out, shape, input.dtype, input, grid)
    if out.size == 0:
        return out
    if antialias is not None:  # (the coordinates with their neighbours, the kernel's arguments)
        source, rest = antialias
        _run_antialias(kind, input, source, out, mode, padding, align_corners, fill, ct, rest)
        return out
    _run(kind, input, grid, out, mode, padding, align_corners, fill, ct)
    return out


def sample_field(
    input: np.ndarray,
    field: np.ndarray,
    size: Sequence[int],
    mode: str = "bilinear",
    padding_mode: str = "zeros",
    align_corners: bool | None = False,
    *,
    before: np.ndarray | None = None,
    to_field: np.ndarray | None = None,
    after: np.ndarray | None = None,
    absolute: bool = False,
    fill: float | Sequence[float] = 0.0,
    out: np.ndarray | None = None,
    antialias: bool | str = False,
) -> np.ndarray:
    """Sample ``input`` through one flow field between two affine maps, fused per point.

    For each output pixel ``p``: ``q = before(p)``; ``f = field(to_field(q))`` (bilinear or
    trilinear on the field's grid, its edge values continued outside); ``r = q + f`` (or ``f``
    when ``absolute``); the input is sampled at pixel ``after(r)``. No coordinate array is built.

    Parameters
    ----------
    input : ndarray, shape (N, C, H, W) or (N, C, D, H, W)
    field : ndarray, shape (H_f, W_f, 2) or (D_f, H_f, W_f, 3)
        Last axis ``(x, y[, z])`` in pixels; read as float64. NaN makes a point ``fill``.
    size : sequence of int
        Output size ``(N, C, *spatial)``.
    before, to_field, after : ndarray (k, k + 1), optional
        Pixel-space affine maps; None is the identity.
    mode, padding_mode, align_corners, fill, out
        As in :func:`sample_pixels`.
    antialias : bool
        As in :func:`sample_pixels`: each point's footprint from the chain's values at the
        neighbouring output pixels.
    """
    return _sample_field(
        input,
        field,
        size,
        mode,
        padding_mode,
        align_corners,
        before,
        to_field,
        after,
        absolute,
        fill,
        out,
        antialias,
    )


def _sample_field(
    input,
    field,
    size,
    mode,
    padding_mode,
    align_corners,
    before,
    to_field,
    after,
    absolute,
    fill,
    out,
    antialias,
    window=None,
    whole=None,
):
    """:func:`sample_field`'s work. ``window``: ``(origin, shift)``, int64 ``(x, y[, z])``: the
    output is the part of a ``whole``-sized one (its spatial size) that starts at ``origin``,
    and ``input`` the window of a larger input that starts at ``shift``
    (:mod:`gswarp.engine.chunks`); the field is the whole warp's."""
    antialias = check_antialias(antialias)
    input = _check_input(input)
    mode = _check_mode(mode, input)
    padding = parse_padding(padding_mode, "padding_mode")
    align_corners = _check_align(align_corners)
    k = input.ndim - 2
    field = _check_field(field, k)
    size = _check_output_size(size, input)
    identity = np.eye(k, k + 1)
    maps = _field_maps(before, to_field, after, k)
    whole = tuple(size[2:]) if whole is None else tuple(whole)
    direct = (
        np.array_equal(maps[0], identity)
        and np.array_equal(maps[1], identity)
        and field.shape[:-1] == whole
    )
    ct = _compute_type(input.dtype, "input")
    out = _check_out(out, size, input.dtype, input, field)
    if out.size == 0:
        return out
    separable = not direct and all(
        np.count_nonzero(m[:, :k] - np.diag(np.diag(m[:, :k]))) == 0 for m in maps[:2]
    )  # no rotation or shear before the field: it is interpolated per row, then per column
    if window is None:
        window = (np.zeros(k, np.int64), np.zeros(k, np.int64))
    elif antialias:
        raise SpecError("a window of a flow warp: without antialiasing (for now)")
    extra = (np.ascontiguousarray(maps), bool(absolute), direct, separable, *window)
    field = _same_device(field, input, "field")
    if antialias and mode != Mode.NEAREST:
        support, cap = _antialias_arguments(input, mode, antialias)
        rest = (extra[0], extra[1], separable, support, cap)
        _run_antialias("flow", input, field, out, mode, padding, align_corners, fill, ct, rest)
        return out
    _run("flow", input, field, out, mode, padding, align_corners, fill, ct, extra)
    return out


def _check_field(field: Any, k: int) -> np.ndarray:
    """A flow field as ``(H_f, W_f, 2)`` / ``(D_f, H_f, W_f, 3)`` on the host: float32 kept
    as it is (the compiled kernels read it, each value converted exactly: the results of its
    float64 copy), anything else as float64."""
    from gswarp.engine.core import field_array

    field = field_array(np.asarray(host(field)))
    if field.ndim != k + 1 or field.shape[-1] != k:
        expected = "(H_f, W_f, 2)" if k == 2 else "(D_f, H_f, W_f, 3)"
        raise ShapeError(f"field: expected shape {expected}, got {_shape_text(field.shape)}")
    return field


def _field_maps(before, to_field, after, k: int) -> list[np.ndarray]:
    """The three ``(k, k + 1)`` matrices around a field (None: the identity), checked."""
    identity = np.eye(k, k + 1)
    maps = [
        identity if m is None else np.asarray(m, dtype=np.float64)
        for m in (before, to_field, after)
    ]
    for name, matrix in zip(("before", "to_field", "after"), maps, strict=True):
        if matrix.shape != (k, k + 1):
            raise ShapeError(f"{name}: expected a ({k}, {k + 1}) matrix, got {matrix.shape}")
    return maps


def _check_theta(theta: Any, spatial: int, argument: str = "theta") -> np.ndarray:
    theta = host(_check_array(theta, argument))  # small: matrix math runs on the CPU
    _check_float(theta, argument)
    theta = np.ascontiguousarray(theta)  # NumPy's matmul rounds by layout: one layout, one result
    rows, cols = (2, 3) if spatial == 2 else (3, 4)
    if theta.ndim != 3 or theta.shape[1:] != (rows, cols):
        raise ShapeError(
            f"{argument}: expected a batch of {spatial}-D affine matrices of shape "
            f"(N, {rows}, {cols}), "
            f"got {_shape_text(theta.shape)}"
        )
    return theta


def check_size(size: Any, argument: str = "size") -> tuple[int, ...]:
    try:
        parsed = tuple(int(s) for s in size)
    except (TypeError, ValueError):
        raise SpecError(
            f"{argument}: expected a sequence of 4 or 5 integers, got {size!r}"
        ) from None
    if len(parsed) not in (4, 5):
        raise ShapeError(f"{argument}: expected (N, C, H, W) or (N, C, D, H, W), got {size!r}")
    if any(s <= 0 for s in parsed):
        raise ShapeError(f"{argument}: expected positive sizes, got {size!r}")
    return parsed


def affine_grid(
    theta: np.ndarray, size: Sequence[int], align_corners: bool | None = False
) -> np.ndarray:
    """The sampling grid of an affine map (``torch.nn.functional.affine_grid``).

    Parameters
    ----------
    theta : ndarray, shape (N, 2, 3) or (N, 3, 4)
        Floating point. Maps normalized *output* coordinates ``(x, y[, z], 1)`` to normalized
        *input* coordinates: ``grid[..., k] = theta[:, k] @ (x, y[, z], 1)``.
    size : sequence of int
        The output size ``(N, C, H, W)`` or ``(N, C, D, H, W)``; C is ignored.
    align_corners : bool

    Returns
    -------
    ndarray, shape (N, H, W, 2) or (N, D, H, W, 3), dtype of ``theta``.
        The values equal torch's to the last bit in float32 and float64 (same linspace and the
        same multiply-add rounding as its batched matrix product).

    Examples
    --------
    >>> import numpy as np
    >>> affine_grid(np.array([[[1.0, 0, 0], [0, 1, 0]]]), (1, 1, 1, 2))[0, 0]
    array([[-0.5,  0. ],
           [ 0.5,  0. ]])
    """
    size = check_size(size)
    spatial = len(size) - 2
    theta_in = theta
    theta = _check_theta(theta, spatial)
    align_corners = _check_align(align_corners)
    if theta.shape[0] != size[0]:
        raise ShapeError(f"theta: expected {size[0]} matrices (size[0]), got {theta.shape[0]}")
    ct = np.float64 if theta.dtype == np.float64 else np.float32
    shape = (*size[:1], *size[2:], spatial)
    if backend_for(theta_in) == "cuda":
        from gswarp.engine import cuda_core

        runner = cuda_core.cupy_runner()
        grid = runner.empty(shape, ct)
        cuda_core.affine_grid(np.ascontiguousarray(theta, dtype=ct), grid, align_corners, runner)
        if not is_device_array(theta_in):  # NumPy in, NumPy out
            grid = runner.host(grid)
        return grid.astype(theta.dtype, copy=False)
    grid = np.empty(shape, dtype=ct)
    from gswarp.engine import core

    core.affine_grid(np.ascontiguousarray(theta, dtype=ct), grid, align_corners)
    return grid.astype(theta.dtype, copy=False)


def affine_sample(
    input: np.ndarray,
    theta: np.ndarray,
    size: Sequence[int] | None = None,
    mode: str = "bilinear",
    padding_mode: str = "zeros",
    align_corners: bool | None = False,
    *,
    fill: float | Sequence[float] = 0.0,
    out: np.ndarray | None = None,
    antialias: bool | str = False,
) -> np.ndarray:
    """``grid_sample(input, affine_grid(theta, size), ...)`` without building the grid.

    ``theta`` is turned into the equivalent pixel-space matrix (in float64), and each output
    row steps its source coordinates from that matrix with one fused multiply-add per axis and
    point, computed in float64 and then rounded to the compute dtype. The only memory allocated
    is the output.

    The coordinates are therefore *more* accurate than ``affine_grid``'s (which rounds a
    ``linspace`` and a matrix product in the grid's dtype): the result agrees with the two-step
    version within that grid's rounding, ``|difference| <= 4 * eps * (1 + |theta|) * n *
    max|input|`` (``eps`` the dtype's machine epsilon, ``n`` the input's largest side,
    ``|theta|`` the largest row sum of absolute values; ``tests/oracles.py``), and nearest picks
    the same pixel except within rounding of a half-pixel tie; it is not bit-identical to it
    (use ``grid_sample(input, affine_grid(...))`` for torch's exact bits). In exchange, maps that
    move whole pixels are exact for every size and ``align_corners``: an identity ``theta``
    returns the input bit for bit, a quarter turn of a square image equals ``numpy.rot90``, an
    integer shift equals a slice.

    Parameters
    ----------
    input : ndarray, shape (N, C, H, W) or (N, C, D, H, W)
        As in :func:`grid_sample`.
    theta : ndarray, shape (N, 2, 3) or (N, 3, 4)
        torch's ``affine_grid`` matrix: normalized output coordinates -> normalized input
        coordinates. Any float dtype.
    size : sequence of int, optional
        Output size ``(N, C, H_out, W_out)`` / ``(N, C, D_out, H_out, W_out)``; N and C must match
        the input. Default: the input's shape.
    mode, padding_mode, align_corners, fill, out
        As in :func:`grid_sample`.
    antialias : bool, keyword-only
        As in :func:`warp_affine`.

    Returns
    -------
    ndarray of the input dtype and shape ``size``.
    """
    input = _check_input(input)
    size = _check_output_size(size, input)
    theta = check_matrices(theta, "theta", input)
    align = _check_align(align_corners)
    matrix = theta_to_pixel_matrix(theta, input.shape[2:], size[2:], align)
    return _sample_affine(input, matrix, size, mode, padding_mode, align, fill, out, antialias)


def warp_affine(
    input: np.ndarray,
    matrix: np.ndarray,
    size: Sequence[int] | None = None,
    mode: str = "bilinear",
    padding_mode: str = "zeros",
    align_corners: bool | None = False,
    *,
    fill: float | Sequence[float] = 0.0,
    out: np.ndarray | None = None,
    antialias: bool | str = False,
) -> np.ndarray:
    """Sample ``input`` where a pixel-space affine matrix points: the fused path without torch's
    normalized coordinates.

    Parameters
    ----------
    input : ndarray, shape (N, C, H, W) or (N, C, D, H, W)
    matrix : ndarray, shape (2, 3) / (3, 4), or one per batch item (N, 2, 3) / (N, 3, 4)
        Output pixel ``(x, y[, z], 1)`` -> input pixel coordinates, pixel centres at integers
        (x along W, y along H, z along D). Computed in float64; a matrix of integers (identity,
        shifts, quarter turns) samples exactly on pixel centres. See
        :func:`gswarp.transforms.sampling_matrix` to get it from a forward transform.
    size : sequence of int, optional
        Output size, ``(N, C, *spatial)``; default the input's.
    mode, padding_mode, fill, out
        As in :func:`grid_sample`.
    align_corners : bool
        Only sets where reflection padding mirrors (pixel centres 0 and S - 1 when True, the
        outer edges -0.5 and S - 0.5 when False); coordinates are pixels either way.
    antialias : bool or 'lanczos', keyword-only
        Where the matrix shrinks (a singular value of its linear part above 1), average the
        input over each output pixel's footprint instead of point-sampling it
        (``docs/engine.md``: the mode's interpolation kernel stretched along the
        footprint); batch items whose matrix does not shrink, and 'nearest' always, are
        point-sampled: the same bytes as without it. 'lanczos': a Lanczos-3 footprint filter
        (Pillow's ``LANCZOS``, stretched by the map, not widened). Default False
        (torch's point sampling).

    Returns
    -------
    ndarray of the input dtype and shape ``size``.
    """
    input = _check_input(input)
    size = _check_output_size(size, input)
    matrix = pixel_matrices(matrix, input)
    align = _check_align(align_corners)
    return _sample_affine(input, matrix, size, mode, padding_mode, align, fill, out, antialias)


def pixel_matrices(matrix: Any, input: np.ndarray) -> np.ndarray:
    """:func:`warp_affine`'s ``matrix`` checked: one (k, k + 1) matrix or one per batch item,
    integers welcome; returned as contiguous float64 (N, k, k + 1)."""
    matrix = host(_check_array(matrix, "matrix"))
    if matrix.dtype.kind in "iu":  # integer matrices (shifts, quarter turns) are welcome
        matrix = matrix.astype(np.float64)
    if matrix.ndim == 2:
        matrix = np.broadcast_to(matrix, (input.shape[0], *matrix.shape))
    matrix = check_matrices(matrix, "matrix", input)
    return np.ascontiguousarray(matrix, dtype=np.float64)


def _check_output_size(size: Any, input: np.ndarray) -> tuple[int, ...]:
    size = input.shape if size is None else check_size(size)
    if len(size) != input.ndim or size[0] != input.shape[0] or size[1] != input.shape[1]:
        raise ShapeError(
            f"size: expected {input.ndim} sizes starting with N = {input.shape[0]} and "
            f"C = {input.shape[1]} (the input's), got {tuple(size)!r}"
        )
    return tuple(size)


def check_matrices(matrices: Any, argument: str, input: np.ndarray) -> np.ndarray:
    spatial = input.ndim - 2
    matrices = _check_theta(matrices, spatial, argument)
    if matrices.shape[0] != input.shape[0]:
        raise ShapeError(
            f"{argument}: expected {input.shape[0]} matrices (one per batch item), "
            f"got {matrices.shape[0]}"
        )
    return matrices


def _may_shrink(matrix: np.ndarray) -> bool:
    """Whether any of the (N, k, k + 1) matrices may shrink: a NumPy look at the singular values,
    looser than the frames' own test, so that rotations and magnifications never load (or
    compile) the antialiasing code."""
    from gswarp.sampling import SHRINK_TOLERANCE

    k = matrix.shape[1]
    linear = matrix[:, :, :k]
    if not np.isfinite(linear).all():
        return True  # let the frames decide, point by point
    largest = np.linalg.svd(linear, compute_uv=False).max(axis=-1)
    return bool((largest > 1.0 + SHRINK_TOLERANCE / 2).any())


def _whole(k: int) -> tuple[np.ndarray, np.ndarray]:
    """The affine kernels' (origin, shift) for a whole output read from a whole input."""
    return np.zeros(k, dtype=np.int64), np.zeros(k, dtype=np.int64)


def _sample_affine(
    input, matrix, size, mode, padding_mode, align, fill, out, antialias=False, window=None
) -> np.ndarray:
    """:func:`warp_affine`'s work. ``window``: ``(origin, shift)``, int64 ``(x, y[, z])``
    vectors: the output is the part of a larger output that starts at ``origin``, and ``input``
    the window of a larger input that starts at ``shift`` (:mod:`gswarp.engine.chunks`); default
    the whole of both."""
    mode = _check_mode(mode, input)
    padding = parse_padding(padding_mode, "padding_mode")
    antialias = check_antialias(antialias)
    ct = _compute_type(input.dtype, "input")
    out = _check_out(out, size, input.dtype, input, matrix)
    if out.size == 0:
        return out
    whole = _whole(input.ndim - 2)
    window = whole if window is None else window
    if antialias and mode != Mode.NEAREST and _may_shrink(matrix):
        if window is not whole:
            raise SpecError("antialias: not available for a window of the input yet")
        from gswarp.engine.antialias import footprint_frames

        k = input.ndim - 2
        arguments = _antialias_arguments(input, mode, antialias)
        frames, shrinks = footprint_frames(matrix[:, :, :k], *arguments)
        if shrinks.any():
            rest = (frames, shrinks)
            _run_antialias("affine", input, matrix, out, mode, padding, align, fill, ct, rest)
            for n in np.flatnonzero(~shrinks):  # the items that do not shrink: point-sampled
                item = slice(n, n + 1)
                _run(
                    "affine",
                    input[item],
                    matrix[item],
                    out[item],
                    mode,
                    padding,
                    align,
                    fill,
                    ct,
                    whole,
                )
            return out
    _run("affine", input, matrix, out, mode, padding, align, fill, ct, window)
    return out
