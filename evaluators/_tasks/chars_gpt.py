"""chars-gpt: character-level causal language modelling of Python's reference documentation.

The corpus is ``pydoc_data.topics``, the text of the Python Language Reference that ships with
every CPython (about 465,000 characters of English prose and grammar for Python 3.11; other
Python versions carry slightly different text, so compare runs on one Python version). Topics
are joined in sorted order; the first 200,000 characters train, the last 10% validates.
Characters outside printable ASCII become '?'. The metric is validation bits per character.

Example:
    >>> train, val = CharsGPT().splits(seed=0)
    >>> tuple(train.inputs.shape[1:]), len(train), len(val)
    ((64,), 3124, 726)
"""

from __future__ import annotations

import math
from functools import lru_cache
from typing import ClassVar, Literal

import torch
import torch.nn.functional as F
from torch import nn

from .._task import Budget, NormFactory, Regularisers, Split, Task
from ._blocks import Block, Trunk

CONTEXT = 64
VOCAB = ["\n", *(chr(c) for c in range(32, 127))]  # 96 symbols; '?' stands for the rest
_INDEX = {c: i for i, c in enumerate(VOCAB)}


@lru_cache(maxsize=1)
def corpus() -> str:
    from pydoc_data.topics import topics

    return "".join(topics[key] for key in sorted(topics))


def encode(text: str) -> torch.Tensor:
    unknown = _INDEX["?"]
    return torch.tensor([_INDEX.get(c, unknown) for c in text], dtype=torch.long)


def _windows(ids: torch.Tensor) -> Split:
    n = (len(ids) - 1) // CONTEXT
    x = ids[: n * CONTEXT].view(n, CONTEXT)
    y = ids[1 : n * CONTEXT + 1].view(n, CONTEXT)
    return Split(x, y)


class _GPT(nn.Module):
    def __init__(self, norm: NormFactory, trunk: Trunk) -> None:
        super().__init__()
        width, heads, drop_path = trunk.width, trunk.heads, trunk.drop_path
        self.tokens = nn.Embedding(len(VOCAB), width)
        self.pos = nn.Parameter(torch.randn(1, CONTEXT, width) * 0.02)
        self.blocks = nn.ModuleList(
            [
                Block(width, heads=heads, norm=norm, causal=True, drop_path=drop_path)
                for _ in range(trunk.depth)
            ]
        )
        self.norm = norm(width)
        self.head = nn.Linear(width, len(VOCAB))

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        x = self.tokens(ids) + self.pos[:, : ids.shape[1]]  # (B, T, C)
        for block in self.blocks:
            x = block(x)
        return self.head(self.norm(x))  # (B, T, vocab)


class CharsGPT(Task):
    name: ClassVar[str] = "chars-gpt"
    metric: ClassVar[str] = "val_bpc"
    direction: ClassVar[Literal["maximize", "minimize"]] = "minimize"
    description: ClassVar[str] = "Python reference text (pydoc_data), 4-layer char GPT"
    typical_seconds: ClassVar[float | None] = 14  # sanity panel, one thread
    depth: int = 4  # Transformer blocks; part of the recipe, the same for every function
    width: int = 64  # channels; part of the recipe like depth (the scale ladder varies it)
    heads: int = 4  # attention heads: a width is a multiple of this
    drop_path: float = 0.0  # stochastic depth of every block; part of the recipe like depth
    # token ids cannot be mixed: mixup is refused
    loss_regularisers: ClassVar[tuple[str, ...]] = ("label_smoothing",)
    budgets: ClassVar[dict[str, Budget]] = {
        "quick": Budget(epochs=1, batch_size=32, lr=2e-3, max_steps=20),
        "default": Budget(epochs=2, batch_size=32, lr=2e-3),
    }

    def splits(self, seed: int) -> tuple[Split, Split]:
        # The first 200,000 characters train and the last 10% of the corpus validates: a
        # budget that fits half a minute on one core.
        ids = encode(corpus())
        cut = int(0.9 * len(ids))
        return _windows(ids[:200_000]), _windows(ids[cut:])

    def build_model(self, norm: NormFactory) -> nn.Module:
        return _GPT(norm, Trunk.of(self))

    def loss(self, model: nn.Module, inputs: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        logits = model(inputs)
        return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), targets.reshape(-1))

    def regularised_loss(
        self, model: nn.Module, inputs: torch.Tensor, targets: torch.Tensor, reg: Regularisers
    ) -> torch.Tensor:
        assert reg.mixup is None, "chars-gpt takes no mixup (refused by check_regularisers)"
        logits = model(inputs)  # (B, T, vocab)
        return F.cross_entropy(
            logits.reshape(-1, logits.shape[-1]),
            targets.reshape(-1),
            label_smoothing=reg.label_smoothing,
        )

    @torch.no_grad()
    def score(self, model: nn.Module, split: Split) -> dict[str, float]:
        model.train(False)  # eval mode: no dropout, running statistics
        total, count = 0.0, 0
        for i in range(0, len(split), 256):
            x, y = split.inputs[i : i + 256], split.targets[i : i + 256]
            logits = model(x)
            total += float(
                F.cross_entropy(
                    logits.reshape(-1, logits.shape[-1]), y.reshape(-1), reduction="sum"
                )
            )
            count += y.numel()
        model.train()
        loss = total / count
        return {"metric": loss / math.log(2), "loss": loss}

    def untrained_level(self) -> float:
        # a context-free model: the training characters' frequencies, scored on validation
        train, val = self.splits(seed=0)
        counts = torch.bincount(train.targets.reshape(-1), minlength=len(VOCAB)).double() + 1
        log_p = (counts / counts.sum()).log()
        return float(-log_p[val.targets.reshape(-1)].mean() / math.log(2))
