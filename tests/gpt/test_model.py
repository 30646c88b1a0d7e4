"""GPT's model: the sizes of GPT-2 and of GPT-3's Table 2.1, Hugging Face's GPT2LMHeadModel as the
reference (its state_dict converts into ours and the logits agree), the causal mask, the GPT-1
layout, and generation with a key/value cache equal to recomputation."""

import math

import pytest
import torch

from milestones.gpt import model as M
from milestones.gpt.generate import filter_logits, generate
from milestones.gpt.model import GPT, GPTConfig, KVCache, gpt_config, gpt_tiny

transformers = pytest.importorskip("transformers")


def small(layout: str = "pre", **kw) -> GPT:
    return GPT(GPTConfig(vocab_size=97, n_ctx=32, n_layer=2, n_head=4, d_model=48,
                         dropout=0.0, layout=layout, **kw))


# GPT-2: the released checkpoints' counts (Hugging Face); GPT-3: Table 2.1's rounded n_params
@pytest.mark.parametrize("size, exact", [("gpt2", 124_439_808), ("gpt2_medium", 354_823_168),
                                         ("gpt2_large", 774_030_080),
                                         ("gpt2_xl", 1_557_611_200)])
def test_gpt2_sizes_equal_the_released_models(size, exact):
    with torch.device("meta"):
        model = GPT(gpt_config(size))
        ref = transformers.GPT2LMHeadModel(transformers.GPT2Config(**M.hf_config(model.config)))
    assert model.num_params() == exact == sum(p.numel() for p in ref.parameters())


@pytest.mark.parametrize("size, paper", [("gpt3_small", 125e6), ("gpt3_medium", 350e6),
                                         ("gpt3_large", 760e6), ("gpt3_xl", 1.3e9),
                                         ("gpt3_2.7b", 2.7e9), ("gpt3_6.7b", 6.7e9),
                                         ("gpt3_13b", 13.0e9), ("gpt3_175b", 175.0e9)])
def test_gpt3_table_2_1_sizes(size, paper):
    """Table 2.1 rounds its counts (and two of its rows do not multiply out: D2); within 2%."""
    with torch.device("meta"):
        model = GPT(gpt_config(size))
    assert model.config.n_ctx == 2048
    assert abs(model.num_params() - paper) / paper < 0.02, model.num_params()


def test_gpt1_is_post_ln_with_117m_parameters():
    with torch.device("meta"):
        model = M.gpt1()
    assert model.config.layout == "post" and model.config.n_ctx == 512
    assert isinstance(model.transformer.ln_f, torch.nn.Identity)
    assert round(model.num_params() / 1e6) == 117  # GPT-2 Table 2's "117M" for this size


def test_names_and_logits_equal_hugging_faces_gpt2():
    torch.manual_seed(0)
    ref = transformers.GPT2LMHeadModel(transformers.GPT2Config(
        **M.hf_config(small().config))).eval()
    ours = small().eval()
    ours.load_state_dict(M.from_hf_state_dict(ref.state_dict()), strict=True)
    idx = torch.randint(0, 97, (3, 32))
    with torch.no_grad():
        torch.testing.assert_close(ours(idx), ref(idx).logits, rtol=1e-5, atol=1e-5)
        ours.transformer.h[0].attn.fast = False  # the explicit formula too
        torch.testing.assert_close(ours(idx), ref(idx).logits, rtol=1e-5, atol=1e-5)
    back = M.to_hf_state_dict(ours)
    for key, value in ref.state_dict().items():
        if key in back:
            torch.testing.assert_close(back[key], value)


def test_a_hugging_face_folder_loads(tmp_path):
    torch.manual_seed(1)
    ref = transformers.GPT2LMHeadModel(transformers.GPT2Config(
        **M.hf_config(small().config))).eval()
    ref.save_pretrained(tmp_path)
    ours = M.load_hf_folder(str(tmp_path)).eval()
    idx = torch.randint(0, 97, (2, 9))
    with torch.no_grad():
        torch.testing.assert_close(ours(idx), ref(idx).logits, rtol=1e-5, atol=1e-5)
    with pytest.raises(FileNotFoundError, match="config.json"):
        M.load_hf_folder(str(tmp_path / "nowhere"))


