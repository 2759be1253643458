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


def _start(command: list[str], cwd: Path):
    import subprocess
    import sys

    return subprocess.Popen(
        [sys.executable, "-m", *command],
        cwd=cwd,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def test_relative_paths_on_a_remote_cluster_mean_the_clients(tmp_path, monkeypatch):
    """Issue 26, item 6: with ``--cluster tcp://...`` and relative paths, the files went to the
    worker's working directory, warped from the worker's own ``data/`` (other images), exit 0.
    A scheduler and a worker on 127.0.0.1, the worker started in another folder that holds
    decoy images of the same names."""
    import time

    from PIL import Image

    client, elsewhere = tmp_path / "client", tmp_path / "elsewhere"
    shutil.copytree(ROOT / "sample_images", client / "data")
    shutil.copytree(ROOT / "sample_images", elsewhere / "data")
    for decoy in (elsewhere / "data").glob("*.png"):
        with Image.open(decoy) as image:
            Image.new(image.mode, image.size).save(decoy)  # black: other pixels, same names
    (client / "spec.yaml").write_text(RANDOM)
    address_file = tmp_path / "scheduler.json"
    scheduler = _start(
        [
            "distributed.cli.dask_scheduler",
            "--host",
            "127.0.0.1",
            "--port",
            "0",
            "--no-dashboard",
            "--scheduler-file",
            str(address_file),
        ],
        tmp_path,
    )
    worker = None
    try:
        for _ in range(300):
            if address_file.exists() and address_file.read_text().strip():
                break
            time.sleep(0.1)
        address = json.loads(address_file.read_text())["address"]
        worker = _start(
            [
                "distributed.cli.dask_worker",
                address,
                "--nthreads",
                "1",
                "--no-dashboard",
                "--host",
                "127.0.0.1",
            ],
            elsewhere,
        )
        monkeypatch.chdir(client)
        runner = CliRunner()
        common = ["apply", "spec.yaml", "data", "--seed", "5"]
        local = runner.invoke(cli, [*common, "-o", "local"])
        assert local.exit_code == 0, local.output
        remote = runner.invoke(cli, [*common, "-o", "out/x", "--cluster", address])
        assert remote.exit_code == 0, remote.output
    finally:
        for process in (worker, scheduler):
            if process is not None:
                process.terminate()
                process.wait(30)
    written = sorted(remote.stdout.split())
    assert written == sorted(str(Path("out/x") / p.name) for p in (client / "data").glob("*.png"))
    assert not (elsewhere / "out").exists()
    for path in written:
        assert (client / path).read_bytes() == (client / "local" / Path(path).name).read_bytes()


def test_a_worker_that_sees_other_files_refuses_them(tmp_path):
    """A worker whose file system is not the client's (another disk at the same path) must not
    warp what it finds there: each task carries the inputs' size and time as the client saw
    them, and a worker that sees other ones fails those files with one line."""
    from gswarp.run.files import Job, _absolute, run_remote

    source = tmp_path / "a.png"
    source.write_bytes(b"the client's bytes")
    sent = _absolute(Job(source, tmp_path / "out" / "a.png"))
    source.write_bytes(b"what the worker's disk holds here")  # another file, same path
    (outcome,) = run_remote(lambda job, cancelled: None, None, (sent,))
    assert "is not the client's file" in outcome.error
    assert outcome.error.startswith(str(source))


class _DiesOnce:
    """A folder job's work that kills its worker process right after writing the second
    output of a task, the first time only (``marker`` records it): Dask then runs the whole
    task again on a live worker."""

    def __init__(self, work, marker: Path) -> None:
        self.work, self.marker, self.count = work, marker, 0

    def __call__(self, job, cancelled):
        import os

        result = self.work(job, cancelled)
        self.count += 1
        if self.count == 2 and not self.marker.exists():
            self.marker.write_text("died")
            os._exit(1)
        return result


def test_a_killed_worker_costs_its_task_not_the_run(tmp_path):
    """Issue 26, item 13: a worker killed during a ``local:2`` folder job made the rescheduled
    task fail on "already exists" (exit 1, "1 failed, 199 written") though every file was
    right. The rescheduled task replaces what its run had written."""
    from gswarp.io.images import Encoding
    from gswarp.run.cluster import Scheduler
    from gswarp.run.files import CLUSTER_FILES_PER_TASK, expand_inputs, run_jobs
    from gswarp.run.jobs import DrawOptions, WriteOptions, warp_job
    from gswarp.spec import parse_spec

    images = tmp_path / "images"
    images.mkdir()
    for index in range(CLUSTER_FILES_PER_TASK):
        shutil.copy(ROOT / "sample_images" / "text.png", images / f"t{index}.png")
    out = tmp_path / "out"
    work = warp_job(parse_spec(RANDOM), WriteOptions(None, False, Encoding()), DrawOptions(3, out))
    outcomes = []
    scheduler = Scheduler.connect("local:2")
    try:
        run_jobs(
            expand_inputs([(str(images), False)], out),
            _DiesOnce(work, tmp_path / "died"),
            threads=1,
            on_outcome=outcomes.append,
            cluster=scheduler,
        )
    finally:
        scheduler.close()
    assert (tmp_path / "died").exists()  # a worker did die mid-task
    assert [o.error for o in outcomes] == [None] * CLUSTER_FILES_PER_TASK
    assert len(list(out.glob("*.png"))) == CLUSTER_FILES_PER_TASK


class _AlwaysDies:
    """A work that kills its worker every time: Dask gives the task up (KilledWorker)."""

    def __call__(self, job, cancelled):
        import os

        os._exit(1)


def test_a_task_whose_workers_keep_dying_fails_its_files_in_one_line_each(tmp_path):
    """Issue 27: all workers killed ended in FutureCancelledError / KilledWorker tracebacks."""
    import dask

    from gswarp.run.cluster import Scheduler
    from gswarp.run.files import expand_inputs, run_jobs

    images = tmp_path / "images"
    images.mkdir()
    for index in range(3):
        shutil.copy(ROOT / "sample_images" / "text.png", images / f"t{index}.png")
    outcomes = []
    with dask.config.set({"distributed.scheduler.allowed-failures": 1}):
        scheduler = Scheduler.connect("local:2")
        try:
            run_jobs(
                expand_inputs([(str(images), False)], tmp_path / "out"),
                _AlwaysDies(),
                threads=1,
                on_outcome=outcomes.append,
                cluster=scheduler,
            )
        finally:
            scheduler.close()
    flat = [
        o for outcome in outcomes for o in (outcome if isinstance(outcome, list) else [outcome])
    ]
    assert len(flat) == 3
    assert all("its cluster task was lost (KilledWorker" in o.error for o in flat)
    assert all("\n" not in o.error for o in flat)


# --------------------------------------------------------------------------------------------
# faults of a Zarr run on a LocalCluster (subprocesses: real worker processes and signals)


def _zarr_run(tmp_path: Path, *cluster: str) -> list[str]:
    import numpy as np

    from tests.conftest import gswarp_command

    np.save(tmp_path / "v.npy", np.random.default_rng(0).random((64, 64, 64), np.float32))
    (tmp_path / "r.yaml").write_text("version: 1\ntransform: {affine: {rotate: [5, 0, 0]}}\n")
    return gswarp_command(
        "apply", tmp_path / "r.yaml", tmp_path / "v.npy", "-o", tmp_path / "o.zarr", *cluster
    )


def test_workers_that_run_out_of_memory_fail_the_input_in_one_line(tmp_path):
    """``local:2,100MB``: each worker is over its limit once it has imported the kernels, and
    Dask's nanny kills it. Was ``FutureCancelledError ... already forgotten`` after 29-52 s
    (a 150 MB limit); now one line naming the input and what to do, exit 1, in seconds."""
    import subprocess
    import time

    from gswarp.io.zarrs import is_complete

    command = _zarr_run(tmp_path, "--cluster", "local:2,100MB")
    started = time.monotonic()
    result = subprocess.run(command, capture_output=True, text=True, timeout=120)
    took = time.monotonic() - started
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("gswarp: error:")]
    assert len(errors) == 1, result.stderr
    assert "v.npy -> " in errors[0] and "lost on the cluster" in errors[0], errors
    assert "--skip-existing" in errors[0]
    assert result.stderr.splitlines() == [errors[0], "gswarp: 1 failed, 0 written"]
    assert took < 60, took
    assert not is_complete(str(tmp_path / "o.zarr"))


