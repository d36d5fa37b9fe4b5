# ---
# jupyter:
#   jupytext:
#     text_representation:
#       extension: .py
#       format_name: percent
# ---

# %% [markdown]
# # 12 · Large batches: gradient noise, the linear scaling rule, warm-up, LARS
#
# Data parallelism (lesson 05) and gradient accumulation (lesson 04) both make the batch larger. What does a
# larger batch change? Write the mini-batch gradient as the full gradient plus noise,
# $$g_B = \frac1B\sum_{i\in \mathcal B} \nabla \ell_i = G + \xi_B, \qquad \mathbb E[\xi_B] = 0,$$
# with $G = \frac1N \sum_{i=1}^N \nabla\ell_i$. For a batch drawn without replacement from $N$ examples whose
# per-example gradients have covariance $\Sigma = \frac1N\sum_i (\nabla\ell_i - G)(\nabla\ell_i - G)^\top$,
# $$\mathbb E\,\|g_B - G\|^2 = \frac{\operatorname{tr}\Sigma}{B}\cdot\frac{N-B}{N-1}$$
# (the variance of a sample mean, with the finite-population correction). The expected gradient does not depend on $B$; only the
# noise does, as $1/B$. This lesson measures that law, then follows its consequences: what accumulation really changes,
# the linear scaling rule and warm-up of Goyal et al. (2017), and layer-wise trust ratios (LARS, You et al. 2017).

# %%
import math

import matplotlib.pyplot as plt
import numpy as np
import torch

import minigrad as mg
import minigrad.nn as nn
import minigrad.nn.functional as F
from minigrad import optim
from minigrad.optim import lr_scheduler
from minigrad.training import accumulate

mg.set_default_dtype(np.float64)
torch.set_num_threads(1)
rng = np.random.default_rng(0)

# A linear regression at a fixed point theta (not the optimum), loss 1/2 (x.theta - y)^2 per example.
N, d = 2048, 20
X = rng.standard_normal((N, d)) * np.linspace(0.5, 2.0, d)
y = X @ rng.standard_normal(d) + 0.5 * rng.standard_normal(N)
theta0 = rng.standard_normal(d)

# Closed forms, from the per-example gradients x_i (x_i.theta - y_i) written by hand:
per_example = X * (X @ theta0 - y)[:, None]                       # (N, d)
G = per_example.mean(axis=0)                                      # (d,)  the full gradient
trace_sigma = float(((per_example - G) ** 2).sum(axis=1).mean())  # tr Sigma


def noise_closed_form(B):
    return trace_sigma / B * (N - B) / (N - 1)


def minibatch_gradient(indices):
    """The gradient of the mean loss over the given examples, by minigrad's backward."""
    theta = mg.tensor(theta0, requires_grad=True)
    (0.5 * ((mg.tensor(X[indices]) @ theta - mg.tensor(y[indices])) ** 2).mean()).backward()
    return theta.grad.data


print(f"||G||^2 = {G @ G:.2f}, tr Sigma = {trace_sigma:.2f}")

# %% [markdown]
# ## Gradient noise is $\propto 1/B$, measured
#
# For each batch size, draw 300 batches, compute their gradients with `backward()`, and average $\|g_B - G\|^2$.
#
# **CHECK** — every measured mean lies within 4 standard errors of the closed form, and the log-log slope is $-1$.

# %%
batch_sizes = [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024]
draws = 300
measured, std_errors = [], []
for B in batch_sizes:
    sq = np.array([np.sum((minibatch_gradient(rng.choice(N, B, replace=False)) - G) ** 2) for _ in range(draws)])
    measured.append(sq.mean())
    std_errors.append(sq.std(ddof=1) / math.sqrt(draws))
measured, std_errors = np.array(measured), np.array(std_errors)
expected = np.array([noise_closed_form(B) for B in batch_sizes])
for B, m, e, se in zip(batch_sizes, measured, expected, std_errors):
    assert abs(m - e) < 4 * se, f"B={B}: measured {m:.3f}, closed form {e:.3f}, standard error {se:.3f}"
