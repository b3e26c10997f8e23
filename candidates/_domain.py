"""Where a candidate is not real or not finite on R: the domain diagnosis.

Example:
    >>> diagnose_domain(lambda x: 1 / x).first_bad_x
    0.0
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ._numeric import FULL, Fn, Samples, evaluate

_INNER = np.abs(FULL) <= 50.0


@dataclass
class DomainDiagnosis:
    """Whether f is real and finite on all of R; where it is not, the first offending x."""

    ok: bool
    message: str | None = None
    first_bad_x: float | None = None
    overflow_beyond: float | None = None


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
    """Check f on [-50, 50] (dense, and log-spaced near 0): not real, infinite or a pole.

    Infinite values that run to the end of the grid are overflow of a fast-growing but finite
    function (exp(x)), not a domain error: they are reported as ``overflow_beyond``.
    """
    s = samples or Samples.of(f)
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
    ay = np.abs(np.where(np.isfinite(y), y, 0.0))
    scale = float(np.median(ay)) + 1.0
    interior = (ay[1:-1] >= ay[:-2]) & (ay[1:-1] >= ay[2:]) & (ay[1:-1] > 1e2 * scale)
    peaks = np.flatnonzero(interior) + 1
    for i in peaks[np.argsort(np.abs(x[peaks]), kind="stable")][:20]:
        pole = _pole_near(f, float(x[i - 1]), float(x[i + 1]), scale)
        if pole is not None:
            return DomainDiagnosis(False, f"infinite near x = {pole:.6g} (a pole)", pole)
    return DomainDiagnosis(True, overflow_beyond=overflow_beyond)
