"""`derf-search benchmark sampler`: samplers replayed against a tabular benchmark.

Each replay is an Optuna study whose objective looks the candidate up in the table
(:class:`~search.bench._tabular.Pool`) instead of training it, so a comparison of samplers
that would take days of training takes seconds. The samplers are the run's own:

- ``random``: Optuna's random sampler over the candidate ids, seeded;
- ``simplest``: the shortest expressions first, what `run --grammar` does without a sampler
  (one order, so every replay is the same);
- ``tpe``: Optuna's TPE over the candidate ids (one categorical), seeded;
- ``guided``: :class:`~search.driver.GuidedSampler` over the shape descriptors, seeded.

As in a run, asking again for a candidate already evaluated costs no training: the ask is
pruned and not counted, and a sampler that keeps asking for evaluated candidates is taken to
have finished (:data:`~search.driver.MAX_DUPLICATES`). Per sampler it reports the median over
the replays of the trials needed to reach the pool's top 1% and the regret (the pool's best
score minus the best found, in the metric's units) after 25, 50 and 100 trials.

Example:
    $ derf-search benchmark sampler --tabular results/tabular --replays 20
"""

from __future__ import annotations

import statistics
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import optuna
from optuna.trial import TrialState

from ._tabular import Pool

#: The samplers compared, in the order they are printed.
SAMPLERS = ("random", "simplest", "tpe", "guided")
#: Trials after which the regret is reported.
REGRET_AT = (25, 50, 100)
#: The share of the pool a sampler must reach.
TOP_SHARE = 0.01


class _InOrder(optuna.samplers.BaseSampler):
    """Proposes the candidates in a fixed order: the simplest-first search."""

    def __init__(self, order: list[str]) -> None:
        self.order = order

    def infer_relative_search_space(self, study: Any, trial: Any) -> dict[str, Any]:
        return {}

    def sample_relative(self, study: Any, trial: Any, search_space: Any) -> dict[str, Any]:
        return {}

    def sample_independent(self, study: Any, trial: Any, param_name: str, dist: Any) -> Any:
        asked = sum(1 for t in study.get_trials(deepcopy=False) if t.number != trial.number)
        return self.order[min(asked, len(self.order) - 1)]


def make_replay_sampler(name: str, pool: Pool, seed: int) -> optuna.samplers.BaseSampler:
    """The sampler ``name`` of :data:`SAMPLERS` over ``pool``, seeded.

    >>> from search.bench._tabular import Pool
    >>> pool = Pool("t", "m", "maximize", ["a", "bb"], {"a": 0.0, "bb": 1.0},
    ...             {"a": [0.0], "bb": [1.0]}, {"a": 1, "bb": 2})
    >>> type(make_replay_sampler("tpe", pool, 0)).__name__
    'TPESampler'
    """
    if name == "random":
        return optuna.samplers.RandomSampler(seed=seed)
    if name == "simplest":
        return _InOrder(sorted(pool.keys, key=lambda k: (pool.size[k], k)))
    if name == "tpe":
        return optuna.samplers.TPESampler(seed=seed)
    if name == "guided":
        from ..driver import GuidedSampler

        return GuidedSampler(pool.keys, pool.features, seeds=1, seed=seed)
    raise ValueError(f"unknown sampler {name!r}; known: {', '.join(SAMPLERS)}")


@dataclass(frozen=True)
class Replay:
    """One replay: the candidates a sampler evaluated, in order."""

    evaluated: list[str]

    def trials_to(self, targets: set[str]) -> int | None:
        """Trials until the first of ``targets`` was evaluated (None: never)."""
        for n, key in enumerate(self.evaluated, start=1):
            if key in targets:
                return n
        return None


def replay(
    sampler: optuna.samplers.BaseSampler, pool: Pool, *, trials: int, stop: set[str] | None = None
) -> Replay:
    """Run ``sampler`` against ``pool`` for ``trials`` evaluations (fewer when it stops asking
    for new candidates), and on until one of ``stop`` is evaluated."""
    from ..driver import MAX_DUPLICATES

    study = optuna.create_study(sampler=sampler, direction="maximize")
    evaluated: list[str] = []
    seen: set[str] = set()
    duplicates = 0
    reached = not stop
    while (len(evaluated) < trials or not reached) and len(seen) < len(pool.keys):
        trial = study.ask()
        key = str(trial.suggest_categorical("candidate", pool.keys))
        if key in seen:
            duplicates += 1
            study.tell(trial, state=TrialState.PRUNED)
            if duplicates >= MAX_DUPLICATES:
                break
            continue
        duplicates = 0
        seen.add(key)
        evaluated.append(key)
        reached = reached or key in (stop or set())
        study.tell(trial, pool.score[key])
    return Replay(evaluated)


@dataclass(frozen=True)
class SamplerFigures:
    """A sampler's figures over the replays."""

    trials_to_top: list[int]
    #: regret after n trials, one list (over replays) per n of the curve
    regret: dict[int, list[float]]

    @property
    def median_trials_to_top(self) -> float:
        return float(statistics.median(self.trials_to_top))

    def median_regret(self, n: int) -> float:
        return float(statistics.median(self.regret[n]))


