"""Benchmark commands: figures printed as ratios against a baseline run in the same process.

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
    from ._search import benchmark_search

_WHERE = {
    "benchmark_generate": "._benchmark",
    "benchmark_layer": "._benchmark",
    "benchmark_tasks": "._benchmark",
    "benchmark_search": "._search",
}

__all__ = [
    "benchmark_generate",
    "benchmark_layer",
    "benchmark_search",
    "benchmark_tasks",
]

__getattr__ = lazy_attributes(__name__, _WHERE)
