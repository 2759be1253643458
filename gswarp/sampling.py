"""The sampling vocabulary, defined once and shared by the engine, the spec parser and the CLI.

The integer codes are the ones the compiled kernels receive; they follow torch's enum order
(``torch.grid_sampler``: bilinear 0, nearest 1, bicubic 2; zeros 0, border 1, reflection 2).
"""

from __future__ import annotations

import enum

from gswarp.errors import SpecError

__all__ = ["Mode", "Padding", "native_order", "parse_mode", "parse_padding"]


def native_order(array):
    """``array`` itself when its dtype is in this machine's byte order, else the same values
    in it (a big-endian file read on a little-endian machine): the kernels, and every reader's
    caller, see native dtypes only."""
    if array.dtype.isnative:
        return array
    return array.astype(array.dtype.newbyteorder("="))


class Mode(enum.IntEnum):
    """Interpolation mode. ``bicubic`` on a 3-D input means tricubic (Keys, a = -0.75, per axis)."""

    BILINEAR = 0
    NEAREST = 1
    BICUBIC = 2

    @property
    def label(self) -> str:
        return self.name.lower()


class Padding(enum.IntEnum):
    """How samples outside the input are read (torch's ``padding_mode``)."""

    ZEROS = 0
    BORDER = 1
    REFLECTION = 2

    @property
    def label(self) -> str:
        return self.name.lower()


_BY_NAME: dict[tuple[type, str], enum.IntEnum] = {}  # (enum, name as given) -> member


def _parse_choice(enum_cls: type[enum.IntEnum], value: object, argument: str) -> enum.IntEnum:
    if isinstance(value, enum_cls):
        return value
    if isinstance(value, str):
        member = _BY_NAME.get((enum_cls, value))
        if member is not None:
            return member
    names = [member.name.lower() for member in enum_cls]
    if isinstance(value, str) and value.lower() in names:
        member = _BY_NAME[enum_cls, value] = enum_cls[value.upper()]
        return member
    raise SpecError(
        f"{argument}: expected one of {', '.join(repr(n) for n in names)}, got {value!r}"
    )


def parse_mode(value: object, argument: str = "mode") -> Mode:
    """Return the :class:`Mode` named by ``value`` ('nearest', 'bilinear', 'bicubic' or a Mode).

    Raises
    ------
    SpecError
        If ``value`` names no mode; the message lists the valid ones.
    """
    return _parse_choice(Mode, value, argument)  # type: ignore[return-value]


def parse_padding(value: object, argument: str = "padding_mode") -> Padding:
    """Return the :class:`Padding` named by ``value`` ('zeros', 'border', 'reflection')."""
    return _parse_choice(Padding, value, argument)  # type: ignore[return-value]


SHRINK_TOLERANCE = 1e-9
"""A map shrinks where its largest singular value exceeds ``1 + SHRINK_TOLERANCE``: rotations,
whose singular values are 1 within rounding, and magnifications keep point sampling
(:mod:`gswarp.engine.footprint`; here so that deciding it loads no kernel code)."""

ANTIALIAS_WIDEN = 0.25
"""A footprint stretched by ``S > 1`` gets a filter stretched by ``S + WIDEN (S - 1)``: the kernel
at exactly the footprint's size leaves too much aliasing (measured, ``benchmarks/RESULTS.md``);
the widening vanishes as ``S`` goes to 1, so the filter tends to the interpolation. The compiled
engine's ``WIDEN`` (``src/gswarp_core/antialias.hpp``) must equal it (``tests/test_core.py``)."""
