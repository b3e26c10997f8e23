"""Growth curves of a pack's members: the signals a single run records
(:class:`~evaluators.GrowthRecorder`), each member's own, at the same log-spaced steps.

The forward signals (attention logits and entropy, the residual stream, norm inputs, output
logits) are read from a forward pass of each member of its own at a recorded step, on the
batch it trains on at that step, with the random numbers that step's loss draws (given, see
:meth:`~evaluators.Task.draws`: the pass draws none), before the step's update: the pack's
batched forward cannot hand one member's activations to a hook. The optimizer's
signals (gradient norm before clipping, Adam's largest g²/v̂, the update against the weights)
come from the pack's stacked gradients and moments, one value per member.

Example:
    >>> from torch import nn
    >>> base = nn.Sequential(nn.Linear(4, 4), nn.LayerNorm(4), nn.Linear(4, 2))
    >>> growth = PackGrowth(base, members=2, total=10)
    >>> growth.records(1), growth.records(2), growth.records(10)
    (True, True, True)
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import torch
from torch import nn

from ._growth import ADAM_FLOOR, GrowthRecorder, curve_points, recording_steps


def _per_member(tensors: list[torch.Tensor], members: int) -> torch.Tensor:
    """The squared norm of each member's slice, summed over ``tensors`` (each (K, ...))."""
    return torch.stack([t.float().reshape(members, -1).square().sum(1) for t in tensors]).sum(0)


class PackGrowth:
    """Each member's growth signals at :func:`~evaluators.recording_steps` of ``total``."""

    def __init__(self, base: nn.Module, *, members: int, total: int) -> None:
        self.steps = recording_steps(total)
        self.recorders = [GrowthRecorder(base, steps=self.steps) for _ in range(members)]
        self.members = members
        self._values: list[tuple[int, str, torch.Tensor]] = []  # (step, signal, (K,) values)
        self._before: dict[str, torch.Tensor] | None = None
        self._alive = torch.ones(members, dtype=torch.bool)

    def records(self, step: int) -> bool:
        """Whether ``step`` (counted from 1) is recorded."""
        return self.recorders[0].records(step)

    def observe(self, step: int, forward: Callable[[int], Any], members: list[int]) -> None:
        """The forward signals of ``step`` for each of ``members``: ``forward(k)`` runs
        member k's loss on its batch, its random numbers given."""
        for k in members:
            with torch.no_grad(), self.recorders[k].observing(step):
                forward(k)

    def gradients(
        self,
        step: int,
        grads: dict[str, torch.Tensor],
        params: dict[str, torch.Tensor],
        second: dict[str, torch.Tensor],
        done: int,
        beta2: float,
        alive: torch.Tensor,
    ) -> None:
        """After the backward pass of ``step`` (before clipping): each member's gradient norm
        and, once Adam has moments (``done`` steps), its largest g²/v̂; and the parameters as
        they are before the step. A member not ``alive`` (stopped, or its loss not finite)
        records nothing, as a single run that stopped records nothing."""
        self._alive = alive
        with torch.no_grad():
            names = list(grads)
            norm = _per_member([grads[n] for n in names], self.members).sqrt()
            self._values.append((step, "grad_norm", self._masked(norm)))
            if done > 0:
                correction = 1 - beta2**done
                peaks = [
                    (grads[n].float().square() / (second[n].float() / correction + ADAM_FLOOR))
                    .reshape(self.members, -1)
                    .amax(1)
                    for n in names
                ]
                self._values.append((step, "adam_ratio", self._masked(torch.stack(peaks).amax(0))))
            self._before = {n: p.detach().float().clone() for n, p in params.items()}

    def stepped(self, step: int, params: dict[str, torch.Tensor], alive: torch.Tensor) -> None:
        """After the update of ``step``: each member's update size against its weights' (a
        member not ``alive`` took no update)."""
        if self._before is None:
            return
        self._alive = alive
        with torch.no_grad():
            before = self._before
            change = _per_member([params[n].detach() - before[n] for n in before], self.members)
            size = _per_member(list(before.values()), self.members)
            ratio = (change / size.clamp_min(1e-60)).sqrt()
            self._values.append((step, "update_ratio", self._masked(ratio)))
        self._before = None

    def _masked(self, values: torch.Tensor) -> torch.Tensor:
        """NaN for the members not alive: :meth:`rows` leaves non-finite values out."""
        return torch.where(self._alive, values, math.nan)

    def close(self) -> None:
        """Remove the hooks from the pack's base module (each recorder removes its own after
        every observed forward pass: this is for a pass that never returned)."""
        for recorder in self.recorders:
            recorder.close()

    def rows(self, k: int, diverged_step: int | None) -> list[list[Any]]:
        """Member k's rows, ``[step, signal, layer, value]``, those a single run's result
        keeps (:func:`~evaluators.curve_points`; one read of the device)."""
        rows = [[r["step"], r["signal"], r["layer"], r["value"]] for r in self.recorders[k].rows()]
        if self._values:
            values = torch.stack([v[k] for *_, v in self._values]).cpu().tolist()
            rows += [
                [step, signal, "", float(value)]
                for (step, signal, _), value in zip(self._values, values, strict=True)
            ]
        return curve_points(rows, diverged_step)
