"""The library's remarks on files, shown by the command line as warning lines.

The library logs a remark that does not stop a read (a NIfTI header nibabel fixed while reading
it, with the file's name: :mod:`gswarp.io.remarks`) to the ``gswarp`` logger; the command line
prints each as one ``gswarp: warning: ...`` line on stderr, or nothing with ``-q``. Python
warnings (Pillow's "Corrupt EXIF data") take the same way instead of Python's two-line form.
"""

from __future__ import annotations

import logging
import warnings

import click

__all__ = ["show_library_warnings"]


def _show_warning(*arguments, **named) -> None:
    from gswarp.io.remarks import show_warning  # imported when a warning comes, not at start

    show_warning(*arguments, **named)


class _WarningLines(logging.Handler):
    """Each distinct remark once per run (a file read twice, to plan and to warp, or by
    several threads, remarks the same)."""

    def __init__(self) -> None:
        super().__init__()
        self.seen: set[str] = set()

    def emit(self, record: logging.LogRecord) -> None:
        message = record.getMessage()
        with self.lock:
            if message in self.seen:
                return
            self.seen.add(message)
        click.echo(f"gswarp: warning: {message}", err=True)


def show_library_warnings(quiet: bool = False) -> None:
    """Print the ``gswarp`` logger's warnings as ``gswarp: warning: ...`` lines on stderr;
    nothing below an error with ``quiet``."""
    warnings.showwarning = _show_warning
    logger = logging.getLogger("gswarp")
    for handler in logger.handlers:
        if isinstance(handler, _WarningLines):
            handler.seen.clear()  # a new run (in-process callers run several)
            break
    else:
        logger.addHandler(_WarningLines())
        logger.propagate = False
    logger.setLevel(logging.ERROR if quiet else logging.WARNING)
