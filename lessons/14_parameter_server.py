# ---
# jupyter:
#   jupytext:
#     text_representation:
#       extension: .py
#       format_name: percent
# ---

# %% [markdown]
# # 14 · The parameter server: synchronous, asynchronous and bounded-staleness SGD
#
# Data parallelism with an all-reduce (lesson 05) makes every rank wait for the slowest one at every
# step. The **parameter server** (Dean et al. 2012, "Large Scale Distributed Deep Networks"; Li et al.
# 2014, "Scaling Distributed Machine Learning with the Parameter Server", OSDI) splits the ranks into
# two roles:
#
# * **servers** hold the parameters (with several servers, each holds a contiguous range of the flat
#   parameter vector) and run the optimizer;
# * **workers** compute gradients on their own data, **push** them to the servers and **pull** fresh
#   parameters back.
#
# When may a worker go on? Three answers, three algorithms:
#
# | mode | the server... | a worker waits for |
# |---|---|---|
# | `sync` | waits for one gradient from each of the $W$ workers, applies their mean | the slowest worker, every step |
# | `async` (Downpour, Dean et al. 2012, Sec. 4.1) | applies each gradient the moment it arrives | nobody |
# | `ssp` (Ho et al. 2013, NIPS) | as async, but holds back a worker more than $s$ steps ahead of the slowest | the slowest, only when $s$ ahead |
#
# The price of not waiting is **staleness**: a gradient computed at the parameters of version $v$
# (updates applied so far) is applied at version $v + \tau$,
#
# $$ x_{v+\tau+1} = x_{v+\tau} - \eta\, \nabla f(x_v), \qquad \tau = \text{staleness}. $$
#
# This lesson:
#
# 1. synchronous PS = DDP = big-batch SGD, to the last bits;
# 2. what a delay does to gradient descent: the closed-form stability bound for a fixed delay $\tau$,
#    reproduced just below and just above it;
# 3. with a straggler: time to reach a loss for sync, async and SSP, measured on 5 processes;
# 4. why the server polls two-sided messages rather than letting workers write into its memory.
#
# The code is `minigrad/distributed/ps/` (`server.py` holds the three modes in ~100 lines); the MPI
# programs this lesson runs are in `lessons/mpi/ps_*.py`, printed where they are used.

# %%
import json
import os
import subprocess
import sys
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np

from minigrad.distributed import ps
from minigrad.optim import SGD

HERE = Path(__file__).resolve().parent if "__file__" in globals() else Path.cwd()   # lessons/
MPI_PROGRAMS = HERE / "mpi"
env = dict(os.environ, OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1",   # ranks share the cores
           PATH=str(Path(sys.executable).parent) + os.pathsep + os.environ.get("PATH", ""),
           PYTHONPATH=os.pathsep.join([str(HERE.parent), os.environ.get("PYTHONPATH", "")]))


def run_program(p, name, *args, timeout=120):
    """Run lessons/mpi/<name> on p ranks under mpiexec; its last stdout line, parsed as JSON."""
    result = subprocess.run(["mpiexec", "-n", str(p), sys.executable, str(MPI_PROGRAMS / name), *args],
                            env=env, capture_output=True, text=True, timeout=timeout)
    if result.returncode != 0:
        raise RuntimeError(f"mpiexec failed ({result.returncode}):\n{result.stdout}\n{result.stderr}")
    return json.loads(result.stdout.strip().splitlines()[-1])


def show(name):
    print((MPI_PROGRAMS / name).read_text())

# %% [markdown]
# ## 1 · Synchronous PS = DDP = big-batch SGD
#
# Each of $W$ workers takes $b$ examples of a global batch of $Wb$ and pushes
# $g_w = \nabla \frac1b \sum_{i \in B_w} \ell_i$. The server applies $\frac1W \sum_w g_w$, which is the
# gradient of the mean loss over the whole global batch — the same number DDP's all-reduce produces
# (lesson 05). So three programs must agree: a sync parameter server (rank 0 serves, ranks 1–3 work),
# DDP-style training (ranks 1–3 average with one MPI `Allreduce` and each step locally), and one
# process that sees the whole batch. The program:

# %%
show("ps_sync_vs_ddp.py")
same = run_program(4, "ps_sync_vs_ddp.py")
same

# %% [markdown]
# **CHECK** — all three trajectories (30 steps of SGD with momentum, float64) end within $10^{-12}$ of
# each other, and training did move the parameters and lower the loss.

# %%
assert same["ps_vs_big"] < 1e-12 and same["ddp_vs_big"] < 1e-12 and same["ps_vs_ddp"] < 1e-12, same
assert same["moved"] > 0.05 and same["loss_end"] < 0.5 * same["loss_start"], same