small = np.array(batch_sizes) <= 64   # where (N - B)/(N - 1) is ~1
slope = np.polyfit(np.log(np.array(batch_sizes)[small]), np.log(measured[small]), 1)[0]
print(f"log-log slope for B <= 64: {slope:.3f}")
assert abs(slope + 1) < 0.1

fig, ax = plt.subplots(figsize=(6, 3.4))
ax.errorbar(batch_sizes, measured, yerr=2 * std_errors, fmt="o", ms=3, label="measured (±2 s.e.)")
ax.plot(batch_sizes, expected, label=r"$\mathrm{tr}\,\Sigma/B \cdot (N-B)/(N-1)$")
ax.axhline(G @ G, color="gray", ls=":", label=r"$\|G\|^2$")
ax.set(xscale="log", yscale="log", xlabel="batch size B", ylabel=r"$E\|g_B - G\|^2$")
ax.legend()
plt.show()

# %% [markdown]
# Where the dotted line crosses the curve, the noise is as large as the signal: $B_{\text{noise}} = \operatorname{tr}\Sigma/\|G\|^2$,
# McCandlish et al.'s (2018) "simple noise scale". Well below it, doubling the batch halves the noise and is nearly as good as
# taking two steps; well above it, a larger batch buys almost nothing per example.
#
# ## Does accumulation "shrink each update"?
#
# A common claim: accumulating $k$ micro-batches before a step makes each update smaller. Measure it. With micro-batches of
# $b$ examples, `accumulate` builds the mean gradient over $kb$ examples, so
# $$\mathbb E\,\|\bar g_k\|^2 = \|G\|^2 + \frac{\operatorname{tr}\Sigma}{kb}\cdot\frac{N-kb}{N-1}, \qquad \mathbb E[\bar g_k] = G .$$
#
# **CHECK** — for $k = 1 \dots 32$: the measured $\mathbb E\|\bar g_k\|^2$ matches that closed form (4 s.e.), and the average of the
# accumulated gradients stays at $G$ for every $k$ (4 s.e.).

# %%
b, ks = 8, [1, 2, 4, 8, 16, 32]
accumulated_norms = {}
for k in ks:
    grads = []
    for _ in range(200):
        theta = mg.tensor(theta0, requires_grad=True)
        micro_batches = np.split(rng.choice(N, k * b, replace=False), k)
        accumulate(micro_batches,
                   lambda idx: (0.5 * (mg.tensor(X[idx]) @ theta - mg.tensor(y[idx])) ** 2).sum(),  # summed loss
                   count=len)
        grads.append(theta.grad.data.copy())
    grads = np.array(grads)                                            # (200, d)
    sq = (grads ** 2).sum(axis=1)
    closed = G @ G + noise_closed_form(k * b)
    assert abs(sq.mean() - closed) < 4 * sq.std(ddof=1) / math.sqrt(len(sq)), (k, sq.mean(), closed)
    bias = grads.mean(axis=0) - G
    assert bias @ bias < 4 * noise_closed_form(k * b) / len(grads), (k, bias @ bias)   # E||mean - G||^2 = noise / draws
    accumulated_norms[k] = np.sqrt(sq)
    print(f"k = {k:2d}: mean ||g_k|| = {np.sqrt(sq).mean():6.2f}   (||G|| = {np.sqrt(G @ G):.2f})")

fig, ax = plt.subplots(figsize=(6, 3.2))
ax.boxplot([accumulated_norms[k] for k in ks], positions=range(len(ks)))
ax.set_xticks(range(len(ks)), [str(k) for k in ks])
ax.axhline(np.sqrt(G @ G), color="gray", ls=":", label=r"$\|G\|$")
ax.set(xlabel="micro-batches accumulated, k", ylabel=r"$\|\bar g_k\|$", title=f"micro-batch b = {b}")
ax.legend()
plt.show()

