"""The record of a run, read back: its candidate table and its trials, one row each.

Optuna's storage is the record while a run lives; ``trials.parquet`` is its copy in the run
directory (committed reference runs keep only that), so a run directory whose storage is gone
still has its trials (and ``--resume`` rebuilds its study from them, see
:func:`search.driver.rebuild_study`). Readers never write to a storage (see
:func:`open_storage`).

Example:
    >>> as_number("0.25"), as_number(None)
    (0.25, nan)
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import optuna
import pandas as pd

from candidates import UserError, as_candidate_table

from ..rundir import (
    GROWTH_PREFIX,
    STUDY_FILE,
    TRIALS_FILE,
    RunSettings,
    curve_rows,
    growth_summary,
    read_record_file,
    save_curves,
    study_missing,
)
from ._parameter import SEED, candidate_of
from ._study import is_placeholder, open_storage, storage_errors

RESULT_FIELDS = (
    "value",
    "best",
    "val_loss",
    "train_loss_eval",
    "diverged",
    "diverged_step",
    "rejected",
    "stopped_early",
    "steps",
    "total_steps",
    "skipped_steps",
    "epochs",
    "seconds",
    "cpu_seconds",
    "driver_seconds",
    "alpha",
    "shift",
    "parameters",
    "attention_logit_peak",
    "device",
    "pid",
    "node",
    "attempts",
    "fail_reason",
    "retried",
    "duplicate",
)


def as_number(value: Any) -> float:
    if value is None:
        return math.nan
    try:
        return float(value)
    except (TypeError, ValueError):
        return math.nan


def load_trials(studies: Iterable[optuna.Study]) -> pd.DataFrame:
    """One row per trial of the given task studies (waiting ones left out)."""
    rows: list[dict[str, Any]] = []
    for study in studies:
        task = study.user_attrs.get("task", study.study_name)
        direction = "maximize" if study.direction.name == "MAXIMIZE" else "minimize"
        for t in study.get_trials(deepcopy=False):
            if t.state == optuna.trial.TrialState.WAITING or is_placeholder(t):
                continue
            attrs = t.user_attrs
            row: dict[str, Any] = {
                "task": task,
                "number": t.number,
                "candidate_id": candidate_of(t),
                "seed": t.params.get(SEED, attrs.get(SEED)),
                "alpha0": t.params.get("alpha0", attrs.get("alpha0")),
                "state": t.state.name,
                "direction": direction,
                "metric": study.user_attrs.get("metric"),
            }
            result = attrs.get("result", {})
            for name in RESULT_FIELDS:
                row[name] = result.get(name, attrs.get(name))
            row["intermediate"] = json.dumps(
                {str(k): v for k, v in sorted(t.intermediate_values.items())}
            )
            row["curve"] = json.dumps(result.get("curve", []))
            for name, value in growth_summary(result.get("growth", [])).items():
                row[GROWTH_PREFIX + name] = value
            row["datetime_start"] = t.datetime_start
            row["datetime_complete"] = t.datetime_complete
            rows.append(row)
    table = pd.DataFrame(rows)
    if table.empty:
        return table
    for name in (
        "value",
        "best",
        "val_loss",
        "train_loss_eval",
        "seconds",
        "cpu_seconds",
        "attention_logit_peak",
    ):
        table[name] = table[name].map(as_number)
    for name in ("diverged", "rejected", "stopped_early", "retried", "duplicate"):
        table[name] = table[name].fillna(False).astype(bool)
    return table


def load_curves(studies: Iterable[optuna.Study]) -> list[dict[str, Any]]:
    """The growth curves of the given task studies' trials (``curves.parquet``'s rows)."""
    rows: list[dict[str, Any]] = []
    for study in studies:
        task = study.user_attrs.get("task", study.study_name)
        for t in study.get_trials(deepcopy=False):
            growth = t.user_attrs.get("result", {}).get("growth")
            if growth:
                key = {
                    "task": task,
                    "number": t.number,
                    "candidate_id": candidate_of(t),
                    "seed": t.params.get(SEED, t.user_attrs.get(SEED)),
                }
                rows.extend(curve_rows(key, growth))
    return rows


def damaged_hint(settings: RunSettings) -> str:
    """What to do when a run's local study cannot be read: its saved trials are the way out
    (:func:`read_trials` reads them when the study file is not there, and ``--resume``
    rebuilds the study from them)."""
    if settings.storage is not None:
        return ""
    run_dir = settings.run_dir
    return (
        f"; the finished trials are in {run_dir / TRIALS_FILE}: move {STUDY_FILE} aside "
        f"(e.g. to {STUDY_FILE}.damaged) and `derf-search leaderboard {run_dir}` reads them "
        "(`--resume` then rebuilds the study from them)"
    )


def open_studies(run_dir: str | Path) -> list[optuna.Study]:
    """The task studies of a run directory, opened from its storage (read only in spirit)."""
    settings = RunSettings.read(run_dir)
    settings = settings.with_out(run_dir) if settings.storage is None else settings
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    url = settings.storage_url()
    with storage_errors(url, hint=damaged_hint(settings)):
        storage = open_storage(url, reader=True)
        names = {s.study_name for s in optuna.get_all_study_summaries(storage)}
        return [
            optuna.load_study(study_name=settings.study_for(t), storage=storage)
            for t in settings.tasks
            if settings.study_for(t) in names
        ]


def save_trials(run_dir: str | Path, studies: Iterable[optuna.Study]) -> pd.DataFrame:
    """Copy the trials of a run's studies to ``trials.parquet`` (its record without storage),
    and their growth curves to ``curves.parquet``. A copy that would lose a finished trial the
    file holds (the storage was replaced or damaged) is refused and the file kept."""
    studies = list(studies)
    path = Path(run_dir) / TRIALS_FILE
    trials = load_trials(studies)
    lost = _finished_missing(path, trials)
    if lost:
        raise UserError(
            f"the study storage lacks {lost} finished trial(s) that {path} records (was it "
            "replaced or damaged?): that file was kept as it is"
        )
    # the curves first: a crash between the two leaves curves for trials the old copy lacks
    # (ignored by a rebuild), never trials whose curves are missing (lost by a rebuild)
    curves = load_curves(studies)
    if curves:
        save_curves(run_dir, curves)
    partial = path.with_name(path.name + ".partial")
    trials.to_parquet(partial, index=False)
    partial.replace(path)  # atomic: a crash leaves the old copy or the new one, whole
    return trials


def _finished_missing(path: Path, trials: pd.DataFrame) -> int:
    """How many finished trials of the saved copy at ``path`` are not in ``trials``."""
    if not path.is_file():
        return 0
    try:
        saved = pd.read_parquet(path, columns=["task", "number", "state"])
    except Exception:  # a damaged copy has nothing to protect
        return 0
    saved = saved[saved["state"].isin(["COMPLETE", "PRUNED", "FAIL"])]
    if saved.empty:
        return 0
    now = set(zip(trials["task"], trials["number"], strict=True)) if not trials.empty else set()
    return sum(1 for key in zip(saved["task"], saved["number"], strict=True) if key not in now)


def read_candidates(run_dir: str | Path) -> pd.DataFrame:
    """The candidate table of a run directory in the candidate record's schema
    (:data:`candidates.CANDIDATE_COLUMNS`, then a study's extras), whatever version wrote it:
    a column an older run lacks is empty (its rows ran at the default α0, which older runs
    did not record)."""
    path = Path(run_dir) / "candidates.parquet"
    if not path.is_file():
        raise UserError(
            f"{run_dir} has no candidates.parquet: it is not a run directory, or that file was "
            "removed (a run cannot be resumed without it; its trials.parquet still holds the "
            "results)"
        )
    return as_candidate_table(read_record_file(path))


def read_trials(run_dir: str | Path) -> pd.DataFrame:
    """The trials of a run directory: from its study storage when there is one, else from the
    ``trials.parquet`` it wrote last (a committed reference run has no storage)."""
    run_dir = Path(run_dir)
    settings = RunSettings.read(run_dir).with_out(run_dir)
    saved = run_dir / TRIALS_FILE
    if study_missing(settings) and saved.is_file():
        return read_record_file(saved)
    return load_trials(open_studies(run_dir))
