"""GPT's data: the corpora, the character and byte-level BPE tokenizers (GPT-2's released format
too), memory-mapped token files and the training windows."""

from pathlib import Path

import numpy as np
import pytest
import torch

from milestones.core.data import DataUnavailable
from milestones.core.text import CorpusError
from milestones.gpt import data as D

SHAKESPEARE = Path(__file__).resolve().parents[3] / "shared" / "data" / "tinyshakespeare"


def test_the_builtin_corpus_is_translation_lines_disjoint_between_splits():
    train, val = D.builtin_text(500, seed=0)
    assert D.builtin_text(500, seed=0) == (train, val)
    lines = train.splitlines()
    assert len(lines) == 500 and all(" = " in line for line in lines)
    sources = {line.split(" = ")[0] for line in lines}
    assert not sources & {line.split(" = ")[0] for line in val.splitlines()}
    assert D.builtin_text(500, seed=1)[0] != train


def test_char_tokenizer_round_trips_and_names_an_unknown_character(tmp_path):
    tok = D.CharTokenizer.fit(["hello world", "abc\n"])
    assert tok.chars == "\n abcdehlorw" and tok.vocab_size == 12
    assert tok.decode(tok.encode("hello\nworld")) == "hello\nworld"
    with pytest.raises(ValueError, match="'Z' is not in"):
        tok.encode("Zebra")
    tok.save(tmp_path / "tok.json")
    again = D.load_tokenizer(tmp_path / "tok.json")
    assert isinstance(again, D.CharTokenizer) and again.chars == tok.chars


def test_byte_level_bpe_encodes_any_text_and_round_trips(tmp_path):
    texts = ["the cat sat on the mat. " * 20, "a dog, the dogs; un café"] * 5
    tok = D.train_bpe(texts, 300)
    assert 257 < tok.vocab_size <= 300 and tok.eot_id is not None  # a small text: fewer merges
    for text in ["the cat", "naïve — 東京 🙂", "\n\n  spaced  \t"]:
        assert tok.decode(tok.encode(text)) == text  # bytes: nothing is unknown
    assert len(tok.encode("the cat sat on the mat.")) < len("the cat sat on the mat.")
    tok.save(tmp_path / "tokenizer.json")
    again = D.load_tokenizer(tmp_path / "tokenizer.json")
    assert again.encode("the dogs sat") == tok.encode("the dogs sat")
    with pytest.raises(ValueError, match="257"):
        D.train_bpe(texts, 200)


def test_gpt2_vocab_and_merges_files_read_as_hugging_face_reads_them(tmp_path):
    transformers = pytest.importorskip("transformers")
    tok = D.train_bpe(["the cat sat on the mat, the dog sat on the log. " * 30], 320)
    tok.hf.model.save(str(tmp_path))  # vocab.json + merges.txt: GPT-2's released file format
    ours = D.load_tokenizer(tmp_path)
    ref = transformers.GPT2Tokenizer.from_pretrained(str(tmp_path))
    for text in ["the cat sat", "a log, the mat!", "Dogs  sat\nthere"]:
        assert ours.encode(text) == ref.encode(text)


def test_token_files_are_memory_mapped_and_chunked(tmp_path):
    tok = D.CharTokenizer.fit(["abc"])
    texts = ["abc" * 10, "cab", "b"] * 50
    f = D.TokenFile.build(texts, tok, tmp_path / "t.bin", source="test", chunk=7)
    assert isinstance(f.tokens, np.memmap) and f.tokens.dtype == np.uint16
    assert len(f) == sum(map(len, texts)) == f.meta["n_tokens"]
    assert tok.decode(f.tokens[:33]) == "abc" * 10 + "cab"
    assert not list(tmp_path.glob(".*tmp"))
    bpe = D.train_bpe(["x y z " * 30], 260)
    g = D.TokenFile.build(["x y", "z"], bpe, tmp_path / "b.bin")
    assert list(g.tokens).count(bpe.eot_id) == 2  # <|endoftext|> after each document


def test_a_truncated_token_file_is_refused(tmp_path):
    tok = D.CharTokenizer.fit(["ab"])
    f = D.TokenFile.build(["ab" * 100], tok, tmp_path / "t.bin")
    f.path.write_bytes(f.path.read_bytes()[:100])
    with pytest.raises(ValueError, match="partial write"):
        D.TokenFile(tmp_path / "t.bin")


