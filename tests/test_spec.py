"""YAML specs: every key, the normalized form, and errors with file:line:column."""

from __future__ import annotations

import textwrap

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from gswarp.errors import SpecError
from gswarp.sampling import Mode, Padding
from gswarp.spec import (
    AffineMatrix,
    AffineParams,
    AffineTheta,
    OutputSpec,
    SamplingSpec,
    load_spec,
    parse_spec,
)

FULL = """\
version: 1
transform:
  - affine:
      rotate: 15
      scale: 1.2
      shear: [5, 0]
      translate: [20, -10]
      center: image
  - affine:
      matrix: [[1, 0, 3], [0, 1, 0]]
  - affine:
      theta: [[1, 0, 0], [0, 1, 0]]
sampling:
  mode: bicubic
  padding: reflection
  align_corners: true
  fill: [1, 2, 3]
output:
  size: [640, 480]
  dtype: uint16
  values: keep
"""


def spec(text: str):
    return parse_spec(textwrap.dedent(text), "s.yaml")


def test_the_issue_example_parses_into_every_field():
    parsed = parse_spec(FULL, "s.yaml")
    first, second, third = parsed.transforms
    assert first == AffineParams(15.0, 1.2, (5.0, 0.0), (20.0, -10.0), "image")
    assert second == AffineMatrix(((1.0, 0.0, 3.0), (0.0, 1.0, 0.0), (0.0, 0.0, 1.0)))
    assert third == AffineTheta(((1.0, 0.0, 0.0), (0.0, 1.0, 0.0)))
    assert parsed.sampling == SamplingSpec(Mode.BICUBIC, Padding.REFLECTION, True, (1.0, 2.0, 3.0))
    assert parsed.output == OutputSpec(("size", (640, 480)), "uint16", "keep")
    assert parsed.source == "s.yaml"


def test_defaults_and_a_single_transform_mapping():
    parsed = spec("version: 1\ntransform: {affine: {rotate: 90}}")
    assert parsed.transforms == (AffineParams(rotate=90.0),)
    assert parsed.sampling == SamplingSpec()
    assert parsed.output == OutputSpec()
    assert parsed.transforms[0].center == "image"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("scale: [2, 3]", {"scale": (2.0, 3.0)}),
        ("scale: -1", {"scale": -1.0}),
        ("shear: 10", {"shear": (10.0, 0.0)}),
        ("center: origin", {"center": "origin"}),
        ("center: [3.5, 4]", {"center": (3.5, 4.0)}),
        ("center: Image", {"center": "image"}),
    ],
)
def test_parameter_forms(text, expected):
    parsed = spec(f"version: 1\ntransform:\n  affine: {{{text}}}")
    assert parsed.transforms[0] == AffineParams(**expected)


@pytest.mark.parametrize(
    ("size", "expected"),
    [
        ("same", "same"),
        ("expand", "expand"),
        ("[10, 20]", ("size", (10, 20))),
        ("{scale: 0.5}", ("scale", 0.5)),
        ("{scale: [2, 0.5]}", ("scale", (2.0, 0.5))),
    ],
)
def test_output_sizes(size, expected):
    assert spec(f"version: 1\ntransform: []\noutput: {{size: {size}}}").output.size == expected


def test_empty_transform_list_is_identity():
    assert spec("version: 1\ntransform: []").transforms == ()


def test_3x3_matrix_and_yaml_booleans():
    parsed = spec(
        """\
        version: 1
        transform: {affine: {matrix: [[2, 0, 1], [0, 2, 0], [0, 0, 1]]}}
        sampling: {align_corners: yes}
        """
    )
    assert parsed.transforms[0].matrix[0] == (2.0, 0.0, 1.0)
    assert parsed.sampling.align_corners is True


