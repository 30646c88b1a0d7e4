"""Entry-point tests of GPT's training and sampling: the schedule and the optimizer's groups, a
smoke run end to end, fine-tuning from our runs and from Hugging Face folders, learning on the
built-in corpus, and two gloo processes equal to one."""

import dataclasses
import json
import math

import pytest
import torch

from milestones.core.config import ConfigError
from milestones.core.metrics import read_metrics
from milestones.gpt import sample as S
from milestones.gpt import train as T
from milestones.gpt.model import GPT, GPTConfig, hf_config


def run(tmp_path, name="run", **overrides) -> dict:
    cfg = dataclasses.replace(T.smoke(), out=str(tmp_path / name), data_root=str(tmp_path),
                              **overrides)
    return T.main(cfg)


def test_schedule_warms_up_then_decays_by_cosine_to_ten_percent():
    cfg = T.Config(lr=6e-4, warmup_steps=10, decay_steps=110, steps=200)
    lrs = [T.learning_rate(cfg, s) for s in range(200)]
    assert lrs[0] == pytest.approx(6e-5) and lrs[9] == pytest.approx(6e-4)
    assert lrs[60] == pytest.approx(6e-5 + 0.5 * (6e-4 - 6e-5))  # half-way down the cosine
    assert lrs[110] == pytest.approx(6e-5) and lrs[199] == pytest.approx(6e-5)  # then constant
    assert all(a >= b for a, b in zip(lrs[9:], lrs[10:], strict=False))


def test_weight_decay_on_matrices_only():
    model = GPT(GPTConfig(vocab_size=20, n_ctx=8, n_layer=1, n_head=2, d_model=8))
    opt = T.make_optimizer(T.smoke(), model)
    decayed, spared = opt.param_groups
    assert all(p.ndim == 2 for p in decayed["params"]) and decayed["weight_decay"] == 0.1
    assert all(p.ndim == 1 for p in spared["params"]) and spared["weight_decay"] == 0
    assert len(decayed["params"]) + len(spared["params"]) == len(list(model.parameters()))
    assert opt.defaults["betas"] == (0.9, 0.95)


def test_smoke_run_writes_everything_a_user_reads(tmp_path):
    summary = run(tmp_path)
    out = tmp_path / "run"
    for name in ("model.safetensors", "model.json", "tokenizer.json", "sample.txt", "best.pt",
                 "summary.json"):
        assert (out / name).is_file(), name
    assert summary["step"] == 8 and math.isfinite(summary["val_loss"])
    assert summary["tokens_seen"] == 8 * 4 * 32
    records = read_metrics(out / "metrics.jsonl")
    train = [r for r in records if r.get("split") == "train"]
    assert train and all(r["tokens_per_s"] > 0 and r["flops_per_s"] > 0 for r in train)
    assert records[0]["params_non_embedding"] < records[0]["params"]
    assert (out / "sample.txt").read_text().startswith("\n")


def test_a_smoke_run_on_fineweb_shards_writes_its_token_files_in_the_run(tmp_path):
    """FineWeb's documents stream from parquet into token files in the run folder (they are not
    a list to hash, so not cached by content), each document ended by <|endoftext|>."""
    from tests.gpt.test_data import fineweb_shards

    docs = fineweb_shards(tmp_path / "fw", (300, 200), words=60)
    summary = run(tmp_path, corpus="fineweb", data_dir=str(tmp_path / "fw"), tokenizer="bpe",
                  vocab_size=300)
    out = tmp_path / "run"
    assert summary["step"] == 8 and math.isfinite(summary["val_loss"])
    meta = json.loads((out / "val.json").read_text())
    assert "FineWeb parquet shards" in meta["source"] and (out / "train.bin").is_file()
    tok = T.D.load_tokenizer(out / "tokenizer.json")
    assert tok.decode(T.D.TokenFile(out / "val.bin").tokens.tolist()) == docs[0] + T.D.EOT


def test_sampling_from_a_run_folder(tmp_path, capsys):
    run(tmp_path)
    cfg = S.Config(model=str(tmp_path / "run"), prompt="the", max_new_tokens=15, num_samples=2)
    samples = S.main(cfg)["samples"]
    assert len(samples) == 2 and all(s.startswith("the") for s in samples)
    assert samples == S.main(cfg)["samples"]  # seeded
    with pytest.raises(ConfigError, match="top_p"):
        S.Config(model=str(tmp_path / "run"), top_p=0.0)
    with pytest.raises(ConfigError, match="not in this model's vocabulary"):
        S.main(dataclasses.replace(cfg, prompt="THE"))


def test_fine_tuning_from_our_run_starts_from_its_weights(tmp_path):
    first = run(tmp_path, "first")
    second = run(tmp_path, "second", init_from=str(tmp_path / "first"), steps=1, lr=1e-9,
                 warmup_steps=0, eval_every=1, ckpt_every=1)
    assert second["val_loss"] == pytest.approx(first["val_loss"], rel=1e-4)
    with pytest.raises(ConfigError, match="longer than the model's"):
        dataclasses.replace(T.smoke(), init_from=str(tmp_path / "first"), n_ctx=33)


