"""What a run shows a person: leaderboards, plots, study reports and the exported module.

Names are imported on first use (see :mod:`search._lazy`).

Example:
    >>> from search.reports import format_signed
    >>> format_signed(0.0123)
    '+0.0123'
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .._lazy import lazy_attributes

if TYPE_CHECKING:
    from ._bootstrap import COVERAGE, RESAMPLES, percentile_interval
    from ._console import (
        TABLE_WIDTH,
        display_name,
        leaderboard_table,
        metric_label,
        separability,
        variant,
        verdict_mark,
    )
    from ._export import export_module
    from ._leaderboard import (
        LEADERBOARD_COLUMNS,
        PREDICTED_COLUMNS,
        PREDICTED_FILE,
        format_signed,
        leaderboard,
        leaderboard_markdown,
        leaderboard_wide,
        load_leaderboard,
        read_predicted,
        write_outputs,
    )
    from ._map import map_run, plot_map, project
    from ._paired import TIE_ALPHA, Paired, benjamini_hochberg, paired_difference, tie_groups
    from ._run_plots import plot_growth, plot_leaderboard, plot_run, pyplot, save_figure, text_image
    from ._study_report import (
        GROUP_PROPERTY,
        lambda_figure,
        plot_lambda,
        seed_agreement,
        seed_taus,
        study_report,
        write_study_report,
    )

_WHERE = {
    "COVERAGE": "._bootstrap",
    "RESAMPLES": "._bootstrap",
    "percentile_interval": "._bootstrap",
    "TABLE_WIDTH": "._console",
    "display_name": "._console",
    "leaderboard_table": "._console",
    "separability": "._console",
    "variant": "._console",
    "TIE_ALPHA": "._paired",
    "Paired": "._paired",
    "benjamini_hochberg": "._paired",
    "paired_difference": "._paired",
    "tie_groups": "._paired",
    "verdict_mark": "._console",
    "metric_label": "._console",
    "format_signed": "._leaderboard",
    "LEADERBOARD_COLUMNS": "._leaderboard",
    "PREDICTED_COLUMNS": "._leaderboard",
    "PREDICTED_FILE": "._leaderboard",
    "read_predicted": "._leaderboard",
    "leaderboard_wide": "._leaderboard",
    "leaderboard": "._leaderboard",
    "leaderboard_markdown": "._leaderboard",
    "load_leaderboard": "._leaderboard",
    "write_outputs": "._leaderboard",
    "plot_growth": "._run_plots",
    "plot_leaderboard": "._run_plots",
    "plot_run": "._run_plots",
    "pyplot": "._run_plots",
    "save_figure": "._run_plots",
    "text_image": "._run_plots",
    "GROUP_PROPERTY": "._study_report",
    "lambda_figure": "._study_report",
    "plot_lambda": "._study_report",
    "study_report": "._study_report",
    "seed_agreement": "._study_report",
    "seed_taus": "._study_report",
    "write_study_report": "._study_report",
    "export_module": "._export",
    "map_run": "._map",
    "plot_map": "._map",
    "project": "._map",
}

__all__ = [
    "COVERAGE",
    "GROUP_PROPERTY",
    "LEADERBOARD_COLUMNS",
    "PREDICTED_COLUMNS",
    "PREDICTED_FILE",
    "RESAMPLES",
    "TABLE_WIDTH",
    "TIE_ALPHA",
    "Paired",
    "benjamini_hochberg",
    "display_name",
    "export_module",
    "format_signed",
    "lambda_figure",
    "leaderboard",
    "leaderboard_markdown",
    "leaderboard_table",
    "leaderboard_wide",
    "load_leaderboard",
    "map_run",
    "metric_label",
    "paired_difference",
    "percentile_interval",
    "plot_growth",
    "plot_lambda",
    "plot_leaderboard",
    "plot_map",
    "plot_run",
    "project",
    "pyplot",
    "read_predicted",
    "save_figure",
    "seed_agreement",
    "seed_taus",
    "separability",
    "study_report",
    "text_image",
    "tie_groups",
    "variant",
    "verdict_mark",
    "write_outputs",
    "write_study_report",
]

__getattr__ = lazy_attributes(__name__, _WHERE)
