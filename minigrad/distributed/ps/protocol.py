"""The messages between servers and workers, and waiting for them without ever hanging.

Roles. Of p processes, ranks 0..S-1 are servers and S..p-1 workers. They talk
over a private copy of COMM_WORLD (``Group.comm``), so their point-to-point
tags never meet those of other code using COMM_WORLD.

Messages. Every message is one contiguous byte buffer: three int64 header
fields, then the numbers (the parameters' dtype):

    header = (kind, version, step)    kind: GRADIENT, PARAMETERS or DONE
    worker -> server   GRADIENT   version the gradient was computed at, worker's step
                       DONE       the worker has finished (header only)
    server -> worker   PARAMETERS the server's version, the worker's clock

One message per server per step in each direction; no per-element work.

Waiting. Every receive and send is non-blocking (``Irecv``/``Isend``) and is
polled with ``Test`` until done or until its deadline: a process that waits
for a peer that died, hangs or never sends gets an error naming that peer's
rank, and ``MPI_Abort`` ends the whole job (``abort``). The poll yields the
CPU between tests (several ranks share few cores; MPI's own blocking wait
spins), which costs up to ``MAX_PAUSE`` seconds of latency per message.

Why not one-sided MPI (``MPI_Put``/``MPI_Accumulate`` into a window on the
server)? It reads like the perfect fit: workers add their gradients straight
into the server's memory. But MPI promises progress on a passive target only
when that target calls into MPI (MPI-3.1 standard, Sec. 11.7.3 "Progress";
Sec. 12.7.3 in MPI-4.0). With the PyPI ``mpich`` wheel and no asynchronous
progress thread (``MPIR_CVAR_ASYNC_PROGRESS=1`` starts one, at a cost on every
call), a worker's ``Accumulate`` to a server busy in its optimizer step just
waits until the server next enters MPI. The server has to poll anyway, so
two-sided messages, which make that polling explicit, lose nothing and are
easier to follow.
"""
import os
import sys
import time

import numpy as np

GRADIENT, PARAMETERS, DONE = 1, 2, 3
TO_SERVER, TO_WORKER = 101, 102         # tags
HEADER = 3                               # int64 fields
MAX_PAUSE = 1e-3                         # seconds between polls, at most


def default_timeout():
    """Seconds a wait may last: ``MINIGRAD_PS_TIMEOUT`` or 600."""
    return float(os.environ.get("MINIGRAD_PS_TIMEOUT", 600))


class Message:
    """One reusable buffer: ``header`` (3 int64) and ``payload`` (n numbers) over the same bytes."""

    def __init__(self, length, dtype):
        dtype = np.dtype(dtype)
        self.raw = np.zeros(8 * HEADER + length * dtype.itemsize, dtype=np.uint8)
        self.header = self.raw[:8 * HEADER].view(np.int64)
        self.payload = self.raw[8 * HEADER:].view(dtype)
        self.request = None             # the send or receive in flight on this buffer

    def kind(self):
        return int(self.header[0])


class ParameterServerError(RuntimeError):
    """Servers and workers disagree (a message of the wrong kind or version); the job cannot go on."""


class ParameterServerTimeout(ParameterServerError):
    """A server or worker waited longer than its timeout for a peer."""


def wait_for(pending, timeout, what):
    """Poll ``pending`` (a list of (request, peer rank) pairs) until all are done.

    After ``timeout`` seconds raise ParameterServerTimeout naming ``what`` and
    the ranks whose requests are still open (peer None: "not every rank", for
    a collective such as a barrier).
    """
    deadline = time.monotonic() + timeout
    pause = 0.0
    while pending:
        pending = [(request, peer) for request, peer in pending if not request.Test()]
        if not pending:
            return
        if time.monotonic() > deadline:
            peers = {peer for _, peer in pending}
            who = "not every rank arrived" if None in peers else f"no answer from rank(s) {sorted(peers)}"
            raise ParameterServerTimeout(
                f"{what}: {who} within {timeout:g} s "
                f"(the timeout; set it with timeout= or MINIGRAD_PS_TIMEOUT)")
        time.sleep(pause)
        pause = min(2 * pause + 1e-5, MAX_PAUSE)


def abort(comm, error):
    """Print ``error`` with this rank's number, then end every rank through MPI_Abort."""
    from mpi4py import MPI

    sys.stdout.flush()
    sys.stderr.write(f"[minigrad.distributed.ps] rank {comm.Get_rank()} of {comm.Get_size()}: "
                     f"{type(error).__name__}: {error}; calling MPI_Abort so that no rank waits "
                     f"forever\n")
    sys.stderr.flush()
    time.sleep(0.5)            # let the launcher forward the message: Abort can outrun it
    MPI.COMM_WORLD.Abort(1)    # the launcher ends every rank with a non-zero exit status
    os._exit(1)        # should Abort ever return
