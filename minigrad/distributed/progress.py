"""A helper thread that keeps MPI's transfers moving while the main thread computes.

MPICH advances a non-blocking collective only while some MPI call runs on
that rank (its "progress engine"): an ``Iallreduce`` started by a DDP hook
sits still while backward multiplies matrices, and moves only at the next
hook or in the final wait. ``MPIR_CVAR_ASYNC_PROGRESS=1`` makes MPICH spin a
thread of its own on every rank, which costs a core. The middle way, here:
while DDP has buckets in flight, one daemon thread calls ``MPI_Iprobe`` (on a
tag nobody uses) every ~0.1 ms and sleeps in between. NumPy's matrix products
release Python's GIL, so the thread runs during them. It needs MPI's
THREAD_MULTIPLE level (mpi4py's default); ``MINIGRAD_PROGRESS_THREAD=0`` turns
it off. ``benchmarks/bench_ddp.py`` measures all three ways.
"""
import os
import threading
import time

from minigrad.distributed.comm import _world

ENABLED = os.environ.get("MINIGRAD_PROGRESS_THREAD", "1") != "0"
PERIOD_S = 1e-4
_UNUSED_TAG = 0x6D6A
_wanted = threading.Event()
_thread = [None]


def start():
    """Begin poking MPI (no-op when disabled or MPI lacks THREAD_MULTIPLE)."""
    if not ENABLED or _world.MPI is None:
        return
    if _thread[0] is None:
        if _world.MPI.Query_thread() != _world.MPI.THREAD_MULTIPLE:
            return
        _thread[0] = threading.Thread(target=_poke_forever, name="minigrad-mpi-progress", daemon=True)
        _thread[0].start()
    _wanted.set()


def stop():
    _wanted.clear()


def _poke_forever():
    comm, MPI = _world.comm, _world.MPI
    while True:
        _wanted.wait()
        if _world.failed is not None or _world.aborting:
            return
        comm.Iprobe(source=MPI.ANY_SOURCE, tag=_UNUSED_TAG)
        time.sleep(PERIOD_S)
