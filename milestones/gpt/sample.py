"""Sample text from a trained GPT: ``python -m milestones.gpt.sample --help``.

    python -m milestones.gpt.sample --model runs/gpt/quick-nano-builtin-s0 --prompt "the cat"
    python -m milestones.gpt.sample --model path/to/hf-gpt2 --top-p 0.9 --num-samples 3

``--model`` is one of our run folders (model.json, model.safetensors, tokenizer.json) or a Hugging
Face GPT-2 folder (config.json, its weights, vocab.json + merges.txt or tokenizer.json). Sampling
uses the key/value cache; past the model's context, the window slides.
"""

from __future__ import annotations

import dataclasses
import sys
from pathlib import Path

import torch

from milestones.core.config import ConfigError, require
from milestones.core.run import cli
from milestones.core.runtime import pick_device
from milestones.gpt.data import load_tokenizer
from milestones.gpt.generate import generate, require_sampling
from milestones.gpt.model import folder_config, load_folder


@dataclasses.dataclass
class Config:
    """Sample from a trained GPT."""

    model: str = ""
    """A run folder of ours or a Hugging Face GPT-2 folder."""
    prompt: str = "\n"
    """The text to continue."""
    max_new_tokens: int = 300
    """Tokens to sample after the prompt."""
    num_samples: int = 1
    """Independent samples of the same prompt."""
    temperature: float = 0.8
    """Divide the logits by this (0 = always the most likely token)."""
    top_k: int | None = 200
    """Sample among the k most likely tokens only (None = all)."""
    top_p: float | None = None
    """Nucleus sampling: among the most likely tokens holding this probability mass."""
    seed: int = 0
    """Seed of the samples."""
    device: str = "auto"
    """auto = cuda > mps > cpu, or a torch device."""
    preset: str = "default"
    """(one preset: the values above)"""

    def __post_init__(self) -> None:
        if self.model:  # (the default instance has none; main asks for it)
            require(Path(self.model).is_dir(), self, "model", "no such folder")
            try:
                folder_config(self.model)
            except FileNotFoundError as e:
                raise ConfigError("model", self.model, str(e)) from None
        require(self.max_new_tokens > 0, self, "max_new_tokens", "must be > 0")
        require(self.num_samples > 0, self, "num_samples", "must be > 0")
        require(self.seed >= 0, self, "seed", "must be >= 0")
        require_sampling(self)


def main(cfg: Config) -> dict:
    """Print ``num_samples`` continuations of the prompt; return them."""
    require(bool(cfg.model), cfg, "model", "give a run folder or a Hugging Face GPT-2 folder")
    tok = load_tokenizer(cfg.model)
    try:
        prompt = tok.encode(cfg.prompt)
    except ValueError as e:
        raise ConfigError("prompt", cfg.prompt, str(e)) from None
    if not prompt:
        raise ConfigError("prompt", cfg.prompt, "encodes to no tokens: give some text")
    device = pick_device(cfg.device)
    model = load_folder(cfg.model).to(device)
    g = torch.Generator(device=device).manual_seed(cfg.seed)
    idx = torch.tensor([prompt] * cfg.num_samples, device=device)
    out = generate(model, idx, cfg.max_new_tokens, temperature=cfg.temperature, top_k=cfg.top_k,
                   top_p=cfg.top_p, generator=g)
    samples = [tok.decode(row.tolist()) for row in out]
    for i, text in enumerate(samples):
        if cfg.num_samples > 1:
            print(f"---- sample {i + 1} ----")
        print(text)
    sys.stdout.flush()
    return {"samples": samples}


if __name__ == "__main__":
    raise SystemExit(cli(main, Config, {"default": Config}))
