r"""Adam and its rivals, from scratch, as ``torch.optim.Optimizer`` subclasses.

Adam: A Method for Stochastic Optimization. Diederik P. Kingma, Jimmy Ba (2014). arXiv:1412.6980.

Adam keeps exponential moving averages of the gradient and of its square, corrects both for their
initialisation at zero, and steps each parameter by the ratio (Algorithm 1):

$$g_t = \nabla_\theta f_t(\theta_{t-1})$$

$$m_t = \beta_1 m_{t-1} + (1 - \beta_1)\, g_t \qquad \text{(biased first moment)}$$

$$v_t = \beta_2 v_{t-1} + (1 - \beta_2)\, g_t^2 \qquad \text{(biased second raw moment)}$$

$$\hat m_t = m_t / (1 - \beta_1^t), \quad \hat v_t = v_t / (1 - \beta_2^t)
\qquad \text{(bias correction, \S 3)}$$

$$\theta_t = \theta_{t-1} - \alpha\, \hat m_t / (\sqrt{\hat v_t} + \epsilon)$$

with $\alpha = 0.001$, $\beta_1 = 0.9$, $\beta_2 = 0.999$, $\epsilon = 10^{-8}$. AdaMax (§7.1,
Algorithm 2) replaces $\sqrt{v_t}$ by the infinity norm $u_t = \max(\beta_2 u_{t-1}, |g_t|)$ and
needs no correction of $u_t$.

Every optimizer here has two code paths that compute the same update:
- ``foreach=False``: one parameter at a time, each line under the equation it computes (read this);
- ``foreach=True`` (the default): the same arithmetic on whole lists of tensors with
  ``torch._foreach_*`` kernels, one launch per operation instead of one per parameter (use this).
State is stored under the keys ``torch.optim`` uses (``exp_avg``, ``exp_avg_sq``, ``step``, ...),
so a ``torch.optim`` state dict loads into the matching optimizer here, and back.

Also here, as what came after the paper and labelled so: AMSGrad (Reddi et al. 2018) and AdamW's
decoupled weight decay (Loshchilov & Hutter 2017). And the paper's rivals: SGD with Nesterov
momentum, AdaGrad (Duchi et al. 2011), RMSProp (Tieleman & Hinton 2012), AdaDelta (Zeiler 2012).
Also what came after the paper: LARS (You et al. 2017), layer-wise trust ratios, as SimCLR uses it.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Callable, Iterable

import torch
from torch import Tensor, nn
from torch.optim import Optimizer

ParamsT = Iterable[Tensor] | Iterable[dict]


def _require(ok: bool, optimizer: str, name: str, value, why: str) -> None:
    if not ok:
        raise ValueError(f"{optimizer}: invalid {name}={value!r}: {why}")


def _by_device(*lists: list) -> list[list[list]]:
    """Split parallel lists into sublists sharing (device, dtype): what a foreach kernel takes."""
    groups: dict[tuple, list[int]] = defaultdict(list)
    for i, p in enumerate(lists[0]):
        groups[(p.device, p.dtype)].append(i)
    return [[[lst[i] for i in idx] for lst in lists] for idx in groups.values()]


def _steps(step_tensors: list[Tensor]) -> list[float]:
    return [float(t) for t in step_tensors]  # the steps live on the CPU: no device sync


class _Optimizer(Optimizer):
    """What every optimizer here shares: the closure, lazy state, the path switch."""

    state_keys: tuple[str, ...] = ()  # per-parameter state tensors, shaped like the parameter

    def __init__(self, params: ParamsT, defaults: dict):
        defaults.setdefault("maximize", False)
        defaults.setdefault("foreach", None)
        defaults.setdefault("differentiable", False)  # as torch.optim's: a reloaded state dict
        super().__init__(params, defaults)  # gains it (Optimizer.__setstate__), so start with it

    def __setstate__(self, state: dict) -> None:  # also runs in load_state_dict
        super().__setstate__(state)
        for group in self.param_groups:  # a torch.optim state dict lacks our extra options
            for key, value in self.defaults.items():
                group.setdefault(key, value)

    def init_state(self, p: Tensor, group: dict) -> dict:
        state = {"step": torch.tensor(0.0)}  # on the CPU, as in torch.optim
        state.update({k: torch.zeros_like(p, memory_format=torch.preserve_format)
                      for k in self.state_keys})
        return state

    def gather(self, group: dict) -> tuple[list[Tensor], list[Tensor], dict[str, list[Tensor]]]:
        """Parameters with a gradient, their gradients, and their state lists by key."""
        params, grads = [], []
        states: dict[str, list[Tensor]] = defaultdict(list)
        for p in group["params"]:
            if p.grad is None:
                continue
            if p.grad.is_sparse:
                raise RuntimeError(f"{type(self).__name__} does not support sparse gradients")
            if not self.state[p]:
                self.state[p] = self.init_state(p, group)
            params.append(p)
            grads.append(p.grad)
            for key, value in self.state[p].items():
                states[key].append(value)
        return params, grads, states


    @torch.no_grad()
    def step(self, closure: Callable[[], float] | None = None):
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            params, grads, states = self.gather(group)
            if params:  # each subclass's update() runs its single or foreach function
                self.update(group, params, grads, states, group["foreach"] is not False)
        return loss


# ---- Adam (Algorithm 1), AMSGrad, AdamW ---------------------------------------------------------

class Adam(_Optimizer):
    r"""Adam, Algorithm 1.

    Args:
        lr: step size $\alpha$ (0.001).
        betas: $(\beta_1, \beta_2)$, decay rates of the moment estimates (0.9, 0.999).
        eps: $\epsilon$ (1e-8), added to $\sqrt{\hat v_t}$.
        weight_decay: $\lambda$. An L2 penalty, $g_t \leftarrow g_t + \lambda\theta$, as in
            ``torch.optim.Adam``; with ``decoupled_weight_decay`` (AdamW) instead
            $\theta \leftarrow \theta - \alpha\lambda\theta$, outside the adaptive step.
        amsgrad: AMSGrad (Reddi et al. 2018, after the paper): divide by the running maximum of
            $\hat v_t$, which never decreases.
        bias_correction: divide the moments by $1 - \beta^t$ (§3). False drops the correction:
            the §6.4 ablation.
        maximize: ascend instead of descend. foreach: None = the multi-tensor path where it runs.
    """

    state_keys = ("exp_avg", "exp_avg_sq")

    def __init__(self, params: ParamsT, lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 0.0, *, amsgrad: bool = False,
                 bias_correction: bool = True, decoupled_weight_decay: bool = False,
                 maximize: bool = False, foreach: bool | None = None):
        name = type(self).__name__
        _require(lr >= 0, name, "lr", lr, "the step size must be >= 0")
        _require(0 <= betas[0] < 1, name, "beta1", betas[0], "must be in [0, 1)")
        _require(0 <= betas[1] < 1, name, "beta2", betas[1], "must be in [0, 1)")
        _require(eps >= 0, name, "eps", eps, "must be >= 0")
        _require(weight_decay >= 0, name, "weight_decay", weight_decay, "must be >= 0")
        super().__init__(params, dict(lr=lr, betas=tuple(betas), eps=eps,
                                      weight_decay=weight_decay, amsgrad=amsgrad,
                                      bias_correction=bias_correction,
                                      decoupled_weight_decay=decoupled_weight_decay,
                                      maximize=maximize, foreach=foreach))

    def init_state(self, p: Tensor, group: dict) -> dict:
        state = super().init_state(p, group)
        if group["amsgrad"]:
            state["max_exp_avg_sq"] = torch.zeros_like(p, memory_format=torch.preserve_format)
        return state

    def update(self, group, params, grads, states, foreach):
        beta1, beta2 = group["betas"]
        (adam_foreach if foreach else adam_single)(
            params, grads, states["exp_avg"], states["exp_avg_sq"], states.get("max_exp_avg_sq"),
            states["step"], lr=group["lr"], beta1=beta1, beta2=beta2, eps=group["eps"],
            weight_decay=group["weight_decay"], decoupled=group["decoupled_weight_decay"],
            amsgrad=group["amsgrad"], bias_correction=group["bias_correction"],
            maximize=group["maximize"])


class AdamW(Adam):
    """Adam with decoupled weight decay (Loshchilov & Hutter 2017; after the paper).
    Defaults as ``torch.optim.AdamW``: weight_decay 0.01."""

    def __init__(self, params: ParamsT, lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 1e-2, *, amsgrad: bool = False,
                 bias_correction: bool = True, maximize: bool = False, foreach: bool | None = None):
        super().__init__(params, lr, betas, eps, weight_decay, amsgrad=amsgrad,
                         bias_correction=bias_correction, decoupled_weight_decay=True,
                         maximize=maximize, foreach=foreach)


def adam_single(params, grads, exp_avgs, exp_avg_sqs, max_exp_avg_sqs, steps, *, lr, beta1,
                beta2, eps, weight_decay, decoupled, amsgrad, bias_correction, maximize) -> None:
    """Algorithm 1, one parameter at a time."""
    for i, theta in enumerate(params):
        g, m, v, t = grads[i], exp_avgs[i], exp_avg_sqs[i], steps[i]
        if maximize:
            g = -g
        # t <- t + 1
        t += 1
        if weight_decay and decoupled:  # AdamW: theta <- theta - alpha lambda theta
            theta.mul_(1 - lr * weight_decay)
        elif weight_decay:  # L2 penalty: g_t <- g_t + lambda theta
            g = g.add(theta, alpha=weight_decay)
        # $m_t = \beta_1 m_{t-1} + (1 - \beta_1) g_t$, as $m + (1 - \beta_1)(g - m)$
        m.lerp_(g, 1 - beta1)
        # $v_t = \beta_2 v_{t-1} + (1 - \beta_2) g_t^2$
        v.mul_(beta2).addcmul_(g, g, value=1 - beta2)
        if amsgrad:  # AMSGrad: vmax_t = max(vmax_{t-1}, v_t), used in place of v_t
            v = torch.maximum(max_exp_avg_sqs[i], v, out=max_exp_avg_sqs[i])
        # $\hat m_t = m_t / (1 - \beta_1^t)$, $\hat v_t = v_t / (1 - \beta_2^t)$
        step = float(t)
        bias1 = 1 - beta1**step if bias_correction else 1.0
        bias2 = 1 - beta2**step if bias_correction else 1.0
        # $$\theta_t = \theta_{t-1} - \alpha \frac{\hat m_t}{\sqrt{\hat v_t} + \epsilon}$$
        # with the corrections folded in: $\sqrt{\hat v_t} = \sqrt{v_t} / \sqrt{1 - \beta_2^t}$
        denom = (v.sqrt() / math.sqrt(bias2)).add_(eps)
        theta.addcdiv_(m, denom, value=-lr / bias1)


def adam_foreach(params, grads, exp_avgs, exp_avg_sqs, max_exp_avg_sqs, steps, *, lr, beta1,
                 beta2, eps, weight_decay, decoupled, amsgrad, bias_correction, maximize) -> None:
    """Algorithm 1 on lists of tensors: ``adam_single``'s arithmetic, in foreach kernels."""
    lists = [params, grads, exp_avgs, exp_avg_sqs, steps] + ([max_exp_avg_sqs] if amsgrad else [])
    for theta, g, m, v, t, *vmax in _by_device(*lists):
        if maximize:
            g = torch._foreach_neg(g)
        torch._foreach_add_(t, 1)
        if weight_decay and decoupled:
            torch._foreach_mul_(theta, 1 - lr * weight_decay)
        elif weight_decay:
            g = torch._foreach_add(g, theta, alpha=weight_decay)
        torch._foreach_lerp_(m, g, 1 - beta1)
        torch._foreach_mul_(v, beta2)
        torch._foreach_addcmul_(v, g, g, 1 - beta2)
        if amsgrad:
            torch._foreach_maximum_(vmax[0], v)
            v = vmax[0]
        step = _steps(t)
        bias1 = [1 - beta1**s if bias_correction else 1.0 for s in step]
        bias2 = [1 - beta2**s if bias_correction else 1.0 for s in step]
        denom = torch._foreach_sqrt(v)
        torch._foreach_div_(denom, [math.sqrt(b) for b in bias2])
        torch._foreach_add_(denom, eps)
        torch._foreach_addcdiv_(theta, m, denom, [-lr / b for b in bias1])


