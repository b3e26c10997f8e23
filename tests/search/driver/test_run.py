"""`derf-search run` with real Ray, real Optuna storages and real (short) trainings: the
run directory, the trials' outcomes, storages, samplers and pruners, refusals."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import threading

import optuna
import pandas as pd
import pytest

from candidates import Candidate
from search import load_leaderboard
from search.driver import (
    RunSettings,
    StorageNotReady,
    TrialSpec,
    load_trials,
    open_studies,
    run_search,
)
from search.reports import LEADERBOARD_COLUMNS, write_outputs
from tests.runs import short_run, trial_states

pytestmark = pytest.mark.usefixtures("local_ray")  # one embedded Ray per module


def test_end_to_end_writes_the_run_directory(finished_run):
    out, summary = finished_run
    assert summary.finished == 10 and summary.failed == 0 and not summary.interrupted
    for name in (
        "config.toml",
        "candidates.parquet",
        "study.db",
        "trials.parquet",
        "leaderboard.csv",
        "leaderboard.parquet",
        "leaderboard.md",
    ):
        assert (out / name).is_file(), name
    for plot in ("leaderboard", "curves", "shapes", "properties"):
        assert (out / "plots" / f"{plot}.png").stat().st_size > 1000
        assert (out / "plots" / f"{plot}.svg").is_file()
    trials = pd.read_parquet(out / "trials.parquet")
    assert {
        "candidate_id",
        "task",
        "seed",
        "state",
        "value",
        "train_loss_eval",
        "seconds",
        "cpu_seconds",
        "curve",
        "diverged_step",
    } <= set(trials.columns)
    assert sorted(trials.groupby("candidate_id").size().tolist()) == [2] * 5
    assert set(trials["state"]) == {"COMPLETE"}
    assert sorted(trials["seed"].unique().tolist()) == [0, 1]
    board = load_leaderboard(out)
    assert set(board["candidate_id"]) == {"layernorm", "rmsnorm", "dyt", "erf", "cefaa8630b2d"}
    assert list(board["rank"]) == [1, 2, 3, 4, 5]
    assert tuple(board.columns) == LEADERBOARD_COLUMNS  # one row per (candidate, task)
    assert set(board["task"]) == {"digits-vit"} and set(board["metric"]) == {"accuracy"}
    ln = board.set_index("candidate_id").loc["layernorm"]
    assert ln["delta_layernorm"] == 0.0 and ln["n"] == 2 and ln["kind"] == "baseline"
    assert board.set_index("candidate_id").loc["cefaa8630b2d", "bounded"]
    assert board.set_index("candidate_id").loc["dyt", "shift"] == "none"
    # a function of the catalog goes by its name, whatever its spelling or source
    assert board.set_index("candidate_id").loc["cefaa8630b2d", "name"] == "smoothsign"
    assert set(board["group"]) <= set("abcde") and board["group"].iloc[0] == "a"
    assert board.set_index("candidate_id").loc["erf", "delta_erf"] == 0.0
    storage = f"sqlite:///{out / 'study.db'}"
    name = RunSettings.read(out).study_for("digits-vit")
    study = optuna.load_study(study_name=name, storage=storage)
    shown = {t.params["candidate"]: t.user_attrs for t in study.trials}
    assert shown["cefaa8630b2d"]["name"] == "smoothsign"  # what optuna-dashboard shows
    assert shown["cefaa8630b2d"]["expression"] == "x/(1 + abs(x))"
    assert shown["layernorm"]["name"] == "layernorm" and "expression" not in shown["layernorm"]
    erf_line = next(x for x in (out / "leaderboard.md").read_text().splitlines() if "`erf`" in x)
    assert erf_line.endswith("✓ ✓ ✓ ✓ |")  # the verdicts, also in a fresh run's file
    means = board["mean"].tolist()
    assert means == sorted(means, reverse=True)  # accuracy: higher ranks first
    assert RunSettings.read(out).with_out(out) == short_run(out, seeds=2)


@pytest.mark.slow  # a run on two workers: about 13 s
def test_the_progress_bar_counts_every_trial_in_flight(tmp_path, capfd):
    run_search(short_run(tmp_path / "run", expressions=()), progress=True, max_steps=2)
    shown = capfd.readouterr().err
    # two workers, four trials: both run at once, and the bar says so
    assert "running 2" in shown and "4/4" in shown


def test_a_diverging_candidate_is_a_result(tmp_path):
    out = tmp_path / "run"
    settings = short_run(out, expressions=("sinh(20*x)",), workers=1)
    summary = run_search(settings, progress=False, max_steps=3)  # it diverges at step 0
    write_outputs(out)
    assert summary.diverged == 1 and summary.failed == 0
    trials = trial_states(out).set_index("candidate_id")
    bad = trials.loc[Candidate.from_text("sinh(20*x)").id]
    assert bad["state"] == "COMPLETE" and bad["diverged"] and bad["diverged_step"] == 0
    board = load_leaderboard(out)
    last = board.iloc[-1]
    assert last["expression"] == "sinh(20*x)" and last["diverged"] == 1
    assert "diverged ×1" in (out / "leaderboard.md").read_text()


def test_a_running_search_keeps_trials_parquet_current(tmp_path):
    """While it runs, the run directory's record holds the trials ended so far (here copied
    after every one): a lost study storage costs at most the interval, since --resume
    rebuilds a missing study from that file."""
    out = tmp_path / "run"
    seen: list[int] = []

    def count(number: int, spec: TrialSpec, pid: int) -> None:
        path = out / "trials.parquet"
        saved = pd.read_parquet(path) if path.is_file() else None
        seen.append(-1 if saved is None else int((saved["state"] == "COMPLETE").sum()))

    settings = short_run(out, expressions=(), workers=1)
    summary = run_search(settings, progress=False, max_steps=1, on_start=count, save_every=0.0)
    # one worker: each trial starts after the one before it ended and was copied
    assert seen == [-1, 1, 2, 3] and summary.saves == 4  # after each trial, the last too
    assert (pd.read_parquet(out / "trials.parquet")["state"] == "COMPLETE").sum() == 4


def test_a_copy_the_disk_refuses_mid_run_is_said_once_and_the_run_goes_on(tmp_path, capfd):
    out = tmp_path / "run"
    partial = out / "trials.parquet.partial"  # a folder where the copy is written first

    def block_then_free(number: int, spec: TrialSpec, pid: int) -> None:
        if number == 0:
            partial.mkdir()
        elif number == 2:
            partial.rmdir()

    settings = short_run(out, expressions=(), workers=1)
    summary = run_search(
        settings, progress=False, max_steps=1, on_start=block_then_free, save_every=0.0
    )
    assert summary.finished == 4 and summary.saves == 0  # refused once, not tried again
    assert capfd.readouterr().err.count("trials.parquet not updated while running") == 1
    assert (pd.read_parquet(out / "trials.parquet")["state"] == "COMPLETE").sum() == 4


@pytest.mark.slow  # three worker deaths and their replacements: about 45 s
def test_a_killed_worker_retries_once_then_fails_with_its_reason(tmp_path):
    out = tmp_path / "run"
    killed: list[str] = []

    def kill(number: int, spec: TrialSpec, pid: int) -> None:
        # erf's worker dies on every try, rmsnorm's on its first only: half a second into
        # the trial, while it trains.
        if spec.candidate == "erf(x)" or (spec.candidate == "rmsnorm" and "rmsnorm" not in killed):
            killed.append(spec.candidate)
            threading.Timer(0.5, os.kill, (pid, signal.SIGKILL)).start()

    summary = run_search(short_run(out, expressions=()), progress=False, on_start=kill)
    assert killed.count("erf(x)") == 2 and killed.count("rmsnorm") == 1
    trials = trial_states(out).set_index("candidate_id")
    assert trials.loc["erf", "state"] == "FAIL"
    assert "worker process died" in trials.loc["erf", "fail_reason"]
    assert trials.loc["rmsnorm", "state"] == "COMPLETE" and trials.loc["rmsnorm", "attempts"] == 2
    assert set(trials.loc[["layernorm", "dyt"], "state"]) == {"COMPLETE"}
    assert summary.failed == 1 and summary.finished == 3


@pytest.mark.slow  # a run: about 14 s
def test_storage_url_puts_the_study_in_another_database(tmp_path):
    out = tmp_path / "run"
    url = f"sqlite:///{tmp_path / 'shared' / 'studies.db'}"
    (tmp_path / "shared").mkdir()
    run_search(short_run(out, storage=url, expressions=()), progress=False, max_steps=2)
    assert not (out / "study.db").exists()
    names = [s.study_name for s in optuna.get_all_study_summaries(url)]
    assert names == ["run#lease-0", "run:digits-vit"]  # the driver's lease, the task's study
    assert len(load_leaderboard(out)) == 4
    with sqlite3.connect(tmp_path / "shared" / "studies.db") as db:
        assert db.execute("select count(*) from trials").fetchone()[0] == 4


@pytest.mark.slow  # a run: about 15 s
def test_journal_file_storage(tmp_path):
    out = tmp_path / "run"
    journal = tmp_path / "study.log"
    run_search(short_run(out, storage=str(journal), expressions=()), progress=False, max_steps=2)
    assert journal.stat().st_size > 0 and not (out / "study.db").exists()
    assert len(load_leaderboard(out)) == 4


def test_a_reader_never_writes_to_a_storage_still_being_created(finished_run, tmp_path, capsys):
    from search.cli import main

    # A run directory caught the moment before its driver records the schema version.
    src, _ = finished_run
    out = tmp_path / "run"
    out.mkdir()
    for name in ("config.toml", "candidates.parquet"):
        (out / name).write_bytes((src / name).read_bytes())
    optuna.storages.RDBStorage(f"sqlite:///{out / 'study.db'}")
    with sqlite3.connect(out / "study.db") as db:
        db.execute("delete from alembic_version")
    with pytest.raises(StorageNotReady, match="still starting"):
        open_studies(out)
    assert main(["leaderboard", str(out)]) == 2
    assert "no study storage" in capsys.readouterr().err
    with sqlite3.connect(out / "study.db") as db:  # the driver's row is still its to write
        assert db.execute("select count(*) from alembic_version").fetchone()[0] == 0


@pytest.mark.slow  # 40 steps a trial under a pruner: about 45 s
def test_tpe_with_tuned_alpha_and_a_pruner(tmp_path):
    out = tmp_path / "run"
    settings = short_run(
        out,
        expressions=("isru", "arctan"),
        sampler="tpe",
        tune_alpha=True,
        pruner="hyperband",
        max_trials=6,
        tasks=("mnist1d",),
        budget="2",
    )
    summary = run_search(settings, progress=False, max_steps=40)
    trials = trial_states(out)
    assert summary.finished + summary.pruned == 6
    # the baselines are enqueued, so they run whatever TPE would pick
    assert {"layernorm", "rmsnorm", "dyt", "erf"} <= set(trials["candidate_id"])
    tuned = load_leaderboard(out).set_index("candidate_id")["best_alpha0"]
    assert tuned.dropna().between(0.05, 5.0).all() and tuned.notna().sum() >= 1
    assert pd.isna(tuned["layernorm"])  # a norm layer has no α to tune
    tuned = trials[trials["candidate_id"] != "layernorm"]["alpha0"].dropna()
    assert tuned.between(0.05, 5.0).all() and tuned.nunique() > 1
    assert trials["intermediate"].map(lambda s: len(json.loads(s))).max() >= 1


def test_settings_errors_are_clear():
    with pytest.raises(ValueError, match="did you mean 'hyperband'"):
        RunSettings(pruner="hyperbnd")
    with pytest.raises(ValueError, match="did you mean 'tpe'"):
        RunSettings(sampler="tep")
    with pytest.raises(ValueError, match="use --sampler random, tpe or guided"):
        RunSettings(tune_alpha=True)


def test_a_prediction_run_of_an_older_version_reads_its_catalog_flag_as_its_request():
    # `predict` once wrote its --catalog flag as a boolean: true asked for the catalog
    assert RunSettings.from_dict({"study": "prediction", "catalog": True}).catalog == "paper"
    assert RunSettings.from_dict({"study": "prediction", "catalog": False}).catalog is None


def test_a_used_run_directory_is_refused(tmp_path):
    out = tmp_path / "run"
    run_search(short_run(out, expressions=()), progress=False, max_steps=1)
    with pytest.raises(ValueError, match="--resume"):
        run_search(short_run(out, expressions=()), progress=False, max_steps=1)


def test_a_guided_run_trains_each_candidate_once_per_seed(tmp_path):
    out = tmp_path / "run"
    expressions = ("isru", "arctan", "2*x/(1 + x**2)", "clip(x, -1, 1)", "sin(x)")
    summary = run_search(
        short_run(out, expressions=expressions, sampler="guided", max_trials=7),
        progress=False,
        max_steps=2,
    )
    finished = load_trials(open_studies(out))
    finished = finished[finished["state"] == "COMPLETE"]
    assert summary.finished == 7 == len(finished)
    assert finished["candidate_id"].is_unique  # none run twice (one seed)
    assert {"layernorm", "rmsnorm", "dyt", "erf"} <= set(finished["candidate_id"])
