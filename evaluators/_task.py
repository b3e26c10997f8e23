"""Proxy tasks: one small base class and the recipe changes every task takes (the registry that
finds tasks by name is :mod:`evaluators._registry`).

A task supplies its data, a model whose every norm comes from a factory, a loss, and a metric.
The training loop (:func:`evaluators.train`) is the same for every task.

A recipe change (:func:`apply_recipe`) is the same for every function: a field of the budget
(the loss regularisers ``label_smoothing`` and ``mixup`` among them), or a setting of the model
(``depth``, ``width``, and the stochastic depth rate ``drop_path``).

Example:
    >>> from evaluators import get_task
    >>> get_task("digits-vit").metric
    'accuracy'
"""

from __future__ import annotations

import copy
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, fields, replace
from typing import Any, ClassVar, Literal

import torch
from torch import nn

from candidates import FRACTION, NumberRange, UserError, suggest

NormFactory = Callable[[int], nn.Module]
#: The random numbers a training loss draws for one batch (:meth:`Task.draws`).
Draws = tuple[torch.Tensor, ...]

#: Training precisions and their autocast types: float32 (no autocast), or autocast to
#: bfloat16 or float16 (the latter with loss scaling).
PRECISIONS: dict[str, torch.dtype | None] = {
    "fp32": None,
    "bf16": torch.bfloat16,
    "fp16": torch.float16,
}

#: Learning-rate schedules after warmup (see :func:`evaluators.lr_factor`).
SCHEDULES = ("cosine", "wsd")


def not_one_of(what: str, value: object, choices: tuple[str, ...]) -> UserError:
    """The error for a setting that takes one of a few names, with a did-you-mean.

    >>> str(not_one_of("precision", "fp61", ("fp32", "fp16")))
    "precision must be one of fp32, fp16, not 'fp61'; did you mean 'fp16'?"
    """
    hint = suggest(str(value).lower(), list(choices))
    return UserError(f"{what} must be one of {', '.join(choices)}, not {value!r}{hint}")


@dataclass(frozen=True)
class Budget:
    """How much training a run gets; the recipe is the same for every candidate function."""

    epochs: int
    batch_size: int = 64
    lr: float = 1e-3
    weight_decay: float = 0.05
    warmup_fraction: float = 0.1
    clip_grad: float | None = 1.0
    max_steps: int | None = None  # stop after this many steps (a quick smoke-test budget)
    # autocast: fp16 has the narrow range mixed-precision trainings overflow in, bf16
    # float32's range at half the bits
    precision: str = "fp32"
    # the learning rate after warmup: cosine decay, or warmup–stable–decay (see
    # evaluators.lr_factor), whose steps before the decay are points of shorter runs
    schedule: str = "cosine"
    # train on the first N examples of a fixed order of the training split, the same for
    # every function and seed (None: all of it): the generalisation regime's small set
    train_subset: int | None = None
    # loss regularisers (0: off), for the tasks whose loss takes them (Task.loss_regularisers):
    # cross-entropy against targets smoothed by this share, spread over every class
    label_smoothing: float = 0.0
    # mixup's α: each batch's inputs and one-hot targets mixed in pairs at a weight drawn from
    # Beta(α, α), seeded by the run's seed (the same for every function; see evaluators.train)
    mixup: float = 0.0

    def __post_init__(self) -> None:
        if self.epochs < 1:
            raise UserError(f"epochs must be at least 1, but got {self.epochs=}.")
        if self.batch_size < 1:
            raise UserError(f"batch_size must be at least 1, but got {self.batch_size=}.")
        if self.precision not in PRECISIONS:
            raise not_one_of("precision", self.precision, tuple(PRECISIONS))
        if self.schedule not in SCHEDULES:
            raise not_one_of("schedule", self.schedule, SCHEDULES)
        for key in LOSS_REGULARISERS:
            RECIPE_RANGES[key].check(getattr(self, key), key)

    def describe(self) -> str:
        """The budget in one short line.

        >>> Budget(epochs=1, batch_size=32, lr=2e-3, max_steps=20).describe()
        '1 epoch (at most 20 steps), batch 32, lr 0.002, clip 1'
        >>> Budget(epochs=2, precision="fp16").describe()
        '2 epochs, batch 64, lr 0.001, clip 1, fp16'
        >>> Budget(epochs=1, label_smoothing=0.1, mixup=0.2).describe()
        '1 epoch, batch 64, lr 0.001, clip 1, label smoothing 0.1, mixup α 0.2'
        """
        epochs = f"{self.epochs} epoch" + ("" if self.epochs == 1 else "s")
        if self.max_steps is not None:
            epochs += f" (at most {self.max_steps} steps)"
        clip = "none" if self.clip_grad is None else f"{self.clip_grad:g}"
        text = f"{epochs}, batch {self.batch_size}, lr {self.lr:g}, clip {clip}"
        text = text if self.precision == "fp32" else f"{text}, {self.precision}"
        if self.train_subset is not None:
            text += f", on {self.train_subset} training examples"
        if self.label_smoothing:
            text += f", label smoothing {self.label_smoothing:g}"
        if self.mixup:
            text += f", mixup α {self.mixup:g}"
        return text if self.schedule == "cosine" else f"{text}, {self.schedule} schedule"


