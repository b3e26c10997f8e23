"""How well a predictor's categories and effects agree with a reference's.

Agreement is the share of cells in the same category; Cohen's κ corrects it for the agreement
two independent raters with the same category shares would reach by chance; Spearman's ρ
compares the effects' order (a failed reference cell ranks below every other).

Example:
    >>> ref = {"a": "FAIL", "b": "FINE", "c": "FINE", "d": "DEGRADE"}
    >>> got = {"a": "FAIL", "b": "FINE", "c": "DEGRADE", "d": "DEGRADE"}
    >>> s = agreement_scores(ref, got, {"a": -9.0, "b": 0.0, "c": 0.1, "d": -1.0},
    ...                      {"a": -5.0, "b": 0.2, "c": 0.1, "d": -1.0})
    >>> s.cells, s.agreement, round(s.kappa, 3), round(s.spearman, 2)
    (4, 0.75, 0.636, 0.8)
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from ..reports import COVERAGE, RESAMPLES, percentile_interval
from ._reference import CATEGORIES, Category


@dataclass(frozen=True)
class Scores:
    """A predictor against a reference over the cells both have."""

    cells: int
    agreement: float
    kappa: float  # nan where chance agreement is 1 (one category on both sides)
    spearman: float  # nan with fewer than 3 cells or a constant side
    confusion: dict[str, dict[str, int]]  # reference category -> predicted category -> cells

    def to_dict(self) -> dict[str, Any]:
        return {
            k: (None if isinstance(v, float) and math.isnan(v) else v)
            for k, v in asdict(self).items()
        }


def cohen_kappa(pairs: Sequence[tuple[str, str]]) -> float:
    """Cohen's κ of (reference, predicted) category pairs.

    >>> round(cohen_kappa([("FAIL", "FAIL"), ("FINE", "FINE"), ("FINE", "FAIL")]), 3)
    0.4
    """
    n = len(pairs)
    if n == 0:
        return math.nan
    observed = sum(a == b for a, b in pairs) / n
    chance = sum(
        (sum(a == k for a, _ in pairs) / n) * (sum(b == k for _, b in pairs) / n)
        for k in CATEGORIES
    )
    return math.nan if chance >= 1 else (observed - chance) / (1 - chance)


def spearman(x: list[float], y: list[float]) -> float:
    """Spearman's ρ; −inf sorts below every finite value (a failed cell), +inf above."""
    if len(x) < 3:
        return math.nan
    from scipy.stats import rankdata

    def ranks(values: list[float]) -> np.ndarray:
        finite = [v for v in values if math.isfinite(v)]
        floor = (min(finite) if finite else 0.0) - 1.0
        ceiling = (max(finite) if finite else 0.0) + 1.0
        bounded = [v if math.isfinite(v) else floor if v < 0 else ceiling for v in values]
        return np.asarray(rankdata(bounded))

    rx, ry = ranks(x), ranks(y)
    if rx.std() == 0 or ry.std() == 0:
        return math.nan
    return float(np.corrcoef(rx, ry)[0, 1])


def agreement_scores(
    reference: Mapping[str, Category],
    predicted: Mapping[str, Category | None],
    reference_effects: Mapping[str, float],
    predicted_effects: Mapping[str, float],
) -> Scores:
    """The scores over the cells with a predicted category (None: not measured)."""
    keys = [k for k in reference if predicted.get(k) is not None]
    pairs = [(reference[k], str(predicted[k])) for k in keys]
    confusion: dict[str, dict[str, int]] = {
        a: {b: sum(p == (a, b) for p in pairs) for b in CATEGORIES} for a in CATEGORIES
    }
    with_effects = [k for k in keys if not math.isnan(predicted_effects.get(k, math.nan))]
    return Scores(
        cells=len(keys),
        agreement=sum(a == b for a, b in pairs) / len(pairs) if pairs else math.nan,
        kappa=cohen_kappa(pairs),
        spearman=spearman(
            [reference_effects[k] for k in with_effects],
            [predicted_effects[k] for k in with_effects],
        ),
        confusion=confusion,
    )


