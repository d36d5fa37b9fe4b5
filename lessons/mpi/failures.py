"""Lesson 05, section 6: what a failure looks like. Run one scenario; the job must end by itself.

    mpiexec -n 2 python lessons/mpi/failures.py stuck        # rank 1 never arrives: a timeout
    mpiexec -n 2 python lessons/mpi/failures.py extra_call   # rank 0 makes one all-reduce more

Both would hang forever (or mix up data) without minigrad.distributed's checks.
"""
import sys
import time

import numpy as np

import minigrad.distributed as dist

rank = dist.get_rank()
if sys.argv[1] == "stuck":
    if rank == 1:
        time.sleep(60)                            # stuck in a long computation, or deadlocked
    dist.all_reduce(np.ones(4), timeout=2.0)      # a short deadline for the demonstration
elif sys.argv[1] == "extra_call":
    if rank == 0:
        dist.all_reduce(np.ones(4))               # an extra call only rank 0 makes
    dist.all_reduce(np.ones(4))
print(f"rank {rank}: finished", flush=True)       # never printed
