"""Packed training: K runs of one task trained in one process as one batched model.

A proxy run is small enough that a GPU spends its time launching kernels and waiting on the
host, not computing. Horizontal fusion (Wang et al., "Horizontally Fused Training Array",
MLSys 2021) trains many same-shaped models as one: here every parameter and buffer gets a
leading member axis (``torch.func.stack_module_state``) and one step runs the K members'
forward and backward through ``torch.func.vmap``. Each member keeps what a single run has:
its own initial parameters (built exactly as :func:`~evaluators.train` builds them for its
seed), data order, point-wise function (members with different functions each apply their own
to their slice), learning rate, AdamW state, gradient clipping (the norm over its own
parameters) and :class:`~evaluators.RunResult`. A member whose loss or gradients stop being
finite is masked out and recorded as diverged at that step; the others go on unchanged. The
bookkeeping stays on the device and is read every ``check_every`` steps, not every step.

Each member records the growth curves a single run records, at the same steps
(:class:`~evaluators.PackGrowth`: its forward signals from a forward pass of its own at those
steps). What a pack does not take: mixup and stochastic depth (their random draws are the
run's own) and float16 loss scaling (one scaler per member). A task whose loss draws random
numbers (digits-dit's noise: :meth:`~evaluators.Task.draws`) has them drawn member by member
from the generator state each member's single run draws from, so that members of one seed see
the same noise, as their single runs do.

Example:
    >>> from evaluators import Budget, get_task
    >>> results = train_packed(get_task("mnist1d"), [Member("erf", 0), Member("tanh(x)", 1)],
    ...                        budget=Budget(epochs=1, max_steps=3), device="cpu")
    >>> [(r.candidate, r.seed, r.steps) for r in results]
    [('erf', 0, 3), ('tanh(x)', 1, 3)]
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn
from torch.func import functional_call, stack_module_state, vmap

from candidates import TEMPLATE, Candidate, Shift, UserError

from ._layer import PointwiseNorm, activate, norm_factory
from ._pack_growth import PackGrowth
from ._task import Budget, Draws, Regularisers, Split, Task, check_regularisers
from ._train import (
    CHECK_EVERY,
    EXPLODING_GRAD_NORM,
    Report,
    RunResult,
    autocast,
    candidate_name,
    lr_factor,
    measure_fitted,
    new_result,
    record_epoch,
    resolve_device,
    run_splits,
    schedule_of,
    seed_everything,
    stops,
)

#: AdamW's constants, as ``torch.optim.AdamW``'s defaults that a single run uses.
BETAS, EPS = (0.9, 0.999), 1e-8
#: The buffer of each point-wise norm that says which of the pack's functions a member uses.
CHOICE = "member_choice"


@dataclass(frozen=True)
class Member:
    """One run of a pack: the candidate, its seed, a multiple of the recipe's learning rate,
    and the template (α0, shift) as :func:`~evaluators.train` takes them."""

    candidate: str | Candidate
    seed: int = 0
    lr_scale: float = 1.0
    alpha0: float | None = None
    shift: Shift | str | None = TEMPLATE

    @property
    def name(self) -> str:
        return candidate_name(self.candidate)


@dataclass
class _Built:
    """A member's model and data, made exactly as a single run of its seed makes them."""

    model: nn.Module
    train: Split
    val: Split
    # the global generators' states where its single run's first loss draws from them
    generators: tuple[torch.Tensor, ...]


def _build(task: Task, member: Member, plan: Budget, dev: torch.device) -> _Built:
    # the order of a single run: seed, the norm (compiles), the splits, then the model
    seed_everything(member.seed)
    norm = norm_factory(member.candidate, alpha0=member.alpha0, shift=member.shift)
    train_split, val_split = run_splits(task, plan, member.seed, dev)
    model = task.build_model(norm).to(dev)
    return _Built(model, train_split, val_split, _generator_states(dev))


def _generator_states(dev: torch.device) -> tuple[torch.Tensor, ...]:
    """The global generators a loss on ``dev`` draws from: the CPU's, and the device's own."""
    if dev.type == "cuda":
        return torch.get_rng_state(), torch.cuda.get_rng_state(dev)
    return (torch.get_rng_state(),)


def _set_generator_states(dev: torch.device, states: tuple[torch.Tensor, ...]) -> None:
    torch.set_rng_state(states[0])
    if dev.type == "cuda":
        torch.cuda.set_rng_state(states[1], dev)


def _signature(model: nn.Module) -> list[tuple[str, tuple[int, ...]]]:
    return [(n, tuple(t.shape)) for n, t in (*model.named_parameters(), *model.named_buffers())]


