# ---
# jupyter:
#   jupytext:
#     text_representation:
#       extension: .py
#       format_name: percent
# ---

# %% [markdown]
# # 03 · Exploding gradients and gradient clipping
#
# Backpropagation through time multiplies one Jacobian per time step. For a recurrent network
# $h_t = \phi(W h_{t-1} + U x_t)$ the gradient reaching the start of a sequence of length $T$ is
# $$\frac{\partial L}{\partial h_0} = \Big(\prod_{t=1}^{T} \mathrm{diag}(\phi'_t)\, W\Big)^{\!\top} \frac{\partial L}{\partial h_T},$$
# a product of $T$ matrices. Its size behaves like (largest singular value)$^T$: it vanishes or
# explodes exponentially (Pascanu, Mikolov & Bengio 2013, "On the difficulty of training recurrent
# neural networks", §2).
#
# **Exactly solvable case.** Take a *linear* RNN ($\phi = $ identity) with $W = \rho Q$, $Q$ orthogonal.
# Then $\prod W^\top = \rho^T (Q^\top)^T$, and an orthogonal matrix keeps lengths, so
# $$\Big\|\frac{\partial L}{\partial h_0}\Big\| = \rho^T\, \Big\|\frac{\partial L}{\partial h_T}\Big\| \quad\text{exactly.}$$
# With $\rho = 1.1$ and $T = 60$ that is a factor of 304; with $\rho = 0.9$, 0.0018.

# %%
import numpy as np
import matplotlib.pyplot as plt
import torch

import minigrad as mg
from minigrad import optim
from minigrad.nn.utils import clip_grad_norm_, clip_grad_value_

mg.set_default_dtype(np.float64)
torch.set_num_threads(1)   # tiny tensors: one thread is faster, and unaffected by a busy machine
rng = np.random.default_rng(0)

hidden, num_inputs, max_T = 8, 2, 60
Q, _ = np.linalg.qr(rng.standard_normal((hidden, hidden)))
U = rng.standard_normal((hidden, num_inputs))
inputs = rng.standard_normal((max_T, num_inputs))
h0_value = rng.standard_normal(hidden)
v = rng.standard_normal(hidden)
v /= np.linalg.norm(v)                 # L = v . h_T, so dL/dh_T = v has norm 1


def gradient_wrt_h0(rho, T):
    # d(v . h_T)/d h_0 for the linear RNN h_t = (rho Q) h_{t-1} + U x_t.
    W, U_mg = mg.tensor(rho * Q), mg.tensor(U)
    h0 = mg.tensor(h0_value, requires_grad=True)
    h = h0
    for t in range(T):
        h = W @ h + U_mg @ mg.tensor(inputs[t])
    (grad,) = mg.autograd.grad((mg.tensor(v) * h).sum(), [h0])
    return grad.data


rhos = [0.9, 1.0, 1.1]
Ts = np.arange(1, max_T + 1)
norms = {rho: np.array([np.linalg.norm(gradient_wrt_h0(rho, T)) for T in Ts]) for rho in rhos}

# %% [markdown]
# **CHECK** — the gradient norm is $\rho^T$ to $10^{-12}$ (relative) for every $T \le 60$, and the gradient
# vector itself equals PyTorch's.

# %%
for rho in rhos:
    rel = np.abs(norms[rho] / rho ** Ts - 1).max()
    print(f"rho = {rho}: max |norm / rho^T - 1| = {rel:.1e}")
    assert rel < 1e-12

h0_t = torch.tensor(h0_value, requires_grad=True)
h = h0_t
for t in range(max_T):
    h = torch.tensor(1.1 * Q) @ h + torch.tensor(U) @ torch.tensor(inputs[t])
(torch.tensor(v) * h).sum().backward()
assert np.allclose(gradient_wrt_h0(1.1, max_T), h0_t.grad.numpy(), rtol=1e-12, atol=0)

plt.figure(figsize=(6, 3.5))
for rho in rhos:
    plt.semilogy(Ts, norms[rho], label=f"rho = {rho}")
    plt.semilogy(Ts, rho ** Ts, "k:", linewidth=1)
plt.xlabel("sequence length T")
plt.ylabel("||dL/dh_0||")
plt.title("linear RNN, W = rho Q: gradient norm = rho^T (dotted)")
plt.legend()
plt.show()

