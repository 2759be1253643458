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

from gswarp.cli.main import cli
from gswarp.errors import GswarpError, SpecError
from gswarp.plan import resolve
from gswarp.spec import parse_spec
from gswarp.spec.augment import draw

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


# --------------------------------------------------------------------------------------------
# bad files: one line naming the file, exit 1 for that input (2 for a bad option)


def _apply(tmp_path: Path, *arguments: str):
    (tmp_path / "r.yaml").write_text("version: 1\ntransform: {affine: {rotate: 5}}\n")
    return CliRunner().invoke(cli, ["apply", str(tmp_path / "r.yaml"), *arguments])


def _one_line(result, status: int, words: str) -> None:
    assert result.exit_code == status, result.output
    assert "Traceback" not in result.output
    errors = [line for line in result.stderr.splitlines() if line.startswith("gswarp: error:")]
    assert len(errors) == 1 and words in errors[0], result.stderr


def test_a_truncated_tiff_stack(tmp_path):
    tifffile = pytest.importorskip("tifffile")
    tifffile.imwrite(tmp_path / "stack.tif", np.zeros((6, 7, 8), np.float32))
    data = (tmp_path / "stack.tif").read_bytes()
    (tmp_path / "cut.tif").write_bytes(data[: len(data) // 2])
    result = _apply(tmp_path, str(tmp_path / "cut.tif"), "-o", str(tmp_path / "out"))
    _one_line(result, 1, "cut.tif: cannot read")


def test_a_decompression_bomb(tmp_path, monkeypatch):
    from PIL import Image

    Image.new("L", (300, 300)).save(tmp_path / "bomb.tif")
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 100)  # 300 x 300 is then a bomb (> 2 x 100)
    result = _apply(tmp_path, str(tmp_path / "bomb.tif"), "-o", str(tmp_path / "out"))
    _one_line(result, 1, "bomb.tif: cannot read: Image size (90000 pixels) exceeds limit")


def test_an_empty_nii_gz(tmp_path):
    import gzip

    (tmp_path / "empty.nii.gz").write_bytes(gzip.compress(b""))
    result = _apply(tmp_path, str(tmp_path / "empty.nii.gz"), "-o", str(tmp_path / "out"))
    _one_line(result, 1, "empty.nii.gz: not a NIfTI file nibabel can read")


def test_a_junk_fsl_matrix_is_a_usage_error(tmp_path):
    nibabel = pytest.importorskip("nibabel")
    pytest.importorskip("nitransforms", reason="the transforms extra is missing")
    image = nibabel.Nifti1Image(np.zeros((6, 7, 8), np.float32), np.eye(4))
    nibabel.save(image, tmp_path / "v.nii")
    (tmp_path / "junk.mat").write_text("garbage here\n")
    result = CliRunner().invoke(
        cli,
        [
            "apply",
            "-r",
            str(tmp_path / "v.nii"),
            "-t",
            str(tmp_path / "junk.mat"),
            str(tmp_path / "v.nii"),
            "-o",
            str(tmp_path / "o.nii"),
        ],
    )
    _one_line(result, 2, "junk.mat: not an FSL FLIRT matrix")


# --------------------------------------------------------------------------------------------
# cluster options: one line, exit 2, before anything starts


@pytest.mark.parametrize(
    ("value", "words"),
    [
        ("tcp://127.0.0.1", "a scheduler address with its port"),
        ("inproc://x", "a scheduler address with its port"),
        ("tls://127.0.0.1:1", "not a usable scheduler address"),
        ("local:1000", "give local:N with N <="),
        ("local:0", "expected local:N with N a positive number"),
    ],
)
def test_bad_cluster_values_are_one_usage_line(tmp_path, value, words):
    pytest.importorskip("distributed", reason="the zarr extra (dask.distributed) is missing")
    from PIL import Image

    Image.new("L", (8, 9)).save(tmp_path / "a.png")
    result = _apply(
        tmp_path, str(tmp_path / "a.png"), "-o", str(tmp_path / "o"), "--cluster", value
    )
    _one_line(result, 2, f"--cluster {value}: ")
    assert words in result.stderr


def test_a_bad_dask_scheduler_address_is_named_as_such(tmp_path, monkeypatch):
    pytest.importorskip("distributed", reason="the zarr extra (dask.distributed) is missing")
    from PIL import Image

    Image.new("L", (8, 9)).save(tmp_path / "a.png")
    monkeypatch.setenv("DASK_SCHEDULER_ADDRESS", "tcp://nowhere")
    result = _apply(tmp_path, str(tmp_path / "a.png"), "-o", str(tmp_path / "o"))
    _one_line(result, 2, "DASK_SCHEDULER_ADDRESS=tcp://nowhere: expected")


def test_a_local_cluster_listens_on_the_loopback_only():
    """Its dashboard listened on 0.0.0.0 while -v printed a 127.0.0.1 link."""
    pytest.importorskip("distributed", reason="the zarr extra (dask.distributed) is missing")
    from gswarp.run.cluster import Scheduler

    scheduler = Scheduler.connect("local:1")
    try:
        server = scheduler.cluster.scheduler.http_server
        bound = {sock.getsockname()[0] for sock in server._sockets.values()}
        assert bound == {"127.0.0.1"}
        assert scheduler.cluster.scheduler.address.startswith("tcp://127.0.0.1:")
    finally:
        scheduler.close()


# --------------------------------------------------------------------------------------------
# messages that say what to do


def test_a_key_one_level_too_high_says_where_it_belongs():
    with pytest.raises(SpecError, match=r"rotate belongs under affine:, one level down"):
        parse_spec("version: 1\ntransform:\n  - rotate: 5\n", "s.yaml")
    with pytest.raises(SpecError, match=r"mode belongs under sampling:"):
        parse_spec("version: 1\nmode: nearest\n", "s.yaml")


@pytest.mark.parametrize("option", ["-r", "-n"])
def test_a_single_option_given_twice_is_refused(tmp_path, option):
    value = {"-r": str(tmp_path / "ref.nii"), "-n": "Linear"}[option]
    result = CliRunner().invoke(
        cli, ["apply", option, value, option, value, str(tmp_path / "v.nii"), "-o", "o.nii"]
    )
    assert result.exit_code == 2
    assert "given 2 times" in result.stderr and "Traceback" not in result.output


@pytest.mark.parametrize(("mode", "dtype"), [("RGBA", np.uint8), ("I;16", np.uint16)])
def test_a_mode_jpeg_cannot_hold_says_what_to_do(tmp_path, mode, dtype):
    from PIL import Image

    if mode == "RGBA":
        Image.new("RGBA", (8, 9)).save(tmp_path / "a.png")
    else:
        Image.fromarray(np.zeros((9, 8), dtype)).save(tmp_path / "a.png")
    result = _apply(
        tmp_path, str(tmp_path / "a.png"), "-o", str(tmp_path / "o"), "--format", "jpeg"
    )
    _one_line(result, 1, "write PNG or TIFF with --format png")


def test_gif_files_are_named_not_silently_skipped(tmp_path):
    from PIL import Image

    folder = tmp_path / "gifs"
    folder.mkdir()
    Image.new("P", (8, 9)).save(folder / "a.gif")
    result = _apply(tmp_path, str(folder), "-o", str(tmp_path / "out"))
    _one_line(result, 2, "1 file(s) of other suffixes not read: a.gif")
    Image.new("L", (8, 9)).save(folder / "b.png")
    verbose = _apply(tmp_path, str(folder), "-o", str(tmp_path / "out"), "-v")
    assert verbose.exit_code == 0
    assert "gswarp: 1 file(s) of other suffixes not read: a.gif" in verbose.stderr
    single = _apply(tmp_path, str(folder / "a.gif"), "-o", str(tmp_path / "x.gif"))
    assert single.exit_code == 2 and ".gif is not a format gswarp writes" in single.stderr
    assert not (tmp_path / "x.gif").exists()


def test_a_full_disk_names_the_output_not_the_input(tmp_path, monkeypatch):
    """A NIfTI output that hit a full disk was reported under the input's name."""
    import errno

    nibabel = pytest.importorskip("nibabel")
    import gswarp.io.volumes as volumes

    nibabel.save(
        nibabel.Nifti1Image(np.zeros((6, 7, 8), np.float32), np.eye(4)), tmp_path / "v.nii"
    )
    real = volumes._nifti_pieces

    def full_disk(header, voxels):
        pieces = real(header, voxels)
        yield next(pieces)
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(volumes, "_nifti_pieces", full_disk)
    out = tmp_path / "out"
    result = _apply(tmp_path, str(tmp_path / "v.nii"), "-o", str(out))
    _one_line(result, 1, f"{out / 'v.nii'}: cannot write: No space left on device")
    assert not list(out.glob(".*.tmp")) and not (out / "v.nii").exists()


def test_a_local_cluster_takes_a_memory_bound_per_worker():
    pytest.importorskip("distributed", reason="the zarr extra (dask.distributed) is missing")
    from gswarp.errors import InputError
    from gswarp.run.cluster import Scheduler

    scheduler = Scheduler.connect("local:1,300MiB")
    try:
        (worker,) = scheduler.client.scheduler_info()["workers"].values()
        assert worker["memory_limit"] == 300 * 2**20
        assert "300MiB each" in scheduler.description
    finally:
        scheduler.close()
    with pytest.raises(InputError, match="expected local:N,MEMORY"):
        Scheduler.connect("local:1,lots")


def test_an_output_ending_in_a_slash_is_a_folder(tmp_path):
    """``-o small.png/`` for one input: the folder ``small.png`` (created), never a file."""
    from PIL import Image

    Image.new("L", (8, 6)).save(tmp_path / "a.png")
    result = _apply(tmp_path, str(tmp_path / "a.png"), "-o", f"{tmp_path / 'small.png'}/")
    assert result.exit_code == 0, result.output
    assert (tmp_path / "small.png").is_dir() and (tmp_path / "small.png" / "a.png").is_file()
