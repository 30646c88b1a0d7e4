"""Fine-tune BERT (§4): ``python -m milestones.bert.finetune --help``.

    python -m milestones.bert.finetune --task mrpc --data-dir glue/ --checkpoint runs/bert/...
    python -m milestones.bert.finetune --task sst2 --checkpoint bert-base-uncased/  # Hugging Face
    python -m milestones.bert.finetune --task squad --data-dir squad/ --checkpoint ...
    python -m milestones.bert.finetune --task agreement --checkpoint runs/bert/quick-...  # built in

§4: "For each task, we simply plug in the task-specific inputs and outputs into BERT and
fine-tune all the parameters end-to-end." Sentence(-pair) tasks (GLUE, §4.1): a linear layer
on the pooled [CLS] vector, "the final hidden vector C", with softmax (STS-B: one output, squared
error); span tasks (SQuAD v1.1, §4.2): a start vector S and end vector E, "the probability of
word i being the start of the answer span is computed as a dot product between T_i and S
followed by a softmax over all of the words in the paragraph", the score of a span i..j is
S·T_i + E·T_j, j >= i. The paper's recipe: batch 32, 3 epochs, lr in {5e-5, 4e-5, 3e-5, 2e-5}
chosen on dev (§4.1; ``milestones.bert.reproduce`` runs the grid), AdamW with 10% warm-up and
linear decay, dropout 0.1.

``--checkpoint``: a pre-training run folder of ``milestones.bert.train`` (model.safetensors,
tokenizer.json, config.json), or a Hugging Face BERT folder (config.json, model.safetensors or
pytorch_model.bin, vocab.txt). Without one, ``--init random`` fine-tunes a randomly initialised
``--model`` with ``--tokenizer`` (pre-training's control).
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Literal

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from milestones.adam import AdamW
from milestones.bert import glue
from milestones.bert import squad as S
from milestones.bert.builtin import AGREEMENT, agreement_task, span_task
from milestones.bert.model import BertConfig, BertForPreTraining, BertModel, bert_config
from milestones.bert.tokenizer import WordPiece
from milestones.core import runtime
from milestones.core.checkpoint import load_safetensors
from milestones.core.config import ConfigError, require
from milestones.core.data import DataUnavailable, IndexBatches
from milestones.core.run import Run, RunConfig, Window, cli, launch

BUILTIN = ("agreement", "spans")
TASK_NAMES = (*glue.TASKS, "squad", *BUILTIN)


@dataclasses.dataclass
class Config(RunConfig):
    """Fine-tune BERT on a GLUE task, SQuAD v1.1 or a built-in task (Devlin et al. 2018, §4).
    Defaults: §4.1's recipe (batch 32, 3 epochs, lr 2e-5 of the grid 5e-5 ... 2e-5)."""

    task: str = "mrpc"
    """cola, sst2, mrpc, stsb, qqp, mnli, qnli, rte (GLUE), squad (v1.1 JSON), agreement, spans
    (built in, the synthetic language)."""
    data_dir: str | None = None
    """GLUE: the folder with the task's folder (GLUE's download layout) or the task's folder;
    squad: a folder with train-v1.1.json and dev-v1.1.json; default <data root>/glue, /squad."""
    checkpoint: str | None = None
    """A milestones.bert.train run folder or a Hugging Face BERT folder."""
    init: Literal["pretrained", "random"] = "pretrained"
    """random: the same model, randomly initialised (the control for pre-training)."""
    model: Literal["tiny", "mini", "small", "medium", "base", "large"] = "base"
    """Size with --init random and no --checkpoint."""
    tokenizer: str | None = None
    """With --init random and no --checkpoint: a tokenizer.json or vocab.txt."""
    max_len: int = 128
    """Tokens per input (GLUE: 128; SQuAD: 384, §4.2 / the released code)."""
    doc_stride: int = 128
    """SQuAD: tokens between the starts of a long passage's windows."""
    max_query_len: int = 64
    """SQuAD: the question's tokens at most."""
    batch_size: int = 32
    """§4.1: 32."""
    epochs: int = 3
    """§4.1: 3."""
    lr: float = 2e-5
    """§4.1: the best of 5e-5, 4e-5, 3e-5, 2e-5 on dev."""
    warmup: float = 0.1
    """Share of the steps with a linear warm-up (the released code's 10%), then linear decay."""
    weight_decay: float = 0.01
    """Decoupled weight decay (AdamW), not on biases and LayerNorm."""
    dropout: float = 0.1
    """Dropout in BERT and before the output layer (§4.1 / App. A)."""
    train_size: int | None = None
    """Fine-tune on only N training examples (picked at random with a fixed seed)."""
    dev_size: int | None = None
    """Carve a dev split of N training examples when the task has no dev file (STS-B here)."""
    log_every: int = 50
    """Steps between training-metric records."""

    def __post_init__(self) -> None:
        super().__post_init__()
        require(self.task.lower().replace("-", "") in TASK_NAMES, self, "task",
                f"choose from {', '.join(TASK_NAMES)}")
        self.task = self.task.lower().replace("-", "")
        require(self.checkpoint is None or Path(self.checkpoint).is_dir(), self, "checkpoint",
                "not a folder (a milestones.bert.train run, or a Hugging Face BERT folder)")
        require(self.tokenizer is None or Path(self.tokenizer).is_file(), self, "tokenizer",
                "no such file")
        for field in ("batch_size", "epochs", "log_every", "doc_stride", "max_query_len"):
            require(getattr(self, field) > 0, self, field, "must be > 0")
        require(8 <= self.max_len <= 512, self, "max_len", "must be in [8, 512]")
        require(self.lr > 0, self, "lr", "must be > 0")
        require(0 <= self.warmup < 1, self, "warmup", "must be in [0, 1)")
        require(0 <= self.dropout < 1, self, "dropout", "must be in [0, 1)")
        require(self.weight_decay >= 0, self, "weight_decay", "must be >= 0")
        require(self.task not in ("squad", "spans") or self.max_len - self.max_query_len - 3
                >= 8, self, "max_len", f"leaves under 8 passage tokens after a question of up to "
                f"--max-query-len {self.max_query_len} tokens and [CLS] [SEP] [SEP]")
        for field in ("train_size", "dev_size"):
            require(getattr(self, field) is None or getattr(self, field) > 0, self, field,
                    "must be > 0")


