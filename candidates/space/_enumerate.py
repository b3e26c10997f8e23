"""Exhaustive enumeration and seeded sampling of a grammar's expressions, screened numerically.

Expressions are built bottom-up by size. Each level keeps, per expression, its operator, the
rows of its children, a bit mask of the operators it contains and (where it can be a child) its
values on the screen grid, so every sub-expression is evaluated once and reused. Text is
rendered only for the survivors of the screen.

Example:
    >>> from candidates import parse_grammar
    >>> g = parse_grammar('[grammar]\\nmax_size = 2\\n[operators]\\nunary = ["tanh", "sin"]')
    >>> result = enumerate_space(g)
    >>> result.enumerated, sorted(s.text for s in result.survivors)
    (3, ['tanh(x)'])
"""

from __future__ import annotations

import hashlib
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..expr import OPERATORS, compile_numpy
from ._grammar import COMMUTATIVE, Grammar
from ._screen import ABS, GRID, REASONS, SIGN, ZERO, screen

Render = Callable[[str], str]
Values = np.ndarray

_BINARY_NUMPY: dict[str, Callable[[Values, Values], Values]] = {
    "+": np.add,
    "-": np.subtract,
    "*": np.multiply,
    "/": np.divide,
    "**": np.power,
    "min": np.minimum,
    "max": np.maximum,
}
_CHUNK = 4096


@dataclass
class Survivor:
    """An expression that passed the numeric screen."""

    text: str
    size: int
    variant: str  # "" for the raw function, else the transform chain, e.g. "shift+mirror"
    shape: str  # hash of the values on the screen grid, up to output scale and sign


@dataclass
class EnumerationResult:
    enumerated: int = 0
    survivors: list[Survivor] = field(default_factory=list)
    rejected: Counter[str] = field(default_factory=Counter)
    per_size: Counter[int] = field(default_factory=Counter)
    seconds: float = 0.0
    complete: bool = True  # False when max_expressions stopped the enumeration early


class _Level:
    """All expressions of one size, as parallel arrays."""

    def __init__(self) -> None:
        self.op: list[np.ndarray] = []
        self.a: list[np.ndarray] = []
        self.a_size: list[np.ndarray] = []
        self.b: list[np.ndarray] = []
        self.b_size: list[np.ndarray] = []
        self.mask: list[np.ndarray] = []
        self.depth: list[np.ndarray] = []
        self.nconst: list[np.ndarray] = []
        self.values: list[np.ndarray] = []

    def freeze(self) -> None:
        for name in ("op", "a", "a_size", "b", "b_size", "mask", "depth", "nconst"):
            parts = getattr(self, name)
            setattr(self, name, [np.concatenate(parts)] if parts else [np.zeros(0, np.int64)])
        self.values = [np.concatenate(self.values)] if self.values else [np.zeros((0, GRID.size))]

    def __len__(self) -> int:
        return int(sum(len(p) for p in self.op))


class Space:
    """The grammar compiled for enumeration: operator ids, numpy forms, constraints."""

    def __init__(self, grammar: Grammar) -> None:
        self.grammar = grammar
        self.unary = list(grammar.unary)
        self.binary = list(grammar.binary)
        # Operator ids: 0 = x, 1..C = constants, then unary, then binary.
        self.names = ["x", *(c for c, _ in grammar.constants), *self.unary, *self.binary]
        self.n_const = len(grammar.constants)
        self.unary_id = {n: 1 + self.n_const + i for i, n in enumerate(self.unary)}
        self.binary_id = {
            n: 1 + self.n_const + len(self.unary) + i for i, n in enumerate(self.binary)
        }
        self.unary_fn: dict[str, Callable[[Values], Values]] = {}
        for name in self.unary:
            if name in grammar.primitives:
                self.unary_fn[name] = compile_numpy(grammar.primitives[name])
            else:
                self.unary_fn[name] = OPERATORS[name].numpy
        bit = {n: 1 << i for i, n in enumerate([*self.unary, *self.binary])}
        self.bit = bit
        self.forbidden = {
            n: sum(bit[c] for c in grammar.forbid_inside.get(n, ()) if c in bit) for n in bit
        }
        self.transforms = [self._transform(chain) for chain in grammar.variants]

    def _transform(
        self, chain: tuple[str, ...]
    ) -> list[tuple[str, Callable[[Values], Values], Callable[[Render], Render]]]:
        # Each step is a list of alternatives (one per clip scale for a clip); the chain's
        # variants are every combination, as (label, values transform, text transform).
        steps = []
        for step in chain:
            if step == "clip":
                scales = self.grammar.clip_scales
                steps.append([(f"clip{c:g}" if c != 1 else "clip", *_clip(c)) for c in scales])
            else:
                steps.append([(step, *_TRANSFORMS[step])])
        out = steps[0]
        for more in steps[1:]:
            out = [
                (f"{a[0]}+{b[0]}", _then(a[1], b[1]), _then(a[2], b[2])) for a in out for b in more
            ]
        return out

    def variants(self) -> list[tuple[str, Callable[[Values], Values], Callable[[Render], Render]]]:
        return [v for chain in self.transforms for v in chain]


