"""The command line and the README's commands."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import click
import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

import gswarp
from gswarp.cli.main import cli
from tests.manifest import MANIFEST, digest_tree, run_script

ROOT = Path(__file__).resolve().parent.parent


def test_version():
    result = CliRunner().invoke(cli, ["--version"])
    assert result.exit_code == 0
    assert result.output.strip() == f"gswarp, version {gswarp.__version__}"


def test_info_lists_the_backend():
    result = CliRunner().invoke(cli, ["info"])
    assert result.exit_code == 0, result.output
    from gswarp.engine import core

    line = f"compiled engine, {core.level()} (of " if core.available() else "not usable ("
    assert f"cpu backend: {line}" in result.output
    assert "numba" not in result.output  # gswarp has no numba anywhere (issue 31)
    assert f"gswarp {gswarp.__version__}" in result.output


def test_unknown_command_is_a_usage_error():
    result = CliRunner().invoke(cli, ["warp"])
    assert result.exit_code == 2
    assert "No such command 'warp'" in result.output


@pytest.mark.skipif(
    shutil.which("gswarp") is None, reason="gswarp is not installed (pip install .)"
)
def test_installed_entry_point():
    proc = subprocess.run(["gswarp", "--version"], capture_output=True, text=True, check=False)
    assert proc.returncode == 0
    assert proc.stdout.startswith("gswarp, version")


README_TEST_COMMAND = "pip install '.[test]' && ruff check . && python -m pytest -q"


def readme_shell_commands() -> list[str]:
    """The README's ```bash blocks, one script each (comments and the test command out,
    ``pip install . &&`` stripped: the tests run on the installed package); the lines of a
    block run in order, in one folder, so a later line may use an earlier one's outputs."""
    readme = (ROOT / "README.md").read_text()
    blocks = [part.split("```", 1)[0] for part in readme.split("```bash\n")[1:]]
    scripts = []
    found_test_command = False
    for block in blocks:
        lines = [line.strip() for line in block.splitlines()]
        commands = [line for line in lines if line and not line.startswith("#")]
        found_test_command |= README_TEST_COMMAND in commands
        commands = [
            c.removeprefix("pip install . && ") for c in commands if c != README_TEST_COMMAND
        ]
        if commands:
            scripts.append("\n".join(commands))
    assert found_test_command, "the README lost its test command"
    return scripts


