"""Signals end a run as Ctrl-C does: SIGTERM and SIGHUP raise :class:`Terminated` (a
``KeyboardInterrupt``) in the main thread, so the same paths cancel the jobs, remove the
temporary files of unfinished outputs and report what was written; the exit status is
``128 + N`` for signal N (130 for Ctrl-C, 143 for SIGTERM, 129 for SIGHUP)."""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator

__all__ = [
    "Terminated",
    "check",
    "deferring",
    "exit_status",
    "install",
    "interruption",
    "taken",
]


class Terminated(KeyboardInterrupt):
    """A run ended by a signal other than SIGINT; ``signum`` names it."""

    def __init__(self, signum: int) -> None:
        super().__init__(f"signal {signum}")
        self.signum = signum


_depth = 0  # deferring() blocks entered
_held: int | None = None  # a signal that arrived inside one
_raised: int | None = None  # a signal raised as an exception that no handler has taken yet


def _raise_for(signum: int) -> None:
    global _raised
    _raised = signum
    if signum == signal.SIGINT:
        raise KeyboardInterrupt
    signal.signal(signum, signal.SIG_IGN)  # once: the cleanup it starts is not interrupted
    raise Terminated(signum)


def taken() -> None:
    """Say that the interrupt raised has been handled (its run reported and ending)."""
    global _raised
    _raised = None


def check() -> None:
    """Raise again an interrupt that was raised but never handled: Python swallows an
    exception raised inside a garbage-collector callback or a ``__del__`` ("Exception
    ignored in ..."), where a signal can land as anywhere else -- a Ctrl-C once vanished in
    distributed's GC callback and the run went on to exit 0. Called at each finished output."""
    if _raised is not None and _depth == 0:
        _raise_for(_raised)


def _handle(signum: int, frame) -> None:
    global _held
    if _depth:
        if _held is None:
            _held = signum
        return
    _raise_for(signum)


@contextlib.contextmanager
def deferring() -> Iterator[None]:
    """Hold a signal back until the block ends (reporting one finished output: its path and
    its count go out together, or neither)."""
    global _depth, _held
    _depth += 1
    try:
        yield
    finally:
        _depth -= 1
        if _depth == 0 and _held is not None:
            signum, _held = _held, None
            _raise_for(signum)
        check()


def install() -> None:
    """Handle SIGINT, SIGTERM and SIGHUP (the command line only; a library leaves its host's
    handlers alone)."""
    if threading.current_thread() is not threading.main_thread():
        return
    for name in ("SIGINT", "SIGTERM", "SIGHUP"):
        number = getattr(signal, name, None)
        if number is not None:
            signal.signal(number, _handle)


def exit_status(interrupt: BaseException) -> int:
    """``128 + N`` for the signal that ended the run (SIGINT for a plain Ctrl-C); the
    interrupt counts as handled from here (:func:`taken`)."""
    taken()
    return 128 + int(getattr(interrupt, "signum", signal.SIGINT))


def interruption(interrupt: BaseException) -> str:
    """'interrupted' (Ctrl-C) or 'terminated by SIGTERM' (another signal)."""
    signum = getattr(interrupt, "signum", None)
    if signum is None:
        return "interrupted"
    return f"terminated by {signal.Signals(signum).name}"
