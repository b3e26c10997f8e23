"""The ladder plot of a function: each growth signal against steps, a line per width, and the
fitted law extrapolated, dashed, to the target scale with its interval.

Example:
    >>> import tempfile
    >>> WIDTHS = (16, 32, 64, 128, 256)  # a line per width, however many
    >>> curves = pd.DataFrame([
    ...     {"number": i, "candidate_id": f"erf@w{w}", "seed": 0, "step": s,
    ...      "signal": "residual_rms", "layer": "blocks.0", "value": 0.1 * w**0.5 * s**0.2}
    ...     for i, w in enumerate(WIDTHS) for s in (2, 4, 8, 16, 32, 64, 100)])
    >>> rungs = {f"erf@w{w}": ("erf", w) for w in WIDTHS}
    >>> out = Path(tempfile.mkdtemp()) / "erf.png"
    >>> plot_ladder(curves, rungs, dict.fromkeys(range(len(WIDTHS)), 100), "erf", out,
    ...             target={"width": 768, "steps": 94000}, stable=(0.0, 0.2)).name
    'erf.png'
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pandas as pd

from candidates import UserError

from ..driver import combined_series
from ..reports import pyplot, save_figure
from ._growth_fit import fit_growth, stable_steps

#: The signals a ladder plot shows (the ones an unbounded function passes on; runs older than
#: the norm layers' output signal show that panel empty).
PLOTTED = ("attention_logit", "residual_rms", "norm_input", "norm_output", "output_logit")


def plot_ladder(
    curves: pd.DataFrame,
    rungs: Mapping[str, tuple[str, int]],
    totals: Mapping[int, int],
    candidate: str,
    path: Path,
    *,
    target: Mapping[str, float],
    stable: tuple[float, float],
    title: str | None = None,
) -> Path:
    """``candidate``'s ladder (seed 0, or its first seed): a panel per signal of
    :data:`PLOTTED`, the stable phase of each width's run (the points the fit uses), and the
    fitted law at the target width from the ladder's last step to the target's, dashed, with
    the prediction interval at the target. ``stable`` is (warmup, decay) as shares of a run."""
    plt = pyplot()
    mine = curves[curves["candidate_id"].map(lambda k: rungs.get(str(k), ("",))[0] == candidate)]
    seed = int(mine["seed"].min()) if len(mine) else 0
    mine = mine[mine["seed"] == seed]
    fig, axes = plt.subplots(1, len(PLOTTED), figsize=(3.6 * len(PLOTTED), 3.0), squeeze=False)
    widths = sorted({rungs[str(k)][1] for k in mine["candidate_id"].unique()})
    colours = plt.cm.viridis(np.linspace(0, 0.85, max(len(widths), 1)))  # one a width
    for ax, signal in zip(axes.flat, PLOTTED, strict=True):
        points: list[tuple[dict[str, float], float]] = []
        for colour, width in zip(colours, widths, strict=True):
            rows = mine[mine["candidate_id"].map(lambda k, w=width: rungs[str(k)][1] == w)]
            for number, trial in rows.groupby("number"):
                first, last = stable_steps(
                    totals[int(str(number))], warmup_fraction=stable[0], decay_fraction=stable[1]
                )
                growth = trial[["step", "signal", "layer", "value"]].itertuples(index=False)
                series = [
                    (s, v)
                    for s, v in combined_series(growth).get(signal, [])
                    if first <= s <= last and v > 0
                ]
                if series:
                    steps, values = zip(*series, strict=True)
                    ax.plot(steps, values, color=colour, lw=1.2, label=f"width {width}")
                    points += [({"width": width, "steps": s}, v) for s, v in series]
        try:
            fit = fit_growth(points, axes=("width", "steps"))
        except UserError:  # too few widths or steps to fit: the curves alone
            fit = None
        if fit is not None:
            last_step = max(p[0]["steps"] for p in points)
            ahead = np.geomspace(last_step, target["steps"], 20)
            line = [fit.at({"width": target["width"], "steps": s}) for s in ahead]
            ax.plot(ahead, line, "k--", lw=1, label=f"width {target['width']:g}, fitted")
            low, high = fit.interval(target)
            ax.errorbar(
                [target["steps"]],
                [fit.at(target)],
                yerr=[[fit.at(target) - math.exp(low)], [math.exp(high) - fit.at(target)]],
                fmt="ko",
                ms=3,
                capsize=3,
            )
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_title(signal.replace("_", " "), fontsize=9)
        ax.set_xlabel("step", fontsize=8)
        ax.tick_params(labelsize=7)
    named = [ax for ax in axes.flat if ax.get_legend_handles_labels()[0]]
    if named:  # the widths, once: on the first panel with curves
        named[0].legend(fontsize=6)
    fig.suptitle(title or f"{candidate}: growth over the ladder (seed {seed})", fontsize=10)
    fig.tight_layout()
    return save_figure(fig, path)


def plot_ladders(
    run_dir: str | Path, functions: Mapping[str, str], out: Path, *, target: Mapping[str, float]
) -> list[Path]:
    """The ladder plot of each function (name -> expression) a ladder run trained, into
    ``out`` as ``ladder-<task>-<name>.png`` (names made safe for a file; the task keeps two
    sources' plots of one function apart, and a name made safe into another's gets its
    function's id); none for another protocol."""
    import re

    from candidates import Candidate

    from ..driver import RunSettings, read_candidates
    from ._features import finished_trials, function_keys
    from ._growth_fit import ladder_record

    settings = RunSettings.read(run_dir)
    if settings.protocol != "ladder":  # nothing to read
        return []
    table = read_candidates(run_dir)
    record = ladder_record(run_dir, table, finished_trials(run_dir, settings.tasks[0]))
    if record is None:
        return []
    keys = function_keys(table, settings.protocol)

    def file_safe(text: str) -> str:
        return re.sub(r"[^A-Za-z0-9._-]+", "_", text).strip("_")[:60] or "function"

    task = file_safe(settings.tasks[0])
    paths: list[Path] = []
    for name, expression in functions.items():
        key = keys.get(Candidate.from_text(expression).sympy)
        if key is None:
            continue
        safe = file_safe(name)
        path = out / f"ladder-{task}-{safe}.png"
        if path in paths:  # "x/(1+abs(x))" and "x/(1 + abs(x))" are both x_1_abs_x
            path = out / f"ladder-{task}-{safe}-{key[:12]}.png"
        paths.append(
            plot_ladder(
                record.curves,
                record.rungs,
                record.totals,
                key,
                path,
                target=target,
                stable=record.stable,
                title=f"{name}: growth over the ladder, extrapolated to width {target['width']:g}",
            )
        )
    return paths
