"""AlexNet (Krizhevsky, Sutskever & Hinton 2012) and Dropout (Srivastava et al. 2014), from torch
primitives.

    from milestones.alexnet import alexnet2012, alexnet
    model = alexnet2012()                           # the paper's two-tower net, 61.0M parameters
    model = alexnet()                               # loads torchvision's alexnet weights

Train: ``python -m milestones.alexnet.train --help``; the paper's claims:
``python -m milestones.alexnet.reproduce``.
"""

from milestones.alexnet.model import (
    MODELS,
    AlexNet,
    ConvNet4,
    Dropout,
    DropoutMLP,
    LeNet5,
    LocalResponseNorm,
    alexnet,
    alexnet2012,
    convnet4,
    convnet4_tiny,
    dropout_mlp,
    lenet5,
    local_response_norm,
    lrn_alpha_for,
)

__all__ = [
    "MODELS", "AlexNet", "ConvNet4", "Dropout", "DropoutMLP", "LeNet5", "LocalResponseNorm",
    "alexnet", "alexnet2012", "convnet4", "convnet4_tiny", "dropout_mlp", "lenet5",
    "local_response_norm", "lrn_alpha_for",
]
