# ---
# jupyter:
#   jupytext:
#     text_representation:
#       extension: .py
#       format_name: percent
# ---

# %% [markdown]
# # 05 · Data parallelism over MPI
#
# One GPU or CPU is too slow for a big model, so we train on $p$ of them at once. The simplest way —
# and still the workhorse of large-model training — is **data parallelism**: every process ("rank")
# holds a full copy of the model, takes its own share of each batch, computes the gradient of its
# share, and then all ranks **average their gradients** before every one of them takes the same
# optimizer step. If rank $r$ computes $g_r = \nabla \frac1b \sum_{i \in B_r} \ell_i$ on its $b$ examples,
#
# $$ \frac1p \sum_{r=0}^{p-1} g_r \;=\; \nabla \frac{1}{pb} \sum_{i \in B_0 \cup \dots \cup B_{p-1}} \ell_i , $$
#
# the gradient of the big batch of $pb$ examples. So $p$ ranks running data-parallel SGD compute
# *exactly* big-batch SGD — $p$ times as fast per step, minus the time spent averaging.
#
# The averaging is one collective operation, the **all-reduce**. This lesson:
#
# 1. all-reduce and its friends on real processes, launched with `mpiexec`,
# 2. the **ring all-reduce**, and why every rank sends only $2\frac{p-1}{p}N$ numbers whatever $p$ is,
# 3. time against message size: when MPI's own algorithm wins and when the ring does,
# 4. what a bigger batch buys: gradient variance against $1/B$,
# 5. `DistributedDataParallel` as PyTorch users write it: the averaging hides inside `loss.backward()`,
# 6. buckets, and a timeline of when each bucket's all-reduce runs against the backward pass,
# 7. what a failure looks like (a rank that never arrives; ranks that disagree),
# 8. big batches need bigger learning rates: the linear scaling rule and warm-up.
#
# The MPI programs this lesson runs are real files in `lessons/mpi/`, printed where they are used.
# The library code is in `minigrad/distributed/`.

# %%
import json
import os
import subprocess
import sys
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import torch

import minigrad as mg
import minigrad.distributed as dist
import minigrad.nn.functional as F
from minigrad import nn

torch.set_num_threads(1)
HERE = Path(__file__).resolve().parent if "__file__" in globals() else Path.cwd()   # lessons/
MPI_PROGRAMS = HERE / "mpi"
env = dict(os.environ, OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1",   # ranks share the cores
           PATH=str(Path(sys.executable).parent) + os.pathsep + os.environ.get("PATH", ""),
           PYTHONPATH=os.pathsep.join([str(HERE.parent), os.environ.get("PYTHONPATH", "")]))


def mpirun(p, *command, check=True, timeout=120):
    """`mpiexec -n p python command...`; the completed process (its stdout, stderr, return code)."""
    result = subprocess.run(["mpiexec", "-n", str(p), sys.executable, *command], env=env,
                            capture_output=True, text=True, timeout=timeout)
    if check and result.returncode != 0:
        raise RuntimeError(f"mpiexec failed ({result.returncode}):\n{result.stdout}\n{result.stderr}")
    return result


def run_program(p, name, *args):
    """Run lessons/mpi/<name> on p ranks; rank 0's last stdout line, parsed as JSON."""
    result = mpirun(p, str(MPI_PROGRAMS / name), *args)
    return json.loads(result.stdout.strip().splitlines()[-1])


def show(name):
    print((MPI_PROGRAMS / name).read_text())

# %% [markdown]
# ## 1 · All-reduce, broadcast, all-gather
#
# With $p$ ranks each holding a vector $x_r$ of the same length:
#
# | collective | every rank ends with |
# |---|---|
# | `all_reduce(x, op="sum")` | $x_0 + x_1 + \dots + x_{p-1}$ (also `"mean"`, `"max"`, `"min"`), in place |
# | `broadcast(x, src=0)` | $x_{src}$, in place |
# | `all_gather(x)` | the list $[x_0, \dots, x_{p-1}]$ |
#
# In this notebook there is no launcher, so the world is one process and every collective is the
# identity. `mpiexec -n 4 python program.py` starts four copies of a program, and
# `minigrad.distributed` finds the others through MPI. The program:

# %%
print("in the notebook: rank", dist.get_rank(), "of", dist.get_world_size())
x = np.arange(4.0)
assert dist.all_reduce(x) is x and np.array_equal(x, np.arange(4.0))   # one rank: identity
show("collectives.py")
out = run_program(4, "collectives.py")
out

# %% [markdown]
# **CHECK** — with $x_r = (r+1)\,[0,1,2,3,4]$ on 4 ranks the sum is $(1+2+3+4)\,[0,\dots,4] = 10\,[0,\dots,4]$,
# the mean $2.5\,[0,\dots,4]$, the max $4\,[0,\dots,4]$; minigrad's sum equals MPI's own `Allreduce`.

