"""The server side: hold a range of the parameters, apply gradients as they come, send parameters back.

Three modes decide when a worker's gradient is applied and when the worker
may go on (``mode=``):

``"sync"``   The server waits for one gradient from every worker, applies their
             mean as one update, and sends the new parameters to all. With p
             workers each averaging its own b examples this is exactly SGD on
             the big batch of p*b examples (the same computation as DDP).
``"async"``  Downpour SGD (Dean et al. 2012, "Large Scale Distributed Deep
             Networks", Sec. 4.1): each gradient is applied the moment it
             arrives, and only its sender gets the fresh parameters back. Fast
             workers never wait for slow ones; gradients become stale.
``"ssp"``    Stale synchronous parallel (Ho et al. 2013, "More Effective
             Distributed ML via a Stale Synchronous Parallel Parameter Server",
             Sec. 2): as async, but a worker's clock (gradients it has pushed)
             may run at most ``staleness`` = s ahead of the slowest worker's
             still working; a faster worker's reply is held back until the
             slowest catches up. s = 0 is lock-step, s = infinity is async.

Every applied gradient is recorded (``ShardState.record``): sender, its step,
the version it was computed at, the staleness in updates, and its clock gap
(the sender's clock minus the slowest worker's, at the time it was applied),
which SSP keeps at or below s. Downpour lets workers push and fetch every few
steps; here both happen every step (n_push = n_fetch = 1 in the paper's terms).
"""
import time

from minigrad.distributed.ps import protocol
from minigrad.distributed.ps.protocol import (
    DONE, GRADIENT, PARAMETERS, TO_SERVER, TO_WORKER, Message, ParameterServerError,
    ParameterServerTimeout, wait_for,
)
from minigrad.distributed.ps.sharding import FlatLayout, common_dtype, flat_parameters
from minigrad.distributed.ps.state import ShardState

MODES = ("sync", "async", "ssp")


