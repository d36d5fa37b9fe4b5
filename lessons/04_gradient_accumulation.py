# ---
# jupyter:
#   jupytext:
#     text_representation:
#       extension: .py
#       format_name: percent
# ---

# %% [markdown]
# # 04 · Gradient accumulation
#
# A batch of $N$ units (examples, or tokens for a language model) that does not fit in memory can be
# cut into $k$ micro-batches of $n_1, \dots, n_k$ units. Run forward and backward on each, let the
# gradients add up in `.grad` (they accumulate, as in PyTorch), then take **one** optimizer step.
# That step equals the big-batch step only if every micro-batch is normalised by the count of the
# **whole** batch:
# $$\nabla L = \nabla\,\frac1N \sum_{i=1}^{N} \ell_i = \sum_{j=1}^{k} \nabla\Big[\frac1N \sum_{i \in \text{micro-batch } j} \ell_i\Big],
# \qquad N = \sum_j n_j .$$
# Each micro-batch contributes its **summed** loss divided by $N$, never its own mean.
# `minigrad.training.accumulate` runs exactly this loop:
#
# ```python
# optimizer.zero_grad()
# loss = accumulate(micro_batches, loss_fn, count=count_tokens)   # loss_fn returns a SUM
# clip_grad_norm_(params, max_norm)                                 # once
# optimizer.step()                                                  # once
# ```
#
# The three classic mistakes it rules out, each measured below:
# 1. **zeroing inside the loop** — only the last micro-batch survives;
# 2. **the mean of micro-batch means**, $\frac1k\sum_j \frac1{n_j}\sum_{i\in j}\ell_i$ — a token in a short micro-batch
#    weighs more than one in a long micro-batch. For token-level losses with variable-length
#    sequences this was how Hugging Face Transformers accumulated gradients until its fix of
#    October 2024, which divides summed losses by the global token count as above;
# 3. **clipping per micro-batch** — clipping is not linear, $\mathrm{clip}(g_1) + \mathrm{clip}(g_2) \neq \mathrm{clip}(g_1+g_2)$.

# %%
import tracemalloc

import numpy as np
import matplotlib.pyplot as plt
import torch

import minigrad as mg
import minigrad.nn.functional as F
from minigrad.nn.utils import clip_grad_norm_
from minigrad.training import accumulate

mg.set_default_dtype(np.float64)
torch.set_num_threads(1)   # tiny tensors: one thread is faster, and unaffected by a busy machine
rng = np.random.default_rng(0)

vocab, dim, num_seqs, max_len, IGNORE = 20, 8, 24, 40, -100
# Sequences sorted by length, as a length-bucketing sampler serves them: micro-batches then hold very
# different token counts. Positions past a sequence's end are padding, with target IGNORE.
lengths = np.sort(rng.integers(1, max_len + 1, num_seqs))[::-1]
tokens = rng.integers(0, vocab, (num_seqs, max_len))
targets = rng.integers(0, vocab, (num_seqs, max_len))
targets[np.arange(max_len)[None, :] >= lengths[:, None]] = IGNORE
initial_weights = [0.5 * rng.standard_normal((vocab, dim)), 0.5 * rng.standard_normal((vocab, dim)), np.zeros(vocab)]


def new_params():
    return [mg.tensor(w, requires_grad=True) for w in initial_weights]


def lm_loss(params, tokens, targets, reduction):
    # A one-layer language model: embed each token, project back to the vocabulary.
    E, W, b = params
    logits = mg.embedding(E, tokens) @ W.T + b
    return F.cross_entropy(logits.reshape(-1, vocab), targets.reshape(-1), ignore_index=IGNORE, reduction=reduction)


def split(k):
    # k micro-batches of consecutive sequences (sizes differ by at most one: an uneven last one).
    return list(zip(np.array_split(tokens, k), np.array_split(targets, k)))


def count_tokens(micro_batch):
    return int((micro_batch[1] != IGNORE).sum())


def flat_grad(params):
    return np.concatenate([p.grad.data.ravel() for p in params])


