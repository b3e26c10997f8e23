"""`derf-search benchmark sampler`: samplers replayed against a table of real proxy results (here
the committed digits-dit property study, 108 trained functions)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import optuna
import pandas as pd
import pytest

from candidates import UserError
from search.bench import (
    SAMPLERS,
    Pool,
    SamplerFigures,
    compare_samplers,
    load_pool,
    make_replay_sampler,
    ratio_interval,
    replay,
    surrogate_agreement,
)
from tests.runs import cli

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
    for seed in range(3):
        result = replay(make_replay_sampler(name, pool, seed=seed), pool, trials=12, stop=target)
        assert len(result.evaluated) == len(set(result.evaluated)) >= 12
        hit = result.trials_to(target)
        # it stops at 12 when the target came first, else right where it found it
        assert hit is not None and (
            hit <= 12 == len(result.evaluated) or hit == len(result.evaluated)
        )


def test_the_replayed_tpe_is_the_runs_tpe(pool):
    from search.driver import make_sampler

    ours = make_replay_sampler("tpe", pool, seed=3)
    runs = make_sampler("tpe", pool.keys, 1, seed=3)
    assert vars(ours)["_n_startup_trials"] == vars(runs)["_n_startup_trials"] == 27


def test_simplest_first_is_generates_order(pool):
    result = replay(make_replay_sampler("simplest", pool, seed=0), pool, trials=20)
    assert result.evaluated == pool.simplest[:20]
    board = pd.read_parquet(STUDY / "leaderboard.parquet").drop_duplicates("candidate_id")
    text = dict(zip(board["candidate_id"], board["expression"], strict=True))
    lengths = [len(text[k]) for k in pool.simplest]  # a study's table has no canonical form
    assert lengths == sorted(lengths)


def _synthetic(direction: str, means: dict[str, float], diverged=(), failed=()) -> Path:
    """A run directory of one task whose functions have the given means."""
    import tempfile

    run = Path(tempfile.mkdtemp()) / "run"
    run.mkdir()
    keys = list(means)
    board = pd.DataFrame({
        "task": "t", "metric": "m", "direction": direction, "candidate_id": keys,
        "expression": [f"tanh({i + 1}*x)" for i in range(len(keys))],
        "mean": [np.nan if k in diverged or k in failed else means[k] for k in keys],
        "n": [0 if k in diverged or k in failed else 2 for k in keys],
        "diverged": [2 if k in diverged else 0 for k in keys],
    })  # fmt: skip
    board.to_parquet(run / "leaderboard.parquet")
    pd.DataFrame({"candidate_id": keys, "expression": board["expression"]}).to_parquet(
        run / "candidates.parquet"
    )
    return run


def test_a_pool_of_a_task_to_maximise_with_ties_a_diverged_and_a_failed_function():
    means = {f"c{i}": float(i % 50) for i in range(100)}  # c49 and c99 tie at the top
    run = _synthetic("maximize", means, diverged=("c3",), failed=("c4",))
    pool = load_pool(run)
    assert "c4" not in pool.keys and len(pool.keys) == 99  # nothing to look up
    assert pool.score["c3"] == min(pool.score.values()) == 0.0  # diverged: the worst finite
    assert pool.top(0.01) == ["c49", "c99"]  # both tie with the cut
    assert pool.regret(["c99"]) == 0.0 and pool.regret(["c1"]) == 48.0
    figures = compare_samplers(pool, replays=3, samplers=("random",), horizon=10)
    assert figures["random"].never_reached == 0
    assert all(t is not None and t <= 99 for t in figures["random"].trials_to_top)


def test_a_run_of_several_tasks_needs_one_named(tmp_path):
    run = _synthetic("maximize", {"a": 1.0, "b": 2.0, "c": 0.5})
    board = pd.read_parquet(run / "leaderboard.parquet")
    pd.concat([board, board.assign(task="u")]).to_parquet(run / "leaderboard.parquet")
    with pytest.raises(UserError, match="holds tasks t, u: name one with --task"):
        load_pool(run)
    assert load_pool(run, "u").task == "u"
    with pytest.raises(UserError, match="no task 'v'"):
        load_pool(run, "v")


def test_regret_is_never_negative_and_never_grows(pool):
    figures = compare_samplers(pool, replays=2, samplers=("random", "simplest"), horizon=30)
    assert set(figures) == {"random", "simplest"}
    assert len(figures["random"].trials_to_top) == 2
    assert len(figures["simplest"].trials_to_top) == 1  # one order: one replay
    for f in figures.values():
        curve = np.array([f.median_regret(n) for n in range(1, 31)])
        assert (curve >= 0).all() and (np.diff(curve) <= 1e-12).all()
        assert all(t is None or 1 <= t <= len(pool.keys) for t in f.trials_to_top)


def test_the_command_prints_the_documented_json_and_a_plot(tmp_path):
    plot = tmp_path / "regret.png"
    proc = cli(
        "benchmark", "sampler", "--tabular", str(STUDY), "--replays", "1", "--json",
        "--plot", str(plot),
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    figures = json.loads(proc.stdout)
    assert figures["pool"] == 108 and figures["replays"] == 1 and figures["top"] == 1
    assert 0.5 < figures["seed_tau"] <= 1  # three seeds of the study: their rankings agree
    assert set(figures["surrogate_spearman"]) == {"shape", "shape_and_start"}
    assert all(-1 <= r <= 1 for r in figures["surrogate_spearman"].values())
    assert list(figures["samplers"]) == list(SAMPLERS)
    for entry in figures["samplers"].values():
        assert 1 <= entry["median_trials_to_top1pct"] <= 109 and entry["never_reached"] == 0
        assert list(entry["regret"]) == ["25", "50", "100"]
        regrets = [entry["regret"][n] for n in ("25", "50", "100")]
        assert regrets == sorted(regrets, reverse=True) and regrets[-1] >= 0
    assert plot.stat().st_size > 1000
    # guided's ratio to the others, with its bootstrap interval (one replay: no spread)
    guided = figures["samplers"]["guided"]["median_trials_to_top1pct"]
    for other in ("random", "tpe"):
        ratio = figures["guided_ratio"][other]
        assert ratio["ratio"] == pytest.approx(
            guided / figures["samplers"][other]["median_trials_to_top1pct"]
        )
        assert ratio["interval"] == pytest.approx([ratio["ratio"]] * 2)


def test_a_ratio_interval_covers_the_ratio_and_narrows_with_replays():
    rng = np.random.default_rng(0)

    def figures(scale, n):
        return SamplerFigures(list(rng.geometric(1 / scale, size=n)), {}, 1000)

    few = ratio_interval(figures(10, 20), figures(40, 20))
    many = ratio_interval(figures(10, 400), figures(40, 400))
    # the two geometric distributions' medians are 7 and 28: a ratio of 1/4
    assert few[0] < 0.25 < few[1] and many[0] <= 0.25 <= many[1]
    assert many[1] - many[0] < (few[1] - few[0]) / 2


def test_the_surrogate_check_tells_informative_descriptors_from_noise():
    keys = [f"c{i}" for i in range(80)]
    score = {k: float(i % 17) + 0.01 * i for i, k in enumerate(keys)}
    noise = np.random.default_rng(0).normal(size=(80, 3))
    # the first column is noise; the second holds the score (the check may use it or not)
    features = {k: [float(noise[i, 0]), score[k], float(noise[i, 2])] for i, k in enumerate(keys)}
    pool = Pool("t", "m", "maximize", keys, score, features, keys)
    assert surrogate_agreement(pool, draws=3) > 0.9
    assert abs(surrogate_agreement(pool, 1, draws=3)) < 0.4
    small = Pool("t", "m", "maximize", keys[:20], score, features, keys[:20])
    assert math.isnan(surrogate_agreement(small))  # nothing left to hold out


def test_a_directory_that_is_not_a_finished_run_is_one_line(tmp_path):
    proc = cli("benchmark", "sampler", "--tabular", str(tmp_path))
    assert proc.returncode == 2
    assert proc.stderr.strip().count("\n") == 0 and "not a finished run" in proc.stderr
