"""`derf-search sanity-panel`: can a proxy task tell known-bad functions from erf?

Runs a fixed panel of functions — the LayerNorm and RMSNorm baselines, erf, tanh, and functions
that break one property each — over several seeds on each task, and writes a Markdown table:
metric mean ± std, parameters and seconds per run, and whether each function differs from erf
by more than seed noise (|Δmean| > 2·standard error of the difference).

A recipe can be changed for the panel only (``--lr``, ``--clip-grad``, ``--warmup``,
``--depth``), the same change for every function, to calibrate a task before its recipe is
changed for good; ``--functions`` runs part of the panel (erf, the reference, always runs).

Example:
    $ derf-search sanity-panel --task digits-vit --seeds 5 --out docs/sanity-panel.md
    $ derf-search sanity-panel --task mnist1d --seeds 2 --lr 1e-2 --clip-grad none --depth 8 \\
        --functions layernorm x "sin(x)"
"""

from __future__ import annotations

import math
import multiprocessing as mp
import statistics
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

PANEL: tuple[tuple[str, str], ...] = (
    ("layernorm", "LayerNorm"),
    ("rmsnorm", "RMSNorm"),
    ("erf", "erf(x)"),
    ("tanh", "tanh(x)"),
    ("x", "x (unbounded)"),
    ("sign(x)*erf(max(abs(x) - 2, 0))", "erf flattened on [-2, 2]"),
    ("0.5*erf(x) + 0.5*x", "0.5·erf(x) + 0.5·x (unbounded)"),
    ("sin(x)", "sin(x) (not monotonic)"),
    ("erf(x) + 1", "erf(x) + 1 (not zero-centred)"),
)


LABELS = dict(PANEL)


def panel_functions(functions: Sequence[str] | None = None) -> list[str]:
    """The panel's functions in panel order, or the ones asked for with erf first added.

    Example:
        >>> panel_functions(["x", "erf(x) + 1"])
        ['erf', 'x', 'erf(x) + 1']
    """
    if not functions:
        return [c for c, _ in PANEL]
    chosen = list(dict.fromkeys(functions))
    return chosen if "erf" in chosen else ["erf", *chosen]


def _run(job: tuple[str, str, int, str, dict[str, Any]]) -> dict[str, Any]:
    import torch

    from evaluators import apply_recipe, get_task, train

    torch.set_num_threads(1)  # one run per core
    task_name, candidate, seed, budget, recipe = job
    task, plan = apply_recipe(get_task(task_name), budget, recipe)
    result = train(task, candidate, seed=seed, budget=plan, device="cpu")
    return {
        "task": task_name,
        "candidate": candidate,
        "seed": seed,
        "value": result.value,
        "diverged": result.diverged,
        "seconds": result.seconds,
        "parameters": result.parameters,
        "metric": result.metric,
        "direction": result.direction,
    }


def _summary(values: list[float]) -> tuple[float, float]:
    finite = [v for v in values if math.isfinite(v)]
    if not finite:
        return math.nan, math.nan
    return statistics.fmean(finite), (statistics.stdev(finite) if len(finite) > 1 else 0.0)


def run_panel(
    tasks: Sequence[str],
    *,
    seeds: int = 5,
    budget: str = "default",
    workers: int = 2,
    recipe: Mapping[str, Any] | None = None,
    functions: Sequence[str] | None = None,
) -> list[dict[str, Any]]:
    """All runs of the panel, in parallel processes (one torch thread each)."""
    change = dict(recipe or {})
    jobs = [
        (t, c, s, budget, change)
        for t in tasks
        for c in panel_functions(functions)
        for s in range(seeds)
    ]
    with mp.get_context("spawn").Pool(workers) as pool:
        return list(pool.imap_unordered(_run, jobs))


def panel_markdown(
    rows: list[dict[str, Any]],
    *,
    seeds: int,
    budget: str,
    recipe: Mapping[str, Any] | None = None,
    functions: Sequence[str] | None = None,
) -> str:
    """One table per task, rows in panel order."""
    change = ", ".join(f"{k} = {v}" for k, v in (recipe or {}).items())
    lines = [
        f"Seeds 0–{seeds - 1}, budget `{budget}`"
        + (f", recipe changed for every function: {change}" if change else "")
        + ", one CPU thread per run. ‘separated’: "
        "|mean − mean(erf)| > 2 standard errors of the difference.",
        "",
    ]
    order = panel_functions(functions)
    for task in sorted({r["task"] for r in rows}):
        mine = [r for r in rows if r["task"] == task]
        metric, direction = mine[0]["metric"], mine[0]["direction"]
        by = {c: [r for r in mine if r["candidate"] == c] for c in order}
        erf_mean, erf_sd = _summary([r["value"] for r in by["erf"]])
        lines += [
            f"### {task}: {metric} ({'higher' if direction == 'maximize' else 'lower'} is better)",
            "",
            "| function | mean ± std | diverged | vs erf | params | s/run |",
            "|---|---:|---:|---|---:|---:|",
        ]
        for candidate in order:
            runs, label = by[candidate], LABELS.get(candidate, candidate)
            mean, sd = _summary([r["value"] for r in runs])
            diverged = sum(r["diverged"] for r in runs)
            if candidate == "erf":
                verdict = "—"
            else:
                se = math.sqrt((sd**2 + erf_sd**2) / max(len(runs), 1))
                delta = mean - erf_mean
                better = delta > 0 if direction == "maximize" else delta < 0
                verdict = (
                    ("better" if better else "worse") + f" ({delta:+.4f})"
                    if abs(delta) > 2 * se
                    else f"not separated ({delta:+.4f})"
                )
            seconds = statistics.fmean(r["seconds"] for r in runs)
            lines.append(
                f"| {label} | {mean:.4f} ± {sd:.4f} | {diverged}/{len(runs)} | "
                f"{verdict} | {runs[0]['parameters']:,} | {seconds:.1f} |"
            )
        lines.append("")
    return "\n".join(lines)


def sanity_panel(
    tasks: Sequence[str],
    *,
    seeds: int,
    budget: str,
    workers: int,
    out: Path | None,
    recipe: Mapping[str, Any] | None = None,
    functions: Sequence[str] | None = None,
) -> str:
    start = time.perf_counter()
    rows = run_panel(
        tasks, seeds=seeds, budget=budget, workers=workers, recipe=recipe, functions=functions
    )
    text = panel_markdown(rows, seeds=seeds, budget=budget, recipe=recipe, functions=functions)
    text += f"\n({len(rows)} runs in {time.perf_counter() - start:.0f} s on {workers} workers)\n"
    if out is not None:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(text)
    return text
