"""The time limit the symbolic checks run under: it ends its block even when the block swallows
its exception, and never fires after the block."""

from __future__ import annotations

import time

import pytest

from candidates.checks import RETRY_SECONDS, SymbolicTimeout, time_limit


def test_a_time_limit_whose_exception_is_swallowed_fires_again() -> None:
    # Python drops an exception raised in a garbage-collector callback or a __del__; here the
    # block itself swallows the first one. The limit must still end the block, not let it run.
    swallowed = 0
    start = time.perf_counter()
    with pytest.raises(SymbolicTimeout), time_limit(0.1):
        while time.perf_counter() - start < 5:
            try:
                while time.perf_counter() - start < 5:
                    pass
            except SymbolicTimeout:
                swallowed += 1
                if swallowed > 1:
                    raise
    elapsed = time.perf_counter() - start
    assert swallowed == 2 and elapsed < 0.1 + 3 * RETRY_SECONDS + 0.5


def test_a_time_limit_never_fires_after_its_block() -> None:
    with time_limit(0.05):
        pass
    time.sleep(0.3)  # a stray SIGALRM would raise here
