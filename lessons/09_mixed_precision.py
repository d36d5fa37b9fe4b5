# ---
# jupyter:
#   jupytext:
#     text_representation:
#       extension: .py
#       format_name: percent
# ---

# %% [markdown]
# # 09 · Mixed precision: float16, bfloat16 and dynamic loss scaling
#
# Training in 16-bit floats halves the bytes of every value and, on hardware built for it, multiplies
# the arithmetic throughput. Micikevicius et al. 2018 ("Mixed Precision Training", ICLR) give the
# recipe that makes it work: **(1)** keep a float32 *master copy* of the weights and apply updates
# there; **(2)** run forward and backward on a float16 copy; **(3)** multiply the loss by a scale $S$
# before backward so small gradients do not underflow, and divide by $S$ before the update.
#
# Claims often repeated about it: "no accuracy loss" and "halves memory". This lesson measures both.
#
# | format | bits (sign/exp/mantissa) | largest | smallest normal | smallest subnormal | spacing at 1 |
# |---|---|---|---|---|---|
# | float32 | 1/8/23 | $3.4\cdot10^{38}$ | $2^{-126}$ | $2^{-149}$ | $2^{-23}$ |
# | float16 | 1/5/10 | $65504$ | $2^{-14}$ | $2^{-24}\approx 6\cdot10^{-8}$ | $2^{-10}$ |
# | bfloat16 | 1/8/7 | $3.4\cdot10^{38}$ | $2^{-126}$ | $2^{-133}$ | $2^{-7}$ |
#
# float16 trades range for precision; bfloat16 (Kalamkar et al. 2019) keeps float32's range and
# keeps only 8 significant bits. NumPy has float16 but no bfloat16, so minigrad stores bf16 values in
# float32 arrays whose low 16 bits are zero, rounding to nearest-even on the bit pattern
# (`minigrad.amp.round_to_bfloat16`).

# %%
import time
import tracemalloc

import matplotlib.pyplot as plt
import numpy as np
import torch

import minigrad as mg
import minigrad.nn as nn
import minigrad.nn.functional as F
from minigrad import amp, optim
from minigrad.autograd import grad as autograd_grad

torch.set_num_threads(1)
rng = np.random.default_rng(0)

# %% [markdown]
# **CHECK — the table.** float16's limits from NumPy equal PyTorch's; bfloat16's, computed from our
# rounding, equal `torch.finfo(torch.bfloat16)`; and our rounding agrees bit for bit with PyTorch on
# values chosen to be exact ties, subnormals and overflow.

# %%
f16 = np.finfo(np.float16)
assert float(f16.max) == torch.finfo(torch.float16).max == 65504
assert float(f16.smallest_subnormal) == 2.0**-24 and float(f16.eps) == torch.finfo(torch.float16).eps
bf = amp.round_to_bfloat16
bf16_eps = float(bf(np.float32([1 + 2**-7]))[0] - 1)                 # the next bf16 after 1
bf16_max = float(bf(np.float32([3.3895314e38]))[0])                     # (2 - 2^-7) 2^127
assert bf16_eps == torch.finfo(torch.bfloat16).eps and bf16_max == torch.finfo(torch.bfloat16).max
probe = np.float32([1 + 2**-8, 1 + 3 * 2**-8, -(1 + 2**-8), 2.0**-130, 3.39e38, 1e-45, np.inf, 0.1])
ours = bf(probe)
theirs = torch.from_numpy(probe).to(torch.bfloat16).float().numpy()
assert np.array_equal(ours.view(np.uint32), theirs.view(np.uint32))
print("ties go to even:", ours[:3], " 3.39e38 ->", ours[4], " 0.1 ->", ours[7])

# %% [markdown]
# The spacing between neighbours grows with the magnitude: relative to the value it is constant
# ($2^{-10}$ for fp16, $2^{-7}$ for bf16) until fp16 leaves its normal range below $2^{-14}$, where the
# spacing stays at $2^{-24}$ and relative precision falls off a cliff.

# %%
magnitudes = 2.0 ** np.arange(-30, 17, 0.25)
relative_spacing = {
    "float32": np.spacing(magnitudes.astype(np.float32)) / magnitudes,
    "float16": np.spacing(magnitudes.astype(np.float16)).astype(np.float64) / magnitudes,
    "bfloat16": 2.0 ** (np.floor(np.log2(magnitudes)) - 7) / magnitudes,
}
fig, ax = plt.subplots(figsize=(6, 3))
for name, spacing in relative_spacing.items():
    ax.loglog(magnitudes, spacing, label=name, base=2)
