"""`derf-search map`: a run's candidates placed in shape-descriptor space.

Each candidate is a point of its :data:`candidates.SHAPE_DESCRIPTORS` (standardised), projected
on the first two principal components of the run's candidates; evaluated candidates are
coloured by their mean metric on the run's first task, the others (a grammar run's generated
but untrained candidates) are grey; the point-wise baselines (erf, and tanh, DyT's function)
are labelled. Candidates without descriptors (nan: f never saturates, or its slope at 0 is
zero) are left out and counted.

Example:
    >>> import tempfile
    >>> from pathlib import Path
    >>> table = pd.DataFrame({"candidate_id": ["erf", "a", "b"], "name": ["erf", None, None],
    ...     "expression": ["erf(x)", "x/(1 + abs(x))", "clip(x, -1, 1)"]})
    >>> path = plot_map(table, {"erf": 0.9, "a": 0.8}, Path(tempfile.mkdtemp()) / "map.png",
    ...                 metric="accuracy")
    >>> path.name
    'map.png'
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pandas as pd

from candidates import shape_matrix

from ..driver import read_candidates
from ._leaderboard import load_leaderboard
from ._run_plots import pyplot, save_figure

#: Point-wise baselines marked on the map, by name.
MARKED = ("erf", "tanh", "dyt")


def project(matrix: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """The rows' coordinates on the first two principal components of the standardised
    descriptors, and the share of variance each explains.

    >>> coords, share = project(pd.DataFrame({"a": [0.0, 1.0, 2.0], "b": [0.0, 2.0, 4.0]}))
    >>> coords.shape, [round(float(s), 2) for s in share]
    ((3, 2), [1.0, 0.0])
    """
    values = matrix.to_numpy(dtype=float)
    spread = values.std(axis=0)
    scaled = (values - values.mean(axis=0)) / np.where(spread > 0, spread, 1.0)
    _, singular, components = np.linalg.svd(scaled, full_matrices=False)
    share = singular**2 / max(float((singular**2).sum()), 1e-300)
    coords = scaled @ components[:2].T
    if coords.shape[1] < 2:  # a single descriptor direction: pad the second axis
        coords = np.column_stack([coords, np.zeros(len(coords))])
        share = np.append(share, 0.0)
    return coords, share[:2]


def plot_map(
    table: pd.DataFrame, metric_of: Mapping[str, float], path: Path, *, metric: str
) -> Path:
    """Draw the map of ``table``'s candidates (see the module docstring) to ``path``."""
    plt = pyplot()
    matrix = shape_matrix(table).dropna()
    names = {
        str(k): str(n) for k, n in zip(table["candidate_id"], table["name"], strict=True)
        if isinstance(n, str)
    }  # fmt: skip
    functions = table.drop_duplicates("candidate_id")["expression"]
    left_out = int(functions.map(lambda e: isinstance(e, str)).sum()) - len(matrix)
    fig, ax = plt.subplots(figsize=(7, 5.5))
    if len(matrix) >= 2:
        coords, share = project(matrix)
        keys = list(matrix.index)
        scored = np.array([k in metric_of and math.isfinite(metric_of[k]) for k in keys])
        if (~scored).any():
            # a whole grammar is ~50,000 grey points: drawn as an image inside the SVG (a
            # vector of each made it 5 MB), while the evaluated ones stay vectors
            ax.scatter(*coords[~scored].T, s=8, c="0.8", label="not evaluated", rasterized=True)
        if scored.any():
            values = [metric_of[k] for k, s in zip(keys, scored, strict=True) if s]
            # the scale spans the 2nd to 98th percentile: one diverged or collapsed function
            # would otherwise crush every other colour into one end
            low, high = np.percentile(values, [2, 98])
            points = ax.scatter(
                *coords[scored].T, s=28, c=values, cmap="viridis", vmin=low, vmax=high
            )
            fig.colorbar(points, ax=ax, label=metric, extend="both")
        for key, (x, y) in zip(keys, coords, strict=True):
            if names.get(key) in MARKED:
                ax.scatter([x], [y], s=90, facecolors="none", edgecolors="tab:red")
                ax.annotate(names[key], (x, y), xytext=(4, 4), textcoords="offset points")
        ax.set_xlabel(f"shape component 1 ({share[0]:.0%} of the variance)")
        ax.set_ylabel(f"shape component 2 ({share[1]:.0%} of the variance)")
    else:
        ax.text(0.5, 0.5, "fewer than two candidates with shape descriptors", ha="center")
    title = f"{len(matrix)} candidates in shape-descriptor space"
    if left_out:
        title += f" ({left_out} without descriptors)"
    ax.set_title(title, fontsize=10)
    if ax.get_legend_handles_labels()[0]:
        ax.legend(fontsize=8, frameon=False)
    fig.tight_layout()
    return save_figure(fig, path)


def map_run(run_dir: str | Path) -> Path:
    """``plots/map.png`` (and .svg) of a run directory: its candidates, and those its
    ``generate/`` step wrote but the run did not train."""
    out = Path(run_dir)
    table = read_candidates(out)
    generated = out / "generate" / "candidates.parquet"
    if generated.is_file():
        more = pd.read_parquet(generated)
        more = more[~more["candidate_id"].isin(set(table["id"].dropna()))]
        table = pd.concat([table, more], ignore_index=True)
    board = load_leaderboard(out)
    task = board["task"].iloc[0] if len(board) else None
    rows = board[board["task"] == task]
    metric_of = {str(k): float(v) for k, v in zip(rows["candidate_id"], rows["mean"], strict=True)}
    metric = str(rows["metric"].iloc[0]) if len(rows) else "metric"
    return plot_map(table, metric_of, out / "plots" / "map.png", metric=f"{metric} ({task})")
