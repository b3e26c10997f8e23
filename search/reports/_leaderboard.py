"""Trials and leaderboards: pandas tables read from the Optuna storage, the record of a search.

``trials`` has one row per trial; the leaderboard one row per candidate with, per task, the
metric's mean ± std over seeds, Δ vs LayerNorm and DyT, the training loss in eval mode,
diverged/pruned/failed counts and compute seconds. A candidate ranks by its mean metric among
the candidates that never diverged, then those that sometimes did; candidates with several
tasks rank by their mean rank.

Example:
    >>> trials = pd.DataFrame({"task": ["t"] * 4, "candidate_id": ["layernorm", "layernorm",
    ...     "erf", "erf"], "seed": [0, 1, 0, 1], "state": ["COMPLETE"] * 4,
    ...     "value": [0.90, 0.92, 0.93, 0.95], "diverged": [False] * 4,
    ...     "direction": ["maximize"] * 4, "train_loss_eval": [0.1] * 4, "seconds": [1.0] * 4,
    ...     "alpha0": [0.5] * 4, "duplicate": [False] * 4})
    >>> board = leaderboard(trials)
    >>> board[["rank", "candidate_id", "t mean", "t Δ layernorm"]].round(3).values.tolist()
    [[1, 'erf', 0.94, 0.03], [2, 'layernorm', 0.91, 0.0]]
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pandas as pd

from candidates import PROPERTIES, UserError

from ..driver import as_number, read_candidates, read_trials


def _last_reports(pruned: pd.DataFrame) -> pd.DataFrame:
    """Per candidate: the furthest step its pruned trials reached, and their mean value there."""
    if pruned.empty or "intermediate" not in pruned:
        return pd.DataFrame(columns=["step", "value"], dtype=float)
    last = []
    for key, text in zip(pruned["candidate_id"], pruned["intermediate"], strict=True):
        reports = json.loads(text) if isinstance(text, str) else {}
        if reports:
            step = max(reports, key=int)
            last.append({"candidate_id": key, "step": int(step), "value": reports[step]})
    if not last:
        return pd.DataFrame(columns=["step", "value"], dtype=float)
    table = pd.DataFrame(last)
    furthest = table.groupby("candidate_id")["step"].transform("max") == table["step"]
    return (
        table[furthest].groupby("candidate_id").agg(step=("step", "max"), value=("value", "mean"))
    )


def _task_block(trials: pd.DataFrame, task: str) -> pd.DataFrame:
    rows = trials[(trials["task"] == task) & ~trials["duplicate"]]
    direction = rows["direction"].iloc[0]
    done = rows[rows["state"] == "COMPLETE"]
    ok = done[~done["diverged"]]
    grouped = ok.groupby("candidate_id")["value"]
    block = pd.DataFrame(
        {
            f"{task} mean": grouped.mean(),
            f"{task} std": grouped.std(ddof=1),
            f"{task} n": grouped.count(),
            f"{task} train_loss_eval": ok.groupby("candidate_id")["train_loss_eval"].mean(),
        }
    )
    every = rows.groupby("candidate_id")
    block = block.reindex(sorted(set(rows["candidate_id"].dropna())))
    block[f"{task} n"] = block[f"{task} n"].fillna(0).astype(int)
    block[f"{task} diverged"] = done.groupby("candidate_id")["diverged"].sum()
    block[f"{task} pruned"] = every["state"].apply(lambda s: int((s == "PRUNED").sum()))
    block[f"{task} failed"] = (
        rows[(rows["state"] == "FAIL") & ~rows["retried"]].groupby("candidate_id").size()
    )
    block[f"{task} compute_s"] = every["seconds"].sum(min_count=1)
    for name in ("diverged", "pruned", "failed"):
        block[f"{task} {name}"] = block[f"{task} {name}"].fillna(0).astype(int)
    for ref in ("layernorm", "dyt"):
        base = block[f"{task} mean"].get(ref, math.nan)
        block[f"{task} Δ {ref}"] = block[f"{task} mean"] - base
    # Rank: candidates with finished runs first (those that never diverged before those that
    # did), by their mean in the task's direction; then candidates whose runs were all pruned,
    # the later pruned first, by their last reported value.
    sign = -1.0 if direction == "maximize" else 1.0
    pruned = _last_reports(rows[rows["state"] == "PRUNED"])
    block[f"{task} pruned_at"] = pruned["step"]
    block[f"{task} pruned_value"] = pruned["value"]
    missing = block[f"{task} mean"].isna()
    key = pd.DataFrame(
        {
            "diverged": block[f"{task} diverged"] > 0,
            "missing": missing,
            "reached": -block[f"{task} pruned_at"].where(missing).fillna(0),
            "score": sign * block[f"{task} mean"].fillna(block[f"{task} pruned_value"]),
        }
    ).sort_values(["missing", "diverged", "reached", "score"])
    block[f"{task} rank"] = pd.Series(range(1, len(key) + 1), index=key.index)
    tuned = done.dropna(subset=["alpha0"])
    if not tuned.empty:  # α0 is a trial parameter only when it is tuned
        best = tuned.loc[(sign * tuned["value"]).groupby(tuned["candidate_id"]).idxmin()]
        block[f"{task} best_alpha0"] = best.set_index("candidate_id")["alpha0"]
    return block


def leaderboard(
    trials: pd.DataFrame,
    candidates: pd.DataFrame | None = None,
    *,
    task: str | None = None,
) -> pd.DataFrame:
    """Rank candidates over the trials; ``task`` ranks by that task alone."""
    if trials.empty:
        return pd.DataFrame(columns=["rank", "candidate_id", "name", "expression"])
    tasks = [task] if task else list(dict.fromkeys(trials["task"]))
    if task is not None and task not in set(trials["task"]):
        from candidates import suggest

        known = sorted(set(trials["task"]))
        raise UserError(f"no trials of task {task!r}{suggest(task, known)} (known: {known})")
    trials = trials.copy()
    for name in ("diverged", "retried", "duplicate"):
        if name not in trials:
            trials[name] = False
    for name in ("train_loss_eval", "seconds", "alpha0"):
        if name not in trials:
            trials[name] = math.nan
    blocks = [_task_block(trials, t) for t in tasks]
    board = pd.concat(blocks, axis=1)
    board["mean_rank"] = board[[f"{t} rank" for t in tasks]].mean(axis=1)
    board = board.sort_values(["mean_rank", *[f"{t} rank" for t in tasks]])
    board.insert(0, "rank", range(1, len(board) + 1))
    board.index.name = "candidate_id"
    board = board.reset_index()
    for name in ("diverged", "pruned", "failed", "compute_s"):
        board[name] = board[[f"{t} {name}" for t in tasks]].sum(axis=1)
    if candidates is not None:
        info = candidates.drop_duplicates("candidate_id").set_index("candidate_id")
        columns = ["name", "expression", "latex", "shift", "passed", *PROPERTIES]
        for column in columns:
            if column in info:
                board[column] = board["candidate_id"].map(info[column])
        front = ["rank", "candidate_id", *[c for c in columns if c in board]]
        board = board[front + [c for c in board.columns if c not in front]]
    else:
        board.insert(2, "name", board["candidate_id"])
    return board


def _cell(mean: float, std: float, n: int, diverged: int) -> str:
    if n == 0:
        return f"diverged ×{diverged}" if diverged else "–"
    text = f"{mean:.4f}" + (f" ± {std:.4f}" if n > 1 and math.isfinite(std) else "")
    text += f" (n={n})"
    return text + (f", diverged ×{diverged}" if diverged else "")


def leaderboard_markdown(board: pd.DataFrame, *, top: int | None = None) -> str:
    """The leaderboard as a markdown table a person can read."""
    tasks = [c[: -len(" mean")] for c in board.columns if c.endswith(" mean")]
    header = ["rank", "candidate", "expression"]
    for t in tasks:
        header += [t, f"Δ LN ({t})", f"Δ DyT ({t})", f"train loss ({t})"]
    header += ["pruned", "failed", "compute s", "Z B C M"]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for _, row in (board if top is None else board.head(top)).iterrows():
        name = row.get("name") if isinstance(row.get("name"), str) else row["candidate_id"]
        expr = row.get("expression") if isinstance(row.get("expression"), str) else "(norm layer)"
        cells = [str(row["rank"]), f"`{name}`", f"`{expr}`"]
        for t in tasks:
            cells += [
                _cell(
                    row[f"{t} mean"], row[f"{t} std"], int(row[f"{t} n"]), int(row[f"{t} diverged"])
                ),
                format_signed(row[f"{t} Δ layernorm"]),
                format_signed(row[f"{t} Δ dyt"]),
                format_signed(row[f"{t} train_loss_eval"], plus=False),
            ]
        verdicts = " ".join(
            "–" if not isinstance(row.get(p), (bool, int)) else ("✓" if row.get(p) else "✗")
            for p in PROPERTIES
        )
        cells += [
            str(int(row["pruned"])),
            str(int(row["failed"])),
            f"{row['compute_s']:.0f}",
            verdicts,
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def format_signed(value: Any, *, plus: bool = True) -> str:
    number = as_number(value)
    if not math.isfinite(number):
        return "–"
    return f"{number:+.4f}" if plus else f"{number:.4f}"


def load_leaderboard(run_dir: str | Path, *, task: str | None = None) -> pd.DataFrame:
    """The leaderboard of a run directory, computed from its study (also while it runs), or
    from its ``trials.parquet`` where the storage is gone."""
    return leaderboard(read_trials(run_dir), read_candidates(run_dir), task=task)


def write_outputs(run_dir: str | Path) -> pd.DataFrame:
    """A run directory's leaderboard.csv|parquet|md and plots, from its record."""
    from ._run_plots import plot_run

    out = Path(run_dir)
    trials, candidates = read_trials(out), read_candidates(out)
    board = leaderboard(trials, candidates)
    board.to_csv(out / "leaderboard.csv", index=False)
    board.to_parquet(out / "leaderboard.parquet", index=False)
    (out / "leaderboard.md").write_text(leaderboard_markdown(board))
    if not trials.empty:
        plot_run(out, board, trials, candidates)
    return board
