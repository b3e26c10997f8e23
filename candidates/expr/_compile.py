"""Render sympy expressions back to the input syntax and compile them to numpy and torch.

Both compilers walk the sympy tree once and build a closure per node from the operator table,
so the numpy screen, the property checks and the torch layer compute the very same function.

Example:
    >>> import numpy as np
    >>> from candidates import parse
    >>> f = compile_numpy(parse("clip(2*x, -1, 1)"))
    >>> f(np.array([-3.0, 0.25, 3.0])).tolist()
    [-1.0, 0.5, 1.0]
    >>> to_source(parse("sigmoid(x)"))
    '1/(1 + exp(-x))'
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import numpy as np
import sympy as sp
from sympy.printing.latex import LatexPrinter
from sympy.printing.str import StrPrinter

from ._operators import BY_HEAD, X, applied, as_tensors, torch_module


class _SourcePrinter(StrPrinter):
    """sympy's str printer, adjusted so that its output parses back with our parser."""

    def _print_Abs(self, expr: sp.Abs) -> str:
        return f"abs({self._print(expr.args[0])})"

    def _print_Exp1(self, expr: Any) -> str:
        return "e"

    def _print_Pi(self, expr: Any) -> str:
        return "pi"

    def _print_Float(self, expr: sp.Float) -> str:
        return repr(float(expr))

    def _print_Min(self, expr: sp.Min) -> str:
        clipped = _as_clip(expr)
        if clipped is not None:
            inner, lo, hi = clipped
            return f"clip({self._print(inner)}, {self._print(lo)}, {self._print(hi)})"
        return self._nested("min", expr.args)

    def _print_Max(self, expr: sp.Max) -> str:
        return self._nested("max", expr.args)

    def _nested(self, name: str, args: tuple[sp.Expr, ...]) -> str:
        # sympy's Min/Max are n-ary; the input syntax has binary min/max.
        text = self._print(args[-1])
        for arg in reversed(args[:-1]):
            text = f"{name}({self._print(arg)}, {text})"
        return text

    def _print_Function(self, expr: Any) -> str:
        name = type(expr).__name__
        return f"{name}({', '.join(self._print(a) for a in expr.args)})"


def _as_clip(expr: sp.Expr) -> tuple[sp.Expr, sp.Expr, sp.Expr] | None:
    """Recognise Min(hi, Max(lo, inner)) with constant lo <= hi as clip(inner, lo, hi)."""
    if not isinstance(expr, sp.Min) or len(expr.args) != 2:
        return None
    numbers = [a for a in expr.args if not a.free_symbols]
    maxes = [a for a in expr.args if isinstance(a, sp.Max) and len(a.args) == 2]
    if len(numbers) != 1 or len(maxes) != 1:
        return None
    hi, inner_max = numbers[0], maxes[0]
    lows = [a for a in inner_max.args if not a.free_symbols]
    rest = [a for a in inner_max.args if a.free_symbols]
    if len(lows) != 1 or len(rest) != 1:
        return None
    try:
        if not bool(lows[0] <= hi):
            return None
    except TypeError:  # bounds sympy cannot compare
        return None
    return rest[0], lows[0], hi


_PRINTER = _SourcePrinter({"order": "none"})


def to_source(expr: sp.Expr) -> str:
    """The expression in the input syntax (it parses back to an equal expression)."""
    return str(_PRINTER.doprint(expr))


class _LatexPrinter(LatexPrinter):
    """sympy's LaTeX, with clip written as clip rather than nested min/max."""

    def _print_Min(self, expr: sp.Min, exp: str | None = None) -> str:
        clipped = _as_clip(expr)
        if clipped is None:
            return str(super()._print_Min(expr, exp))
        inner, lo, hi = (self._print(a) for a in clipped)
        text = rf"\operatorname{{clip}}\left({inner}, {lo}, {hi}\right)"
        return text if exp is None else rf"{text}^{{{exp}}}"


def to_latex(expr: sp.Expr) -> str:
    r"""LaTeX for reports and exported docstrings.

    >>> from candidates import parse
    >>> to_latex(parse("clip(x, -1, 1)"))
    '\\operatorname{clip}\\left(x, -1, 1\\right)'
    """
    return str(_LatexPrinter().doprint(expr))


