"""Zarr arrays and OME-Zarr images warped chunk by chunk on Dask (``gswarp.run.zarr_job``,
``gswarp apply``).

The oracle is gswarp's own in-memory path (``warp_pixels``, what ``gswarp apply`` does for
``.npy`` and NIfTI volumes), which the engine tests pin to torch: a chunked warp must equal it
bit for bit, whatever the chunks, the scheduler, or an interruption on the way.
"""

from __future__ import annotations

import itertools
import os
import shutil
import time

import numpy as np
import pytest
from click.testing import CliRunner

pytest.importorskip("zarr", reason="the zarr extra is not installed")
pytest.importorskip("dask", reason="the zarr extra is not installed")
pytest.importorskip("ome_zarr", reason="the zarr extra is not installed")

import zarr
from ome_zarr.format import FormatV04, FormatV05
from ome_zarr.writer import write_multiscales_metadata

from gswarp.cli.main import cli
from gswarp.io import zarrs
from gswarp.plan import resolve
from gswarp.run.cluster import Scheduler
from gswarp.run.sources import FILES
from gswarp.run.warp import warp_pixels
from gswarp.run.zarr_job import plan_zarr, run_zarr, warp_zarr
from gswarp.spec import parse_spec

ROTATION = "transform: {affine: {rotate: [10, 5, -7], scale: 1.1, translate: [1.5, -2, 0.5]}}"


def spec_of(text: str = ROTATION, **sampling: object):
    lines = ["version: 1", text]
    if sampling:
        lines.append("sampling: {" + ", ".join(f"{k}: {v}" for k, v in sampling.items()) + "}")
    return parse_spec("\n".join(lines))


def volume(rng, shape, dtype):
    if np.dtype(dtype).kind == "u":
        return rng.integers(0, np.iinfo(dtype).max, shape).astype(dtype)
    return rng.standard_normal(shape).astype(dtype)


def plain(path, array, chunks, zarr_format=3):
    created = zarr.create_array(
        store=str(path),
        shape=array.shape,
        chunks=chunks,
        dtype=array.dtype,
        zarr_format=zarr_format,
        overwrite=True,
    )
    created[...] = array
    return str(path)


def ome(path, levels, axes, scale, translation, chunks, zarr_format=3, label=False):
    """An OME-Zarr image whose levels are ``levels`` (arrays), written with ome-zarr-py's
    metadata writer; ``scale``/``translation`` of level 0 over the spatial axes."""
    group = zarr.open_group(str(path), mode="w", zarr_format=zarr_format)
    datasets = []
    lead = len(axes) - len(scale)
    for index, array in enumerate(levels):
        group.create_array(str(index), shape=array.shape, chunks=chunks, dtype=array.dtype)
        group[str(index)][...] = array
        factor = 2.0**index
        datasets.append(
            {
                "path": str(index),
                "coordinateTransformations": [
                    {"type": "scale", "scale": [1.0] * lead + [s * factor for s in scale]},
                    {"type": "translation", "translation": [0.0] * lead + list(translation)},
                ],
            }
        )
    named = [
        {"name": a, "type": {"c": "channel", "t": "time"}.get(a, "space")}
        | ({"unit": "micrometer"} if a in "zyx" else {})
        for a in axes
    ]
    fmt = FormatV05() if zarr_format == 3 else FormatV04()
    write_multiscales_metadata(group, datasets, fmt=fmt, axes=named, name="test")
    if label:
        attrs = dict(group.attrs)
        if "ome" in attrs:
            attrs["ome"]["image-label"] = {"version": "0.5", "colors": []}
            group.attrs.update(attrs)
        else:
            group.attrs["image-label"] = {"version": "0.4", "colors": []}
    return str(path)


def read(location, path=None):
    return zarr.open_array(str(location), path=path, mode="r")[...]


def in_memory(spec, array, affine=None, channels_first=False):
    """gswarp's in-memory warp of ``array`` ([C,] D, H, W) as ``gswarp apply`` does for .npy."""
    pixels = np.moveaxis(array, 0, -1) if channels_first else array
    spatial = pixels.shape[:3] if channels_first else pixels.shape
    result = warp_pixels(pixels, resolve(spec, spatial, affine, FILES))
    return np.moveaxis(result, -1, 0) if channels_first else result


# --------------------------------------------------------------------------------------------
# chunked = in memory


@pytest.mark.parametrize(
    ("mode", "padding"),
    list(itertools.product(("nearest", "bilinear", "bicubic"), ("zeros", "border", "reflection"))),
)
def test_chunked_zarr_equals_in_memory_float32(tmp_path, rng, mode, padding):
    array = volume(rng, (19, 23, 26), np.float32)
    source = plain(tmp_path / "in.zarr", array, (8, 8, 8))
    spec = spec_of(mode=mode, padding=padding, fill=0.25)
    warp_zarr(spec, source, str(tmp_path / "out.zarr"), chunks=(7, 9, 5), jobs=2)
    np.testing.assert_array_equal(read(tmp_path / "out.zarr"), in_memory(spec, array))


