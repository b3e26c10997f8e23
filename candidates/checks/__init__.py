"""The four property checks: the domain (where f is not real or not finite), then numeric
evidence on dense grids, then sympy's confirmation under a time limit.

Imports the expressions room only.

Example:
    >>> from candidates.expr import parse
    >>> result = check_properties(parse("tanh(x)"), symbolic=False)
    >>> result.passed, sorted(result.verdicts) == sorted(PROPERTIES)
    (True, True)
"""

from __future__ import annotations

from ._numeric import FULL, Fn, evaluate, symmetric
from ._properties import (
    PROPERTIES,
    PropertyResult,
    PropertyVerdict,
    Tolerances,
    check_properties,
    confirm_symbolically,
    numeric_properties,
)
from ._timeout import RETRY_SECONDS, SymbolicTimeout, SymbolicUnavailable, time_limit

__all__ = [
    "FULL",
    "PROPERTIES",
    "RETRY_SECONDS",
    "Fn",
    "PropertyResult",
    "PropertyVerdict",
    "SymbolicTimeout",
    "SymbolicUnavailable",
    "Tolerances",
    "check_properties",
    "confirm_symbolically",
    "evaluate",
    "numeric_properties",
    "symmetric",
    "time_limit",
]