# --- compilation ---------------------------------------------------------------------------

Fn = Callable[[Any], Any]


class _Backend:
    """What a compiler needs from an array library."""

    name = "numpy"

    def op(self, head: type) -> Callable[..., Any]:
        return BY_HEAD[head].numpy

    def full_like(self, x: Any, value: float) -> Any:
        return np.full_like(x, value, dtype=float)

    def power(self, base: Any, exponent: Any) -> Any:
        return np.power(base, exponent)

    def where(self, cond: Any, a: Any, b: Any) -> Any:
        return np.where(cond, a, b)

    def logical(self, name: str, *args: Any) -> Any:
        return getattr(np, f"logical_{name}")(*args)


class _TorchBackend(_Backend):
    name = "torch"

    def op(self, head: type) -> Callable[..., Any]:
        return BY_HEAD[head].torch

    def full_like(self, x: Any, value: float) -> Any:
        return torch_module().full_like(x, value)

    def power(self, base: Any, exponent: Any) -> Any:
        torch = torch_module()
        if isinstance(base, torch.Tensor):
            return torch.pow(base, exponent)
        return torch.pow(as_tensors(torch, exponent, base)[1], exponent)

    def where(self, cond: Any, a: Any, b: Any) -> Any:
        torch = torch_module()
        if not isinstance(a, torch.Tensor) and not isinstance(b, torch.Tensor):
            a = torch.full_like(cond, float(a), dtype=torch.get_default_dtype())
        a, b = as_tensors(torch, a, b)
        return torch.where(cond, a, b)

    def logical(self, name: str, *args: Any) -> Any:
        return getattr(torch_module(), f"logical_{name}")(*args)


_RELATIONS: dict[type, Callable[[Any, Any], Any]] = {
    sp.StrictLessThan: lambda a, b: a < b,
    sp.LessThan: lambda a, b: a <= b,
    sp.StrictGreaterThan: lambda a, b: a > b,
    sp.GreaterThan: lambda a, b: a >= b,
    sp.Equality: lambda a, b: a == b,
    sp.Unequality: lambda a, b: a != b,
}


#: Sub-expressions whose answer :func:`_has_symbols` keeps (a compile asks at every node).
SYMBOLS_KEPT = 65_536


def _takes_basic_rule(kind: type) -> bool:
    """Whether ``kind``'s free symbols are Basic's, the union of its arguments' (looked up in
    the class's own dictionaries: a function class answers ``free_symbols`` itself, as an
    object, through its metaclass).

    >>> _takes_basic_rule(sp.erf), _takes_basic_rule(sp.Add), _takes_basic_rule(sp.Symbol)
    (True, True, False)
    """
    owner = next(k for k in kind.__mro__ if "free_symbols" in vars(k))
    return owner is sp.Basic


@functools.lru_cache(maxsize=SYMBOLS_KEPT)
def _has_symbols(expr: sp.Basic) -> bool:
    """``bool(expr.free_symbols)``, remembered for every sub-expression: sympy's property walks
    the whole tree below at each call, so asking at every node of a compile is quadratic.

    >>> _has_symbols(sp.erf(2 * X) + sp.pi), _has_symbols(sp.erf(2) + sp.pi)
    (True, False)
    """
    if not _takes_basic_rule(type(expr)):  # a class with its own rule: Symbol, Dummy, …
        return bool(expr.free_symbols)
    return any(_has_symbols(arg) for arg in expr.args)


def _compile(expr: sp.Basic, backend: _Backend) -> Fn:
    if not _has_symbols(expr):
        return _constant(expr, backend)
    if expr == X:
        return lambda x: x
    for kinds, build in _BUILDERS:
        if isinstance(expr, kinds):
            return build(expr, backend)
    if type(expr) in _RELATIONS:
        rel = _RELATIONS[type(expr)]
        lhs, rhs = (_compile(a, backend) for a in expr.args)
        return lambda x: rel(lhs(x), rhs(x))
    if type(expr) in BY_HEAD:
        fn = backend.op(type(expr))
        return applied(fn, [_compile(a, backend) for a in expr.args])
    raise TypeError(f"cannot compile {type(expr).__name__} ({expr}) for {backend.name}")


