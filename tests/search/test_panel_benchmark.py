"""The sanity panel's table and the layer/task benchmarks."""

from __future__ import annotations

import math
from dataclasses import replace
from pathlib import Path

import pytest
import ray
import torch

from candidates import UserError
from evaluators import apply_recipe, get_task, make_norm, train
from search.bench import benchmark_layer
from search.cli import main
from search.studies import PANEL, panel_markdown, run_panel


def _rows(values: dict[str, list[float]]) -> list[dict[str, object]]:
    rows: list[dict[str, object]] = []
    for candidate, _ in PANEL:
        for seed, value in enumerate(values.get(candidate, [0.9, 0.91, 0.92])):
            rows.append(
                {
                    "task": "t",
                    "candidate": candidate,
                    "seed": seed,
                    "value": value,
                    "diverged": math.isnan(value),
                    "seconds": 1.0,
                    "parameters": 10,
                    "metric": "accuracy",
                    "direction": "maximize",
                }
            )
    return rows


def test_panel_separates_only_beyond_seed_noise() -> None:
    text = panel_markdown(
        _rows(
            {
                "x": [0.5, 0.52, 0.51],
                "sin(x)": [0.9, 0.93, 0.91],
                "erf(x) + 1": [math.nan, math.nan, math.nan],
            }
        ),
        seeds=3,
        budget="quick",
    )
    line = {row.split("|")[1].strip(): row for row in text.splitlines() if row.startswith("| ")}
    assert "worse" in line["x (unbounded)"]
    assert "not separated" in line["sin(x) (not monotonic)"]
    assert "3/3" in line["erf(x) + 1 (not zero-centred)"]
    assert "### t: accuracy (higher is better)" in text


@pytest.mark.slow  # the panel on Ray: about 20 s
def test_panel_runs_on_ray_workers_with_its_recipe() -> None:
    recipe = {"lr": 1e-2, "depth": 2}
    rows = run_panel(
        ["mnist1d"], seeds=1, budget="quick", workers=2, recipe=recipe, functions=["x"], max_steps=2
    )
    assert not ray.is_initialized()  # the panel started Ray, so it stopped it
    assert sorted((r["task"], r["candidate"], r["seed"]) for r in rows) == [
        ("mnist1d", "erf", 0),
        ("mnist1d", "x", 0),
    ]
    columns = ["task", "candidate", "seed", "value", "diverged", "seconds", "parameters"]
    assert all(list(r) == [*columns, "metric", "direction"] for r in rows)
    # The recipe reached the workers: the same run here, one thread as a worker has, agrees.
    task, plan = apply_recipe(get_task("mnist1d"), "quick", recipe)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        for row in rows:
            here = train(
                task, row["candidate"], seed=0, budget=replace(plan, max_steps=2), device="cpu"
            )
            assert (row["value"], row["parameters"]) == (here.value, here.parameters)
            assert (row["metric"], row["direction"]) == ("accuracy", "maximize")
    finally:
        torch.set_num_threads(threads)
    default = sum(p.numel() for p in get_task("mnist1d").build_model(make_norm_erf).parameters())
    assert max(r["parameters"] for r in rows) < default  # depth 2, not the task's 4 blocks


def test_panel_leaves_a_running_ray_up_and_refuses_workers_it_has_no_cpus_for() -> None:
    ray.init(address="local", num_cpus=1, include_dashboard=False, log_to_driver=False)
    try:
        with pytest.raises(UserError, match="--workers 2 asks for more CPUs than Ray has"):
            run_panel(["mnist1d"], seeds=1, budget="quick", workers=2, functions=["x"])
        assert ray.is_initialized()  # not the panel's to stop
    finally:
        ray.shutdown()


def test_layer_benchmark_reports_a_ratio() -> None:
    figures = benchmark_layer(shape=(2, 8, 16), repeats=3, compile_too=False)
    assert figures["eager_ratio"] > 0 and "compiled_ratio" not in figures


@pytest.mark.slow  # the panel on Ray: about 20 s
def test_panel_with_a_changed_recipe_runs_it_for_every_function(tmp_path: Path) -> None:
    out = tmp_path / "panel.md"
    args = ["sanity-panel", "--task", "mnist1d", "--seeds", "1", "--budget", "quick"]
    recipe = ["--lr", "1e-2", "--clip-grad", "none", "--warmup", "0.3", "--depth", "2"]
    code = main([*args, *recipe, "--functions", "x", "--workers", "1", "--out", str(out)])
    assert code == 0
    text = out.read_text()
    assert "lr = 0.01, clip_grad = None, warmup_fraction = 0.3, depth = 2" in text
    rows = {r.split("|")[1].strip(): r.split("|") for r in text.splitlines() if r.startswith("| ")}
    assert set(rows) - {"function"} == {"erf(x)", "x (unbounded)"}  # erf always runs
    # depth 2 reached both models: fewer parameters than the task's 4 blocks
    default = sum(p.numel() for p in get_task("mnist1d").build_model(make_norm_erf).parameters())
    for name in ("erf(x)", "x (unbounded)"):
        assert int(rows[name][5].strip().replace(",", "")) < default


def make_norm_erf(width: int) -> torch.nn.Module:
    return make_norm("erf", width)


def test_panel_refuses_bad_recipes_before_any_run(capsys: pytest.CaptureFixture[str]) -> None:
    base = ["sanity-panel", "--task", "mnist1d", "--seeds", "1", "--budget", "quick"]
    assert main([*base, "--clip-grad", "-1"]) == 2
    assert "'none' or a number > 0" in capsys.readouterr().err
    assert main([*base, "--functions", "erff"]) == 2
    assert "erf" in capsys.readouterr().err  # did you mean
