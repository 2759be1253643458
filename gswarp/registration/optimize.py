"""Small dependency-free optimizers: limited-memory BFGS with a backtracking line search, for
``gswarp register``'s handful of parameters (and its flow lattices' thousands), and a
gradient-only regular-step descent that finishes MI's optimization (:func:`polish`).

Parameters are in *voxel units* (:meth:`gswarp.registration.models.Model.scales`): a unit step
moves the image by about one voxel of the current level, so one step limit and one tolerance
fit every model.

The function is called as ``function(x, gradient)``: the cost alone while the line search tries
steps (``gradient=False``; the backward pass is most of an evaluation's time), the cost and
its gradient at the point it accepts (the objectives keep their last forward pass, so that
second call costs only the backward pass).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

Function = Callable[[np.ndarray, bool], tuple[float, np.ndarray | None]]


@dataclass
class Trace:
    """What :func:`minimize` did: one (cost, step length) per accepted iteration, and how many
    costs it evaluated."""

    costs: list[float] = field(default_factory=list)
    steps: list[float] = field(default_factory=list)
    evaluations: int = 0
    stopped: str = ""


def minimize(
    function: Function,
    x: np.ndarray,
    iterations: int = 100,
    max_step: float = 2.0,
    min_step: float = 1e-3,
    first_step: float = 1.0,
    memory: int = 8,
    on_iteration: Callable[[int, float, float], None] | None = None,
) -> tuple[np.ndarray, float, Trace]:
    """Minimize ``function`` from ``x``.

    Each iteration takes the L-BFGS direction, shortened so that no parameter moves more than
    ``max_step`` -- at first (and after a reset) steepest descent scaled so that the largest
    parameter change is ``first_step`` units, as the gradient's own size says nothing about
    the step (a correlation's gradient is tiny, a squared difference's huge) -- and shortens
    it, by the minimum of the parabola through the cost at 0 and at the step, until the cost
    falls enough (Armijo). Stops after ``iterations``, when two accepted steps in a row move no
    parameter more than ``min_step`` (one may be a short first step of a steepest descent, on
    a noisy cost such as MI's), or when no step lowers the cost.

    Returns
    -------
    (x, cost, trace)
    """
    trace = Trace()
    cost, grad = function(x, True)
    trace.evaluations += 1
    pairs: list[tuple[np.ndarray, np.ndarray]] = []
    small = 0  # consecutive steps under min_step
    for iteration in range(iterations):
        direction = _direction(grad, pairs)
        if float(grad @ direction) >= 0:  # not a descent direction: forget the curvature
            pairs.clear()
            direction = -grad
        largest = float(np.abs(direction).max())
        if largest == 0.0:
            trace.stopped = "zero gradient"
            break
        if not pairs:
            direction = direction * (min(first_step, max_step) / largest)
        elif largest > max_step:
            direction = direction * (max_step / largest)
        accepted = _line_search(function, x, cost, float(grad @ direction), direction, trace)
        if accepted is None:
            trace.stopped = "no step lowers the cost"
            break
        new_x, new_cost = accepted
        new_grad = function(new_x, True)[1]
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
        small = small + 1 if moved < min_step else 0
        if small == 2:
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


def _line_search(function, x, cost, slope, direction, trace, tries: int = 12):
    """(point, cost) of the first step ``t * direction`` (t = 1, then shortened) that lowers
    the cost by at least ``1e-4 * t * slope``; None if none of ``tries`` does."""
    step = 1.0
    for _ in range(tries):
        candidate = x + step * direction
        new_cost = function(candidate, False)[0]
        trace.evaluations += 1
        if np.isfinite(new_cost) and new_cost <= cost + 1e-4 * step * slope:
            return candidate, new_cost
        # the parabola through (0, cost) with slope ``slope`` and (step, new_cost), kept within
        # [0.1, 0.5] of the step (a plain halving where the cost is not finite)
        shorter = 0.5 * step
        if np.isfinite(new_cost):
            curvature = new_cost - cost - slope * step
            if curvature > 0:
                shorter = min(max(-slope * step * step / (2 * curvature), 0.1 * step), shorter)
        step = shorter
    return None


def polish(
    function: Function,
    x: np.ndarray,
    trace: Trace,
    step: float = 0.05,
    min_step: float = 1e-4,
    iterations: int = 50,
    on_iteration: Callable[[int, float, float], None] | None = None,
) -> tuple[np.ndarray, float]:
    """Regular-step gradient descent from ``x`` (ITK's RegularStepGradientDescent): steps of
    length ``step`` (the largest parameter change, in voxel units) along the gradient, the
    length halved whenever the gradient turns back, until it is under ``min_step``.

    It reads gradients only, never compares costs, so a cost that jumps by tiny amounts --
    Mattes MI as points cross the moving image's edge -- cannot stall it where it stalls the
    line search of :func:`minimize` short of the optimum. Appends to ``trace``; the iteration
    numbers given to ``on_iteration`` continue the trace's.

    Returns
    -------
    (x, cost) at the last step.
    """
    cost, grad = function(x, True)
    trace.evaluations += 1
    first = len(trace.costs)
    for iteration in range(iterations):
        largest = float(np.abs(grad).max())
        if largest == 0.0 or step < min_step:
            break
        x = x - (step / largest) * grad
        new_cost, new_grad = function(x, True)
        trace.evaluations += 1
        trace.costs.append(new_cost)
        trace.steps.append(step)
        if on_iteration is not None:
            on_iteration(first + iteration, new_cost, step)
        if float(new_grad @ grad) < 0:
            step *= 0.5
        cost, grad = new_cost, new_grad
    return x, cost
