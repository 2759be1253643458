"""Random specs: distributions, probabilities, elastic fields, draws and draw logs."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import yaml

from gswarp.engine.tiles import sample_chain
from gswarp.errors import SpecError
from gswarp.plan import resolve
from gswarp.run.drawlog import DrawLog, file_digest, read_log, record
from gswarp.run.warp import warp_pixels
from gswarp.spec import ElasticSpec, Sometimes, parse_spec
from gswarp.spec.augment import draw
from gswarp.spec.elastic import elastic_field, gaussian_kernel, lattice_shape

RANDOM = """version: 1
transform:
  - affine:
      rotate: {uniform: [-15, 15]}
      scale: {uniform: [0.9, 1.1]}
      translate: [{normal: [0, 5]}, {choice: [-2, 0, 2]}]
  - affine: {scale: [-1, 1]}
    p: 0.5
  - elastic: {alpha: {uniform: [20, 40]}, sigma: 4, grid: 4}
    p: 0.7
"""


def spec_of(text: str):
    return parse_spec(text, "s.yaml")


class TestParsing:
    def test_distributions_probabilities_and_elastic_parse(self):
        spec = spec_of(RANDOM)
        affine = spec.transforms[0]
        assert spec.is_random
        assert affine.rotate.low == -15 and affine.rotate.high == 15
        assert affine.translate[1].values == (-2.0, 0.0, 2.0)
        assert isinstance(spec.transforms[1], Sometimes) and spec.transforms[1].p == 0.5
        elastic = spec.transforms[2].transform
        assert isinstance(elastic, ElasticSpec) and elastic.grid == 4 and elastic.seed is None

    def test_normalized_form_parses_back_to_the_same_spec(self):
        spec = spec_of(RANDOM)
        again = parse_spec(yaml.safe_dump(spec.normalized()), "s.yaml")
        assert again.normalized() == spec.normalized()

    def test_plain_and_seeded_specs_are_not_random(self):
        assert not spec_of("version: 1\ntransform: {affine: {rotate: 3}}").is_random
        seeded = "version: 1\ntransform: {elastic: {alpha: 3, sigma: 2, seed: 5}}"
        assert not spec_of(seeded).is_random
        assert spec_of("version: 1\ntransform: {elastic: {alpha: 3, sigma: 2}}").is_random

    def test_p_of_one_is_always_applied(self):
        spec = spec_of("version: 1\ntransform: [{affine: {rotate: 3}, p: 1}]")
        assert not spec.is_random

    @pytest.mark.parametrize(
        ("body", "message"),
        [
            (
                "{affine: {rotate: {uniform: [15, -15]}}}",
                "s.yaml:2:40: transform.affine.rotate.uniform: expected [low, high] with "
                "low <= high, got [15, -15]",
            ),
            (
                "{affine: {rotate: {unifrom: [-1, 1]}}}",
                "transform.affine.rotate.unifrom: unknown key (did you mean 'uniform'?); "
                "expected one of uniform, normal, choice",
            ),
            (
                "{affine: {rotate: {gamma: [1, 1]}}}",
                "transform.affine.rotate.gamma: unknown key; expected one of uniform, normal, "
                "choice",
            ),
            (
                "{affine: {rotate: {uniform: [1, 2], normal: [0, 1]}}}",
                "transform.affine.rotate: expected one distribution (uniform, normal, choice), "
                "got 2",
            ),
            (
                "{affine: {rotate: {normal: [0, -1]}}}",
                "transform.affine.rotate.normal: expected std >= 0, got -1",
            ),
            (
                "{affine: {rotate: {uniform: [0, 1, 2]}}}",
                "transform.affine.rotate.uniform: expected [low, high], a list of 2 numbers, "
                "got a list of 3",
            ),
            (
                "{affine: {rotate: {choice: []}}}",
                "transform.affine.rotate.choice: expected a list of numbers, got a list of 0",
            ),
            (
                "{affine: {rotate: {choice: [1, up]}}}",
                "transform.affine.rotate.choice[1]: expected a number, got 'up'",
            ),
            (
                "{affine: {shear: {uniform: [0, 95]}}}",
                "transform.affine.shear.uniform: bound 95 out of range (must be between -90 "
                "and 90)",
            ),
            (
                "{affine: {scale: {choice: [1, 0]}}}",
                "transform.affine.scale.choice[1]: expected a number, got 0 (must not be 0)",
            ),
            (
                "{affine: {matrix: [[1, 0, {uniform: [0, 1]}], [0, 1, 0]]}}",
                "transform.affine.matrix[0][2]: expected a number (a distribution is not "
                "allowed here), got a mapping",
            ),
            (
                "[{affine: {rotate: 1}, p: 1.5}]",
                "transform[0].p: expected a probability between 0 and 1, got 1.5",
            ),
            (
                "[{p: 0.5}]",
                "transform[0]: expected exactly one transform kind (affine, flow, elastic, "
                "file) per list item, got 0",
            ),
            ("{elastic: {alpha: 3}}", "transform.elastic.sigma: missing key"),
            (
                "{elastic: {alpha: -3, sigma: 2}}",
                "transform.elastic.alpha: expected the strength in pixels, >= 0, got -3",
            ),
            (
                "{elastic: {alpha: 3, sigma: 2, grid: 0}}",
                "transform.elastic.grid: expected the lattice spacing, a whole number >= 1, got 0",
            ),
            (
                "{elastic: {alpha: 3, sigma: 2, grid: 2.5}}",
                "transform.elastic.grid: expected the lattice spacing, a whole number >= 1, "
                "got 2.5",
            ),
        ],
    )
    def test_distribution_and_elastic_errors(self, body, message):
        with pytest.raises(SpecError) as error:
            spec_of(f"version: 1\ntransform: {body}\n")
        assert message in str(error.value)
        assert str(error.value).startswith("s.yaml:")

    def test_targets_section(self):
        spec = spec_of(
            "version: 1\ntransform: []\nsampling: {padding: border, fill: [1, 2, 3]}\n"
            "targets:\n  masks: {fill: 255}\n  depth: {mode: bilinear, padding: zeros}\n"
        )
        masks = spec.for_target("masks").sampling
        assert (masks.mode.label, masks.padding.label, masks.fill) == ("nearest", "border", (255,))
        depth = spec.for_target("depth").sampling
        assert (depth.mode.label, depth.padding.label, depth.fill) == ("bilinear", "zeros", (0,))
        other = spec.for_target("labels").sampling  # no entry: nearest, fill 0
        assert (other.mode.label, other.fill) == ("nearest", (0,))

    @pytest.mark.parametrize(
        ("section", "message"),
        [
            ("targets: [masks]", "targets: expected a mapping of target names"),
            ("targets: {masks: {align_corners: true}}", "targets.masks.align_corners: unknown key"),
            ("targets: {../x: {}}", "targets.../x: expected a target name"),
            ("targets: {masks: {mode: cubic}}", "(did you mean 'bicubic'?)"),
        ],
    )
    def test_target_errors(self, section, message):
        with pytest.raises(SpecError, match=None) as error:
            spec_of(f"version: 1\ntransform: []\n{section}\n")
        assert message in str(error.value)

    def test_elastic_has_no_world_form(self):
        with pytest.raises(
            SpecError, match=r"transform\[0\] is an elastic, which has no world-space form"
        ):
            spec_of("version: 1\nspace: world\ntransform: [{elastic: {alpha: 1, sigma: 1}}]")

    def test_a_random_spec_must_be_drawn_before_it_is_resolved(self):
        with pytest.raises(SpecError, match="random values; draw it first"):
            resolve(spec_of(RANDOM), (10, 10))


class TestDraw:
    def test_same_key_same_draw_and_every_part_of_the_key_matters(self):
        spec = spec_of(RANDOM)
        first = draw(spec, 7, "a/b.png", 0)
        assert draw(spec, 7, "a/b.png", 0) == first
        for other in (draw(spec, 8, "a/b.png", 0), draw(spec, 7, "a/c.png", 0)):
            assert other.values != first.values
        assert draw(spec, 7, "a/b.png", 1).values != first.values

    def test_values_come_from_their_distributions(self):
        spec = spec_of(RANDOM)
        draws = [draw(spec, 1, f"{i}.png") for i in range(300)]
        rotations = [d.values["transform[0].affine.rotate"] for d in draws]
        choices = {d.values["transform[0].affine.translate[1]"] for d in draws}
        normals = [d.values["transform[0].affine.translate[0]"] for d in draws]
        assert min(rotations) >= -15 and max(rotations) <= 15
        assert max(rotations) - min(rotations) > 25  # spread over the range
        assert choices == {-2.0, 0.0, 2.0}
        assert abs(np.mean(normals)) < 1.2 and 4 < np.std(normals) < 6
        flips = np.mean([d.applied[1] for d in draws])
        elastic = np.mean([d.applied[2] for d in draws])
        assert 0.4 < flips < 0.6 and 0.6 < elastic < 0.8

    def test_a_drawn_spec_is_concrete_and_skips_transforms_not_applied(self):
        spec = spec_of(RANDOM)
        for i in range(20):
            drawn = draw(spec, 3, f"{i}.png")
            assert not drawn.spec.is_random
            assert len(drawn.spec.transforms) == sum(drawn.applied)
            elastic = [t for t in drawn.spec.transforms if isinstance(t, ElasticSpec)]
            for t in elastic:
                assert 20 <= t.alpha <= 40 and t.seed is not None

    def test_one_draw_does_not_depend_on_other_random_values(self):
        base = spec_of("version: 1\ntransform: {affine: {rotate: {uniform: [-9, 9]}}}")
        more = spec_of(
            "version: 1\ntransform: {affine: {rotate: {uniform: [-9, 9]}, "
            "translate: [{normal: [0, 1]}, 0]}}"
        )
        key = "transform[0].affine.rotate"
        assert draw(base, 5, "x.png").values[key] == draw(more, 5, "x.png").values[key]

    def test_a_drawn_value_out_of_range_is_an_error_naming_it(self):
        spec = spec_of("version: 1\ntransform: {affine: {shear: {normal: [0, 1000]}}}")
        with pytest.raises(
            SpecError, match=r"transform\[0\]\.affine\.shear\[0\]: drew .* not allowed .* narrow"
        ):
            for i in range(50):
                draw(spec, 0, f"{i}.png")


class TestElasticField:
    def test_same_seed_same_field_and_lattice_geometry(self):
        field, to_field = elastic_field((100, 64), 30, 4, 8, seed=11)
        again, _ = elastic_field((100, 64), 30, 4, 8, seed=11)
        assert field.shape == (*lattice_shape((100, 64), 8), 2) == (14, 9, 2)
        np.testing.assert_array_equal(field, again)
        assert not np.array_equal(field, elastic_field((100, 64), 30, 4, 8, seed=12)[0])
        np.testing.assert_array_equal(to_field, [[1 / 8, 0, 0], [0, 1 / 8, 0]])

    @pytest.mark.parametrize(("grid", "k"), [(1, 2), (2, 2), (4, 2), (3, 3)])
    def test_displacement_spread_matches_uniform_noise_blurred_at_full_resolution(self, grid, k):
        alpha, sigma = 30.0, 6.0
        spatial = (400, 400) if k == 2 else (60, 60, 60)
        field, _ = elastic_field(spatial, alpha, sigma, grid, seed=3)
        interior = field[(slice(3, -3),) * k]  # edges replicate, and are less smooth
        expected = alpha * math.sqrt(np.sum(gaussian_kernel(sigma) ** 2) ** k / 3)
        assert interior.std() == pytest.approx(expected, rel=0.15)
        assert abs(interior.mean()) < 0.2 * expected

    def test_elastic_warp_moves_pixels_by_the_interpolated_field(self):
        spec = spec_of(
            "version: 1\ntransform: {elastic: {alpha: 40, sigma: 5, grid: 4, seed: 9}}\n"
            "sampling: {antialias: false}"  # point sampling: the value at the moved point
        )
        ramp = np.tile(np.arange(64, dtype=np.float64), (48, 1))  # value = x
        plan = resolve(spec, ramp.shape)
        warped = warp_pixels(ramp, plan)
        field, _ = elastic_field((48, 64), 40, 5, 4, 9)
        y, x = 20, 30
        fx, fy = x / 4, y / 4  # lattice position, between points
        x0, y0 = int(fx), int(fy)
        wx, wy = fx - x0, fy - y0
        dx = (
            (1 - wx) * (1 - wy) * field[y0, x0, 0]
            + wx * (1 - wy) * field[y0, x0 + 1, 0]
            + (1 - wx) * wy * field[y0 + 1, x0, 0]
            + wx * wy * field[y0 + 1, x0 + 1, 0]
        )
        assert warped[y, x] == pytest.approx(x + dx, abs=1e-9)

    @pytest.mark.parametrize("spatial", [(40, 52), (12, 14, 16)])
    def test_fused_separable_path_equals_the_buffered_path(self, spatial):
        k = len(spatial)
        spec = spec_of(
            "version: 1\ntransform: [{affine: {scale: 1.2}}, "
            "{elastic: {alpha: 25, sigma: 3, grid: 3, seed: 4}}]\n"
            f"output: {{size: {list(reversed([n + 3 for n in spatial]))}}}"
        )
        plan = resolve(spec, spatial)
        image = np.random.default_rng(0).random((1, 2, *spatial))
        size = (1, 2, *plan.output_size)
        fused = sample_chain(image, plan.steps, size)
        buffered = sample_chain(image, plan.steps, size, fuse=False)
        np.testing.assert_allclose(fused, buffered, rtol=0, atol=1e-12)
        assert k == len(plan.output_size)


class TestDrawLog:
    def test_a_record_reads_back_to_the_drawn_spec(self, tmp_path):
        spec = spec_of(RANDOM)
        drawn = draw(spec, 7, "x.png", 2)
        plan = resolve(drawn.spec, (30, 40))
        (tmp_path / "x.png").write_bytes(b"stands in for an image")
        entry = record(
            source=tmp_path / "x.png",
            sha256=file_digest(tmp_path / "x.png"),
            output=tmp_path / "out" / "x_002.png",
            name=tmp_path.joinpath("x_002.png").relative_to(tmp_path),
            target=None,
            key="x.png",
            variant=2,
            seed=7,
            draws=drawn.values,
            applied=drawn.applied,
            spec=drawn.spec,
            matrix=plan.forward,
            write={"format": None, "quality": None, "compress_level": None},
        )
        log = tmp_path / "draws.jsonl"
        with DrawLog(log, append=False) as written:
            written.write(entry)
        (read,) = list(read_log(log))
        assert read.source == tmp_path / "x.png" and read.output == tmp_path / "out/x_002.png"
        assert read.sha256 == file_digest(tmp_path / "x.png")
        assert read.spec.transforms == drawn.spec.transforms
        assert read.spec.sampling == drawn.spec.sampling
        assert read.name.as_posix() == "x_002.png" and read.line == 1
        data = json.loads(log.read_text())
        assert data["seed"] == 7 and data["variant"] == 2 and data["key"] == "x.png"
        assert (data["input"], data["output"]) == ("x.png", "out/x_002.png")
        assert data["input_absolute"] == str(tmp_path / "x.png")

    @pytest.mark.parametrize(
        ("line", "message"),
        [
            ("not json", "draws.jsonl:1: not a JSON line"),
            ("[1, 2]", "draws.jsonl:1: expected a JSON object"),
            ('{"input": "a"}', "draws.jsonl:1: missing key 'output'"),
        ],
    )
    def test_bad_lines_name_file_and_line(self, tmp_path, line, message):
        log = tmp_path / "draws.jsonl"
        log.write_text(line + "\n")
        with pytest.raises(SpecError) as error:
            list(read_log(log))
        assert message in str(error.value)
