"""`derf-search benchmark sampler`: samplers replayed against a tabular benchmark.

Each replay is an Optuna study whose objective looks the candidate up in the table
(:class:`~search.bench.Pool`) instead of training it, so a comparison of samplers that would
take days of training takes minutes. The samplers:

- ``random``, ``tpe`` (over the candidate ids, one categorical) and ``guided`` (a Gaussian
  process over shape descriptors): the run's own, as :func:`search.driver.make_sampler`
  builds them, seeded by the replay;
- ``simplest``: the functions in generate's order, the shortest canonical form first. That is
  how `run --grammar` chooses the N functions it evaluates (its grid then runs them in any
  order); it is one order, so it is replayed once.

As in a run, asking again for a function already evaluated trains nothing: the ask is pruned,
marked ``duplicate`` and not counted, and a sampler that keeps asking for evaluated functions is
taken to have finished (:data:`~search.driver.MAX_DUPLICATES`). Per sampler it reports the
median over the replays of the trials needed to reach the pool's top :data:`TOP_SHARE` (every
function tied with the cut counts), how many replays never got there, and the regret (the
pool's best score minus the best found, in the metric's units) after :data:`REGRET_AT` trials.

Example:
    >>> pool = Pool("t", "m", "maximize", ["a", "b", "c"], {"a": 0.0, "b": 1.0, "c": 0.5},
    ...             {"a": [0.0], "b": [1.0], "c": [0.5]}, ["a", "c", "b"])
    >>> replay(make_replay_sampler("simplest", pool, 0), pool, trials=2).evaluated
    ['a', 'c']
    >>> compare_samplers(pool, replays=1, samplers=("simplest",))["simplest"].trials_to_top
    [3]
"""

from __future__ import annotations

import math
import statistics
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import optuna
from optuna.trial import TrialState

from ..reports import COVERAGE, RESAMPLES, percentile_interval
from ._tabular import Pool

#: The samplers compared, in the order they are printed.
SAMPLERS = ("random", "simplest", "tpe", "guided")
#: Trials after which the regret is reported.
REGRET_AT = (25, 50, 100)
#: The share of the pool a sampler must reach (its printed name is the percentage).
TOP_SHARE = 0.01
TOP_LABEL = f"top {TOP_SHARE:.0%}"


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
    """The sampler ``name`` of :data:`SAMPLERS` over ``pool``, seeded, one seed per function.

    >>> pool = Pool("t", "m", "maximize", ["a", "bb"], {"a": 0.0, "bb": 1.0},
    ...             {"a": [0.0], "bb": [1.0]}, ["a", "bb"])
    >>> type(make_replay_sampler("tpe", pool, 0)).__name__
    'TPESampler'
    """
    from ..driver import make_sampler

    if name == "simplest":
        return _InOrder(pool.simplest)
    if name not in SAMPLERS:
        raise ValueError(f"unknown sampler {name!r}; known: {', '.join(SAMPLERS)}")
    return make_sampler(name, pool.keys, 1, pool.features, seed=seed)


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
            trial.set_user_attr("duplicate", True)
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

    #: per replay, the trials to the target; None where the sampler stopped before it
    trials_to_top: list[int | None]
    #: regret after n trials, one list (over replays) per n of the curve
    regret: dict[int, list[float]]
    #: the pool's size plus one: what a replay that never reached the target counts as
    missed: int

    @property
    def never_reached(self) -> int:
        """Replays that stopped before reaching the target."""
        return sum(t is None for t in self.trials_to_top)

    @property
    def median_trials_to_top(self) -> float:
        """The median over replays of the trials to the target (a miss counts as
        :attr:`missed`)."""
        return float(statistics.median(self.missed if t is None else t for t in self.trials_to_top))

    def median_regret(self, n: int) -> float:
        """The median over replays of the regret after ``n`` trials."""
        return float(statistics.median(self.regret[n]))


