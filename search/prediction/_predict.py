"""A prediction: features of every reference cell and candidate, predictors cross-validated on
the reference, their scores with intervals, and the predicted category and value of each.

Example:
    >>> from search.calibration import PAPER_REFERENCE, read_reference
    >>> cells = [c for c in read_reference(PAPER_REFERENCE) if c.table in ("T4", "T5", "T6")]
    >>> result = predict(cells, sources=(), candidates={"erf": "erf(x)"}, resamples=20)
    >>> sorted(result.scores), result.scores["zero-cost"]["table"].cells
    (['zero-cost'], 32)
    >>> result.candidates[0]["name"], result.candidates[0]["features"]
    ('erf', 'zero-cost')
"""

from __future__ import annotations

import math
import statistics
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from candidates import Candidate, UserError

from ..calibration import (
    CATEGORIES,
    ReferenceCell,
    Scores,
    agreement_scores,
    cohen_kappa,
    kappa_difference,
    paired_bootstrap,
    reference_categories,
    reference_cells,
    reference_effects,
    reference_mean,
    spearman,
    spearman_difference,
)
from ..driver import RunSettings
from ..reports import RESAMPLES
from ._cv import (
    FEATURE_SETS,
    VALUE_COVERAGE,
    Dataset,
    Fitted,
    Predictions,
    choose_models,
    cross_validate,
    fit_final,
    leaning,
    shuffled,
)
from ._features import (
    Unit,
    candidate_units,
    cell_units,
    keep_measures,
    sources_features,
    zero_cost_table,
)
from ._target import Target

#: Names a report note lists before it counts the rest.
NAMES_SHOWN = 5

#: The folds every feature set is scored under: the headline first.
FOLDS = ("table", "row")
#: Permutations of the labels a report fits again: the spread of κ that fitting noise reaches
#: (one permutation alone is one draw, ±0.1 on six tables).
SHUFFLES = 5


@dataclass(frozen=True)
class Figure:
    """One score with its bootstrap interval over cells."""

    value: float
    low: float
    high: float


@dataclass
class FoldScores:
    """A predictor's scores under one kind of folds."""

    cells: int
    agreement: Figure
    kappa: Figure
    spearman: Figure  # predicted against reference effects, over the cells that did not fail
    confusion: dict[str, dict[str, int]]
    per_property: dict[str, Scores]
    chosen: list[tuple[str, str, str]]


@dataclass
class Prediction:
    """Everything `derf-search predict` reports (see :func:`predict`)."""

    target: Target
    sources: list[str]
    scores: dict[str, dict[str, FoldScores]]  # feature set -> folds -> scores
    gaps: dict[str, dict[str, Figure]]  # "all − zero-cost" etc. -> κ / Spearman difference
    growth_check: dict[str, Any]
    shuffled_kappas: list[float]  # κ of each of :data:`SHUFFLES` label permutations
    leaning: dict[str, list[tuple[str, float]]]
    cells: list[dict[str, Any]]  # the reference's rows with their predictions
    candidates: list[dict[str, Any]]
    best: str
    seconds: float
    notes: list[str] = field(default_factory=list)
    measures: list[str] = field(default_factory=list)  # trained features kept; empty: every one
    # the features of each row of ``cells``, then of ``candidates``, among those the
    # predictors were fitted on (the reference cells' columns)
    features: list[dict[str, float]] = field(default_factory=list, repr=False)


def _figure(cells: int, score: Any, resamples: int) -> Figure:
    value, low, high = paired_bootstrap(cells, score, resamples=resamples)
    return Figure(value, low, high)


def _fold_scores(
    data: Dataset, got: Predictions, cells: Sequence[ReferenceCell], resamples: int
) -> FoldScores:
    keys = [k for k in data.features.index if isinstance(got.categories.get(k), str)]
    ref = [str(data.categories[k]) for k in keys]
    pred = [str(got.categories[k]) for k in keys]
    fine = [k for k in keys if math.isfinite(data.effects[k]) and math.isfinite(got.effects[k])]
    ref_e = np.array([data.effects[k] for k in fine])
    pred_e = np.array([got.effects[k] for k in fine])
    props = {c.key: c.prop for c in cells}
    per: dict[str, Scores] = {}
    for prop in dict.fromkeys(props[k] for k in keys):
        mine = [k for k in keys if props[k] == prop]
        per[prop] = agreement_scores(
            {k: data.categories[k] for k in mine},
            {k: got.categories[k] for k in mine},
            {k: float(data.effects[k]) for k in mine},
            {k: float(got.effects[k]) for k in mine},
        )
    confusion: dict[str, dict[str, int]] = {a: dict.fromkeys(CATEGORIES, 0) for a in CATEGORIES}
    for a, b in zip(ref, pred, strict=True):
        confusion[a][b] += 1
    return FoldScores(
        cells=len(keys),
        agreement=_figure(
            len(keys), lambda i: float(np.mean([ref[j] == pred[j] for j in i])), resamples
        ),
        kappa=_figure(len(keys), lambda i: cohen_kappa([(ref[j], pred[j]) for j in i]), resamples),
        spearman=_figure(len(fine), lambda i: spearman(list(ref_e[i]), list(pred_e[i])), resamples),
        confusion=confusion,
        per_property=per,
        chosen=got.chosen,
    )


