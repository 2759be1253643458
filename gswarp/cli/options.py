"""Options and helpers shared by the commands: sampling overrides, spec loading, messages.

Choices come from the library's own vocabulary (:mod:`gswarp.sampling`), so the CLI and the spec
accept the same words.
"""

from __future__ import annotations

import functools
import sys
import threading
from collections.abc import Callable
from typing import Any, NoReturn

import click

from gswarp.errors import SpecError
from gswarp.sampling import Mode, Padding
from gswarp.spec import WarpSpec, load_spec

EXIT_FILES_FAILED = 1
EXIT_USAGE = 2  # signals: 128 + N (gswarp.cli.signals.exit_status)


def echo_error(message: str) -> None:
    """One line on stderr, prefixed with the program name (a message of several lines, as a
    third-party library may word one, is joined into one)."""
    line = " ".join(part.strip() for part in str(message).splitlines() if part.strip())
    click.echo(f"gswarp: error: {line}", err=True)


class OnceWarnings:
    """``notify(key, message)`` for the library: prints ``gswarp: warning: message`` on stderr
    the first time a key is seen in this run (from any thread); nothing with ``quiet``."""

    def __init__(self, quiet: bool = False) -> None:
        self.quiet = quiet
        self.seen: set[str] = set()
        self.lock = threading.Lock()

    def __call__(self, key: str, message: str) -> None:
        with self.lock:
            if key in self.seen:
                return
            self.seen.add(key)
        if not self.quiet:
            click.echo(f"gswarp: warning: {message}", err=True)


def fail(message: str, code: int = EXIT_USAGE) -> NoReturn:
    echo_error(message)
    sys.exit(code)


def _fill_handler(ctx: click.Context, param: click.Parameter, value: str | None) -> Any:
    if value is None:
        return None
    parts = [p for p in value.replace(",", " ").split() if p]
    try:
        numbers = tuple(float(p) for p in parts)
    except ValueError:
        numbers = ()
    if not numbers or not all(abs(n) != float("inf") and n == n for n in numbers):
        raise click.BadParameter(
            f"expected a number or comma-separated numbers (one per channel), got {value!r}"
        )
    return numbers


def sampling_options(command: Callable) -> Callable:
    """``--mode``, ``--padding``, ``--align-corners/--no-align-corners``, ``--fill``,
    ``--antialias/--no-antialias``: each overrides the spec's ``sampling`` key of the same name."""
    decorators = [
        click.option(
            "--mode",
            type=click.Choice([m.label for m in Mode]),
            help="Interpolation (overrides sampling.mode).",
        ),
        click.option(
            "--padding",
            type=click.Choice([p.label for p in Padding]),
            help="How points outside the input are read (overrides sampling.padding).",
        ),
        click.option(
            "--align-corners/--no-align-corners",
            default=None,
            help="torch's align_corners (overrides sampling.align_corners).",
        ),
        click.option(
            "--fill",
            callback=_fill_handler,
            metavar="V[,V...]",
            help="Value outside the input with padding zeros, one or one per channel "
            "(overrides sampling.fill).",
        ),
        click.option(
            "--antialias/--no-antialias",
            default=None,
            help="Where the warp shrinks, average each output pixel's footprint, or point-sample "
            "as torch's grid_sample (overrides sampling.antialias; default auto: images on, "
            "volumes off).",
        ),
    ]
    return functools.reduce(lambda f, d: d(f), reversed(decorators), command)


def load_spec_or_exit(
    path: str | None,
    *,
    mode: str | None = None,
    padding: str | None = None,
    align_corners: bool | None = None,
    fill: tuple[float, ...] | None = None,
    antialias: bool | None = None,
    spec: WarpSpec | None = None,
) -> WarpSpec:
    """The spec at ``path`` (or ``spec``, already parsed) with the command-line overrides; a
    bad spec exits with code 2."""
    if spec is None:
        try:
            spec = load_spec(path)
        except SpecError as error:
            fail(str(error))
    try:
        return spec.with_sampling(
            mode=Mode[mode.upper()] if mode else None,
            padding=Padding[padding.upper()] if padding else None,
            align_corners=align_corners,
            fill=fill,
            antialias=antialias,
        )
    except SpecError as error:  # an override the spec's other settings refuse
        fail(str(error))
