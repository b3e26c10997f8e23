"""Paired comparisons between the candidates of one task, and the tie groups they imply.

Seeds are paired across candidates: seed k gives every candidate the same initialisation
stream and the same data order, so the difference of two candidates at one seed cancels
most of what the seed does to both. A difference is the mean over the seeds both finished;
its standard error and a two-sided paired t-test come from the per-seed differences.

Tie groups turn the tests into a mark a reader can use: the leader's group holds every
candidate whose paired difference to the leader is not significant at a false discovery rate
of 5% (Benjamini–Hochberg over the comparisons made with the leader); the best candidate left
opens the next group, tested the same way against the rest, and so on. A candidate that cannot
be tested against the leader (fewer than two seeds in common, or the same nonzero difference at
every seed) gets no group: it is neither tied with the leader nor separated from it.
Why not a family-wise correction (Holm): with the few seeds a proxy affords, a paired t-test
has one or two degrees of freedom, and Holm over 27 comparisons then ties a function 16
standard errors behind the leader with it; a false discovery rate keeps the marks useful and
says what it controls.

Example:
    >>> values = {"erf": {0: 0.90, 1: 0.92, 2: 0.91}, "tanh": {0: 0.89, 1: 0.92, 2: 0.90},
    ...           "x": {0: 0.50, 1: 0.52, 2: 0.55}}
    >>> d = paired_difference(values["tanh"], values["erf"])
    >>> round(d.mean, 4), round(d.se, 4), d.n
    (-0.0067, 0.0033, 3)
    >>> tie_groups(["erf", "tanh", "x"], values)
    {'erf': 'a', 'tanh': 'a', 'x': 'b'}
"""

from __future__ import annotations

import math
import statistics
import string
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

#: The false discovery rate of a tie group's tests (Benjamini–Hochberg).
TIE_ALPHA = 0.05

SeedValues = Mapping[int, float]


@dataclass(frozen=True)
class Paired:
    """``a − b`` over the seeds both finished: mean, standard error, seeds, two-sided p."""

    mean: float
    se: float
    n: int
    p: float


def paired_difference(a: SeedValues, b: SeedValues) -> Paired:
    """The paired difference ``a − b`` over the seeds where both values are finite.

    >>> paired_difference({0: 1.0, 1: 2.0}, {0: 0.5, 1: 1.0, 2: 9.0})
    Paired(mean=0.75, se=0.25, n=2, p=0.20483276469913345)
    """
    from scipy.stats import t as student_t

    seeds = sorted(s for s in set(a) & set(b) if math.isfinite(a[s]) and math.isfinite(b[s]))
    diffs = [a[s] - b[s] for s in seeds]
    if not diffs:
        return Paired(math.nan, math.nan, 0, math.nan)
    mean = statistics.fmean(diffs)
    if len(diffs) < 2:
        return Paired(mean, math.nan, 1, math.nan)
    se = statistics.stdev(diffs) / math.sqrt(len(diffs))
    if se == 0:
        # The same difference at every seed: none at all is no difference; any other cannot be
        # tested (a metric's coarse steps make it likely with few seeds, not certain).
        return Paired(mean, 0.0, len(diffs), 1.0 if mean == 0 else math.nan)
    p = 2 * float(student_t.sf(abs(mean) / se, df=len(diffs) - 1))
    return Paired(mean, se, len(diffs), p)


def benjamini_hochberg(pvalues: Sequence[float], alpha: float = TIE_ALPHA) -> list[bool]:
    """Which hypotheses the Benjamini–Hochberg procedure rejects at false discovery rate
    ``alpha`` (nan is never rejected).

    >>> benjamini_hochberg([0.01, 0.04, 0.03, 0.2])
    [True, False, False, False]
    >>> benjamini_hochberg([0.01, 0.02, 0.03, 0.04])
    [True, True, True, True]
    """
    from scipy.stats import false_discovery_control

    tested = [i for i, p in enumerate(pvalues) if not math.isnan(p)]
    rejected = [False] * len(pvalues)
    if tested:
        adjusted = false_discovery_control([pvalues[i] for i in tested], method="bh")
        for i, q in zip(tested, adjusted, strict=True):
            rejected[i] = bool(q <= alpha)
    return rejected


def group_letter(index: int) -> str:
    """a, b, …, z, then aa, ab, …: the mark of the ``index``-th tie group (from 0)."""
    letters = string.ascii_lowercase
    return letters[index] if index < 26 else group_letter(index // 26 - 1) + letters[index % 26]


def tie_groups(
    ranked: Sequence[str],
    values: Mapping[str, SeedValues],
    *,
    alpha: float = TIE_ALPHA,
) -> dict[str, str]:
    """A tie-group letter for each candidate of ``ranked`` (best first) that has a finished
    value: see the module's description."""
    left = [k for k in ranked if any(math.isfinite(v) for v in values.get(k, {}).values())]
    if left:  # untestable against the leader: no group at all
        leader = left[0]
        left = [leader] + [
            k for k in left[1:] if not math.isnan(paired_difference(values[k], values[leader]).p)
        ]
    groups: dict[str, str] = {}
    index = 0
    while left:
        head, rest = left[0], left[1:]
        tests = [paired_difference(values[k], values[head]) for k in rest]
        separable = benjamini_hochberg([d.p for d in tests], alpha)
        mark = group_letter(index)
        groups[head] = mark
        for key, apart in zip(rest, separable, strict=True):
            if not apart:
                groups[key] = mark
        left = [k for k, apart in zip(rest, separable, strict=True) if apart]  # still ranked
        index += 1
    return groups
