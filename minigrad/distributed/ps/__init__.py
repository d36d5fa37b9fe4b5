"""A parameter server over MPI: server ranks hold the parameters, workers push gradients and pull them.

    from minigrad.distributed import ps
    group = ps.Group(num_servers=1)                 # every rank; ranks 0..S-1 become servers
    if group.is_server:
        server = ps.ParameterServer(group, model.parameters(), lambda p: SGD(p, lr=0.1),
                                    mode="async")   # or "sync", or "ssp" with staleness=s
        record = server.run()                       # staleness of every applied gradient
    else:
        worker = ps.Worker(group, model.parameters())
        for X, y in my_batches:
            model.zero_grad(); F.mse_loss(model(X), y).backward()
            worker.step()                           # push gradients, pull parameters
        worker.close()

Run with ``mpiexec -n 5 python script.py`` (1 server, 4 workers). Modules:
group.py (roles), sharding.py (contiguous ranges of the flat parameter vector
per server), protocol.py (messages, deadlines, why not one-sided MPI),
state.py (the optimizer step and the staleness record; no MPI), server.py (the
three modes), worker.py, delay.py (a fixed delay in one process, and its
stability bound). Every wait has a deadline; a rank that waits past it names
the missing rank(s) and ends the job, and an uncaught exception on any rank
ends it too (``minigrad.distributed.comm``).
"""
from minigrad.distributed.ps.delay import run_with_delay, stability_bound
from minigrad.distributed.ps.group import Group
from minigrad.distributed.ps.protocol import ParameterServerError, ParameterServerTimeout
from minigrad.distributed.ps.server import MODES, ParameterServer
from minigrad.distributed.ps.sharding import FlatLayout
from minigrad.distributed.ps.state import ShardState
from minigrad.distributed.ps.worker import Worker

__all__ = [
    "Group", "ParameterServer", "Worker", "MODES", "ShardState", "FlatLayout",
    "run_with_delay", "stability_bound", "ParameterServerError", "ParameterServerTimeout",
]
