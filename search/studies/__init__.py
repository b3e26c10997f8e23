"""Built-in studies on the search machinery: the paper's ablations and the sanity panel.

Names are imported on first use (see :mod:`search._lazy`).

Example:
    >>> from search.studies import study_rows
    >>> study_rows("catalog")[0].key
    'layernorm'
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .._lazy import lazy_attributes

if TYPE_CHECKING:
    from ._panel import PANEL, panel_functions, panel_markdown, run_panel, sanity_panel
    from ._paper import STUDIES, StudyRow, study_rows, study_table

_WHERE = {
    "STUDIES": "._paper",
    "StudyRow": "._paper",
    "study_rows": "._paper",
    "study_table": "._paper",
    "PANEL": "._panel",
    "panel_functions": "._panel",
    "panel_markdown": "._panel",
    "run_panel": "._panel",
    "sanity_panel": "._panel",
}

__all__ = [
    "PANEL",
    "STUDIES",
    "StudyRow",
    "panel_functions",
    "panel_markdown",
    "run_panel",
    "sanity_panel",
    "study_rows",
    "study_table",
]

__getattr__ = lazy_attributes(__name__, _WHERE)
