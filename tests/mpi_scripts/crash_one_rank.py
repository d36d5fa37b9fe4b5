"""Run under `mpiexec -n p python crash_one_rank.py PID_DIR`: rank 1 dies, the others wait for it.

Each rank writes its process id to PID_DIR, then rank 1 raises while every
other rank is already blocked in an all-reduce that needs rank 1. Without the
abort hook that `dist.init()` installs, they would wait forever.
"""
import os
import sys

import numpy as np

import minigrad.distributed as dist

rank = dist.get_rank()
with open(os.path.join(sys.argv[1], f"rank{rank}.pid"), "w") as f:
    f.write(str(os.getpid()))
dist.barrier()
if rank == 1:
    raise RuntimeError("deliberate failure on rank 1")
dist.all_reduce(np.ones(1000))
print(f"rank {rank}: finished", flush=True)      # must never be printed
