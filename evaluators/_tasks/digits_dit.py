"""digits-dit: a DiT-style class-conditional denoiser of scikit-learn's digits.

A diffusion model's training objective: noise an image to a random step t of a 100-step linear
schedule and predict the noise. The Transformer is conditioned on t and the class by adaLN, as
in DiT: each block's norm output is scaled and shifted by a projection of the conditioning, and
its residual branches are gated (initialised at zero). The metric is the validation denoising
loss (MSE), with the validation noise and steps drawn once from a fixed generator.

Example:
    >>> train, val = DigitsDiT().splits(seed=0)
    >>> len(train), len(val), float(train.inputs.min()), float(train.inputs.max())
    (1437, 360, -1.0, 1.0)
"""

from __future__ import annotations

import math
from typing import ClassVar, Literal

import torch
import torch.nn.functional as F
from torch import nn

from .._task import Budget, Draws, NormFactory, Split, Task
from ._blocks import DropPath, Patches2d, Trunk
from .digits_vit import DigitsViT

STEPS = 100
_BETAS = torch.linspace(1e-4, 0.05, STEPS)
ALPHA_BAR = torch.cumprod(1 - _BETAS, dim=0)


def _timestep_embedding(t: torch.Tensor, width: int) -> torch.Tensor:
    half = width // 2
    freqs = torch.exp(-math.log(1000.0) * torch.arange(half, device=t.device) / half)
    angles = t.float()[:, None] * freqs[None]  # (B, C/2)
    return torch.cat([angles.sin(), angles.cos()], dim=-1)  # (B, C)