ERRORS = [
    # (spec text, expected message: location, key path, what was expected, what was found)
    ("transform: []", "s.yaml:1:1: version: missing key: expected 'version: 1'"),
    (
        "version: 2\ntransform: []",
        "s.yaml:1:10: version: expected 1 (the only spec version), got 2",
    ),
    (
        "version: 1\ntransform: []\nsampling: {mdoe: nearest}",
        "s.yaml:3:12: sampling.mdoe: unknown key (did you mean 'mode'?); expected one of mode, "
        "padding, align_corners, fill",
    ),
    (
        "version: 1\ntransform:\n  - affine:\n      rotate: 15\n      scale: big",
        "s.yaml:5:14: transform[0].affine.scale: expected a number or a list of 2 numbers "
        "[sx, sy] (3 for volumes), got 'big'",
    ),
    (
        "version: 1\ntransform: {affine: {scale: 0}}",
        "s.yaml:2:29: transform.affine.scale: expected a number or a list of 2 numbers [sx, sy] "
        "(3 for volumes), got 0 (must not be 0)",
    ),
    (
        "version: 1\ntransform: {affine: {rotat: 15}}",
        "transform.affine.rotat: unknown key (did you mean 'rotate'?)",
    ),
    ("version: 1\ntransform: {afine: {}}", "transform.afine: unknown key (did you mean 'affine'?)"),
    (
        "version: 1\ntransform: []\nsampling: {mode: bilinar}",
        "s.yaml:3:18: sampling.mode: expected one of bilinear, nearest, bicubic, bspline, sinc, "
        "gaussian, got 'bilinar' (did you mean 'bilinear'?)",
    ),
    (
        "version: 1\ntransform: []\nsampling: {padding: 0}",
        "sampling.padding: expected one of zeros, border, reflection, got 0",
    ),
    (
        "version: 1\ntransform: []\nsampling: {align_corners: 1}",
        "sampling.align_corners: expected true or false, got 1",
    ),
    (
        "version: 1\ntransform: []\nsampling: {antialias: maybe}",
        "s.yaml:3:23: sampling.antialias: expected true, false, auto or lanczos, got 'maybe'",
    ),
    (
        "version: 1\ntransform: []\nsampling: {fill: [1, x]}",
        "sampling.fill[1]: expected a number, got 'x'",
    ),
    (
        "version: 1\ntransform: []\nsampling: {fill: []}",
        "sampling.fill: expected a number or a list",
    ),
    (
        "version: 1\ntransform: {affine: {translate: [1, 2, 3, 4]}}",
        "transform.affine.translate: expected a number (every axis) or a list of 2 numbers "
        "[tx, ty] in pixels (3 for volumes), got a list of 4",
    ),
    (
        "version: 1\ntransform: {affine: {shear: 90}}",
        "transform.affine.shear: expected degrees, a number (x) or [x, y], got 90 (must be between "
        "-90 and 90)",
    ),
    (
        "version: 1\ntransform: {affine: {center: middle}}",
        "transform.affine.center: expected one of image, origin, got 'middle'",
    ),
    (
        "version: 1\ntransform: {affine: {rotate: .nan}}",
        "transform.affine.rotate: expected degrees, a number or [rx, ry, rz] (volumes), got nan",
    ),
    (
        "version: 1\ntransform: {affine: {rotate: true}}",
        "transform.affine.rotate: expected degrees, a number or [rx, ry, rz] (volumes), got True",
    ),
    (
        "version: 1\ntransform: {affine: {matrix: [[1, 0], [0, 1]]}}",
        "transform.affine.matrix: expected a 2x3 or 3x3 or 3x4 or 4x4 matrix (a list of rows of "
        "numbers), got a 2x2 matrix",
    ),
    (
        "version: 1\ntransform: {affine: {matrix: [[1, 0, 0], [0, 1, 0], [0, 1, 1]]}}",
        "expected the last row of a 3x3 matrix to be [0, 0, 1]",
    ),
    (
        "version: 1\ntransform: {affine: {matrix: [[1, 2, 0], [2, 4, 0]]}}",
        "transform.affine.matrix: expected an invertible matrix",
    ),
    (
        "version: 1\ntransform: {affine: {theta: [[1, 0, 0], [0, 1, 0], [0, 0, 1]]}}",
        "transform.affine.theta: expected a 2x3 or 3x4 matrix",
    ),
    (
        "version: 1\ntransform: {affine: {rotate: 5, matrix: [[1, 0, 0], [0, 1, 0]]}}",
        "transform.affine.rotate: cannot be combined with matrix",
    ),
    (
        "version: 1\ntransform: {affine: {}, extra: 1}",
        "transform.extra: unknown key",
    ),
    ("version: 1\ntransform: [{}]", "transform[0]: expected exactly one transform kind"),
    (
        "version: 1\ntransform: [5]",
        "transform[0]: expected a mapping with keys affine, flow, elastic, file, p, got 5",
    ),
    (
        "version: 1\ntransform: []\noutput: {size: [0, 5]}",
        "output.size[0]: expected a positive integer, got 0 (pixels, 1 or more)",
    ),
    (
        "version: 1\ntransform: []\noutput: {size: {scale: -1}}",
        "output.size.scale: expected a number or [sx, sy] ([sx, sy, sz]) greater than 0, got -1 "
        "(must be > 0)",
    ),
    ("version: 1\ntransform: []\noutput: {size: big}", "output.size: expected one of same, expand"),
    (
        "version: 1\ntransform: []\noutput: {dtype: uint9}",
        "output.dtype: expected one of same, uint8, int8, uint16, int16, uint32, int32, float32, "
        "float64, got 'uint9' (did you mean 'uint8'?)",
    ),
    (
        "version: 1\ntransform: []\noutput: {values: clip}",
        "output.values: expected one of auto, scale, keep",
    ),
    ("version: 1\nversion: 1\ntransform: []", "s.yaml:2:1: version: key given twice"),
    ("- 1\n- 2", "s.yaml:1:1: (top level): expected a mapping with keys version, space, transform"),
    ("", "s.yaml:1:1: (top level): expected a mapping"),
    ("version: 1\ntransform: [\n", "s.yaml:3:1: not valid YAML"),
]


