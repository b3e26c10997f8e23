"""`derf-search run`: the driver of a search. Optuna is the record, Ray is the engine.

The driver asks each task's study for trials, hands them to long-lived Ray workers, shows their
per-epoch reports to the study's pruner, and tells the study how each trial ended. It is the
only writer of the storage (it holds the run directory's lock and the study's lease), so a
killed driver leaves at most its running trials behind: the next ``--resume`` fails those and
runs them again, and nothing finished is lost or repeated.

Example:
    >>> import tempfile
    >>> out = tempfile.mkdtemp()
    >>> settings = RunSettings(expressions=("x/(1 + abs(x))",), tasks=("digits-vit",), seeds=1,
    ...                        budget="quick", workers=1, out=out, device="cpu")
    >>> summary = run_search(settings, progress=False, max_steps=2)  # doctest: +SKIP
"""

from __future__ import annotations

import contextlib
import math
import shutil
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import optuna
import pandas as pd
from optuna.trial import TrialState

from candidates import Candidate, UserError, guide_matrix, load_grammar
from evaluators import apply_recipe, get_task, parse_recipe

from ._files import study_missing
from ._lease import StudyLease
from ._lock import hold_run_dir
from ._owner import reap
from ._parameter import SEED, CandidateParameter, candidate_of
from ._protocol import LADDER_HORIZON, PROTOCOL_RECIPES, rung_of
from ._rebuild import Rebuilt, check_storage_holds_run, rebuild_study, storable, trial_names
from ._record import damaged_hint, read_candidates, save_trials
from ._run_dir import check_new_run_dir, check_resumable, keep_descriptors, prepare_run_dir
from ._sampler import ALPHA0_RANGE, make_pruner, make_sampler
from ._settings import RunSettings, check_sampler_fits
from ._study import (
    is_charged,
    mark_failed,
    open_storage,
    recover,
    storage_errors,
    trial_key,
)
from ._trial import TrialSpec
from ._workers import LIBRARY_LOG, init_ray, library_logs_to, start_relay, start_worker

#: A trial whose worker dies is run once more on a fresh worker, then failed with its reason.
MAX_ATTEMPTS = 2
#: Consecutive duplicate asks after which a random/TPE sampler is taken to have covered all.
MAX_DUPLICATES = 200
#: The study's user attribute that names the run it belongs to (``RunSettings.fingerprint``).
RUN_ATTR = "run_fingerprint"


@dataclass
class _Running:
    study: optuna.Study
    trial: optuna.trial.Trial
    spec: TrialSpec
    worker: Any
    attempts: int
    started: float


@dataclass
class _Ledger:
    """What a task's study holds, kept in memory: the driver is the storage's only writer, so
    reading it back before every ask (as many as trials, each reading every trial) is waste."""

    waiting: int = 0  # queued trials (retries, baselines) that the next asks will return
    charged: int = 0  # trials counted toward the budget
    covered: set[tuple[str, int]] = field(default_factory=set)  # (candidate, seed) run or running
    seeds: dict[str, list[int]] = field(default_factory=dict)  # candidate -> seeds used

    @classmethod
    def read(cls, study: optuna.Study) -> _Ledger:
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


@dataclass
class RunSummary:
    """How a search ended."""

    run_dir: Path
    finished: int = 0
    pruned: int = 0
    failed: int = 0
    diverged: int = 0
    interrupted: bool = False
    seconds: float = 0.0
    loop_seconds: float = 0.0  # from the first trial handed out to the last one told
    # Per trial: the driver-seen time minus the worker's training time (Ray's dispatch, the
    # result's way back, and a worker's start-up in its first trial) ...
    dispatch_seconds: list[float] = field(default_factory=list)
    # ... and the driver's own asks, reports and tells, during which a worker may wait.
    bookkeeping_seconds: float = 0.0
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


