"""Adagrad (Duchi, Hazan & Singer 2011), in ``torch.optim.Adagrad``'s exact order.

Each coordinate gets its own step size, shrinking with the sum of its squared
gradients so far: coordinates that saw large gradients move slowly, rare ones
keep moving (Duchi et al., sec. 1, the diagonal "AdaGrad" update). Per
parameter p with gradient g, at step t = 1, 2, ...:

    g   <- -g                                  if maximize
    g   <- g + weight_decay * p                L2 penalty folded into the gradient
    lr_t = lr / (1 + (t - 1) * lr_decay)       an extra 1/t-like decay (torch's option)
    s   <- s + g^2                             s starts at initial_accumulator_value
    p   <- p - lr_t * g / (sqrt(s) + eps)

Because s only grows, the effective step only shrinks: the reason RMSprop and
Adam replace the sum with a moving average.
"""
from minigrad import backend
from minigrad.optim.inplace import axpy_, blocks
from minigrad.optim.optimizer import Optimizer, check_hyperparameters


class Adagrad(Optimizer):
    """``Adagrad(params, lr=1e-2, lr_decay=0, weight_decay=0, initial_accumulator_value=0, eps=1e-10, *, maximize=False)``.

    As in PyTorch, the state (``step`` and the sum ``sum``) is created when the
    optimizer is built, for every parameter, so ``state_dict()`` lists them all.
    """

    def __init__(self, params, lr=1e-2, lr_decay=0.0, weight_decay=0.0, initial_accumulator_value=0.0,
                 eps=1e-10, *, maximize=False):
        check_hyperparameters("Adagrad", lr=lr, lr_decay=lr_decay, weight_decay=weight_decay,
                              initial_accumulator_value=initial_accumulator_value, eps=eps)
        defaults = dict(lr=lr, lr_decay=lr_decay, weight_decay=weight_decay, eps=eps,
                        initial_accumulator_value=initial_accumulator_value, maximize=maximize)
        super().__init__(params, defaults)

    def add_param_group(self, param_group):
        super().add_param_group(param_group)
        group = self.param_groups[-1]
        for p in group["params"]:
            xp = backend.get_array_module(p.data)
            self.state[p] = {"step": 0, "sum": xp.full_like(p.data, group["initial_accumulator_value"])}

    def _update(self, closure=None):
        loss = self._loss_from(closure)
        for group, p in self._with_gradients():  # torch skips a parameter whose .grad is None
            state = self.state[p]
            state["step"] += 1
            step_lr = group["lr"] / (1 + (state["step"] - 1) * group["lr_decay"])
            for param, g, total in blocks(p.data, p.grad.data, state["sum"]):
                g = self._gradient(g, param, group["maximize"], group["weight_decay"])
                xp, scratch = backend.get_array_module(g), self._scratch(g, 1)
                total += xp.multiply(g, g, out=scratch)
                std = xp.sqrt(total, out=scratch)
                std += group["eps"]
                axpy_(param, -step_lr, xp.divide(g, std, out=std))  # p -= lr_t * g / std
        return loss