def _then(first: Callable[[Any], Any], second: Callable[[Any], Any]) -> Callable[[Any], Any]:
    return lambda arg: second(first(arg))


def _clip(c: float) -> tuple[Callable[[Values], Values], Callable[[Render], Render]]:
    def values(v: Values) -> Values:
        return np.clip(c * v, -1.0, 1.0)

    def text(r: Render) -> Render:
        return lambda var: f"clip({c:g}*({r(var)}), -1, 1)" if c != 1 else f"clip({r(var)}, -1, 1)"

    return values, text


_TRANSFORMS: dict[str, tuple[Callable[[Values], Values], Callable[[Render], Render]]] = {
    "shift": (lambda v: v - v[:, [ZERO]], lambda r: lambda var: f"{r(var)} - ({r('0')})"),
    "mirror": (
        lambda v: SIGN * v[:, ABS],
        lambda r: lambda var: f"sign({var})*({r(f'abs({var})')})",
    ),
    "ratio": (
        lambda v: v / (1.0 + np.abs(v)),
        lambda r: lambda var: f"({r(var)})/(1 + abs({r(var)}))",
    ),
}


def shape_keys(values: np.ndarray) -> list[str]:
    """Per row, a key equal for rows that are the same function up to output scale and sign.

    Cheap exact-duplicate detection on the grid (erf(x), sign(x)*erf(abs(x)), 2*erf(x) …);
    input scale is left to the behaviour signature, computed for far fewer expressions.
    """
    if values.shape[0] == 0:
        return []
    with np.errstate(all="ignore"):
        scale = np.abs(values).max(axis=1) * np.where(values[:, -1] >= values[:, 0], 1.0, -1.0)
        normed = np.round(values / scale[:, None], 6) + 0.0
    return [hashlib.sha1(row.tobytes()).hexdigest()[:16] for row in normed]


