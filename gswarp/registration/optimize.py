"""A small dependency-free optimizer: limited-memory BFGS with a backtracking line search, for
``gswarp register``'s handful of parameters (and its flow lattices' thousands).

Parameters are in *voxel units* (:meth:`gswarp.registration.models.Model.scales`): a unit step
moves the image by about one voxel of the current level, so one step limit and one tolerance
fit every model.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np


@dataclass
class Trace:
    """What :func:`minimize` did: one (cost, step length) per accepted iteration."""

    costs: list[float] = field(default_factory=list)
    steps: list[float] = field(default_factory=list)
    evaluations: int = 0
    stopped: str = ""


def minimize(
    function: Callable[[np.ndarray], tuple[float, np.ndarray]],
    x: np.ndarray,
    iterations: int = 100,
    max_step: float = 2.0,
    min_step: float = 1e-3,
    memory: int = 8,
    on_iteration: Callable[[int, float, float], None] | None = None,
) -> tuple[np.ndarray, float, Trace]:
    """Minimize ``function`` (returning the cost and its gradient) from ``x``.

    Each iteration takes the L-BFGS direction (steepest descent at first and after a reset),
    shortened so that no parameter moves more than ``max_step``, then halves it until the cost
    falls enough (Armijo). Stops after ``iterations``, when a step moves no parameter more than
    ``min_step``, or when no step lowers the cost.

    Returns
    -------
    (x, cost, trace)
    """
    trace = Trace()
    cost, grad = function(x)
    trace.evaluations += 1
    pairs: list[tuple[np.ndarray, np.ndarray]] = []
    for iteration in range(iterations):
        direction = _direction(grad, pairs)
        slope = float(grad @ direction)
        if slope >= 0:  # not a descent direction: forget the curvature pairs
            pairs.clear()
            direction = -grad
            slope = float(grad @ direction)
        if slope == 0.0:
            trace.stopped = "zero gradient"
            break
        largest = float(np.abs(direction).max())
        if not pairs or largest > max_step:
            direction = direction * (max_step / largest if pairs else min(1.0, max_step / largest))
            slope = float(grad @ direction)
        new = _line_search(function, x, cost, slope, direction, trace)
        if new is None:
            trace.stopped = "no step lowers the cost"
            break
        new_x, new_cost, new_grad = new
        s, y = new_x - x, new_grad - grad
        if float(s @ y) > 1e-12 * float(y @ y):
            pairs.append((s, y))
            del pairs[:-memory]
        moved = float(np.abs(s).max())
        x, cost, grad = new_x, new_cost, new_grad
        trace.costs.append(cost)
        trace.steps.append(moved)
        if on_iteration is not None:
            on_iteration(iteration, cost, moved)
        if moved < min_step:
            trace.stopped = "converged"
            break
    else:
        trace.stopped = "iterations"
    return x, cost, trace


def _direction(grad: np.ndarray, pairs: list) -> np.ndarray:
    """L-BFGS's two-loop recursion: minus the inverse-Hessian estimate times ``grad``."""
    q = grad.copy()
    alphas = []
    for s, y in reversed(pairs):
        alpha = float(s @ q) / float(y @ s)
        alphas.append(alpha)
        q -= alpha * y
    if pairs:
        s, y = pairs[-1]
        q *= float(s @ y) / float(y @ y)
    for (s, y), alpha in zip(pairs, reversed(alphas), strict=True):
        beta = float(y @ q) / float(y @ s)
        q += (alpha - beta) * s
    return -q


def _line_search(function, x, cost, slope, direction, trace, halvings: int = 12):
    step = 1.0
    for _ in range(halvings):
        candidate = x + step * direction
        new_cost, new_grad = function(candidate)
        trace.evaluations += 1
        if np.isfinite(new_cost) and new_cost <= cost + 1e-4 * step * slope:
            return candidate, new_cost, new_grad
        step *= 0.5
    return None
