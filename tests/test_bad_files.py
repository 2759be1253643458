"""Every reader's bad files end in one line naming the file (issue 27: the bad-file corpus).

The corpus (:mod:`tests.bad_files`, generated at collection, ~120 small files) gives each file
its part in a ``gswarp apply`` run: an input (exit 1, that input failed), a flow field, a
transform file, the ``-r`` reference or a ``--replay`` log (exit 2, nothing ran). Each run must
print exactly one ``gswarp: error:`` line that names the file, nothing else but the run's
summary line, and no traceback, and leave no output (a Zarr output store it began stays
marked incomplete, for ``--skip-existing`` to resume). A damaged copy that still holds every
value the run needs may be read instead -- but then its output must be byte for byte the
output of the good file.
"""

from __future__ import annotations

import atexit
import shutil
import tempfile
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

for _module, _extra in (("nibabel", "nifti"), ("tifffile", "tiff"), ("zarr", "zarr")):
    pytest.importorskip(_module, reason=f"the {_extra} extra is missing")
pytest.importorskip("nitransforms", reason="the transforms extra is missing")

from gswarp.cli.main import cli  # noqa: E402
from tests.bad_files import STATUS, BadFile, command, corpus, output_folder  # noqa: E402

FOLDER = Path(tempfile.mkdtemp(prefix="gswarp-bad-files-"))
atexit.register(shutil.rmtree, FOLDER, True)
FILES = corpus(FOLDER)


def _outputs(bad: BadFile, seed: bool = False) -> list[bytes]:
    """The files written for ``bad`` (or its seed); a Zarr output's array, as bytes."""
    folder = output_folder(FOLDER, bad, seed)
    if bad.role == "chunked":
        import zarr

        return [np.asarray(zarr.open_array(folder, mode="r")).tobytes()] if folder.exists() else []
    return [p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()]


def _summary(line: str) -> bool:
    return line.startswith("gswarp: ") and " failed, " in line


@pytest.mark.parametrize("bad", FILES, ids=[f.fault for f in FILES])
def test_a_bad_file_is_one_line_naming_it(bad: BadFile):
    result = CliRunner().invoke(cli, ["apply", *command(FOLDER, bad)])
    assert "Traceback" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(
        result.exception
    )
    if result.exit_code == 0 and bad.seed is not None:  # read in spite of the damage
        good = CliRunner().invoke(cli, ["apply", *command(FOLDER, bad, seed=True)])
        assert good.exit_code == 0, good.output
        assert _outputs(bad) == _outputs(bad, seed=True) != [], "a damage changed the result"
        return
    assert result.exit_code == STATUS[bad.role], result.output
    lines = result.stderr.splitlines()
    errors = [line for line in lines if line.startswith("gswarp: error:")]
    assert len(errors) == 1 and bad.name in errors[0], result.stderr
    assert all(line in errors or _summary(line) for line in lines), result.stderr
    if bad.role in ("zarr", "chunked") and output_folder(FOLDER, bad).exists():
        from gswarp.io.zarrs import is_complete  # a store the failed run began: for a resume

        assert not is_complete(str(output_folder(FOLDER, bad))), "marked complete"
    else:
        assert _outputs(bad) == [], "a failed run left an output"


def test_the_corpus_covers_every_part_and_reader():
    """The corpus is what the module says: each part, each suffix gswarp reads."""
    parts = {f.role for f in FILES}
    suffixes = {Path(f.name).suffix.lower() for f in FILES}
    assert parts == set(STATUS)
    assert {".png", ".jpg", ".tif", ".npy", ".nii", ".gz", ".tfm", ".mat", ".h5", ".zarr"} <= (
        suffixes
    )
    assert len(FILES) > 100


def test_nibabel_remarks_name_the_file_once_as_a_warning(tmp_path):
    """A header nibabel fixes on reading (zero voxel sizes set to 1) is read, and its remark
    comes as one ``gswarp: warning:`` line naming the file, not nibabel's bare line."""
    import struct

    from tests.bad_files import _nifti

    data = bytearray(_nifti())
    data[76:92] = struct.pack("<4f", 1.0, 0.0, 0.0, 0.0)  # pixdim[0..3]: zero voxel sizes
    data[252:256] = struct.pack("<hh", 0, 0)  # no qform, no sform: the voxel sizes place it
    (tmp_path / "flat.nii").write_bytes(bytes(data))
    (tmp_path / "r.yaml").write_text("version: 1\ntransform: {affine: {scale: 1.5}}\n")
    arguments = ["apply", str(tmp_path / "r.yaml"), str(tmp_path / "flat.nii")]
    result = CliRunner().invoke(cli, [*arguments, "-o", str(tmp_path / "out")])
    assert result.exit_code == 0, result.output
    warnings = [line for line in result.stderr.splitlines() if "warning" in line]
    assert len(warnings) == 1, result.stderr
    assert warnings[0].startswith(f"gswarp: warning: {tmp_path / 'flat.nii'}: pixdim"), warnings
    quiet = CliRunner().invoke(cli, [*arguments, "-q", "-o", str(tmp_path / "quiet")])
    assert quiet.exit_code == 0 and quiet.stderr == "", quiet.stderr
