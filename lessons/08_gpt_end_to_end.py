# ---
# jupyter:
#   jupytext:
#     text_representation:
#       extension: .py
#       format_name: percent
# ---

# %% [markdown]
# # 08 · A GPT, end to end
#
# Everything so far comes together on one model: a small **GPT** (Radford et al. 2019, sec. 2.3),
# trained on characters of real English text, data-parallel over MPI, with gradient accumulation,
# clipping, AdamW, warm-up + cosine decay and compressed gradients.
#
# A GPT reads a sequence of token ids $x_1..x_T$ and, at every position $t$, predicts the next token.
# With $C$ the width, $V$ the vocabulary and $L$ the number of blocks:
#
# $$ h^{(0)}_t = W_{te}[x_t] + W_{pe}[t], \qquad
#    h \leftarrow h + \mathrm{Attn}(\mathrm{LN}_1(h)), \quad h \leftarrow h + \mathrm{MLP}(\mathrm{LN}_2(h))
#    \ (L \text{ times}), \qquad
#    \mathrm{logits}_t = \mathrm{LN}_f(h_t)\, W_{te}^\top . $$
#
# * **Causal self-attention** (Vaswani et al. 2017, eq. 1): $\mathrm{softmax}(QK^\top/\sqrt{d} + M)V$
#   per head, with $M_{ts} = -\infty$ for $s > t$, so position $t$ never sees the future.
# * **Pre-LayerNorm** blocks: each sub-layer reads a normalised copy of the residual stream and *adds*
#   its output back (GPT-2's arrangement, sec. 2.3).
# * **Weight tying** (Press & Wolf 2017): the output layer is the token embedding, transposed.
# * The loss is the mean cross-entropy of the next character, in nats; $\ln V$ for a model that knows
#   nothing, the entropy of the text for a perfect one.
#
# The library's model is `minigrad/models/gpt.py` (nanoGPT's layout and parameter names, so its
# `state_dict` loads into PyTorch unchanged — `tests/test_gpt.py` checks logits, loss and every
# gradient against PyTorch to 1e-10). The training script is `minigrad/examples/train_gpt.py`.
#
# 1. a block built here from earlier pieces (`Linear`, `LayerNorm`, softmax, a mask) equals the library's,
# 2. training over MPI, with and without QSGD compression: losses and bytes on the wire,
# 3. clipping against loss spikes, and why AdamW hardly needs it,
# 4. text sampled from the trained model.

# %%
import json
import math
import os
import subprocess
import sys
import tempfile
import warnings
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import torch

import minigrad as mg
import minigrad.nn.functional as F
from minigrad import nn
from minigrad.examples.chardata import CharData
from minigrad.models.gpt import GPT, Block, GPTConfig
from minigrad.nn.utils import clip_grad_norm_

torch.set_num_threads(1)
HERE = Path(__file__).resolve().parent if "__file__" in globals() else Path.cwd()  # lessons/
env = dict(os.environ, OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1",
           PATH=str(Path(sys.executable).parent) + os.pathsep + os.environ.get("PATH", ""),
           PYTHONPATH=os.pathsep.join(p for p in (os.environ.get("PYTHONPATH"), str(HERE.parent)) if p))
from gensim.test.utils import datapath  # noqa: E402  (the text ships with gensim's test data)

TEXT = datapath("lee_background.cor")
data = CharData.from_file(TEXT)
print(f"{data.name}: {len(data.splits['train']):,} train / {len(data.splits['val']):,} validation characters, "
      f"vocabulary V = {data.vocab_size}")

# %% [markdown]
# ## 1 · The model from pieces we know
#
# Below, one transformer block written with the layers of earlier lessons. Attention is spelled out:
# scores, a lower-triangular mask, softmax, a weighted sum of values.

