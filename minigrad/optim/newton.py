"""Newton's method with the exact Hessian, from double backward.

All parameters are seen as one vector x of n numbers. With g = grad f(x) and
H = hessian f(x), one step solves the quadratic model of f around x
(Nocedal & Wright, "Numerical Optimization", 2nd ed., sec. 3.3):

    (H + damping * I) d = g,        x <- x - lr * d

On a quadratic f(x) = x^T A x / 2 - b^T x, one step with lr = 1 lands on the
minimiser A^{-1} b. Near a minimiser with positive definite H, the error squares
each step (quadratic convergence, Nocedal & Wright, Theorem 3.5). For logistic
regression the Newton step is exactly iteratively reweighted least squares (IRLS).

How H is built: ``autograd.grad(loss, params, create_graph=True)`` returns g as
Tensors that remember how they were computed, so differentiating g_i once more
gives row i of H: n backward passes through the gradient's graph, one per
coordinate, fine for the small n this optimizer is for (it stores n^2 numbers and
factors an n-by-n matrix). The solve uses a Cholesky factorisation
H + damping*I = L L^T, which exists exactly when the matrix is positive definite;
if it is not, the quadratic model has no minimum and Newton raises instead of
stepping towards a saddle or a maximum.

Optional backtracking line search (Nocedal & Wright, Algorithm 3.1): start from
step t = lr and halve it until the Armijo condition
f(x - t d) <= f(x) - c1 * t * g^T d holds.
"""
import warnings

import numpy as np

from minigrad import backend, config
from minigrad.autograd import functional
from minigrad.optim.optimizer import Optimizer
from minigrad.tensor import Tensor

ARMIJO_C1 = 1e-4        # sufficient-decrease constant (Nocedal & Wright, p. 33)
MAX_BACKTRACKS = 40


class Newton(Optimizer):
    """``Newton(params, lr=1.0, damping=0.0, line_search_fn=None)``; ``line_search_fn``: None or "backtracking".

    ``step(closure)``: the closure recomputes and returns the loss WITHOUT calling
    backward; Newton differentiates it twice itself (it neither reads nor writes
    ``.grad``). Returns the loss at the point before the step.
    """

    def __init__(self, params, lr=1.0, damping=0.0, line_search_fn=None):
        if lr <= 0.0:
            raise ValueError(f"Newton: lr must be positive, got {lr}")
        if damping < 0.0:
            raise ValueError(f"Newton: damping must be >= 0, got {damping}")
        if line_search_fn not in (None, "backtracking"):
            raise ValueError(f"Newton: line_search_fn must be None or 'backtracking', got {line_search_fn!r}")
        super().__init__(params, dict(lr=lr, damping=damping, line_search_fn=line_search_fn))
        if len(self.param_groups) != 1:
            raise ValueError("Newton: one Hessian couples every parameter, so parameter groups are not supported")

    def _update(self, closure=None):
        if closure is None:
            raise ValueError("Newton.step needs a closure that returns the loss (without calling backward)")
        group = self.param_groups[0]
        params = group["params"]
        with config.enable_grad():
            loss = _scalar_loss(closure())
            g, H = gradient_and_hessian(loss, params)
        direction = solve_newton_system(H, g, group["damping"])

        x0 = _flatten([p.data for p in params])
        t = group["lr"]
        if group["line_search_fn"] == "backtracking":
            t = self._backtrack(closure, params, x0, direction, g, loss.item(), t)
        _assign(params, x0 - t * direction)
        return loss.detach()  # the caller gets the value, not the double-backward graph behind it

    def _backtrack(self, closure, params, x0, direction, g, f0, t):
        slope = -float(g @ direction)  # directional derivative along -direction; < 0 for PD matrices
        with config.no_grad():
            for _ in range(MAX_BACKTRACKS):
                _assign(params, x0 - t * direction)
                if _scalar_loss(closure()).item() <= f0 + ARMIJO_C1 * t * slope:
                    return t
                t *= 0.5
        warnings.warn(
            f"Newton: backtracking found no decrease of the loss {f0} in {MAX_BACKTRACKS} halvings "
            "(at a minimum, rounding allows none); the parameters are left unchanged"
        )
        return 0.0


def gradient_and_hessian(loss, params):
    """(g, H): the gradient (n,) and the exact Hessian (n, n), symmetrised, of ``loss`` over the flattened ``params``."""
    g, H = functional.gradient_and_hessian(loss, params)
    return g, (H + H.T) / 2  # exact H is symmetric; average away rounding


def solve_newton_system(H, g, damping=0.0):
    """d = (H + damping*I)^{-1} g by Cholesky; raises if H + damping*I is not positive definite."""
    xp = backend.get_array_module(H)
    n = H.shape[0]
    A = H + damping * xp.eye(n, dtype=H.dtype)
    try:
        L = xp.linalg.cholesky(A)
        pivots = xp.diagonal(L) ** 2
        # Cholesky of a singular matrix can "succeed" on a pivot that is pure rounding
        # (2 - √2·√2 = 4e-16 for [[2, 2], [2, 2]]), and the step would be ~1e15. A pivot
        # below n·ε·max|A_ii| is zero to working precision (the usual numerical-rank rule).
        tiny = n * float(xp.finfo(A.dtype).eps) * float(xp.abs(xp.diagonal(A)).max())
        ok = bool(xp.isfinite(L).all()) and float(pivots.min()) > tiny  # CuPy returns NaN where NumPy raises
    except np.linalg.LinAlgError:
        ok = False
    if not ok:
        smallest = float(xp.linalg.eigvalsh(H)[0])
        hint = (f"the quadratic model has no minimum; pass damping > {max(-smallest, 0.0):.3g}"
                if damping == 0 else f"damping={damping} is too small; it must exceed {-smallest:.3g}")
        raise np.linalg.LinAlgError(
            f"Newton: the {n}x{n} Hessian + damping*I is singular or not positive definite "
            f"(smallest Hessian eigenvalue {smallest:.6g}, damping {damping}); {hint}"
        )
    y = xp.linalg.solve(L, g)        # L y = g
    return xp.linalg.solve(L.T, y)   # L^T d = y


def _scalar_loss(loss):
    if not isinstance(loss, Tensor) or loss.numel() != 1:
        shape = getattr(loss, "shape", type(loss).__name__)
        raise TypeError(f"Newton: the closure must return a one-element loss Tensor, got {shape}")
    return loss


def _flatten(arrays):
    xp = backend.get_array_module(arrays[0])
    return xp.concatenate([a.reshape(-1) for a in arrays])


def _assign(params, x):
    """Write the flat vector ``x`` back into the parameters, in place."""
    offset = 0
    for p in params:
        p.data[...] = x[offset:offset + p.numel()].reshape(p.shape)
        offset += p.numel()
