"""GLUE (Wang et al. 2018), the fine-tuning benchmark of §4.1, read from the TSV files as GLUE's
``download_glue_data.py`` writes them, and scored with GLUE's metrics.

    data = load_task("rte", "data/glue")                     # {"train": [...], "dev": [...]}
    rows = encode_examples(data["train"], tok, max_len=128)   # (input_ids, segment_ids, label)
    score("rte", predictions, [e.label for e in data["dev"]]) # {"accuracy": .., "score": ..}

The eight tasks of the paper's Table 1 (GLUE without WNLI, which §4.1 leaves out): CoLA, SST-2,
MRPC, STS-B, QQP, MNLI, QNLI, RTE. Labels are the indices into :attr:`Task.labels` (the released
code's label lists), STS-B's a float score in [0, 5]. Every file error is a
:class:`~milestones.core.text.CorpusError` naming the file and the 1-based line.
"""

from __future__ import annotations

import math
import random
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np

from milestones.core.config import ConfigError
from milestones.core.text import CorpusError

__all__ = ["TASKS", "Example", "Task", "accuracy", "carve_dev", "encode_examples", "f1",
           "load_hf", "load_split", "load_task", "matthews_corrcoef", "pearson", "score",
           "spearman"]

Column = str | int  # a header's column name, or a 0-based index in a file without a header


@dataclass(frozen=True)
class Task:
    """One GLUE task: where its files are, which columns hold what, how it is scored."""

    name: str  # "cola", the key in TASKS
    title: str  # "CoLA", as GLUE writes it
    folder: str  # the task's folder in GLUE's data directory
    labels: tuple[str, ...] | None  # the label column's values, index = label; None: regression
    metrics: tuple[str, ...]  # keys of score(); "score" is their mean
    a: Column  # sentence A
    b: Column | None  # sentence B (None: single-sentence task)
    label: Column
    header: bool = True  # the first line names the columns
    dev_file: str = "dev.tsv"
    train_file: str = "train.tsv"
    extra_splits: tuple[tuple[str, str], ...] = ()  # (split, file), e.g. MNLI's mismatched dev
    skip_malformed: bool = False  # skip rows with the wrong number of columns (QQP, see below)
    hf_name: str = ""  # config of the Hugging Face dataset nyu-mll/glue
    hf_fields: tuple[str, str | None] = ("sentence", None)  # its text fields (A, B)
    hf_dev: str = "validation"

    @property
    def regression(self) -> bool:
        return self.labels is None

    @property
    def n_labels(self) -> int:
        """Classifier outputs: 1 for STS-B's regression."""
        return 1 if self.labels is None else len(self.labels)

    def file(self, split: str) -> str:
        files = {"train": self.train_file, "dev": self.dev_file, **dict(self.extra_splits)}
        if split not in files:
            raise ConfigError("split", split, f"{self.title} has the splits {', '.join(files)}")
        return files[split]


BINARY = ("0", "1")
NLI = ("entailment", "not_entailment")
TASKS: dict[str, Task] = {t.name: t for t in (
    # CoLA: no header; source, label, the original judgement, sentence
    Task("cola", "CoLA", "CoLA", BINARY, ("mcc",), a=3, b=None, label=1, header=False,
         hf_name="cola"),
    Task("sst2", "SST-2", "SST-2", BINARY, ("accuracy",), a="sentence", b=None, label="label",
         hf_name="sst2"),
    Task("mrpc", "MRPC", "MRPC", BINARY, ("accuracy", "f1"), a="#1 String", b="#2 String",
         label="Quality", hf_name="mrpc", hf_fields=("sentence1", "sentence2")),
    Task("stsb", "STS-B", "STS-B", None, ("pearson", "spearman"), a="sentence1", b="sentence2",
         label="score", hf_name="stsb", hf_fields=("sentence1", "sentence2")),
    # QQP's train.tsv has a few rows cut in two by a line break inside a question; the
    # reference readers (Hugging Face's QqpProcessor, google-research/bert#184) skip them
    Task("qqp", "QQP", "QQP", BINARY, ("accuracy", "f1"), a="question1", b="question2",
         label="is_duplicate", skip_malformed=True, hf_name="qqp",
         hf_fields=("question1", "question2")),
    Task("mnli", "MNLI", "MNLI", ("contradiction", "entailment", "neutral"), ("accuracy",),
         a="sentence1", b="sentence2", label="gold_label", dev_file="dev_matched.tsv",
         extra_splits=(("dev_mismatched", "dev_mismatched.tsv"),), hf_name="mnli",
         hf_fields=("premise", "hypothesis"), hf_dev="validation_matched"),
    Task("qnli", "QNLI", "QNLI", NLI, ("accuracy",), a="question", b="sentence", label="label",
         hf_name="qnli", hf_fields=("question", "sentence")),
    Task("rte", "RTE", "RTE", NLI, ("accuracy",), a="sentence1", b="sentence2", label="label",
         hf_name="rte", hf_fields=("sentence1", "sentence2")),
)}
NO_HEADER_COLUMNS = {"cola": 4}  # columns of the files without a header


