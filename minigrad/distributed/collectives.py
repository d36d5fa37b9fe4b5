"""Collectives on Tensors and arrays, with the names of ``torch.distributed``.

    all_reduce(x, op="sum")      every rank ends with op(x_0, ..., x_{p-1}), in place
    ring_all_reduce(x)           the same, always with minigrad's own ring (ring.py)
    broadcast(x, src=0)          every rank ends with rank src's x, in place
    all_gather(x)                [x_0, ..., x_{p-1}] on every rank (same shapes)
    all_gather_bytes(payload)    the same for uint8 payloads of different sizes

In-place calls return their argument. A Tensor is handled through its
``.data``; NumPy and CuPy arrays directly (see buffers.py for the GPU).

Which all-reduce algorithm? An all-reduce of N bytes over p ranks costs about
``a * latency + b * N / bandwidth``. MPI's built-in algorithms for small
messages (recursive doubling, shared-memory trees) need few steps: small a.
The ring needs 2(p-1) steps but sends only 2(p-1)/p * N bytes per rank, the
minimum: small b. So small messages go to ``MPI_Allreduce`` and large ones to
the ring. As the ring's latency term grows with p-1, so does the size where it
starts to win: the split is at ``RING_THRESHOLD_BYTES * (p - 1)``. On the
2-core machine this was written on (MPICH 5), the two crossed near 4*10^5
bytes at p = 2 and 8*10^5 at p = 4 when the machine was quiet (higher when it
was loaded), and at 10^7 float32 the ring was 2-3x faster than Allreduce.
Re-measure with ``benchmarks/bench_allreduce.py`` on your machine, then
override per call (``algorithm="mpi"`` or ``"ring"``) or for the process (set
``minigrad.distributed.collectives.RING_THRESHOLD_BYTES``, or the environment
variable ``MINIGRAD_RING_THRESHOLD_BYTES`` before the import).

``check=True`` (the default) first makes the ranks compare lengths, dtypes and
ops (``buffers.check_agreement``), so a mismatch is a clear error on every rank
instead of a hang or a wrong sum. It costs one tiny all-gather: next to a
small all-reduce that is about as much again, next to a large one nothing.
Pass ``check=False`` only where the lengths agree by construction, as
``DistributedDataParallel`` does after comparing its bucket layout once.
"""
import os

import numpy as np

from minigrad import backend
from minigrad.distributed import nccl
from minigrad.distributed.buffers import check_agreement, mpi_buffer, raw_array, write_back
from minigrad.distributed.comm import _world, get_world_size, init, traffic, world
from minigrad.distributed.ring import ring_reduce
from minigrad.tensor import Tensor

RING_THRESHOLD_BYTES = int(os.environ.get("MINIGRAD_RING_THRESHOLD_BYTES", 512 * 1024))   # per peer

# op name -> (MPI's predefined op, the ufunc the ring combines chunks with)
_OPS = {"sum": ("SUM", "add"), "mean": ("SUM", "add"), "max": ("MAX", "maximum"),
        "min": ("MIN", "minimum")}
_ALGORITHMS = ("mpi", "ring")


def ring_threshold(p):
    """Messages of at least this many bytes go to the ring on p ranks."""
    return RING_THRESHOLD_BYTES * (p - 1)


def choose_algorithm(nbytes, algorithm=None, p=None):
    """``algorithm`` if given, else "ring" from ``ring_threshold(p)`` bytes on, else "mpi"."""
    if algorithm is None:
        return "ring" if nbytes >= ring_threshold(_world.size if p is None else p) else "mpi"
    if algorithm not in _ALGORITHMS:
        raise ValueError(f"all_reduce: unknown algorithm {algorithm!r}; expected one of {_ALGORITHMS}")
    return algorithm


def _check_op(op, array, name):
    if op not in _OPS:
        raise ValueError(f"{name}: unknown op {op!r}; expected one of {list(_OPS)}")
    if op == "mean" and array.dtype.kind not in "fc":
        raise TypeError(f"{name}: op='mean' needs a floating array, got dtype {array.dtype}")


def all_reduce(x, op="sum", algorithm=None, check=True):
    """Combine ``x`` across ranks in place (op: "sum", "mean", "max", "min"); returns ``x``."""
    # This function runs once per bucket per step, and for small messages its own Python
    # overhead competes with MPI's latency: hence the shortcuts for the common case
    # (a contiguous NumPy array, "sum"), each doing what the general call next to it does.
    array = x if type(x) is np.ndarray else raw_array(x, "all_reduce")
    if op != "sum":
        _check_op(op, array, "all_reduce")
    if not _world.initialized:
        init()
    if _world.size == 1:
        return x
    if algorithm is None and type(array) is not np.ndarray and nccl.all_reduce(array, op, check):
        return x    # a CuPy array, and every rank has NCCL
    algorithm = choose_algorithm(array.nbytes, algorithm)
    if check:
        check_agreement(_world.comm, "all_reduce", length=array.size, dtype=array.dtype, op=op,
                        algorithm=algorithm)
    reduce_in_place(_world.comm, array, op, algorithm)
    return x


