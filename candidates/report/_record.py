"""One candidate record: the single schema of every ``candidates.parquet``.

`derf-search generate` writes it; `run` reuses generate's rows as they are and adds the run's
baselines; `study` adds its rows' extras; the leaderboard and `export` read it back. Older
tables are brought up to it on read (:func:`as_candidate_table`).

Example:
    >>> from candidates import check
    >>> table = candidates_table([check("erf(x)", symbolic=False)])
    >>> table.loc[0, "canonical"], bool(table.loc[0, "passed"]), table.loc[0, "kind"]
    ('erf(x)', True, 'candidate')
    >>> tuple(table.columns) == CANDIDATE_COLUMNS
    True
    >>> old = as_candidate_table(pd.DataFrame({"candidate_id": ["layernorm"], "kind": ["norm"]}))
    >>> float(old.loc[0, "alpha0"]), old.loc[0, "expression"] is None
    (0.5, True)
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from ..catalog import DEFAULT_ALPHA0
from ..checks import PROPERTIES
from ..shape import SCALE_DESCRIPTORS, SHAPE_DESCRIPTORS, shape_descriptors
from ._candidate import PropertyReport, catalog_name

#: The candidate record's columns, in the order every table keeps. A norm baseline
#: (layernorm, rmsnorm) is not a function: its columns from ``id`` on are empty.
CANDIDATE_COLUMNS: tuple[str, ...] = (
    # --- the run: what is trained, under which key --------------------------------------
    "candidate_id",  # the run's key: a baseline name, a study row's key, or else the id
    "kind",  # baseline or candidate
    "name",  # a catalog or baseline name, a study row's label, or empty
    "shift",  # the template's s: scalar, vector or none (DyT)
    "alpha0",  # α's initial value in the template
    # --- the function (empty for norm baselines) -------------------------------------------
    "id",  # stable hash of the canonical form: one id per function modulo the template
    "expression",  # f in the input syntax (parses back to the same function)
    "canonical",  # the canonical representative modulo the template (input/output scale, sign)
    "latex",  # f typeset
    "size",  # nodes of the smallest grammar expression merged into it (generate only)
    "merged_count",  # how many other expressions were merged into this candidate
    "merged_from",  # those expressions (list of text)
    # --- the four properties ------------------------------------------------------------------
    "passed",  # all four properties hold and f is real and finite on all of R
    "domain_ok",  # f is real and finite on all of R
    "domain_error",  # why it is not, with the first offending x
    # per property p: p (the verdict), p_score (the graded score), p_method (symbolic|numeric)
    *(f"{p}{suffix}" for p in PROPERTIES for suffix in ("", "_score", "_method")),
    "growth",  # growth class of an unbounded f: logarithmic, power, linear, faster
    "flat_width",  # widest w with f flat on [-w, w] (centre sensitivity's evidence)
    # --- the shape descriptors, invariant under the template's scales and sign ---------------
    *(f"shape_{name}" for name in SHAPE_DESCRIPTORS),  # see candidates.SHAPE_DESCRIPTORS
    # --- f's output and input scale, which the template absorbs but starts from ------------
    *(f"scale_{name}" for name in SCALE_DESCRIPTORS),  # see candidates.SCALE_DESCRIPTORS
)

#: Optional columns a built-in study adds after the record's (one row per experiment).
STUDY_COLUMNS: tuple[str, ...] = (
    "row",  # the experiment's own key (rows asking for the same run share a candidate_id)
    "group",  # the paper table it belongs in
    "function",  # its row label in that table
    "lam",  # the table's column λ, or empty for tables without λ
)

# A column an older table lacks is filled with this; every other one is left empty.
_DEFAULTS: dict[str, Any] = {"kind": "candidate", "shift": "scalar", "alpha0": DEFAULT_ALPHA0}
_VERDICTS = ("passed", "domain_ok", *PROPERTIES)
_INTEGERS = ("size", "merged_count")
#: The record's descriptor columns: the shape descriptors, then the scale descriptors.
DESCRIPTOR_COLUMNS = tuple(c for c in CANDIDATE_COLUMNS if c.startswith(("shape_", "scale_")))
_FLOATS = ("alpha0", *(f"{p}_score" for p in PROPERTIES), "flat_width", "lam")


def _missing(value: Any) -> bool:
    if value is None or value is pd.NA:
        return True
    return isinstance(value, float) and math.isnan(value)


def _verdict(value: Any) -> bool | None:
    return None if _missing(value) else bool(value)


def _text_list(value: Any) -> list[str] | None:
    # parquet gives lists back as numpy arrays: one type in memory whatever the source
    return None if value is None or _missing(value) else [str(v) for v in value]


def as_candidate_table(table: pd.DataFrame) -> pd.DataFrame:
    """``table`` in the candidate record's schema: :data:`CANDIDATE_COLUMNS` in order, then the
    :data:`STUDY_COLUMNS` it has, then any others. A column it lacks is empty, except ``kind``
    (candidate), ``shift`` (scalar), ``alpha0`` (the default; older runs did not record it)
    and ``candidate_id`` (the id)."""
    table = table.copy()
    for column in CANDIDATE_COLUMNS:
        if column in table:
            continue
        if column == "candidate_id" and "id" in table:
            table[column] = table["id"]
        else:
            table[column] = _DEFAULTS.get(column)
    for column in _VERDICTS:
        table[column] = pd.Series(
            [_verdict(v) for v in table[column]], index=table.index, dtype=object
        )
    table["merged_from"] = pd.Series(
        [_text_list(v) for v in table["merged_from"]], index=table.index, dtype=object
    )
    for column in _INTEGERS:
        table[column] = pd.to_numeric(table[column], errors="coerce").astype("Int64")
    for column in (c for c in _FLOATS if c in table):
        table[column] = pd.to_numeric(table[column], errors="coerce").astype(float)
    extras = [c for c in STUDY_COLUMNS if c in table]
    others = [c for c in table.columns if c not in CANDIDATE_COLUMNS and c not in extras]
    return table[[*CANDIDATE_COLUMNS, *extras, *others]].reset_index(drop=True)


def candidates_table(
    reports: Sequence[PropertyReport], sizes: Mapping[str, int] | None = None
) -> pd.DataFrame:
    """One record per checked candidate, keyed by its id, in the template's defaults (scalar
    shift, the default α0): what `derf-search generate` writes."""
    rows: list[dict[str, Any]] = []
    for report in reports:
        c, r = report.candidate, report.result
        row: dict[str, Any] = {
            "candidate_id": c.id,
            "kind": "candidate",
            "name": c.name or catalog_name(c.id),
            "id": c.id,
            "expression": c.expression,
            "canonical": c.canonical,
            "latex": c.latex,
            "size": (sizes or {}).get(c.id),
            "merged_count": len(c.merged_from),
            "merged_from": list(c.merged_from),
            "passed": report.passed,
            "domain_ok": r.domain.ok,
            "domain_error": None if r.domain.ok else r.domain.message,
        }
        for p in PROPERTIES:
            v = r.verdicts[p]
            row[p] = v.passed
            row[f"{p}_score"] = v.score
            row[f"{p}_method"] = v.method
        row["growth"] = r.verdicts["bounded"].evidence.get("growth")
        row["flat_width"] = r.verdicts["center_sensitive"].evidence.get("flat_width")
        row.update({f"shape_{k}": v for k, v in report.shape.items()})
        row.update({f"scale_{k}": v for k, v in report.scale.items()})
        rows.append(row)
    return as_candidate_table(pd.DataFrame(rows))


#: What the guided sampler learns from besides the shape: where the template puts f when
#: training starts (α = α0, γ = 1, inputs of about unit spread), from the scale descriptors.
START_DESCRIPTORS: dict[str, str] = {
    "reach": "log(α0 / t50): the template's input spread at the start in units of f's "
    "half-rise input (large: f starts saturated)",
    "level": "log H: the output scale γ = 1 passes on at the start",
}


def _descriptor_rows(
    table: pd.DataFrame,
    names: Sequence[str],
    progress: Callable[[int, int], None] | None = None,
) -> dict[str, list[float]]:
    """Per function (the first row of each candidate_id), the stored ``names`` columns, or all
    descriptors computed from the expression where a record predates one of them; ``progress``
    is told (done, total) of those computed."""
    functions = table[[isinstance(e, str) for e in table["expression"]]]
    first = functions.drop_duplicates("candidate_id")
    # read as one array: a whole-grammar table has ~50,000 rows, read at every start of a run
    stored = first.reindex(columns=list(names)).apply(pd.to_numeric, errors="coerce")
    matrix = stored.to_numpy(dtype=float)
    missing = np.isnan(matrix).any(axis=1)
    total, done = int(missing.sum()), 0
    rows: dict[str, list[float]] = {}
    for key, expression, values, lacking in zip(
        first["candidate_id"], first["expression"], matrix, missing, strict=True
    ):
        if lacking:
            computed = shape_descriptors(expression, scales=True)
            full = dict(zip(DESCRIPTOR_COLUMNS, computed.values(), strict=True))
            values = np.array([full[n] for n in names])
            done += 1
            if progress is not None:
                progress(done, total)
        rows[str(key)] = [float(v) for v in values]
    return rows


def fill_descriptors(
    table: pd.DataFrame, progress: Callable[[int, int], None] | None = None
) -> pd.DataFrame:
    """``table`` with its shape and scale descriptor columns computed where a record predates
    them (a table written by an older generate), so that what reads it later does not compute
    them again. ``progress`` is told (done, total) of the functions computed: a whole grammar
    written without them takes about 25 minutes on one core.

    >>> old = as_candidate_table(pd.DataFrame({"candidate_id": ["erf"], "expression": ["erf(x)"]}))
    >>> round(float(fill_descriptors(old).loc[0, "scale_width"]), 3)
    0.477
    """
    columns = list(DESCRIPTOR_COLUMNS)
    found = pd.DataFrame.from_dict(
        _descriptor_rows(table, columns, progress), orient="index", columns=columns
    )
    out = table.copy()
    keys = out["candidate_id"].astype(str)
    known = keys.isin(found.index).to_numpy()
    for column in columns:
        stored = pd.to_numeric(out[column], errors="coerce").to_numpy(dtype=float)
        out[column] = np.where(known, keys.map(found[column]).to_numpy(dtype=float), stored)
    return out


def shape_matrix(table: pd.DataFrame) -> pd.DataFrame:
    """The shape descriptors of each function of a candidate table (index: candidate_id, the
    first row of each; norm layers have none): its ``shape_…`` columns, computed from the
    expression where a record predates them.

    >>> old = pd.DataFrame({"candidate_id": ["erf", "layernorm"], "expression": ["erf(x)", None]})
    >>> matrix = shape_matrix(old)
    >>> list(matrix.index), round(float(matrix.loc["erf", "knee"]), 2)
    (['erf'], 2.44)
    """
    columns = [f"shape_{name}" for name in SHAPE_DESCRIPTORS]
    rows = _descriptor_rows(table, columns)
    return pd.DataFrame.from_dict(rows, orient="index", columns=list(SHAPE_DESCRIPTORS))


def guide_matrix(table: pd.DataFrame) -> pd.DataFrame:
    """The guided sampler's inputs for each function of a candidate table (index:
    candidate_id): its shape descriptors, then the :data:`START_DESCRIPTORS` at the row's α0.

    >>> table = pd.DataFrame({"candidate_id": ["erf", "wide"], "alpha0": [0.5, 0.5],
    ...                       "expression": ["erf(x)", "3*erf(x/4)"]})
    >>> start = guide_matrix(table)[list(START_DESCRIPTORS)]
    >>> [round(float(v), 2) for v in start.loc["wide"] - start.loc["erf"]]  # log 4, log 3
    [-1.39, 1.1]
    """
    rows = _descriptor_rows(table, DESCRIPTOR_COLUMNS)
    first = table.drop_duplicates("candidate_id").set_index("candidate_id")
    alpha0 = pd.to_numeric(first.get("alpha0", pd.Series(dtype=float)), errors="coerce")
    shape = [f"shape_{k}" for k in SHAPE_DESCRIPTORS]
    out: dict[str, list[float]] = {}
    for key, values in rows.items():
        named = dict(zip(DESCRIPTOR_COLUMNS, values, strict=True))
        a0 = float(alpha0.get(key, DEFAULT_ALPHA0))
        a0 = a0 if math.isfinite(a0) and a0 > 0 else DEFAULT_ALPHA0
        with np.errstate(all="ignore"):
            start = [
                float(np.log(a0 / named["scale_width"])),
                float(np.log(named["scale_height"])),
            ]
        finite = [v if math.isfinite(v) else math.nan for v in start]  # log 0 is no place
        out[key] = [*(named[c] for c in shape), *finite]
    return pd.DataFrame.from_dict(
        out, orient="index", columns=[*SHAPE_DESCRIPTORS, *START_DESCRIPTORS]
    )