class _Driver:
    def __init__(
        self,
        settings: RunSettings,
        table: pd.DataFrame,
        *,
        progress: bool,
        max_steps: int | None,
        on_start: Callable[[int, TrialSpec, int], None] | None,
    ) -> None:
        self.settings = settings
        # A study's table may list one run under several rows (λ = 0 of several tables).
        self.table = table.drop_duplicates("candidate_id").set_index("candidate_id")
        self.keys = list(self.table.index)
        self.alpha0s = {str(k): float(v) for k, v in self.table["alpha0"].items()}
        # each function's shape descriptors, for the guided sampler
        guided = settings.sampler == "guided"
        shapes = guide_matrix(self.table.reset_index()) if guided else pd.DataFrame()
        self.features = {str(k): list(map(float, row)) for k, row in shapes.iterrows()}
        # a person's name for each key: the catalog's, else the expression (norm layers: the key)
        self.names = trial_names(self.table)
        # the lr-sweep protocol's rung of each run (see search.driver.apply_protocol)
        scales: dict[Any, Any] = dict(self.table.get("lr_scale", pd.Series(dtype=float)))
        self.lr_scales = {str(k): float(v) for k, v in scales.items() if pd.notna(v)}
        # the candidate each protocol rung is a rung of (a norm layer trains by that name)
        self.rung_of = rung_of(self.table.reset_index())
        # the ladder protocol's width of each run, and the changes it makes to every run
        widths: dict[Any, Any] = dict(self.table.get("width", pd.Series(dtype=float)))
        self.widths = {str(k): int(v) for k, v in widths.items() if pd.notna(v)}
        self.horizon = LADDER_HORIZON if settings.protocol == "ladder" else 1.0
        self.protocol_recipe = PROTOCOL_RECIPES.get(settings.protocol, ())
        self.max_steps = max_steps
        self.recipe = tuple(parse_recipe(settings.recipe).items())
        self.on_start = on_start
        self.storage: optuna.storages.BaseStorage | None = None
        self.lease: StudyLease | None = None
        self.studies: dict[str, optuna.Study] = {}
        self.encodings: dict[str, CandidateParameter] = {}  # how each study stores a candidate
        self.ledgers: dict[str, _Ledger] = {}
        self.running: dict[Any, _Running] = {}  # Ray object ref -> trial in flight
        self.idle: list[Any] = []
        self.retries: list[_Running] = []  # trials whose worker died, to run again
        self.relay: Any = None
        self.summary = RunSummary(settings.run_dir)
        self.duplicates = 0
        self.values: dict[str, dict[str, list[float]]] = {}  # task -> candidate -> metrics
        self.started = time.perf_counter()
        self.progress = _Progress(self) if progress else None
        self._next_key = 0

    # --- studies -----------------------------------------------------------------------------

    def open_studies(self, storage: optuna.storages.BaseStorage, lease: StudyLease) -> None:
        """Open (or create) each task's study; ``lease`` is held, so trials left running are
        a dead driver's orphans and are queued again."""
        self.storage, self.lease = storage, lease
        with storage_errors(self.settings.storage_url()):
            self._open_tasks(storage)

    def _claim(self, study: optuna.Study) -> None:
        """Mark ``study`` as this run's (its settings and candidates, as a fingerprint), or
        refuse it if it is another run's: a storage and a study name given twice must not
        show one run's trials under another's settings."""
        mark = self.settings.fingerprint(self.keys)
        owner = study.user_attrs.get(RUN_ATTR)
        if owner is None:  # new, or written before studies were marked
            study.set_user_attr(RUN_ATTR, mark)
        elif owner != mark:
            raise UserError(
                f"the storage {self.settings.storage_url()} already holds a study "
                f"{study.study_name!r} of another run (other candidates or training settings): "
                "choose another --study-name, or resume that run with --resume"
            )

    def _open_tasks(self, storage: optuna.storages.BaseStorage) -> None:
        for name in self.settings.tasks:
            task = get_task(name)
            epochs = apply_recipe(task, self.settings.budget, dict(self.recipe))[1].epochs
            study_name = self.settings.study_for(name)
            param = CandidateParameter.for_run(self.keys, storage, study_name)
            study = optuna.create_study(
                storage=storage,
                study_name=study_name,
                direction=task.direction,
                sampler=make_sampler(
                    self.settings.sampler,
                    self.keys,
                    self.settings.seeds,
                    self.features,
                    indexed=param.indexed,
                ),
                pruner=make_pruner(self.settings.pruner, epochs),
                load_if_exists=True,
            )
            fresh = not study.get_trials(deepcopy=False)
            self._claim(study)
            if fresh:
                study.set_user_attr("task", name)
                study.set_user_attr("metric", task.metric)
                if self.settings.sampler != "grid":
                    # The baselines are always evaluated, whatever a sampler would pick.
                    for key in (k for k in self.keys if self.table.at[k, "kind"] == "baseline"):
                        params, attrs = param.fixed(key)
                        for seed in range(self.settings.seeds):
                            study.enqueue_trial(params, user_attrs={**attrs, SEED: seed})
            recover(storage, study)
            self.studies[name] = study
            self.encodings[name] = param
            self.ledgers[name] = _Ledger.read(study)
            for t in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,)):
                if not t.user_attrs.get("result", {}).get("diverged"):
                    values = self.values.setdefault(name, {})
                    values.setdefault(str(candidate_of(t)), []).append(float(t.values[0]))

    def _limit(self) -> int:
        return self.settings.max_trials or len(self.keys) * self.settings.seeds

    def _has_work(self, ledger: _Ledger) -> bool:
        if ledger.waiting:
            return True
        if ledger.charged >= self._limit():
            return False
        return (
            self.settings.tune_alpha or len(ledger.covered) < len(self.keys) * self.settings.seeds
        )

    def _free_seed(self, ledger: _Ledger, key: str) -> int | None:
        used = ledger.seeds.get(key, [])
        if self.settings.tune_alpha:
            return len(used) % self.settings.seeds
        free = sorted(set(range(self.settings.seeds)) - set(used))
        return free[0] if free else None

    def ask(self, task: str) -> tuple[optuna.trial.Trial, TrialSpec] | None:
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
            row = self.table.loc[key]
            function = row["expression"] if isinstance(row["expression"], str) else None
            alpha0 = self.settings.alpha0
            if alpha0 is None:  # each row's own template
                alpha0 = self.alpha0s[key]
            if self.settings.tune_alpha and function is not None:
                alpha0 = trial.suggest_float("alpha0", *ALPHA0_RANGE, log=True)
            trial.set_user_attr("task", task)
            # what optuna-dashboard shows beside the parameter (the key, or a large pool's index)
            trial.set_user_attr("name", self.names[key])
            if function is not None:
                trial.set_user_attr("expression", function)
            spec = TrialSpec(
                trial=self._new_key(),
                task=task,
                # a function goes by its expression in its row's template; a norm layer by name
                candidate=function if function is not None else self.rung_of.get(key, key),
                shift=str(row["shift"]),
                seed=seed,
                budget=self.settings.budget,
                alpha0=alpha0,
                device=self.settings.device,
                max_steps=self.max_steps,
                recipe=self.recipe
                + self.protocol_recipe
                + ((("width", self.widths[key]),) if key in self.widths else ()),
                lr_scale=self.lr_scales.get(key, 1.0),
                horizon=self.horizon,
            )
            return trial, spec
        return None

    def _new_key(self) -> int:
        self._next_key += 1
        return self._next_key

    # --- execution ---------------------------------------------------------------------------

    def start(self) -> None:
        self.idle = [self._worker() for _ in range(self.settings.workers)]
        if self.settings.pruner != "none":
            self.relay = start_relay()

    def _worker(self) -> Any:
        return start_worker(threads=1, gpus=self.settings.gpus_per_trial)

    def submit(
        self, study: optuna.Study, trial: optuna.trial.Trial, spec: TrialSpec, attempts: int
    ) -> None:
        import ray

        worker = self.idle.pop()
        trial.set_user_attr("attempts", attempts)
        # Asked before the trial is queued: an actor answers its calls in order.
        pid = int(ray.get(worker.pid.remote())) if self.on_start is not None else None
        ref = worker.run.remote(spec, self.relay)
        self.running[ref] = _Running(study, trial, spec, worker, attempts, time.perf_counter())
        if self.on_start is not None and pid is not None:
            self.on_start(trial.number, spec, pid)

    def fill(self) -> None:
        """Give every idle worker a trial, taking tasks in turn."""
        timed_out = (
            self.settings.timeout is not None
            and time.perf_counter() - self.started > self.settings.timeout
        )
        while self.idle and self.retries:
            retry = self.retries.pop(0)
            self.submit(retry.study, retry.trial, retry.spec, retry.attempts + 1)
        exhausted: set[str] = set()
        while self.idle and not timed_out and len(exhausted) < len(self.studies):
            for task in self.studies:
                if not self.idle or task in exhausted:
                    continue
                tick = time.perf_counter()
                asked = self.ask(task)
                self.summary.bookkeeping_seconds += time.perf_counter() - tick
                if asked is None:
                    exhausted.add(task)
                    continue
                trial, spec = asked
                attempts = int(trial.user_attrs.get("attempts", 0)) + 1
                self.submit(self.studies[task], trial, spec, attempts)

    def loop(self, stop: threading.Event) -> None:
        import ray

        reports: Any = self.relay.next_reports.remote() if self.relay is not None else None
        start = time.perf_counter()
        self.fill()
        while (self.running or self.retries) and not stop.is_set():
            if self.lease is not None:
                self.lease.beat()
            waiting = list(self.running) + ([reports] if reports is not None else [])
            if not waiting:  # only retries, waiting for a worker: fill() below hands them out
                self.fill()
                continue
            ready, _ = ray.wait(waiting, num_returns=1, timeout=1.0)
            for ref in ready:
                if ref is reports:
                    self._prune(ray.get(ref))
                    reports = self.relay.next_reports.remote()
                else:
                    tick = time.perf_counter()
                    self._finish(ref)
                    self.summary.bookkeeping_seconds += time.perf_counter() - tick
            if not stop.is_set():
                self.fill()
            if self.progress is not None:  # after the refill: the count of trials in flight
                self.progress.show()
        self.summary.loop_seconds = time.perf_counter() - start

    def _prune(self, reports: list[tuple[int, int, float]]) -> None:
        decisions = []
        for key, epoch, value in reports:
            running = next((r for r in self.running.values() if r.spec.trial == key), None)
            if running is None:
                decisions.append((key, epoch, True))
                continue
            if math.isfinite(value):
                running.trial.report(value, epoch)
            decisions.append((key, epoch, bool(running.trial.should_prune())))
        self.relay.decide.remote(decisions)

    def _finish(self, ref: Any) -> None:
        import ray

        running = self.running.pop(ref)
        study, trial = running.study, running.trial
        try:
            result = ray.get(ref)
        except ray.exceptions.RayActorError as exc:
            self._worker_died(running, exc)
            return
        except (
            ray.exceptions.RayTaskError,
            ray.exceptions.RaySystemError,
            ray.exceptions.UnserializableException,
        ) as exc:  # the trial raised (an error, or one Ray could not carry back): the trial
            # fails, its worker lives on and the search goes on
            self.idle.append(running.worker)
            trial.set_user_attr("fail_reason", _last_line(exc))
            study.tell(trial, state=TrialState.FAIL)
            self.summary.failed += 1
            self._update()
            return
        self.idle.append(running.worker)
        seen = time.perf_counter() - running.started
        self.summary.dispatch_seconds.append(seen - float(result["seconds"]))
        # One attribute, one write: the driver's time per trial is the workers' idle time.
        trial.set_user_attr("result", storable({**result, "driver_seconds": seen}))
        worst = -math.inf if study.direction == optuna.study.StudyDirection.MAXIMIZE else math.inf
        if result["stopped_early"]:
            study.tell(trial, state=TrialState.PRUNED)
            self.summary.pruned += 1
        elif result["diverged"] or not math.isfinite(float(result["value"])):
            study.tell(trial, worst)  # a diverged run is a result: the worst one
            self.summary.diverged += 1
            self.summary.finished += 1
        else:
            study.tell(trial, float(result["value"]))
            self.summary.finished += 1
            task_values = self.values.setdefault(running.spec.task, {})
            task_values.setdefault(str(candidate_of(trial)), []).append(result["value"])
        self._update()

    def _worker_died(self, running: _Running, exc: Exception) -> None:
        import ray

        if self.relay is not None:
            self.relay.release.remote(running.spec.trial)
        # A fresh process takes the dead one's place where the cluster has room for it; when
        # its node is gone, the survivors carry on with fewer workers (a replacement would
        # wait for a free CPU that the surviving, long-lived workers never give back).
        free = ray.available_resources().get("CPU", 0.0)
        if free >= 1 or not (self.idle or len(self.running)):
            self.idle.append(self._worker())
        reason = f"its worker process died: {_last_line(exc)}"
        if running.attempts < MAX_ATTEMPTS:
            self.retries.append(running)  # first in line for the next idle worker
            return
        running.trial.set_user_attr("fail_reason", f"{reason} (after {running.attempts} tries)")
        running.study.tell(running.trial, state=TrialState.FAIL)
        self.summary.failed += 1
        self._update()

    def interrupt(self) -> None:
        """Ctrl-C: stop the workers, fail the running trials and queue them for --resume."""
        import ray

        assert self.storage is not None  # the studies are open while trials run
        for running in list(self.running.values()):
            ray.kill(running.worker)
            mark_failed(
                self.storage, running.study, running.trial.number, "interrupted", retry=True
            )
        for retry in self.retries:
            mark_failed(self.storage, retry.study, retry.trial.number, "interrupted", retry=True)
        self.running.clear()
        self.retries.clear()
        self.summary.interrupted = True

    def _update(self) -> None:
        if self.progress is not None:
            self.progress.update()

    def close(self) -> None:
        if self.progress is not None:
            self.progress.close()
        if self.lease is not None:
            self.lease.release()


