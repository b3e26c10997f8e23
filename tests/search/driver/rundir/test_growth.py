"""Growth curves: recorded during training, written to curves.parquet, summarised per trial."""

from __future__ import annotations

import math

import pandas as pd
import pytest
import torch
from torch import nn

from evaluators import SIGNALS, Budget, GrowthRecorder, get_task, recording_steps, train
from evaluators._tasks._blocks import Block
from search.driver import (
    CURVE_COLUMNS,
    GROWTH_PREFIX,
    LADDER_WIDTHS,
    growth_summary,
    load_curves,
    open_studies,
    read_curves,
    run_search,
)
from tests.runs import cli, embedded_ray, short_run


@pytest.fixture(scope="module")
def curved_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("growth") / "run"
    gen = embedded_ray()
    next(gen)
    try:
        run_search(short_run(out, protocol="ladder"), progress=False, max_steps=6)
    finally:
        next(gen, None)
    return out


def test_every_training_records_every_signal_at_log_spaced_steps() -> None:
    result = train(get_task("mnist1d"), "erf", budget=Budget(epochs=1, max_steps=12), device="cpu")
    rows = pd.DataFrame(result.growth, columns=["step", "signal", "layer", "value"])
    assert set(rows["signal"]) == set(SIGNALS)
    assert sorted(rows["step"].unique()) == recording_steps(12)
    per_layer = rows[rows["step"] == 12].groupby("signal")["layer"].nunique()
    # four blocks: an attention layer and a residual output each; two norms a block + the last
    assert per_layer["attention_logit"] == 4 and per_layer["residual_rms"] == 4
    assert per_layer["norm_input"] == per_layer["norm_output"] == 9
    assert per_layer["grad_norm"] == 1
    assert rows["value"].map(math.isfinite).all()


def test_the_recorder_measures_what_it_says_and_leaves_no_hook() -> None:
    torch.manual_seed(0)
    block = Block(8, heads=2, norm=nn.LayerNorm, causal=True)
    model = nn.Sequential()
    model.blocks = nn.ModuleList([block])  # the recorder finds residual blocks here
    x = torch.randn(2, 5, 8) * 3

    def forward(inputs: torch.Tensor) -> torch.Tensor:
        return model.blocks[0](inputs)

    def hooked() -> bool:
        return any(m._forward_pre_hooks or m._forward_hooks for m in model.modules())

    recorder = GrowthRecorder(model, steps=[1])
    assert not hooked()  # hooks only for a recorded step's forward pass: the fast path otherwise
    with recorder.observing(1):
        assert hooked()
        out = forward(x)
        # nested: refused, the outer pass's hooks kept
        with pytest.raises(RuntimeError, match="one forward pass at a time"), recorder.observing(1):
            pass
        assert hooked()
    with recorder.observing(2):  # not a recorded step
        assert not hooked()
        forward(x)
    rows = {(r["signal"], r["layer"]): r["value"] for r in recorder.rows()}
    assert {r["step"] for r in recorder.rows()} == {1}
    assert rows[("norm_input", "blocks.0.norm1")] == pytest.approx(float(x.abs().max()))
    normed = block.norm1(x).detach()  # LayerNorm: what attention receives, about unit size
    assert rows[("norm_output", "blocks.0.norm1")] == pytest.approx(float(normed.abs().max()))
    assert rows[("norm_output", "blocks.0.norm1")] < rows[("norm_input", "blocks.0.norm1")]
    assert rows[("residual_rms", "blocks.0")] == pytest.approx(
        float(out.detach().pow(2).mean().sqrt())
    )
    # a causal first query has one key: the entropy is over the queries that have a choice
    assert 0 < rows[("attention_entropy", "blocks.0.attn")] <= math.log(5)
    recorder.close()
    assert not hooked()


