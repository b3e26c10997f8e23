"""The Optuna side of a search: one study per task, its sampler and pruner, and the bookkeeping
that makes a study resumable (which trials are done, which must be retried).

Each trial is one candidate × seed (× α0 when tuned) on one task. A trial's parameters are
``candidate`` (a baseline name or candidate id), ``seed`` (a grid parameter, or a user
attribute for the other samplers) and ``alpha0`` when ``--tune-alpha`` is on.

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

import contextlib
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import optuna
from optuna.distributions import BaseDistribution
from optuna.trial import FrozenTrial, TrialState

from candidates import UserError

from ._parameter import CANDIDATE, SEED, candidate_of, check_sampler_fits

ALPHA0_RANGE = (0.05, 5.0)  # --tune-alpha samples α0 log-uniformly in this range
#: Seconds to wait for a database server before saying it cannot be reached.
CONNECT_TIMEOUT = 10


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


def open_storage(url: str, *, reader: bool = False) -> optuna.storages.BaseStorage:
    """An RDB URL (``sqlite:///…``, ``postgresql://…``) or a journal file (``journal:PATH`` or a
    path ending in ``.log``); a storage that cannot be opened (a bogus URL, a server out of
    reach, a damaged file) is one :class:`StorageUnusable` line.

    A ``reader`` (the leaderboard of a running search) never writes: Optuna's RDB storage
    records its schema version on opening even when told to skip table creation, so a reader
    that opened the database while the driver was still creating it would race the driver's
    own version row (and break its start). A reader therefore waits for that row to exist and
    raises :class:`StorageNotReady` otherwise.
    """
    with storage_errors(url):
        if url.startswith("journal:") or url.endswith(".log"):
            return _journal(url.removeprefix("journal:"), reader=reader)
        if reader:
            _require_initialised(url)
            return optuna.storages.RDBStorage(
                url, skip_table_creation=True, skip_compatibility_check=True
            )
        rdb = optuna.storages.RDBStorage(url, engine_kwargs=_engine_kwargs(url))
        return optuna.storages.get_storage(rdb)


class StorageUnusable(UserError):
    """The study storage cannot be opened or read."""


@contextlib.contextmanager
def storage_errors(url: str, *, hint: str = "") -> Iterator[None]:
    """Turn a storage's own errors (SQLAlchemy's, the file system's, a journal's) into one
    :class:`StorageUnusable` line naming the storage (and ``hint``: what to do)."""
    try:
        yield
    except StorageUnusable as exc:
        raise StorageUnusable(f"{exc}{hint}") from None
    except UserError:
        raise
    except Exception as exc:  # drivers and file systems raise many types; all mean the same
        lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
        reason = lines[0] if lines else type(exc).__name__
        if len(reason) > 200:
            reason = reason[:200] + "…"
        raise StorageUnusable(f"cannot use the storage {url}: {reason}{hint}") from None


def _journal(path: str, *, reader: bool) -> optuna.storages.BaseStorage:
    from optuna.storages.journal import JournalFileBackend, JournalStorage

    if not Path(path).parent.is_dir():
        raise StorageUnusable(f"cannot use the journal {path}: its folder does not exist")
    if reader and not Path(path).is_file():
        raise StorageNotReady(f"no journal at {path} yet (is its search still starting?)")
    return JournalStorage(JournalFileBackend(path))


def _engine_kwargs(url: str) -> dict[str, Any]:
    """A bound on the wait for a database server: drivers otherwise wait minutes."""
    if url.startswith(("postgresql", "mysql")):
        return {"connect_args": {"connect_timeout": CONNECT_TIMEOUT}}
    return {}


class StorageNotReady(UserError):
    """The study storage is missing or is still being created by its driver."""


def _require_initialised(url: str) -> None:
    import sqlalchemy

    engine = sqlalchemy.create_engine(url)
    try:
        with engine.connect() as connection:
            # The version row is the last thing Optuna writes when it creates a storage.
            ready = sqlalchemy.inspect(connection).has_table("alembic_version") and bool(
                connection.execute(sqlalchemy.text("SELECT COUNT(*) FROM alembic_version")).scalar()
            )
    finally:
        engine.dispose()
    if not ready:
        raise StorageNotReady(f"no study storage at {url} yet (is its search still starting?)")


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
        from ._guided import GuidedSampler  # which reads the study through this module

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


def trial_key(trial: FrozenTrial) -> tuple[str, int]:
    """(candidate, seed) of a trial, asked or enqueued."""
    seed = trial.params.get(SEED, trial.user_attrs.get(SEED, -1))
    return str(candidate_of(trial)), int(seed)


#: The user attribute of a trial that only holds a number of a rebuilt study (see
#: :mod:`search.driver._rebuild`): no candidate, no result, left out of the record.
PLACEHOLDER = "placeholder"


def is_placeholder(trial: FrozenTrial) -> bool:
    """A trial that stands for a number its study's saved copy lacked (:data:`PLACEHOLDER`)."""
    return bool(trial.user_attrs.get(PLACEHOLDER))


def is_retried(trial: FrozenTrial) -> bool:
    """A failed trial whose work was handed to a later trial (its retry)."""
    return trial.state == TrialState.FAIL and bool(trial.user_attrs.get("retried"))


def is_charged(trial: FrozenTrial) -> bool:
    """Counts toward the trial budget: real work, not a duplicate ask nor a retried failure."""
    if trial.user_attrs.get("duplicate") or is_retried(trial):
        return False
    return trial.state != TrialState.WAITING


def mark_failed(
    storage: optuna.storages.BaseStorage,
    study: optuna.Study,
    trial_number: int,
    reason: str,
    *,
    retry: bool,
) -> None:
    """Fail a trial with a reason; with ``retry`` its parameters are queued to run again.
    ``storage`` is the study's (a trial that is not this driver's own ask is reached through
    the storage's public API)."""
    study_id = storage.get_study_id_from_name(study.study_name)
    trial_id = storage.get_trial_id_from_study_id_trial_number(study_id, trial_number)
    frozen = storage.get_trial(trial_id)
    storage.set_trial_user_attr(trial_id, "fail_reason", reason)
    if retry:
        storage.set_trial_user_attr(trial_id, "retried", True)
    if frozen.state == TrialState.RUNNING:
        study.tell(trial_number, state=TrialState.FAIL)
    if retry:
        queue_retry(study, frozen)


def queue_retry(study: optuna.Study, trial: FrozenTrial) -> None:
    """Queue the work of ``trial`` (failed, marked retried) to run again: its parameters, its
    seed and candidate key, and how many tries it has had."""
    attrs: dict[str, Any] = {SEED: trial_key(trial)[1], "retry_of": trial.number}
    if CANDIDATE in trial.user_attrs:  # an indexed pool's key
        attrs[CANDIDATE] = trial.user_attrs[CANDIDATE]
    attrs["attempts"] = int(trial.user_attrs.get("attempts", 1))
    study.enqueue_trial(trial.params, user_attrs=attrs)


def recover(storage: optuna.storages.BaseStorage, study: optuna.Study) -> int:
    """Trials left running by a driver that died are failed and queued again; returns how
    many. Called once the study's lease is held (:class:`StudyLease`): no other driver is
    alive, so a running trial at start-up is an orphan."""
    orphans = study.get_trials(deepcopy=False, states=(TrialState.RUNNING,))
    for trial in orphans:
        mark_failed(
            storage, study, trial.number, "the driver stopped during this trial", retry=True
        )
    return len(orphans)
