"""Leaderboards: pandas tables computed from a run's trials, the record of a search.

The leaderboard is long — one row per (candidate, task) with the fixed
:data:`LEADERBOARD_COLUMNS` — so that a CSV of any run has the same columns; the wide table
(a row per candidate, task columns side by side) is a display pivot only
(:func:`leaderboard_wide`, :func:`leaderboard_markdown`). Per task: the metric's mean ± std
over seeds, Δ against LayerNorm and DyT, the training loss in eval mode, diverged, pruned and
failed counts, compute seconds. A candidate ranks within a task by its mean among the
candidates that never diverged, then those that sometimes did; over several tasks by its mean
task rank.

Example:
    >>> trials = pd.DataFrame({"task": ["t"] * 4, "candidate_id": ["layernorm", "layernorm",
    ...     "erf", "erf"], "seed": [0, 1, 0, 1], "state": ["COMPLETE"] * 4,
    ...     "value": [0.90, 0.92, 0.93, 0.95], "diverged": [False] * 4,
    ...     "direction": ["maximize"] * 4, "train_loss_eval": [0.1] * 4, "seconds": [1.0] * 4,
    ...     "alpha0": [0.5] * 4, "duplicate": [False] * 4, "metric": ["accuracy"] * 4})
    >>> board = leaderboard(trials)
    >>> board[["rank", "candidate_id", "task", "mean", "delta_layernorm"]].round(3).values.tolist()
    [[1, 'erf', 't', 0.94, 0.03], [2, 'layernorm', 't', 0.91, 0.0]]
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pandas as pd

from candidates import DELTA_REFERENCES, PROPERTIES, UserError

from ..driver import RunSettings, as_number, read_candidates, read_trials
from ._console import display_name, predicted_text, variant, verdict_mark
from ._paired import paired_difference, tie_groups
from ._sweep import collapse_sweep, is_sweep, pareto_front


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


#: The leaderboard's columns, in order: one row per (candidate, task).
LEADERBOARD_COLUMNS: tuple[str, ...] = (
    "rank",  # the candidate's overall rank: by mean task rank (or by the one task asked for)
    "candidate_id",  # the run's key: a baseline name, a study row, or the candidate id
    "name",  # the catalog name, if any
    "kind",  # baseline | candidate
    "expression",  # f in its printed form; empty for LayerNorm and RMSNorm
    "latex",
    "shift",  # the template's s: scalar | vector | none
    "alpha0",  # the template's α0 (the run's --alpha0 where one was given)
    "passed",  # all four properties hold
    *PROPERTIES,  # each verdict
    "task",
    "metric",  # the task's metric and its direction
    "direction",
    "task_rank",  # rank within the task
    "mean",  # the metric over the seeds that finished without diverging
    "std",
    "n",
    "diverged",  # runs that diverged, were pruned, failed (a retried failure does not count)
    "pruned",
    "failed",
    "pruned_at",  # for pruned runs: the furthest epoch reached, and the mean value there
    "pruned_value",
    "train_loss_eval",  # training loss in eval mode, mean over the finished seeds
    "compute_s",  # seconds of training, all runs
    # paired over the seeds both finished (see search.reports._paired): the difference to
    # each reference baseline and to the task's leader, with its standard error, and the
    # candidate's tie group ("a": not separable from the leader)
    *(f"delta_{ref}" for ref in DELTA_REFERENCES),
    *(f"se_{ref}" for ref in DELTA_REFERENCES),
    "delta_leader",
    "se_leader",
    "p_leader",  # the paired t-test's two-sided p against the leader (nan: cannot be tested)
    "group",
    "best_alpha0",  # with --tune-alpha: the α0 of the best finished run
    # with the lr-sweep protocol (empty otherwise): the learning-rate sensitivity (mean over
    # seeds), the largest stable rate multiple (smallest over seeds), and, with the pareto
    # objective, whether the candidate is on the front of (best over the ladder, sensitivity)
    "lr_sensitivity",
    "largest_stable_lr",
    "pareto_front",
    # with the predicted objective (empty otherwise): the full-scale category and value a
    # predictor fitted on the reference predicts, with its interval (see PREDICTED_FILE)
    "predicted_category",
    "predicted_value",
    "predicted_low",
    "predicted_high",
)
#: A run's predictions under the predicted objective, written by
#: search.prediction.write_predicted into its run directory: one row per candidate.
PREDICTED_FILE = "predicted.csv"
#: Its columns: the run's key, then the leaderboard's predicted columns.
PREDICTED_COLUMNS = ("candidate_id", *LEADERBOARD_COLUMNS[-4:])
_INFO = ("name", "kind", "expression", "latex", "shift", "alpha0", "passed", *PROPERTIES)


def _once(done: pd.DataFrame) -> pd.DataFrame:
    """Each (candidate, seed, α0) counted once, by its first finished trial, whatever the
    record holds (a storage two drivers wrote before runs had a lock, a copy merged twice)."""
    key = [c for c in ("candidate_id", "seed", "alpha0") if c in done]
    ordered = done.sort_values("number", kind="stable") if "number" in done else done
    return ordered.drop_duplicates(key)


def _task_block(trials: pd.DataFrame, task: str) -> pd.DataFrame:
    """One row per candidate of ``task``: the task's columns of the leaderboard."""
    rows = trials[(trials["task"] == task) & ~trials["duplicate"]]
    direction = rows["direction"].iloc[0]
    done = _once(rows[rows["state"] == "COMPLETE"])
    ok = done[~done["diverged"]]
    grouped = ok.groupby("candidate_id")["value"]
    block = pd.DataFrame(
        {
            "mean": grouped.mean(),
            "std": grouped.std(ddof=1),
            "n": grouped.count(),
            "train_loss_eval": ok.groupby("candidate_id")["train_loss_eval"].mean(),
        }
    )
    every = rows.groupby("candidate_id")
    block = block.reindex(sorted(set(rows["candidate_id"].dropna())))
    block["n"] = block["n"].fillna(0).astype(int)
    block["diverged"] = done.groupby("candidate_id")["diverged"].sum()
    block["pruned"] = every["state"].apply(lambda s: int((s == "PRUNED").sum()))
    block["failed"] = (
        rows[(rows["state"] == "FAIL") & ~rows["retried"]].groupby("candidate_id").size()
    )
    block["compute_s"] = every["seconds"].sum(min_count=1)
    for name in ("diverged", "pruned", "failed"):
        block[name] = block[name].fillna(0).astype(int)
    # Rank: candidates with finished runs first (those that never diverged before those that
    # did), by their mean in the task's direction; then candidates whose runs were all pruned,
    # the later pruned first, by their last reported value.
    sign = -1.0 if direction == "maximize" else 1.0
    pruned = _last_reports(rows[rows["state"] == "PRUNED"])
    block["pruned_at"] = pruned["step"]
    block["pruned_value"] = pruned["value"]
    missing = block["mean"].isna()
    key = pd.DataFrame(
        {
            "diverged": block["diverged"] > 0,
            "missing": missing,
            "reached": -block["pruned_at"].where(missing).fillna(0),
            "score": sign * block["mean"].fillna(block["pruned_value"]),
        }
    ).sort_values(["missing", "diverged", "reached", "score"])
    block["task_rank"] = pd.Series(range(1, len(key) + 1), index=key.index)
    _compare(block, ok, list(key.index))
    block["best_alpha0"] = math.nan
    tuned = done.dropna(subset=["alpha0"])
    if not tuned.empty:  # α0 is a trial parameter only when it is tuned
        best = tuned.loc[(sign * tuned["value"]).groupby(tuned["candidate_id"]).idxmin()]
        block["best_alpha0"] = best.set_index("candidate_id")["alpha0"]
    if "lr_sensitivity" in done:
        swept = done.groupby("candidate_id")
        block["lr_sensitivity"] = swept["lr_sensitivity"].mean()
        # a seed at which every rate diverged has no stable rate: neither has the candidate
        block["largest_stable_lr"] = swept["largest_stable_lr"].apply(lambda v: v.min(skipna=False))
    else:
        block["lr_sensitivity"] = block["largest_stable_lr"] = math.nan
    block["pareto_front"] = None
    block["task"] = task
    block["metric"] = rows["metric"].iloc[0] if "metric" in rows else None
    block["direction"] = direction
    return block


