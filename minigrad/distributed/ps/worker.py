"""The worker side: compute gradients on local data, push them, pull fresh parameters.

    worker = ps.Worker(group, model.parameters())     # receives the servers' parameters
    for step in range(steps):
        model.zero_grad()
        loss = F.mse_loss(model(X[step]), y[step])
        loss.backward()
        worker.step()                                  # push gradients, pull parameters
    worker.close()                                     # tell the servers this worker is done

``step()`` sends each server its range of the flat gradient (a parameter
without ``.grad`` contributes zeros) and writes the parameters that come back
into the model, in place. How long that takes is the mode's business: at once
in async mode, after the slowest worker's gradient in sync mode, after the
slowest worker is at most s clocks behind in SSP mode.
"""
from minigrad.distributed.ps import protocol
from minigrad.distributed.ps.protocol import (
    DONE, GRADIENT, HEADER, PARAMETERS, TO_SERVER, TO_WORKER, Message, ParameterServerError, wait_for,
)
from minigrad.distributed.ps.sharding import (
    FlatLayout, common_dtype, flat_gradients, flat_parameters, load_flat,
)


class Worker:
    """``Worker(group, params, timeout=None)``: one worker's end of the parameter server.

    ``versions[k]`` is the version (updates applied) of server k's range that
    the model's parameters now hold; ``steps`` counts ``step()`` calls.
    """

    def __init__(self, group, params, timeout=None):
        if group.is_server:
            raise ValueError(f"Worker: rank {group.rank} is a server (servers: {group.servers})")
        self.group, self.params = group, list(params)
        dtype = common_dtype(self.params, "Worker")
        self.timeout = protocol.default_timeout() if timeout is None else float(timeout)
        self.layout = FlatLayout([p.shape for p in self.params], group.num_servers)
        self.flat = flat_parameters(self.params)               # (N,) staging for the model's values
        sizes = [hi - lo for lo, hi in map(self.layout.shard, range(group.num_servers))]
        self._inbox = [Message(n, dtype) for n in sizes]
        self._outbox = [Message(n, dtype) for n in sizes]
        self.versions = [0] * group.num_servers
        self.steps = 0
        self._guarded(self._pull)

    def step(self):
        """Push this step's gradients to the servers, then load the parameters they send back."""
        self._guarded(self._push_and_pull)
        self.steps += 1

    def close(self):
        """Tell every server this worker has finished (then a server stops waiting for it)."""
        def say_done():
            for k, server in enumerate(self.group.servers):
                box = self._sendable(k)
                box.header[:] = (DONE, 0, self.steps)
                box.request = self.group.comm.Isend(box.raw[:8 * HEADER], dest=server, tag=TO_SERVER)
            wait_for(list(zip([box.request for box in self._outbox], self.group.servers)),
                     self.timeout, f"worker rank {self.group.rank}, closing")
        self._guarded(say_done)

    def _guarded(self, action):
        try:
            action()
        except ParameterServerError as err:
            protocol.abort(self.group.comm, err)

    def _sendable(self, k):
        """Server k's outgoing buffer, once its previous send has completed."""
        box = self._outbox[k]
        if box.request is not None:
            wait_for([(box.request, self.group.servers[k])], self.timeout,
                     f"worker rank {self.group.rank}, step {self.steps}, previous push")
        return box

    def _push_and_pull(self):
        grad = flat_gradients(self.params)                      # (N,)
        self._post_receives()
        for k, server in enumerate(self.group.servers):
            lo, hi = self.layout.shard(k)
            box = self._sendable(k)
            box.payload[...] = grad[lo:hi]
            box.header[:] = (GRADIENT, self.versions[k], self.steps)
            box.request = self.group.comm.Isend(box.raw, dest=server, tag=TO_SERVER)
        self._receive()

    def _post_receives(self):
        for box, server in zip(self._inbox, self.group.servers):
            box.request = self.group.comm.Irecv(box.raw, source=server, tag=TO_WORKER)

    def _pull(self):
        self._post_receives()
        self._receive()

    def _receive(self):
        wait_for(list(zip([box.request for box in self._inbox], self.group.servers)), self.timeout,
                 f"worker rank {self.group.rank}, step {self.steps}, waiting for parameters")
        for k, box in enumerate(self._inbox):
            if box.kind() != PARAMETERS:
                raise ParameterServerError(f"worker rank {self.group.rank}: message of kind {box.kind()} "
                                           f"from server rank {self.group.servers[k]}")
            lo, hi = self.layout.shard(k)
            self.flat[lo:hi] = box.payload
            self.versions[k] = int(box.header[1])
        load_flat(self.params, self.flat, self.layout)