def test_windows_are_the_next_tokens_and_depend_on_the_generator_alone():
    tokens = np.arange(1000, dtype=np.uint16)
    x, y = D.windows(tokens, 16, 8, torch.Generator().manual_seed(0))
    assert x.shape == y.shape == (8, 16) and x.dtype == torch.int64
    assert torch.equal(y[:, :-1], x[:, 1:]) and torch.equal(y[:, -1], x[:, -1] + 1)
    x2, _ = D.windows(tokens, 16, 8, torch.Generator().manual_seed(0))
    assert torch.equal(x, x2)
    fx, fy = D.fixed_windows(tokens[:20], 16, 100)
    assert len(fx) == 4  # a short held-out text: every offset once
    with pytest.raises(ValueError, match="context of 16"):
        D.windows(tokens[:16], 16, 1, torch.Generator())


def test_text_files_bad_ones_are_one_clear_error(tmp_path):
    (tmp_path / "empty.txt").write_text("  \n")
    (tmp_path / "bin.txt").write_bytes(b"\x00\x01\x02abc")
    (tmp_path / "latin1.txt").write_bytes("caf\xe9\n".encode("latin-1"))
    for name, match in (("empty", "empty"), ("bin", "binary"), ("latin1", "not UTF-8")):
        with pytest.raises(CorpusError, match=match):
            D.read_text(tmp_path / f"{name}.txt")
    (tmp_path / "a.txt").write_text("one two three " * 100)
    train, val, source = D.load_text("text", data_files=[str(tmp_path / "a.txt")])
    assert len(val[0]) == pytest.approx(0.1 * (len(train[0]) + len(val[0])), abs=1)


def test_missing_shakespeare_says_where_and_how(tmp_path):
    with pytest.raises(DataUnavailable, match="tinyshakespeare") as e:
        D.shakespeare_path(str(tmp_path / "nowhere"))
    assert "--corpus builtin" in str(e.value)


def fineweb_shards(folder: Path, sizes: tuple[int, ...], column: str = "text",
                   words: int = 7) -> list[str]:
    """Parquet shards laid out as FineWeb's download (sample/10BT/000_00000.parquet, ...) with
    sizes[i] documents of 1 to ``words`` words each, small row groups; returns every document
    in order."""
    pa = pytest.importorskip("pyarrow")
    pq = pytest.importorskip("pyarrow.parquet")
    docs, shard = [], folder / "sample" / "10BT"
    shard.mkdir(parents=True)
    for i, n in enumerate(sizes):
        texts = [f"document {len(docs) + j}: " + "word " * (words - j % words) for j in range(n)]
        docs += texts
        table = pa.table({column: texts, "id": [f"<urn:{i}:{j}>" for j in range(n)]})
        pq.write_table(table, shard / f"000_{i:05d}.parquet", row_group_size=16)
    return docs


def test_fineweb_reads_parquet_shards_a_batch_at_a_time_holding_out_the_first(tmp_path):
    docs = fineweb_shards(tmp_path / "fw", (1500, 700, 1))
    train, val, source = D.load_text("fineweb", data_dir=str(tmp_path / "fw"))
    # 0.05% of 2,201 documents rounds down to 1: the first is held out, the rest train
    assert list(val) == docs[:1] and list(train) == docs[1:] and len(train) == 2200
    assert "3 files" in source and "2,201 documents" in source
    big = D.ParquetTexts(sorted((tmp_path / "fw").rglob("*.parquet")), start=1490, stop=1510)
    assert list(big) == docs[1490:1510] and len(big) == 20  # across a shard boundary
    tok = D.CharTokenizer.fit(docs)
    tokens = D.TokenFile.build(train, tok, tmp_path / "train.bin")
    assert len(tokens) == sum(len(d) for d in docs[1:])


def test_fineweb_without_shards_or_text_is_one_clear_error(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataUnavailable, match="no .parquet files"):
        D.load_text("fineweb", data_dir=str(tmp_path / "empty"))
    fineweb_shards(tmp_path / "other", (3,), column="content")
    with pytest.raises(CorpusError, match="no 'text' column"):
        D.load_text("fineweb", data_dir=str(tmp_path / "other"))


@pytest.mark.skipif(not (SHAKESPEARE / "input.txt").is_file(), reason="no shared tiny-Shakespeare")
def test_tiny_shakespeare_has_its_65_characters():
    train, val, _ = D.load_text("shakespeare", data_dir=str(SHAKESPEARE))
    assert len(train[0]) + len(val[0]) == 1_115_394
    assert D.CharTokenizer.fit(train + val).vocab_size == 65
    assert len(val[0]) == 111_540  # nanoGPT's split: the last 10% held out
