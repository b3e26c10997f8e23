"""Hostile expressions: complex and astronomically large constants, Python payloads, broken
syntax and definitions that grow when inlined end in one line, never in a traceback or a hang.

The cases are the corpus that `derf-search benchmark hostile` runs (search.bench)."""

from __future__ import annotations

import subprocess
import sys
import time

import pytest

from candidates import ExpressionError, GrammarError, UserError, parse, parse_grammar
from search.bench import HOSTILE_EXPRESSIONS

COMPLEX = list(HOSTILE_EXPRESSIONS["complex"])
HUGE = list(HOSTILE_EXPRESSIONS["huge"])
#: The few corpus entries that are ordinary expressions in disguise.
ACCEPTED = {"erf(x) # comment", "(" * 200 + "x" + ")" * 200}


@pytest.mark.parametrize("text", COMPLEX + HUGE)
def test_a_constant_that_is_not_a_real_float_is_refused(text):
    with pytest.raises(ExpressionError, match=r"real number|out of range"):
        parse(text)


@pytest.mark.parametrize(
    "text", [t for texts in HOSTILE_EXPRESSIONS.values() for t in texts if t not in ACCEPTED]
)
def test_every_corpus_expression_is_one_line_of_error(text):
    with pytest.raises(ExpressionError) as info:
        parse(text)
    assert len(str(info.value).splitlines()) == 1


@pytest.mark.parametrize("text", sorted(ACCEPTED))
def test_the_disguised_ordinary_expressions_parse(text):
    assert parse(text).free_symbols


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


def test_a_sample_of_the_corpus_through_the_command_line_is_one_line_each():
    sample = [texts[0] for texts in HOSTILE_EXPRESSIONS.values() if texts[0] not in ACCEPTED]
    sample += ["1if x else 2", "x + " + "9" * 400, " tahn(x)", "-" * 300 + "x"]
    done = subprocess.run(
        [sys.executable, "-m", "search.cli", "check", "--", *sample],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2 and done.stdout == ""
    assert len(done.stderr.splitlines()) == len(sample), done.stderr


# --- regressions found by fuzzing ---------------------------------------------------------


def test_definitions_that_double_at_each_level_are_refused_quickly():
    # Each definition inlines the one before twice: 2**24 copies of erf if it were built.
    lines = ["[define]", 'p0 = "erf(x)"']
    lines += [f'p{i} = "p{i - 1}(x)/(1 + p{i - 1}(x)**2)"' for i in range(1, 24)]
    start = time.process_time()
    with pytest.raises(GrammarError, match="too large") as info:
        parse_grammar("\n".join(lines), "g.toml")
    assert time.process_time() - start < 15  # it took hours: exponential in the levels
    assert str(info.value).startswith("g.toml:")  # the line of the first definition too large


def test_a_chain_of_definitions_is_refused_before_it_is_too_deep():
    lines = ["[define]", 'p0 = "erf(x)"']
    lines += [f'p{i} = "p{i - 1}(p{i - 1}(x) + 1)"' for i in range(1, 16)]
    with pytest.raises(GrammarError, match="too large"):  # once a RecursionError, seconds late
        parse_grammar("\n".join(lines), "g.toml")


def test_ordinary_primitives_are_well_within_the_inlining_limits():
    prims = {"p": parse("x/(1 + abs(x))")}
    assert parse("p(p(p(p(x))))", primitives=prims).free_symbols


@pytest.mark.parametrize(
    ("text", "column"),
    [(" tahn(x)", 2), ("   erf(y)", 8), ("x +", 4), ("  x +", 6), ("(x\n+ tahn(x))", 6)],
)
def test_columns_count_in_the_text_as_typed(text, column):
    # The text is parsed stripped: columns were off by the leading spaces, and 0 at the end.
    with pytest.raises(ExpressionError) as info:
        parse(text)
    assert info.value.column == column


def test_odd_literals_print_no_python_warning(recwarn):
    for text in ["1if x else 2", "0x1for x", "x is 1"]:
        with pytest.raises(ExpressionError):
            parse(text)
    assert [str(w.message) for w in recwarn] == []  # they went to stderr before the error


def test_a_huge_integer_is_out_of_range_not_an_overflow():
    with pytest.raises(ExpressionError, match=r"constant 9{30}\.\.\. is out of range"):
        parse("x + " + "9" * 400)


def test_a_user_error_with_a_line_break_in_a_name_is_still_one_line():
    # A section or key may be any quoted TOML string, line breaks included.
    with pytest.raises(UserError) as info:
        parse_grammar('["\\n"]\na = 1', "g.toml")
    assert len(str(info.value).splitlines()) == 1 and "\\n" in str(info.value)


@pytest.mark.parametrize("text", ["softsign(exp(x**x))", "abs(exp(x**x))"])
def test_a_function_sympy_can_only_write_with_re_is_refused(text):
    # |exp(x**x)| is exp(re(x**x)) to sympy: check() ended in "cannot compile re" (a TypeError).
    with pytest.raises(ExpressionError, match=r"not a real function: .*re\(x\*\*x\)"):
        parse(text)


def test_check_of_such_a_function_is_one_line_of_error():
    from candidates import check

    with pytest.raises(ExpressionError):
        check("(clip(sqrt(.5), atan(cosh(x)), sign(e))-(max(pi, softsign(exp((x**x))))/pi))")
