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
from types import FrameType
from typing import Any


class SymbolicTimeout(Exception):
    """Symbolic work ran past its time limit."""


class SymbolicUnavailable(Exception):
    """No time limit can be enforced here (not the main thread), so sympy is not run at all."""


def can_limit_time() -> bool:
    """True where :func:`time_limit` can interrupt work (the main thread of a POSIX process)."""
    return hasattr(signal, "setitimer") and threading.current_thread() is threading.main_thread()


#: After the first expiry the signal repeats this often (seconds) until the block is left: a
#: SymbolicTimeout raised where Python swallows exceptions (a garbage-collector callback, a
#: ``__del__``) is raised again, so no block outlives its limit by more than this.
RETRY_SECONDS = 0.05


class time_limit:  # a function's name: it is used as ``with time_limit(seconds):``
    """Raise :class:`SymbolicTimeout` inside the block once ``seconds`` have passed."""

    def __init__(self, seconds: float) -> None:
        if seconds <= 0:
            raise SymbolicTimeout("no time left")
        if not can_limit_time():
            raise SymbolicUnavailable("symbolic checks need the main thread for their time limit")
        self.seconds = seconds
        self.previous: Any = None

    def _expire(self, signum: int, frame: FrameType | None) -> None:
        # Not while the block is being entered or left: an exception out of __enter__ would
        # skip __exit__ and leave the timer armed; in __exit__ disarming is under way. The
        # next repeat comes inside the block.
        if frame is not None and frame.f_code in _OWN_CODE:
            return
        raise SymbolicTimeout(f"symbolic work took longer than {self.seconds:g} s")

    def __enter__(self) -> None:
        self.previous = signal.signal(signal.SIGALRM, self._expire)
        signal.setitimer(signal.ITIMER_REAL, self.seconds, RETRY_SECONDS)

    def __exit__(self, *exc: object) -> None:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, self.previous)


_OWN_CODE = (time_limit.__enter__.__code__, time_limit.__exit__.__code__)
