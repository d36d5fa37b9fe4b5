"""``gradcheck``: the engine's Jacobian against central finite differences."""
import numpy as np

from minigrad import backend, config
from minigrad.autograd.engine import grad
from minigrad.tensor import Tensor


def gradcheck(fn, inputs, eps=1e-6, atol=1e-5, rtol=1e-3):
    """Compare backward's Jacobian with central finite differences (f(x+ε) - f(x-ε)) / 2ε.

    Inputs should be float64 for the differences to be meaningful. Returns True
    or raises ``AssertionError`` naming the input and the largest mismatch.
    """
    inputs = [inputs] if isinstance(inputs, Tensor) else list(inputs)
    for x in inputs:
        if x.dtype != np.float64:
            raise TypeError(f"gradcheck: use float64 inputs, got {x.dtype}")
    with config._grad_mode(True):
        out = fn(*inputs)
    out_size = out.numel()
    for k, x in enumerate(inputs):
        if not x.requires_grad:
            continue
        analytic = np.zeros((out_size, x.numel()))
        for j in range(out_size):  # row j of the Jacobian: backward from the unit vector e_j
            seed = np.zeros(out_size)
            seed[j] = 1.0
            (g,) = grad(out, [x], grad_outputs=Tensor(backend.to_device(seed.reshape(out.shape), out.device)),
                        retain_graph=True)
            analytic[j] = backend.to_numpy(g.data).ravel()
        numeric = np.zeros_like(analytic)
        flat = x.data.reshape(-1)
        for i in range(x.numel()):
            saved = flat[i].item()
            flat[i] = saved + eps
            with config._grad_mode(False):
                plus = backend.to_numpy(fn(*inputs).data).ravel()
            flat[i] = saved - eps
            with config._grad_mode(False):
                minus = backend.to_numpy(fn(*inputs).data).ravel()
            flat[i] = saved
            numeric[:, i] = (plus - minus) / (2 * eps)
        if not np.allclose(analytic, numeric, atol=atol, rtol=rtol):
            worst = np.abs(analytic - numeric).max()
            raise AssertionError(f"gradcheck: input {k} (shape {tuple(x.shape)}): max |analytic - numeric| = {worst:.3g}")
    return True