# ---- AdaMax (§7.1, Algorithm 2) -----------------------------------------------------------------

class AdaMax(_Optimizer):
    r"""AdaMax, Algorithm 2: Adam with the infinity norm, $u_t = \max(\beta_2 u_{t-1}, |g_t|)$.

    Defaults from §7.1: lr 0.002, betas (0.9, 0.999). ``eps`` (1e-8) is added to $|g_t|$ inside
    the max, as ``torch.optim.Adamax`` does, so that $u_t > 0$ even for a zero gradient (the
    paper has no $\epsilon$ here: D1 in the README's deviations).
    """

    state_keys = ("exp_avg", "exp_inf")

    def __init__(self, params: ParamsT, lr: float = 2e-3, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 0.0, *, maximize: bool = False,
                 foreach: bool | None = None):
        _require(lr >= 0, "AdaMax", "lr", lr, "the step size must be >= 0")
        _require(0 <= betas[0] < 1, "AdaMax", "beta1", betas[0], "must be in [0, 1)")
        _require(0 <= betas[1] < 1, "AdaMax", "beta2", betas[1], "must be in [0, 1)")
        _require(eps >= 0, "AdaMax", "eps", eps, "must be >= 0")
        _require(weight_decay >= 0, "AdaMax", "weight_decay", weight_decay, "must be >= 0")
        super().__init__(params, dict(lr=lr, betas=tuple(betas), eps=eps,
                                      weight_decay=weight_decay, maximize=maximize,
                                      foreach=foreach))

    def update(self, group, params, grads, states, foreach):
        beta1, beta2 = group["betas"]
        (adamax_foreach if foreach else adamax_single)(
            params, grads, states["exp_avg"], states["exp_inf"], states["step"], lr=group["lr"],
            beta1=beta1, beta2=beta2, eps=group["eps"], weight_decay=group["weight_decay"],
            maximize=group["maximize"])


