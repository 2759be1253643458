"""Input expansion (output paths) and the thread-pool runner."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from gswarp.errors import InputError
from gswarp.run.files import Job, expand_inputs, run_jobs, walk_images


@pytest.fixture
def tree(tmp_path) -> Path:
    root = tmp_path / "data"
    for name in [
        "a.png",
        "b.JPG",
        "sub/c.tif",
        "sub/deep/d.webp",
        "notes.txt",
        ".hidden.png",
        ".cache/e.png",
    ]:
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"x")
    return root


def targets(jobs) -> list[tuple[str, str | None]]:
    return [(str(j.source), str(j.target) if j.target else j.error) for j in jobs]


def test_folders_are_walked_sorted_and_mirrored(tree, tmp_path):
    out = tmp_path / "out"
    jobs = list(expand_inputs([(str(tree), False)], out))
    assert targets(jobs) == [
        (str(tree / "a.png"), str(out / "a.png")),
        (str(tree / "b.JPG"), str(out / "b.JPG")),
        (str(tree / "sub/c.tif"), str(out / "sub/c.tif")),
        (str(tree / "sub/deep/d.webp"), str(out / "sub/deep/d.webp")),
    ]


def test_format_changes_the_suffix(tree, tmp_path):
    jobs = list(expand_inputs([(str(tree / "sub"), False)], tmp_path / "o", format="png"))
    assert [j.target.name for j in jobs] == ["c.png", "d.png"]


def test_files_map_to_their_names(tree, tmp_path):
    jobs = list(expand_inputs([(str(tree / "sub/deep/d.webp"), False)], tmp_path / "o"))
    assert jobs[0].target == tmp_path / "o" / "d.webp"


def test_stdin_paths_keep_their_relative_tree(tree, tmp_path, monkeypatch):
    monkeypatch.chdir(tree.parent)
    out = tmp_path / "o"
    jobs = list(
        expand_inputs(
            [("data/sub/c.tif", True), (str(tree / "a.png"), True), ("data/sub/../a.png", True)],
            out,
        )
    )
    assert [j.target for j in jobs[:2]] == [out / "data/sub/c.tif", out / "a.png"]
    assert jobs[2].error and "also the output of" in jobs[2].error  # '..' -> name: a.png again


def test_duplicate_outputs_missing_inputs_and_self_overwrites_are_job_errors(tree, tmp_path):
    jobs = list(
        expand_inputs(
            [
                (str(tree / "a.png"), False),
                (str(tree / "a.png"), False),
                (str(tree / "missing.png"), False),
                (str(tree / "sub/c.tif"), False),
            ],
            tree / "sub",
        )
    )
    assert jobs[0].error is None
    assert "is also the output of" in jobs[1].error
    assert jobs[2].error == f"{tree / 'missing.png'}: no such file"
    assert "would replace the input" in jobs[3].error


def test_an_output_folder_inside_the_input_is_skipped(tree):
    out = tree / "sub"
    assert [p.name for p in walk_images(tree, out)] == ["a.png", "b.JPG"]
    jobs = list(expand_inputs([(str(tree), False)], out))
    assert all("sub" not in j.source.parts for j in jobs)


def test_run_jobs_reports_failures_and_goes_on(tmp_path):
    jobs = [Job(Path(f"f{i}"), tmp_path / f"f{i}") for i in range(6)]
    jobs.insert(2, Job(Path("bad"), None, "bad: no such file"))

    def work(job, cancelled):
        if job.source.name == "f3":
            raise InputError("f3: cannot read: broken")
        return job.source.name

    outcomes = []
    run_jobs(jobs, work, threads=2, on_outcome=outcomes.append)
    errors = sorted(o.error for o in outcomes if o.error)
    assert errors == ["bad: no such file", "f3: cannot read: broken"]
    assert sorted(o.result for o in outcomes if not o.error) == ["f0", "f1", "f2", "f4", "f5"]


def test_os_errors_get_the_file_name(tmp_path):
    def work(job, cancelled):
        raise PermissionError(13, "Permission denied")

    outcomes = []
    run_jobs([Job(Path("x.png"), tmp_path / "x.png")], work, threads=1, on_outcome=outcomes.append)
    assert outcomes[0].error == "x.png: Permission denied"


def test_interrupt_cancels_running_jobs_and_is_raised(tmp_path):
    started = threading.Event()
    seen_cancel = []

    def work(job, cancelled):
        if job.source.name == "slow":
            started.set()
            seen_cancel.append(cancelled.wait(5))
        return None

    def on_outcome(outcome):
        started.wait(5)
        raise KeyboardInterrupt

    jobs = [Job(Path("fast"), tmp_path / "a"), Job(Path("slow"), tmp_path / "b")]
    with pytest.raises(KeyboardInterrupt):
        run_jobs(jobs, work, threads=2, on_outcome=on_outcome)
    assert seen_cancel == [True]