# %% [markdown]
# ## 2 · Delayed gradients on a quadratic
#
# Take $f(x) = \frac h2 x^2$ and a gradient that is always exactly $\tau$ updates old:
#
# $$ x_{t+1} = x_t - \eta h\, x_{t-\tau} \qquad (x_s = x_0 \text{ for } s < 0). $$
#
# It is linear, so $x_t = \sum_k c_k z_k^t$ over the roots of the characteristic polynomial
# $z^{\tau+1} - z^{\tau} + a$ with $a = \eta h$; it converges from every start iff every root has
# $|z| < 1$. For this polynomial that happens exactly when
#
# $$ 0 < \eta h < 2 \sin\frac{\pi}{2(2\tau+1)} \qquad (2,\ 1,\ 0.618,\ 0.445,\ 0.347 \text{ for } \tau = 0..4) $$
#
# (Levin & May 1976; Kuruklis 1994, with the equivalent form $2\cos\frac{\tau\pi}{2\tau+1}$). Without
# delay the bound is the familiar $\eta < 2/h$; a delay $\tau$ shrinks it roughly like $\frac{\pi}{2(2\tau+1)}$.
#
# First an independent look: the largest root modulus from `np.roots`, against $a$, with the closed-form
# bound marked.

# %%
def spectral_radius(a, tau):
    """max |z| over the roots of z^(tau+1) - z^tau + a."""
    coefficients = np.zeros(tau + 2)
    coefficients[0], coefficients[1] = 1.0, -1.0
    coefficients[-1] += a
    return np.abs(np.roots(coefficients)).max()


taus = [0, 1, 2, 4]
a_grid = np.linspace(0.01, 2.2, 400)
plt.figure(figsize=(6, 3.6))
for tau in taus:
    line, = plt.plot(a_grid, [spectral_radius(a, tau) for a in a_grid], label=fr"$\tau$ = {tau}")
    plt.axvline(ps.stability_bound(tau), color=line.get_color(), linestyle=":")
plt.axhline(1.0, color="gray", linewidth=0.8)
plt.ylim(0.4, 1.6)
plt.xlabel(r"$a = \eta h$")
plt.ylabel(r"largest $|z|$")
plt.title("dotted: 2 sin(π / (2(2τ+1)))", fontsize=10)
plt.legend()
plt.show()

# %% [markdown]
# **CHECK** — the roots cross the unit circle exactly at the closed-form bound.

# %%
for tau in taus + [3, 8]:
    bound = ps.stability_bound(tau)
    assert spectral_radius(0.999 * bound, tau) < 1 < spectral_radius(1.001 * bound, tau), tau
    assert np.isclose(spectral_radius(bound, tau), 1.0, atol=1e-9), tau

# %% [markdown]
# Now the same recurrence run through the parameter server's own update code: `ps.ShardState` is
# what a server holds (its parameter range as Tensors and any minigrad optimizer), and
# `ps.run_with_delay` feeds it, at every update, the gradient of the parameters from $\tau$ updates
# ago — what an asynchronous worker does. We run each $\tau$ at $0.95\times$ and $1.05\times$ the
# bound, with three curvatures $h$ of which the largest decides.

# %%
h = np.array([2.0, 0.3, 0.05])
steps = 2000


def delayed_run(tau, factor):
    lr = factor * ps.stability_bound(tau) / h.max()
    state = ps.ShardState(np.ones(3), [(0, 3, (3,))], lambda params: SGD(params, lr=lr))
    trajectory = ps.run_with_delay(state, lambda x: h * x, tau, steps)   # (steps + 1, 3)
    return np.abs(trajectory).max(axis=1), state.record()["staleness"]


fig, axes = plt.subplots(1, len(taus), figsize=(13, 3.2), sharey=True)
runs = {}
for ax, tau in zip(axes, taus):
    for factor in (0.95, 1.05):
        runs[tau, factor] = delayed_run(tau, factor)
        ax.semilogy(runs[tau, factor][0], label=f"{factor} × bound")
    ax.set_title(fr"$\tau$ = {tau}: bound {ps.stability_bound(tau):.3f}", fontsize=10)
    ax.set_xlabel("update t")
axes[0].set_ylabel(r"$\max_i |x_{t,i}|$")
axes[0].legend()
plt.show()

# %% [markdown]
# **CHECK** — below the bound $|x|$ shrinks at least a thousandfold in 2,000 updates, above it grows at
# least a thousandfold, for every $\tau$; and the server's staleness record shows the delay: $\tau$ for
# every update after the first $\tau$.

