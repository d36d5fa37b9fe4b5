"""optim.Newton: exact Hessian by double backward, Cholesky solve, line search; IRLS on logistic regression."""
import numpy as np
import pytest
import torch

import minigrad as mg
from minigrad import optim
from minigrad.optim.newton import gradient_and_hessian


def spd_matrix(n, seed):
    M = np.random.default_rng(seed).standard_normal((n, n))
    return M @ M.T + np.eye(n)


def quadratic(A, b, params):
    """f(x) = x^T A x / 2 - b^T x, x = all parameters flattened."""
    x = mg.concat([p.reshape(-1) for p in params])
    return 0.5 * (x @ (mg.tensor(A) @ x)) - (mg.tensor(b) * x).sum()


def test_one_newton_step_solves_a_quadratic():
    A, b = spd_matrix(7, 0), np.random.default_rng(1).standard_normal(7)
    params = [mg.tensor(np.ones(3), requires_grad=True), mg.tensor(np.ones((2, 2)), requires_grad=True)]
    opt = optim.Newton(params)
    opt.step(lambda: quadratic(A, b, params))
    x = np.concatenate([p.data.ravel() for p in params])
    np.testing.assert_allclose(x, np.linalg.solve(A, b), rtol=1e-12, atol=1e-12)


def test_hessian_of_a_nonlinear_loss_matches_torch():
    rng = np.random.default_rng(2)
    W0, v0, X = rng.standard_normal((3, 4)), rng.standard_normal(3), rng.standard_normal((5, 4))

    def loss_mg(W, v):
        return (mg.tanh(mg.tensor(X) @ W.T) @ v).sigmoid().log().sum() + (W * W * W).sum() / 3

    def loss_torch(W, v):
        return torch.log(torch.sigmoid(torch.tanh(torch.tensor(X) @ W.T) @ v)).sum() + (W ** 3).sum() / 3

    W, v = mg.tensor(W0, requires_grad=True), mg.tensor(v0, requires_grad=True)
    with mg.enable_grad():
        g, H = gradient_and_hessian(loss_mg(W, v), [W, v])
    blocks = torch.autograd.functional.hessian(loss_torch, (torch.tensor(W0), torch.tensor(v0)))
    n_w = W0.size
    expected = np.block([[blocks[0][0].reshape(n_w, n_w).numpy(), blocks[0][1].reshape(n_w, 3).numpy()],
                         [blocks[1][0].reshape(3, n_w).numpy(), blocks[1][1].numpy()]])
    np.testing.assert_allclose(H, expected, rtol=1e-12, atol=1e-12)
    tW, tv = torch.tensor(W0, requires_grad=True), torch.tensor(v0, requires_grad=True)
    loss_torch(tW, tv).backward()
    np.testing.assert_allclose(g, np.concatenate([tW.grad.numpy().ravel(), tv.grad.numpy()]), rtol=1e-12)


def logistic_data(n=300, d=3, seed=3):
    """Overlapping classes (not separable), so the maximum-likelihood weights exist."""
    rng = np.random.default_rng(seed)
    X = np.hstack([rng.standard_normal((n, d)), np.ones((n, 1))])
    w_true = np.array([1.5, -2.0, 0.5, 0.3])
    y = (rng.random(n) < 1 / (1 + np.exp(-X @ w_true))).astype(np.float64)
    return X, y


def logistic_loss(X, y, w):
    """Summed negative log-likelihood, sum_i log(1 + e^{z_i}) - y_i z_i with z = X w (|z| stays small here)."""
    z = X @ w
    return ((1 + z.exp()).log() - y * z).sum()


def irls_step(X, y, w):
    """Iteratively reweighted least squares (the textbook form, e.g. Bishop, PRML eq. 4.99-4.100)."""
    p = 1 / (1 + np.exp(-X @ w))
    s = p * (1 - p)
    z = X @ w + (y - p) / s
    return np.linalg.solve(X.T @ (s[:, None] * X), X.T @ (s * z))