class ParameterServer:
    """``ParameterServer(group, params, optimizer, mode="sync", staleness=None, timeout=None)``.

    ``params``: the model's parameters (their values now are where training
    starts, so build the model the same way on every rank or only trust the
    servers'); ``optimizer``: ``params -> Optimizer``, applied to this server's
    range; ``staleness``: s for ``mode="ssp"``; ``timeout``: seconds to wait for
    a worker before the job is ended (default ``protocol.default_timeout()``).
    ``run()`` serves until every worker has called ``Worker.close()``.
    """

    def __init__(self, group, params, optimizer, mode="sync", staleness=None, timeout=None):
        if not group.is_server:
            raise ValueError(f"ParameterServer: rank {group.rank} is a worker (servers: {group.servers})")
        if mode not in MODES:
            raise ValueError(f"ParameterServer: unknown mode {mode!r}; expected one of {MODES}")
        if (mode == "ssp") != (staleness is not None):
            raise ValueError(f"ParameterServer: staleness= goes with mode='ssp' (and only with it), "
                             f"got mode={mode!r}, staleness={staleness!r}")
        if staleness is not None and not (isinstance(staleness, int) and staleness >= 0):
            raise ValueError(f"ParameterServer: staleness must be an int >= 0, got {staleness!r}")
        params = list(params)
        dtype = common_dtype(params, "ParameterServer")
        self.group, self.mode, self.staleness = group, mode, staleness
        self.timeout = protocol.default_timeout() if timeout is None else float(timeout)
        self.layout = FlatLayout([p.shape for p in params], group.num_servers)
        lo, hi = self.layout.shard(group.server_index)
        pieces = [(a - lo, b - lo, shape) for a, b, shape in self.layout.pieces(group.server_index)]
        self.state = ShardState(flat_parameters(params)[lo:hi], pieces, optimizer)
        self._inbox = {w: Message(hi - lo, dtype) for w in group.workers}
        self._outbox = {w: Message(hi - lo, dtype) for w in group.workers}

    def run(self, on_update=None):
        """Serve until every worker is done; returns the record. ``on_update(state)`` follows each update."""
        try:
            for w in self.group.workers:
                self._reply(w, clock=0)
            if self.mode == "sync":
                self._serve_sync(on_update)
            else:
                self._serve_async(on_update)
            wait_for([(box.request, w) for w, box in self._outbox.items()], self.timeout,
                     f"{self._name()}, last replies")
        except ParameterServerError as err:
            protocol.abort(self.group.comm, err)
        return self.state.record()

    def _name(self):
        return f"parameter server rank {self.group.rank} ({self.mode}, update {self.state.version})"

    def _listen(self, w):
        box = self._inbox[w]
        box.request = self.group.comm.Irecv(box.raw, source=w, tag=TO_SERVER)

    def _reply(self, w, clock):
        box = self._outbox[w]
        if box.request is not None:          # the previous reply: delivered, as w has pushed since
            wait_for([(box.request, w)], self.timeout, f"{self._name()}, reply to worker {w}")
        box.payload[...] = self.state.flat
        box.header[:] = (PARAMETERS, self.state.version, clock)
        box.request = self.group.comm.Isend(box.raw, dest=w, tag=TO_WORKER)

    def _serve_sync(self, on_update):
        workers = self.group.workers
        while True:
            for w in workers:
                self._listen(w)
            wait_for([(self._inbox[w].request, w) for w in workers], self.timeout, self._name())
            done = [w for w in workers if self._inbox[w].kind() == DONE]
            if len(done) == len(workers):
                return
            if done:
                raise ParameterServerError(
                    f"{self._name()}: workers {done} finished while the others sent gradients; in "
                    f"sync mode every worker must run the same number of steps")
            stale = [w for w in workers if self._inbox[w].header[1] != self.state.version]
            if stale:
                raise ParameterServerError(f"{self._name()}: workers {stale} sent gradients of other "
                                           f"versions than {self.state.version}")
            mean = self._inbox[workers[0]].payload.copy()        # (n,)
            for w in workers[1:]:
                mean += self._inbox[w].payload
            mean /= len(workers)
            self.state.apply(mean, [(w, int(self._inbox[w].header[2]), self.state.version, 0)
                                    for w in workers])
            if on_update is not None:
                on_update(self.state)
            for w in workers:
                self._reply(w, clock=self.state.version)

    def _serve_async(self, on_update):
        clocks = dict.fromkeys(self.group.workers, 0)       # gradients applied, per worker
        working = set(self.group.workers)                     # not DONE yet
        held = set()                                          # SSP: too far ahead, reply postponed
        awaited = dict.fromkeys(self.group.workers, time.monotonic())   # worker -> waited for since
        for w in self.group.workers:
            self._listen(w)
        pause = 0.0
        while working:
            arrived = [w for w in awaited if self._inbox[w].request.Test()]
            self._check_deadline(awaited, arrived)
            if not arrived:
                time.sleep(pause)
                pause = min(2 * pause + 1e-5, protocol.MAX_PAUSE)
                continue
            pause = 0.0
            for w in arrived:
                del awaited[w]
                box = self._inbox[w]
                if box.kind() == DONE:
                    working.discard(w)
                    continue
                if box.kind() != GRADIENT:
                    raise ParameterServerError(f"{self._name()}: message of kind {box.kind()} from {w}")
                gap = clocks[w] - min(clocks[v] for v in working)
                self.state.apply(box.payload, [(w, int(box.header[2]), int(box.header[1]), gap)])
                clocks[w] += 1
                if on_update is not None:
                    on_update(self.state)
                self._listen(w)
                held.add(w)
            slowest = min((clocks[v] for v in working), default=0)
            for w in sorted(held):
                if self.staleness is None or clocks[w] - slowest <= self.staleness:
                    held.discard(w)
                    self._reply(w, clock=clocks[w])
                    awaited[w] = time.monotonic()

    def _check_deadline(self, awaited, arrived):
        now = time.monotonic()
        late = sorted(w for w, since in awaited.items() if now - since > self.timeout and w not in arrived)
        if late:
            raise ParameterServerTimeout(
                f"{self._name()}: no message from worker rank(s) {late} within {self.timeout:g} s "
                f"(the timeout; set it with timeout= or MINIGRAD_PS_TIMEOUT): stuck, dead, or "
                f"finished without Worker.close()")
