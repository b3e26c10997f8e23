"""Calibration: the reference table, the category rules on both sides, the scores, the
zero-cost predictors, and `derf-search calibrate` end to end with real Ray and SQLite."""

from __future__ import annotations

import json
import math
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import ray

from candidates import Candidate, UserError, spread_of
from search.calibration import (
    CATEGORIES,
    PAPER_REFERENCE,
    Calibration,
    CellResult,
    ProxyCell,
    ProxyRule,
    Scores,
    agreement_scores,
    calibration_table,
    cohen_kappa,
    cut_at_shares,
    decisive_cells,
    kappa_difference,
    read_reference,
    reference_categories,
    reference_effects,
)
from search.cli import main
from search.driver import apply_protocol

HEADER = "table,property,base,variant,lam,value\n"


def write(tmp_path: Path, body: str, header: str = HEADER) -> Path:
    path = tmp_path / "reference.csv"
    path.write_text(header + body)
    return path


# --- the reference side ------------------------------------------------------------------------


def test_the_paper_reference_has_its_published_cells() -> None:
    cells = {c.key: c for c in read_reference(PAPER_REFERENCE)}
    assert len(cells) == 123
    assert cells["T1:erf:hshift:-1"].value == 82.0 and cells["T1:erf:hshift:2"].failed
    assert cells["T2:x:clip:"].failed and cells["T2:x:clip:0.5"].value == 82.1
    assert cells["T6:2*x/(1 + x**2):plain:"].value == 80.7
    assert cells["T6:arctan:neg:"].value == 82.2

    # the functions trained: arctan is (2/π)·atan, flat is 0 on [-λ, λ] and continuous
    def f(key: str) -> Callable[[float], float]:
        return Candidate.from_text(cells[key].expression).numpy()

    x = 1.7
    assert f("T6:arctan:neg:")(x) == pytest.approx(-2 / math.pi * math.atan(x))
    assert f("T3:isru:mix:0.5")(x) == pytest.approx(0.5 * x / math.sqrt(x * x + 1) + 0.5 * x)
    assert f("T1:tanh:vshift:-0.5")(x) == pytest.approx(math.tanh(x) - 0.5)
    assert f("T1:erf:hshift:1")(x) == pytest.approx(math.erf(x + 1))
    assert f("T5:erf:flat:1")(0.9) == 0 and f("T5:erf:flat:1")(x) == pytest.approx(math.erf(0.7))
    assert f("T2:asinh(x):clip:0.8")(x) == pytest.approx(0.8)
    assert cells["T5:tanh:flat:0"].expression == "tanh(x)"  # λ = 0 is f itself


def test_category_rules_on_a_hand_made_table(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "A,zero_centered,erf,hshift,0,80.0\n"
        "A,zero_centered,erf,hshift,1,79.7\n"  # 0.3 below its λ = 0 cell: FINE
        "A,zero_centered,erf,hshift,2,79.6\n"  # exactly 0.4 below: DEGRADE
        "A,zero_centered,erf,hshift,3,\n"  # failed: FAIL
        "B,bounded,x,clip,,\n"  # the identity failed ...
        "B,bounded,x,clip,1,79.0\n"  # ... so clip(x) is compared with the anchors
        "C,monotonic,tanh,plain,,81.0\n"
        "C,monotonic,tanh,neg,,80.5\n"  # −f against f: 0.5 below, DEGRADE
        "C,monotonic,sin(x),plain,,80.7\n"  # against tanh, the table's only anchor: FINE
        "D,bounded,asinh(x),plain,,80.2\n",  # no anchor in D: all anchors (80, 81) -> 80.5
    )
    cells = read_reference(path)
    got = reference_categories(cells)
    assert got == {
        "A:erf:hshift:0": "FINE",
        "A:erf:hshift:1": "FINE",
        "A:erf:hshift:2": "DEGRADE",
        "A:erf:hshift:3": "FAIL",
        "B:x:clip:": "FAIL",
        "B:x:clip:1": "DEGRADE",  # 79.0 against the anchors' 80.5
        "C:tanh:plain:": "FINE",
        "C:tanh:neg:": "DEGRADE",
        "C:sin(x):plain:": "FINE",
        "D:asinh(x):plain:": "FINE",
    }
    effects = reference_effects(cells)
    assert effects["B:x:clip:1"] == pytest.approx(-1.5)
    assert effects["A:erf:hshift:3"] == -math.inf
    # the threshold is a setting; a lower-is-better reference flips the sign
    assert reference_categories(cells, degrade_points=0.2)["A:erf:hshift:1"] == "DEGRADE"
    assert reference_categories(cells, direction="minimize")["C:tanh:neg:"] == "FINE"