@dataclass
class Example:
    """One GLUE example: sentence A, sentence B (None for single-sentence tasks), the label
    (an index into the task's labels, or STS-B's score) and its 1-based line in the file."""

    a: str
    b: str | None
    label: int | float
    line: int


def get_task(task: str | Task) -> Task:
    """The :class:`Task` of a name in :data:`TASKS` (any case, "-" ignored: "SST-2" works)."""
    if isinstance(task, Task):
        return task
    key = str(task).lower().replace("-", "")
    if key not in TASKS:
        raise ConfigError("task", task, f"choose from {', '.join(TASKS)}")
    return TASKS[key]


# ---- the TSV files -------------------------------------------------------------------------------

def _read_lines(path: Path) -> list[str]:
    """The file's lines, without line ends; a BOM (MRPC's) dropped, a final newline optional."""
    if not path.is_file():
        raise CorpusError(path, None, "no such file")
    data = path.read_bytes()
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        raise CorpusError(path, data[:e.start].count(b"\n") + 1, "not UTF-8 text") from None
    if not text:
        raise CorpusError(path, 1, "the file is empty")
    lines = text.split("\n")
    if lines[-1] == "":  # the final newline
        lines.pop()
    return [line.rstrip("\r") for line in lines]


def _parse_label(task: Task, value: str, path: Path, number: int) -> int | float:
    if task.labels is None:
        try:
            x = float(value)
        except ValueError:
            raise CorpusError(path, number, f"score {value!r} is not a number") from None
        if not 0.0 <= x <= 5.0:  # also rejects nan
            raise CorpusError(path, number, f"score {value!r} is outside [0, 5]")
        return x
    if value not in task.labels:
        raise CorpusError(path, number, f"label {value!r} is not one of {task.title}'s "
                          f"labels {', '.join(task.labels)}")
    return task.labels.index(value)


def load_split(task: str | Task, folder: str | Path,
               split: Literal["train", "dev", "dev_mismatched"] = "train") -> list[Example]:
    """The examples of ``split`` in a task's folder (e.g. ``glue/RTE``), in file order."""
    task = get_task(task)
    path = Path(folder) / task.file(split)
    lines = _read_lines(path)
    if task.header:
        header = lines[0].split("\t")
        wanted = [c for c in (task.a, task.b, task.label) if c is not None]
        missing = [c for c in wanted if c not in header]
        if missing:
            raise CorpusError(path, 1, f"the header lacks the column(s) "
                              f"{', '.join(map(repr, missing))} (it has {', '.join(header)})")
        a, b, label = (None if c is None else header.index(c) for c in (task.a, task.b, task.label))
        n_columns, first = len(header), 2
        if len(lines) == 1:
            raise CorpusError(path, 2, "no examples: the file ends after its header")
    else:
        a, b, label = task.a, task.b, task.label
        n_columns, first = NO_HEADER_COLUMNS[task.name], 1
    examples, skipped = [], []
    for number, line in enumerate(lines[first - 1:], first):
        cols = line.split("\t")
        if len(cols) != n_columns:
            if task.skip_malformed:
                skipped.append(number)
                continue
            what = "an empty line" if not line else f"{len(cols)} column(s): {line[:60]!r}"
            raise CorpusError(path, number, f"expected {n_columns} tab-separated columns, "
                              f"found {what}")
        examples.append(Example(cols[a], None if b is None else cols[b],
                                _parse_label(task, cols[label], path, number), number))
    if skipped:
        warnings.warn(f"{path}: skipped {len(skipped)} row(s) without {n_columns} columns "
                      f"(lines {', '.join(map(str, skipped[:10]))}"
                      f"{', ...' if len(skipped) > 10 else ''})", stacklevel=2)
    if not examples:
        raise CorpusError(path, first, "no examples")
    return examples