ax.axvline(2.0**-24, color="gray", ls=":")
ax.set_xlabel("|x|")
ax.set_ylabel("spacing / |x|")
ax.legend()
plt.show()

# %% [markdown]
# ## What underflows: the gradients of a real network
#
# A 3-hidden-layer MLP trained in float32 to a low loss on a synthetic 10-class task. Micikevicius et
# al. (§3.2, Fig. 3) plot the exponents of *activation* gradients of a real network: most of them lie
# below float16's normal range and a large share below its smallest subnormal, where they become 0.
# We take the gradient of the loss with respect to every layer's output, in float32.

# %%
D, C, N = 32, 10, 4096
W_true = rng.standard_normal((D, C)).astype(np.float32)
X = rng.standard_normal((N, D)).astype(np.float32)
y = (X @ W_true + 0.5 * rng.standard_normal((N, C))).argmax(1)


def make_mlp(width, seed=0):
    mg.manual_seed(seed)
    return nn.Sequential(nn.Linear(D, width), nn.ReLU(), nn.Linear(width, width), nn.ReLU(),
                         nn.Linear(width, width), nn.ReLU(), nn.Linear(width, C))


net = make_mlp(128)
opt = optim.Adam(net.parameters(), lr=1e-3)
for step in range(400):
    idx = rng.integers(0, N, 256)
    loss = F.cross_entropy(net(mg.tensor(X[idx])), y[idx])
    opt.zero_grad()
    loss.backward()
    opt.step()
print(f"float32 training loss after 400 steps: {loss.item():.4f}")

batch = 1024
h, outputs = mg.tensor(X[:batch]), []
for layer in net:
    h = layer(h)
    outputs.append(h)
activation_grads = autograd_grad(F.cross_entropy(h, y[:batch]), outputs)
g = np.concatenate([a.data.ravel() for a in activation_grads])
g = np.abs(g[g != 0])
below_subnormal = (g < 2.0**-24).mean()
below_normal = (g < 2.0**-14).mean()
print(f"{g.size} nonzero activation gradients; below 2^-24 (zero in fp16): {below_subnormal:.1%}; "
      f"below 2^-14 (fp16 subnormal or zero): {below_normal:.1%}; largest {g.max():.2e}")

fig, ax = plt.subplots(figsize=(6, 3))
ax.hist(np.log2(g), bins=80)
for edge, label in [(-24, "fp16 min subnormal"), (-14, "fp16 min normal")]:
    ax.axvline(edge, color="red", ls="--")
    ax.text(edge, ax.get_ylim()[1] * 0.9, label, rotation=90, ha="right")
ax.set_xlabel("log2 |activation gradient|")
plt.show()

# %% [markdown]
# **Loss scaling.** Multiplying the loss by $S$ multiplies every gradient of the backward pass by $S$
# (chain rule), so the whole histogram shifts right by $\log_2 S$. It must shift enough to leave the
# underflow zone, and not so far that the largest gradient passes 65504. We take the largest power
# of two that keeps the largest gradient below 65504.
#
# **CHECK** — scaling moves most of the flushed gradients back into float16's range without
# overflowing any, and a real float16 backward pass (`amp.ComputeCopy`) shows the same thing on the
# weight gradients: with $S=1$ some become exactly zero, with the scale fewer do, none are inf.

# %%
S = 2.0 ** np.floor(np.log2(65504 / g.max()))
still_lost = (g * S < 2.0**-24).mean()
assert below_subnormal > 0.2                                    # a real share would vanish in fp16
assert still_lost < below_subnormal / 4 and g.max() * S < 65504
print(f"S = 2^{np.log2(S):.0f}: {still_lost:.2%} still below 2^-24 (was {below_subnormal:.1%}), "
      f"largest {g.max() * S:.0f}")