# %%
base = np.arange(5.0)
assert out["p"] == 4
assert np.array_equal(out["sum"], 10 * base) and np.array_equal(out["sum"], out["mpi"])
assert np.array_equal(out["mean"], 2.5 * base) and np.array_equal(out["max"], 4 * base)
assert np.array_equal(out["broadcast"], 4 * base)            # rank 3's vector
assert out["gathered"] == [0.0, 10.0, 20.0, 30.0]

# %% [markdown]
# ## 2 · The ring all-reduce
#
# How should $p$ ranks add up $p$ vectors of $N$ numbers? Two obvious answers are bad:
#
# * **everyone sends everything to everyone**: each rank sends $(p-1)N$ numbers;
# * **reduce to rank 0, then broadcast**: rank 0 receives $(p-1)N$ numbers and sends $(p-1)N$ — it is
#   the bottleneck, and its link carries $p-1$ times what the others' do.
#
# The **ring** (Patarasuk & Yuan 2009, "Bandwidth optimal all-reduce algorithms for clusters of
# workstations") puts the ranks in a circle; rank $r$ only sends to $r+1$ and receives from $r-1$.
# Cut each vector into $p$ chunks $C_0, \dots, C_{p-1}$ of $N/p$ numbers.
#
# * **Reduce-scatter**, $p-1$ steps: at step $s$ rank $r$ sends chunk $(r-s) \bmod p$ and adds the chunk
#   it receives into its own copy. Each chunk travels once round the ring collecting one
#   contribution per hop; afterwards rank $r$ holds the finished sum of chunk $(r+1) \bmod p$.
# * **All-gather**, $p-1$ steps: the finished chunks travel once more round the ring, copied, not added.
#
# Each rank sends $p-1$ chunks in each phase:
#
# $$ \text{numbers sent per rank} = 2\,\frac{p-1}{p}\,N \;<\; 2N \quad\text{for every } p, $$
#
# and no algorithm can do with less (every rank's data must get out, and the result must get in).
# The price is $2(p-1)$ message latencies, which matters for small messages (section 3).
# Below, the algorithm simulated in one process — a list of arrays plays the ranks.
# `minigrad/distributed/ring.py` is the same loop with `Isend`/`Irecv`.