def paper() -> Config:
    """§4.1: batch 32, 3 epochs, lr 2e-5 (one point of the grid), BERT-Base sizes."""
    return Config(preset="paper")


def quick() -> Config:
    """CPU minutes: BERT-Tiny from random initialisation on the built-in agreement task (pass
    --checkpoint and --init pretrained to start from a pre-training run)."""
    return Config(preset="quick", task="agreement", init="random", model="tiny", max_len=64,
                  lr=1e-4, log_every=20)


def smoke() -> Config:
    """Seconds: BERT-Tiny, random init, 64 built-in examples. For tests."""
    return Config(preset="smoke", task="agreement", init="random", model="tiny", max_len=32,
                  batch_size=8, epochs=1, lr=1e-4, train_size=64, log_every=2, progress=False)


PRESETS = {"paper": paper, "quick": quick, "smoke": smoke}


# ---- the task heads (Hugging Face's names: classifier, qa_outputs) -------------------------------

class BertForSequenceClassification(nn.Module):
    """§4.1: logits = C W^T for the pooled [CLS] vector C; ``n_labels = 1``: a regression.
    ``causal``: the left-to-right model of Table 5 reads the last token instead of [CLS] (the only
    position that has seen the whole input; [CLS] has seen only itself)."""

    def __init__(self, bert: BertModel, n_labels: int, dropout: float = 0.1,
                 causal: bool = False):
        super().__init__()
        self.bert, self.causal = bert, causal
        self.dropout = nn.Dropout(dropout)
        self.classifier = nn.Linear(bert.config.H, n_labels)
        nn.init.normal_(self.classifier.weight, std=0.02)
        nn.init.zeros_(self.classifier.bias)

    def forward(self, input_ids: Tensor, token_type_ids: Tensor, attention_mask: Tensor
                ) -> Tensor:  # (B, T) x 3 -> (B, n_labels)
        h, pooled = self.bert(input_ids, token_type_ids, attention_mask, self.causal)
        # DEVIATION(D3): the left-to-right model is read at its last token, not at [CLS]
        if self.causal:  # the last real token, through the same pooler layer
            last = attention_mask.sum(1) - 1  # (B,)
            pooled = self.bert.pooler(h[torch.arange(len(h)), last][:, None])
        return self.classifier(self.dropout(pooled))


