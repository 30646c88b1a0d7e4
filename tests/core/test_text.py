"""core.text: TSV files, Hugging Face sentence pairs offline, the shared BPE tokenizer,
length-bucketed token batches, BLEU. The fixtures ``corpus`` (the built-in language pair) and
``tok`` (a BPE trained on it) are in tests/conftest.py."""

import random
import time

import pytest
import torch

from milestones.core import text as D
from milestones.core.config import ConfigError
from milestones.core.data import DataUnavailable
from milestones.core.text import BOS_ID, EOS_ID, PAD_ID
from tests.core.test_hub import cache_dataset

pytest.importorskip("tokenizers", reason="needs the text extra: pip install 'milestones[text]'")
pytest.importorskip("sacrebleu", reason="needs the text extra: pip install 'milestones[text]'")


# ---- TSV files ---------------------------------------------------------------------------------

def write(tmp_path, text: str, name: str = "pairs.tsv"):
    path = tmp_path / name
    path.write_bytes(text.encode())
    return path


def test_load_tsv_reads_pairs(tmp_path):
    assert D.load_tsv(write(tmp_path, "a b\tx y\n c \t z\n")) == [("a b", "x y"), ("c", "z")]
    assert D.load_tsv(write(tmp_path, "a\tx\r\nb\ty")) == [("a", "x"), ("b", "y")]  # CRLF, no \n


@pytest.mark.parametrize("text, line, why", [
    ("a\tx\nno tab here\n", 2, "found 0"),
    ("a\tx\nb\ty\nc\tz\td\n", 3, "found 2"),
    ("\tx\n", 1, "empty source"),
    ("a\tx\nb\t  \n", 2, "empty target"),
    ("a\tx\n\nb\ty\n", 2, "empty line"),
    ("a\tx\n\n", 2, "empty line"),
    ("", None, "empty"),
])
def test_load_tsv_errors_name_the_line(tmp_path, text, line, why):
    path = write(tmp_path, text, "bad.tsv")
    with pytest.raises(D.CorpusError, match=why) as err:
        D.load_tsv(path)
    assert isinstance(err.value, ValueError) and err.value.line == line
    assert "bad.tsv" in str(err.value)
    assert (f"line {line}:" in str(err.value)) == (line is not None)


def test_load_tsv_bad_encoding_and_missing_file(tmp_path):
    path = tmp_path / "latin1.tsv"
    path.write_bytes(b"a\tx\nb\t\xe9\n")
    with pytest.raises(D.CorpusError, match="line 2: not UTF-8"):
        D.load_tsv(path)
    with pytest.raises(DataUnavailable, match="nope.tsv"):
        D.load_corpus("tsv", data_files=str(tmp_path / "nope.tsv"))


def test_tsv_corpus_from_one_or_three_files(tmp_path):
    lines = [f"source {i}\ttarget {i}" for i in range(300)]
    one = D.load_corpus("tsv", data_files=[str(write(tmp_path, "\n".join(lines) + "\n"))],
                        lang_pair="fr-en")
    assert (len(one.train), len(one.valid), len(one.test)) == (294, 3, 3)
    assert sorted(one.train + one.valid + one.test) == sorted(D.load_tsv(tmp_path / "pairs.tsv"))
    assert one.train == sorted(one.train, key=lambda p: int(p[0].split()[1]))  # file order kept
    assert (one.name, one.src_lang, one.tgt_lang) == ("tsv", "fr", "en")
    assert D.load_corpus(data_files=str(tmp_path / "pairs.tsv"), lang_pair="fr-en") == one
    tiny = D.load_corpus(data_files=[str(write(tmp_path, "a\tb\nc\td\ne\tf\n", "t.tsv"))])
    assert (len(tiny.train), len(tiny.valid), len(tiny.test)) == (1, 1, 1)
    files = [str(write(tmp_path, f"{s} 1\t{s} one\n{s} 2\t{s} two\n", f"{s}.tsv"))
             for s in ("train", "valid", "test")]
    three = D.load_corpus("tsv", data_files=files)
    assert three.valid == [("valid 1", "valid one"), ("valid 2", "valid two")]
    assert three.test[1] == ("test 2", "test two") and len(three.train) == 2
    with pytest.raises(ValueError, match="one file .* or three"):
        D.load_corpus("tsv", data_files=files[:2])
    (tmp_path / "root").mkdir()
    write(tmp_path / "root", "a\tb\nc\td\ne\tf\n", "rel.tsv")  # relative: found under the root
    assert len(D.load_corpus(data_files="rel.tsv", data_root=str(tmp_path / "root")).train) == 1


