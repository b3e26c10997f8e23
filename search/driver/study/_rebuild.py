"""A run's study rebuilt from its ``trials.parquet``, for ``--resume`` where the local study is
gone (a committed reference run keeps no ``study.db``; a lost or emptied one).

``trials.parquet`` holds what the driver reads back from a study to decide what is done: each
trial's number, state, candidate, seed (and α0), its result and the user attributes the
driver sets; ``curves.parquet`` holds the growth rows of its result. The rebuild writes them
into a new SQLite study per task, under the names, parameters and distributions the driver
uses, and the resume then runs as any other: finished trials are kept, trials that were
running are failed and queued again, pairs never asked are asked. Trial numbers are kept (the
record is keyed by them); a number the file lacks is held by a :data:`PLACEHOLDER` trial,
which no reader sees. A study in a storage given by ``--storage`` is the user's and is never
rebuilt.

Example:
    >>> Rebuilt(trials=1013, queued=1).describe()
    'rebuilt the study from trials.parquet: 1,013 trials (1 queued to run again)'
    >>> storable(float("nan")), storable(float("inf")), storable([1.5, float("-inf")])
    (None, 'inf', [1.5, '-inf'])
"""

from __future__ import annotations

import datetime
import json
import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import optuna
import pandas as pd
from optuna.distributions import (
    BaseDistribution,
    CategoricalDistribution,
    FloatDistribution,
    IntDistribution,
)
from optuna.trial import FrozenTrial, TrialState

from candidates import UserError
from evaluators import get_task

from ..rundir import (
    STUDY_FILE,
    TRIALS_FILE,
    RunSettings,
    read_curves,
    read_record_file,
    trial_names,
)
from ._parameter import CANDIDATE, SEED, CandidateParameter
from ._record import RESULT_FIELDS
from ._sampler import ALPHA0_RANGE
from ._study import (
    PLACEHOLDER,
    is_charged,
    is_placeholder,
    is_retried,
    queue_retry,
    storage_errors,
    trial_key,
)

#: The user attributes the driver sets beside a trial's result (the rest of
#: :data:`RESULT_FIELDS` comes from the result).
TRIAL_ATTRS = ("attempts", "fail_reason", "retried", "duplicate")
#: A saved trial's states that a rebuilt study keeps as they are.
FINISHED = ("COMPLETE", "PRUNED", "FAIL")
#: Saved states of trials that had not finished: failed and queued again on rebuilding.
UNFINISHED = ("RUNNING", "WAITING")


@dataclass(frozen=True)
class Rebuilt:
    """What a rebuild restored: trials from the file, and trials queued to run again."""

    trials: int
    queued: int

    def describe(self) -> str:
        """The line a resume prints."""
        again = f" ({self.queued:,} queued to run again)" if self.queued else ""
        return f"rebuilt the study from {TRIALS_FILE}: {self.trials:,} trials{again}"


def storable(value: Any) -> Any:
    """A value Optuna can store as JSON in a user attribute: nan becomes None and ±inf a
    string (as the driver stores a result), numpy scalars and arrays plain Python."""
    if isinstance(value, np.ndarray):
        value = value.tolist()
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None if math.isnan(value) else str(value)
    if isinstance(value, (list, tuple)):
        return [storable(v) for v in value]
    if isinstance(value, dict):
        return {k: storable(v) for k, v in value.items()}
    return value


def rebuild_study(settings: RunSettings, table: pd.DataFrame) -> Rebuilt:
    """Write the run's studies from its ``trials.parquet`` (and the growth rows of
    ``curves.parquet``) into a new ``study.db``, whole or not at all. ``table`` is the run's
    candidate table (``candidates.parquet``)."""
    out = settings.run_dir
    saved_path = out / TRIALS_FILE
    saved = read_record_file(saved_path)
    table = table.drop_duplicates("candidate_id").set_index("candidate_id")
    keys = [str(k) for k in table.index]
    _check_saved(saved, saved_path, keys, settings)
    growth = _saved_growth(out) if len(saved) else {}
    partial = out / (STUDY_FILE + ".partial")
    partial.unlink(missing_ok=True)
    url = f"sqlite:///{partial}"
    trials = queued = 0
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    try:
        with storage_errors(url):  # a folder SQLite cannot write to (the rest is no user's)
            storage = optuna.storages.RDBStorage(url)
        try:
            for task in settings.tasks:
                rows = saved[saved["task"] == task]
                restorer = _Restorer(settings, task, table, keys, storage, growth)
                trials += len(rows)
                queued += restorer.restore(rows)
        finally:
            storage.engine.dispose()
        os.replace(partial, out / STUDY_FILE)  # a crash leaves no half-made study behind
    finally:
        partial.unlink(missing_ok=True)
    return Rebuilt(trials, queued)