class _Progress:
    """One bar over all tasks: done/running/pruned/failed counts, ETA and the current top 3."""

    def __init__(self, driver: _Driver) -> None:
        from tqdm.auto import tqdm

        self.driver = driver
        total = sum(
            min(driver._limit(), len(driver.keys) * driver.settings.seeds)
            for _ in driver.settings.tasks
        )
        done = sum(
            1
            for study in driver.studies.values()
            for t in study.get_trials(deepcopy=False)
            if is_charged(t) and t.state.is_finished()
        )
        self.bar = tqdm(total=total, initial=done, desc="trials", unit="trial", dynamic_ncols=True)

    def update(self) -> None:
        """A trial finished."""
        self.bar.update(1)
        self.show()

    def show(self) -> None:
        """The counts as they are now (tqdm redraws at most every 0.1 s)."""
        s = self.driver.summary
        text = (
            f"running {len(self.driver.running)} pruned {s.pruned} failed {s.failed} "
            f"diverged {s.diverged} | top: {_top3(self.driver)}"
        )
        if text != self.bar.postfix:
            self.bar.set_postfix_str(text, refresh=False)
            self.bar.refresh()

    def close(self) -> None:
        self.bar.close()


def _top3(driver: _Driver) -> str:
    """The best three of the first task by mean so far (from memory: no storage reads)."""
    task = driver.settings.tasks[0]
    values = driver.values.get(task, {})
    if not values:
        return "-"
    sign = -1.0 if driver.studies[task].direction.name == "MAXIMIZE" else 1.0
    means = {key: sum(v) / len(v) for key, v in values.items()}
    best = sorted(means, key=lambda key: sign * means[key])[:3]
    return ", ".join(driver.names.get(k, k) for k in best)