# %%
for tau in taus:
    below, staleness = runs[tau, 0.95]
    above, _ = runs[tau, 1.05]
    assert below[-1] < 1e-3 and above[-1] > 1e3, (tau, below[-1], above[-1])
    assert np.array_equal(staleness, np.minimum(np.arange(steps), tau)), tau

# %% [markdown]
# ## 3 · A straggler: time to reach a loss
#
# One server, four workers, the example's MLP regression (`python -m minigrad.examples.param_server`).
# Every step "computes" for 10 ms (a sleep, so the result does not depend on how busy this machine's
# two cores are), and one worker is twice as slow:
#
# * **one**: the same worker (rank 4) at every step — a slower machine;
# * **random**: at each step a different, random worker — a transient hiccup that moves around.
#
# In sync mode every step lasts as long as its slowest worker: 20 ms in both cases. Async workers never
# wait. SSP ($s = 3$) lets the fast run up to 3 steps ahead. Learning rates: sync applies the mean of 4
# gradients with $\eta = 0.2$; async and SSP apply each gradient with $\eta / 4$ (the same step per
# example seen). The program trains 80 steps per worker in each of the 6 settings; the server keeps its
# parameters after every update, with the time, and evaluates the loss on all 2,048 examples at the end.

# %%
show("ps_time_to_loss.py")
curves = run_program(5, "ps_time_to_loss.py", "80", timeout=240)
modes = ["sync", "async", "ssp"]
target = 0.12


def time_to(curve, loss):
    """The first time the loss is at or below ``loss`` (inf if never)."""
    t, values = np.array(curve["t"]), np.array(curve["loss"])
    reached = np.flatnonzero(values <= loss)
    return t[reached[0]] if reached.size else np.inf


fig, axes = plt.subplots(1, 2, figsize=(11, 3.6), sharey=True)
for ax, straggler in zip(axes, curves):
    for mode in modes:
        c = curves[straggler][mode]
        ax.plot(c["t"], c["loss"], label=f"{mode}: {time_to(c, target):.2f} s to {target}")
    ax.axhline(target, color="gray", linestyle=":")
    ax.set_ylim(0.05, 0.4)
    ax.set_xlabel("seconds")
    ax.set_title(f"straggler: {straggler}", fontsize=10)
    ax.legend(fontsize=8)
axes[0].set_ylabel("loss on all examples")
plt.show()

print(f"{'straggler':>9} {'mode':>5} {'time to loss':>12} {'speed-up':>8} {'staleness mean/max':>18} "
      f"{'largest lead':>12}")
for straggler in curves:
    base = time_to(curves[straggler]["sync"], target)
    for mode in modes:
        c = curves[straggler][mode]
        print(f"{straggler:>9} {mode:>5} {time_to(c, target):11.2f}s {base / time_to(c, target):7.2f}x "
              f"{c['staleness_mean']:12.2f} / {c['staleness_max']:<3} {c['lead_max']:>12}")

# %% [markdown]
# What to expect, in gradients per second: sync handles 4 gradients per 20 ms round. Async, with the
# fixed straggler, gets $3 \times 1/10 + 1/20$ per ms — 1.75× as many; with the moving one every worker
# averages $1.25 \times 10$ ms per step — 1.6×. Stale gradients help less than fresh ones, so the
# speed-up in time-to-loss is smaller than that. SSP is the interesting one: against a **fixed**
# straggler the fast workers soon sit $s$ steps ahead and then wait at every step, so after a head
# start SSP runs at the straggler's pace like sync. Against a **moving** straggler the slack of $s$
# steps absorbs the hiccups and SSP runs almost like async, with staleness bounded.
#
# **CHECK** — async reaches the target loss sooner than sync with either straggler; SSP does with the
# moving one; SSP's lead never exceeds $s = 3$ while async's does (with the fixed straggler the fast
# workers run far ahead); sync's gradients are never stale.

# %%
for straggler in curves:
    sync_time = time_to(curves[straggler]["sync"], target)
    assert time_to(curves[straggler]["async"], target) < sync_time, straggler
    assert curves[straggler]["ssp"]["lead_max"] <= 3, straggler
    assert curves[straggler]["sync"]["staleness_max"] == 0, straggler
assert time_to(curves["random"]["ssp"], target) < time_to(curves["random"]["sync"], target)
assert curves["one"]["async"]["lead_max"] > 3