# %% [markdown]
# So yes, the accumulated gradient's norm shrinks with $k$ — but only towards $\|G\|$, and only because its **noise**
# averages away; the **expected** step $-\eta\,G$ is the same for every $k$. What does shrink is the number of steps:
# an epoch of $N$ examples gives $N/(kb)$ updates instead of $N/b$. With the lr unchanged, an epoch moves the weights
# about $k$ times less far. That is what the linear scaling rule corrects.
#
# ## The linear scaling rule
#
# Goyal et al. (2017, sec. 2.1): "When the minibatch size is multiplied by $k$, multiply the learning rate by $k$."
# Compare $k$ SGD steps of batch $n$ and lr $\eta$ with one step of batch $kn$ (the union) and lr $\hat\eta$:
# $$w_{t+k} = w_t - \eta\,\frac1n\sum_{j<k}\sum_{x\in\mathcal B_j}\nabla\ell(x, w_{t+j}), \qquad
#   \hat w_{t+1} = w_t - \hat\eta\,\frac1{kn}\sum_{j<k}\sum_{x\in\mathcal B_j}\nabla\ell(x, w_t).$$
# If $\nabla\ell(x, w_{t+j}) \approx \nabla\ell(x, w_t)$, they agree for $\hat\eta = k\eta$. The gap comes from the gradient
# changing during the $k$ small steps, a second-order effect: $\|w_{t+k} - \hat w_{t+1}\| = O(\eta^2)$.
#
# **CHECK** — on the regression, halving $\eta$ divides the gap by 4.

# %%
def sgd_from(theta_start, batches, lr):
    theta = mg.tensor(theta_start.copy(), requires_grad=True)
    opt = optim.SGD([theta], lr=lr)
    for idx in batches:
        opt.zero_grad()
        (0.5 * ((mg.tensor(X[idx]) @ theta - mg.tensor(y[idx])) ** 2).mean()).backward()
        opt.step()
    return theta.data


k, n = 8, 16
batches = np.split(rng.choice(N, k * n, replace=False), k)
etas = [0.004, 0.002, 0.001, 0.0005]
gaps = [np.linalg.norm(sgd_from(theta0, batches, eta) - sgd_from(theta0, [np.concatenate(batches)], k * eta))
        for eta in etas]
ratios = [g1 / g2 for g1, g2 in zip(gaps, gaps[1:])]
print("gap for eta =", etas, ":", [f"{g:.2e}" for g in gaps], "  ratios", np.round(ratios, 3))
assert abs(ratios[-1] - 4) < 0.2

# %% [markdown]
# ### On a small network
#
# An MLP classifier, trained for 8 epochs four ways: batch 16 at lr $\eta$ (the baseline); batch 256 at the **same** lr
# (no scaling); batch 256 at $16\eta$ (linear scaling); and batch 256 at $16\eta$ reached by a linear warm-up over the first
# 2 epochs, from $\eta$ (Goyal et al., sec. 2.2: "gradual warmup", `LinearWarmup` with `start_factor = 1/k`).
#
# Goyal et al. motivate warm-up by the rule's assumption failing while the network changes rapidly, as it commonly does
# early in training (sec. 2.1). Their ResNet-50 runs at batch 8k *without* warm-up did not diverge;
# they trained worse, ending at a higher error than the small-batch baseline, and gradual warm-up closed the gap
# (sec. 2.2 and 5.2, Fig. 2). A shallow MLP is not in that regime: here the two large-batch runs end close to each other,
# as the measurement below shows; the effect of linear scaling itself is large.

# %%
mg.set_default_dtype(np.float32)
N_cls, d_cls, classes = 4096, 16, 4
X_cls = rng.standard_normal((N_cls, d_cls)).astype(np.float32)
y_cls = np.argmax(np.tanh(X_cls @ rng.standard_normal((d_cls, d_cls))) @ rng.standard_normal((d_cls, classes)), axis=1)


def mlp(seed):
    mg.manual_seed(seed)
    return nn.Sequential(nn.Linear(d_cls, 64), nn.ReLU(), nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, classes))