@dataclass
class Split:
    """Tensors of one split, indexed along the first dimension."""

    inputs: torch.Tensor
    targets: torch.Tensor

    def __len__(self) -> int:
        return int(self.inputs.shape[0])

    def to(self, device: torch.device) -> Split:
        return Split(self.inputs.to(device), self.targets.to(device))


@dataclass(frozen=True)
class Mixup:
    """The mixup of one batch (Zhang et al. 2018): example i becomes
    ``lam``·x[i] + (1 − ``lam``)·x[partner[i]], its one-hot target likewise. A cross-entropy
    is linear in its target, so the loss against the mixed target is ``lam``·loss(y) +
    (1 − ``lam``)·loss(y[partner]), label smoothing included.

    >>> mix = Mixup(lam=0.75, partner=torch.tensor([1, 0]))
    >>> mix.inputs(torch.tensor([[4.0], [0.0]])).tolist()
    [[3.0], [1.0]]
    """

    lam: float  # a Python float: no host sync where it scales a tensor
    partner: torch.Tensor  # (B,) positions within the batch, on the batch's device

    def inputs(self, x: torch.Tensor) -> torch.Tensor:
        return self.lam * x + (1 - self.lam) * x[self.partner]


@dataclass(frozen=True)
class Regularisers:
    """The loss regularisers a recipe applies to one batch: label smoothing and mixup.

    >>> Regularisers(label_smoothing=0.1).mixup is None
    True
    """

    label_smoothing: float = 0.0
    mixup: Mixup | None = None