# %%
class HandBlock(nn.Module):
    def __init__(self, C, n_head):
        super().__init__()
        self.n_head = n_head
        self.ln_1, self.ln_2 = nn.LayerNorm(C), nn.LayerNorm(C)
        self.qkv, self.proj = nn.Linear(C, 3 * C), nn.Linear(C, C)
        self.fc, self.fc_proj = nn.Linear(C, 4 * C), nn.Linear(4 * C, C)

    def attention(self, x):
        B, T, C = x.shape
        hs = C // self.n_head
        q, k, v = (t.reshape(B, T, self.n_head, hs).transpose(1, 2) for t in self.qkv(x).split(C, dim=2))
        scores = q @ k.transpose(-2, -1) / math.sqrt(hs)                  # (B, nh, T, T)
        future = mg.tensor(np.triu(np.ones((T, T), dtype=bool), k=1))     # True where s > t
        weights = F.softmax(scores.masked_fill(future, float("-inf")), dim=-1)
        return self.proj((weights @ v).transpose(1, 2).reshape(B, T, C))   # (B, T, C)

    def forward(self, x):
        x = x + self.attention(self.ln_1(x))
        return x + self.fc_proj(F.gelu(self.fc(self.ln_2(x))))


mg.set_default_dtype(np.float64)
config = GPTConfig(block_size=16, vocab_size=data.vocab_size, n_layer=2, n_head=4, n_embd=32)
library_block = Block(config)
hand = HandBlock(32, 4)
names = {"qkv": "attn.c_attn", "proj": "attn.c_proj", "fc": "mlp.c_fc", "fc_proj": "mlp.c_proj"}
hand.load_state_dict({k: library_block.state_dict()[names.get(k.split(".")[0], k.split(".")[0]) + "." + k.split(".")[1]]
                      for k in hand.state_dict()})
x = mg.randn(3, 16, 32)

# %% [markdown]
# **CHECK** — the hand-written block equals the library's (which calls `F.scaled_dot_product_attention`
# with `is_causal=True`) to 1e-12, and the masked softmax equals PyTorch's own causal attention.

# %%
assert np.allclose(hand(x).numpy(), library_block(x).numpy(), rtol=1e-12, atol=1e-12)
q, k, v = (mg.randn(2, 4, 16, 8) for _ in range(3))
ours = F.softmax((q @ k.transpose(-2, -1) / math.sqrt(8)).masked_fill(
    mg.tensor(np.triu(np.ones((16, 16), dtype=bool), k=1)), float("-inf")), dim=-1) @ v
theirs = torch.nn.functional.scaled_dot_product_attention(*(torch.tensor(t.numpy()) for t in (q, k, v)),
                                                          is_causal=True)
assert np.allclose(ours.numpy(), theirs.numpy(), rtol=1e-12, atol=1e-12)
print("hand-written block == library block; masked softmax == torch causal SDPA")

# %% [markdown]
# Three closed forms about the whole model. Each block holds $12C^2 + 13C$ parameters
# ($3C^2+3C$ for q/k/v, $C^2+C$ for the output projection, $8C^2+5C$ for the MLP, $4C$ for two LayerNorms);
# the embeddings $VC + TC$ (the head is tied, so free); the final LayerNorm $2C$. Changing a token can only
# change the logits at its own position and later ones. And at initialisation (weights of size 0.02)
# every logit is near 0, so the loss on random targets is $\approx \ln V$ (within 0.05).
#
# **CHECK** — all three.

# %%
mg.manual_seed(0)
model = GPT(config)
L_, C_, V_, T_ = config.n_layer, config.n_embd, config.vocab_size, config.block_size
assert model.get_num_params(non_embedding=False) == L_ * (12 * C_**2 + 13 * C_) + V_ * C_ + T_ * C_ + 2 * C_
idx = np.random.default_rng(0).integers(0, V_, (2, T_))
changed = idx.copy()
changed[:, 10] = (changed[:, 10] + 1) % V_
a, _ = model(mg.tensor(idx), mg.tensor(idx))
b, _ = model(mg.tensor(changed), mg.tensor(idx))
gap = np.abs(a.numpy() - b.numpy()).max(axis=(0, 2))                      # per position
assert gap[:10].max() == 0.0 and gap[10:].min() > 0
inputs, targets = np.random.default_rng(1).integers(0, V_, (2, 16, T_))  # 256 random (input, target) pairs
_, loss = model(mg.tensor(inputs), mg.tensor(targets))
assert abs(loss.item() - math.log(V_)) < 0.05, loss.item()
print(f"parameters {model.get_num_params(False):,}; initial loss {loss.item():.4f} vs ln V = {math.log(V_):.4f}")
mg.set_default_dtype(np.float32)

