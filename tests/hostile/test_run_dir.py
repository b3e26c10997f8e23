"""Run directories and storages under misuse and bad luck: a second driver, a folder that is
not a run, bogus and damaged storages, a deleted file, a read-only folder. Each ends in one
line, and nothing the user owns or a run finished is overwritten."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import optuna
import pandas as pd
import pytest

from search.driver import (
    LOCK_FILE,
    Owner,
    RunInUse,
    RunSettings,
    StudyLease,
    hold_run_dir,
    load_trials,
    open_storage,
    open_studies,
    read_trials,
    run_search,
    save_trials,
)
from search.reports import leaderboard, load_leaderboard
from tests.runs import embedded_ray, short_run

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module", autouse=True)
def local_ray():
    yield from embedded_ray()


def _settings(out: Path, **kw) -> RunSettings:
    return short_run(out, **{"expressions": (), **kw})


@pytest.fixture(scope="module")
def finished(tmp_path_factory) -> Path:
    """A finished run of the four baselines (one optimizer step each)."""
    out = tmp_path_factory.mktemp("finished") / "run"
    run_search(_settings(out), progress=False, max_steps=1)
    return out


def _copy(run: Path, tmp_path: Path) -> Path:
    copy = tmp_path / "run"
    shutil.copytree(run, copy)
    return copy


def _cli(*args: str, user: str | None = None, cwd: Path = REPO) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    prefix: list[str] = []
    if user is not None:  # run as an unprivileged user: root may write anywhere
        home = tempfile.mkdtemp(prefix="home-")
        os.chmod(home, 0o777)
        env.update(HOME=home, MPLCONFIGDIR=home)
        prefix = ["setpriv", "--reuid", user, "--regid", user, "--clear-groups"]
    return subprocess.run(
        [*prefix, sys.executable, "-m", "search.cli", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def _one_line(done: subprocess.CompletedProcess, *fragments: str) -> str:
    assert done.returncode == 2, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("derf-search: error: "), done.stderr
    for fragment in fragments:
        assert fragment in lines[0], lines[0]
    return lines[0]


# --- one driver per run directory, one per study --------------------------------------------


def test_a_second_driver_on_a_run_directory_is_refused(finished, tmp_path):
    run = _copy(finished, tmp_path)
    saved = (run / "trials.parquet").read_bytes()
    with hold_run_dir(run):  # a driver holds it (flock: another open file description)
        with pytest.raises(RunInUse, match=f"pid {os.getpid()} on host"):
            run_search(RunSettings.read(run).with_out(run), resume=True, progress=False)
        held = (run / LOCK_FILE).read_text()
        assert str(os.getpid()) in held
    assert (run / "trials.parquet").read_bytes() == saved
    assert (run / LOCK_FILE).read_text() == ""  # released: the next driver may take it


def test_a_lock_left_by_a_dead_driver_is_taken(tmp_path):
    gone = subprocess.Popen(["true"])
    gone.wait()
    dead = Owner(host=os.uname().nodename, pid=gone.pid, started=None, token="t", since=0.0)
    (tmp_path / LOCK_FILE).write_text(__import__("json").dumps(dead.to_dict()))
    with hold_run_dir(tmp_path) as previous:
        assert previous == dead  # its record is read back: it ended without releasing


def test_the_study_lease_refuses_a_live_driver_and_takes_a_dead_ones(tmp_path):
    storage = open_storage(f"journal:{tmp_path / 'shared.log'}")
    first = StudyLease(storage, "shared")
    assert first.acquire() is None
    with pytest.raises(RunInUse, match="one driver per study"):
        StudyLease(storage, "shared").acquire()
    # the holder dies without releasing: its record names a process that is gone
    gone = subprocess.Popen(["true"])
    gone.wait()
    dead = Owner(host=os.uname().nodename, pid=gone.pid, started=None, token="t", since=0.0)
    assert first.study_id is not None
    storage.set_study_user_attr(first.study_id, "owner", dead.to_dict())
    assert StudyLease(storage, "shared").acquire() == dead


def test_a_driver_on_another_host_holds_until_its_heartbeat_is_old(tmp_path):
    import time

    storage = optuna.storages.InMemoryStorage()
    elsewhere = Owner(host="elsewhere", pid=1, started=None, token="t", since=0.0)
    study_id = storage.create_new_study(
        [optuna.study.StudyDirection.MINIMIZE], study_name="run#lease-0"
    )
    storage.set_study_user_attr(study_id, "owner", elsewhere.to_dict())
    storage.set_study_user_attr(study_id, "heartbeat", time.time())
    with pytest.raises(RunInUse, match="host elsewhere"):
        StudyLease(storage, "run").acquire()
    storage.set_study_user_attr(study_id, "heartbeat", time.time() - 3600)
    assert StudyLease(storage, "run").acquire() == elsewhere


def test_a_second_driver_on_a_shared_storage_is_refused_and_writes_nothing(tmp_path):
    journal = f"journal:{tmp_path / 'shared.log'}"
    holder = StudyLease(open_storage(journal), "shared")
    holder.acquire()  # the first driver, still running
    second = tmp_path / "second"
    settings = _settings(second, storage=journal, study_name="shared")
    with pytest.raises(RunInUse, match="--ray-address"):
        run_search(settings, progress=False, max_steps=1)
    assert not second.exists()
    holder.release()
    summary = run_search(settings, progress=False, max_steps=1)  # released: it runs
    assert summary.finished == 4


def test_the_leaderboard_counts_a_candidate_seed_once():
    trials = pd.DataFrame(
        {
            "task": ["t"] * 5,
            "number": [0, 1, 2, 3, 4],
            "candidate_id": ["erf", "erf", "erf", "dyt", "dyt"],
            "seed": [0, 0, 0, 0, 1],
            "state": ["COMPLETE"] * 5,
            "value": [0.5, 0.9, 0.9, 0.4, 0.6],
            "direction": ["maximize"] * 5,
            "metric": ["acc"] * 5,
        }
    )
    board = leaderboard(trials).set_index("candidate_id")
    assert board.loc["erf", "n"] == 1 and board.loc["erf", "mean"] == 0.5  # the first, once
    assert board.loc["dyt", "n"] == 2


# --- folders that are not runs, storages that cannot be used --------------------------------


def test_a_folder_that_is_not_a_run_is_refused_and_kept(tmp_path):
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "leaderboard.csv").write_text("my own table\n")
    with pytest.raises(ValueError, match="not a derf-search run"):
        run_search(_settings(mine), progress=False, max_steps=1)
    assert sorted(p.name for p in mine.iterdir()) == ["leaderboard.csv"]
    assert (mine / "leaderboard.csv").read_text() == "my own table\n"


@pytest.mark.parametrize(
    "storage",
    [
        "bogus://x",
        "notaurl",
        "sqlite:////no/such/folder/study.db",
        "journal:/no/such/folder/study.log",
        "postgresql://user:pw@127.0.0.1:9/nodb",
        "mysql://user:pw@127.0.0.1:9/nodb",
    ],
)
def test_a_storage_that_cannot_be_used_is_refused_before_anything_is_written(tmp_path, storage):
    out = tmp_path / "run"
    with pytest.raises(ValueError, match=r"storage|journal") as caught:
        run_search(_settings(out, storage=storage), progress=False, max_steps=1)
    assert "\n" not in str(caught.value)
    assert not out.exists()  # no half-made run to block the next try


@pytest.mark.parametrize("damage", ["garbage", "truncated"])
def test_a_damaged_study_says_so_and_keeps_the_finished_trials(finished, tmp_path, damage):
    run = _copy(finished, tmp_path)
    db = run / "study.db"
    if damage == "garbage":
        db.write_bytes(os.urandom(4096))
    else:
        db.write_bytes(db.read_bytes()[: db.stat().st_size // 3])
    saved = (run / "trials.parquet").read_bytes()
    for args in (["leaderboard", str(run)], ["run", "--resume", str(run), "--no-progress"]):
        _one_line(_cli(*args), "study.db", "trials.parquet")
    assert (run / "trials.parquet").read_bytes() == saved
    db.rename(run / "study.db.damaged")  # what the message says to do
    assert load_leaderboard(run)["n"].tolist() == [1, 1, 1, 1]


def test_an_empty_study_is_rebuilt_from_trials_parquet_not_taken_for_a_new_one(
    finished, tmp_path, capfd
):
    run = _copy(finished, tmp_path)
    (run / "study.db").write_bytes(b"")
    saved = pd.read_parquet(run / "trials.parquet")
    assert len(read_trials(run)) == 4  # the leaderboard reads the saved trials
    summary = run_search(
        RunSettings.read(run).with_out(run), resume=True, progress=False, max_steps=1
    )
    assert "rebuilt the study from trials.parquet: 4 trials" in capfd.readouterr().err
    assert summary.finished == 0  # every trial is done: nothing runs again
    assert (run / "study.db").stat().st_size > 0
    pd.testing.assert_frame_equal(pd.read_parquet(run / "trials.parquet"), saved)
    # with nothing to rebuild it from, an empty study still stops the resume
    (run / "study.db").write_bytes(b"")
    (run / "trials.parquet").unlink()
    with pytest.raises(ValueError, match=r"is empty and there is no trials\.parquet"):
        run_search(RunSettings.read(run).with_out(run), resume=True, progress=False)
    assert (run / "study.db").stat().st_size == 0  # not turned into a new, empty study


def test_a_deleted_candidate_table_stops_a_resume_in_one_line(finished, tmp_path):
    run = _copy(finished, tmp_path)
    (run / "candidates.parquet").unlink()
    _one_line(_cli("run", "--resume", str(run), "--no-progress"), "candidates.parquet")


def test_a_storage_that_lost_finished_trials_never_overwrites_their_copy(finished, tmp_path):
    run = _copy(finished, tmp_path)
    saved = (run / "trials.parquet").read_bytes()
    other = tmp_path / "other.db"
    settings = RunSettings.read(run)
    # The storage now holds an unrelated, empty study under the run's name.
    optuna.create_study(storage=f"sqlite:///{other}", study_name=settings.study_for("digits-vit"))
    shutil.copy(other, run / "study.db")
    with pytest.raises(ValueError, match="was kept"):
        save_trials(run, open_studies(run))
    assert (run / "trials.parquet").read_bytes() == saved
    assert load_trials(open_studies(run)).empty


# --- read-only folders -----------------------------------------------------------------------


@pytest.fixture
def shared_tmp():
    """A folder an unprivileged user can reach (pytest's own is private to this user)."""
    path = Path(tempfile.mkdtemp(prefix="derf-ro-"))
    path.chmod(0o755)
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.mark.slow  # runs refused and one that trains: about 30 s
def test_read_only_folders_end_in_one_line(finished, shared_tmp):
    run = shared_tmp / "run"
    shutil.copytree(finished, run)
    for path in [run, *run.rglob("*")]:
        path.chmod(0o555 if path.is_dir() else 0o444)
    locked = shared_tmp / "locked"
    locked.mkdir(mode=0o555)
    locked.chmod(0o555)
    user = "65534" if os.geteuid() == 0 else None  # nobody
    cases = [
        (["run", "--expr", "isru", "--out", str(locked / "new"), "--no-progress"], "locked"),
        (["run", "--resume", str(run), "--no-progress"], str(run)),
        (["generate", "--max-size", "2", "--out", str(locked / "gen")], "locked"),
        (["plot", str(run)], str(run)),
    ]
    for args, where in cases:
        _one_line(_cli(*args, user=user, cwd=shared_tmp), where)
    assert sorted(p.name for p in locked.iterdir()) == []
    shown = _cli("leaderboard", str(run), user=user, cwd=shared_tmp)  # reading still works
    assert shown.returncode == 0, shown.stderr