def compare_samplers(
    pool: Pool,
    *,
    replays: int = 20,
    samplers: tuple[str, ...] = SAMPLERS,
    horizon: int = max(REGRET_AT),
    progress: Callable[[str, int], None] | None = None,
) -> dict[str, SamplerFigures]:
    """Every sampler, ``replays`` times (seeds 0…), against ``pool``, each replay for
    ``horizon`` trials and on until it reaches the target; ``progress(name, replay)`` after
    each replay."""
    top = set(pool.top(TOP_SHARE))
    out: dict[str, SamplerFigures] = {}
    for name in samplers:
        runs = 1 if name == "simplest" else replays
        to_top: list[int | None] = []
        regret: dict[int, list[float]] = {n: [] for n in range(1, horizon + 1)}
        for seed in range(runs):
            result = replay(make_replay_sampler(name, pool, seed), pool, trials=horizon, stop=top)
            to_top.append(result.trials_to(top))
            for n in regret:
                regret[n].append(pool.regret(result.evaluated[:n]))
            if progress:
                progress(name, seed)
        out[name] = SamplerFigures(to_top, regret, len(pool.keys) + 1)
    return out


def ratio_interval(
    mine: SamplerFigures, other: SamplerFigures, *, resamples: int = RESAMPLES, seed: int = 0
) -> tuple[float, float]:
    """A percentile bootstrap interval (:data:`search.reports.COVERAGE`) of the ratio of two
    samplers' median trials to the target: each sampler's replays are resampled on their own
    (two samplers' replays share a seed number, not their draws), so the interval says how far
    the ratio could move with another set of replays.

    >>> fast = SamplerFigures([5, 6, 7, 8], {}, 100)
    >>> slow = SamplerFigures([20, 30, 40, 50], {}, 100)
    >>> low, high = ratio_interval(fast, slow, resamples=500)
    >>> 0.1 < low < 6.5 / 35 < high < 0.5
    True
    """
    import numpy as np

    rng = np.random.default_rng(seed)

    def medians(f: SamplerFigures) -> np.ndarray:
        values = np.array([f.missed if t is None else t for t in f.trials_to_top], dtype=float)
        draws = rng.integers(0, len(values), size=(resamples, len(values)))
        return np.median(values[draws], axis=1)

    return percentile_interval(medians(mine) / medians(other))


#: How many random functions the surrogate check fits on, and how many draws it averages.
SURROGATE_TRAIN = 30
SURROGATE_DRAWS = 10


def surrogate_agreement(
    pool: Pool,
    columns: int | None = None,
    *,
    train: int = SURROGATE_TRAIN,
    draws: int = SURROGATE_DRAWS,
) -> float:
    """How well the guided sampler's surrogate ranks functions it has not seen: the mean over
    ``draws`` seeded draws of the Spearman correlation between its prediction and the table's
    score on the pool's other functions, fitted to ``train`` random ones. ``columns``: only
    the first so many descriptors (the shape descriptors alone are the first
    ``len(SHAPE_DESCRIPTORS)``); nan when the pool is too small to hold any out.

    >>> pool = Pool("t", "m", "maximize", [f"c{i}" for i in range(40)],
    ...             {f"c{i}": float(i) for i in range(40)},
    ...             {f"c{i}": [float(i), float(i % 3)] for i in range(40)}, [])
    >>> surrogate_agreement(pool, train=10, draws=2) > 0.9
    True
    """
    import numpy as np
    from scipy.stats import spearmanr

    from ..driver import fit_surrogate, standardise

    keys = [k for k in pool.keys if k in pool.features]
    matrix = np.array([pool.features[k][:columns] for k in keys], dtype=float)
    usable = np.all(np.isfinite(matrix), axis=1) if len(matrix) else np.zeros(0, dtype=bool)
    x = standardise(matrix[usable]) if usable.any() else matrix
    y = np.array([pool.score[k] for k, ok in zip(keys, usable, strict=True) if ok])
    if len(y) < train + 3:
        return math.nan
    rhos = []
    for draw in range(draws):
        order = np.random.default_rng(draw).permutation(len(y))
        fit, held = order[:train], order[train:]
        predicted = fit_surrogate(x[fit], y[fit], seed=draw).predict(x[held])
        with warnings.catch_warnings():  # a flat prediction ranks nothing: ρ 0 below
            warnings.simplefilter("ignore")
            rho = spearmanr(predicted, y[held])[0]
        rhos.append(0.0 if not math.isfinite(rho) else float(rho))
    return statistics.fmean(rhos)