@pytest.mark.parametrize("zarr_format", [2, 3])
def test_chunked_zarr_uint16_and_align_corners(tmp_path, rng, zarr_format):
    array = volume(rng, (17, 20, 22), np.uint16)
    source = plain(tmp_path / "in.zarr", array, (5, 6, 7), zarr_format)
    spec = spec_of(mode="bilinear", padding="reflection", align_corners="true")
    warp_zarr(spec, source, str(tmp_path / "out.zarr"), jobs=2)
    out = zarr.open_array(str(tmp_path / "out.zarr"), mode="r")
    assert out.metadata.zarr_format == zarr_format
    assert out.chunks == (5, 6, 7)  # the input's chunks by default
    np.testing.assert_array_equal(out[...], in_memory(spec, array))


def test_chunks_smaller_than_the_kernel_support(tmp_path, rng):
    array = volume(rng, (9, 10, 11), np.float32)
    source = plain(tmp_path / "in.zarr", array, (4, 4, 4))
    spec = spec_of(mode="bicubic", padding="border")
    warp_zarr(spec, source, str(tmp_path / "out.zarr"), chunks=(3, 2, 1), jobs=2)
    np.testing.assert_array_equal(read(tmp_path / "out.zarr"), in_memory(spec, array))


def test_shrinking_rotation_reads_windows_larger_than_chunks_and_converts_dtype(tmp_path, rng):
    array = volume(rng, (30, 32, 34), np.uint16)
    source = plain(tmp_path / "in.zarr", array, (10, 10, 10))
    spec = parse_spec(
        "version: 1\ntransform: {affine: {rotate: [0, 0, 40], scale: 0.5}}\n"
        "output: {size: [20, 18, 16], dtype: float32}\nsampling: {mode: bicubic}"
    )
    warp_zarr(spec, source, str(tmp_path / "out.zarr"), chunks=(6,), jobs=2)
    out = zarr.open_array(str(tmp_path / "out.zarr"), mode="r")
    assert out.dtype == np.float32 and out.shape == (16, 18, 20) and out.chunks == (6, 6, 6)
    np.testing.assert_array_equal(out[...], in_memory(spec, array))


def test_two_dimensional_zarr_and_channels(tmp_path, rng):
    image = volume(rng, (50, 61), np.float32)
    source = plain(tmp_path / "in.zarr", image, (16, 16))
    spec = parse_spec("version: 1\ntransform: {affine: {rotate: 25}}\nsampling: {mode: bicubic}")
    warp_zarr(spec, source, str(tmp_path / "out.zarr"), jobs=2)
    np.testing.assert_array_equal(read(tmp_path / "out.zarr"), in_memory(spec, image))
    stack = volume(rng, (3, 12, 14, 15), np.uint16)  # (c, z, y, x)
    source = plain(tmp_path / "c.zarr", stack, (1, 5, 5, 5))
    spec = spec_of(fill="[1, 2, 3]")
    warp_zarr(spec, source, str(tmp_path / "c_out.zarr"), jobs=2)
    expected = in_memory(spec, stack, channels_first=True)
    np.testing.assert_array_equal(read(tmp_path / "c_out.zarr"), expected)


# --------------------------------------------------------------------------------------------
# OME-Zarr: world geometry, pyramids, labels


def test_ome_zarr_world_space_equals_the_nifti_path(tmp_path, rng):
    nibabel = pytest.importorskip("nibabel", reason="nibabel is not installed")
    array = volume(rng, (20, 24, 28), np.float32)  # (z, y, x)
    scale, translation = (2.0, 0.75, 0.5), (5.0, -3.0, 7.0)  # z, y, x (float32-exact: NIfTI)
    source = ome(tmp_path / "in.zarr", [array], "zyx", scale, translation, (8, 8, 8))
    affine = zarrs.grid_affine(scale, translation)
    assert np.allclose(zarrs.open_source(source).affine, affine)
    nibabel.save(nibabel.Nifti1Image(array.transpose(2, 1, 0).copy(), affine), tmp_path / "in.nii")
    ome(
        tmp_path / "ref.zarr",
        [np.zeros((12, 20, 25), np.float32)],
        "zyx",
        (2.5, 1.0, 0.75),
        (4.0, -2.0, 6.0),
        (6, 6, 6),
    )
    ref_affine = zarrs.grid_affine((2.5, 1.0, 0.75), (4.0, -2.0, 6.0))
    nibabel.save(
        nibabel.Nifti1Image(np.zeros((25, 20, 12), np.float32), ref_affine), tmp_path / "ref.nii"
    )
    body = "transform: {affine: {rotate: [0, 0, 20], center: [15, 0, 25]}}\nspace: world\n"
    (tmp_path / "z.yaml").write_text(f"version: 1\n{body}output: {{like: ref.zarr}}\n")
    (tmp_path / "n.yaml").write_text(f"version: 1\n{body}output: {{like: ref.nii}}\n")
    runner = CliRunner()
    for spec, src, out in (("z.yaml", source, "out.zarr"), ("n.yaml", "in.nii", "out.nii")):
        result = runner.invoke(
            cli, ["apply", str(tmp_path / spec), str(tmp_path / src), "-o", str(tmp_path / out)]
        )
        assert result.exit_code == 0, result.output
    nifti = nibabel.load(tmp_path / "out.nii")
    got = zarrs.open_source(str(tmp_path / "out.zarr"))
    np.testing.assert_array_equal(
        read(tmp_path / "out.zarr", "0"), np.asarray(nifti.dataobj).transpose(2, 1, 0)
    )
    np.testing.assert_allclose(got.affine, nifti.affine)
    np.testing.assert_allclose(got.affine, ref_affine)
    assert got.units == ("micrometer",) * 3


