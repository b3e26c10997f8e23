"""The built-in studies, end to end at the quick budget, with real Ray and SQLite."""

from __future__ import annotations

import pandas as pd
import pytest
import ray

from candidates import Candidate, check
from search.cli import main
from search.studies import study_rows, study_table

QUICK = ("--seeds", "1", "--budget", "quick", "--device", "cpu", "--no-progress")


@pytest.fixture(scope="module", autouse=True)
def local_ray():
    ray.init(address="local", num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield
    ray.shutdown()


def test_property_study_rows_follow_the_paper():
    rows = {r.key: r for r in study_rows("properties")}
    assert rows["hshift:erf:0.5"].expression == "erf((x + 0.5))"
    assert rows["vshift:tanh:-1"].expression == "tanh(x) + -1"
    assert rows["clip:asinh:0.8"].expression == "clip(asinh(x), -0.8, 0.8)"
    assert rows["mix:isru:0.1"].expression == "0.9*x/sqrt(x**2 + 1) + 0.1*x"
    assert {r.shift for r in rows.values() if r.key not in ("layernorm",)} == {"none"}
    # the flattened functions: 0 on [-λ, λ], branches shifted outward, continuous
    flat = Candidate.from_text(rows["centre:erf:1"].expression).numpy()
    assert flat(0.9) == 0 and flat(-1.0) == 0
    assert abs(flat(1.5) - Candidate.from_text("erf(x)").numpy()(0.5)) < 1e-12
    assert (
        check(rows["centre:erf:1"].expression, symbolic=False)
        .result.verdicts["center_sensitive"]
        .passed
        is False
    )
    # each property group breaks the property it is named after, except at λ = 0
    table = study_table("properties")
    shifted = table[table["group"].str.startswith("zero") & (table["lam"] != 0)]
    assert not shifted["zero_centered"].any()
    assert table.loc[table["row"] == "mono:sin(x)", "monotonic"].item() is False


def test_catalog_study_rows():
    rows = {r.key: r for r in study_rows("catalog")}
    assert len([r for r in rows.values() if r.group == "function search"]) == 19
    assert rows["noshift:satursin"].shift == "none" and rows["vector:arctan"].shift == "vector"
    assert rows["tanh1205"].expression == "tanh(1.205*x)"
    # the ablations' variants keep names of their own in plots and the leaderboard
    names = study_table("catalog").set_index("row")["name"]
    assert names["erf"] == "erf" and names["noshift:erf"] == "erf (no s)"
    assert names["vector:erf"] == "erf (per-channel s)"
    assert names.is_unique
    with pytest.raises(ValueError, match="did you mean 'catalog'"):
        study_rows("catalg")


@pytest.mark.slow  # ~30 trainings: about 2 minutes on 2 cores
def test_catalog_study_end_to_end(tmp_path, capsys):
    out = tmp_path / "catalog"
    assert main(["study", "catalog", "--task", "digits-vit", *QUICK, "--out", str(out)]) == 0
    report = (out / "report.md").read_text()
    assert "### function search" in report and "#### ablation: without s" in report
    assert "tanh(1.205x)" in report
    trials = pd.read_parquet(out / "trials.parquet")
    # 29 rows; tanh without s is DyT, one run for both
    assert len(trials) == 28 and set(trials["state"]) == {"COMPLETE"}
    assert {"layernorm", "rmsnorm", "dyt", "erf", "noshift:erf", "vector:erf"} <= set(
        trials["candidate_id"]
    )
    for line in report.splitlines():
        if line.startswith("| 1 |"):
            assert "(n=1)" not in line and "." in line  # a measured value in the first row
    assert (out / "plots" / "leaderboard.png").exists()
    assert "report:" in capsys.readouterr().out


@pytest.mark.slow  # ~100 trainings: about 5 minutes on 2 cores
def test_property_study_end_to_end(tmp_path):
    out = tmp_path / "properties"
    assert main(["study", "properties", "--task", "mnist1d", *QUICK, "--out", str(out)]) == 0
    trials = pd.read_parquet(out / "trials.parquet")
    # one run per distinct (function, shift): λ = 0 rows share their base function's run
    assert len(trials) == study_table("properties")["candidate_id"].nunique()
    report = (out / "report.md").read_text()
    for heading in (
        "zero-centredness: f(αx + λ)",
        "zero-centredness: f(αx) + λ",
        "boundedness: clip(f, −λ, λ)",
        "boundedness: (1−λ)·f + λ·x",
        "boundedness: unclipped growth",
        "centre sensitivity",
        "monotonicity",
    ):
        assert f"### {heading}" in report
    erf_row = next(line for line in report.splitlines() if line.startswith("| erf |"))
    assert erf_row.count("|") == 11  # function + 9 values of λ
    assert "✗" in erf_row and "✓" in erf_row
    assert (out / "plots" / "study-lambda.png").stat().st_size > 1000
    assert main(["study", "--resume", str(out), "--no-progress"]) == 0  # nothing left to do
    assert len(pd.read_parquet(out / "trials.parquet")) == len(trials)


@pytest.mark.parametrize(("direction", "edge"), [("maximize", 0.0), ("minimize", 1.0)])
def test_a_lambda_where_every_seed_diverged_sits_on_the_worst_edge(direction, edge):
    from search.reports import lambda_figure

    rows = pd.DataFrame(
        {
            "group": ["g"] * 3,
            "lam": [0.0, 1.0, 2.0],
            "function": ["erf"] * 3,
            "candidate_id": ["a", "b", "c"],
        }
    )
    stats = {
        "a": {"mean": 0.30, "std": 0.01, "n": 3},
        "b": {"mean": 0.25, "std": 0.01, "n": 3},
        "c": {"n": 0, "diverged": 3},
    }
    fig = lambda_figure(rows, stats, "t", "loss", direction)
    ax = fig.axes[0]
    crosses = [line for line in ax.lines if line.get_marker() == "x"]
    assert len(crosses) == 1
    assert list(crosses[0].get_xdata()) == [2]  # the third λ category
    # y in axes coordinates: the bottom (0) or the top (1) of the panel, whatever the metric's
    # values; at y = 0 in data coordinates a lower-is-better metric would read as the best
    assert list(crosses[0].get_ydata()) == [edge]
    assert crosses[0].get_transform() == ax.get_xaxis_transform()
    assert ("bottom" if direction == "maximize" else "top") in ax.get_xlabel()
    assert ax.get_ylabel() == f"loss ({'higher' if direction == 'maximize' else 'lower'} is better)"
