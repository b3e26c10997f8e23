"""digits-vit: image classification of scikit-learn's handwritten digits with a small ViT.

``load_digits`` ships with scikit-learn (1,797 real 8×8 digits from 43 writers): nothing is
downloaded. The split is fixed (a seeded permutation, 80/20); pixels are scaled to [0, 1].

Example:
    >>> task = DigitsViT()
    >>> train, val = task.splits(seed=0)
    >>> len(train), len(val), tuple(train.inputs.shape[1:])
    (1437, 360, (8, 8))
"""

from __future__ import annotations

from typing import ClassVar, Literal

import torch
import torch.nn.functional as F
from torch import nn

from .._task import Budget, NormFactory, Split, Task, register_task
from ._blocks import Block


class _ViT(nn.Module):
    def __init__(
        self,
        norm: NormFactory,
        *,
        width: int = 64,
        depth: int = 4,
        heads: int = 4,
        patch: int = 2,
        classes: int = 10,
    ) -> None:
        super().__init__()
        self.patch = patch
        n_patches = (8 // patch) ** 2
        self.embed = nn.Linear(patch * patch, width)
        self.cls = nn.Parameter(torch.zeros(1, 1, width))
        self.pos = nn.Parameter(torch.randn(1, n_patches + 1, width) * 0.02)
        self.blocks = nn.ModuleList([Block(width, heads=heads, norm=norm) for _ in range(depth)])
        self.norm = norm(width)
        self.head = nn.Linear(width, classes)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        b, p = images.shape[0], self.patch
        patches = images.unfold(1, p, p).unfold(2, p, p).reshape(b, -1, p * p)  # (B, N, p²)
        x = torch.cat([self.cls.expand(b, -1, -1), self.embed(patches)], dim=1) + self.pos
        for block in self.blocks:
            x = block(x)  # (B, N + 1, C)
        return self.head(self.norm(x[:, 0]))  # (B, classes)


@register_task
class DigitsViT(Task):
    name: ClassVar[str] = "digits-vit"
    metric: ClassVar[str] = "accuracy"
    direction: ClassVar[Literal["maximize", "minimize"]] = "maximize"
    description: ClassVar[str] = "8x8 handwritten digits (scikit-learn), 4-layer ViT"
    typical_seconds: ClassVar[float | None] = 17  # sanity panel, one thread
    budgets: ClassVar[dict[str, Budget]] = {
        "quick": Budget(epochs=2, batch_size=64, lr=2e-3),
        "default": Budget(epochs=30, batch_size=64, lr=2e-3),
    }

    def splits(self, seed: int) -> tuple[Split, Split]:
        from sklearn.datasets import load_digits

        digits = load_digits()
        images = torch.tensor(digits.images, dtype=torch.float32) / 16.0  # (N, 8, 8)
        labels = torch.tensor(digits.target, dtype=torch.long)
        # The split is part of the task: fixed, whatever the run's seed.
        order = torch.randperm(len(labels), generator=torch.Generator().manual_seed(0))
        cut = int(0.8 * len(labels))
        train, val = order[:cut], order[cut:]
        return Split(images[train], labels[train]), Split(images[val], labels[val])

    def build_model(self, norm: NormFactory) -> nn.Module:
        return _ViT(norm)

    def loss(self, model: nn.Module, inputs: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        return cross_entropy(model, inputs, targets)

    def score(self, model: nn.Module, split: Split) -> dict[str, float]:
        return classification_score(model, split)


def cross_entropy(model: nn.Module, inputs: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    return F.cross_entropy(model(inputs), targets)


@torch.no_grad()
def classification_score(model: nn.Module, split: Split) -> dict[str, float]:
    """Accuracy and cross-entropy over a split, in eval mode."""
    model.eval()
    logits = torch.cat([model(split.inputs[i : i + 512]) for i in range(0, len(split), 512)])
    loss = F.cross_entropy(logits, split.targets)
    accuracy = (logits.argmax(-1) == split.targets).float().mean()
    model.train()
    return {"metric": float(accuracy), "loss": float(loss)}