# %% [markdown]
# ## 2 · Training over MPI, with and without compression
#
# `lessons/mpi/gpt_train.py` runs `train_gpt` on 2 ranks: each step, each rank takes 16 windows of 32
# characters; `loss.backward()` averages the gradients across ranks (DDP); the global norm is clipped at
# 1; AdamW steps with a warm-up + cosine learning rate. We run it twice: plain all-reduce, and with
# **QSGD** (lesson 06) compressing every gradient bucket to a few bits per coordinate.

# %%
print((HERE / "mpi" / "gpt_train.py").read_text())


def train_over_mpi(*args, p=2):
    out = tempfile.mkdtemp(prefix="lesson08-")
    argv = ["--data", TEXT, "--steps", "150", "--n-layer", "2", "--n-embd", "64", "--block-size", "32",
            "--batch-size", "16", "--lr", "5e-3", "--warmup", "20", "--min-lr", "1e-3", "--eval-interval", "50",
            "--quiet", "--no-plot", "--sample-tokens", "0", "--out", out, *args]
    run = subprocess.run(["mpiexec", "-n", str(p), sys.executable, str(HERE / "mpi" / "gpt_train.py"), *argv],
                         env=env, capture_output=True, text=True, timeout=240)
    if run.returncode != 0:
        raise RuntimeError(f"mpiexec failed ({run.returncode}):\n{run.stdout}\n{run.stderr}")
    return json.loads(run.stdout.strip().splitlines()[-1]), out


runs = {}
for compress in ("none", "qsgd"):
    runs[compress], out_dir = train_over_mpi("--compress", compress)
    if compress == "none":
        checkpoint_dir = out_dir
    print(f"{compress:5}: validation loss {runs[compress]['val'][-1]:.3f}, rank 0 sent "
          f"{runs[compress]['bytes_sent'] / 1e6:.1f} MB, {runs[compress]['tokens_per_second']:,.0f} tokens/s")

# %%
fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 3.6))
for compress, run in runs.items():
    ax1.plot(run["train"], lw=0.7, alpha=0.6, label=f"train, {compress}")
    ax1.plot(run["val_steps"], run["val"], "o-", label=f"validation, {compress}")
ax1.set(xlabel="step", ylabel="nats / character", title="2 ranks, 1,024 characters per step")
ax1.legend()
ax2.bar(list(runs), [r["bytes_sent"] / 1e6 for r in runs.values()])
ax2.set(ylabel="MB sent by rank 0", title="gradient traffic over 150 steps")
plt.tight_layout()
plt.show()

# %% [markdown]
# What did the model learn? Two references computed from counts on the training text: the **unigram**
# model (each character by its frequency) and the **bigram** model (each character given the previous
# one), both scored on the validation text.
#
# **CHECK** — after 150 steps the GPT is far below the unigram cross-entropy, QSGD trains as well as the
# full gradients (within 0.1 nats), and sends under 15% of the bytes.

# %%
train_ids, val_ids = data.splits["train"], data.splits["val"]
unigram = np.bincount(train_ids, minlength=V_) / len(train_ids)
unigram_ce = -np.log(unigram[val_ids]).mean()
pairs = np.zeros((V_, V_))
np.add.at(pairs, (train_ids[:-1], train_ids[1:]), 1)
bigram = (pairs + 0.1) / (pairs + 0.1).sum(axis=1, keepdims=True)
bigram_ce = -np.log(bigram[val_ids[:-1], val_ids[1:]]).mean()
print(f"unigram {unigram_ce:.3f}, bigram {bigram_ce:.3f}, GPT after 150 steps {runs['none']['val'][-1]:.3f} nats")
assert runs["none"]["val"][-1] < unigram_ce - 0.3
assert abs(runs["qsgd"]["val"][-1] - runs["none"]["val"][-1]) < 0.1
assert runs["qsgd"]["bytes_sent"] < 0.15 * runs["none"]["bytes_sent"]

