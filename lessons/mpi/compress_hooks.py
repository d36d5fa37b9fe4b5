"""`mpiexec -n 2 python compress_hooks.py [steps]`: one model trained with every compression hook.

Each run: the same initial parameters (DDP broadcasts rank 0's) and the same global batches
(each rank takes its slice), `DistributedDataParallel` with one communication hook, SGD.
After every step the replicas must be bitwise equal (checked with an all-gather of the
parameters; a rank whose replica differs stops with an AssertionError). Rank 0 alone prints,
as JSON on its last line, the number of ranks that finished and, per run: bytes this rank sent for
gradients, the final training loss (mean of the last 20 steps) and the loss on all the data;
and, in float64, how far DGC at density 1 is from momentum SGD (no masking) and plain DDP.
"""
import json
import sys

import numpy as np

import minigrad as mg
import minigrad.distributed as dist
import minigrad.nn.functional as F
from minigrad import optim
from minigrad.compress import DGC, FP16, QSGD, EFSign, PowerSGDState, ScaledSign, TopK
from minigrad.distributed import comm_hooks

STEPS = int(sys.argv[1]) if len(sys.argv) > 1 else 150
BATCH, LR = 32, 0.1                      # per rank
rank, p = dist.get_rank(), dist.get_world_size()


def teacher_task(n=4096, d=32, classes=10, seed=0):
    """Inputs N(0, 1), labels from a random two-layer tanh teacher."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d))
    hidden = np.tanh(X @ rng.standard_normal((d, 64)) / np.sqrt(d))
    return X.astype(np.float32), np.argmax(hidden @ rng.standard_normal((64, classes)), axis=1)


X, y = teacher_task()
RUNS = {   # name: (hook, state factory, optimizer momentum)
    "dense": (comm_hooks.allreduce_hook, lambda: None, 0.9),
    "fp16": (comm_hooks.compressor_hook, FP16, 0.9),
    "qsgd s=4": (comm_hooks.compressor_hook, lambda: QSGD(4, 512, seed=rank), 0.9),
    "topk 1% + EF": (comm_hooks.compressor_hook, lambda: TopK(0.01), 0.9),
    "sign, no EF": (comm_hooks.compressor_hook, ScaledSign, 0.9),
    "EF-sign": (comm_hooks.compressor_hook, EFSign, 0.9),
    "DGC 99%": (comm_hooks.dgc_hook, lambda: DGC(sparsity=0.99, momentum=0.9, clip_norm=5.0,
                                                 warmup_steps=10), 0.0),
    "PowerSGD r=1": (comm_hooks.powerSGD_hook,
                     lambda: PowerSGDState(None, matrix_approximation_rank=1, start_powerSGD_iter=10), 0.9),
    "PowerSGD r=4": (comm_hooks.powerSGD_hook,
                     lambda: PowerSGDState(None, matrix_approximation_rank=4, start_powerSGD_iter=10), 0.9),
}


def replicas_equal(model):
    flat = np.concatenate([q.data.reshape(-1) for q in model.parameters()])
    gathered = dist.all_gather(flat)
    return all(np.array_equal(gathered[0], other) for other in gathered[1:])


results = {}
for name, (hook, make_state, momentum) in RUNS.items():
    mg.manual_seed(1)
    net = mg.nn.Sequential(mg.nn.Linear(32, 128), mg.nn.Tanh(), mg.nn.Linear(128, 10))
    model = dist.DistributedDataParallel(net)
    model.register_comm_hook(make_state(), hook)
    opt = optim.SGD(model.parameters(), lr=LR, momentum=momentum)
    order = np.random.default_rng(2)
    losses = []
    for step in range(STEPS):
        rows = order.choice(len(X), BATCH * p, replace=False)[rank * BATCH:(rank + 1) * BATCH]
        loss = F.cross_entropy(model(mg.tensor(X[rows])), mg.tensor(y[rows]))
        loss.backward()
        opt.step()
        opt.zero_grad()
        losses.append(float(loss.item()))
        assert replicas_equal(net), f"{name}: replicas differ after step {step}"
    with mg.no_grad():
        full = float(F.cross_entropy(net(mg.tensor(X)), mg.tensor(y)).item())
    results[name] = {"bytes": model.bytes_sent, "loss": float(np.mean(losses[-20:])), "full_loss": full}



def float64_run(hook, state, momentum, steps=20):
    """Parameters after `steps` float64 steps of DDP with `hook`, SGD(lr, momentum)."""
    mg.manual_seed(3)
    net = mg.nn.Sequential(mg.nn.Linear(32, 16, dtype=mg.float64), mg.nn.Tanh(),
                           mg.nn.Linear(16, 10, dtype=mg.float64))
    model = dist.DistributedDataParallel(net)
    model.register_comm_hook(state, hook)
    opt = optim.SGD(model.parameters(), lr=LR, momentum=momentum)
    for step in range(steps):
        rows = np.arange(step * BATCH * p, (step + 1) * BATCH * p)[rank * BATCH:(rank + 1) * BATCH]
        F.cross_entropy(model(mg.tensor(X[rows].astype(np.float64))), mg.tensor(y[rows])).backward()
        opt.step()
        opt.zero_grad()
    return np.concatenate([q.data.reshape(-1) for q in net.parameters()])


# DGC at density 1 without masking is momentum SGD; without momentum it is plain DDP (float64)
dense_momentum = float64_run(comm_hooks.allreduce_hook, None, 0.9)
dense_plain = float64_run(comm_hooks.allreduce_hook, None, 0.0)
equivalence = {
    "DGC density 1, no masking vs momentum SGD": float(np.abs(float64_run(
        comm_hooks.dgc_hook, DGC(sparsity=0, momentum=0.9, momentum_masking=False), 0.0)
        - dense_momentum).max()),
    "DGC density 1, momentum 0 vs plain DDP": float(np.abs(float64_run(
        comm_hooks.dgc_hook, DGC(sparsity=0, momentum=0.0), 0.0) - dense_plain).max()),
}

finished = dist.all_gather(np.ones(1))        # every rank got here: its replicas stayed equal
if rank == 0:                                  # only rank 0 prints (mpiexec may interleave ranks' lines)
    print(json.dumps({"ranks": p, "ranks_with_equal_replicas": int(sum(f[0] for f in finished)),
                      "steps": STEPS, "results": results, "equivalence": equivalence}), flush=True)
