"""`--resume` of a run whose study.db is gone: the study rebuilt from trials.parquet (real Ray,
real SQLite, real short trainings), and a damaged trials.parquet named in one line."""

from __future__ import annotations

import shutil
from dataclasses import replace
from pathlib import Path

import pandas as pd
import pytest

from candidates import UserError
from search.driver import (
    RunSettings,
    load_curves,
    load_trials,
    open_studies,
    read_candidates,
    read_trials,
    rebuild_study,
    run_search,
)
from tests.runs import embedded_ray, short_run

REPO = Path(__file__).resolve().parents[4]
#: A committed reference run, copied and damaged by the tests (never touched in place).
REFERENCE = REPO / "results" / "paper-catalog-mnist1d"


@pytest.fixture(scope="module", autouse=True)
def local_ray():
    yield from embedded_ray()


@pytest.fixture(scope="module")
def finished(tmp_path_factory) -> Path:
    """A finished run of 5 trials (4 baselines and one candidate, one seed): about 5 s."""
    out = tmp_path_factory.mktemp("finished") / "run"
    summary = run_search(short_run(out), progress=False, max_steps=2)
    assert summary.finished == 5
    return out


def _copy(run: Path, tmp_path: Path) -> tuple[Path, RunSettings]:
    out = tmp_path / "run"
    shutil.copytree(run, out)
    return out, RunSettings.read(out).with_out(out)


def _pairs(trials: pd.DataFrame) -> list[tuple[str, int]]:
    done = trials[trials["state"] == "COMPLETE"]
    return list(zip(done["candidate_id"], done["seed"].astype(int), strict=True))


def _values(trials: pd.DataFrame) -> dict[int, float]:
    done = trials[trials["state"] == "COMPLETE"]
    return dict(zip(done["number"].astype(int), done["value"], strict=True))


@pytest.mark.parametrize(("sampler", "indexed"), [("grid", False), ("random", True)])
def test_a_rebuilt_study_reads_back_as_its_trials_parquet(
    finished, tmp_path, monkeypatch, sampler, indexed
):
    out, settings = _copy(finished, tmp_path)
    saved = pd.read_parquet(out / "trials.parquet")
    curves = pd.read_parquet(out / "curves.parquet")
    (out / "study.db").unlink()
    if indexed:  # a large pool's encoding: the candidate's index, its key beside it
        monkeypatch.setattr("search.driver.study._parameter.CATEGORICAL_LIMIT", 2)
    rebuilt = rebuild_study(replace(settings, sampler=sampler), read_candidates(out))
    assert (rebuilt.trials, rebuilt.queued) == (5, 0)
    studies = open_studies(out)
    trial = studies[0].trials[0]
    assert isinstance(trial.params["candidate"], int) == indexed
    assert ("seed" in trial.params) == (sampler == "grid")
    pd.testing.assert_frame_equal(load_trials(studies), saved)
    pd.testing.assert_frame_equal(pd.DataFrame(load_curves(studies)), curves)
    assert not (out / "study.db.partial").exists()


def test_a_run_whose_study_is_gone_resumes_with_more_seeds_training_only_those(
    finished, tmp_path, capfd
):
    out, settings = _copy(finished, tmp_path)
    before = pd.read_parquet(out / "trials.parquet")
    (out / "study.db").unlink()
    summary = run_search(replace(settings, seeds=2), resume=True, progress=False, max_steps=2)
    err = capfd.readouterr().err
    assert "rebuilt the study from trials.parquet: 5 trials" in err
    assert summary.rebuilt is not None and summary.rebuilt.trials == 5
    assert summary.finished == 5  # the second seed of each, nothing of the first again
    trials = load_trials(open_studies(out))
    assert trials["number"].is_unique
    pairs = _pairs(trials)
    assert len(pairs) == len(set(pairs)) == 10
    assert {seed for _, seed in pairs} == {0, 1}
    kept = _values(trials)
    assert all(kept[n] == v for n, v in _values(before).items())  # the first seed untouched
    pd.testing.assert_frame_equal(pd.read_parquet(out / "trials.parquet"), trials)


