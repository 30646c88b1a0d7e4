"""BERT speed in one process; prints one JSON object.

    python benchmarks/bert.py            # CPU: about 2 minutes on 2 cores
    python benchmarks/bert.py --quick    # seconds (tests)
    python benchmarks/bert.py --device cuda

1. Our BertForPreTraining against Hugging Face's at the same config and with the same weights
   (ours loaded from theirs, key for key): forward + backward of the pre-training loss (MLM logits
   of every position, NSP), interleaved; ratio = ours / Hugging Face (bar: <= 1.05). Hugging
   Face runs its default attention (``sdpa``), ours torch's fused kernel too. The outputs are
   checked equal first.
2. Our pre-training step as train.py runs it (MLM logits only at the 15% chosen positions, NSP,
   AdamW): tokens/s, against the same step computing every position's logits (the Hugging Face
   way) — what scoring only the predictions saves.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys

import torch
import torch.nn.functional as F

from milestones.bert import train as T
from milestones.bert.model import BertForPreTraining, bert_config
from milestones.core import runtime
from milestones.core.bench import header, interleaved, ratio_stats


def make_batch(batch: int, length: int, vocab: int, device: torch.device) -> dict:
    """Random token pairs with some padding, 15% of the real tokens chosen for the MLM."""
    g = torch.Generator().manual_seed(0)
    ids = torch.randint(5, vocab, (batch, length), generator=g)
    lengths = torch.randint(length // 2, length + 1, (batch,), generator=g)
    real = torch.arange(length)[None, :] < lengths[:, None]
    ids[:, 0] = 2
    ids[~real] = 0
    segments = ((torch.arange(length)[None, :] > lengths[:, None] // 2) & real).long()
    labels = torch.full_like(ids, -100)
    chosen = (torch.rand(batch, length, generator=g) < 0.15) & real
    chosen[:, 0] = False
    labels[chosen] = ids[chosen]
    out = {"input_ids": ids, "token_type_ids": segments, "attention_mask": real.long(),
           "labels": labels, "is_random_next": torch.randint(2, (batch,), generator=g)}
    return {k: v.to(device) for k, v in out.items()}


def versus_hugging_face(size: str, batch: int, length: int, device: torch.device,
                        reps: int) -> dict:
    import transformers

    cfg = bert_config(size, 30522)
    hf_cfg = transformers.BertConfig(vocab_size=cfg.vocab_size, hidden_size=cfg.H,
                                     num_hidden_layers=cfg.L, num_attention_heads=cfg.A,
                                     intermediate_size=cfg.d_ff, max_position_embeddings=512,
                                     attn_implementation="sdpa")
    torch.manual_seed(0)
    theirs = transformers.BertForPreTraining(hf_cfg).to(device).train()
    ours = BertForPreTraining(cfg).to(device).train()
    ours.load_state_dict({k: v for k, v in theirs.state_dict().items()
                          if not k.endswith("position_ids")})
    b = make_batch(batch, length, cfg.vocab_size, device)
    inputs = (b["input_ids"], b["token_type_ids"], b["attention_mask"])
    with torch.no_grad():
        ours.eval(), theirs.eval()
        a = ours(*inputs)[0]
        h = theirs(input_ids=inputs[0], token_type_ids=inputs[1], attention_mask=inputs[2])
        real = b["attention_mask"].bool()
        same = torch.allclose(a[real], h.prediction_logits[real], atol=1e-4)
        ours.train(), theirs.train()

    def loss(mlm: torch.Tensor, nsp: torch.Tensor) -> torch.Tensor:
        return (F.cross_entropy(mlm.flatten(0, 1), b["labels"].flatten())
                + F.cross_entropy(nsp, b["is_random_next"]))

    def ours_step():
        ours.zero_grad(set_to_none=True)
        loss(*ours(*inputs)).backward()

    def theirs_step():
        theirs.zero_grad(set_to_none=True)
        out = theirs(input_ids=inputs[0], token_type_ids=inputs[1], attention_mask=inputs[2])
        loss(out.prediction_logits, out.seq_relationship_logits).backward()

    times = interleaved({"ours": ours_step, "hugging_face": theirs_step}, reps, device=device)
    stats = ratio_stats(times, "ours", "hugging_face")
    tokens = batch * length
    return {"model": f"BERT-{size.capitalize()} (L{cfg.L}/H{cfg.H}/A{cfg.A}, vocab 30522)",
            "batch": batch, "length": length, "same_outputs": bool(same),
            "transformers": transformers.__version__, **stats,
            "ours_tokens_per_s": round(1000 * tokens / stats["ours_ms"]),
            "hugging_face_tokens_per_s": round(1000 * tokens / stats["hugging_face_ms"])}


def pretraining_step(size: str, batch: int, length: int, device: torch.device, reps: int
                     ) -> dict:
    cfg = dataclasses.replace(T.paper(), model=size)
    rt = runtime.Runtime(device, None)
    torch.manual_seed(0)
    model = BertForPreTraining(bert_config(size, 30522)).to(device).train()
    opt = T.make_optimizer(cfg, model)
    b = make_batch(batch, length, 30522, device)

    def chosen_only():  # train.py's step
        loss, _ = T.pretraining_loss(model, b, cfg, rt)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    def every_position():
        mlm, nsp = model(b["input_ids"], b["token_type_ids"], b["attention_mask"])
        loss = (F.cross_entropy(mlm.flatten(0, 1), b["labels"].flatten())
                + F.cross_entropy(nsp, b["is_random_next"]))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    times = interleaved({"chosen_only": chosen_only, "every_position": every_position}, reps,
                        device=device)
    stats = ratio_stats(times, "chosen_only", "every_position")
    tokens = batch * length
    return {"model": f"BERT-{size.capitalize()}, vocab 30522", "batch": batch, "length": length,
            **stats, "tokens_per_s": round(1000 * tokens / stats["chosen_only_ms"]),
            "sequences_per_s": round(1000 * batch / stats["chosen_only_ms"], 1)}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true", help="tiny sizes, seconds (tests)")
    p.add_argument("--device", default="cpu")
    p.add_argument("--reps", type=int, default=None, help="interleaved rounds (default 20)")
    args = p.parse_args(argv)
    device = torch.device(args.device)
    reps = args.reps or (3 if args.quick else 20)
    batch, length = (4, 32) if args.quick else (32, 128)
    result = {**header("bert", device), "quick": args.quick,
              "versus_hugging_face": versus_hugging_face("tiny" if args.quick else "mini",
                                                         batch, length, device, reps),
              "pretraining_step": pretraining_step("tiny", batch, length, device, reps)}
    json.dump(result, sys.stdout, indent=2)
    print()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
