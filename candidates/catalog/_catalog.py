"""Built-in catalogs: the paper's 16 functions and the LayerNorm/RMSNorm/DyT baselines.

Example:
    >>> get_entry("isru").expression
    'x/sqrt(x**2 + 1)'
    >>> [e.name for e in CATALOGS["baselines"]]
    ['layernorm', 'rmsnorm', 'dyt']
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

import sympy as sp

from .._errors import ExpressionError, UserError
from ..expr import parse, suggest, to_source
from ._template import DEFAULT_ALPHA0, Shift


@dataclass(frozen=True)
class CatalogEntry:
    """A named candidate and its template. ``kind="norm"`` entries are normalization layers,
    not functions; ``shift`` and ``alpha0`` are the template the entry is defined with (DyT:
    tanh without s)."""

    name: str
    expression: str | None
    description: str
    kind: Literal["pointwise", "norm"] = "pointwise"
    shift: Shift = "scalar"
    alpha0: float = DEFAULT_ALPHA0


PAPER: tuple[CatalogEntry, ...] = (
    CatalogEntry("erf", "erf(x)", "Derf: the error function"),
    CatalogEntry("tanh", "tanh(x)", "hyperbolic tangent (with shift s; DyT is without)"),
    CatalogEntry("satursin", "sin(clip(x, -pi/2, pi/2))", "sine saturated at ±π/2"),
    CatalogEntry("arcsinhclip", "clip(asinh(x), -1, 1)", "asinh clipped to [-1, 1]"),
    CatalogEntry("isru", "x/sqrt(x**2 + 1)", "inverse square root unit"),
    CatalogEntry("exproot", "sign(x)*(1 - exp(-sqrt(abs(x))))", "odd mirror of 1 - e^{-√x}"),
    CatalogEntry("linearclip", "clip(x, -1, 1)", "identity clipped to [-1, 1] (hard tanh)"),
    CatalogEntry("expsign", "sign(x)*(1 - exp(-abs(x)))", "odd mirror of 1 - e^{-x}"),
    CatalogEntry(
        "logsignclip",
        "clip(sign(x)*log(abs(x) + 1), -1, 1)",
        "signed log(|x|+1) clipped to [-1, 1]",
    ),
    CatalogEntry("relsign", "x/(sqrt(x**2 + 1) + 1)", "x/(√(x²+1)+1)"),
    CatalogEntry("arctan", "2/pi*atan(x)", "arctangent scaled to (-1, 1)"),
    CatalogEntry("smoothsign", "x/(1 + abs(x))", "softsign"),
    CatalogEntry(
        "logquadclip", "clip(sign(x)*log(x**2 + 1), -1, 1)", "signed log(x²+1) clipped to [-1, 1]"
    ),
    CatalogEntry(
        "power23clip", "clip(sign(x)*abs(x)**(2/3), -1, 1)", "signed |x|^{2/3} clipped to [-1, 1]"
    ),
    CatalogEntry(
        "saturlog",
        "sign(x)*log(abs(x) + 1)/(log(abs(x) + 1) + 1)",
        "sign(x)·L/(L+1) with L = ln(|x|+1)",
    ),
    CatalogEntry("cubsign", "x**3/(abs(x)**3 + 1)", "x³/(|x|³+1)"),
)

BASELINES: tuple[CatalogEntry, ...] = (
    CatalogEntry("layernorm", None, "nn.LayerNorm over the channel dimension", kind="norm"),
    CatalogEntry("rmsnorm", None, "RMSNorm over the channel dimension", kind="norm"),
    CatalogEntry("dyt", "tanh(x)", "Dynamic Tanh: tanh(αx) without shift", shift="none"),
)

#: What every run evaluates beside its candidates, by entry name, in leaderboard order
#: (``erf`` is Derf). Their rows take the entry's template: DyT runs without s.
RUN_BASELINES: tuple[str, ...] = ("layernorm", "rmsnorm", "dyt", "erf")
#: The rows a leaderboard measures every candidate's Δ against.
DELTA_REFERENCES: tuple[str, ...] = ("layernorm", "erf", "dyt")

CATALOGS: dict[str, tuple[CatalogEntry, ...]] = {"paper": PAPER, "baselines": BASELINES}

_BY_NAME: dict[str, CatalogEntry] = {e.name: e for e in (*PAPER, *BASELINES)}
_BY_NAME["derf"] = CatalogEntry("derf", "erf(x)", "Derf: erf(αx + s)")


def catalog_names() -> list[str]:
    return sorted(_BY_NAME)


def find_entry(name: str) -> CatalogEntry | None:
    """The entry called ``name`` (case-insensitive), or None."""
    return _BY_NAME.get(name.strip().lower())


def get_entry(name: str) -> CatalogEntry:
    """The entry called ``name``; a :class:`UserError` with a did-you-mean otherwise."""
    entry = find_entry(name)
    if entry is None:
        raise UserError(f"unknown catalog entry {name!r}{suggest(name.lower(), catalog_names())}")
    return entry


def get_catalog(name: str) -> tuple[CatalogEntry, ...]:
    if name not in CATALOGS:
        raise UserError(f"unknown catalog {name!r}{suggest(name, list(CATALOGS))}")
    return CATALOGS[name]


def resolve_text(
    text: str,
    *,
    primitives: Mapping[str, sp.Expr] | None = None,
    origin: str | None = None,
) -> tuple[str, sp.Expr, str | None]:
    """Parse an expression, or look up a catalog name such as ``isru``: the expression's text
    (as printed), its sympy form and its catalog name (None for an expression).

    >>> resolve_text("isru")
    ('x/sqrt(x**2 + 1)', x/sqrt(x**2 + 1), 'isru')
    >>> resolve_text("x /(1+ abs(x))")
    ('x/(1 + abs(x))', x/(Abs(x) + 1), None)
    """
    entry = find_entry(text) if "(" not in text else None
    if entry is not None:
        if entry.expression is None:
            raise ExpressionError(
                f"{entry.name!r} is a normalization layer, not a point-wise function",
                source=text,
                origin=origin,
            )
        return entry.expression, parse(entry.expression), entry.name
    word = text.strip().lower()
    if word.isidentifier() and word != "x" and suggest(word, catalog_names()):
        # a bare word that is no expression's name: most likely a catalog name mistyped
        raise ExpressionError(
            f"unknown catalog name {text.strip()!r}{suggest(word, catalog_names())}",
            source=text,
            origin=origin,
        )
    expr = parse(text, primitives=primitives, origin=origin)
    # Stored in its printed form: the text as parsed, never a user's comments or spacing.
    return to_source(expr), expr, None
