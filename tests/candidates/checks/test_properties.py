"""The four properties on a labelled set built from their definitions
(docs/commands/candidates.md)."""

from __future__ import annotations

import pytest

from candidates import PAPER, Tolerances, check, check_properties, parse

PROPS = ("zero_centered", "bounded", "center_sensitive", "monotonic")

# expression -> the properties it must FAIL (all others must pass)
LABELLED: dict[str, set[str]] = {
    # bases
    "erf(x)": set(),
    "tanh(x)": set(),
    "2/pi*atan(x)": set(),
    "-erf(x)": set(),
    "x**3/(abs(x)**3 + 1)": set(),  # f'(0) = 0 at a point only
    # horizontal and vertical shifts break zero-centredness
    "erf(x + 0.5)": {"zero_centered"},
    "tanh(x - 1)": {"zero_centered"},
    "erf(x) + 1": {"zero_centered"},
    "atan(x) + 0.2": {"zero_centered"},
    "erf(x) + 0.01": set(),  # within the 5% tolerance
    "exp(-abs(x))": {"zero_centered", "monotonic"},
    # boundedness, with growth classes
    "x": {"bounded"},
    "asinh(x)": {"bounded"},
    "sign(x)*log(abs(x) + 1)": {"bounded"},
    "sign(x)*abs(x)**(2/3)": {"bounded"},
    "0.5*erf(x) + 0.5*x": {"bounded"},
    "0.99*tanh(x) + 0.01*x": {"bounded"},
    "sinh(x)": {"bounded"},
    "clip(x, -1, 1)": set(),
    "clip(asinh(x), -1, 1)": set(),
    # centre sensitivity: flat around 0 fails, a vanishing derivative at a point passes
    "sign(x)*erf(max(abs(x) - 0.5, 0))": {"center_sensitive"},
    "sign(x)*erf(max(abs(x) - 2, 0))": {"center_sensitive"},
    "sign(x)*tanh(max(abs(x) - 0.05, 0))": set(),
    "x**5/(abs(x)**5 + 1)": {"center_sensitive"},
    # the same variants of arctan
    "atan(x + 0.5)": {"zero_centered"},
    "atan(x) - 0.3": {"zero_centered"},
    "sign(x)*atan(max(abs(x) - 1, 0))": {"center_sensitive"},
    "0.9*atan(x) + 0.1*x": {"bounded"},
    "clip(2*atan(x), -1, 1)": set(),
    "clip(2*erf(x), -1, 1)": set(),
    "atan(x) - 1.5*x/(1 + x**2)": {"monotonic"},
    # monotonicity
    "sin(x)": {"monotonic"},
    "2*x/(1 + x**2)": {"monotonic"},
    "2.72*x*exp(-abs(x))": {"monotonic"},
    "erf(x) - 0.5*tanh(3*x)": {"monotonic"},
}

GROWTH = {
    "x": "linear",
    "asinh(x)": "logarithmic",
    "sign(x)*log(abs(x) + 1)": "logarithmic",
    "sign(x)*abs(x)**(2/3)": "power p<1",
    "sinh(x)": "faster",
    "x**3": "faster",
    "erf(x)": "bounded",
}


@pytest.mark.parametrize("text", sorted(LABELLED))
@pytest.mark.parametrize("symbolic", [True, False], ids=["symbolic", "numeric"])
def test_labelled_set(text: str, symbolic: bool) -> None:
    report = check(text, symbolic=symbolic)
    assert report.result.domain.ok
    failed = {p for p in PROPS if not report.result.verdicts[p].passed}
    assert failed == LABELLED[text], report.to_text()


@pytest.mark.parametrize("entry", PAPER, ids=[e.name for e in PAPER])
def test_every_paper_function_passes_all_four(entry: object) -> None:
    report = check(entry.name)  # type: ignore[attr-defined]
    assert report.passed, report.to_text()
    # zero-centredness and boundedness are settled by sympy for every catalog function
    for p in ("zero_centered", "bounded"):
        assert report.result.verdicts[p].method == "symbolic", report.to_text()


@pytest.mark.parametrize(("text", "growth"), sorted(GROWTH.items()))
def test_growth_class(text: str, growth: str) -> None:
    evidence = check(text).result.verdicts["bounded"].evidence
    assert evidence["growth"] == growth


