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
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # torch is imported where trials run, not by the driver
    from evaluators import Budget, MemberFailure, RunResult, Task


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


def pack_key(spec: TrialSpec) -> tuple[Any, ...]:
    """What trials must share to be trained as one pack: the task, the budget and recipe (and
    so the model's shape and the schedule), the step cap, the horizon and the device. Their
    candidates, seeds, learning-rate scales and templates may differ.

    >>> a = TrialSpec(trial=0, task="t", candidate="erf", shift="scalar", seed=0,
    ...               budget="quick", alpha0=None, device="cpu")
    >>> pack_key(a) == pack_key(replace(a, trial=1, candidate="tanh(x)", seed=3))
    True
    >>> pack_key(a) == pack_key(replace(a, recipe=(("width", 32),)))
    False
    """
    return (spec.task, spec.budget, spec.recipe, spec.max_steps, spec.horizon, spec.device)


def trial_plan(spec: TrialSpec, task: Task) -> tuple[Task, Budget]:
    """The task (a copy where the recipe changes the model) and the budget a trial trains
    with: the spec's recipe, step cap, learning-rate scale and horizon applied."""
    from evaluators import apply_recipe

    # a copy where the recipe changes the model: a kept task serves the next trial as is
    task, budget = apply_recipe(task, spec.budget, dict(spec.recipe))
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
    return task, budget


def run_trial(
    spec: TrialSpec,
    task: Task | None = None,
    *,
    report: Callable[[int, float, float, int], bool] | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> RunResult:
    """Train one trial in this process: the spec's recipe and step cap applied to ``task`` (the
    spec's task, built here when not given). Ray workers and ``derf-search evaluate`` alike."""
    from evaluators import get_task, train

    task, budget = trial_plan(spec, task or get_task(spec.task))
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


#: The key of a pack member's record that raised, in place of a result: why it failed.
FAILURE = "failure"


def run_pack(
    specs: Sequence[TrialSpec],
    task: Task | None = None,
    *,
    reports: Sequence[Callable[[int, float, float, int], bool] | None] | None = None,
) -> list[RunResult | MemberFailure]:
    """Train trials that share a :func:`pack_key` as packs (:func:`evaluators.train_in_packs`:
    one per architecture among them, halved where the GPU's memory runs out or a member
    raises); a result per spec, in order, as :func:`run_trial` gives it, or the
    :class:`evaluators.MemberFailure` of a trial that raised. Each member's learning rate is
    its own spec's.

    >>> specs = [TrialSpec(trial=k, task="mnist1d", candidate=c, shift="scalar", seed=k,
    ...                    budget="quick", alpha0=None, device="cpu", max_steps=2)
    ...          for k, c in enumerate(["erf", "layernorm", "tanh(x)"])]
    >>> [(r.candidate, r.seed, r.steps) for r in run_pack(specs)]
    [('erf', 0, 2), ('layernorm', 1, 2), ('tanh(x)', 2, 2)]
    """
    from evaluators import Member, get_task, train_in_packs

    if not specs:
        return []
    keys = {pack_key(spec) for spec in specs}
    if len(keys) > 1:
        raise ValueError(f"a pack's trials must share their task, budget and recipe: {keys}")
    first = specs[0]
    task, budget = trial_plan(replace(first, lr_scale=1.0), task or get_task(first.task))
    members = [Member(s.candidate, s.seed, s.lr_scale, s.alpha0, s.shift) for s in specs]
    return train_in_packs(task, members, budget=budget, device=first.device, reports=reports)