class BertForQuestionAnswering(nn.Module):
    """§4.2: start and end logits S·T_i and E·T_i for every token (qa_outputs = [S; E])."""

    def __init__(self, bert: BertModel, causal: bool = False):
        super().__init__()
        self.bert, self.causal = bert, causal
        self.qa_outputs = nn.Linear(bert.config.H, 2)
        nn.init.normal_(self.qa_outputs.weight, std=0.02)
        nn.init.zeros_(self.qa_outputs.bias)

    def forward(self, input_ids: Tensor, token_type_ids: Tensor, attention_mask: Tensor
                ) -> tuple[Tensor, Tensor]:  # -> (B, T), (B, T)
        h, _ = self.bert(input_ids, token_type_ids, attention_mask, self.causal)
        start, end = self.qa_outputs(h).unbind(-1)
        return start, end


# ---- checkpoints ---------------------------------------------------------------------------------

@dataclasses.dataclass
class Pretrained:
    bert: BertModel
    tok: WordPiece
    causal: bool  # pre-trained left-to-right (its fine-tuning keeps the causal mask)
    origin: str


def load_pretrained(folder: str | Path, dropout: float = 0.1) -> Pretrained:
    """The encoder and WordPiece of a pre-training run folder or a Hugging Face BERT folder."""
    folder = Path(folder)
    config = folder / "config.json"
    if not config.is_file():
        raise DataUnavailable("BERT checkpoint", [folder], "a milestones.bert.train run folder "
                              "or a Hugging Face BERT folder (config.json, weights, vocab.txt)",
                              "--init random")
    saved = json.loads(config.read_text())
    if "hidden_size" in saved:  # Hugging Face's
        return _load_hf(folder, saved, dropout)
    tok = WordPiece.load(folder / "tokenizer.json")
    cfg = bert_config(saved["model"], tok.vocab_size, max_len=max(512, saved["long_max_len"]),
                      dropout=dropout)
    model = BertForPreTraining(cfg)
    weights = folder / "model.safetensors"
    if not weights.is_file():
        raise DataUnavailable("BERT checkpoint", [weights], "a finished pre-training run "
                              "(model.safetensors is written at its end)", "--init random")
    load_safetensors(model, weights)
    return Pretrained(model.bert, tok, saved["objective"] == "ltr", f"pre-training run {folder}")


