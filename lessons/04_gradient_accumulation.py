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
