"""The recipe's regularisers (label smoothing, mixup, stochastic depth): off by default, each
changes a run, runs stay reproducible and paired across functions, bad values are refused."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest
import torch

from candidates import UserError
from evaluators import (
    Budget,
    Mixup,
    Regularisers,
    RunResult,
    Task,
    apply_recipe,
    get_task,
    make_norm,
    parse_recipe,
    train,
)

#: A tiny mnist1d: 2 blocks of width 16, 4 steps.
TINY = {"depth": 2, "width": 16, "max_steps": 4}


def _run(recipe: dict[str, Any], *, seed: int = 0, candidate: str = "erf") -> RunResult:
    task, plan = apply_recipe(get_task("mnist1d"), "quick", TINY | recipe)
    return train(task, candidate, budget=plan, seed=seed, device="cpu")


@pytest.mark.parametrize("recipe", [{"label_smoothing": 0.2}, {"mixup": 0.4}, {"drop_path": 0.3}])
def test_each_regulariser_changes_the_training_and_is_reproducible(
    recipe: dict[str, Any],
) -> None:
    plain, once, again = _run({}), _run(recipe), _run(recipe)
    assert not once.diverged and once.steps == TINY["max_steps"]
    assert once.train_loss_eval != plain.train_loss_eval
    assert once.curve[-1]["train_loss"] != plain.curve[-1]["train_loss"]
    assert (once.value, once.val_loss, once.train_loss_eval) == (
        again.value,
        again.val_loss,
        again.train_loss_eval,
    )
    assert once.curve == again.curve


def test_settings_at_zero_are_the_recipe_without_them() -> None:
    plain = _run({})
    off = _run({"label_smoothing": 0.0, "mixup": 0.0, "drop_path": 0.0})
    assert (off.value, off.train_loss_eval, off.curve) == (
        plain.value,
        plain.train_loss_eval,
        plain.curve,
    )


def test_mixup_is_paired_across_functions_and_seeded_by_the_run(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    plan = Budget(epochs=1, batch_size=32, max_steps=3, mixup=0.4)
    seen: dict[tuple[str, int], list[tuple[float, list[int]]]] = {}
    for candidate, seed in (("erf", 1), ("layernorm", 1), ("erf", 2)):
        task, steps = get_task("mnist1d"), seen.setdefault((candidate, seed), [])

        def recording(*args: Any, _task: Task = task, _steps: list[Any] = steps, **kw: Any) -> Any:
            mixup = args[-1].mixup
            _steps.append((mixup.lam, mixup.partner.tolist()))
            return type(_task).regularised_loss(_task, *args, **kw)

        monkeypatch.setattr(task, "regularised_loss", recording)
        train(task, candidate, budget=plan, seed=seed, device="cpu")
    first = seen["erf", 1]
    assert len(first) == 3 and 0 < first[0][0] < 1
    assert sorted(first[0][1]) == list(range(32))  # a permutation of the batch
    assert first == seen["layernorm", 1]  # the same λ and partners at every step
    assert first != seen["erf", 2]


def test_mixup_mixes_inputs_and_targets_alike() -> None:
    # the loss against the mixed one-hot target, written out
    model = torch.nn.Linear(3, 4)
    x, y = torch.randn(5, 3), torch.tensor([0, 1, 2, 3, 0])
    mix = Mixup(lam=0.3, partner=torch.tensor([4, 3, 2, 1, 0]))
    task = get_task("mnist1d")
    loss = task.regularised_loss(model, x, y, Regularisers(label_smoothing=0.1, mixup=mix))
    soft = 0.3 * torch.nn.functional.one_hot(y, 4) + 0.7 * torch.nn.functional.one_hot(
        y[mix.partner], 4
    )
    soft = 0.9 * soft + 0.1 / 4
    expected = -(soft * torch.log_softmax(model(0.3 * x + 0.7 * x[mix.partner]), -1)).sum(-1)
    assert torch.allclose(loss, expected.mean())


@pytest.mark.parametrize("name", ["chars-gpt", "digits-dit", "digits-vit", "mnist1d"])
def test_drop_path_is_the_identity_in_eval_mode(name: str) -> None:
    base = get_task(name)
    dropping = apply_recipe(base, "quick", {"drop_path": 0.5})[0]
    torch.manual_seed(0)
    plain_model = base.build_model(lambda w: make_norm("erf", w))
    model = dropping.build_model(lambda w: make_norm("erf", w))
    model.load_state_dict(plain_model.state_dict())  # stochastic depth has no parameters
    _, val = base.splits(seed=0)
    val.inputs, val.targets = val.inputs[:64], val.targets[:64]
    assert base.score(model, val) == base.score(plain_model, val)
    assert model.training  # score leaves the model in training mode, where branches drop
    if name != "digits-dit":  # adaLN-Zero: the DiT's branches are zero at initialisation
        torch.manual_seed(1)
        dropped = base.loss(model, val.inputs, val.targets)
        torch.manual_seed(1)
        assert dropped != base.loss(plain_model, val.inputs, val.targets)


def test_drop_path_reaches_every_block_at_one_rate() -> None:
    task = apply_recipe(get_task("digits-vit"), "quick", parse_recipe(["drop_path=0.2"]))[0]
    model = task.build_model(lambda w: make_norm("erf", w))
    rates = [m.rate for m in model.modules() if type(m).__name__ == "DropPath"]
    assert rates == [0.2] * task.depth  # type: ignore[attr-defined]
    assert get_task("digits-vit").drop_path == 0.0  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("name", "setting"),
    [("digits-dit", "label_smoothing=0.1"), ("digits-dit", "mixup=0.2"), ("chars-gpt", "mixup=1")],
)
def test_loss_regularisers_are_refused_where_the_loss_takes_none(name: str, setting: str) -> None:
    key = setting.partition("=")[0]
    with pytest.raises(UserError, match=rf"recipe {key} needs .* task {name}'s loss") as caught:
        apply_recipe(get_task(name), "quick", parse_recipe([setting]))
    assert "\n" not in str(caught.value)
    plan = replace(get_task(name).budget("quick"), **parse_recipe([setting]))
    with pytest.raises(UserError, match=f"task {name}"):
        train(get_task(name), "erf", budget=plan, device="cpu")
    # off is the default, allowed everywhere
    apply_recipe(get_task(name), "quick", parse_recipe([f"{key}=0"]))


@pytest.mark.parametrize(
    "setting",
    [
        "label_smoothing=1",
        "label_smoothing=-0.1",
        "label_smoothing=nan",
        "drop_path=1",
        "drop_path=2",
        "drop_path=inf",
        "mixup=-1",
        "mixup=11",
        "mixup=inf",
        "mixup=nan",
        "mixup=none",
    ],
)
def test_out_of_range_and_non_finite_values_are_refused(setting: str) -> None:
    key = setting.partition("=")[0]
    with pytest.raises(
        UserError, match=rf"^recipe {key} must be a number (≥ 0 and < 1|from 0 to 10), not"
    ):
        parse_recipe([setting])


def test_a_budget_refuses_them_at_the_door() -> None:
    with pytest.raises(UserError, match="label_smoothing must be"):
        Budget(epochs=1, label_smoothing=1.0)
    with pytest.raises(UserError, match="mixup must be"):
        Budget(epochs=1, mixup=float("inf"))
