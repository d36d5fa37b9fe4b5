"""Lesson 05, section 3: all-reduce time against message size.

    mpiexec -n 2 python lessons/mpi/sweep.py

For float32 vectors of 10^3 .. 10^6 elements: raw MPI Allreduce, minigrad's
ring and minigrad's all_reduce (which picks MPI or the ring by size, and
carries its safety header). Each time is the best of 5 trials of the
slowest rank's mean (other jobs only ever add time). Rank 0 prints one JSON line.
"""
import json
import time

import numpy as np
from mpi4py import MPI

import minigrad.distributed as dist
from minigrad.distributed import collectives

comm = MPI.COMM_WORLD
sizes = [10**3, 10**4, 10**5, 10**6]


def seconds_per_call(fn, reps):
    comm.Barrier()
    fn()
    comm.Barrier()
    start = time.perf_counter()
    for _ in range(reps):
        fn()
    return comm.allreduce((time.perf_counter() - start) / reps, op=MPI.MAX)


table = {"raw MPI_Allreduce": [], "minigrad ring": [], "minigrad all_reduce": []}
for n in sizes:
    x = np.zeros(n, dtype=np.float32)
    reps = max(2, min(20, 10**5 // n))
    ways = {"raw MPI_Allreduce": lambda: comm.Allreduce(MPI.IN_PLACE, x, op=MPI.SUM),
            "minigrad ring": lambda: dist.ring_all_reduce(x),
            "minigrad all_reduce": lambda: dist.all_reduce(x)}
    trials = {name: [] for name in ways}
    for _ in range(5):                                   # interleaved: drifting load hits all alike
        for name, fn in ways.items():
            trials[name].append(seconds_per_call(fn, reps))
    for name in ways:
        table[name].append(min(trials[name]))
if comm.Get_rank() == 0:
    print(json.dumps(dict(sizes=sizes, table=table, p=comm.Get_size(),
                          threshold=collectives.ring_threshold(comm.Get_size()))))
