"""The Ray side of the driver: long-lived workers, the trials in flight on them, the retries of
trials whose worker died, and the relay that carries per-epoch reports to the pruner and its
decisions back.

It knows nothing of Optuna: a trial is handed in with a handle of the caller's (``trial``) and
comes back with it, with its result or the reason it failed (:class:`Ended`); whether a report
prunes its trial is the caller's ``judge``. A worker takes one trial, or a pack of trials it
trains as one batched model (:func:`run_pack`); the trials of a pack whose worker died are
retried together, as one trial would be, and each comes back on its own.

Example (no Ray is started until :meth:`Scheduler.start`):
    >>> scheduler = Scheduler(workers=2, gpus_per_trial=0.0, relay=False)
    >>> scheduler.busy, scheduler.idle
    (False, [])
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from ._trial import FAILURE, TrialSpec
from ._workers import start_relay, start_worker

#: A trial whose worker dies is run once more on a fresh worker, then failed with its reason.
MAX_ATTEMPTS = 2


@dataclass
class Running:
    """Trials in flight on one worker, one or a pack (or, their worker dead, waiting for a
    retry)."""

    trials: list[Any]  # the caller's handles of the trials, given back as they were given
    specs: list[TrialSpec]
    worker: Any
    attempts: int
    started: float

    def members(self) -> Iterator[tuple[Any, TrialSpec]]:
        """Each trial's handle and spec."""
        return zip(self.trials, self.specs, strict=True)


@dataclass(frozen=True)
class Ended:
    """A trial that came back: its result and the seconds the driver saw it take (a pack's
    share), or the reason it failed (it raised, or its worker died :data:`MAX_ATTEMPTS`
    times)."""

    trial: Any
    spec: TrialSpec
    result: dict[str, Any] | None = None
    seen: float = 0.0
    failure: str | None = None


def last_line(exc: BaseException) -> str:
    """The last line of an error's text (a remote traceback's is its message)."""
    lines = [line for line in str(exc).strip().splitlines() if line.strip()]
    return lines[-1].strip() if lines else type(exc).__name__