# %%
def ring_all_reduce_simulated(vectors):
    """vectors[r] is rank r's data; returns every rank's result and the numbers each rank sent."""
    p, n = len(vectors), len(vectors[0])
    bounds = [k * n // p for k in range(p + 1)]          # chunk k = [bounds[k], bounds[k+1])
    chunk = lambda k: slice(bounds[k], bounds[k + 1])
    data = [v.astype(float).copy() for v in vectors]
    sent = [0] * p
    for s in range(p - 1):                                # reduce-scatter
        messages = [(r, (r - s) % p, data[r][chunk((r - s) % p)].copy()) for r in range(p)]
        for r, k, values in messages:                     # all ranks send at once, then add
            data[(r + 1) % p][chunk(k)] += values
            sent[r] += values.size
    for s in range(p - 1):                                # all-gather
        messages = [(r, (r + 1 - s) % p, data[r][chunk((r + 1 - s) % p)].copy()) for r in range(p)]
        for r, k, values in messages:
            data[(r + 1) % p][chunk(k)] = values
            sent[r] += values.size
    return data, sent


rng = np.random.default_rng(0)
for p in range(2, 9):
    for n in (0, 1, p - 1, p + 1, 1000):
        vectors = rng.integers(-100, 100, size=(p, n))
        results, sent = ring_all_reduce_simulated(vectors)
        assert all(np.array_equal(res, vectors.sum(axis=0)) for res in results)
        assert all(abs(s - 2 * (p - 1) / p * n) < 2 for s in sent)     # off only by chunk rounding
print("simulated ring = exact sum, and every rank sends 2(p-1)/p N (+-1 per phase), for p = 2..8")

ps = np.arange(2, 33)
plt.figure(figsize=(6, 3.5))
plt.plot(ps, 2 * (ps - 1) / ps, label="ring (every rank)")
plt.plot(ps, ps - 1, label="all to all (every rank); reduce + broadcast (rank 0)")
plt.yscale("log")
plt.xlabel("ranks p")
plt.ylabel("numbers sent / N")
plt.title("what the busiest rank sends per all-reduce of N numbers", fontsize=10)
plt.legend()
plt.show()

# %% [markdown]
# Now the real ring on 4 processes, for $10^6 + 3$ float32 (not a multiple of 4, so the chunks
# differ by one element). `dist.traffic` counts the bytes each rank sent. The numbers are small
# integers, so every sum is exact in float32 and the ring must match MPI's `Allreduce` bit for bit.

# %%
show("ring.py")
ring_out = run_program(4, "ring.py")
ideal = 2 * (4 - 1) / 4 * ring_out["n"] * 4
print("bytes sent per rank:", ring_out["sent"], " 2(p-1)/p * N * 4 bytes =", ideal)

# %% [markdown]
# **CHECK** — on every rank the ring's result equals MPI's `Allreduce`, and each rank sent
# $2\frac{p-1}{p}N$ float32, up to one element of chunk rounding per phase.

# %%
assert all(ring_out["equal"])
assert all(abs(s - ideal) < 2 * 4 for s in ring_out["sent"])

# %% [markdown]
# ## 3 · Time against message size
#
# A message of $N$ bytes costs about $\alpha + N/\beta$: a fixed latency $\alpha$ plus the bytes over the
# bandwidth $\beta$. For an all-reduce over $p$ ranks,
#
# $$ T_{\text{ring}} \approx 2(p-1)\,\alpha + 2\frac{p-1}{p}\,\frac{N}{\beta}, \qquad
#    T_{\text{tree-like}} \approx c \log_2 p \;\alpha + c' N/\beta \quad (c' \ge 2\tfrac{p-1}{p}). $$
#
# Small messages are all latency, and MPI's recursive-doubling and shared-memory algorithms need
# fewer steps; large messages are all bandwidth, and the ring sends the least. `dist.all_reduce`
# therefore hands small messages to MPI and large ones to the ring, from `RING_THRESHOLD_BYTES`
# $\times (p-1)$ bytes on. Its calls also carry a small safety header (section 7) inside the same
# message, so they cost about what MPI's own call does. The program times the three on 2 ranks
# (the best of 5 trials; on a shared machine the timings are noisy). `benchmarks/bench_allreduce.py`
# does the same more thoroughly, with the targets it must meet.

# %%
show("sweep.py")
sweep = run_program(2, "sweep.py")
sizes = np.array(sweep["sizes"])
plt.figure(figsize=(6, 3.8))
for name, seconds in sweep["table"].items():
    plt.loglog(sizes, 4 * sizes / np.array(seconds) / 1e9, "o-", label=name)
plt.axvline(sweep["threshold"] / 4, color="gray", linestyle=":", label="all_reduce uses the ring from here on")
plt.xlabel("float32 elements N")
plt.ylabel("algorithm bandwidth 4N / t  (GB/s)")
plt.title(f"all-reduce on {sweep['p']} ranks")
plt.legend(fontsize=8)
plt.show()
for name, seconds in sweep["table"].items():
    print(f"{name:>20}: " + "  ".join(f"{s * 1e6:9.0f}us" for s in seconds))

# %% [markdown]
# **CHECK** — small messages are latency-bound: ten times the data costs far less than ten times
# the time, so the bandwidth at $10^4$ elements is at least 1.25 times that at $10^3$ for every method
# (typically 2-5 times; the bar is low because other jobs on a shared machine slow single timings,
# and large messages on a busy machine can lose the rest of the curve's rise).

# %%
for name, seconds in sweep["table"].items():
    bandwidth = sizes / np.array(seconds)
    assert bandwidth[1] > 1.25 * bandwidth[0], (name, seconds)

# %% [markdown]
# ## 4 · What a bigger batch buys: gradient variance against $1/B$
#
# Let $g_i$ be the gradient of example $i$'s loss, $G = \frac1N\sum_i g_i$ the full gradient and
# $\Sigma$ the covariance of the $g_i$, so $\operatorname{tr}\Sigma = \frac1N\sum_i \|g_i - G\|^2$. The mean of $B$
# examples drawn independently (with replacement) has mean $G$ and
#
# $$ \mathbb E\,\|\bar g_B - G\|^2 = \frac{\operatorname{tr}\Sigma}{B} , $$
#
# so $p$ ranks with $b$ examples each average away the noise of one rank by a factor $p$: the
# gradient of batch $pb$. Measured below on a logistic regression: $\operatorname{tr}\Sigma$ from the
# per-example gradients written in closed form with NumPy, $\bar g_B$ from minigrad's `backward`
# on 300 random batches of each size.

# %%
mg.set_default_dtype(np.float64)
var_rng = np.random.default_rng(5)
X_lr = var_rng.standard_normal((2000, 5))
y_lr = (X_lr @ np.array([1.0, -2.0, 0.5, 0.0, 1.5]) + var_rng.standard_normal(2000) > 0).astype(float)
w_now = 0.3 * var_rng.standard_normal(5)                     # the point where we look at the noise

sigmoid = 1 / (1 + np.exp(-X_lr @ w_now))
per_example = (sigmoid - y_lr)[:, None] * X_lr               # (2000, 5): d loss_i / d w, closed form
G = per_example.mean(axis=0)
trace_sigma = ((per_example - G) ** 2).sum(axis=1).mean()


def minibatch_gradient(idx):
    w = mg.tensor(w_now.copy(), requires_grad=True)
    F.binary_cross_entropy_with_logits(mg.tensor(X_lr[idx]) @ w, mg.tensor(y_lr[idx])).backward()
    return w.grad.data


batch_sizes = np.array([1, 2, 4, 8, 16, 32, 64])
measured = np.array([np.mean([((minibatch_gradient(var_rng.integers(0, 2000, B)) - G) ** 2).sum()
                              for _ in range(300)]) for B in batch_sizes])
slope = np.polyfit(np.log(batch_sizes), np.log(measured), 1)[0]
plt.figure(figsize=(5, 3.5))
plt.loglog(batch_sizes, measured, "o", label="measured (300 batches each)")
plt.loglog(batch_sizes, trace_sigma / batch_sizes, "-", label=r"tr$\Sigma$ / B")
plt.xlabel("batch size B")
plt.ylabel(r"E $\|\bar g_B - G\|^2$")
plt.title(f"fitted slope {slope:.3f}", fontsize=10)
plt.legend()
plt.show()

# %% [markdown]
# **CHECK** — every measurement is within 20% of $\operatorname{tr}\Sigma/B$ (300 draws leave about 8% of
# sampling noise), and the fitted log-log slope is $-1 \pm 0.1$.

# %%
assert np.all(np.abs(measured / (trace_sigma / batch_sizes) - 1) < 0.2), measured * batch_sizes / trace_sigma
assert abs(slope + 1) < 0.1, slope

# %% [markdown]
# ## 5 · `DistributedDataParallel`, as PyTorch users write it
#
# First the identity from the introduction, in one process: split a batch of $pb$ examples into $p$
# shards, take the gradient of each shard's mean loss, average — and compare with the gradient of
# the whole batch, in minigrad and in PyTorch.

# %%
rng = np.random.default_rng(1)
p, b = 4, 8
X = rng.standard_normal((p * b, 5))
y = rng.integers(0, 3, p * b)
mg.manual_seed(0)
net = nn.Sequential(nn.Linear(5, 16), nn.Tanh(), nn.Linear(16, 3))


def gradient(idx):
    net.zero_grad()
    F.cross_entropy(net(mg.tensor(X[idx])), mg.tensor(y[idx])).backward()
    return [q.grad.data.copy() for q in net.parameters()]


shards = np.split(np.arange(p * b), p)
averaged = [sum(parts) / p for parts in zip(*[gradient(idx) for idx in shards])]
big_batch = gradient(np.arange(p * b))

torch_net = torch.nn.Sequential(torch.nn.Linear(5, 16), torch.nn.Tanh(), torch.nn.Linear(16, 3)).double()
with torch.no_grad():
    for tq, q in zip(torch_net.parameters(), net.parameters()):
        tq.copy_(torch.from_numpy(q.data))
torch.nn.functional.cross_entropy(torch_net(torch.from_numpy(X)), torch.from_numpy(y)).backward()
torch_grads = [tq.grad.numpy() for tq in torch_net.parameters()]

# %% [markdown]
# **CHECK** — average of the shard gradients = big-batch gradient = PyTorch's, to $10^{-12}$.

# %%
for a, g, t in zip(averaged, big_batch, torch_grads):
    assert np.allclose(a, g, rtol=0, atol=1e-12) and np.allclose(g, t, rtol=0, atol=1e-12)

# %% [markdown]
# The training loop is PyTorch's, unchanged:
#
# ```python
# model = dist.DistributedDataParallel(net)          # rank 0's parameters copied to every rank
# opt = SGD(model.parameters(), lr=lr, momentum=0.9)
# for step in range(steps):
#     with model.no_sync():                          # micro-batch 1: accumulate locally, no traffic
#         (F.cross_entropy(model(x1), y1) / 2).backward()
#     (F.cross_entropy(model(x2), y2) / 2).backward()  # micro-batch 2: the average arrives here
#     clip_grad_norm_(model.parameters(), 1.0)
#     opt.step(); opt.zero_grad()
# ```
#
# How can `loss.backward()` — the engine's own method — average across processes? Through
# **autograd hooks** (Li et al. 2020, "PyTorch Distributed: Experiences on Accelerating Data Parallel
# Training", §3.2.3): DDP registers `param.register_post_accumulate_grad_hook(...)` on every parameter,
# called the moment that parameter's `.grad` has been updated, and from the first hook it queues a
# callback the engine runs once the whole backward pass is over (`engine.queue_callback`). Backward
# visits the layers last to first, so the last layer's gradients are ready first. Watch it in one
# process:

# %%
from minigrad.autograd import engine

events = []
mg.manual_seed(0)
hooked = nn.Sequential(nn.Linear(5, 16), nn.Tanh(), nn.Linear(16, 3))
for name, param in hooked.named_parameters():
    param.register_post_accumulate_grad_hook(lambda t, name=name: events.append(f"{name} ready"))
first_weight = hooked[0].weight
handle = first_weight.register_hook(lambda grad: events.append("0.weight: gradient on its way"))
hooked[2].weight.register_post_accumulate_grad_hook(
    lambda t: engine.queue_callback(lambda: events.append("end of backward")))
F.cross_entropy(hooked(mg.tensor(X)), mg.tensor(y)).backward()
handle.remove()
events

# %% [markdown]
# **CHECK** — the same hooks on the same network in PyTorch fire in the same layer order: last layer
# first, the weight's `register_hook` just before its own accumulation, the queued callback after
# everything. (Within one layer PyTorch's `addmm` hands out the bias's gradient before the weight's;
# minigrad's `F.linear` the other way round. `tests/test_hooks.py` compares exact orders on a graph
# of elementary operations.)

# %%
torch_events = []
torch_hooked = torch.nn.Sequential(torch.nn.Linear(5, 16), torch.nn.Tanh(), torch.nn.Linear(16, 3)).double()
for name, param in torch_hooked.named_parameters():
    param.register_post_accumulate_grad_hook(lambda t, name=name: torch_events.append(f"{name} ready"))
torch_hooked[0].weight.register_hook(lambda grad: torch_events.append("0.weight: gradient on its way"))
torch_hooked[2].weight.register_post_accumulate_grad_hook(lambda t: torch.autograd.Variable._execution_engine
                                                          .queue_callback(lambda: torch_events.append("end of backward")))
torch.nn.functional.cross_entropy(torch_hooked(torch.from_numpy(X)), torch.from_numpy(y)).backward()
print(torch_events)
assert [e[0] for e in events] == [e[0] for e in torch_events]                     # layer by layer
assert events.index("0.weight: gradient on its way") + 1 == events.index("0.weight ready")
assert events[-1] == torch_events[-1] == "end of backward" and sorted(events) == sorted(torch_events)

# %% [markdown]
# The demo `minigrad.examples.ddp_mlp` trains an MLP on 4 ranks with 2 micro-batches per step
# (`no_sync` for the first), global-norm clipping and warm-up, then trains the same model in a
# single process on the concatenated batches and compares:

# %%
demo = mpirun(4, "-m", "minigrad.examples.ddp_mlp", "--epochs", "1", "--accum", "2",
              "--clip", "1.0", "--warmup", "5").stdout
print(demo)
gap = float(next(line for line in demo.splitlines() if "largest parameter difference" in line).split()[-1])

# %% [markdown]
# **CHECK** — after an epoch of data-parallel training, every parameter equals the single-process
# big-batch run to $10^{-10}$ (the remaining difference is the order of floating-point additions).

# %%
assert gap <= 1e-10, gap
assert "check: data-parallel == big-batch SGD to 1e-10: OK" in demo

# %% [markdown]
# ## 6 · Buckets, and communication hidden behind backward
#
# A model has many parameter tensors, many of them small. All-reducing each one on its own pays the
# latency $\alpha$ once per tensor; copying gradients into a few flat buffers (**buckets**,
# `bucket_cap_mb`) pays it once per bucket and gives the transport large messages. DDP fills the
# buckets in *reverse* parameter order, because that is the order backward produces gradients, and
# starts a bucket's all-reduce — non-blocking (`MPI_Iallreduce`) — as soon as its last gradient has
# been accumulated, while backward goes on computing the earlier layers. The end-of-backward
# callback waits for all of them, divides by $p$ and writes `.grad`.
#
# MPICH moves a message only while some MPI call runs on that rank, so DDP also keeps a helper thread
# calling `MPI_Iprobe` while buckets are in flight (NumPy's matrix products release Python's GIL, so
# it runs during them; `minigrad/distributed/progress.py`). The program below records, on 2 ranks, when
# each parameter's gradient is ready (our own hooks) and when each bucket's all-reduce starts and is
# seen finished (`model.timeline`), then times one all-reduce per tensor against one flat bucket.

# %%
show("ddp_timeline.py")
timing = run_program(2, "ddp_timeline.py")
tl = timing["timeline"]
spans = {}
for index, event, t in tl["buckets"]:
    spans.setdefault(index, {})[event] = t
fig, ax = plt.subplots(figsize=(9, 4.2))
ax.barh(-1, tl["backward"][1] * 1e3, left=0, color="lightgray", label="loss.backward() (start to return)")
for index, span in sorted(spans.items()):
    ax.barh(index, (span["end"] - span["start"]) * 1e3, left=span["start"] * 1e3, color="tab:blue",
            label="bucket all-reduce in flight" if index == 0 else None)
    names = tl["bucket_names"][index]
    ax.plot([tl["ready"][name] * 1e3 for name in names], [index] * len(names), "k|", markersize=14,
            label="a gradient of this bucket ready" if index == 0 else None)
ax.set_yticks([-1] + sorted(spans), ["backward"] + [f"bucket {i}" for i in sorted(spans)])
ax.invert_yaxis()
ax.set_xlabel("ms since backward started (rank 0)")
ax.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.18), ncol=3)
fig.tight_layout()
plt.show()
sync = timing["sync"]
print(f"one all-reduce per tensor: {sync['naive']['buckets']} calls, {sync['naive']['seconds'] * 1e3:.2f} ms; "
      f"flat: {sync['flat']['buckets']} calls, {sync['flat']['seconds'] * 1e3:.2f} ms")