def test_a_tsv_of_fewer_than_3_pairs_is_a_corpus_error(tmp_path):
    path = write(tmp_path, "a\tb\nc\td\n", "two.tsv")
    with pytest.raises(D.CorpusError, match="two.tsv: 2 pairs: .* needs at least 3") as err:
        D.load_corpus("tsv", data_files=[str(path)])
    assert err.value.field == "data_files" and err.value.line is None

# ---- named datasets ------------------------------------------------------------------------------

def test_unknown_dataset_or_language_pair():
    with pytest.raises(ValueError, match="unknown dataset 'wmt99'.*synthetic, wmt14"):
        D.load_corpus("wmt99")
    with pytest.raises(ValueError, match="no language pair 'en-xx'.*en-de, de-en, en-fr"):
        D.load_corpus("wmt14", lang_pair="en-xx")
    with pytest.raises(ValueError, match="no language pair 'en-fr'.*en-de"):
        D.load_corpus("multi30k", lang_pair="en-fr")
    with pytest.raises(ValueError, match="only apply to the synthetic"):
        D.load_corpus("wmt14", n_train=10)
    assert len(D.load_corpus("synthetic", n_train=10, n_valid=2, n_test=2, n_long=0).train) == 10


def test_bad_names_are_config_errors_naming_the_option():
    for kwargs, field in [({"name": "wmt99"}, "dataset"),
                          ({"name": "wmt14", "lang_pair": "en-xx"}, "lang_pair"),
                          ({"name": "iwslt2017", "lang_pair": "de"}, "lang_pair"),
                          ({"name": "tsv", "data_files": ["a.tsv", "b.tsv"]}, "data_files")]:
        with pytest.raises(ConfigError) as err:  # the command line: one line, exit code 2
            D.load_corpus(**kwargs)
        assert err.value.field == field and f"--{field.replace('_', '-')}" in str(err.value)
    assert D.HF_DATASETS["multi30k"] == ("en-de", "de-en")

@pytest.mark.parametrize("name", ["wmt14", "multi30k"])
def test_missing_hugging_face_dataset_is_data_unavailable(tmp_path, name):
    start = time.perf_counter()
    with pytest.raises(DataUnavailable) as err:
        D.load_corpus(name, lang_pair="en-de", data_root=str(tmp_path))
    assert time.perf_counter() - start < 10  # offline: no retries against the Hub
    message = str(err.value)
    assert name in message and "--dataset synthetic" in message and "--data-files" in message
    assert str(tmp_path / "huggingface") in message and "load_dataset(" in message


def test_hugging_face_rows_become_pairs(monkeypatch):
    datasets = pytest.importorskip("datasets")

    def fake_load_dataset(repo, config=None, cache_dir=None):
        def split(n):
            if repo == "wmt/wmt14":
                rows = [{"de": f"hallo {i} ", "en": f"hello {i}"} for i in range(n)]
                rows.append({"de": "", "en": "dropped"})  # an empty side is dropped
                return datasets.Dataset.from_dict({"translation": rows})
            return datasets.Dataset.from_dict({"en": [f"hello {i}" for i in range(n)],
                                               "de": [f"hallo {i}" for i in range(n)]})
        assert (repo, config) in {("wmt/wmt14", "de-en"), ("bentrevett/multi30k", None)}
        return datasets.DatasetDict(train=split(5), validation=split(2), test=split(3))

    monkeypatch.setattr(datasets, "load_dataset", fake_load_dataset)
    wmt = D.load_corpus("wmt14", lang_pair="en-de")
    assert (wmt.src_lang, wmt.tgt_lang) == ("en", "de")
    assert wmt.train[1] == ("hello 1", "hallo 1") and len(wmt.train) == 5
    assert (len(wmt.valid), len(wmt.test)) == (2, 3) and "wmt/wmt14" in wmt.source
    reverse = D.load_corpus("multi30k", lang_pair="de-en")
    assert reverse.test[2] == ("hallo 2", "hello 2")


