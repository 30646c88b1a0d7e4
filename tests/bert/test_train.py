"""Entry-point tests of BERT's pre-training and fine-tuning: smoke runs end to end, resume
equality in both loops, the schedule, checkpoints of ours and of Hugging Face's shape."""

import dataclasses
import json

import pytest
import torch

from milestones.bert import finetune as FT
from milestones.bert import train as T
from milestones.bert.model import BertForPreTraining, bert_config
from milestones.core.config import ConfigError


def pretrain(tmp_path, name="pre", **overrides) -> dict:
    cfg = dataclasses.replace(T.smoke(), out=str(tmp_path / name), data_root=str(tmp_path),
                              **overrides)
    return T.main(cfg)


def finetune(tmp_path, name="ft", **overrides) -> dict:
    cfg = dataclasses.replace(FT.smoke(), out=str(tmp_path / name), data_root=str(tmp_path),
                              **overrides)
    return FT.main(cfg)


def test_pretraining_smoke_runs_end_to_end(tmp_path):
    summary = pretrain(tmp_path)
    out = tmp_path / "pre"
    assert summary["step"] == 8 and summary["stopped"] is None
    assert (out / "model.safetensors").is_file() and (out / "tokenizer.json").is_file()
    for key in ("val_mlm_accuracy", "val_nsp_accuracy", "majority_mlm_accuracy"):
        assert 0 <= summary[key] <= 1, key
    records = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    train = [r for r in records if r.get("split") == "train"]
    assert {"loss", "mlm_loss", "nsp_loss", "mlm_accuracy", "lr", "seq_len"} <= set(train[0])
    assert [r["seq_len"] for r in train] == [32, 32, 32, 48]  # App. A: the long phase at the end


def test_ltr_without_nsp_runs(tmp_path):
    summary = pretrain(tmp_path, objective="ltr", nsp=False, long_fraction=0.0)
    assert summary["objective"] == "ltr" and "val_nsp_accuracy" not in summary


def test_gradient_accumulation_takes_nearly_the_same_step(tmp_path):
    """--accumulate 2 runs each batch as two micro-batches (the mean of their mean losses): the
    first update points the same way as the whole batch's (no dropout; the LTR objective, which
    draws no masks). Not bit-equal: a micro-batch's mean weighs its own tokens."""
    from safetensors.torch import load_file

    common = dict(objective="ltr", nsp=False, dropout=0.0, steps=1, long_fraction=0.0,
                  warmup_steps=1)
    weights = {}
    for name, accumulate, lr in (("init", 1, 1e-12), ("one", 1, 1e-3), ("two", 2, 1e-3)):
        pretrain(tmp_path, name, **common, accumulate=accumulate, lr=lr)
        weights[name] = load_file(tmp_path / name / "model.safetensors")
    key = "bert.encoder.layer.0.attention.self.query.weight"
    da, db = (weights[n][key] - weights["init"][key] for n in ("one", "two"))
    assert not torch.equal(da, db)
    assert torch.cosine_similarity(da.flatten(), db.flatten(), 0) > 0.9


def test_schedule_warms_up_then_decays_linearly():
    cfg = dataclasses.replace(T.paper())
    assert T.learning_rate(cfg, 0) == pytest.approx(1e-4 / 10_000)
    assert T.learning_rate(cfg, 9_999) == pytest.approx(1e-4)
    assert T.learning_rate(cfg, 505_000) == pytest.approx(0.5e-4)
    assert T.learning_rate(cfg, 1_000_000) == 0
    assert T.phase_len(cfg, 899_999) == 128 and T.phase_len(cfg, 900_000) == 512


def test_weight_decay_spares_biases_and_layer_norm():
    model = BertForPreTraining(bert_config("tiny", 100))
    decayed, spared = T.make_optimizer(T.smoke(), model).param_groups
    assert decayed["weight_decay"] == 0.01 and spared["weight_decay"] == 0
    assert all(p.ndim == 2 for p in decayed["params"])
    names = {id(p): n for n, p in model.named_parameters()}
    assert all("LayerNorm" in names[id(p)] or p.ndim == 1 for p in spared["params"])


