"""How many expressions a grammar's space holds, counted without building any of them.

An expression of size n is a unary operator over one of size n - 1, or a binary operator over
two of sizes a + b = n - 1. The enumerator's rules (x somewhere, constant exponents only, one
order of a commutative pair, ``forbid_inside``, ``max_depth``, ``max_constants``) depend on a
child only through a few facts: whether it contains x, which ``forbid_inside`` rules it would
break, how many constants it holds. Counting expressions per such class and size is a small
dynamic programme that gives exactly the number the enumerator walks, in milliseconds and in
memory that does not grow with the space (size 12 of the default grammar is ~10¹⁴).

Example:
    >>> from candidates import parse_grammar
    >>> g = parse_grammar('[grammar]\\nmax_size = 3\\n[operators]\\nunary = ["tanh"]\\n'
    ...                   'binary = ["+"]\\nconstants = [1]')
    >>> count_space(g).per_size      # x; tanh(x); tanh(tanh(x)), x + x, x + 1
    {1: 1, 2: 1, 3: 3}
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import NamedTuple

from ._grammar import COMMUTATIVE, Grammar, variant_count

#: Pairs of classes the count may combine before it stops following ``forbid_inside`` (a
#: grammar with many intricate rules has exponentially many classes); it then counts the space
#: without those rules, an upper bound, and says so.
MAX_COUNT_WORK = 200_000


@dataclass(frozen=True)
class SpaceCount:
    """Expressions screened per size (raw functions times their variants, before dedupe)."""

    per_size: dict[int, int]
    exact: bool = True  # False: forbid_inside was left out, so per_size is an upper bound

    @property
    def total(self) -> int:
        return sum(self.per_size.values())


class _Class(NamedTuple):
    """What the grammar's rules see of an expression (a tuple: hashed in every step)."""

    has_x: bool
    blocked: int  # bit per forbid_inside rule it breaks as a child: the parents it may not have
    constants: int  # how many constant leaves (0 unless max_constants is set)


class _TooIntricate(Exception):
    """The count went past :data:`MAX_COUNT_WORK`."""


class _Rules:
    """The grammar's rules on classes; ``follow_forbid=False`` drops ``forbid_inside``."""

    def __init__(self, grammar: Grammar, *, follow_forbid: bool) -> None:
        self.grammar = grammar
        ops = {*grammar.unary, *grammar.binary}
        rules = grammar.forbid_inside if follow_forbid else {}
        parents = [p for p in ops if set(rules.get(p, ())) & ops]
        self.parent_bit = {p: 1 << i for i, p in enumerate(sorted(parents))}
        # An operator below a parent that forbids it blocks that parent, however deep.
        self.blocks = {
            op: sum(bit for p, bit in self.parent_bit.items() if op in rules[p]) for op in ops
        }
        # Without forbid_inside there are a few dozen classes at most: no need to watch.
        self.work_left = MAX_COUNT_WORK if follow_forbid else None

    def leaves(self) -> Counter[_Class]:
        leaves = Counter({_Class(True, 0, 0): 1})
        if self.grammar.constants:
            counted = int(self.grammar.max_constants is not None)
            leaves[_Class(False, 0, counted)] = len(self.grammar.constants)
        return leaves

    def allowed(self, op: str, classes: Counter[_Class]) -> list[tuple[_Class, int]]:
        bit = self.parent_bit.get(op, 0)
        return [(c, n) for c, n in classes.items() if not c.blocked & bit]

    def unary(self, op: str, child: Counter[_Class]) -> Counter[_Class]:
        out: Counter[_Class] = Counter()
        for c, n in self.allowed(op, child):
            if c.has_x:  # a constant's function is a constant: never built
                out[_Class(True, c.blocked | self.blocks[op], c.constants)] += n
        return out

    def binary(
        self, op: str, left: Counter[_Class], right: Counter[_Class], *, one_order: bool
    ) -> Counter[_Class]:
        """``op`` over every allowed pair; ``one_order``: left and right are the same
        expressions and (a, b) is (b, a), so each pair is counted once."""
        lefts, rights = self.allowed(op, left), self.allowed(op, right)
        if self.work_left is not None:
            self.work_left -= len(lefts) * len(rights)
            if self.work_left < 0:
                raise _TooIntricate
        limit = self.grammar.max_constants
        out: Counter[_Class] = Counter()
        for i, (a, na) in enumerate(lefts):
            for j, (b, nb) in enumerate(rights):
                if one_order and j < i:
                    continue
                if not (a.has_x or b.has_x) or (op == "**" and (b.has_x or not a.has_x)):
                    continue  # x somewhere; a constant exponent
                constants = a.constants + b.constants
                if limit is not None and constants > limit:
                    continue
                pairs = na * (na + 1) // 2 if one_order and i == j else na * nb
                out[_Class(True, a.blocked | b.blocked | self.blocks[op], constants)] += pairs
        return out


def _table(rules: _Rules, max_size: int, depth: int | None) -> dict[int, Counter[_Class]]:
    """Classes of the expressions of each size up to ``max_size`` nested at most ``depth``
    deep (``None``: any depth). A bounded depth counts children from the table one shallower.
    """
    table = {1: rules.leaves()}
    if depth == 1:
        return {**table, **{size: Counter() for size in range(2, max_size + 1)}}
    below = table if depth is None else _table(rules, max_size - 1, depth - 1)
    for size in range(2, max_size + 1):
        level: Counter[_Class] = Counter()
        for op in rules.grammar.unary:
            level.update(rules.unary(op, below[size - 1]))
        for op in rules.grammar.binary:
            for a_size in range(1, size - 1):
                b_size = size - 1 - a_size
                if (op in COMMUTATIVE and a_size > b_size) or (op == "**" and b_size != 1):
                    continue
                one_order = op in COMMUTATIVE and a_size == b_size
                level.update(rules.binary(op, below[a_size], below[b_size], one_order=one_order))
        table[size] = level
    return table


def count_space(grammar: Grammar, *, max_size: int | None = None) -> SpaceCount:
    """How many expressions (raw functions, each with its variants) every size holds: what a
    complete enumeration screens, before any dedupe.

    >>> from candidates import load_grammar
    >>> count = count_space(load_grammar(), max_size=12)
    >>> count.exact, f"{count.total:.1e}"
    (True, '2.6e+14')
    """
    size = max_size or grammar.max_size
    # A size-n expression is at most n deep: a larger max_depth binds nothing.
    depth = grammar.max_depth if (grammar.max_depth or size) < size else None
    per_raw = 1 + variant_count(grammar.variants, len(grammar.clip_scales))
    exact = True
    try:
        table = _table(_Rules(grammar, follow_forbid=True), size, depth)
    except _TooIntricate:
        exact = False
        table = _table(_Rules(grammar, follow_forbid=False), size, depth)
    # Of size 1 only x is screened: a constant is no candidate.
    per_size = {1: per_raw} | {s: sum(table[s].values()) * per_raw for s in range(2, size + 1)}
    return SpaceCount(per_size, exact)
