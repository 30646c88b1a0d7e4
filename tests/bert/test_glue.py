"""GLUE (§4.1): the TSV readers on the real files (counts from the shared data's README) and on a
small file per task, every bad input's message, and the metrics against scipy and hand values."""

import random
from pathlib import Path

import numpy as np
import pytest

from milestones.bert.glue import (
    TASKS,
    Example,
    accuracy,
    carve_dev,
    encode_examples,
    f1,
    load_split,
    load_task,
    matthews_corrcoef,
    pearson,
    score,
    spearman,
)
from milestones.core.config import ConfigError
from milestones.core.text import CorpusError

GLUE_DIRS = [Path(__file__).resolve().parents[3] / "shared" / "data" / "glue",
             Path("/work/shared/data/glue")]


@pytest.fixture(scope="module")
def glue_dir() -> Path:
    for folder in GLUE_DIRS:
        if (folder / "CoLA" / "train.tsv").is_file():
            return folder
    pytest.skip(f"the GLUE TSVs are not in {' or '.join(map(str, GLUE_DIRS))}")


def balance(examples: list[Example], n_labels: int) -> list[int]:
    return [sum(e.label == k for e in examples) for k in range(n_labels)]


# ---- the real files ------------------------------------------------------------------------------

def test_cola(glue_dir):
    data = load_task("cola", glue_dir)
    assert len(data["train"]) == 8551 and len(data["dev"]) == 1043
    assert balance(data["train"], 2) == [2528, 6023]  # 0 = unacceptable, 1 = acceptable
    assert balance(data["dev"], 2) == [322, 721]
    first = data["train"][0]
    assert first.a.startswith("Our friends won't buy this analysis") and first.b is None
    assert first.line == 1 and first.label == 1  # no header


def test_sst2(glue_dir):
    data = load_task("SST-2", glue_dir)
    assert len(data["train"]) == 67349 and balance(data["train"], 2) == [29780, 37569]
    assert len(data["dev"]) == 872 and balance(data["dev"], 2) == [428, 444]
    assert data["dev"][0].line == 2  # after the header


def test_mrpc(glue_dir):
    data = load_task("mrpc", glue_dir)
    assert len(data["train"]) == 3668 and balance(data["train"], 2) == [1194, 2474]
    assert len(data["dev"]) == 408 and balance(data["dev"], 2) == [129, 279]
    assert all(e.b for e in data["train"])
    assert any('"' in e.a for e in data["train"])  # bare quotes kept as they are


def test_rte(glue_dir):
    data = load_task("rte", glue_dir)
    assert TASKS["rte"].labels == ("entailment", "not_entailment")
    assert len(data["train"]) == 2490 and balance(data["train"], 2) == [1249, 1241]
    assert len(data["dev"]) == 277 and balance(data["dev"], 2) == [146, 131]


def test_stsb_has_no_dev_split_unless_one_is_carved(glue_dir):
    train = load_split("stsb", glue_dir / "STS-B", "train")
    assert len(train) == 5749
    assert all(isinstance(e.label, float) and 0 <= e.label <= 5 for e in train)
    assert train[0].a == "A plane is taking off." and train[0].label == 5.0
    with pytest.raises(CorpusError, match=r"STS-B/dev\.tsv.*no such file.*dev_size"):
        load_task("stsb", glue_dir)
    data = load_task("stsb", glue_dir, dev_size=1500, seed=3)
    assert len(data["train"]) == 4249 and len(data["dev"]) == 1500
    again = load_task("stsb", glue_dir, dev_size=1500, seed=3)
    assert [e.line for e in again["dev"]] == [e.line for e in data["dev"]]


def test_encode_examples(glue_dir):
    from milestones.bert.tokenizer import train_wordpiece

    dev = load_split("rte", glue_dir / "RTE", "dev")
    tok = train_wordpiece([t for e in dev for t in (e.a, e.b)], vocab_size=1000)
    rows = encode_examples(dev, tok, max_len=64)
    assert len(rows) == len(dev)
    for (ids, segments, label), example in zip(rows, dev, strict=True):
        assert ids[0] == tok.cls_id and ids[-1] == tok.sep_id and ids.count(tok.sep_id) == 2
        assert len(ids) == len(segments) <= 64 and label == example.label
        assert segments == sorted(segments) and segments[0] == 0 and segments[-1] == 1


