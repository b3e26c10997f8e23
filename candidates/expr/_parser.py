"""The safe expression parser: Python arithmetic over ``x``, checked node by node.

User text is parsed with :mod:`ast` and every node is checked against a whitelist before a sympy
object is built from it directly. Nothing is evaluated: no ``eval``, ``exec``, ``sympify`` or
``parse_expr`` ever sees user text.

Example:
    >>> from candidates import parse
    >>> parse("x / sqrt(x**2 + 1)")
    x/sqrt(x**2 + 1)
"""

from __future__ import annotations

import ast
import functools
import math
import re
import unicodedata
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from fractions import Fraction
from typing import Any, NoReturn

import numpy as np
import sympy as sp

from .._errors import ExpressionError
from ._operators import BY_HEAD, CONSTANTS, OPERATORS, X, applied, suggest


@dataclass(frozen=True)
class Limits:
    """Size limits that keep parsing and symbolic work cheap whatever the input."""

    max_length: int = 1000
    max_nodes: int = 200
    max_depth: int = 32
    max_constant: float = 1e6
    max_exponent: float = 64.0
    #: Nodes once user primitives are inlined: p(p(x)) copies p's body once per x in it, so
    #: grammar definitions built on each other (``p2 = "p1(p1(x))"``) grow exponentially (a
    #: size-12 chain of isru is ~16,000 nodes); counted as a tree, as sympy walks it, before
    #: sympy builds anything and again on what it built.
    max_inlined_nodes: int = 20_000
    max_inlined_depth: int = 128


DEFAULT_LIMITS = Limits()
#: How many sub-expressions' sympy forms a process keeps (a generator's workers parse tens of
#: thousands of expressions sharing most of their sub-expressions); forgotten all at once
#: when full.
SUBTREES_KEPT = 50_000
_SUBTREES: dict[tuple[str, Any], tuple[sp.Expr, int]] = {}
#: The largest constant sub-expression (exp(100) ≈ 2.7e43 is fine; exp(exp(100)) is not).
MAX_CONSTANT_VALUE = 1e100

_BINARY = {ast.Add: "+", ast.Sub: "-", ast.Mult: "*", ast.Div: "/", ast.Pow: "**"}
_NUMPY_BINARY: dict[type, Any] = {
    ast.Add: np.add,
    ast.Sub: np.subtract,
    ast.Mult: np.multiply,
    ast.Div: np.divide,
    ast.Pow: np.power,
}
_HINTS = {
    ast.BitXor: "'^' is not a power: write x**2",
    ast.FloorDiv: "'//' is not allowed: write /",
    ast.Mod: "'%' is not allowed",
    ast.MatMult: "'@' is not allowed",
}


def parse(
    source: str,
    *,
    primitives: Mapping[str, sp.Expr] | None = None,
    limits: Limits = DEFAULT_LIMITS,
    origin: str | None = None,
) -> sp.Expr:
    """Parse ``source`` into a sympy expression in :data:`X`.

    ``primitives`` maps user-defined unary primitives to their definitions in ``x``
    (``{"satursin": sin(clip(x, -pi/2, pi/2))}``); calls to them are inlined. Raises
    :class:`ExpressionError` (with column and a did-you-mean) for anything not allowed.

    >>> parse("clip(x, -1, 1)")
    Min(1, Max(-1, x))
    """
    return _Builder(source, primitives or {}, limits, origin).build()


