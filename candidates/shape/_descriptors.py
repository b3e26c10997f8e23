"""Shape descriptors: numbers about f computed without training, at the template's α0.

At initialisation the template is f(α0·x) with γ = 1 and β = 0, and the inputs of a norm layer
are roughly standard normal. Two numbers say what a short training sees first:

- ``spread``: the standard deviation of f(α0·z) for z ~ N(0, 1), over the scale R (the
  largest |f| on [-4, 4], the property checks' scale) — how much signal passes at the start;
- ``slope``: α0·f'(0) over R — the gain a small input gets.

They are a zero-cost predictor (calibration scores them beside trained proxies) and the rule of
the ``gain-matched`` protocol (:func:`matched_alpha0`: one α0 per function so that every
function passes the same spread at initialisation).

Example:
    >>> d = describe("erf(x)", alpha0=0.5)
    >>> round(d.spread, 3), round(d.slope, 3)
    (0.465, 0.564)
    >>> round(matched_alpha0("x", target=spread_of("erf(x)", 0.5)), 3)
    0.465
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from scipy.special import ndtri

from .._errors import UserError
from ..catalog import DEFAULT_ALPHA0, resolve_text
from ..expr import compile_numpy

#: The property checks' window for the scale R.
WINDOW = 4.0
#: Step of the central difference for f'(0).
SLOPE_STEP = 1e-4
#: Where :func:`matched_alpha0` looks for α0.
ALPHA0_BOUNDS = (1e-3, 1e3)

#: N(0, 1) at 4,001 evenly spaced quantiles: the same Gaussian inputs for every function.
GAUSSIAN = np.asarray(ndtri((np.arange(4001) + 0.5) / 4001), dtype=np.float64)


@dataclass(frozen=True)
class Descriptors:
    """What f looks like to a template at α0 (see the module docstring)."""

    alpha0: float
    spread: float
    slope: float
    scale: float  # R, the largest |f| on [-4, 4]


@lru_cache(maxsize=4096)
def _function(expression: str) -> tuple[np.ndarray, Callable[[np.ndarray], np.ndarray]]:
    fn = compile_numpy(resolve_text(expression)[1])
    grid = np.linspace(-WINDOW, WINDOW, 8001)
    return np.asarray(fn(grid), dtype=np.float64), fn


def _scale(expression: str) -> float:
    values, _ = _function(expression)
    finite = np.abs(values[np.isfinite(values)])
    scale = float(finite.max()) if finite.size else math.nan
    if not scale > 0:
        raise UserError(f"{expression!r} is zero on [-{WINDOW:g}, {WINDOW:g}]: it has no scale")
    return scale


def spread_of(expression: str, alpha0: float) -> float:
    """The standard deviation of f(α0·z), z ~ N(0, 1) (not divided by R)."""
    _, fn = _function(expression)
    with np.errstate(all="ignore"):
        values = np.asarray(fn(alpha0 * GAUSSIAN), dtype=np.float64)
        spread = float(np.std(values))
    return spread if math.isfinite(spread) else math.inf


def describe(expression: str, *, alpha0: float) -> Descriptors:
    """The descriptors of ``expression`` (an expression in x or a catalog name) at ``alpha0``."""
    if not alpha0 > 0:
        raise UserError(f"alpha0 must be positive, but got {alpha0=}.")
    scale = _scale(expression)
    _, fn = _function(expression)
    with np.errstate(all="ignore"):
        ends = np.asarray(fn(np.array([-SLOPE_STEP, SLOPE_STEP])), dtype=np.float64)
    slope = float(ends[1] - ends[0]) / (2 * SLOPE_STEP)
    return Descriptors(
        alpha0=alpha0,
        spread=spread_of(expression, alpha0) / scale,
        slope=alpha0 * slope / scale,
        scale=scale,
    )


def matched_alpha0(expression: str, *, target: float) -> float:
    """The α0 at which f(α0·z) has standard deviation ``target`` (one rule for every function).

    Searched on a log grid over :data:`ALPHA0_BOUNDS`, then refined by bisection at the
    crossing of ``target`` nearest :data:`DEFAULT_ALPHA0`. Where ``target`` is out of reach
    (a bounded f whose largest spread is smaller) the closest α0 is returned; where the spread
    does not depend on α0 (sign(x)), the one nearest :data:`DEFAULT_ALPHA0`."""
    if not target > 0:
        raise UserError(f"target spread must be positive, but got {target=}.")

    grid = np.linspace(math.log(ALPHA0_BOUNDS[0]), math.log(ALPHA0_BOUNDS[1]), 121)
    excess = np.array([spread_of(expression, math.exp(a)) - target for a in grid])
    crossings = np.flatnonzero(np.sign(excess[:-1]) * np.sign(excess[1:]) < 0)
    home = math.log(DEFAULT_ALPHA0)
    if crossings.size:  # the crossing nearest the default α0 (the spread need not be monotone)
        lo = int(crossings[np.argmin(np.abs(grid[crossings] - home))])
        a, b, sign = grid[lo], grid[lo + 1], np.sign(excess[lo])
        for _ in range(50):
            mid = 0.5 * (a + b)
            if np.sign(spread_of(expression, math.exp(mid)) - target) == sign:
                a = mid
            else:
                b = mid
        return float(math.exp(0.5 * (a + b)))
    with np.errstate(divide="ignore"):
        gaps = np.abs(np.log(np.maximum(excess + target, 1e-300)) - math.log(target))
    close = np.flatnonzero(gaps <= gaps.min() + 1e-9)
    return float(math.exp(grid[close[np.argmin(np.abs(grid[close] - home))]]))
