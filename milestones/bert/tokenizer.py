"""WordPiece (§3: "We use WordPiece embeddings (Wu et al., 2016) with a 30,000 token vocabulary"),
around Hugging Face ``tokenizers``: BERT's normaliser (lower-casing and accent stripping for the
uncased models, Chinese characters split, control characters removed), its pre-tokeniser
(whitespace and punctuation), greedy longest-match-first WordPiece with "##" continuations.

    tok = train_wordpiece(texts, vocab_size=30_000)       # learnt from a corpus
    tok = WordPiece.from_vocab("bert-base-uncased/vocab.txt")   # a released vocabulary
    ids = tok.encode("Hello, world!")                      # no [CLS]/[SEP]
    ids, segments = tok.encode_pair("first sentence", "second one", max_len=128)

The special tokens keep the ids a vocabulary gives them: a trained one puts [PAD] [UNK] [CLS]
[SEP] [MASK] at 0-4, the released ``vocab.txt`` at 0, 100, 101, 102, 103.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

SPECIAL_TOKENS = ("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]")
_RECIPE = "bert-wordpiece-v2"  # part of the cache key: change it with the recipe


def _bert_pipeline(hf, lowercase: bool):
    from tokenizers import decoders, normalizers, pre_tokenizers

    hf.normalizer = normalizers.BertNormalizer(clean_text=True, handle_chinese_chars=True,
                                               strip_accents=lowercase, lowercase=lowercase)
    hf.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    hf.decoder = decoders.WordPiece(prefix="##")
    hf.add_special_tokens(list(SPECIAL_TOKENS))  # never split, skipped by decode
    return hf


class WordPiece:
    """A WordPiece vocabulary with BERT's special tokens; ``hf`` is the ``tokenizers.Tokenizer``."""

    def __init__(self, hf, origin: str = "trained"):
        missing = [t for t in SPECIAL_TOKENS if hf.token_to_id(t) is None]
        if missing:
            raise ValueError(f"the vocabulary lacks {', '.join(missing)}")
        self.hf = hf
        self.origin = origin
        self.vocab_size: int = hf.get_vocab_size()
        self.pad_id, self.unk_id, self.cls_id, self.sep_id, self.mask_id = (
            hf.token_to_id(t) for t in SPECIAL_TOKENS)
        self.special_ids = frozenset((self.pad_id, self.unk_id, self.cls_id, self.sep_id,
                                      self.mask_id))

    # -- building --------------------------------------------------------------------------------

    @classmethod
    def from_vocab(cls, path: str | Path, lowercase: bool = True) -> WordPiece:
        """A released ``vocab.txt`` (one token per line, line number = id), e.g. a Hugging Face
        BERT checkpoint's; ``lowercase=False`` for the cased models."""
        from tokenizers import Tokenizer, models

        lines = Path(path).read_text(encoding="utf-8").splitlines()
        vocab = {token: i for i, token in enumerate(lines)}
        hf = Tokenizer(models.WordPiece(vocab=vocab, unk_token="[UNK]",
                                        max_input_chars_per_word=100))
        return cls(_bert_pipeline(hf, lowercase), origin=f"loaded from {path}")

    @classmethod
    def load(cls, path: str | Path) -> WordPiece:
        """A tokenizer saved with :meth:`save` (Hugging Face's ``tokenizer.json``)."""
        from tokenizers import Tokenizer

        return cls(Tokenizer.from_file(str(path)), origin=f"loaded from {path}")

    def save(self, path: str | Path) -> None:
        """Hugging Face's JSON, written atomically."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        tmp.write_text(self.hf.to_str(), encoding="utf-8")
        os.replace(tmp, path)

    # -- encoding --------------------------------------------------------------------------------

    def encode(self, text: str) -> list[int]:
        """WordPiece ids of ``text``, without [CLS] / [SEP]."""
        return self.hf.encode(text, add_special_tokens=False).ids

    def encode_batch(self, texts: list[str]) -> list[list[int]]:
        return [e.ids for e in self.hf.encode_batch(texts, add_special_tokens=False)]

    def encode_with_offsets(self, text: str) -> tuple[list[int], list[tuple[int, int]]]:
        """Ids and each token's (start, end) character span in ``text`` (for span answers)."""
        e = self.hf.encode(text, add_special_tokens=False)
        return e.ids, [tuple(o) for o in e.offsets]

    def encode_pair(self, a: str | list[int], b: str | list[int] | None = None,
                    max_len: int = 128) -> tuple[list[int], list[int]]:
        """``[CLS] A [SEP] B [SEP]`` and its segment ids (0 for A's part, 1 for B's), the longer
        side cut from its end until the whole fits ``max_len`` (the released code's
        ``_truncate_seq_pair``). Texts or ids."""
        a_ids = self.encode(a) if isinstance(a, str) else list(a)
        b_ids = [] if b is None else self.encode(b) if isinstance(b, str) else list(b)
        budget = max_len - (3 if b is not None else 2)
        if budget < 2:
            raise ValueError(f"max_len {max_len} leaves no room for the text")
        while len(a_ids) + len(b_ids) > budget:
            (a_ids if len(a_ids) > len(b_ids) else b_ids).pop()
        ids = [self.cls_id, *a_ids, self.sep_id]
        segments = [0] * len(ids)
        if b is not None:
            ids += [*b_ids, self.sep_id]
            segments += [1] * (len(b_ids) + 1)
        return ids, segments

    def decode(self, ids: Iterable[int]) -> str:
        return self.hf.decode([int(i) for i in ids], skip_special_tokens=True)

    def tokens(self, ids: Iterable[int]) -> list[str]:
        return [self.hf.id_to_token(int(i)) for i in ids]

    def __len__(self) -> int:
        return self.vocab_size

    def __repr__(self) -> str:
        return f"WordPiece(vocab_size={self.vocab_size}, {self.origin})"


