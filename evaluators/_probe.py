"""The largest attention logit of a model: where an unbounded function shows first.

A point-wise function that grows without bound passes the residual stream's growth on to the
queries and keys, and the logits q·k/√d grow with its square. At scale this is what overflows
float16 and ends a training (Wortsman et al. 2023 track the same quantity as their instability
indicator); a short proxy run rarely gets that far, but the peak it reaches is measured.

Example:
    >>> import torch
    >>> from torch import nn
    >>> attn = nn.MultiheadAttention(4, 2, batch_first=True)
    >>> x = torch.randn(1, 3, 4)
    >>> peak = attention_logit_peak(attn, lambda: attn(x, x, x))
    >>> peak is not None and peak >= 0
    True
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any, cast

import torch
import torch.nn.functional as F
from torch import nn


def _blocked(mask: torch.Tensor) -> torch.Tensor:
    """Where a mask forbids attending: a boolean mask's True, a float mask's −inf."""
    return mask if mask.dtype == torch.bool else torch.isneginf(mask)


def _masked(
    attn_mask: torch.Tensor | None,
    key_padding_mask: torch.Tensor | None,
    shape: tuple[int, int, int, int],
) -> torch.Tensor | None:
    """The (B, H, T, S) pairs a call does not attend to (True), from its masks; None when
    nothing is masked."""
    b, heads, t, s = shape
    masked = None
    if attn_mask is not None:
        m = _blocked(attn_mask)
        masked = m.reshape(b, heads, t, s) if m.dim() == 3 else m.expand(b, heads, t, s)
    if key_padding_mask is not None:
        m = _blocked(key_padding_mask).reshape(b, 1, 1, s).expand(b, heads, t, s)
        masked = m if masked is None else masked | m
    return masked


def attention_logits(
    attn: nn.MultiheadAttention, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """The (B, H, T, S) logits q·k/√d of one call of ``attn`` with these arguments (as a
    forward pre-hook receives them), in float32, and the pairs it does not attend to (True;
    None when nothing is masked)."""

    def given(name: str) -> Any:
        i = _POSITIONS[name]
        return args[i] if len(args) > i else kwargs.get(name)

    return _logits(
        attn, given("query"), given("key"), given("attn_mask"), given("key_padding_mask")
    )


def _logits(
    attn: nn.MultiheadAttention,
    query: torch.Tensor,
    key: torch.Tensor,
    attn_mask: torch.Tensor | None,
    key_padding_mask: torch.Tensor | None,
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """q·k/√d over the heads of one call, from the module's own projections, in float32
    whatever autocast is on (a float16 product would overflow on its own, before the model's
    scaled attention does), with the mask of the pairs not attended to."""
    d, heads = attn.embed_dim, attn.num_heads
    if query.dim() == 2:  # unbatched (T, C)
        query, key = query.unsqueeze(0), key.unsqueeze(0)
    elif not attn.batch_first:  # (T, B, C) -> (B, T, C)
        query, key = query.transpose(0, 1), key.transpose(0, 1)
    if attn.in_proj_weight is not None:
        w_q, w_k = attn.in_proj_weight[:d], attn.in_proj_weight[d : 2 * d]
    else:
        w_q, w_k = attn.q_proj_weight, attn.k_proj_weight
    bias = attn.in_proj_bias
    b_q, b_k = (None, None) if bias is None else (bias[:d].float(), bias[d : 2 * d].float())
    with torch.autocast(query.device.type, enabled=False):
        q = F.linear(query.float(), w_q.float(), b_q)
        k = F.linear(key.float(), w_k.float(), b_k)
        b, t, s = q.shape[0], q.shape[1], k.shape[1]
        q = q.reshape(b, t, heads, d // heads).transpose(1, 2)  # (B, H, T, d/H)
        k = k.reshape(b, s, heads, d // heads).transpose(1, 2)
        logits = q @ k.transpose(-1, -2) / math.sqrt(d // heads)
    return logits, _masked(attn_mask, key_padding_mask, (b, heads, t, s))


def logit_peak(logits: torch.Tensor, masked: torch.Tensor | None) -> torch.Tensor:
    """The largest |logit| over the attended pairs (a 0-d tensor, on the logits' device)."""
    size = logits.abs()
    return (size if masked is None else size.masked_fill(masked, 0.0)).amax()


#: Where nn.MultiheadAttention.forward takes these arguments when they come by position.
_POSITIONS = {"query": 0, "key": 1, "key_padding_mask": 3, "attn_mask": 5}


@torch.no_grad()
def attention_logit_peak(model: nn.Module, forward: Callable[[], Any]) -> float | None:
    """The largest |q·k|/√d, over the pairs a call attends to, that any
    :class:`torch.nn.MultiheadAttention` of ``model`` computes while ``forward()`` runs
    (float32; ``inf`` past float32's range, ``nan`` if an input was not a number), or ``None``
    when the model has none."""
    layers = [m for m in model.modules() if isinstance(m, nn.MultiheadAttention)]
    if not layers:
        return None
    peaks: list[float] = []

    def hook(module: nn.Module, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
        logits, masked = attention_logits(cast(nn.MultiheadAttention, module), args, kwargs)
        peaks.append(float(logit_peak(logits, masked)))

    handles = [m.register_forward_pre_hook(hook, with_kwargs=True) for m in layers]
    try:
        forward()
    finally:
        for handle in handles:
            handle.remove()
    if not peaks:
        return None
    return math.nan if any(math.isnan(p) for p in peaks) else max(peaks)