# %% [markdown]
# A bar ends when DDP *sees* the all-reduce finished — at its next hook, or in the final wait — so
# its length is an upper bound on the transfer.
#
# **CHECK** — the buckets start in order, each after its own last gradient is ready; all but the
# last start *before* backward has finished computing (the first layer's gradient is the last one
# ready), and every bucket has finished before `loss.backward()` returns.
#
# How much of the communication the overlap hides depends on the machine: between ranks on one
# machine MPI copies through shared memory, which is CPU work competing with backward's matrix
# products for the same cores. `benchmarks/bench_ddp.py` measures the hidden fraction (overlapped
# step against compute plus a blocking all-reduce in sequence) and explains the limits.

# %%
starts = [spans[i]["start"] for i in sorted(spans)]
assert starts == sorted(starts)
for index, span in spans.items():
    assert span["start"] >= max(tl["ready"][name] for name in tl["bucket_names"][index])
    assert span["end"] <= tl["backward"][1]
last_gradient = max(tl["ready"].values())
assert all(spans[i]["start"] < last_gradient for i in sorted(spans)[:-1])

# %% [markdown]
# ## 7 · When something goes wrong
#
# MPI pairs the $k$-th collective call of every rank with the $k$-th of the others, and trusts them
# to match. Two kinds of failure used to hang every rank forever at 100% CPU:
#
# * **a rank never arrives** (a crash that did not abort, a deadlock, an endless computation);
# * **ranks disagree**: one extra `all_reduce` on some rank, an extra training step on an uneven
#   shard, `no_sync()` on one rank only. MPI then adds up the wrong buffers, or stops with
#   "message truncated" on one rank while the others wait.
#
# `minigrad.distributed` numbers every collective and sends a small header — sequence number, kind,
# dtype, size, the line that called it, and for DDP the number of backward passes since the last
# sync — *inside the same message* as the data (each rank writes its column of a table of zeros, the
# all-reduce sums it: an all-gather for free). Every wait has a deadline (`timeout=` per call,
# `dist.set_timeout`, or `MINIGRAD_COLLECTIVE_TIMEOUT`; default 10 minutes), polled with `MPI_Test`;
# a waiting rank that stalls asks the others, point to point, where they are. An uncaught exception
# or `sys.exit` on any rank calls `MPI_Abort`, which ends every rank. Two failures, for real:

