"""Prediction: growth fits, leak-free cross-validation, and `derf-search predict` end to end."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest

from candidates import Candidate, UserError
from search.calibration import PAPER_REFERENCE, read_reference
from search.cli import main
from search.prediction import (
    MIN_LEVELS,
    PREDICTION_COLUMNS,
    Dataset,
    cross_validate,
    dataset,
    fit_growth,
    parse_target,
    shuffled,
    zero_cost_table,
)
from search.prediction._cv import _folds
from tests.runs import SMALL_REFERENCE, cli


def test_a_planted_power_law_is_recovered_with_an_interval_that_holds_it() -> None:
    rng = np.random.default_rng(0)
    truth = {"width": 0.7, "steps": 0.35}
    points = [
        ({"width": w, "steps": s}, 2.0 * w**0.7 * s**0.35 * math.exp(rng.normal(0, 0.05)))
        for w in (16, 32, 64, 128)
        for s in (50, 100, 200, 400, 800)
    ]
    points.append(({"width": 64, "steps": 300}, 1e6))  # one wild point: the fit is robust
    fit = fit_growth(points, axes=("width", "steps"))
    for axis, exponent in truth.items():
        assert fit.exponents[axis] == pytest.approx(exponent, abs=0.03)
    target = {"width": 768, "steps": 94_000}
    low, high = fit.interval(target)
    planted = math.log(2.0 * 768**0.7 * 94_000**0.35)
    assert low < planted < high and high - low < 1.0


def test_a_grid_with_too_few_levels_is_refused_in_one_line() -> None:
    points = [({"width": w, "steps": s}, 1.0 + w + s) for w in (16, 32) for s in (1, 2, 4)]
    with pytest.raises(
        UserError,
        match=rf"at least {MIN_LEVELS} distinct values of width, but "
        r"the grid has 2 \(16, 32\)",
    ) as raised:
        fit_growth(points, axes=("width", "steps"))
    assert "\n" not in str(raised.value)


def _synthetic(n: int = 90) -> Dataset:
    rng = np.random.default_rng(1)
    signal = rng.normal(size=n)
    categories = np.where(signal < -0.6, "FAIL", np.where(signal < 0, "DEGRADE", "FINE"))
    keys = [f"c{i}" for i in range(n)]
    features = pd.DataFrame({"zc:signal": signal, "zc:noise": rng.normal(size=n)}, index=keys)
    return Dataset(
        features,
        pd.Series(categories, index=keys),
        pd.Series(np.where(categories == "FAIL", -np.inf, signal), index=keys),
        pd.Series([f"T{i % 3}" for i in range(n)], index=keys),
        pd.Series([f"r{i // 3}" for i in range(n)], index=keys),
        {k: [keys[(i + 3) % n]] for i, k in enumerate(keys)},  # compared with another table's
        pd.Series([f"f{i % 45}" for i in range(n)], index=keys),  # c0 and c45 train one function
    )


def test_a_held_out_table_never_reaches_the_fit() -> None:
    data = _synthetic()
    first = cross_validate(data, folds="table", feature_set="zero-cost")
    # the held-out table's labels rewritten: its predictions cannot change
    changed = _synthetic()
    held = changed.tables == "T0"
    changed.categories[held] = "FAIL"
    changed.effects[held] = -5.0
    second = cross_validate(changed, folds="table", feature_set="zero-cost")
    assert first.categories[held].equals(second.categories[held])
    assert np.allclose(first.effects[held], second.effects[held])
    for train, test in _folds(data, data.features.index, "table"):
        linked = {r for u in test for r in data.references[u]}
        assert not (set(train) & (set(test) | linked))
        assert not any(set(data.references[u]) & set(test) for u in train)
        assert not set(data.functions[train]) & set(data.functions[test])


def test_a_function_held_out_in_one_table_is_held_out_in_every_table() -> None:
    # The paper's T4 trains x, which T2 trains too (unclipped): T2's x never teaches T4's.
    cells = read_reference(PAPER_REFERENCE)
    from search.prediction import cell_units

    data = dataset(cells, zero_cost_table(cell_units(cells)))
    x = data.functions["T4:x:plain:"]
    assert (data.functions == x).sum() >= 2 and set(data.tables[data.functions == x]) >= {"T2"}
    for folds in ("table", "row"):
        for train, test in _folds(data, data.features.index, folds):
            assert not set(data.functions[train]) & set(data.functions[test])


def test_features_that_say_something_score_and_shuffled_labels_do_not() -> None:
    data = _synthetic()
    kappas = []  # agreement, in fact: of shuffled labels, near chance
    for seed in range(3):
        noise = shuffled(data, seed=seed)
        got = cross_validate(noise, folds="table", feature_set="zero-cost")
        agree = (got.categories == noise.categories).mean()
        kappas.append(agree)
    real = cross_validate(data, folds="table", feature_set="zero-cost")
    assert (real.categories == data.categories).mean() > 0.8
    assert max(kappas) < 0.6  # chance agreement with these shares is about 0.4


def test_runs_of_one_label_lend_each_other_reference_functions() -> None:
    # A function only the property study trained, compared with the anchors of the later
    # run of the same task and protocol (as a search's candidates are compared with its
    # predictor's anchors): its _rel is its own value less those anchors' mean.
    from search.prediction import (
        candidate_units,
        run_features,
        sources_features,
        trained_functions,
    )

    cells = read_reference(PAPER_REFERENCE)
    units = candidate_units({"u": "log(1 + x**2)*sign(x)"}, cells)
    study = "results/paper-properties-mnist1d-deep"
    decisive = "results/prediction-mnist1d-deep-decisive"
    target = {"width": 768, "steps": 94_000}
    wanted = {units[0].expression, *units[0].references}
    label, own = trained_functions(study, wanted, target=target)
    _, anchors = trained_functions(decisive, wanted, target=target)
    assert units[0].expression in own and units[0].expression not in anchors
    labels, got = sources_features([study, decisive], units, target=target)
    assert labels == [label, label]
    metric = own[units[0].expression]["metric"]
    mean = np.mean([anchors[r]["metric"] for r in units[0].references])
    assert got["u"][f"{label}:metric_rel"] == pytest.approx(metric - mean)
    _, alone = run_features(study, units, target=target)  # its own anchors: another number
    assert alone["u"][f"{label}:metric_rel"] != pytest.approx(metric - mean)


def test_the_paper_reference_as_a_data_set() -> None:
    cells = read_reference(PAPER_REFERENCE)
    from search.prediction import cell_units

    data = dataset(cells, zero_cost_table(cell_units(cells)))
    assert len(data.features) == 123 and data.features.columns.str.startswith("zc:").all()
    assert set(data.categories) == {"FAIL", "DEGRADE", "FINE"}
    assert data.tables.nunique() == 6
    # x grows linearly, erf not at all; a shift moves f(0)
    row = data.features.loc["T4:x:plain:"]
    assert row["zc:tail_exponent"] == pytest.approx(1.0, abs=0.01)
    assert data.features.loc["T1:erf:hshift:2", "zc:centre"] > 0.9


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["--target", "widht=3"], "not a target axis: 'widht'; did you mean 'width'?"),
        (["--target", "width=nan"], "target width must be a finite number ≥ 1"),
        (["--target", "width=７６８"], "target width must be a finite number ≥ 1"),
        (["--features", "zero"], "not a feature set: 'zero'; did you mean 'zero-cost'?"),
        (["--from", "."], "is not a run directory"),
        (["--task", "mnist1d", "--protocol", "ladder", "--recipe", "width=8"], "ladder sets"),
        (["--zero-cost", "--features", "trained"], "no features to predict from"),
        (["--task", "mnist1d", "--protocol", "lr-sweep"], "predict reads no lr-sweep runs"),
        (["--zero-cost", "--from", "results/overfit-digits-vit"], "leave it out with --from"),
        (["--zero-cost", "--workers", "2"], "with --from or --zero-cost nothing trains"),
        (["--zero-cost", "--widths", "8,16,32"], "--widths train a prediction run: leave"),
        (["--measures", "atention_logit"], "not a measure: 'atention_logit'; did you mean"),
        (["--zero-cost", "--measures", "metric"], "leave --measures out"),
        (
            ["--measures", "norm_output", "--from", "results/paper-properties-mnist1d"],
            "record none of the measures norm_output",
        ),
    ],
)
def test_bad_input_is_refused_in_one_line(tmp_path, capsys, args, fragment) -> None:
    out = tmp_path / "p"
    assert main(["predict", *args, "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert fragment in err and len(err.splitlines()) == 1
    assert not out.exists()


@pytest.mark.parametrize(
    ("recorded", "typed", "fragment"),
    [
        ({"target": "width=0"}, [], "config.toml: recorded target: target width must be"),
        ({"measures": "atention_logit"}, [], "config.toml: recorded measures: not a measure"),
        ({"sources": ["gone"]}, [], "config.toml: recorded sources: --from gone is not a run"),
        ({"candidates_dir": "gone"}, [], "config.toml: recorded candidates_dir: gone has no"),
        ({"expressions": ["x +* 2"]}, [], "config.toml: recorded expressions:"),
        ({"catalog": "nope"}, [], "recorded catalog 'nope': a prediction predicts the paper's"),
        ({"study": "properties"}, [], "is not a prediction run: resume it with the command"),
        # typed, it is the user's own option that is refused, and said so
        ({}, ["--target", "width=0"], "error: target width must be"),
        ({}, ["--from", "half"], "half: half has no candidates.parquet"),
    ],
)
def test_a_resume_refuses_a_request_that_no_longer_holds_before_it_trains(
    tmp_path, capsys, monkeypatch, recorded, typed, fragment
) -> None:
    from search.driver import RunSettings

    monkeypatch.chdir(tmp_path.parent)  # the recorded relative paths lead nowhere
    run = tmp_path / "run"
    run.mkdir()
    settings = {"study": "prediction", **recorded}
    RunSettings.from_dict(settings).write(run / "config.toml", {"command": "run"})
    before = (run / "config.toml").read_bytes()
    if typed[:1] == ["--from"]:  # a folder with a config.toml and nothing trained to read
        (tmp_path.parent / "half").mkdir(exist_ok=True)
        (tmp_path.parent / "half" / "config.toml").write_bytes(before)
    assert main(["predict", "--resume", str(run), *typed]) == 2
    err = capsys.readouterr().err.strip()
    assert fragment in err and len(err.splitlines()) == 1, err
    assert ("recorded" in err) == (not typed and "study" not in recorded)
    assert (run / "config.toml").read_bytes() == before and sorted(run.iterdir()) == [
        run / "config.toml"
    ]


def test_an_empty_resume_path_is_refused_not_read_as_a_new_run(
    tmp_path, monkeypatch, capsys
) -> None:
    monkeypatch.chdir(tmp_path)  # were it read as no --resume, what started would write here
    for command in (["predict", "--zero-cost"], ["run"], ["calibrate"]):
        assert main([*command, "--resume", ""]) == 2
        assert "--resume needs a run directory" in capsys.readouterr().err
    assert not any(tmp_path.iterdir())


def test_predict_without_training_writes_its_reports(tmp_path) -> None:
    reference = tmp_path / "small.csv"
    reference.write_text(SMALL_REFERENCE)
    out = tmp_path / "zero"
    done = cli(
        "predict",
        "--zero-cost",
        "--reference",
        str(reference),
        "--expr",
        "erf(x)",
        "--out",
        str(out),
    )
    assert done.returncode == 0, done.stderr
    assert "leave-one-table-out" in done.stdout
    table = pd.read_csv(out / "predictions.csv")
    assert tuple(table.columns) == PREDICTION_COLUMNS and len(table) == 11
    assert table["name"].iloc[-1] == "erf(x)"
    data = json.loads((out / "prediction.json").read_text())
    assert set(data["scores"]) == {"zero-cost"} and data["target"] == parse_target("").text()
    assert "features" not in data  # they are features.csv's: a row per row of predictions.csv
    features = pd.read_csv(out / "features.csv")
    assert list(features["name"]) == list(table["name"])
    assert list(features["expression"]) == list(table["expression"])
    descriptors = [c for c in features.columns if c.startswith("zc:")]
    assert (
        len(descriptors) == len(features.columns) - 2 and features[descriptors].notna().any().all()
    )
    # another folder of the user's is not written into
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("keep")
    done = cli(
        "predict", "--zero-cost", "--reference", str(reference), "--out", str(tmp_path / "mine")
    )
    assert done.returncode == 2 and "holds other files" in done.stderr
    assert sorted(p.name for p in (tmp_path / "mine").iterdir()) == ["notes.txt"]


def test_predict_trains_a_ladder_and_extrapolates_it(tmp_path) -> None:
    reference = tmp_path / "small.csv"
    reference.write_text(SMALL_REFERENCE)
    out = tmp_path / "run"
    done = cli(
        "predict",
        "--task",
        "mnist1d",
        "--protocol",
        "ladder",
        "--widths",
        "16,8,32",  # a ladder of its own: read at its widest rung, named by its widths
        "--budget",
        "quick",
        "--recipe",
        "max_steps=4",
        "--seeds",
        "1",
        "--reference",
        str(reference),
        "--expr",
        "x/(1 + abs(x))",
        "--out",
        str(out),
        "--no-progress",
        "--device",
        "cpu",
    )
    assert done.returncode == 0, done.stderr
    data = json.loads((out / "prediction.json").read_text())
    assert set(data["scores"]) == {"zero-cost", "trained", "all"}
    assert data["sources"] == ["mnist1d/ladder-w8-16-32"]
    # the shuffled-label check: several permutations, their mean, and the line that reads them
    from search.prediction import SHUFFLES

    assert len(data["shuffled_kappas"]) == SHUFFLES
    assert data["shuffled_kappa"] == pytest.approx(np.mean(data["shuffled_kappas"]))
    assert f"({SHUFFLES} permutations)" in (out / "prediction.md").read_text()
    table = pd.read_csv(out / "predictions.csv")
    assert set(table["name"].dropna()) >= {"x/(1 + abs(x))", "T4 x", "T6 sin(x)"}
    assert table.iloc[-1]["features"] == data["best"]  # the feature set of the best κ
    trained = pd.read_parquet(out / "trials.parquet")
    assert trained["candidate_id"].str.startswith("cefaa8630b2d@w").sum() == 3  # the candidate
    widths = pd.read_parquet(out / "candidates.parquet").groupby("ladder_of")["width"]
    assert set(map(frozenset, widths.unique())) == {frozenset({8, 16, 32})}
    assert table["predicted_category"].isin(["FAIL", "DEGRADE", "FINE"]).all()
    from search.calibration import read_reference as read
    from search.prediction import candidate_units, run_features

    units = candidate_units({"x": "x"}, read(reference))
    _, features = run_features(out, units, target={"width": 768, "steps": 94_000})
    row = features["x"]
    assert "mnist1d/ladder-w8-16-32:attention_logit_at_target" in row
    assert "mnist1d/ladder-w8-16-32:residual_rms_width_exponent_rel" in row
    # every trained feature belongs to exactly one measure, so --measures splits them cleanly
    from search.prediction import keep_measures, measure_names

    for name in row:
        owners = [m for m in measure_names() if keep_measures({"u": {name: 0.0}}, [m])["u"]]
        assert len(owners) == 1, (name, owners)
    assert (out / "plots" / "ladder-mnist1d-x_1_abs_x.png").stat().st_size > 1000  # the candidate's
    # the run resumes as a prediction run, here fitted again on one signal's features alone
    again = cli("predict", "--resume", str(out), "--measures", "attention_logit", "--no-progress")
    assert again.returncode == 0, again.stderr
    data = json.loads((out / "prediction.json").read_text())
    assert data["measures"] == ["attention_logit"]
    kept = [c for c in pd.read_csv(out / "features.csv").columns if "/" in c]
    assert kept and all(c.startswith("mnist1d/ladder-w8-16-32:attention_logit_") for c in kept)
    names = [name for name, _ in data["leaning"]["trained"]]
    assert names and all(n.startswith("mnist1d/ladder-w8-16-32:attention_logit_") for n in names)
    assert "measures attention_logit alone" in (out / "prediction.md").read_text()
    # the resume predicts what the run was started for: its --expr, which it did not retype
    assert "x/(1 + abs(x))" in set(pd.read_csv(out / "predictions.csv")["name"].dropna())
    from search.driver import RunSettings

    recorded = RunSettings.read(out)
    assert recorded.expressions == ("x/(1 + abs(x))",) and recorded.catalog is None
    assert recorded.widths == "16,8,32"
    assert recorded.measures is None  # what a resume types applies to that fit alone
    assert recorded.reference == str(reference.resolve())  # read from any folder
    # a function typed on a resume is not trained: with trained features alone it cannot be
    # predicted, and the report says so rather than leave its row out unsaid
    again = cli(
        "predict",
        "--resume",
        str(out),
        "--features",
        "trained",
        "--expr",
        "x/(1 + x**2)",
        "--no-progress",
    )
    assert again.returncode == 0, again.stderr
    assert "x/(1 + x**2)" not in set(pd.read_csv(out / "predictions.csv")["name"].dropna())
    assert "1 candidate(s) not predicted" in again.stdout and "x/(1 + x**2)" in again.stdout


@pytest.mark.slow  # two trainings and two predictor fits through the CLI: about 90 s
def test_a_search_ranked_by_its_predicted_full_scale_value(tmp_path) -> None:
    reference = tmp_path / "small.csv"
    reference.write_text(SMALL_REFERENCE)
    recipe = ["--task", "mnist1d", "--budget", "quick", "--recipe", "max_steps=4", "--seeds", "1"]
    quiet = ["--no-progress", "--device", "cpu"]
    predictor = tmp_path / "predictor"
    done = cli("predict", *recipe, "--reference", str(reference), "--out", str(predictor), *quiet)
    assert done.returncode == 0, done.stderr
    out = tmp_path / "search"
    search = [*recipe, "--shift", "none", "--objective", "predicted", *quiet]
    functions = ["--expr", "x/(1 + abs(x))", "--expr", "sin(x)"]
    # refused before anything trains: no predictor, a predictor of another budget, a shift
    for extra, fragment in [
        ([], "needs --predictor RUN_DIR"),
        (["--predictor", str(tmp_path)], "is not a run directory"),
    ]:
        bad = cli("run", *functions, *search, *extra, "--out", str(out))
        assert bad.returncode == 2 and fragment in bad.stderr, bad.stderr
        assert len(bad.stderr.strip().splitlines()) == 1 and not out.exists()
    other = [a if a != "max_steps=4" else "max_steps=5" for a in search]
    bad = cli("run", *functions, *other, "--predictor", str(predictor), "--out", str(out))
    assert bad.returncode == 2 and "was trained with recipe max_steps=4" in bad.stderr
    shifted = [a if a != "none" else "scalar" for a in search]
    bad = cli("run", *functions, *shifted, "--predictor", str(predictor), "--out", str(out))
    assert bad.returncode == 2 and "use --shift none" in bad.stderr and not out.exists()

    done = cli("run", *functions, *search, "--predictor", str(predictor), "--out", str(out))
    assert done.returncode == 0, done.stderr
    assert "predictor:" in done.stdout and "predicted (interval)" in done.stdout
    predicted = pd.read_csv(out / "predicted.csv")
    expressions = pd.read_parquet(out / "candidates.parquet").set_index("candidate_id")
    forms = {
        Candidate.from_text(e).sympy
        for e in expressions.loc[predicted["candidate_id"], "expression"]
    }
    assert {Candidate.from_text(e).sympy for e in ("x/(1 + abs(x))", "sin(x)")} <= forms
    board = pd.read_csv(out / "leaderboard.csv")
    ranked = board.dropna(subset=["predicted_value"])
    # ranked by the prediction, higher first; LayerNorm (no prediction) after every prediction
    assert list(ranked["rank"]) == list(range(1, len(ranked) + 1))
    assert ranked["predicted_value"].is_monotonic_decreasing
    assert (ranked["predicted_low"] <= ranked["predicted_value"]).all()
    # LayerNorm, and erf with s (the reference trains none): no prediction, ranked after
    for key in ("layernorm", "erf"):
        row = board.set_index("candidate_id").loc[key]
        assert math.isnan(row["predicted_value"]) and row["rank"] > len(ranked)
    assert (out / "prediction.md").is_file()
    # the leaderboard command shows the same ranking
    shown = cli("leaderboard", str(out), "--format", "csv")
    assert shown.returncode == 0 and "predicted_value" in shown.stdout.splitlines()[0]