def test_ome_zarr_pyramid_levels_and_metadata_read_by_ome_zarr_py(tmp_path, rng):
    from ome_zarr.io import parse_url
    from ome_zarr.reader import Reader

    array = volume(rng, (2, 16, 24, 32), np.uint16)  # (c, z, y, x), z twice as coarse
    source = ome(
        tmp_path / "in.zarr",
        [array],
        "czyx",
        (2.0, 1.0, 1.0),
        (0.0, 0.0, 0.0),
        (1, 8, 8, 8),
        zarr_format=2,
    )
    spec = parse_spec(
        "version: 1\ntransform: {affine: {translate: [1, 0, 0]}}\noutput: {levels: 3}"
    )
    warp_zarr(spec, source, str(tmp_path / "out.zarr"), jobs=2)
    level0 = read(tmp_path / "out.zarr", "0")
    np.testing.assert_array_equal(level0, in_memory(spec, array, channels_first=True))
    # level 1 halves y and x only (z is already twice as coarse), level 2 all three
    level1 = read(tmp_path / "out.zarr", "1")
    expected1 = level0.reshape(2, 16, 12, 2, 16, 2).astype(np.float64).mean(axis=(3, 5))
    np.testing.assert_array_equal(level1, np.rint(expected1).astype(np.uint16))
    level2 = read(tmp_path / "out.zarr", "2")
    expected2 = level1.reshape(2, 8, 2, 6, 2, 8, 2).astype(np.float64).mean(axis=(2, 4, 6))
    np.testing.assert_array_equal(level2, np.rint(expected2).astype(np.uint16))
    node = next(iter(Reader(parse_url(str(tmp_path / "out.zarr")))()))
    assert [d.shape for d in node.data] == [(2, 16, 24, 32), (2, 16, 12, 16), (2, 8, 6, 8)]
    transforms = node.metadata["coordinateTransformations"]
    assert transforms[1] == [
        {"type": "scale", "scale": [1.0, 2.0, 2.0, 2.0]},
        {"type": "translation", "translation": [0.0, 0.0, 0.5, 0.5]},
    ]
    assert [a["name"] for a in node.metadata["axes"]] == ["c", "z", "y", "x"]
    assert zarrs.is_complete(str(tmp_path / "out.zarr"))
    # --level reads a coarser level of an input
    result = CliRunner().invoke(
        cli,
        [
            "apply",
            _spec_file(tmp_path),
            str(tmp_path / "out.zarr"),
            "--level",
            "2",
            "-o",
            str(tmp_path / "from2.zarr"),
        ],
    )
    assert result.exit_code == 0, result.output
    assert zarrs.open_source(str(tmp_path / "from2.zarr")).shape == (2, 8, 6, 8)


def _spec_file(tmp_path, text=ROTATION):
    path = tmp_path / "spec.yaml"
    path.write_text(f"version: 1\n{text}\n")
    return str(path)


def test_label_image_pyramid_keeps_the_labels(tmp_path, rng):
    labels = rng.integers(0, 5, (12, 16, 16)).astype(np.uint8) * 10
    source = ome(
        tmp_path / "in.zarr",
        [labels],
        "zyx",
        (1.0, 1.0, 1.0),
        (0.0, 0.0, 0.0),
        (8, 8, 8),
        label=True,
    )
    assert zarrs.open_source(source).label
    spec = spec_of(mode="nearest")
    warp_zarr(spec, source, str(tmp_path / "out.zarr"), jobs=2)
    out = zarrs.open_source(str(tmp_path / "out.zarr"))
    assert out.label
    for level in ("0", "1"):
        assert set(np.unique(read(tmp_path / "out.zarr", level))) <= {0, 10, 20, 30, 40}
    np.testing.assert_array_equal(
        read(tmp_path / "out.zarr", "1"), read(tmp_path / "out.zarr", "0")[::2, ::2, ::2]
    )


