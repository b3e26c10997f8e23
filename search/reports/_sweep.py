"""An lr-sweep run on the leaderboard: its rungs (one trial per candidate, seed and rate)
collapsed into one value per candidate and seed, by the run's objective.

- ``final``: the metric at the recipe's own rate (the ×1 rung);
- ``best-lr``: the best metric over the ladder;
- ``lr-sensitivity``: the mean gap to the best over the ladder, a diverged rate at the task's
  untrained level (Wortsman et al. 2023), lower first;
- ``pareto``: ``best-lr``, with the Pareto front of (best over the ladder, sensitivity) —
  the best trials of an Optuna multi-objective study holding one trial per candidate — ranked
  first.

Whatever the objective, the leaderboard also shows each candidate's sensitivity and its
largest stable rate (as a multiple of the recipe's: the largest rate at which its run did not
diverge, the smallest such over seeds).

Example:
    >>> pareto_front({"a": (0.9, 0.05), "b": (0.8, 0.01), "c": (0.7, 0.2)}, "maximize")
    ['a', 'b']
"""

from __future__ import annotations

import math
from typing import Any

import pandas as pd

from ..driver import LR_LADDER, sweep_summary

#: The columns a collapsed sweep adds to each pseudo-trial (and the leaderboard shows).
SWEEP_COLUMNS = ("lr_sensitivity", "largest_stable_lr")


def is_sweep(candidates: pd.DataFrame | None) -> bool:
    """Whether a run's candidate table is an lr-sweep's (rows per rate)."""
    return candidates is not None and "sweep_of" in candidates


def collapse_sweep(
    trials: pd.DataFrame, candidates: pd.DataFrame, *, objective: str
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(trials, candidates) with one pseudo-trial per (candidate, seed) holding the
    objective's value, and one candidate row per swept candidate (keyed by ``sweep_of``)."""
    from evaluators import get_task

    scale_of = dict(zip(candidates["candidate_id"], candidates["lr_scale"], strict=True))
    sweep_of = dict(zip(candidates["candidate_id"], candidates["sweep_of"], strict=True))
    home = min(LR_LADDER, key=lambda s: abs(math.log(s)))  # the ×1 rung
    pseudo: list[dict[str, Any]] = []
    for task in dict.fromkeys(trials["task"]):
        rows = trials[trials["task"] == task]
        direction = str(rows["direction"].iloc[0])
        untrained = get_task(task).untrained_level()
        summary = sweep_summary(
            rows,
            candidates,
            untrained=untrained if untrained is not None else math.nan,
            direction=direction,
        ).set_index(["candidate_id", "seed"])
        seconds = rows.groupby([rows["candidate_id"].map(sweep_of), "seed"])["seconds"].sum()
        for trial in rows.to_dict("records"):
            if scale_of.get(trial["candidate_id"]) != home:
                continue
            key = (sweep_of[trial["candidate_id"]], int(trial["seed"]))
            new = {**trial, "candidate_id": key[0], "seconds": seconds.get(key, math.nan)}
            if objective == "lr-sensitivity":  # every row: the task's direction is one
                new["direction"] = "minimize"
                new["metric"] = f"lr-sensitivity of {trial.get('metric')}"
            if key in summary.index:
                stats = summary.loc[key]
                new["lr_sensitivity"] = float(stats["sensitivity"])
                new["largest_stable_lr"] = float(stats["largest_stable"])
                every_rate_diverged = not math.isfinite(new["largest_stable_lr"])
                if objective in ("best-lr", "pareto"):
                    new["value"], new["diverged"] = float(stats["best"]), every_rate_diverged
                elif objective == "lr-sensitivity":
                    new["value"], new["diverged"] = float(stats["sensitivity"]), False
            elif trial["state"] == "COMPLETE" and objective != "final":
                new["state"] = "RUNNING"  # the ladder is not complete yet: not ranked
            pseudo.append(new)
    collapsed = pd.DataFrame(pseudo, columns=[*trials.columns, *SWEEP_COLUMNS])
    own = candidates[candidates["lr_scale"] == home].copy()
    own["candidate_id"] = own["sweep_of"]
    return collapsed, own.drop(columns=["sweep_of", "lr_scale"])


def pareto_front(points: dict[str, tuple[float, float]], direction: str) -> list[str]:
    """The keys on the Pareto front of (metric in ``direction``, sensitivity to minimise),
    as the best trials of an Optuna multi-objective study with one trial per key."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    directions = optuna.study.StudyDirection
    first = directions.MAXIMIZE if direction == "maximize" else directions.MINIMIZE
    study = optuna.create_study(directions=[first, directions.MINIMIZE])
    distribution = optuna.distributions.CategoricalDistribution(list(points))
    for key, (metric, sensitivity) in points.items():
        if math.isfinite(metric) and math.isfinite(sensitivity):
            study.add_trial(
                optuna.trial.create_trial(
                    params={"candidate": key},
                    distributions={"candidate": distribution},
                    values=[metric, sensitivity],
                )
            )
    front = {str(t.params["candidate"]) for t in study.best_trials}
    return [key for key in points if key in front]
