"""The candidates a search evaluates: where they come from, and the baselines beside them.

Every run evaluates LayerNorm, RMSNorm, DyT and Derf next to its candidates, so that each row
of a leaderboard can say "Δ vs LayerNorm". Baselines are keyed by their plain names; every
other candidate by its stable id (a hash of its canonical form).

Example:
    >>> table = candidate_set(expressions=["x/(1 + abs(x))"], symbolic=False)
    >>> list(table["candidate_id"])
    ['layernorm', 'rmsnorm', 'dyt', 'erf', 'cefaa8630b2d']
    >>> list(table["shift"])
    ['scalar', 'scalar', 'none', 'scalar', 'scalar']
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from candidates import PROPERTIES, Candidate, candidates_table, check_candidate, get_catalog

#: Baseline keys, in leaderboard order; erf is Derf, dyt is tanh without shift.
BASELINE_KEYS = ("layernorm", "rmsnorm", "dyt", "erf")
NORM_KEYS = ("layernorm", "rmsnorm")

_COLUMNS = ["candidate_id", "name", "kind", "expression", "latex", "shift", "passed", *PROPERTIES]


def _row(key: str, candidate: Candidate | None, kind: str, shift: str) -> dict[str, object]:
    return {
        "candidate_id": key,
        "name": key if kind == "baseline" else candidate.name if candidate else None,
        "kind": kind,
        "expression": candidate.expression if candidate else None,
        "latex": candidate.latex if candidate else None,
        "shift": shift,
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
    if shift not in ("scalar", "vector", "none"):
        raise ValueError(f"shift must be scalar, vector or none, but got {shift!r}")
    erf = Candidate.from_text("erf")
    tanh = Candidate.from_text("tanh(x)")
    rows = [
        _row("layernorm", None, "baseline", "scalar"),
        _row("rmsnorm", None, "baseline", "scalar"),
        _row("dyt", tanh, "baseline", "none"),
        _row("erf", erf, "baseline", "scalar"),
    ]
    # Derf is a baseline; the catalog's or the user's erf is the same run.
    functions: dict[str, Candidate] = {erf.id: erf}

    def add(candidate: Candidate) -> None:
        functions[candidate.id] = candidate
        rows.append(_row(candidate.id, candidate, "candidate", shift))

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
    verdicts = _verdicts(list({tanh.id: tanh, **functions}.values()), symbolic)
    ids = [{"erf": erf.id, "dyt": tanh.id}.get(key, key) for key in table["candidate_id"]]
    for column in verdicts.columns:
        table[column] = [verdicts[column].get(i) for i in ids]
    return table[_COLUMNS]


def _from_run_dir(run_dir: Path) -> list[Candidate]:
    """The passing candidates of a `derf-search generate` run directory."""
    path = run_dir / "candidates.parquet"
    if not path.is_file():
        raise ValueError(f"{run_dir} holds no candidates.parquet (is it a generate run?)")
    table = pd.read_parquet(path)
    if "passed" in table:
        table = table[table["passed"].astype(bool)]
    return [Candidate.from_text(str(e)) for e in table["expression"]]
