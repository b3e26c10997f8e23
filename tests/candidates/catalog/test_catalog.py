"""The catalogs and the template, and the one reading of a function given as text: a catalog
name (any case) or an expression, a normalization layer or a mistyped name refused in one line."""

from __future__ import annotations

import pytest

from candidates import (
    BASELINES,
    DEFAULT_SHIFT,
    PAPER,
    SHIFTS,
    Candidate,
    CatalogEntry,
    ExpressionError,
    UserError,
    get_entry,
    parse,
    parse_shift,
    to_source,
)
from candidates.catalog import resolve_text


@pytest.mark.parametrize("entry", PAPER + BASELINES, ids=[e.name for e in PAPER + BASELINES])
def test_every_entry_reads_back_by_its_name(entry: CatalogEntry) -> None:
    name, expression = entry.name, entry.expression
    if expression is None:
        with pytest.raises(ExpressionError, match="normalization layer"):
            resolve_text(name)
        return
    assert resolve_text(name.upper()) == (expression, parse(expression), name)


def test_an_expression_is_kept_in_its_printed_form_without_a_name() -> None:
    text, expr, name = resolve_text("x /(1+ abs(x))")
    assert (text, name) == (to_source(expr), None)
    assert Candidate.from_text("x /(1+ abs(x))").expression == text


def test_a_mistyped_name_gets_a_did_you_mean() -> None:
    with pytest.raises(ExpressionError, match=r"unknown catalog name 'isr'.*isru"):
        resolve_text("isr")
    with pytest.raises(UserError, match="did you mean 'isru'"):
        get_entry("isrv")


def test_the_shift_names_and_default() -> None:
    assert DEFAULT_SHIFT in SHIFTS
    with pytest.raises(UserError, match="did you mean 'scalar'"):
        parse_shift("sclar")
