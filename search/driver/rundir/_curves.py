"""Growth curves in the run record: ``curves.parquet`` (one row per trial, step, signal and
layer) and their summaries, the columns ``growth_<signal>_<last|peak|slope>`` of a trial.

Every training records its growth signals at log-spaced steps (:mod:`evaluators._growth`
names them); a trial's result carries them as ``[step, signal, layer, value]`` rows. Nothing
here imports torch: the driver and the reports read curves as data.

Example:
    >>> rows = [[s, "grad_norm", "", 2.0 * s**0.5] for s in (1, 4, 16, 64)]
    >>> summary = growth_summary(rows)
    >>> summary["grad_norm_last"], summary["grad_norm_peak"], round(summary["grad_norm_slope"], 3)
    (16.0, 16.0, 0.5)
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from candidates import UserError

#: The columns of ``curves.parquet``: long data, pivoted only to display.
CURVE_COLUMNS = ("task", "number", "candidate_id", "seed", "step", "signal", "layer", "value")
#: Signals whose danger is a small value (an attention collapsing onto one key): combined
#: over layers by their least, not their largest.
FALLING_SIGNALS = ("attention_entropy",)
#: What :func:`growth_summary` gives per signal.
SUMMARIES = ("last", "peak", "slope")
#: The prefix of a trial's growth summary columns.
GROWTH_PREFIX = "growth_"


def combined_series(rows: Iterable[Sequence[Any]]) -> dict[str, list[tuple[int, float]]]:
    """Per signal, its (step, value) series with the layers combined at each step: the
    largest value, the smallest for :data:`FALLING_SIGNALS`.

    >>> combined_series([[1, "residual_rms", "blocks.0", 1.0], [1, "residual_rms", "b.1", 3.0]])
    {'residual_rms': [(1, 3.0)]}
    """
    by_signal: dict[str, dict[int, list[float]]] = {}
    for step, signal, _layer, value in rows:
        number = _number(value)
        if math.isfinite(number):  # a stored nan or inf is no point of a curve
            by_signal.setdefault(str(signal), {}).setdefault(int(step), []).append(number)
    out = {}
    for signal, steps in by_signal.items():
        pick = min if signal in FALLING_SIGNALS else max
        out[signal] = [(s, pick(v)) for s, v in sorted(steps.items())]
    return out


def growth_summary(rows: Iterable[Sequence[Any]]) -> dict[str, float]:
    """Per signal of a run's ``[step, signal, layer, value]`` rows (layers combined as
    :func:`combined_series` does): its ``last`` value, its ``peak`` (the extreme in the same
    sense) and its ``slope``, the least-squares slope of log value against log step over the
    later half of the recorded steps — how fast it was still growing when the run ended (nan
    with fewer than 2 positive values). Keys ``<signal>_<summary>``."""
    out: dict[str, float] = {}
    for signal, series in combined_series(rows).items():
        pick = min if signal in FALLING_SIGNALS else max
        values = [v for _, v in series]
        out[f"{signal}_last"] = values[-1]
        out[f"{signal}_peak"] = pick(values)
        later = [(s, v) for s, v in series[len(series) // 2 :] if v > 0 and math.isfinite(v)]
        out[f"{signal}_slope"] = log_slope(later)
    return out


def log_slope(points: Sequence[tuple[float, float]]) -> float:
    """The least-squares slope of log y against log x (nan for fewer than two distinct x).

    >>> round(log_slope([(1, 3.0), (10, 30.0), (100, 300.0)]), 6)
    1.0
    """
    if len(points) < 2:
        return math.nan
    xs = [math.log(x) for x, _ in points]
    ys = [math.log(y) for _, y in points]
    mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
    sxx = sum((x - mx) ** 2 for x in xs)
    if sxx == 0:
        return math.nan
    return sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / sxx


def curve_rows(key: dict[str, Any], growth: Iterable[Sequence[Any]]) -> list[dict[str, Any]]:
    """One trial's growth rows in :data:`CURVE_COLUMNS`, ``key`` giving its task, number,
    candidate_id and seed."""
    return [
        {**key, "step": int(s), "signal": str(g), "layer": str(layer), "value": _number(v)}
        for s, g, layer, v in growth
    ]


def _number(value: object) -> float:
    """A stored value as a float: a study stores nan as null and inf as text."""
    try:
        return float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return math.nan


def save_curves(run_dir: str | Path, rows: list[dict[str, Any]]) -> Path:
    """Write ``curves.parquet`` (atomically: a crash leaves the old file or the new one)."""
    path = Path(run_dir) / "curves.parquet"
    table = pd.DataFrame(rows, columns=list(CURVE_COLUMNS))
    partial = path.with_name(path.name + ".partial")
    table.to_parquet(partial, index=False)
    partial.replace(path)
    return path


def read_curves(run_dir: str | Path) -> pd.DataFrame:
    """A run directory's growth curves, one row per trial, step, signal and layer."""
    path = Path(run_dir) / "curves.parquet"
    if not path.is_file():
        raise UserError(
            f"{run_dir} has no curves.parquet: its trials ran before growth curves were "
            "recorded, or it is not a run directory"
        )
    try:
        return pd.read_parquet(path)
    except Exception as exc:  # pyarrow raises several types for a damaged file
        raise UserError(f"{path} cannot be read ({type(exc).__name__}): is it damaged?") from None