def adamax_single(params, grads, exp_avgs, exp_infs, steps, *, lr, beta1, beta2, eps,
                  weight_decay, maximize) -> None:
    for i, theta in enumerate(params):
        g, m, u, t = grads[i], exp_avgs[i], exp_infs[i], steps[i]
        g = -g if maximize else g
        t += 1
        if weight_decay:
            g = g.add(theta, alpha=weight_decay)
        # m_t = beta1 m_{t-1} + (1 - beta1) g_t
        m.lerp_(g, 1 - beta1)
        # u_t = max(beta2 u_{t-1}, |g_t| + eps)    DEVIATION(D1): + eps, as torch.optim.Adamax
        torch.maximum(u.mul_(beta2), g.abs().add_(eps), out=u)
        # theta_t = theta_{t-1} - (alpha / (1 - beta1^t)) m_t / u_t
        theta.addcdiv_(m, u, value=-lr / (1 - beta1 ** float(t)))


def adamax_foreach(params, grads, exp_avgs, exp_infs, steps, *, lr, beta1, beta2, eps,
                   weight_decay, maximize) -> None:
    for theta, g, m, u, t in _by_device(params, grads, exp_avgs, exp_infs, steps):
        if maximize:
            g = torch._foreach_neg(g)
        torch._foreach_add_(t, 1)
        if weight_decay:
            g = torch._foreach_add(g, theta, alpha=weight_decay)
        torch._foreach_lerp_(m, g, 1 - beta1)
        torch._foreach_mul_(u, beta2)
        abs_g = torch._foreach_abs(g)
        torch._foreach_add_(abs_g, eps)  # DEVIATION(D1)
        torch._foreach_maximum_(u, abs_g)
        torch._foreach_addcdiv_(theta, m, u, [-lr / (1 - beta1**s) for s in _steps(t)])


