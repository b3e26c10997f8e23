"""A time limit for symbolic work, so that sympy can never hang a search.

sympy is pure Python, so an interval timer's signal interrupts it between bytecodes. Signals
reach only the main thread: elsewhere (a worker thread) symbolic work is not attempted and the
callers fall back to numeric checks.

Example:
    >>> with time_limit(1.0):
    ...     total = sum(range(10))
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType


class SymbolicTimeout(Exception):
    """Symbolic work ran past its time limit."""


class SymbolicUnavailable(Exception):
    """No time limit can be enforced here (not the main thread), so sympy is not run at all."""


def can_limit_time() -> bool:
    """True where :func:`time_limit` can interrupt work (the main thread of a POSIX process)."""
    return hasattr(signal, "setitimer") and threading.current_thread() is threading.main_thread()


@contextmanager
def time_limit(seconds: float) -> Iterator[None]:
    """Raise :class:`SymbolicTimeout` inside the block once ``seconds`` have passed."""
    if seconds <= 0:
        raise SymbolicTimeout("no time left")
    if not can_limit_time():
        raise SymbolicUnavailable("symbolic checks need the main thread for their time limit")

    def expire(signum: int, frame: FrameType | None) -> None:
        raise SymbolicTimeout(f"symbolic work took longer than {seconds:g} s")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