def carve_dev(examples: Sequence[Example], n: int, seed: int = 0
              ) -> tuple[list[Example], list[Example]]:
    """(train, dev): ``n`` examples picked by a seeded draw as dev, the rest as train, both in
    their original order. For STS-B, whose dev split is missing from the shared data."""
    if not 0 < n < len(examples):
        raise ValueError(f"cannot hold out {n} of {len(examples)} examples as dev")
    held = set(random.Random(seed).sample(range(len(examples)), n))
    return ([e for i, e in enumerate(examples) if i not in held],
            [e for i, e in enumerate(examples) if i in held])


def load_task(task: str | Task, data_dir: str | Path, dev_size: int | None = None,
              seed: int = 0) -> dict[str, list[Example]]:
    """``{"train": [...], "dev": [...]}`` (MNLI adds "dev_mismatched") from GLUE's data
    directory (the folder holding CoLA/, SST-2/, ...). Without a dev file, ``dev_size`` train
    examples are held out as dev (:func:`carve_dev`); with ``dev_size=None`` that is an error."""
    task = get_task(task)
    folder = Path(data_dir) / task.folder
    train = load_split(task, folder, "train")
    if (folder / task.dev_file).is_file():
        dev = load_split(task, folder, "dev")
    elif dev_size is None:
        raise CorpusError(folder / task.dev_file, None, "no such file; pass dev_size=N to hold "
                          "out N training examples as the dev split instead")
    else:
        train, dev = carve_dev(train, dev_size, seed)
    splits = {"train": train, "dev": dev}
    for split, file in task.extra_splits:
        if (folder / file).is_file():
            splits[split] = load_split(task, folder, split)
    return splits


def load_hf(task: str | Task, root: str | Path | None = None) -> dict[str, list[Example]]:
    """The same splits from Hugging Face ``datasets`` (``nyu-mll/glue``), downloaded on first use
    (or a ``save_to_disk`` copy in ``<root>/glue/<config>``); ``line`` is the 1-based row."""
    from milestones.core.data import data_root
    from milestones.core.hub import load_hf_dataset

    task = get_task(task)
    splits = {"train": "train", "dev": task.hf_dev}
    if task.name == "mnli":
        splits["dev_mismatched"] = "validation_mismatched"
    dsets = load_hf_dataset("nyu-mll/glue", task.hf_name, cache_dir=None,
                            saved=data_root(str(root) if root else None) / "glue" / task.hf_name,
                            what=f"GLUE {task.title}", splits=tuple(splits.values()),
                            offline=f"the GLUE TSV files: load_task({task.name!r}, data_dir)")
    out = {}
    for split, hf_split in splits.items():
        rows = dsets[hf_split]
        names = getattr(rows.features["label"], "names", None)
        field_a, field_b = task.hf_fields
        examples = []
        for i, row in enumerate(rows, 1):
            value = row["label"]
            if task.labels is None:
                label: int | float = float(value)
            elif names and names[value] in task.labels:  # MNLI, QNLI, RTE: by name
                label = task.labels.index(names[value])
            else:  # "0"/"1" tasks: Hugging Face's indices are GLUE's labels
                label = int(value)
            examples.append(Example(row[field_a], None if field_b is None else row[field_b],
                                    label, i))
        out[split] = examples
    return out


