"""milestones: deep learning's landmark papers of 2012-2020, reimplemented from scratch in PyTorch.

Each milestone is a subpackage (``milestones.resnet``, ...) with its model, data, training loop and
a reproduction of the paper's central claim. This module holds only the registry; importing it does
no work (no torch import).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

__version__ = "0.1.0"


@dataclass(frozen=True)
class Milestone:
    name: str  # subpackage name: milestones.<name>
    year: str
    title: str
    authors: str
    arxiv: str  # arXiv id or venue
    package: str = ""  # its import path, when not milestones.<name> (a test's toy milestone)

    @property
    def module(self) -> str:
        return self.package or f"milestones.{self.name}"

    @property
    def path(self) -> Path:
        """The subpackage's folder, found without importing it (or torch)."""
        if not self.package:
            return Path(__file__).parent / self.name
        import importlib.util

        spec = importlib.util.find_spec(self.package)
        return Path(spec.origin).parent if spec and spec.origin else Path("/nonexistent")

    @property
    def implemented(self) -> bool:
        """True once the subpackage has its training entry point (checked on disk, no import)."""
        return (self.path / "train.py").is_file()

    @property
    def commands(self) -> tuple[str, str]:
        prefix = f"python -m {self.module}"
        return f"{prefix}.train", f"{prefix}.reproduce"


REGISTRY: tuple[Milestone, ...] = (
    Milestone("alexnet", "2012", "ImageNet Classification with Deep CNNs (+ Dropout)",
              "Krizhevsky, Sutskever, Hinton", "NIPS 2012; arXiv:1207.0580"),
    Milestone("dqn", "2013/2015", "Human-level control through deep RL (DQN)",
              "Mnih et al.", "arXiv:1312.5602; Nature 518"),
    Milestone("attention", "2014",
              "Neural Machine Translation by Jointly Learning to Align and Translate",
              "Bahdanau, Cho, Bengio", "arXiv:1409.0473"),
    Milestone("adam", "2014", "Adam: A Method for Stochastic Optimization",
              "Kingma, Ba", "arXiv:1412.6980"),
    Milestone("gan", "2014/2015", "Generative Adversarial Nets; DCGAN",
              "Goodfellow et al.; Radford et al.", "arXiv:1406.2661; arXiv:1511.06434"),
    Milestone("resnet", "2015", "Deep Residual Learning for Image Recognition",
              "He, Zhang, Ren, Sun", "arXiv:1512.03385"),
    Milestone("transformer", "2017", "Attention Is All You Need",
              "Vaswani et al.", "arXiv:1706.03762"),
    Milestone("bert", "2018", "BERT: Pre-training of Deep Bidirectional Transformers",
              "Devlin, Chang, Lee, Toutanova", "arXiv:1810.04805"),
    Milestone("simclr", "2020",
              "A Simple Framework for Contrastive Learning of Visual Representations",
              "Chen, Kornblith, Norouzi, Hinton", "arXiv:2002.05709"),
    Milestone("gpt", "2018-2020", "GPT-1/2/3: generative pre-training, and the scaling laws",
              "Radford et al.; Brown et al.; Kaplan et al.",
              "arXiv:2005.14165; arXiv:2001.08361"),
)


def get(name: str) -> Milestone:
    for m in REGISTRY:
        if m.name == name:
            return m
    raise KeyError(f"unknown milestone {name!r}; known: {', '.join(m.name for m in REGISTRY)}")