@pytest.mark.skipif(
    shutil.which("gswarp") is None, reason="gswarp is not installed (pip install .)"
)
@pytest.mark.parametrize("command", readme_shell_commands())
def test_readme_shell_commands_run(command, tmp_path):
    """Each README command, from a folder holding the bundled samples and configs; what it
    wrote is byte for byte what the manifest recorded (``tests/manifest.py``: a change that
    should change no output, such as moving modules, must leave these digests alone)."""
    proc = run_script(command, tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr
    recorded = json.loads(MANIFEST.read_text()).get(command)
    assert recorded is not None, "a new README script: record it with python -m tests.manifest"
    written = digest_tree(tmp_path / "out", tmp_path)
    changed = sorted(
        name for name in recorded.keys() | written.keys() if recorded.get(name) != written.get(name)
    )
    assert not changed, (
        f"outputs differ from tests/data/apply_manifest.json: {changed[:8]} "
        "(re-record with python -m tests.manifest only when the change is meant)"
    )


def test_readme_quick_start_writes_every_sample(tmp_path):
    """The quick start's main job: configs/rotate.yaml over sample_images/."""
    from click.testing import CliRunner

    from gswarp.cli.main import cli

    out = tmp_path / "out"
    result = CliRunner().invoke(
        cli,
        ["apply", str(ROOT / "configs/rotate.yaml"), str(ROOT / "sample_images"), "-o", str(out)],
    )
    assert result.exit_code == 0, result.stderr
    samples = sorted(p.name for p in (ROOT / "sample_images").iterdir())
    assert sorted(p.name for p in out.iterdir()) == samples
    for name in samples:
        before = np.asarray(Image.open(ROOT / "sample_images" / name))
        after = np.asarray(Image.open(out / name))
        assert after.dtype == before.dtype and after.shape == before.shape


def test_library_example_warps_every_sample(tmp_path):
    """examples/warp_samples.py: the library API on files."""
    proc = subprocess.run(
        [
            sys.executable,
            str(ROOT / "examples" / "warp_samples.py"),
            str(ROOT / "sample_images"),
            str(tmp_path),
            "--degrees",
            "90",
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    samples = sorted((ROOT / "sample_images").glob("*.png"))
    assert proc.stdout.split() == [str(tmp_path / s.name) for s in samples]
    for sample in samples:
        before = np.asarray(Image.open(sample))
        after = np.asarray(Image.open(tmp_path / sample.name))
        assert after.dtype == before.dtype  # 16-bit stays 16-bit
        np.testing.assert_array_equal(after, np.rot90(before))  # square samples: exact rot90
    assert not list(tmp_path.glob(".*.tmp")), "temporary files left behind"


def test_example_reports_a_bad_file_and_warps_the_others(tmp_path):
    source = tmp_path / "in"
    source.mkdir()
    shutil.copy(ROOT / "sample_images" / "gradient.png", source / "good.png")
    (source / "broken.png").write_bytes(b"not a png")
    out = tmp_path / "out"
    proc = subprocess.run(
        [sys.executable, str(ROOT / "examples" / "warp_samples.py"), str(source), str(out)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 1
    assert proc.stdout.split() == [str(out / "good.png")]
    assert "broken.png" in proc.stderr and proc.stderr.count("\n") == 1
    assert sorted(p.name for p in out.iterdir()) == ["good.png"]


def test_readme_python_examples_run(tmp_path, monkeypatch):
    """Every ```python block of the README, in order, in one namespace (pil_image: a sample),
    in a folder holding the bundled samples and configs; the GPU example (``import cupy``) only
    where a GPU is usable."""
    from gswarp.engine.device import cuda_status

    for name in ("sample_images", "sample_masks", "configs"):
        shutil.copytree(ROOT / name, tmp_path / name)
    monkeypatch.chdir(tmp_path)

    readme = (ROOT / "README.md").read_text()
    blocks = [part.split("```", 1)[0] for part in readme.split("```python\n")[1:]]
    assert len(blocks) >= 2
    namespace = {"pil_image": Image.open(ROOT / "sample_images" / "checkerboard.png")}
    gpu = cuda_status()[0]
    for block in blocks:
        if "import cupy" in block and not gpu:
            continue
        exec(compile(block, "README.md", "exec"), namespace)
    np.testing.assert_array_equal(namespace["turned"], np.rot90(namespace["nchw"], axes=(2, 3)))
    assert namespace["warped"].shape == namespace["nchw"].shape
    summary, replayed = namespace["summary"], namespace["replayed"]
    assert len(summary.written) == 20 and summary.ok and replayed.ok
    assert digest_tree(tmp_path / "out" / "lib_aug", tmp_path) == digest_tree(
        tmp_path / "out" / "lib_replayed", tmp_path
    )


@pytest.mark.skipif(
    shutil.which("gswarp") is None, reason="gswarp is not installed (pip install .)"
)
def test_quick_start_runs_again(tmp_path):
    """The README's first command, twice in the same folder: a new user re-runs it."""
    quick_start = readme_shell_commands()[0]
    assert quick_start.startswith("gswarp apply configs/rotate.yaml sample_images -o out")
    for name in ("sample_images", "configs"):
        shutil.copytree(ROOT / name, tmp_path / name)
    for _ in range(2):
        proc = subprocess.run(
            ["bash", "-e", "-c", quick_start], cwd=tmp_path, capture_output=True, text=True
        )
        assert proc.returncode == 0, proc.stderr
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == sorted(
        p.name for p in (ROOT / "sample_images").iterdir()
    )


CONFIG = ROOT / "configs" / "rotate.yaml"


def test_help_lists_each_commands_own_short_help_without_importing_them():
    """`gswarp --help` takes the short help from a table (so it imports no command module):
    the table must say what each command's own docstring says."""
    from gswarp.cli.main import _COMMANDS, cli

    lazy = CliRunner().invoke(cli, ["--help"], terminal_width=100).output
    eager = click.Group(commands={n: cli.get_command(click.Context(cli), n) for n in _COMMANDS})
    eager.add_command(cli.commands["info"])
    with click.Context(eager, terminal_width=100) as ctx:
        formatter = ctx.make_formatter()
        eager.format_commands(ctx, formatter)
    assert formatter.getvalue() in lazy  # the same rows as click's own, commands loaded
    for name, (_, sentence) in _COMMANDS.items():
        command = cli.get_command(click.Context(cli), name)
        assert command.get_short_help_str(limit=1000) == sentence, name


@pytest.mark.parametrize(
    ("args", "absent"),
    [
        (["--help"], ("numpy", "numba", "PIL", "yaml")),
        (["validate", str(CONFIG)], ("numba", "PIL", "gswarp.engine")),
        (["explain", str(CONFIG), str(ROOT / "sample_images" / "text.png")], ("numba",)),
    ],
)
def test_commands_that_warp_nothing_load_no_kernels(args, absent):
    """They start fast because they do not import the engine (nor, for --help, NumPy)."""
    script = (
        "import sys\n"
        "from gswarp.cli.main import cli\n"
        f"sys.argv = ['gswarp', *{args!r}]\n"
        "try:\n    cli()\nexcept SystemExit as stop:\n    assert not stop.code, stop.code\n"
        f"print([m for m in {absent!r} if m in sys.modules])\n"
    )
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip().splitlines()[-1] == "[]"