def train_mlp(batch, lr, epochs=8, warmup_epochs=0, seed=1):
    net = mlp(seed)
    opt = optim.SGD(net.parameters(), lr=lr, momentum=0.9)
    steps_per_epoch = N_cls // batch
    warmup = (lr_scheduler.LinearWarmup(opt, warmup_epochs * steps_per_epoch, start_factor=16 / batch)
              if warmup_epochs else None)
    order = np.random.default_rng(seed)
    losses, lrs = [], []
    for _ in range(epochs):
        perm = order.permutation(N_cls)
        for s in range(steps_per_epoch):
            idx = perm[s * batch:(s + 1) * batch]
            lrs.append(opt.param_groups[0]["lr"])
            loss = F.cross_entropy(net(mg.tensor(X_cls[idx])), y_cls[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            if warmup is not None:
                warmup.step()
        losses.append(F.cross_entropy(net(mg.tensor(X_cls)), y_cls).item())
    return np.array(losses), np.array(lrs)


eta = 0.02
runs = {
    "batch 16, lr eta": train_mlp(16, eta),
    "batch 256, lr eta (no scaling)": train_mlp(256, eta),
    "batch 256, lr 16 eta": train_mlp(256, 16 * eta),
    "batch 256, lr 16 eta, warm-up": train_mlp(256, 16 * eta, warmup_epochs=2),
}
final = {name: losses[-1] for name, (losses, _) in runs.items()}
print({name: round(float(v), 3) for name, v in final.items()})

fig, axes = plt.subplots(1, 2, figsize=(11, 3.3))
for name, (losses, lrs) in runs.items():
    axes[0].plot(range(1, 9), losses, "o-", ms=3, label=name)
    axes[1].plot(np.linspace(0, 8, len(lrs), endpoint=False), lrs, label=name)
axes[0].set(xlabel="epoch", ylabel="training loss (full set)")
axes[1].set(xlabel="epoch", ylabel="lr", yscale="log")
axes[0].legend(fontsize=8)
plt.show()

# %% [markdown]
# **CHECK** — per epoch, the scaled large-batch runs end within 15% of the small-batch baseline, while the unscaled one
# (16 times fewer steps of the same size) is far behind; and nothing diverged.

# %%
baseline = final["batch 16, lr eta"]
for name in ("batch 256, lr 16 eta", "batch 256, lr 16 eta, warm-up"):
    assert abs(final[name] - baseline) < 0.15 * baseline, (name, final[name], baseline)
assert final["batch 256, lr eta (no scaling)"] > 1.2 * baseline
assert all(np.isfinite(losses).all() and losses[-1] < losses[0] for losses, _ in runs.values())

# %% [markdown]
# Goyal et al.'s ImageNet recipe in minigrad's terms: lr $0.1 \cdot kn/256$ (`linear_scaling_rule`), reached by a linear
# warm-up over 5 epochs from 0.1. **CHECK** — it equals PyTorch's `LinearLR` step by step.

# %%
images, batch = 1_281_167, 8192
steps_per_epoch = math.ceil(images / batch)
peak = lr_scheduler.linear_scaling_rule(0.1, batch_size=batch)
opt = optim.SGD([mg.tensor(np.zeros(1), requires_grad=True)], lr=peak, momentum=0.9)
warmup = lr_scheduler.LinearWarmup(opt, warmup_steps=5 * steps_per_epoch, start_factor=0.1 / peak)
topt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=peak, momentum=0.9)
twarmup = torch.optim.lr_scheduler.LinearLR(topt, start_factor=0.1 / peak, total_iters=5 * steps_per_epoch)
ours, theirs = [], []
for _ in range(6 * steps_per_epoch):
    ours.append(opt.param_groups[0]["lr"])
    theirs.append(topt.param_groups[0]["lr"])
    opt.step()
    topt.step()
    warmup.step()
    twarmup.step()
np.testing.assert_allclose(ours, theirs, rtol=1e-12)
assert math.isclose(ours[0], 0.1, rel_tol=1e-12) and math.isclose(ours[-1], 3.2, rel_tol=1e-12)
print(f"{steps_per_epoch} steps per epoch; lr {ours[0]:.2f} -> {ours[5 * steps_per_epoch]:.2f} after 5 epochs")

# %% [markdown]
# ## LARS: one trust ratio per layer
#
# One global lr treats every layer alike, but the ratio $\|w\|/\|\nabla L(w)\|$ differs between layers by orders of
# magnitude, more so with large batches (You, Gitman & Ginsburg 2017, sec. 3). LARS gives each layer $l$ a
# local lr
# $$\lambda^l = \eta_{\text{trust}}\,\frac{\|w^l\|}{\|\nabla L(w^l)\| + \beta\,\|w^l\|}, \qquad
#   v^l \leftarrow m\,v^l + \gamma\,\lambda^l\,(\nabla L(w^l) + \beta w^l), \quad w^l \leftarrow w^l - v^l,$$
# so that each step changes a layer by about $\gamma\,\eta_{\text{trust}}$ of its own norm, whatever its gradient's scale.
# Biases and norm gains are usually excluded (`optim.exclude_bias_and_norm`): they get plain SGD with momentum.
#
# **CHECK** — one LARS step without momentum and decay changes every weight matrix by exactly
# $\gamma\,\eta_{\text{trust}}\,\|w\|$, although their $\|g\|/\|w\|$ differ; the bias takes the plain SGD step.

# %%
mg.set_default_dtype(np.float64)
net = nn.Sequential(nn.Linear(d_cls, 64), nn.ReLU(), nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, classes))
net[4].weight.data *= 0.05                                                       # a small last layer, as often
weights = [net[0].weight, net[2].weight, net[4].weight]
before = [w.data.copy() for w in weights]
bias_before = net[0].bias.data.copy()
lars = optim.LARS(optim.exclude_bias_and_norm(net.named_parameters(), weight_decay=0.0), lr=2.0, momentum=0.0,
                  trust_coefficient=0.01)
