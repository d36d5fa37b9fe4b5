"""RMSprop (Tieleman & Hinton 2012, Coursera lecture 6.5), in ``torch.optim.RMSprop``'s exact order.

Adagrad's sum of squared gradients becomes an exponential moving average, so
old gradients are forgotten and the step size does not decay to zero. Per
parameter p with gradient g:

    g   <- -g                                  if maximize
    g   <- g + weight_decay * p                L2 penalty folded into the gradient
    s   <- alpha * s + (1 - alpha) * g^2       mean square
    a   <- alpha * a + (1 - alpha) * g         if centered (Graves 2013, sec. 4):
    d   <- sqrt(s - a^2) + eps                   divide by an estimate of the std, not the RMS
    d   <- sqrt(s) + eps                       otherwise
    b   <- momentum * b + g / d                if momentum > 0, then p <- p - lr * b
    p   <- p - lr * g / d                      otherwise

The lecture slides give the rule without a paper; the centered variant is from
Graves, "Generating Sequences With Recurrent Neural Networks", 2013, sec. 4.
"""
from minigrad import backend
from minigrad.optim.inplace import axpy_, blocks
from minigrad.optim.optimizer import Optimizer, check_hyperparameters


class RMSprop(Optimizer):
    """``RMSprop(params, lr=1e-2, alpha=0.99, eps=1e-8, weight_decay=0, momentum=0, centered=False, *, maximize=False)``.

    State per parameter: ``step``, ``square_avg``, plus ``momentum_buffer`` when
    momentum > 0 and ``grad_avg`` when centered (PyTorch's names).
    """

    def __init__(self, params, lr=1e-2, alpha=0.99, eps=1e-8, weight_decay=0.0, momentum=0.0,
                 centered=False, *, maximize=False):  # torch's 8th positional is capturable, not maximize
        check_hyperparameters("RMSprop", lr=lr, eps=eps, momentum=momentum, weight_decay=weight_decay, alpha=alpha)
        defaults = dict(lr=lr, alpha=alpha, eps=eps, weight_decay=weight_decay, momentum=momentum,
                        centered=centered, maximize=maximize)
        super().__init__(params, defaults)

    def _update(self, closure=None):
        loss = self._loss_from(closure)
        for group, p in self._with_gradients():  # torch skips a parameter whose .grad is None
            state = self._state_of(p, ["square_avg"] + ["momentum_buffer"] * (group["momentum"] > 0)
                                   + ["grad_avg"] * group["centered"])
            state["step"] += 1
            names = [name for name in ("square_avg", "momentum_buffer", "grad_avg") if name in state]
            for param, g, *buffers in blocks(p.data, p.grad.data, *(state[name] for name in names)):
                self._rmsprop_step(group, param, g, **dict(zip(names, buffers)))
        return loss

    def _rmsprop_step(self, group, param, g, square_avg, momentum_buffer=None, grad_avg=None):
        """The update on one block of a parameter (see ``inplace.blocks``)."""
        xp, alpha = backend.get_array_module(param), group["alpha"]
        g = self._gradient(g, param, group["maximize"], group["weight_decay"])
        denom = self._scratch(g, 1)
        square_avg *= alpha
        axpy_(square_avg, 1 - alpha, xp.multiply(g, g, out=denom))
        if group["centered"]:
            axpy_(grad_avg, 1 - alpha, xp.subtract(g, grad_avg, out=denom))  # a += (1-alpha)(g - a)
            xp.multiply(grad_avg, grad_avg, out=denom)
            xp.subtract(square_avg, denom, out=denom)
            xp.sqrt(denom, out=denom)
        else:
            xp.sqrt(square_avg, out=denom)
        denom += group["eps"]
        step = xp.divide(g, denom, out=denom)                                # g / d
        if group["momentum"] > 0:
            momentum_buffer *= group["momentum"]
            momentum_buffer += step
            step = momentum_buffer
        axpy_(param, -group["lr"], step)
