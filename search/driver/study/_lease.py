"""One driver per search, also on a storage that several machines share: the study's lease.

A driver is the only writer of its studies (it keeps their ledger in memory and takes every
trial left running at start-up for an orphan), so a second driver on the same study would
run trials twice and fail the first driver's running trials. Scaling out is Ray's job (one
driver, workers on many nodes: ``--ray-address``); a second driver is refused.

The lease is a marker study in the same storage, ``NAME#lease-G``: creating a study of a
given name is atomic in every Optuna storage (RDB and journal), so of two drivers that race for
generation G exactly one wins. The holder records itself (:class:`Owner`) and a heartbeat in
the marker's user attributes and marks it released at its end. A later driver takes the next
generation when the lease is released, when its holder is known dead (same host), or when the
heartbeat is older than :data:`LEASE_SECONDS` (another host); otherwise it is refused.

Example:
    >>> import optuna
    >>> storage = optuna.storages.InMemoryStorage()
    >>> first = StudyLease(storage, "run")
    >>> first.acquire() is None
    True
    >>> try:
    ...     StudyLease(storage, "run").acquire()
    ... except RunInUse:
    ...     print("refused: the first holds it")
    refused: the first holds it
    >>> first.release()
    >>> StudyLease(storage, "run").acquire() is None  # a released lease is taken at once
    True
"""

from __future__ import annotations

import re
import time

import optuna

from ..rundir import Owner, RunInUse

#: How often a driver renews its lease (its loop wakes at least once a second).
HEARTBEAT_SECONDS = 10.0
#: A lease not renewed for this long is taken to be its driver's, gone (for a driver on
#: another host, whose process cannot be looked at).
LEASE_SECONDS = 90.0
#: The marker studies' names: ``<study name>#lease-<generation>``.
LEASE_MARK = "#lease-"


def is_lease(study_name: str) -> bool:
    """Whether a study in a storage is a lease marker rather than a task's study."""
    return LEASE_MARK in study_name


class StudyLease:
    """The lease of the studies named ``study_name`` (all its tasks) in ``storage``."""

    def __init__(self, storage: optuna.storages.BaseStorage, study_name: str) -> None:
        self.storage = storage
        self.study_name = study_name
        self.owner = Owner.this_process()
        self.study_id: int | None = None
        self.beaten = 0.0

    def acquire(self) -> Owner | None:
        """Take the lease, or raise :class:`RunInUse`. Returns the previous holder when it
        ended without releasing the lease (it died: its running trials are orphans)."""
        generation, previous = self._latest()
        stale: Owner | None = None
        if previous is not None:
            holder = Owner.from_dict(previous.get("owner"))
            if not previous.get("released"):
                if self._live(holder, previous):
                    assert holder is not None
                    raise RunInUse(
                        f"the study {self.study_name!r} is being run by another driver "
                        f"({holder.describe()}): one driver per study; to use more machines, "
                        "give that driver Ray workers on them (--ray-address)"
                    )
                stale = holder
        name = f"{self.study_name}{LEASE_MARK}{generation + 1}"
        try:
            self.study_id = self.storage.create_new_study(
                [optuna.study.StudyDirection.MINIMIZE], study_name=name
            )
        except optuna.exceptions.DuplicatedStudyError:
            raise RunInUse(
                f"another driver took the study {self.study_name!r} at the same moment"
            ) from None
        self.storage.set_study_user_attr(self.study_id, "owner", self.owner.to_dict())
        self.beat(force=True)
        return stale

    def beat(self, *, force: bool = False) -> None:
        """Renew the lease (at most every :data:`HEARTBEAT_SECONDS` unless ``force``)."""
        now = time.time()
        if self.study_id is None or (not force and now - self.beaten < HEARTBEAT_SECONDS):
            return
        self.storage.set_study_user_attr(self.study_id, "heartbeat", now)
        self.beaten = now

    def release(self) -> None:
        if self.study_id is not None:
            self.storage.set_study_user_attr(self.study_id, "released", True)
            self.study_id = None

    def _latest(self) -> tuple[int, dict | None]:
        """The latest generation of this lease and its attributes (-1, None: never taken)."""
        pattern = re.compile(re.escape(self.study_name + LEASE_MARK) + r"(\d+)")
        generations = {
            int(match.group(1)): study.study_name
            for study in self.storage.get_all_studies()
            if (match := pattern.fullmatch(study.study_name))
        }
        if not generations:
            return -1, None
        latest = max(generations)
        study_id = self.storage.get_study_id_from_name(generations[latest])
        return latest, self.storage.get_study_user_attrs(study_id)

    @staticmethod
    def _live(holder: Owner | None, attrs: dict) -> bool:
        alive = holder.alive() if holder is not None else None
        if alive is not None:
            return alive
        heartbeat = float(attrs.get("heartbeat", 0.0))
        return time.time() - heartbeat < LEASE_SECONDS
