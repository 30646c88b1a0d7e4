"""Transformer training: the loss and schedule of §5, the entry point end to end."""

import dataclasses
import json

import pytest
import torch
import torch.nn.functional as F

from milestones.core.config import EXIT_OK, EXIT_USAGE
from milestones.core.run import cli
from milestones.transformer import train as T
from tests.conftest import run_cli

pytest.importorskip("tokenizers", reason="needs the text extra: pip install 'milestones[text]'")
pytest.importorskip("sacrebleu", reason="needs the text extra: pip install 'milestones[text]'")


@pytest.mark.parametrize("eps", [0.0, 0.1, 0.3])
def test_label_smoothing_equals_torch_cross_entropy(eps):
    torch.manual_seed(0)
    logits = torch.randn(3, 7, 11)
    target = torch.randint(0, 11, (3, 7))
    target[0, 4:] = 0  # padding
    loss, nll, n = T.label_smoothed_loss(logits, target, eps, pad_id=0)
    ref = F.cross_entropy(logits.reshape(-1, 11), target.reshape(-1), ignore_index=0,
                          label_smoothing=eps, reduction="sum")
    torch.testing.assert_close(loss, ref)
    torch.testing.assert_close(nll, F.cross_entropy(logits.reshape(-1, 11), target.reshape(-1),
                                                    ignore_index=0, reduction="sum"))
    assert n == (target != 0).sum()


def test_learning_rate_is_equation_3():
    cfg = T.paper()
    peak = 512 ** -0.5 * 4000 ** -0.5
    assert T.learning_rate(cfg, 4000) == pytest.approx(peak)  # the top: 6.99e-4
    assert T.learning_rate(cfg, 2000) == pytest.approx(peak / 2)  # linear warm-up
    assert T.learning_rate(cfg, 16000) == pytest.approx(peak / 2)  # then 1 / sqrt(step)
    assert T.learning_rate(dataclasses.replace(cfg, lr_scale=2.0), 100) == pytest.approx(
        2 * T.learning_rate(cfg, 100))


def smoke(tmp_path, name="run", **overrides) -> T.Config:
    return dataclasses.replace(T.smoke(), out=str(tmp_path / name), data_root=str(tmp_path),
                               **overrides)


def test_smoke_writes_the_run_folder(tmp_path):
    summary = T.main(smoke(tmp_path))
    run = tmp_path / "run"
    for name in ("config.json", "metrics.jsonl", "last.pt", "model.safetensors",
                 "model-averaged.safetensors", "tokenizer.json", "summary.json"):
        assert (run / name).is_file(), name
    assert summary["step"] == 12 and summary["stopped"] is None
    assert 0 <= summary["test_bleu"] <= 100 and "long_bleu" in summary
    assert summary["copy_source_bleu"] < summary["dictionary_bleu"] < 20  # the two baselines
    assert summary["averaged_steps"] == [8, 12]
    assert "nrefs:1" in summary["bleu_signature"]
    # §5.3's optimizer as train.py builds it: Adam (0.9, 0.98, 1e-9) at Eq. 3's rate
    from milestones.core.checkpoint import load_checkpoint

    group = load_checkpoint(run / "last.pt")["optimizer"]["param_groups"][0]
    assert tuple(group["betas"]) == (0.9, T.paper().beta2) == (0.9, 0.98)
    assert group["eps"] == 1e-9 and group["lr"] == pytest.approx(T.learning_rate(T.smoke(), 12))


def test_resume_is_exact(tmp_path):
    straight = T.main(smoke(tmp_path, "straight", average_last=0))
    T.main(smoke(tmp_path, "halves", average_last=0, max_steps=5))
    resumed = T.main(smoke(tmp_path, "halves", average_last=0, resume=True))
    assert resumed["step"] == straight["step"]
    from milestones.core.checkpoint import load_checkpoint

    a = load_checkpoint(tmp_path / "straight" / "last.pt")["model"]
    b = load_checkpoint(tmp_path / "halves" / "last.pt")["model"]
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_averaged_model_is_the_same_after_a_crash_and_resume(tmp_path, monkeypatch):
    """§6.1's average of the last checkpoints survives a crash right after the checkpoint of a
    snapshot step: the snapshot joins the list before last.pt is written."""
    from safetensors.torch import load_file

    from milestones.core.run import Run

    class Killed(Exception):
        pass

    real_save = Run.save

    def save_then_die(self, which="last", **kw):  # the host dies just after step 8's last.pt
        real_save(self, which, **kw)
        if which == "last" and self.step == 8:
            raise Killed

    T.main(smoke(tmp_path, "straight"))
    monkeypatch.setattr(Run, "save", save_then_die)
    with pytest.raises(Killed):
        T.main(smoke(tmp_path, "crashed"))
    monkeypatch.setattr(Run, "save", real_save)
    resumed = T.main(smoke(tmp_path, "crashed", resume=True))
    assert resumed["averaged_steps"] == [8, 12]
    a, b = (load_file(tmp_path / n / "model-averaged.safetensors") for n in ("straight",
                                                                             "crashed"))
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def test_gradient_accumulation_equals_a_bigger_batch_step(tmp_path):
    """train.accumulate_gradients over two batches gives the gradient of one batch holding both
    (the mean loss over all their target tokens): how --accumulate builds §5.1's big batches."""
    from milestones.core import runtime

    cfg = smoke(tmp_path)
    _, tok, encoded = T.load_data(cfg)
    torch.manual_seed(0)
    model = T.build_model(dataclasses.replace(cfg, dropout=0.0), tok.vocab_size)
    batches = T.D.TokenBatches(encoded["train"], 200, shuffle=False)
    a, b = [x for _, x in zip(range(2), batches.epoch(0), strict=False)]
    rt = runtime.Runtime(torch.device("cpu"), None)
    step_loss, sums = T.accumulate_gradients(model, [a, b], rt, rt.grad_scaler(), 0.1)
    accumulated = [p.grad.clone() for p in model.parameters()]

    model.zero_grad()
    pairs, _ = batches.order(0)  # the union: both batches' pairs, collated as one batch
    src, tgt_in, tgt_out = batches.collate(torch.cat([pairs[lo:hi] for lo, hi in
                                                      batches.bounds[:2]]))
    loss, _, n = T.label_smoothed_loss(model(src, tgt_in), tgt_out, 0.1)
    (loss / n).backward()
    assert sums["tokens"] == n and len(a[0]) + len(b[0]) == len(src)
    torch.testing.assert_close(step_loss, loss.detach() / n)
    for g, p in zip(accumulated, model.parameters(), strict=True):
        torch.testing.assert_close(g, p.grad)


