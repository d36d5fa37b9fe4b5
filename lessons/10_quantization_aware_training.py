# ---
# jupyter:
#   jupytext:
#     text_representation:
#       extension: .py
#       format_name: percent
# ---

# %% [markdown]
# # 10 · Quantization-aware training
#
# An int8 network stores each weight in one byte instead of four and multiplies 8-bit integers,
# which integer hardware does several times faster and with less energy than float32. The map from
# reals to integers is **uniform affine quantization** (Jacob et al. 2018, "Quantization and Training
# of Neural Networks for Efficient Integer-Arithmetic-Only Inference", §2.1, eq. 1):
# $$ r = S\,(q - Z), \qquad q = \mathrm{clamp}\big(Z + \mathrm{round}(r \cdot \tfrac1S),\ Q_{\min},\ Q_{\max}\big), $$
# with a float scale $S$, an integer zero point $Z$ (so that $r=0$ is exact), and round half to even.
# *Fake quantization* applies $q$ and then $S(q-Z)$ in float: the network sees exactly the values an
# integer kernel will see, while still running (and training) in float.
#
# Two ways to get a quantized network:
# - **post-training quantization (PTQ)**: train in float, then measure value ranges on calibration
#   data (observers) and quantize;
# - **quantization-aware training (QAT)**: train (or fine-tune) *with* fake quantizers in the forward
#   pass, so the weights adapt to the rounding (Jacob et al. §3).
#
# Seed material calls QAT "a distillation technique". It is not: distillation (Hinton, Vinyals & Dean
# 2015) trains a student to match a teacher's outputs. QAT has no teacher and no extra loss: it is
# ordinary training on the task's labels, through a forward pass that rounds. (The two can be
# combined, e.g. Polino et al. 2018, but that is a choice, not what QAT is.)

# %%
import copy
import math

import matplotlib.pyplot as plt
import numpy as np
import torch
from torch.ao import quantization as tq

import minigrad as mg
import minigrad.nn as nn
import minigrad.nn.functional as F
from minigrad import optim
from minigrad import quantization as Q

torch.set_num_threads(1)
rng = np.random.default_rng(0)

# %% [markdown]
# ## The quantizer
#
# PyTorch multiplies by the float32 reciprocal $1/S$ rather than dividing by $S$. The two differ in
# the last bit for some inputs, and at a tie that flips the rounding. Take $S = 0.3$ and
# $x = 8.25$ (both as float32): $x \cdot \mathrm{fl}(1/S)$ is exactly $27.5$ and rounds to even, 28,
# while $x / S$ is $27.499998$ and rounds to 27. Same formula on paper, different integer.
#
# **CHECK** — minigrad's `fake_quantize_per_tensor_affine` equals PyTorch's bit for bit on a grid that
# includes such ties and values beyond both clamp edges.

# %%
x = np.concatenate([np.linspace(-2, 40, 2001), [8.25, -8.25, 34.35]]).astype(np.float32)
scale, zero_point, qmin, qmax = 0.3, 10, 0, 127
ours = Q.fake_quantize_per_tensor_affine(mg.tensor(x), scale, zero_point, qmin, qmax).data
theirs = torch.fake_quantize_per_tensor_affine(torch.from_numpy(x), scale, zero_point, qmin, qmax).numpy()
assert np.array_equal(ours.view(np.uint32), theirs.view(np.uint32))
S32 = np.float32(scale)
print("8.25 ->", ours[-3], "(multiply by 1/S); dividing by S would give", S32 * np.round(np.float32(8.25) / S32))
assert ours[-3] != S32 * np.round(np.float32(8.25) / S32)

plt.figure(figsize=(6, 3))
plt.plot(x[:2001], x[:2001], ":", label="identity")
plt.plot(x[:2001], ours[:2001], label="fake-quantized, S=0.3, Z=10, q in [0, 127]")
plt.xlabel("x")
plt.legend()
plt.show()