def dataset(cells: Sequence[ReferenceCell], features: Mapping[str, Mapping[str, float]]) -> Dataset:
    """The reference cells as a cross-validation data set over ``features`` (unit -> name ->
    value; a cell without features has them missing, imputed inside each fold)."""
    keys = [c.key for c in cells]
    frame = pd.DataFrame([dict(features.get(k, {})) for k in keys], index=keys)
    categories = reference_categories(cells)
    effects = reference_effects(cells)
    return Dataset(
        features=frame.sort_index(axis=1),
        categories=pd.Series([categories[k] for k in keys], index=keys),
        effects=pd.Series([effects[k] for k in keys], index=keys, dtype=float),
        tables=pd.Series([c.table for c in cells], index=keys),
        rows=pd.Series([":".join(c.row) for c in cells], index=keys),
        references={c.key: [r.key for r in reference_cells(c, cells)] for c in cells},
        # by sympy form, as a run's functions are found (f and −f are two runs, two outcomes)
        functions=pd.Series(
            [str(Candidate.from_text(c.expression).sympy) for c in cells], index=keys
        ),
    )


def growth_cells(cells: Sequence[ReferenceCell]) -> list[ReferenceCell]:
    """The cells that ask whether growth is a matter of degree: the bounded property's plain
    functions and its mixtures (1 − λ)·f + λ·x at λ 0.1 and 0.5 — in the paper's tables,
    power-growing functions and 0.5-mixtures fail, log-growing ones and 0.1-mixtures train."""
    return [
        c
        for c in cells
        if c.prop == "bounded"
        and (c.variant == "plain" or (c.variant == "mix" and c.lam in (0.1, 0.5)))
    ]


def predict(
    cells: Sequence[ReferenceCell],
    *,
    sources: Sequence[str | Path],
    candidates: Mapping[str, str] | None = None,
    target: Target | None = None,
    feature_sets: Sequence[str] = FEATURE_SETS,
    measures: Sequence[str] | None = None,
    resamples: int = RESAMPLES,
) -> Prediction:
    """Features of the reference cells and ``candidates`` (name -> expression) from zero-cost
    descriptors and the run directories ``sources``; every feature set of ``feature_sets``
    that has features cross-validated by table and by row; predictions for every cell (held out
    by table) and candidate. ``measures`` (names of :func:`measure_names`) keeps only those
    measures' trained features: fewer features, chosen before a fit, for a predictor that has
    five tables to learn from."""
    start = time.perf_counter()
    target = target or Target()
    scale = {"width": target.width, "depth": target.depth, "steps": target.steps}
    units = cell_units(cells)
    extra = candidate_units(candidates or {}, cells)
    features: dict[str, dict[str, float]] = {
        k: dict(v) for k, v in zero_cost_table([*units, *extra]).items()
    }
    labels, trained = sources_features(sources, [*units, *extra], target=scale)
    labels = list(dict.fromkeys(labels))  # a search's run and its predictor's: one label
    if measures is not None:
        trained = _of_measures(trained, measures, [u.key for u in units])
    for key, row in trained.items():
        features.setdefault(key, {}).update(row)
    data = dataset(cells, features)
    # without trained features "all" is the zero-cost set again: it is left out
    sets = [
        s
        for s in FEATURE_SETS
        if s in feature_sets and data.columns(s) and (s == "zero-cost" or data.columns("trained"))
    ]
    if not sets:
        raise UserError(
            f"no features to predict from: --features {', '.join(feature_sets)} needs trained "
            "runs (--task, --from or --resume)"
        )
    held: dict[str, dict[str, Predictions]] = {
        s: {f: cross_validate(data, folds=f, feature_set=s) for f in FOLDS} for s in sets
    }
    scores = {s: {f: _fold_scores(data, held[s][f], cells, resamples) for f in FOLDS} for s in sets}
    best = max(sets, key=lambda s: _or(scores[s]["table"].kappa.value))
    noise = [_shuffled_kappa(data, best, seed) for seed in range(SHUFFLES)]
    gaps = _gaps(data, held, sets)
    notes = _notes(sources, held)
    result = Prediction(
        target=target,
        sources=labels,
        scores=scores,
        gaps=gaps,
        growth_check=_growth_check(data, held, cells),
        shuffled_kappas=noise,
        leaning={},
        cells=[],
        candidates=[],
        best=best,
        seconds=0.0,
        notes=notes,
        measures=list(measures or ()),
    )
    _final(result, data, held, cells, extra, features, sets)
    result.seconds = time.perf_counter() - start
    return result


