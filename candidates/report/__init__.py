"""Candidates and what is said of them: :class:`Candidate`, :class:`PropertyReport` (what
``derf-search check`` prints), the candidate table (``candidates.parquet``), the Markdown and
JSON property reports, and the shapes plot.

Imports the expressions, checks, catalog and shape rooms.

Example:
    >>> report = check("smoothsign")
    >>> report.candidate.expression, report.passed
    ('x/(1 + abs(x))', True)
"""

from __future__ import annotations

from ._candidate import Candidate, PropertyReport, catalog_name, check, check_candidate
from ._plot import plot_shapes
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

__all__ = [
    "CANDIDATE_COLUMNS",
    "DESCRIPTOR_COLUMNS",
    "START_DESCRIPTORS",
    "STUDY_COLUMNS",
    "Candidate",
    "PropertyReport",
    "as_candidate_table",
    "candidates_table",
    "catalog_name",
    "check",
    "check_candidate",
    "fill_descriptors",
    "guide_matrix",
    "markdown_text",
    "plot_shapes",
    "report_json",
    "report_markdown",
    "shape_matrix",
]
