"""NCCL for CuPy arrays: all_reduce, broadcast and all_gather from GPU memory to GPU memory.

NCCL (NVIDIA Collective Communications Library) runs collectives as CUDA
kernels that move data between GPUs directly (NVLink, PCIe, InfiniBand with
GPUDirect RDMA), so a CuPy array never visits host memory. The collectives in
collectives.py hand a CuPy array here when no algorithm was asked for; this
module answers False (and MPI does the work: CUDA-aware, or staged through host
memory, see buffers.py) when CuPy has no NCCL, for dtypes NCCL lacks, or when
the ranks cannot all use it.

One GPU per process: a script calls ``select_local_device()`` first thing,
before it allocates on the GPU. That makes GPU ``local rank % GPU count`` the
current device, the *local rank* being this process's index among those on
its machine. The launcher tells it: ``MPI_LOCALRANKID`` (MPICH/Intel MPI's
Hydra), ``OMPI_COMM_WORLD_LOCAL_RANK`` (Open MPI), ``MV2_COMM_WORLD_LOCAL_RANK``
(MVAPICH2), ``SLURM_LOCALID`` (srun). Without any, COMM_WORLD is split into one
communicator per shared-memory node (``MPI_Comm_split_type`` with
``MPI_COMM_TYPE_SHARED``), and the rank inside it is the local rank.

Setting up happens once per process, on the first CuPy collective, and every
rank takes part:

1. The ranks agree, with one MPI all-reduce of a flag, whether NCCL is usable
   everywhere: CuPy has ``cupy.cuda.nccl``, and no two ranks of one machine
   hold their arrays on the same GPU (NCCL refuses that; it happens when the
   script did not call ``select_local_device``). If any rank says no, every
   rank stays on MPI, with a warning: a mix would hang.
2. Rank 0 draws NCCL's unique id (128 bytes), MPI broadcasts it, and every
   rank joins the NCCL communicator with (world size, id, its MPI rank), on
   the GPU that holds its array.

NCCL kernels are queued on CuPy's current stream, behind the kernels that
computed the array, so nothing needs to wait before the call; later kernels on
that stream see the result (the host sees it after a synchronize, as for any
kernel's output). Traffic is counted as the ring would send it, as for MPI's
own collectives (comm.py).
"""
import os
import warnings

from minigrad import backend
from minigrad.distributed.comm import _world, traffic, world

# launcher variables holding the local rank, in the order they are tried
LOCAL_RANK_VARIABLES = ("MPI_LOCALRANKID", "OMPI_COMM_WORLD_LOCAL_RANK", "MV2_COMM_WORLD_LOCAL_RANK",
                        "SLURM_LOCALID")
_DTYPES = {"int8": "NCCL_INT8", "uint8": "NCCL_UINT8", "int32": "NCCL_INT32", "uint32": "NCCL_UINT32",
           "int64": "NCCL_INT64", "uint64": "NCCL_UINT64", "float16": "NCCL_FLOAT16",
           "float32": "NCCL_FLOAT32", "float64": "NCCL_FLOAT64"}
_OPS = {"sum": "NCCL_SUM", "mean": "NCCL_SUM", "max": "NCCL_MAX", "min": "NCCL_MIN"}


class _State:
    decided = False      # has this process taken part in the setup yet?
    usable = False       # ... and did every rank agree to use NCCL?
    communicator = None  # cupy.cuda.nccl.NcclCommunicator
    device = None        # the GPU this rank drives


_state = _State()


def local_rank(comm=None, environ=None):
    """This process's index among the processes on its machine (launcher variable, else a shared-memory split).

    The split is collective over ``comm``: all ranks of one launch see the same
    variables, so either all of them split or none does.
    """
    environ = os.environ if environ is None else environ
    for name in LOCAL_RANK_VARIABLES:
        value = environ.get(name)
        if value is not None:
            if not value.strip().isdigit():
                raise ValueError(f"nccl.local_rank: {name}={value!r} is not a rank number")
            return int(value)
    if comm is None or comm.Get_size() == 1:
        return 0
    from mpi4py import MPI
    node = comm.Split_type(MPI.COMM_TYPE_SHARED)
    rank = node.Get_rank()
    node.Free()
    return rank


def select_local_device():
    """Make GPU ``local_rank() % device count`` CuPy's current device; returns its id."""
    cupy = backend.array_module("cuda")
    device = local_rank(world()) % cupy.cuda.runtime.getDeviceCount()
    cupy.cuda.Device(device).use()
    return device


