"""BERT (Devlin, Chang, Lee, Toutanova 2018, arXiv:1810.04805): a bidirectional Transformer encoder
pre-trained with a masked language model and next sentence prediction.

    from milestones.bert import bert_base
    model = bert_base()                                  # 110M parameters, Hugging Face's names
    mlm_logits, nsp_logits = model(input_ids, token_type_ids, attention_mask)

    python -m milestones.bert.train --preset quick       # pre-train BERT-Tiny, CPU minutes
    python -m milestones.bert.finetune --task mrpc --data-dir glue/ --checkpoint <run folder>
    python -m milestones.bert.reproduce                  # the claims in miniature, CPU
"""

from milestones.bert.model import (
    BertConfig,
    BertForPreTraining,
    BertModel,
    bert_base,
    bert_config,
    bert_large,
    bert_medium,
    bert_mini,
    bert_small,
    bert_tiny,
)

__all__ = ["BertConfig", "BertForPreTraining", "BertModel", "bert_base", "bert_config",
           "bert_large", "bert_medium", "bert_mini", "bert_small", "bert_tiny"]
