"""`derf-search benchmark throughput`: proxy runs per hour, one at a time and packed.

Every figure comes from the same process, on the same device: the single-run path
(:func:`evaluators.train`, one run after another) and :func:`evaluators.train_packed` at each
pack size, each over the same capped number of steps, with runs per hour, the ratio against
the single-run path, peak device memory (CUDA) and the arithmetic rate achieved (FLOPs counted
once by ``torch.utils.flop_counter`` for one step of one model).

Example:
    >>> figures = benchmark_throughput(task="mnist1d", device="cpu", packs=(2,), steps=2,
    ...                                quiet=True)
    >>> [row["pack"] for row in figures["rows"]], figures["rows"][1]["runs_per_hour"] > 0
    ([1, 2], True)
"""

from __future__ import annotations

import json
import time
import warnings
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

import torch

#: The functions a benchmark pack cycles through (a mix, as a search's packs hold).
PACK_FUNCTIONS = ("erf", "tanh(x)", "isru", "x/(1 + abs(x))")


def _members(size: int) -> list[Any]:
    from evaluators import Member

    return [Member(PACK_FUNCTIONS[k % len(PACK_FUNCTIONS)], seed=k) for k in range(size)]


def step_flops(task_name: str, batch_size: int) -> float:
    """FLOPs of one training step (forward and backward) of one model with erf."""
    from torch.utils.flop_counter import FlopCounterMode

    from evaluators import get_task, norm_factory

    task = get_task(task_name)
    model = task.build_model(norm_factory("erf"))
    train_split, _ = task.splits(0)
    inputs, targets = train_split.inputs[:batch_size], train_split.targets[:batch_size]
    with FlopCounterMode(display=False) as counter:
        task.loss(model, inputs, targets).backward()
    return float(counter.get_total_flops())


def _timed(device: torch.device, work: Any) -> tuple[float, float | None]:
    """Seconds ``work()`` takes and, on CUDA, its peak memory in MiB."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)
        torch.cuda.reset_peak_memory_stats(device)
    start = time.perf_counter()
    work()
    if device.type == "cuda":
        torch.cuda.synchronize(device)
        return time.perf_counter() - start, torch.cuda.max_memory_allocated(device) / 2**20
    return time.perf_counter() - start, None


def benchmark_throughput(
    *,
    task: str = "digits-dit",
    device: str = "cpu",
    packs: Sequence[int] = (1, 4, 16, 64),
    steps: int = 100,
    budget: str = "default",
    as_json: bool = False,
    quiet: bool = False,
) -> dict[str, Any]:
    """Runs per hour of ``steps``-step runs of ``task``: single runs (as many as the largest
    pack, at most 4) and each pack size; printed as a table (or JSON), returned as a dict."""
    from evaluators import get_task, resolve_device, train, train_packed

    dev = resolve_device(device)
    plan = replace(get_task(task).budget(budget), max_steps=steps)
    flops = step_flops(task, plan.batch_size) * steps
    singles = min(4, max(packs))
    rows: list[dict[str, Any]] = []

    def row(pack: int, runs: int, seconds: float, memory: float | None) -> None:
        rate = runs * 3600 / seconds
        rows.append(
            {
                "pack": pack,
                "path": "single runs" if pack == 1 else f"pack of {pack}",
                "runs": runs,
                "seconds": round(seconds, 3),
                "runs_per_hour": round(rate, 1),
                "ratio": round(rate / rows[0]["runs_per_hour"], 3) if rows else 1.0,
                "peak_mib": None if memory is None else round(memory, 1),
                "tflops": round(flops * runs / seconds / 1e12, 5),
            }
        )

    members = _members(singles)
    seconds, memory = _timed(
        dev,
        lambda: [
            train(get_task(task), m.candidate, seed=m.seed, budget=plan, device=str(dev))
            for m in members
        ],
    )
    row(1, singles, seconds, memory)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="There is a performance drop")
        for size in packs:
            if size == 1:
                continue
            seconds, memory = _timed(
                dev,
                lambda s=size: train_packed(
                    get_task(task), _members(s), budget=plan, device=str(dev)
                ),
            )
            row(size, size, seconds, memory)
    figures = {"task": task, "device": str(dev), "steps": steps, "rows": rows}
    if not quiet:
        print(json.dumps(figures, indent=2) if as_json else _table(figures))
    return figures


def _table(figures: dict[str, Any]) -> str:
    lines = [
        f"throughput: {figures['task']} on {figures['device']}, runs of {figures['steps']} steps",
        f"{'path':<14}{'runs':>6}{'seconds':>10}{'runs/hour':>12}{'ratio':>8}"
        f"{'peak MiB':>10}{'TFLOP/s':>10}",
    ]
    for r in figures["rows"]:
        peak = "-" if r["peak_mib"] is None else f"{r['peak_mib']:.0f}"
        lines.append(
            f"{r['path']:<14}{r['runs']:>6}{r['seconds']:>10.2f}{r['runs_per_hour']:>12.0f}"
            f"{r['ratio']:>8.2f}{peak:>10}{r['tflops']:>10.4f}"
        )
    return "\n".join(lines)
