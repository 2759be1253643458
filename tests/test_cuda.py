"""The CUDA backend's public functions against the CPU engine.

With a GPU (CuPy and a device) the kernels run there: NumPy arrays under
``use_backend('cuda')`` are copied over and back, and the CuPy and torch-CUDA tests below run
too. Without one, the kernels run as their host build (``tests/cuda_host.py``: the ``.cu``
sources compiled for the CPU, every (block, thread) of a launch in turn, few threads so the
grid-stride loops take many turns) through the very same engine code -- the argument
preparation, the copies (none there), the name expressions and the launches -- on every commit.

Tolerances (DESIGN: GPU results equal the CPU's to rounding): float64 1e-10, float32 2e-5,
nearest exactly. The kernels' bits (the CPU's wherever the operation order is the same) are
checked by tests/test_cuda_core.py.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest

import gswarp
from gswarp.engine import cuda_core
from gswarp.engine.device import use_backend
from gswarp.engine.tiles import FieldStep, MatrixStep, sample_chain
from tests import cuda_host


def _gpu_usable() -> bool:
    try:
        import cupy

        return cupy.cuda.runtime.getDeviceCount() > 0
    except Exception:  # no CuPy, no driver, no device
        return False


GPU = _gpu_usable()
if not GPU and cuda_host.compiler() is None:
    pytest.skip("no GPU and no C++ compiler for the kernels' host build", allow_module_level=True)


@pytest.fixture(autouse=True)
def kernels_on_the_host_without_a_gpu(monkeypatch):
    """No GPU: the engine's runner is the kernels' host build."""
    if not GPU:
        runner = cuda_host.HostRunner(threads=64, max_blocks=6)
        monkeypatch.setattr(cuda_core, "cupy_runner", lambda: runner)


MODES = ("bilinear", "nearest", "bicubic")
PADDINGS = ("zeros", "border", "reflection")
TOLERANCE = {np.dtype(np.float64): 1e-10, np.dtype(np.float32): 2e-5}


def on_cuda(function, *args, **kwargs):
    with use_backend("cuda"):
        return function(*args, **kwargs)


def assert_close(gpu, cpu, mode, dtype):
    if mode == "nearest" or np.dtype(dtype).kind in "iub":
        atol = 0 if mode == "nearest" else 1  # integers: a rounding flip at .5 at most
        np.testing.assert_allclose(gpu.astype(np.float64), cpu.astype(np.float64), atol=atol)
    else:
        np.testing.assert_allclose(gpu, cpu, rtol=0, atol=TOLERANCE[np.dtype(dtype)])


def image(rng, shape, dtype):
    if np.dtype(dtype).kind == "u":
        return rng.integers(0, 256, shape).astype(dtype)
    return rng.standard_normal(shape).astype(dtype)


def grid_for(rng, shape):
    return rng.uniform(-1.2, 1.2, shape)  # some points outside: padding matters


CASES_2D = list(itertools.product(MODES, PADDINGS, (False, True)))


class TestCudaKernelsMatchCpu:
    @pytest.mark.parametrize(("mode", "padding", "align"), CASES_2D)
    def test_cuda_grid_sample_2d(self, rng, mode, padding, align):
        x = image(rng, (2, 2, 5, 6), np.float64)
        grid = grid_for(rng, (2, 3, 4, 2))
        cpu = gswarp.grid_sample(x, grid, mode, padding, align)
        gpu = on_cuda(gswarp.grid_sample, x, grid, mode, padding, align)
        assert_close(gpu, cpu, mode, np.float64)

    @pytest.mark.parametrize(("mode", "padding"), list(itertools.product(MODES, PADDINGS)))
    def test_cuda_grid_sample_3d(self, rng, mode, padding):
        x = image(rng, (1, 2, 4, 5, 3), np.float64)
        grid = grid_for(rng, (1, 2, 2, 3, 3))
        cpu = gswarp.grid_sample(x, grid, mode, padding, False)
        gpu = on_cuda(gswarp.grid_sample, x, grid, mode, padding, False)
        assert_close(gpu, cpu, mode, np.float64)

    @pytest.mark.parametrize("dtype", [np.float32, np.uint8, np.float16])
    @pytest.mark.parametrize("mode", ["bilinear", "nearest"])
    def test_cuda_dtype_policy(self, rng, dtype, mode):
        x = image(rng, (1, 3, 6, 7), dtype)
        grid = grid_for(rng, (1, 4, 5, 2)).astype(np.float32)
        cpu = gswarp.grid_sample(x, grid, mode, "zeros", False, fill=[1, 2, 3])
        gpu = on_cuda(gswarp.grid_sample, x, grid, mode, "zeros", False, fill=[1, 2, 3])
        assert gpu.dtype == cpu.dtype
        check = np.float32 if dtype == np.float16 else dtype
        assert_close(gpu, cpu, mode, check)

    def test_cuda_bool_labels_nearest(self, rng):
        x = rng.random((1, 1, 6, 6)) > 0.5
        grid = grid_for(rng, (1, 4, 4, 2))
        cpu = gswarp.grid_sample(x, grid, "nearest")
        np.testing.assert_array_equal(on_cuda(gswarp.grid_sample, x, grid, "nearest"), cpu)

    def test_cuda_non_finite_coordinates_give_fill(self, rng):
        x = image(rng, (1, 1, 4, 4), np.float64)
        grid = np.array([[[[np.nan, 0.0], [0.0, np.inf]]]])
        gpu = on_cuda(gswarp.grid_sample, x, grid, "bilinear", "border", fill=7.0)
        np.testing.assert_array_equal(gpu, [[[[7.0, 7.0]]]])

    @pytest.mark.parametrize(("mode", "align"), list(itertools.product(MODES, (False, True))))
    def test_cuda_affine_sample_2d(self, rng, mode, align):
        x = image(rng, (2, 2, 6, 7), np.float32)
        theta = np.array([[[0.9, -0.3, 0.1], [0.25, 1.1, -0.2]], [[1, 0, 0], [0, 1, 0.0]]])
        size = (2, 2, 5, 4)
        cpu = gswarp.affine_sample(x, theta, size, mode, "reflection", align)
        gpu = on_cuda(gswarp.affine_sample, x, theta, size, mode, "reflection", align)
        assert_close(gpu, cpu, mode, np.float32)

    @pytest.mark.parametrize("mode", MODES)
    def test_cuda_affine_sample_3d(self, rng, mode):
        x = image(rng, (1, 1, 4, 5, 6), np.float64)
        theta = np.array([[[0.9, -0.3, 0.1, 0.0], [0.25, 1.1, 0, -0.2], [0, 0.1, 1, 0.05]]])
        size = (1, 1, 3, 2, 4)
        cpu = gswarp.affine_sample(x, theta, size, mode, "zeros", False)
        gpu = on_cuda(gswarp.affine_sample, x, theta, size, mode, "zeros", False)
        assert_close(gpu, cpu, mode, np.float64)

    def test_cuda_identity_theta_returns_the_input_bit_for_bit(self, rng):
        x = image(rng, (1, 2, 5, 6), np.float32)
        identity = np.array([[[1.0, 0, 0], [0, 1, 0]]])
        np.testing.assert_array_equal(on_cuda(gswarp.affine_sample, x, identity), x)

    @pytest.mark.parametrize(("spatial", "align"), [(2, False), (2, True), (3, False)])
    def test_cuda_affine_grid(self, rng, spatial, align):
        theta = rng.standard_normal((2, spatial, spatial + 1)).astype(np.float32)
        size = (2, 1, 3, 5) if spatial == 2 else (2, 1, 2, 3, 4)
        cpu = gswarp.affine_grid(theta, size, align)
        gpu = on_cuda(gswarp.affine_grid, theta, size, align)
        np.testing.assert_allclose(gpu, cpu, rtol=0, atol=2e-6)

    @pytest.mark.parametrize("spatial", [2, 3])
    def test_cuda_flow_field_chain(self, rng, spatial):
        shape = (6, 7) if spatial == 2 else (3, 4, 5)
        x = image(rng, (1, 2, *shape), np.float64)
        coarse = rng.normal(0, 1.5, (*(n // 2 + 1 for n in shape), spatial))
        k = spatial
        tilt = np.eye(k, k + 1)
        tilt[0, 1] = 0.1
        to_field = np.eye(k, k + 1) / 2
        steps = (MatrixStep(tilt), FieldStep(coarse, to_field), MatrixStep(np.eye(k, k + 1)))
        size = (1, 2, *shape)
        cpu = sample_chain(x, steps, size, "bilinear", "border")
        gpu = on_cuda(sample_chain, x, steps, size, "bilinear", "border")
        assert_close(gpu, cpu, "bilinear", np.float64)

    def test_cuda_elastic_warp_matches_cpu(self):
        pytest.importorskip("yaml", reason="PyYAML is not installed")
        pytest.importorskip("PIL", reason="Pillow is not installed")
        from gswarp.plan import resolve
        from gswarp.run.warp import warp_pixels
        from gswarp.spec import parse_spec

        spec = parse_spec(
            "version: 1\ntransform: {elastic: {alpha: 20, sigma: 2, grid: 2, seed: 3}}"
        )
        pixels = np.random.default_rng(1).integers(0, 256, (7, 8, 3), dtype=np.uint8)
        plan = resolve(spec, pixels.shape[:2])
        cpu = warp_pixels(pixels, plan)
        gpu = on_cuda(warp_pixels, pixels, plan)
        np.testing.assert_allclose(gpu.astype(int), cpu.astype(int), atol=1)


class TestCudaWindows:
    @pytest.mark.parametrize("spatial", [(13, 15), (9, 10, 11)])
    def test_cuda_window_of_an_affine_warp(self, rng, spatial):
        from gswarp.engine.chunks import input_window, warp_affine_window

        k = len(spatial)
        x = image(rng, (1, 2, *spatial), np.float64)
        matrix = np.concatenate([np.eye(k) * 0.9 + 0.05, np.full((k, 1), 0.7)], axis=1)
        origin, stop = (2,) * k, (5,) * k
        low, high = input_window(matrix, origin, stop, spatial, "bilinear", "zeros")
        box = [slice(a, b) for a, b in zip(low[::-1], high[::-1], strict=True)]
        window = x[(slice(None), slice(None), *box)]
        size = (1, 2, *[3] * k)
        args = (window, low, matrix, size, origin)
        cpu = warp_affine_window(*args)
        gpu = on_cuda(warp_affine_window, *args)
        assert_close(gpu, cpu, "bilinear", np.float64)
        whole = gswarp.warp_affine(x, matrix, (1, 2, *[5] * k))
        np.testing.assert_array_equal(cpu, whole[(slice(None), slice(None), *[slice(2, 5)] * k)])


class TestCudaAntialias:
    """The antialiasing kernels against the CPU's."""

    @staticmethod
    def _shrinking(k: int) -> np.ndarray:
        linear = np.diag([2.3, 1.6, 1.9][:k])
        c, s = np.cos(0.4), np.sin(0.4)
        linear[:2, :2] = np.array([[c, -s], [s, c]]) @ linear[:2, :2]
        return np.concatenate([linear, np.full((k, 1), 0.35)], axis=1)

    @pytest.mark.parametrize(
        ("mode", "padding"),
        list(itertools.product(("bilinear", "bicubic"), PADDINGS)),
    )
    def test_cuda_antialias_2d(self, rng, mode, padding):
        x = image(rng, (1, 10, 12, 13), np.float64)  # 10 channels: two launches of 8 and 2
        matrix = self._shrinking(2)
        args = (x, matrix, (1, 10, 5, 6), mode, padding)
        cpu = gswarp.warp_affine(*args, fill=0.5, antialias=True)
        gpu = on_cuda(gswarp.warp_affine, *args, fill=0.5, antialias=True)
        assert_close(gpu, cpu, mode, np.float64)

    def test_cuda_antialias_3d_and_uint8(self, rng):
        x = image(rng, (1, 2, 8, 9, 10), np.uint8)
        matrix = self._shrinking(3)
        cpu = gswarp.warp_affine(x, matrix, (1, 2, 3, 4, 4), antialias=True)
        gpu = on_cuda(gswarp.warp_affine, x, matrix, (1, 2, 3, 4, 4), antialias=True)
        assert_close(gpu, cpu, "bilinear", np.uint8)

    @pytest.mark.parametrize("spatial", [(9, 11), (6, 7, 8)])
    def test_cuda_antialias_by_coordinates(self, rng, spatial):
        k = len(spatial)
        x = image(rng, (1, 1, *spatial), np.float64)
        axes = np.meshgrid(*[np.arange(3.0)] * k, indexing="ij")[::-1]
        base = np.stack(axes, axis=-1)  # (x, y[, z]) of a 3^k output
        coords = (base @ self._shrinking(k)[:, :k].T + 0.4)[None]
        coords = coords + rng.uniform(-0.2, 0.2, coords.shape)  # not quite affine
        coords[(0,) * (k + 1)] = np.nan  # a non-finite point: fill
        cpu = gswarp.sample_pixels(x, coords, antialias=True)
        gpu = on_cuda(gswarp.sample_pixels, x, coords, antialias=True)
        assert_close(gpu, cpu, "bilinear", np.float64)

    @pytest.mark.parametrize("spatial", [(9, 11), (6, 7, 8)])
    def test_cuda_antialias_flow(self, rng, spatial):
        k = len(spatial)
        x = image(rng, (1, 2, *spatial), np.float64)
        field = rng.standard_normal((*[3] * k, k))
        steps = [MatrixStep(self._shrinking(k)), FieldStep(field, np.eye(k, k + 1) * 0.3)]
        size = (1, 2, *[3] * k)
        cpu = sample_chain(x, steps, size, antialias=True)
        gpu = on_cuda(sample_chain, x, steps, size, antialias=True)
        assert_close(gpu, cpu, "bilinear", np.float64)


