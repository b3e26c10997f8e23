"""The descriptors where a candidate is reported and recorded: the check's JSON, the candidate
table, and the guide matrix read from it."""

from __future__ import annotations

import math

import numpy as np
import pytest

from candidates import (
    SCALE_DESCRIPTORS,
    SHAPE_DESCRIPTORS,
    START_DESCRIPTORS,
    candidates_table,
    check,
    guide_matrix,
)


def test_check_json_shows_the_descriptors() -> None:
    entry = check("erf(x)").to_dict()
    assert list(entry["shape"]) == list(SHAPE_DESCRIPTORS)
    assert entry["shape"]["retreat"] == 0.0
    assert set(check("x").to_dict()["shape"].values()) == {None}
    wide = check("3*erf(x/4)").to_dict()["scale"]
    assert list(wide) == list(SCALE_DESCRIPTORS)
    assert wide["height"] == pytest.approx(3.0) and wide["width"] == pytest.approx(4 * 0.4769, 1e-2)


def test_the_guide_matrix_reads_the_record_and_places_f_at_its_alpha0() -> None:
    table = candidates_table([check(e) for e in ("erf(x)", "3*erf(x/4)", "x/(1 + abs(x))")])
    scale_columns = [f"scale_{k}" for k in SCALE_DESCRIPTORS]
    assert table[scale_columns].notna().all().all()
    # three keys: the first two are one function modulo the template, and would share an id
    table["candidate_id"] = ["erf", "wide", "smoothsign"]
    table["alpha0"] = [0.5, 0.5, 2.0]
    stored = guide_matrix(table)
    assert list(stored.columns) == [*SHAPE_DESCRIPTORS, *START_DESCRIPTORS]
    # a record written before the descriptors existed gets the same matrix, computed
    older = table.drop(columns=[c for c in table if c.startswith(("shape_", "scale_"))])
    assert np.allclose(guide_matrix(older).to_numpy(), stored.to_numpy(), equal_nan=True)
    erf, wide, smoothsign = (stored.loc[k] for k in ("erf", "wide", "smoothsign"))
    assert np.allclose(erf[list(SHAPE_DESCRIPTORS)], wide[list(SHAPE_DESCRIPTORS)], atol=1e-3)
    assert erf["reach"] - wide["reach"] == pytest.approx(math.log(4), abs=2e-2)
    assert wide["level"] - erf["level"] == pytest.approx(math.log(3))
    # x/(1+|x|) reaches half its height at x = 1: at α0 = 2 the reach is log 2
    assert smoothsign["reach"] == pytest.approx(math.log(2), abs=2e-2)
