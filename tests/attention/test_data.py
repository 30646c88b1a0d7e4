"""The built-in corpus with sentences of every length, the word shortlists, batches of 80."""

import pytest

from milestones.attention import data as D

pytest.importorskip("tokenizers", reason="needs the text extra: pip install 'milestones[text]'")


def test_synthetic_corpus_spans_the_lengths_and_shares_its_test_set():
    short = D.synthetic_corpus(300, 10, n_valid=50, n_test=200, test_max_len=40)
    long = D.synthetic_corpus(300, 30, n_valid=50, n_test=200, test_max_len=40)
    for split, hi in (("train", 10), ("valid", 10), ("test", 40)):
        lengths = [D.length(s) for s, _ in getattr(short, split)]
        assert min(lengths) >= 3 and max(lengths) <= hi, split
        assert max(lengths) >= hi - 2 and min(lengths) <= 6, split  # short and long sentences
    assert short.test == long.test  # -10 and -30 models meet the same test sentences
    assert short.train != long.train
    sources = [s for split in (short.train, short.valid, short.test) for s, _ in split]
    assert len(sources) == len(set(sources))  # no sentence twice, within or across splits
    with pytest.raises(ValueError, match="max_len"):
        D.synthetic_corpus(10, 50, test_max_len=40)


def test_within_keeps_pairs_short_on_both_sides():
    pairs = [("a b", "c d e"), ("a b c d", "e"), ("a", "b c d e")]
    assert D.within(pairs, 3) == [("a b", "c d e")]


def test_shortlists_are_per_language_and_map_rare_words_to_unk(tmp_path):
    corpus = D.synthetic_corpus(400, 12, n_valid=10, n_test=10)
    src_tok, tgt_tok = D.train_vocabularies(corpus, 60, 500, tmp_path)
    assert src_tok.vocab_size == 60 and tgt_tok.vocab_size > 60
    src, tgt = corpus.train[0]
    assert tgt_tok.decode(tgt_tok.encode(tgt)) == tgt  # a full target vocabulary: no loss
    ids = src_tok.encode(" ".join(s for s, _ in corpus.train[:20]))
    assert D.UNK_ID in ids  # 56 source words leave most of them out
    assert set(src_tok.hf.get_vocab()) != set(tgt_tok.hf.get_vocab())  # two vocabularies
    encoded = D.encode(corpus.train[:5], src_tok, tgt_tok)
    assert [t for _, t in encoded] == [tgt_tok.encode(t) for _, t in corpus.train[:5]]
    again = D.train_vocabularies(corpus, 60, 500, tmp_path)  # from the cache, same ids
    assert again[0].encode(src) == src_tok.encode(src)
