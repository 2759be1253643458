"""The ``gswarp`` command group: ``apply``, ``validate``, ``explain``, ``info``, ``--version``."""

from __future__ import annotations

import os
import platform

import click

import gswarp
from gswarp.cli.apply import apply
from gswarp.cli.explain import explain
from gswarp.cli.validate import validate


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(gswarp.__version__, "-V", "--version", prog_name="gswarp")
def cli() -> None:
    """Warp images and volumes with the exact semantics of PyTorch's grid_sample."""


@cli.command()
def info() -> None:
    """Print the versions, backends and thread settings gswarp will use."""
    import numba
    import numpy as np

    from gswarp.engine import cpu

    lines = [
        f"gswarp {gswarp.__version__}",
        f"python {platform.python_version()} ({platform.machine()})",
        f"numpy {np.__version__}",
        f"numba {numba.__version__}",
        f"cpu backend: numba, {numba.get_num_threads()} threads "
        f"(NUMBA_NUM_THREADS={os.environ.get('NUMBA_NUM_THREADS', 'unset')})",
        f"kernel cache: {os.environ.get('NUMBA_CACHE_DIR') or os.path.dirname(cpu.__file__)}",
        "gpu backend: not available in this version",
    ]
    click.echo("\n".join(lines))


cli.add_command(apply)
cli.add_command(validate)
cli.add_command(explain)


def main() -> None:
    """Console-script entry point."""
    cli()
