# ---
# jupyter:
#   jupytext:
#     text_representation:
#       extension: .py
#       format_name: percent
# ---

# %% [markdown]
# # 06 · QSGD: sending a gradient in a few bits per coordinate
#
# In data-parallel training every worker sends its gradient every step. A dense float32
# gradient of $n$ parameters is $4n$ bytes, and a ring all-reduce makes each of $p$ workers
# send $2\frac{p-1}{p}\,4n$ bytes per step. QSGD (Alistarh, Grubic, Li, Tomioka, Vojnovic,
# *QSGD: Communication-Efficient SGD via Gradient Quantization and Encoding*, NeurIPS 2017)
# sends a few bits per coordinate instead, and keeps SGD converging because the compressed
# gradient is **unbiased** with a **known variance**.
#
# For a bucket $v$ of $d$ consecutive coordinates and $s$ levels (Sec. 3.1):
# $$Q_s(v_i) = \|v\|_2\,\operatorname{sign}(v_i)\,\frac{\xi_i}{s},\qquad
#   \xi_i = \begin{cases} \ell + 1 & \text{with probability } \frac{s|v_i|}{\|v\|} - \ell\\
#                         \ell & \text{otherwise}\end{cases},\qquad
#   \ell = \Big\lfloor \frac{s|v_i|}{\|v\|}\Big\rfloor .$$
# Then $\mathbb E[\xi_i] = s|v_i|/\|v\|$, so $\mathbb E[Q_s(v)] = v$, and with $p_i$ the
# fractional part of $s|v_i|/\|v\|$
# $$\mathbb E\|Q_s(v) - v\|^2 = \Big(\frac{\|v\|}{s}\Big)^2 \sum_i p_i(1-p_i)
#   \;\le\; \min\Big(\frac{d}{s^2}, \frac{\sqrt d}{s}\Big)\|v\|^2
#   \quad\text{(Lemma 3.1)}.$$
# What goes on the wire is the norm (32 bits) and, for each non-zero $\xi_i$, its sign and the
# integers $\xi_i$ and "distance to the previous non-zero", written with Elias' recursive
# (omega) code, which spends few bits on small integers (Sec. 3.2).
#
# This lesson writes the quantiser out, checks unbiasedness and the variance formula by Monte
# Carlo, builds Elias codes, measures bits per coordinate, and trains a model with 4 simulated
# workers, compressed and not, plotting loss against bytes sent.

# %%
import matplotlib.pyplot as plt
import numpy as np

import minigrad as mg
import minigrad.nn as nn
import minigrad.nn.functional as F
import minigrad.optim
from minigrad.compress import QSGD, NoCompression, TopK, TopKSparsifier, elias
from minigrad.examples.demo import spirals


# %% [markdown]
# ## 1 · The quantiser, written out
#
# One bucket, with the uniform draws `u` passed in so that we can replay the library's draws.
# Rounding up with probability equal to the fractional part is `level += u < fraction`.

# %%
def quantize_bucket(v, s, norm, u):
    # Q_s(v) for one bucket (Alistarh et al. 2017, Sec. 3.1), given the uniform draws u
    if norm == 0:
        return np.zeros_like(v)                 # Q(0) = 0, no 0/0
    ratio = s * np.abs(v) / norm                # in [0, s]
    level = np.floor(ratio)
    level += u < ratio - level                  # up with probability = fractional part
    return norm * np.sign(v) * level / s

rng = np.random.default_rng(0)
v = rng.standard_normal(1024)
s = 4
q = QSGD(s, bucket_size=None, seed=42)          # one bucket for the whole vector
norms, signed_levels = q.quantize(v)
u = np.random.default_rng(42).random((1, v.size))[0]     # the library's own draws, replayed
by_hand = quantize_bucket(v, s, float(norms[0]), u)
print("levels used:", np.unique(np.abs(signed_levels)))