def _notes(
    sources: Sequence[str | Path], held: Mapping[str, Mapping[str, Predictions]]
) -> list[str]:
    """What a reader of the report must know about its sources and folds."""
    notes = []
    if not sources:
        notes.append("no trained runs given: the zero-cost predictor alone")
    for source in sources:
        tasks = RunSettings.read(source).tasks
        if len(tasks) > 1:
            notes.append(f"{source} trained {', '.join(tasks)}: only {tasks[0]}'s runs are read")
    for name, by_folds in held.items():
        for folds, got in by_folds.items():
            if got.unpredicted:
                notes.append(
                    f"{name}, {folds} folds: {len(got.unpredicted)} cells unpredicted (their "
                    "fold left nothing to fit on) and left out of the scores"
                )
    return notes


def _of_measures(
    trained: dict[str, dict[str, float]], measures: Sequence[str], cell_keys: Sequence[str]
) -> dict[str, dict[str, float]]:
    """The trained features of ``measures`` alone; refused when none are left for the
    reference's cells that had some."""
    if not measures:
        raise UserError("give at least one measure, or none at all to keep every one")
    had = any(trained.get(k) for k in cell_keys)
    kept = keep_measures(trained, measures)
    if had and not any(kept.get(k) for k in cell_keys):
        raise UserError(
            f"the runs given record none of the measures {', '.join(measures)} for the "
            "reference's functions: leave --measures out or name a measure they record"
        )
    return kept


def _or(value: float) -> float:
    return value if math.isfinite(value) else -math.inf


def _gaps(
    data: Dataset, held: Mapping[str, Mapping[str, Predictions]], sets: Sequence[str]
) -> dict[str, dict[str, Figure]]:
    """Leave-one-table-out κ and Spearman of each trained feature set less the zero-cost
    one's, paired over cells, with bootstrap intervals."""
    out: dict[str, dict[str, Figure]] = {}
    base = held.get("zero-cost", {}).get("table")
    if base is None:
        return out
    for name in (s for s in sets if s != "zero-cost"):
        mine = held[name]["table"]
        keys = [
            k
            for k in data.features.index
            if isinstance(mine.categories.get(k), str) and isinstance(base.categories.get(k), str)
        ]
        k_gap = kappa_difference(
            [str(data.categories[k]) for k in keys],
            [str(mine.categories[k]) for k in keys],
            [str(base.categories[k]) for k in keys],
        )
        fine = [
            k
            for k in keys
            if math.isfinite(data.effects[k])
            and math.isfinite(mine.effects[k])
            and math.isfinite(base.effects[k])
        ]
        r_gap = spearman_difference(
            [float(data.effects[k]) for k in fine],
            [float(mine.effects[k]) for k in fine],
            [float(base.effects[k]) for k in fine],
        )
        out[f"{name} − zero-cost"] = {"kappa": Figure(*k_gap), "spearman": Figure(*r_gap)}
    return out


def _growth_check(
    data: Dataset, held: Mapping[str, Mapping[str, Predictions]], cells: Sequence[ReferenceCell]
) -> dict[str, Any]:
    """How the trained-only predictor, leave-one-table-out, places the growth cells: FAIL
    where the reference failed, elsewhere where it trained."""
    chosen = growth_cells(cells)
    if "trained" not in held or not chosen:
        return {}
    got = held["trained"]["table"].categories
    rows = []
    for cell in chosen:
        predicted = got.get(cell.key)
        rows.append(
            {
                "cell": cell.label,
                "reference": str(data.categories[cell.key]),
                "predicted": predicted if isinstance(predicted, str) else None,
                "right": isinstance(predicted, str)
                and (predicted == "FAIL") == (data.categories[cell.key] == "FAIL"),
            }
        )
    return {"right": sum(r["right"] for r in rows), "cells": len(rows), "rows": rows}


def _shuffled_kappa(data: Dataset, feature_set: str, seed: int) -> float:
    """Leave-one-table-out κ of a predictor fitted to permuted labels (near 0: no leak)."""
    noise = shuffled(data, seed=seed)
    got = cross_validate(noise, folds="table", feature_set=feature_set)
    keys = [k for k in noise.features.index if isinstance(got.categories.get(k), str)]
    return cohen_kappa([(str(noise.categories[k]), str(got.categories[k])) for k in keys])


