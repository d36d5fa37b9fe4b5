"""Gradient buckets: parameters whose gradients travel together in one flat buffer.

One all-reduce per parameter pays the message latency once per parameter;
packing gradients into flat buffers of about ``bucket_cap_mb`` MB pays it once
per bucket (Li et al. 2020, "PyTorch Distributed: Experiences on Accelerating
Data Parallel Training", VLDB, Sec. 3.2.3). Buckets are filled in REVERSE
parameter order, because backward produces the last layer's gradients first;
the first bucket is kept small (1 MB at most, as PyTorch does) so that
communication starts as early as possible.

A bucket's buffer is ``[header | gradients]``: the header is the small table
``guard.py`` all-reduces together with the data to check that every rank is
at the same call. ``GradBucket`` is the view a communication hook gets.
"""
import numpy as np

from minigrad import backend
from minigrad.tensor import Tensor, unwrap

FIRST_BUCKET_BYTES = 1 << 20


class Bucket:
    """Parameters of one dtype and device, and the flat buffer their gradients are reduced in."""

    def __init__(self, index, named_params, header_length):
        self.index = index
        self.names = [name for name, _ in named_params]
        self.params = [p for _, p in named_params]
        self.offsets = np.cumsum([0] + [p.numel() for p in self.params]).tolist()
        self.header_length = header_length
        xp = backend.get_array_module(self.params[0].data)
        self.flat = xp.zeros(header_length + self.offsets[-1], dtype=self.params[0].dtype)
        self.pending = len(self.params)      # gradients still to arrive in this backward pass

    def data(self):
        """The gradient part of the buffer (1-D)."""
        return self.flat[self.header_length:]

    def views(self):
        data = self.data()
        return [data[a:b].reshape(p.shape) for p, a, b in zip(self.params, self.offsets, self.offsets[1:])]

    def pack_grads(self):
        """Copy the local gradients in (zeros for a parameter without one)."""
        for p, view in zip(self.params, self.views()):
            view[...] = 0 if p.grad is None else p.grad.data

    def unpack_grads(self, keep=None):
        """Copy the reduced gradients back into ``.grad`` (parameters with ``keep[i]`` False untouched)."""
        for i, (p, view) in enumerate(zip(self.params, self.views())):
            if keep is not None and not keep[i]:
                continue
            if p.grad is None:
                p.grad = Tensor(view.copy())
            else:
                p.grad.data[...] = view


def make_buckets(named_params, cap_bytes, header_length=0, first_cap_bytes=None):
    """Consecutive parameters grouped up to ``cap_bytes`` per bucket; a new bucket per dtype/device."""
    buckets, current, size = [], [], 0
    cap = cap_bytes if first_cap_bytes is None else min(cap_bytes, first_cap_bytes)
    for name, p in named_params:
        starts_new = current and (size + p.data.nbytes > cap
                                  or (p.dtype, p.device) != (current[0][1].dtype, current[0][1].device))
        if starts_new:
            buckets.append(Bucket(len(buckets), current, header_length))
            current, size, cap = [], 0, cap_bytes
        current.append((name, p))
        size += p.data.nbytes
    if current:
        buckets.append(Bucket(len(buckets), current, header_length))
    return buckets


class GradBucket:
    """What a communication hook receives (PyTorch's ``GradBucket``).

    ``buffer()`` is the flat 1-D Tensor of this rank's gradients (their local
    SUM over the backward passes since the last sync, not yet averaged),
    ``gradients()`` the same memory cut per parameter, ``parameters()`` the
    parameters in the same order, ``index()`` the bucket's number (0 is reduced
    first), ``is_last()`` whether it is the last bucket of this step.
    """

    def __init__(self, bucket, is_last):
        self._bucket, self._is_last = bucket, is_last

    def index(self):
        return self._bucket.index

    def buffer(self):
        return Tensor(self._bucket.data())

    def gradients(self):
        return [Tensor(view) for view in self._bucket.views()]

    def parameters(self):
        return list(self._bucket.params)

    def is_last(self):
        return self._is_last

    def set_buffer(self, tensor):
        self._bucket.data()[...] = unwrap(tensor)
