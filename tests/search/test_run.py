"""`derf-search run` with real Ray, real Optuna storages and real (short) trainings."""

from __future__ import annotations

import ast
import importlib.util
import json
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import optuna
import pandas as pd
import pytest
import torch

from candidates import CANDIDATE_COLUMNS, PROPERTIES, Candidate, UserError
from search import export_module, load_leaderboard
from search.driver import (
    GenerateSettings,
    RunSettings,
    StorageNotReady,
    TrialSpec,
    generate,
    load_trials,
    open_studies,
    read_candidates,
    run_search,
)
from search.reports import LEADERBOARD_COLUMNS, write_outputs
from tests.runs import embedded_ray, short_run

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module", autouse=True)
def local_ray():
    yield from embedded_ray()


def _settings(out: Path, **kw) -> RunSettings:
    return short_run(out, **kw)


def _states(out: Path) -> pd.DataFrame:
    return load_trials(open_studies(out))


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("finished") / "run"
    summary = run_search(_settings(out, seeds=2), progress=False, max_steps=3)
    write_outputs(out)  # what the command does after the driver returns
    return out, summary


def test_end_to_end_writes_the_run_directory(finished_run):
    out, summary = finished_run
    assert summary.finished == 10 and summary.failed == 0 and not summary.interrupted
    for name in (
        "config.toml",
        "candidates.parquet",
        "study.db",
        "trials.parquet",
        "leaderboard.csv",
        "leaderboard.parquet",
        "leaderboard.md",
    ):
        assert (out / name).is_file(), name
    for plot in ("leaderboard", "curves", "shapes", "properties"):
        assert (out / "plots" / f"{plot}.png").stat().st_size > 1000
        assert (out / "plots" / f"{plot}.svg").is_file()
    trials = pd.read_parquet(out / "trials.parquet")
    assert {
        "candidate_id",
        "task",
        "seed",
        "state",
        "value",
        "train_loss_eval",
        "seconds",
        "cpu_seconds",
        "curve",
        "diverged_step",
    } <= set(trials.columns)
    assert sorted(trials.groupby("candidate_id").size().tolist()) == [2] * 5
    assert set(trials["state"]) == {"COMPLETE"}
    assert sorted(trials["seed"].unique().tolist()) == [0, 1]
    board = load_leaderboard(out)
    assert set(board["candidate_id"]) == {"layernorm", "rmsnorm", "dyt", "erf", "cefaa8630b2d"}
    assert list(board["rank"]) == [1, 2, 3, 4, 5]
    assert tuple(board.columns) == LEADERBOARD_COLUMNS  # one row per (candidate, task)
    assert set(board["task"]) == {"digits-vit"} and set(board["metric"]) == {"accuracy"}
    ln = board.set_index("candidate_id").loc["layernorm"]
    assert ln["delta_layernorm"] == 0.0 and ln["n"] == 2 and ln["kind"] == "baseline"
    assert board.set_index("candidate_id").loc["cefaa8630b2d", "bounded"]
    assert board.set_index("candidate_id").loc["dyt", "shift"] == "none"
    # a function of the catalog goes by its name, whatever its spelling or source
    assert board.set_index("candidate_id").loc["cefaa8630b2d", "name"] == "smoothsign"
    assert set(board["group"]) <= set("abcde") and board["group"].iloc[0] == "a"
    assert board.set_index("candidate_id").loc["erf", "delta_erf"] == 0.0
    storage = f"sqlite:///{out / 'study.db'}"
    name = RunSettings.read(out).study_for("digits-vit")
    study = optuna.load_study(study_name=name, storage=storage)
    shown = {t.params["candidate"]: t.user_attrs for t in study.trials}
    assert shown["cefaa8630b2d"]["name"] == "smoothsign"  # what optuna-dashboard shows
    assert shown["cefaa8630b2d"]["expression"] == "x/(1 + abs(x))"
    assert shown["layernorm"]["name"] == "layernorm" and "expression" not in shown["layernorm"]
    erf_line = next(x for x in (out / "leaderboard.md").read_text().splitlines() if "`erf`" in x)
    assert erf_line.endswith("✓ ✓ ✓ ✓ |")  # the verdicts, also in a fresh run's file
    means = board["mean"].tolist()
    assert means == sorted(means, reverse=True)  # accuracy: higher ranks first
    assert RunSettings.read(out).with_out(out) == _settings(out, seeds=2)


