"""How runs are split into packs: how many members a pack takes on a device (``--pack auto``),
and a pack that runs out of GPU memory, or raises, trained again in halves.

On a CPU ``auto`` packs nothing (:data:`CPU_PACK`: packs pay there on some tasks only); on a
GPU the size comes from the
peak memory of two one-step packs measured on it. A pack's memory grows faster than its
member count where its members have different functions (each norm applies every function
of the pack to each member's slice), so the estimate counts that, at the worst.

Example:
    >>> pack_for_memory(member_bytes=2**30, function_bytes=0, free_bytes=8 * 2**30)
    8
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

import torch

from ._packed import Member, architecture, train_packed, unpackable
from ._task import Budget, Task
from ._train import Report, RunResult, resolve_device

#: Members per pack on a CPU under ``--pack auto``: one, since packs do not pay on every task
#: there. On 2 cores, digits-dit at 60 steps trained 1.52× the runs an hour of single runs in
#: packs of 4, but mnist1d's default run 0.79× (docs/performance.md); ``--pack 4`` asks for them.
CPU_PACK = 1
#: The most members a pack takes whatever memory allows (the search asks that many trials).
MAX_PACK = 64
#: The share of a GPU's free memory a pack may fill (the rest: the allocator's slack, the
#: data of another worker sharing the GPU).
GPU_MEMORY_SHARE = 0.5


def pack_for_memory(member_bytes: int, function_bytes: int, free_bytes: float) -> int:
    """The most members, 1 to :data:`MAX_PACK`, whose memory fits ``free_bytes``: each member
    takes ``member_bytes``, and ``function_bytes`` more for each distinct function of its pack
    (every norm of a member applies each of the pack's functions to its slice, keeping what
    the backward pass needs), counted at the worst: every member another function.

    >>> pack_for_memory(100 * 2**20, 0, 40 * 2**30)
    64
    >>> pack_for_memory(100 * 2**20, 10 * 2**20, 4 * 2**30)
    15
    >>> pack_for_memory(2**40, 0, 2**30)
    1
    """
    k = 1
    while k < MAX_PACK and (k + 1) * (member_bytes + (k + 1) * function_bytes) <= free_bytes:
        k += 1
    return k


def auto_pack(task: Task, plan: Budget, device: str = "auto", *, gpu_share: float = 1.0) -> int:
    """How many members a pack of ``task`` under ``plan`` takes on ``device`` (``--pack
    auto``): 1 where the plan cannot be packed; :data:`CPU_PACK` on a CPU; on a GPU, what
    :data:`GPU_MEMORY_SHARE` of its free memory holds, times ``gpu_share`` (the worker's share
    of the GPU, as Ray assigned it), by the peak memory of a one-step pack of one member and of
    two members with two functions, measured there (:func:`pack_for_memory`).

    >>> from evaluators import get_task
    >>> task = get_task("mnist1d")
    >>> auto_pack(task, task.budget("quick"), "cpu")
    1
    """
    if unpackable(task, plan) is not None:
        return 1
    dev = resolve_device(device)
    if dev.type != "cuda":
        return CPU_PACK
    one = _pack_bytes(task, plan, dev, [Member("erf", 0)])
    two = _pack_bytes(task, plan, dev, [Member("erf", 0), Member("tanh(x)", 1)])
    # one = b + a and two = 2b + 4a, for b a member's bytes and a a function's per member
    function = max(0, (two - 2 * one) // 2)
    torch.cuda.empty_cache()
    free = torch.cuda.mem_get_info(dev)[0] * GPU_MEMORY_SHARE * gpu_share
    return pack_for_memory(one - function, function, free)


def _pack_bytes(task: Task, plan: Budget, dev: torch.device, members: list[Member]) -> int:
    """The peak memory of a one-step pack of ``members`` on ``dev`` (CUDA), scoring and
    closing measures included."""
    torch.cuda.empty_cache()
    torch.cuda.synchronize(dev)
    before = torch.cuda.memory_allocated(dev)
    torch.cuda.reset_peak_memory_stats(dev)
    train_packed(task, members, budget=replace(plan, epochs=1, max_steps=1), device=str(dev))
    torch.cuda.synchronize(dev)
    return int(torch.cuda.max_memory_allocated(dev) - before)


@dataclass(frozen=True)
class MemberFailure:
    """A pack member that raised, trained on its own: the error's type and message. The
    members it shared a pack with are trained again without it, so they are unaffected."""

    member: Member
    error: str


def train_in_packs(
    task: Task,
    members: Sequence[Member],
    *,
    budget: Budget,
    device: str = "auto",
    reports: Sequence[Report | None] | None = None,
) -> list[RunResult | MemberFailure]:
    """``members`` trained as packs, one per architecture among them (:func:`pack_groups`);
    a result per member, in order, as :func:`train_packed` gives them.

    A pack that runs out of GPU memory, or raises, is trained again as two halves, down to
    single members: one member's error (its layer cannot be built, its pruning report
    fails) is that member's :class:`MemberFailure` alone, and the others' results are those
    of their packs without it.

    >>> from evaluators import get_task
    >>> results = train_in_packs(get_task("mnist1d"), [Member("erf"), Member("layernorm")],
    ...                          budget=Budget(epochs=1, max_steps=2), device="cpu")
    >>> [(r.candidate, r.steps) for r in results]
    [('erf', 2), ('layernorm', 2)]
    """
    each: list[Report | None] = list(reports) if reports is not None else [None] * len(members)
    results: dict[int, RunResult | MemberFailure] = {}
    groups: dict[tuple[object, ...], list[int]] = {}  # as pack_groups, each layer built once
    for k, member in enumerate(members):
        try:
            groups.setdefault(architecture(member), []).append(k)
        except Exception as exc:  # the member's own failure, recorded as such
            results[k] = MemberFailure(member, _why(exc))
    for group in groups.values():
        results.update(_train_halving(task, members, group, budget, device, each))
    return [results[k] for k in range(len(members))]


def _why(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}".strip()


def _train_halving(
    task: Task,
    members: Sequence[Member],
    group: list[int],
    budget: Budget,
    device: str,
    reports: list[Report | None],
) -> dict[int, RunResult | MemberFailure]:
    try:
        trained = train_packed(
            task,
            [members[k] for k in group],
            budget=budget,
            device=device,
            reports=[reports[k] for k in group],
        )
    except Exception as exc:  # split until the member that raises is alone
        why, memory = _why(exc), isinstance(exc, torch.cuda.OutOfMemoryError)
    else:
        return dict(zip(group, trained, strict=True))
    # Out of the handler: its traceback holds the failed pack's tensors until it ends.
    if len(group) == 1:
        return {group[0]: MemberFailure(members[group[0]], why)}
    if memory:
        torch.cuda.empty_cache()
    half = len(group) // 2
    return {
        **_train_halving(task, members, group[:half], budget, device, reports),
        **_train_halving(task, members, group[half:], budget, device, reports),
    }
