"""The ``gswarp`` command group: ``apply``, ``validate``, ``explain``, ``export``, ``register``,
``info``, ``--version``.

Each command's module is imported only when that command runs: ``gswarp --help`` and
``gswarp validate`` never import the engine.
"""

from __future__ import annotations

import importlib
import os
import platform
import sys

import click
from click.utils import make_default_short_help

_COMMANDS = {
    # name: (module, first sentence of its help, which ``gswarp --help`` shortens to fit, as click
    # does; a test checks it is the command's own)
    "apply": (
        "gswarp.cli.apply",
        "Warp INPUT files with SPEC (YAML) and write them under OUT.",
    ),
    "explain": (
        "gswarp.cli.explain",
        "Print what SPEC does to INPUT (an image, a volume or a Zarr store): the output size, "
        "and the forward, sampling and torch theta matrices.",
    ),
    "export": (
        "gswarp.cli.export",
        "Write SPEC's map on INPUT's grid as an ITK transform (.tfm, .txt, .mat) or displacement "
        "field (.nii, .nii.gz), for SimpleITK and ANTs.",
    ),
    "register": (
        "gswarp.cli.register",
        "Align MOVING to FIXED and write a spec that puts MOVING on FIXED's grid.",
    ),
    "validate": (
        "gswarp.cli.validate",
        "Check each SPEC; print it with every default filled in (YAML, on stdout).",
    ),
}


class _CarriedInterruptError(Exception):
    """A KeyboardInterrupt carried past click's own handler to :func:`main`'s one line: click
    writes an empty line to stderr before it turns an interrupt into ``Abort``, so a Ctrl-C
    that came outside a command's own handling (its module importing, a cluster starting)
    ended in two lines (seen in CI: ``['', 'gswarp: error: interrupted']``)."""

    def __init__(self, interrupt: KeyboardInterrupt) -> None:
        super().__init__(interrupt)
        self.interrupt = interrupt


class _LazyGroup(click.Group):
    """A group whose commands are imported when invoked (or asked for their own help)."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except KeyboardInterrupt as interrupt:
            raise _CarriedInterruptError(interrupt) from None

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted([*super().list_commands(ctx), *_COMMANDS])

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name in _COMMANDS:
            module = importlib.import_module(_COMMANDS[name][0])
            return getattr(module, name)
        return super().get_command(ctx, name)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """As click's, from the table for the lazy commands (so none is imported)."""
        names = self.list_commands(ctx)
        limit = formatter.width - 6 - max(len(name) for name in names)
        rows = [
            (name, make_default_short_help(_COMMANDS[name][1], limit))
            if name in _COMMANDS
            else (name, self.commands[name].get_short_help_str(limit))
            for name in names
        ]
        with formatter.section("Commands"):
            formatter.write_dl(rows)


@click.group(cls=_LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="gswarp", prog_name="gswarp")
def cli() -> None:
    """Warp images and volumes with the exact semantics of PyTorch's grid_sample."""


@cli.command()
def info() -> None:
    """Print the versions, backends and thread settings gswarp will use."""
    import numpy as np

    import gswarp
    from gswarp.engine import core
    from gswarp.engine.device import cuda_status

    lines = [
        f"gswarp {gswarp.__version__}",
        f"python {platform.python_version()} ({platform.machine()})",
        f"numpy {np.__version__}",
        f"cpu backend: {_core_status(core)}",
        f"cuda backend: {cuda_status()[1]}",
        f"zarr volumes: {_zarr_status()}",
        f"chunk scheduler: {_scheduler_status()}",
    ]
    click.echo("\n".join(lines))


def _core_status(core) -> str:
    """The compiled engine's line: its level and threads, or why it does not load."""
    if not core.available():
        return f"not usable ({core._core.reason}): reinstall with pip install ."
    return (
        f"compiled engine, {core.level()} (of {', '.join(core.levels())}), "
        f"{core.get_num_threads()} threads (GSWARP_NUM_THREADS="
        f"{os.environ.get('GSWARP_NUM_THREADS', 'unset')})"
    )


def _zarr_status() -> str:
    from importlib.metadata import PackageNotFoundError, version

    found = []
    for name in ("zarr", "dask", "distributed", "ome-zarr"):
        try:
            found.append(f"{name} {version(name)}")
        except PackageNotFoundError:
            return f"not available ({name} is not installed: pip install 'gswarp[zarr]')"
    return ", ".join(found)


def _scheduler_status() -> str:
    """Where Zarr chunks run without --cluster: a cluster set in dask's configuration, or
    threads in the process."""
    from gswarp.run.cluster import cluster_from_environment

    address = cluster_from_environment()
    if address:
        return f"the Dask cluster at {address} (DASK_SCHEDULER_ADDRESS / dask config)"
    return "dask threaded scheduler in the process (--jobs threads); --cluster for others"


def main() -> None:
    """Console-script entry point: SIGTERM and SIGHUP end a run as Ctrl-C does, and an
    interruption outside a command's own handling (start-up, a cluster starting) is one line
    and ``128 + N``, not a traceback or click's "Aborted!" with status 1."""
    from gswarp.cli import signals
    from gswarp.cli.remarks import show_library_warnings

    signals.install()
    show_library_warnings()
    try:
        status = cli(standalone_mode=False)  # ctx.exit(N) comes back as N here
        status = status if isinstance(status, int) else 0
    except click.exceptions.Exit as done:
        status = done.exit_code
    except click.ClickException as error:
        error.show()
        status = error.exit_code
    except (click.Abort, KeyboardInterrupt, _CarriedInterruptError) as caught:
        interrupt = caught
        if isinstance(caught, _CarriedInterruptError):
            interrupt = caught.interrupt
        elif isinstance(caught, click.Abort):  # click's form of an interrupt
            interrupt = caught.__cause__ or caught.__context__ or KeyboardInterrupt()
        click.echo(f"gswarp: error: {signals.interruption(interrupt)}", err=True)
        status = signals.exit_status(interrupt)
    except SystemExit as leaving:  # a command's sys.exit(N): its report is out
        status = leaving.code
    signals.settle()  # a signal from here on cannot change the status (nor kill with -2)
    sys.exit(status)