def test_oblique_output_grid_is_refused_for_ome_zarr(tmp_path, rng):
    nibabel = pytest.importorskip("nibabel", reason="nibabel is not installed")
    array = volume(rng, (8, 9, 10), np.float32)
    source = ome(tmp_path / "in.zarr", [array], "zyx", (1.0, 1.0, 1.0), (0.0, 0.0, 0.0), (4, 4, 4))
    oblique = np.eye(4)
    oblique[:2, :2] = [[0.8, -0.6], [0.6, 0.8]]
    nibabel.save(
        nibabel.Nifti1Image(np.zeros((10, 9, 8), np.float32), oblique), tmp_path / "ref.nii"
    )
    (tmp_path / "s.yaml").write_text("version: 1\nspace: world\noutput: {like: ref.nii}\n")
    result = CliRunner().invoke(
        cli, ["apply", str(tmp_path / "s.yaml"), source, "-o", str(tmp_path / "o.zarr")]
    )
    assert result.exit_code == 1
    assert "rotated, sheared or flipped" in result.output
    assert "Traceback" not in result.output


# --------------------------------------------------------------------------------------------
# the command line, schedulers, interruptions


def test_cli_zarr_equals_cli_npy(tmp_path, rng):
    array = volume(rng, (14, 15, 16), np.uint16)
    np.save(tmp_path / "in.npy", array)
    source = plain(tmp_path / "in.zarr", array, (6, 6, 6))
    spec = _spec_file(tmp_path)
    runner = CliRunner()
    result = runner.invoke(cli, ["apply", spec, source, "-o", str(tmp_path / "o.zarr"), "-v"])
    assert result.exit_code == 0, result.output
    assert "scheduler: dask threaded scheduler" in result.output
    result = runner.invoke(
        cli, ["apply", spec, str(tmp_path / "in.npy"), "-o", str(tmp_path / "o.npy")]
    )
    assert result.exit_code == 0, result.output
    np.testing.assert_array_equal(read(tmp_path / "o.zarr"), np.load(tmp_path / "o.npy"))


def test_local_cluster_gives_the_embedded_schedulers_bytes(tmp_path, rng):
    array = volume(rng, (16, 18, 20), np.float32)
    source = plain(tmp_path / "in.zarr", array, (6, 6, 6))
    spec = _spec_file(tmp_path)
    result = CliRunner().invoke(
        cli,
        [
            "apply",
            spec,
            source,
            "-o",
            str(tmp_path / "cluster.zarr"),
            "--cluster",
            "local:2",
            "-v",
        ],
    )
    assert result.exit_code == 0, result.output
    assert "LocalCluster, 2 worker processes" in result.output and "dashboard:" in result.output
    np.testing.assert_array_equal(read(tmp_path / "cluster.zarr"), in_memory(spec_of(), array))


def test_a_killed_worker_costs_its_tasks_not_the_run(tmp_path, rng):
    array = volume(rng, (24, 24, 24), np.float32)
    source = plain(tmp_path / "in.zarr", array, (4, 4, 4))
    spec = spec_of()
    run = plan_zarr(spec, source, str(tmp_path / "out.zarr"))
    scheduler = Scheduler.connect("local:2")
    killed = []

    def kill_one(result):
        if not killed:
            nanny = next(iter(scheduler.cluster.workers.values()))
            nanny.process.process.kill()  # as the OOM killer would
            killed.append(nanny)

    try:
        run_zarr(run, scheduler, kill_one)
    finally:
        scheduler.close()
    assert killed
    np.testing.assert_array_equal(read(tmp_path / "out.zarr"), in_memory(spec, array))


def test_interrupted_run_resumes_with_skip_existing(tmp_path, rng):
    array = volume(rng, (20, 21, 22), np.uint16)
    source = plain(tmp_path / "in.zarr", array, (5, 5, 5))
    spec_path = _spec_file(tmp_path)
    spec = spec_of()
    target = str(tmp_path / "out.zarr")
    run = plan_zarr(spec, source, target)
    seen = []

    def interrupt(result):
        seen.append(result)
        if len(seen) == 3:  # of 8 tasks (three rows of chunks each)
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run_zarr(run, Scheduler.threads(2), interrupt)
    assert not zarrs.is_complete(target)
    runner = CliRunner()
    result = runner.invoke(cli, ["apply", spec_path, source, "-o", target])
    assert result.exit_code == 1 and "exists" in result.output  # never silently replaced
    result = runner.invoke(cli, ["apply", spec_path, source, "-o", target, "--skip-existing", "-v"])
    assert result.exit_code == 0, result.output
    assert "kept from the interrupted run" in result.output
    np.testing.assert_array_equal(read(target), in_memory(spec, array))
    assert zarrs.is_complete(target)
    result = runner.invoke(cli, ["apply", spec_path, source, "-o", target, "--skip-existing"])
    assert result.exit_code == 0 and "complete already" in result.output


