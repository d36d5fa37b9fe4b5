"""A server's parameters and its optimizer, with a record of every gradient it applied. No MPI here.

``ShardState.apply(grad, sources)`` is the one place where a parameter server
changes parameters: it hands ``grad`` (this server's flat range) to the
parameter Tensors as ``.grad`` and calls ``optimizer.step()``. The server calls
it for every message (asynchronous modes) or for the mean of one message per
worker (synchronous mode); ``delay.run_with_delay`` calls the same method to
study a fixed delay in one process.

Staleness (as in Zhang, Gupta, Lian, Liu 2016, "Staleness-aware Async-SGD",
Sec. 3): the number of updates the server applied between the moment a worker
read the parameters and the moment its gradient is applied,

    staleness = version_at_apply - version_read,

where ``version`` counts the updates applied so far. Synchronous SGD has
staleness 0; ``p`` asynchronous workers of equal speed give about p - 1.
"""
import numpy as np

from minigrad.tensor import Tensor

# one row of the record per applied gradient
RECORD_FIELDS = ("worker", "step", "version_read", "version_applied", "staleness", "clock_gap")


class ShardState:
    """``ShardState(flat, pieces, optimizer)``: the range ``flat`` of the parameter vector.

    ``pieces`` is ``FlatLayout.pieces(k)`` shifted to start at 0 (``lo, hi, shape``
    inside ``flat``); ``optimizer`` is a function ``params -> Optimizer``, e.g.
    ``lambda params: SGD(params, lr=0.1)``.
    """

    def __init__(self, flat, pieces, optimizer):
        self.flat = np.array(flat)                                  # (n,) owned copy
        self.pieces = [(lo, hi, shape) for lo, hi, shape in pieces]
        self.tensors = [Tensor(self.flat[lo:hi].reshape(shape).copy(), requires_grad=True)
                        for lo, hi, shape in self.pieces]
        self.optimizer = optimizer(self.tensors)
        self.version = 0
        self.records = []

    def apply(self, grad, sources):
        """One optimizer step with the flat gradient ``grad`` (n,).

        ``sources``: one ``(worker, step, version_read, clock_gap)`` per gradient
        that went into ``grad``; each becomes a row of the record.
        """
        if grad.shape != self.flat.shape:
            raise ValueError(f"ShardState.apply: gradient of shape {grad.shape} for a shard of "
                             f"shape {self.flat.shape}")
        for tensor, (lo, hi, shape) in zip(self.tensors, self.pieces):
            tensor.grad = Tensor(grad[lo:hi].reshape(shape).copy())   # the optimizer may keep it
        self.optimizer.step()
        for tensor, (lo, hi, _) in zip(self.tensors, self.pieces):
            self.flat[lo:hi] = tensor.data.reshape(-1)
        for worker, step, version_read, clock_gap in sources:
            self.records.append((worker, step, version_read, self.version,
                                 self.version - version_read, clock_gap))
        self.version += 1

    def record(self):
        """The record as a dict of int64 arrays, one entry per applied gradient (``RECORD_FIELDS``)."""
        table = np.array(self.records, dtype=np.int64).reshape(-1, len(RECORD_FIELDS))
        return {name: table[:, i] for i, name in enumerate(RECORD_FIELDS)}
