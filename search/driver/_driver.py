"""The driver of a search, composed of its three rooms' parts: the run's candidates
(:class:`~search.driver.rundir.RunPool`), its studies
(:class:`~search.driver.study.TaskStudies`) and the Ray workers
(:class:`~search.driver.execute.Scheduler`). It asks the studies for trials, hands them to the
workers, shows their per-epoch reports to the pruners and tells the studies how each ended.

With ``--pack K`` it asks a task's study for K trials at a time and hands them to one worker,
which trains them as one batched model: Optuna still sees one trial per (candidate, seed),
asked and told one by one. Only trials that can share a model's shape and schedule are packed
together (:func:`~search.driver.execute.pack_key`); one asked beside another kind waits, asked,
for the next pack of its kind.

Example:
    >>> RunSummary(Path("results/run")).finished
    0
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import optuna
import pandas as pd

from .execute import Ended, Scheduler, TrialSpec, pack_key
from .rundir import RunPool, RunSettings
from .study import Asked, Rebuilt, StudyLease, TaskStudies, save_trials

#: How many packs' worth of trials of other kinds a task may hold, asked and waiting, while a
#: pack of one kind is filled (a ladder's widths, say): asking stays ahead of running by little.
HELD_PACKS = 4
#: How often a running search copies its finished trials to ``trials.parquet`` (seconds): the
#: run directory's record stays readable while it runs (a leaderboard, ``predict --from``, a
#: commit of the results), and a study storage lost mid-run costs at most this much of it,
#: since ``--resume`` rebuilds a missing study from that file. The copy is cheap beside it.
SAVE_EVERY_SECONDS = 300.0


@dataclass
class RunSummary:
    """How a search ended."""

    run_dir: Path
    finished: int = 0
    pruned: int = 0
    failed: int = 0
    diverged: int = 0
    packed: int = 0  # trials handed out in packs of two or more (--pack), retries included
    interrupted: bool = False
    seconds: float = 0.0
    loop_seconds: float = 0.0  # from the first trial handed out to the last one told
    # Per trial: the driver-seen time minus the worker's training time (Ray's dispatch, the
    # result's way back, and a worker's start-up in its first trial) ...
    dispatch_seconds: list[float] = field(default_factory=list)
    # ... and the driver's own asks, reports and tells, during which a worker may wait.
    bookkeeping_seconds: float = 0.0
    saves: int = 0  # copies of the trials to trials.parquet while the run ran (SAVE_EVERY_SECONDS)
    # Preparing a new run's candidates (all 0 on --resume, which reads them back, and when
    # the caller built the table): rows taken as they are from a generate directory,
    # functions parsed and checked here (the baselines', a catalog's, --expr), and the
    # seconds that checking took.
    reused: int = 0
    checked: int = 0
    check_seconds: float = 0.0
    merged: tuple[tuple[str, str], ...] = ()  # asked texts run as another row (CandidateSet)
    # A --resume whose study.db was gone: what was rebuilt from trials.parquet.
    rebuilt: Rebuilt | None = None


class Driver:
    """One run's driver: the only writer of its studies while it holds their lease."""

    def __init__(
        self,
        settings: RunSettings,
        table: pd.DataFrame,
        *,
        max_steps: int | None,
        on_start: Callable[[int, TrialSpec, int], None] | None,
        save_every: float = SAVE_EVERY_SECONDS,
    ) -> None:
        self.settings = settings
        self.pool = RunPool(settings, table)
        self.studies = TaskStudies(settings, self.pool)
        self.scheduler = Scheduler(
            workers=settings.workers,
            gpus_per_trial=settings.gpus_per_trial,
            relay=settings.pruner != "none",
        )
        self.max_steps = max_steps
        self.on_start = on_start
        self.lease: StudyLease | None = None
        self.summary = RunSummary(settings.run_dir)
        self.started = time.perf_counter()
        self.progress: _Progress | None = None
        self._next_key = 0
        # trials asked of a study and not yet handed out: each waits for a pack of its kind
        self.held: dict[str, list[tuple[optuna.trial.Trial, TrialSpec]]] = {}
        self.pack_sizes: dict[tuple[object, ...], int] = {}
        self.save_every = save_every
        self._saved_at = time.perf_counter()
        self._unsaved = 0  # trials ended since the last copy to trials.parquet
        self._save_refused = False

    def open_studies(self, storage: optuna.storages.BaseStorage, lease: StudyLease) -> None:
        """Open (or create) each task's study; ``lease`` is held, so trials left running are
        a dead driver's orphans and are queued again."""
        self.lease = lease
        self.studies.open(storage)

    def show_progress(self) -> None:
        """One bar over all tasks from now on."""
        self.progress = _Progress(self)

    def start(self) -> None:
        self.scheduler.start()

    # --- the loop ----------------------------------------------------------------------------

    def _spec(self, task: str, asked: Asked) -> TrialSpec:
        self._next_key += 1
        key = asked.key
        return TrialSpec(
            trial=self._next_key,
            task=task,
            candidate=self.pool.trained_as(key),
            shift=self.pool.shift(key),
            seed=asked.seed,
            budget=self.settings.budget,
            alpha0=asked.alpha0,
            device=self.settings.device,
            max_steps=self.max_steps,
            recipe=self.pool.recipe_of(key),
            lr_scale=self.pool.lr_scale(key),
            horizon=self.pool.horizon,
        )

    def submit(
        self, trials: list[optuna.trial.Trial], specs: list[TrialSpec], attempts: int
    ) -> None:
        """Hand one trial, or a pack of them, to an idle worker."""
        for trial in trials:
            trial.set_user_attr("attempts", attempts)
        if len(trials) > 1:
            self.summary.packed += len(trials)
        pid = self.scheduler.submit(trials, specs, attempts, pid=self.on_start is not None)
        if self.on_start is not None and pid is not None:
            for trial, spec in zip(trials, specs, strict=True):
                self.on_start(trial.number, spec, pid)

    def fill(self) -> None:
        """Give every idle worker a trial (or a pack), taking tasks in turn."""
        scheduler = self.scheduler
        timed_out = (
            self.settings.timeout is not None
            and time.perf_counter() - self.started > self.settings.timeout
        )
        while scheduler.idle and scheduler.retries:
            retry = scheduler.retries.pop(0)
            self.submit(retry.trials, retry.specs, retry.attempts + 1)
        if timed_out:  # no new trial starts: those asked and held wait for --resume
            self._release_held()
            return
        exhausted: set[str] = set()
        while scheduler.idle and len(exhausted) < len(self.studies.studies):
            for task in self.studies.studies:
                if not scheduler.idle or task in exhausted:
                    continue
                pack = self._next_pack(task)
                if not pack:
                    exhausted.add(task)
                    continue
                trials = [trial for trial, _ in pack]
                # a pack is tried as often as its least tried trial may be (one queued again
                # after an interruption keeps its count; the others start afresh)
                attempts = min(int(t.user_attrs.get("attempts", 0)) for t in trials) + 1
                self.submit(trials, [spec for _, spec in pack], attempts)

    def _next_pack(self, task: str) -> list[tuple[optuna.trial.Trial, TrialSpec]]:
        """The next trials of ``task`` for one worker: a held one first, then asked ones of its
        kind up to its pack size. An asked trial of another kind is held for a later pack (at
        most :data:`HELD_PACKS` packs' worth)."""
        held = self.held.setdefault(task, [])
        first = held.pop(0) if held else self._ask(task)
        if first is None:
            return []
        pack = [first]
        key = pack_key(first[1])
        size = self._pack_size(first[1])
        for item in [h for h in held if pack_key(h[1]) == key][: size - 1]:
            held.remove(item)
            pack.append(item)
        while len(pack) < size and len(held) < HELD_PACKS * size:
            asked = self._ask(task)
            if asked is None:
                break
            (pack if pack_key(asked[1]) == key else held).append(asked)
        return pack

    def _ask(self, task: str) -> tuple[optuna.trial.Trial, TrialSpec] | None:
        tick = time.perf_counter()
        asked = self.studies.ask(task)
        self.summary.bookkeeping_seconds += time.perf_counter() - tick
        return None if asked is None else (asked.trial, self._spec(task, asked))

    def _pack_size(self, spec: TrialSpec) -> int:
        """``--pack``: the count given, or (auto) what a worker says trials like ``spec``
        fit on its device, asked once per kind."""
        pack = self.settings.pack
        if pack != "auto":
            return int(pack)
        key = pack_key(spec)
        if key not in self.pack_sizes:
            size, failure = self.scheduler.pack_size(spec)
            if failure is not None:
                print(
                    f"--pack auto: measuring a pack of {spec.task} failed ({failure}); its "
                    "trials run one at a time",
                    file=sys.stderr,
                )
            self.pack_sizes[key] = size
        return self.pack_sizes[key]

    def loop(self, stop: threading.Event) -> None:
        scheduler = self.scheduler
        scheduler.listen()
        start = time.perf_counter()
        self.fill()
        while scheduler.busy and not stop.is_set():
            if self.lease is not None:
                self.lease.beat()
            if not scheduler.waiting():  # only retries, waiting for a worker: fill() hands them out
                self.fill()
                continue
            for ref in scheduler.wait(timeout=1.0):
                if scheduler.is_reports(ref):
                    scheduler.prune(ref, self.studies.should_prune)
                else:
                    tick = time.perf_counter()
                    for ended in scheduler.collect(ref):
                        self._finish(ended)
                    self._save_now_and_then()
                    self.summary.bookkeeping_seconds += time.perf_counter() - tick
            if not stop.is_set():
                self.fill()
            if self.progress is not None:  # after the refill: the count of trials in flight
                self.progress.show()
        self.summary.loop_seconds = time.perf_counter() - start

    def _save_now_and_then(self) -> None:
        """Copy the trials to ``trials.parquet`` when ``save_every`` seconds
        (:data:`SAVE_EVERY_SECONDS`) have passed since the last copy and a trial has ended
        since. A copy the record refuses (the storage lost trials the file holds) or the disk
        does not take is said once and not tried again; the run goes on (its study holds every
        trial), and its last copy, at the end, fails as it would have."""
        if not self._unsaved or self._save_refused:
            return
        if time.perf_counter() - self._saved_at < self.save_every:
            return
        try:
            save_trials(self.settings.run_dir, self.studies.studies.values())
        except Exception as exc:  # refused, a full or read-only folder, a busy storage: the
            # copy is a convenience, and the study still holds every trial
            self._save_refused = True
            print(f"warning: trials.parquet not updated while running: {exc}", file=sys.stderr)
            return
        self._saved_at = time.perf_counter()
        self._unsaved = 0
        self.summary.saves += 1

    def _finish(self, ended: Ended) -> None:
        self._unsaved += 1
        task, trial = ended.spec.task, ended.trial
        if ended.failure is not None or ended.result is None:
            self.studies.fail(task, trial, ended.failure or "no result")
            self.summary.failed += 1
        else:
            self.summary.dispatch_seconds.append(ended.seen - float(ended.result["seconds"]))
            told = self.studies.tell(task, trial, ended.result, ended.seen)
            if told == "pruned":
                self.summary.pruned += 1
            elif told == "diverged":
                self.summary.diverged += 1
                self.summary.finished += 1
            else:
                self.summary.finished += 1
        if self.progress is not None:
            self.progress.update()

    def interrupt(self) -> None:
        """Ctrl-C: stop the workers, fail the running trials and queue them for --resume."""
        for trial, spec in self.scheduler.stop():
            self.studies.interrupted(spec.task, trial)
        self._release_held()
        self.summary.interrupted = True

    def _release_held(self) -> None:
        """The trials asked and not yet started: failed, and queued for ``--resume``."""
        for task, held in self.held.items():
            for trial, _ in held:
                self.studies.interrupted(task, trial)
            held.clear()

    def close(self) -> None:
        if self.progress is not None:
            self.progress.close()
        if self.lease is not None:
            self.lease.release()


