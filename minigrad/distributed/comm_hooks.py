"""Communication hooks: how DistributedDataParallel reduces one bucket, replaceable (PyTorch's API).

    ddp.register_comm_hook(state, hook)
    hook(state, bucket) -> Future whose wait() gives the AVERAGED gradients, a 1-D
                           Tensor/array of bucket.buffer()'s size (or that value directly)

``bucket`` is a ``buckets.GradBucket``: ``buffer()`` (this rank's local gradient
sum, flat), ``gradients()``, ``parameters()``, ``index()``, ``is_last()``.
``state`` is whatever the hook needs to keep between steps (a compressor with
its error-feedback memory, a PowerSGD state...). DDP calls the hook once per
bucket per synchronising backward pass, in bucket order on every rank, waits
for every returned Future at the end of backward, then writes the averages
into ``.grad``. A hook that starts a non-blocking collective and returns
``work.get_future()`` overlaps with the rest of backward; a hook that
communicates at once and returns ``Future.completed(value)`` is simpler.
Bytes are counted by the collectives a hook calls (``ddp.bytes_sent``).

Hooks here:
    allreduce_hook(None, bucket)        PyTorch's default: divide by p, then all-reduce (async)
    compressor_hook(compressor, bucket) any ``minigrad.compress`` compressor (QSGD, TopK with
                                        error feedback, FP16): payloads all-gathered, decoded
                                        and summed in rank order (bitwise equal on all ranks);
                                        ``ErrorFeedback(c)`` / ``EFSign()`` likewise
    dgc_hook(dgc, bucket)               Deep Gradient Compression (``compress/dgc.py``): the hook
                                        owns the momentum, so the optimizer must be plain SGD
                                        WITHOUT momentum
    powerSGD_hook(state, bucket)        PowerSGD (``compress/powersgd.py``), PyTorch's options and
                                        steps: all-reduce of the small tensors, of P, then of Q
"""
from collections import defaultdict

import numpy as np

from minigrad import backend
from minigrad.compress.dgc import DGC
from minigrad.compress.powersgd import PowerSGDState, orthogonalize, should_compress
from minigrad.distributed.collectives import all_gather_bytes, all_reduce
from minigrad.distributed.work import Future
from minigrad.distributed.comm import get_world_size
from minigrad.tensor import Tensor


def allreduce_hook(process_group, bucket):
    """Average by dividing each rank's buffer by p, then summing: as ``torch``'s ``allreduce_hook``."""
    tensor = bucket.buffer()
    tensor.data /= get_world_size()
    return all_reduce(tensor, async_op=True).get_future(tensor).then(lambda fut: fut.value()[0])


def compressor_hook(compressor, bucket):
    """Compress this rank's bucket, all-gather the payloads, decode and add them in rank order.

    The compressors encode x / p (``compress/base.py``), so the rank-ordered sum
    of the decoded payloads is the average. TopK keeps its error-feedback
    residual per bucket (``key=bucket.index()``).
    """
    compressor.world_size = get_world_size()
    flat = bucket.buffer().data
    payloads = all_gather_bytes(compressor.compress(flat, key=bucket.index()))
    mean = compressor.aggregate(payloads).astype(flat.dtype, copy=False)
    return Future.completed(Tensor(mean))


def dgc_hook(dgc, bucket):
    """Deep Gradient Compression of one bucket; use with ``optim.SGD(..., momentum=0)``.

    ``dgc`` is a ``minigrad.compress.DGC``: its per-bucket momentum u and velocity
    v are the optimizer-side state the paper moves into the communication step.
    """
    if not isinstance(dgc, DGC):
        raise TypeError(f"dgc_hook: state must be a minigrad.compress.DGC, got {type(dgc).__name__}")
    return compressor_hook(dgc, bucket)


