"""SimCLR (Chen, Kornblith, Norouzi, Hinton 2020, arXiv:2002.05709): contrastive learning of
visual representations from two augmented views.

    from milestones.simclr import simclr_resnet18, nt_xent
    model = simclr_resnet18(width=16)              # CIFAR stem; model(x) -> (h, z)
    h, z = model(views)                            # views: (2N, 3, 32, 32), both views stacked
    loss = nt_xent(z, temperature=0.5)             # Eq. 1

Pre-train: ``python -m milestones.simclr.train --help``; the paper's claims in miniature:
``python -m milestones.simclr.reproduce``.
"""

from milestones.simclr.model import (
    ProjectionHead,
    SimCLR,
    gather_views,
    nt_xent,
    simclr_resnet18,
    simclr_resnet34,
    simclr_resnet50,
    simclr_tiny,
)

__all__ = ["ProjectionHead", "SimCLR", "gather_views", "nt_xent", "simclr_resnet18",
           "simclr_resnet34", "simclr_resnet50", "simclr_tiny"]
