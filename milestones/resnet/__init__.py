"""ResNet (He et al. 2015, arXiv:1512.03385): residual learning, from torch primitives.

    from milestones.resnet import resnet56, resnet50
    model = resnet56()                              # CIFAR-10, 0.85M parameters (Table 6)
    model = resnet50(stride_in_1x1=False)           # loads torchvision's resnet50 weights

Train: ``python -m milestones.resnet.train --help``; the paper's claim:
``python -m milestones.resnet.reproduce``.
"""

from milestones.resnet.model import (
    MODELS,
    BasicBlock,
    Bottleneck,
    ResNet,
    cifar_resnet,
    plain18,
    plain20,
    plain32,
    plain34,
    plain44,
    plain56,
    plain110,
    resnet18,
    resnet20,
    resnet32,
    resnet34,
    resnet44,
    resnet50,
    resnet56,
    resnet101,
    resnet110,
    resnet152,
    resnet1202,
    resnet_tiny,
)

__all__ = [
    "MODELS", "BasicBlock", "Bottleneck", "ResNet", "cifar_resnet", "plain18", "plain20", "plain32",
    "plain34", "plain44", "plain56", "plain110", "resnet18", "resnet20", "resnet32", "resnet34",
    "resnet44", "resnet50", "resnet56", "resnet101", "resnet110", "resnet152", "resnet1202",
    "resnet_tiny",
]