class Scheduler:
    """Trials on Ray workers (see the module docstring)."""

    def __init__(self, *, workers: int, gpus_per_trial: float, relay: bool) -> None:
        self.workers = workers
        self.gpus_per_trial = gpus_per_trial
        self.pruning = relay
        self.running: dict[Any, Running] = {}  # Ray object ref -> trial in flight
        self.idle: list[Any] = []
        self.retries: list[Running] = []  # trials whose worker died, to run again
        self.relay: Any = None
        self.reports: Any = None  # the pending call for the next per-epoch reports

    @property
    def in_flight(self) -> int:
        """How many trials are training now (a pack counts its members)."""
        return sum(len(r.specs) for r in self.running.values())

    @property
    def busy(self) -> bool:
        """Trials are in flight or waiting for a retry."""
        return bool(self.running or self.retries)

    def start(self) -> None:
        self.idle = [self._worker() for _ in range(self.workers)]
        if self.pruning:
            self.relay = start_relay()

    def _worker(self) -> Any:
        return start_worker(threads=1, gpus=self.gpus_per_trial)

    def submit(
        self, trials: list[Any], specs: list[TrialSpec], attempts: int, *, pid: bool = False
    ) -> int | None:
        """Run ``specs`` on an idle worker, one trial or a pack; with ``pid``, returns the
        worker's process id."""
        import ray

        worker = self.idle.pop()
        # Asked before the trials are queued: an actor answers its calls in order.
        number = int(ray.get(worker.pid.remote())) if pid else None
        if len(specs) == 1:
            ref = worker.run.remote(specs[0], self.relay)
        else:
            ref = worker.run_pack.remote(specs, self.relay)
        self.running[ref] = Running(trials, specs, worker, attempts, time.perf_counter())
        return number

    def pack_size(self, spec: TrialSpec) -> tuple[int, str | None]:
        """How many trials like ``spec`` an idle worker packs (``--pack auto``), and None; or
        1 and why, where the worker could not measure it (the trials then run one at a time:
        a failed measurement stops no search)."""
        import ray

        try:
            return int(ray.get(self.idle[-1].pack_size.remote(spec))), None
        except ray.exceptions.RayActorError as exc:
            self.idle[-1] = self._worker()  # it died measuring: a fresh one in its place
            return 1, last_line(exc)
        except (
            ray.exceptions.RayTaskError,
            ray.exceptions.RaySystemError,
            ray.exceptions.UnserializableException,
        ) as exc:
            return 1, last_line(exc)

    def listen(self) -> None:
        """Ask the relay for the next per-epoch reports (none without a pruner)."""
        self.reports = self.relay.next_reports.remote() if self.relay is not None else None

    def waiting(self) -> list[Any]:
        """What :meth:`wait` waits on: the trials in flight and the relay's reports."""
        return list(self.running) + ([self.reports] if self.reports is not None else [])

    def wait(self, timeout: float) -> list[Any]:
        """The refs that are ready within ``timeout`` seconds (at most one)."""
        import ray

        ready, _ = ray.wait(self.waiting(), num_returns=1, timeout=timeout)
        return list(ready)

    def is_reports(self, ref: Any) -> bool:
        return ref is self.reports

    def prune(self, ref: Any, judge: Callable[[Any, int, float], bool]) -> None:
        """Answer the reports ``ref`` carries: ``judge(trial, epoch, value)`` says whether a
        trial stops (one no longer in flight does); then listen for the next."""
        import ray

        decisions = []
        trials = {s.trial: t for r in self.running.values() for t, s in r.members()}
        for key, epoch, value in ray.get(ref):
            if key not in trials:
                decisions.append((key, epoch, True))
                continue
            decisions.append((key, epoch, judge(trials[key], epoch, value)))
        self.relay.decide.remote(decisions)
        self.listen()

    def collect(self, ref: Any) -> list[Ended]:
        """The trials ``ref`` ran (one, or a pack), ended; none when their worker died and
        they wait for a retry."""
        import ray

        running = self.running.pop(ref)
        try:
            results = ray.get(ref)
        except ray.exceptions.RayActorError as exc:
            return self._worker_died(running, exc)
        except (
            ray.exceptions.RayTaskError,
            ray.exceptions.RaySystemError,
            ray.exceptions.UnserializableException,
        ) as exc:  # the trials raised (an error, or one Ray could not carry back): they
            # fail, their worker lives on and the search goes on
            self.idle.append(running.worker)
            return [Ended(t, s, failure=last_line(exc)) for t, s in running.members()]
        self.idle.append(running.worker)
        if len(running.specs) == 1:
            results = [results]
        seen = (time.perf_counter() - running.started) / len(running.specs)
        return [
            Ended(t, s, failure=result[FAILURE])
            if FAILURE in result
            else Ended(t, s, result=result, seen=seen)
            for (t, s), result in zip(running.members(), results, strict=True)
        ]

    def _worker_died(self, running: Running, exc: Exception) -> list[Ended]:
        import ray

        if self.relay is not None:
            for spec in running.specs:
                self.relay.release.remote(spec.trial)
        # A fresh process takes the dead one's place where the cluster has room for it; when
        # its node is gone, the survivors carry on with fewer workers (a replacement would
        # wait for a free CPU that the surviving, long-lived workers never give back).
        free = ray.available_resources().get("CPU", 0.0)
        if free >= 1 or not (self.idle or len(self.running)):
            self.idle.append(self._worker())
        reason = f"its worker process died: {last_line(exc)}"
        if running.attempts < MAX_ATTEMPTS:
            self.retries.append(running)  # first in line for the next idle worker
            return []
        failure = f"{reason} (after {running.attempts} tries)"
        return [Ended(t, s, failure=failure) for t, s in running.members()]

    def stop(self) -> Iterator[tuple[Any, TrialSpec]]:
        """Stop the workers of the trials in flight; yields each of those trials (handle and
        spec), then each waiting for a retry, and forgets them all."""
        import ray

        for running in list(self.running.values()):
            ray.kill(running.worker)
            yield from running.members()
        for running in self.retries:
            yield from running.members()
        self.running.clear()
        self.retries.clear()
