"""The operator table: every primitive declared once, with its sympy, numpy and torch forms.

The parser, the printer, the compilers (numpy, torch) and the enumerator all read this table, so
a primitive added here is available everywhere.

Example:
    >>> from candidates import OPERATORS
    >>> OPERATORS["softsign"].arity
    1
"""

from __future__ import annotations

import difflib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import sympy as sp
from scipy import special

#: The one variable of every candidate. Declared real so that sympy simplifies |x|², √(x²), ….
X = sp.Symbol("x", real=True)


_TORCH: Any = None


def torch_module() -> Any:
    # Imported on first use only: `derf-search --help` and the numeric screen never need torch.
    # Kept in a global so that later calls (inside torch.compile tracing) run no import.
    global _TORCH
    if _TORCH is None:
        import torch

        _TORCH = torch
    return _TORCH


def _sigmoid_sympy(a: sp.Expr) -> sp.Expr:
    return 1 / (1 + sp.exp(-a))


def _cbrt_sympy(a: sp.Expr) -> sp.Expr:
    # The real cube root: sympy's cbrt is the principal (complex) root for negative arguments.
    return sp.sign(a) * sp.Abs(a) ** sp.Rational(1, 3)


def _clip_sympy(a: sp.Expr, lo: sp.Expr, hi: sp.Expr) -> sp.Expr:
    # Unevaluated: sympy's Min/Max simplification compares arguments symbolically and costs
    # tens of milliseconds on nested arguments, for nothing a clip needs.
    if not a.free_symbols:
        return sp.Min(sp.Max(a, lo), hi)
    return sp.Min(sp.Max(a, lo, evaluate=False), hi, evaluate=False)


def _min_sympy(a: sp.Expr, b: sp.Expr) -> sp.Expr:
    return sp.Min(a, b, evaluate=False) if a.free_symbols and b.free_symbols else sp.Min(a, b)


def _max_sympy(a: sp.Expr, b: sp.Expr) -> sp.Expr:
    return sp.Max(a, b, evaluate=False) if a.free_symbols and b.free_symbols else sp.Max(a, b)


def _torch_binary(name: str) -> Callable[[Any, Any], Any]:
    def apply(a: Any, b: Any) -> Any:
        torch = torch_module()
        a, b = as_tensors(torch, a, b)
        return getattr(torch, name)(a, b)

    return apply


def as_tensors(torch: Any, *values: Any) -> list[Any]:
    """Turn Python numbers into tensors shaped like the first tensor argument."""
    like = next(v for v in values if isinstance(v, torch.Tensor))
    return [
        v
        if isinstance(v, torch.Tensor)
        else torch.as_tensor(v, dtype=like.dtype, device=like.device)
        for v in values
    ]


def _torch_clip(a: Any, lo: Any, hi: Any) -> Any:
    torch = torch_module()
    if isinstance(lo, (int, float)) and isinstance(hi, (int, float)):
        return torch.clamp(a, float(lo), float(hi))
    a, lo, hi = as_tensors(torch, a, lo, hi)
    return torch.minimum(torch.maximum(a, lo), hi)


@dataclass(frozen=True)
class Operator:
    """One primitive: its name, arity and its three forms.

    ``sympy`` builds the symbolic expression (it may expand into other primitives, as ``sigmoid``
    does); ``head`` is the sympy function class that ``sympy`` produces when it does not expand,
    so compiled code can map the class back to ``numpy`` and ``torch``.
    """

    name: str
    arity: int
    sympy: Callable[..., sp.Expr]
    numpy: Callable[..., np.ndarray]
    torch: Callable[..., Any]
    head: type | None = None
    aliases: tuple[str, ...] = field(default=())
    doc: str = ""
    torch_name: str | None = None  # the torch function a head maps to (for exported source)


def _unary(
    name: str,
    sym: type,
    np_fn: Callable[..., np.ndarray],
    torch_name: str,
    doc: str,
    aliases: tuple[str, ...] = (),
) -> Operator:
    return Operator(
        name=name,
        arity=1,
        sympy=sym,
        numpy=np_fn,
        torch=lambda a: getattr(torch_module(), torch_name)(a),
        head=sym,
        aliases=aliases,
        doc=doc,
        torch_name=torch_name,
    )


