"""Transformer, contract and learning tiers: masks, positional encodings, sizes from Table 3,
weight tying, embedding scaling, padding invariance, and a copy task learnt in seconds."""

import functools
import math

import pytest
import torch
import torch.nn.functional as F

from milestones.transformer import (
    BOS_ID,
    EOS_ID,
    PAD_ID,
    LearnedPositionalEmbedding,
    MultiHeadAttention,
    SinusoidalPositionalEncoding,
    Transformer,
    causal_mask,
    greedy_decode,
    padding_mask,
    sinusoidal_encoding,
    transformer_base,
    transformer_big,
    transformer_tiny,
)


def n_params(model) -> int:
    return sum(p.numel() for p in model.parameters())  # shared (tied) tensors counted once


# ---- masks ---------------------------------------------------------------------------------------

def test_padding_mask_marks_real_tokens_and_broadcasts_over_heads_and_queries():
    ids = torch.tensor([[5, 6, 7, PAD_ID], [5, PAD_ID, PAD_ID, PAD_ID]])
    mask = padding_mask(ids)
    assert mask.shape == (2, 1, 1, 4) and mask.dtype == torch.bool
    assert mask[:, 0, 0].tolist() == [[True, True, True, False], [True, False, False, False]]
    assert padding_mask(ids, pad_id=5)[1, 0, 0].tolist() == [False, True, True, True]
    scores = torch.zeros(2, 3, 6, 4)  # (B, h, T_q, S)
    masked = scores.masked_fill(~mask, float("-inf"))
    assert masked.shape == (2, 3, 6, 4)
    assert torch.isinf(masked[1, :, :, 1:]).all() and (masked[1, :, :, 0] == 0).all()


def test_causal_mask_is_lower_triangular_and_aligned_for_cached_queries():
    assert causal_mask(3).tolist() == [[True, False, False], [True, True, False],
                                       [True, True, True]]
    # two new queries at positions 3 and 4 of 5: each sees itself and everything before
    assert causal_mask(2, 5).tolist() == [[True, True, True, True, False], [True] * 5]
    assert causal_mask(1, 4).tolist() == [[True] * 4]  # one decoding step sees the whole cache
    combined = causal_mask(4) & padding_mask(torch.tensor([[5, 6, PAD_ID, PAD_ID]]))
    assert combined.shape == (1, 1, 4, 4)
    assert combined[0, 0, 3].tolist() == [True, True, False, False]


# ---- positional encodings ------------------------------------------------------------------------

