"""One rank fails, every rank ends: the job never hangs on a dead or departed rank.

MPI has no notion of a rank "leaving": if rank 1 stops while rank 0 waits for
it in an all-reduce, rank 0 waits forever. ``MPI_Abort`` is the one call that
ends every rank (the launcher kills them, exit status non-zero). This module
makes sure it is called whenever a rank leaves early, however it leaves:

* **An uncaught exception.** ``sys.excepthook`` is wrapped: the previous hook
  prints the traceback as usual, then the job is aborted. If another library
  replaces ``sys.excepthook`` later, the exit handler below still sees the
  exception (the interpreter stores it in ``sys.last_value`` before calling
  whatever hook is installed) and aborts.
* **``sys.exit(code)``, any code, or the end of the script.** The exit handler
  (``atexit``) takes part in one last collective, "exit". If every rank is
  leaving, that is a clean end. If another rank is inside, or reaches, any other
  collective, the header check of ``guard.py`` sees "exit" meet, say,
  "all_reduce #7" and the job is aborted, with both calls named.
* **A failed collective** (timeout, mismatch): recorded by ``guard.fail``; even
  if the program catches the error, the exit handler aborts.
* **SIGTERM** (``kill``, a scheduler, a launcher): unless the program set its
  own handler, the rank says it was terminated and aborts the job.
* **A killed rank** (SIGKILL, out of memory): the launcher itself ends the
  rest; MPICH's names the process id and the signal. (So does ``os._exit``,
  which skips every handler: MPICH's launcher then ends the others silently,
  exit status 0 if the code was 0. Nothing in the process can see that.)
* **``MPI.Finalize()`` called by the program**: no MPI call is possible after
  it, so the exit collective is skipped (the program has ended MPI together).

Installed by ``comm.init()`` under a launcher with p > 1, which importing
``minigrad.distributed`` calls: so a rank that fails before building a model
or calling any collective also ends the job.
"""
import atexit
import signal
import sys
import threading
import traceback

from minigrad.distributed.comm import _world, abort_job

_installed = [False]


def install():
    if _installed[0]:
        return
    _installed[0] = True
    previous = sys.excepthook

    def abort_on_uncaught_exception(exc_type, exc, tb):
        try:
            previous(exc_type, exc, tb)
        except Exception:                          # a broken hook must not stop the abort
            traceback.print_exception(exc_type, exc, tb)
        abort_job(f"uncaught {exc_type.__name__}: {exc}")

    sys.excepthook = abort_on_uncaught_exception
    atexit.register(_at_exit)
    main_thread = threading.current_thread() is threading.main_thread()
    if main_thread and signal.getsignal(signal.SIGTERM) is signal.SIG_DFL:   # the program's own wins
        signal.signal(signal.SIGTERM, _abort_on_sigterm)


def _abort_on_sigterm(signum, frame):
    abort_job("terminated by SIGTERM (kill, a scheduler or the launcher)")


def _at_exit():
    """Abort after a failure; otherwise leave together with every other rank, or abort."""
    from minigrad.distributed import guard, progress

    progress.stop()
    if _world.MPI.Is_finalized():
        return
    uncaught = getattr(sys, "last_value", None)
    if uncaught is not None:
        abort_job(f"uncaught {type(uncaught).__name__}: {uncaught}")
    if _world.failed is not None:
        abort_job(f"a collective failed earlier ({_world.failed})")
    try:
        guard.exchange(guard.Call("exit", site=False))
    except guard.CollectiveError as err:
        abort_job(f"this rank is exiting (end of script or sys.exit) while another rank is not: {err}")
