"""The four properties: zero-centred, bounded, centre-sensitive, monotonic (defined in
docs/commands/candidates.md, "The four properties").

Each check is numeric first (dense and log-spaced grids); sympy then tries to prove the same
thing under a time limit. A verdict's ``method`` is ``symbolic`` only when sympy settled it.

Example:
    >>> from candidates import parse
    >>> result = check_properties(parse("erf(x)"))
    >>> result.domain.ok, all(v.passed for v in result.verdicts.values())
    (True, True)
    >>> check_properties(parse("erf(x) + 1")).verdicts["zero_centered"].passed
    False
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import sympy as sp

from .._errors import UserError
from ..expr import compile_numpy
from . import _numeric as num
from . import _symbolic as sym
from ._domain import DomainDiagnosis, diagnose_domain
from ._symbolic_domain import symbolic_domain
from ._timeout import SymbolicTimeout, SymbolicUnavailable, time_limit

PROPERTIES = ("zero_centered", "bounded", "center_sensitive", "monotonic")
#: The share of ``symbolic_seconds`` the domain may take, so that a domain sympy cannot settle
#: still leaves time for the four checks.
DOMAIN_SHARE = 0.5


@dataclass(frozen=True)
class Tolerances:
    """The settings of the four checks (docs/commands/candidates.md gives the defaults)."""

    window: float = 4.0
    zero_centered: float = 0.05
    flat_tolerance: float = 1e-4
    flat_width: float = 0.1
    symbolic_seconds: float = 3.0

    def __post_init__(self) -> None:
        for name in ("window", "zero_centered", "flat_tolerance", "flat_width"):
            value = getattr(self, name)
            if not (isinstance(value, (int, float)) and value > 0 and math.isfinite(value)):
                raise UserError(f"tolerance {name} must be a positive number, but got {value!r}.")
        if not 0 <= self.symbolic_seconds < float("inf"):
            raise UserError(
                f"symbolic_seconds must be a finite number >= 0, but got {self.symbolic_seconds!r}."
            )


@dataclass
class PropertyVerdict:
    """One property's outcome: pass/fail, a graded score, how it was decided, and why."""

    passed: bool
    score: float | None
    method: str
    evidence: dict[str, Any] = field(default_factory=dict)


@dataclass
class PropertyResult:
    domain: DomainDiagnosis
    verdicts: dict[str, PropertyVerdict]
    R: float | None = None  # max |f| over the window, the scale of the tolerances
    symbolic_seconds: float = 0.0

    @property
    def passed(self) -> bool:
        return self.domain.ok and all(v.passed for v in self.verdicts.values())


def _exact(value: sp.Expr) -> float:
    return float(value) if value.is_extended_real else math.nan


def check_properties(
    expr: sp.Expr, *, tolerances: Tolerances | None = None, symbolic: bool = True
) -> PropertyResult:
    """Run the domain diagnosis and the four checks on ``expr`` (a sympy expression in x)."""
    tol = tolerances or Tolerances()
    result = numeric_properties(compile_numpy(expr), tolerances=tol)
    if symbolic:
        confirm_symbolically(expr, result, tolerances=tol)
    return result


def numeric_properties(f: num.Fn, *, tolerances: Tolerances | None = None) -> PropertyResult:
    """The domain diagnosis and the four numeric verdicts of a numpy function."""
    # inf - inf and 0 * inf are expected on the far grid; the checks handle non-finite values.
    with np.errstate(all="ignore"):
        return _numeric_properties(f, tolerances or Tolerances())


def _nothing_to_judge(domain: DomainDiagnosis, reason: str) -> PropertyResult:
    """Every property failed, each saying why none could be checked."""
    verdicts = {
        p: PropertyVerdict(False, None, domain.method, {"skipped": reason}) for p in PROPERTIES
    }
    return PropertyResult(domain, verdicts)


def _not_real_and_finite(domain: DomainDiagnosis) -> PropertyResult:
    return _nothing_to_judge(domain, f"f is not real and finite on R: {domain.message}")


