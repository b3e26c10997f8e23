"""The candidates a search evaluates: where they come from, and the baselines beside them.

Every run evaluates LayerNorm, RMSNorm, DyT and Derf next to its candidates, so that each row
of a leaderboard can say "Δ vs LayerNorm". Baselines are keyed by their plain names; every
other candidate by its stable id (a hash of its canonical form).

Example:
    >>> table = candidate_set(expressions=["x/(1 + abs(x))"], symbolic=False)
    >>> list(table["candidate_id"])
    ['layernorm', 'rmsnorm', 'dyt', 'erf', 'cefaa8630b2d']
    >>> list(table["shift"]), set(table["alpha0"])
    (['scalar', 'scalar', 'none', 'scalar', 'scalar'], {0.5})
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from candidates import (
    DEFAULT_ALPHA0,
    PROPERTIES,
    RUN_BASELINES,
    Candidate,
    UserError,
    candidates_table,
    check_candidate,
    get_catalog,
    get_entry,
    parse_shift,
)

Row = dict[str, object]

_COLUMNS = [
    "candidate_id",
    "name",
    "kind",
    "expression",
    "latex",
    "shift",
    "alpha0",
    "passed",
    *PROPERTIES,
]


def _row(key: str, candidate: Candidate | None, kind: str, shift: str, alpha0: float) -> Row:
    return {
        "candidate_id": key,
        "name": key if kind == "baseline" else candidate.name if candidate else None,
        "kind": kind,
        "expression": candidate.expression if candidate else None,
        "latex": candidate.latex if candidate else None,
        "shift": shift,
        "alpha0": alpha0,
    }


def _verdicts(candidates: Sequence[Candidate], symbolic: bool) -> pd.DataFrame:
    reports = [check_candidate(c, symbolic=symbolic) for c in candidates]
    table = candidates_table(reports)
    return table.set_index("id")[["passed", *PROPERTIES]]


def candidate_set(
    *,
    catalog: str | None = None,
    expressions: Sequence[str] = (),
    run_dir: str | Path | None = None,
    shift: str = "scalar",
    symbolic: bool = True,
    limit: int | None = None,
) -> pd.DataFrame:
    """The baselines plus the candidates asked for, one row each, deduplicated by id.

    ``shift`` (``scalar``, ``vector`` or ``none``) applies to the candidates; the baselines keep
    theirs (DyT has none). Columns: candidate_id, name, kind, expression, latex, shift, passed
    and the four property verdicts (empty for LayerNorm and RMSNorm, which are not functions).
    ``limit`` keeps the first N passing candidates of ``run_dir`` (the simplest come first) that
    are not already in the set.
    """
    kind_of_shift = parse_shift(shift)
    rows: list[Row] = []
    # A baseline's own function is checked under its id; a candidate equal to a baseline
    # that runs in the same template (the catalog's or the user's erf is Derf) is that run.
    checked: dict[str, Candidate] = {}
    functions: dict[str, Candidate] = {}
    for name in RUN_BASELINES:
        entry = get_entry(name)
        function = Candidate.from_text(name) if entry.expression is not None else None
        rows.append(_row(name, function, "baseline", entry.shift, entry.alpha0))
        if function is not None:
            checked[name] = function
            if entry.shift == kind_of_shift:
                functions[function.id] = function

    def add(candidate: Candidate) -> None:
        functions[candidate.id] = candidate
        checked[candidate.id] = candidate
        rows.append(_row(candidate.id, candidate, "candidate", kind_of_shift, DEFAULT_ALPHA0))

    wanted: list[Candidate] = []
    if catalog is not None:
        wanted += [Candidate.from_text(e.name) for e in get_catalog(catalog) if e.expression]
    wanted += [Candidate.from_text(text) for text in expressions]
    for candidate in wanted:
        if candidate.id not in functions:
            add(candidate)
    if run_dir is not None:
        # the first ``limit`` of the run's candidates that are not here already
        fresh = [c for c in _from_run_dir(Path(run_dir)) if c.id not in functions]
        for candidate in fresh[:limit]:
            add(candidate)
    table = pd.DataFrame(rows)
    verdicts = _verdicts(list({c.id: c for c in checked.values()}.values()), symbolic)
    ids = [checked[key].id if key in checked else key for key in table["candidate_id"]]
    for column in verdicts.columns:
        table[column] = [verdicts[column].get(i) for i in ids]
    return table[_COLUMNS]


def _from_run_dir(run_dir: Path) -> list[Candidate]:
    """The passing candidates of a `derf-search generate` run directory."""
    path = run_dir / "candidates.parquet"
    if not path.is_file():
        raise UserError(f"{run_dir} holds no candidates.parquet (is it a generate run?)")
    table = pd.read_parquet(path)
    if "passed" in table:
        table = table[table["passed"].astype(bool)]
    return [Candidate.from_text(str(e)) for e in table["expression"]]