# %% [markdown]
# Longer runs pass the bigram too: the default `python -m minigrad.examples.train_gpt` (3 layers,
# 1,000 steps, a few minutes) reaches about 1.66 nats against the bigram's 2.47, and
# `tests/test_gpt_training.py` requires a 300-step run to beat the bigram by 0.1 nats.
#
# ## 3 · Clipping and loss spikes
#
# Lesson 03 showed clipping taming exploding gradients in an RNN. A transformer trained with plain
# SGD + momentum at a high learning rate shows the same thing: one large gradient throws the weights
# far away, the loss spikes and may never come back. Clipping the global norm at $c$ bounds every step
# by $\eta c$. The loop is the usual one, with clipping the only difference.

# %%
def sgd_losses(clip, lr=1.0, steps=60):
    mg.manual_seed(0)
    net = GPT(GPTConfig(block_size=32, vocab_size=V_, n_layer=2, n_head=4, n_embd=64))
    optimizer = mg.optim.SGD(net.parameters(), lr=lr, momentum=0.9)
    rng, losses = np.random.default_rng(0), []
    for step in range(steps):
        xb, yb = data.batch("train", 16, 32, rng)
        _, loss = net(mg.tensor(xb), mg.tensor(yb))
        loss.backward()
        if clip:
            clip_grad_norm_(net.parameters(), clip)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        losses.append(loss.item())
    return np.array(losses)


with warnings.catch_warnings():
    warnings.simplefilter("ignore")  # the unclipped run overflows
    unclipped, clipped = sgd_losses(clip=0), sgd_losses(clip=0.5)
plt.figure(figsize=(6, 3.4))
plt.plot(np.where(np.isfinite(unclipped), unclipped, np.nan), label="SGD, no clipping")
plt.plot(clipped, label="SGD, clip 0.5")
plt.yscale("log")
plt.xlabel("step")
plt.ylabel("training loss")
plt.legend()
plt.show()
print(f"unclipped: max {np.nanmax(unclipped):.3g}, finite to the end: {np.isfinite(unclipped).all()}; "
      f"clipped: last 10 steps {clipped[-10:].mean():.3f}")

# %% [markdown]
# **CHECK** — without clipping the loss blows up (above its starting value, or to inf/nan); with it,
# every loss is finite and the last ten are at least 1 nat below the first.

# %%
assert not np.isfinite(unclipped).all() or unclipped.max() > 2 * unclipped[0]
assert np.isfinite(clipped).all() and clipped[-10:].mean() < clipped[0] - 1.0

# %% [markdown]
# With **AdamW** the same experiment shows almost nothing (try it: `--clip 0` in `train_gpt`). Adam
# divides each coordinate's step by the root of a running mean of its squared gradients, so its step is
# about $\eta$ per coordinate whatever the gradient's scale (Kingma & Ba 2015, sec. 2.1). At the first
# step exactly: $\hat m = g$, $\hat v = g^2$, so $\Delta\theta = -\eta\, g/(|g| + \epsilon)$ — and clipping,
# which multiplies $g$ by a factor $\le 1$, changes nothing until $|g|$ nears $\epsilon$.
#
# **CHECK** — the first AdamW step of the GPT with clipping at 0.1 equals the step without clipping
# (to 0.1%) on every coordinate whose clipped gradient stays well above $\epsilon$, and no coordinate moves
# more than $\eta$.