_TABLE: list[Operator] = [
    _unary("erf", sp.erf, special.erf, "erf", "Gauss error function"),
    _unary("erfc", sp.erfc, special.erfc, "erfc", "complementary error function, 1 - erf"),
    _unary("tanh", sp.tanh, np.tanh, "tanh", "hyperbolic tangent"),
    _unary("sinh", sp.sinh, np.sinh, "sinh", "hyperbolic sine"),
    _unary("cosh", sp.cosh, np.cosh, "cosh", "hyperbolic cosine"),
    _unary("atan", sp.atan, np.arctan, "atan", "inverse tangent", aliases=("arctan",)),
    _unary("asinh", sp.asinh, np.arcsinh, "asinh", "inverse hyperbolic sine", aliases=("arcsinh",)),
    _unary("exp", sp.exp, np.exp, "exp", "exponential"),
    _unary("log", sp.log, np.log, "log", "natural logarithm (real for x > 0 only)"),
    _unary("sin", sp.sin, np.sin, "sin", "sine"),
    _unary("cos", sp.cos, np.cos, "cos", "cosine"),
    _unary("tan", sp.tan, np.tan, "tan", "tangent (poles at pi/2 + k*pi)"),
    _unary("abs", sp.Abs, np.abs, "abs", "absolute value"),
    _unary("sign", sp.sign, np.sign, "sign", "sign, 0 at 0"),
    Operator(
        "sqrt",
        1,
        sp.sqrt,
        np.sqrt,
        lambda a: torch_module().sqrt(a),
        doc="square root (real for x >= 0 only)",
    ),
    Operator(
        "expm1",
        1,
        lambda a: sp.exp(a) - 1,
        np.expm1,
        lambda a: torch_module().expm1(a),
        doc="exp(x) - 1",
    ),
    Operator(
        "log1p",
        1,
        lambda a: sp.log(1 + a),
        np.log1p,
        lambda a: torch_module().log1p(a),
        doc="log(1 + x) (real for x > -1 only)",
    ),
    Operator(
        "cbrt",
        1,
        _cbrt_sympy,
        np.cbrt,
        lambda a: torch_module().sign(a) * torch_module().abs(a).pow(1.0 / 3.0),
        doc="real cube root",
    ),
    Operator(
        "sigmoid",
        1,
        _sigmoid_sympy,
        special.expit,
        lambda a: torch_module().sigmoid(a),
        doc="logistic function 1/(1 + exp(-x))",
    ),
    Operator(
        "softsign",
        1,
        lambda a: a / (1 + sp.Abs(a)),
        lambda a: a / (1 + np.abs(a)),
        lambda a: a / (1 + torch_module().abs(a)),
        doc="x/(1 + |x|)",
    ),
    Operator(
        "min",
        2,
        _min_sympy,
        np.minimum,
        _torch_binary("minimum"),
        head=sp.Min,
        doc="smaller of two values",
        torch_name="minimum",
    ),
    Operator(
        "max",
        2,
        _max_sympy,
        np.maximum,
        _torch_binary("maximum"),
        head=sp.Max,
        doc="larger of two values",
        torch_name="maximum",
    ),
    Operator(
        "clip",
        3,
        _clip_sympy,
        np.clip,
        _torch_clip,
        doc="clip(x, lo, hi): x limited to [lo, hi]",
    ),
]

#: Name (and alias) -> operator.
OPERATORS: dict[str, Operator] = {}
for _op in _TABLE:
    for _name in (_op.name, *_op.aliases):
        OPERATORS[_name] = _op

#: sympy function class -> operator, for compiling sympy trees back to numpy/torch.
BY_HEAD: dict[type, Operator] = {op.head: op for op in _TABLE if op.head is not None}

#: Named constants usable in expressions.
CONSTANTS: dict[str, sp.Expr] = {"pi": sp.pi, "e": sp.E}


def applied(fn: Callable[..., Any], args: list[Callable[[Any], Any]]) -> Callable[[Any], Any]:
    """The closure x ↦ fn(a(x) for a in args), written out for one and two arguments: the
    compiled functions are evaluated a few dozen times per candidate on small arrays, where a
    generator's cost per call is a fifth of the whole.

    >>> applied(max, [lambda x: x, lambda x: 2 * x])(3)
    6
    """
    if len(args) == 1:
        (a,) = args
        return lambda x: fn(a(x))
    if len(args) == 2:
        a, b = args
        return lambda x: fn(a(x), b(x))
    return lambda x: fn(*[a(x) for a in args])


def suggest(name: str, choices: list[str] | tuple[str, ...] | set[str]) -> str:
    """A ``"; did you mean 'x'?"`` suffix for an unknown name, or ``""`` when nothing is close.

    >>> suggest("tahn", ["tanh", "erf"])
    "; did you mean 'tanh'?"
    """
    # Transposed letters (tahn) are the commonest typo: such names come first.
    anagrams = [c for c in sorted(choices) if sorted(c) == sorted(name) and c != name]
    close = difflib.get_close_matches(name, sorted(choices), n=3, cutoff=0.6)
    close = (anagrams + [c for c in close if c not in anagrams])[:3]
    if not close:
        return ""
    quoted = " or ".join(repr(c) for c in close)
    return f"; did you mean {quoted}?"
