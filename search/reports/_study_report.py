"""Reports of the built-in studies: one table per property (rows functions, columns λ) or per
ablation, cells mean ± std over seeds or "diverged (step)", each beside the property checker's
verdict; plots of the metric against λ.

Example:
    $ derf-search study properties --task digits-vit --seeds 3
    $ cat results/paper-properties-digits-vit/report.md
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from candidates import DELTA_REFERENCES, PAPER, PROPERTIES, markdown_text

from ._leaderboard import format_signed, leaderboard

#: The property each group of the property study is about.
GROUP_PROPERTY = {
    "zero-centredness": "zero_centered",
    "boundedness": "bounded",
    "centre sensitivity": "center_sensitive",
    "monotonicity": "monotonic",
}


def _stats(trials: pd.DataFrame, task: str) -> dict[str, dict[str, Any]]:
    """Per candidate key: mean, std, n, diverged count and median diverged step."""
    rows = trials[(trials["task"] == task) & (trials["state"] == "COMPLETE")]
    out: dict[str, dict[str, Any]] = {}
    for key, group in rows.groupby("candidate_id"):
        ok = group[~group["diverged"]]["value"]
        steps = group[group["diverged"]]["diverged_step"].dropna()
        out[str(key)] = {
            "mean": ok.mean() if len(ok) else math.nan,
            "std": ok.std(ddof=1) if len(ok) > 1 else math.nan,
            "n": len(ok),
            "diverged": int(group["diverged"].sum()),
            "seeds": len(group),
            "step": int(steps.median()) if len(steps) else None,
        }
    return out


def _cell(stat: dict[str, Any] | None) -> str:
    if stat is None:
        return "–"
    if stat["n"] == 0:
        return f"diverged (step {stat['step']})" if stat["diverged"] else "–"
    text = f"{stat['mean']:.4f}"
    if math.isfinite(stat["std"]):
        text += f" ± {stat['std']:.4f}"
    if stat["diverged"]:
        text += f" ({stat['diverged']}/{stat['seeds']} diverged)"
    return text


def _mark(value: Any) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    return " ✓" if bool(value) else " ✗"


def _property_of(group: str) -> str | None:
    return next((p for g, p in GROUP_PROPERTY.items() if group.startswith(g)), None)


def _group_table(rows: pd.DataFrame, stats: dict[str, dict[str, Any]]) -> str:
    prop = _property_of(str(rows["group"].iloc[0]))
    lams = [lam for lam in dict.fromkeys(rows["lam"]) if lam is not None and not pd.isna(lam)]
    has_unclipped = rows["lam"].isna().any() and bool(lams)
    columns = (["unclipped"] if has_unclipped else []) + [f"λ={lam:g}" for lam in lams]
    if not columns:
        columns = ["metric"]
    lines = ["| function | " + " | ".join(columns) + " |", "|---|" + "---|" * len(columns)]
    for function, block in rows.groupby("function", sort=False):
        cells = []
        for column in columns:
            if column in ("unclipped", "metric"):
                match = block[block["lam"].isna()]
            else:
                lam = float(column[2:])
                match = block[block["lam"].map(lambda v, lam=lam: v is not None and v == lam)]
            if match.empty:
                cells.append("")
                continue
            row = match.iloc[0]
            verdict = _mark(row.get(prop)) if prop else ""
            cells.append(_cell(stats.get(str(row["candidate_id"]))) + verdict)
        label = markdown_text(function)  # |x| must not end a table cell
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    note = f"\n✓/✗: the checker's verdict on *{prop.replace('_', ' ')}*.\n" if prop else "\n"
    return "\n".join(lines) + "\n" + note


def seed_taus(values: Mapping[str, Mapping[int, float]]) -> list[float]:
    """Kendall's τ between two seeds' orders of the runs, for every pair of seeds, over the
    runs both seeds have; ``values`` maps run -> seed -> metric, signed so that higher is
    better (a diverged run is −inf: it ranks last). Pairs with fewer than three runs, or a
    constant side, give no τ.

    >>> taus = seed_taus({"a": {0: 0.1, 1: 0.15}, "b": {0: 0.2, 1: 0.25}, "c": {0: 0.3, 1: 0.2}})
    >>> [round(t, 3) for t in taus]
    [0.333]
    """
    from itertools import combinations

    from scipy.stats import kendalltau

    seeds = sorted({seed for per_seed in values.values() for seed in per_seed})
    taus = []
    for a, b in combinations(seeds, 2):
        both = [(v[a], v[b]) for v in values.values() if a in v and b in v]
        if len(both) < 3:
            continue
        tau = float(kendalltau([x for x, _ in both], [y for _, y in both]).statistic)
        if math.isfinite(tau):
            taus.append(tau)
    return taus


def seed_agreement(trials: pd.DataFrame, keys: list[str], task: str) -> list[float]:
    """:func:`seed_taus` of the runs ``keys`` of ``task``'s finished trials (a (run, seed)
    counts once, a diverged run ranks last): how far one seed's ranking can be trusted.

    Example:
        >>> t = pd.DataFrame({"task": "t", "state": "COMPLETE", "direction": "maximize",
        ...                   "candidate_id": list("abcabc"), "seed": [0, 0, 0, 1, 1, 1],
        ...                   "value": [0.1, 0.2, 0.3, 0.15, 0.25, 0.2], "diverged": False})
        >>> [round(x, 2) for x in seed_agreement(t, ["a", "b", "c"], "t")]
        [0.33]
    """
    rows = trials[(trials["task"] == task) & (trials["state"] == "COMPLETE")]
    rows = rows[rows["candidate_id"].isin(keys)].drop_duplicates(["candidate_id", "seed"])
    if rows.empty:
        return []
    sign = 1.0 if rows["direction"].iloc[0] == "maximize" else -1.0
    values: dict[str, dict[int, float]] = {}
    for r in rows.to_dict("records"):
        bad = bool(r["diverged"]) or r["value"] is None or not math.isfinite(float(r["value"]))
        values.setdefault(str(r["candidate_id"]), {})[int(r["seed"])] = (
            -math.inf if bad else sign * float(r["value"])
        )
    return seed_taus(values)


def _catalog_tables(
    candidates: pd.DataFrame, trials: pd.DataFrame, task: str, stats: dict[str, dict[str, Any]]
) -> str:
    search = candidates[candidates["group"] == "function search"]
    board = leaderboard(
        trials[trials["candidate_id"].isin(search["candidate_id"])], search, task=task
    )
    lines = [
        "| rank | function | metric | Δ vs LayerNorm | train loss (eval mode) | Z B C M |",
        "|---|---|---|---|---|---|",
    ]
    for _, row in board.iterrows():
        verdicts = " ".join(_mark(row.get(p)).strip() or "–" for p in PROPERTIES)
        delta = row.get("delta_layernorm")
        loss = row.get("train_loss_eval")
        lines.append(
            f"| {row['rank']} | {row['candidate_id']} | {_cell(stats.get(row['candidate_id']))} | "
            f"{format_signed(delta)} | {format_signed(loss, plus=False)} | {verdicts} |"
        )
    text = "\n".join(lines) + "\n"
    paper = [e.name for e in PAPER]
    taus = seed_agreement(trials, paper, task)
    if taus:
        text += (
            f"\nSeed stability: the {len(paper)} catalog functions' ranking from one seed agrees "
            f"with another seed's at Kendall τ {statistics.fmean(taus):.2f} (mean over "
            f"{len(taus)} seed pairs; lowest {min(taus):.2f}).\n"
        )
    for group in ("ablation: without s", "ablation: per-channel s"):
        rows = candidates[candidates["group"] == group]
        label = "without s" if "without" in group else "per-channel s"
        text += f"\n#### {group}\n\n| function | scalar s | {label} | Δ |\n|---|---|---|---|\n"
        for _, row in rows.iterrows():
            base, variant = stats.get(str(row["function"])), stats.get(str(row["candidate_id"]))
            delta = variant["mean"] - base["mean"] if base and variant else math.nan
            cells = (str(row["function"]), _cell(base), _cell(variant), format_signed(delta))
            text += "| " + " | ".join(cells) + " |\n"
    text += "\n#### ablation: tanh(1.205x) against erf\n\n| function | metric |\n|---|---|\n"
    for key, label in (
        ("erf", "erf(x)"),
        ("tanh1205", "tanh(1.205x)"),
        ("tanh", "tanh(x)"),
        ("dyt", "DyT: tanh(x), no s"),
    ):
        text += f"| {label} | {_cell(stats.get(key))} |\n"
    return text


def study_report(run_dir: Path, study: str, candidates: pd.DataFrame, trials: pd.DataFrame) -> str:
    """The markdown report of a study run; also writes the λ plots."""
    tasks = list(dict.fromkeys(trials["task"])) if not trials.empty else []
    parts = [f"# Study `{study}`\n"]
    # A baseline that shares its run with a study row (DyT is tanh without s) goes by that run.
    runs = dict(
        zip(
            candidates.get("row", candidates["candidate_id"]),
            candidates["candidate_id"],
            strict=True,
        )
    )
    for task in tasks:
        stats = _stats(trials, task)
        for ref in DELTA_REFERENCES:
            if ref not in stats and runs.get(ref) in stats:
                stats[ref] = stats[runs[ref]]
        rows = trials[trials["task"] == task]
        metric, direction = rows["metric"].iloc[0], rows["direction"].iloc[0]
        arrow = "higher is better" if direction == "maximize" else "lower is better"
        parts.append(f"\n## {task}: {metric} ({arrow}), mean ± std over seeds\n")
        for ref in DELTA_REFERENCES:
            if ref in stats:
                parts.append(f"- {ref}: {_cell(stats[ref])}\n")
        if study == "catalog":
            parts.append("\n### function search\n\n")
            parts.append(_catalog_tables(candidates, trials, task, stats))
            continue
        for group, block in candidates.groupby("group", sort=False):
            if group == "baselines":
                continue
            parts.append(f"\n### {group}\n\n")
            parts.append(_group_table(block, stats))
        # one figure per task; a study of one task keeps the plain name
        name = "study-lambda" if len(tasks) == 1 else f"study-lambda-{task}"
        plot_lambda(run_dir, candidates, stats, task, str(metric), str(direction), name=name)
    return "".join(parts)


def plot_lambda(
    run_dir: Path,
    candidates: pd.DataFrame,
    stats: dict[str, dict[str, Any]],
    task: str,
    metric: str,
    direction: str = "maximize",
    *,
    name: str = "study-lambda",
) -> Path:
    """Write ``plots/{name}.png`` (and .svg): :func:`lambda_figure` of one task."""
    from ._run_plots import save_figure

    fig = lambda_figure(candidates, stats, task, metric, direction)
    return save_figure(fig, Path(run_dir) / "plots" / f"{name}.png")


def lambda_figure(
    candidates: pd.DataFrame,
    stats: dict[str, dict[str, Any]],
    task: str,
    metric: str,
    direction: str = "maximize",
) -> Any:
    """Per property group with λ, the metric against λ per function; a λ at which every seed
    diverged is a × on the worst edge of the axis (the bottom when higher is better, the top
    when lower is better), never at a value the metric could take.

    Example:
        >>> import pandas as pd
        >>> rows = pd.DataFrame({"group": ["g", "g"], "lam": [0.0, 1.0],
        ...                      "function": ["erf", "erf"], "candidate_id": ["a", "b"]})
        >>> stats = {"a": {"mean": 0.2, "std": 0.0, "n": 1}, "b": {"n": 0}}
        >>> len(lambda_figure(rows, stats, "t", "loss", "minimize").axes)
        1
    """
    from ._console import metric_label
    from ._run_plots import pyplot

    plt = pyplot()
    worst, edge = (0.0, "bottom") if direction == "maximize" else (1.0, "top")
    groups = [g for g, b in candidates.groupby("group", sort=False) if b["lam"].notna().any()]
    cols = min(3, max(len(groups), 1))
    nrows = max(1, math.ceil(len(groups) / cols))
    fig, axes = plt.subplots(nrows, cols, figsize=(5 * cols, 3.8 * nrows), squeeze=False)
    for ax in axes.flat[len(groups) :]:
        ax.set_visible(False)
    for ax, group in zip(axes.flat, groups, strict=False):
        block = candidates[(candidates["group"] == group) & candidates["lam"].notna()]
        # λ values as evenly spaced categories: they span 0.01 to 5 and include negatives
        lams = sorted({float(v) for v in block["lam"]})
        where = {lam: i for i, lam in enumerate(lams)}
        for function, rows in block.groupby("function", sort=False):
            xs = [where[float(v)] for v in rows["lam"]]
            points = [stats.get(str(k)) for k in rows["candidate_id"]]
            means = [p["mean"] if p and p["n"] else math.nan for p in points]
            stds = [p["std"] if p and p["n"] > 1 else 0.0 for p in points]
            line = ax.errorbar(
                xs, means, yerr=stds, marker="o", ms=3, capsize=2, lw=1.2, label=str(function)
            )
            lost = [x for x, p in zip(xs, points, strict=True) if p and p["n"] == 0]
            if lost:  # every seed diverged: y in axes coordinates, so off the metric's scale
                ax.plot(
                    lost,
                    [worst] * len(lost),
                    "x",
                    color=line[0].get_color(),
                    ms=8,
                    transform=ax.get_xaxis_transform(),
                    clip_on=False,
                )
        for ref, style in (("layernorm", "--"), ("dyt", ":")):
            if ref in stats and stats[ref]["n"]:
                ax.axhline(stats[ref]["mean"], color="0.3", ls=style, lw=1, label=ref)
        ax.set_xticks(range(len(lams)), [f"{lam:g}" for lam in lams])
        ax.set_xlabel(f"λ (× at the {edge}: every seed diverged)")
        ax.set_ylabel(metric_label(metric, direction))
        ax.set_title(f"{task}: {group!s}", fontsize=9)
        ax.legend(fontsize=7, frameon=False)
    fig.tight_layout()
    return fig


def write_study_report(run_dir: Path, study: str) -> Path:
    """Read a study run directory and write its ``report.md`` (and plots)."""
    from ..driver import read_candidates, read_trials

    candidates = read_candidates(run_dir)
    trials = read_trials(run_dir)
    path = Path(run_dir) / "report.md"
    path.write_text(study_report(Path(run_dir), study, candidates, trials))
    return path
