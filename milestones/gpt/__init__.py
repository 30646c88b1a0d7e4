"""GPT (Radford et al. 2018, 2019; Brown et al. 2020, arXiv:2005.14165) and the scaling laws
(Kaplan et al. 2020, arXiv:2001.08361): a decoder-only Transformer trained to predict the next
token.

    from milestones.gpt import gpt2, generate
    model = gpt2()                                       # 124M parameters, Hugging Face's names
    logits = model(idx)                                  # (B, T) tokens -> (B, T, 50257)
    tokens = generate(model, prompt, 100, temperature=0.8, top_k=40)

    python -m milestones.gpt.train --preset quick        # a character model, CPU minutes
    python -m milestones.gpt.reproduce                   # the claims in miniature, CPU
"""

from milestones.gpt.generate import generate
from milestones.gpt.model import (
    GPT,
    GPTConfig,
    KVCache,
    from_hf_state_dict,
    gpt1,
    gpt2,
    gpt2_large,
    gpt2_medium,
    gpt2_xl,
    gpt3,
    gpt3_175b,
    gpt3_small,
    gpt_config,
    gpt_tiny,
    lm_loss,
    load_hf_folder,
)

__all__ = ["GPT", "GPTConfig", "KVCache", "from_hf_state_dict", "generate", "gpt1", "gpt2",
           "gpt2_large", "gpt2_medium", "gpt2_xl", "gpt3", "gpt3_175b", "gpt3_small",
           "gpt_config", "gpt_tiny", "lm_loss", "load_hf_folder"]