class Task(ABC):
    """A proxy training task. Subclasses set the class attributes and four methods."""

    name: ClassVar[str]
    metric: ClassVar[str]
    direction: ClassVar[Literal["maximize", "minimize"]]
    budgets: ClassVar[dict[str, Budget]]
    description: ClassVar[str] = ""
    #: Seconds of one default run on one CPU thread, as measured (shown by `derf-search tasks`).
    typical_seconds: ClassVar[float | None] = None
    #: The loss regularisers of the recipe (:data:`LOSS_REGULARISERS`) this task's
    #: :meth:`regularised_loss` takes; a recipe that sets another one is refused.
    loss_regularisers: ClassVar[tuple[str, ...]] = ()

    @abstractmethod
    def splits(self, seed: int) -> tuple[Split, Split]:
        """(train, validation); the split is fixed, ``seed`` may shuffle within it."""

    @abstractmethod
    def build_model(self, norm: NormFactory) -> nn.Module:
        """A fresh model whose every normalization layer is ``norm(width)``."""

    @abstractmethod
    def loss(self, model: nn.Module, inputs: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        """The training loss of a batch (a scalar)."""

    @abstractmethod
    def score(self, model: nn.Module, split: Split) -> dict[str, float]:
        """``{"metric": …, "loss": …}`` over a split, the model in eval mode, no gradients."""

    def draws(self, inputs: torch.Tensor) -> Draws:
        """The random numbers :meth:`loss` draws for a batch (none for most tasks), drawn here
        from the global generators in the order the loss draws them. A pack draws each
        member's from that member's own generator state, so that a member sees what its
        single run of the same seed sees (:func:`~evaluators.train_packed`)."""
        return ()

    def loss_given(
        self, model: nn.Module, inputs: torch.Tensor, targets: torch.Tensor, draws: Draws
    ) -> torch.Tensor:
        """:meth:`loss` with its random numbers given (those :meth:`draws` made)."""
        return self.loss(model, inputs, targets)

    def regularised_loss(
        self, model: nn.Module, inputs: torch.Tensor, targets: torch.Tensor, reg: Regularisers
    ) -> torch.Tensor:
        """The training loss of a batch under the regularisers in :attr:`loss_regularisers`
        (called instead of :meth:`loss` when the recipe sets one of them)."""
        raise NotImplementedError(f"task {self.name} takes no loss regulariser")

    def untrained_level(self) -> float | None:
        """The metric of a model that learned nothing from its inputs (chance accuracy, a
        denoiser that predicts zero noise, a context-free character model), on the validation
        split; ``None`` where the task has no such level. Calibration counts a run that
        recovers at most a tenth of LayerNorm's gain over this level as a failed training."""
        return None

    def budget(self, name: str | int) -> Budget:
        """A named budget (``quick``, ``default``) or ``default`` scaled to N epochs."""
        if isinstance(name, int) or any(c.isdigit() for c in str(name)):
            epochs = RECIPE_RANGES["epochs"].parse(str(name), "--budget (epochs)")
            return replace(self.budgets["default"], epochs=int(epochs))
        if name not in self.budgets:
            hint = suggest(str(name), list(self.budgets))
            raise UserError(
                f"unknown budget {name!r} for task {self.name}{hint} "
                f"(known: {', '.join(self.budgets)}, or a number of epochs)"
            )
        return self.budgets[name]


#: Recipe settings beside the fields of :class:`Budget`: the model's shape, where a task has it
#: (every built-in task has both; a width is a multiple of the task's ``heads``), and the
#: stochastic depth rate of its residual branches (every built-in task's blocks have one).
MODEL_SETTINGS = ("depth", "width", "drop_path")

#: The recipe's loss regularisers (fields of :class:`Budget`, 0 for off), and the loss a task
#: needs for each, named when a task whose loss is not one is refused.
LOSS_REGULARISERS: dict[str, str] = {
    "label_smoothing": "a cross-entropy over classes",
    "mixup": "a cross-entropy over classes of real-valued inputs (which can be mixed)",
}


#: The values a recipe setting may take. Every bound is finite, so that no setting, nor the
#: learning-rate ladder's 4× of it, overflows.
RECIPE_RANGES: dict[str, NumberRange] = {
    "epochs": NumberRange(integer=True, low=1, high=10_000),
    "batch_size": NumberRange(integer=True, low=1, high=2**20),
    "lr": NumberRange(low=0, low_open=True, high=10),
    "weight_decay": NumberRange(low=0, high=10),
    "warmup_fraction": FRACTION,
    "clip_grad": NumberRange(low=0, low_open=True, high=1e6),
    "max_steps": NumberRange(integer=True, low=1, high=10**9),
    "depth": NumberRange(integer=True, low=1, high=256),
    "width": NumberRange(integer=True, low=1, high=2**16),
    "train_subset": NumberRange(integer=True, low=1, high=10**9),
    "label_smoothing": NumberRange(low=0, high=1, high_open=True),
    "mixup": NumberRange(low=0, high=10),  # Beta(α, α)'s α; mixup papers use 0.1 to 1
    "drop_path": NumberRange(low=0, high=1, high_open=True),
}

#: The recipe settings that take one of a few names rather than a number.
RECIPE_CHOICES: dict[str, tuple[str, ...]] = {"precision": tuple(PRECISIONS), "schedule": SCHEDULES}


def parse_recipe(items: Sequence[str]) -> dict[str, Any]:
    """``KEY=VALUE`` texts (or several joined by commas) as recipe changes, typed as the
    :class:`Budget` field (or ``depth``, ``width``) they name; ``none`` clears ``clip_grad`` or
    ``max_steps``; ``precision`` is one of :data:`PRECISIONS`. Unknown keys, repeated keys
    and values out of range are refused.

    Example:
        >>> parse_recipe(["lr=1e-2,clip_grad=none", "depth=8,precision=fp16"])
        {'lr': 0.01, 'clip_grad': None, 'depth': 8, 'precision': 'fp16'}
        >>> parse_recipe(["label_smoothing=0.1,drop_path=0.1,mixup=0.2"])
        {'label_smoothing': 0.1, 'drop_path': 0.1, 'mixup': 0.2}
        >>> parse_recipe(["drop_path=1"])
        Traceback (most recent call last):
        ...
        candidates._errors.UserError: recipe drop_path must be a number ≥ 0 and < 1, not '1'
    """
    types = {f.name: str(f.type) for f in fields(Budget)} | dict.fromkeys(MODEL_SETTINGS, "number")
    out: dict[str, Any] = {}
    for item in (part for text in items for part in text.split(",") if part.strip()):
        key, sep, text = (part.strip() for part in item.partition("="))
        key = key.lower()
        if not sep or not key or not text:
            raise UserError(f"a recipe change is KEY=VALUE, such as lr=1e-2, not {item!r}")
        if key not in types:
            raise UserError(
                f"not a recipe setting: {key!r}{suggest(key, list(types))} "
                f"(known: {', '.join(sorted(types))})"
            )
        if key in out:
            raise UserError(f"recipe setting {key} given twice")
        kind = types[key]
        if text.lower() == "none" and "None" in kind:
            out[key] = None
            continue
        if key in RECIPE_CHOICES:
            choices = RECIPE_CHOICES[key]
            if text.lower() not in choices:
                raise not_one_of(f"recipe {key}", text, choices)
            out[key] = text.lower()
            continue
        out[key] = RECIPE_RANGES[key].parse(text, f"recipe {key}")
    return out


def check_regularisers(task: Task, plan: Budget) -> None:
    """Refuse, in one line naming the task, a loss regulariser its loss does not take.

    >>> from evaluators import get_task
    >>> check_regularisers(get_task("digits-dit"), Budget(epochs=1, label_smoothing=0.1))
    ... # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    candidates._errors.UserError: recipe label_smoothing needs ..., which task digits-dit's ...
    """
    for key, needs in LOSS_REGULARISERS.items():
        if getattr(plan, key) and key not in task.loss_regularisers:
            takes = ", ".join(task.loss_regularisers) or "no loss regulariser"
            raise UserError(
                f"recipe {key} needs {needs}, which task {task.name}'s loss is not "
                f"(it takes {takes})"
            )


def apply_recipe(task: Task, budget: str | int, recipe: Mapping[str, Any]) -> tuple[Task, Budget]:
    """A copy of ``task`` and its ``budget`` with the recipe changes applied: any field of
    :class:`Budget` (``lr``, ``clip_grad``, ``warmup_fraction``, …) and ``depth``, ``width``
    and ``drop_path`` for the tasks that have them (all the built-in tasks). Unknown settings,
    and loss regularisers the task's loss does not take, are refused.

    Example:
        >>> from evaluators import get_task
        >>> base = get_task("mnist1d")
        >>> task, plan = apply_recipe(base, "default", {"lr": 1e-2, "depth": 8, "width": 32})
        >>> plan.lr, task.depth, task.width, base.depth, base.width
        (0.01, 8, 32, 4, 64)
    """
    plan = task.budget(budget)
    known = {f.name for f in fields(Budget)}
    unknown = sorted(set(recipe) - known - set(MODEL_SETTINGS))
    if unknown:
        raise UserError(
            f"not a recipe setting: {', '.join(unknown)} "
            f"(known: {', '.join(sorted(known | set(MODEL_SETTINGS)))})"
        )
    shape = {
        k: int(v) if RECIPE_RANGES[k].integer else float(v)
        for k, v in recipe.items()
        if k in MODEL_SETTINGS
    }
    for key in shape:
        current = getattr(task, key, None)
        if isinstance(current, bool) or not isinstance(current, type(shape[key])):
            raise UserError(f"task {task.name} has no {key} setting to change")
    heads = getattr(task, "heads", 1)
    if "width" in shape and shape["width"] % heads:
        raise UserError(
            f"recipe width must be a multiple of task {task.name}'s {heads} attention heads, "
            f"not {shape['width']}"
        )
    if shape:
        task = copy.copy(task)  # the caller's task (a worker keeps its tasks) keeps its shape
        for key, value in shape.items():
            setattr(task, key, value)
    plan = replace(plan, **{k: v for k, v in recipe.items() if k not in MODEL_SETTINGS})
    check_regularisers(task, plan)
    return task, plan
