"""Folder jobs from Python (``gswarp.run``): the same bytes as ``gswarp apply``, the same
promises (one bad file is one line, a replay writes the same bytes, a random spec needs a
seed), no command line involved."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from gswarp.cli.main import cli
from gswarp.errors import InputError, SpecError
from gswarp.run import Summary, replay_files, warp_files
from tests.manifest import digest_tree

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def samples(tmp_path) -> Path:
    for name in ("sample_images", "sample_masks", "configs"):
        shutil.copytree(ROOT / name, tmp_path / name)
    return tmp_path


def test_a_folder_job_writes_what_gswarp_apply_writes(samples):
    spec = samples / "configs" / "augment.yaml"
    images, masks = samples / "sample_images", samples / "sample_masks"
    summary = warp_files(
        spec,
        [images],
        samples / "lib",
        seed=7,
        variants=2,
        pairs=[("sample_masks", masks)],
        threads=2,
    )
    assert isinstance(summary, Summary) and summary.ok and not summary.skipped
    command = ["apply", str(spec), str(images), "-o", str(samples / "cli"), "--seed", "7"]
    command += ["--variants", "2", "--pair", str(masks), "-j", "1"]
    result = CliRunner().invoke(cli, command)
    assert result.exit_code == 0, result.output
    lib, cli_out = digest_tree(samples / "lib", samples), digest_tree(samples / "cli", samples)
    assert lib == cli_out and len(lib) == 2 * 2 * len(list(images.iterdir()))
    assert sorted(p.relative_to(samples / "lib").as_posix() for p in summary.written) == sorted(lib)


def test_a_logged_job_replays_to_the_same_bytes(samples):
    log = samples / "draws.jsonl"
    first = warp_files(
        samples / "configs" / "augment.yaml",
        [samples / "sample_images"],
        samples / "a",
        seed=3,
        log=log,
    )
    again = replay_files(log, samples / "b")
    assert first.ok and again.ok and len(again.written) == len(first.written)
    assert digest_tree(samples / "a", samples) == digest_tree(samples / "b", samples)


def test_a_bad_file_is_one_line_and_the_others_are_written(samples):
    (samples / "sample_images" / "broken.png").write_bytes(b"not a png")
    summary = warp_files(
        samples / "configs" / "rotate.yaml", [samples / "sample_images"], samples / "o"
    )
    assert len(summary.failed) == 1 and "broken.png" in summary.failed[0]
    assert "\n" not in summary.failed[0] and not summary.ok
    assert len(summary.written) == len(list((samples / "sample_images").iterdir())) - 1
    assert not (samples / "o" / "broken.png").exists()


def test_existing_outputs_fail_or_are_skipped_as_asked(samples):
    spec, images = samples / "configs" / "rotate.yaml", [samples / "sample_images"]
    count = len(warp_files(spec, images, samples / "o").written)
    again = warp_files(spec, images, samples / "o")
    assert len(again.failed) == count and not again.written
    skipped = warp_files(spec, images, samples / "o", skip_existing=True)
    assert len(skipped.skipped) == count and skipped.ok
    with pytest.raises(SpecError, match="contradict"):
        warp_files(spec, images, samples / "o", skip_existing=True, overwrite=True)


def test_a_random_spec_needs_a_seed_and_a_replay_needs_a_log(samples):
    with pytest.raises(SpecError, match="random values: give a seed"):
        warp_files(samples / "configs" / "augment.yaml", [samples / "sample_images"], samples / "o")
    assert not (samples / "o").exists()
    (samples / "empty.jsonl").write_text("")
    with pytest.raises(InputError, match="holds no output lines"):
        replay_files(samples / "empty.jsonl")