class _DiTBlock(nn.Module):
    def __init__(self, width: int, heads: int, norm: NormFactory, drop_path: float = 0.0) -> None:
        super().__init__()
        self.norm1 = norm(width)
        self.attn = nn.MultiheadAttention(width, heads, batch_first=True)
        self.norm2 = norm(width)
        self.mlp = nn.Sequential(
            nn.Linear(width, 2 * width), nn.GELU(), nn.Linear(2 * width, width)
        )
        self.ada = nn.Linear(width, 6 * width)
        nn.init.zeros_(self.ada.weight)  # adaLN-Zero: every block starts as the identity
        nn.init.zeros_(self.ada.bias)
        self.drop_path = DropPath(drop_path)

    def forward(self, x: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
        shift1, scale1, gate1, shift2, scale2, gate2 = self.ada(F.silu(c))[:, None].chunk(6, -1)
        h = self.norm1(x) * (1 + scale1) + shift1  # (B, T, C)
        x = x + self.drop_path(gate1 * self.attn(h, h, h, need_weights=False)[0])
        h = self.norm2(x) * (1 + scale2) + shift2
        return x + self.drop_path(gate2 * self.mlp(h))


class _DiT(nn.Module):
    def __init__(
        self,
        norm: NormFactory,
        trunk: Trunk,
        *,
        patch: int = 2,
        classes: int = 10,
    ) -> None:
        super().__init__()
        width, heads, drop_path = trunk.width, trunk.heads, trunk.drop_path
        self.patch, self.width = patch, width
        self.to_tokens = Patches2d(patch)
        self.embed = nn.Linear(patch * patch, width)
        self.pos = nn.Parameter(torch.randn(1, (8 // patch) ** 2, width) * 0.02)
        self.time = nn.Sequential(nn.Linear(width, width), nn.SiLU(), nn.Linear(width, width))
        self.label = nn.Embedding(classes, width)
        self.blocks = nn.ModuleList(
            [_DiTBlock(width, heads, norm, drop_path) for _ in range(trunk.depth)]
        )
        self.norm = norm(width)
        self.final_ada = nn.Linear(width, 2 * width)
        nn.init.zeros_(self.final_ada.weight)
        nn.init.zeros_(self.final_ada.bias)
        self.out = nn.Linear(width, patch * patch)

    def forward(self, noisy: torch.Tensor, t: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        b, p = noisy.shape[0], self.patch
        x = self.embed(self.to_tokens(noisy)) + self.pos  # (B, N, C)
        c = self.time(_timestep_embedding(t, self.width)) + self.label(labels)  # (B, C)
        for block in self.blocks:
            x = block(x, c)
        shift, scale = self.final_ada(F.silu(c))[:, None].chunk(2, -1)
        x = self.out(self.norm(x) * (1 + scale) + shift)  # (B, N, p²)
        n = 8 // p
        return x.reshape(b, n, n, p, p).permute(0, 1, 3, 2, 4).reshape(b, 8, 8)


def _noised(images: torch.Tensor, t: torch.Tensor, noise: torch.Tensor) -> torch.Tensor:
    a = ALPHA_BAR.to(images.device)[t][:, None, None]
    return a.sqrt() * images + (1 - a).sqrt() * noise


class DigitsDiT(Task):
    name: ClassVar[str] = "digits-dit"
    metric: ClassVar[str] = "val_denoise_mse"
    direction: ClassVar[Literal["maximize", "minimize"]] = "minimize"
    description: ClassVar[str] = "class-conditional denoising of the digits, 4-block DiT"
    typical_seconds: ClassVar[float | None] = 12  # sanity panel, one thread
    depth: int = 4  # DiT blocks; part of the recipe, the same for every function
    width: int = 64  # channels; part of the recipe like depth (the scale ladder varies it)
    heads: int = 4  # attention heads: a width is a multiple of this
    drop_path: float = 0.0  # stochastic depth of every block; part of the recipe like depth
    # a denoiser's loss is no classification: no label smoothing, no mixup
    budgets: ClassVar[dict[str, Budget]] = {
        "quick": Budget(epochs=2, batch_size=64, lr=2e-3),
        "default": Budget(epochs=20, batch_size=64, lr=2e-3),
    }

    def splits(self, seed: int) -> tuple[Split, Split]:
        train, val = DigitsViT().splits(seed)
        return (
            Split(train.inputs * 2 - 1, train.targets),  # pixels in [-1, 1]
            Split(val.inputs * 2 - 1, val.targets),
        )

    def build_model(self, norm: NormFactory) -> nn.Module:
        return _DiT(norm, Trunk.of(self))

    def loss(self, model: nn.Module, inputs: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        return self.loss_given(model, inputs, targets, self.draws(inputs))

    def draws(self, inputs: torch.Tensor) -> Draws:
        """Each example's diffusion step and noise."""
        t = torch.randint(0, STEPS, (inputs.shape[0],), device=inputs.device)
        return t, torch.randn_like(inputs)

    def loss_given(
        self, model: nn.Module, inputs: torch.Tensor, targets: torch.Tensor, draws: Draws
    ) -> torch.Tensor:
        t, noise = draws
        return F.mse_loss(model(_noised(inputs, t, noise), t, targets), noise)

    @torch.no_grad()
    def score(self, model: nn.Module, split: Split) -> dict[str, float]:
        model.train(False)  # eval mode: no dropout, running statistics
        generator = torch.Generator().manual_seed(1234)  # the same noise for every run
        t = torch.randint(0, STEPS, (len(split),), generator=generator).to(split.inputs.device)
        noise = torch.randn(split.inputs.shape, generator=generator).to(split.inputs.device)
        loss = float(F.mse_loss(model(_noised(split.inputs, t, noise), t, split.targets), noise))
        model.train()
        return {"metric": loss, "loss": loss}

    def untrained_level(self) -> float:
        # the score of a denoiser that always predicts zero noise: the noise's mean square
        return self.score(_PredictsZero(), self.splits(seed=0)[1])["metric"]


class _PredictsZero(nn.Module):
    def forward(self, noisy: torch.Tensor, t: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        return torch.zeros_like(noisy)