# ---- SGD with (Nesterov) momentum ---------------------------------------------------------------

class SGD(_Optimizer):
    r"""SGD with momentum $\mu$, optionally Nesterov's (Sutskever et al. 2013), as in
    ``torch.optim.SGD`` (dampening 0): $b_t = \mu b_{t-1} + g_t$ ($b_1 = g_1$), then the step
    direction is $g_t + \mu b_t$ (Nesterov) or $b_t$, and $\theta_t = \theta_{t-1} - \alpha d_t$.
    """

    def __init__(self, params: ParamsT, lr: float = 1e-3, momentum: float = 0.0,
                 weight_decay: float = 0.0, *, nesterov: bool = False, maximize: bool = False,
                 foreach: bool | None = None):
        _require(lr >= 0, "SGD", "lr", lr, "the step size must be >= 0")
        _require(0 <= momentum < 1, "SGD", "momentum", momentum, "must be in [0, 1)")
        _require(weight_decay >= 0, "SGD", "weight_decay", weight_decay, "must be >= 0")
        _require(not nesterov or momentum > 0, "SGD", "nesterov", nesterov, "needs momentum > 0")
        super().__init__(params, dict(lr=lr, momentum=momentum, weight_decay=weight_decay,
                                      nesterov=nesterov, maximize=maximize, foreach=foreach))

    def init_state(self, p: Tensor, group: dict) -> dict:
        return {}  # the momentum buffer starts as the first gradient

    def gather(self, group):
        params, grads, _ = super().gather(group)
        return params, grads, {"momentum_buffer": [self.state[p].get("momentum_buffer")
                                                   for p in params]}

    def update(self, group, params, grads, states, foreach):
        buffers = states["momentum_buffer"]
        (sgd_foreach if foreach else sgd_single)(
            params, grads, buffers, lr=group["lr"], momentum=group["momentum"],
            weight_decay=group["weight_decay"], nesterov=group["nesterov"],
            maximize=group["maximize"])
        if group["momentum"]:
            for p, b in zip(params, buffers, strict=True):
                self.state[p]["momentum_buffer"] = b


def sgd_single(params, grads, buffers, *, lr, momentum, weight_decay, nesterov, maximize) -> None:
    for i, theta in enumerate(params):
        g = -grads[i] if maximize else grads[i]
        if weight_decay:
            g = g.add(theta, alpha=weight_decay)
        if momentum:
            # b_t = mu b_{t-1} + g_t, and b_1 = g_1
            if buffers[i] is None:
                buffers[i] = g.detach().clone()
            else:
                buffers[i].mul_(momentum).add_(g)
            # d_t = g_t + mu b_t (Nesterov), else b_t
            g = g.add(buffers[i], alpha=momentum) if nesterov else buffers[i]
        # theta_t = theta_{t-1} - alpha d_t
        theta.add_(g, alpha=-lr)


def sgd_foreach(params, grads, buffers, *, lr, momentum, weight_decay, nesterov, maximize) -> None:
    index = list(range(len(params)))
    for theta, g, idx in _by_device(params, grads, index):
        if maximize:
            g = torch._foreach_neg(g)
        if weight_decay:
            g = torch._foreach_add(g, theta, alpha=weight_decay)
        if momentum:
            old = [j for j, i in enumerate(idx) if buffers[i] is not None]
            if old:
                b = [buffers[idx[j]] for j in old]
                torch._foreach_mul_(b, momentum)
                torch._foreach_add_(b, [g[j] for j in old])
            for j, i in enumerate(idx):  # first step: b_1 = g_1
                if buffers[i] is None:
                    buffers[i] = g[j].detach().clone()
            b = [buffers[i] for i in idx]
            g = torch._foreach_add(g, b, alpha=momentum) if nesterov else b
        torch._foreach_add_(theta, g, alpha=-lr)


