"""Features of a function for predicting its full-scale outcome: zero-cost descriptors of f,
and what trained runs of it measured.

A **unit** is what a prediction is made for: a reference cell (its function and the cells it
is compared with) or a candidate (compared with the anchor bases' identity cells, as a
reference row without an identity cell is). Every feature comes raw and, where a difference
means something, relative: the unit's value less the mean of its reference cells' — a table
holds one kind of change, and a predictor that transfers across tables learns from changes.

- zero-cost (:func:`zero_cost_features`, no training): the output's spread and slope at the
  template's α0, f(0) and the balance f(L) + f(−L) over the scale R, how far f grows at 10,
  100 and 10⁴ (and its tail exponent), the widest flat interval around 0, the largest step
  against f's overall direction, the gradient's gain at initialisation. Never the symbolic
  property verdicts: a predictor must learn what matters, not be told.
- trained (:func:`run_features`, from a run directory of any protocol): the effect in
  LayerNorm gains and the share of diverged seeds (as a calibration measures them), the
  metric's level, the train loss in eval mode, each growth signal's last value and late slope,
  and from a ladder run each signal's extrapolation to the target scale and its exponents.

Example:
    >>> zc = zero_cost_features("x")
    >>> round(zc["growth_100"], 2), round(zc["tail_exponent"], 2)
    (1.41, 1.0)
    >>> round(zero_cost_features("max(erf(x - 3), 0) + min(erf(x + 3), 0)")["flat_width"], 1)
    3.0
    >>> round(zero_cost_features("erf(x)")["tail_exponent"], 3)
    0.0
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from candidates import DEFAULT_ALPHA0, GAUSSIAN, Candidate, UserError, compile_numpy, describe

from ..calibration import ANCHOR_BASES, ReferenceCell, reference_cells
from ..driver import GROWTH_PREFIX
from ._cv import parse_names

if TYPE_CHECKING:
    import pandas as pd

    from ..driver import RunSettings

#: Where a function's growth is read, as multiples of the template's input.
GROWTH_AT = (10.0, 100.0, 1e4)
#: Level (a share of R) under which f counts as flat around 0.
FLAT_LEVEL = 1e-2


@dataclass(frozen=True)
class Unit:
    """What a prediction is made for: a reference cell, or a candidate function."""

    key: str
    expression: str | None  # None: a norm layer (LayerNorm)
    references: tuple[str, ...]  # the expressions it is compared with (one per base)
    cell: ReferenceCell | None = None


def cell_units(cells: Sequence[ReferenceCell]) -> list[Unit]:
    """One unit per reference cell, compared with its reference cells (one per base)."""
    units = []
    for cell in cells:
        refs = reference_cells(cell, cells)
        bases = {r.base_id: r.expression for r in refs}
        units.append(Unit(cell.key, cell.expression, tuple(bases.values()), cell))
    return units


def candidate_units(expressions: Mapping[str, str], cells: Sequence[ReferenceCell]) -> list[Unit]:
    """One unit per candidate (name -> expression), compared with the anchor bases' identity
    cells of ``cells`` (:data:`search.calibration.ANCHOR_BASES`)."""
    anchors = {Candidate.from_text(name).id for name in ANCHOR_BASES}
    refs = {c.base_id: c.expression for c in cells if c.base_id in anchors and c.is_identity}
    return [
        Unit(name, expression, tuple(refs.values())) for name, expression in expressions.items()
    ]


@lru_cache(maxsize=4096)
def zero_cost_features(expression: str, alpha0: float = DEFAULT_ALPHA0) -> dict[str, float]:
    """The zero-cost descriptors of f at the template's ``alpha0`` (see the module docstring),
    each finite: an overflow counts as the largest float's log."""
    fn = compile_numpy(Candidate.from_text(expression).sympy)
    described = describe(expression, alpha0=alpha0)
    scale = described.scale

    def at(x: np.ndarray) -> np.ndarray:
        with np.errstate(all="ignore"):
            values = np.asarray(fn(np.asarray(x, dtype=np.float64)), dtype=np.float64)
        return np.nan_to_num(values, nan=0.0, posinf=1e300, neginf=-1e300)

    def grown(x: float) -> float:
        far = at(np.array([x, -x]))
        return float(np.max(np.abs(far - at(np.zeros(1))[0]))) / scale

    out: dict[str, float] = {
        "spread": min(described.spread, 1e6),
        "slope": described.slope,
        "centre": abs(float(at(np.zeros(1))[0])) / scale,
        "balance": math.log10(
            1.0 + float(abs(at(np.array([100.0])) + at(np.array([-100.0])))[0]) / scale
        ),
    }
    for x in GROWTH_AT:
        out[f"growth_{x:g}"] = math.log10(1.0 + grown(x))
    out["tail_exponent"] = math.log10(max(grown(1e4), 1e-300) / max(grown(100.0), 1e-300)) / 2.0
    grid = np.linspace(-10.0, 10.0, 20001)
    values = at(grid)
    centre = np.abs(values - at(np.zeros(1))[0]) <= FLAT_LEVEL * scale
    out["flat_width"] = _flat_width(grid, centre)
    direction = 1.0 if values[-1] >= values[0] else -1.0
    running = np.maximum.accumulate(direction * values)
    out["against_direction"] = float(np.max(running - direction * values)) / scale
    z = alpha0 * GAUSSIAN  # the descriptors' own Gaussian inputs
    step = 1e-5
    gain = (at(z + step) - at(z - step)) / (2 * step) * alpha0
    out["gain"] = math.sqrt(float(np.mean(gain**2))) / scale
    out["mean_offset"] = abs(float(np.mean(at(z)))) / scale
    return {k: (v if math.isfinite(v) else 300.0) for k, v in out.items()}


