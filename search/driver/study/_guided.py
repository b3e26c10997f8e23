"""The guided sampler: the next candidate is the one a surrogate over descriptors expects to
improve most on the best so far.

A run's ``candidate`` parameter is one categorical over thousands of functions; TPE over it
learns nothing from one function about another. This sampler sees each candidate as a vector
instead (:func:`candidates.guide_matrix`): its :data:`candidates.SHAPE_DESCRIPTORS`, which say
what f looks like whatever its scales, and its :data:`candidates.START_DESCRIPTORS`, which say
where the template puts f when training starts (α0 against f's input scale, γ = 1 against its
output scale). A short proxy run responds to both: on the tabular benchmark the shape alone
predicts a held-out function's metric with a Spearman correlation of about 0.3, and shape and
start together about 0.9. A Gaussian process (scikit-learn's: a Matérn kernel plus a noise
term, on standardised descriptors) is fitted to the mean metric of the candidates evaluated so
far, and the next candidate is the unevaluated one with the largest expected improvement. Its
rules:

- **seeds stay paired**: a candidate that has started but not had all its seeds is proposed
  again before any new one, so every candidate gets the same seeds;
- **seeded random start**: the first ``startup`` candidates are drawn at random (seeded);
- **parallel workers** (constant liar): a candidate in flight counts as evaluated, at the worst
  value seen so far, so two workers are never sent to the same place and the surrogate does not
  re-propose what is running;
- **no state of its own**: everything is read from the study's trials at each ask, so it works
  with every storage, with pruners (only finished trials inform the surrogate) and across
  ``--resume``; its choices are a function of the study's trials and the seed;
- a diverged seed counts as the worst value seen; candidates without descriptors (nan: f never
  saturates, or its slope at 0 is zero) come after all the others, at random.

Example:
    >>> import optuna
    >>> features = {f"c{i}": [float(i), float(i % 7)] for i in range(40)}
    >>> sampler = GuidedSampler(list(features), features, seeds=1, seed=0, startup=5)
    >>> study = optuna.create_study(sampler=sampler, direction="maximize")
    >>> for _ in range(12):
    ...     trial = study.ask()
    ...     key = trial.suggest_categorical("candidate", list(features))
    ...     _ = study.tell(trial, -abs(features[key][0] - 30.0))
    >>> abs(features[study.best_params["candidate"]][0] - 30.0) <= 2
    True
"""

from __future__ import annotations

import math
import warnings
from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import optuna
from optuna.distributions import BaseDistribution, IntDistribution
from optuna.study import Study, StudyDirection
from optuna.trial import FrozenTrial, TrialState

from ._parameter import CANDIDATE, candidate_of
from ._study import is_charged

#: Candidates drawn at random before the surrogate is trusted. Chosen on the digits-dit property
#: study's table (20 replays: a median of 14 trials to its top with 5, 22.5 with 10), so that the
#: tabular benchmark, on which docs/performance.md reports the sampler, played no part in it.
GUIDED_STARTUP = 5


def standardise(matrix: np.ndarray) -> np.ndarray:
    """Each column to mean 0 and standard deviation 1 (a constant column to 0): the
    surrogate's inputs, over the whole pool.

    >>> standardise(np.array([[1.0, 5.0], [3.0, 5.0]])).tolist()
    [[-1.0, 0.0], [1.0, 0.0]]
    """
    if not len(matrix):
        return matrix
    spread = matrix.std(axis=0)
    return (matrix - matrix.mean(axis=0)) / np.where(spread > 0, spread, 1.0)


def fit_surrogate(x: np.ndarray, y: np.ndarray, *, seed: int = 0) -> Any:
    """The guided sampler's Gaussian process (scikit-learn's), fitted to descriptors ``x``
    (standardised) and scores ``y`` (higher is better).

    >>> x = np.linspace(-1, 1, 12)[:, None]
    >>> model = fit_surrogate(x, -(x[:, 0] ** 2))
    >>> bool(model.predict(np.array([[0.0]]))[0] > model.predict(np.array([[0.9]]))[0])
    True
    """
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.gaussian_process import GaussianProcessRegressor
    from sklearn.gaussian_process.kernels import ConstantKernel, Matern, WhiteKernel

    # one length scale for all descriptors: one per descriptor fits no better on the tabular
    # benchmark and costs ten times as much at a hundred points
    kernel = ConstantKernel() * Matern(nu=2.5) + WhiteKernel(noise_level=1e-2)
    model = GaussianProcessRegressor(
        kernel=kernel, normalize_y=True, random_state=seed, n_restarts_optimizer=2
    )
    with warnings.catch_warnings():  # a kernel bound reached is no news to a user
        warnings.simplefilter("ignore", ConvergenceWarning)
        model.fit(x, y)
    return model


