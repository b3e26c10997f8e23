"""Numeric evidence for the four properties: dense and log-spaced grids.

Every function here takes a compiled numpy function ``f`` and returns plain numbers, so the
same code serves a single ``derf-search check`` and the survivors of a large enumeration.

Example:
    >>> import numpy as np
    >>> s = Samples.of(np.tanh)
    >>> s.f0, [float(t[-1]) for t in s.tails()]
    (0.0, [1.0, -1.0])
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

Fn = Callable[[np.ndarray], np.ndarray]


def symmetric(positive: np.ndarray) -> np.ndarray:
    """Mirror a grid of positive points into a sorted grid that contains 0 and is exactly odd."""
    pos = np.unique(positive[positive > 0])
    return np.concatenate([-pos[::-1], [0.0], pos])


TAIL = np.logspace(0, 15, 301)
#: One grid for all checks: dense on [-50, 50], log-spaced towards 0 and out to 1e15.
FULL = symmetric(
    np.concatenate(
        [
            np.linspace(0.0, 50.0, 8001),
            np.logspace(-12, 0, 121),
            np.logspace(-8, math.log10(4.0), 801),
            TAIL,
        ]
    )
)
_TAIL_POS = np.searchsorted(FULL, TAIL)
_TAIL_NEG = np.searchsorted(FULL, -TAIL)
_ZERO = int(np.searchsorted(FULL, 0.0))


def evaluate(f: Fn, x: np.ndarray) -> np.ndarray:
    with np.errstate(all="ignore"):
        y = np.asarray(f(x), dtype=float)
    return np.broadcast_to(y, x.shape).astype(float, copy=False)


@dataclass
class Samples:
    """f evaluated once on :data:`FULL`; every check reads its slice."""

    f: Fn
    y: np.ndarray

    @classmethod
    def of(cls, f: Fn) -> Samples:
        return cls(f, evaluate(f, FULL))

    @property
    def f0(self) -> float:
        return float(self.y[_ZERO])

    def tails(self) -> tuple[np.ndarray, np.ndarray]:
        """f(L) and f(-L) for L in :data:`TAIL`."""
        return self.y[_TAIL_POS], self.y[_TAIL_NEG]


def scale_R(s: Samples, window: float) -> float:
    """R = max |f| over [-window, window]."""
    inside = np.abs(FULL) <= window
    return float(np.max(np.abs(s.y[inside])))


def zero_centered(s: Samples, R: float, tol: float) -> tuple[bool, float, dict[str, Any]]:
    f0 = s.f0
    pos, neg = s.tails()
    both = np.isfinite(pos) & np.isfinite(neg)
    last = np.flatnonzero(both)
    if last.size == 0:
        balance, lim_pos, lim_neg = math.inf, math.nan, math.nan
    else:
        # The limit of f(L) + f(-L) is estimated at the largest L where f is finite; where it
        # still moves over the last decades (no limit: cos(x) - 1), the largest value counts.
        with np.errstate(all="ignore"):
            sums = (pos + neg)[both]
        far = TAIL[both] >= TAIL[last[-1]] / 1e3
        balance = abs(float(sums[-1]))
        if np.ptp(sums[far]) > tol * R:
            balance = float(np.max(np.abs(sums[far])))
        lim_pos, lim_neg = float(pos[last[-1]]), float(neg[last[-1]])
    score = max(abs(f0), balance) / R
    ok = abs(f0) <= tol * R and balance <= tol * R
    return (
        ok,
        score,
        {
            "f(0)": f0,
            "R": R,
            "f(+inf)": lim_pos,
            "f(-inf)": lim_neg,
            "balance": balance,
            "tolerance": tol * R,
        },
    )


def growth_class(exponent: float) -> str:
    """Name the growth of an unbounded function from its tail exponent p (|f| ~ x^p)."""
    if not math.isfinite(exponent) or exponent > 1.05:
        return "faster"
    if exponent >= 0.95:
        return "linear"
    if exponent > 0.08:
        return "power p<1"
    return "logarithmic"


def bounded(s: Samples, R: float) -> tuple[bool, float, dict[str, Any]]:
    pos, neg = s.tails()
    m = np.maximum(np.abs(pos), np.abs(neg))
    if np.isinf(m).any():
        first = float(TAIL[np.argmax(np.isinf(m))])
        return False, math.inf, {"growth": "faster", "exponent": math.inf, "overflow_at": first}
    # nan in the far tail comes from inf/inf or inf - inf inside a finite function
    # (isru(expm1(x))): judge growth on the points that could be computed.
    keep = np.isfinite(m)
    if keep.sum() < 10:
        return False, math.inf, {"growth": "unknown", "note": "tails not computable"}
    tail, m = TAIL[keep], m[keep]
    split = tail <= math.sqrt(tail[-1])
    if split.all() or not split.any():
        split = np.arange(tail.size) < tail.size // 2
    below, above = float(np.max(m[split])), float(np.max(m[~split]))
    sup = max(R, below, above)
    if above - below <= 1e-2 * max(R, below):
        return True, sup / R, {"sup": sup, "growth": "bounded"}
    hi = tail.size - 1
    lo = int(np.searchsorted(tail, tail[hi] / 1e3))
    ratio = m[hi] / m[lo] if m[lo] > 0 else math.inf
    exponent = math.log(ratio) / math.log(tail[hi] / tail[lo]) if ratio > 0 else 0.0
    return (
        False,
        math.inf,
        {
            "growth": growth_class(exponent),
            "exponent": round(exponent, 3),
            f"|f| at {tail[hi]:.0e}": float(m[hi]),
        },
    )


def one_sided_slopes(f: Fn) -> tuple[float, float]:
    """f'(0+) and f'(0-) by difference quotients; infinite when they keep growing as h -> 0."""
    f0 = float(evaluate(f, np.zeros(1))[0])
    hs = np.array([1e-4, 1e-6, 1e-8])
    slopes = []
    for side in (1.0, -1.0):
        d = (evaluate(f, side * hs) - f0) / (side * hs)
        if abs(d[2]) > 10 * abs(d[1]) > 100 * abs(d[0]) > 0:
            slopes.append(math.copysign(math.inf, d[2]))
        else:
            slopes.append(float(d[2]) if abs(d[2]) > 1e-7 else 0.0)
    return slopes[0], slopes[1]


def center_sensitive(
    s: Samples, R: float, flat_tol: float, flat_width: float, window: float
) -> tuple[bool, float, dict[str, Any]]:
    inside = np.abs(FULL) <= window
    x = FULL[inside]
    dev = np.abs(s.y[inside] - s.f0)
    violating = dev > flat_tol * R
    width = float(np.min(np.abs(x[violating]))) if violating.any() else window
    right, left = one_sided_slopes(s.f)
    ok = width < flat_width
    return (
        ok,
        right,
        {"flat_width": width, "f'(0+)": right, "f'(0-)": left, "threshold": flat_width},
    )


def monotonic(s: Samples, R: float, window: float) -> tuple[bool, float, dict[str, Any]]:
    found = _monotonic_on(FULL, s.y, R)
    if not found[0]:
        # Prefer a counterexample a reader can see on a plot of the window.
        inside = np.abs(FULL) <= window
        local = _monotonic_on(FULL[inside], s.y[inside], R)
        if not local[0]:
            return (
                found[0],
                found[1],
                {
                    **found[2],
                    "direction": local[2]["direction"],
                    "counterexample": local[2]["counterexample"],
                },
            )
    return found


def _monotonic_on(x: np.ndarray, y: np.ndarray, R: float) -> tuple[bool, float, dict[str, Any]]:
    keep = np.isfinite(y)
    x, y = x[keep], y[keep]
    d = np.diff(y)
    up, down = float(np.sum(d[d > 0])), float(-np.sum(d[d < 0]))
    increasing = up >= down
    z = y if increasing else -y
    run_max = np.maximum.accumulate(z)
    drop = run_max - z
    j = int(np.argmax(drop))
    eps = 1e-9 * max(R, 1.0)
    direction = "non-decreasing" if increasing else "non-increasing"
    total = up + down
    score = (max(up, down) / total) if total > 0 else 1.0
    if drop[j] <= eps:
        return True, score, {"direction": direction}
    i = int(np.argmax(z[: j + 1]))
    return (
        False,
        score,
        {
            "direction": f"mostly {direction}",
            "counterexample": {
                "x1": float(x[i]),
                "x2": float(x[j]),
                "f(x1)": float(y[i]),
                "f(x2)": float(y[j]),
            },
        },
    )