# %% [markdown]
# ## 4 · Why not one-sided MPI?
#
# A parameter server looks made for MPI's one-sided operations: a server exposes its parameters in a
# window and workers `MPI_Accumulate` their gradients straight into it, no server code involved. The
# catch is MPI's **progress rule**: an operation on a *passive* target is only guaranteed to make
# progress when the target process itself calls into MPI (MPI-3.1, Sec. 11.7.3). With the PyPI
# `mpich` wheel this project uses, and no asynchronous progress thread (`MPIR_CVAR_ASYNC_PROGRESS=1`
# starts one, at a cost on every MPI call), a worker's accumulate into a server that is busy in its
# optimizer step simply waits until the server next enters MPI. The server must therefore keep calling
# MPI anyway — so `minigrad.distributed.ps` makes that explicit: non-blocking `Isend`/`Irecv` with
# tags, polled with `Test`. Every such wait has a deadline: a worker that dies ends the job through the
# abort hook of `minigrad.distributed`, and a server waiting for a worker that stopped answering
# raises an error naming its rank and ends the job with `MPI_Abort` (`tests/test_param_server.py`
# checks both end every rank within 30 s).

# %% [markdown]
# ## Exercises
#
# **Exercise 1 — find the bound numerically.** Write `largest_stable_step(tau)`: the largest $a = \eta h$
# for which every root of $z^{\tau+1} - z^\tau + a$ lies inside the unit circle, by bisection on
# `spectral_radius` (it is below 1 for small $a > 0$ and above 1 for $a = 2$).

# %%
def largest_stable_step(tau, tol=1e-10):
    lo, hi = 1e-6, 2.0
    while hi - lo > tol:
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if spectral_radius(mid, tau) < 1 else (lo, mid)
    return lo


# %% [markdown]
# **Check 1** — your bisection agrees with $2\sin\frac{\pi}{2(2\tau+1)}$ for $\tau = 3, 5, 10$.

# %%
for tau in (3, 5, 10):
    assert abs(largest_stable_step(tau) - 2 * np.sin(np.pi / (2 * (2 * tau + 1)))) < 1e-7, tau
print("exercise 1: OK")

# %% [markdown]
# **Exercise 2 — async workers and the linear scaling rule.** $W$ equally fast async workers that take
# turns (0, 1, ..., W−1, 0, 1, ...) each read the parameters right after their own push, so every
# gradient is exactly $\tau = W - 1$ updates stale. Sync training with step $\eta h = 1.9$ is stable
# (bound 2). Async with the linear scaling rule uses $\eta h / W$ per gradient. For which of
# $W = 2, 3, 4, 8$ is that stable? Fill in `stable[W]` (True/False).

# %%
stable = {W: 1.9 / W < ps.stability_bound(W - 1) for W in (2, 3, 4, 8)}
stable

# %% [markdown]
# **Check 2** — a run through the server's update code with delay $W - 1$ and step $1.9 / W$ converges
# exactly for the $W$ you marked stable (3,000 updates).

# %%
for W, answer in stable.items():
    state = ps.ShardState(np.ones(1), [(0, 1, (1,))], lambda params: SGD(params, lr=1.9 / W))
    final = abs(ps.run_with_delay(state, lambda x: x, W - 1, 3000)[-1, 0])
    assert (final < 1e-3) == answer and (final > 1e3) == (not answer), (W, answer, final)
print("exercise 2: OK")

# %% [markdown]
# **Exercise 3 — SSP's lead from the record.** The server records, for every applied gradient, its
# sender's *clock gap*: how many steps the sender was ahead of the slowest worker still running. With
# $s = 3$ and the fixed straggler, how large is the largest gap recorded (`largest_gap`)? Reason it
# out from the rule, then compare with the measurement in section 3.

# %%
largest_gap = 3      # the fast workers reach the bound and are held there

# %% [markdown]
# **Check 3**

# %%
assert largest_gap == curves["one"]["ssp"]["lead_max"]
print("exercise 3: OK")

# %% [markdown]
# ## Summary
#
# * A parameter server splits the ranks into servers (parameters, optimizer) and workers (gradients).
#   In sync mode it computes exactly what DDP computes: big-batch SGD.
# * Asynchronous SGD never waits, but applies gradients computed at old parameters. On a quadratic a
#   fixed delay $\tau$ shrinks the stable step to $2\sin\frac{\pi}{2(2\tau+1)}$ — roughly $\frac{\pi}{2\tau}$
#   for large $\tau$ — so async training with as many workers as sync needs smaller steps.
# * With a straggler, async reaches a given loss sooner than sync; SSP bounds the staleness and absorbs
#   stragglers that move around, but a persistently slow worker paces SSP like sync after $s$ steps.
# * MPI's progress rules make the server poll in any case; every wait has a deadline, and a dead or
#   silent rank ends the job with an error that names it.
