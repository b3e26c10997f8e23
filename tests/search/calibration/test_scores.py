"""The proxy's side of calibration: category rules over seed-paired runs, agreement, κ and
Spearman, zero-cost predictors, and when a difference between predictors is beyond noise."""

from __future__ import annotations

import math
from collections import Counter

import numpy as np
import pytest

from candidates import spread_of
from search.calibration import (
    CATEGORIES,
    Calibration,
    CellResult,
    ProxyCell,
    ProxyRule,
    Scores,
    agreement_scores,
    cohen_kappa,
    cut_at_shares,
    kappa_difference,
)
from search.driver import apply_protocol


def test_proxy_rules_pair_seeds_and_tell_fail_from_degrade() -> None:
    rule = ProxyRule(untrained=0.1, layernorm="ln", direction="maximize")
    values = {
        "ln": {0: 0.9, 1: 0.9, 2: 0.9},
        "erf": {0: 0.70, 1: 0.80, 2: 0.60},
        # paired: always 0.02 below erf, though the seeds' spread is ten times that
        "paired": {0: 0.68, 1: 0.78, 2: 0.58},
        "noisy": {0: 0.80, 1: 0.60, 2: 0.65},  # below erf on average, within seed noise
        "collapsed": {0: 0.16, 1: 0.17, 2: 0.18},  # recovers < 10% of LayerNorm's 0.8 gain
        "diverged": {0: math.nan, 1: math.nan, 2: math.nan},
        "one_diverged": {0: math.nan, 1: 0.8, 2: 0.6},  # the diverged seed counts as 0.1
    }
    judge = {k: rule.judge(k, ["erf"], values) for k in values if k != "ln"}
    assert judge["erf"].category == "FINE" and judge["erf"].effect == 0
    assert judge["paired"].category == "DEGRADE"
    assert judge["paired"].effect == pytest.approx(-0.02 / 0.8)
    assert judge["noisy"].category == "FINE"
    assert judge["collapsed"].category == "FAIL" and judge["diverged"].category == "FAIL"
    assert judge["one_diverged"].diverged == 1
    assert judge["one_diverged"].mean == pytest.approx((0.1 + 0.8 + 0.6) / 3)
    # a lower-is-better metric: the same rules, signs flipped
    loss = ProxyRule(untrained=1.0, layernorm="ln", direction="minimize")
    loss_values = {"ln": {0: 0.2, 1: 0.2}, "erf": {0: 0.3, 1: 0.31}, "worse": {0: 0.35, 1: 0.36}}
    assert loss.judge("worse", ["erf"], loss_values).category == "DEGRADE"
    # unmeasured runs are not judged, nor is anything before LayerNorm (the unit) is measured
    assert rule.judge("missing", ["erf"], values).category is None
    no_layernorm = {k: v for k, v in values.items() if k != "ln"}
    assert rule.judge("paired", ["erf"], no_layernorm).category is None


def test_scores_kappa_agreement_and_spearman() -> None:
    assert cohen_kappa([("FAIL", "FAIL"), ("FINE", "FINE")]) == 1.0
    assert math.isnan(cohen_kappa([("FINE", "FINE"), ("FINE", "FINE")]))  # chance is 1
    # the textbook case: 20 cells, 70% agreement, chance 50% -> κ 0.4
    pairs = [("FAIL", "FAIL")] * 7 + [("FINE", "FINE")] * 7 + [("FAIL", "FINE")] * 3
    pairs += [("FINE", "FAIL")] * 3
    assert cohen_kappa(pairs) == pytest.approx(0.4)
    ref = {"a": "FAIL", "b": "FINE", "c": "DEGRADE"}
    got = {"a": "FAIL", "b": "FINE", "c": None}  # c not measured: left out
    s = agreement_scores(ref, got, {"a": -math.inf, "b": 0, "c": -1}, {"a": -1, "b": 0})
    assert s.cells == 2 and s.agreement == 1.0 and s.confusion["FAIL"]["FAIL"] == 1


def test_zero_cost_categories_take_the_reference_shares() -> None:
    effects = {"a": 0.3, "b": -2.0, "c": -0.5, "d": 0.0, "e": -1.0}
    reference = {"a": "FINE", "b": "FAIL", "c": "FINE", "d": "DEGRADE", "e": "FAIL"}
    got = cut_at_shares(effects, reference)
    assert Counter(got.values()) == Counter(reference.values())
    assert got["b"] == got["e"] == "FAIL" and got["c"] == "DEGRADE"
    # equal effects (to float noise) share one category, whatever the cells' order
    tied = {"p": -1.0, "q": 0.0, "r": 1e-17, "s": -2e-17, "t": 0.5}
    shares = {"p": "FAIL", "q": "DEGRADE", "r": "FINE", "s": "FINE", "t": "FINE"}
    forward = cut_at_shares(tied, shares)
    backward = cut_at_shares(dict(reversed(list(tied.items()))), shares)
    assert forward == backward and forward["q"] == forward["r"] == forward["s"] == "FINE"


def test_gain_matched_protocol_gives_every_function_erf_s_spread() -> None:
    import pandas as pd

    table = pd.DataFrame(
        {
            "expression": ["erf(x)", "x", "2*x/(1 + x**2)", "tanh(x) + 1", None],
            "alpha0": [0.5] * 5,
        }
    )
    matched = apply_protocol(table, "gain-matched")
    target = spread_of("erf(x)", 0.5)
    for expression, alpha0 in zip(matched["expression"][:4], matched["alpha0"][:4], strict=True):
        assert spread_of(expression, alpha0) == pytest.approx(target, rel=1e-4)
    assert matched["alpha0"].iloc[4] == 0.5  # a norm layer has no α
    assert apply_protocol(table, "single") is table