def encode_examples(examples: Sequence[Example], tok, max_len: int = 128
                    ) -> list[tuple[list[int], list[int], int | float]]:
    """``([CLS] A [SEP] (B [SEP]), segment ids, label)`` per example (``tok.encode_pair``, the
    longer sentence cut first until the pair fits ``max_len``)."""
    return [(*tok.encode_pair(e.a, e.b, max_len), e.label) for e in examples]


# ---- metrics -------------------------------------------------------------------------------------

def _pair(predictions, golds) -> tuple[np.ndarray, np.ndarray]:
    p, g = np.asarray(predictions), np.asarray(golds)
    if p.ndim != 1 or p.shape != g.shape:
        raise ValueError(f"predictions {p.shape} and golds {g.shape}: need two equal-length "
                         "1-D sequences")
    if len(p) == 0:
        raise ValueError("no predictions to score")
    return p, g


def accuracy(predictions, golds) -> float:
    p, g = _pair(predictions, golds)
    return float(np.mean(p == g))


def f1(predictions, golds) -> float:
    """F1 of the positive class 1 (MRPC's "equivalent", QQP's "duplicate"); 0 without any."""
    p, g = _pair(predictions, golds)
    tp = np.sum((p == 1) & (g == 1))
    wrong = np.sum(p != g)
    return float(2 * tp / (2 * tp + wrong)) if tp else 0.0


def matthews_corrcoef(predictions, golds) -> float:
    """Matthews correlation (CoLA's metric), any number of classes; 0 when predictions or golds
    are constant (the denominator is 0), as scikit-learn returns."""
    p, g = _pair(predictions, golds)
    classes, inverse = np.unique(np.concatenate([g, p]), return_inverse=True)
    k, n = len(classes), len(g)
    confusion = np.zeros((k, k), dtype=np.float64)
    np.add.at(confusion, (inverse[:n], inverse[n:]), 1)
    t, q = confusion.sum(1), confusion.sum(0)  # per class: gold and predicted counts
    correct = np.trace(confusion)
    cov_tp = correct * n - t @ q
    cov_pp, cov_tt = n * n - q @ q, n * n - t @ t
    if cov_pp * cov_tt == 0:
        return 0.0
    return float(cov_tp / math.sqrt(cov_pp * cov_tt))


def pearson(predictions, golds) -> float:
    """Pearson's r; 0 (not nan) when either side is constant."""
    p, g = (x.astype(np.float64) for x in _pair(predictions, golds))
    p, g = p - p.mean(), g - g.mean()
    denominator = math.sqrt(float(p @ p) * float(g @ g))
    return float(p @ g / denominator) if denominator > 0 else 0.0


def _ranks(x: np.ndarray) -> np.ndarray:
    """1-based ranks, ties sharing their average rank (scipy's ``rankdata``)."""
    _, inverse, counts = np.unique(x, return_inverse=True, return_counts=True)
    ends = np.cumsum(counts)
    return ((ends - counts + 1 + ends) / 2.0)[inverse.reshape(-1)]


def spearman(predictions, golds) -> float:
    """Spearman's rho: Pearson's r of the ranks, ties averaged."""
    p, g = _pair(predictions, golds)
    return pearson(_ranks(p), _ranks(g))


METRICS = {"mcc": matthews_corrcoef, "accuracy": accuracy, "f1": f1, "pearson": pearson,
           "spearman": spearman}


def score(task: str | Task, predictions, golds) -> dict[str, float]:
    """The task's GLUE metrics, as fractions, and ``"score"``: their mean, the number the GLUE
    leaderboard averages (e.g. MRPC: (F1 + accuracy) / 2). Predictions: label indices (the
    argmax of the logits), STS-B's predicted scores."""
    task = get_task(task)
    results = {name: METRICS[name](predictions, golds) for name in task.metrics}
    results["score"] = float(np.mean(list(results.values())))
    return results
