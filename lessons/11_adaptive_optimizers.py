# ---
# jupyter:
#   jupytext:
#     text_representation:
#       extension: .py
#       format_name: percent
# ---

# %% [markdown]
# # 11 · Adaptive optimizers and learning-rate schedules
#
# Plain SGD takes the same step size $\eta$ in every coordinate. On a loss whose curvature differs by
# orders of magnitude between directions, $\eta$ must stay below $2/\lambda_{\max}$ to be stable, and
# the flat directions then crawl. The *adaptive* methods give every coordinate its own step size,
# computed from the history of its own gradient:
#
# | method | state per coordinate | update |
# |---|---|---|
# | Adagrad (Duchi et al. 2011) | $s_t = s_{t-1} + g_t^2$ | $\theta \leftarrow \theta - \eta\, g_t / (\sqrt{s_t} + \epsilon)$ |
# | RMSprop (Tieleman & Hinton 2012) | $s_t = \alpha s_{t-1} + (1-\alpha) g_t^2$ | $\theta \leftarrow \theta - \eta\, g_t / (\sqrt{s_t} + \epsilon)$ |
# | Adam (Kingma & Ba 2015) | $m_t = \beta_1 m_{t-1} + (1-\beta_1) g_t$, $v_t = \beta_2 v_{t-1} + (1-\beta_2) g_t^2$ | $\theta \leftarrow \theta - \eta\, \hat m_t / (\sqrt{\hat v_t} + \epsilon)$ |
#
# with Adam's bias-corrected moments $\hat m_t = m_t / (1-\beta_1^t)$ and $\hat v_t = v_t/(1-\beta_2^t)$.
# This lesson derives that correction and proves it on a problem with a closed form, checks every
# optimizer against PyTorch, plots the common learning-rate schedules side by side, and ends with the
# schedule that reacts to the validation loss: `ReduceLROnPlateau`.

# %%
import math

import matplotlib.pyplot as plt
import numpy as np
import torch

import minigrad as mg
from minigrad import optim
from minigrad.optim import lr_scheduler

mg.set_default_dtype(np.float64)
torch.set_num_threads(1)

# %% [markdown]
# ## Adam's bias correction, derived
#
# Unrolling the recursion from $m_0 = 0$:
# $$m_t = (1-\beta_1)\sum_{i=1}^{t} \beta_1^{\,t-i} g_i .$$
# If the gradients have a constant mean, $\mathbb E[g_i] = g$, the geometric sum gives
# $$\mathbb E[m_t] = (1-\beta_1)\, g \sum_{i=1}^{t}\beta_1^{\,t-i} = (1-\beta_1^t)\, g ,$$
# so $m_t$ is biased towards the zero it started from, by the factor $1-\beta_1^t$ (Kingma & Ba 2015,
# sec. 3, where the same computation is done for $v_t$ with $\beta_2$). Dividing by that factor removes the bias.
#
# The cleanest test is a loss whose gradient is the same constant $c$ at every point, $L(\theta) = c\,\theta$.
# Then the expectation is exact: $m_t = (1-\beta_1^t)c$, $v_t = (1-\beta_2^t)c^2$, hence
# $\hat m_t = c$, $\sqrt{\hat v_t} = |c|$, and every step has the same length:
# $$\theta_t = \theta_0 - t\,\eta\,\frac{c}{|c| + \epsilon}.$$

# %%
def run_on_constant_gradient(make_optimizer, c, num_steps):
    """theta_t for L(theta) = c . theta, one coordinate per entry of c; returns (trajectory, optimizer)."""
    theta = mg.tensor(np.zeros_like(c), requires_grad=True)
    opt = make_optimizer([theta])
    path = [theta.data.copy()]
    for _ in range(num_steps):
        opt.zero_grad()
        (theta * mg.tensor(c)).sum().backward()
        opt.step()
        path.append(theta.data.copy())
    return np.array(path), opt


c = np.array([4.0, -0.01, 250.0])
lr, betas, eps, T = 0.05, (0.9, 0.999), 1e-8, 60
path, adam = run_on_constant_gradient(lambda ps: optim.Adam(ps, lr=lr, betas=betas, eps=eps), c, T)
t = np.arange(T + 1)[:, None]

# %% [markdown]
# **CHECK** — Adam's trajectory and its stored moments equal the closed forms to $10^{-12}$.