# --- the command, end to end --------------------------------------------------------------------


def test_a_kappa_difference_is_beyond_noise_only_when_the_cells_say_so() -> None:
    rng = np.random.default_rng(0)
    ref = list(rng.choice(["FAIL", "DEGRADE", "FINE"], size=120, p=[0.2, 0.2, 0.6]))
    same = kappa_difference(ref, ref, ref)
    assert same == (0.0, 0.0, 0.0)
    # right on 90% of cells against right on 45%: the interval excludes 0
    good = [r if rng.random() < 0.9 else "FINE" for r in ref]
    poor = [r if rng.random() < 0.45 else str(rng.choice(CATEGORIES)) for r in ref]
    gap, low, high = kappa_difference(ref, good, poor)
    assert 0 < low < gap < high
    # the cells are resampled paired: two predictors one cell apart stay close on every draw
    one_off = list(good)
    one_off[0] = "DEGRADE" if good[0] != "DEGRADE" else "FAIL"
    gap, low, high = kappa_difference(ref, good, one_off)
    assert 0 < gap < 0.05 and high - low < 0.1  # unpaired, about 0.3
    # two predictors equally good on different cells: the interval holds 0
    other = [r if rng.random() < 0.9 else "FINE" for r in ref]
    gap, low, high = kappa_difference(ref, good, other)
    assert low < 0 < high


def synthetic_calibration(
    reference: list[str],
    proxy: list[str],
    zero: list[str],
    proxy_effects: list[float],
    zero_effects: list[float],
) -> Calibration:
    """A calibration of hand-made cells: the proxy's share cut and one zero-cost predictor."""
    ref_effects = [-2.0 if r == "FAIL" else -1.0 if r == "DEGRADE" else 0.0 for r in reference]
    ref_effects = [e + 0.01 * i for i, e in enumerate(ref_effects)]  # distinct, same order
    cells = [
        CellResult(
            key=f"c{i}", prop="bounded", name=f"c{i}", reference_value=1.0,
            reference_category=reference[i], reference_effect=ref_effects[i],  # type: ignore[arg-type]
            proxy=ProxyCell(proxy[i], 1.0, proxy_effects[i], 0.01, 3, 0),  # type: ignore[arg-type]
            zero_cost={"spread": (zero[i], zero_effects[i])},  # type: ignore[dict-item]
            proxy_by_shares=proxy[i],  # type: ignore[arg-type]
        )
        for i in range(len(reference))
    ]  # fmt: skip

    def scores(got: list[str], effects: list[float]) -> Scores:
        keys = [c.key for c in cells]
        return agreement_scores(
            dict(zip(keys, reference, strict=True)),  # type: ignore[arg-type]
            dict(zip(keys, got, strict=True)),  # type: ignore[arg-type]
            dict(zip(keys, ref_effects, strict=True)),
            dict(zip(keys, effects, strict=True)),
        )

    mine = scores(proxy, proxy_effects)
    return Calibration(
        task="t", metric="m", protocol="single", recipe=[], budget="default", cells_mode="all",
        seeds=3, untrained=0.1, layernorm=0.9, cells=cells, proxy=mine, per_property={},
        proxy_by_shares=mine, per_property_by_shares={},
        zero_cost={"spread": scores(zero, zero_effects)}, zero_cost_per_property={},
        seconds_per_run=1.0, runs=1, seconds=1.0, seed_noise=0.01, seed_tau=1.0,
    )  # fmt: skip


def test_the_verdict_says_which_predictor_wins_only_beyond_noise() -> None:
    rng = np.random.default_rng(1)
    reference = list(rng.choice(["FAIL", "DEGRADE", "FINE"], size=90, p=[0.2, 0.2, 0.6]))
    right = [-2.0 if r == "FAIL" else -1.0 if r == "DEGRADE" else 0.0 for r in reference]
    right = [e + 0.01 * i for i, e in enumerate(right)]
    noise = list(rng.normal(size=90))
    shuffled = [str(c) for c in rng.permutation(reference)]
    # right on both counts against a predictor that is right on neither
    c = synthetic_calibration(reference, reference, shuffled, right, noise)
    assert c.verdict().startswith(
        "The trained proxy beats the best zero-cost predictor, spread, on κ and on Spearman"
    )
    # right categories, shuffled effects; the zero-cost predictor the other way round
    c = synthetic_calibration(reference, reference, shuffled, noise, right)
    assert "on κ only; on Spearman it is behind it" in c.verdict()
    # one predictor twice: nothing to tell apart
    c = synthetic_calibration(reference, shuffled, shuffled, noise, noise)
    assert "does not beat" in c.verdict()
    assert (
        "not distinguishable from it on κ and not distinguishable from it on Spearman"
        in c.verdict()
    )
    # behind on both
    c = synthetic_calibration(reference, shuffled, reference, noise, right)
    assert "it is behind it on κ and behind it on Spearman" in c.verdict()
    assert c.kappa_gap[2] < 0 and c.spearman_gap[2] < 0
    # nothing measured
    c = synthetic_calibration([], [], [], [], [])
    assert c.verdict().startswith("Too few cells are measured (0)")
