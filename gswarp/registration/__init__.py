"""Image registration on gswarp's sampler and its gradients (issue 17): ``gswarp register``.

:func:`register` aligns a moving image or volume to a fixed one with a parametric model
(:mod:`.models`), a metric (:mod:`.metrics`) and a small quasi-Newton optimizer
(:mod:`.optimize`), coarse to fine; :mod:`gswarp.cli.register` writes the result as a spec that
``gswarp apply`` uses.
"""

from gswarp.registration.core import Image, Level, Result, default_shrinks, register
from gswarp.registration.metrics import METRICS
from gswarp.registration.models import MODELS

__all__ = ["METRICS", "MODELS", "Image", "Level", "Result", "default_shrinks", "register"]