def _last_line(exc: BaseException) -> str:
    lines = [line for line in str(exc).strip().splitlines() if line.strip()]
    return lines[-1].strip() if lines else type(exc).__name__


@contextlib.contextmanager
def _stop_on_signals() -> Iterator[threading.Event]:
    """Ctrl-C and SIGTERM ask the driver to stop cleanly. Our own handler, set after Ray's start,
    so that neither Ray's handlers nor an inherited 'ignore' decide what Ctrl-C does."""
    stop = threading.Event()
    if threading.current_thread() is not threading.main_thread():
        yield stop
        return
    previous = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
    for sig in previous:
        signal.signal(sig, lambda signum, frame: stop.set())
    try:
        yield stop
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def run_search(
    settings: RunSettings,
    *,
    resume: bool = False,
    progress: bool = True,
    max_steps: int | None = None,
    on_start: Callable[[int, TrialSpec, int], None] | None = None,
    candidates: pd.DataFrame | None = None,
) -> RunSummary:
    """Run (or with ``resume`` continue) a search; writes the run directory's record (settings,
    candidates, study, ``trials.parquet``) and returns a summary. The reports (leaderboards,
    plots) are :func:`search.reports.write_outputs`'s, called by the commands.

    ``candidates`` is a new run's candidate table when the caller built it (a study's rows);
    otherwise it comes from the settings. ``on_start(trial_number, spec, worker_pid)`` is
    called as each trial (or retry) starts; ``max_steps`` caps the optimizer steps of every
    trial (for smoke tests).
    """
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    out = settings.run_dir
    _refuse_early(settings, resume=resume)
    # the folders above --out that this run makes, removed again if it is refused
    above = [folder for folder in out.parents if not folder.exists()]
    try:
        out.mkdir(parents=True)
        made = True
    except FileExistsError:
        made = False
    locked = False
    try:
        with hold_run_dir(out) as previous:
            locked = True
            if previous is not None:  # its driver was killed: what its Ray left is stopped
                reap(previous)
            rebuilt = None
            if resume and study_missing(settings):  # checked: its trials.parquet is readable
                rebuilt = rebuild_study(settings, read_candidates(out))
                print(rebuilt.describe(), file=sys.stderr)
            url = settings.storage_url()
            with storage_errors(url, hint=damaged_hint(settings) if resume else ""):
                storage = open_storage(url)
                if resume and settings.storage is not None:
                    check_storage_holds_run(storage, settings)
                lease = StudyLease(storage, settings.study_name)
                lease.acquire()
            try:
                request = _Request(
                    settings, resume, progress, max_steps, on_start, candidates, rebuilt
                )
                return _with_ray(request, storage, lease)
            finally:
                lease.release()
    except BaseException:
        # A new run that failed before its settings were written leaves no half-made folder
        # (which would block the next try); a run that started keeps its record, and a driver
        # refused the lock touches nothing (the files are the holder's).
        if locked and not resume and not (out / "config.toml").exists():
            _empty(out, remove=made)
            for folder in above:  # innermost first; one that is not empty stays
                with contextlib.suppress(OSError):
                    folder.rmdir()
        raise