def _cupy_or_skip():
    if not GPU:
        pytest.skip("no usable GPU: CuPy array tests skipped")
    import cupy

    return cupy


class TestCudaBackward:
    """grid_sample's backward pass on the GPU (issue 17): the same point functions as the CPU's,
    grad_input scattered with atomic adds (the order of its sums varies, as torch's CUDA
    kernel's), grad_grid per point."""

    @pytest.mark.parametrize(
        ("spatial", "mode", "padding"), list(itertools.product((2, 3), MODES, PADDINGS))
    )
    def test_cuda_backward_matches_cpu(self, rng, spatial, mode, padding):
        from gswarp.autodiff import grid_sample_backward

        shape = (2, 2, 5, 6) if spatial == 2 else (1, 2, 4, 5, 3)
        out = (3, 4) if spatial == 2 else (2, 2, 3)
        x = image(rng, shape, np.float64)
        grid = grid_for(rng, (shape[0], *out, spatial))
        grad_out = rng.standard_normal((shape[0], shape[1], *out))
        cpu = grid_sample_backward(grad_out, x, grid, mode, padding, fill=0.5)
        gpu = on_cuda(grid_sample_backward, grad_out, x, grid, mode, padding, fill=0.5)
        for got, expected in zip(gpu, cpu, strict=True):
            scale = max(float(np.abs(expected).max()), 1.0)
            np.testing.assert_allclose(got, expected, rtol=0, atol=1e-10 * scale)

    def test_cuda_backward_float32_needs_and_nan(self, rng):
        from gswarp.autodiff import grid_sample_backward

        x = image(rng, (1, 3, 6, 7), np.float32)
        grid = grid_for(rng, (1, 4, 5, 2)).astype(np.float32)
        grid[0, 0, 0, 0] = np.nan
        grad_out = rng.standard_normal((1, 3, 4, 5)).astype(np.float32)
        cpu_input, _ = grid_sample_backward(grad_out, x, grid, needs=("input",))
        gpu_input, gpu_grid = on_cuda(grid_sample_backward, grad_out, x, grid, needs="input")
        assert gpu_grid is None and gpu_input.dtype == np.float32
        np.testing.assert_allclose(gpu_input, cpu_input, rtol=0, atol=2e-5)
        _, gpu_grid = on_cuda(grid_sample_backward, grad_out, x, grid, needs="grid")
        assert not gpu_grid[0, 0, 0].any()

    @pytest.mark.parametrize(("spatial", "mode"), list(itertools.product((2, 3), MODES)))
    def test_cuda_affine_backward_matches_cpu(self, rng, spatial, mode):
        from gswarp.autodiff import affine_sample_backward

        shape = (2, 2, 5, 6) if spatial == 2 else (1, 2, 4, 5, 3)
        size = (shape[0], 2, 4, 3) if spatial == 2 else (1, 2, 3, 2, 4)
        x = image(rng, shape, np.float64)
        theta = np.eye(spatial, spatial + 1) * 0.9 + rng.uniform(
            -0.2, 0.2, (shape[0], spatial, spatial + 1)
        )
        grad_out = rng.standard_normal(size)
        cpu = affine_sample_backward(grad_out, x, theta, mode, "border")
        gpu = on_cuda(affine_sample_backward, grad_out, x, theta, mode, "border")
        for got, expected in zip(gpu, cpu, strict=True):
            scale = max(float(np.abs(expected).max()), 1.0)
            np.testing.assert_allclose(got, expected, rtol=0, atol=1e-10 * scale)

    @pytest.mark.parametrize(
        ("spatial", "field", "kind"),
        list(itertools.product((2, 3), ("dense", "lattice"), ("displacement", "coordinates"))),
    )
    def test_cuda_flow_backward_matches_cpu(self, rng, spatial, field, kind):
        """The flow's backward pass (two grid_sample_backwards and a lattice's transpose) runs
        every step on the GPU."""
        from gswarp.autodiff import warp_flow_backward

        shape = (2, 2, 6, 7) if spatial == 2 else (1, 2, 4, 5, 6)
        field_shape = shape[2:] if field == "dense" else (3,) * spatial
        flow = rng.uniform(-1.5, 1.5, (*field_shape, spatial))
        if kind == "coordinates":
            flow += np.moveaxis(np.indices(field_shape)[::-1], 0, -1)
        x = image(rng, shape, np.float64)
        grad_out = rng.standard_normal(shape)
        cpu = warp_flow_backward(grad_out, x, flow, "bilinear", "border", kind=kind)
        gpu = on_cuda(warp_flow_backward, grad_out, x, flow, "bilinear", "border", kind=kind)
        for got, expected in zip(gpu, cpu, strict=True):
            scale = max(float(np.abs(expected).max()), 1.0)
            np.testing.assert_allclose(got, expected, rtol=0, atol=1e-10 * scale)


