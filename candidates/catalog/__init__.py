"""The template y = γ·f(α·x + s) + β (its shifts and α0) and the built-in catalogs of named
functions, with the one way to read a function given as text: an expression or a catalog name.

Imports the expressions room only.

Example:
    >>> get_entry("isru").expression, DEFAULT_ALPHA0, DEFAULT_SHIFT
    ('x/sqrt(x**2 + 1)', 0.5, 'scalar')
    >>> resolve_text("isru")[2]
    'isru'
"""

from __future__ import annotations

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
    resolve_text,
)
from ._template import (
    DEFAULT_ALPHA0,
    DEFAULT_SHIFT,
    SHIFTS,
    TEMPLATE,
    Shift,
    parse_shift,
    template_shift,
)

__all__ = [
    "BASELINES",
    "CATALOGS",
    "DEFAULT_ALPHA0",
    "DEFAULT_SHIFT",
    "DELTA_REFERENCES",
    "PAPER",
    "RUN_BASELINES",
    "SHIFTS",
    "TEMPLATE",
    "CatalogEntry",
    "Shift",
    "catalog_names",
    "find_entry",
    "get_catalog",
    "get_entry",
    "parse_shift",
    "resolve_text",
    "template_shift",
]
