"""`derf-search benchmark hostile`: hostile inputs through the expression checker and the grammar
loader, each in a worker process under a time and memory limit, counted and printed.

A case is *handled* when it ends in a result or in one line of :class:`candidates.UserError`
(what the command line prints for a user's mistake). Anything else is counted: a *traceback*
(any other exception, a worker that died, an error message over several lines) or a *hang* (no
answer within the time limit: the worker is killed and replaced). Peak memory is the largest
resident set of any worker, killed ones included. A Python warning a case raised (which the
command line would print on stderr beside its answer) is counted and listed too.

Example:
    >>> from search.bench import HostileCase
    >>> run_case(HostileCase("expression", "tahn(x)", "doc"))[0]
    'error'

    $ derf-search benchmark hostile --cases 1000 --timeout 20
"""

from __future__ import annotations

import contextlib
import multiprocessing as mp
import os
import resource
import sys
import tempfile
import time
import traceback
import warnings
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from multiprocessing.connection import Connection, wait
from pathlib import Path
from typing import Any, Literal, get_args

from ._hostile_cases import HostileCase, hostile_corpus
from ._hostile_random import random_cases

#: ``wrong``: a command line that ran (or wrote a file) where a refusal belongs.
Status = Literal["result", "error", "traceback", "hang", "wrong"]
#: Address space a worker may add to what it holds at start: a runaway allocation is then a
#: MemoryError in that worker (a traceback), not a machine out of memory.
MEMORY_HEADROOM_BYTES = 4 << 30
#: How much of a traceback is kept for the report.
KEEP_CHARS = 2000


@dataclass(frozen=True)
class Outcome:
    """How one case ended."""

    case: HostileCase
    status: Status
    seconds: float
    detail: str  # the one-line error, a short result, or the traceback
    warning: str = ""  # the first Python warning the case raised, if any


@dataclass(frozen=True)
class HostileFigures:
    """The counts of a run; ``handled`` is results plus one-line errors."""

    tried: int
    results: int
    errors: int
    tracebacks: int
    hangs: int
    warned: int
    peak_rss_mib: float
    seconds: float
    outcomes: list[Outcome] = field(default_factory=list, repr=False)
    wrong: int = 0  # command lines that ran or wrote where a refusal belongs

    @property
    def handled(self) -> int:
        return self.results + self.errors


def _max_rss_bytes(who: int) -> int:
    # ru_maxrss is KiB on Linux and bytes on macOS.
    rss = resource.getrusage(who).ru_maxrss
    return int(rss if sys.platform == "darwin" else rss * 1024)


