"""One operator table feeds sympy, numpy and torch: they must compute the same function."""

from __future__ import annotations

import math

import numpy as np
import pytest
import sympy as sp
import torch

from candidates import OPERATORS, X, compile_numpy, compile_torch, parse

XS = np.array([-3.0, -1.3, -0.4, 0.0, 0.25, 0.9, 2.5])


def _call(name: str) -> str:
    arity = OPERATORS[name].arity
    return {1: f"{name}(x)", 2: f"{name}(x, 0.3)", 3: f"{name}(x, -0.5, 0.7)"}[arity]


@pytest.mark.parametrize("name", sorted(OPERATORS))
def test_numpy_torch_and_sympy_agree(name: str) -> None:
    expr = parse(_call(name))
    with np.errstate(all="ignore"):
        y_np = compile_numpy(expr)(XS)
    y_torch = compile_torch(expr)(torch.tensor(XS, dtype=torch.float64)).numpy()
    y_sym = []
    for v in XS:
        value = complex(sp.N(expr.subs(X, sp.Float(v)), 15))
        y_sym.append(
            value.real if abs(value.imag) < 1e-12 and math.isfinite(value.real) else math.nan
        )
    np.testing.assert_allclose(y_np, y_torch, rtol=1e-6, atol=1e-9, equal_nan=True)
    finite = np.isfinite(y_sym)
    np.testing.assert_allclose(y_np[finite], np.array(y_sym)[finite], rtol=1e-6, atol=1e-9)
    # Where sympy's value is not real, numpy must say so too (nan), never a number.
    assert np.all(~np.isfinite(y_np[~finite]))


@pytest.mark.parametrize("name", sorted({op.name for op in OPERATORS.values()}))
def test_every_operator_has_a_docstring_and_arity(name: str) -> None:
    op = OPERATORS[name]
    assert op.doc and op.arity in (1, 2, 3)


def test_torch_compile_is_differentiable() -> None:
    fn = compile_torch(parse("x/sqrt(x**2 + 1) + clip(x, -1, 1)"))
    x = torch.linspace(-2, 2, 9, requires_grad=True)
    fn(x).sum().backward()
    assert x.grad is not None and torch.isfinite(x.grad).all()


def test_constant_expression_broadcasts() -> None:
    assert compile_numpy(parse("pi"))(XS).shape == XS.shape
    assert compile_torch(parse("2"))(torch.zeros(3)).tolist() == [2.0, 2.0, 2.0]


def test_piecewise_compiles_for_numpy_and_torch() -> None:
    x = sp.Symbol("x", real=True)
    assert x == X
    expr = sp.Piecewise((-1, X < -1), (X**2, X <= 1), (sp.erf(X), True))
    y_np = compile_numpy(expr)(XS)
    y_torch = compile_torch(expr)(torch.tensor(XS, dtype=torch.float64)).numpy()
    expected = [float(expr.subs(X, v)) for v in XS]
    np.testing.assert_allclose(y_np, expected, rtol=1e-12)
    np.testing.assert_allclose(y_torch, expected, rtol=1e-12)


def test_the_compiler_asks_sympy_for_free_symbols_once_per_sub_expression(monkeypatch) -> None:
    # whether a node holds x is remembered: asking sympy at every node of a compile walks the
    # tree below each time, quadratic in the depth
    from candidates.expr import _compile

    texts = [*(_call(n) for n in sorted(OPERATORS)), "tanh(x)/(1 + abs(tanh(x)))"]
    chain = "x"
    for i in range(12):
        chain = f"tanh({chain} + {i + 1})"
    exprs = [parse(t) for t in [*texts, chain]]
    for expr in exprs:  # the same answer as sympy's, at every node
        for node in sp.preorder_traversal(expr):
            assert _compile._has_symbols(node) == bool(node.free_symbols), node
    _compile._has_symbols.cache_clear()
    calls = []
    walk = sp.Basic.free_symbols
    monkeypatch.setattr(
        sp.Basic, "free_symbols", property(lambda e: calls.append(e) or walk.fget(e))
    )
    compile_numpy(exprs[-1])
    assert len(calls) == 0  # Basic's rule is followed, not asked (37 nodes deep)