def test_missing_unfinished_and_unretried_trials_are_trained_and_only_they(
    finished, tmp_path, capfd
):
    out, settings = _copy(finished, tmp_path)
    saved = pd.read_parquet(out / "trials.parquet").sort_values("number")
    assert list(saved["number"]) == [0, 1, 2, 3, 4]
    # 1 was running when the file was written, 2 is not in it at all, 3 was interrupted and
    # its queued retry (a waiting trial) left out of the file
    by_number = saved.set_index("number")
    lost = sorted(
        (str(by_number.at[n, "candidate_id"]), int(by_number.at[n, "seed"])) for n in (1, 2, 3)
    )
    saved.loc[saved["number"] == 1, "state"] = "RUNNING"
    interrupted = saved["number"] == 3
    saved.loc[interrupted, "state"] = "FAIL"
    saved.loc[interrupted, "retried"] = True
    saved.loc[interrupted, "fail_reason"] = "interrupted"
    saved[saved["number"] != 2].to_parquet(out / "trials.parquet", index=False)
    (out / "study.db").write_bytes(b"")  # emptied
    summary = run_search(settings, resume=True, progress=False, max_steps=2)
    assert summary.finished == 3
    assert "rebuilt the study from trials.parquet: 4 trials (2 queued to run again)" in (
        capfd.readouterr().err
    )
    trials = load_trials(open_studies(out))
    assert trials["number"].is_unique and 2 not in set(trials["number"])  # a placeholder
    pairs = _pairs(trials)
    assert len(pairs) == len(set(pairs)) == 5
    new = trials[(trials["state"] == "COMPLETE") & (trials["number"] > 4)]
    assert sorted(zip(new["candidate_id"], new["seed"].astype(int), strict=True)) == lost
    assert (
        _values(trials)[0] == by_number.at[0, "value"]
        and _values(trials)[4] == by_number.at[4, "value"]
    )
    again = trials.set_index("number").loc[1]
    assert again["state"] == "FAIL" and again["retried"] and "rebuilt" in again["fail_reason"]
    assert len(read_trials(out)) == 7  # the leaderboard's record: 5 done, 2 failed and retried


def test_a_run_on_a_storage_of_its_own_is_never_rebuilt(finished, tmp_path):
    out, settings = _copy(finished, tmp_path)
    (out / "study.db").unlink()
    theirs = replace(settings, storage=f"sqlite:///{tmp_path / 'theirs.db'}")
    with pytest.raises(UserError, match=r"holds no study of this run.*not rebuilt"):
        run_search(theirs, resume=True, progress=False, max_steps=2)
    kept = pd.read_parquet(out / "trials.parquet")
    assert kept.equals(pd.read_parquet(finished / "trials.parquet"))
    assert not (out / "study.db").exists()


def test_a_damaged_trials_parquet_is_named_in_one_line(tmp_path, capsys):
    from search.bench import load_pool
    from search.cli import main

    out = tmp_path / "cut"
    shutil.copytree(REFERENCE, out)
    path = out / "trials.parquet"
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    with pytest.raises(UserError, match=r"trials\.parquet cannot be read .*: is it damaged\?"):
        read_trials(out)
    with pytest.raises(UserError, match="is it damaged"):
        load_pool(out)
    for command in (
        ["leaderboard", str(out)],
        ["map", str(out)],
        ["plot", str(out)],
        ["benchmark", "sampler", "--tabular", str(out)],
        ["run", "--resume", str(out), "--no-progress"],  # nothing to rebuild the study from
    ):
        assert main(command) == 2, command
        err = capsys.readouterr().err.strip()
        assert len(err.splitlines()) == 1 and f"{path} cannot be read" in err, (command, err)
    assert not (out / "study.db").exists()