def _load_hf(folder: Path, saved: dict, dropout: float) -> Pretrained:
    cfg = BertConfig(vocab_size=saved["vocab_size"], L=saved["num_hidden_layers"],
                     H=saved["hidden_size"], A=saved["num_attention_heads"],
                     max_len=saved["max_position_embeddings"],
                     segments=saved.get("type_vocab_size", 2), dropout=dropout,
                     layer_norm_eps=saved.get("layer_norm_eps", 1e-12))
    if saved.get("intermediate_size", cfg.d_ff) != cfg.d_ff:
        raise DataUnavailable("BERT checkpoint", [folder / "config.json"],
                              f"intermediate_size = 4 x hidden_size ({cfg.d_ff})", "--init random")
    if (folder / "model.safetensors").is_file():
        from safetensors.torch import load_file

        state = load_file(str(folder / "model.safetensors"))
    elif (folder / "pytorch_model.bin").is_file():
        state = torch.load(folder / "pytorch_model.bin", map_location="cpu", weights_only=True)
    else:
        raise DataUnavailable("BERT weights", [folder / "model.safetensors",
                                               folder / "pytorch_model.bin"],
                              "the checkpoint's weights file", "--init random")
    # BertModel keys ("embeddings...") or BertForPreTraining / BertFor* keys ("bert.embeddings")
    state = {k.removeprefix("bert."): v for k, v in state.items()
             if not k.startswith("cls.") and not k.endswith("position_ids")}
    state = {k.replace("LayerNorm.gamma", "LayerNorm.weight").replace("LayerNorm.beta",
                                                                      "LayerNorm.bias"): v
             for k, v in state.items()}
    bert = BertModel(cfg)
    missing, unexpected = bert.load_state_dict(state, strict=False)
    if missing:
        raise DataUnavailable("BERT weights", [folder], f"a BERT state_dict (missing "
                              f"{missing[:3]}...)", "--init random")
    lower = True
    if (folder / "tokenizer_config.json").is_file():
        lower = json.loads((folder / "tokenizer_config.json").read_text()).get(
            "do_lower_case", True)
    tok = WordPiece.from_vocab(folder / "vocab.txt", lowercase=lower)
    return Pretrained(bert, tok, False, f"Hugging Face checkpoint {folder}")


def build_encoder(cfg: Config, tok_hint: WordPiece | None = None) -> Pretrained:
    """The encoder to fine-tune: pre-trained, or the same architecture randomly initialised."""
    if cfg.checkpoint is not None:
        pre = load_pretrained(cfg.checkpoint, cfg.dropout)
        if cfg.init == "random":
            bert = BertModel(pre.bert.config)
            return Pretrained(bert, pre.tok, pre.causal, f"random init ({pre.origin}'s shape)")
        return pre
    from milestones.bert.train import load_tokenizer

    tok = tok_hint if cfg.tokenizer is None else load_tokenizer(cfg.tokenizer)
    return Pretrained(BertModel(bert_config(cfg.model, tok.vocab_size, dropout=cfg.dropout)), tok,
                      False, f"random init ({cfg.model})")


# ---- data ----------------------------------------------------------------------------------------

@dataclasses.dataclass
class TaskData:
    name: str
    kind: Literal["classify", "span"]
    train: list  # glue.Example or squad.Question
    dev: list
    task: glue.Task | None  # the scorer of a sentence task
    source: str


def load_task_data(cfg: Config) -> TaskData:
    if cfg.task == "agreement":
        train, dev = agreement_task(4000, 1000)
        data = TaskData("agreement", "classify", train, dev, AGREEMENT,
                        "built in (synthetic-language agreement, 4000 / 1000)")
    elif cfg.task == "spans":
        train, dev = span_task(3000, 500)
        data = TaskData("spans", "span", train, dev, None, "built in (synthetic-language spans, "
                                                           "3000 / 500)")
    elif cfg.task == "squad":
        folder = _task_folder(cfg, "squad", ("train-v1.1.json", "dev-v1.1.json"))
        data = TaskData("squad", "span", S.load_squad(folder / "train-v1.1.json"),
                        S.load_squad(folder / "dev-v1.1.json"), None, f"SQuAD v1.1 in {folder}")
    else:
        task = glue.get_task(cfg.task)
        folder = _task_folder(cfg, "glue", (f"{task.folder}/{task.train_file}",))
        split = glue.load_task(task, folder, dev_size=cfg.dev_size)
        data = TaskData(task.name, "classify", split["train"], split["dev"], task,
                        f"GLUE {task.title} in {folder / task.folder}")
    if cfg.train_size is not None and cfg.train_size < len(data.train):
        pick = np.random.default_rng(cfg.seed).permutation(len(data.train))[:cfg.train_size]
        data.train = [data.train[i] for i in sorted(pick)]
    return data


