"""From what a user passes (a Tensor, a NumPy or a CuPy array) to memory MPI can read and write.

MPI moves bytes between contiguous buffers. Three cases:

* NumPy, contiguous: MPI works on the array itself (in place, no copy).
* NumPy, not contiguous (a transposed view, say): a contiguous copy, written back after.
* CuPy: a CUDA-aware MPI reads and writes device memory directly, once the
  stream that computes the array has finished (``synchronize`` below); any
  other MPI gets a host copy, written back to the device after ("staging").

(That the ranks agree on what they send is checked by ``guard.py``.)
"""
import os

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