def _flat_width(grid: np.ndarray, flat: np.ndarray) -> float:
    """The widest w such that f is flat on [−w, w] (0: f moves at once)."""
    zero = int(np.argmin(np.abs(grid)))
    if not flat[zero]:
        return 0.0
    right = zero
    while right + 1 < len(grid) and flat[right + 1]:
        right += 1
    left = zero
    while left > 0 and flat[left - 1]:
        left -= 1
    return float(min(grid[right], -grid[left]))


def relative(
    units: Iterable[Unit], values: Mapping[str | None, Mapping[str, float]]
) -> dict[str, dict[str, float]]:
    """Per unit, each feature of its function and that feature less the mean over its
    reference functions (``<name>`` and ``<name>_rel``); a cell whose function or a reference
    has no value is left out, a candidate is compared with the anchors that have one (a search
    need not train every anchor). ``values`` maps an expression to its features."""
    out: dict[str, dict[str, float]] = {}
    for unit in units:
        own = values.get(unit.expression)
        refs = [values.get(r) for r in unit.references]
        if unit.cell is None:
            refs = [r for r in refs if r is not None]
        if own is None or not refs or any(r is None for r in refs):
            continue
        row = dict(own)
        for name, value in own.items():
            others = [float(r[name]) for r in refs if r is not None and name in r]
            if others and math.isfinite(value) and all(map(math.isfinite, others)):
                row[f"{name}_rel"] = value - statistics.fmean(others)
        out[unit.key] = row
    return out


def zero_cost_table(units: Sequence[Unit]) -> dict[str, dict[str, float]]:
    """The zero-cost features of every unit, raw and relative (``zc:`` names)."""
    expressions = {u.expression for u in units} | {r for u in units for r in u.references}
    values: dict[str | None, Mapping[str, float]] = {
        e: zero_cost_features(e) for e in expressions if e is not None
    }
    return {
        key: {f"zc:{name}": v for name, v in row.items()}
        for key, row in relative(units, values).items()
    }


def finished_trials(run_dir: str | Path, task: str) -> pd.DataFrame:
    """The finished trials of ``task`` in a run directory, each (candidate, seed) once."""
    from ..driver import read_trials

    trials = read_trials(run_dir)
    if trials.empty:
        return trials
    trials = trials[(trials["task"] == task) & (trials["state"] == "COMPLETE")]
    return trials.sort_values("number").drop_duplicates(["candidate_id", "seed"])