# %%
show("failures.py")
for scenario in ("stuck", "extra_call"):
    result = mpirun(2, str(MPI_PROGRAMS / "failures.py"), scenario, check=False, timeout=60)
    lines = [line for line in result.stderr.splitlines() if line.startswith("[minigrad.distributed]")]
    print(f"--- {scenario}: exit status {result.returncode}\n" + "\n".join(lines) + "\n")
    if scenario == "stuck":
        stuck = result
    else:
        extra = result

# %% [markdown]
# **CHECK** — both jobs end by themselves with a non-zero status; the timeout names the collective,
# its number, and rank 1 as the one that never arrived; the extra call is caught at once (the two
# calls came from different lines), not after mixing data.

# %%
assert stuck.returncode != 0 and "finished" not in stuck.stdout
assert "all_reduce(sum) #1 of 4 float64" in stuck.stderr and "timeout of 2 s" in stuck.stderr
assert "ranks [1] never arrived" in stuck.stderr
assert extra.returncode != 0 and "does not match the other ranks' calls" in extra.stderr

# %% [markdown]
# ## 8 · Big batches: the linear scaling rule and warm-up
#
# $p$ ranks with $b$ examples each take steps on batches of $pb$. The gradient of a $k$ times larger
# batch has the same mean and $1/k$ of the variance (section 4), so one big step with learning rate
# $\eta$ moves the weights about as far as *one* small step — and we take $k$ times fewer steps per
# epoch. Goyal et al. (2017, "Accurate, Large Minibatch SGD: Training ImageNet in 1 Hour", §2.1) argue
# that $k$ small steps $w_{t+k} = w_t - \eta \frac1b \sum_{j<k}\sum_{x \in B_{t+j}} \nabla \ell(x, w_{t+j})$ are close
# to one big step when $\nabla \ell(x, w_{t+j}) \approx \nabla \ell(x, w_t)$, which needs the **linear scaling rule**
#
# $$ \eta_{kb} = k\,\eta_b . $$
#
# The approximation fails at the start, when the weights change fast; they **warm up** from $\eta$ to
# $k\eta$ linearly over the first epochs (§2.2, `minigrad.optim.lr_scheduler.LinearWarmup`). Without
# it, their large-minibatch ResNet-50 trained to *worse accuracy* than the small-batch baseline
# (§2.2 and Fig. 2); they do not report it diverging.
#
# Since data-parallel SGD *is* big-batch SGD (section 5), we can study this in one process: the same
# MLP and data as the demo, plain SGD for 2 epochs, batch 32 with $\eta = 0.1$ against batch $32k$, $k = 8$
# (8 ranks of 32, say), with and without the rule.