@pytest.mark.parametrize(
    ("text", "first_bad"),
    [
        ("1/x", 0.0),
        ("log(x)", 0.0),
        ("sqrt(x)", 0.0),
        ("tan(x)", 1.5707963),
        ("1/(x - 0.3)", 0.3),
        ("log(x + 2)", -2.0),
    ],
)
def test_domain_diagnosis_names_the_first_offending_x(text: str, first_bad: float) -> None:
    report = check(text)
    assert not report.result.domain.ok
    # tan's poles at ±pi/2 are equally near 0: either is the first offending x
    bad = report.result.domain.first_bad_x
    assert bad == pytest.approx(first_bad, abs=2e-3) or (
        text == "tan(x)" and bad == pytest.approx(-first_bad, abs=2e-3)
    )
    assert not report.passed
    assert all("skipped" in v.evidence for v in report.result.verdicts.values())


def test_monotonic_failure_gives_a_counterexample_pair() -> None:
    v = check("sin(x)").result.verdicts["monotonic"]
    pair = v.evidence["counterexample"]
    assert pair["x1"] < pair["x2"]
    direction_up = "non-decreasing" in v.evidence["direction"]
    assert (pair["f(x1)"] > pair["f(x2)"]) == direction_up
    assert abs(pair["x1"]) <= 4 and abs(pair["x2"]) <= 4


def test_centre_score_is_the_one_sided_slope() -> None:
    v = check("sign(x)*(1 - exp(-sqrt(abs(x))))").result.verdicts["center_sensitive"]
    assert v.score == float("inf")
    assert check("2*x/(1 + abs(x))").result.verdicts["center_sensitive"].score == pytest.approx(2)


def test_symbolic_time_limit_falls_back_to_numeric() -> None:
    tol = Tolerances(symbolic_seconds=1e-6)
    result = check_properties(parse("x/(sqrt(x**2 + 1) + 1)"), tolerances=tol)
    assert all(v.method == "numeric" for v in result.verdicts.values())
    assert result.passed
    notes = " ".join(str(v.evidence.get("symbolic", "")) for v in result.verdicts.values())
    assert "time" in notes


def test_symbolic_is_skipped_off_the_main_thread() -> None:
    import threading

    out = {}
    thread = threading.Thread(target=lambda: out.setdefault("r", check("erf(x)")))
    thread.start()
    thread.join(timeout=30)
    result = out["r"].result
    assert result.passed and all(v.method == "numeric" for v in result.verdicts.values())


def test_tolerances_are_settings() -> None:
    # erf(x) + 0.5: f(0) = 0.5 and f(L) + f(-L) -> 1, with R = 1.5
    zc = {
        tol: check_properties(parse("erf(x) + 0.5"), tolerances=Tolerances(zero_centered=tol))
        .verdicts["zero_centered"]
        .passed
        for tol in (0.6, 0.7)
    }
    assert zc == {0.6: False, 0.7: True}
    with pytest.raises(ValueError, match="window"):
        Tolerances(window=0)


# --- the verdicts are properties of the candidate, not of its scale ---------------------
from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

_OUTPUT_SCALES = st.sampled_from([-3.0, -0.5, 0.25, 2.0, 7.0])
# Input scales of at least 1: a stretched function can be flat over the whole window
# [-4, 4], where R = 0 and nothing is left to judge.
_INPUT_SCALES = st.sampled_from([-3.0, -1.0, 1.5, 2.0, 7.0])


@settings(max_examples=40, deadline=None)
@given(st.sampled_from(sorted(LABELLED)), _INPUT_SCALES, _OUTPUT_SCALES)
def test_verdicts_are_invariant_under_the_template_scales(text: str, a: float, c: float) -> None:
    """γ and α absorb output and input scale: c·f(a·x) has f's verdicts."""
    from candidates import X

    expr = parse(text)
    base = check_properties(expr, symbolic=False)
    scaled = check_properties(c * expr.xreplace({X: a * X}), symbolic=False)
    # window-relative checks (R, flat width) see a different slice of f when a != 1, so the
    # scale-free ones are compared: zero-centredness, boundedness, monotonicity
    for p in ("zero_centered", "bounded", "monotonic"):
        assert scaled.verdicts[p].passed == base.verdicts[p].passed, (text, a, c, p)