def function_keys(table: pd.DataFrame, protocol: str = "single") -> dict[Any, str]:
    """The key each function of a run's candidate table ran under, by its sympy form: rows
    trained as reference tables train (without s, at the α0 the run's ``protocol`` gives every
    function: the default α0, or under gain-matched the function's matched one); a ladder's
    rungs under their candidate's key.

    >>> import pandas as pd
    >>> table = pd.DataFrame({"candidate_id": ["a", "b"], "expression": ["erf(x)", "x"],
    ...                       "shift": ["none", "scalar"], "alpha0": [0.5, 0.5]})
    >>> list(function_keys(table).values())
    ['a']
    """
    from ..driver import protocol_alpha0, rung_of

    rungs = rung_of(table)
    out: dict[Any, str] = {}
    for row in table.to_dict("records"):
        if not isinstance(row["expression"], str):  # a norm layer
            continue
        if row["shift"] != "none":
            continue
        alpha0 = protocol_alpha0(row["expression"], protocol)
        if float(row["alpha0"]) != (DEFAULT_ALPHA0 if alpha0 is None else alpha0):
            continue
        own = rungs.get(str(row["candidate_id"]), str(row["candidate_id"]))
        out.setdefault(Candidate.from_text(row["expression"]).sympy, own)
    return out


def run_features(
    run_dir: str | Path, units: Sequence[Unit], *, target: Mapping[str, float]
) -> tuple[str, dict[str, dict[str, float]]]:
    """The trained features of ``units`` from the runs of a run directory (any study or
    protocol; a function is found by its sympy form among the run's candidates, trained
    without s at the protocol's α0, as reference tables are): ``(label, unit -> features)``,
    features named ``<label>:<name>``, label ``<task>/<protocol>``. Units whose function or
    reference functions the run lacks are left out."""
    labels, features = sources_features([run_dir], units, target=target)
    return labels[0], features


def sources_features(
    sources: Sequence[str | Path], units: Sequence[Unit], *, target: Mapping[str, float]
) -> tuple[list[str], dict[str, dict[str, float]]]:
    """The trained features of ``units`` from several run directories: ``(each source's
    label, unit -> features)``. Sources of one label (one task and protocol: a search's run
    and its predictor's) are one record: a later source's function replaces an earlier one's,
    and a unit is compared with reference functions from any of them, so that a search's
    candidates are compared with the anchors its predictor's run trained, as the reference
    cells are, when the search itself trained some of them or none."""
    labels: list[str] = []
    by_label: dict[str, dict[str | None, Mapping[str, float]]] = {}
    wanted = unit_expressions(units)
    for source in sources:
        label, trained = trained_functions(source, wanted, target=target)
        labels.append(label)
        by_label.setdefault(label, {}).update(trained)
    out: dict[str, dict[str, float]] = {}
    for label, by_expression in by_label.items():
        for key, row in labelled(label, relative(units, by_expression)).items():
            out.setdefault(key, {}).update(row)
    return labels, out


#: What every run measures besides its growth signals; with :data:`evaluators.SIGNALS`, the
#: names ``--measures`` keeps trained features by.
RUN_MEASURES = ("metric", "diverged", "train_loss")


def measure_names() -> tuple[str, ...]:
    """Every name a trained feature is kept by: the run's measures, then the growth signals."""
    from evaluators import SIGNALS

    return (*RUN_MEASURES, *SIGNALS)


def parse_measures(text: str) -> tuple[str, ...]:
    """``metric,attention_logit`` as measure names, each known (with a did-you-mean) and once.

    >>> parse_measures("metric, norm_input")
    ('metric', 'norm_input')
    """
    return parse_names(text, measure_names(), "measure")


def keep_measures(
    rows: Mapping[str, Mapping[str, float]], measures: Sequence[str]
) -> dict[str, dict[str, float]]:
    """The trained features (named ``<label>:<name>``) of the given measures alone: a name is
    the measure's, or starts with it and ``_`` (``attention_logit_steps_exponent_rel``).

    >>> keep_measures({"u": {"t/ladder:metric_rel": 1.0, "t/ladder:grad_norm_last": 2.0}},
    ...               ["metric"])
    {'u': {'t/ladder:metric_rel': 1.0}}
    """

    def kept(feature: str) -> bool:
        name = feature.split(":", 1)[-1]
        return any(name == m or name.startswith(f"{m}_") for m in measures)

    return {k: {n: v for n, v in row.items() if kept(n)} for k, row in rows.items()}


