"""Candidates and their property reports: what `derf-search check` prints.

Example:
    >>> report = check("x/(1 + abs(x))")
    >>> report.candidate.canonical, report.passed
    ('x/(1 + abs(x))', True)
    >>> check("smoothsign").candidate.name
    'smoothsign'
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cache, cached_property, lru_cache
from typing import Any

import numpy as np
import sympy as sp

from ..catalog import BASELINES, PAPER, resolve_text
from ..checks import PROPERTIES, PropertyResult, Tolerances, check_properties
from ..expr import compile_numpy, compile_torch, parse, to_latex, to_source
from ..shape import (
    SCALE_DESCRIPTORS,
    SHAPE_DESCRIPTORS,
    candidate_id,
    canonical_form,
    shape_descriptors,
)


@dataclass
class Candidate:
    """A function f for the template, with its canonical form and stable id."""

    expression: str
    sympy: sp.Expr
    name: str | None = None
    merged_from: list[str] = field(default_factory=list)

    @classmethod
    def from_text(
        cls,
        text: str,
        *,
        primitives: Mapping[str, sp.Expr] | None = None,
        origin: str | None = None,
    ) -> Candidate:
        """Parse an expression, or look up a catalog name such as ``isru``. A text is parsed
        once per process: the same text again (without grammar primitives) reuses the parse
        and the canonical form, on its way from the generator to a trial.

        >>> Candidate.from_text("x/3").sympy is Candidate.from_text("x/3").sympy
        True
        """
        if primitives is None:
            expression, expr, name = _resolved(text, origin)
        else:
            expression, expr, name = resolve_text(text, primitives=primitives, origin=origin)
        return cls(expression, expr, name=name)

    @cached_property
    def canonical_sympy(self) -> sp.Expr:
        return _canonical(self.sympy)

    # The texts are kept once computed: a report, a table and a plot each ask for them, and
    # each costs a walk of the sympy tree.
    @cached_property
    def canonical(self) -> str:
        return to_source(self.canonical_sympy)

    @cached_property
    def id(self) -> str:
        return candidate_id(self.canonical)

    @cached_property
    def source(self) -> str:
        """The expression re-rendered in the input syntax (parses back to the same function)."""
        return to_source(self.sympy)

    @cached_property
    def latex(self) -> str:
        return to_latex(self.sympy)

    def as_text(self) -> Candidate:
        """This candidate with its texts computed, marked to travel between processes as
        text: pickled, it sends the texts and its expression, not its sympy trees (unpickling
        a sympy tree costs as much as parsing it, milliseconds, and most receivers, a table
        or a report, need only the texts). :attr:`sympy` is parsed back from the expression
        on first use, so mark only a candidate whose expression parses back on its own: no
        grammar primitives, within the parser's limits (the generator checks both).

        >>> import pickle
        >>> c = Candidate.from_text("2*erf(x)").as_text()
        >>> light = pickle.loads(pickle.dumps(c))
        >>> "sympy" in vars(light), light.canonical, light.sympy == c.sympy
        (False, 'erf(x)', True)
        """
        _ = self.canonical, self.id, self.latex, self.source
        self.__dict__[_AS_TEXT] = True
        return self

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        if state.get(_AS_TEXT):  # see as_text
            state.pop("sympy", None)
            state.pop("canonical_sympy", None)
        return state

    def __getattr__(self, name: str) -> Any:
        # Reached only for attributes the instance lacks: the sympy form a candidate sent as
        # text left behind (see as_text).
        if name == "sympy" and self.__dict__.get(_AS_TEXT):
            expr = _resolved(self.__dict__["expression"], None)[1]
            self.__dict__["sympy"] = expr
            return expr
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

    def numpy(self) -> Any:
        return compile_numpy(self.sympy)

    def torch(self) -> Any:
        return compile_torch(self.sympy)


#: The mark of a candidate that travels between processes as text (:meth:`Candidate.as_text`).
_AS_TEXT = "_travels_as_text"
#: How many texts' parses (and canonical forms) a process keeps.
PARSED_KEPT = 4096


@lru_cache(maxsize=PARSED_KEPT)
def _resolved(text: str, origin: str | None) -> tuple[str, sp.Expr, str | None]:
    # sympy expressions are immutable: one parse may serve every candidate of the same text
    return resolve_text(text, origin=origin)


@lru_cache(maxsize=PARSED_KEPT)
def _canonical(expr: sp.Expr) -> sp.Expr:
    return canonical_form(expr)


@cache
def _catalog_ids() -> dict[str, str]:
    ids: dict[str, str] = {}
    for entry in (*PAPER, *BASELINES):  # the paper's name first: tanh, not dyt
        if entry.expression is not None:
            ids.setdefault(candidate_id(canonical_form(parse(entry.expression))), entry.name)
    return ids


def catalog_name(key: str) -> str | None:
    """The catalog name of the candidate whose id is ``key`` (the same function modulo the
    template's scales and sign), or None: a grammar's ``tanh(x)`` is called tanh.

    >>> catalog_name(Candidate.from_text("x/(abs(x) + 1)").id), catalog_name("0" * 12)
    ('smoothsign', None)
    """
    return _catalog_ids().get(key)


@dataclass
class PropertyReport:
    """The domain diagnosis and four verdicts of one candidate, readable and as JSON."""

    candidate: Candidate
    result: PropertyResult

    @property
    def passed(self) -> bool:
        return self.result.passed

    @cached_property
    def descriptors(self) -> dict[str, float]:
        """The candidate's shape descriptors, then its scale descriptors
        (:data:`candidates.SHAPE_DESCRIPTORS`, :data:`candidates.SCALE_DESCRIPTORS`); nan where
        f is not real and finite or has no saturation level."""
        if not self.result.domain.ok:
            return dict.fromkeys([*SHAPE_DESCRIPTORS, *SCALE_DESCRIPTORS], math.nan)
        return shape_descriptors(compile_numpy(self.candidate.sympy), scales=True)

    @property
    def shape(self) -> dict[str, float]:
        """The shape descriptors alone: those a template's scales and sign leave unchanged."""
        return {k: self.descriptors[k] for k in SHAPE_DESCRIPTORS}

    @property
    def scale(self) -> dict[str, float]:
        """The scale descriptors alone (f's output and input scale)."""
        return {k: self.descriptors[k] for k in SCALE_DESCRIPTORS}

    def to_dict(self) -> dict[str, Any]:
        c, r = self.candidate, self.result
        return jsonable(
            {
                "expression": c.expression,
                "name": c.name,
                "canonical": c.canonical,
                "latex": c.latex,
                "id": c.id,
                "domain_ok": r.domain.ok,
                "domain_error": r.domain.message if not r.domain.ok else None,
                "domain_method": r.domain.method,
                "domain_note": r.domain.note,
                "passed": self.passed,
                "properties": {
                    p: {
                        "pass": v.passed,
                        "score": v.score,
                        "method": v.method,
                        "evidence": v.evidence,
                    }
                    for p, v in r.verdicts.items()
                },
                # null where undefined (f does not saturate): see candidates.SHAPE_DESCRIPTORS
                "shape": {k: v if math.isfinite(v) else None for k, v in self.shape.items()},
                "scale": {k: v if math.isfinite(v) else None for k, v in self.scale.items()},
            }
        )

    def to_text(self) -> str:
        c, r = self.candidate, self.result
        title = f"{c.name} = {c.expression}" if c.name else c.expression
        lines = [f"{title}", f"  id {c.id}   canonical {c.canonical}"]
        if not r.domain.ok:
            # Without a real, finite function there is nothing for the four checks to judge.
            lines.append(
                f"  DOMAIN   not real and finite on R: {r.domain.message}  ({r.domain.method})"
            )
            lines.append("  => rejected")
            return "\n".join(lines)
        for p in PROPERTIES:
            v = r.verdicts[p]
            mark = "pass" if v.passed else "FAIL"
            lines.append(
                f"  {mark:<5}{p:<18}{_fmt(v.score):>10}  {v.method:<9} {_evidence_line(v.evidence)}"
            )
        lines.append(f"  => {'passes all four properties' if self.passed else 'rejected'}")
        return "\n".join(lines)


def check(
    text: str,
    *,
    primitives: Mapping[str, sp.Expr] | None = None,
    tolerances: Tolerances | None = None,
    symbolic: bool = True,
) -> PropertyReport:
    """Parse (or look up) ``text`` and run the four property checks on it."""
    candidate = Candidate.from_text(text, primitives=primitives)
    return check_candidate(candidate, tolerances=tolerances, symbolic=symbolic)


def check_candidate(
    candidate: Candidate, *, tolerances: Tolerances | None = None, symbolic: bool = True
) -> PropertyReport:
    result = check_properties(candidate.sympy, tolerances=tolerances, symbolic=symbolic)
    return PropertyReport(candidate, result)


def _fmt(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        return f"{value:.4g}"
    return str(value)


_SHOWN = (
    "f(0)",
    "balance",
    "f(+inf)",
    "f(-inf)",
    "growth",
    "exponent",
    "overflow_beyond",  # overflow, not a pole: the function grows without bound
    "overflow_at",
    "sup",
    "flat_width",
    "f'(0+)",
    "f'(0-)",
    "direction",
    "counterexample",
    "skipped",
)


def _evidence_line(evidence: Mapping[str, Any]) -> str:
    parts = []
    for key in _SHOWN:
        if key not in evidence:
            continue
        value = evidence[key]
        if key == "counterexample":
            value = (
                f"x1={value['x1']:.4g} < x2={value['x2']:.4g} but "
                f"f(x1)={value['f(x1)']:.4g}, f(x2)={value['f(x2)']:.4g}"
            )
        parts.append(f"{key}={_fmt(value)}")
    return ", ".join(parts)


def jsonable(value: Any) -> Any:
    """Plain JSON: non-finite floats become the strings 'inf', '-inf' and 'nan'."""
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if isinstance(value, (np.floating, float)):
        value = float(value)
        if math.isnan(value):
            return "nan"
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        return value
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (np.bool_,)):
        return bool(value)
    return value