def check_storage_holds_run(storage: optuna.storages.BaseStorage, settings: RunSettings) -> None:
    """Refuse to resume a run whose ``--storage`` holds none of its studies while its
    ``trials.parquet`` records finished trials: the run would begin again (and its saved
    copy would refuse the result). That storage is the user's: it is not rebuilt."""
    names = {s.study_name for s in storage.get_all_studies()}
    if any(settings.study_for(task) in names for task in settings.tasks):
        return
    saved = settings.run_dir / TRIALS_FILE
    if not saved.is_file():
        return
    finished = int(read_record_file(saved, columns=("state",))["state"].isin(FINISHED).sum())
    if finished:
        raise UserError(
            f"the storage {settings.storage} holds no study of this run "
            f"({settings.study_for(settings.tasks[0])}…) but {saved} records {finished:,} "
            "finished trials: a storage given by --storage is yours and is not rebuilt from "
            "that file; resume with the storage that holds the study, or remove `storage` "
            "from config.toml to rebuild it in the run's own study.db; the run was left as it is"
        )


def _check_saved(
    saved: pd.DataFrame, path: Path, keys: Sequence[str], settings: RunSettings
) -> None:
    """Refuse a saved copy that is not this run's record, before anything is written."""
    missing = {"task", "number", "candidate_id", "seed", "state"} - set(saved.columns)
    if missing:
        raise UserError(
            f"{path} has no {', '.join(sorted(missing))} column: it is not a run's trials, so "
            "the study cannot be rebuilt from it"
        )
    if saved.empty:
        return
    tasks = set(saved["task"].astype(str)) - set(settings.tasks)
    others = set(saved["candidate_id"].dropna().astype(str)) - set(keys)
    states = set(saved["state"].astype(str)) - set(FINISHED) - set(UNFINISHED)
    repeated = saved.duplicated(["task", "number"]).any()
    for problem, found in (
        ("tasks this run does not have", tasks),
        ("candidates its candidates.parquet does not list", others),
        ("states Optuna does not know", states),
    ):
        if found:
            raise UserError(
                f"{path} records trials of {problem} ({', '.join(sorted(found)[:3])}): it is "
                "not this run's record, so the study cannot be rebuilt from it"
            )
    if repeated:
        raise UserError(f"{path} records a trial number twice: the study cannot be rebuilt from it")


def _saved_growth(run_dir: Path) -> dict[tuple[str, int], list[list[Any]]]:
    """The growth rows of each saved trial, by (task, number), in their recorded order."""
    if not (run_dir / "curves.parquet").is_file():
        return {}
    curves = read_curves(run_dir)
    columns = [curves[c].tolist() for c in ("step", "signal", "layer", "value")]
    step, signal, layer, value = columns
    growth: dict[tuple[str, int], list[list[Any]]] = {}
    groups: dict[Any, Any] = curves.groupby(["task", "number"], sort=False).indices
    for (task, number), rows in groups.items():  # grouped by two columns: pairs
        growth[(str(task), int(number))] = [
            [int(step[i]), str(signal[i]), str(layer[i]), storable(value[i])] for i in rows
        ]
    return growth