# ---- AdaGrad ------------------------------------------------------------------------------------

class AdaGrad(_Optimizer):
    r"""AdaGrad (Duchi et al. 2011): $s_t = s_{t-1} + g_t^2$,
    $\theta_t = \theta_{t-1} - \alpha g_t / (\sqrt{s_t} + \epsilon)$. Defaults as
    ``torch.optim.Adagrad`` (lr 0.01, eps 1e-10); ``lr_decay`` divides lr by 1 + (t-1) lr_decay."""

    state_keys = ("sum",)

    def __init__(self, params: ParamsT, lr: float = 1e-2, lr_decay: float = 0.0,
                 weight_decay: float = 0.0, initial_accumulator_value: float = 0.0,
                 eps: float = 1e-10, *, maximize: bool = False, foreach: bool | None = None):
        _require(lr >= 0, "AdaGrad", "lr", lr, "the step size must be >= 0")
        _require(lr_decay >= 0, "AdaGrad", "lr_decay", lr_decay, "must be >= 0")
        _require(weight_decay >= 0, "AdaGrad", "weight_decay", weight_decay, "must be >= 0")
        _require(initial_accumulator_value >= 0, "AdaGrad", "initial_accumulator_value",
                 initial_accumulator_value, "must be >= 0")
        _require(eps >= 0, "AdaGrad", "eps", eps, "must be >= 0")
        super().__init__(params, dict(lr=lr, lr_decay=lr_decay, weight_decay=weight_decay,
                                      initial_accumulator_value=initial_accumulator_value,
                                      eps=eps, maximize=maximize, foreach=foreach))

    def init_state(self, p: Tensor, group: dict) -> dict:
        return {"step": torch.tensor(0.0), "sum": torch.full_like(
            p, group["initial_accumulator_value"], memory_format=torch.preserve_format)}

    def update(self, group, params, grads, states, foreach):
        (adagrad_foreach if foreach else adagrad_single)(
            params, grads, states["sum"], states["step"], lr=group["lr"],
            lr_decay=group["lr_decay"], weight_decay=group["weight_decay"], eps=group["eps"],
            maximize=group["maximize"])


def adagrad_single(params, grads, sums, steps, *, lr, lr_decay, weight_decay, eps,
                   maximize) -> None:
    for i, theta in enumerate(params):
        g, s, t = grads[i], sums[i], steps[i]
        g = -g if maximize else g
        t += 1
        if weight_decay:
            g = g.add(theta, alpha=weight_decay)
        # s_t = s_{t-1} + g_t^2
        s.addcmul_(g, g, value=1)
        # theta_t = theta_{t-1} - alpha_t g_t / (sqrt(s_t) + eps)
        alpha_t = lr / (1 + (float(t) - 1) * lr_decay)
        theta.addcdiv_(g, s.sqrt().add_(eps), value=-alpha_t)


def adagrad_foreach(params, grads, sums, steps, *, lr, lr_decay, weight_decay, eps,
                    maximize) -> None:
    for theta, g, s, t in _by_device(params, grads, sums, steps):
        if maximize:
            g = torch._foreach_neg(g)
        torch._foreach_add_(t, 1)
        if weight_decay:
            g = torch._foreach_add(g, theta, alpha=weight_decay)
        torch._foreach_addcmul_(s, g, g, 1)
        std = torch._foreach_sqrt(s)
        torch._foreach_add_(std, eps)
        torch._foreach_addcdiv_(theta, g, std, [-lr / (1 + (k - 1) * lr_decay) for k in _steps(t)])


# ---- RMSProp ------------------------------------------------------------------------------------