@pytest.mark.parametrize("delay", [0.3, 1.2, 2.5])
def test_ctrl_c_to_the_process_group_ends_a_cluster_run_in_one_line(tmp_path, delay):
    """Ctrl-C in a terminal signals the whole process group: the worker processes took it too
    and died with tracebacks (restarted by their nannies), or distributed's atexit failed with
    ``AssertionError: Status.init`` when it came while the cluster started. Now the workers
    start with SIGINT blocked, a Ctrl-C while the cluster starts is held until it has started,
    and at any point the run ends in one line with status 130; --skip-existing finishes it.
    Three more ways it did not, each found here: status -2 after the report (CPython's record
    of an interrupt that left an ``exec()``, cleared by ``signals.settle``), "Exception ignored"
    tracebacks (an interrupt in distributed's GC callback: ``signals.install``'s unraisable
    hook), and a second "interrupted" line after a blank one (a Ctrl-C while the cluster
    closed: ``signals.closing`` drops it, the run being over)."""
    import os
    import signal
    import subprocess

    from gswarp.io.zarrs import is_complete

    command = _zarr_run(tmp_path, "--cluster", "local:2")
    process = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True
    )
    try:
        process.wait(delay)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGINT)  # the group: gswarp and its workers
    stdout, stderr = process.communicate(timeout=120)
    assert "Traceback" not in stderr and "Exception ignored" not in stderr, stderr
    if process.returncode == 0:  # finished first, or the signal came as the cluster closed
        assert stderr == "" and is_complete(str(tmp_path / "o.zarr")), stderr
        return
    assert process.returncode == 130, stderr
    lines = stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("gswarp: error: interrupted"), stderr
    assert stdout == ""
    resumed = subprocess.run([*command, "--skip-existing", "-q"], capture_output=True, text=True)
    assert resumed.returncode == 0, resumed.stderr
    assert is_complete(str(tmp_path / "o.zarr"))
