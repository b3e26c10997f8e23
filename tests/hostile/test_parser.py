"""Hostile expressions: complex and astronomically large constants end in one line, never in a
traceback or a hang."""

from __future__ import annotations

import subprocess
import sys

import pytest

from candidates import ExpressionError, parse

COMPLEX = ["x + sqrt(-1)", "x*log(-2)", "x + (-1)**0.5", "erf(x) + (-8)**(1/3)"]
HUGE = [
    "x + exp(exp(exp(100)))",
    "min(exp(exp(exp(100))), 1) + erf(x)",
    "clip(x, -exp(exp(exp(100))), 1)",
    "x + e**(e**(e**5))",
]


@pytest.mark.parametrize("text", COMPLEX + HUGE)
def test_a_constant_that_is_not_a_real_float_is_refused(text):
    with pytest.raises(ExpressionError, match=r"real number|out of range"):
        parse(text)


@pytest.mark.parametrize("text", ["x/exp(100)", "erf(x) + log(2) - log(2)", "x*2**0.5"])
def test_ordinary_constants_still_parse(text):
    assert parse(text).free_symbols


def test_the_command_line_answers_in_one_line_without_hanging():
    done = subprocess.run(
        [sys.executable, "-m", "search.cli", "check", *COMPLEX, *HUGE],
        capture_output=True,
        text=True,
        timeout=120,  # each case used to hang (mpmath) or end in a TypeError traceback
    )
    assert done.returncode == 2
    errors = done.stderr.strip().splitlines()
    assert len(errors) == len(COMPLEX + HUGE) and "Traceback" not in done.stderr


def test_nested_primitives_are_counted_before_sympy_builds_them():
    # p has x twice: each nesting doubles the inlined tree, 60 of them would never be built.
    primitives = {"p": parse("x/sqrt(x**2 + 1)")}
    text = "p(" * 60 + "x" + ")" * 60
    with pytest.raises(ExpressionError, match=r"once its primitives are inlined: [\d,]+ nodes"):
        parse(text, primitives=primitives)
    assert parse("p(p(p(x)))", primitives=primitives).free_symbols