def test_a_cached_dataset_loads_offline(tmp_path):
    """Multi30k as a download leaves it in <data root>/huggingface, read with no network."""
    rows = {split: {"en": [f"hello {i}" for i in range(n)], "de": [f"hallo {i}" for i in range(n)]}
            for split, n in (("train", 6), ("validation", 2), ("test", 3))}
    folder = cache_dataset(tmp_path / "huggingface", "bentrevett/multi30k", None, rows)
    start = time.perf_counter()
    corpus = D.load_corpus("multi30k", lang_pair="de-en", data_root=str(tmp_path))
    assert time.perf_counter() - start < 5
    assert corpus.train[5] == ("hallo 5", "hello 5") and len(corpus.test) == 3
    assert str(folder) in corpus.source and "bentrevett/multi30k" in corpus.source

# ---- Multi30k as local parallel text files ------------------------------------------------------

def write_parallel(folder, splits: dict, gz: bool = False):
    """Multi30k's raw layout: <split>.en / <split>.de, one sentence a line (gzipped: .gz)."""
    import gzip

    folder.mkdir(parents=True, exist_ok=True)
    for split, n in splits.items():
        for lang, word in (("en", "hello"), ("de", "hallo")):
            data = "".join(f"{word} {split} {i}\n" for i in range(n)).encode()
            name = f"{split}.{lang}" + ".gz" * gz
            (folder / name).write_bytes(gzip.compress(data) if gz else data)
    return folder


@pytest.mark.parametrize("gz", [False, True])
def test_multi30k_from_a_folder_of_parallel_files_either_way_round(tmp_path, gz):
    folder = write_parallel(tmp_path / "m30k", {"train": 5, "val": 2, "test2016": 3}, gz=gz)
    de_en = D.load_corpus("multi30k", lang_pair="de-en", data_dir=str(folder))
    assert (de_en.src_lang, de_en.tgt_lang) == ("de", "en")
    assert de_en.train[4] == ("hallo train 4", "hello train 4") and len(de_en.train) == 5
    assert de_en.valid == [("hallo val 0", "hello val 0"), ("hallo val 1", "hello val 1")]
    assert de_en.test[2] == ("hallo test2016 2", "hello test2016 2")
    assert str(folder) in de_en.source and "test2016.de" in de_en.source
    en_de = D.load_corpus("multi30k", lang_pair="en-de", data_dir=str(folder))
    assert en_de.train[0] == ("hello train 0", "hallo train 0")


def test_multi30k_under_the_data_root_is_read_before_the_hub(tmp_path):
    write_parallel(tmp_path / "multi30k", {"train": 2100, "val": 2})  # no test files
    start = time.perf_counter()
    corpus = D.load_corpus("multi30k", lang_pair="de-en", data_root=str(tmp_path))
    assert time.perf_counter() - start < 5  # no Hub involved
    # a seeded 1,000 training pairs are the test set, and are not trained on
    assert (len(corpus.train), len(corpus.test)) == (1100, D.HELD_OUT_TEST)
    assert not set(corpus.train) & set(corpus.test) and "held out" in corpus.source
    again = D.load_corpus("multi30k", lang_pair="de-en", data_root=str(tmp_path))
    assert again.test == corpus.test  # the same held-out pairs every time