def _nccl_module():
    """``cupy.cuda.nccl`` when CuPy was built with NCCL, else None (this process only)."""
    backend.array_module("cuda")           # raises with the install hint when CuPy is missing
    try:
        from cupy.cuda import nccl
    except ImportError:
        return None
    return nccl if getattr(nccl, "available", True) else None


def _setup(array):
    """Steps 1-2 of the module docstring; returns whether every rank uses NCCL."""
    comm, MPI = world(), _world.MPI
    nccl = _nccl_module()
    device = array.device.id
    placements = comm.allgather((MPI.Get_processor_name(), device))
    shared = len(set(placements)) < len(placements)
    _state.usable = comm.allreduce(int(nccl is not None and not shared), op=MPI.MIN) == 1
    if _state.usable:
        uid = comm.bcast(nccl.get_unique_id() if _world.rank == 0 else None, root=0)
        with backend.get_array_module(array).cuda.Device(device):
            _state.communicator = nccl.NcclCommunicator(_world.size, uid, _world.rank)
        _state.device = device
    elif shared and _world.rank == 0:
        warnings.warn("minigrad.distributed: ranks on one machine hold their arrays on the same GPU "
                      f"(host, GPU per rank: {placements}), so NCCL is not used; call "
                      "minigrad.distributed.nccl.select_local_device() before allocating", RuntimeWarning)
    _state.decided = True
    return _state.usable


def takes(array):
    """Can NCCL take ``array`` on this rank (a CuPy array of an NCCL dtype, NCCL present)?"""
    return (backend.is_cupy_array(array) and array.dtype.name in _DTYPES and _world.size > 1
            and (_state.usable if _state.decided else _nccl_module() is not None))


def _launch(collective, array):
    """The communicator, the NCCL module and a stream pointer after the one-time setup; None if not NCCL's."""
    if not takes(array) or not (_state.decided or _setup(array)) or not _state.usable:
        return None
    if array.device.id != _state.device:
        raise RuntimeError(
            f"{collective}: the array is on GPU {array.device.id} but this rank's NCCL communicator "
            f"drives GPU {_state.device}; keep every array of a rank on one GPU")
    cupy = backend.get_array_module(array)
    return _state.communicator, _nccl_module(), cupy.cuda.get_current_stream().ptr


def _contiguous(array):
    """``(buf, copied)``: ``array`` itself when C-contiguous, else a contiguous device copy."""
    if array.flags.c_contiguous:
        return array, False
    return backend.get_array_module(array).ascontiguousarray(array), True


def all_reduce(array, op):
    """In place over NCCL; False (nothing done) where NCCL cannot take ``array``."""
    launch = _launch("all_reduce", array)
    if launch is None:
        return False
    communicator, nccl, stream = launch
    buf, copied = _contiguous(array)
    communicator.allReduce(buf.data.ptr, buf.data.ptr, buf.size, getattr(nccl, _DTYPES[buf.dtype.name]),
                           getattr(nccl, _OPS[op]), stream)
    p = _world.size
    traffic.add(2 * (p - 1) * buf.nbytes // p, messages=2 * (p - 1))
    if op == "mean":
        buf /= p
    if copied:
        array[...] = buf
    return True


def broadcast(array, src):
    """Rank ``src``'s array into every rank's, in place over NCCL; False where NCCL cannot take it."""
    launch = _launch("broadcast", array)
    if launch is None:
        return False
    communicator, nccl, stream = launch
    buf, copied = _contiguous(array)
    communicator.bcast(buf.data.ptr, buf.size, getattr(nccl, _DTYPES[buf.dtype.name]), int(src), stream)
    if _world.rank != (src - 1) % _world.size:       # a chain src -> src+1 -> ...: all but the last send
        traffic.add(buf.nbytes)
    if copied:
        array[...] = buf
    return True


def all_gather(array):
    """A (p, *shape) device array of every rank's ``array`` over NCCL; None where NCCL cannot take it."""
    launch = _launch("all_gather", array)
    if launch is None:
        return None
    communicator, nccl, stream = launch
    buf, _ = _contiguous(array)
    p = _world.size
    gathered = backend.get_array_module(array).empty((p,) + array.shape, dtype=array.dtype)
    communicator.allGather(buf.data.ptr, gathered.data.ptr, buf.size, getattr(nccl, _DTYPES[buf.dtype.name]),
                           stream)
    traffic.add((p - 1) * buf.nbytes, messages=p - 1)
    return gathered