def test_newton_on_logistic_regression_equals_irls_and_converges_quadratically():
    X, y = logistic_data()
    w = mg.tensor(np.zeros(4), requires_grad=True)
    Xm, ym = mg.tensor(X), mg.tensor(y)
    opt = optim.Newton([w])
    w_irls, grad_norms = np.zeros(4), []
    for _ in range(8):
        opt.step(lambda: logistic_loss(Xm, ym, w))
        w_irls = irls_step(X, y, w_irls)
        np.testing.assert_allclose(w.data, w_irls, rtol=1e-10, atol=1e-12)
        p = 1 / (1 + np.exp(-X @ w.data))
        grad_norms.append(np.linalg.norm(X.T @ (p - y)))  # closed-form gradient of the summed loss
        if grad_norms[-1] < 1e-10:
            break
    assert grad_norms[-1] < 1e-10, grad_norms
    # Quadratic convergence: once close, each gradient norm is about the square of the previous one.
    close = [(a, b) for a, b in zip(grad_norms, grad_norms[1:]) if 1e-8 < a < 1e-1]
    assert len(close) >= 2 and all(b < a ** 2 for a, b in close), grad_norms


def test_indefinite_hessian_without_damping_raises_a_clear_error():
    x = mg.tensor(np.array([1.0, 1.0]), requires_grad=True)

    def saddle():  # H = diag(2, -2)
        return x[0] * x[0] - x[1] * x[1]

    with pytest.raises(np.linalg.LinAlgError, match=r"2x2 Hessian \+ damping\*I is singular or not positive definite .*-2.*damping > 2"):
        optim.Newton([x]).step(saddle)
    np.testing.assert_array_equal(x.data, [1.0, 1.0])  # nothing moved
    optim.Newton([x], damping=3.0).step(saddle)        # (H + 3I) d = g  ->  d = (2/5, -2/1)
    np.testing.assert_allclose(x.data, [1.0 - 2.0 / 5.0, 1.0 + 2.0 / 1.0], rtol=1e-15)


def test_backtracking_line_search_rescues_a_diverging_newton_iteration():
    # f(x) = sqrt(1 + x^2): the plain Newton step maps x to -x^3, which diverges from |x| > 1.
    def run(line_search_fn, num_steps):
        x = mg.tensor(np.array([1.5]), requires_grad=True)
        opt = optim.Newton([x], line_search_fn=line_search_fn)
        losses = [float(np.sqrt(1 + x.data[0] ** 2))]
        for _ in range(num_steps):
            opt.step(lambda: ((x * x).sum() + 1).sqrt())
            losses.append(float(np.sqrt(1 + x.data[0] ** 2)))
        return x.data[0], losses

    x_plain, _ = run(None, 3)
    np.testing.assert_allclose(x_plain, -(((1.5 ** 3) ** 3) ** 3), rtol=1e-12)  # 1.5 -> -1.5^3 -> ...
    x_ls, losses = run("backtracking", 8)
    assert abs(x_ls) < 1e-12
    assert all(b <= a for a, b in zip(losses, losses[1:]))


def test_line_search_that_finds_no_decrease_warns_and_leaves_parameters_unchanged():
    x = mg.tensor(np.array([3.0]), requires_grad=True)
    calls = []

    def inconsistent_loss():  # later evaluations sit 10 higher: no step can pass the Armijo test
        calls.append(1)
        return ((x - 1.0) * (x - 1.0)).sum() + (0.0 if len(calls) == 1 else 10.0)

    with pytest.warns(UserWarning, match="no decrease .* parameters are left unchanged"):
        optim.Newton([x], line_search_fn="backtracking").step(inconsistent_loss)
    assert x.data[0] == 3.0


def test_newton_rejects_misuse():
    x = mg.tensor(np.ones(2), requires_grad=True)
    y = mg.tensor(np.ones(2), requires_grad=True)
    with pytest.raises(ValueError, match="needs a closure"):
        optim.Newton([x]).step()
    with pytest.raises(TypeError, match="one-element loss Tensor, got \\(2,\\)"):
        optim.Newton([x]).step(lambda: x * 2)
    with pytest.raises(ValueError, match="parameter groups are not supported"):
        optim.Newton([{"params": [x]}, {"params": [y]}])
    with pytest.raises(ValueError, match="line_search_fn"):
        optim.Newton([x], line_search_fn="wolfe")
