"""``cupy.cuda.nccl`` of the stand-in: NCCL's calling convention, carried out by MPI on host memory.

NCCL takes raw device pointers, element counts and dtype/op codes; mistakes there
(a byte count for an element count, a non-contiguous array's pointer, the wrong
dtype code, ranks that did not share one unique id) corrupt memory or hang on a
GPU. Here every pointer must be one a device array handed out through ``.data``,
C-contiguous, of the dtype the code names and at least ``count`` elements long,
else ``ValueError``; then mpi4py's COMM_WORLD does the collective. It proves the
bookkeeping around NCCL, not NCCL (nor GPU-to-GPU transfers) itself.
"""
import os
import weakref

import numpy as np

# NCCL's enum values (nccl.h)
NCCL_INT8, NCCL_UINT8, NCCL_INT32, NCCL_UINT32, NCCL_INT64, NCCL_UINT64 = range(6)
NCCL_FLOAT16, NCCL_FLOAT32, NCCL_FLOAT64 = 6, 7, 8
NCCL_SUM, NCCL_PROD, NCCL_MAX, NCCL_MIN = range(4)
_NUMPY = {NCCL_INT8: np.int8, NCCL_UINT8: np.uint8, NCCL_INT32: np.int32, NCCL_UINT32: np.uint32,
          NCCL_INT64: np.int64, NCCL_UINT64: np.uint64, NCCL_FLOAT16: np.float16,
          NCCL_FLOAT32: np.float32, NCCL_FLOAT64: np.float64}
_MPI_OPS = {NCCL_SUM: "SUM", NCCL_PROD: "PROD", NCCL_MAX: "MAX", NCCL_MIN: "MIN"}

available = True
_buffers = weakref.WeakValueDictionary()   # pointer -> the host array behind a device array's .data
calls = []       # the collectives run, in order (tests read it)


def register(host):
    """Called by ``ndarray.data``: remember which memory a pointer stands for."""
    _buffers[host.ctypes.data] = host
    return host.ctypes.data


def _buffer(ptr, count, datatype):
    host = _buffers.get(ptr)
    if host is None or not host.flags.c_contiguous:
        raise ValueError(f"fake NCCL: pointer {ptr:#x} is not the start of a C-contiguous device array")
    if host.dtype != _NUMPY[datatype]:
        raise ValueError(f"fake NCCL: a {host.dtype} buffer passed with the NCCL dtype of {np.dtype(_NUMPY[datatype])}")
    if count > host.size:
        raise ValueError(f"fake NCCL: count {count} overruns a buffer of {host.size} elements")
    return host.reshape(-1)[:count]


def get_unique_id():
    return os.urandom(128)


class NcclCommunicator:
    """One rank's membership of the world's NCCL communicator (MPI's COMM_WORLD underneath)."""

    def __init__(self, ndev, commId, rank):
        from mpi4py import MPI
        self._MPI, self._comm = MPI, MPI.COMM_WORLD
        if (ndev, rank) != (self._comm.Get_size(), self._comm.Get_rank()):
            raise ValueError(f"fake NCCL: ndev={ndev}, rank={rank} but MPI has rank "
                             f"{self._comm.Get_rank()} of {self._comm.Get_size()}")
        if len(set(self._comm.allgather(bytes(commId)))) != 1:
            raise ValueError("fake NCCL: the ranks passed different unique ids (was it broadcast?)")

    def rank_id(self):
        return self._comm.Get_rank()

    def size(self):
        return self._comm.Get_size()

    def allReduce(self, sendbuf, recvbuf, count, datatype, op, stream):
        calls.append("allReduce")
        send, recv = _buffer(sendbuf, count, datatype), _buffer(recvbuf, count, datatype)
        mpi_op = getattr(self._MPI, _MPI_OPS[op])
        self._comm.Allreduce(self._MPI.IN_PLACE if sendbuf == recvbuf else send, recv, op=mpi_op)

    def bcast(self, buff, count, datatype, root, stream):
        calls.append("bcast")
        self._comm.Bcast(_buffer(buff, count, datatype), root=root)

    def broadcast(self, sendbuf, recvbuf, count, datatype, root, stream):
        calls.append("broadcast")
        recv = _buffer(recvbuf, count, datatype)
        if self.rank_id() == root and sendbuf != recvbuf:
            recv[...] = _buffer(sendbuf, count, datatype)
        self._comm.Bcast(recv, root=root)

    def allGather(self, sendbuf, recvbuf, count, datatype, stream):
        calls.append("allGather")
        recv = _buffer(recvbuf, count * self.size(), datatype)
        self._comm.Allgather(_buffer(sendbuf, count, datatype), recv)
