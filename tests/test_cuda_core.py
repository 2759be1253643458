"""The CUDA kernels of the C++ core (``src/cuda/kernels.cu``), checked with no GPU:

- every specialization compiles with NVRTC, as CuPy compiles it on a user's GPU (the same
  options and name expressions): all 472 for the oldest and newest architectures CUDA 13
  targets (``compute_75``, ``compute_120``) in the slow tests, one per kernel family and
  dimension for the H100's (``compute_90``) in the default run;
- the kernels' bodies, built for the host (``tests/cuda_host.py``), launched through
  :mod:`gswarp.engine.cuda_core` exactly as on a GPU (the argument structs, the name
  expressions, a grid-stride launch of few threads), give the CPU engine's bits;
- the NumPy layouts of the argument structs are the compiler's.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from gswarp.engine import core, cuda_core
from tests import cuda_host, nvrtc

pytestmark = pytest.mark.skipif(cuda_host.compiler() is None, reason="no C++ compiler")

MODES = (0, 1, 2)  # bilinear, nearest, bicubic
PADDINGS = (0, 1, 2)  # zeros, border, reflection
DTYPES = (np.uint8, np.int16, np.uint16, np.int32, np.int64, np.float32, np.float64)


def nvrtc_options(arch: str) -> list[str]:
    """CuPy's options for the kernels, with the architecture CuPy would add."""
    return [*cuda_core.compile_options(), f"--gpu-architecture={arch}"]


def all_names() -> list[str]:
    names = []
    for spatial, mode, kind in itertools.product((2, 3), MODES, range(10)):
        names += [cuda_core.kernel_name("grid_sample", spatial, mode, kind, grid)
                  for grid in (8, 9)]  # fmt: skip
        names.append(cuda_core.kernel_name("affine_sample", spatial, mode, kind))
        names.append(cuda_core.kernel_name("flow_sample", spatial, mode, kind))
        names += [cuda_core.kernel_name("antialias", spatial, mode, kind, source)
                  for source in (0, 1, 2)]  # fmt: skip
    for spatial, kind in itertools.product((2, 3), (8, 9)):
        names.append(cuda_core.kernel_name("affine_grid", spatial, kind))
        for mode in MODES:
            names.append(cuda_core.kernel_name("grid_backward", spatial, mode, kind))
            names.append(cuda_core.kernel_name("matrix_backward", spatial, mode, kind))
            names += [cuda_core.kernel_name("input_backward", spatial, mode, kind, affine)
                      for affine in (0, 1)]  # fmt: skip
    return names


def some_names() -> list[str]:
    """One specialization per kernel family and dimension: bicubic (the most code) of a float32
    input, and affine_grid in float64."""
    names = []
    for spatial in (2, 3):
        names.append(cuda_core.kernel_name("grid_sample", spatial, 2, 8, 8))
        names.append(cuda_core.kernel_name("affine_sample", spatial, 2, 8))
        names.append(cuda_core.kernel_name("flow_sample", spatial, 2, 8))
        names.append(cuda_core.kernel_name("affine_grid", spatial, 9))
        names += [cuda_core.kernel_name("antialias", spatial, 2, 8, source) for source in (0, 1, 2)]
        names.append(cuda_core.kernel_name("grid_backward", spatial, 2, 8))
        names.append(cuda_core.kernel_name("matrix_backward", spatial, 2, 9))
        names.append(cuda_core.kernel_name("input_backward", spatial, 0, 8, 1))
    return names


needs_nvrtc = pytest.mark.skipif(nvrtc.library() is None, reason="NVRTC (libnvrtc) not found")


@needs_nvrtc
def test_the_kernels_compile_with_nvrtc_as_cupy_compiles_them():
    arch = "compute_90"  # the H100's; every specialization on the oldest and newest: slow
    source = cuda_core.source_text()
    names = some_names()
    status, log, ptx = nvrtc.compile_program(source, nvrtc_options(arch), names)
    assert status == 0, log
    assert "warning" not in log, log
    assert ptx.count(b".entry") == len(names)


@needs_nvrtc
@pytest.mark.slow
@pytest.mark.parametrize("arch", ["compute_75", "compute_120"])
def test_every_specialization_compiles_with_nvrtc(arch):
    source = cuda_core.source_text()
    names = all_names()
    status, log, ptx = nvrtc.compile_program(source, nvrtc_options(arch), names)
    assert status == 0, log
    assert ptx.count(b".entry") == len(names) == 472


@needs_nvrtc
def test_a_compile_error_is_reported_not_hidden():
    source = cuda_core.source_text() + "\nint broken = ;\n"
    status, log, _ = nvrtc.compile_program(source, nvrtc_options("compute_90"), some_names()[:1])
    assert status != 0 and "error" in log


