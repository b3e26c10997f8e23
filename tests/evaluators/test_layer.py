"""The template layer and the norm converter."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from candidates import PAPER
from evaluators import MAX_SLOPE, PointwiseNorm, convert_norms, make_norm


def test_template_at_initialisation() -> None:
    layer = PointwiseNorm(6, "erf", alpha0=0.5)
    x = torch.randn(3, 4, 6, dtype=torch.float64)
    layer = layer.double()
    expected = torch.erf(0.5 * x)  # γ = 1, β = 0, s = 0
    torch.testing.assert_close(layer(x), expected)
    names = {n for n, _ in layer.named_parameters()}
    assert names == {"alpha", "shift", "weight", "bias"}


@pytest.mark.parametrize(("shift", "shape"), [("scalar", (1,)), ("vector", (6,)), (None, None)])
def test_shift_variants(shift: str | None, shape: tuple[int, ...] | None) -> None:
    layer = PointwiseNorm(6, "tanh", shift=shift)  # type: ignore[arg-type]
    assert (None if layer.shift is None else tuple(layer.shift.shape)) == shape
    with torch.no_grad():
        if layer.shift is not None:
            layer.shift.fill_(0.3)
        layer.weight.fill_(2.0)
        layer.bias.fill_(-1.0)
    x = torch.randn(2, 6)
    s = 0.3 if shift else 0.0
    torch.testing.assert_close(layer(x), 2 * torch.tanh(0.5 * x + s) - 1)


def test_channels_first() -> None:
    layer = PointwiseNorm(3, "erf", shift="vector", channels_last=False)
    with torch.no_grad():
        layer.shift.copy_(torch.tensor([0.0, 1.0, -1.0]))
        layer.weight.copy_(torch.tensor([1.0, 2.0, 3.0]))
    x = torch.randn(2, 3, 4, 4)
    expected = torch.erf(0.5 * x + torch.tensor([0.0, 1.0, -1.0]).view(1, 3, 1, 1))
    expected = expected * torch.tensor([1.0, 2.0, 3.0]).view(1, 3, 1, 1)
    torch.testing.assert_close(layer(x), expected)


SINGULAR = [
    "exproot",
    "power23clip",
    "sign(x)*sqrt(abs(x))",
    "clip(x, -1, 1)",
    "abs(x)*sign(x)",
    "cbrt(x)",
]


@pytest.mark.parametrize("fn", SINGULAR + [e.name for e in PAPER])
def test_gradients_are_finite_everywhere(fn: str) -> None:
    layer = PointwiseNorm(5, fn, alpha0=1.0)
    # exactly 0, the clip kinks at ±1, tiny and large values
    x = torch.tensor(
        [[0.0, 1.0, -1.0, 1e-30, -1e-30], [1e-7, -1e-7, 50.0, -50.0, 0.5]], requires_grad=True
    )
    layer(x).sum().backward()
    assert x.grad is not None and torch.isfinite(x.grad).all(), x.grad
    assert x.grad.abs().max() <= MAX_SLOPE * 2
    for p in layer.parameters():
        assert p.grad is not None and torch.isfinite(p.grad).all()


def test_safe_slope_matches_autograd_where_the_derivative_exists() -> None:
    layer = PointwiseNorm(4, "exproot", alpha0=1.0)
    assert layer.safe
    x = torch.tensor([[0.3, -2.0, 1.5, -0.01]], dtype=torch.float64, requires_grad=True)
    layer.double()(x).sum().backward()
    expected = torch.exp(-x.detach().abs().sqrt()) / (2 * x.detach().abs().sqrt())
    torch.testing.assert_close(x.grad, expected)


def test_make_norm_baselines() -> None:
    assert isinstance(make_norm("layernorm", 8), nn.LayerNorm)
    assert isinstance(make_norm("RMSNorm", 8), nn.RMSNorm)
    dyt = make_norm("dyt", 8)
    assert isinstance(dyt, PointwiseNorm) and dyt.shift is None
    with pytest.raises(ValueError, match="normalization layer"):
        PointwiseNorm(8, "layernorm")


class _LlamaStyleRMSNorm(nn.Module):
    """Shaped like Hugging Face's LlamaRMSNorm: a weight and its own forward."""

    def __init__(self, hidden: int) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.ones(hidden))
        self.variance_epsilon = 1e-6

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        var = x.pow(2).mean(-1, keepdim=True)
        return self.weight * x * torch.rsqrt(var + self.variance_epsilon)


