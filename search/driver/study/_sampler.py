"""The samplers and pruners of a run's studies: the run's own grid (:class:`CandidateGrid`),
random, TPE and the guided sampler; a pruner that sees one report per epoch.

Example:
    >>> import optuna
    >>> optuna.logging.set_verbosity(optuna.logging.WARNING)
    >>> study = optuna.create_study(sampler=make_sampler("grid", ["erf", "dyt"], 2))
    >>> for _ in range(4):
    ...     t = study.ask()
    ...     _ = t.suggest_categorical("candidate", ["erf", "dyt"]), t.suggest_int("seed", 0, 1)
    ...     _ = study.tell(t, 0.5)
    >>> sorted((t.params["candidate"], t.params["seed"]) for t in study.trials)
    [('dyt', 0), ('dyt', 1), ('erf', 0), ('erf', 1)]
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import optuna
from optuna.distributions import BaseDistribution
from optuna.trial import FrozenTrial

from candidates import UserError

from ..rundir import check_sampler_fits
from ._guided import GuidedSampler
from ._parameter import CANDIDATE, SEED

ALPHA0_RANGE = (0.05, 5.0)  # --tune-alpha samples α0 log-uniformly in this range


class CandidateGrid(optuna.samplers.BaseSampler):
    """Every candidate × seed once, candidate by candidate in the run's order (the baselines
    come first), each pair given to the first trial that asks while it is not taken.

    What is taken is read from the study's trials at each ask (their ``candidate`` and
    ``seed`` parameters, whatever their state: a failed trial's retry is queued with them), so
    it works with retries, ``--resume`` and every storage, and stores nothing of its own.
    Optuna's ``GridSampler`` stores the whole grid with every trial and compares it with every
    trial's at each ask: megabytes a trial, seconds an ask, at thousands of candidates.

    >>> import optuna
    >>> study = optuna.create_study(sampler=CandidateGrid(["erf", "dyt"], 2))
    >>> for _ in range(4):
    ...     t = study.ask()
    ...     _ = t.suggest_categorical("candidate", ["erf", "dyt"]), t.suggest_int("seed", 0, 1)
    >>> [(t.params["candidate"], t.params["seed"]) for t in study.trials]
    [('erf', 0), ('erf', 1), ('dyt', 0), ('dyt', 1)]
    """

    def __init__(self, choices: Sequence[Any], seeds: int, *, seed: int = 0) -> None:
        self.choices = list(choices)  # the candidate parameter's values: keys, or indices
        self.seeds = seeds
        self.chosen: dict[int, tuple[Any, int]] = {}  # trial number -> its pair, until asked
        self.fallback = optuna.samplers.RandomSampler(seed=seed)  # any other parameter

    def infer_relative_search_space(
        self, study: optuna.Study, trial: FrozenTrial
    ) -> dict[str, BaseDistribution]:
        return {}

    def sample_relative(
        self, study: optuna.Study, trial: FrozenTrial, search_space: dict[str, BaseDistribution]
    ) -> dict[str, Any]:
        return {}

    def sample_independent(
        self,
        study: optuna.Study,
        trial: FrozenTrial,
        param_name: str,
        param_distribution: BaseDistribution,
    ) -> Any:
        if param_name not in (CANDIDATE, SEED):
            return self.fallback.sample_independent(study, trial, param_name, param_distribution)
        if trial.number not in self.chosen:
            self.chosen[trial.number] = self.next_pair(study.get_trials(deepcopy=False), trial)
        candidate, seed = self.chosen[trial.number]
        if param_name == SEED:
            del self.chosen[trial.number]
            return seed
        return candidate

    def next_pair(self, trials: Sequence[FrozenTrial], trial: FrozenTrial) -> tuple[Any, int]:
        """The first pair no other trial holds (the first of all once every pair is held:
        the driver stops asking when the grid is covered)."""
        taken = {
            (t.params[CANDIDATE], t.params[SEED])
            for t in trials
            if t.number != trial.number and CANDIDATE in t.params and SEED in t.params
        }
        fixed = trial.params.get(CANDIDATE)  # a trial queued with its candidate keeps it
        for candidate in self.choices if fixed is None else [fixed]:
            for seed in range(self.seeds):
                if (candidate, seed) not in taken:
                    return candidate, seed
        return (self.choices[0] if fixed is None else fixed), 0


def make_sampler(
    name: str,
    candidates: Sequence[str],
    seeds: int,
    features: Mapping[str, Sequence[float]] | None = None,
    *,
    seed: int = 0,
    indexed: bool = False,
) -> optuna.samplers.BaseSampler:
    """The run's sampler; ``features`` are the candidates' shape descriptors (``guided``);
    ``seed`` seeds its choices (a run uses 0); ``indexed``: the study stores a candidate as
    its index in ``candidates`` (:class:`CandidateParameter`).

    >>> type(make_sampler("guided", ["erf", "isru"], 2, {"erf": [1.0], "isru": [2.0]})).__name__
    'GuidedSampler'
    """
    if indexed:
        check_sampler_fits(name, len(candidates))
    if name == "guided":
        return GuidedSampler(candidates, features or {}, seeds, seed=seed)
    if name == "grid":
        return CandidateGrid(range(len(candidates)) if indexed else candidates, seeds, seed=seed)
    if name == "random":
        return optuna.samplers.RandomSampler(seed=seed)
    if name == "tpe":
        # Categorical candidates: TPE learns which of them (and which α0) pay off.
        return optuna.samplers.TPESampler(seed=seed, n_startup_trials=max(4, len(candidates) // 4))
    raise UserError(f"unknown sampler {name!r}")


def make_pruner(name: str, epochs: int) -> optuna.pruners.BasePruner:
    """Pruners see one report per epoch (step = epoch)."""
    if name == "none":
        return optuna.pruners.NopPruner()
    if name == "median":
        return optuna.pruners.MedianPruner(n_startup_trials=4, n_warmup_steps=1)
    if name == "successive-halving":
        return optuna.pruners.SuccessiveHalvingPruner(min_resource=1, reduction_factor=3)
    if name == "hyperband":
        return optuna.pruners.HyperbandPruner(
            min_resource=1, max_resource=max(epochs, 1), reduction_factor=3
        )
    raise UserError(f"unknown pruner {name!r}")
