"""The sanity panel's table and the layer/task benchmarks."""

from __future__ import annotations

import math

from search._benchmark import benchmark_layer
from search._panel import PANEL, panel_markdown


def _rows(values: dict[str, list[float]]) -> list[dict[str, object]]:
    rows: list[dict[str, object]] = []
    for candidate, _ in PANEL:
        for seed, value in enumerate(values.get(candidate, [0.9, 0.91, 0.92])):
            rows.append(
                {
                    "task": "t",
                    "candidate": candidate,
                    "seed": seed,
                    "value": value,
                    "diverged": math.isnan(value),
                    "seconds": 1.0,
                    "parameters": 10,
                    "metric": "accuracy",
                    "direction": "maximize",
                }
            )
    return rows


def test_panel_separates_only_beyond_seed_noise() -> None:
    text = panel_markdown(
        _rows(
            {
                "x": [0.5, 0.52, 0.51],
                "sin(x)": [0.9, 0.93, 0.91],
                "erf(x) + 1": [math.nan, math.nan, math.nan],
            }
        ),
        seeds=3,
        budget="quick",
    )
    line = {row.split("|")[1].strip(): row for row in text.splitlines() if row.startswith("| ")}
    assert "worse" in line["x (unbounded)"]
    assert "not separated" in line["sin(x) (not monotonic)"]
    assert "3/3" in line["erf(x) + 1 (not zero-centred)"]
    assert "### t: accuracy (higher is better)" in text


def test_layer_benchmark_reports_a_ratio() -> None:
    figures = benchmark_layer(shape=(2, 8, 16), repeats=3, compile_too=False)
    assert figures["eager_ratio"] > 0 and "compiled_ratio" not in figures
