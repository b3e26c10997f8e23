"""Swap the normalization layers of any torch model for a candidate, in place.

Recognised: ``nn.LayerNorm`` and ``nn.RMSNorm`` (and their subclasses, such as timm's
LayerNorm), and by duck typing the norms of other libraries: a module whose class name ends in
LayerNorm, LayerNorm2d, RMSNorm or RmsNorm and that holds a 1-D ``weight`` (Hugging Face's
LlamaRMSNorm, timm's LayerNorm2d and RmsNorm, …). Names ending in 2d normalize channels-first
(B, C, H, W) tensors.

Example:
    >>> from torch import nn
    >>> model = nn.Sequential(nn.Linear(4, 4), nn.LayerNorm(4))
    >>> [(r.name, r.replaced) for r in convert_norms(model, "erf")]
    [('1', 'LayerNorm')]
    >>> type(model[1]).__name__
    'PointwiseNorm'
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import torch
from torch import nn

from candidates import TEMPLATE, Candidate, Shift, UserError

from ._layer import PointwiseNorm, norm_factory

_NORM_NAME = re.compile(r"(LayerNorm|LayerNorm2d|RMSNorm|RmsNorm|RmsNorm2d)$")


@dataclass(frozen=True)
class Replacement:
    """One swapped layer: its qualified name, the class it had and the width it normalized."""

    name: str
    replaced: str
    num_features: int


def _norm_width(module: nn.Module) -> tuple[int, bool] | None:
    """(number of channels, channels_last) for a module that is a norm layer, else None."""
    if isinstance(module, (nn.LayerNorm, nn.RMSNorm)):
        shape = module.normalized_shape
        if len(shape) != 1:
            return None  # normalizing over several dimensions has no per-channel equivalent
        return int(shape[0]), not type(module).__name__.endswith("2d")
    if _NORM_NAME.search(type(module).__name__):
        weight = getattr(module, "weight", None)
        if isinstance(weight, torch.Tensor) and weight.dim() == 1:
            return int(weight.shape[0]), not type(module).__name__.endswith("2d")
    return None


def convert_norms(
    model: nn.Module,
    candidate: str | Candidate,
    *,
    alpha0: float | None = None,
    shift: Shift | str | None = TEMPLATE,
    copy_affine: bool = True,
) -> list[Replacement]:
    """Replace every normalization layer of ``model`` by ``candidate``; return what changed.

    ``candidate`` is an expression, a catalog name, ``layernorm``/``rmsnorm``/``dyt``, or a
    :class:`~candidates.Candidate`. The new layers take the old layers' device and dtype and,
    with ``copy_affine``, their weight and bias as γ and β (1 and 0 in a fresh model). Raises
    UserError when the model has no normalization layer.
    """
    factory = norm_factory(candidate, alpha0=alpha0, shift=shift)
    replacements: list[Replacement] = []
    for parent_name, parent in list(model.named_modules()):
        for child_name, child in list(parent.named_children()):
            found = _norm_width(child)
            if found is None or isinstance(child, PointwiseNorm):
                continue
            width, channels_last = found
            new = factory(width, channels_last=channels_last)
            # A norm without affine parameters takes the model's device and dtype.
            reference = next(iter(child.parameters()), None)
            if reference is None:
                reference = next(model.parameters(), None)
            if reference is not None:
                new = new.to(device=reference.device, dtype=reference.dtype)
            if copy_affine:
                _copy_affine(child, new)
            setattr(parent, child_name, new)
            full = f"{parent_name}.{child_name}" if parent_name else child_name
            replacements.append(Replacement(full, type(child).__name__, width))
    if not replacements:
        raise UserError(
            f"no normalization layer found in {type(model).__name__}: looked for nn.LayerNorm, "
            "nn.RMSNorm and modules named *LayerNorm/*RMSNorm/*RmsNorm with a 1-D weight"
        )
    return replacements


def _copy_affine(old: nn.Module, new: nn.Module) -> None:
    with torch.no_grad():
        for name in ("weight", "bias"):
            source = getattr(old, name, None)
            target = getattr(new, name, None)
            if (
                isinstance(source, torch.Tensor)
                and isinstance(target, torch.Tensor)
                and source.shape == target.shape
            ):
                target.copy_(source)
