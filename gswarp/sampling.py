"""The sampling vocabulary, defined once and shared by the engine, the spec parser and the CLI.

The integer codes are the ones the compiled kernels receive; they follow torch's enum order
(``torch.grid_sampler``: bilinear 0, nearest 1, bicubic 2; zeros 0, border 1, reflection 2).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from gswarp.errors import SpecError

__all__ = [
    "FILTER_KINDS",
    "WINDOWS",
    "Filter",
    "Mode",
    "Padding",
    "native_order",
    "parse_mode",
    "parse_padding",
]


def native_order(array):
    """``array`` itself when its dtype is in this machine's byte order, else the same values
    in it (a big-endian file read on a little-endian machine): the kernels, and every reader's
    caller, see native dtypes only."""
    if array.dtype.isnative:
        return array
    return array.astype(array.dtype.newbyteorder("="))


class Mode(enum.IntEnum):
    """Interpolation mode. ``bicubic`` on a 3-D input means tricubic (Keys, a = -0.75, per axis).

    The first three are torch's ``grid_sample`` modes. ``bspline``, ``sinc`` and ``gaussian``
    are ITK's interpolators (B-spline of order 0-5 on prefiltered coefficients, windowed sinc,
    Gaussian; :mod:`gswarp.engine.filters`), offered by specs, ``gswarp apply`` and
    :func:`gswarp.engine.tiles.sample_chain`, read as ITK's resampler reads an image.
    """

    BILINEAR = 0
    NEAREST = 1
    BICUBIC = 2
    BSPLINE = 3
    SINC = 4
    GAUSSIAN = 5

    @property
    def label(self) -> str:
        return self.name.lower()

    @property
    def is_filter(self) -> bool:
        """Whether this is one of ITK's interpolators (not a ``grid_sample`` mode)."""
        return self.value >= Mode.BSPLINE


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


def parse_mode(value: object, argument: str = "mode", filters: bool = True) -> Mode:
    """Return the :class:`Mode` named by ``value`` ('nearest', 'bilinear', 'bicubic', and with
    ``filters`` ITK's 'bspline', 'sinc', 'gaussian'; or a Mode).

    Raises
    ------
    SpecError
        If ``value`` names no mode (the message lists the valid ones), or names one of ITK's
        interpolators where ``filters`` is False (torch's ``grid_sample`` functions).
    """
    mode = _parse_choice(Mode, value, argument) if filters else None
    if mode is not None:
        return mode  # type: ignore[return-value]
    torch_modes = ("bilinear", "nearest", "bicubic")
    name = value.label if isinstance(value, Mode) else value
    if isinstance(name, str) and name.lower() in torch_modes:
        return Mode[name.upper()]
    if isinstance(name, str) and name.lower() in ("bspline", "sinc", "gaussian"):
        raise SpecError(
            f"{argument}: {name!r} is one of ITK's interpolators, offered by sample_chain and "
            "specs (sampling.mode); this function takes 'bilinear', 'nearest' or 'bicubic'"
        )
    raise SpecError(
        f"{argument}: expected one of {', '.join(repr(n) for n in torch_modes)}, got {value!r}"
    )


def parse_padding(value: object, argument: str = "padding_mode") -> Padding:
    """Return the :class:`Padding` named by ``value`` ('zeros', 'border', 'reflection')."""
    return _parse_choice(Padding, value, argument)  # type: ignore[return-value]


WINDOWS = ("lanczos", "cosine", "welch", "hamming", "blackman")
"""The sinc's windows, in the kernel's code order (ITK's window functions of those names)."""

FILTER_KINDS = {"bspline": 0, "sinc": 1, "gaussian": 2, "linear": 3}
"""The kernel's codes of ITK's interpolators (``src/gswarp_core/filters.hpp``)."""


@dataclass(frozen=True)
class Filter:
    """One of ITK's interpolators.

    Attributes
    ----------
    kind : {'bspline', 'sinc', 'gaussian', 'linear'}
        'linear' is ITK's ``LinearInterpolateImageFunction`` (indices clamped into the image):
        the label vote of antsApplyTransforms' ``GenericLabel`` (the ``bilinear`` mode is
        torch's).
    order : int
        The B-spline's order, 0-5 (3: ITK's and ANTs' ``BSpline``).
    window : str
        The sinc's window, one of :data:`WINDOWS`.
    radius : int
        The sinc's radius in pixels (``2 * radius`` taps per axis; ITK's default 3).
    sigma : tuple of float
        The Gaussian's standard deviation per axis ``(x, y[, z])`` in input pixels (one value:
        every axis).
    alpha : float
        The Gaussian's cut-off in sigmas.
    """

    kind: str
    order: int = 3
    window: str = "lanczos"
    radius: int = 3
    sigma: tuple[float, ...] = (1.0,)
    alpha: float = 1.0

    def sigmas(self, k: int) -> tuple[float, ...]:
        """The sigma of each of ``k`` axes, x first."""
        return tuple(self.sigma if len(self.sigma) == k else self.sigma[:1] * k)

    def check(self, k: int) -> None:
        """SpecError naming the first value the kernel cannot take."""
        if self.kind not in FILTER_KINDS:
            raise SpecError(f"filter: expected one of {', '.join(FILTER_KINDS)}, got {self.kind!r}")
        if self.kind == "bspline" and self.order not in range(6):
            raise SpecError(f"order: expected a B-spline order 0 to 5, got {self.order!r}")
        if self.kind == "sinc" and (self.window not in WINDOWS or self.radius not in range(1, 17)):
            raise SpecError(
                f"window/radius: expected one of {', '.join(WINDOWS)} and a radius 1 to 16, "
                f"got {self.window!r}, {self.radius!r}"
            )
        if self.kind == "gaussian":
            if len(self.sigma) not in (1, k) or not all(0 < s < 1e6 for s in self.sigma):
                raise SpecError(f"sigma: expected 1 or {k} positive values, got {self.sigma!r}")
            if not 0 < self.alpha < 1e6:
                raise SpecError(f"alpha: expected a positive number, got {self.alpha!r}")


SHRINK_TOLERANCE = 1e-9
"""A map shrinks where its largest singular value exceeds ``1 + SHRINK_TOLERANCE``: rotations,
whose singular values are 1 within rounding, and magnifications keep point sampling
(``docs/engine.md``, "The antialiasing footprint"; here so that deciding it loads no kernel
code)."""

ANTIALIAS_WIDEN = 0.25
"""A footprint stretched by ``S > 1`` gets a filter stretched by ``S + WIDEN (S - 1)``: the kernel
at exactly the footprint's size leaves too much aliasing (measured, ``benchmarks/RESULTS.md``);
the widening vanishes as ``S`` goes to 1, so the filter tends to the interpolation. The compiled
engine's ``WIDEN`` (``src/gswarp_core/antialias.hpp``) must equal it (``tests/test_core.py``)."""