# %% [markdown]
# ## A tanh RNN that diverges without clipping
#
# With $\tanh$ the forward pass stays bounded, but the gradient need not. A random recurrent matrix
# with gain $g > 1$, $W_{ij} \sim \mathcal N(0, g^2/H)$, puts the network in its chaotic regime
# (Sompolinsky, Crisanti & Sommers 1988): nearby trajectories separate exponentially, and so the
# Jacobian product, hence the gradient, grows exponentially with $T$.
#
# The task is easy — read out $y = x_T - \tfrac12 x_{T-1}$ from a sequence of $T = 30$ uniform inputs —
# but at initialisation the gradient norm is close to 90, so the first SGD step with $\eta = 0.1$
# moves the weights by about 9 — mostly the recurrent weights and biases, whose gradients come back
# through all 30 steps. What happens next is not "a steeper slope at once": run the cells below and
# read the trace. After that first step the loss *falls* (0.51 to 0.32) and the gradient norm drops
# from 89 to 1.6, because the big step pushed the tanh units towards saturation, where little
# gradient flows back. The damage shows over steps 3–7: the gradient norm grows several-fold per
# step (2.7, 7.6, 8.5, 38, 304, 1121) and the loss runs away, to overflow. The cause is measured
# below: with nearly saturated hidden units the loss is a quadratic in the readout weights whose
# largest curvature $\lambda_{\max}$ gives $\eta\lambda_{\max} \approx 3 > 2$ — the condition under
# which gradient descent overshoots by a growing factor each step (lesson 02) — and the growing
# readout sends ever larger gradients back into the recurrent weights. (The divergence does not
# hinge on the seed: it held for each of the 8 seeds we tried.)
#
# **Clipping by global norm** (Pascanu et al. 2013, Algorithm 1),
# $$g \leftarrow g \cdot \min\!\Big(1, \frac{c}{\|g\| + 10^{-6}}\Big),$$
# keeps the direction and caps the step at $\eta c$.

# %%
hidden, seq_len, batch, gain, lr, num_steps = 32, 30, 64, 2.0, 0.1, 300
rng = np.random.default_rng(0)
X_seq = rng.uniform(-1, 1, (seq_len, batch, 1))
y_seq = X_seq[-1] - 0.5 * X_seq[-2]


class Net(mg.nn.Module):
    def __init__(self):
        super().__init__()
        self.rnn = mg.nn.RNN(1, hidden)
        self.head = mg.nn.Linear(hidden, 1)

    def forward(self, x):
        out, _ = self.rnn(x)
        return self.head(out[-1])


mg.manual_seed(0)
net = Net()
net.rnn.weight_hh_l0.data[...] = gain * rng.standard_normal((hidden, hidden)) / np.sqrt(hidden)
initial_values = [p.data.copy() for p in net.parameters()]
X_mg, y_mg = mg.tensor(X_seq), mg.tensor(y_seq)


def train(max_norm):
    for p, value in zip(net.parameters(), initial_values):
        p.data[...] = value
    opt = optim.SGD(net.parameters(), lr=lr)
    losses, grad_norms = [], []
    with np.errstate(over="ignore", invalid="ignore"):   # the unclipped run overflows on purpose
        for _ in range(num_steps):
            opt.zero_grad()
            loss = mg.nn.functional.mse_loss(net(X_mg), y_mg)
            loss.backward()
            grad_norms.append(clip_grad_norm_(net.parameters(), max_norm).item())  # norm BEFORE clipping
            losses.append(loss.item())
            if not np.isfinite(losses[-1]):
                break                                      # overflowed: nothing more to learn from this run
            opt.step()
    return np.array(losses), np.array(grad_norms)


loss_plain, norm_plain = train(max_norm=np.inf)     # min(1, inf/...) = 1: no clipping
loss_clip, norm_clip = train(max_norm=1.0)
print(f"initial loss {loss_clip[0]:.3f}, initial gradient norm {norm_clip[0]:.1f}")
print(f"no clipping:   largest loss {np.nanmax(loss_plain):.3g}, final loss {loss_plain[-1]:.3g}")
print(f"clip at 1.0:   mean loss over the last 20 steps {loss_clip[-20:].mean():.4f}")
print("unclipped run, steps 0-8:")
for step in range(min(9, len(norm_plain))):
    print(f"  step {step}: gradient norm {norm_plain[step]:9.1f}   loss {loss_plain[step]:9.3g}")


