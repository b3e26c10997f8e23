"""The template every candidate is used in, y = γ ⊙ f(α·x + s) + β: its defaults and the one
type for its shift s.

The shift is said as text everywhere (the command line, config.toml, a catalog entry, a
candidate table) and parsed here once, at the edge, into :data:`Shift`.

Example:
    >>> parse_shift("vector"), parse_shift(None)
    ('vector', 'none')
    >>> parse_shift("sclar")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    candidates._errors.UserError: unknown shift 'sclar'; did you mean 'scalar'? ...
"""

from __future__ import annotations

from typing import Literal

from ._errors import UserError
from ._operators import suggest

#: α's initial value, for every function and every task unless a user or a catalog entry says
#: otherwise (DyT and Derf both start at 0.5).
DEFAULT_ALPHA0 = 0.5

#: s is a learnable scalar, a learnable per-channel vector, or absent (DyT-style).
Shift = Literal["scalar", "vector", "none"]
SHIFTS: tuple[Shift, ...] = ("scalar", "vector", "none")


def parse_shift(value: str | None) -> Shift:
    """``scalar``, ``vector`` or ``none`` (``None`` is ``none``); anything else is refused."""
    if value is None:
        return "none"
    if value not in SHIFTS:
        raise UserError(
            f"unknown shift {value!r}{suggest(str(value), list(SHIFTS))} "
            f"(known: {', '.join(SHIFTS)})"
        )
    return value