def test_the_update_ratio_and_adams_ratio_come_from_the_step() -> None:
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(3, 2))
    optimizer = torch.optim.AdamW(model.parameters(), lr=0.1, weight_decay=0.0)
    recorder = GrowthRecorder(model, steps=[1, 2], optimizer=optimizer)
    for step in (1, 2):
        before = [p.detach().clone() for p in model.parameters()]
        optimizer.zero_grad()
        model(torch.randn(4, 3)).pow(2).sum().backward()
        grads = [p.grad.clone() for p in model.parameters()]
        recorder.gradients(step)
        optimizer.step()
        recorder.stepped(step)
        change = torch.cat(
            [(p.detach() - b).flatten() for p, b in zip(model.parameters(), before, strict=True)]
        )
        expected = float(change.norm() / torch.cat([b.flatten() for b in before]).norm())
        got = {(r["step"], r["signal"]): r["value"] for r in recorder.rows()}
        assert got[(step, "update_ratio")] == pytest.approx(expected, rel=1e-5)
        assert got[(step, "grad_norm")] == pytest.approx(
            float(torch.cat([g.flatten() for g in grads]).norm()), rel=1e-5
        )
    # Adam has a second moment to compare with from the second step on
    assert (1, "adam_ratio") not in got and got[(2, "adam_ratio")] > 0


def test_curves_are_written_and_read_back(curved_run) -> None:
    curves = read_curves(curved_run)
    assert tuple(curves.columns) == CURVE_COLUMNS
    assert curves["number"].nunique() == 15 and set(curves["signal"]) == set(SIGNALS)
    assert curves.equals(pd.DataFrame(load_curves(open_studies(curved_run))))
    trials = pd.read_parquet(curved_run / "trials.parquet")
    for trial in trials.to_dict("records"):
        own = curves[curves["number"] == trial["number"]]
        rows = own[["step", "signal", "layer", "value"]].values.tolist()
        summary = growth_summary(rows)
        assert summary["grad_norm_last"] == trial[GROWTH_PREFIX + "grad_norm_last"]
        peak = own[own["signal"] == "attention_logit"]["value"].max()
        assert trial[GROWTH_PREFIX + "attention_logit_peak"] == peak


def test_growth_summary_combines_layers_and_fits_the_later_half() -> None:
    rows = [
        [s, "residual_rms", f"blocks.{i}", (i + 1) * s**0.25] for s in (1, 2, 4, 8) for i in (0, 1)
    ]
    rows += [[s, "attention_entropy", f"a.{i}", 2.0 - i / s] for s in (1, 2, 4, 8) for i in (0, 1)]
    summary = growth_summary(rows)
    assert summary["residual_rms_last"] == pytest.approx(2 * 8**0.25)
    assert summary["residual_rms_slope"] == pytest.approx(0.25)
    assert summary["attention_entropy_last"] == pytest.approx(2.0 - 1 / 8)  # the least layer
    assert summary["attention_entropy_peak"] == pytest.approx(1.0)  # the least over steps
    assert math.isnan(growth_summary([[1, "grad_norm", "", 1.0]])["grad_norm_slope"])
    # a study stores nan as null and inf as text: neither is a point of a curve
    stored = [[1, "grad_norm", "", 2.0], [2, "grad_norm", "", None], [4, "grad_norm", "", "inf"]]
    assert growth_summary(stored)["grad_norm_last"] == 2.0


def test_evaluate_plots_the_curves_and_refuses_a_bad_path(tmp_path) -> None:
    picture = tmp_path / "curves.png"
    done = cli(
        "evaluate",
        "erf",
        "--task",
        "mnist1d",
        "--budget",
        "quick",
        "--recipe",
        "max_steps=4",
        "--curves",
        str(picture),
        "--no-progress",
    )
    assert done.returncode == 0, done.stderr
    assert picture.stat().st_size > 1000 and picture.with_suffix(".svg").is_file()
    for bad, message in (
        (str(tmp_path), "takes a .png file"),
        (str(tmp_path / "missing" / "c.png"), "does not exist"),
        (str(tmp_path / "c.jpg"), "takes a .png file"),
    ):
        done = cli("evaluate", "erf", "--task", "mnist1d", "--curves", bad)
        assert done.returncode == 2 and message in done.stderr
        assert len(done.stderr.strip().splitlines()) == 1


def test_a_ladder_run_trains_each_width_for_twice_the_steps(curved_run) -> None:
    trials = pd.read_parquet(curved_run / "trials.parquet")
    trials["width"] = trials["candidate_id"].str.extract(r"@w(\d+)$")[0].astype(int)
    assert sorted(trials["width"].unique()) == list(LADDER_WIDTHS)
    assert set(trials["steps"]) == {12}  # the cap of 6 steps, at the ladder's horizon of 2
    assert set(trials["total_steps"]) == {12}
    sizes = trials[trials["candidate_id"].str.startswith("erf@")].sort_values("width")
    assert sizes["parameters"].is_monotonic_increasing and sizes["parameters"].nunique() == 3