def _refuse_early(settings: RunSettings, *, resume: bool) -> None:
    """Everything that can refuse the run, asked before anything is written: the folder and
    a storage given by URL. (Then the run directory's lock and the study's lease are taken
    before Ray starts, so a second driver is refused at once, and Ray, a cluster that cannot
    run the trials, before the run's files are written.)"""
    if resume:
        check_resumable(settings)
    else:
        check_new_run_dir(settings)
        # a mistyped function or grammar is refused now, not after Ray has started
        for text in settings.expressions:
            Candidate.from_text(text)
        if settings.grammar is not None:
            load_grammar(settings.grammar)
        if settings.grammar is not None or settings.candidates_dir is not None:
            check_sampler_fits(settings.sampler, settings.max_candidates, up_to=True)
    if settings.storage is not None:
        given = open_storage(settings.storage)
        if not resume:  # a new run does not take over a study another run made
            names = {settings.study_for(task) for task in settings.tasks}
            taken = sorted(names & {s.study_name for s in given.get_all_studies()})
            if taken:
                raise UserError(
                    f"the storage {settings.storage} already holds the study {taken[0]!r} "
                    "(another run's, or this one's begun elsewhere): choose another "
                    "--study-name, or resume the run it belongs to with --resume"
                )


def _empty(folder: Path, *, remove: bool) -> None:
    """Remove what a refused new run wrote in ``folder`` (found empty by the checks), and the
    folder itself if the run made it."""
    if remove:
        shutil.rmtree(folder, ignore_errors=True)
        return
    for child in folder.iterdir():
        if child.is_dir() and not child.is_symlink():
            shutil.rmtree(child, ignore_errors=True)
        else:
            child.unlink(missing_ok=True)


