"""Remarks of the libraries gswarp reads files with, named by the file they are about.

nibabel logs what it fixes in a header ("sizeof_hdr should be 348; set sizeof_hdr to 348"),
tifffile logs what it skips in a damaged file, and Pillow warns of a corrupt EXIF block: each
on stderr, without the file's name, and the same lines again before gswarp's own error when the
file then cannot be read. Inside :func:`reading`, such remarks are collected for the reading
thread: when the read succeeds they go to the ``gswarp`` logger as one warning each, prefixed
with the file (the command line prints them as ``gswarp: warning: ...``); when it fails they
are dropped, the error says what is wrong.

Python warnings reach the collection only where a front end routes them here with
:func:`show_warning` (the command line does); a library user's warnings filters are left alone.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Iterator
from pathlib import Path

__all__ = ["LOGGER", "reading", "show_warning"]

LOGGER = logging.getLogger("gswarp")
"""Remarks on files that do not stop a read (the command line prints them as warnings)."""

_LIBRARY_LOGGERS = ("nibabel.global", "tifffile")
_state = threading.local()
_install_lock = threading.Lock()


class _Collector(logging.Handler):
    """A library logger's records, into the reading thread's list (or, outside any read, to
    the ``gswarp`` logger with the library's name)."""

    def emit(self, record: logging.LogRecord) -> None:
        _remark(record.getMessage(), record.name.split(".")[0])


def _remark(message: str, source: str) -> None:
    sink = getattr(_state, "sink", None)
    if sink is not None:
        sink.append(message)
    else:
        LOGGER.warning("%s: %s", source, message)


def _install() -> None:
    with _install_lock:
        for name in _LIBRARY_LOGGERS:
            logger = logging.getLogger(name)
            if not any(isinstance(h, _Collector) for h in logger.handlers):
                for handler in list(logger.handlers):  # nibabel's own: a bare stderr line
                    logger.removeHandler(handler)
                logger.addHandler(_Collector())
                logger.propagate = False


@contextlib.contextmanager
def reading(path: Path | str) -> Iterator[None]:
    """Collect the libraries' remarks while this thread reads ``path``: a warning each on the
    ``gswarp`` logger (``PATH: remark``) when the block ends normally, none when it raises."""
    if not getattr(_install, "done", False):
        _install()
        _install.done = True  # type: ignore[attr-defined]
    outer = getattr(_state, "sink", None)
    _state.sink = []
    try:
        yield
        for message in dict.fromkeys(_state.sink):
            LOGGER.warning("%s: %s", path, message)
    finally:
        _state.sink = outer


def show_warning(message, category, filename, lineno, file=None, line=None) -> None:
    """A :data:`warnings.showwarning` that sends a Python warning raised inside
    :func:`reading` to that read's remarks, and any other to the ``gswarp`` logger: one line,
    without the source line Python would print under it."""
    _remark(str(message).strip().replace("\n", " "), category.__name__)
