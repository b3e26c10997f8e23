"""Zero-cost predictors: a calibration's baseline that trains nothing.

A descriptor of f at its α0 (:func:`candidates.describe`: the output spread under Gaussian
inputs, the relative slope at 0) predicts a cell's effect as the descriptor's difference to its
reference cells'. Its categories cut those effects at the quantiles that reproduce the
reference's category shares over the scored cells: the lowest effects are FAIL, the next
DEGRADE, as many as the reference has. That cut knows the reference's base rates, which the
trained proxy's fixed rules do not, so a calibration cuts the proxy's effects the same way
too and compares that pair. A trained proxy that does not beat this is not worth its CPU.

Example:
    >>> effects = {"a": -0.5, "b": 0.0, "c": -0.1, "d": 0.2}
    >>> reference = {"a": "FAIL", "b": "FINE", "c": "DEGRADE", "d": "FINE"}
    >>> cut_at_shares(effects, reference)
    {'a': 'FAIL', 'c': 'DEGRADE', 'b': 'FINE', 'd': 'FINE'}
"""

from __future__ import annotations

import statistics
from collections.abc import Mapping, Sequence

from candidates import describe

from ._reference import CATEGORIES, Category

#: The descriptors scored as zero-cost predictors (fields of :class:`candidates.Descriptors`).
DESCRIPTORS = ("spread", "slope")


def descriptor_effects(
    descriptor: str,
    scored: Sequence[str],
    references: Mapping[str, Sequence[str]],
    functions: Mapping[str, tuple[str, float]],
) -> dict[str, float]:
    """Each scored cell's descriptor minus its reference cells' mean. ``functions`` maps a
    cell key to (expression, α0); ``references`` a scored cell to its reference cells' keys."""

    def value(key: str) -> float:
        expression, alpha0 = functions[key]
        return float(getattr(describe(expression, alpha0=alpha0), descriptor))

    return {key: value(key) - statistics.fmean(value(r) for r in references[key]) for key in scored}


def cut_at_shares(
    effects: Mapping[str, float], reference: Mapping[str, Category]
) -> dict[str, Category]:
    """Categories from effects: the reference's shares of FAIL and DEGRADE among these cells
    go to the lowest effects. Effects equal to 9 decimals are one value, and a group
    of equal values that straddles a cut takes the category most of its places fall in, so
    the result does not depend on the cells' order."""
    rounded = {k: round(v, 9) + 0.0 for k, v in effects.items()}  # + 0.0: no -0.0
    order = sorted(rounded, key=lambda k: (rounded[k], k))
    fails = sum(reference[k] == "FAIL" for k in effects)
    degrades = sum(reference[k] == "DEGRADE" for k in effects)
    by_place: list[Category] = [
        "FAIL" if i < fails else "DEGRADE" if i < fails + degrades else "FINE"
        for i in range(len(order))
    ]
    out: dict[str, Category] = {}
    start = 0
    while start < len(order):
        end = start
        while end < len(order) and rounded[order[end]] == rounded[order[start]]:
            end += 1
        places = by_place[start:end]
        # the most common category of the group's places; on a tie, the worse one
        group = max(CATEGORIES, key=lambda c: (places.count(c), -CATEGORIES.index(c)))
        out.update(dict.fromkeys(order[start:end], group))
        start = end
    return {k: out[k] for k in order}
