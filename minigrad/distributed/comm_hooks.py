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
                                        and summed in rank order (bitwise equal on all ranks)
"""
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