def paired_bootstrap(
    cells: int,
    difference: Callable[[np.ndarray], float],
    *,
    resamples: int = RESAMPLES,
    seed: int = 0,
) -> tuple[float, float, float]:
    """``difference`` (of two predictors' scores over the cells at the given indices) on all
    ``cells``, with a percentile bootstrap interval (:data:`search.reports.COVERAGE`) from
    resampling the cells, paired: the same cells for both predictors in each resample, so the
    interval says how far the difference could move on another set of cells like these.
    Returns (difference, low, high); the interval is nan where too many resamples have no
    difference (too few cells, one category) for it to mean anything.

    >>> a, b = np.arange(30.0), np.arange(30.0) + 1.0
    >>> gap, low, high = paired_bootstrap(30, lambda i: float(a[i].mean() - b[i].mean()))
    >>> round(gap, 6), round(low, 6), round(high, 6)  # a constant difference has no spread
    (-1.0, -1.0, -1.0)
    """
    gap = difference(np.arange(cells))
    if cells == 0 or not math.isfinite(gap):
        return gap, math.nan, math.nan
    rng = np.random.default_rng(seed)
    draws = np.array([difference(rng.integers(0, cells, size=cells)) for _ in range(resamples)])
    defined = draws[np.isfinite(draws)]
    # an interval over the resamples that happen to have a figure would be too narrow
    if len(defined) < COVERAGE * resamples:
        return gap, math.nan, math.nan
    return (gap, *percentile_interval(defined))


def kappa_difference(
    reference: Sequence[str], first: Sequence[str], second: Sequence[str]
) -> tuple[float, float, float]:
    """κ(first) − κ(second) against the same ``reference`` categories, cell by cell, with its
    paired bootstrap interval over the cells (:func:`paired_bootstrap`).

    >>> ref = ["FAIL"] * 10 + ["DEGRADE"] * 10 + ["FINE"] * 20
    >>> good, poor = list(ref), ["FINE"] * 20 + ["FAIL"] * 10 + ["DEGRADE"] * 10
    >>> gap, low, high = kappa_difference(ref, good, poor)
    >>> round(gap, 2), low < gap <= high
    (1.6, True)
    """
    if not len(reference) == len(first) == len(second):
        raise ValueError(
            f"{len(reference)} reference categories against {len(first)} and {len(second)}"
        )

    def difference(rows: np.ndarray) -> float:
        ref = [reference[i] for i in rows]
        return cohen_kappa(list(zip(ref, [first[i] for i in rows], strict=True))) - cohen_kappa(
            list(zip(ref, [second[i] for i in rows], strict=True))
        )

    return paired_bootstrap(len(reference), difference)


def spearman_difference(
    reference: Sequence[float], first: Sequence[float], second: Sequence[float]
) -> tuple[float, float, float]:
    """Spearman's ρ of ``first`` with the ``reference`` effects less that of ``second``, cell
    by cell, with its paired bootstrap interval over the cells (:func:`paired_bootstrap`).

    >>> ref = [float(i) for i in range(40)]
    >>> gap, low, high = spearman_difference(ref, ref, ref[::-1])
    >>> gap, low > 1.5
    (2.0, True)
    """
    if not len(reference) == len(first) == len(second):
        raise ValueError(f"{len(reference)} reference effects against {len(first)}, {len(second)}")

    def difference(rows: np.ndarray) -> float:
        ref = [reference[i] for i in rows]
        return spearman(ref, [first[i] for i in rows]) - spearman(ref, [second[i] for i in rows])

    return paired_bootstrap(len(reference), difference)


def number_text(value: float | None, digits: int = 2) -> str:
    """A figure for a calibration report: ``digits`` decimals, "–" where it is missing.

    >>> number_text(0.1234), number_text(float("nan")), number_text(None)
    ('0.12', '–', '–')
    """
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "–"
    return f"{value:.{digits}f}"
