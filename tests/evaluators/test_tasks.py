"""The contract every task must meet, and the training loop's gates."""

from __future__ import annotations

import math
from dataclasses import replace

import pytest
import torch
from torch import nn

from evaluators import (
    Budget,
    PointwiseNorm,
    QualityGate,
    Task,
    apply_recipe,
    get_task,
    make_norm,
    parse_recipe,
    task_names,
    train,
)

TASKS = task_names()


@pytest.mark.parametrize("name", TASKS)
def test_task_contract(name: str) -> None:
    task = get_task(name)
    assert isinstance(task, Task) and task.name == name
    assert task.direction in ("maximize", "minimize")
    assert {"quick", "default"} <= set(task.budgets)
    train_split, val_split = task.splits(seed=0)
    again, _ = task.splits(seed=1)
    assert len(train_split) > len(val_split) > 0
    assert torch.equal(torch.sort(train_split.targets).values, torch.sort(again.targets).values)
    built: list[nn.Module] = []

    def norm(width: int) -> nn.Module:
        built.append(make_norm("erf", width))
        return built[-1]

    model = task.build_model(norm)
    assert built and all(isinstance(m, PointwiseNorm) for m in built)
    # every norm in the model came from the factory
    assert not any(isinstance(m, (nn.LayerNorm, nn.RMSNorm)) for m in model.modules())
    loss = task.loss(model, train_split.inputs[:8], train_split.targets[:8])
    assert loss.dim() == 0 and torch.isfinite(loss)
    loss.backward()
    scores = task.score(model, val_split)
    assert set(scores) == {"metric", "loss"} and math.isfinite(scores["metric"])


# the two slowest at the quick budget (about 10 s each) run with the slow tests
HEAVY = ("chars-gpt", "mnist1d-deep")


@pytest.mark.parametrize(
    "name", [pytest.param(n, marks=pytest.mark.slow) if n in HEAVY else n for n in TASKS]
)
def test_quick_run_is_deterministic(name: str) -> None:
    task = get_task(name)
    a = train(task, "erf", budget="quick", seed=3, device="cpu")
    b = train(task, "erf", budget="quick", seed=3, device="cpu")
    assert not a.diverged and a.epochs == task.budget("quick").epochs
    assert a.value == b.value and a.train_loss_eval == b.train_loss_eval
    assert len(a.curve) == a.epochs and a.alpha is not None and a.shift is not None
    assert a.seconds > 0 and a.parameters > 0
    assert a.attention_logit_peak is not None and 0 < a.attention_logit_peak < math.inf
    assert a.attention_logit_peak == b.attention_logit_peak


@pytest.mark.slow  # every baseline on every task: about 25 s
def test_baselines_train_through_the_same_loop() -> None:
    task = get_task("digits-vit")
    for kind in ("layernorm", "rmsnorm", "dyt"):
        result = train(task, kind, budget="quick", seed=0, device="cpu")
        assert math.isfinite(result.value)
    assert train(task, "dyt", budget="quick", device="cpu").shift is None
    assert train(task, "layernorm", budget="quick", device="cpu").alpha is None


def test_a_diverging_run_is_a_result() -> None:
    task = get_task("digits-vit")
    wild = Budget(epochs=2, lr=50.0, clip_grad=None, warmup_fraction=0.0)
    result = train(task, "x", budget=wild, seed=0, device="cpu")
    assert result.diverged and result.diverged_step is not None
    assert result.diverged_step < 2 * 23


def test_mixed_precision_trains_under_autocast() -> None:
    task = get_task("digits-vit")
    assert Budget(epochs=1).precision == "fp32"
    runs = {
        precision: train(
            task, "erf", budget=Budget(epochs=1, max_steps=4, precision=precision), device="cpu"
        )
        for precision in ("fp32", "bf16", "fp16")
    }
    for precision in ("bf16", "fp16"):
        run = runs[precision]
        assert not run.diverged and run.steps == 4 and math.isfinite(run.value)
        # autocast was on: the losses differ from float32's in their low digits
        loss, full = run.curve[0]["train_loss"], runs["fp32"].curve[0]["train_loss"]
        assert loss != full and loss == pytest.approx(full, rel=0.05)
    with pytest.raises(ValueError, match="not 'fp61'; did you mean 'fp16'"):
        Budget(epochs=1, precision="fp61")