def test_resume_refuses_an_output_of_another_spec(tmp_path, rng):
    array = volume(rng, (8, 8, 8), np.float32)
    source = plain(tmp_path / "in.zarr", array, (4, 4, 4))
    target = str(tmp_path / "out.zarr")
    plan_zarr(spec_of(), source, target)  # created, never run: incomplete
    result = CliRunner().invoke(
        cli,
        [
            "apply",
            _spec_file(tmp_path, "transform: {affine: {rotate: [1, 2, 3]}}"),
            source,
            "-o",
            target,
            "--skip-existing",
        ],
    )
    assert result.exit_code == 1
    assert "it was written with another chain" in result.output
    assert "never mixes two runs' chunks" in result.output and "Traceback" not in result.output


# --------------------------------------------------------------------------------------------
# bad input: one line, the right exit code


def _one_error_line(output: str) -> str:
    errors = [line for line in output.splitlines() if line.startswith("gswarp: error:")]
    assert len(errors) == 1 and "Traceback" not in output, output
    return errors[0]


def test_not_a_zarr_store(tmp_path):
    (tmp_path / "empty.zarr").mkdir()
    result = CliRunner().invoke(
        cli,
        [
            "apply",
            _spec_file(tmp_path),
            str(tmp_path / "empty.zarr"),
            "-o",
            str(tmp_path / "o.zarr"),
        ],
    )
    assert result.exit_code == 1
    assert "not a Zarr array or group" in _one_error_line(result.output)


def test_wrong_number_of_dimensions(tmp_path):
    source = plain(tmp_path / "five.zarr", np.zeros((2, 2, 3, 4, 5), np.float32), (1, 1, 3, 4, 5))
    result = CliRunner().invoke(
        cli, ["apply", _spec_file(tmp_path), source, "-o", str(tmp_path / "o.zarr")]
    )
    assert result.exit_code == 1
    assert "5 dimensions" in _one_error_line(result.output)


def test_unreachable_scheduler_fails_fast(tmp_path, rng):
    source = plain(tmp_path / "in.zarr", volume(rng, (4, 4, 4), np.float32), (4, 4, 4))
    start = time.monotonic()
    result = CliRunner().invoke(
        cli,
        [
            "apply",
            _spec_file(tmp_path),
            source,
            "-o",
            str(tmp_path / "o.zarr"),
            "--cluster",
            "tcp://127.0.0.1:9",
        ],
    )
    assert result.exit_code == 2
    assert "no Dask scheduler answered" in _one_error_line(result.output)
    assert time.monotonic() - start < 15


def test_mixed_inputs_and_gpu_are_usage_errors(tmp_path, rng):
    source = plain(tmp_path / "in.zarr", volume(rng, (4, 4, 4), np.float32), (4, 4, 4))
    np.save(tmp_path / "v.npy", np.zeros((4, 4, 4), np.float32))
    runner = CliRunner()
    result = runner.invoke(
        cli,
        [
            "apply",
            _spec_file(tmp_path),
            source,
            str(tmp_path / "v.npy"),
            "-o",
            str(tmp_path / "out"),
        ],
    )
    assert result.exit_code == 2 and "cannot be mixed" in result.output
    result = runner.invoke(
        cli,
        [
            "apply",
            _spec_file(tmp_path),
            str(tmp_path / "v.npy"),
            "-o",
            str(tmp_path / "o.npy"),
            "--chunks",
            "4",
        ],
    )
    assert result.exit_code == 2 and "Zarr inputs only" in result.output


def test_missing_extra_names_it(monkeypatch):
    import builtins

    real_import = builtins.__import__

    def no_zarr(name, *args, **kwargs):
        if name == "zarr" or name.startswith("zarr."):
            raise ImportError("No module named 'zarr'", name="zarr")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_zarr)
    from gswarp.errors import BackendError

    with pytest.raises(BackendError, match=r"pip install 'gswarp\[zarr\]'"):
        zarrs.zarr_modules()


def test_spec_output_chunks_levels_compression():
    spec = parse_spec("version: 1\noutput: {chunks: [64, 32, 16], levels: 2, compression: gzip}")
    assert (spec.output.chunks, spec.output.levels, spec.output.compression) == (
        (64, 32, 16),
        2,
        "gzip",
    )
    assert spec.output.normalized()["chunks"] == [64, 32, 16]
    with pytest.raises(Exception, match=r"output\.chunks"):
        parse_spec("version: 1\noutput: {chunks: [0, 4]}")


def test_info_names_the_zarr_extra_and_the_scheduler(monkeypatch):
    runner = CliRunner()
    monkeypatch.delenv("DASK_SCHEDULER_ADDRESS", raising=False)
    result = runner.invoke(cli, ["info"])
    assert "zarr volumes: zarr " in result.output
    assert "chunk scheduler: dask threaded scheduler" in result.output
    monkeypatch.setenv("DASK_SCHEDULER_ADDRESS", "tcp://10.1.2.3:8786")
    result = runner.invoke(cli, ["info"])
    assert "chunk scheduler: the Dask cluster at tcp://10.1.2.3:8786" in result.output


