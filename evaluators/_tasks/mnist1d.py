"""mnist1d: 1-D signal classification on MNIST-1D, generated locally, with a sequence ViT.

``mnist1d.data.make_dataset`` builds the data set from its published generator (ten 1-D digit
templates, shifted, scaled, sheared and noised): 4,000 training and 1,000 test signals of
length 40. Nothing is downloaded. Signals become 10 tokens of 4 samples.

Example:
    >>> train, val = MNIST1D().splits(seed=0)
    >>> len(train), len(val), tuple(train.inputs.shape[1:])
    (4000, 1000, (40,))
"""

from __future__ import annotations

from functools import lru_cache
from typing import ClassVar, Literal

import torch
from torch import nn

from .._task import Budget, NormFactory, Split
from ._blocks import (
    ClassificationTask,
    Patches1d,
    TokenClassifier,
    Trunk,
)


@lru_cache(maxsize=1)
def _dataset() -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    from mnist1d.data import get_dataset_args, make_dataset

    data = make_dataset(get_dataset_args())  # the generator's published defaults, seed 42
    return (
        torch.tensor(data["x"], dtype=torch.float32),
        torch.tensor(data["y"]).long(),
        torch.tensor(data["x_test"], dtype=torch.float32),
        torch.tensor(data["y_test"]).long(),
    )


class MNIST1D(ClassificationTask):
    name: ClassVar[str] = "mnist1d"
    metric: ClassVar[str] = "accuracy"
    direction: ClassVar[Literal["maximize", "minimize"]] = "maximize"
    description: ClassVar[str] = "MNIST-1D signals (local generator), 4-layer sequence ViT"
    typical_seconds: ClassVar[float | None] = 30  # sanity panel, one thread
    depth: int = 4  # Transformer blocks; part of the recipe, the same for every function
    width: int = 64  # channels; part of the recipe like depth (the scale ladder varies it)
    heads: int = 4  # attention heads: a width is a multiple of this
    drop_path: float = 0.0  # stochastic depth of every block; part of the recipe like depth
    # 30 epochs, not 8: at 8 every point-wise function stops near 55% accuracy and only a
    # flattened erf is told apart; at 30 they reach 85-87%, and erf + 1 and 0.5·erf + 0.5·x
    # fall behind erf beyond seed noise (docs/sanity-panel.md).
    budgets: ClassVar[dict[str, Budget]] = {
        "quick": Budget(epochs=1, batch_size=128, lr=2e-3),
        "default": Budget(epochs=30, batch_size=128, lr=2e-3),
    }

    def splits(self, seed: int) -> tuple[Split, Split]:
        x, y, x_test, y_test = _dataset()
        return Split(x, y), Split(x_test, y_test)

    def build_model(self, norm: NormFactory) -> nn.Module:
        # 10 tokens of 4 consecutive samples
        return TokenClassifier(
            norm,
            Trunk.of(self),
            to_tokens=Patches1d(4),
            n_tokens=10,
            token_dim=4,
        )


class MNIST1DDeep(MNIST1D):
    """MNIST-1D under the recipe calibration found closest to the paper's Section 3: twice the
    depth, a ten times higher rate, no gradient clipping, 8 epochs. By the fixed rules its
    categories agree best with the paper's (all 123 cells: 74%, κ 0.49; docs/calibration.md),
    but like for like it does not beat the zero-cost output spread, and its ranking of the
    catalog does not repeat from seed to seed (τ 0.41): a large rate with nothing to clip it
    shows the paper's large effects in a few hundred steps, not small differences.

    >>> task = MNIST1DDeep()
    >>> task.depth, task.budget("default").lr, task.budget("default").clip_grad
    (8, 0.02, None)
    """

    name: ClassVar[str] = "mnist1d-deep"
    description: ClassVar[str] = "MNIST-1D, 8-layer sequence ViT at lr 2e-2 unclipped (calibrated)"
    typical_seconds: ClassVar[float | None] = 25  # calibrate --cells decisive, one thread
    depth: int = 8
    budgets: ClassVar[dict[str, Budget]] = {
        "quick": Budget(epochs=1, batch_size=128, lr=2e-2, clip_grad=None),
        "default": Budget(epochs=8, batch_size=128, lr=2e-2, clip_grad=None),
    }