def test_a_cell_with_nothing_to_compare_with_is_refused(tmp_path: Path) -> None:
    path = write(tmp_path, "A,bounded,asinh(x),plain,,80.2\n")
    with pytest.raises(UserError, match=r"reference.csv:2: cell A:asinh"):
        reference_categories(read_reference(path))


def test_a_spreadsheet_export_reads_and_one_base_is_one_cell(tmp_path: Path) -> None:
    # a byte-order mark before the header, as spreadsheets write UTF-8 CSV
    path = tmp_path / "bom.csv"
    path.write_bytes("\ufeff".encode() + (HEADER + "A,monotonic,erf,plain,,80\n").encode())
    assert read_reference(path)[0].value == 80
    # erf and erf(x) are one base: the same cell twice
    twice = write(tmp_path, "A,monotonic,erf,plain,,80\nA,monotonic,erf(x),plain,,79\n")
    with pytest.raises(UserError, match=":3: the same cell as line 2"):
        read_reference(twice)


@pytest.mark.parametrize(
    ("body", "header", "fragment"),
    [
        ("T1,bounded,erff,plain,,1\n", HEADER, r":2: column 'base': .*erff.*did you mean 'erf'"),
        ("T1,bounded,erf,hshift,abc,1\n", HEADER, r":2: column 'lam' must be a number, not 'abc'"),
        ("T1,bounded,erf,hshift,,1\n", HEADER, r":2: column 'lam': variant 'hshift' needs a λ"),
        ("T1,bounded,erf,plain,1,1\n", HEADER, r":2: column 'lam': variant 'plain' takes no λ"),
        ("T1,bounded,erf,clip,-1,1\n", HEADER, r":2: column 'lam' of a clip row must be a num"),
        ("T1,bounded,erf,mix,7,1\n", HEADER, r":2: column 'lam' of a mix row must be a number fr"),
        ("T1,bounded,erf,flat,1e308,1\n", HEADER, r":2: column 'lam': 1e308 cannot be used"),
        ("T1,bounded,erf,plain,,8x\n", HEADER, r":2: column 'value' must be a number, not '8x'"),
        ("T1,bounded,erf,hsift,1,1\n", HEADER, r":2: column 'variant'.*did you mean 'hshift'"),
        ("T1,bouned,erf,plain,,1\n", HEADER, r":2: column 'property'.*did you mean 'bounded'"),
        (
            "T1,bounded,erf,plain,,1\n",
            "table,property,base,variant,lam\n",
            r":1: missing column 'value'",
        ),
        ("T1,bounded,layernorm,plain,,1\n", HEADER, r":2: column 'base': .*normalization layer"),
        (
            "T1,bounded,erf,plain,,1\nT1,bounded,erf,plain,,2\n",
            HEADER,
            r":3: the same cell as line 2",
        ),
        ("T1,bounded,erf,plain,,1,7\n", HEADER, r":2: more fields than the header's 6"),
        ("", HEADER, r"no rows below the header"),
    ],
)
def test_bad_reference_rows_are_refused_with_file_line_and_column(
    tmp_path: Path, body: str, header: str, fragment: str
) -> None:
    path = write(tmp_path, body, header)
    with pytest.raises(UserError, match=fragment) as err:
        read_reference(path)
    assert str(path) in str(err.value) and "\n" not in str(err.value)