# %% [markdown]
# Why the unclipped run overshoots after step 1: the loss is quadratic in the readout `head`
# (weights and bias) with Hessian $\frac{2}{B} A^\top A$, $A = [h_T\ \mathbf 1]$ built from the final
# hidden states. Gradient descent on that quadratic alone diverges when $\eta\lambda_{\max} > 2$.

# %%
def readout_curvature_times_lr():
    out, _ = net.rnn(X_mg)
    features = np.hstack([out[-1].data, np.ones((batch, 1))])          # (B, hidden + 1)
    return lr * np.linalg.eigvalsh(2 / batch * features.T @ features).max()


for p, value in zip(net.parameters(), initial_values):
    p.data[...] = value
opt = optim.SGD(net.parameters(), lr=lr)
opt.zero_grad()
mg.nn.functional.mse_loss(net(X_mg), y_mg).backward()
opt.step()                                                             # the first unclipped step
curvature_after_step_1 = readout_curvature_times_lr()
print(f"after step 1: lr * lambda_max(readout) = {curvature_after_step_1:.2f}")

# %% [markdown]
# **CHECK** — without clipping the loss explodes (beyond $10^6$, or NaN); with clipping it drops to
# under a quarter of its starting value. And each clipped step is the one PyTorch computes
# (`torch.nn.RNN`, `clip_grad_norm_`, `torch.optim.SGD`): for 30 steps both start from the same
# weights and must agree to $10^{-12}$. (Comparing two whole runs instead would fail for a
# different reason: the dynamics are chaotic, and a rounding difference of $10^{-16}$ grows about a
# hundredfold per step.)
#
# The trace matches the story told above: the first step lowers the gradient norm more than
# tenfold, the norm then grows at every step from 2 to 8, and the readout's curvature exceeds $2/\eta$.

# %%
assert not np.all(np.isfinite(loss_plain)) or np.nanmax(loss_plain) > 1e6
assert loss_clip[-20:].mean() < 0.25 * loss_clip[0]
assert len(norm_plain) > 8, f"the unclipped run overflowed after {len(norm_plain)} steps"
assert norm_plain[1] < norm_plain[0] / 10 and loss_plain[1] < loss_plain[0]
assert np.all(np.diff(norm_plain[2:9]) > 0) and norm_plain[8] > 100 * norm_plain[2]
assert curvature_after_step_1 > 2