def _dispatch(norm: nn.Module, fns: list[Callable[..., torch.Tensor]], safe: list[bool]) -> Any:
    """A point-wise function that applies the member's own of ``fns`` (chosen by the norm's
    :data:`CHOICE` buffer, one member's slice under vmap). The others see zeros, whose value
    and slope every candidate has finite, so that no branch turns a gradient into nan."""

    def pointwise(z: torch.Tensor) -> torch.Tensor:
        choice: torch.Tensor = getattr(norm, CHOICE)  # (D,) one-hot
        out = torch.zeros_like(z)
        for j, (fn, clean) in enumerate(zip(fns, safe, strict=True)):
            on = choice[j] > 0
            out = torch.where(on, activate(torch.where(on, z, 0.0), fn, clean), out)
        return out

    return pointwise


def _norms(model: nn.Module) -> list[tuple[str, PointwiseNorm]]:
    return [(n, m) for n, m in model.named_modules() if isinstance(m, PointwiseNorm)]


def _functions(models: Sequence[nn.Module]) -> tuple[list[str], list[int]]:
    """The distinct functions of the members (expressions) and each member's index into them."""
    names: list[str] = []
    index = []
    for model in models:
        found = {m.candidate.expression for _, m in _norms(model)} or {""}
        (expression,) = found  # every norm of a run has the run's function
        if expression not in names:
            names.append(expression)
        index.append(names.index(expression))
    return names, index


class _Pack:
    """The stacked state of K members and a base module whose norms dispatch per member."""

    def __init__(self, built: Sequence[_Built]) -> None:
        models = [b.model for b in built]
        first = _signature(models[0])
        for k, model in enumerate(models[1:], 1):
            if _signature(model) != first:
                raise UserError(
                    f"member {k} of a pack has another architecture than member 0 (a norm "
                    "baseline and a point-wise function, or another shift): pack them apart"
                )
        self.base = models[0]
        names, index = _functions(models)
        params, buffers = stack_module_state(models)
        self.params: dict[str, torch.Tensor] = {
            n: p.detach().requires_grad_(True) for n, p in params.items()
        }
        self.buffers: dict[str, torch.Tensor] = dict(buffers)
        if len(names) > 1:
            self._dispatch_norms(models, names, index)
        self.k = len(models)

    def _dispatch_norms(
        self, models: Sequence[nn.Module], names: list[str], index: list[int]
    ) -> None:
        by_name = {m.candidate.expression: m for model in models for _, m in _norms(model)}
        fns = [by_name[n].fn for n in names]
        safe = [by_name[n].safe for n in names]
        device = next(iter(self.params.values())).device
        choice = torch.nn.functional.one_hot(torch.tensor(index), len(names)).float().to(device)
        for path, norm in _norms(self.base):
            norm.register_buffer(CHOICE, torch.zeros(len(names), device=device))
            norm.fn, norm.safe = _dispatch(norm, fns, safe), False
            self.buffers[f"{path}.{CHOICE}" if path else CHOICE] = choice

    def member(self, k: int) -> nn.Module:
        """Member ``k`` as a module (for scoring): the base running on its slice."""
        params = {n: p[k] for n, p in self.params.items()}
        return _Functional(self.base, params, {n: b[k] for n, b in self.buffers.items()})

    def state(self, k: int) -> dict[str, torch.Tensor]:
        """Member ``k``'s parameters, detached, named as its own model names them."""
        return {n: p[k].detach() for n, p in self.params.items()}


class _Functional(nn.Module):
    """``base`` run on the given parameters and buffers (one member's slice of the pack's):
    a member to score, or the model of one member's loss under vmap."""

    def __init__(
        self, base: nn.Module, params: dict[str, torch.Tensor], buffers: dict[str, torch.Tensor]
    ) -> None:
        super().__init__()
        self.base, self.state = base, (params, buffers)

    def forward(self, *args: Any) -> Any:
        return functional_call(self.base, self.state, args)


