"""`derf-search benchmark search`: what the Ray + Optuna path costs and what it buys.

Prints three figures, each from runs made in this process:

1. the per-trial overhead of the search path (Ray dispatch and results, the driver's asks,
   reports and tells in SQLite) as a share of a 10 s trial;
2. the speed-up of 2 workers over 1 on the same trials;
3. for the paper catalog on one task, the share of the exhaustive full-budget compute that
   successive halving and hyperband need, and whether they return the same top 3.

Example:
    $ derf-search benchmark search --task mnist1d --budget 8
"""

from __future__ import annotations

import statistics
import tempfile
from pathlib import Path
from typing import Any

from ..driver import RunSettings, RunSummary, load_trials, open_studies, run_search
from ..reports import load_leaderboard


def _run(out: Path, **kw: Any) -> RunSummary:
    values: dict[str, Any] = {"device": "cpu", "out": str(out), "study_name": out.name}
    values.update(kw)
    return run_search(RunSettings(**values), progress=False)


def _top3(run_dir: Path) -> list[str]:
    board = load_leaderboard(run_dir)
    return [str(c) for c in board.drop_duplicates("candidate_id")["candidate_id"].head(3)]


def _epochs(run_dir: Path) -> tuple[int, float]:
    trials = load_trials(open_studies(run_dir))
    return int(trials["epochs"].fillna(0).sum()), float(trials["seconds"].sum())


#: The task `benchmark search` measures when not told.
SEARCH_BENCHMARK_TASK = "mnist1d"


def benchmark_search(
    *, task: str = SEARCH_BENCHMARK_TASK, budget: str = "default", work: Path | None = None
) -> dict[str, float]:
    """Run the three measurements and print them; returns the figures."""
    import ray

    from ..driver import init_ray

    root = Path(work or tempfile.mkdtemp(prefix="derf-bench-"))
    init_ray(address=None, workers=2, gpus_per_trial=0.0)
    figures: dict[str, float] = {}
    catalog = ("isru", "arctan", "smoothsign", "expsign")

    # 1. overhead per trial: one worker, so the driver's own time is never hidden behind
    #    another worker's training.
    def run(out: Path, **kw: Any) -> RunSummary:  # every run: this task at this budget
        return _run(out, tasks=(task,), budget=budget, **kw)

    one = run(root / "overhead", expressions=catalog, seeds=2, workers=1)
    dispatch = statistics.median(one.dispatch_seconds[1:])  # the first includes start-up
    trials = len(one.dispatch_seconds)
    bookkeeping = one.bookkeeping_seconds / trials
    overhead = dispatch + bookkeeping
    figures.update(
        overhead_seconds=overhead,
        overhead_share_of_10s=overhead / 10.0,
        worker_startup_seconds=one.dispatch_seconds[0] - dispatch,
    )
    print(f"search path overhead ({trials} trials of {task}, 1 worker):")
    print(f"  Ray dispatch and result per trial (median): {dispatch * 1000:7.1f} ms")
    print(f"  driver ask + report + tell per trial:       {bookkeeping * 1000:7.1f} ms")
    print(
        f"  overhead per trial {overhead:.3f} s = {100 * overhead / 10:.2f}% of a 10 s trial "
        "(target <= 5%)"
    )
    startup = figures["worker_startup_seconds"]
    print(f"  once per worker: start-up (torch import, data) {startup:.1f} s")

    # 2. two workers against one, the same trials
    two = run(root / "two-workers", expressions=catalog, seeds=2, workers=2)
    speedup = one.loop_seconds / two.loop_seconds
    figures["speedup_2_workers"] = speedup
    print(f"2 workers vs 1 on the same {trials} trials:")
    print(
        f"  {one.loop_seconds:.1f} s -> {two.loop_seconds:.1f} s: {speedup:.2f}x (target >= 1.8x)"
    )

    # 3. pruning on the paper catalog: the same top 3 for how much of the compute?
    full_dir = root / "exhaustive"
    run(full_dir, catalog="paper", seeds=1, workers=2)
    full_epochs, full_seconds = _epochs(full_dir)
    reference = _top3(full_dir)
    print(f"paper catalog + baselines on {task}, 1 seed, budget {budget}: top 3 {reference}")
    print(f"  exhaustive: {full_epochs} epochs, {full_seconds:.0f} s of training")
    for pruner in ("successive-halving", "hyperband"):
        run_dir = root / pruner
        run(run_dir, catalog="paper", seeds=1, workers=2, pruner=pruner)
        epochs, seconds = _epochs(run_dir)
        top = _top3(run_dir)
        same = top == reference
        figures[f"{pruner}_epoch_share"] = epochs / full_epochs
        figures[f"{pruner}_same_top3"] = float(same)
        print(
            f"  {pruner:<19} {epochs:4d} epochs = {100 * epochs / full_epochs:5.1f}% of the "
            f"epochs ({100 * seconds / full_seconds:5.1f}% of the seconds); top 3 {top}: "
            f"{'same' if same else 'DIFFERENT'} (target <= 40%, same top 3)"
        )
    ray.shutdown()
    return figures
