"""The attention-logit probe against logits worked out by hand."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from evaluators import attention_logit_peak


def identity_attention(width: int, heads: int, *, batch_first: bool) -> nn.MultiheadAttention:
    """Queries and keys equal to the input: the logits are x_i·x_j/√(width/heads) per head."""
    attn = nn.MultiheadAttention(width, heads, batch_first=batch_first)
    with torch.no_grad():
        attn.in_proj_weight.copy_(torch.eye(width).repeat(3, 1))
        attn.in_proj_bias.zero_()
    return attn


def test_the_peak_is_the_largest_scaled_dot_product_of_any_head() -> None:
    x = torch.tensor([[[3.0, 0.0, 1.0, 1.0], [-4.0, 1.0, 0.0, 2.0]]])  # (B=1, T=2, C=4)
    attn = identity_attention(4, 2, batch_first=True)
    # head 1 sees the first two channels: |(-4, 1)·(-4, 1)| = 17 is the largest product
    assert attention_logit_peak(attn, lambda: attn(x, x, x)) == pytest.approx(17 / math.sqrt(2))


def test_tokens_are_paired_within_a_sequence_in_either_layout() -> None:
    x = torch.tensor([[[1.0, 0.0], [0.0, 5.0]]])  # (B=1, T=2, C=2)
    for batch_first in (True, False):
        attn = identity_attention(2, 1, batch_first=batch_first)
        with torch.no_grad():  # keys with their channels swapped: only q1·k2 and q2·k1 are not 0
            attn.in_proj_weight[2:4] = torch.tensor([[0.0, 1.0], [1.0, 0.0]])
        seq = x if batch_first else x.transpose(0, 1)
        peak = attention_logit_peak(attn, lambda: attn(seq, seq, seq))  # noqa: B023
        assert peak == pytest.approx(5 / math.sqrt(2))


def test_every_attention_layer_counts_and_hooks_are_removed() -> None:
    small = identity_attention(2, 1, batch_first=True)
    large = identity_attention(2, 1, batch_first=True)
    model = nn.ModuleList([small, large])
    x = torch.ones(1, 1, 2)

    def forward() -> None:
        small(x, x, x)
        large(10 * x, 10 * x, 10 * x)

    assert attention_logit_peak(model, forward) == pytest.approx(200 / math.sqrt(2))
    assert not small._forward_pre_hooks and not large._forward_pre_hooks
    assert attention_logit_peak(nn.Linear(2, 2), forward) is None


def test_masked_pairs_do_not_count() -> None:
    x = torch.tensor([[[1.0, 0.0], [0.0, 5.0]]])  # self products 1 and 25, cross products 0
    attn = identity_attention(2, 1, batch_first=True)
    causal = torch.triu(torch.ones(2, 2, dtype=torch.bool), diagonal=1)
    assert attention_logit_peak(attn, lambda: attn(x, x, x)) == pytest.approx(25 / math.sqrt(2))
    # the second token may not be attended to: by the padding mask, by a boolean or float mask
    padding = torch.tensor([[False, True]])
    only_first = torch.tensor([[0.0, -math.inf], [0.0, -math.inf]])
    for call in (
        lambda: attn(x, x, x, key_padding_mask=padding),
        lambda: attn(x, x, x, attn_mask=only_first),
        lambda: attn(query=x, key=x, value=x, attn_mask=only_first.isinf()),
    ):
        assert attention_logit_peak(attn, call) == pytest.approx(1 / math.sqrt(2))
    # a causal mask keeps the diagonal: the peak is still token 2 with itself
    assert attention_logit_peak(attn, lambda: attn(x, x, x, attn_mask=causal)) == pytest.approx(
        25 / math.sqrt(2)
    )


def test_unbatched_input_separate_key_sizes_and_autocast() -> None:
    x = torch.tensor([[1.0, 0.0], [0.0, 5.0]])  # (T, C), no batch dimension
    attn = identity_attention(2, 1, batch_first=False)
    assert attention_logit_peak(attn, lambda: attn(x, x, x)) == pytest.approx(25 / math.sqrt(2))
    other = nn.MultiheadAttention(2, 1, kdim=3, vdim=3, batch_first=True)
    keys = torch.randn(1, 4, 3)
    peak = attention_logit_peak(other, lambda: other(x[None], keys, keys))
    assert peak is not None and math.isfinite(peak)
    # a logit above float16's range is measured in float32, not as an overflow
    big = 300 * x[:, None]  # (T, B, C)
    with torch.autocast("cpu", dtype=torch.float16):
        peak = attention_logit_peak(attn, lambda: attn(big, big, big))
    assert peak == pytest.approx(25 * 300**2 / math.sqrt(2), rel=1e-3)