def test_checkpoint_averaging_is_the_mean_of_the_snapshots(tmp_path):
    from safetensors.torch import save_model

    cfg = smoke(tmp_path)
    models = [T.build_model(cfg, 50) for _ in range(3)]
    paths = []
    for i, m in enumerate(models):
        save_model(m, str(tmp_path / f"s{i}.safetensors"))
        paths.append(tmp_path / f"s{i}.safetensors")
    averaged = T.average_snapshots(T.build_model(cfg, 50), paths)
    expected = sum(m.src_embed.weight for m in models) / 3
    torch.testing.assert_close(averaged.src_embed.weight, expected)
    assert averaged.output_projection.weight is averaged.src_embed.weight  # still tied


def test_bad_values_and_bad_data_fail_clearly(tmp_path):
    res = run_cli("-m", "milestones.transformer.train", "--preset", "smoke", "--h", "3",
                  "--out", str(tmp_path / "r"))
    assert res.returncode == EXIT_USAGE and "`h`" in res.stderr
    assert not (tmp_path / "r").exists()
    bad = tmp_path / "bad.tsv"
    bad.write_text("a b\tc d\nno tab here\n")
    res = run_cli("-m", "milestones.transformer.train", "--preset", "smoke", "--dataset", "tsv",
                  "--data-files", str(bad), "--out", str(tmp_path / "r2"))
    assert res.returncode == EXIT_USAGE and "line 2" in res.stderr
    assert "Traceback" not in res.stderr and not (tmp_path / "r2").exists()


def test_a_tiny_tsv_or_an_unknown_language_pair_is_one_message(tmp_path, capsys):
    two = tmp_path / "two.tsv"
    two.write_text("a b\tc d\ne f\tg h\n")
    args = ["--preset", "smoke", "--dataset", "tsv", "--data-files", str(two), "--out",
            str(tmp_path / "r")]
    assert cli(T.main, T.Config, T.PRESETS, args) == EXIT_USAGE
    err = capsys.readouterr().err
    assert "two.tsv: 2 pairs" in err and "at least 3" in err and "Traceback" not in err
    assert not (tmp_path / "r").exists()
    with pytest.raises(SystemExit) as stop:  # the config rejects it, through D.HF_DATASETS
        cli(T.main, T.Config, T.PRESETS, ["--preset", "smoke", "--dataset", "wmt14",
                                          "--lang-pair", "en-xx", "--out", str(tmp_path / "r")])
    err = capsys.readouterr().err
    assert stop.value.code == EXIT_USAGE and "lang_pair" in err and "en-de, de-en" in err


def test_entry_points(tmp_path):
    res = run_cli("-m", "milestones.transformer.reproduce", "--preset", "smoke", "--out",
                  str(tmp_path / "rep"), "--data-root", str(tmp_path))
    assert res.returncode == EXIT_OK, res.stderr
    results = json.loads((tmp_path / "rep" / "results.json").read_text())
    assert set(results["variants"]) == {"base", "1 head", "no label smoothing",
                                        "learned positions"}
    base = {r["seed"]: r for r in results["variants"]["base"]["runs"]}
    for name, entry in results["variants"].items():  # Table 3's changes, paired by seed
        assert ("vs_base" in entry) == (name != "base")
        for key, d in entry.get("vs_base", {}).items():
            run = entry["runs"][0]
            assert d["mean"] == pytest.approx(run[key] - base[run["seed"]][key]) and d["n"] == 1
    for name in ("table3.png", "lr_schedule.png", "attention.png", "results.md"):
        assert (tmp_path / "rep" / name).is_file(), name
    res = run_cli("benchmarks/transformer.py", "--quick")
    assert res.returncode == 0, res.stderr
    out = json.loads(res.stdout)
    decoding = out["decoding_cache_speedup"]
    assert decoding["speedup"] == pytest.approx(decoding["uncached_ms"] / decoding["cached_ms"],
                                                rel=1e-2)
    for name in ("attention_eq1_vs_sdpa", "encoder_layer_vs_torch"):
        stats = out[name]
        assert stats["ratio_iqr"][0] <= stats["ratio"] <= stats["ratio_iqr"][1], name


def test_two_process_ddp_with_gloo(tmp_path):
    """torchrun with 2 gloo processes: each rank takes its own batches, gradients averaged."""
    from milestones.core.metrics import read_metrics
    from tests.conftest import torchrun_smoke

    res = torchrun_smoke("milestones.transformer.train", tmp_path)
    assert res.returncode == 0, res.stderr[-3000:]
    assert read_metrics(tmp_path / "ddp" / "metrics.jsonl")[0]["world_size"] == 2
    summary = json.loads((tmp_path / "ddp" / "summary.json").read_text())
    assert summary["step"] == 12 and summary["stopped"] is None