# %% [markdown]
# ## The straight-through estimator, and why it works
#
# The staircase has derivative 0 almost everywhere, so plain backprop would never move a weight.
# The straight-through estimator (Bengio, Léonard & Courville 2013, §4) uses the derivative of the
# identity instead, inside the range, and 0 where the value was clamped:
# $$ \frac{\partial L}{\partial x} \approx \frac{\partial L}{\partial \hat x}\,\mathbf 1\big[Q_{\min} \le Z + \mathrm{round}(x/S) \le Q_{\max}\big]. $$
# Why this is reasonable: inside the range $\hat x = x + e$ with $|e| \le S/2$, so the loss at
# $\hat x$ is the loss at $x$ up to a small perturbation, and its gradient at $\hat x$ is a good
# direction for $x$ too; Yin et al. 2019 ("Understanding Straight-Through Estimator in Training
# Activation Quantized Neural Nets") prove that for suitable STEs the expected coarse gradient is
# positively correlated with the true gradient of the population loss. Outside the range, moving $x$
# does not change $\hat x$ at all, so passing no gradient is exact.
#
# **CHECK** — the backward pass equals PyTorch's mask, element by element.

# %%
xt = torch.from_numpy(x).requires_grad_()
torch.fake_quantize_per_tensor_affine(xt, scale, zero_point, qmin, qmax).sum().backward()
xm = mg.tensor(x, requires_grad=True)
Q.fake_quantize_per_tensor_affine(xm, scale, zero_point, qmin, qmax).sum().backward()
assert np.array_equal(xm.grad.data, xt.grad.numpy())
print("gradient passes for x in", x[xm.grad.data == 1].min(), "..", x[xm.grad.data == 1].max())

# %% [markdown]
# ## Observers: choosing S and Z
#
# For a range $[x_{\min}, x_{\max}]$ (always widened to include 0), PyTorch's affine choice is
# $S = (x_{\max} - x_{\min}) / (Q_{\max} - Q_{\min})$, $Z = Q_{\min} - \mathrm{round}(x_{\min}/S)$; the
# symmetric one $S = \max(|x_{\min}|, x_{\max}) / ((Q_{\max}-Q_{\min})/2)$, $Z = 0$ (signed). A
# `MinMaxObserver` keeps the running extremes; a `MovingAverageMinMaxObserver` smooths per-batch
# extremes, $m \leftarrow m + c\,(m_{\text{batch}} - m)$, which suits activations that drift during
# training (Jacob et al. §3).
#
# **CHECK** — after every batch of a drifting stream, both observers give PyTorch's scale and zero
# point exactly.

# %%
pairs = [(Q.MinMaxObserver(), tq.MinMaxObserver()),
         (Q.MovingAverageMinMaxObserver(averaging_constant=0.1), tq.MovingAverageMinMaxObserver(averaging_constant=0.1)),
         (Q.MinMaxObserver(dtype="qint8", qscheme="per_tensor_symmetric"),
          tq.MinMaxObserver(dtype=torch.qint8, qscheme=torch.per_tensor_symmetric))]
for t in range(20):
    batch = (rng.standard_normal(256) * (1 + t / 5) + t / 10).astype(np.float32)
    for ours_obs, torch_obs in pairs:
        ours_obs(mg.tensor(batch))
        torch_obs(torch.from_numpy(batch))
        (s, z), (s_t, z_t) = ours_obs.calculate_qparams(), torch_obs.calculate_qparams()
        assert s.data[0] == s_t.item() and z.data[0] == z_t.item()
for ours_obs, _ in pairs:
    s, z = ours_obs.calculate_qparams()
    print(f"{type(ours_obs).__name__:>28} {ours_obs.qscheme:>21}: S = {s.item():.5f}, Z = {z.item()}")