F.cross_entropy(net(mg.tensor(X_cls[:256].astype(np.float64))), y_cls[:256]).backward()
grad_to_weight = [np.linalg.norm(w.grad.data) / np.linalg.norm(w.data) for w in weights]
lars.step()
relative_steps = [np.linalg.norm(w.data - w0) / np.linalg.norm(w0) for w, w0 in zip(weights, before)]
print("||g||/||w|| per layer:", np.round(grad_to_weight, 4), "  ||dw||/||w||:", np.round(relative_steps, 6))
np.testing.assert_allclose(relative_steps, 2.0 * 0.01, rtol=1e-10)
assert max(grad_to_weight) / min(grad_to_weight) > 3
np.testing.assert_allclose(net[0].bias.data, bias_before - 2.0 * net[0].bias.grad.data, rtol=1e-12)

# %% [markdown]
# Over a training run with momentum and weight decay (as in the paper), the local lrs $\lambda^l$ of the three layers,
# kept by the optimizer in `state[w]["local_lr"]`:

# %%
net = mlp(seed=3)                                                                # float64, the default again
net[4].weight.data *= 0.05
weights = [net[0].weight, net[2].weight, net[4].weight]
lars = optim.LARS(optim.exclude_bias_and_norm(net.named_parameters(), weight_decay=5e-4), lr=4.0, momentum=0.9,
                  weight_decay=5e-4, trust_coefficient=0.001)
