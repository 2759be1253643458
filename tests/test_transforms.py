"""gswarp.transforms: pixel-space matrices, their torch form, and the forward-parameter helpers."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import gswarp
from gswarp.transforms import (
    affine_2d,
    compose,
    pixel_matrix_to_theta,
    sampling_matrix,
    theta_to_pixel_matrix,
)

sizes = st.integers(min_value=2, max_value=300)
entries = st.floats(min_value=-3, max_value=3, allow_nan=False)


@settings(max_examples=200, deadline=None)
@given(
    theta=st.lists(entries, min_size=6, max_size=6),
    h_in=sizes,
    w_in=sizes,
    h_out=sizes,
    w_out=sizes,
    align=st.booleans(),
)
def test_theta_pixel_matrix_round_trip(theta, h_in, w_in, h_out, w_out, align):
    theta = np.array(theta).reshape(1, 2, 3)
    matrix = theta_to_pixel_matrix(theta, (h_in, w_in), (h_out, w_out), align)
    back = pixel_matrix_to_theta(matrix, (h_in, w_in), (h_out, w_out), align)
    np.testing.assert_allclose(back, theta, rtol=1e-9, atol=1e-9)


@settings(max_examples=100, deadline=None)
@given(
    theta=st.lists(entries, min_size=12, max_size=12),
    size=st.tuples(sizes, sizes, sizes),
    align=st.booleans(),
)
def test_theta_pixel_matrix_maps_grid_points_like_affine_grid(theta, size, align):
    theta = np.array(theta).reshape(1, 3, 4)
    matrix = theta_to_pixel_matrix(theta, (4, 5, 6), size, align)
    # the pixel matrix applied to output pixel (x, y, z) equals affine_grid un-normalized
    d, h, w = size
    z, y, x = d - 1, h // 2, 0
    grid = gswarp.affine_grid(theta, (1, 1, d, h, w), align)[0, z, y, x]
    s_in = np.array([6, 5, 4])
    pixel = (grid + 1) * (s_in - 1) / 2 if align else ((grid + 1) * s_in - 1) / 2
    np.testing.assert_allclose(matrix[0, :, :3] @ [x, y, z] + matrix[0, :, 3], pixel, atol=1e-9)


def test_rotate_90_moves_content_like_numpy_rot90():
    image = np.arange(25.0).reshape(1, 1, 5, 5)
    forward = affine_2d(rotate=90, center=(2, 2))
    got = gswarp.warp_affine(image, sampling_matrix(forward))
    np.testing.assert_array_equal(got, np.rot90(image, axes=(2, 3)))


def test_translate_moves_content_right_and_down():
    image = np.zeros((1, 1, 6, 8))
    image[0, 0, 1, 2] = 1.0
    got = gswarp.warp_affine(image, sampling_matrix(affine_2d(translate=(5, 3))), mode="nearest")
    assert got[0, 0, 4, 7] == 1.0 and got.sum() == 1.0


def test_compose_applies_the_first_listed_first():
    shift = affine_2d(translate=(1, 0))
    turn = affine_2d(rotate=90)
    point = np.array([1.0, 0.0, 1.0])
    # shift then turn: (1, 0) -> (2, 0) -> (0, -2)
    np.testing.assert_array_equal(compose(shift, turn) @ point, [0.0, -2.0, 1.0])
    np.testing.assert_array_equal(compose(turn, shift) @ point, [1.0, -1.0, 1.0])


@settings(max_examples=100, deadline=None)
@given(
    rotate=st.floats(-360, 360),
    scale=st.floats(0.1, 5),
    shear=st.floats(-40, 40),
    tx=entries,
    ty=entries,
)
def test_sampling_matrix_inverts_the_forward_matrix(rotate, scale, shear, tx, ty):
    forward = affine_2d(
        rotate=rotate, scale=scale, shear=(shear, 0), translate=(tx, ty), center=(3.5, 2.0)
    )
    back = sampling_matrix(forward)
    point = np.array([0.7, -1.3, 1.0])
    np.testing.assert_allclose(back @ (forward @ point), point[:2], atol=1e-9)


def test_scale_about_the_centre_keeps_the_centre():
    forward = affine_2d(scale=(2.0, 3.0), center=(10.0, 4.0))
    np.testing.assert_array_equal(forward @ [10.0, 4.0, 1.0], [10.0, 4.0, 1.0])


class TestWarpAffine:
    def test_integer_matrix_is_an_exact_shift(self, rng):
        x = rng.random((2, 3, 7, 9)).astype(np.float32)
        got = gswarp.warp_affine(x, np.array([[1, 0, 2], [0, 1, -1]]), mode="bicubic")
        np.testing.assert_array_equal(got[:, :, 1:, :7], x[:, :, :-1, 2:])

    def test_matches_affine_sample_through_theta(self, rng):
        x = rng.random((1, 2, 6, 8))
        theta = rng.normal(scale=0.5, size=(1, 2, 3))
        matrix = theta_to_pixel_matrix(theta, (6, 8), (5, 4), False)
        got = gswarp.warp_affine(x, matrix, (1, 2, 5, 4))
        np.testing.assert_array_equal(got, gswarp.affine_sample(x, theta, (1, 2, 5, 4)))

    def test_bad_matrix_shape_names_the_argument(self):
        with pytest.raises(gswarp.ShapeError, match=r"matrix: expected a batch of 2-D affine"):
            gswarp.warp_affine(np.zeros((1, 1, 4, 4)), np.eye(3))