# %% [markdown]
# The library stores the norm as float32 *rounded up* (that is the number that travels, and
# rounding up keeps $s|v_i|/\|v\| \le s$), so we handed the same norm to our version.
#
# **CHECK** — the written-out quantiser and `QSGD` give the same vector.

# %%
np.testing.assert_allclose(q.dequantize(norms, signed_levels), by_hand, rtol=1e-6, atol=0)
assert np.all(np.abs(signed_levels) <= s)
print("hand-written quantiser == minigrad.compress.QSGD: OK")


# %% [markdown]
# ## 2 · Unbiased, with exactly the predicted variance
#
# Draw $T$ independent quantisations. If $\mathbb E[Q] = v$, the mean of $T$ draws misses $v$
# by $\mathbb E\|\bar Q - v\|^2 = V/T$, where $V$ is the exact variance above, so the statistic
# $S = T\,\|\bar Q - v\|^2 / V$ should be close to 1; a bias would make it grow with $T$.
# The Monte-Carlo mean of $\|Q - v\|^2$ should match $V$.

# %%
def exact_variance(v, s):
    norm = np.linalg.norm(v)
    p = np.modf(s * np.abs(v) / norm)[0]        # fractional parts
    return (norm / s) ** 2 * np.sum(p * (1 - p))

T = 2000
samples = np.stack([q.dequantize(*q.quantize(v)) for _ in range(T)]).astype(np.float64)
V = exact_variance(v, s)
S = T * np.sum((samples.mean(axis=0) - v) ** 2) / V
monte_carlo = np.mean(np.sum((samples - v) ** 2, axis=1))
print(f"S = {S:.3f}   Monte-Carlo variance {monte_carlo:.3f}   exact {V:.3f}   "
      f"Lemma 3.1 bound {min(v.size / s**2, np.sqrt(v.size) / s) * v @ v:.1f}")

# %% [markdown]
# **CHECK** — unbiased ($0.85 \le S \le 1.15$), variance within 2% of the closed form, and under
# the Lemma 3.1 bound.

# %%
assert 0.85 <= S <= 1.15
assert abs(monte_carlo / V - 1) < 0.02
assert V <= min(v.size / s**2, np.sqrt(v.size) / s) * (v @ v)
assert abs(q.variance(v) / V - 1) < 1e-6        # the library's own formula agrees
print("unbiased, variance = (||v||/s)^2 sum p(1-p), under Lemma 3.1: OK")

# %% [markdown]
# More levels, less noise: the variance falls like $1/s^2$ once $s \gtrsim \sqrt d$ and like
# $1/s$ before. The plot compares Monte Carlo (dots), the exact formula (line) and the bound.

# %%
levels = [1, 2, 4, 8, 16, 32, 64, 128]
measured, exact = [], []
for s_ in levels:
    q_ = QSGD(s_, None, seed=s_)
    draws = np.stack([q_.dequantize(*q_.quantize(v)) for _ in range(200)]).astype(np.float64)
    measured.append(np.mean(np.sum((draws - v) ** 2, axis=1)))
    exact.append(exact_variance(v, s_))
bound = [min(v.size / s_**2, np.sqrt(v.size) / s_) * (v @ v) for s_ in levels]
plt.figure(figsize=(5, 3.5))
plt.loglog(levels, exact, "-", label="exact $(\\|v\\|/s)^2\\sum p_i(1-p_i)$")
plt.loglog(levels, measured, "o", label="Monte Carlo (200 draws)")
plt.loglog(levels, bound, "--", label="Lemma 3.1 bound")
plt.xlabel("levels s"); plt.ylabel("E||Q(v) - v||^2"); plt.legend(); plt.title("n = d = 1024")
plt.show()
assert all(abs(m / e - 1) < 0.1 for m, e in zip(measured, exact))

# %% [markdown]
# ### Why every worker needs its own random stream
#
# Averaging $p$ independent quantisations divides the variance by $p$. If every worker used the
# same seed, their rounding decisions would coincide and the average would be as noisy as one
# worker's. (`QSGD(seed=None)` seeds from fresh OS entropy; with a fixed seed, give rank $r$
# `seed + r`.)