# %% [markdown]
# ## QAT versus PTQ at 8, 4 and 3 bits
#
# A small MLP (2 → 64 → 64 → 3) on three interleaved spirals. Each `Linear` becomes a
# `FakeQuantLinear`: weights per-tensor symmetric signed, layer inputs per-tensor affine unsigned
# (PyTorch's default QAT choices), biases in float. PTQ: calibrate on the training set with fake
# quantization off, freeze, quantize. QAT: fine-tune the float model through the fake quantizers for
# 300 steps (observers on), then 150 more with frozen ranges.
#
# A fair comparison needs a **control**: the float model fine-tuned for the same 450 extra steps and
# then post-training quantized. If QAT's advantage came from "more training", the control would
# show it too. Low-bit results move by several points from one trained network to the next, so
# everything is averaged over three networks trained from different seeds.

# %%
def spirals(n, rng, classes=3):
    t = rng.uniform(0.1, 1, n)
    c = rng.integers(0, classes, n)
    angle = 4 * t + 2 * np.pi * c / classes
    X = np.stack([t * np.cos(angle), t * np.sin(angle)], 1) + 0.15 * t[:, None] * rng.standard_normal((n, 2))
    return (3 * X).astype(np.float32), c


data_rng = np.random.default_rng(1)
X, y = spirals(3000, data_rng)
X_test, y_test = spirals(3000, data_rng)


def train(model, steps, lr, seed):
    batches = np.random.default_rng(seed)
    opt = optim.Adam(model.parameters(), lr=lr)
    for _ in range(steps):
        idx = batches.integers(0, len(X), 128)
        loss = F.cross_entropy(model(mg.tensor(X[idx])), y[idx])   # the task's loss: no teacher anywhere
        opt.zero_grad()
        loss.backward()
        opt.step()


def accuracy(model):
    return float((model(mg.tensor(X_test)).data.argmax(1) == y_test).mean())


def post_training_quantize(float_model, bits):
    model = Q.fake_quant_model(copy.deepcopy(float_model), bits)
    Q.set_fake_quant(model, False)
    model(mg.tensor(X))                     # calibration pass: observers only
    Q.set_observers(model, False)
    Q.set_fake_quant(model, True)
    return model


def fine_tune(model, seed):
    train(model, 300, 1e-3, seed=seed)
    Q.set_observers(model, False)           # freeze the ranges for the last steps (no-op on a float model)
    train(model, 150, 3e-4, seed=seed + 1)
    return model


names = ["float32"] + [f"{kind} {bits}-bit" for bits in (8, 4, 3) for kind in ("PTQ", "control", "QAT")]
runs = {name: [] for name in names}
for seed in range(3):
    mg.manual_seed(seed)
    net = nn.Sequential(nn.Linear(2, 64), nn.ReLU(), nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, 3))
    train(net, 1500, 1e-2, seed=100 + seed)
    control = fine_tune(copy.deepcopy(net), seed=200 + seed)
    runs["float32"].append(accuracy(net))
    for bits in (8, 4, 3):
        runs[f"PTQ {bits}-bit"].append(accuracy(post_training_quantize(net, bits)))
        runs[f"control {bits}-bit"].append(accuracy(post_training_quantize(control, bits)))
        qat = fine_tune(Q.fake_quant_model(copy.deepcopy(net), bits), seed=200 + seed)
        runs[f"QAT {bits}-bit"].append(accuracy(qat))
        if bits == 8 and seed == 0:
            qat8 = qat
results = {name: float(np.mean(values)) for name, values in runs.items()}
for name in names:
    print(f"{name:>15}: test accuracy {results[name]:.2%}  (runs: {', '.join(f'{v:.1%}' for v in runs[name])})")

# %% [markdown]
# **CHECK** — at 8 bits PTQ already loses almost nothing (within 1 point of float); at 3 bits PTQ and
# the control lose several points and QAT recovers most of them. QAT's gain is not from the extra
# steps, and there is no teacher in `train`: QAT is not distillation.