class _Builder:
    def __init__(
        self, source: str, primitives: Mapping[str, sp.Expr], limits: Limits, origin: str | None
    ) -> None:
        self.source = source
        self.primitives = primitives
        self.limits = limits
        self.origin = origin
        # The text is parsed stripped; positions in it are mapped back to columns of `source`.
        self.text = source.strip() if isinstance(source, str) else ""
        self.lead = len(source) - len(source.lstrip()) if isinstance(source, str) else 0
        self.line_starts = [0] + [m.end() for m in re.finditer(r"\r\n|\r|\n", self.text)]
        self.memo_key = (limits, tuple(sorted(primitives.items(), key=lambda item: item[0])))
        self.heights: dict[int, int] = {}  # id of an AST node of this text -> its _height

    def error(
        self, message: str, node: ast.AST | None = None, column: int | None = None
    ) -> NoReturn:
        if node is not None and hasattr(node, "col_offset"):
            column = self.column(getattr(node, "lineno", 1), node.col_offset + 1)
        raise ExpressionError(message, source=self.source, column=column, origin=self.origin)

    def column(self, line: int | None, offset: int | None) -> int:
        """The 1-based column in ``source`` of ``offset`` (1-based) on ``line`` of the stripped
        text; an offset before the line's start (Python's 0 for "x +") means its end."""
        row = min(max((line or 1) - 1, 0), len(self.line_starts) - 1)
        start = self.line_starts[row]
        end = self.line_starts[row + 1] if row + 1 < len(self.line_starts) else len(self.text) + 1
        position = start + offset - 1 if offset and offset >= 1 else end - 1
        return self.lead + min(position, len(self.text)) + 1

    def build(self) -> sp.Expr:
        self.refuse_text()
        tree = self.syntax_tree()
        self.refuse_large_inlining(tree.body)
        expr = self.sympy_tree(tree.body)
        self.refuse_unreal(expr)
        return expr

    def refuse_text(self) -> None:
        """The text itself: a string, not too long, not empty, ASCII."""
        if not isinstance(self.source, str):
            self.error(f"expected a string, got {type(self.source).__name__}")
        if len(self.source) > self.limits.max_length:
            self.error(f"longer than {self.limits.max_length} characters ({len(self.source)})")
        if not self.source.strip():
            self.error("empty expression")
        self.refuse_non_ascii()

    def syntax_tree(self) -> ast.Expression:
        """Python's syntax tree of the text, its size bounded."""
        try:
            with warnings.catch_warnings():
                # Python warns on stderr about odd literals ("1if x"); the error is ours to give.
                warnings.simplefilter("ignore")
                tree = ast.parse(self.text, mode="eval")
        except SyntaxError as exc:
            hint = _implicit_product(self.text)
            self.error(f"syntax error: {exc.msg}{hint}", column=self.column(exc.lineno, exc.offset))
        except (ValueError, RecursionError, MemoryError) as exc:
            self.error(f"cannot be parsed: {type(exc).__name__}")
        nodes = sum(1 for _ in ast.walk(tree))
        if nodes > self.limits.max_nodes:
            self.error(f"too large: {nodes} syntax nodes, the limit is {self.limits.max_nodes}")
        return tree

    def sympy_tree(self, body: ast.expr) -> sp.Expr:
        """The sympy expression built from the checked syntax tree, its size bounded."""
        try:
            expr = self.node(body, depth=0)
        except ExpressionError:
            raise
        except (TypeError, ValueError, ArithmeticError, RecursionError) as exc:
            # sympy refuses some constant sub-expressions (nan comparisons, 0*oo, …).
            self.error(f"not a real expression: {type(exc).__name__}: {exc}"[:200])
        if not isinstance(expr, sp.Expr):
            self.error("not an arithmetic expression")
        if self.primitives:  # each inlining was bounded; what was built around them is too
            nodes, depth, _ = _tree_shape(expr, self.limits.max_inlined_nodes)
            if nodes > self.limits.max_inlined_nodes or depth > self.limits.max_inlined_depth:
                self.error(
                    f"too large with its primitives inlined: more than "
                    f"{self.limits.max_inlined_nodes} nodes or {self.limits.max_inlined_depth} "
                    "levels"
                )
        return expr

    def refuse_unreal(self, expr: sp.Expr) -> None:
        """What sympy built must be a real function of ``x`` alone, defined somewhere."""
        if expr.has(sp.zoo, sp.nan, sp.oo, -sp.oo):
            self.error("undefined everywhere (a division by zero or an infinite constant)")
        if expr.has(sp.I) or any(sub.is_real is False for sub in _constant_subexpressions(expr)):
            # sqrt(-1), log(-2), (-1)**0.5: a complex constant has no place in a real function
            self.error("a constant part is not a real number (sqrt(-1), log(-2), …)")
        foreign = next(
            (
                sub
                for sub in _postorder(expr)
                if isinstance(sub, sp.Function) and type(sub) not in BY_HEAD
            ),
            None,
        )
        if foreign is not None:
            # sympy writes |exp(x**x)| as exp(re(x**x)): x**x is not real for x < 0, and re()
            # is no operator of a real function (nothing could compile or export it).
            shown = str(foreign) if len(str(foreign)) <= 60 else str(foreign)[:57] + "..."
            self.error(
                f"not a real function: sympy writes part of it as {shown} (a power of a base "
                "that can be negative?)"
            )
        extra = expr.free_symbols - {X}
        if extra:
            self.error(f"unknown symbols {sorted(map(str, extra))}")

    def refuse_large_inlining(self, body: ast.expr) -> None:
        """Count the inlined tree before sympy builds it: building is what takes minutes and
        gigabytes when primitives nest (a1 = a0(a0(x)), a2 = a1(a1(x)), …)."""
        called = called_names(body) & set(self.primitives)
        if not called:
            return
        sizes = {name: primitive_size(self.primitives[name]) for name in called}
        nodes = inlined_size(body, sizes).nodes
        if nodes > self.limits.max_inlined_nodes:
            self.error(
                f"too large once its primitives are inlined: {nodes:,} nodes, the limit is "
                f"{self.limits.max_inlined_nodes:,}"
            )

    def refuse_non_ascii(self) -> None:
        """Python folds look-alike letters (NFKC: 'ｅｒｆ', '𝐱', 'ⅹ') into ASCII names, so text
        that reads as one function could silently parse as another. Expressions are ASCII."""
        for column, char in enumerate(self.source, start=1):
            if char.isascii():
                continue
            folded = unicodedata.normalize("NFKC", self.source)
            hint = f"; did you mean {folded!r}?" if folded.isascii() else ""
            self.error(
                f"non-ASCII character {char!r} (U+{ord(char):04X}): expressions are written "
                f"in ASCII{hint}",
                column=column,
            )

    def node(self, node: ast.AST, depth: int) -> sp.Expr:
        if not isinstance(node, (ast.BinOp, ast.Call, ast.UnaryOp)) or len(self.line_starts) > 1:
            return self.build_node(node, depth)
        # A sub-expression's sympy form depends on its text, the primitives and the limits
        # alone: built once per process. Only what was built is kept, so an error is raised
        # afresh with its own column, and a kept one deeper than the limit allows is built
        # (and refused) again.
        key = (self.text[node.col_offset : node.end_col_offset], self.memo_key)
        kept = _SUBTREES.get(key)
        if kept is not None and depth + kept[1] <= self.limits.max_depth:
            return kept[0]
        expr = self.build_node(node, depth)
        if len(_SUBTREES) >= SUBTREES_KEPT:
            _SUBTREES.clear()
        _SUBTREES[key] = (expr, _height(node, self.heights))
        return expr

    def build_node(self, node: ast.AST, depth: int) -> sp.Expr:
        if depth > self.limits.max_depth:
            self.error(f"nested deeper than {self.limits.max_depth} levels", node)
        if isinstance(node, ast.Constant):
            return self.constant(node)
        if isinstance(node, ast.Name):
            return self.name(node)
        if isinstance(node, ast.UnaryOp):
            operand = self.node(node.operand, depth + 1)
            if isinstance(node.op, ast.USub):
                return -operand
            if isinstance(node.op, ast.UAdd):
                return operand
            self.error(f"operator {type(node.op).__name__} is not allowed", node)
        if isinstance(node, ast.BinOp):
            return self.binary(node, depth)
        if isinstance(node, ast.Call):
            return self.call(node, depth)
        self.error(
            f"{type(node).__name__} is not allowed: use numbers, x, pi, e, "
            "+ - * / **, parentheses and function calls",
            node,
        )
        raise AssertionError("unreachable")

    def constant(self, node: ast.Constant) -> sp.Expr:
        value = node.value
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            self.error(f"only real numbers are allowed, not {type(value).__name__}", node)
        assert isinstance(value, (int, float))
        if (
            abs(value) > self.limits.max_constant  # first: a huge int has no float (isfinite)
            or not math.isfinite(value)
            or 0 < abs(value) < 1 / self.limits.max_constant
        ):
            shown = repr(value) if len(repr(value)) <= 40 else repr(value)[:30] + "..."
            self.error(
                f"constant {shown} is out of range ({1 / self.limits.max_constant:g} <= |c| "
                f"<= {self.limits.max_constant:g}, or 0)",
                node,
            )
        # Exact rationals keep canonical forms exact: 0.5 is 1/2, 1.205 is 241/200.
        frac = Fraction(value) if isinstance(value, int) else Fraction(repr(value))
        return sp.Rational(frac.numerator, frac.denominator)

    def name(self, node: ast.Name) -> sp.Expr:
        if node.id == "x":
            return X
        if node.id in CONSTANTS:
            return CONSTANTS[node.id]
        if node.id in OPERATORS or node.id in self.primitives:
            self.error(f"{node.id!r} is a function: write {node.id}(x)", node)
        known = ["x", *CONSTANTS]
        self.error(f"unknown name {node.id!r}{suggest(node.id, known)}", node)
        raise AssertionError("unreachable")

    def binary(self, node: ast.BinOp, depth: int) -> sp.Expr:
        op = type(node.op)
        if op not in _BINARY:
            hint = _HINTS.get(op, f"operator {op.__name__} is not allowed")
            self.error(hint, node)
        left = self.node(node.left, depth + 1)
        right = self.node(node.right, depth + 1)
        if op is not ast.Pow and not left.free_symbols and not right.free_symbols:
            if op is ast.Div and right == 0:
                self.error("division by zero", node)
            self.bound_constant(_BINARY[op], _NUMPY_BINARY[op], [left, right], node)
        if op is ast.Add:
            return left + right
        if op is ast.Sub:
            return left - right
        if op is ast.Mult:
            return left * right
        if op is ast.Div:
            if right == 0:
                self.error("division by zero", node)
            return left / right
        return self.power(node, left, right)

    def power(self, node: ast.BinOp, base: sp.Expr, exponent: sp.Expr) -> sp.Expr:
        # Bound constant powers before sympy computes them exactly: 9**9**9 would never finish.
        if exponent.is_Number:
            if abs(float(exponent)) > self.limits.max_exponent:
                self.error(
                    f"exponent {exponent} is out of range (|p| <= {self.limits.max_exponent:g})",
                    node,
                )
            if base.is_Number and base != 0:
                magnitude = abs(float(exponent)) * abs(math.log10(abs(float(base))))
                if magnitude > 300:
                    self.error("constant power is out of range", node)
            if base == 0 and exponent.is_negative:
                self.error("division by zero", node)
        elif not exponent.free_symbols and exponent.is_real is not True:
            self.error("exponent must be real", node)
        if not base.free_symbols and not exponent.free_symbols:
            self.bound_constant("**", np.power, [base, exponent], node)
        return sp.Pow(base, exponent)

    def call(self, node: ast.Call, depth: int) -> sp.Expr:
        if not isinstance(node.func, ast.Name):
            self.error("only calls of named functions are allowed, like erf(x)", node)
        assert isinstance(node.func, ast.Name)
        if node.keywords:
            self.error("keyword arguments are not allowed", node)
        name = node.func.id
        args = []
        for arg in node.args:
            if isinstance(arg, ast.Starred):
                self.error("*args are not allowed", arg)
            args.append(self.node(arg, depth + 1))
        if name in self.primitives:
            if len(args) != 1:
                self.error(f"{name}() takes 1 argument, got {len(args)}", node)
            return self.inline(name, args[0], node)
        if name not in OPERATORS:
            known = [*OPERATORS, *self.primitives]
            self.error(f"unknown function {name!r}{suggest(name, known)}", node)
        op = OPERATORS[name]
        if len(args) != op.arity:
            plural = "s" if op.arity != 1 else ""
            self.error(f"{name}() takes {op.arity} argument{plural}, got {len(args)}", node)
        if name == "clip":
            lo, hi = args[1], args[2]
            if lo.is_Number and hi.is_Number and lo > hi:
                self.error(f"clip bounds are reversed: lo={lo} > hi={hi}", node)
        if all(not a.free_symbols for a in args):
            self.bound_constant(name, op.numpy, args, node)
        return op.sympy(*args)

    def inline(self, name: str, arg: sp.Expr, node: ast.AST) -> sp.Expr:
        """``name``'s definition with ``arg`` for x, refused when the result is too large: a
        chain of definitions doubling at each level would otherwise take hours to build."""
        definition, cap = self.primitives[name], self.limits.max_inlined_nodes
        # Measured before sympy builds it (sympy's own checks of a deep argument are slow too).
        nodes, depth, uses = _tree_shape(definition, cap)
        arg_nodes, arg_depth, _ = _tree_shape(arg, cap)
        if uses:
            nodes, depth = nodes + uses * (arg_nodes - 1), depth + arg_depth - 1
        if nodes > cap or depth > self.limits.max_inlined_depth:
            self.error(
                f"too large once {name}() is inlined: more than {cap} nodes or "
                f"{self.limits.max_inlined_depth} levels",
                node,
            )
        return definition.xreplace({X: arg})

    def bound_constant(
        self, name: str, numpy_fn: Callable[..., Any], args: list[sp.Expr], node: ast.AST
    ) -> None:
        """Refuse a constant call before sympy evaluates it: sympy keeps exp(exp(exp(100)))
        exact and compares or prints it with unbounded precision, which never ends. Its value
        in floats must be real, finite and at most :data:`MAX_CONSTANT_VALUE` in size."""
        try:
            values = [complex(sp.N(a, 17)) for a in args]
        except (TypeError, ValueError, OverflowError):
            self.error(f"{name}() of a constant that is not a real number", node)
        if any(abs(v.imag) > 0 for v in values):
            self.error(f"{name}() of a constant that is not a real number", node)
        with np.errstate(all="ignore"):
            value = complex(np.asarray(numpy_fn(*(v.real for v in values)), dtype=complex))
        if not (np.isfinite(value.real) and abs(value.real) <= MAX_CONSTANT_VALUE):
            self.error(
                f"constant {ast.unparse(node)} is out of range or undefined "
                f"(|c| <= {MAX_CONSTANT_VALUE:g})",
                node,
            )