def float16_activation_grads(scale):
    """The same network run in float16 by hand; d(scale * loss)/d(layer outputs), divided by scale."""
    h, outs = mg.tensor(X[:batch]).astype(np.float16), []
    for layer in net:
        h = mg.linear(h, layer.weight.astype(np.float16), layer.bias.astype(np.float16)) \
            if isinstance(layer, nn.Linear) else layer(h)
        outs.append(h)
    loss = F.cross_entropy(h.astype(np.float32), y[:batch]) * scale
    grads = autograd_grad(loss, outs)
    assert all(gr.dtype == np.float16 for gr in grads)
    return np.concatenate([gr.data.astype(np.float32).ravel() for gr in grads]) / scale


g_ref = np.concatenate([a.data.ravel() for a in activation_grads])
lost = {}
for scale in (1.0, S):
    g16 = float16_activation_grads(scale)
    assert np.isfinite(g16).all()
    lost[scale] = ((g16 == 0) & (g_ref != 0)).sum() / (g_ref != 0).sum()
    print(f"float16 backward with S = 2^{np.log2(scale):.0f}: {lost[scale]:.1%} of the nonzero activation "
          "gradients came out as 0")
assert lost[1.0] > 0.2 and lost[S] < lost[1.0] / 4

# %% [markdown]
# The *weight* gradients suffer much less than this suggests: each is a sum over the batch, dominated
# by its largest terms, which survive. But a layer whose activation gradients are mostly flushed
# stops learning from the examples it already fits, and deeper networks push the histogram further
# left; that is the failure loss scaling prevents.
#
# ## The dynamic loss scaler, step by step against PyTorch
#
# A fixed $S$ is fragile: gradients change scale during training. `GradScaler` starts high, halves
# $S$ and **skips the step** whenever a gradient is inf/NaN, and doubles it after `growth_interval`
# clean steps (Micikevicius et al. §3.2; the schedule is PyTorch's). Below, an fp16 training run
# drives minigrad's scaler, and a `torch.amp.GradScaler` is fed the very same scaled gradients.
#
# **CHECK** — the two scales agree at every step, and so do the skipped steps.

# %%
width, steps = 64, 150
model = make_mlp(width, seed=1)
copy16 = amp.ComputeCopy(model, "float16")
opt = optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
scaler = amp.GradScaler(init_scale=2.0**24, growth_interval=25)
twin_params = [torch.tensor(p.data.copy(), requires_grad=True) for p in model.parameters()]
twin_opt = torch.optim.SGD(twin_params, lr=0.05, momentum=0.9)
twin_scaler = torch.amp.GradScaler("cpu", init_scale=2.0**24, growth_interval=25)
trace, twin_trace, skipped = [], [], []
for step in range(steps):
    idx = rng.integers(0, N, 128)
    loss = F.cross_entropy(copy16(mg.tensor(X[idx])), y[idx])
    opt.zero_grad()
    scaler.scale(loss).backward()
    for p, t in zip(model.parameters(), twin_params):
        t.grad = torch.from_numpy(p.grad.data.copy())            # the same scaled gradients
    twin_scaler.scale(torch.ones(()))                             # (starts PyTorch's scale on first use)
    before = model[0].weight.data.copy()
    scaler.step(opt)
    twin_scaler.step(twin_opt)
    scaler.update()
    twin_scaler.update()
    trace.append(scaler.get_scale())
    twin_trace.append(twin_scaler.get_scale())
    skipped.append(np.array_equal(before, model[0].weight.data))
assert trace == twin_trace
print(f"{sum(skipped)} skipped steps (of {steps}); scale went {trace[0]:.0f} -> {trace[-1]:.0f}")
plt.figure(figsize=(6, 2.5))
plt.semilogy(trace, base=2, label="minigrad")
plt.semilogy(twin_trace, "--", base=2, label="torch")
plt.xlabel("step")
plt.ylabel("loss scale")
plt.legend()
plt.show()

# %% [markdown]
# ## "No accuracy loss"? Four runs from the same initial weights
#
# float32; float16 with fp32 masters and dynamic scaling (the paper's recipe); float16 without loss
# scaling; bfloat16 (no scaling: same range as float32). Same batches, same optimizer.
#
# **CHECK** — the recipe's final loss is within 0.02 of float32's on this task (the loss starts near
# 2.3). That is "no *measurable* loss here", not a theorem: the paper reports matching accuracy across
# many networks *with* masters and loss scaling, and shows runs that degrade without them.