def _final(
    result: Prediction,
    data: Dataset,
    held: Mapping[str, Mapping[str, Predictions]],
    cells: Sequence[ReferenceCell],
    extra: Sequence[Unit],
    features: Mapping[str, Mapping[str, float]],
    sets: Sequence[str],
) -> None:
    """Fill the cells' and candidates' predictions and what each predictor leans on."""
    best = held[result.best]["table"]
    # each set's interval from its own held-out residuals: a candidate predicted by another
    # set than the best (a function no run trained) carries that set's spread
    halves = {name: _half_width(data, held[name]["table"]) for name in sets}
    half = halves[result.best]
    means = {c.key: _reference_mean(c, cells) for c in cells}
    fitted_on = set(data.features.columns)

    def seen(key: str) -> dict[str, float]:
        return {n: v for n, v in features.get(key, {}).items() if n in fitted_on}

    for cell in cells:
        result.features.append(seen(cell.key))
        effect = best.effects.get(cell.key, math.nan)
        value = means[cell.key] + effect
        result.cells.append(
            {
                "table": cell.table,
                "property": cell.prop,
                "base": cell.base,
                "variant": cell.variant,
                "lam": cell.lam,
                "value": cell.value,
                "name": cell.label,
                "expression": cell.expression,
                "reference_category": str(data.categories[cell.key]),
                "predicted_category": best.categories.get(cell.key),
                "predicted_value": value,
                "low": value - half,
                "high": value + half,
            }
        )
    anchor = statistics.fmean(means[c.key] for c in cells if c.is_identity) if cells else math.nan
    models: dict[str, tuple[list[str], Fitted, Fitted]] = {}
    for name in sets:
        columns = data.columns(name)
        chosen = choose_models(data, columns, data.features.index, "table")
        models[name] = (columns, *fit_final(data, columns, *chosen))
        result.leaning[name] = leaning(models[name][1])
    unpredicted: list[str] = []
    for unit in extra:
        own = features.get(unit.key, {})
        # a set is usable with each of its kinds of feature measured (missing ones imputed)
        usable = [
            s
            for s in sets
            if (s == "trained" or any(c in own for c in data.columns("zero-cost")))
            and (s == "zero-cost" or any(c in own for c in data.columns("trained")))
        ]
        if not usable:
            unpredicted.append(unit.key)
            continue
        name = max(usable, key=lambda s: _or(result.scores[s]["table"].kappa.value))
        columns, category_model, effect_model = models[name]
        row = pd.DataFrame([{c: own.get(c, math.nan) for c in columns}])
        value = _candidate_value(unit, cells, anchor) + float(effect_model.predict(row)[0])
        result.features.append(seen(unit.key))
        result.candidates.append(
            {
                "name": unit.key,
                "expression": unit.expression,
                "predicted_category": str(category_model.predict(row)[0]),
                "predicted_value": value,
                "low": value - halves[name],
                "high": value + halves[name],
                "features": name,
            }
        )
    if unpredicted:  # asked for, so said: a row that is absent would read as forgotten
        result.notes.append(_unpredicted_note(unpredicted, sets))


def _unpredicted_note(names: Sequence[str], sets: Sequence[str]) -> str:
    """The report's note on the candidates no fitted set has a feature of.

    >>> _unpredicted_note(["a", "b"], ["trained"])  # doctest: +ELLIPSIS
    '2 candidate(s) not predicted, having no feature of the sets fitted (trained): a, b; ...'
    """
    more = len(names) - NAMES_SHOWN
    shown = ", ".join(names[:NAMES_SHOWN]) + (f" and {more} more" if more > 0 else "")
    return (
        f"{len(names)} candidate(s) not predicted, having no feature of the sets fitted "
        f"({', '.join(sets)}): {shown}; a function not trained has zero-cost features alone"
    )


def _half_width(data: Dataset, got: Predictions) -> float:
    """Half the :data:`VALUE_COVERAGE` interval of a predicted value: that quantile of the
    held-out predictions' absolute errors on the cells that did not fail."""
    residuals = [
        abs(got.effects[k] - data.effects[k])
        for k in data.features.index
        if math.isfinite(data.effects[k]) and math.isfinite(got.effects[k])
    ]
    return float(np.quantile(residuals, VALUE_COVERAGE)) if residuals else math.nan


def _reference_mean(cell: ReferenceCell, cells: Sequence[ReferenceCell]) -> float:
    refs = reference_cells(cell, cells)
    return reference_mean(refs) if refs else math.nan


def _candidate_value(unit: Unit, cells: Sequence[ReferenceCell], anchor: float) -> float:
    """The mean value of the cells a candidate is compared with: the anchors' identity cells."""
    values = [
        c.value
        for c in cells
        if c.is_identity and c.expression in unit.references and c.value is not None
    ]
    return statistics.fmean(values) if values else anchor