class TestCudaCupyArrays:
    @pytest.mark.parametrize(
        ("mode", "dtype"), list(itertools.product(MODES, (np.float32, np.float64)))
    )
    def test_cuda_cupy_in_cupy_out_matches_cpu(self, rng, mode, dtype):
        cupy = _cupy_or_skip()
        x = image(rng, (2, 3, 64, 48), dtype)
        grid = grid_for(rng, (2, 32, 40, 2)).astype(dtype)
        gpu = gswarp.grid_sample(cupy.asarray(x), cupy.asarray(grid), mode, "border", False)
        assert isinstance(gpu, cupy.ndarray)
        assert_close(gpu.get(), gswarp.grid_sample(x, grid, mode, "border", False), mode, dtype)

    @pytest.mark.parametrize("mode", MODES)
    def test_cuda_cupy_backward_matches_cpu(self, rng, mode):
        from gswarp.autodiff import grid_sample_backward

        cupy = _cupy_or_skip()
        x = image(rng, (2, 3, 64, 48), np.float32)
        grid = grid_for(rng, (2, 32, 40, 2)).astype(np.float32)
        grad_out = rng.standard_normal((2, 3, 32, 40)).astype(np.float32)
        cpu = grid_sample_backward(grad_out, x, grid, mode, "reflection")
        gpu = grid_sample_backward(
            *(cupy.asarray(a) for a in (grad_out, x, grid)), mode, "reflection"
        )
        for got, expected in zip(gpu, cpu, strict=True):
            assert isinstance(got, cupy.ndarray)
            scale = max(float(np.abs(expected).max()), 1.0)
            np.testing.assert_allclose(got.get(), expected, rtol=0, atol=2e-5 * scale)

    def test_cuda_cupy_flow_backward_matches_cpu(self, rng):
        from gswarp.autodiff import warp_flow_backward

        cupy = _cupy_or_skip()
        x = image(rng, (1, 3, 40, 48), np.float32)
        lattice = rng.uniform(-2, 2, (5, 6, 2))
        grad_out = rng.standard_normal((1, 3, 32, 36)).astype(np.float32)
        cpu_input, cpu_flow = warp_flow_backward(grad_out, x, lattice)
        gpu_input, gpu_flow = warp_flow_backward(
            cupy.asarray(grad_out), cupy.asarray(x), cupy.asarray(lattice)
        )
        assert isinstance(gpu_input, cupy.ndarray) and isinstance(gpu_flow, cupy.ndarray)
        scale = max(float(np.abs(cpu_input).max()), 1.0)
        np.testing.assert_allclose(gpu_input.get(), cpu_input, rtol=0, atol=2e-5 * scale)
        scale = float(np.abs(cpu_flow).max())
        np.testing.assert_allclose(gpu_flow.get(), cpu_flow, rtol=0, atol=1e-4 * scale)

    def test_cuda_cupy_affine_backward_matches_cpu(self, rng):
        from gswarp.autodiff import affine_sample_backward

        cupy = _cupy_or_skip()
        x = image(rng, (2, 3, 40, 48), np.float32)
        theta = np.eye(2, 3) * 0.9 + rng.uniform(-0.2, 0.2, (2, 2, 3))
        grad_out = rng.standard_normal((2, 3, 32, 36)).astype(np.float32)
        cpu_input, cpu_theta = affine_sample_backward(grad_out, x, theta)
        gpu_input, gpu_theta = affine_sample_backward(
            cupy.asarray(grad_out), cupy.asarray(x), theta
        )
        assert isinstance(gpu_input, cupy.ndarray) and isinstance(gpu_theta, np.ndarray)
        scale = max(float(np.abs(cpu_input).max()), 1.0)
        np.testing.assert_allclose(gpu_input.get(), cpu_input, rtol=0, atol=2e-5 * scale)
        np.testing.assert_allclose(gpu_theta, cpu_theta, rtol=1e-4)

    @pytest.mark.parametrize("mode", MODES)
    def test_cuda_cupy_affine_sample_3d(self, rng, mode):
        cupy = _cupy_or_skip()
        x = image(rng, (1, 2, 20, 24, 28), np.float32)
        theta = np.array([[[0.9, -0.3, 0.1, 0.0], [0.25, 1.1, 0, -0.2], [0, 0.1, 1, 0.05]]])
        gpu = gswarp.affine_sample(cupy.asarray(x), theta, None, mode)
        assert_close(gpu.get(), gswarp.affine_sample(x, theta, None, mode), mode, np.float32)

    @pytest.mark.parametrize("mode", ["bilinear", "bicubic"])
    def test_cuda_cupy_antialias(self, rng, mode):
        cupy = _cupy_or_skip()
        x = image(rng, (1, 3, 96, 80), np.float32)
        matrix = TestCudaAntialias._shrinking(2)
        gpu = gswarp.warp_affine(cupy.asarray(x), matrix, (1, 3, 30, 28), mode, antialias=True)
        assert isinstance(gpu, cupy.ndarray)
        cpu = gswarp.warp_affine(x, matrix, (1, 3, 30, 28), mode, antialias=True)
        assert_close(gpu.get(), cpu, mode, np.float32)

    def test_cuda_cupy_strided_hwc_view(self, rng):
        cupy = _cupy_or_skip()
        hwc = cupy.asarray(image(rng, (40, 30, 3), np.uint8))
        nchw = cupy.moveaxis(hwc, -1, 0)[None]
        theta = np.array([[[0.8, 0.2, 0.0], [-0.2, 0.8, 0.0]]])
        gpu = gswarp.affine_sample(nchw, theta)
        cpu = gswarp.affine_sample(np.moveaxis(hwc.get(), -1, 0)[None], theta)
        np.testing.assert_allclose(gpu.get().astype(int), cpu.astype(int), atol=1)

    def test_cuda_cupy_large_index_uses_64_bit(self):
        cupy = _cupy_or_skip()
        x = cupy.ones((1, 1, 1, 3), cupy.float32)
        grid = cupy.zeros((1, 1, (1 << 31) // 2 + 5, 2), cupy.float32)  # > 2**30 points, 8 GiB
        try:
            out = gswarp.grid_sample(x, grid, "nearest")
        except cupy.cuda.memory.OutOfMemoryError:
            pytest.skip("not enough GPU memory for a 2**30-point grid")
        assert float(out[0, 0, 0, -1]) == 1.0


class TestCudaLaunches:
    """gswarp.engine.cuda_core.CupyRunner: one NVRTC module per name expression, kept; launches on
    CuPy's current stream."""

    def test_cuda_a_signature_compiles_once(self, rng):
        cupy = _cupy_or_skip()
        x = cupy.asarray(image(rng, (2, 3, 40, 36), np.float32))
        grid = cupy.asarray(grid_for(rng, (2, 20, 30, 2)).astype(np.float32))
        first = gswarp.grid_sample(x, grid, "bilinear", "reflection", True, fill=0.25)
        kept = dict(cuda_core.cupy_runner().functions)
        again = gswarp.grid_sample(x, grid, "bilinear", "reflection", True, fill=0.25)
        assert cuda_core.cupy_runner().functions == kept
        np.testing.assert_array_equal(first.get(), again.get())

    def test_cuda_launch_on_another_stream(self, rng):
        cupy = _cupy_or_skip()
        x = cupy.asarray(image(rng, (1, 1, 64, 64), np.float32))
        theta = np.array([[[0.5, 0.1, 0.0], [-0.1, 0.5, 0.0]]])
        expected = gswarp.affine_sample(x, theta).get()
        with cupy.cuda.Stream(non_blocking=True) as stream:
            for _ in range(3):
                out = gswarp.affine_sample(x, theta)
            stream.synchronize()
        np.testing.assert_array_equal(out.get(), expected)


class TestCudaTorchParity:
    @pytest.mark.parametrize(("mode", "padding", "align"), CASES_2D)
    def test_cuda_matches_torch_cuda(self, rng, mode, padding, align):
        cupy = _cupy_or_skip()
        torch = pytest.importorskip("torch", reason="torch is not installed")
        if not torch.cuda.is_available():
            pytest.skip("torch has no CUDA device")
        x = image(rng, (2, 3, 33, 47), np.float32)
        grid = grid_for(rng, (2, 20, 30, 2)).astype(np.float32)
        expected = (
            torch.nn.functional.grid_sample(
                torch.from_numpy(x).cuda(), torch.from_numpy(grid).cuda(), mode, padding, align
            )
            .cpu()
            .numpy()
        )
        gpu = gswarp.grid_sample(cupy.asarray(x), cupy.asarray(grid), mode, padding, align)
        assert_close(gpu.get(), expected, mode, np.float32)


class TestCudaCommandLine:
    def test_cuda_device_choice_without_a_usable_gpu(self, tmp_path):
        pytest.importorskip("click", reason="click is not installed")
        from click.testing import CliRunner

        from gswarp.cli.main import cli
        from gswarp.engine.device import cuda_status

        if cuda_status()[0]:
            pytest.skip("a GPU is usable here: --device cuda would succeed")
        spec = tmp_path / "s.yaml"
        spec.write_text("version: 1\ntransform: {affine: {rotate: 10}}\n")
        source = tmp_path / "a.png"
        from PIL import Image

        Image.fromarray(np.zeros((8, 8), np.uint8)).save(source)
        runner = CliRunner()
        refused = runner.invoke(
            cli, ["apply", str(spec), str(source), "-o", str(tmp_path / "o"), "--device", "cuda"]
        )
        assert refused.exit_code == 2
        assert "--device cuda: the CUDA backend is" in refused.stderr
        auto = runner.invoke(
            cli,
            ["apply", str(spec), str(source), "-o", str(tmp_path / "o"), "--device", "auto", "-v"],
        )
        assert auto.exit_code == 0 and "warping on the CPU (--device auto)" in auto.stderr

    def test_cuda_pipeline_on_cupy_matches_cpu(self):
        _cupy_or_skip()
        pytest.importorskip("yaml", reason="PyYAML is not installed")
        pytest.importorskip("PIL", reason="Pillow is not installed")
        from gswarp.plan import resolve
        from gswarp.run.warp import warp_pixels
        from gswarp.spec import parse_spec

        spec = parse_spec(
            "version: 1\ntransform: [{affine: {rotate: 20}}, "
            "{elastic: {alpha: 30, sigma: 4, grid: 4, seed: 1}}]"
        )
        pixels = np.random.default_rng(2).integers(0, 256, (300, 200, 3), dtype=np.uint8)
        plan = resolve(spec, pixels.shape[:2])
        gpu = warp_pixels(pixels, plan, "cuda")
        np.testing.assert_allclose(gpu.astype(int), warp_pixels(pixels, plan).astype(int), atol=1)