@pytest.mark.parametrize(
    ("name", "dtype"),
    [("ArrayArg", cuda_core.ARRAY_ARG), ("GridSample", cuda_core.GRID_SAMPLE),
     ("AffineSample", cuda_core.AFFINE_SAMPLE), ("FlowSample", cuda_core.FLOW_SAMPLE),
     ("AffineGrid", cuda_core.AFFINE_GRID), ("SampleOptions", cuda_core.OPTIONS),
     ("Antialias", cuda_core.ANTIALIAS), ("Backward", cuda_core.BACKWARD),
     ("Window", cuda_core.WINDOW)],
)  # fmt: skip
def test_the_argument_structs_have_the_compiler_s_layout(name, dtype):
    layout = cuda_host.library().gswarp_cuda_host_layout
    assert dtype.itemsize == layout(name.encode())
    for field in dtype.names:
        offset = layout(f"{name}.{field}".encode())
        if offset >= 0:
            assert dtype.fields[field][1] == offset, field


def test_the_packers_lay_out_each_struct_as_its_numpy_dtype(rng):
    """struct.pack (the launch path) and the NumPy record agree field by field."""
    inp = np.zeros((2, 3, 4, 5), np.int16)[:, :, ::-1]
    grid = np.zeros((2, 4, 5, 2), np.float64)
    values = (*cuda_core._array_values(inp), *cuda_core._array_values(grid),
              *cuda_core._array_values(inp), *cuda_core._array_values(grid),
              *cuda_core._array_values(grid), 2, 1, True, False, 3, 4, 5, 6, 7, 8)  # fmt: skip
    record = np.frombuffer(cuda_core.PACKERS[cuda_core.AFFINE_SAMPLE].pack(*values),
                           cuda_core.AFFINE_SAMPLE)[0]  # fmt: skip
    assert record["inp"]["data"] == inp.ctypes.data and record["inp"]["kind"] == 2
    assert record["inp"]["ndim"] == 4
    assert list(record["inp"]["shape"]) == [2, 3, 4, 5, 0, 0]
    assert list(record["inp"]["stride"]) == [60, 20, -5, 1, 0, 0]
    assert record["matrix"]["kind"] == 9
    assert (record["options"]["mode"], record["options"]["padding"]) == (2, 1)
    assert record["options"]["align_corners"] and not record["options"]["pixels"]
    assert list(record["window"]["origin"]) == [3, 4, 5]
    assert list(record["window"]["shift"]) == [6, 7, 8]
    values = (*cuda_core._array_values(inp),) * 6 + (1, 2, False, True, True, False, True)
    record = np.frombuffer(cuda_core.PACKERS[cuda_core.FLOW_SAMPLE].pack(*values, *range(6)),
                           cuda_core.FLOW_SAMPLE)[0]  # fmt: skip
    assert record["options"]["pixels"] and record["absolute"] and not record["direct"]
    assert record["separable"] and list(record["window"]["shift"]) == [3, 4, 5]
    for layout, packer in cuda_core.PACKERS.items():
        assert packer.size == layout.itemsize


def test_an_unknown_kernel_name_is_an_error():
    with pytest.raises(LookupError):
        cuda_host.HostRunner().launch("gswarp::cuda::grid_sample<4, 0, 8, 8>",
                                      bytes(cuda_core.GRID_SAMPLE.itemsize),
                                      cuda_core.GRID_SAMPLE, 1)  # fmt: skip


# ------------------------------------------------------------------------------------------
# the kernels' bodies against the CPU engine


def compute_type(dtype) -> type:
    dtype = np.dtype(dtype)
    wide = dtype == np.float64 or (dtype.kind in "iu" and dtype.itemsize >= 4)
    return np.float64 if wide else np.float32


def image(rng, shape, dtype):
    if np.dtype(dtype).kind == "f":
        return rng.normal(0, 50, shape).astype(dtype)
    info = np.iinfo(dtype)
    return rng.integers(max(info.min, -1000), min(info.max, 1000), shape).astype(dtype)


def fills(channels: int, dtype):
    fill_c = np.arange(1, channels + 1, dtype=compute_type(dtype)) * 3
    return fill_c, fill_c.astype(dtype)


def same_bits(a, b) -> None:
    assert a.dtype == b.dtype
    np.testing.assert_array_equal(a, b)  # NaN equal NaN
    if a.dtype.kind == "f":
        assert np.array_equal(np.signbit(a), np.signbit(b))


def rows(out) -> int:
    return int(np.prod(out.shape[:1] + out.shape[2:-1]))


