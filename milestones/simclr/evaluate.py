r"""How SimCLR's representations are judged (§4, App. B.6, §6):

- **Linear evaluation**: a linear classifier on the frozen encoder's h. Ours computes h once for
  every image (the encoder in eval mode, no gradient: it cannot change) and fits an
  l2-regularised multinomial logistic regression with L-BFGS, the weight decay chosen on the
  validation split (the paper's protocol for its transfer experiments, App. B.8; §4's ImageNet
  numbers train the classifier with SGD on augmented crops instead, D4).
- **k-NN monitor** (Wu et al. 2018, used by most SimCLR peers to watch pre-training): cosine
  similarity to every bank example, the k = 200 nearest vote with weights exp(sim / tau),
  tau = 0.1.
- **Semi-supervised fine-tuning** (§6, Table 7): the whole encoder and a new linear layer trained
  on 1% or 10% of the labels (class-balanced), random crops and flips only, Nesterov momentum,
  no weight decay (App. B.5).
"""

from __future__ import annotations

import copy

import torch
import torch.nn.functional as F
from torch import nn

from milestones.adam import SGD
from milestones.core.datasets import Split

WEIGHT_DECAYS = tuple(10.0 ** e for e in range(-6, 0))  # the linear classifier's l2 grid


@torch.no_grad()
def encode(encoder: nn.Module, x: torch.Tensor, batch_size: int = 512) -> torch.Tensor:
    """h = f(x) for every image of ``x`` (uint8 (N, C, H, W), as the data holds them), with the
    encoder in eval mode (batch norm uses its running statistics and updates nothing) and no
    gradient; the encoder's mode is restored after. Returns (N, dim_h) float32 on the CPU."""
    device = next(encoder.parameters()).device
    was_training = encoder.training
    encoder.eval()
    try:
        parts = [encoder(to_input(x[i:i + batch_size].to(device))).float().cpu()
                 for i in range(0, len(x), batch_size)]
    finally:
        encoder.train(was_training)
    return torch.cat(parts)  # (N, dim_h)


def to_input(x: torch.Tensor) -> torch.Tensor:
    """uint8 images -> the encoder's input: floats in [0, 1] (the released code normalises
    nothing else)."""
    return x.float().div_(255) if x.dtype == torch.uint8 else x


def fit_logistic(h: torch.Tensor, y: torch.Tensor, num_classes: int, weight_decay: float,
                 max_iter: int = 200) -> nn.Linear:
    r"""Multinomial logistic regression, $\min_W \frac{1}{n}\sum_i -\log \mathrm{softmax}
    (W h_i + b)_{y_i} + \frac{\lambda}{2} \|W\|^2$, by L-BFGS from zero weights (deterministic).
    ``h`` should be standardised (see :func:`linear_evaluation`)."""
    clf = nn.Linear(h.shape[1], num_classes, dtype=h.dtype)
    nn.init.zeros_(clf.weight)
    nn.init.zeros_(clf.bias)
    opt = torch.optim.LBFGS(clf.parameters(), lr=1, max_iter=max_iter, history_size=10,
                            tolerance_grad=1e-6, line_search_fn="strong_wolfe")

    def closure() -> torch.Tensor:
        opt.zero_grad()
        loss = F.cross_entropy(clf(h), y) + weight_decay / 2 * clf.weight.pow(2).sum()
        loss.backward()
        return loss

    with torch.enable_grad():
        closure()  # the gradient at the start, so .grad is set before the step as for others
        opt.step(closure)
    return clf.requires_grad_(False)


def accuracy(logits: torch.Tensor, y: torch.Tensor) -> float:
    return (logits.argmax(1) == y).float().mean().item()