def from_tokens(tokens: Iterable[str], lowercase: bool = True, origin: str = "given"
                ) -> WordPiece:
    """A WordPiece of the special tokens (ids 0-4) and ``tokens``, in that order."""
    from tokenizers import Tokenizer, models

    vocab = {t: i for i, t in enumerate([*SPECIAL_TOKENS, *tokens])}
    hf = Tokenizer(models.WordPiece(vocab=vocab, unk_token="[UNK]", max_input_chars_per_word=100))
    return WordPiece(_bert_pipeline(hf, lowercase), origin=origin)


def train_wordpiece(texts: Iterable[str], vocab_size: int = 30_000, *, lowercase: bool = True,
                    cache_dir: str | Path | None = None) -> WordPiece:
    """A WordPiece vocabulary of at most ``vocab_size`` tokens learnt from ``texts``, special
    tokens at 0-4. With ``cache_dir`` it is saved as ``<cache_dir>/<hash>.json`` (the hash covers
    the texts and the settings) and loaded from there by the next call with the same input."""
    from tokenizers import Tokenizer, models, trainers

    from milestones.core.text import cache_path, load_cached

    texts = list(texts)
    if vocab_size <= len(SPECIAL_TOKENS):
        raise ValueError(f"vocab_size {vocab_size} leaves no room beyond the special tokens")
    path = cache_path(cache_dir, f"{_RECIPE}\0{vocab_size}\0{lowercase}\0", texts,
                      "wordpiece-{}.json", digits=24)
    cached = load_cached(path, WordPiece.load)
    if cached is not None:
        return cached
    hf = _bert_pipeline(Tokenizer(models.WordPiece(unk_token="[UNK]")), lowercase)
    trainer = trainers.WordPieceTrainer(vocab_size=vocab_size, min_frequency=2,
                                        show_progress=False, special_tokens=list(SPECIAL_TOKENS),
                                        limit_alphabet=1000, continuing_subword_prefix="##")
    hf.train_from_iterator(texts, trainer=trainer, length=len(texts))
    # the trainer breaks ties between equally frequent merges in hash-map order, which changes
    # from process to process: two trainings on the same text can learn a few different pieces.
    # So the cache keeps one per corpus and a run keeps its own (tokenizer.json); the ids are at
    # least canonical (special tokens, then whole words, then "##" pieces, each sorted)
    tok = from_tokens(sorted(set(hf.get_vocab()) - set(SPECIAL_TOKENS),
                             key=lambda t: (t.startswith("##"), t)), lowercase,
                      origin=f"trained on {len(texts)} texts")
    if path is not None:
        tok.save(path)
    return tok