class RMSProp(_Optimizer):
    r"""RMSProp (Tieleman & Hinton 2012), as ``torch.optim.RMSprop``:
    $r_t = \rho r_{t-1} + (1-\rho) g_t^2$ (``alpha`` is $\rho$), $\theta_t = \theta_{t-1} -
    \alpha g_t / (\sqrt{r_t} + \epsilon)$; ``centered`` subtracts the squared mean gradient
    (Graves 2013); ``momentum`` accumulates the scaled steps. ``eps_in_sqrt`` puts epsilon under
    the root, $\sqrt{r_t - a_t^2 + \epsilon}$: the form DQN (Mnih et al. 2015) trained with, where
    epsilon = 0.01 is its "min squared gradient" (not in ``torch.optim.RMSprop``)."""

    state_keys = ("square_avg",)

    def __init__(self, params: ParamsT, lr: float = 1e-2, alpha: float = 0.99, eps: float = 1e-8,
                 weight_decay: float = 0.0, momentum: float = 0.0, centered: bool = False, *,
                 eps_in_sqrt: bool = False, maximize: bool = False, foreach: bool | None = None):
        _require(lr >= 0, "RMSProp", "lr", lr, "the step size must be >= 0")
        _require(0 <= alpha < 1, "RMSProp", "alpha", alpha, "must be in [0, 1)")
        _require(eps >= 0, "RMSProp", "eps", eps, "must be >= 0")
        _require(weight_decay >= 0, "RMSProp", "weight_decay", weight_decay, "must be >= 0")
        _require(0 <= momentum < 1, "RMSProp", "momentum", momentum, "must be in [0, 1)")
        super().__init__(params, dict(lr=lr, alpha=alpha, eps=eps, weight_decay=weight_decay,
                                      momentum=momentum, centered=centered,
                                      eps_in_sqrt=eps_in_sqrt, maximize=maximize, foreach=foreach))

    def init_state(self, p: Tensor, group: dict) -> dict:
        state = super().init_state(p, group)
        for key, wanted in (("momentum_buffer", group["momentum"] > 0),
                            ("grad_avg", group["centered"])):
            if wanted:
                state[key] = torch.zeros_like(p, memory_format=torch.preserve_format)
        return state

    def update(self, group, params, grads, states, foreach):
        (rmsprop_foreach if foreach else rmsprop_single)(
            params, grads, states["square_avg"], states.get("grad_avg"),
            states.get("momentum_buffer"), states["step"], lr=group["lr"], alpha=group["alpha"],
            eps=group["eps"], weight_decay=group["weight_decay"], momentum=group["momentum"],
            centered=group["centered"], eps_in_sqrt=group["eps_in_sqrt"],
            maximize=group["maximize"])


def rmsprop_single(params, grads, square_avgs, grad_avgs, buffers, steps, *, lr, alpha, eps,
                   weight_decay, momentum, centered, maximize, eps_in_sqrt=False) -> None:
    for i, theta in enumerate(params):
        g, r = grads[i], square_avgs[i]
        g = -g if maximize else g
        steps[i] += 1
        if weight_decay:
            g = g.add(theta, alpha=weight_decay)
        # r_t = rho r_{t-1} + (1 - rho) g_t^2
        r.mul_(alpha).addcmul_(g, g, value=1 - alpha)
        if centered:  # mean gradient a_t = rho a_{t-1} + (1 - rho) g_t; denominator r_t - a_t^2
            grad_avgs[i].lerp_(g, 1 - alpha)
            var = r.addcmul(grad_avgs[i], grad_avgs[i], value=-1)
        else:
            var = r.clone()
        # sqrt(r_t) + eps, or with eps_in_sqrt sqrt(r_t + eps)
        denom = var.add_(eps).sqrt_() if eps_in_sqrt else var.sqrt_().add_(eps)
        if momentum:  # b_t = mu b_{t-1} + g_t / denom; theta_t = theta_{t-1} - alpha b_t
            buffers[i].mul_(momentum).addcdiv_(g, denom)
            theta.add_(buffers[i], alpha=-lr)
        else:  # theta_t = theta_{t-1} - alpha g_t / (sqrt(r_t) + eps)
            theta.addcdiv_(g, denom, value=-lr)


def rmsprop_foreach(params, grads, square_avgs, grad_avgs, buffers, steps, *, lr, alpha, eps,
                    weight_decay, momentum, centered, maximize, eps_in_sqrt=False) -> None:
    optional = ([grad_avgs] if centered else []) + ([buffers] if momentum else [])
    for theta, g, r, t, *rest in _by_device(params, grads, square_avgs, steps, *optional):
        if maximize:
            g = torch._foreach_neg(g)
        torch._foreach_add_(t, 1)
        if weight_decay:
            g = torch._foreach_add(g, theta, alpha=weight_decay)
        torch._foreach_mul_(r, alpha)
        torch._foreach_addcmul_(r, g, g, 1 - alpha)
        if centered:
            a = rest.pop(0)
            torch._foreach_lerp_(a, g, 1 - alpha)
            denom = torch._foreach_addcmul(r, a, a, -1)
        else:
            denom = torch._foreach_mul(r, 1.0)
        if eps_in_sqrt:
            torch._foreach_add_(denom, eps)
            torch._foreach_sqrt_(denom)
        else:
            torch._foreach_sqrt_(denom)
            torch._foreach_add_(denom, eps)
        if momentum:
            b = rest.pop(0)
            torch._foreach_mul_(b, momentum)
            torch._foreach_addcdiv_(b, g, denom)
            torch._foreach_add_(theta, b, alpha=-lr)
        else:
            torch._foreach_addcdiv_(theta, g, denom, -lr)


# ---- AdaDelta -----------------------------------------------------------------------------------

