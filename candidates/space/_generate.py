"""From a grammar to a checked, deduplicated candidate set.

enumerate (or sample) ─► numeric screen ─► merge equal shapes on the grid ─► full numeric
checks and behaviour signatures (all cores) ─► merge modulo the template ─► sympy for the
simplest ``max_candidates``: canonical form, id, LaTeX, symbolic confirmation in a time budget.

sympy costs milliseconds per expression where the numeric stages cost microseconds, so it is
spent only on the candidates that are written out; every unique candidate is counted and
checked numerically.

Example:
    >>> from candidates import parse_grammar
    >>> g = parse_grammar('[grammar]\\nmax_size = 2\\n[operators]\\nunary = ["tanh", "erf"]\\n'
    ...                   'binary = ["*"]\\nconstants = [2]')
    >>> result = generate_candidates(g, symbolic_seconds=0, workers=1)
    >>> sorted(r.candidate.canonical for r in result.reports)
    ['erf(x)', 'tanh(x)']
"""

from __future__ import annotations

import multiprocessing as mp
import os
import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field, replace
from functools import partial
from typing import Any, TypeVar

from .._errors import ExpressionError, UserError
from ..checks import PropertyResult, confirm_symbolically, numeric_properties
from ..expr import compile_numpy, numpy_from_text, parse, to_source
from ..report import Candidate, PropertyReport
from ..shape import behaviour_signature
from ._enumerate import EnumerationResult, enumerate_space
from ._grammar import Grammar
from ._sample import sample_space

Progress = Callable[[str, int, int | None], None]
T = TypeVar("T")
R = TypeVar("R")


@dataclass
class GenerateResult:
    """Everything `derf-search generate` writes."""

    grammar: Grammar
    enumeration: EnumerationResult
    reports: list[PropertyReport]  # the candidates written out, passing ones first
    unique: int = 0  # candidates after dedupe (all of them, written or not)
    passing: int = 0  # of those, how many pass all four properties
    grid_groups: int = 0  # distinct shapes on the screen grid, before input-scale merging
    sizes: dict[str, int] = field(default_factory=dict)  # candidate id -> raw expression size
    timings: dict[str, float] = field(default_factory=dict)


# --- work done in worker processes --------------------------------------------------------
_WORKER: dict[str, Any] = {}


def _init_worker(grammar: Grammar, symbolic_budget: float) -> None:
    _WORKER["grammar"] = grammar
    _WORKER["prims"] = {n: compile_numpy(e) for n, e in grammar.primitives.items()}
    _WORKER["budget"] = symbolic_budget
    _WORKER["spent"] = 0.0


def _numeric_stage(text: str) -> tuple[str | None, PropertyResult]:
    """Behaviour signature and numeric verdicts of one expression, without sympy."""
    f = numpy_from_text(text, primitives=_WORKER["prims"])
    return behaviour_signature(f), numeric_properties(f, tolerances=_WORKER["grammar"].tolerances)


def _symbolic_stage(
    job: tuple[list[str], PropertyResult],
) -> tuple[PropertyReport | None, dict[str, int], float]:
    """sympy for one candidate: parse its simplest member, canonical form, confirmation.

    Returns (report, members left out by reason, CPU seconds in sympy: CPU, not wall time,
    so that their share of the run's CPU time is at most one however many workers share the
    cores). Reasons: ``not_real_symbolically``, finite on the grid only through float
    arithmetic, as atan(2/0); ``does_not_parse_back``, written out (primitives inlined) it
    is past the parser's limits for any text (size, depth, constants): the record holds that
    text, and a trial, an export and a resume parse it again.
    """
    members, numeric = list(job[0]), job[1]
    grammar: Grammar = _WORKER["grammar"]
    start = time.process_time()
    expr, written = None, ""
    left_out = {"not_real_symbolically": 0, "does_not_parse_back": 0}
    while members and expr is None:
        try:
            expr = parse(members[0], primitives=grammar.primitives)
        except ExpressionError:
            members.pop(0)
            left_out["not_real_symbolically"] += 1
            continue
        written = to_source(expr)
        try:
            parse(written)
        except ExpressionError:
            expr = None
            members.pop(0)
            left_out["does_not_parse_back"] += 1
    if expr is None:
        return None, left_out, time.process_time() - start
    candidate = Candidate(members[0], expr, merged_from=members[1:])
    candidate = replace(candidate, expression=written)  # Candidate.source, printed once
    # Every text the table and the reports show, here rather than in the parent: they cost
    # sympy walks, which all the workers share; the report then travels as text (``written``
    # parses back on its own, checked above).
    candidate = candidate.as_text()
    left = _WORKER["budget"] - _WORKER["spent"]
    seconds = min(grammar.tolerances.symbolic_seconds, max(left, 0.0))
    if seconds > 0.05:
        confirm_symbolically(
            expr, numeric, tolerances=replace(grammar.tolerances, symbolic_seconds=seconds)
        )
        _WORKER["spent"] += numeric.symbolic_seconds
    sympy_seconds = time.process_time() - start
    report = PropertyReport(candidate, numeric)
    _ = report.descriptors  # numeric, but per function: here, on every core
    return report, left_out, sympy_seconds


