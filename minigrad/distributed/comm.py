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

Failure: a rank that fails must not leave the others waiting forever. Under a
launcher with p > 1 the arrangement of ``failure.py`` is installed as soon as
``minigrad.distributed`` is imported (uncaught exception, ``sys.exit`` with any
code, a failed collective: every rank ends, non-zero), and every collective
has a timeout (``guard.py``): ``set_timeout(seconds)`` for the process,
``timeout=`` per call, or the environment variable MINIGRAD_COLLECTIVE_TIMEOUT
(default 600 s).
"""
import faulthandler
import os
import sys
import time

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
    failed = None      # why the job must end, once a collective failed
    aborting = False


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
    """Join the process group (idempotent; importing ``minigrad.distributed`` calls it).

    Under an MPI launcher: import mpi4py (which initialises MPI), use
    COMM_WORLD, and install the abort-on-failure arrangement (``failure.py``).
    Otherwise: world size 1 without MPI.
    """
    if _world.initialized:
        return
    if _launched_by_mpi():
        MPI = _join_mpi()
        _world.MPI, _world.comm = MPI, MPI.COMM_WORLD
        _world.rank = _world.comm.Get_rank()
        _world.size = _world.comm.Get_size()
        if _world.size > 1:
            from minigrad.distributed import failure
            failure.install()
    _world.initialized = True


def _join_mpi():
    """Import mpi4py, which runs MPI_Init: that waits for every rank, so it gets a deadline too.

    A rank that fails before joining MPI (a plain Python error before
    ``import minigrad.distributed``) leaves the others inside MPI_Init, and
    MPICH's launcher never ends them. MPI_Init holds Python's lock, so no
    Python thread can watch it; faulthandler's watchdog is C code: after the
    collective timeout it prints where this process waits and exits with 1.
    """
    if "mpi4py.MPI" in sys.modules:                 # the program joined MPI itself already
        from mpi4py import MPI
        return MPI
    faulthandler.dump_traceback_later(_timeout[0], exit=True)
    try:
        from mpi4py import MPI          # on timeout, faulthandler prints "Timeout" and this line:
    except ImportError as err:          # some rank never started MPI (its error is printed above)
        raise ImportError(
            "minigrad.distributed: this process was started by an MPI launcher but mpi4py "
            "is not installed; pip install 'minigrad[mpi]'"
        ) from err
    finally:
        faulthandler.cancel_dump_traceback_later()
    return MPI


def _timeout_from_environment():
    text = os.environ.get("MINIGRAD_COLLECTIVE_TIMEOUT", "600")
    try:
        seconds = float(text)
    except ValueError:
        seconds = float("nan")
    if not seconds > 0:
        raise ValueError(f"minigrad.distributed: MINIGRAD_COLLECTIVE_TIMEOUT must be a number of seconds "
                         f"> 0, got {text!r}")
    return seconds


_timeout = [_timeout_from_environment()]


def set_timeout(seconds):
    """Every later collective of this process fails after ``seconds`` without completing."""
    if not seconds > 0:
        raise ValueError(f"set_timeout: seconds must be > 0, got {seconds!r}")
    _timeout[0] = float(seconds)


def get_timeout():
    """The process-wide collective timeout in seconds (default 600, or MINIGRAD_COLLECTIVE_TIMEOUT)."""
    return _timeout[0]


def abort_job(reason):
    """Print why, then MPI_Abort: the launcher ends every rank with a non-zero exit status."""
    if not _world.aborting:          # the excepthook and the exit handler may both get here
        _world.aborting = True
        finalized = _world.MPI.Is_finalized()       # then no MPI call, Abort included, is possible
        sys.stdout.flush()
        sys.stderr.write(f"[minigrad.distributed] rank {_world.rank} of {_world.size}: {reason}; " + (
            "exiting with status 1 (MPI.Finalize() was called)" if finalized
            else "calling MPI_Abort so that no rank waits forever") + "\n")
        sys.stderr.flush()
        time.sleep(0.5)             # let the other ranks print their side of the story
        if not finalized:
            _world.comm.Abort(1)    # the launcher ends every rank
    os._exit(1)                     # should Abort ever return


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
