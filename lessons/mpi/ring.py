"""Lesson 05, section 2: minigrad's ring all-reduce against MPI's Allreduce, and the bytes it sends.

    mpiexec -n 4 python lessons/mpi/ring.py

10^6 + 3 float32 small integers (every sum exact), so the ring must equal MPI
bit for bit. Rank 0 prints one JSON line: the bytes each rank sent, and
whether each rank's result equals MPI's.
"""
import json

import numpy as np
from mpi4py import MPI

import minigrad.distributed as dist

rank, p = dist.get_rank(), dist.get_world_size()
n = 1_000_003
x = np.random.default_rng(rank).integers(-1000, 1000, n).astype(np.float32)
reference = x.copy()
MPI.COMM_WORLD.Allreduce(MPI.IN_PLACE, reference, op=MPI.SUM)
dist.traffic.reset()
dist.ring_all_reduce(x)
sent = MPI.COMM_WORLD.gather(dist.traffic.bytes_sent)
equal = MPI.COMM_WORLD.gather(bool(np.array_equal(x, reference)))
if rank == 0:
    print(json.dumps(dict(p=p, n=n, sent=sent, equal=equal)))