class _Workers:
    """One pool of worker processes for every stage of a run (in this process when 1).

    >>> from candidates import parse_grammar
    >>> with _Workers(parse_grammar('[grammar]\\nmax_size = 1'), 0.0, 1) as workers:
    ...     [signature is not None for signature, _ in workers.map(_numeric_stage, ["x"])]
    [True]
    """

    def __init__(self, grammar: Grammar, symbolic_budget: float, workers: int) -> None:
        self.grammar, self.budget, self.workers = grammar, symbolic_budget, workers
        self.pool: Any = None
        self.cpu = 0.0  # CPU seconds of the items the pool ran (not this process's own)

    def __enter__(self) -> _Workers:
        return self

    def __exit__(self, kind: type[BaseException] | None, *rest: object) -> None:
        if self.pool is not None:
            self.pool.terminate()
            self.pool.join()

    def map(self, fn: Callable[[T], R], items: list[T]) -> Iterator[R]:
        """fn over items, in order."""
        if self.workers <= 1 or len(items) < 64:
            _init_worker(self.grammar, self.budget)
            yield from map(fn, items)
            return
        if self.pool is None:
            # Not fork: a process with threads (Ray's driver, the pool's own handlers) can
            # fork a worker while one of them holds a queue's lock, and the worker then waits
            # on it for ever. A fork server starts workers from a clean single-threaded
            # process; the grammar travels once per worker, and the pool serves every stage.
            method = "forkserver" if "forkserver" in mp.get_all_start_methods() else "spawn"
            self.pool = mp.get_context(method).Pool(
                self.workers, _init_worker, (self.grammar, self.budget / self.workers)
            )
        for result, seconds in self.pool.imap(partial(_timed, fn), items, chunksize=32):
            self.cpu += seconds
            yield result


def _timed(fn: Callable[[T], R], item: T) -> tuple[R, float]:
    """fn(item) and the CPU seconds it took: a fork server's workers are not this process's
    children, so their time is counted item by item."""
    start = time.process_time()
    result = fn(item)
    return result, time.process_time() - start


def _cpu_seconds() -> float:
    """CPU time of this process (the pool's workers count theirs item by item,
    :attr:`_Workers.cpu`, leaving out their start-up and the pickling of items)."""
    t = os.times()
    return t.user + t.system


def _simplest_first(texts: Iterable[str]) -> list[str]:
    return sorted(set(texts), key=lambda t: (len(t), t))


