"""Dedupe modulo the template: canonical forms, behaviour signatures and stable ids."""

from __future__ import annotations

import pytest

from candidates import (
    behaviour_signature,
    candidate_id,
    canonical_form,
    check,
    compile_numpy,
    parse,
    to_source,
)


def _sig(text: str) -> str | None:
    return behaviour_signature(compile_numpy(parse(text)))


@pytest.mark.parametrize(
    "variant",
    [
        "3*tanh(x)",
        "tanh(2*x)",
        "-tanh(x)",
        "tanh(-x)",
        "-pi*tanh(x/7)",
        "2*sigmoid(2*x) - 1",
        "1 - 2/(1 + exp(2*x))",
        "(exp(2*x) - 1)/(exp(2*x) + 1)",
    ],
)
def test_template_equivalents_share_the_signature_of_tanh(variant: str) -> None:
    assert _sig(variant) == _sig("tanh(x)")


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("erf(x)", "tanh(x)"),
        ("erf(x)", "erf(x) + 1"),
        ("erf(x)", "erf(x + 1)"),
        ("atan(x)", "x/(1 + abs(x))"),
        ("clip(x, -1, 1)", "clip(x, -1, 2)"),
    ],
)
def test_different_functions_keep_different_signatures(a: str, b: str) -> None:
    assert _sig(a) != _sig(b)


@pytest.mark.parametrize(
    ("text", "canonical"),
    [
        ("-3*tanh(2*x)", "tanh(x)"),
        ("5*erf(x/2)", "erf(x)"),
        ("2/pi*atan(x)", "atan(x)"),
        ("2*clip(3*x, -1, 1)", "clip(x, -1, 1)"),
        ("erf(-x)", "erf(x)"),
        ("x/2", "x"),
    ],
)
def test_canonical_form_strips_what_the_template_absorbs(text: str, canonical: str) -> None:
    assert to_source(canonical_form(parse(text))) == canonical


def test_ids_are_stable_hashes_of_the_canonical_form() -> None:
    # A fixed value: ids must not change between releases, or studies cannot resume.
    assert candidate_id(canonical_form(parse("erf(x)"))) == "c825163766c8"
    assert check("erf(3*x)").candidate.id == check("erf(x)").candidate.id
    assert check("erf(x) + 1").candidate.id != check("erf(x)").candidate.id