class AdaDelta(_Optimizer):
    r"""AdaDelta (Zeiler 2012), as ``torch.optim.Adadelta``: $r_t = \rho r_{t-1} + (1-\rho) g_t^2$,
    $\Delta_t = \sqrt{d_{t-1} + \epsilon} / \sqrt{r_t + \epsilon} \, g_t$,
    $d_t = \rho d_{t-1} + (1-\rho)\Delta_t^2$, $\theta_t = \theta_{t-1} - \alpha \Delta_t$."""

    state_keys = ("square_avg", "acc_delta")

    def __init__(self, params: ParamsT, lr: float = 1.0, rho: float = 0.9, eps: float = 1e-6,
                 weight_decay: float = 0.0, *, maximize: bool = False,
                 foreach: bool | None = None):
        _require(lr >= 0, "AdaDelta", "lr", lr, "the step size must be >= 0")
        _require(0 <= rho <= 1, "AdaDelta", "rho", rho, "must be in [0, 1]")
        _require(eps >= 0, "AdaDelta", "eps", eps, "must be >= 0")
        _require(weight_decay >= 0, "AdaDelta", "weight_decay", weight_decay, "must be >= 0")
        super().__init__(params, dict(lr=lr, rho=rho, eps=eps, weight_decay=weight_decay,
                                      maximize=maximize, foreach=foreach))

    def update(self, group, params, grads, states, foreach):
        (adadelta_foreach if foreach else adadelta_single)(
            params, grads, states["square_avg"], states["acc_delta"], states["step"],
            lr=group["lr"], rho=group["rho"], eps=group["eps"],
            weight_decay=group["weight_decay"], maximize=group["maximize"])


def adadelta_single(params, grads, square_avgs, acc_deltas, steps, *, lr, rho, eps, weight_decay,
                    maximize) -> None:
    for i, theta in enumerate(params):
        g, r, d = grads[i], square_avgs[i], acc_deltas[i]
        g = -g if maximize else g
        steps[i] += 1
        if weight_decay:
            g = g.add(theta, alpha=weight_decay)
        # r_t = rho r_{t-1} + (1 - rho) g_t^2
        r.mul_(rho).addcmul_(g, g, value=1 - rho)
        # Delta_t = sqrt(d_{t-1} + eps) / sqrt(r_t + eps) * g_t
        delta = d.add(eps).sqrt_().div_(r.add(eps).sqrt_()).mul_(g)
        # d_t = rho d_{t-1} + (1 - rho) Delta_t^2
        d.mul_(rho).addcmul_(delta, delta, value=1 - rho)
        # theta_t = theta_{t-1} - alpha Delta_t
        theta.add_(delta, alpha=-lr)


def adadelta_foreach(params, grads, square_avgs, acc_deltas, steps, *, lr, rho, eps, weight_decay,
                     maximize) -> None:
    for theta, g, r, d, t in _by_device(params, grads, square_avgs, acc_deltas, steps):
        if maximize:
            g = torch._foreach_neg(g)
        torch._foreach_add_(t, 1)
        if weight_decay:
            g = torch._foreach_add(g, theta, alpha=weight_decay)
        torch._foreach_mul_(r, rho)
        torch._foreach_addcmul_(r, g, g, 1 - rho)
        std = torch._foreach_add(r, eps)
        torch._foreach_sqrt_(std)
        delta = torch._foreach_add(d, eps)
        torch._foreach_sqrt_(delta)
        torch._foreach_div_(delta, std)
        torch._foreach_mul_(delta, g)
        torch._foreach_mul_(d, rho)
        torch._foreach_addcmul_(d, delta, delta, 1 - rho)
        torch._foreach_add_(theta, delta, alpha=-lr)


# ---- LARS (after the paper) ---------------------------------------------------------------------

