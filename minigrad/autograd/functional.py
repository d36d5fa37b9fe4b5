"""Helpers built on the engine, named as in ``torch.autograd.functional``.

Both Hessian routines here share one builder, ``gradient_and_hessian``: the
gradient g is computed with ``create_graph=True``, so g is itself a function of
the inputs, and row i of the Hessian is the gradient of g_i (Pearlmutter 1994:
each row is a Hessian-vector product with the unit vector e_i). ``optim.Newton``
uses the same builder.
"""
import numpy as np

from minigrad import backend, config
from minigrad.autograd.engine import grad
from minigrad.tensor import Tensor


def gradient_and_hessian(loss, inputs):
    """(g, H) as raw arrays: the gradient (n,) and exact Hessian (n, n) of the scalar ``loss``
    with respect to ``inputs``, flattened and concatenated in order."""
    from minigrad.functions import concat, reshape

    grads = grad(loss, inputs, create_graph=True)
    g = concat([reshape(gi, (-1,)) for gi in grads])
    n = g.shape[0]
    xp = backend.get_array_module(g.data)
    H = xp.zeros((n, n), dtype=g.dtype)
    if g.requires_grad:  # otherwise g does not depend on the inputs: f is linear, H = 0
        for i in range(n):
            row = grad(g[i], inputs, retain_graph=True)
            H[i] = xp.concatenate([r.data.reshape(-1) for r in row])
    return g.data.copy(), H


def hessian(func, inputs):
    """The second derivatives of the scalar ``func(*inputs)``, laid out as
    ``torch.autograd.functional.hessian``: one input x gives a Tensor of shape
    ``x.shape + x.shape``; a list or tuple of inputs gives a tuple of tuples of blocks."""
    single = isinstance(inputs, Tensor)
    xs = [Tensor(x.data, requires_grad=True) for x in ([inputs] if single else inputs)]
    with config._grad_mode(True):
        out = func(*xs)
        if not isinstance(out, Tensor) or out.numel() != 1:
            raise ValueError(f"hessian: func must return a one-element Tensor, got shape {tuple(getattr(out, 'shape', ()))}")
        _, H = gradient_and_hessian(out, xs)
    starts = np.cumsum([0] + [x.numel() for x in xs])
    blocks = tuple(
        tuple(Tensor(H[starts[a]:starts[a + 1], starts[b]:starts[b + 1]].reshape(xa.shape + xb.shape))
              for b, xb in enumerate(xs))
        for a, xa in enumerate(xs)
    )
    return blocks[0][0] if single else blocks
