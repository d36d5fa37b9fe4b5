"""From what a user passes (a Tensor, a NumPy or a CuPy array) to memory MPI can read and write.

MPI moves bytes between contiguous buffers. Three cases:

* NumPy, contiguous: MPI works on the array itself (in place, no copy).
* NumPy, not contiguous (a transposed view, say): a contiguous copy, written back after.
* CuPy: a CUDA-aware MPI reads and writes device memory directly, once the
  stream that computes the array has finished (``synchronize`` below); any
  other MPI gets a host copy, written back to the device after ("staging").

Before the data moves, ``check_agreement`` makes every rank compare what it is
about to send (length, dtype, op...). MPI itself trusts the caller: with
different lengths on different ranks one rank may stop with "message
truncated" while the others wait for it forever, or every rank returns a wrong
sum; which of these happens depends on the sizes. One tiny all-gather of a few
integers turns all of that into the same clear ValueError on every rank.
"""
import os
import struct
import zlib

import numpy as np

from minigrad import backend
from minigrad.tensor import Tensor


def raw_array(x, op):
    """The array behind ``x``: ``x.data`` for a Tensor, ``x`` itself for a NumPy or CuPy array."""
    if isinstance(x, Tensor):
        return x.data
    if isinstance(x, np.ndarray) or backend.is_cupy_array(x):
        return x
    raise TypeError(f"{op}: expected a minigrad Tensor or a NumPy/CuPy array, got {type(x).__name__}")


def cuda_aware_mpi():
    """Can MPI take device pointers? ``MINIGRAD_CUDA_AWARE_MPI=1`` (or 0) decides; else ask MPI.

    MPICH and Open MPI answer through ``MPIX_Query_cuda_support``, which mpi4py
    exposes as ``MPI.Query_cuda_support`` when the library has it. Without an
    answer we assume not, and stage through host memory: slower, never wrong.
    """
    setting = os.environ.get("MINIGRAD_CUDA_AWARE_MPI")
    if setting is not None:
        return setting.strip().lower() in ("1", "true", "yes")
    from mpi4py import MPI
    query = getattr(MPI, "Query_cuda_support", None)
    return bool(query()) if query is not None else False


def synchronize(array):
    """Wait for the GPU work that writes ``array`` (no-op for NumPy)."""
    if not isinstance(array, np.ndarray):
        backend.get_array_module(array).cuda.get_current_stream().synchronize()


def mpi_buffer(array):
    """``(buf, copied)``: contiguous memory MPI can use for ``array``.

    When ``copied`` is True the result of an in-place collective lives in
    ``buf`` only and must be copied back with ``write_back(array, buf)``.
    """
    if isinstance(array, np.ndarray):
        if array.flags.c_contiguous:
            return array, False
        return np.ascontiguousarray(array), True
    if not cuda_aware_mpi():
        return backend.to_numpy(array), True        # staging: device -> host (waits for the GPU)
    copied = not array.flags.c_contiguous
    buf = backend.get_array_module(array).ascontiguousarray(array) if copied else array
    synchronize(buf)                                 # MPI must not read memory a kernel still writes
    return buf, copied


def write_back(array, buf):
    """Copy the collective's result from ``buf`` into the caller's ``array`` (host or device)."""
    if backend.device_of(array) != backend.device_of(buf):
        buf = backend.to_device(buf, backend.device_of(array))
    array[...] = buf.reshape(array.shape)


_codes = {}    # value -> its code, for the few dtypes and names that come back on every call


def _code(value):
    """An int64 that stands for ``value`` on every rank (ints as is; others by CRC-32 of their repr)."""
    if isinstance(value, int):
        return value
    if isinstance(value, (str, np.dtype)):
        code = _codes.get(value)
        if code is None:
            code = _codes[value] = zlib.crc32(repr(value).encode())
        return code
    return zlib.crc32(repr(value).encode())


def check_agreement(comm, collective, /, **fields):
    """Raise the same ValueError on every rank unless all ranks passed equal ``fields``.

    ``fields`` maps a name to a value (an int, a dtype, a shape, a string).
    Every rank packs the codes of its values into a few bytes, one all-gather
    hands every rank everyone's bytes, and each compares them with rank 0's.
    That costs the latency of one tiny message (benchmarks/bench_allreduce.py
    measures it next to the all-reduce it protects); plain bytes keep the
    Python around it cheap too. Only when something differs do the ranks also
    exchange the readable values, for the error message.
    """
    mine = struct.pack(f"<{len(fields)}q", *[_code(v) for v in fields.values()])
    table = bytearray(len(mine) * comm.Get_size())
    comm.Allgather(mine, table)
    if table != mine * comm.Get_size():             # then every rank sees a difference
        codes = np.frombuffer(table, dtype="<i8").reshape(-1, len(fields))
        differs = (codes != codes[0]).any(axis=0)
        values = comm.allgather([str(v) for v in fields.values()])   # all ranks get here together
        details = "; ".join(
            f"{name} per rank [{', '.join(rank_values[i] for rank_values in values)}]"
            for i, name in enumerate(fields) if differs[i]
        )
        raise ValueError(f"{collective}: the ranks disagree ({details}); every rank must call "
                         f"{collective} with the same {', '.join(fields)}")
