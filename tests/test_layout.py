"""The package's layout holds issue 29's targets (``tools/layout_report.py``): no import cycle,
no private name across packages, a plan that imports no reader, at most six modules at the
root, no function outside the kernels over 60 code lines, no click command over 40."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_the_layout_report_finds_no_target_missed():
    proc = subprocess.run(
        [sys.executable, str(ROOT / "tools" / "layout_report.py"), "--check"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout.rstrip().endswith("targets missed: none")


def test_the_report_sees_a_cycle_and_a_private_import(tmp_path):
    """The report is not blind: a copy of the package with a cycle and a private import added
    fails its check."""
    import shutil

    copy = tmp_path / "repo"
    shutil.copytree(ROOT / "gswarp", copy / "gswarp", ignore=shutil.ignore_patterns("*.so"))
    (copy / "tools").mkdir()
    shutil.copy(ROOT / "tools" / "layout_report.py", copy / "tools")
    errors = copy / "gswarp" / "errors.py"
    errors.write_text(
        errors.read_text() + "\n\ndef _late():\n    from gswarp.sampling import Mode\n"
    )
    plan = copy / "gswarp" / "plan" / "resolve.py"
    plan.write_text(plan.read_text() + "\nfrom gswarp.run.warp import _through_field\n")
    proc = subprocess.run(
        [sys.executable, str(copy / "tools" / "layout_report.py"), "--check"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 1
    assert "gswarp.errors <-> gswarp.sampling" in proc.stdout
    assert "gswarp.plan.resolve <- gswarp.run.warp._through_field" in proc.stdout