# %%
p = 4
def spread_of_average(seeds, trials=300):
    qs = [QSGD(4, None, seed=seed, world_size=p) for seed in seeds]
    errors = [np.sum((sum(q_.dequantize(*q_.quantize(v)).astype(np.float64) for q_ in qs) - v) ** 2)
              for _ in range(trials)]
    return np.mean(errors)

independent, shared = spread_of_average([10, 11, 12, 13]), spread_of_average([10, 10, 10, 10])
print(f"variance of the 4-worker average: independent seeds {independent:.3f}, "
      f"shared seed {shared:.3f}, one worker {V:.3f}")
assert abs(independent / (V / p) - 1) < 0.15     # V / p
assert abs(shared / V - 1) < 0.15                # no reduction at all


# %% [markdown]
# ## 3 · Elias omega codes
#
# To send an integer $N \ge 1$ whose size the receiver does not know, Elias' omega code writes
# $N$ in binary and, in front of it, recursively, the number of bits minus one, until that
# number is 1; a final `0` ends the code:
# $$\omega(1) = 0,\quad \omega(2) = 10\,0,\quad \omega(4) = 10\,100\,0,\quad
#   \omega(16) = 10\,100\,10000\,0 .$$
# A reader starts with $N = 1$; while the next bit is 1 it reads $N + 1$ bits as the new $N$.
# The length is $1 + \lfloor\log_2 N\rfloor + 1 + \dots \approx \log_2 N + \log_2\log_2 N$:
# one bit for $N = 1$, which is by far QSGD's most common level and gap.

# %%
def omega(n):
    code = "0"
    while n > 1:
        group = bin(n)[2:]
        code = group + code
        n = len(group) - 1
    return code

values = np.arange(1, 18)
codes, lengths = elias.omega_encode(values)
for value, c, length in zip(values, codes, lengths):
    print(f"{value:3d}  {format(int(c), 'b').zfill(int(length)):>12}")

# %% [markdown]
# **CHECK** — `elias.omega_encode` (vectorised: all values at once) agrees with the definition,
# including the test vectors of the issue, and decodes back.

# %%
assert [format(int(c), "b").zfill(int(n)) for c, n in zip(codes, lengths)] == [omega(int(x)) for x in values]
assert omega(7) == "101110" and omega(8) == "1110000" and omega(16) == "10100100000"
big = np.random.default_rng(1).integers(1, 2**39, 1000)
stream, ends = elias.pack_codes(*elias.omega_encode(big))
reader, pos, decoded = elias.BitReader(stream), np.array([0]), []
for _ in range(5):                               # read the first few codes back, one by one
    value, pos = reader.omega(pos)
    decoded.append(int(value[0]))
assert decoded == big[:5].tolist() and int(ends[-1]) == sum(len(omega(int(x))) for x in big)
print("omega codes: OK")

# %% [markdown]
# ### A payload, bit by bit
#
# Quantise 12 numbers with $s = 2$ and look at the bytes. After a 30-byte header (sizes, levels,
# world size, a CRC-32) and the 4-byte norm, each non-zero costs
# $\omega(\text{gap})\,|\,\text{sign}\,|\,\omega(\text{level})$.

# %%
x = np.array([0.1, -2.0, 0.0, 0.3, 1.5, 0.0, 0.0, -0.2, 0.9, 0.0, 0.05, -1.1], np.float32)
q2 = QSGD(2, None, seed=3)
payload = q2.compress(x)
_, signed = QSGD(2, None, seed=3).quantize(x)    # the same draws, as integers
where = np.flatnonzero(signed)
gaps = np.diff(where, prepend=-1)
records = [omega(int(g)) + ("1" if l < 0 else "0") + omega(abs(int(l))) for g, l in zip(gaps, signed[where])]
bits = "".join(format(b, "08b") for b in payload[34:])
print("signed levels:", signed.tolist())
print("records      :", " | ".join(records))
print("code bytes   :", bits)
assert bits.startswith("".join(records)) and len(bits) - len("".join(records)) < 8
assert np.array_equal(q2.decompress(payload), QSGD(2, None, seed=3).dequantize(*QSGD(2, None, seed=3).quantize(x)))


