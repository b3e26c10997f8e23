"""Numbers a user gives: written in ASCII, finite, and inside the range the setting allows.
One validation for every command-line option, recipe setting and ``config.toml`` value, so
that no command accepts a number another refuses.

Python's ``int`` and ``float`` read more than a user can mean here: ``float("inf")``,
``float("nan")``, full-width and other Unicode digits (``int("١")`` is 1), and integers of any
size that a seed would silently wrap. Each is refused in one line that says what is allowed.

Example:
    >>> COUNT.parse("3", "--seeds")
    3
    >>> POSITIVE.parse("1e-3", "--alpha0")
    0.001
    >>> SEED.parse("4294967296", "--seed")
    Traceback (most recent call last):
    ...
    candidates._errors.UserError: --seed must be an integer from 0 to 4294967295, not '4294967296'
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from ._errors import UserError

#: The largest seed: NumPy's generators and torch's take 32 bits without wrapping.
MAX_SEED = 2**32 - 1

_INTEGER = re.compile(r"[+-]?[0-9]+\Z")
_DECIMAL = re.compile(r"[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?\Z")


@dataclass(frozen=True)
class NumberRange:
    """The numbers a setting allows: integers or reals, from ``low`` (excluded when
    ``low_open``) to ``high``, always finite.

    >>> NumberRange(low=0, high=1).describe()
    'a number from 0 to 1'
    >>> NumberRange(low=0, high=1, high_open=True).describe()
    'a number ≥ 0 and < 1'
    >>> NumberRange(integer=True, low=1).check(0, "seeds")
    Traceback (most recent call last):
    ...
    candidates._errors.UserError: seeds must be an integer ≥ 1, not 0
    """

    integer: bool = False
    low: float = -math.inf
    high: float = math.inf
    low_open: bool = False
    high_open: bool = False  # ``high`` itself excluded

    def describe(self) -> str:
        """The range in words: ``an integer ≥ 1``, ``a number > 0``."""
        kind = "an integer" if self.integer else "a number"
        low, high = _shown(self.low), _shown(self.high)
        closed = not (self.low_open or self.high_open)
        if self.low > -math.inf and self.high < math.inf and closed:
            return f"{kind} from {low} to {high}"
        parts = []
        if self.low > -math.inf:
            parts.append(f"{'>' if self.low_open else '≥'} {low}")
        if self.high < math.inf:
            parts.append(f"{'<' if self.high_open else '≤'} {high}")
        return " ".join([kind, " and ".join(parts)]) if parts else kind

    def parse(self, text: str, what: str) -> int | float:
        """``text`` as a number of this range, or a :class:`UserError` naming ``what``."""
        pattern = _INTEGER if self.integer else _DECIMAL
        written = text.strip()
        if not pattern.match(written):
            raise self._refusal(what, text)
        value: int | float = int(written) if self.integer else float(written)
        return self.check(value, what, shown=text)

    def check(self, value: object, what: str, *, shown: object = None) -> int | float:
        """``value`` itself (from a config file or the Python API) if it is a number of this
        range; else a :class:`UserError` naming ``what``."""
        shown = value if shown is None else shown
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise self._refusal(what, shown)
        if self.integer and not isinstance(value, int):
            raise self._refusal(what, shown)
        if not math.isfinite(value):
            raise self._refusal(what, shown)
        above = value > self.low if self.low_open else value >= self.low
        below = value < self.high if self.high_open else value <= self.high
        if not above or not below:
            raise self._refusal(what, shown)
        return value

    def _refusal(self, what: str, shown: object) -> UserError:
        return UserError(f"{what} must be {self.describe()}, not {shown!r}")


def _shown(bound: float) -> str:
    return f"{int(bound)}" if float(bound).is_integer() else f"{bound:g}"


#: A count of things: seeds, workers, trials, epochs.
COUNT = NumberRange(integer=True, low=1)
#: A seed of data order and initialisation.
SEED = NumberRange(integer=True, low=0, high=MAX_SEED)
#: A positive real: α0, a time limit, a threshold.
POSITIVE = NumberRange(low=0, low_open=True)
#: A real that may be 0: a GPU fraction, a weight decay.
NON_NEGATIVE = NumberRange(low=0)
#: A share of a whole: a warmup fraction.
FRACTION = NumberRange(low=0, high=1)
