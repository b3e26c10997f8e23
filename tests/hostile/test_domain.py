"""Functions that are not real or not finite somewhere on R, and some that only look so in
float64: each gets a domain verdict that names the place, never property verdicts, and sympy's
part of it stays within the time limit."""

from __future__ import annotations

import math
import time

import pytest

from candidates import Tolerances, check, check_properties, parse

#: expression -> (phrases of sympy's message, phrases of the grid's message, first offending x)
NOT_REAL_OR_NOT_FINITE = {
    "sqrt(x + 60)": (["not real for x < -60"], ["not real for x < -60"], -60.0),
    "log(x + 100)": (
        ["not real for x < -100", "infinite at x = -100"],
        ["not real for x < -100"],
        -100.0,
    ),
    "1/(x - 60)": (["a pole at x = 60"], ["(a pole)"], 60.0),
    "tan(x/100)": (["poles at x = -50*pi", "x = 50*pi", "infinitely many"], ["(a pole)"], 157.08),
    "erf(x) + 1e-6*atan(sqrt(x + 60))": (
        ["not real for x < -60"],
        ["not real for x < -60"],
        -60.0,
    ),
    "erf(x) + 1e-6*tan(x/40)": (["poles at x = -20*pi", "x = 20*pi"], ["(a pole)"], 62.832),
}


def _first_bad_matches(found: float | None, expected: float) -> bool:
    # Poles of tan are symmetric: either of the two nearest 0 is the first offending x.
    assert found is not None
    if expected in (157.08, 62.832):
        return abs(abs(found) - expected) < 1e-2
    return abs(found - expected) < 1e-6


@pytest.mark.parametrize("text", sorted(NOT_REAL_OR_NOT_FINITE))
def test_sympy_names_where_f_is_not_real_or_not_finite(text: str) -> None:
    symbolic_phrases, _, first = NOT_REAL_OR_NOT_FINITE[text]
    result = check(text).result
    assert not result.domain.ok and result.domain.method == "symbolic"
    for phrase in symbolic_phrases:
        assert phrase in (result.domain.message or ""), result.domain.message
    assert _first_bad_matches(result.domain.first_bad_x, first)
    assert not result.passed and result.R is None
    # No property verdicts: in particular erf(x) + 1e-6*tan(x/40) does not pass boundedness.
    assert all("skipped" in v.evidence and not v.passed for v in result.verdicts.values())


@pytest.mark.parametrize("text", sorted(NOT_REAL_OR_NOT_FINITE))
def test_the_wide_grid_alone_finds_the_same_places(text: str) -> None:
    _, numeric_phrases, first = NOT_REAL_OR_NOT_FINITE[text]
    result = check(text, symbolic=False).result
    assert not result.domain.ok and result.domain.method == "numeric"
    for phrase in numeric_phrases:
        assert phrase in (result.domain.message or ""), result.domain.message
    assert _first_bad_matches(result.domain.first_bad_x, first)
    assert all("skipped" in v.evidence and not v.passed for v in result.verdicts.values())


@pytest.mark.parametrize("symbolic", [True, False], ids=["symbolic", "numeric"])
def test_overflow_is_unbounded_growth_not_a_pole(symbolic: bool) -> None:
    report = check("exp(exp(x))", symbolic=symbolic)
    result = report.result
    assert result.domain.ok  # real and finite everywhere; float64 overflows beyond x ≈ 6.57
    bounded = result.verdicts["bounded"]
    assert not bounded.passed and bounded.evidence["growth"] == "faster"
    assert bounded.evidence["overflow_beyond"] == pytest.approx(6.57, abs=0.01)
    text = report.to_text()
    assert "pole" not in text and "overflow_beyond=6.569" in text


@pytest.mark.parametrize(
    "text",
    [
        "erf(x)",
        "tanh(x)",
        "x/(1 + abs(x))",
        "x/sqrt(1 + x**2)",
        "clip(x, -1, 1)",
        "max(min(2*x, 1), -1)",
        "sign(x)*(1 - exp(-abs(x)))",
    ],
)
def test_an_ordinary_candidate_is_unaffected(text: str) -> None:
    symbolic, numeric = check(text).result, check(text, symbolic=False).result
    assert symbolic.domain.ok and symbolic.domain.method == "symbolic"
    assert numeric.domain.ok and numeric.domain.method == "numeric"
    assert symbolic.passed and numeric.passed


