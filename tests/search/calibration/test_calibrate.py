"""`derf-search calibrate` end to end with real Ray and SQLite: at the quick budget, with the
lr-sweep protocol, refusals in one line, and a committed property study scored without
training."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
import ray

from search.cli import main
from search.driver import apply_protocol

# --- the reference side ------------------------------------------------------------------------


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
    write_reference: Callable[..., Path],
    local_ray: None,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    import pandas as pd

    reference = write_reference("T,monotonic,erf,plain,,80.0\nT,bounded,x,plain,,\n")
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
    study = Path(__file__).parents[3] / "results" / "paper-properties-digits-dit"
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
