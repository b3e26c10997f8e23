"""The training loop: one readable function, the same recipe for every candidate.

AdamW with linear warmup and cosine (or warmup–stable–decay) decay, optional gradient
clipping, float32 or mixed precision (bf16, or fp16 with loss scaling), optional label
smoothing, mixup and stochastic depth (off by default), seeded. Two gates turn
bad runs into results rather than exceptions: the stability probe (a non-finite loss or an
exploding gradient norm ends the run as ``diverged`` at that step) and an optional quality gate
(a metric on the wrong side of a threshold after some epochs ends it as ``rejected``).

Example:
    >>> from evaluators import Budget, get_task
    >>> result = train(get_task("digits-vit"), "erf", budget=Budget(epochs=1, max_steps=3),
    ...                device="cpu")
    >>> result.diverged, result.steps, result.metric
    (False, 3, 'accuracy')
"""

from __future__ import annotations

import math
import random
import time
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

import numpy as np
import torch
from torch import nn

from candidates import TEMPLATE, Candidate, Shift, UserError

from ._growth import GrowthRecorder, curve_points, recording_steps
from ._layer import PointwiseNorm, norm_factory
from ._probe import attention_logit_peak
from ._task import PRECISIONS, Budget, Mixup, Regularisers, Split, Task, check_regularisers

#: A gradient norm above this (before clipping) counts as an explosion.
EXPLODING_GRAD_NORM = 1e4
#: Steps between two reads of the device's divergence bookkeeping (a run's and a pack's): a
#: step itself never waits for the device, so a GPU is not idle while the host decides.
CHECK_EVERY = 16
#: The share of the steps the ``wsd`` schedule spends decaying (the rest after warmup stable).
WSD_DECAY = 0.2

Report = Callable[[int, float, float, int], bool]  # (epoch, metric, val_loss, step) -> stop?


@dataclass(frozen=True)
class QualityGate:
    """Reject a run whose metric is worse than ``threshold`` after ``after_epochs`` epochs."""

    after_epochs: int
    threshold: float

    def rejects(self, epoch: int, metric: float, direction: str) -> bool:
        """Whether a run at ``metric`` after ``epoch`` epochs is turned away.

        >>> gate = QualityGate(after_epochs=2, threshold=0.5)
        >>> gate.rejects(2, 0.3, "maximize"), gate.rejects(1, 0.3, "maximize")
        (True, False)
        """
        if epoch != self.after_epochs:
            return False
        return metric < self.threshold if direction == "maximize" else metric > self.threshold


