"""`derf-search export`: a leaderboard row or an expression as a standalone PyTorch module.

The written file needs only torch: it holds f as torch code (the same operations the search
ran, see :mod:`candidates._torch_source`), the template layer y = γ ⊙ f(α·x + s) + β with the
parameter names of :class:`evaluators.PointwiseNorm` (so state dicts load either way), and a
docstring with the expression, its LaTeX and the leaderboard figures.

Example:
    >>> import tempfile, importlib.util, torch
    >>> path = export_module(Path(tempfile.mkdtemp()) / "isru_norm.py", candidate="isru")
    >>> spec = importlib.util.spec_from_file_location("isru_norm", path)
    >>> module = importlib.util.module_from_spec(spec); spec.loader.exec_module(module)
    >>> module.Norm(8)(torch.zeros(2, 8)).abs().max().item()
    0.0
"""

from __future__ import annotations

import math
import re
from pathlib import Path
from typing import Any

import pandas as pd

from candidates import Candidate
from candidates._torch_source import HELPERS, to_torch_source

from ._leaderboard import load_leaderboard

_TEMPLATE = '''r"""{title}

y = gamma * f(alpha * x + s) + beta over the last (channel) dimension, a drop-in for LayerNorm,
with

    f(x) = {expression}
    LaTeX: {latex}

alpha is a learnable scalar (init alpha0), s a learnable {shift_text}, gamma and beta learnable
per-channel vectors (init 1 and 0). Parameter names match derf-search's PointwiseNorm
(alpha, shift, weight, bias).
{figures}
Written by derf-search {version}; needs only torch.

Example:
    >>> layer = {cls}(64)
    >>> layer(torch.randn(2, 5, 64)).shape
    torch.Size([2, 5, 64])
"""

from __future__ import annotations

import torch
from torch import nn

EXPRESSION = {expression!r}
CANDIDATE_ID = {cid!r}
#: Where the slope of f is infinite or undefined (|x|^p, p < 1, at 0) it is replaced by a
#: finite value, as during the search, so that gradients stay finite.
SAFE_SLOPE = {safe!r}
MAX_SLOPE = {max_slope!r}
{helpers}

def f(x: torch.Tensor) -> torch.Tensor:
    """f(x) = {expression}"""
    out = {source}
    if not isinstance(out, torch.Tensor):  # a constant function still returns a tensor
        out = torch.full_like(x, out)
    return out


class _SafeSlope(torch.autograd.Function):
    @staticmethod
    def forward(ctx, z):
        ctx.save_for_backward(z)
        return f(z)

    @staticmethod
    def backward(ctx, grad):
        (z,) = ctx.saved_tensors
        with torch.enable_grad():
            leaf = z.detach().requires_grad_(True)
            (slope,) = torch.autograd.grad(f(leaf).sum(), leaf)
        slope = torch.nan_to_num(slope, nan=0.0, posinf=MAX_SLOPE, neginf=-MAX_SLOPE)
        return grad * slope.clamp(-MAX_SLOPE, MAX_SLOPE)


class {cls}(nn.Module):
    """y = gamma * f(alpha * x + s) + beta with f(x) = {expression}."""

    def __init__(self, num_features: int, *, alpha0: float = {alpha0!r},
                 shift: str | None = {shift!r}, channels_last: bool = True,
                 device=None, dtype=None) -> None:
        super().__init__()
        kw = {{"device": device, "dtype": dtype}}
        self.num_features = num_features
        self.channels_last = channels_last
        self.alpha = nn.Parameter(torch.full((1,), float(alpha0), **kw))
        if shift == "scalar":
            self.shift = nn.Parameter(torch.zeros(1, **kw))
        elif shift == "vector":
            self.shift = nn.Parameter(torch.zeros(num_features, **kw))
        else:
            self.register_parameter("shift", None)
        self.weight = nn.Parameter(torch.ones(num_features, **kw))
        self.bias = nn.Parameter(torch.zeros(num_features, **kw))

    def _channel(self, p: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        if self.channels_last or p.numel() == 1:
            return p
        return p.view(1, -1, *([1] * (x.dim() - 2)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        z = self.alpha * x
        if self.shift is not None:
            z = z + self._channel(self.shift, x)
        y = _SafeSlope.apply(z) if SAFE_SLOPE else f(z)
        return y * self._channel(self.weight, x) + self._channel(self.bias, x)

    def extra_repr(self) -> str:
        return f"{{self.num_features}}, f={{EXPRESSION}}"


Norm = {cls}
'''