def linear_evaluation(train_h: torch.Tensor, train_y: torch.Tensor, val_h: torch.Tensor,
                      val_y: torch.Tensor, test_h: torch.Tensor, test_y: torch.Tensor,
                      num_classes: int, weight_decays: tuple[float, ...] = WEIGHT_DECAYS,
                      max_iter: int = 200) -> dict:
    """Linear evaluation on frozen features: standardise with the training features' mean and
    std, fit one classifier per weight decay, keep the one with the best validation accuracy,
    report its test accuracy."""
    # DEVIATION(D4): L-BFGS logistic regression on features computed once (App. B.8's transfer
    # protocol), not §4's SGD on augmented crops through the frozen encoder
    mean, std = train_h.mean(0), train_h.std(0).clamp_min(1e-6)
    tr, va, te = ((h - mean) / std for h in (train_h, val_h, test_h))
    best = None
    for wd in weight_decays:
        clf = fit_logistic(tr, train_y, num_classes, wd, max_iter)
        val_acc = accuracy(clf(va), val_y)
        if best is None or val_acc > best[0]:
            best = (val_acc, wd, clf)
    val_acc, wd, clf = best
    return {"test_accuracy": accuracy(clf(te), test_y), "val_accuracy": val_acc,
            "train_accuracy": accuracy(clf(tr), train_y), "weight_decay": wd}


@torch.no_grad()
def knn_predict(bank_h: torch.Tensor, bank_y: torch.Tensor, query_h: torch.Tensor,
                num_classes: int, k: int = 200, temperature: float = 0.1,
                chunk: int = 1024) -> torch.Tensor:
    r"""Weighted k-NN (Wu et al. 2018, Eq. 8): the k bank examples of highest cosine similarity
    $s_i$ vote for their class with weight $\exp(s_i / \tau)$. Returns (M,) predicted classes."""
    bank = F.normalize(bank_h.float(), dim=1)  # (N, D)
    k = min(k, len(bank))
    preds = []
    for i in range(0, len(query_h), chunk):
        q = F.normalize(query_h[i:i + chunk].float(), dim=1)  # (m, D)
        sim, idx = (q @ bank.T).topk(k, dim=1)  # (m, k) cosine similarities of the neighbours
        weight = (sim / temperature).exp()  # exp(s_i / tau)
        votes = torch.zeros(len(q), num_classes, dtype=weight.dtype, device=weight.device)
        votes.scatter_add_(1, bank_y.to(idx.device)[idx], weight)  # (m, C)
        preds.append(votes.argmax(1))
    return torch.cat(preds)


def knn_accuracy(bank_h, bank_y, query_h, query_y, num_classes: int, k: int = 200,
                 temperature: float = 0.1) -> float:
    pred = knn_predict(bank_h, bank_y, query_h, num_classes, k, temperature)
    return (pred == query_y.to(pred.device)).float().mean().item()


def fine_tune(encoder: nn.Module, dim_h: int, labelled: Split, test: Split, num_classes: int, *,
              steps: int, batch_size: int = 256, lr: float = 0.05, seed: int = 0,
              augment=None) -> dict:
    """§6: fine-tune a copy of ``encoder`` with a new linear layer on ``labelled`` (e.g. 1% of
    the labels), SGD with Nesterov momentum 0.9, lr scaled by B/256, no weight decay (App. B.5),
    ``steps`` updates on random crops and flips (``augment(x, generator)``, floats in [0, 1];
    None: no augmentation). Returns the test accuracy of the fine-tuned net (eval mode)."""
    torch.manual_seed(seed)
    device = next(encoder.parameters()).device
    net = nn.Sequential(copy.deepcopy(encoder), nn.Linear(dim_h, num_classes)).to(device)
    opt = SGD(net.parameters(), lr=lr * batch_size / 256, momentum=0.9, nesterov=True)
    g = torch.Generator().manual_seed(seed)
    b = min(batch_size, len(labelled))
    net.train()
    for _ in range(steps):
        idx = torch.randint(0, len(labelled), (b,), generator=g)
        x = to_input(labelled.x[idx].to(device))
        if augment is not None:
            x = augment(x, g)
        loss = F.cross_entropy(net(x), labelled.y[idx].to(device))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    net.eval()
    with torch.no_grad():
        logits = torch.cat([net(to_input(test.x[i:i + 512].to(device))).cpu()
                            for i in range(0, len(test), 512)])
    return {"test_accuracy": accuracy(logits, test.y), "labelled": len(labelled),
            "steps": steps}
