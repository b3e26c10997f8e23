"""A pre-norm Transformer block whose norms come from a factory.

Example:
    >>> import torch
    >>> from torch import nn
    >>> block = Block(16, heads=2, norm=nn.LayerNorm)
    >>> block(torch.randn(2, 5, 16)).shape
    torch.Size([2, 5, 16])
"""

from __future__ import annotations

import torch
from torch import nn

from .._task import NormFactory


class Block(nn.Module):
    """x + attn(norm(x)), then x + mlp(norm(x)): pre-norm, as ViT and GPT-2."""

    def __init__(
        self, width: int, *, heads: int, norm: NormFactory, mlp_ratio: int = 2, causal: bool = False
    ) -> None:
        super().__init__()
        self.norm1 = norm(width)
        self.attn = nn.MultiheadAttention(width, heads, batch_first=True)
        self.norm2 = norm(width)
        self.mlp = nn.Sequential(
            nn.Linear(width, mlp_ratio * width), nn.GELU(), nn.Linear(mlp_ratio * width, width)
        )
        self.causal = causal

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.norm1(x)  # (B, T, C)
        mask = None
        if self.causal:
            t = x.shape[1]
            mask = torch.triu(torch.ones(t, t, dtype=torch.bool, device=x.device), diagonal=1)
        x = x + self.attn(h, h, h, attn_mask=mask, need_weights=False)[0]
        return x + self.mlp(self.norm2(x))
