"""The vectorised numeric screen: many expressions' values on one grid, judged at once.

Rows of a matrix are expressions, columns the points of :data:`GRID`. Each property becomes a
few array reductions, so screening costs microseconds per expression. The screen applies the
same tolerances as the full checks, on a coarser grid; survivors are checked again in full.

Example:
    >>> import numpy as np
    >>> values = np.stack([np.tanh(GRID), GRID, np.tanh(GRID) + 1])
    >>> screen(values, ("zero_centered", "bounded")).passed.tolist()
    [True, False, False]
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ..checks import PROPERTIES, Tolerances, symmetric

GRID = symmetric(
    np.concatenate(
        [
            np.linspace(0.0, 4.0, 201),  # the window, for R and monotonicity
            np.logspace(-5, -1, 21),  # near zero, for the flat width
            np.logspace(math.log10(4.5), 6, 31),  # tails, for limits and growth
        ]
    )
)
ZERO = int(np.flatnonzero(GRID == 0.0)[0])
#: Column of -x for each column of x; g(|x|) is values[:, ABS].
MIRROR = np.arange(GRID.size)[::-1].copy()
ABS = np.where(GRID >= 0, np.arange(GRID.size), MIRROR)
SIGN = np.sign(GRID)

_WINDOW = np.abs(GRID) <= 4.0
_NEAR = (np.abs(GRID) < 0.1) & (GRID != 0)
_FAR = np.abs(GRID) >= 1e3
_TOP = GRID.size - 1

#: Reasons an expression is dropped, in the order they are tested.
REASONS = ("not_finite", "degenerate", *PROPERTIES)


@dataclass
class ScreenResult:
    passed: np.ndarray  # (k,) bool
    reason: np.ndarray  # (k,) int8: index into REASONS, -1 where passed


def screen(
    values: np.ndarray, require: tuple[str, ...] = PROPERTIES, tolerances: Tolerances | None = None
) -> ScreenResult:
    """Judge each row of ``values`` (k, len(GRID)) against the required properties."""
    tol = tolerances or Tolerances()
    k = values.shape[0]
    reason = np.full(k, -1, dtype=np.int8)
    finite = np.isfinite(values).all(axis=1)
    v = np.where(finite[:, None], values, 0.0)
    a = np.abs(v)
    R = a[:, _WINDOW & (np.abs(GRID) <= tol.window)].max(axis=1)
    ok = finite & (R > 1e-9)
    checks: dict[str, np.ndarray] = {}
    if "zero_centered" in require:
        f0 = a[:, ZERO]
        balance = np.abs(v[:, _TOP] + v[:, 0])
        checks["zero_centered"] = (f0 <= tol.zero_centered * R) & (balance <= tol.zero_centered * R)
    if "bounded" in require:
        # Lenient on purpose: slowly converging bounded functions (L/(L+1), L = log(1+|x|))
        # still creep up between 1e3 and 1e6; the full check (with sympy) decides them.
        far, near = a[:, _FAR].max(axis=1), a[:, ~_FAR].max(axis=1)
        checks["bounded"] = far - near <= 0.25 * np.maximum(R, near)
    if "center_sensitive" in require:
        dev = np.abs(v[:, _NEAR] - v[:, [ZERO]])
        checks["center_sensitive"] = (dev > tol.flat_tolerance * R[:, None]).any(axis=1)
    if "monotonic" in require:
        d = np.diff(v, axis=1)
        eps = 1e-9 * np.maximum(R, 1.0)[:, None]
        checks["monotonic"] = (d >= -eps).all(axis=1) | (d <= eps).all(axis=1)
    reason[~finite] = REASONS.index("not_finite")
    reason[finite & ~ok] = REASONS.index("degenerate")
    for name in PROPERTIES:
        if name in checks:
            newly = ok & ~checks[name]
            reason[newly] = REASONS.index(name)
            ok &= checks[name]
    return ScreenResult(ok, reason)