def test_the_decisive_cells_cover_every_property_in_about_25_runs() -> None:
    cells = read_reference(PAPER_REFERENCE)
    categories = reference_categories(cells)
    decisive = decisive_cells(cells, categories)
    shares = Counter(categories[c.key] for c in decisive)
    assert shares["FAIL"] >= 6 and shares["DEGRADE"] >= 6 and shares["FINE"] >= 4
    for prop in ("zero_centered", "bounded", "center_sensitive", "monotonic"):
        assert any(c.prop == prop and categories[c.key] != "FINE" for c in decisive), prop
    table = calibration_table(cells, cells="decisive")
    assert 18 <= table["candidate_id"].nunique() <= 28  # runs per seed, LayerNorm included
    assert "layernorm" in set(table["candidate_id"])
    everything = calibration_table(cells, cells="all")
    assert int(everything["scored"].sum()) == 123
    # cells that train one function share one run; the template has no s, as in the paper
    assert everything["candidate_id"].nunique() < 123
    assert set(everything[everything["kind"] == "candidate"]["shift"]) == {"none"}


# --- the proxy side and the scores --------------------------------------------------------------


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


@pytest.fixture(scope="module")
def local_ray():
    ray.init(address="local", num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield
    ray.shutdown()


QUICK = ("--budget", "quick", "--recipe", "max_steps=3", "--device", "cpu", "--no-progress")


@pytest.mark.slow  # calibrate through the CLI at the quick budget: about 50 s
@pytest.mark.ci  # a study end to end (the calibration study: its table, its run, its report)
def test_calibrate_end_to_end(
    local_ray: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "cal"
    assert main(["calibrate", "--task", "mnist1d", *QUICK, "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "# Calibration of mnist1d" in printed and "zero-cost: spread" in printed
    figures = json.loads((out / "calibration.json").read_text())
    for key in ("task", "protocol", "recipe", "cells", "agreement", "kappa", "spearman"):
        assert key in figures
    assert figures["task"] == "mnist1d" and figures["recipe"] == ["max_steps=3"]
    assert figures["seconds"] > 0 and figures["scored_cells"] == 25
    assert set(figures["per_property"]) == {
        "zero_centered",
        "bounded",
        "center_sensitive",
        "monotonic",
    }
    assert 0 <= figures["agreement"] <= 1 and figures["not_measured"] == 0
    assert sum(sum(row.values()) for row in figures["confusion"].values()) == 25
    assert {"spread", "slope"} <= set(figures["zero_cost"])
    assert (out / "plots" / "calibration.png").stat().st_size > 0
    # every run trained max_steps=3 steps, two seeds per run
    import pandas as pd

    trials = pd.read_parquet(out / "trials.parquet")
    assert set(trials["steps"]) == {3} and set(trials["seed"]) == {0, 1}
    # a finished calibration resumes to nothing and rewrites the same figures
    assert main(["calibrate", "--resume", str(out), "--no-progress"]) == 0
    again = json.loads((out / "calibration.json").read_text())
    assert again["agreement"] == figures["agreement"]
    # the same directory is never overwritten by a new calibration
    assert main(["calibrate", "--task", "mnist1d", *QUICK, "--out", str(out)]) == 2


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["--task", "mnist1d", "--seeds", "1"], "at least 2 seeds"),
        (["--task", "mnsit1d"], "did you mean 'mnist1d'"),
        (["--task", "mnist1d", "--recipe", "lrr=1"], "did you mean 'lr'"),
        (["--task", "mnist1d", "--recipe", "lr=0"], "recipe lr must be a number > 0"),
        (["--task", "mnist1d", "--degrade-points", "-1"], "must be a number > 0"),
        (["--task", "mnist1d", "--reference", "/nonexistent.csv"], "does not exist"),
        ([], "give a task"),
    ],
)
def test_calibrate_refuses_bad_input_in_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], args: list[str], fragment: str
) -> None:
    assert main(["calibrate", *args, "--out", str(tmp_path / "c"), "--no-progress"]) == 2
    err = capsys.readouterr().err.strip()
    assert fragment in err and len(err.splitlines()) == 1
    assert not (tmp_path / "c").exists()


