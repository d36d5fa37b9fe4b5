"""Data-parallel training: every rank a full replica, gradients averaged after each backward.

With p ranks, each computing the gradient g_r of the mean loss over its own b
examples, the average

    g = (1/p) * sum_r g_r

is exactly the gradient of the mean loss over all p*b examples. So if every
replica starts from the same parameters and applies the same optimizer step to
the same g, data-parallel SGD IS big-batch SGD, p times faster per step (Goyal
et al. 2017, "Accurate, Large Minibatch SGD", Sec. 2; Li et al. 2020, "PyTorch
Distributed: Experiences on Accelerating Data Parallel Training", Sec. 3).

Buckets. One all-reduce per parameter pays the message latency once per
parameter; packing gradients into a few flat buffers of about ``bucket_cap_mb``
MB pays it once per bucket and gives the ring large messages (Li et al. 2020,
Sec. 3.2.3). ``bucket_cap_mb=0`` gives the naive one-call-per-parameter scheme.

When is the all-reduce run? PyTorch hooks it into autograd; minigrad has no
backward hooks, so the training loop says it, in one of two equivalent ways:

    ddp.backward(loss)            # loss.backward(), then sync_gradients()
    loss.backward(); ddp.sync_gradients()

Inside ``with ddp.no_sync():`` both only accumulate local gradients (gradient
accumulation: the all-reduce runs once, after the last micro-batch).

Compression. With a compressor (``minigrad.compress``) each rank encodes its
bucket into a byte payload, the payloads are all-gathered (their sizes differ,
and quantised values with per-rank scales cannot be summed by MPI), and every
rank decodes and adds them in rank order, so all replicas get bitwise the same
result.
"""
import contextlib

import numpy as np

from minigrad import backend
from minigrad.distributed.buffers import check_agreement
from minigrad.distributed.collectives import (
    all_gather_bytes, broadcast, choose_algorithm, reduce_in_place,
)
from minigrad.distributed.comm import get_rank, get_world_size, traffic, world
from minigrad.nn import Module
from minigrad.tensor import Tensor


class Bucket:
    """Parameters of one dtype and device whose gradients travel together in one flat buffer."""

    def __init__(self, params):
        self.params = params
        self.offsets = np.cumsum([0] + [p.numel() for p in params]).tolist()
        xp = backend.get_array_module(params[0].data)
        self.flat = xp.empty(self.offsets[-1], dtype=params[0].dtype)

    def views(self):
        return [self.flat[a:b].reshape(p.shape)
                for p, a, b in zip(self.params, self.offsets, self.offsets[1:])]

    def pack_grads(self):
        """Copy the gradients into the flat buffer (zeros for a parameter without one)."""
        for p, view in zip(self.params, self.views()):
            view[...] = 0 if p.grad is None else p.grad.data

    def unpack_grads(self):
        for p, view in zip(self.params, self.views()):
            if p.grad is None:
                p.grad = Tensor(view.copy())
            else:
                p.grad.data[...] = view


def make_buckets(params, cap_bytes):
    """Consecutive parameters grouped up to ``cap_bytes`` per bucket; a new bucket per dtype/device."""
    buckets, current, size = [], [], 0
    for p in params:
        starts_new = current and (size + p.data.nbytes > cap_bytes
                                  or (p.dtype, p.device) != (current[0].dtype, current[0].device))
        if starts_new:
            buckets.append(Bucket(current))
            current, size = [], 0
        current.append(p)
        size += p.data.nbytes
    if current:
        buckets.append(Bucket(current))
    return buckets


class DistributedDataParallel(Module):
    """``DistributedDataParallel(module, compressor=None, bucket_cap_mb=25)``.

    At construction: check that every rank has the same parameter layout and
    copy rank 0's parameters to all ranks. ``ddp(x)`` runs ``module(x)``.
    ``ddp.bytes_sent`` counts the bytes this rank sent for gradients (see
    ``comm.Traffic`` for how). Move the module to its device before wrapping
    it: the buckets are allocated where the parameters are.

    A parameter that no rank gave a gradient to (unused in this step) is
    averaged as zeros and ends with a zero gradient rather than None.
    """

    def __init__(self, module, compressor=None, bucket_cap_mb=25):
        super().__init__()
        if bucket_cap_mb < 0:
            raise ValueError(f"DistributedDataParallel: bucket_cap_mb must be >= 0, got {bucket_cap_mb}")
        self.module = module
        self.compressor = compressor
        self.world_size, self.rank = get_world_size(), get_rank()
        if compressor is not None:
            compressor.world_size = self.world_size   # compressors encode x / p (see compress/base.py)
        params = [p for p in module.parameters() if p.requires_grad]
        self.buckets = make_buckets(params, int(bucket_cap_mb * 2**20))
        self.bytes_sent = 0
        self._sync_enabled = True
        if self.world_size > 1:
            layout = [(name, tuple(p.shape), str(p.dtype), p.device)
                      for name, p in module.named_parameters() if p.requires_grad]
            check_agreement(world(), "DistributedDataParallel", parameters=layout,
                            bucket_cap_mb=float(bucket_cap_mb))
            self._broadcast_parameters()

    def _broadcast_parameters(self):
        """Rank 0's parameters, bit for bit, on every rank (one broadcast per bucket)."""
        for bucket in self.buckets:
            for p, view in zip(bucket.params, bucket.views()):
                view[...] = p.data
            broadcast(bucket.flat, src=0, check=False)   # layout checked in __init__
            for p, view in zip(bucket.params, bucket.views()):
                p.data[...] = view

    def forward(self, *args, **kwargs):
        return self.module(*args, **kwargs)

    @contextlib.contextmanager
    def no_sync(self):
        """Accumulate gradients locally: ``backward``/``sync_gradients`` skip the all-reduce inside."""
        previous, self._sync_enabled = self._sync_enabled, False
        try:
            yield
        finally:
            self._sync_enabled = previous

    def backward(self, loss, **kwargs):
        """``loss.backward(**kwargs)``, then ``sync_gradients()`` (skipped inside ``no_sync``)."""
        loss.backward(**kwargs)
        self.sync_gradients()

    def sync_gradients(self):
        """Replace every gradient by its average over the ranks (no-op inside ``no_sync``)."""
        if not self._sync_enabled or self.world_size == 1:
            return
        sent_before = traffic.bytes_sent
        for key, bucket in enumerate(self.buckets):
            bucket.pack_grads()
            if self.compressor is None:
                algorithm = choose_algorithm(bucket.flat.nbytes)
                reduce_in_place(world(), bucket.flat, "mean", algorithm)
            else:
                bucket.flat[...] = self._compressed_mean(bucket.flat, key)
            bucket.unpack_grads()
        self.bytes_sent += traffic.bytes_sent - sent_before

    def _compressed_mean(self, flat, key):
        """All-gather every rank's payload, then decode and add them in rank order."""
        payloads = all_gather_bytes(self.compressor.compress(flat, key=key))
        mean = self.compressor.aggregate(payloads)        # float32, the same on every rank
        return backend.to_device(mean.astype(flat.dtype, copy=False), backend.device_of(flat))