# %%
def first_adamw_step(clip):
    mg.manual_seed(0)
    net = GPT(GPTConfig(block_size=32, vocab_size=V_, n_layer=2, n_head=4, n_embd=64))
    optimizer = net.configure_optimizers(weight_decay=0.0, learning_rate=1e-3, betas=(0.9, 0.99))
    before = [p.numpy().copy() for p in net.parameters()]
    xb, yb = data.batch("train", 16, 32, np.random.default_rng(0))
    net(mg.tensor(xb), mg.tensor(yb))[1].backward()
    norm = float(clip_grad_norm_(net.parameters(), clip if clip else float("inf")))
    grads = [p.grad.numpy().copy() for p in net.parameters()]
    optimizer.step()
    return norm, grads, [p.numpy() - b for p, b in zip(net.parameters(), before)]


norm, _, free = first_adamw_step(clip=0)
_, small_grads, capped = first_adamw_step(clip=0.1)
print(f"gradient norm {norm:.3f}; clipping at 0.1 scales it by {0.1 / norm:.4f}")
for a, b, g in zip(free, capped, small_grads):
    far_from_eps = np.abs(g) > 1e4 * 1e-8  # AdamW's eps = 1e-8: there eps/|g| < 1e-4
    assert np.allclose(a[far_from_eps], b[far_from_eps], rtol=1e-3, atol=0)
    assert np.abs(a).max() <= 1e-3 * (1 + 1e-3)  # |step| <= lr per coordinate (float32 rounding of p ~ 1)
kept = sum(int((np.abs(g) > 1e-4).sum()) for g in small_grads) / sum(g.size for g in small_grads)
print(f"{kept:.1%} of the coordinates keep |clipped g| > 10^4 eps: their steps are unchanged")

# %% [markdown]
# ## 4 · Text from the model
#
# `generate` appends one character at a time, drawn from $\mathrm{softmax}(\mathrm{logits}/\tau)$ restricted to
# the $k$ most likely characters. We load rank 0's checkpoint from the uncompressed run of section 2.

# %%
ckpt = mg.load(os.path.join(checkpoint_dir, "ckpt.npz"))
trained = GPT(GPTConfig(**ckpt["config"]))
trained.load_state_dict(ckpt["model"])
trained.eval()
mg.manual_seed(1)
prompt = data.encode("The fire")
sample = data.decode(trained.generate(mg.tensor(prompt[None]), 200, temperature=0.8, top_k=10).numpy()[0])
print(sample)

# %% [markdown]
# **CHECK** — the sample reads like the text at least at the level of character pairs: its mean bigram
# surprisal is below the unigram cross-entropy of real text (random characters score about $\ln V$ and more).

# %%
sample_ids = data.encode(sample)
surprisal = -np.log(bigram[sample_ids[:-1], sample_ids[1:]]).mean()
random_ids = np.random.default_rng(0).integers(0, V_, 200)
print(f"bigram surprisal: sample {surprisal:.2f}, random characters "
      f"{-np.log(bigram[random_ids[:-1], random_ids[1:]]).mean():.2f} nats")
assert surprisal < unigram_ce

# %% [markdown]
# ## Exercises
#
# Each exercise cell ships with a working answer so the lesson runs from top to bottom. Replace it
# with your own and run the check below it.
#
# **Exercise 1 — counting parameters.** Write `gpt_params(V, T, L, C)`: the number of distinct
# parameters of a GPT with biases and a tied head.

# %%
def gpt_params(V, T, L, C):
    return L * (12 * C * C + 13 * C) + (V + T) * C + 2 * C


# %% [markdown]
# **Check 1** — against the models themselves for four shapes.

# %%
for V, T, L, C in ((10, 4, 1, 8), (81, 64, 3, 96), (50, 16, 4, 32), (7, 128, 2, 16)):
    assert gpt_params(V, T, L, C) == GPT(GPTConfig(block_size=T, vocab_size=V, n_layer=L, n_head=4,
                                                   n_embd=C)).get_num_params(non_embedding=False)
print("exercise 1: OK")