# %%
from minigrad.examples.ddp_mlp import make_model, synthetic_data
from minigrad.optim import SGD
from minigrad.optim.lr_scheduler import LinearWarmup

X_all, y_all = synthetic_data()
X_t, y_t = mg.tensor(X_all), mg.tensor(y_all)


def train(batch, lr, warmup_steps=0, epochs=2, base_batch=32):
    model = make_model(X_all.shape[1], 32, int(y_all.max()) + 1)
    opt = SGD(model.parameters(), lr=lr)
    schedule = LinearWarmup(opt, warmup_steps, start_factor=base_batch / batch) if warmup_steps else None
    order_rng = np.random.default_rng(0)
    losses, lrs = [], []                                # loss every 512 examples, lr every step
    for epoch in range(epochs):
        order = order_rng.permutation(len(X_all))
        for start in range(0, len(X_all), batch):
            idx = order[start:start + batch]
            F.cross_entropy(model(mg.tensor(X_all[idx])), mg.tensor(y_all[idx])).backward()
            lrs.append(opt.param_groups[0]["lr"])
            opt.step()
            opt.zero_grad()
            if schedule is not None:
                schedule.step()
            if (start + batch) % 512 == 0:
                with mg.no_grad():
                    losses.append(F.cross_entropy(model(X_t), y_t).item())
    return losses, lrs


