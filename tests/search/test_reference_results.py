"""The committed reference runs under results/: their leaderboards are what today's code
computes from their trials (the long schema), and their tables stay readable."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from search.driver import read_candidates, read_trials
from search.reports import LEADERBOARD_COLUMNS, leaderboard, leaderboard_markdown

RESULTS = Path(__file__).resolve().parents[2] / "results"
RUNS = sorted(p for p in RESULTS.iterdir() if (p / "trials.parquet").is_file())


def test_there_are_reference_runs():
    assert len(RUNS) >= 8


@pytest.mark.parametrize("run", RUNS, ids=lambda p: p.name)
def test_a_reference_leaderboard_regenerates_from_its_trials(run):
    committed = pd.read_csv(run / "leaderboard.csv")
    assert tuple(committed.columns) == LEADERBOARD_COLUMNS
    board = leaderboard(read_trials(run), read_candidates(run))
    keys = ["rank", "candidate_id", "task", "n", "diverged"]
    assert board[keys].astype(str).values.tolist() == committed[keys].astype(str).values.tolist()
    for column in ("mean", "std", "delta_layernorm", "train_loss_eval"):
        pd.testing.assert_series_equal(
            board[column].astype(float), committed[column].astype(float), check_names=False
        )
    assert leaderboard_markdown(board) == (run / "leaderboard.md").read_text()