@dataclass
class RunResult:
    """What one proxy run found, diverged and rejected runs included."""

    task: str
    candidate: str
    seed: int
    metric: str
    direction: str
    value: float  # final validation metric (nan if it never got evaluated)
    best: float
    val_loss: float
    train_loss_eval: float  # training-set loss in eval mode: fitting, next to generalising
    diverged: bool = False
    diverged_step: int | None = None
    rejected: bool = False
    rejected_epoch: int | None = None
    stopped_early: bool = False  # the report callback (a pruner) asked to stop
    steps: int = 0
    total_steps: int = 0  # the steps the recipe planned (more than ``steps`` if it stopped early)
    skipped_steps: int = 0  # fp16 steps the loss scaler skipped for overflowing gradients
    # the largest |q·k|/√d on a validation batch after training (None: no attention layers)
    attention_logit_peak: float | None = None
    epochs: int = 0
    seconds: float = 0.0
    cpu_seconds: float = 0.0
    alpha: float | None = None
    shift: float | None = None
    parameters: int = 0
    device: str = "cpu"
    curve: list[dict[str, float]] = field(default_factory=list)
    # growth signals at log-spaced steps: [step, signal, layer, value] (evaluators.SIGNALS)
    growth: list[list[Any]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def resolve_device(device: str) -> torch.device:
    """``auto`` is CUDA where present, else the CPU."""
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device not in ("cpu", "cuda") and not device.startswith("cuda:"):
        raise UserError(f"device must be cpu, cuda or auto, but got {device!r}.")
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise UserError("device cuda asked for, but torch sees no CUDA device here")
    return torch.device(device)


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def lr_factor(step: int, total: int, warmup: int, schedule: str = "cosine") -> float:
    """The learning rate at ``step`` (from 0) as a multiple of the recipe's: linear warmup,
    then ``cosine`` decay to 0, or ``wsd`` (warmup–stable–decay): constant, then a linear
    decay to 0 over the last :data:`WSD_DECAY` of the steps, so that every step before the
    decay is a point of a shorter run's stable phase.

    >>> [round(lr_factor(s, 10, 2, "wsd"), 2) for s in (0, 1, 5, 7, 8, 9)]
    [0.5, 1.0, 1.0, 1.0, 0.5, 0.0]
    """
    if step < warmup:
        return (step + 1) / warmup
    if schedule == "wsd":
        decay = max(1, round(WSD_DECAY * total))
        return min(1.0, (total - 1 - step) / decay) if step >= total - decay else 1.0
    progress = (step - warmup) / max(1, total - warmup)
    return 0.5 * (1.0 + math.cos(math.pi * min(progress, 1.0)))


def _learned(model: torch.nn.Module) -> tuple[float | None, float | None]:
    """Mean learned α and s over the model's PointwiseNorm layers."""
    norms = [m for m in model.modules() if isinstance(m, PointwiseNorm)]
    if not norms:
        return None, None
    alpha = float(torch.stack([m.alpha.detach().mean() for m in norms]).mean())
    shifts = [m.shift.detach().mean() for m in norms if m.shift is not None]
    return alpha, (float(torch.stack(shifts).mean()) if shifts else None)


def _optimizer(model: torch.nn.Module, plan: Budget) -> torch.optim.Optimizer:
    """AdamW, with weight decay on the matrices only (not on norms' γ, β, α, s or biases)."""
    decay = [p for p in model.parameters() if p.dim() >= 2]
    no_decay = [p for p in model.parameters() if p.dim() < 2]
    return torch.optim.AdamW(
        [
            {"params": decay, "weight_decay": plan.weight_decay},
            {"params": no_decay, "weight_decay": 0.0},
        ],
        lr=plan.lr,
    )


def autocast(device: torch.device, precision: str) -> torch.autocast:
    """The autocast context of ``precision`` on ``device`` (disabled for fp32).

    >>> with autocast(torch.device("cpu"), "bf16"):
    ...     (torch.ones(2, 2) @ torch.ones(2, 2)).dtype
    torch.bfloat16
    """
    dtype = PRECISIONS[precision]
    return torch.autocast(device.type, dtype=dtype, enabled=dtype is not None)


def _step(
    model: torch.nn.Module,
    optimizer: torch.optim.Optimizer,
    scaler: torch.amp.GradScaler,
    clip: float | None,
    unscaled: Callable[[], None] | None = None,
) -> Literal["stepped", "skipped", "diverged"]:
    """Clip and apply the gradients of one backward pass: ``stepped``, ``skipped`` (float16
    overflow: the scaler skips the step and lowers its scale) or ``diverged`` (non-finite or
    exploding gradients, or float16 gradients that overflow even unscaled, at a loss scale
    of 1). ``unscaled()`` sees the gradients unscaled, before clipping."""
    scaler.unscale_(optimizer)
    if unscaled is not None:
        unscaled()
    limit = clip if clip is not None else math.inf
    grad_norm = float(torch.nn.utils.clip_grad_norm_(model.parameters(), limit))
    if math.isfinite(grad_norm) and grad_norm <= EXPLODING_GRAD_NORM:
        scaler.step(optimizer)
        scaler.update()
        return "stepped"
    if not scaler.is_enabled() or math.isfinite(grad_norm):
        return "diverged"
    scale = scaler.get_scale()
    scaler.step(optimizer)  # skips the step if the scaler found non-finite gradients
    scaler.update()
    if scaler.get_scale() >= scale:  # not skipped: the norm alone overflowed
        return "diverged"
    return "skipped" if scaler.get_scale() >= 1 else "diverged"


class _Watch:
    """A run's divergence bookkeeping on the device: the first step whose loss or gradient
    norm is not finite, or whose norm explodes (-1: none yet). Read on the host only every
    :data:`CHECK_EVERY` steps and at an epoch's end. The steps between a divergence and its
    reading change nothing that is reported: a diverged run's model is not scored, its growth
    rows end at the diverging step, and its learned α and s are restored (:meth:`restore`) to
    what they were before the diverging step, as a run that stopped there reports them."""

    def __init__(self, model: nn.Module, dev: torch.device) -> None:
        self.first = torch.full((), -1, dtype=torch.long, device=dev)
        self.template = [p for n, p in model.named_parameters() if n.endswith((".alpha", ".shift"))]
        self.kept = [p.detach().clone() for p in self.template]

    def keep(self) -> None:
        """After a step's update: α and s as they are, while the run has not diverged."""
        with torch.no_grad():
            for kept, p in zip(self.kept, self.template, strict=True):
                kept.copy_(torch.where(self.first < 0, p, kept))

    def restore(self) -> None:
        """α and s as they were after the last step before the divergence."""
        with torch.no_grad():
            for kept, p in zip(self.kept, self.template, strict=True):
                p.copy_(kept)

    def step(self, model: nn.Module, loss: torch.Tensor, clip: float | None, step: int) -> None:
        """Clip the gradients (to ``clip``, if any) and note whether this step diverged."""
        limit = clip if clip is not None else math.inf
        norm = torch.nn.utils.clip_grad_norm_(model.parameters(), limit)
        bad = ~(torch.isfinite(loss.detach()) & torch.isfinite(norm))
        bad |= norm > EXPLODING_GRAD_NORM
        self.first = torch.where(bad & (self.first < 0), step, self.first)

    def diverged_at(self) -> int | None:
        """The step it diverged at, if it did (one read of the device)."""
        first = int(self.first)
        return None if first < 0 else first


def run_splits(task: Task, plan: Budget, seed: int, dev: torch.device) -> tuple[Split, Split]:
    """The run's training and validation splits on ``dev``; a ``train_subset`` holds the same
    examples whatever the seed (seed 0's order)."""
    train_split, val_split = task.splits(seed)
    if plan.train_subset is not None:
        chosen = torch.randperm(len(train_split), generator=torch.Generator().manual_seed(0))
        chosen = chosen[: plan.train_subset]
        train_split = Split(train_split.inputs[chosen], train_split.targets[chosen])
    return train_split.to(dev), val_split.to(dev)


def batch_loss(
    task: Task,
    model: nn.Module,
    inputs: torch.Tensor,
    targets: torch.Tensor,
    plan: Budget,
    mixup: Mixup | None,
) -> torch.Tensor:
    """The training loss of one batch: the task's own, or its regularised one where the
    recipe smooths labels or mixes inputs."""
    if plan.label_smoothing or plan.mixup:
        return task.regularised_loss(
            model, inputs, targets, Regularisers(plan.label_smoothing, mixup)
        )
    return task.loss(model, inputs, targets)


def record_epoch(
    result: RunResult, scores: Mapping[str, float], train_loss: float, direction: str
) -> None:
    """An epoch's validation scores into the result: the last and best metric, and a point of
    the curve."""
    better = max if direction == "maximize" else min
    result.value, result.val_loss = scores["metric"], scores["loss"]
    result.best = (
        scores["metric"] if math.isnan(result.best) else better(result.best, scores["metric"])
    )
    result.curve.append(
        {
            "epoch": result.epochs,
            "step": result.steps,
            "metric": scores["metric"],
            "val_loss": scores["loss"],
            "train_loss": train_loss,
        }
    )


def measure_fitted(
    result: RunResult,
    task: Task,
    model: nn.Module,
    train_split: Split,
    val_split: Split,
    plan: Budget,
    dev: torch.device,
) -> None:
    """What a finished run is measured by beside its metric: the train loss in eval mode on
    what it trained on, and the largest attention logit on one validation batch."""
    batch = Split(val_split.inputs[: plan.batch_size], val_split.targets[: plan.batch_size])
    with autocast(dev, plan.precision):
        result.train_loss_eval = task.score(model, train_split)["loss"]
        result.attention_logit_peak = attention_logit_peak(model, lambda: task.score(model, batch))


def new_result(
    task: Task, name: str, seed: int, dev: torch.device, model: nn.Module, total: int
) -> RunResult:
    return RunResult(
        task=task.name,
        candidate=name,
        seed=seed,
        metric=task.metric,
        direction=task.direction,
        value=math.nan,
        best=math.nan,
        val_loss=math.nan,
        train_loss_eval=math.nan,
        device=str(dev),
        parameters=sum(p.numel() for p in model.parameters()),
        total_steps=total,
    )


def stops(
    result: RunResult,
    scores: Mapping[str, float],
    quality_gate: QualityGate | None,
    report: Report | None,
) -> bool:
    """Whether the run ends after this epoch's scores, and why, into the result: a validation
    loss that is not finite (diverged), the quality gate's rejection, or the scheduler's
    pruning."""
    epoch, step = result.epochs, result.steps
    if not math.isfinite(scores["loss"]):
        result.diverged, result.diverged_step = True, step
    elif quality_gate and quality_gate.rejects(epoch, scores["metric"], result.direction):
        result.rejected, result.rejected_epoch = True, epoch
    elif report is not None and report(epoch, scores["metric"], scores["loss"], step):
        result.stopped_early = True
    else:
        return False
    return True


def schedule_of(plan: Budget, examples: int) -> tuple[int, int, int]:
    """Steps per epoch, the steps planned in all (``max_steps`` caps them) and the warmup's."""
    steps_per_epoch = math.ceil(examples / plan.batch_size)
    total = steps_per_epoch * plan.epochs
    if plan.max_steps is not None:
        total = min(total, plan.max_steps)
    return steps_per_epoch, total, max(1, int(plan.warmup_fraction * total))


def _scaler(plan: Budget, dev: torch.device) -> torch.amp.GradScaler:
    # float16 gradients underflow unscaled; the scaler skips a step whose scaled gradients
    # overflowed and lowers the scale, as mixed-precision training at scale does.
    if plan.precision == "bf16" and dev.type == "cuda" and not torch.cuda.is_bf16_supported():
        raise UserError("precision bf16 asked for, but this CUDA device has no bfloat16")
    return torch.amp.GradScaler(dev.type, enabled=plan.precision == "fp16")


def _growth_rows(recorder: GrowthRecorder, diverged_step: int | None) -> list[list[Any]]:
    rows = [[r["step"], r["signal"], r["layer"], r["value"]] for r in recorder.rows()]
    return curve_points(rows, diverged_step)


def _deferred_step(
    loss: torch.Tensor,
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    watch: _Watch,
    plan: Budget,
    recorder: GrowthRecorder,
    step: int,
) -> None:
    """Backward and the optimizer's step without waiting for the device: whether the step
    diverged goes to ``watch`` (float32 and bfloat16, which need no loss scaler)."""
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    recorder.gradients(step + 1)
    watch.step(model, loss, plan.clip_grad, step)
    optimizer.step()
    watch.keep()


def _backward_step(
    loss: torch.Tensor,
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    scaler: torch.amp.GradScaler,
    plan: Budget,
    recorder: GrowthRecorder,
    step: int,
) -> str:
    """Backward and the optimizer's step: ``diverged`` where the loss or the gradients are not
    finite (the stability probes), ``skipped`` where the fp16 scaler skipped the step."""
    if not torch.isfinite(loss):
        return "diverged"
    optimizer.zero_grad(set_to_none=True)
    scaler.scale(loss).backward()
    return _step(
        model, optimizer, scaler, plan.clip_grad, unscaled=lambda: recorder.gradients(step)
    )


def _mixup_draws(
    mixing: np.random.Generator, plan: Budget, steps: int, dev: torch.device
) -> tuple[list[float], torch.Tensor]:
    """An epoch's mixup weights (one a step) and the keys whose order pairs each batch's
    examples (steps, batch)."""
    lams = mixing.beta(plan.mixup, plan.mixup, size=steps).tolist()
    return lams, torch.from_numpy(mixing.random((steps, plan.batch_size))).to(dev)


def _diverged(result: RunResult, watch: _Watch | None, *, due: bool) -> bool:
    """Whether the run has diverged by now, into the result: the watch read when ``due``
    (a read of the device); False without one (the fp16 path decides each step itself)."""
    if watch is None or not due:
        return False
    at = watch.diverged_at()
    if at is None:
        return False
    result.diverged, result.diverged_step = True, at
    return True


def _take_step(
    loss: torch.Tensor,
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    scaler: torch.amp.GradScaler,
    watch: _Watch | None,
    plan: Budget,
    recorder: GrowthRecorder,
    step: int,
) -> str:
    """Step ``step``'s backward and update: ``stepped``, ``skipped`` or ``diverged`` (only the
    fp16 path, which reads its scaler each step, says so here; otherwise ``watch`` keeps it)."""
    if watch is None:
        return _backward_step(loss, model, optimizer, scaler, plan, recorder, step + 1)
    _deferred_step(loss, model, optimizer, watch, plan, recorder, step)
    return "stepped"


def _close(
    result: RunResult,
    task: Task,
    model: nn.Module,
    splits: tuple[Split, Split],
    plan: Budget,
    recorder: GrowthRecorder,
    watch: _Watch | None,
    step: int,
) -> None:
    """A run's closing record: growth rows, the fitted measures (unless it diverged), its
    steps, and its learned α and s."""
    recorder.close()
    result.growth = _growth_rows(recorder, result.diverged_step if result.diverged else None)
    if not result.diverged:
        measure_fitted(result, task, model, *splits, plan, next(model.parameters()).device)
    result.steps = _settle(result, watch, step)
    result.alpha, result.shift = _learned(model)


def _settle(result: RunResult, watch: _Watch | None, step: int) -> int:
    """The steps a run counts: a diverged run's stop at its diverging step (the steps a
    divergence read late ran are not counted, and its α and s are restored to that step's)."""
    if not result.diverged or result.diverged_step is None:
        return step
    if watch is not None:
        watch.restore()
    return result.diverged_step


def candidate_name(candidate: str | Candidate) -> str:
    """The name a result records: the text given, or the candidate's expression."""
    return candidate if isinstance(candidate, str) else candidate.expression


def _since(start: float, cpu_start: float) -> tuple[float, float]:
    """Wall and CPU seconds since ``start`` and ``cpu_start``."""
    return time.perf_counter() - start, time.process_time() - cpu_start


def train(
    task: Task,
    candidate: str | Candidate = "erf",
    *,
    seed: int = 0,
    budget: str | int | Budget = "default",
    device: str = "auto",
    alpha0: float | None = None,
    shift: Shift | str | None = TEMPLATE,
    report: Report | None = None,
    quality_gate: QualityGate | None = None,
    progress: Callable[[int, int], None] | None = None,
    finished: Callable[[nn.Module], None] | None = None,
) -> RunResult:
    """Train ``task``'s model with ``candidate`` in every norm; a result, never an exception
    for a run that goes wrong. ``alpha0`` (None) and ``shift`` (``TEMPLATE``) default to the
    candidate's catalog template (DyT: no shift), else α0 = 0.5 and a scalar shift.
    ``finished(model)`` sees the trained model before the result is returned."""
    plan = budget if isinstance(budget, Budget) else task.budget(budget)
    check_regularisers(task, plan)
    dev = resolve_device(device)
    seed_everything(seed)
    start, cpu_start = time.perf_counter(), time.process_time()
    norm = norm_factory(candidate, alpha0=alpha0, shift=shift)  # resolved and compiled once
    train_split, val_split = run_splits(task, plan, seed, dev)
    model = task.build_model(norm).to(dev)
    optimizer = _optimizer(model, plan)
    steps_per_epoch, total, warmup = schedule_of(plan, len(train_split))
    generator = torch.Generator().manual_seed(seed)
    # mixup's weights and partners have a generator of their own, seeded by the run's seed:
    # the same for every function at a given seed and step, whatever its model draws
    mixing = np.random.default_rng(seed) if plan.mixup else None
    scaler = _scaler(plan, dev)
    result = new_result(task, candidate_name(candidate), seed, dev, model, total)
    recorder = GrowthRecorder(model, steps=recording_steps(total), optimizer=optimizer)
    # fp16's loss scaler decides each step on the host; otherwise the device keeps the books
    watch = None if scaler.is_enabled() else _Watch(model, dev)
    step = 0
    for epoch in range(1, plan.epochs + 1):
        model.train()
        order = torch.randperm(len(train_split), generator=generator).to(dev)
        if mixing is not None:  # the epoch's draws, one copy to the device an epoch
            lams, keys = _mixup_draws(mixing, plan, steps_per_epoch, dev)
        for i in range(steps_per_epoch):
            if step >= total:
                break
            idx = order[i * plan.batch_size : (i + 1) * plan.batch_size]
            for group in optimizer.param_groups:
                group["lr"] = plan.lr * lr_factor(step, total, warmup, plan.schedule)
            inputs, targets = train_split.inputs[idx], train_split.targets[idx]
            # mixup's partners: a random permutation of the batch (B,), the order of B keys
            mixup = None if mixing is None else Mixup(lams[i], keys[i, : len(idx)].argsort())
            with autocast(dev, plan.precision), recorder.observing(step + 1):
                loss = batch_loss(task, model, inputs, targets, plan, mixup)
            outcome = _take_step(loss, model, optimizer, scaler, watch, plan, recorder, step)
            if outcome == "diverged":
                result.diverged, result.diverged_step = True, step
                break
            result.skipped_steps += outcome == "skipped"
            recorder.stepped(step + 1)
            step += 1
            if progress:
                progress(step, total)
            if _diverged(result, watch, due=step % CHECK_EVERY == 0 or step >= total):
                break
        if result.diverged or _diverged(result, watch, due=True):
            break
        with autocast(dev, plan.precision):
            scores = task.score(model, val_split)
        result.epochs, result.steps = epoch, step
        record_epoch(result, scores, float(loss.detach()), task.direction)
        if stops(result, scores, quality_gate, report) or step >= total:
            break
    _close(result, task, model, (train_split, val_split), plan, recorder, watch, step)
    result.seconds, result.cpu_seconds = _since(start, cpu_start)
    if finished is not None:
        finished(model)
    return result
