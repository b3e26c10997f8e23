"""Evaluators: the PointwiseNorm template layer, norm converters, proxy tasks and training.

Example:
    >>> import torch
    >>> from evaluators import PointwiseNorm
    >>> PointwiseNorm(4, "isru")(torch.zeros(1, 4)).tolist()
    [[0.0, 0.0, 0.0, 0.0]]
"""

from __future__ import annotations

from ._convert import Replacement, convert_norms
from ._growth import (
    GROWTH_POINTS,
    SIGNALS,
    GrowthRecorder,
    curve_points,
    recording_steps,
)
from ._layer import (
    MAX_SLOPE,
    NORM_LAYERS,
    PointwiseNorm,
    make_norm,
    needs_safe_gradient,
    norm_factory,
    resolve_candidate,
)
from ._pack_growth import PackGrowth
from ._packed import (
    Member,
    pack_groups,
    train_packed,
    unpackable,
)
from ._packing import (
    CPU_PACK,
    GPU_MEMORY_SHARE,
    MAX_PACK,
    MemberFailure,
    auto_pack,
    pack_for_memory,
    train_in_packs,
)
from ._probe import attention_logit_peak
from ._registry import get_task, register_task, task_names
from ._standalone import ExportError, check_standalone, class_name, standalone_source
from ._task import (
    LOSS_REGULARISERS,
    PRECISIONS,
    RECIPE_RANGES,
    SCHEDULES,
    Budget,
    Mixup,
    Regularisers,
    Split,
    Task,
    apply_recipe,
    check_regularisers,
    parse_recipe,
)
from ._train import WSD_DECAY, QualityGate, RunResult, lr_factor, resolve_device, train

__all__ = [
    "CPU_PACK",
    "GPU_MEMORY_SHARE",
    "GROWTH_POINTS",
    "LOSS_REGULARISERS",
    "MAX_PACK",
    "MAX_SLOPE",
    "NORM_LAYERS",
    "PRECISIONS",
    "RECIPE_RANGES",
    "SCHEDULES",
    "SIGNALS",
    "WSD_DECAY",
    "Budget",
    "ExportError",
    "GrowthRecorder",
    "Member",
    "MemberFailure",
    "Mixup",
    "PackGrowth",
    "PointwiseNorm",
    "QualityGate",
    "Regularisers",
    "Replacement",
    "RunResult",
    "Split",
    "Task",
    "apply_recipe",
    "attention_logit_peak",
    "auto_pack",
    "check_regularisers",
    "check_standalone",
    "class_name",
    "convert_norms",
    "curve_points",
    "get_task",
    "lr_factor",
    "make_norm",
    "needs_safe_gradient",
    "norm_factory",
    "pack_for_memory",
    "pack_groups",
    "parse_recipe",
    "recording_steps",
    "register_task",
    "resolve_candidate",
    "resolve_device",
    "standalone_source",
    "task_names",
    "train",
    "train_in_packs",
    "train_packed",
    "unpackable",
]
