"""A calibration's report: ``calibration.md`` for a person, ``calibration.json`` for a program,
``plots/calibration.png`` (reference effect against proxy effect, one point per cell).

Example:
    $ derf-search calibrate --task mnist1d --cells decisive --seeds 2
    $ cat results/calibration-mnist1d-decisive/calibration.md
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from candidates import markdown_text

from ..reports import save_figure
from ._calibrate import Calibration
from ._proxy import DEGRADE_SE
from ._reference import CATEGORIES
from ._scores import Scores, number_text

#: In the plot, the reference's category is the colour and the proxy's the marker.
COLOURS = {"FAIL": "#c0392b", "DEGRADE": "#e67e22", "FINE": "#2e86c1"}
MARKERS = {"FAIL": "X", "DEGRADE": "s", "FINE": "o"}


def _share(value: float) -> str:
    return "–" if math.isnan(value) else f"{100 * value:.0f}%"


def _scores_row(name: str, s: Scores) -> str:
    kappa, spearman = number_text(s.kappa), number_text(s.spearman)
    return f"| {markdown_text(name)} | {s.cells} | {_share(s.agreement)} | {kappa} | {spearman} |"


def calibration_json(c: Calibration) -> dict[str, Any]:
    """The figures as plain JSON data."""

    def clean(value: Any) -> Any:
        if isinstance(value, float) and not math.isfinite(value):
            return None
        if isinstance(value, dict):
            return {k: clean(v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [clean(v) for v in value]
        return value

    return clean(
        {
            "task": c.task,
            "metric": c.metric,
            "protocol": c.protocol,
            "recipe": c.recipe,
            "budget": c.budget,
            "cells": c.cells_mode,
            "scored_cells": c.proxy.cells,
            "not_measured": c.not_measured,
            "failed_runs": c.failed_runs,
            "seeds": c.seeds,
            "agreement": c.proxy.agreement,
            "kappa": c.proxy.kappa,
            "spearman": c.proxy.spearman,
            "confusion": c.proxy.confusion,
            "seconds": c.seconds,
            "seconds_per_run": c.seconds_per_run,
            "runs": c.runs,
            "untrained_level": c.untrained,
            "layernorm": c.layernorm,
            "seed_noise": c.seed_noise,
            "seed_tau": c.seed_tau,
            "per_property": {p: s.to_dict() for p, s in c.per_property.items()},
            "by_shares": {
                **c.proxy_by_shares.to_dict(),
                "per_property": {p: s.to_dict() for p, s in c.per_property_by_shares.items()},
            },
            "zero_cost": {
                d: {
                    **s.to_dict(),
                    "per_property": {
                        p: ps.to_dict() for p, ps in c.zero_cost_per_property[d].items()
                    },
                }
                for d, s in c.zero_cost.items()
            },
            "best_zero_cost": c.best_zero_cost,
            # the proxy cut at shares less the best zero-cost predictor, bootstrap interval
            "kappa_gap": dict(zip(("difference", "low", "high"), c.kappa_gap, strict=True)),
            "spearman_gap": dict(zip(("difference", "low", "high"), c.spearman_gap, strict=True)),
            "verdict": c.verdict(),
            "cell_results": [
                {
                    "cell": r.key,
                    "property": r.prop,
                    "reference_value": r.reference_value,
                    "reference_category": r.reference_category,
                    "reference_effect": r.reference_effect,
                    "proxy_category": r.proxy.category,
                    "proxy_mean": r.proxy.mean,
                    "proxy_effect": r.proxy.effect,
                    "proxy_se": r.proxy.se,
                    "proxy_by_shares": r.proxy_by_shares,
                    "seeds": r.proxy.seeds,
                    "diverged": r.proxy.diverged,
                    "zero_cost": {
                        d: {"category": k, "effect": e} for d, (k, e) in r.zero_cost.items()
                    },
                }
                for r in c.cells
            ],
        }
    )


def calibration_markdown(c: Calibration) -> str:
    """The report a person reads."""
    recipe = ", ".join(c.recipe) or "the task's own"
    untrained = "not known" if c.untrained is None else f"{c.untrained:.4g}"
    lines = [
        f"# Calibration of {c.task} against the reference",
        "",
        f"Protocol `{c.protocol}`, budget `{c.budget}`, recipe changes: {recipe}; cells "
        f"`{c.cells_mode}` ({c.proxy.cells} scored, {c.not_measured} not measured yet), "
        f"{c.seeds} seeds paired across functions. Metric `{c.metric}`; untrained level "
        f"{untrained}; LayerNorm {number_text(c.layernorm, 4)}. {c.runs} runs, "
        f"{number_text(c.seconds_per_run, 1)} s per run on one CPU thread "
        f"({number_text(c.seconds / 60, 1)} minutes of training in all).",
        "",
        *(
            [
                f"**{c.failed_runs} runs failed with an error** and their cells count as not "
                f"measured; the first said: {markdown_text(c.first_failure[:200])} "
                "(every reason is in trials.parquet, column `fail_reason`).",
                "",
            ]
            if c.failed_runs
            else []
        ),
        c.verdict(),
        "",
        "| predictor | cells | agreement | Cohen's κ | Spearman |",
        "|---|---|---|---|---|",
        _scores_row("trained proxy, fixed rules", c.proxy),
        _scores_row("trained proxy, cut at the reference's shares", c.proxy_by_shares),
        *(_scores_row(f"zero-cost: {d}", s) for d, s in c.zero_cost.items()),
        "",
        f"The fixed rules (FAIL, DEGRADE beyond {DEGRADE_SE:g} standard errors) know nothing "
        "of the reference. The zero-cost categories are cut at the reference's own category shares "
        "(its share of FAIL to the lowest effects, then its share of DEGRADE), and so is the "
        "second proxy row: that pair compares like with like. Spearman is the same for both "
        "proxy rows.",
        "",
        f"## Per property (trained proxy: fixed rules / cut at shares; zero-cost "
        f"{c.best_zero_cost} in brackets)",
        "",
        "| property | cells | agreement | κ | Spearman |",
        "|---|---|---|---|---|",
    ]
    return "\n".join([*lines, *_detail_lines(c)]) + "\n"


def _detail_lines(c: Calibration) -> list[str]:
    """The report's per-property table, confusion, seed noise and cells."""
    lines: list[str] = []
    best = c.zero_cost_per_property[c.best_zero_cost]
    for prop, s in c.per_property.items():
        z, cut = best[prop], c.per_property_by_shares[prop]
        lines.append(
            f"| {prop} | {s.cells} | {_share(s.agreement)} / {_share(cut.agreement)} "
            f"({_share(z.agreement)}) | {number_text(s.kappa)} / {number_text(cut.kappa)} "
            f"({number_text(z.kappa)}) | {number_text(s.spearman)} ({number_text(z.spearman)}) |"
        )
    lines += [
        "",
        "## Confusion (rows: reference, columns: trained proxy)",
        "",
        "| reference \\ proxy | " + " | ".join(CATEGORIES) + " |",
        "|---|" + "---|" * len(CATEGORIES),
    ]
    for a in CATEGORIES:
        lines.append(
            f"| {a} | " + " | ".join(str(c.proxy.confusion[a][b]) for b in CATEGORIES) + " |"
        )
    lines += [
        "",
        "## Seed noise",
        "",
        "The median standard error of a cell's paired difference is "
        f"{number_text(c.seed_noise, 3)} "
        f"of LayerNorm's gain over the untrained level; the runs' order from one seed agrees "
        f"with another seed's at Kendall τ {number_text(c.seed_tau)} (mean over seed pairs).",
        "",
        "## Cells",
        "",
        "Effects: the reference's in its points (failed: –∞); the proxy's as a share of "
        "LayerNorm's gain, ± one standard error, seeds paired.",
        "",
        f"| cell | reference | category | proxy effect | proxy | proxy, cut at shares | "
        f"zero-cost ({c.best_zero_cost}) |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in c.cells:
        ref = "failed" if r.reference_value is None else f"{r.reference_value:g}"
        effect = (
            f"{r.proxy.effect:+.3f} ± {number_text(r.proxy.se, 3)}"
            if math.isfinite(r.proxy.effect)
            else "–"
        )
        if r.proxy.diverged:
            effect += f" ({r.proxy.diverged} diverged)"
        mark = "" if r.proxy.category in (None, r.reference_category) else " ✗"
        lines.append(
            f"| {markdown_text(r.name)} | {ref} | {r.reference_category} | {effect} | "
            f"{r.proxy.category or '–'}{mark} | {r.proxy_by_shares or '–'} | "
            f"{r.zero_cost[c.best_zero_cost][0] or '–'} |"
        )
    return lines


def plot_calibration(c: Calibration, path: Path) -> Path:
    """Reference effect (x) against proxy effect (y), one point per cell: its colour is the
    reference's category, its marker the proxy's; failed reference cells sit left of the
    rest."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    finite = [r.reference_effect for r in c.cells if math.isfinite(r.reference_effect)]
    failed_at = (min(finite) if finite else 0.0) - 0.5
    fig, ax = plt.subplots(figsize=(7, 5))
    for r in c.cells:
        if not math.isfinite(r.proxy.effect) or r.proxy.category is None:
            continue
        x = r.reference_effect if math.isfinite(r.reference_effect) else failed_at
        ax.scatter(
            x,
            r.proxy.effect,
            s=56,
            c=COLOURS[r.reference_category],
            marker=MARKERS[r.proxy.category],
            alpha=0.8,
        )
    ax.axvline(failed_at + 0.25, color="#999", lw=0.8, ls=":")
    ax.axhline(0, color="#999", lw=0.8)
    ax.set_xlabel("reference effect (points; left of the dotted line: failed)")
    ax.set_ylabel("proxy effect (share of LayerNorm's gain)")
    ax.set_title(
        f"{c.task}, {c.protocol}: κ {number_text(c.proxy.kappa)}, agreement "
        f"{_share(c.proxy.agreement)}, Spearman {number_text(c.proxy.spearman)}"
    )
    for name, colour in COLOURS.items():
        ax.scatter([], [], c=colour, marker="o", label=f"reference {name}")
    for name, marker in MARKERS.items():
        ax.scatter([], [], c="#555", marker=marker, label=f"proxy {name}")
    ax.legend(loc="lower right", fontsize=8, ncol=2, title="colour: reference, shape: proxy")
    fig.tight_layout()
    return save_figure(fig, path)


def write_calibration(run_dir: str | Path, figures: Calibration | None = None) -> Calibration:
    """Write the calibration report into ``run_dir`` (markdown, JSON, plot): ``figures``, or
    those of the calibration run in ``run_dir``, from its record."""
    from ._calibrate import read_calibration

    out = Path(run_dir)
    figures = figures if figures is not None else read_calibration(out)
    (out / "calibration.md").write_text(calibration_markdown(figures))
    (out / "calibration.json").write_text(json.dumps(calibration_json(figures), indent=1) + "\n")
    if figures.runs:
        plot_calibration(figures, out / "plots" / "calibration.png")
    return figures
