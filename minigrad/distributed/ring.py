"""Ring all-reduce, written out: a reduce-scatter, then an all-gather, over point-to-point messages.

The p ranks stand in a ring; rank r only ever sends to its right neighbour
r+1 and receives from its left neighbour r-1 (mod p), with one ``Sendrecv``
per step. The vector of N elements is cut into p chunks C_0..C_{p-1}.

Reduce-scatter (p-1 steps). At step s rank r sends chunk (r - s) mod p to the
right and adds the chunk (r - s - 1) mod p it receives from the left into its
own copy. A chunk thus travels once round the ring, picking up one rank's
contribution per hop; after p-1 steps rank r holds the finished sum of chunk
(r + 1) mod p.

All-gather (p-1 steps). Each rank passes finished chunks on: at step s rank r
sends chunk (r + 1 - s) mod p and receives chunk (r - s) mod p, which it stores
as is. After p-1 steps every rank has every finished chunk.

Cost. Each phase sends p-1 chunks of N/p elements per rank, so every rank sends

    2 (p-1)/p * N elements      (< 2N, whatever p is)

and no algorithm can send less: each rank must get the other ranks' data into
the sum and the sum back out (Patarasuk & Yuan 2009, "Bandwidth optimal
all-reduce algorithms for clusters of workstations"). The price is 2(p-1)
message latencies, which is why MPI's own tree-like algorithms win for small
messages (see ``collectives.all_reduce``).

Each step is an ``Irecv`` from the left and an ``Isend`` to the right, waited
for under the collective's deadline (``guard.wait``).

Every element of the result is computed on exactly one rank and copied to the
others, so all ranks end with bitwise-identical results.
"""
from minigrad import backend
from minigrad.distributed import buffers, guard
from minigrad.distributed.comm import traffic

RING_TAG = 0x6D69    # point-to-point tag of the ring's messages (never matched by anything else)

_scratch = {}   # (device, dtype) -> receive buffer reused between calls (no page faults per call)


def chunk_bounds(length, p):
    """Chunk k is [bounds[k], bounds[k+1]); sizes are floor(N/p) or ceil(N/p), possibly 0."""
    return [k * length // p for k in range(p + 1)]


def _receive_buffer(like, size):
    xp = backend.get_array_module(like)
    key = (backend.device_of(like), like.dtype)
    buf = _scratch.get(key)
    if buf is None or buf.size < size:
        buf = _scratch[key] = xp.empty(size, dtype=like.dtype)
    return buf[:size]


def ring_reduce(comm, x, combine, call):
    """In-place all-reduce of the contiguous array ``x``; ``combine`` names a ufunc ("add", "maximum").

    Lengths must already agree across ranks (``ring_all_reduce`` checks them); ``call``
    is the ``guard.Call`` whose deadline applies.
    """
    p, r = comm.Get_size(), comm.Get_rank()
    x = x.reshape(-1)
    combine = getattr(backend.get_array_module(x), combine)
    right, left = (r + 1) % p, (r - 1) % p
    b = chunk_bounds(x.size, p)
    chunk = [x[b[k]:b[k + 1]] for k in range(p)]
    incoming = _receive_buffer(x, -(-x.size // p))  # room for the largest chunk, ceil(N/p)

    for s in range(p - 1):                          # reduce-scatter
        send, recv = (r - s) % p, (r - s - 1) % p
        landing = incoming[:chunk[recv].size]
        _send_receive(comm, call, chunk[send], right, landing, left)
        traffic.add(chunk[send].nbytes)
        combine(chunk[recv], landing, out=chunk[recv])
        buffers.synchronize(chunk[recv])            # GPU: the sum must be done before we send it on

    for s in range(p - 1):                          # all-gather
        send, recv = (r + 1 - s) % p, (r - s) % p
        _send_receive(comm, call, chunk[send], right, chunk[recv], left)
        traffic.add(chunk[send].nbytes)
    return x


def _send_receive(comm, call, outgoing, right, landing, left):
    guard.wait(call, [comm.Irecv(landing, source=left, tag=RING_TAG),
                      comm.Isend(outgoing, dest=right, tag=RING_TAG)])
