"""Gradient clipping, with ``torch.nn.utils``' exact semantics.

Clipping by global norm (Pascanu, Mikolov & Bengio 2013, "On the difficulty of
training recurrent neural networks", Algorithm 1): treat all gradients as one long
vector G, and if its norm is too large, shrink it:

    total = || (||g_1||_p, ||g_2||_p, ..., ||g_n||_p) ||_p     (= ||G||_p for any p)
    g_i  <- g_i * min(1, max_norm / (total + 1e-6))

The coefficient is applied even when it is 1 (no data-dependent branch, as in
PyTorch), so a NaN or infinite norm flows into the gradients exactly as PyTorch
lets it: a NaN total makes every gradient NaN; an infinite total makes every finite
entry 0 and every infinite entry NaN (inf * 0). ``error_if_nonfinite=True`` raises
instead. Clipping by global norm only shortens G; its direction is kept.

Clipping by value (``clip_grad_value_``) clamps each entry to [-c, c]; that
changes the direction of G.
"""
import math
import types
import warnings

import numpy as np

from minigrad import backend
from minigrad.tensor import Tensor


def _as_list(parameters):
    return [parameters] if isinstance(parameters, Tensor) else list(parameters)


def _vector_norm(x, norm_type):
    """The p-norm of an array seen as one vector (p = inf, -inf and 0 included)."""
    xp = backend.get_array_module(x)
    if x.size == 0:
        return xp.zeros((), dtype=x.dtype)
    a = xp.abs(x)
    if norm_type == math.inf:
        return a.max()
    if norm_type == -math.inf:
        return a.min()
    if norm_type == 0:
        return (x != 0).sum().astype(x.dtype)
    if norm_type == 1:
        return a.sum()
    if norm_type == 2:
        return xp.sqrt((a * a).sum())
    return (a ** norm_type).sum() ** (1.0 / norm_type)


def clip_grad_norm_(parameters, max_norm, norm_type=2.0, error_if_nonfinite=False):
    """Scale all gradients together so their joint ``norm_type``-norm is at most ``max_norm``.

    ``parameters``: a Tensor or an iterable of them (a generator is fine); those
    whose ``.grad`` is None are ignored. Returns the total norm BEFORE clipping as a
    0-d Tensor (a 0-d float32 zero when no parameter has a gradient).
    """
    is_generator = isinstance(parameters, types.GeneratorType)
    parameters = _as_list(parameters)
    if is_generator and not parameters:
        warnings.warn("clip_grad_norm_: `parameters` is an empty generator, no gradient clipping will occur",
                      stacklevel=2)
    grads = [p.grad.data for p in parameters if p.grad is not None]
    max_norm, norm_type = float(max_norm), float(norm_type)
    if not grads:
        return Tensor(np.zeros((), dtype=np.float32))

    device = backend.device_of(grads[0])
    xp = backend.get_array_module(grads[0])
    norms = [backend.to_device(_vector_norm(g, norm_type), device) for g in grads]  # each on its own device first
    total = _vector_norm(xp.stack(norms), norm_type)
    if error_if_nonfinite and not bool(xp.isfinite(total)):
        raise RuntimeError(
            f"clip_grad_norm_: the total norm of order {norm_type} of the gradients is {float(total)}, "
            f"so it cannot be clipped; pass error_if_nonfinite=False to scale by it anyway"
        )
    coef = xp.minimum(max_norm / (total + 1e-6), 1.0)
    with np.errstate(invalid="ignore"):  # inf * 0 -> nan is the documented outcome, as in PyTorch
        for g in grads:
            g *= backend.to_device(xp.asarray(coef), backend.device_of(g))
    return Tensor(xp.asarray(total))


def clip_grad_value_(parameters, clip_value):
    """Clamp every gradient entry into [-clip_value, clip_value], in place. Returns None."""
    clip_value = float(clip_value)
    for p in _as_list(parameters):
        if p.grad is not None:
            xp = backend.get_array_module(p.grad.data)
            xp.clip(p.grad.data, -clip_value, clip_value, out=p.grad.data)