def generate_candidates(
    grammar: Grammar,
    *,
    max_size: int | None = None,
    max_expressions: int | None = None,
    sample: int | None = None,
    seed: int = 0,
    max_candidates: int = 2000,
    symbolic_seconds: float = 30.0,
    workers: int | None = None,
    progress: Progress | None = None,
) -> GenerateResult:
    """Enumerate or sample ``grammar``, screen, dedupe and check what survives.

    The ``max_candidates`` simplest unique candidates (passing ones first) get the sympy
    treatment and are returned as reports; ``symbolic_seconds`` is the total sympy budget for
    confirming their verdicts, spent simplest first (the rest keep numeric verdicts, and their
    ``method`` says so).
    """
    if max_size is not None and not 1 <= max_size <= 12:
        raise UserError(f"max_size must be from 1 to 12, but got {max_size=}.")
    if max_expressions is not None and max_expressions < 1:
        raise UserError(f"max_expressions must be at least 1, but got {max_expressions=}.")
    if max_candidates < 1:
        raise UserError(f"max_candidates must be at least 1, but got {max_candidates=}.")
    n_workers = max(1, workers or os.cpu_count() or 1)
    timings: dict[str, float] = {}
    start = time.perf_counter()
    cpu_start = _cpu_seconds()

    def tick(n: int) -> None:
        if progress:
            progress("screen", n, sample or max_expressions)

    if sample is not None:
        enumeration = sample_space(grammar, sample, seed=seed, max_size=max_size, progress=tick)
    else:
        enumeration = enumerate_space(
            grammar, max_size=max_size, max_expressions=max_expressions, progress=tick
        )
    timings["screen"] = time.perf_counter() - start

    # Stage 1: exact shapes on the grid, then behaviour signatures and numeric verdicts.
    t = time.perf_counter()
    with _Workers(grammar, symbolic_seconds, n_workers) as pool:
        groups, grid_groups = _dedupe(enumeration, pool, progress)
        timings["dedupe"] = time.perf_counter() - t

        # Stage 2: sympy for the candidates that are written out, and their descriptors.
        t = time.perf_counter()
        reports, sizes, sympy_seconds, lost = _confirm(
            groups[:max_candidates], enumeration, pool, progress
        )
        timings["check"] = time.perf_counter() - t
    timings["sympy"] = sympy_seconds
    timings["total"] = time.perf_counter() - start
    timings["cpu"] = _cpu_seconds() - cpu_start + pool.cpu

    written_passing = sum(r.passed for r in reports)
    passing = written_passing + sum(g[1].passed for g in groups[max_candidates:])
    reports.sort(key=lambda r: (not r.passed, len(r.candidate.canonical), r.candidate.canonical))
    return GenerateResult(
        grammar,
        enumeration,
        reports,
        unique=len(groups) - lost,
        passing=passing,
        grid_groups=grid_groups,
        sizes=sizes,
        timings=timings,
    )


Groups = list[tuple[list[str], PropertyResult]]


def _dedupe(
    enumeration: EnumerationResult, pool: _Workers, progress: Progress | None
) -> tuple[Groups, int]:
    """Survivors merged by exact shape on the grid, then by behaviour signature: each group
    simplest first with the numeric verdicts of its representative, passing groups first; and
    how many distinct grid shapes there were."""
    by_shape: dict[str, list[str]] = defaultdict(list)
    for s in enumeration.survivors:
        by_shape[s.shape].append(s.text)
    shape_groups = [_simplest_first(texts) for texts in by_shape.values()]
    shape_groups.sort(key=lambda g: (len(g[0]), g[0]))
    merged: dict[str, tuple[list[str], PropertyResult]] = {}
    reps = [g[0] for g in shape_groups]
    for i, (group, (signature, numeric)) in enumerate(
        zip(shape_groups, pool.map(_numeric_stage, reps), strict=True)
    ):
        key = signature or f"shape:{group[0]}"
        if key in merged:
            merged[key][0].extend(group)
        else:
            merged[key] = (list(group), numeric)
        if progress:
            progress("dedupe", i + 1, len(reps))
    groups = [(_simplest_first(texts), numeric) for texts, numeric in merged.values()]
    groups.sort(key=lambda g: (not g[1].passed, len(g[0][0]), g[0][0]))
    return groups, len(shape_groups)


def _confirm(
    chosen: Groups,
    enumeration: EnumerationResult,
    pool: _Workers,
    progress: Progress | None,
) -> tuple[list[PropertyReport], dict[str, int], float, int]:
    """sympy for the chosen groups: their reports (merged again by canonical id), sizes, the
    sympy seconds spent and how many groups were lost (not real, or merged by sympy)."""
    size_of = {s.text: s.size for s in enumeration.survivors}
    reports: list[PropertyReport] = []
    sizes: dict[str, int] = {}
    sympy_seconds = 0.0
    left_out: dict[str, int] = defaultdict(int)
    lost = 0
    for i, (report, skipped, spent) in enumerate(pool.map(_symbolic_stage, chosen)):
        for reason, count in skipped.items():
            left_out[reason] += count
        sympy_seconds += spent
        if report is None:
            lost += 1
        else:
            reports.append(report)
            members = [report.candidate.expression, *report.candidate.merged_from]
            sizes[report.candidate.id] = min(
                (size_of[m] for m in members if m in size_of), default=0
            )
        if progress:
            progress("sympy", i + 1, len(chosen))
    for reason, count in left_out.items():
        enumeration.rejected[reason] += count
    # sympy's canonical forms catch what float arithmetic hid: log1p(expm1(x)) is x, though
    # cancellation made it differ on the grid.
    by_id: dict[str, PropertyReport] = {}
    for report in reports:
        first = by_id.setdefault(report.candidate.id, report)
        if first is not report:
            first.candidate.merged_from.extend(
                [report.candidate.expression, *report.candidate.merged_from]
            )
            lost += 1
    return list(by_id.values()), sizes, sympy_seconds, lost