class _Adam:
    """AdamW over stacked parameters with a learning rate per member, as ``torch.optim.AdamW``
    computes it (decoupled weight decay on a member's matrices only); a member at rate 0 stays
    exactly where it is."""

    def __init__(self, params: dict[str, torch.Tensor], weight_decay: float) -> None:
        self.params = params
        self.m = {n: torch.zeros_like(p) for n, p in params.items()}
        self.v = {n: torch.zeros_like(p) for n, p in params.items()}
        self.decay = {n: weight_decay if p.dim() >= 3 else 0.0 for n, p in params.items()}
        self.steps = 0

    @torch.no_grad()
    def step(self, grads: dict[str, torch.Tensor], lr: torch.Tensor) -> None:
        self.steps += 1
        (b1, b2), t = BETAS, self.steps
        correction2 = math.sqrt(1 - b2**t)
        for n, p in self.params.items():
            rate = lr.view(-1, *([1] * (p.dim() - 1)))
            p.mul_(1 - rate * self.decay[n])
            self.m[n].lerp_(grads[n], 1 - b1)
            self.v[n].mul_(b2).addcmul_(grads[n], grads[n], value=1 - b2)
            denom = (self.v[n].sqrt() / correction2).add_(EPS)
            p.sub_(rate / (1 - b1**t) * (self.m[n] / denom))


def _member_loss(task: Task, pack: _Pack, reg: Regularisers | None) -> Callable[..., torch.Tensor]:
    """One member's training loss from its slice of the parameters, buffers and batch."""

    def loss(
        params: dict[str, torch.Tensor],
        buffers: dict[str, torch.Tensor],
        inputs: torch.Tensor,
        targets: torch.Tensor,
        draws: Draws,
    ) -> torch.Tensor:
        model = _Functional(pack.base, params, buffers)
        if reg is None:
            return task.loss_given(model, inputs, targets, draws)
        return task.regularised_loss(model, inputs, targets, reg)

    return loss


def unpackable(task: Task, plan: Budget) -> str | None:
    """Why runs of ``task`` under ``plan`` cannot be packed, or None when they can.

    >>> from evaluators import get_task
    >>> task = get_task("mnist1d")
    >>> unpackable(task, task.budget("quick")) is None
    True
    >>> unpackable(task, Budget(epochs=1, precision="fp16")).startswith("a pack does not")
    True
    """
    if plan.mixup or getattr(task, "drop_path", 0.0) or plan.precision == "fp16":
        return (
            "a pack does not take mixup, stochastic depth or fp16 (their draws and loss "
            "scaling are each run's own)"
        )
    return None


def _check_packable(task: Task, plan: Budget, members: Sequence[Member]) -> None:
    check_regularisers(task, plan)
    if not members:
        raise UserError("a pack needs at least one member")
    reason = unpackable(task, plan)
    if reason is not None:
        raise UserError(f"{reason}: train these runs one by one")


def pack_groups(members: Sequence[Member]) -> list[list[int]]:
    """The members' indices grouped by architecture, in order of first appearance: a norm
    baseline (LayerNorm, RMSNorm) and point-wise functions with and without a shift have
    different parameters, so each group is a pack of its own.

    >>> pack_groups([Member("erf"), Member("layernorm"), Member("tanh(x)"), Member("rmsnorm")])
    [[0, 2], [1], [3]]
    """
    groups: dict[tuple[Any, ...], list[int]] = {}
    for k, member in enumerate(members):
        groups.setdefault(architecture(member), []).append(k)
    return list(groups.values())


def architecture(member: Member) -> tuple[Any, ...]:
    """What members must share to be packed together: their norm layer's class and parameter
    shapes (raises where the member's layer cannot be built).

    >>> architecture(Member("erf")) == architecture(Member("tanh(x)", seed=3))
    True
    """
    norm = norm_factory(member.candidate, alpha0=member.alpha0, shift=member.shift)(4)
    return (type(norm).__name__, *_signature(norm))


@dataclass
class _State:
    """What a pack's loop carries on the device: who is still training, since which step a
    member diverged (-1: never), and the step counter."""

    alive: torch.Tensor  # (K,) bool
    diverged_at: torch.Tensor  # (K,) long
    step: int = 0


def _clip(grads: dict[str, torch.Tensor], clip: float | None, state: _State) -> None:
    """Each member's gradients clipped to its own norm, and a member whose gradients are not
    finite or explode marked diverged at this step, its gradients zeroed (all on the device)."""
    squares = sum(g.reshape(len(state.alive), -1).square().sum(1) for g in grads.values())
    norm = torch.as_tensor(squares).sqrt()  # (K,)
    bad = state.alive & ~(torch.isfinite(norm) & (norm <= EXPLODING_GRAD_NORM))
    state.diverged_at = torch.where(bad, state.step, state.diverged_at)
    state.alive = state.alive & ~bad
    coef = torch.ones_like(norm) if clip is None else (clip / (norm + 1e-6)).clamp(max=1.0)
    coef = torch.where(state.alive, coef, 0.0)
    for n, g in grads.items():
        c = coef.view(-1, *([1] * (g.dim() - 1)))
        grads[n] = torch.where(c > 0, g * c, 0.0)


