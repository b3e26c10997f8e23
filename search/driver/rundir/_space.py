"""The candidates a search evaluates: where they come from, and the baselines beside them.

Every run evaluates LayerNorm, RMSNorm, DyT and Derf next to its candidates, so that each row
of a leaderboard can say "Δ vs LayerNorm". Baselines are keyed by their plain names; every
other candidate by its stable id (a hash of its canonical form). The rows of a `derf-search
generate` directory are taken as they are (ids, verdicts, LaTeX): generate has checked them,
and only the functions asked for here (the baselines', a catalog's, ``--expr``) are checked.

Example:
    >>> chosen = candidate_set(expressions=["x/(1 + abs(x))"], symbolic=False)
    >>> list(chosen.table["candidate_id"])
    ['layernorm', 'rmsnorm', 'dyt', 'erf', 'cefaa8630b2d']
    >>> list(chosen.table["shift"]), set(chosen.table["alpha0"])
    (['scalar', 'scalar', 'none', 'scalar', 'scalar'], {0.5})
    >>> chosen.reused, chosen.checked  # tanh (DyT), erf and the expression
    (0, 3)
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from candidates import (
    DEFAULT_ALPHA0,
    RUN_BASELINES,
    Candidate,
    UserError,
    as_candidate_table,
    candidates_table,
    catalog_name,
    check_candidate,
    get_catalog,
    get_entry,
    parse_shift,
)

Row = dict[str, Any]


@dataclass(frozen=True)
class CandidateSet:
    """A run's candidate table (the candidate record, one row per run) and what making it
    cost: rows reused from a generate directory, functions checked here and the seconds spent
    checking them."""

    table: pd.DataFrame
    reused: int = 0
    checked: int = 0
    check_seconds: float = 0.0
    #: Each asked text that is the same function as a row already in the set (the same id:
    #: equal up to the template's scales and reflection), with that row's name: it is
    #: evaluated once, as that row.
    merged: tuple[tuple[str, str], ...] = ()


def merged_note(merged: Sequence[tuple[str, str]]) -> str | None:
    """One line saying which asked expressions were evaluated as another row, or None.

    >>> merged_note([("12*erf(x/2)", "erf")])
    "evaluated once, as the same function up to the template's scales: 12*erf(x/2) as erf"
    """
    if not merged:
        return None
    pairs = "; ".join(f"{text} as {row}" for text, row in merged)
    return f"evaluated once, as the same function up to the template's scales: {pairs}"


def _records(table: pd.DataFrame) -> list[Row]:
    return [{str(k): v for k, v in row.items()} for row in table.to_dict("records")]


def _checked(functions: Sequence[Candidate], symbolic: bool) -> dict[str, Row]:
    """The record of each function (by id), checked here; of functions with one id (erf and
    erf(2*x) are one candidate modulo the template) the first is kept: the baselines come
    first, so they are never replaced by a user's expression."""
    first: dict[str, Candidate] = {}
    for candidate in functions:
        first.setdefault(candidate.id, candidate)
    unique = list(first.values())
    table = candidates_table([check_candidate(c, symbolic=symbolic) for c in unique])
    return {str(row["id"]): row for row in _records(table)}


def _as_run(record: Row, key: str, kind: str, shift: str, alpha0: float) -> Row:
    return {**record, "candidate_id": key, "kind": kind, "shift": shift, "alpha0": alpha0}


def _baseline_row(
    name: str, function: Candidate | None, records: dict[str, Row], alpha0: float | None
) -> Row:
    """A baseline in its catalog entry's template (α0 the run's where it sets one); a norm
    layer's function columns are empty."""
    entry = get_entry(name)
    record = records[function.id] if function is not None else {}
    start = entry.alpha0 if alpha0 is None else alpha0
    return _as_run({**record, "name": name}, name, "baseline", entry.shift, start)


def candidate_set(
    *,
    catalog: str | None = None,
    expressions: Sequence[str] = (),
    run_dir: str | Path | None = None,
    shift: str = "scalar",
    alpha0: float | None = None,
    symbolic: bool = True,
    limit: int | None = None,
) -> CandidateSet:
    """The baselines plus the candidates asked for, one row each, deduplicated by id.

    ``shift`` (``scalar``, ``vector`` or ``none``) applies to the candidates; the baselines keep
    theirs (DyT has none). ``alpha0``, where given, is every function's α0 (else each
    template's: the default, or a catalog entry's). A baseline's name among the expressions
    (``dyt``, ``erf``) is that baseline's row. The table is the candidate record (:data:`candidates.
    CANDIDATE_COLUMNS`; LayerNorm's and RMSNorm's function columns are empty). ``limit`` keeps
    the first N passing candidates of ``run_dir`` (the simplest come first) that are not
    already in the set; they are reused, not checked again.
    """
    run_shift = parse_shift(shift)
    start = time.perf_counter()
    own = {n: Candidate.from_text(n) for n in RUN_BASELINES if get_entry(n).expression is not None}
    texts = [e.name for e in get_catalog(catalog) if e.expression] if catalog is not None else []
    texts += list(expressions)
    asked = [Candidate.from_text(text) for text in texts]
    records = _checked([*own.values(), *asked], symbolic)
    seconds = time.perf_counter() - start

    rows = [_baseline_row(name, own.get(name), records, alpha0) for name in RUN_BASELINES]
    start = DEFAULT_ALPHA0 if alpha0 is None else alpha0
    # A candidate equal to a baseline that runs in the same template (the catalog's or the
    # user's erf is Derf) is that baseline's run.
    taken = {f.id: name for name, f in own.items() if get_entry(name).shift == run_shift}
    merged: list[tuple[str, str]] = []
    for text, candidate in zip(texts, asked, strict=True):
        if candidate.id in taken:
            if candidate.name != taken[candidate.id]:  # not the baseline asked by its name
                merged.append((text, taken[candidate.id]))
        elif candidate.name not in RUN_BASELINES:
            taken[candidate.id] = text
            # verdicts are the id's (invariant under the template); the text is its own
            name = candidate.name or catalog_name(candidate.id)
            own_text = {"name": name, "expression": candidate.expression}
            record = {**records[candidate.id], **own_text, "latex": candidate.latex}
            rows.append(_as_run(record, candidate.id, "candidate", run_shift, start))
    reused = 0
    if run_dir is not None:
        fresh = [r for r in _generated(Path(run_dir)) if r["id"] not in taken][:limit]
        for r in fresh:  # a record written before names were looked up has none
            named = {**r, "name": r.get("name") or catalog_name(str(r["id"]))}
            rows.append(_as_run(named, str(r["id"]), "candidate", run_shift, start))
        reused = len(fresh)
    table = as_candidate_table(pd.DataFrame(rows))
    return CandidateSet(table, reused, len(records), seconds, tuple(merged))


def _generated(run_dir: Path) -> list[Row]:
    """The passing function rows of a `derf-search generate` run directory, one per id, in its
    order (the simplest first)."""
    path = run_dir / "candidates.parquet"
    if not path.is_file():
        raise UserError(f"{run_dir} holds no candidates.parquet (is it a generate run?)")
    raw = pd.read_parquet(path)
    if "id" not in raw:
        raise UserError(
            f"{path} has no candidate ids: it was not written by `derf-search generate`"
        )
    table = as_candidate_table(raw)
    passing = table[(table["passed"] == True) & table["id"].notna()]  # noqa: E712 (None stays out)
    return _records(passing.drop_duplicates("id"))
