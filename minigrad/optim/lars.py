"""LARS, layer-wise adaptive rate scaling (You, Gitman & Ginsburg 2017, "Large Batch Training of
Convolutional Networks", arXiv:1708.03888, sec. 3, eq. 6 and Algorithm 1).

For each layer l (each parameter tensor), with global lr gamma, momentum m, weight
decay beta and trust coefficient eta:

    local_lr = eta * ||w|| / (||g|| + beta * ||w||)          (eq. 6)
    v       <- m * v + gamma * local_lr * (g + beta * w)      (Algorithm 1)
    w       <- w - v

The step each layer takes is then about eta * gamma * ||w||: proportional to the
layer's own size, not to its gradient's. ``local_lr`` of the last step is kept in
``optimizer.state[p]["local_lr"]`` so it can be plotted.

Where implementations differ (check before comparing numbers):
- the global lr sits inside the momentum (above, as in the paper) or multiplies
  v when it is applied (w <- w - gamma * v, torch.optim.SGD's form); the two agree
  while gamma is constant and differ when a schedule changes it;
- a zero ||w|| or ||g||: here local_lr becomes 1, as in LARC (see ``layerwise``);
  some code adds an eps to the denominator instead, some returns 0;
- LARC (NVIDIA's variant) clips the local lr at the global one, min(local_lr/gamma, 1);
- which tensors are excluded: a group with ``trust_ratio=False`` uses local_lr = 1,
  so it is SGD with momentum and L2 weight decay (give it ``weight_decay=0`` too for
  the usual bias/norm exclusion; ``layerwise.exclude_bias_and_norm`` does both).
"""
from minigrad import backend
from minigrad.optim.inplace import axpy_, blocks
from minigrad.optim.optimizer import Optimizer, check_hyperparameters, required


class LARS(Optimizer):
    """``LARS(params, lr, momentum=0.9, weight_decay=0, trust_coefficient=0.001)``; group option ``trust_ratio``."""

    def __init__(self, params, lr=required, momentum=0.9, weight_decay=0.0, trust_coefficient=0.001):
        check_hyperparameters("LARS", lr=lr, momentum=momentum, weight_decay=weight_decay,
                              trust_coefficient=trust_coefficient)
        defaults = dict(lr=lr, momentum=momentum, weight_decay=weight_decay,
                        trust_coefficient=trust_coefficient, trust_ratio=True)
        super().__init__(params, defaults)

    def _update(self, closure=None):
        loss = self._loss_from(closure)
        for group, p in self._with_gradients():  # torch skips a parameter whose .grad is None
            decay, momentum = group["weight_decay"], group["momentum"]
            w, g = p.data, p.grad.data
            xp = backend.get_array_module(w)
            local_lr = 1.0                                                    # excluded, or a zero norm
            if group["trust_ratio"]:
                w_norm, g_norm = float(xp.linalg.norm(w)), float(xp.linalg.norm(g))
                if w_norm > 0 and g_norm > 0:
                    local_lr = group["trust_coefficient"] * w_norm / (g_norm + decay * w_norm)
            state = self.state.setdefault(p, {})
            state["local_lr"] = local_lr
            if momentum == 0:
                for w_block, g_block in blocks(w, g):
                    axpy_(w_block, -group["lr"] * local_lr, self._gradient(g_block, w_block, weight_decay=decay))
                continue
            if "momentum_buffer" not in state:
                state["momentum_buffer"] = xp.zeros_like(w)
            for w_block, g_block, v in blocks(w, g, state["momentum_buffer"]):
                v *= momentum
                axpy_(v, group["lr"] * local_lr, self._gradient(g_block, w_block, weight_decay=decay))  # g + beta w
                w_block -= v
        return loss
