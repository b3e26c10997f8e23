"""Shape descriptors: invariant under the template's scales and the point reflection, and they
tell shapes apart."""

from __future__ import annotations

import math

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from candidates import SHAPE_DESCRIPTORS, check, shape_descriptors

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


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(shapes(), st.sampled_from([0.05, 0.2, 2.0, 5.0]), st.sampled_from([0.5, 3.0]))
def test_descriptors_ignore_the_templates_scales_and_the_reflection(
    template: str, inner: float, outer: float
) -> None:
    # α0 ranges over [0.05, 5] in a tuned run: the input scales tried span it
    f = template.replace("{x}", "x")
    scaled = f"{outer}*({template.replace('{x}', f'{inner}*x')})"
    reflected = f"-({template.replace('{x}', '-x')})"
    own = shape_descriptors(f)
    assert _close(own, shape_descriptors(scaled)) == [], (f, scaled)
    assert _close(own, shape_descriptors(reflected)) == [], (f, reflected)


def test_descriptors_tell_shapes_apart_and_say_when_they_do_not_apply() -> None:
    erf, softsign = shape_descriptors("erf(x)"), shape_descriptors("x/(1 + abs(x))")
    assert softsign["knee"] > 3 * erf["knee"]  # 1/x approach against Gaussian tails
    assert softsign["tail"] > 0.1 > erf["tail"]
    assert shape_descriptors("2*x/(1 + x**2)")["retreat"] > 0.99 > erf["retreat"]
    assert shape_descriptors("erf(x + 1)")["asymmetry"] > 0.5 > erf["asymmetry"]
    assert shape_descriptors("clip(x, -1, 1)")["linearity"] == 1.0
    assert all(math.isnan(v) for v in shape_descriptors("asinh(x)").values())  # no saturation


def test_check_json_shows_the_descriptors() -> None:
    entry = check("erf(x)").to_dict()
    assert list(entry["shape"]) == list(SHAPE_DESCRIPTORS)
    assert entry["shape"]["retreat"] == 0.0
    assert set(check("x").to_dict()["shape"].values()) == {None}
