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

Safety (``guard.py``): every call is numbered and checked against the other
ranks' call (an all-reduce carries the check inside its own message; the
others exchange it first), and every call has a deadline: ``timeout=`` seconds
per call, else ``minigrad.distributed.set_timeout``, else the environment
variable MINIGRAD_COLLECTIVE_TIMEOUT, else 600. ``all_reduce(..., async_op=True)``
returns a ``Work`` at once, as PyTorch does; ``work.wait()`` finishes it.
"""
import os

import numpy as np

from minigrad import backend
from minigrad.distributed import guard, nccl
from minigrad.distributed.buffers import mpi_buffer, raw_array, write_back
from minigrad.distributed.comm import _world, traffic
from minigrad.distributed.ring import ring_reduce
from minigrad.distributed.work import Work, _Done
from minigrad.tensor import Tensor

RING_THRESHOLD_BYTES = int(os.environ.get("MINIGRAD_RING_THRESHOLD_BYTES", 512 * 1024))   # per peer

# op name -> (MPI's predefined op, the ufunc the ring combines chunks with, the header's kind)
_OPS = {"sum": ("SUM", "add", "all_reduce(sum)"), "mean": ("SUM", "add", "all_reduce(sum)"),
        "max": ("MAX", "maximum", "all_reduce(max)"), "min": ("MIN", "minimum", "all_reduce(min)")}
_ALGORITHMS = ("mpi", "ring")
_HEADER_DTYPES = frozenset(np.dtype(t) for t in ("float32", "float64", "int32", "int64"))  # codes < 2^24 exact


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


def all_reduce(x, op="sum", async_op=False, timeout=None, algorithm=None):
    """Combine ``x`` across ranks in place (op: "sum", "mean", "max", "min"); returns ``x``.

    With ``async_op=True`` returns a ``Work`` instead: the result is in ``x`` after ``wait()``.
    """
    array = x if type(x) is np.ndarray else raw_array(x, "all_reduce")
    if op != "sum":
        _check_op(op, array, "all_reduce")
    if _world.size == 1:
        return _Done() if async_op else x
    mpi_op, ufunc, kind = _OPS[op]
    if algorithm is None and type(array) is not np.ndarray and nccl.takes(array):   # CuPy: NCCL if it can
        guard.exchange(guard.Call(kind, array.dtype, array.size, timeout=timeout))   # checked apart:
        if nccl.all_reduce(array, op):                                              # no header in NCCL
            return _Done() if async_op else x
    if (choose_algorithm(array.nbytes, algorithm) == "ring" or type(array) is not np.ndarray
            or array.dtype not in _HEADER_DTYPES):
        _all_reduce_checked_first(array, op, algorithm, timeout)
        return _Done() if async_op else x
    call = guard.Call(kind, array.dtype, array.size, timeout=timeout)
    if not async_op:       # the common case, kept short: every microsecond counts for small messages
        slot = _slots.get((array.dtype, array.shape))
        if slot is None:
            slot = _slots[array.dtype, array.shape] = _Slot(array, guard.header_length(_world.size))
        slot.data[...] = array
        sign = -1 if op == "min" else 1
        guard.write_header(call, slot.header, sign)
        MPI = _world.MPI
        guard.wait(call, [_world.comm.Iallreduce(MPI.IN_PLACE, slot.buffer, op=getattr(MPI, mpi_op))])
        guard.check_header(call, slot.header, sign)
        if op == "mean":
            np.divide(slot.data, _world.size, out=array)
        else:
            array[...] = slot.data
        traffic.bytes_sent += 2 * (_world.size - 1) * array.nbytes // _world.size   # as the ring
        traffic.messages += 2 * (_world.size - 1)
        return x
    buffer = _take_staging(array.dtype, guard.header_length(_world.size) + array.size)   # own buffer:
    buffer[guard.header_length(_world.size):] = array.reshape(-1)                 # others may be in flight

    def finish(data):
        if op == "mean":
            data /= _world.size
        array[...] = data.reshape(array.shape)
        _staging.setdefault((buffer.dtype, buffer.size), []).append(buffer)

    return start_with_header(call, buffer, finish, op=op)      # async_op: a Work for the caller


def start_with_header(call, buffer, finish, op="sum"):
    """Start an all-reduce of ``buffer`` = [header | data] in place (DDP's buckets are laid out so).

    The header is written here; ``finish(data)`` runs once the reduction is done and checked.
    """
    MPI, p = _world.MPI, _world.size
    length = guard.header_length(p)
    sign = -1 if op == "min" else 1
    guard.write_header(call, buffer[:length], sign)
    request = _world.comm.Iallreduce(MPI.IN_PLACE, buffer, op=getattr(MPI, _OPS[op][0]))
    traffic.bytes_sent += 2 * (p - 1) * (buffer.nbytes - length * buffer.itemsize) // p  # as the ring
    traffic.messages += 2 * (p - 1)

    def check_then_finish():
        guard.check_header(call, buffer[:length], sign)
        finish(buffer[length:])
    return Work(call, [request], check_then_finish)


_staging = {}   # (dtype, length) -> free buffers [header | data] for asynchronous all_reduce calls
_slots = {}     # (dtype, shape) -> the buffer a blocking all_reduce of that array reuses


class _Slot:
    """A reusable [header | data] buffer, with views of both parts (``data`` shaped as the array)."""

    def __init__(self, array, header_length):
        self.buffer = np.empty(header_length + array.size, dtype=array.dtype)
        self.header = self.buffer[:header_length]
        self.data = self.buffer[header_length:].reshape(array.shape)


def _take_staging(dtype, length):
    free = _staging.get((dtype, length))
    return free.pop() if free else np.empty(length, dtype=dtype)


def _all_reduce_checked_first(array, op, algorithm, timeout):
    """The ring, CuPy arrays and small dtypes: exchange the header first, then reduce."""
    mpi_op, ufunc, kind = _OPS[op]
    ring = choose_algorithm(array.nbytes, algorithm) == "ring"
    call = guard.Call("all_reduce(sum) by ring" if ring and op in ("sum", "mean") else kind,
                      array.dtype, array.size, timeout=timeout)
    guard.exchange(call)
    buf, copied = mpi_buffer(array)
    if ring:
        ring_reduce(_world.comm, buf, ufunc, call)
    else:
        MPI = _world.MPI
        guard.wait(call, [_world.comm.Iallreduce(MPI.IN_PLACE, buf, op=getattr(MPI, mpi_op))])
        p = _world.size
        traffic.add(2 * (p - 1) * buf.nbytes // p, messages=2 * (p - 1))   # what the ring would send
    if op == "mean":
        buf /= _world.size      # the same sum divided by the same p: still identical on every rank
    if copied:
        write_back(array, buf)


def ring_all_reduce(x, op="sum", timeout=None):
    """``all_reduce`` with the hand-written ring (reduce-scatter + all-gather over Isend/Irecv)."""
    return all_reduce(x, op=op, algorithm="ring", timeout=timeout)


def broadcast(x, src=0, timeout=None):
    """Overwrite ``x`` on every rank with rank ``src``'s ``x``, in place; returns ``x``."""
    array = raw_array(x, "broadcast")
    p = _world.size
    if not (isinstance(src, (int, np.integer)) and 0 <= src < p):
        raise ValueError(f"broadcast: src must be a rank in [0, {p}), got {src!r}")
    if p == 1:
        return x
    call = guard.Call("broadcast", array.dtype, array.size, extra=int(src), timeout=timeout)
    guard.exchange(call)
    if nccl.takes(array) and nccl.broadcast(array, src):
        return x
    buf, copied = mpi_buffer(array)
    guard.wait(call, [_world.comm.Ibcast(buf, root=int(src))])
    if _world.rank != (src - 1) % p:    # counted as a chain src -> src+1 -> ...: all but the last send
        traffic.add(buf.nbytes)
    if copied and _world.rank != src:
        write_back(array, buf)
    return x


def all_gather(x, timeout=None):
    """``[x from rank 0, ..., x from rank p-1]`` on every rank (Tensors for a Tensor, else arrays)."""
    array = raw_array(x, "all_gather")
    p = _world.size
    if p == 1:
        pieces = [array.copy()]
    else:
        call = guard.Call("all_gather", array.dtype, array.size, timeout=timeout)
        guard.exchange(call)
        gathered = nccl.all_gather(array) if nccl.takes(array) else None
        if gathered is None:
            buf, _ = mpi_buffer(array)
            xp = backend.get_array_module(buf)
            gathered = xp.empty((p,) + array.shape, dtype=array.dtype)
            guard.wait(call, [_world.comm.Iallgather(buf, gathered)])
            traffic.add((p - 1) * buf.nbytes, messages=p - 1)   # a ring forwards p-1 blocks
            gathered = backend.to_device(gathered, backend.device_of(array))
        pieces = [gathered[k] for k in range(p)]
    return [Tensor(piece) for piece in pieces] if isinstance(x, Tensor) else pieces


def all_gather_bytes(payload, timeout=None):
    """Every rank's 1-D uint8 ``payload`` (sizes may differ), as a list in rank order.

    The header exchange already carries every rank's size; then ``MPI_Allgatherv``
    puts the bytes into one buffer at offsets given by the running sum of the sizes.
    """
    if not (isinstance(payload, np.ndarray) and payload.dtype == np.uint8 and payload.ndim == 1):
        raise TypeError(f"all_gather_bytes: expected a 1-D uint8 NumPy array, got "
                        f"{type(payload).__name__} {getattr(payload, 'dtype', '')} "
                        f"{getattr(payload, 'shape', '')}")
    p = _world.size
    if p == 1:
        return [payload.copy()]
    if payload.size >= guard.LIMIT:
        raise ValueError(f"all_gather_bytes: payloads must be < 2**24 bytes, got {payload.size}")
    call = guard.Call("all_gather_bytes", payload.dtype, payload.size, timeout=timeout)
    sizes = guard.exchange(call)
    offsets = np.concatenate([[0], np.cumsum(sizes)[:-1]])
    gathered = np.empty(int(sizes.sum()), dtype=np.uint8)
    request = _world.comm.Iallgatherv(np.ascontiguousarray(payload),
                                      [gathered, sizes, offsets, _world.MPI.BYTE])
    guard.wait(call, [request])
    # as a ring: p-1 sizes of 8 bytes, then every payload but the right neighbour's own
    traffic.add(8 * (p - 1) + int(sizes.sum() - sizes[(_world.rank + 1) % p]), messages=2 * (p - 1))
    return [gathered[offsets[k]:offsets[k] + sizes[k]] for k in range(p)]


def barrier(timeout=None):
    """Wait until every rank has reached this call (a checked, timed collective like the others)."""
    if _world.size > 1:
        guard.exchange(guard.Call("barrier", timeout=timeout))
