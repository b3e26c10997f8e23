"""Property reports of a candidate set: Markdown for people, JSON for tools (the table is
the candidate record's, :mod:`candidates.report._record`).

Example:
    >>> from candidates import check
    >>> md = report_markdown([check("erf(x)", symbolic=False)], {"unique": 1})
    >>> "| unique | 1 |" in md and "`erf(x)`" in md
    True
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from .._errors import one_line
from ..checks import PROPERTIES
from ._candidate import PropertyReport, jsonable

_SHORT = {"zero_centered": "Z", "bounded": "B", "center_sensitive": "C", "monotonic": "M"}


def _cell(value: Any) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    if isinstance(value, float):
        if math.isinf(value):
            return "∞"
        return f"{value:,.0f}" if abs(value) >= 1000 else f"{value:.3g}"
    return str(value)


def markdown_text(text: object) -> str:
    """A user's text (a name, a table label, an expression) in Markdown or HTML output, as
    text: no column break, no raw HTML, no link or image, no line break.

    >>> markdown_text("T1 | <b>x</b>")
    'T1 \\\\| &lt;b&gt;x&lt;/b&gt;'
    """
    escaped = str(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    for char in "|[]":
        escaped = escaped.replace(char, "\\" + char)
    return one_line(escaped)


def _md_escape(text: str) -> str:
    return markdown_text(text).replace("*", "\\*").replace("_", "\\_")


def report_markdown(
    reports: Sequence[PropertyReport],
    summary: Mapping[str, Any],
    *,
    max_rows: int = 500,
    max_merged: int = 5,
) -> str:
    """The human report: what was screened, what was rejected and why, what survived."""
    lines = ["# Property report", ""]
    lines += _summary_section(summary)
    lines += _candidates_section(reports, max_rows)
    lines += _failures_section(reports, max_rows)
    lines += _merges_section(reports, max_rows, max_merged)
    return "\n".join(lines) + "\n"


_SUMMARY_KEYS = (
    "grammar",
    "enumerated",
    "screen_passed",
    "unique",
    "passing",
    "written",
    "seconds",
    "expressions_per_second",
    "sympy_share",
)


def _summary_section(summary: Mapping[str, Any]) -> list[str]:
    lines = ["| | |", "|---|---|"]
    for key in _SUMMARY_KEYS:
        if key in summary:
            value = summary[key]
            shown = f"{value:,}" if isinstance(value, int) else _cell(value)
            lines.append(f"| {key.replace('_', ' ')} | {shown} |")
    lines.append("")
    rejected = {k: v for k, v in summary.get("rejected", {}).items() if v}
    if rejected:
        lines += [
            "## Rejected",
            "",
            "By the numeric screen, the first property each expression failed (in the order "
            "tested); `not_real_symbolically`: finite on the grid only through float arithmetic "
            "(atan(1/0)), found when sympy parsed it; `does_not_parse_back`: written out "
            "(primitives inlined), past the parser's limits for any text, which a record's "
            "text must parse back under.",
            "",
            "| reason | expressions |",
            "|---|---:|",
        ]
        for reason, count in sorted(rejected.items(), key=lambda kv: -kv[1]):
            lines.append(f"| {reason} | {count:,} |")
        lines.append("")
    return lines


def _candidates_section(reports: Sequence[PropertyReport], max_rows: int) -> list[str]:
    lines = [
        "## Candidates",
        "",
        "Verdicts: Z zero-centred, B bounded, C centre-sensitive, M monotonic; ✓ pass, ✗ fail; "
        "ˢ proved with sympy, otherwise numeric. Scores: Z max(|f(0)|, balance)/R (lower is "
        "better), B sup|f|/R, C f'(0+), M share of variation in the monotone direction.",
        "",
        "| # | id | expression | Z | B | C | M | C score | growth | merged |",
        "|---:|---|---|:-:|:-:|:-:|:-:|---:|---|---:|",
    ]
    for i, report in enumerate(reports[:max_rows], 1):
        c, r = report.candidate, report.result
        marks = []
        for p in PROPERTIES:
            v = r.verdicts[p]
            marks.append(("✓" if v.passed else "✗") + ("ˢ" if v.method == "symbolic" else ""))
        growth = r.verdicts["bounded"].evidence.get("growth", "")
        score = r.verdicts["center_sensitive"].score
        lines.append(
            f"| {i} | `{c.id}` | `{c.expression}` | {' | '.join(marks)} | "
            f"{_cell(score)} | {growth} | {len(c.merged_from)} |"
        )
    if len(reports) > max_rows:
        lines.append(
            f"\n… and {len(reports) - max_rows:,} more in property_report.json and "
            "candidates.parquet."
        )
    return lines


def _failures_section(reports: Sequence[PropertyReport], max_rows: int) -> list[str]:
    failing = [r for r in reports if not r.passed]
    if not failing:
        return []
    lines = ["", "## Why candidates failed the full checks", ""]
    for report in failing[:max_rows]:
        reasons = []
        if not report.result.domain.ok:
            domain = report.result.domain
            reasons.append(f"domain ({domain.method}): {domain.message}")
        for p, v in report.result.verdicts.items():
            if not v.passed and "skipped" not in v.evidence:
                detail = {
                    k: v.evidence[k]
                    for k in ("counterexample", "growth", "balance", "flat_width")
                    if k in v.evidence
                }
                reasons.append(f"{p} ({v.method}): {jsonable(detail)}")
        lines.append(f"- `{report.candidate.expression}`: " + "; ".join(reasons))
    return lines


def _merges_section(reports: Sequence[PropertyReport], max_rows: int, max_merged: int) -> list[str]:
    merged = [r for r in reports if r.candidate.merged_from]
    if not merged:
        return []
    lines = [
        "",
        "## Merged expressions",
        "",
        "Expressions that are one candidate modulo the template (output and input "
        "scale, mirroring) or equal as functions.",
        "",
    ]
    for report in merged[:max_rows]:
        first = report.candidate.merged_from[:max_merged]
        shown = ", ".join(f"`{_md_escape(m)}`" for m in first)
        more = len(report.candidate.merged_from) - max_merged
        extra = f" and {more:,} more" if more > 0 else ""
        lines.append(f"- `{report.candidate.expression}` ← {shown}{extra}")
    return lines


def report_json(
    reports: Sequence[PropertyReport], summary: Mapping[str, Any], *, max_merged: int = 20
) -> dict[str, Any]:
    """The report as JSON: the summary and one object per candidate (``check --json``'s
    schema plus ``merged_count`` and the first ``max_merged`` merged expressions)."""
    candidates = []
    for report in reports:
        entry = report.to_dict()
        entry["merged_count"] = len(report.candidate.merged_from)
        entry["merged_from"] = list(report.candidate.merged_from[:max_merged])
        candidates.append(entry)
    return {"summary": jsonable(dict(summary)), "candidates": candidates}