def test_missing_or_mismatched_parallel_files_fail_clearly(tmp_path):
    folder = write_parallel(tmp_path / "m30k", {"train": 3})  # no val files
    with pytest.raises(DataUnavailable) as err:
        D.load_corpus("multi30k", lang_pair="de-en", data_dir=str(folder))
    message = str(err.value)
    assert "multi30k de-en" in message and "no val.de / val.en" in message
    assert str(folder / "val.de[.gz]") in message and "--data-dir" in message
    assert "--dataset synthetic" in message  # the offline alternative
    (folder / "val.en").write_text("a\nb\n")
    (folder / "val.de").write_text("a\n")
    with pytest.raises(D.CorpusError, match="val.en: 2 lines, but val.de has 1"):
        D.load_corpus("multi30k", lang_pair="de-en", data_dir=str(folder))
    with pytest.raises(ConfigError, match="--dataset multi30k, not wmt14") as err:
        D.load_corpus("wmt14", data_dir=str(folder))
    assert err.value.field == "data_dir"


def test_no_local_multi30k_and_no_hub_names_both_ways_to_get_it(tmp_path):
    with pytest.raises(DataUnavailable) as err:
        D.load_corpus("multi30k", lang_pair="en-de", data_root=str(tmp_path))
    message = str(err.value)
    assert str(tmp_path / "multi30k" / "train.en[.gz]") in message  # the local files looked for
    assert "load_dataset(" in message and "--data-dir" in message  # the Hub, or the files

# ---- tokenizer -----------------------------------------------------------------------------------

def test_tokenizer_round_trip_and_special_ids(corpus, tok):
    assert 100 < tok.vocab_size <= 600
    assert (tok.pad_id, tok.bos_id, tok.eos_id, tok.unk_id) == (PAD_ID, BOS_ID, EOS_ID, 3)
    assert [tok.hf.token_to_id(t) for t in ("[PAD]", "[BOS]", "[EOS]", "[UNK]")] == [0, 1, 2, 3]
    for src, tgt in corpus.valid + corpus.extra["long"]:
        for text in (src, tgt):
            ids = tok.encode(text)
            assert min(ids) > tok.unk_id  # no special token inside, no unknown piece
            assert tok.decode(ids) == text  # exact round trip
    ids = tok.encode(corpus.test[0][1])
    assert tok.decode([BOS_ID, *ids, EOS_ID, PAD_ID, PAD_ID]) == corpus.test[0][1]
    assert tok.decode(torch.tensor(ids)) == corpus.test[0][1]
    assert tok.unk_id in tok.encode("a Ω b")  # unknown characters
    assert tok.decode(tok.encode("a, b.")) == "a, b."  # punctuation is detokenised


def test_tokenizer_cache_and_save(corpus, tok, tmp_path):
    texts = [s for pair in corpus.train for s in pair]
    again = D.train_tokenizer(iter(texts), 600, tmp_path / "cache")
    assert again.origin.startswith("trained")
    cached = D.train_tokenizer(texts, 600, tmp_path / "cache")
    assert cached.origin.startswith("loaded from")
    assert len(list((tmp_path / "cache").iterdir())) == 1
    sample = [t for pair in corpus.test[:50] for t in pair]
    assert [cached.encode(t) for t in sample] == [again.encode(t) for t in sample]
    assert [tok.encode(t) for t in sample] == [again.encode(t) for t in sample]  # deterministic
    D.train_tokenizer(texts, 400, tmp_path / "cache")  # another size: another file
    D.train_tokenizer(texts[:-1], 600, tmp_path / "cache")  # other texts: another file
    assert len(list((tmp_path / "cache").iterdir())) == 3
    tok.save(tmp_path / "tok.json")
    loaded = D.Tokenizer.load(tmp_path / "tok.json")
    assert loaded.vocab_size == tok.vocab_size
    assert [loaded.encode(t) for t in sample] == [tok.encode(t) for t in sample]


