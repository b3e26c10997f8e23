"""One trial, the unit of work of a search: what it is (:class:`TrialSpec`) and how it runs
in the process at hand (:func:`run_trial`). Ray workers and `derf-search evaluate` both run
trials this way; nothing here imports Ray.

Example:
    >>> spec = TrialSpec(trial=0, task="digits-vit", candidate="erf", shift="scalar", seed=0,
    ...                  budget="quick", alpha0=0.5, device="cpu", max_steps=2)
    >>> run_trial(spec).steps
    2
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # torch is imported where trials run, not by the driver
    from evaluators import RunResult, Task


@dataclass(frozen=True)
class TrialSpec:
    """Everything a worker needs for one trial (small and picklable)."""

    trial: int  # a key the driver maps back to its Optuna trial
    task: str
    candidate: str  # a baseline name or an expression
    shift: str  # scalar, vector, none, or candidates.TEMPLATE: the candidate's own
    seed: int
    budget: str
    alpha0: float | None  # None: the candidate's catalog template (else DEFAULT_ALPHA0)
    device: str
    max_steps: int | None = None
    # Recipe changes for this trial only (a Budget field or depth, see evaluators.apply_recipe):
    # pairs, not a dict, so that a spec stays hashable. A search passes none.
    recipe: tuple[tuple[str, Any], ...] = ()
    # The learning rate as a multiple of the recipe's (the lr-sweep protocol's ladder).
    lr_scale: float = 1.0
    # The run's steps as a multiple of the recipe's (the ladder protocol's longest horizon).
    horizon: float = 1.0


def run_trial(
    spec: TrialSpec,
    task: Task | None = None,
    *,
    report: Callable[[int, float, float, int], bool] | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> RunResult:
    """Train one trial in this process: the spec's recipe and step cap applied to ``task`` (the
    spec's task, built here when not given). Ray workers and ``derf-search evaluate`` alike."""
    from dataclasses import replace

    from evaluators import apply_recipe, get_task, train

    # a copy where the recipe changes the model: a kept task serves the next trial as is
    task, budget = apply_recipe(task or get_task(spec.task), spec.budget, dict(spec.recipe))
    if spec.max_steps is not None:
        budget = replace(budget, max_steps=spec.max_steps)
    if spec.lr_scale != 1.0:
        budget = replace(budget, lr=budget.lr * spec.lr_scale)
    if spec.horizon != 1.0:
        budget = replace(
            budget,
            epochs=math.ceil(budget.epochs * spec.horizon),
            max_steps=None
            if budget.max_steps is None
            else max(1, round(budget.max_steps * spec.horizon)),
        )
    return train(
        task,
        spec.candidate,
        seed=spec.seed,
        budget=budget,
        device=spec.device,
        alpha0=spec.alpha0,
        shift=spec.shift,  # parsed where the layers are built
        report=report,
        progress=progress,
    )
