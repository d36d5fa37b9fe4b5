"""Optimizer step time: minigrad.optim vs torch.optim on the same parameters and gradients (CPU).

The parameter set is one transformer-like block in float32 (about 12.6 M numbers).
Each row times ``step()`` alone (gradients are set once and left in place): the
implementations take turns, one step each, so a burst of load on a shared machine
hits all of them; the median of several turns after a warm-up is reported, and
minigrad / reference (below 1: minigrad is faster). torch runs its default CPU path
(one tensor at a time) and, for reference, its ``foreach`` path. NumPy's
element-wise ops use one core, so torch is held to one thread too: the comparison
is of the update code, not of thread counts.

torch has no LARS or LAMB; their rows compare with the same algorithm written the
obvious way in NumPy (``w -= lr * ...``, one temporary per operation), and the
last lines give their time relative to minigrad's own Adam step.

    python benchmarks/bench_optim.py
"""
import statistics
import time

import numpy as np
import torch

import minigrad as mg
from minigrad import optim

SHAPES = [(1024, 1024)] * 4 + [(4096, 1024), (1024, 4096), (4096,), (1024,), (1024,), (1024,)]
REPEATS, WARMUP = 9, 2

TORCH_CASES = [
    ("SGD", dict(lr=0.01)),
    ("SGD", dict(lr=0.01, momentum=0.9)),
    ("SGD", dict(lr=0.01, momentum=0.9, nesterov=True, weight_decay=1e-4)),
    ("Adam", dict(lr=1e-3)),
    ("Adam", dict(lr=1e-3, weight_decay=1e-4, amsgrad=True)),
    ("AdamW", dict(lr=1e-3, weight_decay=1e-2)),
    ("Adagrad", dict(lr=1e-2)),
    ("Adagrad", dict(lr=1e-2, lr_decay=1e-3, weight_decay=1e-4)),
    ("RMSprop", dict(lr=1e-3)),
    ("RMSprop", dict(lr=1e-3, momentum=0.9, centered=True, weight_decay=1e-4)),
]


class NaiveLARS:
    """You et al. 2017, Algorithm 1, written the obvious NumPy way."""

    def __init__(self, params, grads, lr=1.0, momentum=0.9, weight_decay=5e-4, eta=0.001):
        self.params, self.grads, self.hyper = params, grads, (lr, momentum, weight_decay, eta)
        self.velocity = [np.zeros_like(p) for p in params]

    def step(self):
        lr, m, wd, eta = self.hyper
        for i, (w, g) in enumerate(zip(self.params, self.grads)):
            w_norm = np.linalg.norm(w)
            local = eta * w_norm / (np.linalg.norm(g) + wd * w_norm)
            self.velocity[i] = m * self.velocity[i] + lr * local * (g + wd * w)
            w -= self.velocity[i]


class NaiveLAMB:
    """You et al. 2019, Algorithm 2 (phi = identity), written the obvious NumPy way."""

    def __init__(self, params, grads, lr=1e-3, betas=(0.9, 0.999), eps=1e-6, weight_decay=1e-2):
        self.params, self.grads, self.hyper = params, grads, (lr, *betas, eps, weight_decay)
        self.m = [np.zeros_like(p) for p in params]
        self.v = [np.zeros_like(p) for p in params]
        self.t = 0

    def step(self):
        lr, beta1, beta2, eps, wd = self.hyper
        self.t += 1
        for i, (x, g) in enumerate(zip(self.params, self.grads)):
            self.m[i] = beta1 * self.m[i] + (1 - beta1) * g
            self.v[i] = beta2 * self.v[i] + (1 - beta2) * g * g
            r = (self.m[i] / (1 - beta1 ** self.t)) / (np.sqrt(self.v[i] / (1 - beta2 ** self.t)) + eps)
            update = r + wd * x
            x -= lr * np.linalg.norm(x) / np.linalg.norm(update) * update


NUMPY_CASES = [
    ("LARS", dict(lr=1.0, momentum=0.9, weight_decay=5e-4), NaiveLARS),
    ("LAMB", dict(lr=1e-3, weight_decay=1e-2), NaiveLAMB),
]


def minigrad_optimizer(name, kwargs, values, grads):
    params = [mg.tensor(v, requires_grad=True) for v in values]
    for p, g in zip(params, grads):
        p.grad = mg.tensor(g)
    return getattr(optim, name)(params, **kwargs)


def torch_optimizer(name, kwargs, values, grads, foreach):
    params = [torch.tensor(v, requires_grad=True) for v in values]
    for p, g in zip(params, grads):
        p.grad = torch.tensor(g)
    return getattr(torch.optim, name)(params, foreach=foreach, **kwargs)


def median_step_seconds(*optimizers):
    """Median step time of each optimizer; they take turns, one step each."""
    for _ in range(WARMUP):
        for opt in optimizers:
            opt.step()
    times = [[] for _ in optimizers]
    for _ in range(REPEATS):
        for opt, seconds in zip(optimizers, times):
            start = time.perf_counter()
            opt.step()
            seconds.append(time.perf_counter() - start)
    return [statistics.median(seconds) for seconds in times]


def label(name, kwargs):
    return name + "(" + ", ".join(f"{k}={v}" for k, v in kwargs.items()) + ")"


def main():
    torch.set_num_threads(1)
    rng = np.random.default_rng(0)
    values = [rng.standard_normal(s).astype(np.float32) for s in SHAPES]
    grads = [1e-3 * rng.standard_normal(s).astype(np.float32) for s in SHAPES]
    n = sum(v.size for v in values)
    print(f"optimizer step on {len(SHAPES)} float32 tensors, {n / 1e6:.1f} M parameters; "
          f"torch {torch.__version__}, {torch.get_num_threads()} threads; median of {REPEATS}, taking turns")
    header = (f"{'optimizer':<76} {'minigrad ms':>11} {'ref ms':>8} {'foreach ms':>10} "
              f"{'mg/ref':>7} {'mg/foreach':>10}")
    print(header)
    print("-" * len(header))
    for name, kwargs in TORCH_CASES:
        ours, theirs, foreach = median_step_seconds(
            minigrad_optimizer(name, kwargs, values, grads),
            torch_optimizer(name, kwargs, values, grads, foreach=False),
            torch_optimizer(name, kwargs, values, grads, foreach=True))
        print(f"{label(name, kwargs) + ' vs torch':<76} {ours * 1e3:>11.2f} {theirs * 1e3:>8.2f} "
              f"{foreach * 1e3:>10.2f} {ours / theirs:>7.2f} {ours / foreach:>10.2f}")
    adam_ms = median_step_seconds(minigrad_optimizer("Adam", dict(lr=1e-3), values, grads))[0]
    layerwise = []
    for name, kwargs, naive in NUMPY_CASES:
        ours, theirs = median_step_seconds(
            minigrad_optimizer(name, kwargs, values, grads),
            naive([v.copy() for v in values], grads, **kwargs))
        layerwise.append((name, ours))
        print(f"{label(name, kwargs) + ' vs naive NumPy':<76} {ours * 1e3:>11.2f} {theirs * 1e3:>8.2f} "
              f"{'-':>10} {ours / theirs:>7.2f} {'-':>10}")
    for name, ours in layerwise:
        print(f"{name} step / minigrad Adam step ({adam_ms * 1e3:.2f} ms): {ours / adam_ms:.2f}")


if __name__ == "__main__":
    main()
