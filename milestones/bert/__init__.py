"""BERT (Devlin, Chang, Lee, Toutanova 2018, arXiv:1810.04805): a bidirectional Transformer encoder
pre-trained with a masked language model and next sentence prediction.

    from milestones.bert import bert_base
    model = bert_base()                                  # 110M parameters, Hugging Face's names
    mlm_logits, nsp_logits = model(input_ids, token_type_ids, attention_mask)

Only the model has landed so far (issue 15): pre-training, fine-tuning and the reproduction follow.
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
