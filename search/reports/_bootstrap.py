"""Percentile bootstrap intervals: how far a figure could move on another sample like this one.

One coverage and one resample count for every interval the reports print (a sampler's ratio
over replays, a κ difference over cells), so that "95%" means the same everywhere.

Example:
    >>> import numpy as np
    >>> draws = np.random.default_rng(0).normal(size=RESAMPLES)
    >>> low, high = percentile_interval(draws)
    >>> round(low, 1), round(high, 1)
    (-1.9, 1.9)
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

#: The share of the resampled figures an interval covers.
COVERAGE = 0.95
#: Resamples behind an interval.
RESAMPLES = 2000


def percentile_interval(draws: Sequence[float] | np.ndarray) -> tuple[float, float]:
    """The central :data:`COVERAGE` interval of ``draws`` (the figure over the resamples).

    >>> percentile_interval([1.0, 2.0, 3.0, 4.0, 5.0])
    (1.1, 4.9)
    """
    tail = (1 - COVERAGE) / 2
    values = np.asarray(draws, dtype=float)
    return float(np.quantile(values, tail)), float(np.quantile(values, 1 - tail))
