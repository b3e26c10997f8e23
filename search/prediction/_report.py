"""A prediction's report: ``prediction.md`` for a person, ``prediction.json`` for a program,
``predictions.csv`` with one row per reference cell and candidate, and ``features.csv`` with
what the predictors saw of each.

Example:
    >>> from search.calibration import PAPER_REFERENCE, read_reference
    >>> from search.prediction import predict
    >>> cells = [c for c in read_reference(PAPER_REFERENCE) if c.table in ("T4", "T5", "T6")]
    >>> result = predict(cells, sources=(), resamples=20)
    >>> "leave-one-table-out" in prediction_markdown(result)
    True
"""

from __future__ import annotations

import json
import math
import statistics
from dataclasses import asdict
from pathlib import Path
from typing import Any

import pandas as pd

from candidates import markdown_text

from ..calibration import CATEGORIES, COLUMNS, number_text
from ..reports import COVERAGE
from ._cv import FEATURE_SETS, VALUE_COVERAGE
from ._predict import Figure, FoldScores, Prediction

#: The files a prediction writes into its folder: the report, its figures as data, one row
#: per reference cell and candidate, and the features of each of those rows.
PREDICTION_FILES = ("prediction.md", "prediction.json", "predictions.csv", "features.csv")
#: How far from 0 the shuffled labels' mean κ may be and still read as no leak.
SHUFFLED_NEAR_ZERO = 0.1
#: The columns of ``predictions.csv``: the reference's, then the prediction's.
PREDICTION_COLUMNS = (
    *COLUMNS,
    "name",
    "expression",
    "reference_category",
    "predicted_category",
    "predicted_value",
    "low",
    "high",
    "features",
)
#: What each fold kind is called in the report.
FOLD_NAMES = {"table": "leave-one-table-out", "row": "grouped by row"}


def _figure(f: Figure, digits: int = 2) -> str:
    interval = (
        ""
        if not math.isfinite(f.low)
        else f" ({number_text(f.low, digits)} to {number_text(f.high, digits)})"
    )
    return number_text(f.value, digits) + interval


def _side(f: Figure) -> str:
    if math.isfinite(f.low) and f.low > 0:
        return "ahead, beyond the interval"
    if math.isfinite(f.high) and f.high < 0:
        return "behind, beyond the interval"
    return "not distinguishable"


def _shuffled_text(result: Prediction) -> str:
    """The shuffled-label check in one line: whether it leaks, and whether the best
    predictor's κ is above what fitting noise reaches."""
    noise = result.shuffled_kappas
    mean, top = statistics.fmean(noise), max(noise)
    leak = "near 0: nothing leaks" if abs(mean) < SHUFFLED_NEAR_ZERO else "not near 0"
    real = result.scores[result.best]["table"].kappa.value
    beyond = (
        "above every permutation's"
        if real > top
        else "no higher than a permutation's: not distinguishable from fitting noise"
    )
    return (
        f"- Labels shuffled among the cells ({len(noise)} permutations), the {result.best} "
        f"predictor scores κ {number_text(mean)} on average ({number_text(min(noise))} to "
        f"{number_text(top)}) leave-one-table-out ({leak}); its real κ "
        f"{number_text(real)} is {beyond}."
    )


def _measures_text(measures: list[str]) -> str:
    """How a report says which trained features it kept (nothing when every one)."""
    return f", their measures {', '.join(measures)} alone" if measures else ""