class _Loop:
    """A pack's training: the members, their data and results, and the loop's state."""

    def __init__(self, task: Task, members: Sequence[Member], plan: Budget, dev: torch.device):
        self.task, self.members, self.plan, self.dev = task, list(members), plan, dev
        self.built = [_build(task, m, plan, dev) for m in members]
        self.pack = _Pack(self.built)
        k = self.pack.k
        self.inputs = torch.stack([b.train.inputs for b in self.built])  # (K, N, ...)
        self.targets = torch.stack([b.train.targets for b in self.built])
        self.per_epoch, self.total, self.warmup = schedule_of(plan, len(self.built[0].train))
        # each member's data order from its own generator, as a single run of its seed draws it
        self.orders = [torch.Generator().manual_seed(m.seed) for m in members]
        self.results = [
            new_result(task, m.name, m.seed, dev, b.model, self.total)
            for m, b in zip(members, self.built, strict=True)
        ]
        self.optimizer = _Adam(self.pack.params, plan.weight_decay)
        self.lr_scale = torch.tensor([m.lr_scale for m in members], device=dev)
        self.state = _State(
            alive=torch.ones(k, dtype=torch.bool, device=dev),
            diverged_at=torch.full((k,), -1, dtype=torch.long, device=dev),
        )
        reg = Regularisers(plan.label_smoothing) if plan.label_smoothing else None
        # a loss's random numbers are drawn before the pack's step, member by member
        # (_draws): one drawn inside it is an error, not a silent break of the pairing
        self.losses = vmap(_member_loss(task, self.pack, reg), randomness="error")
        self.generators = [b.generators for b in self.built]
        self.drawing = type(task).draws is not Task.draws
        self.training = [True] * k  # not yet stopped (diverged, pruned, rejected)
        self.last_loss = torch.zeros(k, device=dev)
        self.rows = torch.arange(k, device=dev)[:, None]  # each member's row of a batch
        self.growth = PackGrowth(self.pack.base, members=k, total=self.total)
        self.reg = reg

    def step(self, idx: torch.Tensor) -> None:
        """One step of every member still training, on its batch ``idx`` (K, B)."""
        state, plan, pack = self.state, self.plan, self.pack
        rows, growth, recorded = self.rows, self.growth, self.growth.records(state.step + 1)
        inputs, targets = self.inputs[rows, idx], self.targets[rows, idx]
        draws = self._draws(inputs)
        if recorded:
            members = [k for k, on in enumerate(self.training) if on]
            growth.observe(state.step + 1, lambda k: self._loss(k, inputs, targets, draws), members)
        with autocast(self.dev, plan.precision):
            losses = self.losses(pack.params, pack.buffers, inputs, targets, draws)
        bad = state.alive & ~torch.isfinite(losses)
        state.diverged_at = torch.where(bad, state.step, state.diverged_at)
        state.alive = state.alive & ~bad
        self.last_loss = losses.detach()
        kept = torch.where(state.alive, losses, 0.0).sum()
        names = list(pack.params)
        grads = dict(
            zip(names, torch.autograd.grad(kept, [pack.params[n] for n in names]), strict=True)
        )
        if recorded:
            adam = self.optimizer
            growth.gradients(
                state.step + 1, grads, pack.params, adam.v, adam.steps, BETAS[1], state.alive
            )
        _clip(grads, plan.clip_grad, state)
        factor = plan.lr * lr_factor(state.step, self.total, self.warmup, plan.schedule)
        self.optimizer.step(grads, factor * self.lr_scale * state.alive)
        state.step += 1
        if recorded:
            growth.stepped(state.step, pack.params, state.alive)

    def _draws(self, inputs: torch.Tensor) -> Draws:
        """Each member's random numbers for its batch, from its own generator states (those
        its single run draws from), stacked (K, ...); none for a task whose loss draws none.
        The global generators are left as they were."""
        if not self.drawing:
            return ()
        parts = []
        with torch.random.fork_rng(devices=[self.dev] if self.dev.type == "cuda" else []):
            for k in range(len(self.members)):
                _set_generator_states(self.dev, self.generators[k])
                parts.append(self.task.draws(inputs[k]))
                self.generators[k] = _generator_states(self.dev)
        return tuple(torch.stack(drawn) for drawn in zip(*parts, strict=True))

    def _loss(
        self,
        k: int,
        inputs: torch.Tensor,
        targets: torch.Tensor,
        draws: Draws,
    ) -> torch.Tensor:
        """Member k's training loss on its rows of a batch, outside the pack's vmap."""
        view = self.pack.member(k)
        with autocast(self.dev, self.plan.precision):
            if self.reg is None:
                return self.task.loss_given(view, inputs[k], targets[k], tuple(d[k] for d in draws))
            return self.task.regularised_loss(view, inputs[k], targets[k], self.reg)

    def epoch(self, check_every: int) -> None:
        """An epoch's steps (fewer where the plan's total ends first or every member stopped)."""
        n, size = len(self.built[0].train), self.plan.batch_size
        order = torch.stack([torch.randperm(n, generator=g) for g in self.orders]).to(self.dev)
        for i in range(self.per_epoch):
            if self.state.step >= self.total:
                return
            self.step(order[:, i * size : (i + 1) * size])
            if self.state.step % check_every == 0 and not bool(self.state.alive.any()):
                return  # one read of the device every check_every steps

    def score(self, epoch: int, reports: Sequence[Report | None]) -> None:
        """The epoch's end for every member still training: a member that diverged during it
        is recorded so; the others are scored and may stop (non-finite loss, pruning)."""
        diverged_at = self.state.diverged_at.tolist()
        last = self.last_loss.tolist()
        for k, result in enumerate(self.results):
            if not self.training[k]:
                continue
            if diverged_at[k] >= 0:
                result.diverged, result.diverged_step = True, diverged_at[k]
                result.steps, self.training[k] = diverged_at[k], False
                continue
            view = self.pack.member(k)
            with autocast(self.dev, self.plan.precision):
                scores = self.task.score(view, self.built[k].val)
            result.epochs, result.steps = epoch, self.state.step
            record_epoch(result, scores, last[k], self.task.direction)
            if stops(result, scores, None, reports[k]):
                self.training[k] = False
        self.state.alive = self.state.alive & torch.tensor(self.training, device=self.dev)

    def finish(self, seconds: float, cpu_seconds: float) -> list[RunResult]:
        """Each member's closing measures, growth curves, learned α and s, and its share of
        the time."""
        self.growth.close()
        for k, result in enumerate(self.results):
            if self.training[k]:
                result.steps = self.state.step
            result.growth = self.growth.rows(k, result.diverged_step if result.diverged else None)
            if not result.diverged:
                b = self.built[k]
                measure_fitted(
                    result, self.task, self.pack.member(k), b.train, b.val, self.plan, self.dev
                )
            result.alpha, result.shift = self._learned(k)
            result.seconds, result.cpu_seconds = seconds / self.pack.k, cpu_seconds / self.pack.k
        return self.results

    def _learned(self, k: int) -> tuple[float | None, float | None]:
        norms = [path for path, _ in _norms(self.pack.base)]
        if not norms:
            return None, None
        p = self.pack.params
        alpha = float(torch.stack([p[f"{n}.alpha"][k].detach().mean() for n in norms]).mean())
        shifts = [p[f"{n}.shift"][k].detach().mean() for n in norms if f"{n}.shift" in p]
        return alpha, (float(torch.stack(shifts).mean()) if shifts else None)