# The reference: PyTorch, the whole batch at once, mean over non-ignored tokens.
E, W, b = (torch.tensor(w, requires_grad=True) for w in initial_weights)
logits = E[torch.tensor(tokens)] @ W.T + b
torch_loss = torch.nn.functional.cross_entropy(logits.reshape(-1, vocab), torch.tensor(targets).reshape(-1),
                                               ignore_index=IGNORE)
torch_loss.backward()
full_grad = np.concatenate([E.grad.numpy().ravel(), W.grad.numpy().ravel(), b.grad.numpy().ravel()])
print(f"{num_seqs} sequences, {int((targets != IGNORE).sum())} tokens, lengths {lengths.max()} down to {lengths.min()}")

# %% [markdown]
# **CHECK** — for $k \in \{1, 2, 3, 7\}$ micro-batches (uneven sizes, padding included), `accumulate` gives
# PyTorch's full-batch gradient and mean loss to $10^{-12}$.

# %%
for k in [1, 2, 3, 7]:
    params = new_params()
    loss = accumulate(split(k), lambda mb: lm_loss(params, *mb, reduction="sum"), count=count_tokens)
    rel = np.linalg.norm(flat_grad(params) - full_grad) / np.linalg.norm(full_grad)
    print(f"k = {k}: tokens per micro-batch {[count_tokens(mb) for mb in split(k)]}, relative gradient error {rel:.1e}")
    assert rel < 1e-12
    assert abs(loss - torch_loss.item()) < 1e-12 * abs(torch_loss.item())

# %% [markdown]
# ## The three mistakes, measured
#
# Each is written the way it appears in real training loops, with $k = 4$ micro-batches. For
# clipping we pick `max_norm` at half the true gradient norm, so that clipping is active — as it is
# in practice whenever it matters.

# %%
k = 4
micro_batches = split(k)
max_norm = 0.5 * np.linalg.norm(full_grad)


def relative_error(grad, reference):
    return np.linalg.norm(grad - reference) / np.linalg.norm(reference)


# Right: accumulate, then clip once.
params = new_params()
accumulate(micro_batches, lambda mb: lm_loss(params, *mb, reduction="sum"), count=count_tokens)
clip_grad_norm_(params, max_norm)
right_clipped = flat_grad(params)
right_unclipped = full_grad * min(1.0, max_norm / (np.linalg.norm(full_grad) + 1e-6))

# Mistake 1: zero_grad inside the loop.
params = new_params()
for mb in micro_batches:
    for p in params:
        p.grad = None                                   # optimizer.zero_grad() in the wrong place
    (lm_loss(params, *mb, reduction="mean") / k).backward()
zeroing_inside = flat_grad(params)

# Mistake 2: the mean of the micro-batch means.
params = new_params()
for mb in micro_batches:
    (lm_loss(params, *mb, reduction="mean") / k).backward()
mean_of_means = flat_grad(params)

# Mistake 3: clipping inside the loop (on the running sum in .grad).
params = new_params()
total = sum(count_tokens(mb) for mb in micro_batches)
for mb in micro_batches:
    (lm_loss(params, *mb, reduction="sum") / total).backward()
    clip_grad_norm_(params, max_norm)
clip_inside = flat_grad(params)

errors = {
    "accumulate, clip once": relative_error(right_clipped, right_unclipped),
    "zero_grad inside the loop": relative_error(zeroing_inside, full_grad),
    "mean of micro-batch means": relative_error(mean_of_means, full_grad),
    "clip inside the loop": relative_error(clip_inside, right_unclipped),
}
for name, err in errors.items():
    print(f"{name:28s} relative error {err:.2e}")

# %% [markdown]
# **CHECK** — the right loop is exact (to $10^{-12}$; its reference is the PyTorch gradient clipped in
# closed form), and each mistake is off by more than 5% — the mean of means by tens of percent.

# %%
assert errors["accumulate, clip once"] < 1e-12
assert errors["zero_grad inside the loop"] > 0.05
assert 0.1 < errors["mean of micro-batch means"]
assert errors["clip inside the loop"] > 0.05

