"""Run under `mpiexec -n p` on a machine with a GPU: CuPy arrays through every collective.

With no algorithm named, CuPy arrays go over NCCL when every rank has it (one
GPU each); "mpi" and "ring" use MPI, which without a CUDA-aware MPI (the
default assumption) stages the data through host memory. The results must be
the same every way. Prints "rank r: cupy ok". check_nccl_stand_in.py runs
this script on the CuPy stand-in.
"""
import cupy
import numpy as np

import minigrad as mg
import minigrad.distributed as dist
from minigrad.distributed.nccl import select_local_device

select_local_device()                                    # one GPU per rank, before any allocation
p, rank = dist.get_world_size(), dist.get_rank()
for n in (0, 1, p + 1, 1_000_003):
    for algorithm in (None, "mpi", "ring"):
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
base = cupy.arange(12.0).reshape(3, 4) * (rank + 1)
dist.broadcast(base.T, src=p - 1)                        # a non-contiguous view, written through
assert np.array_equal(base.get(), np.arange(12.0).reshape(3, 4) * p)
pieces = dist.all_gather((cupy.arange(12.0).reshape(3, 4) * (rank + 1)).T)
assert all(np.array_equal(piece.get(), np.arange(12.0).reshape(3, 4).T * (k + 1)) for k, piece in enumerate(pieces))
z = cupy.full(3, 1 + 1j * rank, dtype=cupy.complex64)     # a dtype NCCL lacks: MPI does it
dist.all_reduce(z)
assert np.array_equal(z.get(), np.full(3, p + 1j * p * (p - 1) / 2, dtype=np.complex64))
dist.barrier()
print(f"rank {rank}: cupy ok", flush=True)