# ---- one small file per task ---------------------------------------------------------------------

MNLI_HEAD = ("index\tpromptID\tpairID\tgenre\tsentence1_binary_parse\tsentence2_binary_parse\t"
             "sentence1_parse\tsentence2_parse\tsentence1\tsentence2")
SMALL = {  # task -> (file, text, expected (a, b, label, line) of each example)
    "cola": ("train.tsv", "gj04\t1\t\tThe sailors rode.\ngj04\t0\t*\tRode sailors the.\n",
             [("The sailors rode.", None, 1, 1), ("Rode sailors the.", None, 0, 2)]),
    "sst2": ("dev.tsv", "sentence\tlabel\na charming journey \t1\nbleak \t0\n",
             [("a charming journey ", None, 1, 2), ("bleak ", None, 0, 3)]),
    "mrpc": ("train.tsv", "\ufeffQuality\t#1 ID\t#2 ID\t#1 String\t#2 String\n"
             '1\t7\t8\tHe said " yes " .\tHe agreed .\n',
             [('He said " yes " .', "He agreed .", 1, 2)]),
    "stsb": ("train.tsv", "index\tgenre\tfilename\tyear\told_index\tsource1\tsource2\t"
             "sentence1\tsentence2\tscore\n0\tmain\tMSRvid\t2012\t0001\tnone\tnone\t"
             "A plane takes off.\tAn air plane takes off.\t3.800\n",
             [("A plane takes off.", "An air plane takes off.", 3.8, 2)]),
    "qqp": ("dev.tsv", "id\tqid1\tqid2\tquestion1\tquestion2\tis_duplicate\n"
            "5\t11\t12\tHow do I learn?\tHow to learn?\t1\n",
            [("How do I learn?", "How to learn?", 1, 2)]),
    "mnli": ("dev_matched.tsv", f"{MNLI_HEAD}\tlabel1\tlabel2\tlabel3\tlabel4\tlabel5\t"
             "gold_label\n0\t1\t1n\tfiction\t( a )\t( b )\t(A)\t(B)\tThe cat sat.\tA cat sat.\t"
             "entailment\tentailment\tneutral\tentailment\tentailment\tentailment\n",
             [("The cat sat.", "A cat sat.", 1, 2)]),
    "qnli": ("train.tsv", "index\tquestion\tsentence\tlabel\n"
             "0\tWho wrote it?\tShe wrote it.\tentailment\n1\tWhen?\tNo.\tnot_entailment\n",
             [("Who wrote it?", "She wrote it.", 0, 2), ("When?", "No.", 1, 3)]),
    "rte": ("dev.tsv", "index\tsentence1\tsentence2\tlabel\n0\tA.\tB.\tnot_entailment",
            [("A.", "B.", 1, 2)]),  # no final newline
}


@pytest.mark.parametrize("task", list(SMALL))
def test_every_tasks_layout(task, tmp_path):
    file, text, expected = SMALL[task]
    (tmp_path / file).write_text(text, encoding="utf-8")
    split = "train" if file == "train.tsv" else "dev"
    examples = load_split(task, tmp_path, split)
    assert [(e.a, e.b, e.label, e.line) for e in examples] == expected


def test_the_paper_set_of_tasks():
    assert list(TASKS) == ["cola", "sst2", "mrpc", "stsb", "qqp", "mnli", "qnli", "rte"]
    assert TASKS["mnli"].labels == ("contradiction", "entailment", "neutral")
    assert TASKS["mnli"].dev_file == "dev_matched.tsv" and TASKS["stsb"].regression
    assert TASKS["stsb"].n_labels == 1 and TASKS["mnli"].n_labels == 3


