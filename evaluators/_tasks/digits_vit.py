"""digits-vit: image classification of scikit-learn's handwritten digits with an 8-layer ViT.

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
from torch import nn

from .._task import Budget, NormFactory, Split
from ._blocks import (
    ClassificationTask,
    Patches2d,
    TokenClassifier,
    Trunk,
)


class DigitsViT(ClassificationTask):
    name: ClassVar[str] = "digits-vit"
    metric: ClassVar[str] = "accuracy"
    direction: ClassVar[Literal["maximize", "minimize"]] = "maximize"
    description: ClassVar[str] = "8x8 handwritten digits (scikit-learn), 8-layer ViT"
    typical_seconds: ClassVar[float | None] = 32  # sanity panel, one thread
    depth: int = 8  # Transformer blocks; part of the recipe, the same for every function
    width: int = 64  # channels; part of the recipe like depth (the scale ladder varies it)
    heads: int = 4  # attention heads: a width is a multiple of this
    drop_path: float = 0.0  # stochastic depth of every block; part of the recipe like depth
    # No gradient clipping and a large learning rate: with clipping at 1.0 and lr 2e-3 an
    # 8x8-digit ViT trains with the identity as well as with erf, so the proxy could not see
    # boundedness; this recipe makes unbounded functions degrade (docs/sanity-panel.md).
    budgets: ClassVar[dict[str, Budget]] = {
        "quick": Budget(epochs=2, batch_size=64, lr=1e-2, clip_grad=None),
        "default": Budget(epochs=30, batch_size=64, lr=1e-2, clip_grad=None),
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
        # 2×2 patches of the 8×8 image: 16 tokens of 4 pixels, 8 blocks
        return TokenClassifier(
            norm,
            Trunk.of(self),
            to_tokens=Patches2d(2),
            n_tokens=16,
            token_dim=4,
        )
