"""Packed training: each member of a pack is the single run of its seed, within float32
rounding, and members are independent of one another."""

from __future__ import annotations

import math

import pytest
import torch

from candidates import UserError
from evaluators import (
    Budget,
    Member,
    MemberFailure,
    RunResult,
    get_task,
    train,
    train_in_packs,
    train_packed,
)

# vmap has no batching rule for CPU flash attention yet and says so; the result is right.
pytestmark = pytest.mark.filterwarnings("ignore:There is a performance drop:UserWarning")

STEPS = Budget(epochs=1, max_steps=20)


def _flat(parameters: dict[str, torch.Tensor]) -> torch.Tensor:
    return torch.cat([parameters[n].flatten() for n in sorted(parameters)])


def _single(member: Member, plan: Budget, task: str = "mnist1d") -> tuple[RunResult, torch.Tensor]:
    kept: dict[str, torch.Tensor] = {}
    budget = Budget(**{**plan.__dict__, "lr": plan.lr * member.lr_scale})
    result = train(
        get_task(task),
        member.candidate,
        seed=member.seed,
        budget=budget,
        device="cpu",
        finished=lambda model: kept.update({n: p.detach() for n, p in model.named_parameters()}),
    )
    return result, _flat(kept)


def _packed(members: list[Member], plan: Budget) -> tuple[list[RunResult], list[torch.Tensor]]:
    kept: dict[int, dict[str, torch.Tensor]] = {}
    results = train_packed(
        get_task("mnist1d"), members, budget=plan, device="cpu", keep=kept.__setitem__
    )
    return results, [_flat(kept[k]) for k in range(len(members))]


def _distance(a: torch.Tensor, b: torch.Tensor) -> float:
    """Relative distance of two parameter vectors (the whole model: the key projection's bias
    gets a gradient that is rounding noise, softmax being blind to it, which Adam turns into
    steps; per tensor that bias would compare noise with noise)."""
    return float((a - b).norm() / b.norm())


def test_each_member_is_its_single_run_after_20_steps() -> None:
    members = [Member("erf", 0), Member("tanh(x)", 1), Member("isru", 0), Member("erf", 1)]
    results, parameters = _packed(members, STEPS)
    for member, result, packed in zip(members, results, parameters, strict=True):
        single, alone = _single(member, STEPS)
        assert _distance(packed, alone) < 1e-5, member
        assert result.to_dict().keys() == single.to_dict().keys()
        assert (result.candidate, result.seed, result.steps) == (member.name, member.seed, 20)
        assert result.val_loss == pytest.approx(single.val_loss, rel=1e-5)
        assert result.train_loss_eval == pytest.approx(single.train_loss_eval, rel=1e-5)
        assert result.alpha == pytest.approx(single.alpha, rel=1e-5)
        _same_growth(result, single)


def _same_growth(packed: RunResult, single: RunResult) -> None:
    """The same growth rows (step, signal, layer), with values within float32 rounding of
    twenty steps (Adam's g²/v̂ divides by a moment that can be tiny: 1e-2 there)."""
    ours = {tuple(row[:3]): row[3] for row in packed.growth}
    theirs = {tuple(row[:3]): row[3] for row in single.growth}
    assert ours.keys() == theirs.keys() and len(ours) > 100
    for key, value in theirs.items():
        rel = 1e-2 if key[1] == "adam_ratio" else 1e-4
        assert ours[key] == pytest.approx(value, rel=rel, abs=1e-6), key


@pytest.mark.slow  # a pack and its single runs: about a minute
def test_a_pack_of_norm_baselines_is_their_single_runs() -> None:
    # LayerNorm's backward is the most rounding-sensitive part of these models: its own single
    # run moves by 1.9e-5 between one and two CPU threads, and a pack is held to that
    members = [Member("layernorm", 0), Member("layernorm", 1)]
    _, parameters = _packed(members, STEPS)
    for member, packed in zip(members, parameters, strict=True):
        assert _distance(packed, _single(member, STEPS)[1]) < 5e-5


@pytest.mark.slow  # two packs and a single run: about a minute
def test_a_diverging_member_leaves_the_others_unchanged() -> None:
    wild = Member("x**3", 0, lr_scale=100.0)
    results, parameters = _packed([Member("erf", 0), wild, Member("tanh(x)", 1)], STEPS)
    calm, calm_parameters = _packed([Member("erf", 0), Member("tanh(x)", 1)], STEPS)
    assert results[1].diverged and not results[0].diverged and not results[2].diverged
    single, _ = _single(wild, STEPS)
    assert (results[1].diverged, results[1].diverged_step) == (True, single.diverged_step)
    assert math.isnan(results[1].value)
    for with_wild, without in zip((parameters[0], parameters[2]), calm_parameters, strict=True):
        assert _distance(with_wild, without) < 1e-6
    assert [r.value for r in (results[0], results[2])] == [r.value for r in calm]