class Enumerator:
    """Walks a grammar's space level by level, screening every expression it builds."""

    def __init__(
        self,
        grammar: Grammar,
        *,
        max_size: int | None = None,
        max_expressions: int | None = None,
        progress: Callable[[int], None] | None = None,
    ) -> None:
        self.space = Space(grammar)
        self.grammar = grammar
        self.max_size = max_size or grammar.max_size
        self.max_expressions = max_expressions
        self.progress = progress
        self.levels: dict[int, _Level] = {}
        self.result = EnumerationResult()
        self._pending: list[tuple[int, int, str, Callable[[Render], Render] | None, str]] = []

    # --- building -----------------------------------------------------------------------
    def _leaves(self) -> _Level:
        level = _Level()
        n = 1 + self.space.n_const
        level.op.append(np.arange(n))
        zeros = np.zeros(n, np.int64)
        level.a.append(zeros.copy())
        level.a_size.append(zeros.copy())
        level.b.append(zeros.copy())
        level.b_size.append(zeros.copy())
        level.mask.append(zeros.copy())
        level.depth.append(np.ones(n, np.int64))
        level.nconst.append(np.r_[0, np.ones(self.space.n_const, np.int64)])
        consts = [np.full(GRID.size, v) for _, v in self.grammar.constants]
        level.values.append(np.stack([GRID.copy(), *consts]))
        level.freeze()
        return level

    def _blocks(self, size: int) -> Iterator[tuple[str, str, int, np.ndarray, int, np.ndarray]]:
        """(kind, op, a_size, a_rows, b_size, b_rows) groups of the expressions of ``size``."""
        sp = self.space
        if size >= 2:
            child = self.levels[size - 1]
            has_x = np.ones(len(child), bool) if size - 1 > 1 else (child.op[0] == 0)
            for name in sp.unary:
                ok = has_x & ((child.mask[0] & sp.forbidden[name]) == 0)
                rows = np.flatnonzero(ok)
                # In chunks, as binary blocks: a block's values (and each variant's) are
                # rows x grid floats, and the walk stops within a block of max_expressions.
                for start in range(0, rows.size, _CHUNK):
                    part = rows[start : start + _CHUNK]
                    yield "unary", name, size - 1, part, 0, part
        if size >= 3:
            for name in sp.binary:
                for a_size in range(1, size - 1):
                    b_size = size - 1 - a_size
                    if name in COMMUTATIVE and a_size > b_size:
                        continue
                    if name == "**" and b_size != 1:
                        continue
                    yield from self._pairs(name, a_size, b_size)

    def _pairs(
        self, name: str, a_size: int, b_size: int
    ) -> Iterator[tuple[str, str, int, np.ndarray, int, np.ndarray]]:
        sp = self.space
        la, lb = self.levels[a_size], self.levels[b_size]
        a_x = np.ones(len(la), bool) if a_size > 1 else la.op[0] == 0
        b_x = np.ones(len(lb), bool) if b_size > 1 else lb.op[0] == 0
        a_ok = (la.mask[0] & sp.forbidden[name]) == 0
        b_ok = (lb.mask[0] & sp.forbidden[name]) == 0
        a_rows = np.flatnonzero(a_ok)
        for start in range(0, a_rows.size, max(1, _CHUNK // max(len(lb), 1))):
            rows = a_rows[start : start + max(1, _CHUNK // max(len(lb), 1))]
            grid_a, grid_b = np.meshgrid(rows, np.flatnonzero(b_ok), indexing="ij")
            ai, bi = grid_a.ravel(), grid_b.ravel()
            keep = a_x[ai] | b_x[bi]  # at least one side contains x
            if name == "**":
                keep &= a_x[ai] & ~b_x[bi]  # constant exponents only
            if name in COMMUTATIVE and a_size == b_size:
                keep &= ai <= bi
            if self.grammar.max_constants is not None:
                keep &= la.nconst[0][ai] + lb.nconst[0][bi] <= self.grammar.max_constants
            if keep.any():
                yield "binary", name, a_size, ai[keep], b_size, bi[keep]

    def _structure(
        self, kind: str, name: str, a_size: int, a_rows: np.ndarray, b_size: int, b_rows: np.ndarray
    ) -> tuple[np.ndarray, ...]:
        """(op, mask, depth, nconst) of a block of new expressions."""
        sp = self.space
        la = self.levels[a_size]
        if kind == "unary":
            return (
                np.full(a_rows.size, sp.unary_id[name]),
                la.mask[0][a_rows] | sp.bit[name],
                la.depth[0][a_rows] + 1,
                la.nconst[0][a_rows],
            )
        lb = self.levels[b_size]
        return (
            np.full(a_rows.size, sp.binary_id[name]),
            la.mask[0][a_rows] | lb.mask[0][b_rows] | sp.bit[name],
            np.maximum(la.depth[0][a_rows], lb.depth[0][b_rows]) + 1,
            la.nconst[0][a_rows] + lb.nconst[0][b_rows],
        )

    def _values(
        self, kind: str, name: str, a_size: int, a_rows: np.ndarray, b_size: int, b_rows: np.ndarray
    ) -> np.ndarray:
        la = self.levels[a_size]
        with np.errstate(all="ignore"):
            if kind == "unary":
                return self.space.unary_fn[name](la.values[0][a_rows])
            lb = self.levels[b_size]
            return _BINARY_NUMPY[name](la.values[0][a_rows], lb.values[0][b_rows])

    def _build_level(
        self, size: int, *, with_values: bool
    ) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """Add the expressions of ``size`` to ``self.levels``; yield (values, rows) blocks.

        The caller freezes the level when done (or when it stops early).
        """
        level = _Level()
        self.levels[size] = level
        keep_values = with_values and size < self.max_size
        for kind, name, a_size, a_rows, b_size, b_rows in self._blocks(size):
            op, mask, depth, nconst = self._structure(kind, name, a_size, a_rows, b_size, b_rows)
            if self.grammar.max_depth is not None:
                fits = depth <= self.grammar.max_depth
                op, mask, depth, nconst = op[fits], mask[fits], depth[fits], nconst[fits]
                a_rows, b_rows = a_rows[fits], b_rows[fits]
            if kind == "unary":
                b_rows = np.zeros_like(a_rows)
            first = len(level)
            level.op.append(op)
            level.a.append(a_rows)
            level.a_size.append(np.full(a_rows.size, a_size))
            level.b.append(b_rows)
            level.b_size.append(np.full(a_rows.size, b_size))
            level.mask.append(mask)
            level.depth.append(depth)
            level.nconst.append(nconst)
            if with_values:
                values = self._values(kind, name, a_size, a_rows, b_size, b_rows)
                if keep_values:
                    level.values.append(values)
                yield values, np.arange(first, first + a_rows.size)

    # --- text ---------------------------------------------------------------------------
    def render(self, size: int, row: int) -> Render:
        """A function var -> the expression's text with x replaced by ``var``."""
        level = self.levels[size]
        op = int(level.op[0][row])
        name = self.space.names[op]
        if size == 1:
            if op == 0:
                return lambda var: var
            return lambda var: name
        a = self.render(int(level.a_size[0][row]), int(level.a[0][row]))
        if name in self.space.unary_id:
            return lambda var: f"{name}({a(var)})"
        b = self.render(int(level.b_size[0][row]), int(level.b[0][row]))
        if name in ("min", "max"):
            return lambda var: f"{name}({a(var)}, {b(var)})"
        return lambda var: (
            f"({a(var)}){name}({b(var)})" if name == "**" else f"({a(var)} {name} {b(var)})"
        )

    def _render_pending(self) -> None:
        for size, row, label, text, shape in self._pending:
            render = self.render(size, row)
            if text is not None:
                render = text(render)
            self.result.survivors.append(Survivor(render("x"), size, label, shape))
        self._pending.clear()

    # --- the walk -----------------------------------------------------------------------
    def _budget_left(self) -> int | None:
        if self.max_expressions is None:
            return None
        return self.max_expressions - self.result.enumerated

    def _screen_block(self, size: int, values: np.ndarray, rows: np.ndarray) -> None:
        """Screen raw values and every variant; record survivors by (size, row, variant)."""
        variants = self.space.variants()
        tol = self.grammar.tolerances
        for label, transform, text in [("", None, None), *variants]:
            left = self._budget_left()
            if left is not None and left <= 0:
                self.result.complete = False
                return
            with np.errstate(all="ignore"):
                v = values if transform is None else transform(values)
            take = v.shape[0] if left is None else min(v.shape[0], left)
            if take < v.shape[0]:
                self.result.complete = False
            with np.errstate(all="ignore"):
                verdict = screen(v[:take], self.grammar.require, tol)
            self.result.enumerated += take
            self.result.per_size[size] += take
            counts = np.bincount(verdict.reason[verdict.reason >= 0], minlength=len(REASONS))
            for i, count in enumerate(counts):
                if count:
                    self.result.rejected[REASONS[i]] += int(count)
            passed = v[:take][verdict.passed]
            for row, shape in zip(rows[:take][verdict.passed], shape_keys(passed), strict=True):
                self._pending.append((size, int(row), label, text, shape))
            if self.progress:
                self.progress(take)

    def run(self) -> EnumerationResult:
        start = time.perf_counter()
        self.levels[1] = self._leaves()
        x_row = np.array([0])
        self._screen_block(1, self.levels[1].values[0][x_row], x_row)
        self._render_pending()
        for size in range(2, self.max_size + 1):
            left = self._budget_left()
            if left is not None and left <= 0:
                self.result.complete = False
                break
            for values, rows in self._build_level(size, with_values=True):
                self._screen_block(size, values, rows)
                left = self._budget_left()
                if left is not None and left <= 0:
                    break
            # Text is rendered from the frozen level's arrays, so only now.
            self.levels[size].freeze()
            if size == self.max_size:
                self.levels[size].values = [np.zeros((0, GRID.size))]
            self._render_pending()
        self.result.seconds = time.perf_counter() - start
        return self.result


def enumerate_space(
    grammar: Grammar,
    *,
    max_size: int | None = None,
    max_expressions: int | None = None,
    progress: Callable[[int], None] | None = None,
) -> EnumerationResult:
    """Enumerate (and screen) every expression of ``grammar`` up to its size limit."""
    enumerator = Enumerator(
        grammar, max_size=max_size, max_expressions=max_expressions, progress=progress
    )
    return enumerator.run()