def test_float16_overflow_skips_steps_and_overflow_at_every_scale_diverges() -> None:
    budget = Budget(epochs=1, max_steps=20, precision="fp16")
    loud = get_task("digits-vit")
    base = loud.loss
    # gradients 1000 times larger overflow float16 at the scaler's first scales, not unscaled
    loud.loss = lambda model, x, y: 1000 * base(model, x, y)  # type: ignore[method-assign]
    result = train(loud, "erf", budget=budget, device="cpu")
    assert not result.diverged and result.steps == 20
    assert 0 < result.skipped_steps < 20
    # sqrt(|c|) at c = 0 (the class token starts at zero) has a NaN gradient at any scale
    broken = get_task("digits-vit")
    broken.loss = lambda model, x, y: (  # type: ignore[method-assign]
        base(model, x, y) + 0.0 * model.cls.abs().sqrt().sum()
    )
    result = train(broken, "erf", budget=budget, device="cpu")
    # halving from 2**16, the scale falls below 1 at the 17th skipped step
    assert result.diverged and result.diverged_step == 16 and result.skipped_steps == 16
    full = train(broken, "erf", budget=replace(budget, precision="fp32"), device="cpu")
    assert full.diverged and full.diverged_step == 0


def test_quality_gate_rejects() -> None:
    task = get_task("digits-vit")
    gate = QualityGate(after_epochs=1, threshold=1.01)  # no run reaches 101 % accuracy
    result = train(task, "erf", budget="quick", seed=0, device="cpu", quality_gate=gate)
    assert result.rejected and result.rejected_epoch == 1 and result.epochs == 1


def test_report_callback_can_stop_a_run() -> None:
    seen: list[tuple[int, float, float, int]] = []

    def report(epoch: int, metric: float, loss: float, step: int) -> bool:
        seen.append((epoch, metric, loss, step))
        return True  # a pruner saying stop

    result = train(get_task("digits-vit"), "erf", budget=5, seed=0, device="cpu", report=report)
    assert result.stopped_early and len(seen) == 1 and result.epochs == 1


def test_unknown_names_get_a_did_you_mean() -> None:
    with pytest.raises(ValueError, match="did you mean 'digits-vit'"):
        get_task("digits-vt")
    with pytest.raises(ValueError, match="did you mean 'quick'"):
        get_task("digits-vit").budget("quik")
    with pytest.raises(ValueError, match="not a Task subclass"):
        get_task("torch.nn:Linear")
    assert get_task("evaluators._tasks.digits_vit:DigitsViT").name == "digits-vit"


def test_apply_recipe_changes_a_copy_and_refuses_unknown_settings() -> None:
    known = (
        "batch_size, clip_grad, depth, drop_path, epochs, label_smoothing, lr, max_steps, "
        "mixup, precision, schedule, train_subset, warmup_fraction, weight_decay, width"
    )
    message = rf"not a recipe setting: learning_rate \(known: {known}\)"
    with pytest.raises(ValueError, match=message):
        apply_recipe(get_task("mnist1d"), "default", {"learning_rate": 1.0})
    base = get_task("chars-gpt")
    task, plan = apply_recipe(base, "default", {"clip_grad": None, "depth": 2})
    assert plan.clip_grad is None and plan.lr == base.budget("default").lr
    assert (task.depth, base.depth) == (2, 4)  # type: ignore[attr-defined]


@pytest.mark.parametrize("name", ["chars-gpt", "digits-dit", "digits-vit", "mnist1d"])
def test_width_is_a_recipe_setting_of_every_task(name: str) -> None:
    base = get_task(name)
    task, _ = apply_recipe(base, "default", parse_recipe(["width=32"]))
    narrow = task.build_model(lambda w: make_norm("layernorm", w))
    wide = base.build_model(lambda w: make_norm("layernorm", w))
    norms = [m.normalized_shape[0] for m in narrow.modules() if isinstance(m, nn.LayerNorm)]
    assert norms and set(norms) == {32}
    assert sum(p.numel() for p in narrow.parameters()) < sum(p.numel() for p in wide.parameters())
    with pytest.raises(ValueError, match=r"width must be a multiple of .* 4 attention heads"):
        apply_recipe(base, "default", {"width": 30})


@pytest.mark.parametrize(
    ("name", "low", "high"),
    [
        ("digits-vit", 0.05, 0.2),
        ("mnist1d", 0.05, 0.2),
        ("digits-dit", 0.9, 1.1),
        ("chars-gpt", 3, 7),
    ],
)
def test_untrained_level_is_what_learning_nothing_scores(
    name: str, low: float, high: float
) -> None:
    # chance (the majority class), predicting zero noise (the noise's mean square), a
    # context-free character model (the unigram entropy, in bits)
    level = get_task(name).untrained_level()
    assert level is not None and low < level < high