class _Progress:
    """One bar over all tasks: done/running/pruned/failed counts, ETA and the current top 3."""

    def __init__(self, driver: Driver) -> None:
        from tqdm.auto import tqdm

        self.driver = driver
        studies = driver.studies
        total = sum(
            min(studies.limit(), len(driver.pool.keys) * driver.settings.seeds)
            for _ in driver.settings.tasks
        )
        done = studies.done()
        self.bar = tqdm(total=total, initial=done, desc="trials", unit="trial", dynamic_ncols=True)

    def update(self) -> None:
        """A trial finished."""
        self.bar.update(1)
        self.show()

    def show(self) -> None:
        """The counts as they are now (tqdm redraws at most every 0.1 s)."""
        s = self.driver.summary
        text = (
            f"running {self.driver.scheduler.in_flight} pruned {s.pruned} failed {s.failed} "
            f"diverged {s.diverged} | top: {self._top3()}"
        )
        if text != self.bar.postfix:
            self.bar.set_postfix_str(text, refresh=False)
            self.bar.refresh()

    def _top3(self) -> str:
        """The best three of the first task by mean so far (from memory: no storage reads)."""
        driver = self.driver
        best = driver.studies.leaders(driver.settings.tasks[0])
        return ", ".join(driver.pool.names.get(k, k) for k in best) if best else "-"

    def close(self) -> None:
        self.bar.close()