@pytest.mark.parametrize("layout", ["pre", "post"])
def test_a_position_sees_only_its_past(layout):
    """Changing token t changes no logits before t (the causal mask), and does change t's."""
    model = small(layout).eval()
    idx = torch.randint(0, 97, (1, 20))
    other = idx.clone()
    other[0, 12] = (other[0, 12] + 1) % 97
    with torch.no_grad():
        a, b = model(idx), model(other)
    torch.testing.assert_close(a[:, :12], b[:, :12])
    assert not torch.allclose(a[:, 12], b[:, 12])


def test_residual_projections_are_scaled_at_init():
    """GPT-2 §2.3: the residual layers' weights scaled by 1/sqrt(N), N = 2 n_layer."""
    torch.manual_seed(0)
    model = GPT(GPTConfig(vocab_size=50, n_ctx=16, n_layer=8, n_head=4, d_model=256))
    proj = torch.cat([b.mlp.c_proj.weight.flatten() for b in model.transformer.h])
    fc = torch.cat([b.mlp.c_fc.weight.flatten() for b in model.transformer.h])
    assert proj.std().item() == pytest.approx(0.02 / math.sqrt(16), rel=0.05)
    assert fc.std().item() == pytest.approx(0.02, rel=0.05)
    assert model.lm_head.weight is model.transformer.wte.weight


def test_every_parameter_gets_a_gradient_and_no_nans():
    model = small()
    model.train()
    idx = torch.randint(0, 97, (2, 32))
    loss = M.lm_loss(model(idx[:, :-1]), idx[:, 1:])
    loss.backward()
    for name, p in model.named_parameters():
        assert p.grad is not None and p.grad.abs().sum() > 0, name
    assert math.isfinite(loss.item()) and abs(loss.item() - math.log(97)) < 0.5


def test_a_context_longer_than_the_models_is_refused():
    with pytest.raises(ValueError, match="context of 32"):
        small()(torch.zeros(1, 33, dtype=torch.long))


@pytest.mark.parametrize("layout", ["pre", "post"])
def test_the_cache_gives_the_logits_of_recomputation(layout):
    torch.manual_seed(0)
    model = small(layout).eval()
    idx = torch.randint(0, 97, (2, 20))
    with torch.no_grad():
        full = model(idx)
        cache = KVCache(model.config, 2)
        parts = [model(idx[:, :7], cache)]  # a prompt, then one token at a time, then three
        parts += [model(idx[:, t:t + 1], cache) for t in range(7, 17)]
        parts.append(model(idx[:, 17:], cache))
    torch.testing.assert_close(torch.cat(parts, 1), full, rtol=1e-5, atol=1e-5)
    assert cache.length == 20


@pytest.mark.parametrize("sampling", [dict(temperature=0), dict(temperature=0.8, top_k=5),
                                      dict(temperature=1.2, top_p=0.9)])
def test_generation_with_the_cache_equals_recomputation(sampling):
    """The same tokens, also past the context (the window slides), for each sampling rule."""
    torch.manual_seed(0)
    model = small().eval()
    prompt = torch.randint(0, 97, (2, 5))
    runs = [generate(model, prompt, 40, cache=c, generator=torch.Generator().manual_seed(3),
                     **sampling) for c in (True, False)]
    assert runs[0].shape == (2, 45)
    assert torch.equal(runs[0], runs[1])


def test_top_k_and_top_p_keep_the_right_tokens():
    logits = torch.log(torch.tensor([[0.5, 0.25, 0.15, 0.1]]))
    kept = lambda **kw: torch.isfinite(filter_logits(logits, **kw))[0].tolist()  # noqa: E731
    assert kept(top_k=2) == [True, True, False, False]
    assert kept(top_p=0.5) == [True, False, False, False]  # 0.5 already reaches p
    assert kept(top_p=0.7) == [True, True, False, False]
    assert kept(top_p=0.76) == [True, True, True, False]
    assert kept(top_p=1.0) == [True] * 4
    shuffled = logits[:, [2, 0, 3, 1]]
    assert torch.isfinite(filter_logits(shuffled, top_p=0.7))[0].tolist() == [
        False, True, False, True]


@pytest.mark.parametrize("bad, match", [(dict(top_p=0.0), "top-p"), (dict(top_k=0), "top-k"),
                                        (dict(temperature=-1), "temperature")])
def test_bad_sampling_options_are_refused(bad, match):
    with pytest.raises(ValueError, match=match):
        generate(small(), torch.zeros(1, 1, dtype=torch.long), 1, **bad)


def test_the_tiny_model_is_nanogpts_cpu_configuration():
    model = gpt_tiny()
    c = model.config
    assert (c.n_layer, c.n_head, c.d_model, c.n_ctx) == (4, 4, 128, 64)
