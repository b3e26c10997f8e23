"""Enumeration, sampling and the vectorised screen."""

from __future__ import annotations

import numpy as np
import pytest

from candidates import (
    PAPER,
    count_space,
    enumerate_space,
    load_grammar,
    numpy_from_text,
    parse,
    parse_grammar,
    sample_space,
    screen,
)
from candidates import SCREEN_GRID as GRID
from candidates.space import REASONS

SMALL = """\
[grammar]
max_size = 4
[operators]
unary = ["erf", "exp", "sin", "abs"]
binary = ["+", "*", "-"]
constants = [1, 2]
[transforms]
variants = ["shift", "shift+mirror", "clip"]
"""


def test_enumeration_is_exhaustive_and_counts_match() -> None:
    grammar = parse_grammar(SMALL)
    result = enumerate_space(grammar)
    counts = count_space(grammar)
    assert result.complete
    assert counts.exact
    assert result.enumerated == counts.total
    assert dict(result.per_size) == counts.per_size
    assert result.enumerated == len(result.survivors) + sum(result.rejected.values())


def test_enumeration_finds_known_candidates_and_drops_known_bad_ones() -> None:
    texts = {s.text for s in enumerate_space(parse_grammar(SMALL)).survivors}
    assert "erf(x)" in texts
    assert "sign(x)*(sin(abs(x)) - (sin(0)))" not in texts  # not monotonic
    assert "(x + 1)" not in texts  # unbounded
    assert not any(t.startswith("exp(") and "-" not in t for t in texts)


def test_every_survivor_is_a_parsable_expression_with_the_screened_values() -> None:
    result = enumerate_space(parse_grammar(SMALL))
    assert result.survivors
    for s in result.survivors[:200]:
        parse(s.text)
        with np.errstate(all="ignore"):
            values = np.asarray(numpy_from_text(s.text)(GRID), dtype=float)
        assert screen(values[None, :]).passed[0], s.text


def test_max_expressions_stops_early() -> None:
    result = enumerate_space(load_grammar(), max_expressions=5000)
    assert result.enumerated == 5000 and not result.complete


def test_constraints_forbid_nesting() -> None:
    text = SMALL + '[constraints]\nforbid_inside = { exp = ["exp"] }\n'
    counts_free = count_space(parse_grammar(SMALL))
    counts_forbidden = count_space(parse_grammar(text))
    assert counts_forbidden.total < counts_free.total
    survivors = {s.text for s in enumerate_space(parse_grammar(text)).survivors}
    assert not any("exp(exp(" in t for t in survivors)


TINY = {
    "forbid, depth, constants": """\
[grammar]
max_size = 6
max_depth = 4
[operators]
unary = ["erf", "exp", "abs"]
binary = ["+", "-", "*", "/", "**", "min", "max"]
constants = [1, 2]
[constraints]
forbid_inside = { exp = ["exp"], "+" = ["abs", "*"] }
max_constants = 1
[transforms]
variants = ["clip", "shift+clip"]
clip_scales = [1, 2]
""",
    "no constants allowed": """\
[grammar]
max_size = 7
[operators]
unary = ["erf", "exp"]
binary = ["+", "**", "max"]
constants = [1, 2, 3]
[constraints]
max_constants = 0
""",
    "no constants, shallow": """\
[grammar]
max_size = 7
max_depth = 2
[operators]
unary = ["erf"]
binary = ["+", "/"]
constants = []
""",
    "binary operators forbidden": """\
[grammar]
max_size = 7
[operators]
unary = ["erf", "tanh", "exp"]
binary = ["+", "*", "-"]
constants = [1]
[constraints]
forbid_inside = { "*" = ["*", "exp"], erf = ["+"], "-" = ["tanh"] }
max_constants = 2
""",
}


@pytest.mark.parametrize("text", TINY.values(), ids=list(TINY))
def test_the_counted_space_is_the_enumerated_space(text: str) -> None:
    grammar = parse_grammar(text)
    count = count_space(grammar)
    walked = enumerate_space(grammar)
    assert walked.complete and count.exact
    assert count.per_size == dict(walked.per_size)


def test_a_space_too_intricate_to_follow_is_counted_as_an_upper_bound(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    grammar = parse_grammar(TINY["binary operators forbidden"])
    exact = count_space(grammar)
    monkeypatch.setattr("candidates.space._count.MAX_COUNT_WORK", 0)
    bound = count_space(grammar)
    free = count_space(parse_grammar(TINY["binary operators forbidden"].split("[constraints]")[0]))
    assert not bound.exact and exact.total < bound.total
    assert bound.total <= free.total  # max_constants is still followed


def test_the_count_of_a_large_space_costs_no_memory() -> None:
    count = count_space(load_grammar(), max_size=12)  # walked, this is ~10^14 expressions
    assert count.exact and count.total > 10**14


def test_every_clip_scale_is_its_own_variant() -> None:
    text = '[grammar]\nmax_size = 1\n[transforms]\nvariants = ["clip"]\nclip_scales = [1, 2]'
    result = enumerate_space(parse_grammar(text))
    assert result.enumerated == 3  # x, clip(x, -1, 1), clip(2*(x), -1, 1)
    assert {s.variant for s in result.survivors} <= {"", "clip", "clip2"}


def test_sampling_is_seeded() -> None:
    grammar = load_grammar()
    a = sample_space(grammar, 3000, seed=7)
    b = sample_space(grammar, 3000, seed=7)
    c = sample_space(grammar, 3000, seed=8)
    assert a.enumerated >= 3000
    assert [s.text for s in a.survivors] == [s.text for s in b.survivors]
    assert [s.text for s in a.survivors] != [s.text for s in c.survivors]
    for s in a.survivors[:100]:
        parse(s.text, primitives=grammar.primitives)


@pytest.mark.parametrize("entry", PAPER, ids=[e.name for e in PAPER])
def test_screen_keeps_every_paper_function(entry: object) -> None:
    with np.errstate(all="ignore"):
        values = np.asarray(numpy_from_text(entry.expression)(GRID), dtype=float)  # type: ignore
    assert screen(values[None, :]).passed[0]


def test_screen_rejections_name_the_first_failed_property() -> None:
    rows = np.stack([np.tanh(GRID) + 1, GRID, np.sin(GRID), np.full_like(GRID, 0.0)])
    result = screen(rows)
    assert [REASONS[r] for r in result.reason] == [
        "zero_centered",
        "bounded",
        "monotonic",
        "degenerate",
    ]