def test_encode_pairs(corpus, tok):
    pairs = corpus.valid
    encoded = D.encode_pairs(pairs, tok)
    assert len(encoded) == len(pairs)
    assert encoded[3] == (tok.encode(pairs[3][0]), tok.encode(pairs[3][1]))
    cap = sorted(len(s) for s, _ in encoded)[len(encoded) // 2]
    short = D.encode_pairs(pairs, tok, max_len=cap)
    assert 0 < len(short) < len(encoded)
    assert all(len(s) <= cap and len(t) <= cap for s, t in short)


# ---- token batches -------------------------------------------------------------------------------

def random_pairs(n: int, seed: int = 0, max_len: int = 30) -> list[tuple[list[int], list[int]]]:
    """Pairs made unique by their first token (a distinct id per pair)."""
    rng = random.Random(seed)
    return [([4 + i] + [rng.randrange(4, 50) for _ in range(rng.randrange(0, max_len))],
             [rng.randrange(4, 50) for _ in range(rng.randrange(1, max_len + 1))])
            for i in range(n)]


def unpad(batch) -> list[tuple[tuple[int, ...], tuple[int, ...]]]:
    src, _, tgt_out = batch
    pairs = []
    for s, t in zip(src.tolist(), tgt_out.tolist(), strict=True):
        t = t[:t.index(EOS_ID)]
        pairs.append((tuple(x for x in s if x != PAD_ID), tuple(t)))
    return pairs


def test_batches_hold_every_pair_once_within_the_token_budget():
    pairs = random_pairs(500)
    batches = D.TokenBatches(pairs, max_tokens=300, shuffle=True, seed=1)
    seen = []
    for batch in batches.epoch(0):
        src, tgt_in, tgt_out = batch
        assert src.dtype == tgt_in.dtype == tgt_out.dtype == torch.long
        assert tgt_in.shape == tgt_out.shape and src.shape[0] == tgt_in.shape[0]
        assert src.numel() <= 300 and tgt_in.numel() <= 300  # B * max(S, T) <= max_tokens
        assert (src != PAD_ID).any(1).all() and (src[:, -1] != PAD_ID).any()  # no padding column
        seen += unpad(batch)
    assert len(seen) == 500 and sorted(seen) == sorted((tuple(s), tuple(t)) for s, t in pairs)
    assert len(batches) == len(list(batches.epoch(3)))
    sizes = [len(b[0]) for b in batches.epoch(0)]
    assert max(sizes) > 3 * min(sizes)  # short pairs share big batches, long ones small ones


def test_targets_are_shifted_with_bos_and_eos():
    pairs = random_pairs(60, seed=2)
    lookup = {tuple(s): t for s, t in pairs}
    for src, tgt_in, tgt_out in D.TokenBatches(pairs, 200, shuffle=True).epoch(0):
        for s, i, o in zip(src.tolist(), tgt_in.tolist(), tgt_out.tolist(), strict=True):
            t = lookup[tuple(x for x in s if x != PAD_ID)]
            pad = [PAD_ID] * (len(i) - len(t) - 1)
            assert i == [BOS_ID, *t, *pad] and o == [*t, EOS_ID, *pad]


def test_an_oversize_pair_gets_a_batch_of_its_own():
    pairs = random_pairs(40, seed=3, max_len=10) + [([7] * 90, [8] * 50)]
    batches = D.TokenBatches(pairs, max_tokens=60, shuffle=False)
    shapes = [(b[0].shape, b[1].shape) for b in batches.epoch(0)]
    assert ((1, 90), (1, 51)) in shapes
    assert sum(len(b[0]) for b in batches.epoch(0)) == 41
    assert all(s.numel() <= 60 and t.numel() <= 60 for s, t in shapes if s[0] > 1)


def test_batches_are_deterministic_per_seed_and_epoch_and_resume_exactly():
    pairs = random_pairs(400, seed=4)

    def run(epoch, start=0, seed=0, shuffle=True):
        return [unpad(b) for b in D.TokenBatches(pairs, 250, shuffle=shuffle,
                                                 seed=seed).epoch(epoch, start)]

    first = run(0)
    assert run(0) == first  # same seed and epoch: same batches, same order
    assert run(1) != first and run(0, seed=1) != first
    assert sorted(map(sorted, run(1))) != sorted(map(sorted, first))  # ties reshuffled too
    assert [len(b) for b in sorted(run(1), key=len)] == [len(b) for b in sorted(first, key=len)]
    assert run(2, start=5) == run(2)[5:] and run(2, start=len(first)) == []
    fixed = run(0, shuffle=False)
    assert run(7, shuffle=False) == fixed
    lengths = [len(s) for b in fixed for s, _ in b]
    assert lengths == sorted(lengths)  # unshuffled: by length


@pytest.mark.parametrize("world_size", [2, 3])
def test_ranks_split_the_batches(world_size):
    pairs = random_pairs(500, seed=5)
    one = D.TokenBatches(pairs, 300, shuffle=True, seed=2)
    ranks = [D.TokenBatches(pairs, 300, shuffle=True, seed=2, rank=r, world_size=world_size)
             for r in range(world_size)]
    assert all(len(r) == len(one) // world_size for r in ranks)
    per_rank = [[unpad(b) for b in r.epoch(1)] for r in ranks]
    everything = [b for b in (unpad(b) for b in one.epoch(1))]
    # rank r gets batches r, r + W, ... of the single-process order; the remainder is dropped
    for r in range(world_size):
        assert per_rank[r] == everything[r::world_size][:len(one) // world_size]
    seen = [p for batches in per_rank for b in batches for p in b]
    assert len(seen) == len(set(seen))  # no pair twice
    dropped = everything[len(one) // world_size * world_size:]
    assert len(seen) + sum(map(len, dropped)) == 500
    resumed = D.TokenBatches(pairs, 300, shuffle=True, seed=2, rank=1, world_size=world_size)
    assert [unpad(b) for b in resumed.epoch(1, start=2)] == per_rank[1][2:]


def test_empty_and_device():
    assert len(D.TokenBatches([], 100, shuffle=True)) == 0
    assert list(D.TokenBatches([], 100, shuffle=True).epoch(0)) == []
    src, tgt_in, _ = next(D.TokenBatches(random_pairs(10), 100, shuffle=False,
                                         device="meta").epoch(0))
    assert src.device.type == tgt_in.device.type == "meta"
    with pytest.raises(ValueError, match="max_tokens"):
        D.TokenBatches(random_pairs(10), 0, shuffle=False)


# ---- BLEU ----------------------------------------------------------------------------------------

def test_bleu_is_sacrebleu_on_detokenised_text():
    refs = ["the cat sat on the mat.", "a dog barked at the moon."]
    score, signature = D.bleu(refs, refs)
    assert score == pytest.approx(100) and "nrefs:1" in signature and "tok:13a" in signature
    assert D.bleu(["zz yy xx ww", "vv uu tt ss"], refs)[0] == pytest.approx(0)  # no word shared


def test_token_batches_can_cap_the_sentences_per_batch():
    """max_sentences: at most that many pairs a batch (Bahdanau et al.: 80), by length."""
    pairs = [([5] * (1 + i % 7), [6] * (1 + i % 5)) for i in range(50)]
    batches = D.TokenBatches(pairs, 10 ** 9, shuffle=True, seed=1, max_sentences=8)
    sizes = [len(src) for src, _, _ in batches.epoch(0)]
    assert max(sizes) == 8 and sum(sizes) == 50 and len(sizes) == 7
    assert len(D.TokenBatches(pairs, 10 ** 9, shuffle=False).bounds) == 1
    with pytest.raises(ValueError, match="max_sentences"):
        D.TokenBatches(pairs, 100, shuffle=False, max_sentences=0)


def test_a_word_level_vocabulary_keeps_the_most_frequent_words(tmp_path):
    texts = ["the cat sat.", "the dog sat.", "the cat ran, fast."] * 3 + ["a rare word."]
    tok = D.train_tokenizer(texts, 4 + 5, tmp_path, kind="word")
    assert tok.vocab_size == 9  # [PAD] [BOS] [EOS] [UNK] + 5 words and marks
    assert tok.decode(tok.encode("the cat sat.")) == "the cat sat."  # punctuation split off
    assert D.UNK_ID in tok.encode("a rare word.")
    bpe = D.train_tokenizer(texts, 40, tmp_path)
    assert bpe.hf.to_str() != tok.hf.to_str()  # kind is part of the cache key
    with pytest.raises(ValueError, match="kind"):
        D.train_tokenizer(texts, 40, kind="chars")
