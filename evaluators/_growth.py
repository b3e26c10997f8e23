"""Growth curves: the signals that grow with steps and scale, recorded during training.

An unbounded point-wise function fails at scale because something it passes on grows over
~10⁵ steps until it leaves the safe range: the residual stream, the queries and keys and so the
attention logits, the optimizer's update (Wortsman et al. 2023 reproduce such instabilities in
small models by tracking these quantities and extrapolating their trends). A proxy run records
them at a fixed set of log-spaced steps, the same for every function, so that their growth can
be fitted and extrapolated (``search.prediction``'s growth fits).

Values are kept on the device as 0-d tensors and read once when the run ends: recording adds
no host synchronisation to the steps it observes.

Signals (:data:`SIGNALS`), per layer where one applies (``layer`` is the module's name, ``""``
for the whole model):

- ``attention_logit``: the largest |q·k|/√d over attended pairs, per attention layer;
- ``attention_entropy``: the smallest entropy (nats) of a query's attention, per attention
  layer: a collapse to one key shows as entropy near 0;
- ``residual_rms``: the root mean square of each block's output (the residual stream);
- ``norm_input``: the largest |x| entering each norm layer (point-wise or not);
- ``norm_output``: the largest |y| leaving each norm layer: what attention and the MLP
  receive, bounded by γ for a bounded f, growing with its input for an unbounded one (by how
  much is the degree of growth that separates 0.1·x + 0.9·f from 0.5·x + 0.5·f at scale);
- ``output_logit``: the largest |output| of the model;
- ``grad_norm``: the gradients' global norm before clipping;
- ``update_ratio``: ‖Δθ‖ / ‖θ‖ of the optimizer's step, over all parameters;
- ``adam_ratio``: the largest g²/v̂ of Adam over all parameters (the gradient against the
  second-moment estimate it meets: a loss spike's precursor).

Example:
    >>> recording_steps(100, points=6)
    [1, 3, 6, 16, 40, 100]
    >>> import torch
    >>> from torch import nn
    >>> model = nn.Sequential(nn.Linear(4, 4), nn.LayerNorm(4), nn.Linear(4, 2))
    >>> recorder = GrowthRecorder(model, steps=[1])
    >>> with recorder.observing(1):
    ...     _ = model(torch.randn(3, 4))
    >>> sorted({row["signal"] for row in recorder.rows()})
    ['norm_input', 'norm_output', 'output_logit']
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from functools import partial
from typing import Any, cast

import torch
from torch import nn
from torch.utils.hooks import RemovableHandle

from ._layer import PointwiseNorm
from ._probe import attention_logits, logit_peak

#: The recorded signals, in the order reports show them.
SIGNALS = (
    "attention_logit",
    "attention_entropy",
    "residual_rms",
    "norm_input",
    "norm_output",
    "output_logit",
    "grad_norm",
    "update_ratio",
    "adam_ratio",
)
#: How many log-spaced steps a run records at (at most; fewer distinct steps in a short run).
GROWTH_POINTS = 32
#: The Adam ε squared, under g²/v̂: a parameter whose gradients were all zero is not infinite.
ADAM_FLOOR = 1e-16


def recording_steps(total: int, *, points: int = GROWTH_POINTS) -> list[int]:
    """``points`` steps from 1 to ``total``, evenly spaced in log step (distinct, the last
    always ``total``): the same for every function of a recipe, and dense where a log-log fit
    needs it."""
    if total < 1:
        return []
    if points < 2:
        return [total]
    ratio = total ** (1 / (points - 1))
    return sorted({max(1, min(total, round(ratio**i))) for i in range(points)} | {total})


def curve_points(rows: Sequence[list[Any]], diverged_step: int | None) -> list[list[Any]]:
    """The rows ``[step, signal, layer, value]`` a run's result keeps: a non-finite value (a
    diverging step) is no point of a curve, the divergence being recorded; nor is a step after
    the diverging one (step s is recorded as s + 1), nor the update of the diverging step,
    which a run that stops there does not take.

    >>> curve_points([[1, "grad_norm", "", 2.0], [2, "grad_norm", "", float("nan")],
    ...               [2, "update_ratio", "", 0.1], [3, "grad_norm", "", 5.0]], diverged_step=1)
    [[1, 'grad_norm', '', 2.0]]
    """
    last = math.inf if diverged_step is None else diverged_step + 1
    return [
        r
        for r in rows
        if math.isfinite(r[3]) and r[0] <= last and not (r[0] == last and r[1] == "update_ratio")
    ]


def _blocks(model: nn.Module) -> list[tuple[str, nn.Module]]:
    """The model's residual blocks: the children of its ``blocks`` list, where it has one."""
    blocks = getattr(model, "blocks", None)
    if not isinstance(blocks, nn.ModuleList):
        return []
    return [(f"blocks.{i}", block) for i, block in enumerate(blocks)]


