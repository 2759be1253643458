"""Drawing random specs: one concrete :class:`~gswarp.spec.WarpSpec` per file and variant.

A random spec holds distributions (``rotate: {uniform: [-15, 15]}``), transforms applied with a
probability (``p: 0.5``) and unseeded elastic transforms. :func:`draw` replaces each with a value
from its own stream (:func:`gswarp.spec.distributions.stream`), keyed by the run's seed, the
file's key (its path relative to its input root), the variant index and the value's place in
the spec. The draw of a file is thus the same whatever else is in the run, in whatever order,
on any number of threads.

The drawn spec is an ordinary spec: its :meth:`~gswarp.spec.WarpSpec.normalized` form, written
as YAML and parsed again, is the same spec (that is what ``--log`` records and ``--replay``
reads).
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from typing import Any

from gswarp.errors import SpecError
from gswarp.spec.distributions import Choice, Normal, Uniform, stream
from gswarp.spec.model import (
    AffineParams,
    ElasticSpec,
    FlowSpec,
    Sometimes,
    Transform,
    WarpSpec,
    _kind_of,
)

__all__ = ["Draw", "draw"]

_SEED_LIMIT = 1 << 63


@dataclass(frozen=True)
class Draw:
    """A drawn spec and what was drawn.

    Attributes
    ----------
    spec : WarpSpec
        Concrete (``spec.is_random`` is False): transforms not applied are left out.
    values : dict
        Value path (``transform[0].affine.rotate``, ``transform[1].p``, ...) -> the number
        drawn (for ``p``: the uniform number compared with ``p``).
    applied : tuple of bool
        Per transform of the random spec: whether it was applied.
    """

    spec: WarpSpec
    values: dict[str, float]
    applied: tuple[bool, ...]


def draw(spec: WarpSpec, seed: int, key: str, variant: int = 0) -> Draw:
    """Draw every random value of ``spec`` for the file ``key`` and ``variant``.

    Raises
    ------
    SpecError
        A drawn value is not allowed where it sits (a ``normal`` scale that came out as 0, a
        shear beyond 90 degrees); names the spec, the value's path and the value.

    >>> from gswarp.spec import parse_spec
    >>> spec = parse_spec("version: 1\\ntransform: {affine: {rotate: {uniform: [-15, 15]}}}")
    >>> first = draw(spec, seed=7, key="a.png")
    >>> first.spec.transforms[0].rotate == draw(spec, 7, "a.png").spec.transforms[0].rotate
    True
    >>> -15 <= first.values["transform[0].affine.rotate"] <= 15, first.spec.is_random
    (True, False)
    """
    values: dict[str, float] = {}

    def value_at(where: str, item: Any) -> Any:
        if isinstance(item, tuple):
            return tuple(value_at(f"{where}[{i}]", v) for i, v in enumerate(item))
        if not isinstance(item, Uniform | Normal | Choice):
            return item
        number = item.sample(stream(seed, key, variant, where))
        problem = item.check(number) if item.check else None
        if problem:
            raise SpecError(
                f"{spec.source}: {where}: drew {number!r} for {key} (variant {variant}), "
                f"which is not allowed ({problem}); narrow the distribution"
            )
        values[where] = number
        return number

    transforms: list[Transform] = []
    applied: list[bool] = []
    for index, item in enumerate(spec.transforms):
        where = f"transform[{index}]"
        transform = item.transform if isinstance(item, Sometimes) else item
        if isinstance(item, Sometimes):
            roll = float(stream(seed, key, variant, f"{where}.p").uniform())
            values[f"{where}.p"] = roll
            if roll >= item.p:
                applied.append(False)
                continue
        applied.append(True)
        where = f"{where}.{_kind_of(transform)}"
        transforms.append(_drawn(transform, where, value_at, seed, key, variant))
    return Draw(replace(spec, transforms=tuple(transforms)), values, tuple(applied))


def _drawn(transform: Transform, where: str, value_at, seed: int, key: str, variant: int):
    if not isinstance(transform, AffineParams | FlowSpec | ElasticSpec):
        return transform  # matrices and thetas hold plain numbers
    changes = {
        f.name: value_at(f"{where}.{f.name}", getattr(transform, f.name))
        for f in fields(transform)
        if f.name in ("rotate", "scale", "shear", "translate", "center", "alpha", "sigma")
    }
    if isinstance(transform, ElasticSpec) and transform.seed is None:
        rng = stream(seed, key, variant, f"{where}.seed")
        changes["seed"] = int(rng.integers(_SEED_LIMIT))
    return replace(transform, **changes)
