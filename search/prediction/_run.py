"""A prediction run: the functions a reference names and the paper's catalog, trained under
one protocol on the search machinery (resumable, Optuna + Ray), as features for
:func:`search.prediction.predict`.

Every function is trained as reference tables train them: without s, at the template's α0.
The decisive cells' functions come first, then the growth cells' (:func:`growth_cells`), so
that a run stopped early has trained the cells that decide most; the catalog's functions last.

Example:
    >>> from search.calibration import PAPER_REFERENCE, read_reference
    >>> table = prediction_table(read_reference(PAPER_REFERENCE), cells="decisive")
    >>> table["candidate_id"].iloc[0], int(table["catalog"].sum())
    ('layernorm', 13)
"""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from candidates import (
    DEFAULT_ALPHA0,
    Candidate,
    as_candidate_table,
    candidates_table,
    check_candidate,
    get_catalog,
)

from ..calibration import (
    DEGRADE_POINTS,
    ReferenceCell,
    calibration_table,
    decisive_cells,
    reference_categories,
)
from ._predict import growth_cells

#: The ``study`` of a prediction run's settings.
STUDY = "prediction"


def prediction_table(reference: Sequence[ReferenceCell], *, cells: str = "all") -> pd.DataFrame:
    """The candidate table of a prediction run: LayerNorm, the functions of the reference's
    cells (``all``, or the ``decisive`` ones and those they are compared with), decisive cells
    first, then the paper's catalog functions the reference does not already train (column
    ``catalog``)."""
    table = calibration_table(list(reference), cells=cells, shift="none")
    categories = reference_categories(list(reference), degrade_points=DEGRADE_POINTS)
    decisive = {c.key for c in decisive_cells(list(reference), categories)}
    growth = {c.key for c in growth_cells(reference)}
    order = [
        0 if kind == "baseline" or row in decisive else 1 if row in growth else 2
        for kind, row in zip(table["kind"], table["row"], strict=True)
    ]
    table = table.iloc[sorted(range(len(table)), key=lambda i: order[i])].reset_index(drop=True)
    table["catalog"] = False
    have = {Candidate.from_text(e).sympy for e in table["expression"] if isinstance(e, str)}
    extra = {
        entry.name: Candidate.from_text(entry.expression)
        for entry in get_catalog("paper")
        if entry.expression is not None and Candidate.from_text(entry.expression).sympy not in have
    }
    if extra:
        rows = candidates_table([check_candidate(c, symbolic=False) for c in extra.values()])
        rows = rows.assign(
            kind="candidate",
            shift="none",
            alpha0=DEFAULT_ALPHA0,
            group="catalog",
            scored=False,
            catalog=True,
            name=list(extra),
        )
        rows["row"] = rows["candidate_id"]
        table = pd.concat([table, rows], ignore_index=True)
    return as_candidate_table(table)