# %% [markdown]
# **Exercise 2 — the sampling distribution.** Write `next_char_probs(logits, temperature, top_k)` for a
# 1-D NumPy array of logits: the probabilities `generate` draws from (keep the `top_k` largest logits,
# divide by the temperature, softmax; zeros elsewhere).

# %%
def next_char_probs(logits, temperature, top_k):
    kept = np.where(logits >= np.sort(logits)[-top_k], logits / temperature, -np.inf)
    e = np.exp(kept - kept.max())
    return e / e.sum()


# %% [markdown]
# **Check 2** — against PyTorch's `topk` + `softmax`, and against the frequencies of 4,000 characters
# that `generate` draws after one prompt (within 4 standard errors).

# %%
last_logits = trained(mg.tensor(prompt[None]))[0].numpy()[0, -1].astype(np.float64)
for tau, k_ in ((1.0, 5), (0.5, 3), (2.0, V_)):
    lt = torch.tensor(last_logits)
    kth = torch.topk(lt, k_).values[-1]
    ref = torch.softmax(torch.where(lt >= kth, lt / tau, torch.tensor(-math.inf, dtype=lt.dtype)), dim=0).numpy()
    assert np.allclose(next_char_probs(last_logits, tau, k_), ref, atol=1e-12), (tau, k_)
mg.manual_seed(2)
draws = trained.generate(mg.tensor(np.repeat(prompt[None], 4000, axis=0)), 1, temperature=0.7, top_k=4).numpy()[:, -1]
p_ref = next_char_probs(last_logits, 0.7, 4)
freq = np.bincount(draws, minlength=V_) / 4000
assert np.all(np.abs(freq - p_ref) <= 4 * np.sqrt(p_ref * (1 - p_ref) / 4000) + 1e-12)
print("exercise 2: OK")

# %% [markdown]
# **Exercise 3 — the FLOPs of a training step.** A matmul of $(m \times k)$ by $(k \times n)$ costs $2mkn$
# FLOPs; a training step costs three times its forward pass (the backward computes two matmuls per
# forward matmul). Write `train_flops_per_token(L, C, T, V)` counting only matmuls: per token the linear
# layers of the blocks, the head, and attention's $QK^\top$ and $PV$ (over the full $T \times T$ square,
# as nanoGPT's estimate does).

# %%
def train_flops_per_token(L, C, T, V):
    linear = L * 2 * (3 * C * C + C * C + 8 * C * C) + 2 * C * V
    attention = L * 2 * (2 * T * C)
    return 3 * (linear + attention)


# %% [markdown]
# **Check 3** — equals the rule of thumb $6N + 12LTC$ (PaLM, Chowdhery et al. 2022, appendix B) with $N$ the
# parameters of the matmul weights ($12LC^2$ plus the $VC$ head) — the estimate `benchmarks/bench_gpt.py`
# uses for the model FLOPs utilisation.

# %%
for L, C, T, V in ((3, 96, 64, 81), (2, 32, 16, 50)):
    assert train_flops_per_token(L, C, T, V) == 6 * (12 * L * C * C + V * C) + 12 * L * T * C
print("exercise 3: OK")

# %% [markdown]
# ## Summary
#
# * A GPT is embeddings, $L$ pre-LayerNorm blocks of causal attention + MLP, and a tied head; built from
#   the layers of the earlier lessons it equals the library's model, whose state dict moves to and from
#   PyTorch unchanged.
# * `train_gpt` is one visible loop: micro-batches under `no_sync`, the DDP average inside the last
#   `loss.backward()`, clip, AdamW, `zero_grad(set_to_none=True)`; 2 ranks reach well below the unigram
#   loss in 150 steps, and QSGD does as well on a small fraction of the bytes.
# * Clipping rescues SGD from loss spikes; AdamW's per-coordinate normalisation already bounds its steps.
# * Try it: `python -m minigrad.examples.train_gpt` (a few minutes), or
#   `mpiexec -n 4 python -m minigrad.examples.train_gpt --grad-accum 2 --compress qsgd`.
