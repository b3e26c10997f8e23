"""The built-in proxy tasks; importing this package registers them."""

from __future__ import annotations

from .chars_gpt import CharsGPT
from .digits_dit import DigitsDiT
from .digits_vit import DigitsViT
from .mnist1d import MNIST1D

__all__ = ["MNIST1D", "CharsGPT", "DigitsDiT", "DigitsViT"]
