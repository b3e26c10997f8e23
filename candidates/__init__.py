"""The candidate engine: expressions, grammars, enumeration, dedupe and the four properties.

Example:
    >>> from candidates import check
    >>> report = check("x/(1 + abs(x))")
    >>> report.passed, report.candidate.id == check("3*x/(1 + abs(3*x))").candidate.id
    (True, True)
"""

from __future__ import annotations

from ._candidate import Candidate, PropertyReport, catalog_name, check, check_candidate
from ._canonical import behaviour_signature, candidate_id, canonical_form
from ._catalog import (
    BASELINES,
    CATALOGS,
    DELTA_REFERENCES,
    PAPER,
    RUN_BASELINES,
    CatalogEntry,
    catalog_names,
    find_entry,
    get_catalog,
    get_entry,
)
from ._compile import compile_numpy, compile_torch, to_latex, to_source
from ._count import SpaceCount, count_space
from ._descriptors import GAUSSIAN, Descriptors, describe, matched_alpha0, spread_of
from ._enumerate import EnumerationResult, Survivor, enumerate_space
from ._errors import ExpressionError, GrammarError, UserError
from ._generate import GenerateResult, generate_candidates
from ._grammar import Grammar, builtin_grammars, load_grammar, parse_grammar
from ._numbers import COUNT, FRACTION, MAX_SEED, NON_NEGATIVE, POSITIVE, SEED, NumberRange
from ._operators import OPERATORS, Operator, X, suggest
from ._parser import Limits, numpy_from_text, parse
from ._plot import plot_shapes
from ._properties import (
    PROPERTIES,
    PropertyResult,
    PropertyVerdict,
    Tolerances,
    check_properties,
    numeric_properties,
)
from ._record import (
    CANDIDATE_COLUMNS,
    DESCRIPTOR_COLUMNS,
    START_DESCRIPTORS,
    STUDY_COLUMNS,
    as_candidate_table,
    candidates_table,
    fill_descriptors,
    guide_matrix,
    shape_matrix,
)
from ._report import markdown_text, report_json, report_markdown
from ._sample import sample_space
from ._screen import GRID as SCREEN_GRID
from ._screen import screen
from ._shape import SCALE_DESCRIPTORS, SHAPE_DESCRIPTORS, shape_descriptors
from ._template import (
    DEFAULT_ALPHA0,
    DEFAULT_SHIFT,
    SHIFTS,
    TEMPLATE,
    Shift,
    parse_shift,
    template_shift,
)
from ._torch_source import TORCH_HELPERS, to_torch_source

__all__ = [
    "BASELINES",
    "CANDIDATE_COLUMNS",
    "CATALOGS",
    "COUNT",
    "DEFAULT_ALPHA0",
    "DEFAULT_SHIFT",
    "DELTA_REFERENCES",
    "DESCRIPTOR_COLUMNS",
    "FRACTION",
    "GAUSSIAN",
    "MAX_SEED",
    "NON_NEGATIVE",
    "OPERATORS",
    "PAPER",
    "POSITIVE",
    "PROPERTIES",
    "RUN_BASELINES",
    "SCALE_DESCRIPTORS",
    "SCREEN_GRID",
    "SEED",
    "SHAPE_DESCRIPTORS",
    "SHIFTS",
    "START_DESCRIPTORS",
    "STUDY_COLUMNS",
    "TEMPLATE",
    "TORCH_HELPERS",
    "Candidate",
    "CatalogEntry",
    "Descriptors",
    "EnumerationResult",
    "ExpressionError",
    "GenerateResult",
    "Grammar",
    "GrammarError",
    "Limits",
    "NumberRange",
    "Operator",
    "PropertyReport",
    "PropertyResult",
    "PropertyVerdict",
    "Shift",
    "SpaceCount",
    "Survivor",
    "Tolerances",
    "UserError",
    "X",
    "as_candidate_table",
    "behaviour_signature",
    "builtin_grammars",
    "candidate_id",
    "candidates_table",
    "canonical_form",
    "catalog_name",
    "catalog_names",
    "check",
    "check_candidate",
    "check_properties",
    "compile_numpy",
    "compile_torch",
    "count_space",
    "describe",
    "enumerate_space",
    "fill_descriptors",
    "find_entry",
    "generate_candidates",
    "get_catalog",
    "get_entry",
    "guide_matrix",
    "load_grammar",
    "markdown_text",
    "matched_alpha0",
    "numeric_properties",
    "numpy_from_text",
    "parse",
    "parse_grammar",
    "parse_shift",
    "plot_shapes",
    "report_json",
    "report_markdown",
    "sample_space",
    "screen",
    "shape_descriptors",
    "shape_matrix",
    "spread_of",
    "suggest",
    "template_shift",
    "to_latex",
    "to_source",
    "to_torch_source",
]
