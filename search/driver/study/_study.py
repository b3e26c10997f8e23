"""The Optuna side of a search: one study per task in a storage, and the bookkeeping that makes
a study resumable (which trials are done, which must be retried). The samplers and pruners are
:mod:`._sampler`'s.

Each trial is one candidate × seed (× α0 when tuned) on one task. A trial's parameters are
``candidate`` (a baseline name or candidate id), ``seed`` (a grid parameter, or a user
attribute for the other samplers) and ``alpha0`` when ``--tune-alpha`` is on.

Example:
    >>> import optuna
    >>> optuna.logging.set_verbosity(optuna.logging.WARNING)
    >>> study = optuna.create_study(storage=open_storage("sqlite:///:memory:"))
    >>> study.enqueue_trial({"candidate": "erf"}, user_attrs={"seed": 1})
    >>> trial = study.ask()
    >>> _ = trial.suggest_categorical("candidate", ["erf", "dyt"])
    >>> study.tell(trial, 0.5)  # doctest: +ELLIPSIS
    FrozenTrial(...)
    >>> trial_key(study.trials[0]), is_charged(study.trials[0])
    (('erf', 1), True)
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import optuna
from optuna.trial import FrozenTrial, TrialState

from candidates import UserError

from ._parameter import CANDIDATE, SEED, candidate_of

#: Seconds to wait for a database server before saying it cannot be reached.
CONNECT_TIMEOUT = 10


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


def trial_key(trial: FrozenTrial) -> tuple[str, int]:
    """(candidate, seed) of a trial, asked or enqueued."""
    seed = trial.params.get(SEED, trial.user_attrs.get(SEED, -1))
    return str(candidate_of(trial)), int(seed)


#: The user attribute of a trial that only holds a number of a rebuilt study (see
#: :func:`search.driver.rebuild_study`): no candidate, no result, left out of the record.
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