plt.figure(figsize=(7, 2.8))
names = list(errors)
plt.barh(names, [max(errors[n], 1e-17) for n in names], color=["C2", "C3", "C3", "C3"])
plt.xscale("log")
plt.xlabel("relative error of the accumulated gradient")
plt.title(f"k = {k} micro-batches of variable-length sequences")
plt.tight_layout()
plt.show()

# %% [markdown]
# ## A loop that trains nothing (seed 002)
#
# One of the project's seed reports described a gradient-accumulation loop that calls
# `optimizer.zero_grad()` at **every** micro-step and **never** calls `loss.backward()`; its
# parameters never changed and it reported a loss of 0.0 at every step. Below is a minimal
# transcription with minigrad (a linear model, $k = 4$ micro-batches per step). The loss is
# computed, but without `backward` nothing ever reaches `.grad`; `zero_grad()` then sets every
# `.grad` to `None` (PyTorch's default, `set_to_none=True`), and `SGD.step()` skips parameters whose
# `.grad` is `None` — so the step is silently a no-op. The report adds up the loss in the line that
# was meant to follow `backward`, which is missing with it, so it prints 0.0.

# %%
regression_rng = np.random.default_rng(2)
X_reg = regression_rng.standard_normal((512, 5))
w_reg = regression_rng.standard_normal(5)
y_reg = X_reg @ w_reg + 0.5 * regression_rng.standard_normal(512)
accum_steps, micro_size = 4, 16


def micro_batch(step, micro_step):
    start = (step * accum_steps + micro_step) * micro_size % len(X_reg)
    return mg.tensor(X_reg[start:start + micro_size]), mg.tensor(y_reg[start:start + micro_size, None])


mg.manual_seed(0)
seed_net = mg.nn.Linear(5, 1)
before = [p.data.copy() for p in seed_net.parameters()]
optimizer = mg.optim.SGD(seed_net.parameters(), lr=0.1)
seed_reports = []
for step in range(5):
    reported_loss = 0.0
    for micro_step in range(accum_steps):
        optimizer.zero_grad()                                    # bug 1: zeroes at every micro-step
        X_mb, y_mb = micro_batch(step, micro_step)
        loss = F.mse_loss(seed_net(X_mb), y_mb) / accum_steps
        # bug 2: `loss.backward()` and `reported_loss += loss.item()` are missing
    optimizer.step()
    seed_reports.append(reported_loss)
    print(f"step {step}: loss {reported_loss:.4f}")

# %% [markdown]
# The fixed loop zeroes once per step, calls `backward` on every micro-batch (each loss divided by
# $k$, so the sum is the mean over the $k$ equal micro-batches) and steps once.

# %%
mg.manual_seed(0)
fixed_net = mg.nn.Linear(5, 1)
optimizer = mg.optim.SGD(fixed_net.parameters(), lr=0.1)
fixed_reports = []
for step in range(5):
    optimizer.zero_grad()                                        # once, before the micro-batches
    reported_loss = 0.0
    for micro_step in range(accum_steps):
        X_mb, y_mb = micro_batch(step, micro_step)
        loss = F.mse_loss(fixed_net(X_mb), y_mb) / accum_steps
        loss.backward()                                          # gradients add up in .grad
        reported_loss += loss.item()
    optimizer.step()
    fixed_reports.append(reported_loss)
    print(f"step {step}: loss {reported_loss:.4f}")

# %% [markdown]
# **CHECK** — the seed's loop leaves every parameter bit-for-bit unchanged with no gradient at all,
# and reports 0.0; the fixed loop's first report is the true mean loss of the four micro-batches
# (computed in NumPy) and its loss falls.

# %%
assert all(np.array_equal(p.data, b) for p, b in zip(seed_net.parameters(), before))
assert all(p.grad is None for p in seed_net.parameters())
assert seed_reports == [0.0] * 5
w0, b0 = before
first_losses = [np.mean((X_reg[i * micro_size:(i + 1) * micro_size] @ w0.T + b0
                         - y_reg[i * micro_size:(i + 1) * micro_size, None]) ** 2) for i in range(accum_steps)]
np.testing.assert_allclose(fixed_reports[0], np.mean(first_losses), rtol=1e-12)
assert fixed_reports[-1] < 0.5 * fixed_reports[0]
print("seed 002 loop: nothing trains; fixed loop: OK")

