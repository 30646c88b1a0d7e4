"""Data for the Transformer (§5.1): sentence pairs, a shared BPE vocabulary, token batches.

The pipeline is the core's (``milestones.core.text``, shared with the other language
milestones); this module names what the Transformer uses of it:

- corpora (:func:`load_corpus`, :data:`DATASETS`): WMT14 En-De / En-Fr, the paper's data, and
  Multi30k, IWSLT2017 through Hugging Face ``datasets``; local TSV files; the built-in language
  pair (:func:`synthetic_corpus`, ``milestones.core.language``), which needs no network.
- §5.1 "byte-pair encoding, which has a shared source-target vocabulary of about 37000 tokens":
  :func:`train_tokenizer`.
- §5.1 "each training batch contained a set of sentence pairs containing approximately 25000
  source tokens and 25000 target tokens": :class:`TokenBatches` (deviation D5).

Token ids: ``[PAD]`` 0, ``[BOS]`` 1, ``[EOS]`` 2, ``[UNK]`` 3, the defaults of ``model.py``.
"""

from milestones.core.language import SyntheticLanguage, synthetic_corpus, synthetic_language
from milestones.core.text import (
    BOS_ID,
    EOS_ID,
    HF_DATASETS,
    OFFLINE,
    PAD_ID,
    SPECIAL_TOKENS,
    UNK_ID,
    Corpus,
    CorpusError,
    TokenBatches,
    Tokenizer,
    encode_pairs,
    load_corpus,
    load_tsv,
    train_tokenizer,
)
from milestones.core.text import CORPORA as DATASETS  # the Transformer trains on every corpus

__all__ = ["BOS_ID", "DATASETS", "EOS_ID", "HF_DATASETS", "OFFLINE", "PAD_ID", "SPECIAL_TOKENS",
           "UNK_ID", "Corpus", "CorpusError", "SyntheticLanguage", "TokenBatches", "Tokenizer",
           "encode_pairs", "load_corpus", "load_tsv", "synthetic_corpus", "synthetic_language",
           "train_tokenizer"]
