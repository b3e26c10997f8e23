"""The driver as a process: one driver per run directory, SIGKILL and Ctrl-C, and --resume
losing and repeating nothing."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

from search.driver import (
    load_trials,
    open_studies,
)
from tests.runs import REPO, SMALL_REFERENCE

pytestmark = pytest.mark.usefixtures("local_ray")  # one embedded Ray per module


# --- the driver as a process: SIGKILL, Ctrl-C and --resume ------------------------------------


def _cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "search.cli", *args]


def _finished(out: Path) -> pd.DataFrame:
    if not (out / "study.db").exists():
        return pd.DataFrame()
    try:
        trials = load_trials(open_studies(out))
    except Exception:  # the study may not exist yet
        return pd.DataFrame()
    return trials[trials["state"].isin(["COMPLETE", "PRUNED"])] if len(trials) else trials


def _start(out: Path, *extra: str) -> subprocess.Popen[bytes]:
    args = _cli(
        "run",
        "--expr",
        "isru",
        "arctan",
        "smoothsign",
        "--task",
        "digits-vit",
        "--budget",
        "quick",
        "--seeds",
        "1",
        "--workers",
        "1",
        "--device",
        "cpu",
        "--no-progress",
        "--out",
        str(out),
        *extra,
    )
    return subprocess.Popen(
        args, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True
    )


def _wait_for(out: Path, n: int, proc: subprocess.Popen[bytes], limit: float = 240) -> None:
    deadline = time.time() + limit
    while len(_finished(out)) < n:
        assert proc.poll() is None, proc.communicate()
        assert time.time() < deadline
        time.sleep(0.5)


def _resume(out: Path) -> None:
    done = subprocess.run(
        _cli("run", "--resume", str(out), "--no-progress"),
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr


@pytest.mark.slow  # two driver processes and a resume: about 100 s
@pytest.mark.ci  # a killed driver resumed
def test_resume_after_the_driver_is_killed(tmp_path):
    out = tmp_path / "run"
    proc = _start(out)
    _wait_for(out, 2, proc)
    from search.cli import main

    assert main(["leaderboard", str(out), "--format", "csv"]) == 0  # while the run goes on
    second = subprocess.run(
        _cli("run", "--resume", str(out), "--no-progress"),
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert second.returncode == 2 and len(second.stderr.strip().splitlines()) == 1
    assert f"pid {proc.pid} on host" in second.stderr  # one driver per run directory
    assert proc.poll() is None
    os.killpg(proc.pid, signal.SIGKILL)  # the driver and the Ray processes it started
    proc.wait()
    before = _finished(out)[["number", "candidate_id", "seed", "value"]]
    assert len(before) >= 2
    _resume(out)
    trials = load_trials(open_studies(out))
    finished = trials[trials["state"] == "COMPLETE"]
    # every candidate × seed exactly once, the earlier results untouched
    assert sorted(finished["candidate_id"]) == sorted(
        ["layernorm", "rmsnorm", "dyt", "erf", "c2685b425403", "c91dd0c0ea01", "cefaa8630b2d"]
    )
    kept = finished.set_index("number").loc[before["number"], "value"]
    assert kept.tolist() == before["value"].tolist()
    orphans = trials[trials["state"] == "FAIL"]
    assert orphans["retried"].all() and orphans["fail_reason"].str.contains("driver").all()
    assert "| 1 |" in (out / "leaderboard.md").read_text()


@pytest.mark.slow  # a grammar's enumeration, two driver processes and a resume: about 150 s
def test_a_guided_grammar_run_resumes_after_sigkill_losing_and_repeating_nothing(tmp_path):
    out = tmp_path / "run"
    proc = _start(
        out, "--grammar", "default", "--max-candidates", "6", "--sampler", "guided",
        "--max-trials", "9",
    )  # fmt: skip
    _wait_for(out, 5, proc, limit=400)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    before = _finished(out)[["number", "candidate_id", "seed", "value"]]
    _resume(out)
    trials = load_trials(open_studies(out))
    finished = trials[trials["state"] == "COMPLETE"]
    pairs = list(zip(finished["candidate_id"], finished["seed"], strict=True))
    assert len(pairs) == len(set(pairs)) == 9  # none lost, none repeated
    kept = finished.set_index("number").loc[before["number"], "value"]
    assert kept.tolist() == before["value"].tolist()


@pytest.mark.slow  # two driver processes and a resume: about 100 s
def test_ctrl_c_stops_cleanly_and_resume_finishes(tmp_path):
    out = tmp_path / "run"
    proc = _start(out)
    _wait_for(out, 1, proc)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err.decode()
    assert b"--resume" in err
    assert (out / "leaderboard.md").is_file()
    interrupted = load_trials(open_studies(out))
    assert "RUNNING" not in set(interrupted["state"])
    _resume(out)
    trials = load_trials(open_studies(out))
    assert trials[trials["state"] == "COMPLETE"]["candidate_id"].nunique() == 7
    assert trials[trials["state"] == "COMPLETE"]["candidate_id"].is_unique


@pytest.mark.slow  # a prediction run interrupted, then resumed and fitted: about 120 s
def test_ctrl_c_stops_a_prediction_before_its_fit_and_resume_fits_it(tmp_path):
    reference = tmp_path / "small.csv"
    reference.write_text(SMALL_REFERENCE)
    out = tmp_path / "run"
    proc = subprocess.Popen(
        _cli(
            "predict", "--task", "mnist1d", "--budget", "quick", "--seeds", "1",
            "--reference", str(reference), "--workers", "1", "--device", "cpu",
            "--no-progress", "--out", str(out),
        ),
        cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True,
    )  # fmt: skip
    _wait_for(out, 1, proc)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err.decode()
    assert b"before the predictor is fitted" in err and b"predict --resume" in err
    assert not (out / "prediction.json").exists()  # no fit on a part of the runs
    done = subprocess.run(
        _cli("predict", "--resume", str(out), "--no-progress"),
        cwd=REPO, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert set(json.loads((out / "prediction.json").read_text())["scores"]) >= {"trained"}
