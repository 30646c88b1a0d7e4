"""RNNsearch and RNNencdec: contract, and equivalence with torch's GRU and with the equations
written out one step and one source word at a time."""

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from milestones.attention import model as M


def randomise(module: nn.Module, std: float = 0.5, seed: int = 0) -> nn.Module:
    """Weights far from the paper's tiny initial ones, so every gate and word matters."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in module.parameters():
            p.copy_(torch.randn(p.shape, generator=g) * std)
    return module


def padded_batch(vocab: int = 30, lengths=(7, 5, 2), seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    src = torch.randint(4, vocab, (len(lengths), max(lengths)), generator=g)
    for b, n in enumerate(lengths):
        src[b, n:] = 0
    return src


# ---- the GRU (App. A.1) against torch and against the equations ----------------------------------

def test_gru_cell_equals_nn_grucell_in_outputs_and_gradients():
    torch.manual_seed(0)
    ref = nn.GRUCell(5, 7)
    ours = M.GRUCell(5, 7, reset_after=True)
    ours.load_state_dict(M.gru_weights_from_torch(ref.state_dict()))
    x, h = torch.randn(4, 5), torch.randn(4, 7)
    out_ref, out = ref(x, h), ours(x, h)
    torch.testing.assert_close(out, out_ref, atol=1e-6, rtol=1e-5)
    out_ref.square().sum().backward()
    out.square().sum().backward()
    for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
        g_ref = getattr(ref, name).grad.clone()
        g_ref[7:14] = -g_ref[7:14]  # the update gate's rows are negated (z = 1 - z_torch)
        torch.testing.assert_close(getattr(ours, name).grad, g_ref, atol=1e-5, rtol=1e-5)


def test_gru_cell_is_the_papers_equations():
    """App. A.1 with the reset gate before U: h~ = tanh(W x + U [r o h]), h = (1 - z) h + z h~."""
    torch.manual_seed(1)
    cell = randomise(M.GRUCell(5, 7))
    x, h = torch.randn(3, 5), torch.randn(3, 7)
    W_r, W_z, W = cell.weight_ih.split(7)
    U_r, U_z, U = cell.weight_hh.split(7)
    b_r, b_z, b = (cell.bias_ih + 0).split(7)
    c_r, c_z, c = cell.bias_hh.split(7)
    z = torch.sigmoid(x @ W_z.T + b_z + h @ U_z.T + c_z)
    r = torch.sigmoid(x @ W_r.T + b_r + h @ U_r.T + c_r)
    h_tilde = torch.tanh(x @ W.T + b + (r * h) @ U.T + c)
    torch.testing.assert_close(cell(x, h), (1 - z) * h + z * h_tilde)
    # and the two forms differ: the reset gate's place matters
    assert not torch.allclose(M.GRUCell(5, 7, reset_after=True).step(
        cell.input_projection(x), h), cell(x, h))


@pytest.mark.parametrize("bidirectional", [False, True])
def test_gru_layer_equals_nn_gru_on_padded_sentences(bidirectional):
    """A whole padded batch through our GRU = nn.GRU over the packed sentences: every real
    step's output and the final states, and the gradients of everything."""
    torch.manual_seed(2)
    ref = nn.GRU(6, 8, batch_first=True, bidirectional=bidirectional)
    ours = M.GRU(6, 8, bidirectional=bidirectional, reset_after=True)
    ours.forward_cell.load_state_dict(M.gru_weights_from_torch(ref.state_dict()))
    if bidirectional:
        ours.backward_cell.load_state_dict(M.gru_weights_from_torch(ref.state_dict(),
                                                                    reverse=True))
    lengths = torch.tensor([6, 4, 1])
    x = torch.randn(3, 6, 6)
    mask = torch.arange(6)[None] < lengths[:, None]
    x_ours, x_ref = x.clone().requires_grad_(), x.clone().requires_grad_()
    out, last = ours(x_ours, mask)
    packed = nn.utils.rnn.pack_padded_sequence(x_ref, lengths, batch_first=True)
    out_ref, last_ref = ref(packed)
    out_ref, _ = nn.utils.rnn.pad_packed_sequence(out_ref, batch_first=True, total_length=6)
    torch.testing.assert_close(out, out_ref, atol=1e-6, rtol=1e-5)  # zeros at padding in both
    torch.testing.assert_close(last, last_ref, atol=1e-6, rtol=1e-5)
    (out.sin().sum() + last.cos().sum()).backward()
    (out_ref.sin().sum() + last_ref.cos().sum()).backward()
    torch.testing.assert_close(x_ours.grad, x_ref.grad, atol=1e-5, rtol=1e-5)
    g = ref.weight_hh_l0.grad.clone()
    g[8:16] = -g[8:16]
    torch.testing.assert_close(ours.forward_cell.weight_hh.grad, g, atol=1e-5, rtol=1e-5)