def _compare(block: pd.DataFrame, ok: pd.DataFrame, ranked: list[Any]) -> None:
    """Fill ``block``'s paired columns from the finished runs ``ok`` (a tuned α0's several
    runs of one seed count as their mean at that seed)."""
    per_seed = ok.groupby(["candidate_id", "seed"])["value"].mean()
    values: dict[str, dict[int, float]] = {}
    for (key, seed), value in zip(per_seed.index, per_seed, strict=True):
        values.setdefault(str(key), {})[int(seed)] = float(value)
    leader = next((str(k) for k in ranked if str(k) in values), None)
    for name, ref in [*((r, r) for r in DELTA_REFERENCES), ("leader", leader)]:
        tests = [
            paired_difference(values.get(str(k), {}), values.get(str(ref), {})) for k in block.index
        ]
        block[f"delta_{name}"] = [d.mean for d in tests]
        block[f"se_{name}"] = [d.se for d in tests]
        if name == "leader":
            block["p_leader"] = [d.p for d in tests]
    groups = tie_groups([str(k) for k in ranked], values)
    block["group"] = [groups.get(str(k)) for k in block.index]


def _front_first(block: pd.DataFrame) -> pd.DataFrame:
    """The pareto objective: the front of (mean, lr-sensitivity) first, each part by rank."""
    points = {
        str(k): (float(m), float(s))
        for k, m, s in zip(block.index, block["mean"], block["lr_sensitivity"], strict=True)
    }
    front = set(pareto_front(points, str(block["direction"].iloc[0])))
    block = block.copy()
    block["pareto_front"] = [str(k) in front for k in block.index]
    order = block.sort_values(["pareto_front", "task_rank"], ascending=[False, True]).index
    block["task_rank"] = pd.Series(range(1, len(order) + 1), index=order)
    return block


