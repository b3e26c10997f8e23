"""Building blocks of the built-in tasks: a pre-norm Transformer block whose norms come from a
factory and whose residual branches may be dropped (stochastic depth), patch tokenizers, a
ViT-style classifier and its loss and score, and the base of the tasks that classify with it.

Example:
    >>> import torch
    >>> from torch import nn
    >>> block = Block(16, heads=2, norm=nn.LayerNorm)
    >>> block(torch.randn(2, 5, 16)).shape
    torch.Size([2, 5, 16])
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, Protocol

import torch
import torch.nn.functional as F
from torch import nn

from .._task import NormFactory, Regularisers, Split, Task

#: No regulariser: the plain loss.
PLAIN = Regularisers()


class DropPath(nn.Module):
    """Stochastic depth (Huang et al. 2016): in training mode, a residual branch's output is
    zeroed for each sample with probability ``rate`` and scaled by 1/(1 − rate) otherwise (its
    expectation unchanged); the identity in eval mode and at rate 0. The built-in models give
    every block the same rate (not one growing with depth: the proxies are 4 to 8 blocks deep).
    The masks come from torch's global generator, which the run's seed seeds.

    >>> drop = DropPath(0.5).train(False)
    >>> x = torch.ones(4, 3, 2)
    >>> torch.equal(drop(x), x)
    True
    >>> sorted(set(DropPath(0.5)(x).flatten().tolist()) - {0.0, 2.0})
    []
    """

    def __init__(self, rate: float = 0.0) -> None:
        super().__init__()
        if not 0 <= rate < 1:
            raise ValueError(f"a drop_path rate is in [0, 1), but got {rate=}.")
        self.rate = rate

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or self.rate == 0:
            return x
        keep = 1 - self.rate
        shape = (x.shape[0],) + (1,) * (x.dim() - 1)  # one draw per sample: (B, 1, 1)
        mask = torch.empty(shape, dtype=x.dtype, device=x.device).bernoulli_(keep)
        return x * mask / keep

    def extra_repr(self) -> str:
        return f"rate={self.rate:g}"


class Block(nn.Module):
    """x + attn(norm(x)), then x + mlp(norm(x)): pre-norm, as ViT and GPT-2; each residual
    branch goes through :class:`DropPath` at ``drop_path`` (0: never dropped)."""

    def __init__(
        self,
        width: int,
        *,
        heads: int,
        norm: NormFactory,
        mlp_ratio: int = 2,
        causal: bool = False,
        drop_path: float = 0.0,
    ) -> None:
        super().__init__()
        self.norm1 = norm(width)
        self.attn = nn.MultiheadAttention(width, heads, batch_first=True)
        self.norm2 = norm(width)
        self.mlp = nn.Sequential(
            nn.Linear(width, mlp_ratio * width), nn.GELU(), nn.Linear(mlp_ratio * width, width)
        )
        self.causal = causal
        self.drop_path = DropPath(drop_path)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.norm1(x)  # (B, T, C)
        mask = None
        if self.causal:
            t = x.shape[1]
            mask = torch.triu(torch.ones(t, t, dtype=torch.bool, device=x.device), diagonal=1)
        x = x + self.drop_path(self.attn(h, h, h, attn_mask=mask, need_weights=False)[0])
        return x + self.drop_path(self.mlp(self.norm2(x)))


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


@dataclass(frozen=True)
class Trunk:
    """The size of a model's stack of blocks, each field a recipe key of its task: ``width``
    (channels), ``depth`` (blocks), ``heads`` (a width is a multiple of it) and ``drop_path``
    (stochastic depth of every block).

    >>> Trunk(width=32).depth
    4
    """

    width: int = 64
    depth: int = 4
    heads: int = 4
    drop_path: float = 0.0

    @classmethod
    def of(cls, task: Sized) -> Trunk:
        """The trunk a task's recipe asks for."""
        return cls(task.width, task.depth, task.heads, task.drop_path)


class Sized(Protocol):
    """A task whose recipe sizes its trunk: the fields of :class:`Trunk`."""

    width: int
    depth: int
    heads: int
    drop_path: float


class TokenClassifier(nn.Module):
    """A ViT-style classifier: embed tokens, prepend a class token, pre-norm blocks, a final
    norm and a linear head on the class token. Every norm comes from ``norm``."""

    def __init__(
        self,
        norm: NormFactory,
        trunk: Trunk,
        *,
        to_tokens: nn.Module,
        n_tokens: int,
        token_dim: int,
        classes: int = 10,
    ) -> None:
        super().__init__()
        width, heads, drop_path = trunk.width, trunk.heads, trunk.drop_path
        self.to_tokens = to_tokens
        self.embed = nn.Linear(token_dim, width)
        self.cls = nn.Parameter(torch.zeros(1, 1, width))
        self.pos = nn.Parameter(torch.randn(1, n_tokens + 1, width) * 0.02)
        self.blocks = nn.ModuleList(
            [Block(width, heads=heads, norm=norm, drop_path=drop_path) for _ in range(trunk.depth)]
        )
        self.norm = norm(width)
        self.head = nn.Linear(width, classes)

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        tokens = self.embed(self.to_tokens(inputs))  # (B, N, C)
        b = tokens.shape[0]
        x = torch.cat([self.cls.expand(b, -1, -1), tokens], dim=1) + self.pos
        for block in self.blocks:
            x = block(x)  # (B, N + 1, C)
        return self.head(self.norm(x[:, 0]))  # (B, classes)


def cross_entropy(
    model: nn.Module, inputs: torch.Tensor, targets: torch.Tensor, reg: Regularisers = PLAIN
) -> torch.Tensor:
    """The cross-entropy of a classifier's logits (B, classes) against class targets (B,),
    smoothed by ``reg.label_smoothing``, against mixed inputs and targets under ``reg.mixup``."""
    smoothing, mixup = reg.label_smoothing, reg.mixup
    if mixup is None:
        return F.cross_entropy(model(inputs), targets, label_smoothing=smoothing)
    logits = model(mixup.inputs(inputs))
    own = F.cross_entropy(logits, targets, label_smoothing=smoothing)
    other = F.cross_entropy(logits, targets[mixup.partner], label_smoothing=smoothing)
    return mixup.lam * own + (1 - mixup.lam) * other


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


class ClassificationTask(Task):
    """A task whose model gives class logits (B, classes): cross-entropy loss (with label
    smoothing and mixup when the recipe asks), accuracy as its metric, and the majority
    class's accuracy as its untrained level. Subclasses give the data and the model."""

    loss_regularisers: ClassVar[tuple[str, ...]] = ("label_smoothing", "mixup")

    def loss(self, model: nn.Module, inputs: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        return cross_entropy(model, inputs, targets)

    def regularised_loss(
        self, model: nn.Module, inputs: torch.Tensor, targets: torch.Tensor, reg: Regularisers
    ) -> torch.Tensor:
        return cross_entropy(model, inputs, targets, reg)

    def score(self, model: nn.Module, split: Split) -> dict[str, float]:
        return classification_score(model, split)

    def untrained_level(self) -> float:
        return majority_accuracy(*self.splits(seed=0))
