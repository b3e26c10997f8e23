"""Evaluators: the PointwiseNorm template layer and converters that put it into any model.

Example:
    >>> import torch
    >>> from evaluators import PointwiseNorm
    >>> PointwiseNorm(4, "isru")(torch.zeros(1, 4)).tolist()
    [[0.0, 0.0, 0.0, 0.0]]
"""

from __future__ import annotations

from ._convert import Replacement, convert_norms
from ._layer import MAX_SLOPE, PointwiseNorm, make_norm, resolve_candidate

__all__ = [
    "MAX_SLOPE",
    "PointwiseNorm",
    "Replacement",
    "convert_norms",
    "make_norm",
    "resolve_candidate",
]
