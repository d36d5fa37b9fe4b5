# ---
# jupyter:
#   jupytext:
#     text_representation:
#       extension: .py
#       format_name: percent
# ---

# %% [markdown]
# # 02 · Gradient descent, heavy ball, Nesterov and Newton
#
# Every optimizer in deep learning is a variation on one line, $x \leftarrow x - \eta\, g$.
# This lesson takes the simplest problem where the variations can be solved exactly — a
# quadratic — and checks the minigrad optimizers against the closed forms, then against
# `torch.optim`, then moves to logistic regression, where Newton's method shows its
# quadratic convergence.
#
# The momentum analysis below — one 2×2 matrix per eigenvalue of $A$, the optimal step and
# momentum, the region of $(\eta\lambda, \beta)$ where heavy ball converges — follows Gabriel Goh,
# ["Why Momentum Really Works"](https://distill.pub/2017/momentum/), *Distill*, 2017
# (doi:10.23915/distill.00006), which draws all of it interactively.
#
# **The quadratic.** $f(x) = \tfrac12 x^\top A x - b^\top x$ with $A$ symmetric positive definite,
# eigenvalues $\mu = \lambda_{\min} \le \dots \le \lambda_{\max} = L$ and condition number
# $\kappa = L/\mu$. Its gradient is $A x - b$ and its minimiser $x^\star = A^{-1} b$.
#
# **Gradient descent** with step $\eta$ is a linear map of the error $e_t = x_t - x^\star$:
# $$e_{t+1} = (I - \eta A)\, e_t \quad\Longrightarrow\quad x_t = x^\star + (I - \eta A)^t (x_0 - x^\star).$$
# Along the eigenvector of $\lambda$ the error is multiplied by $1 - \eta\lambda$ each step. The worst
# factor $\max_\lambda |1 - \eta\lambda|$ is smallest for $\eta = 2/(L+\mu)$, where it equals
# $$\rho_{\rm GD} = \frac{\kappa - 1}{\kappa + 1}.$$
# With $\kappa = 100$ that is $0.980$: about 115 steps per factor of 10.

# %%
import numpy as np
import matplotlib.pyplot as plt
import torch

import minigrad as mg
from minigrad import optim

mg.set_default_dtype(np.float64)
torch.set_num_threads(1)   # tiny tensors: one thread is faster, and unaffected by a busy machine

n, mu, L = 10, 1.0, 100.0
kappa = L / mu
rng = np.random.default_rng(0)
eigenvalues = np.geomspace(mu, L, n)
Q, _ = np.linalg.qr(rng.standard_normal((n, n)))      # a random rotation
A = Q @ np.diag(eigenvalues) @ Q.T
b = rng.standard_normal(n)
x_star = np.linalg.solve(A, b)
x0 = np.zeros(n)
A_mg, b_mg = mg.tensor(A), mg.tensor(b)
A_torch, b_torch = torch.tensor(A), torch.tensor(b)


def f(x):
    return 0.5 * x @ (A_mg @ x) - b_mg @ x


def run(make_optimizer, num_steps):
    # Minimise f with a minigrad optimizer; return every iterate, x_0 included.
    x = mg.tensor(x0, requires_grad=True)
    opt = make_optimizer([x])
    iterates = [x.data.copy()]
    for _ in range(num_steps):
        opt.zero_grad()
        f(x).backward()
        opt.step()
        iterates.append(x.data.copy())
    return np.array(iterates)


def run_torch(make_optimizer, num_steps):
    # The same loop in PyTorch.
    x = torch.tensor(x0, requires_grad=True)
    opt = make_optimizer([x])
    iterates = [x.detach().numpy().copy()]
    for _ in range(num_steps):
        opt.zero_grad()
        (0.5 * x @ (A_torch @ x) - b_torch @ x).backward()
        opt.step()
        iterates.append(x.detach().numpy().copy())
    return np.array(iterates)


num_steps = 200
lr_gd = 2 / (L + mu)
X_gd = run(lambda p: optim.SGD(p, lr=lr_gd), num_steps)

# %% [markdown]
# **CHECK** — every gradient-descent iterate equals the closed form $x^\star + (I-\eta A)^t(x_0 - x^\star)$,
# and the error never shrinks slower than $\rho_{\rm GD}^t$.

# %%
closed_form = np.array([x_star + np.linalg.matrix_power(np.eye(n) - lr_gd * A, t) @ (x0 - x_star)
                        for t in range(num_steps + 1)])
