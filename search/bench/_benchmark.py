"""`derf-search benchmark`: the candidate engine's speed, measured and printed.

Prints, for the default grammar (or the one given): expressions screened per second, the
end-to-end time of the generate pipeline on every core beside one worker (its baseline, run in
the same process), its stages, the CPU time per written candidate and the share spent in
sympy, and the screen's speed-up over checking each expression one by one.

Example:
    $ derf-search benchmark --max-expressions 100000
    $ derf-search benchmark generate --max-expressions 600000 --max-candidates 100000
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np


def _per_expression_baseline(texts: list[str], primitives: Mapping[str, Any]) -> float:
    """Seconds per expression when each is compiled and screened on its own."""
    from candidates import SCREEN_GRID as GRID
    from candidates import numpy_from_text, screen

    start = time.perf_counter()
    for text in texts:
        with np.errstate(all="ignore"):
            values = numpy_from_text(text, primitives=primitives)(GRID)
            screen(np.asarray(values, dtype=float)[None, :])
    return (time.perf_counter() - start) / max(len(texts), 1)


def _generate_once(
    grammar: str | None, max_expressions: int, max_candidates: int, workers: int | None
) -> tuple[dict[str, Any], float]:
    """One `generate` into a scratch folder: its summary and wall seconds (writing included)."""
    from ..driver import GenerateSettings, generate

    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        summary = generate(
            GenerateSettings(
                grammar=grammar,
                max_expressions=max_expressions,
                max_candidates=max_candidates,
                workers=workers,
                out=Path(tmp),
                progress=False,
            )
        )
        return summary, time.perf_counter() - start


def benchmark_generate(
    *,
    max_expressions: int = 100_000,
    grammar: str | None = None,
    repeats: int = 1,
    max_candidates: int = 2000,
    workers: int | None = None,
) -> dict[str, float]:
    """Run and print the benchmark; returns the figures.

    `generate` runs twice in this process: on one worker (the baseline) and on ``workers``
    (default: every core), with ``max_candidates`` written (sympy's texts, the symbolic
    confirmations in their budget, and the descriptors for each).
    """
    import os

    from candidates import compile_numpy, enumerate_space, load_grammar

    g = load_grammar(grammar)
    figures: dict[str, float] = {}
    screen_times = []
    for _ in range(repeats):
        result = enumerate_space(g, max_expressions=max_expressions)
        screen_times.append(result.seconds)
    screen_s = min(screen_times)
    rate = result.enumerated / screen_s
    prims = {n: compile_numpy(e) for n, e in g.primitives.items()}
    sample = [s.text for s in result.survivors[:: max(1, len(result.survivors) // 500)]][:500]
    per_expr = _per_expression_baseline(sample, prims)
    figures.update(
        screen_seconds=screen_s,
        expressions_per_second=rate,
        baseline_expressions_per_second=1 / per_expr,
        screen_speedup=rate * per_expr,
    )

    cores = max(1, workers or os.cpu_count() or 1)
    # every core first: its work runs in fresh worker processes, so the serial run after it
    # (in this process) finds no cache the parallel one has warmed, nor the other way round
    summary, wall = _generate_once(grammar, max_expressions, max_candidates, cores)
    serial, serial_wall = (
        (summary, wall)  # on one worker the run is its own baseline
        if cores == 1
        else _generate_once(grammar, max_expressions, max_candidates, 1)
    )
    written = max(serial["written"], 1)
    figures.update(
        generate_seconds=wall,
        serial_generate_seconds=serial_wall,
        parallel_speedup=serial_wall / wall,
        pipeline_seconds=summary["seconds"],
        cpu_ms_per_written=1000 * serial["cpu_seconds"] / written,
        sympy_share=summary["sympy_share"],
        unique=summary["unique"],
        passing=summary["passing"],
        written=summary["written"],
        enumerated=summary["enumerated"],
    )

    _print_generate(g.path, result.enumerated, repeats, figures, summary, cores)
    return figures


def _print_generate(
    grammar_path: str,
    screened: int,
    repeats: int,
    figures: Mapping[str, float],
    summary: Mapping[str, Any],
    cores: int,
) -> None:
    """The generate benchmark's lines, from its figures and the parallel run's summary."""
    screen_s, rate = figures["screen_seconds"], figures["expressions_per_second"]
    per_expr = 1 / figures["baseline_expressions_per_second"]
    wall, serial_wall = figures["generate_seconds"], figures["serial_generate_seconds"]
    print(f"grammar                       {grammar_path}")
    print(f"expressions screened          {screened:,}")
    print(
        f"screen time                   {screen_s:.2f} s "
        f"({rate:,.0f} expressions/s, best of {repeats})"
    )
    print(
        f"one-by-one baseline           {1 / per_expr:,.0f} expressions/s "
        f"(vectorised screen is {rate * per_expr:.0f}x faster)"
    )
    print(
        f"generate, end to end          {wall:.1f} s on {cores} worker(s), {serial_wall:.1f} s "
        f"on one ({serial_wall / wall:.2f}x), for {summary['enumerated']:,} expressions"
    )
    print(
        f"  unique / passing / written  {summary['unique']:,} / {summary['passing']:,} / "
        f"{summary['written']:,} (each written with sympy's texts and its descriptors)"
    )
    timings = summary["timings"]
    print(
        f"  stages                      screen {timings['screen']:.1f} s, dedupe + numeric "
        f"checks {timings['dedupe']:.1f} s, sympy + descriptors {timings['check']:.1f} s, "
        f"writing {wall - timings['total']:.1f} s"
    )
    print(
        f"  CPU per written candidate   {figures['cpu_ms_per_written']:.1f} ms (one worker, "
        "the whole run's CPU time over the candidates written), "
        f"{summary['sympy_seconds']:.1f} s of {summary['cpu_seconds']:.1f} s CPU in sympy "
        f"({summary['sympy_share']:.0%})"
    )


def _time_fwd_bwd(
    modules: Mapping[str, Any],
    x: Any,
    *,
    repeats: int,
    warmup: int = 5,
    sync: Callable[[], None] = lambda: None,
) -> dict[str, float]:
    """Median seconds of one forward + backward pass of each module; ``sync`` waits for the
    device (CUDA runs asynchronously: without it a pass would time its launch only).

    The modules take turns, one pass each per round, so a change in the machine's load (another
    process, frequency scaling) falls on all of them alike and their ratio stays fair.
    """
    import statistics

    times: dict[str, list[float]] = {name: [] for name in modules}
    for i in range(warmup + repeats):
        for name, module in modules.items():
            x.grad = None
            sync()
            start = time.perf_counter()
            module(x).sum().backward()
            sync()
            if i >= warmup:
                times[name].append(time.perf_counter() - start)
    return {name: statistics.median(t) for name, t in times.items()}


def benchmark_layer(
    *,
    shape: tuple[int, int, int] = (32, 128, 256),
    repeats: int = 30,
    compile_too: bool = True,
    device: str = "cpu",
) -> dict[str, float]:
    """PointwiseNorm(erf) against nn.LayerNorm on the same (B, T, C) tensor, in one process,
    on ``device`` (cpu, cuda or auto)."""
    import torch

    from evaluators import PointwiseNorm, resolve_device

    dev = resolve_device(device)
    sync = torch.cuda.synchronize if dev.type == "cuda" else (lambda: None)
    torch.manual_seed(0)
    x = torch.randn(*shape, device=dev, requires_grad=True)
    layers = {
        "layernorm": torch.nn.LayerNorm(shape[-1]).to(dev),
        "erf": PointwiseNorm(shape[-1], "erf").to(dev),
    }
    figures: dict[str, float] = {}
    for name, seconds in _time_fwd_bwd(layers, x, repeats=repeats, sync=sync).items():
        figures[f"eager_{name}"] = seconds
    figures["eager_ratio"] = figures["eager_erf"] / figures["eager_layernorm"]
    where = (
        torch.cuda.get_device_name(dev)
        if dev.type == "cuda"
        else f"{torch.get_num_threads()} threads"
    )
    print(
        f"forward+backward on {tuple(shape)} float32, {where}, "
        f"median of {repeats}, the two layers taking turns"
    )
    print(
        f"  eager     LayerNorm {figures['eager_layernorm'] * 1e3:7.3f} ms   "
        f"PointwiseNorm(erf) {figures['eager_erf'] * 1e3:7.3f} ms   "
        f"ratio {figures['eager_ratio']:.2f}"
    )
    if compile_too:
        try:
            compiled = {name: torch.compile(layer) for name, layer in layers.items()}
            for name, seconds in _time_fwd_bwd(compiled, x, repeats=repeats, sync=sync).items():
                figures[f"compiled_{name}"] = seconds
            figures["compiled_ratio"] = figures["compiled_erf"] / figures["compiled_layernorm"]
            print(
                f"  compiled  LayerNorm {figures['compiled_layernorm'] * 1e3:7.3f} ms   "
                f"PointwiseNorm(erf) {figures['compiled_erf'] * 1e3:7.3f} ms   "
                f"ratio {figures['compiled_ratio']:.2f} (target <= 1.0)"
            )
        except Exception as exc:  # torch.compile needs a working C++ toolchain
            print(f"  compiled  not available here: {type(exc).__name__}: {exc}"[:200])
    return figures


def benchmark_tasks(*, budget: str = "default", candidate: str = "erf") -> dict[str, float]:
    """Seconds of one run of each task at ``budget``, on one CPU thread."""
    import torch

    from evaluators import get_task, task_names, train

    torch.set_num_threads(1)
    figures = {}
    print(f"one {budget} run per task with {candidate}, one CPU thread")
    for name in task_names():
        result = train(get_task(name), candidate, budget=budget, seed=0, device="cpu")
        figures[name] = result.seconds
        print(
            f"  {name:<12} {result.seconds:6.1f} s  {result.steps:5d} steps  "
            f"{result.metric} {result.value:.4f}  ({result.parameters:,} parameters)"
        )
    return figures
