"""`derf-search run`: a search from its first check to its record. Optuna is the record, Ray is
the engine.

The driver (``Driver``) asks each task's study for trials, hands them to long-lived Ray workers,
shows their per-epoch reports to the study's pruner, and tells the study how each trial ended.
It is the only writer of the storage (it holds the run directory's lock and the study's lease),
so a killed driver leaves at most its running trials behind: the next ``--resume`` fails those
and runs them again, and nothing finished is lost or repeated.

Example:
    >>> import tempfile
    >>> out = tempfile.mkdtemp()
    >>> settings = RunSettings(expressions=("x/(1 + abs(x))",), tasks=("digits-vit",), seeds=1,
    ...                        budget="quick", workers=1, out=out, device="cpu")
    >>> summary = run_search(settings, progress=False, max_steps=2)  # doctest: +SKIP
"""

from __future__ import annotations

import contextlib
import shutil
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import optuna
import pandas as pd

from ._check import check_run
from ._driver import SAVE_EVERY_SECONDS, Driver, RunSummary
from .execute import LIBRARY_LOG, TrialSpec, init_ray, library_logs_to
from .rundir import (
    RunSettings,
    hold_run_dir,
    keep_descriptors,
    prepare_run_dir,
    reap,
    study_missing,
)
from .study import (
    Rebuilt,
    StudyLease,
    check_storage_holds_run,
    damaged_hint,
    open_storage,
    read_candidates,
    rebuild_study,
    save_trials,
    storage_errors,
)


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
    checked: bool = False,
    save_every: float = SAVE_EVERY_SECONDS,
) -> RunSummary:
    """Run (or with ``resume`` continue) a search; writes the run directory's record (settings,
    candidates, study, ``trials.parquet``) and returns a summary. The reports (leaderboards,
    plots) are :func:`search.reports.write_outputs`'s, called by the commands.

    ``candidates`` is a new run's candidate table when the caller built it (a study's rows);
    otherwise it comes from the settings. ``on_start(trial_number, spec, worker_pid)`` is
    called as each trial (or retry) starts; ``max_steps`` caps the optimizer steps of every
    trial (for smoke tests). ``checked``: the caller has called :func:`check_run` (the
    commands do, before building their candidates); otherwise it is called here.
    ``save_every``: seconds between copies of the finished trials to ``trials.parquet`` while
    the run runs (the copy at the end is always made).
    """
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    out = settings.run_dir
    if not checked:  # everything that can refuse the run, before anything is written
        check_run(settings, resume=resume)
    # Then the run directory's lock and the study's lease are taken before Ray starts (a
    # second driver is refused at once), and Ray (a cluster that cannot run the trials) before
    # the run's files are written. The folders above --out that this run makes are removed
    # again if it is refused.
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
                    settings, resume, progress, max_steps, on_start, candidates, rebuilt, save_every
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
    save_every: float = SAVE_EVERY_SECONDS


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
    driver = Driver(
        settings,
        table,
        max_steps=request.max_steps,
        on_start=request.on_start,
        save_every=request.save_every,
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
            driver.show_progress()
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
    save_trials(out, driver.studies.studies.values())
    return driver.summary
