"""convert_norms on models of other libraries, built offline from configs (no weights)."""

from __future__ import annotations

import pytest
import torch

from evaluators import PointwiseNorm, convert_norms

transformers = pytest.importorskip("transformers")


def _forward_backward(model: torch.nn.Module, tokens: torch.Tensor) -> None:
    out = model(input_ids=tokens, labels=tokens)
    assert torch.isfinite(out.loss)
    out.loss.backward()
    grads = [p.grad for p in model.parameters() if p.requires_grad]
    assert all(g is not None and torch.isfinite(g).all() for g in grads)


def test_gpt2_layernorms_are_replaced() -> None:
    config = transformers.GPT2Config(
        n_layer=2,
        n_embd=32,
        n_head=2,
        vocab_size=64,
        n_positions=16,
        bos_token_id=0,
        eos_token_id=0,
    )
    model = transformers.GPT2LMHeadModel(config)
    done = convert_norms(model, "erf")
    # ln_1 and ln_2 per block, and the final ln_f
    assert sorted(r.name for r in done) == [
        "transformer.h.0.ln_1",
        "transformer.h.0.ln_2",
        "transformer.h.1.ln_1",
        "transformer.h.1.ln_2",
        "transformer.ln_f",
    ]
    assert all(r.replaced == "LayerNorm" and r.num_features == 32 for r in done)
    _forward_backward(model, torch.randint(0, 64, (2, 12)))


def test_llama_rmsnorms_are_replaced() -> None:
    config = transformers.LlamaConfig(
        num_hidden_layers=2,
        hidden_size=32,
        num_attention_heads=2,
        num_key_value_heads=2,
        intermediate_size=64,
        vocab_size=64,
        bos_token_id=0,
        eos_token_id=0,
        pad_token_id=0,
    )
    model = transformers.LlamaForCausalLM(config)
    done = convert_norms(model, "dyt")
    assert {r.replaced for r in done} == {"LlamaRMSNorm"}
    assert len(done) == 2 * 2 + 1  # input and post-attention norm per layer, and the final one
    norms = [m for m in model.modules() if isinstance(m, PointwiseNorm)]
    assert len(norms) == 5 and all(m.shift is None for m in norms)
    _forward_backward(model, torch.randint(0, 64, (2, 10)))


def test_timm_vit() -> None:
    timm = pytest.importorskip("timm", reason="timm needs torchvision, absent beside CPU torch")
    model = timm.create_model("vit_tiny_patch16_224", pretrained=False, num_classes=10, img_size=32)
    done = convert_norms(model, "erf")
    assert len(done) == 2 * len(model.blocks) + 1
    out = model(torch.randn(2, 3, 32, 32))
    out.sum().backward()
