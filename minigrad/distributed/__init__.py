"""Data-parallel training over MPI (mpi4py), with the names of ``torch.distributed``.

    import minigrad.distributed as dist
    dist.init()                                  # also happens on first use
    dist.get_rank(), dist.get_world_size(), dist.barrier()
    dist.all_reduce(x, op="sum")                 # in place; "mean", "max", "min"
    dist.ring_all_reduce(x)                      # the hand-written ring
    dist.broadcast(x, src=0); dist.all_gather(x); dist.all_gather_bytes(payload)
    ddp = dist.DistributedDataParallel(model)    # gradients averaged by ddp.sync_gradients()
    sampler = dist.DistributedSampler(n, shuffle=True, seed=0)

Run with ``mpiexec -n 4 python script.py``; without a launcher the world is one
process. Modules: comm.py (process group, failure), buffers.py (arrays to MPI
memory, agreement checks), ring.py (ring all-reduce), collectives.py, ddp.py,
sampler.py. mpi4py is imported only when a launcher started the process.
"""
from minigrad.distributed.collectives import (
    all_gather, all_gather_bytes, all_reduce, broadcast, ring_all_reduce,
)
from minigrad.distributed.comm import barrier, get_rank, get_world_size, init, traffic
from minigrad.distributed.ddp import DistributedDataParallel
from minigrad.distributed.sampler import DistributedSampler

__all__ = [
    "init", "get_rank", "get_world_size", "barrier", "traffic",
    "all_reduce", "ring_all_reduce", "broadcast", "all_gather", "all_gather_bytes",
    "DistributedDataParallel", "DistributedSampler",
]
