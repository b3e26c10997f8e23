"""The generator's output is the same as before its speed-ups, on a seeded sample of the
default grammar (3,003 expressions of sizes 1 to 5, all variants).

``data/sample-3000.*`` were written by the generator of commit c68f41d, before its work moved
into the worker processes (sympy texts and descriptors computed beside the checks, reports
sent back as text):
`derf-search generate --sample 3000 --max-candidates 100000 --symbolic-seconds 0 --workers 1`.
The same run now, serial and on two processes, must give the same table to the last digit
(descriptors to 1e-12) and the same counts.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from search.driver import GenerateSettings, generate

DATA = Path(__file__).parent / "data"


@pytest.mark.parametrize("workers", [pytest.param(1, marks=pytest.mark.slow), 2])
def test_generate_writes_the_same_table_and_counts_as_before(tmp_path: Path, workers: int) -> None:
    out = tmp_path / "generated"
    summary = generate(
        GenerateSettings(
            sample=3000,
            max_candidates=100_000,
            symbolic_seconds=0,
            workers=workers,
            out=out,
            progress=False,
        )
    )
    expected_counts = json.loads((DATA / "sample-3000.json").read_text())
    assert {k: summary[k] for k in expected_counts} == expected_counts
    # the workers' CPU time is counted: sympy's share of it is a share
    assert 0 < summary["sympy_seconds"] <= summary["cpu_seconds"]

    before = pd.read_parquet(DATA / "sample-3000.parquet")
    now = pd.read_parquet(out / "candidates.parquet")
    assert list(now.columns) == list(before.columns)
    assert len(now) == len(before) == expected_counts["written"]
    floats = [c for c in before.columns if before[c].dtype.kind == "f"]
    others = [c for c in before.columns if c not in floats]
    for column in others:
        assert now[column].astype(str).tolist() == before[column].astype(str).tolist(), column
    for column in floats:
        np.testing.assert_allclose(
            now[column].to_numpy(float), before[column].to_numpy(float), rtol=1e-12, err_msg=column
        )