# %%
np.testing.assert_allclose(path, -t * lr * c / (np.abs(c) + eps), rtol=1e-12, atol=1e-15)
state = adam.state[adam.param_groups[0]["params"][0]]
np.testing.assert_allclose(state["exp_avg"], (1 - betas[0] ** T) * c, rtol=1e-12)
np.testing.assert_allclose(state["exp_avg_sq"], (1 - betas[1] ** T) * c ** 2, rtol=1e-12)
print("every Adam step moves each coordinate by lr, whatever the size of its gradient:",
      np.round(np.diff(path, axis=0)[[0, -1]], 6).tolist())

# %% [markdown]
# Without the correction the step would be $\eta\,(1-\beta_1^t)/\sqrt{1-\beta_2^t}$ instead of $\eta$: with the
# default betas that is $0.1/\sqrt{0.001} \approx 3.16\,\eta$ on the first step, when nothing is known yet.
# RMSprop has no correction at all; its constant-gradient step is $\eta/\sqrt{1-\alpha^t}$ — **ten times**
# $\eta$ on the first step for $\alpha = 0.99$. Adagrad's sum gives $\eta/\sqrt{t}$: it only ever shrinks.
#
# **CHECK** — RMSprop and Adagrad follow those closed forms ($\epsilon = 0$):
# $\theta_t = -\eta\,\mathrm{sign}(c)\sum_{k\le t} (1-\alpha^k)^{-1/2}$ and $\theta_t = -\eta\,\mathrm{sign}(c)\sum_{k\le t} k^{-1/2}$.

# %%
alpha = 0.99
rms_path, _ = run_on_constant_gradient(lambda ps: optim.RMSprop(ps, lr=lr, alpha=alpha, eps=0.0), c, T)
ada_path, _ = run_on_constant_gradient(lambda ps: optim.Adagrad(ps, lr=lr, eps=0.0), c, T)
k = np.arange(1, T + 1)
rms_closed = -lr * np.sign(c) * np.concatenate([[0.0], np.cumsum(1 / np.sqrt(1 - alpha ** k))])[:, None]
ada_closed = -lr * np.sign(c) * np.concatenate([[0.0], np.cumsum(1 / np.sqrt(k))])[:, None]
np.testing.assert_allclose(rms_path, rms_closed, rtol=1e-12, atol=1e-15)
np.testing.assert_allclose(ada_path, ada_closed, rtol=1e-12, atol=1e-15)

fig, ax = plt.subplots(figsize=(6, 3.2))
ax.plot(k, (1 - betas[0] ** k) / np.sqrt(1 - betas[1] ** k), label="Adam without correction")
ax.plot(k, np.ones_like(k, dtype=float), label="Adam (corrected)")
ax.plot(k, 1 / np.sqrt(1 - alpha ** k), label=f"RMSprop, alpha={alpha}")
ax.plot(k, 1 / np.sqrt(k), label="Adagrad")
ax.set(xlabel="step t", ylabel="step length / lr", yscale="log", title="constant gradient: step length per step")
ax.legend()
plt.show()

# %% [markdown]
# ## Against PyTorch, on an ill-conditioned quadratic
#
# $L(x) = \tfrac12 (100\,x_1^2 + x_2^2)$: curvature 100 in one direction, 1 in the other. SGD must keep
# $\eta < 2/100$; the adaptive methods rescale each coordinate and are not held back by the steep one.
#
# **CHECK** — each minigrad optimizer follows `torch.optim`'s trajectory to $10^{-12}$ for 100 steps.

# %%
curvature = np.array([100.0, 1.0])
start = np.array([1.0, 1.0])
settings = {
    "SGD": dict(lr=0.018),
    "SGD momentum": dict(lr=0.018, momentum=0.9),
    "Adagrad": dict(lr=0.5),
    "RMSprop": dict(lr=0.02),
    "Adam": dict(lr=0.05),
}


def quadratic_path(module, name, kwargs, tensor, num_steps=100):
    x = tensor(start.copy(), requires_grad=True)
    opt = getattr(module, name.split()[0])([x], **kwargs)
    path = []
    for _ in range(num_steps):
        opt.zero_grad()
        (0.5 * (tensor(curvature) * x * x).sum()).backward()
        opt.step()
        path.append(np.array(x.detach().numpy() if module is torch.optim else x.data))
    return np.array(path)


paths = {}
for name, kwargs in settings.items():
    paths[name] = quadratic_path(optim, name, kwargs, mg.tensor)
    np.testing.assert_allclose(paths[name], quadratic_path(torch.optim, name, kwargs, torch.tensor),
                               rtol=1e-12, atol=1e-14)
final_loss = {name: 0.5 * float(curvature @ p[-1] ** 2) for name, p in paths.items()}
print({name: f"{loss:.1e}" for name, loss in final_loss.items()})