def test_mnli_mismatched_and_load_task(tmp_path):
    folder = tmp_path / "MNLI"
    folder.mkdir()
    row = "\t".join(["0", "1", "1n", "g", "x", "y", "X", "Y", "P.", "H.", "neutral", "neutral"])
    (folder / "train.tsv").write_text(f"{MNLI_HEAD}\tlabel1\tgold_label\n{row}\n")
    for name in ("dev_matched.tsv", "dev_mismatched.tsv"):
        (folder / name).write_text(SMALL["mnli"][1])
    data = load_task("mnli", tmp_path)
    assert sorted(data) == ["dev", "dev_mismatched", "train"]
    assert data["train"][0].label == 2 and data["dev_mismatched"][0].label == 1


def test_qqp_skips_rows_cut_by_a_line_break(tmp_path):
    (tmp_path / "train.tsv").write_text(
        "id\tqid1\tqid2\tquestion1\tquestion2\tis_duplicate\n"
        "1\t2\t3\tWhy is the\n"  # a question with a line break inside: two broken rows
        "sky blue?\tWhy blue?\t0\n"
        "4\t5\t6\tA?\tB?\t1\n")
    with pytest.warns(UserWarning, match=r"skipped 2 row\(s\).*lines 2, 3"):
        examples = load_split("qqp", tmp_path, "train")
    assert [(e.a, e.label, e.line) for e in examples] == [("A?", 1, 4)]


# ---- bad input -----------------------------------------------------------------------------------

BAD = {  # case -> (task, file text, line, what the message says)
    "missing column": ("rte", "index\tsentence1\tsentence2\tlabel\n0\tA.\tB.\tentailment\n"
                       "1\tA.\tentailment\n", 3, "expected 4 tab-separated columns, found 3"),
    "blank line": ("sst2", "sentence\tlabel\ngood\t1\n\nbad\t0\n", 3, "found an empty line"),
    "bad label": ("cola", "gj04\t1\t\tFine.\ngj04\t2\t\tNot fine.\n", 2, "label '2' is not one"),
    "bad nli label": ("qnli", "index\tquestion\tsentence\tlabel\n0\tQ?\tA.\tentails\n", 2,
                      "label 'entails'"),
    "bad score": ("stsb", SMALL["stsb"][1].replace("3.800", "high"), 2, "'high' is not a number"),
    "score above 5": ("stsb", SMALL["stsb"][1].replace("3.800", "5.5"), 2, "outside [0, 5]"),
    "nan score": ("stsb", SMALL["stsb"][1].replace("3.800", "nan"), 2, "outside [0, 5]"),
    "empty file": ("mrpc", "", 1, "the file is empty"),
    "header only": ("rte", "index\tsentence1\tsentence2\tlabel\n", 2, "no examples"),
    "wrong header": ("rte", "index\tpremise\thypothesis\tlabel\n0\tA.\tB.\tentailment\n", 1,
                     "lacks the column(s) 'sentence1', 'sentence2'"),
}


@pytest.mark.parametrize("case", list(BAD))
def test_bad_input_names_the_file_and_the_line(case, tmp_path):
    task, text, line, why = BAD[case]
    path = tmp_path / "train.tsv"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(CorpusError) as error:
        load_split(task, tmp_path, "train")
    assert str(error.value).startswith(f"{path}, line {line}: ")
    assert why in str(error.value) and error.value.line == line
    assert isinstance(error.value, ConfigError)  # reported in one line by the command line


def test_missing_file_unknown_task_and_split(tmp_path):
    with pytest.raises(CorpusError, match=r"CoLA/train\.tsv: no such file"):
        load_task("cola", tmp_path)
    with pytest.raises(ConfigError, match=r"`task`.*'wnli'.*choose from cola, sst2"):
        load_split("wnli", tmp_path, "train")
    with pytest.raises(ConfigError, match=r"`split`.*'test'.*train, dev"):
        load_split("rte", tmp_path, "test")


def test_carve_dev_is_deterministic_and_disjoint():
    examples = [Example(f"s{i}", None, i % 2, i + 1) for i in range(100)]
    train, dev = carve_dev(examples, 20, seed=1)
    assert len(train) == 80 and len(dev) == 20
    assert sorted(e.line for e in train + dev) == list(range(1, 101))
    assert [e.line for e in dev] == sorted(e.line for e in dev)  # file order kept
    assert carve_dev(examples, 20, seed=1)[1] == dev and carve_dev(examples, 20, seed=2)[1] != dev
    with pytest.raises(ValueError):
        carve_dev(examples, 100)