def train_packed(
    task: Task,
    members: Sequence[Member],
    *,
    budget: str | int | Budget = "default",
    device: str = "auto",
    reports: Sequence[Report | None] | None = None,
    check_every: int = CHECK_EVERY,
    keep: Callable[[int, dict[str, torch.Tensor]], None] | None = None,
) -> list[RunResult]:
    """Train ``members`` as one pack; a result per member, in order, with a single run's
    schema. ``reports[k]`` is member k's pruning callback (as :func:`~evaluators.train`'s
    ``report``); ``keep(k, parameters)`` receives each member's trained parameters."""
    plan = budget if isinstance(budget, Budget) else task.budget(budget)
    _check_packable(task, plan, members)
    dev = resolve_device(device)
    start, cpu_start = time.perf_counter(), time.process_time()
    loop = _Loop(task, members, plan, dev)
    each = list(reports) if reports is not None else [None] * len(members)
    for epoch in range(1, plan.epochs + 1):
        loop.epoch(max(1, check_every))
        loop.score(epoch, each)
        if not any(loop.training) or loop.state.step >= loop.total:
            break
    results = loop.finish(time.perf_counter() - start, time.process_time() - cpu_start)
    if keep is not None:
        for k in range(loop.pack.k):
            keep(k, loop.pack.state(k))
    return results