# %% [markdown]
# ## 4 · Bits per coordinate against $s$ and $d$
#
# On a real gradient (an MLP on synthetic data) the payload costs a fraction of float32's 32
# bits. Smaller buckets $d$ mean more norms to send but less variance; more levels $s$ mean
# more bits and less variance. For one bucket ($d = n$) and $s = \sqrt n$ the paper bounds the
# expected length of its code by $2.8n + 32$ bits (Alistarh et al. 2017, Corollary 3.3). That is a
# bound for **every** vector $v$ — the expectation is over QSGD's random rounding, not over the data —
# and at that $s$ the variance is at most $\|v\|^2$ (Lemma 3.1 with $d = s^2$).

# %%
def mlp_gradient(seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((256, 64)).astype(np.float32)
    y = np.argmax(X @ rng.standard_normal((64, 10)), axis=1)
    mg.manual_seed(seed)
    net = nn.Sequential(nn.Linear(64, 256), nn.ReLU(), nn.Linear(256, 10))
    F.cross_entropy(net(mg.tensor(X)), y).backward()
    return np.concatenate([p.grad.numpy().ravel() for p in net.parameters()])

g = mlp_gradient()
n = g.size
levels = [1, 2, 4, 8, 16, 64, 256]
fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 3.5))
for d in [128, 512, None]:
    bits, noise = [], []
    for s_ in levels:
        q_ = QSGD(s_, d, seed=0)
        bits.append(8 * q_.compress(g).nbytes / n)
        noise.append(q_.variance(g) / (g.astype(np.float64) @ g))
    ax1.semilogx(levels, bits, "o-", label=f"d = {d or n}")
    ax2.loglog(bits, noise, "o-", label=f"d = {d or n}")
ax1.axhline(32, color="gray", ls=":", label="float32")
ax1.set_xlabel("levels s"); ax1.set_ylabel("bits per coordinate"); ax1.legend()
ax2.set_xlabel("bits per coordinate"); ax2.set_ylabel("variance / ||g||^2"); ax2.legend()
fig.suptitle(f"QSGD on an MLP gradient, n = {n:,}")
plt.show()

# %% [markdown]
# **CHECK** — we measure on Gaussian vectors (one choice of test input; the bound claims every
# input). At $s = \sqrt n$ the norm plus codes stay under the paper's $2.8n + 32$ bits (we subtract
# our 30-byte header and the chunk offset table, 16 bits per chunk of records, which let the
# decoder run without a Python loop per record), and the whole payload stays under $3n + 32$ bits
# once $n \ge 4096$.