@dataclass(frozen=True)
class InlinedSize:
    """An expression tree's size: its nodes, and how many of them are x (each x is where an
    argument goes when the tree is the body of a primitive)."""

    nodes: int
    xs: int


def called_names(node: ast.AST) -> set[str]:
    """The names of the functions a parsed expression calls.

    >>> sorted(called_names(ast.parse("a(x) + b(erf(x))", mode="eval")))
    ['a', 'b', 'erf']
    """
    calls = (n for n in ast.walk(node) if isinstance(n, ast.Call))
    return {c.func.id for c in calls if isinstance(c.func, ast.Name)}


@functools.lru_cache(maxsize=256)
def primitive_size(body: sp.Expr) -> InlinedSize:
    """The size of a primitive's sympy body.

    >>> primitive_size(parse("x/sqrt(x**2 + 1)"))
    InlinedSize(nodes=9, xs=2)
    """
    nodes = xs = 0
    for node in sp.preorder_traversal(body):
        nodes += 1
        xs += node == X
    return InlinedSize(nodes, xs)


def inlined_size(node: ast.AST, primitives: Mapping[str, InlinedSize]) -> InlinedSize:
    """The size of a parsed expression once the ``primitives`` it calls are inlined, counted
    without building anything (Python integers do not overflow, however large the count).

    A call p(arg) is p's body with each of its x replaced by arg.

    >>> body = ast.parse("p(p(x)) + 1", mode="eval").body
    >>> inlined_size(body, {"p": InlinedSize(nodes=9, xs=2)})
    InlinedSize(nodes=27, xs=4)
    """
    if isinstance(node, ast.Name):
        return InlinedSize(1, int(node.id == "x"))
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
        args = [inlined_size(a, primitives) for a in node.args]
        body = primitives.get(node.func.id)
        if body is not None and len(args) == 1:
            (arg,) = args
            return InlinedSize(body.nodes + body.xs * (arg.nodes - 1), body.xs * arg.xs)
        return InlinedSize(1 + sum(a.nodes for a in args), sum(a.xs for a in args))
    children = [
        inlined_size(c, primitives) for c in ast.iter_child_nodes(node) if isinstance(c, ast.expr)
    ]
    return InlinedSize(1 + sum(c.nodes for c in children), sum(c.xs for c in children))