scale = np.abs(x0 - x_star).max()
print("max |minigrad - closed form| / scale:", np.abs(X_gd - closed_form).max() / scale)
assert np.abs(X_gd - closed_form).max() <= 1e-12 * scale

rate_gd = (kappa - 1) / (kappa + 1)
err_gd = np.linalg.norm(X_gd - x_star, axis=1)
assert np.all(err_gd <= rate_gd ** np.arange(num_steps + 1) * err_gd[0] * (1 + 1e-12))
measured = (err_gd[200] / err_gd[100]) ** (1 / 100)
print(f"rate: predicted {rate_gd:.5f}, measured over steps 100..200 {measured:.5f}")
assert abs(measured - rate_gd) < 1e-3

# %% [markdown]
# ## Heavy ball (Polyak momentum)
#
# Polyak (1964) adds a fraction $\beta$ of the last move:
# $$x_{t+1} = x_t - \eta \nabla f(x_t) + \beta\,(x_t - x_{t-1}).$$
# `optim.SGD(momentum=β)` writes it with a buffer, $b_t = \beta b_{t-1} + g_t$, $x_{t+1} = x_t - \eta b_t$
# (PyTorch's form) — the same iterates, since $x_t - x_{t-1} = -\eta b_{t-1}$.
# Along one eigenvector the pair $(e_{t+1}, e_t)$ is multiplied by
# $$M_\lambda = \begin{pmatrix} 1 + \beta - \eta\lambda & -\beta \\ 1 & 0\end{pmatrix},$$
# and the rate is the largest spectral radius over the eigenvalues (Goh 2017, "The Dynamics of
# Momentum"). With
# $\eta = 4/(\sqrt L + \sqrt\mu)^2$ and $\beta = \big(\tfrac{\sqrt\kappa-1}{\sqrt\kappa+1}\big)^2$ every $M_\lambda$ has
# complex or double eigenvalues of modulus $\sqrt\beta$, so
# $$\rho_{\rm HB} = \frac{\sqrt\kappa - 1}{\sqrt\kappa + 1} \approx 0.818 \text{ for } \kappa = 100,$$
# ten times fewer steps than gradient descent: $\sqrt\kappa$ instead of $\kappa$.
#
# ## Nesterov's accelerated gradient
#
# Nesterov (1983) evaluates the gradient at the look-ahead point $y_t = x_t + \beta (x_t - x_{t-1})$,
# then steps from there: $x_{t+1} = y_t - \eta\nabla f(y_t)$. `SGD(nesterov=True)` is the same method
# written at the look-ahead point (Sutskever et al. 2013). Per eigenvalue
# $$M_\lambda = \begin{pmatrix} (1+\beta)(1-\eta\lambda) & -\beta(1 - \eta\lambda) \\ 1 & 0\end{pmatrix};$$
# with $\eta = 1/L$, $\beta = \tfrac{\sqrt\kappa - 1}{\sqrt\kappa+1}$ the matrix for $\lambda=\mu$ has a double eigenvalue
# $$\rho_{\rm NAG} = 1 - \frac{1}{\sqrt\kappa} = 0.9,$$
# and every other $\lambda$ does better.

# %%
sqrt_kappa = np.sqrt(kappa)
lr_hb, beta_hb = 4 / (np.sqrt(L) + np.sqrt(mu)) ** 2, ((sqrt_kappa - 1) / (sqrt_kappa + 1)) ** 2
lr_nag, beta_nag = 1 / L, (sqrt_kappa - 1) / (sqrt_kappa + 1)
rate_hb, rate_nag = (sqrt_kappa - 1) / (sqrt_kappa + 1), 1 - 1 / sqrt_kappa

X_hb = run(lambda p: optim.SGD(p, lr=lr_hb, momentum=beta_hb), num_steps)
X_nag = run(lambda p: optim.SGD(p, lr=lr_nag, momentum=beta_nag, nesterov=True), num_steps)


def spectral_radius(matrices):
    return np.abs(np.linalg.eigvals(matrices)).max()


