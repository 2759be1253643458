"""Folder jobs on a Dask cluster (gswarp apply --cluster): one task per input file on a
LocalCluster of worker processes gives the embedded run's bytes, draws and log."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

pytest.importorskip("distributed", reason="the zarr extra (dask.distributed) is not installed")

from gswarp.cli.main import cli

ROOT = Path(__file__).resolve().parent.parent
RANDOM = """version: 1
transform:
  affine:
    rotate: {uniform: [-30, 30]}
    scale: {uniform: [0.8, 1.2]}
"""


def test_folder_job_on_a_local_cluster_gives_the_same_bytes_and_draws(tmp_path):
    images = tmp_path / "images"
    shutil.copytree(ROOT / "sample_images", images / "a")
    shutil.copytree(ROOT / "sample_images", images / "b")  # the same pixels, other draws
    (tmp_path / "spec.yaml").write_text(RANDOM)
    runner = CliRunner()
    runs = {}
    for name, extra in (("threads", ["--jobs", "2"]), ("cluster", ["--cluster", "local:2"])):
        out = tmp_path / name
        result = runner.invoke(
            cli,
            [
                "apply",
                str(tmp_path / "spec.yaml"),
                str(images),
                "-o",
                str(out),
                "--seed",
                "11",
                "--log",
                str(tmp_path / f"{name}.jsonl"),
                *extra,
            ],
        )
        assert result.exit_code == 0, result.output
        runs[name] = {p.relative_to(out): p.read_bytes() for p in out.rglob("*.png")}
    assert len(runs["threads"]) == 10
    assert runs["threads"] == runs["cluster"]
    logs = {}
    for name in runs:
        lines = (tmp_path / f"{name}.jsonl").read_text().splitlines()
        entries = [json.loads(line) for line in lines]
        logs[name] = {e["input"]: e["draws"] for e in entries}
    assert logs["threads"] == logs["cluster"]
