"""Seeded random sampling of a grammar's space, for spaces too large to enumerate.

Random trees of size 1..max_size are drawn, evaluated on the screen grid, expanded by the
grammar's variants and screened exactly like enumerated expressions. The same seed gives the
same expressions.

Example:
    >>> from candidates import load_grammar
    >>> a = sample_space(load_grammar(), 2000, seed=1)
    >>> b = sample_space(load_grammar(), 2000, seed=1)
    >>> [s.text for s in a.survivors] == [s.text for s in b.survivors]
    True
"""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np

from .._errors import UserError
from ..expr import compile_numpy, numpy_from_text
from ._enumerate import EnumerationResult, Space, Survivor, shape_keys
from ._grammar import Grammar
from ._screen import GRID, REASONS, screen

_BATCH = 2048
_VAR = "\x00"


def _random_tree(space: Space, rng: np.random.Generator, size: int) -> tuple[str, frozenset[str]]:
    """A random expression of exactly ``size`` nodes containing x, with the operators it uses.

    The text marks x as :data:`_VAR`, so variants can substitute another argument for it.
    """
    if size == 1:
        return _VAR, frozenset()
    kinds = []
    if space.unary:
        kinds.append("unary")
    if size >= 3 and space.binary:
        kinds.append("binary")
    kind = kinds[int(rng.integers(len(kinds)))]
    if kind == "unary":
        name = space.unary[int(rng.integers(len(space.unary)))]
        inner, ops = _random_tree(space, rng, size - 1)
        return f"{name}({inner})", ops | {name}
    name = space.binary[int(rng.integers(len(space.binary)))]
    constants = space.grammar.constants
    a_size = int(rng.integers(1, size - 1))
    b_size = size - 1 - a_size
    if name == "**":
        a_size, b_size = size - 2, 1
    left, lops = _random_tree(space, rng, a_size)
    constant_right = b_size == 1 and constants and (name == "**" or rng.random() < 0.5)
    rops: frozenset[str]
    if constant_right:
        right, rops = constants[int(rng.integers(len(constants)))][0], frozenset()
    else:
        right, rops = _random_tree(space, rng, b_size)
    if name == "**" and a_size > 0:
        text = f"({left})**({right})"
    elif name in ("min", "max"):
        text = f"{name}({left}, {right})"
    else:
        if rng.random() < 0.5 and name in ("-", "/"):
            left, right = right, left
        text = f"({left} {name} {right})"
    return text, lops | rops | {name}


def _allowed(space: Space, text: str, ops: frozenset[str]) -> bool:
    # forbid_inside is checked on the operator sets of the whole tree: conservative and cheap.
    return not any(
        parent in ops and ops & banned for parent, banned in space.grammar.forbid_inside.items()
    )


def sample_space(
    grammar: Grammar,
    k: int,
    *,
    seed: int = 0,
    max_size: int | None = None,
    progress: Callable[[int], None] | None = None,
) -> EnumerationResult:
    """Screen about ``k`` expressions (raw functions and their variants) drawn at random."""
    if k < 1:
        raise UserError(f"the sample size must be at least 1, but got {k=}.")
    start = time.perf_counter()
    space = Space(grammar)
    rng = np.random.default_rng(seed)
    limit = max_size or grammar.max_size
    prims = {name: compile_numpy(expr) for name, expr in grammar.primitives.items()}
    variants = [("", None, None), *space.variants()]
    result = EnumerationResult()
    seen: set[str] = set()
    attempts = 0
    while result.enumerated < k and attempts < 50 * k:
        batch_texts: list[str] = []
        batch_sizes: list[int] = []
        rows: list[np.ndarray] = []
        while len(batch_texts) < _BATCH and attempts < 50 * k:
            attempts += 1
            size = int(rng.integers(1, limit + 1))
            template, ops = _random_tree(space, rng, size)
            if template in seen or not _allowed(space, template, ops):
                continue
            seen.add(template)
            text = template.replace(_VAR, "x")
            with np.errstate(all="ignore"):
                values = np.asarray(numpy_from_text(text, primitives=prims)(GRID), dtype=float)
            batch_texts.append(template)
            batch_sizes.append(size)
            rows.append(values)
            if result.enumerated + len(batch_texts) * len(variants) >= k:
                break
        if not rows:
            break
        matrix = np.stack(rows)
        for label, transform, text_fn in variants:
            with np.errstate(all="ignore"):
                v = matrix if transform is None else transform(matrix)
                verdict = screen(v, grammar.require, grammar.tolerances)
            result.enumerated += v.shape[0]
            for size in batch_sizes:
                result.per_size[size] += 1
            for reason in verdict.reason[verdict.reason >= 0]:
                result.rejected[REASONS[int(reason)]] += 1
            passed = np.flatnonzero(verdict.passed)
            for i, shape in zip(passed, shape_keys(v[passed]), strict=True):
                template = batch_texts[i]

                def render(var: str, template: str = template) -> str:
                    return template.replace(_VAR, var)

                text = (text_fn(render) if text_fn is not None else render)("x")
                result.survivors.append(Survivor(text, batch_sizes[i], label, shape))
            if progress:
                progress(v.shape[0])
    result.complete = False
    result.seconds = time.perf_counter() - start
    return result
