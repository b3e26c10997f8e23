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

from .._errors import UserError
from ..expr import suggest

#: α's initial value, for every function and every task unless a user or a catalog entry says
#: otherwise (DyT and Derf both start at 0.5).
DEFAULT_ALPHA0 = 0.5

#: s is a learnable scalar, a learnable per-channel vector, or absent (DyT-style).
Shift = Literal["scalar", "vector", "none"]
SHIFTS: tuple[Shift, ...] = ("scalar", "vector", "none")
#: The shift of a function that no catalog entry says otherwise about.
DEFAULT_SHIFT: Shift = "scalar"
#: Asked of a factory instead of a shift: the candidate's own template (a catalog entry's shift,
#: DyT's none; else DEFAULT_SHIFT). ``None`` always means no shift.
TEMPLATE = "template"


def template_shift(shift: str | None, entry_shift: Shift | None) -> Shift:
    """The shift a layer gets: ``shift`` itself, or with :data:`TEMPLATE` the entry's own
    (else :data:`DEFAULT_SHIFT`).

    >>> template_shift(TEMPLATE, "none"), template_shift(TEMPLATE, None)
    ('none', 'scalar')
    >>> template_shift(None, "scalar")  # None is no shift, whatever the entry says
    'none'
    """
    if shift == TEMPLATE:
        return entry_shift if entry_shift is not None else DEFAULT_SHIFT
    return parse_shift(shift)


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
