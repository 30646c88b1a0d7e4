"""core.language: the built-in language pair (lexicons, reordering, agreement), deterministic
in its seed. The fixture ``corpus`` is in tests/conftest.py."""

import time
from collections import Counter, defaultdict
from itertools import pairwise

import pytest

from milestones.core import language as L


def words(sentence: str) -> list[str]:
    return sentence.rstrip(".").replace(",", "").split()


def test_synthetic_corpus_is_deterministic_in_its_seed(corpus):
    again = L.synthetic_corpus(n_train=3000, n_valid=200, n_test=300, n_long=100, seed=0)
    assert again == corpus
    other = L.synthetic_corpus(n_train=3000, n_valid=200, n_test=300, n_long=100, seed=1)
    assert not set(other.train) & set(corpus.train[:100])
    assert other.test != corpus.test
    # the held-out splits do not depend on the size of the training set
    small = L.synthetic_corpus(n_train=500, n_valid=200, n_test=300, n_long=100, seed=0)
    assert small.test == corpus.test and small.valid == corpus.valid
    assert corpus.name == "synthetic" and "seed 0" in corpus.source


def test_synthetic_lengths_and_splits(corpus):
    assert (len(corpus.train), len(corpus.valid), len(corpus.test)) == (3000, 200, 300)
    lengths = Counter(len(words(s)) for split in (corpus.train, corpus.valid, corpus.test)
                      for s, _ in split)
    assert min(lengths) == 3 and max(lengths) == 12 and len(lengths) == 10  # every length occurs
    long = corpus.extra["long"]
    assert len(long) == 100 and all(20 <= len(words(s)) <= 30 for s, _ in long)
    assert min(len(s) for s, _ in long) > max(len(s) for s, _ in corpus.train)  # also in chars
    sources = [set(s for s, _ in split) for split in (corpus.train, corpus.valid, corpus.test,
                                                       long)]
    targets = [set(t for _, t in split) for split in (corpus.train, corpus.valid, corpus.test,
                                                       long)]
    assert sum(map(len, sources)) == len(set().union(*sources)) == 3600  # no duplicates at all
    assert sum(map(len, targets)) == len(set().union(*targets)) == 3600
    short = L.synthetic_corpus(n_train=50, n_valid=5, n_test=5, min_len=4, max_len=6,
                               long_len=(8, 9), n_long=5, seed=3)
    assert all(4 <= len(words(s)) <= 6 for s, _ in short.train)
    assert all(8 <= len(words(s)) <= 9 for s, _ in short.extra["long"])
    with pytest.raises(ValueError, match="long_len"):
        L.synthetic_corpus(max_len=25)


def test_synthetic_corpus_is_fast():
    start = time.perf_counter()
    L.synthetic_corpus()  # 20k train pairs
    assert time.perf_counter() - start < 5  # ~0.3 s alone; generous for a shared machine


def test_target_reorders_the_source(corpus):
    """Same lemmas on both sides (a bijective lexicon), in another order: adjectives after the
    noun, verb last (SOV), adverb first, postpositions."""
    lang = L.synthetic_language()
    reordered, bigrams = 0, {"src": Counter(), "tgt": Counter()}
    for src, tgt in corpus.train:
        lemmas = {}
        for side, sentence in (("src", src), ("tgt", tgt)):
            analysed = [lang.analyse(w, side) for w in words(sentence)]
            assert None not in analysed, sentence  # every word is in the lexicon
            lemmas[side] = [(pos, lemma) for pos, lemma, _ in analysed]
            bigrams[side].update(pairwise(pos for pos, _ in lemmas[side]))
        assert sorted(lemmas["src"]) == sorted(lemmas["tgt"])  # one target lemma per source one
        reordered += lemmas["src"] != lemmas["tgt"]
        if "," not in src:  # one clause: the target verb comes last, the source verb does not
            assert lemmas["tgt"][-1][0] == "verb"
    assert reordered > 0.9 * len(corpus.train)
    assert bigrams["src"]["adj", "noun"] > 0 and bigrams["src"]["noun", "adj"] == 0
    assert bigrams["tgt"]["noun", "adj"] > 0 and bigrams["tgt"]["adj", "noun"] == 0
    assert bigrams["src"]["verb", "det"] > 0 and bigrams["tgt"]["verb", "det"] == 0
    assert bigrams["src"]["adp", "det"] > 0 and bigrams["tgt"]["noun", "adp"] > 0


def test_target_agrees_in_gender_and_number(corpus):
    """Determiners and adjectives take the noun's gender and number; the clause-final verb takes
    the number of the subject at the start; the source shows neither."""
    lang = L.synthetic_language()
    forms, combos = defaultdict(set), set()
    for src, tgt in corpus.train:
        analysed = [lang.analyse(w, "tgt") for w in words(tgt)]
        for i, (pos, lemma, feats) in enumerate(analysed):
            if pos == "noun":
                agree = f"{lang.gender[lemma]}.{feats}"
                assert analysed[i - 1][0] == "det" and analysed[i - 1][2] == agree
                j = i + 1
                while j < len(analysed) and analysed[j][0] == "adj":
                    assert analysed[j][2] == agree
                    forms[analysed[j][1]].add(words(tgt)[j])
                    combos.add(agree)
                    j += 1
        if "," not in src:  # subject = the first noun; its number is the verb's
            subject = next(a for a in analysed if a[0] == "noun")
            assert analysed[-1][2].endswith(subject[2])
    assert len(combos) == 6  # 3 genders x 2 numbers
    assert max(map(len, forms.values())) >= 5  # one source adjective, several target forms
    source_adjectives = {lang.analyse(w, "src")[1]: w for s, _ in corpus.train for w in words(s)
                         if lang.analyse(w, "src")[0] == "adj"}
    assert len(source_adjectives) == len(lang.src_adj)  # invariant in the source


def test_copying_or_glossing_the_source_scores_low_bleu(corpus):
    sacrebleu = pytest.importorskip("sacrebleu", reason="needs the text extra")

    refs = [[t for _, t in corpus.test]]
    copy = sacrebleu.corpus_bleu([s for s, _ in corpus.test], refs).score
    assert copy < 10  # disjoint vocabularies: about 0
    lang = L.synthetic_language()
    gloss = sacrebleu.corpus_bleu([lang.gloss(s) for s, _ in corpus.test], refs).score
    assert copy < gloss < 20  # a perfect lexicon without grammar gets few n-grams right
    assert lang.vocabulary == {"src": 315, "tgt": 532}  # word forms (the language is fixed)