def _task_folder(cfg: Config, name: str, needs: tuple[str, ...]) -> Path:
    from milestones.core.data import data_root

    tried = []
    if cfg.data_dir:
        base = Path(cfg.data_dir)
        tried += [base, base.parent]  # the GLUE folder, or a task's own folder
    else:
        tried += [data_root(cfg.data_root) / name,
                  Path(__file__).resolve().parents[3] / "shared" / "data" / name]
    for folder in tried:
        if all((folder / n).is_file() for n in needs):
            return folder
    how = ("GLUE's download_glue_data.py layout (<dir>/<Task>/train.tsv, dev.tsv)"
           if name == "glue" else "train-v1.1.json and dev-v1.1.json from the SQuAD site")
    raise DataUnavailable(name, tried, f"put {how} there, or pass --data-dir",
                          "--task agreement or --task spans (built in)")


def encode_classify(examples: list[glue.Example], tok: WordPiece, max_len: int
                    ) -> tuple[Tensor, Tensor, Tensor]:
    """(input_ids, token_type_ids, labels): (N, T) padded with [PAD], (N,) long or float."""
    encoded = [tok.encode_pair(e.a, e.b, max_len) for e in examples]
    ids, segs = _pad([e[0] for e in encoded], tok.pad_id), _pad([e[1] for e in encoded], 0)
    labels = torch.tensor([e.label for e in examples])
    return ids, segs, labels


def _pad(rows: list[list[int]], value: int) -> Tensor:
    out = torch.full((len(rows), max(map(len, rows))), value, dtype=torch.long)
    for i, r in enumerate(rows):
        out[i, :len(r)] = torch.tensor(r, dtype=torch.long)
    return out


# ---- the loop ------------------------------------------------------------------------------------

def main(cfg: Config) -> dict:
    return launch(train, cfg)


def learning_rate(cfg: Config, step: int, total: int) -> float:
    warm = max(1, round(cfg.warmup * total))
    if step < warm:
        return cfg.lr * (step + 1) / warm
    return cfg.lr * max(0.0, (total - step) / max(total - warm, 1))


