"""Adam (Kingma & Ba 2015) and AdamW (Loshchilov & Hutter 2019), in ``torch.optim``'s exact order.

Per parameter p with gradient g, at step t = 1, 2, ... (Kingma & Ba, Algorithm 1):

    g   <- -g                                  if maximize
    p   <- p * (1 - lr * weight_decay)         AdamW: decay decoupled from the gradient
    g   <- g + weight_decay * p                Adam:  L2 penalty folded into the gradient
    m   <- beta1 * m + (1 - beta1) * g         first moment
    v   <- beta2 * v + (1 - beta2) * g^2       second moment
    v_max <- max(v_max, v)                     if amsgrad (Reddi et al. 2018)
    p   <- p - lr / (1 - beta1^t) * m / (sqrt(v or v_max) / sqrt(1 - beta2^t) + eps)

The two bias corrections undo the zero initialisation of m and v. AdamW's decay is
Loshchilov & Hutter's Algorithm 2, with the schedule multiplier folded into lr as
PyTorch does.
"""
from minigrad import backend
from minigrad.optim.inplace import axpy_, blocks
from minigrad.optim.optimizer import Optimizer, check_hyperparameters


class Adam(Optimizer):
    """``Adam(params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0, amsgrad=False, *, maximize=False,
    decoupled_weight_decay=False)``; ``decoupled_weight_decay=True`` is AdamW, as in torch."""

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0,
                 amsgrad=False, *, maximize=False, decoupled_weight_decay=False):
        check_hyperparameters(type(self).__name__, lr=lr, eps=eps, betas=betas, weight_decay=weight_decay)
        defaults = dict(lr=lr, betas=tuple(betas), eps=eps, weight_decay=weight_decay,
                        amsgrad=amsgrad, maximize=maximize, decoupled_weight_decay=decoupled_weight_decay)
        super().__init__(params, defaults)

    def _update(self, closure=None):
        loss = self._loss_from(closure)
        for group, p in self._with_gradients():  # torch skips a parameter whose .grad is None
            state = self._state_of(p, ["exp_avg", "exp_avg_sq"] + ["max_exp_avg_sq"] * group["amsgrad"])
            state["step"] += 1
            arrays = [p.data, p.grad.data, state["exp_avg"], state["exp_avg_sq"]]
            if group["amsgrad"]:
                arrays.append(state["max_exp_avg_sq"])
            for block in blocks(*arrays):
                self._adam_step(group, state["step"], *block)
        return loss

    def _adam_step(self, group, t, param, g, m, v, v_max=None):
        """The update at step t, on one block of a parameter (see ``inplace.blocks``)."""
        xp = backend.get_array_module(param)
        lr, (beta1, beta2), decay = group["lr"], group["betas"], group["weight_decay"]
        if group["decoupled_weight_decay"]:
            g = self._gradient(g, param, group["maximize"])
            if decay != 0:
                param *= 1 - lr * decay
        else:
            g = self._gradient(g, param, group["maximize"], decay)
        m *= beta1
        axpy_(m, 1 - beta1, g)
        v *= beta2
        scratch = self._scratch(g, 1)
        axpy_(v, 1 - beta2, xp.multiply(g, g, out=scratch))
        if v_max is not None:
            v = xp.maximum(v_max, v, out=v_max)
        denom = xp.sqrt(v, out=scratch)
        denom /= (1 - beta2 ** t) ** 0.5
        denom += group["eps"]
        axpy_(param, -lr / (1 - beta1 ** t), xp.divide(m, denom, out=denom))  # p -= step_size * m / denom


class AdamW(Adam):
    """``AdamW(params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2, amsgrad=False, *, maximize=False)``.

    Adam with the weight decay applied to the parameter directly (p <- p(1 - lr*wd))
    instead of through the gradient, where Adam's per-coordinate scaling would
    weaken it for coordinates with large gradients (Loshchilov & Hutter 2019, sec. 2).
    """

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2,
                 amsgrad=False, *, maximize=False):
        super().__init__(params, lr, betas, eps, weight_decay, amsgrad, maximize=maximize,
                         decoupled_weight_decay=True)
