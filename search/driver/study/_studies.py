"""The study side of the driver: each task's study opened for the run, asked for trials and told
how they ended.

The driver is the only writer of the storage (it holds the run directory's lock and the
study's lease), so what a study holds is kept in memory (:class:`Ledger`) rather than read back
before every ask.

Example:
    >>> import optuna, pandas as pd
    >>> from search.driver import RunSettings
    >>> from search.driver.rundir import RunPool
    >>> optuna.logging.set_verbosity(optuna.logging.WARNING)
    >>> settings = RunSettings(tasks=("mnist1d",), seeds=1)
    >>> table = pd.DataFrame({"candidate_id": ["erf"], "kind": ["baseline"], "name": ["erf"],
    ...                       "expression": [None], "shift": ["scalar"], "alpha0": [0.5]})
    >>> studies = TaskStudies(settings, RunPool(settings, table))
    >>> storage = optuna.storages.InMemoryStorage()
    >>> studies.open(storage)
    >>> asked = studies.ask("mnist1d")
    >>> asked.key, asked.seed, studies.ask("mnist1d") is None
    ('erf', 0, True)
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import optuna
from optuna.trial import TrialState

from candidates import UserError
from evaluators import apply_recipe, get_task

from ..rundir import RunPool, RunSettings
from ._parameter import SEED, CandidateParameter, candidate_of
from ._rebuild import storable
from ._sampler import ALPHA0_RANGE, make_pruner, make_sampler
from ._study import is_charged, mark_failed, recover, storage_errors, trial_key

#: Consecutive duplicate asks after which a random/TPE sampler is taken to have covered all.
MAX_DUPLICATES = 200
#: The study's user attribute that names the run it belongs to (``RunSettings.fingerprint``).
RUN_ATTR = "run_fingerprint"


@dataclass
class Ledger:
    """What a task's study holds, kept in memory: the driver is the storage's only writer, so
    reading it back before every ask (as many as trials, each reading every trial) is waste."""

    waiting: int = 0  # queued trials (retries, baselines) that the next asks will return
    charged: int = 0  # trials counted toward the budget
    covered: set[tuple[str, int]] = field(default_factory=set)  # (candidate, seed) run or running
    seeds: dict[str, list[int]] = field(default_factory=dict)  # candidate -> seeds used

    @classmethod
    def read(cls, study: optuna.Study) -> Ledger:
        ledger = cls()
        for t in study.get_trials(deepcopy=False):
            if t.state == TrialState.WAITING:
                ledger.waiting += 1
            elif is_charged(t):
                ledger.charge(*trial_key(t))
        return ledger

    def charge(self, key: str, seed: int) -> None:
        self.charged += 1
        self.covered.add((key, seed))
        self.seeds.setdefault(key, []).append(seed)


@dataclass(frozen=True)
class Asked:
    """A trial a study handed out: its candidate's key, its seed and its α0."""

    trial: optuna.trial.Trial
    key: str
    seed: int
    alpha0: float | None


