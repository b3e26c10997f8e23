"""Fuzzing the parser and the grammar loader: every input ends in a result or in one line of
UserError, never in another exception, a hang or a memory blow-up.

Inputs are random text, and text shaped like the languages and broken on purpose: trees over the
expression vocabulary (with huge, tiny and nan-like numbers, unbalanced brackets, Python payloads)
from ``search.bench.random_expression``, grammar files from ``search.bench.random_grammar`` and
hypothesis's own TOML documents with the grammar's sections and keys and values of any type.
The default run tries a few hundred inputs of each kind; the tests marked slow
(``pytest -m slow``) try 2,000 each. Runs are derandomized (the same inputs every time) and
write no example database. A CPU-time signal repeats until the case is left, so one that lands
in a finalizer, where Python swallows it, does not leave a spinning case to the last resort.

Each case is bounded three ways: CPU seconds (a signal ends the case and fails it), traced
memory (the peak of the case, checked after it), and wall-clock seconds as a last resort for
code that never returns to Python: faulthandler then prints every thread's stack and ends the
test process, so a hang fails the run instead of freezing it.
"""

from __future__ import annotations

import faulthandler
import signal
import string
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from types import FrameType
from typing import Any

import pytest
import tomli_w
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from candidates import UserError, load_grammar, parse, parse_grammar
from search.bench import random_expression, random_grammar

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

#: Far above what any case needs (milliseconds, and about a second for the largest grammar
#: definitions), far below a hang.
CPU_SECONDS_PER_CASE = 10.0
WALL_SECONDS_PER_CASE = 120.0
#: Memory a single case may add at its peak.
PEAK_BYTES_PER_CASE = 256 << 20

FAST_EXAMPLES = 300
CI_EXAMPLES = 2000


class CaseTimeout(BaseException):
    """A case ran past its CPU time. A BaseException, so that no ``except Exception`` in the
    code under test can swallow it."""


#: After the first expiry the CPU-time signal repeats this often until the case is left: a
#: CaseTimeout raised where Python swallows exceptions (a finalizer the collector runs in the
#: middle of a case) is raised again, instead of leaving the case to the wall-clock bound.
RETRY_CPU_SECONDS = 0.05


class bounded_case:  # a function's name: it is used as ``with bounded_case():``
    """Run one case under the CPU, memory and wall-clock bounds above."""

    def __init__(
        self, *, cpu_seconds: float = CPU_SECONDS_PER_CASE, peak_bytes: int = PEAK_BYTES_PER_CASE
    ) -> None:
        self.cpu_seconds = cpu_seconds
        self.peak_bytes = peak_bytes
        self.can_signal = hasattr(signal, "setitimer")
        self.previous: Any = None
        self.memory: PeakMemory | None = None

    def _expire(self, signum: int, frame: FrameType | None) -> None:
        # Not while the bounds are being set or lifted: an exception out of __enter__ would skip
        # __exit__ and leave the timers armed. The next repeat comes inside the case.
        if frame is not None and frame.f_code in _OWN_CODE:
            return
        raise CaseTimeout(f"the case used more than {self.cpu_seconds:g} CPU seconds")

    def __enter__(self) -> None:
        self.memory = PeakMemory()
        if self.can_signal:  # CPU time, not wall time: a busy machine does not fail a case
            self.previous = signal.signal(signal.SIGPROF, self._expire)
            signal.setitimer(signal.ITIMER_PROF, self.cpu_seconds, RETRY_CPU_SECONDS)
        faulthandler.dump_traceback_later(WALL_SECONDS_PER_CASE, exit=True)

    def __exit__(self, kind: type[BaseException] | None, *rest: object) -> None:
        faulthandler.cancel_dump_traceback_later()
        if self.can_signal:
            signal.setitimer(signal.ITIMER_PROF, 0)
            signal.signal(signal.SIGPROF, self.previous)
        assert self.memory is not None
        peak = self.memory.growth()
        if kind is None:
            assert peak <= self.peak_bytes, f"the case held {peak / 2**20:.0f} MiB more at its peak"


_OWN_CODE = (bounded_case.__enter__.__code__, bounded_case.__exit__.__code__)


class PeakMemory:
    """How much more memory the process held at its peak since this was made: the resident
    set on Linux (the kernel's high-water mark, reset through /proc/self/clear_refs), else
    what tracemalloc traces (several times slower)."""

    def __init__(self) -> None:
        self.proc = Path("/proc/self/clear_refs").exists()
        if self.proc:
            Path("/proc/self/clear_refs").write_text("5")  # high-water mark := current
            self.before = self._status("VmRSS")
        else:
            if not tracemalloc.is_tracing():
                tracemalloc.start()
            self.before = tracemalloc.get_traced_memory()[0]
            tracemalloc.reset_peak()

    @staticmethod
    def _status(field: str) -> int:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
        raise AssertionError(f"no {field} in /proc/self/status")

    def growth(self) -> int:
        peak = self._status("VmHWM") if self.proc else tracemalloc.get_traced_memory()[1]
        return peak - self.before