def _constant(expr: sp.Basic, backend: _Backend) -> Fn:
    if isinstance(expr, sp.logic.boolalg.BooleanAtom):
        flag = bool(expr)
        return lambda x: backend.full_like(x, 1.0) > (0.5 if flag else 1.5)
    value = float(sp.N(expr, 17))
    return lambda x: value


def _fold(parts: list[Fn], combine: Callable[[Any, Any], Any]) -> Fn:
    """``combine`` folded over the parts' values from the left: a + b + c is (a + b) + c."""

    def fold(x: Any) -> Any:
        total = parts[0](x)
        for part in parts[1:]:
            total = combine(total, part(x))
        return total

    return fold


def _sum(expr: sp.Add, backend: _Backend) -> Fn:
    return _fold([_compile(a, backend) for a in expr.args], lambda a, b: a + b)


def _product(expr: sp.Mul, backend: _Backend) -> Fn:
    return _fold([_compile(a, backend) for a in expr.args], lambda a, b: a * b)


def _power(expr: sp.Pow, backend: _Backend) -> Fn:
    base = _compile(expr.base, backend)
    if not expr.exp.free_symbols:
        exponent = float(expr.exp)
        if exponent == -1.0:
            return lambda x: 1.0 / base(x)
        if exponent == 0.5:
            return lambda x: backend.power(base(x), 0.5)
        return lambda x: backend.power(base(x), exponent)
    power = _compile(expr.exp, backend)
    return lambda x: backend.power(base(x), power(x))


def _min_max(expr: sp.Min | sp.Max, backend: _Backend) -> Fn:
    fn = backend.op(type(expr))
    args = [_compile(a, backend) for a in expr.args]

    def fold(x: Any) -> Any:
        values = [a(x) for a in args]
        total = values[0]
        for value in values[1:]:
            total = fn(total, value)
        return total

    return fold


def _piecewise(expr: sp.Piecewise, backend: _Backend) -> Fn:
    pieces = [(_compile(e, backend), _compile(c, backend)) for e, c in expr.args]

    def piecewise(x: Any) -> Any:
        result = backend.full_like(x, float("nan"))
        for value, cond in reversed(pieces):
            result = backend.where(cond(x), value(x), result)
        return result

    return piecewise


def _logical(expr: sp.And | sp.Or, backend: _Backend) -> Fn:
    name = "and" if isinstance(expr, sp.And) else "or"
    conds = [_compile(a, backend) for a in expr.args]
    return _fold(conds, lambda a, b: backend.logical(name, a, b))


def _not(expr: sp.Not, backend: _Backend) -> Fn:
    inner = _compile(expr.args[0], backend)
    return lambda x: backend.logical("not", inner(x))


#: How each kind of node compiles, tried in order: Min and Max (in the operator table too) are
#: folded pairwise; relations and the table's other operators follow in ``_compile``.
_BUILDERS: tuple[tuple[type | tuple[type, ...], Callable[[Any, _Backend], Fn]], ...] = (
    (sp.Add, _sum),
    (sp.Mul, _product),
    (sp.Pow, _power),
    ((sp.Min, sp.Max), _min_max),
    (sp.Piecewise, _piecewise),
    ((sp.And, sp.Or), _logical),
    (sp.Not, _not),
)


def _broadcasting(fn: Fn, backend: _Backend) -> Fn:
    def call(x: Any) -> Any:
        out = fn(x)
        if isinstance(out, float):  # a constant function still returns an array
            return backend.full_like(x, out)
        return out

    return call


def compile_numpy(expr: sp.Expr) -> Callable[[np.ndarray], np.ndarray]:
    """A numpy function computing ``expr`` element-wise (float64; nan where not real)."""
    backend = _Backend()
    return _broadcasting(_compile(expr, backend), backend)


def compile_torch(expr: sp.Expr) -> Callable[[Any], Any]:
    """A torch function computing ``expr`` element-wise, differentiable where torch is."""
    torch_module()  # resolve the import now, not while torch.compile traces the function
    backend = _TorchBackend()
    return _broadcasting(_compile(expr, backend), backend)
