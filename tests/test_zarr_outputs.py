"""Zarr outputs never cost a user data (issue 26, items 1, 2 and 5).

* A location that exists and is not a gswarp output (no ``gswarp`` marker) is never written
  into or removed, with or without ``--overwrite``; an empty folder may receive the output.
* An output that is an input (the same path, through a symbolic link, a ``file://`` URL, or
  nested inside it) is refused, even with ``--overwrite``.
* ``--skip-existing`` resumes only an output of the same input and spec: the fingerprint
  names the input and a digest of its content; a mismatch is an error, never a silent mix.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

pytest.importorskip("zarr", reason="the zarr extra is not installed")
pytest.importorskip("dask", reason="the zarr extra is not installed")
pytest.importorskip("ome_zarr", reason="the zarr extra is not installed")

import zarr

from gswarp.cli.main import cli
from gswarp.io import zarrs

SPEC = "version: 1\ntransform: {affine: {rotate: [0, 0, 15]}}\n"


def store(path: Path, values: np.ndarray, chunks=(4, 4, 4)) -> str:
    array = zarr.create_array(
        store=str(path), shape=values.shape, chunks=chunks, dtype=values.dtype
    )
    array[...] = values
    return str(path)


def apply(tmp_path: Path, *arguments: str):
    spec = tmp_path / "spec.yaml"
    spec.write_text(SPEC)
    return CliRunner().invoke(cli, ["apply", str(spec), *arguments])


def tree(folder: Path) -> dict[str, bytes]:
    """Every file under ``folder`` and its bytes."""
    return {
        str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()
    }


@pytest.fixture
def volume(rng) -> np.ndarray:
    return (rng.random((8, 9, 10)) * 1000).astype(np.float32)


# --------------------------------------------------------------------------------------------
# item 1: a folder gswarp did not write


@pytest.mark.parametrize("overwrite", [[], ["--overwrite"], ["--skip-existing"]])
def test_a_folder_named_zarr_that_gswarp_did_not_write_is_kept(tmp_path, volume, overwrite):
    source = store(tmp_path / "in.zarr", volume)
    target = tmp_path / "out" / "results.zarr"
    (target / "sub").mkdir(parents=True)
    (target / "notes.txt").write_text("precious")
    (target / "sub" / "data.bin").write_bytes(b"\x01\x02")
    before = tree(target)
    result = apply(tmp_path, source, "-o", str(target), *overwrite)
    assert result.exit_code == 1
    assert "is not a gswarp output" in result.output
    assert "Traceback" not in result.output
    assert tree(target) == before


@pytest.mark.parametrize("overwrite", [[], ["--overwrite"]])
def test_a_zarr_store_that_gswarp_did_not_write_is_kept(tmp_path, volume, overwrite):
    source = store(tmp_path / "in.zarr", volume)
    other = store(tmp_path / "theirs.zarr", volume[::-1].copy())
    before = tree(Path(other))
    result = apply(tmp_path, source, "-o", other, *overwrite)
    assert result.exit_code == 1
    assert "is not a gswarp output" in result.output
    assert tree(Path(other)) == before


def test_a_file_where_the_output_goes_is_kept(tmp_path, volume):
    source = store(tmp_path / "in.zarr", volume)
    target = tmp_path / "out.zarr"
    target.write_text("a file, not a store")
    result = apply(tmp_path, source, "-o", str(target), "--overwrite")
    assert result.exit_code in (1, 2)
    assert "Traceback" not in result.output
    assert target.read_text() == "a file, not a store"


def test_an_empty_folder_receives_the_output_and_overwrite_replaces_gswarps_own(tmp_path, volume):
    source = store(tmp_path / "in.zarr", volume)
    target = tmp_path / "out.zarr"
    target.mkdir()
    assert apply(tmp_path, source, "-o", str(target)).exit_code == 0
    assert zarrs.target_state(str(target)) == "gswarp"
    assert apply(tmp_path, source, "-o", str(target)).exit_code == 1  # exists
    result = apply(tmp_path, source, "-o", str(target), "--overwrite")
    assert result.exit_code == 0, result.output


# --------------------------------------------------------------------------------------------
# item 2: an input given as its own output


def _input_as_output(tmp_path: Path, source: str) -> list[str]:
    link = tmp_path / "link.zarr"
    link.symlink_to(source)
    return [
        source,
        source + "/",
        str(link),
        Path(source).as_uri(),
        os.path.relpath(source),
    ]


@pytest.mark.parametrize("form", range(5))
def test_a_zarr_input_is_never_its_own_output(tmp_path, volume, form):
    source = store(tmp_path / "in.zarr", volume)
    before = tree(Path(source))
    output = _input_as_output(tmp_path, source)[form]
    result = apply(tmp_path, source, "-o", output, "--overwrite")
    assert result.exit_code == 1
    assert "an input is never replaced" in result.output
    assert tree(Path(source)) == before
    np.testing.assert_array_equal(zarr.open_array(source, mode="r")[...], volume)


def test_an_ome_zarr_input_is_never_its_own_output(tmp_path, volume):
    group = zarr.open_group(str(tmp_path / "in.ome.zarr"), mode="w")
    group.create_array("0", shape=volume.shape, chunks=(4, 4, 4), dtype=volume.dtype)
    group["0"][...] = volume
    from ome_zarr.format import FormatV05
    from ome_zarr.writer import write_multiscales_metadata

    axes = [{"name": a, "type": "space"} for a in "zyx"]
    datasets = [{"path": "0", "coordinateTransformations": [{"type": "scale", "scale": [1] * 3}]}]
    write_multiscales_metadata(group, datasets, fmt=FormatV05(), axes=axes, name="in")
    source = str(tmp_path / "in.ome.zarr")
    before = tree(Path(source))
    result = apply(tmp_path, source, "-o", source, "--overwrite")
    assert result.exit_code == 1
    assert "an input is never replaced" in result.output
    assert tree(Path(source)) == before


def test_an_output_inside_the_input_is_refused(tmp_path, volume):
    source = store(tmp_path / "in.zarr", volume)
    before = tree(Path(source))
    result = apply(tmp_path, source, "-o", f"{source}/inner.zarr")
    assert result.exit_code == 1
    assert "overlaps the input" in result.output
    assert tree(Path(source)) == before


def test_a_volume_file_input_is_never_inside_its_output(tmp_path, volume):
    folder = tmp_path / "data.zarr"
    folder.mkdir()
    np.save(folder / "v.npy", volume)
    result = apply(tmp_path, str(folder / "v.npy"), "-o", str(folder), "--overwrite")
    assert result.exit_code == 1
    assert (folder / "v.npy").exists()


# --------------------------------------------------------------------------------------------
# item 5: a resume with another input


def _interrupted(tmp_path: Path, source: str, target: Path) -> None:
    """A finished output turned into an interrupted one: marked incomplete, half its chunks
    removed."""
    assert apply(tmp_path, source, "-o", str(target)).exit_code == 0
    node = zarr.open(str(target), mode="r+")
    marker = dict(node.attrs[zarrs.MARKER])
    marker["complete"] = False
    node.attrs[zarrs.MARKER] = marker
    chunks = sorted(p for p in (target / "c").rglob("*") if p.is_file())
    for chunk in chunks[::2]:
        chunk.unlink()


def test_resume_with_another_input_of_the_same_shape_is_refused(tmp_path, volume, rng):
    first = store(tmp_path / "a.zarr", volume)
    second = store(tmp_path / "b.zarr", (rng.random(volume.shape) * 1000).astype(np.float32))
    target = tmp_path / "out.zarr"
    _interrupted(tmp_path, first, target)
    before = tree(target)
    result = apply(tmp_path, second, "-o", str(target), "--skip-existing", "-v")
    assert result.exit_code == 1
    assert "written from another input" in result.output
    assert "kept from the interrupted run" not in result.output
    assert tree(target) == before


def test_a_finished_output_of_another_input_is_not_complete_already(tmp_path, volume, rng):
    first = store(tmp_path / "a.zarr", volume)
    second = store(tmp_path / "b.zarr", (rng.random(volume.shape) * 1000).astype(np.float32))
    target = tmp_path / "out.zarr"
    assert apply(tmp_path, first, "-o", str(target)).exit_code == 0
    result = apply(tmp_path, second, "-o", str(target), "--skip-existing")
    assert result.exit_code == 1
    assert "complete already" not in result.output
    assert "written from another input" in result.output


def test_resume_after_the_input_changed_in_place_is_refused(tmp_path, volume):
    source = store(tmp_path / "a.zarr", volume)
    target = tmp_path / "out.zarr"
    _interrupted(tmp_path, source, target)
    changed = volume.copy()
    changed[0, 0, 0] += 1
    zarr.open_array(source, mode="r+")[...] = changed
    result = apply(tmp_path, source, "-o", str(target), "--skip-existing")
    assert result.exit_code == 1
    assert "its input has changed since" in result.output


def test_resume_with_another_spec_is_refused(tmp_path, volume):
    source = store(tmp_path / "a.zarr", volume)
    target = tmp_path / "out.zarr"
    _interrupted(tmp_path, source, target)
    other = tmp_path / "other.yaml"
    other.write_text("version: 1\ntransform: {affine: {rotate: [0, 0, 16]}}\n")
    result = CliRunner().invoke(
        cli, ["apply", str(other), source, "-o", str(target), "--skip-existing"]
    )
    assert result.exit_code == 1
    assert "another chain" in result.output


def test_resume_of_the_same_input_and_spec_completes_it(tmp_path, volume):
    source = store(tmp_path / "a.zarr", volume)
    target = tmp_path / "out.zarr"
    reference = tmp_path / "reference.zarr"
    assert apply(tmp_path, source, "-o", str(reference)).exit_code == 0
    _interrupted(tmp_path, source, target)
    result = apply(tmp_path, source, "-o", str(target), "--skip-existing", "-v")
    assert result.exit_code == 0, result.output
    assert "kept from the interrupted run" in result.output
    np.testing.assert_array_equal(
        zarr.open_array(str(target), mode="r")[...], zarr.open_array(str(reference), mode="r")[...]
    )
    assert zarrs.is_complete(str(target))


def test_resume_with_another_volume_file_is_refused(tmp_path, volume, rng):
    np.save(tmp_path / "a.npy", volume)
    target = tmp_path / "out.zarr"
    _interrupted(tmp_path, str(tmp_path / "a.npy"), target)
    np.save(tmp_path / "a.npy", (rng.random(volume.shape) * 1000).astype(np.float32))
    result = apply(tmp_path, str(tmp_path / "a.npy"), "-o", str(target), "--skip-existing")
    assert result.exit_code == 1
    assert "its input has changed since" in result.output