def _postorder(expr: sp.Basic) -> list[sp.Basic]:
    """The distinct sub-expressions of ``expr``, each after its arguments. Iterative and visiting
    a shared sub-expression once: sympy's own walks (preorder_traversal, free_symbols) visit it
    at every use, which is exponential for nested primitives."""
    order: list[sp.Basic] = []
    seen: set[sp.Basic] = set()
    stack: list[tuple[sp.Basic, bool]] = [(expr, False)]
    while stack:
        node, expanded = stack.pop()
        if expanded:
            order.append(node)
        elif node not in seen:
            seen.add(node)
            stack.append((node, True))
            stack.extend((arg, False) for arg in node.args if arg not in seen)
    return order


def _height(node: ast.AST, known: dict[int, int] | None = None) -> int:
    """How many levels below ``node`` the parser walks (its depth check's count: operands
    and call arguments, not the called name); ``known`` keeps the heights of one tree's
    nodes by id, so that asking at every node of it is linear, not quadratic.

    >>> _height(ast.parse("erf(-x) + 1", mode="eval").body)
    3
    """
    if known is not None and id(node) in known:
        return known[id(node)]
    if isinstance(node, ast.UnaryOp):
        children: list[ast.AST] = [node.operand]
    elif isinstance(node, ast.BinOp):
        children = [node.left, node.right]
    elif isinstance(node, ast.Call):
        children = list(node.args)
    else:
        return 0
    height = 1 + max((_height(c, known) for c in children), default=-1)
    if known is not None:
        known[id(node)] = height
    return height