k, eta, steps_per_epoch = 8, 0.1, len(X_all) // (32 * 8)
styles = {"batch 32, lr 0.1": dict(color="tab:blue", lw=4, alpha=0.5),
          f"batch {32 * k}, lr 0.1 (not scaled)": dict(color="tab:orange", ls="--"),
          f"batch {32 * k}, lr {k * eta:.1f}": dict(color="tab:green"),
          f"batch {32 * k}, lr {k * eta:.1f}, 1 epoch warm-up": dict(color="tab:red", ls=":", lw=2)}
runs = {
    "batch 32, lr 0.1": train(32, eta),
    f"batch {32 * k}, lr 0.1 (not scaled)": train(32 * k, eta),
    f"batch {32 * k}, lr {k * eta:.1f}": train(32 * k, k * eta),
    f"batch {32 * k}, lr {k * eta:.1f}, 1 epoch warm-up": train(32 * k, k * eta, warmup_steps=steps_per_epoch),
}
for name, (losses, _) in runs.items():
    print(f"{name:>38}: loss after epoch 1 {losses[7]:.4f}, epoch 2 {losses[-1]:.4f}")
fig, (left, right) = plt.subplots(1, 2, figsize=(11, 3.8))
for name, (losses, lrs) in runs.items():
    left.plot(np.arange(1, len(losses) + 1) / 8, losses, marker=".", label=name, **styles[name])
    right.plot(np.linspace(0, 2, len(lrs), endpoint=False), lrs, label=name, **styles[name])
left.set_xlabel("epochs"); left.set_ylabel("training loss (all 4096 examples)")
left.legend(fontsize=8)
right.set_xlabel("epochs"); right.set_ylabel("learning rate (linear axis)")
right.set_title("the two lr 0.1 runs coincide (thick blue under dashed orange)", fontsize=9)
right.legend(fontsize=8)
fig.tight_layout()
plt.show()

# %% [markdown]
# **CHECK** — after the same 2 epochs the big batch with the small-batch learning rate is far behind
# (8 times fewer steps of the same size); with $k\eta$ it is within 10% of the small batch, with 8 times
# fewer steps, that is 8 times fewer all-reduces. Warm-up is not needed on this small, well-conditioned
# problem (it costs a little here). Its schedule is the closed form $\eta_t = k\eta\,(f + (1-f)\,t/T)$ with
# $f = 1/k$ — a straight line on the linear axis — the same as PyTorch's `LinearLR(start_factor=1/k, total_iters=T)`.

# %%
small = runs["batch 32, lr 0.1"][0][-1]
unscaled, scaled, warmed = (runs[name][0][-1] for name in list(runs)[1:])
assert unscaled > 1.5 * small
assert scaled < 1.1 * small and warmed < 1.1 * small

warm_lrs = runs[list(runs)[-1]][1]
T = steps_per_epoch
closed_form = [k * eta * (1 / k + (1 - 1 / k) * min(t, T) / T) for t in range(len(warm_lrs))]
torch_opt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=k * eta)
torch_schedule = torch.optim.lr_scheduler.LinearLR(torch_opt, start_factor=1 / k, total_iters=T)
torch_lrs = []
for _ in warm_lrs:
    torch_lrs.append(torch_opt.param_groups[0]["lr"])
    torch_opt.step()
    torch_schedule.step()
assert np.allclose(warm_lrs, closed_form, rtol=1e-12) and np.allclose(warm_lrs, torch_lrs, rtol=1e-12)
assert np.allclose(np.diff(warm_lrs[:T + 1]), k * eta * (1 - 1 / k) / T)   # equal steps: a straight line

