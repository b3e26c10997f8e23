"""The candidate engine: expressions, grammars, enumeration, dedupe and the four properties.

Example:
    >>> from candidates import check
    >>> report = check("x/(1 + abs(x))")
    >>> report.passed, report.candidate.id == check("3*x/(1 + abs(3*x))").candidate.id
    (True, True)
"""

from __future__ import annotations

from ._candidate import Candidate, PropertyReport, check, check_candidate
from ._canonical import behaviour_signature, candidate_id, canonical_form
from ._catalog import (
    BASELINES,
    CATALOGS,
    PAPER,
    CatalogEntry,
    catalog_names,
    find_entry,
    get_catalog,
    get_entry,
)
from ._compile import compile_numpy, compile_torch, to_latex, to_source
from ._enumerate import EnumerationResult, Survivor, count_space, enumerate_space
from ._errors import ExpressionError, GrammarError
from ._generate import GenerateResult, generate_candidates
from ._grammar import Grammar, builtin_grammars, load_grammar, parse_grammar
from ._operators import OPERATORS, Operator, X, suggest
from ._parser import Limits, numpy_from_text, parse
from ._properties import (
    PROPERTIES,
    PropertyResult,
    PropertyVerdict,
    Tolerances,
    check_properties,
    numeric_properties,
)
from ._report import candidates_table, report_json, report_markdown
from ._sample import sample_space

__all__ = [
    "BASELINES",
    "CATALOGS",
    "OPERATORS",
    "PAPER",
    "PROPERTIES",
    "Candidate",
    "CatalogEntry",
    "EnumerationResult",
    "ExpressionError",
    "GenerateResult",
    "Grammar",
    "GrammarError",
    "Limits",
    "Operator",
    "PropertyReport",
    "PropertyResult",
    "PropertyVerdict",
    "Survivor",
    "Tolerances",
    "X",
    "behaviour_signature",
    "builtin_grammars",
    "candidate_id",
    "candidates_table",
    "canonical_form",
    "catalog_names",
    "check",
    "check_candidate",
    "check_properties",
    "compile_numpy",
    "compile_torch",
    "count_space",
    "enumerate_space",
    "find_entry",
    "generate_candidates",
    "get_catalog",
    "get_entry",
    "load_grammar",
    "numeric_properties",
    "numpy_from_text",
    "parse",
    "parse_grammar",
    "report_json",
    "report_markdown",
    "sample_space",
    "suggest",
    "to_latex",
    "to_source",
]