def _tree_shape(expr: sp.Basic, cap: int) -> tuple[int, int, int]:
    """Nodes, depth and uses of x of ``expr`` counted as a tree (a shared sub-expression at
    each use), computed over its distinct sub-expressions; counts stop growing past ``cap``."""
    shape: dict[sp.Basic, tuple[int, int, int]] = {}
    for node in _postorder(expr):
        parts = [shape[arg] for arg in node.args]
        shape[node] = (
            min(cap + 1, 1 + sum(p[0] for p in parts)),
            1 + max((p[1] for p in parts), default=0),
            1 if node == X else min(cap + 1, sum(p[2] for p in parts)),
        )
    return shape[expr]


def _constant_subexpressions(expr: sp.Basic) -> list[sp.Basic]:
    """The distinct sub-expressions of ``expr`` without a free symbol."""
    constant: dict[sp.Basic, bool] = {}
    for node in _postorder(expr):
        constant[node] = not isinstance(node, sp.Symbol) and all(constant[a] for a in node.args)
    return [node for node, yes in constant.items() if yes]


def numpy_from_text(
    source: str, *, primitives: Mapping[str, Callable[..., Any]] | None = None
) -> Any:
    """Compile expression text straight to a numpy function, without building sympy.

    For the many screen survivors, where sympy construction would dominate the cost. It accepts
    the same whitelist of syntax as :func:`parse` (and nothing else); ``primitives`` maps
    user-defined names to numpy functions.

    >>> import numpy as np
    >>> numpy_from_text("clip(2*x, -1, 1)")(np.array([0.25, 3.0])).tolist()
    [0.5, 1.0]
    """
    tree = ast.parse(source.strip(), mode="eval")
    prims = primitives or {}

    def build(node: ast.AST) -> Any:
        if (
            isinstance(node, ast.Constant)
            and isinstance(node.value, (int, float))
            and not isinstance(node.value, bool)
        ):
            value = float(node.value)
            return lambda x: value
        if isinstance(node, ast.Name):
            if node.id == "x":
                return lambda x: x
            if node.id in CONSTANTS:
                value = float(CONSTANTS[node.id])
                return lambda x: value
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
            inner = build(node.operand)
            return (lambda x: -inner(x)) if isinstance(node.op, ast.USub) else inner
        if isinstance(node, ast.BinOp) and type(node.op) in _NUMPY_BINARY:
            fn, left, right = _NUMPY_BINARY[type(node.op)], build(node.left), build(node.right)
            return lambda x: fn(left(x), right(x))
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and not node.keywords:
            args = [build(a) for a in node.args]
            name = node.func.id
            impl = prims.get(name) or (OPERATORS[name].numpy if name in OPERATORS else None)
            if impl is not None:
                return applied(impl, args)
        raise ExpressionError(
            f"{type(node).__name__} is not allowed here",
            source=source,
            column=getattr(node, "col_offset", -1) + 1,
        )

    fn = build(tree.body)

    def evaluate(x: Any) -> Any:
        return np.broadcast_to(fn(x), np.shape(x))

    return evaluate


def _implicit_product(text: str) -> str:
    """A did-you-mean for a number written against a name, as in ``2x`` (products need ``*``).

    >>> _implicit_product("erf(2x) + 3.5y")
    " (did you mean '2*x'? products are written with *)"
    """
    found = re.search(r"(?<![\w.])(\d+(?:\.\d*)?)([A-Za-z_]\w*)", text)
    if found is None or re.match(r"[eE]\d", found.group(2)):  # 1e5x: the number is 1e5
        return ""
    return f" (did you mean '{found.group(1)}*{found.group(2)}'? products are written with *)"