def test_pretraining_resume_equals_an_uninterrupted_run(tmp_path):
    whole = pretrain(tmp_path, "whole")
    pretrain(tmp_path, "split", max_steps=5)
    resumed = pretrain(tmp_path, "split", resume=True)
    assert resumed["val_mlm_loss"] == whole["val_mlm_loss"]
    from safetensors.torch import load_file

    a, b = (load_file(tmp_path / n / "model.safetensors") for n in ("whole", "split"))
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_finetune_smoke_and_resume(tmp_path):
    whole = finetune(tmp_path, "whole")
    assert 0 <= whole["dev_accuracy"] <= 1 and -1 <= whole["dev_mcc"] <= 1
    finetune(tmp_path, "split", max_steps=3)
    resumed = finetune(tmp_path, "split", resume=True)
    assert resumed["dev_mcc"] == whole["dev_mcc"]
    assert resumed["dev_accuracy"] == whole["dev_accuracy"]


def test_finetune_from_a_pretraining_run_and_on_spans(tmp_path):
    pretrain(tmp_path)
    summary = finetune(tmp_path, init="pretrained", checkpoint=str(tmp_path / "pre"),
                       task="spans", max_len=64, max_query_len=8,
                       train_size=48)
    assert "pre-training run" in summary["encoder"]
    assert 0 <= summary["dev_exact_match"] <= summary["dev_f1"] <= 1


def test_a_hugging_face_folder_loads(tmp_path):
    transformers = pytest.importorskip("transformers")
    words = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *[f"w{i}" for i in range(95)]]
    hf = transformers.BertForPreTraining(transformers.BertConfig(
        vocab_size=100, hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
        intermediate_size=128, max_position_embeddings=64)).eval()
    hf.save_pretrained(tmp_path / "hf")
    (tmp_path / "hf" / "vocab.txt").write_text("\n".join(words) + "\n")
    pre = FT.load_pretrained(tmp_path / "hf")
    ids = torch.tensor([[2, 10, 11, 3, 0]])
    mask = (ids != 0).long()
    with torch.no_grad():
        theirs = hf.bert(ids, attention_mask=mask).last_hidden_state
        ours, _ = pre.bert.eval()(ids, torch.zeros_like(ids), mask)
    assert torch.allclose(ours, theirs, atol=1e-5)
    assert pre.tok.encode("w5 w17") == [10, 22]


def test_bad_task_and_missing_checkpoint_are_config_errors(tmp_path):
    with pytest.raises(ConfigError, match="choose from"):
        dataclasses.replace(FT.smoke(), task="wnli")
    with pytest.raises(ConfigError, match="checkpoint"):
        finetune(tmp_path, init="pretrained", checkpoint=None)
    assert not (tmp_path / "ft").exists()


@pytest.mark.slow
def test_pretraining_learns_the_masked_words(tmp_path):
    """300 steps of BERT-Tiny on the built-in corpus (about 30 s): held-out MLM accuracy rises
    well above predicting the corpus's most frequent token every time."""
    cfg = dataclasses.replace(T.quick(), out=str(tmp_path / "q"), data_root=str(tmp_path),
                              steps=300, warmup_steps=30, eval_every=1000, finetune="none",
                              progress=False)
    summary = T.main(cfg)
    assert summary["val_mlm_accuracy"] > summary["majority_mlm_accuracy"] + 0.08


@pytest.mark.slow
def test_two_process_ddp_with_gloo(tmp_path):
    """torchrun with 2 gloo processes: each rank takes half of every batch of pairs, with its own
    masks; gradients averaged; one run folder."""
    from milestones.core.metrics import read_metrics
    from tests.conftest import torchrun_smoke

    res = torchrun_smoke("milestones.bert.train", tmp_path, "--accumulate", "2")
    assert res.returncode == 0, res.stderr[-3000:]
    assert read_metrics(tmp_path / "ddp" / "metrics.jsonl")[0]["world_size"] == 2
    summary = json.loads((tmp_path / "ddp" / "summary.json").read_text())
    assert summary["step"] == 8 and summary["stopped"] is None
    assert (tmp_path / "ddp" / "model.safetensors").is_file()
