"""Transformer, equivalence tier: Eq. 1 written out = a loop over the equation = SDPA; our
multi-head attention, encoder and decoder layers = torch.nn's, with the same weights (fp32)."""

import math

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from milestones.transformer import (
    Decoder,
    DecoderLayer,
    Encoder,
    EncoderLayer,
    MultiHeadAttention,
    causal_mask,
    from_torch_state_dict,
    padding_mask,
    scaled_dot_product_attention,
)

B, S, T, D_MODEL, H, D_FF = 3, 7, 5, 32, 4, 64
PAD = 0


def ids_with_padding(lengths: list[int], width: int, seed: int) -> torch.Tensor:
    """(B, width) token ids in [1, 10), padded with PAD after each length."""
    g = torch.Generator().manual_seed(seed)
    ids = torch.randint(1, 10, (len(lengths), width), generator=g)
    ids[torch.arange(width)[None] >= torch.tensor(lengths)[:, None]] = PAD
    return ids


SRC = ids_with_padding([7, 4, 2], S, seed=0)  # (B, S), rows of 7, 4 and 2 real tokens
TGT = ids_with_padding([5, 3, 5], T, seed=1)  # (B, T)


def loop_attention(q, k, v, mask):
    """Eq. 1 one query at a time, one key at a time, in float64: the reference."""
    q, k, v = q.double(), k.double(), v.double()
    out = torch.zeros(*q.shape[:-1], v.shape[-1], dtype=torch.float64)
    mask = mask.expand(*q.shape[:-1], k.shape[-2])
    for b in range(q.shape[0]):
        for h in range(q.shape[1]):
            for i in range(q.shape[2]):
                e = [float(q[b, h, i] @ k[b, h, j]) / math.sqrt(q.shape[-1])
                     for j in range(k.shape[2])]
                allowed = [j for j in range(k.shape[2]) if mask[b, h, i, j]]
                z = sum(math.exp(e[j]) for j in allowed)
                for j in allowed:
                    out[b, h, i] += math.exp(e[j]) / z * v[b, h, j]
    return out


MASKS = {
    "none": lambda: None,
    "padding": lambda: padding_mask(SRC[:, :T], PAD),  # (B, 1, 1, T)
    "causal": lambda: causal_mask(T),  # (T, T)
    "causal+padding": lambda: causal_mask(T) & padding_mask(TGT, PAD),  # (B, 1, T, T)
}


@pytest.mark.parametrize("mask_name", list(MASKS))
def test_eq1_written_out_equals_a_loop_and_sdpa(mask_name):
    torch.manual_seed(0)
    q, k, v = torch.randn(B, H, T, 8), torch.randn(B, H, T, 8), torch.randn(B, H, T, 6)
    mask = MASKS[mask_name]()
    ours, weights = scaled_dot_product_attention(q, k, v, mask)
    fast, none = scaled_dot_product_attention(q, k, v, mask, fast=True)
    assert none is None and weights.shape == (B, H, T, T)
    assert torch.allclose(ours, fast, atol=1e-6, rtol=1e-6)
    reference = F.scaled_dot_product_attention(q, k, v, attn_mask=mask)
    assert torch.allclose(ours, reference, atol=1e-6, rtol=1e-6)
    full = torch.ones(T, T, dtype=torch.bool) if mask is None else mask
    assert torch.allclose(ours.double(), loop_attention(q, k, v, full), atol=1e-6)
    assert torch.allclose(weights.sum(-1), torch.ones(B, H, T), atol=1e-6)
    assert (weights.masked_select(~full.expand_as(weights)) == 0).all()


def test_cross_attention_shapes_and_sdpa_with_different_lengths():
    torch.manual_seed(1)
    q, k, v = torch.randn(B, H, T, 8), torch.randn(B, H, S, 8), torch.randn(B, H, S, 8)
    mask = padding_mask(SRC, PAD)  # (B, 1, 1, S)
    ours, weights = scaled_dot_product_attention(q, k, v, mask)
    reference = F.scaled_dot_product_attention(q, k, v, attn_mask=mask)
    assert ours.shape == (B, H, T, 8) and weights.shape == (B, H, T, S)
    assert torch.allclose(ours, reference, atol=1e-6, rtol=1e-6)