def leaderboard(
    trials: pd.DataFrame,
    candidates: pd.DataFrame | None = None,
    *,
    task: str | None = None,
    objective: str = "final",
    predicted: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """The leaderboard in long form: one row per (candidate, task), :data:`LEADERBOARD_COLUMNS`,
    sorted by overall rank and then by the order of the tasks. ``task`` ranks by that task
    alone (and keeps only its rows). An lr-sweep run is ranked by ``objective`` (see
    :mod:`search.reports._sweep`), a row per candidate, not per rate. With the predicted
    objective and ``predicted`` (:data:`PREDICTED_COLUMNS`), candidates rank by their
    predicted value, higher first, and those without a prediction (norm layers) after them,
    by their proxy rank."""
    if trials.empty:
        return pd.DataFrame(columns=list(LEADERBOARD_COLUMNS))
    if candidates is not None and is_sweep(candidates):
        trials, candidates = collapse_sweep(trials, candidates, objective=objective)
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
    blocks = {t: _task_block(trials, t) for t in tasks}
    if objective == "pareto":
        blocks = {t: _front_first(b) for t, b in blocks.items()}
    ranks = pd.concat({t: b["task_rank"] for t, b in blocks.items()}, axis=1)
    # A candidate missing from a task ranks after every candidate of that task.
    ranks = ranks.fillna(ranks.max() + 1)
    order = ranks.assign(mean_rank=ranks.mean(axis=1))
    if objective == "predicted" and predicted is not None and not predicted.empty:
        value = predicted.set_index("candidate_id")["predicted_value"].astype(float).to_dict()
        order["predicted"] = [-value.get(k, math.nan) for k in order.index]  # nan sorts last
        order = order.sort_values(["predicted", "mean_rank", *tasks], na_position="last")
    else:
        order = order.sort_values(["mean_rank", *tasks])
    overall = pd.Series(range(1, len(order) + 1), index=order.index)
    long = pd.concat([b.assign(candidate_id=b.index) for b in blocks.values()], ignore_index=True)
    long["rank"] = long["candidate_id"].map(overall).astype(int)
    long["task_order"] = long["task"].map({t: i for i, t in enumerate(tasks)})
    long = long.sort_values(["rank", "task_order"]).reset_index(drop=True)
    info = (
        candidates.drop_duplicates("candidate_id").set_index("candidate_id")
        if candidates is not None
        else pd.DataFrame(index=pd.Index([], name="candidate_id"))
    )
    for column in _INFO:
        mapped = long["candidate_id"].map(info[column]) if column in info else None
        long[column] = mapped if mapped is not None else None
    if candidates is None:
        long["name"] = long["candidate_id"]
    shown = predicted.set_index("candidate_id") if predicted is not None else pd.DataFrame()
    for column in PREDICTED_COLUMNS[1:]:
        long[column] = long["candidate_id"].map(shown[column]) if column in shown else None
    return long[list(LEADERBOARD_COLUMNS)]


def read_predicted(run_dir: str | Path) -> pd.DataFrame | None:
    """A run directory's predictions (:data:`PREDICTED_FILE`), or None where it has none."""
    path = Path(run_dir) / PREDICTED_FILE
    if not path.is_file():
        return None
    try:
        table = pd.read_csv(path)
    except (OSError, ValueError, pd.errors.ParserError) as error:
        raise UserError(f"{path} cannot be read ({error}): run `leaderboard --write`") from None
    missing = [c for c in PREDICTED_COLUMNS if c not in table]
    if missing:
        raise UserError(f"{path} lacks the columns {missing}: run `leaderboard --write` again")
    return table


def leaderboard_wide(board: pd.DataFrame) -> pd.DataFrame:
    """A display pivot of the long leaderboard: one row per candidate, the task columns as
    ``"<task> <column>"`` (never parsed back: the long table is the data).

    >>> trials = pd.DataFrame({"task": ["t", "t"], "candidate_id": ["erf", "layernorm"],
    ...     "seed": [0, 0], "state": ["COMPLETE"] * 2, "value": [0.93, 0.90],
    ...     "diverged": [False] * 2, "direction": ["maximize"] * 2, "metric": ["accuracy"] * 2})
    >>> leaderboard_wide(leaderboard(trials))[["rank", "candidate_id", "t mean"]].values.tolist()
    [[1, 'erf', 0.93], [2, 'layernorm', 0.9]]
    """
    per_task = list(LEADERBOARD_COLUMNS[LEADERBOARD_COLUMNS.index("task_rank") :])
    front = [c for c in LEADERBOARD_COLUMNS if c not in (*per_task, "task", "metric", "direction")]
    wide = board.drop_duplicates("candidate_id")[front].reset_index(drop=True)
    for task in dict.fromkeys(board["task"]):
        values = board[board["task"] == task].set_index("candidate_id")[per_task]
        for column in per_task:
            wide[f"{task} {column}"] = wide["candidate_id"].map(values[column])
    summed = ["diverged", "pruned", "failed", "compute_s"]
    totals = board.groupby("candidate_id")[summed].sum()
    for column in summed:
        wide[column] = wide["candidate_id"].map(totals[column])
    return wide


def _cell(mean: float, std: float, n: int, diverged: int) -> str:
    if n == 0:
        return f"diverged ×{diverged}" if diverged else "–"
    text = f"{mean:.4f}" + (f" ± {std:.4f}" if n > 1 and math.isfinite(std) else "")
    text += f" (n={n})"
    return text + (f", diverged ×{diverged}" if diverged else "")


def leaderboard_markdown(board: pd.DataFrame, *, top: int | None = None) -> str:
    """The (long) leaderboard as a markdown table a person can read: a row per candidate, per
    task its mean ± std over seeds, its tie group (``a``: not separable from the leader) and its
    paired differences ± standard error to the leader and the reference baselines (★: on the
    Pareto front of an lr-sweep run ranked by the pareto objective)."""

    tasks = list(dict.fromkeys(board["task"]))
    labels = {"leader": "#1", "layernorm": "LN", "dyt": "DyT"}
    compared = ["leader", *DELTA_REFERENCES]
    header = ["rank", "candidate", "expression", "variant"]
    predicted = "predicted_value" in board and board["predicted_value"].notna().any()
    if predicted:  # the predicted objective ranks by it
        header.append("predicted full-scale (interval)")
    swept = board["lr_sensitivity"].notna().any() if "lr_sensitivity" in board else False
    for t in tasks:
        header += [t, f"group ({t})"]
        header += [f"Δ {labels.get(r, r)} ± se ({t})" for r in compared]
        header += [f"train loss ({t})"]
        if swept:
            header += [f"lr sensitivity ({t})", f"stable up to lr × ({t})"]
    header += ["pruned", "failed", "compute s", "Z B C M"]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    firsts = board[board["task_rank"] == 1]
    leader = dict(zip(firsts["task"], firsts["candidate_id"], strict=True))
    ranks = list(dict.fromkeys(board["rank"]))
    for rank in ranks if top is None else ranks[:top]:
        rows = board[board["rank"] == rank]
        first = rows.iloc[0]
        expr = first["expression"] if isinstance(first["expression"], str) else "(norm layer)"
        front = " ★" if (rows["pareto_front"] == True).any() else ""  # noqa: E712 (objects)
        cells = [str(rank), f"`{display_name(first)}`{front}", f"`{expr}`", variant(first)]
        if predicted:
            cells.append(predicted_text(first))
        by_task = rows.set_index("task")
        for t in tasks:
            if t not in by_task.index:
                cells += ["–"] * (3 + len(compared) + 2 * swept)
                continue
            row = by_task.loc[t]
            cells.append(_cell(row["mean"], row["std"], int(row["n"]), int(row["diverged"])))
            cells.append(row["group"] if isinstance(row["group"], str) else "–")
            for r in compared:
                if first["candidate_id"] == (leader.get(t) if r == "leader" else r):
                    cells.append("–")  # a row against itself
                    continue
                delta, se = format_signed(row[f"delta_{r}"]), as_number(row[f"se_{r}"])
                cells.append(delta + (f" ± {se:.4f}" if math.isfinite(se) else ""))
            cells.append(format_signed(row["train_loss_eval"], plus=False))
            if swept:
                cells.append(format_signed(row["lr_sensitivity"], plus=False))
                stable = as_number(row["largest_stable_lr"])
                cells.append(f"{stable:g}" if math.isfinite(stable) else "none")
        cells += [
            str(int(rows["pruned"].sum())),
            str(int(rows["failed"].sum())),
            f"{rows['compute_s'].sum():.0f}",
            " ".join(verdict_mark(first[p]) for p in PROPERTIES),
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
    objective = RunSettings.read(run_dir).objective
    return leaderboard(
        read_trials(run_dir),
        read_candidates(run_dir),
        task=task,
        objective=objective,
        predicted=read_predicted(run_dir),
    )


def write_outputs(run_dir: str | Path, *, plots: bool = True) -> pd.DataFrame:
    """A run directory's leaderboard.csv|parquet|md and (with ``plots``) its plots, from its
    record (the study, or ``trials.parquet`` where the storage is gone)."""
    from ._run_plots import plot_run

    out = Path(run_dir)
    trials, candidates = read_trials(out), read_candidates(out)
    objective = RunSettings.read(out).objective
    board = leaderboard(trials, candidates, objective=objective, predicted=read_predicted(out))
    board.to_csv(out / "leaderboard.csv", index=False)
    board.to_parquet(out / "leaderboard.parquet", index=False)
    (out / "leaderboard.md").write_text(leaderboard_markdown(board))
    if plots and not trials.empty:
        if is_sweep(candidates):  # the curves of each candidate's run at the recipe's rate
            trials, candidates = collapse_sweep(trials, candidates, objective="final")
        plot_run(out, board, trials, candidates)
    return board
