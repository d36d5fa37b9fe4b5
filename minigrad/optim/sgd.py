"""Stochastic gradient descent with momentum (heavy ball), dampening, Nesterov and weight decay.

The update, per parameter p with gradient g, in ``torch.optim.SGD``'s exact order:

    g <- -g                              if maximize
    g <- g + weight_decay * p            (L2 penalty folded into the gradient)
    b <- g                               on the first step (no dampening on it)
    b <- momentum * b + (1 - dampening) * g   on later steps
    g <- g + momentum * b   if nesterov, else   g <- b
    p <- p - lr * g

With dampening 0, ``b`` makes this Polyak's heavy ball (Polyak 1964):
p_{t+1} = p_t - lr * grad(p_t) + momentum * (p_t - p_{t-1}). The Nesterov branch is
Nesterov's accelerated gradient (Nesterov 1983) written at the look-ahead point, as in
Sutskever et al. 2013 and Bengio, Boulanger-Lewandowski & Pascanu 2013.
"""
from minigrad import backend
from minigrad.optim.inplace import axpy_, blocks
from minigrad.optim.optimizer import Optimizer, check_hyperparameters


class SGD(Optimizer):
    """``SGD(params, lr=1e-3, momentum=0, dampening=0, weight_decay=0, nesterov=False, *, maximize=False)``.

    torch.optim.SGD's signature in torch 2.x (positions and the lr default included).
    """

    def __init__(self, params, lr=1e-3, momentum=0.0, dampening=0.0, weight_decay=0.0, nesterov=False, *,
                 maximize=False):
        check_hyperparameters("SGD", lr=lr, momentum=momentum, weight_decay=weight_decay)
        if dampening != dampening:  # torch lets NaN through; it would make every momentum buffer NaN
            raise ValueError(f"SGD: invalid dampening {dampening}")
        if nesterov and (momentum <= 0 or dampening != 0):
            raise ValueError(
                f"SGD: Nesterov momentum needs momentum > 0 and dampening = 0, "
                f"got momentum={momentum}, dampening={dampening}"
            )
        defaults = dict(lr=lr, momentum=momentum, dampening=dampening,
                        nesterov=nesterov, weight_decay=weight_decay, maximize=maximize)
        super().__init__(params, defaults)

    def _update(self, closure=None):
        loss = self._loss_from(closure)
        for group, p in self._with_gradients():  # torch skips a parameter whose .grad is None
            if group["momentum"] == 0:
                for param, g in blocks(p.data, p.grad.data):
                    g = self._gradient(g, param, group["maximize"], group["weight_decay"])
                    axpy_(param, -group["lr"], g)
                continue
            state = self.state.setdefault(p, {})
            first_step = state.get("momentum_buffer") is None
            if first_step:
                state["momentum_buffer"] = backend.get_array_module(p.data).empty_like(p.data)
            for param, g, buf in blocks(p.data, p.grad.data, state["momentum_buffer"]):
                self._momentum_step(group, param, g, buf, first_step)
        return loss

    def _momentum_step(self, group, param, g, buf, first_step):
        """The update with momentum, on one block of a parameter (see ``inplace.blocks``)."""
        xp, momentum = backend.get_array_module(buf), group["momentum"]
        g = self._gradient(g, param, group["maximize"], group["weight_decay"])
        if first_step:
            xp.copyto(buf, g)
        else:
            buf *= momentum
            axpy_(buf, 1 - group["dampening"], g)
        step = buf
        if group["nesterov"]:
            step = xp.multiply(buf, momentum, out=self._scratch(g, 1))
            step += g                                                    # g + momentum * buf
        axpy_(param, -group["lr"], step)
