"""Evaluators: the PointwiseNorm template layer, norm converters, proxy tasks and training.

Example:
    >>> import torch
    >>> from evaluators import PointwiseNorm
    >>> PointwiseNorm(4, "isru")(torch.zeros(1, 4)).tolist()
    [[0.0, 0.0, 0.0, 0.0]]
"""

from __future__ import annotations

from ._convert import Replacement, convert_norms
from ._layer import MAX_SLOPE, PointwiseNorm, make_norm, resolve_candidate
from ._task import Budget, Split, Task, get_task, register_task, task_names
from ._train import QualityGate, RunResult, resolve_device, train

__all__ = [
    "MAX_SLOPE",
    "Budget",
    "PointwiseNorm",
    "QualityGate",
    "Replacement",
    "RunResult",
    "Split",
    "Task",
    "convert_norms",
    "get_task",
    "make_norm",
    "register_task",
    "resolve_candidate",
    "resolve_device",
    "task_names",
    "train",
]
