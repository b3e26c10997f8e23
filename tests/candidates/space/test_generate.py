"""The generate pipeline: screen, dedupe, checks; ids stable; merges reported."""

from __future__ import annotations

from candidates import Candidate, check, generate_candidates, parse_grammar

GRAMMAR = """\
[grammar]
max_size = 4
[operators]
unary = ["tanh", "erf", "sigmoid", "exp", "abs"]
binary = ["*", "-", "+"]
constants = [1, 2]
[transforms]
variants = ["shift", "shift+mirror"]
"""


def test_pipeline_dedupes_modulo_the_template() -> None:
    result = generate_candidates(parse_grammar(GRAMMAR), symbolic_seconds=2, workers=1)
    by_canonical = {r.candidate.canonical: r for r in result.reports}
    # tanh(x), tanh(2*x), 2*sigmoid(2*x) - 1 … are one candidate
    tanh = by_canonical["tanh(x)"]
    assert any("sigmoid" in m for m in tanh.candidate.merged_from)
    assert any("2 * x" in m or "x * 2" in m for m in tanh.candidate.merged_from)
    # ids are the same as for a single check of the same function
    assert tanh.candidate.id == check("tanh(3*x)").candidate.id
    ids = [r.candidate.id for r in result.reports]
    assert len(ids) == len(set(ids))
    assert result.unique == len(result.reports)
    assert 0 < result.passing <= result.unique
    assert result.enumeration.enumerated > result.unique


def test_parallel_and_serial_runs_agree() -> None:
    grammar = parse_grammar(GRAMMAR)
    serial = generate_candidates(grammar, symbolic_seconds=0, workers=1)
    parallel = generate_candidates(grammar, symbolic_seconds=0, workers=2)
    assert [r.candidate.id for r in serial.reports] == [r.candidate.id for r in parallel.reports]


def test_max_candidates_caps_what_is_written_not_what_is_counted() -> None:
    grammar = parse_grammar(GRAMMAR)
    full = generate_candidates(grammar, symbolic_seconds=0, workers=1)
    capped = generate_candidates(grammar, symbolic_seconds=0, workers=1, max_candidates=3)
    assert len(capped.reports) == 3
    assert capped.unique == full.unique and capped.passing == full.passing


def test_every_written_candidate_parses_back_under_the_limits_of_any_text() -> None:
    # big(x) is 2 nodes as the grammar writes it, ~60 once inlined: big(big(x)) written out
    # is past the parser's 200 syntax nodes, so no trial or resume could read it back.
    terms = " + ".join(f"tanh({k}*x)" for k in range(1, 11))
    grammar = parse_grammar(
        '[grammar]\nmax_size = 3\n[operators]\nunary = ["big"]\nbinary = []\nconstants = []\n'
        f'[define]\nbig = "({terms})/10"\n'
    )
    result = generate_candidates(grammar, symbolic_seconds=0, workers=1)
    assert result.enumeration.rejected["does_not_parse_back"] >= 1
    written = [r.candidate.expression for r in result.reports]
    assert written  # big(x) itself is fine
    for text in written:
        assert Candidate.from_text(text).id  # parses back, default limits
