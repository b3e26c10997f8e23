"""A large pool's candidate is stored as an index (with its key beside it): the run, its record,
its retries and a resume see keys, and the study does not store the pool with every trial."""

from __future__ import annotations

import dataclasses

import optuna
import pytest
from optuna.distributions import CategoricalDistribution, IntDistribution

from candidates import UserError
from search.driver import (
    CandidateGrid,
    CandidateParameter,
    candidate_of,
    load_trials,
    open_storage,
    open_studies,
    read_candidates,
    run_search,
)
from search.reports import write_outputs
from tests.runs import short_run

optuna.logging.set_verbosity(optuna.logging.WARNING)

EXPRESSIONS = ("isru", "arctan", "2*x/(1 + x**2)", "clip(x, -1, 1)", "x/(1 + abs(x))")


@pytest.fixture
def small_limit(monkeypatch):
    """A limit of 5: a pool past 2,000 real functions would cost minutes of sympy to build."""
    for module in ("rundir._settings", "study._parameter"):  # the check, the study's encoding
        monkeypatch.setattr(f"search.driver.{module}.CATEGORICAL_LIMIT", 5)


def _stored(out) -> list[optuna.trial.FrozenTrial]:
    (study,) = open_studies(out)
    return study.get_trials()


@pytest.mark.slow  # a run and its resume: about 35 s
def test_a_guided_run_over_a_large_pool_stores_indices_and_resumes_with_them(
    tmp_path, small_limit, monkeypatch
):
    out = tmp_path / "run"
    settings = short_run(out, expressions=EXPRESSIONS, sampler="guided", max_trials=6)
    run_search(settings, progress=False, max_steps=2)
    keys = list(read_candidates(out).drop_duplicates("candidate_id")["candidate_id"])
    assert len(keys) == 9
    stored = [t for t in _stored(out) if t.params]
    assert stored and all(
        isinstance(t.distributions["candidate"], IntDistribution)
        and keys[t.params["candidate"]] == t.user_attrs["candidate"]
        for t in stored
    )
    # a resumed run keeps the study's encoding, even where a new run would choose the other
    monkeypatch.setattr("search.driver.study._parameter.CATEGORICAL_LIMIT", 2000)
    run_search(dataclasses.replace(settings, max_trials=9), resume=True, progress=False,
               max_steps=2)  # fmt: skip
    trials = load_trials(open_studies(out))
    finished = trials[trials["state"] == "COMPLETE"]
    assert len(finished) == 9 and finished["candidate_id"].is_unique
    assert set(finished["candidate_id"]) == set(keys)
    assert all(isinstance(t.params["candidate"], int) for t in _stored(out) if t.params)
    write_outputs(out)
    assert "isru" in (out / "leaderboard.md").read_text()


def test_a_new_study_is_indexed_past_the_limit_and_a_stored_one_keeps_its_own(
    tmp_path, small_limit
):
    storage = open_storage(f"sqlite:///{tmp_path / 'study.db'}")
    many, few = [f"k{i}" for i in range(6)], ["a", "b"]
    assert CandidateParameter.for_run(many, storage, "new").indexed
    assert not CandidateParameter.for_run(few, storage, "new").indexed
    study = optuna.create_study(storage=storage, study_name="old")
    trial = study.ask()
    CandidateParameter(tuple(many), indexed=False).suggest(trial)
    study.tell(trial, 1.0)
    assert isinstance(study.trials[0].distributions["candidate"], CategoricalDistribution)
    assert not CandidateParameter.for_run(many, storage, "old").indexed


def test_an_enqueued_trial_of_an_indexed_pool_is_its_key(tmp_path):
    param = CandidateParameter(("erf", "dyt", "isru"), indexed=True)
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    params, attrs = param.fixed("isru")
    study.enqueue_trial(params, user_attrs=attrs)
    trial = study.ask()
    assert param.suggest(trial) == "isru" and candidate_of(trial) == "isru"
    assert trial.params["candidate"] == 2


def test_tpe_over_a_pool_past_the_limit_is_refused_before_anything_is_written(
    tmp_path, small_limit
):
    out = tmp_path / "run"
    with pytest.raises(UserError, match="at most 5 candidates, and this run has 9"):
        run_search(short_run(out, expressions=EXPRESSIONS, sampler="tpe"), progress=False)
    assert not out.exists()


def test_a_grammar_run_that_may_take_too_many_for_tpe_is_refused_before_it_generates(
    tmp_path, small_limit
):
    out = tmp_path / "run"
    settings = short_run(out, expressions=(), grammar="default", max_candidates=10, sampler="tpe")
    with pytest.raises(UserError, match="this run may take up to 10; use --sampler guided"):
        run_search(settings, progress=False)
    assert not out.exists()


def test_the_grid_gives_each_pair_once_in_order_across_retries_and_a_resume(tmp_path):
    storage = open_storage(f"sqlite:///{tmp_path / 'study.db'}")
    param = CandidateParameter(("erf", "dyt", "isru"), indexed=True)

    def study() -> optuna.Study:  # a fresh sampler each time, as a resumed driver makes
        return optuna.create_study(
            storage=storage, study_name="grid", load_if_exists=True,
            sampler=CandidateGrid(range(3), 2),
        )  # fmt: skip

    def ask(s: optuna.Study) -> tuple[optuna.trial.Trial, tuple[str, int]]:
        trial = s.ask()
        return trial, (param.suggest(trial), trial.suggest_int("seed", 0, 1))

    first = study()
    asked = [ask(first) for _ in range(3)]
    assert [pair for _, pair in asked] == [("erf", 0), ("erf", 1), ("dyt", 0)]
    first.tell(asked[0][0], 1.0)
    first.tell(asked[2][0], state=optuna.trial.TrialState.FAIL)  # ... and queued again
    frozen = first.trials[2]
    first.enqueue_trial(frozen.params, user_attrs={"candidate": frozen.user_attrs["candidate"]})
    again = study()
    pairs = [ask(again)[1] for _ in range(4)]
    assert pairs == [("dyt", 0), ("dyt", 1), ("isru", 0), ("isru", 1)]
    # nothing but the trials' own parameters is stored: no grid with every trial
    assert all(set(t.system_attrs) <= {"fixed_params"} for t in again.trials)


def test_the_encoding_of_a_study_with_only_queued_trials_is_theirs(tmp_path, small_limit):
    storage = open_storage(f"sqlite:///{tmp_path / 'study.db'}")
    many = [f"k{i}" for i in range(6)]
    for name, indexed in (("categorical", False), ("indexed", True)):
        study = optuna.create_study(storage=storage, study_name=name)
        params, attrs = CandidateParameter(tuple(many), indexed=indexed).fixed("k1")
        study.enqueue_trial(params, user_attrs=attrs)
        assert CandidateParameter.for_run(many, storage, name).indexed is indexed


def test_an_index_without_its_key_is_no_candidate():
    study = optuna.create_study()
    trial = study.ask()
    trial.suggest_int("candidate", 0, 9)  # a driver that died before writing the key
    assert candidate_of(trial) is None