def grid_for(rng, shape, spatial, dtype, pixels, sizes):
    grid = rng.uniform(-1.3, 1.3, (*shape, spatial))
    if pixels:
        grid = (grid + 1) / 2 * (np.array(sizes[::-1]) - 1)
    grid.flat[::37] = np.nan  # non-finite points get the fill
    return grid.astype(dtype)


@pytest.mark.parametrize("spatial", [2, 3])
@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("padding", PADDINGS)
def test_grid_sample_kernels_give_the_cpu_bits(rng, spatial, mode, padding):
    sizes = (5, 7, 9)[-spatial:]
    out_sizes = (4, 6, 5)[-spatial:]
    for dtype, grid_dtype, align, pixels in [(np.float32, np.float32, False, False),
                                             (np.float64, np.float64, True, False),
                                             (np.uint8, np.float64, False, True),
                                             (np.int16, np.float32, True, False),
                                             (np.int64, np.float32, False, False)]:  # fmt: skip
        inp = image(rng, (2, 3, *sizes), dtype)
        grid = grid_for(rng, (2, *out_sizes), spatial, grid_dtype, pixels, sizes)
        fill_c, fill_n = fills(3, dtype)
        expected = np.empty((2, 3, *out_sizes), dtype)
        core.grid_sample(inp, grid, expected, mode, padding, align, pixels, fill_c, fill_n, 0,
                         rows(expected))  # fmt: skip
        got = np.full_like(expected, 77)
        cuda_core.grid_sample(inp, grid, got, mode, padding, align, pixels, fill_c, fill_n,
                              runner=cuda_host.HostRunner())  # fmt: skip
        same_bits(got, expected)


def test_strided_inputs_and_outputs_and_every_dtype(rng):
    for dtype in DTYPES:
        base = image(rng, (2, 6, 3, 10, 12), dtype)
        inp = base[:, ::2, :, ::-1, ::2]  # strided, negative strides
        grid = grid_for(rng, (3, 2, 5, 7), 2, np.float32, False, (10, 6))
        grid = np.moveaxis(grid, 0, 0)[:, :, :, :]
        inp4 = inp[:, :, 0]  # (2, 3, 10, 6)
        grid = grid[:2, 0]
        fill_c, fill_n = fills(3, dtype)
        expected = np.empty((2, 3, 5, 7), dtype)
        core.grid_sample(inp4, grid, expected, 0, 0, False, False, fill_c, fill_n, 0, 10)
        holder = np.zeros((2, 5, 3, 7), dtype)
        got = holder.transpose(0, 2, 1, 3)  # a non-contiguous output
        cuda_core.grid_sample(inp4, grid, got, 0, 0, False, False, fill_c, fill_n,
                              runner=cuda_host.HostRunner(threads=7, max_blocks=2))  # fmt: skip
        same_bits(np.ascontiguousarray(got), expected)


def affine_matrices(rng, spatial: int, batch: int) -> np.ndarray:
    k = spatial
    m = np.zeros((batch, k, k + 1))
    for b in range(batch):
        q, _ = np.linalg.qr(rng.normal(size=(k, k)))
        m[b, :, :k] = q * rng.uniform(0.7, 1.4)
        m[b, :, k] = rng.uniform(-2, 4, k)
    return m


@pytest.mark.parametrize("spatial", [2, 3])
@pytest.mark.parametrize("mode", MODES)
def test_affine_sample_kernels_give_the_cpu_bits_windows_included(rng, spatial, mode):
    sizes = (6, 8, 9)[-spatial:]
    out_sizes = (5, 7, 6)[-spatial:]
    for dtype, padding, align, window in [(np.float32, 0, False, False),
                                          (np.float64, 2, True, True),
                                          (np.uint16, 1, False, True),
                                          (np.int32, 0, True, False)]:  # fmt: skip
        inp = image(rng, (2, 2, *sizes), dtype)
        matrix = affine_matrices(rng, spatial, 2)
        origin = np.array([3, 1, 2][:spatial] if window else [0] * spatial, dtype=np.int64)
        shift = np.array([1, 2, 0][:spatial] if window else [0] * spatial, dtype=np.int64)
        fill_c, fill_n = fills(2, dtype)
        expected = np.empty((2, 2, *out_sizes), dtype)
        core.affine_sample(inp, matrix, expected, mode, padding, align, fill_c, fill_n, 0,
                           rows(expected), origin, shift)  # fmt: skip
        got = np.full_like(expected, 5)
        cuda_core.affine_sample(inp, matrix, got, mode, padding, align, fill_c, fill_n, origin,
                                shift, runner=cuda_host.HostRunner())  # fmt: skip
        same_bits(got, expected)