a = lr_hb * eigenvalues
M_hb = np.stack([[1 + beta_hb - a, -beta_hb * np.ones(n)], [np.ones(n), np.zeros(n)]]).transpose(2, 0, 1)
a = lr_nag * eigenvalues
M_nag = np.stack([[(1 + beta_nag) * (1 - a), -beta_nag * (1 - a)], [np.ones(n), np.zeros(n)]]).transpose(2, 0, 1)
print(f"heavy ball: spectral radius {spectral_radius(M_hb):.8f}, closed form {rate_hb:.8f}")
print(f"Nesterov:   spectral radius {spectral_radius(M_nag):.8f}, closed form {rate_nag:.8f}")

# %% [markdown]
# **CHECK** — (1) the momentum iterates equal Polyak's recurrence computed in plain NumPy;
# (2) the spectral radii equal the closed-form rates (to $10^{-6}$: a double eigenvalue is only
# computed to about $\sqrt{\varepsilon_{\rm machine}}$); (3) the measured rates agree with them (a
# double eigenvalue adds a factor $t$ to the error, hence the 2% tolerance); (4) all three methods
# produce PyTorch's iterates to $10^{-12}$.

# %%
# (1) Polyak's recurrence, x_{-1} = x_0, in NumPy.
previous, x, polyak = x0.copy(), x0.copy(), [x0.copy()]
for _ in range(num_steps):
    previous, x = x, x - lr_hb * (A @ x - b) + beta_hb * (x - previous)
    polyak.append(x)
assert np.abs(X_hb - np.array(polyak)).max() <= 1e-12 * scale

# (2) spectral radius = closed-form rate.
assert abs(spectral_radius(M_hb) - rate_hb) < 1e-6
assert abs(spectral_radius(M_nag) - rate_nag) < 1e-6

# (3) measured rates.
err_hb = np.linalg.norm(X_hb - x_star, axis=1)
err_nag = np.linalg.norm(X_nag - x_star, axis=1)
for name, err, rate in [("heavy ball", err_hb, rate_hb), ("Nesterov", err_nag, rate_nag)]:
    measured = (err[150] / err[50]) ** (1 / 100)
    print(f"{name:10s}: predicted {rate:.4f}, measured over steps 50..150 {measured:.4f}")
    assert abs(measured / rate - 1) < 0.02

# (4) against torch.optim.SGD.
pairs = [(X_gd, lambda p: torch.optim.SGD(p, lr=lr_gd)),
         (X_hb, lambda p: torch.optim.SGD(p, lr=lr_hb, momentum=beta_hb)),
         (X_nag, lambda p: torch.optim.SGD(p, lr=lr_nag, momentum=beta_nag, nesterov=True))]
for ours, make_torch in pairs:
    assert np.abs(ours - run_torch(make_torch, num_steps)).max() <= 1e-12 * scale
print("minigrad == torch.optim.SGD for GD, heavy ball and Nesterov")

# %%
t = np.arange(num_steps + 1)
plt.figure(figsize=(7, 4))
for name, err, rate, color in [("gradient descent", err_gd, rate_gd, "C0"),
                               ("heavy ball", err_hb, rate_hb, "C1"),
                               ("Nesterov", err_nag, rate_nag, "C2")]:
    plt.semilogy(t, err / err[0], color=color, label=name)
    plt.semilogy(t, rate ** t, color=color, linestyle="--", linewidth=1)
plt.ylim(1e-16, 2)
plt.xlabel("step t")
plt.ylabel("||x_t - x*|| / ||x_0 - x*||")
plt.title("quadratic, kappa = 100 (dashed: closed-form rate^t)")
plt.legend()
plt.show()

# %% [markdown]
# ## Where momentum is stable
#
# On a single eigen-direction ($f = \lambda x^2/2$) heavy ball is stable exactly when both roots of
# $r^2 - (1 + \beta - \eta\lambda) r + \beta = 0$ lie inside the unit circle, which (Jury's criterion;
# Goh 2017 draws the same region) means
# $$0 < \eta\lambda < 2 + 2\beta, \qquad 0 \le \beta < 1.$$
# Momentum *widens* the range of usable steps: with $\beta = 0.9$ a step almost twice as long as
# plain gradient descent's limit $2/\lambda$ still converges.

# %%
betas = np.linspace(0, 0.99, 200)
steps = np.linspace(0.01, 4.5, 300)            # eta * lambda
B, S = np.meshgrid(betas, steps, indexing="ij")
companion = np.stack([[1 + B - S, -B], [np.ones_like(B), np.zeros_like(B)]]).transpose(2, 3, 0, 1)
radius = np.abs(np.linalg.eigvals(companion)).max(axis=-1)

