"""One candidate record: generate, run and study tables share one schema, and the committed
runs of older versions read back in it."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from candidates import CANDIDATE_COLUMNS, DEFAULT_ALPHA0, STUDY_COLUMNS
from search.driver import GenerateSettings, candidate_set, generate, read_candidates
from search.studies import study_table

REPO = Path(__file__).resolve().parents[4]


@pytest.mark.parametrize("run", ["paper-properties-mnist1d", "paper-catalog-digits-vit"])
def test_a_committed_run_reads_back_in_the_record(run: str) -> None:
    old = pd.read_parquet(REPO / "results" / run / "candidates.parquet")
    assert "alpha0" not in old and "canonical" not in old  # written before the record
    table = read_candidates(REPO / "results" / run)
    assert tuple(table.columns) == (*CANDIDATE_COLUMNS, *STUDY_COLUMNS)
    assert len(table) == len(old) and (table["alpha0"] == DEFAULT_ALPHA0).all()
    assert list(table["candidate_id"]) == list(old["candidate_id"])
    layernorm = table.set_index("row").loc["layernorm"]
    assert layernorm["kind"] == "baseline" and pd.isna(layernorm["expression"])
    assert layernorm["passed"] is None and layernorm["merged_from"] is None


def test_generate_run_and_study_write_one_schema(tmp_path: Path) -> None:
    made = tmp_path / "generate"
    generate(
        GenerateSettings(
            max_expressions=100, out=made, progress=False, symbolic_seconds=0, workers=1
        )
    )
    generated = pd.read_parquet(made / "candidates.parquet")
    assert tuple(generated.columns) == CANDIDATE_COLUMNS
    assert (generated["candidate_id"] == generated["id"]).all()
    chosen = candidate_set(run_dir=made, symbolic=False, limit=1)
    assert tuple(chosen.table.columns) == CANDIDATE_COLUMNS
    assert chosen.reused == 1 and chosen.checked == 2  # the generate row is not checked again
    norms = chosen.table[chosen.table["candidate_id"].isin(["layernorm", "rmsnorm"])]
    assert norms[["id", "expression", "latex", "passed"]].isna().all().all()
    study = study_table("catalog")
    assert tuple(study.columns) == (*CANDIDATE_COLUMNS, *STUDY_COLUMNS)


def test_a_catalog_function_keeps_its_own_name_beside_a_baseline_of_the_same_id():
    from search.driver import candidate_set

    table = candidate_set(catalog="paper", expressions=["erf(2*x)"], symbolic=False).table
    rows = table.set_index("candidate_id")
    assert rows.loc["dyt", "name"] == "dyt" and rows.loc["dyt", "shift"] == "none"
    tanh = table[(table["kind"] == "candidate") & (table["expression"] == "tanh(x)")]
    assert list(tanh["name"]) == ["tanh"] and list(tanh["shift"]) == ["scalar"]
    assert rows.loc["erf", "expression"] == "erf(x)"  # Derf is never replaced by erf(2*x)
    assert list(table["name"].dropna()).count("dyt") == 1


def test_an_asked_expression_equal_to_another_row_is_said_to_run_as_that_row():
    from search.driver import candidate_set, merged_note

    asked = ["12.3*erf(0.43*x)", "atan(x)", "-2*atan(-x/3)", "erf"]
    chosen = candidate_set(expressions=asked, symbolic=False)
    assert chosen.merged == (("12.3*erf(0.43*x)", "erf"), ("-2*atan(-x/3)", "atan(x)"))
    texts = set(chosen.table["expression"].dropna())
    assert "atan(x)" in texts and not texts & {"12.3*erf(0.43*x)", "-2*atan(-x/3)"}
    note = merged_note(chosen.merged)
    assert note is not None and "12.3*erf(0.43*x) as erf" in note and "\n" not in note
    assert candidate_set(expressions=["erf", "atan(x)"], symbolic=False).merged == ()
