"""Gradient accumulation: the full-batch mean gradient, built from k micro-batches.

When a batch does not fit in memory, split it into micro-batches, run forward and
backward on each, and let the gradients add up in ``.grad`` (they accumulate, as in
PyTorch) before ONE optimizer step. The sum is the full-batch gradient only if
every micro-batch is normalised by the count N of the WHOLE batch:

    L = (1/N) sum_{i in batch} l_i = sum_j [ (1/N) sum_{i in micro-batch j} l_i ],   N = sum_j n_j

where n_j counts the units of micro-batch j: examples, or (for a language model
with padding) the target tokens that are not ignored. So each micro-batch
contributes the SUM of its per-unit losses divided by N, never its own mean.

``accumulate`` owns that loop, so it rules out the three classic mistakes:

1. Zeroing the gradients inside the loop: only the last micro-batch would survive.
   ``accumulate`` never zeroes; call ``optimizer.zero_grad()`` once, before it.
2. The mean of per-micro-batch means, (1/k) sum_j (1/n_j) sum_i l_i: it gives a unit
   of a small micro-batch more weight than a unit of a big one, so it is wrong
   whenever the n_j differ (an uneven last micro-batch, variable-length sequences).
   Hugging Face Transformers summed per-micro-batch mean losses this way until its
   October 2024 fix, which divides summed losses by the global token count as here.
3. Clipping per micro-batch: clipping is not linear, clip(g1) + clip(g2) != clip(g1 + g2).
   ``accumulate`` returns before any clipping; clip once, then step once:

    optimizer.zero_grad()
    loss = accumulate(micro_batches, loss_fn, count=count_tokens)
    clip_grad_norm_(model.parameters(), max_norm=1.0)
    optimizer.step()
"""
import contextlib

from minigrad.tensor import Tensor


def accumulate(micro_batches, loss_fn, count=len, total=None, no_sync=None):
    """Backward through every micro-batch so ``.grad`` gains the full-batch MEAN gradient.

    micro_batches  the micro-batches, any objects ``loss_fn`` and ``count`` understand
                   (a list, or an iterable: it is read once into a list)
    loss_fn(mb)    a scalar Tensor: the SUM of the per-unit losses of ``mb``
                   (e.g. ``F.cross_entropy(..., reduction="sum")``), NOT their mean
    count(mb)      how many units that sum covers: ``len`` (examples, the default), or the
                   number of non-ignored target tokens; a number or a one-element Tensor
    total          the count N of the whole batch; by default the sum of ``count`` over
                   ``micro_batches``. With DistributedDataParallel (which averages over
                   W workers) pass the all-reduced count divided by W.
    no_sync        optional context-manager factory, e.g. ``model.no_sync`` of a
                   DistributedDataParallel ``model``: entered around the forward AND backward
                   of every micro-batch but the last (PyTorch decides at forward time), so
                   the last ``backward()`` all-reduces the accumulated sum: one all-reduce per
                   optimizer step (tests/mpi_scripts/check_ddp.py counts them)

    Returns the full-batch mean loss, a Python float. The gradients are ADDED to
    what ``.grad`` already holds (so zero them first), exactly the full-batch mean
    gradient for a freshly zeroed model.
    """
    micro_batches = list(micro_batches)
    if not micro_batches:
        raise ValueError("accumulate: got no micro-batches")
    counts = [_number(count(mb), "count") for mb in micro_batches]
    negative = [c for c in counts if c < 0]
    if negative:
        raise ValueError(f"accumulate: count gave negative unit counts {negative}")
    total = sum(counts) if total is None else _number(total, "total")
    if not total > 0:
        raise ValueError(
            f"accumulate: the whole batch counts {total} units (all targets ignored?); "
            "there is no mean to take"
        )

    loss_sum = 0.0
    last = len(micro_batches) - 1
    for j, mb in enumerate(micro_batches):
        sync_context = no_sync() if no_sync is not None and j < last else contextlib.nullcontext()
        with sync_context:
            loss = loss_fn(mb)
            if not isinstance(loss, Tensor) or loss.numel() != 1:
                shape = getattr(loss, "shape", type(loss).__name__)
                raise TypeError(
                    f"accumulate: loss_fn must return a one-element Tensor (the summed loss), got {shape}"
                )
            (loss / total).backward()
        loss_sum += loss.item()
    return loss_sum / total


def _number(value, what):
    if isinstance(value, Tensor):
        if value.numel() != 1:
            raise ValueError(f"accumulate: {what} must be a number, got a Tensor of shape {value.shape}")
        return value.item()
    return value
