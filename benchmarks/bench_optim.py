"""Optimizer step time: minigrad.optim vs torch.optim on the same parameters and gradients (CPU).

The parameter set is one transformer-like block in float32 (about 12.6 M numbers).
Each row times ``step()`` alone (gradients are set once and left in place), median
of several repeats after a warm-up, and prints minigrad / torch (below 1: minigrad
is faster). torch runs its default CPU path (one tensor at a time) and, for
reference, its ``foreach`` path. NumPy's element-wise ops use one core, so torch is
held to one thread too: the comparison is of the update code, not of thread counts.

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

CASES = [
    ("SGD", dict(lr=0.01)),
    ("SGD", dict(lr=0.01, momentum=0.9)),
    ("SGD", dict(lr=0.01, momentum=0.9, nesterov=True, weight_decay=1e-4)),
    ("Adam", dict(lr=1e-3)),
    ("Adam", dict(lr=1e-3, weight_decay=1e-4, amsgrad=True)),
    ("AdamW", dict(lr=1e-3, weight_decay=1e-2)),
]


def median_step_seconds(optimizer):
    for _ in range(WARMUP):
        optimizer.step()
    times = []
    for _ in range(REPEATS):
        start = time.perf_counter()
        optimizer.step()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main():
    torch.set_num_threads(1)
    rng = np.random.default_rng(0)
    values = [rng.standard_normal(s).astype(np.float32) for s in SHAPES]
    grads = [1e-3 * rng.standard_normal(s).astype(np.float32) for s in SHAPES]
    n = sum(v.size for v in values)
    print(f"optimizer step on {len(SHAPES)} float32 tensors, {n / 1e6:.1f} M parameters; "
          f"torch {torch.__version__}, {torch.get_num_threads()} threads; median of {REPEATS}")
    header = f"{'optimizer':<66} {'minigrad ms':>11} {'torch ms':>9} {'foreach ms':>10} {'mg/torch':>9} {'mg/foreach':>10}"
    print(header)
    print("-" * len(header))
    for name, kwargs in CASES:
        mg_params = [mg.tensor(v, requires_grad=True) for v in values]
        for p, g in zip(mg_params, grads):
            p.grad = mg.tensor(g)
        ours = median_step_seconds(getattr(optim, name)(mg_params, **kwargs))
        timings = []
        for foreach in (False, True):
            torch_params = [torch.tensor(v, requires_grad=True) for v in values]
            for p, g in zip(torch_params, grads):
                p.grad = torch.tensor(g)
            timings.append(median_step_seconds(getattr(torch.optim, name)(torch_params, foreach=foreach, **kwargs)))
        label = name + "(" + ", ".join(f"{k}={v}" for k, v in kwargs.items()) + ")"
        print(f"{label:<66} {ours * 1e3:>11.2f} {timings[0] * 1e3:>9.2f} {timings[1] * 1e3:>10.2f} "
              f"{ours / timings[0]:>9.2f} {ours / timings[1]:>10.2f}")


if __name__ == "__main__":
    main()
