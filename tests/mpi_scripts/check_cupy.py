"""Run under `mpiexec -n p` on a machine with a GPU: CuPy arrays through every collective.

Without a CUDA-aware MPI (the default assumption) the data is staged through
host memory; the results must be the same either way. Prints "rank r: cupy ok".
"""
import cupy
import numpy as np

import minigrad as mg
import minigrad.distributed as dist

p, rank = dist.get_world_size(), dist.get_rank()
for n in (0, 1, p + 1, 1_000_003):
    for algorithm in ("mpi", "ring"):
        exact = np.random.default_rng(n).integers(-1000, 1000, size=(p, n)).astype(np.float32)
        x = cupy.asarray(exact[rank])
        assert dist.all_reduce(x, algorithm=algorithm) is x
        assert isinstance(x, cupy.ndarray) and np.array_equal(x.get(), exact.sum(axis=0))
t = mg.tensor(np.full(4, float(rank)), device="cuda")
dist.broadcast(t, src=p - 1)
assert t.device == "cuda" and (t.numpy() == p - 1).all()
pieces = dist.all_gather(cupy.full(3, rank))
assert [int(piece[0]) for piece in pieces] == list(range(p))
view = cupy.arange(12.0).reshape(3, 4).T                 # not contiguous, on the device
dist.all_reduce(view, op="mean")
assert np.array_equal(view.get(), np.arange(12.0).reshape(3, 4).T)
dist.barrier()
print(f"rank {rank}: cupy ok", flush=True)
