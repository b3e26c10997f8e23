"""The space of expressions a grammar spans: grammar files, counting, enumeration and seeded
sampling, the vectorised numeric screen, and :func:`generate_candidates` (enumerate → screen →
dedupe → check).

The top room: imports every other room.

Example:
    >>> grammar = parse_grammar("[grammar]\\nmax_size = 2\\n[operators]\\nunary = ['tanh']\\n")
    >>> count_space(grammar).per_size
    {1: 1, 2: 1}
"""

from __future__ import annotations

from ._count import SpaceCount, count_space
from ._enumerate import EnumerationResult, Survivor, enumerate_space
from ._generate import GenerateResult, generate_candidates
from ._grammar import Grammar, builtin_grammars, load_grammar, parse_grammar
from ._sample import sample_space
from ._screen import GRID as SCREEN_GRID
from ._screen import REASONS, screen

__all__ = [
    "REASONS",
    "SCREEN_GRID",
    "EnumerationResult",
    "GenerateResult",
    "Grammar",
    "SpaceCount",
    "Survivor",
    "builtin_grammars",
    "count_space",
    "enumerate_space",
    "generate_candidates",
    "load_grammar",
    "parse_grammar",
    "sample_space",
    "screen",
]