def figures_json(pool: Pool, figures: dict[str, SamplerFigures], replays: int) -> dict[str, Any]:
    """The JSON the benchmark prints with ``--json`` (regret at the :data:`REGRET_AT` points
    the replays reached)."""
    from candidates import SHAPE_DESCRIPTORS

    return {
        "pool": len(pool.keys),
        "task": pool.task,
        "metric": pool.metric,
        "top": len(pool.top(TOP_SHARE)),
        "seed_tau": statistics.fmean(pool.seed_tau) if pool.seed_tau else None,
        "replays": replays,
        # the surrogate's held-out Spearman ρ from SURROGATE_TRAIN functions: shape alone, all
        "surrogate_spearman": {
            name: None if math.isnan(rho) else rho
            for name, rho in (
                ("shape", surrogate_agreement(pool, len(SHAPE_DESCRIPTORS))),
                ("shape_and_start", surrogate_agreement(pool)),
            )
        },
        "samplers": {
            name: {
                "median_trials_to_top1pct": f.median_trials_to_top,
                "never_reached": f.never_reached,
                "regret": {str(n): f.median_regret(n) for n in REGRET_AT if n in f.regret},
            }
            for name, f in figures.items()
        },
        # guided's median over the others', with a bootstrap interval over the replays
        "guided_ratio": {
            other: {
                "ratio": figures["guided"].median_trials_to_top
                / figures[other].median_trials_to_top,
                "interval": list(ratio_interval(figures["guided"], figures[other])),
            }
            for other in ("random", "tpe")
            if "guided" in figures and other in figures
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
    ax.set_ylabel(f"median regret in {pool.metric} (lower is better)")
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
    """Run the comparison on the run directory ``tabular`` and print it (progress on
    stderr); returns the JSON."""
    import json
    import sys

    from ._tabular import load_pool

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    pool = load_pool(tabular, task)

    def progress(name: str, replay: int) -> None:
        runs = 1 if name == "simplest" else replays
        print(f"\r{name}: replay {replay + 1}/{runs}   ", end="", file=sys.stderr, flush=True)

    figures = compare_samplers(pool, replays=replays, progress=progress)
    print("\r" + " " * 40 + "\r", end="", file=sys.stderr, flush=True)
    result = figures_json(pool, figures, replays)
    if plot is not None:
        result["plot"] = str(plot_regret(pool, figures, Path(plot)))
    if as_json:
        print(json.dumps(result, indent=1))
        return result
    top = result["top"]
    print(f"pool          {len(pool.keys)} functions of {tabular} on {pool.task} ({pool.metric})")
    print(
        f"target        the {TOP_LABEL}: {top} function{'s' * (top != 1)} (ties included); "
        f"{replays} seeded replays"
    )
    if pool.seed_tau:
        print(
            f"seed noise    Kendall τ {result['seed_tau']:.2f} between two seeds' rankings of "
            "the pool (1: the table's order is the functions', 0: the seeds')"
        )
    rho = result["surrogate_spearman"]
    if rho["shape_and_start"] is not None:
        print(
            f"surrogate     fitted to {SURROGATE_TRAIN} random functions, guided's Gaussian "
            f"process ranks the others with Spearman ρ {rho['shape_and_start']:.2f} "
            f"({rho['shape']:.2f} from the shape descriptors alone; mean of {SURROGATE_DRAWS} "
            "draws)"
        )
    print()
    points = [n for n in REGRET_AT if str(n) in next(iter(result["samplers"].values()))["regret"]]
    print(
        f"sampler    trials to {TOP_LABEL:<8} never   regret after "
        + "  ".join(f"{n:>9}" for n in points)
    )
    for name, entry in result["samplers"].items():
        regrets = "  ".join(f"{entry['regret'][str(n)]:>9.3g}" for n in points)
        runs = " (one order)" if name == "simplest" else ""
        trials = f"{entry['median_trials_to_top1pct']:g}{runs}"
        print(f"{name:<10} {trials:<18} {entry['never_reached']:>5}   {'':<13}{regrets}")
    ratios = result["guided_ratio"]
    if ratios:
        print()
        print(
            "guided needs "
            + " and ".join(
                f"{r['ratio']:.0%} of {other}'s trials ({r['interval'][0]:.0%}–"
                f"{r['interval'][1]:.0%})"
                for other, r in ratios.items()
            )
            + f" to reach the {TOP_LABEL} (medians; a replay that never does counts as "
            f"{len(pool.keys) + 1}; in brackets the {COVERAGE:.0%} bootstrap interval over "
            "the replays)."
        )
    if plot is not None:
        print(f"plot          {result['plot']}")
    return result
