"""What f is modulo the template's scales and sign: its canonical form and stable id, its
behaviour hash, and the shape and scale descriptors a search learns from.

Imports the expressions, checks and catalog rooms.

Example:
    >>> from candidates.expr import parse
    >>> candidate_id(canonical_form(parse("-3*tanh(2*x)"))) == candidate_id(parse("tanh(x)"))
    True
    >>> list(SCALE_DESCRIPTORS)
    ['height', 'width']
"""

from __future__ import annotations

from ._canonical import behaviour_signature, candidate_id, canonical_form
from ._descriptors import GAUSSIAN, Descriptors, describe, matched_alpha0, spread_of
from ._shape import SCALE_DESCRIPTORS, SHAPE_DESCRIPTORS, shape_descriptors

__all__ = [
    "GAUSSIAN",
    "SCALE_DESCRIPTORS",
    "SHAPE_DESCRIPTORS",
    "Descriptors",
    "behaviour_signature",
    "candidate_id",
    "canonical_form",
    "describe",
    "matched_alpha0",
    "shape_descriptors",
    "spread_of",
]