# ---- weights from torch.nn -----------------------------------------------------------------------

def load_from_torch(ours: nn.Module, reference: nn.Module) -> None:
    """Copy the reference's weights into ours: every key mapped, none left over (strict)."""
    ours.load_state_dict(from_torch_state_dict(reference.state_dict()), strict=True)


def assert_same_grads(ours: nn.Module, reference: nn.Module) -> None:
    """Gradients match too, the packed in_proj gradient against our q/k/v gradients."""
    ref_grads = {k: p.grad for k, p in reference.named_parameters()}
    ours_grads = {k: p.grad for k, p in ours.named_parameters()}
    mapped = from_torch_state_dict(ref_grads)
    assert set(mapped) == set(ours_grads)
    for key, grad in mapped.items():
        assert torch.allclose(ours_grads[key], grad, atol=1e-5, rtol=1e-4), key


def randomize_norms(module: nn.Module) -> None:
    """LayerNorm starts at weight 1, bias 0; other values make the test see them."""
    with torch.no_grad():
        for m in module.modules():
            if isinstance(m, nn.LayerNorm):
                m.weight.uniform_(0.5, 1.5)
                m.bias.uniform_(-0.5, 0.5)


def torch_masks():
    """torch.nn's convention is the opposite of ours: True = may NOT attend."""
    return {"src_key_padding_mask": SRC == PAD, "tgt_key_padding_mask": TGT == PAD,
            "causal": ~causal_mask(T)}


@pytest.mark.parametrize("fast", [True, False])
@pytest.mark.parametrize("kind", ["self", "causal", "cross"])
def test_multi_head_attention_equals_nn_multihead_attention(kind, fast):
    torch.manual_seed(2)
    reference = nn.MultiheadAttention(D_MODEL, H, batch_first=True)
    with torch.no_grad():
        reference.in_proj_bias.uniform_(-0.1, 0.1)  # zeros at init: make them count
        reference.out_proj.bias.uniform_(-0.1, 0.1)
    ours = MultiHeadAttention(D_MODEL, H, fast=fast)
    load_from_torch(ours, reference)
    x, memory = torch.randn(B, T, D_MODEL), torch.randn(B, S, D_MODEL)
    tm = torch_masks()
    if kind == "self":  # encoder-style, keys padded
        x = torch.randn(B, S, D_MODEL)
        args, mask, kw = (x, x, x), padding_mask(SRC, PAD), dict(key_padding_mask=tm[
            "src_key_padding_mask"])
    elif kind == "causal":  # decoder self-attention: causal and padded
        args, mask = (x, x, x), causal_mask(T) & padding_mask(TGT, PAD)
        kw = dict(attn_mask=tm["causal"], key_padding_mask=tm["tgt_key_padding_mask"])
    else:  # cross-attention over a padded memory
        args, mask, kw = (x, memory, memory), padding_mask(SRC, PAD), dict(
            key_padding_mask=tm["src_key_padding_mask"])
    ref_out, ref_w = reference(*args, **kw, need_weights=True, average_attn_weights=False)
    out, w = ours(*args, mask, need_weights=True)
    assert torch.allclose(out, ref_out, atol=1e-5, rtol=1e-5)
    assert torch.allclose(w, ref_w, atol=1e-6)  # (B, h, T_q, T_k), one map per head
    out_fast, _ = ours(*args, mask)  # fast=True: through SDPA, no weights
    assert torch.allclose(out_fast, ref_out, atol=1e-5, rtol=1e-5)
    out_fast.square().sum().backward()
    reference(*args, **kw, need_weights=False)[0].square().sum().backward()
    assert_same_grads(ours, reference)