@pytest.mark.parametrize(("text", "message"), ERRORS, ids=[m[:40] for _, m in ERRORS])
def test_errors_name_location_key_expectation_and_value(text, message):
    with pytest.raises(SpecError) as caught:
        parse_spec(text, "s.yaml")
    assert message in str(caught.value)
    assert str(caught.value).startswith("s.yaml:")
    assert "\n" not in str(caught.value)


def test_spec_errors_are_value_errors():
    with pytest.raises(ValueError, match="version"):
        parse_spec("transform: []")


def test_load_spec_reads_files_and_names_missing_ones(tmp_path):
    path = tmp_path / "r.yaml"
    path.write_text("version: 1\ntransform: {affine: {rotate: 3}}\n")
    assert load_spec(path).transforms[0].rotate == 3.0
    assert load_spec(path).source == str(path)
    with pytest.raises(SpecError, match=r"nope\.yaml: cannot read the spec: No such file"):
        load_spec(tmp_path / "nope.yaml")


def test_antialias_is_auto_by_default_and_targets_share_it():
    default = spec("version: 1\ntransform: []")
    assert default.sampling.antialias is None
    assert default.normalized()["sampling"]["antialias"] == "auto"
    assert default.sampling.antialias_for(2) and not default.sampling.antialias_for(3)
    assert spec("version: 1\ntransform: []\nsampling: {antialias: auto}").sampling == (
        default.sampling
    )
    off = spec(
        "version: 1\ntransform: []\nsampling: {antialias: false}\ntargets: {mask: {mode: bilinear}}"
    )
    assert off.sampling.antialias is False
    assert off.for_target("mask").sampling.antialias is False
    assert off.with_sampling(antialias=True).sampling.antialias is True


def test_with_sampling_overrides_only_what_is_given():
    parsed = parse_spec(FULL)
    changed = parsed.with_sampling(mode=Mode.NEAREST, padding=None, fill=(9.0,))
    assert changed.sampling == SamplingSpec(Mode.NEAREST, Padding.REFLECTION, True, (9.0,))
    assert changed.transforms == parsed.transforms


numbers = st.floats(-1e3, 1e3, allow_nan=False).filter(lambda v: abs(v) > 1e-3)


@settings(max_examples=60, deadline=None)
@given(
    rotate=numbers,
    scale=st.tuples(numbers, numbers),
    shear=st.tuples(st.floats(-80, 80), st.floats(-80, 80)),
    translate=st.tuples(numbers, numbers),
    center=st.one_of(st.sampled_from(["image", "origin"]), st.tuples(numbers, numbers)),
    mode=st.sampled_from(["nearest", "bilinear", "bicubic"]),
    fill=st.lists(numbers, min_size=1, max_size=4),
)
def test_normalized_form_parses_back_to_the_same_spec(
    rotate, scale, shear, translate, center, mode, fill
):
    document = {
        "version": 1,
        "transform": [
            {
                "affine": {
                    "rotate": rotate,
                    "scale": list(scale),
                    "shear": list(shear),
                    "translate": list(translate),
                    "center": center if isinstance(center, str) else list(center),
                }
            }
        ],
        "sampling": {"mode": mode, "fill": fill},
    }
    first = parse_spec(yaml.safe_dump(document))
    again = parse_spec(yaml.safe_dump(first.normalized()))
    assert again.transforms == first.transforms
    assert again.sampling == first.sampling
    assert again.output == first.output


def test_transform_may_be_left_out_for_a_pure_resize_or_dtype_change():
    bare = parse_spec("version: 1\noutput: {size: {scale: 0.5}, dtype: float32}", "s.yaml")
    assert bare.transforms == ()
    assert bare.normalized()["transform"] == []
    assert bare == parse_spec(
        "version: 1\ntransform: []\noutput: {size: {scale: 0.5}, dtype: float32}", "s.yaml"
    )
