"""Data-parallel training: every rank a full replica; ``loss.backward()`` averages the gradients.

With p ranks, each computing the gradient g_r of the mean loss over its own b
examples, the average

    g = (1/p) * sum_r g_r

is exactly the gradient of the mean loss over all p*b examples. So if every
replica starts from the same parameters and applies the same optimizer step to
the same g, data-parallel SGD IS big-batch SGD (Goyal et al. 2017, "Accurate,
Large Minibatch SGD", Sec. 2; Li et al. 2020, "PyTorch Distributed:
Experiences on Accelerating Data Parallel Training", Sec. 3).

How the averaging hides inside backward (Li et al. 2020, Sec. 3.2.3-3.2.4):

* every parameter gets a post-accumulate-grad hook (``autograd/engine.py``);
* when the last gradient of a bucket (``buckets.py``) has been accumulated,
  the bucket's all-reduce is STARTED, non-blocking, while backward goes on
  computing the gradients of earlier layers. Buckets start in index order on
  every rank (their collectives must pair up);
* MPICH moves a message only while some MPI call runs on that rank (unless
  ``MPIR_CVAR_ASYNC_PROGRESS=1`` gives it a thread of its own). So while
  buckets are in flight a helper thread calls ``MPI_Iprobe`` every ~0.1 ms
  (``progress.py``): backward's matrix products release Python's GIL, so the
  transfers advance during them, not only at the next hook;
* a callback queued for the end of the backward pass waits for every bucket,
  divides the sums by p and writes the averages into ``.grad``: when
  ``loss.backward()`` returns, the gradients are averaged.

``no_sync()`` (PyTorch's meaning): backward passes whose FORWARD ran inside it
only accumulate locally; the first backward after it averages the accumulated
total. The bucket header carries the number of backward passes since the last
sync, so ``no_sync`` entered on some ranks only is an error, not a silent mix.

``find_unused_parameters=False`` (the default, as PyTorch): a parameter that
got no gradient in a synchronising pass is an error naming it; with True its
bucket still goes (zeros) and a parameter no rank used keeps its ``.grad``.

``register_comm_hook(state, hook)`` replaces the all-reduce of each bucket by
``hook(state, GradBucket) -> Future`` of the averaged buffer (comm_hooks.py).
"""
import contextlib
import time
import zlib

import numpy as np

from minigrad.autograd.engine import queue_callback
from minigrad.distributed import guard, progress
from minigrad.distributed.buckets import FIRST_BUCKET_BYTES, GradBucket, make_buckets
from minigrad.distributed.work import Future
from minigrad.distributed.collectives import all_reduce, broadcast, start_with_header
from minigrad.distributed.comm import get_rank, get_world_size, traffic
from minigrad.nn import Module
from minigrad.tensor import unwrap


