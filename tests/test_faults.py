"""Every bad input ends in one clear line (issue 27, first part: specs).

A seeded fuzzer mutates the bundled configs (YAML tags, NUL bytes, extreme numbers, broken
structure) and resolves what still parses against an image and a volume: every failure must be
a :class:`gswarp.GswarpError` (one line, the CLI's exit 2), never another exception, and no
NumPy RuntimeWarning may escape.
"""

from __future__ import annotations

import contextlib
import random
import re
import warnings
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from gswarp.augment import draw
from gswarp.cli.main import cli
from gswarp.errors import GswarpError, SpecError
from gswarp.plan import resolve
from gswarp.spec import parse_spec

CONFIGS = Path(__file__).resolve().parent.parent / "configs"
TOKENS = (
    "!!int abc",
    "!!timestamp x",
    "!!binary AAAA",
    "!!python/tuple [1, 2]",
    "\x00",
    "1.0e+308",
    "-1.0e+308",
    "1.0e-320",
    "1e-6",
    "nan",
    ".inf",
    "? [a]\n",
    "{",
    "[",
    "]",
    "}",
    ":",
    "- ",
    '"',
    "'",
    "&a",
    "*a",
    "!!float x",
    "~",
    "null",
    "true",
    "99999999999999999999999",
    "-0",
    "0x10",
    "<<: {a: 1}",
    "!!set {a}",
    "!!omap [a: 1]",
    "!foo bar",
    "\t",
    "\\",
    "...",
    "---",
)
NUMBERS = ("1.0e+308", "1e-320", "1e-6", "-1e308", ".nan", "1e400", "0", "-0.0", "1" * 30)
GEOMETRIES = (((30, 40), None), ((10, 12, 14), np.diag([2.0, 1.5, 1.0, 1.0])))


def mutate(rng: random.Random, text: str) -> str:
    for _ in range(rng.randint(1, 3)):
        where = rng.randrange(len(text) + 1)
        choice = rng.random()
        if choice < 0.5:
            text = text[:where] + rng.choice(TOKENS) + text[where:]
        elif choice < 0.75:
            text = text[:where] + text[where + rng.randint(1, 8) :]
        else:
            numbers = list(re.finditer(r"-?\d+(\.\d+)?", text))
            if numbers:
                m = rng.choice(numbers)
                text = text[: m.start()] + rng.choice(NUMBERS) + text[m.end() :]
    return text


def parse_and_resolve(text: str) -> None:
    spec = parse_spec(text, "fuzz.yaml", base=CONFIGS)
    if spec.is_random:
        spec = draw(spec, 1, "x.png").spec
    for size, affine in GEOMETRIES:
        with contextlib.suppress(GswarpError):
            resolve(spec, size, affine)


@pytest.mark.parametrize("seed", range(4))
def test_mutated_specs_fail_only_with_gswarp_errors(seed):
    """Before: 312 of 6,000 mutated specs escaped as YAML's, NumPy's or Python's exceptions."""
    rng = random.Random(seed)
    sources = [path.read_text() for path in sorted(CONFIGS.glob("*.yaml"))]
    escaped = []
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        for _ in range(750):
            text = mutate(rng, rng.choice(sources))
            try:
                parse_and_resolve(text)
            except GswarpError as error:
                assert "\n" not in str(error), str(error)
            except Exception as error:  # the defect this test exists for
                escaped.append(f"{type(error).__name__}: {error} <- {text[:200]!r}")
    assert not escaped, escaped[:3]


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("version: !!int abc\n", "1:10: (value): YAML cannot read 'abc'"),
        ("version: 1\ntransform: {affine: {rotate: !!timestamp x}}\n", "YAML cannot read 'x'"),
        ("version: 1\ntransform: {affine: {rotate: !!binary AAA}}\n", "YAML cannot read"),
        ("version: 1\ntransform: {affine: {rotate: !foo 3}}\n", "YAML cannot read '3' as !foo"),
        ("version: 1\x00\n", "not valid YAML: unacceptable character #x0000"),
        ("version: 1\n? [a]\n: 1\n", "<a list of 1>: unknown key"),
        (
            "version: 1\ntransform: {affine: {matrix: [[1.0e+308, 0, 0], [0, 1.0e+308, 0]]}}\n",
            "expected an invertible matrix of moderate values",
        ),
    ],
)
def test_yaml_level_faults_are_one_spec_error(text, words):
    with pytest.raises(SpecError) as caught:
        parse_spec(text, "s.yaml")
    assert words in str(caught.value)
    assert "\n" not in str(caught.value)


@pytest.mark.parametrize(
    ("output", "words"),
    [
        ("output: {spacing: [1.0e-320, 1, 1]}", "overflow"),
        ("output: {spacing: [1.0e-6, 1.0e-6, 1.0e-6]}", "the output would be"),
        ("output: {size: {scale: 1.0e+300}}", "the output would be"),
    ],
)
def test_extreme_output_grids_are_one_spec_error(output, words):
    spec = parse_spec(f"version: 1\ntransform: []\n{output}\n", "s.yaml")
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        with pytest.raises(SpecError, match=words):
            resolve(spec, (10, 12, 14), np.diag([2.0, 1.5, 1.0, 1.0]))


def test_validate_says_one_line_for_a_tagged_value(tmp_path):
    (tmp_path / "s.yaml").write_text("version: !!int abc\ntransform: []\n")
    result = CliRunner().invoke(cli, ["validate", str(tmp_path / "s.yaml")])
    assert result.exit_code == 2
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.output