class GuidedSampler(optuna.samplers.BaseSampler):
    """Expected improvement of a Gaussian process over shape descriptors, for the
    ``candidate`` parameter (see the module docstring); other parameters (a tuned α0) are
    sampled at random, seeded."""

    def __init__(
        self,
        candidates: Sequence[str],
        features: Mapping[str, Sequence[float]],
        seeds: int,
        *,
        seed: int = 0,
        startup: int = GUIDED_STARTUP,
    ) -> None:
        self.candidates = [str(c) for c in candidates]
        self.index = {c: i for i, c in enumerate(self.candidates)}
        usable = {
            str(k): np.asarray(v, dtype=float)
            for k, v in features.items()
            if len(v) and np.all(np.isfinite(np.asarray(v, dtype=float)))
        }
        self.featured = [c for c in self.candidates if c in usable]
        matrix = np.array([usable[c] for c in self.featured]) if self.featured else np.zeros((0, 1))
        self.matrix = standardise(matrix)
        self.row = {c: i for i, c in enumerate(self.featured)}
        self.seeds = seeds
        self.seed = seed
        self.startup = startup
        self.fallback = optuna.samplers.RandomSampler(seed=seed)

    # Optuna's sampler interface: every parameter is sampled on its own.
    def infer_relative_search_space(
        self, study: Study, trial: FrozenTrial
    ) -> dict[str, BaseDistribution]:
        return {}

    def sample_relative(
        self, study: Study, trial: FrozenTrial, search_space: dict[str, BaseDistribution]
    ) -> dict[str, Any]:
        return {}

    def sample_independent(
        self,
        study: Study,
        trial: FrozenTrial,
        param_name: str,
        param_distribution: BaseDistribution,
    ) -> Any:
        if param_name != CANDIDATE:
            return self.fallback.sample_independent(study, trial, param_name, param_distribution)
        key = self.propose(study.get_trials(deepcopy=False), trial.number, study.direction)
        if isinstance(param_distribution, IntDistribution):  # an indexed pool
            return self.index[key]
        return key

    def propose(self, trials: Sequence[FrozenTrial], number: int, direction: StudyDirection) -> str:
        """The candidate for trial ``number``, given the study's ``trials``."""
        rng = np.random.default_rng([self.seed, number])
        mine = [t for t in trials if t.number != number and CANDIDATE in t.params]
        counted = [t for t in mine if is_charged(t)]
        started = Counter(str(candidate_of(t)) for t in counted)
        unfinished = [c for c in self.candidates if 0 < started[c] < self.seeds]
        if unfinished:  # finish a candidate's seeds before starting another
            return unfinished[0]
        fresh = [c for c in self.featured if c not in started]
        if not fresh:  # those without descriptors last; when all are taken, the driver stops
            rest = [c for c in self.candidates if c not in started] or self.candidates
            return str(rng.choice(rest))
        sign = 1.0 if direction == StudyDirection.MAXIMIZE else -1.0
        values: dict[str, list[float]] = {}
        for t in counted:
            if t.state == TrialState.COMPLETE and t.values:
                values.setdefault(str(candidate_of(t)), []).append(sign * t.values[0])
        finite = [v for vs in values.values() for v in vs if math.isfinite(v)]
        if len([c for c in values if c in self.row]) < self.startup or not finite:
            return str(rng.choice(fresh))
        # a diverged seed (told as the worst value, ±inf) counts as the worst finite one seen
        worst = min(finite)
        scored = {
            c: float(np.mean([v if math.isfinite(v) else worst for v in vs]))
            for c, vs in values.items()
            if c in self.row
        }
        for c in started:  # the constant liar: in flight (or failed) counts as the worst seen
            if c in self.row and c not in scored:
                scored[c] = worst
        return self._best_improvement(scored, fresh, rng)

    def _best_improvement(
        self, scored: dict[str, float], fresh: list[str], rng: np.random.Generator
    ) -> str:
        from scipy.stats import norm

        keys = list(scored)
        x = self.matrix[[self.row[c] for c in keys]]
        y = np.array([scored[c] for c in keys])
        model = fit_surrogate(x, y, seed=self.seed)
        mean, std = model.predict(self.matrix[[self.row[c] for c in fresh]], return_std=True)
        std = np.maximum(std, 1e-12)
        gap = mean - y.max()
        improvement = gap * norm.cdf(gap / std) + std * norm.pdf(gap / std)
        best = np.flatnonzero(improvement >= improvement.max() - 1e-15)
        return fresh[int(rng.choice(best))]
