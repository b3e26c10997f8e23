"""A progress bar per stage of a long command (tqdm, on stderr).

Example:
    >>> with StageProgress(enabled=False) as progress:
    ...     progress.update("screen", 100, 1000)
    >>> import io
    >>> shown = io.StringIO()
    >>> with StageProgress(stream=shown) as progress:
    ...     progress.update("train", 5, 10)
    >>> "5/10" in shown.getvalue() and "step/s" in shown.getvalue()
    True
"""

from __future__ import annotations

from types import TracebackType
from typing import Any, TextIO

_LABELS = {
    "screen": "screening",
    "dedupe": "deduplicating",
    "sympy": "checking",
    "describe": "describing",
    "train": "training",
}
#: What a stage counts: expressions, except training, which counts optimizer steps.
_UNITS = {"train": " step"}


class StageProgress:
    """One tqdm bar for each named stage; ``update(stage, n, total)``.

    For the screen ``n`` is an increment; for the other stages it is the count done so far.
    """

    def __init__(self, *, enabled: bool = True, stream: TextIO | None = None) -> None:
        self.enabled = enabled
        self.stream = stream  # where the bars go (None: stderr)
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
                unit=_UNITS.get(stage, " expr"),
                dynamic_ncols=True,
                leave=True,
                mininterval=0.5,
                file=self.stream,
            )
            self.bars[stage] = bar
        if stage == "screen":
            bar.update(n)
        else:
            bar.update(n - bar.n)
