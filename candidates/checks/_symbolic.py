"""Symbolic evidence with sympy: limits at ±∞, one-sided slopes at 0, derivative signs.

sympy's limit cannot see through Min/Max (clip), so :func:`eventual_limit` first replaces every
Min/Max by the argument that wins near the limit point, decided by the arguments' own limits.
Every function may raise; callers run them under :func:`candidates.checks.time_limit` and
fall back to numeric evidence.

Example:
    >>> from candidates import parse
    >>> eventual_limit(parse("clip(asinh(x), -1, 1)"), "+oo")
    1
"""

from __future__ import annotations

from typing import Literal

import sympy as sp
from sympy.calculus.singularities import is_decreasing, is_increasing

from ..expr import X

Point = Literal["+oo", "-oo", "0+", "0-"]
_Y = sp.Symbol("y", positive=True)


class Undecided(Exception):
    """sympy could not decide this; use numeric evidence instead."""


def _approach(expr: sp.Expr, point: Point) -> tuple[sp.Expr, sp.Expr]:
    """Rewrite f(x) as g(y) with y > 0 so that the limit point is y -> oo or y -> 0+."""
    sign = 1 if point in ("+oo", "0+") else -1
    target = sp.oo if point in ("+oo", "-oo") else sp.S.Zero
    return expr.xreplace({X: sign * _Y}), target


def _limit_y(expr: sp.Expr, target: sp.Expr) -> sp.Expr:
    resolved = _resolve_minmax(expr, target)
    value = sp.limit(resolved, _Y, target, "+")
    if value.has(sp.Limit):
        raise Undecided(f"no closed-form limit for {expr}")
    return value


def _resolve_minmax(expr: sp.Expr, target: sp.Expr) -> sp.Expr:
    if expr.has(sp.Piecewise):
        raise Undecided("piecewise expressions are checked numerically")
    if not isinstance(expr, (sp.Min, sp.Max)):
        if not expr.args:
            return expr
        return expr.func(*(_resolve_minmax(a, target) for a in expr.args))
    args = [_resolve_minmax(a, target) for a in expr.args]
    limits = [_limit_y(a, target) for a in args]
    if any(not lim.is_extended_real for lim in limits):
        raise Undecided("min/max of arguments without real limits")
    pick = min if isinstance(expr, sp.Min) else max
    best = pick(limits, key=float)
    if sum(1 for lim in limits if lim == best) > 1:
        raise Undecided("min/max arguments tie at the limit point")
    return args[limits.index(best)]


def eventual_limit(expr: sp.Expr, point: Point) -> sp.Expr:
    """lim f(x) as x -> point (±oo or 0±); may be ±oo or an AccumBounds."""
    g, target = _approach(expr, point)
    return _limit_y(g, target)


def one_sided_slope(expr: sp.Expr, side: Literal["0+", "0-"]) -> sp.Expr:
    """f'(0±) as the limit of (f(x) - f(0)) / x, which exists where f' does not (|x|, sign)."""
    f0 = expr.xreplace({X: sp.S.Zero})
    return eventual_limit((expr - f0) / X, side)


def zero_centered_values(expr: sp.Expr) -> tuple[sp.Expr, sp.Expr]:
    """(f(0), lim_{L->oo} f(L) + f(-L)) exactly."""
    f0 = expr.xreplace({X: sp.S.Zero})
    if not f0.is_finite:
        raise Undecided("f(0) is not finite")
    balance = eventual_limit(expr + expr.xreplace({X: -X}), "+oo")
    return f0, balance


def tail_limits(expr: sp.Expr) -> tuple[sp.Expr, sp.Expr]:
    return eventual_limit(expr, "+oo"), eventual_limit(expr, "-oo")


def growth_exponent(expr: sp.Expr, point: Point) -> sp.Expr:
    """p with |f(x)| ~ |x|^p at the given infinity: lim log|f| / log|x|."""
    g, _ = _approach(expr, point)
    g = _resolve_minmax(g, sp.oo)
    return sp.limit(sp.log(sp.Abs(g)) / sp.log(_Y), _Y, sp.oo)


def is_monotonic(expr: sp.Expr) -> tuple[bool, str]:
    """(True, direction) when f is proved monotonic on R; raises Undecided otherwise.

    Each half line is checked separately (there |x| and sign(x) are smooth), then the values
    at 0 are checked to join in the same direction.
    """
    if expr.has(sp.Min, sp.Max, sp.Piecewise):
        raise Undecided("min/max/clip expressions are checked numerically")
    right = expr.xreplace({X: _Y})
    left = expr.xreplace({X: -_Y})  # f on the negative half, as y = -x grows
    half = sp.Interval.open(0, sp.oo)
    f0 = expr.xreplace({X: sp.S.Zero})
    at_right, at_left = _limit_y(right, sp.S.Zero), _limit_y(left, sp.S.Zero)
    for direction, up, down in (
        ("non-decreasing", is_increasing, is_decreasing),
        ("non-increasing", is_decreasing, is_increasing),
    ):
        if up(right, half, _Y) and down(left, half, _Y):
            ordered = (at_left <= f0) if direction == "non-decreasing" else (at_left >= f0)
            ordered_r = (f0 <= at_right) if direction == "non-decreasing" else (f0 >= at_right)
            if ordered is sp.true and ordered_r is sp.true:
                return True, direction
    raise Undecided("sympy could not prove a derivative sign on both half lines")