def train(cfg: Config, rt: runtime.Runtime) -> dict:
    init = "pt" if cfg.init == "pretrained" else "rand"
    out = Path(cfg.out or f"runs/bert-finetune/{cfg.preset}-{cfg.task}-{init}-s{cfg.seed}")
    if cfg.checkpoint is None and cfg.init == "pretrained":
        raise ConfigError("checkpoint", None, "needed with --init pretrained: a "
                          "milestones.bert.train run folder or a Hugging Face BERT folder (or "
                          "--init random)")
    if cfg.checkpoint is None and cfg.tokenizer is None and cfg.task not in BUILTIN:
        raise ConfigError("tokenizer", None, "--init random without --checkpoint needs a "
                          "tokenizer.json or vocab.txt")
    with Run(cfg, rt, out) as run:
        data = load_task_data(cfg)
        tok_hint = None
        if cfg.checkpoint is None and cfg.tokenizer is None:  # built-in task, random init
            tok_hint = builtin_tokenizer()
        pre = build_encoder(cfg, tok_hint)
        tok = pre.tok
        if data.kind == "classify":
            model = BertForSequenceClassification(pre.bert, data.task.n_labels, cfg.dropout,
                                                  pre.causal)
            x = encode_classify(data.train, tok, cfg.max_len)
            dev = encode_classify(data.dev, tok, cfg.max_len)
            n = len(x[0])
        else:
            model = BertForQuestionAnswering(pre.bert, pre.causal)
            feats = S.make_features(data.train, tok, cfg.max_len, cfg.max_query_len,
                                    cfg.doc_stride)
            x = (_pad([f.input_ids for f in feats], tok.pad_id),
                 _pad([f.segment_ids for f in feats], 0),
                 torch.tensor([[f.start, f.end] for f in feats]))
            dev_feats = S.make_features(data.dev, tok, cfg.max_len, cfg.max_query_len,
                                        cfg.doc_stride)
            n = len(feats)
        model = model.to(rt.device)
        batches = IndexBatches(n, cfg.batch_size, shuffle=True, seed=cfg.seed, rank=rt.rank,
                               world_size=rt.world_size)
        if len(batches) == 0:
            raise ConfigError("batch_size", cfg.batch_size, f"is larger than the {n} training "
                              "examples")
        total = cfg.epochs * len(batches)
        opt = AdamW(_groups(model, cfg.weight_decay), lr=learning_rate(cfg, 0, total), eps=1e-6)
        window = Window("loss", "n", device=rt.device)
        run.track(model=model, opt=opt, window=window)
        run.start({"data": {"source": data.source, "train": len(data.train),
                            "dev": len(data.dev), "inputs": n},
                   "encoder": pre.origin, "tokenizer": repr(tok), "causal": pre.causal},
                  total_steps=total, desc=f"fine-tune {cfg.task}")
        net = runtime.wrap_ddp(model, rt)
        order_of = (None, None)
        model.train()
        while not run.should_stop():
            epoch, i = divmod(run.step, len(batches))
            if order_of[0] != epoch:
                order_of = (epoch, batches.order(epoch)[0])
            idx = next(batches.slices(order_of[1], i))
            ids, segs, y = (t[idx].to(rt.device) for t in x)
            width = int((ids != tok.pad_id).sum(1).max())  # drop the all-padding columns
            ids, segs = ids[:, :width], segs[:, :width]
            mask = (ids != tok.pad_id).long()
            lr = learning_rate(cfg, run.step, total)
            for group in opt.param_groups:
                group["lr"] = lr
            with rt.autocast():
                out_ = net(ids, segs, mask)
            if data.kind == "span":  # §4.2: log-likelihood of the correct start and end
                start, end = (o.float().masked_fill(mask == 0, -1e4) for o in out_)
                loss = (F.cross_entropy(start, y[:, 0]) + F.cross_entropy(end, y[:, 1])) / 2
            elif data.task.regression:
                loss = F.mse_loss(out_.float().squeeze(1), y.float())
            else:
                loss = F.cross_entropy(out_.float(), y)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
            run.step += 1
            run.track_loss(loss)
            window.add(loss=loss.detach(), n=1)
            if run.step % cfg.log_every == 0:
                run.check_finite()
                s = window.flush()
                run.log("train", loss=s["loss"] / s["n"], lr=lr,
                        epoch=round(run.step / len(batches), 3))
            if run.step % len(batches) == 0 and rt.is_main:  # each epoch: score dev
                with run.paused():
                    scores = (evaluate_classify(model, dev, data.task, tok, rt)
                              if data.kind == "classify" else
                              evaluate_spans(model, dev_feats, data.dev, tok, rt))
                run.log("dev", **scores)
                run.keep_best("dev_score", scores["score"], maximize=True)
                run.save()

        summary = {"task": cfg.task, "init": cfg.init, "encoder": pre.origin, "lr": cfg.lr,
                   "seed": cfg.seed, "train_examples": len(data.train)}
        if not run.interrupted and rt.is_main:
            with run.paused():
                final = (evaluate_classify(model, dev, data.task, tok, rt)
                         if data.kind == "classify" else
                         evaluate_spans(model, dev_feats, data.dev, tok, rt))
            summary.update({f"dev_{k}": v for k, v in final.items()})
            run.log("test", **{f"dev_{k}": v for k, v in final.items()})
        return run.finish(summary)


def _groups(model: nn.Module, weight_decay: float) -> list[dict]:
    decay, no_decay = [], []
    for name, p in model.named_parameters():
        (no_decay if p.ndim < 2 or "LayerNorm" in name else decay).append(p)
    return [{"params": decay, "weight_decay": weight_decay},
            {"params": no_decay, "weight_decay": 0.0}]


