"""`derf-search benchmark sampler`: samplers replayed against a table of real proxy results (here
the committed digits-dit property study, 108 trained functions)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import optuna
import pandas as pd
import pytest

from search.bench import SAMPLERS, compare_samplers, load_pool, replay
from search.bench._replay import make_replay_sampler

REPO = Path(__file__).resolve().parents[2]
STUDY = REPO / "results" / "paper-properties-digits-dit"

optuna.logging.set_verbosity(optuna.logging.WARNING)


@pytest.fixture(scope="module")
def pool():
    return load_pool(STUDY)


def test_a_pool_holds_the_runs_functions_with_higher_scores_better(pool):
    board = pd.read_parquet(STUDY / "leaderboard.parquet")
    functions = board[board["expression"].notna()]
    assert sorted(pool.keys) == sorted(functions["candidate_id"])
    assert "layernorm" not in pool.keys and "rmsnorm" not in pool.keys  # no shape to search
    # digits-dit minimises its loss: the best function has the lowest mean
    best = functions.sort_values("mean").iloc[0]
    assert pool.top(0.01) == [best["candidate_id"]]
    assert pool.score[best["candidate_id"]] == pytest.approx(-best["mean"])
    assert pool.regret([best["candidate_id"]]) == 0.0
    assert len(pool.features) == len(pool.keys)
    assert all(len(v) == len(pool.features[pool.keys[0]]) for v in pool.features.values())


@pytest.mark.parametrize("name", ["random", "tpe", "guided"])
def test_a_replay_evaluates_each_function_once_and_goes_on_to_the_target(pool, name):
    target = set(pool.top(0.01))
    result = replay(make_replay_sampler(name, pool, seed=1), pool, trials=12, stop=target)
    assert len(result.evaluated) == len(set(result.evaluated)) >= 12
    assert result.evaluated[-1] in target or len(result.evaluated) == 12
    assert result.trials_to(target) in (None, len(result.evaluated))


def test_simplest_first_takes_the_shortest_expressions_first(pool):
    result = replay(make_replay_sampler("simplest", pool, seed=0), pool, trials=20)
    sizes = [pool.size[k] for k in result.evaluated]
    assert sizes == sorted(sizes) and sizes[-1] <= sorted(pool.size.values())[19]


def test_regret_is_never_negative_and_never_grows(pool):
    figures = compare_samplers(pool, replays=2, samplers=("random", "simplest"), horizon=30)
    assert set(figures) == {"random", "simplest"}
    assert len(figures["random"].trials_to_top) == 2
    assert len(figures["simplest"].trials_to_top) == 1  # one order: one replay
    for f in figures.values():
        curve = np.array([f.median_regret(n) for n in range(1, 31)])
        assert (curve >= 0).all() and (np.diff(curve) <= 1e-12).all()
        assert all(1 <= t <= len(pool.keys) + 1 for t in f.trials_to_top)


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "search.cli", *args],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=600,
    )


def test_the_command_prints_the_documented_json_and_a_plot(tmp_path):
    plot = tmp_path / "regret.png"
    proc = _cli(
        "benchmark", "sampler", "--tabular", str(STUDY), "--replays", "1", "--json",
        "--plot", str(plot),
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    figures = json.loads(proc.stdout)
    assert figures["pool"] == 108 and figures["replays"] == 1 and figures["top"] == 1
    assert 0.5 < figures["seed_tau"] <= 1  # three seeds of the study: their rankings agree
    assert list(figures["samplers"]) == list(SAMPLERS)
    for entry in figures["samplers"].values():
        assert 1 <= entry["median_trials_to_top1pct"] <= 109
        assert list(entry["regret"]) == ["25", "50", "100"]
        regrets = [entry["regret"][n] for n in ("25", "50", "100")]
        assert regrets == sorted(regrets, reverse=True) and regrets[-1] >= 0
    assert plot.stat().st_size > 1000


def test_a_directory_that_is_not_a_finished_run_is_one_line(tmp_path):
    proc = _cli("benchmark", "sampler", "--tabular", str(tmp_path))
    assert proc.returncode == 2
    assert proc.stderr.strip().count("\n") == 0 and "not a finished run" in proc.stderr