plt.figure(figsize=(6, 4))
plt.pcolormesh(S, B, np.minimum(radius, 1.5), shading="auto", cmap="viridis")
plt.colorbar(label="spectral radius (capped at 1.5)")
plt.plot(2 + 2 * betas, betas, "w--", label="eta*lambda = 2 + 2 beta")
plt.contour(S, B, radius, levels=[1.0], colors="red", linewidths=1)
plt.xlabel("eta * lambda")
plt.ylabel("momentum beta")
plt.legend(loc="lower right")
plt.title("heavy ball: converges where radius < 1 (red contour)")
plt.show()

# %% [markdown]
# **CHECK** — the computed boundary (radius = 1) is the line $\eta\lambda = 2 + 2\beta$; and minigrad's
# `SGD` on $f = \lambda x^2/2$ converges 2% inside it and blows up 2% outside it.

# %%
inside = S < 2 + 2 * B
assert np.all(radius[inside & (S < (2 + 2 * B) * 0.99)] < 1)
assert np.all(radius[S > (2 + 2 * B) * 1.01] > 1)

lam = 3.0
for beta in [0.0, 0.5, 0.9]:
    for factor, should_converge in [(0.98, True), (1.02, False)]:
        lr = factor * (2 + 2 * beta) / lam
        x = mg.tensor(np.array([1.0]), requires_grad=True)
        opt = optim.SGD([x], lr=lr, momentum=beta)
        for _ in range(300):
            opt.zero_grad()
            (0.5 * lam * x * x).sum().backward()
            opt.step()
        final = abs(x.item())
        print(f"beta={beta:.1f}  eta*lambda = {factor:.2f} x (2+2beta): |x_300| = {final:.3g}")
        assert (final < 1e-3) if should_converge else (final > 1e3)

# %% [markdown]
# ## Newton's method
#
# Newton's method minimises the local quadratic model $f(x) + g^\top d + \tfrac12 d^\top H d$ instead of
# following the gradient: $x \leftarrow x - H^{-1} g$. On a quadratic the model *is* the function,
# so one step lands on $x^\star$ whatever $\kappa$ is. `optim.Newton` gets $H$ exactly, by
# differentiating the gradient a second time (`create_graph=True`), and solves $H d = g$ by
# Cholesky. The closure returns the loss *without* calling `backward`: Newton differentiates it
# twice itself.

# %%
x = mg.tensor(x0, requires_grad=True)
optim.Newton([x]).step(lambda: f(x))
rel_error = np.linalg.norm(x.data - x_star) / np.linalg.norm(x_star)
print("relative error after ONE Newton step:", rel_error)
assert rel_error < 1e-12

# %% [markdown]
# ## Logistic regression: Newton = IRLS, and quadratic convergence
#
# With labels $y_i \in \{0,1\}$, features $X$ and $p = \sigma(Xw)$, the mean negative log-likelihood
# $\ell(w) = \tfrac1N\sum_i \log(1 + e^{z_i}) - y_i z_i$, $z = Xw$, has
# $$\nabla \ell = \tfrac1N X^\top (p - y), \qquad H = \tfrac1N X^\top S X, \quad S = \mathrm{diag}(p_i(1-p_i)).$$
# The Newton step rearranges into a weighted least-squares problem,
# $$w_{\rm new} = (X^\top S X)^{-1} X^\top S\, z', \qquad z' = Xw + S^{-1}(y - p),$$
# which is *iteratively reweighted least squares* (IRLS; e.g. Bishop, PRML §4.3.3). Near the
# optimum Newton's error squares every step (Nocedal & Wright, Thm 3.5): the number of correct
# digits doubles.

# %%
N_samples, w_true = 500, np.array([1.5, -2.0, 0.5, 0.3])
X = np.hstack([rng.standard_normal((N_samples, 3)), np.ones((N_samples, 1))])   # last column: intercept
y = (rng.random(N_samples) < 1 / (1 + np.exp(-X @ w_true))).astype(np.float64)  # overlapping classes
X_mg, y_mg = mg.tensor(X), mg.tensor(y)


def logistic_loss(w):
    z = X_mg @ w
    return ((1 + z.exp()).log() - y_mg * z).mean()


def gradient_norm(w):
    p = 1 / (1 + np.exp(-X @ w))
    return np.linalg.norm(X.T @ (p - y) / N_samples)


