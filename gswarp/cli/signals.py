"""Signals end a run as Ctrl-C does: SIGTERM and SIGHUP raise :class:`Terminated` (a
``KeyboardInterrupt``) in the main thread, so the same paths cancel the jobs, remove the
temporary files of unfinished outputs and report what was written; the exit status is
``128 + N`` for signal N (130 for Ctrl-C, 143 for SIGTERM, 129 for SIGHUP)."""

from __future__ import annotations

import contextlib
import signal
import sys
import threading
from collections.abc import Iterator

__all__ = [
    "Terminated",
    "check",
    "closing",
    "deferring",
    "exit_status",
    "install",
    "interruption",
    "settle",
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
_closing = False  # inside closing() or settled: the run has its outcome, a signal is dropped


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
    if _closing:
        return
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


@contextlib.contextmanager
def closing() -> Iterator[None]:
    """Closing what a run opened (a Dask cluster) once the run has its outcome (reported, or
    complete): a signal here is dropped. Raised, it was a second report after the first, or
    left the cluster half closed for distributed to close again at exit (10 s later, with a
    stray blank line); the close itself is bounded (:data:`gswarp.run.cluster.CLOSE_TIMEOUT`)."""
    global _closing
    _closing = True
    try:
        yield
    finally:
        _closing = False


def settle() -> None:
    """The exit status is decided: ignore SIGINT, SIGTERM and SIGHUP from here on, and clear
    CPython's record of an unhandled interrupt.

    CPython (3.11) sets that record whenever a ``KeyboardInterrupt`` leaves an ``exec()`` of a
    string -- dataclasses and pydantic build their methods so, during the imports a run makes
    -- even when the program catches it later, and a ``python -m`` process whose record is set
    kills itself with SIGINT at exit: status -2 after gswarp had reported the interrupt and
    chosen 130. Each ``exec()`` of a string clears the record as it starts, so one more clears
    it. A signal whose handler is pending runs it here with :data:`_closing` set: dropped."""
    global _closing
    _closing = True
    for name in ("SIGINT", "SIGTERM", "SIGHUP"):
        number = getattr(signal, name, None)
        if number is not None:
            signal.signal(number, signal.SIG_IGN)
    exec("pass")  # clears _Py_UnhandledKeyboardInterrupt (see above)


def _quiet_unraisable(unraisable) -> None:
    """A signal raised where Python cannot raise it (a garbage-collector callback, a
    ``__del__``) was printed by ``sys.unraisablehook`` as "Exception ignored in ..." with a
    traceback; :func:`check` raises it again where the run handles it, so it is not printed."""
    if isinstance(unraisable.exc_value, KeyboardInterrupt) and _raised is not None:
        return
    _previous_unraisablehook(unraisable)


_previous_unraisablehook = sys.unraisablehook


def install() -> None:
    """Handle SIGINT, SIGTERM and SIGHUP (the command line only; a library leaves its host's
    handlers alone), and keep interrupts raised in garbage-collector callbacks off stderr."""
    global _previous_unraisablehook
    if threading.current_thread() is not threading.main_thread():
        return
    for name in ("SIGINT", "SIGTERM", "SIGHUP"):
        number = getattr(signal, name, None)
        if number is not None:
            signal.signal(number, _handle)
    if sys.unraisablehook is not _quiet_unraisable:
        _previous_unraisablehook = sys.unraisablehook
        sys.unraisablehook = _quiet_unraisable


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