def _numeric_properties(f: num.Fn, tol: Tolerances) -> PropertyResult:
    samples = num.Samples.of(f)
    domain = diagnose_domain(f, samples)
    if not domain.ok:
        return _not_real_and_finite(domain)
    R = num.scale_R(samples, tol.window)
    if not (R > 0 and math.isfinite(R)):
        return _nothing_to_judge(
            domain, f"f is zero on [-{tol.window:g}, {tol.window:g}] (R = {R:g})"
        )
    verdicts = {
        "zero_centered": _numeric_verdict(num.zero_centered(samples, R, tol.zero_centered)),
        "bounded": _numeric_verdict(num.bounded(samples, R)),
        "center_sensitive": _numeric_verdict(
            num.center_sensitive(samples, R, tol.flat_tolerance, tol.flat_width, tol.window)
        ),
        "monotonic": _numeric_verdict(num.monotonic(samples, R, tol.window)),
    }
    if domain.overflow_beyond is not None:
        verdicts["bounded"].evidence["overflow_beyond"] = domain.overflow_beyond
    return PropertyResult(domain, verdicts, R=R)


def confirm_symbolically(
    expr: sp.Expr, result: PropertyResult, *, tolerances: Tolerances | None = None
) -> None:
    """Let sympy settle what it can of ``result`` within ``tolerances.symbolic_seconds``: first
    the domain (in at most :data:`DOMAIN_SHARE` of the time), then the four verdicts."""
    tol = tolerances or Tolerances()
    if tol.symbolic_seconds <= 0:
        return
    start = time.perf_counter()
    deadline = start + tol.symbolic_seconds
    _confirm_domain(expr, result, DOMAIN_SHARE * tol.symbolic_seconds)
    if result.domain.ok and result.R is not None:
        _confirm_symbolically(expr, result.R, tol, result.verdicts, deadline)
    result.symbolic_seconds += time.perf_counter() - start


def _confirm_domain(expr: sp.Expr, result: PropertyResult, seconds: float) -> None:
    """sympy's domain within ``seconds``: it confirms a numeric pass, or overrules it with the
    exact set where f is not real or not finite (the grid only brackets those). Where sympy
    cannot say in time, the numeric diagnosis stands and ``note`` says why."""
    domain = result.domain
    try:
        with time_limit(seconds):
            found = symbolic_domain(expr, compile_numpy(expr))
    except SymbolicUnavailable as exc:
        domain.note = f"symbolic: {exc}"
        return
    except SymbolicTimeout:
        domain.note = f"symbolic: timed out after {seconds:g} s"
        return
    except (sym.Undecided, Exception) as exc:  # sympy raises many types on hard input
        domain.note = f"symbolic: undecided: {type(exc).__name__}: {exc}"[:200]
        return
    if not found.ok:
        if found.note and not domain.ok and _nearer(domain, found):
            # sympy settled only part of f, and the grid found trouble nearer to 0.
            domain.note = found.note
            return
        updated = _not_real_and_finite(found)
        result.domain, result.verdicts, result.R = updated.domain, updated.verdicts, None
    elif domain.ok:
        domain.method = "symbolic"
    else:
        # Real and finite on R, but not in float64 (overflow inside the window): the numeric
        # failure stands, since the float64 computation is what a network would run.
        domain.note = "symbolic: real and finite on R; the float64 computation is not"


def _nearer(a: DomainDiagnosis, b: DomainDiagnosis) -> bool:
    """Whether a's first offending x is nearer to 0 than b's."""
    return abs(a.first_bad_x or 0.0) < abs(b.first_bad_x or 0.0) - 1e-9


def _numeric_verdict(found: tuple[bool, float, dict[str, Any]]) -> PropertyVerdict:
    ok, score, evidence = found
    return PropertyVerdict(ok, score, "numeric", evidence)


