"""Run under `mpiexec -n p python faults.py SCENARIO`: one fault; the whole job must end, non-zero.

tests/test_distributed.py runs each scenario with MINIGRAD_COLLECTIVE_TIMEOUT
set short and checks that every rank is gone within 30 s and that stderr names
the rank and the cause. A rank that reaches the end prints "rank r: finished",
which must never appear.
"""
import os
import signal
import sys
import time

import numpy as np

import minigrad as mg
import minigrad.distributed as dist
import minigrad.nn.functional as F
from minigrad import nn
from minigrad.compress import FP16
from minigrad.distributed.comm_hooks import compressor_hook

scenario = sys.argv[1]
rank, p = dist.get_rank(), dist.get_world_size()


def model():
    mg.manual_seed(0)
    return dist.DistributedDataParallel(nn.Sequential(nn.Linear(4, 8), nn.Tanh(), nn.Linear(8, 2)))


def train_step(ddp):
    x = mg.tensor(np.full((3, 4), float(rank + 1), dtype=np.float32))
    F.mse_loss(ddp(x), mg.zeros(3, 2)).backward()


if scenario == "raise_before_ddp":            # fails before any collective: the others build DDP
    if rank == 1:
        raise RuntimeError("deliberate failure on rank 1 before DistributedDataParallel")
    model()
elif scenario in ("exit_0", "exit_3"):        # leaves while the others go into an all-reduce
    if rank == 1:
        sys.exit(int(scenario[-1]))
    dist.all_reduce(np.ones(10))
elif scenario == "replaced_excepthook":       # another library took sys.excepthook over
    sys.excepthook = lambda kind, value, tb: sys.stderr.write(f"other library's hook: {value}\n")
    if rank == 1:
        raise ValueError("deliberate failure on rank 1 after the excepthook was replaced")
    dist.all_reduce(np.ones(10))
elif scenario == "stuck_rank":                 # never arrives: the others time out
    if rank == 1:
        time.sleep(120)
    dist.all_reduce(np.ones(10))
elif scenario == "killed":
    if rank == 1:
        os.kill(os.getpid(), signal.SIGKILL)
    dist.all_reduce(np.ones(10))
elif scenario == "extra_all_reduce":           # one rank makes one more call of the same size
    if rank == 0:
        dist.all_reduce(np.ones(3))
    dist.all_reduce(np.ones(3))
elif scenario == "size_mismatch":
    dist.all_reduce(np.ones(10 + rank))
elif scenario == "extra_step":                 # an uneven shard: rank 0 has one more batch
    ddp = model()
    for step in range(3 if rank == 0 else 2):
        train_step(ddp)
    dist.all_reduce(np.ones(1))                # e.g. averaging the epoch's loss
elif scenario == "no_sync_one_rank":
    ddp = model()
    for micro in range(2):
        if micro == 0 and rank == 0:
            with ddp.no_sync():
                train_step(ddp)
        else:
            train_step(ddp)
elif scenario == "hook_one_rank":
    ddp = model()
    if rank == 0:
        ddp.register_comm_hook(FP16(), compressor_hook)
    train_step(ddp)
elif scenario == "unused_parameter":           # find_unused_parameters=False, as PyTorch's default
    from two_heads import TwoHeads
    ddp = dist.DistributedDataParallel(TwoHeads())
    ddp(mg.ones(3, 4)).sum().backward()
else:
    raise SystemExit(f"unknown scenario {scenario!r}")
dist.barrier()
print(f"rank {rank}: finished", flush=True)