@pytest.mark.slow  # a run on two workers: about 13 s
def test_the_progress_bar_counts_every_trial_in_flight(tmp_path, capfd):
    run_search(_settings(tmp_path / "run", expressions=()), progress=True, max_steps=2)
    shown = capfd.readouterr().err
    # two workers, four trials: both run at once, and the bar says so
    assert "running 2" in shown and "4/4" in shown


def test_a_diverging_candidate_is_a_result(tmp_path):
    out = tmp_path / "run"
    settings = _settings(out, expressions=("sinh(20*x)",), workers=1)
    summary = run_search(settings, progress=False, max_steps=3)  # it diverges at step 0
    write_outputs(out)
    assert summary.diverged == 1 and summary.failed == 0
    trials = _states(out).set_index("candidate_id")
    bad = trials.loc[Candidate.from_text("sinh(20*x)").id]
    assert bad["state"] == "COMPLETE" and bad["diverged"] and bad["diverged_step"] == 0
    board = load_leaderboard(out)
    last = board.iloc[-1]
    assert last["expression"] == "sinh(20*x)" and last["diverged"] == 1
    assert "diverged ×1" in (out / "leaderboard.md").read_text()


@pytest.mark.slow  # three worker deaths and their replacements: about 45 s
def test_a_killed_worker_retries_once_then_fails_with_its_reason(tmp_path):
    out = tmp_path / "run"
    killed: list[str] = []

    def kill(number: int, spec: TrialSpec, pid: int) -> None:
        # erf's worker dies on every try, rmsnorm's on its first only: half a second into
        # the trial, while it trains.
        if spec.candidate == "erf(x)" or (spec.candidate == "rmsnorm" and "rmsnorm" not in killed):
            killed.append(spec.candidate)
            threading.Timer(0.5, os.kill, (pid, signal.SIGKILL)).start()

    summary = run_search(_settings(out, expressions=()), progress=False, on_start=kill)
    assert killed.count("erf(x)") == 2 and killed.count("rmsnorm") == 1
    trials = _states(out).set_index("candidate_id")
    assert trials.loc["erf", "state"] == "FAIL"
    assert "worker process died" in trials.loc["erf", "fail_reason"]
    assert trials.loc["rmsnorm", "state"] == "COMPLETE" and trials.loc["rmsnorm", "attempts"] == 2
    assert set(trials.loc[["layernorm", "dyt"], "state"]) == {"COMPLETE"}
    assert summary.failed == 1 and summary.finished == 3


@pytest.mark.slow  # a run: about 14 s
def test_storage_url_puts_the_study_in_another_database(tmp_path):
    out = tmp_path / "run"
    url = f"sqlite:///{tmp_path / 'shared' / 'studies.db'}"
    (tmp_path / "shared").mkdir()
    run_search(_settings(out, storage=url, expressions=()), progress=False, max_steps=2)
    assert not (out / "study.db").exists()
    names = [s.study_name for s in optuna.get_all_study_summaries(url)]
    assert names == ["run#lease-0", "run:digits-vit"]  # the driver's lease, the task's study
    assert len(load_leaderboard(out)) == 4
    with sqlite3.connect(tmp_path / "shared" / "studies.db") as db:
        assert db.execute("select count(*) from trials").fetchone()[0] == 4


@pytest.mark.slow  # a run: about 15 s
def test_journal_file_storage(tmp_path):
    out = tmp_path / "run"
    journal = tmp_path / "study.log"
    run_search(_settings(out, storage=str(journal), expressions=()), progress=False, max_steps=2)
    assert journal.stat().st_size > 0 and not (out / "study.db").exists()
    assert len(load_leaderboard(out)) == 4