# %%
def train_run(mode, steps=200, width=64):
    model = make_mlp(width, seed=2)
    compute = model if mode == "float32" else amp.ComputeCopy(model, "bfloat16" if mode == "bfloat16" else "float16")
    opt = optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    scaler = amp.GradScaler(enabled=mode == "float16 + scaling", growth_interval=50)
    batches = np.random.default_rng(7)
    for step in range(steps):
        idx = batches.integers(0, N, 128)
        loss = F.cross_entropy(compute(mg.tensor(X[idx])), y[idx])
        opt.zero_grad()
        scaler.scale(loss).backward()
        scaler.step(opt)
        scaler.update()
    return F.cross_entropy(model(mg.tensor(X)), y).item()


final = {mode: train_run(mode) for mode in ("float32", "float16 + scaling", "float16, no scaling", "bfloat16")}
for mode, value in final.items():
    print(f"{mode:>20}: final full-data loss {value:.4f}")
assert abs(final["float16 + scaling"] - final["float32"]) < 0.02

# %% [markdown]
# On this shallow network even the unscaled float16 run ends close to float32 (compare the numbers
# above): its *weight* gradients lost little, as the next paragraphs explain. bf16 needs no scaling
# at all (float32's range), but keeps only 8 significant bits, so its forward pass is the noisiest
# of the three; its loss here is within the same margin.

# %% [markdown]
# ## Why the master weights: an update smaller than half an ulp is lost
#
# Near a weight of magnitude 1 float16's spacing is $2^{-10} \approx 10^{-3}$. An update
# $\eta g = 10^{-4}$ added *in float16* rounds back to the old weight (Micikevicius et al. §3.1).
#
# **CHECK** — we count, over the weights of the trained model and one real update, how many updates
# float16 arithmetic would lose entirely; in float32 (the master copy) none is lost.

# %%
w = np.concatenate([p.data.ravel() for p in net.parameters()])
update = 1e-3 * np.concatenate([p.grad.data.ravel() for p in net.parameters()])
nonzero = update != 0
lost16 = ((w.astype(np.float16) - update.astype(np.float16)) == w.astype(np.float16)) & nonzero
lost32 = ((w - update) == w) & nonzero
print(f"updates lost when applied in float16: {lost16.mean():.1%}; in float32: {lost32.mean():.4%}")
assert lost16.mean() > 0.5 and lost32.mean() < 0.01

# %% [markdown]
# ## "Halves memory"? Measured
#
# Per parameter, the recipe stores a float32 master (4 B), a float16 copy (2 B) and a float32 gradient
# (4 B), plus the optimizer's state: *more* than float32 training's 4 + 4 B. What does halve is each
# **activation** saved for backward (2 B instead of 4), and activations dominate at large batch. We
# measure the peak of NumPy allocations during one forward + backward with `tracemalloc`.
#
# And speed: NumPy has **no float16 BLAS**. Its float16 matmul is a plain loop converting each
# element, far slower than float32 through OpenBLAS. The speed-up of mixed precision exists only on
# hardware with 16-bit matrix units (NVIDIA tensor cores since Volta; bf16 on Ampere and later,
# accumulating in float32) where 16-bit matmuls run at several times the float32 rate. On a CPU
# without such units, mixed precision here is a way to *study* the numerics, not to go faster.
#
# **CHECK** — the activations of the float16 step take about half the float32 step's bytes; the
# float16 step is *slower* on this CPU.

# %%
def peak_bytes_and_time(compute, X_big, y_big):
    tracemalloc.start()
    start = time.perf_counter()
    F.cross_entropy(compute(mg.tensor(X_big)), y_big).backward()
    elapsed = time.perf_counter() - start
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return peak, elapsed


X_big, y_big = X[:1024], y[:1024]
wide = make_mlp(128)
param_bytes = sum(p.data.nbytes for p in wide.parameters())
peak32, time32 = peak_bytes_and_time(wide, X_big, y_big)
wide.zero_grad()
peak16, time16 = peak_bytes_and_time(amp.ComputeCopy(wide, "float16"), X_big, y_big)
wide.zero_grad()
peakbf, timebf = peak_bytes_and_time(amp.ComputeCopy(wide, "bfloat16"), X_big, y_big)
print(f"parameters: {param_bytes / 1e3:.0f} kB (float32)")
print(f"peak during forward+backward, batch {len(X_big)}: float32 {peak32 / 1e6:.2f} MB, "
      f"float16 {peak16 / 1e6:.2f} MB ({peak16 / peak32:.2f}x), bf16-emulated {peakbf / 1e6:.2f} MB")