def flow_maps(rng, spatial: int, kind: str) -> np.ndarray:
    k = spatial
    maps = np.zeros((3, k, k + 1))
    for i in range(3):
        maps[i, :, :k] = np.eye(k)
    if kind == "separable":
        maps[0, :, :k] = np.diag(rng.uniform(0.5, 1.5, k))
        maps[0, :, k] = rng.uniform(-1, 1, k)
        maps[1, :, :k] = np.diag(rng.uniform(0.5, 1.2, k))
        maps[1, :, k] = rng.uniform(-1, 1, k)
    elif kind == "general":
        maps[0] = affine_matrices(rng, spatial, 1)[0]
        maps[1] = affine_matrices(rng, spatial, 1)[0] * 0.8
    maps[2] = affine_matrices(rng, spatial, 1)[0]
    return maps


@pytest.mark.parametrize("spatial", [2, 3])
@pytest.mark.parametrize("kind", ["direct", "separable", "general"])
@pytest.mark.parametrize("mode", MODES)
def test_flow_sample_kernels_give_the_cpu_bits(rng, spatial, kind, mode):
    sizes = (6, 7, 8)[-spatial:]
    out_sizes = (5, 6, 7)[-spatial:]
    field_sizes = out_sizes if kind == "direct" else (4, 5, 6)[-spatial:]
    for dtype, field_dtype, absolute, window in [(np.float32, np.float64, False, False),
                                                 (np.float64, np.float32, True, False),
                                                 (np.int16, np.float64, False, True)]:  # fmt: skip
        if window and kind == "direct":
            field_sizes = tuple(s + 2 for s in out_sizes)
        inp = image(rng, (2, 2, *sizes), dtype)
        field = rng.normal(0, 1.5, (*field_sizes, spatial))
        if absolute:  # coordinates in the frame, not displacements
            field += rng.uniform(0, 5, field.shape)
        field.flat[::41] = np.nan
        field = field.astype(field_dtype)
        maps = flow_maps(rng, spatial, kind)
        origin = np.array([1, 2, 1][:spatial] if window else [0] * spatial, dtype=np.int64)
        shift = np.array([0, 1, 1][:spatial] if window else [0] * spatial, dtype=np.int64)
        fill_c, fill_n = fills(2, dtype)
        flags = (absolute, kind == "direct", kind == "separable")
        expected = np.empty((2, 2, *out_sizes), dtype)
        core.flow_sample(inp, field, expected, mode, 1, False, fill_c, fill_n, 0,
                         rows(expected), maps, *flags, origin, shift)  # fmt: skip
        got = np.full_like(expected, 9)
        cuda_core.flow_sample(inp, field, got, mode, 1, False, fill_c, fill_n, maps, *flags,
                              origin, shift, runner=cuda_host.HostRunner())  # fmt: skip
        same_bits(got, expected)


@pytest.mark.parametrize("spatial", [2, 3])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("align", [False, True])
def test_affine_grid_kernels_give_the_cpu_bits(rng, spatial, dtype, align):
    theta = affine_matrices(rng, spatial, 3).astype(dtype)
    shape = (3, *(5, 4, 7)[-spatial:], spatial)
    expected = np.empty(shape, dtype)
    core.affine_grid(theta, expected, align)
    got = np.zeros(shape, dtype)
    cuda_core.affine_grid(theta, got, align, runner=cuda_host.HostRunner())
    same_bits(got, expected)


def test_a_launch_of_no_points_runs_nothing():
    runner = cuda_host.HostRunner()
    inp = np.zeros((1, 1, 3, 3), np.float32)
    out = np.zeros((1, 1, 0, 3), np.float32)
    grid = np.zeros((1, 0, 3, 2), np.float32)
    fill_c, fill_n = fills(1, np.float32)
    cuda_core.grid_sample(inp, grid, out, 0, 0, False, False, fill_c, fill_n, runner=runner)
    assert runner.launched == []
    cuda_core.grid_sample(inp, grid[:, :, :0], out[..., :0], 0, 0, False, False, fill_c,
                          fill_n, runner=runner)  # fmt: skip
    assert runner.launched == []
    out = np.zeros((1, 1, 2, 3), np.float32)
    cuda_core.grid_sample(inp, np.zeros((1, 2, 3, 2), np.float32), out, 0, 0, False, False,
                          fill_c, fill_n, runner=runner)  # fmt: skip
    assert runner.launched == ["gswarp::cuda::grid_sample<2, 0, 8, 8>"]
    np.testing.assert_array_equal(out, 0)


