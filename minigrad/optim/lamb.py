"""LAMB, layer-wise adaptive moments (You et al. 2019, "Large Batch Optimization for Deep Learning:
Training BERT in 76 minutes", arXiv:1904.00962, Algorithm 2).

Adam's direction plus decoupled weight decay, rescaled per layer so that its
length is phi(||x||) times the lr. Per parameter x (one layer) with gradient g,
at step t = 1, 2, ...:

    m <- beta1 * m + (1 - beta1) * g
    v <- beta2 * v + (1 - beta2) * g^2
    r  = (m / (1 - beta1^t)) / (sqrt(v / (1 - beta2^t)) + eps)     Adam's direction
    u  = r + weight_decay * x
    x <- x - lr * phi(||x||) / ||u|| * u

phi is the paper's scaling function: phi(z) = min(max(z, gamma_l), gamma_u)
(Algorithm 2 and sec. 3: "a scaling function"); the experiments use phi(z) = z,
the default here (``clip_weight_norm=None``); give ``(gamma_l, gamma_u)`` (either may
be None) to clip. The trust ratio phi(||x||)/||u|| of the last step is kept in
``optimizer.state[p]["trust_ratio"]``.

Where implementations differ (check before comparing numbers):
- bias correction: the arXiv v1 algorithm has none, later versions (and this one,
  ``bias_correction=True``) divide by 1 - beta^t; NVIDIA's and TF-Addons' LAMB
  make it an option;
- the weight decay enters the trust ratio here (||r + wd*x||, as in the paper);
  some code applies decay after the ratio, outside the norm;
- the trust ratio is sometimes clipped (e.g. to at most 10) instead of phi;
- zero norms: ratio 1, see ``layerwise``;
- a group with ``trust_ratio=False`` uses ratio 1: x <- x - lr * (r + wd * x), which
  is AdamW (torch.optim.AdamW with the same lr, betas, eps, weight_decay); give it
  ``weight_decay=0`` too for the usual bias/norm exclusion (``layerwise.exclude_bias_and_norm``).
"""
from minigrad import backend
from minigrad.optim.inplace import axpy_, blocks
from minigrad.optim.optimizer import Optimizer, check_hyperparameters


class LAMB(Optimizer):
    """``LAMB(params, lr=1e-3, betas=(0.9, 0.999), eps=1e-6, weight_decay=0, clip_weight_norm=None,
    bias_correction=True)``; group option ``trust_ratio``."""

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-6, weight_decay=0.0,
                 clip_weight_norm=None, bias_correction=True):
        check_hyperparameters("LAMB", lr=lr, eps=eps, betas=betas, weight_decay=weight_decay)
        if clip_weight_norm is not None and len(clip_weight_norm) != 2:
            raise ValueError(f"LAMB: clip_weight_norm must be (gamma_l, gamma_u), got {clip_weight_norm}")
        defaults = dict(lr=lr, betas=tuple(betas), eps=eps, weight_decay=weight_decay,
                        clip_weight_norm=clip_weight_norm, bias_correction=bias_correction, trust_ratio=True)
        super().__init__(params, defaults)

    def _update(self, closure=None):
        loss = self._loss_from(closure)
        for group, p in self._with_gradients():  # torch skips a parameter whose .grad is None
            x, g = p.data, p.grad.data
            xp = backend.get_array_module(x)
            state = self._state_of(p, ["exp_avg", "exp_avg_sq"])
            state["step"] += 1
            t, m, v = state["step"], state["exp_avg"], state["exp_avg_sq"]
            update = self._scratch(g, 1)                                # u, the whole layer's
            for block in blocks(x, g, m, v, update):
                _direction(group, t, *block)
            ratio = 1.0                                                 # excluded, or a zero norm
            if group["trust_ratio"]:
                x_norm, u_norm = float(xp.linalg.norm(x)), float(xp.linalg.norm(update))
                if x_norm > 0 and u_norm > 0:
                    ratio = _clip(x_norm, group["clip_weight_norm"]) / u_norm
            state["trust_ratio"] = ratio
            axpy_(x, -group["lr"] * ratio, update)
        return loss


def _direction(group, t, x, g, m, v, update):
    """Moments at step t and u = r + weight_decay * x, on one block (see ``inplace.blocks``)."""
    xp = backend.get_array_module(x)
    (beta1, beta2), eps = group["betas"], group["eps"]
    m *= beta1
    axpy_(m, 1 - beta1, g)
    v *= beta2
    axpy_(v, 1 - beta2, xp.multiply(g, g, out=update))
    correction1, correction2 = (1 - beta1 ** t, 1 - beta2 ** t) if group["bias_correction"] else (1, 1)
    xp.sqrt(v, out=update)
    update /= correction2 ** 0.5
    update += eps
    xp.divide(m, update, out=update)
    update /= correction1                                                   # r, Adam's direction
    axpy_(update, group["weight_decay"], x)                                 # u = r + wd * x


def _clip(norm, bounds):
    """phi(z) = min(max(z, gamma_l), gamma_u); identity without bounds."""
    if bounds is None:
        return norm
    lower, upper = bounds
    if lower is not None:
        norm = max(norm, lower)
    return norm if upper is None else min(norm, upper)