# %% [markdown]
# ### Does accumulation "shrink the update"?
#
# The same seed claimed that accumulating over $k$ micro-batches shrinks the update. Write $G$ for
# the full-data gradient and $\Sigma$ for the covariance of one example's gradient. A micro-batch of
# $b$ examples drawn at random gives $g_b$ with $\mathbb E[g_b] = G$ and covariance $\Sigma / b$; the
# average of $k$ of them, $\bar g$, has $\mathbb E[\bar g] = G$ and covariance $\Sigma/(kb)$. So
# $$\mathbb E\|g_b\|^2 = \|G\|^2 + \frac{\operatorname{tr}\Sigma}{b}, \qquad
# \mathbb E\|\bar g\|^2 = \|G\|^2 + \frac{\operatorname{tr}\Sigma}{kb}.$$
# The accumulated gradient is *shorter* on average — but only because its noise is smaller; the
# expected step $-\eta\,\mathbb E[\bar g] = -\eta G$ is the same. We measure both over 400 draws at a
# fixed point $w$, with minigrad computing every micro-batch gradient, and compare with
# $G$ and $\Sigma$ computed in closed form from the per-example gradients
# $\nabla_w (x_i^\top w - y_i)^2 = 2 (x_i^\top w - y_i)\, x_i$.

# %%
draws, k_acc, b_micro = 400, 4, 8
probe = mg.nn.Linear(5, 1, bias=False)
w_probe = np.array([0.3, -0.2, 0.1, 0.0, 0.5])                      # a fixed point, away from the optimum
probe.weight.data[...] = w_probe
draw_rng = np.random.default_rng(3)


def micro_gradient(rows):
    probe.zero_grad()
    F.mse_loss(probe(mg.tensor(X_reg[rows])), mg.tensor(y_reg[rows, None])).backward()
    return probe.weight.grad.data.ravel().copy()


micro_grads, accumulated_grads = [], []
for _ in range(draws):
    rows = draw_rng.integers(0, len(X_reg), (k_acc, b_micro))       # sampled with replacement
    grads = [micro_gradient(r) for r in rows]
    micro_grads.append(grads[0])
    accumulated_grads.append(np.mean(grads, axis=0))
micro_grads, accumulated_grads = np.array(micro_grads), np.array(accumulated_grads)

example_grads = 2 * (X_reg @ w_probe - y_reg)[:, None] * X_reg          # (n, 5)
G = example_grads.mean(axis=0)
trace_sigma = np.trace(np.cov(example_grads.T, bias=True))
expected_micro = G @ G + trace_sigma / b_micro
expected_accumulated = G @ G + trace_sigma / (k_acc * b_micro)
print(f"E||g||^2: micro-batch {np.mean((micro_grads ** 2).sum(1)):.2f} (closed form {expected_micro:.2f}), "
      f"accumulated {np.mean((accumulated_grads ** 2).sum(1)):.2f} (closed form {expected_accumulated:.2f})")
print("mean micro-batch gradient  ", micro_grads.mean(0).round(3))
print("mean accumulated gradient  ", accumulated_grads.mean(0).round(3))
print("full-data gradient G       ", G.round(3))

# %% [markdown]
# **CHECK** — both estimators are unbiased: their means equal $G$ within four standard errors; the
# mean squared norms match the closed forms within 15%; the accumulated gradient's variance is $k$
# times smaller (ratio within 25% of $k = 4$). The update shrinks only in its noise.

# %%
for grads, b_eff in [(micro_grads, b_micro), (accumulated_grads, k_acc * b_micro)]:
    standard_error = np.sqrt(np.diag(np.cov(example_grads.T, bias=True)) / b_eff / draws)
    assert np.all(np.abs(grads.mean(0) - G) < 4 * standard_error), (grads.mean(0), G)
np.testing.assert_allclose(np.mean((micro_grads ** 2).sum(1)), expected_micro, rtol=0.15)
np.testing.assert_allclose(np.mean((accumulated_grads ** 2).sum(1)), expected_accumulated, rtol=0.15)
variance_ratio = ((micro_grads - G) ** 2).sum(1).mean() / ((accumulated_grads - G) ** 2).sum(1).mean()
print(f"noise variance ratio micro / accumulated: {variance_ratio:.2f} (k = {k_acc})")
assert abs(variance_ratio / k_acc - 1) < 0.25