@pytest.mark.parametrize(
    "text",
    ["x/sqrt(expm1(x)**2 + 1)", "exp(x)*exp(-x)", "sin(exp(x))", "x*sin(x)", "exp(x)"],
)
def test_float64_overflow_in_the_tails_is_no_domain_error(text: str) -> None:
    # inf - inf, inf/inf and sin(inf) are nan beyond x ≈ 710; float32 overflows sooner there,
    # which tells them from a domain edge such as sqrt(x + 60)'s.
    assert check(text, symbolic=False).result.domain.ok


def test_sympy_catches_a_gap_the_grid_steps_over() -> None:
    # Not real on (1000.5, 1001.5), between the grid points 1000 and 1122.
    text = "erf(x) + 1e-6*sqrt((x - 1001)**2 - 0.25)"
    assert check(text, symbolic=False).result.domain.ok  # the known limit of a grid
    result = check(text).result
    assert not result.domain.ok
    assert "not real for 1000.5 < x < 1001.5" in (result.domain.message or "")


def test_a_removable_singularity_is_undefined_not_a_pole() -> None:
    message = check("sin(x)/x").result.domain.message or ""
    assert "undefined at x = 0" in message and "pole" not in message


def test_a_periodic_inequality_is_left_to_the_grid() -> None:
    # sympy solves sin(x) < 0 over one period only, (pi, 2*pi): its first offending x would be
    # pi where the truth is 0 (sin is negative just left of 0).
    result = check("sqrt(sin(x))").result
    assert not result.domain.ok and result.domain.method == "numeric"
    assert "periodic" in (result.domain.note or "")
    assert result.domain.first_bad_x == pytest.approx(0.0, abs=1e-6)


def test_an_equation_sympy_cannot_solve_falls_back_to_the_grid() -> None:
    result = check("1/(erf(x) - tanh(x))").result
    assert result.domain.method == "numeric" and "undecided" in (result.domain.note or "")
    assert not result.domain.ok and result.domain.first_bad_x == 0.0


def test_sympy_past_its_time_limit_falls_back_to_the_grid(monkeypatch) -> None:
    def never_answers(*args: object) -> None:
        while True:  # a solver lost in a hard expression
            math.factorial(50)

    monkeypatch.setattr("candidates.checks._properties.symbolic_domain", never_answers)
    start = time.perf_counter()
    result = check_properties(parse("sqrt(x + 60)"), tolerances=Tolerances(symbolic_seconds=1.0))
    assert time.perf_counter() - start < 10
    assert not result.domain.ok and result.domain.method == "numeric"
    assert "timed out" in (result.domain.note or "")
    assert "not real for x < -60" in (result.domain.message or "")


def test_the_domain_leaves_time_for_the_four_checks(monkeypatch) -> None:
    def never_answers(*args: object) -> None:
        while True:
            math.factorial(50)

    monkeypatch.setattr("candidates.checks._properties.symbolic_domain", never_answers)
    result = check_properties(parse("erf(x)"), tolerances=Tolerances(symbolic_seconds=2.0))
    assert result.domain.ok and "timed out" in (result.domain.note or "")
    assert result.verdicts["bounded"].method == "symbolic"


def test_the_report_says_how_the_domain_was_decided() -> None:
    assert "(symbolic)" in check("sqrt(x + 60)").to_text()
    assert "(numeric)" in check("sqrt(x + 60)", symbolic=False).to_text()
    assert check("1/(x - 60)").to_dict()["domain_method"] == "symbolic"


def test_a_partial_answer_from_sympy_does_not_hide_nearer_trouble() -> None:
    # sympy finds x < -60 but cannot solve erf(x) = tanh(x); the grid sees the pole at 0.
    result = check("sqrt(x + 60) + 1/(erf(x) - tanh(x))").result
    assert not result.domain.ok and result.domain.first_bad_x == 0.0
    assert result.domain.method == "numeric" and "in part" in (result.domain.note or "")


def test_a_solver_that_hangs_inside_the_walk_is_cut_off(monkeypatch) -> None:
    def never_answers(*args: object, **kwargs: object) -> None:
        while True:
            math.factorial(50)

    monkeypatch.setattr(
        "candidates.checks._symbolic_domain.solve_univariate_inequality", never_answers
    )
    start = time.perf_counter()
    result = check_properties(parse("log(erf(x) + 2)"), tolerances=Tolerances(symbolic_seconds=1.0))
    assert time.perf_counter() - start < 10
    assert result.domain.ok and result.domain.method == "numeric"
    assert "timed out" in (result.domain.note or "")