# %% [markdown]
# ## Exercises
#
# Each exercise cell ships with a working answer so the lesson runs from top to bottom. Replace it
# with your own and run the check below it: the check compares with an independent reference and
# fails on a wrong answer.
#
# **Exercise 1 — bytes on the wire.** Write `ring_bytes(n, p, itemsize)`: how many bytes rank 0 sends
# in a ring all-reduce of $n$ elements over $p$ ranks, exactly (chunk $k$ is `[k*n//p, (k+1)*n//p)`;
# in the reduce-scatter rank $r$ sends every chunk but $(r+1) \bmod p$, in the all-gather every chunk
# but $(r+2) \bmod p$).

# %%
def ring_bytes(n, p, itemsize):
    sizes = np.diff([k * n // p for k in range(p + 1)])
    return int(itemsize * (2 * n - sizes[1 % p] - sizes[2 % p])) if p > 1 else 0


# %% [markdown]
# **Check 1** — your count equals what the simulated ring sends, for many $n$ and $p$, and what the
# real ring sent on 4 ranks in section 2.

# %%
for p_ in range(2, 7):
    for n_ in (1, 5, 99, 1000):
        _, sent = ring_all_reduce_simulated(np.ones((p_, n_)))
        assert ring_bytes(n_, p_, 8) == 8 * sent[0], (n_, p_)
assert ring_bytes(ring_out["n"], 4, 4) == ring_out["sent"][0]
print("exercise 1: OK")

# %% [markdown]
# **Exercise 2 — which gradients travel together?** Write `bucket_layout(sizes, cap_bytes, itemsize)`:
# given the parameter sizes (elements, in model order), return the buckets as lists of parameter
# indices, the way DDP builds them — parameters taken in *reverse* order, a new bucket whenever the
# next parameter would push the current one past the cap, and the first bucket capped at
# `min(cap_bytes, 2**20)`.

# %%
def bucket_layout(sizes, cap_bytes, itemsize):
    buckets, current, filled, cap = [], [], 0, min(cap_bytes, 2**20)
    for i in reversed(range(len(sizes))):
        nbytes = sizes[i] * itemsize
        if current and filled + nbytes > cap:
            buckets.append(current)
            current, filled, cap = [], 0, cap_bytes
        current.append(i)
        filled += nbytes
    return buckets + [current] if current else buckets


# %% [markdown]
# **Check 2** — your layout equals the one `DistributedDataParallel` builds for three models and caps.

# %%
from minigrad.distributed.buckets import make_buckets

for widths, cap_mb in (((300, 300, 10), 0.5), ((600, 200, 600), 2.0), ((64, 64), 25)):
    layers = [nn.Linear(a, b_) for a, b_ in zip(widths, widths[1:])]
    params = [q for layer in layers for q in layer.parameters()]
    named = [(str(i), q) for i, q in enumerate(params)]
    built = [[int(name) for name in bucket.names] for bucket in make_buckets(named[::-1], int(cap_mb * 2**20),
                                                                                first_cap_bytes=2**20)]
    assert bucket_layout([q.numel() for q in params], int(cap_mb * 2**20), 8) == built, (widths, cap_mb)
print("exercise 2: OK")

# %% [markdown]
# **Exercise 3 — how many examples for a target noise?** With `trace_sigma` from section 4, write
# `batch_for_noise(target)`: the smallest batch size $B$ whose expected squared gradient error
# $\mathbb E\|\bar g_B - G\|^2$ is at most `target`.

# %%
def batch_for_noise(target):
    return int(np.ceil(trace_sigma / target))


# %% [markdown]
# **Check 3** — simulated batches of your size (NumPy, 2,000 draws) meet the target, and one example
# fewer would not in expectation.

# %%
check_rng = np.random.default_rng(11)
for target in (0.01, 0.003):
    B = batch_for_noise(target)
    draws = per_example[check_rng.integers(0, 2000, (2000, B))].mean(axis=1)     # (2000, 5)
    assert ((draws - G) ** 2).sum(axis=1).mean() <= 1.1 * target, (target, B)
    assert trace_sigma / (B - 1) > target, (target, B)
print("exercise 3: OK")

# %% [markdown]
# ## Summary
#
# * An all-reduce leaves the sum (or mean, max) of every rank's vector on every rank. Averaging the
#   gradients of $p$ shards gives exactly the big-batch gradient, whose noise is $1/p$ of one shard's,
#   so data-parallel SGD is big-batch SGD.
# * The ring sends $2\frac{p-1}{p}N$ numbers per rank, the minimum, at the price of $2(p-1)$ latencies:
#   it wins for large messages, MPI's latency-optimised algorithms for small ones.
# * `DistributedDataParallel` averages inside `loss.backward()`: post-accumulate-grad hooks start each
#   bucket's all-reduce as soon as it is complete, an end-of-backward callback finishes them;
#   `no_sync()` accumulates locally; `register_comm_hook` swaps the all-reduce for compression (lesson 06).
# * Collectives are numbered, checked and timed, and a failing rank ends the job: mistakes become
#   errors that name the rank and the call, never a silent mix-up or a hang.
# * Bigger batches need larger learning rates — $k$ times (Goyal et al.), reached by a warm-up, without
#   which their large-batch runs lost accuracy.