# %%
assert results["float32"] > 0.97
assert results["PTQ 8-bit"] > results["float32"] - 0.01 and results["QAT 8-bit"] > results["float32"] - 0.01
assert results["QAT 3-bit"] > max(results["PTQ 3-bit"], results["control 3-bit"]) + 0.03
assert results["QAT 4-bit"] >= results["PTQ 4-bit"] - 0.005

# %% [markdown]
# ## Real integer inference
#
# The fake-quantized model describes an integer computation (Jacob et al. §2.2):
# $y_i = S_x S_w \sum_k (q_{x,k} - Z_x)\, q_{w,ik} + b_i$, an int8 × int8 product summed exactly in
# int32, then one float rescale. `Q.Int8Model` runs exactly that with NumPy integers (note that
# `int8 @ int8` in NumPy would accumulate in int8 and wrap; the codes are widened to int32 first).
#
# **CHECK** — the first layer reads the very same integer codes in both models. The integer layer
# then computes the real value more exactly than the float layer (which rounds every partial sum),
# so where a hidden value sits within float32 rounding of a code boundary the two models pick
# neighbouring codes for the next layer: we count those, check they are one step apart and rare,
# and that every row without such a flip gets the same logits to float32 rounding. Predictions
# agree; the weights take a quarter of the bytes.

# %%
int_model = Q.Int8Model(qat8)
logits_int, codes_int = int_model.run(X_test)
h, codes_fake = mg.tensor(X_test), []
for layer in qat8:
    if isinstance(layer, Q.FakeQuantLinear):
        fq = layer.input_fake_quant
        codes_fake.append(Q.integer_codes(h.data, fq.scale[0], int(fq.zero_point[0]), fq.quant_min, fq.quant_max))
    h = layer(h)
logits_fake = h.data
flipped = np.zeros(len(X_test), dtype=bool)
for i, (a, b) in enumerate(zip(codes_int, codes_fake)):
    steps = np.abs(a.astype(np.int32) - b)
    print(f"layer {i}: {(steps > 0).sum()} of {steps.size} input codes differ (largest difference {steps.max()})")
    assert steps.max() <= 1 and (steps > 0).mean() < 1e-3
    flipped |= (steps > 0).any(1)
assert (codes_int[0] == codes_fake[0]).all()
same_rows = ~flipped
print(f"rows without a flipped code: {same_rows.mean():.2%}; their largest logit difference "
      f"{np.abs(logits_int - logits_fake)[same_rows].max():.1e} (logits up to {np.abs(logits_fake).max():.1f})")
assert np.abs(logits_int - logits_fake)[same_rows].max() < 1e-5 * np.abs(logits_fake).max()
agree = (logits_int.argmax(1) == logits_fake.argmax(1)).mean()
print(f"predictions agree on {agree:.2%} of the test set")
assert agree > 0.999
int_bytes = sum(layer.q_weight.nbytes for layer in int_model.layers if isinstance(layer, Q.Int8Linear))
float_bytes = sum(m.weight.data.nbytes for m in qat8 if isinstance(m, Q.FakeQuantLinear))
print(f"weights: {float_bytes} B in float32, {int_bytes} B in int8")
assert int_bytes * 4 == float_bytes

# %% [markdown]
# ## Learning the scale: LSQ
#
# Instead of taking $S$ from an observer, LSQ (Esser et al. 2020, "Learned Step Size Quantization",
# eq. 3) makes it a parameter. With the STE for round, inside the range
# $\partial \hat x / \partial S = \mathrm{round}(x/S) - x/S$ and outside it $Q_{\min}$ or $Q_{\max}$;
# the gradient is multiplied by $g = 1/\sqrt{N Q_{\max}}$ (§2.2) so the scale learns at a pace
# comparable to the weights. PyTorch implements this as
# `torch._fake_quantize_learnable_per_tensor_affine(x, S, Z, qmin, qmax, grad_factor)`.
#
# **CHECK** — the scale gradient of `Q.LearnableFakeQuantize` equals PyTorch's op with LSQ's factor.

