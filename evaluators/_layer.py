"""The template layer y = γ ⊙ f(α·x + s) + β, and a factory for it and the norm baselines.

Example:
    >>> import torch
    >>> layer = PointwiseNorm(8, "erf")
    >>> layer(torch.randn(2, 5, 8)).shape
    torch.Size([2, 5, 8])
    >>> type(make_norm("layernorm", 8)).__name__
    'LayerNorm'
"""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import cache
from typing import Any

import sympy as sp
import torch
from torch import nn

from candidates import (
    BASELINES,
    DEFAULT_ALPHA0,
    PAPER,
    TEMPLATE,
    Candidate,
    Shift,
    UserError,
    compile_torch,
    find_entry,
    parse_shift,
    template_shift,
)

#: Largest |f'(z)| passed back where the true slope is infinite (|x|^p with p < 1 at 0).
MAX_SLOPE = 1e4


def needs_safe_gradient(expr: sp.Expr) -> bool:
    """True where autograd could produce nan/inf: a fractional or negative power of a base
    that can be zero (sqrt(|x|) at 0, |x|^(2/3) at 0)."""
    for power in expr.atoms(sp.Pow):
        exponent = power.exp
        if exponent.is_Integer and exponent > 0:
            continue
        if power.base.is_positive:
            continue
        return True
    return False


class _SafeSlope(torch.autograd.Function):
    """f with its slope computed by autograd and cleaned: nan -> 0, ±inf -> ±MAX_SLOPE.

    The forward value is exact; only the derivative at points where it does not exist (or is
    infinite) is replaced, so gradients stay finite everywhere. Written for torch.func (a
    ``setup_context`` and a slope from :func:`torch.func.grad`), so that packed training can
    ``vmap`` it; the slope is the same, to the bit, as ``torch.autograd.grad``'s.
    """

    generate_vmap_rule = True

    @staticmethod
    def forward(z: torch.Tensor, fn: Callable[[torch.Tensor], torch.Tensor]) -> Any:
        return fn(z)

    @staticmethod
    def setup_context(ctx: Any, inputs: tuple[Any, ...], output: Any) -> None:
        z, fn = inputs
        ctx.save_for_backward(z)
        ctx.fn = fn

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> Any:
        (z,) = ctx.saved_tensors
        slope = torch.func.grad(lambda t: ctx.fn(t).sum())(z.detach())
        slope = torch.nan_to_num(slope, nan=0.0, posinf=MAX_SLOPE, neginf=-MAX_SLOPE)
        return grad * slope.clamp(-MAX_SLOPE, MAX_SLOPE), None


def activate(
    z: torch.Tensor, fn: Callable[[torch.Tensor], torch.Tensor], safe: bool
) -> torch.Tensor:
    """``fn(z)``, with its slope cleaned where ``safe`` (see :func:`needs_safe_gradient`).

    >>> activate(torch.zeros(2), torch.erf, safe=False).tolist()
    [0.0, 0.0]
    """
    return _SafeSlope.apply(z, fn) if safe else fn(z)


_ID = re.compile(r"c[0-9a-f]{11}")


@cache
def _catalog_by_id() -> dict[str, str]:
    ids: dict[str, str] = {}
    for entry in (*PAPER, *BASELINES):
        if entry.expression is not None:
            ids.setdefault(Candidate.from_text(entry.expression).id, entry.name)
    return ids


def resolve_candidate(fn: str | Candidate) -> Candidate:
    """A candidate from an expression, a catalog name (``erf``, ``isru``, ``dyt``), the id of a
    catalog function (``c825163766c8`` is erf), or itself."""
    if isinstance(fn, Candidate):
        return fn
    if _ID.fullmatch(fn.strip()):
        by_id = _catalog_by_id()
        if fn.strip() not in by_id:
            raise UserError(
                f"unknown candidate id {fn!r}: only the catalog's ids are known "
                "here; give the expression instead"
            )
        return Candidate.from_text(by_id[fn.strip()])
    # Candidate.from_text knows catalog names and refuses the norm baselines itself.
    return Candidate.from_text(fn)