def _confirm_symbolically(
    expr: sp.Expr,
    R: float,
    tol: Tolerances,
    verdicts: dict[str, PropertyVerdict],
    deadline: float,
) -> None:
    """Let sympy settle what it can within the time limit; numeric verdicts stand otherwise."""
    steps = (
        ("zero_centered", _sym_zero_centered),
        ("bounded", _sym_bounded),
        ("center_sensitive", _sym_center_slopes),
        ("monotonic", _sym_monotonic),
    )
    for name, step in steps:
        remaining = deadline - time.perf_counter()
        verdict = verdicts[name]
        try:
            with time_limit(remaining):
                step(expr, R, tol, verdict)
        except SymbolicUnavailable as exc:
            verdict.evidence["symbolic"] = str(exc)
            return
        except SymbolicTimeout:
            verdict.evidence["symbolic"] = f"timed out after {tol.symbolic_seconds:g} s"
            for later, _ in steps[[n for n, _ in steps].index(name) + 1 :]:
                verdicts[later].evidence["symbolic"] = "not tried: time limit reached"
            return
        except (sym.Undecided, Exception) as exc:  # sympy raises many types on hard input
            verdict.evidence["symbolic"] = f"undecided: {type(exc).__name__}: {exc}"[:200]


def _sym_zero_centered(expr: sp.Expr, R: float, tol: Tolerances, v: PropertyVerdict) -> None:
    f0, balance = sym.zero_centered_values(expr)
    if not (f0.is_finite and balance.is_extended_real):
        raise sym.Undecided(f"balance limit is {balance}")
    f0_v, bal_v = abs(_exact(f0)), abs(_exact(balance))
    ok = f0_v <= tol.zero_centered * R and bal_v <= tol.zero_centered * R
    v.passed, v.score, v.method = ok, max(f0_v, bal_v) / R, "symbolic"
    v.evidence.update({"f(0)": str(f0), "balance": str(balance)})
    try:
        lim_pos, lim_neg = sym.tail_limits(expr)
        v.evidence.update({"f(+inf)": str(lim_pos), "f(-inf)": str(lim_neg)})
    except Exception:  # the limits of f alone are a courtesy; the balance decided
        pass


def _sym_bounded(expr: sp.Expr, R: float, tol: Tolerances, v: PropertyVerdict) -> None:
    limits = sym.tail_limits(expr)
    evidence: dict[str, Any] = {"f(+inf)": str(limits[0]), "f(-inf)": str(limits[1])}
    if all(lim.is_finite for lim in limits) or all(
        isinstance(lim, sp.AccumBounds) and lim.min.is_finite and lim.max.is_finite
        for lim in limits
    ):
        v.passed, v.method = True, "symbolic"
        v.evidence.update(evidence)
        return
    if any(lim in (sp.oo, -sp.oo) for lim in limits):
        v.passed, v.method, v.score = False, "symbolic", math.inf
        v.evidence.update(evidence)
        side: sym.Point = "+oo" if limits[0] in (sp.oo, -sp.oo) else "-oo"
        p = sym.growth_exponent(expr, side)
        if p.is_extended_real:
            v.evidence["exponent"] = str(p)
            v.evidence["growth"] = num.growth_class(float(p)) if p.is_finite else "faster"
            if p == 0:
                v.evidence["growth"] = "logarithmic"
        return
    raise sym.Undecided(f"tail limits {limits}")


def _sym_center_slopes(expr: sp.Expr, R: float, tol: Tolerances, v: PropertyVerdict) -> None:
    # The verdict (flat width against a tolerance) is numeric by definition; sympy gives the
    # exact one-sided slopes used as the graded score.
    right = sym.one_sided_slope(expr, "0+")
    left = sym.one_sided_slope(expr, "0-")
    v.evidence.update({"f'(0+)": str(right), "f'(0-)": str(left), "slopes": "symbolic"})
    if right.is_extended_real:
        v.score = float(right)


def _sym_monotonic(expr: sp.Expr, R: float, tol: Tolerances, v: PropertyVerdict) -> None:
    proved, direction = sym.is_monotonic(expr)
    if proved and v.passed:
        v.method = "symbolic"
        v.evidence["direction"] = direction
    elif proved:
        # A concrete counterexample outweighs a derivation sympy may have got wrong.
        v.evidence["symbolic"] = "sympy claimed monotonic; the counterexample stands"
