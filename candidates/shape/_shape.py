"""Shape descriptors: a short vector of numbers that says what f looks like, whatever its scales.

The template y = γ·f(α·x + s) + β absorbs f's output scale and sign (γ) and its input scale
(α), so a descriptor a search learns from must not change when f becomes a·f(b·x), nor under
the point reflection −f(−x). Every descriptor is therefore measured in f's own units, each side
of 0 on its own and then averaged over the two sides: H, the largest |f(x) − f(0)| on the
screening grid (out to 10¹⁵), and t50, t90, the inputs where |f(x) − f(0)| first reaches half
and 90% of H. A function that still grows over the grid's last three decades has no H, and all
its descriptors are nan (the unbounded ones fail a property anyway). :data:`SHAPE_DESCRIPTORS`
names them, in order, with one line each.

H and t50 themselves are the two :data:`SCALE_DESCRIPTORS`: f's output and input scale. A
trained template absorbs them, but it starts from γ = 1 and α = α0, so a short run sees them,
and a surrogate that predicts such runs needs them beside the shape (the guided sampler's
inputs, :func:`candidates.guide_matrix`).

Example:
    >>> d = shape_descriptors("erf(x)")
    >>> round(d["knee"], 2), round(d["kurtosis_two"], 2), d["retreat"]
    (2.44, 1.59, 0.0)
    >>> same = shape_descriptors("-3*erf(-2*x)")  # the same shape, rescaled and reflected
    >>> max(abs(d[k] - same[k]) for k in d) < 1e-3
    True
    >>> round(shape_descriptors("2*x/(1 + x**2)")["retreat"], 3)  # back to 0 after its peak
    1.0
    >>> scaled = shape_descriptors("3*erf(2*x)", scales=True)  # output ×3, input ÷2
    >>> round(scaled["height"], 3), round(scaled["width"], 3)
    (3.0, 0.238)
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

from ..catalog import resolve_text
from ..checks import FULL, evaluate
from ..expr import compile_numpy
from ._descriptors import GAUSSIAN

#: The descriptors, in order, each in one line. σ-dependent ones use x ~ N(0, σ²) with σ a
#: multiple of t50, so that they too ignore the input scale.
SHAPE_DESCRIPTORS: dict[str, str] = {
    "slope": "slope at 0 relative to saturation: (|f(ε·t50) − f(0)| / ε·t50) · t50 / H, ε = 1e-3",
    "linearity": "|f(t50/4) − f(0)| over the line of that slope at t50/4 (1: still linear)",
    "knee": "t90 / t50: how abruptly f saturates (large: a long approach)",
    "tail": "1 − |f(8·t50) − f(0)| / H: the share of the range still to go at 8·t50",
    "retreat": "1 − mean |f(x) − f(0)| / H over the grid's last three decades: how far f comes "
    "back from its peak (0: it saturates; 1: it returns to f(0))",
    "asymmetry": "|H₊ − H₋| / (H₊ + H₋): how unequal the two saturation levels are around f(0)",
    "bias": "|mean f(x) − f(0)| / H for σ = t50: the output's offset on centred inputs",
    "std_half": "std f(x) / H for σ = t50/2",
    "std_one": "std f(x) / H for σ = t50",
    "std_two": "std f(x) / H for σ = 2·t50",
    "kurtosis_half": "kurtosis of f(x) for σ = t50/2 (3 for a linear f)",
    "kurtosis_one": "kurtosis of f(x) for σ = t50",
    "kurtosis_two": "kurtosis of f(x) for σ = 2·t50 (low: outputs pile up at ±H)",
    "gradient_half": "E[f'(x)²]·σ²/H² for σ = t50/2: the gain a gradient sees",
    "gradient_one": "E[f'(x)²]·σ²/H² for σ = t50",
    "gradient_two": "E[f'(x)²]·σ²/H² for σ = 2·t50",
}
#: The scale descriptors, each in one line: what the template's γ and α absorb.
SCALE_DESCRIPTORS: dict[str, str] = {
    "height": "H, the largest |f(x) − f(0)| on the grid (mean of the two sides): f's output scale",
    "width": "t50, the input where |f(x) − f(0)| first reaches H/2 (mean of the two sides): "
    "f's input scale",
}
_SIGMAS = {"half": 0.5, "one": 1.0, "two": 2.0}
#: The positive half of the screening grid, where each side is measured.
_T = FULL[FULL > 0]
_FAR = np.greater_equal(_T, _T[-1] / 1e3)


def _crossing(t: np.ndarray, g: np.ndarray, level: float) -> float:
    """The first t at which g reaches ``level``, linearly interpolated between grid points."""
    i = int(np.argmax(g >= level))
    if i == 0:
        return float(t[0])
    t0, t1, g0, g1 = t[i - 1], t[i], g[i - 1], g[i]
    return float(t0 + (level - g0) * (t1 - t0) / (g1 - g0))


def _side(fn: Callable[[np.ndarray], np.ndarray], sign: float, f0: float) -> dict[str, float]:
    g = np.abs(evaluate(fn, sign * _T) - f0)
    if not np.all(np.isfinite(g)):
        return {}
    height = float(g.max())
    # still growing over the last three decades of the grid: no saturation level
    if not height > 0 or float(g[_FAR].max()) > 1.01 * float(g[~_FAR].max()):
        return {}
    t50, t90 = _crossing(_T, g, 0.5 * height), _crossing(_T, g, 0.9 * height)
    eps = 1e-3 * t50
    near = evaluate(fn, np.array([sign * eps, sign * t50 / 4, sign * 8 * t50]))
    slope = abs(float(near[0]) - f0) / eps
    return {
        "H": height,
        "t50": t50,
        "slope": slope * t50 / height,
        "linearity": abs(float(near[1]) - f0) / (slope * t50 / 4) if slope > 0 else math.nan,
        "knee": t90 / t50,
        "tail": 1.0 - abs(float(near[2]) - f0) / height,
        "retreat": max(0.0, 1.0 - float(g[_FAR].mean()) / height),
    }


def shape_descriptors(
    function: str | Callable[[np.ndarray], np.ndarray], *, scales: bool = False
) -> dict[str, float]:
    """The :data:`SHAPE_DESCRIPTORS` of ``function`` (an expression, a catalog name, or a
    numpy function of x), in order, then with ``scales`` its :data:`SCALE_DESCRIPTORS`; nan
    where f has no saturation level."""
    if isinstance(function, str):
        function = compile_numpy(resolve_text(function)[1])
    fn = function
    out = dict.fromkeys([*SHAPE_DESCRIPTORS, *(SCALE_DESCRIPTORS if scales else ())], math.nan)
    with np.errstate(all="ignore"):
        f0 = float(evaluate(fn, np.zeros(1))[0])
        if not math.isfinite(f0):
            return out
        sides = [_side(fn, sign, f0) for sign in (1.0, -1.0)]
        if not all(sides):
            return out
        for name in ("slope", "linearity", "knee", "tail", "retreat"):
            out[name] = 0.5 * (sides[0][name] + sides[1][name])
        heights = [s["H"] for s in sides]
        height = 0.5 * sum(heights)
        out["asymmetry"] = abs(heights[0] - heights[1]) / sum(heights)
        t50 = 0.5 * (sides[0]["t50"] + sides[1]["t50"])
        if scales:
            out["height"], out["width"] = height, t50
        for label, factor in _SIGMAS.items():
            sigma = factor * t50
            x = sigma * GAUSSIAN
            y = evaluate(fn, x)
            step = 1e-5 * sigma
            slope = (evaluate(fn, x + step) - evaluate(fn, x - step)) / (2 * step)
            centred = y - y.mean()
            squares = centred * centred
            variance = float(np.mean(squares))
            out[f"std_{label}"] = math.sqrt(variance) / height
            # squares² rather than centred**4: numpy's power with exponent 4 calls pow() per
            # element, a hundred times the cost of a product (it was a third of this function)
            out[f"kurtosis_{label}"] = (
                float(np.mean(squares * squares)) / variance**2 if variance > 0 else math.nan
            )
            out[f"gradient_{label}"] = float(np.mean(slope**2)) * sigma**2 / height**2
            if label == "one":
                out["bias"] = abs(float(y.mean()) - f0) / height
    return {k: v if math.isfinite(v) else math.nan for k, v in out.items()}
