"""Plots of a search: the leaderboard, the winners' shapes, learning curves, property verdicts.

Each is written as PNG and SVG under ``plots/``.

Example:
    >>> import tempfile
    >>> board = pd.DataFrame({"rank": [1, 2], "candidate_id": ["erf", "layernorm"],
    ...     "name": ["erf", "layernorm"], "kind": ["baseline"] * 2, "task": ["t", "t"],
    ...     "mean": [0.94, 0.91], "std": [0.01, 0.02]})
    >>> path = plot_leaderboard(board, Path(tempfile.mkdtemp()))
    >>> path.name, path.with_suffix(".svg").exists()
    ('leaderboard.png', True)
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from candidates import DELTA_REFERENCES, PROPERTIES, compile_numpy, parse

from ._console import display_name
from ._paired import TIE_ALPHA


def pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def save_figure(fig: Any, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    fig.savefig(path.with_suffix(".svg"))
    pyplot().close(fig)
    return path


def _label(row: pd.Series) -> str:
    name = display_name(row)
    return name if len(name) <= 24 else name[:23] + "…"


def _candidates(board: pd.DataFrame) -> pd.DataFrame:
    """One row per candidate of the long leaderboard, in rank order."""
    return board.drop_duplicates("candidate_id").reset_index(drop=True)


def plot_leaderboard(board: pd.DataFrame, plots: Path, *, top: int = 30) -> Path:
    """Per task, mean ± std of the metric per candidate with its tie group over the bar, the
    reference baselines (LayerNorm, erf, DyT) as lines."""
    plt = pyplot()
    tasks = list(dict.fromkeys(board["task"]))
    top_ids = list(_candidates(board)["candidate_id"].head(top))
    width = max(6, 0.32 * len(top_ids) + 2)
    fig, axes = plt.subplots(1, len(tasks), figsize=(width * len(tasks), 4.2), squeeze=False)
    for ax, task in zip(axes[0], tasks, strict=True):
        rows = board[board["task"] == task]
        shown = rows[rows["candidate_id"].isin(top_ids)]
        means = shown["mean"].to_numpy(dtype=float)
        stds = np.nan_to_num(shown["std"].to_numpy(dtype=float))
        labels = [_label(r) for _, r in shown.iterrows()]
        colors = ["tab:orange" if k == "baseline" else "tab:blue" for k in shown["kind"]]
        ax.bar(range(len(shown)), means, yerr=stds, color=colors, capsize=2)
        # the tie group over each bar: a bar's letter says which others it cannot be told from
        tops = np.where(np.isfinite(means), means + stds, np.nan)
        groups = shown["group"] if "group" in shown else [None] * len(shown)
        for i, (top_, group) in enumerate(zip(tops, groups, strict=True)):
            if isinstance(group, str) and math.isfinite(top_):
                ax.annotate(group, (i, top_), xytext=(0, 2), textcoords="offset points",
                            ha="center", va="bottom", fontsize=7)  # fmt: skip
        for ref, style in zip(DELTA_REFERENCES, ("--", ":", "-."), strict=False):
            match = rows.loc[rows["candidate_id"] == ref, "mean"]
            if len(match) and math.isfinite(float(match.iloc[0])):
                ax.axhline(float(match.iloc[0]), color="0.3", ls=style, lw=1, label=ref)
        finite = np.isfinite(means)
        if finite.any():  # room for the error bars and the letters over them
            low, high = float((means - stds)[finite].min()), float(tops[finite].max())
            spread = max(high - low, 1e-3)
            ax.set_ylim(low - 0.1 * spread, high + 0.15 * spread)
        ax.set_xticks(range(len(shown)), labels, rotation=60, ha="right", fontsize=8)
        ax.set_title(
            f"{task}: mean ± std over seeds (orange: baselines)\nletters: tie groups by "
            f"paired t-tests, Holm {TIE_ALPHA:.0%} (a: not separable from #1)",
            fontsize=9,
        )
        if ax.get_legend_handles_labels()[0]:  # a run without LayerNorm or DyT has no lines
            ax.legend(fontsize=8, frameon=False)
    fig.tight_layout()
    return save_figure(fig, plots / "leaderboard.png")


def plot_top_shapes(board: pd.DataFrame, plots: Path, *, top: int = 8) -> Path:
    """The shapes of the top candidates (point-wise functions only) beside erf and tanh."""
    plt = pyplot()
    ranked = _candidates(board)
    rows = ranked[ranked["expression"].map(lambda e: isinstance(e, str))].head(top)
    x = np.linspace(-4, 4, 801)
    refs = {n: compile_numpy(parse(f"{n}(x)"))(x) for n in ("erf", "tanh")}
    cols = min(4, max(len(rows), 1))
    nrows = max(1, math.ceil(len(rows) / cols))
    fig, axes = plt.subplots(nrows, cols, figsize=(3 * cols, 2.4 * nrows), squeeze=False)
    for ax in axes.flat:
        ax.set_visible(False)
    for ax, (_, row) in zip(axes.flat, rows.iterrows(), strict=False):
        ax.set_visible(True)
        with np.errstate(all="ignore"):
            y = np.asarray(compile_numpy(parse(row["expression"]))(x), dtype=float)
        y = y / (np.nanmax(np.abs(y)) or 1.0)
        ax.plot(x, refs["erf"], color="0.6", ls="--", lw=1)
        ax.plot(x, refs["tanh"], color="0.8", ls=":", lw=1)
        ax.plot(x, y, color="tab:blue", lw=1.8)
        ax.set_title(f"#{row['rank']} {_label(row)}"[:40], fontsize=9)
        ax.set_ylim(-1.15, 1.15)
        ax.tick_params(labelsize=7)
    fig.suptitle("top candidates, f(x)/max|f| (dashed: erf, dotted: tanh)", fontsize=10)
    fig.tight_layout()
    return save_figure(fig, plots / "shapes.png")


def plot_curves(board: pd.DataFrame, trials: pd.DataFrame, plots: Path, *, top: int = 6) -> Path:
    """Validation metric per epoch, mean over seeds, for the top candidates and the baselines."""
    plt = pyplot()
    tasks = list(dict.fromkeys(trials["task"]))
    ranked = _candidates(board)
    baselines = list(ranked.loc[ranked["kind"] == "baseline", "candidate_id"])
    keep = list(dict.fromkeys([*ranked["candidate_id"].head(top), *baselines]))
    names = dict(
        zip(ranked["candidate_id"], [_label(r) for _, r in ranked.iterrows()], strict=True)
    )
    fig, axes = plt.subplots(1, len(tasks), figsize=(6 * len(tasks), 4), squeeze=False)
    for ax, task in zip(axes[0], tasks, strict=True):
        rows = trials[(trials["task"] == task) & trials["state"].isin(["COMPLETE", "PRUNED"])]
        for key in keep:
            curves = [json.loads(c) for c in rows.loc[rows["candidate_id"] == key, "curve"]]
            points = pd.DataFrame([p for c in curves for p in c])
            if points.empty:
                continue
            mean = points.groupby("epoch")["metric"].mean()
            style = "--" if key in baselines else "-"
            ax.plot(mean.index, mean.to_numpy(), style, label=names.get(key, key), lw=1.4)
        ax.set_xlabel("epoch")
        ax.set_ylabel(str(rows["metric"].iloc[0]) if len(rows) else "metric")
        ax.set_title(f"{task}: validation metric, mean over seeds", fontsize=10)
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=7, frameon=False)
    fig.tight_layout()
    return save_figure(fig, plots / "curves.png")


def plot_properties(board: pd.DataFrame, plots: Path, *, top: int = 40) -> Path:
    """Pass (green) / fail (red) / not a function (grey) per candidate and property."""
    plt = pyplot()
    rows = _candidates(board).head(top)
    values = np.full((len(rows), len(PROPERTIES)), np.nan)
    for i, (_, row) in enumerate(rows.iterrows()):
        for j, prop in enumerate(PROPERTIES):
            verdict = row.get(prop)
            if isinstance(verdict, (bool, np.bool_)):
                values[i, j] = float(verdict)
    fig, ax = plt.subplots(figsize=(4.5, 0.28 * len(rows) + 1.5))
    cmap = plt.get_cmap("RdYlGn").with_extremes(bad="0.85")
    ax.imshow(np.ma.masked_invalid(values), cmap=cmap, vmin=0, vmax=1, aspect="auto")
    ax.set_xticks(range(len(PROPERTIES)), [p.replace("_", "\n") for p in PROPERTIES], fontsize=8)
    ax.set_yticks(
        range(len(rows)), [f"#{r['rank']} {_label(r)}" for _, r in rows.iterrows()], fontsize=8
    )
    ax.set_title("property verdicts (green pass, red fail, grey: norm layer)", fontsize=9)
    fig.tight_layout()
    return save_figure(fig, plots / "properties.png")


def plot_run(
    out: Path, board: pd.DataFrame, trials: pd.DataFrame, candidates: pd.DataFrame
) -> list[Path]:
    """Every plot of a run directory."""
    plots = Path(out) / "plots"
    return [
        plot_leaderboard(board, plots),
        plot_curves(board, trials, plots),
        plot_top_shapes(board, plots),
        plot_properties(board, plots),
    ]
