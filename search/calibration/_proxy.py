"""The proxy's side of a calibration: each cell's category from its trained runs.

A run's value per seed comes from the study; a diverged seed counts as the task's untrained
level (chance, zero-noise prediction, a context-free model). Seeds are paired: every function
of a seed starts from the same initialisation and data order, so a cell is compared with its
reference cells seed by seed.

- FAIL: every seed diverged, or the mean recovers at most :data:`FAIL_GAIN` of LayerNorm's gain
  over the untrained level;
- DEGRADE: worse than the mean of its reference cells' runs by more than :data:`DEGRADE_SE`
  standard errors of the paired difference;
- FINE: otherwise.

The effect of a cell is the mean paired difference as a fraction of LayerNorm's gain (signed
so that worse is lower): comparable across tasks.

Example:
    >>> values = {"ln": {0: 0.9, 1: 0.92}, "erf": {0: 0.8, 1: 0.82}, "bad": {0: 0.6, 1: 0.61},
    ...           "dead": {0: math.nan, 1: 0.11}}
    >>> rule = ProxyRule(untrained=0.1, layernorm="ln", direction="maximize")
    >>> rule.judge("bad", ["erf"], values).category, rule.judge("erf", ["erf"], values).category
    ('DEGRADE', 'FINE')
    >>> rule.judge("dead", ["erf"], values).category
    'FAIL'

    With two seeds the standard error has one degree of freedom: a cell with no real effect is
    called DEGRADE about 15% of the time (9% with three seeds), not the 2.3% of a normal
    tail. Calibrate with three seeds where the cost allows.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

from ._reference import Category

#: A run recovering at most this share of LayerNorm's gain over the untrained level failed.
FAIL_GAIN = 0.10
#: A cell worse than its reference by more than this many standard errors degraded.
DEGRADE_SE = 2.0

#: run key -> seed -> the metric (nan: the seed diverged)
Values = Mapping[str, Mapping[int, float]]


@dataclass(frozen=True)
class ProxyCell:
    """What the proxy says about one cell."""

    category: Category | None  # None: its runs (or its reference's) are not measured yet
    mean: float  # the cell's metric over seeds, a diverged seed at the untrained level
    effect: float  # mean paired difference to its reference, in LayerNorm gains (worse: lower)
    se: float  # standard error of that difference, in LayerNorm gains
    seeds: int  # paired seeds
    diverged: int


@dataclass(frozen=True)
class ProxyRule:
    """The proxy's category rules for one task."""

    untrained: float | None
    layernorm: str  # the run key of LayerNorm
    direction: Literal["maximize", "minimize"]

    @property
    def sign(self) -> float:
        return 1.0 if self.direction == "maximize" else -1.0

    def _value(self, value: float) -> float:
        if math.isfinite(value):
            return value
        return self.untrained if self.untrained is not None else math.nan

    def gain(self, values: Values) -> float:
        """LayerNorm's mean gain over the untrained level (nan where it is not known)."""
        ln = [self._value(v) for v in values.get(self.layernorm, {}).values()]
        ln = [v for v in ln if math.isfinite(v)]
        if not ln or self.untrained is None:
            return math.nan
        gain = self.sign * (statistics.fmean(ln) - self.untrained)
        return gain if gain > 0 else math.nan

    def judge(self, run: str, references: Sequence[str], values: Values) -> ProxyCell:
        """The category of the cell trained as ``run``, against the mean of ``references``."""
        own = values.get(run, {})
        refs = [values.get(r, {}) for r in dict.fromkeys(references)]
        seeds = sorted(set(own).intersection(*refs)) if refs else []
        if not own or not seeds or (self.untrained is not None and self.layernorm not in values):
            # not measured yet: the cell, its reference, or LayerNorm (the unit of effects)
            return ProxyCell(None, math.nan, math.nan, math.nan, 0, 0)
        diverged = sum(not math.isfinite(v) for v in own.values())
        mine = [self._value(own[s]) for s in seeds]
        ref = [statistics.fmean(self._value(r[s]) for r in refs) for s in seeds]
        mean = statistics.fmean(self._value(v) for v in own.values())
        gain = self.gain(values)
        unit = gain if math.isfinite(gain) else 1.0
        diffs = [self.sign * (a - b) / unit for a, b in zip(mine, ref, strict=True)]
        effect = statistics.fmean(diffs) if all(map(math.isfinite, diffs)) else math.nan
        se = statistics.stdev(diffs) / math.sqrt(len(diffs)) if len(diffs) > 1 else math.nan
        category: Category = "FINE"
        recovered = self.sign * (mean - self.untrained) / gain if self.untrained is not None else 1
        if diverged == len(own) or (math.isfinite(gain) and recovered <= FAIL_GAIN):
            category = "FAIL"
        elif (
            math.isfinite(effect) and math.isfinite(se) and effect < 0 and -effect > DEGRADE_SE * se
        ):
            category = "DEGRADE"
        return ProxyCell(category, mean, effect, se, len(seeds), diverged)
