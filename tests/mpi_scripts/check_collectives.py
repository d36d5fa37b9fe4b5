"""Run under `mpiexec -n p`: every collective against exact sums and MPI's own Allreduce.

Each rank builds every rank's input from the same seeds, so it knows the exact
answer without asking anyone. Any failed check raises, and the abort hook that
`minigrad.distributed` installs ends every rank with a non-zero exit.
The last line on each rank is "rank r: collectives ok". (Mismatched calls end
the job: they are checked one per launch by tests/mpi_scripts/faults.py.)
"""
import sys

import numpy as np

import minigrad as mg
import minigrad.distributed as dist

# under a launcher, the import alone joined MPI and installed the abort-on-failure arrangement
assert "mpi4py" in sys.modules and sys.excepthook.__name__ == "abort_on_uncaught_exception"
p, rank = dist.get_world_size(), dist.get_rank()
from mpi4py import MPI  # noqa: E402

from minigrad.distributed import collectives, comm as comm_module  # noqa: E402


class CountingComm:
    """MPI's communicator with Isend wrapped: counts the bytes this rank sends point to point."""

    def __init__(self, inner):
        self.inner, self.sendrecv_bytes = inner, 0

    def Isend(self, sendbuf, *args, **kwargs):
        self.sendrecv_bytes += sendbuf.nbytes
        return self.inner.Isend(sendbuf, *args, **kwargs)

    def __getattr__(self, name):
        return getattr(self.inner, name)


def same_on_every_rank(x):
    """Bitwise: every rank's bytes equal rank 0's."""
    rows = np.empty((p, x.nbytes), dtype=np.uint8)
    MPI.COMM_WORLD.Allgather(np.ascontiguousarray(x).view(np.uint8).reshape(-1), rows)
    return bool((rows == rows[0]).all())


def inputs(n, dtype, integer, seed):
    rng = np.random.default_rng([seed, n])
    values = rng.integers(-1000, 1000, size=(p, n)) if integer else rng.standard_normal((p, n))
    return values.astype(dtype)


def check_all_reduce(n, dtype):
    eps = np.finfo(dtype).eps
    for algorithm in (None, "mpi", "ring"):
        exact = inputs(n, dtype, True, 1)        # small integers: every sum is exact in float32
        x = exact[rank].copy()
        assert dist.all_reduce(x, algorithm=algorithm) is x
        assert np.array_equal(x, exact.sum(axis=0)), (n, dtype, algorithm, "integer sum")

        data = inputs(n, dtype, False, 2)        # real floats: within p rounding errors of the sum
        x = data[rank].copy()
        dist.all_reduce(x, algorithm=algorithm)
        reference = data.astype(np.float64).sum(axis=0)
        bound = p * eps * np.abs(data).astype(np.float64).sum(axis=0)
        assert (np.abs(x - reference) <= bound).all(), (n, dtype, algorithm, "float sum")
        assert same_on_every_rank(x), (n, dtype, algorithm, "replicas differ")

        mpi_result = data[rank].copy()
        MPI.COMM_WORLD.Allreduce(MPI.IN_PLACE, mpi_result, op=MPI.SUM)
        assert (np.abs(x - mpi_result) <= 2 * bound).all(), (n, dtype, algorithm, "vs MPI")

        for op, numpy_op in (("max", np.max), ("min", np.min), ("mean", np.mean)):
            x = exact[rank].copy()
            dist.all_reduce(x, op=op, algorithm=algorithm)
            expected = numpy_op(exact.astype(np.float64), axis=0)
            assert np.array_equal(x, expected.astype(dtype)), (n, dtype, algorithm, op)


def check_ring_bytes():
    counting = CountingComm(comm_module._world.comm)
    comm_module._world.comm = counting
    try:
        for n, dtype in ((1_000_003, np.float32), (p + 1, np.float64), (2 * p, np.float32), (1, np.float64)):
            x = np.ones(n, dtype=dtype)
            counting.sendrecv_bytes, before = 0, dist.traffic.bytes_sent
            dist.ring_all_reduce(x)
            assert np.array_equal(x, np.full(n, p, dtype=dtype))
            measured = counting.sendrecv_bytes
            ideal = 2 * (p - 1) / p * n * x.itemsize
            # each rank skips two chunks, each within one element of n/p: off by < 2 elements
            assert abs(measured - ideal) < 2 * x.itemsize, (n, measured, ideal)
            assert dist.traffic.bytes_sent - before == measured, "traffic counter != bytes sent"
        # the automatic choice: small -> MPI_Allreduce (no Isend), large -> the ring
        counting.sendrecv_bytes = 0
        dist.all_reduce(np.ones(10, dtype=np.float32))
        assert counting.sendrecv_bytes == 0
        big = np.ones(collectives.ring_threshold(p) // 4 + 1, dtype=np.float32)
        dist.all_reduce(big)
        assert counting.sendrecv_bytes > 0 and (big == p).all()
    finally:
        comm_module._world.comm = counting.inner


def check_tensors_views_and_other_collectives():
    t = mg.tensor(np.arange(6.0).reshape(2, 3) + rank)
    array_before = t.data
    assert dist.all_reduce(t) is t and t.data is array_before      # in place, same array
    assert np.array_equal(t.data, p * np.arange(6.0).reshape(2, 3) + sum(range(p)))

    base = np.arange(12.0).reshape(3, 4) * (rank + 1)
    view = base.T                                                  # not contiguous
    dist.all_reduce(view)
    assert np.array_equal(base, np.arange(12.0).reshape(3, 4) * sum(range(1, p + 1)))

    a, b = np.full(3, float(rank)), np.full((2, 2), float(rank + 1))   # two in flight at once
    work_a, work_b = dist.all_reduce(a, async_op=True), dist.all_reduce(b, op="mean", async_op=True)
    assert work_b.wait() and work_a.wait() and work_a.is_completed()
    assert (a == sum(range(p))).all() and (b == (p + 1) / 2).all()

    src = p - 1
    x = np.full(5, float(rank))
    assert dist.broadcast(x, src=src) is x and (x == src).all()
    t = mg.tensor(np.full((2, 2), float(rank)))
    dist.broadcast(t, src=0)
    assert (t.data == 0).all()

    pieces = dist.all_gather(np.full((2, 3), rank, dtype=np.int64))
    assert len(pieces) == p and all((piece == r).all() and piece.shape == (2, 3)
                                    for r, piece in enumerate(pieces))
    tensors = dist.all_gather(mg.tensor(np.array([float(rank)])))
    assert [float(t.data[0]) for t in tensors] == [float(r) for r in range(p)]
    assert all(isinstance(t, mg.Tensor) for t in tensors)

    payload = ((np.arange(7 * rank) + rank) % 256).astype(np.uint8)    # rank 0 sends 0 bytes
    before = dist.traffic.bytes_sent
    got = dist.all_gather_bytes(payload)
    right = (rank + 1) % p                  # a ring forwards every payload but the right neighbour's
    assert dist.traffic.bytes_sent - before == 8 * (p - 1) + sum(7 * r for r in range(p)) - 7 * right
    assert [g.size for g in got] == [7 * r for r in range(p)]
    assert all(np.array_equal(g, (np.arange(7 * r) + r) % 256) for r, g in enumerate(got))


for n in sorted({0, 1, 3, p - 1, p + 1, 1_000_003}):
    for dtype in (np.float32, np.float64):
        check_all_reduce(n, dtype)
check_ring_bytes()
check_tensors_views_and_other_collectives()
dist.barrier()
print(f"rank {rank}: collectives ok", flush=True)
