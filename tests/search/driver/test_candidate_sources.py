"""Where a run's candidates come from: a grammar (enumerated as far as needed, or sampled), a
generate directory, a table of an older version; and a trial that raises."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from candidates import CANDIDATE_COLUMNS, PROPERTIES, UserError
from search import load_leaderboard
from search.driver import (
    GenerateSettings,
    generate,
    read_candidates,
    run_search,
)
from search.reports import write_outputs
from tests.runs import short_run, trial_states

pytestmark = pytest.mark.usefixtures("local_ray")  # one embedded Ray per module


@pytest.mark.slow  # a grammar run and a generate-directory run: about 30 s
def test_candidates_from_a_grammar_and_from_a_generate_run(tmp_path):
    grammar = tmp_path / "g.toml"
    grammar.write_text(
        '[grammar]\nmax_size = 3\n[operators]\nunary = ["erf", "atan", "tanh"]\n'
        'binary = ["+", "*"]\nconstants = [1, 2]\n'
    )
    out = tmp_path / "from-grammar"
    run_search(
        short_run(out, expressions=(), grammar=str(grammar), max_candidates=2),
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
        short_run(again, expressions=(), candidates_dir=str(out / "generate"), max_candidates=1),
        progress=False,
        max_steps=2,
    )
    assert len(pd.read_parquet(again / "candidates.parquet")) == 5
    assert len(load_leaderboard(again)) == 5


def test_a_grammar_run_enumerates_only_what_it_needs(tmp_path, capfd):
    from search.driver import FIRST_ENUMERATION, prepare_run_dir

    settings = short_run(tmp_path / "run", expressions=(), grammar="default", max_candidates=5)
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
    settings = short_run(tmp_path / "run", expressions=(), grammar="default", max_candidates=900)
    chosen = prepare_run_dir(settings, symbolic=False)
    summary = json.loads((tmp_path / "run" / "generate" / "summary.json").read_text())
    assert summary["enumerated"] == FIRST_ENUMERATION * ENUMERATION_GROWTH
    assert (chosen.table["kind"] == "candidate").sum() == 900


def test_a_grammar_run_can_draw_a_seeded_sample_of_the_whole_space(tmp_path):
    from search.driver import prepare_run_dir

    def drawn(name: str, seed: int) -> tuple[list[str], dict]:
        settings = short_run(
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
        short_run(tmp_path / "x", sample=10)
    with pytest.raises(UserError, match="either --sample or --max-expressions"):
        short_run(tmp_path / "x", grammar="default", sample=10, max_expressions=10)


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
    settings = short_run(out, expressions=(), candidates_dir=str(made), max_candidates=2)
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
    settings = short_run(out, expressions=(), candidates_dir=str(made), max_candidates=1, workers=1)
    summary = run_search(settings, progress=False, max_steps=1)
    assert summary.failed == 1 and summary.finished == 4
    trials = trial_states(out).set_index("candidate_id")
    bad = trials.loc[table.loc[first, "id"]]
    assert bad["state"] == "FAIL" and "too large" in bad["fail_reason"]


def test_max_trials_and_timeout(tmp_path):
    capped = run_search(
        short_run(tmp_path / "capped", expressions=(), max_trials=3), progress=False, max_steps=2
    )
    assert capped.finished == 3 and len(trial_states(tmp_path / "capped")) == 3
    timed = run_search(
        short_run(tmp_path / "timed", expressions=(), timeout=1e-9), progress=False, max_steps=2
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
    guided = short_run(tmp_path / "guided", expressions=(), candidates_dir=str(pool),
                       sampler="guided")  # fmt: skip
    prepare_run_dir(guided, symbolic=False)
    stored = pd.read_parquet(tmp_path / "guided" / "candidates.parquet")
    functions = stored[stored["expression"].notna()]
    assert functions["scale_width"].notna().all() and functions["scale_height"].notna().all()
    atan = functions[functions["expression"] == "atan(x)"].iloc[0]
    assert atan["scale_width"] == pytest.approx(1.0, rel=1e-2)  # atan(1) = π/4, half of π/2
    grid = short_run(tmp_path / "grid", expressions=(), candidates_dir=str(pool))
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