def test_a_member_that_raises_fails_alone() -> None:
    # Member 2's pruning report raises (its relay gone), member 4 names no function: each is a
    # failure of its own; the pack is trained again in halves without them, so the others
    # end as their packs without those members end.
    plan = Budget(epochs=1, max_steps=4)

    def broken(epoch: int, metric: float, loss: float, step: int) -> bool:
        raise ConnectionError("the relay is gone")

    members = [Member("erf", 0), Member("erf", 1), Member("tanh(x)", 2), Member("erf", 3)]
    members.append(Member("no_such_function", 4))
    task = get_task("mnist1d")
    results = train_in_packs(
        task, members, budget=plan, device="cpu", reports=[None, None, broken, None, None]
    )
    assert [type(r).__name__ for r in results] == [
        "RunResult", "RunResult", "MemberFailure", "RunResult", "MemberFailure"
    ]  # fmt: skip
    failed, unknown = results[2], results[4]
    assert isinstance(failed, MemberFailure) and isinstance(unknown, MemberFailure)
    assert failed.error == "ConnectionError: the relay is gone"
    assert "no_such_function" in unknown.error and failed.member is members[2]
    # halved: [0, 1] trained together, [3] alone; each as it is without the failed members
    pair = train_packed(task, members[:2], budget=plan, device="cpu")
    alone = train_packed(task, [members[3]], budget=plan, device="cpu")
    ok = [r for r in results if isinstance(r, RunResult)]
    assert [(r.candidate, r.seed, r.steps) for r in ok] == [
        ("erf", 0, 4), ("erf", 1, 4), ("erf", 3, 4)
    ]  # fmt: skip
    assert [r.val_loss for r in ok] == [r.val_loss for r in (*pair, *alone)]


@pytest.mark.slow  # a pack and its single runs: about a minute
def test_pruning_stops_one_member_and_not_the_others() -> None:
    plan = Budget(epochs=3, batch_size=128, max_steps=60)

    def prune(epoch: int, metric: float, loss: float, step: int) -> bool:
        return True

    members = [Member("erf", 0), Member("erf", 1)]
    results = train_packed(
        get_task("mnist1d"), members, budget=plan, device="cpu", reports=[None, prune]
    )
    assert results[1].stopped_early and results[1].epochs == 1
    assert not results[0].stopped_early and results[0].epochs == 2
    assert results[0].steps == 60 and results[1].steps == results[1].curve[-1]["step"]


def test_members_of_two_architectures_are_refused_in_one_line() -> None:
    with pytest.raises(UserError, match="another architecture"):
        train_packed(
            get_task("mnist1d"),
            [Member("erf"), Member("layernorm")],
            budget=Budget(epochs=1, max_steps=1),
            device="cpu",
        )
    with pytest.raises(UserError, match="does not take mixup"):
        train_packed(
            get_task("mnist1d"), [Member("erf")], budget=Budget(epochs=1, mixup=0.2), device="cpu"
        )


@pytest.mark.slow  # a pack and its single runs: about a minute
def test_a_function_with_an_infinite_slope_is_as_close_as_its_own_rounding_allows() -> None:
    # |x|^(2/3)'s slope is cut at MAX_SLOPE near 0, where float32 rounding decides which side
    # of the cut a value falls: the single run itself moves by about this much between one
    # and two CPU threads, so a pack is held to that, not to 1e-5
    member = Member("sign(x)*abs(x)**(2/3)", 0)
    _, (packed, _) = _packed([member, Member("erf", 0)], STEPS)
    _, alone = _single(member, STEPS)
    assert _distance(packed, alone) < 2e-2


@pytest.mark.slow  # a pack of four full runs and the four single runs: about 4 minutes
def test_a_full_run_in_a_pack_ends_within_a_tenth_of_the_seed_spread() -> None:
    # mnist1d's recipe, not mnist1d-deep's: the latter amplifies float32 rounding like a change
    # of seed (its single runs move by 0.07 between thread counts; docs/performance.md)
    task = get_task("mnist1d")
    plan = task.budget("default")
    members = [Member("erf", s) for s in range(3)] + [Member("tanh(x)", 0)]
    packed = train_packed(task, members, budget=plan, device="cpu")
    single = [train(task, m.candidate, seed=m.seed, budget=plan, device="cpu") for m in members]
    spread = float(torch.tensor([r.value for r in single[:3]]).std())
    for p, s in zip(packed, single, strict=True):
        assert abs(p.value - s.value) <= spread / 10, (p.candidate, p.seed, p.value, s.value)


def test_members_of_a_task_with_random_losses_see_their_single_runs_draws() -> None:
    # digits-dit draws a diffusion step and noise in every loss: each member draws them from
    # its own single run's generator state, so two functions at one seed share their noise
    plan = Budget(epochs=1, max_steps=6)
    members = [Member("erf", 0), Member("tanh(x)", 0), Member("erf", 1)]
    kept: dict[int, dict[str, torch.Tensor]] = {}
    results = train_packed(
        get_task("digits-dit"), members, budget=plan, device="cpu", keep=kept.__setitem__
    )
    for k, member in enumerate(members):
        single, alone = _single(member, plan, "digits-dit")
        assert _distance(_flat(kept[k]), alone) < 1e-6, member
        assert results[k].val_loss == pytest.approx(single.val_loss, rel=1e-5)
        _same_growth(results[k], single)