fig, ax = plt.subplots(figsize=(6, 3.5))
for name, p in paths.items():
    ax.plot(*np.vstack([start, p]).T, ".-", ms=2, lw=0.8, label=name)
ax.set(xlabel="$x_1$ (curvature 100)", ylabel="$x_2$ (curvature 1)", title="100 steps from (1, 1)")
ax.legend()
plt.show()

# %% [markdown]
# SGD's slow coordinate contracts by $(1 - 0.018)$ per step, so after 100 steps it has only shrunk to
# $0.982^{100} \approx 0.16$. Adam's steps are about $\eta$ long in *both* coordinates from the start.
#
# **CHECK** — the slow coordinate of plain SGD equals that closed form, and Adam ends far lower.

# %%
np.testing.assert_allclose(paths["SGD"][-1, 1], (1 - 0.018) ** 100, rtol=1e-12)
assert final_loss["Adam"] < 0.1 * final_loss["SGD"]

# %% [markdown]
# ## Schedules, side by side
#
# The learning rate is rarely constant. `minigrad.optim.lr_scheduler` has PyTorch's schedulers, each a
# closed-form function of the step $t$ (see the module docstrings for formulas and sources):
# step decay; cosine annealing (Loshchilov & Hutter 2017); linear warm-up (Goyal et al. 2017) chained
# into a cosine with `SequentialLR`; the 1cycle policy (Smith & Topin 2019) whose momentum moves
# opposite to the lr; and cyclical rates (Smith 2017).
#
# **CHECK** — every schedule's 200 values (and the cycled momentum) equal PyTorch's to $10^{-12}$.

# %%
S, TS = lr_scheduler, torch.optim.lr_scheduler
schedules = {
    "StepLR": (lambda o: S.StepLR(o, 60, gamma=0.3), lambda o: TS.StepLR(o, 60, gamma=0.3)),
    "Cosine": (lambda o: S.CosineAnnealingLR(o, 200), lambda o: TS.CosineAnnealingLR(o, 200)),
    "Warm-up + cosine": (
        lambda o: S.SequentialLR(o, [S.LinearWarmup(o, 20, start_factor=0.05), S.CosineAnnealingLR(o, 180)], [20]),
        lambda o: TS.SequentialLR(o, [TS.LinearLR(o, 0.05, total_iters=20), TS.CosineAnnealingLR(o, 180)], [20])),
    "OneCycle": (lambda o: S.OneCycleLR(o, max_lr=0.1, total_steps=200),
                 lambda o: TS.OneCycleLR(o, max_lr=0.1, total_steps=200)),
    "Cyclic (triangular2)": (lambda o: S.CyclicLR(o, 0.005, 0.1, step_size_up=25, mode="triangular2"),
                             lambda o: TS.CyclicLR(o, 0.005, 0.1, step_size_up=25, mode="triangular2")),
}


def schedule_values(make, module, tensor):
    opt = module.SGD([tensor(np.zeros(1), requires_grad=True)], lr=0.1, momentum=0.9)
    sched = make(opt)
    values = []
    for _ in range(200):
        values.append((opt.param_groups[0]["lr"], opt.param_groups[0]["momentum"]))
        opt.step()
        sched.step()
    return np.array(values)


fig, axes = plt.subplots(1, 2, figsize=(11, 3.3))
for name, (ours, theirs) in schedules.items():
    values = schedule_values(ours, optim, mg.tensor)
    np.testing.assert_allclose(values, schedule_values(theirs, torch.optim, torch.tensor), rtol=1e-12, atol=1e-15)
    axes[0].plot(values[:, 0], label=name)
    axes[1].plot(values[:, 1], label=name)
axes[0].set(xlabel="step", ylabel="lr", title="learning rate")
axes[1].set(xlabel="step", ylabel="momentum", title="momentum (cycled by OneCycle and Cyclic)")
axes[0].legend(fontsize=8)
plt.show()