class PointwiseNorm(nn.Module):
    """y = γ ⊙ f(α·x + s) + β over the channel dimension, a drop-in for LayerNorm.

    α is a learnable scalar (``alpha0``); s is a learnable scalar, a per-channel vector, or
    absent (``shift=None``, DyT-style); γ and β are per-channel (init 1 and 0). With
    ``channels_last=False`` the channels are dimension 1, as in (B, C, H, W).
    """

    def __init__(
        self,
        num_features: int,
        fn: str | Candidate,
        *,
        alpha0: float = DEFAULT_ALPHA0,
        shift: Shift | None = "scalar",
        channels_last: bool = True,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
        compiled: Callable[[torch.Tensor], torch.Tensor] | None = None,
    ) -> None:
        super().__init__()
        if num_features < 1:
            raise ValueError(f"num_features must be at least 1, but got {num_features=}.")
        kind = parse_shift(shift)
        kw: dict[str, Any] = {"device": device, "dtype": dtype}
        self.candidate = resolve_candidate(fn)
        self.num_features = num_features
        self.channels_last = channels_last
        self.shift_kind = kind
        # ``compiled`` is the candidate's torch function when a factory already compiled it.
        self.fn = compiled if compiled is not None else compile_torch(self.candidate.sympy)
        self.safe = needs_safe_gradient(self.candidate.sympy)
        self.alpha = nn.Parameter(torch.full((1,), float(alpha0), **kw))
        if kind == "scalar":
            self.shift = nn.Parameter(torch.zeros(1, **kw))
        elif kind == "vector":
            self.shift = nn.Parameter(torch.zeros(num_features, **kw))
        else:
            self.register_parameter("shift", None)
        self.weight = nn.Parameter(torch.ones(num_features, **kw))
        self.bias = nn.Parameter(torch.zeros(num_features, **kw))

    def _channel(self, p: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        if self.channels_last or p.numel() == 1:
            return p
        return p.view(1, -1, *([1] * (x.dim() - 2)))  # (1, C, 1, 1) for (B, C, H, W)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        z = self.alpha * x  # (B, T, C)
        if self.shift is not None:
            z = z + self._channel(self.shift, x)
        y = activate(z, self.fn, self.safe)
        return y * self._channel(self.weight, x) + self._channel(self.bias, x)

    def extra_repr(self) -> str:
        return (
            f"{self.num_features}, f={self.candidate.expression}, "
            f"alpha0={float(self.alpha.detach()[0]):g}, shift={self.shift_kind}"
        )


#: The normalization layers among the baselines (catalog entries of kind ``norm``).
NORM_LAYERS: dict[str, Callable[..., nn.Module]] = {
    "layernorm": nn.LayerNorm,
    "rmsnorm": nn.RMSNorm,
}


def norm_factory(
    kind: str | Candidate,
    *,
    alpha0: float | None = None,
    shift: Shift | str | None = TEMPLATE,
    eps: float = 1e-6,
) -> Callable[..., nn.Module]:
    """``factory(width, channels_last=True)`` building norm layers of one kind: a catalog name
    (``layernorm``, ``rmsnorm``, ``dyt``, ``isru``, …) or any candidate. The candidate is
    resolved and compiled once, here; every layer then shares the compiled function.

    A catalog entry brings its own template (DyT: no shift); ``alpha0`` and ``shift`` override
    it, and otherwise default to :data:`~candidates.DEFAULT_ALPHA0` and a scalar shift.

    >>> factory = norm_factory("dyt")
    >>> factory(4).shift is None, factory(4).fn is factory(8).fn
    (True, True)
    """
    if isinstance(kind, Candidate):  # a named candidate brings its entry's template too
        entry = find_entry(kind.name) if kind.name else None
    else:
        entry = find_entry(kind) if "(" not in kind else None
    if entry is not None and entry.kind == "norm":
        layer = NORM_LAYERS[entry.name]

        def build_norm(width: int, channels_last: bool = True) -> nn.Module:
            return layer(width, eps=eps)

        return build_norm
    candidate = resolve_candidate(kind)
    start = alpha0 if alpha0 is not None else entry.alpha0 if entry else DEFAULT_ALPHA0
    kind_of_shift = template_shift(shift, entry.shift if entry else None)
    fn = compile_torch(candidate.sympy)

    def build(width: int, channels_last: bool = True) -> nn.Module:
        return PointwiseNorm(
            width,
            candidate,
            alpha0=start,
            shift=kind_of_shift,
            channels_last=channels_last,
            compiled=fn,
        )

    return build


def make_norm(
    kind: str | Candidate,
    num_features: int,
    *,
    alpha0: float | None = None,
    shift: Shift | str | None = TEMPLATE,
    eps: float = 1e-6,
    channels_last: bool = True,
) -> nn.Module:
    """One norm layer: :func:`norm_factory` for a single width.

    >>> make_norm("dyt", 4).shift is None, make_norm("dyt", 4, shift="scalar").shift.shape
    (True, torch.Size([1]))
    >>> type(make_norm("rmsnorm", 4)).__name__
    'RMSNorm'
    """
    factory = norm_factory(kind, alpha0=alpha0, shift=shift, eps=eps)
    return factory(num_features, channels_last=channels_last)
