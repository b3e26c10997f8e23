"""A tabular benchmark: a finished run's functions as a lookup table of real proxy results.

A sampler comparison that trains for every trial costs hours; one that looks the trial up in a
table of results already trained costs seconds (the idea of NAS-Bench-201 and HPOBench). The
table is any `derf-search run` directory: every function the run evaluated (grammar samples,
catalog entries, the point-wise baselines; not LayerNorm or RMSNorm, which have no shape) with
its mean metric over the seeds it finished and its shape descriptors.

A function every seed of which diverged is worth the worst finite mean of the pool, the rule
the guided sampler applies to a diverged seed.

Example:
    >>> pool = load_pool("results/paper-properties-digits-dit")
    >>> len(pool.keys), pool.task, pool.direction
    (108, 'digits-dit', 'minimize')
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from candidates import UserError, guide_matrix

from ..driver import read_record_file
from ..reports import seed_agreement

#: Where `benchmark sampler` looks for its table when not told: the tabular benchmark of
#: results/README.md, relative to the working directory (a checkout's root).
DEFAULT_TABULAR = Path("results/tabular")


@dataclass(frozen=True)
class Pool:
    """The functions of one task of a run, each with one score (higher is better).

    >>> pool = Pool("t", "loss", "minimize", ["a", "b", "c"], {"a": -1.0, "b": -2.0, "c": -1.0},
    ...             {"a": [0.0], "b": [1.0], "c": [2.0]}, ["b", "a", "c"])
    >>> pool.top(0.01), pool.regret(["b"])
    (['a', 'c'], 1.0)
    """

    task: str
    metric: str
    direction: str
    keys: list[str]
    #: the mean metric, sign-flipped when the task minimises, so that higher is better
    score: Mapping[str, float]
    features: Mapping[str, list[float]]
    #: the keys in generate's order, the shortest canonical form first: a run's "simplest N"
    simplest: list[str]
    #: Kendall's τ between two seeds' rankings of the pool, one per seed pair: how far the
    #: table's order is the functions' and not the seeds' (empty with one seed)
    seed_tau: tuple[float, ...] = ()

    def top(self, share: float) -> list[str]:
        """The best ``share`` of the pool, best first: at least one function, and every
        function tied with the last one taken."""
        ranked = sorted(self.keys, key=lambda k: (-self.score[k], k))
        cutoff = self.score[ranked[max(1, math.floor(share * len(ranked))) - 1]]
        return [k for k in ranked if self.score[k] >= cutoff]

    def regret(self, seen: Sequence[str]) -> float:
        """How far the best of ``seen`` is from the pool's best, in the metric's units (the
        whole range when nothing was seen)."""
        best = max(self.score.values())
        return best - max((self.score[k] for k in seen), default=min(self.score.values()))


def load_pool(run_dir: str | Path, task: str | None = None) -> Pool:
    """The pool of ``run_dir``'s ``task`` (the run's only task when not given): its functions
    with a finished seed, or whose every seed diverged."""
    run_dir = Path(run_dir)
    board_path, table_path = run_dir / "leaderboard.parquet", run_dir / "candidates.parquet"
    if not board_path.is_file() or not table_path.is_file():
        raise UserError(
            f"{run_dir} is not a finished run: it needs leaderboard.parquet and "
            "candidates.parquet (`derf-search run` writes them); --tabular takes any, "
            "e.g. results/paper-properties-digits-dit"
        )
    board = read_record_file(board_path)
    tasks = sorted(board["task"].unique())
    if task is None:
        if len(tasks) != 1:
            raise UserError(f"{run_dir} holds tasks {', '.join(tasks)}: name one with --task")
        task = tasks[0]
    if task not in tasks:
        raise UserError(f"{run_dir} holds no task {task!r} (it holds {', '.join(tasks)})")
    rows = board[(board["task"] == task) & board["expression"].notna()]
    # a function whose trials all failed or were pruned has no result to look up
    rows = rows[(rows["n"] > 0) | (rows["diverged"] > 0)].drop_duplicates("candidate_id")
    if rows.empty:
        raise UserError(f"{run_dir} has no evaluated function on {task}")
    direction = str(rows["direction"].iloc[0])
    sign = 1.0 if direction == "maximize" else -1.0
    means = pd.to_numeric(rows["mean"], errors="coerce").to_numpy(dtype=float) * sign
    finite = means[np.isfinite(means)]
    if not len(finite):
        raise UserError(f"every function of {run_dir} diverged on {task}: nothing to replay")
    worst = float(finite.min())
    keys = [str(k) for k in rows["candidate_id"]]
    score = {k: float(m) if math.isfinite(m) else worst for k, m in zip(keys, means, strict=True)}
    table = read_record_file(table_path)
    shapes = guide_matrix(table)
    matrix = shapes.to_numpy(dtype=float)
    row = {str(k): i for i, k in enumerate(shapes.index)}
    features = {k: matrix[row[k]].tolist() for k in keys if k in row}
    canonical: dict[str, Any] = {}
    if "canonical" in table:  # a study's table has none: its functions' own text then
        canonical = dict(zip(table["candidate_id"].astype(str), table["canonical"], strict=True))
    written = {k: str(canonical.get(k) or e) for k, e in zip(keys, rows["expression"], strict=True)}
    simplest = sorted(keys, key=lambda k: (len(written[k]), written[k], k))
    trials_path = run_dir / "trials.parquet"
    taus = (
        tuple(seed_agreement(read_record_file(trials_path), keys, task))
        if trials_path.is_file()
        else ()
    )
    return Pool(task, str(rows["metric"].iloc[0]), direction, keys, score, features, simplest, taus)