class DistributedDataParallel(Module):
    """``DistributedDataParallel(module, bucket_cap_mb=25, find_unused_parameters=False)``.

    At construction: check that every rank holds the same parameter layout and
    copy rank 0's parameters to all ranks. ``ddp(x)`` runs ``module(x)``.
    ``ddp.bytes_sent`` counts the bytes this rank sent for gradients.
    ``ddp.timeline = []`` records ``(bucket, "start" | "end", time.perf_counter())``.
    Move the module to its device before wrapping it.
    """

    def __init__(self, module, bucket_cap_mb=25, find_unused_parameters=False):
        super().__init__()
        if bucket_cap_mb < 0:
            raise ValueError(f"DistributedDataParallel: bucket_cap_mb must be >= 0, got {bucket_cap_mb}")
        self.module = module
        self.find_unused_parameters = find_unused_parameters
        self.world_size, self.rank = get_world_size(), get_rank()
        named = [(name, p) for name, p in module.named_parameters() if p.requires_grad]
        if not named:
            raise ValueError("DistributedDataParallel: the module has no parameter that requires grad")
        header = guard.header_length(self.world_size) if self.world_size > 1 else 0
        self.buckets = make_buckets(reversed(named), int(bucket_cap_mb * 2**20), header,
                                    first_cap_bytes=FIRST_BUCKET_BYTES)
        self.bytes_sent = 0
        self.timeline = None
        self._comm_hook = None
        self._sync_enabled = True      # False inside no_sync()
        self._require_sync = True      # decided at forward time, as PyTorch
        self._passes = 0               # backward passes accumulated since the last sync
        self._in_pass = False
        self._syncing = False          # this pass (or sync_gradients) reduces the gradients
        self._used = set()             # ids of parameters with a gradient since the last sync
        self._bucket_of = {id(p): bucket for bucket in self.buckets for p in bucket.params}
        if self.world_size > 1:
            self._check_same_model(named)
            self._broadcast_parameters()
        for _, p in named:
            p.register_post_accumulate_grad_hook(self._gradient_ready)

    def _check_same_model(self, named):
        layout = repr([(name, tuple(p.shape), str(p.dtype), p.device) for name, p in named])
        call = guard.Call("DDP construction", size=zlib.crc32(layout.encode()), extra=len(named),
                          site=False)
        try:
            guard.exchange(call)
        except guard.CollectiveMismatch as err:
            raise guard.CollectiveMismatch(f"DistributedDataParallel: the ranks hold different models "
                                           f"(layout digests in the 'size' field): {err}") from None

    def _broadcast_parameters(self):
        """Rank 0's parameters, bit for bit, on every rank (one broadcast per bucket)."""
        for bucket in self.buckets:
            for p, view in zip(bucket.params, bucket.views()):
                view[...] = p.data
            broadcast(bucket.data(), src=0)
            for p, view in zip(bucket.params, bucket.views()):
                p.data[...] = view

    def forward(self, *args, **kwargs):
        self._require_sync = self._sync_enabled
        return self.module(*args, **kwargs)

    @contextlib.contextmanager
    def no_sync(self):
        """Backward passes of forwards run inside only accumulate ``.grad`` locally."""
        previous, self._sync_enabled = self._sync_enabled, False
        try:
            yield
        finally:
            self._sync_enabled = previous

    def register_comm_hook(self, state, hook):
        """Reduce each bucket with ``hook(state, bucket) -> Future`` (or the averaged buffer itself)."""
        if self._comm_hook is not None:
            raise RuntimeError("register_comm_hook: a communication hook is already registered; "
                               "it can be registered only once")
        if not callable(hook):
            raise TypeError(f"register_comm_hook: hook must be callable, got {type(hook).__name__}")
        self._comm_hook = (state, hook)

    def sync_gradients(self):
        """Average the current ``.grad`` over the ranks now: the sync point written by hand.

        ``loss.backward()`` already does this outside ``no_sync``; lessons call it
        after accumulating inside ``no_sync`` to show where the communication is.
        """
        self._start_sync()
        self._passes = max(self._passes, 1)
        self._finish_sync(check_unused=False)

    # ---- inside backward ------------------------------------------------------------
    def _gradient_ready(self, param):
        """Post-accumulate hook: the gradient of ``param`` is complete for this pass."""
        if not self._in_pass:
            self._in_pass = True
            self._passes += 1
            queue_callback(self._end_of_backward)
            if self._require_sync:
                self._start_sync()
        self._used.add(id(param))
        if not self._syncing:
            return
        self._ready.add(id(param))
        bucket = self._bucket_of[id(param)]
        bucket.pending -= 1
        if bucket.pending == 0:
            while self._next < len(self.buckets) and self.buckets[self._next].pending == 0:
                self._launch(self.buckets[self._next])
        self._progress()

    def _end_of_backward(self):
        self._in_pass = False
        if self._syncing:
            self._finish_sync(check_unused=True)

    def _start_sync(self):
        self._syncing, self._next, self._inflight, self._ready = True, 0, [], set()
        self._bytes_before = traffic.bytes_sent
        for bucket in self.buckets:
            bucket.pending = len(bucket.params)

    def _launch(self, bucket):
        """Start the reduction of one bucket (non-blocking on the built-in path)."""
        if self._next == 0 and self.world_size > 1:
            progress.start()
        self._next += 1
        bucket.pack_grads()
        self._note(bucket.index, "start")
        if self._comm_hook is not None:
            state, hook = self._comm_hook
            future = hook(state, GradBucket(bucket, is_last=bucket.index == len(self.buckets) - 1))
            if not hasattr(future, "wait"):
                future = Future.completed(future)
        elif self.world_size == 1:       # nothing to exchange; hooks, checks and timeline as for p > 1
            future = Future.completed(bucket.data())
        elif type(bucket.flat) is np.ndarray:
            call = guard.Call("DDP bucket all-reduce", bucket.flat.dtype, bucket.data().size,
                              extra=self._passes, site=False)
            work = start_with_header(call, bucket.flat, lambda data: None)
            future = Future(lambda data=bucket.data(): (work.wait(), data)[1], poll=work.is_completed)
        else:   # CuPy: the checked, blocking all-reduce of collectives.py
            future = Future.completed(all_reduce(bucket.data()))
        self._inflight.append((bucket, future, [False]))

    def _progress(self):
        """Poke MPI so started transfers move on while backward computes (MPI_Test)."""
        for bucket, future, seen_done in self._inflight:
            if not seen_done[0] and future.done():
                seen_done[0] = True
                self._note(bucket.index, "end")

    def _finish_sync(self, check_unused):
        self._syncing = False
        unready = [name for bucket in self.buckets for name, p in zip(bucket.names, bucket.params)
                   if id(p) not in self._ready][::-1]          # buckets run in reverse model order
        if check_unused and unready and not self.find_unused_parameters:
            raise RuntimeError(
                f"DistributedDataParallel on rank {self.rank}: these parameters received no gradient in "
                f"this backward pass: {unready}. Every parameter must take part in the loss, or pass "
                "find_unused_parameters=True (PyTorch's flag) if some are skipped in some iterations")
        while self._next < len(self.buckets):
            self._launch(self.buckets[self._next])
        progress.stop()                     # from here on this thread polls MPI itself
        self._wait_and_unpack()
        self._inflight, self._passes, self._used = [], 0, set()
        self.bytes_sent += traffic.bytes_sent - self._bytes_before

    def _wait_and_unpack(self):
        used_anywhere = self._used_anywhere() if self.find_unused_parameters else None
        for bucket, future, seen_done in self._inflight:
            averaged = future.wait()
            if not seen_done[0]:
                self._note(bucket.index, "end")
            data = bucket.data()
            if self._comm_hook is None:
                data /= self.world_size            # the sum of the ranks' gradients / p, as PyTorch
            elif averaged is not None:
                data[...] = unwrap(averaged).reshape(-1)
            keep = None if used_anywhere is None else [used_anywhere[id(p)] for p in bucket.params]
            bucket.unpack_grads(keep)

    def _used_anywhere(self):
        """id(param) -> did ANY rank give it a gradient since the last sync (one small all-reduce)."""
        params = [p for bucket in self.buckets for p in bucket.params]
        used = np.array([id(p) in self._used for p in params], dtype=np.float64)
        all_reduce(used)
        return {id(p): bool(u) for p, u in zip(params, used)}

    def _note(self, index, event):
        if self.timeline is not None:
            self.timeline.append((index, event, time.perf_counter()))