def test_fine_tuning_a_hugging_face_gpt2_folder(tmp_path):
    """A Hugging Face GPT-2 folder (weights and its vocab.json + merges.txt) trains on our text
    with its own tokenizer, and the run's model equals it before the first step."""
    transformers = pytest.importorskip("transformers")
    from milestones.gpt import data as D

    torch.manual_seed(0)
    tok = D.train_bpe([D.builtin_text(400)[0]], 300)
    folder = tmp_path / "hf"
    folder.mkdir()
    tok.hf.model.save(str(folder))
    cfg = GPTConfig(vocab_size=tok.vocab_size, n_ctx=64, n_layer=2, n_head=2, d_model=32)
    transformers.GPT2LMHeadModel(transformers.GPT2Config(**hf_config(cfg))).save_pretrained(
        folder)
    summary = run(tmp_path, init_from=str(folder), n_ctx=48)
    assert summary["step"] == 8 and summary["tokenizer"] == "bpe" and summary["n_ctx"] == 48
    assert json.loads((tmp_path / "run" / "model.json").read_text())["n_ctx"] == 64


def test_bad_values_fail_before_any_work(tmp_path):
    for bad in (dict(top_p=0.0), dict(top_k=0), dict(temperature=-0.5), dict(d_model=30),
                dict(decay_steps=1), dict(vocab_size=100, tokenizer="bpe")):
        with pytest.raises(ConfigError):
            dataclasses.replace(T.smoke(), **bad)
    assert not any(tmp_path.iterdir())


def test_learns_the_built_in_language(tmp_path):
    """300 steps of nanoGPT's CPU model on the built-in corpus's characters (about 17 s): the
    held-out loss falls well below the characters' unigram entropy (what a model that ignores
    context gets at best)."""
    from milestones.gpt import data as D

    cfg = dataclasses.replace(T.quick(), out=str(tmp_path / "q"), data_root=str(tmp_path),
                              steps=300, warmup_steps=30, eval_every=1000, builtin_pairs=4000,
                              n_ctx=64, sample_tokens=0, progress=False)
    summary = T.main(cfg)
    train, val = D.builtin_text(4000, seed=0)
    counts = torch.bincount(torch.tensor([ord(c) for c in val]))
    p = counts[counts > 0].double() / counts.sum()
    unigram = -(p * p.log()).sum().item()  # nats per character
    assert summary["val_loss"] < unigram - 0.7, (summary["val_loss"], unigram)


@pytest.mark.slow
def test_two_gloo_processes_train_as_one(tmp_path):
    """torchrun with 2 gloo processes, each taking half of every micro-batch's windows: the same
    losses and the same weights as one process (DDP averages the two halves' gradients)."""
    from safetensors.torch import load_file

    from tests.conftest import torchrun_smoke

    res = torchrun_smoke("milestones.gpt.train", tmp_path, "--accumulate", "2")
    assert res.returncode == 0, res.stderr[-3000:]
    one = run(tmp_path, "one", accumulate=2)
    ddp = read_metrics(tmp_path / "ddp" / "metrics.jsonl")
    assert ddp[0]["world_size"] == 2
    single = read_metrics(tmp_path / "one" / "metrics.jsonl")
    losses = [[r["loss"] for r in m if r.get("split") == "train"] for m in (ddp, single)]
    assert losses[0] == pytest.approx(losses[1], rel=1e-5)
    a, b = load_file(tmp_path / "ddp" / "model.safetensors"), load_file(
        tmp_path / "one" / "model.safetensors")
    for key in b:
        # (fp32 sums in another order; Adam magnifies the near-zero gradients' differences)
        torch.testing.assert_close(a[key], b[key], rtol=1e-4, atol=1e-5)
    assert one["val_loss"] == pytest.approx(json.loads(
        (tmp_path / "ddp" / "summary.json").read_text())["val_loss"], rel=1e-4)


@pytest.mark.slow
def test_fsdp_on_two_gloo_processes_trains_as_one_and_resumes_on_one(tmp_path):
    """--fsdp: 2 gloo processes each holding half of every parameter (torch's fully_shard) train
    the first 4 steps as one process does; their checkpoint holds the full state, so one
    process resumes it, and the whole run equals one uninterrupted process."""
    from safetensors.torch import load_file

    from tests.conftest import torchrun_smoke

    res = torchrun_smoke("milestones.gpt.train", tmp_path, "--accumulate", "2", "--fsdp",
                         "--max-steps", "4")
    assert res.returncode == 0, res.stderr[-3000:]
    sharded = tmp_path / "ddp"
    assert read_metrics(sharded / "metrics.jsonl")[0]["world_size"] == 2
    resumed = run(tmp_path, "ddp", accumulate=2, fsdp=True, resume=True)
    one = run(tmp_path, "one", accumulate=2)
    losses = [[r["loss"] for r in read_metrics(folder / "metrics.jsonl")
               if r.get("split") == "train"] for folder in (sharded, tmp_path / "one")]
    assert len(losses[0]) == 4 and losses[0] == pytest.approx(losses[1], rel=1e-5)
    a, b = load_file(sharded / "model.safetensors"), load_file(tmp_path / "one" /
                                                               "model.safetensors")
    for key in b:
        torch.testing.assert_close(a[key], b[key], rtol=1e-4, atol=1e-5)
    assert resumed["val_loss"] == pytest.approx(one["val_loss"], rel=1e-4)
