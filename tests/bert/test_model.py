"""BERT's model: App. A's sizes, and Hugging Face's BertForPreTraining / BertModel as the
reference — its state_dict loads key for key into ours and the outputs agree (hidden states,
pooled output, MLM and NSP logits, with padding)."""

import pytest
import torch

from milestones.bert import BertForPreTraining, bert_base, bert_config, bert_large, bert_tiny

transformers = pytest.importorskip("transformers")


def n_params(module) -> int:  # distinct tensors: the tied decoder weight and bias count once
    return sum(p.numel() for p in module.parameters())


def hf_config(size: str, vocab: int = 30522):
    cfg = bert_config(size, vocab)
    return transformers.BertConfig(vocab_size=vocab, hidden_size=cfg.H, num_hidden_layers=cfg.L,
                                   num_attention_heads=cfg.A, intermediate_size=cfg.d_ff,
                                   max_position_embeddings=cfg.max_len, type_vocab_size=2,
                                   hidden_act="gelu", layer_norm_eps=1e-12)


@pytest.mark.parametrize("build, encoder_params", [(bert_base, 109_482_240),
                                                   (bert_large, 335_141_888)])
def test_app_a_sizes(build, encoder_params):
    """App. A: "BERT-Base ... Total Parameters=110M", "BERT-Large ... 340M"; the encoder counts
    are the released uncased models' (BertModel)."""
    with torch.device("meta"):
        model = build()
    assert n_params(model.bert) == encoder_params


@pytest.mark.parametrize("size", ["tiny", "mini", "small", "medium", "base"])
def test_every_size_has_hugging_faces_parameters(size):
    with torch.device("meta"):
        ours = BertForPreTraining(bert_config(size))
        ref = transformers.BertForPreTraining(hf_config(size))
    assert n_params(ours) == n_params(ref)
    theirs = {k for k in ref.state_dict() if not k.endswith("position_ids")}
    assert set(ours.state_dict()) == theirs


def test_outputs_equal_hugging_face_with_the_same_weights():
    torch.manual_seed(0)
    vocab = 1000
    ref = transformers.BertForPreTraining(hf_config("tiny", vocab)).eval()
    ours = BertForPreTraining(bert_config("tiny", vocab)).eval()
    missing, unexpected = ours.load_state_dict(
        {k: v for k, v in ref.state_dict().items() if not k.endswith("position_ids")},
        strict=True)
    assert not missing and not unexpected
    ids = torch.randint(5, vocab, (3, 17))
    segments = (torch.arange(17) >= 9).long().expand(3, 17)
    mask = torch.ones(3, 17, dtype=torch.long)
    mask[1, 12:] = 0  # padding at the end of two sequences
    mask[2, 5:] = 0
    with torch.no_grad():
        out = ref(input_ids=ids, token_type_ids=segments, attention_mask=mask,
                  output_hidden_states=True)
        mlm, nsp = ours(ids, segments, mask)
        h, pooled = ours.bert(ids, segments, mask)
        base = transformers.BertModel(ref.config, add_pooling_layer=True).eval()
        base.load_state_dict({k[5:]: v for k, v in ref.state_dict().items()
                              if k.startswith("bert.")}, strict=False)
        pooled_ref = base(input_ids=ids, token_type_ids=segments,
                          attention_mask=mask).pooler_output
    real = mask.bool()  # padded positions' outputs are not compared (both attend the same keys)
    torch.testing.assert_close(h[real], out.hidden_states[-1][real], rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(mlm[real], out.prediction_logits[real], rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(nsp, out.seq_relationship_logits, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(pooled, pooled_ref, rtol=1e-5, atol=1e-5)


def test_the_decoder_is_tied_to_the_token_embeddings():
    model = bert_tiny(vocab_size=50)
    p = model.cls.predictions
    assert p.decoder.weight is model.bert.embeddings.word_embeddings.weight
    assert p.decoder.bias is p.bias
    mlm, nsp = model(torch.randint(0, 50, (2, 8)))
    (mlm.sum() + nsp.sum()).backward()
    assert all(q.grad is not None for q in model.parameters())


def test_padding_does_not_change_the_real_tokens_outputs():
    torch.manual_seed(0)
    model = bert_tiny(vocab_size=100).eval()
    ids = torch.randint(5, 100, (1, 6))
    padded = torch.cat([ids, torch.zeros(1, 4, dtype=torch.long)], 1)
    mask = torch.tensor([[1] * 6 + [0] * 4])
    with torch.no_grad():
        alone, _ = model(ids)
        with_pad, _ = model(padded, attention_mask=mask)
    torch.testing.assert_close(alone, with_pad[:, :6], rtol=1e-5, atol=1e-5)


def test_too_long_a_sequence_is_refused():
    with pytest.raises(ValueError, match="positions"):
        bert_tiny(vocab_size=10)(torch.zeros(1, 513, dtype=torch.long))
