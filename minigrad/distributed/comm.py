"""The process group: who am I, how many are we, and what happens when one of us fails.

Data-parallel training runs the same script in p processes (ranks 0..p-1),
started by an MPI launcher:

    mpiexec -n 4 python -m minigrad.examples.ddp_mlp           # one machine
    mpiexec -hosts a,b -n 8 python -m minigrad.examples.ddp_mlp  # several

Every rank holds a full copy of the model and talks to the others only through
collectives (all-reduce, broadcast, all-gather) over MPI's world communicator.

A script that was not started by an MPI launcher is simply world size 1: rank
0 of 1, every collective is the identity, and mpi4py is never imported (it is
an optional dependency, ``pip install 'minigrad[mpi]'``).

Failure: if one rank dies with an uncaught exception while the others wait for
it inside a collective, they would wait forever. ``init()`` therefore replaces
``sys.excepthook`` (when p > 1): the failing rank prints its traceback, then
calls ``MPI_Abort``, which makes the launcher kill every rank with a non-zero
exit status. That is what ``python -m mpi4py script.py`` does too; here plain
``python script.py`` gets it as soon as it touches ``minigrad.distributed``.
"""
import os
import sys
import traceback

# Environment variables that MPI launchers set in every process they start:
# MPICH and Intel MPI (Hydra) set PMI_*, Open MPI OMPI_*, PMIx launchers (srun --mpi=pmix) PMIX_*.
_LAUNCHER_VARIABLES = ("PMI_RANK", "PMI_SIZE", "OMPI_COMM_WORLD_SIZE", "PMIX_RANK")


class _World:
    """The state of the process group (one per process)."""

    initialized = False
    comm = None        # mpi4py's COMM_WORLD, or None for a single process without MPI
    MPI = None         # the mpi4py.MPI module, once imported
    rank = 0
    size = 1


_world = _World()


class Traffic:
    """Bytes this rank has sent through ``minigrad.distributed`` since the last ``reset()``.

    The ring algorithms (``ring_all_reduce``, the compressed path of DDP) are
    minigrad's own point-to-point code, so their count is exact: the sum of
    ``nbytes`` of every send buffer. Collectives handed to the MPI library are
    counted as the bytes the ring algorithm sends for the same job, because MPI
    does not report its traffic; for an all-reduce that is the least any
    algorithm can send (Patarasuk & Yuan 2009, "Bandwidth optimal all-reduce
    algorithms for clusters of workstations", J. Parallel Distrib. Comput. 69(2)).
    """

    def __init__(self):
        self.bytes_sent = 0
        self.messages = 0

    def add(self, nbytes, messages=1):
        self.bytes_sent += int(nbytes)
        self.messages += messages

    def reset(self):
        self.bytes_sent = 0
        self.messages = 0

    def __repr__(self):
        return f"Traffic(bytes_sent={self.bytes_sent}, messages={self.messages})"


traffic = Traffic()


def _launched_by_mpi():
    return any(name in os.environ for name in _LAUNCHER_VARIABLES)


def init():
    """Join the process group (idempotent; the collectives call it on first use).

    Under an MPI launcher: import mpi4py (which initialises MPI), use
    COMM_WORLD, and install the abort-on-uncaught-exception hook. Otherwise:
    world size 1 without MPI.
    """
    if _world.initialized:
        return
    if _launched_by_mpi():
        try:
            from mpi4py import MPI
        except ImportError as err:
            raise ImportError(
                "minigrad.distributed: this process was started by an MPI launcher but mpi4py "
                "is not installed; pip install 'minigrad[mpi]'"
            ) from err
        _world.MPI, _world.comm = MPI, MPI.COMM_WORLD
        _world.rank = _world.comm.Get_rank()
        _world.size = _world.comm.Get_size()
        if _world.size > 1:
            _install_abort_hook()
    _world.initialized = True


def _install_abort_hook():
    """Uncaught exception on this rank -> print it, then MPI_Abort every rank."""
    def abort_all_ranks(exc_type, exc, tb):
        rank, size = _world.rank, _world.size
        sys.stderr.write(f"\n[minigrad.distributed] uncaught exception on rank {rank} of {size}:\n")
        sys.stderr.write("".join(traceback.format_exception(exc_type, exc, tb)))
        sys.stderr.write(f"[minigrad.distributed] rank {rank}: calling MPI_Abort so that no "
                         "rank waits forever for it\n")
        sys.stderr.flush()
        sys.stdout.flush()
        _world.comm.Abort(1)    # does not return: the launcher ends every rank, exit status non-zero

    sys.excepthook = abort_all_ranks


def world():
    """The world communicator (None for a single process without MPI), initialising on first use."""
    if not _world.initialized:
        init()
    return _world.comm


def get_rank():
    """This process's rank, 0..world_size-1."""
    if not _world.initialized:
        init()
    return _world.rank


def get_world_size():
    """The number of processes p."""
    if not _world.initialized:
        init()
    return _world.size


def barrier():
    """Wait until every rank has reached this call."""
    comm = world()
    if comm is not None and _world.size > 1:
        comm.Barrier()
