"""Lesson 05, section 5: when does each bucket's all-reduce run, against the backward pass?

    mpiexec -n 2 python lessons/mpi/ddp_timeline.py

An MLP of 6 Linear(256, 256) layers wrapped in DistributedDataParallel with
one bucket per layer. Our own post-accumulate-grad hooks note when each
parameter's gradient is ready; ``model.timeline`` notes when each bucket's
all-reduce starts and when DDP sees it finished (at its next hook, or in the
final wait: an upper bound). Then the same gradients are
synchronised with one all-reduce per tensor (bucket_cap_mb=0) and with one
flat bucket, to time the two. Rank 0 prints one JSON line; times in seconds
from the start of backward.
"""
import json
import time

import numpy as np

import minigrad as mg
import minigrad.distributed as dist
from minigrad import nn

rank = dist.get_rank()
WIDTH, LAYERS = 256, 6


def make_mlp():
    mg.manual_seed(0)
    layers = []
    for _ in range(LAYERS):
        layers += [nn.Linear(WIDTH, WIDTH), nn.Tanh()]
    return nn.Sequential(*layers)


x = mg.tensor(np.random.default_rng(rank).standard_normal((512, WIDTH)).astype(np.float32))

# 1. the timeline of one training step
mlp, ready = make_mlp(), {}
for name, param in mlp.named_parameters():   # registered before DDP's own hooks, so they run first
    param.register_post_accumulate_grad_hook(lambda t, name=name: ready.setdefault(name, time.perf_counter()))
model = dist.DistributedDataParallel(mlp, bucket_cap_mb=(WIDTH + 1) * WIDTH * 4 / 2**20)  # a Linear per bucket
model(x).sum().backward()                                  # warm-up
for _ in range(3):                                         # keep the last of three steps
    model.zero_grad()
    ready.clear()
    model.timeline = []
    loss = model(x).sum()
    dist.barrier()
    start = time.perf_counter()
    loss.backward()
    end = time.perf_counter()
timeline = {"backward": [0.0, end - start],
            "ready": {name: t - start for name, t in ready.items()},
            "buckets": [[index, event, t - start] for index, event, t in model.timeline],
            "bucket_names": [bucket.names for bucket in model.buckets]}

# 2. naive (one all-reduce per tensor) against one flat bucket, on the same gradients
seconds = {}
for label, cap in (("naive", 0), ("flat", 25)):
    ddp = dist.DistributedDataParallel(make_mlp(), bucket_cap_mb=cap)
    ddp(x).sum().backward()
    grads = [q.grad.data.copy() for q in ddp.parameters()]
    times = []
    for _ in range(5):
        for q, g in zip(ddp.parameters(), grads):
            q.grad.data[...] = g
        dist.barrier()
        t0 = time.perf_counter()
        ddp.sync_gradients()
        times.append(time.perf_counter() - t0)
    seconds[label] = {"buckets": len(ddp.buckets), "seconds": float(np.median(times))}
if rank == 0:
    print(json.dumps(dict(timeline=timeline, sync=seconds)))