@pytest.mark.parametrize("fast", [True, False])
@pytest.mark.parametrize("norm_first", [False, True])
def test_encoder_layer_equals_nn_transformer_encoder_layer(norm_first, fast):
    torch.manual_seed(3)
    reference = nn.TransformerEncoderLayer(D_MODEL, H, D_FF, dropout=0.0, activation="relu",
                                           batch_first=True, norm_first=norm_first)
    randomize_norms(reference)
    ours = EncoderLayer(D_MODEL, H, D_FF, dropout=0.0, norm_first=norm_first, fast=fast)
    load_from_torch(ours, reference)
    x = torch.randn(B, S, D_MODEL)
    # grad enabled (training mode, dropout 0): the reference takes its plain, not fused, path
    ref_out = reference(x, src_key_padding_mask=SRC == PAD)
    out = ours(x, padding_mask(SRC, PAD))
    assert torch.allclose(out, ref_out, atol=1e-5, rtol=1e-5)
    (out * torch.linspace(-1, 1, D_MODEL)).sum().backward()
    (ref_out * torch.linspace(-1, 1, D_MODEL)).sum().backward()
    assert_same_grads(ours, reference)


@pytest.mark.parametrize("fast", [True, False])
@pytest.mark.parametrize("norm_first", [False, True])
def test_decoder_layer_equals_nn_transformer_decoder_layer(norm_first, fast):
    torch.manual_seed(4)
    reference = nn.TransformerDecoderLayer(D_MODEL, H, D_FF, dropout=0.0, activation="relu",
                                           batch_first=True, norm_first=norm_first)
    randomize_norms(reference)
    ours = DecoderLayer(D_MODEL, H, D_FF, dropout=0.0, norm_first=norm_first, fast=fast)
    load_from_torch(ours, reference)
    y, memory = torch.randn(B, T, D_MODEL), torch.randn(B, S, D_MODEL)
    ref_out = reference(y, memory, tgt_mask=~causal_mask(T), tgt_key_padding_mask=TGT == PAD,
                        memory_key_padding_mask=SRC == PAD)
    out = ours(y, memory, causal_mask(T) & padding_mask(TGT, PAD), padding_mask(SRC, PAD))
    assert torch.allclose(out, ref_out, atol=1e-5, rtol=1e-5)
    (out * torch.linspace(-1, 1, D_MODEL)).sum().backward()
    (ref_out * torch.linspace(-1, 1, D_MODEL)).sum().backward()
    assert_same_grads(ours, reference)


@pytest.mark.parametrize("norm_first", [False, True])
def test_stacks_equal_nn_transformer_encoder_and_decoder(norm_first):
    """N=2 layers each; pre-LN stacks end with a LayerNorm (torch's ``norm=``)."""
    torch.manual_seed(5)
    kw = dict(dropout=0.0, activation="relu", batch_first=True, norm_first=norm_first)
    norm = (lambda: nn.LayerNorm(D_MODEL)) if norm_first else (lambda: None)
    ref_enc = nn.TransformerEncoder(nn.TransformerEncoderLayer(D_MODEL, H, D_FF, **kw), 2,
                                    norm=norm(), enable_nested_tensor=False)
    ref_dec = nn.TransformerDecoder(nn.TransformerDecoderLayer(D_MODEL, H, D_FF, **kw), 2,
                                    norm=norm())
    randomize_norms(ref_enc)
    randomize_norms(ref_dec)
    layer_kw = dict(d_model=D_MODEL, h=H, d_ff=D_FF, dropout=0.0)
    enc, dec = Encoder(2, norm_first, **layer_kw), Decoder(2, norm_first, **layer_kw)
    load_from_torch(enc, ref_enc)
    load_from_torch(dec, ref_dec)
    x, y = torch.randn(B, S, D_MODEL), torch.randn(B, T, D_MODEL)
    ref_memory = ref_enc(x, src_key_padding_mask=SRC == PAD)
    ref_out = ref_dec(y, ref_memory, tgt_mask=~causal_mask(T), tgt_key_padding_mask=TGT == PAD,
                      memory_key_padding_mask=SRC == PAD)
    memory = enc(x, padding_mask(SRC, PAD))
    out = dec(y, memory, causal_mask(T) & padding_mask(TGT, PAD), padding_mask(SRC, PAD))
    assert torch.allclose(memory, ref_memory, atol=1e-5, rtol=1e-5)
    assert torch.allclose(out, ref_out, atol=1e-5, rtol=1e-5)