# %%
from minigrad.compress.records import records_per_chunk
for n_ in [1024, 4096, 16384]:
    v_ = np.random.default_rng(n_).standard_normal(n_).astype(np.float32)
    q_ = QSGD(int(np.sqrt(n_)), None, seed=1)
    payload = q_.compress(v_)
    nonzeros = np.count_nonzero(QSGD(int(np.sqrt(n_)), None, seed=1).quantize(v_)[1])
    table = 16 * (-(-nonzeros // records_per_chunk(nonzeros)) - 1)
    code_bits = 8 * payload.nbytes - 8 * 30 - table
    print(f"n = {n_:6d}: code {code_bits / n_:.3f} bits/coord, whole payload {8 * payload.nbytes / n_:.3f}")
    assert code_bits <= 2.8 * n_ + 32
    assert n_ < 4096 or 8 * payload.nbytes <= 3 * n_ + 32

# %% [markdown]
# ## 5 · Training with compressed gradients
#
# Four workers each hold a quarter of the spirals data set (`minigrad.examples.demo`). Every step
# each worker computes its gradient, compresses it, the payloads are all-gathered, and every
# worker decodes and adds them **in rank order** — exactly what DDP's communication hook
# `model.register_comm_hook(compressor, minigrad.distributed.comm_hooks.compressor_hook)` does over
# MPI, where each worker is a process (`mpiexec -n 4 python train.py`). Here the four workers live in one
# process, which runs anywhere and gives the same arithmetic: each worker has its own compressor
# (its own random stream for QSGD, its own error-feedback memory for TopK), and
# `compressor.aggregate(payloads)` is the very call DDP makes.
#
# Bytes sent per worker per step: the dense ring all-reduce sends $2\frac{p-1}{p}4n$; an all-gather
# of $m$-byte payloads sends $(p-1)m$. Compression pays only if $4n/m > p/2$.

# %%
X, y = spirals()
p = 4
shards = [(mg.tensor(X[r::p].astype(np.float32)), y[r::p]) for r in range(p)]

def train(make_compressor, steps=150, lr=0.5, momentum=0.9):
    # returns (loss per step, cumulative bytes sent by one worker, number of parameters)
    mg.manual_seed(0)
    net = nn.Sequential(nn.Linear(2, 32), nn.Tanh(), nn.Linear(32, 32), nn.Tanh(), nn.Linear(32, 3))
    params = list(net.parameters())
    n = sum(p_.data.size for p_ in params)
    opt = minigrad.optim.SGD(params, lr=lr, momentum=momentum)
    workers = [make_compressor(rank) for rank in range(p)]
    losses, sent, total = [], [], 0
    for step in range(steps):
        payloads, loss = [], 0.0
        for compressor, (X_r, y_r) in zip(workers, shards):
            opt.zero_grad()
            l = F.cross_entropy(net(X_r), y_r)
            l.backward()
            loss += l.item() / p                  # equal shards: the mean is the full loss
            flat = np.concatenate([p_.grad.data.ravel() for p_ in params])
            payloads.append(compressor.compress(flat, key="all"))
        mean = workers[0].aggregate(payloads)      # decode + add in rank order
        offsets = np.cumsum([0] + [p_.data.size for p_ in params])
        for p_, a, b in zip(params, offsets, offsets[1:]):
            p_.grad.data = mean[a:b].reshape(p_.shape)
        opt.step()
        dense = isinstance(workers[0], NoCompression)
        total += 2 * (p - 1) / p * 4 * n if dense else (p - 1) * payloads[0].nbytes
        losses.append(loss)
        sent.append(total)
    return np.array(losses), np.array(sent), n

runs = {
    "dense fp32 (ring all-reduce)": train(lambda r: NoCompression(world_size=p)),
    "QSGD s=16, d=512": train(lambda r: QSGD(16, 512, seed=100 + r, world_size=p)),
    "QSGD s=2, d=512": train(lambda r: QSGD(2, 512, seed=200 + r, world_size=p)),
    "QSGD s=1, d=512": train(lambda r: QSGD(1, 512, seed=300 + r, world_size=p)),
    "TopK 10% + error feedback": train(lambda r: TopK(0.10, world_size=p)),
}
fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 3.8))
for name, (losses, sent, n) in runs.items():
    ax1.semilogy(losses, label=name)
    ax2.loglog(sent / 2**10, losses, label=name)
ax1.set_xlabel("step"); ax1.set_ylabel("training loss"); ax1.legend(fontsize=8)
ax2.set_xlabel("KiB sent per worker"); ax2.set_ylabel("training loss")
fig.suptitle(f"spirals MLP, n = {n:,} parameters, 4 workers")
plt.show()
for name, (losses, sent, n) in runs.items():
    print(f"{name:30s} final loss {losses[-10:].mean():.4f}   KiB sent {sent[-1] / 2**10:8.1f}")