class LARS(_Optimizer):
    r"""LARS, layer-wise adaptive rate scaling (You, Gitman & Ginsburg 2017, arXiv:1708.03888;
    after the paper), as SimCLR (Chen et al. 2020, §2.2, App. B) trains with it: the
    ``LARSOptimizer`` of SimCLR's TF code. Each parameter tensor $w$ (a "layer") gets its own
    step size, a trust ratio times lr:

    $$\begin{aligned}
    g &\leftarrow g + \lambda w && \text{(if the group decays)} \\
    r &= \eta \, \|w\|_2 / \|g\|_2 \ \text{if}\ \|w\| > 0 \ \text{and}\ \|g\| > 0, \
    \text{else}\ 1 && \text{(if it adapts)} \\
    v_t &= \mu v_{t-1} + \alpha r \, g, \qquad v_0 = 0 \\
    w_t &= w_{t-1} - v_t
    \end{aligned}$$

    ($r = 1$ in a group with ``adapt=False``.) The momentum form is the paper's code's: the lr
    goes into the buffer. ``torch.optim.SGD`` keeps $b_t = \mu b_{t-1} + g$ and steps
    $\alpha b_t$; the two agree while $\alpha$ is constant and differ when it changes between
    steps, which SimCLR's warmup + cosine schedule does at every step: here a new lr scales only
    the new gradient, not the whole accumulated velocity.

    Args:
        lr: $\alpha$, no default: SimCLR uses 0.3 × batch size / 256.
        momentum: $\mu$ (0.9).
        weight_decay: $\lambda$ (1e-6), an L2 term added to the gradient before the trust ratio.
        eta: $\eta$, the trust coefficient (0.001).
        adapt: use the trust ratio (True). Per group, like ``weight_decay``: SimCLR excludes
            batch-norm parameters and biases from both; ``lars_param_groups`` builds the groups.
        maximize: ascend instead of descend. foreach: None = the multi-tensor path where it runs.
    """

    state_keys = ("momentum_buffer",)

    def __init__(self, params: ParamsT, lr: float, momentum: float = 0.9,
                 weight_decay: float = 1e-6, eta: float = 1e-3, *, adapt: bool = True,
                 maximize: bool = False, foreach: bool | None = None):
        _require(lr >= 0, "LARS", "lr", lr, "the step size must be >= 0")
        _require(0 <= momentum < 1, "LARS", "momentum", momentum, "must be in [0, 1)")
        _require(weight_decay >= 0, "LARS", "weight_decay", weight_decay, "must be >= 0")
        _require(eta > 0, "LARS", "eta", eta, "the trust coefficient must be > 0")
        super().__init__(params, dict(lr=lr, momentum=momentum, weight_decay=weight_decay,
                                      eta=eta, adapt=adapt, maximize=maximize, foreach=foreach))

    def init_state(self, p: Tensor, group: dict) -> dict:
        return {"momentum_buffer": torch.zeros_like(p, memory_format=torch.preserve_format)}

    def update(self, group, params, grads, states, foreach):
        (lars_foreach if foreach else lars_single)(
            params, grads, states["momentum_buffer"], lr=group["lr"], momentum=group["momentum"],
            weight_decay=group["weight_decay"], eta=group["eta"], adapt=group["adapt"],
            maximize=group["maximize"])


def lars_param_groups(module_or_named_params: nn.Module | Iterable[tuple[str, Tensor]],
                      weight_decay: float) -> list[dict]:
    """SimCLR's exclusions as two param groups for ``LARS``: tensors with ndim >= 2 (conv and
    linear weights) decay and adapt; the rest (batch-norm weights and biases, every bias) get
    ``weight_decay=0, adapt=False``, as SimCLR's ``exclude_from_weight_decay`` and
    ``exclude_from_layer_adaptation = ['batch_normalization', 'bias']``. The rule is by shape,
    not name, so any other 1-D or scalar parameter (a LayerNorm's, a temperature) is excluded
    too. Takes a module or ``named_parameters()``; both groups are always returned."""
    named = (module_or_named_params.named_parameters()
             if isinstance(module_or_named_params, nn.Module) else module_or_named_params)
    params = [p for _, p in named]
    return [{"params": [p for p in params if p.ndim >= 2], "weight_decay": weight_decay,
             "adapt": True},
            {"params": [p for p in params if p.ndim < 2], "weight_decay": 0.0, "adapt": False}]


def lars_single(params, grads, buffers, *, lr, momentum, weight_decay, eta, adapt,
                maximize) -> None:
    for i, w in enumerate(params):
        g, v = grads[i], buffers[i]
        g = -g if maximize else g
        # g <- g + lambda w
        if weight_decay:
            g = g.add(w, alpha=weight_decay)
        v.mul_(momentum)
        if adapt:
            # r = eta ||w|| / ||g|| if both norms are > 0, else 1 (a tensor: no device sync)
            w_norm, g_norm = torch.linalg.vector_norm(w), torch.linalg.vector_norm(g)
            trust = torch.where((w_norm > 0) & (g_norm > 0), eta * w_norm / g_norm, 1.0)
            # v_t = mu v_{t-1} + alpha r g
            v.addcmul_(g, lr * trust)
        else:
            # v_t = mu v_{t-1} + alpha g
            v.add_(g, alpha=lr)
        # w_t = w_{t-1} - v_t
        w.sub_(v)


def lars_foreach(params, grads, buffers, *, lr, momentum, weight_decay, eta, adapt,
                 maximize) -> None:
    for w, g, v in _by_device(params, grads, buffers):
        if maximize:
            g = torch._foreach_neg(g)
        if weight_decay:
            g = torch._foreach_add(g, w, alpha=weight_decay)
        torch._foreach_mul_(v, momentum)
        if adapt:  # every tensor's trust ratio in one vector
            w_norm = torch.stack(torch._foreach_norm(w))
            g_norm = torch.stack(torch._foreach_norm(g))
            trust = torch.where((w_norm > 0) & (g_norm > 0), eta * w_norm / g_norm, 1.0)
            torch._foreach_addcmul_(v, g, list((lr * trust).unbind()))
        else:
            torch._foreach_add_(v, g, alpha=lr)
        torch._foreach_sub_(w, v)


OPTIMIZERS = {"adam": Adam, "adamw": AdamW, "adamax": AdaMax, "sgd": SGD, "adagrad": AdaGrad,
              "rmsprop": RMSProp, "adadelta": AdaDelta}