def _class_name(candidate: Candidate, key: str) -> str:
    base = candidate.name or (key if not key.startswith("c") or len(key) != 12 else "")
    words = re.findall(r"[A-Za-z0-9]+", base)
    name = "".join(w[:1].upper() + w[1:] for w in words)
    if not name or name[0].isdigit():
        name = f"Candidate{candidate.id[1:]}"
    return f"{name}Norm"


def _figures(row: pd.Series, run_dir: Path) -> str:
    tasks = [c[: -len(" mean")] for c in row.index if c.endswith(" mean")]
    lines = [f"\nLeaderboard of {run_dir} (rank {row['rank']}):"]
    for task in tasks:
        mean, n = row[f"{task} mean"], int(row[f"{task} n"])
        if n == 0 or not math.isfinite(float(mean)):
            lines.append(f"    {task}: no finished run")
            continue
        std = row[f"{task} std"]
        spread = f" ± {float(std):.4f}" if n > 1 and math.isfinite(float(std)) else ""
        line = f"    {task}: {float(mean):.4f}{spread} (n={n})"
        for ref in ("layernorm", "dyt"):
            delta = row.get(f"{task} Δ {ref}")
            if delta is not None and math.isfinite(float(delta)):
                line += f", Δ vs {ref} {float(delta):+.4f}"
        lines.append(line)
    return "\n".join(lines) + "\n"


def _row(run_dir: Path, rank: int | None, candidate: str | None, task: str | None) -> pd.Series:
    board = load_leaderboard(run_dir, task=task)
    if rank is not None:
        if not 1 <= rank <= len(board):
            raise ValueError(f"rank must be between 1 and {len(board)}, but got {rank}")
        return board.iloc[rank - 1]
    assert candidate is not None
    match = board[(board["candidate_id"] == candidate) | (board["name"] == candidate)]
    if match.empty:
        return pd.Series(dtype=object)
    return match.iloc[0]


def export_module(
    output: str | Path,
    *,
    run_dir: Path | None = None,
    rank: int | None = None,
    candidate: str | None = None,
    task: str | None = None,
) -> Path:
    """Write the module for leaderboard row ``rank`` of ``run_dir``, or for ``candidate`` (an
    expression, a catalog name, or a candidate id of the run)."""
    from importlib import metadata

    from evaluators._layer import MAX_SLOPE, _needs_safe_gradient

    if rank is not None and run_dir is None:
        raise ValueError("--rank needs a RUN_DIR")
    row = _row(run_dir, rank, candidate, task) if run_dir is not None else pd.Series(dtype=object)
    expression: Any = row.get("expression") if not row.empty else candidate
    key = str(row.get("candidate_id", candidate))
    if key in ("layernorm", "rmsnorm") or not isinstance(expression, str):
        raise ValueError(
            f"{key} is a normalization layer, not a point-wise function: use torch.nn's own"
        )
    shift = str(row.get("shift", "scalar")) if not row.empty else "scalar"
    if key == "dyt" or candidate == "dyt":
        shift = "none"
    fn = Candidate.from_text(expression)
    if fn.name is None and key == "dyt":
        fn.name = "dyt"
    cls = _class_name(fn, key)
    text = _TEMPLATE.format(
        title=f"{cls}: a point-wise replacement for LayerNorm found with derf-search.",
        expression=fn.expression,
        latex=fn.latex,
        shift_text={"scalar": "scalar shift", "vector": "per-channel shift"}.get(
            shift, "shift (none here: DyT-style)"
        ),
        figures=_figures(row, run_dir) if run_dir is not None and not row.empty else "",
        version=metadata.version("derf-search"),
        cls=cls,
        cid=fn.id,
        safe=_needs_safe_gradient(fn.sympy),
        max_slope=MAX_SLOPE,
        helpers=HELPERS,
        source=to_torch_source(fn.sympy),
        alpha0=0.5,
        shift=None if shift == "none" else shift,
    )
    path = Path(output)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path