def test_sinusoidal_encoding_follows_section_3_5():
    d_model, max_len = 16, 50
    pe = sinusoidal_encoding(max_len, d_model)
    assert pe.shape == (max_len, d_model)
    for pos in (0, 1, 7, 49):
        for i in range(d_model // 2):
            angle = pos / 10000 ** (2 * i / d_model)
            assert pe[pos, 2 * i].item() == pytest.approx(math.sin(angle), abs=1e-6)
            assert pe[pos, 2 * i + 1].item() == pytest.approx(math.cos(angle), abs=1e-6)
    # "for any fixed offset k, PE_{pos+k} is a linear function of PE_pos": a rotation per pair
    k, i = 3, 2
    w = 1 / 10000 ** (2 * i / d_model)
    c, s = math.cos(k * w), math.sin(k * w)
    rotation = torch.tensor([[c, -s], [s, c]])  # [sin, cos](a) @ R = [sin, cos](a + k w)
    pair = pe[:-k, 2 * i:2 * i + 2]  # (sin, cos) at pos
    assert torch.allclose(pair @ rotation, pe[k:, 2 * i:2 * i + 2], atol=1e-5)
    assert sinusoidal_encoding(4, 5).shape == (4, 5)  # odd widths work


def test_positional_modules_slice_by_offset_and_check_max_len():
    sin = SinusoidalPositionalEncoding(8, max_len=10)
    assert "pe" not in sin.state_dict() and not list(sin.parameters())
    assert torch.equal(sin(3, offset=4), sinusoidal_encoding(10, 8)[4:7])
    learned = LearnedPositionalEmbedding(8, max_len=10)
    assert n_params(learned) == 80 and torch.equal(learned(2, 1), learned.embedding.weight[1:3])
    for module in (sin, learned):
        with pytest.raises(ValueError, match="max_len=10"):
            module(5, offset=6)


# ---- sizes (Table 3) -----------------------------------------------------------------------------

def expected_count(V: int, N: int, d: int, d_ff: int) -> int:
    attention = 4 * (d * d + d)  # W^Q, W^K, W^V, W^O with biases
    ffn = d * d_ff + d_ff + d_ff * d + d
    encoder_layer = attention + ffn + 2 * 2 * d  # + 2 LayerNorms
    decoder_layer = 2 * attention + ffn + 3 * 2 * d
    return N * (encoder_layer + decoder_layer) + V * d  # one shared, tied embedding matrix


def test_parameter_counts_match_table_3_at_the_papers_vocabulary():
    """Table 3 prints 65M (base) and 213M (big) for En-De, whose shared BPE vocabulary has
    "about 37000 tokens" (§5.1). The paper does not say how it counted nor the exact vocabulary:
    at 37000 tokens with the three embedding matrices shared (§3.4), base has 63.08M: 2.9% under
    65M (65M would need ~40.7k tokens, or an untied softmax matrix would give 82M); big has
    214.25M: 0.6% over 213M. Everything but the embedding is fixed by Table 3's columns."""
    with torch.device("meta"):  # shapes only: no memory, no initialisation cost
        base, big = transformer_base(), transformer_big()
    assert n_params(base) == 63_082_496 == expected_count(37000, 6, 512, 2048)
    assert n_params(big) == 214_245_376 == expected_count(37000, 6, 1024, 4096)
    assert abs(n_params(base) / 65e6 - 1) < 0.03
    assert abs(n_params(big) / 213e6 - 1) < 0.01
    assert base.encoder.layers[0].self_attn.d_k == 64 and big.encoder.layers[0].self_attn.d_k == 64
    assert base.dropout.p == 0.1 and big.dropout.p == 0.3  # P_drop, Table 3
    with torch.device("meta"):
        untied = transformer_base(share_embeddings=False, tie_output=False)
        learned = transformer_base(positional="learned", max_len=256)
    assert n_params(untied) == n_params(base) + 2 * 37000 * 512
    assert n_params(learned) == n_params(base) + 2 * 256 * 512  # source and target positions


def test_tied_weights_are_one_tensor():
    model = transformer_tiny(vocab_size=11)
    assert model.src_embed.weight is model.tgt_embed.weight is model.output_projection.weight
    src, tgt = torch.randint(3, 11, (2, 5)), torch.randint(3, 11, (2, 4))
    model(src, tgt).sum().backward()
    grad = model.src_embed.weight.grad
    with torch.no_grad():
        model.output_projection.weight[4, 0] = 123.0
    assert model.src_embed.weight[4, 0] == 123.0
    # the one gradient collects the source embedding, target embedding and softmax terms
    assert grad is model.output_projection.weight.grad and grad.abs().sum() > 0
    separate = transformer_tiny(vocab_size=11, share_embeddings=False, tie_output=False)
    assert separate.src_embed.weight is not separate.tgt_embed.weight
    assert separate.output_projection.weight is not separate.tgt_embed.weight
    target_only = transformer_tiny(vocab_size=11, share_embeddings=False)
    assert target_only.output_projection.weight is target_only.tgt_embed.weight
    with pytest.raises(ValueError, match="share_embeddings"):
        Transformer(10, 12)


def test_embeddings_are_scaled_by_sqrt_d_model_before_adding_positions():
    model = transformer_tiny(vocab_size=11, d_model=16, h=2).eval()
    ids = torch.tensor([[3, 4, 5]])
    x = model.embed(ids, model.src_embed, model.src_pos)
    expected = model.src_embed.weight[ids] * 4.0 + sinusoidal_encoding(128, 16)[:3]
    assert torch.allclose(x, expected, atol=1e-6)
    # N(0, d_model^-1/2) initialisation: unit-variance rows after the scaling
    big_vocab = transformer_tiny(vocab_size=4000, d_model=64, h=2)
    assert (big_vocab.src_embed.weight * 8.0).std().item() == pytest.approx(1.0, abs=0.02)
    unscaled = transformer_tiny(vocab_size=11, d_model=16, h=2, scale_embeddings=False).eval()
    x = unscaled.embed(ids, unscaled.src_embed, unscaled.src_pos)
    assert torch.allclose(x, unscaled.src_embed.weight[ids] + sinusoidal_encoding(128, 16)[:3])


# ---- forward contract ----------------------------------------------------------------------------

@pytest.mark.parametrize("kw", [{}, {"positional": "learned"}, {"norm_first": True},
                                {"share_embeddings": False, "tgt_vocab_size": 9},
                                {"fast_attention": False, "dropout": 0.1, "attn_dropout": 0.1,
                                 "ffn_dropout": 0.1}])
def test_forward_shapes_and_every_parameter_gets_a_gradient(kw):
    torch.manual_seed(0)
    model = transformer_tiny(vocab_size=13, **kw)
    src = torch.tensor([[3, 4, 5, 6, 7, 8], [9, 10, 11, PAD_ID, PAD_ID, PAD_ID]])
    tgt_in = torch.tensor([[BOS_ID, 3, 4, 5], [BOS_ID, 6, PAD_ID, PAD_ID]])
    logits = model(src, tgt_in)
    V = kw.get("tgt_vocab_size", 13)
    assert logits.shape == (2, 4, V) and torch.isfinite(logits).all()
    F.cross_entropy(logits.flatten(0, 1), torch.randint(3, V, (8,))).backward()
    for name, p in model.named_parameters():
        assert p.grad is not None and torch.isfinite(p.grad).all(), name
        assert p.grad.abs().sum() > 0, f"{name} got no gradient"


def test_dropout_is_active_in_training_and_off_in_eval():
    torch.manual_seed(0)
    model = transformer_tiny(vocab_size=13, dropout=0.3)
    src, tgt_in = torch.randint(3, 13, (2, 6)), torch.randint(3, 13, (2, 4))
    assert not torch.allclose(model(src, tgt_in), model(src, tgt_in))
    model.eval()
    assert torch.equal(model(src, tgt_in), model(src, tgt_in))


@pytest.mark.parametrize("kw", [{}, {"fast_attention": False}, {"norm_first": True},
                                {"positional": "learned"}])
def test_padding_does_not_change_outputs_at_real_positions(kw):
    """Appending pad tokens to the source and the target changes nothing before them."""
    torch.manual_seed(1)
    model = transformer_tiny(vocab_size=13, **kw).eval()
    src = torch.tensor([[3, 4, 5, 6, 7], [8, 9, 10, PAD_ID, PAD_ID]])
    tgt_in = torch.tensor([[BOS_ID, 3, 4], [BOS_ID, 8, PAD_ID]])
    logits = model(src, tgt_in)
    padded_src = torch.cat([src, torch.full((2, 4), PAD_ID)], dim=1)
    padded_tgt = torch.cat([tgt_in, torch.full((2, 3), PAD_ID)], dim=1)
    padded = model(padded_src, padded_tgt)
    assert torch.allclose(padded[:, :3], logits, atol=1e-5)
    # the second sentence alone, without any padding, gives the same logits
    alone = model(src[1:, :3], tgt_in[1:, :2])
    assert torch.allclose(alone, logits[1:, :2], atol=1e-5)


def test_fast_and_explicit_attention_paths_give_the_same_logits():
    torch.manual_seed(2)
    model = transformer_tiny(vocab_size=13).eval()
    src = torch.tensor([[3, 4, 5, 6, 7], [8, 9, 10, PAD_ID, PAD_ID]])
    tgt_in = torch.tensor([[BOS_ID, 3, 4, 5], [BOS_ID, 8, PAD_ID, PAD_ID]])
    fast = model(src, tgt_in)
    explicit = model.set_fast_attention(False)(src, tgt_in)
    assert all(not m.fast for m in model.modules() if isinstance(m, MultiHeadAttention))
    assert torch.allclose(fast, explicit, atol=1e-5)


def test_attention_weights_for_heat_maps():
    torch.manual_seed(3)
    model = transformer_tiny(vocab_size=13).eval()
    src = torch.tensor([[3, 4, 5, 6, 7], [8, 9, 10, PAD_ID, PAD_ID]])
    tgt_in = torch.tensor([[BOS_ID, 3, 4, 5], [BOS_ID, 8, 9, 10]])
    maps = model.attention_weights(src, tgt_in)
    assert [len(maps[k]) for k in ("encoder", "decoder", "cross")] == [2, 2, 2]
    assert maps["encoder"][0].shape == (2, 4, 5, 5)
    assert maps["decoder"][1].shape == (2, 4, 4, 4) and maps["cross"][1].shape == (2, 4, 4, 5)
    for w in maps["encoder"] + maps["decoder"] + maps["cross"]:
        assert torch.allclose(w.sum(-1), torch.ones(w.shape[:-1]), atol=1e-6)
    assert (maps["cross"][0][1, :, :, 3:] == 0).all()  # no weight on source padding
    assert (maps["decoder"][0].triu(1) == 0).all()  # nor on future target positions


def test_bad_arguments_fail_with_clear_messages():
    with pytest.raises(ValueError, match="positional"):
        transformer_tiny(positional="rotary")
    with pytest.raises(ValueError, match="divisible"):
        transformer_tiny(d_model=30, h=4)
    model = transformer_tiny(vocab_size=13, max_len=8)
    with pytest.raises(ValueError, match="max_len=8"):
        model(torch.randint(3, 13, (1, 9)), torch.randint(3, 13, (1, 2)))


# ---- learns: the copy task -----------------------------------------------------------------------

COPY_VOCAB = 12  # PAD_ID, BOS, EOS and 9 symbols


def copy_batch(generator: torch.Generator, batch: int, min_len: int = 4, max_len: int = 8):
    """Random sequences of symbols 3..11, lengths min_len..max_len, right-padded.
    Returns src (B, max_len), tgt_in = BOS + src (B, max_len + 1), tgt_out = src + EOS."""
    lengths = torch.randint(min_len, max_len + 1, (batch,), generator=generator)
    src = torch.randint(3, COPY_VOCAB, (batch, max_len), generator=generator)
    src[torch.arange(max_len)[None] >= lengths[:, None]] = PAD_ID
    tgt_out = torch.cat([src, torch.full((batch, 1), PAD_ID)], dim=1)
    tgt_out[torch.arange(batch), lengths] = EOS_ID
    tgt_in = torch.cat([torch.full((batch, 1), BOS_ID), tgt_out[:, :-1]], dim=1)
    tgt_in[tgt_in == EOS_ID] = PAD_ID
    return src, tgt_in, tgt_out


@functools.cache
def trained_copy_model(steps: int = 600) -> Transformer:
    """d_model 32, 2 layers, Adam (beta2 = 0.98, §5.3) with linear warm-up and decay: ~5 s on one
    CPU thread. Shared with test_decode.py (computed once per session)."""
    torch.manual_seed(0)
    model = transformer_tiny(vocab_size=COPY_VOCAB, d_model=32, N=2, h=4, d_ff=64)
    opt = torch.optim.Adam(model.parameters(), lr=3e-3, betas=(0.9, 0.98), eps=1e-9)
    warmup = 50
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda i: min((i + 1) / warmup, (steps - i) / (steps - warmup)))
    g = torch.Generator().manual_seed(0)
    for _ in range(steps):
        src, tgt_in, tgt_out = copy_batch(g, 64)
        logits = model(src, tgt_in)
        loss = F.cross_entropy(logits.flatten(0, 1), tgt_out.flatten(), ignore_index=PAD_ID)
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
    return model.eval()


def test_learns_to_copy_held_out_sequences():
    model = trained_copy_model()
    src, _, tgt_out = copy_batch(torch.Generator().manual_seed(12345), 100)
    out = greedy_decode(model, src)  # (100, L): the copy, EOS, then padding
    assert out.shape[1] == tgt_out.shape[1]  # every row stopped at its EOS: 8 symbols + EOS
    assert torch.equal(out, tgt_out)
