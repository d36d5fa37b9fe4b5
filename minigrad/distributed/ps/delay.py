"""Gradient descent with a fixed delay, in one process, through the server's own update code.

An asynchronous worker computes its gradient at parameters that are already
``tau`` updates old when the server applies it. With a fixed delay:

    x_{t+1} = x_t - lr * grad f(x_{t - tau})        (x_s = x_0 for s < 0)

On the quadratic f(x) = h x^2 / 2 this is the linear recurrence
x_{t+1} = x_t - a x_{t-tau} with a = lr * h, whose characteristic polynomial is
z^{tau+1} - z^tau + a. All its roots lie inside the unit circle, i.e. the
iteration converges from every start, exactly when

    0 < a < 2 sin(pi / (2 (2 tau + 1)))

(2 for tau = 0, 1 for tau = 1, 0.618 for tau = 2, 0.347 for tau = 4): a delay
of tau shrinks the largest stable step roughly like 1/tau. This is the classic
stability condition of this delay difference equation (Levin & May 1976, "A
note on difference-delay equations", Theor. Popul. Biol. 9(2); Kuruklis 1994,
"The asymptotic stability of x_{n+1} - a x_n + b x_{n-k} = 0", J. Math. Anal.
Appl. 188, with a = 1: 0 < b < 2 cos(k pi / (2k + 1)), the same number).
"""
from collections import deque

import numpy as np


def stability_bound(tau):
    """The largest stable ``lr * h`` for delay ``tau``: 2 sin(pi / (2 (2 tau + 1)))."""
    if tau < 0:
        raise ValueError(f"stability_bound: the delay must be >= 0, got {tau}")
    return 2 * np.sin(np.pi / (2 * (2 * tau + 1)))


def run_with_delay(state, gradient, tau, steps):
    """Apply ``steps`` updates to ``state`` (a ShardState), each with the gradient of ``tau`` updates ago.

    ``gradient(x) -> g`` maps a flat parameter vector to its flat gradient.
    Returns the trajectory x_0..x_steps as an array (steps + 1, n). The state's
    record shows staleness min(t, tau) for update t: the delay as the server sees it.
    """
    if tau < 0 or steps < 0:
        raise ValueError(f"run_with_delay: tau and steps must be >= 0, got tau={tau}, steps={steps}")
    trajectory = np.empty((steps + 1,) + state.flat.shape, dtype=state.flat.dtype)
    trajectory[0] = state.flat
    window = deque([(state.version, state.flat.copy())], maxlen=tau + 1)   # the last tau + 1 versions
    for t in range(steps):
        version_read, x_read = window[0]
        state.apply(gradient(x_read), [(0, t, version_read, 0)])
        window.append((state.version, state.flat.copy()))
        trajectory[t + 1] = state.flat
    return trajectory