class TorchNet(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.rnn = torch.nn.RNN(1, hidden)
        self.head = torch.nn.Linear(hidden, 1)

    def forward(self, x):
        out, _ = self.rnn(x)
        return self.head(out[-1])


torch_net = TorchNet().double()
torch_params = list(torch_net.parameters())   # same order: W_ih, W_hh, b_ih, b_hh, head W, head b
for p, value in zip(net.parameters(), initial_values):
    p.data[...] = value
opt = optim.SGD(net.parameters(), lr=lr)
torch_opt = torch.optim.SGD(torch_params, lr=lr)
worst = 0.0
for step in range(30):
    with torch.no_grad():                      # lockstep: both start each step from minigrad's weights
        for tp, p in zip(torch_params, net.parameters(), strict=True):
            tp.copy_(torch.tensor(p.data))
    opt.zero_grad()
    loss = mg.nn.functional.mse_loss(net(X_mg), y_mg)
    loss.backward()
    norm = clip_grad_norm_(net.parameters(), 1.0)
    opt.step()
    torch_opt.zero_grad()
    torch_loss = torch.nn.functional.mse_loss(torch_net(torch.tensor(X_seq)), torch.tensor(y_seq))
    torch_loss.backward()
    torch_norm = torch.nn.utils.clip_grad_norm_(torch_params, 1.0)
    torch_opt.step()
    assert np.isclose(loss.item(), torch_loss.item(), rtol=1e-12, atol=0)
    assert np.isclose(norm.item(), torch_norm.item(), rtol=1e-12, atol=0)
    worst = max(worst, max(np.abs(p.data - tp.detach().numpy()).max() for tp, p in zip(torch_params, net.parameters())))
print(f"30 lockstep steps: largest weight difference from PyTorch {worst:.1e}")
assert worst < 1e-12

def finite(values):
    return np.where(values < 1e12, values, np.nan)   # values beyond 1e12 (up to inf and nan) are not drawn



fig, axes = plt.subplots(1, 2, figsize=(10, 3.5))
axes[0].semilogy(finite(loss_plain), label="no clipping")
axes[0].semilogy(loss_clip, label="clip_grad_norm_(max_norm=1)")
axes[0].set_xlabel("step")
axes[0].set_ylabel("training loss (unclipped run leaves the plot)")
axes[0].legend()
axes[1].semilogy(finite(norm_plain), label="no clipping")
axes[1].semilogy(norm_clip, label="clipped run (norm before clipping)")
axes[1].set_ylabel("gradient norm (unclipped run leaves the plot)")
axes[1].set_xlabel("step")
axes[1].legend()
plt.tight_layout()
plt.show()


# %% [markdown]
# ## Global norm, per-parameter norm, or value?
#
# Three ways to tame a large gradient $g = (g_1, \dots, g_n)$ (one block per parameter tensor):
#
# | method | rule | direction of $g$ |
# |---|---|---|
# | global norm (`clip_grad_norm_(params, c)`) | $g \leftarrow g \cdot \min(1, c/\|g\|)$ | kept |
# | per-parameter norm (`clip_grad_norm_([p], c)` for each p) | $g_i \leftarrow g_i \cdot \min(1, c/\|g_i\|)$ | changed: blocks are rescaled differently |
# | value (`clip_grad_value_(params, c)`) | $g_{ij} \leftarrow \mathrm{clamp}(g_{ij}, -c, c)$ | changed: large entries flattened |
#
# Only the global norm keeps the descent direction; the others bias it. We clip the RNN's
# initial gradient each way and measure the cosine between clipped and original gradients.

# %%
def initial_gradients():
    for p, value in zip(net.parameters(), initial_values):
        p.data[...] = value
    net.zero_grad()
    mg.nn.functional.mse_loss(net(X_mg), y_mg).backward()
    return list(net.parameters())


def flat_grad(params):
    return np.concatenate([p.grad.data.ravel() for p in params])


def per_parameter_clip(params, c):
    for p in params:
        clip_grad_norm_([p], c)


original = flat_grad(initial_gradients())
methods = {
    "global norm (1.0)": lambda ps: clip_grad_norm_(ps, 1.0),
    "per-parameter norm (1.0)": lambda ps: per_parameter_clip(ps, 1.0),
    "value (0.05)": lambda ps: clip_grad_value_(ps, 0.05),
}
torch_methods = {
    "global norm (1.0)": lambda ps: torch.nn.utils.clip_grad_norm_(ps, 1.0),
    "per-parameter norm (1.0)": lambda ps: [torch.nn.utils.clip_grad_norm_([p], 1.0) for p in ps],
    "value (0.05)": lambda ps: torch.nn.utils.clip_grad_value_(ps, 0.05),
}
cosines, clipped_norms = {}, {}
for name, clip in methods.items():
    params = initial_gradients()
    clip(params)
    clipped = flat_grad(params)
    cosines[name] = clipped @ original / (np.linalg.norm(clipped) * np.linalg.norm(original))
    clipped_norms[name] = np.linalg.norm(clipped)
    # the same clipping in PyTorch, on the same gradient
    torch_params = [torch.tensor(value, requires_grad=True) for value in initial_values]
    offset = 0
    for tp in torch_params:
        tp.grad = torch.tensor(original[offset:offset + tp.numel()].reshape(tp.shape).copy())
        offset += tp.numel()
    torch_methods[name](torch_params)
    assert np.allclose(clipped, np.concatenate([tp.grad.numpy().ravel() for tp in torch_params]), rtol=1e-12, atol=0)
    print(f"{name:26s} cosine with the original {cosines[name]:.6f}   norm after {clipped_norms[name]:.3f}")

# %% [markdown]
# **CHECK** — global-norm clipping preserves the direction to $10^{-12}$ and leaves norm
# $c\,\|g\|/(\|g\|+10^{-6})$; the other two turn the gradient measurably; all three equal PyTorch (asserted above).

# %%
g_norm = np.linalg.norm(original)
assert abs(cosines["global norm (1.0)"] - 1) < 1e-12
assert np.isclose(clipped_norms["global norm (1.0)"], 1.0 * g_norm / (g_norm + 1e-6), rtol=1e-12)
assert cosines["per-parameter norm (1.0)"] < 0.999
assert cosines["value (0.05)"] < 0.999

plt.figure(figsize=(7, 2.5))
plt.barh(list(cosines), list(cosines.values()))
plt.xlim(0, 1.005)
plt.xlabel("cosine(clipped gradient, original gradient)")
plt.title("only global-norm clipping keeps the direction")
plt.tight_layout()
plt.show()

# %% [markdown]
# **Takeaways.** Through $T$ recurrent steps a gradient is multiplied $T$ times; for a linear RNN with
# $W = \rho Q$ exactly by $\rho^T$. A chaotic $\tanh$ RNN produces gradients tens of times larger than a
# sensible step, and SGD diverges. Clipping by the *global* norm — one coefficient for all parameters —
# bounds the step while keeping its direction; it is what `torch.nn.utils.clip_grad_norm_` does, and
# what large-model training uses (typically $c = 1$).

# %% [markdown]
# ## Exercises
#
# Each exercise cell ships with a working answer so the lesson runs from top to bottom. Replace it
# with your own and run the check below it: the check compares with an independent reference and
# fails on a wrong answer.
#
# **Exercise 1 — clipping by hand.** Write `clip_by_global_norm(grads, max_norm)` in NumPy: it takes
# a list of gradient arrays and returns `(clipped_list, total_norm)` with PyTorch's rule,
# $g \leftarrow g \cdot \min\big(1, c / (\|g\| + 10^{-6})\big)$, where $\|g\|$ is the norm of all
# arrays together.

# %%
def clip_by_global_norm(grads, max_norm):
    total_norm = np.sqrt(sum((g ** 2).sum() for g in grads))
    coefficient = min(1.0, max_norm / (total_norm + 1e-6))
    return [g * coefficient for g in grads], total_norm


# %% [markdown]
# **Check 1** — on random gradients, both above and below the threshold, your clipped gradients and
# norm equal `torch.nn.utils.clip_grad_norm_`.

# %%
check_rng = np.random.default_rng(3)
for max_norm in (0.5, 100.0):
    grads = [check_rng.standard_normal(shape) for shape in [(4, 3), (3,), (2, 2, 2)]]
    clipped, total = clip_by_global_norm(grads, max_norm)
    tensors = [torch.zeros(g.shape, dtype=torch.float64, requires_grad=True) for g in grads]
    for t, g in zip(tensors, grads):
        t.grad = torch.tensor(g)
    torch_total = torch.nn.utils.clip_grad_norm_(tensors, max_norm)
    np.testing.assert_allclose(total, torch_total.item(), rtol=1e-12)
    for mine, t in zip(clipped, tensors):
        np.testing.assert_allclose(mine, t.grad.numpy(), rtol=1e-12)
print("exercise 1: OK")

# %% [markdown]
# **Exercise 2 — how long until it explodes?** For the linear RNN of the first section with
# $W = 1.1\,Q$, give the smallest sequence length `T_explode` for which $\|\partial L/\partial h_0\|$
# exceeds 100 (with $\|\partial L/\partial h_T\| = 1$).

# %%
T_explode = int(np.ceil(np.log(100) / np.log(1.1)))
print("T_explode =", T_explode)

# %% [markdown]
# **Check 2** — backpropagation through minigrad's RNN gives a norm above 100 at your `T_explode`
# and not at `T_explode - 1`.

# %%
assert np.linalg.norm(gradient_wrt_h0(1.1, T_explode)) > 100
assert np.linalg.norm(gradient_wrt_h0(1.1, T_explode - 1)) <= 100
print("exercise 2: OK")

# %% [markdown]
# **Exercise 3 — the largest step.** With SGD (no momentum) at learning rate $\eta$ and
# `clip_grad_norm_(params, c)`, how far (in Euclidean norm, over all parameters) can one step move
# the weights at most? Write it as a function of `lr` and `c`.

# %%
def largest_step(lr, c):
    return lr * c


# %% [markdown]
# **Check 3** — the first clipped step of the tanh RNN above, whose gradient norm (89) is far above
# $c$, moves the weights by your bound (to 1e-6), for two values of $c$.

# %%
for c in (1.0, 0.3):
    for p, value in zip(net.parameters(), initial_values):
        p.data[...] = value
    opt = optim.SGD(net.parameters(), lr=lr)
    opt.zero_grad()
    mg.nn.functional.mse_loss(net(X_mg), y_mg).backward()
    clip_grad_norm_(net.parameters(), c)
    opt.step()
    moved = np.sqrt(sum(((p.data - value) ** 2).sum() for p, value in zip(net.parameters(), initial_values)))
    np.testing.assert_allclose(moved, largest_step(lr, c), rtol=1e-6)
print("exercise 3: OK")