def test_flow_and_elastic_specs_on_zarr(tmp_path, rng):
    from gswarp.spec.augment import draw

    array = volume(rng, (14, 16, 18), np.float32)
    source = plain(tmp_path / "in.zarr", array, (6, 6, 6))
    np.save(tmp_path / "field.npy", rng.standard_normal((5, 6, 7, 3)).astype(np.float32) * 2)
    texts = (
        f"transform: [{{flow: {{path: {tmp_path / 'field.npy'}}}}}, "
        "{affine: {rotate: [0, 0, 10]}}]",
        "transform: [{elastic: {alpha: 4, sigma: 5}}]",
    )
    for index, text in enumerate(texts):
        spec = spec_of(text, mode="bicubic", padding="border")
        if spec.is_random:
            spec = draw(spec, 3, "in.zarr").spec
        target = str(tmp_path / f"out{index}.zarr")
        warp_zarr(spec, source, target, chunks=(5, 7, 4), jobs=2)
        np.testing.assert_array_equal(read(target), in_memory(spec, array))


def test_random_spec_draws_once_per_input_name(tmp_path, rng):
    array = volume(rng, (10, 11, 12), np.float32)
    source = plain(tmp_path / "in.zarr", array, (5, 5, 5))
    spec_path = _spec_file(tmp_path, "transform: {affine: {rotate: {uniform: [-20, 20]}}}")
    runner = CliRunner()
    outputs = []
    for extra in ([], ["--cluster", "local:2"]):
        target = str(tmp_path / f"o{len(outputs)}.zarr")
        result = runner.invoke(
            cli, ["apply", spec_path, source, "-o", target, "--seed", "5", *extra]
        )
        assert result.exit_code == 0, result.output
        outputs.append(read(target))
    np.testing.assert_array_equal(outputs[0], outputs[1])
    assert not np.array_equal(outputs[0], array)


def test_read_window_assembles_cached_chunks(tmp_path, rng):
    from gswarp.run.zarr_job import read_window

    array = volume(rng, (2, 11, 13, 17), np.uint16)
    stored = zarr.open_array(plain(tmp_path / "w.zarr", array, (1, 3, 4, 5)), mode="r")
    for _ in range(20):
        lows = [int(rng.integers(0, n)) for n in array.shape[1:]]
        highs = [
            int(rng.integers(low + 1, n + 1)) for low, n in zip(lows, array.shape[1:], strict=True)
        ]
        box = tuple(slice(a, b) for a, b in zip(lows, highs, strict=True))
        lead = int(rng.integers(0, 2)) if rng.random() < 0.5 else slice(0, 2)
        np.testing.assert_array_equal(
            read_window(stored, "token-a", (lead, *box)), array[(lead, *box)]
        )
    rewritten = zarr.open_array(plain(tmp_path / "w.zarr", array + 1, (1, 3, 4, 5)), mode="r")
    whole = (slice(0, 2), slice(0, 11), slice(0, 13), slice(0, 17))
    np.testing.assert_array_equal(read_window(rewritten, "token-b", whole), array + 1)


