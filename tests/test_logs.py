"""Draw logs keep every line whole, whoever writes them and whatever happens on the way
(issue 26, item 3), and describe what was warped.

* Runs that append to one log at once interleave whole lines; a run that starts a log while
  another writes it is refused with one line, never silently emptied under it.
* A line that cannot be written whole (a full disk) is cut off again; an incomplete last line
  left by an interrupted writer is removed, with a warning, before a resumed run appends.
"""

from __future__ import annotations

import contextlib
import errno
import json
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from gswarp.cli.main import cli
from gswarp.errors import InputError
from gswarp.run.drawlog import DrawLog, read_log
from tests.conftest import gswarp_command

SPEC = """version: 1
transform:
  - affine: {rotate: {uniform: [-20, 20]}}
"""


def run(*args):
    return CliRunner().invoke(cli, [str(a) for a in args])


def apply_logged(tmp_path: Path, source: Path, out: Path, seed: int, log: Path, *extra):
    """``gswarp apply spec.yaml SOURCE -o OUT --seed SEED --log LOG`` in this process."""
    return run(
        "apply", tmp_path / "spec.yaml", source, "-o", out, "--seed", seed, "--log", log, *extra
    )


def images(folder: Path, count: int, seed: int = 0) -> Path:
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    for index in range(count):
        pixels = rng.integers(0, 255, (12, 14), dtype=np.uint8)
        Image.fromarray(pixels).save(folder / f"i{index:02d}.png")
    return folder


def entry(index: int, padding: int = 0) -> dict:
    """A log line of ``record``'s shape; ``padding`` makes it long (specs can be kilobytes)."""
    return {
        "input": f"/data/in{index}.png",
        "output": f"/data/out{index}.png",
        "name": f"out{index}.png",
        "note": "x" * padding,
    }


def lines_of(path: Path) -> list[dict]:
    text = path.read_text()
    assert text == "" or text.endswith("\n")
    return [json.loads(line) for line in text.splitlines()]


HOLDER = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    from gswarp.run.drawlog import DrawLog
    path, append, count = sys.argv[1], sys.argv[2] == "1", int(sys.argv[3])
    padding = int(sys.argv[4])
    line = {"input": "/a", "output": "/b", "name": "n", "note": "y" * padding}
    with DrawLog(Path(path), append) as log:
        # a run that starts a log has written its lines before the test goes on; an appending
        # one appends while the test appends too
        for _ in range(0 if append else count):
            log.write(line)
        print("open", flush=True)
        for _ in range(count if append else 0):
            log.write(line)
        time.sleep(float(sys.argv[5]))
    """
)


def holder(path: Path, append: bool, count: int, padding: int, sleep: float):
    process = subprocess.Popen(
        [
            sys.executable,
            "-c",
            HOLDER,
            str(path),
            "1" if append else "0",
            str(count),
            str(padding),
            str(sleep),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert process.stdout.readline().strip() == "open"
    return process


def test_two_processes_appending_at_once_keep_every_line_whole(tmp_path):
    log_path = tmp_path / "draws.jsonl"
    other = holder(log_path, True, 400, 20000, 0.0)  # 20 kB lines: several pipe buffers each
    with DrawLog(log_path, append=True) as log:
        for index in range(400):
            log.write(entry(index, padding=20000))
    assert other.wait(60) == 0
    lines = lines_of(log_path)
    assert len(lines) == 800
    assert sum(line["note"].startswith("x") for line in lines) == 400


def test_starting_a_log_that_another_run_writes_is_refused(tmp_path):
    log_path = tmp_path / "draws.jsonl"
    other = holder(log_path, False, 3, 0, 30.0)
    try:
        with pytest.raises(InputError, match="another gswarp run is writing this log"):
            DrawLog(log_path, append=False)
        source = images(tmp_path / "in", 2)
        (tmp_path / "spec.yaml").write_text(SPEC)
        result = apply_logged(tmp_path, source, tmp_path / "out", 1, log_path)
        assert result.exit_code == 2
        assert "another gswarp run is writing this log" in result.stderr
        assert len(lines_of(log_path)) == 3  # the other run's lines are all there
    finally:
        other.kill()
        other.wait()


@pytest.mark.parametrize("append", [False, True])
def test_two_gswarp_runs_with_one_log(tmp_path, append):
    """The reported case: two ``gswarp apply --log`` at once kept 30 of 60 lines and a broken
    one. Each run either logs every output it wrote or is refused before writing any.

    The runs overlap by construction: each reads its input paths from stdin and opens its log
    before reading them; no run gets its paths before both have the log open (or the second
    was refused). Two runs one after the other are no case -- a run that starts a log empties
    it -- and with the compiled engine a 30-image run had ended before the second one started."""
    if not Path("/proc/locks").exists():
        pytest.skip("needs /proc/locks (Linux) to see both runs hold the log")
    (tmp_path / "spec.yaml").write_text(SPEC)
    log_path = tmp_path / "draws.jsonl"
    extra = ["--skip-existing"] if append else []
    processes, paths = [], []
    for name in ("a", "b"):
        source = images(tmp_path / name, 30, seed=len(processes))
        paths.append("".join(f"{p}\n" for p in sorted(source.glob("*.png"))))
        command = gswarp_command(
            "apply",
            tmp_path / "spec.yaml",
            "-",
            "-o",
            tmp_path / f"out_{name}",
            "--seed",
            3,
            "--log",
            log_path,
            *extra,
        )
        processes.append(
            subprocess.Popen(
                command,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
        )
        _wait_for_the_log(log_path, processes[-1])
    for process, text in zip(processes, paths, strict=True):
        with contextlib.suppress(BrokenPipeError):  # a refused run may have exited already
            process.stdin.write(text)
            process.stdin.close()
    outcomes = [(p.wait(120), p.stdout.read(), p.stderr.read()) for p in processes]
    lines = lines_of(log_path)
    logged = {line["output_absolute"] for line in lines}
    for code, stdout, stderr in outcomes:
        if code == 0:
            assert set(stdout.split()) <= logged
        else:
            assert code == 2 and "another gswarp run is writing this log" in stderr
            assert stdout == ""
    if append:
        assert [code for code, _, _ in outcomes] == [0, 0]
        assert len(lines) == 60
    replay = run("apply", "--replay", log_path, "-o", tmp_path / "replayed")
    assert replay.exit_code == 0, replay.stderr


def _wait_for_the_log(log_path: Path, process: subprocess.Popen) -> None:
    """Until ``process`` holds a lock on the log (seen in /proc/locks), or has exited."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and process.poll() is None:
        if log_path.exists():
            inode = f":{log_path.stat().st_ino} "
            holders = {
                line.split()[4]
                for line in Path("/proc/locks").read_text().splitlines()
                if inode in line and "->" not in line
            }
            if str(process.pid) in holders:
                return
        time.sleep(0.02)


