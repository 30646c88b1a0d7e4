"""Adam (Kingma & Ba 2014, arXiv:1412.6980), its rivals and the paper's experiments.

    from milestones.adam import Adam
    opt = Adam(model.parameters(), lr=1e-3)          # Algorithm 1; a torch.optim.Optimizer

Train: ``python -m milestones.adam.train --help``; the paper's four figures:
``python -m milestones.adam.reproduce``.
"""

from milestones.adam.optim import (
    LARS,
    OPTIMIZERS,
    SGD,
    AdaDelta,
    AdaGrad,
    Adam,
    AdaMax,
    AdamW,
    RMSProp,
    lars_param_groups,
)

__all__ = ["LARS", "OPTIMIZERS", "SGD", "AdaDelta", "AdaGrad", "AdaMax", "Adam", "AdamW", "RMSProp",
           "lars_param_groups"]