print(f"time: float32 {time32 * 1e3:.1f} ms, float16 {time16 * 1e3:.1f} ms ({time16 / time32:.0f}x slower), "
      f"bf16-emulated {timebf * 1e3:.1f} ms")
assert 0.4 < peak16 / peak32 < 0.75
assert time16 > time32

# %% [markdown]
# So, measured: activations roughly halve (the bf16 emulation does not save memory: its values live
# in float32), weights do not, and on NumPy float16 is far slower. The claims come from GPUs: an
# NVIDIA V100's tensor cores are rated at 125 TFLOPS for float16 products with float32 sums against
# 15.7 TFLOPS for float32 (NVIDIA's V100 datasheet), and halved activations let the batch grow.
# How much of that a whole training step gets depends on how much of it is matmul; no GPU was
# available when this lesson was written, so that is not measured here (`benchmarks/bench_amp.py`
# times the GPU too when CuPy sees one).
#
# ## Exercises
#
# Each exercise ships with a working answer; replace it with yours and run the check.
#
# **Exercise 1 — bf16 rounding by hand.** Write `to_bf16(x)` for one Python float using only
# `struct`: take the float32 bits, round the low 16 away to nearest, ties to even.

# %%
import struct


def to_bf16(x):
    bits = struct.unpack("<I", struct.pack("<f", x))[0]
    upper, lower = bits >> 16, bits & 0xFFFF
    if lower > 0x8000 or (lower == 0x8000 and upper & 1):
        upper += 1
    return struct.unpack("<f", struct.pack("<I", (upper << 16) & 0xFFFFFFFF))[0]


# %% [markdown]
# **Check 1** — equal to PyTorch's bf16 conversion on ties, near-ties and random values.

# %%
values = [1 + 2**-8, 1 + 3 * 2**-8, 1 + 2**-8 + 2**-20, -2.5e-40, 123.456] + list(rng.standard_normal(200))
for v in values:
    expected = torch.tensor([v], dtype=torch.float32).to(torch.bfloat16).float().item()
    assert to_bf16(v) == expected, (v, to_bf16(v), expected)
print("exercise 1: OK")

# %% [markdown]
# **Exercise 2 — the smallest useful scale.** A gradient of $10^{-9}$ underflows in float16. Give the
# smallest power of two `S_min` such that $10^{-9} \cdot S$ is not zero in float16.

# %%
S_min = 2.0 ** int(np.ceil(np.log2(2.0**-25 / 1e-9)))

# %% [markdown]
# **Check 2** — NumPy's float16 conversion: nonzero at `S_min`, zero at `S_min / 2`.

# %%
assert np.float16(1e-9 * S_min) != 0 and np.float16(1e-9 * S_min / 2) == 0
print("exercise 2: OK, S_min = 2^%d" % np.log2(S_min))

# %% [markdown]
# **Exercise 3 — predict the scaler.** With `init_scale=1024`, `growth_interval=2`, and the
# overflow pattern below (True = some gradient is inf), write the list of scales `get_scale()`
# returns after each `update()`.

# %%
overflow = [False, False, True, False, True, True, False, False, False]
predicted, scale_now, clean = [], 1024.0, 0
for bad in overflow:
    if bad:
        scale_now, clean = scale_now / 2, 0
    else:
        clean += 1
        if clean == 2:
            scale_now, clean = scale_now * 2, 0
    predicted.append(scale_now)

# %% [markdown]
# **Check 3** — PyTorch's GradScaler driven by that pattern.

# %%
p = torch.zeros(1, requires_grad=True)
torch_opt = torch.optim.SGD([p], lr=0.1)
torch_scaler = torch.amp.GradScaler("cpu", init_scale=1024.0, growth_interval=2)
actual = []
for bad in overflow:
    torch_opt.zero_grad()
    torch_scaler.scale((p * (float("inf") if bad else 1.0)).sum()).backward()
    torch_scaler.step(torch_opt)
    torch_scaler.update()
    actual.append(torch_scaler.get_scale())
assert predicted == actual, (predicted, actual)
print("exercise 3: OK", actual)