def unit_expressions(units: Iterable[Unit]) -> set[str]:
    """Every function the units need: their own and their reference functions."""
    expressions = {u.expression for u in units} | {r for u in units for r in u.references}
    return {e for e in expressions if e is not None}


def labelled(label: str, rows: Mapping[str, Mapping[str, float]]) -> dict[str, dict[str, float]]:
    """Each unit's features named ``<label>:<name>``."""
    return {k: {f"{label}:{n}": v for n, v in row.items()} for k, row in rows.items()}


def widest_rung(trials: pd.DataFrame, table: pd.DataFrame) -> pd.DataFrame:
    """The trials of a ladder run (``table``: its candidates) whose final metrics are read as
    features: those of its widest rung, the nearest to full scale (in the default ladder the
    tasks' own width).

    >>> import pandas as pd
    >>> table = pd.DataFrame({"candidate_id": ["x@w64", "x@w256"], "ladder_of": ["x", "x"],
    ...                       "width": [64, 256]})
    >>> trials = pd.DataFrame({"candidate_id": ["x@w64", "x@w256"], "value": [0.6, 0.1]})
    >>> widest_rung(trials, table)["value"].tolist()
    [0.1]
    """
    from ..driver import rung_of

    rungs = rung_of(table)
    widths = dict(zip(table["candidate_id"].astype(str), table["width"], strict=True))
    widest = max((int(widths[k]) for k in rungs), default=0)
    keys = trials["candidate_id"].astype(str)
    return trials[[k not in rungs or int(widths[k]) == widest for k in keys]]


def source_label(settings: RunSettings) -> str:
    """What a run's trained features are named by: ``<task>/<protocol>``, and a ladder of
    other widths than the default's says them (its features are read at another widest rung,
    so they are not the default ladder's).

    >>> from search.driver import RunSettings
    >>> source_label(RunSettings(tasks=("mnist1d",), protocol="ladder"))
    'mnist1d/ladder'
    >>> source_label(RunSettings(tasks=("mnist1d",), protocol="ladder", widths="128,32,64"))
    'mnist1d/ladder-w32-64-128'
    """
    from ..driver import LADDER_WIDTHS, ladder_widths

    label = f"{settings.tasks[0]}/{settings.protocol}"
    widths = ladder_widths(settings.widths)
    return label if widths == LADDER_WIDTHS else label + "-w" + "-".join(map(str, widths))


def trained_functions(
    run_dir: str | Path, expressions: Iterable[str], *, target: Mapping[str, float]
) -> tuple[str, dict[str | None, Mapping[str, float]]]:
    """The trained features of each of ``expressions`` the run trained (see
    :func:`run_features`), by expression, unnamed and not yet relative: ``(label,
    expression -> features)``. Runs of one label can then lend each other reference
    functions before :func:`relative` compares (a search's run and its predictor's)."""
    from evaluators import apply_recipe, get_task, parse_recipe

    from ..calibration import ProxyRule
    from ..driver import RunSettings, read_candidates, rung_of

    settings = RunSettings.read(run_dir)
    task_name = settings.tasks[0]
    label = source_label(settings)
    if settings.protocol == "lr-sweep":
        raise UserError(
            f"{run_dir} ran protocol lr-sweep, whose runs are not read as features: give a "
            "run of the single, gain-matched, ladder or overfit protocol"
        )
    table = read_candidates(run_dir)
    trials = finished_trials(run_dir, task_name)
    if trials.empty:
        return label, {}
    task = apply_recipe(get_task(task_name), settings.budget, parse_recipe(settings.recipe))[0]
    untrained = task.untrained_level()
    sign = 1.0 if task.direction == "maximize" else -1.0
    rungs = rung_of(table) if settings.protocol == "ladder" else {}
    kept = widest_rung(trials, table) if rungs else trials  # its rungs together: growth fits
    per_key = _measured(kept, rungs, untrained=untrained, sign=sign)
    # LayerNorm's gain over the untrained level, as a calibration measures it: the unit
    ln = per_key.get("layernorm", {}).get("metric", [])
    rule = ProxyRule(untrained, "layernorm", task.direction)
    gain = rule.gain({"layernorm": {i: sign * v for i, v in enumerate(ln)}})
    level = sign * untrained if untrained is not None else 0.0
    features = _means(per_key, level=level, unit=gain if math.isfinite(gain) else 1.0)
    _add_ladder_fits(features, run_dir, table, trials, target=target)
    by_sympy = function_keys(table, settings.protocol)
    by_expression: dict[str | None, Mapping[str, float]] = {}
    for expression in expressions:
        run = by_sympy.get(Candidate.from_text(expression).sympy)
        if run is not None and run in features:
            by_expression[expression] = features[run]
    return label, by_expression


