"""Data-parallel training over MPI (mpi4py), with the names of ``torch.distributed``.

    import minigrad.distributed as dist
    dist.get_rank(), dist.get_world_size(), dist.barrier()
    dist.all_reduce(x, op="sum")                 # in place; "mean", "max", "min"; async_op=True
    dist.ring_all_reduce(x)                      # the hand-written ring
    dist.broadcast(x, src=0); dist.all_gather(x); dist.all_gather_bytes(payload)
    dist.set_timeout(seconds)                    # every collective's deadline (default 600 s)
    model = dist.DistributedDataParallel(model)  # loss.backward() averages the gradients
    model.register_comm_hook(state, hook)        # compression: see comm_hooks.py
    sampler = dist.DistributedSampler(n, shuffle=True, seed=0)

Run with ``mpiexec -n 4 python script.py``; without a launcher the world is one
process. Modules: comm.py (process group), failure.py (one rank fails, all
end), guard.py (numbered, checked, timed collectives), buffers.py (arrays to
MPI memory), ring.py (ring all-reduce), collectives.py, buckets.py and ddp.py
(DistributedDataParallel), comm_hooks.py, sampler.py. mpi4py is imported only
when a launcher started the process: then importing this package joins MPI and
installs the failure arrangement at once.
"""
from minigrad.distributed.collectives import (
    Work, all_gather, all_gather_bytes, all_reduce, barrier, broadcast, ring_all_reduce,
)
from minigrad.distributed.comm import get_rank, get_timeout, get_world_size, init, set_timeout, traffic
from minigrad.distributed.ddp import DistributedDataParallel
from minigrad.distributed.guard import CollectiveError, CollectiveMismatch, CollectiveTimeout
from minigrad.distributed.sampler import DistributedSampler

init()   # under a launcher: join MPI and install the failure arrangement before anything can fail

__all__ = [
    "init", "get_rank", "get_world_size", "barrier", "traffic", "set_timeout", "get_timeout",
    "all_reduce", "ring_all_reduce", "broadcast", "all_gather", "all_gather_bytes", "Work",
    "DistributedDataParallel", "DistributedSampler",
    "CollectiveError", "CollectiveMismatch", "CollectiveTimeout",
]