class TaskStudies:
    """The run's studies, one per task (see the module docstring)."""

    def __init__(self, settings: RunSettings, pool: RunPool) -> None:
        self.settings = settings
        self.pool = pool
        self.storage: optuna.storages.BaseStorage | None = None
        self.studies: dict[str, optuna.Study] = {}
        self.encodings: dict[str, CandidateParameter] = {}  # how each study stores a candidate
        self.ledgers: dict[str, Ledger] = {}
        self.duplicates = 0
        self.values: dict[str, dict[str, list[float]]] = {}  # task -> candidate -> metrics

    # --- opening -----------------------------------------------------------------------------

    def open(self, storage: optuna.storages.BaseStorage) -> None:
        """Open (or create) each task's study. Called with the study's lease held
        (:class:`StudyLease`), so trials left running are a dead driver's orphans and are
        queued again."""
        self.storage = storage
        with storage_errors(self.settings.storage_url()):
            for name in self.settings.tasks:
                self._open(storage, name)

    def _claim(self, study: optuna.Study) -> None:
        """Mark ``study`` as this run's (its settings and candidates, as a fingerprint), or
        refuse it if it is another run's: a storage and a study name given twice must not
        show one run's trials under another's settings."""
        mark = self.settings.fingerprint(self.pool.keys)
        owner = study.user_attrs.get(RUN_ATTR)
        if owner is None:  # new, or written before studies were marked
            study.set_user_attr(RUN_ATTR, mark)
        elif owner != mark:
            raise UserError(
                f"the storage {self.settings.storage_url()} already holds a study "
                f"{study.study_name!r} of another run (other candidates or training settings): "
                "choose another --study-name, or resume that run with --resume"
            )

    def _open(self, storage: optuna.storages.BaseStorage, name: str) -> None:
        settings, keys = self.settings, self.pool.keys
        task = get_task(name)
        epochs = apply_recipe(task, settings.budget, dict(self.pool.recipe))[1].epochs
        study_name = settings.study_for(name)
        param = CandidateParameter.for_run(keys, storage, study_name)
        study = optuna.create_study(
            storage=storage,
            study_name=study_name,
            direction=task.direction,
            sampler=make_sampler(
                settings.sampler, keys, settings.seeds, self.pool.features, indexed=param.indexed
            ),
            pruner=make_pruner(settings.pruner, epochs),
            load_if_exists=True,
        )
        fresh = not study.get_trials(deepcopy=False)
        self._claim(study)
        if fresh:
            study.set_user_attr("task", name)
            study.set_user_attr("metric", task.metric)
            if settings.sampler != "grid":
                # The baselines are always evaluated, whatever a sampler would pick.
                for key in self.pool.baselines():
                    params, attrs = param.fixed(key)
                    for seed in range(settings.seeds):
                        study.enqueue_trial(params, user_attrs={**attrs, SEED: seed})
        recover(storage, study)
        self.studies[name] = study
        self.encodings[name] = param
        self.ledgers[name] = Ledger.read(study)
        for t in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,)):
            if not t.user_attrs.get("result", {}).get("diverged"):
                values = self.values.setdefault(name, {})
                values.setdefault(str(candidate_of(t)), []).append(float(t.values[0]))

    # --- asking ------------------------------------------------------------------------------

    def limit(self) -> int:
        """The trials each task's study runs at most."""
        return self.settings.max_trials or len(self.pool.keys) * self.settings.seeds

    def _has_work(self, ledger: Ledger) -> bool:
        if ledger.waiting:
            return True
        if ledger.charged >= self.limit():
            return False
        return (
            self.settings.tune_alpha
            or len(ledger.covered) < len(self.pool.keys) * self.settings.seeds
        )

    def _free_seed(self, ledger: Ledger, key: str) -> int | None:
        used = ledger.seeds.get(key, [])
        if self.settings.tune_alpha:
            return len(used) % self.settings.seeds
        free = sorted(set(range(self.settings.seeds)) - set(used))
        return free[0] if free else None

    def ask(self, task: str) -> Asked | None:
        """The next trial of ``task``'s study, or None when it has no more work."""
        study, ledger = self.studies[task], self.ledgers[task]
        while self._has_work(ledger) and self.duplicates < MAX_DUPLICATES:
            queued = ledger.waiting > 0  # Optuna hands out queued trials first
            trial = study.ask()
            ledger.waiting -= queued
            key = self.encodings[task].suggest(trial)
            if self.settings.sampler == "grid":
                seed = int(trial.suggest_int(SEED, 0, self.settings.seeds - 1))
            elif SEED in trial.user_attrs:
                seed = int(trial.user_attrs[SEED])
            else:
                free = self._free_seed(ledger, key)
                if free is None:  # every seed of this candidate is done: nothing to run
                    self.duplicates += 1
                    trial.set_user_attr("duplicate", True)
                    study.tell(trial, state=TrialState.PRUNED)
                    continue
                seed = free
                trial.set_user_attr(SEED, seed)
            self.duplicates = 0
            ledger.charge(key, seed)
            return Asked(trial, key, seed, self._alpha0(task, trial, key))
        return None

    def _alpha0(self, task: str, trial: optuna.trial.Trial, key: str) -> float | None:
        """The α0 of an asked trial (the run's, its row's, or sampled with --tune-alpha), with
        the attributes optuna-dashboard shows beside its parameters."""
        function = self.pool.expression(key)
        alpha0 = self.settings.alpha0
        if alpha0 is None:  # each row's own template
            alpha0 = self.pool.alpha0s[key]
        if self.settings.tune_alpha and function is not None:
            alpha0 = trial.suggest_float("alpha0", *ALPHA0_RANGE, log=True)
        trial.set_user_attr("task", task)
        # what optuna-dashboard shows beside the parameter (the key, or a large pool's index)
        trial.set_user_attr("name", self.pool.names[key])
        if function is not None:
            trial.set_user_attr("expression", function)
        return alpha0

    # --- telling -----------------------------------------------------------------------------

    def should_prune(self, trial: optuna.trial.Trial, epoch: int, value: float) -> bool:
        """Show an epoch's report to the pruner; whether the trial is to stop."""
        if math.isfinite(value):
            trial.report(value, epoch)
        return bool(trial.should_prune())

    def tell(
        self, task: str, trial: optuna.trial.Trial, result: dict[str, Any], seen: float
    ) -> str:
        """Tell ``task``'s study how a trial ended (``seen``: the seconds the driver saw it
        take); returns ``pruned``, ``diverged`` or ``finished``."""
        study = self.studies[task]
        # One attribute, one write: the driver's time per trial is the workers' idle time.
        trial.set_user_attr("result", storable({**result, "driver_seconds": seen}))
        worst = -math.inf if study.direction == optuna.study.StudyDirection.MAXIMIZE else math.inf
        if result["stopped_early"]:
            study.tell(trial, state=TrialState.PRUNED)
            return "pruned"
        if result["diverged"] or not math.isfinite(float(result["value"])):
            study.tell(trial, worst)  # a diverged run is a result: the worst one
            return "diverged"
        study.tell(trial, float(result["value"]))
        task_values = self.values.setdefault(task, {})
        task_values.setdefault(str(candidate_of(trial)), []).append(result["value"])
        return "finished"

    def fail(self, task: str, trial: optuna.trial.Trial, reason: str) -> None:
        trial.set_user_attr("fail_reason", reason)
        self.studies[task].tell(trial, state=TrialState.FAIL)

    def interrupted(self, task: str, trial: optuna.trial.Trial) -> None:
        """Fail a trial the driver stopped, and queue it for ``--resume``."""
        assert self.storage is not None  # the studies are open while trials run
        mark_failed(self.storage, self.studies[task], trial.number, "interrupted", retry=True)

    # --- reading -----------------------------------------------------------------------------

    def done(self) -> int:
        """The trials counted toward the budget that have finished, over all tasks."""
        return sum(
            1
            for study in self.studies.values()
            for t in study.get_trials(deepcopy=False)
            if is_charged(t) and t.state.is_finished()
        )

    def leaders(self, task: str, count: int = 3) -> list[str]:
        """The best ``count`` keys of ``task`` by mean so far (from memory: no storage reads)."""
        values = self.values.get(task, {})
        if not values:
            return []
        sign = -1.0 if self.studies[task].direction.name == "MAXIMIZE" else 1.0
        means = {key: sum(v) / len(v) for key, v in values.items()}
        return sorted(means, key=lambda key: sign * means[key])[:count]