@dataclass(frozen=True)
class _Request:
    """What :func:`run_search` was asked."""

    settings: RunSettings
    resume: bool
    progress: bool
    max_steps: int | None
    on_start: Callable[[int, TrialSpec, int], None] | None
    candidates: pd.DataFrame | None
    rebuilt: Rebuilt | None = None


def _with_ray(
    request: _Request, storage: optuna.storages.BaseStorage, lease: StudyLease
) -> RunSummary:
    """The run on Ray, the lock and the lease held: Ray started here ends here."""
    settings = request.settings
    with library_logs_to(settings.run_dir / LIBRARY_LOG):
        started = init_ray(
            address=settings.ray_address,
            workers=settings.workers,
            gpus_per_trial=settings.gpus_per_trial,
        )
        try:
            return _drive(request, storage, lease)
        finally:
            if started:  # this run's own Ray: its processes end with the run
                import ray

                ray.shutdown()


def _drive(
    request: _Request, storage: optuna.storages.BaseStorage, lease: StudyLease
) -> RunSummary:
    """The run itself: the candidates, the studies, the loop."""
    settings, out = request.settings, request.settings.run_dir
    chosen = (
        None
        if request.resume
        else prepare_run_dir(settings, table=request.candidates, progress=request.progress)
    )
    table = read_candidates(out) if chosen is None else chosen.table
    if chosen is None and settings.sampler == "guided":
        table = keep_descriptors(out, table, progress=request.progress)
    driver = _Driver(
        settings, table, progress=False, max_steps=request.max_steps, on_start=request.on_start
    )
    if chosen is not None:
        driver.summary.reused = chosen.reused
        driver.summary.checked = chosen.checked
        driver.summary.check_seconds = chosen.check_seconds
        driver.summary.merged = chosen.merged
    driver.summary.rebuilt = request.rebuilt
    try:
        driver.open_studies(storage, lease)
        if request.progress:
            driver.progress = _Progress(driver)
        with _stop_on_signals() as stop:
            driver.start()
            driver.loop(stop)
            if stop.is_set():
                driver.interrupt()
    except KeyboardInterrupt:
        driver.interrupt()
    finally:
        driver.close()
    driver.summary.seconds = time.perf_counter() - driver.started
    save_trials(out, driver.studies.values())
    return driver.summary
