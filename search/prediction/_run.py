"""A prediction run: the functions a reference names and the candidates to predict, trained
under one protocol on the search machinery (resumable, Optuna + Ray), as features for
:func:`search.prediction.predict`.

Every function is trained as reference tables train them: without s, at the template's α0.
The decisive cells' functions come first, then the growth cells' (:func:`growth_cells`), so
that a run stopped early has trained the cells that decide most; the candidates last.

Example:
    >>> from search.calibration import PAPER_REFERENCE, read_reference
    >>> table = prediction_table(read_reference(PAPER_REFERENCE), cells="decisive",
    ...                          candidates={"erf": "erf(x)", "isru": "isru"})
    >>> table["candidate_id"].iloc[0], list(table[table["candidate"]]["name"])
    ('layernorm', ['isru'])
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import pandas as pd

from candidates import (
    DEFAULT_ALPHA0,
    Candidate,
    as_candidate_table,
    candidates_table,
    check_candidate,
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


def prediction_table(
    reference: Sequence[ReferenceCell],
    *,
    cells: str = "all",
    candidates: Mapping[str, str] | None = None,
) -> pd.DataFrame:
    """The candidate table of a prediction run: LayerNorm, the functions of the reference's
    cells (``all``, or the ``decisive`` ones and those they are compared with), decisive cells
    first, then the growth cells; then the ``candidates`` (name -> expression) to be predicted
    that the reference does not already train (column ``candidate``)."""
    table = calibration_table(list(reference), cells=cells, shift="none")
    categories = reference_categories(list(reference), degrade_points=DEGRADE_POINTS)
    decisive = {c.key for c in decisive_cells(list(reference), categories)}
    growth = {c.key for c in growth_cells(reference)}
    order = [
        0 if kind == "baseline" or row in decisive else 1 if row in growth else 2
        for kind, row in zip(table["kind"], table["row"], strict=True)
    ]
    table = table.iloc[sorted(range(len(table)), key=lambda i: order[i])].reset_index(drop=True)
    table["candidate"] = False
    have = {Candidate.from_text(e).sympy for e in table["expression"] if isinstance(e, str)}
    extra: dict[str, Candidate] = {}
    for name, expression in (candidates or {}).items():
        function = Candidate.from_text(expression)
        if function.sympy not in have:
            have.add(function.sympy)
            extra[name] = function
    if extra:
        rows = candidates_table([check_candidate(c, symbolic=False) for c in extra.values()])
        rows = rows.assign(
            kind="candidate",
            shift="none",
            alpha0=DEFAULT_ALPHA0,
            group="candidates",
            scored=False,
            candidate=True,
            name=list(extra),
        )
        rows["row"] = rows["candidate_id"]
        table = pd.concat([table, rows], ignore_index=True)
    return as_candidate_table(table)
