"""An interrupted run reports exactly the outputs it leaves (issue 26, item 13): stdout lists
every complete output that exists when gswarp exits, and the count says as many."""

from __future__ import annotations

from concurrent.futures import wait

import numpy as np
from click.testing import CliRunner
from PIL import Image

from gswarp import batch
from gswarp.cli.main import cli

SPEC = "version: 1\ntransform:\n  - affine: {rotate: 10}\n"


def test_outputs_finished_before_an_interrupt_are_reported(tmp_path, monkeypatch):
    rng = np.random.default_rng(0)
    source = tmp_path / "in"
    source.mkdir()
    for index in range(6):
        Image.fromarray(rng.integers(0, 255, (16, 18), dtype=np.uint8)).save(
            source / f"i{index}.png"
        )
    (tmp_path / "spec.yaml").write_text(SPEC)

    def interrupted_once_all_finished(pending, on_outcome):
        wait(list(pending))  # every output is on disk, none reported yet
        raise KeyboardInterrupt

    monkeypatch.setattr(batch, "_drain", interrupted_once_all_finished)
    out = tmp_path / "out"
    result = CliRunner().invoke(
        cli, ["apply", str(tmp_path / "spec.yaml"), str(source), "-o", str(out), "-j", "2"]
    )
    assert result.exit_code == 130
    on_disk = sorted(str(p) for p in out.glob("*.png"))
    assert on_disk, "the jobs finished before the interrupt"
    assert sorted(result.stdout.split()) == on_disk
    assert f"interrupted: {len(on_disk)} written" in result.stderr
    assert not list(out.glob(".*.tmp"))