local_lrs, losses = [], []
order = np.random.default_rng(0)
for epoch in range(10):
    perm = order.permutation(N_cls)
    for s in range(N_cls // 256):
        idx = perm[s * 256:(s + 1) * 256]
        loss = F.cross_entropy(net(mg.tensor(X_cls[idx].astype(np.float64))), y_cls[idx])
        lars.zero_grad()
        loss.backward()
        lars.step()
        local_lrs.append([lars.state[w]["local_lr"] for w in weights])
        losses.append(loss.item())
local_lrs = np.array(local_lrs)                                                  # (steps, 3)

fig, axes = plt.subplots(1, 2, figsize=(11, 3.3))
for layer in range(3):
    axes[0].plot(local_lrs[:, layer], label=f"layer {layer} weight")
axes[0].set(xlabel="step", ylabel=r"local lr $\lambda^l$", yscale="log", title="LARS trust ratios per layer")
axes[0].legend()
axes[1].plot(losses)
axes[1].set(xlabel="step", ylabel="training loss (batch)")
plt.show()

# %% [markdown]
# **CHECK** — the loss went down, and the last layer, 20 times smaller at initialisation, got a local lr an order of
# magnitude apart from the first layer's: one global lr would have been wrong for one of them.

# %%
print("local lr per layer, first step:", np.round(local_lrs[0], 5), " last step:", np.round(local_lrs[-1], 5))
assert np.mean(losses[-16:]) < 0.8 * np.mean(losses[:16])
assert local_lrs[0].max() / local_lrs[0].min() > 10

# %% [markdown]
# ## Exercises
#
# **1.** Compute the simple noise scale $B_{\text{noise}} = \operatorname{tr}\Sigma / \|G\|^2$ from the per-example gradients
# (an `(N, d)` array), without using `trace_sigma` or `G` from above.

# %%
def noise_scale(per_example_grads):
    # reference answer
    mean = per_example_grads.mean(axis=0)
    return ((per_example_grads - mean) ** 2).sum(axis=1).mean() / (mean @ mean)


# %%
B_noise = noise_scale(X * (X @ theta0 - y)[:, None])
B_check = int(round(B_noise))
sq = np.array([np.sum((minibatch_gradient(rng.choice(N, B_check, replace=False)) - G) ** 2) for _ in range(300)])
# at B = B_noise the measured noise equals ||G||^2 up to the finite-population factor, within 4 standard errors
assert abs(sq.mean() - (G @ G) * B_noise / B_check * (N - B_check) / (N - 1)) < 4 * sq.std(ddof=1) / math.sqrt(300)
print(f"exercise 1: correct (B_noise = {B_noise:.1f})")

# %% [markdown]
# **2.** Goyal et al. trained with 256 GPUs at a total batch of 8192 and warmed up over 5 epochs. If instead you had a
# batch of 1024 (lr tuned to 0.1 at batch 256), what are the peak lr and the `LinearWarmup` arguments (steps, start
# factor) for a 5-epoch warm-up starting from 0.1 on ImageNet's 1,281,167 training images (last partial batch kept)?

# %%
def warmup_for_batch_1024():
    # reference answer: returns (peak_lr, warmup_steps, start_factor)
    peak = 0.1 * 1024 / 256
    return peak, 5 * math.ceil(1_281_167 / 1024), 0.1 / peak


# %%
peak_lr, warmup_steps, start_factor = warmup_for_batch_1024()
opt = optim.SGD([mg.tensor(np.zeros(1), requires_grad=True)], lr=peak_lr)
sched = lr_scheduler.LinearWarmup(opt, warmup_steps, start_factor=start_factor)
lrs = []
for _ in range(5 * 1252 + 3):
    lrs.append(opt.param_groups[0]["lr"])
    opt.step()
    sched.step()
assert math.isclose(lrs[0], 0.1, rel_tol=1e-12) and math.isclose(lrs[5 * 1252], 0.4, rel_tol=1e-12)
assert lrs[5 * 1252 - 1] < 0.4
print("exercise 2: correct")

# %% [markdown]
# **3.** Compute by hand LARS's local lr for a layer with weights `w` and gradient `g` below
# ($\eta_{\text{trust}} = 0.001$, weight decay $\beta = 0.01$).

# %%
w_layer = np.array([[0.6, -0.8], [0.0, 2.0]])
g_layer = np.array([[0.03, 0.04], [0.0, 0.0]])


def lars_local_lr(w, g, trust_coefficient=0.001, weight_decay=0.01):
    # reference answer
    w_norm, g_norm = np.linalg.norm(w), np.linalg.norm(g)
    return trust_coefficient * w_norm / (g_norm + weight_decay * w_norm)


# %%
p = mg.tensor(w_layer, requires_grad=True)
p.grad = mg.tensor(g_layer)
check = optim.LARS([p], lr=1.0, weight_decay=0.01, trust_coefficient=0.001)
check.step()
assert math.isclose(lars_local_lr(w_layer, g_layer), check.state[p]["local_lr"], rel_tol=1e-12)
print("exercise 3: correct")