def handled(call: Callable[[Any], object], value: Any, **bounds: Any) -> None:
    """The property: ``call(value)`` returns, or raises a UserError of one line."""
    with bounded_case(**bounds):
        try:
            call(value)
        except UserError as exc:
            assert "\n" not in str(exc), f"an error over several lines: {exc}"


def load_grammar_bytes(raw: bytes) -> object:
    """A grammar file as a user's file is read: from disk, as bytes."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "fuzz.toml"
        path.write_bytes(raw)
        return load_grammar(path)


def load_any_grammar(document: str | bytes) -> object:
    if isinstance(document, bytes):
        return load_grammar_bytes(document)
    return parse_grammar(document, "fuzz.toml")


# --- strategies ----------------------------------------------------------------------------

# Printable ASCII (the language's own characters, mostly) and any other code point.
TEXT = st.text(st.sampled_from(string.printable) | st.characters(), max_size=300)
EXPRESSIONS = st.one_of(TEXT, st.randoms(use_true_random=False).map(random_expression))


def _grammar_schema() -> dict[str, list[str]]:
    # The default grammar documents every section and key.
    with open(load_grammar().path, "rb") as file:
        return {section: list(table) for section, table in tomllib.load(file).items()}


SCHEMA = _grammar_schema()
TOML_VALUES = st.recursive(
    st.booleans()
    | st.integers()
    | st.floats()
    | st.text(max_size=30)
    | st.sampled_from(["erf", "tanh", "+", "**", "shift+mirror", "pi", "x/(1 + abs(x))"])
    | st.dates(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner),
    max_leaves=8,
)
KEYS = st.sampled_from(sorted({k for keys in SCHEMA.values() for k in keys})) | st.text(max_size=12)
SECTIONS = st.sampled_from([*SCHEMA, "operator", ""]) | st.text(max_size=12)
TOML_DOCUMENTS = st.dictionaries(
    SECTIONS, st.dictionaries(KEYS, TOML_VALUES, max_size=5), max_size=4
).map(tomli_w.dumps)
GRAMMARS = st.one_of(
    TEXT,
    TOML_DOCUMENTS,
    st.randoms(use_true_random=False).map(random_grammar),
    st.binary(max_size=300),
)


def fuzz_settings(examples: int) -> settings:
    return settings(
        max_examples=examples,
        derandomize=True,  # the same inputs on every run and every machine
        database=None,  # nothing written into the repository
        deadline=timedelta(seconds=5),  # a soft check; bounded_case is the hard one
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )


# --- the parser ----------------------------------------------------------------------------


@fuzz_settings(FAST_EXAMPLES)
@given(EXPRESSIONS)
def test_the_parser_handles_any_text(text: str) -> None:
    handled(parse, text)


@pytest.mark.slow
@fuzz_settings(CI_EXAMPLES)
@given(EXPRESSIONS)
def test_the_parser_handles_any_text_2000_cases(text: str) -> None:
    handled(parse, text)


# --- the grammar loader --------------------------------------------------------------------


@fuzz_settings(FAST_EXAMPLES)
@given(GRAMMARS)
def test_the_grammar_loader_handles_any_file(document: str | bytes) -> None:
    handled(load_any_grammar, document)


@pytest.mark.slow
@fuzz_settings(CI_EXAMPLES)
@given(GRAMMARS)
def test_the_grammar_loader_handles_any_file_2000_cases(document: str | bytes) -> None:
    handled(load_any_grammar, document)


# --- the bounds themselves -----------------------------------------------------------------


def spin_for(seconds: float) -> None:
    """Busy CPU work for ``seconds`` of wall time: far past the CPU bounds below, yet a failing
    bound ends in a failed test rather than in the wall-clock bound ending the test process."""
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        pass


def test_a_case_past_its_cpu_time_fails() -> None:
    with pytest.raises(CaseTimeout):
        handled(lambda _: spin_for(30.0), None, cpu_seconds=0.2)


class BusyFinalizer:
    """An object whose finalizer does a second of CPU work: the first CPU-time signal lands in
    it, and Python reports the exception there as unraisable instead of raising it."""

    def __del__(self) -> None:
        end = time.process_time() + 1.0
        while time.process_time() < end:
            pass


@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
def test_a_case_whose_first_timeout_is_swallowed_still_fails() -> None:
    def swallow_then_spin(_: object) -> None:
        BusyFinalizer()  # finalized at once; the first expiry comes during its second
        spin_for(30.0)

    with pytest.raises(CaseTimeout):
        handled(swallow_then_spin, None, cpu_seconds=0.2)


def test_a_case_holding_too_much_memory_fails() -> None:
    def hoard(_: object) -> None:
        # Written, so that it is resident; above glibc's largest mmap threshold (32 MiB), so
        # that it is new pages, not heap a long test session has already made resident.
        held = bytearray(b"x" * (64 << 20))
        del held

    with pytest.raises(AssertionError, match="at its peak"):
        handled(hoard, None, peak_bytes=8 << 20)


def test_an_exception_that_is_not_a_user_error_fails() -> None:
    def crash(_: object) -> None:
        raise KeyError("bug")

    with pytest.raises(KeyError):
        handled(crash, None)