def test_reverse_within_length_leaves_padding_and_is_its_own_inverse():
    x = torch.arange(12.).view(2, 6)
    lengths = torch.tensor([4, 6])
    r = M.reverse_within_length(x[..., None], lengths)[..., 0]
    assert r.tolist() == [[3, 2, 1, 0, 4, 5], [11, 10, 9, 8, 7, 6]]
    assert torch.equal(M.reverse_within_length(r, lengths), x)


# ---- the alignment model (Eqs. 5, 6) against a loop over i and j ---------------------------------

def test_attention_equals_the_equations_one_word_at_a_time():
    torch.manual_seed(3)
    att = randomise(M.AlignmentModel(5, 6, 4))
    s_prev, h = torch.randn(2, 5), torch.randn(2, 7, 6)
    mask = torch.tensor([[True] * 7, [True] * 3 + [False] * 4])
    c, alpha = att(s_prev, att.keys(h), h, mask)
    for b in range(2):
        T_x = int(mask[b].sum())
        # e_ij = v_a^T tanh(W_a s_{i-1} + U_a h_j), for each source word j alone
        e = torch.stack([att.v_a.weight[0] @ torch.tanh(att.W_a.weight @ s_prev[b]
                                                        + att.U_a.weight @ h[b, j]
                                                        + att.U_a.bias) for j in range(T_x)])
        a = torch.exp(e) / torch.exp(e).sum()  # Eq. 6
        torch.testing.assert_close(alpha[b, :T_x], a)
        assert alpha[b, T_x:].eq(0).all()  # padding is never attended to
        torch.testing.assert_close(c[b], sum(a[j] * h[b, j] for j in range(T_x)))  # Eq. 5


def test_padding_changes_nothing():
    """A sentence alone, or padded in a batch beside longer ones, whatever the padding's ids:
    the same logits and alignments."""
    for build in (M.rnnsearch_tiny, M.rnnencdec_tiny):
        torch.manual_seed(4)
        model = randomise(build(30, 40), 0.3)
        src = padded_batch()
        tgt = torch.randint(4, 40, (3, 5))
        logits = model(src, tgt)
        alignments = model.alignments
        for b, n in enumerate((7, 5, 2)):
            alone = model(src[b:b + 1, :n], tgt[b:b + 1])
            torch.testing.assert_close(logits[b:b + 1], alone, atol=1e-5, rtol=1e-5)
            if model.attention:
                torch.testing.assert_close(alignments[b:b + 1, :, :n], model.alignments)
                assert alignments[b, :, n:].eq(0).all()


# ---- the decoder, the deep output, the two models ---------------------------------------------

def test_decoder_forward_is_the_step_function_applied_in_turn():
    """Teacher forcing over a whole target = decoder.step word by word (what decoding uses)."""
    torch.manual_seed(5)
    model = randomise(M.rnnsearch_tiny(30, 40), 0.3)
    src, y_in = padded_batch(), torch.randint(4, 40, (3, 6))
    logits = model(src, y_in)
    memory, s = model.encode(src)
    for i in range(6):
        step_logits, s, alpha = model.decoder.step(y_in[:, i], s, memory)
        torch.testing.assert_close(step_logits, logits[:, i], atol=1e-5, rtol=1e-5)
        torch.testing.assert_close(alpha, model.alignments[:, i])


def test_deep_output_is_maxout_over_pairs():
    torch.manual_seed(6)
    dec = randomise(M.rnnsearch_tiny(30, 40), 0.3).decoder
    s, Ey, c = torch.randn(2, 24), torch.randn(2, 16), torch.randn(2, 48)
    t_tilde = dec.U_o(s) + dec.V_o(Ey) + dec.C_o(c)  # (2, 2l)
    t = torch.stack([torch.maximum(t_tilde[:, 2 * j], t_tilde[:, 2 * j + 1]) for j in range(12)],
                    dim=1)
    torch.testing.assert_close(dec.readout(s, Ey, c), dec.W_o(t))


def test_rnnencdec_reads_one_fixed_context():
    """RNNencdec: c = the encoder's last state for every target word, s_0 = tanh(W_s c)."""
    torch.manual_seed(7)
    model = randomise(M.rnnencdec_tiny(30, 40), 0.3)
    src = padded_batch()
    memory, s0 = model.encode(src)
    _, last = model.encoder(model.src_embed(src), src != 0)
    torch.testing.assert_close(memory.h[:, 0], last[0])
    torch.testing.assert_close(s0, torch.tanh(model.decoder.W_s(last[0])))
    assert model.encoder.backward_cell is None and model.decoder.attention is None