def _first_tensor(output: Any) -> torch.Tensor | None:
    if isinstance(output, torch.Tensor):
        return output
    if isinstance(output, tuple | list) and output and isinstance(output[0], torch.Tensor):
        return output[0]
    return None


class GrowthRecorder:
    """Records the growth signals of ``model`` (and of ``optimizer``'s steps) at ``steps``.

    Use :meth:`observing` around the forward pass of a recorded step, :meth:`gradients`
    after its backward pass (before clipping) and :meth:`stepped` after its optimizer step;
    :meth:`rows` reads everything back once, at the end.
    """

    def __init__(
        self,
        model: nn.Module,
        *,
        steps: Sequence[int],
        optimizer: torch.optim.Optimizer | None = None,
    ) -> None:
        self.model, self.optimizer = model, optimizer
        self.steps = set(steps)
        self._values: list[tuple[int, str, str, torch.Tensor]] = []
        self._step: int | None = None
        self._before: list[torch.Tensor] | None = None
        self._params: list[nn.Parameter] = []
        self._handles: list[RemovableHandle] = []
        # The hooks are registered for a recorded step's forward pass only: a module without
        # hooks takes PyTorch's fast call path, and a pack's shared model would otherwise call
        # every member's hooks (K of them) at every module of every step.
        self._hooks: list[Callable[[], RemovableHandle]] = []
        names = {id(m): name for name, m in model.named_modules()}
        for module in model.modules():
            name = names[id(module)]
            if isinstance(module, nn.MultiheadAttention):
                self._hooks.append(
                    partial(
                        module.register_forward_pre_hook, self._attention(name), with_kwargs=True
                    )
                )
            elif isinstance(module, PointwiseNorm | nn.LayerNorm | nn.RMSNorm):
                self._hooks.append(
                    partial(module.register_forward_pre_hook, self._norm_input(name))
                )
                self._hooks.append(partial(module.register_forward_hook, self._norm_output(name)))
        for name, block in _blocks(model):
            self._hooks.append(partial(block.register_forward_hook, self._residual(name)))
        self._hooks.append(partial(model.register_forward_hook, self._output))

    def records(self, step: int) -> bool:
        """Whether ``step`` (counted from 1: the step about to be taken, plus one) is one
        this run records."""
        return step in self.steps

    def _keep(self, signal: str, layer: str, value: torch.Tensor) -> None:
        if self._step is not None:
            self._values.append((self._step, signal, layer, value.detach().float()))

    def _attention(self, name: str) -> Any:
        def hook(module: nn.Module, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
            if self._step is None:
                return
            with torch.no_grad():
                logits, masked = attention_logits(cast(nn.MultiheadAttention, module), args, kwargs)
                self._keep("attention_logit", name, logit_peak(logits, masked))
                if masked is not None:
                    logits = logits.masked_fill(masked, -math.inf)
                p = torch.softmax(logits, dim=-1)  # (B, H, T, S)
                entropy = -(p * torch.log(p.clamp_min(1e-30))).sum(-1)
                # a query with one key to attend to (a causal model's first) has no choice
                if masked is not None:
                    entropy = entropy.masked_fill((~masked).sum(-1) < 2, math.inf)
                self._keep("attention_entropy", name, entropy.amin())

        return hook

    def _norm_input(self, name: str) -> Any:
        def hook(module: nn.Module, args: tuple[Any, ...]) -> None:
            if self._step is not None and args and isinstance(args[0], torch.Tensor):
                self._keep("norm_input", name, args[0].detach().abs().amax())

        return hook

    def _norm_output(self, name: str) -> Any:
        def hook(module: nn.Module, args: tuple[Any, ...], output: Any) -> None:
            out = _first_tensor(output)
            if self._step is not None and out is not None:
                self._keep("norm_output", name, out.detach().abs().amax())

        return hook

    def _residual(self, name: str) -> Any:
        def hook(module: nn.Module, args: tuple[Any, ...], output: Any) -> None:
            out = _first_tensor(output)
            if self._step is not None and out is not None:
                self._keep("residual_rms", name, out.detach().float().pow(2).mean().sqrt())

        return hook

    def _output(self, module: nn.Module, args: tuple[Any, ...], output: Any) -> None:
        out = _first_tensor(output)
        if self._step is not None and out is not None:
            self._keep("output_logit", "", out.detach().abs().amax())

    @contextmanager
    def observing(self, step: int) -> Iterator[None]:
        """Record the forward-pass signals of ``step`` (a no-op for a step not recorded).
        Not reentrant: one forward pass is observed at a time."""
        if self._handles:
            raise RuntimeError("a growth recorder observes one forward pass at a time")
        self._step = step if self.records(step) else None
        try:
            if self._step is not None:
                for register in self._hooks:
                    self._handles.append(register())
            yield
        finally:
            self._step = None
            self.close()

    def gradients(self, step: int) -> None:
        """After the backward pass of ``step``, the gradients unscaled, before clipping: the
        gradient norm and Adam's g²/v̂; and the parameters as they are before the step."""
        if not self.records(step):
            return
        params = [p for p in self.model.parameters() if p.grad is not None]
        if not params:
            return
        with torch.no_grad():
            grads = [p.grad.detach().float() for p in params if p.grad is not None]
            norm = torch.linalg.vector_norm(torch.stack([g.norm() for g in grads]))
            self._values.append((step, "grad_norm", "", norm))
            ratio = self._adam_ratio(params)
            if ratio is not None:
                self._values.append((step, "adam_ratio", "", ratio))
            self._before = [p.detach().float().clone() for p in params]
            self._params = params

    def _adam_ratio(self, params: list[nn.Parameter]) -> torch.Tensor | None:
        """max g²/v̂ over the parameters Adam has a second moment for (after its first step)."""
        if self.optimizer is None:
            return None
        betas = {
            id(p): group.get("betas", (0.9, 0.999))[1]
            for group in self.optimizer.param_groups
            for p in group["params"]
        }
        peaks = []
        for p in params:
            state = self.optimizer.state.get(p, {})
            if "exp_avg_sq" not in state or p.grad is None:
                continue
            done = float(state["step"])  # a CPU scalar in torch's Adam: no device sync
            v_hat = state["exp_avg_sq"].float() / (1 - betas[id(p)] ** done)
            peaks.append((p.grad.float().pow(2) / (v_hat + ADAM_FLOOR)).amax())
        return torch.stack(peaks).amax() if peaks else None

    def stepped(self, step: int) -> None:
        """After the optimizer step of ``step``: the update's size against the weights'."""
        if self._before is None or not self.records(step):
            return
        with torch.no_grad():
            pairs = zip(self._params, self._before, strict=True)
            change = torch.stack([(p.detach().float() - b).norm() for p, b in pairs])
            size = torch.stack([b.norm() for b in self._before])
            ratio = torch.linalg.vector_norm(change) / torch.linalg.vector_norm(size).clamp_min(
                1e-30
            )
            self._values.append((step, "update_ratio", "", ratio))
        self._before = None

    def close(self) -> None:
        """Remove the hooks (the model is left as it was found; outside a recorded step's
        forward pass it holds none of this recorder's)."""
        for handle in self._handles:
            handle.remove()
        self._handles = []

    def rows(self) -> list[dict[str, Any]]:
        """Every recorded value, one row each: ``step, signal, layer, value`` (one read of
        the device)."""
        if not self._values:
            return []
        values = torch.stack([v.reshape(()) for *_, v in self._values]).cpu().tolist()
        return [
            {"step": step, "signal": signal, "layer": layer, "value": float(value)}
            for (step, signal, layer, _), value in zip(self._values, values, strict=True)
        ]
