"""Evaluation protocols: how every candidate of a run is trained and scored, the same for all.

- ``single``: one run per (candidate, seed) at the task's recipe, each function at its
  template's α0;
- ``gain-matched``: the same, with α0 chosen per function by one rule — the α0 at which
  f(α0·z), z ~ N(0, 1), has the spread of erf(0.5·z) — so that every function passes the same
  signal at initialisation. A short proxy cannot adapt α the way ~10⁵ full-scale steps do, and
  the initial gain otherwise decides much of a short comparison.

Norm layers (LayerNorm, RMSNorm) have no α and are left as they are.

Example:
    >>> import pandas as pd
    >>> table = pd.DataFrame({"expression": ["erf(x)", "x", None], "alpha0": [0.5, 0.5, 0.5]})
    >>> [round(a, 3) for a in apply_protocol(table, "gain-matched")["alpha0"]]
    [0.5, 0.465, 0.5]
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pandas as pd

PROTOCOLS = ("single", "gain-matched")
#: The gain-matched protocol's target: this function's spread at the default α0.
MATCHED_TO = "erf(x)"


def protocol_alpha0(expression: str, protocol: str) -> float | None:
    """The α0 the protocol gives the function ``expression``; None: its template's own.

    >>> round(protocol_alpha0("tanh(x)", "gain-matched"), 3), protocol_alpha0("x", "single")
    (0.586, None)
    """
    if protocol == "single":
        return None
    from candidates import DEFAULT_ALPHA0, matched_alpha0, spread_of

    return round(matched_alpha0(expression, target=spread_of(MATCHED_TO, DEFAULT_ALPHA0)), 6)


def apply_protocol(table: pd.DataFrame, protocol: str) -> pd.DataFrame:
    """``table`` (a candidate table) with the protocol's per-function settings filled in."""
    if protocol == "single":
        return table
    table = table.copy()
    table["alpha0"] = [
        protocol_alpha0(e, protocol) if isinstance(e, str) else a
        for e, a in zip(table["expression"], table["alpha0"], strict=True)
    ]
    return table
