"""Where sympy can say that a candidate is not real or not finite, and where, in words.

Every node of f that restricts the real line (square roots and other fractional powers, log,
division, tan) adds the set where its argument leaves the allowed range, solved by sympy over
the reals; the other operators are real and finite wherever their arguments are. sympy may be
slow: callers run :func:`symbolic_domain` under :func:`candidates.checks.time_limit`, and it
raises :class:`Undecided` where sympy cannot say (an equation it cannot solve, an operator
without a rule, a periodic inequality).

Example:
    >>> from candidates import parse
    >>> symbolic_domain(parse("1/(x - 60)")).message
    'a pole at x = 60; first offending x = 60'
    >>> symbolic_domain(parse("sqrt(x + 60)")).message
    'not real for x < -60; first offending x = -60'
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import numpy as np
import sympy as sp
from sympy.solvers.inequalities import solve_poly_inequality, solve_univariate_inequality

from ..expr import X
from ._domain import DomainDiagnosis
from ._numeric import Fn, evaluate
from ._symbolic import Undecided
from ._timeout import SymbolicTimeout

Kind = Literal["not real", "a pole", "infinite", "undefined"]


@dataclass(frozen=True)
class Trouble:
    """A set of x where one node of f is not real or not finite, and what goes wrong there."""

    kind: Kind
    where: sp.Set


#: Nodes that are real and finite wherever their arguments are.
_ENTIRE: tuple[type, ...] = (
    sp.Add,
    sp.Mul,
    sp.erf,
    sp.erfc,
    sp.tanh,
    sp.sinh,
    sp.cosh,
    sp.atan,
    sp.asinh,
    sp.exp,
    sp.sin,
    sp.cos,
    sp.Abs,
    sp.sign,
    sp.Min,
    sp.Max,
)
_PERIODIC = (sp.sin, sp.cos, sp.tan)


def symbolic_domain(expr: sp.Expr, f: Fn | None = None) -> DomainDiagnosis:
    """sympy's diagnosis of ``expr``; raises :class:`Undecided` where it cannot say.

    ``f`` (the compiled expression) tells a pole from a point where f is undefined but stays
    finite around it (sin(x)/x at 0).

    >>> from candidates import parse
    >>> symbolic_domain(parse("log(x + 100)")).message
    'not real for x < -100; infinite at x = -100; first offending x = -100'
    >>> symbolic_domain(parse("x/(1 + abs(x))")).ok
    True
    """
    troubles, undecided = collect_troubles(expr)
    if not troubles:
        if undecided:
            raise Undecided(undecided)
        return DomainDiagnosis(True, method="symbolic")
    parts: list[tuple[float, str]] = []
    for trouble in troubles:
        parts.extend(_described(trouble, f))
    parts.sort(key=lambda p: abs(p[0]))
    first = parts[0][0]
    message = "; ".join([*(text for _, text in parts), f"first offending x = {first:g}"])
    note = f"symbolic, in part: {undecided}" if undecided else None
    return DomainDiagnosis(False, message, first, method="symbolic", note=note)


def collect_troubles(expr: sp.Expr) -> tuple[list[Trouble], str | None]:
    """Every non-empty trouble set of ``expr``, merged by kind, and why sympy could not settle
    the rest (None when it settled all).

    >>> from candidates import parse
    >>> collect_troubles(parse("sqrt(x) + 1/(x - 1)"))[0]
    [Trouble(kind='not real', where=Interval.open(-oo, 0)), Trouble(kind='a pole', where={1})]
    """
    by_kind: dict[Kind, list[sp.Set]] = {}
    reasons: list[str] = []
    _walk(expr, by_kind, reasons)
    merged = [Trouble(kind, sp.Union(*sets)) for kind, sets in by_kind.items()]
    return [t for t in merged if t.where != sp.S.EmptySet], (reasons[0] if reasons else None)


def _walk(node: sp.Basic, by_kind: dict[Kind, list[sp.Set]], reasons: list[str]) -> None:
    conditions = _conditions(node)
    if conditions is None:
        # Nothing below a node without a rule is trusted either: a branch of a piecewise
        # function may be not real exactly where it is not used.
        reasons.append(f"no domain rule for {type(node).__name__}")
        return
    for kind, solve in conditions:
        try:
            by_kind.setdefault(kind, []).append(solve())
        except SymbolicTimeout:
            raise
        except Undecided as exc:
            reasons.append(str(exc))
        except Exception as exc:  # sympy raises many types on hard input; the rest may still tell
            reasons.append(f"{type(exc).__name__}: {exc}"[:200])
    for arg in node.args:
        _walk(arg, by_kind, reasons)


Condition = tuple[Kind, Callable[[], sp.Set]]


def _conditions(node: sp.Basic) -> list[Condition] | None:
    """What can go wrong at this node, each with a way to solve where; None: no rule."""
    if isinstance(node, sp.Pow):
        return _power_conditions(node.base, node.exp)
    if isinstance(node, sp.log):
        (arg,) = node.args
        return [("not real", lambda: _negative(arg)), ("infinite", lambda: _zeros(arg))]
    if isinstance(node, sp.tan):
        (arg,) = node.args
        return [("a pole", lambda: _zeros(sp.cos(arg)))]
    if node.is_Atom or isinstance(node, _ENTIRE):
        return []
    return None


def _power_conditions(base: sp.Expr, exponent: sp.Expr) -> list[Condition] | None:
    if not base.has(X):
        return [] if base.is_positive else None  # 2**x; a negative base is not real
    if exponent.has(X):
        return None
    found: list[Condition] = []
    if not _is_integer(exponent):
        # numpy (and sympy, for real x) has no real root of a negative number, odd or not.
        found.append(("not real", lambda: _negative(base)))
    if exponent.is_negative:
        found.append(("a pole", lambda: _zeros(base)))
    return found


def _is_integer(value: sp.Expr) -> bool:
    if value.is_integer:
        return True
    return bool(value.is_Float and float(value).is_integer())


def _negative(b: sp.Expr) -> sp.Set:
    """{x real: b(x) < 0}."""
    if b.is_nonnegative:
        return sp.S.EmptySet
    if b.is_negative:
        return sp.S.Reals
    if b.is_polynomial(X):
        return sp.Union(*solve_poly_inequality(sp.Poly(b, X), "<"))
    if b.has(*_PERIODIC):
        # solve_univariate_inequality answers one period of sin(x) < 0, not all of them.
        raise Undecided(f"a periodic inequality {b} < 0")
    return _solved(solve_univariate_inequality(b < 0, X, relational=False, domain=sp.S.Reals))


def _zeros(b: sp.Expr) -> sp.Set:
    """{x real: b(x) = 0}."""
    if b.is_zero is False:
        return sp.S.EmptySet
    return _solved(sp.solveset(sp.Eq(b, 0), X, sp.S.Reals))


def _solved(found: sp.Set) -> sp.Set:
    """A set sympy solved completely: intervals, points and integer-indexed families."""
    if found.has(sp.ConditionSet) or not _describable(found):
        raise Undecided(f"sympy gave {found}")
    return found


def _describable(s: sp.Set) -> bool:
    if isinstance(s, sp.Union):
        return all(_describable(a) for a in s.args)
    if isinstance(s, sp.ImageSet):
        return _affine(s) is not None
    return isinstance(s, (sp.Interval, sp.FiniteSet)) or s in (sp.S.EmptySet, sp.S.Reals)


def _affine(s: sp.ImageSet) -> tuple[sp.Expr, sp.Expr] | None:
    """(a, b) for the set {a*n + b: n integer}, or None for any other image set."""
    (n,) = s.lamda.variables
    body = sp.expand(s.lamda.expr)
    if s.base_sets != (sp.S.Integers,) or not body.is_polynomial(n):
        return None
    poly = sp.Poly(body, n)
    if poly.degree() != 1:
        return None
    a, b = poly.all_coeffs()
    return a, b


# --- in words ---------------------------------------------------------------------------------


def _described(trouble: Trouble, f: Fn | None) -> list[tuple[float, str]]:
    """(the offending x nearest 0, a phrase) for each piece of a trouble set."""
    if trouble.kind == "not real":
        pieces = trouble.where.args if isinstance(trouble.where, sp.Union) else [trouble.where]
        where = " and ".join(_where(piece) for piece in pieces[:3])
        more = f" and {len(pieces) - 3} more intervals" if len(pieces) > 3 else ""
        return [(min((_nearest_zero(p) for p in pieces), key=abs), f"not real for {where}{more}")]
    points = _points(trouble.where)
    shown = points[:2]
    if not isinstance(trouble.where, sp.FiniteSet):
        more = " and infinitely many more"
    else:
        more = f" and {len(points) - 2} more" if len(points) > 2 else ""
    by_kind: dict[Kind, list[sp.Expr]] = {}
    for value in shown:
        kind = trouble.kind
        if kind == "a pole" and f is not None and not _grows(f, float(value)):
            kind = "undefined"
        by_kind.setdefault(kind, []).append(value)
    phrases = [(float(values[0]), _points_phrase(kind, values)) for kind, values in by_kind.items()]
    x0, last = phrases[-1]
    phrases[-1] = (x0, last + more)
    return phrases


def _points_phrase(kind: Kind, values: list[sp.Expr]) -> str:
    at = "x = " + ", x = ".join(_show(v) for v in values)
    if kind == "a pole":
        return f"{'a pole' if len(values) == 1 else 'poles'} at {at}"
    if kind == "infinite":
        return f"infinite at {at}"
    return f"undefined at {at} (division by zero; f stays finite around it)"


def _where(piece: sp.Set) -> str:
    if piece == sp.S.Reals:
        return "every x"
    if isinstance(piece, sp.FiniteSet):
        return " and ".join(f"x = {_show(p)}" for p in piece.args)
    if isinstance(piece, sp.Interval):
        lo, hi = piece.start, piece.end
        left = "<" if piece.left_open else "<="
        right = "<" if piece.right_open else "<="
        if lo == -sp.oo:
            return f"x {right} {_show(hi)}"
        if hi == sp.oo:
            return f"x {'>' if piece.left_open else '>='} {_show(lo)}"
        return f"{_show(lo)} {left} x {right} {_show(hi)}"
    return str(piece)


def _show(value: sp.Expr) -> str:
    """A number as a reader wants it: exact when short, otherwise rounded."""
    if value.is_Float:
        return f"{float(value):.6g}"
    if value.is_Rational:
        decimal = f"{float(value):.12g}"  # 2001/2 reads better as 1000.5; 2/3 stays 2/3
        if sp.Rational(decimal) == value and len(decimal) <= 12:
            return decimal
    text = str(value)
    if value.is_Rational and len(text) <= 12:
        return text
    return f"{text} ≈ {float(value):.6g}" if len(text) <= 24 else f"{float(value):.6g}"


def _nearest_zero(piece: sp.Set) -> float:
    """The point of the closure of ``piece`` nearest 0."""
    if isinstance(piece, sp.Interval):
        lo, hi = float(piece.start), float(piece.end)
        return 0.0 if lo <= 0.0 <= hi else (hi if hi < 0 else lo)
    if piece == sp.S.Reals:
        return 0.0
    return float(_points(piece)[0])


def _points(s: sp.Set) -> list[sp.Expr]:
    """The points of a discrete set nearest 0 first (a few per integer-indexed family)."""
    if isinstance(s, sp.FiniteSet):
        found = list(s.args)
    elif isinstance(s, sp.Union):
        found = [p for a in s.args for p in _points(a)]
    elif isinstance(s, sp.ImageSet):
        a, b = _affine(s) or (sp.S.Zero, sp.S.Zero)
        n0 = math.floor(float(-b / a)) if a != 0 else 0
        found = [a * n + b for n in range(n0 - 1, n0 + 3)]
    else:
        raise Undecided(f"cannot list the points of {s}")
    return sorted(found, key=lambda p: (abs(float(p)), float(p)))


def _grows(f: Fn, x0: float) -> bool:
    """Whether |f| near x0 grows like a pole as x approaches it from a side where f is real."""
    scale = max(1.0, abs(x0))
    for side in (1.0, -1.0):
        near = evaluate(f, x0 + side * scale * np.array([1e-3, 1e-6, 1e-9]))
        if np.all(np.isfinite(near)) and abs(near[2]) > 10 * (abs(near[0]) + 1e-300):
            return True
    return False
