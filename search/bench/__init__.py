"""Benchmark commands: figures printed as ratios against a baseline run in the same process,
and the hostile inputs (a fixed corpus, seeded random ones) the tests and `benchmark hostile`
share, and their runner.

Names are imported on first use (see :mod:`search._lazy`).

Example:
    >>> from search import bench
    >>> callable(bench.benchmark_layer)
    True
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .._lazy import lazy_attributes

if TYPE_CHECKING:
    from ._benchmark import benchmark_generate, benchmark_layer, benchmark_tasks
    from ._hostile import (
        KEEP_CHARS,
        HostileFigures,
        Outcome,
        Status,
        benchmark_hostile,
        run_case,
        run_cases,
    )
    from ._hostile_cases import (
        HOSTILE_EXPRESSIONS,
        MALFORMED_GRAMMARS,
        NON_UTF8_GRAMMARS,
        HostileCase,
        hostile_corpus,
    )
    from ._hostile_random import random_cases, random_expression, random_grammar
    from ._replay import (
        SAMPLERS,
        Replay,
        SamplerFigures,
        benchmark_sampler,
        compare_samplers,
        make_replay_sampler,
        ratio_interval,
        replay,
        surrogate_agreement,
    )
    from ._search import SEARCH_BENCHMARK_TASK, benchmark_search
    from ._tabular import DEFAULT_TABULAR, Pool, load_pool
    from ._throughput import PACK_FUNCTIONS, benchmark_throughput, step_flops

_WHERE = {
    "benchmark_generate": "._benchmark",
    "benchmark_layer": "._benchmark",
    "benchmark_tasks": "._benchmark",
    "benchmark_search": "._search",
    "benchmark_throughput": "._throughput",
    "step_flops": "._throughput",
    "PACK_FUNCTIONS": "._throughput",
    "SEARCH_BENCHMARK_TASK": "._search",
    "SAMPLERS": "._replay",
    "Replay": "._replay",
    "SamplerFigures": "._replay",
    "benchmark_sampler": "._replay",
    "compare_samplers": "._replay",
    "make_replay_sampler": "._replay",
    "replay": "._replay",
    "ratio_interval": "._replay",
    "surrogate_agreement": "._replay",
    "DEFAULT_TABULAR": "._tabular",
    "Pool": "._tabular",
    "load_pool": "._tabular",
    "benchmark_hostile": "._hostile",
    "HostileFigures": "._hostile",
    "KEEP_CHARS": "._hostile",
    "Outcome": "._hostile",
    "Status": "._hostile",
    "run_case": "._hostile",
    "run_cases": "._hostile",
    "HOSTILE_EXPRESSIONS": "._hostile_cases",
    "MALFORMED_GRAMMARS": "._hostile_cases",
    "NON_UTF8_GRAMMARS": "._hostile_cases",
    "HostileCase": "._hostile_cases",
    "hostile_corpus": "._hostile_cases",
    "random_cases": "._hostile_random",
    "random_expression": "._hostile_random",
    "random_grammar": "._hostile_random",
}

__all__ = [
    "DEFAULT_TABULAR",
    "HOSTILE_EXPRESSIONS",
    "KEEP_CHARS",
    "MALFORMED_GRAMMARS",
    "NON_UTF8_GRAMMARS",
    "PACK_FUNCTIONS",
    "SAMPLERS",
    "SEARCH_BENCHMARK_TASK",
    "HostileCase",
    "HostileFigures",
    "Outcome",
    "Pool",
    "Replay",
    "SamplerFigures",
    "Status",
    "benchmark_generate",
    "benchmark_hostile",
    "benchmark_layer",
    "benchmark_sampler",
    "benchmark_search",
    "benchmark_tasks",
    "benchmark_throughput",
    "compare_samplers",
    "hostile_corpus",
    "load_pool",
    "make_replay_sampler",
    "random_cases",
    "random_expression",
    "random_grammar",
    "ratio_interval",
    "replay",
    "run_case",
    "run_cases",
    "step_flops",
    "surrogate_agreement",
]

__getattr__ = lazy_attributes(__name__, _WHERE)
