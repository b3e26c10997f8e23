"""Growth fits: a signal's power law over a scale ladder, extrapolated to a target scale.

Per signal, ``log value = a + b·log width + c·log steps`` (``+ d·log depth`` where the ladder
varies depth) is fitted robustly (Huber weights, iteratively reweighted least squares) to
every (width, step) point of a candidate's ladder runs; the prediction at the target comes with
a prediction interval from the residuals. A grid with fewer than :data:`MIN_LEVELS` distinct
values on an axis it fits is refused: two points make a line whatever the law.

Example:
    >>> points = [({"width": w, "steps": s}, 3.0 * w**0.5 * s**0.25)
    ...           for w in (16, 32, 64) for s in (100, 200, 400)]
    >>> fit = fit_growth(points, axes=("width", "steps"))
    >>> round(fit.exponents["width"], 3), round(fit.exponents["steps"], 3)
    (0.5, 0.25)
    >>> round(fit.at({"width": 768, "steps": 94000}) / (3.0 * 768**0.5 * 94000**0.25), 6)
    1.0
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from scipy import stats

from candidates import UserError

from ..driver import MIN_WIDTHS

if TYPE_CHECKING:
    import pandas as pd

#: The fewest distinct values an axis needs to be fitted (a ladder's widths are held to it).
MIN_LEVELS = MIN_WIDTHS
#: Huber's threshold, in robust standard deviations of the residuals.
HUBER = 1.345
#: The coverage of a growth fit's prediction interval.
FIT_COVERAGE = 0.9


@dataclass(frozen=True)
class GrowthFit:
    """A fitted power law: ``value = exp(intercept) · Π axis^exponent``."""

    axes: tuple[str, ...]
    intercept: float
    exponents: dict[str, float]
    sigma: float  # the residuals' robust standard deviation, in log value
    points: int
    # (XᵀWX)⁻¹ of the fit, for the interval at a new point
    covariance: tuple[tuple[float, ...], ...]

    def log_at(self, scale: Mapping[str, float]) -> float:
        """log value at ``scale`` (an axis missing from it is an error)."""
        return self.intercept + sum(e * math.log(scale[a]) for a, e in self.exponents.items())

    def at(self, scale: Mapping[str, float]) -> float:
        return math.exp(self.log_at(scale))

    def interval(self, scale: Mapping[str, float]) -> tuple[float, float]:
        """The :data:`FIT_COVERAGE` prediction interval of log value at ``scale``."""
        x = np.array([1.0, *(math.log(scale[a]) for a in self.axes)])
        spread = self.sigma * math.sqrt(1.0 + float(x @ np.array(self.covariance) @ x))
        dof = max(1, self.points - len(x))
        half = float(stats.t.ppf(0.5 + FIT_COVERAGE / 2, dof)) * spread
        centre = self.log_at(scale)
        return centre - half, centre + half


def fit_growth(
    points: Sequence[tuple[Mapping[str, float], float]], *, axes: Sequence[str]
) -> GrowthFit:
    """The robust power-law fit of ``points`` ((scale, value) pairs, value > 0) over ``axes``.
    Points whose value is not positive and finite are left out (a log needs them positive)."""
    kept = [(s, v) for s, v in points if v > 0 and math.isfinite(v)]
    for axis in axes:
        levels = sorted({float(s[axis]) for s, _ in kept})
        if len(levels) < MIN_LEVELS:
            shown = ", ".join(f"{v:g}" for v in levels) or "none"
            raise UserError(
                f"a growth fit needs at least {MIN_LEVELS} distinct values of {axis}, but the "
                f"grid has {len(levels)} ({shown})"
            )
    x = np.array([[1.0, *(math.log(float(s[a])) for a in axes)] for s, _ in kept])
    y = np.array([math.log(v) for _, v in kept])
    weights = np.ones(len(y))
    beta = np.zeros(x.shape[1])
    scale = 1.0
    for _ in range(50):
        w = np.sqrt(weights)
        beta, *_ = np.linalg.lstsq(x * w[:, None], y * w, rcond=None)
        residuals = y - x @ beta
        scale = 1.4826 * float(np.median(np.abs(residuals - np.median(residuals)))) or 1e-12
        new = np.minimum(1.0, HUBER * scale / np.maximum(np.abs(residuals), 1e-300))
        if np.allclose(new, weights, atol=1e-6):
            break
        weights = new
    dof = max(1, len(y) - x.shape[1])
    # the residuals' robust spread (their median absolute deviation), not inflated by the
    # outliers the weights set aside; corrected for the fitted parameters
    sigma = scale * math.sqrt(len(y) / dof)
    covariance = np.linalg.pinv((x * weights[:, None]).T @ x)
    return GrowthFit(
        axes=tuple(axes),
        intercept=float(beta[0]),
        exponents={a: float(b) for a, b in zip(axes, beta[1:], strict=True)},
        sigma=sigma,
        points=len(y),
        covariance=tuple(tuple(float(c) for c in row) for row in covariance),
    )


#: The columns of :func:`ladder_growth`'s table.
LADDER_COLUMNS = (
    "candidate_id",
    "seed",
    "signal",
    "at_target",
    "low",
    "high",
    "width_exponent",
    "steps_exponent",
    "sigma",
    "points",
)


def stable_steps(total: int, *, warmup_fraction: float, decay_fraction: float) -> tuple[int, int]:
    """The first and last step of a warmup–stable–decay run's stable phase (its points are
    also points of shorter runs: the ones a growth fit uses).

    >>> stable_steps(1000, warmup_fraction=0.1, decay_fraction=0.2)
    (101, 800)
    """
    warmup = max(1, int(warmup_fraction * total))
    decay = max(1, round(decay_fraction * total))
    return warmup + 1, total - decay


def ladder_growth(
    curves: pd.DataFrame,
    rungs: Mapping[str, tuple[str, int]],
    totals: Mapping[int, int],
    *,
    target: Mapping[str, float],
    warmup_fraction: float,
    decay_fraction: float,
) -> pd.DataFrame:
    """Per (candidate, seed, signal) of a ladder run, the growth fit over width and steps
    extrapolated to ``target``: log10 of the value there with its interval, the exponents.
    ``curves`` is the run's curves table, ``rungs`` maps a rung key to (its candidate, width),
    ``totals`` a trial number to its steps. A (candidate, seed) with fewer than
    :data:`MIN_LEVELS` widths finished is left out; so is a signal that never was positive."""
    import pandas as pd

    from ..driver import combined_series

    rows: list[dict[str, object]] = []
    points: dict[tuple[str, int, str], list[tuple[dict[str, float], float]]] = {}
    widths: dict[tuple[str, int], set[int]] = {}
    for (number, key, seed_key), trial in curves.groupby(["number", "candidate_id", "seed"]):
        if str(key) not in rungs:
            continue
        candidate, width = rungs[str(key)]
        seed = int(str(seed_key))
        first, last = stable_steps(
            totals[int(str(number))],
            warmup_fraction=warmup_fraction,
            decay_fraction=decay_fraction,
        )
        growth = trial[["step", "signal", "layer", "value"]].itertuples(index=False)
        for signal, series in combined_series(growth).items():
            for step, value in series:
                if first <= step <= last:
                    at = (candidate, seed, signal)
                    points.setdefault(at, []).append(({"width": width, "steps": step}, value))
        widths.setdefault((candidate, seed), set()).add(width)
    for (candidate, seed, signal), pts in sorted(points.items()):
        if len(widths[(candidate, seed)]) < MIN_LEVELS:
            continue
        try:
            fit = fit_growth(pts, axes=("width", "steps"))
        except UserError:  # too few positive points of this signal
            continue
        low, high = fit.interval(target)
        ln10 = math.log(10)
        rows.append(
            {
                "candidate_id": candidate,
                "seed": seed,
                "signal": signal,
                "at_target": fit.log_at(target) / ln10,
                "low": low / ln10,
                "high": high / ln10,
                "width_exponent": fit.exponents["width"],
                "steps_exponent": fit.exponents["steps"],
                "sigma": fit.sigma,
                "points": fit.points,
            }
        )
    return pd.DataFrame(rows, columns=list(LADDER_COLUMNS))


@dataclass(frozen=True)
class LadderRecord:
    """What a ladder run recorded for its growth fits: the curves of its finished trials
    (one task), each rung's (candidate, width), each trial's planned steps, and the warmup and
    decay shares that bound the stable phase."""

    curves: pd.DataFrame
    rungs: dict[str, tuple[str, int]]
    totals: dict[int, int]
    stable: tuple[float, float]


def planned_steps(trials: pd.DataFrame) -> dict[int, int]:
    """Each trial's planned steps (a run that stopped early keeps its schedule's length;
    records older than ``total_steps`` give the steps run)."""
    planned = trials["total_steps"] if "total_steps" in trials else trials["steps"]
    planned = planned.where(planned.notna() & (planned > 0), trials["steps"])
    return {int(n): int(s) for n, s in zip(trials["number"], planned, strict=True)}


def ladder_record(
    run_dir: str | Path, table: pd.DataFrame, trials: pd.DataFrame
) -> LadderRecord | None:
    """The growth record of a ladder run (``table`` its candidates, ``trials`` its finished
    trials of its task); None for another protocol, a run without curves or no trials."""
    from evaluators import WSD_DECAY, apply_recipe, get_task, parse_recipe

    from ..driver import RunSettings, read_curves, rung_of

    settings = RunSettings.read(run_dir)
    if settings.protocol != "ladder" or trials.empty:
        return None
    if not (Path(run_dir) / "curves.parquet").is_file():
        return None
    task = settings.tasks[0]
    totals = planned_steps(trials)
    curves = read_curves(run_dir)
    curves = curves[(curves["task"] == task) & curves["number"].isin(list(totals))]
    widths = dict(zip(table["candidate_id"], table["width"], strict=True))
    rungs = {k: (v, int(widths[k])) for k, v in rung_of(table).items()}
    _, plan = apply_recipe(get_task(task), settings.budget, parse_recipe(settings.recipe))
    return LadderRecord(curves, rungs, totals, (plan.warmup_fraction, WSD_DECAY))
