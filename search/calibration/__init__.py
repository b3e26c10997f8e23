"""Calibration: how well a proxy (task, recipe, protocol) agrees with full-scale training.

A reference table holds full-scale outcomes (the paper's Section 3 ships as
:data:`PAPER_REFERENCE`); `derf-search calibrate` trains the cells it names on the search
machinery and scores the proxy's categories and effects against the reference's, beside
zero-cost predictors that train nothing.

Names are imported on first use (see :mod:`search._lazy`).

Example:
    >>> from search.calibration import read_reference, PAPER_REFERENCE
    >>> len(read_reference(PAPER_REFERENCE))
    123
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .._lazy import lazy_attributes

if TYPE_CHECKING:
    from ._calibrate import (
        CALIBRATION_COLUMNS,
        STUDY,
        Calibration,
        CellResult,
        calibration_figures,
        calibration_table,
        read_calibration,
        rescore_study,
        run_values,
        with_proxy_shares,
    )
    from ._proxy import DEGRADE_SE, FAIL_GAIN, ProxyCell, ProxyRule
    from ._reference import (
        ANCHOR_BASES,
        CATEGORIES,
        COLUMNS,
        DEGRADE_POINTS,
        PAPER_REFERENCE,
        VARIANTS,
        ReferenceCell,
        decisive_cells,
        read_reference,
        reference_categories,
        reference_cells,
        reference_effects,
        reference_mean,
    )
    from ._report import calibration_json, calibration_markdown, plot_calibration, write_calibration
    from ._scores import (
        Scores,
        agreement_scores,
        cohen_kappa,
        kappa_difference,
        number_text,
        paired_bootstrap,
        spearman,
        spearman_difference,
    )
    from ._zero_cost import DESCRIPTORS, cut_at_shares, descriptor_effects

_WHERE = {
    **dict.fromkeys(
        (
            "CALIBRATION_COLUMNS",
            "STUDY",
            "Calibration",
            "CellResult",
            "calibration_figures",
            "calibration_table",
            "read_calibration",
            "rescore_study",
            "run_values",
            "spearman",
            "spearman_difference",
            "with_proxy_shares",
        ),
        "._calibrate",
    ),
    **dict.fromkeys(("DEGRADE_SE", "FAIL_GAIN", "ProxyCell", "ProxyRule"), "._proxy"),
    **dict.fromkeys(
        (
            "ANCHOR_BASES",
            "CATEGORIES",
            "COLUMNS",
            "DEGRADE_POINTS",
            "PAPER_REFERENCE",
            "VARIANTS",
            "ReferenceCell",
            "decisive_cells",
            "read_reference",
            "reference_categories",
            "reference_cells",
            "reference_effects",
            "reference_mean",
            "reference_mean",
        ),
        "._reference",
    ),
    **dict.fromkeys(
        ("calibration_json", "calibration_markdown", "plot_calibration", "write_calibration"),
        "._report",
    ),
    **dict.fromkeys(
        (
            "Scores",
            "agreement_scores",
            "cohen_kappa",
            "kappa_difference",
            "number_text",
            "paired_bootstrap",
            "paired_bootstrap",
            "spearman",
            "spearman_difference",
        ),
        "._scores",
    ),
    **dict.fromkeys(("DESCRIPTORS", "cut_at_shares", "descriptor_effects"), "._zero_cost"),
}

__all__ = [
    "ANCHOR_BASES",
    "CALIBRATION_COLUMNS",
    "CATEGORIES",
    "COLUMNS",
    "DEGRADE_POINTS",
    "DEGRADE_SE",
    "DESCRIPTORS",
    "FAIL_GAIN",
    "PAPER_REFERENCE",
    "STUDY",
    "VARIANTS",
    "Calibration",
    "CellResult",
    "ProxyCell",
    "ProxyRule",
    "ReferenceCell",
    "Scores",
    "agreement_scores",
    "calibration_figures",
    "calibration_json",
    "calibration_markdown",
    "calibration_table",
    "cohen_kappa",
    "cut_at_shares",
    "decisive_cells",
    "descriptor_effects",
    "kappa_difference",
    "number_text",
    "paired_bootstrap",
    "plot_calibration",
    "read_calibration",
    "read_reference",
    "reference_categories",
    "reference_cells",
    "reference_effects",
    "reference_mean",
    "rescore_study",
    "run_values",
    "spearman",
    "spearman_difference",
    "with_proxy_shares",
    "write_calibration",
]

__getattr__ = lazy_attributes(__name__, _WHERE)