# %% [markdown]
# ## A "dynamic learning rate" from the parameter change?
#
# Seed 003's "dynamic learning rate" formula contains the term $\max_i \Delta\theta_i / |\Delta\theta_i|$,
# where $\Delta\theta = \theta_t - \theta_{t-1}$. As written, each ratio is $\Delta\theta_i/|\Delta\theta_i| = \mathrm{sign}(\Delta\theta_i) = \pm 1$
# (undefined where $\Delta\theta_i = 0$), so the maximum is $+1$ as soon as one coordinate went up, and $-1$
# only if every coordinate went down. It carries no information about the *size* of the step, so it
# cannot be what adapts a learning rate. What it can mean:
#
# 1. a **relative** change, $\max_i |\Delta\theta_i| / |\theta_i|$ or, per layer, $\|\Delta\theta\| / \|\theta\|$ — the
#    quantity LARS and LAMB hold fixed for every layer (lesson 12): a large relative step means the lr is too big;
# 2. the **sign** vector itself, $\mathrm{sign}(\Delta\theta)$: signSGD (Bernstein et al. 2018) steps along the sign of the
#    gradient, and Adam's first step is exactly $\eta\,\mathrm{sign}(g)$ (above);
# 3. an agreement test between consecutive steps, $\langle \Delta\theta_t, \Delta\theta_{t-1}\rangle$: increase the lr while steps
#    point the same way, decrease it when they oscillate — the idea of delta-bar-delta (Jacobs 1988) and Rprop
#    (Riedmiller & Braun 1993), which adapt per-coordinate step sizes from sign agreement.
#
# **CHECK** — measured on the SGD run above: the formula as written takes only the values $\pm1$, while the relative
# change of reading 1 varies with training and says how aggressive each step was.

# %%
steps = np.diff(np.vstack([start, paths["SGD momentum"]]), axis=0)              # (100, 2) delta theta per step
as_written = np.max(steps / np.abs(steps), axis=1)                              # max_i dtheta_i / |dtheta_i|
relative = np.linalg.norm(steps, axis=1) / np.linalg.norm(np.vstack([start, paths["SGD momentum"]])[:-1], axis=1)
assert set(np.unique(as_written)) <= {-1.0, 1.0}
assert relative.max() / relative.min() > 10
print(f"as written: values {sorted(set(as_written.tolist()))}; relative change ||dtheta||/||theta|| from "
      f"{relative.min():.2e} to {relative.max():.2e}")

# %% [markdown]
# ## What people actually use: `ReduceLROnPlateau`
#
# The practical way to adapt the lr to progress is to watch the validation loss, and divide the lr by a factor when
# it has stopped improving for `patience` evaluations (Krizhevsky et al. 2012 did it by hand: "divide the learning rate
# by 10 when the validation error rate stopped improving"). On a noisy regression, SGD with a constant lr stalls at a
# noise floor whose height is proportional to the lr; each reduction lowers the floor.

# %%
rng = np.random.default_rng(0)
n_train, n_val, dim = 512, 256, 10
w_true = rng.standard_normal(dim)
X_train, X_val = rng.standard_normal((n_train, dim)), rng.standard_normal((n_val, dim))
y_train = X_train @ w_true + 0.5 * rng.standard_normal(n_train)
y_val = X_val @ w_true + 0.5 * rng.standard_normal(n_val)

w = mg.tensor(np.zeros(dim), requires_grad=True)
opt = optim.SGD([w], lr=0.2)
plateau = lr_scheduler.ReduceLROnPlateau(opt, factor=0.3, patience=4, threshold=1e-3, min_lr=1e-4)
val_losses, lrs = [], []
for epoch in range(50):
    for batch in np.split(rng.permutation(n_train), 64):                        # 64 mini-batches of 8
        opt.zero_grad()
        (((mg.tensor(X_train[batch]) @ w - mg.tensor(y_train[batch])) ** 2).mean()).backward()
        opt.step()
    val_losses.append(float(np.mean((X_val @ w.data - y_val) ** 2)))
    lrs.append(opt.param_groups[0]["lr"])
    plateau.step(val_losses[-1])

fig, ax = plt.subplots(figsize=(6, 3.2))
ax.plot(val_losses, label="validation loss")
ax.set(xlabel="epoch", ylabel="validation MSE", yscale="log")
ax2 = ax.twinx()
ax2.step(range(50), lrs, color="C1", label="lr")
ax2.set(ylabel="lr", yscale="log")
fig.legend(loc="upper right")
plt.show()

# %% [markdown]
# **CHECK** — (a) PyTorch's `ReduceLROnPlateau`, fed the same validation losses, makes the same reductions;
# (b) the loss after the reductions is lower than on the first plateau, and within 1% of the validation loss of the
# least-squares solution (the closed-form minimiser of the training loss: the best this model can do).

# %%
topt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=0.2)
tplateau = torch.optim.lr_scheduler.ReduceLROnPlateau(topt, factor=0.3, patience=4, threshold=1e-3, min_lr=1e-4)
torch_lrs = []
for value in val_losses:
    torch_lrs.append(topt.param_groups[0]["lr"])
    tplateau.step(value)