def _peak_rss_of(pid: int) -> int:
    """The peak resident set of a live process (Linux), read before it is killed."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
        return next(int(line.split()[1]) * 1024 for line in status.splitlines() if "VmHWM" in line)
    except (OSError, StopIteration, ValueError):
        return 0


def _limit_memory() -> None:
    try:
        status = Path("/proc/self/status").read_text()
        size = next(int(line.split()[1]) * 1024 for line in status.splitlines() if "VmSize" in line)
    except (OSError, StopIteration, ValueError):
        return  # not Linux: no limit to set relative to the current size
    _, hard = resource.getrlimit(resource.RLIMIT_AS)
    limit = size + MEMORY_HEADROOM_BYTES
    if hard == resource.RLIM_INFINITY or limit < hard:
        resource.setrlimit(resource.RLIMIT_AS, (limit, hard))


def run_case(case: HostileCase) -> tuple[Status, str]:
    """Run one case in this process: ``("result" | "error" | "traceback", detail)``."""
    from candidates import UserError, check, load_grammar, parse_grammar

    try:
        if case.kind == "expression":
            assert isinstance(case.text, str)
            report = check(case.text)
            return "result", f"{report.candidate.canonical}: passed={report.passed}"
        if isinstance(case.text, bytes):
            with tempfile.TemporaryDirectory() as tmp:
                path = Path(tmp) / "hostile.toml"
                path.write_bytes(case.text)
                grammar = load_grammar(path)
        else:
            grammar = parse_grammar(case.text, "hostile.toml")
        return "result", f"grammar {grammar.name!r}, {len(grammar.primitives)} primitives"
    except UserError as exc:
        message = str(exc)
        if len(message.splitlines()) > 1:
            return "traceback", f"a UserError over several lines: {message!r}"[:KEEP_CHARS]
        return "error", message
    except Exception:
        return "traceback", traceback.format_exc()[-KEEP_CHARS:]


Runner = Callable[[HostileCase], tuple[Status, str]]


def _serve(conn: Connection, run: Runner) -> None:
    """A worker: run the cases it is sent, answer each with its outcome and its peak memory."""
    _limit_memory()
    while True:
        case = conn.recv()
        if case is None:
            return
        start = time.perf_counter()
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            status, detail = run(case)
        seconds = time.perf_counter() - start
        first = caught[0] if caught else None
        warning = (
            f"{first.filename}:{first.lineno}: {first.category.__name__}: {first.message}"
            if first
            else ""
        )
        conn.send((status, detail, seconds, _max_rss_bytes(resource.RUSAGE_SELF), warning))


class _Worker:
    def __init__(self, context: Any, run: Runner) -> None:
        self.conn, child = context.Pipe()
        self.process = context.Process(target=_serve, args=(child, run), daemon=True)
        self.process.start()
        child.close()
        self.case: HostileCase | None = None
        self.started = 0.0

    def send(self, case: HostileCase) -> None:
        self.case, self.started = case, time.perf_counter()
        self.conn.send(case)

    def stop(self, *, kill: bool = False) -> int:
        """End the worker; returns its peak resident set when it had to be killed."""
        peak = 0
        if kill:
            peak = _peak_rss_of(self.process.pid or 0)
            self.process.kill()
        else:
            with contextlib.suppress(OSError):  # a worker that died cannot be told to stop
                self.conn.send(None)
        self.process.join(timeout=10)
        if self.process.is_alive():
            self.process.kill()
            self.process.join()
        self.conn.close()
        return peak


def _context() -> Any:
    # A fork server starts once with the candidate engine imported; each worker (and each
    # replacement for a hung one) is then a cheap fork of it, without the parent's threads.
    if "forkserver" in mp.get_all_start_methods():
        context = mp.get_context("forkserver")
        context.set_forkserver_preload(["candidates", __name__])
        return context
    return mp.get_context("spawn")


def run_cases(
    cases: Sequence[HostileCase],
    *,
    timeout: float = 20.0,
    workers: int = 1,
    run: Runner = run_case,
) -> Iterator[tuple[Outcome, int]]:
    """Run ``cases`` on ``workers`` worker processes; yields each outcome (in the order they
    finish) with the peak resident set, in bytes, of any worker so far. ``run`` is what a
    worker does with a case (a module-level function, so that it can be sent there)."""
    if timeout <= 0 or workers < 1:
        raise ValueError(f"timeout must be > 0 and workers >= 1, but got {timeout=}, {workers=}")
    context = _context()
    queue = list(reversed(cases))
    pool = [_Worker(context, run) for _ in range(min(workers, max(len(cases), 1)))]
    peak = 0
    try:
        for worker in pool:
            if queue:
                worker.send(queue.pop())
        while any(w.case is not None for w in pool):
            busy = [w for w in pool if w.case is not None]
            now = time.perf_counter()
            wait_s = max(0.0, min(w.started + timeout - now for w in busy))
            ready = wait([w.conn for w in busy], timeout=wait_s)
            for i, worker in enumerate(pool):
                case = worker.case
                if case is None:
                    continue
                elapsed = time.perf_counter() - worker.started
                if worker.conn in ready:
                    try:
                        status, detail, seconds, rss, warning = worker.conn.recv()
                    except (EOFError, OSError):
                        worker.stop(kill=True)
                        code = worker.process.exitcode
                        pool[i] = worker = _Worker(context, run)
                        status, detail, seconds, rss, warning = (
                            "traceback",
                            f"the worker died (exit code {code})",
                            elapsed,
                            0,
                            "",
                        )
                    peak = max(peak, rss)
                    outcome = Outcome(case, status, seconds, detail, warning)
                elif elapsed >= timeout:
                    peak = max(peak, worker.stop(kill=True))
                    pool[i] = worker = _Worker(context, run)
                    outcome = Outcome(case, "hang", elapsed, f"no answer within {timeout:g} s")
                else:
                    continue
                worker.case = None
                if queue:
                    worker.send(queue.pop())
                yield outcome, peak
    finally:
        for worker in pool:
            worker.stop(kill=worker.case is not None)


def _shown(text: str | bytes, width: int = 70) -> str:
    shown = repr(text)
    return shown if len(shown) <= width else shown[: width - 3] + "..."


def benchmark_hostile(
    *,
    cases: int = 1000,
    timeout: float = 20.0,
    seed: int = 0,
    workers: int = 1,
    commands: Sequence[HostileCase] = (),
    run: Runner = run_case,
) -> HostileFigures:
    """Run the fixed corpus, ``cases`` seeded random cases and the ``commands`` (command lines,
    which ``run`` must know how to run: the command line's own runner); print and return the
    figures."""
    if cases < 0:
        raise ValueError(f"cases must be >= 0, but got {cases}")
    corpus = hostile_corpus()
    todo = [*commands, *corpus, *random_cases(cases, seed=seed)]
    print(
        f"hostile inputs: {len(corpus)} from the corpus + {cases} random (seed {seed}) + "
        f"{len(commands)} command lines; expressions through `check`, grammar files through "
        f"the loader, command lines through `derf-search` in a sandbox; {workers} worker "
        f"process(es), {timeout:g} s per case"
    )
    start = time.perf_counter()
    outcomes: list[Outcome] = []
    peak = 0
    for outcome, peak_so_far in run_cases(todo, timeout=timeout, workers=workers, run=run):
        outcomes.append(outcome)
        peak = peak_so_far
    seconds = time.perf_counter() - start
    figures = HostileFigures(
        tried=len(outcomes),
        results=sum(o.status == "result" for o in outcomes),
        errors=sum(o.status == "error" for o in outcomes),
        tracebacks=sum(o.status == "traceback" for o in outcomes),
        hangs=sum(o.status == "hang" for o in outcomes),
        wrong=sum(o.status == "wrong" for o in outcomes),
        warned=sum(bool(o.warning) for o in outcomes),
        peak_rss_mib=peak / 2**20,
        seconds=seconds,
        outcomes=outcomes,
    )
    print(
        f"{'kind':<11} {'tried':>6} {'handled':>8} {'results':>8} {'errors':>7} "
        f"{'tracebacks':>10} {'hangs':>6} {'wrong':>6} {'slowest':>8}"
    )
    kinds = ["expression", "grammar", *(["command"] if commands else []), "all"]
    for kind in kinds:
        rows = [o for o in outcomes if kind in ("all", o.case.kind)]
        count = {s: sum(o.status == s for o in rows) for s in get_args(Status)}
        slowest = max((o.seconds for o in rows), default=0.0)
        print(
            f"{kind:<11} {len(rows):>6} {count['result'] + count['error']:>8} "
            f"{count['result']:>8} {count['error']:>7} {count['traceback']:>10} "
            f"{count['hang']:>6} {count['wrong']:>6} {slowest:>7.2f}s"
        )
    print(f"peak memory  {figures.peak_rss_mib:.0f} MiB (largest resident set of a worker)")
    print(f"seconds      {seconds:.1f} ({os.cpu_count()} CPUs here)")
    print(f"warnings     {figures.warned} cases raised a Python warning (stderr noise)")
    for outcome in outcomes:
        if outcome.status in ("traceback", "hang", "wrong"):
            last = outcome.detail.strip().splitlines()[-1] if outcome.detail.strip() else ""
            print(f"  {outcome.status.upper()} {outcome.case.origin} {_shown(outcome.case.text)}")
            print(f"    {last[:200]}")
        elif outcome.warning:
            print(f"  WARNING {outcome.case.origin} {_shown(outcome.case.text)}")
            print(f"    {outcome.warning[:200]}")
    return figures
