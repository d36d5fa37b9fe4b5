"""Reverse-mode automatic differentiation.

``engine``      the backward pass over the recorded graph: ``backward`` and ``grad``
``functional``  helpers above it, named as ``torch.autograd.functional``: ``hessian``
``gradcheck``   backward's Jacobian against finite differences
"""
from minigrad.autograd import functional
from minigrad.autograd.engine import backward, grad
from minigrad.autograd.gradcheck import gradcheck

__all__ = ["backward", "functional", "grad", "gradcheck"]