np.testing.assert_allclose(lrs, torch_lrs, rtol=1e-12)
assert lrs[-1] < lrs[0], "the lr was never reduced"
first_cut = next(i for i, v in enumerate(lrs) if v < lrs[0])
w_least_squares = np.linalg.lstsq(X_train, y_train, rcond=None)[0]
best_possible = float(np.mean((X_val @ w_least_squares - y_val) ** 2))
plateau_loss, final_loss = np.mean(val_losses[first_cut - 4:first_cut]), np.mean(val_losses[-5:])
print(f"lr {lrs[0]} -> {lrs[-1]:.1e}; validation MSE on the first plateau {plateau_loss:.4f}, at the end "
      f"{final_loss:.4f}, least squares {best_possible:.4f}")
assert final_loss < 0.8 * plateau_loss
assert abs(final_loss - best_possible) < 0.01 * best_possible

# %% [markdown]
# ## Exercises
#
# **1.** Write $\hat m_t$ for Adam after $t$ steps when the gradient was $g_1$ on the first step and $g_2$ on every later
# step (a gradient that jumps once). Return it as a function of $t$, $g_1$, $g_2$, $\beta_1$.

# %%
def m_hat(t, g1, g2, beta1):
    # reference answer: m_t = (1-b1) [b1^(t-1) g1 + sum_{i=2}^t b1^(t-i) g2] = (1-b1) b1^(t-1) g1 + (1 - b1^(t-1)) g2
    return ((1 - beta1) * beta1 ** (t - 1) * g1 + (1 - beta1 ** (t - 1)) * g2) / (1 - beta1 ** t)


# %%
for t_check in (1, 2, 7, 30):
    x = mg.tensor(np.zeros(1), requires_grad=True)
    adam_check = optim.Adam([x], betas=(0.8, 0.99))
    for step in range(t_check):
        x.grad = mg.tensor(np.array([3.0 if step == 0 else -1.0]))
        adam_check.step()
    expected = adam_check.state[x]["exp_avg"][0] / (1 - 0.8 ** t_check)
    assert math.isclose(m_hat(t_check, 3.0, -1.0, 0.8), expected, rel_tol=1e-12), t_check
print("exercise 1: correct")

# %% [markdown]
# **2.** Warm-up then cosine as a single `LambdaLR`: write `warmup_cosine(t)`, the lr multiplier that rises linearly
# from `0.1` to `1` over 10 steps, then follows a half cosine to 0 over the remaining 90 steps — so that it equals
# `SequentialLR([LinearWarmup(opt, 10, start_factor=0.1), CosineAnnealingLR(opt, 90)], milestones=[10])`.

# %%
def warmup_cosine(t):
    # reference answer
    if t < 10:
        return 0.1 + 0.9 * t / 10
    return (1 + math.cos(math.pi * (t - 10) / 90)) / 2


# %%
def lrs_of(make_scheduler, num_steps=100):
    opt = optim.SGD([mg.tensor(np.zeros(1), requires_grad=True)], lr=0.4)
    sched = make_scheduler(opt)
    values = []
    for _ in range(num_steps):
        values.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    return np.array(values)


np.testing.assert_allclose(
    lrs_of(lambda o: S.LambdaLR(o, warmup_cosine)),
    lrs_of(lambda o: S.SequentialLR(o, [S.LinearWarmup(o, 10, start_factor=0.1), S.CosineAnnealingLR(o, 90)], [10])),
    rtol=1e-12, atol=1e-15)
print("exercise 2: correct")

# %% [markdown]
# **3.** `ReduceLROnPlateau(opt, mode="min", patience=p, threshold=0, factor=0.5)` (no cooldown) is fed the losses below.
# At which evaluation (0-based index into `losses`) is the lr halved for the first time? Write a function of `p`.

# %%
losses = [5.0, 4.0, 3.0, 3.0, 3.5, 2.9, 2.95, 3.0, 3.0, 3.1, 3.2, 2.0, 2.5, 2.5, 2.5, 2.5, 2.5, 2.5]


def first_halving(p):
    # reference answer: count evaluations since the best; the cut comes on the one that makes the count exceed p
    best, bad = math.inf, 0
    for i, value in enumerate(losses):
        best, bad = (value, 0) if value < best else (best, bad + 1)
        if bad > p:
            return i
    return None


# %%
for p in range(0, 7):
    opt = optim.SGD([mg.tensor(np.zeros(1), requires_grad=True)], lr=1.0)
    sched = S.ReduceLROnPlateau(opt, patience=p, threshold=0.0, factor=0.5)
    observed = None
    for i, value in enumerate(losses):
        sched.step(value)
        if observed is None and opt.param_groups[0]["lr"] < 1.0:
            observed = i
    assert first_halving(p) == observed, (p, first_halving(p), observed)
print("exercise 3: correct")
