"""Paired differences, the false-discovery-rate correction and tie groups, on tables with a
known answer."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from search.reports import (
    TABLE_WIDTH,
    benjamini_hochberg,
    leaderboard,
    leaderboard_markdown,
    leaderboard_table,
    paired_difference,
    plot_leaderboard,
    separability,
    tie_groups,
)


def test_the_paired_difference_is_scipys_paired_t_test():
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=5), rng.normal(size=5)
    d = paired_difference(dict(enumerate(a)), dict(enumerate(b)))
    expected = stats.ttest_rel(a, b)
    assert d.n == 5 and d.mean == pytest.approx(float(np.mean(a - b)))
    assert d.p == pytest.approx(float(expected.pvalue))
    assert d.se == pytest.approx(float(np.std(a - b, ddof=1) / math.sqrt(5)))


def test_only_seeds_both_finished_are_paired():
    d = paired_difference({0: 1.0, 1: math.nan, 2: 3.0}, {0: 0.0, 1: 5.0, 3: 1.0})
    assert (d.n, d.mean) == (1, 1.0) and math.isnan(d.se) and math.isnan(d.p)
    assert paired_difference({}, {0: 1.0}).n == 0


def test_benjamini_hochberg_steps_up_from_the_largest_p():
    # sorted p_(k) against k/m·5%: 0.04 ≤ 4/4·0.05 rejects all four
    assert benjamini_hochberg([0.04, 0.001, 0.02, 0.03]) == [True, True, True, True]
    # 0.2 > 0.05, 0.04 > 0.0375, 0.03 > 0.025: only 0.01 ≤ 0.0125
    assert benjamini_hochberg([0.01, 0.04, 0.03, 0.2]) == [True, False, False, False]
    assert benjamini_hochberg([math.nan, 0.001]) == [False, True]


def _seeded(means: dict[str, float], noise: float, seeds: int = 4) -> dict[str, dict[int, float]]:
    """Values whose seeds shift every candidate alike (a shared offset) plus small own noise."""
    rng = np.random.default_rng(1)
    shared = rng.normal(scale=0.05, size=seeds)
    return {
        k: {s: m + shared[s] + rng.normal(scale=noise) for s in range(seeds)}
        for k, m in means.items()
    }


def test_tie_groups_on_a_table_with_a_known_answer():
    # a and b are one function up to noise; c is clearly worse, d clearly worse than c. The
    # shared seed offset (10× the own noise) would hide all of it in unpaired error bars.
    values = _seeded({"a": 0.900, "b": 0.8995, "c": 0.85, "d": 0.70}, noise=0.001)
    assert tie_groups(["a", "b", "c", "d"], values) == {"a": "a", "b": "a", "c": "b", "d": "c"}
    # one seed cannot test anything: only the leader is placed, the others have no group
    once = {k: {0: v[0]} for k, v in values.items()}
    assert tie_groups(["a", "b", "c", "d"], once) == {"a": "a"}
    # the same nonzero difference at every seed cannot be tested either
    assert math.isnan(paired_difference({0: 1.0, 1: 2.0}, {0: 0.5, 1: 1.5}).p)
    # a candidate with no finished seed has no group
    assert "e" not in tie_groups(["a", "e"], {**values, "e": {0: math.nan}})


def _trials(values: dict[str, dict[int, float]]) -> pd.DataFrame:
    rows = [
        {"task": "t", "candidate_id": k, "seed": s, "state": "COMPLETE", "value": v,
         "diverged": False, "direction": "maximize", "metric": "accuracy"}
        for k, seeds in values.items() for s, v in seeds.items()
    ]  # fmt: skip
    return pd.DataFrame(rows)


def test_the_leaderboard_carries_paired_differences_and_groups():
    values = _seeded({"erf": 0.900, "tanh": 0.8995, "layernorm": 0.85, "x": 0.70}, noise=0.001)
    board = leaderboard(_trials(values)).set_index("candidate_id")
    assert board.loc["erf", "group"] == board.loc["tanh", "group"] == "a"
    assert board.loc["layernorm", "group"] == "b" and board.loc["x", "group"] == "c"
    assert board.loc["erf", "delta_erf"] == 0 and board.loc["erf", "delta_leader"] == 0
    gap = np.mean([values["layernorm"][s] - values["erf"][s] for s in range(4)])
    assert board.loc["layernorm", "delta_leader"] == pytest.approx(gap)
    assert board.loc["layernorm", "delta_erf"] == pytest.approx(gap)
    # paired: the standard error is the own noise's, far below the seeds' spread
    assert board.loc["layernorm", "se_leader"] < 0.2 * board.loc["layernorm", "std"]
    assert board.loc["x", "delta_layernorm"] == pytest.approx(
        np.mean([values["x"][s] - values["layernorm"][s] for s in range(4)])
    )


def test_the_terminal_table_fits_and_says_what_is_separable():
    means = {"erf": 0.900, "tanh": 0.8995, "layernorm": 0.85, "x": 0.70}
    board = leaderboard(_trials(_seeded(means, noise=0.001)))
    board["name"] = board["candidate_id"].replace({"x": "a-very-long-name-" * 4})
    table = leaderboard_table(board)
    assert max(map(len, table.splitlines())) <= TABLE_WIDTH
    header, first, second = table.splitlines()[:3]
    assert header.split()[:2] == ["#", "candidate"]
    assert first.split()[:2] == ["1a", "erf"] and second.split()[:2] == ["2a", "tanh"]
    assert table.splitlines()[3].split()[:2] == ["3b", "layernorm"]
    line = separability(board).replace("\n  ", " ")
    assert line.startswith("t: 3 tie groups among 4 ranked (paired t-tests over 4 seeds, FDR 5%)")
    assert line.endswith("; #1 erf is not separable from #2.")
    md = leaderboard_markdown(board)
    assert "| group (t) |" in md and "Δ #1 ± se (t)" in md


def test_a_top_k_table_keeps_the_baselines_below_the_cut():
    means = {"a": 0.95, "b": 0.94, "c": 0.93, "layernorm": 0.90, "d": 0.89, "erf": 0.88, "e": 0.8}
    board = leaderboard(_trials(_seeded(means, noise=0.0005)))
    board["kind"] = ["baseline" if k in ("layernorm", "erf") else "candidate"
                     for k in board["candidate_id"]]  # fmt: skip
    lines = leaderboard_table(board, top=2).splitlines()[1:]
    assert [line.split()[:2] for line in lines] == [
        ["1a", "a"], ["2b", "b"], ["…"], ["4d", "layernorm"], ["…"], ["6f", "erf"],
    ]  # fmt: skip
    assert len(leaderboard_table(board, top=4).splitlines()) == 1 + 4 + 2  # 6f after a gap


def test_an_empty_run_and_untestable_candidates_are_said_so():
    from search.reports import LEADERBOARD_COLUMNS

    empty = pd.DataFrame(columns=list(LEADERBOARD_COLUMNS))
    assert leaderboard_table(empty) == "no finished trials yet\n" and separability(empty) == ""
    values = _seeded({"erf": 0.90, "tanh": 0.85, "layernorm": 0.80}, noise=0.001)
    values["tanh"] = {0: values["tanh"][0]}  # one finished seed: nothing to pair it with
    board = leaderboard(_trials(values)).set_index("candidate_id")
    assert pd.isna(board.loc["tanh", "group"]) and board.loc["layernorm", "group"] == "b"
    line = separability(board.reset_index()).replace("\n  ", " ")
    assert "1 could not be tested against #1" in line


def test_the_leader_against_erf_is_stated():
    means = {"tanh": 0.95, "erf": 0.90, "layernorm": 0.85}
    board = leaderboard(_trials(_seeded(means, noise=0.001)))
    line = separability(board).replace("\n  ", " ")
    assert "#1 against erf: Δ +0.050" in line and line.endswith(": beyond seed noise.")
    tied = leaderboard(_trials(_seeded({"tanh": 0.9001, "erf": 0.90}, noise=0.01)))
    assert separability(tied).replace("\n  ", " ").endswith(": within seed noise.")


def test_a_reference_far_below_the_top_bars_is_named_not_drawn_off_the_chart(tmp_path):
    names = ["a", "b", "layernorm", "erf"]
    board = pd.DataFrame({"rank": [1, 2, 3, 4], "candidate_id": names, "name": names,
                          "kind": ["candidate", "candidate", "baseline", "baseline"],
                          "task": ["t"] * 4, "mean": [0.26, 0.27, 0.275, 0.34],
                          "std": [0.001] * 4, "metric": ["mse"] * 4,
                          "direction": ["minimize"] * 4})  # fmt: skip
    plot_leaderboard(board, tmp_path, top=3)  # lower is better here: erf is far above a, b
    svg = (tmp_path / "leaderboard.svg").read_text()
    assert "mse (lower is better)" in svg  # the axis names the metric and its direction
    assert "erf 0.34, above the chart" in svg  # matplotlib keeps each text as a comment
    assert "layernorm 0.275" not in svg and "layernorm" in svg  # inside: drawn as a line
