"""The gswarp exception hierarchy.

Every error gswarp raises on purpose derives from :class:`GswarpError`, and also from the builtin
exception a Python user would expect (``ValueError``, ``TypeError``, ``OSError``,
``ImportError``), so
``except ValueError`` keeps working for callers that do not know gswarp.
"""

from __future__ import annotations

__all__ = [
    "BackendError",
    "CancelledError",
    "DTypeError",
    "GswarpError",
    "InputError",
    "ShapeError",
    "SpecError",
]


class GswarpError(Exception):
    """Root of every error raised by gswarp on purpose."""


class SpecError(GswarpError, ValueError):
    """A warp specification or an argument value is invalid."""


class ShapeError(GswarpError, ValueError):
    """An array has the wrong number of dimensions or the wrong size."""


class DTypeError(GswarpError, TypeError):
    """An array has a dtype that gswarp cannot use for the requested operation."""


class InputError(GswarpError, OSError):
    """An input file cannot be read or an output file cannot be written."""


class BackendError(GswarpError, ImportError):
    """An optional backend (CuPy, NVRTC, nibabel, ...) is missing or unusable."""


class CancelledError(GswarpError):
    """The run was interrupted (Ctrl-C) before an output was complete; nothing was written."""


def first_line(error: BaseException, limit: int = 200, *, named: bool = True) -> str:
    """``Type: first line of the message`` (at most ``limit`` characters of it), for one-line
    errors that quote what a third-party library raised; ``named=False`` leaves the type out
    (the type's name alone when there is no message)."""
    text = str(error).strip().splitlines()
    if not text:
        return type(error).__name__
    return f"{type(error).__name__}: {text[0][:limit]}" if named else text[0][:limit]