def irls_step(w):
    p = 1 / (1 + np.exp(-X @ w))
    s = p * (1 - p)
    z = X @ w + (y - p) / s
    return np.linalg.solve(X.T @ (s[:, None] * X), X.T @ (s * z))


def torch_newton_step(w):
    # The same step with PyTorch's own Hessian.
    def loss(w):
        z = torch.tensor(X) @ w
        return (torch.log1p(torch.exp(z)) - torch.tensor(y) * z).mean()
    w = torch.tensor(w)
    g = torch.autograd.functional.jacobian(loss, w)
    H = torch.autograd.functional.hessian(loss, w)
    return (w - torch.linalg.solve(H, g)).numpy()


w = mg.tensor(np.zeros(4), requires_grad=True)
newton = optim.Newton([w])
w_irls = np.zeros(4)
newton_norms = [gradient_norm(w.data)]
for it in range(8):
    w_torch = torch_newton_step(w.data)
    newton.step(lambda: logistic_loss(w))
    w_irls = irls_step(w_irls)
    newton_norms.append(gradient_norm(w.data))
    print(f"iteration {it + 1}: ||grad|| = {newton_norms[-1]:.3e}   |w - w_IRLS| = {np.abs(w.data - w_irls).max():.1e}"
          f"   |w - w_torch| = {np.abs(w.data - w_torch).max():.1e}")
    assert np.allclose(w.data, w_irls, rtol=1e-10, atol=1e-12)
    assert np.allclose(w.data, w_torch, rtol=1e-10, atol=1e-12)
    if newton_norms[-1] < 1e-10:
        break

# %% [markdown]
# **CHECK** — Newton equals IRLS and PyTorch's Hessian step (asserted above at every iteration),
# reaches $\|\nabla\ell\| < 10^{-10}$ within 8 iterations, and converges quadratically:
# once close, $\|g_{k+1}\| \approx C\,\|g_k\|^2$ with one constant $C$ (for a merely linear
# rate the ratio $\|g_{k+1}\|/\|g_k\|^2$ would grow like $1/\|g_k\|$).

# %%
assert newton_norms[-1] < 1e-10 and len(newton_norms) - 1 <= 8
ratios = [b / a ** 2 for a, b in zip(newton_norms, newton_norms[1:]) if 1e-9 < a < 1e-1]
print("||g_{k+1}|| / ||g_k||^2 near the optimum:", np.round(ratios, 3))
assert len(ratios) >= 3 and max(ratios) < 20            # bounded: quadratic convergence
assert abs(ratios[-1] / ratios[-2] - 1) < 0.1             # ... and settling on one constant C

# Gradient descent on the same problem, with the safe step 1/L, L = the largest curvature (at w = 0, where p(1-p) = 1/4).
L_logistic = np.linalg.eigvalsh(X.T @ X / (4 * N_samples)).max()
w = mg.tensor(np.zeros(4), requires_grad=True)
opt = optim.SGD([w], lr=1 / L_logistic)
gd_norms = [gradient_norm(w.data)]
while gd_norms[-1] >= 1e-10:
    opt.zero_grad()
    logistic_loss(w).backward()
    opt.step()
    gd_norms.append(gradient_norm(w.data))
print(f"iterations to ||grad|| < 1e-10: Newton {len(newton_norms) - 1}, gradient descent {len(gd_norms) - 1}")
assert len(gd_norms) > 10 * len(newton_norms)

plt.figure(figsize=(7, 4))
plt.semilogy(newton_norms, "o-", label="Newton (= IRLS)")
plt.semilogy(gd_norms, label="gradient descent, lr = 1/L")
plt.xlabel("iteration")
plt.ylabel("||grad of mean log-loss||")
plt.title("logistic regression")
plt.legend()
plt.show()

# %% [markdown]
# **Takeaways.** On a quadratic with condition number $\kappa$: gradient descent needs $O(\kappa)$
# steps per digit, heavy ball and Nesterov $O(\sqrt\kappa)$, Newton one step. Newton pays with an
# $n\times n$ Hessian ($n$ backward passes to build, $n^3$ to factor) — affordable for logistic
# regression, impossible for a network with millions of parameters, which is why deep learning
# lives on first-order methods with momentum.