def test_a_reader_never_writes_to_a_storage_still_being_created(finished_run, tmp_path, capsys):
    from search.cli import main

    # A run directory caught the moment before its driver records the schema version.
    src, _ = finished_run
    out = tmp_path / "run"
    out.mkdir()
    for name in ("config.toml", "candidates.parquet"):
        (out / name).write_bytes((src / name).read_bytes())
    optuna.storages.RDBStorage(f"sqlite:///{out / 'study.db'}")
    with sqlite3.connect(out / "study.db") as db:
        db.execute("delete from alembic_version")
    with pytest.raises(StorageNotReady, match="still starting"):
        open_studies(out)
    assert main(["leaderboard", str(out)]) == 2
    assert "no study storage" in capsys.readouterr().err
    with sqlite3.connect(out / "study.db") as db:  # the driver's row is still its to write
        assert db.execute("select count(*) from alembic_version").fetchone()[0] == 0


@pytest.mark.slow  # 40 steps a trial under a pruner: about 45 s
def test_tpe_with_tuned_alpha_and_a_pruner(tmp_path):
    out = tmp_path / "run"
    settings = _settings(
        out,
        expressions=("isru", "arctan"),
        sampler="tpe",
        tune_alpha=True,
        pruner="hyperband",
        max_trials=6,
        tasks=("mnist1d",),
        budget="2",
    )
    summary = run_search(settings, progress=False, max_steps=40)
    trials = _states(out)
    assert summary.finished + summary.pruned == 6
    # the baselines are enqueued, so they run whatever TPE would pick
    assert {"layernorm", "rmsnorm", "dyt", "erf"} <= set(trials["candidate_id"])
    tuned = load_leaderboard(out).set_index("candidate_id")["best_alpha0"]
    assert tuned.dropna().between(0.05, 5.0).all() and tuned.notna().sum() >= 1
    assert pd.isna(tuned["layernorm"])  # a norm layer has no α to tune
    tuned = trials[trials["candidate_id"] != "layernorm"]["alpha0"].dropna()
    assert tuned.between(0.05, 5.0).all() and tuned.nunique() > 1
    assert trials["intermediate"].map(lambda s: len(json.loads(s))).max() >= 1


def test_settings_errors_are_clear():
    with pytest.raises(ValueError, match="did you mean 'hyperband'"):
        RunSettings(pruner="hyperbnd")
    with pytest.raises(ValueError, match="did you mean 'tpe'"):
        RunSettings(sampler="tep")
    with pytest.raises(ValueError, match="use --sampler random, tpe or guided"):
        RunSettings(tune_alpha=True)


def test_a_used_run_directory_is_refused(tmp_path):
    out = tmp_path / "run"
    run_search(_settings(out, expressions=()), progress=False, max_steps=1)
    with pytest.raises(ValueError, match="--resume"):
        run_search(_settings(out, expressions=()), progress=False, max_steps=1)


# --- the driver as a process: SIGKILL, Ctrl-C and --resume ------------------------------------


def _cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "search.cli", *args]


def _finished(out: Path) -> pd.DataFrame:
    if not (out / "study.db").exists():
        return pd.DataFrame()
    try:
        trials = load_trials(open_studies(out))
    except Exception:  # the study may not exist yet
        return pd.DataFrame()
    return trials[trials["state"].isin(["COMPLETE", "PRUNED"])] if len(trials) else trials


def _start(out: Path, *extra: str) -> subprocess.Popen[bytes]:
    args = _cli(
        "run",
        "--expr",
        "isru",
        "arctan",
        "smoothsign",
        "--task",
        "digits-vit",
        "--budget",
        "quick",
        "--seeds",
        "1",
        "--workers",
        "1",
        "--device",
        "cpu",
        "--no-progress",
        "--out",
        str(out),
        *extra,
    )
    return subprocess.Popen(
        args, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True
    )


def _wait_for(out: Path, n: int, proc: subprocess.Popen[bytes], limit: float = 240) -> None:
    deadline = time.time() + limit
    while len(_finished(out)) < n:
        assert proc.poll() is None, proc.communicate()
        assert time.time() < deadline
        time.sleep(0.5)


