"""Canonical forms and behaviour hashes: dedupe modulo the template y = γ·f(α·x + s) + β.

γ absorbs output scale and sign, α absorbs input scale and mirroring, so f(x), 3·f(x), f(2x),
-f(x) and f(-x) are one candidate. :func:`canonical_form` removes such constants symbolically
where it can see them; :func:`behaviour_signature` catches the rest (tanh(x) and
2·sigmoid(2x) - 1) by comparing outputs after normalising input and output scale.

Example:
    >>> from candidates import parse
    >>> from candidates import to_source
    >>> to_source(canonical_form(parse("-3*tanh(2*x)")))
    'tanh(x)'
    >>> candidate_id(parse("tanh(x)")) == candidate_id(canonical_form(parse("tanh(3*x)")))
    True
"""

from __future__ import annotations

import hashlib
import math

import numpy as np
import sympy as sp

from ..checks import Fn, evaluate, symmetric
from ..expr import X, compile_numpy, to_source


def _strip_output_scale(expr: sp.Expr) -> sp.Expr:
    coeff, rest = expr.as_independent(X, as_Add=False)
    return rest if coeff != 0 and rest.free_symbols else expr


def _input_coefficients(expr: sp.Expr) -> set[sp.Expr]:
    """The constants c with which x appears as c·x; 1 for a bare x."""
    found: set[sp.Expr] = set()

    def visit(node: sp.Basic) -> None:
        if node == X:
            found.add(sp.S.One)
            return
        if isinstance(node, sp.Mul):
            coeff, rest = node.as_coeff_Mul()
            if rest == X:
                found.add(coeff)
                return
            if rest == sp.Abs(X):  # sympy writes |c·x| as |c|·|x|
                found.add(abs(coeff))
                return
        for arg in node.args:
            visit(arg)

    visit(expr)
    return found


def _orientation(expr: sp.Expr) -> float:
    f = compile_numpy(expr)
    y = evaluate(f, np.array([-1.0, 1.0, 0.5, -0.5]))
    return float((y[1] - y[0]) + (y[2] - y[3]))


def _input_scaled(expr: sp.Expr) -> sp.Expr:
    """Undo an input scale c·x: among x -> x/c for the constants c that x appears with, the
    simplest result (fewest operations, then shortest text)."""
    coeffs = sorted(c for c in _input_coefficients(expr) if c not in (0, 1))[:4]
    if not coeffs:  # most candidates: nothing to compare, so no key to print and count
        return expr
    best, best_key = expr, (sp.count_ops(expr), len(str(expr)))
    for c in coeffs:
        scaled = _strip_output_scale(expr.xreplace({X: X / c}))
        key = (sp.count_ops(scaled), len(str(scaled)))
        if key < best_key:
            best, best_key = scaled, key
    return best


def canonical_form(expr: sp.Expr) -> sp.Expr:
    """``expr`` without the output scale, input scale and sign the template absorbs."""
    out = _input_scaled(_strip_output_scale(expr))
    try:
        if _orientation(out) < 0:
            mirrored = out.xreplace({X: -X})
            out = mirrored if _orientation(mirrored) > 0 else _strip_output_scale(-out)
    except (TypeError, ValueError):  # not compilable: leave the orientation as written
        pass
    return out


def candidate_id(canonical: sp.Expr | str) -> str:
    """A stable id: a hash of the canonical form's source text (or of that text, given).

    >>> candidate_id(canonical_form(sp.erf(2 * X))) == candidate_id("erf(x)") == "c825163766c8"
    True
    """
    text = canonical if isinstance(canonical, str) else to_source(canonical)
    return "c" + hashlib.sha256(text.encode()).hexdigest()[:11]


_POSITIVE = np.unique(np.concatenate([np.linspace(0.0, 8.0, 4001)[1:], np.logspace(-6, 12, 361)]))
# Symmetric, so that reversing the samples of g(t) gives g(-t).
_T = symmetric(np.concatenate([np.linspace(0.0, 8.0, 81), [16.0, 32.0, 100.0]]))


def _half_point(h: Fn, h0: float, M: float, dev: np.ndarray) -> float | None:
    """Where |h - h0| first reaches M/2 on the positive side; ``dev`` is |h - h0| on
    :data:`_POSITIVE`, which the caller has already evaluated."""
    above = np.flatnonzero(np.isfinite(dev) & (dev >= 0.5 * M))
    if above.size == 0:
        return None
    k = int(above[0])
    lo, hi = (0.0 if k == 0 else float(_POSITIVE[k - 1])), float(_POSITIVE[k])
    for _ in range(4):  # refine the crossing: the scale must not depend on the grid
        xs = np.linspace(lo, hi, 257)
        hit = np.flatnonzero(np.abs(evaluate(h, xs) - h0) >= 0.5 * M)
        if hit.size == 0:
            break
        j = int(hit[0])
        lo, hi = (float(xs[j - 1]) if j else lo), float(xs[j])
    return hi


def behaviour_signature(f: Fn) -> str | None:
    """A hash of f's shape, equal for f(x), c·f(x), f(c·x), -f(x) and f(-x).

    Returns None for functions without a usable scale (constant, or not finite).
    """
    variants = []
    for side in (1.0, -1.0):

        def h(x: np.ndarray, side: float = side) -> np.ndarray:
            return f(side * x)

        h0 = float(evaluate(h, np.zeros(1))[0])
        dev = np.abs(evaluate(h, _POSITIVE) - h0)
        # Far-tail nan from inf/inf (an overflowing ratio of exponentials) is float noise, not
        # shape; infinite values mean the function itself overflows.
        finite = np.isfinite(dev)
        if finite.mean() < 0.9 or np.isinf(dev).any():
            return None
        M = float(np.max(dev[finite]))
        if not (math.isfinite(h0) and M > 0):
            return None
        x_half = _half_point(h, h0, M, dev)
        if x_half is None or x_half <= 0:
            return None
        g = evaluate(h, _T * x_half) / M
        if not np.all(np.isfinite(g)):
            return None
        for flip in (1.0, -1.0):
            for sign in (1.0, -1.0):
                values = sign * (g if flip > 0 else g[::-1])
                variants.append((np.round(values, 5) + 0.0).tobytes())
    return hashlib.sha1(min(variants)).hexdigest()[:16]
