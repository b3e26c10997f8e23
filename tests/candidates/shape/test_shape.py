"""Shape descriptors: invariant under the template's scales and the point reflection, and they
tell shapes apart; scale descriptors: they follow the scales and ignore the reflection."""

from __future__ import annotations

import math

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from candidates import SCALE_DESCRIPTORS, SHAPE_DESCRIPTORS, shape_descriptors

#: Bounded building blocks, written around a placeholder for their argument.
UNARY = (
    "tanh({})",
    "erf({})",
    "atan({})",
    "({0})/(1 + abs({0}))",
    "({0})/sqrt(1 + ({0})**2)",
    "clip({}, -1, 1)",
    "sin(clip({}, -pi/2, pi/2))",
    "sign({0})*(1 - exp(-abs({0})))",
)
coefficient = st.floats(0.3, 3.0).map(lambda c: round(c, 3))
weight = st.floats(-0.9, 0.9).map(lambda c: round(c, 3))


@st.composite
def shapes(draw: st.DrawFn) -> str:
    """A bounded f as a template with ``{x}`` where its input goes: one block, or two."""
    first = draw(st.sampled_from(UNARY)).format(f"{draw(coefficient)}*({{x}})")
    if draw(st.booleans()):
        return first
    second = draw(st.sampled_from(UNARY)).format(f"{draw(coefficient)}*({{x}})")
    return f"{first} + {draw(weight)}*({second})"


def _close(a: dict[str, float], b: dict[str, float]) -> list[str]:
    return [
        k
        for k in SHAPE_DESCRIPTORS
        if not (math.isnan(a[k]) and math.isnan(b[k]))
        and not abs(a[k] - b[k]) <= 1e-3 + 1e-2 * abs(a[k])
    ]


def _variants(template: str, inner: float, outer: float) -> tuple[str, str, str]:
    """f, outer·f(inner·x) and −f(−x), written out."""
    f = template.replace("{x}", "x")
    scaled = f"{outer}*({template.replace('{x}', f'{inner}*x')})"
    return f, scaled, f"-({template.replace('{x}', '-x')})"


#: α0 ranges over [0.05, 5] in a tuned run: the input scales tried span it
INNER = st.sampled_from([0.05, 0.2, 2.0, 5.0])
OUTER = st.sampled_from([0.5, 3.0])
#: The same examples at every run: a peak that falls between two points of the log-spaced grid
#: moves H by about a part in a thousand, so a fresh draw may land where the tolerances do not
#: hold, and a test suite must not pass or fail by the draw.
FIXED = settings(derandomize=True, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@settings(FIXED, max_examples=60)
@given(shapes(), INNER, OUTER)
def test_descriptors_ignore_the_templates_scales_and_the_reflection(
    template: str, inner: float, outer: float
) -> None:
    f, scaled, reflected = _variants(template, inner, outer)
    own = shape_descriptors(f)
    assert _close(own, shape_descriptors(scaled)) == [], (f, scaled)
    assert _close(own, shape_descriptors(reflected)) == [], (f, reflected)


@settings(FIXED, max_examples=30)
@given(shapes(), INNER, OUTER)
def test_scale_descriptors_follow_the_templates_scales_and_ignore_the_reflection(
    template: str, inner: float, outer: float
) -> None:
    f, scaled, reflected = _variants(template, inner, outer)
    own = shape_descriptors(f, scales=True)
    assert list(own) == [*SHAPE_DESCRIPTORS, *SCALE_DESCRIPTORS]
    other = shape_descriptors(scaled, scales=True)
    # the grid is log-spaced: a peak or a crossing between its points moves a little
    assert other["height"] == pytest.approx(outer * own["height"], rel=1e-3), (f, scaled)
    assert other["width"] == pytest.approx(own["width"] / inner, rel=2e-2), (f, scaled)
    mirror = shape_descriptors(reflected, scales=True)
    assert (mirror["height"], mirror["width"]) == pytest.approx((own["height"], own["width"]))


def test_descriptors_tell_shapes_apart_and_say_when_they_do_not_apply() -> None:
    erf, softsign = shape_descriptors("erf(x)"), shape_descriptors("x/(1 + abs(x))")
    assert softsign["knee"] > 3 * erf["knee"]  # 1/x approach against Gaussian tails
    assert softsign["tail"] > 0.1 > erf["tail"]
    assert shape_descriptors("2*x/(1 + x**2)")["retreat"] > 0.99 > erf["retreat"]
    assert shape_descriptors("erf(x + 1)")["asymmetry"] > 0.5 > erf["asymmetry"]
    assert shape_descriptors("clip(x, -1, 1)")["linearity"] == 1.0
    assert all(math.isnan(v) for v in shape_descriptors("asinh(x)").values())  # no saturation
