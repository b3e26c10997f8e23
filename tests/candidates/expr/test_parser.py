"""The safe parser: what it accepts, what it refuses, and that it never executes input."""

from __future__ import annotations

import time

import numpy as np
import pytest
import sympy as sp
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from candidates import ExpressionError, Limits, X, compile_numpy, parse, to_latex, to_source

VALID = [
    ("x", X),
    ("erf(x)", sp.erf(X)),
    ("2*x - 1", 2 * X - 1),
    ("-x**2", -(X**2)),
    ("arctan(x)", sp.atan(X)),
    ("arcsinh(x)", sp.asinh(X)),
    ("e**x", sp.exp(X)),
    ("pi/2", sp.pi / 2),
    ("0.5*x", X / 2),
    ("1.205*x", sp.Rational(241, 200) * X),
    ("expm1(x)", sp.exp(X) - 1),
    ("log1p(x)", sp.log(1 + X)),
    ("sigmoid(x)", 1 / (1 + sp.exp(-X))),
    ("softsign(x)", X / (1 + sp.Abs(X))),
    ("abs(x)", sp.Abs(X)),
]


@pytest.mark.parametrize(("text", "expected"), VALID)
def test_valid_expressions_build_the_expected_sympy(text: str, expected: sp.Expr) -> None:
    assert sp.simplify(parse(text) - expected) == 0


@pytest.mark.parametrize(
    ("text", "fragment", "column"),
    [
        ("tahn(x)", "did you mean 'tanh'", 1),
        ("erf(y)", "unknown name 'y'", 5),
        ("x ^ 2", "'^' is not a power", 1),
        ("erf", "'erf' is a function", 1),
        ("erf(x, 2)", "takes 1 argument", 1),
        ("clip(x, 1, -1)", "reversed", 1),
        ("x +", "syntax error", None),
        ("x // 2", "'//' is not allowed", 1),
        ("x / 0", "division by zero", 1),
        ("'x'", "only real numbers", 1),
        ("1j*x", "only real numbers", 1),
        ("x**1000", "exponent 1000 is out of range", 1),
        ("9**9**9", "out of range", None),
        ("1e300*x", "out of range", 1),
        ("", "empty expression", None),
    ],
)
def test_errors_name_the_problem_and_the_column(
    text: str, fragment: str, column: int | None
) -> None:
    with pytest.raises(ExpressionError) as info:
        parse(text)
    assert fragment in str(info.value)
    assert "\n" not in str(info.value)
    if column is not None:
        assert info.value.column == column


HOSTILE = [
    "__import__('os').system('touch /tmp/derf_pwned')",
    "x.__class__.__mro__",
    "(lambda: 1)()",
    "[c for c in ().__class__.__bases__]",
    "open('/etc/passwd').read()",
    "eval('1')",
    "exec('import os')",
    "globals()",
    "x if x else 1",
    "x[0]",
    "{x: 1}",
    "f'{x}'",
    "x; import os",
    "x.real",
    "sympify('x')",
    "__builtins__",
]


@pytest.mark.parametrize("text", HOSTILE)
def test_hostile_input_is_refused_without_executing(text: str, tmp_path: object) -> None:
    marker = "/tmp/derf_pwned"
    with pytest.raises(ExpressionError):
        parse(text)
    import os

    assert not os.path.exists(marker)


def test_size_limits_refuse_quickly() -> None:
    start = time.perf_counter()
    for text in [
        "(" * 5000 + "x" + ")" * 5000,
        "+".join(["x"] * 400),
        "x" * 5000,
        "erf(" * 40 + "x" + ")" * 40,
    ]:
        with pytest.raises(ExpressionError):
            parse(text)
    assert time.perf_counter() - start < 2.0


def test_limits_are_configurable() -> None:
    with pytest.raises(ExpressionError, match="too large"):
        parse("x + x + x", limits=Limits(max_nodes=3))


def test_user_primitives_inline() -> None:
    prims = {"satursin": parse("sin(clip(x, -pi/2, pi/2))")}
    assert parse("satursin(2*x)", primitives=prims) == parse("sin(clip(2*x, -pi/2, pi/2))")
    with pytest.raises(ExpressionError, match="did you mean 'satursin'"):
        parse("satursn(x)", primitives=prims)


# --- round trip -------------------------------------------------------------------------

_UNARY = [
    "erf",
    "tanh",
    "atan",
    "asinh",
    "exp",
    "sin",
    "abs",
    "sign",
    "softsign",
    "sigmoid",
    "cbrt",
    "expm1",
]
_LEAF = st.sampled_from(["x", "x", "x", "1", "2", "0.5", "pi"])


def _expressions() -> st.SearchStrategy[str]:
    def extend(children: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
        unary = st.tuples(st.sampled_from(_UNARY), children).map(lambda t: f"{t[0]}({t[1]})")
        binary = st.tuples(children, st.sampled_from(["+", "-", "*"]), children).map(
            lambda t: f"({t[0]} {t[1]} {t[2]})"
        )
        clip = children.map(lambda c: f"clip({c}, -1, 1)")
        minmax = st.tuples(st.sampled_from(["min", "max"]), children, children).map(
            lambda t: f"{t[0]}({t[1]}, {t[2]})"
        )
        return unary | binary | clip | minmax

    return st.recursive(_LEAF, extend, max_leaves=6)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_expressions())
def test_round_trip_through_the_input_syntax(text: str) -> None:
    expr = parse(text)
    again = parse(to_source(expr))
    xs = np.linspace(-3, 3, 41)
    with np.errstate(all="ignore"):
        a, b = compile_numpy(expr)(xs), compile_numpy(again)(xs)
    np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-12, equal_nan=True)
    assert isinstance(to_latex(expr), str)


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=60))
def test_arbitrary_text_parses_or_raises_expression_error(text: str) -> None:
    try:
        parse(text)
    except ExpressionError as exc:
        assert "\n" not in str(exc)


def test_errors_survive_pickling_as_a_ray_worker_sends_them_back() -> None:
    import pickle

    from candidates import GrammarError

    errors = [
        ExpressionError("too large", source="x" * 90, column=3, origin="g.toml:4"),
        GrammarError("unknown operator 'tahn'", path="g.toml", line=3, key="unary"),
    ]
    for error in errors:
        again = pickle.loads(pickle.dumps(error))
        assert type(again) is type(error) and str(again) == str(error)
        assert vars(again) == vars(error)


def test_a_kept_sub_expression_is_refused_deeper_than_the_limit_as_a_fresh_one_is() -> None:
    # Sub-expressions' sympy forms are kept per process; one parsed first at a shallow depth
    # and met again too deep is refused with the same message and column as a fresh parse.
    limits = Limits(max_depth=5)
    inner = "erf(erf(erf(x)))"
    assert str(parse(inner, limits=limits)) == inner
    deep = f"tanh(tanh(tanh({inner})))"
    with pytest.raises(ExpressionError) as kept:
        parse(deep, limits=limits)
    assert "column 28: nested deeper than 5 levels" in str(kept.value)
    # the same sub-expression under other primitives is another function
    tanh_like = {"p": sp.tanh(X)}
    assert parse("p(x) + 1", primitives=tanh_like) == sp.tanh(X) + 1
    assert parse("p(x) + 1", primitives={"p": sp.erf(X)}) == sp.erf(X) + 1
