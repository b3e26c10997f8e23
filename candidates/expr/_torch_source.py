"""Python source of a torch function for an expression, for modules that need only torch.

The source performs the very operations :func:`candidates.compile_torch` performs, in the same
order, so an exported function computes the same floats as the one used during the search. It
calls four small helpers (``_pow``, ``_binary``, ``_where``, ``_full``) that :data:`TORCH_HELPERS`
defines.

Example:
    >>> from candidates import parse
    >>> to_torch_source(parse("x/(1 + abs(x))"))
    '(x * (1.0 / (1.0 + torch.abs(x))))'
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import sympy as sp

from ._operators import BY_HEAD, X

#: Definitions the generated source relies on (scalars meet tensors as compile_torch does).
TORCH_HELPERS = """
def _tensor(value, like):
    if isinstance(value, torch.Tensor):
        return value
    return torch.as_tensor(value, dtype=like.dtype, device=like.device)


def _pow(base, exponent):
    if isinstance(base, torch.Tensor):
        return torch.pow(base, exponent)
    return torch.pow(_tensor(base, exponent), exponent)


def _binary(name, a, b):
    like = a if isinstance(a, torch.Tensor) else b
    return getattr(torch, name)(_tensor(a, like), _tensor(b, like))


def _where(cond, a, b):
    if not isinstance(a, torch.Tensor) and not isinstance(b, torch.Tensor):
        a = torch.full_like(cond, float(a), dtype=torch.get_default_dtype())
    like = a if isinstance(a, torch.Tensor) else b
    return torch.where(cond, _tensor(a, like), _tensor(b, like))


def _full(x, value):
    return torch.full_like(x, value)
"""

_RELATIONS: dict[type, str] = {
    sp.StrictLessThan: "<",
    sp.LessThan: "<=",
    sp.StrictGreaterThan: ">",
    sp.GreaterThan: ">=",
    sp.Equality: "==",
    sp.Unequality: "!=",
}


def _fold(parts: list[str], op: str) -> str:
    text = parts[0]
    for part in parts[1:]:
        text = f"{text} {op} {part}"
    return f"({text})"


def _nest(call: str, args: tuple[sp.Basic, ...]) -> str:
    """A binary call folded over the arguments from the left, as compile_torch folds them."""
    parts = [to_torch_source(a) for a in args]
    text = parts[0]
    for part in parts[1:]:
        text = f"{call}{text}, {part})"
    return text


def to_torch_source(expr: sp.Basic) -> str:
    """An expression in ``x`` (a tensor) computing ``expr`` with torch."""
    if not expr.free_symbols:
        return _constant(expr)
    if expr == X:
        return "x"
    for kinds, write in _WRITERS:
        if isinstance(expr, kinds):
            return write(expr)
    if type(expr) in _RELATIONS:
        lhs, rhs = (to_torch_source(a) for a in expr.args)
        return f"({lhs} {_RELATIONS[type(expr)]} {rhs})"
    if type(expr) in BY_HEAD and BY_HEAD[type(expr)].torch_name:
        args = ", ".join(to_torch_source(a) for a in expr.args)
        return f"torch.{BY_HEAD[type(expr)].torch_name}({args})"
    raise TypeError(f"cannot write torch source for {type(expr).__name__} ({expr})")


def _constant(expr: sp.Basic) -> str:
    if isinstance(expr, sp.logic.boolalg.BooleanAtom):
        return f"(_full(x, 1.0) > {0.5 if bool(expr) else 1.5})"
    value = float(sp.N(expr, 17))
    if not math.isfinite(value):  # the parser bounds constants; this is the last guard
        raise ValueError(f"constant {expr} is not a finite float")
    return repr(value)


def _power(expr: sp.Pow) -> str:
    base = to_torch_source(expr.base)
    if not expr.exp.free_symbols:
        exponent = float(expr.exp)
        if exponent == -1.0:  # compile_torch divides here too
            return f"(1.0 / {base})"
        return f"_pow({base}, {exponent!r})"
    return f"_pow({base}, {to_torch_source(expr.exp)})"


def _piecewise(expr: sp.Piecewise) -> str:
    text = "_full(x, float('nan'))"
    for value, cond in reversed(expr.args):
        text = f"_where({to_torch_source(cond)}, {to_torch_source(value)}, {text})"
    return text


def _logical(expr: sp.And | sp.Or) -> str:
    name = "logical_and" if isinstance(expr, sp.And) else "logical_or"
    return _nest(f"torch.{name}(", expr.args)


#: How each kind of node is written, as compile_torch computes it (``_compile``'s kinds).
_WRITERS: tuple[tuple[type | tuple[type, ...], Callable[[Any], str]], ...] = (
    (sp.Add, lambda e: _fold([to_torch_source(a) for a in e.args], "+")),
    (sp.Mul, lambda e: _fold([to_torch_source(a) for a in e.args], "*")),
    (sp.Pow, _power),
    ((sp.Min, sp.Max), lambda e: _nest(f"_binary({BY_HEAD[type(e)].torch_name!r}, ", e.args)),
    (sp.Piecewise, _piecewise),
    ((sp.And, sp.Or), _logical),
    (sp.Not, lambda e: f"torch.logical_not({to_torch_source(e.args[0])})"),
)
