"""A progress bar per stage of a long command (tqdm, on stderr).

Example:
    >>> with StageProgress(enabled=False) as progress:
    ...     progress.update("screen", 100, 1000)
"""

from __future__ import annotations

from types import TracebackType
from typing import Any

_LABELS = {
    "screen": "screening",
    "dedupe": "deduplicating",
    "sympy": "checking",
    "train": "training",
}


class StageProgress:
    """One tqdm bar for each named stage; ``update(stage, n, total)``.

    For the screen ``n`` is an increment; for the other stages it is the count done so far.
    """

    def __init__(self, *, enabled: bool = True) -> None:
        self.enabled = enabled
        self.bars: dict[str, Any] = {}

    def __enter__(self) -> StageProgress:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        for bar in self.bars.values():
            bar.close()

    def update(self, stage: str, n: int, total: int | None) -> None:
        if not self.enabled:
            return
        from tqdm import tqdm

        bar = self.bars.get(stage)
        if bar is None:
            for other in self.bars.values():
                other.close()
            bar = tqdm(
                total=total,
                desc=_LABELS.get(stage, stage),
                unit=" expr",
                dynamic_ncols=True,
                leave=True,
                mininterval=0.5,
            )
            self.bars[stage] = bar
        if stage == "screen":
            bar.update(n)
        else:
            bar.update(n - bar.n)