def test_rnnsearch_initial_state_is_from_the_backward_annotation():
    torch.manual_seed(8)
    model = randomise(M.rnnsearch_tiny(30, 40), 0.3)
    src = padded_batch()
    memory, s0 = model.encode(src)
    bwd_h1 = memory.h[:, 0, 24:]  # the backward half of the first annotation
    torch.testing.assert_close(s0, torch.tanh(model.decoder.W_s(bwd_h1)))
    assert memory.h.shape == (3, 7, 48)


@pytest.mark.parametrize("build", [M.rnnsearch_tiny, M.rnnencdec_tiny])
def test_contract_shapes_finite_and_every_parameter_learns(build):
    torch.manual_seed(9)
    model = build(37, 53)  # App. B.1's initialisation: v_a = 0 at first
    src, tgt = padded_batch(37), torch.randint(4, 53, (3, 6))
    opt = torch.optim.SGD(model.parameters(), lr=1.0)
    for _ in range(2):  # v_a = 0 gives W_a, U_a no gradient until v_a has moved
        opt.zero_grad()
        logits = model(src, tgt)
        assert logits.shape == (3, 6, 53) and logits.isfinite().all()
        M.sentence_nll(logits, tgt)[0].backward()
        opt.step()
    for name, p in model.named_parameters():
        assert p.grad is not None and p.grad.abs().sum() > 0, name


def test_sentence_nll_is_the_mean_over_sentences_of_their_summed_word_nll():
    torch.manual_seed(10)
    logits, tgt = torch.randn(3, 5, 11), torch.randint(1, 11, (3, 5))
    tgt[1, 3:] = 0
    loss, words = M.sentence_nll(logits, tgt)
    per_sentence = [F.cross_entropy(logits[b], tgt[b], ignore_index=0, reduction="sum")
                    for b in range(3)]
    torch.testing.assert_close(loss, sum(per_sentence) / 3)
    assert words == 13


def n_gru(m: int, n: int) -> int:
    return 3 * n * m + 3 * n * n + 6 * n


@pytest.mark.parametrize("name", ["rnnsearch", "rnnencdec"])
def test_parameter_counts_at_the_papers_size(name):
    """K = 30,000, m = 620, n = 1000, l = 500, n' = 1000 (App. A.2, B.1), counted by hand."""
    K, m, n, l = 30_000, 620, 1000, 500
    ctx = 2 * n if name == "rnnsearch" else n
    count = 2 * K * m  # E for source and target
    count += (2 if name == "rnnsearch" else 1) * n_gru(m, n)  # the encoder
    count += n_gru(m + ctx, n)  # the decoder's GRU, its input [E y; c]
    count += (ctx // 2 if name == "rnnsearch" else ctx) * n + n  # W_s
    if name == "rnnsearch":
        count += n * n + (2 * n * n + n) + n  # W_a, U_a (+ bias), v_a
    count += (n * 2 * l + 2 * l) + m * 2 * l + ctx * 2 * l + (l * K + K)  # U_o, V_o, C_o, W_o
    with torch.device("meta"):  # shapes only: no memory, no initialisation work
        model = M.MODELS[name]()
    assert sum(p.numel() for p in model.parameters()) == count
    assert count == {"rnnsearch": 80_452_000, "rnnencdec": 68_584_000}[name]


def test_initialisation_is_appendix_b1():
    torch.manual_seed(11)
    model = M.rnnsearch(300, 400, embed_dim=62, hidden_size=100, maxout_size=50, align_size=100)
    for cell in (model.encoder.forward_cell, model.encoder.backward_cell, model.decoder.cell):
        for U in cell.weight_hh.split(100):  # U_r, U_z, U: orthogonal
            torch.testing.assert_close(U @ U.T, torch.eye(100), atol=1e-5, rtol=0)
        assert cell.bias_ih.eq(0).all() and cell.bias_hh.eq(0).all()
    att = model.decoder.attention
    assert att.v_a.weight.eq(0).all() and att.U_a.bias.eq(0).all()
    for w in (att.W_a.weight, att.U_a.weight):
        assert 0.0008 < w.std() < 0.0012
    for w in (model.src_embed.weight[1:], model.decoder.W_o.weight, model.decoder.U_o.weight,
              model.encoder.forward_cell.weight_ih):
        assert 0.008 < w.std() < 0.012
    assert model.src_embed.weight[0].eq(0).all()  # PAD