def test_sweep_summary_over_the_ladder() -> None:
    import pandas as pd

    from search.driver import LR_LADDER, sweep_summary

    table = apply_protocol(
        pd.DataFrame({"candidate_id": ["erf"], "name": ["erf"], "expression": ["erf(x)"]}),
        "lr-sweep",
    )
    assert list(table["lr_scale"]) == list(LR_LADDER) and set(table["sweep_of"]) == {"erf"}
    values = [0.5, 0.7, 0.8, None, None]  # the two largest rates diverged
    trials = pd.DataFrame(
        {
            "number": range(5),
            "candidate_id": list(table["candidate_id"]),
            "seed": [0] * 5,
            "state": ["COMPLETE"] * 5,
            "value": values,
            "diverged": [False, False, False, True, True],
        }
    )
    row = sweep_summary(trials, table, untrained=0.1, direction="maximize").iloc[0]
    assert row["best"] == 0.8 and row["best_scale"] == 1.0 and row["largest_stable"] == 1.0
    gaps = [0.3, 0.1, 0.0, 0.7, 0.7]
    assert row["sensitivity"] == pytest.approx(sum(gaps) / 5)
    assert row["ladder_mean"] == pytest.approx((0.5 + 0.7 + 0.8 + 0.1 + 0.1) / 5)
    # a candidate missing a rung is not summarised yet
    partial = sweep_summary(trials.iloc[:4], table, untrained=0.1, direction="maximize")
    assert partial.empty


@pytest.mark.slow
def test_calibrate_with_the_lr_sweep_protocol(
    local_ray: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import pandas as pd

    reference = write(tmp_path, "T,monotonic,erf,plain,,80.0\nT,bounded,x,plain,,\n")
    out = tmp_path / "sweep"
    args = ["calibrate", "--task", "mnist1d", "--reference", str(reference), "--cells", "all"]
    args += ["--protocol", "lr-sweep", "--budget", "quick", "--recipe", "max_steps=2"]
    assert main([*args, "--device", "cpu", "--no-progress", "--out", str(out)]) == 0
    trials = pd.read_parquet(out / "trials.parquet")
    # LayerNorm and two functions, each at five rates and two seeds: one trial each
    assert len(trials) == 3 * 5 * 2
    assert trials.groupby(["candidate_id", "seed"]).size().eq(1).all()
    assert {c.split("@")[1] for c in trials["candidate_id"]} == {
        "lr×0.25",
        "lr×0.5",
        "lr×1",
        "lr×2",
        "lr×4",
    }
    figures = json.loads((out / "calibration.json").read_text())
    assert figures["protocol"] == "lr-sweep" and figures["scored_cells"] == 2
    assert figures["not_measured"] == 0


def test_calibrate_scores_a_committed_property_study_without_training(tmp_path: Path) -> None:
    study = Path(__file__).parents[2] / "results" / "paper-properties-digits-dit"
    assert main(["calibrate", "--study", str(study), "--out", str(tmp_path)]) == 0
    figures = json.loads((tmp_path / "calibration.json").read_text())
    assert figures["scored_cells"] == 123 and figures["not_measured"] == 0
    assert figures["seeds"] == 3 and figures["task"] == "digits-dit"
    # the zero-cost predictors are scored on the same cells
    assert figures["zero_cost"]["spread"]["cells"] == 123
    # and so is the proxy's effect cut at the reference's shares, like with like
    cut = figures["by_shares"]
    predicted = {b: sum(row[b] for row in cut["confusion"].values()) for b in ("FAIL", "DEGRADE")}
    reference = {a: sum(cut["confusion"][a].values()) for a in ("FAIL", "DEGRADE")}
    assert cut["cells"] == 123 and predicted == reference == {"FAIL": 22, "DEGRADE": 23}
    assert cut["spearman"] == figures["spearman"] and cut["kappa"] != figures["kappa"]
    assert "cut at the reference's shares" in figures["verdict"]
    worst = min(figures["cell_results"], key=lambda r: r["proxy_effect"])
    assert worst["proxy_by_shares"] == "FAIL"
    # the verdict's κ difference is that pair's, with an interval around it
    gap = figures["kappa_gap"]
    best = figures["zero_cost"][figures["best_zero_cost"]]
    assert gap["difference"] == pytest.approx(cut["kappa"] - best["kappa"])
    assert gap["low"] < gap["difference"] < gap["high"]
    # regenerated from the same study, the plot is the same file (no date, fixed ids)
    assert main(["calibrate", "--study", str(study), "--out", str(tmp_path / "again")]) == 0
    svg = Path("plots") / "calibration.svg"
    assert (tmp_path / svg).read_bytes() == (tmp_path / "again" / svg).read_bytes()
    # a search is not a property study
    catalog = study.parent / "paper-catalog-digits-dit"
    assert main(["calibrate", "--study", str(catalog), "--out", str(tmp_path / "c")]) == 2


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
