"""Building blocks of the built-in tasks: a pre-norm Transformer block whose norms come from a
factory, patch tokenizers, a ViT-style classifier and its loss and score.

Example:
    >>> import torch
    >>> from torch import nn
    >>> block = Block(16, heads=2, norm=nn.LayerNorm)
    >>> block(torch.randn(2, 5, 16)).shape
    torch.Size([2, 5, 16])
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .._task import NormFactory, Split


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


class Patches2d(nn.Module):
    """(B, H, W) images -> (B, N, p²) tokens of non-overlapping p×p patches."""

    def __init__(self, patch: int) -> None:
        super().__init__()
        self.patch = patch

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        b, p = images.shape[0], self.patch
        return images.unfold(1, p, p).unfold(2, p, p).reshape(b, -1, p * p)


class Patches1d(nn.Module):
    """(B, L) signals -> (B, L/p, p) tokens of p consecutive samples."""

    def __init__(self, patch: int) -> None:
        super().__init__()
        self.patch = patch

    def forward(self, signals: torch.Tensor) -> torch.Tensor:
        return signals.reshape(signals.shape[0], -1, self.patch)


class TokenClassifier(nn.Module):
    """A ViT-style classifier: embed tokens, prepend a class token, pre-norm blocks, a final
    norm and a linear head on the class token. Every norm comes from ``norm``."""

    def __init__(
        self,
        norm: NormFactory,
        *,
        to_tokens: nn.Module,
        n_tokens: int,
        token_dim: int,
        width: int = 64,
        depth: int = 4,
        heads: int = 4,
        classes: int = 10,
    ) -> None:
        super().__init__()
        self.to_tokens = to_tokens
        self.embed = nn.Linear(token_dim, width)
        self.cls = nn.Parameter(torch.zeros(1, 1, width))
        self.pos = nn.Parameter(torch.randn(1, n_tokens + 1, width) * 0.02)
        self.blocks = nn.ModuleList([Block(width, heads=heads, norm=norm) for _ in range(depth)])
        self.norm = norm(width)
        self.head = nn.Linear(width, classes)

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        tokens = self.embed(self.to_tokens(inputs))  # (B, N, C)
        b = tokens.shape[0]
        x = torch.cat([self.cls.expand(b, -1, -1), tokens], dim=1) + self.pos
        for block in self.blocks:
            x = block(x)  # (B, N + 1, C)
        return self.head(self.norm(x[:, 0]))  # (B, classes)


def cross_entropy(model: nn.Module, inputs: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    return F.cross_entropy(model(inputs), targets)


def majority_accuracy(train: Split, val: Split) -> float:
    """The validation accuracy of always answering the most frequent training class."""
    majority = torch.bincount(train.targets).argmax()
    return float((val.targets == majority).float().mean())


@torch.no_grad()
def classification_score(model: nn.Module, split: Split) -> dict[str, float]:
    """Accuracy and cross-entropy over a split, in eval mode."""
    model.train(False)  # eval mode: no dropout, running statistics
    logits = torch.cat([model(split.inputs[i : i + 512]) for i in range(0, len(split), 512)])
    loss = F.cross_entropy(logits, split.targets)
    accuracy = (logits.argmax(-1) == split.targets).float().mean()
    model.train()
    return {"metric": float(accuracy), "loss": float(loss)}