# ---- metrics -------------------------------------------------------------------------------------

def test_matthews_corrcoef_by_hand():
    gold = [1, 1, 1, 0, 0, 0]
    pred = [1, 1, 0, 0, 0, 1]  # tp 2, tn 2, fp 1, fn 1: (2*2 - 1*1) / sqrt(3*3*3*3) = 1/3
    assert matthews_corrcoef(pred, gold) == pytest.approx(1 / 3)
    assert matthews_corrcoef(gold, gold) == pytest.approx(1.0)
    assert matthews_corrcoef([1 - g for g in gold], gold) == pytest.approx(-1.0)
    assert matthews_corrcoef([1] * 6, gold) == 0.0  # constant predictions: 0, not nan
    assert matthews_corrcoef([0] * 6, [0] * 6) == 0.0


def test_matthews_corrcoef_against_the_binary_formula():
    rng = np.random.default_rng(0)
    gold, pred = rng.integers(0, 2, 500), rng.integers(0, 2, 500)
    tp, tn = np.sum((pred == 1) & (gold == 1)), np.sum((pred == 0) & (gold == 0))
    fp, fn = np.sum((pred == 1) & (gold == 0)), np.sum((pred == 0) & (gold == 1))
    expected = (tp * tn - fp * fn) / np.sqrt(float((tp + fp) * (tp + fn) * (tn + fp) * (tn + fn)))
    assert matthews_corrcoef(pred, gold) == pytest.approx(expected)


def test_accuracy_and_f1_by_hand():
    gold = [1, 1, 1, 0, 0]
    pred = [1, 0, 1, 1, 0]  # tp 2, fp 1, fn 1: precision 2/3, recall 2/3
    assert accuracy(pred, gold) == pytest.approx(0.6)
    assert f1(pred, gold) == pytest.approx(2 / 3)
    assert f1([0] * 5, gold) == 0.0 and f1([0, 0], [0, 0]) == 0.0
    with pytest.raises(ValueError, match="equal-length"):
        accuracy([1, 0], [1])


def test_correlations_against_scipy():
    stats = pytest.importorskip("scipy.stats")
    rng = np.random.default_rng(1)
    gold = rng.integers(0, 6, 300).astype(float)  # STS-B-like scores with many ties
    pred = gold + rng.normal(0, 1.5, 300)
    pred[:50] = np.round(pred[:50])  # ties on the predicted side too
    assert pearson(pred, gold) == pytest.approx(stats.pearsonr(pred, gold)[0], abs=1e-12)
    assert spearman(pred, gold) == pytest.approx(stats.spearmanr(pred, gold)[0], abs=1e-12)
    assert pearson(np.full(300, 2.5), gold) == 0.0 and spearman(np.full(300, 2.5), gold) == 0.0


def test_score_per_task():
    gold, pred = [1, 1, 1, 0, 0], [1, 0, 1, 1, 0]
    mrpc = score("mrpc", pred, gold)
    assert mrpc == pytest.approx({"accuracy": 0.6, "f1": 2 / 3, "score": (0.6 + 2 / 3) / 2})
    assert set(score("cola", pred, gold)) == {"mcc", "score"}
    assert score("rte", pred, gold) == pytest.approx({"accuracy": 0.6, "score": 0.6})
    assert set(score("qqp", pred, gold)) == {"accuracy", "f1", "score"}
    stsb = score("stsb", [0.5, 2.0, 4.5, 3.0], [1.0, 2.2, 5.0, 2.0])
    assert stsb["score"] == pytest.approx((stsb["pearson"] + stsb["spearman"]) / 2)
    assert stsb["spearman"] == pytest.approx(0.8)
    rng = random.Random(0)
    mnli_gold = [rng.randrange(3) for _ in range(60)]
    assert score("mnli", mnli_gold, mnli_gold) == {"accuracy": 1.0, "score": 1.0}
