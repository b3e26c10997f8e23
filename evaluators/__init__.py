"""Evaluators: the PointwiseNorm template layer, norm converters, proxy tasks and training.

The candidate engine already compiles every expression to torch
(:func:`candidates.compile_torch`); the layer and the proxy tasks build on it.
"""

from __future__ import annotations

__all__: list[str] = []