def test_a_line_that_cannot_be_written_whole_is_cut_off_again(tmp_path, monkeypatch):
    import gswarp.run.drawlog as drawlog

    log_path = tmp_path / "draws.jsonl"
    real_write = drawlog.os.write
    with DrawLog(log_path, append=False) as log:
        log.write(entry(0))
        calls = []

        def full_disk(fd, data):
            calls.append(len(data))
            if len(calls) == 1:
                return real_write(fd, data[: len(data) // 2])  # half of it, then the disk is full
            raise OSError(errno.ENOSPC, "No space left on device")

        monkeypatch.setattr(drawlog.os, "write", full_disk)
        with pytest.raises(InputError, match="cannot append a line: No space left on device"):
            log.write(entry(1, padding=100))
    assert [line["name"] for line in lines_of(log_path)] == ["out0.png"]


def test_a_resumed_run_repairs_a_truncated_last_line_and_still_replays(tmp_path):
    (tmp_path / "spec.yaml").write_text(SPEC)
    source = images(tmp_path / "in", 4)
    out, log_path = tmp_path / "out", tmp_path / "draws.jsonl"
    first = run("apply", tmp_path / "spec.yaml", source, "-o", out, "--seed", 5, "--log", log_path)
    assert first.exit_code == 0, first.stderr
    text = log_path.read_text().splitlines(keepends=True)
    (out / json.loads(text[3])["name"]).unlink()  # the output whose line is cut
    cut = len(text[3]) // 2
    log_path.write_text("".join(text[:3]) + text[3][:cut])  # a full disk cut the last line
    resumed = apply_logged(tmp_path, source, out, 5, log_path, "--skip-existing")
    assert resumed.exit_code == 0, resumed.stderr
    assert f"removed an incomplete last line ({cut} bytes)" in resumed.stderr
    assert len(lines_of(log_path)) == 4
    replay = run("apply", "--replay", log_path, "-o", tmp_path / "replayed")
    assert replay.exit_code == 0, replay.stderr
    replayed = sorted((tmp_path / "replayed").iterdir())
    assert [p.name for p in replayed] == [f"i{index:02d}.png" for index in range(4)]
    for path in replayed:
        assert path.read_bytes() == (out / path.name).read_bytes()


def test_read_log_names_a_broken_line(tmp_path):
    log_path = tmp_path / "draws.jsonl"
    log_path.write_text('{"input": "a"')
    with pytest.raises(Exception, match=r"draws.jsonl:1: not a JSON line"):
        list(read_log(log_path))


def test_a_log_that_cannot_be_written_is_one_line(tmp_path):
    (tmp_path / "spec.yaml").write_text(SPEC)
    source = images(tmp_path / "in", 1)
    (tmp_path / "a_file").write_text("not a folder")
    result = apply_logged(tmp_path, source, tmp_path / "out", 1, tmp_path / "a_file" / "d.jsonl")
    assert result.exit_code == 2
    assert result.stderr.startswith("gswarp: error: --log ")
    assert len(result.stderr.splitlines()) == 1


def test_a_log_in_the_folder_the_run_creates(tmp_path):
    """``--log out/draws.jsonl`` failed when the run was about to create ``out/``."""
    (tmp_path / "spec.yaml").write_text(SPEC)
    source = images(tmp_path / "in", 2)
    log_path = tmp_path / "out" / "draws.jsonl"
    result = apply_logged(tmp_path, source, tmp_path / "out", 1, log_path)
    assert result.exit_code == 0, result.stderr
    assert len(lines_of(log_path)) == 2


# --------------------------------------------------------------------------------------------
# item 7: the log's hash describes the bytes that were warped


def test_an_input_replaced_during_its_warp_is_not_logged_with_the_new_hash(tmp_path, monkeypatch):
    import hashlib

    import gswarp.run.jobs as work

    (tmp_path / "spec.yaml").write_text(SPEC)
    source = images(tmp_path / "in", 3)
    victim = source / "i01.png"
    original = victim.read_bytes()
    real = work._warp_one

    def replaced_meanwhile(spec, path, *args, **kwargs):
        plan = real(spec, path, *args, **kwargs)
        if path == victim:  # another program replaces the file after gswarp decoded it
            other = tmp_path / "other.png"
            Image.fromarray(np.zeros((12, 14), np.uint8)).save(other)
            other.replace(victim)
        return plan

    monkeypatch.setattr(work, "_warp_one", replaced_meanwhile)
    log_path = tmp_path / "draws.jsonl"
    result = apply_logged(tmp_path, source, tmp_path / "out", 2, log_path)
    for line in lines_of(log_path):  # every logged hash is of the bytes that were warped
        warped = (
            original if line["name"] == "i01.png" else Path(line["input_absolute"]).read_bytes()
        )
        assert line["sha256"] == hashlib.sha256(warped).hexdigest()
    assert result.exit_code == 1
    assert f"{victim}: changed while it was read" in result.stderr
    assert not (tmp_path / "out" / "i01.png").exists()
    assert (tmp_path / "out" / "i00.png").exists()


# --------------------------------------------------------------------------------------------
# item 8: replay keeps an input and its paired targets together


@pytest.fixture
def paired_run(tmp_path):
    (tmp_path / "spec.yaml").write_text(SPEC + "targets:\n  masks: {mode: nearest}\n")
    source = images(tmp_path / "images", 3)
    masks = images(tmp_path / "masks", 3, seed=9)
    log_path = tmp_path / "draws.jsonl"
    result = run(
        "apply",
        tmp_path / "spec.yaml",
        source,
        "-o",
        tmp_path / "out",
        "--seed",
        4,
        "--pair",
        f"masks={masks}",
        "--log",
        log_path,
    )
    assert result.exit_code == 0, result.stderr
    return source, masks, log_path


@pytest.mark.parametrize("changed", ["images", "masks"])
def test_replay_writes_an_image_and_its_mask_together_or_neither(tmp_path, paired_run, changed):
    source, masks, log_path = paired_run
    folder = source if changed == "images" else masks
    Image.fromarray(np.full((12, 14), 3, np.uint8)).save(folder / "i01.png")
    again = tmp_path / "again"
    result = run("apply", "--replay", log_path, "-o", again)
    assert result.exit_code == 1
    assert f"{folder / 'i01.png'}: changed since it was logged" in result.stderr
    assert "1 failed, 4 written" in result.stderr
    assert not (again / "i01.png").exists()
    assert not (again / "masks" / "i01.png").exists()
    for name in ("i00.png", "i02.png"):
        assert (again / name).read_bytes() == (tmp_path / "out" / name).read_bytes()
        assert (again / "masks" / name).read_bytes() == (
            tmp_path / "out" / "masks" / name
        ).read_bytes()


def test_replay_of_a_unit_whose_mask_is_missing_writes_neither(tmp_path, paired_run):
    _, masks, log_path = paired_run
    (masks / "i02.png").unlink()
    again = tmp_path / "again"
    result = run("apply", "--replay", log_path, "-o", again)
    assert result.exit_code == 1
    assert "no such file" in result.stderr
    assert not (again / "i02.png").exists()
    assert (again / "i00.png").exists() and (again / "masks" / "i00.png").exists()