def _measured(
    trials: pd.DataFrame, rungs: Mapping[str, str], *, untrained: float | None, sign: float
) -> dict[str, dict[str, list[float]]]:
    """Per function (a ladder's rung under its candidate), each run's trained measures: the
    metric signed so that higher is better (a diverged run at the untrained level), whether it
    diverged, the train loss in eval mode, and each growth signal's last value (log10) and
    slope."""
    from evaluators import SIGNALS

    per_key: dict[str, dict[str, list[float]]] = {}
    for row in trials.to_dict("records"):
        key = str(row["candidate_id"])
        bag = per_key.setdefault(rungs.get(key, key), {})
        value = float(row["value"]) if row["value"] is not None else math.nan
        bad = bool(row["diverged"]) or not math.isfinite(value)
        bag.setdefault("diverged", []).append(float(bad))
        level = untrained if bad and untrained is not None else value
        bag.setdefault("metric", []).append(sign * level if level is not None else math.nan)
        loss = float(row["train_loss_eval"]) if row["train_loss_eval"] is not None else math.nan
        bag.setdefault("train_loss", []).append(loss)
        for signal in SIGNALS:
            for kind in ("last", "slope"):
                column = f"{GROWTH_PREFIX}{signal}_{kind}"
                if column in row and row[column] is not None:
                    value = float(row[column])
                    if kind == "last" and signal != "attention_entropy":
                        value = math.log10(value) if value > 0 else math.nan
                    bag.setdefault(f"{signal}_{kind}", []).append(value)
    return per_key


def _means(
    per_key: Mapping[str, Mapping[str, list[float]]], *, level: float, unit: float
) -> dict[str, dict[str, float]]:
    """Each measure's mean over the finite runs; the metric as a share of ``unit`` (LayerNorm's
    gain) above ``level`` (the untrained one)."""
    features: dict[str, dict[str, float]] = {}
    for key, bag in per_key.items():
        row_features: dict[str, float] = {}
        for name, measured in bag.items():
            finite = [v for v in measured if math.isfinite(v)]
            if finite:
                row_features[name] = statistics.fmean(finite)
        if "metric" in row_features:
            row_features["metric"] = (row_features["metric"] - level) / unit
        features[key] = row_features
    return features


def _add_ladder_fits(
    features: dict[str, dict[str, float]],
    run_dir: str | Path,
    table: pd.DataFrame,
    trials: pd.DataFrame,
    *,
    target: Mapping[str, float],
) -> None:
    """A ladder run's growth fits, per candidate and signal: the value extrapolated to the
    target and the width and steps exponents (nothing for a run without a ladder record)."""
    from ._growth_fit import ladder_growth, ladder_record

    record = ladder_record(run_dir, table, trials)
    if record is None:
        return
    growth = ladder_growth(
        record.curves,
        record.rungs,
        record.totals,
        target=target,
        warmup_fraction=record.stable[0],
        decay_fraction=record.stable[1],
    )
    for (ladder_key, fitted_signal), group in growth.groupby(["candidate_id", "signal"]):
        fitted = features.setdefault(str(ladder_key), {})
        for column in ("at_target", "width_exponent", "steps_exponent"):
            fitted[f"{fitted_signal}_{column}"] = float(group[column].mean())