def ring_all_reduce(x, op="sum", check=True):
    """``all_reduce`` with the hand-written ring (reduce-scatter + all-gather over Sendrecv)."""
    return all_reduce(x, op=op, algorithm="ring", check=check)


def reduce_in_place(comm, array, op, algorithm):
    """The all-reduce itself, without checks (``comm`` has p > 1 ranks)."""
    if type(array) is np.ndarray and array.flags.c_contiguous:
        buf, copied = array, False
    else:
        buf, copied = mpi_buffer(array)
    mpi_op, ufunc = _OPS[op]
    p = _world.size
    if algorithm == "ring":
        ring_reduce(comm, buf, ufunc)
    else:
        comm.Allreduce(_world.MPI.IN_PLACE, buf, op=getattr(_world.MPI, mpi_op))
        traffic.bytes_sent += 2 * (p - 1) * buf.nbytes // p     # what the ring would send
        traffic.messages += 2 * (p - 1)
    if op == "mean":
        buf /= p      # the same sum divided by the same p: still identical on every rank
    if copied:
        write_back(array, buf)


def broadcast(x, src=0, check=True):
    """Overwrite ``x`` on every rank with rank ``src``'s ``x``, in place; returns ``x``."""
    array = raw_array(x, "broadcast")
    p = get_world_size()
    if not (isinstance(src, (int, np.integer)) and 0 <= src < p):
        raise ValueError(f"broadcast: src must be a rank in [0, {p}), got {src!r}")
    if p == 1 or nccl.broadcast(array, src, check):
        return x
    comm = _world.comm
    if check:
        check_agreement(comm, "broadcast", length=array.size, dtype=array.dtype, src=int(src))
    buf, copied = mpi_buffer(array)
    comm.Bcast(buf, root=int(src))
    if _world.rank != (src - 1) % p:    # counted as a chain src -> src+1 -> ...: all but the last send
        traffic.add(buf.nbytes)
    if copied and _world.rank != src:
        write_back(array, buf)
    return x


def all_gather(x, check=True):
    """``[x from rank 0, ..., x from rank p-1]`` on every rank (Tensors for a Tensor, else arrays)."""
    array = raw_array(x, "all_gather")
    p = get_world_size()
    if p == 1:
        pieces = [array.copy()]
    elif (gathered := nccl.all_gather(array, check)) is not None:    # CuPy arrays over NCCL
        pieces = [gathered[k] for k in range(p)]
    else:
        comm = _world.comm
        if check:
            check_agreement(comm, "all_gather", shape=array.shape, dtype=array.dtype)
        buf, _ = mpi_buffer(array)
        xp = backend.get_array_module(buf)
        gathered = xp.empty((p,) + array.shape, dtype=array.dtype)
        comm.Allgather(buf, gathered)
        traffic.add((p - 1) * buf.nbytes, messages=p - 1)   # a ring forwards p-1 blocks
        gathered = backend.to_device(gathered, backend.device_of(array))
        pieces = [gathered[k] for k in range(p)]
    return [Tensor(piece) for piece in pieces] if isinstance(x, Tensor) else pieces


def all_gather_bytes(payload):
    """Every rank's 1-D uint8 ``payload`` (sizes may differ), as a list in rank order.

    Two steps: an all-gather of the sizes, then ``MPI_Allgatherv`` of the bytes
    into one buffer at offsets given by the running sum of the sizes.
    """
    if not (isinstance(payload, np.ndarray) and payload.dtype == np.uint8 and payload.ndim == 1):
        raise TypeError(f"all_gather_bytes: expected a 1-D uint8 NumPy array, got "
                        f"{type(payload).__name__} {getattr(payload, 'dtype', '')} "
                        f"{getattr(payload, 'shape', '')}")
    p = get_world_size()
    if p == 1:
        return [payload.copy()]
    comm, MPI = world(), _world.MPI
    sizes = np.empty(p, dtype=np.int64)
    comm.Allgather(np.array([payload.size], dtype=np.int64), sizes)
    offsets = np.concatenate([[0], np.cumsum(sizes)[:-1]])
    gathered = np.empty(int(sizes.sum()), dtype=np.uint8)
    comm.Allgatherv(np.ascontiguousarray(payload), [gathered, sizes, offsets, MPI.BYTE])
    # as a ring: p-1 sizes of 8 bytes, then every payload but the right neighbour's own
    traffic.add(8 * (p - 1) + int(sizes.sum() - sizes[(_world.rank + 1) % p]), messages=2 * (p - 1))
    return [gathered[offsets[k]:offsets[k] + sizes[k]] for k in range(p)]