# %%
w = np.random.default_rng(3).standard_normal((64, 64)).astype(np.float32)
lsq = Q.LearnableFakeQuantize(-8, 7)
(lsq(mg.tensor(w)) ** 2).sum().backward()
s_t = torch.tensor(lsq.scale.data.copy(), requires_grad=True)
out = torch._fake_quantize_learnable_per_tensor_affine(torch.from_numpy(w), s_t, torch.zeros(1), -8, 7,
                                                       1 / math.sqrt(w.size * 7))
(out ** 2).sum().backward()
print(f"LSQ scale {lsq.scale.item():.4f}: dL/dS minigrad {lsq.scale.grad.item():.6f}, torch {s_t.grad.item():.6f}")
assert abs(lsq.scale.grad.item() - s_t.grad.item()) <= 1e-5 * abs(s_t.grad.item()) + 1e-7

# %% [markdown]
# ## Exercises
#
# Each exercise ships with a working answer; replace it with yours and run the check.
#
# **Exercise 1 — scale and zero point by hand.** For activations observed in $[-0.8, 5.3]$ and
# unsigned 8-bit codes $[0, 255]$ (affine), compute PyTorch's `S` and `Z` (in float32 arithmetic).

# %%
lo, hi = np.float32(-0.8), np.float32(5.3)
S_ex = (hi - lo) / np.float32(255)
Z_ex = int(0 - np.round(lo / S_ex))

# %% [markdown]
# **Check 1** — `torch.ao.quantization.MinMaxObserver` on a batch with that min and max.

# %%
obs = tq.MinMaxObserver()
obs(torch.tensor([-0.8, 1.0, 5.3]))
s_ref, z_ref = obs.calculate_qparams()
assert S_ex == s_ref.item() and Z_ex == z_ref.item(), (S_ex, Z_ex, s_ref, z_ref)
print("exercise 1: OK", S_ex, Z_ex)

# %% [markdown]
# **Exercise 2 — the STE mask.** For `x`, `S = 0.5`, `Z = 3`, range `[0, 15]`, write the boolean mask
# of elements whose gradient passes.

# %%
x_ex = np.float32([-2.0, -1.5, -1.75, 0.0, 5.9, 6.0, 6.3, 7.0])
mask_ex = (np.round(x_ex * np.float32(1 / 0.5)) + 3 >= 0) & (np.round(x_ex * np.float32(1 / 0.5)) + 3 <= 15)

# %% [markdown]
# **Check 2** — PyTorch's gradient of `fake_quantize_per_tensor_affine`.

# %%
xt = torch.from_numpy(x_ex).requires_grad_()
torch.fake_quantize_per_tensor_affine(xt, 0.5, 3, 0, 15).sum().backward()
assert np.array_equal(mask_ex, xt.grad.numpy() == 1), (mask_ex, xt.grad)
print("exercise 2: OK", mask_ex)

# %% [markdown]
# **Exercise 3 — LSQ's gradient for one value.** With $S = 0.4$, $Z = 0$, range $[-4, 3]$ and
# $L = \hat x$, give $\partial L / \partial S$ for $x = 0.5$, for $x = 3.0$ and for $x = -9$.

# %%
dS_ex = [round(0.5 / 0.4) - 0.5 / 0.4, 3.0, -4.0]

# %% [markdown]
# **Check 3** — PyTorch's learnable op (grad_factor 1).

# %%
for value, expected in zip([0.5, 3.0, -9.0], dS_ex):
    s_t = torch.tensor([0.4], requires_grad=True)
    torch._fake_quantize_learnable_per_tensor_affine(torch.tensor([value]), s_t, torch.zeros(1), -4, 3, 1.0).sum().backward()
    assert abs(s_t.grad.item() - expected) < 1e-6, (value, s_t.grad.item(), expected)
print("exercise 3: OK", dS_ex)