class _Restorer:
    """One task's study, rebuilt trial by trial."""

    def __init__(
        self,
        settings: RunSettings,
        task: str,
        table: pd.DataFrame,
        keys: Sequence[str],
        storage: optuna.storages.BaseStorage,
        growth: Mapping[tuple[str, int], list[list[Any]]],
    ) -> None:
        proxy = get_task(task)
        self.settings, self.task, self.growth = settings, task, growth
        self.table, self.names = table, trial_names(table)
        self.study = optuna.create_study(
            storage=storage, study_name=settings.study_for(task), direction=proxy.direction
        )
        self.study.set_user_attr("task", task)
        self.study.set_user_attr("metric", proxy.metric)
        self.param = CandidateParameter.for_run(keys, storage, self.study.study_name)
        maximize = self.study.direction == optuna.study.StudyDirection.MAXIMIZE
        self.worst = -math.inf if maximize else math.inf  # a diverged run's value
        self.seed_range = IntDistribution(0, max(settings.seeds - 1, 0))

    def restore(self, rows: pd.DataFrame) -> int:
        """Add the task's saved trials under their numbers; returns how many were queued to
        run again (unfinished, or failed with a retry the file did not hold)."""
        # a trial without its candidate or seed (its driver died between ask and suggest)
        # cannot be told apart from a missing number: its pair is asked again either way
        by_number: dict[int, dict[str, Any]] = {
            int(r["number"]): {str(k): v for k, v in r.items()}
            for r in rows.to_dict("records")
            if pd.notna(r["candidate_id"]) and pd.notna(r["seed"])
        }
        seeds = [self.settings.seeds - 1, *(int(r["seed"]) for r in by_number.values())]
        self.seed_range = IntDistribution(0, max(*seeds, 0))
        last = max((int(n) for n in rows["number"]), default=-1)
        self.study.add_trials(
            [
                self._trial(by_number[n]) if n in by_number else _placeholder()
                for n in range(last + 1)
            ]
        )
        return self._queue_missing()

    def _trial(self, row: dict[str, Any]) -> FrozenTrial:
        key, state = str(row["candidate_id"]), str(row["state"])
        params, distributions = self._params(key, row)
        attrs: dict[str, Any] = {"task": self.task, "name": self.names.get(key, key)}
        expression = self.table.at[key, "expression"]
        if isinstance(expression, str):
            attrs["expression"] = expression
        if self.param.indexed:
            attrs[CANDIDATE] = key
        if self.settings.sampler != "grid":
            attrs[SEED] = int(row["seed"])
        for name in TRIAL_ATTRS:
            kept = storable(row.get(name))
            if kept is not None and kept is not False:
                attrs[name] = kept
        intermediate = _intermediate(row.get("intermediate"))
        value: float | None = None
        if state in UNFINISHED:  # failed and queued again, as a resume does with orphans
            state = "FAIL"
            attrs["retried"] = True
            attrs["fail_reason"] = (
                f"{row['state'].lower()} when trials.parquet was written: run again after the "
                "study was rebuilt from it"
            )
        elif state == "COMPLETE" or (state == "PRUNED" and not row.get("duplicate")):
            attrs["result"] = self._result(row)
            if state == "COMPLETE":
                told = storable(row.get("value"))  # None or text where it was not finite
                finite = isinstance(told, (int, float)) and not row.get("diverged")
                value = float(told) if finite else self.worst
        if state == "PRUNED" and intermediate:  # Optuna's own value for a pruned trial
            value = intermediate[max(intermediate)]
        trial = optuna.trial.create_trial(
            state=TrialState[state],
            value=value,
            params=params,
            distributions=distributions,
            user_attrs=attrs,
            intermediate_values=intermediate,
        )
        start, complete = _when(row.get("datetime_start")), _when(row.get("datetime_complete"))
        if start is not None:
            trial.datetime_start = start
        trial.datetime_complete = complete or trial.datetime_start
        return trial

    def _params(
        self, key: str, row: dict[str, Any]
    ) -> tuple[dict[str, Any], dict[str, BaseDistribution]]:
        """The trial's parameters and distributions, as the driver suggests them."""
        params: dict[str, Any] = {}
        distributions: dict[str, BaseDistribution] = {}
        if self.param.indexed:
            params[CANDIDATE] = self.param.keys.index(key)
            distributions[CANDIDATE] = IntDistribution(0, len(self.param.keys) - 1)
        else:
            params[CANDIDATE] = key
            distributions[CANDIDATE] = CategoricalDistribution(self.param.keys)
        if self.settings.sampler == "grid":
            params[SEED] = int(row["seed"])
            distributions[SEED] = self.seed_range
        alpha0 = storable(row.get("alpha0"))
        if alpha0 is not None:  # a parameter of the trial only under --tune-alpha
            params["alpha0"] = float(alpha0)
            distributions["alpha0"] = FloatDistribution(*ALPHA0_RANGE, log=True)
        return params, distributions

    def _result(self, row: dict[str, Any]) -> dict[str, Any]:
        """The result attribute the driver wrote, as far as the file keeps it."""
        result = {
            name: storable(row.get(name)) for name in RESULT_FIELDS if name not in TRIAL_ATTRS
        }
        curve = row.get("curve")
        result["curve"] = json.loads(curve) if isinstance(curve, str) and curve else []
        growth = self.growth.get((self.task, int(row["number"])))
        if growth:
            result["growth"] = growth
        return result

    def _queue_missing(self) -> int:
        """Queue once more each pair whose only trials failed and were marked for a retry
        that the file does not hold (it was waiting: a saved copy leaves those out), and,
        for a sampler of its own choosing, the baselines no trial holds (a new study queues
        them first)."""
        trials = self.study.get_trials(deepcopy=False)
        covered = {trial_key(t) for t in trials if is_charged(t)}
        queued = 0
        for t in trials:
            if is_retried(t) and not is_placeholder(t) and trial_key(t) not in covered:
                queue_retry(self.study, t)
                covered.add(trial_key(t))
                queued += 1
        if self.settings.sampler != "grid":
            for key in (k for k in self.param.keys if self.table.at[k, "kind"] == "baseline"):
                params, attrs = self.param.fixed(key)
                for seed in range(self.settings.seeds):
                    if (key, seed) not in covered:
                        self.study.enqueue_trial(params, user_attrs={**attrs, SEED: seed})
                        queued += 1
        return queued


def _placeholder() -> FrozenTrial:
    """A trial for a number the file lacks: failed, retried (so nothing counts it) and
    marked, so that the record leaves it out."""
    return optuna.trial.create_trial(
        state=TrialState.FAIL,
        user_attrs={
            PLACEHOLDER: True,
            "retried": True,
            "fail_reason": "not in trials.parquet when the study was rebuilt from it",
        },
    )


def _intermediate(text: Any) -> dict[int, float]:
    if not isinstance(text, str) or not text:
        return {}
    return {int(k): float("nan") if v is None else float(v) for k, v in json.loads(text).items()}


def _when(value: Any) -> datetime.datetime | None:
    if value is None or pd.isna(value):
        return None
    return pd.Timestamp(value).to_pydatetime()
