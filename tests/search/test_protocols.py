"""Protocols and objectives: an lr-sweep run's leaderboard, a row per candidate ranked by the
objective, on hand-made trials (the training path is covered by the calibrate tests)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from candidates import UserError
from search.cli import main
from search.driver import LR_LADDER, RunSettings, apply_protocol
from search.reports import leaderboard, leaderboard_markdown

# per candidate: its metric at each rate of the ladder (None: diverged)
LADDERS = {
    "steady": [0.80, 0.81, 0.82, 0.81, 0.80],  # the same everywhere: sensitivity near 0
    "peaky": [0.50, 0.70, 0.90, None, None],  # the best metric, lost at the larger rates
    "weak": [0.60, 0.61, 0.62, 0.60, 0.59],  # dominated by steady on both counts
}


def _sweep_run() -> tuple[pd.DataFrame, pd.DataFrame]:
    table = pd.DataFrame(
        {
            "candidate_id": list(LADDERS),
            "name": list(LADDERS),
            "kind": "candidate",
            "expression": ["erf(x)", "x", "tanh(x)"],
            "shift": "scalar",
            "alpha0": 0.5,
        }
    )
    table = apply_protocol(table, "lr-sweep")
    rows = []
    for seed in (0, 1):
        for key, values in LADDERS.items():
            for scale, value in zip(LR_LADDER, values, strict=True):
                rows.append(
                    {
                        "task": "mnist1d",
                        "number": len(rows),
                        "candidate_id": f"{key}@lr×{scale:g}",
                        "seed": seed,
                        "state": "COMPLETE",
                        "value": value,
                        "diverged": value is None,
                        "direction": "maximize",
                        "metric": "accuracy",
                        "train_loss_eval": 1.0,
                        "seconds": 1.0,
                        "alpha0": 0.5,
                        "curve": "[]",
                    }
                )
    return pd.DataFrame(rows), table


def test_each_objective_ranks_one_row_per_candidate() -> None:
    trials, table = _sweep_run()
    final = leaderboard(trials, table, objective="final")
    assert list(final["candidate_id"]) == ["peaky", "steady", "weak"]  # the ×1 rung: 0.9
    assert final.set_index("candidate_id").at["peaky", "mean"] == pytest.approx(0.90)
    best = leaderboard(trials, table, objective="best-lr").set_index("candidate_id")
    assert best.at["steady", "mean"] == pytest.approx(0.82)
    sensitive = leaderboard(trials, table, objective="lr-sensitivity")
    assert list(sensitive["candidate_id"]) == ["steady", "weak", "peaky"]
    assert sensitive["direction"].iloc[0] == "minimize"
    # peaky diverged at ×2 and ×4: counted at the untrained level (mnist1d: 0.089)
    peaky = sensitive.set_index("candidate_id").loc["peaky"]
    gaps = [0.4, 0.2, 0.0, 0.9 - 0.089, 0.9 - 0.089]
    assert peaky["mean"] == pytest.approx(sum(gaps) / 5, abs=1e-3)
    assert peaky["largest_stable_lr"] == 1.0
    assert best.at["steady", "largest_stable_lr"] == 4.0


def test_pareto_objective_ranks_the_front_first() -> None:
    trials, table = _sweep_run()
    board = leaderboard(trials, table, objective="pareto").set_index("candidate_id")
    assert bool(board.at["peaky", "pareto_front"]) and bool(board.at["steady", "pareto_front"])
    assert not bool(board.at["weak", "pareto_front"])
    assert board.at["weak", "rank"] == 3
    text = leaderboard_markdown(board.reset_index())
    assert "`peaky` ★" in text and "`weak` ★" not in text and "lr sensitivity" in text


def test_objectives_other_than_final_need_the_lr_sweep() -> None:
    with pytest.raises(UserError, match="use it with --protocol lr-sweep"):
        RunSettings(objective="pareto")
    with pytest.raises(UserError, match="did you mean 'best-lr'"):
        RunSettings(objective="bestlr", protocol="lr-sweep")
    with pytest.raises(UserError, match="leave out --alpha0"):
        RunSettings(protocol="gain-matched", alpha0=0.7)
    assert RunSettings(objective="pareto", protocol="lr-sweep").objective == "pareto"


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["evaluate", "erf", "--task", "mnist1d", "--protocol", "lr-sweep"], "evaluate trains one"),
        (["study", "properties", "--protocol", "lr-sweep"], "a study reports one run per cell"),
        (["run", "--protocol", "lr-sweep", "--pruner", "median"], "a pruner would leave"),
        (["run", "--protocol", "ladder", "--pruner", "median"], "a pruner would leave"),
        (["run", "--protocol", "ladder", "--recipe", "width=32"], "ladder sets width itself"),
        (
            ["run", "--protocol", "ladder", "--recipe", "schedule=cosine,width=8"],
            "ladder sets schedule, width itself: leave them out",
        ),
        (["evaluate", "erf", "--task", "mnist1d", "--protocol", "ladder"], "evaluate trains one"),
        (["study", "properties", "--protocol", "ladder"], "fit a scale ladder"),
        (["run", "--widths", "32,64,128"], "--widths are a ladder's: use them with --protocol"),
        (["run", "--protocol", "ladder", "--widths", "32,64"], "at least 3 widths to fit over"),
        (["run", "--protocol", "ladder", "--widths", "8,16,16,32"], "names a width twice"),
        (["run", "--protocol", "ladder", "--widths", "8,16,x"], "positive integers joined"),
        (["run", "--protocol", "ladder", "--widths", "0,16,32"], "positive integers joined"),
        (["run", "--protocol", "ladder", "--widths", "8,16,99999996"], "an integer from 1 to"),
        (["study", "properties", "--widths", "8,16,32"], "unrecognized arguments: --widths"),
        (
            ["run", "--protocol", "ladder", "--widths", "6,16,32"],
            "--widths 6,16,32: recipe width must be a multiple of task digits-dit's",
        ),
        (["evaluate", "erf", "--task", "mnist1d", "--widths", "8,16,32"], "unrecognized"),
        (
            [
                "evaluate",
                "erf",
                "--task",
                "mnist1d",
                "--protocol",
                "overfit",
                "--recipe",
                "epochs=2",
            ],
            "--protocol overfit sets epochs itself",
        ),
        (["run", "--protocol", "overfit", "--recipe", "train_subset=9"], "sets train_subset"),
        (["run", "--objective", "pareto"], "use it with --protocol lr-sweep"),
        (["evaluate", "erf", "--task", "mnist1d", "--recipe", "lr=1,lr=2"], "given twice"),
        (
            ["evaluate", "erf", "--task", "mnist1d", "--recipe", "precision=fp61"],
            "recipe precision must be one of fp32, bf16, fp16, not 'fp61'; did you mean 'fp16'?",
        ),
    ],
)
def test_protocols_refuse_what_they_cannot_do(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], args: list[str], fragment: str
) -> None:
    out = ["--out", str(tmp_path / "r")] if args[0] != "evaluate" else []
    assert main([*args, *out]) == 2
    err = capsys.readouterr().err.strip()
    assert fragment in err and len(err.splitlines()) == 1
    assert not (tmp_path / "r").exists()


def test_recipe_flag_is_repeatable_and_takes_commas() -> None:
    from search.cli import build_parser

    args = build_parser().parse_args(
        [
            "evaluate",
            "--task",
            "mnist1d",
            "--recipe",
            "lr=1e-2,depth=8",
            "--recipe",
            "epochs=2",
            "erf",
        ]
    )
    assert args.candidate == "erf"  # the positional is not swallowed by --recipe
    from search.cli import recipe_items

    assert recipe_items(args) == ("lr=1e-2", "depth=8", "epochs=2")


def test_recipe_help_names_every_precision(capsys: pytest.CaptureFixture[str]) -> None:
    from evaluators import PRECISIONS

    assert main(["evaluate", "--help"]) == 0
    assert f"precision={'|'.join(PRECISIONS)}" in "".join(capsys.readouterr().out.split())


def test_the_ladder_protocol_trains_every_function_at_each_width() -> None:
    from search.driver import LADDER_WIDTHS, rung_of

    table = pd.DataFrame({"candidate_id": ["erf", "layernorm"], "expression": ["erf(x)", None]})
    ladder = apply_protocol(table, "ladder")
    assert len(ladder) == 2 * len(LADDER_WIDTHS) and len(LADDER_WIDTHS) >= 3
    assert sorted(set(ladder["width"])) == sorted(LADDER_WIDTHS)
    assert rung_of(ladder)["layernorm@w32"] == "layernorm"
    assert set(ladder.groupby("ladder_of")["width"].nunique()) == {len(LADDER_WIDTHS)}
    # candidate by candidate: a run stopped early has whole ladders
    assert list(ladder["ladder_of"][: len(LADDER_WIDTHS)]) == ["erf"] * len(LADDER_WIDTHS)


def test_a_ladder_of_chosen_widths_is_recorded_and_read_at_its_widest_rung(
    tmp_path: Path,
) -> None:
    from search.driver import ladder_widths, rung_of
    from search.prediction import widest_rung

    widths = ladder_widths("256, 64,128")
    assert widths == (64, 128, 256)
    table = pd.DataFrame({"candidate_id": ["x", "layernorm"], "expression": ["x", None]})
    ladder = apply_protocol(table, "ladder", widths=widths)
    assert list(ladder["candidate_id"][:3]) == ["x@w64", "x@w128", "x@w256"]
    assert rung_of(ladder)["layernorm@w256"] == "layernorm"
    # the final metric a feature reads is the widest rung's, the nearest to full scale
    trials = pd.DataFrame({"candidate_id": ladder["candidate_id"], "value": range(6)})
    assert sorted(widest_rung(trials, ladder)["candidate_id"]) == ["layernorm@w256", "x@w256"]
    # recorded as given, read back the same, and kept in every resumed run's settings
    settings = RunSettings(protocol="ladder", widths="256, 64,128", out=str(tmp_path / "r"))
    settings.write(tmp_path / "config.toml", {"command": "run"})
    assert ladder_widths(RunSettings.read(tmp_path).widths) == widths
    # a task's own error is its own, not blamed on the widths
    with pytest.raises(UserError, match=r"^unknown task 'mnistt'"):
        RunSettings(protocol="ladder", widths="64,128,256", tasks=("mnistt",))


def test_a_predictor_is_refused_for_a_search_of_other_widths(tmp_path: Path) -> None:
    from search.prediction import check_predictor

    predictor = tmp_path / "predictor"
    predictor.mkdir()
    mine = RunSettings(study="prediction", protocol="ladder", widths="64,128,256")
    mine.write(predictor / "config.toml", {"command": "run"})
    search = {"objective": "predicted", "predictor": str(predictor), "shift": "none"}
    same = RunSettings(protocol="ladder", widths="256,128,64", **search)  # the same ladder
    assert check_predictor(same).widths == "64,128,256"
    with pytest.raises(UserError, match="trained with widths 64,128,256, this run with 16,32,64"):
        check_predictor(RunSettings(protocol="ladder", **search))


def test_the_overfit_protocol_trains_every_function_on_the_same_small_set() -> None:
    from evaluators import Budget, get_task, train
    from search.driver import OVERFIT_EPOCHS, OVERFIT_SUBSET, PROTOCOL_RECIPES

    assert dict(PROTOCOL_RECIPES["overfit"]) == {
        "train_subset": OVERFIT_SUBSET,
        "epochs": OVERFIT_EPOCHS,
    }
    task = get_task("digits-vit")
    small = Budget(epochs=3, batch_size=16, train_subset=32)
    runs = [train(task, f, seed=s, budget=small, device="cpu") for f, s in (("erf", 0), ("x", 1))]
    assert [r.steps for r in runs] == [6, 6]  # 32 examples, batches of 16, 3 epochs
    # the train loss in eval mode is over the subset: a model scored on 32 examples
    whole = train(task, "erf", seed=0, budget=Budget(epochs=1, batch_size=16, max_steps=6))
    assert whole.train_loss_eval != runs[0].train_loss_eval
