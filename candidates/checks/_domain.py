"""Where a candidate is not real or not finite on R: the domain diagnosis.

Numerically, f is read on the whole grid of :mod:`candidates.checks._numeric`: dense on [-50, 50],
log-spaced out to ±1e15. Infinite values that run to the end of the grid are overflow of a
fast-growing but finite function (exp(exp(x))), never "a pole". In the log-spaced tails a nan
may be float64 arithmetic rather than the function (inf - inf inside isru(expm1(x))); the
point before it is computed again in float32, where overflow comes much sooner: a domain edge
(sqrt(x + 60)) does not move, overflow does.

sympy's view of the same question is :mod:`candidates.checks._symbolic_domain`.

Example:
    >>> import numpy as np
    >>> diagnose_domain(lambda x: 1 / x).first_bad_x
    0.0
    >>> diagnose_domain(lambda x: np.sqrt(x + 60)).message
    'not real for x < -60; first offending x = -60'
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ._numeric import FULL, Fn, Samples, evaluate

#: The dense part of the grid; beyond it points are log-spaced, about 12 % apart.
DENSE = 50.0
_INNER = np.abs(FULL) <= DENSE
_ZERO = int(np.searchsorted(FULL, 0.0))
#: A pole makes |f - f(grid)| grow past this many times the size of f around it.
POLE_GROWTH = 1e6
#: Brackets searched for poles, nearest 0 first.
MAX_BRACKETS = 128


@dataclass
class DomainDiagnosis:
    """Whether f is real and finite on all of R; where it is not, the first offending x.

    ``method`` is ``symbolic`` when sympy settled it; ``note`` says why sympy did not.
    """

    ok: bool
    message: str | None = None
    first_bad_x: float | None = None
    overflow_beyond: float | None = None
    method: str = "numeric"
    note: str | None = None


def _pole_near(f: Fn, lo: float, hi: float, scale: float) -> float | None:
    """A pole between lo and hi: |f| keeps growing as the bracket around its peak shrinks."""
    a, b = lo, hi
    for _ in range(80):
        xs = np.linspace(a, b, 9)
        ys = np.abs(evaluate(f, xs))
        if not np.all(np.isfinite(ys)):
            return float(xs[int(np.argmax(~np.isfinite(ys)))])
        k = int(np.argmax(ys))
        if ys[k] > 1e12 * scale:
            return float(xs[k])
        a, b = xs[max(k - 1, 0)], xs[min(k + 1, 8)]
        if b - a < 1e-15 * max(1.0, abs(a)):
            break
    return None


def diagnose_domain(f: Fn, samples: Samples | None = None) -> DomainDiagnosis:
    """Check f on the whole grid: not real, infinite or a pole, on [-50, 50] and beyond.

    Infinite values that run to the end of the grid are overflow of a fast-growing but finite
    function (exp(x)), not a domain error: on [-50, 50] they are reported as
    ``overflow_beyond``.
    """
    s = samples or Samples.of(f)
    inner = _diagnose_inner(f, s)
    if not inner.ok:
        return inner
    # Outwards from 0 on each side, f is searched up to its first non-finite value.
    bad = np.flatnonzero(~np.isfinite(s.y))
    left = int(bad[bad < _ZERO].max(initial=-1))
    right = int(bad[bad > _ZERO].min(initial=FULL.size))
    found = [_pole_between_points(f, s.y, left + 1, right)]
    found += [_beyond(f, s.y, left, left + 1), _beyond(f, s.y, right, right - 1)]
    failures = [d for d in found if d is not None]
    if failures:
        return min(failures, key=lambda d: abs(d.first_bad_x or 0.0))
    return inner


def _diagnose_inner(f: Fn, s: Samples) -> DomainDiagnosis:
    """The dense part, [-50, 50]: nan anywhere is a domain error, and so is an inner inf."""
    x, y = FULL[_INNER], s.y[_INNER]
    nan = np.isnan(y)
    if nan.any():
        # Report the offending point nearest 0, counting infinite values next to the nan
        # region too: log(x + 2) is -inf at -2 and not real below.
        bad = x[nan | np.isinf(y)]
        x0 = float(bad[np.argmin(np.abs(bad))])
        side = ""
        if nan.mean() > 0.3 and (np.all(x[nan] < 0) or np.all(x[nan] > 0)):
            edge = x0 if abs(x0) > 1e-6 else 0.0
            side = f" for x {'<' if np.all(x[nan] < 0) else '>'} {edge:.4g}"
        return DomainDiagnosis(False, f"not real{side}; first offending x = {x0:g}", x0)
    inf = np.isinf(y)
    overflow_beyond = None
    if inf.any():
        # Overflow: the infinite points form a prefix and/or suffix of the grid.
        finite_idx = np.flatnonzero(~inf)
        if finite_idx.size == 0:
            return DomainDiagnosis(False, "not finite anywhere on [-50, 50]", 0.0)
        inner = inf[finite_idx[0] : finite_idx[-1] + 1]
        if inner.any():
            bad = x[finite_idx[0] : finite_idx[-1] + 1][inner]
            x0 = float(bad[np.argmin(np.abs(bad))])
            return DomainDiagnosis(False, f"infinite at x = {x0:g} (a pole)", x0)
        edges = x[inf]
        overflow_beyond = float(np.min(np.abs(edges)))
        if overflow_beyond < 4.0:
            return DomainDiagnosis(False, f"overflows already at x = {edges[0]:g}", float(edges[0]))
    # Peaks are looked for among finite values only: the last point before an overflow is
    # the edge of the overflow, not a pole (exp(exp(x)) beyond 6.5).
    finite = np.isfinite(y)
    scale = float(np.median(np.abs(np.where(finite, y, 0.0)))) + 1.0
    ay = np.abs(np.where(finite, y, np.inf))
    interior = (ay[1:-1] >= ay[:-2]) & (ay[1:-1] >= ay[2:]) & (ay[1:-1] > 1e2 * scale)
    interior &= finite[:-2] & finite[1:-1] & finite[2:]
    peaks = np.flatnonzero(interior) + 1
    for i in peaks[np.argsort(np.abs(x[peaks]), kind="stable")][:20]:
        pole = _pole_near(f, float(x[i - 1]), float(x[i + 1]), scale)
        if pole is not None:
            return DomainDiagnosis(False, f"infinite near x = {pole:.6g} (a pole)", pole)
    return DomainDiagnosis(True, overflow_beyond=overflow_beyond)


def _beyond(f: Fn, y: np.ndarray, edge: int, inward: int) -> DomainDiagnosis | None:
    """What the first non-finite value outwards from 0 (at index ``edge``) means: overflow
    (None), a pole, or the edge of a region where f is not real."""
    if not 0 <= edge < FULL.size or _overflows(f, float(FULL[inward])):
        return None  # float32 loses it sooner: overflow of a finite function
    beyond = y[edge + 1 :] if edge > inward else y[:edge]
    if np.isinf(y[edge]) and not np.isnan(beyond).any():
        if np.isfinite(beyond).any():  # finite again further out: inf at an isolated point
            x0 = float(FULL[edge])
            return DomainDiagnosis(False, f"infinite at x = {x0:g} (a pole)", x0)
        return None  # infinite to the end of the grid: overflow
    x0 = _real_edge(f, float(FULL[inward]), float(FULL[edge]))
    if np.isfinite(beyond).any():
        where = f"near x = {x0:.6g}"
    else:
        where = f"for x {'>' if edge > inward else '<'} {x0:.6g}"
    return DomainDiagnosis(False, f"not real {where}; first offending x = {x0:g}", x0)


def _overflows(f: Fn, x: float) -> bool:
    """Whether f(x) overflows in float32: a value float64 loses beyond x is then overflow."""
    with np.errstate(all="ignore"):
        y = np.asarray(f(np.array([x], dtype=np.float32)), dtype=float)
    return not np.all(np.isfinite(y))


def _real_edge(f: Fn, good: float, bad: float) -> float:
    """Bisect between a point where f is finite and one where it is not: the domain edge."""
    for _ in range(60):
        mid = 0.5 * (good + bad)
        if mid in (good, bad):
            break
        if np.isfinite(evaluate(f, np.array([mid]))[0]):
            good = mid
        else:
            bad = mid
    return float(round(bad, 9)) if abs(bad) < 1e6 else bad


def _pole_between_points(f: Fn, y: np.ndarray, start: int, stop: int) -> DomainDiagnosis | None:
    """A pole between grid points: f changes sign or turns, and |f| grows without bound there.

    The log-spaced grid can step over a pole, seeing only a sign change (1/(x - 60)) or, when
    something else dominates f (erf(x) + 1e-6*tan(x/40)), a small bump. The brackets nearest 0
    are zoomed into, all at once, following the largest deviation from f at the bracket's start.
    """
    x, y = FULL[start:stop], y[start:stop]
    if x.size < 3:
        return None
    # A turn by less than float64 noise (x/sqrt(x**2 + 1) near 1) is no evidence of a pole.
    left, right = y[1:-1] - y[:-2], y[2:] - y[1:-1]
    noise = 1e-10 * (1.0 + np.abs(y[1:-1]))
    turn = np.flatnonzero((left * right < 0) & (np.minimum(np.abs(left), np.abs(right)) > noise))
    cross = np.flatnonzero(y[:-1] * y[1:] < 0)
    lo = np.concatenate([turn, cross])
    hi = np.concatenate([turn + 2, cross + 1])
    if lo.size == 0:
        return None
    nearest = np.argsort(np.minimum(np.abs(x[lo]), np.abs(x[hi])), kind="stable")
    lo, hi = lo[nearest[:MAX_BRACKETS]], hi[nearest[:MAX_BRACKETS]]
    size = 1.0 + np.maximum.reduce([np.abs(y[lo]), np.abs(y[hi]), np.abs(y[(lo + hi) // 2])])
    peak_x, peak = _zoom(f, x[lo], x[hi], y[lo])
    poles = peak_x[peak > POLE_GROWTH * size]
    if poles.size == 0:
        return None
    x0 = float(poles[np.argmin(np.abs(poles))])
    return DomainDiagnosis(False, f"infinite near x = {x0:.6g} (a pole)", x0)


def _zoom(f: Fn, lo: np.ndarray, hi: np.ndarray, ref: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For each bracket, the x of the largest |f(x) - ref| found by repeated 9-point zooms."""
    rows = np.arange(lo.size)
    steps = np.linspace(0.0, 1.0, 9)
    for _ in range(30):
        xs = lo[:, None] + (hi - lo)[:, None] * steps  # (brackets, 9)
        dev = np.abs(evaluate(f, xs) - ref[:, None])
        dev = np.where(np.isnan(dev), -1.0, dev)  # a nan is no evidence of a pole
        k = np.argmax(dev, axis=1)
        lo, hi = xs[rows, np.maximum(k - 1, 0)], xs[rows, np.minimum(k + 1, 8)]
    return xs[rows, k], dev[rows, k]