def test_the_engine_hands_cupy_arrays_to_these_kernels_with_its_arguments(rng, monkeypatch):
    """``gswarp.engine.api._run_cuda_core`` (what ``_run`` calls for CuPy arrays) unpacks each
    source's extra arguments as the CPU path does: run on the host build, the CPU's bits."""
    from gswarp.engine import api

    runner = cuda_host.HostRunner()
    monkeypatch.setattr(cuda_core, "cupy_runner", lambda: runner)
    inp = image(rng, (1, 2, 6, 7), np.float32)
    fill_c, fill_n = fills(2, np.float32)
    zeros = np.zeros(2, np.int64)
    matrix = affine_matrices(rng, 2, 1)
    maps = flow_maps(rng, 2, "separable")
    field = rng.normal(0, 1, (4, 5, 2)).astype(np.float32)
    grid = grid_for(rng, (1, 5, 4), 2, np.float32, False, (7, 6))
    cases = [
        ("grid", grid, (), lambda e: core.grid_sample(
            inp, grid, e, 0, 1, False, False, fill_c, fill_n, 0, 5)),
        ("affine", matrix, (zeros, zeros), lambda e: core.affine_sample(
            inp, matrix, e, 0, 1, False, fill_c, fill_n, 0, 5, zeros, zeros)),
        ("flow", field, (maps, False, False, True, zeros, zeros), lambda e: core.flow_sample(
            inp, field, e, 0, 1, False, fill_c, fill_n, 0, 5, maps, False, False, True, zeros,
            zeros)),
    ]  # fmt: skip
    for kind, source, extra, cpu in cases:
        expected = np.empty((1, 2, 5, 4), np.float32)
        cpu(expected)
        got = np.zeros_like(expected)
        api._run_cuda_core(kind, inp, source, got, 0, 1, False, fill_c, fill_n, extra)
        same_bits(got, expected)
    assert [n.split("<")[0] for n in runner.launched] == [
        "gswarp::cuda::grid_sample",
        "gswarp::cuda::affine_sample",
        "gswarp::cuda::flow_sample",
    ]


# ------------------------------------------------------------------------------------------
# antialiased sampling


def shrinking_matrices(rng, spatial: int, batch: int) -> np.ndarray:
    """Output -> input pixel maps that shrink 2-3.5x (rotated, sheared a little)."""
    m = affine_matrices(rng, spatial, batch)
    m[:, :, :spatial] *= rng.uniform(2.0, 3.5)
    m[:, :, :spatial] += rng.normal(0, 0.2, (batch, spatial, spatial))
    return m


@pytest.mark.parametrize("spatial", [2, 3])
@pytest.mark.parametrize("mode", [0, 2])
@pytest.mark.parametrize("padding", PADDINGS)
def test_affine_antialias_kernels_give_the_cpu_bits(rng, spatial, mode, padding):
    support = 1.0 if mode == 0 else 2.0
    sizes, out_sizes = (9, 16, 18)[-spatial:], (3, 5, 6)[-spatial:]
    for dtype, channels in [(np.float32, 2), (np.uint8, 10), (np.float64, 1)]:
        inp = image(rng, (2, channels, *sizes), dtype)
        matrix = shrinking_matrices(rng, spatial, 2)
        frames, shrinks = core.antialias_frames(matrix[:, :, :spatial], support, 64.0)
        shrinks[1] = False  # an item that does not shrink is left alone
        fill_c, fill_n = fills(channels, dtype)
        expected = np.full((2, channels, *out_sizes), 3, dtype)
        core.antialias("affine", inp, matrix, expected, mode, padding, True, fill_c, fill_n, 0,
                       rows(expected), (frames, shrinks))  # fmt: skip
        got = np.full_like(expected, 3)
        cuda_core.antialias("affine", inp, matrix, got, mode, padding, True, fill_c, fill_n,
                            (frames, shrinks), runner=cuda_host.HostRunner())  # fmt: skip
        same_bits(got, expected)
        assert (got[1] == 3).all()