fig, ax = plt.subplots(figsize=(5, 4.5))
ax.scatter(micro_grads[:, 0], micro_grads[:, 1], s=8, alpha=0.5, label=f"one micro-batch (b = {b_micro})")
ax.scatter(accumulated_grads[:, 0], accumulated_grads[:, 1], s=8, alpha=0.5, label=f"accumulated, k = {k_acc}")
ax.plot(*G[:2], "k*", ms=14, label="full-data gradient G")
ax.set_xlabel("gradient, coordinate 1")
ax.set_ylabel("gradient, coordinate 2")
ax.set_title("same centre, less spread")
ax.legend(fontsize=8)
plt.show()

# %% [markdown]
# ## Memory: do large batches save memory?
#
# The backward pass needs the activations of the forward pass, one set per example. So the peak
# memory of one training step is
# $$\text{peak}(B) \approx \underbrace{M_{\rm fixed}}_{\text{parameters, gradients}} + B \cdot m_{\rm act},$$
# linear in the batch size $B$. A large batch costs *more* memory, not less; what it amortises is the
# fixed part (memory *per example*, $\text{peak}/B$, falls). Gradient accumulation with micro-batches of
# size $b$ gives the gradient of batch $B$ at the peak memory of batch $b$, paying instead with $B/b$
# sequential forward/backward passes.
#
# We measure the peak with Python's `tracemalloc` (NumPy reports its array allocations to it) for a
# 3-layer MLP, full batch versus accumulation in micro-batches of 64. The data itself is allocated
# before the measurement starts: only what the training step allocates is counted.

# %%
mg.manual_seed(0)
net = mg.nn.Sequential(mg.nn.Linear(256, 512), mg.nn.Tanh(), mg.nn.Linear(512, 512), mg.nn.Tanh(), mg.nn.Linear(512, 10))
params = list(net.parameters())
batch_sizes = [64, 128, 256, 512, 1024]
micro = 64
data_X = rng.standard_normal((max(batch_sizes), 256))
data_y = rng.integers(0, 10, max(batch_sizes))


def peak_bytes(step):
    net.zero_grad()
    tracemalloc.start()
    step()
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return peak


def full_batch(B):
    F.cross_entropy(net(mg.tensor(data_X[:B])), data_y[:B]).backward()


def accumulated(B):
    chunks = [(data_X[i:i + micro], data_y[i:i + micro]) for i in range(0, B, micro)]
    accumulate(chunks, lambda mb: F.cross_entropy(net(mg.tensor(mb[0])), mb[1], reduction="sum"), count=lambda mb: len(mb[1]))


full_peaks = np.array([peak_bytes(lambda: full_batch(B)) for B in batch_sizes])
accum_peaks = np.array([peak_bytes(lambda: accumulated(B)) for B in batch_sizes])
for B, fp, ap in zip(batch_sizes, full_peaks, accum_peaks):
    print(f"B = {B:5d}: full batch {fp / 2**20:6.2f} MiB ({fp / B / 2**10:6.1f} KiB per example)   "
          f"accumulated in {B // micro:2d} x {micro}: {ap / 2**20:5.2f} MiB")

# %% [markdown]
# **CHECK** — (1) the full-batch peak is a straight line in $B$ ($R^2 > 0.99$) whose slope is the
# activation memory per example, so a 16× larger batch needs several times the memory, while the
# memory per example falls; (2) with accumulation ($k \ge 2$) the peak does not grow with $B$ (flat
# within 10%) and from $B = 512$ on it is below the full-batch peak; (3) the accumulated gradient is the
# full-batch gradient to $10^{-12}$.
#
# Why does the accumulated peak sit above the $B = 64$ full-batch peak? At $k = 1$ nothing is
# accumulated. From $k = 2$ on, each micro-batch's gradient is *added* to `.grad`. minigrad's
# autograd adds in place (`grad += new`, as PyTorch does), but the new gradient must exist before
# it can be added, so for the largest weight (512×512, 2 MiB) the running sum and the new
# gradient briefly coexist: one extra buffer of that size. The cost is fixed — it does not grow with $B$.

