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


def _logit_peak(attn: nn.MultiheadAttention, query: torch.Tensor, key: torch.Tensor) -> float:
    """max |q·k|/√d over the heads of one call, from the module's own projections."""
    d, heads = attn.embed_dim, attn.num_heads
    if not attn.batch_first:  # (T, B, C) -> (B, T, C)
        query, key = query.transpose(0, 1), key.transpose(0, 1)
    if attn.in_proj_weight is not None:
        w_q, w_k = attn.in_proj_weight[:d], attn.in_proj_weight[d : 2 * d]
    else:
        w_q, w_k = attn.q_proj_weight, attn.k_proj_weight
    bias = attn.in_proj_bias
    q = F.linear(query, w_q, None if bias is None else bias[:d])
    k = F.linear(key, w_k, None if bias is None else bias[d : 2 * d])
    b, t, s = q.shape[0], q.shape[1], k.shape[1]
    q = q.reshape(b, t, heads, d // heads).transpose(1, 2)  # (B, H, T, d/H)
    k = k.reshape(b, s, heads, d // heads).transpose(1, 2)
    logits = q @ k.transpose(-1, -2) / math.sqrt(d // heads)
    return float(logits.abs().amax())


@torch.no_grad()
def attention_logit_peak(model: nn.Module, forward: Callable[[], Any]) -> float | None:
    """The largest |q·k|/√d that any :class:`torch.nn.MultiheadAttention` of ``model`` computes
    while ``forward()`` runs (``inf`` if one overflows), or ``None`` when the model has none."""
    layers = [m for m in model.modules() if isinstance(m, nn.MultiheadAttention)]
    if not layers:
        return None
    peaks: list[float] = []

    def hook(module: nn.Module, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
        query = args[0] if args else kwargs["query"]
        key = args[1] if len(args) > 1 else kwargs["key"]
        peaks.append(_logit_peak(cast(nn.MultiheadAttention, module), query, key))

    handles = [m.register_forward_pre_hook(hook, with_kwargs=True) for m in layers]
    try:
        forward()
    finally:
        for handle in handles:
            handle.remove()
    if not peaks:
        return None
    return math.nan if any(math.isnan(p) for p in peaks) else max(peaks)