@pytest.mark.skipif(
    shutil.which("gswarp") is None, reason="gswarp is not installed (pip install .)"
)
@pytest.mark.parametrize(
    ("name", "status", "words"),
    [("SIGINT", 130, "interrupted"), ("SIGTERM", 143, "terminated by SIGTERM")],
)
def test_ctrl_c_exits_130_and_the_run_resumes(tmp_path, rng, name, status, words):
    """A real SIGINT (or SIGTERM, handled alike: issue 27) in the middle of a Zarr run: exit
    128 + N, one line, stored chunks whole; --skip-existing then finishes it with the
    uninterrupted run's bytes."""
    import signal
    import subprocess

    array = volume(rng, (64, 96, 96), np.float32)
    source = plain(tmp_path / "in.zarr", array, (8, 8, 8))
    spec_path = _spec_file(tmp_path)
    target = tmp_path / "out.zarr"
    command = ["gswarp", "apply", spec_path, source, "-o", str(target), "--jobs", "1"]
    proc = subprocess.Popen(
        command,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and proc.poll() is None:
        if (target / "c").exists() and any((target / "c").rglob("*")):
            break  # chunks are being stored: the run is under way
        time.sleep(0.02)
    proc.send_signal(getattr(signal, name))
    _, stderr = proc.communicate(timeout=60)
    if proc.returncode == 0:
        pytest.skip("the run finished before the signal arrived")
    assert proc.returncode == status, stderr
    assert words in stderr and "--skip-existing" in stderr and "Traceback" not in stderr
    assert not zarrs.is_complete(str(target))
    result = CliRunner().invoke(
        cli, ["apply", spec_path, source, "-o", str(target), "--skip-existing"]
    )
    assert result.exit_code == 0, result.output
    np.testing.assert_array_equal(read(target), in_memory(spec_of(), array))


def test_explain_reads_a_zarr_stores_metadata(tmp_path, rng):
    array = volume(rng, (2, 12, 14, 16), np.uint16)
    source = ome(
        tmp_path / "in.zarr",
        [array, array[:, ::2, ::2, ::2]],
        "czyx",
        (2.0, 1.0, 1.0),
        (0.0, 0.0, 0.0),
        (1, 4, 4, 4),
    )
    runner = CliRunner()
    result = runner.invoke(cli, ["explain", _spec_file(tmp_path), source])
    assert result.exit_code == 0, result.output
    assert "16 x 14 x 12 (width x height x depth), 2 channel(s), uint16" in result.output
    assert "OME-Zarr image, level 0, chunks 4x4x4x1" in result.output
    result = runner.invoke(cli, ["explain", _spec_file(tmp_path), source, "--level", "1"])
    assert "8 x 7 x 6 (width x height x depth)" in result.output


def test_rewriting_an_output_in_the_same_process_takes_its_new_chunks(tmp_path, rng):
    """The arrays a run opens are its own: a second run into the same store with other chunks
    (--overwrite) writes its own chunk grid, not the first run's."""
    array = volume(rng, (12, 13, 14), np.float32)
    source = plain(tmp_path / "in.zarr", array, (4, 4, 4))
    target = str(tmp_path / "out.zarr")
    for chunks in ((3, 3, 3), (7, 5, 6)):
        warp_zarr(spec_of(), source, target, chunks=chunks, overwrite=True, jobs=2)
        assert zarr.open_array(target, mode="r").chunks == chunks[::-1]
        np.testing.assert_array_equal(read(target), in_memory(spec_of(), array))


# --------------------------------------------------------------------------------------------
# volume files read in pieces (gswarp.io.lazy_volumes) into Zarr


def _apply(*args):
    return CliRunner().invoke(cli, ["apply", *map(str, args)])


def test_oblique_nifti_into_zarr_equals_the_nifti_path(tmp_path, rng):
    """An oblique, anisotropic NIfTI warped in world space onto a new spacing: read through its
    memory map window by window, the voxels equal the in-memory NIfTI output's."""
    nibabel = pytest.importorskip("nibabel", reason="nibabel is not installed")
    stored = rng.integers(-2000, 2000, (29, 33, 21)).astype(np.int16)  # (i, j, k)
    affine = np.array([[0.9, 0.1, 0, -10], [-0.1, 0.9, 0, 5], [0, 0, 1.5, 3], [0, 0, 0, 1]])
    nibabel.save(nibabel.Nifti1Image(stored, affine), tmp_path / "in.nii")
    spec = _spec_file(
        tmp_path,
        "space: world\ntransform: {affine: {rotate: [10, 0, 20]}}\n"
        "output: {spacing: [1.1, 1.2, 0.9]}",
    )
    result = _apply(spec, tmp_path / "in.nii", "-o", tmp_path / "out.zarr", "--chunks", "8,16,6")
    assert result.exit_code == 0, result.output
    result = _apply(spec, tmp_path / "in.nii", "-o", tmp_path / "out.nii")
    assert result.exit_code == 0, result.output
    expected = np.asarray(nibabel.load(tmp_path / "out.nii").dataobj.get_unscaled())
    got = zarr.open_array(str(tmp_path / "out.zarr"), mode="r")
    assert got.chunks == (6, 16, 8)
    np.testing.assert_array_equal(got[...], expected.transpose(2, 1, 0))


def test_axis_aligned_nifti_into_ome_zarr_keeps_its_grid(tmp_path, rng):
    nibabel = pytest.importorskip("nibabel", reason="nibabel is not installed")
    stored = rng.standard_normal((20, 18, 12)).astype(np.float32)
    affine = zarrs.grid_affine((2.0, 0.75, 0.5), (5.0, -3.0, 7.0))  # z, y, x
    image = nibabel.Nifti1Image(stored, affine)
    image.header.set_xyzt_units("mm")
    nibabel.save(image, tmp_path / "in.nii")
    spec = _spec_file(tmp_path, "transform: {affine: {translate: [2, -1, 0.5]}}")
    for out in ("out.ome.zarr", "out.nii"):
        result = _apply(spec, tmp_path / "in.nii", "-o", tmp_path / out)
        assert result.exit_code == 0, result.output
    nifti = nibabel.load(tmp_path / "out.nii")
    got = zarrs.open_source(str(tmp_path / "out.ome.zarr"))  # read back with ome-zarr-py
    assert got.ome and got.units == ("millimeter",) * 3
    np.testing.assert_allclose(got.affine, nifti.affine)
    np.testing.assert_array_equal(
        read(tmp_path / "out.ome.zarr", "0"), np.asarray(nifti.dataobj).transpose(2, 1, 0)
    )


@pytest.mark.parametrize("kind", ["tif", "npy"])
def test_tiff_stack_and_npy_into_zarr_equal_the_in_memory_path(tmp_path, rng, kind):
    tifffile = pytest.importorskip("tifffile", reason="tifffile is not installed")
    array = volume(rng, (17, 23, 19), np.uint16)
    if kind == "tif":
        tifffile.imwrite(tmp_path / "in.tif", array, tile=(16, 16))  # chunks: one tile
    else:
        np.save(tmp_path / "in.npy", array)
    spec = _spec_file(tmp_path, ROTATION + "\nsampling: {mode: bicubic, padding: reflection}")
    result = _apply(spec, tmp_path / f"in.{kind}", "-o", tmp_path / "out.zarr", "--chunks", "7")
    assert result.exit_code == 0, result.output
    result = _apply(spec, tmp_path / f"in.{kind}", "-o", tmp_path / "out.npy")
    assert result.exit_code == 0, result.output
    np.testing.assert_array_equal(read(tmp_path / "out.zarr"), np.load(tmp_path / "out.npy"))


def test_volume_files_that_cannot_be_read_in_pieces(tmp_path, rng):
    nibabel = pytest.importorskip("nibabel", reason="nibabel is not installed")
    spec = _spec_file(tmp_path)
    stored = rng.integers(0, 100, (6, 7, 8)).astype(np.int16)
    nibabel.save(nibabel.Nifti1Image(stored, np.eye(4)), tmp_path / "packed.nii.gz")
    scaled = nibabel.Nifti1Image(stored, np.eye(4))
    scaled.header.set_slope_inter(2.0, 1.0)
    nibabel.save(scaled, tmp_path / "scaled.nii")
    nibabel.save(
        nibabel.Nifti1Image(stored[..., None].repeat(2, -1), np.eye(4)), tmp_path / "t.nii"
    )
    for name, words in (
        ("packed.nii.gz", "gzip-compressed NIfTI cannot be read in pieces"),
        ("scaled.nii", "scl_slope 2, scl_inter 1"),
        ("t.nii", "takes a 3-D NIfTI volume"),
    ):
        result = _apply(spec, tmp_path / name, "-o", tmp_path / f"{name}.zarr")
        assert result.exit_code == 1, result.output
        assert words in _one_error_line(result.output)
        assert not (tmp_path / f"{name}.zarr").exists()
    np.save(tmp_path / "a.npy", stored)
    np.save(tmp_path / "b.npy", stored)
    result = _apply(spec, tmp_path / "a.npy", tmp_path / "b.npy", "-o", tmp_path / "ab.zarr")
    assert result.exit_code == 2 and "one volume file per run" in result.output


_BIG_NIFTI = """
import os, sys, threading, time
import numpy as np
from gswarp.run.zarr_job import warp_zarr
from gswarp.spec import parse_spec
spec = parse_spec("version: 1\\ntransform: {affine: {rotate: [3, 0, 0]}}")
warp_zarr(spec, sys.argv[3], sys.argv[4], jobs=2)  # compiles the kernels (a cold cache's peak)
page = os.sysconf("SC_PAGE_SIZE")
peak = [0]
done = threading.Event()
def sample():
    while not done.is_set():
        with open("/proc/self/statm") as statm:
            peak[0] = max(peak[0], int(statm.read().split()[1]) * page)
        time.sleep(0.02)
sampler = threading.Thread(target=sample)
sampler.start()
warp_zarr(spec, sys.argv[1], sys.argv[2], jobs=2)
done.set()
sampler.join()
print(peak[0] // 2**20)
"""


@pytest.mark.slow
@pytest.mark.skipif(not os.path.exists("/proc/self/statm"), reason="reads /proc/self/statm")
def test_a_nifti_larger_than_the_memory_it_uses_is_read_lazily(tmp_path):
    """A 1 GiB NIfTI (a sparse file: header, then zeros but for one slab) warped into Zarr with
    a resident memory well under its size (sampled from /proc during the run, after a small
    warp has loaded the libraries)."""
    import subprocess
    import sys

    nibabel = pytest.importorskip("nibabel", reason="nibabel is not installed")
    shape = (1024, 1024, 512)  # (i, j, k) int16: 1 GiB
    header = nibabel.Nifti1Header()
    header.set_data_shape(shape)
    header.set_data_dtype(np.int16)
    header.set_sform(np.eye(4), code=1)
    path = tmp_path / "big.nii"
    with open(path, "wb") as stream:
        stream.write(header.binaryblock + b"\0" * (352 - 348))
        stream.truncate(352 + 2 * int(np.prod(shape)))
    voxels = np.memmap(path, np.int16, "r+", offset=352, shape=shape, order="F")
    voxels[:, :, 200:210] = 1000
    voxels.flush()
    del voxels
    small = tmp_path / "small.nii"
    nibabel.save(nibabel.Nifti1Image(np.zeros((8, 8, 8), np.int16), np.eye(4)), small)
    outputs = [str(tmp_path / "out.zarr"), str(small), str(tmp_path / "small.zarr")]
    result = subprocess.run(
        [sys.executable, "-c", _BIG_NIFTI, str(path), *outputs], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
    peak_mib = int(result.stdout.split()[-1])
    assert peak_mib < 500, peak_mib  # the volume alone is 1024 MiB; measured 250
    out = zarr.open_array(str(tmp_path / "out.zarr"), mode="r")
    assert out.shape == (512, 1024, 1024)
    assert out[205, 500:520, 500].max() > 0
