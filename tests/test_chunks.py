"""Chunked affine warps (gswarp.engine.chunks): each output chunk computed from its input window
equals the whole warp's pixels there, bit for bit -- every mode, padding, ``align_corners`` and
the dtypes of both compute precisions, 2-D and 3-D, odd chunk shapes, chunks smaller than the
interpolation support, and maps whose chunks read input regions larger than themselves."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

import gswarp
from gswarp.engine.chunks import input_window, warp_affine_chunked, warp_affine_window
from tests.oracles import MODES, PADDINGS, about_centres, rotation


def rotation_2d(degrees: float, scale: float, in_spatial, out_spatial) -> np.ndarray:
    """Sampling matrix: output -> input, a turn and a shrink (scale > 1) about the centres."""
    return about_centres(rotation(degrees) * scale, in_spatial, out_spatial)


def volume_matrix(rng) -> np.ndarray:
    linear = np.eye(3) + rng.uniform(-0.35, 0.35, (3, 3))  # oblique, some axes shrink
    return np.concatenate([linear, rng.uniform(-3, 3, (3, 1))], axis=1)


def data(rng, shape, dtype):
    if np.dtype(dtype).kind == "u":
        return rng.integers(0, np.iinfo(dtype).max, shape, endpoint=True).astype(dtype)
    return rng.standard_normal(shape).astype(dtype)


CASES_2D = list(itertools.product(MODES, PADDINGS, (False, True)))


class TestChunkedEqualsWhole:
    @pytest.mark.parametrize(("mode", "padding", "align"), CASES_2D)
    def test_images(self, rng, mode, padding, align):
        image = data(rng, (2, 3, 37, 41), np.float32)
        size = (2, 3, 29, 33)
        matrix = np.stack(
            [rotation_2d(23, 1.4, (37, 41), (29, 33)), rotation_2d(-71, 0.8, (37, 41), (29, 33))]
        )
        matrix[:, :, 2] += [[5.0, -3.0], [-9.0, 11.0]]  # chunks beyond the input's edges too
        whole = gswarp.warp_affine(image, matrix, size, mode, padding, align, fill=0.25)
        for chunks in ((7, 5), (1, 2), (29, 33), (10, 64)):
            parts = warp_affine_chunked(
                image, matrix, size, chunks, mode, padding, align, fill=0.25
            )
            np.testing.assert_array_equal(parts, whole)

    @pytest.mark.parametrize(("mode", "padding", "align"), CASES_2D)
    def test_volumes(self, rng, mode, padding, align):
        volume = data(rng, (1, 1, 19, 17, 23), np.uint16)
        matrix = volume_matrix(rng)
        size = (1, 1, 15, 16, 18)
        whole = gswarp.warp_affine(volume, matrix, size, mode, padding, align, fill=7)
        for chunks in ((4, 5, 6), (1, 3, 2), (15, 16, 18)):
            parts = warp_affine_chunked(volume, matrix, size, chunks, mode, padding, align, fill=7)
            np.testing.assert_array_equal(parts, whole)

    @pytest.mark.parametrize("dtype", [np.float64, np.uint8, np.float32])
    def test_dtypes_and_a_large_shift(self, rng, dtype):
        # coordinates in the thousands: the window's origin is subtracted from float32 values
        image = data(rng, (1, 1, 64, 3000), dtype)
        matrix = np.array([[1.37, 0.11, 1200.3], [-0.05, 0.93, 4.1]])
        size = (1, 1, 40, 900)
        whole = gswarp.warp_affine(image, matrix, size, "bilinear", "border")
        parts = warp_affine_chunked(image, matrix, size, (16, 64), "bilinear", "border")
        np.testing.assert_array_equal(parts, whole)


class TestWindows:
    def test_interior_chunks_read_small_shifted_windows(self):
        matrix = rotation_2d(15, 1.0, (200, 200), (200, 200))
        start, stop = input_window(matrix, (80, 80), (96, 96), (200, 200), "bicubic", "zeros")
        widths = np.subtract(stop, start)
        assert np.all(widths < 40) and np.all(np.array(start) > 0)

    def test_reflection_takes_the_whole_axis_when_a_chunk_leaves_the_input(self):
        matrix = np.array([[1.0, 0.0, -5.0], [0.0, 1.0, 0.0]])
        start, stop = input_window(
            matrix, (0, 10), (8, 20), (50, 60), "bilinear", "reflection", True
        )
        assert (start[0], stop[0]) == (0, 60)  # x leaves the input: the whole axis
        assert stop[1] - start[1] < 20  # y stays inside: a window
        without = input_window(matrix, (0, 10), (8, 20), (50, 60), "bilinear", "reflection")
        assert without == ((0, 0), (60, 50))  # without align_corners: the whole input

    def test_a_window_of_the_wrong_shape_is_refused(self, rng):
        with pytest.raises(ValueError, match="origin, shift: expected 2 integers"):
            warp_affine_window(
                rng.random((1, 1, 4, 4)), (0, 0, 0), np.eye(2, 3), (1, 1, 2, 2), (0, 0)
            )


class TestChunkedFlows:
    """Chains with one flow field (gswarp.engine.chunks.warp_chain_window): the windowed fused
    flow kernel computes from whole-output indices and the whole field, so chunks equal
    ``sample_chain`` bit for bit -- a field on the output's grid (read directly), a coarse one
    (interpolated, separable), matrices before and after it, displacements and coordinates."""

    @staticmethod
    def chains(rng, spatial):
        from gswarp.engine.tiles import FieldStep, MatrixStep
        from gswarp.transforms import resize_matrix

        k = len(spatial)
        dense = rng.standard_normal((*spatial, k)) * 2
        coarse_shape = (4, 5, 6)[-k:]
        coarse = rng.standard_normal((*coarse_shape, k)) * 2
        to_coarse = resize_matrix(coarse_shape, spatial, False)
        shift = np.eye(k, k + 1)
        shift[0, k] = 0.3
        turn = np.eye(k, k + 1)
        turn[:2, :2] = rotation(12)[:, :2]
        absolute = _base(spatial) + dense * 0.5
        return {
            "dense": [FieldStep(dense)],
            "coarse then turn": [FieldStep(coarse, to_coarse), MatrixStep(turn)],
            "shift, coarse, turn": [
                MatrixStep(shift),
                FieldStep(coarse, to_coarse),
                MatrixStep(turn),
            ],
            "turn then coarse": [MatrixStep(turn), FieldStep(coarse, to_coarse)],
            "coordinates": [FieldStep(absolute, absolute=True)],
        }

    @pytest.mark.parametrize(("mode", "padding", "align"), CASES_2D)
    @pytest.mark.parametrize("spatial", [(13, 17), (9, 11, 12)])
    def test_flow_chains(self, rng, mode, padding, align, spatial):
        from gswarp.engine.chunks import warp_chain_chunked
        from gswarp.engine.tiles import sample_chain

        x = data(rng, (1, 2, *spatial), np.float32)
        size = (1, 2, *spatial)
        chunks = (3, 4, 5)[-len(spatial) :]
        for name, steps in self.chains(rng, spatial).items():
            whole = sample_chain(x, steps, size, mode, padding, align, fill=0.5)
            chunked = warp_chain_chunked(x, steps, size, chunks, mode, padding, align, fill=0.5)
            np.testing.assert_array_equal(chunked, whole, err_msg=name)

    def test_nan_field_and_uint16(self, rng):
        from gswarp.engine.chunks import warp_chain_chunked
        from gswarp.engine.tiles import FieldStep, sample_chain

        x = data(rng, (1, 1, 10, 12, 14), np.uint16)
        field = rng.standard_normal((10, 12, 14, 3)) * 3
        field[:4] = np.nan  # a chunk whose every point reads the fill
        steps = [FieldStep(field)]
        size = x.shape
        whole = sample_chain(x, steps, size, "bicubic", "border", fill=7)
        chunked = warp_chain_chunked(x, steps, size, (5, 4, 3), "bicubic", "border", fill=7)
        np.testing.assert_array_equal(chunked, whole)

    def test_two_fields_are_refused(self, rng):
        from gswarp.engine.chunks import warp_chain_chunked
        from gswarp.engine.tiles import FieldStep
        from gswarp.errors import SpecError

        field = np.zeros((6, 7, 2))
        with pytest.raises(SpecError, match="at most one flow field"):
            warp_chain_chunked(
                np.zeros((1, 1, 6, 7)), [FieldStep(field), FieldStep(field)], (1, 1, 6, 7), (3, 3)
            )


def _base(spatial):
    axes = np.meshgrid(*[np.arange(n, dtype=np.float64) for n in spatial], indexing="ij")
    return np.stack(axes[::-1], axis=-1)