@pytest.mark.parametrize("spatial", [2, 3])
@pytest.mark.parametrize("mode", [0, 1, 2])
def test_pixels_antialias_kernels_give_the_cpu_bits(rng, spatial, mode):
    support = 2.0 if mode == 2 else 1.0
    sizes, out_sizes = (10, 16, 18)[-spatial:], (3, 5, 6)[-spatial:]
    inp = image(rng, (2, 3, *sizes), np.float32)
    top = 1  # the coordinates carry a row / slice beyond each side of the output's
    coord_sizes = (out_sizes[0] + 2, *out_sizes[1:])
    axes = np.meshgrid(*[np.arange(s, dtype=np.float64) for s in coord_sizes], indexing="ij")
    centre = np.stack(axes[::-1], -1) * 2.7 + rng.normal(0, 0.3, (*coord_sizes, spatial))
    coords = np.stack([centre, centre[..., ::-1] * 0.9])  # (2, *coord_sizes, k), x first
    coords[0].reshape(-1, spatial)[::17] = np.nan  # a point with no neighbours' help
    fill_c, fill_n = fills(3, np.float32)
    expected = np.empty((2, 3, *out_sizes), np.float32)
    rest = (top, support, 64.0)
    core.antialias("pixels", inp, coords, expected, mode, 1, False, fill_c, fill_n, 0,
                   rows(expected), rest)  # fmt: skip
    got = np.zeros_like(expected)
    cuda_core.antialias("pixels", inp, coords, got, mode, 1, False, fill_c, fill_n, rest,
                        runner=cuda_host.HostRunner())  # fmt: skip
    same_bits(got, expected)


@pytest.mark.parametrize(
    ("spatial", "kind"), [(2, "separable"), (2, "general"), (3, "general")]
)  # 3-D flows are antialiased through the general chain only, as on the CPU
@pytest.mark.parametrize("mode", [0, 2])
def test_flow_antialias_kernels_give_the_cpu_bits(rng, spatial, kind, mode):
    support = 2.0 if mode == 2 else 1.0
    sizes, out_sizes = (10, 16, 18)[-spatial:], (3, 5, 6)[-spatial:]
    for dtype, field_dtype, absolute in [(np.float32, np.float64, False),
                                         (np.int16, np.float32, True)]:  # fmt: skip
        inp = image(rng, (1, 9, *sizes), dtype)
        field = rng.normal(0, 0.4, (*(4, 5, 6)[-spatial:], spatial))
        if absolute:
            field += rng.uniform(0, 4, field.shape)
        field = field.astype(field_dtype)
        maps = flow_maps(rng, spatial, kind)
        maps[2, :, :spatial] *= 2.6  # C shrinks
        fill_c, fill_n = fills(9, dtype)
        rest = (maps, absolute, kind == "separable", support, 64.0)
        expected = np.empty((1, 9, *out_sizes), dtype)
        core.antialias("flow", inp, field, expected, mode, 0, False, fill_c, fill_n, 0,
                       rows(expected), rest)  # fmt: skip
        got = np.zeros_like(expected)
        cuda_core.antialias("flow", inp, field, got, mode, 0, False, fill_c, fill_n, rest,
                            runner=cuda_host.HostRunner())  # fmt: skip
        same_bits(got, expected)


def test_the_engine_hands_cupy_arrays_to_the_antialiasing_kernels(rng, monkeypatch):
    """``gswarp.engine.api._antialias_cuda_core`` (``_run_antialias``'s path for CuPy arrays)
    on the host build: the CPU's bits for each source, Lanczos-3 included (the numba-cuda
    kernels refused it)."""
    from gswarp.engine import api

    runner = cuda_host.HostRunner()
    monkeypatch.setattr(cuda_core, "cupy_runner", lambda: runner)
    inp = image(rng, (1, 2, 16, 18), np.float32)
    fill_c, fill_n = fills(2, np.float32)
    matrix = shrinking_matrices(rng, 2, 1)
    maps = flow_maps(rng, 2, "general")
    maps[2, :, :2] *= 2.5
    field = rng.normal(0, 0.3, (4, 5, 2))
    axes = np.meshgrid(np.arange(6.0), np.arange(5.0), indexing="ij")
    coords = (np.stack(axes[::-1], -1) * 2.8)[None]
    for support in (1.0, 3.0):
        frames, shrinks = core.antialias_frames(matrix[:, :, :2], support, 64.0)
        cases = [("affine", matrix, (frames, shrinks)), ("pixels", coords, (0, support, 64.0)),
                 ("flow", field, (maps, False, False, support, 64.0))]  # fmt: skip
        for kind, source, rest in cases:
            expected = np.empty((1, 2, 6, 5) if kind == "pixels" else (1, 2, 4, 5), np.float32)
            core.antialias(kind, inp, source, expected, 0, 1, False, fill_c, fill_n, 0,
                           rows(expected), rest)  # fmt: skip
            got = np.zeros_like(expected)
            api._antialias_cuda_core(kind, inp, source, got, 0, 1, False, fill_c, fill_n, rest)
            same_bits(got, expected)
    assert len(runner.launched) == 6


# ------------------------------------------------------------------------------------------
# backward passes