@torch.no_grad()
def evaluate_classify(model: BertForSequenceClassification, dev: tuple[Tensor, Tensor, Tensor],
                      task: glue.Task, tok: WordPiece, rt: runtime.Runtime,
                      batch_size: int = 128) -> dict[str, float]:
    """The task's GLUE metrics on dev (fractions) and "score", their mean."""
    was = model.training
    model.eval()
    preds = []
    for i in range(0, len(dev[0]), batch_size):
        ids, segs = dev[0][i:i + batch_size].to(rt.device), dev[1][i:i + batch_size].to(rt.device)
        logits = model(ids, segs, (ids != tok.pad_id).long()).float().cpu()
        preds.append(logits.squeeze(1) if task.regression else logits.argmax(1))
    model.train(was)
    return glue.score(task, torch.cat(preds).numpy(), dev[2].numpy())


@torch.no_grad()
def evaluate_spans(model: BertForQuestionAnswering, feats: list[S.Feature],
                   questions: list[S.Question], tok: WordPiece, rt: runtime.Runtime,
                   batch_size: int = 64) -> dict[str, float]:
    """SQuAD's official exact match and F1 (as fractions here) and "score" = F1."""
    was = model.training
    model.eval()
    starts, ends = [], []
    for i in range(0, len(feats), batch_size):
        part = feats[i:i + batch_size]
        ids = _pad([f.input_ids for f in part], tok.pad_id).to(rt.device)
        segs = _pad([f.segment_ids for f in part], 0).to(rt.device)
        s, e = model(ids, segs, (ids != tok.pad_id).long())
        starts += list(s.float().cpu())
        ends += list(e.float().cpu())
    model.train(was)
    answers = S.best_spans(starts, ends, feats, questions)
    official = S.evaluate(answers, questions)  # percentages, as the official script
    return {"exact_match": official["exact_match"] / 100, "f1": official["f1"] / 100,
            "score": official["f1"] / 100}


def builtin_tokenizer() -> WordPiece:
    """The built-in corpus's vocabulary (for a random-init model on the built-in tasks)."""
    from milestones.bert.data import builtin_wordpiece

    return builtin_wordpiece()


def builtin_comparison(pretrained: BertForPreTraining, tok: WordPiece, causal: bool, seed: int,
                       steps_cap: int | None = None) -> dict:
    """Fine-tune a copy of ``pretrained``'s encoder and a random one of the same shape on the
    built-in agreement task (quick-preset settings, in memory): dev MCC and accuracy of each."""
    import copy

    data_train, data_dev = agreement_task(4000, 1000)
    x = encode_classify(data_train, tok, 64)
    dev = encode_classify(data_dev, tok, 64)
    result = {}
    for init in ("pretrained", "random"):
        torch.manual_seed(seed)
        bert = copy.deepcopy(pretrained.bert) if init == "pretrained" else BertModel(
            pretrained.config)
        model = BertForSequenceClassification(bert, 2, 0.1, causal)
        opt = AdamW(_groups(model, 0.01), lr=1e-4, eps=1e-6)
        cfg = Config(preset="quick", task="agreement", init="random", lr=1e-4)
        g = torch.Generator().manual_seed(seed)
        n_batches = len(x[0]) // 32
        total = 3 * n_batches if steps_cap is None else min(steps_cap, 3 * n_batches)
        model.train()
        for step in range(total):
            if step % n_batches == 0:
                order = torch.randperm(len(x[0]), generator=g)
            idx = order[(step % n_batches) * 32:(step % n_batches + 1) * 32]
            ids, segs, y = x[0][idx], x[1][idx], x[2][idx]
            for group in opt.param_groups:
                group["lr"] = learning_rate(cfg, step, total)
            loss = F.cross_entropy(model(ids, segs, (ids != tok.pad_id).long()), y)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
        scores = evaluate_classify(model, dev, AGREEMENT, tok,
                                   runtime.Runtime(torch.device("cpu"), None))
        result[init] = {"dev_mcc": scores["mcc"], "dev_accuracy": scores["accuracy"],
                        "steps": total}
    return result


if __name__ == "__main__":
    raise SystemExit(cli(main, Config, PRESETS))