def _resume(out: Path) -> None:
    done = subprocess.run(
        _cli("run", "--resume", str(out), "--no-progress"),
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr


@pytest.mark.slow  # two driver processes and a resume: about 100 s
def test_resume_after_the_driver_is_killed(tmp_path):
    out = tmp_path / "run"
    proc = _start(out)
    _wait_for(out, 2, proc)
    from search.cli import main

    assert main(["leaderboard", str(out), "--format", "csv"]) == 0  # while the run goes on
    second = subprocess.run(
        _cli("run", "--resume", str(out), "--no-progress"),
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert second.returncode == 2 and len(second.stderr.strip().splitlines()) == 1
    assert f"pid {proc.pid} on host" in second.stderr  # one driver per run directory
    assert proc.poll() is None
    os.killpg(proc.pid, signal.SIGKILL)  # the driver and the Ray processes it started
    proc.wait()
    before = _finished(out)[["number", "candidate_id", "seed", "value"]]
    assert len(before) >= 2
    _resume(out)
    trials = load_trials(open_studies(out))
    finished = trials[trials["state"] == "COMPLETE"]
    # every candidate × seed exactly once, the earlier results untouched
    assert sorted(finished["candidate_id"]) == sorted(
        ["layernorm", "rmsnorm", "dyt", "erf", "c2685b425403", "c91dd0c0ea01", "cefaa8630b2d"]
    )
    kept = finished.set_index("number").loc[before["number"], "value"]
    assert kept.tolist() == before["value"].tolist()
    orphans = trials[trials["state"] == "FAIL"]
    assert orphans["retried"].all() and orphans["fail_reason"].str.contains("driver").all()
    assert "| 1 |" in (out / "leaderboard.md").read_text()


def test_a_guided_run_trains_each_candidate_once_per_seed(tmp_path):
    out = tmp_path / "run"
    expressions = ("isru", "arctan", "2*x/(1 + x**2)", "clip(x, -1, 1)", "sin(x)")
    summary = run_search(
        _settings(out, expressions=expressions, sampler="guided", max_trials=7),
        progress=False,
        max_steps=2,
    )
    finished = load_trials(open_studies(out))
    finished = finished[finished["state"] == "COMPLETE"]
    assert summary.finished == 7 == len(finished)
    assert finished["candidate_id"].is_unique  # none run twice (one seed)
    assert {"layernorm", "rmsnorm", "dyt", "erf"} <= set(finished["candidate_id"])


@pytest.mark.slow  # a grammar's enumeration, two driver processes and a resume: about 150 s
def test_a_guided_grammar_run_resumes_after_sigkill_losing_and_repeating_nothing(tmp_path):
    out = tmp_path / "run"
    proc = _start(
        out, "--grammar", "default", "--max-candidates", "6", "--sampler", "guided",
        "--max-trials", "9",
    )  # fmt: skip
    _wait_for(out, 5, proc, limit=400)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    before = _finished(out)[["number", "candidate_id", "seed", "value"]]
    _resume(out)
    trials = load_trials(open_studies(out))
    finished = trials[trials["state"] == "COMPLETE"]
    pairs = list(zip(finished["candidate_id"], finished["seed"], strict=True))
    assert len(pairs) == len(set(pairs)) == 9  # none lost, none repeated
    kept = finished.set_index("number").loc[before["number"], "value"]
    assert kept.tolist() == before["value"].tolist()


@pytest.mark.slow  # two driver processes and a resume: about 100 s
def test_ctrl_c_stops_cleanly_and_resume_finishes(tmp_path):
    out = tmp_path / "run"
    proc = _start(out)
    _wait_for(out, 1, proc)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err.decode()
    assert b"--resume" in err
    assert (out / "leaderboard.md").is_file()
    interrupted = load_trials(open_studies(out))
    assert "RUNNING" not in set(interrupted["state"])
    _resume(out)
    trials = load_trials(open_studies(out))
    assert trials[trials["state"] == "COMPLETE"]["candidate_id"].nunique() == 7
    assert trials[trials["state"] == "COMPLETE"]["candidate_id"].is_unique


# --- leaderboard, plot and export on a finished run -----------------------------------------


def test_leaderboard_command_formats(finished_run, capsys):
    from search.cli import main

    out, _ = finished_run
    assert main(["leaderboard", str(out), "--format", "csv", "--top", "3"]) == 0
    rows = capsys.readouterr().out.strip().splitlines()
    assert rows[0].startswith("rank,candidate_id") and len(rows) == 4
    assert main(["leaderboard", str(out), "--format", "json"]) == 0
    records = json.loads(capsys.readouterr().out)
    assert {r["candidate_id"] for r in records} >= {"layernorm", "dyt"}
    assert main(["leaderboard", str(out), "--format", "md", "--task", "digits-vit"]) == 0
    assert "| rank | candidate |" in capsys.readouterr().out
    assert main(["leaderboard", str(out), "--task", "digits-vt"]) == 2
    assert "did you mean 'digits-vit'" in capsys.readouterr().err
    assert main(["leaderboard", str(out)]) == 0  # the default: a table that fits a terminal
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split()[:3] == ["#", "candidate", "s"]
    assert max(map(len, lines)) <= 100 and any("smoothsign" in x for x in lines)
    assert lines[6].startswith("digits-vit: ") and "tie group" in lines[6]
    assert main(["leaderboard", str(out), "--format", "wide"]) == 0
    assert "digits-vit mean" in capsys.readouterr().out


def test_plot_command_rewrites_the_plots(finished_run, capsys):
    from search.cli import main

    out, _ = finished_run
    (out / "plots" / "curves.png").unlink()
    assert main(["plot", str(out)]) == 0
    assert (out / "plots" / "curves.png").stat().st_size > 1000
    assert "leaderboard.svg" in capsys.readouterr().out


def test_map_places_the_candidates_by_shape(finished_run, capsys):
    from candidates import shape_matrix
    from search.cli import main
    from search.reports import project

    out, _ = finished_run
    assert main(["map", str(out)]) == 0
    assert (out / "plots" / "map.png").stat().st_size > 1000
    assert "map.svg" in capsys.readouterr().out
    stored = pd.read_parquet(out / "candidates.parquet")
    matrix = shape_matrix(stored)  # the record's shape columns: the three functions
    assert set(matrix.index) == {"erf", "dyt", "cefaa8630b2d"}
    coords, share = project(matrix)
    assert coords.shape == (3, 2) and 0.5 < share.sum() <= 1.0 + 1e-9
    # erf and DyT's tanh are closer in shape than either is to softsign
    where = dict(zip(matrix.index, coords, strict=True))
    gap = {k: float(((where[k] - where["erf"]) ** 2).sum()) for k in ("dyt", "cefaa8630b2d")}
    assert gap["dyt"] < gap["cefaa8630b2d"]


def _import(path: Path):
    spec = importlib.util.spec_from_file_location(path.stem, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize(
    ("name", "shift"),
    [
        ("erf", "scalar"),
        ("dyt", None),
        ("power23clip", "vector"),
        ("satursin", "scalar"),
        ("logquadclip", "scalar"),
        ("cubsign", "scalar"),
        ("exproot", "scalar"),
    ],
)
def test_exported_module_matches_the_search_time_layer(tmp_path, name, shift):
    from evaluators import PointwiseNorm, make_norm

    path = export_module(tmp_path / f"{name}_norm.py", candidate=name)
    source = path.read_text()
    imported = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            imported |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            imported.add(str(node.module).split(".")[0])
    assert imported == {"__future__", "torch"}  # a standalone module: torch only
    module = _import(path)
    torch.manual_seed(0)
    kwargs = {} if name == "dyt" else {"shift": shift}
    exported = module.Norm(16, **kwargs)
    reference = (
        make_norm(name, 16, **kwargs) if name == "dyt" else PointwiseNorm(16, name, **kwargs)
    )
    reference.load_state_dict(exported.state_dict())  # same parameter names
    with torch.no_grad():
        for p in exported.parameters():
            p.add_(0.1 * torch.randn_like(p))
    reference.load_state_dict(exported.state_dict())
    x = torch.randn(3, 5, 16, dtype=torch.float32) * 3
    x[0, 0, :4] = torch.tensor([0.0, -0.0, 1e-30, -2.0])  # exact zero: infinite slopes there
    xa, xb = x.clone().requires_grad_(True), x.clone().requires_grad_(True)
    ya, yb = exported(xa), reference(xb)
    assert torch.equal(ya, yb)
    ya.square().sum().backward()
    yb.square().sum().backward()
    assert torch.isfinite(xa.grad).all()
    assert torch.allclose(xa.grad, xb.grad, rtol=1e-6, atol=1e-7)
    for (na, pa), (nb, pb) in zip(
        exported.named_parameters(), reference.named_parameters(), strict=True
    ):
        assert na == nb and torch.allclose(pa.grad, pb.grad, rtol=1e-6, atol=1e-7), na


def test_export_by_rank_carries_the_leaderboard_figures(finished_run, tmp_path, capsys):
    from search.cli import main

    out, _ = finished_run
    board = load_leaderboard(out)
    rank = int(board.loc[board["candidate_id"] == "cefaa8630b2d", "rank"].iloc[0])
    target = tmp_path / "winner.py"
    assert main(["export", str(out), "--rank", str(rank), "-o", str(target)]) == 0
    text = target.read_text()
    assert "x/(1 + abs(x))" in text and f"(rank {rank})" in text and "digits-vit:" in text
    assert "class SmoothsignNorm(" in text  # the catalog's name, not the id
    assert "\\frac{x}" in text  # the LaTeX
    module = _import(target)
    assert module.Norm(4)(torch.ones(1, 4)).shape == (1, 4)
    ln_rank = int(board.loc[board["candidate_id"] == "layernorm", "rank"].iloc[0])
    assert main(["export", str(out), "--rank", str(ln_rank), "-o", str(tmp_path / "ln.py")]) == 2
    assert "normalization layer" in capsys.readouterr().err
    assert main(["export", str(out), "--rank", "99", "-o", str(tmp_path / "x.py")]) == 2


def test_run_command_defaults_and_errors(tmp_path, capsys):
    from search.cli import build_parser, main, settings_from_args

    settings = settings_from_args(build_parser().parse_args(["run"]))
    assert settings.catalog == "paper" and settings.tasks == ("digits-dit",)
    assert settings.seeds == 3 and settings.out == "results/run"
    named = settings_from_args(
        build_parser().parse_args(["run", "--expr", "isru", "--out", "results/mine"])
    )
    assert named.catalog is None and named.study_name == "mine"
    assert main(["run", "--expr", "isru", "--task", "digits-vt", "--out", str(tmp_path)]) == 2
    assert "did you mean 'digits-vit'" in capsys.readouterr().err
    assert main(["run", "--expr", "isru", "--pruner", "medain", "--out", str(tmp_path)]) == 2
    assert "did you mean 'median'" in capsys.readouterr().err
    assert main(["run", "--expr", "isru", "--gpus-per-trial", "0.5", "--out", str(tmp_path)]) == 2
    assert "more GPUs than Ray sees (0)" in capsys.readouterr().err
    assert main(["run", "--resume", str(tmp_path)]) == 2
    assert "not a run directory" in capsys.readouterr().err
    assert not any(tmp_path.iterdir())  # refused runs leave nothing behind


@pytest.mark.slow  # a grammar run and a generate-directory run: about 30 s
def test_candidates_from_a_grammar_and_from_a_generate_run(tmp_path):
    grammar = tmp_path / "g.toml"
    grammar.write_text(
        '[grammar]\nmax_size = 3\n[operators]\nunary = ["erf", "atan", "tanh"]\n'
        'binary = ["+", "*"]\nconstants = [1, 2]\n'
    )
    out = tmp_path / "from-grammar"
    run_search(
        _settings(out, expressions=(), grammar=str(grammar), max_candidates=2),
        progress=False,
        max_steps=2,
    )
    # sympy is spent on what the run can take: its 2, and room for the baselines' functions
    assert len(pd.read_parquet(out / "generate" / "candidates.parquet")) <= 2 + 4
    chosen = pd.read_parquet(out / "candidates.parquet")
    assert len(chosen) == 6 and (chosen["kind"] == "candidate").sum() == 2
    assert chosen[chosen["kind"] == "candidate"]["passed"].all()
    again = tmp_path / "from-run-dir"
    run_search(
        _settings(again, expressions=(), candidates_dir=str(out / "generate"), max_candidates=1),
        progress=False,
        max_steps=2,
    )
    assert len(pd.read_parquet(again / "candidates.parquet")) == 5
    assert len(load_leaderboard(again)) == 5


def test_a_grammar_run_enumerates_only_what_it_needs(tmp_path, capfd):
    from search.driver import FIRST_ENUMERATION, prepare_run_dir

    settings = _settings(tmp_path / "run", expressions=(), grammar="default", max_candidates=5)
    chosen = prepare_run_dir(settings, symbolic=False, progress=True)
    summary = json.loads((tmp_path / "run" / "generate" / "summary.json").read_text())
    # the default grammar holds ~560,000 expressions; a prefix, simplest first, is enough
    assert summary["enumerated"] == FIRST_ENUMERATION and not summary["complete"]
    assert (chosen.table["kind"] == "candidate").sum() == 5
    assert "screening" in capfd.readouterr().err  # the enumeration shows its progress


@pytest.mark.slow  # a 20,000-expression screen and sympy for ~1,800 candidates: about 2 min
def test_a_grammar_run_enumerates_further_when_the_first_prefix_is_short(tmp_path):
    from search.driver import ENUMERATION_GROWTH, FIRST_ENUMERATION, prepare_run_dir

    # the first 5,000 expressions of the default grammar hold ~800 passing candidates
    settings = _settings(tmp_path / "run", expressions=(), grammar="default", max_candidates=900)
    chosen = prepare_run_dir(settings, symbolic=False)
    summary = json.loads((tmp_path / "run" / "generate" / "summary.json").read_text())
    assert summary["enumerated"] == FIRST_ENUMERATION * ENUMERATION_GROWTH
    assert (chosen.table["kind"] == "candidate").sum() == 900


def test_a_grammar_run_can_draw_a_seeded_sample_of_the_whole_space(tmp_path):
    from search.driver import prepare_run_dir

    def drawn(name: str, seed: int) -> tuple[list[str], dict]:
        settings = _settings(
            tmp_path / name, expressions=(), grammar="default", sample=400, sample_seed=seed,
            max_candidates=4,
        )  # fmt: skip
        table = prepare_run_dir(settings, symbolic=False).table
        summary = json.loads((tmp_path / name / "generate" / "summary.json").read_text())
        return sorted(table[table["kind"] == "candidate"]["candidate_id"]), summary

    first, summary = drawn("a", 1)
    assert summary["mode"] == "sample" and 400 <= summary["enumerated"] < 420
    assert len(first) == 4
    # every size is drawn, the largest too, which simplest-first reaches after ~33,000
    assert {"4", "5"} <= set(summary["per_size"])
    assert drawn("again", 1)[0] == first  # the same seed, the same candidates
    assert drawn("other", 2)[0] != first
    with pytest.raises(UserError, match="--sample draws from a grammar"):
        _settings(tmp_path / "x", sample=10)
    with pytest.raises(UserError, match="either --sample or --max-expressions"):
        _settings(tmp_path / "x", grammar="default", sample=10, max_expressions=10)


def _small_generate(out: Path) -> Path:
    """A generate run directory of the default grammar's first 300 expressions."""
    settings = GenerateSettings(
        max_expressions=300, out=out, progress=False, symbolic_seconds=0, workers=1
    )
    generate(settings)
    return out


@pytest.mark.slow  # a generate and two runs: about 45 s
def test_a_run_reuses_the_rows_of_a_generate_directory(tmp_path):
    made = _small_generate(tmp_path / "generate")
    generated = pd.read_parquet(made / "candidates.parquet").set_index("id")
    out = tmp_path / "run"
    settings = _settings(out, expressions=(), candidates_dir=str(made), max_candidates=2)
    summary = run_search(settings, progress=False, max_steps=1)
    # generate's rows are taken as they are: only DyT's and Derf's functions were checked
    assert (summary.reused, summary.checked) == (2, 2) and summary.check_seconds > 0
    assert summary.finished == 6 and summary.failed == 0
    table = read_candidates(out)
    assert tuple(table.columns) == CANDIDATE_COLUMNS
    reused = table[table["kind"] == "candidate"]
    assert len(reused) == 2 and (reused["candidate_id"] == reused["id"]).all()
    kept = ["expression", "canonical", "latex", "size", "merged_count", "passed"]
    kept += [f"{p}{suffix}" for p in PROPERTIES for suffix in ("", "_score", "_method")]
    for _, row in reused.iterrows():
        assert [row[c] for c in kept] == [generated.at[row["id"], c] for c in kept]
    # a resumed run reads its table back: nothing reused or checked
    again = run_search(settings, resume=True, progress=False, max_steps=1)
    assert (again.reused, again.checked, again.check_seconds, again.finished) == (0, 0, 0.0, 0)


@pytest.mark.slow  # a generate and a run: about 30 s
def test_a_trial_that_raises_in_its_worker_fails_and_the_search_goes_on(tmp_path):
    # A record whose text the worker cannot parse again (past the parser's size limit, as
    # generate once wrote): the trial fails with the reason, the others finish.
    made = _small_generate(tmp_path / "generate")
    table = pd.read_parquet(made / "candidates.parquet")
    first = table.index[table["expression"] == "atan(x)"][0]  # not a baseline's function
    table.loc[first, "expression"] = "(" + " + ".join(["tanh(x)"] * 80) + ")/80"
    table.to_parquet(made / "candidates.parquet", index=False)
    out = tmp_path / "run"
    settings = _settings(
        out, expressions=(), candidates_dir=str(made), max_candidates=1, workers=1
    )
    summary = run_search(settings, progress=False, max_steps=1)
    assert summary.failed == 1 and summary.finished == 4
    trials = _states(out).set_index("candidate_id")
    bad = trials.loc[table.loc[first, "id"]]
    assert bad["state"] == "FAIL" and "too large" in bad["fail_reason"]


def test_max_trials_and_timeout(tmp_path):
    capped = run_search(
        _settings(tmp_path / "capped", expressions=(), max_trials=3), progress=False, max_steps=2
    )
    assert capped.finished == 3 and len(_states(tmp_path / "capped")) == 3
    timed = run_search(
        _settings(tmp_path / "timed", expressions=(), timeout=1e-9), progress=False, max_steps=2
    )
    assert timed.finished == 0
    assert (tmp_path / "timed" / "trials.parquet").is_file()
    write_outputs(tmp_path / "timed")  # a run with no trial still has a leaderboard
    assert (tmp_path / "timed" / "leaderboard.md").is_file()


def test_a_guided_run_over_an_older_table_records_the_descriptors_it_learns_from(tmp_path, capsys):
    from candidates import candidates_table, check
    from search.driver import prepare_run_dir

    # a generate output written before the scale descriptors were recorded
    pool = tmp_path / "pool"
    pool.mkdir()
    table = candidates_table([check(e, symbolic=False) for e in ("erf(x)", "atan(x)")])
    table.drop(columns=[c for c in table if c.startswith("scale_")]).to_parquet(
        pool / "candidates.parquet", index=False
    )
    guided = _settings(tmp_path / "guided", expressions=(), candidates_dir=str(pool),
                       sampler="guided")  # fmt: skip
    prepare_run_dir(guided, symbolic=False)
    stored = pd.read_parquet(tmp_path / "guided" / "candidates.parquet")
    functions = stored[stored["expression"].notna()]
    assert functions["scale_width"].notna().all() and functions["scale_height"].notna().all()
    atan = functions[functions["expression"] == "atan(x)"].iloc[0]
    assert atan["scale_width"] == pytest.approx(1.0, rel=1e-2)  # atan(1) = π/4, half of π/2
    grid = _settings(tmp_path / "grid", expressions=(), candidates_dir=str(pool))
    prepare_run_dir(grid, symbolic=False)  # no sampler that needs them: nothing computed
    plain = pd.read_parquet(tmp_path / "grid" / "candidates.parquet")
    assert plain[plain["expression"] == "atan(x)"]["scale_width"].isna().all()
    # a guided run an older version started keeps them in its own table once resumed
    from search.driver import keep_descriptors, read_candidates

    older = tmp_path / "older"
    older.mkdir()
    table.drop(columns=[c for c in table if c.startswith("scale_")]).to_parquet(
        older / "candidates.parquet", index=False
    )
    kept = keep_descriptors(older, read_candidates(older), progress=True)
    assert "describing" in capsys.readouterr().err  # a whole grammar takes minutes: a bar
    again = read_candidates(older)
    assert again["scale_width"].notna().all() and list(again["candidate_id"]) == list(
        kept["candidate_id"]
    )
    written = (older / "candidates.parquet").stat().st_mtime_ns
    keep_descriptors(older, again, progress=True)  # nothing to compute: the file is left
    assert (older / "candidates.parquet").stat().st_mtime_ns == written
    assert "describing" not in capsys.readouterr().err
