"""The built-in proxy tasks; importing this package registers them."""

from __future__ import annotations

from .digits_vit import DigitsViT

__all__ = ["DigitsViT"]