def prediction_markdown(result: Prediction) -> str:
    """The report a person reads (see the module docstring)."""
    lines = [
        "# Prediction of full-scale outcomes",
        "",
        f"Features: zero-cost descriptors of f; trained runs: "
        f"{', '.join(map(markdown_text, result.sources)) or 'none'}"
        f"{_measures_text(result.measures)}. Target scale: "
        f"{result.target.text()}. Intervals: {COVERAGE:.0%} bootstrap over cells.",
        "",
        "| features | folds | cells | agreement | κ | Spearman (cells that trained) |",
        "|---|---|---|---|---|---|",
    ]
    for name, folds in result.scores.items():
        for fold, s in folds.items():
            lines.append(
                f"| {name} | {FOLD_NAMES[fold]} | {s.cells} | {_figure(s.agreement)} | "
                f"{_figure(s.kappa)} | {_figure(s.spearman)} |"
            )
    lines += ["", f"Best by leave-one-table-out κ: **{result.best}**.", ""]
    for gap, figures in result.gaps.items():
        lines.append(
            f"- {gap}, leave-one-table-out: κ {_figure(figures['kappa'])} "
            f"({_side(figures['kappa'])}); Spearman {_figure(figures['spearman'])} "
            f"({_side(figures['spearman'])})."
        )
    lines.append(_shuffled_text(result))
    if result.growth_check:
        check = result.growth_check
        lines += [
            f"- Growth cells, trained features only, each table held out: {check['right']} of "
            f"{check['cells']} placed right (FAIL where the reference failed, else not FAIL).",
            "",
            "| cell | reference | predicted |",
            "|---|---|---|",
            *(
                f"| {markdown_text(r['cell'])} | {r['reference']} | {r['predicted'] or '–'} |"
                for r in check["rows"]
            ),
        ]
    lines += ["", "## Per property, leave-one-table-out", ""]
    lines += ["| features | property | cells | agreement | κ |", "|---|---|---|---|---|"]
    for name, folds in result.scores.items():
        for prop, by_prop in folds["table"].per_property.items():
            lines.append(
                f"| {name} | {markdown_text(prop)} | {by_prop.cells} | "
                f"{number_text(by_prop.agreement)} | "
                f"{number_text(by_prop.kappa)} |"
            )
    lines += ["", "## Confusion, leave-one-table-out (reference rows, predicted columns)", ""]
    for name, folds in result.scores.items():
        lines += _confusion(name, folds["table"])
    lines += ["", "## What each predictor leans on (fitted on every cell)", ""]
    for name, ranked in result.leaning.items():
        shown = ", ".join(f"{markdown_text(f)} {w:.2f}" for f, w in ranked) or "–"
        lines.append(f"- {name}: {shown}")
    lines += ["", "## Models chosen inside each fold", ""]
    for name, folds in result.scores.items():
        chosen = "; ".join(f"{f}: {c} / {r}" for f, c, r in folds["table"].chosen)
        lines.append(f"- {name}: {chosen}")
    if result.candidates:
        lines += ["", "## Candidates", "", "| name | predicted | value | interval | features |"]
        lines.append("|---|---|---|---|---|")
        for c in result.candidates:
            lines.append(
                f"| {markdown_text(c['name'])} | {c['predicted_category']} | "
                f"{number_text(c['predicted_value'])} | {number_text(c['low'])} to "
                f"{number_text(c['high'])} | {c['features']} |"
            )
    lines += ["", f"{result.seconds:.0f} s to fit and score.", *result.notes, ""]
    return "\n".join(lines)


def _confusion(name: str, s: FoldScores) -> list[str]:
    head = f"| {name} | " + " | ".join(CATEGORIES) + " |"
    out = [head, "|---" * (len(CATEGORIES) + 1) + "|"]
    for a in CATEGORIES:
        out.append(f"| {a} | " + " | ".join(str(s.confusion[a][b]) for b in CATEGORIES) + " |")
    return [*out, ""]


def _plain(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def prediction_json(result: Prediction) -> dict[str, Any]:
    """The report as plain data (no NaN: null)."""
    data = asdict(result)
    data["target"] = result.target.text()
    data["shuffled_kappa"] = statistics.fmean(result.shuffled_kappas)  # their mean
    data["feature_sets"] = [s for s in FEATURE_SETS if s in result.scores]
    data["value_coverage"] = VALUE_COVERAGE
    del data["features"]  # features.csv holds them
    return dict(_plain(data))


def predictions_frame(result: Prediction) -> pd.DataFrame:
    """One row per reference cell (held out by table) and per candidate."""
    rows = [{**c, "features": result.best} for c in result.cells]
    for c in result.candidates:
        rows.append({"table": "", "property": "", "base": "", "variant": "", **c})
    frame = pd.DataFrame(rows)
    for column in PREDICTION_COLUMNS:
        if column not in frame:
            frame[column] = None
    return frame[list(PREDICTION_COLUMNS)]


def write_prediction(out: str | Path, result: Prediction) -> Path:
    """The :data:`PREDICTION_FILES` in ``out``: the report, its figures as data, the
    predictions and their features; returns the report's path."""
    report, figures, table, features = (Path(out) / name for name in PREDICTION_FILES)
    report.parent.mkdir(parents=True, exist_ok=True)
    report.write_text(prediction_markdown(result), encoding="utf-8")
    figures.write_text(
        json.dumps(prediction_json(result), indent=1, allow_nan=False), encoding="utf-8"
    )
    predictions_frame(result).to_csv(table, index=False, float_format="%.4g")
    features_frame(result).to_csv(features, index=False, float_format="%.6g")
    return report


def features_frame(result: Prediction) -> pd.DataFrame:
    """The features of each row of ``predictions.csv`` (its ``name`` and ``expression``), a
    column per feature the predictors were fitted on, empty where a unit has none of it (a
    function no run trained; imputed inside each fit). Trained features are named
    ``<task>/<protocol>:<measure>``, zero-cost ones ``zc:<descriptor>``; which set of them a
    prediction used is ``predictions.csv``'s ``features`` column.

    >>> from search.calibration import PAPER_REFERENCE, read_reference
    >>> from search.prediction import predict
    >>> cells = [c for c in read_reference(PAPER_REFERENCE) if c.table in ("T4", "T5", "T6")]
    >>> frame = features_frame(predict(cells, sources=(), resamples=20))
    >>> len(frame) == len(cells), list(frame.columns[:2]), frame.columns[2].startswith("zc:")
    (True, ['name', 'expression'], True)
    """
    rows = [*result.cells, *result.candidates]
    seen = result.features or [{}] * len(rows)  # none recorded: the names alone
    names = sorted({n for features in seen for n in features})
    return pd.DataFrame(
        [
            {"name": row["name"], "expression": row["expression"], **features}
            for row, features in zip(rows, seen, strict=True)
        ],
        columns=["name", "expression", *names],
    )
