"""Lesson 05, section 1: all-reduce, broadcast and all-gather on real processes.

    mpiexec -n 4 python lessons/mpi/collectives.py

Rank r holds x_r = (r + 1) * [0, 1, 2, 3, 4]. Rank 0 prints one JSON line with
every result, and MPI's own Allreduce of the same vectors for comparison.
"""
import json

import numpy as np
from mpi4py import MPI

import minigrad.distributed as dist

rank, p = dist.get_rank(), dist.get_world_size()
x = np.arange(5.0) * (rank + 1)
total = dist.all_reduce(x.copy(), op="sum")
mean = dist.all_reduce(x.copy(), op="mean")
biggest = dist.all_reduce(x.copy(), op="max")
mpi = x.copy()
MPI.COMM_WORLD.Allreduce(MPI.IN_PLACE, mpi, op=MPI.SUM)       # MPI's own answer
from_last = dist.broadcast(x.copy(), src=p - 1)
gathered = dist.all_gather(np.array([rank * 10.0]))
if rank == 0:
    print(json.dumps(dict(p=p, sum=total.tolist(), mean=mean.tolist(), max=biggest.tolist(),
                          mpi=mpi.tolist(), broadcast=from_last.tolist(),
                          gathered=[float(g[0]) for g in gathered])))