# %% [markdown]
# **CHECK** — QSGD with $s = 16$, $d = 512$ ends within 5% of the uncompressed loss (mean of the
# last 10 steps) while sending at most a quarter of the dense ring's bytes (which already puts its
# compression ratio far past the break-even $p/2$); and $s = 1$, whose variance bound is
# $\sqrt{512} \approx 23$ times $\|g\|^2$, ends at least twice as high as dense: the levels matter.

# %%
dense_loss, dense_sent, n = runs["dense fp32 (ring all-reduce)"]
qsgd_loss, qsgd_sent, _ = runs["QSGD s=16, d=512"]
assert qsgd_loss[-10:].mean() <= 1.05 * dense_loss[-10:].mean()
assert qsgd_sent[-1] <= dense_sent[-1] / 4
ratio = 4 * n / (qsgd_sent[-1] / (p - 1) / len(qsgd_sent))     # 4n / average payload bytes
assert runs["QSGD s=1, d=512"][0][-10:].mean() > 2 * dense_loss[-10:].mean()
print(f"QSGD s=16: {qsgd_sent[-1] / dense_sent[-1]:.1%} of the dense bytes, ratio {ratio:.1f} > p/2 = {p / 2}")

# %% [markdown]
# With $s = 1$ and $d = 512$ the variance can reach $\sqrt{512} \approx 23$ times $\|g\|^2$
# (Lemma 3.1): at this learning rate that noise is too much. Top-k sends more bytes here because
# an index and a float32 value cost 64 bits per kept coordinate.
#
# ## 6 · Top-k needs its error feedback
#
# Top-k is *biased*: the coordinates it drops are simply gone — unless the worker keeps them and adds
# them to the next gradient (error feedback; Lin et al. 2018, Sec. 3.1; Karimireddy et al. 2019):
# $$a_t = g_t + e_{t-1},\qquad 	ext{sent}_t = \operatorname{top}_k(a_t),\qquad e_t = a_t - 	ext{sent}_t,$$
# so that nothing is lost, only delayed: $\sum_{t \le T} \text{sent}_t + e_T = \sum_{t \le T} g_t$.
# The ablation below trains with `TopK` keeping 1% of the coordinates, once with its memory and once
# with a subclass that forgets the residual before every step, with plain SGD (no momentum, lr 1).
#
# Why no momentum? With momentum 0.9 and lr 0.5 as above, keeping 1–2% *with* error feedback made
# this run diverge in our trials: the residual releases old gradient mass in bursts, and momentum
# amplifies each burst. Deep Gradient Compression (Lin et al. 2018, Sec. 3.2, "momentum
# correction") accumulates the *velocity* instead of the gradient for this reason; minigrad's
# `TopK` is plain error feedback, `ErrorFeedback(TopKSparsifier(ratio))`, so we show it with plain
# SGD (lesson 13 builds DGC). `TopKSparsifier` alone is the ablation: Top-k with no memory.

# %%
ablation = {
    "dense fp32": train(lambda r: NoCompression(world_size=p), lr=1.0, momentum=0.0),
    "TopK 1% + error feedback": train(lambda r: TopK(0.01, world_size=p), lr=1.0, momentum=0.0),
    "TopK 1%, no error feedback": train(lambda r: TopKSparsifier(0.01, world_size=p), lr=1.0, momentum=0.0),
}
plt.figure(figsize=(6, 3.5))
for name, (losses, _, _) in ablation.items():
    plt.semilogy(losses, label=name)
plt.xlabel("step"); plt.ylabel("training loss"); plt.legend(); plt.title("plain SGD, lr = 1, 4 workers")
plt.show()
final = {name: losses[-10:].mean() for name, (losses, _, _) in ablation.items()}
for name, value in final.items():
    print(f"{name:28s} final loss {value:.4f}")

# telescoping: what one worker sent over 50 steps plus its residual is what it was given
ef, ef_rng = TopK(0.01), np.random.default_rng(5)
given = ef_rng.standard_normal((50, 1000))
sent = sum(ef.decompress(ef.compress(g_t, key="w")).astype(np.float64) for g_t in given)