# %%
slope, intercept = np.polyfit(batch_sizes, full_peaks, 1)
fit = slope * np.array(batch_sizes) + intercept
r2 = 1 - ((full_peaks - fit) ** 2).sum() / ((full_peaks - full_peaks.mean()) ** 2).sum()
print(f"full batch: peak = {intercept / 2**20:.2f} MiB + B x {slope / 2**10:.1f} KiB   (R^2 = {r2:.5f})")
assert r2 > 0.99 and slope > 0
assert full_peaks[-1] > 4 * full_peaks[0]
per_example = full_peaks / np.array(batch_sizes)
assert per_example[-1] < 0.75 * per_example[0]
assert accum_peaks[1:].max() < 1.1 * accum_peaks[1:].min()
assert np.all(accum_peaks[3:] < full_peaks[3:])

net.zero_grad()
full_batch(1024)
reference = flat_grad(params)
net.zero_grad()
accumulated(1024)
assert relative_error(flat_grad(params), reference) < 1e-12

plt.figure(figsize=(6, 3.5))
plt.plot(batch_sizes, full_peaks / 2**20, "o-", label="full batch")
plt.plot(batch_sizes, accum_peaks / 2**20, "s-", label=f"accumulated, micro-batch {micro}")
plt.xlabel("batch size B")
plt.ylabel("peak memory of one step (MiB)")
plt.legend()
plt.show()

# %% [markdown]
# **Takeaways.** Accumulation reproduces the large-batch gradient exactly — if every micro-batch's
# *summed* loss is divided by the global count of examples or tokens, gradients are zeroed once
# before the loop, and clipping happens once after it. Large batches do not save memory: activation
# memory grows linearly with the batch; accumulation is how you get a large batch's gradient on a
# small batch's memory, at the price of sequential passes.

# %% [markdown]
# ## Exercises
#
# Each exercise cell ships with a working answer so the lesson runs from top to bottom. Replace it
# with your own and run the check below it: the check compares with an independent reference and
# fails on a wrong answer.
#
# **Exercise 1 — write the loop yourself.** Without `accumulate`, write
# `accumulate_by_hand(params, micro_batches)` for the language model above: after it returns,
# `.grad` must hold the gradient of the mean loss over all non-ignored tokens of all micro-batches
# (use `lm_loss(params, tokens, targets, reduction=...)`).

# %%
def accumulate_by_hand(params, micro_batches):
    total_tokens = sum(int((t != IGNORE).sum()) for _, t in micro_batches)
    for toks, targs in micro_batches:
        (lm_loss(params, toks, targs, reduction="sum") / total_tokens).backward()


# %% [markdown]
# **Check 1** — for 3 and 5 uneven micro-batches, your `.grad` equals PyTorch's full-batch gradient.

# %%
for k in (3, 5):
    params = new_params()
    accumulate_by_hand(params, split(k))
    assert relative_error(flat_grad(params), full_grad) < 1e-12, k
print("exercise 1: OK")


# %% [markdown]
# **Exercise 2 — predict the spread.** With the $G$ and $\operatorname{tr}\Sigma$ measured above, what
# is $\mathbb E\|\bar g\|^2$ when $k = 16$ micro-batches of $b = 8$ examples are accumulated? Write
# it as a function of `k` and `b`.

# %%
def expected_squared_norm(k, b):
    return G @ G + trace_sigma / (k * b)


# %% [markdown]
# **Check 2** — 2,000 simulated accumulations (averages of per-example gradients over random rows,
# in NumPy) agree with your prediction within 5%, for $k = 16$ and for $k = 1$.

# %%
for k in (16, 1):
    rows = draw_rng.integers(0, len(X_reg), (2000, k * b_micro))
    simulated = example_grads[rows].mean(axis=1)                        # (2000, 5)
    np.testing.assert_allclose((simulated ** 2).sum(1).mean(), expected_squared_norm(k, b_micro), rtol=0.05)
print("exercise 2: OK")