# %% [markdown]
# ## Exercises
#
# Each exercise cell ships with a working answer so the lesson runs from top to bottom. Replace it
# with your own and run the check below it: the check measures, independently, what your answer
# claims, and fails on a wrong answer.
#
# **Exercise 1 — tune heavy ball.** A quadratic has curvatures between $\mu = 1$ and $L = 400$.
# Give the step `lr_ex`, the momentum `beta_ex` that make heavy ball fastest, and the rate `rate_ex`
# it then achieves (the factor by which the error shrinks per step).

# %%
mu_ex, L_ex = 1.0, 400.0
lr_ex = 4 / (np.sqrt(L_ex) + np.sqrt(mu_ex)) ** 2
beta_ex = ((np.sqrt(L_ex / mu_ex) - 1) / (np.sqrt(L_ex / mu_ex) + 1)) ** 2
rate_ex = (np.sqrt(L_ex / mu_ex) - 1) / (np.sqrt(L_ex / mu_ex) + 1)


# %% [markdown]
# **Check 1** — minigrad's `SGD` with your `lr_ex`, `beta_ex` on a quadratic with 8 curvatures from
# 1 to 400 shrinks the error at your `rate_ex` (measured over 100 steps, 2%), and no momentum on a
# grid of 200 values, with its own best step, has a smaller worst-case spectral radius.

# %%
curvatures = np.geomspace(mu_ex, L_ex, 8)
x = mg.tensor(np.ones(8), requires_grad=True)
opt = optim.SGD([x], lr=lr_ex, momentum=beta_ex)
errors = []
for _ in range(160):
    opt.zero_grad()
    (0.5 * mg.tensor(curvatures) * x * x).sum().backward()
    opt.step()
    errors.append(np.linalg.norm(x.data))
measured_ex = (errors[150] / errors[50]) ** (1 / 100)
print(f"rate: yours {rate_ex:.4f}, measured {measured_ex:.4f}")
assert abs(measured_ex / rate_ex - 1) < 0.02


def worst_radius(lr, beta):
    """Largest spectral radius of heavy ball's matrix over the extreme curvatures (broadcasts)."""
    lr, beta = np.broadcast_arrays(np.asarray(lr, float)[..., None], np.asarray(beta, float)[..., None])
    a = lr * np.array([mu_ex, L_ex])                                   # (..., 2)
    beta = np.broadcast_to(beta, a.shape)
    M = np.stack([np.stack([1 + beta - a, -beta], -1), np.stack([np.ones_like(a), np.zeros_like(a)], -1)], -2)
    return np.abs(np.linalg.eigvals(M)).max(axis=(-1, -2))            # (...)


lr_grid, beta_grid = np.meshgrid(np.linspace(0.5, 1.5, 41) * lr_ex, np.linspace(0, 0.99, 200))
best_on_grid = worst_radius(lr_grid, beta_grid).min()
print(f"worst-case radius: yours {worst_radius(lr_ex, beta_ex):.5f}, best on the grid {best_on_grid:.5f}")
assert worst_radius(lr_ex, beta_ex) <= best_on_grid * (1 + 1e-6)
print("exercise 1: OK")

# %% [markdown]
# **Exercise 2 — Newton with weight decay.** Add an L2 penalty to the logistic loss,
# $\ell_\lambda(w) = \ell(w) + \tfrac{\lambda}{2}\|w\|^2$. Write `ridge_newton_step(w, lam)` that
# returns $w - H_\lambda^{-1} \nabla \ell_\lambda(w)$ in NumPy, with the gradient and Hessian written
# out by hand (no autograd).

# %%
def ridge_newton_step(w, lam):
    p = 1 / (1 + np.exp(-X @ w))
    grad = X.T @ (p - y) / N_samples + lam * w
    hessian = X.T @ ((p * (1 - p))[:, None] * X) / N_samples + lam * np.eye(len(w))
    return w - np.linalg.solve(hessian, grad)


# %% [markdown]
# **Check 2** — from three starting points, your step equals one step of `optim.Newton`, which
# builds the Hessian of the penalised loss by differentiating twice.

# %%
lam = 0.1
for start in (np.zeros(4), np.array([1.0, -1.0, 0.5, 0.2]), rng.standard_normal(4)):
    w = mg.tensor(start.copy(), requires_grad=True)
    optim.Newton([w]).step(lambda: logistic_loss(w) + lam / 2 * (w * w).sum())
    np.testing.assert_allclose(ridge_newton_step(start, lam), w.data, rtol=1e-10, atol=1e-12)
print("exercise 2: OK")
