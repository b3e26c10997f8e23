"""`derf-search sanity-panel`: can a proxy task tell known-bad functions from erf?

Runs a fixed panel of functions — the LayerNorm and RMSNorm baselines, erf, tanh, and functions
that break one property each — over several seeds on each task, and writes a Markdown table:
metric mean ± std, parameters and seconds per run, and whether each function differs from erf
by more than seed noise (|Δmean| > 2·standard error of the difference).

A recipe can be changed for the panel only (``--lr``, ``--clip-grad``, ``--warmup``,
``--depth``), the same change for every function, to calibrate a task before its recipe is
changed for good; ``--functions`` runs part of the panel (erf, the reference, always runs).
Each run is a trial spec on a Ray worker, the path a search's trials take.

Example:
    $ derf-search sanity-panel --task digits-vit --seeds 5 --out docs/sanity-panel.md
    $ derf-search sanity-panel --task mnist1d --seeds 2 --lr 1e-2 --clip-grad none --depth 8 \\
        --functions layernorm x "sin(x)"
"""

from __future__ import annotations

import math
import statistics
import time
from collections import deque
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


#: What a panel row keeps of a run's result, after its task, candidate and seed.
RESULT_COLUMNS = ("value", "diverged", "seconds", "parameters", "metric", "direction")


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
    max_steps: int | None = None,
) -> list[dict[str, Any]]:
    """All runs of the panel, on ``workers`` Ray workers of one CPU thread each; Ray is
    started here (and stopped after) unless it is up already. ``max_steps`` caps every run's
    optimizer steps (for smoke tests). Rows in the order the runs finish."""
    import ray

    from candidates import TEMPLATE, UserError

    from ..driver import TrialSpec, init_ray, start_worker

    if workers < 1:
        raise UserError(f"--workers must be at least 1, but got {workers}")
    change = tuple((recipe or {}).items())
    jobs: deque[TrialSpec] = deque()
    for task in tasks:
        for candidate in panel_functions(functions):
            jobs.extend(
                TrialSpec(
                    trial=len(jobs),
                    task=task,
                    candidate=candidate,
                    shift=TEMPLATE,  # the function's own (DyT: no shift)
                    seed=seed,
                    budget=budget,
                    alpha0=None,
                    device="cpu",
                    max_steps=max_steps,
                    recipe=change,
                )
                for seed in range(seeds)
            )
    started = not ray.is_initialized()
    init_ray(address=None, workers=workers, gpus_per_trial=0)
    try:
        cpus = ray.cluster_resources().get("CPU", 0.0)
        if workers > cpus:  # a worker that never gets a CPU would hold its jobs forever
            raise UserError(f"--workers {workers} asks for more CPUs than Ray has ({cpus:g})")
        actors = [start_worker(threads=1) for _ in range(workers)]
        idle = list(actors)
        running: dict[Any, tuple[Any, TrialSpec]] = {}  # a run's result ref: its worker, its spec
        rows: list[dict[str, Any]] = []
        try:
            while jobs or running:
                while idle and jobs:
                    worker, spec = idle.pop(), jobs.popleft()
                    running[worker.run.remote(spec, None)] = (worker, spec)
                (ref,), _ = ray.wait(list(running), num_returns=1)
                worker, spec = running.pop(ref)
                result = ray.get(ref)
                idle.append(worker)
                rows.append(
                    {"task": spec.task, "candidate": spec.candidate, "seed": spec.seed}
                    | {k: result[k] for k in RESULT_COLUMNS}
                )
        finally:
            for worker in actors:  # a Ray that outlives the panel gets its CPUs back
                ray.kill(worker)
    finally:
        if started:
            ray.shutdown()
    return rows


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
    max_steps: int | None = None,
) -> str:
    """Run the panel (:func:`run_panel`), write its Markdown to ``out`` and return it."""
    start = time.perf_counter()
    rows = run_panel(
        tasks,
        seeds=seeds,
        budget=budget,
        workers=workers,
        recipe=recipe,
        functions=functions,
        max_steps=max_steps,
    )
    text = panel_markdown(rows, seeds=seeds, budget=budget, recipe=recipe, functions=functions)
    text += f"\n({len(rows)} runs in {time.perf_counter() - start:.0f} s on {workers} workers)\n"
    if out is not None:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(text)
    return text