def compare_samplers(
    pool: Pool,
    *,
    replays: int = 20,
    samplers: tuple[str, ...] = SAMPLERS,
    horizon: int = max(REGRET_AT),
    progress: Callable[[str, int], None] | None = None,
) -> dict[str, SamplerFigures]:
    """Every sampler, ``replays`` times (seeds 0…), against ``pool``.

    A replay that never reaches the top counts as ``len(pool.keys) + 1`` trials."""
    top = set(pool.top(TOP_SHARE))
    out: dict[str, SamplerFigures] = {}
    for name in samplers:
        runs = 1 if name == "simplest" else replays
        to_top, regret = [], {n: [] for n in range(1, horizon + 1)}  # type: list[int], dict[int, list[float]]
        for seed in range(runs):
            result = replay(make_replay_sampler(name, pool, seed), pool, trials=horizon, stop=top)
            hit = result.trials_to(top)
            to_top.append(hit if hit is not None else len(pool.keys) + 1)
            best = np.maximum.accumulate([pool.score[k] for k in result.evaluated])
            for n in regret:
                found = best[min(n, len(best)) - 1] if len(best) else min(pool.score.values())
                regret[n].append(max(pool.score.values()) - float(found))
            if progress:
                progress(name, seed)
        out[name] = SamplerFigures(to_top, regret)
    return out


def figures_json(pool: Pool, figures: dict[str, SamplerFigures], replays: int) -> dict[str, Any]:
    """The JSON the benchmark prints with ``--json``."""
    return {
        "pool": len(pool.keys),
        "task": pool.task,
        "metric": pool.metric,
        "top": len(pool.top(TOP_SHARE)),
        "seed_tau": statistics.fmean(pool.seed_tau) if pool.seed_tau else None,
        "replays": replays,
        "samplers": {
            name: {
                "median_trials_to_top1pct": f.median_trials_to_top,
                "regret": {str(n): f.median_regret(n) for n in REGRET_AT},
            }
            for name, f in figures.items()
        },
    }


def plot_regret(pool: Pool, figures: dict[str, SamplerFigures], path: Path) -> Path:
    """Median regret against trials, one line per sampler (log scale where it can be)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.4, 4.0))
    for name, f in figures.items():
        ns = sorted(f.regret)
        ax.plot(ns, [f.median_regret(n) for n in ns], label=name)
    ax.set_xlabel("trials")
    ax.set_ylabel(f"median regret ({pool.metric})")
    ax.set_title(f"{len(pool.keys)} functions on {pool.task}: regret against trials")
    if all(f.median_regret(n) > 0 for f in figures.values() for n in f.regret):
        ax.set_yscale("log")
    ax.legend()
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def benchmark_sampler(
    tabular: str | Path,
    *,
    replays: int = 20,
    task: str | None = None,
    as_json: bool = False,
    plot: str | Path | None = None,
) -> dict[str, Any]:
    """Run the comparison on the run directory ``tabular`` and print it; returns the JSON."""
    import json

    from ._tabular import load_pool

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    pool = load_pool(tabular, task)
    figures = compare_samplers(pool, replays=replays)
    result = figures_json(pool, figures, replays)
    if plot is not None:
        result["plot"] = str(plot_regret(pool, figures, Path(plot)))
    if as_json:
        print(json.dumps(result, indent=1))
        return result
    top = result["top"]
    print(f"pool          {len(pool.keys)} functions of {tabular} on {pool.task} ({pool.metric})")
    print(f"target        the top 1%: {top} function{'s' * (top != 1)}; {replays} seeded replays")
    if pool.seed_tau:
        print(
            f"seed noise    Kendall τ {result['seed_tau']:.2f} between two seeds' rankings of "
            "the pool (1: the table's order is the functions', 0: the seeds')"
        )
    print()
    header = "sampler    trials to top 1%   regret after " + "  ".join(f"{n:>9}" for n in REGRET_AT)
    print(header)
    for name, entry in result["samplers"].items():
        regrets = "  ".join(f"{entry['regret'][str(n)]:>9.3g}" for n in REGRET_AT)
        runs = " (one order)" if name == "simplest" else ""
        trials = f"{entry['median_trials_to_top1pct']:g}{runs}"
        print(f"{name:<10} {trials:<18} {'':<13}{regrets}")
    ratios = {
        other: result["samplers"]["guided"]["median_trials_to_top1pct"]
        / result["samplers"][other]["median_trials_to_top1pct"]
        for other in ("random", "tpe")
        if other in result["samplers"] and "guided" in result["samplers"]
    }
    if ratios:
        print()
        print(
            "guided needs "
            + " and ".join(f"{r:.0%} of {other}'s trials" for other, r in ratios.items())
            + " to reach the top 1% (medians)."
        )
    if plot is not None:
        print(f"plot          {result['plot']}")
    return result
