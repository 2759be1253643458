"""Start-up of ``gswarp apply`` on one PNG from two source trees, interleaved (issue 29: moving
modules must not cost start-up time).

    python benchmarks/startup_trees.py OLD_TREE NEW_TREE [--rounds 3] [--runs 10]

Each tree (a checkout, e.g. ``git worktree add /tmp/old REV``) runs as ``python -S`` with its own
``gswarp`` first on the path and the installed compiled engine; bytecode is compiled first. Prints
each round's medians and the median over all runs, and checks that both trees wrote the same
bytes.
"""

from __future__ import annotations

import argparse
import filecmp
import os
import statistics
import subprocess
import sys
import sysconfig
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SITE = sysconfig.get_paths()["purelib"]


def command(tree: Path, output: Path) -> list[str]:
    argv = ["gswarp", "apply", "configs/rotate.yaml", "sample_images/text.png"]
    argv += ["-o", str(output), "--overwrite"]
    code = (
        f"import sys; sys.path[:0] = [{str(tree)!r}, {SITE!r}]; sys.argv = {argv!r}; "
        "from gswarp.cli import main; main()"
    )
    return [sys.executable, "-S", "-c", code]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("trees", nargs=2, type=Path)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--runs", type=int, default=10)
    options = parser.parse_args()
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    trees = [tree.resolve() for tree in options.trees]
    outputs = [Path(f"/tmp/startup_tree{i}.png") for i in range(2)]
    commands = [command(tree, out) for tree, out in zip(trees, outputs, strict=True)]
    for tree, cmd in zip(trees, commands, strict=True):
        subprocess.run([sys.executable, "-m", "compileall", "-q", str(tree / "gswarp")], env=env)
        subprocess.run(cmd, env=env, cwd=ROOT, check=True, capture_output=True)  # warm
    times: list[list[float]] = [[], []]
    for round_ in range(options.rounds):
        for _ in range(options.runs):
            for i, cmd in enumerate(commands):
                start = time.perf_counter()
                subprocess.run(cmd, env=env, cwd=ROOT, check=True, capture_output=True)
                times[i].append(time.perf_counter() - start)
        last = [statistics.median(t[-options.runs :]) * 1000 for t in times]
        print(f"round {round_ + 1}: {last[0]:.1f} ms  {last[1]:.1f} ms")
    overall = [statistics.median(t) * 1000 for t in times]
    print(f"median of {len(times[0])}: {overall[0]:.1f} ms  {overall[1]:.1f} ms")
    print("same bytes:", filecmp.cmp(*outputs, shallow=False))


if __name__ == "__main__":
    main()
