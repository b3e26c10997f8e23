"""How a study stores each trial's candidate: a categorical over the run's keys, or, for a large
pool, the key's index in the run's candidate table.

Optuna stores a parameter's distribution with every trial, and a categorical's distribution is
its whole list of choices: over the ~55,000 functions of the default grammar that is about
1 MB a trial, so a study of a few hundred trials grows to hundreds of MB and each ask reads
all of it back. Beyond :data:`CATEGORICAL_LIMIT` candidates the ``candidate`` parameter is
therefore an integer (the key's place among the distinct ``candidate_id`` values of the run's
``candidates.parquet``, in the file's order, which a run keeps), and the key itself is the
trial's ``candidate`` user attribute, so the dashboard, the record and a person reading the
storage still see ids. TPE, which learns one categorical, is refused there: over that many
choices it is a random sampler that stores megabytes. (The grid sampler is the run's own,
:class:`search.driver.CandidateGrid`, which stores nothing beyond the trials' parameters.)

Example:
    >>> import optuna
    >>> optuna.logging.set_verbosity(optuna.logging.WARNING)
    >>> param = CandidateParameter(("erf", "dyt", "isru"), indexed=True)
    >>> study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    >>> key = param.suggest(study.ask())
    >>> candidate_of(study.trials[0]) == key, type(study.trials[0].params["candidate"]).__name__
    (True, 'int')
    >>> param.fixed("isru")
    ({'candidate': 2}, {'candidate': 'isru'})
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import optuna
from optuna.distributions import IntDistribution
from optuna.trial import FrozenTrial

from ..rundir import CATEGORICAL_LIMIT

#: The parameter (and, for an indexed pool, the user attribute) that names a trial's candidate.
CANDIDATE = "candidate"
#: The parameter that holds a grid trial's seed (other samplers keep it as a user attribute).
SEED = "seed"


@dataclass(frozen=True)
class CandidateParameter:
    """The ``candidate`` parameter of a run's studies (see the module docstring)."""

    keys: tuple[str, ...]
    indexed: bool

    @classmethod
    def for_run(
        cls, keys: Sequence[str], storage: optuna.storages.BaseStorage, study_name: str
    ) -> CandidateParameter:
        """The encoding a study already uses (a run resumed keeps its own), else the one its
        pool size calls for."""
        keys = tuple(str(k) for k in keys)
        stored = stored_encoding(storage, study_name)
        return cls(keys, len(keys) > CATEGORICAL_LIMIT if stored is None else stored)

    def suggest(self, trial: optuna.trial.Trial) -> str:
        """Ask ``trial`` (through its study's sampler) for a candidate; returns its key."""
        if not self.indexed:
            return str(trial.suggest_categorical(CANDIDATE, self.keys))
        key = self.keys[trial.suggest_int(CANDIDATE, 0, len(self.keys) - 1)]
        trial.set_user_attr(CANDIDATE, key)
        return key

    def fixed(self, key: str) -> tuple[dict[str, Any], dict[str, Any]]:
        """(params, user attributes) that enqueue a trial of ``key``."""
        if not self.indexed:
            return {CANDIDATE: key}, {}
        return {CANDIDATE: self.keys.index(key)}, {CANDIDATE: key}


def candidate_of(trial: FrozenTrial | optuna.trial.Trial) -> str | None:
    """The key of a trial's candidate, whichever the encoding; None before it is asked, and
    for an index whose key was never written beside it (its driver died in between)."""
    key = trial.user_attrs.get(CANDIDATE)
    if key is None and not isinstance(trial.distributions.get(CANDIDATE), IntDistribution):
        key = trial.params.get(CANDIDATE)
    return None if key is None else str(key)


def stored_encoding(storage: optuna.storages.BaseStorage, study_name: str) -> bool | None:
    """Whether the study's trials store their candidate as an index; None when it has no
    trial that says (a new study). The first trials answer (the baselines are queued first),
    so a large study is not read whole."""
    try:
        study_id = storage.get_study_id_from_name(study_name)
    except KeyError:
        return None
    for number in range(storage.get_n_trials(study_id)):
        trial = storage.get_trial(storage.get_trial_id_from_study_id_trial_number(study_id, number))
        distribution = trial.distributions.get(CANDIDATE)
        if distribution is not None:
            return isinstance(distribution, IntDistribution)
        # a queued trial not yet asked holds its parameters where enqueue_trial put them
        queued = trial.system_attrs.get("fixed_params", {}).get(CANDIDATE)
        if queued is not None:
            return isinstance(queued, int)
    return None
