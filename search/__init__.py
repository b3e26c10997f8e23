"""derf-search's driver side: the `derf-search` command line, candidate generation runs,
reports and plots (and, on top of the evaluators, the Optuna/Ray search)."""

from __future__ import annotations

__all__: list[str] = []