def backward_case(rng, spatial, dtype, source_kind):
    sizes, out_sizes = (5, 7, 8)[-spatial:], (4, 6, 5)[-spatial:]
    inp = image(rng, (2, 3, *sizes), dtype)
    gout = rng.normal(0, 1, (2, 3, *out_sizes)).astype(dtype)
    if source_kind == "affine":
        coordinates = affine_matrices(rng, spatial, 2)
    else:
        coordinates = grid_for(rng, (2, *out_sizes), spatial, dtype, False, sizes)
    fill = np.arange(1, 4, dtype=dtype) * 0.5
    return inp, gout, coordinates, fill


@pytest.mark.parametrize("spatial", [2, 3])
@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("padding", PADDINGS)
@pytest.mark.parametrize("source_kind", ["grid", "affine"])
def test_backward_kernels_give_the_cpu_bits(rng, spatial, mode, padding, source_kind):
    """Coordinate gradients: the CPU's bits. grad_input: the CPU's bits here, where the host
    build runs one thread per point in order (so each input pixel gets its terms in output-point
    order, as on the CPU); on a GPU the atomics' order is the hardware's."""
    affine = source_kind == "affine"
    for dtype, align in [(np.float32, False), (np.float64, True)]:
        inp, gout, coordinates, fill = backward_case(rng, spatial, dtype, source_kind)
        expected_input = np.empty_like(inp)
        core.backward_input(gout, inp, coordinates, expected_input, mode, padding, align, fill,
                            affine, 2, False)  # fmt: skip
        rows = 2 * int(np.prod(gout.shape[2:-1]))
        shape = (rows, *coordinates.shape[1:]) if affine else coordinates.shape
        expected_coordinates = np.empty(shape, np.float64 if affine else dtype)
        core.backward_coordinates(gout, inp, coordinates, expected_coordinates, mode, padding,
                                  align, fill, affine, True)  # fmt: skip
        grad_input = np.zeros_like(inp)
        grad_coordinates = np.full_like(expected_coordinates, 7)
        runner = cuda_host.HostRunner(threads=32, max_blocks=1 << 20)  # one point per thread
        cuda_core.backward(source_kind, gout, inp, coordinates, grad_input, grad_coordinates,
                           mode, padding, align, fill, runner=runner)  # fmt: skip
        same_bits(grad_input, expected_input)
        same_bits(grad_coordinates, expected_coordinates)


@pytest.mark.parametrize("spatial", [2, 3])
def test_grad_input_of_few_threads_each_taking_many_points(rng, spatial):
    """A grid-stride launch (7 threads in 2 blocks) adds each pixel's terms in another order:
    within rounding of the CPU's sums."""
    inp, gout, coordinates, fill = backward_case(rng, spatial, np.float64, "grid")
    expected = np.empty_like(inp)
    core.backward_input(gout, inp, coordinates, expected, 0, 0, False, fill, False, 1, True)
    got = np.zeros_like(inp)
    cuda_core.backward("grid", gout, inp, coordinates, got, None, 0, 0, False, fill,
                       runner=cuda_host.HostRunner(threads=7, max_blocks=2))  # fmt: skip
    np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-12)
    assert np.abs(expected).max() > 0.1


def test_autodiff_hands_cupy_arrays_to_the_backward_kernels(rng, monkeypatch):
    """``gswarp.autodiff._run_cuda_core`` (``_run``'s path for CuPy arrays) on the host build:
    the CPU path's results for a grid and for a matrix (its rows' shares summed)."""
    from gswarp import autodiff

    runner = cuda_host.HostRunner(threads=32, max_blocks=1 << 20)
    monkeypatch.setattr(cuda_core, "cupy_runner", lambda: runner)
    for source_kind in ("grid", "affine"):
        inp, gout, coordinates, fill = backward_case(rng, 2, np.float64, source_kind)
        arguments = (source_kind, gout, inp, coordinates, 0, 1, False, fill, ("input", "grid"))
        expected = autodiff._run_core(*arguments)
        got = autodiff._run_cuda_core(*arguments)
        for a, b in zip(got, expected, strict=True):
            same_bits(a, b)
    assert sorted({n.split("<")[0] for n in runner.launched}) == [
        "gswarp::cuda::grid_backward", "gswarp::cuda::input_backward",
        "gswarp::cuda::matrix_backward"]  # fmt: skip