class _Block(nn.Module):
    def __init__(self, width: int) -> None:
        super().__init__()
        self.ln1 = nn.LayerNorm(width)
        self.attn = nn.MultiheadAttention(width, 2, batch_first=True)
        self.ln2 = nn.RMSNorm(width)
        self.mlp = nn.Sequential(
            nn.Linear(width, 2 * width), nn.GELU(), nn.Linear(2 * width, width)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.ln1(x)
        x = x + self.attn(h, h, h, need_weights=False)[0]
        return x + self.mlp(self.ln2(x))


class _Tiny(nn.Module):
    def __init__(self, width: int = 8) -> None:
        super().__init__()
        self.blocks = nn.ModuleList([_Block(width), _Block(width)])
        self.final = _LlamaStyleRMSNorm(width)
        self.head = nn.Linear(width, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for block in self.blocks:
            x = block(x)
        return self.head(self.final(x))


def test_convert_replaces_every_norm_and_trains() -> None:
    model = _Tiny().double()
    with torch.no_grad():
        model.blocks[0].ln1.weight.fill_(1.5)
    done = convert_norms(model, "erf", alpha0=0.7, shift="vector")
    assert sorted((r.name, r.replaced) for r in done) == [
        ("blocks.0.ln1", "LayerNorm"),
        ("blocks.0.ln2", "RMSNorm"),
        ("blocks.1.ln1", "LayerNorm"),
        ("blocks.1.ln2", "RMSNorm"),
        ("final", "_LlamaStyleRMSNorm"),
    ]
    norms = [m for m in model.modules() if isinstance(m, PointwiseNorm)]
    assert len(norms) == 5
    assert all(m.alpha.dtype == torch.float64 and m.shift.shape == (8,) for m in norms)
    assert float(model.blocks[0].ln1.weight.detach()[0]) == 1.5  # γ taken from the old layer
    x = torch.randn(2, 5, 8, dtype=torch.float64)
    out = model(x)
    assert out.shape == (2, 5, 3)
    out.sum().backward()
    assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in model.parameters())


def test_convert_to_baselines_and_again() -> None:
    model = _Tiny()
    convert_norms(model, "dyt")
    assert all(m.shift is None for m in model.modules() if isinstance(m, PointwiseNorm))
    with pytest.raises(ValueError, match="no normalization layer"):
        convert_norms(model, "erf")  # already converted: nothing left to replace
    model = _Tiny()
    convert_norms(model, "rmsnorm")
    assert sum(isinstance(m, nn.RMSNorm) for m in model.modules()) == 5


def test_convert_channels_first_norm() -> None:
    class LayerNorm2d(nn.LayerNorm):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return super().forward(x.permute(0, 2, 3, 1)).permute(0, 3, 1, 2)

    model = nn.Sequential(nn.Conv2d(3, 4, 3), LayerNorm2d(4))
    convert_norms(model, "tanh")
    assert isinstance(model[1], PointwiseNorm) and not model[1].channels_last
    assert model(torch.randn(1, 3, 6, 6)).shape == (1, 4, 4, 4)


def test_no_norm_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="no normalization layer found in Sequential"):
        convert_norms(nn.Sequential(nn.Linear(2, 2)), "erf")


def test_candidates_by_name_expression_and_id() -> None:
    from evaluators import resolve_candidate

    by_name = resolve_candidate("isru")
    assert resolve_candidate(by_name.id).canonical == by_name.canonical
    assert resolve_candidate("c825163766c8").canonical == "erf(x)"
    assert resolve_candidate("x/sqrt(x**2 + 1)").id == by_name.id
    with pytest.raises(ValueError, match="unknown candidate id"):
        resolve_candidate("c00000000000")


def test_convert_norm_without_affine_parameters_follows_the_model() -> None:
    model = nn.Sequential(nn.Linear(4, 4), nn.LayerNorm(4, elementwise_affine=False)).double()
    convert_norms(model, "erf")
    assert model[1].alpha.dtype == torch.float64
    assert model(torch.randn(2, 4, dtype=torch.float64)).dtype == torch.float64