def powerSGD_hook(state, bucket):
    """PowerSGD on one bucket (PyTorch's ``powerSGD_hook``): Vogels et al. 2019, Algorithm 1.

    Before ``state.start_powerSGD_iter`` iterations: the plain all-reduce. Then
    each gradient viewed as shape[0] x rest is sent as P (n x r) and Q (m x r)
    when ``should_compress`` says so; vectors and small matrices go uncompressed.
    """
    if not isinstance(state, PowerSGDState):
        raise TypeError(f"powerSGD_hook: state must be a PowerSGDState, got {type(state).__name__}")
    if state.iter < state.start_powerSGD_iter:
        state.maybe_increase_iter(bucket)
        return allreduce_hook(None, bucket)
    p, key = get_world_size(), bucket.index()
    flat = bucket.buffer().data                                 # (N,) this rank's gradients
    xp = backend.get_array_module(flat)                         # NumPy or CuPy, as the model
    if state.use_error_feedback:
        if key in state.error_dict:
            flat += state.error_dict[key]                       # M <- M + e
        else:
            state.error_dict[key] = xp.zeros_like(flat)
        local = flat.copy()
    by_shape, plain = defaultdict(list), []                     # compressed in shape groups, as torch
    for grad in bucket.gradients():
        matrix = grad.data.reshape(grad.shape[0] if grad.dim() else 1, -1)   # (n, m), a view
        n, m = matrix.shape
        rank = min(n, m, state.matrix_approximation_rank)
        worth, before, after = should_compress(n, m, rank, state.min_compression_rate)
        state.total_numel_before_compression += before
        state.total_numel_after_compression += after if worth else before
        (by_shape[matrix.shape] if worth else plain).append(matrix)
    matrices = [matrix for group in by_shape.values() for matrix in group]
    ranks = [min(*mat.shape, state.matrix_approximation_rank) for mat in matrices]
    p_sizes = np.cumsum([0] + [mat.shape[0] * r for mat, r in zip(matrices, ranks)])
    q_sizes = np.cumsum([0] + [mat.shape[1] * r for mat, r in zip(matrices, ranks)])
    fresh = not state.warm_start or key not in state.p_memory_dict
    if fresh:
        state.p_memory_dict[key] = xp.empty(int(p_sizes[-1]), flat.dtype)
        state.q_memory_dict[key] = xp.empty(int(q_sizes[-1]), flat.dtype)
    p_memory, q_memory = state.p_memory_dict[key], state.q_memory_dict[key]
    ps = [p_memory[a:b].reshape(-1, r) for a, b, r in zip(p_sizes, p_sizes[1:], ranks)]  # (n, r)
    qs = [q_memory[a:b].reshape(-1, r) for a, b, r in zip(q_sizes, q_sizes[1:], ranks)]  # (m, r)
    if fresh:
        for q, drawn in zip(qs, state.random_q([q.shape for q in qs], flat.dtype)):
            q[...] = backend.to_device(drawn, backend.device_of(flat))
    for matrix, P, Q in zip(matrices, ps, qs):
        orthogonalize(Q, state.orthogonalization_epsilon)
        xp.matmul(matrix, Q, out=P)                             # P = M Q
    if plain:                                                   # the small tensors: averaged as is
        rest = all_reduce(xp.concatenate([t.reshape(-1) for t in plain]))
        rest /= p
        offsets = np.cumsum([0] + [t.size for t in plain])
        for t, a, b in zip(plain, offsets, offsets[1:]):
            t[...] = rest[a:b].reshape(t.shape)
    if matrices:                                                # (same layout, same choice on all ranks)
        all_reduce(p_memory)                                    # sum of the ranks' P
        for matrix, P, Q in zip(matrices, ps, qs):
            orthogonalize(P, state.orthogonalization_epsilon)
            xp.matmul(matrix.T, P, out=Q)                       # Q = M^T P
        all_reduce(q_memory)
        q_memory /= p                                           # Q of the average gradient
        for matrix, P, Q in zip(matrices, ps, qs):
            xp.matmul(P, Q.T, out=matrix)                       # M' = P Q^T, into the bucket
    if state.use_error_feedback:
        state.error_dict[key] = local - flat                    # e = M - M'
    if not state.warm_start:
        state.p_memory_dict.clear()
        state.q_memory_dict.clear()
    state.maybe_increase_iter(bucket)
    return Future.completed(bucket.buffer())
