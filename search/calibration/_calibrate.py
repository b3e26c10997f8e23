"""A calibration: the proxy cells a reference names, as a run, and the figures that say how
well the proxy agrees with the reference.

The run is an ordinary study on the search machinery (resumable, Optuna + Ray): one row per
cell in the candidate table, cells that train the same function sharing one run, LayerNorm
beside them. Each row carries its reference side (value, category, effect, the cells it is
compared with), so a run directory's figures need nothing but the run directory.

Example:
    >>> from search.calibration import PAPER_REFERENCE, read_reference
    >>> reference = read_reference(PAPER_REFERENCE)
    >>> table = calibration_table(reference, cells="decisive")
    >>> int(table["scored"].sum()), table["candidate_id"].nunique()
    (25, 22)
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from candidates import (
    DEFAULT_ALPHA0,
    PROPERTIES,
    Candidate,
    as_candidate_table,
    candidates_table,
    check_candidate,
    get_entry,
)

from ..driver import sweep_summary
from ..reports import COVERAGE, seed_taus
from ._proxy import ProxyCell, ProxyRule, Values
from ._reference import (
    DEGRADE_POINTS,
    Category,
    ReferenceCell,
    decisive_cells,
    reference_categories,
    reference_cells,
    reference_effects,
)
from ._scores import (
    Scores,
    agreement_scores,
    kappa_difference,
    number_text,
    spearman_difference,
)
from ._zero_cost import DESCRIPTORS, cut_at_shares, descriptor_effects

#: The ``study`` of a calibration run's settings.
STUDY = "calibration"
#: The norm layer whose gain over the untrained level is the proxy's unit.
LAYERNORM = "layernorm"
#: The columns a calibration adds to the candidate record (beside row, group, function, lam).
CALIBRATION_COLUMNS = (
    "table",
    "property",
    "base",
    "variant",
    "reference_value",
    "reference_category",
    "reference_effect",
    "reference_rows",
    "scored",
)


def calibration_table(
    reference: list[ReferenceCell],
    *,
    cells: str = "all",
    shift: str = "none",
    degrade_points: float | None = None,
) -> pd.DataFrame:
    """The candidate table of a calibration run: LayerNorm, the scored cells (``all``, or the
    ``decisive`` subset) and the cells they are compared with, in the template ``shift`` (the
    paper's Section 3 has no s)."""
    categories = reference_categories(
        reference, degrade_points=DEGRADE_POINTS if degrade_points is None else degrade_points
    )
    effects = reference_effects(reference)
    scored = reference if cells == "all" else decisive_cells(reference, categories)
    compared = {c.key: reference_cells(c, reference) for c in scored}
    keys = {c.key for c in scored} | {r.key for refs in compared.values() for r in refs}
    needed = [c for c in reference if c.key in keys]
    functions = {c.expression: Candidate.from_text(c.expression) for c in needed}
    # numeric checks only: a calibration trains the cells whatever their verdicts say
    checked = candidates_table([check_candidate(f, symbolic=False) for f in functions.values()])
    records: dict[str, dict[str, Any]] = {
        e: {str(k): v for k, v in r.items()}
        for e, r in zip(functions, checked.to_dict("records"), strict=True)
    }
    layernorm = get_entry(LAYERNORM)
    rows: list[dict[str, Any]] = [
        {
            "candidate_id": LAYERNORM,
            "kind": "baseline",
            "name": LAYERNORM,
            "shift": layernorm.shift,
            "alpha0": layernorm.alpha0,
            "row": LAYERNORM,
            "group": "baselines",
            "function": LAYERNORM,
            "scored": False,
        }
    ]
    first: dict[str, str] = {}  # expression -> the run's key (its first cell's)
    for cell in needed:
        rows.append(
            {
                **records[cell.expression],
                "candidate_id": first.setdefault(cell.expression, cell.key),
                "kind": "candidate",
                "name": cell.label,
                "shift": shift,
                "alpha0": DEFAULT_ALPHA0,  # the template's, the same for every cell
                "row": cell.key,
                "group": f"{cell.table} {cell.prop}",
                "function": cell.base,
                "lam": cell.lam,
                "table": cell.table,
                "property": cell.prop,
                "base": cell.base,
                "variant": cell.variant,
                "reference_value": cell.value,
                "reference_category": categories[cell.key],
                "reference_effect": effects[cell.key],
                "reference_rows": [r.key for r in compared.get(cell.key, [])],
                "scored": cell.key in compared,
            }
        )
    return as_candidate_table(pd.DataFrame(rows))


@dataclass(frozen=True)
class CellResult:
    """A scored cell: the reference's side, the proxy's, and the zero-cost predictors'."""

    key: str
    prop: str
    name: str
    reference_value: float | None
    reference_category: Category
    reference_effect: float
    proxy: ProxyCell
    # descriptor -> (category, effect); no category where the proxy has not measured the cell
    zero_cost: dict[str, tuple[Category | None, float]]
    # the proxy's effect cut at the reference's category shares, as the zero-cost ones are
    proxy_by_shares: Category | None = None


@dataclass
class Calibration:
    """The figures of a calibration run (see :func:`calibration_figures`)."""

    task: str
    metric: str
    protocol: str
    recipe: list[str]
    budget: str
    cells_mode: str
    seeds: int
    untrained: float | None
    layernorm: float  # LayerNorm's mean metric
    cells: list[CellResult]
    proxy: Scores
    per_property: dict[str, Scores]
    proxy_by_shares: Scores  # the proxy's effects cut as the zero-cost ones are
    per_property_by_shares: dict[str, Scores]
    zero_cost: dict[str, Scores]
    zero_cost_per_property: dict[str, dict[str, Scores]]
    seconds_per_run: float
    runs: int
    seconds: float  # the trials' training time, summed
    seed_noise: float  # median standard error of a cell's effect, in LayerNorm gains
    seed_tau: float  # Kendall τ of the runs' order between two seeds, mean over seed pairs
    not_measured: int = 0
    notes: list[str] = field(default_factory=list)
    failed_runs: int = 0  # trials that ended in an error (not a divergence): not measured
    first_failure: str = ""  # the reason the first of them gave

    @property
    def best_zero_cost(self) -> str:
        """The zero-cost descriptor with the highest κ (ties: Spearman)."""

        def key(name: str) -> tuple[float, float]:
            s = self.zero_cost[name]
            return (_or(s.kappa, -2.0), _or(s.spearman, -2.0))

        return max(self.zero_cost, key=key)

    def _paired_cells(self) -> list[CellResult]:
        """The cells both the proxy's share cut and the zero-cost predictors categorised."""
        best = self.best_zero_cost
        return [
            c
            for c in self.cells
            if c.proxy_by_shares is not None and c.zero_cost[best][0] is not None
        ]

    @cached_property
    def kappa_gap(self) -> tuple[float, float, float]:
        """κ of the proxy cut at the reference's shares less the best zero-cost predictor's,
        with its bootstrap interval over the cells (:func:`kappa_difference`)."""
        cells, best = self._paired_cells(), self.best_zero_cost
        return kappa_difference(
            [c.reference_category for c in cells],
            [str(c.proxy_by_shares) for c in cells],
            [str(c.zero_cost[best][0]) for c in cells],
        )

    @cached_property
    def spearman_gap(self) -> tuple[float, float, float]:
        """The proxy's Spearman ρ with the reference effects less the best zero-cost
        predictor's, with its bootstrap interval over the cells (:func:`spearman_difference`)."""
        best = self.best_zero_cost
        cells = [
            c
            for c in self._paired_cells()
            if not math.isnan(c.proxy.effect) and not math.isnan(c.zero_cost[best][1])
        ]
        return spearman_difference(
            [c.reference_effect for c in cells],
            [c.proxy.effect for c in cells],
            [c.zero_cost[best][1] for c in cells],
        )

    def verdict(self) -> str:
        """Whether the trained proxy beats the best zero-cost predictor, in a sentence. Like
        is compared with like: the proxy's categories are the ones cut at the reference's
        shares, as the zero-cost predictors' are, and a difference counts only when its
        bootstrap interval over the cells excludes 0."""
        best = self.best_zero_cost
        zc, mine = self.zero_cost[best], self.proxy_by_shares
        (kappa, k_low, k_high), (rho, r_low, r_high) = self.kappa_gap, self.spearman_gap
        if math.isnan(kappa) and math.isnan(rho):
            return (
                f"Too few cells are measured ({mine.cells}) to compare the trained proxy with "
                "the zero-cost predictors."
            )
        figures = (
            f"κ {number_text(mine.kappa)} against {number_text(zc.kappa)}, both cut at the "
            f"reference's shares: difference {number_text(kappa)}{_interval(k_low, k_high)}; "
            f"Spearman {number_text(mine.spearman)} against {number_text(zc.spearman)}: "
            f"difference {number_text(rho)}{_interval(r_low, r_high)}; intervals over "
            "resampled cells"
        )
        sides = {"κ": _side(k_low, k_high), "Spearman": _side(r_low, r_high)}
        ahead = [name for name, side in sides.items() if side == "ahead of"]
        if len(ahead) == 2:
            return (
                f"The trained proxy beats the best zero-cost predictor, {best}, on κ and on "
                f"Spearman ({figures})."
            )
        if ahead:
            (other,) = [name for name in sides if name not in ahead]
            return (
                f"The trained proxy beats the best zero-cost predictor, {best}, on {ahead[0]} "
                f"only; on {other} it is {sides[other]} it ({figures})."
            )
        return (
            f"The trained proxy does not beat the zero-cost predictor {best}: it is "
            f"{sides['κ']} it on κ and {sides['Spearman']} it on Spearman ({figures}). At this "
            "recipe its CPU buys nothing a descriptor of f does not already say."
        )


def _side(low: float, high: float) -> str:
    """Where a difference's interval puts the proxy against the zero-cost predictor."""
    if low > 0:
        return "ahead of"
    if high < 0:
        return "behind"
    return "not distinguishable from"  # the interval holds 0, or there is none


def _interval(low: float, high: float) -> str:
    if math.isnan(low):
        return ", no interval (too few cells)"
    return f", {COVERAGE:.0%} interval {number_text(low)} to {number_text(high)}"


def ranked(cell: ProxyCell) -> bool:
    """Whether a cell takes part in a cut at the reference's shares, the proxy's and the
    zero-cost predictors' alike: it is measured and has an effect, or every seed diverged
    (it then ranks lowest)."""
    return cell.category is not None and (
        math.isfinite(cell.effect) or cell.diverged == cell.seeds > 0
    )


def with_proxy_shares(cells: list[CellResult]) -> list[CellResult]:
    """``cells`` with the proxy's effects cut at the reference's category shares among the
    measured cells (:func:`cut_at_shares`, the zero-cost predictors' rule). A cell whose every
    seed diverged on a task with no untrained level has no effect and ranks lowest; a cell with
    no effect for another reason (a reference run diverged there) is left out of the cut.

    >>> from search.calibration import ProxyCell
    >>> def cell(key, ref, effect):
    ...     return CellResult(key, "bounded", key, 1.0, ref, 0.0,
    ...                       ProxyCell("FINE", 1.0, effect, 0.01, 2, 0), {})
    >>> cut = with_proxy_shares([cell("a", "FINE", -0.2), cell("b", "DEGRADE", 0.0)])
    >>> [c.proxy_by_shares for c in cut]
    ['DEGRADE', 'FINE']
    """
    effects = {
        c.key: c.proxy.effect if math.isfinite(c.proxy.effect) else -math.inf
        for c in cells
        if ranked(c.proxy)
    }
    cut = cut_at_shares(effects, {c.key: c.reference_category for c in cells})
    return [replace(c, proxy_by_shares=cut.get(c.key)) for c in cells]


def _or(value: float, default: float) -> float:
    return default if value is None or math.isnan(value) else value


def _flag(value: Any) -> bool:
    """A boolean column's value read back from parquet (numpy or Python; empty is False)."""
    return isinstance(value, bool | np.bool_) and bool(value)


def run_values(
    trials: pd.DataFrame,
    task: str,
    table: pd.DataFrame | None = None,
    *,
    untrained: float | None = None,
    direction: str = "maximize",
) -> Values:
    """run key -> seed -> metric of a task's finished trials (nan: diverged); a (run, seed)
    counts once, its first finished trial. In an lr-sweep run (``table`` has ``sweep_of``),
    a candidate's value is its mean over the learning-rate ladder, a diverged rung at the
    ``untrained`` level (best metric less the learning-rate sensitivity)."""
    done = trials[(trials["task"] == task) & (trials["state"] == "COMPLETE")]
    if table is not None and "sweep_of" in table and untrained is not None:
        summary = sweep_summary(done, table, untrained=untrained, direction=direction)
        swept: dict[str, dict[int, float]] = {}
        for row in summary.to_dict("records"):
            swept.setdefault(str(row["candidate_id"]), {})[int(row["seed"])] = float(
                row["ladder_mean"]
            )
        return swept
    done = done.sort_values("number").drop_duplicates(["candidate_id", "seed"])
    values: dict[str, dict[int, float]] = {}
    for row in done.to_dict("records"):
        value = float(row["value"]) if row["value"] is not None else math.nan
        if bool(row["diverged"]) or not math.isfinite(value):
            value = math.nan
        values.setdefault(str(row["candidate_id"]), {})[int(row["seed"])] = value
    return values


def _seed_tau(values: Values, direction: str) -> float:
    """Mean over seed pairs of Kendall's τ between the runs' values (a diverged run last)."""
    sign = 1.0 if direction == "maximize" else -1.0
    signed = {
        run: {seed: sign * v if math.isfinite(v) else -math.inf for seed, v in per.items()}
        for run, per in values.items()
    }
    taus = seed_taus(signed)
    return statistics.fmean(taus) if taus else math.nan


def calibration_figures(
    table: pd.DataFrame,
    trials: pd.DataFrame,
    *,
    task: str,
    settings: dict[str, Any],
) -> Calibration:
    """The figures of a calibration run from its candidate table and trials. ``settings``
    holds protocol, recipe, budget, cells and seeds as the run was started."""
    from evaluators import get_task

    proxy_task = get_task(task)
    untrained = proxy_task.untrained_level()
    rule = ProxyRule(untrained, LAYERNORM, proxy_task.direction)
    values = run_values(trials, task, table, untrained=untrained, direction=proxy_task.direction)
    rows = {str(r["row"]): r for r in table.to_dict("records")}
    # the run a cell is scored by: its candidate's (over the ladder, in an lr-sweep run)
    run_key = "sweep_of" if "sweep_of" in table else "candidate_id"
    run_of = {key: str(r[run_key]) for key, r in rows.items()}
    functions = {
        key: (str(r["expression"]), float(r["alpha0"]))
        for key, r in rows.items()
        if isinstance(r["expression"], str)
    }
    references = {
        key: [str(k) for k in r["reference_rows"]] for key, r in rows.items() if _flag(r["scored"])
    }
    keys = list(references)
    ref_categories: dict[str, Category] = {k: rows[k]["reference_category"] for k in keys}
    judged = {
        key: rule.judge(run_of[key], [run_of[r] for r in references[key]], values) for key in keys
    }
    zero = _zero_cost(keys, references, functions, judged, ref_categories)
    results = with_proxy_shares(
        [_cell_result(rows[key], key, ref_categories[key], judged[key], zero[key]) for key in keys]
    )
    properties = [p for p in PROPERTIES if any(c.prop == p for c in results)]
    per = {p: [c for c in results if c.prop == p] for p in properties}
    done = trials[(trials["task"] == task) & (trials["state"] == "COMPLETE")]
    failed = _failed_runs(trials, task, done)
    reasons = failed["fail_reason"].dropna() if "fail_reason" in failed else pd.Series([])
    ses = [c.proxy.se for c in results if math.isfinite(c.proxy.se)]
    ln = [v for v in values.get(LAYERNORM, {}).values() if math.isfinite(v)]
    return Calibration(
        task=task,
        metric=proxy_task.metric,
        protocol=str(settings.get("protocol", "single"))
        + (f" (widths {settings['widths']})" if settings.get("widths") else ""),
        recipe=list(settings.get("recipe", [])),
        budget=str(settings.get("budget", "default")),
        cells_mode=str(settings.get("cells", "all")),
        seeds=int(settings.get("seeds", 0)),
        untrained=untrained,
        layernorm=statistics.fmean(ln) if ln else math.nan,
        cells=results,
        proxy=_scores(results, _fixed, _proxy_effect),
        per_property={p: _scores(cs, _fixed, _proxy_effect) for p, cs in per.items()},
        proxy_by_shares=_scores(results, _by_shares, _proxy_effect),
        per_property_by_shares={p: _scores(cs, _by_shares, _proxy_effect) for p, cs in per.items()},
        zero_cost={d: _scores(results, *_zero(d)) for d in DESCRIPTORS},
        zero_cost_per_property={
            d: {p: _scores(cs, *_zero(d)) for p, cs in per.items()} for d in DESCRIPTORS
        },
        seconds_per_run=float(done["seconds"].mean()) if len(done) else math.nan,
        runs=len(done),
        seconds=float(done["seconds"].sum()) if len(done) else 0.0,
        seed_noise=statistics.median(ses) if ses else math.nan,
        seed_tau=_seed_tau(values, proxy_task.direction),
        not_measured=sum(c.proxy.category is None for c in results),
        failed_runs=len(failed),
        first_failure=str(reasons.iloc[0]) if len(reasons) else "",
    )


def _zero_cost(
    keys: list[str],
    references: dict[str, list[str]],
    functions: dict[str, tuple[str, float]],
    judged: dict[str, ProxyCell],
    ref_categories: dict[str, Category],
) -> dict[str, dict[str, tuple[Category | None, float]]]:
    """Per cell, each descriptor's category and effect; the categories are cut at the
    reference's shares over the cells the proxy's own cut ranks."""
    measured = [k for k in keys if ranked(judged[k])]
    effects = {d: descriptor_effects(d, keys, references, functions) for d in DESCRIPTORS}
    categories = {
        d: cut_at_shares({k: effects[d][k] for k in measured}, ref_categories) for d in DESCRIPTORS
    }
    return {k: {d: (categories[d].get(k), effects[d][k]) for d in DESCRIPTORS} for k in keys}


def _cell_result(
    row: Mapping[Any, Any],
    key: str,
    category: Category,
    judged: Any,
    zero_cost: dict[str, tuple[Category | None, float]],
) -> CellResult:
    value = row["reference_value"]
    return CellResult(
        key=key,
        prop=str(row["property"]),
        name=str(row["name"]),
        reference_value=None if value is None or pd.isna(value) else float(value),
        reference_category=category,
        reference_effect=float(row["reference_effect"]),
        proxy=judged,
        zero_cost=zero_cost,
    )


def _failed_runs(trials: pd.DataFrame, task: str, done: pd.DataFrame) -> pd.DataFrame:
    """The runs of ``task`` that failed with an error and were not measured after all: a
    failure retried (by a worker's death or a resume), or whose run later finished, is not
    a failed run (its cell was measured)."""
    failed = trials[(trials["task"] == task) & (trials["state"] == "FAIL")]
    if "retried" in failed:
        failed = failed[~failed["retried"].fillna(False).astype(bool)]
    finished = set(zip(done["candidate_id"], done["seed"], strict=True))
    keep = [key not in finished for key in zip(failed["candidate_id"], failed["seed"], strict=True)]
    return failed[keep]


def _scores(
    cells: list[CellResult],
    got: Callable[[CellResult], Category | None],
    effect: Callable[[CellResult], float],
) -> Scores:
    return agreement_scores(
        {c.key: c.reference_category for c in cells},
        {c.key: got(c) for c in cells},
        {c.key: c.reference_effect for c in cells},
        {c.key: effect(c) for c in cells},
    )


def _fixed(c: CellResult) -> Category | None:
    return c.proxy.category


def _by_shares(c: CellResult) -> Category | None:
    return c.proxy_by_shares


def _proxy_effect(c: CellResult) -> float:
    return c.proxy.effect


def _zero(d: str) -> tuple[Callable[[CellResult], Category | None], Callable[..., float]]:
    return (lambda c: c.zero_cost[d][0]), (lambda c: c.zero_cost[d][1])


def read_calibration(run_dir: str | Path) -> Calibration:
    """The figures of the calibration run in ``run_dir`` (finished or not)."""
    from candidates import UserError

    from ..driver import RunSettings, read_candidates, read_trials

    settings = RunSettings.read(run_dir)
    if settings.study != STUDY:
        raise UserError(f"{run_dir} is not a calibration run (it has no reference cells)")
    table = read_candidates(run_dir)
    trials = read_trials(run_dir)
    figures = calibration_figures(
        table, trials, task=settings.tasks[0], settings=settings.to_dict()
    )
    return figures


def rescore_study(
    run_dir: str | Path, reference: list[ReferenceCell], *, degrade_points: float | None = None
) -> Calibration:
    """The figures of an existing property-study run (`derf-search study properties`) against
    ``reference``, without training: each cell is matched to the study's run of the same
    function (sympy-equal, template without s, the default α0); cells the study lacks are
    counted as not measured.

    Example:
        >>> from search.calibration import PAPER_REFERENCE, read_reference
        >>> c = rescore_study("results/paper-properties-mnist1d", read_reference(PAPER_REFERENCE))
        >>> c.proxy.cells, c.not_measured
        (123, 0)
    """
    from candidates import UserError

    from ..driver import RunSettings, read_candidates, read_trials

    settings = RunSettings.read(run_dir)
    if settings.study != "properties":
        raise UserError(f"{run_dir} is not a property study (`derf-search study properties`)")
    if settings.protocol != "single":
        raise UserError(
            f"{run_dir} ran protocol {settings.protocol}: scoring a study is for the single "
            "protocol; calibrate others with `derf-search calibrate --protocol …`"
        )
    study = read_candidates(run_dir)
    runs: dict[Any, str] = {}
    for row in study.to_dict("records"):
        if (
            row["kind"] == "candidate"
            and row["shift"] == "none"
            and isinstance(row["expression"], str)
            and float(row["alpha0"]) == DEFAULT_ALPHA0
        ):
            runs.setdefault(Candidate.from_text(row["expression"]).sympy, row["candidate_id"])
    table = calibration_table(reference, cells="all", degrade_points=degrade_points)
    own = [
        LAYERNORM
        if e is None or not isinstance(e, str)
        else runs.get(Candidate.from_text(e).sympy, f"missing:{c}")
        for e, c in zip(table["expression"], table["candidate_id"], strict=True)
    ]
    table["candidate_id"] = own
    return calibration_figures(
        table,
        read_trials(run_dir),
        task=settings.tasks[0],
        settings={**settings.to_dict(), "cells": "all"},
    )
