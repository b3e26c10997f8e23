"""`run --pack`: trials handed to a worker in packs and trained as one batched model, each still
its own Optuna trial; what a packed run records against the same run trained one by one; a
worker killed mid-pack; and the settings a pack refuses."""

from __future__ import annotations

import os
import signal
import threading
from pathlib import Path

import pandas as pd
import pytest

from candidates import UserError
from search.driver import RunSettings, check_run, run_search
from search.driver.execute import TrialSpec
from tests.runs import short_run, trial_states

pytestmark = pytest.mark.usefixtures("local_ray")


def _by_trial(out: Path) -> pd.DataFrame:
    trials = trial_states(out)
    return trials.set_index(["candidate_id", "seed"]).sort_index()


def test_a_packed_run_records_what_the_same_run_one_by_one_records(tmp_path):
    # the baselines (two norms and DyT without a shift) and two shifted functions: the worker
    # packs each architecture apart
    kw = {"expressions": ("x/(1 + abs(x))",), "workers": 1, "seeds": 1}
    single = run_search(short_run(tmp_path / "one", **kw), progress=False, max_steps=3)
    packed = run_search(short_run(tmp_path / "pack", pack="3", **kw), progress=False, max_steps=3)
    assert single.packed == 0 and packed.packed == packed.finished == single.finished == 5
    one, pack = _by_trial(tmp_path / "one"), _by_trial(tmp_path / "pack")
    assert list(one.index) == list(pack.index)  # each (candidate, seed) once, in both
    assert set(pack["state"]) == {"COMPLETE"} and (pack["steps"] == 3).all()
    # the same runs: a member's parameters match its single run's within 1e-5 after a few
    # steps (tests/evaluators/test_packed.py), so their validation losses agree closely
    assert (abs(pack["val_loss"] - one["val_loss"]) <= 1e-4 * one["val_loss"].abs()).all()
    assert (abs(pack["alpha"] - one["alpha"]).fillna(0) <= 1e-4).all()


def test_a_trial_that_raises_in_a_pack_fails_alone_on_its_worker() -> None:
    import ray

    from search.driver.execute import start_worker

    spec = {"task": "mnist1d", "shift": "scalar", "budget": "quick", "alpha0": None}
    specs = [
        TrialSpec(trial=k, candidate=c, seed=k, device="cpu", max_steps=2, **spec)
        for k, c in enumerate(["erf", "no_such_function", "tanh(x)"])
    ]
    worker = start_worker(threads=1)
    try:
        records = ray.get(worker.run_pack.remote(specs, None))
    finally:
        ray.kill(worker)  # its CPU back to the module's other tests
    assert [r.get("steps") for r in records] == [2, None, 2]
    assert set(records[1]) == {"failure"} and "no_such_function" in records[1]["failure"]


def test_a_pack_size_the_worker_cannot_measure_is_one_with_the_reason() -> None:
    import ray

    from search.driver.execute import Scheduler

    scheduler = Scheduler(workers=1, gpus_per_trial=0, relay=False)
    scheduler.start()
    spec = TrialSpec(
        trial=0, task="no-such-task", candidate="erf", shift="scalar", seed=0,
        budget="quick", alpha0=None, device="cpu",
    )  # fmt: skip
    try:
        size, why = scheduler.pack_size(spec)
    finally:
        ray.kill(scheduler.idle[0])
    assert size == 1 and why is not None and "no-such-task" in why


@pytest.mark.slow  # two packs, one killed mid-training and retried: about 40 s
def test_a_worker_killed_mid_pack_loses_no_trial_and_doubles_none(tmp_path):
    out = tmp_path / "run"
    killed: list[int] = []

    def kill(number: int, spec: TrialSpec, pid: int) -> None:
        # the first pack's worker dies while it trains (once: its retry runs to the end)
        if not killed:
            killed.append(number)
            threading.Timer(1.0, os.kill, (pid, signal.SIGKILL)).start()

    settings = short_run(out, workers=1, seeds=2, pack="4")
    summary = run_search(settings, progress=False, on_start=kill)
    trials = trial_states(out)
    assert killed and summary.failed == 0 and not summary.interrupted
    assert len(trials) == summary.finished == 10  # five candidates × two seeds, none doubled
    assert set(trials["state"]) == {"COMPLETE"}
    assert not trials.duplicated(["candidate_id", "seed"]).any()
    retried = trials[trials["attempts"] == 2]
    # the killed pack's four trials, retried together; no other trial ran twice
    assert len(retried) == 4 and killed[0] in set(retried["number"])
    assert summary.packed == 10 + 4


def test_pack_settings_refused_in_one_line(tmp_path):
    for pack, wanted in (
        ("0", "--pack must be auto or a count"),
        ("four", "--pack must be auto or a count"),
        ("65", "at most 64 trials"),
    ):
        with pytest.raises(UserError, match=wanted):
            short_run(tmp_path / "r", pack=pack)
    assert short_run(tmp_path / "r", pack="4", protocol="ladder").pack == "4"
    fp16 = short_run(tmp_path / "r", pack="4", recipe=("precision=fp16",))
    with pytest.raises(UserError, match=r"--pack 4: a pack does not take .*fp16"):
        check_run(fp16)
    check_run(short_run(tmp_path / "r", pack="auto", recipe=("precision=fp16",)))
    assert RunSettings(pack="auto").pack == "auto"
    with pytest.raises(UserError, match="--pack must be auto or a count"):
        RunSettings(pack=4)  # type: ignore[arg-type]  # the Python API, typed wrong
