"""The built-in proxy tasks (the registry, :mod:`evaluators._registry`, lists them)."""

from __future__ import annotations

from .chars_gpt import CharsGPT
from .digits_dit import DigitsDiT
from .digits_vit import DigitsViT
from .mnist1d import MNIST1D, MNIST1DDeep

#: Every built-in task, in the order ``derf-search`` lists them.
BUILTIN_TASKS = (CharsGPT, DigitsDiT, DigitsViT, MNIST1D, MNIST1DDeep)

__all__ = ["BUILTIN_TASKS", "MNIST1D", "CharsGPT", "DigitsDiT", "DigitsViT", "MNIST1DDeep"]