def test_the_compiled_text_changes_with_any_header(tmp_path):
    """CuPy caches kernels by the source text it is given: the text carries a digest of every
    header it includes, so a changed header means a new compile, not a stale cached kernel."""
    import shutil

    folder = tmp_path / "sources"
    shutil.copytree(cuda_core.sources(), folder)
    before = cuda_core.source_text(folder)
    assert before.endswith((folder / "cuda" / "kernels.cu").read_text())
    header = folder / "gswarp_core" / "pointwise.hpp"
    header.write_text(header.read_text() + "\n// changed\n")
    after = cuda_core.source_text(folder)
    assert after != before and after.splitlines()[1:] == before.splitlines()[1:]
    if nvrtc.library() is not None:  # the digest line is a comment: the text still compiles
        status, log, _ = nvrtc.compile_program(after, nvrtc_options("compute_90"), some_names()[:1])
        assert status == 0, log


def test_a_repeated_gpu_grid_sample_skips_the_checks_and_gives_the_same_result(rng, monkeypatch):
    """gswarp.engine.api's signature cache (a launch's host time): the first call of a
    signature runs the full checks and records what they worked out; the next ones launch
    straight away, with the same result; another signature, an invalid variant of a known one
    (align_corners=1 for True) or a dtype the kernels read converted (float16) takes the full
    path again."""
    import gswarp
    from gswarp.engine import api
    from gswarp.engine.device import use_backend
    from gswarp.errors import SpecError

    runner = cuda_host.HostRunner()
    monkeypatch.setattr(cuda_core, "cupy_runner", lambda: runner)
    monkeypatch.setattr(api, "_GPU_CALLS", {})
    full = []
    original = api._sample_grid
    monkeypatch.setattr(api, "_sample_grid", lambda *a, **k: full.append(a[0]) or original(*a, **k))
    x = image(rng, (2, 3, 9, 11), np.float32)
    grid = rng.uniform(-1.2, 1.2, (2, 5, 7, 2)).astype(np.float32)
    expected = gswarp.grid_sample(x, grid, "bicubic", "reflection", True, fill=0.5)
    full.clear()
    with use_backend("cuda"):
        first = api.grid_sample(x, grid, "bicubic", "reflection", True, fill=0.5)
        second = api.grid_sample(x, grid, "bicubic", "reflection", True, fill=0.5)
        assert len(full) == 1 and len(api._GPU_CALLS) == 1
        api.grid_sample(x, grid[:, ::2], "bicubic", "reflection", True, fill=0.5)  # strides
        api.grid_sample(x, grid, "bilinear", "reflection", True, fill=0.5)
        assert len(full) == 3
        with pytest.raises(SpecError, match="align_corners"):
            api.grid_sample(x, grid, "bicubic", "reflection", 1, fill=0.5)
        api.grid_sample(x.astype(np.float16), grid, "bicubic", "reflection", True, fill=0.5)
        api.grid_sample(x.astype(np.float16), grid, "bicubic", "reflection", True, fill=0.5)
    assert len(full) == 6 and len(api._GPU_CALLS) == 3
    same_bits(first, expected)
    same_bits(second, expected)


def test_cupy_runner_hands_the_driver_the_struct_and_the_total():
    """CupyRunner.launch on a stand-in for CuPy's driver binding: cuLaunchKernel would read
    the packed struct and the int64 total through the two parameter pointers, with the launch
    geometry and CuPy's current stream."""
    import ctypes
    from types import SimpleNamespace

    seen = {}

    def launch_kernel(f, gx, gy, gz, bx, by, bz, shared, stream, params, extra):
        pointers = (ctypes.c_void_p * 2).from_address(params)
        size = cuda_core.GRID_SAMPLE.itemsize
        seen.update(function=f, grid=(gx, gy, gz), block=(bx, by, bz), shared=shared,
                    stream=stream, extra=extra, struct=ctypes.string_at(pointers[0], size),
                    total=ctypes.c_int64.from_address(pointers[1]).value)  # fmt: skip

    fake = SimpleNamespace(cuda=SimpleNamespace(
        driver=SimpleNamespace(launchKernel=launch_kernel),
        get_current_stream=lambda: SimpleNamespace(ptr=1234),
        runtime=SimpleNamespace(getDevice=lambda: 0)))  # fmt: skip
    runner = cuda_core.CupyRunner.__new__(cuda_core.CupyRunner)
    runner.cupy = fake
    runner.functions = {(0, "gswarp::cuda::grid_sample<2, 0, 8, 8>"): 777}
    packed = bytes(range(256)) * 2 + bytes(cuda_core.GRID_SAMPLE.itemsize - 512)
    runner.launch("gswarp::cuda::grid_sample<2, 0, 8, 8>", packed, cuda_core.GRID_SAMPLE,
                  1_000_000)  # fmt: skip
    assert seen == {"function": 777, "grid": (3907, 1, 1), "block": (256, 1, 1), "shared": 0,
                    "stream": 1234, "extra": 0, "struct": packed, "total": 1_000_000}  # fmt: skip
