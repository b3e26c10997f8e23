"""Expressions: the one operator table, the safe parser, and an expression compiled to numpy
and torch or written back as input text, LaTeX and torch source.

Every other room builds on this one; it imports no room.

Example:
    >>> from candidates.expr import compile_numpy, parse, to_source
    >>> to_source(parse("clip(2*x, -1, 1)")), compile_numpy(parse("2*x"))(1.5).item()
    ('clip(2*x, -1, 1)', 3.0)
"""

from __future__ import annotations

from ._compile import compile_numpy, compile_torch, to_latex, to_source
from ._operators import CONSTANTS, OPERATORS, Operator, X, suggest
from ._parser import DEFAULT_LIMITS, Limits, called_names, numpy_from_text, parse
from ._torch_source import TORCH_HELPERS, to_torch_source

__all__ = [
    "CONSTANTS",
    "DEFAULT_LIMITS",
    "OPERATORS",
    "TORCH_HELPERS",
    "Limits",
    "Operator",
    "X",
    "called_names",
    "compile_numpy",
    "compile_torch",
    "numpy_from_text",
    "parse",
    "suggest",
    "to_latex",
    "to_source",
    "to_torch_source",
]