# %% [markdown]
# **CHECK** — error feedback loses nothing (sent + residual = the sum of the gradients, to float32
# rounding of what was sent); with it, Top-k at 1% ends within 25% of the dense loss; without it,
# the loss ends at least twice as high. Remove error feedback from `TopK` and these fail.

# %%
np.testing.assert_allclose(sent + ef.residuals["w"], given.sum(axis=0), rtol=0, atol=1e-9)
assert final["TopK 1% + error feedback"] <= 1.25 * final["dense fp32"]
assert final["TopK 1%, no error feedback"] >= 2 * final["TopK 1% + error feedback"]
print("error feedback: OK")

# %% [markdown]
#
# ## Summary
#
# * QSGD rounds $s|v_i|/\|v\|$ up or down at random so that $\mathbb E[Q(v)] = v$, with variance
#   exactly $(\|v\|/s)^2\sum p_i(1-p_i) \le \min(d/s^2, \sqrt d/s)\|v\|^2$.
# * Elias omega codes make the common small levels and gaps cost one to a few bits; about
#   $2.8$ bits per coordinate at $s = \sqrt n$, far fewer at small $s$.
# * Each worker needs its own random stream, or averaging stops reducing the noise.
# * Compressed payloads are all-gathered, not all-reduced, so compression pays when the ratio
#   beats $p/2$ (`python -m minigrad.examples.compress_report` prints the table for a real gradient).

# %% [markdown]
# ## Exercises
#
# Each exercise cell ships with a working answer so the lesson runs from top to bottom. Replace it
# with your own and run the check below it: the check compares with an independent reference and
# fails on a wrong answer.
#
# **Exercise 1 — how many non-zeros?** The payload's size is driven by the number of non-zero
# levels. Write `expected_nonzeros(v, s)`: the expected number of non-zero $\xi_i$ for one bucket
# $v$ (no loop over coordinates).

# %%
def expected_nonzeros(v, s):
    ratio = s * np.abs(v) / np.linalg.norm(v)
    return np.minimum(ratio, 1.0).sum()        # zero only if l = 0 and the coin says "down"


# %% [markdown]
# **Check 1** — over 400 quantisations by `QSGD`, the average count of non-zeros matches your
# expectation within 1% for $s = 1, 4, 32$, and stays under Lemma 3.1's bound $s(s + \sqrt d)$.

# %%
for s_ in (1, 4, 32):
    q_ = QSGD(s_, None, seed=7)
    counts = [np.count_nonzero(q_.quantize(v)[1]) for _ in range(400)]
    np.testing.assert_allclose(np.mean(counts), expected_nonzeros(v, s_), rtol=0.01)
    assert expected_nonzeros(v, s_) <= s_ * (s_ + np.sqrt(v.size))
print("exercise 1: OK")


# %% [markdown]
# **Exercise 2 — the length of an Elias omega code.** Write `omega_length(n)` for an integer array
# `n >= 1`: the number of bits of $\omega(n)$, using only integer arithmetic on whole arrays (no
# strings, no loop over the values; a loop over the few levels of the recursion is fine).

# %%
def omega_length(n):
    n = np.asarray(n, dtype=np.int64)
    length = np.ones_like(n)                   # the final 0
    while np.any(n > 1):
        bits = np.frexp(n.astype(np.float64))[1]  # binary length of n (exact below 2**53)
        length += np.where(n > 1, bits, 0)
        n = np.where(n > 1, bits - 1, 1)
    return length


# %% [markdown]
# **Check 2** — your lengths equal the definition (`omega` above) for 1..2000 and the library's
# encoder for 5,000 random values up to $2^{39}$.

# %%
small = np.arange(1, 2001)
assert np.array_equal(omega_length(small), [len(omega(int(x))) for x in small])
assert np.array_equal(omega_length(big), elias.omega_encode(big)[1])
big_more = np.random.default_rng(9).integers(1, 2**39, 5000)
assert np.array_equal(omega_length(big_more), elias.omega_encode(big_more)[1])
print("exercise 2: OK")
