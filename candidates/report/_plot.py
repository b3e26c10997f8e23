"""The picture of a property report: candidate shapes beside erf and tanh (matplotlib is
imported only when a plot is drawn).

Example:
    >>> from candidates import check
    >>> import tempfile, pathlib
    >>> out = pathlib.Path(tempfile.mkdtemp()) / "shapes.png"
    >>> plot_shapes([check("x/(1 + abs(x))", symbolic=False)], out).stat().st_size > 0
    True
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from ..expr import compile_numpy, parse
from ._candidate import PropertyReport


def plot_shapes(
    reports: Sequence[PropertyReport], path: str | Path, *, top: int = 24, window: float = 4.0
) -> Path:
    """Small multiples of the first ``top`` candidates, each beside erf and tanh.

    Each curve is scaled by its R = max |f| on the window, as γ would scale it, so shapes
    compare at a glance.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    shown = list(reports[:top])
    n = max(len(shown), 1)
    cols = min(6, n)
    rows = (n + cols - 1) // cols
    x = np.linspace(-window, window, 801)
    refs = {name: compile_numpy(parse(f"{name}(x)"))(x) for name in ("erf", "tanh")}
    fig, axes = plt.subplots(
        rows, cols, figsize=(2.6 * cols, 2.2 * rows), squeeze=False, sharex=True, sharey=True
    )
    for ax in axes.flat:
        ax.set_visible(False)
    for ax, report in zip(axes.flat, shown, strict=False):
        ax.set_visible(True)
        with np.errstate(all="ignore"):
            y = np.asarray(report.candidate.numpy()(x), dtype=float)
        scale = np.nanmax(np.abs(y)) or 1.0
        ax.plot(x, refs["erf"], color="0.6", lw=1, ls="--", label="erf")
        ax.plot(x, refs["tanh"], color="0.8", lw=1, ls=":", label="tanh")
        color = "tab:blue" if report.passed else "tab:red"
        ax.plot(x, y / scale, color=color, lw=1.8)
        ax.axhline(0, color="0.9", lw=0.6, zorder=0)
        ax.axvline(0, color="0.9", lw=0.6, zorder=0)
        title = report.candidate.name or report.candidate.expression
        ax.set_title(title if len(title) <= 34 else title[:31] + "…", fontsize=8)
        ax.tick_params(labelsize=7)
        ax.set_ylim(-1.15, 1.15)
    if shown:
        axes.flat[0].legend(fontsize=6, loc="lower right", frameon=False)
    fig.suptitle("candidate shapes f(x)/max|f| on [-4, 4] (dashed: erf, dotted: tanh)", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path
